#!/usr/bin/env bash
# Compares the token endpoint of two portcullis binaries in one run, on the same machine: A and B
# take turns (A first in odd rounds, B first in even ones), ROUNDS times each, every turn a fresh `bench/token.sh DURATION ALG` (new database, new
# server, warm-up, measured run). Alternating spreads drift in the machine's speed (thermal, other
# load) over both, which running one after the other would charge to the second.
#
#   bench/ab.sh BIN_A BIN_B [ROUNDS] [DURATION] [ALG]     defaults: 5 rounds, 15s, ES256
#
# With BENCH_AB_GRANT=refresh_token each turn is a `bench/refresh.sh DURATION` instead (ALG unused).
#
# For a revision: git worktree add /tmp/base REV && (cd /tmp/base && cargo build --release -p
# portcullis), then bench/ab.sh /tmp/base/target/release/portcullis target/release/portcullis.
# Prints each turn's requests/s, then per binary the median and the mean, and B's median as a
# percentage of A's.
set -euo pipefail

a="${1:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS] [DURATION] [ALG]}"
b="${2:?usage: bench/ab.sh BIN_A BIN_B [ROUNDS] [DURATION] [ALG]}"
rounds="${3:-5}"
duration="${4:-15s}"
alg="${5:-ES256}"
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
for bin in "$a" "$b"; do
  [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
done

rate() { # BIN: one turn, its requests/s
  if [ "${BENCH_AB_GRANT:-client_credentials}" = refresh_token ]; then
    BENCH_BIN="$1" "$root/bench/refresh.sh" "$duration" | grep "^refresh " \
      | sed -E 's/.* rps=([0-9.]+).*/\1/'
  else
    BENCH_BIN="$1" "$root/bench/token.sh" "$duration" "$alg" | grep "^$alg " \
      | sed -E 's/.* rps=([0-9.]+).*/\1/'
  fi
}

a_rates=()
b_rates=()
for round in $(seq "$rounds"); do
  # Odd rounds run A first, even rounds B first, so neither always follows the other.
  if [ $((round % 2)) -eq 1 ]; then
    ra="$(rate "$a")"
    rb="$(rate "$b")"
  else
    rb="$(rate "$b")"
    ra="$(rate "$a")"
  fi
  echo "round $round: A $ra  B $rb"
  a_rates+=("$ra")
  b_rates+=("$rb")
done

mean() { printf '%s\n' "$@" | awk '{ s += $1 } END { printf "%.0f\n", s / NR }'; }
a_median="$(median "${a_rates[@]}")"
a_mean="$(mean "${a_rates[@]}")"
b_median="$(median "${b_rates[@]}")"
b_mean="$(mean "${b_rates[@]}")"
echo "A $a: median $a_median, mean $a_mean requests/s"
echo "B $b: median $b_median, mean $b_mean requests/s"
awk -v a="$a_median" -v b="$b_median" \
  'BEGIN { printf "B/A (medians): %.1f %% (%+.1f %%)\n", 100 * b / a, 100 * (b - a) / a }'

#!/usr/bin/env bash
# Portcullis against the ceiling, in one run, under the same load: wrk with BENCH_CONNECTIONS (64)
# connections posting client_credentials with client_secret_post (bench/token.lua) to
#   - bench/ceiling (`portcullis-ceiling`): parse the form, find the client in memory, check a keyed
#     hash, sign one ES256 JWT, answer JSON; nothing else;
#   - `portcullis serve` on a new SQLite database, as operators run it: log level `info`, JSON log
#     lines, written to a file (its stderr redirected), so every token's audit line is written.
# The two take turns ROUNDS times (the ceiling first in odd rounds, Portcullis first in even ones),
# each turn a 2 s warm-up and a measured run, and the script prints every turn with the round's
# ratio, each side's median, Portcullis's median as a percentage of the ceiling's, and the median
# and range of the rounds' ratios.
#
#   bench/compare.sh [ROUNDS] [DURATION]        defaults: 3 rounds, 15s
#
# PORTCULLIS_LOG and PORTCULLIS_LOG_FORMAT change the server's log level (info) and format (json);
# BENCH_BIN runs that portcullis binary instead of building one.
set -euo pipefail

rounds="${1:-3}"
duration="${2:-15s}"
connections="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-$(nproc)}"
port="${BENCH_PORT:-18080}"
ceiling_port="${CEILING_PORT:-18090}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
(cd "$root" && cargo build --release -p portcullis-ceiling --quiet)
release_binary # $bin: BENCH_BIN, or target/release/portcullis built now
ceiling="$root/target/release/portcullis-ceiling"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # FILE: until the process writing FILE says it is listening
  for _ in $(seq 100); do
    grep -q "listening" "$1" 2>/dev/null && return
    sleep 0.1
  done
  echo "did not start: $(cat "$1")" >&2
  exit 1
}

# Portcullis, with one client; the ceiling accepts the same credentials.
export PORTCULLIS_DATABASE="sqlite://$work/bench.db"
export PORTCULLIS_LISTEN="127.0.0.1:$port"
export PORTCULLIS_LOG="${PORTCULLIS_LOG:-info}"
export PORTCULLIS_LOG_FORMAT="${PORTCULLIS_LOG_FORMAT:-json}"
"$bin" serve >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
wait_for "$work/serve.out"
created="$("$bin" client create --name bench --alg ES256 --json 2>>"$work/admin.log")"
export BENCH_CLIENT_ID BENCH_CLIENT_SECRET
BENCH_CLIENT_ID="$(printf '%s' "$created" | json_field client_id)"
BENCH_CLIENT_SECRET="$(printf '%s' "$created" | json_field client_secret)"
sleep 0.5 # the server picks the client up within its 250 ms reload interval
CEILING_LISTEN="127.0.0.1:$ceiling_port" "$ceiling" >"$work/ceiling.out" 2>&1 &
pids+=($!)
wait_for "$work/ceiling.out"

rate() { # URL: warm up, then one measured run; prints requests/s (and fails on a non-200)
  wrk -t"$threads" -c"$connections" -d2s -s "$root/bench/token.lua" "$1" >/dev/null
  local result
  result="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/token.lua" "$1" \
    | grep '^RESULT')"
  case "$result" in
    *" non200=0 "*) ;;
    *) echo "answers other than 200 from $1: $result" >&2; exit 1 ;;
  esac
  printf '%s' "$result" | sed -E 's/.* rps=([0-9.]+).*/\1/'
}

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "wrk -t$threads -c$connections -d$duration, ES256, load generator on the same machine;" \
  "portcullis at PORTCULLIS_LOG=$PORTCULLIS_LOG, log_format=$PORTCULLIS_LOG_FORMAT, stderr to a file"
ceiling_rates=()
portcullis_rates=()
ratios=()
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    c="$(rate "http://127.0.0.1:$ceiling_port/token")"
    p="$(rate "http://127.0.0.1:$port/token")"
  else
    p="$(rate "http://127.0.0.1:$port/token")"
    c="$(rate "http://127.0.0.1:$ceiling_port/token")"
  fi
  ratio="$(awk -v c="$c" -v p="$p" 'BEGIN { printf "%.1f", 100 * p / c }')"
  echo "round $round: ceiling $c  portcullis $p  ($ratio %)"
  ceiling_rates+=("$c")
  portcullis_rates+=("$p")
  ratios+=("$ratio")
done

c_median="$(median "${ceiling_rates[@]}")"
p_median="$(median "${portcullis_rates[@]}")"
lines="$(grep -c '"event":"token_issued"' "$work/serve.log" || true)"
echo "ceiling: median $c_median requests/s"
echo "portcullis: median $p_median requests/s ($lines token_issued audit lines in its log file)"
awk -v c="$c_median" -v p="$p_median" \
  'BEGIN { printf "portcullis / ceiling: %.1f %%\n", 100 * p / c }'
# Each round's two turns run back to back, so their ratio is little moved by the machine's speed
# drifting between rounds (a shared VM's CPUs do): the median of those ratios, and their range.
sorted="$(printf '%s\n' "${ratios[@]}" | sort -n)"
echo "median of the rounds' ratios: $(printf '%s\n' "$sorted" | awk '{ v[NR] = $1 }
  END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }') %" \
  "(lowest $(printf '%s\n' "$sorted" | head -1) %, highest $(printf '%s\n' "$sorted" | tail -1) %)"

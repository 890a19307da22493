#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600), two at a time, then minimizes each corpus so
# what is committed stays small. Needs cargo-fuzz and a nightly toolchain (libFuzzer needs
# -Z sanitizer): `cargo install cargo-fuzz` and `rustup toolchain install nightly`.
#
#   fuzz/run-all.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
targets=(form basic scope redirect_uri jws)
cargo +nightly fuzz build
run() {
  cargo +nightly fuzz run "$1" -- -max_total_time="$seconds" -rss_limit_mb=2048 >"logs/$1.log" 2>&1 \
    && echo "$1: no crash in ${seconds}s ($(grep -Eo '#[0-9]+' "logs/$1.log" | tail -1 | tr -d '#') runs)" \
    || { echo "$1: CRASH, see fuzz/logs/$1.log and fuzz/artifacts/$1/"; return 1; }
}
mkdir -p logs
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pids=()
  for t in "${targets[@]:i:2}"; do run "$t" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
done
for t in "${targets[@]}"; do
  cargo +nightly fuzz cmin "$t" "corpus/$t" >/dev/null 2>&1 || true
done
exit $status

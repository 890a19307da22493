#!/usr/bin/env bash
# Where the time of the refresh grant goes: runs bench/refresh.sh and, in the middle of its
# measured run, records the server with `perf record -g` for a few seconds.
#
#   bench/profile.sh [DURATION] [SECONDS]     defaults: 25s of load, 6 s recorded
#
# Prints the load's result line, the CPU split of the whole machine while recording (from
# /proc/stat: user, system, idle, steal), the server's samples by thread name and by thread, the
# system calls that take the most of its time, and the busiest thread's top symbols. BENCH_BIN runs a
# given binary (see bench/common.sh). Needs perf (Debian: linux-perf) and permission to profile
# another process (root, or kernel.perf_event_paranoid <= 1). The recording stays in
# $BENCH_PROFILE_OUT (default target/tmp/refresh.perf.data) for `perf report -i`.
set -euo pipefail

duration="${1:-25s}"
seconds="${2:-6}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${BENCH_PROFILE_OUT:-$root/target/tmp/refresh.perf.data}"
command -v perf >/dev/null || { echo "bench/profile.sh needs perf" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
release_binary
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

BENCH_BIN="$bin" "$root/bench/refresh.sh" "$duration" >"$log" 2>&1 &
load=$!
for _ in $(seq 120); do
  grep -q '^portcullis .* wrk ' "$log" && break
  sleep 0.5
done
grep -q '^portcullis .* wrk ' "$log" || { cat "$log" >&2; exit 1; }
sleep 3
server="$(pgrep -n -f "^$bin serve")"
before=($(head -1 /proc/stat))
perf record -q -F 499 -g -p "$server" -o "$out" -- sleep "$seconds" >/dev/null 2>&1
after=($(head -1 /proc/stat))
wait "$load"
grep '^refresh ' "$log"

delta() { echo $((after[$1] - before[$1])); }
total=$(($(delta 1) + $(delta 2) + $(delta 3) + $(delta 4) + $(delta 5) + $(delta 6) + $(delta 7) + $(delta 8)))
awk -v u="$(($(delta 1) + $(delta 2)))" -v s="$(($(delta 3) + $(delta 6) + $(delta 7)))" \
  -v i="$(($(delta 4) + $(delta 5)))" -v st="$(delta 8)" -v t="$total" \
  'BEGIN { printf "machine while recording: user %.0f %%, system %.0f %%, idle %.0f %%, steal %.0f %%\n",
           100 * u / t, 100 * s / t, 100 * i / t, 100 * st / t }'

report() { perf report -i "$out" --no-children -g none "$@" 2>/dev/null | grep '%' | grep -v '^#'; }
echo "server samples by thread name:"
report --sort comm | head -6
echo "by thread:"
report --sort pid | head -8
echo "system calls (share of all samples, with what they call):"
perf report -i "$out" --children --sort sym -g none 2>/dev/null | grep '%' \
  | grep -E '\[k\] __x64_sys_' | head -8
busiest="$(report --sort pid | head -1 | sed -E 's/.* ([0-9]+):.*/\1/')"
echo "busiest thread ($busiest), top symbols:"
perf report -i "$out" --no-children --tid "$busiest" --sort dso,sym -g none 2>/dev/null \
  | grep '%' | grep -v '^#' | head -12

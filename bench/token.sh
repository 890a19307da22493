#!/usr/bin/env bash
# Load test of POST /token (client_credentials, client_secret_post) with wrk at 64 connections.
#
#   bench/token.sh [DURATION] [ALG...]      e.g. bench/token.sh 30s ES256 RS256 EdDSA
#
# Builds the release binary, starts `portcullis serve` on a temporary SQLite database, creates one
# client per algorithm and prints requests/s, p50 and p99 latency and the count of non-200 answers.
# Installs wrk with apt when it is missing. BENCH_PORT (default 18080), BENCH_CONNECTIONS (64) and
# BENCH_THREADS (number of CPUs) change the set-up.
set -euo pipefail

duration="${1:-20s}"
shift || true
algs=("$@")
[ ${#algs[@]} -eq 0 ] && algs=(ES256 RS256)
port="${BENCH_PORT:-18080}"
connections="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-$(nproc)}"
root="$(cd "$(dirname "$0")/.." && pwd)"

export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
start_server "$port"

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "wrk -t$threads -c$connections -d$duration, load generator on the same machine"
for alg in "${algs[@]}"; do
  created="$("$bin" client create --name "bench-$alg" --alg "$alg" --json)"
  export BENCH_CLIENT_ID BENCH_CLIENT_SECRET
  BENCH_CLIENT_ID="$(printf '%s' "$created" | json_field client_id)"
  BENCH_CLIENT_SECRET="$(printf '%s' "$created" | json_field client_secret)"
  sleep 0.5 # the server picks the client up within its 250 ms reload interval
  # A short warm-up so connection set-up and first-touch costs stay out of the figures.
  wrk -t"$threads" -c"$connections" -d2s -s "$root/bench/token.lua" "$base/token" >/dev/null
  result="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/token.lua" \
    "$base/token" | grep '^RESULT')"
  echo "$alg ${result#RESULT }"
done

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

if ! command -v wrk >/dev/null; then
  echo "installing wrk..." >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y wrk >/dev/null 2>&1 \
    || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y wrk >/dev/null; }
fi

(cd "$root" && cargo build --release -p portcullis --quiet)
bin="$root/target/release/portcullis"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export PORTCULLIS_DATABASE="sqlite://$work/bench.db"
export PORTCULLIS_LISTEN="127.0.0.1:$port"
export PORTCULLIS_LOG=warn
"$bin" serve >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening" "$work/server.out" || { cat "$work/server.err" >&2; exit 1; }

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "wrk -t$threads -c$connections -d$duration, load generator on the same machine"
for alg in "${algs[@]}"; do
  created="$("$bin" client create --name "bench-$alg" --alg "$alg" --json)"
  export BENCH_CLIENT_ID BENCH_CLIENT_SECRET
  BENCH_CLIENT_ID="$(printf '%s' "$created" | sed -E 's/.*"client_id":"([^"]+)".*/\1/')"
  BENCH_CLIENT_SECRET="$(printf '%s' "$created" | sed -E 's/.*"client_secret":"([^"]+)".*/\1/')"
  sleep 0.5 # the server picks the client up within its 250 ms reload interval
  # A short warm-up so connection set-up and first-touch costs stay out of the figures.
  wrk -t"$threads" -c"$connections" -d2s -s "$root/bench/token.lua" "http://127.0.0.1:$port/token" >/dev/null
  result="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/token.lua" \
    "http://127.0.0.1:$port/token" | grep '^RESULT')"
  echo "$alg ${result#RESULT }"
done

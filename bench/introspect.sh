#!/usr/bin/env bash
# Load test of POST /introspect (RFC 7662) with wrk: a resource server's client introspecting one
# valid access token over and over. Counts answers that are not 200 with "active":true.
#
#   bench/introspect.sh [DURATION]         e.g. bench/introspect.sh 30s
#
# BENCH_PORT (18082), BENCH_CONNECTIONS (64), BENCH_THREADS (number of CPUs).
set -euo pipefail

duration="${1:-20s}"
port="${BENCH_PORT:-18082}"
connections="${BENCH_CONNECTIONS:-64}"
threads="${BENCH_THREADS:-$(nproc)}"
root="$(cd "$(dirname "$0")/.." && pwd)"

export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
start_server "$port"

api="$("$bin" client create --json --name api --audience https://api.example.com)"
service="$("$bin" client create --json --name service --audience https://api.example.com --scope read)"
sleep 0.5
api_id="$(printf '%s' "$api" | json_field client_id)"
api_secret="$(printf '%s' "$api" | json_field client_secret)"
token="$(curl -s "$base/token" -d grant_type=client_credentials \
  -d client_id="$(printf '%s' "$service" | json_field client_id)" \
  -d client_secret="$(printf '%s' "$service" | json_field client_secret)" | json_field access_token)"
export BENCH_TOKEN="$token"
BENCH_BASIC="Basic $(printf '%s:%s' "$api_id" "$api_secret" | base64 -w0)"
export BENCH_BASIC

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "wrk -t$threads -c$connections -d$duration, introspection on SQLite"
wrk -t"$threads" -c"$connections" -d2s -s "$root/bench/introspect.lua" "$base/introspect" >/dev/null
result="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/introspect.lua" \
  "$base/introspect" | grep '^RESULT')"
echo "introspect ${result#RESULT }"

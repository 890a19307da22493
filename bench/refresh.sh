#!/usr/bin/env bash
# Load test of the refresh token grant on SQLite with wrk (32 connections by default).
#
#   bench/refresh.sh [DURATION]            e.g. bench/refresh.sh 30s
#
# Builds the release binary, starts `portcullis serve` on a temporary SQLite database, creates a
# user and a first-party confidential client, signs in once with curl, collects a pool of refresh
# tokens through the real authorization code flow, then has wrk exchange them: every answer's new
# refresh token goes back into the pool, so no token is presented twice. Prints requests/s, p50,
# p99 and the non-200 count. BENCH_PORT (18081), BENCH_CONNECTIONS (32), BENCH_THREADS (CPUs).
set -euo pipefail

duration="${1:-20s}"
port="${BENCH_PORT:-18081}"
connections="${BENCH_CONNECTIONS:-32}"
threads="${BENCH_THREADS:-$(nproc)}"
root="$(cd "$(dirname "$0")/.." && pwd)"

export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
start_server "$port"

export BENCH_USER_PASSWORD="bench-user-password"
"$bin" user create bench --password-env BENCH_USER_PASSWORD >/dev/null
created="$("$bin" client create --json --name bench --grant-type authorization_code \
  --grant-type refresh_token --redirect-uri http://127.0.0.1/cb --scope "api" --first-party true)"
client_id="$(printf '%s' "$created" | json_field client_id)"
client_secret="$(printf '%s' "$created" | json_field client_secret)"
sleep 0.5

pool=$((connections * 4))
tokens="$work/tokens"
: >"$tokens"
collect_refresh_tokens "$base" "$client_id" "$client_secret" "$pool" "$tokens"
[ "$(grep -c . "$tokens")" -eq "$pool" ] || { echo "could not collect refresh tokens" >&2; exit 1; }

export BENCH_TOKENS_FILE="$tokens" BENCH_THREADS_COUNT="$threads"
export BENCH_CLIENT_ID="$client_id" BENCH_CLIENT_SECRET="$client_secret"
echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "wrk -t$threads -c$connections -d$duration, refresh_token grant on SQLite"
result="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$root/bench/refresh.lua" "$base/token" | grep '^RESULT')"
echo "refresh ${result#RESULT }"

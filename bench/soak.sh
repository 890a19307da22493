#!/usr/bin/env bash
# Soak test: a sustained mixed load on one server for DURATION (default 10m), reporting throughput,
# errors and the server's resident memory over time.
#
#   bench/soak.sh [DURATION]              e.g. bench/soak.sh 10m
#
# Three wrk processes run at once against a release build on SQLite:
#   client_credentials (token.lua, 16 connections), introspection of one access token
#   (introspect.lua, 16), and refresh-token rotation from a pool collected through the real code
#   flow (refresh.lua, 8).
# The server's RSS is sampled every 10 s from /proc. The report gives RSS after a one-minute
# warm-up and at the end; "flat" means the end is within 10 % of the warm value. Any non-200
# answer or socket error fails the run (exit 1). BENCH_PORT (18083).
set -euo pipefail

duration="${1:-10m}"
port="${BENCH_PORT:-18083}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
export PORTCULLIS_TOKENS__ACCESS_TOKEN_LIFETIME=3600
start_server "$port"

# client_credentials
created="$("$bin" client create --json --name soak-cc --audience https://api.example.com --scope read)"
cc_id="$(printf '%s' "$created" | json_field client_id)"
cc_secret="$(printf '%s' "$created" | json_field client_secret)"
# the resource server that introspects
api="$("$bin" client create --json --name soak-api --audience https://api.example.com)"
api_id="$(printf '%s' "$api" | json_field client_id)"
api_secret="$(printf '%s' "$api" | json_field client_secret)"
# the web app with refresh tokens
export BENCH_USER_PASSWORD="bench-user-password"
"$bin" user create bench --password-env BENCH_USER_PASSWORD >/dev/null
web="$("$bin" client create --json --name soak-web --grant-type authorization_code \
  --grant-type refresh_token --redirect-uri http://127.0.0.1/cb --scope api --first-party true)"
web_id="$(printf '%s' "$web" | json_field client_id)"
web_secret="$(printf '%s' "$web" | json_field client_secret)"
sleep 0.5
token="$(curl -s "$base/token" -d grant_type=client_credentials -d client_id="$cc_id" \
  -d client_secret="$cc_secret" | json_field access_token)"
: >"$work/tokens"
collect_refresh_tokens "$base" "$web_id" "$web_secret" 32 "$work/tokens"

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status"; }
(while kill -0 "$server_pid" 2>/dev/null; do echo "$(date +%s) $(rss)"; sleep 10; done) >"$work/rss" &
sampler=$!

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "mixed load for $duration, load generators on the same machine; RSS at start: $(rss) KiB"
start=$(date +%s)
BENCH_CLIENT_ID="$cc_id" BENCH_CLIENT_SECRET="$cc_secret" \
  wrk -t1 -c16 -d"$duration" --latency -s "$root/bench/token.lua" "$base/token" >"$work/cc" &
w1=$!
BENCH_TOKEN="$token" BENCH_BASIC="Basic $(printf '%s:%s' "$api_id" "$api_secret" | base64 -w0)" \
  wrk -t1 -c16 -d"$duration" --latency -s "$root/bench/introspect.lua" "$base/introspect" >"$work/in" &
w2=$!
BENCH_TOKENS_FILE="$work/tokens" BENCH_THREADS_COUNT=1 BENCH_CLIENT_ID="$web_id" \
  BENCH_CLIENT_SECRET="$web_secret" \
  wrk -t1 -c8 -d"$duration" --latency -s "$root/bench/refresh.lua" "$base/token" >"$work/rt" &
w3=$!
wait "$w1" "$w2" "$w3"
kill "$sampler" 2>/dev/null || true
end_rss="$(rss)"

failed=0
for name in cc in rt; do
  line="$(grep '^RESULT' "$work/$name")"
  label=$([ "$name" = cc ] && echo client_credentials || { [ "$name" = in ] && echo introspection || echo refresh_token; })
  echo "$label ${line#RESULT }"
  echo "$line" | grep -q 'non200=0 socket_errors=0' || failed=1
done
warm="$(awk -v t=$((start + 60)) '$1 >= t { print $2; exit }' "$work/rss")"
[ -z "$warm" ] && warm="$(head -1 "$work/rss" | cut -d' ' -f2)"
peak="$(sort -k2 -n "$work/rss" | tail -1 | cut -d' ' -f2)"
growth="$(awk -v a="$warm" -v b="$end_rss" 'BEGIN { printf "%.1f", (b - a) * 100 / a }')"
echo "rss_kib warm=$warm end=$end_rss peak=$peak growth=${growth}% samples=$(wc -l <"$work/rss")"
# One sample per minute, to show whether memory levels off or keeps climbing.
echo "rss_kib_per_minute $(awk -v s="$start" '$1 >= s && ($1 - s) % 60 < 10 { printf "%s ", $2 }' "$work/rss")"
awk -v g="$growth" 'BEGIN { exit !(g > 10) }' && { echo "memory grew more than 10 %"; failed=1; }
if [ "$failed" -ne 0 ]; then echo "SOAK FAILED"; exit 1; fi
echo "SOAK OK"

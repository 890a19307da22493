#!/usr/bin/env bash
# The server's footprint on this machine: how long a first start takes (new database, three signing
# keys generated) and a restart (the same database), and its resident memory idle, under load, and
# with 10,000 live sessions and 10,000 live grants (each with a refresh token) in its database.
#
#   bench/footprint.sh [LOAD_DURATION]          default 10s
#
# Start times run from launching `portcullis serve` to the line on its stdout that says it is
# listening (it binds, opens or creates the database, migrates, makes or loads keys, loads clients,
# then prints it). RSS is VmRSS from /proc; "under load" is the peak (VmHWM) after wrk drives the
# token endpoint with 64 connections. The sessions and grants are written straight into the SQLite
# file with sqlite3 (signing in 10,000 times would mostly measure Argon2); the server keeps them in
# the database, not in memory, so the figure shows what a server holding them costs once it has
# run with them: the RSS after a second load run.
set -euo pipefail

load_duration="${1:-10s}"
port="${BENCH_PORT:-18080}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
command -v sqlite3 >/dev/null || { echo "bench/footprint.sh needs sqlite3 (apt-get install sqlite3)" >&2; exit 2; }
release_binary

work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  cat "$work/serve.err" >&2 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export PORTCULLIS_DATABASE="sqlite://$work/footprint.db"
export PORTCULLIS_LISTEN="127.0.0.1:$port"
export PORTCULLIS_LOG=warn
base="http://127.0.0.1:$port"

# start: launches serve, waits for its listening line; sets $pid and $started_ms, the milliseconds
# that took.
start() {
  local begin end line
  rm -f "$work/stdout"
  mkfifo "$work/stdout"
  begin="${EPOCHREALTIME/./}"
  "$bin" serve >"$work/stdout" 2>>"$work/serve.err" &
  pid=$!
  exec 3<"$work/stdout"
  local up=""
  while IFS= read -r line <&3; do
    case "$line" in *listening*) up=1; break ;; esac
  done
  [ -n "$up" ] || { echo "serve did not start" >&2; exit 1; }
  end="${EPOCHREALTIME/./}"
  started_ms=$(((end - begin) / 1000))
}

stop() {
  kill "$pid" && wait "$pid" 2>/dev/null || true
  pid=""
  exec 3<&-
}

rss_kb() { grep -q portcullis "/proc/$pid/cmdline" || { echo "lost the server process" >&2; exit 1; }
  awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; }

load() {
  wrk -t"$(nproc)" -c64 -d"$load_duration" -s "$root/bench/token.lua" "$base/token" | grep '^RESULT'
}

start
first_ms="$started_ms"
sleep 2
idle_kb="$(rss_kb)"
created="$("$bin" client create --name footprint --json 2>/dev/null)"
export BENCH_CLIENT_ID BENCH_CLIENT_SECRET
BENCH_CLIENT_ID="$(printf '%s' "$created" | json_field client_id)"
BENCH_CLIENT_SECRET="$(printf '%s' "$created" | json_field client_secret)"
sleep 0.5
load_result="$(load)"
load_kb="$(hwm_kb)"
stop
start
restart_ms="$started_ms"

# 10,000 sessions, grants and refresh tokens, live for hours, for one user and the client.
BENCH_USER_PASSWORD="footprint-password-0123456789"
export BENCH_USER_PASSWORD
"$bin" user create footprint --password-env BENCH_USER_PASSWORD >/dev/null 2>&1
sqlite3 "$work/footprint.db" >/dev/null <<SQL
PRAGMA busy_timeout = 10000;
BEGIN IMMEDIATE;
CREATE TEMP TABLE n AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000) SELECT i FROM c;
INSERT INTO sessions (session_hash, user_id, auth_time, expires_at)
  SELECT randomblob(32), (SELECT user_id FROM users WHERE username = 'footprint'),
         unixepoch(), unixepoch() + 43200 FROM n;
INSERT INTO grants (grant_id, client_id, user_id, scope, auth_time, created_at, expires_at)
  SELECT lower(hex(randomblob(16))), '$BENCH_CLIENT_ID',
         (SELECT user_id FROM users WHERE username = 'footprint'), 'openid offline_access',
         unixepoch(), unixepoch(), unixepoch() + 86400 FROM n;
INSERT INTO refresh_tokens (token_hash, grant_id, issued_at, idle_expires_at)
  SELECT randomblob(32), grant_id, unixepoch(), unixepoch() + 3600 FROM grants;
COMMIT;
SQL
rows="$(sqlite3 "$work/footprint.db" "SELECT (SELECT count(*) FROM sessions) || ' sessions, ' || (SELECT count(*) FROM grants) || ' grants, ' || (SELECT count(*) FROM refresh_tokens) || ' refresh tokens'")"
sleep 1
load >/dev/null
rows_kb="$(rss_kb)"

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs, SQLite"
echo "first start (new database, keys generated): ${first_ms} ms"
echo "restart (same database):                    ${restart_ms} ms"
echo "idle RSS:                                   $((idle_kb / 1024)) MiB (${idle_kb} kB)"
echo "peak RSS under load:                        $((load_kb / 1024)) MiB (${load_kb} kB); ${load_result#RESULT }"
echo "RSS with $rows, after load: $((rows_kb / 1024)) MiB (${rows_kb} kB)"

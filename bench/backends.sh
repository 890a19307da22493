#!/usr/bin/env bash
# client_credentials and refresh grants per second on SQLite (one instance), PostgreSQL (one
# instance) and PostgreSQL (two instances sharing the database), with wrk.
#
#   bench/backends.sh [DURATION]            e.g. bench/backends.sh 20s
#
# Builds the release binary. For each set-up it creates a fresh database (PostgreSQL through psql
# at BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432/test; a database of its own,
# dropped at the end), starts the instances, and runs wrk against each instance at once with the
# connections split between them; requests/s are summed, latencies are the worst instance's.
# BENCH_CONNECTIONS (64 for tokens, half that for refresh), BENCH_PORT (18090 and up).
set -euo pipefail

duration="${1:-20s}"
connections="${BENCH_CONNECTIONS:-64}"
port0="${BENCH_PORT:-18090}"
admin="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export BENCH_DIR="$root/bench"
# shellcheck source=bench/common.sh
. "$root/bench/common.sh"
ensure_wrk
command -v psql >/dev/null || { echo "bench/backends.sh needs psql" >&2; exit 1; }
(cd "$root" && cargo build --release -p portcullis --quiet)
bin="$root/target/release/portcullis"
work="$(mktemp -d)"
pgdb="portcullis_bench_$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export PORTCULLIS_LOG=warn BENCH_USER_PASSWORD="bench-user-password"

# start_instances URL COUNT: sets $bases to the instances' base URLs.
start_instances() {
  local url="$1" count="$2" i port
  bases=()
  for i in $(seq "$count"); do
    port=$((port0 + i))
    PORTCULLIS_DATABASE="$url" PORTCULLIS_LISTEN="127.0.0.1:$port" \
      PORTCULLIS_ISSUER="http://bench.portcullis.test" \
      "$bin" serve >"$work/out.$i" 2>"$work/err.$i" &
    pids+=($!)
    for _ in $(seq 100); do grep -q listening "$work/out.$i" 2>/dev/null && break; sleep 0.1; done
    grep -q listening "$work/out.$i" || { cat "$work/err.$i" >&2; exit 1; }
    bases+=("http://127.0.0.1:$port")
  done
}

stop_instances() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# run_wrk SCRIPT CONNECTIONS: wrk against every instance at once; prints the combined RESULT.
run_wrk() {
  local script="$1" conns="$2" n=${#bases[@]} i
  local per=$((conns / n)) threads=$(( $(nproc) / n )) running=()
  [ "$threads" -lt 1 ] && threads=1
  for i in "${!bases[@]}"; do
    BENCH_TOKENS_FILE="$work/tokens.$i" BENCH_THREADS_COUNT="$threads" \
      wrk -t"$threads" -c"$per" -d"$duration" --latency -s "$root/bench/$script" \
      "${bases[$i]}/token" >"$work/wrk.$i" &
    running+=($!)
  done
  wait "${running[@]}"
  cat "$work"/wrk.* | grep '^RESULT' | awk '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      rps += v["rps"]; req += v["requests"]; bad += v["non200"]; err += v["socket_errors"]
      if (v["p50_ms"] > p50) p50 = v["p50_ms"]; if (v["p99_ms"] > p99) p99 = v["p99_ms"] }
    END { printf "requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f non200=%d socket_errors=%d\n",
          req, rps, p50, p99, bad, err }'
  rm -f "$work"/wrk.*
}

bench_setup() {
  local label="$1" url="$2" count="$3"
  start_instances "$url" "$count"
  export PORTCULLIS_DATABASE="$url"
  local created
  created="$("$bin" client create --json --name bench-cc)"
  export BENCH_CLIENT_ID BENCH_CLIENT_SECRET
  BENCH_CLIENT_ID="$(printf '%s' "$created" | json_field client_id)"
  BENCH_CLIENT_SECRET="$(printf '%s' "$created" | json_field client_secret)"
  sleep 1.2
  wrk -t1 -c8 -d2s -s "$root/bench/token.lua" "${bases[0]}/token" >/dev/null
  echo "$label client_credentials $(run_wrk token.lua "$connections")"

  "$bin" user create bench --password-env BENCH_USER_PASSWORD >/dev/null
  created="$("$bin" client create --json --name bench-web --grant-type authorization_code \
    --grant-type refresh_token --redirect-uri http://127.0.0.1/cb --scope api --first-party true)"
  local id secret i half=$((connections / 2))
  id="$(printf '%s' "$created" | json_field client_id)"
  secret="$(printf '%s' "$created" | json_field client_secret)"
  sleep 1.2
  for i in "${!bases[@]}"; do
    : >"$work/tokens.$i"
    collect_refresh_tokens "${bases[$i]}" "$id" "$secret" $((half * 4 / count)) "$work/tokens.$i"
  done
  BENCH_CLIENT_ID="$id" BENCH_CLIENT_SECRET="$secret"
  echo "$label refresh_token $(run_wrk refresh.lua "$half")"
  stop_instances
}

echo "portcullis $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on $(nproc) CPUs;" \
  "wrk -d$duration, $connections connections (refresh: half), load generator on the same machine"
bench_setup "sqlite/1" "sqlite://$work/bench.db" 1
psql -q "$admin" -c "CREATE DATABASE $pgdb" >/dev/null
pgurl="${admin%/*}/$pgdb"
bench_setup "postgres/1" "$pgurl" 1
psql -q "$admin" -c "DROP DATABASE $pgdb WITH (FORCE)" >/dev/null
psql -q "$admin" -c "CREATE DATABASE $pgdb" >/dev/null
bench_setup "postgres/2" "$pgurl" 2

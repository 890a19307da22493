# Shared by the benchmark scripts: wrk, the release build, and a server on a temporary database.
# Sourced, not run. Sets $bin, $work and $base, and stops the server on exit.

ensure_wrk() {
  command -v wrk >/dev/null && return
  echo "installing wrk..." >&2
  local sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get install -y wrk >/dev/null 2>&1 \
    || { $sudo_cmd apt-get update >/dev/null && $sudo_cmd apt-get install -y wrk >/dev/null; }
}

# release_binary: sets $bin to BENCH_BIN when it is set, otherwise builds the release binary.
release_binary() {
  if [ -n "${BENCH_BIN:-}" ]; then
    bin="$BENCH_BIN"
  else
    (cd "$root" && cargo build --release -p portcullis --quiet)
    bin="$root/target/release/portcullis"
  fi
}

# start_server PORT: runs `portcullis serve` (see release_binary) on a fresh SQLite file.
start_server() {
  local port="$1"
  release_binary
  work="$(mktemp -d)"
  server_pid=""
  trap 'stop_server' EXIT
  export PORTCULLIS_DATABASE="sqlite://$work/bench.db"
  export PORTCULLIS_LISTEN="127.0.0.1:$port"
  # Log level and format: warn by default; BENCH_LOG=info BENCH_LOG_FORMAT=json as operators run it.
  export PORTCULLIS_LOG="${BENCH_LOG:-warn}"
  export PORTCULLIS_LOG_FORMAT="${BENCH_LOG_FORMAT:-text}"
  base="http://127.0.0.1:$port"
  "$bin" serve >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q "listening" "$work/server.out" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "listening" "$work/server.out" || { cat "$work/server.err" >&2; exit 1; }
}

stop_server() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "${work:-/nonexistent}"
}

# median RATE...: the median of the numbers given, rounded.
median() {
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
    END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# json_field NAME: reads one string field of a JSON object on stdin.
json_field() {
  sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"
}

# collect_refresh_tokens BASE CLIENT_ID CLIENT_SECRET COUNT FILE: signs the user `bench` (password
# $BENCH_USER_PASSWORD) in at BASE once with curl, then runs the authorization code flow COUNT times
# and appends each refresh token to FILE. The client must be first-party with redirect
# http://127.0.0.1/cb and scope api.
collect_refresh_tokens() {
  local at="$1" id="$2" secret="$3" count="$4" out="$5"
  local verifier="bench-verifier-0123456789-0123456789-0123456789"
  local challenge authorize jar page csrf location code answer
  challenge="$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')"
  authorize="$at/authorize?response_type=code&client_id=$id&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=api&code_challenge=$challenge&code_challenge_method=S256"
  jar="$(mktemp)"
  page="$(curl -s -c "$jar" -b "$jar" "$authorize")"
  csrf="$(printf '%s' "$page" | grep -o 'name="csrf" value="[^"]*"' | sed -E 's/.*value="([^"]*)"/\1/')"
  curl -s -o /dev/null -c "$jar" -b "$jar" --data-urlencode "csrf=$csrf" \
    -d action=login -d username=bench --data-urlencode "password=$BENCH_USER_PASSWORD" \
    -d response_type=code -d client_id="$id" --data-urlencode redirect_uri=http://127.0.0.1/cb \
    -d scope=api -d code_challenge="$challenge" -d code_challenge_method=S256 \
    -X POST "$at/authorize"
  for _ in $(seq "$count"); do
    location="$(curl -s -o /dev/null -w '%{redirect_url}' -b "$jar" "$authorize")"
    code="$(printf '%s' "$location" | sed -E 's/.*[?&]code=([^&]+).*/\1/')"
    answer="$(curl -s "$at/token" -d grant_type=authorization_code -d code="$code" \
      --data-urlencode redirect_uri=http://127.0.0.1/cb -d code_verifier="$verifier" \
      -d client_id="$id" -d client_secret="$secret")"
    printf '%s\n' "$answer" | json_field refresh_token >>"$out"
  done
  rm -f "$jar"
}

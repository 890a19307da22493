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

# start_server PORT: builds the release binary and runs `portcullis serve` on a fresh SQLite file.
start_server() {
  local port="$1"
  (cd "$root" && cargo build --release -p portcullis --quiet)
  bin="$root/target/release/portcullis"
  work="$(mktemp -d)"
  server_pid=""
  trap 'stop_server' EXIT
  export PORTCULLIS_DATABASE="sqlite://$work/bench.db"
  export PORTCULLIS_LISTEN="127.0.0.1:$port"
  export PORTCULLIS_LOG=warn
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

# json_field NAME: reads one string field of a JSON object on stdin.
json_field() {
  sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"
}

#!/usr/bin/env bash
# Runs run.mjs (oauth4webapi, pinned in package.json) against a portcullis server of its own, and
# shows how to do the same by hand.
#
#   bash interop/oauth4webapi/try.sh                      # uses target/debug/portcullis
#   PORTCULLIS_BIN=path/to/portcullis bash interop/oauth4webapi/try.sh
#   API_URL=http://127.0.0.1:3000/data bash interop/oauth4webapi/try.sh   # also calls an API
#
# What it does, in a new temporary directory:
# 1. makes an EC P-256 key (PKCS#8 PEM) with openssl, and its public JWK Set with
#    `portcullis client jwks --private-key key.pem`;
# 2. writes portcullis.toml: a private_key_jwt client `svc-jwt` (client_credentials), a public
#    code-flow client `app` (authorization_code + refresh_token, loopback redirect URI, consent
#    page shown) and a user `alice`; then creates the database (`portcullis migrate`) and in it a
#    public device client "TV" with `portcullis client create --json --auth-method none
#    --grant-type urn:ietf:params:oauth:grant-type:device_code --grant-type refresh_token
#    --scope "openid profile offline_access" --name TV`, for run.mjs's device step (e);
# 3. starts `portcullis serve` on a free port of 127.0.0.1 with a SQLite database in that directory,
#    and reads the address from its log;
# 4. runs `node run.mjs` with the variables it reads (see the top of run.mjs); its last stdout line
#    is one JSON object saying what happened;
# 5. stops the server. The directory is removed when everything passed, kept (with the server's
#    log) otherwise.
#
# The exit status is run.mjs's. npm install runs first when node_modules is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin="${PORTCULLIS_BIN:-$repo/target/debug/portcullis}"
# portcullis reads every PORTCULLIS_* variable as a setting and stops at unknown ones: the server
# and the admin commands below run with a clean environment.
unset PORTCULLIS_BIN
[[ $bin == /* ]] || bin="$PWD/$bin"

die() { printf 'try.sh: %s\n' "$*" >&2; exit 1; }
[ -x "$bin" ] || die "no portcullis binary at $bin (build it, or set PORTCULLIS_BIN)"
for tool in node npm openssl; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if [ ! -d "$here/node_modules/oauth4webapi" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2) || die "npm ci failed"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-oauth4webapi.XXXXXX")
server_pid=""
status=failed
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" = passed ]; then
    rm -rf "$tmp"
  else
    echo "try.sh: the configuration, key and server log are kept in $tmp" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

clean_env=(env -i "PATH=$PATH" "LANG=${LANG:-C.UTF-8}" "HOME=$tmp" "TMPDIR=$tmp")

# 1. The private_key_jwt client's key and its public JWK Set.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/key.pem" 2>/dev/null
jwks=$("${clean_env[@]}" "$bin" client jwks --private-key "$tmp/key.pem")
jwks=$(printf '%s' "$jwks" | tr -d '\n')
[[ $jwks != *"'"* ]] || die "the JWK Set holds a single quote"

# 2. The configuration. The JWK Set goes in a TOML literal string.
password="correct horse battery staple"
redirect_uri="http://127.0.0.1:9/callback"
cat > "$tmp/portcullis.toml" <<EOF
listen = "127.0.0.1:0"
database = "sqlite://$tmp/portcullis.db"

[[clients]]
client_id = "svc-jwt"
client_name = "oauth4webapi private_key_jwt service"
token_endpoint_auth_method = "private_key_jwt"
jwks = '$jwks'
grant_types = ["client_credentials"]
scope = "read write"
default_scope = "read"
audience = ["https://api.example.com"]

[[clients]]
client_id = "app"
client_name = "oauth4webapi public app"
token_endpoint_auth_method = "none"
grant_types = ["authorization_code", "refresh_token"]
redirect_uris = ["$redirect_uri"]
response_types = ["code"]
scope = "openid profile email offline_access"
require_pushed_authorization_requests = true

[[users]]
username = "alice"
password = "$password"
email = "alice@example.com"
email_verified = true
name = "Alice Liddell"
EOF

# The device client, made as an operator makes one, in the database the server will open.
(cd "$tmp" && "${clean_env[@]}" PORTCULLIS_CONFIG="$tmp/portcullis.toml" "$bin" migrate >/dev/null) \
  || die "portcullis migrate failed"
created=$(cd "$tmp" && "${clean_env[@]}" PORTCULLIS_CONFIG="$tmp/portcullis.toml" "$bin" client create --json \
  --auth-method none \
  --grant-type urn:ietf:params:oauth:grant-type:device_code --grant-type refresh_token \
  --scope "openid profile offline_access" --name TV) || die "portcullis client create (the device client) failed"
device_client_id=$(printf '%s' "$created" | node -e \
  'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).client_id)') \
  || die "no client_id in: $created"

# 3. The server.
(cd "$tmp" && exec "${clean_env[@]}" PORTCULLIS_CONFIG="$tmp/portcullis.toml" "$bin" serve \
  >"$tmp/serve.log" 2>&1 </dev/null) &
server_pid=$!
port=""
for _ in $(seq 600); do
  port=$(sed -nE 's/.*[Ll]istening.*127\.0\.0\.1:([0-9]+).*/\1/p' "$tmp/serve.log" | head -n 1)
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.log" >&2; die "the server stopped at start-up"; }
  sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/serve.log" >&2; die "the server did not say where it listens within 60 s"; }
issuer="http://127.0.0.1:$port"
echo "try.sh: portcullis listens on $issuer" >&2

# 4. The client library. Run by hand, it is these variables and `node run.mjs`.
set +e
(cd "$here" && ISSUER="$issuer" \
  CLIENT_ID=svc-jwt PRIVATE_KEY_FILE="$tmp/key.pem" \
  APP_CLIENT_ID=app APP_REDIRECT_URI="$redirect_uri" \
  USERNAME=alice PASSWORD="$password" \
  DEVICE_CLIENT_ID="$device_client_id" \
  API_URL="${API_URL:-}" \
  node run.mjs)
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "--- the server's last log lines:" >&2
  tail -n 20 "$tmp/serve.log" >&2
  exit "$rc"
fi
status=passed

#!/usr/bin/env bash
# Runs the shell command blocks of README.md (```sh fences), in order, against a server of its own,
# and fails on the first command that fails, naming its block. A README command that stops working
# thus fails CI (.ci/run calls this after `cargo test --workspace`).
#
#   bash docs/check.sh                 # uses target/debug/portcullis, built by cargo test --workspace
#   bash docs/check.sh docs/operations.md   # another document, checked the same way
#   PORTCULLIS_BIN=path/to/portcullis bash docs/check.sh
#   CHECK_SERVER_ENV='PORTCULLIS_REGISTRATION__ENABLED=true' bash docs/check.sh docs/registration.md
#       settings (VAR=value, space-separated) for the server and the blocks, for a document about
#       something that is off by default
#
# How the blocks run:
# - In a new temporary directory, with `portcullis serve` started there on a free port of 127.0.0.1
#   (SQLite, ./portcullis.db) and stopped at the end. The blocks run in the same directory, as the
#   README asks, and see PORTCULLIS_LISTEN set to that port (so the admin commands share the server's
#   configuration), a HOME of their own, and no other variable of the caller's environment.
# - Each block runs in a new bash with `set -euo pipefail`, after the variables, functions and working
#   directory the earlier blocks left, as in one terminal. `curl` runs with --fail-with-body, so an
#   HTTP error answer fails the block; `portcullis` is the binary under test.
# - Between two blocks it waits half a second: a running server sees a new client within a quarter of
#   a second (README.md, First token), and a person takes longer than that to type the next command.
# - In the text of each block, `cargo run --release -p portcullis --` becomes the binary and
#   http://127.0.0.1:8080 the temporary server's address.
#
# A few HTML comments in README.md (GitHub does not show them), on the line before a block, say what
# the block needs that the README leaves to the reader:
#   <!-- check: skip: REASON -->
#       The block is not run; the skip and its reason (which must be given) are printed.
#   <!-- check: VAR=label ... from the output above -->
#       The example value this block gives VAR stands, here and in every later block, for the value
#       on the line `label: VALUE` (or `"label": "VALUE",`) of the previous block's output (for
#       example the client_id that `client create` printed).
#   <!-- check: sign in as USER/$PASSVAR at the URL above, then VAR=label from the redirect -->
#       First does what the browser does with the last URL the previous block printed: GET it, post
#       the sign-in form (USER, and the password in the blocks' variable PASSVAR), press Allow on the
#       consent page, and read the redirect's Location. Then as above, with its query parameters.
#   <!-- check: approve as USER/$PASSVAR at the URL above -->
#       A person on another device (RFC 8628): opens the last URL an earlier block printed (the
#       verification_uri_complete), confirms the code, signs in and presses Allow, and the page says
#       they may return to their device. VAR=label pairs may follow (", then VAR=label from the
#       output above"); they read the previous block's output, as below.
#   <!-- check: NAME is a client made for this block, which deletes it -->
#       The placeholder NAME in this block becomes the client_id of a new client.
# Any other comment that starts with `check` is an error, and so is one that is not right before a
# ```sh block.

# The single-quoted $ in this file are for the blocks' shell, not this one.
# shellcheck disable=SC2016
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The document: README.md unless another is named (docs/operations.md is checked the same way).
doc="${1:-README.md}"
readme="$repo/$doc"
[ -f "$readme" ] || { printf 'check: no document %s\n' "$readme" >&2; exit 1; }
bin="${PORTCULLIS_BIN:-$repo/target/debug/portcullis}"
# portcullis reads every PORTCULLIS_* variable as a setting and stops at unknown ones.
unset PORTCULLIS_BIN
[[ $bin == /* ]] || bin="$PWD/$bin"
block_timeout="${CHECK_BLOCK_TIMEOUT:-120}"

die() { printf 'check: %s\n' "$*" >&2; exit 1; }
[ -x "$bin" ] || die "no portcullis binary at $bin: build it with cargo test --workspace, or set PORTCULLIS_BIN"
for tool in curl python3 openssl timeout; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-check.XXXXXX")
work="$tmp/work"
mkdir -p "$work" "$tmp/home" "$tmp/blocks"
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
    echo "check: the server's log, the blocks and their outputs are kept in $tmp" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The environment of the server and of the blocks: nothing of the caller's but PATH and the locale.
base_env=(env -i "PATH=$PATH" "LANG=${LANG:-C.UTF-8}" "HOME=$tmp/home"
  "XDG_CACHE_HOME=$tmp/home/.cache" "XDG_CONFIG_HOME=$tmp/home/.config" "TMPDIR=$tmp")
# Settings the document needs on (CHECK_SERVER_ENV), for the server and the blocks alike.
read -r -a server_settings <<< "${CHECK_SERVER_ENV:-}"
for setting in "${server_settings[@]}"; do
  [[ $setting =~ ^PORTCULLIS_[A-Z0-9_]+=.*$ ]] || die "CHECK_SERVER_ENV: not PORTCULLIS_NAME=value: $setting"
  base_env+=("$setting")
done
unset CHECK_SERVER_ENV

# --- The blocks of README.md ------------------------------------------------------------------------
# blocks/N.sh holds block N; index has one line per block: N, line, section, annotation's line, annotation.
# Lines that start with "error" are annotations the parser could not place.
awk -v dir="$tmp/blocks" -v index_file="$tmp/index" '
  function orphan() { printf "error\t%d\tnot right before a ```sh block: %s\n", annline, ann >> index_file; ann = "" }
  fence != "" {
    if ($0 ~ /^```[[:space:]]*$/) { fence = ""; if (file != "") close(file); file = "" }
    else if (file != "") print > file
    next
  }
  /^```/ {
    lang = substr($0, 4); gsub(/[[:space:]]/, "", lang); fence = "open"
    if (lang ~ /^(sh|bash|shell)$/) {
      n++; file = dir "/" n ".sh"; printf "" > file
      printf "%d\t%d\t%s\t%d\t%s\n", n, NR, section, annline, ann >> index_file
      ann = ""
    } else if (ann != "") orphan()
    next
  }
  /^<!--[[:space:]]*check/ {
    if (ann != "") orphan()
    if ($0 !~ /^<!-- check: .*-->[[:space:]]*$/) { printf "error\t%d\tnot <!-- check: ... -->: %s\n", NR, $0 >> index_file; next }
    ann = $0; sub(/^<!-- check: */, "", ann); sub(/ *-->[[:space:]]*$/, "", ann); annline = NR
    next
  }
  /^#+ / { section = $0; sub(/^#+ /, "", section) }
  /[^[:space:]]/ { if (ann != "") orphan() }
  END {
    if (ann != "") orphan()
    if (fence != "") printf "error\t%d\tthe last code block is not closed\n", NR >> index_file
  }
' "$readme"
touch "$tmp/index"
if grep -q '^error' "$tmp/index"; then
  while IFS=$'\t' read -r _ line msg; do echo "check: $doc:$line: annotation $msg" >&2; done \
    < <(grep '^error' "$tmp/index")
  exit 1
fi
mapfile -t entries < "$tmp/index"
[ "${#entries[@]}" -gt 0 ] || die "$doc has no \`\`\`sh block"

# --- The server -------------------------------------------------------------------------------------
echo "check: starting $bin serve in $work"
(cd "$work" && exec "${base_env[@]}" PORTCULLIS_LISTEN=127.0.0.1:0 "$bin" serve \
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
url="http://127.0.0.1:$port"
curl -fsS --noproxy '*' -o /dev/null "$url/health/live" || die "$url/health/live does not answer"
echo "check: the server listens on $url; it stands for http://127.0.0.1:8080 below"
block_env=("${base_env[@]}" "PORTCULLIS_LISTEN=127.0.0.1:$port")

# The shell state every block starts from: the two functions below, and the working directory.
{
  # `|| return` hands a failure to the README's command, so the message below names that command.
  printf 'portcullis() { %q "$@" || return; }\n' "$bin"
  printf 'curl() { command curl --fail-with-body "$@" || return; }\n'
  printf 'cd %q\n' "$work"
} > "$tmp/state.sh"
# Variables of a new bash are not the blocks' state.
"${block_env[@]}" bash --noprofile --norc -c 'compgen -v' > "$tmp/baseline"
# What runs before and after each block, in the same bash (run-N.sh sets __check_offset).
printf '__check_doc=%q\n__check_readme=%q\n__check_state=%q\n__check_baseline=%q\n__check_next=%q\n' \
  "$doc" "$readme" "$tmp/state.sh" "$tmp/baseline" "$tmp/state.next" > "$tmp/before.sh"
cat >> "$tmp/before.sh" <<'EOF'
source "$__check_state"
__check_failed() { # exit status, line in run-N.sh
  local line=$(($2 + __check_offset))
  printf '\ncheck: %s:%s: this command failed (exit %s): %s\n' \
    "$__check_doc" "$line" "$1" "$(sed -n "${line}p" "$__check_readme")" >&2
}
trap '__check_failed $? $LINENO' ERR
set -euo pipefail
EOF
# Keeps the state for the next block: new variables, all functions, the working directory.
cat > "$tmp/after.sh" <<'EOF'
set +eu
trap - ERR
__check_names=$(compgen -v | grep -vxF -f "$__check_baseline" | grep -vE '^(BASH|__check)')
{ [ -z "$__check_names" ] || declare -p $__check_names; declare -f; printf 'cd %q\n' "$PWD"; } > "$__check_next"
EOF

# The browser of the sign-in annotation: browser.py URL USER ISSUER, the password in CHECK_PASSWORD.
# Prints each step on stderr, and the redirect's query parameters on stdout as `name: value` lines.
cat > "$tmp/browser.py" <<'EOF'
import html.parser, http.cookiejar, os, sys, urllib.error, urllib.parse, urllib.request

start, user, issuer = sys.argv[1:4]

class Form(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields, self.inputs, self.buttons, self.heading, self._h = None, [], set(), [], "", False
        self.values = {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post" and self.action is None:
            self.action = a.get("action") or ""
        elif tag == "input" and a.get("name"):
            self.inputs.add(a["name"])
            self.values[a["name"]] = a.get("value") or ""
            if a.get("type") == "hidden":
                self.fields.append((a["name"], a.get("value") or ""))
        elif tag == "button" and a.get("name") == "action":
            self.buttons.append(a.get("value"))
        elif tag == "h1":
            self._h = True
    def handle_endtag(self, tag):
        if tag == "h1":
            self._h = False
    def handle_data(self, data):
        if self._h:
            self.heading += data

class Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

opener = urllib.request.build_opener(Stay, urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

def fetch(method, target, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        response = opener.open(urllib.request.Request(target, data=body, method=method), timeout=30)
    except urllib.error.HTTPError as e:
        response = e
    text = response.read().decode("utf-8", "replace")
    location = response.headers.get("Location")
    print(f"check: browser: {method} {urllib.parse.urlsplit(target).path} -> {response.status}"
          + (f" Location: {location}" if location else ""), file=sys.stderr)
    return response.status, location, text

status, location, page = fetch("GET", start)
for _ in range(4):
    if location:
        break
    form = Form()
    form.feed(page)
    if status == 200 and form.action is None and "return to your device" in page:
        # The end of a device sign-in (RFC 8628): no redirect, a page for the person.
        print(f"check: browser: page {form.heading.strip()!r}: approved", file=sys.stderr)
        sys.exit(0)
    if status != 200 or form.action is None:
        sys.exit(f"check: browser: expected a form, got {status} {form.heading.strip()!r}")
    print(f"check: browser: page {form.heading.strip()!r}", file=sys.stderr)
    data = list(form.fields)
    if "password" in form.inputs and "login" in form.buttons:
        data += [("username", user), ("password", os.environ["CHECK_PASSWORD"]), ("action", "login")]
    elif "allow" in form.buttons:
        data += [("action", "allow")]
    elif "code" in form.buttons and "user_code" in form.inputs:
        data += [("user_code", form.values["user_code"]), ("action", "code")]
    else:
        sys.exit(f"check: browser: no sign-in or Allow button on {form.heading.strip()!r}")
    status, location, page = fetch("POST", urllib.parse.urljoin(start, form.action), data)
if not location or status not in (302, 303):
    sys.exit(f"check: browser: no redirect after the consent page (status {status})")
query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
expected_state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start).query)).get("state")
if "error" in query:
    sys.exit(f"check: browser: redirected with error {query['error']}: {query.get('error_description')}")
if query.get("state") != expected_state or query.get("iss") != issuer:
    sys.exit(f"check: browser: the redirect has state {query.get('state')!r} and iss {query.get('iss')!r},"
             f" not {expected_state!r} and {issuer!r}")
for name, value in query.items():
    print(f"{name}: {value}")
EOF

subst_from=()
subst_to=()
qbin=$(printf %q "$bin")
substitute() { # the text of a block, with the address, the binary and the values learned so far
  local text=$1 i
  text=${text//"cargo run --release -p portcullis --"/"$qbin"}
  text=${text//"http://127.0.0.1:8080"/"$url"}
  for i in "${!subst_from[@]}"; do text=${text//"${subst_from[$i]}"/"${subst_to[$i]}"}; done
  printf '%s' "$text"
}
value_of() { # label file: VALUE of the last `label: VALUE` line (or `"label": "VALUE",`, as JSON
  # printed one member a line has it)
  sed -nE "s/^[[:space:]]*\"?$1\"?:[[:space:]]+\"?([^[:space:]\",]+).*/\1/p" "$2" | tail -n 1
}
show() { # prefix text
  local line
  while IFS= read -r line; do printf '%s%s\n' "$1" "$line"; done <<< "$2"
}

ran=0
skipped=()
prev_out=/dev/null
for entry in "${entries[@]}"; do
  IFS=$'\t' read -r n line section annline ann <<< "$entry"
  where="$doc:$line ($section, block $n)"
  raw=$(cat "$tmp/blocks/$n.sh")
  echo
  if [[ $ann =~ ^skip:\ *(.+)$ ]]; then
    echo "==> SKIP $where: ${BASH_REMATCH[1]}"
    show '    # ' "$raw"
    skipped+=("$where: ${BASH_REMATCH[1]}")
    continue
  fi
  echo "==> $where"

  # What the annotation asks for before the block runs.
  source_file=$prev_out
  local_from=""
  local_to=""
  if [ -n "$ann" ]; then
    echo "check: $doc:$annline: $ann"
    if [[ $ann =~ ^sign\ in\ as\ ([^/[:space:]]+)/\$([A-Za-z_][A-Za-z0-9_]*)\ at\ the\ URL\ above ]]; then
      user=${BASH_REMATCH[1]}
      pass_var=${BASH_REMATCH[2]}
      [[ $ann =~ from\ the\ redirect$ ]] || die "$doc:$annline: say \`... from the redirect\`"
      start=$(grep -oE 'https?://[^[:space:]]+' "$prev_out" | tail -n 1) \
        || die "$where: the previous block printed no URL to sign in at"
      password=$("${block_env[@]}" bash --noprofile --norc -c 'source "$1" >/dev/null; printf %s "${!2:?}"' \
        _ "$tmp/state.sh" "$pass_var") || die "$where: no variable $pass_var in the blocks' state"
      "${base_env[@]}" CHECK_PASSWORD="$password" python3 "$tmp/browser.py" "$start" "$user" "$url" > "$tmp/redirect-$n.txt" \
        || die "$where: signing in as $user did not work"
      source_file="$tmp/redirect-$n.txt"
    elif [[ $ann =~ ^approve\ as\ ([^/[:space:]]+)/\$([A-Za-z_][A-Za-z0-9_]*)\ at\ the\ URL\ above ]]; then
      user=${BASH_REMATCH[1]}
      pass_var=${BASH_REMATCH[2]}
      start=""
      for ((k = n - 1; k >= 1; k--)); do
        [ -f "$tmp/out-$k.txt" ] || continue
        start=$(grep -oE 'https?://[^[:space:]"]+' "$tmp/out-$k.txt" | tail -n 1) && [ -n "$start" ] && break
      done
      [ -n "$start" ] || die "$where: no earlier block printed a URL to approve at"
      password=$("${block_env[@]}" bash --noprofile --norc -c 'source "$1" >/dev/null; printf %s "${!2:?}"' \
        _ "$tmp/state.sh" "$pass_var") || die "$where: no variable $pass_var in the blocks' state"
      "${base_env[@]}" CHECK_PASSWORD="$password" python3 "$tmp/browser.py" "$start" "$user" "$url" \
        || die "$where: approving as $user at $start did not work"
    elif [[ $ann =~ ^([A-Za-z_][A-Za-z0-9_]*)\ is\ a\ client\ made\ for\ this\ block ]]; then
      local_from=${BASH_REMATCH[1]}
      local_to=$(cd "$work" && "${block_env[@]}" "$bin" client create --name "check.sh $n" --json </dev/null \
        | python3 -c 'import sys, json; print(json.load(sys.stdin)["client_id"])') \
        || die "$where: could not create a client for the block"
      echo "check: $local_from in this block is $local_to, a client made for it"
    elif ! [[ $ann =~ from\ the\ output\ above$ ]]; then
      die "$doc:$annline: annotation not understood: $ann"
    fi
    # VAR=label pairs: the example value of VAR in this block stands for the real value of label.
    rest=$ann
    while [[ $rest =~ (^|[[:space:]])([A-Z_][A-Z0-9_]*)=([a-z_]+)([[:space:]]|$)(.*) ]]; do
      var=${BASH_REMATCH[2]}
      label=${BASH_REMATCH[3]}
      rest=${BASH_REMATCH[5]}
      [[ $raw =~ (^|[[:space:]\;])(export[[:space:]]+)?$var=([^[:space:]\;#\"\']+) ]] \
        || die "$doc:$annline: the block gives $var no value"
      example=${BASH_REMATCH[3]}
      real=$(value_of "$label" "$source_file")
      [ -n "$real" ] || die "$where: no \`$label: ...\` line in $( [ "$source_file" = "$prev_out" ] \
        && echo "the previous block's output" || echo "the redirect") for $var"
      echo "check: $var: the README's $example stands for $real"
      subst_from+=("$example")
      subst_to+=("$real")
    done
  fi

  text=$(substitute "$raw")
  if [ -n "$local_from" ]; then
    text=$(printf '%s' "$text" | sed -E "s/(^|[^\$[:alnum:]_])$local_from([^[:alnum:]_]|$)/\1$local_to\2/g")
  fi
  if grep -qE '(^|[^[:alnum:]_])cargo[[:space:]]|:8080([^0-9]|$)' <<< "$text"; then
    die "$where: runs cargo or uses port 8080 in a form this script does not replace; annotate it with skip and a reason"
  fi
  show '$ ' "$text"

  # The block starts on line 3 of run-N.sh, and on line $line + 1 of README.md.
  printf '__check_offset=%d\nsource %q\n%s\nsource %q\n' "$((line - 2))" "$tmp/before.sh" "$text" \
    "$tmp/after.sh" > "$tmp/run-$n.sh"
  set +e
  (cd "$work" && timeout "$block_timeout" "${block_env[@]}" bash --noprofile --norc "$tmp/run-$n.sh" </dev/null) 2>&1 \
    | tee "$tmp/out-$n.txt"
  rc=${PIPESTATUS[0]}
  set -e
  [ -z "$(tail -c 1 "$tmp/out-$n.txt")" ] || echo
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "check: the block did not finish within $block_timeout s" >&2
    echo "--- the server's last log lines:" >&2
    tail -n 15 "$tmp/serve.log" >&2
    die "FAILED: $where exited with $rc"
  fi
  [ -f "$tmp/state.next" ] || die "FAILED: $where stopped before its last line"
  mv "$tmp/state.next" "$tmp/state.sh"
  prev_out="$tmp/out-$n.txt"
  ran=$((ran + 1))
  sleep 0.5
done

kill -0 "$server_pid" 2>/dev/null || { tail -n 15 "$tmp/serve.log" >&2; die "the server has stopped"; }
echo
echo "check: $doc passed: $ran blocks ran, ${#skipped[@]} skipped:"
for s in "${skipped[@]}"; do echo "  skipped $s"; done
status=passed

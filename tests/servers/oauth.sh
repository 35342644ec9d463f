#!/usr/bin/env bash
# The local OAuth 2.0 token endpoint (tests/servers/oauth_server.py) for
# tests, over HTTPS with the test CA of tests/servers/dovecot.sh.
#
# 1. As a command (ctest, C++ test programs):
#      oauth.sh run -- COMMAND [ARG...]
#          makes a temp dir with test certificates, starts the endpoint,
#          runs COMMAND with OAUTH_URL, OAUTH_CA, OAUTH_SH and OAUTH_DIR in its
#          environment, stops it, exits with COMMAND's status (77 with a
#          reason when python3 or openssl is missing).
# 2. Sourced by a bash test:
#      source tests/servers/oauth.sh
#      oauth_start DIR TLSDIR [oauth_server.py options]   exports the variables
#      oauth_admin ACTION [KEY=VALUE...]                   prints the JSON reply
#      oauth_stat KEY                                      one of its stats
#      oauth_stop
#    With tests/servers/dovecot.sh sourced too:
#      oauth_dovecot_start WORK [oauth_server.py options]
#          the endpoint (WORK/oauth, client secret $OAUTH_SECRET) and a
#          Dovecot (WORK/dovecot, certificates in WORK/dovecot/tls) whose
#          `passdb { driver = oauth2 }` introspects every token there
#      oauth_token_leak OUTPUTS ARCHIVE TOKEN...
#          prints where a token was found (the file OUTPUTS, the archive's
#          catalog files) or that one was not read back; status 1 if none
# Variables: OAUTH_URL=https://localhost:PORT (endpoints /token, /device,
# /introspect, /admin), OAUTH_PORT, OAUTH_PID, OAUTH_LOG (one line per
# request, never a token), OAUTH_CA (TLSDIR/ca.pem).

_oauth_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

oauth_skip_reason() {
  command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed"; return 0; }
  command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed"; return 0; }
  return 1
}

# oauth_start DIR TLSDIR [options]: TLSDIR must hold server-chain.pem,
# server.key and ca.pem (dovecot.sh makes them; made here when missing).
oauth_start() {
  local dir=$1 tls=$2
  shift 2
  mkdir -p "$dir"
  if [[ ! -f "$tls/ca.pem" ]]; then
    # shellcheck source=tests/servers/dovecot.sh
    source "$_oauth_dir/dovecot.sh"
    _dovecot_make_certs "$tls" || return 1
  fi
  rm -f "$dir/port"
  OAUTH_LOG="$dir/oauth.log"
  : >"$OAUTH_LOG"
  python3 "$_oauth_dir/oauth_server.py" --cert "$tls/server-chain.pem" --key "$tls/server.key" \
    --port-file "$dir/port" --log "$OAUTH_LOG" "$@" 2>>"$dir/oauth.stderr" &
  OAUTH_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -s "$dir/port" ]] && break
    kill -0 "$OAUTH_PID" 2>/dev/null || break
    sleep 0.05
  done
  if [[ ! -s "$dir/port" ]]; then
    echo "oauth.sh: the token endpoint did not start:" >&2
    cat "$dir/oauth.stderr" >&2
    return 1
  fi
  OAUTH_PORT=$(cat "$dir/port")
  OAUTH_URL="https://localhost:$OAUTH_PORT"
  OAUTH_CA="$tls/ca.pem"
  OAUTH_DIR=$dir
  export OAUTH_URL OAUTH_PORT OAUTH_PID OAUTH_LOG OAUTH_CA OAUTH_DIR
  OAUTH_SH="$_oauth_dir/oauth.sh"
  export OAUTH_SH
}

oauth_stop() {
  [[ -n "${OAUTH_PID:-}" ]] || return 0
  kill -TERM "$OAUTH_PID" 2>/dev/null
  wait "$OAUTH_PID" 2>/dev/null
  OAUTH_PID=
}

# oauth_admin ACTION [KEY=VALUE...]: prints the endpoint's JSON reply.
oauth_admin() {
  python3 - "$OAUTH_URL/admin" "$OAUTH_CA" "action=$1" "${@:2}" <<'EOF'
import ssl, sys, urllib.parse, urllib.request
url, ca, *pairs = sys.argv[1:]
data = urllib.parse.urlencode([tuple(p.split("=", 1)) for p in pairs]).encode()
ctx = ssl.create_default_context(cafile=ca)
print(urllib.request.urlopen(url, data=data, context=ctx, timeout=10).read().decode())
EOF
}

oauth_stat() {  # KEY
  oauth_admin stats | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

oauth_dovecot_start() {  # WORK [oauth_server.py options]
  local work=$1
  shift
  mkdir -p "$work/dovecot"
  _dovecot_make_certs "$work/dovecot/tls" >/dev/null || { echo "oauth.sh: cannot make test certificates" >&2; return 1; }
  export OAUTH_SECRET=client-s3cret
  oauth_start "$work/oauth" "$work/dovecot/tls" --client-secret "$OAUTH_SECRET" "$@" || return 1
  cat >"$work/dovecot-oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = https://127.0.0.1:$OAUTH_PORT/introspect
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $work/dovecot/tls/ca.pem
EOF
  DOVECOT_OAUTH2_CONF="$work/dovecot-oauth2.conf.ext" dovecot_start "$work/dovecot"
}

oauth_token_leak() {  # OUTPUTS ARCHIVE TOKEN...
  local outputs=$1 archive=$2 t
  shift 2
  for t in "$@"; do
    [[ ${#t} -ge 20 ]] || { echo "a token was not read back from the state files"; return 0; }
    if grep -qF "$t" "$outputs"; then echo "a token appears in mailkeep's output" && return 0; fi
    if grep -qaF "$t" "$archive"/catalog.sqlite*; then echo "a token appears in the catalog" && return 0; fi
  done
  return 1
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  [[ "${1:-}" == run && "${2:-}" == -- && $# -ge 3 ]] || { echo "usage: oauth.sh run -- COMMAND [ARG...]" >&2; exit 2; }
  shift 2
  if reason=$(oauth_skip_reason); then echo "SKIP: $reason"; exit 77; fi
  work=$(mktemp -d)
  trap 'oauth_stop; rm -rf "$work"' EXIT
  oauth_start "$work/oauth" "$work/tls" || exit 1
  "$@"
  exit $?
fi

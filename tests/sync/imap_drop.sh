#!/usr/bin/env bash
# An IMAP connection lost in the middle of a big literal: `mailkeep sync`
# (delete = after-download) through a proxy that hangs up 1.5 MB into a
# 3 MB message on its first connection logs in again, checks the folder's
# UIDVALIDITY, and fetches the rest in the same run: exit 0, nothing on
# stderr, the archive holds exactly what the server held (SHA-256 sets
# compared, nothing twice; the cut message whole), and the server is
# empty. A second run, straight to Dovecot, finds nothing to fetch.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/dovecot.sh"
reason=$(dovecot_skip_reason) && skip "$reason"
chmod 755 "$WORK"
dovecot_start "$WORK/dovecot"
proxy_pid=
trap '[[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null; dovecot_stop; rm -rf "$WORK"' EXIT
export BOB_PW=$DOVECOT_BOB_PASSWORD
doveadm_() { doveadm -c "$DOVECOT_CONF" "$@"; }

# bob's mail: INBOX has 5 small messages, a 3 MB one, 3 small ones (UIDs in
# that order); Later has 2 small ones. Each is kept as a file to compare.
mkdir "$WORK/mail"
n=0
small() {  # small FOLDER
  n=$((n + 1))
  printf 'From: x@example.test\nTo: bob@example.test\nSubject: small %d\nMessage-ID: <small-%d@example.test>\n\nbody %d\n' \
    "$n" "$n" "$n" >"$WORK/mail/$n.eml"
  doveadm_ save -u bob -m "$1" <"$WORK/mail/$n.eml"
}
doveadm_ mailbox create -u bob Later
for _ in 1 2 3 4 5; do small INBOX; done
python3 - "$WORK/mail/big.eml" <<'EOF'
import base64, os, sys
data = base64.encodebytes(os.urandom(2300 * 1024)).decode()
with open(sys.argv[1], "w") as f:
    f.write("From: big@example.test\nTo: bob@example.test\nSubject: three megabytes\n"
            "Message-ID: <big-drop@example.test>\nMIME-Version: 1.0\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + data)
EOF
doveadm_ save -u bob -m INBOX <"$WORK/mail/big.eml"
for _ in 1 2 3; do small INBOX; done
for _ in 1 2; do small Later; done
on_server() { echo $(($(dovecot_count bob INBOX) + $(dovecot_count bob Later))); }
expect_eq "$(on_server)" 11 "messages on the server"
want=$(sha256sum "$WORK"/mail/*.eml | cut -d' ' -f1 | sort)

# The proxy (implicit TLS passes through it untouched).
python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$DOVECOT_IMAPS_PORT" "$((1536 * 1024))@1" \
  "$WORK/proxy.port" "$WORK/proxy.log" &
proxy_pid=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
[[ -s $WORK/proxy.port ]] || fail "the proxy did not start"

config() {  # config PORT: the same account bob, over PORT
  printf '[account.bob]\nprotocol = imap\nhost = 127.0.0.1\nport = %s\ntls = implicit\nuser = bob\npassword_env = BOB_PW\nca_file = %s\ntimeout = 30\ndelete = after-download\n' \
    "$1" "$DOVECOT_CA"
}
config "$(cat "$WORK/proxy.port")" >"$WORK/proxy.ini"
config "$DOVECOT_IMAPS_PORT" >"$WORK/direct.ini"
archived() {  # SHA-256 of every archived message, sorted
  local id
  for id in $(mk search --format ids '*'); do mk show --raw "$id" | sha256sum | cut -d' ' -f1; done | sort
}

# 1. Through the proxy: cut in the middle of the big literal, then on.
mk init >/dev/null
mk sync --config "$WORK/proxy.ini" >"$WORK/out" 2>"$WORK/err" ||
  { cat "$WORK/out" "$WORK/err" >&2; fail "the run with a cut failed"; }
expect_eq "$(grep -c "^cut after" "$WORK/proxy.log")" 1 "cuts ($(cat "$WORK/proxy.log"))"
[[ -s $WORK/err ]] && fail "a run that went on printed: $(cat "$WORK/err")"
grep -q "^bob: fetched 11 .*deleted 11, errors 0" "$WORK/out" || fail "summary: $(cat "$WORK/out")"
expect_eq "$(grep -c "Login: user=<bob>" "$DOVECOT_LOG")" 2 "logins (the first, and one after the cut)"
expect_eq "$(archived)" "$want" "archived SHA-256 set"
expect_eq "$(mk --json stats | json_field '["messages"]')" 11 "messages in the archive"
expect_eq "$(on_server)" 0 "messages on the server"
mk verify >/dev/null || fail "verify after the run with a cut"

# 2. Straight to Dovecot: nothing left.
mk sync --config "$WORK/direct.ini" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/out" "$WORK/err" >&2; fail "direct sync"; }
grep -q "^bob: fetched 0 " "$WORK/out" || fail "the direct run fetched: $(cat "$WORK/out")"
expect_eq "$(mk --json stats | json_field '["messages"]')" 11 "messages in the archive"
echo "imap_drop: ok"

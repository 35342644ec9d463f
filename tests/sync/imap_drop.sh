#!/usr/bin/env bash
# An IMAP connection lost in the middle of a big literal: `mailkeep sync`
# (delete = after-download) through a proxy that hangs up 1.5 MB into a
# 3 MB message exits 1 with one line on stderr, keeps every message that
# arrived whole and deletes nothing it does not hold; the next run, straight to Dovecot,
# fetches the rest: the archive then holds exactly what the server held
# (SHA-256 sets compared, nothing twice) and the server is empty.
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
python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$DOVECOT_IMAPS_PORT" $((1536 * 1024)) \
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

# 1. Through the proxy: cut in the middle of the big literal.
mk init >/dev/null
expect_status 1 mk sync --config "$WORK/proxy.ini"
grep -q "^cut after" "$WORK/proxy.log" || fail "the proxy never cut: $(cat "$WORK/proxy.log")"
expect_eq "$(wc -l <"$WORK/err")" 1 "lines on stderr ($(cat "$WORK/err"))"
grep -qiE "UID FETCH: .*(eof|connection|reset)" "$WORK/err" || fail "the error does not say the connection ended: $(cat "$WORK/err")"
grep -q "^bob: .*FAILED" "$WORK/out" || fail "no FAILED summary: $(cat "$WORK/out")"
got=$(archived)
[[ -n $got ]] || fail "nothing kept from before the cut"
# Everything kept is whole: each one is the SHA-256 of a message file.
[[ -z $(comm -23 <(echo "$got") <(echo "$want")) ]] || fail "a kept message is not byte-exact"
for i in 1 2 3 4 5; do
  grep -qx "$(sha256sum <"$WORK/mail/$i.eml" | cut -d' ' -f1)" <<<"$got" || fail "small $i (before the cut) not kept"
done
grep -qx "$(sha256sum <"$WORK/mail/big.eml" | cut -d' ' -f1)" <<<"$got" && fail "the cut message was kept"
# Nothing deleted from the folder that was cut. Folders are synced one at a
# time: one synced whole before the cut (Later, when listed first) may have
# been emptied, but only of messages the archive holds.
expect_eq "$(dovecot_count bob INBOX)" 9 "INBOX after the cut (nothing deleted)"
if [[ $(dovecot_count bob Later) -ne 2 ]]; then
  for i in 9 10; do
    grep -qx "$(sha256sum <"$WORK/mail/$i.eml" | cut -d' ' -f1)" <<<"$got" || fail "small $i deleted but not archived"
  done
fi
mk verify >/dev/null || fail "verify after the cut"

# 2. Straight to Dovecot: the rest comes, nothing twice, the server is emptied.
mk sync --config "$WORK/direct.ini" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/out" "$WORK/err" >&2; fail "direct sync"; }
expect_eq "$(archived)" "$want" "archived SHA-256 set"
expect_eq "$(mk --json stats | json_field '["messages"]')" 11 "messages in the archive"
expect_eq "$(on_server)" 0 "messages on the server after the direct run"
mk verify >/dev/null || fail "verify after the direct run"
echo "imap_drop: ok"

#!/usr/bin/env bash
# An APPEND without an answer, against a real Courier-IMAP 5 (no
# LIST-STATUS, no UIDNEXT in its SELECT, LARGER/SMALLER by its file's size):
# `mailkeep migrate` of 3 messages (5 lines each) through cutting_proxy.py,
# which hangs up after N client lines per session.
# - N = 10 cuts each first APPEND of a session inside its literal (Courier
#   stores nothing): the folder's UIDNEXT, marked before (SELECT, then
#   STATUS), has not moved, so it is appended again in the same run: exit
#   0, appended 3. Main could not prove it and skipped all 3 ("unknown").
# - N = 14 cuts right after a whole APPEND (Courier stores it, the answer
#   is lost): UIDNEXT moved, the message is looked for and found: exit 0,
#   3 found after an unconfirmed APPEND. Main's size search missed it.
# Each folder holds each message exactly once afterwards.
source "$(dirname "$0")/../cli/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
source "$(dirname "$0")/../servers/courier.sh"
reason=$(courier_skip_reason) && skip "$reason"
proxy_pid=
trap '[[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null; courier_stop; rm -rf "$WORK"' EXIT
courier_start "$WORK/courier" >/dev/null || fail "courier did not start"
export PW=$COURIER_ALICE_PASSWORD

mkdir "$WORK/mail"
for n in 1 2 3; do
  printf 'From: x@example.test\nSubject: cut %d\nMessage-ID: <cut-%d@example.test>\n\nbody %d\n' "$n" "$n" "$n" \
    >"$WORK/mail/$n.eml"
done

# cut_run N FOLDER: a fresh archive migrated to INBOX.FOLDER through a
# proxy that cuts after N lines; the JSON summary in $WORK/out.
cut_run() {
  rm -rf "$ARCHIVE" "$WORK/proxy.port"
  mk init >/dev/null
  mk import -q --no-index "$WORK/mail"
  courier_mkfolder alice "$2"
  python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$COURIER_IMAP_PORT" "lines:$1" \
    "$WORK/proxy.port" "$WORK/proxy.log" &
  proxy_pid=$!
  for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
  [[ -s $WORK/proxy.port ]] || fail "the proxy did not start"
  printf '[account.c]\nprotocol = imap\nhost = 127.0.0.1\nport = %s\ntls = none\nallow_plaintext = true\ncompress = false\nuser = alice\npassword_env = PW\n' \
    "$(cat "$WORK/proxy.port")" >"$WORK/acc.ini"
  mk --json migrate --no-index --config "$WORK/acc.ini" --to-account c --folder "INBOX.$2" >"$WORK/out" 2>"$WORK/err" ||
    fail "lines:$1: migrate failed: $(cat "$WORK/out" "$WORK/err")"
  kill "$proxy_pid"
  proxy_pid=
  grep -q "^cut after $1 lines" "$WORK/proxy.log" || fail "lines:$1: the proxy cut nothing"
  expect_eq "$(courier_count alice "$2")" 3 "lines:$1: messages in INBOX.$2 (each once)"
}
field() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(','.join(str(d[k]) for k in sys.argv[2:]))" "$WORK/out" "$@"; }

cut_run 10 CutInLiteral
expect_eq "$(field appended already_there recovered unknown failed)" "3,0,0,0,0" "lines:10 (cut inside the literal)"
cut_run 14 CutAfterLiteral
expect_eq "$(field appended already_there recovered unknown failed)" "0,3,3,0,0" "lines:14 (cut after the literal)"
echo "migrate_cut_courier: ok ($(grep -c '^cut after' "$WORK/proxy.log") cuts in all)"

#!/usr/bin/env bash
# Issue 12.7 for migrate: a target server that ends every session after a
# few commands (Gmail and Office 365 do). `mailkeep migrate` appends 12
# archived messages (5 to 27 lines each) to a real Dovecot through
# cutting_proxy.py, which forwards N client lines per connection and then
# hangs up: most cuts fall inside an APPEND's literal (Dovecot gets half a
# message and stores nothing), some between commands. One run must log in
# again as often as needed and finish: exit 0, appended 12, each message on
# the server exactly once and byte for byte (a `sync` of the target into a
# second archive gives back the SHA-256 set of the files imported), and a
# second run appends nothing. Main's migrate stopped at the first cut.
PROTOCOL=imap
source "$(dirname "$0")/lib.sh"
proxy_pid=
trap '[[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null; dovecot_stop; rm -rf "$WORK"' EXIT
export BOB_PW=$DOVECOT_BOB_PASSWORD
lines=40

mkdir "$WORK/mail"
for n in $(seq 1 12); do
  {
    printf 'From: x@example.test\nTo: bob@example.test\nSubject: cut %d\nMessage-ID: <cut-%d@example.test>\n\n' "$n" "$n"
    for ((k = 0; k < 2 * n; k++)); do printf 'line %d of message %d\n' "$k" "$n"; done
  } >"$WORK/mail/$n.eml"
done
want=$(sha256sum "$WORK"/mail/*.eml | cut -d' ' -f1 | sort)
mk import -q --no-index "$WORK/mail"
expect_eq "$(messages)" 12 "messages imported"

python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$DOVECOT_IMAP_PORT" "lines:$lines" \
  "$WORK/proxy.port" "$WORK/proxy.log" &
proxy_pid=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
[[ -s $WORK/proxy.port ]] || fail "the proxy did not start"
account direct bob BOB_PW none allow_plaintext=true compress=false
account dropping bob BOB_PW none allow_plaintext=true compress=false
sed -i "/^\[account.dropping\]/,\$ s/^port = $DOVECOT_IMAP_PORT\$/port = $(cat "$WORK/proxy.port")/" "$cfg"

# 1. Through the proxy: one run, however many sessions it takes.
mk --json migrate --no-index --config "$cfg" --to-account dropping --folder INBOX >"$WORK/out" 2>"$WORK/err" || {
  cat "$WORK/out" "$WORK/err" >&2
  fail "migrate through the dropping proxy failed"
}
field() { json_field "$1" <"$WORK/out"; }
expect_eq "$(field '["appended"]'),$(field '["failed"]'),$(field '["unknown"]'),$(field '["not_attempted"]')" \
  "12,0,0,0" "appended, failed, unknown, not attempted"
cuts=$(grep -c "^cut after $lines lines" "$WORK/proxy.log")
logins=$(grep -c "Login: user=<bob>" "$DOVECOT_LOG")
((cuts >= 3)) || fail "the proxy cut only $cuts sessions: $(cat "$WORK/proxy.log")"
expect_eq "$(dovecot_count bob INBOX)" 12 "messages on the server (nothing twice)"

# 2. Byte for byte: a sync of bob into a second archive gives the files back.
ARCHIVE=$WORK/check init_archive
ARCHIVE=$WORK/check sync_ok direct
ids=$("$MAILKEEP" --archive "$WORK/check" search --format ids '*')
got=$(for id in $ids; do "$MAILKEEP" --archive "$WORK/check" show --raw "$id" | sha256sum | cut -d' ' -f1; done | sort)
expect_eq "$got" "$want" "SHA-256 set of the messages on the server"

# 3. A second run (straight to Dovecot, the same account's places) appends nothing.
sed -i "s/^\[account.dropping\]/[account.dropping-old]/; s/^\[account.direct\]/[account.dropping]/" "$cfg"
mk --json migrate --no-index --config "$cfg" --to-account dropping --folder INBOX >"$WORK/out" 2>"$WORK/err" ||
  fail "second migrate: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(field '["appended"]'),$(field '["already_there"]')" "0,12" "second run: appended, already there"
expect_eq "$(dovecot_count bob INBOX)" 12 "messages on the server after the second run"
echo "migrate_drop: ok ($logins logins, $cuts sessions cut after $lines lines)"

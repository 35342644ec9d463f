#!/usr/bin/env bash
# A server that ends every session right after the login: `mailkeep sync`
# (delete = after-download) logs in again 3 times (ReconnectBudget), then
# fails the account with one line on stderr and exit 1; nothing is
# archived and nothing deleted. The server is a real Dovecot behind a proxy
# that hangs up at the first command after the login (the login method is
# fixed, so the count of lines up to there is known: CAPA, USER, PASS for
# POP3; LOGIN and ENABLE for IMAP, whose greeting and login reply carry the
# capabilities).
#   usage: drop_after_login.sh pop3|imap
PROTOCOL=${1:?usage: drop_after_login.sh pop3|imap}
source "$(dirname "$0")/lib.sh"
proxy_pid=
trap '[[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null; dovecot_stop; rm -rf "$WORK"' EXIT
export BOB_PW=$DOVECOT_BOB_PASSWORD
dovecot_seed bob 3
if [[ $PROTOCOL == pop3 ]]; then
  lines=${LOGIN_LINES:-3} port=$DOVECOT_POP3_PORT extra=()
else
  lines=${LOGIN_LINES:-2} port=$DOVECOT_IMAP_PORT extra=(compress=false)
fi
python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$port" "lines:$lines" \
  "$WORK/proxy.port" "$WORK/proxy.log" &
proxy_pid=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
[[ -s $WORK/proxy.port ]] || fail "the proxy did not start"
account bob bob BOB_PW none allow_plaintext=true auth=user delete=after-download "${extra[@]}"
sed -i "s/^port = $port\$/port = $(cat "$WORK/proxy.port")/" "$cfg"

expect_status 1 mk sync --config "$cfg"
cat "$WORK/out" "$WORK/err"
expect_eq "$(wc -l <"$WORK/err")" 1 "lines on stderr ($(cat "$WORK/err"))"
grep -q "ended the session 4 times in a row without progress (gave up after 3 reconnects)" "$WORK/err" ||
  fail "the error does not say why it gave up: $(cat "$WORK/err")"
grep -q "^bob: .*FAILED" "$WORK/out" || fail "no FAILED summary: $(cat "$WORK/out")"
expect_eq "$(grep -c "^cut after $lines lines" "$WORK/proxy.log")" 4 "sessions cut (1 + 3 reconnects)"
expect_eq "$(grep -c "Login: user=<bob>" "$DOVECOT_LOG")" 4 "logins"
expect_eq "$(dovecot_count bob)" 3 "messages on the server"
expect_eq "$(messages)" 0 "messages in the archive"
echo "drop_after_login $PROTOCOL: ok"

#!/usr/bin/env bash
# Servers that end every session after a few commands (Gmail and Office 365
# do): `mailkeep sync` with delete = after-download, through a proxy that
# hangs up when the client sends its (N+1)-th line on a connection, in
# front of a real Dovecot (plain port, no compression, so the proxy can
# count lines). One run must log in again as often as needed and finish:
# exit 0, the archive holds exactly the messages the server held (SHA-256
# sets equal, nothing twice), the server is empty, and a second run straight
# to Dovecot finds nothing to fetch.
# Then a server that ends every session right after the login (a second
# proxy hangs up at the first command after it; the login method is fixed,
# so the lines up to there are known: CAPA, USER, PASS for POP3; LOGIN and
# ENABLE for IMAP, whose greeting and login reply carry the capabilities):
# 3 reconnects, then the account fails with one line on stderr and exit 1,
# nothing archived and nothing deleted.
#   usage: drop_after_commands.sh pop3|imap
#   pop3: 12 messages in INBOX, N = 9 (login, UIDL, LIST, a few RETR or DELE
#         per session: deletions must be split into sessions, each with its
#         own QUIT).
#   imap: 8 messages in INBOX and 4 in Later, N = 6.
PROTOCOL=${1:?usage: drop_after_commands.sh pop3|imap}
source "$(dirname "$0")/lib.sh"
proxy_pids=()
trap 'for p in "${proxy_pids[@]}"; do kill "$p" 2>/dev/null; done; dovecot_stop; rm -rf "$WORK"' EXIT
export BOB_PW=$DOVECOT_BOB_PASSWORD ALICE_PW=$DOVECOT_ALICE_PASSWORD

mkdir "$WORK/mail"
n=0
deliver() {  # deliver FOLDER COUNT: INBOX straight into the Maildir, others with doveadm
  local i files=()
  for ((i = 0; i < $2; i++)); do
    n=$((n + 1))
    printf 'From: x@example.test\nTo: bob@example.test\nSubject: drop %d\nMessage-ID: <drop-%d@example.test>\n\nbody %d\n' \
      "$n" "$n" "$n" >"$WORK/mail/$n.eml"
    files+=("$WORK/mail/$n.eml")
  done
  if [[ $1 == INBOX ]]; then
    dovecot_deliver bob "${files[@]}"
  else
    for f in "${files[@]}"; do doveadm_ save -u bob -m "$1" <"$f"; done
  fi
}
if [[ $PROTOCOL == pop3 ]]; then
  deliver INBOX 12
  lines=9
  on_server() { dovecot_count bob INBOX; }
  port=$DOVECOT_POP3_PORT
else
  doveadm_ mailbox create -u bob Later
  deliver INBOX 8
  deliver Later 4
  lines=6
  on_server() { echo $(($(dovecot_count bob INBOX) + $(dovecot_count bob Later))); }
  port=$DOVECOT_IMAP_PORT
fi
expect_eq "$(on_server)" 12 "messages on the server"
want=$(sha256sum "$WORK"/mail/*.eml | cut -d' ' -f1 | sort)

proxy() {  # proxy NAME LINES: a cutting proxy in front of $port, its port in $WORK/NAME.port
  python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$port" "lines:$2" \
    "$WORK/$1.port" "$WORK/$1.log" &
  proxy_pids+=($!)
  for ((i = 0; i < 100; i++)); do [[ -s $WORK/$1.port ]] && break; sleep 0.05; done
  [[ -s $WORK/$1.port ]] || fail "the proxy $1 did not start"
}
proxy proxy "$lines"

extra=(allow_plaintext=true delete=after-download)
[[ $PROTOCOL == imap ]] && extra+=(compress=false)
proxied_account() {  # proxied_account PROXY NAME USER PASSWORD_VAR [KEY=VALUE...]: through that proxy
  local proxy=$1 all=$cfg
  shift
  cfg=$WORK/one.ini
  : >"$cfg"
  account "$1" "$2" "$3" none "${@:4}"
  sed "s/^port = $port\$/port = $(cat "$WORK/$proxy.port")/" "$cfg" >>"$all"
  cfg=$all
}
proxied_account proxy dropping bob BOB_PW "${extra[@]}"
account direct bob BOB_PW none "${extra[@]}"
archived() {  # SHA-256 of every archived message, sorted
  local id
  for id in $(mk search --format ids '*'); do mk show --raw "$id" | sha256sum | cut -d' ' -f1; done | sort
}

# 1. Through the proxy: one run, however many sessions it takes.
sync_ok dropping
logins=$(grep -c "Login: user=<bob>" "$DOVECOT_LOG")
cuts=$(grep -c "^cut after $lines lines" "$WORK/proxy.log")
((cuts >= 2)) || fail "the proxy cut only $cuts sessions: $(cat "$WORK/proxy.log")"
((logins >= 4)) || fail "only $logins logins"
expect_eq "$(fetched dropping)" 12 "fetched through the dropping proxy"
expect_eq "$(deleted dropping)" 12 "deleted through the dropping proxy"
expect_eq "$(stored_before dropping)" 0 "messages fetched twice"
[[ -s $WORK/err ]] && fail "a successful run printed: $(cat "$WORK/err")"
expect_eq "$(archived)" "$want" "archived SHA-256 set"
expect_eq "$(messages)" 12 "messages in the archive"
expect_eq "$(on_server)" 0 "messages on the server"
mk verify >/dev/null || fail "verify"

# 2. Straight to Dovecot: nothing left to fetch.
sync_ok direct
expect_eq "$(fetched direct)" 0 "fetched by the direct run"

# 3. Every session ends right after the login.
dovecot_seed alice 3
login_lines=2
[[ $PROTOCOL == pop3 ]] && login_lines=3
proxy login "$login_lines"
proxied_account login cut_at_login alice ALICE_PW auth=user "${extra[@]}"
expect_status 1 mk sync --config "$cfg" cut_at_login
expect_eq "$(wc -l <"$WORK/err")" 1 "lines on stderr ($(cat "$WORK/err"))"
grep -q "ended the session 4 times in a row without progress (gave up after 3 reconnects)" "$WORK/err" ||
  fail "the error does not say why it gave up: $(cat "$WORK/err")"
grep -q "^cut_at_login: .*FAILED" "$WORK/out" || fail "no FAILED summary: $(cat "$WORK/out")"
expect_eq "$(grep -c "^cut after $login_lines lines" "$WORK/login.log")" 4 "sessions cut (1 + 3 reconnects)"
expect_eq "$(grep -c "Login: user=<alice>" "$DOVECOT_LOG")" 4 "logins"
expect_eq "$(dovecot_count alice)" 3 "messages on the server"
expect_eq "$(messages)" 12 "messages in the archive"
echo "drop_after_commands $PROTOCOL: ok ($logins sessions, $cuts of them cut; gave up after the login drops)"

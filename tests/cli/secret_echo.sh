#!/usr/bin/env bash
# Servers that echo the password: it never reaches mailkeep's error lines,
# --json output or the catalog (the intents journal's replies), in plain or base64 form.
# Tiny scripted servers in Python play a POP3 server answering PASS with
# "-ERR ... <password>" and an SMTP relay whose replies to RCPT and to the
# end of data quote the password and the AUTH PLAIN blob.
source "$(dirname "$0")/lib.sh"
[[ -x /usr/bin/python3 ]] || skip "/usr/bin/python3 is not installed"
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
PW='Echo-Me-9'
PLAIN=$(printf '\0alice\0%s' "$PW" | base64 -w0)

cat >"$WORK/echo_server.py" <<'EOF'
import socket, sys
kind, portfile, pw, plain = sys.argv[1:5]
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(5)
open(portfile + ".tmp", "w").write(str(srv.getsockname()[1]))
import os; os.rename(portfile + ".tmp", portfile)
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rb")
    send = lambda s: conn.sendall(s.encode() + b"\r\n")
    if kind == "pop3":
        send("+OK ready")
        for line in f:
            cmd = line.decode(errors="replace").strip()
            if cmd == "CAPA": send("+OK\r\nUSER\r\nUIDL\r\n.")
            elif cmd.startswith("USER"): send("+OK")
            elif cmd.startswith("PASS"): send("-ERR [AUTH] wrong password " + cmd[5:] + " for alice"); break
            else: send("-ERR what"); break
    else:
        send("220 echo ESMTP")
        for line in f:
            cmd = line.decode(errors="replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"): send("250-echo\r\n250 AUTH PLAIN")
            elif up.startswith("AUTH"): send("235 2.7.0 welcome " + cmd.split()[-1])
            elif up.startswith("MAIL"): send("250 2.1.0 ok")
            elif up.startswith("RCPT") and "refused" in cmd: send("550 5.1.1 no such user; you sent " + plain + " and " + pw)
            elif up.startswith("RCPT"): send("250 2.1.5 ok")
            elif up == "DATA":
                send("354 go")
                for body in f:
                    if body in (b".\r\n", b".\n"): break
                send("250 2.0.0 queued for alice/" + pw + " " + plain)
            elif up == "QUIT": send("221 bye"); break
            else: send("250 ok")
    conn.close()
EOF
start_server() {
  /usr/bin/python3 "$WORK/echo_server.py" "$1" "$WORK/$1.port" "$PW" "$PLAIN" >"$WORK/$1.log" 2>&1 &
  servers+=($!)
  for ((i = 0; i < 100; i++)); do [[ -s "$WORK/$1.port" ]] && break; sleep 0.05; done
  [[ -s "$WORK/$1.port" ]] || { cat "$WORK/$1.log" >&2; fail "the $1 echo server did not start"; }
}
start_server pop3
start_server smtp
cat >"$WORK/config.ini" <<EOF
archive = $ARCHIVE

[account.echo]
protocol = pop3
host = 127.0.0.1
port = $(cat "$WORK/pop3.port")
tls = none
allow_plaintext = true
auth = user
user = alice
password_env = ECHO_PW

[relay.echo]
host = 127.0.0.1
port = $(cat "$WORK/smtp.port")
tls = none
allow_plaintext = true
auth = plain
user = alice
password_env = ECHO_PW
EOF
export ECHO_PW=$PW
mk init >/dev/null
printf 'From: a@example.test\nSubject: one\nMessage-ID: <one@example.test>\n\nbody\n' >"$WORK/one.eml"
mk -q import "$WORK/one.eml"
no_secret() {  # FILE WHAT
  if grep -qF -e "$PW" -e "${PLAIN%%=*}" "$1"; then
    cat "$1" >&2
    fail "$2 holds the password"
  fi
}

# POP3: the error line and --json.
expect_status 1 mk --config "$WORK/config.ini" sync echo
no_secret "$WORK/err" "sync's error line"
grep -q 'wrong password \*\*\*' "$WORK/err" || fail "sync error line: $(cat "$WORK/err")"
expect_status 1 mk --config "$WORK/config.ini" --json sync echo
no_secret "$WORK/out" "sync --json"
no_secret "$WORK/err" "sync --json's stderr"

# SMTP: --json output, the text output and the replies in the catalog's intents journal.
expect_status 1 mk --config "$WORK/config.ini" --json resend 1 --relay echo --to bob@example.test \
  --to refused@example.test
no_secret "$WORK/out" "resend --json"
no_secret "$WORK/err" "resend --json's stderr"
grep -q '\*\*\*' "$WORK/out" || fail "resend --json shows no masked reply: $(cat "$WORK/out")"
expect_status 1 mk --config "$WORK/config.ini" resend 1 --relay echo --to carol@example.test \
  --to refused@example.test
no_secret "$WORK/out" "resend's output"
no_secret "$WORK/err" "resend's error lines"
/usr/bin/python3 - "$ARCHIVE/catalog.sqlite" "$PW" "${PLAIN%%=*}" <<'EOF' || fail "a reply in the intents journal holds the password"
import sqlite3, sys
db, pw, plain = sys.argv[1:4]
rows = [r[0] for r in sqlite3.connect(db).execute("SELECT reply FROM intents WHERE kind = 1")]  # kind 1: a send
assert len(rows) == 4, rows
assert all(pw not in r and plain not in r for r in rows), rows
assert sum("***" in r for r in rows) == 4, rows
EOF
echo "ok"

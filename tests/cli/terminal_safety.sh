#!/usr/bin/env bash
# Text from outside never reaches the terminal raw: file names in import's
# error lines, account names from the accounts file, a server's reply in
# sync's error line, subjects, senders and Message-IDs in search/thread
# output. ESC, BEL, CR/LF (forged lines), DEL
# and the C1 CSI are shown as U+FFFD (store/util/terminal.h).
source "$(dirname "$0")/lib.sh"
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
mk init >/dev/null

# No control byte (but \n and \t) and no C1 CSI in FILE.
clean() {
  if LC_ALL=C grep -q -P '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$1"; then
    od -c "$1" | head -20 >&2
    fail "$2 printed a control character"
  fi
}

# 1. File names in import's failure lines (empty files fail, one line each).
mkdir -p "$WORK/in"
: >"$WORK/in/"$'evil\e]0;pwned\a.eml'
: >"$WORK/in/"$'two\nmailkeep: forged line.eml'
printf 'Subject: ok\n\nfine\n' >"$WORK/in/ok.eml"
expect_status 1 mk import "$WORK/in"
clean "$WORK/err" "import's error lines"
expect_eq "$(wc -l <"$WORK/err")" 2 "import error lines"
grep -q '^mailkeep: forged' "$WORK/err" && fail "a file name forged an error line"
grep -q 'evil.*pwned.*\.eml: empty file' "$WORK/err" || fail "file name lost: $(cat "$WORK/err")"

# 2. A message whose subject, sender and Message-ID carry controls.
{
  printf 'From: =?UTF-8?Q?Eve=1B[31m_Red?= <eve@example.test>\n'
  printf 'Subject: =?UTF-8?Q?Hi=0D=0Amailkeep:_forged=C2=9B2J=07?=\n'
  printf 'Message-ID: <ctl\x1b[2J@example.test>\n'
  printf 'Date: Sat, 05 Dec 2026 06:00:00 +0000\n\nbody\n'
} >"$WORK/ctl.eml"
mk -q import "$WORK/ctl.eml"
mk search 'subject:hi' >"$WORK/search.txt"
clean "$WORK/search.txt" "search"
grep -q 'Hi.*forged' "$WORK/search.txt" || fail "search lost the subject: $(cat "$WORK/search.txt")"
mk search --format mids 'subject:hi' >"$WORK/mids.txt"
clean "$WORK/mids.txt" "search --format mids"
id=$(mk search --format ids 'subject:hi')
mk thread "$id" >"$WORK/thread.txt"
clean "$WORK/thread.txt" "thread"
grep -q 'Eve.*Red' "$WORK/thread.txt" || fail "thread lost the sender: $(cat "$WORK/thread.txt")"

# 3. An account name from the accounts file with an escape sequence and a
#    BEL (and tls_verify = false, whose warning names the account): one
#    error line, naming it without the raw bytes.
esc=$'\e' bel=$'\a'
printf '[account.red%s[31mname%s]\nprotocol = pop3\nhost = 127.0.0.1\ntls_verify = false\nuser = alice\npassword_env = CTL_PW\n' \
  "$esc" "$bel" >"$WORK/names.ini"
expect_status 2 mk --config "$WORK/names.ini" sync
clean "$WORK/err" "the accounts file's error line"
expect_eq "$(wc -l <"$WORK/err")" 1 "error lines for a bad account name"
grep -q "bad name 'red.*31mname.*'" "$WORK/err" || fail "the bad name is not named: $(cat "$WORK/err")"

# 4. A server's reply in sync's error line.
[[ -x /usr/bin/python3 ]] || skip "/usr/bin/python3 is not installed (parts 1-3 passed)"
cat >"$WORK/pop3.py" <<'EOF'
import os, socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
open(sys.argv[1] + ".tmp", "w").write(str(srv.getsockname()[1])); os.rename(sys.argv[1] + ".tmp", sys.argv[1])
conn, _ = srv.accept()
conn.sendall(b"-ERR \xc2\x9b2J\x1b]0;owned\x07 go away\r\n")
conn.close()
EOF
/usr/bin/python3 "$WORK/pop3.py" "$WORK/port" >"$WORK/pop3.log" 2>&1 &
servers+=($!)
for ((i = 0; i < 100; i++)); do [[ -s "$WORK/port" ]] && break; sleep 0.05; done
[[ -s "$WORK/port" ]] || fail "the POP3 server did not start"
cat >"$WORK/config.ini" <<EOF
archive = $ARCHIVE
[account.ctl]
protocol = pop3
host = 127.0.0.1
port = $(cat "$WORK/port")
tls = none
allow_plaintext = true
user = alice
password_env = CTL_PW
EOF
export CTL_PW=pw
expect_status 1 mk --config "$WORK/config.ini" sync ctl
clean "$WORK/err" "sync's error line"
grep -q 'go away' "$WORK/err" || fail "sync lost the server's text: $(cat "$WORK/err")"
echo "ok"

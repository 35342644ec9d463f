#!/usr/bin/env bash
# show prints what a message says as text: an encoded CR/LF cannot forge a
# header line, and ESC, CSI or DEL never reach the terminal; the body
# keeps its newlines and tabs. --json keeps the decoded value (escaped).
source "$(dirname "$0")/lib.sh"
mk init >/dev/null
{
  printf 'From: Alice <alice@example.com>\r\n'
  printf 'Subject: =?UTF-8?Q?Hello=0D=0AFrom:_forged@evil.example=1B[31m_red=C2=9B2J=7F_end?=\r\n'
  printf 'Message-ID: <ctl@example.com>\r\n'
  printf 'MIME-Version: 1.0\r\n'
  printf 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
  printf -- '--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
  printf 'line one=09tabbed\r\nbad =1B[2J escape\r\nline three\r\n'
  printf -- '--b\r\nContent-Type: application/pdf\r\n'
  printf 'Content-Disposition: attachment; filename="=?UTF-8?Q?inv=0Aoice=1B]0;x=07.pdf?="\r\n'
  printf 'Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n'
} >"$WORK/ctl.eml"
mk -q import "$WORK/ctl.eml"
mk show 1 >"$WORK/show.txt"

expect_eq "$(grep -c '^Subject:' "$WORK/show.txt")" 1 "Subject lines"
expect_eq "$(grep -c '^From:' "$WORK/show.txt")" 1 "From lines (one forged by the subject?)"
grep -q '^Subject: .*Hello.*forged@evil.example.* end' "$WORK/show.txt" || fail "subject text lost: $(grep '^Subject' "$WORK/show.txt")"
grep -q $'\x1b' "$WORK/show.txt" && fail "show printed an ESC byte"
grep -q $'\x07' "$WORK/show.txt" && fail "show printed a BEL byte"
grep -q $'\x7f' "$WORK/show.txt" && fail "show printed a DEL byte"
LC_ALL=C grep -q $'\xc2\x9b' "$WORK/show.txt" && fail "show printed a C1 CSI"
LC_ALL=C grep -q $'\r' "$WORK/show.txt" && fail "show printed a CR"
expect_eq "$(grep -c '^Attachment:' "$WORK/show.txt")" 1 "Attachment lines"
grep -q '^Attachment: inv.*oice.*\.pdf (application/pdf' "$WORK/show.txt" || fail "attachment name lost: $(grep -A1 '^Attachment' "$WORK/show.txt")"
# The body keeps its lines and tabs.
grep -q $'^line one\ttabbed$' "$WORK/show.txt" || fail "body lost its tab or line"
grep -q '^bad .* escape$' "$WORK/show.txt" || fail "body line with an escape lost"
grep -q '^line three$' "$WORK/show.txt" || fail "body lost a line"

# JSON keeps the decoded subject, escaped.
subject=$(mk --json show 1 | python3 -c 'import json,sys; print(repr(json.load(sys.stdin)["subject"]))')
[[ $subject == *'\r\n'* && $subject == *'\x1b'* ]] || fail "json subject changed: $subject"
echo "ok"

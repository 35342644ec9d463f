#!/usr/bin/env bash
# Checks tests/servers/opensmtpd.sh used as a sourced library: a private
# OpenSMTPD starts from its .deb; EHLO offers neither STARTTLS nor AUTH;
# with OPENSMTPD_MAX_MAILS=3 a session takes three messages and the fourth
# MAIL gets 452 4.5.3, while a new session takes more; an unknown recipient
# is refused (5xx); bob's Maildir holds each message once; stop leaves no process.
# Sends with Python's smtplib (/usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=opensmtpd.sh
source "$here/opensmtpd.sh"
if reason=$(opensmtpd_skip_reason); then echo "SKIP: $reason"; exit 77; fi
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
fail() { echo "FAIL: $*" >&2; [[ -n "${OPENSMTPD_LOG:-}" ]] && tail -n 20 "$OPENSMTPD_LOG" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-opensmtpd-harness.XXXXXX)
trap 'opensmtpd_stop "$WORK/smtpd" || true; rm -rf "$WORK"' EXIT
SECONDS=0

t0=$(date +%s%N)
OPENSMTPD_MAX_MAILS=3 opensmtpd_start "$WORK/smtpd"
t1=$(date +%s%N)
echo "started: OpenSMTPD $(((t1 - t0) / 1000000)) ms"
for v in OPENSMTPD_DIR OPENSMTPD_PID OPENSMTPD_PORT OPENSMTPD_MAIL OPENSMTPD_LOG; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done

"$PY" - "$OPENSMTPD_PORT" <<'EOF' || fail "SMTP session"
import smtplib, sys
port = int(sys.argv[1])
msg = lambda n: (b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: opensmtpd harness %d\r\n"
                 b"Message-ID: <opensmtpd-harness-%d@example.test>\r\n\r\nhello\r\n" % (n, n))
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=30) as s:
    s.ehlo()
    assert not s.has_extn("starttls") and not s.has_extn("auth"), s.esmtp_features
    for n in (1, 2, 3):
        assert s.sendmail("alice@example.test", ["bob@example.test"], msg(n)) == {}
    code, text = s.mail("alice@example.test")
    assert (code, text[:5]) == (452, b"4.5.3"), (code, text)
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=30) as s:
    s.ehlo()
    assert s.sendmail("alice@example.test", ["bob@example.test"], msg(4)) == {}
    s.mail("alice@example.test")
    code, text = s.rcpt("nosuch@example.test")
    assert code // 100 == 5, (code, text)
print("smtp ok")
EOF

opensmtpd_wait_count bob 4 60 || fail "delivery to bob"
for n in 1 2 3 4; do
  c=$(grep -l "^Message-ID: <opensmtpd-harness-$n@example.test>" "$OPENSMTPD_MAIL"/bob/Maildir/new/* | wc -l)
  [[ $c == 1 ]] || fail "message $n delivered $c times"
done
[[ $(opensmtpd_count alice) == 0 ]] || fail "alice got mail"

pid=$OPENSMTPD_PID
ns=$(cat "$OPENSMTPD_DIR/proot/ns")
t2=$(date +%s%N)
opensmtpd_stop
t3=$(date +%s%N)
echo "stopped: OpenSMTPD $(((t3 - t2) / 1000000)) ms"
[[ ! -e /proc/$pid ]] || [[ $(awk '{print $3}' "/proc/$pid/stat") == Z ]] || fail "smtpd $pid still runs"
[[ -z $(_private_root_members "$ns") ]] || fail "processes left in the namespace"
echo "opensmtpd harness ok (${SECONDS}s)"

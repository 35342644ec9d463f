#!/usr/bin/env bash
# Checks tests/servers/exim.sh used as a sourced library: a private Exim
# starts from its .debs; EHLO offers STARTTLS, DSN and no AUTH before TLS,
# AUTH PLAIN and LOGIN after it; the certificate verifies against EXIM_CA;
# one message with AUTH PLAIN to bob and the refused recipient: refuse gets
# 550 at RCPT, defer 451, an unknown user 550, and bob's Maildir holds the
# data sent (CRLF made LF) once; implicit TLS with AUTH LOGIN; a wrong
# password gets 535; with EXIM_MAX_PER_CONNECTION=2 the third MAIL of a
# session is refused and a new session is not; stop leaves no process.
# Sends with Python's smtplib (/usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=exim.sh
source "$here/exim.sh"
if reason=$(exim_skip_reason); then echo "SKIP: $reason"; exit 77; fi
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
fail() { echo "FAIL: $*" >&2; [[ -n "${EXIM_LOG:-}" ]] && tail -n 20 "$EXIM_LOG" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-exim-harness.XXXXXX)
trap 'exim_stop "$WORK/exim" || true; rm -rf "$WORK"' EXIT
SECONDS=0

t0=$(date +%s%N)
EXIM_MAX_PER_CONNECTION=2 exim_start "$WORK/exim"
t1=$(date +%s%N)
echo "started: Exim $(((t1 - t0) / 1000000)) ms"
for v in EXIM_DIR EXIM_PID EXIM_PORT EXIM_TLS_PORT EXIM_CA EXIM_MAIL EXIM_LOG EXIM_REFUSE EXIM_DEFER; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done
[[ ! -e /etc/exim4/exim4.conf ]] || [[ $(readlink -f /etc/exim4/exim4.conf) != "$EXIM_DIR"* ]] || fail "host /etc touched"
grep -q "daemon started" "$EXIM_LOG" || fail "no start line in $EXIM_LOG"

"$PY" - "$EXIM_PORT" "$EXIM_TLS_PORT" "$EXIM_CA" "$EXIM_REFUSE" "$EXIM_DEFER" "$WORK/sent.eml" <<'EOF' || fail "SMTP session"
import smtplib, ssl, sys
port, tls_port, ca, refuse, defer, sent = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(cafile=ca)
msg = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
       b"Subject: exim harness\r\nMessage-ID: <exim-harness-1@example.test>\r\n\r\n"
       b"Hello Bob.\r\n.a line starting with a dot\r\n")
open(sent, "wb").write(msg)
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=30) as s:
    s.ehlo()
    for kw in ("starttls", "dsn", "pipelining", "size", "8bitmime"):
        assert s.has_extn(kw), "no %s before TLS: %r" % (kw, s.esmtp_features)
    assert not s.has_extn("auth"), "AUTH offered before TLS"
    s.starttls(context=ctx)  # checks the chain and the IP SAN 127.0.0.1
    s.ehlo()
    auth = s.esmtp_features.get("auth", "").split()
    assert "PLAIN" in auth and "LOGIN" in auth, s.esmtp_features
    s.user, s.password = "alice", "alicepw"
    code, _ = s.auth("PLAIN", s.auth_plain)
    assert code == 235, code
    refused = s.sendmail("alice@example.test", ["bob@example.test", refuse], msg)
    assert list(refused) == [refuse] and refused[refuse][0] == 550, refused
    # Message 2 of 2 in this session: refused (defer, unknown) but counted.
    s.mail("alice@example.test")
    for rcpt, want in ((defer, 451), ("nosuch@example.test", 550), ("x@elsewhere.test", 550)):
        code, text = s.rcpt(rcpt)
        assert code == want, (rcpt, code, text)
    s.rset()
    # The session limit (EXIM_MAX_PER_CONNECTION=2): what the third MAIL gets.
    code, text = s.mail("alice@example.test")
    print("Exim's answer to MAIL number 3 with smtp_accept_max_per_connection = 2: %d %s" % (code, text.decode()))
    assert code // 100 == 4, (code, text)
# Implicit TLS, AUTH LOGIN as bob; a new session is not limited.
with smtplib.SMTP_SSL("127.0.0.1", tls_port, context=ssl.create_default_context(cafile=ca), timeout=30) as s:
    s.ehlo()
    try:
        s.login("bob", "wrong")
        raise SystemExit("a wrong password logs in")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e.smtp_code
    s.user, s.password = "bob", "bobpw"
    code, _ = s.auth("LOGIN", s.auth_login)
    assert code == 235, code
    assert s.mail("bob@example.test")[0] == 250
    s.rset()
print("smtp ok")
EOF

# Delivered into bob's Maildir once, the data sent with CRLF made LF.
exim_wait_count bob 1 30 || fail "delivery to bob"
[[ $(exim_count alice) == 0 ]] || fail "alice got mail"
got=$(find "$EXIM_MAIL/bob/Maildir/new" -type f)
tr -d '\r' <"$WORK/sent.eml" | cmp - "$got" || fail "delivered bytes differ from the data sent"
grep -q "A=plain:alice" "$EXIM_LOG" || fail "no AUTH in the log"
grep -q "X=TLS1" "$EXIM_LOG" || fail "no TLS in the log"

pid=$EXIM_PID
t2=$(date +%s%N)
exim_stop
t3=$(date +%s%N)
echo "stopped: Exim $(((t3 - t2) / 1000000)) ms"
[[ ! -e /proc/$pid ]] || [[ $(awk '{print $3}' "/proc/$pid/stat") == Z ]] || fail "exim $pid still runs"
echo "exim harness ok (${SECONDS}s)"

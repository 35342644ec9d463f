#!/usr/bin/env bash
# Checks tests/servers/postfix.sh used as a sourced library: Dovecot + a
# private Postfix start; one message sent with STARTTLS + AUTH as alice is
# delivered over LMTP into bob's INBOX; the refused, deferred and unknown
# recipients get their codes at RCPT; implicit TLS works; AUTH is not offered
# before TLS; stop leaves no process behind. Sends with Python's smtplib
# (/usr/bin/python3), so swaks is not needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=postfix.sh
source "$here/postfix.sh"
if reason=$(postfix_skip_reason); then echo "SKIP: $reason"; exit 77; fi
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
fail() { echo "FAIL: $*" >&2; [[ -n "${POSTFIX_LOG:-}" ]] && tail -n 20 "$POSTFIX_LOG" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-postfix-harness.XXXXXX)
trap 'postfix_stop "$WORK/postfix" || true; dovecot_stop "$WORK/dovecot" || true; rm -rf "$WORK"' EXIT

t0=$(date +%s%N)
dovecot_start "$WORK/dovecot"
t1=$(date +%s%N)
postfix_access later@example.test "451 4.3.0 come back later"
postfix_start "$WORK/postfix"
t2=$(date +%s%N)
echo "started: Dovecot $(((t1 - t0) / 1000000)) ms, Postfix $(((t2 - t1) / 1000000)) ms"
for v in POSTFIX_DIR POSTFIX_CONF_DIR POSTFIX_LOG POSTFIX_PID POSTFIX_PORT POSTFIX_SMTPS_PORT POSTFIX_CA \
         POSTFIX_REFUSE POSTFIX_DEFER DOVECOT_LMTP_PORT DOVECOT_AUTH_SOCKET; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done
[[ "$POSTFIX_PORT" != 25 ]] || fail "the private instance must not use port 25"
# The log is written by postlogd, a moment after the fact.
for ((i = 0; i < 100; i++)); do grep -q "daemon started" "$POSTFIX_LOG" && break; sleep 0.05; done
grep -q "daemon started" "$POSTFIX_LOG" || fail "no start line in $POSTFIX_LOG"

# One message, STARTTLS (certificate checked against the test CA) and AUTH PLAIN as alice, to bob and to the refused recipient;
# the deferred, the access-map and the unknown recipients answer at RCPT.
"$PY" - "$POSTFIX_PORT" "$POSTFIX_SMTPS_PORT" "$POSTFIX_CA" "$POSTFIX_REFUSE" "$POSTFIX_DEFER" <<'EOF' || fail "SMTP session"
import smtplib, ssl, sys
port, smtps, ca, refuse, defer = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
msg = (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\n"
       b"Subject: postfix harness round trip\r\nMessage-ID: <harness-1@example.test>\r\n\r\n"
       b"Hello Bob.\r\n.a line starting with a dot\r\n")
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=30) as s:
    s.ehlo()
    assert s.has_extn("starttls"), "no STARTTLS"
    assert not s.has_extn("auth"), "AUTH offered before TLS"
    s.starttls(context=ctx)  # checks the chain and the IP SAN 127.0.0.1
    s.ehlo()
    assert "PLAIN" in s.esmtp_features.get("auth", ""), s.esmtp_features
    s.login("alice", "alicepw")
    refused = s.sendmail("alice@example.test", ["bob@example.test", refuse], msg)
    assert list(refused) == [refuse] and refused[refuse][0] == 550, refused
    for rcpt, want in ((defer, 450), ("later@example.test", 451), ("nosuch@example.test", 550)):
        s.rset()
        s.mail("alice@example.test")
        code, text = s.rcpt(rcpt)
        assert code == want, (rcpt, code, text)
# Implicit TLS, AUTH LOGIN as bob.
with smtplib.SMTP_SSL("127.0.0.1", smtps, context=ssl.create_default_context(cafile=ca), timeout=30) as s:
    s.ehlo()
    s.login("bob", "bobpw")
    code, _ = s.noop()
    assert code == 250
print("smtp ok")
EOF

# Delivered over LMTP into bob's INBOX (visible within ~100 ms; allow 10 s).
for ((i = 0; i < 200; i++)); do
  [[ $(dovecot_count bob) == 1 ]] && break
  sleep 0.05
done
[[ $(dovecot_count bob) == 1 ]] || fail "bob has $(dovecot_count bob) messages, expected 1"
doveadm -c "$DOVECOT_CONF" fetch -u bob 'hdr' mailbox INBOX | grep -q '^Subject: postfix harness round trip' ||
  fail "the delivered message has another subject"
for ((i = 0; i < 100; i++)); do grep -q 'status=sent' "$POSTFIX_LOG" && break; sleep 0.05; done
grep -q 'status=sent' "$POSTFIX_LOG" || fail "no delivery in the log"
[[ $(dovecot_count alice) == 0 ]] || fail "alice got mail"

# Stop: the master, its children and the start-fg process all end.
master=$(tr -dc 0-9 <"$POSTFIX_DIR/queue/pid/master.pid")
[[ -n "$master" ]] || fail "no master pid"
group=$(pgrep -g "$master" | tr '\n' ' ')
[[ -n "$group" ]] || fail "no Postfix processes in group $master"
start_pid=$POSTFIX_PID
t3=$(date +%s%N)
postfix_stop
t4=$(date +%s%N)
dovecot_pid=$DOVECOT_PID
dovecot_stop
t5=$(date +%s%N)
echo "stopped: Postfix $(((t4 - t3) / 1000000)) ms, Dovecot $(((t5 - t4) / 1000000)) ms"
for p in $start_pid $dovecot_pid; do
  [[ ! -e /proc/$p ]] || fail "process $p still there"
done
# Postfix's daemons re-parent to PID 1 when the master ends; they may stay
# zombies for a moment there, but none may still run.
for p in $group; do
  state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || true)
  [[ -z "$state" || "$state" == Z ]] || fail "Postfix process $p still running ($state)"
done
echo "postfix harness ok"

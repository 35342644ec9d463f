# mailkeep resend, the real round trip: archived messages go out through a
# [relay.NAME] that is a private Postfix (tests/servers/postfix.sh:
# STARTTLS, AUTH as alice through Dovecot's SASL, certificate checked
# against the Dovecot test CA) to bob@example.test; Postfix delivers over
# LMTP into Dovecot; `mailkeep sync` pulls bob's INBOX over IMAP into a
# second archive, and each message there must carry the original's bytes.
# Also: a recipient Postfix refuses (550) fails while bob still gets the
# message; a message over Postfix's SIZE limit fails before MAIL; DSN
# NOTIFY=SUCCESS brings a real delivery report back to the sender's mailbox.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../servers/postfix.sh"
reason=$(postfix_skip_reason) && skip "$reason"

chmod 755 "$WORK"  # Dovecot's and Postfix's users must reach their directories inside
on_exit dovecot_stop
on_exit postfix_stop
dovecot_start "$WORK/dovecot" || fail "Dovecot did not start"
postfix_start "$WORK/postfix" || fail "Postfix did not start"

cat >"$WORK/config.ini" <<EOF
hello_name = client.mailkeep.test

[relay.postfix]
host = $POSTFIX_HOST
port = $POSTFIX_PORT
tls = starttls
user = alice
password_env = ALICE_PW
ca_file = $POSTFIX_CA

[account.bob]
protocol = imap
host = $DOVECOT_HOST
port = $DOVECOT_IMAP_PORT
tls = starttls
user = bob
password_env = BOB_PW
ca_file = $DOVECOT_CA
folders = INBOX
timeout = 30
EOF
export ALICE_PW=$DOVECOT_ALICE_PASSWORD BOB_PW=$DOVECOT_BOB_PASSWORD
rs() { mk --config "$WORK/config.ini" "$@"; }
ARCHIVE2=$WORK/archive2
mk2() { "$MAILKEEP" --archive "$ARCHIVE2" "$@"; }
doveadm_() { doveadm -c "$DOVECOT_CONF" "$@"; }
# count_is USER N: Dovecot has N messages in USER's INBOX.
count_is() { [[ "$(dovecot_count "$1")" == "$2" ]]; }

make_messages
ids=$(mk search '*' --format ids | sort -n)
expect_eq "$(echo "$ids" | wc -l)" 7 "messages imported"
large=$(mk search 'subject:"resend test 7"' --format ids)
[[ -n "$large" ]] || fail "no large message"
max_size=$(postconf -c "$POSTFIX_CONF_DIR" -h message_size_limit)

# 1. Every message to bob and to the address Postfix refuses at RCPT.
expect_status 1 rs --json resend '*' --relay postfix --to bob@example.test --to "$POSTFIX_REFUSE"
cp "$WORK/out" "$WORK/send.json"
/usr/bin/python3 - "$WORK/send.json" "$POSTFIX_REFUSE" "$large" "$max_size" <<'EOF' || fail "per-recipient results"
import json, sys
d = json.load(open(sys.argv[1]))
refuse, large, max_size = sys.argv[2], int(sys.argv[3]), sys.argv[4]
assert (d["accepted"], d["deferred"], d["failed"]) == (6, 0, 8), d
for m in d["messages"]:
    r = {x["address"]: x for x in m["recipients"]}
    for x in r.values():
        assert x["route"] == "relay postfix", x
    if m["id"] == large:
        # 20 MB against Postfix's message_size_limit: refused before MAIL.
        for x in r.values():
            assert x["outcome"] == "failed", x
            assert "SIZE" in x["reply"] and max_size in x["reply"], x
        continue
    assert r["bob@example.test"]["outcome"] == "accepted", m
    assert r["bob@example.test"]["reply"].startswith("250 2.0.0 Ok: queued as "), m
    assert r[refuse]["outcome"] == "failed", m
    assert r[refuse]["reply"].startswith("RCPT TO refused: 550 5.7.1 ") and "refused by the test harness" in r[refuse]["reply"], m
EOF

# Postfix → LMTP is asynchronous: wait for Dovecot to have the six.
wait_until 20 "six messages in bob's INBOX" count_is bob 6
grep -q "status=sent .*250 2.0.0 <bob@example.test>" "$POSTFIX_LOG" || fail "no LMTP delivery in the Postfix log"

# 2. Pull bob's INBOX over IMAP into a second archive.
mk2 init >/dev/null
mk2 sync --config "$WORK/config.ini" bob >"$WORK/sync.out" 2>"$WORK/sync.err" || {
  cat "$WORK/sync.out" "$WORK/sync.err" >&2; fail "sync of bob's INBOX failed"; }
grep -q "^bob: fetched 6 " "$WORK/sync.out" || { cat "$WORK/sync.out"; fail "sync summary"; }
mk2 export --format eml --out "$WORK/eml2" >/dev/null || fail "export of the second archive failed"

# 3. Compare each message synced back with its original (matched by
# Message-ID). Line ends are compared after CRLF normalization: mailkeep
# sends CRLF, IMAP serves CRLF, the stores may keep either. What Postfix 3.7
# and Dovecot 2.3.19 change, as seen here, and nothing else:
#   - Postfix's smtpd prepends "Received: from client.mailkeep.test
#     (unknown [127.0.0.1]) by mx1.example.test (Postfix) with ESMTPSA ..."
#     (ESMTPSA: STARTTLS and AUTH were used; the EHLO name is hello_name);
#   - Dovecot's LMTP then prepends "Return-Path: <envelope sender>",
#     "Delivered-To: bob@example.test" and its own "Received: ... with LMTP";
#   - Postfix's cleanup appends "Date: <arrival time> (UTC)" and "From:
#     <envelope sender>" at the end of the header block of a message that
#     has no Date or From (06: Sender only). It adds missing headers for
#     clients in local_header_rewrite_clients, whose default
#     permit_inet_interfaces matches 127.0.0.1 (Postfix >= 2.6);
#   - the original header fields keep their order and bytes, and the body
#     (8-bit, dot lines, bare CR turned into CRLF by mailkeep) is unchanged:
#     Dovecot's LMTP offers 8BITMIME, so Postfix converts nothing, and no
#     line is longer than Postfix's 998 (smtp_line_length_limit, which would
#     fold it).
/usr/bin/python3 - "$WORK/eml" "$WORK/eml2" "$large" <<'EOF' || fail "messages synced back differ from the originals"
import glob, os, re, sys
def norm(b):
    b = re.sub(rb"\r\n|\r|\n", b"\r\n", b)
    return b if b.endswith(b"\r\n") else b + b"\r\n"
def split(b):
    head, sep, body = b.partition(b"\r\n\r\n")
    assert sep, "no header/body separator"
    return re.split(rb"\r\n(?![ \t])", head), body
def name(f):
    return f.split(b":", 1)[0].lower()
def value(fields, n):
    vals = [f.split(b":", 1)[1].strip() for f in fields if name(f) == n]
    return vals[0] if vals else None
originals = {}
for p in glob.glob(sys.argv[1] + "/*.eml"):
    if os.path.basename(p) != sys.argv[3] + ".eml":
        o = norm(open(p, "rb").read())
        originals[value(split(o)[0], b"message-id")] = o
synced = [norm(open(p, "rb").read()) for p in glob.glob(sys.argv[2] + "/*.eml")]
assert len(synced) == len(originals) == 6, (len(synced), len(originals))
seen = set()
for s in synced:
    sf, sb = split(s)
    m = value(sf, b"message-id")
    assert m in originals and m not in seen, m
    seen.add(m)
    of, ob = split(originals[m])
    assert sb == ob, "body of %s differs" % m
    sender = value(of, b"from") or value(of, b"sender")
    sender = re.search(rb"[^<\s]+@[^>\s]+", sender).group(0)
    trace, rest = sf[:4], sf[4:]
    assert [name(f) for f in trace] == [b"return-path", b"delivered-to", b"received", b"received"], (m, trace)
    assert trace[0] == b"Return-Path: <" + sender + b">", (m, trace[0])
    assert trace[1] == b"Delivered-To: bob@example.test", (m, trace[1])
    assert b" with LMTP" in trace[2], (m, trace[2])
    assert trace[3].startswith(b"Received: from client.mailkeep.test (unknown [127.0.0.1])"), (m, trace[3])
    assert b"(Postfix) with ESMTPSA id " in trace[3], (m, trace[3])
    assert rest[:len(of)] == of, "original header fields of %s changed: %r" % (m, rest)
    added = rest[len(of):]
    if value(of, b"date") and value(of, b"from"):
        assert added == [], (m, added)
    else:
        assert [name(f) for f in added] == [b"date", b"from"], (m, added)
        assert re.fullmatch(rb"Date: \w{3}, [ \d]?\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000 \(UTC\)", added[0]), added
        assert added[1] == b"From: " + sender, added
assert seen == set(originals), seen
EOF

# 4. DSN: NOTIFY=SUCCESS with alice (a Dovecot user) as the envelope sender
# brings a delivery report back to her INBOX (the first run, without
# --notify, sent alice's messages with Postfix's default NOTIFY=FAILURE:
# nothing came back then). Dovecot's LMTP does not offer DSN (LHLO:
# 8BITMIME CHUNKING ENHANCEDSTATUSCODES PIPELINING STARTTLS), so Postfix
# cannot pass NOTIFY on and reports "Action: relayed" (RFC 3461 §4.3: handed
# to a system without DSN), not "delivered".
id1=$(mk search 'subject:"resend test 1"' --format ids)
expect_eq "$(dovecot_count alice)" 0 "alice's INBOX before the DSN run"
expect_status 0 rs --json resend "$id1" --relay postfix --from alice@example.test --to bob@example.test \
  --notify success
wait_until 20 "bob's copy of the DSN run" count_is bob 7
wait_until 20 "a DSN in alice's INBOX" count_is alice 1
doveadm_ fetch -u alice text mailbox INBOX all >"$WORK/dsn" || fail "cannot read alice's INBOX"
/usr/bin/python3 - "$WORK/dsn" "$id1" <<'EOF' || { cat "$WORK/dsn" >&2; fail "the DSN"; }
import email, email.policy, re, sys
text = open(sys.argv[1], "rb").read()
text = text.split(b"\n", 1)[1]  # doveadm's "text:" line
msg = email.message_from_bytes(text, policy=email.policy.default)
assert msg["Return-Path"] == "<>", msg["Return-Path"]
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert msg.get_param("report-type") == "delivery-status", msg.get_param("report-type")
parts = {p.get_content_type(): p for p in msg.iter_parts()}
status = parts["message/delivery-status"]
# The per-message block, then the per-recipient block (RFC 3464).
blocks = [dict((k.lower(), v) for k, v in b.items()) for b in status.get_payload()]
per_msg, per_rcpt = blocks[0], blocks[1]
assert re.fullmatch(r"mailkeep\.\d+\.%s" % sys.argv[2], per_msg["original-envelope-id"]), per_msg
assert per_msg["x-postfix-sender"] == "rfc822; alice@example.test", per_msg
assert per_rcpt["final-recipient"] == "rfc822; bob@example.test", per_rcpt
assert per_rcpt["original-recipient"] == "rfc822;bob@example.test", per_rcpt
assert per_rcpt["action"] == "relayed", per_rcpt
assert per_rcpt["status"] == "2.0.0", per_rcpt
assert "Message-ID: <resend-1@example.test>" in parts["text/rfc822-headers"].get_content(), "returned headers"
EOF
echo "resend_roundtrip: ok"

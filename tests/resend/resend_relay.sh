# mailkeep resend through a relay: a real SMTP receiver (aiosmtpd) with
# STARTTLS and AUTH that refuses one recipient. Checks that every message
# arrives byte for byte (after CRLF normalization), the envelope (sender =
# the original From, recipients = only --to), DSN parameters on the wire,
# per-recipient outcomes and exit status, --skip-sent, --dry-run,
# --resent-headers, --to-original, and the errors for a wrong password and
# an untrusted certificate.
source "$(dirname "$0")/lib.sh"
make_messages
ids=$(mk search '*' --format ids | sort -n)
n=$(echo "$ids" | wc -l)
expect_eq "$n" 7 "messages imported"

start_receiver "$WORK/rx" --starttls "$TLS/server-chain.pem" "$TLS/server.key" --auth alice:alicepw \
  --refuse refused@example.test
cat >"$WORK/config.ini" <<EOF
[relay.test]
host = localhost
port = $RECEIVER_PORT
tls = starttls
user = alice
password_env = RELAY_PW
ca_file = $TLS/ca.pem
EOF
export RELAY_PW=alicepw
rs() { mk --config "$WORK/config.ini" "$@"; }

# --dry-run sends nothing and records nothing.
rs resend '*' --to bob@example.test --dry-run >"$WORK/dry" || fail "dry run failed"
grep -q "would-send via relay test" "$WORK/dry" || { cat "$WORK/dry"; fail "dry run does not list the sends"; }
[[ -z "$(ls "$WORK/rx" | grep -c '\.eml$' | grep -v '^0$')" ]] || fail "dry run sent something"

# Every message to one good and one refused recipient: exit 1, per-recipient results.
expect_status 1 rs --json resend '*' --to bob@example.test --to refused@example.test --notify success,failure \
  --ret hdrs
cp "$WORK/out" "$WORK/first.json"
expect_eq "$(json_field '["accepted"]' <"$WORK/first.json")" 7 "accepted recipients"
expect_eq "$(json_field '["failed"]' <"$WORK/first.json")" 7 "failed recipients"
/usr/bin/python3 - "$WORK/first.json" <<'EOF' || fail "per-recipient results"
import json, sys
d = json.load(open(sys.argv[1]))
for m in d["messages"]:
    r = {x["address"]: x for x in m["recipients"]}
    assert r["bob@example.test"]["outcome"] == "accepted", m
    assert r["bob@example.test"]["reply"].startswith("250"), m
    assert r["refused@example.test"]["outcome"] == "failed", m
    assert "550" in r["refused@example.test"]["reply"], m
    assert r["bob@example.test"]["route"] == "relay test", m
EOF

# The received data is the stored bytes after CRLF normalization.
expect_eq "$(ls "$WORK/rx"/*.eml | wc -l)" 7 "messages received"
for f in "$WORK"/eml/*.eml; do normalized_sha "$f"; done | sort >"$WORK/want"
for f in "$WORK"/rx/*.eml; do sha256sum "$f" | cut -d' ' -f1; done | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" >/dev/null || fail "received bytes differ from the stored ones after CRLF normalization"

# The envelope: the original From (Sender when there is none), only --to
# recipients, DSN parameters as asked, AUTH and TLS used.
/usr/bin/python3 - "$WORK/rx" <<'EOF' || fail "envelope on the wire"
import glob, json, sys
senders = set()
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    e = json.load(open(path))
    senders.add(e["mail_from"])
    assert [r["address"] for r in e["rcpt_tos"]] == ["bob@example.test"], e
    params = e["rcpt_tos"][0]["params"]
    assert "NOTIFY=SUCCESS,FAILURE" in params, params
    assert "ORCPT=rfc822;bob@example.test" in params, params
    assert "RET=HDRS" in e["mail_params"], e["mail_params"]
    assert any(p.startswith("ENVID=mailkeep.") for p in e["mail_params"]), e["mail_params"]
    assert e["auth_login"] == "alice", e
    assert e["tls"], e
    assert [r["address"] for r in e["refused"]] == ["refused@example.test"], e
assert senders == {"alice@example.test", "sender@example.test"}, senders
EOF

# --skip-sent: bob got every message already; only the refused recipient is
# tried again (and refused again, so nothing more is received).
expect_status 1 rs --json resend '*' --to bob@example.test --to refused@example.test --skip-sent
expect_eq "$(json_field '["skipped"]' <"$WORK/out")" 7 "skipped recipients"
expect_eq "$(json_field '["failed"]' <"$WORK/out")" 7 "refused again"
expect_eq "$(ls "$WORK/rx"/*.eml | wc -l)" 7 "messages received after --skip-sent"
rs resend '*' --to bob@example.test --skip-sent >"$WORK/out" || fail "--skip-sent of delivered pairs failed"
grep -q "0 accepted, 0 deferred, 0 failed, 7 skipped" "$WORK/out" || { cat "$WORK/out"; fail "summary of --skip-sent"; }

# --resent-headers prepends the Resent-* block; the rest is the stored message.
id3=$(mk search 'subject:"resend test 3"' --format ids)
rs resend "$id3" --to erin@example.test --resent-headers --from me@example.test >/dev/null || fail "resend with headers"
last=$(ls "$WORK/rx"/*.eml | sort | tail -1)
/usr/bin/python3 - "$last" "$WORK/eml/$id3.eml" <<'EOF' || fail "Resent-* headers"
import re, sys
got = open(sys.argv[1], "rb").read()
want = re.sub(rb"\r\n|\r|\n", b"\r\n", open(sys.argv[2], "rb").read())
if not want.endswith(b"\r\n"): want += b"\r\n"
head, rest = got.split(b"\r\nFrom: ", 1)
lines = head.split(b"\r\n")
names = [l.split(b":")[0] for l in lines if not l.startswith(b" ")]
assert names == [b"Resent-From", b"Resent-To", b"Resent-Date", b"Resent-Message-ID"], names
assert lines[0] == b"Resent-From: <me@example.test>", lines[0]
assert b"From: " + rest == want, "body after the Resent block differs"
EOF
grep -q '"mail_from": "me@example.test"' "${last%.eml}.json" || fail "--from is the envelope sender"

# The null sender: fine on its own, but Resent-From needs an address.
rs --json resend "$id3" --to erin@example.test --from '<>' >"$WORK/out" || fail "resend with the null sender"
last=$(ls "$WORK/rx"/*.json | sort | tail -1)
grep -q '"mail_from": ""' "$last" || fail "null sender on the wire: $(cat "$last")"
expect_status 1 rs resend "$id3" --to erin@example.test --from '<>' --resent-headers
grep -q "Resent-From needs a sender address" "$WORK/out" || { cat "$WORK/out"; fail "null sender with --resent-headers"; }

# --to-original: the message's own To and Cc.
rs --json resend "$id3" --to-original >"$WORK/out" || fail "--to-original"
last=$(ls "$WORK/rx"/*.json | sort | tail -1)
/usr/bin/python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
assert sorted(r["address"] for r in e["rcpt_tos"]) == ["bob@example.test", "carol@example.test"], e' "$last" ||
  fail "--to-original recipients"

# Recipients from the message's Bcc get it, but are not named in Resent-To.
printf 'From: alice@example.test\nTo: bob@example.test\nBcc: hidden@example.test\nSubject: bcc\nMessage-ID: <resend-bcc@example.test>\n\nbody\n' \
  >"$WORK/bcc.eml"
mk -q import "$WORK/bcc.eml"
idb=$(mk search 'mid:resend-bcc@example.test' --format ids)
rs resend "$idb" --to-original --resent-headers >/dev/null || fail "resend of the Bcc message"
last=$(ls "$WORK/rx"/*.eml | sort | tail -1)
/usr/bin/python3 - "$last" "${last%.eml}.json" <<'EOF2' || fail "Bcc recipient named or not sent to"
import json, sys
data = open(sys.argv[1], "rb").read()
head = data.split(b"\r\nFrom: ", 1)[0]
assert b"Resent-To: <bob@example.test>" in head, head
assert b"hidden@example.test" not in head, head
e = json.load(open(sys.argv[2]))
assert sorted(r["address"] for r in e["rcpt_tos"]) == ["bob@example.test", "hidden@example.test"], e
EOF2

# A wrong password: one line, exit 1, no password anywhere.
export RELAY_PW=not-the-password
expect_status 1 rs resend "$id3" --to bob@example.test
grep -q "check the user name and password" "$WORK/err" || { cat "$WORK/err"; fail "wrong-password message"; }
! grep -q "not-the-password" "$WORK/out" "$WORK/err" || fail "the password was printed"
export RELAY_PW=alicepw

# An untrusted certificate: refused, nothing sent.
start_receiver "$WORK/rx2" --starttls "$TLS/untrusted-chain.pem" "$TLS/untrusted.key" --auth alice:alicepw
sed -i "s/^port = .*/port = $RECEIVER_PORT/" "$WORK/config.ini"
expect_status 1 rs resend "$id3" --to bob@example.test
grep -qi "certificate" "$WORK/err" || { cat "$WORK/err"; fail "untrusted certificate message"; }
expect_eq "$(ls "$WORK/rx2" | grep -c '\.eml$' || true)" 0 "messages sent to an untrusted server"

# Usage errors.
expect_status 2 rs resend '*'
expect_status 2 rs resend '*' --to not-an-address
expect_status 2 rs resend '*' --to bob@example.test --relay nosuch
expect_status 2 rs resend '*' --to bob@example.test --notify sometimes
echo "resend_relay: ok"

# mailkeep resend --direct: delivery straight to each recipient domain's mail
# exchangers, with a private dnsmasq (tests/servers/dnsmasq.sh) as
# dns_server and SMTP receivers (smtp_receiver.py) as the exchanges. MX
# records carry no port, so every exchange listens on the same port
# (direct_port), each on its own loopback address:
#   example.test  MX 10 mx1.example.test  127.0.0.5  nothing listens (refused)
#                 MX 20 mx2.example.test  127.0.0.4  receiver "mx2": STARTTLS
#   other.test    MX 10 mx2.example.test             (shares mx2's session)
#   nomx.test     A 127.0.0.1, no MX                 receiver "nomx": plain,
#                                                    defers later@nomx.test
#   nullmx.test   MX 0 "." (RFC 7505), and A 127.0.0.1: a client that ignored
#                 the null MX would reach the nomx receiver
#   two.test      MX 10 mx2.example.test, MX 20 nomx.test (mx2 refuses
#                 nobody@two.test with 550 and defers busy@two.test with 450)
#   down.test     MX 10 mx1.example.test (unreachable)
#   limit.test    A 127.0.0.6, no MX: a scripted exchange that takes one
#                 message per connection and answers the next MAIL with 421
#   drop.test     A 127.0.0.7, no MX: the same, but it hangs up right after
#                 each message (as an idle timeout would)
#   full.test     A 127.0.0.9, no MX: the same, but it answers the next MAIL
#                 with OpenSMTPD's "452 4.5.3 ... Too many messages sent"
#                 and keeps the session
#   nosuch.test   NXDOMAIN
# Checks, through the receivers' .eml/.json and mailkeep's --json output:
# fallback from a refused exchange to the next one; implicit MX; null MX and
# NXDOMAIN fail without any connection; recipients in several domains are
# grouped per domain; a deferred recipient and a --skip-sent retry of only
# that one; opportunistic STARTTLS (with a certificate that names neither
# the exchange nor is trusted) and plain delivery where none is offered; a
# refusal by an exchange is final (the next exchange is not tried), an
# unreachable domain is deferred; a kept session that the exchange ended
# meanwhile (421, or closed) or used up (452 to MAIL) is replaced by a new one; the bytes received are the stored bytes
# after CRLF normalization. Needs no root (dnsmasq and the receivers run on
# high ports); skips when dnsmasq, python3-aiosmtpd or openssl is missing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../servers/dnsmasq.sh"
reason=$(dnsmasq_skip_reason) && skip "$reason"

MX1=127.0.0.5 MX2=127.0.0.4 NOMX=127.0.0.1 LIMIT=127.0.0.6 DROP=127.0.0.7 NOREPLY=127.0.0.8 FULL=127.0.0.9
HELLO=sender.mailkeep.test

# Every exchange on one port, and nothing on mx1's address at that port.
for attempt in 1 2 3 4 5; do
  PORT=$(free_port "$NOMX" "$MX2" "$MX1" "$LIMIT" "$DROP" "$NOREPLY" "$FULL") || fail "no free port"
  rm -rf "$WORK/nomx" "$WORK/mx2" "$WORK/limit" "$WORK/drop" "$WORK/noreply" "$WORK/full"
  started=${#receivers[@]}
  start_receiver_on "$NOMX" "$PORT" "$WORK/nomx" --defer later@nomx.test &&
    start_receiver_on "$MX2" "$PORT" "$WORK/mx2" --starttls "$TLS/server-chain.pem" "$TLS/server.key" \
      --refuse nobody@two.test --defer busy@two.test &&
    start_one_message_exchange "$LIMIT" "$PORT" "$WORK/limit" 421 &&
    start_one_message_exchange "$DROP" "$PORT" "$WORK/drop" drop &&
    start_one_message_exchange "$NOREPLY" "$PORT" "$WORK/noreply" noreply &&
    start_one_message_exchange "$FULL" "$PORT" "$WORK/full" 452 &&
    ! (exec 3<>"/dev/tcp/$MX1/$PORT") 2>/dev/null && break
  for pid in "${receivers[@]:started}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  receivers=("${receivers[@]:0:started}")
  [[ $attempt -lt 5 ]] || fail "cannot start the exchanges on one port"
done

DNSMASQ_MX1_ADDR=$MX1 DNSMASQ_MX2_ADDR=$MX2 DNSMASQ_NOMX_ADDR=$NOMX
dnsmasq_add_record "mx-host=other.test,mx2.example.test,10" "host-record=nullmx.test,$NOMX" \
  "mx-host=two.test,mx2.example.test,10" "mx-host=two.test,nomx.test,20" "mx-host=down.test,mx1.example.test,10" \
  "host-record=limit.test,$LIMIT" "host-record=drop.test,$DROP" "host-record=noreply.test,$NOREPLY" \
  "host-record=full.test,$FULL"
on_exit dnsmasq_stop
dnsmasq_start "$WORK/dns" || fail "dnsmasq did not start"

cat >"$WORK/config.ini" <<EOF
dns_server = $DNSMASQ_SERVER
direct_port = $PORT
hello_name = $HELLO
EOF
rs() { mk --config "$WORK/config.ini" "$@"; }

make_messages
ids=$(mk search '*' --format ids | sort -n)
expect_eq "$(echo "$ids" | wc -l)" 7 "messages imported"
id1=$(echo "$ids" | sed -n 1p) id2=$(echo "$ids" | sed -n 2p) id3=$(echo "$ids" | sed -n 3p)

# check_json FILE PYTHON: asserts PYTHON about mailkeep's --json output d and
# r[address] (that recipient of the first message).
check_json() {
  /usr/bin/python3 - "$1" "$2" <<'EOF' || fail "mailkeep's JSON: $2"
import json, sys
d = json.load(open(sys.argv[1]))
r = {x["address"]: x for x in d["messages"][0]["recipients"]}
exec(sys.argv[2])
EOF
}
# eml_count DIR: messages a receiver stored.
eml_count() { find "$1" -name '*.eml' | wc -l; }

# 1. example.test: mx1 (preference 10) refuses the connection, mx2 gets
# every message, over STARTTLS, in one session. The 20 MB message included.
expect_status 0 rs --json resend '*' --to bob@example.test --direct
cp "$WORK/out" "$WORK/all.json"
/usr/bin/python3 - "$WORK/all.json" <<'EOF' || fail "per-recipient results of the example.test run"
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["accepted"], d["deferred"], d["failed"]) == (7, 0, 0), d
for m in d["messages"]:
    [r] = m["recipients"]
    assert r["address"] == "bob@example.test", r
    assert r["outcome"] == "accepted", r
    assert r["route"] == "direct mx2.example.test", r
    assert r["reply"].startswith("250"), r
EOF
expect_eq "$(eml_count "$WORK/mx2")" 7 "messages received by mx2"
expect_eq "$(connections "$WORK/mx2")" 1 "connections to mx2 for 7 messages"
expect_eq "$(connections "$WORK/nomx")" 0 "connections to 127.0.0.1 for example.test"
# mx1 was tried first: its address was asked for before mx2's.
grep -q "query\[A\] mx1.example.test" "$DNSMASQ_LOG" || fail "mx1.example.test was never looked up"
/usr/bin/python3 - "$DNSMASQ_LOG" <<'EOF' || fail "mx1 must be looked up before mx2"
import sys
log = open(sys.argv[1]).read()
assert 0 <= log.index("query[A] mx1.example.test") < log.index("query[A] mx2.example.test")
EOF

# The bytes: the stored ones after CRLF normalization, 20 MB one included.
for f in "$WORK"/eml/*.eml; do normalized_sha "$f"; done | sort >"$WORK/want"
for f in "$WORK"/mx2/*.eml; do sha256sum "$f" | cut -d' ' -f1; done | sort >"$WORK/got"
diff "$WORK/want" "$WORK/got" >/dev/null || fail "bytes received by mx2 differ from the stored ones after CRLF normalization"

# The envelope and session at mx2: STARTTLS taken although the certificate
# names neither mx2.example.test nor 127.0.0.4 and its CA is not given to
# mailkeep (opportunistic: no checks); no AUTH; the configured EHLO name.
/usr/bin/python3 - "$WORK/mx2" "$HELLO" <<'EOF' || fail "envelope and session at mx2"
import glob, json, sys
senders = set()
for path in sorted(glob.glob(sys.argv[1] + "/*.json")):
    e = json.load(open(path))
    senders.add(e["mail_from"])
    assert [r["address"] for r in e["rcpt_tos"]] == ["bob@example.test"], e
    assert e["tls"] in ("TLSv1.2", "TLSv1.3"), e
    assert e["auth_login"] is None, e
    assert e["helo"] == sys.argv[2] and e["esmtp"], e
assert senders == {"alice@example.test", "sender@example.test"}, senders
EOF

# 2. nomx.test has an address but no MX: delivered to that address (the
# receiver on 127.0.0.1), in plain text since it offers no STARTTLS.
expect_status 0 rs --json resend "$id1" --to x@nomx.test --direct
check_json "$WORK/out" '
assert r["x@nomx.test"]["outcome"] == "accepted", r
assert r["x@nomx.test"]["route"] == "direct nomx.test", r'
expect_eq "$(eml_count "$WORK/nomx")" 1 "messages received for nomx.test"
/usr/bin/python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
assert [r["address"] for r in e["rcpt_tos"]] == ["x@nomx.test"], e
assert e["tls"] is None, e' "$WORK/nomx/0001.json" || fail "nomx.test envelope, or TLS where none is offered"
expect_eq "$(sha256sum <"$WORK/nomx/0001.eml" | cut -d' ' -f1)" "$(normalized_sha "$WORK/eml/$id1.eml")" \
  "bytes received for nomx.test"

# 3. nullmx.test (RFC 7505): failed at once. It also has an address record
# pointing at the nomx receiver: nothing may connect there, and the address
# must not even be looked up.
before_nomx=$(connections "$WORK/nomx") before_mx2=$(connections "$WORK/mx2")
expect_status 1 rs --json resend "$id1" --to x@nullmx.test --direct
check_json "$WORK/out" '
x = r["x@nullmx.test"]
assert x["outcome"] == "failed", x
assert "null MX" in x["reply"], x
assert d["failed"] == 1 and d["accepted"] == 0, d'
expect_eq "$(connections "$WORK/nomx")" "$before_nomx" "connections after a null MX (nomx receiver)"
expect_eq "$(connections "$WORK/mx2")" "$before_mx2" "connections after a null MX (mx2)"
grep -q "query\[MX\] nullmx.test" "$DNSMASQ_LOG" || fail "nullmx.test's MX was never asked for"
! grep -q "query\[A\] nullmx.test" "$DNSMASQ_LOG" || fail "the address of a null-MX domain was looked up"

# 4. A domain that does not exist: failed (permanent), nothing sent.
expect_status 1 rs --json resend "$id1" --to x@nosuch.test --direct
check_json "$WORK/out" '
x = r["x@nosuch.test"]
assert x["outcome"] == "failed", x
assert "nosuch.test" in x["reply"] and "not exist" in x["reply"], x'
expect_eq "$(connections "$WORK/nomx")" "$before_nomx" "connections after NXDOMAIN (nomx receiver)"
expect_eq "$(connections "$WORK/mx2")" "$before_mx2" "connections after NXDOMAIN (mx2)"

# 5. Six recipients in five domains in one command: one transaction per
# domain (example.test and other.test both at mx2, on its one session), each
# outcome its own; exit 1 because two failed.
rx_mx2=$(eml_count "$WORK/mx2") rx_nomx=$(eml_count "$WORK/nomx")
expect_status 1 rs --json resend "$id2" --direct --to bob@example.test --to y@other.test --to x@nomx.test \
  --to z@nullmx.test --to carol@EXAMPLE.test --to w@nosuch.test
check_json "$WORK/out" '
want = {
    "bob@example.test": ("accepted", "direct mx2.example.test"),
    "y@other.test": ("accepted", "direct mx2.example.test"),
    "x@nomx.test": ("accepted", "direct nomx.test"),
    "z@nullmx.test": ("failed", "direct nullmx.test"),
    "carol@EXAMPLE.test": ("accepted", "direct mx2.example.test"),
    "w@nosuch.test": ("failed", "direct nosuch.test"),
}
got = {a: (x["outcome"], x["route"]) for a, x in r.items()}
assert got == want, got
assert [x["address"] for x in d["messages"][0]["recipients"]] == list(want), "not in the order of the --to options"
assert (d["accepted"], d["deferred"], d["failed"]) == (4, 0, 2), d'
expect_eq "$(eml_count "$WORK/mx2")" $((rx_mx2 + 2)) "transactions at mx2 (example.test, other.test)"
expect_eq "$(eml_count "$WORK/nomx")" $((rx_nomx + 1)) "transactions at the nomx receiver"
expect_eq "$(connections "$WORK/mx2")" $((before_mx2 + 1)) "sessions at mx2 for two domains"
/usr/bin/python3 - "$WORK/mx2" "$WORK/nomx" "$(normalized_sha "$WORK/eml/$id2.eml")" <<'EOF' || fail "grouping per domain"
import glob, hashlib, json, sys
def last(d, n):
    return sorted(glob.glob(d + "/*.json"))[-n:]
groups = []
for path in last(sys.argv[1], 2) + last(sys.argv[2], 1):
    e = json.load(open(path))
    groups.append(sorted(r["address"] for r in e["rcpt_tos"]))
    data = open(path[:-5] + ".eml", "rb").read()
    assert hashlib.sha256(data).hexdigest() == sys.argv[3], path
assert sorted(groups) == [["bob@example.test", "carol@EXAMPLE.test"], ["x@nomx.test"], ["y@other.test"]], groups
EOF

# 6. An exchange that answers but refuses (550) or defers (450) a recipient
# is final for it in this run: two.test's second exchange (nomx.test, the
# receiver on 127.0.0.1) is not tried. A domain whose only exchange is
# unreachable (down.test → mx1, nothing listening) is deferred, not failed.
before_nomx=$(connections "$WORK/nomx") rx_mx2=$(eml_count "$WORK/mx2")
expect_status 1 rs --json resend "$id1" --direct --to nobody@two.test --to busy@two.test --to ok@two.test \
  --to x@down.test
check_json "$WORK/out" '
got = {a: (x["outcome"], x["route"]) for a, x in r.items()}
assert got == {
    "nobody@two.test": ("failed", "direct mx2.example.test"),
    "busy@two.test": ("deferred", "direct mx2.example.test"),
    "ok@two.test": ("accepted", "direct mx2.example.test"),
    "x@down.test": ("deferred", "direct down.test"),
}, got
assert "550" in r["nobody@two.test"]["reply"], r
assert "450" in r["busy@two.test"]["reply"], r
assert "mx1.example.test" in r["x@down.test"]["reply"], r
assert (d["accepted"], d["deferred"], d["failed"]) == (1, 2, 1), d'
expect_eq "$(connections "$WORK/nomx")" "$before_nomx" "connections to two.test's second exchange"
expect_eq "$(eml_count "$WORK/mx2")" $((rx_mx2 + 1)) "messages at mx2 for two.test"

# 7. A deferred recipient (450 at RCPT): deferred, exit 1, the other one
# delivered. Then the exchange stops deferring (restarted without --defer on
# the same address and port), and --skip-sent sends only to the deferred
# recipient; a third run sends nothing.
rx_nomx=$(eml_count "$WORK/nomx")
expect_status 1 rs --json resend "$id3" --to ok@nomx.test --to later@nomx.test --direct
check_json "$WORK/out" '
assert r["ok@nomx.test"]["outcome"] == "accepted", r
assert r["later@nomx.test"]["outcome"] == "deferred", r
assert "450" in r["later@nomx.test"]["reply"], r
assert (d["accepted"], d["deferred"], d["failed"]) == (1, 1, 0), d'
expect_eq "$(eml_count "$WORK/nomx")" $((rx_nomx + 1)) "messages at the nomx receiver after a deferral"
/usr/bin/python3 -c '
import glob, json, sys
e = json.load(open(sorted(glob.glob(sys.argv[1] + "/*.json"))[-1]))
assert [r["address"] for r in e["rcpt_tos"]] == ["ok@nomx.test"], e
assert [r["address"] for r in e["refused"]] == ["later@nomx.test"], e' "$WORK/nomx" || fail "deferral at the receiver"

stop_receiver "$WORK/nomx"
start_receiver_on "$NOMX" "$PORT" "$WORK/nomx2" || fail "cannot restart the nomx receiver on port $PORT"
expect_status 0 rs --json resend "$id3" --to ok@nomx.test --to later@nomx.test --direct --skip-sent
check_json "$WORK/out" '
assert r["ok@nomx.test"]["outcome"] == "skipped", r
assert r["later@nomx.test"]["outcome"] == "accepted", r
assert (d["accepted"], d["deferred"], d["failed"], d["skipped"]) == (1, 0, 0, 1), d'
expect_eq "$(eml_count "$WORK/nomx2")" 1 "messages at the restarted receiver"
/usr/bin/python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))
assert [r["address"] for r in e["rcpt_tos"]] == ["later@nomx.test"], e' "$WORK/nomx2/0001.json" ||
  fail "--skip-sent must send only to the recipient not yet accepted"
expect_status 0 rs --json resend "$id3" --to ok@nomx.test --to later@nomx.test --direct --skip-sent
check_json "$WORK/out" 'assert (d["accepted"], d["skipped"]) == (0, 2), d'
expect_eq "$(connections "$WORK/nomx2")" 1 "connections when everything was sent already"

# 8. Sessions are kept for the whole run, but an exchange may end one
# between two messages (a per-connection message limit answered with 421 at
# the next MAIL; a hang-up after an idle timeout; OpenSMTPD's 452 to MAIL
# after its per-session limit). That says nothing about the exchange: every
# message is still delivered, each over a new connection, and none is
# deferred.
expect_status 0 rs --json resend "$id1" "$id2" "$id3" --direct --to x@limit.test --to y@drop.test \
  --to w@full.test
/usr/bin/python3 - "$WORK/out" <<'EOF' || { cat "$WORK/out" >&2; fail "messages to exchanges that end each session"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["accepted"], d["deferred"], d["failed"]) == (9, 0, 0), d
for m in d["messages"]:
    got = {x["address"]: (x["outcome"], x["route"]) for x in m["recipients"]}
    assert got == {"x@limit.test": ("accepted", "direct limit.test"),
                   "y@drop.test": ("accepted", "direct drop.test"),
                   "w@full.test": ("accepted", "direct full.test")}, got
EOF
for ex in limit drop full; do
  expect_eq "$(cat "$WORK/$ex/messages")" 3 "messages at $ex.test"
  expect_eq "$(cat "$WORK/$ex/connections")" 3 "connections to $ex.test"
  for i in 1 2 3; do
    id=$(echo "$ids" | sed -n ${i}p)
    expect_eq "$(sha256sum <"$WORK/$ex/$i.eml" | cut -d' ' -f1)" "$(normalized_sha "$WORK/eml/$id.eml")" \
      "bytes of message $i at $ex.test"
  done
done

# 9. The whole message went out but the answer to its end never came: the
# outcome is "unknown" (exit 1), and --skip-sent does not send it again
# (it may have been delivered), with a warning saying so.
expect_status 1 rs --json resend "$id1" --direct --to z@noreply.test
check_json "$WORK/out" 'assert d["messages"][0]["recipients"][0]["outcome"] == "unknown", d'
expect_eq "$(cat "$WORK/noreply/messages")" 1 "messages at noreply.test"
expect_status 0 rs --json resend "$id1" --direct --to z@noreply.test --skip-sent
check_json "$WORK/out" 'assert (d["skipped"], d["deferred"]) == (1, 0), d'
grep -q "may have delivered it .*not sent again .*--retry-unknown sends it anyway" "$WORK/err" ||
  fail "no warning for the unknown delivery: $(cat "$WORK/err")"
expect_eq "$(wc -l <"$WORK/err")" 1 "warning lines"
expect_eq "$(cat "$WORK/noreply/messages")" 1 "messages at noreply.test after --skip-sent"
# --retry-unknown sends it again (the user checked it did not arrive).
expect_status 1 rs --json resend "$id1" --direct --to z@noreply.test --skip-sent --retry-unknown
expect_eq "$(cat "$WORK/noreply/messages")" 2 "messages at noreply.test after --retry-unknown"

echo "resend_direct: ok"

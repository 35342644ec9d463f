#!/usr/bin/env bash
# Checks tests/servers/dnsmasq.sh used as a sourced library: start with the
# default zone, caller-chosen addresses and extra records (dnsmasq_add_record
# and DNSMASQ_RECORDS), answers over UDP, stop, nothing left running.
# Queries are sent with Python's socket module, so dig is not needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=dnsmasq.sh
source "$here/dnsmasq.sh"
if reason=$(dnsmasq_skip_reason); then echo "SKIP: $reason"; exit 77; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-dnsmasq-harness.XXXXXX)
trap 'dnsmasq_stop "$WORK/dns" || true; rm -rf "$WORK"' EXIT

export DNSMASQ_MX1_ADDR=127.0.0.9
export DNSMASQ_RECORDS=$'mx-host=env.test,mx.env.test,7\nhost-record=mx.env.test,127.0.0.7'
dnsmasq_add_record "mx-host=extra.test,mx.extra.test,5" "host-record=mx.extra.test,127.0.0.5"
t0=$(date +%s%N)
dnsmasq_start "$WORK/dns"
t1=$(date +%s%N)
echo "started in $(((t1 - t0) / 1000000)) ms on $DNSMASQ_SERVER"
for v in DNSMASQ_DIR DNSMASQ_CONF DNSMASQ_LOG DNSMASQ_PID DNSMASQ_PORT DNSMASQ_SERVER DNSMASQ_MX2_ADDR; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done
[[ "$DNSMASQ_SERVER" == "127.0.0.1:$DNSMASQ_PORT" ]] || fail "DNSMASQ_SERVER=$DNSMASQ_SERVER"

# query NAME TYPE: prints "RCODE ANSWERS FIRST-ANSWER-RDATA-AS-HEX".
query() {
  python3 - "$DNSMASQ_PORT" "$1" "$2" <<'EOF'
import socket, struct, sys
port, name, qtype = int(sys.argv[1]), sys.argv[2], {"A": 1, "MX": 15, "AAAA": 28}[sys.argv[3]]
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, ("127.0.0.1", port))
r = s.recv(4096)
rcode, an = r[3] & 15, struct.unpack(">H", r[6:8])[0]
rdata = ""
if an:
    i = len(q)
    i += 2 if r[i] & 0xC0 else len(r[i:].split(b"\0", 1)[0]) + 1
    rdlen = struct.unpack(">H", r[i + 8:i + 10])[0]
    rdata = r[i + 10:i + 10 + rdlen].hex()
print(rcode, an, rdata)
EOF
}
[[ $(query example.test MX | cut -d' ' -f1-2) == "0 2" ]] || fail "example.test MX: $(query example.test MX)"
[[ $(query mx1.example.test A) == "0 1 7f000009" ]] || fail "mx1 A (DNSMASQ_MX1_ADDR): $(query mx1.example.test A)"
[[ $(query mx2.example.test A) == "0 1 7f000004" ]] || fail "mx2 A: $(query mx2.example.test A)"
[[ $(query nomx.test MX) == "0 0 " ]] || fail "nomx.test MX: $(query nomx.test MX)"
[[ $(query nomx.test A) == "0 1 7f000001" ]] || fail "nomx.test A: $(query nomx.test A)"
[[ $(query nullmx.test MX) == "0 1 000000" ]] || fail "nullmx.test MX: $(query nullmx.test MX)"
[[ $(query nx.example.test MX | cut -d' ' -f1) == 3 ]] || fail "nx: $(query nx.example.test MX)"
[[ $(query extra.test MX | cut -d' ' -f1-2) == "0 1" ]] || fail "dnsmasq_add_record: $(query extra.test MX)"
[[ $(query mx.extra.test A) == "0 1 7f000005" ]] || fail "dnsmasq_add_record A: $(query mx.extra.test A)"
[[ $(query mx.env.test A) == "0 1 7f000007" ]] || fail "DNSMASQ_RECORDS: $(query mx.env.test A)"
grep -q "query\[MX\] example.test" "$DNSMASQ_LOG" || fail "queries are not logged"

pid=$DNSMASQ_PID
t2=$(date +%s%N)
dnsmasq_stop
t3=$(date +%s%N)
echo "stopped in $(((t3 - t2) / 1000000)) ms"
[[ ! -e /proc/$pid ]] || fail "dnsmasq $pid still running"
[[ ! -e "$WORK/dns/env" ]] || fail "env left behind"
echo "dnsmasq harness ok"

#!/usr/bin/env bash
# Checks tests/servers/mailutils.sh used as a sourced library: start, the
# users (unique per run, removed at stop), seed/deliver/count, folders,
# IMAP and POP3 answering on all four ports with the test CA's certificate,
# APOP for alice only, stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=mailutils.sh
source "$here/mailutils.sh"
if reason=$(mailutils_skip_reason); then echo "SKIP: $reason"; exit 77; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-harness.XXXXXX)
trap 'mailutils_stop "$WORK/mailutils" || true; rm -rf "$WORK"' EXIT

mailutils_start "$WORK/mailutils"
for v in MAILUTILS_DIR MAILUTILS_IMAP_PORT MAILUTILS_IMAPS_PORT MAILUTILS_POP3_PORT MAILUTILS_POP3S_PORT \
         MAILUTILS_CA MAILUTILS_ALICE_USER MAILUTILS_ALICE_PASSWORD MAILUTILS_BOB_USER MAILUTILS_BOB_PASSWORD; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done
alice=$MAILUTILS_ALICE_USER bob=$MAILUTILS_BOB_USER
getent passwd "$alice" >/dev/null || fail "no system user $alice"
[[ "$alice" == *-alice && "$alice" != alice ]] || fail "login name $alice is not unique to the run"

[[ $(mailutils_count alice) == 0 ]] || fail "alice's INBOX is not empty"
mailutils_seed alice 3
printf 'Subject: file\n\nFrom the start\nbody\n' >"$WORK/one.eml"
mailutils_deliver alice "$WORK/one.eml"
mailutils_deliver alice -f Lists/mips "$WORK/one.eml"
[[ $(mailutils_count alice) == 4 ]] || fail "expected 4 messages, got $(mailutils_count alice)"
[[ $(mailutils_count alice Lists/mips) == 1 ]] || fail "Lists/mips: $(mailutils_count alice Lists/mips)"
grep -q '^>From the start' "$MAILUTILS_DIR/spool/$alice" || fail "a body line starting 'From ' is not quoted"

# The servers, through Python's ssl and socket (one process, no sleeps):
# IMAPS login, LIST, EXAMINE; STARTTLS and STLS offered; a timestamp in the
# POP3 greeting; APOP accepted for alice, refused for bob.
python3 - <<'EOF' || fail "a server check failed"
import hashlib, os, re, socket, ssl
env = os.environ
ctx = ssl.create_default_context(cafile=env["MAILUTILS_CA"])
def connect(port, tls):
    s = socket.create_connection(("127.0.0.1", int(env[port])), timeout=10)
    return (ctx.wrap_socket(s, server_hostname="localhost") if tls else s).makefile("rwb")
def ask(f, line, until):
    f.write(line.encode() + b"\r\n"); f.flush()
    out = []
    while True:
        l = f.readline()
        if not l: break
        out.append(l.decode(errors="replace"))
        if until(l): break
    return "".join(out)
def check(cond, what):
    if not cond: raise SystemExit("FAIL: " + what)
tagged = lambda t: (lambda l: l.startswith(t))
f = connect("MAILUTILS_IMAPS_PORT", True); f.readline()
r = ask(f, "a LOGIN %s %s" % (env["MAILUTILS_ALICE_USER"], env["MAILUTILS_ALICE_PASSWORD"]), tagged(b"a "))
check("a OK" in r, "IMAPS login: " + r)
r = ask(f, 'b LIST "" "*"', tagged(b"b ")); check("Lists/mips" in r, "LIST: " + r)
r = ask(f, "c EXAMINE INBOX", tagged(b"c ")); check("* 4 EXISTS" in r, "EXAMINE: " + r)
f = connect("MAILUTILS_IMAP_PORT", False); f.readline()
r = ask(f, "a CAPABILITY", tagged(b"a ")); check("STARTTLS" in r, "IMAP CAPABILITY: " + r)
f = connect("MAILUTILS_POP3_PORT", False)
greeting = f.readline()
check(re.search(rb"<[^>]*>", greeting), "POP3 greeting without a timestamp: %r" % greeting)
r = ask(f, "CAPA", lambda l: l == b".\r\n"); check("STLS" in r, "CAPA: " + r)
for who, accepted in (("ALICE", True), ("BOB", False)):
    f = connect("MAILUTILS_POP3S_PORT", True)
    ts = re.search(rb"<[^>]*>", f.readline()).group(0)
    digest = hashlib.md5(ts + env["MAILUTILS_%s_PASSWORD" % who].encode()).hexdigest()
    r = ask(f, "APOP %s %s" % (env["MAILUTILS_%s_USER" % who], digest), lambda l: True)
    check(r.startswith("+OK") == accepted, "APOP %s: %s" % (who, r))
EOF

mailutils_adduser carol carolpw
[[ $(mailutils_count carol) == 0 ]] || fail "carol"
carol=$(_mailutils_login carol)

pids="$MAILUTILS_IMAP_PID $MAILUTILS_POP3_PID"
mailutils_stop
for p in $pids; do [[ ! -e /proc/$p ]] || fail "server $p still running"; done
for u in "$alice" "$bob" "$carol"; do
  if getent passwd "$u" >/dev/null; then fail "user $u not removed"; fi
done
echo "harness ok"

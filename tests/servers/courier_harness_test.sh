#!/usr/bin/env bash
# Checks tests/servers/courier.sh used as a sourced library: start, users,
# folders (nested, non-ASCII), delivery into Maildir++, counts, the four
# ports (IMAP STARTTLS and implicit TLS verified against COURIER_CA, POP3),
# replies without gamin's 1.2 s delay, stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=courier.sh
source "$here/courier.sh"
if reason=$(courier_skip_reason); then echo "SKIP: $reason"; exit 77; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-courier-harness.XXXXXX)
trap 'courier_stop "$WORK/courier" || true; [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"' EXIT
SECONDS=0

courier_start "$WORK/courier"
echo "started in ${SECONDS}s"
for v in COURIER_DIR COURIER_PIDS COURIER_IMAP_PORT COURIER_IMAPS_PORT COURIER_POP3_PORT COURIER_POP3S_PORT COURIER_CA COURIER_SYSLOG; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done

[[ $(courier_count alice) == 0 ]] || fail "alice's INBOX is not empty"
courier_seed alice 3
printf 'Subject: file\n\nbody\n' >"$WORK/one.eml"
courier_deliver alice "$WORK/one.eml"
[[ $(courier_count alice) == 4 ]] || fail "expected 4 messages in INBOX, got $(courier_count alice)"
courier_mkfolder alice Lists.mips
courier_mkfolder alice Entwürfe
courier_deliver alice -m Lists.mips "$WORK/one.eml" "$WORK/one.eml"
courier_seed alice 1 Entwürfe
[[ $(courier_count alice Lists.mips) == 2 ]] || fail "Lists.mips: $(courier_count alice Lists.mips)"
[[ $(courier_count alice Entwürfe) == 1 ]] || fail "Entwürfe: $(courier_count alice Entwürfe)"
[[ $(courier_count alice) == 4 ]] || fail "a folder delivery went to INBOX"
courier_adduser carol carolpw
[[ $(courier_count carol) == 0 ]] || fail "carol"

# alice sees her folders with "." as the delimiter, the non-ASCII one in
# modified UTF-7; STARTTLS and implicit TLS verify against COURIER_CA; POP3
# plain and over TLS; IMAP replies come without gamin's delay (Courier
# drops what a client sends before LOGIN's reply: imaplib waits for each).
/usr/bin/python3 - <<'PY' || fail "IMAP/POP3 checks"
import imaplib, os, poplib, ssl, sys, time
env = os.environ
ctx = ssl.create_default_context(cafile=env["COURIER_CA"])
def check(what, ok):
    if not ok:
        sys.exit(f"FAIL: {what}")
m = imaplib.IMAP4_SSL("localhost", int(env["COURIER_IMAPS_PORT"]), ssl_context=ctx, timeout=20)
m.login("alice", "alicepw")
names = [line.decode() for line in m.list()[1]]
check(f"LIST {names}", '(\\HasNoChildren) "." "INBOX.Lists.mips"' in names)
check(f"LIST {names}", any('"INBOX.Entw&APw-rfe"' in n for n in names))
m.select("INBOX.Lists.mips", readonly=True)  # Courier watches a selected folder (gamin)
start = time.monotonic()
for _ in range(10):
    m.noop()
noop = time.monotonic() - start
print(f"10 NOOPs over TLS: {noop * 1000:.0f} ms")
check(f"IMAP replies are slow ({noop:.1f} s for 10): is gam_server running?", noop < 6)
m.logout()
m = imaplib.IMAP4("localhost", int(env["COURIER_IMAP_PORT"]), timeout=20)
m.starttls(ssl_context=ctx)
check("STARTTLS LOGIN", m.login("alice", "alicepw")[0] == "OK")
m.logout()
p = poplib.POP3_SSL("localhost", int(env["COURIER_POP3S_PORT"]), context=ctx, timeout=20)
p.user("alice"); p.pass_("alicepw")
check(f"POP3S STAT {p.stat()}", p.stat()[0] == 4)
p.quit()
p = poplib.POP3("localhost", int(env["COURIER_POP3_PORT"]), timeout=20)
check("POP3 greeting", p.getwelcome().startswith(b"+OK"))
p.stls(context=ctx)
p.user("bob"); p.pass_("bobpw")
check("POP3 STLS STAT", p.stat()[0] == 0)
p.quit()
PY

ns=$(cat "$COURIER_DIR/proot/ns") proot=$COURIER_DIR/proot
courier_stop
[[ -z $(_private_root_members "$ns" "$proot") ]] || fail "Courier processes left: $(_private_root_members "$ns" "$proot")"
echo "courier harness ok (${SECONDS}s)"

#!/usr/bin/env bash
# Checks tests/servers/cyrus.sh used as a sourced library: start, users,
# folders (nested, non-ASCII), delivery over LMTP, counts, the four ports
# (IMAP STARTTLS and implicit TLS verified against CYRUS_CA, POP3), stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cyrus.sh
source "$here/cyrus.sh"
if reason=$(cyrus_skip_reason); then echo "SKIP: $reason"; exit 77; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-cyrus-harness.XXXXXX)
trap 'cyrus_stop "$WORK/cyrus" || true; [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"' EXIT
SECONDS=0

cyrus_start "$WORK/cyrus"
echo "started in ${SECONDS}s"
for v in CYRUS_DIR CYRUS_PID CYRUS_IMAP_PORT CYRUS_IMAPS_PORT CYRUS_POP3_PORT CYRUS_POP3S_PORT CYRUS_CA CYRUS_SYSLOG; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done

[[ $(cat "/proc/$CYRUS_PID/comm") == master ]] || fail "CYRUS_PID $CYRUS_PID is not Cyrus's master"
# A session of its own: its stop signals its process group, not ours.
[[ $(ps -o sid= -p "$CYRUS_PID" | tr -d ' ') == "$CYRUS_PID" ]] || fail "the master does not lead its own session"
[[ $(cyrus_count alice) == 0 ]] || fail "alice's INBOX is not empty"
cyrus_seed alice 3
printf 'Subject: file\n\nbody\n' >"$WORK/one.eml"
cyrus_deliver alice "$WORK/one.eml"
[[ $(cyrus_count alice) == 4 ]] || fail "expected 4 messages in INBOX, got $(cyrus_count alice)"
cyrus_mkfolder alice Lists.mips
cyrus_mkfolder alice Entwürfe
cyrus_deliver alice -m Lists.mips "$WORK/one.eml" "$WORK/one.eml"
cyrus_seed alice 1 Entwürfe
[[ $(cyrus_count alice Lists.mips) == 2 ]] || fail "Lists.mips: $(cyrus_count alice Lists.mips)"
[[ $(cyrus_count alice Entwürfe) == 1 ]] || fail "Entwürfe: $(cyrus_count alice Entwürfe)"
[[ $(cyrus_count alice) == 4 ]] || fail "a folder delivery went to INBOX"
cyrus_adduser carol carolpw
[[ $(cyrus_count carol) == 0 ]] || fail "carol"

# alice sees her folders with "." as the delimiter, the non-ASCII one in
# modified UTF-7; STARTTLS and implicit TLS verify against CYRUS_CA.
imap_tls() {  # extra s_client args; LOGIN + LIST as alice
  printf 'a LOGIN alice alicepw\r\nb LIST "" "*"\r\nc LOGOUT\r\n' | timeout 10 openssl s_client -quiet \
    -CAfile "$CYRUS_CA" -verify_hostname localhost -verify_return_error "$@" 2>/dev/null || true
}
list=$(imap_tls -connect "127.0.0.1:$CYRUS_IMAPS_PORT")
grep -q '"\." INBOX.Lists.mips' <<<"$list" || fail "IMAPS LIST: $list"
grep -q 'INBOX.Entw&APw-rfe' <<<"$list" || fail "IMAPS LIST: $list"
list=$(imap_tls -starttls imap -connect "127.0.0.1:$CYRUS_IMAP_PORT")
grep -q '^b OK' <<<"$list" || fail "IMAP STARTTLS: $list"
out=$(printf 'USER alice\r\nPASS alicepw\r\nSTAT\r\nQUIT\r\n' | timeout 10 openssl s_client -quiet \
  -CAfile "$CYRUS_CA" -verify_hostname localhost -verify_return_error -connect "127.0.0.1:$CYRUS_POP3S_PORT" 2>/dev/null || true)
grep -q '^+OK 4 ' <<<"$out" || fail "POP3S STAT: $out"
exec 3<>"/dev/tcp/127.0.0.1/$CYRUS_POP3_PORT"
read -r -t 10 greeting <&3
exec 3>&-
[[ "$greeting" == "+OK"*Cyrus* ]] || fail "POP3 greeting: $greeting"

pid=$CYRUS_PID
cyrus_stop
[[ ! -e /proc/$pid ]] || [[ $(awk '{print $3}' "/proc/$pid/stat") == Z ]] || fail "master $pid still runs"
echo "cyrus harness ok (${SECONDS}s)"

#!/usr/bin/env bash
# Checks tests/servers/dovecot.sh used as a sourced library: start, seed,
# deliver, count, ports answer, the three certificates, stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=dovecot.sh
source "$here/dovecot.sh"
if reason=$(dovecot_skip_reason); then echo "SKIP: $reason"; exit 77; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-harness.XXXXXX)
trap 'dovecot_stop "$WORK/dovecot" || true; rm -rf "$WORK"' EXIT

dovecot_start "$WORK/dovecot"
for v in DOVECOT_DIR DOVECOT_CONF DOVECOT_PID DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_IMAP_PORT \
         DOVECOT_IMAPS_PORT DOVECOT_CA DOVECOT_UNTRUSTED_CA DOVECOT_WRONG_NAME_HOST DOVECOT_UNTRUSTED_HOST; do
  [[ -n "${!v:-}" ]] || fail "$v is not set"
done

[[ $(dovecot_count alice) == 0 ]] || fail "alice's INBOX is not empty"
dovecot_seed alice 4
printf 'Subject: file\n\nbody\n' >"$WORK/one.eml"
dovecot_deliver alice "$WORK/one.eml"
[[ $(dovecot_count alice) == 5 ]] || fail "expected 5 messages, got $(dovecot_count alice)"
dovecot_adduser carol carolpw
[[ $(dovecot_count carol) == 0 ]] || fail "carol"

# Plain POP3 greets; IMAP over TLS greets.
exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_POP3_PORT"
read -r -t 5 greeting <&3
exec 3>&-
[[ "$greeting" == "+OK"* ]] || fail "POP3 greeting: $greeting"
out=$(echo "a LOGOUT" | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$DOVECOT_IMAPS_PORT" \
  -CAfile "$DOVECOT_CA" -verify_hostname localhost -verify_return_error 2>/dev/null | head -1)
[[ "$out" == "* OK"* ]] || fail "IMAPS greeting: $out"

# Certificates: the right names on the right addresses.
subject() {
  echo | timeout 5 openssl s_client -connect "$1:$DOVECOT_POP3S_PORT" 2>/dev/null |
    openssl x509 -noout -ext subjectAltName 2>/dev/null | tail -1 | tr -d ' '
}
[[ $(subject 127.0.0.1) == "DNS:localhost,IPAddress:127.0.0.1,IPAddress:0:0:0:0:0:0:0:1" ]] || fail "127.0.0.1: $(subject 127.0.0.1)"
[[ $(subject 127.0.0.2) == "DNS:mail.test" ]] || fail "127.0.0.2: $(subject 127.0.0.2)"
openssl verify -CAfile "$DOVECOT_UNTRUSTED_CA" "$DOVECOT_DIR/tls/untrusted.pem" >/dev/null || fail "untrusted chain"
if openssl verify -CAfile "$DOVECOT_CA" "$DOVECOT_DIR/tls/untrusted.pem" >/dev/null 2>&1; then
  fail "the untrusted certificate verifies against DOVECOT_CA"
fi

pid=$DOVECOT_PID
dovecot_stop
[[ ! -e /proc/$pid ]] || fail "dovecot $pid still running"
echo "harness ok"

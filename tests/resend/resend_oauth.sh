#!/usr/bin/env bash
# resend through a relay that logs in with OAuth2 from cron, against a
# server that really checks the token: a private Postfix whose SASL is
# Dovecot's auth socket (tests/servers/postfix.sh), where Dovecot's
# `passdb { driver = oauth2 }` introspects every token at the local token
# endpoint (tests/servers/oauth_server.py).
#   - `mailkeep oauth --relay postfix` runs the device grant and keeps the
#     refresh token 0600 in ARCHIVE/oauth/relay.postfix.refresh;
#   - resend logs in with the cached access token (XOAUTH2), no refresh;
#   - a cached token past its expiry is refreshed before the session;
#   - a token the server no longer accepts (the cache says valid) is
#     renewed once and the message goes out (OAUTHBEARER);
#   - a revoked grant: one line naming the relay and what to run, exit 1;
#   - no token ever appears in output or the catalog.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/postfix.sh"
source "$(dirname "$0")/../servers/oauth.sh"
reason=$(postfix_skip_reason) && skip "$reason"
reason=$(oauth_skip_reason) && skip "$reason"
chmod 755 "$WORK"  # Dovecot's and Postfix's users must reach their directories inside
trap 'postfix_stop; oauth_stop; dovecot_stop; rm -rf "$WORK"' EXIT

oauth_dovecot_start "$WORK" --approve-after 1 --interval 1 || fail "the token endpoint or Dovecot did not start"
POSTFIX_MYNETWORKS="" postfix_start "$WORK/postfix" || fail "Postfix did not start"

mk init >/dev/null
mkdir -p "$WORK/in"
for n in 1 2 3 4; do
  printf 'From: alice@example.test\nTo: bob@example.test\nSubject: oauth relay %s\nMessage-ID: <oauth-relay-%s@example.test>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\nbody %s\n' \
    "$n" "$n" "$n" >"$WORK/in/$n.eml"
done
mk import "$WORK/in" >/dev/null || fail "import"
id_of() { mk search "subject:\"oauth relay $1\"" --format ids; }

cfg="$WORK/config.ini"
write_config() {  # write_config AUTH
  cat >"$cfg" <<EOF
hello_name = client.mailkeep.test

[relay.postfix]
host = $POSTFIX_HOST
port = $POSTFIX_PORT
tls = starttls
user = alice
auth = $1
oauth_token_url = $OAUTH_URL/token
oauth_device_url = $OAUTH_URL/device
oauth_client_id = mailkeep-test
oauth_client_secret_env = OAUTH_SECRET
ca_file = $POSTFIX_CA
EOF
}
write_config xoauth2
outputs="$WORK/all-output"
: >"$outputs"
keep_output() { cat "$WORK/out" "$WORK/err" >>"$outputs"; }
resend_() {  # resend_ N: message N to bob
  mk --config "$cfg" resend "$(id_of "$1")" --to bob@example.test >"$WORK/out" 2>"$WORK/err"
}
accepted() { grep -q "^resend: 1 message: 1 accepted, 0 deferred, 0 failed" "$WORK/out"; }

# 1. Not authorized yet: one line, what to run.
expect_status 1 resend_ 1
keep_output
grep -q "relay postfix: no OAuth refresh token yet; run: mailkeep oauth --relay postfix" "$WORK/err" ||
  fail "resend before authorization: $(cat "$WORK/out" "$WORK/err")"

# 2. The device grant for the relay.
mk oauth --config "$cfg" --relay postfix >"$WORK/out" 2>"$WORK/err" ||
  { cat "$WORK/out" "$WORK/err" >&2; fail "mailkeep oauth --relay failed"; }
keep_output
grep -q "relay postfix: authorized; the refresh token is kept in $ARCHIVE/oauth/relay.postfix.refresh" "$WORK/out" ||
  fail "$(cat "$WORK/out")"
expect_eq "$(stat -c %a "$ARCHIVE/oauth/relay.postfix.refresh")" 600 "refresh token file mode"
expect_eq "$(stat -c %a "$ARCHIVE/oauth/relay.postfix.access")" 600 "access token cache mode"
tokens=("$(cat "$ARCHIVE/oauth/relay.postfix.refresh")" "$(sed -n 3p "$ARCHIVE/oauth/relay.postfix.access")")

# 3. The cached access token: no refresh; Dovecot asked the endpoint.
resend_ 1 || { cat "$WORK/out" "$WORK/err" >&2; postfix_log | tail -n 20 >&2; fail "resend with the cached token"; }
keep_output
accepted || fail "resend 1: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(oauth_stat refresh_grants)" 0 "refreshes while the cached token is valid"
[[ $(oauth_stat introspections_active) -ge 1 ]] || fail "Dovecot did not introspect the token"

# 4. The cached token is past its expiry: refreshed before the session.
sed -i '2s/.*/1000/' "$ARCHIVE/oauth/relay.postfix.access"
resend_ 2 || { cat "$WORK/out" "$WORK/err" >&2; fail "resend with an expired cached token"; }
keep_output
accepted || fail "resend 2: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(oauth_stat refresh_grants)" 1 "refreshes after the cached token expired"
tokens+=("$(sed -n 3p "$ARCHIVE/oauth/relay.postfix.access")")

# 5. The server no longer accepts the token although the cache says it is
#    valid: renewed once, the message goes out. Over OAUTHBEARER.
oauth_admin expire_access >/dev/null
write_config oauthbearer
resend_ 3 || { cat "$WORK/out" "$WORK/err" >&2; postfix_log | tail -n 20 >&2; fail "resend after the server dropped the token"; }
keep_output
accepted || fail "resend 3: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(oauth_stat refresh_grants)" 2 "one renewal after the refused token"
tokens+=("$(sed -n 3p "$ARCHIVE/oauth/relay.postfix.access")")

# 6. The grant is revoked: one line naming the relay and what to run.
oauth_admin revoke user=alice >/dev/null
write_config xoauth2
expect_status 1 resend_ 4
keep_output
grep -q "relay postfix: the token endpoint refused the refresh token (invalid_grant: Token has been expired or revoked.); run: mailkeep oauth --relay postfix" "$WORK/err" ||
  fail "revoked: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(grep -c "refused the refresh token" "$WORK/err")" 1 "lines about the revoked grant"

# Three messages reached bob through Postfix and Dovecot.
for ((i = 0; i < 100; i++)); do
  [[ "$(dovecot_count bob)" == 3 ]] && break
  sleep 0.1
done
expect_eq "$(dovecot_count bob)" 3 "messages delivered to bob"

# 7. No token in any output or in the catalog.
if leak=$(oauth_token_leak "$outputs" "$ARCHIVE" "${tokens[@]}"); then fail "$leak"; fi
echo "ok: relay device grant, cached use, refresh on expiry, renewal on refusal, revoked grant, no token in output"

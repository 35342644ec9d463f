#!/usr/bin/env bash
# OAuth2 from cron against a Dovecot that really checks tokens (IMAP, POP3): its
# `passdb { driver = oauth2 }` introspects every token at the local token
# endpoint (tests/servers/oauth_server.py), which also serves the refresh and
# device grants.
#   - before `mailkeep oauth`, sync fails with one line saying to run it;
#   - `mailkeep oauth alice` runs the device grant (the endpoint approves
#     after 2 polls): prints the URL and the code, keeps the refresh token
#     0600 in the archive;
#   - sync logs in with the cached access token (no refresh), XOAUTH2 and
#     OAUTHBEARER;
#   - a cached token past its expiry is refreshed first;
#   - a token the server no longer accepts (cache says valid) is renewed
#     once and the sync succeeds;
#   - POP3 with OAUTHBEARER and the refresh token from a command;
#   - a revoked grant fails the account with one line naming it and
#     `mailkeep oauth alice`;
#   - no token ever appears in output, errors or the catalog.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/dovecot.sh"
source "$(dirname "$0")/../servers/oauth.sh"
reason=$(dovecot_skip_reason) && skip "$reason"
reason=$(oauth_skip_reason) && skip "$reason"
chmod 755 "$WORK"
trap 'oauth_stop; dovecot_stop; rm -rf "$WORK"' EXIT

# The endpoint first (Dovecot's oauth2 config names its port), with the CA
# Dovecot's certificates come from.
oauth_dovecot_start "$WORK" --approve-after 2 --interval 1 || fail "the token endpoint or Dovecot did not start"
mk init >/dev/null
dovecot_seed alice 3

cfg="$WORK/config.ini"
write_config() {  # write_config AUTH
  cat >"$cfg" <<EOF
[account.alice]
protocol = imap
host = $DOVECOT_HOST
port = $DOVECOT_IMAPS_PORT
tls = implicit
user = alice
auth = $1
oauth_token_url = $OAUTH_URL/token
oauth_device_url = $OAUTH_URL/device
oauth_client_id = mailkeep-test
oauth_client_secret_env = OAUTH_SECRET
ca_file = $DOVECOT_CA
timeout = 30
EOF
}
write_config xoauth2
outputs="$WORK/all-output"
: >"$outputs"
keep_output() { cat "$WORK/out" "$WORK/err" >>"$outputs"; }
sync_() { mk sync --config "$cfg" "$@" >"$WORK/out" 2>"$WORK/err"; }

# 1. Not authorized yet: one line, what to run.
expect_status 1 sync_
keep_output
grep -q "account alice: no OAuth refresh token yet; run: mailkeep oauth alice" "$WORK/err" ||
  fail "sync before authorization: $(cat "$WORK/err")"

# mailkeep oauth refuses what it cannot authorize, with one line (exit 2).
expect_status 2 mk oauth --config "$cfg" nosuch
grep -q "no account 'nosuch' in $cfg" "$WORK/err" || fail "oauth nosuch: $(cat "$WORK/err")"
printf '[account.plain]\nprotocol = imap\nhost = h\nuser = u\npassword_env = X\n' >"$WORK/plain.ini"
expect_status 2 mk oauth --config "$WORK/plain.ini" plain
grep -q "account plain needs oauth_token_url and oauth_device_url" "$WORK/err" || fail "oauth plain: $(cat "$WORK/err")"

# 2. The device grant.
start=$(date +%s%N)
mk oauth --config "$cfg" alice >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/out" "$WORK/err" >&2; fail "mailkeep oauth failed"; }
keep_output
echo "mailkeep oauth took $((($(date +%s%N) - start) / 1000000)) ms"
grep -q "^  https://localhost:$OAUTH_PORT/activate\$" "$WORK/out" || fail "no verification URL: $(cat "$WORK/out")"
grep -q "^  WDJB-MJHT\$" "$WORK/out" || fail "no user code: $(cat "$WORK/out")"
grep -q "authorized; the refresh token is kept in $ARCHIVE/oauth/account.alice.refresh" "$WORK/out" || fail "$(cat "$WORK/out")"
expect_eq "$(stat -c %a "$ARCHIVE/oauth/account.alice.refresh")" 600 "refresh token file mode"
expect_eq "$(stat -c %a "$ARCHIVE/oauth/account.alice.access")" 600 "access token cache mode"
expect_eq "$(stat -c %a "$ARCHIVE/oauth")" 700 "oauth state directory mode"
expect_eq "$(oauth_stat device_polls)" 3 "device polls (2 pending, then granted)"
tokens=("$(cat "$ARCHIVE/oauth/account.alice.refresh")" "$(sed -n 3p "$ARCHIVE/oauth/account.alice.access")")

# 3. Sync with the access token the grant brought: no refresh; Dovecot asked
#    the endpoint about it.
sync_ || { cat "$WORK/out" "$WORK/err" >&2; tail -n 20 "$DOVECOT_LOG" >&2; fail "sync with the cached token"; }
keep_output
grep -q "^alice: fetched 3 " "$WORK/out" || fail "first sync: $(cat "$WORK/out")"
expect_eq "$(oauth_stat refresh_grants)" 0 "refreshes while the cached token is valid"
[[ $(oauth_stat introspections_active) -ge 1 ]] || fail "Dovecot did not introspect the token"

# 4. The cached token is past its expiry: refreshed before the login.
sed -i '2s/.*/1000/' "$ARCHIVE/oauth/account.alice.access"
dovecot_seed alice 2
sync_ || { cat "$WORK/out" "$WORK/err" >&2; fail "sync with an expired cached token"; }
keep_output
grep -q "^alice: fetched 2 " "$WORK/out" || fail "sync after expiry: $(cat "$WORK/out")"
expect_eq "$(oauth_stat refresh_grants)" 1 "refreshes after the cached token expired"
tokens+=("$(sed -n 3p "$ARCHIVE/oauth/account.alice.access")")

# 5. The server stopped accepting the token although the cache says it is
#    valid: renewed once, the sync succeeds. Over OAUTHBEARER this time.
oauth_admin expire_access >/dev/null
write_config oauthbearer
sync_ || { cat "$WORK/out" "$WORK/err" >&2; tail -n 20 "$DOVECOT_LOG" >&2; fail "sync after the server dropped the token"; }
keep_output
grep -q "^alice: fetched 0 " "$WORK/out" || fail "sync after renewal: $(cat "$WORK/out")"
expect_eq "$(oauth_stat refresh_grants)" 2 "one renewal after the refused token"
tokens+=("$(sed -n 3p "$ARCHIVE/oauth/account.alice.access")")

# POP3 with OAUTHBEARER, the refresh token printed by a command (so the
# archive keeps none for this account): the 5 messages are on the server,
# already archived from IMAP.
oauth_admin add_refresh token=rt-pop3-from-a-command-0123456789 user=alice >/dev/null
printf 'rt-pop3-from-a-command-0123456789\n' >"$WORK/pop-refresh"
cat >>"$cfg" <<EOF

[account.alicepop]
protocol = pop3
host = $DOVECOT_HOST
port = $DOVECOT_POP3S_PORT
tls = implicit
user = alice
auth = oauthbearer
oauth_token_url = $OAUTH_URL/token
oauth_client_id = mailkeep-test
oauth_client_secret_env = OAUTH_SECRET
oauth_refresh_token_command = cat $WORK/pop-refresh
ca_file = $DOVECOT_CA
timeout = 30
EOF
sync_ alicepop || { cat "$WORK/out" "$WORK/err" >&2; tail -n 20 "$DOVECOT_LOG" >&2; fail "POP3 sync with OAUTHBEARER"; }
keep_output
grep -q "^alicepop: fetched 5 (.*5 already stored)" "$WORK/out" || fail "POP3 sync: $(cat "$WORK/out")"
[[ ! -e "$ARCHIVE/oauth/account.alicepop.refresh" ]] || fail "the command's refresh token was written to the archive"
tokens+=("rt-pop3-from-a-command-0123456789" "$(sed -n 3p "$ARCHIVE/oauth/account.alicepop.access")")

# 6. The grant is revoked: one line naming the account and what to run.
oauth_admin revoke user=alice >/dev/null
expect_status 1 sync_ alice
keep_output
grep -q "account alice: the token endpoint refused the refresh token (invalid_grant: Token has been expired or revoked.); run: mailkeep oauth alice" "$WORK/err" ||
  fail "revoked: $(cat "$WORK/err")"
expect_eq "$(grep -c "refused the refresh token" "$WORK/err")" 1 "lines about the revoked grant"

# 7. No token in any output or in the catalog.
if leak=$(oauth_token_leak "$outputs" "$ARCHIVE" "${tokens[@]}"); then fail "$leak"; fi
echo "ok: device grant, cached use, refresh on expiry, renewal on refusal, POP3, revoked grant, no token in output"

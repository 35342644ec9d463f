#!/usr/bin/env bash
# mailkeep serve-password: the user line it prints (password on stdin)
# parses back through the accounts file and is accepted by the check
# `mailkeep serve` makes (--check); a token goes into a 0600 token file
# and verifies the same way; no secret is ever echoed or put in argv.
source "$(dirname "$0")/lib.sh"

password='correct horse battery staple'

# A user line from stdin (not a terminal: one line, no prompt).
line=$(printf '%s\n' "$password" | "$MAILKEEP" serve-password alice 2>"$WORK/err")
[[ $line =~ ^user\ =\ alice:\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$ ]] ||
  fail "unexpected line: $line"
[[ ! -s $WORK/err ]] || fail "stderr not empty: $(cat "$WORK/err")"
[[ $line != *"$password"* ]] || fail "the password is in the output"
# Two runs give different hashes (salted).
line2=$(printf '%s\n' "$password" | "$MAILKEEP" serve-password alice)
[[ $line != "$line2" ]] || fail "the same hash twice"

cfg="$WORK/c.ini"
printf '[serve]\nlisten = 127.0.0.1:8025\n%s\nuser = bob:%s\n' "$line" "${line2#user = alice:}" >"$cfg"
check() { "$MAILKEEP" --config "$cfg" serve-password --check "$@"; }

# The right password is accepted, a wrong one, another user's and an unknown user are not.
expect_eq "$(printf '%s\n' "$password" | check alice)" "the password of alice is accepted" "check alice"
expect_eq "$(printf '%s\r\n' "$password" | check bob)" "the password of bob is accepted" "check bob (CRLF)"
printf 'correct horse battery stapl\n' >"$WORK/wrong"
expect_status 1 check alice <"$WORK/wrong"
expect_eq "$(cat "$WORK/err")" "mailkeep: the password is not accepted for alice by [serve] of $cfg" "wrong password"
printf '%s\n' "$password" >"$WORK/right"
expect_status 2 check carol <"$WORK/right"
expect_eq "$(cat "$WORK/err")" "mailkeep: [serve] of $cfg has no user named carol" "unknown user"
expect_status 2 check alice </dev/null
expect_eq "$(cat "$WORK/err")" "mailkeep: no password on stdin (its first line)" "empty stdin"

# A token: printed once, its hash appended to a new 0600 file.
tokens="$WORK/tokens"
token=$("$MAILKEEP" --config "$cfg" serve-password --token --token-file "$tokens" ci 2>"$WORK/err")
[[ $token =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "unexpected token: $token"
expect_eq "$(stat -c %a "$tokens")" "600" "token file mode"
expect_eq "$(cat "$tokens")" "ci:sha256:$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)" "token file line"
grep -q "added the token of ci to $tokens" "$WORK/err" || fail "no note on stderr: $(cat "$WORK/err")"
# The config names the file; a second token goes into it.
printf 'token_file = %s\n' "$tokens" >>"$cfg"
token2=$("$MAILKEEP" -q --config "$cfg" serve-password --token deploy)
expect_eq "$(wc -l <"$tokens")" "2" "tokens in the file"
expect_eq "$(printf '%s\n' "$token" | check --token ci)" "the token of ci is accepted" "check token ci"
expect_eq "$(printf '%s\n' "$token2" | check --token deploy)" "the token of deploy is accepted" "check token deploy"
printf '%s\n' "$token2" >"$WORK/t2"
expect_status 1 check --token ci <"$WORK/t2"
# The password still works with the token file present.
expect_eq "$(check alice <"$WORK/right")" "the password of alice is accepted" "check alice with tokens"

# A token file others may read is refused, by the config and by --token.
chmod 644 "$tokens"
expect_status 2 check alice <"$WORK/right"
expect_eq "$(cat "$WORK/err")" \
  "mailkeep: $cfg:5: token_file $tokens is readable by its group and others (mode 0644); run: chmod 600 $tokens" \
  "readable token file"
expect_status 2 "$MAILKEEP" serve-password --token --token-file "$tokens" x
chmod 600 "$tokens"

# Usage errors (exit 2), and listening beyond loopback without TLS.
expect_status 2 "$MAILKEEP" serve-password
expect_status 2 "$MAILKEEP" serve-password 'al ice' <"$WORK/right"
expect_status 2 "$MAILKEEP" serve-password --token-file "$tokens" alice <"$WORK/right"
expect_status 2 "$MAILKEEP" --config /dev/null serve-password --token alice
printf '[serve]\nlisten = 0.0.0.0:8025\n%s\n' "$line" >"$WORK/open.ini"
expect_status 2 "$MAILKEEP" --config "$WORK/open.ini" serve-password --check alice <"$WORK/right"
grep -q "needs tls_certificate and tls_key in \[serve\]" "$WORK/err" || fail "no TLS error: $(cat "$WORK/err")"
# A password over 1024 bytes is refused.
head -c 2000 /dev/zero | tr '\0' 'x' >"$WORK/long"
expect_status 2 "$MAILKEEP" serve-password alice <"$WORK/long"

echo "serve_password: ok"

#!/usr/bin/env bash
# `mailkeep sync` over POP3 against a real Dovecot on 127.0.0.1: every TLS
# mode, every auth mechanism Dovecot offers, incremental runs, delete
# policies (after-download byte-exact, older-than with an injected clock),
# a wrong password next to a good account, untrusted and misnamed
# certificates, a 30 MB message and max_message_size.
PROTOCOL=pop3
source "$(dirname "$0")/../sync/lib.sh"

for u in carol dave erin frank; do dovecot_adduser "$u" "${u}pw"; done
export ALICE_PW=$DOVECOT_ALICE_PASSWORD BOB_PW=$DOVECOT_BOB_PASSWORD CAROL_PW=carolpw DAVE_PW=davepw \
  ERIN_PW=erinpw FRANK_PW=frankpw WRONG_PW=not-the-password

# SHA-256 of a file in the form a message has after a trip over POP3: line
# ends LF (as kept), and a final line end (POP3 cannot carry a message
# whose last line has none: the terminating CRLF.CRLF adds one).
# lf_sha FILE...: one line per file, in order (one python3 for all).
lf_sha() {
  python3 -c 'import hashlib,sys
for f in sys.argv[1:]:
    b=open(f,"rb").read().replace(b"\r\n",b"\n")
    print(hashlib.sha256(b if b.endswith(b"\n") else b+b"\n").hexdigest())' "$@"
}

# 1. TLS modes: implicit, STLS, and none (allowed explicitly).
dovecot_seed alice 5
account implicit alice ALICE_PW implicit
account stls alice ALICE_PW starttls
account clear alice ALICE_PW none allow_plaintext=true
sync_ok implicit stls clear
expect_eq "$(fetched implicit)" 5 "implicit TLS fetched"
expect_eq "$(fetched stls)" 5 "STLS fetched"
expect_eq "$(fetched clear)" 5 "plaintext fetched"
expect_eq "$(mk search --count '*')" 5 "distinct messages after three accounts"

# ... but no password goes over a plain connection without allow_plaintext.
account refuse alice ALICE_PW none
expect_status 1 mk sync --config "$cfg" refuse
grep -qi "plain" "$WORK/err" || fail "plaintext refusal not explained: $(cat "$WORK/err")"

# 2. Each mechanism Dovecot offers.
dovecot_seed bob 3
account bob_plain bob BOB_PW implicit auth=plain
account bob_login bob BOB_PW implicit auth=login
account bob_user bob BOB_PW starttls auth=user
sync_ok bob_plain bob_login bob_user
for a in bob_plain bob_login bob_user; do expect_eq "$(fetched $a)" 3 "$a fetched"; done

# 3. Incremental: nothing new, then exactly the one added message.
sync_ok implicit
expect_eq "$(fetched implicit)" 0 "second run fetched"
dovecot_seed alice 1
sync_ok implicit
expect_eq "$(fetched implicit)" 1 "run after one new message fetched"

# 4. --dry-run changes nothing.
dovecot_seed alice 2
mk sync --config "$cfg" --dry-run -v implicit >"$WORK/out" 2>"$WORK/err" || fail "dry run: $(cat "$WORK/err")"
grep -q "^implicit: would fetch 2 " "$WORK/out" || fail "dry run summary: $(cat "$WORK/out")"
sync_ok implicit
expect_eq "$(fetched implicit)" 2 "fetch after the dry run"

# 5. after-download empties the server; the archive holds every message
#    byte for byte (line ends as LF, the form a Maildir file has).
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
mapfile -t files < <(find "$WORK/sample/Maildir/cur" "$WORK/sample/Maildir/new" -type f | sort)
dovecot_deliver carol "${files[@]}"
account carol carol CAROL_PW implicit delete=after-download
sync_ok carol
expect_eq "$(fetched carol)" "${#files[@]}" "after-download fetched"
expect_eq "$(deleted carol)" "${#files[@]}" "after-download deleted"
expect_eq "$(dovecot_count carol)" 0 "messages left on the server"
mk export --format eml --out "$WORK/eml" >/dev/null
declare -A archived
while read -r sha _; do archived[$sha]=1; done < <(sha256sum "$WORK"/eml/*.eml)
mapfile -t shas < <(lf_sha "${files[@]}")
expect_eq "${#shas[@]}" "${#files[@]}" "SHA-256 sums of the delivered files"
for i in "${!files[@]}"; do
  [[ -n ${archived[${shas[i]}]:-} ]] || fail "not archived byte-exact: ${files[i]}"
done
sync_ok carol
expect_eq "$(fetched carol)" 0 "after-download second run"

# 6. older-than:2d deletes only what was archived two days ago or more.
dovecot_seed dave 3
account dave dave DAVE_PW implicit delete=older-than:2d
sync_ok dave
expect_eq "$(deleted dave)" 0 "older-than deleted fresh messages"
dovecot_seed dave 2
sync_ok dave --debug-now $(( $(date +%s) + 3 * 86400 ))
expect_eq "$(fetched dave)" 2 "older-than fetched the new ones"
expect_eq "$(deleted dave)" 3 "older-than deleted the old ones"
expect_eq "$(dovecot_count dave)" 2 "older-than left the new ones"

# 7. A wrong password fails its account with one line; the other syncs.
dovecot_seed frank 2
account wrongpw alice WRONG_PW implicit
account frank frank FRANK_PW implicit
expect_status 1 mk sync --config "$cfg" wrongpw frank
grep -q "^mailkeep: account wrongpw: .*[Aa]uthentication failed" "$WORK/err" || fail "wrong password: $(cat "$WORK/err")"
[[ $(grep -c "wrongpw" "$WORK/err") -eq 1 ]] || fail "wrong password takes more than one line: $(cat "$WORK/err")"
grep -q "^frank: fetched 2 " "$WORK/out" || fail "the good account did not sync: $(cat "$WORK/out")"
if grep -q -e "$WRONG_PW" -e "$ALICE_PW" "$WORK/out" "$WORK/err"; then fail "a password was printed"; fi

# 8. Certificates: another CA, or a certificate for another name: refused.
cat >>"$cfg" <<EOF

[account.untrusted]
protocol = pop3
host = $DOVECOT_UNTRUSTED_HOST
port = $DOVECOT_POP3S_PORT
user = alice
password_env = ALICE_PW
ca_file = $DOVECOT_CA

[account.misnamed]
protocol = pop3
host = $DOVECOT_WRONG_NAME_HOST
port = $DOVECOT_POP3S_PORT
user = alice
password_env = ALICE_PW
ca_file = $DOVECOT_CA
EOF
expect_status 1 mk sync --config "$cfg" untrusted
grep -qi "certificate" "$WORK/err" || fail "untrusted certificate not explained: $(cat "$WORK/err")"
expect_status 1 mk sync --config "$cfg" misnamed
grep -qi "certificate\|host name" "$WORK/err" || fail "misnamed certificate not explained: $(cat "$WORK/err")"

# 9. A 30 MB message arrives whole; max_message_size skips it with a warning.
python3 - "$WORK/big.eml" <<'EOF'
import base64, os, sys
data = base64.encodebytes(os.urandom(22 * 1024 * 1024)).decode()
with open(sys.argv[1], "w") as f:
    f.write("From: big@example.test\nTo: erin@example.test\nSubject: thirty megabytes\n"
            "Message-ID: <big@example.test>\nMIME-Version: 1.0\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + data)
EOF
[[ $(stat -c %s "$WORK/big.eml") -gt 30000000 ]] || fail "test message is not 30 MB"
dovecot_deliver erin "$WORK/big.eml"
account erin_small erin ERIN_PW implicit max_message_size=1M delete=after-download
sync_ok erin_small
expect_eq "$(summary erin_small | sed -E 's/.*skipped ([0-9]+),.*/\1/')" 1 "max_message_size skipped"
grep -q "max_message_size" "$WORK/err" || fail "no warning for the skipped message: $(cat "$WORK/err")"
expect_eq "$(dovecot_count erin)" 1 "skipped message stays on the server"
account erin erin ERIN_PW implicit
sync_ok erin
expect_eq "$(fetched erin)" 1 "30 MB message fetched"
got=$(mk show --raw 'mid:big@example.test' | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$(lf_sha "$WORK/big.eml")" "30 MB message bytes"

mk verify >/dev/null || fail "verify after sync"
echo "pop3_sync: ok"

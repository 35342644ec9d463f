#!/usr/bin/env bash
# `mailkeep sync` failures that need no mail server: configuration errors
# (exit 2, one line naming file:line), an archive held by another process
# (exit 3 after --lock-timeout), an account that cannot connect or has no
# usable password (exit 1, one line, the other accounts still run).
source "$(dirname "$0")/lib.sh"

mk init >/dev/null

# A port nobody listens on: bind a socket, note the port, close it.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

cfg="$WORK/config.ini"
cat >"$cfg" <<EOF
[account.first]
protocol = pop3
host = 127.0.0.1
port = $dead_port
tls = none
allow_plaintext = true
user = alice
password_env = MK_TEST_PASSWORD
connect_timeout = 5

[account.second]
protocol = pop3
host = 127.0.0.1
port = $dead_port
tls = implicit
user = bob
password_file = $WORK/secret
EOF
printf 'hunter2-secret\n' >"$WORK/secret"
chmod 644 "$WORK/secret"

# 1. An unknown key is a configuration error naming file, line and key.
cat >"$WORK/bad.ini" <<'EOF'
[account.x]
protocol = pop3
hots = mail.example.com
EOF
expect_status 2 mk sync --config "$WORK/bad.ini"
grep -q "bad.ini:3" "$WORK/err" || fail "unknown key error does not name file:line: $(cat "$WORK/err")"
grep -q "hots" "$WORK/err" || fail "unknown key error does not name the key: $(cat "$WORK/err")"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "config error is not one line: $(cat "$WORK/err")"

# 2. No config file, and an account the file does not define.
expect_status 2 mk sync --config "$WORK/missing.ini"
expect_status 2 mk sync --config "$cfg" nosuchaccount
grep -q "nosuchaccount" "$WORK/err" || fail "unknown account not named: $(cat "$WORK/err")"

# 3. Both accounts fail, each with its own one-line reason; exit 1. The
#    password never appears, the readable password file is refused.
MK_TEST_PASSWORD=sekrit-pw expect_status 1 mk sync --config "$cfg"
grep -q "account first:" "$WORK/err" || fail "no line for account first: $(cat "$WORK/err")"
grep -q "account second:.*chmod 600" "$WORK/err" || fail "group/world-readable password file not refused: $(cat "$WORK/err")"
grep -q "connect" "$WORK/err" || fail "connection failure not explained: $(cat "$WORK/err")"
if grep -q -e sekrit-pw -e hunter2 "$WORK/out" "$WORK/err"; then fail "a password was printed"; fi
[[ $(grep -c "^mailkeep: account" "$WORK/err") -eq 2 ]] || fail "expected one line per account: $(cat "$WORK/err")"
grep -q "^first: .*FAILED" "$WORK/out" || fail "no summary line for first: $(cat "$WORK/out")"
grep -q "^second: .*FAILED" "$WORK/out" || fail "no summary line for second: $(cat "$WORK/out")"

# 4. JSON summary: one object per account.
MK_TEST_PASSWORD=sekrit-pw expect_status 1 mk --json sync --config "$cfg" first
n=$(json_field '["accounts"][0]["ok"]' <"$WORK/out")
expect_eq "$n" "False" "json ok flag"

# 5. The archive is locked by someone else: wait --lock-timeout, then exit 3.
flock "$ARCHIVE/lock" sleep 6 &
holder=$!
sleep 0.3
start=$(date +%s)
MK_TEST_PASSWORD=x expect_status 3 mk sync --config "$cfg" --lock-timeout 2 first
waited=$(( $(date +%s) - start ))
[[ $waited -ge 2 ]] || fail "did not wait for the lock (waited ${waited}s)"
grep -q "locked" "$WORK/err" || fail "lock error unclear: $(cat "$WORK/err")"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

echo "sync_errors: ok"

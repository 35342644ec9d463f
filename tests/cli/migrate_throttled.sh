#!/usr/bin/env bash
# Issue 12.8 for migrate: a target that throttles APPEND as Office 365 does
# (tests/servers/throttling_server.py), as sync does it (sync_throttled.sh):
# - a short suggested backoff (200 ms) is waited out and the APPEND sent
#   again: all 5 appended in one run, exit 0;
# - a backoff longer than throttle_max_wait stops the run at once: the 2
#   appended before are kept, the summary says partial and why, the rest
#   is "not attempted", not failed, exit 1; the next run appends the other
#   3 (--json: partial null), and the server holds each of the 5 once;
# - a login throttled that long: partial before anything (--json says so).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
SERVER="$(dirname "$0")/../servers/throttling_server.py"
export MK_TEST_PASSWORD=pw
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
for i in imap-append-short imap-append-long imap-auth-long; do
  python3 "$SERVER" "$i" "$WORK/port.$i" &
  servers+=($!)
done

mkdir "$WORK/mail"
for n in 1 2 3 4 5; do
  printf 'From: x@example.test\nSubject: throttled %d\nMessage-ID: <thr-%d@example.test>\n\nbody %d\n' "$n" "$n" "$n" \
    >"$WORK/mail/$n.eml"
done

# target INSTANCE: a fresh archive of the 5 messages; the accounts file
# names that server as account "thr".
target() {
  rm -rf "$ARCHIVE"
  mk init >/dev/null
  mk import -q --no-index "$WORK/mail"
  for _ in $(seq 100); do [[ -s $WORK/port.$1 ]] && break; sleep 0.1; done
  [[ -s $WORK/port.$1 ]] || fail "$1: the throttling server did not start"
  printf '[account.thr]\nprotocol = imap\nhost = 127.0.0.1\nport = %s\ntls = none\nallow_plaintext = true\nuser = alice\npassword_env = MK_TEST_PASSWORD\nthrottle_max_wait = 120\n' \
    "$(cat "$WORK/port.$1")" >"$WORK/accounts.ini"
}
migrate_run() {
  set +e
  timeout -s KILL 60 "$MAILKEEP" --archive "$ARCHIVE" "$@" migrate --no-index --config "$WORK/accounts.ini" \
    --to-account thr --folder Archive >"$WORK/out" 2>"$WORK/err"
  status=$?
  set -e
}
partial_line='partial: server throttled IMAP .*\(asked to wait 300 s, more than throttle_max_wait 120 s\); the rest next run$'

target imap-append-short
migrate_run
expect_eq "$status" 0 "short backoff: exit status ($(cat "$WORK/out" "$WORK/err"))"
grep -q '^migrate to thr: appended 5 .*, failed 0, [0-9.]* s$' "$WORK/out" || fail "short backoff: $(cat "$WORK/out")"
expect_eq "$(cat "$WORK/port.imap-append-short.appended")" "5 5" "short backoff: on the server, distinct"

target imap-append-long
migrate_run
expect_eq "$status" 1 "long backoff: exit status ($(cat "$WORK/out" "$WORK/err"))"
grep -Eq "^migrate to thr: appended 2 \(.*\), already there 0, failed 0, not attempted 3, [0-9.]+ s, $partial_line" "$WORK/out" ||
  fail "long backoff: the summary does not say partial: $(cat "$WORK/out")"
if grep -q FAILED "$WORK/out"; then fail "a throttled run is partial, not failed: $(cat "$WORK/out")"; fi
if [[ -s $WORK/err ]]; then fail "long backoff: nothing for stderr: $(cat "$WORK/err")"; fi
expect_eq "$(cat "$WORK/port.imap-append-long.appended")" "2 2" "long backoff: on the server after run 1"
migrate_run --json
expect_eq "$status" 0 "long backoff run 2: exit status ($(cat "$WORK/out" "$WORK/err"))"
python3 - "$WORK/out" <<'PY' || fail "long backoff run 2: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["appended"], d["already_there"], d["failed"], d["not_attempted"], d["partial"], d["ok"]) == (3, 2, 0, 0, None, True), d
PY
expect_eq "$(cat "$WORK/port.imap-append-long.appended")" "5 5" "long backoff: on the server after run 2 (nothing twice)"

target imap-auth-long
migrate_run --json
expect_eq "$status" 1 "throttled login: exit status ($(cat "$WORK/out" "$WORK/err"))"
python3 - "$WORK/out" <<'PY' || fail "throttled login: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["appended"], d["failed"], d["not_attempted"], d["ok"]) == (0, 0, 5, False), d
assert "more than throttle_max_wait 120 s" in d["partial"], d
PY
echo "ok"

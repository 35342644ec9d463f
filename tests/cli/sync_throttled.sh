#!/usr/bin/env bash
# Issue 12.8: servers that throttle as Office 365 does
# (tests/servers/throttling_server.py), over IMAP and POP3.
# - a short suggested backoff (200 ms) is waited out and the command sent
#   again: everything archived in one run, exit 0;
# - a backoff longer than throttle_max_wait stops the account at once: what
#   was fetched is kept, the summary (and --json) says partial and why,
#   exit 1; the next run fetches the rest, nothing twice;
# - the same for a throttled login (AUTHENTICATE PLAIN);
# - max_connections_per_host = 1: accounts on one host, run in parallel,
#   take turns.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
SERVER="$(dirname "$0")/../servers/throttling_server.py"
export MK_TEST_PASSWORD=pw
servers=()
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# Every server at once (they start slowly on a busy machine); the second
# imap-long serves a run that is partial from its start.
instances=(imap-short imap-long imap-long-again imap-auth-short imap-auth-long pop3-short pop3-long imap-slow)
for i in "${instances[@]}"; do
  python3 "$SERVER" "${i%-again}" "$WORK/port.$i" &
  servers+=($!)
done
# start INSTANCE: a fresh archive and accounts file for that server.
start() {
  rm -rf "$ARCHIVE"
  mk init >/dev/null
  for _ in $(seq 100); do [[ -s $WORK/port.$1 ]] && break; sleep 0.1; done
  [[ -s $WORK/port.$1 ]] || fail "$1: the throttling server did not start"
  printf '[account.thr]\nprotocol = %s\nhost = 127.0.0.1\nport = %s\ntls = none\nallow_plaintext = true\nuser = alice\npassword_env = MK_TEST_PASSWORD\nthrottle_max_wait = 120\n' \
    "${1%%-*}" "$(cat "$WORK/port.$1")" >"$WORK/accounts.ini"
}
sync_run() {
  set +e
  timeout -s KILL 60 "$MAILKEEP" --archive "$ARCHIVE" sync --no-index --config "$WORK/accounts.ini" "$@" \
    >"$WORK/out" 2>"$WORK/err"
  status=$?
  set -e
}
counts() { mk stats --json | python3 -c "import json, sys; d = json.load(sys.stdin); print(d['messages'], d['locations'])"; }
fetched() { sed -E -n 's/^thr: fetched ([0-9]+) .*/\1/p' "$WORK/out"; }
complete_run() {  # NAME MESSAGES: exit 0, a plain success line
  expect_eq "$status" 0 "$1: exit status ($(cat "$WORK/out" "$WORK/err"))"
  if grep -q ", partial: " "$WORK/out"; then fail "$1: $(cat "$WORK/out")"; fi
  expect_eq "$(counts)" "$2 $2" "$1: messages archived and location rows"
}
partial_run() {  # NAME MESSAGES: exit 1, the summary says why and what next
  expect_eq "$status" 1 "$1: exit status ($(cat "$WORK/out" "$WORK/err"))"
  grep -Eq "^thr: fetched [0-9]+ .*, partial: server throttled .*\(asked to wait 300 s, more than throttle_max_wait 120 s\); the rest next run$" "$WORK/out" ||
    fail "$1: the summary does not say partial: $(cat "$WORK/out")"
  if grep -q "FAILED" "$WORK/out"; then fail "$1: a throttled run is partial, not failed: $(cat "$WORK/out")"; fi
  expect_eq "$(counts)" "$2 $2" "$1: messages kept and location rows"
}

for proto in imap pop3; do
  all=$([[ $proto == imap ]] && echo 8 || echo 5)
  start "$proto-short"
  sync_run
  complete_run "$proto-short" "$all"
  expect_eq "$(fetched)" "$all" "$proto-short: fetched in one run"

  start "$proto-long"
  before=$([[ $proto == imap ]] && echo 5 || echo 2)
  sync_run
  partial_run "$proto-long run 1" "$before"
  expect_eq "$(fetched)" "$before" "$proto-long run 1: fetched before the throttle"
  sync_run --json
  complete_run "$proto-long run 2" "$all"
  python3 - "$WORK/out" "$((all - before))" <<'EOF' || fail "$proto-long run 2: $(cat "$WORK/out")"
import json, sys
a = json.load(open(sys.argv[1]))["accounts"][0]
assert a["partial"] is None and a["fetched"] == int(sys.argv[2]) and a["already_stored"] == 0, a
EOF
  [[ $proto == imap ]] || continue
  # --json of a partial run carries it too.
  start "$proto-long-again"
  sync_run --json
  expect_eq "$status" 1 "$proto-long --json: exit status"
  python3 - "$WORK/out" <<'EOF' || fail "$proto-long --json: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
a = d["accounts"][0]
assert d["ok"] is False and "more than throttle_max_wait 120 s" in a["partial"], d
EOF
done

# A throttled AUTHENTICATE is waited out as any command; past
# throttle_max_wait the run is partial before anything was fetched.
start imap-auth-short
sync_run
complete_run imap-auth-short 8
start imap-auth-long
sync_run
partial_run "imap-auth-long run 1" 0
sync_run
complete_run "imap-auth-long run 2" 8

# max_connections_per_host: three accounts on one host, synced with
# --jobs 3, hold at most one connection there at a time.
start imap-slow
keys=$(sed -n '2,$p' "$WORK/accounts.ini")
for n in 2 3; do printf '[account.thr%s]\n%s\n' "$n" "$keys" >>"$WORK/accounts.ini"; done
sed -i '1i max_connections_per_host = 1' "$WORK/accounts.ini"
sync_run --jobs 3
expect_eq "$status" 0 "three accounts: exit status ($(cat "$WORK/out" "$WORK/err"))"
expect_eq "$(grep -c ': fetched 8 ' "$WORK/out")" 3 "three accounts synced ($(cat "$WORK/out"))"
expect_eq "$(cat "$WORK/port.imap-slow.max")" 1 "connections open at once to the host"
echo "ok"

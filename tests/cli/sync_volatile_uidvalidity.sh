#!/usr/bin/env bash
# Issue 12.1: a server that reports a new UIDVALIDITY at every EXAMINE and
# SELECT (Courier before courierimapuiddb exists, Mailutils for an mbox
# without X-IMAPbase), with a folder that cannot be opened between two good
# ones (tests/servers/hostile_server.py imap-volatile).
# - each folder is listed and fetched in one selection: the first run
#   archives INBOX and Later although Broken, listed between them, fails;
# - the failing folder is one error line, the summary says "folders failed
#   1" and the exit status is 1; later folders are still synced;
# - the next runs recognize the renumbering (same UIDs, sizes and dates):
#   nothing fetched again, one line naming the cause and the cure, and the
#   number of location rows stays the same over three runs;
# - with delete = after-download the carried-over places are not trusted
#   for deletion by their listing: they are fetched and compared by hash
#   first (nothing stored twice, no new location rows).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
SERVER="$(dirname "$0")/../servers/hostile_server.py"

mk init >/dev/null
export MK_TEST_PASSWORD=pw
python3 "$SERVER" imap-volatile "$WORK/port" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.1; done
[[ -s $WORK/port ]] || fail "the volatile IMAP server did not start"
cfg="$WORK/accounts.ini"
printf '[account.vol]\nprotocol = imap\nhost = 127.0.0.1\nport = %s\ntls = none\nallow_plaintext = true\nuser = alice\npassword_env = MK_TEST_PASSWORD\n' \
  "$(cat "$WORK/port")" >"$cfg"

sync_run() {
  set +e
  timeout -s KILL 60 "$MAILKEEP" --archive "$ARCHIVE" sync --no-index --config "$cfg" >"$WORK/out" 2>"$WORK/err"
  status=$?
  set -e
}
stat_field() { mk stats --json | python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
fetched() { sed -E -n 's/^vol: fetched ([0-9]+) .*/\1/p' "$WORK/out"; }
already() { sed -E -n 's/^vol: fetched [0-9]+ \([0-9.]+ MB, ([0-9]+) already stored\).*/\1/p' "$WORK/out"; }
deleted() { sed -E -n 's/.*, deleted ([0-9]+).*/\1/p' "$WORK/out"; }
broken_failed() {
  expect_eq "$status" 1 "$1: exit status"
  expect_eq "$(grep -c 'folder Broken not synced' "$WORK/err")" 1 "$1: one line for the folder that failed"
  grep -q "folders failed 1" "$WORK/out" || fail "$1: the summary does not say a folder failed: $(cat "$WORK/out")"
  if grep -q "changed its UIDVALIDITY" "$WORK/err"; then fail "$1: $(cat "$WORK/err")"; fi
}

sync_run
broken_failed "run 1"
expect_eq "$(fetched)" 6 "run 1: messages of INBOX and Later"
expect_eq "$(stat_field messages)" 6 "run 1: messages archived"
rows=$(stat_field locations)
expect_eq "$rows" 6 "run 1: location rows"

for run in 2 3; do
  sync_run
  broken_failed "run $run"
  expect_eq "$(fetched)" 0 "run $run: fetched again"
  expect_eq "$(stat_field locations)" "$rows" "run $run: location rows"
  for f in INBOX Later; do
    grep -q "folder $f a new UIDVALIDITY .* 3 archived places carried over.*open the folder once read-write" "$WORK/err" ||
      fail "run $run: no line on $f's renumbering: $(cat "$WORK/err")"
  done
done

# Deleting: carried-over places are fetched and compared by hash first.
printf 'delete = after-download\n' >>"$cfg"
sync_run
broken_failed "delete run"
expect_eq "$(fetched)" 6 "delete run: fetched to compare by hash"
expect_eq "$(already)" 6 "delete run: all of them already stored"
expect_eq "$(deleted)" 6 "delete run: deleted once proven"
expect_eq "$(stat_field messages)" 6 "delete run: messages archived"
expect_eq "$(stat_field locations)" "$rows" "delete run: location rows"
echo "ok"

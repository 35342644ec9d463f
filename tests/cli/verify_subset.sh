#!/usr/bin/env bash
# verify --read-data-subset and --max-duration (issue 13 item 7): subsets
# N/M read explicitly, next/M rotates through all of them (state kept in
# the archive), one summary line for monitoring, exit 1 on problems, and
# bad values are usage errors. (The deadline and resume logic is tested
# with an injected clock in store/verify_schedule_test.cc.)
source "$(dirname "$0")/lib.sh"
for n in 1 2 3 4 5; do
  printf 'From: a%s@example.com\nSubject: message %s\nMessage-ID: <m%s@example.com>\n\nword%s\n' \
    "$n" "$n" "$n" "$n" >"$WORK/m$n.eml"
done
mk init >/dev/null
mk -q import --no-index "$WORK"/m{1,2,3,4,5}.eml

# ids 1..5 by id % 2: subset 1 = {2,4}, subset 2 = {1,3,5}.
mk verify --read-data-subset 2/2 >"$WORK/out"
expect_eq "$(tail -1 "$WORK/out")" "verify: ok 3 messages checked (subset 2/2), 0 problems" "explicit subset"
for want in "2 messages checked (subset 1/2)" "3 messages checked (subset 2/2)" "2 messages checked (subset 1/2)"; do
  mk verify --read-data-subset next/2 --max-duration 10m >"$WORK/out"
  expect_eq "$(tail -1 "$WORK/out")" "verify: ok $want, 0 problems" "rotating subset"
done
[[ -f "$ARCHIVE/verify-state" ]] || fail "no rotation state in the archive"

expect_status 2 mk verify --read-data-subset 0/3
grep -q "read-data-subset wants N/M" "$WORK/err" || fail "bad subset: $(cat "$WORK/err")"
expect_status 2 mk verify --max-duration 5x
grep -q "max-duration wants" "$WORK/err" || fail "bad duration: $(cat "$WORK/err")"

# A damaged message in the subset read: FAILED, a count, exit 1.
python3 - "$ARCHIVE" <<'PY'
import glob, os, sys
pack = sorted(p for p in glob.glob(sys.argv[1] + "/packs/*") if os.path.isfile(p) and os.path.getsize(p) > 0)[0]
with open(pack, "r+b") as f:
    data = bytearray(f.read())
    # flip bytes in the middle of the pack: some frame is hit
    for i in range(len(data) // 2, len(data) // 2 + 16):
        data[i] ^= 0xFF
    f.seek(0); f.write(data)
PY
expect_status 1 mk verify
tail -1 "$WORK/out" | grep -Eq "^verify: FAILED 5 messages checked \(subset 1/1\), [1-9][0-9]* problems?$" ||
  fail "damaged summary: $(cat "$WORK/out")"
echo PASS

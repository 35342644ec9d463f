#!/usr/bin/env bash
# Issue 13 acceptance on an encrypted archive (MAILKEEP_TEST_ENCRYPTED=1):
# verify checks every authentication tag, damage is one line, and a wrong
# passphrase is one line with exit 3.
# - A byte flipped in the sealed payload of a message record, with the
#   record's CRCs made right again (so only the AEAD tag can tell): verify
#   names exactly that message and exits 1; the message no longer reads,
#   its neighbours do. The same in a dictionary record: verify exits 1.
# - A byte flipped in a catalog page: verify (or the open before it) fails
#   with one line about the damage, exit 1 or 3; in page 1, every command.
# - The key file: one damaged copy is survived, both are one line, exit 3.
source "$(dirname "$0")/../cli/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
: "${MAKE_SAMPLE_MAIL:?}"
encrypted || skip "runs on an encrypted archive only (MAILKEEP_TEST_ENCRYPTED=1)"
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
init_archive
mk -q import "$WORK/sample/Maildir"
total=$(mk --json stats | json_field '["messages"]')
dicts=$(mk --json stats | json_field '["dictionaries"]')
mk -q verify || fail "a clean encrypted archive does not verify"
# (The WAL is kept between runs, empty after each: flips below hit the file.)
[[ ! -s $ARCHIVE/catalog.sqlite-wal ]] || fail "the catalog's WAL is not empty after a clean exit"

# one_line_error RC...: the last command ($WORK/out, $WORK/err) failed with
# one of the exit statuses RC (checked by the caller), printing one line
# (no stack trace, no abort) on stderr.
one_line_error() {
  [[ $(wc -l <"$WORK/err") -eq 1 ]] || { cat "$WORK/err" >&2; fail "$1: not one line on stderr"; }
  [[ $(head -c 10 "$WORK/err") == "mailkeep: " ]] || fail "$1: the line does not start with 'mailkeep: ': $(cat "$WORK/err")"
}
# run_rc CMD...: runs CMD, output in $WORK/out and $WORK/err; sets $rc.
run_rc() { set +e; "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?; set -e; }

# Wrong passphrase: the contract's line, exit 3, the passphrase nowhere.
for cmd in stats verify "show --raw 1" "search --count from:x"; do
  run_rc env MAILKEEP_PASSPHRASE=not-the-passphrase-42 "$MAILKEEP" --archive "$ARCHIVE" $cmd
  expect_eq "$rc" 3 "exit status of '$cmd' with a wrong passphrase"
  expect_eq "$(cat "$WORK/err")" "mailkeep: wrong passphrase for the archive in $ARCHIVE" "'$cmd' with a wrong passphrase"
  ! grep -q not-the-passphrase-42 "$WORK/out" "$WORK/err" || fail "the passphrase is echoed"
done

# A sealed message payload, CRCs made right: only the tag can tell.
for n in 2 $((total / 2)); do
  rm -rf "$WORK/damaged"
  cp -a "$ARCHIVE" "$WORK/damaged"
  python3 "$here/flip_record.py" "$WORK/damaged/packs" 1 "$n" >"$WORK/flipped" ||
    fail "cannot flip blob record $n: $(cat "$WORK/flipped")"
  run_rc "$MAILKEEP" --archive "$WORK/damaged" --json verify
  expect_eq "$rc" 1 "verify exit status with blob record $n damaged ($(cat "$WORK/flipped"))"
  named=$(python3 -c "import json,sys; print(' '.join(str(p['id']) for p in json.load(open(sys.argv[1]))['problems']))" "$WORK/out")
  [[ $named =~ ^[0-9]+$ ]] || fail "verify should name one message for blob record $n, named '$named'"
  run_rc "$MAILKEEP" --archive "$WORK/damaged" show --raw "$named"
  [[ $rc -ne 0 ]] || fail "damaged message $named still reads"
  one_line_error "show --raw of damaged message $named"
  other=$(( named == 1 ? 2 : named - 1 ))
  "$MAILKEEP" --archive "$WORK/damaged" show --raw "$other" >/dev/null || fail "message $other beside the damage does not read"
  echo "blob record $n ($(cat "$WORK/flipped")): verify names message $named"
done

# A sealed dictionary payload: verify reads (and authenticates) it too.
if ((dicts > 0)); then
  rm -rf "$WORK/damaged"
  cp -a "$ARCHIVE" "$WORK/damaged"
  python3 "$here/flip_record.py" "$WORK/damaged/packs" 2,3 1 >"$WORK/flipped" ||
    fail "cannot flip a dictionary record: $(cat "$WORK/flipped")"
  run_rc "$MAILKEEP" --archive "$WORK/damaged" verify
  [[ $rc -eq 1 ]] || { cat "$WORK/out" "$WORK/err" >&2; fail "verify exited $rc with a dictionary record damaged ($(cat "$WORK/flipped"))"; }
  echo "dictionary record ($(cat "$WORK/flipped")): verify exits 1: $(head -n 2 "$WORK/out" | tr '\n' ' ')"
else
  echo "note: the sample made no dictionary; the dictionary case is not exercised"
fi

# flip_at FILE OFFSET: one byte of FILE changed.
flip_at() {
  python3 -c "
import sys
f = open(sys.argv[1], 'r+b'); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x20]))" "$1" "$2"
}
# A catalog page in the middle, then page 1.
pages=$(( $(stat -c %s "$ARCHIVE/catalog.sqlite") / 4096 ))
((pages >= 3)) || fail "the catalog has only $pages pages"
for page in $((pages / 2 + 1)) 1; do
  rm -rf "$WORK/damaged"
  cp -a "$ARCHIVE" "$WORK/damaged"
  flip_at "$WORK/damaged/catalog.sqlite" $(( (page - 1) * 4096 + 1000 ))
  run_rc "$MAILKEEP" --archive "$WORK/damaged" verify
  [[ $rc -eq 1 || $rc -eq 3 ]] || { cat "$WORK/out" "$WORK/err" >&2; fail "verify exited $rc with catalog page $page damaged"; }
  if [[ -s $WORK/err ]]; then
    one_line_error "verify with catalog page $page damaged"
  fi
  grep -Eiq 'corrupt|damaged|authentication|malformed' "$WORK/out" "$WORK/err" ||
    fail "verify with catalog page $page damaged does not say so: $(cat "$WORK/out" "$WORK/err")"
  echo "catalog page $page of $pages damaged: verify exits $rc: $(cat "$WORK/err" "$WORK/out" | grep -Ei -m1 'corrupt|damaged|authentication|malformed')"
done
run_rc "$MAILKEEP" --archive "$WORK/damaged" stats
expect_eq "$rc" 3 "stats with catalog page 1 damaged"
one_line_error "stats with catalog page 1 damaged"

# The key file: two copies 4 KiB apart.
rm -rf "$WORK/damaged"
cp -a "$ARCHIVE" "$WORK/damaged"
flip_at "$WORK/damaged/key" 70
"$MAILKEEP" --archive "$WORK/damaged" -q verify || fail "one damaged copy of the key file is not survived"
flip_at "$WORK/damaged/key" $((4096 + 70))
run_rc "$MAILKEEP" --archive "$WORK/damaged" stats
expect_eq "$rc" 3 "stats with both copies of the key damaged"
one_line_error "stats with both copies of the key damaged"
echo "ok: $total messages, $dicts dictionaries; every tag checked"

#!/usr/bin/env bash
# One damaged byte costs at most one message: a byte flipped in a dictionary
# record, or in its repair file, loses no message (every one exports
# byte-exact), and verify names the damage and which copy it used (exit 1).
# An archive without repair files (as older versions made) gets them from
# the next writing command.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 command not installed"
mips="${MAILKEEP_CORPUS:-}/linux-mips-list-archive/linux-mips-2018.mboxrd.zst"
[[ -f "$mips" ]] || skip "needs $mips (1,000 messages or more, for dictionaries)"
mk init >/dev/null
mk import -q --no-index "$mips"
dicts=$(sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT count(*) FROM dictionaries")
(( dicts >= 2 )) || fail "expected dictionaries, got $dicts"
mk verify -q || fail "clean archive does not verify"
sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs ORDER BY 1" >"$WORK/want"
read -r pack offset stored <<<"$(sqlite3 -separator ' ' "$ARCHIVE/catalog.sqlite" \
  "SELECT pack, offset, stored_len FROM dictionaries WHERE id = 1")"
packfile=$(printf '%s/packs/%06d.pack' "$ARCHIVE" "$pack")
repair="$ARCHIVE/packs/dictionaries/1.repair"
[[ -f $repair ]] || fail "no repair file for dictionary 1"

flip() {  # flip FILE OFFSET
  local byte
  byte=$(dd if="$1" bs=1 skip="$2" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( byte ^ 0x08 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
every_message_exports() {
  rm -rf "$WORK/exported"
  mk export -q --format eml --out "$WORK/exported"
  find "$WORK/exported" -type f -print0 | xargs -0 sha256sum | cut -d' ' -f1 | sort >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" || fail "$1: exported messages differ from the archived ones"
}
verify_says() {  # verify_says LABEL PATTERN
  expect_status 1 "$MAILKEEP" --archive "$ARCHIVE" verify
  expect_eq "$(grep -c '^store: ' "$WORK/out")" 1 "$1: problems verify reports"
  expect_eq "$(grep -c '^message ' "$WORK/out")" 0 "$1: messages verify reports"
  grep -q "$2" "$WORK/out" || fail "$1: verify does not say '$2': $(cat "$WORK/out")"
}

for where in payload header; do
  if [[ $where == payload ]]; then pos=$(( offset + 64 + stored / 2 )); else pos=$(( offset + 10 )); fi
  flip "$packfile" "$pos"
  verify_says "pack record ($where)" "dictionary 1: its pack record is damaged.*used the copy rebuilt from .*1.repair"
  every_message_exports "pack record ($where)"
  flip "$packfile" "$pos"
done

flip "$repair" 1000
verify_says "repair file" "dictionary 1: its repair file is damaged.*used the pack record"
every_message_exports "repair file"
mk import -q "$mips"  # a writing command replaces the damaged repair file
mk verify -q || fail "verify after the repair file was rewritten"

rm -r "$ARCHIVE/packs/dictionaries"  # as an older mailkeep left it
mk import -q "$mips"
dicts=$(sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT count(*) FROM dictionaries")
expect_eq "$(ls "$ARCHIVE/packs/dictionaries" | sort -V | tr '\n' ' ')" "$(seq -s ' ' 1 "$dicts" | sed 's/\([0-9]*\)/\1.repair/g') " \
  "repair files after upgrade"
expect_eq "$(stat -c %a "$ARCHIVE/packs/dictionaries" "$repair" | tr '\n' ' ')" "700 600 " "modes"
mk verify -q || fail "verify after upgrade"
echo "ok"

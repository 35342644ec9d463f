#!/usr/bin/env bash
# A message the indexer cannot handle is reported and skipped: the rest of
# its chunk is indexed, the import keeps every message stored and exits 1
# (partial), and the message stays queued for a later run.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 command not installed"
mk init >/dev/null
for n in 1 2 3 4; do
  printf 'From: a%s@example.com\nSubject: message %s\nMessage-ID: <m%s@example.com>\n\nword%s body text\n' \
    "$n" "$n" "$n" "$n" >"$WORK/m$n.eml"
done
mk -q import --no-index "$WORK/m1.eml" "$WORK/m2.eml" "$WORK/m3.eml"

# Damage message 2's stored frame (as in verify_damage.sh), so it cannot be read.
victim=2
read -r pack offset stored <<<"$(sqlite3 -separator ' ' "$ARCHIVE/catalog.sqlite" \
  "SELECT pack, offset, stored_len FROM blobs WHERE id = $victim")"
[[ -n "$stored" ]] || fail "message $victim not found in the catalog"
packfile=$(printf '%s/packs/%06d.pack' "$ARCHIVE" "$pack")
size=$(stat -c %s "$packfile")
next=$(sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT coalesce(min(offset), $size) FROM blobs WHERE pack = $pack AND offset > $offset")
pos=$(( next - stored / 2 - 1 ))
byte=$(dd if="$packfile" bs=1 skip="$pos" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $(( byte ^ 0x20 )))" | dd of="$packfile" bs=1 seek="$pos" conv=notrunc 2>/dev/null

# The next import indexes everything queued: 1, 3 and 4 go in, 2 is named.
expect_status 1 mk --json import "$WORK/m4.eml"
grep -q "message $victim not indexed" "$WORK/err" || fail "unindexed message not named: $(cat "$WORK/err")"
expect_eq "$(json_field '["imported"]' <"$WORK/out")" 1 "messages imported"
expect_eq "$(json_field '["not_indexed"]' <"$WORK/out")" 1 "messages not indexed"
expect_eq "$(json_field '["failed"]' <"$WORK/out")" 0 "messages failed to import"
expect_eq "$(mk --json stats | json_field '["messages"]')" 4 "messages stored"
expect_eq "$(mk search --count '*')" 3 "messages searchable"
for n in 1 3 4; do
  expect_eq "$(mk search --format ids "word$n")" "$n" "search word$n"
done
# Still queued: a later run tries it again (and fails again, partially).
expect_status 1 mk reindex --pending
grep -q "message $victim not indexed" "$WORK/err" || fail "message $victim no longer queued"
echo "ok"

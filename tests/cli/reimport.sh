#!/usr/bin/env bash
# Importing again a Maildir that is all archived stores nothing: no new
# dictionary, not one pack byte. 1,000 messages, so that the first import
# trains a dictionary and the second starts at the retrain threshold (the
# messages stored with that dictionary count as "since" it).
source "$(dirname "$0")/lib.sh"
mk init >/dev/null
md="$WORK/Maildir"
mkdir -p "$md/cur" "$md/new" "$md/tmp"
for i in $(seq 1000); do
  printf 'From: s%d@example.org\nTo: list@example.org\nSubject: message %d\nMessage-ID: <m%d@example.org>\n\nBody %d: the quick brown fox jumps over the lazy dog.\n' \
    $((i % 7)) "$i" "$i" "$i" >"$md/cur/$i.host:2,S"
done
pack_bytes() { find "$ARCHIVE/packs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }'; }
dictionaries() { mk stats --json | json_field '["dictionaries"]'; }

mk import --no-index "$md" >"$WORK/first"
grep -q '^imported 1000,' "$WORK/first" || fail "first import: $(cat "$WORK/first")"
expect_eq "$(dictionaries)" 1 "dictionaries after the first import"
before=$(pack_bytes)

mk import --no-index "$md" >"$WORK/second"
grep -q '^imported 0, duplicates 0, already archived 1000,' "$WORK/second" || fail "second import: $(cat "$WORK/second")"
expect_eq "$(dictionaries)" 1 "dictionaries after importing the same Maildir again"
expect_eq "$(pack_bytes)" "$before" "pack bytes after importing the same Maildir again"
echo "reimport: ok"

#!/usr/bin/env bash
# verify compares the catalog with the full-text index: an index holding
# documents for messages the catalog lacks, and messages neither indexed nor
# queued, are reported (exit 1); messages waiting in the queue are not a
# problem.
source "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 command not installed"
for n in 1 2 3 4 5; do
  printf 'From: a%s@example.com\nSubject: message %s\nMessage-ID: <m%s@example.com>\n\nword%s\n' \
    "$n" "$n" "$n" "$n" >"$WORK/m$n.eml"
done

# A healthy archive: all good.
mk init >/dev/null
mk -q import "$WORK"/m{1,2,3,4,5}.eml
mk verify >"$WORK/out" || { cat "$WORK/out"; fail "verify of a healthy archive"; }
grep -qx "verify: ok 5 messages checked (subset 1/1), 0 problems" "$WORK/out" || fail "verify summary: $(cat "$WORK/out")"

# Queued but not indexed yet (import --no-index): fine, and said.
mk -q import --no-index "$WORK/m1.eml" >/dev/null  # nothing new
cp -a "$ARCHIVE" "$WORK/full"
rm -rf "$ARCHIVE"
mk init >/dev/null
mk -q import --no-index "$WORK"/m{1,2,3}.eml
mk verify >"$WORK/out" || { cat "$WORK/out"; fail "verify with queued messages"; }
grep -q "3 messages waiting to be indexed" "$WORK/out" || fail "queued messages not mentioned: $(cat "$WORK/out")"

# More documents than messages: the five-message index beside a
# three-message catalog.
mk -q reindex
rm -rf "$ARCHIVE/xapian"
cp -a "$WORK/full/xapian" "$ARCHIVE/xapian"
expect_status 1 mk verify
grep -q "index: 5 documents for 3 messages; run \`mailkeep reindex\`" "$WORK/out" || fail "drift not reported: $(cat "$WORK/out")"

# Messages neither indexed nor queued: an index of three beside a catalog
# of five whose queue was emptied.
rm -rf "$ARCHIVE"
cp -a "$WORK/full" "$ARCHIVE"
mk -q import --no-index "$WORK/m1.eml" >/dev/null
rm -rf "$ARCHIVE/xapian"
sqlite3 "$ARCHIVE/catalog.sqlite" "INSERT INTO index_queue(message) SELECT id FROM messages WHERE id <= 3"
mk -q reindex --pending
expect_status 1 mk verify
grep -q "index: 2 messages missing from the index and not queued" "$WORK/out" || fail "missing not reported: $(cat "$WORK/out")"
mk -q reindex
mk verify >/dev/null || fail "verify after reindex"
echo "ok"

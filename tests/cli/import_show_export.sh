#!/usr/bin/env bash
# init → import the bundled sample (Maildir++ and mbox) → import again adds
# nothing → show/--raw/--json → export eml/mbox/maildir round trips.
source "$(dirname "$0")/lib.sh"
: "${MAKE_SAMPLE_MAIL:?}"
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
init_archive
mk --json import "$WORK/sample/Maildir" "$WORK/sample/old-mail.mbox" >"$WORK/first.json"
imported=$(json_field '["imported"]' <"$WORK/first.json")
failed=$(json_field '["failed"]' <"$WORK/first.json")
dups=$(json_field '["duplicates"]' <"$WORK/first.json")
expect_eq "$failed" 0 "first import failures"
[[ $imported -gt 250 ]] || fail "first import stored only $imported messages"
[[ $dups -ge 1 ]] || fail "the message present in both the Maildir and the mbox was not seen as a duplicate"

# Importing the same input again adds nothing.
mk --json import "$WORK/sample/Maildir" "$WORK/sample/old-mail.mbox" >"$WORK/second.json"
expect_eq "$(json_field '["imported"]' <"$WORK/second.json")" 0 "second import stored"
expect_eq "$(json_field '["duplicates"]' <"$WORK/second.json")" 0 "second import new locations"

total=$(mk --json stats | json_field '["messages"]')
expect_eq "$total" "$imported" "messages in stats"

# Every original file comes back byte-exact through show --raw and export eml.
mk export --format eml --out "$WORK/eml" >/dev/null
count=$(ls "$WORK/eml" | wc -l)
expect_eq "$count" "$total" "exported eml files"
( cd "$WORK/sample/Maildir" && find . -type f -path '*/cur/*' -o -type f -path '*/new/*' | xargs -d '\n' sha256sum | cut -d' ' -f1 | sort -u ) >"$WORK/orig.sha"
( cd "$WORK/eml" && sha256sum * | cut -d' ' -f1 | sort -u ) >"$WORK/exported.sha"
missing=$(comm -23 "$WORK/orig.sha" "$WORK/exported.sha" | wc -l)
expect_eq "$missing" 0 "Maildir files whose bytes are not in the export"

mk show --raw 1 >"$WORK/one.raw"
cmp -s "$WORK/one.raw" "$WORK/eml/1.eml" || fail "show --raw differs from export eml"

mk --json show 1 >"$WORK/one.json"
for field in id message_id subject date from sender reply_to to cc bcc in_reply_to references size sha256 parts attachments text locations; do
  python3 -c "import json,sys; d=json.load(open('$WORK/one.json')); sys.exit(0 if '$field' in d else 1)" ||
    fail "show --json lacks '$field'"
done
expect_eq "$(json_field '["sha256"]' <"$WORK/one.json")" "$(sha256sum "$WORK/one.raw" | cut -d' ' -f1)" "show sha256"

# mid: lookup finds the same message.
mid=$(json_field '["message_id"]' <"$WORK/one.json")
if [[ -n "$mid" ]]; then
  expect_eq "$(mk --json show "mid:$mid" | json_field '["id"]')" 1 "show mid:"
fi

# mbox export, re-imported into a second archive, gives the same blobs.
mk export --format mbox --out "$WORK/all.mbox" >/dev/null
init_archive "$WORK/second"
"$MAILKEEP" --archive "$WORK/second" --json import "$WORK/all.mbox" >"$WORK/re.json"
expect_eq "$(json_field '["imported"]' <"$WORK/re.json")" "$total" "messages re-imported from the exported mbox"
"$MAILKEEP" --archive "$WORK/second" export --format eml --out "$WORK/eml2" >/dev/null
( cd "$WORK/eml2" && sha256sum * | cut -d' ' -f1 | sort -u ) >"$WORK/exported2.sha"
# A message without a final newline gains one in mbox form (mbox cannot
# represent its absence); everything else must be identical.
diffs=$(comm -3 "$WORK/exported.sha" "$WORK/exported2.sha" | wc -l)
[[ $diffs -le 2 ]] || fail "mbox round trip changed $((diffs / 2)) messages"

# Maildir export keeps flags from the locations.
mk export --format maildir --out "$WORK/md" >/dev/null
expect_eq "$(ls "$WORK/md/cur" | wc -l)" "$total" "maildir export files"
[[ $(ls "$WORK/md/cur" | grep -c ':2,.*S') -gt 0 ]] || fail "no exported Maildir file carries the Seen flag"
[[ $(stat -c %a "$WORK/md/cur/$(ls "$WORK/md/cur" | head -1)") == 600 ]] || fail "exported file is not 0600"

# Export by Message-ID.
if [[ -n "$mid" ]]; then
  mk export "mid:$mid" --format eml --out "$WORK/one" >/dev/null
  expect_eq "$(ls "$WORK/one" | wc -l)" 1 "export mid: count"
fi

# Archive files are private.
[[ $(stat -c %a "$ARCHIVE/catalog.sqlite") == 600 ]] || fail "catalog is not 0600"
[[ $(stat -c %a "$ARCHIVE/packs") == 700 ]] || fail "packs/ is not 0700"
for p in "$ARCHIVE"/packs/*.pack; do [[ $(stat -c %a "$p") == 600 ]] || fail "$p is not 0600"; done

mk verify --deep >/dev/null || fail "verify --deep failed on a clean archive"
echo "ok: $total messages imported, exported and verified"

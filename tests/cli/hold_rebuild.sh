#!/usr/bin/env bash
# Legal holds survive a lost catalog (issue 13): rebuild-catalog (the
# recovery from a lost catalog) brings every hold back with its reason, so
# that prune and delete still keep a held message; a released message stays
# released. Run plain and encrypted (MAILKEEP_TEST_ENCRYPTED=1).
source "$(dirname "$0")/lib.sh"

M="$WORK/mail"
mkdir -p "$M"/{cur,new,tmp}
for n in 1 2 3; do
  printf 'From: p%s@example.org\nTo: keep@example.org\nSubject: note %s\nDate: Thu, 1 Jan 2015 1%s:00:00 +0000\nMessage-ID: <m%s@example.org>\n\nBody %s\n' \
    "$n" "$n" "$n" "$n" "$n" >"$M/cur/m$n.eml:2,S"
done
count() { mk --json stats | json_field '["messages"]'; }
lose_catalog() {
  rm -f "$ARCHIVE"/catalog.sqlite*
  mk -q rebuild-catalog || fail "rebuild-catalog after $1"
}
held_mids() { mk --json hold --list | python3 -c 'import json,sys; print(" ".join(sorted(h["message_id"] for h in json.load(sys.stdin))))'; }

init_archive
mk import -q "$M"
expect_eq "$(count)" 3 "messages imported"
mk -q hold "id:m1@example.org" "id:m2@example.org" --reason "case 2026-17: keep"

# The catalog is lost: the holds come back with their reason.
lose_catalog "two holds"
expect_eq "$(held_mids)" "m1@example.org m2@example.org" "held after rebuild-catalog"
reason=$(mk --json hold --list | json_field '[0]["reason"]')
expect_eq "$reason" "case 2026-17: keep" "the reason after rebuild-catalog"
printf 'archive = %s\nretention = 1y\n' "$ARCHIVE" >"$WORK/config.ini"
"$MAILKEEP" --config "$WORK/config.ini" prune --now 2026-01-01 >"$WORK/out"
grep -q 'removed 1 message, 2 held' "$WORK/out" || fail "prune after rebuild-catalog: $(cat "$WORK/out")"
expect_eq "$(count)" 2 "prune keeps the held messages"
mk delete '*' --yes >"$WORK/out"
grep -q 'removed 0 messages, 2 held' "$WORK/out" || fail "delete after rebuild-catalog: $(cat "$WORK/out")"

# Released, then the catalog is lost: the release stands.
mk -q release "id:m1@example.org"
lose_catalog "a release"
expect_eq "$(held_mids)" "m2@example.org" "held after release and rebuild-catalog"
mk delete "id:m1@example.org" --yes >/dev/null
expect_eq "$(count)" 1 "the released message can be deleted"
mk verify -q || fail "verify after all of it"

# repack keeps what rebuild needs: holds still come back.
mk -q repack
lose_catalog "a repack"
expect_eq "$(held_mids)" "m2@example.org" "held after repack and rebuild-catalog"
expect_eq "$(count)" 1 "messages after repack and rebuild-catalog"
echo "ok"

#!/usr/bin/env bash
# delete, hold, release, prune and audit (issue 13, items 2-4), on a small
# Maildir of messages with fixed dates; prune runs with --now, so nothing
# depends on today's date.
#   - delete --dry-run and a delete without --yes off a terminal change
#     nothing; delete QUERY removes exactly the matches from search, show
#     and stats; the rest read back byte-exact; verify passes;
#   - a held message survives delete and prune (both say how many were
#     held); released, the next prune removes it;
#   - prune keeps flagged messages (keep_flagged = yes) and recent ones;
#   - audit lists every removal, hold and release with Message-ID and the
#     SHA-256 of the bytes, after the messages are gone;
#   - rebuild-catalog (packs alone) does not bring removed messages back;
#   - after repack, no word of a removed message is anywhere under the
#     archive directory, index included (grep -r; an encrypted archive's
#     index cache too), while the remaining messages are still found.
source "$(dirname "$0")/lib.sh"

M="$WORK/mail"
mkdir -p "$M"/{cur,new,tmp}
msg() {  # N DATE WORDS [FLAGS]
  local f="$M/cur/m$1.eml:2,${4:-S}"
  printf 'From: Person %s <p%s@example.org>\nTo: keep@example.org\nSubject: note %s %s\nDate: %s\nMessage-ID: <m%s@example.org>\n\nBody %s: %s\n' \
    "$1" "$1" "$1" "$3" "$2" "$1" "$1" "$3" >"$f"
}
msg 1 "Thu, 1 Jan 2015 10:00:00 +0000" "oldpaper"
msg 2 "Thu, 1 Jan 2015 11:00:00 +0000" "oldflagged" FS
msg 3 "Fri, 1 Jan 2016 10:00:00 +0000" "litigation"
msg 4 "Mon, 1 Jan 2024 10:00:00 +0000" "recent"
msg 5 "Sun, 1 Jan 2023 10:00:00 +0000" "purgeword xylophonic"
msg 6 "Sun, 1 Jan 2023 11:00:00 +0000" "purgeword quagmirely"
# Words only removed messages have, and no query or hold reason names.
REMOVED_WORDS=(oldpaper litigation xylophonic quagmirely oldflagged)
sha_of() { sha256sum "$M/cur/m$1.eml:2,"* | cut -d' ' -f1; }
# How the audit names message N's bytes: its SHA-256; an encrypted
# archive's keyed content hash, which only the key can compute.
hash_of() { if encrypted; then echo "content_hash=[0-9a-f]\{64\}"; else echo "sha256=$(sha_of "$1")"; fi; }
id_of() { mk search --format ids "id:m$1@example.org"; }
count() { mk --json stats | json_field '["messages"]'; }

init_archive
mk import -q "$M"
expect_eq "$(count)" 6 "messages imported"
declare -A ID
for n in 1 2 3 4 5 6; do ID[$n]=$(id_of "$n"); done

# A dry run lists and removes nothing; off a terminal, --yes is needed.
mk delete purgeword --dry-run >"$WORK/dry"
expect_eq "$(grep -c 'note' "$WORK/dry")" 2 "dry run lists the two matches"
expect_eq "$(mk --json delete purgeword --dry-run | json_field '["would_remove"]')" 2 "dry run count"
expect_status 2 mk delete purgeword </dev/null
grep -q -- '--yes' "$WORK/err" || fail "delete off a terminal does not name --yes: $(cat "$WORK/err")"
expect_eq "$(count)" 6 "nothing removed by the dry run or the unconfirmed delete"

# Delete by query.
mk delete purgeword --yes >"$WORK/out"
grep -q 'removed 2 messages' "$WORK/out" || fail "delete summary: $(cat "$WORK/out")"
expect_eq "$(count)" 4 "messages after delete"
expect_eq "$(mk search --count purgeword)" 0 "search after delete"
expect_status 1 mk show "${ID[5]}"
for n in 1 2 3 4; do
  mk show --raw "${ID[$n]}" | cmp -s - "$M/cur/m$n.eml:2,"* || fail "message $n changed after the delete"
done
mk verify -q || fail "verify after delete"

# Legal hold: delete and prune keep the held message.
mk hold "id:m3@example.org" --reason "case 2026-17" >/dev/null
mk hold --list >"$WORK/holds" 2>/dev/null
grep -q 'm3@example.org.*case 2026-17' "$WORK/holds" || fail "hold --list: $(cat "$WORK/holds")"
expect_status 2 mk hold "id:m4@example.org"  # no --reason
mk delete --yes "id:m3@example.org" >"$WORK/out"
grep -q 'removed 0 messages, 1 held' "$WORK/out" || fail "delete of a held message: $(cat "$WORK/out")"
expect_eq "$(id_of 3)" "${ID[3]}" "the held message after delete"

cat >"$WORK/config.ini" <<INI
archive = $ARCHIVE
retention = 7y
keep_flagged = yes
INI
prune() { "$MAILKEEP" --config "$WORK/config.ini" prune --now 2026-01-01 "$@"; }
prune --dry-run >"$WORK/out"
grep -q 'would remove 1 message, 1 held' "$WORK/out" || fail "prune --dry-run: $(cat "$WORK/out")"
expect_eq "$(count)" 4 "nothing removed by prune --dry-run"
prune >"$WORK/out"
expect_eq "$(wc -l <"$WORK/out")" 1 "prune prints one line"
grep -q 'prune: removed 1 message, 1 held (kept), 1 flagged (kept), 4 examined' "$WORK/out" || fail "prune: $(cat "$WORK/out")"
expect_eq "$(id_of 1)" "" "the old message after prune"
expect_eq "$(id_of 2)" "${ID[2]}" "the old flagged message after prune"
expect_eq "$(id_of 3)" "${ID[3]}" "the old held message after prune"
expect_eq "$(id_of 4)" "${ID[4]}" "the recent message after prune"

# Released, the next prune removes it.
mk release "id:m3@example.org" >/dev/null
mk hold --list >"$WORK/holds" 2>/dev/null
expect_eq "$(wc -l <"$WORK/holds")" 0 "holds after release"
prune -q
expect_eq "$(id_of 3)" "" "the released message after prune"
expect_eq "$(count)" 2 "messages left"
mk verify -q || fail "verify after prune"

# The audit trail, after the messages are gone.
mk audit >"$WORK/audit"
for n in 1 3 5 6; do
  grep -q "removed <m$n@example.org> $(hash_of "$n") date=" "$WORK/audit" ||
    fail "audit lacks the removal of message $n: $(cat "$WORK/audit")"
done
grep -q "held <m3@example.org> $(hash_of 3) .*: hold id:m3@example.org (reason: case 2026-17)" "$WORK/audit" ||
  fail "audit lacks the hold: $(cat "$WORK/audit")"
grep -q "released <m3@example.org>" "$WORK/audit" || fail "audit lacks the release"
expect_eq "$(grep -c ' removed ' "$WORK/audit")" 4 "removals in the audit"
expect_eq "$(mk --json audit | json_field '[0]["user"]')" "$(id -un)" "audit user"
expect_eq "$(mk --json audit | json_field '[0]["size"]')" "$(stat -c %s "$M/cur/m5.eml:2,S")" "audit size"

# Packs alone (rebuild-catalog) do not bring removed messages back.
mk rebuild-catalog -q
mk reindex --pending -q
expect_eq "$(count)" 2 "messages after rebuild-catalog"
expect_eq "$(mk search --count purgeword OR oldpaper OR litigation)" 0 "removed messages after rebuild-catalog"
mk verify -q || fail "verify after rebuild-catalog"

# repack: the removed messages' words are gone from every file, the
# index's free blocks included; the rest is still there and found.
# (rebuild-catalog rebuilt the index; message 2 is deleted from it now.)
removed_word_files() {  # DIR...
  local w patterns=()
  for w in "${REMOVED_WORDS[@]}"; do patterns+=(-e "$w"); done
  { grep -rla "${patterns[@]}" "$@" 2>/dev/null || true; } | sed "s|$WORK/||" | tr '\n' ' '
}
mk delete -q --yes "id:m2@example.org"
[[ -n $(removed_word_files "$(index_dir)") ]] || fail "the index keeps no removed word before repack; the check would prove nothing"
mk --json repack >"$WORK/out" 2>"$WORK/err"
# The catalog rebuild-catalog set aside (catalog.sqlite.old-1) still has
# the removed messages' rows: it is the user's to delete; repack leaves it
# and says so.
grep -q "catalog.sqlite.old-1 (set aside by rebuild-catalog) may still name removed messages" "$WORK/err" ||
  fail "repack did not name the catalog set aside: $(cat "$WORK/err")"
rm "$ARCHIVE"/catalog.sqlite.old-*
where=$(removed_word_files "$ARCHIVE" "$(index_dir)")
[[ -z $where ]] || fail "after repack a removed message's word is still in: $where"
expect_eq "$(json_field '["index_compacted"]' <"$WORK/out")" True "repack compacted the index"
expect_eq "$(mk search --count '*')" 1 "documents in the index after repack"
expect_eq "$(mk search --format ids recent)" "${ID[4]}" "the remaining message found after repack"
mk show --raw "${ID[4]}" | cmp -s - "$M/cur/m4.eml:2,"* || fail "message 4 changed by repack"
mk verify -q || fail "verify after repack"
echo "ok"

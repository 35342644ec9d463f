#!/usr/bin/env bash
# SIGKILLs `mailkeep repack` at random moments (KILLS times, default 60;
# tests/crash/repack_archive.sh makes the archive: 8 of 80 messages
# removed by `mailkeep delete`, tombstones included, 2 held, one removed
# message in the dictionary's training samples, a dozen packs, an index).
# So repack replaces the dictionary (recompressing its messages), rewrites
# the packs, then compacts the index. The delay is uniform over the length
# of an uninterrupted repack, shrinking by 30 % each time a run finishes
# before its kill. After every kill:
#   - `verify` passes (every catalog message reads back and matches its
#     SHA-256, every dictionary and its repair file check out, the index
#     has a document for every message), the catalog holds exactly the 72
#     messages that stay, the held ones held, and the index 72 documents;
#   - a repack without a kill completes, verify passes again, the catalog
#     is unchanged, the index has only the shard directories XAPIANDB
#     names, and the removed messages' texts and words are nowhere under
#     the archive directory (grep -r over packs, repair files, orphans,
#     catalog and WAL, the index, and every dictionary decompressed).
# (tests/fault/repack_steps.sh kills the index's compaction at each of its
# steps; here the kills land where they may.)
# At the end, once: every remaining message exported and grepped (no
# decompressed frame holds the texts), and rebuild-catalog from the packs
# gives back exactly the 72 (so no record of a removed message is left in
# any pack).
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/repack_archive.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
KILLS=${KILLS:-60}
TEMPLATE="$WORK/template"
make_repack_archive "$TEMPLATE"
sha_lines() { sqlite3 -readonly "$ARCHIVE/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs" | sort; }
pack_state() { (cd "$ARCHIVE/packs" && find . -name '*.pack' -printf '%p %s\n' | sort | md5sum); }

# One uninterrupted repack: how long it takes, and what the packs look like after.
rm -rf "$ARCHIVE" && cp -a "$TEMPLATE" "$ARCHIVE"
before_state=$(pack_state)
start=$(date +%s%N)
mk -q repack
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
done_state=$(pack_state)
echo "an uninterrupted repack takes ${full_ms} ms; killing $KILLS times"

RANDOM=2718
killed=0 finished=0 runs=0 untouched=0 midway=0 complete=0 in_index=0 max_ms=$full_ms
start=$(date +%s)
while ((killed < KILLS)); do
  runs=$((runs + 1))
  ((runs <= KILLS * 3)) || fail "only $killed of $runs runs were killed mid-way"
  rm -rf "$ARCHIVE" && cp -a "$TEMPLATE" "$ARCHIVE"
  # The binary itself (exec): $! is mailkeep, and SIGKILL reaches it.
  (exec "$MAILKEEP" --archive "$ARCHIVE" -q repack >/dev/null 2>"$WORK/err") &
  pid=$!
  # Every other kill in the second half of the run, where the packs are
  # rewritten (the first part reads and checks, changing nothing).
  lo=$(( runs % 2 ? 0 : max_ms / 2 ))
  ms=$(( lo + (RANDOM * 32768 + RANDOM) % (max_ms - lo + 1) ))
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  set +e
  wait "$pid" 2>/dev/null
  rc=$?
  set -e
  what="run $runs (kill after $ms ms)"
  if [[ $rc -eq 137 ]]; then
    killed=$((killed + 1))
    case $(pack_state) in
      "$before_state") untouched=$((untouched + 1)) ;;
      "$done_state") complete=$((complete + 1)) ;;
      *) midway=$((midway + 1)) ;;
    esac
  else
    [[ $rc -eq 0 ]] || fail "$what: repack exited $rc before its kill: $(head -3 "$WORK/err")"
    finished=$((finished + 1))
    # Finished first: the measured run was slow (a cold start); aim earlier.
    max_ms=$((max_ms * 7 / 10 > 20 ? max_ms * 7 / 10 : 20))
  fi
  mk verify >"$WORK/verify" 2>&1 || fail "$what: verify failed after the kill: $(head -3 "$WORK/verify")"
  cmp -s <(sha_lines) "$TEMPLATE.expected" || fail "$what: the catalog's messages changed"
  held_ok "$ARCHIVE" || fail "$what: a held message is gone or no longer held"
  docs=$(index_documents "$ARCHIVE")
  [[ $docs == 72 ]] || fail "$what: the index has $docs documents, not 72"
  index_shards_listed "$ARCHIVE" >/dev/null || in_index=$((in_index + 1))  # killed mid-compaction
  mk -q repack 2>"$WORK/err" || fail "$what: a repack after the kill failed: $(head -3 "$WORK/err")"
  mk verify >"$WORK/verify" 2>&1 || fail "$what: verify failed after the second repack: $(head -3 "$WORK/verify")"
  cmp -s <(sha_lines) "$TEMPLATE.expected" || fail "$what: the second repack changed the catalog's messages"
  where=$(index_shards_listed "$ARCHIVE") || fail "$what: after the second repack $where"
  # The removed texts' absence (a slow scan of every file and dictionary)
  # after every fifth kill's completing repack and the last.
  if ((killed % 5 == 0 || killed == KILLS)); then
    where=$(removed_text_gone "$ARCHIVE") || fail "$what: a removed message's text is still there: $where"
  fi
done
echo "killed $killed runs ($untouched before any pack changed, $midway mid-way, $complete after the last pack, $in_index of them amid the index's compaction), $finished finished before their kill, in $(($(date +%s) - start)) s"
((midway >= KILLS / 10)) || fail "only $midway of $killed kills landed mid-way through the packs"

# Every remaining frame decompressed: no secret; the packs alone hold
# exactly the 72 messages (a removed message's record would come back).
mk export --format mbox --out "$WORK/all.mbox" '*' >/dev/null 2>"$WORK/err" || fail "export failed: $(head -3 "$WORK/err")"
if grep -qa -e "$SECRET" -e "$DICT_SECRET" "$WORK/all.mbox"; then fail "a remaining message decompresses to a removed text"; fi
mk -q rebuild-catalog >/dev/null 2>"$WORK/err" || fail "rebuild-catalog after repack failed: $(head -3 "$WORK/err")"
cmp -s <(sha_lines) "$TEMPLATE.expected" || fail "rebuild-catalog found $(sha_lines | wc -l) messages in the packs, not the 72 that stay"
mk verify >/dev/null || fail "verify failed after rebuild-catalog"
echo "ok"

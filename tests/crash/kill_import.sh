#!/usr/bin/env bash
# SIGKILLs `mailkeep import` and checks after every kill that the archive
# opens and verifies and that every message the killed run had reported as
# committed ("stored"/"duplicate"/"known" lines of import -v) is in it; and
# that the next run completes the set with no duplicate.
#
# Input: the first 400 messages of linux-mips-2018 (real mail, 3 MB) when
# ../shared/corpus is there, else the generated sample (240 messages). The
# baseline, built once, holds the first quarter of them; every round starts
# from a copy of it and imports the whole input in batches, so that the run
# appends to an existing pack, trains the first dictionary (its repair file
# included) and rolls to a new pack (--debug-dictionary-after,
# --debug-pack-size, set from the input).
#
# 1. Kills placed where they matter, each on a fresh copy of the baseline:
#    the fault library (tests/fault/fault_inject.cc, FAULT_KIND=kill) sends
#    SIGKILL just before the l-th file operation under the archive, and
#    `import --no-index` does them in a fixed order, read from a trace of a
#    run without a kill. One kill each: while a batch is being parsed,
#    compressed and appended; between the pack append and its fsync; between
#    that fsync and the catalog commit; inside the commit (WAL written, not
#    synced); while the dictionary's repair file is made, and before its
#    rename; at the pack roll, before the new pack exists and before the
#    packs directory is synced; in the catalog checkpoint at the end; and in
#    a run that recovers the uncommitted pack tail such a kill left. While
#    indexing (an import with the index, operations under xapian/ counted):
#    before the index's first write, and before its first and its last
#    commit (the version file's rename); with the run indexed into a
#    segment of its own, before the index's stub lists the segment, before
#    the segment's first commit, and before the stub switches to the
#    segment the closing run merged it into. After each: the checks above, then
#    a run without a kill completes the set exactly once and verifies (and,
#    after an index kill, every message is found by a search).
# 2. KILLS (default 60) SIGKILLs at random moments of `import --no-index`
#    runs, each resuming what the killed one left (a run that finishes
#    before its kill must have completed the set; then the next round
#    starts from the baseline again). The last run, uninterrupted and with
#    the index, completes and indexes the set.
#
# KILL_PLACED=0 leaves out part 1 (it needs the fault library and counts
# operations under the archive directory, where an encrypted archive's
# index is not): the encrypted variant runs part 2 only, checking through
# mailkeep (held_sha256s) instead of reading the catalog.
source "$(dirname "$0")/../cli/lib.sh"
PLACED=${KILL_PLACED:-1}
: "${FAULT_LIB:=}"
((PLACED == 0)) || [[ -n "$FAULT_LIB" && -f "$FAULT_LIB" ]] || skip "FAULT_LIB (the fault-injection library) is not built"
KILLS=${KILLS:-60}
mips="${MAILKEEP_CORPUS:-}/linux-mips-list-archive/linux-mips-2018.mboxrd.zst"
if [[ -f "$mips" ]]; then
  # The first 400 messages, and the first 100 for the baseline.
  first_of() { awk -v n="$1" '/^From mboxrd@z Thu Jan  1 00:00:00 1970$/ && ++c > n {exit} {print}'; }
  { zstd -dc "$mips" 2>/dev/null || true; } | first_of 400 >"$WORK/input.mbox"  # zstd stops at awk's exit
  first_of 100 <"$WORK/input.mbox" >"$WORK/first.mbox"
  INPUT="$WORK/input.mbox" FIRST="$WORK/first.mbox"
  zstd -dc "${mips%.mboxrd.zst}.manifest.tsv.zst" | sed -n 2,401p | cut -f4 | sort -u >"$WORK/expected.sha"
  BATCH=50
else
  echo "note: ${MAILKEEP_CORPUS:-../shared/corpus} not found; crash-testing with the generated sample instead"
  : "${MAKE_SAMPLE_MAIL:?}"
  "$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
  INPUT="$WORK/sample/Maildir" FIRST="$WORK/first"
  mkdir -p "$FIRST"/{cur,new,tmp}
  find "$INPUT" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | sort >"$WORK/files"
  head -n "$(($(wc -l <"$WORK/files") / 4))" "$WORK/files" | xargs -d '\n' cp -t "$FIRST/cur"
  xargs -d '\n' sha256sum <"$WORK/files" | cut -d' ' -f1 | sort -u >"$WORK/expected.sha"
  BATCH=20
fi
expected=$(wc -l <"$WORK/expected.sha")

# The baseline; the run's flags from the pack size it reaches without a roll.
BASE="$WORK/baseline"
init_archive "$BASE"
"$MAILKEEP" --archive "$BASE" -q import --batch "$BATCH" "$FIRST"
held=$(ARCHIVE="$BASE" held_sha256s | wc -l)
ARCHIVE="$WORK/probe"
cp -a "$BASE" "$ARCHIVE"
mk -q import --no-index --batch "$BATCH" --debug-dictionary-after 0 "$INPUT"
base_size=$(stat -c %s "$BASE/packs/000001.pack")
full_size=$(stat -c %s "$ARCHIVE/packs/000001.pack")
FLAGS=(--batch "$BATCH" --debug-dictionary-after $(((held + expected) / 2))
  --debug-pack-size $((base_size + (full_size - base_size) / 2)))

check_complete() {
  held_sha256s >"$WORK/final.sha"
  [[ $(sort -u "$WORK/final.sha" | wc -l) -eq $(wc -l <"$WORK/final.sha") ]] || fail "$1: duplicate blobs in the catalog"
  cmp -s "$WORK/final.sha" "$WORK/expected.sha" ||
    fail "$1: the archive does not hold exactly the $expected input messages ($(wc -l <"$WORK/final.sha") held)"
}
# check_killed WHAT LOG: verify passes; what the killed run reported is there.
check_killed() {
  mk -q verify >"$WORK/verify" 2>&1 || fail "$1: verify failed: $(head -3 "$WORK/verify")"
  { grep -E '^(stored|duplicate|known) ' "$2" || true; } | cut -d' ' -f2,3 | sort -u >"$WORK/reported.now"
  cut -d' ' -f2 "$WORK/reported.now" | sort -u >"$WORK/reported.sha"
  cat "$WORK/reported.sha" >>"$WORK/reported"
  [[ -s $WORK/reported.now ]] || return 0
  # (only the reported messages: an encrypted archive exports what it checks)
  held_sha256s $(cut -d' ' -f1 "$WORK/reported.now") | sort -u >"$WORK/have.sha"
  lost=$(comm -23 "$WORK/reported.sha" "$WORK/have.sha" | wc -l)
  [[ $lost -eq 0 ]] || fail "$1: $lost message(s) reported as stored are missing"
}
# rerun WHAT [import flags]: a run without a kill completes the set.
rerun() {
  local what=$1
  shift
  mk -q import "$@" "${FLAGS[@]}" "$INPUT" 2>"$WORK/err" || fail "$what: the next run failed: $(head -3 "$WORK/err")"
  check_complete "$what: after the next run"
  mk -q verify >"$WORK/verify" 2>&1 || fail "$what: verify after the next run: $(head -3 "$WORK/verify")"
}

# 1. Kills at chosen steps. A run without a kill gives the order of the
# operations (the trace: "N OP PATH", PATH relative to the archive).
trace_of() {  # trace_of TRACE FAULT_DIR IMPORT-FLAGS...: a run on a baseline copy
  local trace=$1 dir=$2
  shift 2
  rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
  env LD_PRELOAD="$FAULT_LIB" FAULT_DIR="$dir" FAULT_TRACE="$trace" \
    "$MAILKEEP" --archive "$ARCHIVE" -q import "$@" "${FLAGS[@]}" "$INPUT" || fail "the run without a kill failed"
  sed -i "s| $ARCHIVE/| |; s| $ARCHIVE\$| .|" "$trace"
}
# step [N] OP PATH-REGEX [AFTER]: the N-th (default 1st) such operation after
# step AFTER (default 0).
step() {
  local n=1
  [[ $1 =~ ^[0-9]+$ ]] && { n=$1 && shift; }
  awk -v n="$n" -v op="$1" -v re="^($2)\$" -v after="${3:-0}" \
    '$1 > after && $2 == op && $3 ~ re && ++k == n {print $1; exit}' "$WORK/trace"
}
# kill_at WHAT L FAULT_DIR FAULT_OPS IMPORT-FLAGS...: one run killed before
# operation L (counted under FAULT_DIR, FAULT_OPS kinds only), then the checks.
kill_at() {
  local what=$1 l=$2 dir=$3 ops=$4 rc
  shift 4
  [[ -n $l ]] || fail "$what: no such step in the run's trace"
  rm -f "$WORK/hit"
  set +e
  env LD_PRELOAD="$FAULT_LIB" FAULT_DIR="$dir" FAULT_OPS="$ops" FAULT_STEP="$l" FAULT_KIND=kill FAULT_HIT="$WORK/hit" \
    "$MAILKEEP" --archive "$ARCHIVE" -v import "$@" "${FLAGS[@]}" "$INPUT" >"$WORK/log" 2>"$WORK/err" &
  wait $! 2>/dev/null  # (so that bash prints no "Killed" line)
  rc=$?
  set -e
  [[ $rc -eq 137 && -s "$WORK/hit" ]] || fail "$what: the import was not killed at step $l (exit $rc)"
  echo "  killed $what: before $(cut -d' ' -f3- "$WORK/hit" | sed "s| $ARCHIVE/| |; s| $ARCHIVE\$| .|")"
  check_killed "killed $what" "$WORK/log"
  targeted=$((targeted + 1))
}
# placed_kills: part 1, every placed kill with its checks.
placed_kills() {
  local pack sync1 sync2 wal2 roll mid at what l renames ops AT
  trace_of "$WORK/trace" "$ARCHIVE" --no-index
  pack='packs/[0-9]+[.]pack'
  sync1=$(step sync "$pack")
  sync2=$(step 2 sync "$pack")
  wal2=$(step write "catalog[.]sqlite-wal" "$sync2")
  roll=$(step create "$pack" "$(step 1 write "$pack")")  # the second pack's creation
  [[ -n $sync1 && -n $sync2 && -n $wal2 && -n $roll ]] || fail "the run has fewer than two batches or no pack roll: $(cut -d' ' -f2- "$WORK/trace" | uniq -c | head -40)"
  mid=$((($(step write "$pack" "$sync1") + sync2) / 2))
  [[ $(awk -v l="$mid" '$1 == l {print $2, $3}' "$WORK/trace") =~ ^write\ $pack$ ]] || fail "step $mid is not a pack write"
  # "WHAT|STEP", in the order of the run.
  AT=(
    "appending a batch|$mid"
    "between the pack append and its fsync|$sync2"
    "between the pack fsync and the catalog commit|$wal2"
    "inside the catalog commit (WAL written, not synced)|$(step sync "catalog[.]sqlite-wal" "$wal2")"
    "making the dictionary's repair file|$(step create 'packs/dictionaries/.*[.]tmp')"
    "before the dictionary's repair file is renamed|$(step rename 'packs/dictionaries/.*[.]tmp')"
    "at the pack roll, before the new pack exists|$roll"
    "at the pack roll, before the packs directory is synced|$(step sync packs "$roll")"
    "in the catalog checkpoint at the end|$(step write "catalog[.]sqlite")"
  )
  : >"$WORK/reported"
  echo "kills at chosen steps of a run of $(wc -l <"$WORK/trace") operations:"
  for at in "${AT[@]}"; do
    what=${at%|*}
    rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
    kill_at "$what" "${at##*|}" "$ARCHIVE" "" --no-index
    if [[ $what == "between the pack fsync and the catalog commit" ]]; then
      # The next run moves the synced, uncommitted tail to packs/orphans/ and
      # completes the set; killed there too.
      cp -a "$ARCHIVE" "$WORK/tail"
      env LD_PRELOAD="$FAULT_LIB" FAULT_DIR="$ARCHIVE" FAULT_TRACE="$WORK/recover.trace" \
        "$MAILKEEP" --archive "$ARCHIVE" -q import --no-index "${FLAGS[@]}" "$INPUT" || fail "the run after the kill failed"
      check_complete "killed $what: after the next run"
      l=$(grep -m1 -E "^[0-9]+ write $ARCHIVE/packs/orphans/" "$WORK/recover.trace" | cut -d' ' -f1)
      rm -rf "$ARCHIVE" && cp -a "$WORK/tail" "$ARCHIVE"
      kill_at "recovering the uncommitted pack tail" "$l" "$ARCHIVE" "" --no-index
    fi
    rerun "killed $what" --no-index
  done
  # The index, its operations counted alone (its writers may run beside the
  # packs' and the catalog's).
  trace_of "$WORK/index.trace" "$ARCHIVE/xapian"
  renames=$(grep -c -E '^[0-9]+ rename xapian/.*v\.tmp$' "$WORK/index.trace")
  ((renames >= 2)) || fail "the run committed the index fewer than twice ($renames)"
  for at in "indexing:write:1" "committing the index, first time:rename:1" "committing the index, last time:rename:$renames"; do
    IFS=: read -r what ops l <<<"$at"
    rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
    kill_at "$what" "$l" "$ARCHIVE/xapian" "$ops"
    rerun "killed $what"
    expect_eq "$(mk search --count '*')" "$expected" "killed $what: messages found after the next run"
  done
  # The same run indexing into a segment of its own (--debug-fresh-segment;
  # a real import does so from 64 MiB of input), renames counted alone:
  # killed before the stub lists the new segment, before the segment's
  # first commit, and before the stub switches to what the closing run
  # merged it into.
  trace_of "$WORK/segment.trace" "$ARCHIVE/xapian" --debug-fresh-segment
  grep -E '^[0-9]+ rename ' "$WORK/segment.trace" | cut -d' ' -f3 >"$WORK/segment.renames"
  local listed first_commit switched
  listed=$(grep -n -m1 -E '^xapian/XAPIANDB[.]tmp$' "$WORK/segment.renames" | cut -d: -f1)
  switched=$(grep -n -E '^xapian/XAPIANDB[.]tmp$' "$WORK/segment.renames" | tail -1 | cut -d: -f1)
  first_commit=$(awk -v after="$listed" 'NR > after && /^xapian\/shard-[0-9]+[.][0-9]+\/.*v[.]tmp$/ {print NR; exit}' \
    "$WORK/segment.renames")
  [[ -n $listed && -n $first_commit && $switched -gt $first_commit ]] ||
    fail "the run made, committed and merged no segment of its own: $(tr '\n' ' ' <"$WORK/segment.renames")"
  for at in "listing a fresh index segment:$listed" "committing the fresh segment, first time:$first_commit" \
    "switching the index to the merged segment:$switched"; do
    what=${at%:*}
    rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
    kill_at "$what" "${at##*:}" "$ARCHIVE/xapian" rename --debug-fresh-segment
    rerun "killed $what" --debug-fresh-segment
    expect_eq "$(mk search --count '*')" "$expected" "killed $what: messages found after the next run"
  done
  echo "$targeted kills at chosen steps: each verified, nothing reported stored was lost, the next run completed the set once"
}

ARCHIVE="$WORK/run"
targeted=0
((PLACED == 0)) || placed_kills

# 2. Kills at random moments, each run resuming what the killed one left.
rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
start=$(date +%s%N)
mk -q import --no-index "${FLAGS[@]}" "$INPUT"
full_ms=$((($(date +%s%N) - start) / 1000000))
rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
echo "a run from the baseline takes ${full_ms} ms; killing $KILLS times at random moments"
RANDOM=12345
: >"$WORK/reported"
killed_mid_run=0 completed_runs=0 attempts=0
while ((killed_mid_run < KILLS)); do
  ((++attempts <= KILLS * 4)) || fail "only $killed_mid_run kills hit a running import in $attempts attempts"
  "$MAILKEEP" --archive "$ARCHIVE" -v import --no-index "${FLAGS[@]}" "$INPUT" >"$WORK/log" 2>"$WORK/err" &
  pid=$!
  delay_ms=$((RANDOM % (full_ms * 9 / 10 + 20) + 5))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then
    killed_mid_run=$((killed_mid_run + 1))
    wait "$pid" 2>/dev/null || true
  else
    # The run finished before the kill: it must have completed the set.
    wait "$pid" || fail "an uninterrupted import failed: $(tail -3 "$WORK/err")"
    check_complete "a run that finished before its kill"
    completed_runs=$((completed_runs + 1))
  fi
  check_killed "after kill $killed_mid_run" "$WORK/log"
  if ((completed_runs > 0)); then
    # Complete: start over so that later kills land while messages are
    # being stored, not during a no-op re-import.
    rm -rf "$ARCHIVE" && cp -a "$BASE" "$ARCHIVE"
    : >"$WORK/reported"
    completed_runs=0
  fi
done
echo "$killed_mid_run SIGKILLs landed while import was running ($attempts runs started)"

# A last, uninterrupted run completes the set (and indexes it).
mk -q import "${FLAGS[@]}" "$INPUT"
expect_eq "$(mk search --count '*')" "$expected" "messages in the index"
mk -q verify || fail "final verify failed"
check_complete "the last run"
echo "ok: $expected messages complete and verified after $targeted placed and $killed_mid_run random SIGKILLs; $(sort -u "$WORK/reported" | wc -l) reported-stored messages of the last round all present"

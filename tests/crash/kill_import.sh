#!/usr/bin/env bash
# SIGKILLs a running import at random moments (KILLS times, default 60).
# After every kill: the archive opens and verifies, and every message the
# killed import had reported as committed ("stored"/"duplicate" lines of
# import -v) is in the archive. At the end a full import completes the set
# with no duplicates.
# Input: linux-mips-2018 (6,182 real messages) when ../shared/corpus is
# there and CRASH_INPUT is not "sample", else the bundled generated sample.
source "$(dirname "$0")/../cli/lib.sh"
KILLS=${KILLS:-60}
mips="${MAILKEEP_CORPUS:-}/linux-mips-list-archive/linux-mips-2018.mboxrd.zst"
if [[ -f "$mips" && ${CRASH_INPUT:-} != sample ]]; then
  INPUT=$mips
  zstd -dc "${mips%.mboxrd.zst}.manifest.tsv.zst" | tail -n +2 | cut -f4 | sort -u >"$WORK/expected.sha"
  BATCH=100
else
  [[ ${CRASH_INPUT:-} == sample ]] ||
    echo "note: ${MAILKEEP_CORPUS:-../shared/corpus} not found; crash-testing with the generated sample instead"
  : "${MAKE_SAMPLE_MAIL:?}"
  "$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
  INPUT="$WORK/sample/Maildir"
  BATCH=3
  find "$INPUT" -type f -path '*/cur/*' -o -type f -path '*/new/*' | xargs -d '\n' sha256sum | cut -d' ' -f1 | sort -u >"$WORK/expected.sha"
fi
expected=$(wc -l <"$WORK/expected.sha")
init_archive
: >"$WORK/reported"

# Measure one full import to scale the kill delays (then start over).
start=$(date +%s%N)
mk -q import --no-index --batch "$BATCH" "$INPUT"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
rm -rf "$ARCHIVE"
init_archive
echo "a full import takes ${full_ms} ms; killing $KILLS times"

RANDOM=12345
check_complete() {
  held_sha256s >"$WORK/final.sha"
  [[ $(sort -u "$WORK/final.sha" | wc -l) -eq $(wc -l <"$WORK/final.sha") ]] || fail "duplicate blobs in the catalog"
  cmp -s "$WORK/final.sha" "$WORK/expected.sha" ||
    fail "archive does not hold exactly the $expected input messages ($(wc -l <"$WORK/final.sha") held)"
}
killed_mid_run=0
completed_runs=0
attempts=0
while ((killed_mid_run < KILLS)); do
  ((++attempts <= KILLS * 4)) || fail "only $killed_mid_run kills hit a running import in $attempts attempts"
  "$MAILKEEP" --archive "$ARCHIVE" -v import --no-index --batch "$BATCH" "$INPUT" >"$WORK/log" 2>"$WORK/err" &
  pid=$!
  delay_ms=$(( RANDOM % (full_ms * 9 / 10 + 20) + 5 ))
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then
    killed_mid_run=$((killed_mid_run + 1))
    wait "$pid" 2>/dev/null || true
  else
    # The run finished before the kill: it must have completed the set.
    wait "$pid" || fail "an uninterrupted import failed: $(tail -3 "$WORK/err")"
    check_complete
    completed_runs=$((completed_runs + 1))
  fi
  grep -E '^(stored|duplicate|known) ' "$WORK/log" | cut -d' ' -f3 >>"$WORK/reported" || true

  mk -q verify || fail "verify failed after kill $killed_mid_run"
  held_sha256s | sort -u >"$WORK/have.sha"
  lost=$(sort -u "$WORK/reported" | comm -23 - "$WORK/have.sha" | wc -l)
  [[ $lost -eq 0 ]] || fail "after kill $killed_mid_run, $lost message(s) reported as stored are missing"
  if ((completed_runs > 0 && $(wc -l <"$WORK/have.sha") == expected)); then
    # Complete: start over with an empty archive so later kills land while
    # messages are being stored, not during a no-op re-import.
    rm -rf "$ARCHIVE"
    init_archive
    : >"$WORK/reported"
    completed_runs=0
  fi
done
echo "$killed_mid_run SIGKILLs landed while import was running ($attempts runs started)"

# A last, uninterrupted run completes the set (and indexes it).
mk -q import --batch "$BATCH" "$INPUT"
expect_eq "$(mk search --count '*')" "$expected" "messages in the index"
mk -q verify || fail "final verify failed"
check_complete
echo "ok: $expected messages complete and verified after $killed_mid_run SIGKILLs; $(sort -u "$WORK/reported" | wc -l) reported-stored messages all present"

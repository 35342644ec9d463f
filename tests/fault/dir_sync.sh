#!/usr/bin/env bash
# The catalog's WAL must not vanish in a power cut: the archive directory
# that holds catalog.sqlite-wal is fsynced, and a failed fsync of it fails
# the command (issue 11, item 10).
#
# SQLite fsyncs the directory once after it creates a WAL file but ignores
# a failure there, so an import could report messages stored whose commits
# live in a WAL file whose directory entry was never made durable. The
# fault library (tests/fault/fault_inject.cc) models directory entries: a
# name made in a directory is at risk when an fsync of that directory fails
# and no later one succeeds, and it reports such names at exit
# ("unsynced-entry PATH").
#
# For each archive state (as an older mailkeep left it, without a WAL file;
# as this one leaves it) an import is traced, and then run once with each
# fsync of the archive directory failing in turn. Each time:
#   - a run that ends with a name in the archive directory at risk must
#     fail with one-line errors and report nothing stored;
#   - `verify` passes afterwards.
# And at least one of those faults must fail the import with a line naming
# the failed fsync (the failure is noticed, not only survived).
source "$(dirname "$0")/../cli/lib.sh"
: "${MAKE_SAMPLE_MAIL:?}"
[[ -n "${FAULT_LIB:-}" && -f "$FAULT_LIB" ]] || skip "FAULT_LIB (the fault-injection library) is not built"

"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
INPUT="$WORK/input"
mkdir -p "$INPUT"/{cur,new,tmp}
find "$WORK/sample/Maildir/.Archive.2023/cur" -type f | sort | sed -n 1,3p | xargs -d '\n' cp -t "$INPUT/cur"
TEMPLATE="$WORK/template"
"$MAILKEEP" --archive "$TEMPLATE" init >/dev/null
find "$WORK/sample/Maildir/.Lists.dev/cur" -type f | sort | sed -n 1,5p >"$WORK/first"
mkdir -p "$WORK/first5"/{cur,new,tmp}
xargs -d '\n' cp -t "$WORK/first5/cur" <"$WORK/first"
"$MAILKEEP" --archive "$TEMPLATE" -q import --no-index "$WORK/first5"

import_with() {  # OUT ENV...: the import into $ARCHIVE with the fault library
  local out=$1
  shift
  env LD_PRELOAD="$FAULT_LIB" FAULT_DIR="$ARCHIVE" "$@" \
    "$MAILKEEP" --archive "$ARCHIVE" -v import --no-index "$INPUT" >"$out.out" 2>"$out.err"
}

ARCHIVE="$WORK/archive"
noticed=0
for state in current older; do
  rm -rf "$ARCHIVE" && cp -a "$TEMPLATE" "$ARCHIVE"
  # An older mailkeep's last close deleted the WAL (after a checkpoint).
  [[ $state == older ]] && rm -f "$TEMPLATE"/catalog.sqlite-{wal,shm} "$ARCHIVE"/catalog.sqlite-{wal,shm}
  rm -f "$WORK/trace"
  import_with "$WORK/count" FAULT_TRACE="$WORK/trace" || fail "$state: the import without a fault failed: $(cat "$WORK/count.err")"
  mapfile -t steps < <(grep -E "^[0-9]+ sync $ARCHIVE\$" "$WORK/trace" | cut -d' ' -f1)
  ((${#steps[@]} > 0)) || fail "$state: the import never fsyncs the archive directory"
  for l in "${steps[@]}"; do
    rm -rf "$ARCHIVE" && cp -a "$TEMPLATE" "$ARCHIVE"
    rm -f "$WORK/hit"
    set +e
    import_with "$WORK/faulted" FAULT_STEP="$l" FAULT_HIT="$WORK/hit"
    rc=$?
    set -e
    what="$state: fsync of the archive directory failing (step $l)"
    at_risk=$(grep '^unsynced-entry ' "$WORK/hit" | sed "s|.* $ARCHIVE/||" | tr '\n' ' ' || true)
    echo "$what: exit $rc${at_risk:+, names at risk: $at_risk}"
    if [[ -n "$at_risk" ]]; then
      [[ $rc -ne 0 ]] || fail "$what went unnoticed: the import exited 0 and reported $(grep -c '^stored ' "$WORK/faulted.out") stored, but these names in the archive directory were never made durable: $at_risk"
      if grep -q '^stored ' "$WORK/faulted.out"; then fail "$what: reported messages stored: $(head -1 "$WORK/faulted.out")"; fi
    fi
    if [[ $rc -ne 0 ]]; then
      case $rc in 1 | 3) ;; *) fail "$what: import exited $rc: $(tail -3 "$WORK/faulted.err")" ;; esac
      if grep -qv '^mailkeep: ' "$WORK/faulted.err"; then fail "$what: stderr is not one-line errors: $(head -3 "$WORK/faulted.err")"; fi
      if grep -q 'fsync' "$WORK/faulted.err"; then noticed=$((noticed + 1)) && echo "  $(cat "$WORK/faulted.err")"; fi
    fi
    mk verify >"$WORK/verify" 2>&1 || fail "$what: verify failed: $(head -3 "$WORK/verify")"
  done
done
((noticed > 0)) || fail "no failed fsync of the archive directory failed the import with a line saying so"
echo "ok: every failed fsync of the archive directory was either reported (the import failed, nothing stored) or left no name at risk"

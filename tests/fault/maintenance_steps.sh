#!/usr/bin/env bash
# Faults below the program at every step of `reindex` and `rebuild-catalog`
# (tests/fault/lib.sh: step l for every l; EIO, ENOSPC and short writes at
# every write, fsync, rename, truncate, create, mkdir and unlink under the
# archive).
#
# The archive: 8 messages in 3 packs, indexed; so that `reindex` removes an
# index and builds it again, and `rebuild-catalog` reads blobs from several
# packs, swaps the catalog and drops the index. (No dictionary: training
# one needs 64 messages, and reading it is no write; fault_every_step
# covers writing one.)
# To stay within CI's time, every second step is faulted (1, 3, 5, ...; the
# kinds still rotate through all three); FAULT_STRIDE=1 faults every step.
# After each faulted run:
#   - it ended cleanly (status 0, 1 or 3; one-line errors; a failed
#     directory fsync that left a name at risk failed the run);
#   - reindex: the catalog is untouched (the same messages), and `verify`
#     passes (messages waiting for the index are fine: the next run indexes
#     them);
#   - rebuild-catalog: `verify` passes, or (the catalog was moved aside and
#     the new one not yet in place) it refuses in one line naming
#     rebuild-catalog;
#   - the same command run again without a fault succeeds, and then every
#     message is in the catalog once, `verify` passes and (after `reindex
#     --pending` for rebuild-catalog) nothing waits for the index and a
#     search finds every message.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/lib.sh"

TEMPLATE="$FAST/template"
fault_small_archive "$TEMPLATE"
fault_shas "$TEMPLATE" >"$WORK/expected"
expect_eq "$(wc -l <"$WORK/expected")" 8 "messages in the template archive"

# Counts the operations of each command on a copy of the template.
COMMANDS=(reindex rebuild-catalog)
ARCHIVE="$FAST/count"
for c in "${COMMANDS[@]}"; do
  fault_reset "$TEMPLATE"
  fault_count "$c" "$MAILKEEP" --archive "$ARCHIVE" "$c"
  fault_add_steps "$c" "$FAULT_N" "${FAULT_STRIDE:-2}"
done

declare -A EXPECTED
fault_set EXPECTED "$WORK/expected"
# holds_expected: the catalog at $ARCHIVE holds each expected message once
# and nothing else (no process but sqlite3: see lib.sh).
holds_expected() {
  local sha
  local -A seen=()
  sqlite3 -readonly -cmd ".timeout 5000" "$ARCHIVE/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs" >"$W/shas"
  while read -r sha; do
    [[ -n ${EXPECTED[$sha]:-} && -z ${seen[$sha]:-} ]] || return 1
    seen[$sha]=1
  done <"$W/shas"
  ((${#seen[@]} == ${#EXPECTED[@]}))
}

check_step() {  # COMMAND L KIND
  local c=$1 l=$2 kind=$3 what line id
  local -A found=()
  local -a lines=()
  fault_reset "$TEMPLATE"
  fault_step "$c" "$l" "$kind" "$MAILKEEP" --archive "$ARCHIVE" "$c"
  what=$FAULT_WHAT
  if mk verify >"$W/verify" 2>&1; then
    :
  elif [[ $c == rebuild-catalog ]] && mapfile -t lines <"$W/verify" && ((${#lines[@]} == 1)) &&
    [[ ${lines[0]} == 'mailkeep: '*rebuild-catalog* ]]; then
    :
  else
    fail "$what: verify failed after it: $(head -3 "$W/verify")"
  fi
  if [[ $c == reindex ]]; then
    holds_expected || fail "$what: the catalog's messages changed"
  fi
  mk "$c" >"$W/rerun.out" 2>"$W/rerun.err" || fail "$what: $c again without a fault failed: $(head -3 "$W/rerun.err")"
  [[ $c == reindex ]] || mk reindex --pending >"$W/rerun.out" 2>"$W/rerun.err" ||
    fail "$what: reindex --pending after it failed: $(head -3 "$W/rerun.err")"
  holds_expected ||
    fail "$what: after the rerun the catalog holds $(wc -l <"$W/shas") messages ($(sort -u "$W/shas" | wc -l) distinct), not the ${#EXPECTED[@]} once each"
  mk -v verify >"$W/verify" 2>&1 || fail "$what: verify failed after the rerun: $(head -3 "$W/verify")"
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line != *'waiting to be indexed'* ]] || fail "$what: after the rerun: $line"
  done <"$W/verify"
  # One after the other: search may write the catalog (it indexes what is
  # queued), and a reader beside it could find the database locked.
  mk search --format ids '*' >"$W/found"
  fault_set found "$W/found"
  sqlite3 -readonly -cmd ".timeout 5000" "$ARCHIVE/catalog.sqlite" "SELECT id FROM messages" >"$W/listed"
  while read -r id; do
    [[ -n ${found[$id]:-} ]] || fail "$what: after the rerun a search for every message misses message $id"
  done <"$W/listed"
  mapfile -t lines <"$W/listed"
  ((${#found[@]} == ${#lines[@]})) ||
    fail "$what: after the rerun a search for every message finds ${#found[@]} of ${#lines[@]}"
}

fault_run_steps check_step
echo "ok: $FAULT_RUNS faulted runs ($FAULT_STEPS steps of ${COMMANDS[*]}, every ${FAULT_STRIDE:-2}th; kinds ${FAULT_KINDS[*]}${FAULT_ALL_KINDS:+, each at every step}) in $FAULT_SECONDS s with ${FAULT_JOBS:-2} jobs: each ended cleanly and verified, and a rerun completed the archive"

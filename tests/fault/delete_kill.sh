#!/usr/bin/env bash
# SIGKILL during `mailkeep delete` (issue 13): the fault library kills the
# process just before its l-th file operation under the archive (write,
# fsync, rename, truncate, create, mkdir, unlink: the catalog, the packs'
# tombstones and the index alike), for l spread over the whole run. After
# each kill:
#   - the archive verifies;
#   - all of the selection is gone from the catalog, or none of it; every
#     other message is there;
#   - the same delete run again completes: the selection is gone, the rest
#     intact, verify passes, and nothing waits for the index.
# FAULT_STRIDE (default: ~24 kills spread over the run) picks every n-th step.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/lib.sh"

TEMPLATE="$FAST/template"
fault_small_archive "$TEMPLATE"
SELECTION="2 4 6"
in_catalog() { sqlite3 -readonly -cmd ".timeout 5000" "$1/catalog.sqlite" "SELECT count(*) FROM messages WHERE id IN (${SELECTION// /,})"; }
others() { sqlite3 -readonly -cmd ".timeout 5000" "$1/catalog.sqlite" "SELECT count(*) FROM messages WHERE id NOT IN (${SELECTION// /,})"; }
expect_eq "$(in_catalog "$TEMPLATE")" 3 "selection in the template"
expect_eq "$(others "$TEMPLATE")" 5 "other messages in the template"

ARCHIVE="$FAST/count"
fault_reset "$TEMPLATE"
# shellcheck disable=SC2086
fault_count delete "$MAILKEEP" --archive "$ARCHIVE" delete --yes $SELECTION
n=$FAULT_N
stride=${FAULT_STRIDE:-$(((n + 23) / 24))}
echo "delete: a SIGKILL before every ${stride}th operation"

ARCHIVE="$FAST/run"
W="$WORK/w" && mkdir -p "$W"
all=0 none=0
for ((l = 1; l <= n; l += stride)); do
  fault_reset "$TEMPLATE"
  # shellcheck disable=SC2086
  fault_step delete "$l" kill "$MAILKEEP" --archive "$ARCHIVE" delete --yes $SELECTION
  what=$FAULT_WHAT
  mk verify -q >"$W/verify" 2>&1 || fail "$what: verify failed: $(head -3 "$W/verify")"
  left=$(in_catalog "$ARCHIVE")
  case $left in
    0) all=$((all + 1)) ;;
    3) none=$((none + 1)) ;;
    *) fail "$what: $left of the 3 selected messages left (all or none)" ;;
  esac
  expect_eq "$(others "$ARCHIVE")" 5 "$what: other messages"
  # shellcheck disable=SC2086
  mk -q delete --yes $SELECTION >"$W/rerun" 2>&1 || fail "$what: delete again failed: $(head -3 "$W/rerun")"
  expect_eq "$(in_catalog "$ARCHIVE")" 0 "$what: selection after the second delete"
  expect_eq "$(others "$ARCHIVE")" 5 "$what: other messages after the second delete"
  expect_eq "$(sqlite3 -readonly "$ARCHIVE/catalog.sqlite" "SELECT count(*) FROM index_queue")" 0 "$what: waiting for the index"
  mk verify -q || fail "$what: verify after the second delete"
done
echo "killed runs: $all removed everything, $none removed nothing"
echo "ok"

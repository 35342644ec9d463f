#!/usr/bin/env bash
# Faults below the program at every step of `sync` with delete =
# after-download against a real Dovecot (tests/fault/lib.sh: step l for
# every l; EIO, ENOSPC and short writes at every write, fsync, rename,
# truncate, create, mkdir and unlink under the archive).
#
# The mailbox: 4 small messages, 2 of them already archived by an earlier
# sync that deleted nothing; so the faulted run deletes 2 it knows and
# fetches, stores and then deletes 2 new ones. Each step restores the
# mailbox (a copy of its Maildir with Dovecot's index and UID list, so the
# server's UIDs and UIDLs are the same at every step) and the archive.
# Over POP3 (SYNC_FAULT_PROTOCOL=imap: IMAP), with --no-index: the index
# is written after the deletions and its steps are fault_every_step's.
# After each faulted run:
#   - it ended cleanly (status 0, 1 or 3; one-line errors; a failed
#     directory fsync that left a name at risk failed the run);
#   - `verify` passes;
#   - nothing left the server that is not in the archive: every seeded
#     message is still on the server (its Maildir) or archived (by SHA-256);
#   - a sync without a fault succeeds, and then the server is empty, the
#     archive holds every seeded message once, and `verify` passes.
# Two workers at most: one Dovecot user (alice, bob) each.
source "$(dirname "$0")/../sync/lib.sh"
source "$(dirname "$0")/lib.sh"
((${FAULT_JOBS:-2} <= 2)) || fail "FAULT_JOBS: at most 2 (one Dovecot user each)"
PROTOCOL=${SYNC_FAULT_PROTOCOL:-pop3}

mkdir -p "$WORK/seed"
for i in 1 2 3 4; do
  printf 'From: fault@example.test\nTo: alice@example.test\nSubject: fault step %d\nMessage-ID: <fault-%d@example.test>\n\nBody %d.\n' \
    "$i" "$i" "$i" >"$WORK/seed/m$i.eml"
done
sha256sum "$WORK"/seed/*.eml | cut -d' ' -f1 | sort >"$WORK/expected"
USERS=(alice bob)
export ALICE_PW=$DOVECOT_ALICE_PASSWORD BOB_PW=$DOVECOT_BOB_PASSWORD
config() {  # USER DELETE: the accounts file for USER
  local port=$DOVECOT_POP3S_PORT
  [[ $PROTOCOL == imap ]] && port=$DOVECOT_IMAPS_PORT
  printf '[account.%s]\nprotocol = %s\nhost = %s\nport = %s\nuser = %s\npassword_env = %s_PW\nca_file = %s\ndelete = %s\ntimeout = 20\n' \
    "$1" "$PROTOCOL" "$DOVECOT_HOST" "$port" "$1" "${1^^}" "$DOVECOT_CA" "$2"
}
# The template archive and each user's mailbox: 2 messages synced without
# deleting, then 2 more delivered; Dovecot indexes the mailbox (its UID
# list) before the snapshot.
for u in "${USERS[@]}"; do
  config "$u" never >"$WORK/keep-$u.ini"
  config "$u" after-download >"$WORK/$u.ini"
  dovecot_deliver "$u" "$WORK"/seed/m1.eml "$WORK"/seed/m2.eml
  "$MAILKEEP" --archive "$FAST/template-$u" init >/dev/null
  "$MAILKEEP" --archive "$FAST/template-$u" sync --no-index --config "$WORK/keep-$u.ini" >/dev/null ||
    fail "the first sync of $u (no deleting) failed"
  dovecot_deliver "$u" "$WORK"/seed/m3.eml "$WORK"/seed/m4.eml
  expect_eq "$(dovecot_count "$u")" 4 "messages in $u's mailbox"
  cp -a "$(_dovecot_maildir "$u")" "$WORK/snapshot-$u"
done
server_shas() { find "$1"/cur "$1"/new -type f -print0 | xargs -0 -r sha256sum | cut -d' ' -f1 | sort; }

restore() {  # USER: the mailbox and the archive as before the faulted run
  local md
  md=$(_dovecot_maildir "$1")
  rm -rf "$md" && cp -a "$WORK/snapshot-$1" "$md"
  fault_reset "$FAST/template-$1"
}

# Counts each user's sync (the same operations: the steps are shared).
ARCHIVE="$FAST/count"
restore alice
fault_count "sync ($PROTOCOL, delete = after-download)" "$MAILKEEP" --archive "$ARCHIVE" sync --no-index --config "$WORK/alice.ini"
expect_eq "$(server_shas "$(_dovecot_maildir alice)" | wc -l)" 0 "messages left on the server by a sync without a fault"
fault_add_steps "sync-$PROTOCOL" "$FAULT_N"

check_step() {  # SCENARIO L KIND
  local s=$1 l=$2 kind=$3 what u=${USERS[$FAULT_WORKER]} md lost
  md=$(_dovecot_maildir "$u")
  restore "$u"
  fault_step "$s" "$l" "$kind" "$MAILKEEP" --archive "$ARCHIVE" sync --no-index --config "$WORK/$u.ini"
  what=$FAULT_WHAT
  mk verify >"$W/verify" 2>&1 || fail "$what: verify failed after it: $(head -3 "$W/verify")"
  lost=$(sort -u <(server_shas "$md") <(fault_shas "$ARCHIVE") | comm -23 "$WORK/expected" - | head -3)
  [[ -z "$lost" ]] || fail "$what: deleted from the server but not in the archive (SHA-256): $lost"
  mk sync --no-index --config "$WORK/$u.ini" >"$W/rerun.out" 2>"$W/rerun.err" ||
    fail "$what: the sync without a fault failed: $(head -3 "$W/rerun.err")"
  [[ -z "$(server_shas "$md")" ]] || fail "$what: after the rerun the server still holds $(server_shas "$md" | wc -l) messages"
  cmp -s <(fault_shas "$ARCHIVE") "$WORK/expected" ||
    fail "$what: after the rerun the archive holds $(fault_shas "$ARCHIVE" | wc -l) messages, not the 4 once each"
  mk verify >"$W/verify" 2>&1 || fail "$what: verify failed after the rerun: $(head -3 "$W/verify")"
}

fault_run_steps check_step
echo "ok: $FAULT_RUNS faulted syncs ($FAULT_STEPS steps; kinds ${FAULT_KINDS[*]}${FAULT_ALL_KINDS:+, each at every step}) in $FAULT_SECONDS s with ${FAULT_JOBS:-2} jobs: each ended cleanly and verified, deleted nothing it had not archived, and a rerun emptied the server into the archive"

#!/usr/bin/env bash
# Issue 11.1 under delete = never, against a real Dovecot: a mailbox
# restored from a backup hands its UIDs out again (same UIDVALIDITY) to
# other messages. Its UIDNEXT went back, so the folder is listed whole
# (not only what changed since the remembered HIGHESTMODSEQ). Where the
# listed size or INTERNALDATE contradicts what was archived from that UID,
# the message is fetched and, new by its hash, archived: nothing on the
# server stays unarchived because mailkeep keeps mail there. Nothing is
# deleted; the next run fetches nothing. (Issue 12.6: the UID the restore
# lost is marked gone; its mail stays.)
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
dovecot_adduser gil gilpw
export GIL_PW=gilpw
md=$(_dovecot_maildir gil)

# deliver TAG FIRST LAST DATE [EXTRA]: messages "TAG FIRST".."TAG LAST" into
# gil's INBOX with INTERNALDATE (the file's mtime) DATE; EXTRA lines more.
deliver() {
  local tag=$1 first=$2 last=$3 date=$4 extra=${5:-} i f
  for ((i = first; i <= last; i++)); do
    f="$WORK/$tag-$i.eml"
    printf 'From: s@example.test\nTo: gil@example.test\nSubject: %s %d\nMessage-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody %s %d\n%s' \
      "$tag" "$i" "$tag" "$i" "$tag" "$i" "$extra" >"$f"
    dovecot_deliver gil "$f"
    touch -d "$date" "$(grep -l "^Message-ID: <$tag-$i@" "$md"/new/*)"
  done
}

deliver a 0 0 "2024-01-01 00:00:00 UTC"
v=$(uidvalidity gil INBOX)
cp -a "$md" "$WORK/backup"
deliver a 1 4 "2024-01-01 00:00:00 UTC"
account gil gil GIL_PW implicit
sync_ok
expect_eq "$(fetched gil)" 5 "first run"

# The restore, then three other messages at UIDs 2-4: "b 1" differs from
# "a 1" only by its date, "b 2" by its size, "b 3" by both.
rm -rf "$md"
cp -a "$WORK/backup" "$md"
deliver b 1 1 "2024-02-01 00:00:00 UTC"
deliver b 2 2 "2024-01-01 00:00:00 UTC" "one more line
"
deliver b 3 3 "2024-02-01 00:00:00 UTC" "one more line
"
expect_eq "$(uidvalidity gil INBOX)" "$v" "UIDVALIDITY after the restore"

sync_ok
expect_eq "$(fetched gil)" 3 "messages at reused UIDs fetched under delete = never"
expect_eq "$(stored_before gil)" 0 "they are new"
for i in 1 2 3; do
  expect_eq "$(mk search --count "mid:b-$i@example.test")" 1 "message b $i archived"
done
expect_eq "$(deleted gil)" 0 "nothing deleted"
expect_eq "$(dovecot_count gil INBOX)" 4 "the server keeps its mail"
expect_eq "$(messages)" 8 "messages in the archive"
# Where each "a" message is now: a 0 still at UID 1; a 1-3 at reused UIDs
# and a 4 (UID 5, lost by the restore) are gone from the server.
gone() { mk --json show "$(mk search --format ids "mid:a-$1@example.test")" | python3 -c 'import json, sys; print(sum(1 for l in json.load(sys.stdin)["locations"] if "gone_at" in l))'; }
expect_eq "$(gone 0)" 0 "a 0's place"
expect_eq "$(gone 4)" 1 "a 4's place"
expect_eq "$(mk search --count folder:INBOX)" 4 "messages folder:INBOX finds (places gone left out)"

sync_ok
expect_eq "$(fetched gil)" 0 "third run fetches nothing"
echo "ok"

#!/usr/bin/env bash
# Issue 11.1 against a real Dovecot: a mailbox restored from a backup hands
# out its UIDs again, under the same UIDVALIDITY, to other messages. With
# delete = after-download, mailkeep must archive those messages before it
# expunges them: one differs from what was archived at its UID by size,
# one only by INTERNALDATE (same size), one by both.
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
dovecot_adduser erin erinpw
export ERIN_PW=erinpw
md=$(_dovecot_maildir erin)

# deliver TAG N DATE: N messages "TAG 1".."TAG N" into erin's INBOX with
# INTERNALDATE (the Maildir file's mtime) DATE. Message i of tag "a" and of
# tag "b" have the same length; tag "b" gets extra body lines from $extra_b
# (a space-separated list of message numbers).
deliver() {
  local tag=$1 n=$2 date=$3 i f
  for ((i = 1; i <= n; i++)); do
    f="$WORK/$tag-$i.eml"
    printf 'From: s@example.test\nTo: erin@example.test\nSubject: %s %d\nMessage-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody %s %d\n' \
      "$tag" "$i" "$tag" "$i" "$tag" "$i" >"$f"
    if [[ " ${extra_b:-} " == *" $i "* ]]; then printf 'one more line\n' >>"$f"; fi
    dovecot_deliver erin "$f"
  done
  for f in "$md"/new/*; do touch -d "$date" "$f"; done
}
uidvalidity() { doveadm_ mailbox status -u erin uidvalidity INBOX | sed -n 's/.*uidvalidity=\([0-9]*\).*/\1/p'; }
uids() { doveadm_ search -u erin mailbox INBOX all | awk '{print $2}' | tr '\n' ' '; }

# The backup: an INBOX that has its UIDVALIDITY but no message yet.
v=$(uidvalidity)
[[ -n "$v" ]] || fail "no UIDVALIDITY for erin's INBOX"
cp -a "$md" "$WORK/backup"

# Three messages, UIDs 1-3, archived; nothing deleted.
deliver a 3 "2024-01-01 00:00:00 UTC"
account erin erin ERIN_PW implicit
sync_ok erin
expect_eq "$(fetched erin)" 3 "first run"
expect_eq "$(deleted erin)" 0 "first run (delete = never)"

# The restore, then three other messages: the same UIDs again.
rm -rf "$md"
cp -a "$WORK/backup" "$md"
extra_b="1 3" deliver b 3 "2024-02-01 00:00:00 UTC"
expect_eq "$(uidvalidity)" "$v" "UIDVALIDITY after the restore"
expect_eq "$(uids)" "1 2 3 " "UIDs after the restore"
[[ $(stat -c %s "$WORK/a-2.eml") == $(stat -c %s "$WORK/b-2.eml") ]] || fail "messages a 2 and b 2 differ in size"

sed -i 's/^\(\[account.erin\]\)$/\1\ndelete = after-download/' "$cfg"
sync_ok erin
expect_eq "$(fetched erin)" 3 "messages at reused UIDs fetched"
for i in 1 2 3; do
  expect_eq "$(mk search --count "mid:b-$i@example.test")" 1 "message b $i archived"
done
expect_eq "$(deleted erin)" 3 "deleted once archived"
expect_eq "$(dovecot_count erin INBOX)" 0 "INBOX emptied"
expect_eq "$(messages)" 6 "messages in the archive"
mk verify >/dev/null || fail "verify"
echo "imap_reused_uid: ok"

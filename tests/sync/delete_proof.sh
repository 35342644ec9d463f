#!/usr/bin/env bash
# Issue 11.1 against a real Dovecot: nothing is deleted on a server unless
# this archive provably holds it.
# 1. IMAP: a mailbox restored from a backup hands out its UIDs again, under
#    the same UIDVALIDITY, to other messages. With delete = after-download
#    mailkeep archives those messages before it expunges them: one differs
#    from what was archived at its UID by size, one only by INTERNALDATE
#    (same size), one by both. A message that the backup kept is deleted
#    without being fetched again (its size and date prove it).
# 2. POP3: known messages are deleted without being fetched again (LIST
#    sizes match the archived bytes counted with CRLF).
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
dovecot_adduser erin erinpw
dovecot_adduser fay faypw
export ERIN_PW=erinpw FAY_PW=faypw
md=$(_dovecot_maildir erin)

# deliver USER TAG FIRST LAST DATE: messages "TAG FIRST".."TAG LAST" into
# USER's INBOX with INTERNALDATE (the Maildir file's mtime) DATE. Message i
# of tag "a" and of tag "b" have the same length, but tag "b" gets one more
# body line for each i in $longer.
deliver() {
  local user=$1 tag=$2 first=$3 last=$4 date=$5 i f
  for ((i = first; i <= last; i++)); do
    f="$WORK/$tag-$i.eml"
    printf 'From: s@example.test\nTo: %s@example.test\nSubject: %s %d\nMessage-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody %s %d\n' \
      "$user" "$tag" "$i" "$tag" "$i" "$tag" "$i" >"$f"
    if [[ " ${longer:-} " == *" $i "* ]]; then printf 'one more line\n' >>"$f"; fi
    dovecot_deliver "$user" "$f"
    touch -d "$date" "$(grep -l "^Message-ID: <$tag-$i@" "$(_dovecot_maildir "$user")"/new/*)"
  done
}
uids() { doveadm_ search -u erin mailbox INBOX all | awk '{print $2}' | tr '\n' ' '; }
set_delete() { sed -i "s/^\(\[account.$1\]\)\$/\1\ndelete = $2/" "$cfg"; }

# 1. The backup holds message "a 0" (UID 1); three more come after it.
deliver erin a 0 0 "2024-01-01 00:00:00 UTC"
v=$(uidvalidity erin INBOX)
[[ -n "$v" ]] || fail "no UIDVALIDITY for erin's INBOX"
cp -a "$md" "$WORK/backup"
deliver erin a 1 3 "2024-01-01 00:00:00 UTC"
account erin erin ERIN_PW implicit
sync_ok erin
expect_eq "$(fetched erin)" 4 "first run"
expect_eq "$(deleted erin)" 0 "first run (delete = never)"

# The restore, then three other messages: UIDs 2-4 again.
rm -rf "$md"
cp -a "$WORK/backup" "$md"
longer="1 3" deliver erin b 1 3 "2024-02-01 00:00:00 UTC"
expect_eq "$(uidvalidity erin INBOX)" "$v" "UIDVALIDITY after the restore"
expect_eq "$(uids)" "1 2 3 4 " "UIDs after the restore"
[[ $(stat -c %s "$WORK/a-2.eml") == $(stat -c %s "$WORK/b-2.eml") ]] || fail "messages a 2 and b 2 differ in size"

set_delete erin after-download
sync_ok erin
expect_eq "$(fetched erin)" 3 "messages at reused UIDs fetched"
expect_eq "$(stored_before erin)" 0 "messages fetched again although archived"
for i in 1 2 3; do
  expect_eq "$(mk search --count "mid:b-$i@example.test")" 1 "message b $i archived"
done
expect_eq "$(deleted erin)" 4 "deleted once archived"
expect_eq "$(dovecot_count erin INBOX)" 0 "INBOX emptied"
expect_eq "$(messages)" 7 "messages in the archive"

# 2. POP3: archived first, deleted by the next run without a second RETR.
PROTOCOL=pop3
deliver fay c 1 3 "2024-01-01 00:00:00 UTC"
account fay fay FAY_PW implicit
sync_ok fay
expect_eq "$(fetched fay)" 3 "POP3 first run"
set_delete fay after-download
sync_ok fay
expect_eq "$(fetched fay)" 0 "POP3 second run"
expect_eq "$(stored_before fay)" 0 "POP3 messages fetched again although archived"
expect_eq "$(deleted fay)" 3 "POP3 deleted"
expect_eq "$(dovecot_count fay INBOX)" 0 "POP3 INBOX emptied"

mk verify >/dev/null || fail "verify"
echo "delete_proof: ok"

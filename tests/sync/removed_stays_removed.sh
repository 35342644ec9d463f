#!/usr/bin/env bash
# Issue 13.2: a message removed by `mailkeep delete` does not come back by
# sync, over IMAP and POP3 against a real Dovecot. Each account syncs 5
# messages; one of each is deleted by query; the next sync fetches nothing
# and the removed text is found by no search. Importing the same bytes
# again later does not make sync take the place back. Under delete =
# after-download the removed message stays on the server (it is no longer
# durable here) and the others go.
source "$(dirname "$0")/../sync/lib.sh"
dovecot_adduser rita ritapw
dovecot_adduser paul paulpw
export RITA_PW=ritapw PAUL_PW=paulpw

# deliver USER: 5 messages, the third one carrying a word no other has.
deliver() {
  local user=$1 i word
  for i in 1 2 3 4 5; do
    word=kept
    ((i == 3)) && word="gonezq${user}"
    printf 'From: s@example.test\nTo: %s@example.test\nSubject: %s %d\nMessage-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody %s %d %s\n' \
      "$user" "$user" "$i" "$user" "$i" "$user" "$i" "$word" >"$WORK/$user-$i.eml"
    dovecot_deliver "$user" "$WORK/$user-$i.eml"
  done
}
deliver rita
deliver paul
# accounts POLICY: rita over IMAP, paul over POP3, with that delete policy.
# Any policy but never makes IMAP list the folder whole at every run (not
# only what changed since the last run), as POP3 always does.
accounts() {
  : >"$cfg"
  PROTOCOL=imap account rita rita RITA_PW implicit "delete=$1"
  PROTOCOL=pop3 account paul paul PAUL_PW implicit "delete=$1"
}
accounts older-than:36500d

sync_ok
expect_eq "$(fetched rita)" 5 "IMAP: first run"
expect_eq "$(fetched paul)" 5 "POP3: first run"
expect_eq "$(messages)" 10 "messages after the first run"

mk delete --yes gonezqrita >/dev/null
mk delete --yes gonezqpaul >/dev/null
expect_eq "$(messages)" 8 "messages after delete"

sync_ok
expect_eq "$(fetched rita)" 0 "IMAP: the removed message is not fetched again"
expect_eq "$(fetched paul)" 0 "POP3: the removed message is not fetched again"
expect_eq "$(stored_before rita)" 0 "IMAP: nothing fetched to compare"
expect_eq "$(stored_before paul)" 0 "POP3: nothing fetched to compare"
expect_eq "$(messages)" 8 "messages after the second run"
for user in rita paul; do
  expect_eq "$(mk search --count "gonezq$user")" 0 "$user's removed text is found by no search"
  expect_eq "$(mk search --count "to:$user@example.test")" 4 "$user's remaining messages"
done

# The same bytes imported again are archived again; the server's place
# stays removed for sync (nothing fetched, nothing counted as stored).
mk import "$WORK/rita-3.eml" "$WORK/paul-3.eml" >/dev/null
expect_eq "$(messages)" 10 "messages after importing the removed ones again"
sync_ok
expect_eq "$(fetched rita)" 0 "IMAP: a removed place stays removed after an import"
expect_eq "$(fetched paul)" 0 "POP3: a removed place stays removed after an import"
expect_eq "$(stored_before rita)$(stored_before paul)" 00 "nothing fetched to compare after the import"

# delete = after-download: the 4 archived messages leave the server; the
# removed one stays there.
accounts after-download
sync_ok
expect_eq "$(deleted rita)" 4 "IMAP: the archived messages are deleted on the server"
expect_eq "$(deleted paul)" 4 "POP3: the archived messages are deleted on the server"
expect_eq "$(dovecot_count rita)" 1 "IMAP: the removed message stays on the server"
expect_eq "$(dovecot_count paul)" 1 "POP3: the removed message stays on the server"
expect_eq "$(fetched rita)$(fetched paul)" 00 "nothing fetched under after-download"
echo "ok"

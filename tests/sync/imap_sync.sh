#!/usr/bin/env bash
# `mailkeep sync` over IMAP against a real Dovecot on 127.0.0.1: every TLS
# mode, several folders (non-ASCII names too) with folders/exclude
# patterns, incremental runs that skip unchanged folders, flag changes, a
# UIDVALIDITY change (nothing stored twice), after-download deleting
# exactly what was archived, and a 30 MB literal.
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
for u in carol dave; do dovecot_adduser "$u" "${u}pw"; done
export ALICE_PW=$DOVECOT_ALICE_PASSWORD BOB_PW=$DOVECOT_BOB_PASSWORD CAROL_PW=carolpw DAVE_PW=davepw

# save USER FOLDER N TAG: N distinct messages into FOLDER (created if needed).
save() {
  local user=$1 folder=$2 n=$3 tag=$4 i
  doveadm_ mailbox create -u "$user" "$folder" 2>/dev/null || true
  for ((i = 1; i <= n; i++)); do
    printf 'From: Sender <s@example.test>\nTo: %s@example.test\nSubject: %s %d\nMessage-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody %s %d\n' \
      "$user" "$tag" "$i" "$tag" "$i" "$tag" "$i" | doveadm_ save -u "$user" -m "$folder"
  done
}


# 1. Folders: INBOX, a hierarchy, non-ASCII names; Trash excluded.
save alice INBOX 4 inbox
save alice Archive/2024 3 arch
save alice "Entwürfe" 2 draft
save alice "日本語" 2 nihongo
save alice Trash 2 trash
account alice alice ALICE_PW implicit "exclude=Trash"
sync_ok alice
expect_eq "$(fetched alice)" 11 "messages fetched from 4 folders"
for f in INBOX Archive/2024 "Entwürfe" "日本語"; do
  n=$(mk search --count "folder:\"$f\"")
  [[ $n -gt 0 ]] || fail "nothing archived from folder $f"
done
expect_eq "$(mk search --count 'folder:Trash')" 0 "excluded folder"

# 2. TLS modes; an account limited to one folder pattern.
account stls alice ALICE_PW starttls "folders=Archive/*"
account clear alice ALICE_PW none allow_plaintext=true "folders=INBOX"
sync_ok stls clear
expect_eq "$(fetched stls)" 3 "STARTTLS, Archive/* only"
expect_eq "$(fetched clear)" 4 "plaintext, INBOX only"
account refuse alice ALICE_PW none
expect_status 1 mk sync --config "$cfg" refuse
grep -qi "plain" "$WORK/err" || fail "plaintext refusal not explained: $(cat "$WORK/err")"

# 3. Incremental: nothing new; then one new message in one folder.
sync_ok alice
expect_eq "$(fetched alice)" 0 "second run"
save alice "Entwürfe" 1 newdraft
sync_ok alice
expect_eq "$(fetched alice)" 1 "run after one new message"
expect_eq "$(mk search --count 'subject:newdraft')" 1 "new message indexed"

# 4. Flags changed on the server are recorded (and searchable).
doveadm_ flags add -u alice '\Flagged' mailbox INBOX subject 'inbox 2'
sync_ok alice
summary alice | grep -q "flags changed 1" || fail "flag change not seen: $(cat "$WORK/out")"
expect_eq "$(mk search --count 'is:flagged')" 1 "flagged messages"
doveadm_ flags remove -u alice '\Flagged' mailbox INBOX subject 'inbox 2'
sync_ok alice
expect_eq "$(mk search --count 'is:flagged')" 0 "flag removed"

# 5. UIDVALIDITY change: the folder is recreated with archived messages,
# first a copy of INBOX's "inbox 1", then the same three as before. UID 1
# now holds a message of another size, so the messages were renumbered too
# and are all read again. (Had every UID kept its message's size and
# INTERNALDATE, which Dovecot stores in whole seconds, the folder would be
# taken as renumbered only and nothing fetched: cli_sync_volatile_uidvalidity.)
before=$(messages)
old_uidvalidity=$(uidvalidity alice Archive/2024)
doveadm_ mailbox delete -u alice Archive/2024
save alice Archive/2024 1 inbox
save alice Archive/2024 3 arch
[[ $(uidvalidity alice Archive/2024) != "$old_uidvalidity" ]] || fail "the recreated folder kept its UIDVALIDITY"
sync_ok alice
expect_eq "$(messages)" "$before" "messages after a UIDVALIDITY change (nothing stored twice)"
expect_eq "$(stored_before alice)" 4 "re-read messages were recognised as archived"

# 6. after-download deletes exactly what was archived; a message another
#    client marked \Deleted (not archived by this account) survives.
save carol INBOX 5 carol
save carol Work 2 carolwork
account carol carol CAROL_PW implicit delete=after-download "exclude=Work"
sync_ok carol
expect_eq "$(deleted carol)" 5 "after-download deleted"
expect_eq "$(dovecot_count carol INBOX)" 0 "INBOX emptied"
expect_eq "$(dovecot_count carol Work)" 2 "excluded folder untouched"

# 7. A 30 MB message comes through as one literal, byte for byte.
python3 - "$WORK/big.eml" <<'EOF'
import base64, os, sys
data = base64.encodebytes(os.urandom(22 * 1024 * 1024)).decode()
with open(sys.argv[1], "w") as f:
    f.write("From: big@example.test\nTo: dave@example.test\nSubject: thirty megabytes\n"
            "Message-ID: <big-imap@example.test>\nMIME-Version: 1.0\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + data)
EOF
doveadm_ save -u dave -m INBOX <"$WORK/big.eml"
account dave dave DAVE_PW implicit
sync_ok dave
expect_eq "$(fetched dave)" 1 "30 MB message fetched"
got=$(mk show --raw 'mid:big-imap@example.test' | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$(sha256sum <"$WORK/big.eml" | cut -d' ' -f1)" "30 MB message bytes"

# 8. A folder deleted on the server keeps its archived messages.
before=$(messages)
doveadm_ mailbox delete -u alice "日本語"
sync_ok alice
expect_eq "$(messages)" "$before" "messages after a folder was deleted on the server"
[[ $(mk search --count 'folder:日本語') -gt 0 ]] || fail "archived messages of a deleted folder are not found"

mk verify >/dev/null || fail "verify after sync"
echo "imap_sync: ok"

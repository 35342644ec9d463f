#!/usr/bin/env bash
# Issue 13 acceptance: an IMAP account (INBOX, a nested folder, two
# non-ASCII names; flags and keywords set; one message in two folders)
# synced from a real Dovecot, exported as a Maildir (Maildir++ and nested
# layouts; folder names in modified UTF-7 and in UTF-8) and imported into a
# new archive gives the same folders, the same flags and keywords per
# message and folder, and the same messages (SHA-256 set). A Dovecot
# pointed at the exported Maildir++ tree lists the folders by their names
# and fetches the keywords.
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
export ALICE_PW=$DOVECOT_ALICE_PASSWORD

save() {  # save FOLDER TAG N
  local folder=$1 tag=$2 n=$3 i
  doveadm_ mailbox create -u alice "$folder" 2>/dev/null || true
  for ((i = 1; i <= n; i++)); do
    printf 'From: S <s@example.test>\nSubject: %s %d\nMessage-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\nbody %s %d\n' \
      "$tag" "$i" "$tag" "$i" "$tag" "$i" | doveadm_ save -u alice -m "$folder"
  done
}
save INBOX inbox 3
save Work/Projects proj 2
save "Données" donnees 2
save "Übersicht" ueber 1
# The same message in two folders: it must come back in both.
printf 'From: S <s@example.test>\nSubject: twice\nMessage-ID: <twice@example.test>\n\nin two folders\n' |
  doveadm_ save -u alice -m INBOX
printf 'From: S <s@example.test>\nSubject: twice\nMessage-ID: <twice@example.test>\n\nin two folders\n' |
  doveadm_ save -u alice -m Work/Projects
doveadm_ flags add -u alice '\Seen' mailbox INBOX subject 'inbox 1'
doveadm_ flags add -u alice '\Flagged \Answered' mailbox INBOX subject 'inbox 2'
doveadm_ flags add -u alice '\Seen \Draft' mailbox Work/Projects subject 'proj 1'
doveadm_ flags add -u alice '\Flagged' mailbox Work/Projects subject twice
doveadm_ flags add -u alice '\Seen \Deleted' mailbox "Données" subject 'donnees 2'
doveadm_ flags add -u alice '$Label1 Junk' mailbox INBOX subject 'inbox 3'
doveadm_ flags add -u alice '\Seen $Forwarded custom_kw' mailbox "Übersicht" subject 'ueber 1'

account alice alice ALICE_PW implicit
sync_ok alice
expect_eq "$(fetched alice)" 10 "messages fetched"

# places ARCHIVE ACCOUNT: "folder<TAB>sha256<TAB>flags" per place, sorted
# (system flags and keywords; not \Recent, which is no flag one can set).
places() {
  python3 - "$MAILKEEP" "$1" "$2" <<'PY'
import json, subprocess, sys
mk, archive, account = sys.argv[1:]
n = json.loads(subprocess.run([mk, "--archive", archive, "--json", "stats"], check=True, capture_output=True).stdout)["messages"]
rows = set()
for i in range(1, n + 1):
    m = json.loads(subprocess.run([mk, "--archive", archive, "--json", "show", str(i)], check=True, capture_output=True).stdout)
    for l in m["locations"]:
        if l["account"] != account:
            continue
        flags = " ".join(sorted(f for f in l["flags"].split() if f.lower() != "\\recent"))
        rows.add(f'{l["folder"]}\t{m["sha256"]}\t{flags}')
print("\n".join(sorted(rows)))
PY
}
places "$ARCHIVE" alice >"$WORK/synced"
expect_eq "$(cut -f1 "$WORK/synced" | sort -u | tr '\n' ,)" "Données,INBOX,Work/Projects,Übersicht," "folders synced"
grep -q $'^INBOX\t.*\t\\\\Answered \\\\Flagged$' "$WORK/synced" || fail "flags not synced: $(cat "$WORK/synced")"
grep -q $'^Übersicht\t.*\t$Forwarded \\\\Seen custom_kw$' "$WORK/synced" || fail "keywords not synced: $(cat "$WORK/synced")"

for way in maildir++/mutf7 nested/mutf7 maildir++/utf8 nested/utf8; do
  layout=${way%/*} names=${way#*/}
  rm -rf "$WORK/md" "$WORK/restored"
  mk -q export --format maildir --layout "$layout" --folder-names "$names" --out "$WORK/md"
  case $way in
    maildir++/mutf7) dirs=(cur .Work.Projects/cur ".Donn&AOk-es/cur" ".&ANw-bersicht/cur") ;;
    nested/mutf7) dirs=(cur Work/Projects/cur "Donn&AOk-es/cur" "&ANw-bersicht/cur") ;;
    maildir++/utf8) dirs=(cur .Work.Projects/cur ".Données/cur" ".Übersicht/cur") ;;
    nested/utf8) dirs=(cur Work/Projects/cur "Données/cur" "Übersicht/cur") ;;
  esac
  for d in "${dirs[@]}"; do [[ -d "$WORK/md/$d" ]] || fail "$way: no $d in the export: $(find "$WORK/md" -type d)"; done
  expect_eq "$(find "$WORK/md" -path '*/cur/*' -type f | wc -l)" 10 "$way: files (one per message and folder: 9 messages, one in two folders)"
  init_archive "$WORK/restored"
  "$MAILKEEP" --archive "$WORK/restored" -q import --account alice --folder-names "$names" "$WORK/md"
  places "$WORK/restored" alice >"$WORK/imported"
  diff "$WORK/synced" "$WORK/imported" >&2 || fail "$way: folders or flags differ after export and import"
done

# A Dovecot reads the exported Maildir++ tree (its default layout and
# names) as bob's mail: the folders by name, the keywords as flags.
rm -rf "$WORK/md"
mk -q export --format maildir --out "$WORK/md"
bob_md="$DOVECOT_DIR/mail/bob/Maildir"
rm -rf "$bob_md" && mkdir -p "$(dirname "$bob_md")" && cp -a "$WORK/md" "$bob_md"
chown -R nobody:nogroup "$(dirname "$bob_md")"
# (Sent and Trash are the test Dovecot's auto-created folders.)
expect_eq "$(doveadm_ mailbox list -u bob | grep -vxE 'Sent|Trash' | sort | tr '\n' ,)" "Données,INBOX,Work,Work/Projects,Übersicht," \
  "Dovecot's folders of the export"
# (\Recent: the messages are new to this Dovecot.)
expect_eq "$(doveadm_ fetch -u bob 'flags' mailbox "Übersicht" all | sed 's/ \\Recent//' | tr '\n' ' ' | tr -s ' ')" \
  'flags: \Seen $Forwarded custom_kw ' "Dovecot's flags in Übersicht"
doveadm_ fetch -u bob 'flags' mailbox INBOX all | grep -q '^flags: .*\$Label1 Junk' ||
  fail "Dovecot does not see the INBOX keywords: $(doveadm_ fetch -u bob 'flags' mailbox INBOX all)"
echo PASS

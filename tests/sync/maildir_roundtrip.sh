#!/usr/bin/env bash
# Issue 13 acceptance: a 3-folder IMAP account (INBOX, a nested folder, a
# non-ASCII name; flags set; one message in two folders) synced from a real
# Dovecot, exported as a Maildir (Maildir++ and nested layouts) and imported
# into a new archive gives the same folders, the same flags per message and
# folder, and the same messages (SHA-256 set).
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

account alice alice ALICE_PW implicit
sync_ok alice
expect_eq "$(fetched alice)" 9 "messages fetched"

# places ARCHIVE ACCOUNT: "folder<TAB>sha256<TAB>flags" per place, sorted
# (system flags only: what a Maildir can carry).
places() {
  python3 - "$MAILKEEP" "$1" "$2" <<'PY'
import json, subprocess, sys
mk, archive, account = sys.argv[1:]
n = json.loads(subprocess.run([mk, "--archive", archive, "--json", "stats"], check=True, capture_output=True).stdout)["messages"]
system = {"\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft"}
rows = set()
for i in range(1, n + 1):
    m = json.loads(subprocess.run([mk, "--archive", archive, "--json", "show", str(i)], check=True, capture_output=True).stdout)
    for l in m["locations"]:
        if l["account"] != account:
            continue
        flags = " ".join(sorted(f for f in l["flags"].split() if f.lower() in system))
        rows.add(f'{l["folder"]}\t{m["sha256"]}\t{flags}')
print("\n".join(sorted(rows)))
PY
}
places "$ARCHIVE" alice >"$WORK/synced"
expect_eq "$(cut -f1 "$WORK/synced" | sort -u | tr '\n' ,)" "Données,INBOX,Work/Projects," "folders synced"
grep -q $'^INBOX\t.*\t\\\\Answered \\\\Flagged$' "$WORK/synced" || fail "flags not synced: $(cat "$WORK/synced")"

for layout in maildir++ nested; do
  rm -rf "$WORK/md" "$WORK/restored"
  mk -q export --format maildir --layout "$layout" --out "$WORK/md"
  if [[ $layout == maildir++ ]]; then
    for d in cur .Work.Projects/cur ".Données/cur"; do [[ -d "$WORK/md/$d" ]] || fail "no $d in the export"; done
  else
    for d in cur Work/Projects/cur "Données/cur"; do [[ -d "$WORK/md/$d" ]] || fail "no $d in the export"; done
  fi
  expect_eq "$(find "$WORK/md" -type f | wc -l)" 9 "$layout: files (one per message and folder: 8 messages, one in two folders)"
  init_archive "$WORK/restored"
  "$MAILKEEP" --archive "$WORK/restored" -q import --account alice "$WORK/md"
  places "$WORK/restored" alice >"$WORK/imported"
  diff "$WORK/synced" "$WORK/imported" >&2 || fail "$layout: folders or flags differ after export and import"
done
echo PASS

#!/usr/bin/env bash
# Every file of an archive is 0600 and every directory 0700, whatever the
# umask: init, import (with the index), sync from a real Dovecot (POP3 and
# IMAP) and reindex run under umask 022 and 000, then every path under the
# archive is checked with find. (Xapian makes its files with the umask's
# mode: 0644 files and 0755 shard directories before mailkeep set umask 077.)
PROTOCOL=pop3
source "$(dirname "$0")/../sync/lib.sh"
export ALICE_PW=$DOVECOT_ALICE_PASSWORD
account pop alice ALICE_PW implicit
PROTOCOL=imap account imap alice ALICE_PW implicit

mkdir -p "$WORK/in"
for i in 1 2 3; do
  printf 'Subject: local %s\nMessage-ID: <local%s@example.test>\n\nbody %s\n' "$i" "$i" "$i" >"$WORK/in/$i.eml"
done

for mask in 022 000; do
  ARCHIVE="$WORK/archive-$mask"
  (
    umask "$mask"
    mk init >/dev/null
    mk -q import "$WORK/in"
    dovecot_seed alice 2
    sync_ok pop
    dovecot_seed alice 1
    sync_ok imap
    mk -q reindex
    mk -q reindex --pending
  )
  n=$(mk search --format ids '*' | wc -l)
  ((n >= 6)) || fail "umask $mask: $n messages in the archive, expected 3 imported and at least 3 synced"
  [[ -d "$ARCHIVE/xapian" ]] || fail "umask $mask: no index was written"
  bad=$(find "$ARCHIVE" \( -type d ! -perm 0700 \) -o \( ! -type d ! -perm 0600 \) -printf '%m %p\n')
  [[ -z "$bad" ]] || fail "umask $mask: paths with other modes than 0600/0700:"$'\n'"$bad"
  echo "umask $mask: $(find "$ARCHIVE" | wc -l) paths, all 0600 files / 0700 directories"
done
echo "ok"

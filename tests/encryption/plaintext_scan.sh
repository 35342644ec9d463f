#!/usr/bin/env bash
# Issue 13 acceptance: no known plaintext under an encrypted archive's
# directory. 900 linux-mips messages imported (with the index), 15 more
# synced over IMAP from a real Dovecot into three folders, and 385 more
# imported (the batch that passes 1,000 messages trains the first zstd
# dictionary, so a dictionary record and its repair file are scanned too).
# Every file under the archive (catalog.sqlite and, caught while the last
# import runs, its -wal and -shm; packs, dictionaries, orphans, the key
# file) is searched for the messages' subjects, body lines, addresses,
# Message-IDs, raw bytes and SHA-256s (hex and binary) and the folder names
# (plaintext_scan.py). With MAILKEEP_TEST_ENCRYPTED=1 nothing may be found;
# without it (a plain archive) the same scan must find them, so the check
# can fail.
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
mips="${MAILKEEP_CORPUS:-}/linux-mips-list-archive/linux-mips-2018.mboxrd.zst"
[[ -f "$mips" ]] || skip "$mips not found (the shared corpus is not beside this clone)"
mode=plain
encrypted && mode=encrypted
export ALICE_PW=$DOVECOT_ALICE_PASSWORD

python3 "$here/../../tools/bench/mboxrd_split.py" "$WORK/all" 1300 "$mips" >/dev/null
mkdir -p "$WORK/src/import/cur" "$WORK/src/import/new" "$WORK/src/import/tmp" "$WORK/src/synced" "$WORK/src/late/cur" "$WORK/src/late/new"
all=("$WORK"/all/*)
mv "${all[@]:0:900}" "$WORK/src/import/cur/"
mv "${all[@]:900:15}" "$WORK/src/synced/"
mv "${all[@]:915}" "$WORK/src/late/cur/"

mk -q import "$WORK/src/import"
folders=("Projekt-Geheimsache-4711" "Données-Privées-Été")
for box in "${folders[@]}"; do doveadm_ mailbox create -u alice "$box"; done
i=0
for f in "$WORK"/src/synced/*; do
  case $((i++ % 3)) in
    0) box=INBOX ;;
    1) box=${folders[0]} ;;
    2) box=${folders[1]} ;;
  esac
  doveadm_ save -u alice -m "$box" <"$f"
done
account alice alice ALICE_PW implicit
sync_ok alice
expect_eq "$(fetched alice)" 15 "messages synced"
expect_eq "$(messages)" 915 "messages in the archive"

# The index works, wherever it is kept.
mid=$(grep -i -m1 '^Message-ID:' "$(ls "$WORK"/src/import/cur/* | head -1)" | sed -E 's/^[^<]*<([^>]*)>.*/\1/')
expect_eq "$(mk search --count "mid:$mid")" 1 "messages found by mid:$mid"
if encrypted; then
  [[ ! -e $ARCHIVE/xapian ]] || fail "an encrypted archive keeps its index inside its directory"
  [[ -d $(index_dir) ]] || fail "no index cache"
fi

# The catalog's -wal and -shm are caught while an import of 385 more
# messages is stopped in the middle (SIGSTOP once the WAL has grown).
"$MAILKEEP" --archive "$ARCHIVE" -q import "$WORK/src/late" 2>"$WORK/late.err" &
pid=$!
for ((n = 0; n < 3000; n++)); do
  [[ $(stat -c %s "$ARCHIVE/catalog.sqlite-wal" 2>/dev/null || echo 0) -gt 8192 ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
kill -STOP "$pid" 2>/dev/null || true
status=0
python3 "$here/plaintext_scan.py" "$mode" "$ARCHIVE" "$WORK/src" "${folders[@]}" >"$WORK/scan1" || status=$?
kill -KILL "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
cat "$WORK/scan1"
[[ $status -eq 0 ]] || fail "scan while an import runs ($mode archive)"
grep -q '^  catalog.sqlite-wal ' "$WORK/scan1" || echo "note: the import ended before its WAL was caught"
for f in catalog.sqlite key; do
  if [[ $f == catalog.sqlite ]] || encrypted; then
    grep -q "^  $f " "$WORK/scan1" || fail "$f was not scanned"
  fi
done
grep -q '^  packs/.*\.pack ' "$WORK/scan1" || fail "no pack was scanned"

# After the SIGKILL: the next command recovers (orphans, WAL), verify passes,
# and the scan again finds nothing (plain: finds them).
mk -q import "$WORK/src/late"
expect_eq "$(messages)" 1300 "messages after the interrupted import was redone"
mk -q verify || fail "verify after the SIGKILL"
[[ $(mk --json stats | json_field '["dictionaries"]') -ge 1 ]] || fail "no dictionary was trained: the scan would not cover one"
python3 "$here/plaintext_scan.py" "$mode" "$ARCHIVE" "$WORK/src" "${folders[@]}" >"$WORK/scan2" ||
  { cat "$WORK/scan2"; fail "scan after recovery ($mode archive)"; }
tail -n 9 "$WORK/scan2"
echo "ok: $mode archive scanned"

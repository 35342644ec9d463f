#!/usr/bin/env bash
# A catalog that is missing, empty or unreadable beside full packs: every
# command refuses in one line naming rebuild-catalog (exit 3), nothing in
# packs/ changes (no orphaning), and rebuild-catalog brings every message back.
source "$(dirname "$0")/lib.sh"
: "${MAKE_SAMPLE_MAIL:?}"
command -v sqlite3 >/dev/null || skip "sqlite3 command not installed"
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
mk init >/dev/null
mk import -q "$WORK/sample/Maildir"
total=$(mk --json stats | json_field '["messages"]')
hashes() { sqlite3 "$1/catalog.sqlite" "SELECT hex(sha256) FROM blobs ORDER BY 1" | sha256sum; }
want=$(hashes "$ARCHIVE")
packs_sum() { (cd "$1/packs" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

for damage in empty missing garbage; do
  A="$WORK/$damage"
  cp -a "$ARCHIVE" "$A"
  rm -f "$A"/catalog.sqlite-wal "$A"/catalog.sqlite-shm
  case $damage in
    empty) : >"$A/catalog.sqlite" ;;
    missing) rm "$A/catalog.sqlite" ;;
    garbage) head -c 65536 /dev/zero | tr '\0' 'x' >"$A/catalog.sqlite" ;;
  esac
  before=$(packs_sum "$A")
  for cmd in "import -q $WORK/sample/Maildir" "verify" "stats" "search fox" "show 1" "reindex"; do
    # shellcheck disable=SC2086
    expect_status 3 "$MAILKEEP" --archive "$A" $cmd
    expect_eq "$(wc -l <"$WORK/err")" 1 "$damage catalog, $cmd: lines of error"
    grep -q 'mailkeep rebuild-catalog' "$WORK/err" || fail "$damage catalog, $cmd: does not name rebuild-catalog: $(cat "$WORK/err")"
    expect_eq "$(packs_sum "$A")" "$before" "$damage catalog, $cmd: packs byte-identical"
  done
  [[ ! -e "$A/packs/orphans" ]] || fail "$damage catalog: something was orphaned: $(ls "$A/packs/orphans")"
  "$MAILKEEP" --archive "$A" rebuild-catalog -q
  expect_eq "$("$MAILKEEP" --archive "$A" --json stats | json_field '["messages"]')" "$total" "$damage catalog: messages after rebuild"
  expect_eq "$(hashes "$A")" "$want" "$damage catalog: the same messages after rebuild"
  "$MAILKEEP" --archive "$A" verify -q || fail "$damage catalog: rebuilt archive does not verify"
  # And writing works again, without moving anything aside.
  "$MAILKEEP" --archive "$A" import -q "$WORK/sample/old-mail.mbox"
  [[ ! -e "$A/packs/orphans" ]] || fail "$damage catalog: import after rebuild orphaned $(ls "$A/packs/orphans")"
  rm -rf "$A"
done
echo "ok"

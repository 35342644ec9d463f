#!/usr/bin/env bash
# A byte flipped inside a pack makes verify name exactly the affected
# message (exit 1); rebuild-catalog recovers every intact message.
source "$(dirname "$0")/lib.sh"
: "${MAKE_SAMPLE_MAIL:?}"
command -v sqlite3 >/dev/null || skip "sqlite3 command not installed"
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
mk init >/dev/null
mk import -q "$WORK/sample/Maildir"
total=$(mk --json stats | json_field '["messages"]')
mk verify -q || fail "clean archive does not verify"

# Flip one byte in the middle of several messages' frames, one at a time.
for victim in 3 17 $((total / 2)) $total; do
  cp -a "$ARCHIVE" "$WORK/damaged"
  read -r pack offset stored <<<"$(sqlite3 -separator ' ' "$ARCHIVE/catalog.sqlite" \
    "SELECT pack, offset, stored_len FROM blobs WHERE id = $victim")"
  packfile=$(printf '%s/packs/%06d.pack' "$WORK/damaged" "$pack")
  size=$(stat -c %s "$packfile")
  # The frame is the last stored_len bytes of the record; flip one in it.
  next=$(sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT coalesce(min(offset), $size) FROM blobs WHERE pack = $pack AND offset > $offset")
  pos=$(( next - stored / 2 - 1 ))
  byte=$(dd if="$packfile" bs=1 skip="$pos" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $(( byte ^ 0x20 )))" | dd of="$packfile" bs=1 seek="$pos" conv=notrunc 2>/dev/null
  set +e
  "$MAILKEEP" --archive "$WORK/damaged" --json verify >"$WORK/verify.json" 2>"$WORK/err"
  rc=$?
  set -e
  expect_eq "$rc" 1 "verify exit status with damage in message $victim"
  named=$(python3 -c "import json; print(' '.join(str(p['id']) for p in json.load(open('$WORK/verify.json'))['problems']))")
  expect_eq "$named" "$victim" "messages verify named"
  "$MAILKEEP" --archive "$WORK/damaged" show --raw "$victim" >/dev/null 2>&1 && fail "damaged message $victim still reads"
  rm -rf "$WORK/damaged"
done

# rebuild-catalog from packs alone brings every message back.
rm "$ARCHIVE/catalog.sqlite"*
mk rebuild-catalog -q
expect_eq "$(mk --json stats | json_field '["messages"]')" "$total" "messages after rebuild-catalog"
mk verify -q || fail "rebuilt archive does not verify"
echo "ok"

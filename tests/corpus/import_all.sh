#!/usr/bin/env bash
# Every message file under ../shared/corpus (except the two bulk archives,
# covered elsewhere) imports without a crash or hang, and the archive then
# passes verify --deep. The SpamAssassin tarball is unpacked first.
source "$(dirname "$0")/../cli/lib.sh"
corpus="${MAILKEEP_CORPUS:-}"
[[ -d "$corpus" ]] || skip "$corpus not found (the shared corpus is not beside this clone)"
mk init >/dev/null
status=0
for d in "$corpus"/*/; do
  name=$(basename "$d")
  case "$name" in
    linux-mips-list-archive) continue ;;
    spamassassin-public-corpus)
      mkdir -p "$WORK/sa"
      for t in "$d"/*.tar.zst; do zstd -dc "$t" | tar -x -C "$WORK/sa"; done
      target="$WORK/sa" ;;
    *) target="$d" ;;
  esac
  set +e
  timeout 600 "$MAILKEEP" --archive "$ARCHIVE" --json import "$target" >"$WORK/$name.json" 2>"$WORK/$name.err"
  rc=$?
  set -e
  # 0 = all imported, 1 = some files refused with a reason (empty files,
  # non-mail data files of the corpus). Anything else is a crash or hang.
  if [[ $rc -gt 1 ]]; then
    echo "FAIL: import of $name exited $rc"; tail -5 "$WORK/$name.err"; status=1
  fi
  # Only files that hold no message may be refused: empty ones and a
  # compressed test fixture that is deliberately corrupt.
  python3 - "$name" "$WORK/$name.json" <<'PY' || status=1
import json, sys
d = json.load(open(sys.argv[2]))
print(f"{sys.argv[1]:34} imported {d['imported']:5}  duplicates {d['duplicates']:4}  failed {d['failed']:3}")
bad = shown = 0
for f in d['failures']:
    ok = f['why'] == 'empty file' or f['why'].startswith('corrupt gzip data')
    if not ok or shown < 3:
        print(f"    refused {f['where']}: {f['why']}")
        shown += 1
    if not ok:
        bad += 1
sys.exit(1 if bad else 0)
PY
done
mk verify --deep -q || { echo "FAIL: verify --deep"; status=1; }
mk stats
exit $status

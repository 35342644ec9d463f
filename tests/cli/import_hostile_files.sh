#!/usr/bin/env bash
# import against hostile files: compression bombs are decoded as a stream
# under the per-message limit (--max-message-mb, default 64) and fail with
# one line naming the file while the other files go in; an mbox is split as
# it is decoded, so only its over-limit message is skipped; symbolic links
# out of the given tree are not followed, one line each.
# Peak RSS of each bomb case is measured (/usr/bin/time -f %M) and must stay
# under 512 MB; `ulimit -v` keeps a regression from taking the machine.
source "$(dirname "$0")/lib.sh"
command -v zstd >/dev/null || skip "zstd not installed"
[[ -x /usr/bin/time ]] || skip "/usr/bin/time not installed"
mk init >/dev/null
ulimit -v 4000000  # KiB: a 1 GiB message held whole (5 GB before the fix) cannot fit

# Runs import under /usr/bin/time; RSS (KiB) in $WORK/rss, exit status in $rc.
import_measured() {
  set +e
  /usr/bin/time -f %M -o "$WORK/rss" "$MAILKEEP" --archive "$ARCHIVE" "$@" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  set -e
}
check_rss() {
  local kib; kib=$(tail -n 1 "$WORK/rss")
  echo "peak RSS $1: $((kib / 1024)) MB"
  ((kib < 512 * 1024)) || fail "$1: peak RSS $((kib / 1024)) MB >= 512 MB"
}

# 1. Bombs of 1 GiB and 3 GiB beside a good file: each bomb is one line
#    naming it, the good message is imported, exit status 1.
for size in 1 3; do
  mkdir -p "$WORK/in$size"
  { printf 'Subject: bomb\n\n'; head -c "${size}G" /dev/zero; } | zstd -q -c >"$WORK/in$size/bomb.eml.zst"
  printf 'Subject: good %s\nMessage-ID: <good%s@example.com>\n\nfine\n' "$size" "$size" >"$WORK/in$size/good.eml"
  echo "bomb ${size} GiB: $(stat -c %s "$WORK/in$size/bomb.eml.zst") bytes compressed"
  import_measured import "$WORK/in$size"
  [[ $rc -eq 1 ]] || { cat "$WORK/err" >&2; fail "${size} GiB bomb: exit $rc, expected 1"; }
  expect_eq "$(wc -l <"$WORK/err")" 1 "${size} GiB bomb: error lines"
  grep -q "bomb.eml.zst: message larger than the 64 MiB limit; skipped (a larger --max-message-mb imports it)" "$WORK/err" ||
    fail "${size} GiB bomb: $(cat "$WORK/err")"
  check_rss "import of a ${size} GiB bomb"
done
expect_eq "$(mk search --format ids 'subject:good' | wc -l)" 2 "good messages beside the bombs"

# 2. A large compressed mbox is fine; the one over-limit message in it is
#    skipped with one line (here with a lowered limit), the others go in.
{
  printf 'From a Sat Mar  2 10:11:12 2024\nSubject: mbox one\n\none\n\n'
  printf 'From b Sat Mar  2 10:11:12 2024\nSubject: mbox big\n\n'
  head -c 50M /dev/zero | tr '\0' 'x' | fold -w 70
  printf '\nFrom c Sat Mar  2 10:11:12 2024\nSubject: mbox three\n\nthree\n'
  for i in $(seq 1 300); do
    printf '\nFrom d Sat Mar  2 10:11:12 2024\nSubject: mbox many %s\nMessage-ID: <many%s@x>\n\n' "$i" "$i"
    head -c 100K /dev/zero | tr '\0' 'y' | fold -w 70
  done
} | zstd -q -c >"$WORK/big.mbox.zst"
import_measured import --max-message-mb 10 "$WORK/big.mbox.zst"
[[ $rc -eq 1 ]] || { cat "$WORK/err" >&2; fail "mbox: exit $rc, expected 1"; }
expect_eq "$(wc -l <"$WORK/err")" 1 "mbox: error lines"
grep -q "big.mbox.zst at byte [0-9]*: message larger than the 10 MiB limit; skipped" "$WORK/err" ||
  fail "mbox: $(cat "$WORK/err")"
check_rss "import of an mbox (80 MB) with a 50 MB message, limit 10 MiB"
expect_eq "$(mk search --format ids 'subject:mbox' | wc -l)" 302 "mbox messages imported"

# 3. Links: a Maildir entry linked to a file outside the tree, a link to /,
#    cur/ of a sub-folder linked out; one line each, nothing of them read.
mkdir -p "$WORK/md/cur" "$WORK/md/new" "$WORK/md/.Sub" "$WORK/secret/cur"
printf 'Subject: outside secret\n\nshadow\n' >"$WORK/secret/cur/shadow"
printf 'Subject: inside\nMessage-ID: <inside@x>\n\nok\n' >"$WORK/md/cur/m1:2,S"
ln -s "$WORK/secret/cur/shadow" "$WORK/md/cur/shadow-link"
ln -s / "$WORK/md/cur/root-link"
ln -s "$WORK/secret/cur" "$WORK/md/.Sub/cur"
ln -s "m1:2,S" "$WORK/md/cur/inside-link"
import_measured import "$WORK/md"
[[ $rc -eq 1 ]] || { cat "$WORK/err" >&2; fail "links: exit $rc, expected 1"; }
expect_eq "$(grep -c 'symbolic link out of the imported tree' "$WORK/err")" 3 "skipped link lines"
expect_eq "$(wc -l <"$WORK/err")" 3 "link error lines"
expect_eq "$(mk search --format ids 'subject:secret' | wc -l)" 0 "messages read through links"
expect_eq "$(mk search --format ids 'subject:inside' | wc -l)" 1 "message inside the tree"
echo "ok"

#!/usr/bin/env bash
# export never writes through a symlink planted in its output, never leaves
# temp files, and an mbox replaces an existing file only with --force.
source "$(dirname "$0")/lib.sh"
mk init >/dev/null
for n in 1 2 3; do
  printf 'From: a%s@example.com\nSubject: message %s\nMessage-ID: <m%s@example.com>\nDate: Mon, 1 Jan 2024 10:00:0%s +0000\n\nbody %s\n' \
    "$n" "$n" "$n" "$n" "$n" >"$WORK/m$n.eml"
done
mk -q import "$WORK/m1.eml" "$WORK/m2.eml" "$WORK/m3.eml"
printf 'precious\n' >"$WORK/victim"
victim_ok() { [[ $(cat "$WORK/victim") == precious ]] || fail "$1: the symlink target was overwritten"; }

# eml: symlinks at the old temp name and at a final name.
mkdir "$WORK/eml"
ln -s "$WORK/victim" "$WORK/eml/1.eml.tmp"
ln -s "$WORK/victim" "$WORK/eml/2.eml"
mk -q export --format eml --out "$WORK/eml"
victim_ok "eml export"
[[ -L "$WORK/eml/1.eml.tmp" ]] || fail "planted symlink at the temp name was touched"
[[ -f "$WORK/eml/2.eml" && ! -L "$WORK/eml/2.eml" ]] || fail "2.eml is not a regular file after export"
mk show --raw 2 | cmp -s - "$WORK/eml/2.eml" || fail "2.eml does not hold message 2"
[[ $(ls -A "$WORK/eml" | grep -c 'tmp$') -eq 1 ]] || fail "export left temp files: $(ls -A "$WORK/eml")"

# --out itself a symlink: refused, nothing written behind it.
mkdir "$WORK/real"
ln -s "$WORK/real" "$WORK/outlink"
expect_status 1 mk export --format eml --out "$WORK/outlink"
grep -q "symbolic link" "$WORK/err" || fail "symlinked --out not explained"
[[ -z $(ls -A "$WORK/real") ]] || fail "export wrote through a symlinked --out"

# maildir: a symlinked cur/ is refused; a clean one gets files and no temps.
mkdir -p "$WORK/md" "$WORK/evil"
ln -s "$WORK/evil" "$WORK/md/cur"
expect_status 1 mk export --format maildir --out "$WORK/md"
[[ -z $(ls -A "$WORK/evil") ]] || fail "maildir export wrote through a symlinked cur/"
rm "$WORK/md/cur"
mk -q export --format maildir --out "$WORK/md"
expect_eq "$(ls "$WORK/md/cur" | wc -l)" 3 "maildir files"
expect_eq "$(ls -A "$WORK/md/tmp" | wc -l)" 0 "files left in maildir tmp/"

# mbox: an existing file is refused (exit 2, one line, --force suggested).
printf 'keep me\n' >"$WORK/all.mbox"
expect_status 2 mk export --format mbox --out "$WORK/all.mbox"
grep -q -- "--force" "$WORK/err" || fail "refusal does not suggest --force"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "refusal is not one line"
expect_eq "$(cat "$WORK/all.mbox")" "keep me" "refused mbox content"
mk -q export --format mbox --out "$WORK/all.mbox" --force
expect_eq "$(grep -c '^From ' "$WORK/all.mbox")" 3 "messages in the replaced mbox"
[[ $(stat -c %a "$WORK/all.mbox") == 600 ]] || fail "mbox is not 0600"
# A symlink at the mbox path counts as existing; --force replaces the link.
ln -s "$WORK/victim" "$WORK/link.mbox"
expect_status 2 mk export --format mbox --out "$WORK/link.mbox"
mk -q export --format mbox --out "$WORK/link.mbox" --force
victim_ok "mbox export"
[[ -f "$WORK/link.mbox" && ! -L "$WORK/link.mbox" ]] || fail "link.mbox is not a regular file"
# A new mbox needs no --force; no temp file is left beside it.
mk -q export --format mbox --out "$WORK/new.mbox" 2
expect_eq "$(grep -c '^From ' "$WORK/new.mbox")" 1 "messages in new.mbox"
[[ -z $(ls -A "$WORK" | grep 'tmp$') ]] || fail "mbox export left a temp file: $(ls -A "$WORK")"
echo "ok"

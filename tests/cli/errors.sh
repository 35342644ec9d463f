#!/usr/bin/env bash
# Bad input gets one clear line and the documented exit status.
source "$(dirname "$0")/lib.sh"
expect_status 3 mk stats
grep -q "mailkeep init" "$WORK/err" || fail "missing-archive error does not say what to do"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "error is not one line"
# Every failure to open the archive is 3, whatever the command or cause.
expect_status 3 mk show 1
expect_status 3 mk export --format eml --out "$WORK/never"
[[ ! -e "$WORK/never" ]] || fail "export created --out without an archive"
expect_status 3 mk search '*'
expect_status 3 mk verify
printf 'x' >"$WORK/not-an-archive"
expect_status 3 "$MAILKEEP" --archive "$WORK/not-an-archive" stats

mk init >/dev/null
expect_status 3 mk init
grep -q "already exists" "$WORK/err" || fail "second init does not say the archive exists"

expect_status 2 mk import
expect_status 2 mk frobnicate
expect_status 2 mk import --no-such-option x
expect_status 2 mk export --format zip --out "$WORK/x"
expect_status 1 mk show abc
grep -q "no message" "$WORK/err" || fail "no-match error unclear"
expect_status 1 mk show 12345
grep -q "no message" "$WORK/err" || fail "unknown id error unclear"

# A missing PATH is a usage error found before anything is imported, even
# when other paths are fine: nothing is stored, the path is named.
expect_status 2 mk import "$WORK/does-not-exist"
grep -q "does-not-exist" "$WORK/err" || fail "missing path not named"
printf 'From: a@example.com\nSubject: fine\n\nfine\n' >"$WORK/fine.eml"
expect_status 2 mk import "$WORK/fine.eml" "$WORK/does-not-exist" "$WORK/fine.eml"
grep -q "does-not-exist" "$WORK/err" || fail "missing path among others not named"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "missing path error is not one line"
expect_eq "$(mk --json stats | json_field '["messages"]')" 0 "messages after an import with a missing path"
# Missing paths are found before the archive is opened (2, not 3).
expect_status 2 "$MAILKEEP" --archive "$WORK/no-archive" import "$WORK/does-not-exist"

# A file that is not mail still imports (the archive keeps bytes), an empty
# file is reported and skipped.
printf 'not really mail\n' >"$WORK/garbage.eml"
: >"$WORK/empty.eml"
expect_status 1 mk import "$WORK/garbage.eml" "$WORK/empty.eml"
grep -q "empty" "$WORK/err" || fail "empty file not reported"
expect_eq "$(mk --json stats | json_field '["messages"]')" 1 "messages after importing garbage"
expect_status 2 mk show 'frmo:abc'
grep -q "query error" "$WORK/err" || fail "query syntax error unclear"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "query error is not one line"
expect_status 2 mk export 'frmo:abc' --format eml --out "$WORK/q"
expect_status 2 mk search '(from:alice'
expect_status 2 mk show 'mid:'
# An output path that cannot be written is the export's problem (1), not
# the archive's (3).
expect_status 1 mk export --format mbox --out "$WORK/nonexistent/dir/x.mbox"
grep -q "nonexistent" "$WORK/err" || fail "unwritable mbox path not named"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "output path error is not one line"
expect_status 1 mk export --format eml --out "$WORK/garbage.eml/sub"

# A second writer waits for nobody: it is refused with exit 3 while a
# writer holds the lock.
exec 9>"$ARCHIVE/lock"
flock -x 9
expect_status 3 mk import "$WORK/garbage.eml"
grep -q "locked" "$WORK/err" || fail "lock error unclear"
flock -u 9
exec 9>&-

for cmd in init import show export stats verify rebuild-catalog; do
  mk "$cmd" --help >/dev/null || fail "$cmd --help failed"
done
echo "ok"

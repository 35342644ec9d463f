#!/usr/bin/env bash
# export --account NAME [--folder NAME]: only messages with a location in
# that account (and folder), a Maildir with only that account's folders;
# and import of a Dovecot-style Maildir restores its keywords
# (dovecot-keywords + the letters a..z in the file names).
source "$(dirname "$0")/lib.sh"
set -e
mk init >/dev/null

msg() {  # msg FILE SUBJECT
  mkdir -p "$(dirname "$1")"
  printf 'From: s@example.test\nSubject: %s\nMessage-ID: <%s@example.test>\n\nbody %s\n' "$2" "$2" "$2" >"$1"
}
# Account a: INBOX (2 messages, keywords) and Work (1). Account b: INBOX (1)
# and the shared message in its Work too.
mkdir -p "$WORK/a/new" "$WORK/a/tmp" "$WORK/a/.Work/new" "$WORK/a/.Work/tmp" "$WORK/b/new" "$WORK/b/tmp" "$WORK/b/.Work/tmp"
printf '0 $Label1\n1 Junk\n2 $Forwarded\n' >"$WORK/a/dovecot-keywords"
msg "$WORK/a/cur/1.a1:2,Sac" a1
msg "$WORK/a/cur/2.a2:2,b" a2
msg "$WORK/a/.Work/cur/3.aw:2,F" aw
msg "$WORK/b/cur/4.b1:2,S" b1
msg "$WORK/b/.Work/cur/5.aw:2," aw
mk -q import --account a "$WORK/a"
mk -q import --account b "$WORK/b"
expect_eq "$(mk --json stats | json_field '["messages"]')" 4 "messages"

# Keywords came back from the Maildir, after the system flags.
flags=$(mk --json show mid:a1@example.test | json_field '["locations"][0]["flags"]')
expect_eq "$flags" '\Seen $Label1 $Forwarded' "a1's flags"
flags=$(mk --json show mid:a2@example.test | json_field '["locations"][0]["flags"]')
expect_eq "$flags" 'Junk' "a2's flags"

count() { mk --json export "$@" | json_field '["exported"]'; }
expect_eq "$(count --format eml --out "$WORK/e1" --account a)" 3 "account a: messages"
expect_eq "$(ls "$WORK/e1" | wc -l)" 3 "account a: files"
expect_eq "$(count --format eml --out "$WORK/e2" --account b)" 2 "account b: messages"
expect_eq "$(count --format eml --out "$WORK/e3" --account a --folder Work)" 1 "account a, folder Work"
expect_eq "$(count --format eml --out "$WORK/e4" --account nobody)" 0 "no such account"

# A Maildir of account b: its folders only, its flags (aw is in a's Work
# too, flagged there, but not in b's).
mk -q export --format maildir --out "$WORK/mb" --account b
expect_eq "$(cd "$WORK/mb" && find . -path '*/cur/*' -type f | sed 's/[0-9]*\.M[0-9]*\.mailkeep//' | sort | tr '\n' ' ')" \
  "./.Work/cur/:2, ./cur/:2,S " "account b's Maildir"
# Account a's keywords go back out as they came in (letters renumbered per folder).
mk -q export --format maildir --out "$WORK/ma" --account a
expect_eq "$(ls "$WORK/ma/cur" | sed 's/.*://' | sort | tr '\n' ' ')" "2,Sab 2,c " "account a's INBOX info"
expect_eq "$(cat "$WORK/ma/dovecot-keywords")" $'0 $Forwarded\n1 $Label1\n2 Junk' "account a's dovecot-keywords"
[[ ! -e "$WORK/ma/.Work/dovecot-keywords" ]] || fail "a keywords file in a folder without keywords"

expect_status 2 mk export --format eml --out "$WORK/e5" --folder Work
grep -q -- "--folder goes with --account" "$WORK/err" || fail "no usage line: $(cat "$WORK/err")"
echo PASS

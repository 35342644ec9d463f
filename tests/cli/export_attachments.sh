#!/usr/bin/env bash
# export --attachments DIR and show --part (issue 13 item 6): decoded
# attachments with sanitized names, identical contents written once,
# colliding names numbered; one part decoded to stdout or a file; nothing
# written outside DIR.
source "$(dirname "$0")/lib.sh"
att() {  # att NAME BASE64
  printf -- '--b\nContent-Type: application/octet-stream; name="%s"\nContent-Disposition: attachment; filename="%s"\nContent-Transfer-Encoding: base64\n\n%s\n' "$1" "$1" "$2"
}
{
  printf 'From: a@example.com\nSubject: one\nMessage-ID: <one@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n'
  printf -- '--b\nContent-Type: text/plain\n\nhello\n'
  att "../../escape.txt" "c2FtZQo="      # "same\n"
  att "CON" "b3RoZXIK"                   # "other\n"
  printf -- '--b--\n'
} >"$WORK/one.eml"
{
  printf 'From: b@example.com\nSubject: two\nMessage-ID: <two@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n'
  printf -- '--b\nContent-Type: text/plain\n\nhi\n'
  att "copy-of-same.txt" "c2FtZQo="      # the same contents again: written once
  att "escape.txt" "ZGlmZmVyZW50Cg=="    # another contents, same name: numbered
  printf -- '--b--\n'
} >"$WORK/two.eml"
mk init >/dev/null
mk -q import --no-index "$WORK/one.eml" "$WORK/two.eml"

mkdir "$WORK/sub"
mk -q export --attachments "$WORK/sub/files"
expect_eq "$(cd "$WORK/sub/files" && ls -A | tr '\n' ' ')" "_CON escape (2).txt escape.txt " "attachment files"
expect_eq "$(cat "$WORK/sub/files/escape.txt")" "same" "first contents"
expect_eq "$(cat "$WORK/sub/files/escape (2).txt")" "different" "second contents"
[[ ! -e "$WORK/escape.txt" ]] || fail "an attachment name escaped the directory"
expect_eq "$(stat -c %a "$WORK/sub/files/_CON")" 600 "attachment file mode"
mk -q export --attachments "$WORK/sub/files"  # again: the same names, nothing added
expect_eq "$(ls -A "$WORK/sub/files" | wc -l)" 3 "files after a second export"

# show --part: parts as `show --json` lists them.
expect_eq "$(mk show 1 --part 2)" "same" "part 2 to stdout"
mk show 1 --part 3 --output "$WORK/part3"
expect_eq "$(cat "$WORK/part3")" "other" "part 3 to a file"
expect_status 1 mk show 1 --part 9
grep -q "no part 9" "$WORK/err" || fail "unknown part: $(cat "$WORK/err")"
expect_status 2 mk show 1 --part ""
expect_status 2 mk show 1 --output "$WORK/x"
echo PASS

#!/usr/bin/env bash
# Real signed messages (issue 14 item 4): a detached PGP or S/MIME signature
# is not an attachment for has:attachment, attachment:, `search --format
# json`, `show --json` or `export --attachments` (store/mime IsAttachment);
# a real attachment beside it still is. Then a charset alias
# (eucgb2312_cn) decodes as GB2312 and is found by its words.
source "$(dirname "$0")/lib.sh"
corpus=${MAILKEEP_CORPUS:-}
pgp="$corpus/ruby-mail-gem-fixtures/emails/mime_emails/sig_only_email.eml"
smime="$corpus/mimekit-testdata/smime/thunderbird-signed.txt"
[[ -f "$pgp" && -f "$smime" ]] || skip "corpus not found (MAILKEEP_CORPUS=$corpus)"
printf 'From: c@example.com\nSubject: gb\nMessage-ID: <gb@example.com>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=eucgb2312_cn\nContent-Transfer-Encoding: base64\n\n%s\n' \
  "$(printf '\xd6\xd0\xce\xc4 zhongwen' | base64)" >"$WORK/gb.eml"
mk init >/dev/null
mk -q import "$pgp" "$smime" "$WORK/gb.eml"  # ids 1, 2, 3

expect_eq "$(mk search --format ids 'has:attachment')" "2" "has:attachment (only the S/MIME message's JPEG)"
expect_eq "$(mk search --count 'attachment:signature.asc OR attachment:smime.p7s')" "0" "signatures as attachment:"
expect_eq "$(mk search --format ids 'attachment:signed.jpg')" "2" "the real attachment"
expect_eq "$(mk search --format ids 'mimetype:application/pgp-signature')" "1" "the signature part stays a part"
names() { python3 -c "import json,sys; d=json.load(sys.stdin); d=d if isinstance(d,list) else [d]; print(' '.join(n for m in d for n in m['attachments']))"; }
expect_eq "$(mk search --format json '*' | names)" "signed.jpg" "search --format json attachments"
expect_eq "$(mk show --json 1 | names)" "" "show --json 1 attachments"
expect_eq "$(mk show --json 2 | names)" "signed.jpg" "show --json 2 attachments"
mk -q export --attachments "$WORK/files"
expect_eq "$(ls -A "$WORK/files" | tr '\n' ' ')" "signed.jpg " "export --attachments"

expect_eq "$(mk search --format ids '中文')" "3" "eucgb2312_cn text found by its words"
expect_eq "$(mk show --json 3 | json_field '["text"]')" "中文 zhongwen" "eucgb2312_cn decoded"
echo "ok"

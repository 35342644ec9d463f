#!/usr/bin/env bash
# search, thread, reindex and queries in show/export, on the bundled sample.
source "$(dirname "$0")/lib.sh"
: "${MAKE_SAMPLE_MAIL:?}"
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
init_archive
mk -q import "$WORK/sample/Maildir" "$WORK/sample/old-mail.mbox"
total=$(mk --json stats | json_field '["messages"]')

expect_eq "$(mk search --count '*')" "$total" "search * --count"
expect_eq "$(mk search --format ids '*' | wc -l)" "$total" "search * --format ids lines"

# A known message: its Message-ID, an address and a subject word find it.
mid=fwd-invoice-2022-117@example.com
id=$(mk search --format ids "mid:$mid")
[[ -n "$id" ]] || fail "mid: search found nothing"
expect_eq "$(mk --json show "$id" | json_field '["message_id"]')" "$mid" "message found by mid:"
expect_eq "$(mk search --format ids "id:<$mid>")" "$id" "id:<...> search"
from=$(mk --json show "$id" | json_field '["from"][0]["address"]')
mk search --format ids "from:$from" | grep -x "$id" >/dev/null || fail "from:$from does not find message $id"
mk search --format ids "from:${from#*@}" | grep -x "$id" >/dev/null || fail "from:<domain> does not find message $id"
# Case and diacritics do not matter: the subject holds "Rechnung" and the
# text "Grüße"-style umlauts.
mk search --format ids 'subject:RECHNUNG' | grep -x "$id" >/dev/null || fail "subject: search is case-sensitive"
[[ $(mk search --count 'grusse OR gruße OR GRÜSSE') -gt 0 ]] || fail "diacritic-insensitive search found nothing"
expect_eq "$(mk search --count 'grüße')" "$(mk search --count 'grusse')" "folded and unfolded forms"

# Dates: the sample spans 2019-2024.
expect_eq "$(mk search --count 'date:2019..2024')" "$total" "date:2019..2024"
expect_eq "$(mk search --count 'date:..2018')" 0 "date:..2018"
in21=$(mk search --count 'date:2021')
[[ $in21 -gt 0 && $in21 -lt $total ]] || fail "date:2021 matched $in21 of $total"
expect_eq "$(( $(mk search --count 'date:2021') + $(mk search --count 'NOT date:2021') ))" "$total" "NOT date:2021"
[[ $(mk search --count 'size:1k..') -gt 0 ]] || fail "size:1k.. matched nothing"
[[ $(mk search --count 'has:attachment') -gt 0 ]] || fail "has:attachment matched nothing"
[[ $(mk search --count 'attachment:pdf') -gt 0 ]] || fail "attachment:pdf matched nothing"
[[ $(mk search --count 'is:seen') -gt 0 ]] || fail "is:seen matched nothing"

# JSON output carries the documented fields.
mk search --format json --limit 3 '*' >"$WORK/s.json"
python3 - "$WORK/s.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 3, rows
for r in rows:
    for k in ("id", "message_id", "thread", "date", "from", "subject", "size", "folders", "flags", "attachments"):
        assert k in r, (k, r)
dates = [r["date"] for r in rows]
assert dates == sorted(dates, reverse=True), dates   # newest first by default
PY

# Syntax errors: one line, exit 2, pointing at the problem.
expect_status 2 mk search 'frmo:alice'
grep -q 'frmo' "$WORK/err" || fail "unknown field not named"
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "query error is not one line"
expect_status 2 mk search '(from:alice'

# Threads: a reply and its parent share a thread.
reply=$(mk search --format ids 'subject:Re' --limit 1 --sort oldest)
[[ -n "$reply" ]] || fail "no reply in the sample"
[[ $(mk thread "$reply" | wc -l) -ge 2 ]] || fail "thread of message $reply has fewer than 2 messages"
[[ $(mk search --threads --format ids 'subject:Re' | wc -l) -eq $(mk search --count 'subject:Re') ]] ||
  fail "search --threads lost results"

# show and export take any query.
mk show "mid:$mid" >/dev/null
n=$(mk search --count "from:$from")
mk export "from:$from" --format eml --out "$WORK/byfrom" >/dev/null
expect_eq "$(ls "$WORK/byfrom" | wc -l)" "$n" "export by query"

# Killed while indexing: the catalog's queue keeps what is left, and
# reindex --pending finishes it without redoing the rest.
"$MAILKEEP" --archive "$ARCHIVE" -q reindex &
pid=$!
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
mk -q reindex --pending
expect_eq "$(mk search --count '*')" "$total" "messages after an interrupted reindex and --pending"
mk -q verify || fail "verify after an interrupted reindex"
# (An encrypted catalog cannot be read from outside; verify above checked it.)
if ! encrypted; then
  [[ $(sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT count(*) FROM intents WHERE kind = 3") == 0 ]] ||
    fail "index intents left after an interrupted reindex and --pending"
fi

# An older mailkeep's in-flight journal file (messages taken off the queue
# but not yet committed by the index) is adopted: the next run indexes
# them (a gone id is dropped) and removes the file.
first=$(mk search --format ids --sort oldest '*' | head -1)
index=$(index_dir)
printf '%s\n999999\n' "$first" >"$index/in-flight"
mk -q reindex --pending
[[ ! -e "$index/in-flight" ]] || fail "the old journal file was not adopted"
expect_eq "$(mk search --count '*')" "$total" "messages after a journal replay"
expect_eq "$(mk search --format ids "mid:$mid")" "$id" "message found after a journal replay"

# The index is derived data: lose it, verify says so, reindex restores it
# with the same answers as the incremental index built by import.
queries=('*' 'subject:Re' "from:$from" 'date:2021' 'has:attachment' 'grusse' '"Rechnung Nr"' 'NOT is:seen' 'size:2k..')
for q in "${queries[@]}"; do mk search --format ids --sort oldest "$q" >"$WORK/before.$(printf '%s' "$q" | md5sum | cut -c1-8)"; done
rm -rf "$index"
expect_status 1 mk verify
grep -qi "reindex" "$WORK/out" || fail "verify does not report the missing index"
mk -q reindex
expect_eq "$(mk search --count '*')" "$total" "messages after reindex"
for q in "${queries[@]}"; do
  f="$WORK/before.$(printf '%s' "$q" | md5sum | cut -c1-8)"
  [[ -s "$f" || "$q" == 'NOT is:seen' ]] || fail "query '$q' matched nothing before reindex"
  mk search --format ids --sort oldest "$q" | cmp -s - "$f" || fail "reindex answers '$q' differently from the incremental index"
done
mk -q verify || fail "verify after reindex"
echo "ok: $total messages searchable"

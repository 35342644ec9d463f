#!/usr/bin/env bash
# `mailkeep migrate` against a real Dovecot: an archive holding the sample
# Maildir (imported) and mail synced from alice over IMAP (flags, a keyword,
# chosen internal dates, a nested folder) is appended to bob, once with
# --keep-folders and once with --folder. Checked from the server's side
# (doveadm and a `sync` of bob into a second archive): folders, flags,
# internal dates and byte-exact bodies; a second run appends nothing; a
# --dry-run changes nothing; a later `sync` of bob recognises everything.
# Interrupted runs (a crash right after the server's OK) resume without
# appending any message twice; connections cut by a proxy in the middle of
# the APPENDs are logged in to again within the run.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/dovecot.sh"
reason=$(dovecot_skip_reason) && skip "$reason"
: "${MAKE_SAMPLE_MAIL:?MAKE_SAMPLE_MAIL must point at make_sample_mail}"
chmod 755 "$WORK"
dovecot_start "$WORK/dovecot"
proxy_pid=
trap '[[ -n $proxy_pid ]] && kill "$proxy_pid" 2>/dev/null; dovecot_stop; rm -rf "$WORK"' EXIT
export TZ=UTC ALICE_PW=$DOVECOT_ALICE_PASSWORD BOB_PW=$DOVECOT_BOB_PASSWORD CAROL_PW=carolpw DAVE_PW=davepw
doveadm_() { doveadm -c "$DOVECOT_CONF" "$@"; }
# Dovecot re-reads its passwd file at most once a second: add users first.
dovecot_adduser carol carolpw
dovecot_adduser dave davepw
sleep 1.1

cfg="$WORK/config.ini"
account() {  # account USER [HOST PORT]
  local pw=${1^^}_PW
  printf '[account.%s]\nprotocol = imap\nhost = %s\nport = %s\ntls = implicit\nuser = %s\npassword_env = %s\nca_file = %s\ntimeout = 30\n\n' \
    "$1" "${2:-$DOVECOT_HOST}" "${3:-$DOVECOT_IMAPS_PORT}" "$1" "$pw" "$DOVECOT_CA"
}
for u in alice bob carol dave; do account "$u" >>"$cfg"; done
run() {  # run ARGS...: mailkeep with the config; output in $WORK/out, $WORK/err
  "$MAILKEEP" --config "$cfg" "$@" >"$WORK/out" 2>"$WORK/err" || {
    local rc=$?
    cat "$WORK/out" "$WORK/err" >&2
    fail "mailkeep $* exited $rc"
  }
}
field() { json_field "$1" <"$WORK/out"; }

# 1. The source archive: the sample Maildir, plus alice's mail over IMAP.
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
mk init >/dev/null
run --archive "$ARCHIVE" import "$WORK/sample/Maildir"
amail="$DOVECOT_DIR/mail/alice/Maildir"
doveadm_ mailbox create -u alice "Projects/x"
mkdir -p "$amail/.Projects.x/cur"
put() {  # put DIR NAME FLAGS DATE SUBJECT: one message file with that mtime
  printf 'From: Carol <carol@example.test>\nTo: alice@example.test\nSubject: %s\nMessage-ID: <%s@alice.test>\nDate: Tue, 02 Jan 2024 10:00:00 +0000\n\nbody of %s\n' \
    "$5" "$2" "$5" >"$1/cur/$2:2,$3"
  touch -d "$4" "$1/cur/$2:2,$3"
}
put "$amail" a1 FS "2019-05-06 07:08:09 UTC" "alice flagged"
put "$amail" a2 "" "2018-01-02 03:04:05 UTC" "alice unread"
put "$amail" a3 RS "2017-11-12 13:14:15 UTC" "alice answered"
put "$amail/.Projects.x" a4 S "2016-02-29 12:00:00 UTC" "alice project"
chown -R nobody:nogroup "$DOVECOT_DIR/mail/alice"
doveadm_ flags add -u alice '$Work' mailbox INBOX header Message-ID a1@alice.test
run --archive "$ARCHIVE" sync alice
total=$(mk --json stats | json_field '["messages"]')
expect_eq "$total" 244 "messages in the source archive"

# 2. --dry-run: lists, changes nothing (bob stays empty, no location recorded).
locations_before=$(mk --json stats | json_field '["locations"]')
bob_folders=$(doveadm_ mailbox list -u bob | sort | tr '\n' ' ')
run --archive "$ARCHIVE" migrate --to-account bob --keep-folders --dry-run
expect_eq "$(grep -c ' -> ' "$WORK/out")" 244 "dry-run lines"
grep -q ' -> Lists/dev (new folder)' "$WORK/out" || fail "dry-run does not plan Lists/dev: $(head "$WORK/out")"
grep -q '^migrate to bob: would append 244 ' "$WORK/out" || fail "dry-run summary: $(tail -n1 "$WORK/out")"
expect_eq "$(doveadm_ mailbox list -u bob | sort | tr '\n' ' ')" "$bob_folders" "bob's folders after a dry run"
expect_eq "$(dovecot_count bob INBOX)" 0 "bob's INBOX after a dry run"
expect_eq "$(mk --json stats | json_field '["locations"]')" "$locations_before" "locations after a dry run"

# 3. --keep-folders: everything goes to bob, in its own folders.
run --archive "$ARCHIVE" --json migrate --to-account bob --keep-folders
expect_eq "$(field '["appended"]')" 244 "appended"
expect_eq "$(field '["failed"]')" 0 "failed"
expect_eq "$(doveadm_ mailbox list -u bob | sort | tr '\n' ' ')" \
  "Archive Archive/2023 INBOX Lists Lists/dev Projects Projects/x Sent Trash " "bob's folders"
expect_eq "$(dovecot_count bob INBOX)" $((86 + 3)) "bob's INBOX"
expect_eq "$(dovecot_count bob Lists/dev)" 72 "bob's Lists/dev"
expect_eq "$(dovecot_count bob Projects/x)" 1 "bob's Projects/x"

# Flags and INTERNALDATE as the server has them, for alice's messages.
fetch() {  # fetch FOLDER MESSAGE-ID: "flags|received" as Dovecot reports them (\Recent is per session)
  doveadm_ -f flow fetch -u bob 'flags date.received' mailbox "$1" header Message-ID "$2" |
    sed -E 's/^flags=(.*) date.received=(.*)$/\1|\2/; s/\\Recent ?//; s/ \|/|/'
}
expect_eq "$(fetch INBOX a1@alice.test)" '\Flagged \Seen $Work|2019-05-06 07:08:09' "flags and date of a1"
expect_eq "$(fetch INBOX a2@alice.test)" '|2018-01-02 03:04:05' "flags and date of a2"
expect_eq "$(fetch INBOX a3@alice.test)" '\Answered \Seen|2017-11-12 13:14:15' "flags and date of a3"
expect_eq "$(fetch Projects/x a4@alice.test)" '\Seen|2016-02-29 12:00:00' "flags and date of a4"

# 4. Every message, seen from bob's side: a sync of bob into a second
#    archive must give the same bytes, and each place the flags and
#    internal date that the source archive's best location had.
B="$WORK/archive-b"
"$MAILKEEP" --archive "$B" init >/dev/null
run --archive "$B" sync bob
# IMAP carries CRLF line ends and `sync` stores them as LF (the Maildir
# form), so bodies are compared by the SHA-256 of their bytes with CRLF as
# LF ("lf_sha256"); for the LF messages that is their exact SHA-256.
# The exact bytes come from one `export --format eml` (ID.eml, as
# `show --raw` gives them), not a `show --raw` per message: 488 processes
# fewer.
dump() {  # dump ARCHIVE FILE: one JSON object per message (show --json + lf_sha256, crlf_sha256)
  local id dir="$2.d"
  mkdir -p "$dir"
  "$MAILKEEP" --archive "$1" export --format eml --out "$dir/raw" >/dev/null
  for id in $("$MAILKEEP" --archive "$1" search --format ids '*'); do
    "$MAILKEEP" --archive "$1" --json show "$id" >"$dir/$id.json"
  done
  python3 - "$dir" >"$2" <<'EOF'
import glob, hashlib, json, os, re, sys
for name in sorted(glob.glob(sys.argv[1] + "/*.json")):
    m = json.load(open(name))
    raw = open(os.path.join(sys.argv[1], "raw", "%d.eml" % m["id"]), "rb").read()
    m["lf_sha256"] = hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
    m["crlf_sha256"] = hashlib.sha256(re.sub(rb"(?<!\r)\n", b"\r\n", raw)).hexdigest()
    print(json.dumps(m))
EOF
}
dump "$ARCHIVE" "$WORK/a.jsonl"
dump "$B" "$WORK/b.jsonl"
python3 - "$WORK/a.jsonl" "$WORK/b.jsonl" <<'EOF' || fail "bob's copies differ from the archive"
import json, os, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = {m["lf_sha256"]: m for m in (json.loads(l) for l in open(sys.argv[2]))}
assert len(a) == len(b) == 244, (len(a), len(b))
rank = {"imap": 0, "maildir": 1, "mbox": 2}
def folder_of(loc):
    if loc["source"] == "imap":
        return loc["folder"]
    name = os.path.basename(loc["folder"].rstrip("/"))
    if name in ("Maildir", "INBOX"):
        return "INBOX"
    return "/".join(name[1:].split(".")) if name.startswith(".") else name
bad = 0
for m in a:
    src = sorted((l for l in m["locations"] if not (l["source"] == "imap" and l["account"] == "bob")),
                 key=lambda l: rank.get(l["source"], 3))[0]
    got = b.get(m["lf_sha256"])
    if got is None:
        print("missing on bob:", m["id"], m["subject"]); bad += 1; continue
    (there,) = [l for l in got["locations"] if l["account"] == "bob"]
    recorded = [l for l in m["locations"] if l["source"] == "imap" and l["account"] == "bob"]
    want_flags = " ".join(sorted(f for f in src["flags"].split() if f != "\\Deleted"))
    want = (folder_of(src), want_flags, src["internal_date"] or m["date"])
    have = (there["folder"], there["flags"], there["internal_date"])
    if want != have:
        print("message", m["id"], "wanted", want, "bob has", have); bad += 1
    # What migrate recorded is the server's place: same folder, UIDVALIDITY, UID.
    if [(r["folder"], r.get("uidvalidity"), r["key"]) for r in recorded] != \
       [(there["folder"], there.get("uidvalidity"), there["key"])]:
        print("message", m["id"], "recorded", recorded, "server", there); bad += 1
sys.exit(1 if bad else 0)
EOF

# The server's own bytes (IMAP BODY.PEEK[] of every message in bob's
# folders) are the archive's, with LF line ends sent as CRLF: exact for the
# messages stored with CRLF.
python3 - "$WORK/a.jsonl" <<'EOF' || fail "bytes on bob differ from the archive"
import hashlib, imaplib, json, os, ssl, sys
want = sorted(json.loads(l)["crlf_sha256"] for l in open(sys.argv[1]))
imap = imaplib.IMAP4_SSL(os.environ["DOVECOT_IP"], int(os.environ["DOVECOT_IMAPS_PORT"]),
                         ssl_context=ssl.create_default_context(cafile=os.environ["DOVECOT_CA"]))
imap.login("bob", os.environ["BOB_PW"])
got = []
for line in imap.list()[1]:
    name = line.decode().split(' "/" ')[-1].strip('"')
    if imap.select('"%s"' % name, readonly=True)[0] != "OK":
        continue
    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
    got += [hashlib.sha256(part[1]).hexdigest() for part in data if isinstance(part, tuple)]
imap.logout()
if sorted(got) != want:
    print(len(got), "on the server,", len(want), "in the archive,", len(set(want) - set(got)), "differ")
    sys.exit(1)
EOF

# 5. A second run appends nothing; a sync of bob into the source archive
#    recognises every appended message without fetching it.
run --archive "$ARCHIVE" --json migrate --to-account bob --keep-folders
expect_eq "$(field '["appended"]'),$(field '["already_there"]')" "0,244" "second run: appended, already there"
run --archive "$ARCHIVE" sync bob
grep -q '^bob: fetched 0 ' "$WORK/out" || fail "sync of bob after migrate: $(cat "$WORK/out")"
expect_eq "$(mk --json stats | json_field '["messages"]')" 244 "messages after syncing bob"

# 6. --folder: a search query's messages all into one new folder, once.
run --archive "$ARCHIVE" migrate --to-account bob --folder Imported 'from:carol@example.test'
grep -q '^migrate to bob: appended 4 ' "$WORK/out" || fail "--folder run: $(cat "$WORK/out")"
expect_eq "$(dovecot_count bob Imported)" 4 "bob's Imported"
expect_eq "$(fetch Imported a1@alice.test)" '\Flagged \Seen $Work|2019-05-06 07:08:09' "a1 in Imported"
run --archive "$ARCHIVE" migrate --to-account bob --folder Imported 'from:carol@example.test'
grep -q '^migrate to bob: appended 0 (0.0 MB), already there 4, failed 0' "$WORK/out" ||
  fail "second --folder run: $(cat "$WORK/out")"
expect_eq "$(dovecot_count bob Imported)" 4 "bob's Imported after a second run"

# 7. Killed between the server's OK and the catalog commit: the intent
#    recorded before the APPEND makes the next run look for the message
#    (size, Message-ID, bytes) instead of appending it twice.
set +e
"$MAILKEEP" --archive "$ARCHIVE" --config "$cfg" migrate --to-account carol --keep-folders \
  --debug-crash-after-appends 5 >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
[[ $rc -ge 128 ]] || fail "the debug crash did not happen (exit $rc)"
expect_eq "$(dovecot_count carol INBOX)" 5 "carol's INBOX after the crash"
run --archive "$ARCHIVE" --json migrate --to-account carol --keep-folders
expect_eq "$(field '["appended"]'),$(field '["already_there"]'),$(field '["recovered"]')" "239,5,1" \
  "after the crash: appended, already there, recovered"
expect_eq "$(dovecot_count carol INBOX)" 89 "carol's INBOX (nothing twice)"
run --archive "$ARCHIVE" --json migrate --to-account carol --keep-folders
expect_eq "$(field '["appended"]')" 0 "carol: third run"

# 8. The connection lost in the middle of the APPENDs (a proxy hangs up
#    after 8 KB from the server, on the first two connections: the answer
#    to an APPEND is lost, whether Dovecot stored it or not): the same run
#    logs in again, settles the unanswered APPEND (UIDNEXT unchanged: sent
#    again; else found on the server: recorded) and goes on; exit 0, dave
#    ends up with every message exactly once, a direct run appends nothing.
python3 "$(dirname "$0")/../servers/cutting_proxy.py" 127.0.0.1 "$DOVECOT_IMAPS_PORT" 8192@2 \
  "$WORK/proxy.port" "$WORK/proxy.log" &
proxy_pid=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/proxy.port ]] && break; sleep 0.05; done
[[ -s $WORK/proxy.port ]] || fail "the proxy did not start"
sed 's/^\[account\.dave\]$/[account.dave-old]/' "$cfg" >"$WORK/proxy.ini"
account dave 127.0.0.1 "$(cat "$WORK/proxy.port")" >>"$WORK/proxy.ini"
"$MAILKEEP" --archive "$ARCHIVE" --config "$WORK/proxy.ini" --json migrate --to-account dave --keep-folders \
  >"$WORK/out" 2>"$WORK/err" || fail "cut run: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(grep -c "^cut after" "$WORK/proxy.log")" 2 "sessions cut"
recovered=$(field '["recovered"]')
expect_eq "$(field '["appended"]'),$(field '["already_there"]'),$(field '["unknown"]'),$(field '["failed"]')" \
  "$((244 - recovered)),$recovered,0,0" "dave: appended, already there (recovered), unknown, failed"
first=$((244 - recovered))
run --archive "$ARCHIVE" --json migrate --to-account dave --keep-folders
expect_eq "$(field '["appended"]'),$(field '["already_there"]')" "0,244" "dave: a direct run after the cut run"
total_dave=0
for f in INBOX Sent Lists/dev Archive/2023 Projects/x; do total_dave=$((total_dave + $(dovecot_count dave "$f"))); done
expect_eq "$total_dave" 244 "messages on dave (nothing twice)"

# 9. Usage and configuration errors.
expect_status 2 "$MAILKEEP" --archive "$ARCHIVE" --config "$cfg" migrate '*'
expect_status 2 "$MAILKEEP" --archive "$ARCHIVE" --config "$cfg" migrate --to-account nobody
expect_status 2 "$MAILKEEP" --archive "$ARCHIVE" --config "$cfg" migrate --to-account bob --folder X --keep-folders
mk verify >/dev/null || fail "verify after migrate"
echo "imap_migrate: ok (cut run appended $first to dave)"

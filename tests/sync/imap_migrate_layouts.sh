#!/usr/bin/env bash
# `migrate --keep-folders` between two servers with different folder
# layouts (issue 12, items 3-5), against real servers:
#   MIGRATE_SOURCE, MIGRATE_TARGET   server kinds (default dovecot and
#                                    dovecot-dot-nouidplus), each one of
#     dovecot          Dovecot, prefix "", separator "/"
#     dovecot-dot      Dovecot imitating Courier/Cyrus: prefix "INBOX.", "."
#     ...-nouidplus    the same without UIDPLUS announced (as GNU Mailutils)
#   (more kinds: add a case to start_server; it must export, for NAME,
#   NAME_HOST NAME_PORT NAME_CA NAME_USER NAME_PASSWORD — implicit TLS — and
#   NAME_STOP, a command that stops it).
# The source is filled over IMAP in its own layout (imaplib: NAMESPACE,
# CREATE, APPEND with flags and dates) with INBOX, a nested folder, a
# non-ASCII folder, "Gesendet" (a well-known name of Sent) and "Entwürfe"
# (mapped by the accounts file's folder_map) and "Lists/*" (mapped by
# --map); synced into an archive; migrated to the target. Checked on the
# target over IMAP: each message once, in the mapped folder in the target's
# layout, with its flags and internal date; a second migrate appends
# nothing; a sync of the target fetches nothing new (the places recorded
# are the server's UIDs, with or without UIDPLUS).
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/dovecot.sh"
SOURCE_KIND=${MIGRATE_SOURCE:-dovecot}
TARGET_KIND=${MIGRATE_TARGET:-dovecot-dot-nouidplus}
chmod 755 "$WORK"
STOPS=()
trap 'for s in "${STOPS[@]}"; do eval "$s"; done; rm -rf "$WORK"' EXIT
export TZ=UTC

# Dovecot's capabilities after login without UIDPLUS.
NO_UIDPLUS="IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MULTIAPPEND UNSELECT CHILDREN NAMESPACE \
LIST-EXTENDED I18NLEVEL=1 ESEARCH SEARCHRES WITHIN LIST-STATUS MOVE LITERAL+ SPECIAL-USE"

start_server() {  # start_server KIND NAME
  local kind=$1 name=$2 style="" caps=""
  case $kind in
    dovecot | dovecot-nouidplus) ;;
    dovecot-dot | dovecot-dot-nouidplus) style=inbox-dot ;;
    *) fail "unknown server kind $kind" ;;
  esac
  [[ $kind == *-nouidplus ]] && caps=$NO_UIDPLUS
  reason=$(dovecot_skip_reason) && skip "$reason"
  # One set of test certificates for both (making them is most of a start).
  [[ -d $WORK/SRC/tls ]] && mkdir -p "$WORK/$name" && cp -a "$WORK/SRC/tls" "$WORK/$name/"
  DOVECOT_NAMESPACE_STYLE=$style DOVECOT_IMAP_CAPABILITY=$caps dovecot_start "$WORK/$name" || fail "dovecot did not start"
  STOPS+=("dovecot_stop '$WORK/$name'")
  printf -v "${name}_HOST" %s "$DOVECOT_HOST"
  printf -v "${name}_PORT" %s "$DOVECOT_IMAPS_PORT"
  printf -v "${name}_CA" %s "$DOVECOT_CA"
  printf -v "${name}_USER" %s alice
  printf -v "${name}_PASSWORD" %s "$DOVECOT_ALICE_PASSWORD"
}
start_server "$SOURCE_KIND" SRC
start_server "$TARGET_KIND" DST
export SRC_HOST SRC_PORT SRC_CA SRC_USER SRC_PASSWORD DST_HOST DST_PORT DST_CA DST_USER DST_PASSWORD

cfg="$WORK/config.ini"
account() {  # account NAME PREFIX [extra lines]
  local host=${2}_HOST port=${2}_PORT ca=${2}_CA user=${2}_USER
  printf '[account.%s]\nprotocol = imap\nhost = %s\nport = %s\ntls = implicit\nuser = %s\npassword_env = %s_PASSWORD\nca_file = %s\ntimeout = 30\n%s\n' \
    "$1" "${!host}" "${!port}" "${!user}" "$2" "${!ca}" "${3:-}"
}
{ account source SRC; account target DST "folder_map = Entwürfe=Drafts"; } >"$cfg"
run() {  # run ARGS...: mailkeep with the config; output in $WORK/out, $WORK/err
  "$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" "$@" >"$WORK/out" 2>"$WORK/err" || {
    local rc=$?
    cat "$WORK/out" "$WORK/err" >&2
    fail "mailkeep $* exited $rc"
  }
}
field() { json_field "$1" <"$WORK/out"; }

# Talks IMAP to SRC or DST (python3 imaplib): folders in the server's own
# layout from its NAMESPACE, names in modified UTF-7.
cat >"$WORK/imap.py" <<'EOF'
import base64, datetime, imaplib, json, os, re, ssl, sys

def mutf7(s):
    out, run = "", ""
    def flush():
        nonlocal out, run
        if run:
            b = base64.b64encode(run.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out += "&" + b + "-"
            run = ""
    for ch in s:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out += "&-" if ch == "&" else ch
        else:
            run += ch
    flush()
    return out

def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

def connect(who):
    e = os.environ
    imap = imaplib.IMAP4_SSL(e[who + "_HOST"], int(e[who + "_PORT"]),
                             ssl_context=ssl.create_default_context(cafile=e[who + "_CA"]))
    imap.login(e[who + "_USER"], e[who + "_PASSWORD"])
    typ, data = imap.namespace()
    m = re.match(rb'\(\("([^"]*)" (?:"(.)"|NIL)', data[0])
    prefix, delim = m.group(1).decode(), (m.group(2) or b"/").decode()
    return imap, prefix, delim

def server_name(prefix, delim, neutral):
    if neutral == "INBOX":
        return "INBOX"
    return prefix + delim.join(neutral.split("/"))

MESSAGES = [  # (neutral folder, flags, internal date, subject)
    ("INBOX", r"\Seen", "02-Jan-2020 10:00:00 +0000", "inbox seen"),
    ("INBOX", r"\Flagged $Label1", "03-Jan-2020 10:00:00 +0000", "inbox keyword"),
    ("INBOX", "", "04-Jan-2020 10:00:00 +0000", "inbox unread"),
    ("Lists/mips", r"\Seen", "05-Jan-2020 10:00:00 +0000", "mips 1"),
    ("Lists/mips", r"\Answered \Seen", "06-Jan-2020 10:00:00 +0000", "mips 2"),
    ("Übersicht", r"\Seen", "07-Jan-2020 10:00:00 +0000", "overview"),
    ("Gesendet", r"\Seen", "08-Jan-2020 10:00:00 +0000", "sent 1"),
    ("Gesendet", r"\Seen", "09-Jan-2020 10:00:00 +0000", "sent 2"),
    ("Entwürfe", r"\Draft", "10-Jan-2020 10:00:00 +0000", "draft"),
]

def fill():
    imap, prefix, delim = connect("SRC")
    for folder in sorted({m[0] for m in MESSAGES} - {"INBOX"}):
        typ, data = imap.create(quote(mutf7(server_name(prefix, delim, folder))))
        assert typ == "OK", (folder, data)
    for i, (folder, flags, date, subject) in enumerate(MESSAGES):
        body = ("From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\nMessage-ID: <m%d@layouts.test>\r\n"
                "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nbody %d\r\n" % (subject, i, i)).encode()
        typ, data = imap.append(quote(mutf7(server_name(prefix, delim, folder))), "(%s)" % flags if flags else None,
                                '"%s"' % date, body)
        assert typ == "OK", (folder, data)
    imap.logout()

def when(text):
    return int(datetime.datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp())

def check(mapping):
    # mapping: source neutral folder -> target neutral folder
    imap, prefix, delim = connect("DST")
    bad = 0
    want = {}
    for folder, flags, date, subject in MESSAGES:
        want.setdefault(server_name(prefix, delim, mapping.get(folder, folder)), []).append(
            (subject, flags.split(), when(date)))
    for box, items in want.items():
        # Read-write for PERMANENTFLAGS (EXAMINE may answer "()"); nothing is changed.
        typ, data = imap.select(quote(mutf7(box)))
        if typ != "OK":
            print("missing folder on the target:", box); bad += 1; continue
        permanent = (imap.response("PERMANENTFLAGS")[1] or [None])[0]
        kept = permanent.decode().strip("()").split() if permanent else None
        def permitted(f):
            return kept is None or f in kept or ("\\*" in kept and not f.startswith("\\"))
        items = [(s, " ".join(sorted(f for f in fl if permitted(f))), d) for s, fl, d in items]
        typ, data = imap.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        got = []
        for part in data:
            if not isinstance(part, tuple):
                continue
            meta = part[0].decode()
            fl = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).replace("\\Recent", "").split()
            dt = when(re.search(r'INTERNALDATE "([^"]*)"', meta).group(1))
            subj = part[1].decode().split(":", 1)[1].strip()
            got.append((subj, " ".join(sorted(fl)), dt))
        if sorted(got) != sorted(items):
            print("in", box, "wanted", sorted(items), "got", sorted(got)); bad += 1
    imap.logout()
    sys.exit(1 if bad else 0)

if sys.argv[1] == "fill":
    fill()
else:
    check(json.loads(sys.argv[2]))
EOF

python3 "$WORK/imap.py" fill || fail "could not fill the source"
mk init >/dev/null
run sync source
grep -q '^source: fetched 9 ' "$WORK/out" || fail "sync of the source: $(cat "$WORK/out")"

# Gesendet goes to the target's \Sent folder (Dovecot's harness has "Sent"),
# Entwürfe by folder_map to Drafts, Lists/* by --map to Listen/*.
run --json migrate --to-account target --keep-folders --map 'Lists/*=Listen/*'
expect_eq "$(field '["appended"]'),$(field '["failed"]')" "9,0" "appended, failed"
if grep -q "sent no UID" "$WORK/err"; then fail "UIDs not found: $(cat "$WORK/err")"; fi
python3 "$WORK/imap.py" check '{"Gesendet": "Sent", "Entwürfe": "Drafts", "Lists/mips": "Listen/mips"}' ||
  fail "the target's folders, flags or dates are wrong"

run --json migrate --to-account target --keep-folders --map 'Lists/*=Listen/*'
expect_eq "$(field '["appended"]'),$(field '["already_there"]')" "0,9" "second run: appended, already there"
run sync target
grep -q '^target: fetched 0 ' "$WORK/out" || fail "sync of the target after migrate: $(cat "$WORK/out")"
expect_eq "$(mk --json stats | json_field '["messages"]')" 9 "messages after syncing the target"

# Bad rules are usage errors (exit 2), named by where they came from.
expect_status 2 "$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" migrate --to-account target --map 'a=b'
expect_status 2 "$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" migrate --to-account target --keep-folders --map 'a*=*/*'
sed -i 's/^folder_map = .*/folder_map = Drafts/' "$cfg"
"$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" migrate --to-account target --keep-folders 2>"$WORK/err" && fail "bad folder_map accepted"
grep -q "config.ini:[0-9]*: bad value 'Drafts' for 'folder_map'" "$WORK/err" || fail "bad folder_map: $(cat "$WORK/err")"
echo "imap_migrate_layouts: ok ($SOURCE_KIND -> $TARGET_KIND)"

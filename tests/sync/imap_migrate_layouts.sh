#!/usr/bin/env bash
# `migrate --keep-folders` between two real servers (issue 12: items 3-5 and
# the migrate acceptance for every ordered pair of Dovecot, Cyrus, Courier
# and GNU Mailutils):
#   MIGRATE_SOURCE, MIGRATE_TARGET   server kinds (default dovecot and
#                                    dovecot-dot-nouidplus), each one of
#     dovecot          Dovecot, prefix "", separator "/"
#     dovecot-dot      Dovecot imitating Courier/Cyrus: prefix "INBOX.", "."
#     ...-nouidplus    the same without UIDPLUS announced (as GNU Mailutils)
#     cyrus            Cyrus IMAP 3.6 (tests/servers/cyrus.sh): "INBOX.", "."
#     courier          Courier-IMAP 5 (tests/servers/courier.sh): "INBOX.", "."
#     mailutils        GNU Mailutils imap4d 3.15 (tests/servers/mailutils.sh):
#                      "", "/", mbox folders, no UIDPLUS, no keywords
#   (more kinds: add a case to start_server; it must set, for NAME,
#   NAME_HOST NAME_PORT NAME_CA NAME_USER NAME_PASSWORD — implicit TLS — and
#   add to STOPS a command that stops it).
# The source is filled over IMAP in its own layout (imaplib: NAMESPACE,
# CREATE, APPEND with flags and dates; a flag the source folder does not
# keep is left out) with INBOX, the nested "Lists/mips" (mapped by --map)
# and "Archiv/2019" (kept), the non-ASCII "Übersicht", "Gesendet" (a
# well-known name of Sent) and "Entwürfe" (mapped to Drafts by the
# accounts file's folder_map); what the source then holds (Message-ID,
# SHA-256 of the body — BODY[TEXT], since servers add or rewrite header
# fields —, flags, INTERNALDATE) is what the target must hold. The target
# gets a "Sent" folder first when it has none (an account's usual state).
# The source is synced into an archive and migrated to the target. Checked
# on the target over IMAP: each message once, in the mapped folder in the
# target's layout, with the source's flags less those the target folder
# does not keep (one warning each) and its internal date; a second migrate
# appends nothing; a sync of the target fetches nothing new (the places
# recorded are the server's UIDs, with or without UIDPLUS).
# Skips (77) with the reason when a server cannot run here.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/dovecot.sh"
SOURCE_KIND=${MIGRATE_SOURCE:-dovecot}
TARGET_KIND=${MIGRATE_TARGET:-dovecot-dot-nouidplus}
chmod 755 "$WORK"
STOPS=()
trap 'for s in "${STOPS[@]}"; do eval "$s"; done; rm -rf "$WORK"' EXIT
export TZ=UTC
SECONDS=0
step() { echo "[$SOURCE_KIND -> $TARGET_KIND ${SECONDS}s] $*"; }

# Dovecot's capabilities after login without UIDPLUS.
NO_UIDPLUS="IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT MULTIAPPEND UNSELECT CHILDREN NAMESPACE \
LIST-EXTENDED I18NLEVEL=1 ESEARCH SEARCHRES WITHIN LIST-STATUS MOVE LITERAL+ SPECIAL-USE"

# Sets NAME_HOST ... from the harness's variables PREFIX_HOST,
# PREFIX_IMAPS_PORT, PREFIX_CA, the user and its password.
set_vars() {  # set_vars NAME PREFIX USER PASSWORD
  local h=${2}_HOST p=${2}_IMAPS_PORT c=${2}_CA
  printf -v "${1}_HOST" %s "${!h}"
  printf -v "${1}_PORT" %s "${!p}"
  printf -v "${1}_CA" %s "${!c}"
  printf -v "${1}_USER" %s "$3"
  printf -v "${1}_PASSWORD" %s "$4"
}

# The certificates are made once: copied into the second server's directory.
share_tls() { [[ -d $WORK/SRC/tls ]] && mkdir -p "$WORK/$1" && cp -a "$WORK/SRC/tls" "$WORK/$1/"; return 0; }

start_server() {  # start_server KIND NAME
  local kind=$1 name=$2 style="" caps="" reason
  share_tls "$name"
  case $kind in
    dovecot | dovecot-nouidplus | dovecot-dot | dovecot-dot-nouidplus)
      [[ $kind == dovecot-dot* ]] && style=inbox-dot
      [[ $kind == *-nouidplus ]] && caps=$NO_UIDPLUS
      reason=$(dovecot_skip_reason) && skip "$reason"
      DOVECOT_NAMESPACE_STYLE=$style DOVECOT_IMAP_CAPABILITY=$caps dovecot_start "$WORK/$name" || fail "dovecot did not start"
      STOPS+=("dovecot_stop '$WORK/$name'")
      set_vars "$name" DOVECOT alice "$DOVECOT_ALICE_PASSWORD"
      ;;
    cyrus | courier)
      # shellcheck source=/dev/null  # tests/servers/{cyrus,courier}.sh
      source "$(dirname "$0")/../servers/$kind.sh"
      reason=$("${kind}_skip_reason") && skip "$reason"
      STOPS+=("${kind}_stop '$WORK/$name'")
      "${kind}_start" "$WORK/$name" || fail "$kind did not start"
      local pw=${kind^^}_ALICE_PASSWORD
      set_vars "$name" "${kind^^}" alice "${!pw}"
      ;;
    mailutils)
      source "$(dirname "$0")/../servers/mailutils.sh"
      reason=$(mailutils_skip_reason) && skip "$reason"
      STOPS+=("mailutils_stop '$WORK/$name'")
      mailutils_start "$WORK/$name" || fail "mailutils did not start"
      set_vars "$name" MAILUTILS "$MAILUTILS_ALICE_USER" "$MAILUTILS_ALICE_PASSWORD"
      ;;
    *) fail "unknown server kind $kind" ;;
  esac
  step "$kind started"
}
start_server "$SOURCE_KIND" SRC
start_server "$TARGET_KIND" DST
export SRC_HOST SRC_PORT SRC_CA SRC_USER SRC_PASSWORD DST_HOST DST_PORT DST_CA DST_USER DST_PASSWORD

# Talks IMAP to SRC or DST (python3 imaplib): folders in the server's own
# layout from its NAMESPACE, names in modified UTF-7.
cat >"$WORK/imap.py" <<'PY'
import base64, datetime, hashlib, imaplib, json, os, re, ssl, sys

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

def unmutf7(s):
    def dec(m):
        if m.group(1) == "":
            return "&"
        b = m.group(1).replace(",", "/")
        return base64.b64decode(b + "=" * (-len(b) % 4)).decode("utf-16-be")
    return re.sub(r"&([^-]*)-", dec, s)

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

def listed(imap):
    # [(attributes, name in UTF-8)]
    typ, data = imap.list('""', '"*"')
    out = []
    for line in data:
        if not line:
            continue
        if isinstance(line, tuple):  # a name sent as a literal
            line = line[0] + b'"' + line[1] + b'"'
        m = re.match(rb'\(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (.*)$', line)
        name = m.group(2).decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out.append((m.group(1).decode(), unmutf7(name)))
    return out

def select(imap, box):
    # Read-write (EXAMINE may answer PERMANENTFLAGS "()"); returns the
    # flags the folder keeps, None when the server did not say.
    typ, data = imap.select(quote(mutf7(box)))
    if typ != "OK":
        return False
    permanent = (imap.response("PERMANENTFLAGS")[1] or [None])[0]
    return permanent.decode().strip("()").split() if permanent else None

def permits(kept, flag):
    return kept is None or flag in kept or ("\\*" in kept and not flag.startswith("\\"))

def when(text):
    return int(datetime.datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp())

def literals(data):
    # {uid: literal} from a UID FETCH of one literal per message.
    out = {}
    for i, part in enumerate(data):
        if not isinstance(part, tuple):
            continue
        m = re.search(rb"UID (\d+)", part[0])
        if not m and i + 1 < len(data) and isinstance(data[i + 1], bytes):
            m = re.search(rb"UID (\d+)", data[i + 1])
        out[int(m.group(1))] = part[1]
    return out

def records(imap, box, folder):
    # What the selected folder holds: one record per message.
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE)")
    meta = {}
    for line in data:
        if isinstance(line, tuple):
            line = line[0]
        if not line or b"UID" not in line:
            continue
        uid = int(re.search(rb"UID (\d+)", line).group(1))
        fl = re.search(rb"FLAGS \(([^)]*)\)", line).group(1).decode().replace("\\Recent", "").split()
        meta[uid] = (sorted(fl), when(re.search(rb'INTERNALDATE "([^"]*)"', line).group(1).decode()))
    if not meta:
        return []
    ids = literals(imap.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")[1])
    bodies = literals(imap.uid("FETCH", "1:*", "(UID BODY.PEEK[TEXT])")[1])
    out = []
    for uid, (fl, date) in sorted(meta.items()):
        mid = re.search(rb"<([^>]*)>", ids.get(uid, b""))
        out.append({"folder": folder, "box": box, "mid": mid.group(1).decode() if mid else "?",
                    "body": hashlib.sha256(bodies.get(uid, b"")).hexdigest()[:16], "flags": fl, "date": date})
    return out

MESSAGES = [  # (neutral folder, flags, internal date, subject)
    ("INBOX", r"\Seen", "02-Jan-2020 10:00:00 +0000", "inbox seen"),
    ("INBOX", r"\Flagged $Label1", "03-Jan-2020 10:00:00 +0000", "inbox keyword"),
    ("INBOX", "", "04-Jan-2020 10:00:00 +0000", "inbox unread"),
    ("Lists/mips", r"\Seen", "05-Jan-2020 10:00:00 +0000", "mips 1"),
    ("Lists/mips", r"\Answered \Seen", "06-Jan-2020 10:00:00 +0000", "mips 2"),
    ("Archiv/2019", r"\Seen \Flagged", "07-Jan-2019 10:00:00 +0000", "archived"),
    ("Übersicht", r"\Seen", "07-Jan-2020 10:00:00 +0000", "overview"),
    ("Gesendet", r"\Seen", "08-Jan-2020 10:00:00 +0000", "sent 1"),
    ("Gesendet", r"\Seen", "09-Jan-2020 10:00:00 +0000", "sent 2"),
    ("Entwürfe", r"\Draft", "10-Jan-2020 10:00:00 +0000", "draft"),
]
FOLDERS = ["INBOX"] + sorted({m[0] for m in MESSAGES} - {"INBOX"})

def fill(state_file):
    # Fills the source; writes what it then holds to state_file.
    imap, prefix, delim = connect("SRC")
    for folder in FOLDERS[1:]:
        typ, data = imap.create(quote(mutf7(server_name(prefix, delim, folder))))
        assert typ == "OK", (folder, data)
    left_out = set()
    for i, (folder, flags, date, subject) in enumerate(MESSAGES):
        box = server_name(prefix, delim, folder)
        kept = select(imap, box)
        assert kept is not False, (box, "not selectable")
        imap.close()
        want = [f for f in flags.split() if permits(kept, f)]
        left_out |= set(flags.split()) - set(want)
        body = ("From: a@example.test\r\nTo: b@example.test\r\nSubject: %s\r\nMessage-ID: <m%d@layouts.test>\r\n"
                "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\nbody %d: Grüße, %s\r\n" % (subject, i, i, folder)).encode()
        typ, data = imap.append(quote(mutf7(box)), "(%s)" % " ".join(want) if want else None, '"%s"' % date, body)
        assert typ == "OK", (folder, data)
    if left_out:
        print("the source does not keep", " ".join(sorted(left_out)) + ": left out")
    held = []
    for folder in FOLDERS:
        box = server_name(prefix, delim, folder)
        select(imap, box)
        held += records(imap, box, folder)
        imap.close()
    imap.logout()
    # The source must hold what was appended (else the pair proves little).
    for i, (folder, flags, date, subject) in enumerate(MESSAGES):
        got = [r for r in held if r["mid"] == "m%d@layouts.test" % i]
        assert len(got) == 1 and got[0]["folder"] == folder and got[0]["date"] == when(date), (i, got)
        assert set(got[0]["flags"]) == {f for f in flags.split() if f not in left_out}, (i, got, flags)
    json.dump(held, open(state_file, "w"))

def prepare_target():
    # The target gets a Sent folder (by name) unless it has one.
    imap, prefix, delim = connect("DST")
    folders = listed(imap)
    if not any("\\Sent" in attrs or name == server_name(prefix, delim, "Sent") for attrs, name in folders):
        typ, data = imap.create(quote(mutf7(server_name(prefix, delim, "Sent"))))
        assert typ == "OK", data
    imap.logout()

def check(state_file, mapping):
    # mapping: source neutral folder -> target neutral folder. One line per
    # folder that is wrong; prints "dropped FLAG" for each flag of the
    # source that the target does not keep.
    source = json.load(open(state_file))
    imap, prefix, delim = connect("DST")
    got, kept_by_box = [], {}
    for attrs, box in listed(imap):
        if "\\Noselect" in attrs or "\\NonExistent" in attrs:
            continue
        kept = select(imap, box)
        if kept is False:
            continue
        kept_by_box[box] = kept
        got += records(imap, box, box)
        imap.close()
    imap.logout()
    want, dropped = {}, set()
    for r in source:
        box = server_name(prefix, delim, mapping.get(r["folder"], r["folder"]))
        kept = kept_by_box.get(box)
        flags = [f for f in r["flags"] if permits(kept, f)]
        dropped |= set(r["flags"]) - set(flags)
        want.setdefault(box, []).append((r["mid"], r["body"], " ".join(sorted(flags)), r["date"]))
    have = {}
    for r in got:
        have.setdefault(r["box"], []).append((r["mid"], r["body"], " ".join(r["flags"]), r["date"]))
    bad = 0
    for box in sorted(set(want) | set(have)):
        w, h = sorted(want.get(box, [])), sorted(have.get(box, []))
        if w == h:
            continue
        bad += 1
        if box not in kept_by_box:
            print("%s: missing on the target (%d messages)" % (box, len(w)))
            continue
        print("%s: missing %s; unexpected %s" % (box, [x for x in w if x not in h], [x for x in h if x not in w]))
    for f in sorted(dropped):
        print("dropped", f)
    sys.exit(1 if bad else 0)

if sys.argv[1] == "fill":
    fill(sys.argv[2])
elif sys.argv[1] == "prepare":
    prepare_target()
else:
    check(sys.argv[2], json.loads(sys.argv[3]))
PY

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
total=10

python3 "$WORK/imap.py" fill "$WORK/source.json" || fail "could not fill the source"
python3 "$WORK/imap.py" prepare || fail "could not prepare the target"
step "source filled ($total messages), target prepared"
mk init >/dev/null
run sync source
grep -q "^source: fetched $total " "$WORK/out" || fail "sync of the source: $(cat "$WORK/out" "$WORK/err")"
step "source synced"

# Gesendet goes to the target's \Sent folder (or the one named Sent),
# Entwürfe by folder_map to Drafts, Lists/* by --map to Listen/*.
run --json migrate --to-account target --keep-folders --map 'Lists/*=Listen/*'
cp "$WORK/err" "$WORK/migrate.err"
sed 's/^/  | /' "$WORK/migrate.err"
expect_eq "$(field '["appended"]'),$(field '["failed"]')" "$total,0" "appended, failed"
step "migrated"
python3 "$WORK/imap.py" check "$WORK/source.json" \
  '{"Gesendet": "Sent", "Entwürfe": "Drafts", "Lists/mips": "Listen/mips"}' >"$WORK/check" || {
  cat "$WORK/check" >&2
  fail "the target's folders, flags or dates are wrong ($SOURCE_KIND -> $TARGET_KIND)"
}
if grep -q "sent no UID" "$WORK/migrate.err"; then fail "UIDs not found (see the warnings above)"; fi
# One warning per flag the target does not keep; none for the others.
while read -r _ flag; do
  n=$(grep -cF "does not keep the flag $flag " "$WORK/migrate.err" || true)
  expect_eq "$n" 1 "warnings about $flag"
done < <(grep '^dropped ' "$WORK/check")
n=$(grep -c "does not keep the flag" "$WORK/migrate.err" || true)
expect_eq "$n" "$(grep -c '^dropped ' "$WORK/check" || true)" "warnings about dropped flags"
step "target checked: every message once, in its folder, flags and dates ($(grep '^dropped ' "$WORK/check" | tr '\n' ' '))"

run --json migrate --to-account target --keep-folders --map 'Lists/*=Listen/*'
expect_eq "$(field '["appended"]'),$(field '["already_there"]')" "0,$total" "second run: appended, already there"
run sync target
grep -q '^target: fetched 0 ' "$WORK/out" || fail "sync of the target after migrate: $(cat "$WORK/out" "$WORK/err")"
expect_eq "$(mk --json stats | json_field '["messages"]')" "$total" "messages after syncing the target"
step "second migrate appended 0, sync of the target fetched 0"

# Bad rules are usage errors (exit 2), named by where they came from.
expect_status 2 "$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" migrate --to-account target --map 'a=b'
expect_status 2 "$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" migrate --to-account target --keep-folders --map 'a*=*/*'
sed -i 's/^folder_map = .*/folder_map = Drafts/' "$cfg"
"$MAILKEEP" --config "$cfg" --archive "$ARCHIVE" migrate --to-account target --keep-folders 2>"$WORK/err" && fail "bad folder_map accepted"
grep -q "config.ini:[0-9]*: bad value 'Drafts' for 'folder_map'" "$WORK/err" || fail "bad folder_map: $(cat "$WORK/err")"
echo "imap_migrate_layouts: ok ($SOURCE_KIND -> $TARGET_KIND, $total messages, ${SECONDS}s)"

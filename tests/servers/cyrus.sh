#!/usr/bin/env bash
# A real Cyrus IMAP 3.6 (IMAP plain + STARTTLS and implicit TLS, POP3 plain +
# STLS and implicit TLS) on 127.0.0.1 for integration tests, on free ports
# chosen at run time. Cyrus cannot be installed beside Dovecot (cyrus-imapd
# replaces dovecot-imapd): it runs from its .debs in a private root
# (private_root.sh), and everything it keeps is under DIR. Installs nothing:
# scripts/setup-debian.sh downloads the .debs and installs the libraries.
#
# Two ways to use it, as tests/servers/dovecot.sh:
#
# 1. As a command:
#      cyrus.sh run [DIR] -- COMMAND [ARG...]   start, run COMMAND with the
#                                    variables below, stop, exit with its status
#      cyrus.sh start DIR | stop DIR
#      cyrus.sh seed DIR USER N [FOLDER]          N small test messages
#      cyrus.sh deliver DIR USER [-m FOLDER] FILE...  those files over LMTP
#      cyrus.sh count DIR USER [FOLDER]           messages in INBOX or FOLDER
#      cyrus.sh adduser DIR USER PASSWORD
#      cyrus.sh mkfolder DIR USER FOLDER          e.g. Lists.mips, Entwürfe
#    Exit 77 with a printed reason when Cyrus cannot run here.
#
# 2. Sourced by a bash test:
#      source tests/servers/cyrus.sh
#      reason=$(cyrus_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      cyrus_start "$WORK/cyrus"; cyrus_seed alice 10; cyrus_count alice
#      cyrus_stop                                  # also fine from an EXIT trap
#    Functions: cyrus_skip_reason, cyrus_start DIR, cyrus_stop [DIR],
#    cyrus_adduser USER PASSWORD, cyrus_mkfolder USER FOLDER,
#    cyrus_deliver USER [-m FOLDER] FILE..., cyrus_seed USER N [FOLDER],
#    cyrus_count USER [FOLDER] (these use CYRUS_DIR).
#
# FOLDER is the name below the user's INBOX as a user sees it, in UTF-8,
# with "." as the hierarchy delimiter: "Lists.mips" is INBOX.Lists.mips
# (Debian's altnamespace: no, unixhierarchysep: no).
#
# Variables exported after a start (also in DIR/env as "export ..."):
#   CYRUS_DIR CYRUS_PID (the master) CYRUS_SH CYRUS_SYSLOG (what Cyrus logged)
#   CYRUS_HOST=localhost CYRUS_IP=127.0.0.1
#   CYRUS_IMAP_PORT (plain + STARTTLS)  CYRUS_IMAPS_PORT (implicit TLS)
#   CYRUS_POP3_PORT (plain + STLS)      CYRUS_POP3S_PORT (implicit TLS)
#   CYRUS_CA   the test CA; the certificate names localhost, 127.0.0.1, ::1
#   CYRUS_USERS="alice bob"  CYRUS_ALICE_PASSWORD=alicepw  CYRUS_BOB_PASSWORD=bobpw
#   CYRUS_ADMIN=cyrusadmin CYRUS_ADMIN_PASSWORD  (admins: may CREATE user.NAME)
# Users are in a sasldb (auxprop); AUTH=PLAIN, LOGIN and plaintext LOGIN/USER.
# Offered: UIDPLUS, CONDSTORE, QRESYNC, SPECIAL-USE, COMPRESS=DEFLATE, MOVE;
# POP3 greets with an APOP timestamp. Cyrus replaces 8-bit bytes in header
# fields with "X" on delivery: compare bodies, not whole messages.

_cyrus_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_cyrus_script="$_cyrus_here/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=tests/servers/private_root.sh
source "$_cyrus_here/private_root.sh"
# Free ports, test certificates, port probes: the ones dovecot.sh has.
# shellcheck source=tests/servers/dovecot.sh
source "$_cyrus_here/dovecot.sh"

_cyrus_debs=(cyrus-common cyrus-imapd cyrus-pop3d sasl2-bin)
# Installed libraries the unpacked binaries need (scripts/setup-debian.sh).
_cyrus_libs=(libclamav12 libical3 libzephyr4 libjansson4 libwrap0 libxapian30 libpq5 libsasl2-modules db-util)

cyrus_skip_reason() {
  local p
  private_root_skip_reason "${_cyrus_debs[@]}" && return 0
  local installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${_cyrus_libs[@]}" 2>/dev/null | grep " installed$")
  for p in "${_cyrus_libs[@]}"; do
    grep -q "^$p " <<<"$installed" || { echo "$p is not installed (scripts/setup-debian.sh installs it)"; return 0; }
  done
  command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed"; return 0; }
  return 1
}

# The IMAP side of the harness: admin commands, delivery over LMTP, counts.
# python3 DIR/cyrus_tool.py COMMAND ARGS (reads DIR/env for ports).
_cyrus_write_tool() {
  cat >"$1/cyrus_tool.py" <<'EOF'
import imaplib, os, re, smtplib, sys

env = {}
for line in open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "env")):
    key, _, value = line.removeprefix("export ").strip().partition("=")
    env[key] = value.strip("'")

def mutf7(name):
    """RFC 3501 modified UTF-7 for a mailbox name."""
    out, run = [], []
    def flush():
        if run:
            import base64
            b = base64.b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            run.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)

def admin():
    m = imaplib.IMAP4("127.0.0.1", int(env["CYRUS_IMAP_PORT"]), timeout=30)
    m.login(env["CYRUS_ADMIN"], env["CYRUS_ADMIN_PASSWORD"])
    return m

def check(what, reply):
    if reply[0] != "OK":
        sys.exit(f"cyrus.sh: {what}: {reply}")
    return reply

def box(user, folder):
    return f"user.{user}" + ("." + mutf7(folder) if folder and folder != "INBOX" else "")

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "mkuser":        # USER: INBOX, which the admin may read and change
    m = admin()
    check("CREATE", m.create(box(args[0], "")))
    check("SETACL", m.setacl(box(args[0], ""), env["CYRUS_ADMIN"], "lrswipkxtecdan"))
elif cmd == "mkfolder":    # USER FOLDER (parents are made as needed; ACLs are inherited)
    m = admin()
    parts = args[1].split(".")
    for i in range(1, len(parts) + 1):
        name = box(args[0], ".".join(parts[:i]))
        if not m.list('""', name)[1][0]:
            check("CREATE " + name, m.create(name))
elif cmd == "deliver":     # USER FOLDER FILE...
    # Into INBOX over LMTP (plus-addressing cannot name a non-ASCII folder);
    # for a folder, then moved there by UID (internal date and bytes kept).
    user, folder = args[0], args[1]
    m = admin()
    inbox = box(user, "")
    check("SELECT", m.select(inbox))
    first = int(check("STATUS", m.status(inbox, "(UIDNEXT)"))[1][0].decode().rsplit("UIDNEXT ", 1)[1].rstrip(")"))
    l = smtplib.LMTP(env["CYRUS_DIR"] + "/cyrus/socket/lmtp")
    for name in args[2:]:
        # smtplib sends bytes as they are: LF line ends become CRLF here
        # (else it would add a CRLF after a last bare LF: one more line).
        data = re.sub(rb"\r?\n", b"\r\n", open(name, "rb").read())
        l.sendmail("sender@example.test", [user], data)
    l.quit()
    if folder not in ("", "INBOX"):
        check("NOOP", m.noop())
        check("UID MOVE", m.uid("MOVE", f"{first}:*", box(user, folder)))
        found = check("UID SEARCH", m.uid("SEARCH", f"UID {first}:*"))[1][0].split()
        if [u for u in found if int(u) >= first]:
            sys.exit(f"cyrus.sh: UID MOVE left messages in {inbox}")
elif cmd == "count":       # USER FOLDER
    m = admin()
    reply = check("STATUS", m.status(box(args[0], args[1]), "(MESSAGES)"))
    print(reply[1][0].decode().rsplit("MESSAGES ", 1)[1].rstrip(")"))
else:
    sys.exit(f"cyrus_tool.py: unknown command {cmd}")
EOF
}

_cyrus_tool() {
  local py=python3
  [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
  "$py" "${CYRUS_DIR:?start Cyrus first}/cyrus_tool.py" "$@"
}

_cyrus_write_conf() {
  local dir=$1 imap=$2 imaps=$3 pop3=$4 pop3s=$5 d=$1/cyrus
  cat >"$d/imapd.conf" <<EOF
# Written by tests/servers/cyrus.sh for one test run.
configdirectory: $d/config
defaultpartition: default
partition-default: $d/spool
proc_path: $d/run/proc
mboxname_lockpath: $d/run/lock
lmtpsocket: $d/socket/lmtp
idlesocket: $d/socket/idle
notifysocket: $d/socket/notify
altnamespace: no
unixhierarchysep: no
admins: cyrusadmin
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $d/sasldb2
sasl_mech_list: PLAIN LOGIN
tls_server_cert: $dir/tls/server-chain.pem
tls_server_key: $dir/tls/server.key
duplicatesuppression: no
lmtp_downcase_rcpt: yes
popminpoll: 0
umask: 077
syslog_prefix: cyrus-test
EOF
  cat >"$d/cyrus.conf" <<EOF
START {
  recover cmd="ctl_cyrusdb -r"
}
SERVICES {
  imap cmd="imapd" listen="127.0.0.1:$imap" prefork=0
  imaps cmd="imapd -s" listen="127.0.0.1:$imaps" prefork=0
  pop3 cmd="pop3d" listen="127.0.0.1:$pop3" prefork=0
  pop3s cmd="pop3d -s" listen="127.0.0.1:$pop3s" prefork=0
  lmtpunix cmd="lmtpd" listen="$d/socket/lmtp" prefork=0
}
EVENTS {
  checkpoint cmd="ctl_cyrusdb -c" period=30
}
EOF
}

_cyrus_export() {
  local dir=$1
  harness_export "$dir" \
    CYRUS_DIR="$dir" \
    CYRUS_PID="$CYRUS_PID" \
    CYRUS_SH="$_cyrus_script" \
    CYRUS_SYSLOG="$dir/proot/syslog.log" \
    CYRUS_HOST="localhost" \
    CYRUS_IP="127.0.0.1" \
    CYRUS_IMAP_PORT="$CYRUS_IMAP_PORT" \
    CYRUS_IMAPS_PORT="$CYRUS_IMAPS_PORT" \
    CYRUS_POP3_PORT="$CYRUS_POP3_PORT" \
    CYRUS_POP3S_PORT="$CYRUS_POP3S_PORT" \
    CYRUS_CA="$dir/tls/ca.pem" \
    CYRUS_USERS="alice bob" \
    CYRUS_ALICE_PASSWORD="alicepw" \
    CYRUS_BOB_PASSWORD="bobpw" \
    CYRUS_ADMIN="cyrusadmin" \
    CYRUS_ADMIN_PASSWORD="cyrusadminpw"
}

# _cyrus_saslpasswd USER PASSWORD: a sasldb entry (the password on stdin).
_cyrus_saslpasswd() {
  local dir=${CYRUS_DIR:?} d=${CYRUS_DIR}/cyrus
  printf '%s' "$2" | private_root_exec "$dir/proot" saslpasswd2 -p -c -f "$d/sasldb2" "$1" &&
    private_root_exec "$dir/proot" chown cyrus:mail "$d/sasldb2" &&
    chmod 640 "$d/sasldb2"
}

# cyrus_adduser USER PASSWORD: a sasldb user with an INBOX (user.USER).
cyrus_adduser() {
  [[ $# -eq 2 ]] || { echo "usage: cyrus_adduser USER PASSWORD" >&2; return 2; }
  _cyrus_saslpasswd "$1" "$2" && _cyrus_tool mkuser "$1"
}

# cyrus_mkfolder USER FOLDER: FOLDER (and its parents) below USER's INBOX.
cyrus_mkfolder() {
  [[ $# -eq 2 ]] || { echo "usage: cyrus_mkfolder USER FOLDER" >&2; return 2; }
  _cyrus_tool mkfolder "$1" "$2"
}

# cyrus_deliver USER [-m FOLDER] FILE...: each file over LMTP (one session)
# into INBOX; with -m then moved (UID MOVE) into FOLDER, which must exist.
cyrus_deliver() {
  local user=$1 folder=INBOX
  shift
  if [[ "${1:-}" == -m ]]; then folder=$2; shift 2; fi
  [[ $# -gt 0 ]] || return 0
  _cyrus_tool deliver "$user" "$folder" "$@"
}

# cyrus_seed USER N [FOLDER]: N small messages (as dovecot_seed).
cyrus_seed() {
  local user=$1 n=$2 folder=${3:-INBOX} i tmp tag rc=0
  tmp=$(mktemp -d)
  tag="$(date +%s%N)$$"
  for ((i = 1; i <= n; i++)); do
    printf 'From: Sender <sender@example.test>\nTo: %s@example.test\nSubject: Test message %d\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <seed-%d-%s@example.test>\n\nBody of message %d.\n.leading dot\n..two dots\n.\nend\n' \
      "$user" "$i" "$i" "$tag" "$i" >"$tmp/$(printf '%06d' "$i")"
  done
  if ((n > 0)); then cyrus_deliver "$user" -m "$folder" "$tmp"/* || rc=1; fi
  rm -rf "$tmp"
  return $rc
}

# cyrus_count USER [FOLDER]: prints how many messages FOLDER (INBOX) has.
cyrus_count() { _cyrus_tool count "$1" "${2:-INBOX}"; }

# cyrus_start DIR: starts Cyrus's master as a child of this shell, inside a
# private root at DIR/proot; exports the variables.
cyrus_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: cyrus_start DIR" >&2; return 2; }
  dir=$(harness_prepare_dir "$dir") || return 1
  private_root_start "$dir/proot" "${_cyrus_debs[@]}" || return 1
  private_root_adduser "$dir/proot" cyrus mail || return 1
  local d=$dir/cyrus
  rm -rf "$d"
  mkdir -p "$d"/{config,spool,run,socket}
  [[ -f "$dir/tls/ca.pem" ]] || _dovecot_make_certs "$dir/tls" || return 1
  _cyrus_write_tool "$dir"
  local i ready
  for _ in 1 2 3; do
    read -r CYRUS_IMAP_PORT CYRUS_IMAPS_PORT CYRUS_POP3_PORT CYRUS_POP3S_PORT <<<"$(PATH=/usr/bin:$PATH _dovecot_free_ports 4)"
    _cyrus_write_conf "$dir" "$CYRUS_IMAP_PORT" "$CYRUS_IMAPS_PORT" "$CYRUS_POP3_PORT" "$CYRUS_POP3S_PORT"
    # The services read /etc/imapd.conf (inside: the real one is untouched).
    private_root_exec "$dir/proot" cp "$d/imapd.conf" /etc/imapd.conf || return 1
    private_root_exec "$dir/proot" chown -R cyrus:mail "$d" "$dir/tls" || return 1
    # In a session of its own: at its stop the master signals its process
    # group, which would take down another test's Cyrus (its children log
    # "graceful shutdown initiated by unexpected process"). setsid does not
    # fork here (a background job of a script leads no group): the pid is
    # the master's.
    private_root_spawn "$dir/proot" "$d/master.log" setsid /usr/lib/cyrus/bin/master \
      -C "$d/imapd.conf" -M "$d/cyrus.conf" -p "$d/run/master.pid"
    CYRUS_PID=$PRIVATE_ROOT_SPAWNED
    ready=0
    for ((i = 0; i < 400; i++)); do
      _dovecot_alive "$CYRUS_PID" || break
      if [[ -S "$d/socket/lmtp" ]] &&
         _dovecot_port_open 127.0.0.1 "$CYRUS_IMAP_PORT" && _dovecot_port_open 127.0.0.1 "$CYRUS_IMAPS_PORT" &&
         _dovecot_port_open 127.0.0.1 "$CYRUS_POP3_PORT" && _dovecot_port_open 127.0.0.1 "$CYRUS_POP3S_PORT"; then
        ready=1; break
      fi
      sleep 0.05
    done
    if [[ $ready -eq 1 ]]; then
      _cyrus_export "$dir"
      _cyrus_saslpasswd cyrusadmin cyrusadminpw && cyrus_adduser alice alicepw && cyrus_adduser bob bobpw &&
        return 0
      echo "cyrus.sh: could not add the users; Cyrus logged:" >&2
      tail -n 20 "$dir/proot/syslog.log" >&2
      return 1
    fi
    kill -KILL "$CYRUS_PID" 2>/dev/null; wait "$CYRUS_PID" 2>/dev/null
    grep -q "Address already in use" "$dir/proot/syslog.log" 2>/dev/null || break
  done
  echo "cyrus.sh: Cyrus did not start; its log:" >&2
  tail -n 30 "$d/master.log" "$dir/proot/syslog.log" >&2 2>/dev/null
  return 1
}

# cyrus_stop [DIR]: stops every process of the instance and its private root.
cyrus_stop() {
  local dir=${1:-${CYRUS_DIR:-}}
  [[ -n "$dir" ]] || return 0
  private_root_stop "$dir/proot"
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli cyrus "$@"
fi

#!/usr/bin/env bash
# GNU Mailutils' imap4d and pop3d (3.15) on 127.0.0.1 for integration tests:
# from a private directory, on free high ports chosen at run time, with
# system users made for the run (removed at stop). Installs nothing:
# scripts/setup-debian.sh installs mailutils-imap4d and mailutils-pop3d.
#
# Two ways to use it:
#
# 1. As a command (ctest, C++ test programs):
#      mailutils.sh run [DIR] -- COMMAND [ARG...]
#          start, run COMMAND with the variables below in its environment,
#          stop, exit with COMMAND's status. Without DIR a temp dir is used
#          and removed afterwards (kept when MAILUTILS_KEEP=1).
#      mailutils.sh start DIR          start in the background; DIR/env holds the variables
#      mailutils.sh stop DIR           stop, and remove the users made for DIR
#      mailutils.sh seed DIR USER N    N small test messages into USER's INBOX
#      mailutils.sh deliver DIR USER [-f FOLDER] FILE...  those files into
#                                      USER's INBOX (or FOLDER, e.g. Lists/mips)
#      mailutils.sh count DIR USER [FOLDER]  prints the number of messages (default INBOX)
#      mailutils.sh adduser DIR USER PASSWORD [apop]  one more user (apop: also
#                                      in the APOP database)
#    USER is the name the test uses ("alice"); the system user behind it has
#    a name unique to the run: MAILUTILS_ALICE_USER. Exit status 77 with a
#    printed reason when Mailutils cannot run here (not installed, not
#    root) - ctest's SKIP_RETURN_CODE.
#
# 2. Sourced by a bash test (the servers are then children of the test):
#      source tests/servers/mailutils.sh     # also sources dovecot.sh (certificates, ports)
#      reason=$(mailutils_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      mailutils_start "$WORK/mailutils"     # exports the variables below
#      mailutils_seed alice 10; mailutils_count alice
#      mailutils_stop                        # also fine from an EXIT trap
#    Functions: mailutils_skip_reason, mailutils_start DIR, mailutils_stop
#    [DIR], mailutils_seed USER N, mailutils_deliver USER [-f FOLDER] FILE...,
#    mailutils_count USER [FOLDER], mailutils_adduser USER PASSWORD [apop].
#
# Variables exported after a start (also written to DIR/env as "export ..."):
#   MAILUTILS_DIR MAILUTILS_SH MAILUTILS_HOST=localhost MAILUTILS_IP=127.0.0.1
#   MAILUTILS_IMAP_PORT (plain + STARTTLS)  MAILUTILS_IMAPS_PORT (implicit TLS)
#   MAILUTILS_POP3_PORT (plain + STLS)      MAILUTILS_POP3S_PORT (implicit TLS)
#   MAILUTILS_IMAP_PID MAILUTILS_POP3_PID MAILUTILS_IMAP_LOG MAILUTILS_POP3_LOG
#   MAILUTILS_CA  PEM of the test CA (dovecot.sh's); the certificate has SAN
#                 DNS:localhost, IP:127.0.0.1, IP:::1
#   MAILUTILS_USERS="alice bob"
#   MAILUTILS_ALICE_USER / MAILUTILS_ALICE_PASSWORD: alice's login name and
#                 password; alice is also in pop3d's APOP database
#                 (MAILUTILS_APOP_USERS="alice")
#   MAILUTILS_BOB_USER / MAILUTILS_BOB_PASSWORD: bob is not (pop3d refuses
#                 APOP for him, though its greeting always has a timestamp)
# Mail: INBOX is the mbox DIR/spool/LOGIN; folders are mbox files under
# DIR/home/LOGIN/Mail, hierarchy delimiter "/". Offered, as Debian's
# Mailutils 3.15 does by default: IMAP STARTTLS, AUTH=PLAIN, LOGIN,
# CRAM-MD5 and more through GNU SASL (PLAIN and LOGIN work with the system
# passwords, CRAM-MD5 does not: no cram-passwd), the LOGIN command, no
# UIDPLUS, PERMANENTFLAGS without \*; POP3 STLS, USER, APOP (a timestamp in
# every greeting), no SASL.

_mailutils_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# Certificates, free ports, liveness: the Dovecot harness's helpers.
# shellcheck source=dovecot.sh
source "$(dirname "$_mailutils_script")/dovecot.sh"

# Prints why Mailutils cannot run here and returns 0; returns 1 when it can.
mailutils_skip_reason() {
  local b
  for b in imap4d pop3d popauth; do
    if ! command -v "$b" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$b ]]; then
      echo "$b is not installed (scripts/setup-debian.sh installs mailutils-imap4d mailutils-pop3d)"; return 0
    fi
  done
  for b in openssl useradd userdel chpasswd; do
    if ! command -v "$b" >/dev/null 2>&1; then echo "$b is not installed"; return 0; fi
  done
  if [[ $(id -u) -ne 0 ]]; then echo "the Mailutils harness needs root (it logs in system users)"; return 0; fi
  return 1
}

_mailutils_bin() {  # imap4d | pop3d | popauth
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else echo "/usr/sbin/$1"; fi
}

# The login name behind a test user name ("alice" → "mk3f9a1c-alice").
_mailutils_login() {
  local dir=${_mailutils_dir_override:-${MAILUTILS_DIR:?start Mailutils first}}
  awk -v u="$1" '$1 == u {print $2}' "$dir/users" 2>/dev/null | head -1
}

# useradd/userdel lock /etc/passwd; a parallel test may hold the lock.
_mailutils_retry() {
  local i
  for ((i = 0; i < 50; i++)); do
    "$@" 2>/dev/null && return 0
    sleep 0.1
  done
  "$@"
}

# mailutils_adduser USER PASSWORD [apop]: a system user for this run, its
# spool mbox and Mail folder; with "apop" also in the APOP database.
mailutils_adduser() {
  local dir=${_mailutils_dir_override:-${MAILUTILS_DIR:-}} user=${1:-} pass=${2:-} apop=${3:-}
  [[ -n "$dir" && -n "$user" && -n "$pass" ]] || { echo "usage: mailutils_adduser USER PASSWORD [apop]" >&2; return 2; }
  [[ -z "$(_mailutils_dir_override=$dir _mailutils_login "$user")" ]] || { echo "mailutils.sh: $user exists" >&2; return 1; }
  local login home
  login="$(cat "$dir/tag")-$user"
  login=${login:0:32}
  home="$dir/home/$login"
  _mailutils_retry useradd -M -N -g nogroup -d "$home" -s /usr/sbin/nologin -c "mailkeep test $dir" "$login" ||
    { echo "mailutils.sh: useradd $login failed" >&2; return 1; }
  echo "$user $login" >>"$dir/users"
  echo "$login:$pass" | _mailutils_retry chpasswd || { echo "mailutils.sh: chpasswd $login failed" >&2; return 1; }
  install -d -o "$login" -g nogroup -m 700 "$home" "$home/Mail"
  install -o "$login" -g nogroup -m 600 /dev/null "$dir/spool/$login"
  if [[ "$apop" == apop ]]; then
    "$(_mailutils_bin popauth)" -f "$dir/apop.db" -a -u "$login" -p "$pass" ||
      { echo "mailutils.sh: popauth failed for $login" >&2; return 1; }
    chmod 600 "$dir/apop.db"
  fi
}

_mailutils_write_conf() {  # dir name plain-port tls-port
  local dir=$1 name=$2 plain=$3 tls=$4 extra=""
  [[ $name == pop3d ]] && extra="apop-database-file $dir/apop.db;"
  cat >"$dir/$name.conf" <<EOF
# Written by tests/servers/mailutils.sh for one test run.
mode daemon;
foreground yes;
pidfile $dir/run/$name.pid;
logging { syslog no; };
auth { authentication generic:system; };
mailbox {
  mailbox-pattern "$dir/spool/\${user}";
  mailbox-type mbox;
};
locking { type kernel; };
tls {
  ssl-certificate-file "$dir/tls/server-chain.pem";
  ssl-key-file "$dir/tls/server.key";
};
tls-file-checks { key-file none; cert-file none; ca-file none; };
$extra
server 127.0.0.1:$plain { tls-mode ondemand; };
server 127.0.0.1:$tls { tls-mode connection; };
EOF
  if [[ $name == imap4d ]]; then
    cat >>"$dir/$name.conf" <<'EOF'
namespace personal {
  prefix "" {
    directory "$home/Mail";
    delimiter "/";
  };
};
EOF
  fi
}

_mailutils_export() {
  local dir=$1 u login pass
  {
    echo "export MAILUTILS_DIR='$dir'"
    echo "export MAILUTILS_SH='$_mailutils_script'"
    echo "export MAILUTILS_HOST=localhost MAILUTILS_IP=127.0.0.1"
    echo "export MAILUTILS_IMAP_PORT=$MAILUTILS_IMAP_PORT MAILUTILS_IMAPS_PORT=$MAILUTILS_IMAPS_PORT"
    echo "export MAILUTILS_POP3_PORT=$MAILUTILS_POP3_PORT MAILUTILS_POP3S_PORT=$MAILUTILS_POP3S_PORT"
    echo "export MAILUTILS_IMAP_PID=$MAILUTILS_IMAP_PID MAILUTILS_POP3_PID=$MAILUTILS_POP3_PID"
    echo "export MAILUTILS_IMAP_LOG='$dir/imap4d.log' MAILUTILS_POP3_LOG='$dir/pop3d.log'"
    echo "export MAILUTILS_CA='$dir/tls/ca.pem'"
    echo "export MAILUTILS_USERS='alice bob' MAILUTILS_APOP_USERS='alice'"
    while read -r u login pass; do
      u=$(tr '[:lower:]' '[:upper:]' <<<"$u")
      echo "export MAILUTILS_${u}_USER='$login' MAILUTILS_${u}_PASSWORD='$pass'"
    done <"$dir/initial-users"
  } >"$dir/env"
  # shellcheck disable=SC1091
  source "$dir/env"
}

# Starts one daemon (imap4d or pop3d) on free ports; sets _mailutils_pid,
# _mailutils_ports ("plain tls").
_mailutils_start_one() {
  local dir=$1 name=$2 attempt i plain tls
  for attempt in 1 2 3; do
    read -r plain tls <<<"$(_dovecot_free_ports 2)"
    _mailutils_write_conf "$dir" "$name" "$plain" "$tls"
    "$(_mailutils_bin "$name")" --config-file="$dir/$name.conf" >>"$dir/$name.log" 2>&1 &
    _mailutils_pid=$!
    for ((i = 0; i < 200; i++)); do
      _dovecot_alive "$_mailutils_pid" || break
      if _dovecot_port_open 127.0.0.1 "$plain" && _dovecot_port_open 127.0.0.1 "$tls"; then
        _mailutils_ports="$plain $tls"
        return 0
      fi
      sleep 0.05
    done
    kill -KILL "$_mailutils_pid" 2>/dev/null; wait "$_mailutils_pid" 2>/dev/null
    grep -qi "address already in use" "$dir/$name.log" || break
  done
  echo "mailutils.sh: $name did not start; its output:" >&2
  tail -n 20 "$dir/$name.log" >&2
  return 1
}

# mailutils_start DIR: users alice (in the APOP database) and bob, imap4d
# and pop3d as children of this shell; exports the variables.
mailutils_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: mailutils_start DIR" >&2; return 2; }
  dir=$(harness_prepare_dir "$dir") || return 1
  mkdir -p "$dir/run" "$dir/home" "$dir/spool"
  chmod 1777 "$dir/spool"
  [[ -f "$dir/tls/ca.pem" ]] || _dovecot_make_certs "$dir/tls" || return 1
  if [[ ! -f "$dir/tag" ]]; then
    # Unique per run: parallel tests must not share (or remove) users.
    echo "mk$(openssl rand -hex 4)" >"$dir/tag"
    : >"$dir/users"
    local pa pb
    pa="alice-$(openssl rand -hex 6)" pb="bob-$(openssl rand -hex 6)"
    _mailutils_dir_override=$dir mailutils_adduser alice "$pa" apop || { mailutils_stop "$dir"; return 1; }
    _mailutils_dir_override=$dir mailutils_adduser bob "$pb" || { mailutils_stop "$dir"; return 1; }
    printf 'alice %s %s\nbob %s %s\n' "$(_mailutils_dir_override=$dir _mailutils_login alice)" "$pa" \
      "$(_mailutils_dir_override=$dir _mailutils_login bob)" "$pb" >"$dir/initial-users"
    chmod 600 "$dir/initial-users"
  fi
  _mailutils_start_one "$dir" imap4d || { mailutils_stop "$dir"; return 1; }
  MAILUTILS_IMAP_PID=$_mailutils_pid
  read -r MAILUTILS_IMAP_PORT MAILUTILS_IMAPS_PORT <<<"$_mailutils_ports"
  echo "$MAILUTILS_IMAP_PID" >"$dir/run/imap4d.child"
  _mailutils_start_one "$dir" pop3d || { mailutils_stop "$dir"; return 1; }
  MAILUTILS_POP3_PID=$_mailutils_pid
  read -r MAILUTILS_POP3_PORT MAILUTILS_POP3S_PORT <<<"$_mailutils_ports"
  echo "$MAILUTILS_POP3_PID" >"$dir/run/pop3d.child"
  _mailutils_export "$dir"
}

# mailutils_stop [DIR]: stops the daemons started from DIR (default
# MAILUTILS_DIR) and removes the system users made for it.
mailutils_stop() {
  local dir=${1:-${MAILUTILS_DIR:-}} f pid i
  [[ -n "$dir" && -d "$dir" ]] || return 0
  for f in "$dir"/run/*.child; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    # Sessions still open (the daemon's children, running as the test
    # users) end first, or userdel would refuse.
    [[ -n "$pid" ]] && for c in $(pgrep -P "$pid" 2>/dev/null); do kill -KILL "$c" 2>/dev/null; done
    if [[ -n "$pid" ]] && kill -TERM "$pid" 2>/dev/null; then
      for ((i = 0; i < 100; i++)); do
        _dovecot_alive "$pid" || break
        sleep 0.05
      done
      _dovecot_alive "$pid" && kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
    rm -f "$f"
  done
  local user login
  if [[ -f "$dir/users" ]]; then
    while read -r user login; do
      # Only users this harness made for DIR (the comment says so).
      if [[ "$(getent passwd "$login" | cut -d: -f5)" == "mailkeep test $dir" ]]; then
        _mailutils_retry userdel "$login" || echo "mailutils.sh: userdel $login failed" >&2
      fi
    done <"$dir/users"
    : >"$dir/users"
  fi
  return 0
}

# The mbox of USER's FOLDER (INBOX: the spool file).
_mailutils_mbox() {
  local user=$1 folder=${2:-INBOX} login
  login=$(_mailutils_login "$user")
  [[ -n "$login" ]] || { echo "mailutils.sh: no user $user (see mailutils_adduser)" >&2; return 1; }
  if [[ "$folder" == INBOX ]]; then echo "$MAILUTILS_DIR/spool/$login"
  else echo "$MAILUTILS_DIR/home/$login/Mail/$folder"
  fi
}

# mailutils_deliver USER [-f FOLDER] FILE...: each file appended to the mbox
# as one message ("From " line added, body lines starting "From " quoted
# with ">", as a local delivery agent does). A folder is created as needed.
mailutils_deliver() {
  local user=$1 folder=INBOX mbox login
  shift
  if [[ "${1:-}" == -f ]]; then folder=$2; shift 2; fi
  mbox=$(_mailutils_mbox "$user" "$folder") || return 1
  login=$(_mailutils_login "$user")
  if [[ ! -e "$mbox" ]]; then
    local d
    d=$(dirname "$mbox")
    mkdir -p "$d"
    chown -R "$login:nogroup" "$MAILUTILS_DIR/home/$login/Mail"
    install -o "$login" -g nogroup -m 600 /dev/null "$mbox"
  fi
  python3 - "$mbox" "$@" <<'EOF'
import re, sys
with open(sys.argv[1], "ab") as out:
    for name in sys.argv[2:]:
        data = open(name, "rb").read().replace(b"\r\n", b"\n")
        if not data.endswith(b"\n"):
            data += b"\n"
        data = re.sub(rb"(?m)^(>*From )", rb">\1", data)
        out.write(b"From mailkeep-test@example.test Mon Jan  1 00:00:00 2024\n" + data + b"\n")
EOF
}

# mailutils_seed USER N: N small messages numbered 1..N in Subject and
# Message-ID (bodies have lines that need dot-stuffing and "From " quoting).
mailutils_seed() {
  local user=$1 n=$2 i tmp tag
  tmp=$(mktemp -d)
  tag="$(date +%s%N)$$"
  for ((i = 1; i <= n; i++)); do
    printf 'From: Sender <sender@example.test>\nTo: %s@example.test\nSubject: Test message %d\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <seed-%d-%s@example.test>\n\nBody of message %d.\n.leading dot\nFrom here\n.\nend\n' \
      "$user" "$i" "$i" "$tag" "$i" >"$tmp/$(printf '%06d' "$i")"
  done
  local rc=0
  if ((n > 0)); then mailutils_deliver "$user" "$tmp"/* || rc=1; fi
  rm -rf "$tmp"
  return $rc
}

# mailutils_count USER [FOLDER]: prints how many messages the mbox has.
mailutils_count() {
  local mbox
  mbox=$(_mailutils_mbox "$1" "${2:-INBOX}") || return 1
  if [[ -f "$mbox" ]]; then grep -c '^From ' "$mbox"; else echo 0; fi
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli mailutils "$@"
fi

#!/usr/bin/env bash
# A real Courier-IMAP 5 and courier-pop (plain + STARTTLS/STLS and implicit
# TLS each) on 127.0.0.1 for integration tests, on free ports chosen at run
# time, users in an authuserdb, mail in Maildir++ under DIR. Courier cannot
# be installed beside Dovecot (courier-imap replaces dovecot-imapd): it runs
# from its .debs in a private root (private_root.sh), with gamin's
# gam_server (without it every IMAP reply is about 1.2 s late). Installs
# nothing: scripts/setup-debian.sh downloads the .debs and the libraries.
#
# Two ways to use it, as tests/servers/dovecot.sh:
#
# 1. As a command:
#      courier.sh run [DIR] -- COMMAND [ARG...]   start, run COMMAND with the
#                                    variables below, stop, exit with its status
#      courier.sh start DIR | stop DIR
#      courier.sh seed DIR USER N [FOLDER]          N small test messages
#      courier.sh deliver DIR USER [-m FOLDER] FILE...  those files, bytes as they are
#      courier.sh count DIR USER [FOLDER]           messages in INBOX or FOLDER
#      courier.sh adduser DIR USER PASSWORD
#      courier.sh mkfolder DIR USER FOLDER          e.g. Lists.mips, Entwürfe
#    Exit 77 with a printed reason when Courier cannot run here.
#
# 2. Sourced by a bash test:
#      source tests/servers/courier.sh
#      reason=$(courier_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      courier_start "$WORK/courier"; courier_seed alice 10; courier_count alice
#      courier_stop                                  # also fine from an EXIT trap
#    Functions: courier_skip_reason, courier_start DIR, courier_stop [DIR],
#    courier_adduser USER PASSWORD, courier_mkfolder USER FOLDER,
#    courier_deliver USER [-m FOLDER] FILE..., courier_seed USER N [FOLDER],
#    courier_count USER [FOLDER] (these use COURIER_DIR).
#
# FOLDER is the name below INBOX in UTF-8 with "." as the delimiter:
# "Lists.mips" is INBOX.Lists.mips, kept on disk as Maildir/.Lists.mips
# (Courier 5 keeps UTF-8 folder names on disk).
# Delivery writes the files into Maildir/new, as an MDA would, and nothing
# else: no client has opened the folders, so until one SELECTs a folder
# read-write Courier reports a new UIDVALIDITY at every EXAMINE (see
# shared/NOTES-interop.md).
#
# Variables exported after a start (also in DIR/env as "export ..."):
#   COURIER_DIR COURIER_SH COURIER_SYSLOG (what Courier logged)
#   COURIER_PIDS   the daemons' pids (authdaemond, imapd, imapd-ssl, pop3d, pop3d-ssl)
#   COURIER_HOST=localhost COURIER_IP=127.0.0.1
#   COURIER_IMAP_PORT (plain + STARTTLS)  COURIER_IMAPS_PORT (implicit TLS)
#   COURIER_POP3_PORT (plain + STLS)      COURIER_POP3S_PORT (implicit TLS)
#   COURIER_CA  the test CA; the certificate names localhost, 127.0.0.1, ::1
#   COURIER_USERS="alice bob"  COURIER_ALICE_PASSWORD=alicepw  COURIER_BOB_PASSWORD=bobpw
# Offered: IMAP UIDPLUS, STARTTLS, LOGIN (AUTH=PLAIN after STARTTLS); POP3
# USER/PASS, STLS, SASL LOGIN PLAIN after STLS; no APOP.

_courier_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_courier_script="$_courier_here/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=tests/servers/private_root.sh
source "$_courier_here/private_root.sh"
# Free ports, test certificates, port probes: the ones dovecot.sh has.
# shellcheck source=tests/servers/dovecot.sh
source "$_courier_here/dovecot.sh"

_courier_debs=(courier-base courier-imap courier-pop courier-authlib courier-authdaemon
  courier-authlib-userdb gamin libgamin0)
# Installed libraries the unpacked binaries need (scripts/setup-debian.sh).
_courier_libs=(libcourier-unicode4 libgdbm6 libidn12 libltdl7 libglib2.0-0 libgnutls30)
_courier_services=(imapd imapd-ssl pop3d pop3d-ssl)

courier_skip_reason() {
  local p installed
  private_root_skip_reason "${_courier_debs[@]}" && return 0
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${_courier_libs[@]}" 2>/dev/null | grep " installed$")
  for p in "${_courier_libs[@]}"; do
    grep -q "^$p " <<<"$installed" || { echo "$p is not installed (scripts/setup-debian.sh installs it)"; return 0; }
  done
  command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed"; return 0; }
  return 1
}

_courier_in() { private_root_exec "${COURIER_DIR:?start Courier first}/proot" "$@"; }

# Debian's file /etc/courier/NAME with these lines appended (they are sh
# assignments: the last one wins), put in place inside.
_courier_conf() {
  local dir=$1 name=$2
  shift 2
  { cat "$dir/proot/root/etc/courier/$name"; printf '%s\n' "# tests/servers/courier.sh:" "$@"; } >"$dir/courier/$name"
  private_root_exec "$dir/proot" cp "$dir/courier/$name" "/etc/courier/$name"
}

_courier_write_conf() {
  local dir=$1 imap=$2 imaps=$3 pop3=$4 pop3s=$5 d=$1/courier
  local tls=("TLS_CERTFILE=$d/server.pem" "TLS_DHPARAMS=$d/dhparams.pem")
  _courier_conf "$dir" imapd ADDRESS=127.0.0.1 "PORT=$imap" "PIDFILE=$d/run/imapd.pid" \
    MAXDAEMONS=100 MAXPERIP=200 'IMAP_EMPTYTRASH=""' &&
  _courier_conf "$dir" imapd-ssl SSLADDRESS=127.0.0.1 "SSLPORT=$imaps" "SSLPIDFILE=$d/run/imapd-ssl.pid" \
    IMAPDSTARTTLS=YES "${tls[@]}" "TLS_CACHEFILE=$d/run/imapd-ssl.cache" &&
  _courier_conf "$dir" pop3d ADDRESS=127.0.0.1 "PORT=$pop3" "PIDFILE=$d/run/pop3d.pid" \
    MAXDAEMONS=100 MAXPERIP=200 &&
  _courier_conf "$dir" pop3d-ssl SSLADDRESS=127.0.0.1 "SSLPORT=$pop3s" "SSLPIDFILE=$d/run/pop3d-ssl.pid" \
    POP3_STARTTLS=YES 'POP3AUTH_TLS="LOGIN PLAIN"' "${tls[@]}" "TLS_CACHEFILE=$d/run/pop3d-ssl.cache" &&
  _courier_conf "$dir" authdaemonrc 'authmodulelist="authuserdb"' daemons=2
}

_courier_export() {
  local dir=$1
  harness_export "$dir" \
    COURIER_DIR="$dir" \
    COURIER_SH="$_courier_script" \
    COURIER_SYSLOG="$dir/proot/syslog.log" \
    COURIER_PIDS="$COURIER_PIDS" \
    COURIER_HOST="localhost" \
    COURIER_IP="127.0.0.1" \
    COURIER_IMAP_PORT="$COURIER_IMAP_PORT" \
    COURIER_IMAPS_PORT="$COURIER_IMAPS_PORT" \
    COURIER_POP3_PORT="$COURIER_POP3_PORT" \
    COURIER_POP3S_PORT="$COURIER_POP3S_PORT" \
    COURIER_CA="$dir/tls/ca.pem" \
    COURIER_USERS="alice bob" \
    COURIER_ALICE_PASSWORD="alicepw" \
    COURIER_BOB_PASSWORD="bobpw" \
    COURIER_VMAIL="$COURIER_VMAIL"
}

# courier_adduser USER PASSWORD: a userdb entry (mail as vmail) and an empty
# Maildir; the userdb is rebuilt (makeuserdb), which authdaemond re-reads.
courier_adduser() {
  [[ $# -eq 2 ]] || { echo "usage: courier_adduser USER PASSWORD" >&2; return 2; }
  local user=$1 pass=$2 home=${COURIER_DIR:?start Courier first}/mail/$1
  mkdir -p "$home"
  _courier_in maildirmake.courier "$home/Maildir" || return 1
  _courier_in userdb "$user" set "uid=${COURIER_VMAIL% *}" "gid=${COURIER_VMAIL#* }" \
    "home=$home" "mail=$home/Maildir" || return 1
  printf '%s\n%s\n' "$pass" "$pass" | _courier_in userdbpw -md5 | _courier_in userdb "$user" set systempw || return 1
  _courier_in makeuserdb || return 1
  chown -R "${COURIER_VMAIL% *}:${COURIER_VMAIL#* }" "$home"
  local i
  for ((i = 0; i < 50; i++)); do
    _courier_in authtest "$user" "$pass" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "courier.sh: authdaemond does not accept $user" >&2
  return 1
}

_courier_maildir() {  # USER [FOLDER]
  local md=${COURIER_DIR:?start Courier first}/mail/$1/Maildir
  [[ -d "$md" ]] || { echo "courier.sh: no user $1 (see courier_adduser)" >&2; return 1; }
  if [[ -n "${2:-}" && "$2" != INBOX ]]; then md="$md/.$2"; fi
  [[ -d "$md/new" ]] || { echo "courier.sh: $1 has no folder $2 (see courier_mkfolder)" >&2; return 1; }
  echo "$md"
}

# courier_mkfolder USER FOLDER: a Maildir++ folder (maildirmake -f) and its
# parents, as a client's CREATE would make them.
courier_mkfolder() {
  [[ $# -eq 2 ]] || { echo "usage: courier_mkfolder USER FOLDER" >&2; return 2; }
  local md parts=() i name
  md=$(_courier_maildir "$1") || return 1
  IFS=. read -r -a parts <<<"$2"
  for ((i = 1; i <= ${#parts[@]}; i++)); do
    name=$(IFS=.; echo "${parts[*]:0:i}")
    [[ -d "$md/.$name" ]] || _courier_in maildirmake.courier -f "$name" "$md" || return 1
  done
  chown -R "${COURIER_VMAIL% *}:${COURIER_VMAIL#* }" "$md"
}

_courier_seq=0
# courier_deliver USER [-m FOLDER] FILE...: each file, byte for byte, as a new
# message in INBOX or FOLDER; increasing names keep argument order.
courier_deliver() {
  local user=$1 folder=INBOX md f name base
  shift
  if [[ "${1:-}" == -m ]]; then folder=$2; shift 2; fi
  md=$(_courier_maildir "$user" "$folder") || return 1
  base=$(date +%s)
  for f in "$@"; do
    _courier_seq=$((_courier_seq + 1))
    name="$((base + _courier_seq)).M${_courier_seq}P$$.mailkeep-test"
    cp "$f" "$md/tmp/$name" && mv "$md/tmp/$name" "$md/new/$name" || return 1
  done
  chown -R "${COURIER_VMAIL% *}:${COURIER_VMAIL#* }" "$md"
}

# courier_seed USER N [FOLDER]: N small messages (as dovecot_seed).
courier_seed() {
  local user=$1 n=$2 folder=${3:-INBOX} i tmp tag rc=0
  tmp=$(mktemp -d)
  tag="$(date +%s%N)$$"
  for ((i = 1; i <= n; i++)); do
    printf 'From: Sender <sender@example.test>\nTo: %s@example.test\nSubject: Test message %d\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <seed-%d-%s@example.test>\n\nBody of message %d.\n.leading dot\n..two dots\n.\nend\n' \
      "$user" "$i" "$i" "$tag" "$i" >"$tmp/$(printf '%06d' "$i")"
  done
  if ((n > 0)); then courier_deliver "$user" -m "$folder" "$tmp"/* || rc=1; fi
  rm -rf "$tmp"
  return $rc
}

# courier_count USER [FOLDER]: prints how many messages FOLDER (INBOX) has
# (files in new/ and cur/).
courier_count() {
  local md
  md=$(_courier_maildir "$1" "${2:-INBOX}") || return 1
  harness_maildir_count "$md"
}

# courier_start DIR: starts authdaemond and the four listeners inside a
# private root at DIR/proot; exports the variables.
courier_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: courier_start DIR" >&2; return 2; }
  dir=$(harness_prepare_dir "$dir") || return 1
  private_root_start "$dir/proot" "${_courier_debs[@]}" || return 1
  private_root_adduser "$dir/proot" courier && private_root_adduser "$dir/proot" vmail || return 1
  COURIER_VMAIL="$(private_root_exec "$dir/proot" id -u vmail) $(private_root_exec "$dir/proot" id -g vmail)"
  local d=$dir/courier
  rm -rf "$d"
  mkdir -p "$d/run" "$dir/mail"
  chmod 755 "$dir/mail"
  [[ -f "$dir/tls/ca.pem" ]] || _dovecot_make_certs "$dir/tls" || return 1
  # One PEM with key and chain; RFC 7919's ffdhe2048 (no slow generation).
  # couriertls reads it as the user courier.
  if ! { openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$d/dhparams.pem" 2>/dev/null &&
         cat "$dir/tls/server.key" "$dir/tls/server-chain.pem" "$d/dhparams.pem" >"$d/server.pem" &&
         chmod 640 "$d/server.pem" && private_root_exec "$dir/proot" chgrp courier "$d/server.pem"; }; then
    echo "courier.sh: could not write $d/server.pem" >&2; return 1
  fi
  private_root_exec "$dir/proot" sh -c \
    'mkdir -p /run/courier/authdaemon && chown courier:courier /run/courier/authdaemon && chmod 750 /run/courier/authdaemon' ||
    return 1
  local i s ready
  for _ in 1 2 3; do
    read -r COURIER_IMAP_PORT COURIER_IMAPS_PORT COURIER_POP3_PORT COURIER_POP3S_PORT \
      <<<"$(PATH=/usr/bin:$PATH _dovecot_free_ports 4)"
    _courier_write_conf "$dir" "$COURIER_IMAP_PORT" "$COURIER_IMAPS_PORT" "$COURIER_POP3_PORT" "$COURIER_POP3S_PORT" ||
      return 1
    # The start scripts put the daemons in the background (courierlogger).
    private_root_exec "$dir/proot" /usr/sbin/authdaemond start >>"$d/start.log" 2>&1 || return 1
    for s in "${_courier_services[@]}"; do
      private_root_exec "$dir/proot" "/usr/sbin/$s" start >>"$d/start.log" 2>&1 || return 1
    done
    ready=0
    for ((i = 0; i < 400; i++)); do
      if _dovecot_port_open 127.0.0.1 "$COURIER_IMAP_PORT" && _dovecot_port_open 127.0.0.1 "$COURIER_IMAPS_PORT" &&
         _dovecot_port_open 127.0.0.1 "$COURIER_POP3_PORT" && _dovecot_port_open 127.0.0.1 "$COURIER_POP3S_PORT"; then
        ready=1; break
      fi
      sleep 0.05
    done
    if [[ $ready -eq 1 ]]; then
      COURIER_PIDS=$(cat "$d"/run/*.pid /dev/null 2>/dev/null | tr '\n' ' ')
      _courier_export "$dir"
      courier_adduser alice alicepw && courier_adduser bob bobpw && return 0
      echo "courier.sh: could not add the users; Courier logged:" >&2
      tail -n 20 "$dir/proot/syslog.log" >&2
      return 1
    fi
    grep -q "Address already in use" "$dir/proot/syslog.log" 2>/dev/null || break
    # Another process took a port: stop what started and try other ports.
    private_root_exec "$dir/proot" /usr/sbin/authdaemond stop >/dev/null 2>&1
    for s in "${_courier_services[@]}"; do private_root_exec "$dir/proot" "/usr/sbin/$s" stop >/dev/null 2>&1; done
  done
  echo "courier.sh: Courier did not start; its log:" >&2
  tail -n 30 "$d/start.log" "$dir/proot/syslog.log" >&2 2>/dev/null
  return 1
}

# courier_stop [DIR]: stops every process of the instance and its private root.
courier_stop() {
  local dir=${1:-${COURIER_DIR:-}}
  [[ -n "$dir" ]] || return 0
  private_root_stop "$dir/proot"
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli courier "$@"
fi

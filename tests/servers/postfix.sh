#!/usr/bin/env bash
# A private Postfix 3.7 on 127.0.0.1 that delivers example.test over LMTP
# into the Dovecot of tests/servers/dovecot.sh: the realistic round trip for
# `mailkeep resend` (send to an MTA, then read the mail back over IMAP/POP3).
# It runs from its own config, queue and data directories under DIR, on free
# high ports, and neither needs nor disturbs a system Postfix (port 25,
# /etc/postfix, /var/spool/postfix). Installs nothing: needs the postfix
# and dovecot-lmtpd packages.
#
# Two ways to use it:
#
# 1. As a command (ctest, C++ test programs):
#      postfix.sh run [DIR] -- COMMAND [ARG...]
#          start Dovecot (DIR/dovecot) and Postfix (DIR/postfix), run COMMAND
#          with both sets of variables in its environment, stop both, exit
#          with COMMAND's status. Without DIR a temp dir is used and removed
#          afterwards (kept when POSTFIX_KEEP=1).
#      postfix.sh start DIR   both in the background; DIR/env holds the variables
#      postfix.sh stop DIR
#    Exit status 77 with a printed reason when Postfix or Dovecot cannot run
#    here (not installed, dovecot-lmtpd missing, not root): ctest's
#    SKIP_RETURN_CODE.
#
# 2. Sourced by a bash test (servers are then direct children of the test):
#      source tests/servers/postfix.sh       # also sources dovecot.sh
#      reason=$(postfix_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      dovecot_start "$WORK/dovecot"          # Postfix needs its LMTP and auth socket
#      postfix_access someone@example.test "450 4.2.1 try later"   # optional, before the start
#      postfix_start "$WORK/postfix"          # exports the variables below
#      ... swaks --server 127.0.0.1 --port "$POSTFIX_PORT" ...
#      postfix_stop; dovecot_stop             # also fine from an EXIT trap
#    Functions: postfix_skip_reason, postfix_access ADDRESS ACTION,
#    postfix_start DIR, postfix_stop [DIR], postfix_log (prints the mail log).
#
# What it does:
#   - accepts mail for example.test from anyone; relays elsewhere only for
#     mynetworks (POSTFIX_MYNETWORKS, default 127.0.0.0/8; set it empty
#     before the start to make relaying need AUTH) or after AUTH, and then
#     bounces it (default_transport = error): nothing leaves the machine;
#   - recipients: the users in Dovecot's passwd file at start time, as
#     USER@example.test (others: 550 5.1.1 User unknown); delivered over
#     LMTP to 127.0.0.1:$DOVECOT_LMTP_PORT into USER's INBOX;
#   - refuse@example.test is refused at RCPT with 550 5.7.1, and
#     defer@example.test with 450 4.7.1 (check_recipient_access); more with
#     postfix_access before the start;
#   - STARTTLS on POSTFIX_PORT (certificate signed by DOVECOT_CA, SAN
#     localhost, mx1/mx2.example.test, 127.0.0.1, 127.0.0.4, ::1), implicit
#     TLS on POSTFIX_SMTPS_PORT; AUTH PLAIN/LOGIN through Dovecot (same
#     users and passwords), offered only after TLS;
#   - SIZE, PIPELINING, 8BITMIME, DSN, SMTPUTF8, CHUNKING as Postfix offers them.
#
# Variables read before the start: POSTFIX_ADDR (the one listen address,
# default 127.0.0.1; any 127.x.y.z works, e.g. 127.0.0.4 to play
# mx2.example.test of dnsmasq.sh), POSTFIX_MYNETWORKS, and from
# dovecot_start DOVECOT_DIR, DOVECOT_LMTP_PORT, DOVECOT_AUTH_SOCKET.
# Variables exported after a start (also written to DIR/env as "export ..."):
#   POSTFIX_DIR POSTFIX_CONF_DIR (DIR/etc: postfix -c, postconf -c, postqueue -c)
#   POSTFIX_LOG (the mail log) POSTFIX_PID (the start-fg process) POSTFIX_SH
#   POSTFIX_HOST=localhost POSTFIX_ADDR POSTFIX_PORT (SMTP + STARTTLS)
#   POSTFIX_SMTPS_PORT (implicit TLS)  POSTFIX_CA (= DOVECOT_CA)
#   POSTFIX_REFUSE=refuse@example.test  POSTFIX_DEFER=defer@example.test

_postfix_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=dovecot.sh
source "$(dirname "$_postfix_script")/dovecot.sh"

_postfix_access=()

_postfix_daemon_dir() {
  local d
  d=$(postconf -h daemon_directory 2>/dev/null) || d=/usr/lib/postfix/sbin
  echo "${d:-/usr/lib/postfix/sbin}"
}

# Prints why Postfix (with Dovecot behind it) cannot run here and returns 0;
# returns 1 when it can.
postfix_skip_reason() {
  if ! command -v postfix >/dev/null 2>&1 || ! command -v postconf >/dev/null 2>&1; then
    echo "postfix is not installed (apt-get install postfix)"; return 0
  fi
  if [[ ! -x "$(_postfix_daemon_dir)/master" ]]; then echo "the Postfix master daemon is missing"; return 0; fi
  if [[ $(id -u) -ne 0 ]]; then echo "the Postfix harness needs root (postfix start)"; return 0; fi
  if ! id postfix >/dev/null 2>&1; then echo "system user postfix is missing"; return 0; fi
  if ! getent group postdrop >/dev/null 2>&1; then echo "system group postdrop is missing"; return 0; fi
  dovecot_skip_reason && return 0
  if ! _dovecot_have_lmtp; then echo "dovecot-lmtpd is not installed (Postfix delivers over LMTP)"; return 0; fi
  return 1
}

# postfix_access ADDRESS ACTION: one more check_recipient_access entry for
# the next postfix_start, e.g. "450 4.2.1 mailbox busy" or "REJECT".
postfix_access() {
  [[ $# -ge 2 ]] || { echo "usage: postfix_access ADDRESS ACTION" >&2; return 2; }
  local address=$1; shift
  _postfix_access+=("$address $*")
}

_postfix_alive() {  # pid: running and not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

_postfix_write_conf() {
  local dir=$1 port=$2 smtps=$3
  local etc=$dir/etc
  mkdir -p "$etc"
  cat >"$etc/main.cf" <<EOF
# Written by tests/servers/postfix.sh for one test run.
compatibility_level = 3.6
config_directory = $etc
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = postfix-mailkeep-test
mail_owner = postfix
setgid_group = postdrop

myhostname = mx1.example.test
mydomain = example.test
myorigin = \$mydomain
# Every inet service in master.cf names its address; inet_interfaces must
# list interface addresses, and 127.0.0.4 (say) is not one.
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = $POSTFIX_MYNETWORKS
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in this test instance
alias_maps =
alias_database =
relay_domains =
default_transport = error:5.7.1 this test instance delivers only example.test
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:$etc/recipients
virtual_transport = lmtp:inet:127.0.0.1:$DOVECOT_LMTP_PORT
smtp_dns_support_level = disabled
lmtp_host_lookup = native
smtpd_peername_lookup = no
append_dot_mydomain = no
biff = no
smtpd_banner = \$myhostname ESMTP mailkeep test Postfix
delay_warning_time = 0
queue_run_delay = 10s
minimal_backoff_time = 10s
maximal_backoff_time = 60s

smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$etc/access, reject_unlisted_recipient

smtpd_tls_chain_files = $dir/tls/server.key, $dir/tls/server-chain.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_session_cache_database =
smtpd_tls_loglevel = 0
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_AUTH_SOCKET
smtpd_sasl_security_options = noanonymous
EOF
  # No chroot anywhere: the stock master.cf's chroot breaks absolute paths.
  cat >"$etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
$POSTFIX_ADDR:$port inet n     -       n       -       -       smtpd
$POSTFIX_ADDR:$smtps inet n    -       n       -       -       smtpd
  -o smtpd_tls_wrappermode=yes
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  # Recipients: Dovecot's users.
  local user
  : >"$etc/recipients"
  while IFS=: read -r user _; do
    [[ -n "$user" ]] && echo "$user@example.test OK" >>"$etc/recipients"
  done <"$DOVECOT_DIR/passwd"
  {
    echo "$POSTFIX_REFUSE 550 5.7.1 refused by the test harness"
    echo "$POSTFIX_DEFER 450 4.7.1 deferred by the test harness"
    local entry
    for entry in "${_postfix_access[@]}"; do echo "$entry"; done
  } >"$etc/access"
  # The refused and deferred recipients must pass the unlisted-recipient check.
  echo "$POSTFIX_REFUSE OK" >>"$etc/recipients"
  echo "$POSTFIX_DEFER OK" >>"$etc/recipients"
  # Postfix re-reads files younger than a few seconds ("hot") and each start
  # would cost ~2 s: make them look old.
  touch -d '-10 seconds' "$etc"/*
}

# A server certificate for Postfix, signed by Dovecot's test CA.
_postfix_make_cert() {
  local d=$1 ca=$DOVECOT_DIR/tls
  mkdir -p "$d"
  [[ -f "$ca/ca.key" && -f "$ca/openssl.cnf" ]] || { echo "postfix.sh: no Dovecot test CA in $ca" >&2; return 1; }
  local san="DNS:localhost, DNS:mx1.example.test, DNS:mx2.example.test, IP:127.0.0.1, IP:127.0.0.4, IP:::1"
  case "$POSTFIX_ADDR" in 127.0.0.1|127.0.0.4) ;; *) san="$san, IP:$POSTFIX_ADDR" ;; esac
  SAN=$san openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -config "$ca/openssl.cnf" \
    -subj "/CN=mx1.example.test" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
  SAN=$san openssl x509 -req -in "$d/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$ca/openssl.cnf" -extensions server \
    -out "$d/server.pem" 2>/dev/null &&
  cat "$d/server.pem" "$ca/ca.pem" >"$d/server-chain.pem" || {
    echo "postfix.sh: openssl failed to make the Postfix certificate" >&2; return 1; }
  chmod 644 "$d/server.pem" "$d/server-chain.pem"
  chmod 600 "$d/server.key"
}

_postfix_export() {
  local dir=$1
  harness_export "$dir" \
    POSTFIX_DIR="$dir" \
    POSTFIX_CONF_DIR="$dir/etc" \
    POSTFIX_LOG="$dir/maillog" \
    POSTFIX_PID="$POSTFIX_PID" \
    POSTFIX_SH="$_postfix_script" \
    POSTFIX_HOST="localhost" \
    POSTFIX_ADDR="$POSTFIX_ADDR" \
    POSTFIX_PORT="$POSTFIX_PORT" \
    POSTFIX_SMTPS_PORT="$POSTFIX_SMTPS_PORT" \
    POSTFIX_CA="$DOVECOT_DIR/tls/ca.pem" \
    POSTFIX_REFUSE="$POSTFIX_REFUSE" \
    POSTFIX_DEFER="$POSTFIX_DEFER"
}

# postfix_start DIR: starts Postfix (master in the foreground, a child of
# this shell) and exports the variables. REQUIRES a running Dovecot started
# by dovecot_start with LMTP (DOVECOT_LMTP_PORT set). Returns non-zero (the
# log printed) when it does not come up.
postfix_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: postfix_start DIR" >&2; return 2; }
  [[ -n "${DOVECOT_LMTP_PORT:-}" && -n "${DOVECOT_AUTH_SOCKET:-}" && -n "${DOVECOT_DIR:-}" ]] || {
    echo "postfix.sh: start Dovecot with LMTP first (dovecot_start; dovecot-lmtpd installed?)" >&2; return 1; }
  dir=$(harness_prepare_dir "$dir") || return 1
  : "${POSTFIX_ADDR:=127.0.0.1}" "${POSTFIX_REFUSE:=refuse@example.test}" "${POSTFIX_DEFER:=defer@example.test}"
  POSTFIX_MYNETWORKS=${POSTFIX_MYNETWORKS-127.0.0.0/8}
  [[ -f "$dir/tls/server.key" ]] || _postfix_make_cert "$dir/tls" || return 1
  mkdir -p "$dir/queue" "$dir/data"
  chown postfix "$dir/data"
  local attempt i ready pidfile=$dir/queue/pid/master.pid
  for attempt in 1 2 3; do
    read -r POSTFIX_PORT POSTFIX_SMTPS_PORT <<<"$(_dovecot_free_ports 2)"
    _postfix_write_conf "$dir" "$POSTFIX_PORT" "$POSTFIX_SMTPS_PORT"
    : >>"$dir/maillog"
    rm -f "$pidfile"
    # start-fg: the master stays in the foreground (a grandchild of this
    # shell through postfix-script), so stopping it ends POSTFIX_PID too.
    postfix -c "$dir/etc" start-fg >>"$dir/postfix.stdout" 2>&1 &
    POSTFIX_PID=$!
    ready=0
    for ((i = 0; i < 300; i++)); do
      _postfix_alive "$POSTFIX_PID" || break
      if [[ -s "$pidfile" ]] && _dovecot_port_open "$POSTFIX_ADDR" "$POSTFIX_PORT" &&
         _dovecot_port_open "$POSTFIX_ADDR" "$POSTFIX_SMTPS_PORT"; then
        ready=1; break
      fi
      sleep 0.02
    done
    if [[ $ready -eq 1 ]]; then
      _postfix_export "$dir"
      return 0
    fi
    _postfix_kill "$dir"
    # A port taken between choosing and binding: try other ports.
    grep -q "in use" "$dir/maillog" "$dir/postfix.stdout" 2>/dev/null || break
  done
  echo "postfix.sh: Postfix did not start; its output and log:" >&2
  tail -n 30 "$dir/postfix.stdout" "$dir/maillog" >&2 2>/dev/null
  # Errors before its logger runs go only to syslog or a terminal: show
  # them through a pseudo-terminal.
  if command -v script >/dev/null 2>&1; then
    script -qec "postfix -c '$dir/etc' check" /dev/null >&2
  fi
  return 1
}

# Stops the master of DIR (SIGTERM: it ends its children) and waits for it
# and for the start-fg process.
_postfix_kill() {
  local dir=$1 master pid i
  pid=$(sed -n "s/^export POSTFIX_PID='\(.*\)'/\1/p" "$dir/env" 2>/dev/null)
  [[ -n "$pid" ]] || pid=${POSTFIX_PID:-}
  master=$(tr -dc 0-9 2>/dev/null <"$dir/queue/pid/master.pid")
  if [[ -n "$master" ]] && _postfix_alive "$master"; then
    kill -TERM "$master" 2>/dev/null
    for ((i = 0; i < 250; i++)); do
      _postfix_alive "$master" || break
      sleep 0.02
    done
    _postfix_alive "$master" && kill -KILL -- "-$master" "$master" 2>/dev/null
  fi
  if [[ -n "$pid" ]]; then
    for ((i = 0; i < 100; i++)); do
      _postfix_alive "$pid" || break
      sleep 0.02
    done
    _postfix_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
  fi
}

# postfix_stop [DIR]: stops the instance started from DIR (default POSTFIX_DIR).
postfix_stop() {
  local dir=${1:-${POSTFIX_DIR:-}}
  [[ -n "$dir" && -d "$dir" ]] || return 0
  _postfix_kill "$dir"
  rm -f "$dir/env"
}

# postfix_log: prints the mail log of the running instance.
postfix_log() {
  cat "${POSTFIX_LOG:?start Postfix first}"
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  # Both servers, Dovecot first (Postfix delivers into it).
  _postfix_run_start() { dovecot_start "$1/dovecot" && postfix_start "$1/postfix"; }
  _postfix_run_stop() { postfix_stop "$1/postfix"; dovecot_stop "$1/dovecot"; }
  set -uo pipefail
  cmd=${1:-}
  shift || true
  case "$cmd" in
    run)
      harness_run postfix postfix_skip_reason _postfix_run_start _postfix_run_stop "$@"
      ;;
    start)
      [[ $# -ge 1 ]] || { echo "usage: postfix.sh start DIR" >&2; exit 2; }
      if reason=$(postfix_skip_reason); then echo "SKIP: $reason"; exit 77; fi
      mkdir -p "$1"
      dir=$(cd "$1" && pwd)
      dovecot_start "$dir/dovecot" || exit 1
      postfix_start "$dir/postfix" || { dovecot_stop "$dir/dovecot"; exit 1; }
      cat "$dir/dovecot/env" "$dir/postfix/env" >"$dir/env"
      echo "postfix.sh: started Dovecot (pid $DOVECOT_PID) and Postfix (pid $POSTFIX_PID, SMTP port $POSTFIX_PORT); variables in $dir/env"
      ;;
    stop)
      [[ $# -ge 1 ]] || { echo "usage: postfix.sh stop DIR" >&2; exit 2; }
      dir=$(cd "$1" && pwd)
      postfix_stop "$dir/postfix"
      dovecot_stop "$dir/dovecot"
      rm -f "$dir/env"
      ;;
    *)
      sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
      exit 2
      ;;
  esac
fi

#!/usr/bin/env bash
# A private Exim 4.96 (exim4-daemon-light) on 127.0.0.1 that delivers
# example.test into one Maildir per user: a real MTA with STARTTLS, implicit
# TLS, AUTH and DSN for `mailkeep resend`. Installing exim4 would remove
# Postfix, so it runs from its .debs unpacked into a private root, overlaid
# in a private mount namespace (tests/servers/private_root.sh; the .debs
# come from scripts/setup-debian.sh). Its config, spool, log and mail are
# under DIR, on free high ports; the system's /etc, /var and port 25 are
# untouched.
#
# Two ways to use it:
#
# 1. As a command (ctest, C++ test programs):
#      exim.sh run [DIR] -- COMMAND [ARG...]
#          start Exim in DIR, run COMMAND with the variables below in its
#          environment, stop it, exit with COMMAND's status. Without DIR a
#          temp dir is used and removed afterwards (kept when EXIM_KEEP=1).
#    (No start/stop commands: the private root's watchdog ends the
#    namespace when the shell that started it exits.)
#    Exit status 77 with a printed reason when it cannot run here (not root,
#    no mount namespace or overlay, the .debs not downloaded).
#
# 2. Sourced by a bash test (the daemon is then a child of the test):
#      source tests/servers/exim.sh
#      reason=$(exim_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      EXIM_MAX_PER_CONNECTION=100 exim_start "$WORK/exim"   # exports the variables
#      ... mailkeep resend ... --relay (host localhost, port $EXIM_PORT) ...
#      exim_count bob                          # messages delivered to bob
#      exim_stop                               # also fine from an EXIT trap
#    Functions: exim_skip_reason, exim_start DIR, exim_stop [DIR],
#    exim_count USER, exim_wait_count USER N [SECONDS], exim_log.
#
# What it does:
#   - EXIM_PORT: SMTP with STARTTLS; EXIM_TLS_PORT: TLS from the first byte
#     (tls_on_connect_ports). Certificate signed by a test CA (EXIM_CA), SAN
#     localhost, 127.0.0.1.
#   - AUTH PLAIN and LOGIN, offered only after TLS, for the users alice,
#     bob, carol and dave (password USER + "pw", e.g. alicepw). AUTH is not
#     required: example.test takes mail from anyone, other domains are
#     refused (550 relay not permitted).
#   - DSN, PIPELINING, SIZE (50 MB), 8BITMIME advertised.
#   - RCPT: refuse@example.test gets 550 5.7.1, defer@example.test 451
#     4.7.1 (ACL), unknown users 550 (verify = recipient).
#   - Delivery at once (no queueing per connection) into
#     EXIM_MAIL/USER/Maildir/new, one file per message and recipient, with
#     LF line ends. No Received, Return-Path, Envelope-To or Delivery-Date
#     header is added and none is removed: a file is the data sent, with
#     CRLF made LF.
#   - EXIM_MAX_PER_CONNECTION (read before the start; default 1000, Exim's
#     own): smtp_accept_max_per_connection, the messages one session may
#     carry.
#
# Variables exported after a start (also written to DIR/env as "export ..."):
#   EXIM_DIR EXIM_PID (the daemon, a child of the starting shell) EXIM_SH
#   EXIM_HOST=localhost EXIM_PORT EXIM_TLS_PORT EXIM_CA EXIM_MAIL EXIM_LOG
#   (the main log) EXIM_REFUSE=refuse@example.test EXIM_DEFER=defer@example.test
#   EXIM_MAX_PER_CONNECTION

_exim_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=dovecot.sh
source "$(dirname "$_exim_script")/dovecot.sh"   # test CA, free ports, port checks
# shellcheck source=private_root.sh
source "$(dirname "$_exim_script")/private_root.sh"

_exim_pkgs=(exim4-base exim4-config exim4-daemon-light)
_exim_users=(alice bob carol dave)

# Prints why Exim cannot run here and returns 0; returns 1 when it can.
exim_skip_reason() {
  command -v openssl >/dev/null 2>&1 || { echo "openssl is not installed"; return 0; }
  private_root_skip_reason "${_exim_pkgs[@]}"
}

_exim_write_conf() {
  local dir=$1 port=$2 tls_port=$3 max=$4
  cat >"$dir/exim4.conf" <<EOF
# Written by tests/servers/exim.sh for one test run.
primary_hostname = mx.exim.test
domainlist local_domains = example.test
local_interfaces = 127.0.0.1
daemon_smtp_ports = $port : $tls_port
tls_on_connect_ports = $tls_port
spool_directory = $dir/spool
log_file_path = $dir/log/%slog
log_selector = +smtp_connection
pid_file_path = $dir/exim.pid
keep_environment =
host_lookup =
rfc1413_hosts =
never_users = root
message_size_limit = 50M
smtp_accept_max_per_connection = $max
# Deliver every message at once, however many one session carries.
smtp_accept_queue_per_connection = 0
queue_run_max = 1
received_header_text =
delivery_date_remove = false
envelope_to_remove = false
return_path_remove = false

tls_advertise_hosts = *
tls_certificate = $dir/tls/server-chain.pem
tls_privatekey = $dir/tls/server.key
auth_advertise_hosts = \${if eq{\$tls_in_cipher}{}{}{*}}
dsn_advertise_hosts = *
acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  deny    local_parts = refuse
          message = 5.7.1 refused by the test harness
  defer   local_parts = defer
          message = 4.7.1 deferred by the test harness
  deny    !domains = +local_domains
          message = 5.7.1 relay not permitted
  require verify = recipient
  accept

begin routers

users:
  driver = accept
  domains = +local_domains
  local_parts = lsearch;$dir/users
  transport = maildir

begin transports

maildir:
  driver = appendfile
  directory = $dir/mail/\${local_part_data}/Maildir
  maildir_format
  create_directory
  directory_mode = 0700
  mode = 0600
  user = Debian-exim
  group = Debian-exim
  envelope_to_add = false
  return_path_add = false
  delivery_date_add = false

begin retry
*  *  F,1h,1m

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if eq{\$auth3}{\${lookup{\$auth2}lsearch{$dir/passwd}{\$value}fail}}}
  server_set_id = \$auth2

login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = \${if eq{\$auth2}{\${lookup{\$auth1}lsearch{$dir/passwd}{\$value}fail}}}
  server_set_id = \$auth1
EOF
  local u
  : >"$dir/users"
  : >"$dir/passwd"
  for u in "${_exim_users[@]}"; do
    echo "$u: $u" >>"$dir/users"
    echo "$u: ${u}pw" >>"$dir/passwd"
  done
}

# The server certificate: from Dovecot's test CA maker (CA + localhost).
_exim_make_certs() {
  _dovecot_make_certs "$1" >/dev/null || return 1
}

_exim_export() {
  local dir=$1
  harness_export "$dir" \
    EXIM_DIR="$dir" \
    EXIM_PID="$EXIM_PID" \
    EXIM_SH="$_exim_script" \
    EXIM_HOST="localhost" \
    EXIM_PORT="$EXIM_PORT" \
    EXIM_TLS_PORT="$EXIM_TLS_PORT" \
    EXIM_CA="$dir/tls/ca.pem" \
    EXIM_MAIL="$dir/mail" \
    EXIM_LOG="$dir/log/mainlog" \
    EXIM_REFUSE="refuse@example.test" \
    EXIM_DEFER="defer@example.test" \
    EXIM_MAX_PER_CONNECTION="$EXIM_MAX_PER_CONNECTION"
}

# exim_start DIR: the private root, then the daemon (exim4 -bdf, a child of
# this shell); exports the variables. Returns non-zero (with the logs
# printed) when it does not come up.
exim_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: exim_start DIR" >&2; return 2; }
  dir=$(harness_prepare_dir "$dir") || return 1
  : "${EXIM_MAX_PER_CONNECTION:=1000}"
  private_root_start "$dir/proot" "${_exim_pkgs[@]}" || return 1
  private_root_adduser "$dir/proot" Debian-exim || { private_root_stop "$dir/proot"; return 1; }
  [[ -f "$dir/tls/server.key" ]] || _exim_make_certs "$dir/tls" || { private_root_stop "$dir/proot"; return 1; }
  mkdir -p "$dir/spool" "$dir/log" "$dir/mail"
  private_root_exec "$dir/proot" chown Debian-exim:Debian-exim "$dir/spool" "$dir/log" "$dir/mail" "$dir/tls/server.key" &&
    private_root_exec "$dir/proot" chmod 750 "$dir/spool" "$dir/log" "$dir/mail" || { private_root_stop "$dir/proot"; return 1; }
  local i ready
  for _ in 1 2 3; do
    read -r EXIM_PORT EXIM_TLS_PORT <<<"$(_dovecot_free_ports 2)"
    _exim_write_conf "$dir" "$EXIM_PORT" "$EXIM_TLS_PORT" "$EXIM_MAX_PER_CONNECTION"
    private_root_exec "$dir/proot" install -m 644 -o root -g root "$dir/exim4.conf" /etc/exim4/exim4.conf ||
      { private_root_stop "$dir/proot"; return 1; }
    rm -f "$dir/exim.pid"
    # -bdf: the daemon stays in the foreground; -q1m: a queue runner for
    # what a 4xx deferred.
    private_root_spawn "$dir/proot" "$dir/exim.out" /usr/sbin/exim4 -bdf -q1m
    EXIM_PID=$PRIVATE_ROOT_SPAWNED
    ready=0
    for ((i = 0; i < 500; i++)); do
      _dovecot_alive "$EXIM_PID" || break
      # Ready once both ports listen and the daemon has logged its start
      # (which it writes just after it listens).
      if _dovecot_port_open 127.0.0.1 "$EXIM_PORT" && _dovecot_port_open 127.0.0.1 "$EXIM_TLS_PORT" &&
        grep -qs "daemon started" "$dir/log/mainlog"; then
        ready=1; break
      fi
      sleep 0.02
    done
    if [[ $ready -eq 1 ]]; then
      _exim_export "$dir"
      return 0
    fi
    kill "$EXIM_PID" 2>/dev/null || true
    wait "$EXIM_PID" 2>/dev/null || true
    # A port taken between choosing and binding: try other ports.
    grep -qi "in use" "$dir/exim.out" "$dir/log/paniclog" 2>/dev/null || break
  done
  echo "exim.sh: Exim did not start; its output and logs:" >&2
  tail -n 30 "$dir/exim.out" "$dir/log/paniclog" "$dir/log/mainlog" >&2 2>/dev/null
  private_root_stop "$dir/proot"
  return 1
}

# exim_stop [DIR]: the daemon and its children (every process in the
# private root's namespace), then the namespace.
exim_stop() {
  local dir=${1:-${EXIM_DIR:-}}
  harness_stop_private_root "$dir" EXIM_PID
}

# exim_count USER: messages delivered to USER (new and cur of its Maildir).
exim_count() {
  harness_maildir_count "${EXIM_MAIL:?start Exim first}/$1/Maildir"
}

# exim_wait_count USER N [SECONDS]: waits until USER has N messages (Exim
# delivers a moment after it answers the end of data); fails after SECONDS
# (default 30) or when there are more.
exim_wait_count() {
  harness_wait_count exim exim_count "$1" "$2" "${3:-30}"
}

# exim_log: prints the main log of the running instance.
exim_log() {
  cat "${EXIM_LOG:?start Exim first}" 2>/dev/null
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli exim "$@"
fi

#!/usr/bin/env bash
# A private OpenSMTPD 6.8 on 127.0.0.1 that delivers example.test into one
# Maildir per user: a plain SMTP listener without AUTH (TLS does not work in
# Debian 12's build here: ../shared/NOTES-interop.md), with OpenSMTPD's own
# per-session message limit (smtp limit max-mails, default 100), for
# `mailkeep resend`. Installing opensmtpd would remove Postfix, so it runs
# from its .deb unpacked into a private root, overlaid in a private mount
# namespace (tests/servers/private_root.sh; the .deb comes from
# scripts/setup-debian.sh). Its config and mail are under DIR, its queue in
# the namespace's /var/spool/smtpd; a free high port.
#
# Two ways to use it:
#
# 1. As a command (ctest, C++ test programs):
#      opensmtpd.sh run [DIR] -- COMMAND [ARG...]
#          start OpenSMTPD in DIR, run COMMAND with the variables below in
#          its environment, stop it, exit with COMMAND's status. Without DIR
#          a temp dir is used and removed afterwards (kept when
#          OPENSMTPD_KEEP=1).
#    (No start/stop commands: the private root's watchdog ends the
#    namespace when the shell that started it exits.)
#    Exit status 77 with a printed reason when it cannot run here (not root,
#    no mount namespace or overlay, the .deb not downloaded).
#
# 2. Sourced by a bash test (the daemon is then a child of the test):
#      source tests/servers/opensmtpd.sh
#      reason=$(opensmtpd_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      opensmtpd_start "$WORK/smtpd"            # exports the variables
#      ... mailkeep resend ... (host 127.0.0.1, port $OPENSMTPD_PORT, tls = none)
#      opensmtpd_wait_count bob 400             # delivered to bob's Maildir
#      opensmtpd_stop                           # also fine from an EXIT trap
#    Functions: opensmtpd_skip_reason, opensmtpd_start DIR, opensmtpd_stop
#    [DIR], opensmtpd_count USER, opensmtpd_wait_count USER N [SECONDS],
#    opensmtpd_log.
#
# What it does:
#   - OPENSMTPD_PORT: plain SMTP (PIPELINING, 8BITMIME, SIZE, DSN as
#     OpenSMTPD offers them), no STARTTLS, no AUTH.
#   - Recipients alice, bob, carol, dave @example.test (a virtual table;
#     others get "524 5.2.4 Mailing list expansion problem"); delivered by the maildir MDA into
#     OPENSMTPD_MAIL/USER/Maildir/new, one file per message and recipient.
#   - OPENSMTPD_MAX_MAILS (read before the start; default 100, OpenSMTPD's
#     own): messages per session; the next MAIL gets "452 4.5.3 Too many
#     recipients: Too many messages sent".
#
# Variables exported after a start (also written to DIR/env as "export ..."):
#   OPENSMTPD_DIR OPENSMTPD_PID (smtpd -d, a child of the starting shell)
#   OPENSMTPD_SH OPENSMTPD_HOST=127.0.0.1 OPENSMTPD_PORT OPENSMTPD_MAIL
#   OPENSMTPD_LOG (smtpd's log: its standard error) OPENSMTPD_MAX_MAILS

_opensmtpd_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=dovecot.sh
source "$(dirname "$_opensmtpd_script")/dovecot.sh"   # free ports, port checks
# shellcheck source=private_root.sh
source "$(dirname "$_opensmtpd_script")/private_root.sh"

_opensmtpd_users=(alice bob carol dave)

# Prints why OpenSMTPD cannot run here and returns 0; returns 1 when it can.
opensmtpd_skip_reason() {
  private_root_skip_reason opensmtpd
}

_opensmtpd_write_conf() {
  local dir=$1 port=$2 max=$3 u
  : >"$dir/vusers"
  for u in "${_opensmtpd_users[@]}"; do echo "$u@example.test vmail" >>"$dir/vusers"; done
  cat >"$dir/smtpd.conf" <<EOF
# Written by tests/servers/opensmtpd.sh for one test run.
smtp limit max-mails $max
table vusers file:$dir/vusers
listen on 127.0.0.1 port $port hostname mx.opensmtpd.test
action "local" maildir "$dir/mail/%{rcpt.user:lowercase}/Maildir" virtual <vusers>
match from any for domain "example.test" action "local"
EOF
}

_opensmtpd_export() {
  local dir=$1
  harness_export "$dir" \
    OPENSMTPD_DIR="$dir" \
    OPENSMTPD_PID="$OPENSMTPD_PID" \
    OPENSMTPD_SH="$_opensmtpd_script" \
    OPENSMTPD_HOST="127.0.0.1" \
    OPENSMTPD_PORT="$OPENSMTPD_PORT" \
    OPENSMTPD_MAIL="$dir/mail" \
    OPENSMTPD_LOG="$dir/smtpd.log" \
    OPENSMTPD_MAX_MAILS="$OPENSMTPD_MAX_MAILS"
}

# opensmtpd_start DIR: the private root, then smtpd -d (a child of this
# shell); exports the variables. Returns non-zero (with its log printed)
# when it does not come up.
opensmtpd_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: opensmtpd_start DIR" >&2; return 2; }
  dir=$(harness_prepare_dir "$dir") || return 1
  : "${OPENSMTPD_MAX_MAILS:=100}"
  private_root_start "$dir/proot" opensmtpd || return 1
  local R=$dir/proot
  private_root_adduser "$R" opensmtpd && private_root_adduser "$R" opensmtpq && mkdir -p "$dir/mail" &&
    private_root_adduser "$R" vmail vmail "$dir/mail" && private_root_exec "$R" chown vmail:vmail "$dir/mail" && chmod 750 "$dir/mail" ||
    { private_root_stop "$R"; return 1; }
  local i ready
  for _ in 1 2 3; do
    OPENSMTPD_PORT=$(_dovecot_free_ports 1)
    _opensmtpd_write_conf "$dir" "$OPENSMTPD_PORT" "$OPENSMTPD_MAX_MAILS"
    private_root_exec "$R" /usr/sbin/smtpd -n -f "$dir/smtpd.conf" >"$dir/check.log" 2>&1 || {
      echo "opensmtpd.sh: the configuration is refused:" >&2; cat "$dir/check.log" >&2
      private_root_stop "$R"; return 1; }
    private_root_spawn "$R" "$dir/smtpd.log" /usr/sbin/smtpd -d -f "$dir/smtpd.conf"
    OPENSMTPD_PID=$PRIVATE_ROOT_SPAWNED
    ready=0
    for ((i = 0; i < 500; i++)); do
      _dovecot_alive "$OPENSMTPD_PID" || break
      if _dovecot_port_open 127.0.0.1 "$OPENSMTPD_PORT"; then ready=1; break; fi
      sleep 0.02
    done
    if [[ $ready -eq 1 ]]; then
      _opensmtpd_export "$dir"
      return 0
    fi
    kill "$OPENSMTPD_PID" 2>/dev/null || true
    wait "$OPENSMTPD_PID" 2>/dev/null || true
    # A port taken between choosing and binding: try another port.
    grep -qi "in use" "$dir/smtpd.log" 2>/dev/null || break
  done
  echo "opensmtpd.sh: OpenSMTPD did not start; its log:" >&2
  tail -n 30 "$dir/smtpd.log" >&2 2>/dev/null
  private_root_stop "$R"
  return 1
}

# opensmtpd_stop [DIR]: smtpd and its processes (every process in the
# private root's namespace), then the namespace.
opensmtpd_stop() {
  local dir=${1:-${OPENSMTPD_DIR:-}}
  harness_stop_private_root "$dir" OPENSMTPD_PID
}

# opensmtpd_count USER: messages delivered to USER (new and cur of its Maildir).
opensmtpd_count() {
  harness_maildir_count "${OPENSMTPD_MAIL:?start OpenSMTPD first}/$1/Maildir"
}

# opensmtpd_wait_count USER N [SECONDS]: waits until USER has N messages
# (delivery follows the answer to the end of data from the queue); fails
# after SECONDS (default 60) or when there are more.
opensmtpd_wait_count() {
  harness_wait_count opensmtpd opensmtpd_count "$1" "$2" "${3:-60}"
}

# opensmtpd_log: prints smtpd's log.
opensmtpd_log() {
  cat "${OPENSMTPD_LOG:?start OpenSMTPD first}" 2>/dev/null
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli opensmtpd "$@"
fi

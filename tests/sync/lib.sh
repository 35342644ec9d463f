# Shared set-up for the tests that sync against a real Dovecot (sourced):
# the command-line helpers (tests/cli/lib.sh), a Dovecot of the test's own
# (tests/servers/dovecot.sh) started in $WORK and stopped on exit, an empty
# archive, and helpers to write accounts and read `sync` summary lines.
# Skips (exit 77) when Dovecot cannot run here.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../servers/dovecot.sh"
reason=$(dovecot_skip_reason) && skip "$reason"
chmod 755 "$WORK"  # Dovecot's users must reach its directory inside
dovecot_start "$WORK/dovecot"
trap 'dovecot_stop; rm -rf "$WORK"' EXIT
init_archive

doveadm_() { doveadm -c "$DOVECOT_CONF" "$@"; }
# uidvalidity USER FOLDER: the folder's UIDVALIDITY on this Dovecot.
uidvalidity() { doveadm_ mailbox status -u "$1" uidvalidity "$2" | sed -n 's/.*uidvalidity=\([0-9]*\).*/\1/p'; }

cfg="$WORK/config.ini"
PROTOCOL=${PROTOCOL:-pop3}
# account NAME USER PASSWORD_VAR TLS [KEY=VALUE...]: appends an account of
# $PROTOCOL on this Dovecot to $cfg (implicit TLS port, or the plain port
# for starttls/none), trusting the test CA.
account() {
  local name=$1 user=$2 pwvar=$3 tls=$4
  shift 4
  local port
  case $PROTOCOL/$tls in
    pop3/implicit) port=$DOVECOT_POP3S_PORT ;;
    pop3/*) port=$DOVECOT_POP3_PORT ;;
    imap/implicit) port=$DOVECOT_IMAPS_PORT ;;
    imap/*) port=$DOVECOT_IMAP_PORT ;;
  esac
  {
    printf '\n[account.%s]\nprotocol = %s\nhost = %s\nport = %s\ntls = %s\nuser = %s\npassword_env = %s\nca_file = %s\ntimeout = 30\n' \
      "$name" "$PROTOCOL" "$DOVECOT_HOST" "$port" "$tls" "$user" "$pwvar" "$DOVECOT_CA"
    local kv
    for kv in "$@"; do printf '%s\n' "${kv/=/ = }"; done
  } >>"$cfg"
}
# sync_ok [ARGS...]: `mailkeep sync --config $cfg ARGS` must succeed; its
# stdout/stderr are left in $WORK/out and $WORK/err.
sync_ok() {
  mk sync --config "$cfg" "$@" >"$WORK/out" 2>"$WORK/err" || {
    cat "$WORK/out" "$WORK/err" >&2
    grep -v "TLS handshaking" "$DOVECOT_LOG" | tail -n 15 >&2
    fail "sync $* failed"
  }
}
# Fields of an account's summary line in $WORK/out.
summary() { grep "^$1: " "$WORK/out" || fail "no summary line for $1: $(cat "$WORK/out")"; }
fetched() { summary "$1" | sed -E 's/.*: fetched ([0-9]+) .*/\1/'; }
deleted() { summary "$1" | sed -E 's/.*deleted ([0-9]+)[,].*/\1/'; }
stored_before() { summary "$1" | sed -E 's/.*, ([0-9]+) already stored\).*/\1/'; }
messages() { mk --json stats | json_field '["messages"]'; }

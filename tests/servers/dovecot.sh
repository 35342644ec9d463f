#!/usr/bin/env bash
# A real Dovecot (POP3 + IMAP, plain, STARTTLS/STLS and implicit TLS) on
# 127.0.0.1 for integration tests, from a private directory, on free high
# ports chosen at run time. Installs nothing: scripts/setup-debian.sh does.
#
# Two ways to use it:
#
# 1. As a command (ctest, C++ test programs):
#      dovecot.sh run [DIR] -- COMMAND [ARG...]
#          start, run COMMAND with the variables below in its environment,
#          stop, exit with COMMAND's status. Without DIR a temp dir is used
#          and removed afterwards (kept when DOVECOT_KEEP=1).
#      dovecot.sh start DIR          start in the background; DIR/env holds the variables
#      dovecot.sh stop DIR
#      dovecot.sh seed DIR USER N    N small test messages into USER's INBOX
#      dovecot.sh deliver DIR USER FILE...   those files (bytes as they are) into USER's INBOX
#      dovecot.sh count DIR USER [MAILBOX]   prints the number of messages (default INBOX)
#      dovecot.sh adduser DIR USER PASSWORD  one more user
#    Exit status 77 with a printed reason when Dovecot cannot run here (not
#    installed, not root) - ctest's SKIP_RETURN_CODE.
#
# 2. Sourced by a bash test (the server is then a direct child of the test):
#      source tests/servers/dovecot.sh
#      reason=$(dovecot_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      dovecot_start "$WORK/dovecot"        # exports the variables below
#      dovecot_seed alice 10; dovecot_count alice
#      dovecot_stop                          # also fine from an EXIT trap
#    Functions: dovecot_skip_reason, dovecot_start DIR, dovecot_stop [DIR],
#    dovecot_seed USER N, dovecot_deliver USER FILE..., dovecot_count USER
#    [MAILBOX], dovecot_adduser USER PASSWORD (the last four use DOVECOT_DIR).
#
# Variables exported after a start (also written to DIR/env as "export ..."):
#   DOVECOT_DIR DOVECOT_CONF DOVECOT_LOG DOVECOT_PID DOVECOT_SH
#   DOVECOT_HOST=localhost  DOVECOT_IP=127.0.0.1
#   DOVECOT_POP3_PORT (plain + STLS)   DOVECOT_POP3S_PORT (implicit TLS)
#   DOVECOT_IMAP_PORT (plain + STARTTLS)  DOVECOT_IMAPS_PORT (implicit TLS)
#   DOVECOT_CA             PEM of the test CA; the certificate on 127.0.0.1/::1
#                          has SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   DOVECOT_WRONG_NAME_HOST=127.0.0.2  same ports; its certificate is signed by
#                          DOVECOT_CA but names only DNS:mail.test
#   DOVECOT_UNTRUSTED_HOST=127.0.0.3   same ports; its certificate names
#                          localhost/127.0.0.1/127.0.0.3 but is signed by
#                          DOVECOT_UNTRUSTED_CA, a second CA (not DOVECOT_CA)
#   DOVECOT_UNTRUSTED_CA
#   DOVECOT_USERS="alice bob"  DOVECOT_ALICE_PASSWORD=alicepw  DOVECOT_BOB_PASSWORD=bobpw
#   DOVECOT_LMTP_PORT      LMTP on 127.0.0.1 (for an MTA in front: postfix.sh);
#                          "alice@example.test" is delivered to alice. Empty
#                          when dovecot-lmtpd is not installed.
#   DOVECOT_AUTH_SOCKET    Dovecot's auth socket for an MTA's SASL (Postfix
#                          smtpd_sasl_type = dovecot), mode 0666: same users
#                          and passwords as IMAP/POP3.
# Mail: DOVECOT_DIR/mail/USER/Maildir, owned by nobody:nogroup.
# Offered: POP3 CAPA "TOP UIDL RESP-CODES PIPELINING AUTH-RESP-CODE STLS USER
# SASL PLAIN LOGIN" (no APOP); IMAP AUTH=PLAIN AUTH=LOGIN, STARTTLS.
# DOVECOT_IMAP_COMPRESS=1 at start: IMAP also offers COMPRESS=DEFLATE after
# login (plugins zlib and imap_zlib).
# DOVECOT_OAUTH2_CONF=FILE at start: IMAP and POP3 also offer AUTH=XOAUTH2
# and AUTH=OAUTHBEARER, checked by `passdb { driver = oauth2 }` with FILE as
# its dovecot-oauth2.conf.ext (e.g. introspection_url = https://... of
# tests/servers/oauth_server.py, introspection_mode = post,
# username_attribute = username, active_attribute = active, active_value =
# true, tls_ca_cert_file = DIR/tls/ca.pem); passwords still work. Unset: as
# before.
# DOVECOT_NAMESPACE_STYLE=inbox-dot at start: folders as Courier and Cyrus
# spell them — personal namespace prefix "INBOX.", separator "." (INBOX,
# INBOX.Sent, INBOX.Lists.mips); the default is prefix "" and separator "/".
# DOVECOT_IMAP_CAPABILITY="CAP ..." at start: the capabilities IMAP announces
# after login (Dovecot's imap_capability), e.g. without UIDPLUS to imitate
# GNU Mailutils; mailkeep then does not rely on APPENDUID.

_dovecot_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=tests/servers/harness_lib.sh
source "$(dirname "$_dovecot_script")/harness_lib.sh"

_dovecot_bin() {
  if command -v dovecot >/dev/null 2>&1; then command -v dovecot
  elif [[ -x /usr/sbin/dovecot ]]; then echo /usr/sbin/dovecot
  fi
}
_doveadm_bin() {
  if command -v doveadm >/dev/null 2>&1; then command -v doveadm
  elif [[ -x /usr/bin/doveadm ]]; then echo /usr/bin/doveadm
  fi
}

# Prints why Dovecot cannot run here and returns 0; returns 1 when it can.
dovecot_skip_reason() {
  local bin
  bin=$(_dovecot_bin)
  if [[ -z "$bin" ]]; then
    echo "dovecot is not installed (scripts/setup-debian.sh installs dovecot-imapd dovecot-pop3d)"; return 0
  fi
  local libexec=/usr/lib/dovecot
  if [[ ! -x $libexec/pop3-login ]]; then echo "dovecot-pop3d is not installed"; return 0; fi
  if [[ ! -x $libexec/imap-login ]]; then echo "dovecot-imapd is not installed"; return 0; fi
  if [[ -z "$(_doveadm_bin)" ]]; then echo "doveadm is not installed"; return 0; fi
  if ! command -v openssl >/dev/null 2>&1; then echo "openssl is not installed"; return 0; fi
  if ! command -v python3 >/dev/null 2>&1; then echo "python3 is not installed (it delivers the test mail)"; return 0; fi
  if [[ $(id -u) -ne 0 ]]; then echo "the Dovecot harness needs root (mail is kept as nobody)"; return 0; fi
  local u
  for u in dovecot dovenull nobody; do
    if ! id "$u" >/dev/null 2>&1; then echo "system user $u is missing"; return 0; fi
  done
  return 1
}

# Prints N distinct free TCP ports on 127.0.0.1.
_dovecot_free_ports() {
  local n=$1
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$n" <<'EOF' && return 0
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
  fi
  local ports=() p
  while [[ ${#ports[@]} -lt $n ]]; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then ports+=("$p"); fi
  done
  echo "${ports[*]}"
}

_dovecot_have_ipv6() {
  command -v python3 >/dev/null 2>&1 &&
    python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null
}

# Makes the test CA, the second ("untrusted") CA and three server
# certificates under $1.
_dovecot_make_certs() {
  local d=$1
  mkdir -p "$d"
  cat >"$d/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $ENV::SAN
EOF
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  _ca() {  # name CN
    SAN=unused openssl req -x509 "${ec[@]}" -config "$d/openssl.cnf" -extensions ca -days 3650 \
      -subj "/CN=$2" -keyout "$d/$1.key" -out "$d/$1.pem" 2>/dev/null
  }
  _server() {  # name ca CN SAN
    SAN=$4 openssl req -new "${ec[@]}" -config "$d/openssl.cnf" -subj "/CN=$3" \
      -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null &&
    SAN=$4 openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 -extfile "$d/openssl.cnf" -extensions server \
      -out "$d/$1.pem" 2>/dev/null &&
    cat "$d/$1.pem" "$d/$2.pem" >"$d/$1-chain.pem"
  }
  _ca ca "mailkeep test CA" &&
  _ca untrusted-ca "mailkeep untrusted test CA" &&
  _server server ca localhost "DNS:localhost, IP:127.0.0.1, IP:::1" &&
  _server wrongname ca mail.test "DNS:mail.test" &&
  _server untrusted untrusted-ca localhost "DNS:localhost, IP:127.0.0.1, IP:127.0.0.3, IP:::1" || {
    echo "dovecot.sh: openssl failed to make test certificates" >&2; return 1; }
  chmod 644 "$d"/*.pem
  chmod 600 "$d"/*.key
}

# Succeeds when LMTP can be offered (dovecot-lmtpd is installed).
_dovecot_have_lmtp() {
  [[ -x /usr/lib/dovecot/lmtp ]]
}

# With DOVECOT_IMAP_COMPRESS=1, the mail_plugins line for the top level
# ($1 = global) or for protocol imap ($1 = imap) that offers COMPRESS=DEFLATE.
_dovecot_zlib_plugins() {
  [[ ${DOVECOT_IMAP_COMPRESS:-0} == 1 ]] || return 0
  # shellcheck disable=SC2016  # $mail_plugins is Dovecot's, not the shell's
  if [[ $1 == imap ]]; then echo 'mail_plugins = $mail_plugins imap_zlib'; else echo 'mail_plugins = $mail_plugins zlib'; fi
}

# With DOVECOT_OAUTH2_CONF: the extra SASL mechanisms and the oauth2 passdb.
_dovecot_oauth2_mechanisms() {
  [[ -n ${DOVECOT_OAUTH2_CONF:-} ]] && echo " xoauth2 oauthbearer"
}
_dovecot_oauth2_passdb() {
  [[ -n ${DOVECOT_OAUTH2_CONF:-} ]] || return 0
  printf 'passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\n' "$DOVECOT_OAUTH2_CONF"
}

# The separator (and prefix) lines of the inbox namespace: see
# DOVECOT_NAMESPACE_STYLE at the top.
_dovecot_namespace_style() {
  case ${DOVECOT_NAMESPACE_STYLE:-} in
    inbox-dot) printf '  separator = .\n  prefix = INBOX.\n' ;;
    *) printf '  separator = /\n' ;;
  esac
}

_dovecot_write_conf() {
  local dir=$1 pop3=$2 pop3s=$3 imap=$4 imaps=$5 listen=$6 lmtp=${7:-}
  local protocols="imap pop3"
  [[ -n "$lmtp" ]] && protocols="imap pop3 lmtp"
  cat >"$dir/dovecot.conf" <<EOF
# Written by tests/servers/dovecot.sh for one test run.
instance_name = mailkeep-test-$(basename "$dir")-$$
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
info_log_path = $dir/dovecot.log
protocols = $protocols
listen = $listen

ssl = yes
ssl_cert = <$dir/tls/server-chain.pem
ssl_key = <$dir/tls/server.key
ssl_min_protocol = TLSv1.2
local 127.0.0.2 {
  ssl_cert = <$dir/tls/wrongname-chain.pem
  ssl_key = <$dir/tls/wrongname.key
}
local 127.0.0.3 {
  ssl_cert = <$dir/tls/untrusted-chain.pem
  ssl_key = <$dir/tls/untrusted.key
}

disable_plaintext_auth = no
auth_mechanisms = plain login$(_dovecot_oauth2_mechanisms)
# One wrong password would otherwise delay every later login from 127.0.0.1.
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

default_internal_user = dovecot
default_login_user = dovenull
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
$(_dovecot_zlib_plugins global)
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
$(_dovecot_oauth2_passdb)
userdb {
  driver = static
  args = home=$dir/mail/%u
}
namespace inbox {
  inbox = yes
$(_dovecot_namespace_style)
  mailbox Sent {
    special_use = \Sent
    auto = create
  }
  mailbox Trash {
    special_use = \Trash
    auto = create
  }
}

service imap-login {
  inet_listener imap {
    port = $imap
  }
  inet_listener imaps {
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = $pop3
  }
  inet_listener pop3s {
    port = $pop3s
    ssl = yes
  }
}
protocol imap {
  mail_max_userip_connections = 200
  $(_dovecot_zlib_plugins imap)
  ${DOVECOT_IMAP_CAPABILITY:+imap_capability = $DOVECOT_IMAP_CAPABILITY}
}
protocol pop3 {
  mail_max_userip_connections = 200
}

# For an MTA in front (tests/servers/postfix.sh): SASL through this socket
# (0666: any local user may ask it; it is a throwaway test server).
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
  if [[ -n "$lmtp" ]]; then
    cat >>"$dir/dovecot.conf" <<EOF

# LMTP delivery from an MTA: RCPT TO:<alice@example.test> delivers to alice.
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
protocol lmtp {
  auth_username_format = %Ln
}
EOF
  fi
}

_dovecot_port_open() {  # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

_dovecot_alive() {  # pid: running and not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

_dovecot_export() {  # writes the variables to DIR/env and exports them
  local dir=$1
  harness_export "$dir" \
    DOVECOT_DIR="$dir" \
    DOVECOT_CONF="$dir/dovecot.conf" \
    DOVECOT_LOG="$dir/dovecot.log" \
    DOVECOT_PID="$DOVECOT_PID" \
    DOVECOT_SH="$_dovecot_script" \
    DOVECOT_HOST="localhost" \
    DOVECOT_IP="127.0.0.1" \
    DOVECOT_POP3_PORT="$DOVECOT_POP3_PORT" \
    DOVECOT_POP3S_PORT="$DOVECOT_POP3S_PORT" \
    DOVECOT_IMAP_PORT="$DOVECOT_IMAP_PORT" \
    DOVECOT_IMAPS_PORT="$DOVECOT_IMAPS_PORT" \
    DOVECOT_CA="$dir/tls/ca.pem" \
    DOVECOT_UNTRUSTED_CA="$dir/tls/untrusted-ca.pem" \
    DOVECOT_WRONG_NAME_HOST="127.0.0.2" \
    DOVECOT_UNTRUSTED_HOST="127.0.0.3" \
    DOVECOT_USERS="alice bob" \
    DOVECOT_ALICE_PASSWORD="alicepw" \
    DOVECOT_BOB_PASSWORD="bobpw" \
    DOVECOT_LMTP_PORT="$DOVECOT_LMTP_PORT" \
    DOVECOT_AUTH_SOCKET="$dir/run/auth-postfix"
}

# dovecot_adduser USER PASSWORD (uses DOVECOT_DIR; also used before start)
dovecot_adduser() {
  local dir=${_dovecot_dir_override:-${DOVECOT_DIR:-}} user=${1:-} pass=${2:-}
  [[ -n "$dir" && -n "$user" ]] || { echo "usage: dovecot_adduser USER PASSWORD" >&2; return 2; }
  # Dovecot re-reads the passwd-file when its mtime (in seconds) changes: make
  # sure it does, even for two users added within one second.
  local before=0
  [[ -f "$dir/passwd" ]] && before=$(stat -c %Y "$dir/passwd")
  echo "$user:{PLAIN}$pass::::::" >>"$dir/passwd"
  touch -d "@$((before + 1))" "$dir/passwd"
  mkdir -p "$dir/mail/$user/Maildir"/{cur,new,tmp}
  chown -R nobody:nogroup "$dir/mail/$user"
  # A running Dovecot looks at the file at most once a second: wait until it
  # knows the user.
  if [[ -z "${_dovecot_dir_override:-}" && -S "$dir/run/auth-userdb" ]]; then
    local i
    for ((i = 0; i < 40; i++)); do
      "$(_doveadm_bin)" -c "$dir/dovecot.conf" user "$user" >/dev/null 2>&1 && return 0
      sleep 0.1
    done
    echo "dovecot.sh: Dovecot does not see user $user" >&2
    return 1
  fi
}

# dovecot_start DIR: starts Dovecot as a child of this shell; exports the
# variables. Returns non-zero (log printed) when it does not come up.
dovecot_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: dovecot_start DIR" >&2; return 2; }
  dir=$(harness_prepare_dir "$dir") || return 1
  rm -rf "$dir/run"
  mkdir -p "$dir/run" "$dir/state" "$dir/mail"
  [[ -f "$dir/tls/ca.pem" ]] || _dovecot_make_certs "$dir/tls" || return 1
  if [[ ! -f "$dir/passwd" ]]; then
    : >"$dir/passwd"
    _dovecot_dir_override=$dir dovecot_adduser alice alicepw
    _dovecot_dir_override=$dir dovecot_adduser bob bobpw
  fi
  chmod 644 "$dir/passwd"
  chown nobody:nogroup "$dir/mail"
  local listen="127.0.0.1, 127.0.0.2, 127.0.0.3"
  _dovecot_have_ipv6 && listen="$listen, ::1"
  local bin attempt ports
  bin=$(_dovecot_bin)
  for attempt in 1 2 3; do
    read -r DOVECOT_POP3_PORT DOVECOT_POP3S_PORT DOVECOT_IMAP_PORT DOVECOT_IMAPS_PORT DOVECOT_LMTP_PORT \
      <<<"$(_dovecot_free_ports 5)"
    _dovecot_have_lmtp || DOVECOT_LMTP_PORT=""
    _dovecot_write_conf "$dir" "$DOVECOT_POP3_PORT" "$DOVECOT_POP3S_PORT" \
      "$DOVECOT_IMAP_PORT" "$DOVECOT_IMAPS_PORT" "$listen" "$DOVECOT_LMTP_PORT"
    rm -rf "$dir/run"; mkdir -p "$dir/run"
    "$bin" -F -c "$dir/dovecot.conf" >>"$dir/dovecot.stdout" 2>&1 &
    DOVECOT_PID=$!
    local i ready=0
    for ((i = 0; i < 200; i++)); do
      _dovecot_alive "$DOVECOT_PID" || break
      if _dovecot_port_open 127.0.0.1 "$DOVECOT_POP3_PORT" && _dovecot_port_open 127.0.0.1 "$DOVECOT_POP3S_PORT" &&
         _dovecot_port_open 127.0.0.1 "$DOVECOT_IMAP_PORT" && _dovecot_port_open 127.0.0.1 "$DOVECOT_IMAPS_PORT" &&
         _dovecot_port_open 127.0.0.3 "$DOVECOT_IMAPS_PORT" &&
         { [[ -z "$DOVECOT_LMTP_PORT" ]] || _dovecot_port_open 127.0.0.1 "$DOVECOT_LMTP_PORT"; } &&
         [[ -S "$dir/run/auth-postfix" ]]; then
        ready=1; break
      fi
      sleep 0.05
    done
    if [[ $ready -eq 1 ]]; then
      _dovecot_export "$dir"
      return 0
    fi
    kill -KILL "$DOVECOT_PID" 2>/dev/null; wait "$DOVECOT_PID" 2>/dev/null
    # A port taken between choosing and binding: try other ports.
    grep -q "Address already in use" "$dir/dovecot.stdout" "$dir/dovecot.log" 2>/dev/null || break
  done
  echo "dovecot.sh: Dovecot did not start; its output:" >&2
  tail -n 30 "$dir/dovecot.stdout" "$dir/dovecot.log" >&2 2>/dev/null
  return 1
}

# dovecot_stop [DIR]: stops the instance started from DIR (default DOVECOT_DIR).
dovecot_stop() {
  local dir=${1:-${DOVECOT_DIR:-}} pid
  [[ -n "$dir" ]] || return 0
  pid=$(sed -n "s/^export DOVECOT_PID='\(.*\)'/\1/p" "$dir/env" 2>/dev/null)
  [[ -n "$pid" ]] || pid=${DOVECOT_PID:-}
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  # A direct child can be waited for; otherwise poll (zombies count as gone).
  local i
  for ((i = 0; i < 100; i++)); do
    _dovecot_alive "$pid" || break
    sleep 0.05
  done
  _dovecot_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir/run"
}

_dovecot_maildir() {
  local dir=${DOVECOT_DIR:?DOVECOT_DIR is not set: start Dovecot first}
  local md="$dir/mail/$1/Maildir"
  [[ -d "$md" ]] || { echo "dovecot.sh: no user $1 (see dovecot_adduser)" >&2; return 1; }
  echo "$md"
}

_dovecot_seq=0
# dovecot_deliver USER FILE...: each file, byte for byte, as a new message.
# Files get increasing Maildir names, so Dovecot numbers them in argument order.
# One python3 for all files: a process start costs milliseconds of CPU on
# small VMs, and two per file (cp, mv) made delivering 3,250 messages the
# longest part of sync_pop3_large_mailbox.
dovecot_deliver() {
  local user=$1; shift
  local md
  md=$(_dovecot_maildir "$user") || return 1
  python3 - "$md" "$EPOCHSECONDS" "$_dovecot_seq" "$$" "$@" <<'EOF' || return 1
import os, shutil, sys
md, base, seq, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for f in sys.argv[5:]:
    seq += 1
    name = f"{base + seq}.M{seq}P{pid}.mailkeep-test"
    shutil.copyfile(f, f"{md}/tmp/{name}")
    os.rename(f"{md}/tmp/{name}", f"{md}/new/{name}")
EOF
  _dovecot_seq=$((_dovecot_seq + $#))
  chown -R nobody:nogroup "$md"
}

# dovecot_seed USER N: N small messages (LF line ends; bodies have lines
# that need dot-stuffing) numbered 1..N in Subject and Message-ID.
dovecot_seed() {
  local user=$1 n=$2 i tmp
  tmp=$(mktemp -d)
  local tag
  tag="$(date +%s%N)$$"
  for ((i = 1; i <= n; i++)); do
    printf 'From: Sender <sender@example.test>\nTo: %s@example.test\nSubject: Test message %d\nDate: Mon, 01 Jan 2024 00:00:00 +0000\nMessage-ID: <seed-%d-%s@example.test>\n\nBody of message %d.\n.leading dot\n..two dots\n.\nend\n' \
      "$user" "$i" "$i" "$tag" "$i" >"$tmp/$(printf '%06d' "$i")"
  done
  if ((n > 0)); then dovecot_deliver "$user" "$tmp"/*; fi
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

# dovecot_count USER [MAILBOX]: prints how many messages MAILBOX (INBOX) has.
dovecot_count() {
  local user=$1 box=${2:-INBOX}
  "$(_doveadm_bin)" -c "${DOVECOT_CONF:?start Dovecot first}" mailbox status -u "$user" messages "$box" |
    sed -n 's/.*messages=\([0-9]*\).*/\1/p'
}

# dovecot_rawlog_on USER...: from now on, every session of these users is
# logged byte for byte after login (DOVECOT_DIR/mail/USER/rawlog/*.in,
# *.out); reloads Dovecot and waits until new logins get it.
dovecot_rawlog_on() {
  local u i
  echo "rawlog_dir = ${DOVECOT_DIR:?start Dovecot first}/mail/%u/rawlog" >>"$DOVECOT_CONF"
  for u in "$@"; do install -d -o nobody -g nogroup "$DOVECOT_DIR/mail/$u/rawlog"; done
  "$(_doveadm_bin)" -c "$DOVECOT_CONF" reload
  for ((i = 0; i < 100; i++)); do grep -q "reloading configuration" "$DOVECOT_LOG" && break; sleep 0.05; done
  sleep 0.5  # the master re-reads its config; later logins get the rawlog
}

# dovecot_rawlog_bytes USER in|out: bytes USER's logged sessions carried
# after login, one way (the timestamp before each line is not counted).
dovecot_rawlog_bytes() {
  python3 - "${DOVECOT_DIR:?start Dovecot first}/mail/$1/rawlog" "$2" <<'EOF'
import glob, re, sys
stamp = re.compile(rb"\d+\.\d{6} ")
total = 0
for name in glob.glob(sys.argv[1] + "/*." + sys.argv[2]):
    pieces = open(name, "rb").read().split(b"\n")
    for line in pieces:
        m = stamp.match(line)
        total += len(line) - (m.end() if m else 0)
    total += len(pieces) - 1  # the line ends
print(total)
EOF
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli dovecot "$@"
fi

#!/usr/bin/env bash
# A private dnsmasq on 127.0.0.1 for MX-delivery tests: authoritative for the
# .test domains it is given (local=/test/: nothing is forwarded, a name it does
# not know is NXDOMAIN), on a free high port chosen at run time, from a private
# directory. Installs nothing: dnsmasq comes from the dnsmasq-base package.
#
# Two ways to use it:
#
# 1. As a command (ctest, C++ test programs):
#      dnsmasq.sh run [DIR] -- COMMAND [ARG...]
#          start, run COMMAND with the variables below in its environment,
#          stop, exit with COMMAND's status. Without DIR a temp dir is used
#          and removed afterwards (kept when DNSMASQ_KEEP=1).
#      dnsmasq.sh start DIR       start in the background; DIR/env holds the variables
#      dnsmasq.sh stop DIR
#    Exit status 77 with a printed reason when dnsmasq is not installed -
#    ctest's SKIP_RETURN_CODE.
#
# 2. Sourced by a bash test (the server is then a direct child of the test):
#      source tests/servers/dnsmasq.sh
#      reason=$(dnsmasq_skip_reason) && { echo "SKIP: $reason"; exit 77; }
#      dnsmasq_add_record "mx-host=other.test,mx.other.test,5"   # optional
#      dnsmasq_start "$WORK/dns"            # exports the variables below
#      dig @127.0.0.1 -p "$DNSMASQ_PORT" MX example.test
#      dnsmasq_stop                         # also fine from an EXIT trap
#    Functions: dnsmasq_skip_reason, dnsmasq_add_record LINE...,
#    dnsmasq_start DIR, dnsmasq_stop [DIR].
#
# Records. Each extra record is one dnsmasq configuration line, e.g.
#   mx-host=DOMAIN,TARGET,PREFERENCE   host-record=NAME,IPv4[,IPv6]
#   cname=ALIAS,TARGET (TARGET must be a name dnsmasq knows)
#   txt-record=NAME,TEXT               srv-host=...
# given by dnsmasq_add_record before the start, or by the caller's
# DNSMASQ_RECORDS (newline-separated lines). Names outside .test need their
# own local=/DOMAIN/ line, or dnsmasq answers REFUSED for them.
#
# Default zone (left out with DNSMASQ_DEFAULT_ZONE=0). Addresses come from the
# caller's environment, so that a test can leave one exchange unreachable:
#   example.test        MX 10 mx1.example.test, MX 20 mx2.example.test
#   mx1.example.test    A  $DNSMASQ_MX1_ADDR   (default 127.0.0.1)
#   mx2.example.test    A  $DNSMASQ_MX2_ADDR   (default 127.0.0.4)
#   nomx.test           A  $DNSMASQ_NOMX_ADDR  (default 127.0.0.1), no MX
#   nullmx.test         MX 0 "."  (RFC 7505 null MX)
#   dual.example.test   A 127.0.0.1, AAAA ::1
#   alias.example.test  CNAME mx1.example.test
#   many.example.test   MX 1 mx01.many.example.test ... MX 60 mx60.many.example.test
#                       (too big for a UDP answer: the resolver retries over TCP)
#   anything else under .test: NXDOMAIN; names outside .test: REFUSED.
#
# Variables exported after a start (also written to DIR/env as "export ..."):
#   DNSMASQ_DIR DNSMASQ_CONF DNSMASQ_LOG DNSMASQ_PID DNSMASQ_SH
#   DNSMASQ_PORT              UDP and TCP port on 127.0.0.1
#   DNSMASQ_SERVER=127.0.0.1:PORT   (the form ResolverOptions::dns_server takes)
#   DNSMASQ_MX1_ADDR DNSMASQ_MX2_ADDR DNSMASQ_NOMX_ADDR (the addresses used)
# Every query is logged to DNSMASQ_LOG.

_dnsmasq_script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
# shellcheck source=tests/servers/harness_lib.sh
source "$(dirname "$_dnsmasq_script")/harness_lib.sh"
_dnsmasq_records=()

_dnsmasq_bin() {
  if command -v dnsmasq >/dev/null 2>&1; then command -v dnsmasq
  elif [[ -x /usr/sbin/dnsmasq ]]; then echo /usr/sbin/dnsmasq
  fi
}

# Prints why dnsmasq cannot run here and returns 0; returns 1 when it can.
dnsmasq_skip_reason() {
  if [[ -z "$(_dnsmasq_bin)" ]]; then
    echo "dnsmasq is not installed (apt-get install dnsmasq-base)"; return 0
  fi
  return 1
}

# dnsmasq_add_record LINE...: extra dnsmasq configuration lines for the next
# dnsmasq_start in this shell.
dnsmasq_add_record() {
  _dnsmasq_records+=("$@")
}

# Prints one port free on 127.0.0.1 for both TCP and UDP.
_dnsmasq_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 - <<'EOF' && return 0
import socket
for _ in range(50):
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        u.close()
        t.close()
    print(port)
    break
else:
    raise SystemExit(1)
EOF
  fi
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
}

_dnsmasq_alive() {  # pid: running and not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z ]]
}

_dnsmasq_write_conf() {
  local dir=$1 port=$2 line
  {
    cat <<EOF
# Written by tests/servers/dnsmasq.sh for one test run.
port=$port
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
local=/test/
pid-file=
log-facility=$dir/dnsmasq.log
log-queries
cache-size=0
EOF
    if [[ "${DNSMASQ_DEFAULT_ZONE:-1}" != 0 ]]; then
      cat <<EOF
mx-host=example.test,mx1.example.test,10
mx-host=example.test,mx2.example.test,20
host-record=mx1.example.test,$DNSMASQ_MX1_ADDR
host-record=mx2.example.test,$DNSMASQ_MX2_ADDR
host-record=nomx.test,$DNSMASQ_NOMX_ADDR
mx-host=nullmx.test,.,0
host-record=dual.example.test,127.0.0.1,::1
cname=alias.example.test,mx1.example.test
EOF
      # Too big for a 512-byte UDP answer: resolvers retry over TCP.
      local i
      for ((i = 1; i <= 60; i++)); do
        printf 'mx-host=many.example.test,mx%02d.many.example.test,%d\n' "$i" "$i"
      done
    fi
    for line in "${_dnsmasq_records[@]}"; do printf '%s\n' "$line"; done
    if [[ -n "${DNSMASQ_RECORDS:-}" ]]; then printf '%s\n' "$DNSMASQ_RECORDS"; fi
  } >"$dir/dnsmasq.conf"
}

_dnsmasq_export() {
  local dir=$1
  harness_export "$dir" \
    DNSMASQ_DIR="$dir" \
    DNSMASQ_CONF="$dir/dnsmasq.conf" \
    DNSMASQ_LOG="$dir/dnsmasq.log" \
    DNSMASQ_PID="$DNSMASQ_PID" \
    DNSMASQ_SH="$_dnsmasq_script" \
    DNSMASQ_PORT="$DNSMASQ_PORT" \
    DNSMASQ_SERVER="127.0.0.1:$DNSMASQ_PORT" \
    DNSMASQ_MX1_ADDR="$DNSMASQ_MX1_ADDR" \
    DNSMASQ_MX2_ADDR="$DNSMASQ_MX2_ADDR" \
    DNSMASQ_NOMX_ADDR="$DNSMASQ_NOMX_ADDR"
}

# dnsmasq_start DIR: starts dnsmasq as a child of this shell and exports the
# variables. Returns non-zero (output printed) when it does not come up.
dnsmasq_start() {
  local dir=$1
  [[ -n "$dir" ]] || { echo "usage: dnsmasq_start DIR" >&2; return 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  : "${DNSMASQ_MX1_ADDR:=127.0.0.1}" "${DNSMASQ_MX2_ADDR:=127.0.0.4}" "${DNSMASQ_NOMX_ADDR:=127.0.0.1}"
  local bin attempt i ready
  bin=$(_dnsmasq_bin)
  for attempt in 1 2 3 4 5; do
    DNSMASQ_PORT=$(_dnsmasq_free_port) || { echo "dnsmasq.sh: no free port" >&2; return 1; }
    _dnsmasq_write_conf "$dir" "$DNSMASQ_PORT"
    : >"$dir/dnsmasq.stdout"
    # -k: stay in the foreground (a direct child that can be waited for).
    "$bin" -k -C "$dir/dnsmasq.conf" >>"$dir/dnsmasq.stdout" 2>&1 &
    DNSMASQ_PID=$!
    ready=0
    for ((i = 0; i < 300; i++)); do
      _dnsmasq_alive "$DNSMASQ_PID" || break
      # It binds UDP and TCP before it serves; TCP is the one bash can probe.
      if (exec 3<>"/dev/tcp/127.0.0.1/$DNSMASQ_PORT") 2>/dev/null; then ready=1; break; fi
      sleep 0.01
    done
    if [[ $ready -eq 1 ]]; then
      _dnsmasq_export "$dir"
      return 0
    fi
    kill -KILL "$DNSMASQ_PID" 2>/dev/null; wait "$DNSMASQ_PID" 2>/dev/null
    # A port taken between choosing and binding: try another one.
    grep -q "in use" "$dir/dnsmasq.stdout" 2>/dev/null || break
  done
  echo "dnsmasq.sh: dnsmasq did not start; its output:" >&2
  tail -n 20 "$dir/dnsmasq.stdout" "$dir/dnsmasq.log" >&2 2>/dev/null
  return 1
}

# dnsmasq_stop [DIR]: stops the instance started from DIR (default DNSMASQ_DIR).
dnsmasq_stop() {
  local dir=${1:-${DNSMASQ_DIR:-}} pid
  [[ -n "$dir" ]] || return 0
  pid=$(sed -n "s/^export DNSMASQ_PID='\(.*\)'/\1/p" "$dir/env" 2>/dev/null)
  [[ -n "$pid" ]] || pid=${DNSMASQ_PID:-}
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 200; i++)); do
    _dnsmasq_alive "$pid" || break
    sleep 0.01
  done
  _dnsmasq_alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/env"
}

# Command-line use.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  harness_cli dnsmasq "$@"
fi

#!/usr/bin/env bash
# A private root for mail servers that cannot be installed beside Dovecot
# and Postfix (Cyrus, Courier, Exim, OpenSMTPD: installing them removes
# dovecot-imapd/-pop3d or postfix). Their .debs (downloaded, never installed,
# by scripts/setup-debian.sh into MAILKEEP_DEBS) are unpacked with dpkg-deb
# -x into DIR/root; a private mount namespace, held by a `sleep infinity`,
# overlays that root on /usr, /etc, /var and /run (upper and work dirs in
# DIR, so the real tree is never written), and commands run inside it with
# nsenter. Users and groups added inside land in the overlaid /etc only.
# Syslog (/dev/log inside; /dev is overlaid too) goes to DIR/syslog.log.
# Sourced by the harnesses (cyrus.sh, courier.sh, exim/opensmtpd ones):
#
#   source tests/servers/private_root.sh
#   reason=$(private_root_skip_reason cyrus-common cyrus-imapd) && { echo "SKIP: $reason"; exit 77; }
#   private_root_start "$WORK/proot" cyrus-common cyrus-imapd   # unpack, namespace, overlays, syslog
#   private_root_adduser "$WORK/proot" cyrus mail                # a system user inside
#   private_root_exec "$WORK/proot" /usr/lib/cyrus/bin/ctl_cyrusdb -r  # foreground, returns its status
#   private_root_spawn "$WORK/proot" "$WORK/log" daemon -f       # background; its pid:
#   pid=$PRIVATE_ROOT_SPAWNED                                    #   a child of this shell
#   private_root_stop "$WORK/proot"                              # also fine from an EXIT trap
#
# Functions (DIR is the private root's own directory; it must be on a
# filesystem that can hold an overlay's upper dir, e.g. under mktemp -d):
#   private_root_skip_reason PKG...   prints why it cannot run here (not root,
#                                     no unshare/nsenter, no overlay mounts,
#                                     no python3, a .deb missing) and returns
#                                     0; returns 1 when it can.
#   private_root_start DIR PKG...     unpacks the packages' .debs into
#                                     DIR/root, starts the namespace and the
#                                     syslog receiver; DIR/holder.pid holds
#                                     the namespace's pid. Returns non-zero
#                                     with a message when that fails.
#   private_root_exec DIR CMD [ARG...]  runs CMD inside, in the foreground;
#                                     returns its status.
#   private_root_spawn DIR LOG CMD [ARG...]  runs CMD inside in the background
#                                     (stdin /dev/null, stdout+stderr appended
#                                     to LOG) and sets PRIVATE_ROOT_SPAWNED to
#                                     its pid (nsenter execs CMD: the pid is
#                                     CMD's, a child of this shell).
#   private_root_addgroup DIR GROUP   a system group inside (no-op if present)
#   private_root_adduser DIR USER [GROUP [HOME]]  a system user inside, its
#                                     primary group GROUP (default USER,
#                                     created when missing); no-op if present
#   private_root_syslog DIR           prints the path of the collected syslog
#   private_root_stop DIR             ends every process inside the namespace
#                                     (found by its mount namespace, by pid),
#                                     the watchdog, and removes DIR/root and
#                                     the overlay dirs; keeps DIR/syslog.log.
# A watchdog ends the namespace when the shell that started it dies without
# calling private_root_stop (ctest's timeout kills only that shell); with
# PRIVATE_ROOT_WATCH=PID it watches that process instead, with
# PRIVATE_ROOT_WATCH=none there is none (a "start" command that returns
# while the server runs on).
#
# The functions work in callers that run under set -euo pipefail.
# Variables: MAILKEEP_DEBS (default /var/cache/mailkeep-debs) holds the .debs.

_private_root_debs() { echo "${MAILKEEP_DEBS:-/var/cache/mailkeep-debs}"; }

# Prints the .deb file of package $1 (the last in name order when several
# versions are cached).
_private_root_deb() {
  local files=("${MAILKEEP_DEBS:-/var/cache/mailkeep-debs}/${1}_"*.deb)
  [[ -f "${files[-1]}" ]] && echo "${files[-1]}"
}

# Succeeds when this machine can mount an overlay in a private namespace.
_private_root_can_overlay() {
  local t rc
  t=$(mktemp -d) || return 1
  mkdir -p "$t/lower" "$t/upper" "$t/work" "$t/mnt"
  unshare -m --propagation private \
    mount -t overlay overlay -o "lowerdir=$t/lower,upperdir=$t/upper,workdir=$t/work" "$t/mnt" >/dev/null 2>&1
  rc=$?
  rm -rf "$t"
  return $rc
}

private_root_skip_reason() {
  if [[ $(id -u) -ne 0 ]]; then echo "a private root needs root (mount namespaces, overlays)"; return 0; fi
  local tool
  for tool in unshare nsenter dpkg-deb python3 useradd groupadd; do
    command -v "$tool" >/dev/null 2>&1 || { echo "$tool is not installed"; return 0; }
  done
  if ! _private_root_can_overlay; then
    echo "cannot mount an overlay in a private mount namespace here (unshare -m / overlayfs refused)"; return 0
  fi
  local p
  for p in "$@"; do
    _private_root_deb "$p" >/dev/null ||
      { echo "no $p .deb in $(_private_root_debs): run scripts/setup-debian.sh"; return 0; }
  done
  return 1
}

_private_root_pid() { cat "$1/holder.pid" 2>/dev/null || true; }

private_root_exec() {
  local dir=$1 pid
  shift
  pid=$(_private_root_pid "$dir")
  [[ -n "$pid" ]] || { echo "private_root.sh: $dir is not started" >&2; return 1; }
  nsenter -t "$pid" -m -- "$@"
}

private_root_spawn() {
  local dir=$1 log=$2 pid
  shift 2
  pid=$(_private_root_pid "$dir")
  [[ -n "$pid" ]] || { echo "private_root.sh: $dir is not started" >&2; return 1; }
  nsenter -t "$pid" -m -- "$@" </dev/null >>"$log" 2>&1 &
  # shellcheck disable=SC2034  # read by the caller
  PRIVATE_ROOT_SPAWNED=$!
}

# The syslog receiver run inside the namespace: /dev/log (datagram, as glibc
# uses it first) to a file, one line per message, the <priority> kept.
# It replaces the shell it runs in (exec): call it only in its own bash -c.
_private_root_syslogd() {
  local py=python3
  [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3  # Debian's: no version-manager shim to start
  exec "$py" -c '
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        data = s.recv(65536)
        f.write(data.rstrip(b"\0\n") + b"\n")
' "$@"
}

private_root_start() {
  local dir=$1
  shift
  [[ -n "$dir" ]] || { echo "usage: private_root_start DIR PKG..." >&2; return 2; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  local p deb
  rm -rf "$dir/root" "$dir/upper" "$dir/work"
  for p in "$@"; do
    deb=$(_private_root_deb "$p") || { echo "private_root.sh: no $p .deb in $(_private_root_debs)" >&2; return 1; }
    dpkg-deb -x "$deb" "$dir/root" || { echo "private_root.sh: dpkg-deb -x $deb failed" >&2; return 1; }
  done
  local d
  for d in usr etc var run dev; do mkdir -p "$dir/root/$d" "$dir/upper/$d" "$dir/work/$d"; done
  mkdir -p "$dir/hold/pts" "$dir/hold/shm"
  : >"$dir/syslog.log"

  unshare -m --propagation private sleep infinity </dev/null >/dev/null 2>&1 &
  local holder=$!
  echo "$holder" >"$dir/holder.pid"
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(readlink "/proc/$holder/ns/mnt" 2>/dev/null) != "$(readlink /proc/$$/ns/mnt)" ]] && break
    sleep 0.02
  done
  readlink "/proc/$holder/ns/mnt" >"$dir/ns"
  if [[ $(cat "$dir/ns") == "$(readlink /proc/$$/ns/mnt)" || -z $(cat "$dir/ns") ]]; then
    echo "private_root.sh: unshare did not make a mount namespace" >&2
    private_root_stop "$dir"; return 1
  fi
  # The watchdog: ends the namespace when this shell is gone.
  local watch=${PRIVATE_ROOT_WATCH:-$$}
  if [[ $watch != none ]]; then
    (
      set +eu +o pipefail  # whatever the caller runs under: it must get to the end
      trap '' HUP INT
      while kill -0 "$watch" 2>/dev/null; do sleep 2; done
      private_root_stop "$dir"
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$dir/watchdog.pid"
  fi

  # /dev is overlaid too, for a /dev/log of our own; its sub-mounts (pts,
  # shm) are moved across.
  # shellcheck disable=SC2016  # expanded by the inner bash
  if ! nsenter -t "$holder" -m -- bash -ec '
    dir=$1
    for d in usr etc var run; do
      mount -t overlay overlay -o "lowerdir=$dir/root/$d:/$d,upperdir=$dir/upper/$d,workdir=$dir/work/$d" "/$d"
    done
    mount --bind /dev/pts "$dir/hold/pts"
    mount --bind /dev/shm "$dir/hold/shm"
    mount -t overlay overlay -o "lowerdir=/dev,upperdir=$dir/upper/dev,workdir=$dir/work/dev" /dev
    mount --move "$dir/hold/pts" /dev/pts
    mount --move "$dir/hold/shm" /dev/shm
    ldconfig' _ "$dir" >"$dir/mount.log" 2>&1; then
    echo "private_root.sh: mounting the overlays failed:" >&2
    cat "$dir/mount.log" >&2
    private_root_stop "$dir"; return 1
  fi
  nsenter -t "$holder" -m -- bash -c "$(declare -f _private_root_syslogd); _private_root_syslogd /dev/log '$dir/syslog.log'" \
    </dev/null >"$dir/syslogd.log" 2>&1 &
  for ((i = 0; i < 200; i++)); do
    nsenter -t "$holder" -m -- test -S /dev/log && return 0
    sleep 0.02
  done
  echo "private_root.sh: the syslog receiver did not start:" >&2
  cat "$dir/syslogd.log" >&2
  private_root_stop "$dir"
  return 1
}

# Runs a shadow tool (groupadd, useradd) inside, again while the lock files
# it takes are held: the lower /etc is the host's, where another process may
# be adding a user at this moment (its /etc/group.lock shows through).
_private_root_shadow_tool() {
  local dir=$1 i out
  shift
  for ((i = 0; i < 50; i++)); do
    out=$(private_root_exec "$dir" "$@" 2>&1) && return 0
    [[ $out == *lock* ]] || break
    sleep 0.1
  done
  echo "private_root.sh: $*: $out" >&2
  return 1
}

private_root_addgroup() {
  local dir=$1 group=$2
  private_root_exec "$dir" getent group "$group" >/dev/null && return 0
  _private_root_shadow_tool "$dir" groupadd --system "$group"
}

private_root_adduser() {
  local dir=$1 user=$2 group=${3:-$2} home=${4:-/nonexistent}
  private_root_exec "$dir" getent passwd "$user" >/dev/null && return 0
  private_root_addgroup "$dir" "$group" || return 1
  _private_root_shadow_tool "$dir" useradd --system --gid "$group" --home-dir "$home" --no-create-home \
    --shell /usr/sbin/nologin "$user"
}

private_root_syslog() { echo "$1/syslog.log"; }

# Pids of the processes whose mount namespace is $1 (mnt:[INODE]) and whose
# /usr is the overlay of private root $2: a namespace's inode number is
# reused once it is gone, and then names somebody else's processes.
_private_root_members() {
  local ino=${1#mnt:[} pid
  ino=${ino%]}
  [[ -n "$ino" ]] || return 0
  { stat -L -c '%i %n' /proc/[0-9]*/ns/mnt 2>/dev/null || true; } |
    awk -v ino="$ino" '$1 == ino { split($2, a, "/"); print a[3] }' |
    while read -r pid; do
      if grep -qsF "upperdir=$2/upper/usr," "/proc/$pid/mountinfo"; then echo "$pid"; fi
    done
}

private_root_stop() {
  local dir=$1 ns pids=() i watchdog holder
  [[ -n "$dir" && -f "$dir/ns" ]] || return 0
  dir=$(cd "$dir" && pwd)  # as private_root_start named it in the mounts
  ns=$(cat "$dir/ns")
  watchdog=$(cat "$dir/watchdog.pid" 2>/dev/null || true)
  # Never our own namespace (a failed unshare), never this shell.
  if [[ -n "$ns" && "$ns" != "$(readlink /proc/$$/ns/mnt)" ]]; then
    mapfile -t pids < <(_private_root_members "$ns" "$dir")
    # The holder has no overlays when mounting them failed.
    holder=$(_private_root_pid "$dir")
    if [[ -n "$holder" && $(readlink "/proc/$holder/ns/mnt" 2>/dev/null) == "$ns" ]]; then pids+=("$holder"); fi
    if [[ ${#pids[@]} -gt 0 ]]; then kill -TERM "${pids[@]}" 2>/dev/null || true; fi
    for ((i = 0; i < 100; i++)); do
      mapfile -t pids < <(_private_root_members "$ns" "$dir")
      [[ ${#pids[@]} -eq 0 ]] && break
      sleep 0.05
    done
    if [[ ${#pids[@]} -gt 0 ]]; then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    for ((i = 0; i < 100; i++)); do
      [[ -z $(_private_root_members "$ns" "$dir") ]] && break
      sleep 0.05
    done
  fi
  holder=$(_private_root_pid "$dir")
  if [[ -n "$holder" ]]; then wait "$holder" 2>/dev/null || true; fi
  rm -f "$dir/ns" "$dir/holder.pid" "$dir/watchdog.pid"
  rm -rf "$dir/root" "$dir/upper" "$dir/work" "$dir/hold"
  # The watchdog last: it may be the one running this.
  if [[ -n "$watchdog" && "$watchdog" != "$BASHPID" ]]; then
    kill "$watchdog" 2>/dev/null || true
    wait "$watchdog" 2>/dev/null || true
  fi
  return 0
}

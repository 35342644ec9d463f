#!/usr/bin/env bash
# Checks tests/servers/private_root.sh: a package unpacked into a private
# root is visible inside the namespace and not outside; users added inside
# stay inside; syslog inside is collected; a spawned command's pid is its
# own; stop ends every process inside and leaves no mount or file behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=private_root.sh
source "$here/private_root.sh"
pkgs=(libgamin0 gamin)  # small: one library and one daemon binary
if reason=$(private_root_skip_reason "${pkgs[@]}"); then echo "SKIP: $reason"; exit 77; fi
fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mailkeep-proot.XXXXXX)
R=$WORK/proot
trap 'private_root_stop "$R" || true; rm -rf "$WORK"' EXIT
SECONDS=0

[[ ! -e /usr/libexec/gam_server ]] || fail "gamin is installed on the host: nothing to prove"
private_root_start "$R" "${pkgs[@]}"
private_root_exec "$R" test -x /usr/libexec/gam_server || fail "gam_server is not inside"
[[ ! -e /usr/libexec/gam_server ]] || fail "gam_server leaked to the host"
missing=$(private_root_exec "$R" ldd /usr/libexec/gam_server | grep -c 'not found' || true)
[[ $missing == 0 ]] || fail "gam_server lacks $missing libraries inside"

user=mkproot$$
private_root_adduser "$R" "$user"
private_root_exec "$R" id "$user" >/dev/null || fail "user $user is not inside"
! id "$user" >/dev/null 2>&1 || fail "user $user leaked to the host"
private_root_exec "$R" touch /etc/mailkeep-proot-$$ /var/mailkeep-proot-$$ /run/mailkeep-proot-$$
for f in /etc /var /run; do [[ ! -e $f/mailkeep-proot-$$ ]] || fail "$f written on the host"; done

private_root_exec "$R" logger -t mkproot "hello $$"
for ((i = 0; i < 50; i++)); do grep -q "mkproot: hello $$" "$(private_root_syslog "$R")" && break; sleep 0.1; done
grep -q "mkproot: hello $$" "$(private_root_syslog "$R")" || fail "syslog not collected"
[[ ! -e /dev/log ]] || [[ -S /dev/log ]] || fail "/dev/log on the host changed"

private_root_spawn "$R" "$WORK/spawn.log" sleep 300
pid=$PRIVATE_ROOT_SPAWNED
for ((i = 0; i < 50; i++)); do [[ $(cat "/proc/$pid/comm") == sleep ]] && break; sleep 0.05; done  # nsenter execs it
[[ $(cat "/proc/$pid/comm") == sleep ]] || fail "PRIVATE_ROOT_SPAWNED is not the command's pid"
[[ $(readlink "/proc/$pid/ns/mnt") == "$(cat "$R/ns")" ]] || fail "the spawned command is not inside: $(readlink "/proc/$pid/ns/mnt") $(cat "$R/ns") $(cat "/proc/$pid/comm")"

ns=$(cat "$R/ns")
private_root_stop "$R"
[[ -z $(_private_root_members "$ns" "$R") ]] || fail "processes left inside: $(_private_root_members "$ns" "$R")"
[[ ! -e /proc/$pid ]] || [[ $(awk '{print $3}' "/proc/$pid/stat") == Z ]] || fail "spawned $pid still runs"
[[ ! -e $R/root && ! -e $R/upper ]] || fail "overlay dirs left"
grep -q " $R/" /proc/mounts && fail "mounts left on the host"
echo "private root ok (${SECONDS}s)"

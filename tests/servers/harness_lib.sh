# What the server harnesses (dovecot.sh, postfix.sh, dnsmasq.sh, cyrus.sh,
# courier.sh, mailutils.sh, exim.sh, opensmtpd.sh) share. Sourced by each;
# defines functions only (and puts Debian's python3 first in PATH:
# tests/python.sh).
#
#   harness_prepare_dir DIR         makes DIR, prints its absolute path; the
#                                   server's own users get search permission
#                                   on it and on the parents this user owns
#   harness_export DIR VAR=VALUE... writes `export VAR='VALUE'` lines to
#                                   DIR/env and sources that file
#   harness_maildir_count MAILDIR   messages in MAILDIR's new/ and cur/
#   harness_wait_count NAME COUNT_FN USER N [SECONDS]
#                                   waits until COUNT_FN USER prints N
#   harness_stop_private_root DIR PIDVAR
#                                   stops the private root DIR/proot and
#                                   reaps the daemon whose pid DIR/env holds
#   harness_run NAME SKIP_FN START_FN STOP_FN [DIR] -- COMMAND...
#   harness_cli NAME ARG...         the command-line modes (see below)

source "$(dirname "${BASH_SOURCE[0]}")/../python.sh"

harness_prepare_dir() {
  local dir=$1 up
  mkdir -p "$dir" && dir=$(cd "$dir" && pwd) || return 1
  chmod 755 "$dir"
  # Servers drop to their own users, which must reach DIR: give search
  # permission (o+x, not read) to the parents that lack it, e.g. a
  # mktemp -d test root.
  up=$dir
  while up=$(dirname "$up") && [[ "$up" != / ]]; do
    if [[ -O "$up" ]] && ! (( 8#$(stat -c %a "$up") & 1 )); then chmod o+x "$up"; fi
  done
  printf '%s\n' "$dir"
}

harness_export() {
  local dir=$1 pair
  shift
  for pair in "$@"; do
    printf "export %s='%s'\n" "${pair%%=*}" "${pair#*=}"
  done >"$dir/env"
  # shellcheck disable=SC1091
  source "$dir/env"
}

harness_maildir_count() {
  find "$1/new" "$1/cur" -maxdepth 1 -type f 2>/dev/null | wc -l
}

# Delivery often lands a moment after the server answers the end of data;
# fails after SECONDS (default 30) or as soon as there are more than N.
harness_wait_count() {
  local name=$1 count_fn=$2 user=$3 want=$4 limit=${5:-30} n
  local deadline=$((SECONDS + limit))
  while :; do
    n=$("$count_fn" "$user")
    [[ $n -eq $want ]] && return 0
    [[ $n -gt $want ]] && { echo "$name.sh: $user has $n messages, more than $want" >&2; return 1; }
    ((SECONDS < deadline)) || { echo "$name.sh: $user has $n messages, not $want, after $limit s" >&2; return 1; }
    sleep 0.1
  done
}

harness_stop_private_root() {
  local dir=$1 pidvar=$2 pid
  [[ -n "$dir" && -d "$dir" ]] || return 0
  private_root_stop "$dir/proot"
  pid=$(sed -n "s/^export $pidvar='\(.*\)'/\1/p" "$dir/env" 2>/dev/null)
  [[ -n "$pid" ]] && wait "$pid" 2>/dev/null
  rm -f "$dir/env"
  return 0
}

# The "run [DIR] -- COMMAND..." mode: start the server(s) in DIR (a temp dir
# when none is given, removed afterwards unless NAME_KEEP=1), run COMMAND
# with the harness's variables in its environment, stop, and exit with
# COMMAND's status. Exit 77 with a printed reason when the server cannot run
# here (ctest's SKIP_RETURN_CODE). SKIP_FN prints a reason and succeeds when
# the server cannot run; START_FN DIR and STOP_FN DIR start and stop it.
# Does not return.
harness_run() {
  _harness_name=$1 _harness_stop=$4
  local skip_fn=$2 start_fn=$3 reason
  shift 4
  _harness_dir="" _harness_made=0
  if [[ "${1:-}" != "--" ]]; then _harness_dir=${1:-}; shift || true; fi
  [[ "${1:-}" == "--" ]] && shift
  [[ $# -gt 0 ]] || { echo "usage: $_harness_name.sh run [DIR] -- COMMAND..." >&2; exit 2; }
  if reason=$("$skip_fn"); then echo "SKIP: $reason"; exit 77; fi
  if [[ -z "$_harness_dir" ]]; then
    _harness_dir=$(mktemp -d "/tmp/mailkeep-$_harness_name.XXXXXX")
    _harness_made=1
  fi
  _harness_keep="$(tr '[:lower:]' '[:upper:]' <<<"$_harness_name")_KEEP"
  trap '"$_harness_stop" "$_harness_dir"
        if [[ $_harness_made -eq 1 && "${!_harness_keep:-0}" != 1 ]]; then rm -rf "$_harness_dir"; fi' EXIT
  trap 'exit 143' TERM INT
  "$start_fn" "$_harness_dir" || exit 1
  "$@"
  exit $?
}

# harness_cli NAME [COMMAND [DIR [ARG...]]]: what NAME.sh does when run as a
# command. `run` and `start DIR` / `stop DIR` for every harness; `seed`,
# `deliver`, `count`, `adduser`, `mkfolder` (DIR first, then the arguments
# of NAME_COMMAND) where NAME.sh defines that function; they load DIR/env
# first. A wrong call prints the script's usage lines for it; an unknown
# command prints the script's header. Does not return.
harness_cli() {
  local name=$1 cmd=${2:-} script=$0 reason
  shift 2 || shift $#
  set -uo pipefail
  local -A least=([start]=1 [stop]=1 [seed]=3 [deliver]=3 [count]=2 [adduser]=3 [mkfolder]=3)
  if [[ "$cmd" == run ]]; then
    harness_run "$name" "${name}_skip_reason" "${name}_start" "${name}_stop" "$@"
  fi
  if [[ -z "$cmd" || -z "${least[$cmd]:-}" ]] || ! declare -F "${name}_$cmd" >/dev/null; then
    sed -n '2,/^$/s/^# \{0,1\}//p' "$script" >&2
    exit 2
  fi
  if [[ $# -lt ${least[$cmd]} ]]; then
    local usage
    usage=$(grep "^#  *$name.sh $cmd " "$script" | sed 's/^# */usage: /')
    if [[ -n "$usage" ]]; then echo "$usage" >&2; else sed -n '2,/^$/s/^# \{0,1\}//p' "$script" >&2; fi
    exit 2
  fi
  local dir=$1
  shift
  case "$cmd" in
    start)
      if reason=$("${name}_skip_reason"); then echo "SKIP: $reason"; exit 77; fi
      PRIVATE_ROOT_WATCH=none "${name}_start" "$dir" || exit 1
      local var="${name^^}_DIR"
      echo "$name.sh: started; variables in ${!var}/env"
      exit 0
      ;;
    stop) "${name}_stop" "$(cd "$dir" && pwd)"; exit $? ;;
  esac
  [[ -f "$dir/env" ]] || { echo "$name.sh: $dir/env not found: not started?" >&2; exit 1; }
  # shellcheck disable=SC1091
  source "$dir/env"
  "${name}_$cmd" "$@"
  exit $?
}

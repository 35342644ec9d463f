# The "run [DIR] -- COMMAND..." mode the server harnesses share (sourced by
# dovecot.sh, dnsmasq.sh and postfix.sh when run as commands): start the
# server(s) in DIR (a temp dir when none is given, removed afterwards unless
# NAME_KEEP=1), run COMMAND with the harness's variables in its
# environment, stop, and exit with COMMAND's status. Exit 77 with a printed
# reason when the server cannot run here (ctest's SKIP_RETURN_CODE).
#
#   harness_run NAME SKIP_FN START_FN STOP_FN [DIR] -- COMMAND...
#
# SKIP_FN prints a reason and succeeds when the server cannot run;
# START_FN DIR and STOP_FN DIR start and stop it. Does not return.
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

# Shared by the fault-injection tests (sourced after tests/cli/lib.sh):
# isync's way, step l for every l. A run without a fault counts the N
# operations a command does under the archive (tests/fault/fault_inject.cc,
# loaded with LD_PRELOAD); then, for every l, the command runs again with
# operation l failing, the kind rotating with l (EIO, ENOSPC, a short write
# followed by ENOSPC; FAULT_ALL_KINDS=1: every kind at every step), and the
# test's own function checks what it left.
#
#   fault_add_steps SCENARIO LAST [STRIDE]
#       queues steps 1..LAST of SCENARIO (every STRIDE-th one: 1, 1+S, ...;
#       FAULT_FROM and FAULT_TO pick a sub-range, to reproduce one step)
#   fault_run_steps CHECK
#       runs `CHECK SCENARIO L KIND` for every queued step in FAULT_JOBS
#       (default 2) workers; worker i has $FAULT_WORKER=i, a private
#       directory $W and an archive path $ARCHIVE (under $FAST). CHECK
#       exits non-zero (fail) on the first broken promise and appends
#       "SCENARIO L KIND OP PATH EXIT" to $W/outcomes. Prints what the
#       faults hit and how the runs ended.
#   fault_count NAME COMMAND...
#       runs COMMAND once without a fault, counting (stdout and stderr in
#       $WORK/count.out and .err, the counts in $WORK/counts); sets FAULT_N
#       to the operations it did under $ARCHIVE and prints them. Fails when
#       COMMAND fails or did none.
#   fault_reset FROM        $ARCHIVE becomes a fresh copy of the archive FROM
#   fault_step NAME L KIND COMMAND...
#       the head of a check: runs COMMAND (on $ARCHIVE, as it is) with
#       operation L failing as KIND (kill: SIGKILL just before it), output
#       in $W/faulted.out and .err; sets FAULT_RC and FAULT_WHAT ("NAME step
#       L (KIND on OP PATH)"), appends "NAME L KIND OP PATH RC" to
#       $W/outcomes, and fails unless operation L was reached and the run
#       ended as it may (killed: 137; else fault_check_exit).
#   fault_small_archive DIR
#       8 messages of the generated sample in 3 packs, indexed, at DIR
#   fault_shas ARCHIVE      the SHA-256 of every blob, sorted (waits for a
#                           writer's lock rather than failing)
#   fault_env OUT ENV... -- COMMAND...
#       runs COMMAND with the fault library on $ARCHIVE, stdout and stderr
#       in OUT.out and OUT.err; returns its status.
#   fault_hit_what          the faulted operation of the last run ("OP PATH")
#   fault_check_exit WHAT RC
#       the faulted run ended cleanly: status 0, 1 or 3; if not 0, only
#       "mailkeep: ..." lines on stderr; and a failed directory fsync that
#       left a name at risk (unsynced-entry) did not end with status 0.
#   fault_trace_ops TRACE   strips $ARCHIVE from a FAULT_TRACE file
: "${FAULT_LIB:=}"
[[ -n "$FAULT_LIB" && -f "$FAULT_LIB" ]] || skip "FAULT_LIB (the fault-injection library) is not built"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"

# The archives live on tmpfs when there is one: every step fsyncs many
# times, and the faults are ours, not the disk's.
FAST=$WORK
if [[ -d /dev/shm && -w /dev/shm ]]; then
  FAST=$(mktemp -d /dev/shm/mailkeep-fault.XXXXXX)
  _fault_add_exit() {  # COMMAND: run before what the EXIT trap already does
    local cmd=$1
    eval "set -- $(trap -p EXIT)"
    trap "$cmd; ${3:-}" EXIT
  }
  _fault_add_exit "rm -rf '$FAST'"
fi

# The steps run a few thousand commands, and on this kind of machine every
# process started costs about 3 ms of CPU (bash's own forks more): the
# helpers below read files with bash builtins rather than grep, cut, sed
# and sort, so that a step starts little more than mailkeep itself.
fault_env() {
  local out=$1
  shift
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1") && shift; done
  shift
  (
    export LD_PRELOAD="$FAULT_LIB" FAULT_DIR="$ARCHIVE" "${envs[@]}"
    exec "$@"
  ) >"$out.out" 2>"$out.err"
}

# fault_set NAME FILE: the associative array NAME (declared by the caller)
# gets each line of FILE as a key.
fault_set() {
  local -n _fault_set_of=$1
  local line
  _fault_set_of=()
  while IFS= read -r line || [[ -n $line ]]; do _fault_set_of[$line]=1; done <"$2"
}

fault_count() {  # NAME COMMAND...
  local name=$1
  shift
  fault_env "$WORK/count" FAULT_COUNTS="$WORK/counts" -- "$@" ||
    fail "$name without a fault failed: $(cat "$WORK/count.err")"
  FAULT_N=$(awk '$1 == "total" {print $2}' "$WORK/counts")
  [[ "$FAULT_N" -gt 0 ]] || fail "the fault library counted no operation of $name"
  echo "$name: $FAULT_N operations under the archive ($(tr '\n' ' ' <"$WORK/counts" | sed 's/ $//'))"
}

fault_reset() { rm -rf "$ARCHIVE" && cp -a "$1" "$ARCHIVE"; }

fault_step() {  # NAME L KIND COMMAND...
  local name=$1 l=$2 kind=$3
  shift 3
  : >"$W/hit"  # the library appends
  set +e
  fault_env "$W/faulted" FAULT_STEP="$l" FAULT_KIND="$kind" FAULT_HIT="$W/hit" -- "$@"
  FAULT_RC=$?
  set -e
  _fault_hit
  FAULT_WHAT="$name step $l ($kind on $FAULT_HIT_WHAT)"
  [[ -s "$W/hit" ]] || fail "$FAULT_WHAT: never reached operation $l (exit $FAULT_RC)"
  echo "$name $l $kind $FAULT_HIT_WHAT $FAULT_RC" >>"$W/outcomes"
  if [[ $kind == kill ]]; then
    [[ $FAULT_RC -eq 137 ]] || fail "$FAULT_WHAT: exited $FAULT_RC, not killed: $(tail -3 "$W/faulted.err")"
  else
    fault_check_exit "$FAULT_WHAT" "$FAULT_RC"
  fi
}

fault_small_archive() {  # DIR
  : "${MAKE_SAMPLE_MAIL:?}"
  "$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
  mkdir -p "$WORK/small"/{cur,new,tmp}
  find "$WORK/sample/Maildir/.Lists.dev/cur" -type f | sort | sed -n 1,8p | xargs -d '\n' cp -t "$WORK/small/cur"
  "$MAILKEEP" --archive "$1" init >/dev/null
  "$MAILKEEP" --archive "$1" -q import --batch 4 --debug-pack-size 4000 "$WORK/small"
  [[ -e "$1/packs/000003.pack" ]] || fail "the small archive has fewer than three packs"
}

fault_shas() { sqlite3 -readonly -cmd ".timeout 5000" "$1/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs" | sort; }

fault_trace_ops() { sed -i "s| $ARCHIVE/| |; s| $ARCHIVE\$| .|" "$1"; }

# Sets FAULT_HIT_WHAT to the faulted operation of the last run ("OP PATH",
# PATH relative to $ARCHIVE).
_fault_hit() {
  local step kind what=
  if [[ -s $W/hit ]]; then
    read -r step kind what <"$W/hit"
    what=${what/"$ARCHIVE/"/}
    [[ $what != *" $ARCHIVE" ]] || what="${what% "$ARCHIVE"} ."
  fi
  FAULT_HIT_WHAT=$what
}
fault_hit_what() { _fault_hit && echo "$FAULT_HIT_WHAT"; }

fault_check_exit() {  # WHAT RC; stderr in $W/faulted.err, hits in $W/hit
  local what=$1 rc=$2 line unsynced=
  case $rc in
    0 | 1 | 3) ;;
    *) fail "$what: exited $rc: $(tail -5 "$W/faulted.err")" ;;
  esac
  if [[ $rc -ne 0 ]]; then
    [[ -s "$W/faulted.err" ]] || fail "$what: exited $rc without a word"
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line == 'mailkeep: '* ]] || fail "$what: stderr is not one-line errors: $(head -5 "$W/faulted.err")"
    done <"$W/faulted.err"
  elif [[ -f $W/hit ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line != 'unsynced-entry '* ]] || unsynced+="${line#unsynced-entry }"$'\n'
    done <"$W/hit"
    [[ -z $unsynced ]] ||
      fail "$what went unnoticed: exit 0 with names never made durable: $(sed "s|$ARCHIVE/||" <<<"$unsynced" | tr '\n' ' ')"
  fi
}

read -r -a FAULT_KINDS <<<"${FAULT_KINDS:-eio enospc short}"
_fault_items=()
FAULT_STEPS=0
fault_add_steps() {  # SCENARIO LAST [STRIDE]
  local l kind first=${FAULT_FROM:-1} last=${FAULT_TO:-$2} stride=${3:-1}
  ((last <= $2)) || last=$2
  for ((l = first; l <= last; l += stride)); do
    FAULT_STEPS=$((FAULT_STEPS + 1))
    if [[ -n "${FAULT_ALL_KINDS:-}" ]]; then
      for kind in "${FAULT_KINDS[@]}"; do _fault_items+=("$1 $l $kind"); done
    else
      _fault_items+=("$1 $l ${FAULT_KINDS[(l - 1) % ${#FAULT_KINDS[@]}]}")
    fi
  done
}

_fault_worker() {  # CHECK INDEX JOBS
  local i
  FAULT_WORKER=$2
  W="$WORK/w$2"
  ARCHIVE="$FAST/archive-$2"
  mkdir -p "$W"
  : >"$W/outcomes"
  for ((i = $2; i < ${#_fault_items[@]}; i += $3)); do
    [[ ! -e "$WORK/stop" ]] || return 0
    # shellcheck disable=SC2086
    ("$1" ${_fault_items[i]}) || { touch "$WORK/stop"; return 1; }
  done
}

fault_run_steps() {  # CHECK
  local jobs=${FAULT_JOBS:-2} start w pid failed=0 runs pids=()
  start=$(date +%s)
  rm -f "$WORK/stop" "$WORK"/w*/outcomes
  for ((w = 0; w < jobs; w++)); do
    _fault_worker "$1" "$w" "$jobs" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  ((failed == 0)) || exit 1
  cat "$WORK"/w*/outcomes >"$WORK/outcomes"
  runs=$(wc -l <"$WORK/outcomes")
  ((runs == ${#_fault_items[@]})) || fail "only $runs of ${#_fault_items[@]} faulted runs were checked"
  echo "faulted operations by file, operation and exit status:"
  awk '{f = $5; sub(/shard-[0-9]+/, "shard-K", f); sub(/orphans\/.*/, "orphans/FILE", f); print $1, f, $4, "exit", $6}' \
    "$WORK/outcomes" | sort | uniq -c | sed 's/^/  /'
  FAULT_RUNS=$runs
  FAULT_SECONDS=$(($(date +%s) - start))
}

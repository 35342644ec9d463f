# bench_lib.sh: helpers shared by the side-by-side download benchmarks
# (sync_bench.sh for POP3, imap_bench.sh for IMAP). Sourced, not run.
#
# The caller sets, before sourcing:
#   here     the directory of the calling script (tools/bench)
#   keep     1 keeps the work directory at exit (its path is printed)
# and gets:
#   repo mailkeep corpus     repository, binary (MAILKEEP), corpus (MAILKEEP_CORPUS)
#   skip error               "SKIP: why" + exit 77 / "ERROR: why" on stderr
#   bench_common_preconditions   Dovecot harness sourced and usable, zstd,
#                            /usr/bin/time, the mailkeep binary (else skip/exit 2)
#   bench_workdir PREFIX     makes $work, removed (or kept) at exit with Dovecot stopped
#   measure fail_run invalid is_invalid maildir_count sync_report median
#   size mb                  see each function
# shellcheck shell=bash disable=SC2154,SC2034
# (SC2154: here, keep come from the caller; SC2034: corpus is for the caller)

repo=$(cd "$here/../.." && pwd)
mailkeep=${MAILKEEP:-$repo/build/tools/mailkeep}
corpus=${MAILKEEP_CORPUS:-$repo/../shared/corpus}

skip() { echo "SKIP: $*"; exit 77; }
error() { echo "ERROR: $*" >&2; }

# shellcheck source-path=SCRIPTDIR/../.. source=tests/servers/dovecot.sh
source "$repo/tests/servers/dovecot.sh"

bench_common_preconditions() {
  local reason
  reason=$(dovecot_skip_reason) && skip "$reason"
  command -v zstd >/dev/null || skip "zstd is not installed"
  [[ -x /usr/bin/time ]] || skip "/usr/bin/time is not installed (apt-get install time)"
  [[ -x $mailkeep ]] || { echo "$(basename "$0" .sh): no mailkeep binary at $mailkeep (build it, or set MAILKEEP)" >&2; exit 2; }
}

# bench_workdir PREFIX: a fresh $work under /tmp; at exit Dovecot is stopped
# and the directory removed (kept with --keep).
bench_workdir() {
  work=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$work"  # Dovecot's users (dovecot, nobody) must reach its directory inside
  trap _bench_cleanup EXIT
  trap 'exit 130' INT TERM  # through the EXIT trap: Dovecot stopped, directory removed
}
_bench_cleanup() {
  dovecot_stop || true
  if [[ $keep -eq 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}

# measure NAME CMD...: runs CMD under /usr/bin/time, output to $work/NAME.log
# (stdout) and NAME.err;
# appends "wall_s cpu_s rss_kb" to $work/NAME.results. Wall time comes from
# date +%s%N around it (ms resolution; the %e of time has 10 ms),
# CPU = user + sys of the process and the children it waited for, RSS = the
# peak of the largest of them. Returns CMD's exit status.
measure() {
  local name=$1; shift
  local t0 t1 status=0
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/$name.time" "$@" >"$work/$name.log" 2>"$work/$name.err" || status=$?
  t1=$(date +%s%N)
  local u s m
  read -r u s m < <(tail -n 1 "$work/$name.time")
  awk -v w=$((t1 - t0)) -v u="$u" -v s="$s" -v m="$m" \
    'BEGIN { printf "%.3f %.2f %d\n", w / 1e9, u + s, m }' >>"$work/$name.results"
  return $status
}
invalid=()  # names of tools with a run that did not get everything
fail_run() {  # fail_run NAME RUN WHY: reports a run that does not count
  error "$1, run $2: $3 - this timing is invalid; last lines of its stderr:"
  tail -n 3 "$work/$1.err" | sed 's/^/    /' >&2
  invalid+=("$1")
}
is_invalid() { local t; for t in "${invalid[@]}"; do [[ $t == "$1" ]] && return 0; done; return 1; }
# maildir_count DIR...: messages (files in new/ and cur/) of these Maildirs.
maildir_count() {
  local d dirs=()
  for d in "$@"; do dirs+=("$d/new" "$d/cur"); done
  find "${dirs[@]}" -type f | wc -l
}
# sync_report FILE: "ok listed fetched errors not_indexed indexed" from the
# JSON of `mailkeep --json sync` (one account), or "bad" when it is not that
# JSON. (not_indexed: messages indexing failed on; indexed: by this run.)
sync_report() {
  python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1])); a = d["accounts"][0]
    print(a["ok"], a["on_server"], a["fetched"], a["errors"], d["not_indexed"], d["indexed"])
except Exception:
    print("bad")' "$1"
}
# median FILE COLUMN: the median of a column of a results file (the lower
# middle value for an even count).
median() { cut -d' ' -f"$2" "$1" | sort -g | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"; }
size() { du -sb "$1" | cut -f1; }
mb() { awk -v b="$1" 'BEGIN { printf "%8.1f MB", b / 1e6 }'; }

#!/usr/bin/env bash
# sync_bench.sh [--imap] [--mips N] [--runs R] [--keep]
#
# --imap runs the IMAP benchmark instead (mailkeep vs mbsync, several
# folders): see imap_bench.sh, which gets the other arguments.
#
# Side-by-side POP3 download benchmark (not a test, not in CI): the same
# Dovecot mailbox (a real Dovecot on 127.0.0.1, implicit TLS, started from
# tests/servers/dovecot.sh) is read in full, without deleting anything, by
#   1. mailkeep sync   fresh archive each run: fetch, parse, store, index
#                      (the default), delete = never; then a second
#                      `mailkeep sync` on the same archive (nothing new: the
#                      cost of an incremental check)
#   2. mpop            delivery to a Maildir, fresh UIDL file each run
#   3. getmail         (getmail6) SimplePOP3SSLRetriever to a Maildir, fresh
#                      oldmail state each run, read_all
# Each tool runs R times (default 3), interleaved round by round so that load
# from other users of the machine spreads over all tools alike. Prints wall
# time (median), messages/s, user+sys CPU (median), peak RSS (median; from
# /usr/bin/time), then the archive size against the Maildirs' sizes.
# A run only counts when the tool got every message (mailkeep's own report,
# files in the Maildir); otherwise it prints an ERROR, the row is marked
# INVALID and the script exits 1.
# Not measured: Dovecot's own CPU; init of the empty archive (untimed setup).
#
# Mailbox: by default the SpamAssassin public corpus, part 1 (3,250
# messages) from $MAILKEEP_CORPUS (default ../shared/corpus next to the
# repository); --mips N uses the first N messages (oldest first, N >= 3000,
# at most 37,455) of the linux-mips list archive instead, split from its
# mboxrd files and checked against its manifests by mboxrd_split.py.
#
# Needs root (Dovecot keeps mail as nobody), dovecot-pop3d, mpop, getmail6,
# zstd and /usr/bin/time; exits 77 with "SKIP: reason" when one is missing.
# MAILKEEP=path selects the binary (default build/tools/mailkeep).
# --keep keeps the work directory (its path is printed) for a look at logs.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
imap=0 rest=()
for arg in "$@"; do if [[ $arg == --imap ]]; then imap=1; else rest+=("$arg"); fi; done
[[ $imap -eq 0 ]] || exec "$here/imap_bench.sh" "${rest[@]}"

usage() { sed -n '2p' "${BASH_SOURCE[0]}" | sed 's/^# /usage: /' >&2; exit 2; }
mips=0 runs=3 keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --mips) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; mips=$2; shift 2 ;;
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done
if [[ $mips -ne 0 && ( $mips -lt 3000 || $mips -gt 37455 ) ]]; then
  echo "sync_bench: --mips N needs 3000 <= N <= 37455" >&2; exit 2
fi

# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$here/bench_lib.sh"

# --- Preconditions -----------------------------------------------------------
bench_common_preconditions
command -v mpop >/dev/null || skip "mpop is not installed (apt-get install mpop)"
command -v getmail >/dev/null || skip "getmail is not installed (apt-get install getmail6)"
if [[ $mips -eq 0 ]]; then
  tarball="$corpus/spamassassin-public-corpus/spamassassin-20030228-part1.tar.zst"
  [[ -f $tarball ]] || skip "the SpamAssassin corpus is not here ($tarball; set MAILKEEP_CORPUS)"
else
  mips_dir="$corpus/linux-mips-list-archive"
  [[ -f $mips_dir/linux-mips-1996-2004.mboxrd.zst ]] || skip "the linux-mips archive is not here ($mips_dir; set MAILKEEP_CORPUS)"
fi

# --- Work directory, Dovecot, mailbox ---------------------------------------
bench_workdir mailkeep-sync-bench

mkdir -p "$work/msgs"
if [[ $mips -eq 0 ]]; then
  corpus_name="SpamAssassin public corpus part 1"
  tar --zstd -xf "$tarball" -C "$work/msgs"
  mapfile -t files < <(find "$work/msgs" -type f ! -name cmds ! -name '.*' -size +0 | sort)
else
  corpus_name="linux-mips list archive, first $mips messages"
  python3 "$here/mboxrd_split.py" "$work/msgs" "$mips" \
    "$mips_dir"/linux-mips-{1996-2004,2010-2013,2018}.mboxrd.zst
  mapfile -t files < <(find "$work/msgs" -type f | sort)
fi
n=${#files[@]}
[[ $n -ge 3000 ]] || { error "expected at least 3,000 messages, found $n"; exit 1; }

dovecot_start "$work/dovecot" >/dev/null
echo "delivering $n messages ($corpus_name) to Dovecot (pop3s port $DOVECOT_POP3S_PORT) ..."
dovecot_deliver alice "${files[@]}"
rm -rf "$work/msgs"  # Dovecot has its own copy
[[ $(dovecot_count alice) -eq $n ]] || { error "Dovecot shows $(dovecot_count alice) messages, $n delivered"; exit 1; }
user=alice pass=$DOVECOT_ALICE_PASSWORD

# --- Tool configurations (written once; state is reset before every run) ----
# mailkeep: TLS from the start, the test CA, nothing deleted.
cat >"$work/mailkeep.ini" <<EOF
[account.$user]
protocol = pop3
host = $DOVECOT_HOST
port = $DOVECOT_POP3S_PORT
tls = implicit
user = $user
password_env = BENCH_POP3_PASSWORD
ca_file = $DOVECOT_CA
delete = never
EOF
export BENCH_POP3_PASSWORD=$pass

# mpop: implicit TLS (tls_starttls off), keep everything on the server. Its
# UIDL file is deleted before each run, and only_new off, so it always
# fetches all. mpop refuses a config file that others can read.
cat >"$work/mpoprc" <<EOF
account bench
host $DOVECOT_HOST
port $DOVECOT_POP3S_PORT
tls on
tls_starttls off
tls_trust_file $DOVECOT_CA
user $user
password $pass
keep on
only_new off
uidls_file $work/mpop.uidls
delivery maildir $work/mpop-maildir
EOF
chmod 600 "$work/mpoprc"

# getmail6: POP3 over TLS, certificates checked against ca_certs. As root it
# refuses to deliver to a Maildir unless it drops to another user, hence
# user = nobody (who owns that Maildir). read_all plus an empty getmaildir
# (its oldmail-* state) before each run makes it fetch everything.
# timeout = 30 (default 180): see getmail_cmd below; loopback answers in ms.
cat >"$work/getmailrc" <<EOF
[retriever]
type = SimplePOP3SSLRetriever
server = $DOVECOT_HOST
port = $DOVECOT_POP3S_PORT
username = $user
password = $pass
ca_certs = $DOVECOT_CA
timeout = 30

[destination]
type = Maildir
path = $work/getmail-maildir/
user = nobody

[options]
read_all = true
delete = false
verbose = 0
EOF
chmod 600 "$work/getmailrc"
# getmail 6.18 forks a child per delivered message and installs its SIGCHLD
# handler only after fork(): when the child exits first, getmail waits
# `timeout` seconds and aborts with "waiting child pid N timed out"
# (getmail6 issue #226, fixed upstream after 6.19 by using
# multiprocessing). On this loaded 2-CPU machine that hit 2 of 3 runs of
# 3,250 messages. Pinned to one CPU, the parent keeps running after fork()
# and the child only runs once the parent waits, so the race does not
# happen (0 of 6 runs). getmail is sequential anyway (it waits for each
# child), so the pin costs it no parallelism; GETMAIL_PIN=0 turns it off.
getmail_cmd=(getmail)
if [[ ${GETMAIL_PIN:-1} != 0 ]] && command -v taskset >/dev/null; then
  getmail_cmd=(taskset -c "$(($(nproc) - 1))" getmail)
fi

# --- Measuring (measure, fail_run, sync_report: bench_lib.sh) -----------------
mk=("$mailkeep" --archive "$work/archive" --config "$work/mailkeep.ini")  # an array: /usr/bin/time runs it

run_mailkeep() {
  local r=$1 ok listed fetched errors unindexed _indexed
  rm -rf "$work/archive"
  "${mk[@]}" init >/dev/null
  if measure mailkeep "${mk[@]}" --json sync; then
    read -r ok listed fetched errors unindexed _indexed < <(sync_report "$work/mailkeep.log")
    [[ $ok == True && $fetched == "$n" && $errors == 0 && $unindexed == 0 ]] ||
      fail_run mailkeep "$r" "fetched ${fetched:-?} of $n, errors ${errors:-?}, not indexed ${unindexed:-?}"
  else
    fail_run mailkeep "$r" "exit status $?"
  fi
  # Second sync on the same archive: lists the mailbox, finds nothing new.
  if measure mailkeep-again "${mk[@]}" --json sync; then
    read -r ok listed fetched errors unindexed _indexed < <(sync_report "$work/mailkeep-again.log")
    [[ $ok == True && $listed == "$n" && $fetched == 0 && $errors == 0 ]] ||
      fail_run mailkeep-again "$r" "listed ${listed:-?} of $n, fetched ${fetched:-?} (expected 0), errors ${errors:-?}"
  else
    fail_run mailkeep-again "$r" "exit status $?"
  fi
}

run_mpop() {
  local r=$1 md=$work/mpop-maildir
  rm -rf "$md" "$work/mpop.uidls"
  mkdir -p "$md"/{cur,new,tmp}
  if measure mpop mpop -C "$work/mpoprc" -q bench; then
    local got; got=$(maildir_count "$md")
    [[ $got -eq $n ]] || fail_run mpop "$r" "$got of $n messages in the Maildir"
  else
    fail_run mpop "$r" "exit status $?"
  fi
}

run_getmail() {
  local r=$1 md=$work/getmail-maildir
  rm -rf "$md" "$work/getmail-state"
  mkdir -p "$md"/{cur,new,tmp} "$work/getmail-state"
  chown -R nobody:nogroup "$md"
  if measure getmail "${getmail_cmd[@]}" --getmaildir "$work/getmail-state" --rcfile "$work/getmailrc"; then
    local got; got=$(maildir_count "$md")
    [[ $got -eq $n ]] || fail_run getmail "$r" "$got of $n messages in the Maildir"
  else
    local status=$? why
    why=$(grep -m1 -o 'waiting child pid [0-9]* timed out' "$work/getmail.err") &&
      why="$why: getmail's fork/SIGCHLD race (see getmail_cmd)" || why="exit status $status"
    fail_run getmail "$r" "$why, $(maildir_count "$md") of $n messages in the Maildir"
  fi
}

# Warm-up, untimed: the first POP3 session on a fresh Maildir makes Dovecot
# build its index and cache (sizes, UIDLs), and reads every file into the
# page cache; without it the first tool of round 1 would pay for that.
run_mpop warm-up
rm -f "$work/mpop.results"

for ((r = 1; r <= runs; r++)); do
  echo "round $r of $runs ..."
  run_mailkeep "$r"
  run_mpop "$r"
  run_getmail "$r"
done

# --- Report -------------------------------------------------------------------
echo
echo "POP3 over implicit TLS from Dovecot $(dovecot --version | cut -d' ' -f1) on $DOVECOT_HOST: $n messages ($corpus_name)"
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); median of $runs runs each"
printf '%-36s %8s %10s %13s %9s %10s %12s\n' tool messages "wall s" "wall min-max" msgs/s "user+sys s" "peak RSS MB"
row() {  # row NAME LABEL: one table line from NAME.results
  local name=$1 label=$2 f=$work/$1.results
  local wall cpu rss lo hi rate msgs=$n
  wall=$(median "$f" 1) cpu=$(median "$f" 2) rss=$(median "$f" 3)
  lo=$(cut -d' ' -f1 "$f" | sort -g | head -n 1 | xargs printf '%.2f')
  hi=$(cut -d' ' -f1 "$f" | sort -g | tail -n 1 | xargs printf '%.2f')
  rate=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  [[ $name == mailkeep-again ]] && rate="-"  # nothing transferred: a rate would mislead
  is_invalid "$name" && label="$label INVALID"
  printf '%-36s %8s %10.2f %13s %9s %10.2f %12.1f\n' "$label" "$msgs" "$wall" "$lo-$hi" "$rate" "$cpu" \
    "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
}
row mailkeep "mailkeep sync (fresh archive)"
row mailkeep-again "mailkeep sync (again, nothing new)"
row mpop "mpop $(mpop --version | sed -n '1s/^mpop version //p')"
label="getmail $(getmail --version | sed 's/^getmail //')"
[[ ${getmail_cmd[0]} == taskset ]] && label="$label (1 CPU)"
row getmail "$label"

echo
echo "stored size (du -sb), last run:"
server=$(find "$DOVECOT_DIR/mail/$user/Maildir/new" "$DOVECOT_DIR/mail/$user/Maildir/cur" -type f -printf '%s\n' |
  awk '{ s += $1 } END { print s }')
distinct=$("$mailkeep" --archive "$work/archive" --json stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["messages"])')
printf '  %-40s %s\n' "messages on the server (files only)" "$(mb "$server")"
printf '  %-40s %s  (%s distinct messages; %s)\n' "mailkeep archive (packs+catalog+index)" "$(mb "$(size "$work/archive")")" \
  "$distinct" "$(cd "$work/archive" && du -sb -- * | awk '{ printf "%s%s %.1f MB", sep, $2, $1 / 1e6; sep = ", " }')"
printf '  %-40s %s\n' "mpop Maildir" "$(mb "$(size "$work/mpop-maildir")")"
printf '  %-40s %s\n' "getmail Maildir" "$(mb "$(size "$work/getmail-maildir")")"

if [[ ${#invalid[@]} -gt 0 ]]; then
  error "some runs did not get every message: ${invalid[*]} (see above); those timings are invalid"
  exit 1
fi

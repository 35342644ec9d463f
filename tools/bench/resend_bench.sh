#!/usr/bin/env bash
# resend_bench.sh [--rounds N] [--messages N] [--check N] [--perf] [--postfix] [--keep]
#
# Side-by-side SMTP sending benchmark for `mailkeep resend` (not a test, not
# in CI). The same N real messages (default 1,000: the first ones of the
# linux-mips list archive, split from its mboxrd and checked against its
# manifest by mboxrd_split.py) are imported into a fresh archive
# (`mailkeep import --no-index`), exported as .eml files
# (`mailkeep export --format eml`), and sent by each tool, one tool at a
# time, to the same receiver: Postfix's smtp-sink on 127.0.0.1 (a fresh one
# for every run, on a free port; it takes and discards mail, offers
# PIPELINING, 8BITMIME, DSN, ENHANCEDSTATUSCODES; no TLS, no AUTH: -a).
# Contenders, all with the same envelope (MAIL FROM:<sender@example.test>,
# RCPT TO:<bench@example.test>) and the same EHLO name:
#   1. mailkeep resend '*' --relay sink   one SMTP session for all messages,
#                    MAIL/RCPT/DATA pipelined; reads each message from its
#                    compressed packs and records every attempt in the
#                    catalog (one SQLite commit, fsync'd, per message) -
#                    measured as it is; its archive is restored from an
#                    untimed copy before each run, so every run starts with
#                    an empty sends table
#   2. python3 smtplib   one session for all messages, no PIPELINING
#                    (smtplib waits for each reply): the fair "one
#                    connection" peer; line ends made CRLF as mailkeep does
#   3. msmtp         one process and one session per message (it pipelines
#                    within the session), from a shell loop; it is told not
#                    to add From/Date/Message-ID or remove Bcc, so it sends
#                    the file as it is. It writes every line with its own
#                    send() on a socket without TCP_NODELAY, so its final
#                    "." waits for the receiver's delayed ACK (~40 ms on
#                    Linux): that, not CPU, bounds its rate here
#   4. swaks         one perl process and session per message (--pipeline),
#                    from a shell loop; it gets the files already in wire
#                    form (CRLF, dot-stuffed, final "."; made untimed) with
#                    --no-data-fixup, because its own fix-up rewrites
#                    headers and turns every literal "\n" (C code in patches)
#                    into a line break
# Each tool runs R times (default 3), interleaved round by round so that
# load from other users of the machine spreads over all tools alike. Not a
# contender, for scale: `mailkeep resend --dry-run` (opens the archive,
# resolves the query, builds each envelope; reads, sends and records
# nothing). Diagnostic, when /dev/shm is a tmpfs: the same mailkeep resend
# with its archive there, where fsync costs nothing; the gap to row 1 is
# the cost of the per-message catalog commits on the work directory's disk.
#
# A run counts only when smtp-sink's own counter (-c: "mesg=") shows every
# message received and the tool reported success (mailkeep: its JSON says
# N accepted, 0 deferred/failed; the others: exit status 0); otherwise it
# prints an ERROR, the row is marked INVALID and the script exits 1.
#
# Prints: the load average at the start and at the end (a warning above 1.5:
# the machine is shared and the figures are then inflated), and a table of
# messages received (the lowest of the runs), wall seconds (median and
# range), messages/s (from the median), user+sys CPU seconds of the client
# (median; /usr/bin/time, children included, smtp-sink not counted) and peak
# RSS.
# Then, untimed diagnostics:
#   - one more mailkeep run under `strace -f -c -w`: fsync/fdatasync calls
#     and the seconds spent in them (the per-message catalog commits), next
#     to the same run's wall time (strace slows the run somewhat);
#   - with --perf, one more under `perf record -g` (the top of
#     `perf report --no-children` is printed; perf.data is kept with --keep);
#   - a byte check (--check N, default 100; 0 = off): each tool sends the
#     first N messages plus every message with a line starting with ".", a
#     bare CR, or no final line end, to the aiosmtpd test receiver
#     (tests/servers/smtp_receiver.py, which stores DATA byte-exact), and
#     the received bodies are compared with the exported files (line ends
#     made CRLF): "identical" shows whether every tool sent the same bytes.
#     Needs /usr/bin/python3 with aiosmtpd; skipped with a note otherwise.
#
# --postfix adds a second, realistic table (after the first; R rounds too):
# the same contenders against a private Postfix 3.7 (tests/servers/postfix.sh:
# STARTTLS with the test CA's certificate checked, AUTH PLAIN as alice,
# queue on disk, delivery over LMTP into a Dovecot), RCPT TO:<alice@
# example.test>. The timed part ends when the client has Postfix's last
# reply (queued); then, untimed, the script waits for the queue to empty and
# counts what Dovecot got (messages received = delivered into alice's INBOX).
# Here msmtp and swaks pay a TLS handshake and a login per message.
#
# --messages N sends N messages instead of 1,000 (1 <= N <= 18,091, the
# first mbox). Corpus: $MAILKEEP_CORPUS (default ../shared/corpus next to
# the repository). MAILKEEP=path selects the binary (default
# build/tools/mailkeep). --keep keeps the work directory (its path is
# printed) with logs, receiver output, the strace summary and perf data.
# Needs smtp-sink (postfix), msmtp, swaks, python3, zstd, /usr/bin/time and
# ss (iproute2); exits 77 with "SKIP: reason" when one (or the corpus) is
# missing. As root, smtp-sink runs with -u nobody.
#
# Example: tools/bench/resend_bench.sh --rounds 3 --perf --postfix --keep
# (about 16 minutes on 2 CPUs, most of it msmtp and swaks; 5 without --postfix).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2p' "${BASH_SOURCE[0]}" | sed 's/^# /usage: /' >&2; exit 2; }
rounds=3 count=1000 check=100 perf=0 postfix=0 keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds | --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; rounds=$2; shift 2 ;;
    --messages) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; count=$2; shift 2 ;;
    --check) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; check=$2; shift 2 ;;
    --perf) perf=1; shift ;;
    --postfix) postfix=1; shift ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done
[[ $count -le 18091 ]] || { echo "resend_bench: --messages N needs N <= 18091" >&2; exit 2; }

# repo, mailkeep, corpus, skip, error, measure, fail_run, invalid,
# is_invalid, median: bench_lib.sh (its Dovecot helpers are not used here).
# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$here/bench_lib.sh"

# --- Preconditions -----------------------------------------------------------
sink_bin=$(command -v smtp-sink || true)
[[ -z $sink_bin && -x /usr/sbin/smtp-sink ]] && sink_bin=/usr/sbin/smtp-sink
[[ -n $sink_bin ]] || skip "smtp-sink is not installed (apt-get install postfix)"
command -v msmtp >/dev/null || skip "msmtp is not installed (apt-get install msmtp)"
command -v swaks >/dev/null || skip "swaks is not installed (apt-get install swaks)"
command -v zstd >/dev/null || skip "zstd is not installed"
command -v ss >/dev/null || skip "ss is not installed (apt-get install iproute2)"
[[ -x /usr/bin/time ]] || skip "/usr/bin/time is not installed (apt-get install time)"
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3 || true)
[[ -n $py ]] || skip "python3 is not installed"
[[ -x $mailkeep ]] || { echo "resend_bench: no mailkeep binary at $mailkeep (build it, or set MAILKEEP)" >&2; exit 2; }
mbox="$corpus/linux-mips-list-archive/linux-mips-1996-2004.mboxrd.zst"
[[ -f $mbox ]] || skip "the linux-mips archive is not here ($mbox; set MAILKEEP_CORPUS)"
sink_user=()
[[ $EUID -eq 0 ]] && sink_user=(-u nobody)  # smtp-sink refuses to run as root without -u

sender=sender@example.test rcpt=bench@example.test helo=bench.example.test
export BENCH_SENDER=$sender BENCH_RCPT=$rcpt BENCH_HELO=$helo

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at start: $load_start ($(nproc) CPUs)"

# --- Work directory and receivers ---------------------------------------------
work=$(mktemp -d /tmp/mailkeep-resend-bench.XXXXXX)
chmod 755 "$work"  # smtp-sink runs as nobody; the byte-check receiver too may need to read it
receivers=()       # PIDs of the receivers this script started and has not stopped
cleanup() {
  local p
  for p in "${receivers[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [[ ${pf_started:-0} -eq 1 ]]; then
    postfix_stop || true
    dovecot_stop || true
  fi
  [[ -n ${shm:-} ]] && rm -rf "$shm"
  if [[ $keep -eq 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # through the EXIT trap: receivers stopped, directory removed
forget_receiver() {  # forget_receiver PID: stopped; no longer for cleanup
  local p rest=()
  for p in "${receivers[@]}"; do [[ $p == "$1" ]] || rest+=("$p"); done
  receivers=("${rest[@]}")
}

# A free TCP port on 127.0.0.1 (bound and released; smtp-sink takes it next).
free_port() {
  "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sink_start NAME: a fresh smtp-sink; sets SINK_PORT and SINK_PID, its
# counter output goes to $work/NAME.sink. smtp-sink binds with SO_REUSEPORT
# (two of them can listen on one port and share the connections), so the
# script checks that its sink is the only listener, else takes another port.
sink_start() {
  local name=$1 attempt i
  for ((attempt = 0; attempt < 5; attempt++)); do
    SINK_PORT=$(free_port)
    "$sink_bin" -c -a -h sink.example.test "${sink_user[@]}" "127.0.0.1:$SINK_PORT" 256 \
      >"$work/$name.sink" 2>&1 &
    SINK_PID=$!
    receivers+=("$SINK_PID")
    for ((i = 0; i < 100; i++)); do
      [[ -n $(ss -ltnH "sport = :$SINK_PORT") ]] && break
      kill -0 "$SINK_PID" 2>/dev/null || break
      sleep 0.02
    done
    local listeners
    listeners=$(ss -ltnpH "sport = :$SINK_PORT")
    if [[ $(grep -c . <<<"$listeners") -eq 1 && $listeners == *"pid=$SINK_PID,"* ]]; then
      export BENCH_PORT=$SINK_PORT  # the shell loops of msmtp and swaks read it
      return 0
    fi
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
    forget_receiver "$SINK_PID"
  done
  error "smtp-sink did not start on a port of its own; its output:"
  cat "$work/$name.sink" >&2
  exit 1
}
# sink_stop NAME: stops the sink, prints how many messages it received (the
# last "mesg=" of its -c counter; it counts a message when it reads the
# final ".", before it answers 250, so the count is complete once the
# client has its last reply).
sink_stop() {
  local name=$1 got
  kill "$SINK_PID" 2>/dev/null || true
  wait "$SINK_PID" 2>/dev/null || true
  forget_receiver "$SINK_PID"
  got=$(tr '\r' '\n' <"$work/$name.sink" | grep -o 'mesg=[0-9]*' | tail -n 1 | cut -d= -f2)
  echo "${got:-0}"
}

# --- Messages: split, import, export -------------------------------------------
echo "splitting the first $count messages of $(basename "$mbox") ..."
"$py" "$here/mboxrd_split.py" "$work/msgs" "$count" "$mbox"
mk=("$mailkeep" --archive "$work/archive" --config "$work/mailkeep.ini")  # an array: /usr/bin/time runs it
"$mailkeep" --archive "$work/archive0" init >/dev/null
"$mailkeep" --archive "$work/archive0" -q import --no-index "$work/msgs"
"$mailkeep" --archive "$work/archive0" -q export --format eml --out "$work/eml"
rm -rf "$work/msgs"
# Exported as ID.eml; every tool sends them in ID order, as mailkeep does.
mapfile -t files < <(find "$work/eml" -name '*.eml' -printf '%f\n' | sort -n | sed "s|^|$work/eml/|")
n=${#files[@]}
stored=$("$mailkeep" --archive "$work/archive0" --json stats |
  "$py" -c 'import json, sys; print(json.load(sys.stdin)["messages"])')
[[ $n -eq $count && $stored -eq $count ]] ||
  { error "expected $count messages, the archive has $stored and the export $n (duplicates?)"; exit 1; }
bytes=$(cat "${files[@]}" | wc -c)
printf '%s\n' "${files[@]}" >"$work/files.txt"

# swaks's input: each file in wire form (line ends CRLF, dot-stuffed, ending
# with CRLF "."; swaks adds the last CRLF), sent with --no-data-fixup.
mkdir -p "$work/wire"
"$py" - "$work/files.txt" "$work/wire" <<'EOF'
import os, re, sys
eol = re.compile(rb"\r\n|\r|\n")
for path in open(sys.argv[1]).read().split("\n"):
    if not path:
        continue
    data = eol.sub(b"\r\n", open(path, "rb").read())
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    data = re.sub(rb"(?m)^\.", b"..", data) + b"."
    with open(os.path.join(sys.argv[2], os.path.basename(path)), "wb") as f:
        f.write(data)
EOF
wire=()
for f in "${files[@]}"; do wire+=("$work/wire/$(basename "$f")"); done

# python3 smtplib: one session, every file; exits non-zero on any refusal.
cat >"$work/smtplib_send.py" <<'EOF'
import os, re, smtplib, sys
port, listfile = int(sys.argv[1]), sys.argv[2]
sender, rcpt, helo = os.environ["BENCH_SENDER"], os.environ["BENCH_RCPT"], os.environ["BENCH_HELO"]
eol = re.compile(rb"\r\n|\r|\n")
sent = 0
with smtplib.SMTP("127.0.0.1", port, local_hostname=helo) as s:
    if os.environ.get("BENCH_TLS_CA"):  # --postfix: STARTTLS, certificate checked, then AUTH
        import ssl
        s.starttls(context=ssl.create_default_context(cafile=os.environ["BENCH_TLS_CA"]))
        s.login(os.environ["BENCH_USER"], os.environ["BENCH_PASSWORD"])
    for path in open(listfile).read().split("\n"):
        if not path:
            continue
        with open(path, "rb") as f:
            data = eol.sub(b"\r\n", f.read())  # smtplib dot-stuffs bytes but leaves line ends alone
        s.sendmail(sender, [rcpt], data)      # raises on any refusal
        sent += 1
print(sent, "sent")
EOF

# mailkeep's relay; the port is that of the current sink.
write_mailkeep_ini() {  # write_mailkeep_ini PORT
  cat >"$work/mailkeep.ini" <<EOF
hello_name = $helo

[relay.sink]
host = 127.0.0.1
port = $1
tls = none
EOF
}
resend=(resend '*' --to "$rcpt" --from "$sender" --relay sink)

# --- Runs ------------------------------------------------------------------------
# check_received NAME ROUND GOT: records GOT; a run with fewer is invalid.
check_received() {
  echo "$3" >>"$work/$1.received"
  [[ $3 -eq $n ]] || fail_run "$1" "$2" "smtp-sink received $3 of $n messages"
}

# run_mailkeep ROUND [NAME DIR]: the archive restored into DIR (default
# $work/archive), then one resend of everything.
run_mailkeep() {
  local r=$1 name=${2:-mailkeep} dir=${3:-$work/archive} got summary
  rm -rf "$dir"
  cp -a "$work/archive0" "$dir"
  sink_start "$name"
  write_mailkeep_ini "$SINK_PORT"
  if measure "$name" "$mailkeep" --archive "$dir" --config "$work/mailkeep.ini" --json "${resend[@]}"; then
    summary=$("$py" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["accepted"], d["deferred"], d["failed"])' "$work/$name.log" 2>/dev/null || echo "bad JSON")
    [[ $summary == "$n 0 0" ]] || fail_run "$name" "$r" "accepted/deferred/failed: $summary"
  else
    fail_run "$name" "$r" "exit status $?"
  fi
  got=$(sink_stop "$name")
  check_received "$name" "$r" "$got"
}

run_dry() {
  rm -rf "$work/archive"
  cp -a "$work/archive0" "$work/archive"
  write_mailkeep_ini 25  # nothing connects
  measure mailkeep-dry "${mk[@]}" -q "${resend[@]}" --dry-run || fail_run mailkeep-dry "$1" "exit status $?"
}

run_python() {
  local r=$1 got
  sink_start python
  measure python "$py" "$work/smtplib_send.py" "$SINK_PORT" "$work/files.txt" ||
    fail_run python "$r" "exit status $?"
  got=$(sink_stop python)
  check_received python "$r" "$got"
}

run_msmtp() {
  local r=$1 got
  sink_start msmtp
  # shellcheck disable=SC2016  # expanded by the inner shell
  measure msmtp bash -c 'for f; do
      msmtp --host=127.0.0.1 --port="$BENCH_PORT" --domain="$BENCH_HELO" --from="$BENCH_SENDER" \
        --set-from-header=off --set-date-header=off --set-msgid-header=off --remove-bcc-headers=off \
        -- "$BENCH_RCPT" <"$f" || { echo "msmtp failed on $f" >&2; exit 1; }
    done' msmtp-loop "${files[@]}" || fail_run msmtp "$r" "exit status $?"
  got=$(sink_stop msmtp)
  check_received msmtp "$r" "$got"
}

run_swaks() {
  local r=$1 got
  sink_start swaks
  # shellcheck disable=SC2016  # expanded by the inner shell
  measure swaks bash -c 'for f; do
      swaks --server 127.0.0.1 --port "$BENCH_PORT" --helo "$BENCH_HELO" --from "$BENCH_SENDER" \
        --to "$BENCH_RCPT" --pipeline --no-data-fixup --data "@$f" --silent 2 ||
        { echo "swaks failed on $f" >&2; exit 1; }
    done' swaks-loop "${wire[@]}" || fail_run swaks "$r" "exit status $?"
  got=$(sink_stop swaks)
  check_received swaks "$r" "$got"
}

# Diagnostic, not a contender: the same resend with the archive on tmpfs,
# where fsync returns at once; the difference to the first row is what the
# per-message catalog commits cost on this disk.
shm=""
if [[ -d /dev/shm && $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]]; then
  shm=$(mktemp -d /dev/shm/mailkeep-resend-bench.XXXXXX)
fi

# Warm-up, untimed: reads the exported and wire files and the archive into
# the page cache, and loads every binary once.
cat "${files[@]}" "$work"/wire/*.eml >/dev/null
run_dry warm-up
rm -f "$work"/*.results "$work"/*.received

echo "$n messages, $((bytes / 1024)) KiB exported; $rounds round(s) of mailkeep, python smtplib, msmtp, swaks ..."
for ((r = 1; r <= rounds; r++)); do
  echo "round $r of $rounds ..."
  run_mailkeep "$r"
  run_python "$r"
  run_msmtp "$r"
  run_swaks "$r"
  run_dry "$r"
  [[ -n $shm ]] && run_mailkeep "$r" mailkeep-tmpfs "$shm/archive"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Report ------------------------------------------------------------------------
echo
echo "SMTP to smtp-sink on 127.0.0.1 (PIPELINING, 8BITMIME, DSN; no TLS, no AUTH): $n messages"
echo "($((bytes / 1024)) KiB; first $n of the linux-mips list archive), median of $rounds run(s) each"
echo "load average: $load_start at start, $load_end at end; $(nproc) CPUs"
# load_warning LOADAVG...: a warning when a 1-minute load average is above 1.5.
load_warning() {
  local l
  for l in "$@"; do
    if awk -v l="${l%% *}" 'BEGIN { exit !(l > 1.5) }'; then
      echo "WARNING: load average above 1.5: other work was running on this machine; the figures are inflated"
      return 0
    fi
  done
}
load_warning "$load_start" "$load_end"
printf '%-52s %8s %8s %13s %8s %10s %8s\n' tool received "wall s" "wall min-max" msgs/s "user+sys s" "RSS MB"
row() {  # row NAME LABEL: one table line from NAME.results (and NAME.received)
  local name=$1 label=$2 f=$work/$1.results
  local wall cpu rss lo hi rate got="-"
  wall=$(median "$f" 1) cpu=$(median "$f" 2) rss=$(median "$f" 3)
  lo=$(cut -d' ' -f1 "$f" | sort -g | head -n 1 | xargs printf '%.2f')
  hi=$(cut -d' ' -f1 "$f" | sort -g | tail -n 1 | xargs printf '%.2f')
  rate=$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')
  [[ -f $work/$name.received ]] && got=$(sort -n "$work/$name.received" | head -n 1)
  [[ $name == mailkeep-dry ]] && rate="-"  # nothing sent: a rate would mislead
  is_invalid "$name" && label="$label INVALID"
  printf '%-52s %8s %8.2f %13s %8s %10.2f %8.1f\n' "$label" "$got" "$wall" "$lo-$hi" "$rate" "$cpu" \
    "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
}
row mailkeep "mailkeep resend (1 session, pipelined, catalog)"
row python "python3 $("$py" -c 'import platform; print(platform.python_version())') smtplib (1 session, no pipelining)"
row msmtp "msmtp $(msmtp --version | sed -n '1s/^msmtp version //p') (1 process+session per message)"
row swaks "swaks $(swaks --version | sed -n '1s/^swaks version //p') (1 process+session per message)"
row mailkeep-dry "(not a contender) mailkeep resend --dry-run"
[[ -n $shm ]] && row mailkeep-tmpfs "(diagnostic) mailkeep resend, archive on tmpfs"

# --- Diagnostics (untimed) ---------------------------------------------------------
echo
if command -v strace >/dev/null; then
  rm -rf "$work/archive"
  cp -a "$work/archive0" "$work/archive"
  sink_start strace
  write_mailkeep_ini "$SINK_PORT"
  t0=$(date +%s%N)
  strace -f -c -w -o "$work/strace.txt" "${mk[@]}" -q "${resend[@]}" >/dev/null 2>"$work/strace.err" || true
  t1=$(date +%s%N)
  got=$(sink_stop strace)
  awk -v wall=$((t1 - t0)) -v n="$n" -v got="$got" '
    $NF == "fsync" || $NF == "fdatasync" { calls += $4; secs += $2 }
    $NF == "pwrite64" || $NF == "write" { wcalls += $4 }
    $NF == "fcntl" { locks += $4 }
    END {
      printf "catalog cost, mailkeep resend under strace -f -c -w (%d of %d received): %d fsync/fdatasync calls (%.2f per message),\n", got, n, calls, calls / n
      printf "  %.2f s in them of %.2f s wall (%.0f%%; strace slows the run); %d pwrite/write, %d fcntl (SQLite locks) calls\n", secs, wall / 1e9, 100 * secs / (wall / 1e9), wcalls, locks
    }' "$work/strace.txt"
else
  echo "(strace is not installed: no fsync count)"
fi

if [[ $perf -eq 1 ]]; then
  if command -v perf >/dev/null; then
    rm -rf "$work/archive"
    cp -a "$work/archive0" "$work/archive"
    sink_start perf
    write_mailkeep_ini "$SINK_PORT"
    if perf record -q -g -o "$work/perf.data" -- "${mk[@]}" -q "${resend[@]}" >/dev/null 2>"$work/perf.err"; then
      perf report -i "$work/perf.data" --no-children --stdio --sort dso,symbol -g none 2>/dev/null |
        grep '%' | grep -v '^#' | sed 's/[ -]*$//' | head -n 25 >"$work/perf.txt" || true
      echo "perf record -g of one mailkeep run (on-CPU samples only; time waiting for fsync is not in it), top symbols:"
      sed 's/^/  /' "$work/perf.txt"
    else
      echo "(perf record failed: $(tail -n 1 "$work/perf.err"))"
    fi
    sink_stop perf >/dev/null
  else
    echo "(perf is not installed: no profile)"
  fi
fi

# --- Optional: a realistic receiver, Postfix with STARTTLS and AUTH ---------------
postfix_bench() {
  # shellcheck source-path=SCRIPTDIR/../.. source=tests/servers/postfix.sh
  source "$repo/tests/servers/postfix.sh"
  local reason
  if reason=$(postfix_skip_reason); then
    echo "(--postfix skipped: $reason)"
    return 0
  fi
  pf_started=1
  dovecot_start "$work/dovecot" >/dev/null || { error "Dovecot did not start"; exit 1; }
  postfix_start "$work/postfix" >/dev/null || { error "Postfix did not start"; exit 1; }
  local user=alice pass=$DOVECOT_ALICE_PASSWORD to=alice@example.test
  cat >"$work/mailkeep-pf.ini" <<EOF
hello_name = $helo

[relay.postfix]
host = 127.0.0.1
port = $POSTFIX_PORT
tls = starttls
ca_file = $POSTFIX_CA
user = $user
password_env = BENCH_PASSWORD
EOF
  cat >"$work/msmtprc" <<EOF
account pf
host 127.0.0.1
port $POSTFIX_PORT
domain $helo
from $sender
tls on
tls_starttls on
tls_trust_file $POSTFIX_CA
auth plain
user $user
password $pass
set_from_header off
set_date_header off
set_msgid_header off
remove_bcc_headers off
EOF
  chmod 600 "$work/msmtprc"
  export BENCH_PASSWORD=$pass BENCH_USER=$user BENCH_PF_RCPT=$to BENCH_PF_PORT=$POSTFIX_PORT \
    BENCH_PF_CA=$POSTFIX_CA BENCH_MSMTPRC=$work/msmtprc
  pf_before=0
  local r summary pf_load_start pf_load_end
  echo
  echo "--postfix: Postfix $(postconf -h mail_version 2>/dev/null) on 127.0.0.1:$POSTFIX_PORT (STARTTLS, AUTH), delivering to Dovecot over LMTP ..."
  pf_load_start=$(cut -d' ' -f1-3 /proc/loadavg)
  for ((r = 1; r <= rounds; r++)); do
    echo "round $r of $rounds ..."
    rm -rf "$work/archive"
    cp -a "$work/archive0" "$work/archive"
    if measure pf-mailkeep "$mailkeep" --archive "$work/archive" --config "$work/mailkeep-pf.ini" --json \
      resend '*' --to "$to" --from "$sender" --relay postfix; then
      summary=$("$py" -c 'import json, sys; d = json.load(open(sys.argv[1]))
print(d["accepted"], d["deferred"], d["failed"])' "$work/pf-mailkeep.log" 2>/dev/null || echo "bad JSON")
      [[ $summary == "$n 0 0" ]] || fail_run pf-mailkeep "$r" "accepted/deferred/failed: $summary"
    else
      fail_run pf-mailkeep "$r" "exit status $?"
    fi
    pf_received pf-mailkeep "$r"

    BENCH_RCPT=$to BENCH_TLS_CA=$POSTFIX_CA measure pf-python "$py" "$work/smtplib_send.py" "$POSTFIX_PORT" \
      "$work/files.txt" || fail_run pf-python "$r" "exit status $?"
    pf_received pf-python "$r"

    # shellcheck disable=SC2016  # expanded by the inner shell
    measure pf-msmtp bash -c 'for f; do
        msmtp -C "$BENCH_MSMTPRC" -a pf -- "$BENCH_PF_RCPT" <"$f" || { echo "msmtp failed on $f" >&2; exit 1; }
      done' msmtp-loop "${files[@]}" || fail_run pf-msmtp "$r" "exit status $?"
    pf_received pf-msmtp "$r"

    # shellcheck disable=SC2016  # expanded by the inner shell
    measure pf-swaks bash -c 'for f; do
        swaks --server 127.0.0.1 --port "$BENCH_PF_PORT" --helo "$BENCH_HELO" --from "$BENCH_SENDER" \
          --to "$BENCH_PF_RCPT" --tls --tls-verify --tls-ca-path "$BENCH_PF_CA" \
          --auth PLAIN --auth-user "$BENCH_USER" --auth-password "$BENCH_PASSWORD" \
          --pipeline --no-data-fixup --data "@$f" --silent 2 || { echo "swaks failed on $f" >&2; exit 1; }
      done' swaks-loop "${wire[@]}" || fail_run pf-swaks "$r" "exit status $?"
    pf_received pf-swaks "$r"
  done
  pf_load_end=$(cut -d' ' -f1-3 /proc/loadavg)
  echo
  echo "SMTP to Postfix $(postconf -h mail_version 2>/dev/null) on 127.0.0.1 (STARTTLS, AUTH PLAIN, queue, LMTP to Dovecot):"
  echo "$n messages, median of $rounds run(s) each; received = delivered into the Dovecot mailbox"
  echo "load average: $pf_load_start at start, $pf_load_end at end"
  load_warning "$pf_load_start" "$pf_load_end"
  printf '%-52s %8s %8s %13s %8s %10s %8s\n' tool received "wall s" "wall min-max" msgs/s "user+sys s" "RSS MB"
  row pf-mailkeep "mailkeep resend (1 session, pipelined, catalog)"
  row pf-python "python3 smtplib (1 session, no pipelining)"
  row pf-msmtp "msmtp (1 process+session+TLS+AUTH per message)"
  row pf-swaks "swaks (1 process+session+TLS+AUTH per message)"
  postfix_stop || true
  dovecot_stop || true
  pf_started=0
}
# pf_received NAME ROUND: waits (untimed) for Postfix's queue to empty, then
# checks that Dovecot got every message of the run.
pf_received() {
  local i left now got
  for ((i = 0; i < 3000; i++)); do
    left=$(find "$POSTFIX_DIR/queue/maildrop" "$POSTFIX_DIR/queue/incoming" "$POSTFIX_DIR/queue/active" \
      "$POSTFIX_DIR/queue/deferred" -type f 2>/dev/null | wc -l)
    [[ $left -eq 0 ]] && break
    sleep 0.1
  done
  now=$(dovecot_count alice)
  got=$((now - pf_before))
  pf_before=$now
  check_received "$1" "$2" "$got"
  [[ $left -eq 0 ]] || error "$1, run $2: $left messages still in Postfix's queue after 300 s"
}
[[ $postfix -eq 1 ]] && postfix_bench

# Byte check: the same selected messages from every tool to the aiosmtpd
# receiver, which stores each DATA byte-exact.
receiver="$repo/tests/servers/smtp_receiver.py"
if [[ $check -eq 0 ]]; then
  :
elif ! /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || [[ ! -f $receiver ]]; then
  echo "(byte check skipped: needs /usr/bin/python3 with aiosmtpd (python3-aiosmtpd) and $receiver)"
else
  "$py" - "$work/files.txt" "$check" "$work/check-files.txt" "$work/check-expected.txt" <<'EOF'
import hashlib, re, sys
paths = [p for p in open(sys.argv[1]).read().split("\n") if p]
first = int(sys.argv[2])
eol = re.compile(rb"\r\n|\r|\n")
chosen = []
for i, p in enumerate(paths):
    d = open(p, "rb").read()
    odd = re.search(rb"(?m)^\.", d) or re.search(rb"\r(?!\n)", d) or not d.endswith(b"\n")
    if i < first or odd:
        chosen.append(p)
with open(sys.argv[3], "w") as f:
    f.write("".join(p + "\n" for p in chosen))
with open(sys.argv[4], "w") as f:
    for p in chosen:
        d = eol.sub(b"\r\n", open(p, "rb").read())
        if not d.endswith(b"\r\n"):
            d += b"\r\n"
        f.write(hashlib.sha256(d).hexdigest() + "\n")
EOF
  mapfile -t chk < <(cat "$work/check-files.txt")
  ids=()
  for f in "${chk[@]}"; do ids+=("$(basename "$f" .eml)"); done
  # check_start NAME: the receiver in $work/check-NAME; sets CHECK_PORT.
  check_start() {
    local d=$work/check-$1 i
    /usr/bin/python3 "$receiver" --dir "$d" >"$d.log" 2>&1 &
    CHECK_PID=$!
    receivers+=("$CHECK_PID")
    for ((i = 0; i < 200; i++)); do
      [[ -s $d/port ]] && break
      sleep 0.05
    done
    [[ -s $d/port ]] || { error "the byte-check receiver did not start:"; cat "$d.log" >&2; exit 1; }
    CHECK_PORT=$(cat "$d/port")
    export BENCH_PORT=$CHECK_PORT
  }
  check_stop() {
    kill "$CHECK_PID" 2>/dev/null || true
    wait "$CHECK_PID" 2>/dev/null || true
    forget_receiver "$CHECK_PID"
  }
  # check_result NAME LABEL: compares the received bodies with the expected ones.
  check_result() {
    "$py" - "$work/check-$1" "$work/check-expected.txt" "$2" <<'EOF'
import collections, glob, hashlib, sys
got = collections.Counter(hashlib.sha256(open(p, "rb").read()).hexdigest()
                          for p in glob.glob(sys.argv[1] + "/*.eml"))
want = collections.Counter(l.strip() for l in open(sys.argv[2]) if l.strip())
same = sum((got & want).values())
total = sum(want.values())
note = "" if same == total and sum(got.values()) == total else \
    f"  <- {sum(got.values())} received, {total - same} differ from the exported bytes"
print(f"  {sys.argv[3]:<12} {same:>5} of {total} identical{note}")
EOF
  }
  echo
  echo "byte check: ${#chk[@]} messages (the first $check, plus every one with a leading dot, a bare CR"
  echo "or no final line end) from each tool to tests/servers/smtp_receiver.py, compared with the export:"
  check_start mailkeep
  rm -rf "$work/archive"
  cp -a "$work/archive0" "$work/archive"
  write_mailkeep_ini "$CHECK_PORT"
  "${mk[@]}" -q resend "${ids[@]}" --to "$rcpt" --from "$sender" --relay sink >/dev/null 2>&1 || true
  check_stop
  check_result mailkeep mailkeep
  check_start python
  "$py" "$work/smtplib_send.py" "$CHECK_PORT" "$work/check-files.txt" >/dev/null 2>&1 || true
  check_stop
  check_result python "python3"
  check_start msmtp
  for f in "${chk[@]}"; do
    msmtp --host=127.0.0.1 --port="$CHECK_PORT" --domain="$helo" --from="$sender" \
      --set-from-header=off --set-date-header=off --set-msgid-header=off --remove-bcc-headers=off \
      -- "$rcpt" <"$f" >/dev/null 2>&1 || true
  done
  check_stop
  check_result msmtp msmtp
  check_start swaks
  for f in "${chk[@]}"; do
    swaks --server 127.0.0.1 --port "$CHECK_PORT" --helo "$helo" --from "$sender" --to "$rcpt" --pipeline \
      --no-data-fixup --data "@$work/wire/$(basename "$f")" --silent 3 >/dev/null 2>&1 || true
  done
  check_stop
  check_result swaks swaks
fi

if [[ ${#invalid[@]} -gt 0 ]]; then
  error "some runs did not deliver every message: $(printf '%s\n' "${invalid[@]}" | sort -u | xargs)" \
    "(see above); those timings are invalid"
  exit 1
fi

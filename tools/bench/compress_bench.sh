#!/usr/bin/env bash
# compress_bench.sh [--runs R] [--keep]
#
# IMAP COMPRESS=DEFLATE benchmark (not a test, not in CI): a first
# `mailkeep sync` of the same mailbox with compress = yes and compress =
# no, against a real Dovecot on 127.0.0.1 that offers COMPRESS=DEFLATE
# (tests/servers/dovecot.sh with DOVECOT_IMAP_COMPRESS=1), implicit TLS.
# Each run starts from a fresh archive; rows: the full sync (fetch, parse,
# store, index) and the same with --no-index (where the network part
# weighs more). R rounds (default 5); the order of the two modes alternates
# from round to round so that load from other users of the machine spreads
# over both. Prints wall time (median), user+sys CPU (median), peak RSS
# (median), the load average before each run, then the bytes Dovecot sent
# in one extra untimed sync per mode (its rawlog: what went on the wire,
# inside TLS). Loopback has no bandwidth limit, so this measures only the
# CPU price of compression; over a real network the fewer bytes are the
# point. Not measured: Dovecot's CPU (its deflate runs there).
#
# Mailbox: the SpamAssassin public corpus, part 1 (3,250 messages) from
# $MAILKEEP_CORPUS, one folder per corpus subdirectory as imap_bench.sh
# does (INBOX 2,500, HardHam 250, Spam 500), for two users alike: alice
# (compress = yes) and bob (compress = no).
# Needs what imap_bench.sh needs except mbsync. MAILKEEP=path selects the
# binary (default build/tools/mailkeep).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '2p' "${BASH_SOURCE[0]}" | sed 's/^# /usage: /' >&2; exit 2; }
runs=5 keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage ;;
  esac
done

# shellcheck source-path=SCRIPTDIR source=bench_lib.sh
source "$here/bench_lib.sh"
bench_common_preconditions
tarball="$corpus/spamassassin-public-corpus/spamassassin-20030228-part1.tar.zst"
[[ -f $tarball ]] || skip "the SpamAssassin corpus is not here ($tarball; set MAILKEEP_CORPUS)"

bench_workdir mailkeep-compress-bench
mkdir -p "$work/msgs"
tar --zstd -xf "$tarball" -C "$work/msgs"
export DOVECOT_IMAP_COMPRESS=1
dovecot_start "$work/dovecot" >/dev/null

folders=(INBOX HardHam Spam)
declare -A source_dir=([INBOX]=easy-ham-1 [HardHam]=hard-ham-1 [Spam]=spam-1)
n=0 seq=0 stamp=$(date +%s)
for user in alice bob; do
  n=0
  for f in "${folders[@]}"; do
    md=$DOVECOT_DIR/mail/$user/Maildir
    [[ $f == INBOX ]] || md=$md/.$f
    mkdir -p "$md"/{cur,new,tmp}
    mapfile -t files < <(find "$work/msgs/${source_dir[$f]}" -type f ! -name cmds ! -name '.*' -size +0 | sort)
    for file in "${files[@]}"; do
      seq=$((seq + 1))
      name="$((stamp + seq)).M${seq}P$$.mailkeep-bench"
      cp "$file" "$md/tmp/$name" && mv "$md/tmp/$name" "$md/new/$name"
    done
    n=$((n + ${#files[@]}))
  done
  chown -R nobody:nogroup "$DOVECOT_DIR/mail/$user"
done
rm -rf "$work/msgs"
echo "delivered $n messages to each of alice and bob (INBOX, HardHam, Spam); Dovecot offers COMPRESS=DEFLATE"

account() {  # account NAME USER COMPRESS
  cat <<EOF

[account.$1]
protocol = imap
host = $DOVECOT_HOST
port = $DOVECOT_IMAPS_PORT
tls = implicit
user = $2
password_env = BENCH_${2^^}_PASSWORD
ca_file = $DOVECOT_CA
compress = $3
EOF
}
{ account on alice yes; account off bob no; } >"$work/mailkeep.ini"
export BENCH_ALICE_PASSWORD=$DOVECOT_ALICE_PASSWORD BENCH_BOB_PASSWORD=$DOVECOT_BOB_PASSWORD

# one NAME ACCOUNT [--no-index]: a first sync into a fresh archive, timed;
# the load average before it goes to NAME.load.
one() {
  local name=$1 acct=$2; shift 2
  rm -rf "$work/archive"
  "$mailkeep" --archive "$work/archive" init >/dev/null
  cut -d' ' -f1 /proc/loadavg >>"$work/$name.load"
  measure "$name" "$mailkeep" --archive "$work/archive" --config "$work/mailkeep.ini" --json sync "$@" "$acct" ||
    fail_run "$name" "$r" "exit status $?"
  read -r ok listed fetched _ <<<"$(sync_report "$work/$name.log")"
  [[ $ok == True && $fetched -eq $n && $listed -eq $n ]] ||
    fail_run "$name" "$r" "fetched $fetched of $n (ok=$ok)"
}
for ((r = 1; r <= runs; r++)); do
  if ((r % 2)); then order=(on off); else order=(off on); fi
  for mode in "${order[@]}"; do one "$mode" "$mode"; done
  for mode in "${order[@]}"; do one "$mode-noindex" "$mode" --no-index; done
  echo "round $r of $runs done"
done

printf '\n%-34s %9s %9s %10s %s\n' "first sync, $n messages" "wall" "CPU" "peak RSS" "load before (each run)"
for name in on off on-noindex off-noindex; do
  case $name in
    on) label="compress = yes" ;;
    off) label="compress = no" ;;
    on-noindex) label="compress = yes, --no-index" ;;
    off-noindex) label="compress = no, --no-index" ;;
  esac
  is_invalid "$name" && label="$label INVALID"
  printf '%-34s %8.2fs %8.2fs %7d MB  %s\n' "$label" "$(median "$work/$name.results" 1)" \
    "$(median "$work/$name.results" 2)" $(($(median "$work/$name.results" 3) / 1024)) "$(tr '\n' ' ' <"$work/$name.load")"
done

# Bytes on the wire: one more (untimed) sync per mode with Dovecot's rawlog on.
dovecot_rawlog_on alice bob
r=rawlog
one wire-on on --no-index
one wire-off off --no-index
a_out=$(dovecot_rawlog_bytes alice out) b_out=$(dovecot_rawlog_bytes bob out)
printf '\nbytes after login (inside TLS): server -> client %s compressed, %s uncompressed (%.2f); client -> server %s / %s\n' \
  "$a_out" "$b_out" "$(awk -v a="$a_out" -v b="$b_out" 'BEGIN { print a / b }')" \
  "$(dovecot_rawlog_bytes alice in)" "$(dovecot_rawlog_bytes bob in)"
[[ ${#invalid[@]} -eq 0 ]] || exit 1

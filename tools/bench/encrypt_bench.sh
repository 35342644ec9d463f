#!/usr/bin/env bash
# encrypt_bench.sh [--no-index] [--runs N] [--files NAME] [--keep]: import
# speed of an encrypted archive against a plain one (issue 13: the encrypted
# import must reach >= 0.8 x the plain speed). Imports the linux-mips list
# archive (../shared/corpus; the three .mboxrd.zst files, 37,455 messages,
# or only linux-mips-NAME with --files NAME) into a fresh plain archive and a
# fresh encrypted one (`init --encrypt`, the default scrypt cost, passphrase
# from MAILKEEP_PASSPHRASE, index cache in the work directory), alternating,
# N times each (default 3). Prints each run, the median wall times, the
# speed ratio (plain time / encrypted time) and the load average before and
# after (the machine is shared: a ratio is only worth as much as the load
# was steady). --no-index: store only (parse, compress, seal, catalog).
# Not a test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
mailkeep=${MAILKEEP:-$root/build/tools/mailkeep}
corpus=${MAILKEEP_CORPUS:-$root/../shared/corpus}/linux-mips-list-archive
runs=3 keep=0 files='*' noindex=()
while (($#)); do
  case $1 in
    --no-index) noindex=(--no-index) ;;
    --runs) runs=${2:?}; shift ;;
    --files) files=${2:?}; shift ;;
    --keep) keep=1 ;;
    *) echo "usage: encrypt_bench.sh [--no-index] [--runs N] [--files NAME] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
[[ -x $mailkeep ]] || { echo "SKIP: build mailkeep first ($mailkeep)"; exit 77; }
mboxes=("$corpus"/linux-mips-$files.mboxrd.zst)
[[ -f ${mboxes[0]} ]] || { echo "SKIP: no linux-mips-$files.mboxrd.zst in $corpus"; exit 77; }
[[ -x /usr/bin/time ]] || { echo "SKIP: /usr/bin/time is not installed (apt-get install time)"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/encrypt-bench.XXXXXX")
if ((keep)); then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi
export MAILKEEP_PASSPHRASE="encrypt_bench passphrase" XDG_CACHE_HOME=$work/cache
cat "${mboxes[@]}" >/dev/null  # warm the page cache

# run KIND I: one import into a fresh archive; appends "KIND wall user+sys rss" to $work/rows.
run() {
  local kind=$1 dir=$work/$1-$2 t0 t1 u s m
  local init=(init)
  [[ $kind == encrypted ]] && init+=(--encrypt)
  rm -rf "$work/cache"
  "$mailkeep" --archive "$dir" "${init[@]}" >/dev/null
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$mailkeep" --archive "$dir" --json import "${noindex[@]}" "${mboxes[@]}" \
    >"$work/$kind-$2.json" 2>"$work/$kind-$2.err" || { tail -n 5 "$work/$kind-$2.err" >&2; echo "ERROR: $kind import failed" >&2; exit 1; }
  t1=$(date +%s%N)
  read -r u s m <"$work/time"
  n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["imported"])' "$work/$kind-$2.json")
  awk -v k="$kind" -v i="$2" -v w=$((t1 - t0)) -v u="$u" -v s="$s" -v m="$m" -v n="$n" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
    'BEGIN { printf "%-9s run %d: %d messages in %7.2f s (%6.0f msg/s), CPU %6.2f s, peak RSS %4d MB, load %s\n", k, i, n, w / 1e9, n / (w / 1e9), u + s, m / 1024, l }'
  echo "$kind $((t1 - t0))" >>"$work/rows"
  rm -rf "$dir"
}
median() { grep "^$1 " "$work/rows" | cut -d' ' -f2 | sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "import ${noindex[*]:-(with index)} of ${mboxes[*]##*/}, $runs runs each, alternating; $(nproc) cores"
: >"$work/rows"
for ((i = 1; i <= runs; i++)); do
  run plain "$i"
  run encrypted "$i"
done
p=$(median plain) e=$(median encrypted)
awk -v p="$p" -v e="$e" -v b="$load_before" -v a="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
  printf "median wall: plain %.2f s, encrypted %.2f s\n", p / 1e9, e / 1e9
  printf "encrypted speed / plain speed = %.3f (the acceptance asks >= 0.8)\n", p / e
  printf "load average (1/5/15 min): before %s, after %s\n", b, a
}'

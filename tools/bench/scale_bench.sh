#!/usr/bin/env bash
# scale_bench.sh [--copies N] [--keep]: the archive growing batch after batch
# to N (default 10) times the linux-mips list archive (37,455 messages,
# ../shared/corpus): copy k is every message again with its ids renamed
# (scale_copies.py), imported by its own `mailkeep import` into one archive.
# Printed per batch: messages in the archive, import wall time, rate and
# CPU time (user+sys), peak RSS, raw bytes so far, index and pack size and their ratio to raw;
# then search latency on the full archive (search_bench.sh). Not a test;
# run it on a quiet machine: every figure is one run. Needs about 12 GB
# of free space under TMPDIR at 10 copies.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
mailkeep=${MAILKEEP:-$root/build/tools/mailkeep}
corpus=${MAILKEEP_CORPUS:-$root/../shared/corpus}/linux-mips-list-archive
copies=10 keep=0
while (($#)); do
  case $1 in
    --copies) copies=${2:?--copies needs a number}; shift ;;
    --keep) keep=1 ;;
    *) echo "usage: scale_bench.sh [--copies N] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
[[ $copies =~ ^[1-9][0-9]?$ ]] || { echo "scale_bench: --copies takes 1 to 99" >&2; exit 2; }
[[ -x $mailkeep ]] || { echo "SKIP: build mailkeep first ($mailkeep)"; exit 77; }
[[ -d $corpus ]] || { echo "SKIP: the linux-mips corpus is not at $corpus"; exit 77; }
command -v zstd >/dev/null || { echo "SKIP: zstd is not installed"; exit 77; }
[[ -x /usr/bin/time ]] || { echo "SKIP: /usr/bin/time is not installed (apt-get install time)"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/scale-bench.XXXXXX")
if ((keep)); then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

mapfile -t mboxes < <(ls "$corpus"/*.mboxrd.zst | sort)
python3 "$here/mboxrd_split.py" "$work/base" 37455 "${mboxes[@]}" >/dev/null
"$mailkeep" --archive "$work/archive" init >/dev/null
size() { du -sb "$@" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%5s %9s %8s %8s %7s %8s %9s %9s %6s %9s %6s\n' \
  batch messages wall_s msgs/s cpu_s rss_MB raw_MB index_MB idx/raw packs_MB pk/raw
raw=0
for ((k = 1; k <= copies; k++)); do
  rm -rf "$work/batch"
  python3 "$here/scale_copies.py" "$work/base" "$work/batch" "$k"
  raw=$((raw + $(du -sb --apparent-size "$work/batch/cur" | cut -f1)))
  find "$work/batch/cur" -type f -exec cat {} + >/dev/null  # warm the page cache
  n=$(ls "$work/batch/cur" | wc -l)
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$mailkeep" --archive "$work/archive" import "$work/batch" \
    >"$work/import-$k.out" 2>"$work/import-$k.err" || {
    echo "ERROR: import of batch $k failed:" >&2
    tail -n 5 "$work/import-$k.err" >&2
    exit 1
  }
  read -r wall rss user sys <"$work/time"
  total=$("$mailkeep" --archive "$work/archive" search --count '*')
  index=$(size "$work/archive/xapian")
  packs=$(size "$work/archive/packs")
  awk -v k="$k" -v total="$total" -v n="$n" -v wall="$wall" -v rss="$rss" -v raw="$raw" \
    -v user="$user" -v sys="$sys" -v idx="$index" -v packs="$packs" 'BEGIN {
      printf "%5d %9d %8.1f %8.0f %7.1f %8.1f %9.0f %9.0f %6.3f %9.0f %6.3f\n",
        k, total, wall, n / wall, user + sys, rss / 1024, raw / 1e6, idx / 1e6, idx / raw, packs / 1e6, packs / raw }'
done
rm -rf "$work/batch" "$work/base"
echo "load average after imports: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
MAILKEEP=$mailkeep "$here/search_bench.sh" "$work/archive" 5
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

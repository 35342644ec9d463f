#!/usr/bin/env bash
# search_bench ARCHIVE [RUNS]: latency of 20 typical queries with
# `mailkeep search --format ids --limit 0`, RUNS times each (default 7),
# printing per-query median and the overall p50/p95 over all runs.
# Queries are written for the linux-mips list archive. Not a test.
set -euo pipefail
archive=${1:?usage: search_bench.sh ARCHIVE [RUNS]}
runs=${2:-7}
mailkeep=${MAILKEEP:-$(dirname "$0")/../../build/tools/mailkeep}
queries=(
  'from:ralf' 'from:linux-mips.org' 'to:linux-mips@linux-mips.org' 'subject:patch'
  'subject:"cache flush"' '"page fault"' 'kernel panic' 'date:2018' 'date:2003-06'
  'date:2010..2011 AND subject:mips' 'tlb AND NOT subject:patch' 'attachment:config'
  'has:attachment' 'mimetype:text/html' 'size:100k..' 'from:ralf AND date:..1999'
  'smp OR numa' 'subject:(octeon OR loongson)' 'irq date:2012' 'id:MWHPR2201MB12779EC83A14DD7DBC9049C2C1B20@MWHPR2201MB1277.namprd22.prod.outlook.com'
)
all=$(mktemp)
trap 'rm -f "$all"' EXIT
printf '%-48s %8s %10s\n' query hits median_ms
for q in "${queries[@]}"; do
  hits=$("$mailkeep" --archive "$archive" search --count "$q")
  times=()
  for ((r = 0; r < runs; r++)); do
    s=$(date +%s%N)
    "$mailkeep" --archive "$archive" search --format ids --limit 0 "$q" >/dev/null
    e=$(date +%s%N)
    t=$(( (e - s) / 1000 ))
    times+=("$t")
    echo "$t" >>"$all"
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  printf '%-48s %8s %10.1f\n' "$q" "$hits" "$(echo "$median / 1000" | bc -l)"
done
n=$(wc -l <"$all")
p50=$(sort -n "$all" | sed -n "$(( (n + 1) / 2 ))p")
p95=$(sort -n "$all" | sed -n "$(( (n * 95 + 99) / 100 ))p")
printf '\nall %d runs: p50 %.1f ms, p95 %.1f ms (process start included)\n' "$n" "$(echo "$p50 / 1000" | bc -l)" "$(echo "$p95 / 1000" | bc -l)"

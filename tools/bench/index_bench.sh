#!/usr/bin/env bash
# index_bench.sh [--no-peers] [--keep]: the linux-mips list archive (37,455
# messages, ../shared/corpus) archived and indexed side by side in one run:
#
#   mailkeep import            (parse, store, index) from a Maildir
#   mailkeep import --no-index (parse and store only)
#   mu index                   (mu 1.8, indexes the Maildir in place)
#   notmuch new                (notmuch 0.37, indexes the Maildir in place)
#
# Each job starts from nothing (a fresh archive / database) with a warm page
# cache. Printed per job: wall time, messages/s, user+sys CPU, peak RSS and
# what it keeps on disk; then mailkeep's store ratio (packs + catalog over
# raw bytes) and its search latency (search_bench.sh). Not a test; run it on
# a quiet machine: every figure is one run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
mailkeep=${MAILKEEP:-$root/build/tools/mailkeep}
corpus=${MAILKEEP_CORPUS:-$root/../shared/corpus}/linux-mips-list-archive
peers=1 keep=0
for a in "$@"; do
  case $a in
    --no-peers) peers=0 ;;
    --keep) keep=1 ;;
    *) echo "usage: index_bench.sh [--no-peers] [--keep]" >&2; exit 2 ;;
  esac
done
[[ -x $mailkeep ]] || { echo "SKIP: build mailkeep first ($mailkeep)"; exit 77; }
[[ -d $corpus ]] || { echo "SKIP: the linux-mips corpus is not at $corpus"; exit 77; }
command -v zstd >/dev/null || { echo "SKIP: zstd is not installed"; exit 77; }
if ((peers)); then
  for t in mu notmuch; do
    command -v $t >/dev/null || { echo "SKIP: $t is not installed (apt-get install maildir-utils notmuch, or --no-peers)"; exit 77; }
  done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/index-bench.XXXXXX")
if ((keep)); then echo "work directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

# The Maildir every tool reads: one file per message in cur/, the bytes
# checked against the corpus manifests.
mapfile -t mboxes < <(ls "$corpus"/*.mboxrd.zst | sort)
python3 "$here/mboxrd_split.py" "$work/msgs" 37455 "${mboxes[@]}" >/dev/null
mkdir -p "$work/Maildir/new" "$work/Maildir/tmp"
mv "$work/msgs" "$work/Maildir/cur"
n=$(ls "$work/Maildir/cur" | wc -l)
raw=$(du -sb --apparent-size "$work/Maildir/cur" | cut -f1)
cat "$work"/Maildir/cur/* >/dev/null  # warm the page cache

# run NAME COMMAND...: time one job; appends a row to $work/rows.
run() {
  local name=$1
  shift
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "ERROR: $name failed:" >&2
    tail -n 5 "$work/$name.err" >&2
    return 1
  }
  read -r wall user sys rss <"$work/time"
  printf '%s %s %s %s %s\n' "$name" "$wall" "$user" "$sys" "$rss" >>"$work/rows"
}
size_mb() { du -sb "$@" | awk '{s += $1} END {printf "%.0f", s / 1e6}'; }

: >"$work/rows"
"$mailkeep" --archive "$work/mk" init >/dev/null
run mailkeep "$mailkeep" --archive "$work/mk" import "$work/Maildir"
"$mailkeep" --archive "$work/mk-noindex" init >/dev/null
run mailkeep-noindex "$mailkeep" --archive "$work/mk-noindex" import --no-index "$work/Maildir"
if ((peers)); then
  export HOME=$work/home XDG_CACHE_HOME=$work/home/.cache
  mkdir -p "$HOME"
  mu init --quiet --maildir="$work/Maildir" --muhome="$work/mu" >/dev/null
  run mu mu index --quiet --muhome="$work/mu"
  printf '[database]\npath=%s\n[new]\ntags=inbox;\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=false\n' \
    "$work/Maildir" >"$work/notmuch-config"
  export NOTMUCH_CONFIG=$work/notmuch-config
  run notmuch notmuch new --quiet
fi

disk() {
  case $1 in
    mailkeep) echo "archive $(size_mb "$work/mk/packs" "$work/mk/catalog.sqlite") MB + index $(size_mb "$work/mk/xapian") MB" ;;
    mailkeep-noindex) echo "archive $(size_mb "$work/mk-noindex/packs" "$work/mk-noindex/catalog.sqlite") MB" ;;
    mu) echo "index $(size_mb "$work/mu") MB + the Maildir ($(size_mb "$work/Maildir/cur") MB)" ;;
    notmuch) echo "index $(size_mb "$work/Maildir/.notmuch") MB + the Maildir" ;;
  esac
}
label() {
  case $1 in
    mailkeep) echo "mailkeep import (store + index)" ;;
    mailkeep-noindex) echo "mailkeep import --no-index" ;;
    mu) echo "mu index ($(mu --version | head -n1 | awk '{print $NF}'))" ;;
    notmuch) echo "notmuch new ($(notmuch --version | awk '{print $2}'))" ;;
  esac
}

echo "linux-mips list archive: $n messages, $(awk -v r="$raw" 'BEGIN {printf "%.1f", r / 1e6}') MB raw;" \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %8s %10s %10s %9s  %s\n' job "wall s" messages/s "CPU s" "RSS MB" "on disk"
while read -r name wall user sys rss; do
  awk -v l="$(label "$name")" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v n="$n" -v d="$(disk "$name")" \
    'BEGIN {printf "%-34s %8.1f %10.0f %10.1f %9.0f  %s\n", l, w, n / w, u + s, r / 1024, d}'
done <"$work/rows"

packs=$(size_mb "$work/mk-noindex/packs")
catalog=$(du -sb "$work/mk-noindex/catalog.sqlite" | cut -f1)
pack_bytes=$(du -sb "$work/mk-noindex/packs" | cut -f1)
awk -v p="$pack_bytes" -v c="$catalog" -v r="$raw" \
  'BEGIN {printf "store: packs %.3f x raw + catalog %.3f x raw = %.3f x raw (%s MB)\n", p / r, c / r, (p + c) / r, int((p + c) / 1e6)}'
echo "packs: $packs MB"
bash "$here/search_bench.sh" "$work/mk" 5 | tail -n 3

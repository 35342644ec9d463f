#!/usr/bin/env bash
# Search as an attack surface (issue 11, item 9). On an archive whose index
# holds about 120,000 distinct words starting with "a", 500 x `a*` and a
# 4,000-word phrase end at once, exit 2, with one line saying what to
# narrow; each run has a 60 s deadline and a 2 GiB address-space limit, and
# its time and peak RSS (getrusage ru_maxrss, as /usr/bin/time's %M) are
# printed. Without the bounds (index/query.h), 10 x `a*` alone took 4 s and
# 700 MB here and 500 x `a*` ran past the deadline.
source "$(dirname "$0")/lib.sh"

# 3,000 messages of 40 random words "a" + 6 letters (fixed seed).
python3 - "$WORK/md" <<'PY'
import os, random, sys
out = sys.argv[1]
rng = random.Random(11)
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
for i in range(3000):
    words = ["a" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(40)]
    with open(os.path.join(out, "cur", f"{i}.gen:2,S"), "w") as f:
        f.write(f"From: sender{i % 50}@example.com\nTo: list@example.com\nSubject: {words[0]} {words[1]}\n"
                f"Message-ID: <m{i}@example.com>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n{' '.join(words)}\n")
PY
mk init >/dev/null
mk -q import "$WORK/md"

# bounded LABEL QUERY: `mailkeep search --count QUERY` under the deadline and
# the memory limit; sets STATUS (124 on the deadline), SECONDS_TAKEN, PEAK_KB
# and leaves stdout/stderr in $WORK/out and $WORK/err.
bounded() {
  local label=$1 query=$2 result
  result=$(python3 - "$MAILKEEP" "$ARCHIVE" "$query" "$WORK" <<'PY'
import resource, subprocess, sys, time
mailkeep, archive, query, work = sys.argv[1:5]
def limit():
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
start = time.monotonic()
with open(f"{work}/out", "wb") as out, open(f"{work}/err", "wb") as err:
    try:
        status = subprocess.run([mailkeep, "--archive", archive, "search", "--count", query],
                                stdout=out, stderr=err, timeout=60, preexec_fn=limit).returncode
    except subprocess.TimeoutExpired:  # the child is killed and reaped
        status = 124
print(status, f"{time.monotonic() - start:.2f}", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
  )
  read -r STATUS SECONDS_TAKEN PEAK_KB <<<"$result"
  echo "$label: exit $STATUS, $SECONDS_TAKEN s, peak RSS $PEAK_KB KB"
}

# refused LABEL QUERY PATTERN: exit 2 within 10 s and 256 MB, one line
# matching PATTERN.
refused() {
  bounded "$1" "$2"
  [[ $STATUS -eq 2 ]] || { cat "$WORK/err" >&2; fail "$1: exit $STATUS, expected 2 (124 = past the 60 s deadline)"; }
  [[ $(wc -l <"$WORK/err") -eq 1 ]] || { cat "$WORK/err" >&2; fail "$1: the error is not one line"; }
  grep -q -- "$3" "$WORK/err" || { cat "$WORK/err" >&2; fail "$1: the error does not say '$3'"; }
  awk -v s="$SECONDS_TAKEN" 'BEGIN { exit !(s < 10) }' || fail "$1: took $SECONDS_TAKEN s"
  [[ $PEAK_KB -lt 262144 ]] || fail "$1: peak RSS $PEAK_KB KB"
  cat "$WORK/err"
}

wildcards=$(python3 -c "print(' '.join(['a*'] * 500))")
refused "500 x a*" "$wildcards" 'wildcard "a\*" matches too many words in the index.*make it longer'

phrase=$(python3 -c "
import random
r = random.Random(1)
print('\"' + ' '.join('a' + ''.join(r.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(6)) for _ in range(4000)) + '\"')")
refused "4,000-word phrase" "$phrase" 'more than 100 words in the query; search for fewer words'

refused "101 words" "$(python3 -c "print(' '.join(['word'] * 101))")" 'more than 100 words'

# Within the bounds, searches still answer.
bounded "aab*" 'aab*'
[[ $STATUS -eq 0 && $(cat "$WORK/out") -gt 0 ]] || fail "aab* found nothing (exit $STATUS)"
words=$(sed -n '$p' "$WORK"/md/cur/7.gen:2,S)
bounded "a 40-word phrase of one message" "\"$words\""
expect_eq "$STATUS $(cat "$WORK/out")" "0 1" "40-word phrase"
echo "search limits: ok"

# make_repack_archive DIR [PACK_SIZE] (sourced by the repack crash and
# fault tests): an archive of 80 generated messages in batches of 10 over
# packs of PACK_SIZE bytes (default 3000: about a dozen packs), with a
# dictionary (trained after 64 messages on messages 0..69) and an index
# (ARCHIVE/xapian, 2 shards); then m20 and m50 are put under legal hold,
# and a real `mailkeep delete` of 9 messages removes 8 (m20 is held, so it
# stays): their rows go, a tombstone per message is appended, their bytes
# stay in the packs, and their index documents go but their words stay in
# the index's freed blocks (checked here: a grep finds them). Among them:
#   - one from the pack that holds the dictionary record (so that record
#     moves, and its repair file with it);
#   - m75, carrying $SECRET amid random bytes, stored literally (zstd keeps
#     literals amid random bytes raw), so a grep of the packs finds it
#     before a repack;
#   - m65, repeating $DICT_SECRET: it is one of the dictionary's training
#     samples, and the dictionary holds that text (checked here through
#     dictionary_text), so a repack must replace the dictionary
#     (store/PACK_FORMAT.md, "Dictionaries that may hold a removed message").
# Writes DIR.expected (the SHA-256 of the 72 messages that stay, sorted)
# and DIR.removed.
SECRET=zebra-quartz-7731-never-seen-elsewhere
DICT_SECRET=walrus-octave-5519-only-in-one-message
# The index keeps words, not the texts: words of the two texts that no
# message that stays has.
SECRET_WORDS=(zebra quartz walrus octave)
REMOVED_MIDS="m3 m75 m18 m40 m41 m42 m43 m65"
HELD_MIDS="m20 m50"

# dictionary_text DIR: the bytes of every dictionary record in DIR's packs,
# decompressed (kind 3 is a zstd frame; store/PACK_FORMAT.md, "Record").
dictionary_text() {
  python3 - "$1/packs" <<'PY'
import glob, struct, subprocess, sys
for path in sorted(glob.glob(sys.argv[1] + "/*.pack")):
    data = open(path, "rb").read()
    off = 0
    while off + 64 <= len(data):
        if data[off:off + 4] != b"\x89MKP":
            break
        kind = data[off + 5]
        stored_len, = struct.unpack_from("<I", data, off + 12)
        payload = data[off + 64:off + 64 + stored_len]
        if kind == 2:
            sys.stdout.buffer.write(payload)
        elif kind == 3:
            sys.stdout.buffer.write(subprocess.run(["zstd", "-dcq"], input=payload, capture_output=True, check=True).stdout)
        off += 64 + stored_len
PY
}

# grep -e for the removed texts and their words.
secret_patterns() {
  local w
  printf -- '-e\n%s\n-e\n%s\n' "$SECRET" "$DICT_SECRET"
  for w in "${SECRET_WORDS[@]}"; do printf -- '-e\n%s\n' "$w"; done
}

# The removed texts, and their words, are nowhere under DIR (packs, repair
# files, orphans, catalog and WAL, the index): not in any file, not in any
# dictionary (decompressed). Prints where they are; fails otherwise quietly.
removed_text_gone() {
  local dir=$1 found=0 patterns
  mapfile -t patterns < <(secret_patterns)
  if grep -rqa "${patterns[@]}" "$dir"; then
    echo "in $(grep -rla "${patterns[@]}" "$dir" | sed "s|$dir/||" | tr '\n' ' ')"
    found=1
  fi
  if dictionary_text "$dir" | grep -qa -e "$SECRET" -e "$DICT_SECRET"; then
    echo "in a dictionary"
    found=1
  fi
  return $found
}

make_repack_archive() {
  local dir=$1 pack_size=${2:-3000} input m query=()
  command -v zstd >/dev/null || skip "zstd (the command) is not installed: the dictionaries cannot be checked"
  input=$(mktemp -d "$WORK/input.XXXXXX")
  mkdir -p "$input"/{cur,new,tmp}
  python3 - "$input/cur" "$SECRET" "$DICT_SECRET" <<'PY'
import random, sys
out, secret, dict_secret = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
rng = random.Random(4242)
words = "kernel build patch review thanks signed cache driver commit merge config".split()
for i in range(80):
    body = "".join(" ".join(rng.choice(words) for _ in range(12)) + "\n" for _ in range(8)).encode()
    if i == 75:
        noise = bytes(rng.randrange(256) for _ in range(4096))
        body += noise[:2048] + secret + noise[2048:] + b"\n"
    if i == 65:
        body += b"".join(dict_secret + b" %d\n" % (k % 3) for k in range(400))
    head = (f"From: dev{i % 5}@example.org\nTo: list@example.org\nSubject: report {i}\n"
            f"Message-ID: <m{i}@example.org>\n\n").encode()
    with open(f"{out}/{1700000000 + i}.m{i}:2,S", "wb") as f:
        f.write(head + body)
PY
  "$MAILKEEP" --archive "$dir" init >/dev/null
  "$MAILKEEP" --archive "$dir" -q import --batch 10 --debug-pack-size "$pack_size" --debug-dictionary-after 64 "$input"
  rm -rf "$input"
  sqlite3 "$dir/catalog.sqlite" "SELECT count(*) FROM dictionaries" | grep -qx 1 || fail "the test archive has no dictionary"
  grep -rqa "$SECRET" "$dir/packs" || fail "the secret is not stored literally in the packs; the grep checks would prove nothing"
  dictionary_text "$dir" | grep -qa "$DICT_SECRET" || fail "the dictionary does not hold m65's text; the test would prove nothing"
  for m in $HELD_MIDS; do
    "$MAILKEEP" --archive "$dir" -q hold "id:$m@example.org" --reason "kept for the repack tests" >/dev/null ||
      fail "hold $m failed"
  done
  local mids=$REMOVED_MIDS
  mids="'${mids// /@example.org\',\'}@example.org'"
  sqlite3 "$dir/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs WHERE id IN (SELECT id FROM messages WHERE message_id IN ($mids))" | sort >"$dir.removed"
  [[ $(wc -l <"$dir.removed") -eq 8 ]] || fail "the test archive lacks some of the messages to remove"
  for m in $REMOVED_MIDS m20; do query+=("id:$m@example.org"); done
  "$MAILKEEP" --archive "$dir" -q delete --yes "${query[@]}" >/dev/null 2>"$dir.err" || fail "delete failed: $(head -3 "$dir.err")"
  rm -f "$dir.err"
  [[ $(index_documents "$dir") == 72 ]] || fail "the index holds $(index_documents "$dir") documents after the delete, not 72"
  local w
  for w in "${SECRET_WORDS[@]}"; do
    grep -rqa "$w" "$dir/xapian" || fail "the index has no '$w' left after the delete; its grep would prove nothing"
  done
  sqlite3 "$dir/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs" | sort >"$dir.expected"
  [[ $(wc -l <"$dir.expected") -eq 72 ]] || fail "expected 72 messages to stay, not $(wc -l <"$dir.expected")"
  held_ok "$dir" || fail "the held messages are not held"
}

# The documents in DIR's index.
index_documents() { "$MAILKEEP" --archive "$1" search --count '*' 2>&1; }

# The shard directories of DIR's index: exactly those XAPIANDB names (a
# compaction's leftovers are removed by the next writer). Bash builtins
# only: it runs after every step of the repack tests.
index_shards_listed() {
  local line name listed="" present="" lines=0 found=0 stray=0
  local -A named=()
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line == "glass "* ]] || continue  # "# mailkeep compacted-bytes N" is not a shard
    named[${line#glass }]=1 && listed+="${line#glass } " && lines=$((lines + 1))
  done <"$1/xapian/XAPIANDB"
  for name in "$1"/xapian/shard-*; do
    [[ -e $name ]] || continue
    name=${name##*/} && present+="$name " && found=$((found + 1))
    [[ -n ${named[$name]:-} ]] || stray=1
  done
  # Every present one named, as many as XAPIANDB lines: the same set, no name twice.
  ((stray == 0 && found == lines)) || { echo "XAPIANDB names $listed; the index has $present"; return 1; }
}

# The held messages are in the archive and still held.
held_ok() {
  local m list
  list=$("$MAILKEEP" --archive "$1" hold --list 2>/dev/null) || return 1
  for m in $HELD_MIDS; do grep -q "<$m@example.org>" <<<"$list" || return 1; done
}

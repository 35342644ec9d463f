# make_repack_archive DIR [PACK_SIZE] (sourced by the repack crash and
# fault tests): an archive of 80 generated messages in batches of 10 over
# packs of PACK_SIZE bytes (default 3000: about a dozen packs), with a
# dictionary (trained after 64 messages), no index;
# then 8 messages are removed from the catalog the way a delete does (their
# rows go, their bytes stay in the packs), among them one from the pack
# that holds the dictionary record (so the dictionary moves, and its
# repair file with it) and the one carrying
# $SECRET amid random bytes. That message comes after the dictionary was
# trained: a dictionary keeps snippets of the messages it was trained on,
# and a repack keeps a dictionary other messages need (store/PACK_FORMAT.md,
# "Repacking", limits). The secret is stored literally (zstd keeps literals amid
# random bytes raw), so a grep of the pack files finds it before a repack.
# Writes DIR.expected (the SHA-256 of the messages that stay, sorted) and
# DIR.removed.
SECRET=zebra-quartz-7731-never-seen-elsewhere
REMOVED_MIDS="'m3@example.org','m75@example.org','m18@example.org','m40@example.org','m41@example.org','m42@example.org','m43@example.org','m65@example.org'"
make_repack_archive() {
  local dir=$1 pack_size=${2:-3000} input
  input=$(mktemp -d "$WORK/input.XXXXXX")
  mkdir -p "$input"/{cur,new,tmp}
  python3 - "$input/cur" "$SECRET" <<'PY'
import random, sys
out, secret = sys.argv[1], sys.argv[2].encode()
rng = random.Random(4242)
words = "kernel build patch review thanks signed cache driver commit merge config".split()
for i in range(80):
    body = "".join(" ".join(rng.choice(words) for _ in range(12)) + "\n" for _ in range(8)).encode()
    if i == 75:
        noise = bytes(rng.randrange(256) for _ in range(4096))
        body += noise[:2048] + secret + noise[2048:] + b"\n"
    head = (f"From: dev{i % 5}@example.org\nTo: list@example.org\nSubject: report {i}\n"
            f"Message-ID: <m{i}@example.org>\n\n").encode()
    with open(f"{out}/{1700000000 + i}.m{i}:2,S", "wb") as f:
        f.write(head + body)
PY
  "$MAILKEEP" --archive "$dir" init >/dev/null
  "$MAILKEEP" --archive "$dir" -q import --no-index --batch 10 --debug-pack-size "$pack_size" --debug-dictionary-after 64 "$input"
  rm -rf "$input"
  sqlite3 "$dir/catalog.sqlite" "SELECT count(*) FROM dictionaries" | grep -qx 1 || fail "the test archive has no dictionary"
  grep -rqa "$SECRET" "$dir/packs" || fail "the secret is not stored literally in the packs; the grep checks would prove nothing"
  sqlite3 "$dir/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs WHERE id IN (SELECT id FROM messages WHERE message_id IN ($REMOVED_MIDS))" | sort >"$dir.removed"
  [[ $(wc -l <"$dir.removed") -eq 8 ]] || fail "the test archive lacks some of the messages to remove"
  sqlite3 "$dir/catalog.sqlite" <<SQL
CREATE TEMP TABLE gone AS SELECT id FROM messages WHERE message_id IN ($REMOVED_MIDS);
DELETE FROM locations WHERE message IN gone;
DELETE FROM index_queue WHERE message IN gone;
DELETE FROM intents WHERE message IN gone;
DELETE FROM messages WHERE id IN gone;
DELETE FROM blobs WHERE id IN gone;
SQL
  sqlite3 "$dir/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs" | sort >"$dir.expected"
  [[ $(wc -l <"$dir.expected") -eq 72 ]] || fail "expected 72 messages to stay"
}

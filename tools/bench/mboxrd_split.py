#!/usr/bin/env python3
"""mboxrd_split.py OUTDIR N MBOXRD.zst...: the first N messages of the
linux-mips list archive (/work/shared/corpus/linux-mips-list-archive), one
raw message per file (OUTDIR/000001, ...), for sync_bench.sh.

The archive's mboxes are mboxrd (see its SOURCE.txt): each message is
"From mboxrd@z ..." + the raw message with every ^>*From  line quoted by one
more '>' + a separating "\n". The quoting is reversed here, and each message
is checked against the size and SHA-256 in the matching *.manifest.tsv.zst,
so the benchmark serves exactly the archived bytes. Files are read in the
order given (pass them oldest first). Needs the zstd command.
"""
import hashlib
import os
import re
import subprocess
import sys

SEPARATOR = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
QUOTED_FROM = re.compile(rb"^>(>*From )", re.M)


def zstd_lines(path):
    proc = subprocess.Popen(["zstd", "-dcq", path], stdout=subprocess.PIPE)
    yield from proc.stdout
    if proc.wait() != 0:
        sys.exit(f"mboxrd_split: zstd -d {path} failed")


def messages(path):
    """Raw messages of one mboxrd file, quoting reversed."""
    cur = None
    for line in zstd_lines(path):
        if line == SEPARATOR:
            if cur is not None:
                yield finish(cur)
            cur = []
        elif cur is not None:
            cur.append(line)
    if cur is not None:
        yield finish(cur)


def finish(lines):
    # Drop the "\n" that separates a message from the next "From " line.
    body = b"".join(lines)
    if body.endswith(b"\n\n"):
        body = body[:-1]
    return QUOTED_FROM.sub(rb"\1", body)


def manifest(mbox_path):
    """(size, sha256) per message, in order, from the manifest next to the mbox."""
    path = mbox_path.replace(".mboxrd.zst", ".manifest.tsv.zst")
    rows = []
    for i, line in enumerate(zstd_lines(path)):
        if i == 0:
            continue  # header: seq public_inbox_commit size sha256 message_id date_header
        f = line.rstrip(b"\n").split(b"\t")
        rows.append((int(f[2]), f[3].decode()))
    return rows


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: mboxrd_split.py OUTDIR N MBOXRD.zst...")
    out, want, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    os.makedirs(out, exist_ok=True)
    n = 0
    for path in paths:
        expected = manifest(path)
        for i, raw in enumerate(messages(path)):
            if n == want:
                return
            size, digest = expected[i]
            if len(raw) != size or hashlib.sha256(raw).hexdigest() != digest:
                sys.exit(f"mboxrd_split: message {i + 1} of {path} does not match its manifest "
                         f"({len(raw)} bytes, expected {size})")
            n += 1
            with open(os.path.join(out, f"{n:06d}"), "wb") as f:
                f.write(raw)
    if n < want:
        sys.exit(f"mboxrd_split: only {n} messages in {' '.join(paths)}, {want} asked")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""scale_copies.py SRCDIR OUTDIR COPY: one renamed copy of the messages in
SRCDIR (one raw message per file, as mboxrd_split.py writes them) as a
Maildir OUTDIR/{cur,new,tmp}, for scale_bench.sh.

Copy number COPY (1, 2, ...) differs from the others in its Message-ID,
In-Reply-To and References ids (".copyN" added to each id's left part),
so every copy is a new message to the archive (content addressed) and
threads stay within a copy; copy 1 is the messages as they are. Body and
other headers are unchanged, so each copy adds the same words again.
"""
import os
import re
import sys

HEADER_END = re.compile(rb"\r?\n\r?\n")
ID_HEADERS = re.compile(rb"^(message-id|in-reply-to|references):(.*(?:\r?\n[ \t].*)*)",
                        re.I | re.M)
ANGLE_ID = re.compile(rb"<([^<>@\s]+)@")


def rename(raw, copy):
    end = HEADER_END.search(raw)
    cut = end.start() if end else len(raw)
    suffix = b".copy%d@" % copy

    def one_header(m):
        return m.group(1) + b":" + ANGLE_ID.sub(lambda i: b"<" + i.group(1) + suffix, m.group(2))
    return ID_HEADERS.sub(one_header, raw[:cut]) + raw[cut:]


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: scale_copies.py SRCDIR OUTDIR COPY")
    src, out, copy = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    for name in sorted(os.listdir(src)):
        with open(os.path.join(src, name), "rb") as f:
            raw = f.read()
        if copy > 1:
            raw = rename(raw, copy)
        with open(os.path.join(out, "cur", f"c{copy}-{name}:2,S"), "wb") as f:
            f.write(raw)


if __name__ == "__main__":
    main()

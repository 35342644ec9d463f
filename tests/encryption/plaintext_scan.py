#!/usr/bin/env python3
"""plaintext_scan.py MODE ARCHIVE SOURCES FOLDER...: looks for known
plaintexts of the messages under SOURCES (one raw message per file) in every
byte of every file under ARCHIVE.

Known plaintexts per message: its Subject, a line of its body, its From/To/Cc
addresses, its Message-ID, a 64-byte window of its raw bytes, its SHA-256
(hex and the 32 binary bytes); and the FOLDER names given. Only texts that
stand verbatim in the source file are taken (plain-ASCII subjects without
encoded words, unfolded), so that the control below can hold them to it:
every one of them must be found in SOURCES itself (the scan can find what is
there).

MODE encrypted: none may be found anywhere under ARCHIVE (exit 1 if one is,
naming the file and offset).
MODE plain: the check must be able to fail, so what a plain archive keeps in
the clear (subjects, addresses, Message-IDs, folder names in the catalog;
binary SHA-256s in the catalog and pack headers) must be found there, at
least half of each; body lines, raw windows and hex digests are only counted
(a plain archive keeps bodies zstd-compressed).
"""
import email
import email.policy
import email.utils
import hashlib
import os
import subprocess
import sys
import tempfile


def files_under(root):
    for d, _, names in os.walk(root):
        for n in sorted(names):
            yield os.path.join(d, n)


def ascii_ok(s, minimum):
    return len(s) >= minimum and all(32 <= ord(c) < 127 for c in s)


def known_texts(raw):
    """(category, bytes) of one message."""
    out = []
    head, sep, body = raw.partition(b"\n\n")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    subject = msg.get("Subject")
    if isinstance(subject, str) and "=?" not in subject and ascii_ok(subject.strip(), 12):
        out.append(("subject", subject.strip().encode()))
    for name in ("From", "To", "Cc"):
        for _, addr in email.utils.getaddresses(msg.get_all(name) or []):
            if ascii_ok(addr, 8) and "@" in addr:
                out.append(("address", addr.encode()))
    mid = (msg.get("Message-ID") or "").strip()
    if mid.startswith("<") and mid.endswith(">") and ascii_ok(mid[1:-1], 10):
        out.append(("message-id", mid[1:-1].encode()))
    lines = [l.rstrip(b"\r") for l in body.split(b"\n")]
    lines = [l for l in lines if len(l) >= 24 and not l.startswith((b">", b"--", b"On "))
             and all(32 <= c < 127 for c in l)]
    if lines:
        out.append(("body line", max(lines[:40], key=len)[:120]))
    if len(raw) >= 256:
        mid_at = len(raw) // 2
        out.append(("raw bytes", raw[mid_at:mid_at + 64]))
    digest = hashlib.sha256(raw).digest()
    out.append(("sha256 binary", digest))
    out.append(("sha256 hex", digest.hex().encode()))
    return out


def grep_pattern(needle):
    """The longest run of needle without a newline or NUL (grep -f reads one
    pattern a line): all of a text, most of a binary digest."""
    runs = needle.replace(b"\0", b"\n").split(b"\n")
    return max(runs, key=len)


def grep_round(patterns, paths):
    """{pattern: (path, offset)} of the matches grep -F -o reports."""
    with tempfile.NamedTemporaryFile(suffix=".patterns") as pf:
        pf.write(b"\n".join(patterns) + b"\n")
        pf.flush()
        out = subprocess.run(["grep", "-F", "-a", "-o", "-b", "-Z", "-f", pf.name, "--"] + paths,
                             env=dict(os.environ, LC_ALL="C"), capture_output=True)
    if out.returncode > 1:
        sys.exit(f"grep failed: {out.stderr.decode(errors='replace')}")
    hits = {}
    for line in out.stdout.split(b"\n"):
        if line:
            path, rest = line.split(b"\0", 1)
            offset, match = rest.split(b":", 1)
            hits.setdefault(match, (path.decode(), int(offset)))
    return hits


def find_all(needles, paths):
    """{needle: (path, offset)} for every needle found in one of paths, by
    grep -F (all patterns at once). A needle counts as found when its
    pattern is: all of a text, or the longest run of at least 10 bytes of a
    binary digest or raw window without a newline or NUL."""
    by_pattern = {}
    for n in needles:
        p = grep_pattern(n)
        if len(p) >= 10:
            by_pattern.setdefault(p, []).append(n)
        else:
            by_pattern.setdefault(n, []).append(n)
    found = {}
    if not paths or not by_pattern:
        return found
    # grep -o reports non-overlapping matches only, so a pattern inside or
    # across another's match is missed: search again without the patterns
    # found until a round finds nothing new.
    hits = {}
    left = [p for p in by_pattern if b"\n" not in p and b"\0" not in p]
    while left:
        new = grep_round(left, paths)
        if not new:
            break
        hits.update(new)
        left = [p for p in left if p not in new]
    for p, ns in by_pattern.items():
        for n in ns:
            if p in hits:
                found[n] = hits[p]
            elif b"\n" in p or b"\0" in p:
                for path in paths:  # the rare needle with no usable pattern
                    with open(path, "rb") as f:
                        at = f.read().find(n)
                    if at >= 0:
                        found[n] = (path, at)
                        break
    return found


def main():
    mode, archive, sources, folders = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    texts = []
    for p in files_under(sources):
        with open(p, "rb") as f:
            texts += known_texts(f.read())
    texts += [("folder name", name.encode()) for name in folders]
    by_cat = {}
    for cat, t in texts:
        by_cat.setdefault(cat, set()).add(t)

    # Control: the scan finds every text in the files it came from.
    control = find_all({t for cat, t in texts if cat not in ("sha256 binary", "sha256 hex", "folder name")},
                       list(files_under(sources)))
    missed = [t for cat, t in texts if cat not in ("sha256 binary", "sha256 hex", "folder name") and t not in control]
    if missed:
        sys.exit(f"FAIL: the scan does not find {len(missed)} texts in their own source files, e.g. {missed[0]!r}")

    paths = list(files_under(archive))
    print(f"scanning {len(paths)} files, {sum(os.path.getsize(p) for p in paths)} bytes, under {archive}:")
    for p in paths:
        print(f"  {os.path.relpath(p, archive)} ({os.path.getsize(p)} bytes)")
    found = find_all({t for _, t in texts}, paths)
    status = 0
    for cat in sorted(by_cat):
        hits = [t for t in by_cat[cat] if t in found]
        print(f"{cat:14} {len(by_cat[cat]):5} known, {len(hits):5} found under the archive")
        if mode == "encrypted" and hits:
            status = 1
            for t in hits[:3]:
                where, at = found[t]
                print(f"FAIL: {cat} {t[:60]!r} is in {os.path.relpath(where, archive)} at offset {at}")
        must = cat in ("subject", "address", "message-id", "folder name", "sha256 binary")
        if mode == "plain" and must and 2 * len(hits) < len(by_cat[cat]):
            status = 1
            print(f"FAIL: a plain archive should show most {cat}s in the clear; the scan cannot be trusted")
    if mode == "encrypted" and len(by_cat.get("subject", ())) < 10:
        sys.exit("FAIL: fewer than 10 known subjects: the slice is too small to mean anything")
    sys.exit(status)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""flip_record.py PACKS KINDS N: flips one byte in the middle of the payload
of the N-th record (from 1, in pack order) whose kind is in KINDS (e.g. "1"
for blobs, "2,3" for dictionaries), then rewrites the record's payload CRC
and header CRC so that only the AEAD tag can tell (store/PACK_FORMAT.md:
64-byte header; kind at 5, flags at 6, stored_len at 12, payload CRC at 56,
header CRC of bytes 0..59 at 60). Prints "PACK OFFSET"; exit 3 if the record
is not sealed (flags bit 0x0001), 4 if there are fewer than N such records.
"""
import os
import struct
import sys
import zlib


def main():
    packs, kinds, want = sys.argv[1], {int(k) for k in sys.argv[2].split(",")}, int(sys.argv[3])
    seen = 0
    for name in sorted(n for n in os.listdir(packs) if n.endswith(".pack")):
        path = os.path.join(packs, name)
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            at = 0
            while at + 64 <= len(data):
                if data[at:at + 4] != b"\x89MKP":
                    sys.exit(f"{name} offset {at}: not a record")
                kind, flags = data[at + 5], struct.unpack_from("<H", data, at + 6)[0]
                stored = struct.unpack_from("<I", data, at + 12)[0]
                if kind in kinds:
                    seen += 1
                    if seen == want:
                        if not flags & 1:
                            print(f"{name} {at}: record not sealed (flags {flags:#06x})")
                            sys.exit(3)
                        payload = at + 64
                        data[payload + stored // 2] ^= 0x20
                        struct.pack_into("<I", data, at + 56, zlib.crc32(bytes(data[payload:payload + stored])))
                        struct.pack_into("<I", data, at + 60, zlib.crc32(bytes(data[at:at + 60])))
                        f.seek(0)
                        f.write(data)
                        print(name, at)
                        return
                at += 64 + stored
    print(f"only {seen} records of kind {sys.argv[2]}")
    sys.exit(4)


if __name__ == "__main__":
    main()

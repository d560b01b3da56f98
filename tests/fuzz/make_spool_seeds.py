#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_spool_scan (tests/fuzz/corpus/spool_scan/):
valid spools of one to four segments, and the same with the damage recovery
has to handle. The input format is described in fuzz_spool_scan.c; records
follow gateway/spool_format.h."""
import os
import struct
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "spool_scan")


def record(recno, topic=None, payload=None, qos=None, retain=None):
    topic = topic if topic is not None else b"t/%06u" % (recno % 1000000)
    payload = payload if payload is not None else b'{"v":%d}' % recno
    qos = recno % 3 if qos is None else qos
    retain = recno % 2 if retain is None else retain
    body = struct.pack("<QIHBB", recno, len(payload), len(topic), qos, retain) + topic + payload
    return b"SBR\x01" + struct.pack("<I", zlib.crc32(body)) + body


def segment(first, n, **kw):
    return b"".join(record(r, **kw) for r in range(first, first + n))


def spool(segs, head=None, confirm=False):
    """segs: (name delta, bytes) pairs; head: offset from the first name, or
    None; confirm: confirm the first half of the records after the repair."""
    flags = (len(segs) - 1) | (4 if head is not None else 0) | (8 if confirm else 0)
    out = bytes([flags, 0 if head is None else head + 8])
    for i, (delta, data) in enumerate(segs):
        out += bytes([delta])
        if i + 1 < len(segs):
            out += struct.pack("<H", len(data))
        out += data
    return out


def flip(data, off, mask=0x01):
    b = bytearray(data)
    b[off] ^= mask
    return bytes(b)


def main():
    os.makedirs(OUT, exist_ok=True)
    s1, s2, s3 = segment(1, 6), segment(7, 6), segment(13, 4)
    r = len(record(1))
    seeds = {
        "one_segment": spool([(0, s1)]),
        "three_segments_head": spool([(0, s1), (0, s2), (0, s3)], head=3),
        "sizes_qos_retain": spool([(0, record(1, b"", b"")
                                    + record(2, b"a/b/c", b"x" * 300, 2, 1)
                                    + record(3, b"sensorbridge/gw/sim/TEMP_00", b"{}", 0, 0))]),
        "flip_middle": spool([(0, flip(s1, 2 * r + 30)), (0, s2)]),
        "flip_header": spool([(0, s1), (0, flip(s2, 3 * r + 17, 0x40)), (0, s3)]),
        "torn_tail": spool([(0, s1), (0, flip(s2, 4 * r + 30)[:-9])]),
        "missing_segment": spool([(0, s1), (0, s3)]),
        "declared_gap": spool([(0, s1), (2, segment(9, 4))]),
        "junk_between": spool([(0, s1 + b"\xab" * 37 + b"SBR\x01" + b"\x00" * 30), (0, s2)]),
        "duplicate_tail": spool([(0, s1 + record(3))]),
        "interrupted_repair": spool([(0, flip(s1, 2 * r + 30)), (1, s1[3 * r:]), (0, s2)]),
        "far_segment": spool([(0, s1), (0, segment(10 ** 9, 2))]),
        "confirm_flip_middle": spool([(0, flip(s1, 2 * r + 30)), (0, s2), (0, s3)], confirm=True),
        "confirm_declared_gap": spool([(0, s1), (2, segment(9, 4))], head=2, confirm=True),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

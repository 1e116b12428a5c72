#!/usr/bin/env python3
"""mkdisk.py - make a tagged raw disk image for the AHCI tests and benchmarks.

    mkdisk.py OUT MIB [--mark]

Every 512-byte sector starts with its LBA as a little-endian u64 (the
format the Linux comparison uses); the rest of the sector is zero. With
--mark, LBA 1 carries the Mica mark after its tag (drivers/ahci/ahci.h,
AHCI_MARK at byte 8): the AHCI driver writes only to marked disks.
"""
import struct
import sys

SECTOR = 512
MARK_LBA, MARK_OFFSET, MARK = 1, 8, b"MICA-WRITABLE-01"


def tagged(first, count):
    """count sectors from LBA first, tagged."""
    buf = bytearray(count * SECTOR)
    for i in range(count):
        struct.pack_into("<Q", buf, i * SECTOR, first + i)
    return buf


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, mib, mark = sys.argv[1], int(sys.argv[2]), "--mark" in sys.argv[3:]
    sectors = mib * 1024 * 1024 // SECTOR
    chunk = 2048                        # 1 MiB at a time
    with open(out + ".tmp", "wb") as f:
        for first in range(0, sectors, chunk):
            buf = tagged(first, min(chunk, sectors - first))
            if mark and first == 0:
                buf[MARK_LBA * SECTOR + MARK_OFFSET:MARK_LBA * SECTOR + MARK_OFFSET + len(MARK)] = MARK
            f.write(buf)
    import os
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""mkdisk.py - make a tagged raw disk image for the AHCI tests and benchmarks.

    mkdisk.py OUT MIB [--mark]
    mkdisk.py OUT MIB --pagefile


Every 512-byte sector starts with its LBA as a little-endian u64 (the
format the Linux comparison uses); the rest of the sector is zero. With
--mark, LBA 1 carries the Mica mark after its tag (drivers/ahci/ahci.h,
AHCI_MARK at byte 8): the AHCI driver writes only to marked disks.
"""
import os
import struct
import sys

SECTOR = 512
MARK_LBA, MARK_OFFSET, MARK = 1, 8, b"MICA-WRITABLE-01"
# The page-file mark (mm/pagefile.c) follows the writable one in LBA 1.
PAGEFILE_OFFSET, PAGEFILE_MARK = 24, b"MICA-PAGEFILE-01"


def pagefile(out, mib):
    """A sparse page-file disk: only its first page (the header) written."""
    with open(out + ".%d.tmp" % os.getpid(), "wb") as f:
        head = bytearray(4096)
        head[MARK_LBA * SECTOR + MARK_OFFSET:MARK_LBA * SECTOR + MARK_OFFSET + len(MARK)] = MARK
        head[MARK_LBA * SECTOR + PAGEFILE_OFFSET:MARK_LBA * SECTOR + PAGEFILE_OFFSET + len(PAGEFILE_MARK)] = PAGEFILE_MARK
        f.write(head)
        f.truncate(mib * 1024 * 1024)
    os.replace(out + ".%d.tmp" % os.getpid(), out)


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
    if "--pagefile" in sys.argv[3:]:
        return pagefile(out, mib)
    sectors = mib * 1024 * 1024 // SECTOR
    chunk = 2048                        # 1 MiB at a time
    with open(out + ".%d.tmp" % os.getpid(), "wb") as f:
        for first in range(0, sectors, chunk):
            buf = tagged(first, min(chunk, sectors - first))
            if mark and first == 0:
                buf[MARK_LBA * SECTOR + MARK_OFFSET:MARK_LBA * SECTOR + MARK_OFFSET + len(MARK)] = MARK
            f.write(buf)
    os.replace(out + ".%d.tmp" % os.getpid(), out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""runner.py - boot Mica in QEMU for tests and benchmarks, and judge the result.

    runner.py test   [--only CONFIG] [--pattern P] [--no-host] [--no-gdb]
    runner.py bench  [--pattern P] [--only CONFIG]
    runner.py bench-host BINARY...   (used by `make bench-host`)
    runner.py gdb
    runner.py kd                    (the kd> shell session alone)
    runner.py iso --cmdline "..."   (used by `make run CMDLINE=...`)

Every boot goes through the real path: a GRUB ISO (BIOS or UEFI firmware)
whose grub.cfg carries the command line (test=..., bench=...). One ISO
per kernel image is made with grub-mkrescue; each command line's ISO is a
copy of it with the line written into grub.cfg's reserved bytes (cached by
command line and kernel image).

A boot passes only when QEMU exits with status 33, i.e. the kernel wrote
0x10 to isa-debug-exit after its closing "N passed, 0 failed, N skipped"
line. QEMU also exits (with status 0) after a triple fault under
-no-reboot, so the runner also looks for resets: "Triple fault" in QEMU's
log (-d cpu_reset, which writes only at a reset, so it costs nothing while
the kernel runs), exit status 0 and a second boot banner on the serial
port. QEMU never runs with -d int unless asked: that log (every interrupt
and exception with the whole CPU state) slows interrupts twentyfold.
QEMU_DEBUG=int,... in the environment adds its items to -d for debugging.
Each boot has a timeout. Logs go to build/test-logs/<name>.serial.log and
<name>.qemu.log.

A configuration's "smp" (default 1) is QEMU's -smp; above 1, TCG runs with
thread=multi (each vCPU on its own host thread, so the kernel's races are
real races). The benchmarks record the host's core count next to their
figures (host.cpus), since vCPUs only run in parallel on host cores.

Skipped tests ("ok N - NAME # SKIP reason") are counted apart from passed
ones: "N passed, N failed, N skipped" per configuration and in the total.

The in-kernel batch lists its bug-check tests ("# bugcheck-test NAME CODE");
each is then booted alone and passes only if the kernel stops with that
code (the kernel itself checks the parameters it was told to expect).
Reset tests ("# reset-test NAME") boot alone too and pass only if the
runner sees the machine reset: they prove that triple faults are caught.

One more boot has no test= at all: the runner types commands at the kd>
shell on QEMU's serial port (stdin) and checks what each prints against
state it made itself (KdSession, kd_checks), then leaves with `q`.
"""

import argparse
import concurrent.futures
import fnmatch
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "test-logs")
ISO_CACHE = os.path.join(BUILD, "test-iso")
ELF = os.path.join(BUILD, "mica.elf")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

# The configurations that matter; names are stable (other tools read them).
# "smp" is the number of virtual processors (QEMU's -smp; default 1). With
# more than one, TCG runs each vCPU on its own host thread (thread=multi),
# so races between processors are real races on the host's cores.
TEST_CONFIGS = {
    "bios-128m": {"firmware": "bios", "mem": "128M"},
    "bios-6g": {"firmware": "bios", "mem": "6G"},
    "uefi-256m": {"firmware": "uefi", "mem": "256M"},
    "bios-1g-smp4": {"firmware": "bios", "mem": "1G", "smp": 4},
    "uefi-256m-smp2": {"firmware": "uefi", "mem": "256M", "smp": 2},
}
BENCH_CONFIGS = {
    "bench-128m": {"firmware": "bios", "mem": "128M"},
    "bench-1g": {"firmware": "bios", "mem": "1G"},
    "bench-6g": {"firmware": "bios", "mem": "6G"},
    "bench-1g-smp4": {"firmware": "bios", "mem": "1G", "smp": 4},
    # The AHCI benchmarks (tests/bench/bench_ahci.c) in the issue's QEMU line:
    # -M pc, -device ahci,id=ahci, a 256 MiB tagged raw image as ide-hd on
    # ahci.0 (read once on the host before the boot: page cache). Only the
    # ahci.* benchmarks run here, and they run only here.
    "bench-disk": {"firmware": "bios", "mem": "512M", "disk": ("bench.img", 256, True), "bench": "ahci"},
    # The pager's benchmarks (tests/bench/bench_pagefile.c): 128 MiB and a
    # sparse 768 MiB page-file disk (PAGEFILE_CONFIGS' kind).
    "bench-pagefile": {"firmware": "bios", "mem": "128M", "pagefile": 768, "bench": "fault"},
    # The e1000 benchmarks, measured from the host (tests/netpeer.py's
    # BenchPeer, as the Linux peer measures its guest): -M pc, the socket
    # back-end, Mica answering at 10.0.2.15. "itr": a second boot with that
    # interrupt throttle (e1000itr=), whose figures are e1000.itr<N>.*.
    "bench-net": {"firmware": "bios", "mem": "128M", "bench": "e1000", "net": True, "itr": 0},
}
# The suites that exercise the memory manager (blackbox: contiguous DMA
# memory below 4 GiB, which nolowmem keeps on a list of its own).
MM_SUITES = ["contig", "paging", "pool*", "lookaside", "blackbox", "dma"]
# Extra batch boots: name -> (configuration, suites, boot options).
#   verifier=special: every pool allocation of every test goes through
#     Driver Verifier's special pool (pool, lookaside lists, physical-memory
#     ranges, threads' and drivers' tests alike), so all suites run.
#   nolowmem: RAM below 4 GiB kept for callers that need it (bios-6g has
#     RAM above 4 GiB); the memory-manager suites.
#   onecpu, numproc=2: NT's /ONECPU and /NUMPROC on four vCPUs: only the
#     boot processor (at most two) start; boot.processor_count_follows_madt_
#     and_options reads the option and checks the count, and the smp suite
#     runs on what started.
EXTRA_BOOTS = {
    "bios-128m-verifier": ("bios-128m", ["all"], "verifier=special"),
    # ...and the AHCI tests with the controller driven as a 32-bit master
    # (ahcidma=32): buffers above 4 GiB bounce through map registers.
    "bios-6g-nolowmem": ("bios-6g", MM_SUITES + ["ahci"], "nolowmem ahcidma=32"),
    "bios-1g-smp4-onecpu": ("bios-1g-smp4", ["boot", "smp"], "onecpu"),
    "bios-1g-smp4-numproc2": ("bios-1g-smp4", ["boot", "smp"], "numproc=2"),
    # pcicfg=port: q35 has ECAM, so this is where the port mechanism must
    # find the same tree (compared with QEMU's) and drive the same devices.
    # pcimsi=off: the PCI bus driver hands out INTx lines only, so the edu
    # driver's CONNECT_MESSAGE_BASED falls back to its level-triggered,
    # shared line: on q35 (ICH9 routing) here, on pc (PIIX3) below.
    # The AHCI tests run there too: the controller's INTx line (shared,
    # level-triggered) instead of its MSI.
    "uefi-256m-pcicfgport": ("uefi-256m", ["pci*", "ahci"], "pcicfg=port pcimsi=off"),
    "bios-128m-pcimsioff": ("bios-128m", ["pci*", "ahci"], "pcimsi=off"),
}
# The page file (issue 14, mm/pager.c): a machine with a sparse page-file
# disk (tests/mkdisk.py --pagefile) as a fourth AHCI disk. Only the paging
# suites boot there; elsewhere they skip (no page file: paged pool stays
# resident, as before).
# The page-file disk sits on blkdebug: writes of slot 300 fail (the writer
# must put those pages in another slot, nothing lost); in the bug-check
# configuration reads of slot 4096 fail too (KERNEL_DATA_INPAGE_ERROR).
PAGEFILE_WRITE_ERROR_SLOT, PAGEFILE_READ_ERROR_SLOT = 300, 4096
PAGEFILE_CONFIGS = {
    "bios-128m-pf": {"firmware": "bios", "mem": "128M", "pagefile": 768},
    # Four processors (TCG thread=multi): the 4x-RAM test's code with four
    # threads, trims' TB shootdowns racing the faults. 64 MiB, so that its
    # twice-RAM run fits make test's time (four vCPUs share the host's
    # cores: with 128 MiB it took 20-100 s of the 120 s timeout, loaded).
    "bios-64m-pf-smp4": {"firmware": "bios", "mem": "64M", "pagefile": 768, "smp": 4},
    "bios-128m-pfbad": {"firmware": "bios", "mem": "128M", "pagefile": 768, "pagefile_read_error": True},
}
EXTRA_BOOTS["bios-128m-pagefile"] = ("bios-128m-pf", ["pagefile", "pagefile_bugcheck", "lab_pagefile"], "")
# Pageable kernel image sections (issue 14, mm/pagesec.c) page on the same machine.
EXTRA_BOOTS["bios-128m-pagefile"][1].append("pagesec")
EXTRA_BOOTS["bios-64m-pagefile-smp4"] = ("bios-64m-pf-smp4", ["pagefile_smp"], "")
# Boots that run only when named with --only (none now: the pager's
# 4-processor boot hung once in make test - a dead thread's stack freed
# under the dispatcher lock, mm/stack.c - and is back in every run).
ON_REQUEST = set()
BUGCHECK_CONFIG = "bios-128m"
# Bug-check tests that need several processors boot alone in this
# configuration instead of BUGCHECK_CONFIG: suite pattern -> configuration.
BUGCHECK_CONFIG_BY_SUITE = {
    "smp_bugcheck": "bios-1g-smp4",
    "pagefile_bugcheck": "bios-128m-pfbad",
    "pagesec_bugcheck": "bios-128m-pf",
}
# Boots boot/entry.asm must refuse: name -> (QEMU -cpu without a feature, its message).
CPU_CHECK_BOOTS = {
    "cpucheck-no-cx16": ("qemu64,+nx,+pdpe1gb,-cx16", "no CMPXCHG16B"),
}
QEMU_CPU = "qemu64,+nx,+pdpe1gb"
# PCI devices every test boot adds to the machine's own (tests/kernel/test_pci*.c):
# a PCI-PCI bridge with a virtio device behind it (I/O, 32-bit and 64-bit
# prefetchable BARs, MSI-X) and QEMU's edu device (MSI and INTx on demand).
# The kernel prints the tree it scanned ("# pci ..." lines); the runner asks
# QEMU's QMP for its own (query-pci) right then and compares.
PCI_TEST_DEVICES = ["-device", "pci-bridge,id=pcitest.br,chassis_nr=1,addr=0x5",
                    "-device", "virtio-rng-pci,bus=pcitest.br,addr=0x3",
                    "-device", "edu,addr=0x4"]
# AHCI disks every test boot has (tests/kernel/test_ahci.c), made by the
# Makefile with tests/mkdisk.py (each sector tagged with its LBA): disk 0 is
# marked for Mica (the driver may write it), disk 1 is not (it must stay
# unchanged). Each boot gets its own copies in build/test-logs/, checked
# after QEMU exits. pc gets QEMU's add-on `-device ahci`; q35 (the UEFI
# configurations) has the ICH9 HBA built in, whose buses are ide.0-5 (the
# CD-ROM is on ide.2).
DISK_DIR = os.path.join(BUILD, "disk")
TEST_DISKS = [("test-marked.img", 8, True), ("test-unmarked.img", 2, False),
              ("test-errors.img", 1, True)]
# Disk 2 sits on QEMU's blkdebug driver, which fails reads of sector 100 and
# writes of sector 200 with EIO (the device reports an ATA error): the
# ahci.*error* tests check that only those requests fail and the port
# recovers.
BLKDEBUG_DISK = 2
BLKDEBUG_CONFIG = """[inject-error]
event = "read_aio"
errno = "5"
sector = "100"
once = "off"

[inject-error]
event = "write_aio"
errno = "5"
sector = "200"
once = "off"
"""
DISK_ERROR_WRITES = [(184, 8), (208, 8)]           # ahci.write_error_fails_alone: what must land
BENCH_DISK = ("bench.img", 256, True)
DISK_WRITE_LBA, DISK_WRITE_SECTORS = 8192, 64     # ahci.writes_read_back_and_reach_the_disk
DISK_WRITE_MAGIC = 0x5449525741434D49
DISK_WRITE_TEST = "ahci.writes_read_back_and_reach_the_disk"
DISK_PERSIST_TEST = "ahci.written_data_survives_a_reboot"
DISK_ERROR_TEST = "ahci.write_error_fails_alone"
PCI_TREE_BEGIN = "# pci-tree begin"
PCI_TREE_END = "# pci-tree end"
PCI_TREE_TEST = "pci.tree_printed_for_runner"
TIMEOUT = {"bios": 120, "uefi": 300}
BOOT_BANNER = "Mica x86-64 teaching kernel"
READY = "Mica ready"
PASS_STATUS = 33            # isa-debug-exit: (0x10 << 1) | 1
FAIL_STATUS = 35            # (0x11 << 1) | 1

RESULT_RE = re.compile(r"^(not )?ok (\d+) - (\S+)(?:\s+#\s*(SKIP)\b)?", re.I)
CLOSING_RE = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?")
BUGCHECK_TEST_RE = re.compile(r"^# bugcheck-test (\S+) (0x[0-9a-fA-F]+)")
RESET_TEST_RE = re.compile(r"^# reset-test (\S+)")
RESET_ARMED = "# resetting the machine on purpose"
STOP_RE = re.compile(r"\*\*\* STOP: 0x([0-9A-Fa-f]{8})")
BENCH_RE = re.compile(r"^bench (\S+) (\d+) (\S+)")
STOP_PROCESSOR_RE = re.compile(r"^# bug check on processor (\d+)")

GRUB_CFG = """set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod all_video
{room}
menuentry "Mica" {{
    multiboot2 /boot/mica.elf $mica_cmdline
    if [ "$grub_platform" = "pc" ]; then set gfxpayload=text; fi
    boot
}}
"""
# Every boot's ISO is one base ISO per kernel with the command line
# written into grub.cfg's bytes in place (grub-mkrescue once, not once per
# command line: some 200 boots each make test). The room is a run of
# ISO_ROOM bytes: "set mica_cmdline='...'" then a comment filling the rest;
# ISO9660 stores the file's bytes as they are, and GRUB reads the same
# grub.cfg on BIOS and UEFI. The kernel keeps LOADER_MAX_COMMAND_LINE
# (1024) bytes of it.
ISO_ROOM = 1100
ISO_ROOM_MARK = b"#mica-cmdline-room#"


def iso_room(cmdline):
    """grub.cfg's room holding cmdline, exactly ISO_ROOM bytes (None: it does not fit)."""
    if "'" in cmdline or "\n" in cmdline or "\\" in cmdline:
        return None
    text = ("set mica_cmdline='%s'\n#" % cmdline).encode()
    if len(text) + 1 > ISO_ROOM:
        return None
    return text + b"#" * (ISO_ROOM - len(text) - 1) + b"\n"


_accel = None


def accel(smp=1):
    """QEMU's -accel: ACCEL from the environment, else what the probe says
    (once). With several vCPUs, TCG gets thread=multi, one host thread per
    vCPU (KVM runs each vCPU on a host thread anyway)."""
    global _accel
    if _accel is None:
        if os.environ.get("ACCEL"):
            _accel = os.environ["ACCEL"]
        else:
            out = subprocess.run(["sh", os.path.join(ROOT, "tests", "accel-probe.sh")],
                                 capture_output=True, text=True)
            _accel = out.stdout.strip() or "tcg"
    if smp > 1 and _accel.split(",")[0] == "tcg" and "thread=" not in _accel:
        return _accel + ",thread=multi"
    return _accel


def smp_of(config):
    return int(config.get("smp", 1))


def host_cpus():
    """The host's cores: os.cpu_count() and, if this process may use fewer
    (taskset, cgroups' cpusets), that count too. vCPUs run in parallel only
    on host cores, so every figure of several processors depends on it."""
    total = os.cpu_count() or 1
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = total
    return total, usable


def host_cpus_text():
    total, usable = host_cpus()
    if usable != total:
        return "%d host cores (%d usable by this process)" % (total, usable)
    return "%d host cores" % total


def qemu_debug():
    """QEMU's -d items: cpu_reset always (it logs only at a reset, and says
    "Triple fault"); QEMU_DEBUG=int,... adds more for debugging."""
    items = ["cpu_reset"]
    for item in os.environ.get("QEMU_DEBUG", "").split(","):
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return ",".join(items)


_iso_lock = threading.Lock()
_elf_digest = None


def prune_iso_cache(keep, idle=600):
    """Drop the ISOs of earlier kernels (each is 23 MB and every command line
    has one: without this the cache grew to tens of GB). A folder another
    runner may still be filling (changed in the last `idle` seconds) stays."""
    if not os.path.isdir(ISO_CACHE):
        return
    now = time.time()
    for name in os.listdir(ISO_CACHE):
        path = os.path.join(ISO_CACHE, name)
        if name != keep and now - os.path.getmtime(path) > idle:
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def make_iso(cmdline):
    """A GRUB ISO booting mica.elf with this command line (cached)."""
    global _elf_digest
    with _iso_lock:
        if _elf_digest is None:
            with open(ELF, "rb") as f:
                _elf_digest = hashlib.sha1(f.read()).hexdigest()
            prune_iso_cache(_elf_digest[:16])
        key = hashlib.sha1((_elf_digest + "\0" + cmdline).encode()).hexdigest()[:16]
        cache = os.path.join(ISO_CACHE, _elf_digest[:16])
        iso = os.path.join(cache, key + ".iso")
        if os.path.exists(iso):
            return iso
        room = iso_room(cmdline)
        base, offset = base_iso(cache)
        if room is None:
            return mkrescue(cache, key, iso, GRUB_CFG.format(room=iso_room("").decode()).replace(
                "$mica_cmdline", cmdline))
        with open(base, "rb") as f:
            data = bytearray(f.read())
        data[offset:offset + ISO_ROOM] = room
        with open(iso + ".tmp", "wb") as f:
            f.write(data)
        os.rename(iso + ".tmp", iso)
        return iso


def mkrescue(cache, key, iso, cfg):
    """grub-mkrescue of a tree with mica.elf and this grub.cfg, into iso."""
    tree = os.path.join(cache, key)
    os.makedirs(os.path.join(tree, "boot", "grub"), exist_ok=True)
    shutil.copy(ELF, os.path.join(tree, "boot", "mica.elf"))
    with open(os.path.join(tree, "boot", "grub", "grub.cfg"), "w") as f:
        f.write(cfg)
    r = subprocess.run(["grub-mkrescue", "-o", iso + ".tmp", tree], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("grub-mkrescue failed:\n" + r.stderr)
    os.rename(iso + ".tmp", iso)
    shutil.rmtree(tree)
    return iso


def base_iso(cache):
    """_iso_lock held: this kernel's base ISO, and where its grub.cfg's room starts."""
    base = os.path.join(cache, "base.iso")
    if not os.path.exists(base):
        room = ISO_ROOM_MARK + b"#" * (ISO_ROOM - len(ISO_ROOM_MARK) - 1) + b"\n"
        mkrescue(cache, "base", base, GRUB_CFG.format(room=room.decode()))
    with open(base, "rb") as f:
        data = f.read()
    offset = data.find(ISO_ROOM_MARK)
    if offset < 0 or data.find(ISO_ROOM_MARK, offset + 1) >= 0:
        sys.exit("runner: the base ISO's grub.cfg room is not there exactly once")
    return base, offset


_disk_lock = threading.Lock()


def disk_image(name, mib, mark):
    """build/disk/<name> (the Makefile makes it; made here if missing, once:
    boots that start together in a fresh tree - a lab's - all ask for it)."""
    path = os.path.join(DISK_DIR, name)
    with _disk_lock:
        if not os.path.exists(path):
            os.makedirs(DISK_DIR, exist_ok=True)
            subprocess.run([sys.executable, os.path.join(ROOT, "tests", "mkdisk.py"), path, str(mib)] +
                           (["--mark"] if mark else []), check=True)
    return path


def ahci_args(firmware, images, blkdebug=None):
    """QEMU arguments attaching the images as AHCI disks 0, 1, ...; the
    image at index BLKDEBUG_DISK through blkdebug with config `blkdebug`."""
    args = [] if firmware == "uefi" else ["-device", "ahci,id=ahci"]
    for i, path in enumerate(images):
        # q35's -cdrom is on ide.2: the disks go around it.
        bus = ("ide.%d" % (i if i < 2 else i + 1)) if firmware == "uefi" else "ahci.%d" % i
        if blkdebug and i == BLKDEBUG_DISK:
            path = "blkdebug:%s:%s" % (blkdebug, path)
        args += ["-drive", "id=d%d,file=%s,format=raw,if=none" % (i, path),
                 "-device", "ide-hd,drive=d%d,bus=%s" % (i, bus)]
    return args


def pagefile_args(name, mib, read_error):
    """A fresh sparse page-file disk for one boot, as AHCI disk 3 (pc only),
    behind blkdebug (see PAGEFILE_CONFIGS)."""
    path = os.path.join(LOGS, name + ".pagefile.img")
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "mkdisk.py"), path, str(mib), "--pagefile"],
                   check=True)
    cfg = os.path.join(LOGS, name + ".pagefile.blkdebug.cfg")
    rules = [("write_aio", PAGEFILE_WRITE_ERROR_SLOT)] + ([("read_aio", PAGEFILE_READ_ERROR_SLOT)] if read_error else [])
    with open(cfg, "w") as f:
        for event, slot in rules:
            f.write('[inject-error]\nevent = "%s"\nerrno = "5"\nsector = "%d"\nonce = "off"\n\n' %
                    (event, slot * 8))
    return ["-drive", "id=pf,file=blkdebug:%s:%s,format=raw,if=none,cache=unsafe" % (cfg, path),
            "-device", "ide-hd,drive=pf,bus=ahci.3"]


def check_test_disks(boot):
    """Reasons the disk images are not what the tests left (empty: fine):
    the unmarked copy must equal its original; the marked one must hold
    the write test's pattern where it wrote (if it passed) and its tags
    everywhere else."""
    if not boot.disks:
        return []
    why = []
    (marked, marked_src), (unmarked, unmarked_src), (errors, _) = boot.disks
    with open(unmarked, "rb") as a, open(unmarked_src, "rb") as b:
        if a.read() != b.read():
            why.append("the unmarked disk image was written (%s)" % unmarked)
    wrote = boot.written_before or any(ok and name == DISK_WRITE_TEST for ok, name, _ in boot.results())
    with open(marked, "rb") as f:
        data = f.read()
    bad = []
    for lba in range(len(data) // 512):
        sector = data[lba * 512:(lba + 1) * 512]
        if wrote and DISK_WRITE_LBA <= lba < DISK_WRITE_LBA + DISK_WRITE_SECTORS:
            want = struct.pack("<QQ", lba, DISK_WRITE_MAGIC) + bytes((lba + i) & 0xFF for i in range(16, 512))
            if sector != want:
                bad.append(lba)
        elif struct.unpack_from("<Q", sector)[0] != lba:
            bad.append(lba)
    if bad:
        why.append("the marked disk image has %d unexpected sectors (first LBA %d)" % (len(bad), bad[0]))
    # The error disk: the writes around the failing one landed once, the
    # failing one left its sectors as they were, nothing else changed.
    wrote = any(ok and name == DISK_ERROR_TEST for ok, name, _ in boot.results())
    landed = {lba for first, n in DISK_ERROR_WRITES for lba in range(first, first + n)} if wrote else set()
    with open(errors, "rb") as f:
        data = f.read()
    bad = [lba for lba in range(len(data) // 512)
           if data[lba * 512:lba * 512 + 8] != struct.pack("<Q", lba) or
           (lba in landed) != (data[lba * 512 + 8:lba * 512 + 16] == struct.pack("<Q", DISK_WRITE_MAGIC))]
    if bad:
        why.append("the error disk image has %d unexpected sectors (first LBA %d)" % (len(bad), bad[0]))
    return why


def qmp_query_pci(path):
    """QEMU's own PCI tree (QMP query-pci), or an error string."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(path)
            f = sock.makefile("rw")
            json.loads(f.readline())                    # the greeting

            def execute(command):
                f.write(json.dumps({"execute": command}) + "\n")
                f.flush()
                while True:                             # skip asynchronous events
                    reply = json.loads(f.readline())
                    if "return" in reply or "error" in reply:
                        return reply
            execute("qmp_capabilities")
            reply = execute("query-pci")
            return reply.get("return", "query-pci failed: %s" % reply)
    except (OSError, ValueError) as e:
        return "QMP: %s" % e


def pci_tree_of_qemu(buses):
    """{(bus, dev, fn): "vvvv:dddd bar0=kind:base+len ..."} from query-pci's answer."""
    tree = {}

    def walk(bus):
        for d in bus.get("devices", []):
            bars = []
            for r in sorted(d.get("regions", []), key=lambda r: r["bar"]):
                if r["bar"] > 5:
                    continue                            # the expansion ROM
                if r["type"] == "io":
                    kind = "io"
                else:
                    kind = ("m64" if r.get("mem_type_64") else "m32") + ("p" if r.get("prefetch") else "")
                address = r["address"] & 0xFFFFFFFFFFFFFFFF
                bars.append("bar%d=%s:%x+%x" % (r["bar"], kind, address, r["size"]))
            key = (d["bus"], d["slot"], d["function"])
            tree[key] = " ".join(["%04x:%04x" % (d["id"]["vendor"], d["id"]["device"])] + bars)
            if "pci_bridge" in d:
                b = d["pci_bridge"]["bus"]
                tree[key] += " buses=%02x-%02x" % (b["secondary"], b["subordinate"])
                walk(d["pci_bridge"])
    for bus in buses:
        walk(bus)
    return tree


PCI_LINE_RE = re.compile(r"^# pci ([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) (.*)$")


def judge_pci_tree(boot):
    """Reasons the kernel's PCI scan differs from QEMU's own tree (empty: it matches)."""
    ran = any(name == PCI_TREE_TEST for ok, name, _ in boot.results())
    if not ran:
        return []
    if not any(l.startswith(PCI_TREE_END) for l in boot.lines):
        return ["%s ran but printed no PCI tree" % PCI_TREE_TEST]
    if not isinstance(boot.pci_qemu, list):
        return ["could not ask QEMU for its PCI tree: %s" % boot.pci_qemu]
    kernel = {}
    for l in boot.lines:
        m = PCI_LINE_RE.match(l)
        if m:
            kernel[(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3)))] = m.group(4).strip()
    qemu = pci_tree_of_qemu(boot.pci_qemu)
    why = []
    for key in sorted(set(kernel) | set(qemu)):
        where = "%02x:%02x.%x" % key
        if key not in kernel:
            why.append("PCI %s (%s) not found by the kernel" % (where, qemu[key]))
        elif key not in qemu:
            why.append("PCI %s (%s) found by the kernel, not in QEMU" % (where, kernel[key]))
        elif kernel[key] != qemu[key]:
            why.append("PCI %s: kernel '%s', QEMU '%s'" % (where, kernel[key], qemu[key]))
    # The devices the runner added must be among them.
    ids = {v.split()[0] for v in qemu.values()}
    for want in ("1234:11e8", "1b36:0001"):
        if want not in ids:
            why.append("QEMU's tree lacks the added device %s" % want)
    return why


class Boot:
    """One QEMU run: its serial output, exit status and timing."""

    def __init__(self, name, config, cmdline, extra_args=(), cpu=QEMU_CPU, stop_on=(),
                 disks=None, keep_disks=False, written_before=False):
        self.name, self.config, self.cmdline = name, config, cmdline
        self.reuse_disks = disks            # an earlier boot's copies, to boot on again
        self.keep_disks = keep_disks        # leave the copies for a later boot
        self.written_before = written_before  # the write test's pattern is already there
        self.extra_args = list(extra_args)
        self.cpu = cpu
        self.stop_on = list(stop_on)        # kill QEMU at the first line containing one
        self.pci_qemu = None                # QEMU's query-pci at the kernel's "# pci-tree end"
        self.disks = []                     # (this boot's copy, original) per test disk
        self.disk_problems = []             # check_test_disks, right after QEMU exits
        self.lines = []
        self.status = None
        self.timed_out = False
        self.ready_ms = None
        self.seconds = 0.0

    def run(self):
        iso = make_iso(self.cmdline)
        fw = self.config["firmware"]
        serial_log = os.path.join(LOGS, self.name + ".serial.log")
        qemu_log = os.path.join(LOGS, self.name + ".qemu.log")
        smp = smp_of(self.config)
        args = ["qemu-system-x86_64", "-cpu", self.cpu, "-accel", accel(smp),
                "-smp", str(smp),
                "-m", self.config["mem"], "-cdrom", iso, "-display", "none",
                "-monitor", "none", "-serial", "stdio", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-d", qemu_debug(), "-D", qemu_log]
        qmp_dir = None
        if self.cmdline.startswith("test="):
            qmp_dir = tempfile.mkdtemp(prefix="mica-qmp-")
            qmp = os.path.join(qmp_dir, "qmp.sock")
            args += PCI_TEST_DEVICES + ["-qmp", "unix:%s,server=on,wait=off" % qmp]
            if self.reuse_disks:
                self.disks = list(self.reuse_disks)
            else:
                for i, (image, mib, mark) in enumerate(TEST_DISKS):
                    src = disk_image(image, mib, mark)
                    copy = os.path.join(LOGS, "%s.disk%d.img" % (self.name, i))
                    shutil.copy(src, copy)
                    self.disks.append((copy, src))
            blkdebug = os.path.join(LOGS, self.name + ".blkdebug.cfg")
            with open(blkdebug, "w") as f:
                f.write(BLKDEBUG_CONFIG)
            args += ahci_args(fw, [c for c, _ in self.disks], blkdebug)
            if self.config.get("pagefile"):
                args += pagefile_args(self.name, self.config["pagefile"],
                                      self.config.get("pagefile_read_error", False))
        elif self.config.get("disk"):
            image = disk_image(*self.config["disk"])
            with open(image, "rb") as f:          # into the host's page cache
                while f.read(1 << 20):
                    pass
            args += ahci_args(fw, [image])
        elif self.config.get("pagefile"):
            args += ahci_args(fw, []) + pagefile_args(self.name, self.config["pagefile"], False)
        if fw == "uefi":
            vars_copy = os.path.join(LOGS, self.name + ".ovmf-vars.fd")
            shutil.copy(OVMF_VARS, vars_copy)
            args += ["-M", "q35",
                     "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMF_CODE,
                     "-drive", "if=pflash,format=raw,unit=1,file=" + vars_copy]
        else:
            args += ["-M", "pc"]
        args += self.extra_args

        start = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        timer = threading.Timer(TIMEOUT[fw], self._kill, [proc])
        timer.start()
        with open(serial_log, "w", errors="replace") as log:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").replace("\r", "").rstrip("\n")
                # Firmware and GRUB draw with escape sequences; keep the text.
                line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)
                log.write(line + "\n")
                self.lines.append(line)
                if self.ready_ms is None and line.startswith(READY):
                    self.ready_ms = (time.monotonic() - start) * 1000.0
                if any(s in line for s in self.stop_on):
                    proc.kill()
                if qmp_dir and line.startswith(PCI_TREE_END) and self.pci_qemu is None:
                    self.pci_qemu = qmp_query_pci(qmp)
        self.status = proc.wait()
        timer.cancel()
        # The disks are checked now and their copies (11 MiB a boot) dropped
        # unless something is wrong with them.
        self.disk_problems = check_test_disks(self)
        if not self.disk_problems and not self.keep_disks:
            for copy, _ in self.disks:
                os.remove(copy)
        if self.config.get("pagefile"):       # up to the page file's size of real data
            try:
                os.remove(os.path.join(LOGS, self.name + ".pagefile.img"))
            except OSError:
                pass
        if qmp_dir:
            shutil.rmtree(qmp_dir, ignore_errors=True)
        self.seconds = time.monotonic() - start
        self.qemu_log = qemu_log
        return self

    def _kill(self, proc):
        self.timed_out = True
        proc.kill()

    # -- judging ---------------------------------------------------------------

    def resets(self):
        """Triple faults and resets: QEMU's log, its exit status, a second banner."""
        problems = []
        banners = sum(1 for l in self.lines if BOOT_BANNER in l)
        if banners > 1:
            problems.append("the kernel booted %d times (reset)" % banners)
        try:
            with open(self.qemu_log, errors="replace") as f:
                for line in f:
                    if "Triple fault" in line:
                        problems.append("triple fault (see %s)" % self.qemu_log)
                        break
        except OSError:
            pass
        # Under -no-reboot a reset ends QEMU with status 0 (KVM logs no
        # "Triple fault"); the kernel itself only ever exits with 33 or 35.
        if self.status == 0 and not self.timed_out and not problems:
            problems.append("QEMU exited with status 0: the machine reset (triple fault?)")
        return problems

    def stops(self):
        return [m.group(1).upper() for l in self.lines for m in [STOP_RE.search(l)] if m]

    def closing(self):
        """(passed, failed, skipped) from the kernel's closing line, or None."""
        for l in reversed(self.lines):
            m = CLOSING_RE.match(l)
            if m:
                return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        return None

    def results(self):
        """(ok, name, skipped) per result line."""
        return [(m.group(1) is None, m.group(3), m.group(1) is None and m.group(4) is not None)
                for l in self.lines for m in [RESULT_RE.match(l)] if m]

    def counts(self):
        """(passed, failed, skipped) counted from the result lines."""
        results = self.results()
        skipped = sum(1 for ok, _, skip in results if skip)
        failed = sum(1 for ok, _, _ in results if not ok)
        return len(results) - failed - skipped, failed, skipped

    def why_failed(self):
        """None when the boot passed, else the reasons."""
        why = []
        if self.timed_out:
            why.append("timed out after %d s" % TIMEOUT[self.config["firmware"]])
        why += self.resets()
        if self.status != PASS_STATUS and not self.timed_out:
            why.append("QEMU exit status %s (pass is %d)" % (self.status, PASS_STATUS))
        return why or None

    def tail(self, n=25):
        return "\n".join("    | " + l for l in self.lines[-n:])


def run_parallel(boots, jobs):
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda b: b.run(), boots))


def jobs_default():
    return max(1, min(os.cpu_count() or 1, 4))


# ---- test ------------------------------------------------------------------------

def run_summarized(label, args, timeout=600):
    """Run a test program; count its closing "LABEL: N passed, N failed[, N skipped]" line."""
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("%s tests: could not run (%s)" % (label, e))
        return 0, 1, 0
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stdout.write(r.stderr[-3000:])
    m = re.search(r"^%s: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?" % label, r.stdout, re.M)
    if not m:
        print("%s tests: no closing line (exit %d)" % (label, r.returncode))
        return 0, 1, 0
    passed, failed, skipped = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if r.returncode != 0 and failed == 0:
        failed = 1
    return passed, failed, skipped


def run_host():
    return run_summarized("host", [os.path.join(BUILD, "host", "host-tests")])


def run_gdb():
    return run_summarized("gdb", ["sh", os.path.join(ROOT, "tests", "gdb", "run-session.sh")], 300)


def judge_batch(boot):
    """Count one configuration's in-kernel test results: passed, failed, skipped, why."""
    if any(RESET_ARMED in l for l in boot.lines):
        # The pattern selected one reset test alone: the boot ends in a reset.
        why = judge_reset(boot)
        return (0, 1, 0, why) if why else (1, 0, 0, None)
    results = boot.results()
    passed, failed, skipped = boot.counts()
    why = boot.why_failed() or []
    closing = boot.closing()
    if closing is None:
        why.append("no closing 'N passed, N failed, N skipped' line")
    elif closing != (passed, failed, skipped):
        why.append("closing line %s disagrees with %d passed / %d failed / %d skipped lines" %
                   (closing, passed, failed, skipped))
    listed = [l for l in boot.lines if BUGCHECK_TEST_RE.match(l) or RESET_TEST_RE.match(l)]
    expected_stop = any("# bug check as expected" in l for l in boot.lines)
    if boot.stops() and not expected_stop:
        why.append("unexpected bug check 0x%s" % boot.stops()[0])
    if not results and not listed:
        why.append("no test ran")
    why += judge_pci_tree(boot)
    why += boot.disk_problems
    if why and failed == 0:
        failed = 1           # the configuration itself failed
    return passed, failed, skipped, why


def alone_config(test):
    """The configuration a bug-check or reset test boots alone in."""
    suite = test.split(".")[0]
    for pattern, config in BUGCHECK_CONFIG_BY_SUITE.items():
        if fnmatch.fnmatchcase(suite, pattern) and config in {**TEST_CONFIGS, **PAGEFILE_CONFIGS}:
            return {**TEST_CONFIGS, **PAGEFILE_CONFIGS}[config]
    return TEST_CONFIGS.get(BUGCHECK_CONFIG, next(iter(TEST_CONFIGS.values())))


def judge_bugcheck(boot, code):
    why = boot.why_failed() or []
    stops = boot.stops()
    if not stops:
        why.append("no bug check happened")
    elif int(stops[0], 16) != int(code, 16):
        why.append("stopped with 0x%s, expected %s" % (stops[0], code))
    else:
        why += judge_stop_processor(boot)
    if not any(ok for ok, _, _ in boot.results()):
        why.append("the kernel did not report the expected bug check")
    return why


def judge_stop_processor(boot):
    """A test that announces "# bug check on processor N" (N > 0) passes
    only if the blue screen after the STOP line names processor N: the
    screen must say which processor stopped the machine. Processor 0 is not
    checked: on one processor every bug check comes from it."""
    announced = [int(m.group(1)) for l in boot.lines for m in [STOP_PROCESSOR_RE.match(l)] if m]
    if not announced or announced[-1] == 0:
        return []
    n = announced[-1]
    screen = []
    for l in boot.lines:
        if screen or STOP_RE.search(l):
            screen.append(l)
    named = re.compile(r"\bprocessor\s+%d\b" % n, re.I)
    if not any(named.search(l) for l in screen):
        return ["the blue screen does not name processor %d, which stopped the machine" % n]
    return []


def judge_reset(boot):
    """A reset test passes only if the runner itself sees the machine reset."""
    why = []
    if boot.timed_out:
        why.append("timed out after %d s" % TIMEOUT[boot.config["firmware"]])
    if not any(RESET_ARMED in l for l in boot.lines):
        why.append("the kernel never reached the test")
    if boot.stops():
        why.append("bug check 0x%s instead of a reset" % boot.stops()[0])
    if any(RESULT_RE.match(l) for l in boot.lines):
        why.append("the kernel reported a result: the machine did not reset")
    if not boot.resets():
        why.append("the runner saw no reset (QEMU exit status %s)" % boot.status)
    return why


def extra_pattern(suites, pattern):
    """The test pattern for an extra boot, or None to leave it out: its own
    suites under "all", else the user's pattern if that stays inside them."""
    if pattern in ("all", "*"):
        return ",".join(suites)
    if "all" in suites:
        return pattern
    for item in pattern.split(","):
        suite = item.split(".")[0]
        if not any(fnmatch.fnmatchcase(s, suite) or fnmatch.fnmatchcase(suite, s)
                   for s in suites):
            return None
    return pattern


def judge_cpu_check(boot, message):
    """The 32-bit entry printed its refusal and the kernel never started."""
    why = []
    if not any(message in l for l in boot.lines):
        why.append("no '%s' message" % message)
    if any(BOOT_BANNER in l for l in boot.lines):
        why.append("the kernel started")
    if boot.timed_out:
        why.append("timed out")
    return why


def run_cpu_checks(opts, failures):
    cfg = TEST_CONFIGS.get(BUGCHECK_CONFIG, next(iter(TEST_CONFIGS.values())))
    boots = [Boot(name, cfg, "test=boot.*", cpu=cpu, stop_on=[message, BOOT_BANNER])
             for name, (cpu, message) in CPU_CHECK_BOOTS.items()]
    run_parallel(boots, opts.jobs)
    p = f = 0
    for b, (cpu, message) in zip(boots, CPU_CHECK_BOOTS.values()):
        why = judge_cpu_check(b, message)
        if why:
            f += 1
            failures.append("%s (-cpu %s): %s\n%s" % (b.name, cpu, "; ".join(why), b.tail()))
            print("not ok - %s: %s" % (b.name, "; ".join(why)))
        else:
            p += 1
            print("ok - %s (refused, %.1f s)" % (b.name, b.seconds))
    print("cpucheck: %d passed, %d failed" % (p, f))
    return p, f


def cmd_test(opts):
    os.makedirs(LOGS, exist_ok=True)
    total = [0, 0, 0]       # passed, failed, skipped
    failures = []

    def add(counts):
        for i, n in enumerate(counts):
            total[i] += n

    if not opts.no_host:
        add(run_host())

    only = opts.only.split(",") if opts.only else None
    boots = [Boot(c, TEST_CONFIGS[c], "test=" + opts.pattern) for c in TEST_CONFIGS
             if only is None or c in only]
    for name, (config, suites, options) in EXTRA_BOOTS.items():
        pattern = extra_pattern(suites, opts.pattern)
        wanted = name not in ON_REQUEST if only is None else (name in only or config in only)
        if pattern and wanted:
            boots.append(Boot(name, {**TEST_CONFIGS, **PAGEFILE_CONFIGS}[config],
                              "test=%s %s" % (pattern, options)))
    run_parallel(boots, opts.jobs)
    alone_tests = []            # (name, code or None for a reset test)
    for b in boots:
        p, f, k, why = judge_batch(b)
        add((p, f, k))
        print("config %-21s %3d passed, %d failed, %d skipped  (%.1f s)%s" %
              (b.name, p, f, k, b.seconds, "" if not why else "  FAILED: " + "; ".join(why)))
        for ok, name, _ in b.results():
            if not ok:
                failures.append("%s: %s" % (b.name, name))
        if why:
            failures.append("%s: %s\n%s" % (b.name, "; ".join(why), b.tail()))
        if b.name == BUGCHECK_CONFIG or not alone_tests:
            listed = []
            for l in b.lines:
                m = BUGCHECK_TEST_RE.match(l)
                if m:
                    listed.append(m.groups())
                m = RESET_TEST_RE.match(l)
                if m:
                    listed.append((m.group(1), None))
            if listed:
                alone_tests = listed

    if alone_tests:
        bboots = [Boot(("reset-" if code is None else "bugcheck-") + name, alone_config(name),
                       "test=" + name)
                  for name, code in alone_tests]
        run_parallel(bboots, opts.jobs)
        counts = {"bugcheck": [0, 0], "reset": [0, 0]}
        for b, (name, code) in zip(bboots, alone_tests):
            kind = "reset" if code is None else "bugcheck"
            why = judge_reset(b) if code is None else judge_bugcheck(b, code)
            expects = "a reset" if code is None else code
            if why:
                counts[kind][1] += 1
                failures.append("%s %s (expects %s): %s\n%s" %
                                (kind, name, expects, "; ".join(why), b.tail()))
                print("not ok - %s %s expects %s: %s" % (kind, name, expects, "; ".join(why)))
            else:
                counts[kind][0] += 1
                seen = b.resets()[0] if code is None else "stopped as expected"
                print("ok - %s %s (%s, %.1f s)" % (kind, name, seen if code is None
                                                  else "%s %s" % (code, seen), b.seconds))
        for kind, (p, f) in counts.items():
            if p or f:
                print("%s: %d passed, %d failed" % (kind, p, f))
                add((p, f, 0))

    if opts.pattern in ("all", "*") or opts.pattern.startswith("cpucheck"):
        p, f = run_cpu_checks(opts, failures)
        add((p, f, 0))

    # Persistence: two boots on one disk image (written, then read back).
    if (opts.pattern in ("all", "*") or opts.pattern.startswith("ahci")) and \
            (only is None or "ahci-persist" in only):
        p, f = run_persist()
        add((p, f, 0))
        if f:
            failures.append("ahci-persist (build/test-logs/ahci-persist-*.serial.log)")

    # The network peers: Mica's e1000 and network layer against the host.
    if (opts.pattern in ("all", "*") or opts.pattern.startswith("net")) and \
            (only is None or any(n in only for n in NET_BOOTS)):
        p, f = run_net(only)
        add((p, f, 0))
        if f:
            failures.append("net peers: %d failed (build/test-logs/net-*.serial.log)" % f)

    # The kd> shell: one boot without test=, driven through the serial port.
    if (opts.pattern in ("all", "*") or opts.pattern.startswith("kd")) and \
            (only is None or "kd-shell" in only):
        p, f, k = run_kd()
        add((p, f, k))
        if f:
            failures.append("kd-shell: %d checks failed (build/test-logs/kd-shell.serial.log)" % f)

    if not opts.no_gdb:
        add(run_gdb())

    if failures:
        print("\nFailures (logs in build/test-logs/):")
        for f in failures:
            print("  - " + f)
    print("%d passed, %d failed, %d skipped" % tuple(total))
    return 0 if total[1] == 0 and total[0] + total[2] > 0 else 1


# ---- the kd> shell -----------------------------------------------------------------

KD_CONFIG = "bios-128m"
# "kd> " from the shell thread; "0: kd> " (the processor) when broken in.
KD_PROMPT_RE = re.compile(r"\n((?:\d+: )?kd> )")
KD_TIMEOUT = 60             # seconds for the whole session
KD_ERROR_RE = re.compile(r"^error: ")


class KdSession:
    """A boot without test=: the runner types at the kd> prompt on QEMU's
    serial port (stdin) and reads what each command printed up to the next
    prompt. Paging is never on, so the output is whole."""

    def __init__(self, name="kd-shell", cmdline="kd=on", smp=1, gdb_port=None, monitor=False):
        self.name, self.cmdline, self.smp, self.gdb_port = name, cmdline, smp, gdb_port
        # QEMU's human monitor on a socket, for `sendkey` (the PS/2 keyboard).
        self.monitor = os.path.join(LOGS, name + ".monitor.sock") if monitor else None
        self.buf = b""
        self.cond = threading.Condition()
        self.proc = None
        self.prompt = None
        self.log = []
        self.status = None

    def start(self):
        config = TEST_CONFIGS[KD_CONFIG]
        iso = make_iso(self.cmdline)
        args = ["qemu-system-x86_64", "-cpu", QEMU_CPU, "-accel", accel(self.smp), "-smp", str(self.smp),
                "-m", config["mem"], "-cdrom", iso, "-display", "none", "-monitor", "none",
                "-serial", "stdio", "-no-reboot", "-M", "pc",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-d", qemu_debug(), "-D", os.path.join(LOGS, self.name + ".qemu.log")]
        args += PCI_TEST_DEVICES        # a bridge's bus and edu's stacked FDO for !pcitree, !devobj
        if self.monitor:
            if os.path.exists(self.monitor):
                os.remove(self.monitor)
            args[args.index("-monitor") + 1] = "unix:%s,server=on,wait=off" % self.monitor
        if self.gdb_port:
            args += ["-gdb", "tcp:127.0.0.1:%d" % self.gdb_port]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.timer = threading.Timer(KD_TIMEOUT, self.proc.kill)
        self.timer.start()
        threading.Thread(target=self._reader, daemon=True).start()
        return self.wait_prompt()

    def _reader(self):
        while True:
            data = self.proc.stdout.read1(4096)
            with self.cond:
                if not data:
                    self.buf += b"\0EOF"
                    self.cond.notify_all()
                    return
                self.buf += data
                self.cond.notify_all()

    def wait_prompt(self):
        """The text up to the next prompt (consumed), or None if QEMU ended."""
        with self.cond:
            while True:
                text = self.buf.decode("utf-8", "replace")
                m = KD_PROMPT_RE.search(text)
                if m:
                    out = text[:m.start()]
                    self.prompt = m.group(1)
                    self.buf = text[m.end():].encode()
                    return out.replace("\r", "")
                if text.endswith("\0EOF"):
                    return None
                self.cond.wait(1)

    def wait_text(self, needle, timeout=20):
        """The text up to and including needle (consumed), or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                text = self.buf.decode("utf-8", "replace")
                i = text.find(needle)
                if i >= 0:
                    self.buf = text[i + len(needle):].encode()
                    return text[:i + len(needle)].replace("\r", "")
                if text.endswith("\0EOF") or time.monotonic() > deadline:
                    return None
                self.cond.wait(1)

    def sendkey(self, *keys):
        """Press keys on the PS/2 keyboard (QEMU's `sendkey`, e.g. "ctrl-alt-sysrq")."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(self.monitor)
            sock.recv(4096)                     # the banner and the first (qemu) prompt
            for k in keys:
                sock.sendall(("sendkey %s\n" % k).encode())
                data = b""
                while not data.endswith(b"(qemu) "):
                    data += sock.recv(4096)
                time.sleep(0.05)                # press and release are 100 ms apart by default

    def send(self, keys):
        self.proc.stdin.write(keys.encode())
        self.proc.stdin.flush()

    def command(self, keys, enter=True):
        """Type keys (and Enter); what the command printed (the echo removed)."""
        self.proc.stdin.write(keys.encode() + (b"\r" if enter else b""))
        self.proc.stdin.flush()
        out = self.wait_prompt()
        self.log.append((keys, out))
        if out is None or not enter:
            return out
        return out.split("\n", 1)[1] if "\n" in out else ""

    def finish(self, keys="q"):
        """Send the last command (q leaves QEMU) and collect the exit status."""
        self.proc.stdin.write(keys.encode() + b"\r")
        self.proc.stdin.flush()
        try:
            self.status = self.proc.wait(KD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.status = self.proc.wait()
        self.timer.cancel()
        with self.cond:
            tail = self.buf.decode("utf-8", "replace").replace("\0EOF", "")
        self.log.append((keys, tail))
        with open(os.path.join(LOGS, self.name + ".serial.log"), "w") as f:
            for k, out in self.log:
                f.write("kd> %r\n%s\n" % (k, out))
        return self.status


def has(out, *needles):
    return out is not None and all(n in out for n in needles)


def one_error(out, needle):
    """Exactly one line, an error line that says needle."""
    lines = [l for l in (out or "").split("\n") if l.strip()]
    return len(lines) == 1 and KD_ERROR_RE.match(lines[0]) is not None and needle in lines[0]


def kd_checks(kd):
    """Drive the shell against known state; yields (name, ok, detail)."""
    out = kd.command("help")
    yield "help lists grouped commands", has(out, "memory manager:", "kernel:", "!pte", "!pfn",
                                             ".alloc", "help"), out
    # Known state: a nonpaged pool block with a fresh tag.
    out = kd.command(".alloc pool 0n200 Kdts")
    m = re.search(r"pool: ([0-9a-f]{16}), 200 bytes, physical ([0-9a-f]{16})", out or "")
    yield ".alloc pool prints the block", m is not None, out
    if not m:
        return
    va, phys = int(m.group(1), 16), int(m.group(2), 16)
    out = kd.command("!poolused Kdts")
    yield "!poolused shows the tag's one block", \
        re.search(r"^ Kdts +1 +(\d+) +0 +0$", out or "", re.M) is not None, out
    out = kd.command("!poolfind Kdts")
    yield "!poolfind finds the block", has(out, "%016X" % va, "Kdts", "1 allocation with tag"), out
    out = kd.command("!pool %x" % va)
    yield "!pool marks the block with *", \
        re.search(r"^\*%016X size: +[0-9a-f]+ previous size: +[0-9a-f]+ +\(Allocated\) Kdts" %
                  (va - 16), out or "", re.M) is not None, out
    out = kd.command("db %x L 0n16" % va)
    yield "db shows the 0x5A fill", has(out, "5a 5a 5a 5a 5a 5a 5a 5a-5a 5a 5a 5a 5a 5a 5a 5a",
                                        "ZZZZZZZZZZZZZZZZ"), out
    out = kd.command("dq %x L 2" % va)
    yield "dq shows quad words", has(out, "5a5a5a5a5a5a5a5a 5a5a5a5a5a5a5a5a"), out
    out = kd.command("!pte %x" % va)
    pfns = re.findall(r"pfn ([0-9a-f]+) +([-A-Z]{11})", out or "")
    ptes = re.findall(r"PTE at ([0-9a-f]{16})", out or "")
    yield "!pte walks four levels to the block's frame", \
        len(pfns) == 4 and int(pfns[3][0], 16) == phys >> 12 and pfns[3][1].endswith("KW-V") and \
        has(out, "PXE at", "PPE at", "PDE at"), out
    if ptes and pfns:
        out = kd.command("!pfn %s" % pfns[-1][0])
        yield "!pfn points back at the PTE", \
            re.search(r"pteaddress %s" % ptes[0].upper(), out or "") is not None and \
            has(out, "Active"), out
        out = kd.command("!pfn %x" % va)
        yield "!pfn of a VA is its frame's", has(out, "PFN %08X" % (phys >> 12)), out
    out = kd.command(".free %x" % va)
    yield ".free frees it", has(out, "freed"), out
    out = kd.command("!poolused Kdts")
    yield "!poolused after .free shows none", \
        re.search(r"^ Kdts +0 +0 +0 +0$", out or "", re.M) is not None, out
    # Contiguous memory: the frames are consecutive.
    out = kd.command(".alloc contig 2000")
    m = re.search(r"contig: ([0-9a-f]{16}), 8192 bytes, physical ([0-9a-f]{16})", out or "")
    yield ".alloc contig", m is not None, out
    if m:
        cva, cphys = int(m.group(1), 16), int(m.group(2), 16)
        out = kd.command("!pte %x" % (cva + 0x1000))
        pf = re.findall(r"pfn ([0-9a-f]+)", out or "")
        yield "!pte: contiguous pages are consecutive frames", \
            pf and int(pf[-1], 16) == (cphys >> 12) + 1, out
        out = kd.command(".free %x" % cva)
        yield ".free contig", has(out, "freed"), out
    out = kd.command(".alloc pages 3000")
    m = re.search(r"pages: ([0-9a-f]{16}), 12288 bytes", out or "")
    mdl = re.search(r"MDL ([0-9a-f]{16}), 3 pages", out or "")
    yield ".alloc pages maps an MDL", m is not None and mdl is not None, out
    if m and mdl:
        out = kd.command("!mdl %s" % mdl.group(1))
        arr = re.search(r"PFN array: ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)$", out or "", re.M)
        yield "!mdl shows 3 pages mapped at the VA", arr is not None and \
            has(out, "3 pages", "MappedSystemVa %s" % m.group(1), "ByteCount 3000"), out
        if arr:
            out = kd.command("!pte %x" % (int(m.group(1), 16) + 0x2000))
            pf = re.findall(r"pfn ([0-9a-f]+)", out or "")
            yield "!pte of the MDL's third page is its third PFN", pf and pf[-1] == arr.group(3), out
        out = kd.command("!mdl %x" % (int(mdl.group(1), 16) + 8))
        yield "!mdl of what is no MDL is an error", one_error(out, "does not look like an MDL"), out
        yield from kd_dt_checks(kd, mdl.group(1))
    if m:
        out = kd.command(".free %s" % m.group(1))
        yield ".free pages", has(out, "freed"), out
    out = kd.command(".alloc pool 100 Kdpg paged")
    m = re.search(r"pool: ([0-9a-f]{16})", out or "")
    yield ".alloc pool paged", m is not None, out
    if m:
        out = kd.command(".touch %s" % m.group(1))
        yield ".touch reads the paged block", has(out, "%s: 5a" % m.group(1)), out
        kd.command(".free %s" % m.group(1))
    out = kd.command(".map fee00000 1000 0")
    m = re.search(r"map: ([0-9a-f]{16}), 4096 bytes, physical 00000000fee00000", out or "")
    yield ".map maps the local APIC uncached", m is not None, out
    if m:
        out = kd.command("!pte %s" % m.group(1))
        yield "!pte of the mapping: frame fee00, N flag", has(out, "pfn fee00") and \
            re.search(r"pfn fee00 +-+[A-Z-]*N", out or "") is not None, out
        kd.command(".free %s" % m.group(1))
    out = kd.command(".alloc lookaside 0n48 Kdlk")
    m = re.search(r"lookaside: ([0-9a-f]{16}), entries of 48 bytes", out or "")
    yield ".alloc lookaside", m is not None, out
    if m:
        out = kd.command("!lookaside %s" % m.group(1))
        yield "!lookaside shows the list's one allocate and free", \
            has(out, "Tag Kdlk", "Size           =       48", "TotalAllocates =        1",
                "TotalFrees =        1", "AllocateMisses =        1") and \
            re.search(r"Cached = 1\b", out or "") is not None, out
        out = kd.command("!timer")
        yield "!timer lists the lookaside scan's periodic timer", \
            re.search(r"^[0-9a-f]{16} +-?\d+ +1000  [0-9a-f]{16}   ExpLookaside\S+\+0x0$", out or "", re.M) \
            is not None and has(out, "Total Timers:"), out
        out = kd.command(".free %s" % m.group(1))
        yield ".free deletes the lookaside list", has(out, "freed"), out
        out = kd.command("!lookaside %s" % m.group(1))
        yield "!lookaside of a deleted list is an error", one_error(out, "not a lookaside list"), out
    yield from kd_io_checks(kd)
    yield from kd_phys_checks(kd)
    yield from kd_paging_checks(kd)
    out = kd.command("!pcr")
    prcb = kd.command("!prcb")
    cur = re.search(r"PRCB for Processor 0 at ([0-9a-f]{16})", prcb or "")
    yield "!pcr: the KPRCB !prcb shows, with the GDT and TSS GDTR and TR name", cur is not None and \
        has(out, "KPCR for Processor 0 at %s:" % cur.group(1), "Prcb: %s" % cur.group(1),
            "Irql: 0000000000000000") and \
        re.search(r"GDT: ffffffff8[0-9a-f]{7}\n\s+TSS: ffffffff8", out or "") is not None, out
    out = kd.command("!analyze -show 50 fffff8a000001000 2 ffffffff80101234 0")
    yield "!analyze -show explains each argument of a stop code", \
        has(out, "PAGE_FAULT_IN_NONPAGED_AREA (50)", "Arg1: fffff8a000001000, memory referenced",
            "Arg2: 0000000000000002, 0 read, 2 write, 10 execute",
            "Arg3: ffffffff80101234, address of the instruction that referenced memory"), out
    out = kd.command("!analyze -show c2 7 0 5a5a 1000")
    yield "!analyze -show: a subtype's own meanings (BAD_POOL_CALLER 7: a double free)", \
        has(out, "BAD_POOL_CALLER (c2)", "freed twice", "Arg3: 0000000000005a5a, the pool header's contents",
            "Arg4: 0000000000001000, the block's address"), out
    out = kd.command("!analyze")
    yield "!analyze with no bug check is an error", one_error(out, "no bug check has happened"), out
    out = kd.command(".bench irql")
    yield ".bench runs a benchmark in the shell", \
        re.search(r"^bench irql\.raise_lower \d+ cycles$", out or "", re.M) is not None and \
        has(out, "bench tsc.hz", "kbench: 1 routine run"), out
    out = kd.command(".bench nosuch")
    yield "malformed '.bench nosuch' gives one error line", one_error(out, "no benchmark matches"), out
    out = kd.command("!ready")
    yield "!ready", out is not None and ("No threads in READY state" in out or "Ready Threads at" in out), out
    out = kd.command("!dpcs")
    yield "!dpcs", has(out, "CPU Type", " 0: "), out
    # Totals agree.
    out = kd.command("!vm")
    phys_pages = re.search(r"Physical Memory: +(\d+)", out or "")
    yield "!vm", phys_pages is not None and has(out, "Available Pages:", "Free System PTEs:",
                                                "NonPagedPool Usage:", "Commit limit:"), out
    out = kd.command("!memusage")
    total = re.search(r"TOTAL: +(\d+)", out or "")
    yield "!memusage totals the PFN database = !vm's physical memory", \
        total and phys_pages and total.group(1) == phys_pages.group(1), out
    out = kd.command("!sysptes")
    yield "!sysptes", has(out, "Total System Ptes", "free ptes"), out
    out = kd.command("!runtree 0 1000")
    yield "!runtree", has(out, "Free-run tree:", "Free runs in PFN 0-1000"), out
    out = kd.command("!irql")
    yield "!irql: the shell runs at PASSIVE_LEVEL", \
        has(out, "Debugger saved IRQL for processor 0x0 -- 0 (LOW_LEVEL)"), out
    out = kd.command("")
    yield "Enter repeats the last command", has(out, "Debugger saved IRQL for processor 0x0"), out
    out = kd.command("!prcb")
    yield "!prcb", has(out, "PRCB for Processor 0", "Current IRQL -- 0"), out
    out = kd.command("!thread")
    yield "!thread: the shell's own thread", has(out, "RUNNING", "KdpShellThread"), out
    out = kd.command("!thread *")
    yield "!thread * lists the threads", has(out, "IopWorkerThread", "KdpShellThread"), out
    out = kd.command("k")
    yield "k is symbolized down to the shell thread", \
        has(out, "KdpCmdK+", "KdpExecuteLine+", "KdpShellLoop+", "KiThreadStartup+"), out
    out = kd.command("r")
    yield "r", has(out, "cr3=", "rsp="), out
    out = kd.command("lm")
    yield "lm", has(out, "ffffffff80", "mica"), out
    out = kd.command("!idt")
    m = re.search(r"^0e:\s+(ffffffff8[0-9a-f]+) \S+\+0x", out or "", re.M)
    yield "!idt shows symbolized handlers", m is not None, out
    if m:
        out = kd.command("!pte %s" % m.group(1))
        flags = re.findall(r"pfn [0-9a-f]+ +([-A-Z]{11})", out or "")
        yield "!pte of kernel code: read-only, executable (K R E V)", \
            len(flags) >= 2 and flags[-1][7:] == "KREV", out
    # Line editing: backspace, Ctrl-U, history.
    out = kd.command("!irqX\x7fl")
    yield "backspace edits the line", has(out, "Debugger saved IRQL"), out
    out = kd.command("garbage\x15lm")
    yield "Ctrl-U erases the line", has(out, "mica") and "garbage" not in out, out
    kd.command("!sysptes")
    out = kd.command("\x1b[A\x1b[A")
    yield "up arrow recalls history", has(out, "start             end"), out
    # Malformed input: one error line each, never a fault.
    for keys, needle in [("foo", "unknown command 'foo'"), ("!pte zz", "'zz' is not a number"),
                         ("db 0", "0 is not mapped"), ("dq fffff6fb7dbed000 L 0", "count must be"),
                         ("!pfn 7fffffffff", "is not RAM"), ("!pool 1234", "is not mapped"),
                         ("!pte 1234567812345678", "not a canonical"),
                         ("!pool fffff80000000000", "is not mapped"),
                         (".touch fffff88fff000000", "would bug check 0x50"),
                         (".touch 1000", "raised c0000005"),
                         (".free 1234", "was not allocated"), ("!poolfind toolong", "not a pool tag"),
                         ("!thread 1234", "is not a thread"), ("!irql 40", "has not started"),
                         (".alloc pool 0 Kdzz", "size must be")]:
        out = kd.command(keys)
        yield "malformed %r gives one error line" % keys, one_error(out, needle), out
    # !net: the e1000 (the -M pc default NIC) and the layer, through their IOCTLs.
    out = kd.command("!net")
    yield "!net shows the adapter and the layer", has(out, "\\Device\\E1000_0: MAC 52:54:00:12:34:56",
                                                    "receive buffers out", "address 10.0.2.15/24"), out
    out = kd.command("!net 3")
    yield "!net of a missing adapter is one error", one_error(out, "no such adapter"), out
    out = kd.command(".test printf.*")
    yield ".test runs in-kernel tests", out is not None and \
        re.search(r"^\d+ passed, 0 failed", out, re.M) is not None and "ok 1 - printf." in out, out
    if kd.gdb_port:
        yield from kd_gdb_checks(kd)
    # Break-in: Ctrl-C at the idle prompt stops processor 0 in its clock interrupt.
    out = kd.command("\x03", enter=False)
    yield "Ctrl-C breaks in (prompt 0: kd>)", kd.prompt == "0: kd> " and \
        has(out, "Break instruction exception", "processor 0 stopped at"), out
    out = kd.command("!irql")
    yield "!irql broken in: the IRQL before the break", \
        re.search(r"Debugger saved IRQL for processor 0x0 -- [0-2] \(", out or "") is not None, out
    out = kd.command("r")
    yield "r broken in: the interrupted registers", has(out, "RIP=", "RFLAGS=", "CR3="), out
    out = kd.command("k")
    yield "k broken in: the interrupted stack", out is not None and \
        re.search(r"#0 +[0-9a-f]{16} \S+\+0x", out) is not None and "KdpCmdK" not in out, out
    out = kd.command(".alloc pool 10 Kdbi")
    yield "broken in, .alloc is refused", one_error(out, "needs the kd> thread"), out
    out = kd.command("!pte %x" % 0xfffff6fb7dbed000)
    yield "broken in, !pte works", has(out, "PXE at"), out
    out = kd.command("g")
    yield "g resumes and the kd> thread prompts again", kd.prompt == "kd> ", out
    out = kd.command("!irql")
    yield "after g the shell thread runs", has(out, "-- 0 (LOW_LEVEL)"), out
    out = kd.command("g")
    yield "g when not broken in is an error", one_error(out, "the machine is running"), out
    # The shell after a bug check.
    out = kd.command(".crash")
    yield ".crash: blue screen, then the shell", kd.prompt == "0: kd> " and \
        has(out, "*** STOP: 0x000000E2", "MANUALLY_INITIATED_CRASH", "inspection only"), out
    out = kd.command("!analyze -v")
    yield "!analyze names the bug check and its stack", \
        has(out, "MANUALLY_INITIATED_CRASH (e2)", "asked for on purpose", "Arg1: 0000000000000000, 0\n",
            "FAULTING_IP:",
            "KdpCmdCrash+", "KdpExecuteLine+") and \
        re.search(r"FAULTING_IP:\n[0-9a-f]{16} KeBugCheckEx\+", out) is not None, out
    out = kd.command("g")
    yield "g after a bug check is refused", one_error(out, "cannot be continued"), out
    out = kd.command("!vm")
    yield "!vm after a bug check", has(out, "Physical Memory:"), out
    out = kd.command(".test printf.*")
    yield ".test after a bug check is refused", one_error(out, "not after a bug check"), out


def kd_dt_checks(kd, mdl):
    """dt: WinDbg's layout, offsets from the generated table, values at an address."""
    out = kd.command("dt MMPFN")
    yield "dt MMPFN: WinDbg's layout", has(out, "mica!_MMPFN\n", "   +0x000 u1               : <unnamed-tag>",
                                            "   +0x008 PteAddress       : Ptr64 _MMPTE",
                                            "   +0x020 OriginalPte      : _MMPTE"), out
    out = kd.command("dt _MMPTE_HARDWARE")
    yield "dt shows bit fields as Pos, Bits", has(out, "   +0x000 Valid            : Pos 0, 1 Bit\n",
                                                   ": Pos 12, "), out
    out = kd.command("dt MDL %s" % mdl)
    yield "dt MDL ADDR shows the values", has(out, "   +0x028 ByteCount        : 0x3000",
                                              "   +0x008 Size             : 0n") and \
        re.search(r"\+0x018 MappedSystemVa   : 0xffff[0-9a-f]{4}`[0-9a-f]{8}", out or "") is not None, out
    for keys, needle in [("dt NOSUCH", "no type 'NOSUCH'"), ("dt MDL 1234", "1234 is not mapped"),
                         ("dt", "usage: dt")]:
        out = kd.command(keys)
        yield "malformed %r gives one error line" % keys, one_error(out, needle), out


def kd_io_checks(kd):
    """!drvobj, !devobj, !irp, !pcitree, .alloc mdl/irp against the boot's
    devices (edu behind the PCI bus driver, a bridge's bus) and fresh objects."""
    out = kd.command("!drvobj")
    yield "!drvobj lists the drivers", has(out, "\\Driver\\Pci", "\\Driver\\Edu"), out
    out = kd.command("!drvobj edu 7")
    devs = re.findall(r"^([0-9a-f]{16})\s*$", out or "", re.M)
    yield "!drvobj edu 7: its device, entry points, dispatch", \
        has(out, "Driver object (", ") is for:\n \\Driver\\Edu", "Device Object list:",
            "DriverEntry:   ", "AddDevice:     ", "[1b] IRP_MJ_PNP") and len(devs) == 1, out
    out = kd.command("!devobj \\Device\\Edu0")
    lower = re.search(r"AttachedTo \(Lower\) ([0-9a-f]{16}) \\Driver\\Pci", out or "")
    yield "!devobj by name: the FDO on the PCI PDO", lower is not None and devs and \
        has(out, "Device object (%s) is for:" % devs[0], "\\Driver\\Edu DriverObject"), out
    if lower:
        out = kd.command("!devobj %s" % lower.group(1))
        yield "!devobj of the PDO: edu's FDO above", \
            has(out, "AttachedDevice (Upper) %s \\Driver\\Edu" % devs[0], "\\Driver\\Pci"), out
    out = kd.command("!pcitree")
    yield "!pcitree: edu on bus 0, virtio-rng behind the bridge on bus 1", \
        re.search(r"^  \(d=4,  f=0\) 123411e8 devext [0-9a-f]{16} devstack %s " %
                  (devs[0] if devs else "x"), out or "", re.M) is not None and \
        re.search(r"^  Bus 0x1\n    \(d=3,  f=0\) 1af41005 ", out or "", re.M) is not None and \
        has(out, "0604 PCI-PCI Bridge", "Total PCI functions ="), out
    out = kd.command(".alloc irp 3")
    m = re.search(r"irp: ([0-9a-f]{16}), 3 stack locations", out or "")
    yield ".alloc irp", m is not None, out
    if m:
        out = kd.command("!irp %s" % m.group(1))
        yield "!irp: 3 stacks, none current yet", \
            has(out, "Irp is active with 3 stacks 4 is current", "No System Buffer") and \
            (out or "").count("[IRP_MJ_CREATE(0), N/A(0)]") == 3, out
        out = kd.command("dt IRP %s" % m.group(1))
        yield "dt IRP: StackCount and CurrentLocation", \
            has(out, "StackCount       : 0n3", "CurrentLocation  : 0n4"), out
        out = kd.command(".free %s" % m.group(1))
        yield ".free irp", has(out, "freed"), out
    out = kd.command(".alloc mdl 2100")
    m = re.search(r"mdl: ([0-9a-f]{16}) describes ([0-9a-f]{16}), 8448 bytes, 3 pages", out or "")
    yield ".alloc mdl", m is not None, out
    if m:
        out = kd.command("!mdl %s" % m.group(1))
        yield "!mdl of .alloc mdl: 3 pages, ByteCount 2100", has(out, "3 pages", "ByteCount 2100"), out
        out = kd.command(".free %s" % m.group(1))
        yield ".free mdl", has(out, "freed"), out
        out = kd.command("!poolused Kdmd")
        yield ".free mdl frees its buffer too", re.search(r"^ Kdmd +0 +0 ", out or "", re.M) is not None, out
    for keys, needle in [("!devobj 1234", "not a device object"), ("!drvobj nosuch", "no driver 'nosuch'"),
                         ("!irp fffff80000000000", "is not an IRP"), (".alloc irp 0n17", "1 to 16")]:
        out = kd.command(keys)
        yield "malformed %r gives one error line" % keys, one_error(out, needle), out


def kd_phys_checks(kd):
    """!contig and !memmap see a fresh 64-page contiguous allocation."""
    out = kd.command(".alloc contig 40000")
    m = re.search(r"contig: ([0-9a-f]{16}), 262144 bytes, physical ([0-9a-f]{16})", out or "")
    yield ".alloc contig 64 pages", m is not None, out
    if not m:
        return
    va, first = m.group(1), int(m.group(2), 16) >> 12
    out = kd.command("!contig")
    yield "!contig lists the run: PFNs, pages, physical, VA", \
        re.search(r"^  %08x   %08x        64  %016x  %s$" % (first, first + 63, first << 12, va),
                  out or "", re.M) is not None and has(out, "longest free run"), out
    out = kd.command("!memmap 0n16")
    cells = {}
    for row, line in re.findall(r"^([0-9a-f]{8}) (\S+)$", out or "", re.M):
        for i, c in enumerate(line):
            cells[int(row, 16) + 16 * i] = c
    inside = [p for p in range(first, first + 64) if p % 16 == 0 and p + 15 < first + 64]
    legend = re.findall(r"^  (\S) .+? +(\d+)$", out or "", re.M)
    yield "!memmap: the run's groups are C", len(inside) >= 3 and \
        all(cells.get(p) == "C" for p in inside) and int(dict(legend).get("C", 0)) >= 64, out
    vm = kd.command("!vm")
    phys = re.search(r"Physical Memory: +(\d+)", vm or "")
    yield "!memmap's RAM pages add up to !vm's physical memory", phys is not None and \
        sum(int(n) for c, n in legend if c != ".") == int(phys.group(1)), out
    out = kd.command(".free %s" % va)
    out = kd.command("!contig")
    yield "!contig after .free: the run is gone", out is not None and "%08x   " % first not in out, out


def kd_paging_checks(kd):
    """The pager: off when a program drives (nothing answered the shell's
    terminal-size query at boot); on when a terminal answers it."""
    out = kd.command(".more")
    yield "paging is off when a program drives the shell", has(out, "paging off"), out
    kd.send(".more detect\r")
    query = kd.wait_text("\x1b[6n")
    yield "the shell asks the terminal where its cursor is (ESC [6n)", query is not None, query
    kd.send("\x1b[6;80R")                    # a 6-row terminal: pages of 5 lines
    out = kd.wait_prompt()
    yield ".more detect: paging on from the terminal's answer", has(out, "paging on: 5 lines"), out
    kd.send("!drvobj pci 7\r")
    page = kd.wait_text("--More--")
    lines = (page or "").split("\n")[1:]      # the echoed command line first
    yield "a page of 5 lines, then --More--", page is not None and len(lines) == 6 and \
        lines[0] == "Driver object (" + lines[0][15:31] + ") is for:" and lines[-1] == "--More--", page
    kd.send(" ")
    page = kd.wait_text("--More--")
    yield "Space: the next page", page is not None and len(page.split("\n")) == 6, page
    kd.send("q")
    out = kd.wait_text("kd> ")                # after the erased --More--, not after a newline
    yield "q at --More-- drops the rest of the output", out is not None and "IRP_MJ_PNP" not in out and \
        out.strip() == "kd>", out
    out = kd.command(".more off")
    yield ".more off", has(out, "paging off"), out
    out = kd.command("!drvobj pci 7")
    yield "with paging off the whole output comes", has(out, "[1b] IRP_MJ_PNP") and "--More--" not in out, out


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gdb_batch(port, commands, timeout=120):
    """GDB attached to the running QEMU: each command's output, in order."""
    args = ["gdb", "-q", "-nx", "-batch", "-iex", "set auto-load safe-path /",
            "-x", os.path.join(ROOT, "tests", "gdb", "mica.gdb"),
            "-ex", "target remote 127.0.0.1:%d" % port]
    for c in commands:
        args += ["-ex", "echo @@@\\n", "-ex", c]
    args += ["-ex", "echo @@@\\n", "-ex", "detach", ELF]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    parts = (r.stdout + r.stderr).split("@@@\n")
    return [p.rstrip("\n") for p in parts[1:len(commands) + 1]], r.stdout + r.stderr


def same_lines(a, b):
    norm = lambda t: [l.rstrip() for l in (t or "").strip("\n").split("\n")]
    return a is not None and b is not None and norm(a) == norm(b)


def kd_gdb_checks(kd):
    """GDB's mica-* commands print what the shell prints for the same state."""
    out = kd.command(".alloc pool 0n64 Kdgb")
    m = re.search(r"pool: ([0-9a-f]{16}), 64 bytes, physical ([0-9a-f]{16})", out or "")
    yield ".alloc pool for the GDB comparison", m is not None, out
    if not m:
        return
    va, pfn = m.group(1), "%x" % (int(m.group(2), 16) >> 12)
    threads = kd.command("!thread *")
    worker = re.search(r"^THREAD ([0-9a-f]{16}) .* WAIT .*Start IopWorkerThread", threads or "", re.M)
    worker = worker.group(1) if worker else "0"
    shell = {"pte": kd.command("!pte " + va), "pfn": kd.command("!pfn " + pfn),
             "vm": kd.command("!vm"), "pte-text": kd.command("!pte fffffa8000000000"),
             "pool": kd.command("!pool " + va), "poolused": kd.command("!poolused Kdgb"),
             "memusage": kd.command("!memusage"), "thread": kd.command("!thread " + worker),
             "memmap": kd.command("!memmap")}
    png = os.path.join(LOGS, "kd-memmap.png")
    if os.path.exists(png):
        os.remove(png)
    gdb_commands = ["mica-pte " + va, "mica-pfn " + pfn, "mica-vm", "mica-pte fffffa8000000000",
                    "mica-irql 0", "mica-memmap " + png, "print MmHighestPhysicalPage",
                    "mica-pool " + va, "poolused Kdgb", "memusage", "mica-thread " + worker, "pte " + va]
    try:
        outs, whole = gdb_batch(kd.gdb_port, gdb_commands)
    except subprocess.TimeoutExpired:
        yield "GDB attaches to the running kernel", False, "gdb timed out"
        return
    with open(os.path.join(LOGS, "kd-gdb.log"), "w") as f:
        f.write(whole)
    yield "GDB attaches to the running kernel", len(outs) == len(gdb_commands), whole
    if len(outs) != len(gdb_commands):
        return
    yield "mica-pte prints what !pte prints", same_lines(outs[0], shell["pte"]), \
        "gdb:\n%s\nshell:\n%s" % (outs[0], shell["pte"])
    yield "mica-pfn prints what !pfn prints", same_lines(outs[1], shell["pfn"]), \
        "gdb:\n%s\nshell:\n%s" % (outs[1], shell["pfn"])
    yield "mica-vm prints what !vm prints", same_lines(outs[2], shell["vm"]), \
        "gdb:\n%s\nshell:\n%s" % (outs[2], shell["vm"])
    yield "mica-pte of the PFN database's page", same_lines(outs[3], shell["pte-text"]), \
        "gdb:\n%s\nshell:\n%s" % (outs[3], shell["pte-text"])
    for i, key, name in [(7, "pool", "mica-pool prints what !pool prints"),
                         (8, "poolused", "poolused (alias of mica-poolused) prints what !poolused prints"),
                         (9, "memusage", "memusage (alias of mica-memusage) prints what !memusage prints"),
                         (10, "thread", "mica-thread prints what !thread prints (a waiting worker)"),
                         (11, "pte", "pte (alias of mica-pte) prints what !pte prints")]:
        ok = same_lines(outs[i], shell[key]) and "error" not in outs[i].lower()
        if key == "poolused":
            ok = ok and re.search(r"^ Kdgb +1 +\d+ +0 +0$", outs[i], re.M) is not None
        if key == "pool":
            ok = ok and "*" in outs[i]
        yield name, ok, "gdb:\n%s\nshell:\n%s" % (outs[i], shell[key])
    yield "mica-irql", re.match(r"Debugger saved IRQL for processor 0x0 -- \d+ \(\w+\)$", outs[4]) \
        is not None, outs[4]
    # The picture: a valid PNG, 256 pixels a row, one pixel per page up to the highest PFN.
    ok, why = False, outs[5]
    try:
        highest = int(re.search(r"= (\d+)", outs[6]).group(1))
        with open(png, "rb") as f:
            data = f.read()
        width, height = struct.unpack(">II", data[16:24])
        idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
        raw = zlib.decompress(idat)
        ok = data[:8] == b"\x89PNG\r\n\x1a\n" and width == 256 and \
            height == (highest + 1 + 255) // 256 and len(raw) == height * (1 + 3 * width) and \
            "Free" in outs[5] and "Active" in outs[5]
    except (OSError, ValueError, AttributeError, zlib.error) as e:
        why += "\n%s" % e
    yield "mica-memmap writes a PNG of the PFN database", ok, why
    shell_kinds = dict((name, int(n)) for name, n in
                       re.findall(r"^  \S (.+?) +(\d+)$", shell["memmap"] or "", re.M))
    gdb_kinds = dict((name, int(n)) for name, n in
                     re.findall(r"^  #[0-9a-f]{6} (.+?) +(\d+) pages$", outs[5], re.M))
    yield "mica-memmap's legend counts what !memmap's counts, kind by kind", \
        len(shell_kinds) >= 4 and shell_kinds == gdb_kinds, \
        "gdb:\n%s\nshell:\n%s" % (outs[5], shell["memmap"])
    out = kd.command("!irql")
    yield "the shell goes on after GDB detaches", has(out, "Debugger saved IRQL"), out


def kd_break_checks(kd, banner):
    """kd=break (two processors): the shell at the end of phase 0, before the
    I/O manager starts, with processor 1 frozen until g."""
    yield "kd=break stops at the end of phase 0", kd.prompt == "0: kd> " and \
        "kd=break: stopped at the end of phase 0" in (banner or "") and \
        READY not in (banner or ""), banner
    out = kd.command("k")
    yield "k at kd=break shows KiSystemStartup", has(out, "KiSystemStartup+"), out
    out = kd.command("!prcb 1")
    yield "the other processor is frozen while broken in", has(out, "PRCB for Processor 1", "(frozen)"), out
    out = kd.command("!pcr 1")
    yield "!pcr 1: processor 1's own GDT and TSS", \
        re.search(r"GDT: ffff[0-9a-f]{12}\n\s+TSS: ffff", out or "") is not None and has(out, "(frozen)"), out
    out = kd.command("g")
    yield "g goes on to 'Mica ready' and the kd> thread", kd.prompt == "kd> " and has(out, READY), out
    yield from kd_spin_checks(kd)


def kd_spin_checks(kd):
    """Break in while processor 1 spins at DISPATCH_LEVEL (only the NMI can
    stop it): it is frozen, its counter stands still until g."""
    out = kd.command(".spin 1")
    m = re.search(r"spinning on processor 1 at DISPATCH_LEVEL; counter at ([0-9a-f]{16})", out or "")
    yield ".spin 1 starts a busy thread on processor 1", m is not None, out
    if not m:
        return

    def counter():
        out = kd.command("dq %s L1" % m.group(1))
        v = re.search(r"^\S+\s+([0-9a-f`]+)\s*$", out or "", re.M)
        return int(v.group(1).replace("`", ""), 16) if v else None, out
    time.sleep(0.2)
    before, out = counter()
    yield "the busy thread counts", before is not None and before > 0, out
    kd.sendkey("ctrl-alt-sysrq")               # the PS/2 keyboard's break chord
    out = kd.wait_prompt()
    yield "Ctrl-Alt-SysRq on the PS/2 keyboard breaks in while processor 1 is busy", \
        kd.prompt == "0: kd> " and has(out, "processor 0 stopped at"), out
    kd.sendkey("shift-1", "i", "r", "q", "l", "spc", "1", "ret")
    out = kd.wait_prompt()
    yield "a command typed on the PS/2 keyboard runs (!irql 1)", \
        has(out, "!irql 1\n", "Debugger saved IRQL for processor 0x1 --"), out
    out = kd.command("!prcb 1")
    yield "processor 1 is frozen", has(out, "PRCB for Processor 1", "(frozen)"), out
    out = kd.command("!irql 1")
    irql = re.search(r"processor 0x1 -- (\d+) ", out or "")
    yield "processor 1 was stopped at DISPATCH_LEVEL or above (its clock tick's)", \
        irql is not None and int(irql.group(1)) >= 2, out
    out = kd.command("!thread *")
    yield "!thread * shows the busy thread running on processor 1", \
        re.search(r"RUNNING +Priority \d+ +Processor 1 +Start KdpSpinThread", out or "") is not None, out
    frozen1, out1 = counter()
    time.sleep(0.3)
    frozen2, out2 = counter()
    yield "the busy thread's counter stands still while broken in", \
        frozen1 is not None and frozen1 == frozen2 and frozen1 >= before, "%s\n%s" % (out1, out2)
    out = kd.command("g")
    yield "g resumes", kd.prompt == "kd> ", out
    time.sleep(0.2)
    after, out = counter()
    yield "after g the busy thread counts on", after is not None and frozen2 is not None and after > frozen2, out
    out = kd.command(".spin stop")
    yield ".spin stop ends it", has(out, "stopped; the counter reached"), out


def run_persist():
    """Data written survives a reboot: boot bios-128m once to run the write
    test, keeping its disk copies, then again on those copies to read the
    sectors back (ahci.written_data_survives_a_reboot, which only runs with
    ahcipersist). Both boots' images are checked as every test boot's are."""
    config = TEST_CONFIGS["bios-128m"]
    first = Boot("ahci-persist-1", config, "test=" + DISK_WRITE_TEST, keep_disks=True).run()
    why = (first.why_failed() or []) + first.disk_problems
    if not any(ok for ok, name, _ in first.results() if name == DISK_WRITE_TEST):
        why.append("the write test did not pass in the first boot")
    if not why:
        second = Boot("ahci-persist-2", config, "test=" + DISK_PERSIST_TEST + " ahcipersist",
                      disks=first.disks, written_before=True).run()
        why = (second.why_failed() or []) + second.disk_problems
        if not any(ok for ok, name, reason in second.results() if name == DISK_PERSIST_TEST and not reason):
            why.append("%s did not pass in the second boot" % DISK_PERSIST_TEST)
    if why:                                 # the copies stay in build/test-logs/
        print("not ok - ahci-persist: " + "; ".join(why))
        return 0, 1
    print("ok - ahci-persist (written in one boot, read back in the next)")
    return 1, 0


# ---- the network peers (tests/netpeer.py) -------------------------------------------

# Boots of net_peer.serve (tests/kernel/test_net.c) with a peer on the host
# talking to Mica's e1000 while it runs: name -> (configuration, back-end,
# boot options). The socket peer plays a host on Mica's subnet (raw frames,
# -M pc with four processors, addresses from ip=/gw=); the user peer is the
# host's own UDP stack through QEMU's slirp (-M q35 with UEFI, the default
# addresses). Both boots run at once.
NET_BOOTS = {
    "net-socket": ({"firmware": "bios", "mem": "256M", "smp": 4}, "socket", "ip=192.168.76.9/24 gw=192.168.76.1"),
    "net-user": ({"firmware": "uefi", "mem": "256M"}, "user", ""),
}
NET_SOCKET_PEER_IP = "192.168.76.1"
NET_TEST = "net_peer.serve"


def run_net_boot(name):
    import netpeer
    config, kind, options = NET_BOOTS[name]
    log_lines = []

    def log(text):
        log_lines.append(text)
        print("# %s: %s" % (name, text.strip()), flush=True)
    qmp_dir = tempfile.mkdtemp(prefix="mica-net-")
    qmp_path = os.path.join(qmp_dir, "qmp.sock")
    sock = None
    if kind == "socket":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        qemu_port = netpeer.udp_port()
        args = ["-netdev", "socket,id=n0,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d" %
                (sock.getsockname()[1], qemu_port),
                "-device", "e1000,netdev=n0,mac=52:54:00:12:34:56",
                "-qmp", "unix:%s,server=on,wait=off" % qmp_path]
    else:
        echo_port, control_port = netpeer.udp_port(), netpeer.udp_port()
        # Not restrict=on: libslirp then drops the guest's answers to a
        # forwarded port too. Mica sends only to 10.0.2.2 here.
        args = ["-netdev", "user,id=n0,hostfwd=udp:127.0.0.1:%d-:7,hostfwd=udp:127.0.0.1:%d-:5555" %
                (echo_port, control_port), "-device", "e1000,netdev=n0"]
    boot = Boot(name, config, "test=%s netpeer %s" % (NET_TEST, options), extra_args=args)
    thread = threading.Thread(target=boot.run)
    thread.start()
    if kind == "socket":
        peer = netpeer.SocketPeer(sock, ("127.0.0.1", qemu_port), NET_SOCKET_PEER_IP, boot.lines,
                                  netpeer.Qmp(qmp_path), log)
    else:
        peer = netpeer.UserPeer(echo_port, control_port, boot.lines, log)
    why = list(peer.run())
    thread.join()
    if sock:
        sock.close()
    shutil.rmtree(qmp_dir, ignore_errors=True)
    why += boot.why_failed() or []
    if not any(ok and not skip for ok, test, skip in boot.results() if test == NET_TEST):
        why.append("%s did not pass in the boot" % NET_TEST)
    return name, boot, why


def run_net(only):
    names = [n for n in NET_BOOTS if only is None or n in only]
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names) or 1) as pool:
        for name, boot, why in pool.map(run_net_boot, names):
            if why:
                failed += 1
                print("not ok - %s: %s\n%s" % (name, "; ".join(why), boot.tail()))
            else:
                passed += 1
                print("ok - %s (%.1f s)" % (name, boot.seconds))
    return passed, failed


def run_kd():
    """The kd> shell boot: every command against known state, then q."""
    kd = KdSession(gdb_port=free_port())
    start = time.monotonic()
    banner = kd.start()
    passed = failed = 0
    if banner is None:
        kd.finish()
        print("not ok - kd: no kd> prompt after boot")
        return 0, 1, 0
    for name, ok, out in kd_checks(kd):
        if ok:
            passed += 1
        else:
            failed += 1
            print("not ok - kd: %s\n%s" % (name, "\n".join("    | " + l for l in (out or "(QEMU ended)").split("\n"))))
    status = kd.finish("q")
    if status == PASS_STATUS:
        passed += 1
    else:
        failed += 1
        print("not ok - kd: q must leave QEMU with status %d, got %s" % (PASS_STATUS, status))
    kb = KdSession("kd-break", "kd=break", smp=2, monitor=True)   # two processors: one is frozen
    banner = kb.start()
    for name, ok, out in kd_break_checks(kb, banner):
        if ok:
            passed += 1
        else:
            failed += 1
            print("not ok - kd: %s\n%s" % (name, "\n".join("    | " + l for l in (out or "(QEMU ended)").split("\n"))))
    if kb.finish("q") != PASS_STATUS:
        failed += 1
        print("not ok - kd: q after kd=break must leave QEMU with status %d" % PASS_STATUS)
    print("kd: %d passed, %d failed (%.1f s; log build/test-logs/%s.serial.log)" %
          (passed, failed, time.monotonic() - start, kd.name))
    return passed, failed, 0


# ---- bench -----------------------------------------------------------------------

def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def bench_pattern(cfg, pattern):
    """The bench= pattern a configuration boots with, or None to skip it: a
    configuration with benchmarks of its own ("bench": their suite) runs
    only those, and only when asked; the others leave those suites out."""
    own = [c["bench"] for c in BENCH_CONFIGS.values() if c.get("bench")]
    items = [p for p in pattern.split(",") if p]

    def owned(item, suites):
        return any(fnmatch.fnmatchcase(s, item.split(".")[0]) for s in suites)
    if cfg.get("bench"):
        if pattern in ("all", "*"):
            return cfg["bench"] + "*"
        mine = [p for p in items if owned(p, [cfg["bench"]])]
    else:
        if pattern in ("all", "*"):
            return pattern
        mine = [p for p in items if not owned(p, own)]
    return ",".join(mine) if mine else None


def run_net_bench(name, cfg):
    """bench-net: boots of net_peer.serve on the socket back-end, measured by
    tests/netpeer.py's BenchPeer; (figures, None) or (None, why)."""
    import netpeer
    figures = {}
    for itr in [None] + ([cfg["itr"]] if cfg.get("itr") is not None else []):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        qemu_port = netpeer.udp_port()
        args = ["-netdev", "socket,id=n0,udp=127.0.0.1:%d,localaddr=127.0.0.1:%d" %
                (sock.getsockname()[1], qemu_port), "-device", "e1000,netdev=n0,mac=52:54:00:12:34:56"]
        options = "" if itr is None else " e1000itr=%d" % itr
        boot = Boot(name if itr is None else "%s-itr%d" % (name, itr), cfg,
                    "test=%s netpeer%s" % (NET_TEST, options), extra_args=args)
        thread = threading.Thread(target=boot.run)
        thread.start()
        got, why = netpeer.BenchPeer(sock, ("127.0.0.1", qemu_port), boot.lines).run()
        thread.join()
        sock.close()
        if why or boot.why_failed():
            return None, "; ".join([why] if why else [] + (boot.why_failed() or []))
        for k, v in got.items():
            figures[k if itr is None else k.replace("e1000.", "e1000.itr%d." % itr, 1)] = v
    total, _ = host_cpus()
    figures["host.cpus"] = (total, "cores")
    figures["qemu.vcpus"] = (smp_of(cfg), "cpus")
    return figures, None


def cmd_bench(opts):
    if "int" in qemu_debug().split(","):
        print("note: QEMU_DEBUG has int: QEMU logs every interrupt, so every figure that "
              "involves an interrupt or a fault is inflated")
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    configs = [c for c in BENCH_CONFIGS if (not opts.only or c in opts.only.split(","))
               and bench_pattern(BENCH_CONFIGS[c], opts.pattern) is not None]
    rows = []           # (config, name, value, unit)
    for c in configs:
        cfg = BENCH_CONFIGS[c]
        if cfg.get("net"):
            figures, why = run_net_bench(c, cfg)
            if why:
                print("%s: benchmark failed: %s" % (c, why))
                return 1
            for name, (value, unit) in figures.items():
                rows.append((c, name, value, unit))
            continue
        # The main run, then two short boots: boot figures are medians of three.
        main = Boot(c, cfg, "bench=" + bench_pattern(cfg, opts.pattern)).run()
        # One at a time: a second QEMU on the other core would skew the timing.
        extra = [Boot("%s-boot%d" % (c, i), cfg, "bench=boot").run() for i in (1, 2)]
        why = main.why_failed()
        if why:
            print("%s: benchmark boot failed: %s\n%s" % (c, "; ".join(why), main.tail()))
            return 1
        figures = {}
        for l in main.lines:
            m = BENCH_RE.match(l)
            if m:
                figures[m.group(1)] = (int(m.group(2)), m.group(3))
        boots = [main] + [b for b in extra if b.why_failed() is None]
        ready = [b.ready_ms for b in boots if b.ready_ms is not None]
        cycles = [int(m.group(2)) for b in boots for l in b.lines
                  for m in [BENCH_RE.match(l)] if m and m.group(1) == "boot.ready"]
        if ready:
            figures["boot.wall_ms"] = (int(round(median(ready))), "ms")
        if cycles:
            figures["boot.ready"] = (median(cycles), "cycles")
        # The host's cores, next to the figures (the same four columns): vCPUs
        # run in parallel only on host cores, so a scaling figure of a
        # 4-vCPU configuration on a 2-core host is bounded by 2.
        total, usable = host_cpus()
        figures["host.cpus"] = (total, "cores")
        if usable != total:
            figures["host.cpus.usable"] = (usable, "cores")
        figures["qemu.vcpus"] = (smp_of(cfg), "cpus")
        for name, (value, unit) in figures.items():
            rows.append((c, name, value, unit))

    path = os.path.join(BUILD, "bench", "results.tsv")
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                if line.split("\t")[0] not in configs:
                    kept.append(line)
    with open(path, "w") as f:
        f.write("config\tname\tvalue\tunit\n")
        for line in kept:
            f.write(line + "\n")
        for r in rows:
            f.write("%s\t%s\t%s\t%s\n" % r)

    names = []
    for _, n, _, _ in rows:
        if n not in names:
            names.append(n)
    width = max([len(n) for n in names] + [10])
    print("\nhost: %s; vCPUs: %s" % (host_cpus_text(), ", ".join(
        "%s %d" % (c, smp_of(BENCH_CONFIGS[c])) for c in configs)))
    print("%-*s %6s  %s" % (width, "benchmark", "unit", "  ".join("%14s" % c for c in configs)))
    for n in names:
        unit = next(u for _, nn, _, u in rows if nn == n)
        vals = []
        for c in configs:
            v = [val for cc, nn, val, _ in rows if cc == c and nn == n]
            vals.append("%14s" % (v[0] if v else "-"))
        print("%-*s %6s  %s" % (width, n, unit, "  ".join(vals)))
    print("\nresults: %s" % os.path.relpath(path, ROOT))
    return 0


# ---- bench-host --------------------------------------------------------------------

HOST_BENCH_CONFIG = "host"


def cmd_bench_host(opts):
    """Run the host pool benchmarks (no QEMU) and file them under config "host"."""
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    rows = []           # (config, name, value, unit)
    for binary in opts.binaries:
        p = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=600)
        found = 0
        for l in p.stdout.splitlines():
            m = BENCH_RE.match(l)
            if m:
                rows.append((HOST_BENCH_CONFIG, m.group(1), int(m.group(2)), m.group(3)))
                found += 1
        if p.returncode != 0 or found == 0:
            print("%s: exit status %d, %d figures\n%s" % (binary, p.returncode, found, p.stdout))
            return 1

    path = os.path.join(BUILD, "bench", "results.tsv")
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                if line.split("\t")[0] != HOST_BENCH_CONFIG:
                    kept.append(line)
    with open(path, "w") as f:
        f.write("config\tname\tvalue\tunit\n")
        for line in kept:
            f.write(line + "\n")
        for r in rows:
            f.write("%s\t%s\t%s\t%s\n" % r)

    # One line per figure, one column per allocator: pool.<alloc>.<figure>.
    allocs, figures, value, unit = [], [], {}, {}
    for _, name, v, u in rows:
        parts = name.split(".", 2)
        if len(parts) != 3:
            continue
        a, fig = parts[1], parts[2]
        if a not in allocs:
            allocs.append(a)
        if fig not in figures:
            figures.append(fig)
        value[a, fig] = v
        unit[fig] = u
    ratio = "mica" in allocs and "mimalloc" in allocs
    print("\n%-12s %7s  %s%s" % ("pool", "unit", "  ".join("%10s" % a for a in allocs),
                                 "  mica/mimalloc" if ratio else ""))
    for fig in figures:
        vals = "  ".join("%10s" % value.get((a, fig), "-") for a in allocs)
        r = ""
        if ratio and value.get(("mimalloc", fig)) and ("mica", fig) in value:
            r = "  %13.2f" % (value["mica", fig] / value["mimalloc", fig])
        print("%-12s %7s  %s%s" % (fig, unit[fig], vals, r))
    print("\nresults: %s" % os.path.relpath(path, ROOT))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test")
    t.add_argument("--only", help="comma-separated configuration names")
    t.add_argument("--pattern", default="all", help="test=PATTERN for the batch boots")
    t.add_argument("--no-host", action="store_true")
    t.add_argument("--no-gdb", action="store_true")
    t.add_argument("--jobs", type=int, default=jobs_default())
    b = sub.add_parser("bench")
    b.add_argument("--only", help="comma-separated configuration names")
    b.add_argument("--pattern", default="all")
    b.add_argument("--jobs", type=int, default=jobs_default())
    h = sub.add_parser("bench-host")
    h.add_argument("binaries", nargs="+", help="host benchmark programs to run")
    sub.add_parser("gdb")
    sub.add_parser("kd", help="the kd> shell session alone")
    i = sub.add_parser("iso", help="print the path of an ISO that boots with --cmdline")
    i.add_argument("--cmdline", default="")
    opts = ap.parse_args()
    if opts.cmd == "iso":
        print(make_iso(opts.cmdline))
        return 0
    if opts.cmd == "test":
        return cmd_test(opts)
    if opts.cmd == "bench":
        return cmd_bench(opts)
    if opts.cmd == "bench-host":
        return cmd_bench_host(opts)
    if opts.cmd == "kd":
        os.makedirs(LOGS, exist_ok=True)
        p, f, k = run_kd()
        print("%d passed, %d failed, %d skipped" % (p, f, k))
        return 0 if f == 0 and p > 0 else 1
    p, f, k = run_gdb()
    print("%d passed, %d failed, %d skipped" % (p, f, k))
    return 0 if f == 0 and p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

# mica_kd.py - the kd> shell's commands in GDB: mica-pte, mica-pfn, mica-vm,
# mica-memusage, mica-pool, mica-poolused, mica-irql, mica-thread and
# mica-memmap (a PNG of the PFN database), each also without the prefix
# where GDB has no command of that name (pte, pfn, vm, memusage, pool,
# poolused, irql, memmap; GDB's own `thread` stays). Sourced by
# tests/gdb/mica.gdb.
#
# Each prints what the shell's command of the same name prints
# (kernel/kd/kdcmd_mm.c, kdcmd_ke.c), line for line, so the two can be
# compared. Structures (MMPFN, KPRCB) and enums (MMLISTS) come from DWARF;
# the #define'd addresses and bits from KdGdbConstants, which the kernel
# compiles from its headers (kernel/kd/kdgdb.c): a changed header cannot
# leave these commands behind. PTEs are read at their self-map addresses,
# as the shell reads them, never by walking CR3.
import struct
import zlib

import gdb

LIST_NAMES = ["Zeroed", "Free", "Standby", "Modified", "ModifiedNoWrite", "Bad", "Active",
              "Transition"]
CACHE_NAMES = ["NonCached", "Cached", "WriteComb", "NotMapped"]


_CONSTANTS = {}


def const(name):
    """A KdGdbConstants field, looked up once per image (the PFN walks ask often)."""
    if name not in _CONSTANTS:
        _CONSTANTS[name] = int(gdb.parse_and_eval("KdGdbConstants.%s" % name))
    return _CONSTANTS[name]


gdb.events.new_objfile.connect(lambda event: _CONSTANTS.clear())


def u64(address):
    data = gdb.selected_inferior().read_memory(address, 8)
    return struct.unpack("<Q", bytes(data))[0]


def number(text):
    """WinDbg's numbers, as the shell reads them: hex, 0x, 0n decimal, backticks."""
    t = text.replace("`", "")
    if t[:2].lower() == "0n":
        return int(t[2:], 10)
    return int(t, 16)


def selfmap_entry(va, level):
    base = [0, const("PteBase"), const("PdeBase"), const("PpeBase"), const("PxeBase")][level]
    index = (va >> (9 * level)) & ((1 << (48 - 9 * level)) - 8)
    return base + index


def canonical(va):
    return va - (1 << 64) if va & (1 << 63) else va


def pte_flags(v, level):
    c = const
    return "".join([
        "C" if v & (1 << 9) else "-",
        "G" if v & c("PteGlobal") else "-",
        "L" if level > 1 and v & c("PteLargePage") else "-",
        "D" if v & c("PteDirty") else "-",
        "A" if v & c("PteAccessed") else "-",
        "N" if v & c("PteCacheDisable") else "-",
        "T" if v & c("PteWriteThrough") else "-",
        "U" if v & c("PteOwner") else "K",
        "W" if v & c("PteWrite") else "R",
        "-" if v & c("PteNoExecute") else "E",
        "V" if v & c("PteValid") else "-",
    ])


def pte_text(va):
    names = ["", "PTE", "PDE", "PPE", "PXE"]
    if const("PteBase") <= va <= const("PteTop"):
        # MiGetVirtualAddressMappedByPte: shift out 16 + 9 bits, sign-extend back.
        t = (va << 25) & ((1 << 64) - 1)
        va = ((t - (1 << 64) if t & (1 << 63) else t) >> 16) & ((1 << 64) - 1)
    entries = {}
    levels = 0
    for level in (4, 3, 2, 1):
        entries[level] = u64(selfmap_entry(va, level))
        levels += 1
        v = entries[level]
        if not v & const("PteValid") or (1 < level < 4 and v & const("PteLargePage")):
            break
    out = ["                                           VA %016x" % va]
    out.append("".join("%s at %016x    " % (names[4 - i], selfmap_entry(va, 4 - i))
                       for i in range(levels)))
    out.append("".join("contains %016x  " % entries[4 - i] for i in range(levels)))
    row = ""
    for i in range(levels):
        v = entries[4 - i]
        if not v & const("PteValid"):
            row += "not valid                "
        else:
            row += "pfn %-8x %s  " % ((v & const("PteFrameMask")) >> const("PageShift"),
                                      pte_flags(v, 4 - i))
    out.append(row)
    return "\n".join(out)


def pfn_is_ram(n):
    runs = gdb.parse_and_eval("MiPhysicalRuns")
    for i in range(int(gdb.parse_and_eval("MiPhysicalRunCount"))):
        base, count = int(runs[i]["BasePage"]), int(runs[i]["PageCount"])
        if base <= n < base + count:
            return True
    return False


def pfn_entry(n):
    mmpfn = gdb.lookup_type("MMPFN")
    return gdb.Value(const("PfnDatabase") + n * mmpfn.sizeof).cast(mmpfn.pointer()).dereference()


def pfn_text(n):
    p = pfn_entry(n)
    flags = int(p["Flags"])
    loc, cache = int(p["PageLocation"]), int(p["CacheAttribute"])
    return "\n".join([
        "    PFN %08X at address %016X" % (n, const("PfnDatabase") + n * gdb.lookup_type("MMPFN").sizeof),
        "    flink       %08X  blink / share count %08X  pteaddress %016X" %
        (int(p["u1"]["Flink"]), int(p["u2"]["Blink"]), int(p["PteAddress"]) & ((1 << 64) - 1)),
        "    reference count %04X    used entry count  %04X      %s" %
        (int(p["ReferenceCount"]), int(p["UsedPageTableEntries"]),
         CACHE_NAMES[cache] if cache < len(CACHE_NAMES) else "?"),
        "    restore pte %016X  containing page %06X  %s  %s%s%s%s%s" %
        (int(p["OriginalPte"]["Long"]), int(p["PteFrame"]),
         LIST_NAMES[loc] if loc < len(LIST_NAMES) else "?",
         "M " if flags & const("PfnModified") else "",
         "PageTable " if flags & const("PfnPageTable") else "",
         "Locked " if flags & const("PfnLocked") else "",
         "StartOfAllocation " if flags & const("PfnStartOfAllocation") else "",
         "EndOfAllocation" if flags & const("PfnEndOfAllocation") else ""),
    ])


def vm_text():
    def line(name, pages):
        return "%-27s%10d (%12d Kb)" % (name, pages, pages * 4)
    ev = lambda e: int(gdb.parse_and_eval(e))
    return "\n".join([
        "Page File: none (Mica has no paging file yet)",
        line("Physical Memory:", ev("MmNumberOfPhysicalPages")),
        line("Available Pages:", ev("MmAvailablePages")),
        line("Free System PTEs:", ev("MiSystemPteTree.FreeCount") + ev("MiSystemPtesCached")),
        line("Modified Pages:", ev("MmModifiedPageListHead.Total")),
        line("NonPagedPool Usage:", ev("MiPoolPages[0]") - ev("MiPoolTree[0].FreeCount")),
        line("NonPagedPool Max:", const("NonPagedPoolPages")),
        line("PagedPool Usage:", ev("MiPoolPages[1]") - ev("MiPoolTree[1].FreeCount")),
        line("PagedPool Maximum:", const("PagedPoolPages")),
        line("Special Pool Max:", const("SpecialPoolPages")),
        line("Committed pages:", ev("MmTotalCommittedPages")),
        line("Commit limit:", ev("MmTotalCommitLimit")),
    ])


IRQL_NAMES = {0: "LOW_LEVEL", 1: "APC_LEVEL", 2: "DISPATCH_LEVEL", 12: "SYNCH_LEVEL",
              13: "CLOCK_LEVEL", 14: "IPI_LEVEL", 15: "HIGH_LEVEL"}


def irql_text(cpu):
    prcb = gdb.parse_and_eval("KiProcessorBlock[%d]" % cpu)
    if int(prcb) == 0:
        raise gdb.GdbError("processor %x has not started" % cpu)
    irql = int(prcb["CurrentIrql"])
    return "Debugger saved IRQL for processor 0x%x -- %d (%s)" % (
        cpu, irql, IRQL_NAMES.get(irql, "device IRQL"))


# One colour per kind of page, the kinds and names of kd> !memmap
# (kernel/kd/kdcmd_phys.c): the PFN lists, and active pages by what holds
# them (PFN flags, a contiguous run, or the pool the PTE's address maps).
MEMMAP_COLOURS = {
    "Zeroed": (120, 200, 255), "Free": (40, 120, 220), "Standby": (240, 220, 60),
    "Modified": (250, 140, 30), "ModifiedNoWrite": (200, 100, 20), "Transition": (160, 80, 160),
    "Bad": (200, 0, 0), "Active: page table": (0, 100, 0),
    "Active: locked (kernel image, boot data)": (120, 120, 120),
    "Active: contiguous allocation": (230, 60, 200), "Active: nonpaged pool": (60, 180, 60),
    "Active: paged pool": (150, 220, 90), "Active: special pool": (255, 120, 120),
    "Active: other (stacks, MDL pages, mappings)": (30, 140, 130), "not RAM": (0, 0, 0),
}
MEMMAP_WIDTH = 256


def field_offset(type_name, field):
    for f in gdb.lookup_type(type_name).fields():
        if f.name == field:
            return f.bitpos // 8
    raise gdb.GdbError("%s has no field %s" % (type_name, field))


def va_mapped_by_pte(pte):
    """MiGetVirtualAddressMappedByPte: shift out 16 + 9 bits, sign-extend back."""
    t = (pte << 25) & ((1 << 64) - 1)
    return ((t - (1 << 64) if t & (1 << 63) else t) >> 16) & ((1 << 64) - 1)


class MemmapClassifier:
    """The kind of each page, in PFN order (a contiguous run is told by its
    first and last pages' flags, so pages are classified in order)."""

    def __init__(self):
        self.in_run = False

    def kind(self, location, flags, pte):
        name = LIST_NAMES[location] if location < len(LIST_NAMES) else "Bad"
        if name != "Active":
            self.in_run = False
            return name
        if flags & const("PfnStartOfAllocation"):
            self.in_run = True
        contiguous = self.in_run
        if flags & const("PfnEndOfAllocation"):
            self.in_run = False
        if flags & const("PfnPageTable"):
            return "Active: page table"
        if flags & const("PfnLocked"):
            return "Active: locked (kernel image, boot data)"
        if contiguous:
            return "Active: contiguous allocation"
        if pte:
            va = va_mapped_by_pte(pte)
            for lo, hi, what in (("NonPagedPoolStart", "NonPagedPoolEnd", "nonpaged"),
                                 ("PagedPoolStart", "PagedPoolEnd", "paged"),
                                 ("SpecialPoolStart", "SpecialPoolEnd", "special")):
                if const(lo) <= va < const(hi):
                    return "Active: %s pool" % what
        return "Active: other (stacks, MDL pages, mappings)"


def write_png(path, width, height, rows):
    """rows: height lists of width (r, g, b); an 8-bit RGB PNG, zlib only."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in rows)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


class MicaCommand(gdb.Command):
    def __init__(self, name, fn, usage):
        super().__init__(name, gdb.COMMAND_USER)
        self.fn, self.usage = fn, usage
        self.__doc__ = usage

    def invoke(self, arg, from_tty):
        try:
            print(self.fn(gdb.string_to_argv(arg)))
        except (ValueError, IndexError):
            raise gdb.GdbError("usage: " + self.usage)


def cmd_pte(argv):
    if len(argv) != 1:
        raise ValueError
    return pte_text(number(argv[0]))


def cmd_pfn(argv):
    if len(argv) != 1:
        raise ValueError
    n = number(argv[0])
    if n >= const("SystemRangeStart"):
        pte = u64(selfmap_entry(n, 1))
        n = (pte & const("PteFrameMask")) >> const("PageShift")
    if not pfn_is_ram(n):
        raise gdb.GdbError("page %x is not RAM Mica manages" % n)
    return pfn_text(n)


def cmd_vm(argv):
    if argv:
        raise ValueError
    return vm_text()


def cmd_irql(argv):
    return irql_text(number(argv[0]) if argv else 0)


def cmd_memmap(argv):
    if len(argv) != 1:
        raise ValueError
    highest = int(gdb.parse_and_eval("MmHighestPhysicalPage"))
    pages = highest + 1
    cats = ["not RAM"] * pages
    size = gdb.lookup_type("MMPFN").sizeof
    loc_at, flags_at = field_offset("MMPFN", "PageLocation"), field_offset("MMPFN", "Flags")
    pte_at = field_offset("MMPFN", "PteAddress")
    runs = gdb.parse_and_eval("MiPhysicalRuns")
    run_list = sorted((int(runs[i]["BasePage"]), int(runs[i]["PageCount"]))
                      for i in range(int(gdb.parse_and_eval("MiPhysicalRunCount"))))
    classifier = MemmapClassifier()
    # The PFN database is backed only where RAM is: read it a run at a time.
    for base, count in run_list:
        classifier.in_run = False
        data = bytes(gdb.selected_inferior().read_memory(const("PfnDatabase") + base * size,
                                                         count * size))
        for k in range(count):
            if base + k < pages:
                pte = struct.unpack("<Q", data[k * size + pte_at:k * size + pte_at + 8])[0]
                cats[base + k] = classifier.kind(data[k * size + loc_at], data[k * size + flags_at], pte)
    height = (pages + MEMMAP_WIDTH - 1) // MEMMAP_WIDTH
    counts = {}
    for cat in cats:
        counts[cat] = counts.get(cat, 0) + 1
    rows = []
    for y in range(height):
        rows.append([MEMMAP_COLOURS[cats[n]] if n < pages else MEMMAP_COLOURS["not RAM"]
                     for n in range(y * MEMMAP_WIDTH, (y + 1) * MEMMAP_WIDTH)])
    write_png(argv[0], MEMMAP_WIDTH, height, rows)
    legend = ["%s: %dx%d, one pixel per page (PFN 0-%x), %d pages a row" %
              (argv[0], MEMMAP_WIDTH, height, highest, MEMMAP_WIDTH)]
    for cat, rgb in MEMMAP_COLOURS.items():
        if counts.get(cat):
            legend.append("  #%02x%02x%02x %-44s %8d pages" % (rgb + (cat, counts[cat])))
    return "\n".join(legend)



def memusage_text():
    counts = [0] * len(LIST_NAMES)
    page_tables = locked = total = 0
    size = gdb.lookup_type("MMPFN").sizeof
    loc_at, flags_at = field_offset("MMPFN", "PageLocation"), field_offset("MMPFN", "Flags")
    runs = gdb.parse_and_eval("MiPhysicalRuns")
    active = LIST_NAMES.index("Active")
    for i in range(int(gdb.parse_and_eval("MiPhysicalRunCount"))):
        base, count = int(runs[i]["BasePage"]), int(runs[i]["PageCount"])
        data = bytes(gdb.selected_inferior().read_memory(const("PfnDatabase") + base * size, count * size))
        for k in range(count):
            loc, flags = data[k * size + loc_at], data[k * size + flags_at]
            total += 1
            if loc < len(counts):
                counts[loc] += 1
            if loc == active and flags & const("PfnPageTable"):
                page_tables += 1
            if loc == active and flags & const("PfnLocked"):
                locked += 1
    rows = [("Zeroed", 0), ("Free", 1), ("Standby", 2), ("Modified", 3), ("ModifiedNoWrite", 4),
            ("Active/Valid", 6), ("Transition", 7), ("Bad", 5)]
    out = ["loading PFN database"]
    out += ["%19s: %8d (%10d kb)" % (name, counts[i], counts[i] * 4) for name, i in rows]
    out.append("%19s: %8d (%10d kb)" % ("TOTAL", total, total * 4))
    out.append("  of the active pages: %d page tables, %d locked (kernel image, boot data)" %
               (page_tables, locked))
    return "\n".join(out)


def tag_name(tag):
    return "".join(chr(c) if 0x20 <= c < 0x7F else "." for c in struct.pack("<I", tag & 0xFFFFFFFF))


def tag_matches(pattern, tag):
    """As kd> !poolused: '?' one character, '*' the rest, short patterns padded with blanks."""
    name = struct.pack("<I", tag & 0xFFFFFFFF).decode("latin-1")
    for i in range(4):
        p = pattern[i] if i < len(pattern) else None
        if p == "*":
            return True
        if p is None:
            return name[i] == " "
        if p != "?" and p != name[i]:
            return False
    return len(pattern) == 4 or pattern[4] == "*"


def poolused_text(pattern):
    """PoolMon's counters, summed over the per-processor tables (pooltrack.c)."""
    table = gdb.parse_and_eval("ExpPoolTrackTable")
    cpus = int(gdb.parse_and_eval("ExpTrackProcessors"))
    entries = int(table[0].type.sizeof // table[0][0].type.sizeof)
    sums = {}
    for cpu in range(cpus):
        for i in range(entries):
            e = table[cpu][i]
            key = int(e["Key"])
            if key == 0:
                continue
            t = sums.setdefault(key, [0, 0, 0, 0])
            t[0] += int(e["Allocs"][0]) - int(e["Frees"][0])
            t[1] += int(e["Bytes"][0])
            t[2] += int(e["Allocs"][1]) - int(e["Frees"][1])
            t[3] += int(e["Bytes"][1])
    out = [" Sorting by Tag", "", "                            NonPaged                   Paged",
           " Tag     Allocs       Used     Allocs       Used", ""]
    shown = 0
    for key in sorted(sums, key=tag_name):
        np, npb, pg, pgb = sums[key]
        if pattern is not None and not tag_matches(pattern, key):
            continue
        if pattern is None and np == 0 and pg == 0:
            continue
        out.append(" %-4s %10d %10d %10d %10d" % (tag_name(key), np & 0xFFFFFFFF, npb, pg & 0xFFFFFFFF, pgb))
        shown += 1
    if shown == 0:
        out.append(" (no tag matches)")
    return "\n".join(out)


def pool_text(va):
    """The blocks of va's small-block pool page, as kd> !pool prints them."""
    if const("NonPagedPoolStart") <= va < const("NonPagedPoolEnd"):
        region = "Nonpaged"
    elif const("PagedPoolStart") <= va < const("PagedPoolEnd"):
        region = "Paged"
    else:
        raise gdb.GdbError("%x is not in a pool page" % va)
    page = va & ~((1 << const("PageShift")) - 1)
    page_size = 1 << const("PageShift")
    shift = const("PoolBlockShift")
    header = gdb.lookup_type("POOL_HEADER")
    try:
        data = bytes(gdb.selected_inferior().read_memory(page, page_size))
    except gdb.MemoryError:
        raise gdb.GdbError("%x is not mapped" % va)
    at = {f.name: f.bitpos // 8 for f in header.fields()}
    first_size = data[at["BlockSize"]]
    if first_size == 0 or data[at["PreviousSize"]] != 0:
        raise gdb.GdbError("%x: not a small-block pool page (a big page, special pool or a kept "
                           "empty page): kd> !pool says which" % va)
    out = ["Pool page %016X region is %s pool" % (va, region)]
    offset = 0
    while True:
        size, prev = data[offset + at["BlockSize"]], data[offset + at["PreviousSize"]]
        ptype, index = data[offset + at["PoolType"]], data[offset + at["PoolIndex"]]
        tag = struct.unpack("<I", data[offset + at["PoolTag"]:offset + at["PoolTag"] + 4])[0]
        entry = page + offset
        here = entry <= va < entry + (size << shift)
        state = "(Free)     " if ptype == 0 else "(Lookaside)" if index & const("PoolIndexCached") \
            else "(Allocated)"
        out.append("%s%016X size: %4x previous size: %4x  %s %s" %
                   ("*" if here else " ", entry, size << shift, prev << shift, state,
                    "" if ptype == 0 else tag_name(tag)))
        if size == 0 or offset + (size << shift) >= page_size:
            break
        offset += size << shift
    return "\n".join(out)


THREAD_STATES = ["INITIALIZED", "READY", "RUNNING", "STANDBY", "TERMINATED", "WAIT"]


def symbolize(address):
    """Name+0xoffset, as the kernel's KeSymbolizeAddress prints it."""
    text = gdb.execute("info symbol 0x%x" % address, to_string=True).strip()
    m = text.split(" in section ")[0]
    if text.startswith("No symbol"):
        return "%016x" % address
    name, _, off = m.partition(" + ")
    return "%s+0x%x" % (name, int(off) if off else 0)


def thread_text(t, long_form):
    state = int(t["State"])
    out = ["THREAD %016x  Cid %d  %s%s  Priority %d  Processor %d  Start %s" % (
        int(t.address), int(t["ThreadId"]),
        THREAD_STATES[state] if state < len(THREAD_STATES) else "?",
        " (idle)" if int(t["IdleThread"]) else "", int(t["Priority"]), int(t["NextProcessor"]),
        symbolize(int(t["StartRoutine"])))]
    if long_form:
        out.append("    Stack %016x - %016x  saved RSP %016x" %
                   (int(t["StackLimit"]), int(t["StackBase"]), int(t["KernelStack"])))
        out.append("    BasePriority %d  Quantum %d  ContextSwitches %d  Affinity %x" %
                   (int(t["BasePriority"]), int(t["Quantum"]), int(t["ContextSwitches"]),
                    int(t["Affinity"]) & ((1 << 64) - 1)))
        if state == THREAD_STATES.index("WAIT"):
            blocks = t["WaitBlock"]
            for i in range(min(int(t["WaitCount"]), blocks.type.range()[1] + 1)):
                out.append("    waiting on %016x" % int(blocks[i]["Object"]))
    return "\n".join(out)


def cmd_memusage(argv):
    if argv:
        raise ValueError
    return memusage_text()


def cmd_poolused(argv):
    if len(argv) > 1 or (argv and not 1 <= len(argv[0]) <= 4):
        raise ValueError
    return poolused_text(argv[0] if argv else None)


def cmd_pool(argv):
    if len(argv) != 1:
        raise ValueError
    return pool_text(number(argv[0]))


def cmd_thread(argv):
    threads = gdb.parse_and_eval("KiThreads")
    count = threads.type.range()[1] + 1
    if argv == ["*"]:
        return "\n".join(thread_text(threads[i], False) for i in range(count) if int(threads[i]["InUse"]))
    if len(argv) != 1:
        raise ValueError
    a = number(argv[0])
    base, size = int(threads[0].address), threads[0].type.sizeof
    if not base <= a < base + count * size or (a - base) % size or not int(threads[(a - base) // size]["InUse"]):
        raise gdb.GdbError("%x is not a thread (mica-thread * lists them)" % a)
    return thread_text(threads[(a - base) // size], True)


COMMANDS = [
    ("pte", cmd_pte, "mica-pte VA|PTE-address: as kd> !pte"),
    ("pfn", cmd_pfn, "mica-pfn PFN|VA: as kd> !pfn"),
    ("vm", cmd_vm, "mica-vm: as kd> !vm"),
    ("memusage", cmd_memusage, "mica-memusage: as kd> !memusage"),
    ("pool", cmd_pool, "mica-pool ADDR: as kd> !pool (small-block pages)"),
    ("poolused", cmd_poolused, "mica-poolused [TAG]: as kd> !poolused (? and * match)"),
    ("irql", cmd_irql, "mica-irql [processor]: as kd> !irql"),
    ("thread", cmd_thread, "mica-thread ADDR | *: as kd> !thread ADDR or !thread *"),
    ("memmap", cmd_memmap, "mica-memmap FILE.png: the PFN database as a picture, one pixel a page"),
]
for _name, _fn, _usage in COMMANDS:
    MicaCommand("mica-" + _name, _fn, _usage)
    # The alias without the prefix only where GDB has no such command (`thread` is GDB's).
    try:
        gdb.execute("help " + _name, to_string=True)
    except gdb.error:
        gdb.execute("alias %s = mica-%s" % (_name, _name))

/*
 * kdcmd_mm.c - the kd> shell's memory-manager commands, printed in
 * WinDbg's layout: !pte, !pfn, !vm, !memusage, !pool, !poolused,
 * !poolfind, !sysptes, !runtree.
 *
 * Every page-table entry is read through the self-map (layout.h), as
 * WinDbg's !pte does on x64 NT, and a level is read only when the level
 * above it says the table is present: the shell never faults on what it
 * shows. The PFN database is read only for pages that are RAM.
 */
#include "kd_internal.h"

static const PCSTR KdpListNames[] = {"Zeroed", "Free", "Standby", "Modified", "ModifiedNoWrite",
                                     "Bad", "Active", "Transition"};

/* ---- !pte ------------------------------------------------------------------------------ */

/*
 * WinDbg's flag letters, a dash where the bit is clear, in its order:
 * C copy-on-write, G global, L large, D dirty, A accessed, N cache
 * disabled, T write-through, U/K owner, W/R writable, E executable, V valid.
 */
static VOID KdpPteFlags(MMPTE Pte, ULONG Level, char Flags[12])
{
    ULONG64 v = Pte.Long;

    Flags[0] = Pte.Hard.CopyOnWrite ? 'C' : '-';
    Flags[1] = (v & MM_PTE_GLOBAL) ? 'G' : '-';
    Flags[2] = (Level > 1 && (v & MM_PTE_LARGE_PAGE)) ? 'L' : '-';
    Flags[3] = (v & MM_PTE_DIRTY) ? 'D' : '-';
    Flags[4] = (v & MM_PTE_ACCESSED) ? 'A' : '-';
    Flags[5] = (v & MM_PTE_CACHE_DISABLE) ? 'N' : '-';
    Flags[6] = (v & MM_PTE_WRITE_THROUGH) ? 'T' : '-';
    Flags[7] = (v & MM_PTE_OWNER) ? 'U' : 'K';
    Flags[8] = (v & MM_PTE_WRITE) ? 'W' : 'R';
    Flags[9] = (v & MM_PTE_NO_EXECUTE) ? '-' : 'E';
    Flags[10] = (v & MM_PTE_VALID) ? 'V' : '-';
    Flags[11] = 0;
}

static NTSTATUS KdpCmdPte(ULONG Argc, PCHAR Argv[])
{
    static const PCSTR names[] = {"", "PTE", "PDE", "PPE", "PXE"};
    ULONG64 va;
    MMPTE entry[5];
    ULONG levels = 0;               /* levels read, from the PXE down */

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !pte VA");
    if (!KdpParseNumber(Argv[1], &va))
        return STATUS_INVALID_PARAMETER;
    if ((ULONG64)((LONG64)(va << 16) >> 16) != va)
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not a canonical address", va);
    /* An address inside PTE space is a PTE's address (as WinDbg reads it). */
    if (va >= PTE_BASE && va <= PTE_TOP)
        va = (ULONG64)MiGetVirtualAddressMappedByPte(va);

    for (ULONG level = 4; level >= 1; level--) {
        entry[level].Long = MiSelfMapEntryAddress(va, level)->Long;
        levels++;
        if (!(entry[level].Long & MM_PTE_VALID) ||
            (level > 1 && level < 4 && (entry[level].Long & MM_PTE_LARGE_PAGE)))
            break;
    }

    DbgPrint("                                           VA %016llx\n", va);
    for (ULONG i = 0; i < levels; i++)
        DbgPrint("%s at %016llx    ", names[4 - i], (ULONG64)MiSelfMapEntryAddress(va, 4 - i));
    DbgPrint("\n");
    for (ULONG i = 0; i < levels; i++)
        DbgPrint("contains %016llx  ", entry[4 - i].Long);
    DbgPrint("\n");
    for (ULONG i = 0; i < levels; i++) {
        char flags[12];
        if (!(entry[4 - i].Long & MM_PTE_VALID)) {
            DbgPrint("not valid                ");
            continue;
        }
        KdpPteFlags(entry[4 - i], 4 - i, flags);
        DbgPrint("pfn %-8llx %s  ", MI_PTE_FRAME(entry[4 - i]), flags);
    }
    DbgPrint("\n");
    return STATUS_SUCCESS;
}
KD_COMMAND("!pte", KD_GROUP_MM, "VA | PTE address", "the four paging entries that map VA", KdpCmdPte);

/* ---- !pfn ------------------------------------------------------------------------------ */

static NTSTATUS KdpCmdPfn(ULONG Argc, PCHAR Argv[])
{
    ULONG64 n;
    PMMPFN pfn;
    static const PCSTR caches[] = {"NonCached", "Cached", "WriteComb", "NotMapped"};

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !pfn PFN | VA");
    if (!KdpParseNumber(Argv[1], &n))
        return STATUS_INVALID_PARAMETER;
    /* A kernel address is a mapped page: its frame (WinDbg takes only numbers). */
    if (n >= MM_SYSTEM_RANGE_START) {
        if (!KdpIsAddressValid(n))
            return KdpError(STATUS_INVALID_PARAMETER, "%llx is not mapped", n);
        n = MmGetPhysicalAddress((PVOID)n).QuadPart >> PAGE_SHIFT;
    }
    if (!MiIsPfnRam(n))
        return KdpError(STATUS_INVALID_PARAMETER, "page %llx is not RAM Mica manages", n);
    pfn = MI_PFN_ELEMENT(n);
    DbgPrint("    PFN %08llX at address %016llX\n", n, (ULONG64)pfn);
    DbgPrint("    flink       %08llX  blink / share count %08llX  pteaddress %016llX\n",
             pfn->u1.Flink, pfn->u2.Blink, (ULONG64)pfn->PteAddress);
    DbgPrint("    reference count %04X    used entry count  %04X      %s\n",
             pfn->ReferenceCount, pfn->UsedPageTableEntries,
             pfn->CacheAttribute < ARRAYSIZE(caches) ? caches[pfn->CacheAttribute] : "?");
    DbgPrint("    restore pte %016llX  containing page %06llX  %s  %s%s%s%s%s\n",
             pfn->OriginalPte.Long, pfn->PteFrame,
             pfn->PageLocation < ARRAYSIZE(KdpListNames) ? KdpListNames[pfn->PageLocation] : "?",
             (pfn->Flags & MI_PFN_MODIFIED) ? "M " : "",
             (pfn->Flags & MI_PFN_PAGE_TABLE) ? "PageTable " : "",
             (pfn->Flags & MI_PFN_LOCKED) ? "Locked " : "",
             (pfn->Flags & MI_PFN_START_OF_ALLOCATION) ? "StartOfAllocation " : "",
             (pfn->Flags & MI_PFN_END_OF_ALLOCATION) ? "EndOfAllocation" : "");
    return STATUS_SUCCESS;
}
KD_COMMAND("!pfn", KD_GROUP_MM, "PFN | VA", "a page's PFN database entry", KdpCmdPfn);

/* ---- !vm ------------------------------------------------------------------------------- */

static VOID KdpVmLine(PCSTR Name, ULONG64 Pages)
{
    DbgPrint("%-27s%10llu (%12llu Kb)\n", Name, Pages, Pages * (PAGE_SIZE / 1024));
}

BOOLEAN KdpPrintPageFileLine(VOID);     /* kdcmd_pagefile.c */

static NTSTATUS KdpCmdVm(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !vm");
    if (!KdpPrintPageFileLine())
        DbgPrint("Page File: none (Mica has no paging file yet)\n");
    KdpVmLine("Physical Memory:", MmNumberOfPhysicalPages);
    KdpVmLine("Available Pages:", MmAvailablePages);
    KdpVmLine("Free System PTEs:", MiFreeSystemPteCount());
    KdpVmLine("Modified Pages:", MmModifiedPageListHead.Total);
    /* Both nonpaged descriptors take pages from one region: ask for it once. */
    KdpVmLine("NonPagedPool Usage:", MiPoolPagesInUse(EXP_NONPAGED_NX));
    KdpVmLine("NonPagedPool Max:", MM_NONPAGED_POOL_PAGES);
    KdpVmLine("PagedPool Usage:", MiPoolPagesInUse(EXP_PAGED));
    KdpVmLine("PagedPool Maximum:", MM_PAGED_POOL_PAGES);
    KdpVmLine("Special Pool Max:", MM_SPECIAL_POOL_PAGES);
    KdpVmLine("Committed pages:", MmTotalCommittedPages);
    KdpVmLine("Commit limit:", MmTotalCommitLimit);
    return STATUS_SUCCESS;
}
KD_COMMAND("!vm", KD_GROUP_MM, "", "physical memory, pools, system PTEs, commit", KdpCmdVm);

/* ---- !memusage ------------------------------------------------------------------------- */

static NTSTATUS KdpCmdMemusage(ULONG Argc, PCHAR Argv[])
{
    PFN_NUMBER lists[ARRAYSIZE(KdpListNames)] = {0};
    PFN_NUMBER pageTables = 0, locked = 0, total = 0;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !memusage");
    DbgPrint("loading PFN database\n");
    /* Unlocked: the numbers are a snapshot, as WinDbg's are of a live target. */
    for (ULONG r = 0; r < MiPhysicalRunCount; r++)
        for (PFN_NUMBER n = MiPhysicalRuns[r].BasePage;
             n < MiPhysicalRuns[r].BasePage + MiPhysicalRuns[r].PageCount; n++) {
            PMMPFN pfn = MI_PFN_ELEMENT(n);
            total++;
            if (pfn->PageLocation < ARRAYSIZE(lists))
                lists[pfn->PageLocation]++;
            if (pfn->PageLocation == ActiveAndValid && (pfn->Flags & MI_PFN_PAGE_TABLE))
                pageTables++;
            if (pfn->PageLocation == ActiveAndValid && (pfn->Flags & MI_PFN_LOCKED))
                locked++;
        }
    DbgPrint("             Zeroed: %8llu (%10llu kb)\n", lists[ZeroedPageList], lists[ZeroedPageList] * 4);
    DbgPrint("               Free: %8llu (%10llu kb)\n", lists[FreePageList], lists[FreePageList] * 4);
    DbgPrint("            Standby: %8llu (%10llu kb)\n", lists[StandbyPageList], lists[StandbyPageList] * 4);
    DbgPrint("           Modified: %8llu (%10llu kb)\n", lists[ModifiedPageList], lists[ModifiedPageList] * 4);
    DbgPrint("    ModifiedNoWrite: %8llu (%10llu kb)\n", lists[ModifiedNoWritePageList],
             lists[ModifiedNoWritePageList] * 4);
    DbgPrint("       Active/Valid: %8llu (%10llu kb)\n", lists[ActiveAndValid], lists[ActiveAndValid] * 4);
    DbgPrint("         Transition: %8llu (%10llu kb)\n", lists[TransitionPage], lists[TransitionPage] * 4);
    DbgPrint("                Bad: %8llu (%10llu kb)\n", lists[BadPageList], lists[BadPageList] * 4);
    DbgPrint("              TOTAL: %8llu (%10llu kb)\n", total, total * 4);
    DbgPrint("  of the active pages: %llu page tables, %llu locked (kernel image, boot data)\n",
             pageTables, locked);
    return STATUS_SUCCESS;
}
KD_COMMAND("!memusage", KD_GROUP_MM, "", "pages on each PFN list", KdpCmdMemusage);

/* ---- pool ------------------------------------------------------------------------------ */

static NTSTATUS KdpCmdPool(ULONG Argc, PCHAR Argv[])
{
    ULONG64 va;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !pool ADDR");
    if (!KdpParseNumber(Argv[1], &va))
        return STATUS_INVALID_PARAMETER;
    if (va < MM_SYSTEM_RANGE_START || !KdpIsAddressValid(va))
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not mapped", va);
    if (!ExpDumpPoolPage((PVOID)va))
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not in a pool page", va);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!pool", KD_GROUP_MM, "ADDR", "every block of ADDR's pool page, * on ADDR's", KdpCmdPool);

/* A tag pattern as !poolused takes it: '?' matches one character, '*' the rest. */
static BOOLEAN KdpTagMatches(PCSTR Pattern, ULONG Tag)
{
    for (ULONG i = 0; i < 4; i++) {
        char c = (char)(Tag >> (8 * i)), p = Pattern[i];
        if (p == '*')
            return TRUE;
        if (p == 0)
            return c == ' ';
        if (p != '?' && p != c)
            return FALSE;
    }
    return Pattern[4] == 0 || Pattern[4] == '*';
}

static NTSTATUS KdpCmdPoolused(ULONG Argc, PCHAR Argv[])
{
    static SYSTEM_POOLTAG tags[512];
    ULONG n, shown = 0;

    if (Argc > 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !poolused [tag]");
    if (Argc == 2 && (strlen(Argv[1]) == 0 || strlen(Argv[1]) > 4))
        return KdpError(STATUS_INVALID_PARAMETER, "'%s' is not a pool tag pattern", Argv[1]);
    n = ExpQueryPoolTagInformation(tags, ARRAYSIZE(tags));
    if (n > ARRAYSIZE(tags))
        n = ARRAYSIZE(tags);
    DbgPrint(" Sorting by Tag\n\n");
    DbgPrint("                            NonPaged                   Paged\n");
    DbgPrint(" Tag     Allocs       Used     Allocs       Used\n\n");
    /* Selection sort by tag text: a few hundred tags at most. */
    for (ULONG i = 0; i < n; i++) {
        ULONG best = i;
        char a[5], b[5];
        for (ULONG j = i + 1; j < n; j++)
            if (strcmp(ExpTagName(tags[j].TagUlong, a), ExpTagName(tags[best].TagUlong, b)) < 0)
                best = j;
        SYSTEM_POOLTAG t = tags[i];
        tags[i] = tags[best];
        tags[best] = t;
    }
    for (ULONG i = 0; i < n; i++) {
        SYSTEM_POOLTAG *t = &tags[i];
        char name[5];
        ULONG np = t->NonPagedAllocs - t->NonPagedFrees, pg = t->PagedAllocs - t->PagedFrees;
        if (Argc == 2 && !KdpTagMatches(Argv[1], t->TagUlong))
            continue;
        if (Argc == 1 && np == 0 && pg == 0)
            continue;
        DbgPrint(" %-4s %10u %10llu %10u %10llu\n", ExpTagName(t->TagUlong, name), np,
                 (ULONG64)t->NonPagedUsed, pg, (ULONG64)t->PagedUsed);
        shown++;
    }
    if (shown == 0)
        DbgPrint(" (no tag matches)\n");
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!poolused", KD_GROUP_MM, "[tag]", "pool use per tag (? and * match)", KdpCmdPoolused);

static NTSTATUS KdpCmdPoolfind(ULONG Argc, PCHAR Argv[])
{
    ULONG tag, found;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !poolfind tag");
    if (!KdpParseTag(Argv[1], &tag))
        return STATUS_INVALID_PARAMETER;
    DbgPrint("Scanning the pools for tag '%s'\n", Argv[1]);
    found = ExpReportPoolLeaks(tag);
    DbgPrint("%u allocation%s with tag '%s'\n", found, found == 1 ? "" : "s", Argv[1]);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!poolfind", KD_GROUP_MM, "tag", "every live allocation with that tag", KdpCmdPoolfind);

/* ---- system PTEs and the free-run tree --------------------------------------------------- */

static NTSTATUS KdpCmdSysptes(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !sysptes");
    DbgPrint("System PTE Information\n");
    DbgPrint("  Total System Ptes %llu (%016llx - %016llx)\n", MM_SYSTEM_PTE_PAGES,
             MM_SYSTEM_PTE_BASE, MM_SYSTEM_PTE_END - 1);
    DbgPrint("  free ptes: %llu\n", (ULONG64)MiFreeSystemPteCount());
    DbgPrint("  in use:    %llu\n", MM_SYSTEM_PTE_PAGES - MiFreeSystemPteCount());
    return STATUS_SUCCESS;
}
KD_COMMAND("!sysptes", KD_GROUP_MM, "", "system PTE space: total, free, in use", KdpCmdSysptes);

#define KD_RUNTREE_ROWS 16

static NTSTATUS KdpCmdRuntree(ULONG Argc, PCHAR Argv[])
{
    ULONG64 lo = 0, hi = MiFreeRunTree.PageCount ? MiFreeRunTree.PageCount - 1 : 0;
    ULONG rows = 0;

    if (Argc != 1 && Argc != 3)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !runtree [lowPFN highPFN]");
    if (Argc == 3 && (!KdpParseNumber(Argv[1], &lo) || !KdpParseNumber(Argv[2], &hi)))
        return STATUS_INVALID_PARAMETER;
    if (lo > hi)
        return KdpError(STATUS_INVALID_PARAMETER, "the range %llx-%llx is empty", lo, hi);
    if (MiFreeRunTree.PageCount && hi >= MiFreeRunTree.PageCount)
        hi = MiFreeRunTree.PageCount - 1;
    DbgPrint("Free-run tree: %llu pages tracked, %llu free, longest run %llu pages\n",
             (ULONG64)MiFreeRunTree.PageCount, (ULONG64)MiRunTreeFreeCount(&MiFreeRunTree),
             (ULONG64)MiRunTreeLongestRun(&MiFreeRunTree));
    DbgPrint("Free runs in PFN %llx-%llx:\n", lo, hi);
    for (ULONG64 p = lo; p <= hi && p < MiFreeRunTree.PageCount;) {
        ULONG64 start;
        if (!MiRunTreeIsFree(&MiFreeRunTree, p)) {
            p++;
            continue;
        }
        start = p;
        while (p <= hi && MiRunTreeIsFree(&MiFreeRunTree, p))
            p++;
        if (rows++ < KD_RUNTREE_ROWS)
            DbgPrint("  %08llx - %08llx  %8llu pages\n", start, p - 1, p - start);
    }
    if (rows > KD_RUNTREE_ROWS)
        DbgPrint("  ... %u runs in all\n", rows);
    else if (rows == 0)
        DbgPrint("  (none)\n");
    return STATUS_SUCCESS;
}
KD_COMMAND("!runtree", KD_GROUP_MM, "[lowPFN highPFN]", "free physical runs (contiguous allocator)",
           KdpCmdRuntree);

/* ---- !lookaside ------------------------------------------------------------------------ */

#define KD_LOOKASIDE_MAX 64

static NTSTATUS KdpCmdLookaside(ULONG Argc, PCHAR Argv[])
{
    static EXP_LOOKASIDE_SNAPSHOT lists[KD_LOOKASIDE_MAX];
    ULONG64 only = 0;
    ULONG n, shown = 0;

    if (Argc > 2 || (Argc == 2 && !KdpParseNumber(Argv[1], &only)))
        return Argc > 2 ? KdpError(STATUS_INVALID_PARAMETER, "usage: !lookaside [address]")
                        : STATUS_INVALID_PARAMETER;
    n = ExpSnapshotLookasideLists(lists, KD_LOOKASIDE_MAX);
    for (ULONG i = 0; i < n && i < KD_LOOKASIDE_MAX; i++) {
        EXP_LOOKASIDE_SNAPSHOT *l = &lists[i];
        char tag[5];
        if (only != 0 && (ULONG64)l->Address != only)
            continue;
        shown++;
        DbgPrint("Lookaside @ %016llx  Tag %s\n", (ULONG64)l->Address, ExpTagName(l->Tag, tag));
        DbgPrint("    Type           =     %04x %s\n", (ULONG)l->Type,
                 (l->Type & BASE_POOL_TYPE_MASK) == POOL_TYPE_PAGED ? "PagedPool" : "NonPagedPool");
        DbgPrint("    Current Depth  = %8u   Max Depth  = %8u   Cached = %u\n", l->Depth,
                 l->MaximumDepth, l->Cached);
        DbgPrint("    Size           = %8u\n", l->Size);
        DbgPrint("    AllocateMisses = %8u   FreeMisses = %8u\n", l->AllocateMisses, l->FreeMisses);
        DbgPrint("    TotalAllocates = %8u   TotalFrees = %8u\n", l->TotalAllocates, l->TotalFrees);
        DbgPrint("    Hit Rate       = %7u%%   Hit Rate   = %7u%%\n",
                 l->TotalAllocates ? (l->TotalAllocates - l->AllocateMisses) * 100 / l->TotalAllocates : 0,
                 l->TotalFrees ? (l->TotalFrees - l->FreeMisses) * 100 / l->TotalFrees : 0);
    }
    if (only != 0 && shown == 0)
        return KdpError(STATUS_NOT_FOUND, "%llx is not a lookaside list", only);
    if (n == 0)
        DbgPrint("No lookaside lists are initialized\n");
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!lookaside", KD_GROUP_MM, "[address]", "lookaside lists: depth, hits, misses", KdpCmdLookaside);

/* ---- !mdl ------------------------------------------------------------------------------ */

#define KD_MDL_MAX_PAGES 512

static NTSTATUS KdpCmdMdl(ULONG Argc, PCHAR Argv[])
{
    ULONG64 a;
    MDL mdl;
    PFN_NUMBER pages, pfn;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !mdl ADDR");
    if (!KdpParseNumber(Argv[1], &a))
        return STATUS_INVALID_PARAMETER;
    if ((a & 7) != 0 || !KdpReadMemory(a, &mdl, sizeof(mdl)))
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not mapped (or not aligned)", a);
    /* An MDL's Size covers its header and its PFN array: a cheap sanity check. */
    pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES((PVOID)((ULONG64)mdl.StartVa + mdl.ByteOffset), mdl.ByteCount);
    if ((ULONG)mdl.Size < sizeof(MDL) + pages * sizeof(PFN_NUMBER) || pages > KD_MDL_MAX_PAGES ||
        ((ULONG64)mdl.StartVa & (PAGE_SIZE - 1)) != 0 || mdl.ByteOffset >= PAGE_SIZE)
        return KdpError(STATUS_INVALID_PARAMETER, "%llx does not look like an MDL", a);
    DbgPrint("Mdl %016llx: %llu pages, Flags %04x\n", a, (ULONG64)pages, (USHORT)mdl.MdlFlags);
    DbgPrint("    StartVa %016llx  ByteOffset %x  ByteCount %x  MappedSystemVa %016llx\n",
             (ULONG64)mdl.StartVa, mdl.ByteOffset, mdl.ByteCount, (ULONG64)mdl.MappedSystemVa);
    DbgPrint("    Next %016llx  Size %x\n", (ULONG64)mdl.Next, (USHORT)mdl.Size);
    DbgPrint("    PFN array:");
    for (PFN_NUMBER i = 0; i < pages; i++) {
        if (!KdpReadMemory(a + sizeof(MDL) + i * sizeof(PFN_NUMBER), &pfn, sizeof(pfn)))
            return KdpError(STATUS_INVALID_PARAMETER, "the PFN array is not mapped");
        DbgPrint("%s %llx", i % 8 == 0 && i ? "\n              " : "", (ULONG64)pfn);
    }
    DbgPrint("\n");
    return STATUS_SUCCESS;
}
KD_COMMAND("!mdl", KD_GROUP_MM, "ADDR", "an MDL: its range, flags and PFN array", KdpCmdMdl);

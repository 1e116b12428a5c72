/*
 * kdcmd_phys.c - the kd> shell's pictures of physical memory, read from the
 * PFN database:
 *
 *   !contig              every contiguous allocation (MmAllocateContiguousMemory's
 *                        runs, marked first/last page in the PFN flags) and the
 *                        longest free run left for the next one
 *   !memmap [PAGES]      one character per PAGES pages (default: what fits in
 *                        32 rows of 64), the character of the group's most
 *                        common kind of page, then a legend with the counts
 *
 * An active page's owner comes from its PFN flags (page table, locked kernel
 * or boot data, a contiguous run) or else from the address its PTE maps
 * (nonpaged, paged or special pool). Unlocked, like !memusage: a snapshot.
 */
#include "kd_internal.h"

/* What a page is, for !memmap; the order is the legend's. */
typedef enum _KD_PAGE_KIND {
    KdPageZeroed, KdPageFree, KdPageStandby, KdPageModified, KdPageModifiedNoWrite,
    KdPageTransition, KdPageBad, KdPageTable, KdPageLocked, KdPageContiguous, KdPageNonPagedPool,
    KdPagePagedPool, KdPageSpecialPool, KdPageActive, KdPageNotRam, KdPageKinds
} KD_PAGE_KIND;

static const struct {
    char Symbol;
    PCSTR Name;
} KdpPageKinds[KdPageKinds] = {
    {'z', "Zeroed"}, {'f', "Free"}, {'s', "Standby"}, {'m', "Modified"}, {'n', "ModifiedNoWrite"},
    {'t', "Transition"}, {'X', "Bad"}, {'P', "Active: page table"},
    {'K', "Active: locked (kernel image, boot data)"}, {'C', "Active: contiguous allocation"},
    {'N', "Active: nonpaged pool"}, {'G', "Active: paged pool"}, {'S', "Active: special pool"},
    {'A', "Active: other (stacks, MDL pages, mappings)"}, {'.', "not RAM"},
};

static BOOLEAN KdpIsRam(PFN_NUMBER Pfn)
{
    for (ULONG r = 0; r < MiPhysicalRunCount; r++)
        if (Pfn >= MiPhysicalRuns[r].BasePage && Pfn < MiPhysicalRuns[r].BasePage + MiPhysicalRuns[r].PageCount)
            return TRUE;
    return FALSE;
}

/* The kind of Pfn; *InRun carries "inside a contiguous allocation" from page to page. */
static KD_PAGE_KIND KdpPageKind(PFN_NUMBER Pfn, BOOLEAN *InRun)
{
    PMMPFN pfn;
    BOOLEAN contiguous;
    ULONG64 va;

    if (!KdpIsRam(Pfn)) {
        *InRun = FALSE;
        return KdPageNotRam;
    }
    pfn = MI_PFN_ELEMENT(Pfn);
    if (pfn->PageLocation != ActiveAndValid) {
        *InRun = FALSE;
        switch (pfn->PageLocation) {
        case ZeroedPageList: return KdPageZeroed;
        case FreePageList: return KdPageFree;
        case StandbyPageList: return KdPageStandby;
        case ModifiedPageList: return KdPageModified;
        case ModifiedNoWritePageList: return KdPageModifiedNoWrite;
        case TransitionPage: return KdPageTransition;
        default: return KdPageBad;
        }
    }
    if (pfn->Flags & MI_PFN_START_OF_ALLOCATION)
        *InRun = TRUE;
    contiguous = *InRun;
    if (pfn->Flags & MI_PFN_END_OF_ALLOCATION)
        *InRun = FALSE;
    if (pfn->Flags & MI_PFN_PAGE_TABLE)
        return KdPageTable;
    if (pfn->Flags & MI_PFN_LOCKED)
        return KdPageLocked;
    if (contiguous)
        return KdPageContiguous;
    if (pfn->PteAddress == NULL)
        return KdPageActive;
    va = (ULONG64)MiGetVirtualAddressMappedByPte(pfn->PteAddress);
    if (va >= MM_NONPAGED_POOL_START && va < MM_NONPAGED_POOL_END)
        return KdPageNonPagedPool;
    if (va >= MM_PAGED_POOL_START && va < MM_PAGED_POOL_END)
        return KdPagePagedPool;
    if (va >= MM_SPECIAL_POOL_START && va < MM_SPECIAL_POOL_END)
        return KdPageSpecialPool;
    return KdPageActive;
}

/* ---- !contig --------------------------------------------------------------------------- */

static NTSTATUS KdpCmdContig(ULONG Argc, PCHAR Argv[])
{
    ULONG count = 0;
    PFN_NUMBER pages = 0;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !contig");
    DbgPrint("Contiguous allocations (MmAllocateContiguousMemory):\n");
    DbgPrint("  first PFN  last PFN     pages  physical          mapped at\n");
    for (ULONG r = 0; r < MiPhysicalRunCount; r++) {
        PFN_NUMBER end = MiPhysicalRuns[r].BasePage + MiPhysicalRuns[r].PageCount;
        for (PFN_NUMBER n = MiPhysicalRuns[r].BasePage; n < end; n++) {
            PMMPFN first = MI_PFN_ELEMENT(n);
            PFN_NUMBER last = n;
            if (first->PageLocation != ActiveAndValid || !(first->Flags & MI_PFN_START_OF_ALLOCATION))
                continue;
            while (last + 1 < end && !(MI_PFN_ELEMENT(last)->Flags & MI_PFN_END_OF_ALLOCATION))
                last++;
            DbgPrint("  %08llx   %08llx  %8llu  %016llx  %016llx\n", (ULONG64)n, (ULONG64)last,
                     (ULONG64)(last - n + 1), (ULONG64)n << PAGE_SHIFT,
                     first->PteAddress ? (ULONG64)MiGetVirtualAddressMappedByPte(first->PteAddress) : 0ULL);
            count++;
            pages += last - n + 1;
            n = last;
        }
    }
    if (count == 0)
        DbgPrint("  (none)\n");
    DbgPrint("%u allocations, %llu pages; longest free run %llu pages, %llu pages free\n", count,
             (ULONG64)pages, (ULONG64)MiRunTreeLongestRun(&MiFreeRunTree),
             (ULONG64)MiRunTreeFreeCount(&MiFreeRunTree));
    return STATUS_SUCCESS;
}
KD_COMMAND("!contig", KD_GROUP_MM, "", "contiguous allocations and the longest free run", KdpCmdContig);

/* ---- !memmap --------------------------------------------------------------------------- */

#define KD_MEMMAP_COLUMNS 64
#define KD_MEMMAP_ROWS    32            /* the default group size fits the map in this */

static NTSTATUS KdpCmdMemmap(ULONG Argc, PCHAR Argv[])
{
    PFN_NUMBER highest = MmHighestPhysicalPage, totals[KdPageKinds] = {0};
    ULONG64 group;
    BOOLEAN inRun = FALSE;
    char line[KD_MEMMAP_COLUMNS + 1];
    ULONG column = 0;

    if (Argc > 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !memmap [pages per character]");
    group = (highest + KD_MEMMAP_COLUMNS * KD_MEMMAP_ROWS) / (KD_MEMMAP_COLUMNS * KD_MEMMAP_ROWS);
    if (Argc == 2 && !KdpParseNumber(Argv[1], &group))
        return STATUS_INVALID_PARAMETER;
    if (group == 0 || (highest + 1 + group - 1) / group > 64 * 1024)
        return KdpError(STATUS_INVALID_PARAMETER, "%llu pages per character: 1 to make at most 65536 characters",
                        group);
    DbgPrint("Physical memory, PFN 0-%llx, %llu page%s per character:\n", (ULONG64)highest, group,
             group == 1 ? "" : "s");
    for (PFN_NUMBER base = 0; base <= highest; base += group) {
        PFN_NUMBER counts[KdPageKinds] = {0};
        ULONG best = 0;
        for (PFN_NUMBER n = base; n < base + group && n <= highest; n++) {
            KD_PAGE_KIND k = KdpPageKind(n, &inRun);
            counts[k]++;
            totals[k]++;
        }
        /* The group's most common kind; RAM wins ties against "not RAM". */
        for (ULONG k = 1; k < KdPageKinds; k++)
            if (counts[k] > counts[best])
                best = k;
        if (column == 0)
            DbgPrint("%08llx ", (ULONG64)base);
        line[column++] = KdpPageKinds[best].Symbol;
        if (column == KD_MEMMAP_COLUMNS || base + group > highest) {
            line[column] = 0;
            DbgPrint("%s\n", line);
            column = 0;
        }
    }
    DbgPrint("Legend (pages):\n");
    for (ULONG k = 0; k < KdPageKinds; k++)
        if (totals[k] != 0)
            DbgPrint("  %c %-44s %8llu\n", KdpPageKinds[k].Symbol, KdpPageKinds[k].Name, (ULONG64)totals[k]);
    return STATUS_SUCCESS;
}
KD_COMMAND("!memmap", KD_GROUP_MM, "[pages per char]", "a picture of the PFN database, one character a group",
           KdpCmdMemmap);

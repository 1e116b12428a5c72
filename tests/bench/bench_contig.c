/*
 * bench_contig.c - the contiguous-range search: tree versus linear scan.
 *
 * Free memory is first fragmented at random: all free pages are taken in
 * address order in chunks of random size (1-512 pages), and a random half
 * of the chunks is given back, so free runs of every size lie scattered
 * over all of RAM. Then each figure is the median cost of
 * MmAllocateContiguousMemorySpecifyCache + MmFreeContiguousMemory of 1, 16
 * and 256 pages (contig.tree.Np), next to the same allocator core driven
 * by a naive first-fit scan over the PFN database (contig.linear.Np, a
 * baseline that lives only here). Both find the lowest fit, so the
 * benchmark also checks that they agree. Afterwards every page goes back.
 */
#include "../../mm/mm_internal.h"
#include "../kbench.h"

#define SAMPLES 31
#define MAX_CHUNK_PAGES 512

typedef struct _KB_CHUNK {
    PFN_NUMBER Start, Count;
} KB_CHUNK;

static ULONG64 KbSamples[SAMPLES];
static ULONG64 KbRng = 0xD1B54A32D192ED03ULL;

static ULONG64 KbRand(void)
{
    KbRng ^= KbRng << 13;
    KbRng ^= KbRng >> 7;
    KbRng ^= KbRng << 17;
    return KbRng;
}

static BOOLEAN KbIsFreePfn(PFN_NUMBER Pfn)
{
    UCHAR location = MI_PFN_ELEMENT(Pfn)->PageLocation;
    return location == ZeroedPageList || location == FreePageList;
}

/* First fit, the way one would write it without a tree: walk every RAM page. */
static PFN_NUMBER KbLinearFind(PFN_NUMBER Pages, PFN_NUMBER LowPfn, PFN_NUMBER HighPfn,
                               PFN_NUMBER BoundaryPfn)
{
    for (ULONG r = 0; r < MiPhysicalRunCount; r++) {
        PFN_NUMBER p = MiPhysicalRuns[r].BasePage, end = p + MiPhysicalRuns[r].PageCount, run = 0;
        if (p < LowPfn)
            p = LowPfn;
        for (; p < end && p <= HighPfn; p++) {
            if (!KbIsFreePfn(p)) {
                run = 0;
                continue;
            }
            if (BoundaryPfn && run > 0 && (p & (BoundaryPfn - 1)) == 0)
                run = 0;                /* a new boundary block starts here */
            if (++run == Pages)
                return p - Pages + 1;
        }
    }
    return MI_RUN_NONE;
}

static PFN_NUMBER KbTreeFind(PFN_NUMBER Pages, PFN_NUMBER LowPfn, PFN_NUMBER HighPfn,
                             PFN_NUMBER BoundaryPfn)
{
    return MiRunTreeFind(&MiFreeRunTree, Pages, LowPfn, HighPfn, BoundaryPfn);
}

/* Take every free page in address order, in chunks; give back half of them. */
static ULONG KbFragment(KB_CHUNK *Chunks, ULONG Capacity)
{
    PFN_NUMBER cursor = 0;
    ULONG held = 0;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (;;) {
        PFN_NUMBER want = 1 + KbRand() % MAX_CHUNK_PAGES, start, got = 0;
        start = MiRunTreeFind(&MiFreeRunTree, 1, cursor, MmHighestPhysicalPage, 0);
        if (start == MI_RUN_NONE || held == Capacity)
            break;
        while (got < want && start + got <= MmHighestPhysicalPage &&
               MiRunTreeIsFree(&MiFreeRunTree, start + got)) {
            MiUnlinkPageFromList(start + got);
            got++;
        }
        cursor = start + got;
        if (KbRand() & 1) {
            Chunks[held].Start = start;
            Chunks[held].Count = got;
            held++;
        } else {
            for (PFN_NUMBER p = start; p < start + got; p++)
                MiInsertPageInFreeList(p);
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    return held;
}

static void KbRelease(KB_CHUNK *Chunks, ULONG Held)
{
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (ULONG i = 0; i < Held; i++)
        for (PFN_NUMBER p = Chunks[i].Start; p < Chunks[i].Start + Chunks[i].Count; p++)
            MiInsertPageInFreeList(p);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

static ULONG64 KbMeasure(PFN_NUMBER Pages, PMI_CONTIGUOUS_FINDER Finder, PULONG64 FirstPhysical)
{
    PHYSICAL_ADDRESS low = {.QuadPart = 0}, high = {.QuadPart = -1}, none = {.QuadPart = 0};

    *FirstPhysical = 0;
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        PVOID p = MiAllocateContiguousMemory(Pages << PAGE_SHIFT, low, high, none, MmCached, TRUE,
                                             Finder);
        if (p == NULL)
            return 0;
        if (s == 0)
            *FirstPhysical = (ULONG64)MmGetPhysicalAddress(p).QuadPart;
        MmFreeContiguousMemory(p);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
    }
    return KbenchMedian(KbSamples, SAMPLES);
}

KBENCH(contig)
{
    static const PFN_NUMBER sizes[] = {1, 16, 256};
    static const char *const treeNames[] = {"contig.tree.1p", "contig.tree.16p", "contig.tree.256p"};
    static const char *const linearNames[] = {"contig.linear.1p", "contig.linear.16p",
                                              "contig.linear.256p"};
    PFN_NUMBER freeBefore = MmFreePageListHead.Total + MmZeroedPageListHead.Total;
    ULONG capacity = (ULONG)(freeBefore / 64 + 1024);
    PHYSICAL_ADDRESS high = {.QuadPart = -1};
    KB_CHUNK *chunks = MmAllocateContiguousMemory(capacity * sizeof(KB_CHUNK), high);
    ULONG held;

    if (chunks == NULL) {
        DbgPrint("# bench contig: no memory for the chunk table\n");
        return;
    }
    held = KbFragment(chunks, capacity);
    DbgPrint("# bench contig: %u chunks held, %llu pages free, longest free run %llu pages\n", held,
             MmFreePageListHead.Total + MmZeroedPageListHead.Total,
             MiRunTreeLongestRun(&MiFreeRunTree));
    for (ULONG i = 0; i < ARRAYSIZE(sizes); i++) {
        ULONG64 treePa, linearPa;
        ULONG64 tree = KbMeasure(sizes[i], KbTreeFind, &treePa);
        ULONG64 linear = KbMeasure(sizes[i], KbLinearFind, &linearPa);
        if (treePa != linearPa)
            DbgPrint("# bench contig: tree and linear scan disagree for %llu pages: %llx vs %llx\n",
                     sizes[i], treePa, linearPa);
        KbenchReport(treeNames[i], tree, "cycles");
        KbenchReport(linearNames[i], linear, "cycles");
    }
    KbRelease(chunks, held);
    MmFreeContiguousMemory(chunks);
    if (MmFreePageListHead.Total + MmZeroedPageListHead.Total != freeBefore)
        DbgPrint("# bench contig: %lld pages lost\n",
                 (LONG64)(freeBefore - MmFreePageListHead.Total - MmZeroedPageListHead.Total));
}

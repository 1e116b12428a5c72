/*
 * bench_contig.c - the contiguous-range search: tree versus linear scan.
 *
 * Free memory is first fragmented at random, page by page: every free page
 * is taken by the benchmark with probability 1/2, so half of free memory
 * stays free in runs of random length (two pages on average; a run of 16
 * turns up every ~130,000 pages; one of 256 practically never). One run
 * of KB_FIT_PAGES free pages is then opened at a random place, so that
 * every request has a fit, and only one for the large sizes. Each figure is
 * the median cost of MmAllocateContiguousMemorySpecifyCache +
 * MmFreeContiguousMemory of 1, 16 and 256 pages (contig.tree.Np), next to
 * the same allocator core driven by a naive first-fit scan over the PFN
 * database (contig.linear.Np, a baseline that lives only here). Both find
 * the lowest fit, so the benchmark also checks that they agree. The tree
 * finds it in O(log N) wherever it is; the scan walks every PFN entry below
 * it. contig.search.{tree,linear}.256p time the two searches alone (the
 * alloc+free figures also map, unmap and move 256 pages between lists).
 * Afterwards every page goes back.
 */
#include "../../mm/mm_internal.h"
#include "../kbench.h"
#include "../ktest.h"

#define SAMPLES 31
#define KB_FIT_PAGES 1024
#define KB_FIT_TRIES 64
#define KB_TAG 'gfBK'

/* The pages the benchmark holds: one bit per PFN. */
static PULONG64 KbHeld;

static ULONG64 KbSamples[SAMPLES];
static ULONG64 KbRng = 0xD1B54A32D192ED03ULL;

static ULONG64 KbRand(void)
{
    return KtestRandom(&KbRng);
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

static BOOLEAN KbIsHeld(PFN_NUMBER Pfn)
{
    return (KbHeld[Pfn / 64] >> (Pfn % 64)) & 1;
}

/* Take every free page with probability 1/2; returns how many were taken. */
static PFN_NUMBER KbFragment(void)
{
    PFN_NUMBER cursor = 0, held = 0;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (;;) {
        PFN_NUMBER page = MiRunTreeFind(&MiFreeRunTree, 1, cursor, MmHighestPhysicalPage, 0);
        if (page == MI_RUN_NONE)
            break;
        cursor = page + 1;
        if (KbRand() & 1) {
            MiUnlinkPageFromList(page);
            KbHeld[page / 64] |= 1ULL << (page % 64);
            held++;
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    return held;
}

/* Give back the held pages of [Start, Start + Count). */
static void KbReleaseRange(PFN_NUMBER Start, PFN_NUMBER Count)
{
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (PFN_NUMBER p = Start; p < Start + Count && p <= MmHighestPhysicalPage; p++)
        if (KbIsHeld(p)) {
            KbHeld[p / 64] &= ~(1ULL << (p % 64));
            MiInsertPageInFreeList(p);
        }
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* Open one free run of KB_FIT_PAGES at a random place; its first PFN or 0. */
static PFN_NUMBER KbOpenFit(void)
{
    for (ULONG t = 0; t < KB_FIT_TRIES; t++) {
        PFN_NUMBER span = MmHighestPhysicalPage - MmLowestPhysicalPage - KB_FIT_PAGES;
        PFN_NUMBER start = MmLowestPhysicalPage + KbRand() % span, p;
        /* Only where every page is either free or ours: RAM nobody else uses. */
        for (p = start; p < start + KB_FIT_PAGES; p++)
            if (!MiIsPfnRam(p) || (!KbIsHeld(p) && !MiRunTreeIsFree(&MiFreeRunTree, p)))
                break;
        if (p == start + KB_FIT_PAGES) {
            KbReleaseRange(start, KB_FIT_PAGES);
            return start;
        }
    }
    return 0;
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

/* The search alone, under the PFN lock as the allocator runs it. */
static ULONG64 KbMeasureSearch(PFN_NUMBER Pages, PMI_CONTIGUOUS_FINDER Finder, PFN_NUMBER *Found)
{
    for (ULONG s = 0; s < SAMPLES; s++) {
        KIRQL irql;
        ULONG64 t0;
        KeAcquireSpinLock(&MmPfnLock, &irql);
        t0 = KeReadTimeStampCounter();
        *Found = Finder(Pages, 0, MmHighestPhysicalPage, 0);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
        KeReleaseSpinLock(&MmPfnLock, irql);
    }
    return KbenchMedian(KbSamples, SAMPLES);
}

KBENCH(contig)
{
    static const PFN_NUMBER sizes[] = {1, 16, 256};
    static const char *const treeNames[] = {"contig.tree.1p", "contig.tree.16p", "contig.tree.256p"};
    static const char *const linearNames[] = {"contig.linear.1p", "contig.linear.16p",
                                              "contig.linear.256p"};
    PFN_NUMBER freeBefore = MmFreePageListHead.Total + MmZeroedPageListHead.Total, held, fit;
    SIZE_T bitmapBytes = (MmHighestPhysicalPage / 64 + 1) * sizeof(ULONG64);

    KbHeld = ExAllocatePoolWithTag(NonPagedPoolNx, bitmapBytes, KB_TAG);
    if (KbHeld == NULL) {
        DbgPrint("# bench contig: no memory for the page bitmap\n");
        return;
    }
    RtlZeroMemory(KbHeld, bitmapBytes);
    held = KbFragment();
    fit = KbOpenFit();
    DbgPrint("# bench contig: %llu pages held, %llu free, longest free run %llu pages at pfn %llx\n",
             held, MmFreePageListHead.Total + MmZeroedPageListHead.Total,
             MiRunTreeLongestRun(&MiFreeRunTree), fit);
    for (ULONG i = 0; i < ARRAYSIZE(sizes); i++) {
        ULONG64 treePa, linearPa;
        ULONG64 tree = KbMeasure(sizes[i], KbTreeFind, &treePa);
        ULONG64 linear = KbMeasure(sizes[i], KbLinearFind, &linearPa);
        if (treePa != linearPa)
            DbgPrint("# bench contig: tree and linear scan disagree for %llu pages: %llx vs %llx\n",
                     sizes[i], treePa, linearPa);
        else
            DbgPrint("# bench contig: %llu pages: lowest fit at %llx\n", sizes[i], treePa);
        KbenchReport(treeNames[i], tree, "cycles");
        KbenchReport(linearNames[i], linear, "cycles");
    }
    /* The goal compares searches; the figures above include mapping. */
    {
        PFN_NUMBER treeFit, linearFit;
        ULONG64 tree = KbMeasureSearch(256, KbTreeFind, &treeFit);
        ULONG64 linear = KbMeasureSearch(256, KbLinearFind, &linearFit);
        if (treeFit != linearFit)
            DbgPrint("# bench contig: searches disagree: %llx vs %llx\n", treeFit, linearFit);
        KbenchReport("contig.search.tree.256p", tree, "cycles");
        KbenchReport("contig.search.linear.256p", linear, "cycles");
    }
    KbReleaseRange(0, MmHighestPhysicalPage + 1);
    ExFreePoolWithTag(KbHeld, KB_TAG);
    if (MmFreePageListHead.Total + MmZeroedPageListHead.Total != freeBefore)
        DbgPrint("# bench contig: %lld pages lost\n",
                 (LONG64)(freeBefore - MmFreePageListHead.Total - MmZeroedPageListHead.Total));
}

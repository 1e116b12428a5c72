/*
 * lab_runtree.c - the free-run tree of the running kernel (graded by the
 * runtree lab, tests/labs/runtree.rubric; they also guard the reference).
 *
 * Read-only under MmPfnLock: every summary must agree with the bitmap
 * (MiRunTreeVerify), the tree must count the pages the Zeroed and Free
 * lists hold, and MiRunTreeFind must give what a page-by-page scan of
 * MiRunTreeIsFree gives, under Low, High and Boundary. Nothing here goes
 * through the contiguous allocator, so a later lab's stub cannot fail it.
 */
#include "../../mm/mm_internal.h"
#include "../ktest.h"

/* Leftmost start in [Low, High] of Count free pages not crossing Boundary. */
static PFN_NUMBER BruteFind(PFN_NUMBER Count, PFN_NUMBER Low, PFN_NUMBER High, PFN_NUMBER Boundary)
{
    PFN_NUMBER run = 0;

    for (PFN_NUMBER p = Low; p <= High && p < MiFreeRunTree.PageCount; p++) {
        if (Boundary != 0 && p % Boundary == 0)
            run = 0;                    /* a run may start at a multiple, not cross one */
        run = MiRunTreeIsFree(&MiFreeRunTree, p) ? run + 1 : 0;
        if (run == Count)
            return p - Count + 1;
    }
    return MI_RUN_NONE;
}

KTEST(lab_runtree, summaries_agree_with_the_bitmap)
{
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    KEXPECT_TRUE(MiRunTreeVerify(&MiFreeRunTree));
    KEXPECT_EQ(MiRunTreeFreeCount(&MiFreeRunTree),
               MmZeroedPageListHead.Total + MmFreePageListHead.Total + MmLowFreePageListHead.Total);
    KEXPECT_NE(MiRunTreeLongestRun(&MiFreeRunTree), 0);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

KTEST(lab_runtree, find_matches_a_scan)
{
    static const PFN_NUMBER counts[] = {1, 2, 3, 7, 16, 63, 64, 65, 200, 1000};
    static const PFN_NUMBER bounds[] = {0, 16, 256};
    PFN_NUMBER top, lows[4], checked = 0, found = 0;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    top = MiFreeRunTree.PageCount - 1;
    lows[0] = 0;
    lows[1] = 0x100;                    /* 1 MiB */
    lows[2] = top / 3 + 5;
    lows[3] = top / 2 + 33;
    for (ULONG c = 0; c < ARRAYSIZE(counts); c++)
        for (ULONG l = 0; l < ARRAYSIZE(lows); l++)
            for (ULONG b = 0; b < ARRAYSIZE(bounds); b++) {
                PFN_NUMBER high = l % 2 ? top : lows[l] + 4096;

                if (bounds[b] != 0 && counts[c] > bounds[b])
                    continue;
                PFN_NUMBER want = BruteFind(counts[c], lows[l], high, bounds[b]);

                KEXPECT_EQ(MiRunTreeFind(&MiFreeRunTree, counts[c], lows[l], high, bounds[b]),
                           want);
                checked++;
                found += want != MI_RUN_NONE;
            }
    KeReleaseSpinLock(&MmPfnLock, irql);
    KEXPECT_EQ(checked, 96);            /* 120 cases less the runs longer than Boundary */
    KEXPECT_GT(found, 48);              /* most requests fit: the test is not vacuous */
}

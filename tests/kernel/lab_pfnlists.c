/*
 * lab_pfnlists.c - the PFN lists in the running kernel (graded by the
 * pfnlists lab, tests/labs/pfnlists.rubric; they also guard the reference).
 *
 * Each test takes and gives back a few pages through the routines the lab
 * asks for (MiLinkPage, MiUnlinkPage, MiRemoveHead below MiRemoveAnyPage,
 * MiRemoveZeroPage, MiFreeActivePage...) under MmPfnLock, then walks the
 * lists both ways: the Flink and Blink chains must mirror each other, end
 * in the list head, have Total pages, and every page's PageLocation must
 * name its list. Where a page goes is checked too: a freed page at the
 * Free list's tail, a zeroed one at the Zeroed list's head.
 */
#include "../../mm/mm_internal.h"
#include "../ktest.h"

/* Walk List forwards and backwards; FALSE (with a message) on any mismatch. */
static BOOLEAN ListIsSound(PMMPFNLIST List, const char *Name)
{
    PFN_NUMBER count = 0, prev = MI_LIST_END, page;

    for (page = List->Flink; page != MI_LIST_END; page = MI_PFN_ELEMENT(page)->u1.Flink) {
        PMMPFN pfn = MI_PFN_ELEMENT(page);

        if (pfn->u2.Blink != prev || pfn->PageLocation != List->ListName ||
            ++count > List->Total) {
            KtestFail(__FILE__, __LINE__, "%s list: page 0x%llx Blink 0x%llx (want 0x%llx), "
                      "location %u, %llu pages walked of %llu", Name,
                      (unsigned long long)page, (unsigned long long)pfn->u2.Blink,
                      (unsigned long long)prev, pfn->PageLocation, (unsigned long long)count,
                      (unsigned long long)List->Total);
            return FALSE;
        }
        prev = page;
    }
    if (List->Blink != prev || count != List->Total) {
        KtestFail(__FILE__, __LINE__, "%s list: head Blink 0x%llx, last page 0x%llx, "
                  "%llu pages, Total %llu", Name, (unsigned long long)List->Blink,
                  (unsigned long long)prev, (unsigned long long)count,
                  (unsigned long long)List->Total);
        return FALSE;
    }
    return TRUE;
}

static BOOLEAN AllListsSound(void)
{
    return ListIsSound(&MmZeroedPageListHead, "Zeroed") & ListIsSound(&MmFreePageListHead, "Free") &
           ListIsSound(&MmLowFreePageListHead, "LowFree");
}

#define LAB_PAGES 8

KTEST(lab_pfnlists, take_and_give_back)
{
    PFN_NUMBER pages[LAB_PAGES], avail, zeroed, free;
    KIRQL irql;
    ULONG i;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    KEXPECT_TRUE(AllListsSound());
    avail = MmAvailablePages;
    zeroed = MmZeroedPageListHead.Total;
    free = MmFreePageListHead.Total;
    for (i = 0; i < LAB_PAGES; i++) {
        pages[i] = i % 2 ? MiRemoveZeroPage(0) : MiRemoveAnyPage(0);
        if (pages[i] == 0)
            break;
        /* Off every list, and no longer free in the run tree. */
        KEXPECT_EQ(MI_PFN_ELEMENT(pages[i])->PageLocation, TransitionPage);
        KEXPECT_FALSE(MiRunTreeIsFree(&MiFreeRunTree, pages[i]));
        MiInitializePfnForActivePage(pages[i], NULL, MiCached);
    }
    KEXPECT_EQ(i, LAB_PAGES);
    KEXPECT_EQ(MmAvailablePages, avail - i);
    KEXPECT_EQ(MmZeroedPageListHead.Total + MmFreePageListHead.Total, zeroed + free - i);
    KEXPECT_TRUE(AllListsSound());
    while (i-- > 0) {
        BOOLEAN low = MiNoLowMemory && pages[i] < (MM_4GB >> PAGE_SHIFT);

        if (i % 2) {
            /* MiRemoveZeroPage's pages are zero, and still are. */
            MiFreeZeroedActivePage(pages[i]);
            if (!low)
                KEXPECT_EQ(MmZeroedPageListHead.Flink, pages[i]);
        } else {
            MiFreeActivePage(pages[i]);
            if (!low)
                KEXPECT_EQ(MmFreePageListHead.Blink, pages[i]);
        }
        KEXPECT_TRUE(MiRunTreeIsFree(&MiFreeRunTree, pages[i]));
    }
    KEXPECT_EQ(MmAvailablePages, avail);
    KEXPECT_TRUE(AllListsSound());
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* A page from the middle of the Free list: its neighbours must close ranks. */
KTEST(lab_pfnlists, unlink_from_the_middle)
{
    PFN_NUMBER page, before, after, total, avail;
    KIRQL irql;
    ULONG steps;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    total = MmFreePageListHead.Total;
    if (total < 3) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        KTEST_SKIP("fewer than 3 pages on the Free list");
    }
    page = MmFreePageListHead.Flink;
    for (steps = 0; steps < total / 2; steps++)
        page = MI_PFN_ELEMENT(page)->u1.Flink;
    before = MI_PFN_ELEMENT(page)->u2.Blink;
    after = MI_PFN_ELEMENT(page)->u1.Flink;
    avail = MmAvailablePages;
    MiUnlinkPageFromList(page);
    KEXPECT_EQ(MI_PFN_ELEMENT(before)->u1.Flink, after);
    if (after != MI_LIST_END)
        KEXPECT_EQ(MI_PFN_ELEMENT(after)->u2.Blink, before);
    KEXPECT_EQ(MmFreePageListHead.Total, total - 1);
    KEXPECT_EQ(MmAvailablePages, avail - 1);
    KEXPECT_FALSE(MiRunTreeIsFree(&MiFreeRunTree, page));
    KEXPECT_TRUE(AllListsSound());
    MiInitializePfnForActivePage(page, NULL, MiCached);
    MiFreeActivePage(page);
    KEXPECT_EQ(MmFreePageListHead.Total, total);
    KEXPECT_EQ(MmFreePageListHead.Blink, page);
    KEXPECT_EQ(MmAvailablePages, avail);
    KEXPECT_TRUE(MiRunTreeIsFree(&MiFreeRunTree, page));
    KEXPECT_TRUE(AllListsSound());
    KeReleaseSpinLock(&MmPfnLock, irql);
}

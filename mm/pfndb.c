/*
 * pfndb.c - the PFN database: one MMPFN per physical page, and the lists.
 *
 * MmPfnDatabase is a virtually contiguous array indexed by page frame
 * number, backed only where RAM is (init.c maps it run by run), so a hole
 * in physical memory costs no memory. Every page Mica manages is in
 * exactly one state:
 *   - on a list (Zeroed, Free, Standby, Modified, ModifiedNoWrite, Bad), linked
 *     through u1.Flink/u2.Blink by PFN, so taking one page is O(1);
 *   - or ActiveAndValid: in use, with ReferenceCount/ShareCount.
 * Zeroed and Free pages are also "free" in MiFreeRunTree, the bitmap with a
 * summary tree that answers contiguous-range questions (contig.c). The
 * two are updated together, always under MmPfnLock.
 *
 * With nolowmem, free pages below 4 GiB go on MmLowFreePageListHead instead
 * of the Free list: ordinary allocations never see them, and only callers
 * whose range excludes high memory (contiguous memory, MDL pages) get them.
 */
#include "mm_internal.h"

/* PFN_LIST_CORRUPT parameter 1 (Learn): a PTE or PFN is corrupt; (0x99, PFN, page state, 0). */
#define MI_PFN_CORRUPT_PTE_OR_PFN 0x99
/* (0x9A, PFN, page state, reference count): a page freed while locked for I/O. */
#define MI_PFN_FREE_LOCKED_PAGE 0x9A

MMPFNLIST MmZeroedPageListHead = {0, ZeroedPageList, MI_LIST_END, MI_LIST_END};
MMPFNLIST MmFreePageListHead = {0, FreePageList, MI_LIST_END, MI_LIST_END};
MMPFNLIST MmStandbyPageListHead = {0, StandbyPageList, MI_LIST_END, MI_LIST_END};
MMPFNLIST MmModifiedPageListHead = {0, ModifiedPageList, MI_LIST_END, MI_LIST_END};
MMPFNLIST MmModifiedNoWritePageListHead = {0, ModifiedNoWritePageList, MI_LIST_END, MI_LIST_END};
MMPFNLIST MmBadPageListHead = {0, BadPageList, MI_LIST_END, MI_LIST_END};
MMPFNLIST MmLowFreePageListHead = {0, FreePageList, MI_LIST_END, MI_LIST_END};
/*
 * The zero-page thread's stock (pager.c): zeroed pages it took out of the
 * free-run tree itself, in the background, so that a demand-zero fault
 * takes one in O(1) without the tree's walk to the root. They are Zeroed
 * pages in every other respect (available, PageLocation ZeroedPageList);
 * only the contiguous allocator cannot see them, and MiReturnZeroStock
 * gives them back to it when it comes up short.
 */
MMPFNLIST MiZeroStockListHead = {0, ZeroedPageList, MI_LIST_END, MI_LIST_END};
PFN_NUMBER MmAvailablePages;
/* The commit charge (commit.c). Its resident part moves with
 * MmAvailablePages: a page leaving the available lists is a page promised
 * to its new owner, a page coming back is a promise returned. */
PFN_NUMBER MmTotalCommittedPages, MmTotalCommitLimit;
MI_RUN_TREE MiFreeRunTree;
KSPIN_LOCK MmPfnLock;

static PMMPFNLIST const MiPageLists[] = {
    &MmZeroedPageListHead, &MmFreePageListHead, &MmStandbyPageListHead,
    &MmModifiedPageListHead, &MmModifiedNoWritePageListHead, &MmBadPageListHead,
};

BOOLEAN MiIsPfnRam(PFN_NUMBER Pfn)
{
    for (ULONG i = 0; i < MiPhysicalRunCount; i++)
        if (Pfn >= MiPhysicalRuns[i].BasePage &&
            Pfn < MiPhysicalRuns[i].BasePage + MiPhysicalRuns[i].PageCount)
            return TRUE;
    return FALSE;
}

static PMMPFNLIST MiListOfPage(PMMPFN Pfn)
{
    if (Pfn->Flags & MI_PFN_LOW_RESERVE)
        return &MmLowFreePageListHead;
    if (Pfn->Flags & MI_PFN_ZERO_STOCK)
        return &MiZeroStockListHead;
    if (Pfn->PageLocation > BadPageList)
        return NULL;
    return MiPageLists[Pfn->PageLocation];
}

/*
 * Lab fallbacks (tests/labs/pfnlists.md). A stripped tree's stubs call
 * these after LAB_TODO(pfnlists) so that it still boots. They are correct
 * but do not trust a page's own links: unlinking finds the page's
 * predecessor by walking the list from its head (O(list length), where the
 * reference is O(1)). The reference tree never calls them.
 */
static __attribute__((unused)) void MiLabFallbackLink(PMMPFNLIST ListHead, PFN_NUMBER Page,
                                                      BOOLEAN AtHead)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);
    /* Between before and after: (end, old head) or (old tail, end). */
    PFN_NUMBER before = AtHead ? MI_LIST_END : ListHead->Blink;
    PFN_NUMBER after = AtHead ? ListHead->Flink : MI_LIST_END;

    pfn->u2.Blink = before;
    pfn->u1.Flink = after;
    *(before == MI_LIST_END ? &ListHead->Flink : &MI_PFN_ELEMENT(before)->u1.Flink) = Page;
    *(after == MI_LIST_END ? &ListHead->Blink : &MI_PFN_ELEMENT(after)->u2.Blink) = Page;
}

static __attribute__((unused)) void MiLabFallbackUnlink(PMMPFNLIST List, PFN_NUMBER Page)
{
    PFN_NUMBER before = MI_LIST_END, at = List->Flink, after;

    while (at != Page) {
        if (at == MI_LIST_END)      /* not on the list it claims to be on */
            KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_CORRUPT_PTE_OR_PFN, Page,
                         MI_PFN_ELEMENT(Page)->PageLocation, 0);
        before = at;
        at = MI_PFN_ELEMENT(at)->u1.Flink;
    }
    after = MI_PFN_ELEMENT(Page)->u1.Flink;
    *(before == MI_LIST_END ? &List->Flink : &MI_PFN_ELEMENT(before)->u1.Flink) = after;
    *(after == MI_LIST_END ? &List->Blink : &MI_PFN_ELEMENT(after)->u2.Blink) = before;
}

/* Zeroed pages go to the head (they are the most valuable), others to the tail. */
static void MiLinkPage(PMMPFNLIST ListHead, PFN_NUMBER Page)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);

    pfn->PageLocation = (UCHAR)ListHead->ListName;
    pfn->Flags &= (UCHAR)~(MI_PFN_START_OF_ALLOCATION | MI_PFN_END_OF_ALLOCATION);
    if (ListHead == &MmLowFreePageListHead)
        pfn->Flags |= MI_PFN_LOW_RESERVE;
    if (ListHead == &MiZeroStockListHead)
        pfn->Flags |= MI_PFN_ZERO_STOCK;
    /* LAB pfnlists: BEGIN - link Page in by PFN (u1.Flink/u2.Blink): Zeroed at the head, others at the tail */
    if (ListHead->ListName == ZeroedPageList) {
        pfn->u1.Flink = ListHead->Flink;
        pfn->u2.Blink = MI_LIST_END;
        if (ListHead->Flink != MI_LIST_END)
            MI_PFN_ELEMENT(ListHead->Flink)->u2.Blink = Page;
        else
            ListHead->Blink = Page;
        ListHead->Flink = Page;
    } else {
        pfn->u1.Flink = MI_LIST_END;
        pfn->u2.Blink = ListHead->Blink;
        if (ListHead->Blink != MI_LIST_END)
            MI_PFN_ELEMENT(ListHead->Blink)->u1.Flink = Page;
        else
            ListHead->Flink = Page;
        ListHead->Blink = Page;
    }
    ListHead->Total++;
    if (ListHead->ListName <= StandbyPageList && ListHead != &MmLowFreePageListHead) {
        MmAvailablePages++;
        MmTotalCommittedPages--;
    }
    /* LAB pfnlists: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pfnlists);
    MiLabFallbackLink(ListHead, Page, ListHead->ListName == ZeroedPageList);
    ListHead->Total++;
    if (ListHead->ListName <= StandbyPageList && ListHead != &MmLowFreePageListHead) {
        MmAvailablePages++;
        MmTotalCommittedPages--;
    }
#endif
    /* LAB pfnlists: END */
}

VOID MiInsertPageInList(PMMPFNLIST ListHead, PFN_NUMBER Page)
{
    MiLinkPage(ListHead, Page);
    if (ListHead->ListName <= FreePageList && ListHead != &MiZeroStockListHead)
        MiRunTreeSetFree(&MiFreeRunTree, Page, 1);
}

VOID MiInsertPageInFreeList(PFN_NUMBER Page)
{
    BOOLEAN low = MiNoLowMemory && Page < (MM_4GB >> PAGE_SHIFT);

    MiInsertPageInList(low ? &MmLowFreePageListHead : &MmFreePageListHead, Page);
}

/* Take Page off its list; the tree is told only if UpdateTree (see MiRemovePageRun). */
static void MiUnlinkPage(PFN_NUMBER Page, BOOLEAN UpdateTree)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);
    PMMPFNLIST list = MiListOfPage(pfn);

    if (list == NULL)
        KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_CORRUPT_PTE_OR_PFN, Page, pfn->PageLocation, 0);
    /* LAB pfnlists: BEGIN - unlink in O(1) through the page's own links; fix the counts and the tree */
    if (pfn->u2.Blink != MI_LIST_END)
        MI_PFN_ELEMENT(pfn->u2.Blink)->u1.Flink = pfn->u1.Flink;
    else
        list->Flink = pfn->u1.Flink;
    if (pfn->u1.Flink != MI_LIST_END)
        MI_PFN_ELEMENT(pfn->u1.Flink)->u2.Blink = pfn->u2.Blink;
    else
        list->Blink = pfn->u2.Blink;
    list->Total--;
    if (list->ListName <= StandbyPageList && list != &MmLowFreePageListHead) {
        MmAvailablePages--;
        MmTotalCommittedPages++;
    }
    if (UpdateTree && list->ListName <= FreePageList && list != &MiZeroStockListHead)
        MiRunTreeSetUsed(&MiFreeRunTree, Page, 1);
    /* LAB pfnlists: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pfnlists);
    MiLabFallbackUnlink(list, Page);
    list->Total--;
    if (list->ListName <= StandbyPageList && list != &MmLowFreePageListHead) {
        MmAvailablePages--;
        MmTotalCommittedPages++;
    }
    if (UpdateTree && list->ListName <= FreePageList && list != &MiZeroStockListHead)
        MiRunTreeSetUsed(&MiFreeRunTree, Page, 1);
#endif
    /* LAB pfnlists: END */
    pfn->Flags &= (UCHAR)~(MI_PFN_LOW_RESERVE | MI_PFN_ZERO_STOCK);
    pfn->u1.Flink = pfn->u2.Blink = 0;
    pfn->PageLocation = TransitionPage;     /* off every list, not yet active */
}

VOID MiUnlinkPageFromList(PFN_NUMBER Page)
{
    MiUnlinkPage(Page, TRUE);
}

static PFN_NUMBER MiRemoveHead(PMMPFNLIST List)
{
    PFN_NUMBER page;

    /* LAB pfnlists: BEGIN - take the list's first page, or return 0 when it is empty */
    page = List->Flink;
    if (page == MI_LIST_END)
        return 0;
    MiUnlinkPageFromList(page);
    return page;
    /* LAB pfnlists: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pfnlists);
    /* The last page instead of the first: any page of a list will do. */
    page = List->Blink;
    if (page == MI_LIST_END)
        return 0;
    MiUnlinkPageFromList(page);
    return page;
#endif
    /* LAB pfnlists: END */
}

/* Any free page, zeroed or not (the caller will overwrite it). 0 = none,
 * or none that may be promised (commit.c). */
PFN_NUMBER MiRemoveAnyPage(ULONG Color)
{
    PFN_NUMBER page;

    UNREFERENCED_PARAMETER(Color);
    if (!MiCommitmentAvailable(1))
        return 0;
    page = MiRemoveHead(&MmFreePageListHead);
    if (page == 0)
        page = MiRemoveHead(&MmZeroedPageListHead);
    if (page == 0)
        page = MiRemoveHead(&MiZeroStockListHead);
    if (page == 0)
        page = MiRemoveStandbyPage();
    return page;
}

/* MmPfnLock held: the stock goes back to the Zeroed list, in the tree. */
BOOLEAN MiReturnZeroStock(VOID)
{
    PFN_NUMBER page;
    BOOLEAN any = FALSE;

    while ((page = MiRemoveHead(&MiZeroStockListHead)) != 0) {
        MiInsertPageInList(&MmZeroedPageListHead, page);
        any = TRUE;
    }
    return any;
}

/*
 * The oldest Standby page, for a new owner (NT takes Standby only once the
 * Free and Zeroed lists are empty). Its old owner's PTE gets the page-file
 * PTE back from OriginalPte (the PTE was transition: nothing to flush);
 * the old owner's unit of commit stays charged (it lives in the page file
 * now), the new owner's is counted by the unlink.
 */
ULONG64 MiStandbyRepurposed;

PFN_NUMBER MiRemoveStandbyPage(VOID)
{
    PFN_NUMBER page = MmStandbyPageListHead.Flink;
    PMMPFN pfn;

    if (page == MI_LIST_END)
        return 0;
    pfn = MI_PFN_ELEMENT(page);
    if (pfn->PteAddress == NULL || (pfn->OriginalPte.Long & MM_PTE_VALID) ||
        pfn->OriginalPte.Soft.PageFileHigh == 0)
        KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_CORRUPT_PTE_OR_PFN, page, pfn->PageLocation, 0);
    MiUnlinkPageFromList(page);
    pfn->PteAddress->Long = pfn->OriginalPte.Long;
    pfn->Flags = 0;
    pfn->PagingFlags = 0;
    pfn->OriginalPte.Long = 0;
    MiStandbyRepurposed++;
    return page;
}

/* A page of zeroes: from the Zeroed list, else a free page zeroed now;
 * 0 as MiRemoveAnyPage. */
PFN_NUMBER MiRemoveZeroPage(ULONG Color)
{
    PFN_NUMBER page;

    UNREFERENCED_PARAMETER(Color);
    if (!MiCommitmentAvailable(1))
        return 0;
    page = MiRemoveHead(&MiZeroStockListHead);
    if (page == 0)
        page = MiRemoveHead(&MmZeroedPageListHead);
    if (page == 0) {
        page = MiRemoveHead(&MmFreePageListHead);
        if (page == 0)
            page = MiRemoveStandbyPage();
        if (page != 0)
            MiZeroPhysicalPage(page);
    }
    return page;
}

/* A page the caller owned goes back to the Free list (it is not zero). */
/* A page an MDL still holds locked (mm/mdllock.c: one reference per lock
 * on top of its owner's) may not be freed: a device may be writing it.
 * PFN_LIST_CORRUPT (0x9A, PFN, page state, reference count). */
static void MiCheckPageNotLocked(PFN_NUMBER Page, PMMPFN Pfn)
{
    if (Pfn->ReferenceCount > 1)
        KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_FREE_LOCKED_PAGE, Page, Pfn->PageLocation,
                     Pfn->ReferenceCount);
}

static void MiFreeActive(PFN_NUMBER Page, BOOLEAN UpdateTree)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);
    BOOLEAN low = MiNoLowMemory && Page < (MM_4GB >> PAGE_SHIFT);

    if (pfn->PageLocation != ActiveAndValid || (pfn->Flags & MI_PFN_LOCKED))
        KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_CORRUPT_PTE_OR_PFN, Page, pfn->PageLocation, 0);
    MiCheckPageNotLocked(Page, pfn);
    pfn->ReferenceCount = 0;
    pfn->u2.ShareCount = 0;
    pfn->PteAddress = NULL;
    pfn->CacheAttribute = MiNotMapped;
    pfn->Flags = 0;
    MiLinkPage(low ? &MmLowFreePageListHead : &MmFreePageListHead, Page);
    if (UpdateTree)
        MiRunTreeSetFree(&MiFreeRunTree, Page, 1);
}

VOID MiFreeActivePage(PFN_NUMBER Page)
{
    MiFreeActive(Page, TRUE);
}

/*
 * Runs of pages, for the contiguous allocator. Each page still moves
 * between a list and the active state, but the free-run tree hears about
 * the run once: one MiRunTreeSetUsed/SetFree of Count pages costs
 * Count/64 words plus one walk up the tree, where page-by-page updates
 * would walk up the tree Count times (the cost that grows with RAM size).
 * MiRemovePageRun needs every page Zeroed or Free, as MiRunTreeFind says.
 */
BOOLEAN MiRemovePageRun(PFN_NUMBER Start, PFN_NUMBER Count, UCHAR CacheAttribute)
{
    PFN_NUMBER charged = 0;

    /* Low-reserve pages (nolowmem) are not available pages: no commit. */
    for (PFN_NUMBER p = Start; p < Start + Count; p++)
        charged += !(MI_PFN_ELEMENT(p)->Flags & MI_PFN_LOW_RESERVE);
    if (!MiCommitmentAvailable(charged))
        return FALSE;
    for (PFN_NUMBER p = Start; p < Start + Count; p++) {
        if (MI_PFN_ELEMENT(p)->PageLocation > FreePageList)
            KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_CORRUPT_PTE_OR_PFN, p,
                         MI_PFN_ELEMENT(p)->PageLocation, 0);
        MiUnlinkPage(p, FALSE);
        MiInitializePfnForActivePage(p, NULL, CacheAttribute);
    }
    MiRunTreeSetUsed(&MiFreeRunTree, Start, Count);
    return TRUE;
}

VOID MiFreeActivePageRun(PFN_NUMBER Start, PFN_NUMBER Count)
{
    for (PFN_NUMBER p = Start; p < Start + Count; p++)
        MiFreeActive(p, FALSE);
    MiRunTreeSetFree(&MiFreeRunTree, Start, Count);
}

/* A page the caller owned and left all zero goes back on the Zeroed list. */
VOID MiFreeZeroedActivePage(PFN_NUMBER Page)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);

    if (pfn->PageLocation != ActiveAndValid || (pfn->Flags & MI_PFN_LOCKED))
        KeBugCheckEx(PFN_LIST_CORRUPT, MI_PFN_CORRUPT_PTE_OR_PFN, Page, pfn->PageLocation, 0);
    MiCheckPageNotLocked(Page, pfn);
    if (MiNoLowMemory && Page < (MM_4GB >> PAGE_SHIFT)) {
        MiFreeActivePage(Page);             /* low pages have a list of their own */
        return;
    }
    pfn->ReferenceCount = 0;
    pfn->u2.ShareCount = 0;
    pfn->PteAddress = NULL;
    pfn->CacheAttribute = MiNotMapped;
    pfn->Flags = 0;
    MiInsertPageInList(&MmZeroedPageListHead, Page);
}

/*
 * Up to Count single pages in [LowPfn, HighPfn], lowest first, each found
 * by the tree in O(log N). Returns how many it took (the MDL allocator may
 * accept fewer than it asked for, as MmAllocatePagesForMdl does).
 */
PFN_NUMBER MiAllocatePagesInRange(PFN_NUMBER LowPfn, PFN_NUMBER HighPfn, PFN_NUMBER Count,
                                  PPFN_NUMBER PageArray)
{
    PFN_NUMBER got = 0;

    /* nolowmem: a caller that accepts memory above 4 GiB gets none below it
     * (contig.c has the same rule); only ranges below 4 GiB reach the low list. */
    if (MiNoLowMemory && HighPfn >= (MM_4GB >> PAGE_SHIFT) && LowPfn < (MM_4GB >> PAGE_SHIFT))
        LowPfn = MM_4GB >> PAGE_SHIFT;
    while (got < Count) {
        PFN_NUMBER page = MiRunTreeFind(&MiFreeRunTree, 1, LowPfn, HighPfn, 0);
        if (page == MI_RUN_NONE && MiReturnZeroStock())
            page = MiRunTreeFind(&MiFreeRunTree, 1, LowPfn, HighPfn, 0);
        if (page == MI_RUN_NONE)
            break;
        if (!(MI_PFN_ELEMENT(page)->Flags & MI_PFN_LOW_RESERVE) && !MiCommitmentAvailable(1))
            break;                      /* no more may be promised (commit.c) */
        MiUnlinkPageFromList(page);
        MiInitializePfnForActivePage(page, NULL, MiCached);
        PageArray[got++] = page;
        LowPfn = page + 1;
    }
    return got;
}

/*
 * The page-run core of MmAllocatePagesForMdl(Ex): up to TotalBytes of pages
 * in [LowAddress, HighAddress]; where that range runs short and SkipBytes
 * is nonzero, the next tries are [Low + Skip, High + Skip], [Low + 2 Skip,
 * High + 2 Skip] ... until the range lies beyond physical memory, as the
 * Learn page describes. SkipBytes must be a multiple of PAGE_SIZE (else no
 * pages). The pages need not be contiguous and may be fewer than asked
 * for. Called with MmPfnLock held; returns how many were stored in Pages.
 */
PFN_NUMBER MiAllocatePagesForMdlCore(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                                     PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                                     PPFN_NUMBER Pages)
{
    ULONG64 skip = (ULONG64)SkipBytes.QuadPart;
    PFN_NUMBER want = BYTES_TO_PAGES(TotalBytes), got = 0;
    PFN_NUMBER low = ((ULONG64)LowAddress.QuadPart + PAGE_SIZE - 1) >> PAGE_SHIFT;
    PFN_NUMBER high = (ULONG64)HighAddress.QuadPart >> PAGE_SHIFT;

    if ((skip & (PAGE_SIZE - 1)) != 0 || low > high)
        return 0;
    for (;;) {
        got += MiAllocatePagesInRange(low, high, want - got, Pages + got);
        if (got == want || skip == 0 || low + (skip >> PAGE_SHIFT) > MmHighestPhysicalPage ||
            high + (skip >> PAGE_SHIFT) < high)
            return got;
        low += skip >> PAGE_SHIFT;
        high += skip >> PAGE_SHIFT;
    }
}

static BOOLEAN MiIsLoaderPage(PFN_NUMBER Page)
{
    PFN_NUMBER imageStart = (ULONG64)KiBootImageStart >> PAGE_SHIFT;
    PFN_NUMBER imageEnd = ((ULONG64)KiImageEnd - MM_KSEG0_BASE + PAGE_SIZE - 1) >> PAGE_SHIFT;

    if (Page >= imageStart && Page < imageEnd)
        return TRUE;
    for (ULONG i = 0; i < KeLoaderBlock->ModuleCount; i++)
        if (Page >= (KeLoaderBlock->Modules[i].Start >> PAGE_SHIFT) &&
            Page < ((KeLoaderBlock->Modules[i].End + PAGE_SIZE - 1) >> PAGE_SHIFT))
            return TRUE;
    return MiIsBootAllocatedPage(Page);
}

/*
 * Every RAM page gets its entry: the kernel image, loader modules and the
 * boot allocator's pages are active and locked forever; everything else goes
 * on the Free list (its contents are unknown, so not the Zeroed list).
 */
VOID MiInitializePfnDatabase(VOID)
{
    static const MMPFN blank;

    KeInitializeSpinLock(&MmPfnLock);
    for (ULONG r = 0; r < MiPhysicalRunCount; r++) {
        PFN_NUMBER end = MiPhysicalRuns[r].BasePage + MiPhysicalRuns[r].PageCount;
        PFN_NUMBER freeStart = MI_LIST_END;

        for (PFN_NUMBER p = MiPhysicalRuns[r].BasePage; p <= end; p++) {
            BOOLEAN isFree = p < end && !MiIsLoaderPage(p);
            /* The tree learns about free pages a whole run at a time. */
            if (!isFree && freeStart != MI_LIST_END) {
                MiRunTreeSetFree(&MiFreeRunTree, freeStart, p - freeStart);
                freeStart = MI_LIST_END;
            }
            if (p == end)
                break;
            *MI_PFN_ELEMENT(p) = blank;     /* the array was not zeroed */
            if (isFree) {
                MI_PFN_ELEMENT(p)->CacheAttribute = MiNotMapped;
                MiLinkPage(MiNoLowMemory && p < (MM_4GB >> PAGE_SHIFT) ? &MmLowFreePageListHead
                                                                     : &MmFreePageListHead, p);
                if (freeStart == MI_LIST_END)
                    freeStart = p;
            } else {
                MiInitializePfnForActivePage(p, NULL, MiCached);
                MI_PFN_ELEMENT(p)->Flags = MI_PFN_LOCKED;
            }
        }
    }
}

VOID MiPrintPfnSummary(VOID)
{
    DbgPrint("Mm: %llu pages: %llu zeroed, %llu free, %llu standby, %llu modified, %llu bad",
             MmNumberOfPhysicalPages, MmZeroedPageListHead.Total, MmFreePageListHead.Total,
             MmStandbyPageListHead.Total, MmModifiedPageListHead.Total, MmBadPageListHead.Total);
    if (MiNoLowMemory)
        DbgPrint(", %llu low reserve", MmLowFreePageListHead.Total);
    DbgPrint("; largest free run %llu pages\n", MiRunTreeLongestRun(&MiFreeRunTree));
}

/*
 * test_pagesec.h - what the tests of the pageable image sections
 * (mm/pagesec.c) share: pushing a page of the image all the way out to the
 * page file, the way the pager's own tests do (tests/kernel/test_pagefile.c).
 */
#ifndef MICA_TEST_PAGESEC_H
#define MICA_TEST_PAGESEC_H

#include "../../mm/pool_internal.h"

/* tests/drivers/pagetouch.c: an image of its own (linker.ld). */
ULONG64 PagetouchMix(ULONG64 Value);
ULONG64 PagetouchPagedMix(ULONG64 Value);

static inline MMPTE KtpsPte(PVOID Va)
{
    return *(volatile MMPTE *)MiGetPteAddress(Va);
}

/* Every pageable page trimmed (one pass clears Accessed and ages, the next
 * takes what was not touched since) and the Modified list written out. */
static inline void KtpsTrimAll(void)
{
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiFlushModifiedPages();
}

/* After KtpsTrimAll: Va's frame, on Standby, goes to another owner (as the
 * allocator would repurpose it), so its PTE is the page-file PTE and the
 * next touch is a hard fault. TRUE if Va's page is on disk only now. */
static inline BOOLEAN KtpsRepurposeFrameOf(PVOID Va)
{
    PMMPTE pte = MiGetPteAddress(Va);
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (MiIsTransitionPte(*pte)) {
        PFN_NUMBER frame = MI_PTE_FRAME(*pte);
        PMMPFN pfn = MI_PFN_ELEMENT(frame);
        if (pfn->PageLocation == StandbyPageList) {
            MiUnlinkPageFromList(frame);
            MmTotalCommittedPages--;    /* the frame's unit was the page's */
            pte->Long = pfn->OriginalPte.Long;
            MiInitializePfnForActivePage(frame, NULL, MiCached);
            pfn->Flags = 0;
            MmTotalCommittedPages++;
            MiFreeActivePage(frame);
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    return MiIsPageFilePte(*pte);
}

#endif

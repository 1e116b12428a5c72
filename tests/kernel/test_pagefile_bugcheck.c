/*
 * test_pagefile_bugcheck.c - the pager's stop codes (mm/pager.c), each in a
 * boot of its own with a page file (tests/runner.py: bios-128m-pfbad, whose
 * page-file disk fails every read of slot 4096).
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define KTPFB_TAG 'bPtK'
#define KTPFB_READ_ERROR_SLOT 4096
#define KTPFB_DATA_ERROR ((NTSTATUS)0xC000009CL)  /* STATUS_DEVICE_DATA_ERROR: the AHCI read error */

/* A paged-pool page, written and then out of memory: its PTE a page-file PTE. */
static PULONG64 KtpfbPagedOutPage(void)
{
    PULONG64 p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPFB_TAG);
    PFN_NUMBER frame;
    KIRQL irql;

    if (p == NULL || !MiPagingEnabled)
        return NULL;
    p[0] = 0x1234;
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiFlushModifiedPages();
    if (!MiIsTransitionPte(*MiGetPteAddress(p)))
        return NULL;
    frame = MI_PTE_FRAME(*MiGetPteAddress(p));
    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (MI_PFN_ELEMENT(frame)->PageLocation == StandbyPageList) {
        MiUnlinkPageFromList(frame);
        MiGetPteAddress(p)->Long = MI_PFN_ELEMENT(frame)->OriginalPte.Long;
        MiInitializePfnForActivePage(frame, NULL, MiCached);
        MI_PFN_ELEMENT(frame)->Flags = 0;
        MiFreeActivePage(frame);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    return MiIsPageFilePte(*MiGetPteAddress(p)) ? p : NULL;
}

/* A read error on the page file: KERNEL_DATA_INPAGE_ERROR (PTE address,
 * I/O status, PTE contents, faulting address). */
KTEST_BUGCHECK(pagefile_bugcheck, read_error_is_kernel_data_inpage_error, KERNEL_DATA_INPAGE_ERROR)
{
    PULONG64 p = KtpfbPagedOutPage();
    PMMPTE pte;
    ULONG64 bad;

    KASSERT_TRUE(p != NULL);
    pte = MiGetPteAddress(p);
    /* Move its copy to the slot the disk cannot read (the slot's bit is
     * taken so nothing else lands there meanwhile: the test stops here). */
    bad = MiMakePageFilePte(0, KTPFB_READ_ERROR_SLOT);
    pte->Long = bad;
    KtestExpectBugCheck(KERNEL_DATA_INPAGE_ERROR, (ULONG64)pte, KTPFB_DATA_ERROR, bad, (ULONG64)&p[1]);
    (void)*(volatile ULONG64 *)&p[1];
}

/* Paged-out paged pool touched at DISPATCH_LEVEL: IRQL_NOT_LESS_OR_EQUAL
 * (address, IRQL, 0 = read, RIP), never a page-in. */
KTEST_BUGCHECK(pagefile_bugcheck, paged_out_page_at_dispatch_level, IRQL_NOT_LESS_OR_EQUAL)
{
    PULONG64 p = KtpfbPagedOutPage();
    KIRQL irql;

    KASSERT_TRUE(p != NULL);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)&p[2], DISPATCH_LEVEL, 0, KTEST_ANY);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    (void)*(volatile ULONG64 *)&p[2];
    KeLowerIrql(irql);
}

/* The same touch from a driver's code (tests/drivers/pagetouch.c):
 * DRIVER_IRQL_NOT_LESS_OR_EQUAL (address, IRQL, 0 = read, the driver's RIP). */
ULONG64 PagetouchReadAtDispatch(volatile ULONG64 *Word);
extern char KiDriverTextStart[];

KTEST_BUGCHECK(pagefile_bugcheck, driver_touching_paged_out_page_at_dispatch_level,
               DRIVER_IRQL_NOT_LESS_OR_EQUAL)
{
    PULONG64 p = KtpfbPagedOutPage();

    KASSERT_TRUE(p != NULL);
    KtestExpectBugCheck(DRIVER_IRQL_NOT_LESS_OR_EQUAL, (ULONG64)&p[3], DISPATCH_LEVEL, 0, KTEST_ANY);
    (void)PagetouchReadAtDispatch(&p[3]);
}

/*
 * Every available page taken behind the accounting's back (Free, Zeroed,
 * the zero stock and Standby unlinked, as a broken Mm routine would) once
 * everything pageable is out: a demand-zero fault finds nothing to take,
 * the trimmer nothing to trim, the writer nothing to write, and after its
 * bounded wait the fault stops with NO_PAGES_AVAILABLE (dirty pages, dirty
 * pages for the page file, nonpaged pool pages still available, the last
 * modified-page write's status).
 */
KTEST_BUGCHECK(pagefile_bugcheck, no_page_to_take_is_no_pages_available, NO_PAGES_AVAILABLE)
{
    volatile PUCHAR p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPFB_TAG);
    PMMPFNLIST lists[] = {&MmZeroedPageListHead, &MmFreePageListHead, &MiZeroStockListHead,
                          &MmStandbyPageListHead};
    KIRQL irql;

    KASSERT_TRUE(p != NULL && MiPagingEnabled);
    for (ULONG i = 0; i < 3; i++) {
        MiTrimWorkingSet(MmNumberOfPhysicalPages);
        MiTrimWorkingSet(MmNumberOfPhysicalPages);
        MiFlushModifiedPages();
    }
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (ULONG l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
        while (lists[l]->Flink != MI_LIST_END)
            MiUnlinkPageFromList(lists[l]->Flink);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KtestExpectBugCheck(NO_PAGES_AVAILABLE, KTEST_ANY, KTEST_ANY, KTEST_ANY, KTEST_ANY);
    p[0] = 1;
}

/*
 * bench_pagefile.c - the pager (mm/pager.c) in the bench-pagefile
 * configuration (tests/runner.py: 128 MiB and a page-file disk); elsewhere
 * it reports nothing.
 *
 *   fault.demandzero     cycles per first touch of a committed paged-pool
 *                        page, warm: the same 16 MiB allocated, touched and
 *                        freed repeatedly, with the zero-page thread given
 *                        time between rounds to refill the Zeroed list (as
 *                        an idle processor would)
 *   fault.soft           cycles per touch of a trimmed page still in memory
 *   fault.hard.cycles    cycles per touch of a page that must be read back
 *   fault.hard.us        the same in microseconds (one read at a time)
 *   pagefile.write.MBps  the modified page writer: 64 MiB of dirty pages
 *                        written in clusters, from the flush request to the
 *                        last completion (MB = 10^6 bytes)
 */
#include "../../mm/pool_internal.h"
#include "../kbench.h"

#define KBPF_TAG 'fPbK'
#define KBPF_ROUNDS 5
#define KBPF_DZ_BYTES (16u << 20)
#define KBPF_HARD_PAGES 512
#define KBPF_WRITE_BYTES (64u << 20)

static void KbpfTrimAll(void)
{
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
}

static void KbpfTouch(PUCHAR P, SIZE_T Bytes)
{
    for (SIZE_T i = 0; i < Bytes; i += PAGE_SIZE)
        *(volatile UCHAR *)(P + i) = (UCHAR)i;
}

/* Let the zero-page thread catch up (it runs when nothing else does). */
static void KbpfWaitForZeroedPages(PFN_NUMBER Pages)
{
    LARGE_INTEGER delay = {.QuadPart = -10000LL * 10};

    for (ULONG i = 0; i < 500 && (MmZeroedPageListHead.Total + MiZeroStockListHead.Total < Pages || MmFreePageListHead.Total != 0); i++)
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

static ULONG64 KbpfDemandZero(void)
{
    ULONG64 samples[KBPF_ROUNDS];

    for (ULONG r = 0; r < KBPF_ROUNDS; r++) {
        PUCHAR p;
        ULONG64 t0;
        KbpfWaitForZeroedPages(KBPF_DZ_BYTES >> PAGE_SHIFT);
        p = ExAllocatePoolWithTag(PagedPool, KBPF_DZ_BYTES, KBPF_TAG);
        if (p == NULL)
            return 0;
        t0 = KeReadTimeStampCounter();
        KbpfTouch(p, KBPF_DZ_BYTES);
        samples[r] = (KeReadTimeStampCounter() - t0) / (KBPF_DZ_BYTES >> PAGE_SHIFT);
        ExFreePoolWithTag(p, KBPF_TAG);
    }
    return KbenchMedian(samples, KBPF_ROUNDS);
}

static ULONG64 KbpfSoft(void)
{
    ULONG64 samples[KBPF_ROUNDS];

    for (ULONG r = 0; r < KBPF_ROUNDS; r++) {
        PUCHAR p = ExAllocatePoolWithTag(PagedPool, KBPF_DZ_BYTES, KBPF_TAG);
        ULONG64 t0, soft;
        if (p == NULL)
            return 0;
        KbpfTouch(p, KBPF_DZ_BYTES);
        KbpfTrimAll();
        soft = MiPagingStatistics.SoftFaults;
        t0 = KeReadTimeStampCounter();
        KbpfTouch(p, KBPF_DZ_BYTES);
        soft = *(volatile ULONG64 *)&MiPagingStatistics.SoftFaults - soft;
        samples[r] = (KeReadTimeStampCounter() - t0) / (soft ? soft : 1);
        ExFreePoolWithTag(p, KBPF_TAG);
    }
    return KbenchMedian(samples, KBPF_ROUNDS);
}

/* Page out P's pages and take their frames away, so each touch reads. */
static void KbpfForceOut(PUCHAR P, SIZE_T Bytes)
{
    KIRQL irql;

    KbpfTrimAll();
    MiFlushModifiedPages();
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (SIZE_T i = 0; i < Bytes; i += PAGE_SIZE) {
        PMMPTE pte = MiGetPteAddress(P + i);
        PFN_NUMBER frame;
        if (!MiIsTransitionPte(*pte))
            continue;
        frame = MI_PTE_FRAME(*pte);
        if (MI_PFN_ELEMENT(frame)->PageLocation != StandbyPageList)
            continue;
        MiUnlinkPageFromList(frame);
        pte->Long = MI_PFN_ELEMENT(frame)->OriginalPte.Long;
        MiInitializePfnForActivePage(frame, NULL, MiCached);
        MI_PFN_ELEMENT(frame)->Flags = 0;
        MiFreeActivePage(frame);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
}

static void KbpfHard(ULONG64 *Cycles, ULONG64 *Us)
{
    ULONG64 cycles[KBPF_ROUNDS], us[KBPF_ROUNDS];

    for (ULONG r = 0; r < KBPF_ROUNDS; r++) {
        SIZE_T bytes = (SIZE_T)KBPF_HARD_PAGES << PAGE_SHIFT;
        PUCHAR p = ExAllocatePoolWithTag(PagedPool, bytes, KBPF_TAG);
        ULONG64 t0, i0, hard;
        if (p == NULL)
            return;
        KbpfTouch(p, bytes);
        KbpfForceOut(p, bytes);
        hard = MiPagingStatistics.HardFaults;
        i0 = KeQueryInterruptTime();
        t0 = KeReadTimeStampCounter();
        KbpfTouch(p, bytes);
        hard = *(volatile ULONG64 *)&MiPagingStatistics.HardFaults - hard;
        if (hard == 0)
            hard = 1;
        cycles[r] = (KeReadTimeStampCounter() - t0) / hard;
        us[r] = (KeQueryInterruptTime() - i0) / 10 / hard;
        ExFreePoolWithTag(p, KBPF_TAG);
    }
    *Cycles = KbenchMedian(cycles, KBPF_ROUNDS);
    *Us = KbenchMedian(us, KBPF_ROUNDS);
}

static ULONG64 KbpfWriteMBps(void)
{
    ULONG64 samples[3];

    for (ULONG r = 0; r < 3; r++) {
        PUCHAR p = ExAllocatePoolWithTag(PagedPool, KBPF_WRITE_BYTES, KBPF_TAG);
        ULONG64 i0, pages, us;
        if (p == NULL)
            return 0;
        KbpfTouch(p, KBPF_WRITE_BYTES);
        MiFlushModifiedPages();                 /* nothing else pending */
        KbpfTrimAll();
        pages = MiPagingFile.PagesWritten;
        i0 = KeQueryInterruptTime();
        MiFlushModifiedPages();
        us = (KeQueryInterruptTime() - i0) / 10;
        pages = *(volatile ULONG64 *)&MiPagingFile.PagesWritten - pages;
        samples[r] = us ? (pages << PAGE_SHIFT) / us : 0;      /* bytes/us = MB/s */
        ExFreePoolWithTag(p, KBPF_TAG);
    }
    return KbenchMedian(samples, 3);
}

KBENCH(fault_pagefile)
{
    ULONG64 cycles = 0, us = 0;

    if (!MiPagingEnabled) {
        DbgPrint("# fault benchmarks: no page file (the bench-pagefile configuration has one)\n");
        return;
    }
    KbenchReport("fault.demandzero", KbpfDemandZero(), "cycles");
    KbenchReport("fault.soft", KbpfSoft(), "cycles");
    KbpfHard(&cycles, &us);
    KbenchReport("fault.hard.cycles", cycles, "cycles");
    KbenchReport("fault.hard.us", us, "us");
    KbenchReport("pagefile.write.MBps", KbpfWriteMBps(), "MB/s");
}

/*
 * bench_paging.c - what a temporary mapping costs, next to memset.4k.
 *
 * mapio.1p    MmMapIoSpace + MmUnmapIoSpace of one page (cached RAM)
 * mapio.64p   the same for 64 contiguous pages
 * hyper.zero.1p  MiMapPageInHyperSpace + memset of the page + MiUnmapPageInHyperSpace
 *
 * The pages mapped are the kernel image's own (physically contiguous RAM
 * from its load address), mapped with their usual cache type, and never
 * touched through the new mapping: the figure is the cost of the mapping
 * itself. As in bench_mem.c, each sample times a batch and the figure is
 * the median of the samples, per operation. A batch stays well under the
 * 1 ms clock tick (~2.4M cycles): 16 operations for one page, a single one
 * for 64 pages, so most samples hold no interrupt and the median none. The goal for mapio.1p is less
 * than twice memset.4k: a temporary mapping should not cost much more than
 * touching the page once.
 */
#include "../../kernel/ke/ke.h"
#include "../../mm/mm_internal.h"
#include "../kbench.h"

#define BATCH 16
#define SAMPLES 101

static ULONG64 KbSamples[SAMPLES];

static void KbMapIo(PCSTR Name, SIZE_T Pages, ULONG Batch)
{
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KiTextStart);

    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < Batch; i++) {
            PVOID va = MmMapIoSpace(pa, Pages * PAGE_SIZE, MmCached);
            if (va == NULL) {
                DbgPrint("bench %s: MmMapIoSpace failed\n", Name);
                return;
            }
            MmUnmapIoSpace(va, Pages * PAGE_SIZE);
        }
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / Batch;
    }
    KbenchReport(Name, KbenchMedian(KbSamples, SAMPLES), "cycles");
}

KBENCH(mapio_1p)
{
    KbMapIo("mapio.1p", 1, BATCH);
}

KBENCH(mapio_64p)
{
    KbMapIo("mapio.64p", 64, 1);
}

KBENCH(hyper_zero_1p)
{
    PFN_NUMBER page;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    page = MiRemoveAnyPage(0);
    KeReleaseSpinLock(&MmPfnLock, irql);
    if (page == 0)
        return;
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++) {
            KIRQL old;
            PVOID va = MiMapPageInHyperSpace(page, &old);
            memset(va, 0, PAGE_SIZE);
            MiUnmapPageInHyperSpace(va, old);
        }
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    KbenchReport("hyper.zero.1p", KbenchMedian(KbSamples, SAMPLES), "cycles");
    /* Off every list since MiRemoveAnyPage: back where free pages go. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiInsertPageInFreeList(page);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

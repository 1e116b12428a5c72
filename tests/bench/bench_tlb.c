/*
 * bench_tlb.c - what a TLB shootdown costs (mm/tlb.c, MiShootdownTbList).
 *
 * tlb.shootdown.1p   the shootdown of one page's translation
 * tlb.shootdown.64p  the shootdown of 64 pages' translations: one batch,
 *                    which past MI_TB_FLUSH_MAXIMUM (32) is one flush of
 *                    the whole TLB on each processor
 *
 * The pages are a 64-page MmMapIoSpace view of the kernel image, touched
 * before each sample so their translations are in the TLB; only the
 * shootdown is timed (at DISPATCH_LEVEL, as the unmapping paths make it
 * under the PFN lock): the local flush, and with several processors one
 * IPI round to all the others and the wait for their answers. On one
 * processor it is the local flush only. The figure is the median of the
 * samples, each one shootdown. Issue 11's goal: 64 pages cost < 2x one.
 */
#include "../../kernel/ke/ke.h"
#include "../../mm/mm_internal.h"
#include "../kbench.h"

#define SAMPLES 101
#define PAGES 64

static ULONG64 KbSamples[SAMPLES];

static void KbShootdown(PCSTR Name, ULONG Pages)
{
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KiTextStart);
    volatile UCHAR *va = MmMapIoSpace(pa, PAGES * PAGE_SIZE, MmCached);
    MI_TB_FLUSH_LIST list;
    KIRQL irql;

    if (va == NULL) {
        DbgPrint("bench %s: MmMapIoSpace failed\n", Name);
        return;
    }
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0;
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
        for (ULONG i = 0; i < PAGES; i++)
            (void)va[(ULONG64)i << PAGE_SHIFT];
        MiInitializeTbFlushList(&list);
        for (ULONG i = 0; i < Pages; i++)
            MiAddTbFlushEntry(&list, (PVOID)(va + ((ULONG64)i << PAGE_SHIFT)));
        t0 = KeReadTimeStampCounter();
        MiShootdownTbList(&list);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
        KeLowerIrql(irql);
    }
    MmUnmapIoSpace((PVOID)va, PAGES * PAGE_SIZE);
    KbenchReport(Name, KbenchMedian(KbSamples, SAMPLES), "cycles");
}

KBENCH(tlb_shootdown_1p)
{
    KbShootdown("tlb.shootdown.1p", 1);
}

KBENCH(tlb_shootdown_64p)
{
    KbShootdown("tlb.shootdown.64p", PAGES);
}

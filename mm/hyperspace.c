/*
 * hyperspace.c - short-lived mappings of one physical page.
 *
 * Mica has no direct map of physical memory, so to zero or copy a page the
 * kernel maps it for a moment at a per-processor hyperspace address. The
 * hyperspace page table exists from boot (init.c), so mapping never
 * allocates and works under the PFN lock. The mapping is valid only at
 * DISPATCH_LEVEL on this processor: MiMapPageInHyperSpace raises and
 * MiUnmapPageInHyperSpace lowers again, so the thread cannot move or be
 * preempted while it uses the slot.
 *
 * Slots per processor: 0 for MiMapPageInHyperSpace, 1 for zeroing pages
 * (NT's MiMapPageToZeroInHyperSpace), so a caller holding slot 0 can still
 * take a zeroed page. Processor n's slots are the n-th group of
 * MM_HYPERSPACE_PAGES_PER_CPU pages; all MAXIMUM_PROCESSORS groups lie in
 * the one page table init.c makes at boot.
 *
 * A slot is only ever used by its own processor, so only that processor
 * can hold its translation: unmapping flushes the local TLB alone
 * (MiFlushTbEntry), no shootdown. This holds because the user is at
 * DISPATCH_LEVEL from map to unmap: it cannot move to another processor
 * in between (and carry the translation with it), and nothing else on
 * this processor can take the slot meanwhile.
 */
#include "mm_internal.h"

#define MI_HYPER_SLOT_MAP  0
#define MI_HYPER_SLOT_ZERO 1
#define MI_MM_CORRUPT_PTE  0x41792      /* MEMORY_MANAGEMENT parameter 1 (Learn) */

_Static_assert(MM_MAXIMUM_PROCESSORS == MAXIMUM_PROCESSORS, "one slot group per processor");
_Static_assert(MM_HYPERSPACE_PAGES_PER_CPU * MM_MAXIMUM_PROCESSORS <= PAGE_SIZE / sizeof(MMPTE),
               "every processor's slots are in the one hyperspace page table");

static ULONG64 MiHyperSpaceSlot(ULONG Cpu, ULONG Slot)
{
    return MM_HYPERSPACE_BASE + ((Cpu * MM_HYPERSPACE_PAGES_PER_CPU + Slot) << PAGE_SHIFT);
}

/* At DISPATCH_LEVEL or above: the processor cannot change under us. */
static ULONG64 MiHyperSpaceBase(ULONG Slot)
{
    return MiHyperSpaceSlot(KeGetCurrentProcessorNumber(), Slot);
}

static PVOID MiMapSlot(ULONG Slot, PFN_NUMBER Page)
{
    PVOID va = (PVOID)MiHyperSpaceBase(Slot);
    PMMPTE pte = MiGetPteAddress(va);

    /* A slot's PTE is zero whenever it is not in use: anything else is
     * Learn's "corrupted PTE" (PTE address, low and high halves). */
    if (pte->Long & MM_PTE_VALID)
        KeBugCheckEx(MEMORY_MANAGEMENT, MI_MM_CORRUPT_PTE, (ULONG_PTR)pte, (ULONG)pte->Long,
                     pte->Long >> 32);
    pte->Long = (Page << PAGE_SHIFT) | MM_PTE_VALID | MM_PTE_WRITE | MM_PTE_NO_EXECUTE;
    return va;
}

/* This processor's slot: a local flush is all it needs (top). */
static void MiUnmapSlot(PVOID Va)
{
    MiGetPteAddress(Va)->Long = 0;
    MiFlushTbEntry(Va);
}

VOID MiInitializeHyperSpace(VOID)
{
    for (ULONG cpu = 0; cpu < MM_MAXIMUM_PROCESSORS; cpu++)
        for (ULONG s = 0; s < MM_HYPERSPACE_PAGES_PER_CPU; s++)
            MiGetPteAddress(MiHyperSpaceSlot(cpu, s))->Long = 0;
}

PVOID MiMapPageInHyperSpace(PFN_NUMBER Page, PKIRQL OldIrql)
{
    KeRaiseIrql(DISPATCH_LEVEL, OldIrql);
    return MiMapSlot(MI_HYPER_SLOT_MAP, Page);
}

VOID MiUnmapPageInHyperSpace(PVOID Va, KIRQL OldIrql)
{
    MiUnmapSlot(Va);
    KeLowerIrql(OldIrql);
}

VOID MiZeroPhysicalPage(PFN_NUMBER Page)
{
    KIRQL irql;
    PVOID va;

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    va = MiMapSlot(MI_HYPER_SLOT_ZERO, Page);
    memset(va, 0, PAGE_SIZE);
    MiUnmapSlot(va);
    KeLowerIrql(irql);
}

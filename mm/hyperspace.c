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
 * take a zeroed page.
 */
#include "mm_internal.h"

#define MI_HYPER_SLOT_MAP  0
#define MI_HYPER_SLOT_ZERO 1
#define MI_MM_CORRUPT_PTE  0x41792      /* MEMORY_MANAGEMENT parameter 1 (Learn) */

static ULONG64 MiHyperSpaceBase(ULONG Slot)
{
    ULONG cpu = 0;      /* the boot processor; KPRCB->Number once there are more */
    return MM_HYPERSPACE_BASE + ((cpu * MM_HYPERSPACE_PAGES_PER_CPU + Slot) << PAGE_SHIFT);
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

static void MiUnmapSlot(PVOID Va)
{
    MiGetPteAddress(Va)->Long = 0;
    MiFlushTbEntry(Va);
}

VOID MiInitializeHyperSpace(VOID)
{
    for (ULONG s = 0; s < MM_HYPERSPACE_PAGES_PER_CPU; s++)
        MiGetPteAddress(MiHyperSpaceBase(s))->Long = 0;
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

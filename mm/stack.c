/*
 * stack.c - kernel stacks: MmCreateKernelStack / MmDeleteKernelStack.
 *
 * A thread's kernel stack is KERNEL_STACK_PAGES pages in system-PTE space
 * with one more PTE below them left invalid: the guard page. A thread that
 * overflows its stack faults on the guard page; the fault cannot be
 * delivered on the dead stack, so the CPU raises a double fault, which has
 * a stack of its own (the IST) and ends in a bug check instead of silently
 * corrupting whatever lies below.
 */
#include "mm_internal.h"

#define MI_KERNEL_STACK_PAGES 6

/* Returns the top of the stack (its highest address + 1), or NULL. */
PVOID MmCreateKernelStack(BOOLEAN LargeStack, UCHAR Node)
{
    ULONG ptes = MI_KERNEL_STACK_PAGES + 1;
    PMMPTE pte;
    PUCHAR base;
    KIRQL irql;

    UNREFERENCED_PARAMETER(LargeStack);
    UNREFERENCED_PARAMETER(Node);
    pte = MiReserveSystemPtes(ptes, SystemPteSpace);
    if (pte == NULL)
        return NULL;
    base = MiGetVirtualAddressMappedByPte(pte);
    for (ULONG i = 1; i < ptes; i++) {          /* page 0 stays the guard */
        PFN_NUMBER page;
        KeAcquireSpinLock(&MmPfnLock, &irql);
        page = MiRemoveAnyPage(0);
        if (page != 0)
            MiInitializePfnForActivePage(page, MiGetPteAddress(base + (i << PAGE_SHIFT)), MiCached);
        KeReleaseSpinLock(&MmPfnLock, irql);
        if (page == 0 || !NT_SUCCESS(MiMapSystemPage(base + (i << PAGE_SHIFT), page,
                                                      MM_PTE_WRITE | MM_PTE_NO_EXECUTE))) {
            if (page != 0) {
                KeAcquireSpinLock(&MmPfnLock, &irql);
                MiFreeActivePage(page);
                KeReleaseSpinLock(&MmPfnLock, irql);
            }
            MmDeleteKernelStack(base + ((ULONG64)ptes << PAGE_SHIFT), FALSE);
            return NULL;
        }
    }
    return base + ((ULONG64)ptes << PAGE_SHIFT);
}

VOID MmDeleteKernelStack(PVOID PointerKernelStack, BOOLEAN LargeStack)
{
    ULONG ptes = MI_KERNEL_STACK_PAGES + 1;
    PUCHAR base = (PUCHAR)PointerKernelStack - ((ULONG64)ptes << PAGE_SHIFT);
    KIRQL irql;

    UNREFERENCED_PARAMETER(LargeStack);
    for (ULONG i = 1; i < ptes; i++) {
        PVOID va = base + (i << PAGE_SHIFT);
        PMMPTE pte = MiGetPteAddress(va);
        PFN_NUMBER page;
        if (!MmIsAddressValid(va))
            continue;                   /* a partly built stack */
        page = MI_PTE_FRAME(*pte);
        MiUnmapSystemPage(va);
        KeAcquireSpinLock(&MmPfnLock, &irql);
        MiFreeActivePage(page);
        KeReleaseSpinLock(&MmPfnLock, irql);
    }
    MiReleaseSystemPtes(MiGetPteAddress(base), ptes, SystemPteSpace);
}

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

/* Returns the top of the stack (its highest address + 1), or NULL. */
PVOID MmCreateKernelStack(BOOLEAN LargeStack, UCHAR Node)
{
    ULONG ptes = KERNEL_STACK_PAGES + 1;
    PMMPTE pte;
    PUCHAR base;
    KIRQL irql;

    UNREFERENCED_PARAMETER(LargeStack);
    UNREFERENCED_PARAMETER(Node);
    pte = MiReserveSystemPtes(ptes, SystemPteSpace);
    if (pte == NULL)
        return NULL;
    base = MiGetVirtualAddressMappedByPte(pte);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (ULONG i = 1; i < ptes; i++) {          /* page 0 stays the guard */
        if (!MiMapNewPageLocked(base + (i << PAGE_SHIFT), MM_PTE_WRITE | MM_PTE_NO_EXECUTE,
                                FALSE)) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            MmDeleteKernelStack(base + ((ULONG64)ptes << PAGE_SHIFT), FALSE);
            return NULL;
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    return base + ((ULONG64)ptes << PAGE_SHIFT);
}

VOID MmDeleteKernelStack(PVOID PointerKernelStack, BOOLEAN LargeStack)
{
    ULONG ptes = KERNEL_STACK_PAGES + 1;
    PUCHAR base = (PUCHAR)PointerKernelStack - ((ULONG64)ptes << PAGE_SHIFT);
    KIRQL irql;

    UNREFERENCED_PARAMETER(LargeStack);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (ULONG i = 1; i < ptes; i++) {
        PVOID va = base + (i << PAGE_SHIFT);
        ULONG level;
        if (MiWalkToPte(va, &level) != NULL)       /* a partly built stack has gaps */
            MiUnmapAndFreePageLocked(va);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    MiReleaseSystemPtes(MiGetPteAddress(base), ptes, SystemPteSpace);
}

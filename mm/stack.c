/*
 * stack.c - kernel stacks: MmCreateKernelStack / MmDeleteKernelStack.
 *
 * A thread's kernel stack is KERNEL_STACK_PAGES pages in system-PTE space
 * with one more PTE below them left invalid: the guard page. A thread that
 * overflows its stack faults on the guard page; the fault cannot be
 * delivered on the dead stack, so the CPU raises a double fault, which has
 * a stack of its own (the IST) and ends in a bug check instead of silently
 * corrupting whatever lies below.
 *
 * Deleting a stack unmaps its pages, shoots their translations down on
 * every processor (one IPI round for the whole stack) and only then frees
 * the pages and the PTE run, under MmPfnLock. The dispatcher deletes a
 * dead thread's stack right after a context switch, at DISPATCH_LEVEL
 * with the dispatcher lock held, and sometimes with interrupts off. Both
 * forbid the delete there: a shootdown needs interrupts on (tlb.c), and
 * the dispatcher lock is the innermost lock - KeSetEvent may be called
 * under any spin lock, MmPfnLock included (the pager ends a hard fault
 * that way), so taking MmPfnLock under the dispatcher lock deadlocks with
 * it (tests/kernel/test_smp_reap.c). At DISPATCH_LEVEL or above the stack
 * therefore waits on a list (linked through its own top page, still mapped
 * and no longer used) and a DPC, queued on this processor, deletes it as
 * soon as the IRQL drops below DISPATCH_LEVEL - at DISPATCH_LEVEL,
 * interrupts on, no lock held.
 */
#include "mm_internal.h"

static SLIST_HEADER MiDeadStacks;       /* tops of stacks waiting for the DPC */
static KDPC MiDeadStackDpc;

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

/* Unmap, shoot down once, then free the pages and the PTE run. */
static void MiDeleteKernelStackNow(PVOID PointerKernelStack)
{
    ULONG ptes = KERNEL_STACK_PAGES + 1;
    PUCHAR base = (PUCHAR)PointerKernelStack - ((ULONG64)ptes << PAGE_SHIFT);
    MI_TB_FLUSH_LIST flush;
    KIRQL irql;

    MiInitializeTbFlushList(&flush);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (ULONG i = 1; i < ptes; i++) {
        PVOID va = base + (i << PAGE_SHIFT);
        ULONG level;
        if (MiWalkToPte(va, &level) != NULL)       /* a partly built stack has gaps */
            MiUnmapAndFreePageLocked(va, &flush);
    }
    MiShootdownTbList(&flush);                      /* frees the pages */
    MiReleaseSystemPtesLocked(MiGetPteAddress(base), ptes);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

static VOID MiDeadStackDpcRoutine(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    PSLIST_ENTRY entry = InterlockedFlushSList(&MiDeadStacks), next;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    for (; entry != NULL; entry = next) {
        next = entry->Next;
        /* The entry sits at the top of the stack it stands for. */
        MiDeleteKernelStackNow((PUCHAR)entry + sizeof(SLIST_ENTRY));
    }
}

/* Called with interrupts off: the stack waits for the DPC. */
static void MiDeferKernelStackDelete(PVOID PointerKernelStack)
{
    PSLIST_ENTRY entry = (PSLIST_ENTRY)((PUCHAR)PointerKernelStack - sizeof(SLIST_ENTRY));

    InterlockedPushEntrySList(&MiDeadStacks, entry);
    /* Already queued: that run will find this stack too. */
    KeInsertQueueDpc(&MiDeadStackDpc, NULL, NULL);
}

VOID MiInitializeKernelStacks(VOID)
{
    InitializeSListHead(&MiDeadStacks);
    KeInitializeDpc(&MiDeadStackDpc, MiDeadStackDpcRoutine, NULL);
}

/* IRQL <= SYNCH_LEVEL. At DISPATCH_LEVEL or above (the dispatcher, its
 * lock held) or with interrupts off the delete is deferred to a DPC (top). */
VOID MmDeleteKernelStack(PVOID PointerKernelStack, BOOLEAN LargeStack)
{
    UNREFERENCED_PARAMETER(LargeStack);
    if (KeGetCurrentIrql() >= DISPATCH_LEVEL || (__readeflags() & EFLAGS_IF_MASK) == 0)
        MiDeferKernelStackDelete(PointerKernelStack);
    else
        MiDeleteKernelStackNow(PointerKernelStack);
}

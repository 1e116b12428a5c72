/*
 * sysptes.c - reserving runs of PTEs in the system-PTE region.
 *
 * MmMapIoSpace, MDL mappings, contiguous memory and kernel stacks all need
 * a range of system virtual addresses for a while. The region (2 GiB at
 * MM_SYSTEM_PTE_BASE) is handed out in page-sized PTEs by the same
 * free-run tree the physical allocator uses (runtree.c): the lowest free
 * run of N PTEs is found in O(log N) whether N is 1 or 100,000, and a
 * fragmented region never degrades into a linear scan.
 *
 * Reserving only claims the addresses; the caller maps them
 * (MiMapSystemPage creates page tables on demand). Releasing PTEs that
 * were not reserved is a SYSTEM_PTE_MISUSE bug check.
 */
#include "mm_internal.h"

#define SYSTEM_PTE_MISUSE_FREE_NOT_RESERVED 0x101

static MI_RUN_TREE MiSystemPteTree;
static KSPIN_LOCK MiSystemPteLock;

SIZE_T MiSystemPteStorageSize(VOID)
{
    return MiRunTreeStorageSize(MM_SYSTEM_PTE_PAGES);
}

VOID MiInitializeSystemPtes(PVOID Storage)
{
    KeInitializeSpinLock(&MiSystemPteLock);
    MiRunTreeInitialize(&MiSystemPteTree, Storage, MM_SYSTEM_PTE_PAGES);
    MiRunTreeSetFree(&MiSystemPteTree, 0, MM_SYSTEM_PTE_PAGES);
}

PMMPTE MiReserveSystemPtes(ULONG NumberOfPtes, MMSYSTEM_PTE_POOL_TYPE SystemPtePoolType)
{
    PFN_NUMBER index;
    KIRQL irql;

    UNREFERENCED_PARAMETER(SystemPtePoolType);
    if (NumberOfPtes == 0)
        return NULL;
    KeAcquireSpinLock(&MiSystemPteLock, &irql);
    index = MiRunTreeFind(&MiSystemPteTree, NumberOfPtes, 0, MM_SYSTEM_PTE_PAGES - 1, 0);
    if (index != MI_RUN_NONE)
        MiRunTreeSetUsed(&MiSystemPteTree, index, NumberOfPtes);
    KeReleaseSpinLock(&MiSystemPteLock, irql);
    if (index == MI_RUN_NONE)
        return NULL;
    return MiGetPteAddress(MM_SYSTEM_PTE_BASE + (index << PAGE_SHIFT));
}

VOID MiReleaseSystemPtes(PMMPTE StartingPte, ULONG NumberOfPtes,
                         MMSYSTEM_PTE_POOL_TYPE SystemPtePoolType)
{
    ULONG64 va = (ULONG64)MiGetVirtualAddressMappedByPte(StartingPte);
    PFN_NUMBER index = (va - MM_SYSTEM_PTE_BASE) >> PAGE_SHIFT;
    KIRQL irql;

    UNREFERENCED_PARAMETER(SystemPtePoolType);
    if (va < MM_SYSTEM_PTE_BASE || va >= MM_SYSTEM_PTE_END || NumberOfPtes == 0 ||
        index + NumberOfPtes > MM_SYSTEM_PTE_PAGES)
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_FREE_NOT_RESERVED,
                     (ULONG_PTR)StartingPte, NumberOfPtes, 0);
    KeAcquireSpinLock(&MiSystemPteLock, &irql);
    for (ULONG i = 0; i < NumberOfPtes; i++)
        if (MiRunTreeIsFree(&MiSystemPteTree, index + i))
            KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_FREE_NOT_RESERVED,
                         (ULONG_PTR)StartingPte, NumberOfPtes, i);
    MiRunTreeSetFree(&MiSystemPteTree, index, NumberOfPtes);
    KeReleaseSpinLock(&MiSystemPteLock, irql);
}

PFN_NUMBER MiFreeSystemPteCount(VOID)
{
    return MiRunTreeFreeCount(&MiSystemPteTree);
}

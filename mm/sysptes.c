/*
 * sysptes.c - reserving runs of PTEs in the system-PTE region.
 *
 * MmMapIoSpace, MDL mappings, contiguous memory, kernel stacks and pool
 * pages all need a range of system virtual addresses for a while. The
 * region (2 GiB at MM_SYSTEM_PTE_BASE) is handed out in page-sized PTEs by
 * the same free-run tree the physical allocator uses (runtree.c): the
 * lowest free run of N PTEs is found in O(log N) whether N is 1 or 100,000,
 * and a fragmented region never degrades into a linear scan.
 *
 * Small runs are mapped and unmapped far more often than large ones, and a
 * tree update costs a walk to the root. So, as NT keeps lists of cached
 * runs of 1, 2, 4, 8 and 16 PTEs in front of its allocator, released runs
 * of up to MI_SYSPTE_CACHED_SIZES PTEs go onto a per-size stack (still
 * marked used in the tree) and the next reservation of that size takes the
 * most recently released one, which also keeps its page table warm. When
 * the tree cannot satisfy a request, every cached run goes back to the tree
 * and the search is retried, so caching never makes a reservation fail.
 * Without cached runs the answer is the lowest fit.
 *
 * Everything here is guarded by MmPfnLock: a reservation is almost always
 * followed by a mapping, which needs that lock anyway (pagetable.c), so
 * MiMapPhysicalPages does both under one acquisition. Reserving only
 * claims the addresses. Releasing PTEs that were not reserved is a
 * SYSTEM_PTE_MISUSE bug check.
 */
#include "mm_internal.h"

#define SYSTEM_PTE_MISUSE_FREE_NOT_RESERVED 0x101

static MI_RUN_TREE MiSystemPteTree;

/* Cached runs: MiSystemPteCache[n - 1] holds start indexes of runs of n PTEs. */
static struct {
    ULONG Count;
    ULONG Index[MI_SYSPTE_CACHE_DEPTH];
} MiSystemPteCache[MI_SYSPTE_CACHED_SIZES];
static PFN_NUMBER MiSystemPtesCached;
/* One bit per PTE that sits in a cached run, so a second release is caught. */
static PULONG64 MiSystemPteCachedBits;

#define MI_CACHED_BIT(i) (MiSystemPteCachedBits[(i) / 64] & (1ULL << ((i) % 64)))

SIZE_T MiSystemPteStorageSize(VOID)
{
    return MiRunTreeStorageSize(MM_SYSTEM_PTE_PAGES) + MM_SYSTEM_PTE_PAGES / 8;
}

static void MiSetCached(PFN_NUMBER Index, ULONG Count, BOOLEAN Cached)
{
    for (ULONG i = 0; i < Count; i++) {
        if (Cached)
            MiSystemPteCachedBits[(Index + i) / 64] |= 1ULL << ((Index + i) % 64);
        else
            MiSystemPteCachedBits[(Index + i) / 64] &= ~(1ULL << ((Index + i) % 64));
    }
}

VOID MiInitializeSystemPtes(PVOID Storage)
{
    SIZE_T treeBytes = MiRunTreeStorageSize(MM_SYSTEM_PTE_PAGES);

    MiRunTreeInitialize(&MiSystemPteTree, Storage, MM_SYSTEM_PTE_PAGES);
    MiSystemPteCachedBits = (PULONG64)((PUCHAR)Storage + treeBytes);
    RtlZeroMemory(MiSystemPteCachedBits, MM_SYSTEM_PTE_PAGES / 8);
    MiRunTreeSetFree(&MiSystemPteTree, 0, MM_SYSTEM_PTE_PAGES);
    for (ULONG n = 0; n < MI_SYSPTE_CACHED_SIZES; n++)
        MiSystemPteCache[n].Count = 0;
    MiSystemPtesCached = 0;
}

/* Give every cached run back to the tree. */
static void MiFlushSystemPteCache(void)
{
    for (ULONG n = 0; n < MI_SYSPTE_CACHED_SIZES; n++) {
        while (MiSystemPteCache[n].Count > 0) {
            ULONG index = MiSystemPteCache[n].Index[--MiSystemPteCache[n].Count];
            MiSetCached(index, n + 1, FALSE);
            MiRunTreeSetFree(&MiSystemPteTree, index, n + 1);
        }
    }
    MiSystemPtesCached = 0;
}

PMMPTE MiReserveSystemPtesLocked(ULONG NumberOfPtes)
{
    PFN_NUMBER index;

    if (NumberOfPtes == 0 || NumberOfPtes > MM_SYSTEM_PTE_PAGES)
        return NULL;
    if (NumberOfPtes <= MI_SYSPTE_CACHED_SIZES && MiSystemPteCache[NumberOfPtes - 1].Count > 0) {
        index = MiSystemPteCache[NumberOfPtes - 1].Index[--MiSystemPteCache[NumberOfPtes - 1].Count];
        MiSystemPtesCached -= NumberOfPtes;
        MiSetCached(index, NumberOfPtes, FALSE);
    } else {
        index = MiRunTreeFind(&MiSystemPteTree, NumberOfPtes, 0, MM_SYSTEM_PTE_PAGES - 1, 0);
        if (index == MI_RUN_NONE && MiSystemPtesCached != 0) {
            MiFlushSystemPteCache();
            index = MiRunTreeFind(&MiSystemPteTree, NumberOfPtes, 0, MM_SYSTEM_PTE_PAGES - 1, 0);
        }
        if (index == MI_RUN_NONE)
            return NULL;
        MiRunTreeSetUsed(&MiSystemPteTree, index, NumberOfPtes);
    }
    return MiGetPteAddress(MM_SYSTEM_PTE_BASE + (index << PAGE_SHIFT));
}

/*
 * The caller has cleared the run's PTEs and shot their translations down
 * (MiShootdownTbList) already: a released run - a cached one too - may be
 * reserved and mapped to other pages the moment the lock drops, and a
 * processor still holding an old translation would reach the old page.
 */
VOID MiReleaseSystemPtesLocked(PMMPTE StartingPte, ULONG NumberOfPtes)
{
    ULONG64 va = (ULONG64)MiGetVirtualAddressMappedByPte(StartingPte);
    PFN_NUMBER index = (va - MM_SYSTEM_PTE_BASE) >> PAGE_SHIFT;

    if (va < MM_SYSTEM_PTE_BASE || va >= MM_SYSTEM_PTE_END || NumberOfPtes == 0 ||
        index + NumberOfPtes > MM_SYSTEM_PTE_PAGES)
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_FREE_NOT_RESERVED,
                     (ULONG_PTR)StartingPte, NumberOfPtes, 0);
    /* A cached run is free to its owner's eyes: releasing it again is the
     * same double release as releasing a free PTE. */
    for (ULONG i = 0; i < NumberOfPtes; i++)
        if (MiRunTreeIsFree(&MiSystemPteTree, index + i) || MI_CACHED_BIT(index + i))
            KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_FREE_NOT_RESERVED,
                         (ULONG_PTR)StartingPte, NumberOfPtes, i);
    if (NumberOfPtes <= MI_SYSPTE_CACHED_SIZES &&
        MiSystemPteCache[NumberOfPtes - 1].Count < MI_SYSPTE_CACHE_DEPTH) {
        MiSystemPteCache[NumberOfPtes - 1].Index[MiSystemPteCache[NumberOfPtes - 1].Count++] =
            (ULONG)index;
        MiSystemPtesCached += NumberOfPtes;
        MiSetCached(index, NumberOfPtes, TRUE);
        return;
    }
    MiRunTreeSetFree(&MiSystemPteTree, index, NumberOfPtes);
}

PMMPTE MiReserveSystemPtes(ULONG NumberOfPtes, MMSYSTEM_PTE_POOL_TYPE SystemPtePoolType)
{
    PMMPTE pte;
    KIRQL irql;

    UNREFERENCED_PARAMETER(SystemPtePoolType);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    pte = MiReserveSystemPtesLocked(NumberOfPtes);
    KeReleaseSpinLock(&MmPfnLock, irql);
    return pte;
}

VOID MiReleaseSystemPtes(PMMPTE StartingPte, ULONG NumberOfPtes,
                         MMSYSTEM_PTE_POOL_TYPE SystemPtePoolType)
{
    KIRQL irql;

    UNREFERENCED_PARAMETER(SystemPtePoolType);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiReleaseSystemPtesLocked(StartingPte, NumberOfPtes);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* Free PTEs, cached runs included: all of them can be reserved. */
PFN_NUMBER MiFreeSystemPteCount(VOID)
{
    return MiRunTreeFreeCount(&MiSystemPteTree) + MiSystemPtesCached;
}

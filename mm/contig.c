/*
 * contig.c - physically contiguous memory for DMA:
 * MmAllocateContiguousMemory(SpecifyCache), MmAllocateContiguousNodeMemory,
 * MmFreeContiguousMemory(SpecifyCache).
 *
 * A driver asks for N bytes of physical memory in [Lowest, Highest] that
 * does not cross a multiple of BoundaryAddressMultiple (say, a DMA engine
 * that cannot cross 64 KiB). The search is MiFreeRunTree's (runtree.c):
 * the lowest qualifying run in O(log N) per candidate, never a walk over
 * the PFN database. The pages leave the free lists, are marked
 * StartOfAllocation/EndOfAllocation in their PFN entries (so the free can
 * check it is given the start of a live allocation), and are mapped into
 * system-PTE space with the requested cache type.
 *
 * As in NT: IRQL <= DISPATCH_LEVEL; contents uninitialized; the address is
 * page aligned; failure is NULL and leaves nothing behind; Highest is
 * inclusive and is clamped to the highest RAM page; a Lowest that is not
 * page aligned rounds up; a boundary that is not a page-aligned power of
 * two is refused. The older allocators return executable memory; the node
 * allocator honours PAGE_READWRITE (no-execute) as the Learn page says.
 */
#include "mm_internal.h"
#include "../kernel/ke/ke.h"       /* KI_CHECK_IRQL_*: the IRQL rules */

#define BAD_POOL_CALLER_BAD_CONTIGUOUS_FREE 0x60

static PFN_NUMBER MiFindInTree(PFN_NUMBER Pages, PFN_NUMBER LowPfn, PFN_NUMBER HighPfn,
                               PFN_NUMBER BoundaryPfn)
{
    return MiRunTreeFind(&MiFreeRunTree, Pages, LowPfn, HighPfn, BoundaryPfn);
}

/*
 * The contig lab's stand-in (tests/labs/contig.md), run only by a tree
 * whose contig lab is stripped: the boot takes the processors' start-up
 * pages with MmAllocateContiguousMemorySpecifyCache (kernel/ke/mp.c), so a
 * stripped tree must still hand out cached memory to boot on several
 * processors. Cached only, no boundary, no argument checks: just enough
 * for the boot (the stub calls LAB_TODO first, so no test passes on it).
 */
static __attribute__((unused)) PVOID
MiContiguousLabFallback(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS Lowest, PHYSICAL_ADDRESS Highest,
                        MEMORY_CACHING_TYPE CacheType, PMI_CONTIGUOUS_FINDER Finder)
{
    PFN_NUMBER pages = BYTES_TO_PAGES(NumberOfBytes), start;
    PFN_NUMBER lowPfn = ((ULONG64)Lowest.QuadPart + PAGE_SIZE - 1) >> PAGE_SHIFT;
    PFN_NUMBER highPfn = (ULONG64)Highest.QuadPart >> PAGE_SHIFT;
    PUCHAR va;
    KIRQL irql;

    if (highPfn > MmHighestPhysicalPage)
        highPfn = MmHighestPhysicalPage;
    if (CacheType != MmCached || pages == 0 || lowPfn > highPfn)
        return NULL;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    start = Finder(pages, lowPfn, highPfn, 0);
    if (start == MI_RUN_NONE && MiReturnZeroStock())  /* pager.c's stock hides pages */
        start = Finder(pages, lowPfn, highPfn, 0);
    if (start == MI_RUN_NONE || !MiRemovePageRun(start, pages, MiCached)) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    va = MiMapPhysicalPages(start, pages, MM_PTE_WRITE | MM_PTE_GLOBAL);
    if (va == NULL) {
        KeAcquireSpinLock(&MmPfnLock, &irql);
        MiFreeActivePageRun(start, pages);
        KeReleaseSpinLock(&MmPfnLock, irql);
    }
    return va;
}

PVOID MiAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS Lowest,
                                 PHYSICAL_ADDRESS Highest, PHYSICAL_ADDRESS Boundary,
                                 MEMORY_CACHING_TYPE CacheType, BOOLEAN Executable,
                                 PMI_CONTIGUOUS_FINDER Finder)
{
    /* LAB contig: BEGIN - check the arguments, find and take a run under MmPfnLock, mark its ends, map it with the cache type's PTE bits */
    ULONG64 low = (ULONG64)Lowest.QuadPart, high = (ULONG64)Highest.QuadPart;
    ULONG64 boundary = (ULONG64)Boundary.QuadPart;
    PFN_NUMBER pages, lowPfn, highPfn, boundaryPfn = 0, start;
    UCHAR attribute;
    PUCHAR va;
    KIRQL irql;

    if (NumberOfBytes == 0 || NumberOfBytes > (MmNumberOfPhysicalPages << PAGE_SHIFT))
        return NULL;
    CacheType = (MEMORY_CACHING_TYPE)(CacheType & 0xFF);
    if (CacheType >= MmMaximumCacheType)
        return NULL;
    pages = BYTES_TO_PAGES(NumberOfBytes);

    lowPfn = (low >> PAGE_SHIFT) + ((low & (PAGE_SIZE - 1)) != 0);
    highPfn = high >> PAGE_SHIFT;
    if (highPfn > MmHighestPhysicalPage)
        highPfn = MmHighestPhysicalPage;
    /* nolowmem: a caller that accepts memory above 4 GiB gets none below it. */
    if (MiNoLowMemory && highPfn >= (MM_4GB >> PAGE_SHIFT) && lowPfn < (MM_4GB >> PAGE_SHIFT))
        lowPfn = MM_4GB >> PAGE_SHIFT;
    if (lowPfn > highPfn || pages > highPfn - lowPfn + 1)
        return NULL;
    if (boundary != 0) {
        if ((boundary & (boundary - 1)) != 0 || (boundary & (PAGE_SIZE - 1)) != 0)
            return NULL;
        boundaryPfn = boundary >> PAGE_SHIFT;
        if (pages > boundaryPfn)
            return NULL;
    }
    attribute = MiCacheTypeToPfnAttribute(CacheType);

    KeAcquireSpinLock(&MmPfnLock, &irql);
    start = Finder(pages, lowPfn, highPfn, boundaryPfn);
    if (start == MI_RUN_NONE && MiReturnZeroStock())  /* pager.c's stock hides pages */
        start = Finder(pages, lowPfn, highPfn, boundaryPfn);
    if (start == MI_RUN_NONE) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;
    }
    if (!MiRemovePageRun(start, pages, attribute)) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;                    /* over the commit limit (commit.c) */
    }
    MI_PFN_ELEMENT(start)->Flags |= MI_PFN_START_OF_ALLOCATION;
    MI_PFN_ELEMENT(start + pages - 1)->Flags |= MI_PFN_END_OF_ALLOCATION;
    KeReleaseSpinLock(&MmPfnLock, irql);

    /*
     * The pages may still have lines in the caches from their last cached
     * mapping (a zeroed page always has: hyperspace zeroes through a
     * write-back mapping). A non-cached or write-combined mapping must not
     * alias them, or a dirty line written back later lands on top of what
     * a device put there. Write back and invalidate first, as NT does
     * before mapping RAM non-cached - on every processor, since any of
     * them may hold such lines (KeInvalidateAllCaches).
     */
    if (attribute != MiCached)
        KeInvalidateAllCaches();
    va = MiMapPhysicalPages(start, pages,
                            MM_PTE_WRITE | MM_PTE_GLOBAL | MiCacheTypeToPteBits(CacheType) |
                                (Executable ? 0 : MM_PTE_NO_EXECUTE));
    if (va == NULL) {
        /* Out of system PTEs (or page tables): give every page back. */
        KeAcquireSpinLock(&MmPfnLock, &irql);
        MiFreeActivePageRun(start, pages);
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;
    }
    for (PFN_NUMBER i = 0; i < pages; i++)
        MI_PFN_ELEMENT(start + i)->PteAddress = MiGetPteAddress(va + (i << PAGE_SHIFT));
    return va;
    /* LAB contig: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(contig);
    UNREFERENCED_PARAMETER(Boundary);
    UNREFERENCED_PARAMETER(Executable);
    return MiContiguousLabFallback(NumberOfBytes, Lowest, Highest, CacheType, Finder);
#endif
    /* LAB contig: END */
}

PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                             PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                             MEMORY_CACHING_TYPE CacheType)
{
    /* LAB contig: BEGIN - the IRQL rule of the Learn page (a bug check, not a NULL) */
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmAllocateContiguousMemorySpecifyCache);
    /* LAB contig: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(contig);
#endif
    /* LAB contig: END */
    return MiAllocateContiguousMemory(NumberOfBytes, LowestAcceptableAddress,
                                      HighestAcceptableAddress, BoundaryAddressMultiple,
                                      CacheType, TRUE, MiFindInTree);
}

PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress)
{
    PHYSICAL_ADDRESS zero = {.QuadPart = 0};

    /* LAB contig: BEGIN - the IRQL rule of the Learn page (a bug check, not a NULL) */
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmAllocateContiguousMemory);
    /* LAB contig: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(contig);
#endif
    /* LAB contig: END */
    return MiAllocateContiguousMemory(NumberOfBytes, zero, HighestAcceptableAddress, zero,
                                      MmCached, TRUE, MiFindInTree);
}

/*
 * Protect: exactly one of PAGE_READWRITE (no-execute) and
 * PAGE_EXECUTE_READWRITE, plus at most one of PAGE_NOCACHE and
 * PAGE_WRITECOMBINE. PreferredNode: MM_ANY_NODE_OK or node 0 (Mica has one
 * node); a node that does not exist cannot satisfy the request: NULL.
 */
PVOID MmAllocateContiguousNodeMemory(SIZE_T NumberOfBytes,
                                     PHYSICAL_ADDRESS LowestAcceptableAddress,
                                     PHYSICAL_ADDRESS HighestAcceptableAddress,
                                     PHYSICAL_ADDRESS BoundaryAddressMultiple, ULONG Protect,
                                     NODE_REQUIREMENT PreferredNode)
{
    ULONG access = Protect & ~(ULONG)(PAGE_NOCACHE | PAGE_WRITECOMBINE);
    ULONG cache = Protect & (PAGE_NOCACHE | PAGE_WRITECOMBINE);
    MEMORY_CACHING_TYPE type = MmCached;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmAllocateContiguousNodeMemory);
    if ((access != PAGE_READWRITE && access != PAGE_EXECUTE_READWRITE) ||
        cache == (PAGE_NOCACHE | PAGE_WRITECOMBINE))
        return NULL;
    if (PreferredNode != MM_ANY_NODE_OK && PreferredNode != 0)
        return NULL;
    if (cache == PAGE_NOCACHE)
        type = MmNonCached;
    else if (cache == PAGE_WRITECOMBINE)
        type = MmWriteCombined;
    return MiAllocateContiguousMemory(NumberOfBytes, LowestAcceptableAddress,
                                      HighestAcceptableAddress, BoundaryAddressMultiple, type,
                                      access == PAGE_EXECUTE_READWRITE, MiFindInTree);
}

/*
 * MmPfnLock held: the pages of the allocation starting at BaseAddress; bug
 * check if it is not one. The check, the unmap and the free share one hold
 * of the lock: checked outside it, two processors freeing the same address
 * at once could both pass and free the pages twice.
 */
static PFN_NUMBER MiCheckContiguousAllocationLocked(PVOID BaseAddress, PFN_NUMBER *FirstPfn)
{
    /* LAB contig: BEGIN - walk the PTE to the PFN entries; anything but the start of a live allocation is a bug check */
    ULONG64 va = (ULONG64)BaseAddress;
    PFN_NUMBER first, pages = 0;
    PMMPTE pte;
    ULONG level;

    if ((va & (PAGE_SIZE - 1)) != 0 || va < MM_SYSTEM_PTE_BASE || va >= MM_SYSTEM_PTE_END ||
        MiWalkToPte(BaseAddress, &level) == NULL || level != 1)
        goto bad;
    pte = MiGetPteAddress(va);
    first = MI_PTE_FRAME(*pte);
    if (!MiIsPfnRam(first))
        goto bad;
    for (;;) {
        PMMPFN pfn = MI_PFN_ELEMENT(first + pages);
        if (pfn->PageLocation != ActiveAndValid || pfn->PteAddress != pte + pages ||
            (pages == 0 && !(pfn->Flags & MI_PFN_START_OF_ALLOCATION)) ||
            (pages > 0 && (pfn->Flags & MI_PFN_START_OF_ALLOCATION)))
            goto bad;
        pages++;
        if (pfn->Flags & MI_PFN_END_OF_ALLOCATION)
            break;
        if (!MiIsPfnRam(first + pages))
            goto bad;
    }
    *FirstPfn = first;
    return pages;
bad:
    /* NT's answer to freeing something that is not a contiguous allocation. */
    KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_BAD_CONTIGUOUS_FREE, va, 0, 0);
    /* LAB contig: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(contig);
    UNREFERENCED_PARAMETER(BaseAddress);
    *FirstPfn = 0;
    return 0;
#endif
    /* LAB contig: END */
}

VOID MmFreeContiguousMemory(PVOID BaseAddress)
{
    /* LAB contig: BEGIN - IRQL rule; check, unmap and free in one hold of MmPfnLock */
    PFN_NUMBER first, pages;
    KIRQL irql;

    /* Allowed up to DISPATCH_LEVEL since Windows Server 2008. */
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmFreeContiguousMemory);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    pages = MiCheckContiguousAllocationLocked(BaseAddress, &first);
    /* Unmapped and shot down (one IPI round) before the pages go back. */
    MiUnmapPhysicalPagesLocked(BaseAddress, pages);
    MiFreeActivePageRun(first, pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
    /* LAB contig: ELSE */
#ifdef MICA_LAB_STUB
    /* Until then the pages stay allocated: a leak, but nothing freed twice. */
    LAB_TODO(contig);
    UNREFERENCED_PARAMETER(BaseAddress);
    (void)MiCheckContiguousAllocationLocked;
#endif
    /* LAB contig: END */
}

/*
 * The caller must pass the size and cache type it allocated with; like
 * ReactOS, Mica takes both from the PFN database instead, so a mismatch
 * cannot free the wrong pages.
 */
VOID MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                        MEMORY_CACHING_TYPE CacheType)
{
    UNREFERENCED_PARAMETER(NumberOfBytes);
    UNREFERENCED_PARAMETER(CacheType);
    MmFreeContiguousMemory(BaseAddress);
}

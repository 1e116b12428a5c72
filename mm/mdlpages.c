/*
 * mdlpages.c - pages that belong to an MDL: MmAllocatePagesForMdl(Ex),
 * MmFreePagesFromMdl, and MmAllocateNonCachedMemory built on them.
 *
 * A driver that wants physical pages but no particular address (a DMA
 * ring, a buffer a device fills) asks for them by physical range. The
 * pages come off the free lists one by one, normally not contiguous, found
 * by the free-run tree (pfndb.c, MiAllocatePagesForMdlCore: lowest first in
 * [Low, High], then [Low + Skip, High + Skip] ...). The MDL has no virtual
 * address (StartVa NULL) until MmMapLockedPagesSpecifyCache gives it one.
 * Fewer pages than asked for is success: the MDL's ByteCount says how much
 * was found, and only a caller that says MM_ALLOCATE_FULLY_REQUIRED gets
 * NULL instead. The flags (Learn, MmAllocatePagesForMdlEx), in Mica:
 *   MM_DONT_ZERO_ALLOCATION              the pages keep what they held;
 *   MM_ALLOCATE_FROM_LOCAL_NODE_ONLY     Mica has one node: every page is local;
 *   MM_ALLOCATE_FULLY_REQUIRED           all of TotalBytes or NULL;
 *   MM_ALLOCATE_NO_WAIT                  Mica never waits for pages anyway;
 *   MM_ALLOCATE_PREFER_CONTIGUOUS        one run if the range has one, else pages;
 *   MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS  SkipBytes 0: one run or NULL;
 *                                        else runs of SkipBytes (a power of
 *                                        two), each aligned to its size;
 *   MM_ALLOCATE_FAST_LARGE_PAGES         with the above, chunks of whole 2 MiB
 *                                        large pages (SkipBytes a multiple);
 *   MM_ALLOCATE_AND_HOT_REMOVE           PASSIVE_LEVEL only, not with
 *                                        FULLY_REQUIRED; Mica cannot take
 *                                        memory out of the machine, so the
 *                                        pages are simply the caller's until freed.
 * Any other bit: NULL. The cache type is recorded in the pages' PFN entries,
 * so every mapping of them uses it (mdlmap.c).
 */
#include "mm_internal.h"

#define MI_MDL_TAG 'Mdl '
#define MI_MAXIMUM_MDL_BYTES (0xFFFFFFFFULL + 1 - PAGE_SIZE)
#define MI_LARGE_PAGE_SIZE (1ULL << 21)
#define MI_KNOWN_MDL_FLAGS                                                                     \
    (MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FROM_LOCAL_NODE_ONLY | MM_ALLOCATE_FULLY_REQUIRED | \
     MM_ALLOCATE_NO_WAIT | MM_ALLOCATE_PREFER_CONTIGUOUS | MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | \
     MM_ALLOCATE_FAST_LARGE_PAGES | MM_ALLOCATE_AND_HOT_REMOVE)
#define MEMORY_MANAGEMENT_MDL_BAD_PAGE 0x1236

/* MmPfnLock held: runs of up to Chunk pages (Chunk-aligned when Align) in
 * [Low, High], until Want pages are taken or none is found. */
static PFN_NUMBER MiTakeRuns(PFN_NUMBER Low, PFN_NUMBER High, PFN_NUMBER Want, PFN_NUMBER Chunk,
                             BOOLEAN Align, PPFN_NUMBER Pages)
{
    PFN_NUMBER got = 0;

    while (got < Want) {
        PFN_NUMBER n = Want - got < Chunk ? Want - got : Chunk;
        PFN_NUMBER start = MiRunTreeFind(&MiFreeRunTree, n, Low, High, Align ? Chunk : 0);
        if (start == MI_RUN_NONE && MiReturnZeroStock())   /* pager.c's stock hides pages */
            start = MiRunTreeFind(&MiFreeRunTree, n, Low, High, Align ? Chunk : 0);
        if (start == MI_RUN_NONE || !MiRemovePageRun(start, n, MiCached))
            break;
        for (PFN_NUMBER i = 0; i < n; i++)
            Pages[got++] = start + i;
    }
    return got;
}

PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                             PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                             MEMORY_CACHING_TYPE CacheType, ULONG Flags)
{
    ULONG64 skip = (ULONG64)SkipBytes.QuadPart;
    PFN_NUMBER low = ((ULONG64)LowAddress.QuadPart + PAGE_SIZE - 1) >> PAGE_SHIFT;
    PFN_NUMBER high = (ULONG64)HighAddress.QuadPart >> PAGE_SHIFT;
    PFN_NUMBER want, got = 0;
    PPFN_NUMBER pages;
    UCHAR attribute;
    PMDL mdl;
    KIRQL irql;

    /* Allowed up to DISPATCH_LEVEL since Windows Server 2008; hot removal
     * only at PASSIVE_LEVEL. */
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmAllocatePagesForMdlEx);
    if (Flags & MM_ALLOCATE_AND_HOT_REMOVE)
        KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, MmAllocatePagesForMdlEx);
    CacheType = (MEMORY_CACHING_TYPE)(CacheType & 0xFF);
    if ((Flags & ~MI_KNOWN_MDL_FLAGS) || CacheType >= MmMaximumCacheType || TotalBytes == 0 ||
        (skip & (PAGE_SIZE - 1)) != 0 || low > high)
        return NULL;
    if ((Flags & MM_ALLOCATE_AND_HOT_REMOVE) && (Flags & MM_ALLOCATE_FULLY_REQUIRED))
        return NULL;
    if (Flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) {
        if (skip != 0 && (skip & (skip - 1)) != 0)
            return NULL;                /* chunks are a power of two */
        if ((Flags & MM_ALLOCATE_FAST_LARGE_PAGES) && (skip == 0 || skip % MI_LARGE_PAGE_SIZE))
            return NULL;
    } else if (Flags & MM_ALLOCATE_FAST_LARGE_PAGES) {
        return NULL;                    /* only with contiguous chunks */
    }
    /* At most 4 GiB - PAGE_SIZE in one MDL: more is a short allocation. */
    if (TotalBytes > MI_MAXIMUM_MDL_BYTES) {
        if (Flags & MM_ALLOCATE_FULLY_REQUIRED)
            return NULL;
        TotalBytes = MI_MAXIMUM_MDL_BYTES;
    }
    if (high > MmHighestPhysicalPage)
        high = MmHighestPhysicalPage;
    want = BYTES_TO_PAGES(TotalBytes);
    mdl = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(MDL) + want * sizeof(PFN_NUMBER), MI_MDL_TAG);
    if (mdl == NULL)
        return NULL;
    pages = MmGetMdlPfnArray(mdl);
    attribute = MiCacheTypeToPfnAttribute(CacheType);

    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (Flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) {
        PFN_NUMBER chunk = skip ? skip >> PAGE_SHIFT : want;
        /* nolowmem: a caller that accepts high memory gets none below 4 GiB. */
        if (MiNoLowMemory && high >= (MM_4GB >> PAGE_SHIFT) && low < (MM_4GB >> PAGE_SHIFT))
            low = MM_4GB >> PAGE_SHIFT;
        if (low <= high)
            got = MiTakeRuns(low, high, want, chunk, skip != 0, pages);
    } else {
        if ((Flags & MM_ALLOCATE_PREFER_CONTIGUOUS) && low <= high)
            got = MiTakeRuns(low, high, want, want, FALSE, pages) == want ? want : 0;
        if (got == 0)
            got = MiAllocatePagesForMdlCore(LowAddress, HighAddress, SkipBytes, TotalBytes, pages);
    }
    /* Skip 0 with contiguous chunks: one run or nothing, never part. */
    if (got < want && ((Flags & MM_ALLOCATE_FULLY_REQUIRED) ||
                       ((Flags & MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS) && skip == 0))) {
        for (PFN_NUMBER i = 0; i < got; i++)
            MiFreeActivePage(pages[i]);
        got = 0;
    }
    for (PFN_NUMBER i = 0; i < got; i++)
        MI_PFN_ELEMENT(pages[i])->CacheAttribute = attribute;
    KeReleaseSpinLock(&MmPfnLock, irql);
    if (got == 0) {
        ExFreePoolWithTag(mdl, MI_MDL_TAG);
        return NULL;
    }
    if (!(Flags & MM_DONT_ZERO_ALLOCATION))
        for (PFN_NUMBER i = 0; i < got; i++)
            MiZeroPhysicalPage(pages[i]);
    /* Zeroing (and earlier use) went through write-back mappings: no line
     * of these pages may stay cached under an uncached mapping. */
    if (attribute != MiCached)
        KeInvalidateAllCaches();
    MmInitializeMdl(mdl, NULL, got == want ? TotalBytes : got << PAGE_SHIFT);
    mdl->MdlFlags |= MDL_PAGES_LOCKED;
    return mdl;
}

PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                           PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmAllocatePagesForMdl);
    return MmAllocatePagesForMdlEx(LowAddress, HighAddress, SkipBytes, TotalBytes, MmCached, 0);
}

/*
 * The pages go back; the MDL stays the caller's, to free with ExFreePool
 * (Learn). A system mapping of them goes first (Windows 7 and later). A
 * page that is not an allocated RAM page is MEMORY_MANAGEMENT (0x1236,
 * MDL, the PFN's entry in the array, the PFN); one still locked by another
 * MDL is PFN_LIST_CORRUPT (0x9A, pfndb.c).
 */
VOID MmFreePagesFromMdl(PMDL MemoryDescriptorList)
{
    PMDL mdl = MemoryDescriptorList;
    PFN_NUMBER count = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    PPFN_NUMBER pages = MmGetMdlPfnArray(mdl);
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmFreePagesFromMdl);
    if (mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA)
        MmUnmapLockedPages(mdl->MappedSystemVa, mdl);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (PFN_NUMBER i = 0; i < count && pages[i] != MI_LIST_END; i++) {
        if (!MiIsLockablePage(pages[i]))
            KeBugCheckEx(MEMORY_MANAGEMENT, MEMORY_MANAGEMENT_MDL_BAD_PAGE, (ULONG_PTR)mdl,
                         (ULONG_PTR)&pages[i], pages[i]);
        MiFreeActivePage(pages[i]);
        pages[i] = MI_LIST_END;         /* freed: a second free stops here */
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    mdl->MdlFlags &= (CSHORT)~MDL_PAGES_LOCKED;
}

/*
 * MmAllocateNonCachedMemory: whole uncached pages, uninitialized, mapped in
 * system space. The MDL that holds the pages is found again at free time
 * through a small list keyed by address (NT hides a pointer in a PTE
 * before the mapping instead).
 */
typedef struct _MI_NONCACHED_BLOCK {
    LIST_ENTRY Links;
    PVOID BaseAddress;
    SIZE_T NumberOfBytes;
    PMDL Mdl;
} MI_NONCACHED_BLOCK;

static LIST_ENTRY MiNonCachedBlocks = {&MiNonCachedBlocks, &MiNonCachedBlocks};
static KSPIN_LOCK MiNonCachedLock;

#define SYSTEM_PTE_MISUSE_WRONG_ADDRESS 0x03

PVOID MmAllocateNonCachedMemory(SIZE_T NumberOfBytes)
{
    PHYSICAL_ADDRESS low = {.QuadPart = 0}, high = {.QuadPart = -1}, skip = {.QuadPart = 0};
    MI_NONCACHED_BLOCK *block;
    PVOID va;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmAllocateNonCachedMemory);
    if (NumberOfBytes == 0)
        return NULL;
    block = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*block), MI_MDL_TAG);
    if (block == NULL)
        return NULL;
    block->Mdl = MmAllocatePagesForMdlEx(low, high, skip, NumberOfBytes, MmNonCached,
                                         MM_DONT_ZERO_ALLOCATION | MM_ALLOCATE_FULLY_REQUIRED);
    va = block->Mdl ? MmMapLockedPagesSpecifyCache(block->Mdl, KernelMode, MmNonCached, NULL,
                                                   FALSE, NormalPagePriority | MdlMappingNoExecute)
                    : NULL;
    if (va == NULL) {
        if (block->Mdl != NULL) {
            MmFreePagesFromMdl(block->Mdl);
            ExFreePool(block->Mdl);
        }
        ExFreePoolWithTag(block, MI_MDL_TAG);
        return NULL;
    }
    block->BaseAddress = va;
    block->NumberOfBytes = NumberOfBytes;
    KeAcquireSpinLock(&MiNonCachedLock, &irql);
    InsertTailList(&MiNonCachedBlocks, &block->Links);
    KeReleaseSpinLock(&MiNonCachedLock, irql);
    return va;
}

/* BaseAddress and NumberOfBytes must be the allocation's (Learn); anything
 * else is SYSTEM_PTE_MISUSE (0x03, 0, 0, BaseAddress): no mapping there. */
VOID MmFreeNonCachedMemory(PVOID BaseAddress, SIZE_T NumberOfBytes)
{
    MI_NONCACHED_BLOCK *block = NULL;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmFreeNonCachedMemory);
    KeAcquireSpinLock(&MiNonCachedLock, &irql);
    for (PLIST_ENTRY e = MiNonCachedBlocks.Flink; e != &MiNonCachedBlocks; e = e->Flink) {
        MI_NONCACHED_BLOCK *b = CONTAINING_RECORD(e, MI_NONCACHED_BLOCK, Links);
        if (b->BaseAddress == BaseAddress && b->NumberOfBytes == NumberOfBytes) {
            RemoveEntryList(&b->Links);
            block = b;
            break;
        }
    }
    KeReleaseSpinLock(&MiNonCachedLock, irql);
    if (block == NULL)
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_WRONG_ADDRESS, 0, 0, (ULONG_PTR)BaseAddress);
    MmFreePagesFromMdl(block->Mdl);     /* unmaps it too */
    ExFreePool(block->Mdl);
    ExFreePoolWithTag(block, MI_MDL_TAG);
}

/*
 * pool.c - ExAllocatePoolWithTag and friends: the executive pools.
 *
 * Three pools (descriptors): NonPagedPool (executable pages, as NT's
 * NonPagedPoolExecute), NonPagedPoolNx and PagedPool (no-execute). A
 * request goes, in order, to:
 *   1. special pool, when Driver Verifier selects its tag (special.c);
 *   2. whole pages, when it is larger than POOL_SMALL_LIMIT (4064) bytes,
 *      or POOL_SMALL_CACHE_ALIGNED_LIMIT (4016) for the cache-aligned types,
 *      whose padding must fit in the page too: page-aligned, remembered
 *      in the big-page table (bigpool.c);
 *   3. this processor's lookaside for its block size, for blocks of up to
 *      32 units (512 bytes with the header), as NT's PRCB lookasides: a
 *      pop at DISPATCH_LEVEL, no lock and no interlocked instruction;
 *   4. the pool's size lists (poolblock.c) under the pool's lock: a spin
 *      lock for nonpaged pool, a fast mutex for paged pool (whose pages
 *      fault in on first touch, so it cannot be held at DISPATCH_LEVEL).
 * Freeing checks the block first (double free, header, tag), then pushes
 * it to the lookaside or merges it back into its page.
 *
 * A lookaside block keeps its header with EXP_POOL_INDEX_CACHED set in
 * PoolIndex, so a second free of it is caught as a double free. Paged
 * blocks are touched at DISPATCH_LEVEL in a lookaside: that is safe because
 * a paged-pool page stays resident once touched (poolpage.c) - the page
 * file will have to change this, as NT's paged lookasides use SLISTs at
 * APC_LEVEL.
 *
 * The reports (leaks, !pool, PoolMon's table) are in poolreport.c.
 *
 * NT "raises" STATUS_INSUFFICIENT_RESOURCES where the caller asked for it;
 * Mica has no structured exception handling, so such a raise can only end
 * as NT ends an exception nobody handles: KMODE_EXCEPTION_NOT_HANDLED.
 */
#include "pool_internal.h"

POOL_DESCRIPTOR ExpPoolDescriptors[EXP_POOL_DESCRIPTORS];
static KSPIN_LOCK ExpNonPagedPoolLock[2];
static FAST_MUTEX ExpPagedPoolMutex;

static EXP_BIG_TABLE ExpBigTable;
static KSPIN_LOCK ExpBigPoolLock;
static PFN_NUMBER ExpBigTablePages;

EPROCESS_QUOTA_BLOCK PspDefaultQuotaBlock = {{0, 0}, {~(SIZE_T)0, ~(SIZE_T)0}, {0, 0}};

/* Per-processor lookasides of small blocks, by descriptor and block size. */
#define EXP_LOOKASIDE_DEPTH 32
typedef struct _EXP_POOL_LOOKASIDE {
    PVOID Head;                     /* body of the first block; links in bodies */
    ULONG Depth;
    ULONG TrackTag;                 /* the tag Tracker counts: a list mostly */
    PEXP_POOL_TRACKER Tracker;      /* sees one tag, so its counters are kept */
} EXP_POOL_LOOKASIDE;

/* Tag's PoolMon counters on this processor, remembered by the lookaside. */
static inline PEXP_POOL_TRACKER ExpListTracker(EXP_POOL_LOOKASIDE *List, ULONG Cpu, ULONG Tag)
{
    if (List->Tracker == NULL || List->TrackTag != Tag) {
        List->Tracker = ExpGetPoolTracker(Cpu, Tag);
        List->TrackTag = Tag;
    }
    return List->Tracker;
}

/* Does a header's or big-page entry's pool index fit the region it is in? */
static inline BOOLEAN ExpIndexFitsRegion(ULONG Index, LONG Region)
{
    return Index < EXP_POOL_DESCRIPTORS &&
           (Index == EXP_PAGED) == (Region == EXP_PAGED);
}
static EXP_POOL_LOOKASIDE ExpPoolLookaside[MM_MAXIMUM_PROCESSORS][EXP_POOL_DESCRIPTORS]
                                          [POOL_SMALL_LISTS];

/* Session types (POOL_TYPE_SESSION) are not known here: see ExpAllocatePool. */
#define EXP_KNOWN_TYPE_BITS                                                                    \
    (BASE_POOL_TYPE_MASK | POOL_TYPE_MUST_SUCCEED | POOL_TYPE_CACHE_ALIGNED |                \
     POOL_QUOTA_FAIL_INSTEAD_OF_RAISE | POOL_RAISE_IF_ALLOCATION_FAILURE |                  \
     POOL_COLD_ALLOCATION | POOL_NX_ALLOCATION)
/* A header's PoolType (8 bits) keeps paged, cache aligned and this bit:
 * quota was charged. */
#define EXP_HEADER_QUOTA 8

/* ---- locks and pages for the descriptors ------------------------------------------------- */

static PVOID ExpAllocatePoolPage(PPOOL_DESCRIPTOR Descriptor)
{
    return MiAllocatePoolPages(Descriptor->PoolIndex, 1);
}

static VOID ExpFreePoolPage(PPOOL_DESCRIPTOR Descriptor, PVOID Page)
{
    MiFreePoolPages(Descriptor->PoolIndex, Page, 1);
}

static KIRQL ExpLockPool(ULONG Index)
{
    KIRQL irql = PASSIVE_LEVEL;

    if (Index == EXP_PAGED)
        ExAcquireFastMutex(&ExpPagedPoolMutex);
    else
        KeAcquireSpinLock(&ExpNonPagedPoolLock[Index], &irql);
    return irql;
}

static void ExpUnlockPool(ULONG Index, KIRQL Irql)
{
    if (Index == EXP_PAGED)
        ExReleaseFastMutex(&ExpPagedPoolMutex);
    else
        KeReleaseSpinLock(&ExpNonPagedPoolLock[Index], Irql);
}

VOID ExpInitializePool(VOID)
{
    SIZE_T entries;

    ExpInitializePoolDescriptor(&ExpPoolDescriptors[EXP_NONPAGED_EXECUTE], NonPagedPool,
                                EXP_NONPAGED_EXECUTE, ExpAllocatePoolPage, ExpFreePoolPage);
    ExpInitializePoolDescriptor(&ExpPoolDescriptors[EXP_NONPAGED_NX], NonPagedPool,
                                EXP_NONPAGED_NX, ExpAllocatePoolPage, ExpFreePoolPage);
    ExpInitializePoolDescriptor(&ExpPoolDescriptors[EXP_PAGED], PagedPool, EXP_PAGED,
                                ExpAllocatePoolPage, ExpFreePoolPage);
    KeInitializeSpinLock(&ExpNonPagedPoolLock[0]);
    KeInitializeSpinLock(&ExpNonPagedPoolLock[1]);
    ExInitializeFastMutex(&ExpPagedPoolMutex);
    KeInitializeSpinLock(&ExpBigPoolLock);
    RtlZeroMemory(ExpPoolLookaside, sizeof(ExpPoolLookaside));
    /* The big-page table lives in pool pages of its own (not in the table). */
    ExpBigTablePages = 4;
    entries = 1;
    while (entries * 2 * sizeof(POOL_TRACKER_BIG_PAGES) <= (ExpBigTablePages << PAGE_SHIFT))
        entries *= 2;
    ExpInitializeBigTable(&ExpBigTable, MiAllocatePoolPages(EXP_NONPAGED_NX, ExpBigTablePages),
                          entries);
}

/* Big-page lock held: make room for one more entry; FALSE if no pages. */
static BOOLEAN ExpGrowBigTableIfNeeded(void)
{
    PFN_NUMBER pages = ExpBigTablePages * 2;
    PPOOL_TRACKER_BIG_PAGES storage, old;

    if (!ExpBigTableNeedsGrowth(&ExpBigTable))
        return TRUE;
    storage = MiAllocatePoolPages(EXP_NONPAGED_NX, pages);
    if (storage == NULL)
        return FALSE;
    old = ExpGrowBigTable(&ExpBigTable, storage, ExpBigTable.Size * 2);
    MiFreePoolPages(EXP_NONPAGED_NX, old, ExpBigTablePages);
    ExpBigTablePages = pages;
    return TRUE;
}

BOOLEAN ExpIsBigTableStorage(PVOID Va)
{
    return (ULONG64)Va >= (ULONG64)ExpBigTable.Entries &&
           (ULONG64)Va < (ULONG64)ExpBigTable.Entries + (ExpBigTablePages << PAGE_SHIFT);
}

BOOLEAN ExpQueryBigPage(PVOID Va, PPOOL_TRACKER_BIG_PAGES Entry)
{
    BOOLEAN found;
    KIRQL irql;

    KeAcquireSpinLock(&ExpBigPoolLock, &irql);
    found = ExpFindBigPage(&ExpBigTable, Va, Entry, FALSE);
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    return found;
}

/* ---- quota --------------------------------------------------------------------------------- */

static BOOLEAN ExpChargeQuota(PEPROCESS_QUOTA_BLOCK Quota, BOOLEAN Paged, SIZE_T Bytes)
{
    KIRQL irql = ExpRaiseToDpc();
    BOOLEAN ok = Quota->Usage[Paged] + Bytes >= Quota->Usage[Paged] &&
                 Quota->Usage[Paged] + Bytes <= Quota->Limit[Paged];

    if (ok) {
        Quota->Usage[Paged] += Bytes;
        if (Quota->Usage[Paged] > Quota->Peak[Paged])
            Quota->Peak[Paged] = Quota->Usage[Paged];
    }
    ExpLowerFromDpc(irql);
    return ok;
}

static void ExpReturnQuota(PEPROCESS_QUOTA_BLOCK Quota, BOOLEAN Paged, SIZE_T Bytes)
{
    KIRQL irql = ExpRaiseToDpc();

    Quota->Usage[Paged] -= Bytes;
    ExpLowerFromDpc(irql);
}

/* ---- allocation ---------------------------------------------------------------------------- */

static PVOID ExpAllocationFailed(ULONG PoolType, PVOID Caller)
{
    UNREFERENCED_PARAMETER(Caller);
    if (PoolType & POOL_RAISE_IF_ALLOCATION_FAILURE)
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
    return NULL;
}

static PVOID ExpAllocateBig(ULONG Index, ULONG HeaderType, SIZE_T NumberOfBytes, ULONG Tag,
                            PEPROCESS_QUOTA_BLOCK Quota)
{
    POOL_TRACKER_BIG_PAGES entry;
    PFN_NUMBER pages;
    PVOID va;
    KIRQL irql;

    if (NumberOfBytes > (MM_NONPAGED_POOL_PAGES << PAGE_SHIFT))
        return NULL;
    pages = BYTES_TO_PAGES(NumberOfBytes);
    va = MiAllocatePoolPages(Index, pages);
    if (va == NULL)
        return NULL;
    entry.Va = va;
    entry.Key = Tag;
    entry.PoolType = HeaderType + 1;
    entry.NumberOfBytes = NumberOfBytes;
    entry.Pages = pages;
    entry.ProcessBilled = Quota;
    entry.PoolIndex = Index;
    KeAcquireSpinLock(&ExpBigPoolLock, &irql);
    if (!ExpGrowBigTableIfNeeded()) {
        KeReleaseSpinLock(&ExpBigPoolLock, irql);
        MiFreePoolPages(Index, va, pages);
        return NULL;
    }
    ExpInsertBigPage(&ExpBigTable, &entry);
    ExpPoolDescriptors[Index].TotalBigPages += pages;
    ExpPoolDescriptors[Index].RunningAllocs++;
    ExpInsertPoolTracker(KeGetCurrentProcessorNumber(), Tag, pages << PAGE_SHIFT,
                         Index == EXP_PAGED);
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    return va;
}

static PVOID ExpAllocateSmall(ULONG Index, ULONG HeaderType, SIZE_T NumberOfBytes, ULONG Tag,
                              PEPROCESS_QUOTA_BLOCK Quota, KIRQL Irql)
{
    ULONG units = ExpBytesToUnits(NumberOfBytes);
    BOOLEAN aligned = (HeaderType & POOL_TYPE_CACHE_ALIGNED) != 0;
    PPOOL_HEADER entry;
    KIRQL irql = Irql;

    if (!aligned && units <= POOL_SMALL_LISTS) {
        EXP_POOL_LOOKASIDE *list;
        ULONG cpu;
        if (Irql < DISPATCH_LEVEL)
            KeRaiseIrql(DISPATCH_LEVEL, &irql);
        cpu = KeGetCurrentProcessorNumber();
        list = &ExpPoolLookaside[cpu][Index][units - 1];
        if (list->Head != NULL) {
            PEXP_POOL_TRACKER tracker = ExpListTracker(list, cpu, Tag);
            entry = (PPOOL_HEADER)list->Head - 1;
            list->Head = *(PVOID *)list->Head;
            list->Depth--;
            entry->PoolIndex = (UCHAR)Index;
            entry->PoolType = (UCHAR)(HeaderType + 1);
            entry->PoolTag = Tag;
            entry->ProcessBilled = Quota;
            tracker->Allocs[Index == EXP_PAGED]++;
            tracker->Bytes[Index == EXP_PAGED] += (SIZE_T)units << POOL_BLOCK_SHIFT;
            if (Irql < DISPATCH_LEVEL)
                KeLowerIrql(irql);
            return ExpBlockBody(entry);
        }
        if (Irql < DISPATCH_LEVEL)
            KeLowerIrql(irql);
    }
    irql = ExpLockPool(Index);
    entry = ExpAllocateBlock(&ExpPoolDescriptors[Index], units, aligned);
    if (entry != NULL) {
        entry->PoolType = (UCHAR)(HeaderType + 1);
        entry->PoolTag = Tag;
        entry->ProcessBilled = Quota;
    }
    ExpUnlockPool(Index, irql);
    if (entry == NULL)
        return NULL;
    irql = ExpRaiseToDpc();
    ExpInsertPoolTracker(KeGetCurrentProcessorNumber(), Tag,
                         (SIZE_T)entry->BlockSize << POOL_BLOCK_SHIFT, Index == EXP_PAGED);
    ExpLowerFromDpc(irql);
    return ExpBlockBody(entry);
}

/*
 * The one allocation path. Priority only matters to special pool (overrun /
 * underrun placement); SpecialPool forces special pool when it can be had.
 */
static PVOID ExpAllocatePool(ULONG PoolType, SIZE_T NumberOfBytes, ULONG Tag, ULONG Priority,
                             BOOLEAN ChargeQuota, BOOLEAN SpecialPool, PVOID Caller)
{
    BOOLEAN paged = (PoolType & BASE_POOL_TYPE_MASK) != 0;
    ULONG index = paged ? EXP_PAGED
                        : (PoolType & POOL_NX_ALLOCATION) ? EXP_NONPAGED_NX : EXP_NONPAGED_EXECUTE;
    ULONG headerType = (PoolType & (BASE_POOL_TYPE_MASK | POOL_TYPE_CACHE_ALIGNED)) |
                       (ChargeQuota ? EXP_HEADER_QUOTA : 0);
    KIRQL irql = KeGetCurrentIrql();
    PEPROCESS_QUOTA_BLOCK quota = NULL;
    SIZE_T charge;
    BOOLEAN small;
    PVOID p;

    if (irql > (paged ? APC_LEVEL : DISPATCH_LEVEL))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_ALLOC_IRQL, irql, PoolType, NumberOfBytes);
    if (PoolType & POOL_TYPE_MUST_SUCCEED)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_MUST_SUCCEED, PoolType, NumberOfBytes, Tag);
    /*
     * Unknown bits, and session pool: session memory is mapped only in one
     * session's part of the address space, and Mica has no sessions. Serving
     * it as global pool would hand a driver memory every session shares
     * where it asked for per-session memory, so every routine refuses it the
     * same way: NULL (or the raise that was asked for), as ExAllocatePool2
     * does for POOL_FLAG_SESSION.
     */
    if ((PoolType & ~EXP_KNOWN_TYPE_BITS) != 0)
        return ExpAllocationFailed(PoolType, Caller);

    /* Quota-charged blocks stay in normal pool: special pool keeps no
     * quota owner. */
    if (!ChargeQuota &&
        (SpecialPool || (MiSpecialPoolSelecting && MiUseSpecialPool(Tag, NumberOfBytes, PoolType)))) {
        p = MiAllocateSpecialPool(NumberOfBytes, Tag, PoolType, Priority);
        if (p != NULL)
            return p;
        /* No special pool left: NT quietly uses the normal pool. */
    }
    /* A small block is charged what it holds, as ExQueryPoolBlockSize says.
     * A cache-aligned one counts its padding too before it is called small:
     * the padding must fit in the same page. */
    small = ExpIsSmallRequest(NumberOfBytes, (PoolType & POOL_TYPE_CACHE_ALIGNED) != 0);
    charge = !small ? NumberOfBytes
                    : ((SIZE_T)ExpBytesToUnits(NumberOfBytes) << POOL_BLOCK_SHIFT) -
                          sizeof(POOL_HEADER);
    if (ChargeQuota) {
        quota = &PspDefaultQuotaBlock;
        if (!ExpChargeQuota(quota, paged, charge)) {
            if (PoolType & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE)
                return NULL;
            return ExpAllocationFailed(PoolType | POOL_RAISE_IF_ALLOCATION_FAILURE, Caller);
        }
    }
    if (small)
        p = ExpAllocateSmall(index, headerType, NumberOfBytes, Tag, quota, irql);
    else
        p = ExpAllocateBig(index, headerType, NumberOfBytes, Tag, quota);
    if (p == NULL) {
        if (quota != NULL)
            ExpReturnQuota(quota, paged, charge);
        return ExpAllocationFailed(PoolType, Caller);
    }
    return p;
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePool(PoolType, NumberOfBytes, Tag, NormalPoolPriority, FALSE, FALSE,
                           __builtin_return_address(0));
}

/* 'None': the tag NT gives untagged pool (ExAllocatePool). */
#define EXP_UNTAGGED_POOL_TAG 'enoN'

PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes)
{
    return ExpAllocatePool(PoolType, NumberOfBytes, EXP_UNTAGGED_POOL_TAG, NormalPoolPriority,
                           FALSE, FALSE, __builtin_return_address(0));
}

PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                    EX_POOL_PRIORITY Priority)
{
    /* The +8 / +9 variants ask for special pool placement when it is on. */
    return ExpAllocatePool(PoolType, NumberOfBytes, Tag, Priority, FALSE, FALSE,
                           __builtin_return_address(0));
}

/* Quota is charged to the system's one quota block (there are no processes
 * yet); failing the charge raises unless POOL_QUOTA_FAIL_INSTEAD_OF_RAISE. */
PVOID ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    ULONG type = (ULONG)PoolType;

    if (!(type & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE))
        type |= POOL_RAISE_IF_ALLOCATION_FAILURE;
    return ExpAllocatePool(type, NumberOfBytes, Tag, NormalPoolPriority, TRUE, FALSE,
                           __builtin_return_address(0));
}

#define EXP_POOL2_KNOWN                                                                     \
    (POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION |                    \
     POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_RAISE_ON_FAILURE | POOL_FLAG_NON_PAGED |           \
     POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED)

static PVOID ExpAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag, ULONG Priority,
                              PVOID Caller)
{
    POOL_FLAGS kind = Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
    ULONG type;
    PVOID p;

    /* Unknown required flags, no tag, session pool (none here), or not
     * exactly one pool kind: NULL (or the raise that was asked for). */
    if ((Flags & POOL_FLAG_REQUIRED_MASK & ~EXP_POOL2_KNOWN) || Tag == 0 ||
        (Flags & POOL_FLAG_SESSION) || (kind & (kind - 1)) != 0 || kind == 0) {
        if (Flags & POOL_FLAG_RAISE_ON_FAILURE)
            ExpAllocationFailed(POOL_RAISE_IF_ALLOCATION_FAILURE, Caller);
        return NULL;
    }
    type = kind == POOL_FLAG_PAGED ? PagedPool
           : kind == POOL_FLAG_NON_PAGED ? NonPagedPoolNx : NonPagedPoolExecute;
    if (Flags & POOL_FLAG_CACHE_ALIGNED)
        type |= POOL_TYPE_CACHE_ALIGNED;
    if (Flags & POOL_FLAG_RAISE_ON_FAILURE)
        type |= POOL_RAISE_IF_ALLOCATION_FAILURE;
    else if (Flags & POOL_FLAG_USE_QUOTA)
        type |= POOL_QUOTA_FAIL_INSTEAD_OF_RAISE;   /* ExAllocatePool2 never raises unasked */
    p = ExpAllocatePool(type, NumberOfBytes, Tag, Priority, (Flags & POOL_FLAG_USE_QUOTA) != 0,
                        (Flags & POOL_FLAG_SPECIAL_POOL) != 0, Caller);
    if (p != NULL && !(Flags & POOL_FLAG_UNINITIALIZED))
        RtlZeroMemory(p, NumberOfBytes);
    return p;
}

PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePool2(Flags, NumberOfBytes, Tag, NormalPoolPriority,
                            __builtin_return_address(0));
}

PVOID ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                      PCPOOL_EXTENDED_PARAMETER ExtendedParameters, ULONG ExtendedParametersCount)
{
    ULONG priority = NormalPoolPriority;

    for (ULONG i = 0; i < ExtendedParametersCount; i++) {
        const POOL_EXTENDED_PARAMETER *e = &ExtendedParameters[i];
        if (e->Type == PoolExtendedParameterPriority)
            priority = e->Priority;
        else if (e->Type == PoolExtendedParameterNumaNode)
            continue;                   /* one node */
        else if (!e->Optional)
            return NULL;                /* secure pool and unknown kinds */
    }
    return ExpAllocatePool2(Flags, NumberOfBytes, Tag, priority, __builtin_return_address(0));
}

/* ---- freeing ------------------------------------------------------------------------------- */

static void ExpFreeBig(LONG Region, PVOID P, ULONG Tag)
{
    POOL_TRACKER_BIG_PAGES entry;
    KIRQL irql;

    KeAcquireSpinLock(&ExpBigPoolLock, &irql);
    if (!ExpFindBigPage(&ExpBigTable, P, &entry, FALSE) ||
        !ExpIndexFitsRegion(entry.PoolIndex, Region)) {
        KeReleaseSpinLock(&ExpBigPoolLock, irql);
        KeBugCheckEx(BAD_POOL_CALLER,
                     Region == EXP_PAGED ? BAD_POOL_CALLER_FREE_UNALLOCATED_PAGED
                                         : BAD_POOL_CALLER_FREE_UNALLOCATED_NONPAGED,
                     (ULONG_PTR)P, 0, 0);
    }
    ExpCheckFreeTag(P, entry.Key, Tag);
    ExpFindBigPage(&ExpBigTable, P, NULL, TRUE);
    ExpPoolDescriptors[entry.PoolIndex].TotalBigPages -= entry.Pages;
    ExpPoolDescriptors[entry.PoolIndex].RunningDeAllocs++;
    ExpRemovePoolTracker(KeGetCurrentProcessorNumber(), entry.Key, entry.Pages << PAGE_SHIFT,
                         entry.PoolIndex == EXP_PAGED);
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    if (entry.ProcessBilled != NULL)
        ExpReturnQuota(entry.ProcessBilled, entry.PoolIndex == EXP_PAGED, entry.NumberOfBytes);
    MiFreePoolPages(entry.PoolIndex, P, entry.Pages);
}

static void ExpFreeSmall(LONG Region, PVOID P, ULONG Tag, KIRQL Irql)
{
    PPOOL_HEADER entry = (PPOOL_HEADER)P - 1;
    ULONG units, index;
    BOOLEAN paged = Region == EXP_PAGED;
    PEPROCESS_QUOTA_BLOCK quota;
    KIRQL irql = Irql;

    if (((ULONG64)P & (POOL_BLOCK_SIZE - 1)) != 0)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_BAD_HEADER, (ULONG_PTR)P, 0, 0);
    if (!MiIsPoolPageAllocated((ULONG)Region, P))
        KeBugCheckEx(BAD_POOL_CALLER,
                     paged ? BAD_POOL_CALLER_FREE_UNALLOCATED_PAGED
                           : BAD_POOL_CALLER_FREE_UNALLOCATED_NONPAGED,
                     (ULONG_PTR)P, 0, 0);
    if (entry->PoolType == 0 || (entry->PoolIndex & EXP_POOL_INDEX_CACHED))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_DOUBLE_FREE, 0, *(PULONG)entry,
                     (ULONG_PTR)P);
    ExpCheckBlockHeader(entry);
    index = entry->PoolIndex;
    if (!ExpIndexFitsRegion(index, Region) ||
        ((entry->PoolType - 1U) & BASE_POOL_TYPE_MASK) != (paged ? 1U : 0U))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_BAD_HEADER, (ULONG_PTR)P, *(PULONG)entry,
                     0);
    ExpCheckFreeTag(P, entry->PoolTag, Tag);

    units = entry->BlockSize;
    quota = entry->ProcessBilled;
    if (quota != NULL)
        ExpReturnQuota(quota, paged, ((SIZE_T)units << POOL_BLOCK_SHIFT) - sizeof(POOL_HEADER));
    if (Irql < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
    if (units <= POOL_SMALL_LISTS) {
        ULONG cpu = KeGetCurrentProcessorNumber();
        EXP_POOL_LOOKASIDE *list = &ExpPoolLookaside[cpu][index][units - 1];
        PEXP_POOL_TRACKER tracker = ExpListTracker(list, cpu, entry->PoolTag);
        tracker->Frees[paged]++;
        tracker->Bytes[paged] -= (SIZE_T)units << POOL_BLOCK_SHIFT;
        if (list->Depth < EXP_LOOKASIDE_DEPTH) {
            entry->PoolIndex |= EXP_POOL_INDEX_CACHED;
            *(PVOID *)P = list->Head;
            list->Head = P;
            list->Depth++;
            if (Irql < DISPATCH_LEVEL)
                KeLowerIrql(irql);
            return;
        }
    } else {
        ExpRemovePoolTracker(KeGetCurrentProcessorNumber(), entry->PoolTag,
                             (SIZE_T)units << POOL_BLOCK_SHIFT, paged);
    }
    if (Irql < DISPATCH_LEVEL)
        KeLowerIrql(irql);
    irql = ExpLockPool(index);
    /* As NT: the whole page is checked before a block goes back into it. */
    ExpCheckPoolBlocks(entry);
    ExpFreeBlock(&ExpPoolDescriptors[index], entry);
    ExpUnlockPool(index, irql);
}

static void ExpFreePool(PVOID P, ULONG Tag)
{
    LONG region;
    KIRQL irql = KeGetCurrentIrql();

    if (MiIsSpecialPoolAddress(P)) {
        MiFreeSpecialPool(P, Tag);
        return;
    }
    region = MiPoolIndexOfAddress(P);
    if (region < 0)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_NEVER_POOL, (ULONG_PTR)P, 0, 0);
    if (irql > (region == EXP_PAGED ? APC_LEVEL : DISPATCH_LEVEL))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_FREE_IRQL, irql,
                     region == EXP_PAGED ? PagedPool : NonPagedPool, (ULONG_PTR)P);
    if (ExpPageOffset(P) == 0)
        ExpFreeBig(region, P, Tag);
    else
        ExpFreeSmall(region, P, Tag, irql);
}

VOID ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    ExpFreePool(P, Tag);
}

/* NT's ExFreePool is ExFreePoolWithTag(P, 0): no tag to check. */
VOID ExFreePool(PVOID P)
{
    ExpFreePool(P, 0);
}

/* ---- queries ------------------------------------------------------------------------------- */

SIZE_T ExQueryPoolBlockSize(PVOID PoolBlock, PBOOLEAN QuotaCharged)
{
    POOL_TRACKER_BIG_PAGES entry;
    PPOOL_HEADER header = (PPOOL_HEADER)PoolBlock - 1;
    BOOLEAN found;
    KIRQL irql;

    *QuotaCharged = FALSE;
    if (MiIsSpecialPoolAddress(PoolBlock))
        return MiSpecialPoolBlockSize(PoolBlock);
    if (MiPoolIndexOfAddress(PoolBlock) < 0)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_NEVER_POOL, (ULONG_PTR)PoolBlock, 0, 0);
    if (ExpPageOffset(PoolBlock) != 0) {
        *QuotaCharged = header->ProcessBilled != NULL;
        return ((SIZE_T)header->BlockSize << POOL_BLOCK_SHIFT) - sizeof(POOL_HEADER);
    }
    KeAcquireSpinLock(&ExpBigPoolLock, &irql);
    found = ExpFindBigPage(&ExpBigTable, PoolBlock, &entry, FALSE);
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    if (!found)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_FREE_UNALLOCATED_NONPAGED,
                     (ULONG_PTR)PoolBlock, 0, 0);
    *QuotaCharged = entry.ProcessBilled != NULL;
    return entry.Pages << PAGE_SHIFT;
}

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
 *   3. this processor's lookaside for its block size: a pop at
 *      DISPATCH_LEVEL, no lock and no interlocked instruction. Blocks of
 *      up to 32 units (512 bytes with the header) have NT's PRCB
 *      lookasides, 32 deep; larger blocks (Mica) have lists that start
 *      empty and deepen one block per EXP_LOOKASIDE_GROW_MISSES misses, up
 *      to EXP_LOOKASIDE_LIST_BYTES of blocks each, so only sizes that come
 *      back hold memory. When its list is empty, a block one unit larger
 *      from the next list will do (not for quota, charged beforehand);
 *   4. the pool's size lists (poolblock.c) under the pool's lock: a spin
 *      lock for nonpaged pool, a fast mutex for paged pool (whose pages
 *      fault in on first touch, so it cannot be held at DISPATCH_LEVEL).
 * Freeing checks the block first (double free, its header and both
 * neighbours' (an overrun lands on the next header first), the tag), then
 * pushes it to the lookaside or, walking and checking the whole page
 * first, merges it back into its page.
 *
 * What the pool keeps for reuse - lookaside blocks, a few empty pages per
 * pool (poolblock.c), a few freed runs of up to EXP_BIG_CACHE_MAX_PAGES
 * pages (bigpool.c) - stays allocated, mapped and (paged pool) committed;
 * it is given back when an allocation finds no memory: ExpTrimPoolCaches
 * runs and the allocation is tried once more. Special pool keeps nothing.
 *
 * A lookaside block keeps its header with EXP_POOL_INDEX_CACHED set in
 * PoolIndex, so a second free of it is caught as a double free. Lookaside
 * blocks are touched at DISPATCH_LEVEL. For paged pool that is safe only
 * while its pages stay resident once touched: with a page file
 * (mm/pager.c) a paged block may be out on disk and a fault at
 * DISPATCH_LEVEL is a bug check, so paged pool then leaves its lookasides
 * alone (EXP_PAGED_LOOKASIDES_OFF: every paged block goes through the size
 * lists, under the fast mutex, at APC_LEVEL).
 *
 * The reports (leaks, !pool, PoolMon's table) are in poolreport.c.
 *
 * NT "raises" STATUS_INSUFFICIENT_RESOURCES where the caller asked for it;
 * so does Mica (ExRaiseStatus): a caller's __try gets it (kernel/ke/ke.h),
 * and with none it ends as NT ends an exception nobody handles:
 * KMODE_EXCEPTION_NOT_HANDLED.
 */
#include "pool_internal.h"

POOL_DESCRIPTOR ExpPoolDescriptors[EXP_POOL_DESCRIPTORS];
static KSPIN_LOCK ExpNonPagedPoolLock[2];
static FAST_MUTEX ExpPagedPoolMutex;

static EXP_BIG_TABLE ExpBigTable;
static KSPIN_LOCK ExpBigPoolLock;
static PFN_NUMBER ExpBigTablePages;

EPROCESS_QUOTA_BLOCK PspDefaultQuotaBlock = {{0, 0}, {~(SIZE_T)0, ~(SIZE_T)0}, {0, 0}};

/* Per-processor lookasides of small blocks, by descriptor and block size
 * (units - 1). Blocks on a list keep their header, PoolIndex marked
 * EXP_POOL_INDEX_CACHED. */
typedef struct _EXP_POOL_LOOKASIDE {
    PVOID Head;                     /* body of the first block; links in bodies */
    UCHAR Depth;                    /* blocks on the list */
    UCHAR MaximumDepth;             /* blocks it may hold now */
    USHORT Misses;                  /* since it last grew */
    ULONG TrackTag;                 /* the tag Tracker counts: a list mostly */
    PEXP_POOL_TRACKER Tracker;      /* sees one tag, so its counters are kept */
} EXP_POOL_LOOKASIDE;

/* How deep the list for blocks of Units units may grow. */
static inline ULONG ExpLookasideLimit(ULONG Units)
{
    ULONG blocks = EXP_LOOKASIDE_LIST_BYTES / (Units << POOL_BLOCK_SHIFT);

    if (Units <= POOL_SMALL_LISTS)
        return EXP_LOOKASIDE_DEPTH;
    return blocks != 0 ? blocks : 1;
}

/* Tag's PoolMon counters on this processor, remembered (*CachedTag,
 * *Cached) from the last use: a lookaside or a pool mostly sees one tag. */
static __attribute__((noinline)) PEXP_POOL_TRACKER
ExpFindTracker(PULONG CachedTag, PEXP_POOL_TRACKER *Cached, ULONG Cpu, ULONG Tag)
{
    *Cached = ExpGetPoolTracker(Cpu, Tag);
    *CachedTag = Tag;
    return *Cached;
}

static inline PEXP_POOL_TRACKER ExpCachedTracker(PULONG CachedTag, PEXP_POOL_TRACKER *Cached,
                                                 ULONG Cpu, ULONG Tag)
{
    if (__builtin_expect(*Cached != NULL && *CachedTag == Tag, 1))
        return *Cached;
    return ExpFindTracker(CachedTag, Cached, Cpu, Tag);
}

static inline PEXP_POOL_TRACKER ExpListTracker(EXP_POOL_LOOKASIDE *List, ULONG Cpu, ULONG Tag)
{
    return ExpCachedTracker(&List->TrackTag, &List->Tracker, Cpu, Tag);
}

/* Does a header's or big-page entry's pool index fit the region it is in? */
static inline BOOLEAN ExpIndexFitsRegion(ULONG Index, LONG Region)
{
    return Index < EXP_POOL_DESCRIPTORS &&
           (Index == EXP_PAGED) == (Region == EXP_PAGED);
}
static EXP_POOL_LOOKASIDE ExpPoolLookaside[MM_MAXIMUM_PROCESSORS][EXP_POOL_DESCRIPTORS]
                                          [POOL_PAGE_UNITS - 1];
/* Freed whole-page runs kept per pool (bigpool.c), under ExpBigPoolLock. */
static EXP_BIG_CACHE ExpBigCache[EXP_POOL_DESCRIPTORS];
/* The whole-page path's last tag and its counters, per processor and pool. */
static struct {
    ULONG Tag;
    PEXP_POOL_TRACKER Tracker;
} ExpBigTracker[MM_MAXIMUM_PROCESSORS][EXP_POOL_DESCRIPTORS];

/* Count a whole-page allocation (Pages > 0) or free (Pages < 0); big-page lock held. */
static inline void ExpTrackBig(ULONG Index, ULONG Tag, LONG64 Pages)
{
    ULONG cpu = KeGetCurrentProcessorNumber();
    PEXP_POOL_TRACKER tracker = ExpCachedTracker(&ExpBigTracker[cpu][Index].Tag,
                                                 &ExpBigTracker[cpu][Index].Tracker, cpu, Tag);

    if (Pages > 0)
        tracker->Allocs[Index == EXP_PAGED]++;
    else
        tracker->Frees[Index == EXP_PAGED]++;
    tracker->Bytes[Index == EXP_PAGED] += (SIZE_T)(Pages << PAGE_SHIFT);
}

/* Session types (POOL_TYPE_SESSION) are not known here: see ExpAllocatePoolGeneral. */
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
    for (ULONG cpu = 0; cpu < MM_MAXIMUM_PROCESSORS; cpu++)
        for (ULONG i = 0; i < EXP_POOL_DESCRIPTORS; i++)
            for (ULONG units = 1; units <= POOL_SMALL_LISTS; units++)
                ExpPoolLookaside[cpu][i][units - 1].MaximumDepth = EXP_LOOKASIDE_DEPTH;
    for (ULONG i = 0; i < EXP_POOL_DESCRIPTORS; i++)
        ExpInitializeBigCache(&ExpBigCache[i]);
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

/*
 * The quota block is shared by every processor: raising the IRQL keeps
 * only this one away. As NT's PspChargeQuota, the charge is a
 * compare-exchange loop on the usage (checked against the limit on the
 * value it replaces, so two charges can never both pass the last bytes),
 * the peak an interlocked maximum, the return an interlocked subtraction.
 */
static BOOLEAN ExpChargeQuota(PEPROCESS_QUOTA_BLOCK Quota, BOOLEAN Paged, SIZE_T Bytes)
{
    SIZE_T usage = __atomic_load_n(&Quota->Usage[Paged], __ATOMIC_RELAXED), peak;

    do {
        if (usage + Bytes < usage ||
            usage + Bytes > __atomic_load_n(&Quota->Limit[Paged], __ATOMIC_RELAXED))
            return FALSE;
    } while (!__atomic_compare_exchange_n(&Quota->Usage[Paged], &usage, usage + Bytes, TRUE,
                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    usage += Bytes;
    peak = __atomic_load_n(&Quota->Peak[Paged], __ATOMIC_RELAXED);
    while (usage > peak && !__atomic_compare_exchange_n(&Quota->Peak[Paged], &peak, usage, TRUE,
                                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
    return TRUE;
}

static void ExpReturnQuota(PEPROCESS_QUOTA_BLOCK Quota, BOOLEAN Paged, SIZE_T Bytes)
{
    __atomic_sub_fetch(&Quota->Usage[Paged], Bytes, __ATOMIC_RELAXED);
}

/* ---- allocation ---------------------------------------------------------------------------- */

static PVOID ExpAllocationFailed(ULONG PoolType, PVOID Caller)
{
    UNREFERENCED_PARAMETER(Caller);
    if (PoolType & POOL_RAISE_IF_ALLOCATION_FAILURE)
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
    return NULL;
}

static __attribute__((noinline)) PVOID ExpAllocateBig(ULONG Index, ULONG HeaderType,
                                                      SIZE_T NumberOfBytes, ULONG Tag,
                                                      PEPROCESS_QUOTA_BLOCK Quota)
{
    PPOOL_TRACKER_BIG_PAGES slot;
    PFN_NUMBER pages;
    PVOID va;
    KIRQL irql;

    if (NumberOfBytes > (MM_NONPAGED_POOL_PAGES << PAGE_SHIFT))
        return NULL;
    pages = BYTES_TO_PAGES(NumberOfBytes);
    KeAcquireSpinLock(&ExpBigPoolLock, &irql);
    /* A kept run of the same length: its table entry is reused in place. */
    va = ExpBigCacheTake(&ExpBigCache[Index], pages);
    if (va != NULL) {
        slot = ExpLookupBigPage(&ExpBigTable, va);
    } else {
        POOL_TRACKER_BIG_PAGES entry = {0};
        KeReleaseSpinLock(&ExpBigPoolLock, irql);
        va = MiAllocatePoolPages(Index, pages);
        if (va == NULL)
            return NULL;
        KeAcquireSpinLock(&ExpBigPoolLock, &irql);
        if (!ExpGrowBigTableIfNeeded()) {
            KeReleaseSpinLock(&ExpBigPoolLock, irql);
            MiFreePoolPages(Index, va, pages);
            return NULL;
        }
        entry.Va = va;
        ExpInsertBigPage(&ExpBigTable, &entry);
        slot = ExpLookupBigPage(&ExpBigTable, va);
    }
    slot->Key = Tag;
    slot->PoolType = HeaderType + 1;
    slot->NumberOfBytes = NumberOfBytes;
    slot->Pages = pages;
    slot->ProcessBilled = Quota;
    slot->PoolIndex = Index;
    /* TotalBigPages is the big-page lock's; the running counts are shared
     * with the small-block path (its own lock): interlocked, both sides. */
    ExpPoolDescriptors[Index].TotalBigPages += pages;
    __atomic_add_fetch(&ExpPoolDescriptors[Index].RunningAllocs, 1, __ATOMIC_RELAXED);
    ExpTrackBig(Index, Tag, (LONG64)pages);
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    return va;
}

/* A lookaside of larger blocks missed: if it keeps missing, let it hold one more. */
static __attribute__((noinline)) void ExpLookasideMissed(EXP_POOL_LOOKASIDE *List, ULONG Units)
{
    if (List->MaximumDepth < ExpLookasideLimit(Units) &&
        ++List->Misses >= EXP_LOOKASIDE_GROW_MISSES) {
        List->MaximumDepth++;
        List->Misses = 0;
    }
}

/*
 * A block of Units units from this processor's lookaside, or NULL. With
 * MayCall FALSE (the fast path in ExAllocatePoolWithTag and friends) it
 * makes no call of its own, so the compiler can keep that path free of
 * saved registers: an empty list, or one whose PoolMon entry is not the
 * tag's, is left to the general path. With MayCall TRUE (the general
 * path) it finds the tag's entry, counts a miss of a larger blocks' list,
 * and on a miss takes a block one unit larger from the next list: the
 * caller gets 16 bytes more than it asked for (ExQueryPoolBlockSize says
 * so) instead of a trip to the pool's lock. Not for a quota-charged block,
 * whose charge is made before the block is chosen.
 */
/* Paged pool's lookasides are off once pages can be paged out (above). */
#define EXP_PAGED_LOOKASIDES_OFF(Index) ((Index) == EXP_PAGED && MiPagingEnabled)

static inline __attribute__((always_inline)) PVOID
ExpPopLookaside(ULONG Index, ULONG HeaderType, ULONG Units, ULONG Tag,
                PEPROCESS_QUOTA_BLOCK Quota, KIRQL Irql, BOOLEAN MayCall)
{
    EXP_POOL_LOOKASIDE *list;
    PPOOL_HEADER entry = NULL;
    KIRQL irql = Irql;
    ULONG cpu;

    if (Irql < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
    cpu = KeGetCurrentProcessorNumber();
    list = &ExpPoolLookaside[cpu][Index][Units - 1];
    if (MayCall && list->Head == NULL) {
        if (Units > POOL_SMALL_LISTS)
            ExpLookasideMissed(list, Units);
        if (Quota == NULL && Units + 1 < POOL_PAGE_UNITS)
            list++;                     /* the list of blocks one unit larger */
    }
    if (__builtin_expect(list->Head != NULL && !EXP_PAGED_LOOKASIDES_OFF(Index) &&
                             (MayCall || (list->Tracker != NULL && list->TrackTag == Tag)), 1)) {
        PEXP_POOL_TRACKER tracker = ExpListTracker(list, cpu, Tag);
        entry = (PPOOL_HEADER)list->Head - 1;
        list->Head = *(PVOID *)list->Head;
        list->Depth--;
        entry->PoolIndex = (UCHAR)Index;
        entry->PoolType = (UCHAR)(HeaderType + 1);
        entry->PoolTag = Tag;
        entry->ProcessBilled = Quota;
        tracker->Allocs[Index == EXP_PAGED]++;
        tracker->Bytes[Index == EXP_PAGED] += (SIZE_T)entry->BlockSize << POOL_BLOCK_SHIFT;
    }
    if (Irql < DISPATCH_LEVEL)
        KeLowerIrql(irql);
    return entry != NULL ? ExpBlockBody(entry) : NULL;
}

/*
 * A carved block that goes straight onto this processor's lookaside for
 * its size, as a freed one would (but never counted by PoolMon: it was
 * never handed out). FALSE if the list is full.
 */
static BOOLEAN ExpStockLookaside(PPOOL_HEADER Entry, ULONG Index)
{
    EXP_POOL_LOOKASIDE *list;
    BOOLEAN stocked = FALSE;
    KIRQL irql = ExpRaiseToDpc();

    list = &ExpPoolLookaside[KeGetCurrentProcessorNumber()][Index][Entry->BlockSize - 1];
    if (list->Depth < list->MaximumDepth && !EXP_PAGED_LOOKASIDES_OFF(Index)) {
        Entry->PoolIndex |= EXP_POOL_INDEX_CACHED;
        *(PVOID *)ExpBlockBody(Entry) = list->Head;
        list->Head = ExpBlockBody(Entry);
        list->Depth++;
        stocked = TRUE;
    }
    ExpLowerFromDpc(irql);
    return stocked;
}

/*
 * A block carved from the pool's pages, under its lock. A small request a
 * lookaside can serve (no quota, no alignment, up to POOL_SMALL_LISTS
 * units: the lists that always have room) carves EXP_REFILL_BLOCKS
 * of its size in that one lock hold and stocks this processor's lookaside
 * with the rest: the next requests take no lock, and - what matters with
 * several processors - each processor's blocks lie side by side, not
 * interleaved with another's in the same cache lines, where every write
 * of one processor would take the line from the other (false sharing).
 */
static __attribute__((noinline)) PVOID ExpAllocateSmall(ULONG Index, ULONG HeaderType,
                                                        SIZE_T NumberOfBytes, ULONG Tag,
                                                        PEPROCESS_QUOTA_BLOCK Quota)
{
    PPOOL_DESCRIPTOR descriptor = &ExpPoolDescriptors[Index];
    BOOLEAN aligned = (HeaderType & POOL_TYPE_CACHE_ALIGNED) != 0;
    ULONG units = ExpBytesToUnits(NumberOfBytes), spares = 0;
    PPOOL_HEADER entry, spare[EXP_REFILL_BLOCKS - 1];
    KIRQL irql;

    irql = ExpLockPool(Index);
    entry = ExpAllocateBlock(descriptor, units, aligned);
    if (entry != NULL) {
        entry->PoolType = (UCHAR)(HeaderType + 1);
        entry->PoolTag = Tag;
        entry->ProcessBilled = Quota;
        while (Quota == NULL && !aligned && units <= POOL_SMALL_LISTS &&
               spares < EXP_REFILL_BLOCKS - 1 &&
               (spare[spares] = ExpAllocateBlock(descriptor, units, FALSE)) != NULL) {
            spare[spares]->PoolType = (UCHAR)(HeaderType + 1);
            spare[spares]->PoolTag = Tag;
            spare[spares]->ProcessBilled = NULL;
            spares++;
        }
    }
    ExpUnlockPool(Index, irql);
    if (entry == NULL)
        return NULL;
    /* The last carved first, so the list hands them out in the order carved. */
    while (spares > 0) {
        PPOOL_HEADER block = spare[--spares];
        if (!ExpStockLookaside(block, Index)) {
            irql = ExpLockPool(Index);
            ExpFreeBlock(descriptor, block);
            ExpUnlockPool(Index, irql);
        }
    }
    irql = ExpRaiseToDpc();
    ExpInsertPoolTracker(KeGetCurrentProcessorNumber(), Tag,
                         (SIZE_T)entry->BlockSize << POOL_BLOCK_SHIFT, Index == EXP_PAGED);
    ExpLowerFromDpc(irql);
    return ExpBlockBody(entry);
}

/* ---- giving kept memory back ---------------------------------------------------------------- */

/*
 * Give back what the pools keep for reuse - this processor's lookaside
 * blocks (other processors' lists are theirs to touch), the kept empty
 * pages and the kept whole-page runs: when an allocation found no memory,
 * before it tries again. Paged pool's lock is a fast mutex, so above
 * APC_LEVEL paged pool's lookaside blocks and empty pages stay; the kept
 * runs of every pool are under the big-page spin lock and always go. TRUE
 * if anything was given back.
 */
BOOLEAN ExpTrimPoolCaches(VOID)
{
    KIRQL callerIrql = KeGetCurrentIrql(), irql;
    BOOLEAN trimmed = FALSE;
    EXP_BIG_RUN run;

    for (ULONG index = 0; index < EXP_POOL_DESCRIPTORS; index++) {
        if (index == EXP_PAGED && callerIrql > APC_LEVEL)
            continue;
        for (ULONG units = 2; units < POOL_PAGE_UNITS; units++) {
            EXP_POOL_LOOKASIDE *list;
            PVOID chain;
            /* Take the list whole at DISPATCH_LEVEL; larger blocks' lists
             * start over from empty... */
            irql = ExpRaiseToDpc();
            list = &ExpPoolLookaside[KeGetCurrentProcessorNumber()][index][units - 1];
            chain = list->Head;
            list->Head = NULL;
            list->Depth = 0;
            if (units > POOL_SMALL_LISTS) {
                list->MaximumDepth = 0;
                list->Misses = 0;
            }
            ExpLowerFromDpc(irql);
            if (chain == NULL)
                continue;
            /* ...then merge its blocks back into their pages. */
            irql = ExpLockPool(index);
            while (chain != NULL) {
                PPOOL_HEADER entry = (PPOOL_HEADER)chain - 1;
                chain = *(PVOID *)chain;
                entry->PoolIndex &= (UCHAR)~EXP_POOL_INDEX_CACHED;
                ExpFreeBlock(&ExpPoolDescriptors[index], entry);
            }
            ExpUnlockPool(index, irql);
            trimmed = TRUE;
        }
        irql = ExpLockPool(index);
        if (ExpReleaseEmptyPages(&ExpPoolDescriptors[index], 0) != 0)
            trimmed = TRUE;
        ExpUnlockPool(index, irql);
    }
    for (;;) {
        KeAcquireSpinLock(&ExpBigPoolLock, &irql);
        run.Va = NULL;
        for (ULONG index = 0; index < EXP_POOL_DESCRIPTORS && run.Va == NULL; index++)
            if (ExpBigCacheTakeOldest(&ExpBigCache[index], &run)) {
                POOL_TRACKER_BIG_PAGES entry;
                ExpFindBigPage(&ExpBigTable, run.Va, &entry, TRUE);
                run.Pages = entry.Pages;
                MiFreePoolPages(entry.PoolIndex, run.Va, run.Pages);
            }
        KeReleaseSpinLock(&ExpBigPoolLock, irql);
        if (run.Va == NULL)
            break;
        trimmed = TRUE;
    }
    return trimmed;
}

/*
 * An allocation found no memory: once more after the pools give back what
 * they keep; if that fails too, the quota charged is returned. Out of
 * line, so that the paths in ExpAllocatePool stay short.
 */
static __attribute__((noinline)) PVOID
ExpAllocateAfterTrim(ULONG PoolType, ULONG Index, ULONG HeaderType, SIZE_T NumberOfBytes,
                     ULONG Tag, PEPROCESS_QUOTA_BLOCK Quota, SIZE_T Charge, BOOLEAN Big,
                     PVOID Caller)
{
    PVOID p = NULL;

    if (ExpTrimPoolCaches())
        p = Big ? ExpAllocateBig(Index, HeaderType, NumberOfBytes, Tag, Quota)
                : ExpAllocateSmall(Index, HeaderType, NumberOfBytes, Tag, Quota);
    if (p == NULL) {
        if (Quota != NULL)
            ExpReturnQuota(Quota, Index == EXP_PAGED, Charge);
        return ExpAllocationFailed(PoolType, Caller);
    }
    return p;
}

/*
 * The one allocation path. Priority only matters to special pool (overrun /
 * underrun placement); SpecialPool forces special pool when it can be had.
 */
static __attribute__((noinline)) PVOID
ExpAllocatePoolGeneral(ULONG PoolType, SIZE_T NumberOfBytes, ULONG Tag, ULONG Priority,
                       BOOLEAN ChargeQuota, BOOLEAN SpecialPool, PVOID Caller)
{
    BOOLEAN paged = (PoolType & BASE_POOL_TYPE_MASK) != 0;
    ULONG index = paged ? EXP_PAGED
                        : (PoolType & POOL_NX_ALLOCATION) ? EXP_NONPAGED_NX : EXP_NONPAGED_EXECUTE;
    ULONG headerType = (PoolType & (BASE_POOL_TYPE_MASK | POOL_TYPE_CACHE_ALIGNED)) |
                       (ChargeQuota ? EXP_HEADER_QUOTA : 0);
    KIRQL irql = KeGetCurrentIrql();
    PEPROCESS_QUOTA_BLOCK quota = NULL;
    SIZE_T charge = 0;
    BOOLEAN big;
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
    /* A cache-aligned request counts its padding before it is called small:
     * the padding must fit in the same page. */
    big = !ExpIsSmallRequest(NumberOfBytes, (PoolType & POOL_TYPE_CACHE_ALIGNED) != 0);
    if (ChargeQuota) {
        /* A small block is charged what it holds, as ExQueryPoolBlockSize says. */
        charge = big ? NumberOfBytes
                     : ((SIZE_T)ExpBytesToUnits(NumberOfBytes) << POOL_BLOCK_SHIFT) -
                           sizeof(POOL_HEADER);
        quota = &PspDefaultQuotaBlock;
        if (!ExpChargeQuota(quota, paged, charge)) {
            if (PoolType & POOL_QUOTA_FAIL_INSTEAD_OF_RAISE)
                return NULL;
            return ExpAllocationFailed(PoolType | POOL_RAISE_IF_ALLOCATION_FAILURE, Caller);
        }
    }
    if (big) {
        p = ExpAllocateBig(index, headerType, NumberOfBytes, Tag, quota);
    } else {
        /* A cache-aligned block needs an aligned body: no lookaside has that. */
        if (!(headerType & POOL_TYPE_CACHE_ALIGNED)) {
            p = ExpPopLookaside(index, headerType, ExpBytesToUnits(NumberOfBytes), Tag, quota,
                                irql, TRUE);
            if (p != NULL)
                return p;
        }
        p = ExpAllocateSmall(index, headerType, NumberOfBytes, Tag, quota);
    }
    if (p != NULL)
        return p;
    return ExpAllocateAfterTrim(PoolType, index, headerType, NumberOfBytes, Tag, quota, charge,
                                big, Caller);
}

/* The fast path's whole pages (a call the compiler can make a jump). */
static __attribute__((noinline)) PVOID ExpAllocateBigFirst(ULONG Index, ULONG PoolType,
                                                           SIZE_T NumberOfBytes, ULONG Tag,
                                                           ULONG Priority, PVOID Caller)
{
    PVOID p = ExpAllocateBig(Index, PoolType & BASE_POOL_TYPE_MASK, NumberOfBytes, Tag, NULL);

    if (p != NULL)
        return p;
    return ExpAllocatePoolGeneral(PoolType, NumberOfBytes, Tag, Priority, FALSE, FALSE, Caller);
}

/* Pool-type bits a request may carry and still take the fast path. */
#define EXP_FAST_TYPE_BITS                                                                     \
    (BASE_POOL_TYPE_MASK | POOL_NX_ALLOCATION | POOL_COLD_ALLOCATION |                      \
     POOL_QUOTA_FAIL_INSTEAD_OF_RAISE | POOL_RAISE_IF_ALLOCATION_FAILURE)

/*
 * Every allocation: the fast path first - a request without quota,
 * alignment or special pool, at an IRQL its pool allows: a small block
 * popped from this processor's lookaside, or whole pages - and anything
 * else, a miss or a failure, by the general path above, which checks and
 * decides everything again.
 */
static inline __attribute__((always_inline)) PVOID
ExpAllocatePool(ULONG PoolType, SIZE_T NumberOfBytes, ULONG Tag, ULONG Priority,
                BOOLEAN ChargeQuota, BOOLEAN SpecialPool, PVOID Caller)
{
    BOOLEAN paged = (PoolType & BASE_POOL_TYPE_MASK) != 0;
    KIRQL irql = KeGetCurrentIrql();

    if ((PoolType & ~EXP_FAST_TYPE_BITS) == 0 && !ChargeQuota && !SpecialPool &&
        !MiSpecialPoolSelecting && irql <= (paged ? APC_LEVEL : DISPATCH_LEVEL)) {
        ULONG index = paged ? EXP_PAGED
                            : (PoolType & POOL_NX_ALLOCATION) ? EXP_NONPAGED_NX
                                                              : EXP_NONPAGED_EXECUTE;
        PVOID p;
        if (NumberOfBytes > POOL_SMALL_LIMIT)
            return ExpAllocateBigFirst(index, PoolType, NumberOfBytes, Tag, Priority, Caller);
        p = ExpPopLookaside(index, PoolType & BASE_POOL_TYPE_MASK, ExpBytesToUnits(NumberOfBytes),
                            Tag, NULL, irql, FALSE);
        if (p != NULL)
            return p;
    }
    return ExpAllocatePoolGeneral(PoolType, NumberOfBytes, Tag, Priority, ChargeQuota,
                                  SpecialPool, Caller);
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
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, EXP_UNTAGGED_POOL_TAG);
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

static __attribute__((noinline)) void ExpFreeBig(LONG Region, PVOID P, ULONG Tag)
{
    PPOOL_TRACKER_BIG_PAGES slot;
    EXP_BIG_RUN evicted[EXP_BIG_CACHE_RUNS];
    PEPROCESS_QUOTA_BLOCK quota;
    SIZE_T pages, bytes;
    ULONG count, index;
    KIRQL irql;

    KeAcquireSpinLock(&ExpBigPoolLock, &irql);
    slot = ExpLookupBigPage(&ExpBigTable, P);
    /* A kept run (PoolType 0) is as free as a run given back. */
    if (slot == NULL || slot->PoolType == 0 || !ExpIndexFitsRegion(slot->PoolIndex, Region)) {
        KeReleaseSpinLock(&ExpBigPoolLock, irql);
        KeBugCheckEx(BAD_POOL_CALLER,
                     Region == EXP_PAGED ? BAD_POOL_CALLER_FREE_UNALLOCATED_PAGED
                                         : BAD_POOL_CALLER_FREE_UNALLOCATED_NONPAGED,
                     (ULONG_PTR)P, 0, 0);
    }
    ExpCheckFreeTag(P, slot->Key, Tag);
    index = slot->PoolIndex;
    pages = slot->Pages;
    bytes = slot->NumberOfBytes;
    quota = slot->ProcessBilled;
    ExpPoolDescriptors[index].TotalBigPages -= pages;
    __atomic_add_fetch(&ExpPoolDescriptors[index].RunningDeAllocs, 1, __ATOMIC_RELAXED);
    ExpTrackBig(index, slot->Key, -(LONG64)pages);
    /* Kept for the next request of its length (its entry stays, marked
     * free), or given back with the runs that made room for it. */
    slot->PoolType = 0;
    slot->ProcessBilled = NULL;
    count = ExpBigCachePut(&ExpBigCache[index], P, pages, evicted);
    for (ULONG i = 0; i < count; i++)
        ExpFindBigPage(&ExpBigTable, evicted[i].Va, NULL, TRUE);
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    if (quota != NULL)
        ExpReturnQuota(quota, index == EXP_PAGED, bytes);
    for (ULONG i = 0; i < count; i++)
        MiFreePoolPages(index, evicted[i].Va, evicted[i].Pages);
}

/*
 * Put a checked block on this processor's lookaside for its pool (Index)
 * and size; FALSE if the list is full. MayCall as for ExpPopLookaside: the
 * fast path leaves a list whose PoolMon entry is another tag's to the
 * general path.
 */
static inline __attribute__((always_inline)) BOOLEAN
ExpPushLookaside(PPOOL_HEADER Entry, ULONG Index, KIRQL Irql, BOOLEAN MayCall)
{
    ULONG units = Entry->BlockSize, cpu;
    BOOLEAN paged = Index == EXP_PAGED, done = FALSE;
    EXP_POOL_LOOKASIDE *list;
    KIRQL irql = Irql;

    if (Irql < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
    cpu = KeGetCurrentProcessorNumber();
    list = &ExpPoolLookaside[cpu][Index][units - 1];
    if (__builtin_expect(list->Depth < list->MaximumDepth && !EXP_PAGED_LOOKASIDES_OFF(Index) &&
                             (MayCall || (list->Tracker != NULL &&
                                          list->TrackTag == Entry->PoolTag)), 1)) {
        PEXP_POOL_TRACKER tracker = ExpListTracker(list, cpu, Entry->PoolTag);
        Entry->PoolIndex |= EXP_POOL_INDEX_CACHED;
        *(PVOID *)ExpBlockBody(Entry) = list->Head;
        list->Head = ExpBlockBody(Entry);
        list->Depth++;
        tracker->Frees[paged]++;
        tracker->Bytes[paged] -= (SIZE_T)units << POOL_BLOCK_SHIFT;
        done = TRUE;
    } else if (MayCall) {
        /* Full: the block goes back into its page; PoolMon counts it here. */
        PEXP_POOL_TRACKER tracker = ExpListTracker(list, cpu, Entry->PoolTag);
        tracker->Frees[paged]++;
        tracker->Bytes[paged] -= (SIZE_T)units << POOL_BLOCK_SHIFT;
    }
    if (Irql < DISPATCH_LEVEL)
        KeLowerIrql(irql);
    return done;
}

/* The block goes back into its page, under the pool's lock. */
static __attribute__((noinline)) void ExpFreeBlockLocked(ULONG Index, PPOOL_HEADER Entry)
{
    KIRQL irql = ExpLockPool(Index);

    /* As NT: the whole page is checked before a block goes back into it. */
    ExpCheckPoolBlocks(Entry);
    ExpFreeBlock(&ExpPoolDescriptors[Index], Entry);
    ExpUnlockPool(Index, irql);
}

static __attribute__((noinline)) void ExpFreeSmall(LONG Region, PVOID P, ULONG Tag,
                                                    KIRQL Irql)
{
    PPOOL_HEADER entry = (PPOOL_HEADER)P - 1;
    ULONG units, index;
    BOOLEAN paged = Region == EXP_PAGED;
    PEPROCESS_QUOTA_BLOCK quota;

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
    /*
     * The block's own header first; its neighbours belong to the pool and
     * change under the pool's lock (a DPC or another processor may be
     * splitting or merging them right now), so they are compared with it
     * under that lock: read unlocked, a neighbour caught half-way through a
     * merge would look like an overrun.
     */
    if (!ExpBlockOwnHeaderIsSound(entry))
        ExpBugCheckBlockHeader(entry);
    index = entry->PoolIndex;
    if (!ExpIndexFitsRegion(index, Region) ||
        ((entry->PoolType - 1U) & BASE_POOL_TYPE_MASK) != (paged ? 1U : 0U))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_BAD_HEADER, (ULONG_PTR)P, *(PULONG)entry,
                     0);
    {
        KIRQL irql = ExpLockPool(index);
        if (!ExpBlockHeaderIsSound(entry))
            ExpBugCheckBlockHeader(entry);      /* still under the lock: the same view */
        ExpUnlockPool(index, irql);
    }
    ExpCheckFreeTag(P, entry->PoolTag, Tag);

    units = entry->BlockSize;
    quota = entry->ProcessBilled;
    if (quota != NULL)
        ExpReturnQuota(quota, paged, ((SIZE_T)units << POOL_BLOCK_SHIFT) - sizeof(POOL_HEADER));
    if (!ExpPushLookaside(entry, index, Irql, TRUE))
        ExpFreeBlockLocked(index, entry);
}

/* Every check of a free, one by one with NT's bug checks, then the
 * lookaside or the pool's lock; whole pages and special pool too. */
static __attribute__((noinline)) void ExpFreePoolSlowly(PVOID P, ULONG Tag)
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
    if (__builtin_expect(ExpPageOffset(P) == 0, 0))
        ExpFreeBig(region, P, Tag);
    else
        ExpFreeSmall(region, P, Tag, irql);
}

_Static_assert(MM_SPECIAL_POOL_START >= MM_NONPAGED_POOL_END &&
                   MM_SPECIAL_POOL_START >= MM_PAGED_POOL_START + (MM_PAGED_POOL_PAGES << PAGE_SHIFT),
               "special pool lies outside both pool regions");

/*
 * The fast path of a free, inline in ExFreePool(WithTag): a small block
 * that passes every check at once - in an allocated page of a pool, at
 * an IRQL that pool allows, its header sound and of that pool, its tag
 * exactly the one given (tag 0, "do not check", and a protected tag given
 * without its bit are judged by ExpCheckFreeTag on the slow path), no quota to return - and
 * whose lookaside has room. FALSE for anything else, misuse included:
 * ExpFreePoolSlowly then runs the checks one by one and bug checks with
 * NT's codes, so this path only has to be sure, never to explain.
 */
static inline __attribute__((always_inline)) BOOLEAN
ExpFreeToLookaside(PVOID P, ULONG Tag, KIRQL Irql)
{
    PPOOL_HEADER entry = (PPOOL_HEADER)P - 1;
    BOOLEAN paged;
    ULONG index;
    LONG region;

    /* Special pool is in neither pool region: MiPoolIndexOfAddress sends
     * it, like whole pages and stray pointers, to the slow path. */
    if (ExpPageOffset(P) == 0 || ((ULONG64)P & (POOL_BLOCK_SIZE - 1)) != 0)
        return FALSE;
    region = MiPoolIndexOfAddress(P);
    if (region < 0 || Irql > (region == EXP_PAGED ? APC_LEVEL : DISPATCH_LEVEL) ||
        !MiIsPoolPageAllocated((ULONG)region, P))
        return FALSE;
    /* A block on a lookaside has EXP_POOL_INDEX_CACHED in its index: it
     * fits no region, so a second free goes the slow way too. */
    paged = region == EXP_PAGED;
    index = entry->PoolIndex;
    if (entry->PoolType == 0 || !ExpIndexFitsRegion(index, region) ||
        ((entry->PoolType - 1U) & BASE_POOL_TYPE_MASK) != (paged ? 1U : 0U) ||
        entry->ProcessBilled != NULL ||
        entry->PoolTag != Tag ||
        !ExpBlockHeaderIsSound(entry))
        return FALSE;
    return ExpPushLookaside(entry, index, Irql, FALSE);
}

static inline __attribute__((always_inline)) void ExpFreePool(PVOID P, ULONG Tag)
{
    if (!ExpFreeToLookaside(P, Tag, KeGetCurrentIrql()))
        ExpFreePoolSlowly(P, Tag);
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
    found = ExpFindBigPage(&ExpBigTable, PoolBlock, &entry, FALSE) && entry.PoolType != 0;
    KeReleaseSpinLock(&ExpBigPoolLock, irql);
    if (!found)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_FREE_UNALLOCATED_NONPAGED,
                     (ULONG_PTR)PoolBlock, 0, 0);
    *QuotaCharged = entry.ProcessBilled != NULL;
    return entry.Pages << PAGE_SHIFT;
}

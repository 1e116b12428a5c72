/*
 * bigpool.c - the big-page table: where whole-page pool allocations are
 * remembered (address, tag, size, pool type), as NT's PoolBigPageTable.
 * A page-aligned block carries no header, so ExFreePool and
 * ExQueryPoolBlockSize look the address up here.
 *
 * Open addressing with linear probing on a hash of the page number; the
 * table doubles (pool.c supplies the storage) before it is three-quarters
 * full, so a probe sequence stays short. Deletion moves later entries of
 * the same cluster back instead of leaving tombstones.
 *
 * Below the table, the run cache (EXP_BIG_CACHE): runs of a few pages
 * kept after their free, so that a driver that allocates and frees
 * buffers of two pages over and over gets them without a run-tree search,
 * page mapping and TLB flush each time. NT too keeps freed nonpaged pool
 * pages mapped on its free lists. A kept run is still allocated from its
 * region and still in the table (PoolType 0), so the reports can tell it
 * from blocks and a second free of it is still refused. The caller holds
 * the big-page lock for both.
 */
#include "pool_internal.h"

static SIZE_T ExpBigHash(PEXP_BIG_TABLE Table, PVOID Va)
{
    ULONG64 page = (ULONG64)Va >> PAGE_SHIFT;

    /* Fibonacci hashing: neighbouring pages land far apart. */
    return (SIZE_T)((page * 0x9E3779B97F4A7C15ULL) >> 32) & (Table->Size - 1);
}

VOID ExpInitializeBigTable(PEXP_BIG_TABLE Table, PPOOL_TRACKER_BIG_PAGES Storage, SIZE_T Size)
{
    Table->Entries = Storage;
    Table->Size = Size;
    Table->Used = 0;
    for (SIZE_T i = 0; i < Size; i++)
        Storage[i].Va = NULL;
}

BOOLEAN ExpBigTableNeedsGrowth(PEXP_BIG_TABLE Table)
{
    return (Table->Used + 1) * 4 > Table->Size * 3;
}

VOID ExpInsertBigPage(PEXP_BIG_TABLE Table, const POOL_TRACKER_BIG_PAGES *Entry)
{
    SIZE_T i = ExpBigHash(Table, Entry->Va);

    while (Table->Entries[i].Va != NULL)
        i = (i + 1) & (Table->Size - 1);
    Table->Entries[i] = *Entry;
    Table->Used++;
}

PPOOL_TRACKER_BIG_PAGES ExpGrowBigTable(PEXP_BIG_TABLE Table, PPOOL_TRACKER_BIG_PAGES NewStorage,
                                        SIZE_T NewSize)
{
    PPOOL_TRACKER_BIG_PAGES old = Table->Entries;
    SIZE_T oldSize = Table->Size;

    ExpInitializeBigTable(Table, NewStorage, NewSize);
    for (SIZE_T i = 0; i < oldSize; i++)
        if (old[i].Va != NULL)
            ExpInsertBigPage(Table, &old[i]);
    return old;
}

PPOOL_TRACKER_BIG_PAGES ExpLookupBigPage(PEXP_BIG_TABLE Table, PVOID Va)
{
    SIZE_T mask = Table->Size - 1, i = ExpBigHash(Table, Va);

    while (Table->Entries[i].Va != Va) {
        if (Table->Entries[i].Va == NULL)
            return NULL;
        i = (i + 1) & mask;
    }
    return &Table->Entries[i];
}

BOOLEAN ExpFindBigPage(PEXP_BIG_TABLE Table, PVOID Va, PPOOL_TRACKER_BIG_PAGES Entry,
                       BOOLEAN Remove)
{
    PPOOL_TRACKER_BIG_PAGES slot = ExpLookupBigPage(Table, Va);
    SIZE_T mask = Table->Size - 1, hole, j;

    if (slot == NULL)
        return FALSE;
    if (Entry != NULL)
        *Entry = *slot;
    if (!Remove)
        return TRUE;
    /* Backward-shift deletion: an entry after the hole moves into it when
     * its home slot is not between the hole and itself (cyclically). */
    hole = (SIZE_T)(slot - Table->Entries);
    Table->Entries[hole].Va = NULL;
    for (j = (hole + 1) & mask; Table->Entries[j].Va != NULL; j = (j + 1) & mask) {
        SIZE_T home = ExpBigHash(Table, Table->Entries[j].Va);
        BOOLEAN stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            Table->Entries[hole] = Table->Entries[j];
            Table->Entries[j].Va = NULL;
            hole = j;
        }
    }
    Table->Used--;
    return TRUE;
}

/* ---- the run cache ---------------------------------------------------------------------- */

VOID ExpInitializeBigCache(PEXP_BIG_CACHE Cache)
{
    Cache->Count = 0;
    Cache->Pages = 0;
}

static void ExpBigCacheRemoveAt(PEXP_BIG_CACHE Cache, ULONG Index)
{
    Cache->Pages -= Cache->Runs[Index].Pages;
    Cache->Count--;
    for (ULONG i = Index; i < Cache->Count; i++)
        Cache->Runs[i] = Cache->Runs[i + 1];
}

ULONG ExpBigCachePut(PEXP_BIG_CACHE Cache, PVOID Va, SIZE_T Pages, PEXP_BIG_RUN Evicted)
{
    ULONG evicted = 0;

    if (Pages == 0 || Pages > EXP_BIG_CACHE_MAX_PAGES) {
        Evicted[0].Va = Va;
        Evicted[0].Pages = Pages;
        return 1;
    }
    /* The oldest runs make room: a size no longer asked for ages out. */
    while (Cache->Count == EXP_BIG_CACHE_RUNS || Cache->Pages + Pages > EXP_BIG_CACHE_PAGES) {
        Evicted[evicted++] = Cache->Runs[0];
        ExpBigCacheRemoveAt(Cache, 0);
    }
    Cache->Runs[Cache->Count].Va = Va;
    Cache->Runs[Cache->Count].Pages = Pages;
    Cache->Count++;
    Cache->Pages += Pages;
    return evicted;
}

PVOID ExpBigCacheTake(PEXP_BIG_CACHE Cache, SIZE_T Pages)
{
    for (ULONG i = Cache->Count; i-- > 0;)
        if (Cache->Runs[i].Pages == Pages) {
            PVOID va = Cache->Runs[i].Va;
            ExpBigCacheRemoveAt(Cache, i);
            return va;
        }
    return NULL;
}

BOOLEAN ExpBigCacheTakeOldest(PEXP_BIG_CACHE Cache, PEXP_BIG_RUN Run)
{
    if (Cache->Count == 0)
        return FALSE;
    *Run = Cache->Runs[0];
    ExpBigCacheRemoveAt(Cache, 0);
    return TRUE;
}

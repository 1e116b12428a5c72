/*
 * bigpool.c - the big-page table: where whole-page pool allocations are
 * remembered (address, tag, size, pool type), as NT's PoolBigPageTable.
 * A page-aligned block carries no header, so ExFreePool and
 * ExQueryPoolBlockSize look the address up here.
 *
 * Open addressing with linear probing on a hash of the page number; the
 * table doubles (pool.c supplies the storage) before it is three-quarters
 * full, so a probe sequence stays short. Deletion moves later entries of
 * the same cluster back instead of leaving tombstones. The caller holds
 * the big-page lock.
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

BOOLEAN ExpFindBigPage(PEXP_BIG_TABLE Table, PVOID Va, PPOOL_TRACKER_BIG_PAGES Entry,
                       BOOLEAN Remove)
{
    SIZE_T mask = Table->Size - 1, i = ExpBigHash(Table, Va), hole, j;

    while (Table->Entries[i].Va != Va) {
        if (Table->Entries[i].Va == NULL)
            return FALSE;
        i = (i + 1) & mask;
    }
    if (Entry != NULL)
        *Entry = Table->Entries[i];
    if (!Remove)
        return TRUE;
    /* Backward-shift deletion: an entry after the hole moves into it when
     * its home slot is not between the hole and itself (cyclically). */
    hole = i;
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

/*
 * pooltrack.c - pool tag tracking, the numbers PoolMon and !poolused show:
 * per tag, allocations, frees and bytes in use, for paged and nonpaged pool.
 *
 * Every allocation and free updates its tag's entry, so the counters must
 * cost almost nothing: each processor has its own table (open addressing
 * on a hash of the tag) and updates it at DISPATCH_LEVEL, where nothing
 * else on that processor can run, with plain additions. A query adds the
 * tables up; a tag that was allocated on one processor and freed on
 * another shows the right difference in the sum. A full table sends new
 * tags to the 'Ovfl' entry, as NT does.
 */
#include "pool_internal.h"

static EXP_POOL_TRACKER ExpPoolTrackTable[MM_MAXIMUM_PROCESSORS][EXP_TRACK_TABLE_SIZE + 1];
static ULONG ExpTrackProcessors;        /* tables in use: highest CpuIndex + 1 */

#define EXP_TAG_NONE 0x656E6F4E         /* 'None': what untagged pool shows */

static ULONG ExpTrackHash(ULONG Key)
{
    ULONG h = Key * 40543U;

    return (h >> 16 ^ h) & (EXP_TRACK_TABLE_SIZE - 1);
}

/* Tables 0..CpuIndex are worth reading. Every processor may raise the
 * bound at once: an interlocked maximum, or a smaller one could win. */
static void ExpNoteTrackingProcessor(ULONG CpuIndex)
{
    ULONG seen = __atomic_load_n(&ExpTrackProcessors, __ATOMIC_RELAXED);

    while (CpuIndex >= seen &&
           !__atomic_compare_exchange_n(&ExpTrackProcessors, &seen, CpuIndex + 1, TRUE,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
}

/* Key's entry on one processor; made if Create (the overflow entry when full). */
static PEXP_POOL_TRACKER ExpLookupTracker(ULONG CpuIndex, ULONG Key, BOOLEAN Create)
{
    PEXP_POOL_TRACKER table = ExpPoolTrackTable[CpuIndex];
    ULONG i = ExpTrackHash(Key);

    for (ULONG probe = 0; probe < EXP_TRACK_TABLE_SIZE; probe++) {
        PEXP_POOL_TRACKER e = &table[(i + probe) & (EXP_TRACK_TABLE_SIZE - 1)];
        if (e->Key == Key)
            return e;
        if (e->Key == 0) {
            if (!Create)
                return NULL;
            e->Key = Key;
            ExpNoteTrackingProcessor(CpuIndex);
            return e;
        }
    }
    if (Create)
        table[EXP_TRACK_TABLE_SIZE].Key = EXP_TRACK_OVERFLOW_TAG;
    return table[EXP_TRACK_TABLE_SIZE].Key == EXP_TRACK_OVERFLOW_TAG &&
                   (Create || Key == EXP_TRACK_OVERFLOW_TAG)
               ? &table[EXP_TRACK_TABLE_SIZE]
               : NULL;
}

static ULONG ExpTrackKey(ULONG Tag)
{
    Tag &= ~PROTECTED_POOL;
    return Tag == 0 ? EXP_TAG_NONE : Tag;
}

PEXP_POOL_TRACKER ExpGetPoolTracker(ULONG CpuIndex, ULONG Tag)
{
    return ExpLookupTracker(CpuIndex, ExpTrackKey(Tag), TRUE);
}

VOID ExpInsertPoolTracker(ULONG CpuIndex, ULONG Tag, SIZE_T Bytes, BOOLEAN Paged)
{
    PEXP_POOL_TRACKER e = ExpLookupTracker(CpuIndex, ExpTrackKey(Tag), TRUE);

    e->Allocs[Paged]++;
    e->Bytes[Paged] += Bytes;
}

VOID ExpRemovePoolTracker(ULONG CpuIndex, ULONG Tag, SIZE_T Bytes, BOOLEAN Paged)
{
    PEXP_POOL_TRACKER e = ExpLookupTracker(CpuIndex, ExpTrackKey(Tag), TRUE);

    e->Frees[Paged]++;
    e->Bytes[Paged] -= Bytes;       /* may wrap per processor; the sum is right */
}

VOID ExpResetPoolTracking(VOID)
{
    RtlZeroMemory(ExpPoolTrackTable, sizeof(ExpPoolTrackTable));
    ExpTrackProcessors = 0;
}

/* Add one processor's entry into Out. */
static void ExpAccumulate(PSYSTEM_POOLTAG Out, const EXP_POOL_TRACKER *e)
{
    Out->NonPagedAllocs += (ULONG)e->Allocs[0];
    Out->NonPagedFrees += (ULONG)e->Frees[0];
    Out->NonPagedUsed += e->Bytes[0];
    Out->PagedAllocs += (ULONG)e->Allocs[1];
    Out->PagedFrees += (ULONG)e->Frees[1];
    Out->PagedUsed += e->Bytes[1];
}

static BOOLEAN ExpSumTag(ULONG Key, PSYSTEM_POOLTAG Out)
{
    BOOLEAN seen = FALSE;

    RtlZeroMemory(Out, sizeof(*Out));
    Out->TagUlong = Key;
    for (ULONG cpu = 0; cpu < ExpTrackProcessors; cpu++) {
        PEXP_POOL_TRACKER e = ExpLookupTracker(cpu, Key, FALSE);
        if (e != NULL) {
            ExpAccumulate(Out, e);
            seen = TRUE;
        }
    }
    return seen;
}

BOOLEAN ExpQueryPoolTag(ULONG Tag, PSYSTEM_POOLTAG Entry)
{
    return ExpSumTag(ExpTrackKey(Tag), Entry);
}

ULONG ExpQueryPoolTagInformation(PSYSTEM_POOLTAG Buffer, ULONG Count)
{
    ULONG tags = 0;

    for (ULONG cpu = 0; cpu < ExpTrackProcessors; cpu++)
        for (ULONG i = 0; i <= EXP_TRACK_TABLE_SIZE; i++) {
            ULONG key = ExpPoolTrackTable[cpu][i].Key;
            BOOLEAN earlier = FALSE;
            if (key == 0)
                continue;
            /* Counted already from an earlier processor's table? */
            for (ULONG other = 0; other < cpu && !earlier; other++)
                earlier = ExpLookupTracker(other, key, FALSE) != NULL;
            if (earlier)
                continue;
            if (tags < Count)
                ExpSumTag(key, &Buffer[tags]);
            tags++;
        }
    return tags;
}

PCSTR ExpTagName(ULONG Tag, char Name[5])
{
    for (ULONG i = 0; i < 4; i++) {
        char c = (char)(Tag >> (8 * i));
        Name[i] = c >= 0x20 && c < 0x7F ? c : '.';
    }
    Name[4] = 0;
    return Name;
}

/*
 * test_lookaside.c - lookaside lists keep NT's promises.
 *
 * A list caches up to Depth freed entries and hands them back last in,
 * first out; misses go to the Allocate routine with the list's Type, Size
 * and Tag (and the list, for Ex lists), frees beyond Depth to Free; Delete
 * gives every cached entry to Free; the counters say what happened; Depth
 * grows for lists that miss and shrinks for idle ones.
 *
 * The depth scan runs once a second from a timer DPC. Tests that count
 * exactly either stay under the scan's idle threshold (where a scan keeps
 * Depth at its minimum) or run at DISPATCH_LEVEL, where the DPC cannot run.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TEST_SIZE 100
#define TEST_ENTRIES 6
#define CPUID_FEATURES 1
#define CPUID_ECX_CX16 (1U << 13)

/* ---- callbacks that count and record what they were given --------------------------------- */

static struct {
    ULONG Allocates, Frees;
    POOL_TYPE Type;
    SIZE_T Size;
    ULONG Tag;
    PLOOKASIDE_LIST_EX List;
    PVOID LastFreed;
} Seen;

static void ResetSeen(void)
{
    RtlZeroMemory(&Seen, sizeof(Seen));
}

static PVOID CountingAllocate(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    Seen.Allocates++;
    Seen.Type = PoolType;
    Seen.Size = NumberOfBytes;
    Seen.Tag = Tag;
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID CountingFree(PVOID Buffer)
{
    Seen.Frees++;
    Seen.LastFreed = Buffer;
    ExFreePool(Buffer);
}

static PVOID CountingAllocateEx(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                PLOOKASIDE_LIST_EX Lookaside)
{
    Seen.List = Lookaside;
    return CountingAllocate(PoolType, NumberOfBytes, Tag);
}

static VOID CountingFreeEx(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside)
{
    Seen.List = Lookaside;
    CountingFree(Buffer);
}

/* Live allocations of Tag in nonpaged (Paged FALSE) or paged pool. */
static LONG64 LiveAllocations(ULONG Tag, BOOLEAN Paged)
{
    SYSTEM_POOLTAG entry;

    if (!ExpQueryPoolTag(Tag, &entry))
        return 0;
    return Paged ? (LONG64)entry.PagedAllocs - entry.PagedFrees
                 : (LONG64)entry.NonPagedAllocs - entry.NonPagedFrees;
}

/* In the paged-pool region, or in special pool when verifier= sends the
 * tag there (special pool keeps both kinds in one region; LiveAllocations,
 * PoolMon's paged counters, still tells which pool it is). */
static BOOLEAN InPagedPool(PVOID Va)
{
    return ((ULONG64)Va >= MM_PAGED_POOL_START && (ULONG64)Va < MM_PAGED_POOL_END) ||
           MiIsSpecialPoolAddress(Va);
}

/* ---- the S-list ------------------------------------------------------------------------------ */

KTEST(lookaside, cpu_has_cmpxchg16b)
{
    ULONG a = CPUID_FEATURES, b, c = 0, d;

    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    KEXPECT_TRUE(c & CPUID_ECX_CX16);
}

KTEST(lookaside, slist_is_lifo_and_counts_depth)
{
    static SLIST_HEADER head;
    static SLIST_ENTRY entries[3];

    InitializeSListHead(&head);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), NULL);
    KEXPECT_EQ(InterlockedPushEntrySList(&head, &entries[0]), NULL);
    KEXPECT_EQ(InterlockedPushEntrySList(&head, &entries[1]), &entries[0]);
    KEXPECT_EQ(ExInterlockedPushEntrySList(&head, &entries[2], NULL), &entries[1]);
    KEXPECT_EQ(ExQueryDepthSList(&head), 3);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entries[2]);
    KEXPECT_EQ(ExInterlockedPopEntrySList(&head, NULL), &entries[1]);
    KEXPECT_EQ(ExQueryDepthSList(&head), 1);
    KEXPECT_EQ(InterlockedFlushSList(&head), &entries[0]);
    KEXPECT_EQ(ExQueryDepthSList(&head), 0);
    KEXPECT_EQ(InterlockedFlushSList(&head), NULL);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), NULL);
}

/* ---- nonpaged lists -------------------------------------------------------------------------- */

KTEST(lookaside, npaged_default_pool)
{
    static NPAGED_LOOKASIDE_LIST list;
    const ULONG tag = 'a1kL';
    PUCHAR p[3];

    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, tag, 0);
    KEXPECT_EQ(list.L.Type, NonPagedPool);
    KEXPECT_EQ(list.L.Size, TEST_SIZE);
    KEXPECT_EQ(list.L.Tag, tag);
    KEXPECT_EQ(list.L.Depth, EXP_MINIMUM_LOOKASIDE_DEPTH);
    KEXPECT_EQ(list.L.MaximumDepth, EX_MAXIMUM_LOOKASIDE_DEPTH_BASE);
    for (ULONG i = 0; i < ARRAYSIZE(p); i++) {
        p[i] = ExAllocateFromNPagedLookasideList(&list);
        KASSERT_NE(p[i], NULL);
        memset(p[i], 0xA5, TEST_SIZE);
    }
    KEXPECT_EQ(LiveAllocations(tag, FALSE), ARRAYSIZE(p));
    for (ULONG i = 0; i < ARRAYSIZE(p); i++)
        ExFreeToNPagedLookasideList(&list, p[i]);
    /* Cached, not freed. */
    KEXPECT_EQ(LiveAllocations(tag, FALSE), ARRAYSIZE(p));
    ExDeleteNPagedLookasideList(&list);
    KEXPECT_EQ(LiveAllocations(tag, FALSE), 0);
}

KTEST(lookaside, npaged_callbacks_get_type_size_tag)
{
    static NPAGED_LOOKASIDE_LIST list;
    const ULONG tag = 'a2kL';
    PVOID p;

    ResetSeen();
    ExInitializeNPagedLookasideList(&list, CountingAllocate, CountingFree, POOL_NX_ALLOCATION,
                                    TEST_SIZE, tag, 0);
    KEXPECT_EQ(Seen.Allocates, 0);                  /* nothing is preallocated */
    p = ExAllocateFromNPagedLookasideList(&list);
    KASSERT_NE(p, NULL);
    KEXPECT_EQ(Seen.Allocates, 1);
    KEXPECT_EQ(Seen.Type, NonPagedPoolNx);
    KEXPECT_EQ(Seen.Size, TEST_SIZE);
    KEXPECT_EQ(Seen.Tag, tag);
    ExFreeToNPagedLookasideList(&list, p);
    KEXPECT_EQ(Seen.Frees, 0);
    ExDeleteNPagedLookasideList(&list);
    KEXPECT_EQ(Seen.Frees, 1);
    KEXPECT_EQ(Seen.LastFreed, p);
    KEXPECT_EQ(LiveAllocations(tag, FALSE), 0);
}

KTEST(lookaside, raise_flag_reaches_allocate)
{
    static NPAGED_LOOKASIDE_LIST list;

    ResetSeen();
    ExInitializeNPagedLookasideList(&list, CountingAllocate, CountingFree,
                                    POOL_RAISE_IF_ALLOCATION_FAILURE, TEST_SIZE, 'a3kL', 0);
    ExFreeToNPagedLookasideList(&list, ExAllocateFromNPagedLookasideList(&list));
    KEXPECT_EQ(Seen.Type, NonPagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE);
    ExDeleteNPagedLookasideList(&list);
}

KTEST(lookaside, size_rounded_up_to_minimum)
{
    static NPAGED_LOOKASIDE_LIST list;
    PVOID p;

    ResetSeen();
    ExInitializeNPagedLookasideList(&list, CountingAllocate, CountingFree, 0, 1, 'a4kL', 0);
    KEXPECT_EQ(list.L.Size, LOOKASIDE_MINIMUM_BLOCK_SIZE);
    p = ExAllocateFromNPagedLookasideList(&list);
    KASSERT_NE(p, NULL);
    KEXPECT_EQ(Seen.Size, LOOKASIDE_MINIMUM_BLOCK_SIZE);
    ExFreeToNPagedLookasideList(&list, p);
    ExDeleteNPagedLookasideList(&list);
}

/* Depth entries are kept and come back last in, first out; more go to Free. */
KTEST(lookaside, reuse_is_lifo_up_to_depth)
{
    static NPAGED_LOOKASIDE_LIST list;
    PVOID p[TEST_ENTRIES], q;
    ULONG depth;

    ResetSeen();
    ExInitializeNPagedLookasideList(&list, CountingAllocate, CountingFree, 0, TEST_SIZE, 'a5kL', 0);
    depth = list.L.Depth;
    KASSERT_TRUE(depth < TEST_ENTRIES);
    for (ULONG i = 0; i < TEST_ENTRIES; i++)
        p[i] = ExAllocateFromNPagedLookasideList(&list);
    KEXPECT_EQ(Seen.Allocates, TEST_ENTRIES);
    for (ULONG i = 0; i < TEST_ENTRIES; i++)
        ExFreeToNPagedLookasideList(&list, p[i]);
    /* The first Depth frees were cached, the rest freed. */
    KEXPECT_EQ(ExQueryDepthSList(&list.L.ListHead), depth);
    KEXPECT_EQ(Seen.Frees, TEST_ENTRIES - depth);
    KEXPECT_EQ(Seen.LastFreed, p[TEST_ENTRIES - 1]);
    for (ULONG i = depth; i > 0; i--)
        KEXPECT_EQ(ExAllocateFromNPagedLookasideList(&list), p[i - 1]);
    KEXPECT_EQ(Seen.Allocates, TEST_ENTRIES);
    q = ExAllocateFromNPagedLookasideList(&list);  /* empty again: a miss */
    KEXPECT_EQ(Seen.Allocates, TEST_ENTRIES + 1);
    for (ULONG i = 0; i < depth; i++)
        ExFreeToNPagedLookasideList(&list, p[i]);
    ExFreeToNPagedLookasideList(&list, q);
    ExDeleteNPagedLookasideList(&list);
    KEXPECT_EQ(Seen.Frees, Seen.Allocates);
}

KTEST(lookaside, statistics)
{
    static NPAGED_LOOKASIDE_LIST list;
    PVOID p[TEST_ENTRIES];

    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, 'a6kL', 0);
    for (ULONG i = 0; i < TEST_ENTRIES; i++)
        p[i] = ExAllocateFromNPagedLookasideList(&list);
    for (ULONG i = 0; i < TEST_ENTRIES; i++)
        ExFreeToNPagedLookasideList(&list, p[i]);
    p[0] = ExAllocateFromNPagedLookasideList(&list);     /* a hit */
    ExFreeToNPagedLookasideList(&list, p[0]);
    KEXPECT_EQ(list.L.TotalAllocates, TEST_ENTRIES + 1);
    KEXPECT_EQ(list.L.AllocateMisses, TEST_ENTRIES);
    KEXPECT_EQ(list.L.TotalFrees, TEST_ENTRIES + 1);
    KEXPECT_EQ(list.L.FreeMisses, TEST_ENTRIES - EXP_MINIMUM_LOOKASIDE_DEPTH);
    ExDeleteNPagedLookasideList(&list);
    KEXPECT_EQ(LiveAllocations('a6kL', FALSE), 0);
}

KTEST(lookaside, npaged_at_dispatch_level)
{
    static NPAGED_LOOKASIDE_LIST list;
    KIRQL old;
    PVOID p;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, 'a7kL', 0);
    p = ExAllocateFromNPagedLookasideList(&list);
    KEXPECT_NE(p, NULL);
    ExFreeToNPagedLookasideList(&list, p);
    KEXPECT_EQ(ExAllocateFromNPagedLookasideList(&list), p);
    ExFreeToNPagedLookasideList(&list, p);
    ExDeleteNPagedLookasideList(&list);
    KeLowerIrql(old);
    KEXPECT_EQ(LiveAllocations('a7kL', FALSE), 0);
}

/* ---- paged lists ------------------------------------------------------------------------------- */

KTEST(lookaside, paged_at_passive_level)
{
    static PAGED_LOOKASIDE_LIST list;
    const ULONG tag = 'p1kL';
    PUCHAR p[3];

    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    ExInitializePagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, tag, 0);
    KEXPECT_EQ(list.L.Type, PagedPool);
    for (ULONG i = 0; i < ARRAYSIZE(p); i++) {
        p[i] = ExAllocateFromPagedLookasideList(&list);
        KASSERT_NE(p[i], NULL);
        KEXPECT_TRUE(InPagedPool(p[i]));
        memset(p[i], 0x5A, TEST_SIZE);
    }
    KEXPECT_EQ(LiveAllocations(tag, TRUE), ARRAYSIZE(p));
    for (ULONG i = 0; i < ARRAYSIZE(p); i++)
        ExFreeToPagedLookasideList(&list, p[i]);
    KEXPECT_EQ(ExAllocateFromPagedLookasideList(&list), p[ARRAYSIZE(p) - 1]);
    ExFreeToPagedLookasideList(&list, p[ARRAYSIZE(p) - 1]);
    ExDeletePagedLookasideList(&list);
    KEXPECT_EQ(LiveAllocations(tag, TRUE), 0);
}

KTEST(lookaside, paged_callbacks_at_apc_level)
{
    static PAGED_LOOKASIDE_LIST list;
    KIRQL old;
    PVOID p;

    ResetSeen();
    KeRaiseIrql(APC_LEVEL, &old);
    ExInitializePagedLookasideList(&list, CountingAllocate, CountingFree, POOL_NX_ALLOCATION,
                                   TEST_SIZE, 'p2kL', 0);
    p = ExAllocateFromPagedLookasideList(&list);
    KEXPECT_NE(p, NULL);
    KEXPECT_EQ(Seen.Type, PagedPool);               /* paged pool is NX anyway */
    KEXPECT_EQ(Seen.Tag, 'p2kL');
    ExFreeToPagedLookasideList(&list, p);
    ExDeletePagedLookasideList(&list);
    KeLowerIrql(old);
    KEXPECT_EQ(Seen.Allocates, 1);
    KEXPECT_EQ(Seen.Frees, 1);
}

/* ---- LOOKASIDE_LIST_EX -------------------------------------------------------------------------- */

KTEST(lookaside, ex_callbacks_get_the_list)
{
    static LOOKASIDE_LIST_EX list;
    const ULONG tag = 'x1kL';
    PVOID p[TEST_ENTRIES];

    ResetSeen();
    KASSERT_EQ(ExInitializeLookasideListEx(&list, CountingAllocateEx, CountingFreeEx,
                                           NonPagedPoolNx, 0, TEST_SIZE, tag, 0),
               STATUS_SUCCESS);
    for (ULONG i = 0; i < TEST_ENTRIES; i++)
        p[i] = ExAllocateFromLookasideListEx(&list);
    KEXPECT_EQ(Seen.Allocates, TEST_ENTRIES);
    KEXPECT_EQ(Seen.List, &list);
    KEXPECT_EQ(Seen.Type, NonPagedPoolNx);
    KEXPECT_EQ(Seen.Size, TEST_SIZE);
    KEXPECT_EQ(Seen.Tag, tag);
    Seen.List = NULL;
    for (ULONG i = 0; i < TEST_ENTRIES; i++)
        ExFreeToLookasideListEx(&list, p[i]);
    KEXPECT_EQ(Seen.Frees, TEST_ENTRIES - EXP_MINIMUM_LOOKASIDE_DEPTH);
    KEXPECT_EQ(Seen.List, &list);
    ExDeleteLookasideListEx(&list);
    KEXPECT_EQ(Seen.Frees, TEST_ENTRIES);
    KEXPECT_EQ(LiveAllocations(tag, FALSE), 0);
}

KTEST(lookaside, ex_flags)
{
    static LOOKASIDE_LIST_EX list;
    const ULONG both =
        EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE;
    const ULONG unknown = 4;

    KEXPECT_EQ(ExInitializeLookasideListEx(&list, NULL, NULL, NonPagedPool, both, TEST_SIZE,
                                           'x2kL', 0),
               STATUS_INVALID_PARAMETER_5);
    KEXPECT_EQ(ExInitializeLookasideListEx(&list, NULL, NULL, NonPagedPool, unknown, TEST_SIZE,
                                           'x2kL', 0),
               STATUS_INVALID_PARAMETER_5);

    ResetSeen();
    KASSERT_EQ(ExInitializeLookasideListEx(&list, CountingAllocateEx, CountingFreeEx,
                                           NonPagedPool, EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL,
                                           TEST_SIZE, 'x2kL', 0),
               STATUS_SUCCESS);
    ExFreeToLookasideListEx(&list, ExAllocateFromLookasideListEx(&list));
    KEXPECT_EQ(Seen.Type, NonPagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE);
    ExDeleteLookasideListEx(&list);

    KASSERT_EQ(ExInitializeLookasideListEx(&list, CountingAllocateEx, CountingFreeEx,
                                           NonPagedPool, EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE,
                                           TEST_SIZE, 'x2kL', 0),
               STATUS_SUCCESS);
    ExFreeToLookasideListEx(&list, ExAllocateFromLookasideListEx(&list));
    KEXPECT_EQ(Seen.Type, NonPagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE);
    ExDeleteLookasideListEx(&list);
    KEXPECT_EQ(Seen.Frees, Seen.Allocates);
}

KTEST(lookaside, ex_flush_frees_cache_and_list_stays_usable)
{
    static LOOKASIDE_LIST_EX list;
    PVOID p[EXP_MINIMUM_LOOKASIDE_DEPTH];

    ResetSeen();
    KASSERT_EQ(ExInitializeLookasideListEx(&list, CountingAllocateEx, CountingFreeEx,
                                           NonPagedPool, 0, TEST_SIZE, 'x3kL', 0),
               STATUS_SUCCESS);
    for (ULONG i = 0; i < ARRAYSIZE(p); i++)
        p[i] = ExAllocateFromLookasideListEx(&list);
    for (ULONG i = 0; i < ARRAYSIZE(p); i++)
        ExFreeToLookasideListEx(&list, p[i]);
    KEXPECT_EQ(Seen.Frees, 0);
    ExFlushLookasideListEx(&list);
    KEXPECT_EQ(Seen.Frees, ARRAYSIZE(p));
    KEXPECT_EQ(ExQueryDepthSList(&list.L.ListHead), 0);
    p[0] = ExAllocateFromLookasideListEx(&list);
    KEXPECT_NE(p[0], NULL);
    KEXPECT_EQ(Seen.Allocates, ARRAYSIZE(p) + 1);
    ExFreeToLookasideListEx(&list, p[0]);
    ExDeleteLookasideListEx(&list);
    KEXPECT_EQ(Seen.Frees, Seen.Allocates);
    KEXPECT_EQ(LiveAllocations('x3kL', FALSE), 0);
}

KTEST(lookaside, ex_paged_default_pool)
{
    static LOOKASIDE_LIST_EX list;
    PVOID p;

    KASSERT_EQ(ExInitializeLookasideListEx(&list, NULL, NULL, PagedPool, 0, TEST_SIZE, 'x4kL', 0),
               STATUS_SUCCESS);
    p = ExAllocateFromLookasideListEx(&list);
    KASSERT_NE(p, NULL);
    KEXPECT_TRUE(InPagedPool(p));
    ExFreeToLookasideListEx(&list, p);
    KEXPECT_EQ(LiveAllocations('x4kL', TRUE), 1);
    ExDeleteLookasideListEx(&list);
    KEXPECT_EQ(LiveAllocations('x4kL', TRUE), 0);
}

/* ---- depth follows demand ------------------------------------------------------------------------ */

KTEST(lookaside, depth_rule)
{
    const USHORT max = EX_MAXIMUM_LOOKASIDE_DEPTH_BASE, min = EXP_MINIMUM_LOOKASIDE_DEPTH;

    /* Idle (under 25 allocations a period): down by 10, never below the minimum. */
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 0, 0), min);
    KEXPECT_EQ(ExpComputeLookasideDepth(50, max, 24, 24), 40);
    KEXPECT_EQ(ExpComputeLookasideDepth(12, max, 0, 0), min);
    /* Misses under 0.5%: down by one. */
    KEXPECT_EQ(ExpComputeLookasideDepth(100, max, 1000, 4), 99);
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 1000, 0), min);
    /* Otherwise up by max * ratio / 2 + 5, capped at the maximum. */
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 1000, 1000), min + max / 2 + 5);
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 1000, 100), min + 12 + 5);
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 1000, 5), min + 5);
    KEXPECT_EQ(ExpComputeLookasideDepth(200, max, 1000, 1000), max);
    KEXPECT_EQ(ExpComputeLookasideDepth(min, EX_MAXIMUM_LOOKASIDE_DEPTH_LIMIT, 1000, 1000),
               min + EX_MAXIMUM_LOOKASIDE_DEPTH_LIMIT / 2 + 5);
    /* More misses than allocations (counters read mid-update) count as all misses. */
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 100, 200), min + max / 2 + 5);
    /* Large counts do not overflow the ratio. */
    KEXPECT_EQ(ExpComputeLookasideDepth(min, max, 0xFFFFFFFF, 0xFFFFFFFF), min + max / 2 + 5);
}

#define DEMAND_ENTRIES 200

static void Demand(PNPAGED_LOOKASIDE_LIST List, PVOID *Entries)
{
    for (ULONG i = 0; i < DEMAND_ENTRIES; i++)
        Entries[i] = ExAllocateFromNPagedLookasideList(List);
    for (ULONG i = 0; i < DEMAND_ENTRIES; i++)
        ExFreeToNPagedLookasideList(List, Entries[i]);
}

/* At DISPATCH_LEVEL the timer's scan cannot run in between: each
 * ExAdjustLookasideDepth sees exactly one round. */
KTEST(lookaside, depth_grows_with_misses_and_shrinks_when_idle)
{
    static NPAGED_LOOKASIDE_LIST list;
    static PVOID entries[DEMAND_ENTRIES];
    const USHORT max = EX_MAXIMUM_LOOKASIDE_DEPTH_BASE, min = EXP_MINIMUM_LOOKASIDE_DEPTH;
    USHORT previous;
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, 'd1kL', 0);
    /* Every allocation misses: Depth jumps by half the maximum. */
    Demand(&list, entries);
    ExAdjustLookasideDepth();
    KEXPECT_EQ(list.L.Depth, min + max / 2 + 5);
    KEXPECT_EQ(list.L.LastTotalAllocates, list.L.TotalAllocates);
    KEXPECT_EQ(list.L.LastAllocateMisses, list.L.AllocateMisses);
    /* Still mostly misses (only the old Depth was cached): capped at the maximum. */
    Demand(&list, entries);
    ExAdjustLookasideDepth();
    KEXPECT_EQ(list.L.Depth, max);
    /* Some misses left (the previous round cached only the old Depth). */
    Demand(&list, entries);
    ExAdjustLookasideDepth();
    KEXPECT_EQ(list.L.Depth, max);
    /* Everything cached now: no misses, Depth eases down by one. */
    Demand(&list, entries);
    KEXPECT_EQ(list.L.AllocateMisses, list.L.LastAllocateMisses);
    ExAdjustLookasideDepth();
    KEXPECT_EQ(list.L.Depth, max - 1);
    /* Idle: down by ten a scan to the minimum. */
    for (previous = list.L.Depth; list.L.Depth > min; previous = list.L.Depth) {
        ExAdjustLookasideDepth();
        KASSERT_TRUE(list.L.Depth < previous);
    }
    KEXPECT_EQ(list.L.Depth, min);
    /* Lowering Depth keeps what is cached: Delete gives it all back. */
    KEXPECT_EQ(ExQueryDepthSList(&list.L.ListHead), DEMAND_ENTRIES);
    ExDeleteNPagedLookasideList(&list);
    KeLowerIrql(old);
    KEXPECT_EQ(LiveAllocations('d1kL', FALSE), 0);
}

/* The timer DPC really scans: a list that missed a lot grows on its own. */
KTEST(lookaside, periodic_scan_runs)
{
    static NPAGED_LOOKASIDE_LIST list;
    static PVOID entries[DEMAND_ENTRIES];
    LARGE_INTEGER wait = {.QuadPart = -12000000};   /* 1.2 s: longer than one scan period */

    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, 'd2kL', 0);
    Demand(&list, entries);
    KeDelayExecutionThread(KernelMode, FALSE, &wait);
    KEXPECT_EQ(list.L.LastTotalAllocates, list.L.TotalAllocates);
    KEXPECT_GT(list.L.Depth, EXP_MINIMUM_LOOKASIDE_DEPTH);
    ExDeleteNPagedLookasideList(&list);
    KEXPECT_EQ(LiveAllocations('d2kL', FALSE), 0);
}

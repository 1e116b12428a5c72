/*
 * test_poolcache.c - what the pools keep for reuse (mm/pool.c,
 * poolblock.c, bigpool.c): freed runs of a few pages, empty pages, and
 * lookasides for blocks above 512 bytes. Kept memory is reused, is not a
 * leak in the reports, is still refused to a second free or a size query,
 * and goes back when asked (ExpTrimPoolCaches) or when an allocation finds
 * no memory. Misuse of kept memory is in test_poolcache_bugcheck.c.
 *
 * Under verifier= every tag may go to special pool, which keeps nothing,
 * so these tests skip there.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_KEEP 'peeK'

static BOOLEAN KtcSpecialPoolOn(void)
{
    char option[64];

    return KeQueryBootOption("verifier", option, sizeof(option));
}

KTEST(poolcache, freed_run_is_kept_reused_and_given_back)
{
    SYSTEM_POOLTAG t, before;
    PUCHAR p, q;
    BOOLEAN quota;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    if (!ExpQueryPoolTag(TAG_KEEP, &before))
        RtlZeroMemory(&before, sizeof(before));
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_KEEP);
    KASSERT_TRUE(p != NULL);
    memset(p, 0x5A, 2 * PAGE_SIZE);
    ExFreePoolWithTag(p, TAG_KEEP);
    /* Kept: still allocated from the region, mapped, not a leak. */
    KEXPECT_TRUE(MiIsPoolPageAllocated(EXP_NONPAGED_NX, p));
    KEXPECT_TRUE(MmIsAddressValid(p) && MmIsAddressValid(p + PAGE_SIZE));
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_KEEP), 0);
    KEXPECT_TRUE(ExpDumpPoolPage(p));
    /* The next request of two pages gets the same run. */
    q = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE + 1, TAG_KEEP);
    KEXPECT_TRUE(q == p);
    KEXPECT_EQ(ExQueryPoolBlockSize(q, &quota), 2 * PAGE_SIZE);
    KEXPECT_FALSE(quota);
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_KEEP), 1);
    ExFreePoolWithTag(q, TAG_KEEP);
    /* PoolMon counts both allocations and both frees. */
    KASSERT_TRUE(ExpQueryPoolTag(TAG_KEEP, &t));
    KEXPECT_EQ(t.NonPagedAllocs - before.NonPagedAllocs, 2);
    KEXPECT_EQ(t.NonPagedFrees - before.NonPagedFrees, 2);
    KEXPECT_EQ(t.NonPagedUsed, before.NonPagedUsed);
    /* Given back when asked: no longer allocated. */
    KEXPECT_TRUE(ExpTrimPoolCaches());
    KEXPECT_FALSE(MiIsPoolPageAllocated(EXP_NONPAGED_NX, p));
    KEXPECT_FALSE(ExpTrimPoolCaches());
}

KTEST(poolcache, long_runs_and_many_runs_go_back)
{
    PUCHAR p, runs[2 * EXP_BIG_CACHE_RUNS];
    ULONG kept = 0;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    /* Longer than EXP_BIG_CACHE_MAX_PAGES: given back at once. */
    p = ExAllocatePoolWithTag(PagedPool, (EXP_BIG_CACHE_MAX_PAGES + 1) * PAGE_SIZE, TAG_KEEP);
    KASSERT_TRUE(p != NULL);
    ExFreePool(p);
    KEXPECT_FALSE(MiIsPoolPageAllocated(EXP_PAGED, p));
    /* Twice as many one-page runs as the cache holds: the oldest go. */
    for (ULONG i = 0; i < ARRAYSIZE(runs); i++) {
        runs[i] = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, TAG_KEEP);
        KASSERT_TRUE(runs[i] != NULL);
    }
    for (ULONG i = 0; i < ARRAYSIZE(runs); i++)
        ExFreePool(runs[i]);
    for (ULONG i = 0; i < ARRAYSIZE(runs); i++)
        if (MiIsPoolPageAllocated(EXP_NONPAGED_NX, runs[i])) {
            kept++;
            KEXPECT_GE(i, ARRAYSIZE(runs) - EXP_BIG_CACHE_RUNS);
        }
    KEXPECT_EQ(kept, EXP_BIG_CACHE_RUNS);
    ExpTrimPoolCaches();
}

/* A page left empty by its last block is kept for the pool's next page. */
KTEST(poolcache, empty_page_is_kept)
{
    PUCHAR p, page;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    /* The largest small block (255 units): only an empty page has room. */
    p = ExAllocatePoolWithTag(NonPagedPoolNx, POOL_SMALL_LIMIT, TAG_KEEP);
    KASSERT_TRUE(p != NULL);
    page = PAGE_ALIGN(p);
    KEXPECT_TRUE(p == page + sizeof(POOL_HEADER));
    ExFreePool(p);
    /* The lookaside for its size holds nothing yet: the block went back
     * into its page, which is now empty and kept. */
    KEXPECT_TRUE(MiIsPoolPageAllocated(EXP_NONPAGED_NX, page));
    KEXPECT_TRUE(ExpIsKeptEmptyPage((PPOOL_HEADER)page));
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_KEEP), 0);
    KEXPECT_TRUE(ExpDumpPoolPage(page));
    KEXPECT_TRUE(ExpTrimPoolCaches());
    KEXPECT_FALSE(MiIsPoolPageAllocated(EXP_NONPAGED_NX, page));
}

/*
 * Lookasides above 512 bytes start empty and deepen when they miss: the
 * first frees of a 1000-byte block go back into the page, later ones stay
 * on the list (header marked EXP_POOL_INDEX_CACHED) and come back first.
 */
KTEST(poolcache, larger_lookaside_deepens_on_misses)
{
    PUCHAR p, q;
    PPOOL_HEADER h;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    p = ExAllocatePoolWithTag(PagedPool, 1000, TAG_KEEP);
    KASSERT_TRUE(p != NULL);
    h = (PPOOL_HEADER)p - 1;
    ExFreePool(p);
    KEXPECT_EQ(h->PoolType, 0);                  /* back in its page: free */
    for (ULONG i = 0; i < EXP_LOOKASIDE_GROW_MISSES + 1; i++) {
        p = ExAllocatePoolWithTag(PagedPool, 1000, TAG_KEEP);
        KASSERT_TRUE(p != NULL);
        ExFreePool(p);
    }
    h = (PPOOL_HEADER)p - 1;
    KEXPECT_NE(h->PoolType, 0);
    KEXPECT_TRUE((h->PoolIndex & EXP_POOL_INDEX_CACHED) != 0);
    q = ExAllocatePoolWithTag(PagedPool, 1000, TAG_KEEP);
    KEXPECT_TRUE(q == p);
    KEXPECT_EQ(h->PoolIndex, EXP_PAGED);
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_KEEP), 1);
    ExFreePool(q);
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_KEEP), 0);
    /* Trimming puts the block back into its page (and the page, if that
     * leaves it empty, back to the region). */
    KEXPECT_TRUE(ExpTrimPoolCaches());
    if (MiIsPoolPageAllocated(EXP_PAGED, h))
        KEXPECT_EQ(h->PoolType, 0);
}

/*
 * A lookaside miss takes a block one unit larger from the next list: 16
 * bytes more than asked, as ExQueryPoolBlockSize says. Not for a quota
 * charge, which was made for the exact size.
 */
KTEST(poolcache, miss_takes_a_block_one_unit_larger)
{
    PUCHAR p = NULL, q, r;
    BOOLEAN quota;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    /* 1016 bytes: 65 units; its list deepens and keeps p. */
    for (ULONG i = 0; i < EXP_LOOKASIDE_GROW_MISSES + 1; i++) {
        p = ExAllocatePoolWithTag(NonPagedPoolNx, 1016, TAG_KEEP);
        KASSERT_TRUE(p != NULL);
        ExFreePool(p);
    }
    /* 1000 bytes: 64 units, whose list is empty. */
    q = ExAllocatePoolWithTag(NonPagedPoolNx, 1000, TAG_KEEP);
    KEXPECT_TRUE(q == p);
    KEXPECT_EQ(ExQueryPoolBlockSize(q, &quota), 1024);
    ExFreePool(q);
    r = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, 1000, TAG_KEEP);
    KASSERT_TRUE(r != NULL);
    KEXPECT_TRUE(r != p);
    KEXPECT_EQ(ExQueryPoolBlockSize(r, &quota), 1008);
    KEXPECT_TRUE(quota);
    ExFreePool(r);
    ExpTrimPoolCaches();
}

/* At DISPATCH_LEVEL paged pool's lookaside blocks and empty pages stay
 * (its lock is a fast mutex); the nonpaged pools and the kept runs of
 * every pool (under a spin lock) are trimmed. */
KTEST(poolcache, trim_at_dispatch_level)
{
    PUCHAR np, pg, q = NULL;
    PPOOL_HEADER h;
    KIRQL old;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    np = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * PAGE_SIZE, TAG_KEEP);
    pg = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, TAG_KEEP);
    KASSERT_TRUE(np != NULL && pg != NULL);
    ExFreePool(np);
    ExFreePool(pg);
    for (ULONG i = 0; i < EXP_LOOKASIDE_GROW_MISSES + 1; i++) {
        q = ExAllocatePoolWithTag(PagedPool, 1000, TAG_KEEP);
        KASSERT_TRUE(q != NULL);
        ExFreePool(q);
    }
    h = (PPOOL_HEADER)q - 1;
    KEXPECT_TRUE((h->PoolIndex & EXP_POOL_INDEX_CACHED) != 0);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KEXPECT_TRUE(ExpTrimPoolCaches());
    KeLowerIrql(old);
    KEXPECT_FALSE(MiIsPoolPageAllocated(EXP_NONPAGED_NX, np));
    KEXPECT_FALSE(MiIsPoolPageAllocated(EXP_PAGED, pg));
    KEXPECT_TRUE((h->PoolIndex & EXP_POOL_INDEX_CACHED) != 0);
    KEXPECT_TRUE(ExpTrimPoolCaches());
    if (MiIsPoolPageAllocated(EXP_PAGED, h))
        KEXPECT_EQ(h->PoolType, 0);
}

/*
 * With nonpaged pool exhausted, a kept run is the only memory left: the
 * allocation that finds no page gives the pools' kept memory back and
 * succeeds on its second try. Pool is used up with the largest small
 * blocks (one per page, chained through their first word), which need no
 * big-page table entries.
 */
KTEST(poolcache, allocation_failure_takes_back_kept_memory)
{
    PVOID chain = NULL, two, p;
    ULONG blocks = 0;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    ExpTrimPoolCaches();
    two = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_KEEP);
    KASSERT_TRUE(two != NULL);
    while ((p = ExAllocatePoolWithTag(NonPagedPoolNx, POOL_SMALL_LIMIT, TAG_KEEP)) != NULL) {
        *(PVOID *)p = chain;
        chain = p;
        blocks++;
    }
    KtestPrint("#   %u pages of blocks before NULL\n", blocks);
    KEXPECT_GT(blocks, 1000);
    ExFreePool(two);
    KEXPECT_TRUE(MiIsPoolPageAllocated(EXP_NONPAGED_NX, two));
    /* No free page but the kept run's. */
    p = ExAllocatePoolWithTag(NonPagedPoolNx, POOL_SMALL_LIMIT, TAG_KEEP);
    KEXPECT_TRUE(p != NULL);
    if (p != NULL)
        ExFreePool(p);
    while (chain != NULL) {
        PVOID next = *(PVOID *)chain;
        ExFreePool(chain);
        chain = next;
    }
    ExpTrimPoolCaches();
}

/*
 * A small request that finds this processor's lookaside empty carves
 * EXP_REFILL_BLOCKS blocks in one lock hold and keeps the rest on that
 * lookaside: the next requests of that size carve nothing (the
 * descriptor's running count stays put).
 */
KTEST(poolcache, small_miss_refills_the_lookaside)
{
    PPOOL_DESCRIPTOR d = &ExpPoolDescriptors[EXP_NONPAGED_NX];
    PUCHAR block[EXP_REFILL_BLOCKS];
    KAFFINITY pinned;
    SIZE_T carved;

    if (KtcSpecialPoolOn())
        KTEST_SKIP("verifier= on");
    pinned = KtestOnOneProcessorBegin();        /* one processor's lookaside throughout */
    ExpTrimPoolCaches();
    carved = d->RunningAllocs;
    block[0] = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_KEEP);
    KASSERT_TRUE(block[0] != NULL);
    KEXPECT_EQ(d->RunningAllocs - carved, EXP_REFILL_BLOCKS);
    for (ULONG i = 1; i < EXP_REFILL_BLOCKS; i++) {
        block[i] = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_KEEP);
        KEXPECT_TRUE(block[i] != NULL);
    }
    KEXPECT_EQ(d->RunningAllocs - carved, EXP_REFILL_BLOCKS);
    for (ULONG i = 0; i < EXP_REFILL_BLOCKS; i++)
        ExFreePoolWithTag(block[i], TAG_KEEP);
    ExpTrimPoolCaches();
    KtestOnOneProcessorEnd(pinned);
}

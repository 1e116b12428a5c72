/*
 * test_poolcache_bugcheck.c - memory the pools keep for reuse is still
 * free to a caller: a second free of it, or a size query, stops as it
 * would if the memory had gone back (test_poolcache.c has the rest).
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_KEEP 'peeK'

/* A kept run is in the big-page table but not allocated: 0xC2 0x41. */
KTEST_BUGCHECK(poolcachebug, double_free_kept_run, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_KEEP);

    ExFreePool(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x41, (ULONG64)p, 0, 0);
    ExFreePool(p);
}

KTEST_BUGCHECK(poolcachebug, size_of_kept_run, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(PagedPool, 2 * PAGE_SIZE, TAG_KEEP);
    BOOLEAN quota;

    ExFreePool(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x41, (ULONG64)p, 0, 0);
    ExQueryPoolBlockSize(p, &quota);
}

/* The block's page is kept empty, not unmapped: its header says free. */
KTEST_BUGCHECK(poolcachebug, double_free_in_kept_page, BAD_POOL_CALLER)
{
    PVOID p;

    ExpTrimPoolCaches();            /* its lookaside starts empty */
    p = ExAllocatePoolWithTag(NonPagedPoolNx, POOL_SMALL_LIMIT, TAG_KEEP);
    ExFreePool(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x07, 0, KTEST_ANY, (ULONG64)p);
    ExFreePool(p);
}

/* A 1000-byte block on its lookaside (after the list deepened). */
KTEST_BUGCHECK(poolcachebug, double_free_larger_lookaside, BAD_POOL_CALLER)
{
    PVOID p = NULL;

    ExpTrimPoolCaches();
    for (ULONG i = 0; i < EXP_LOOKASIDE_GROW_MISSES + 2; i++) {
        p = ExAllocatePoolWithTag(NonPagedPoolNx, 1000, TAG_KEEP);
        ExFreePool(p);
    }
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x07, 0, KTEST_ANY, (ULONG64)p);
    ExFreePool(p);
}

/*
 * test_contig_bugcheck.c - freeing what is not a contiguous allocation.
 *
 * NT answers MmFreeContiguousMemory on anything but the base address of a
 * live allocation with BAD_POOL_CALLER (0xC2), parameter 1 = 0x60 and
 * parameter 2 = the address. A double free, the middle of an allocation
 * and a non-page-aligned address are the mistakes a driver makes.
 */
#include "../../mm/mm.h"
#include "../ktest.h"

static PUCHAR Allocate(SIZE_T Bytes)
{
    PHYSICAL_ADDRESS high;
    high.QuadPart = -1;
    return MmAllocateContiguousMemory(Bytes, high);
}

KTEST_BUGCHECK(contig_bugcheck, double_free, BAD_POOL_CALLER)
{
    PUCHAR p = Allocate(2 * PAGE_SIZE);

    KASSERT_NE(p, NULL);
    MmFreeContiguousMemory(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, (ULONG64)p, 0, 0);
    MmFreeContiguousMemory(p);
}

KTEST_BUGCHECK(contig_bugcheck, free_inside_allocation, BAD_POOL_CALLER)
{
    PUCHAR p = Allocate(4 * PAGE_SIZE);

    KASSERT_NE(p, NULL);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, (ULONG64)(p + PAGE_SIZE), 0, 0);
    MmFreeContiguousMemory(p + PAGE_SIZE);
}

KTEST_BUGCHECK(contig_bugcheck, free_unaligned, BAD_POOL_CALLER)
{
    PUCHAR p = Allocate(PAGE_SIZE);

    KASSERT_NE(p, NULL);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, (ULONG64)(p + 16), 0, 0);
    MmFreeContiguousMemory(p + 16);
}

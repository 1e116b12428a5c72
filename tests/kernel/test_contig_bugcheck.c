/*
 * test_contig_bugcheck.c - freeing what is not a contiguous allocation.
 *
 * NT answers MmFreeContiguousMemory on anything but the base address of a
 * live allocation with BAD_POOL_CALLER (0xC2), parameter 1 = 0x60 and
 * parameter 2 = the address. A double free, the middle of an allocation
 * and a non-page-aligned address are the mistakes a driver makes. Above
 * DISPATCH_LEVEL every routine here is IRQL_NOT_LESS_OR_EQUAL.
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

/* NULL is not an allocation either. */
KTEST_BUGCHECK(contig_bugcheck, free_null, BAD_POOL_CALLER)
{
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, 0, 0, 0);
    MmFreeContiguousMemory(NULL);
}

/* A second mapping of an allocation's pages (MmMapIoSpace) is not the allocation. */
KTEST_BUGCHECK(contig_bugcheck, free_io_mapping_of_allocation, BAD_POOL_CALLER)
{
    PUCHAR p = Allocate(PAGE_SIZE), io;

    KASSERT_NE(p, NULL);
    io = MmMapIoSpace(MmGetPhysicalAddress(p), PAGE_SIZE, MmCached);
    KASSERT_NE(io, NULL);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, (ULONG64)io, 0, 0);
    MmFreeContiguousMemory(io);
}

/* A stale free after the address space was reused by MmMapIoSpace of the same
 * physical page: the PFN entry no longer says "start of allocation". */
KTEST_BUGCHECK(contig_bugcheck, stale_free_after_reuse, BAD_POOL_CALLER)
{
    PUCHAR p = Allocate(PAGE_SIZE), io;
    PHYSICAL_ADDRESS pa;

    KASSERT_NE(p, NULL);
    pa = MmGetPhysicalAddress(p);
    MmFreeContiguousMemory(p);
    io = MmMapIoSpace(pa, PAGE_SIZE, MmCached);
    KASSERT_NE(io, NULL);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, (ULONG64)p, 0, 0);
    MmFreeContiguousMemory(p);
}

/* Kernel-image data is not in system-PTE space at all. */
KTEST_BUGCHECK(contig_bugcheck, free_kernel_data, BAD_POOL_CALLER)
{
    static UCHAR page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

    KtestExpectBugCheck(BAD_POOL_CALLER, 0x60, (ULONG64)page, 0, 0);
    MmFreeContiguousMemory(page);
}

/* Above DISPATCH_LEVEL: IRQL_NOT_LESS_OR_EQUAL (routine, IRQL, highest allowed, caller). */
KTEST_BUGCHECK(contig_bugcheck, allocate_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    KIRQL old;

    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MmAllocateContiguousMemory,
                        DISPATCH_LEVEL + 1, DISPATCH_LEVEL, KTEST_ANY);
    KeRaiseIrql(DISPATCH_LEVEL + 1, &old);
    Allocate(PAGE_SIZE);
}

/* The same rule for the cache-type form, which drivers call most. */
KTEST_BUGCHECK(contig_bugcheck, specify_cache_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    PHYSICAL_ADDRESS low, high, none;
    KIRQL old;

    low.QuadPart = 0;
    high.QuadPart = -1;
    none.QuadPart = 0;
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MmAllocateContiguousMemorySpecifyCache,
                        DISPATCH_LEVEL + 1, DISPATCH_LEVEL, KTEST_ANY);
    KeRaiseIrql(DISPATCH_LEVEL + 1, &old);
    MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, low, high, none, MmNonCached);
}

/* The free is allowed up to DISPATCH_LEVEL (Server 2008 on), not above. */
KTEST_BUGCHECK(contig_bugcheck, free_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    PUCHAR p = Allocate(PAGE_SIZE);
    KIRQL old;

    KASSERT_NE(p, NULL);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MmFreeContiguousMemory,
                        DISPATCH_LEVEL + 1, DISPATCH_LEVEL, KTEST_ANY);
    KeRaiseIrql(DISPATCH_LEVEL + 1, &old);
    MmFreeContiguousMemory(p);
}

/*
 * test_mdl_pages.c - MmAllocatePagesForMdl(Ex) in ranges and with every
 * flag, short MDLs when memory is short, MmFreePagesFromMdl, noncached
 * memory, reserved mappings, and mapping priorities.
 */
#include "../../kernel/io/io.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

static PHYSICAL_ADDRESS Pa(ULONG64 A)
{
    PHYSICAL_ADDRESS p = {.QuadPart = (LONG64)A};
    return p;
}

static PFN_NUMBER FreePages(void)
{
    return MmFreePageListHead.Total + MmZeroedPageListHead.Total + MmLowFreePageListHead.Total;
}

static PFN_NUMBER MdlPages(PMDL Mdl)
{
    return ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), MmGetMdlByteCount(Mdl));
}

static void FreeMdlPages(PMDL Mdl)
{
    MmFreePagesFromMdl(Mdl);
    ExFreePool(Mdl);
}

KTEST(mdl_pages, allocate_in_range_zeroed_and_mappable)
{
    PFN_NUMBER before = FreePages();
    PMDL mdl = MmAllocatePagesForMdl(Pa(0x1000000), Pa(0x1FFFFFF), Pa(0), 5 * PAGE_SIZE + 100);
    PUCHAR va;

    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 5 * PAGE_SIZE + 100);
    KEXPECT_EQ(MmGetMdlByteOffset(mdl), 0);
    KEXPECT_EQ(MmGetMdlBaseVa(mdl), NULL);
    KEXPECT_TRUE(mdl->MdlFlags & MDL_PAGES_LOCKED);
    KEXPECT_EQ(MdlPages(mdl), 6);
    for (ULONG i = 0; i < 6; i++) {
        PFN_NUMBER p = MmGetMdlPfnArray(mdl)[i];
        KEXPECT_TRUE(p >= 0x1000 && p <= 0x1FFF);
        KEXPECT_EQ(MI_PFN_ELEMENT(p)->PageLocation, ActiveAndValid);
    }
    va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
    KASSERT_NE(va, NULL);
    for (ULONG i = 0; i < 6 * PAGE_SIZE; i += 64)
        if (va[i] != 0) {
            KEXPECT_EQ(va[i], 0);       /* zeroed */
            break;
        }
    memset(va, 0xEE, 6 * PAGE_SIZE);
    FreeMdlPages(mdl);                  /* also drops the mapping (Windows 7+) */
    KEXPECT_FALSE(MmIsAddressValid(va));
    KEXPECT_EQ(FreePages(), before);
}

KTEST(mdl_pages, skip_bytes_shifts_the_range)
{
    /* [16, 16.25) MiB, then +1 MiB steps: 256 pages can't fit in one window. */
    PMDL mdl = MmAllocatePagesForMdl(Pa(0x1000000), Pa(0x103FFFF), Pa(0x100000), 256 * PAGE_SIZE);

    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 256 * PAGE_SIZE);
    for (ULONG i = 0; i < 256; i++) {
        ULONG64 pa = MmGetMdlPfnArray(mdl)[i] << PAGE_SHIFT;
        KEXPECT_LT((pa - 0x1000000) % 0x100000, 0x40000);
    }
    FreeMdlPages(mdl);
    /* A SkipBytes that is not whole pages: nothing. */
    KEXPECT_EQ(MmAllocatePagesForMdl(Pa(0), Pa(~0ULL), Pa(0x800), PAGE_SIZE), NULL);
}

KTEST(mdl_pages, short_when_the_range_is_short)
{
    /* 64 pages asked for in a 16-page window, no skip: a short MDL ... */
    PMDL mdl = MmAllocatePagesForMdl(Pa(0x2000000), Pa(0x200FFFF), Pa(0), 64 * PAGE_SIZE);

    KASSERT_NE(mdl, NULL);
    KEXPECT_LE(MmGetMdlByteCount(mdl), 16 * PAGE_SIZE);
    KEXPECT_GT(MmGetMdlByteCount(mdl), 0);
    KEXPECT_EQ(MmGetMdlByteCount(mdl) % PAGE_SIZE, 0);
    FreeMdlPages(mdl);
    /* ... unless the caller needs all of it. */
    KEXPECT_EQ(MmAllocatePagesForMdlEx(Pa(0x2000000), Pa(0x200FFFF), Pa(0), 64 * PAGE_SIZE,
                                       MmCached, MM_ALLOCATE_FULLY_REQUIRED), NULL);
    /* A range with no RAM at all: NULL. */
    KEXPECT_EQ(MmAllocatePagesForMdl(Pa(0xFFFFFFFF000ULL), Pa(0xFFFFFFFFFFFULL), Pa(0), PAGE_SIZE), NULL);
}

KTEST(mdl_pages, short_when_memory_is_short)
{
    PFN_NUMBER before = FreePages();
    /* More than the machine has (bios-128m: all of RAM; bios-6g: 8 GiB
     * more than it has): whatever may still be promised, no more. */
    SIZE_T ask = (MmNumberOfPhysicalPages + 1024) << PAGE_SHIFT;
    PMDL mdl;

    if (ask > 0x100000000ULL - PAGE_SIZE)
        KTEST_SKIP("more than one MDL can describe: see the range test");
    mdl = MmAllocatePagesForMdlEx(Pa(0), Pa(~0ULL), Pa(0), ask, MmCached, MM_DONT_ZERO_ALLOCATION);
    KASSERT_NE(mdl, NULL);
    KEXPECT_LT(MmGetMdlByteCount(mdl), ask);
    KEXPECT_GT(MmGetMdlByteCount(mdl), 0);
    FreeMdlPages(mdl);
    KEXPECT_EQ(FreePages(), before);
}

KTEST(mdl_pages, above_4g_range)
{
    PMDL mdl;

    if (MmHighestPhysicalPage < (MM_4GB >> PAGE_SHIFT) + 0x4000)
        KTEST_SKIP("needs RAM above 4 GiB");
    /* 128 MiB asked for in a 64 MiB window above 4 GiB: short. */
    mdl = MmAllocatePagesForMdlEx(Pa(MM_4GB), Pa(MM_4GB + 0x3FFFFFF), Pa(0), 0x8000000,
                                  MmCached, MM_DONT_ZERO_ALLOCATION);
    KASSERT_NE(mdl, NULL);
    KEXPECT_LE(MmGetMdlByteCount(mdl), 0x4000000);
    KEXPECT_GT(MmGetMdlByteCount(mdl), 0);
    for (PFN_NUMBER i = 0; i < MdlPages(mdl); i++)
        KEXPECT_GE(MmGetMdlPfnArray(mdl)[i], MM_4GB >> PAGE_SHIFT);
    FreeMdlPages(mdl);
}

KTEST(mdl_pages, every_flag)
{
    PHYSICAL_ADDRESS lo = Pa(0), hi = Pa(~0ULL), zero = Pa(0);
    PMDL mdl;
    PPFN_NUMBER p;

    /* MM_DONT_ZERO_ALLOCATION: allocated, contents left. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, zero, PAGE_SIZE, MmCached, MM_DONT_ZERO_ALLOCATION);
    KASSERT_NE(mdl, NULL);
    FreeMdlPages(mdl);
    /* MM_ALLOCATE_FROM_LOCAL_NODE_ONLY and MM_ALLOCATE_NO_WAIT: one node, no waits. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, zero, 3 * PAGE_SIZE, MmCached,
                                  MM_ALLOCATE_FROM_LOCAL_NODE_ONLY | MM_ALLOCATE_NO_WAIT);
    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 3 * PAGE_SIZE);
    FreeMdlPages(mdl);
    /* MM_ALLOCATE_PREFER_CONTIGUOUS: one run when there is one. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, zero, 16 * PAGE_SIZE, MmCached, MM_ALLOCATE_PREFER_CONTIGUOUS);
    KASSERT_NE(mdl, NULL);
    p = MmGetMdlPfnArray(mdl);
    for (ULONG i = 1; i < 16; i++)
        KEXPECT_EQ(p[i], p[0] + i);
    FreeMdlPages(mdl);
    /* MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS, Skip 0: one run. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, zero, 32 * PAGE_SIZE, MmCached,
                                  MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
    KASSERT_NE(mdl, NULL);
    p = MmGetMdlPfnArray(mdl);
    for (ULONG i = 1; i < 32; i++)
        KEXPECT_EQ(p[i], p[0] + i);
    FreeMdlPages(mdl);
    /* ... more than the range holds in one run: NULL, never part. */
    KEXPECT_EQ(MmAllocatePagesForMdlEx(Pa(0x2000000), Pa(0x200FFFF), zero, 32 * PAGE_SIZE, MmCached,
                                       MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS), NULL);
    /* Skip 64 KiB: 16-page chunks, each 64 KiB aligned. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, Pa(0x10000), 64 * PAGE_SIZE, MmCached,
                                  MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS);
    KASSERT_NE(mdl, NULL);
    p = MmGetMdlPfnArray(mdl);
    for (ULONG i = 0; i < 64; i++)
        KEXPECT_EQ(p[i], p[i & ~15u] + (i & 15));
    for (ULONG i = 0; i < 64; i += 16)
        KEXPECT_EQ(p[i] & 15, 0);
    FreeMdlPages(mdl);
    /* Skip not a power of two: NULL. */
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, Pa(0x3000), 3 * PAGE_SIZE, MmCached,
                                       MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS), NULL);
    /* MM_ALLOCATE_FAST_LARGE_PAGES: 2 MiB chunks, 2 MiB aligned; needs chunks. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, Pa(0x200000), 0x200000, MmCached,
                                  MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_ALLOCATE_FAST_LARGE_PAGES |
                                      MM_DONT_ZERO_ALLOCATION);
    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(MmGetMdlPfnArray(mdl)[0] & 511, 0);
    KEXPECT_EQ(MmGetMdlPfnArray(mdl)[511], MmGetMdlPfnArray(mdl)[0] + 511);
    FreeMdlPages(mdl);
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, Pa(0x200000), 0x200000, MmCached,
                                       MM_ALLOCATE_FAST_LARGE_PAGES), NULL);
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, Pa(0x10000), 0x200000, MmCached,
                                       MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS | MM_ALLOCATE_FAST_LARGE_PAGES), NULL);
    /* MM_ALLOCATE_AND_HOT_REMOVE: not with FULLY_REQUIRED. */
    mdl = MmAllocatePagesForMdlEx(lo, hi, zero, PAGE_SIZE, MmCached, MM_ALLOCATE_AND_HOT_REMOVE);
    KASSERT_NE(mdl, NULL);
    FreeMdlPages(mdl);
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, zero, PAGE_SIZE, MmCached,
                                       MM_ALLOCATE_AND_HOT_REMOVE | MM_ALLOCATE_FULLY_REQUIRED), NULL);
    /* An unknown flag, a bad cache type, zero bytes: NULL. */
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, zero, PAGE_SIZE, MmCached, 0x10000), NULL);
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, zero, PAGE_SIZE, MmMaximumCacheType, 0), NULL);
    KEXPECT_EQ(MmAllocatePagesForMdlEx(lo, hi, zero, 0, MmCached, 0), NULL);
}

KTEST(mdl_pages, cache_type_recorded_and_used)
{
    PMDL mdl = MmAllocatePagesForMdlEx(Pa(0), Pa(~0ULL), Pa(0), 2 * PAGE_SIZE, MmNonCached, 0);
    PUCHAR va;

    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(MI_PFN_ELEMENT(MmGetMdlPfnArray(mdl)[0])->CacheAttribute, MiNonCached);
    /* Mapped "cached": the pages' own type wins (one type per page). */
    va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
    KASSERT_NE(va, NULL);
    KEXPECT_EQ(MiGetPteAddress(va)->Long & (MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH),
               MiCacheTypeToPteBits(MmNonCached));
    MmUnmapLockedPages(va, mdl);
    FreeMdlPages(mdl);
}

KTEST(mdl_pages, noncached_memory)
{
    PFN_NUMBER before = FreePages();
    PUCHAR va = MmAllocateNonCachedMemory(3 * PAGE_SIZE + 1);

    KASSERT_NE(va, NULL);
    KEXPECT_EQ(BYTE_OFFSET(va), 0);
    for (ULONG i = 0; i < 4; i++)
        KEXPECT_EQ(MiGetPteAddress(va + i * PAGE_SIZE)->Long & (MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH),
                   MiCacheTypeToPteBits(MmNonCached));
    va[0] = 1;
    va[3 * PAGE_SIZE] = 2;
    KEXPECT_EQ(va[0] + va[3 * PAGE_SIZE], 3);
    MmFreeNonCachedMemory(va, 3 * PAGE_SIZE + 1);
    KEXPECT_FALSE(MmIsAddressValid(va));
    KEXPECT_EQ(FreePages(), before);
    KEXPECT_EQ(MmAllocateNonCachedMemory(0), NULL);
}

KTEST(mdl_pages, reserved_mapping)
{
    PVOID base = MmAllocateMappingAddress(4 * PAGE_SIZE, 'tseR');
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, 6 * PAGE_SIZE, 'tseR');
    PMDL mdl, big;
    PUCHAR va;

    KASSERT_NE(base, NULL);
    KASSERT_NE(buf, NULL);
    KEXPECT_EQ(BYTE_OFFSET(base), 0);
    KEXPECT_FALSE(MmIsAddressValid(base));      /* addresses only */
    buf[0x123 + PAGE_SIZE] = 0x42;
    mdl = IoAllocateMdl(buf + 0x123, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    va = MmMapLockedPagesWithReservedMapping(base, 'tseR', mdl, MmCached);
    KEXPECT_EQ(va, (PUCHAR)base + 0x123);       /* the byte offset is kept */
    KEXPECT_EQ(mdl->MappedSystemVa, base);      /* without it, as NT */
    KEXPECT_EQ(va[PAGE_SIZE], 0x42);
    KEXPECT_EQ(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA, 0);
    MmUnmapReservedMapping(base, 'tseR', mdl);
    KEXPECT_FALSE(MmIsAddressValid(base));
    /* Reused for another buffer, then too big for the reservation: NULL. */
    va = MmMapLockedPagesWithReservedMapping(base, 'tseR', mdl, MmCached);
    KEXPECT_NE(va, NULL);
    MmUnmapReservedMapping(base, 'tseR', mdl);
    big = IoAllocateMdl(buf + 1, 4 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(big, NULL);
    MmProbeAndLockPages(big, KernelMode, IoReadAccess);
    KEXPECT_EQ(MmMapLockedPagesWithReservedMapping(base, 'tseR', big, MmCached), NULL);
    MmUnlockPages(big);
    IoFreeMdl(big);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    MmFreeMappingAddress(base, 'tseR');
    ExFreePoolWithTag(buf, 'tseR');
    KEXPECT_EQ(MmAllocateMappingAddress(0, 'tseR'), NULL);
}

KTEST(mdl_pages, priority_low_fails_first)
{
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, 'irpM');
    PMDL mdl;
    PMMPTE hog;
    ULONG hogged;
    PVOID va;

    KASSERT_NE(buf, NULL);
    mdl = IoAllocateMdl(buf, 16, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    /* Leave fewer free system PTEs than LowPagePriority may dip into,
     * more than NormalPagePriority needs. */
    hogged = (ULONG)(MiFreeSystemPteCount() - MM_SYSTEM_PTE_PAGES / 16);
    hog = MiReserveSystemPtes(hogged, SystemPteSpace);
    KASSERT_NE(hog, NULL);
    KEXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, LowPagePriority), NULL);
    va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    KEXPECT_NE(va, NULL);
    MiReleaseSystemPtes(hog, hogged, SystemPteSpace);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, 'irpM');
}

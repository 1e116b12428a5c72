/*
 * test_contig.c - MmAllocateContiguousMemory* keeps every promise it makes.
 *
 * Each returned buffer is checked page by page with MmGetPhysicalAddress:
 * physically contiguous, inside [Lowest, Highest], not crossing the
 * boundary, mapped with the requested cache type, writable to the last
 * byte. Invalid requests return NULL; exhaustion returns NULL and a full
 * free brings every page and every system PTE back.
 */
#include "../../mm/mm_internal.h"
#include "../ktest.h"

static PHYSICAL_ADDRESS Pa(ULONG64 Value)
{
    PHYSICAL_ADDRESS p;
    p.QuadPart = (LONGLONG)Value;
    return p;
}

static PFN_NUMBER FreePages(void)
{
    return MmFreePageListHead.Total + MmZeroedPageListHead.Total + MmLowFreePageListHead.Total;
}

/* Physically contiguous, inside [Low, High], not crossing Boundary. */
static BOOLEAN CheckRun(PVOID Va, SIZE_T Bytes, ULONG64 Low, ULONG64 High, ULONG64 Boundary)
{
    ULONG64 first = (ULONG64)MmGetPhysicalAddress(Va).QuadPart;
    ULONG64 last = first + ROUND_TO_PAGES(Bytes) - 1;

    if (first == 0 || first < Low || last > High)
        return FALSE;
    if (Boundary && (first & ~(Boundary - 1)) != (last & ~(Boundary - 1)))
        return FALSE;
    for (SIZE_T off = 0; off < Bytes; off += PAGE_SIZE)
        if ((ULONG64)MmGetPhysicalAddress((PUCHAR)Va + off).QuadPart != first + off)
            return FALSE;
    return TRUE;
}

KTEST(contig, isa_dma_below_16mib)
{
    PVOID p = MmAllocateContiguousMemory(64 * 1024, Pa(0xFFFFFF));

    KASSERT_NE(p, NULL);
    KEXPECT_TRUE(CheckRun(p, 64 * 1024, 0, 0xFFFFFF, 0));
    KEXPECT_EQ((ULONG64)p & (PAGE_SIZE - 1), 0);
    memset(p, 0x5A, 64 * 1024);
    MmFreeContiguousMemory(p);
}

KTEST(contig, below_4gib)
{
    PVOID p = MmAllocateContiguousMemorySpecifyCache(3 * PAGE_SIZE + 1, Pa(0), Pa(0xFFFFFFFF),
                                                     Pa(0), MmCached);

    KASSERT_NE(p, NULL);
    KEXPECT_TRUE(CheckRun(p, 4 * PAGE_SIZE, 0, 0xFFFFFFFF, 0));
    MmFreeContiguousMemory(p);
}

KTEST(contig, above_4gib)
{
    PVOID p;

    if (MmHighestPhysicalPage < (MM_4GB >> PAGE_SHIFT))
        KTEST_SKIP("needs RAM above 4 GiB");
    p = MmAllocateContiguousMemorySpecifyCache(1 << 20, Pa(MM_4GB), Pa(~0ULL), Pa(0), MmCached);
    KASSERT_NE(p, NULL);
    KEXPECT_TRUE(CheckRun(p, 1 << 20, MM_4GB, ~0ULL, 0));
    memset(p, 0xC3, 1 << 20);
    KEXPECT_EQ(((PUCHAR)p)[(1 << 20) - 1], 0xC3);
    MmFreeContiguousMemory(p);
}

KTEST(contig, boundary_64k_never_crossed)
{
    static PVOID held[64];
    ULONG n = 0;

    for (ULONG i = 0; i < 64; i++) {
        SIZE_T bytes = (SIZE_T)(1 + i % 16) * PAGE_SIZE;
        held[n] = MmAllocateContiguousMemorySpecifyCache(bytes, Pa(0), Pa(~0ULL), Pa(0x10000),
                                                         MmCached);
        KASSERT_NE(held[n], NULL);
        KEXPECT_TRUE(CheckRun(held[n], bytes, 0, ~0ULL, 0x10000));
        n++;
    }
    while (n > 0)
        MmFreeContiguousMemory(held[--n]);
}

KTEST(contig, invalid_requests_return_null)
{
    PFN_NUMBER before = FreePages();

    KEXPECT_EQ(MmAllocateContiguousMemory(0, Pa(~0ULL)), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemory(~(SIZE_T)0, Pa(~0ULL)), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemory((MmNumberOfPhysicalPages + 1) << PAGE_SHIFT, Pa(~0ULL)), NULL);
    /* A boundary that is not a power of two, or not page aligned. */
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0x3000), MmCached), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0x800), MmCached), NULL);
    /* Larger than the boundary: it cannot help crossing one. */
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(0x20000, Pa(0), Pa(~0ULL), Pa(0x10000), MmCached), NULL);
    /* Lowest above Highest; a range with no RAM; a bad cache type. */
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0x2000000), Pa(0x1000000), Pa(0), MmCached), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(0xFFFFF), Pa(0), MmCached), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0), MmMaximumCacheType), NULL);
    KEXPECT_EQ(FreePages(), before);
}

KTEST(contig, lowest_rounds_up)
{
    /* Lowest = 16 MiB + 1 byte: the first page must be above 16 MiB. */
    PVOID p = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0x1000001), Pa(~0ULL), Pa(0), MmCached);

    KASSERT_NE(p, NULL);
    KEXPECT_GE((ULONG64)MmGetPhysicalAddress(p).QuadPart, 0x1001000);
    MmFreeContiguousMemory(p);
}

KTEST(contig, cache_types_in_pte_and_pfn)
{
    static const struct { MEMORY_CACHING_TYPE Type; ULONG64 Bits; UCHAR Attribute; } cases[] = {
        {MmCached, 0, MiCached},
        {MmNonCached, MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH, MiNonCached},
        {MmWriteCombined, MM_PTE_WRITE_THROUGH, MiWriteCombined},
    };

    for (ULONG i = 0; i < ARRAYSIZE(cases); i++) {
        PVOID p = MmAllocateContiguousMemorySpecifyCache(2 * PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0),
                                                         cases[i].Type);
        PMMPTE pte;
        KASSERT_NE(p, NULL);
        pte = MiGetPteAddress(p);
        KEXPECT_EQ(pte->Long & (MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH | MM_PTE_PAT_4K),
                   cases[i].Bits);
        KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(*pte))->CacheAttribute, cases[i].Attribute);
        KEXPECT_TRUE(pte->Long & MM_PTE_WRITE);
        MmFreeContiguousMemorySpecifyCache(p, 2 * PAGE_SIZE, cases[i].Type);
    }
}

KTEST(contig, executable_and_node_protections)
{
    PVOID p = MmAllocateContiguousMemory(PAGE_SIZE, Pa(~0ULL));

    /* The older allocators return executable memory, as the Learn page says. */
    KASSERT_NE(p, NULL);
    KEXPECT_EQ(MiGetPteAddress(p)->Long & MM_PTE_NO_EXECUTE, 0);
    MmFreeContiguousMemory(p);

    p = MmAllocateContiguousNodeMemory(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0), PAGE_READWRITE, MM_ANY_NODE_OK);
    KASSERT_NE(p, NULL);
    KEXPECT_NE(MiGetPteAddress(p)->Long & MM_PTE_NO_EXECUTE, 0);
    MmFreeContiguousMemory(p);

    p = MmAllocateContiguousNodeMemory(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0),
                                       PAGE_EXECUTE_READWRITE | PAGE_NOCACHE, 0);
    KASSERT_NE(p, NULL);
    KEXPECT_EQ(MiGetPteAddress(p)->Long & MM_PTE_NO_EXECUTE, 0);
    KEXPECT_NE(MiGetPteAddress(p)->Long & MM_PTE_CACHE_DISABLE, 0);
    MmFreeContiguousMemory(p);

    KEXPECT_EQ(MmAllocateContiguousNodeMemory(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0), PAGE_READONLY, 0), NULL);
    KEXPECT_EQ(MmAllocateContiguousNodeMemory(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0),
                                              PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE, 0), NULL);
    KEXPECT_EQ(MmAllocateContiguousNodeMemory(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0), PAGE_READWRITE, 3), NULL);
}

KTEST(contig, exhaustion_returns_null_and_frees_everything)
{
    static PVOID held[4096];
    PFN_NUMBER freeBefore = FreePages(), ptesBefore = MiFreeSystemPteCount();
    SIZE_T chunk = 1 << 20;
    ULONG n = 0;

    /* Take memory in 1 MiB, then 4 KiB pieces until nothing is left. */
    while (n < ARRAYSIZE(held)) {
        PVOID p = MmAllocateContiguousMemory(chunk, Pa(~0ULL));
        if (p == NULL) {
            if (chunk == PAGE_SIZE)
                break;
            chunk = PAGE_SIZE;
            continue;
        }
        held[n++] = p;
    }
    if (n == ARRAYSIZE(held)) {
        while (n > 0)
            MmFreeContiguousMemory(held[--n]);
        KTEST_SKIP("more RAM than this test holds handles for");
    }
    KEXPECT_EQ(MmAllocateContiguousMemory(PAGE_SIZE, Pa(~0ULL)), NULL);
    while (n > 0)
        MmFreeContiguousMemory(held[--n]);
    KEXPECT_EQ(FreePages(), freeBefore);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptesBefore);
}

/* Random sizes, ranges and boundaries; every live run verified after each round. */
KTEST(contig, fragmentation_stress)
{
    static struct { PVOID Va; SIZE_T Bytes; ULONG64 Low, High, Boundary; UCHAR Fill; } runs[256];
    static const ULONG64 boundaries[] = {0, 0x10000, 0x100000, 0x1000000};
    PFN_NUMBER freeBefore = FreePages();
    ULONG64 rng = 0x9E3779B97F4A7C15ULL;
    ULONG live = 0;

    for (ULONG round = 0; round < 12; round++) {
        /* Allocate up to 64 more runs. */
        for (ULONG i = 0; i < 64 && live < ARRAYSIZE(runs); i++) {
            ULONG64 b, low, high;
            SIZE_T bytes;
            PVOID p;
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            bytes = (SIZE_T)(1 + rng % 64) * PAGE_SIZE - (rng >> 20) % PAGE_SIZE;
            b = boundaries[(rng >> 8) % 4];
            low = (rng >> 12) % 2 ? 0x1000000 : 0;
            high = (rng >> 13) % 3 == 0 ? 0xFFFFFFFF : ~0ULL;
            if (b && bytes > b)
                b = 0;
            p = MmAllocateContiguousMemorySpecifyCache(bytes, Pa(low), Pa(high), Pa(b), MmCached);
            if (p == NULL)
                continue;
            runs[live].Va = p;
            runs[live].Bytes = bytes;
            runs[live].Low = low;
            runs[live].High = high;
            runs[live].Boundary = b;
            runs[live].Fill = (UCHAR)(rng >> 24);
            memset(p, runs[live].Fill, bytes);
            live++;
        }
        /* Every live run: still contiguous, in range, and its contents intact. */
        for (ULONG i = 0; i < live; i++) {
            PUCHAR p = runs[i].Va;
            KEXPECT_TRUE(CheckRun(p, runs[i].Bytes, runs[i].Low, runs[i].High, runs[i].Boundary));
            KEXPECT_EQ(p[0], runs[i].Fill);
            KEXPECT_EQ(p[runs[i].Bytes - 1], runs[i].Fill);
            KEXPECT_EQ(p[runs[i].Bytes / 2], runs[i].Fill);
        }
        /* Free a random half. */
        for (ULONG i = 0; i < live;) {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
            if (rng & 1) {
                MmFreeContiguousMemory(runs[i].Va);
                runs[i] = runs[--live];
            } else {
                i++;
            }
        }
    }
    while (live > 0)
        MmFreeContiguousMemory(runs[--live].Va);
    KEXPECT_EQ(FreePages(), freeBefore);
}

KTEST(contig, free_count_and_tree_agree)
{
    KEXPECT_EQ(MiRunTreeFreeCount(&MiFreeRunTree), FreePages());
}

/* The MDL page-run core: pages in [Low, High], then shifted by SkipBytes. */
KTEST(contig, mdl_pages_with_skip_bytes)
{
    static PFN_NUMBER pages[512];
    PFN_NUMBER n, before = FreePages();
    KIRQL irql;

    /* 256 pages in [16 MiB, 17 MiB): exactly the 256 pages there, if free. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    n = MiAllocatePagesForMdlCore(Pa(0x1000000), Pa(0x10FFFFF), Pa(0), 512 * PAGE_SIZE, pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KEXPECT_LE(n, 256);                 /* fewer than asked: the range is only 1 MiB */
    KEXPECT_GT(n, 0);
    for (PFN_NUMBER i = 0; i < n; i++)
        KEXPECT_TRUE(pages[i] >= 0x1000 && pages[i] < 0x1100);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (PFN_NUMBER i = 0; i < n; i++)
        MiFreeActivePage(pages[i]);
    /* With SkipBytes = 2 MiB the next windows are [18, 19) MiB, [20, 21) MiB, ... */
    n = MiAllocatePagesForMdlCore(Pa(0x1000000), Pa(0x10FFFFF), Pa(0x200000), 512 * PAGE_SIZE, pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KEXPECT_EQ(n, 512);
    for (PFN_NUMBER i = 0; i < n; i++)
        KEXPECT_EQ(((pages[i] << PAGE_SHIFT) - 0x1000000) % 0x200000 < 0x100000, 1);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (PFN_NUMBER i = 0; i < n; i++)
        MiFreeActivePage(pages[i]);
    /* A skip that is not a multiple of the page size: nothing. */
    KEXPECT_EQ(MiAllocatePagesForMdlCore(Pa(0), Pa(~0ULL), Pa(0x800), PAGE_SIZE, pages), 0);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KEXPECT_EQ(FreePages(), before);
}

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
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0xA0000), Pa(0xFFFFF), Pa(0), MmCached), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(MM_LOW_RESERVED_LIMIT - 1), Pa(0),
                                                      MmCached), NULL);
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
            ULONG64 b, low, high, r;
            SIZE_T bytes;
            PVOID p;
            r = KtestRandom(&rng);
            bytes = (SIZE_T)(1 + r % 64) * PAGE_SIZE - (r >> 20) % PAGE_SIZE;
            b = boundaries[(r >> 8) % 4];
            low = (r >> 12) % 2 ? 0x1000000 : 0;
            high = (r >> 13) % 3 == 0 ? 0xFFFFFFFF : ~0ULL;
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
            runs[live].Fill = (UCHAR)(r >> 24);
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
            if (KtestRandom(&rng) & 1) {
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

/* ---- Against a brute-force first fit ------------------------------------------- */

static ULONG64 ContigRng = 0x243F6A8885A308D3ULL;

static ULONG64 ContigRand(void)
{
    return KtestRandom(&ContigRng);
}

/* Lowest run of Pages Zeroed/Free pages in [LowPfn, HighPfn] not crossing a
 * multiple of BoundaryPfn, by walking the PFN database page by page. */
static PFN_NUMBER BruteFirstFit(PFN_NUMBER Pages, PFN_NUMBER LowPfn, PFN_NUMBER HighPfn,
                                PFN_NUMBER BoundaryPfn)
{
    PFN_NUMBER start = 0, run = 0, previousEnd = MI_LIST_END;

    for (ULONG r = 0; r < MiPhysicalRunCount; r++) {
        PFN_NUMBER p = MiPhysicalRuns[r].BasePage, end = p + MiPhysicalRuns[r].PageCount;
        if (p != previousEnd)
            run = 0;                    /* a hole ends every run */
        previousEnd = end;
        for (; p < end; p++) {
            if (p < LowPfn || p > HighPfn || MI_PFN_ELEMENT(p)->PageLocation > FreePageList) {
                run = 0;
                continue;
            }
            if (run == 0 || (BoundaryPfn && (p & (BoundaryPfn - 1)) == 0)) {
                start = p;
                run = 0;
            }
            if (++run == Pages)
                return start;
        }
    }
    return MI_LIST_END;
}

/* What the allocator must return for a request, written out from the
 * contract (rounding, clamping, nolowmem, boundary rules), or MI_LIST_END. */
static PFN_NUMBER ExpectedFirstFit(SIZE_T Bytes, ULONG64 Low, ULONG64 High, ULONG64 Boundary)
{
    PFN_NUMBER pages = BYTES_TO_PAGES(Bytes), lowPfn, highPfn, boundaryPfn = 0;

    if (Bytes == 0 || Bytes > (MmNumberOfPhysicalPages << PAGE_SHIFT))
        return MI_LIST_END;
    lowPfn = (Low >> PAGE_SHIFT) + ((Low & (PAGE_SIZE - 1)) != 0);
    highPfn = High >> PAGE_SHIFT;
    if (highPfn > MmHighestPhysicalPage)
        highPfn = MmHighestPhysicalPage;
    if (MiNoLowMemory && highPfn >= (MM_4GB >> PAGE_SHIFT) && lowPfn < (MM_4GB >> PAGE_SHIFT))
        lowPfn = MM_4GB >> PAGE_SHIFT;
    if (lowPfn > highPfn)
        return MI_LIST_END;
    if (Boundary) {
        if ((Boundary & (Boundary - 1)) || (Boundary & (PAGE_SIZE - 1)))
            return MI_LIST_END;
        boundaryPfn = Boundary >> PAGE_SHIFT;
        if (pages > boundaryPfn)
            return MI_LIST_END;
    }
    return BruteFirstFit(pages, lowPfn, highPfn, boundaryPfn);
}

typedef struct _CONTIG_LIVE {
    PULONG64 Va;
    SIZE_T Bytes;
    ULONG64 Seed;
} CONTIG_LIVE;

/* Every whole quadword of the buffer, each with its own value. */
static void ContigFill(CONTIG_LIVE *L)
{
    for (SIZE_T i = 0; i < L->Bytes / 8; i++)
        L->Va[i] = L->Seed ^ i;
}

static BOOLEAN ContigIntact(CONTIG_LIVE *L)
{
    for (SIZE_T i = 0; i < L->Bytes / 8; i++)
        if (L->Va[i] != (L->Seed ^ i))
            return FALSE;
    return TRUE;
}

/*
 * Random sizes, windows, boundaries (valid and not) and cache types. Before
 * each call the PFN database is searched page by page: NULL is right only
 * when no qualifying run exists, and otherwise the allocator must return
 * the lowest one (the tree's first fit) with every page in place. A random
 * part stays allocated and filled, so later requests meet fragmentation;
 * the contents are checked when each is freed.
 */
KTEST(contig, first_fit_matches_brute_force)
{
    static const ULONG64 boundaries[] = {0, 0x1000, 0x2000, 0x10000, 0x100000, 0x1000000,
                                         MM_4GB, 0x8000000000000000ULL, 0x3000, 0x800};
    static CONTIG_LIVE live[256];
    ULONG64 top = (MmHighestPhysicalPage + 1) << PAGE_SHIFT;
    PFN_NUMBER freeBefore = FreePages(), ptesBefore = MiFreeSystemPteCount();
    /* The brute-force walk is O(RAM): fewer requests on big machines. */
    ULONG requests = MmNumberOfPhysicalPages > (1ULL << 20) ? 120 : 1000, held = 0;

    for (ULONG i = 0; i < requests && !KtestCurrentFailed; i++) {
        ULONG64 low, high, boundary = boundaries[ContigRand() % ARRAYSIZE(boundaries)];
        MEMORY_CACHING_TYPE type = (MEMORY_CACHING_TYPE)(ContigRand() % 3);
        PFN_NUMBER expected;
        SIZE_T bytes;
        PUCHAR va;

        switch (ContigRand() % 4) {
        case 0: bytes = (1 + ContigRand() % 8) * PAGE_SIZE; break;
        case 1: bytes = 1 + ContigRand() % (64 * PAGE_SIZE); break;
        case 2: bytes = (1 + ContigRand() % 600) * PAGE_SIZE - ContigRand() % PAGE_SIZE; break;
        default: bytes = (1 + ContigRand() % 4096) * PAGE_SIZE; break;
        }
        low = ContigRand() % 3 == 0 ? 0 : ContigRand() % top;
        high = ContigRand() % 3 == 0 ? ~0ULL : low + ContigRand() % (top / 4 + 1);
        if (ContigRand() % 16 == 0)
            high = low - 1 - ContigRand() % 0x10000;       /* Highest below Lowest */
        expected = ExpectedFirstFit(bytes, low, high, boundary);
        va = MmAllocateContiguousMemorySpecifyCache(bytes, Pa(low), Pa(high), Pa(boundary), type);
        if (expected == MI_LIST_END) {
            if (va != NULL) {
                KtestFail(__FILE__, __LINE__, "%llx bytes in [%llx, %llx], boundary %llx: got %p, "
                          "expected NULL", (ULONG64)bytes, low, high, boundary, va);
                MmFreeContiguousMemory(va);
            }
            continue;
        }
        if (va == NULL) {
            KtestFail(__FILE__, __LINE__, "%llx bytes in [%llx, %llx], boundary %llx: NULL, but "
                      "PFN %llx starts a free run", (ULONG64)bytes, low, high, boundary, expected);
            continue;
        }
        /* Exactly [expected, expected + pages): the lowest fit, page by page. */
        KEXPECT_TRUE(CheckRun(va, bytes, expected << PAGE_SHIFT,
                              (expected << PAGE_SHIFT) + ROUND_TO_PAGES(bytes) - 1, boundary));
        if (held < ARRAYSIZE(live) && bytes <= 256 * PAGE_SIZE && (ContigRand() & 1)) {
            live[held] = (CONTIG_LIVE){(PULONG64)va, bytes, ContigRand()};
            ContigFill(&live[held++]);
        } else {
            MmFreeContiguousMemory(va);
        }
        if (held > 0 && ContigRand() % 8 == 0) {
            ULONG k = (ULONG)(ContigRand() % held);
            KEXPECT_TRUE(ContigIntact(&live[k]));
            MmFreeContiguousMemory(live[k].Va);
            live[k] = live[--held];
        }
    }
    while (held > 0) {
        KEXPECT_TRUE(ContigIntact(&live[--held]));
        MmFreeContiguousMemory(live[held].Va);
    }
    KEXPECT_EQ(FreePages(), freeBefore);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptesBefore);
    KEXPECT_TRUE(MiRunTreeVerify(&MiFreeRunTree));
}

/* ---- PFN entries, every page's PTE, IRQL, edges ----------------------------------- */

KTEST(contig, pfn_entries_while_allocated_and_after_free)
{
    PUCHAR va = MmAllocateContiguousMemorySpecifyCache(5 * PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0),
                                                       MmWriteCombined);
    PFN_NUMBER first;

    KASSERT_NE(va, NULL);
    first = (ULONG64)MmGetPhysicalAddress(va).QuadPart >> PAGE_SHIFT;
    for (ULONG i = 0; i < 5; i++) {
        PMMPFN pfn = MI_PFN_ELEMENT(first + i);
        KEXPECT_EQ(pfn->PageLocation, ActiveAndValid);
        KEXPECT_EQ(pfn->ReferenceCount, 1);
        KEXPECT_EQ(pfn->u2.ShareCount, 1);
        KEXPECT_EQ(pfn->PteAddress, MiGetPteAddress(va + i * PAGE_SIZE));
        KEXPECT_EQ(pfn->CacheAttribute, MiWriteCombined);
        /* The free checks these two flags: only the first and the last page. */
        KEXPECT_EQ(!!(pfn->Flags & MI_PFN_START_OF_ALLOCATION), i == 0);
        KEXPECT_EQ(!!(pfn->Flags & MI_PFN_END_OF_ALLOCATION), i == 4);
        KEXPECT_FALSE(MiRunTreeIsFree(&MiFreeRunTree, first + i));
    }
    MmFreeContiguousMemory(va);
    KEXPECT_FALSE(MmIsAddressValid(va));
    for (ULONG i = 0; i < 5; i++) {
        PMMPFN pfn = MI_PFN_ELEMENT(first + i);
        KEXPECT_ULE(pfn->PageLocation, FreePageList);
        KEXPECT_EQ(pfn->Flags & (MI_PFN_START_OF_ALLOCATION | MI_PFN_END_OF_ALLOCATION), 0);
        KEXPECT_EQ(pfn->CacheAttribute, MiNotMapped);
        KEXPECT_TRUE(MiRunTreeIsFree(&MiFreeRunTree, first + i));
    }

    /* One page is both the start and the end. */
    va = MmAllocateContiguousMemory(1, Pa(~0ULL));
    KASSERT_NE(va, NULL);
    KEXPECT_EQ(MI_PFN_ELEMENT((ULONG64)MmGetPhysicalAddress(va).QuadPart >> PAGE_SHIFT)->Flags &
                   (MI_PFN_START_OF_ALLOCATION | MI_PFN_END_OF_ALLOCATION),
               MI_PFN_START_OF_ALLOCATION | MI_PFN_END_OF_ALLOCATION);
    MmFreeContiguousMemory(va);
}

/* Types 3-5 are reserved but accepted (NT maps them to its table); only the
 * low byte counts. Every page of the range, not just the first, and the
 * SpecifyCache allocator's memory is executable like MmAllocateContiguousMemory's. */
KTEST(contig, every_cache_type_on_every_page)
{
    static const ULONG types[] = {0, 1, 2, 3, 4, 5, 0x101, 6, 0x106, 0xFF};

    for (ULONG t = 0; t < ARRAYSIZE(types); t++) {
        MEMORY_CACHING_TYPE effective = (MEMORY_CACHING_TYPE)(types[t] & 0xFF);
        PUCHAR va = MmAllocateContiguousMemorySpecifyCache(3 * PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0),
                                                           (MEMORY_CACHING_TYPE)types[t]);
        if (effective >= MmMaximumCacheType) {
            KEXPECT_EQ(va, NULL);
            continue;
        }
        KASSERT_NE(va, NULL);
        for (ULONG i = 0; i < 3; i++) {
            ULONG64 pte = MiGetPteAddress(va + i * PAGE_SIZE)->Long;
            KEXPECT_EQ(pte & (MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH | MM_PTE_PAT_4K),
                       MiCacheTypeToPteBits(effective));
            KEXPECT_EQ(pte & MM_PTE_NO_EXECUTE, 0);
            KEXPECT_NE(pte & MM_PTE_WRITE, 0);
        }
        MmFreeContiguousMemorySpecifyCache(va, 3 * PAGE_SIZE, (MEMORY_CACHING_TYPE)types[t]);
    }
}

KTEST(contig, node_memory_protect_and_node_table)
{
    static const struct { ULONG Protect, Node; BOOLEAN Valid; ULONG64 Bits; } cases[] = {
        {PAGE_READWRITE, MM_ANY_NODE_OK, TRUE, MM_PTE_NO_EXECUTE},
        {PAGE_READWRITE, 0, TRUE, MM_PTE_NO_EXECUTE},
        {PAGE_READWRITE | PAGE_NOCACHE, 0, TRUE,
         MM_PTE_NO_EXECUTE | MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH},
        {PAGE_READWRITE | PAGE_WRITECOMBINE, 0, TRUE, MM_PTE_NO_EXECUTE | MM_PTE_WRITE_THROUGH},
        {PAGE_EXECUTE_READWRITE, 0, TRUE, 0},
        {PAGE_EXECUTE_READWRITE | PAGE_WRITECOMBINE, MM_ANY_NODE_OK, TRUE, MM_PTE_WRITE_THROUGH},
        {PAGE_READONLY, 0, FALSE, 0},
        {PAGE_EXECUTE, 0, FALSE, 0},
        {PAGE_EXECUTE_READ, 0, FALSE, 0},
        {PAGE_NOACCESS, 0, FALSE, 0},
        {0, 0, FALSE, 0},
        {PAGE_READWRITE | 0x100 /* PAGE_GUARD */, 0, FALSE, 0},
        {PAGE_READWRITE | PAGE_EXECUTE_READWRITE, 0, FALSE, 0},
        {PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE, 0, FALSE, 0},
        {PAGE_READWRITE, 1, FALSE, 0},
        {PAGE_READWRITE, 63, FALSE, 0},
        {PAGE_READWRITE, MM_ANY_NODE_OK | 1, FALSE, 0},
    };
    PFN_NUMBER freeBefore = FreePages();

    for (ULONG i = 0; i < ARRAYSIZE(cases); i++) {
        PUCHAR va = MmAllocateContiguousNodeMemory(2 * PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(0),
                                                   cases[i].Protect, cases[i].Node);
        if (!cases[i].Valid) {
            if (va != NULL) {
                KtestFail(__FILE__, __LINE__, "case %u (Protect %x, node %x) is not NULL", i,
                          cases[i].Protect, cases[i].Node);
                MmFreeContiguousMemory(va);
            }
            continue;
        }
        if (va == NULL) {
            KtestFail(__FILE__, __LINE__, "case %u (Protect %x, node %x) is NULL", i,
                      cases[i].Protect, cases[i].Node);
            continue;
        }
        for (ULONG p = 0; p < 2; p++)
            KEXPECT_EQ(MiGetPteAddress(va + p * PAGE_SIZE)->Long &
                           (MM_PTE_NO_EXECUTE | MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH |
                            MM_PTE_PAT_4K),
                       cases[i].Bits);
        va[2 * PAGE_SIZE - 1] = 7;
        MmFreeContiguousMemory(va);
    }
    KEXPECT_EQ(FreePages(), freeBefore);
}

/* Allocate and free are both allowed at DISPATCH_LEVEL (Server 2008 on, for the free). */
KTEST(contig, at_dispatch_level)
{
    PUCHAR va;
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    va = MmAllocateContiguousMemory(3 * PAGE_SIZE, Pa(~0ULL));
    if (va != NULL) {
        memset(va, 0xA5, 3 * PAGE_SIZE);
        MmFreeContiguousMemory(va);
    }
    KeLowerIrql(old);
    KEXPECT_NE(va, NULL);
}

KTEST(contig, edges)
{
    PFN_NUMBER top = MmHighestPhysicalPage;
    BOOLEAN topFree = BruteFirstFit(1, top, top, 0) != MI_LIST_END;
    PUCHAR va;

    /* A boundary of one page: one page fits, a byte more cannot. */
    va = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(~0ULL), Pa(PAGE_SIZE), MmCached);
    KEXPECT_NE(va, NULL);
    if (va != NULL)
        MmFreeContiguousMemory(va);
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE + 1, Pa(0), Pa(~0ULL), Pa(PAGE_SIZE),
                                                      MmCached), NULL);
    /* The largest power of two is a valid boundary. */
    va = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(~0ULL),
                                                Pa(0x8000000000000000ULL), MmCached);
    KEXPECT_NE(va, NULL);
    if (va != NULL)
        MmFreeContiguousMemory(va);
    /* Lowest all ones; Highest inside the first page; all of RAM; 2^63 bytes. */
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(~0ULL), Pa(~0ULL), Pa(0), MmCached), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(0), Pa(0xFFF), Pa(0), MmCached), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemory(MmNumberOfPhysicalPages << PAGE_SHIFT, Pa(~0ULL)), NULL);
    KEXPECT_EQ(MmAllocateContiguousMemory(0x8000000000000000ULL, Pa(~0ULL)), NULL);
    /* Highest is inclusive: a window of exactly the last RAM page. */
    va = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, Pa(top << PAGE_SHIFT),
                                                Pa((top << PAGE_SHIFT) + PAGE_SIZE - 1), Pa(0), MmCached);
    KEXPECT_EQ(va != NULL, topFree);
    if (va != NULL) {
        KEXPECT_EQ((ULONG64)MmGetPhysicalAddress(va).QuadPart, top << PAGE_SHIFT);
        va[PAGE_SIZE - 1] = 1;
        MmFreeContiguousMemory(va);
    }
}

/* Boot with nolowmem on a machine with RAM above 4 GiB to run this one. */
KTEST(contig, nolowmem_keeps_low_memory_for_those_who_ask)
{
    PFN_NUMBER lowBefore = MmLowFreePageListHead.Total;
    PUCHAR va;

    if (!MiNoLowMemory)
        KTEST_SKIP("needs the nolowmem boot option and RAM above 4 GiB");
    /* Highest above 4 GiB: nothing from below 4 GiB. */
    va = MmAllocateContiguousMemory(16 * PAGE_SIZE, Pa(~0ULL));
    KASSERT_NE(va, NULL);
    KEXPECT_GE((ULONG64)MmGetPhysicalAddress(va).QuadPart, MM_4GB);
    KEXPECT_EQ(MmLowFreePageListHead.Total, lowBefore);
    MmFreeContiguousMemory(va);
    /* Highest below 4 GiB: from the low list, and back to it. */
    va = MmAllocateContiguousMemory(16 * PAGE_SIZE, Pa(0xFFFFFFFF));
    KASSERT_NE(va, NULL);
    KEXPECT_LT((ULONG64)MmGetPhysicalAddress(va).QuadPart, MM_4GB);
    KEXPECT_EQ(MmLowFreePageListHead.Total, lowBefore - 16);
    MmFreeContiguousMemory(va);
    KEXPECT_EQ(MmLowFreePageListHead.Total, lowBefore);
}

KTEST(contig, physical_memory_ranges_cover_managed_ram)
{
    PPHYSICAL_MEMORY_RANGE ranges = MmGetPhysicalMemoryRanges();
    PHYSICAL_ADDRESS kernel = MmGetPhysicalAddress((PVOID)KiTextStart);
    ULONG64 total = 0, previousEnd = 0;
    BOOLEAN holdsKernel = FALSE;
    ULONG n;

    KASSERT_TRUE(ranges != NULL);
    for (n = 0; ranges[n].NumberOfBytes.QuadPart != 0; n++) {
        ULONG64 base = (ULONG64)ranges[n].BaseAddress.QuadPart;
        ULONG64 size = (ULONG64)ranges[n].NumberOfBytes.QuadPart;
        KEXPECT_EQ(base % PAGE_SIZE, 0);
        KEXPECT_EQ(size % PAGE_SIZE, 0);
        KEXPECT_GE(base, previousEnd);              /* ascending, no overlap */
        previousEnd = base + size;
        total += size;
        if ((ULONG64)kernel.QuadPart >= base && (ULONG64)kernel.QuadPart < base + size)
            holdsKernel = TRUE;
    }
    KEXPECT_EQ(ranges[n].BaseAddress.QuadPart, 0);
    KEXPECT_EQ(total, MmNumberOfPhysicalPages << PAGE_SHIFT);
    KEXPECT_TRUE(holdsKernel);
    KEXPECT_EQ(previousEnd, (MmHighestPhysicalPage + 1) << PAGE_SHIFT);
    ExFreePool(ranges);
}

/*
 * test_pool.c - the pool's hardware-free parts, on the host, against models.
 *
 * mm/poolblock.c, mm/bigpool.c and mm/pooltrack.c touch no hardware, so
 * the Makefile compiles them natively into the host tests (ASan + UBSan).
 *
 *   poolblock.c  a descriptor whose pages come from aligned_alloc is driven
 *                with long random sequences of ExpAllocateBlock and
 *                ExpFreeBlock. A model knows every live block; every body
 *                is filled with a per-block pattern that is verified before
 *                the free, and every few steps a checker walks every live
 *                page, every size list and the kept empty pages and checks
 *                the invariants stated at the top of poolblock.c. Pages
 *                freed go back to libc at once, so ASan catches any later
 *                touch of one; runs are made with 0, 1 and the default
 *                number of kept empty pages.
 *   bigpool.c    the big-page table against an array model: inserts, finds,
 *                removals (backward shift), growth.
 *   pooltrack.c  PoolMon's per-tag counters: sums over processors, the
 *                PROTECTED_POOL bit, 'None' for tag 0, the 'Ovfl' entry.
 *
 * KeBugCheckEx comes from test_pfnlists.c or test_mm_arith.c (it reports
 * and aborts); DbgPrint from host_main.c. This file defines no kernel
 * routine, so it collides with none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ktest.h"
#include "../../mm/pool_internal.h"

static ULONG64 PtRng;

static ULONG64 PtRand(void)
{
    return KtestRandom(&PtRng);
}

static ULONG PtRandBelow(ULONG N)
{
    return (ULONG)(PtRand() % N);
}

/* ---- a small pointer -> value map (open addressing, backward-shift delete) ------------- */

typedef struct _PT_MAP {
    ULONG64 *Keys;                  /* 0 = empty */
    LONG64 *Values;
    SIZE_T Size, Used;              /* Size a power of two */
} PT_MAP;

static void PtMapInit(PT_MAP *Map, SIZE_T Size)
{
    Map->Keys = calloc(Size, sizeof(ULONG64));
    Map->Values = calloc(Size, sizeof(LONG64));
    Map->Size = Size;
    Map->Used = 0;
}

static void PtMapDestroy(PT_MAP *Map)
{
    free(Map->Keys);
    free(Map->Values);
}

static void PtMapClear(PT_MAP *Map)
{
    memset(Map->Keys, 0, Map->Size * sizeof(ULONG64));
    Map->Used = 0;
}

static SIZE_T PtMapHome(PT_MAP *Map, ULONG64 Key)
{
    return (SIZE_T)((Key * 0x9E3779B97F4A7C15ULL) >> 40) & (Map->Size - 1);
}

/* The slot of Key, or the empty slot where it would go. */
static SIZE_T PtMapSlot(PT_MAP *Map, ULONG64 Key)
{
    SIZE_T i = PtMapHome(Map, Key);

    while (Map->Keys[i] != 0 && Map->Keys[i] != Key)
        i = (i + 1) & (Map->Size - 1);
    return i;
}

static LONG64 *PtMapFind(PT_MAP *Map, const void *Key)
{
    SIZE_T i = PtMapSlot(Map, (ULONG64)Key);

    return Map->Keys[i] != 0 ? &Map->Values[i] : NULL;
}

static LONG64 *PtMapInsert(PT_MAP *Map, const void *Key, LONG64 Value)
{
    SIZE_T i = PtMapSlot(Map, (ULONG64)Key);

    if (Map->Keys[i] == 0) {
        if ((Map->Used + 1) * 2 > Map->Size) {
            fprintf(stderr, "test_pool: map full\n");
            abort();
        }
        Map->Keys[i] = (ULONG64)Key;
        Map->Used++;
    }
    Map->Values[i] = Value;
    return &Map->Values[i];
}

static void PtMapRemove(PT_MAP *Map, const void *Key)
{
    SIZE_T mask = Map->Size - 1, hole = PtMapSlot(Map, (ULONG64)Key), j;

    if (Map->Keys[hole] == 0)
        return;
    Map->Keys[hole] = 0;
    Map->Used--;
    for (j = (hole + 1) & mask; Map->Keys[j] != 0; j = (j + 1) & mask) {
        SIZE_T home = PtMapHome(Map, Map->Keys[j]);
        BOOLEAN stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            Map->Keys[hole] = Map->Keys[j];
            Map->Values[hole] = Map->Values[j];
            Map->Keys[j] = 0;
            hole = j;
        }
    }
}

/* ---- poolblock.c: the harness descriptor and its model --------------------------------- */

#define PB_MAX_LIVE 2500
#define PB_MAP_SIZE 16384

typedef struct _PB_BLOCK {
    PPOOL_HEADER Entry;
    ULONG Units;
    BOOLEAN Aligned;
    ULONG64 Pattern;
} PB_BLOCK;

static POOL_DESCRIPTOR PbDescriptor;
static PB_BLOCK PbLive[PB_MAX_LIVE];
static ULONG PbLiveCount;
static PT_MAP PbPages;              /* page handed out -> live blocks in it (model) */
static PT_MAP PbBlocks;             /* live block header -> index in PbLive */
static PT_MAP PbFreeSeen;           /* checker: free blocks of >= 2 units -> seen on a list */
static ULONG PbPageAllocs, PbPageFrees, PbBadFreePage;
static ULONG64 PbPatternSeed;

static PVOID PbAllocatePage(PPOOL_DESCRIPTOR Descriptor)
{
    PVOID page = aligned_alloc(PAGE_SIZE, PAGE_SIZE);

    (void)Descriptor;
    /* Garbage, not zeroes: poolblock.c must not rely on a clean page. */
    memset(page, 0xA5, PAGE_SIZE);
    PtMapInsert(&PbPages, page, 0);
    PbPageAllocs++;
    return page;
}

static VOID PbFreePage(PPOOL_DESCRIPTOR Descriptor, PVOID Page)
{
    LONG64 *live = PtMapFind(&PbPages, Page);

    (void)Descriptor;
    /* Only a page we handed out, and only when the model has nothing in it. */
    if (live == NULL || *live != 0 || ((ULONG64)Page & (PAGE_SIZE - 1)) != 0) {
        fprintf(stderr, "FreePage(%p): %s\n", Page,
                live == NULL ? "not a page handed out" : "page still has live blocks");
        PbBadFreePage++;
        return;
    }
    PtMapRemove(&PbPages, Page);
    PbPageFrees++;
    free(Page);
}

/* A new descriptor that keeps up to Keep empty pages. */
static void PbReset(ULONG64 Seed, ULONG Keep)
{
    PtRng = Seed;
    PbPatternSeed = Seed;
    PtMapInit(&PbPages, PB_MAP_SIZE);
    PtMapInit(&PbBlocks, PB_MAP_SIZE);
    PtMapInit(&PbFreeSeen, PB_MAP_SIZE);
    PbLiveCount = 0;
    PbPageAllocs = PbPageFrees = PbBadFreePage = 0;
    ExpInitializePoolDescriptor(&PbDescriptor, NonPagedPool, EXP_NONPAGED_NX, PbAllocatePage,
                                PbFreePage);
    PbDescriptor.EmptyPageLimit = Keep;
}

static void PbTeardown(void)
{
    /* Pages the descriptor still keeps go back through its FreePage. */
    ExpReleaseEmptyPages(&PbDescriptor, 0);
    PtMapDestroy(&PbPages);
    PtMapDestroy(&PbBlocks);
    PtMapDestroy(&PbFreeSeen);
}


static PVOID PbPageOf(const void *Va)
{
    return (PVOID)((ULONG64)Va & ~(ULONG64)(PAGE_SIZE - 1));
}

static SIZE_T PbBodyWords(ULONG Units)
{
    return ((SIZE_T)Units - 1) * POOL_BLOCK_SIZE / sizeof(ULONG64);
}

/* Each word differs, so a block copied or shifted is caught too. */
static ULONG64 PbWord(ULONG64 Pattern, SIZE_T I)
{
    return Pattern ^ (I * 0x9E3779B97F4A7C15ULL);
}

static void PbFill(PB_BLOCK *B)
{
    ULONG64 *w = ExpBlockBody(B->Entry);

    for (SIZE_T i = 0; i < PbBodyWords(B->Units); i++)
        w[i] = PbWord(B->Pattern, i);
}

static BOOLEAN PbVerify(PB_BLOCK *B)
{
    ULONG64 *w = ExpBlockBody(B->Entry);

    for (SIZE_T i = 0; i < PbBodyWords(B->Units); i++)
        if (w[i] != PbWord(B->Pattern, i))
            return FALSE;
    return TRUE;
}


/* A failed check inside a helper: report where, and make the helper return FALSE. */
#define PB_CHECK(Cond, ...)                                                    \
    do {                                                                     \
        if (!(Cond)) {                                                       \
            KtestFail(__FILE__, __LINE__, __VA_ARGS__);                      \
            return FALSE;                                                    \
        }                                                                    \
    } while (0)

/* Allocate through poolblock.c and record the block in the model. */
static BOOLEAN PbAllocate(ULONG Units, BOOLEAN Aligned)
{
    PPOOL_HEADER e = ExpAllocateBlock(&PbDescriptor, Units, Aligned);
    ULONG need = Aligned ? Units + POOL_CACHE_ALIGN_UNITS - 1 : Units;
    PB_BLOCK *b;
    LONG64 *live;

    if (Units < 2 || need >= POOL_PAGE_UNITS) {
        PB_CHECK(e == NULL, "units %u aligned %u: expected NULL, got %p", Units, Aligned,
                 (void *)e);
        return TRUE;
    }
    PB_CHECK(e != NULL, "units %u aligned %u: NULL", Units, Aligned);
    PB_CHECK(e->BlockSize == Units, "units %u: BlockSize %u", Units, e->BlockSize);
    PB_CHECK(e->PoolType == NonPagedPool + 1, "PoolType %u", e->PoolType);
    PB_CHECK(e->PoolIndex == EXP_NONPAGED_NX, "PoolIndex %u", e->PoolIndex);
    PB_CHECK(!Aligned || ((ULONG64)ExpBlockBody(e) & (POOL_CACHE_ALIGNMENT - 1)) == 0,
             "cache-aligned body %p", ExpBlockBody(e));
    PB_CHECK(ExpPageOffset(e) + ((SIZE_T)Units << POOL_BLOCK_SHIFT) <= PAGE_SIZE,
             "block %p of %u units crosses its page", (void *)e, Units);
    live = PtMapFind(&PbPages, PbPageOf(e));
    PB_CHECK(live != NULL, "block %p is not in a page handed out", (void *)e);
    PB_CHECK(PtMapFind(&PbBlocks, e) == NULL, "block %p handed out twice", (void *)e);
    (*live)++;
    e->PoolTag = 'tsTP';
    b = &PbLive[PbLiveCount];
    b->Entry = e;
    b->Units = Units;
    b->Aligned = Aligned;
    b->Pattern = PbPatternSeed++ * 0xD6E8FEB86659FD93ULL;
    PbFill(b);
    PtMapInsert(&PbBlocks, e, PbLiveCount);
    PbLiveCount++;
    return TRUE;
}

/* Verify the body, take the block out of the model, free it. */
static BOOLEAN PbFree(ULONG Index)
{
    PB_BLOCK b = PbLive[Index];
    LONG64 *live = PtMapFind(&PbPages, PbPageOf(b.Entry));

    PB_CHECK(PbVerify(&b), "block %p (%u units): body changed while allocated",
             (void *)b.Entry, b.Units);
    PB_CHECK(b.Entry->BlockSize == b.Units && b.Entry->PoolType != 0,
             "block %p: header changed (size %u type %u)", (void *)b.Entry,
             b.Entry->BlockSize, b.Entry->PoolType);
    PB_CHECK(live != NULL && *live > 0, "block %p: page not live in the model", (void *)b.Entry);
    /* The page walk pool.c does before a free must accept it. */
    ExpCheckPoolBlocks(b.Entry);
    ExpCheckBlockHeader(b.Entry);
    (*live)--;
    PtMapRemove(&PbBlocks, b.Entry);
    PbLive[Index] = PbLive[--PbLiveCount];
    if (Index < PbLiveCount)
        PtMapInsert(&PbBlocks, PbLive[Index].Entry, Index);
    ExpFreeBlock(&PbDescriptor, b.Entry);
    PB_CHECK(PbBadFreePage == 0, "FreePage got a page it should not have");
    return TRUE;
}

/*
 * Every invariant of poolblock.c, by walking every live page and every
 * list: the blocks tile each page, the PreviousSize chain agrees, no two
 * free blocks are neighbours, allocated blocks are exactly the model's,
 * every free block of two units or more is on ListHeads[size - 1] exactly
 * once and every listed block is such a block, NonEmpty matches the lists,
 * and every page handed out holds a live block, except the kept empty
 * pages: at most EmptyPageLimit, each on the EmptyPages list once, marked,
 * and empty in the model.
 */
#define PB_KEPT_PAGE 2              /* PbFreeSeen value of a kept empty page */

static BOOLEAN PbCheckAll(void)
{
    SIZE_T freeBlocks = 0, listed = 0;
    ULONG kept = 0;

    PtMapClear(&PbFreeSeen);
    PB_CHECK(PbDescriptor.TotalPages == PbPages.Used, "TotalPages %llu, pages handed out %llu",
             PbDescriptor.TotalPages, PbPages.Used);
    for (PPOOL_HEADER page = PbDescriptor.EmptyPages; page != NULL;
         page = *(PPOOL_HEADER *)ExpBlockBody(page)) {
        LONG64 *live = PtMapFind(&PbPages, page);
        PB_CHECK(kept < PbDescriptor.EmptyPageLimit, "more kept pages than the limit %u",
                 PbDescriptor.EmptyPageLimit);
        PB_CHECK(live != NULL, "kept page %p was not handed out", (void *)page);
        PB_CHECK(*live == 0, "kept page %p has %lld live blocks", (void *)page, (long long)*live);
        PB_CHECK(PtMapFind(&PbFreeSeen, page) == NULL, "page %p kept twice", (void *)page);
        PB_CHECK(ExpIsKeptEmptyPage(page) && page->PoolIndex == EXP_NONPAGED_NX,
                 "kept page %p: header %u/%u/%u/%u", (void *)page, page->PreviousSize,
                 page->PoolIndex, page->BlockSize, page->PoolType);
        PtMapInsert(&PbFreeSeen, page, PB_KEPT_PAGE);
        kept++;
    }
    PB_CHECK(kept == PbDescriptor.EmptyPageCount, "EmptyPageCount %u, %u on the list",
             PbDescriptor.EmptyPageCount, kept);
    for (SIZE_T slot = 0; slot < PbPages.Size; slot++) {
        PUCHAR page = (PUCHAR)PbPages.Keys[slot];
        ULONG offset = 0, previous = 0, allocated = 0;
        BOOLEAN previousFree = FALSE;
        PPOOL_HEADER before = NULL;
        LONG64 *seen;

        if (page == NULL)
            continue;
        seen = PtMapFind(&PbFreeSeen, page);
        if (seen != NULL && *seen == PB_KEPT_PAGE)
            continue;
        PB_CHECK(PbPages.Values[slot] > 0, "page %p is empty in the model but was neither "
                 "kept nor given back", (void *)page);
        while (offset < PAGE_SIZE) {
            PPOOL_HEADER e = (PPOOL_HEADER)(page + offset);
            BOOLEAN isFree = e->PoolType == 0;
            PB_CHECK(e->BlockSize != 0, "block %p: BlockSize 0", (void *)e);
            PB_CHECK(offset + ((ULONG)e->BlockSize << POOL_BLOCK_SHIFT) <= PAGE_SIZE,
                     "block %p (%u units) crosses its page", (void *)e, e->BlockSize);
            PB_CHECK(e->PreviousSize == previous, "block %p: PreviousSize %u, previous block %u",
                     (void *)e, e->PreviousSize, previous);
            PB_CHECK(e->PoolIndex == EXP_NONPAGED_NX, "block %p: PoolIndex %u", (void *)e,
                     e->PoolIndex);
            if (isFree) {
                PB_CHECK(!previousFree, "neighbours %p and %p are both free", (void *)before,
                         (void *)e);
                PB_CHECK(PtMapFind(&PbBlocks, e) == NULL, "live block %p is marked free",
                         (void *)e);
                if (e->BlockSize >= 2) {
                    PtMapInsert(&PbFreeSeen, e, 0);
                    freeBlocks++;
                }
            } else {
                LONG64 *index = PtMapFind(&PbBlocks, e);
                PB_CHECK(index != NULL, "allocated block %p is not in the model", (void *)e);
                PB_CHECK(PbLive[*index].Units == e->BlockSize, "block %p: %u units, model %u",
                         (void *)e, e->BlockSize, PbLive[*index].Units);
                allocated++;
            }
            previousFree = isFree;
            before = e;
            previous = e->BlockSize;
            offset += (ULONG)e->BlockSize << POOL_BLOCK_SHIFT;
        }
        PB_CHECK(offset == PAGE_SIZE, "page %p: blocks end at %u", (void *)page, offset);
        PB_CHECK(allocated == (ULONG)PbPages.Values[slot], "page %p: %u allocated, model %lld",
                 (void *)page, allocated, (long long)PbPages.Values[slot]);
    }
    for (ULONG i = 0; i < POOL_LIST_HEADS; i++) {
        PLIST_ENTRY head = &PbDescriptor.ListHeads[i], l;
        BOOLEAN bit = (PbDescriptor.NonEmpty[i / 64] >> (i % 64)) & 1;
        PB_CHECK(bit == (head->Flink != head), "list %u: NonEmpty bit %u, list %s", i, bit,
                 head->Flink != head ? "not empty" : "empty");
        PB_CHECK(i != 0 || head->Flink == head, "list 0 (one-unit blocks) is not empty");
        for (l = head->Flink; l != head; l = l->Flink) {
            PPOOL_HEADER e = (PPOOL_HEADER)l - 1;
            LONG64 *seen = PtMapFind(&PbFreeSeen, e);
            PB_CHECK(seen == NULL || *seen != PB_KEPT_PAGE, "list %u: %p is a kept page", i,
                     (void *)e);
            PB_CHECK(l->Flink->Blink == l && l->Blink->Flink == l, "list %u: links of %p broken",
                     i, (void *)e);
            PB_CHECK(seen != NULL, "list %u: %p is not a free block of a live page", i,
                     (void *)e);
            PB_CHECK(*seen == 0, "list %u: %p listed twice", i, (void *)e);
            PB_CHECK(e->BlockSize == i + 1, "list %u: %p has %u units", i, (void *)e,
                     e->BlockSize);
            *seen = 1;
            listed++;
        }
    }
    PB_CHECK(listed == freeBlocks, "%llu free blocks of >= 2 units, %llu listed", freeBlocks,
             listed);
    return TRUE;
}

/* Units 2..255, mostly small as real pool use is, some whole-page sized. */
static ULONG PbRandomUnits(void)
{
    ULONG r = PtRandBelow(16);

    if (r < 8)
        return 2 + PtRandBelow(31);
    if (r < 13)
        return 2 + PtRandBelow(127);
    return 2 + PtRandBelow(254);
}

static BOOLEAN PbRun(ULONG64 Seed, ULONG Steps, ULONG CheckEvery, ULONG Keep)
{
    ULONG target = 0;

    PbReset(Seed, Keep);
    for (ULONG step = 0; step < Steps; step++) {
        BOOLEAN alloc;
        /* Grow towards a target, then shrink: pages fill up and empty out. */
        if (step % 20000 == 0)
            target = PtRandBelow(PB_MAX_LIVE);
        if (PbLiveCount == 0)
            alloc = TRUE;
        else if (PbLiveCount >= PB_MAX_LIVE)
            alloc = FALSE;
        else
            alloc = PtRandBelow(100) < (PbLiveCount < target ? 65U : 35U);
        if (alloc) {
            if (!PbAllocate(PbRandomUnits(), PtRandBelow(8) == 0))
                return FALSE;
        } else if (!PbFree(PtRandBelow(PbLiveCount))) {
            return FALSE;
        }
        /* Every step while the pool is small, every CheckEvery steps after. */
        if ((step < 3000 || step % CheckEvery == 0) && !PbCheckAll())
            return FALSE;
    }
    if (!PbCheckAll())
        return FALSE;
    while (PbLiveCount != 0) {
        if (!PbFree(PtRandBelow(PbLiveCount)))
            return FALSE;
        if (PbLiveCount % 64 == 0 && !PbCheckAll())
            return FALSE;
    }
    /* Everything freed: every page kept or handed back, every list empty. */
    PB_CHECK(PbPages.Used == PbDescriptor.EmptyPageCount && PbDescriptor.TotalPages == PbPages.Used,
             "%llu pages held, %u kept (TotalPages %llu)", PbPages.Used,
             PbDescriptor.EmptyPageCount, PbDescriptor.TotalPages);
    PB_CHECK(PbDescriptor.EmptyPageCount ==
                 (PbPageAllocs < PbDescriptor.EmptyPageLimit ? PbPageAllocs
                                                             : PbDescriptor.EmptyPageLimit),
             "%u pages kept of %u ever used, limit %u", PbDescriptor.EmptyPageCount, PbPageAllocs,
             PbDescriptor.EmptyPageLimit);
    {
        SIZE_T held = PbPages.Used;
        PB_CHECK(ExpReleaseEmptyPages(&PbDescriptor, 0) == held, "release missed pages");
    }
    PB_CHECK(PbPages.Used == 0 && PbDescriptor.TotalPages == 0 && PbDescriptor.EmptyPages == NULL,
             "%llu pages left after the release (TotalPages %llu)", PbPages.Used,
             PbDescriptor.TotalPages);
    PB_CHECK(PbPageAllocs == PbPageFrees, "%u pages allocated, %u freed", PbPageAllocs,
             PbPageFrees);
    for (ULONG i = 0; i < POOL_LIST_HEADS / 64; i++)
        PB_CHECK(PbDescriptor.NonEmpty[i] == 0, "NonEmpty[%u] = %llx", i,
                 (unsigned long long)PbDescriptor.NonEmpty[i]);
    PB_CHECK(PbDescriptor.RunningAllocs == PbDescriptor.RunningDeAllocs, "%llu allocs, %llu frees",
             PbDescriptor.RunningAllocs, PbDescriptor.RunningDeAllocs);
    return TRUE;
}

KTEST(poolhost, block_random_against_model)
{
    static const ULONG64 seeds[] = {0x9E3779B97F4A7C15ULL, 0x1234567ULL, 0xC0FFEE11DEADULL,
                                    0xA5A5A5A55A5A5A5AULL};
    /* Kept empty pages: none (every empty page goes back), one, the default. */
    static const ULONG keep[] = {0, 1, EXP_EMPTY_PAGES_KEPT, EXP_EMPTY_PAGES_KEPT};

    for (ULONG i = 0; i < ARRAYSIZE(seeds); i++) {
        BOOLEAN ok = PbRun(seeds[i], 150000, 25, keep[i]);
        PbTeardown();
        if (!ok) {
            KtestFail(__FILE__, __LINE__, "seed %llx (keeping %u empty pages) failed",
                      (unsigned long long)seeds[i], keep[i]);
            return;
        }
    }
}

KTEST(poolhost, block_whole_page_and_one_unit_remainder)
{
    PbReset(7, 0);           /* an empty page goes straight back */
    /* 255 units leave a one-unit free block at the end, on no list. */
    KASSERT_TRUE(PbAllocate(255, FALSE));
    KEXPECT_EQ(PbDescriptor.TotalPages, 1);
    KEXPECT_EQ(PbDescriptor.NonEmpty[0] | PbDescriptor.NonEmpty[1] | PbDescriptor.NonEmpty[2] |
               PbDescriptor.NonEmpty[3], 0);
    KEXPECT_TRUE(PbCheckAll());
    /* Nothing fits in one unit: a second page. */
    KASSERT_TRUE(PbAllocate(2, FALSE));
    KEXPECT_EQ(PbDescriptor.TotalPages, 2);
    /* The 255-unit block merges with the one-unit remainder: the page goes. */
    KASSERT_TRUE(PbFree(0));
    KEXPECT_EQ(PbDescriptor.TotalPages, 1);
    KEXPECT_EQ(PbPageFrees, 1);
    KEXPECT_TRUE(PbCheckAll());
    KASSERT_TRUE(PbFree(0));
    KEXPECT_EQ(PbPages.Used, 0);
    KEXPECT_EQ(PbBadFreePage, 0);
    PbTeardown();
}

KTEST(poolhost, block_cache_aligned_front_remainder)
{
    PPOOL_HEADER first;

    PbReset(8, 0);
    /* A fresh page's first body is at 16: three units go in front, freed. */
    KASSERT_TRUE(PbAllocate(4, TRUE));
    first = PbLive[0].Entry;
    KEXPECT_EQ(ExpPageOffset(first), 48);
    KEXPECT_EQ(((ULONG64)ExpBlockBody(first)) & 63, 0);
    KEXPECT_EQ(first->PreviousSize, 3);
    KEXPECT_TRUE((PbDescriptor.NonEmpty[0] >> 2) & 1);      /* ListHeads[2]: 3 units */
    KEXPECT_TRUE(PbCheckAll());
    /* 253..255 units cannot be aligned in a page; 252 can. */
    KEXPECT_TRUE(PbAllocate(253, TRUE));
    KEXPECT_TRUE(PbAllocate(255, TRUE));
    KEXPECT_EQ(PbLiveCount, 1);
    KEXPECT_TRUE(PbAllocate(252, TRUE));
    KEXPECT_EQ(PbLiveCount, 2);
    KEXPECT_TRUE(PbCheckAll());
    while (PbLiveCount != 0)
        KASSERT_TRUE(PbFree(0));
    KEXPECT_EQ(PbPages.Used, 0);
    KEXPECT_EQ(PbDescriptor.TotalPages, 0);
    KEXPECT_TRUE(PbCheckAll());
    /* Below two units there is no block. */
    KEXPECT_TRUE(ExpAllocateBlock(&PbDescriptor, 1, FALSE) == NULL);
    KEXPECT_TRUE(ExpAllocateBlock(&PbDescriptor, 0, FALSE) == NULL);
    KEXPECT_TRUE(ExpAllocateBlock(&PbDescriptor, 256, FALSE) == NULL);
    PbTeardown();
}

/*
 * A cache-aligned request that uses up a free block exactly (the block's
 * body is 16 bytes past a 64-byte line, so three units go in front and the
 * rest is the request): the block after it must learn its new PreviousSize.
 */
KTEST(poolhost, block_cache_aligned_exact_fit)
{
    PPOOL_HEADER next;

    PbReset(9, 0);
    KASSERT_TRUE(PbAllocate(4, FALSE));          /* offset 0, 4 units */
    KASSERT_TRUE(PbAllocate(9, FALSE));          /* offset 64: body at 80 */
    KASSERT_TRUE(PbAllocate(2, FALSE));          /* offset 208 */
    next = PbLive[2].Entry;
    KASSERT_TRUE(PbFree(1));                     /* a free 9-unit block at 64 */
    KEXPECT_TRUE(PbCheckAll());
    KASSERT_TRUE(PbAllocate(6, TRUE));           /* needs 9: 3 in front + 6 */
    KEXPECT_EQ(ExpPageOffset(PbLive[PbLiveCount - 1].Entry), 112);
    KEXPECT_EQ(next->PreviousSize, 6);
    KEXPECT_TRUE(PbCheckAll());
    while (PbLiveCount != 0)
        KASSERT_TRUE(PbFree(0));
    KEXPECT_EQ(PbPages.Used, 0);
    PbTeardown();
}

/*
 * A page left empty is kept (up to the limit, the most recent first) and
 * is the next page the pool carves, without asking for a new one.
 */
KTEST(poolhost, block_empty_pages_kept_and_reused)
{
    PPOOL_HEADER pageA, pageB;

    PbReset(10, 2);
    /* A 65-unit block (1 KiB) alone in its page, allocated and freed over
     * and over: one page, never freed. */
    KASSERT_TRUE(PbAllocate(65, FALSE));
    pageA = PbPageOf(PbLive[0].Entry);
    for (ULONG i = 0; i < 100; i++) {
        KASSERT_TRUE(PbFree(0));
        KEXPECT_EQ(PbDescriptor.EmptyPageCount, 1);
        KEXPECT_TRUE(PbDescriptor.EmptyPages == pageA);
        KASSERT_TRUE(PbCheckAll());
        KASSERT_TRUE(PbAllocate(65, FALSE));
        KEXPECT_TRUE(PbLive[0].Entry == pageA);
        KEXPECT_EQ(PbDescriptor.EmptyPageCount, 0);
    }
    KEXPECT_EQ(PbPageAllocs, 1);
    KEXPECT_EQ(PbPageFrees, 0);
    /* Three pages of one 200-unit block each, freed: two kept, one freed. */
    KASSERT_TRUE(PbAllocate(200, FALSE));
    KASSERT_TRUE(PbAllocate(200, FALSE));
    pageB = PbPageOf(PbLive[2].Entry);
    KEXPECT_EQ(PbPageAllocs, 3);
    KASSERT_TRUE(PbFree(0));
    KASSERT_TRUE(PbFree(0));
    KASSERT_TRUE(PbCheckAll());
    KEXPECT_EQ(PbDescriptor.EmptyPageCount, 2);
    KEXPECT_EQ(PbPageFrees, 0);
    KASSERT_TRUE(PbFree(0));
    KEXPECT_EQ(PbDescriptor.EmptyPageCount, 2);
    KEXPECT_EQ(PbPageFrees, 1);
    KEXPECT_EQ(PbDescriptor.TotalPages, 2);
    KASSERT_TRUE(PbCheckAll());
    /* The last page kept is the first one taken. */
    {
        PPOOL_HEADER newest = PbDescriptor.EmptyPages;
        KASSERT_TRUE(PbAllocate(3, FALSE));
        KEXPECT_TRUE(PbLive[0].Entry == newest);
        KEXPECT_TRUE(newest == pageA || newest == pageB);
        KASSERT_TRUE(PbFree(0));
    }
    /* Releasing down to a count frees the rest through FreePage. */
    KEXPECT_EQ(ExpReleaseEmptyPages(&PbDescriptor, 1), 1);
    KEXPECT_EQ(PbDescriptor.EmptyPageCount, 1);
    KEXPECT_EQ(ExpReleaseEmptyPages(&PbDescriptor, 1), 0);
    KASSERT_TRUE(PbCheckAll());
    KEXPECT_EQ(ExpReleaseEmptyPages(&PbDescriptor, 0), 1);
    KEXPECT_EQ(PbPages.Used, 0);
    KEXPECT_EQ(PbDescriptor.TotalPages, 0);
    KEXPECT_EQ(PbBadFreePage, 0);
    KASSERT_TRUE(PbCheckAll());
    PbTeardown();
}

/*
 * The free path's one-look check of a header (ExpBlockHeaderIsSound): every
 * damage ExpBugCheckBlockHeader would name makes it FALSE, so the lookaside
 * path never keeps a block the checks one by one would stop on.
 */
KTEST(poolhost, block_header_soundness)
{
    PPOOL_HEADER a, b, c;
    POOL_HEADER saved;

    PbReset(11, 0);
    KASSERT_TRUE(PbAllocate(4, FALSE));
    KASSERT_TRUE(PbAllocate(6, FALSE));
    KASSERT_TRUE(PbAllocate(3, FALSE));
    a = PbLive[0].Entry;
    b = PbLive[1].Entry;
    c = PbLive[2].Entry;
    KASSERT_TRUE(ExpNextBlock(a) == b && ExpNextBlock(b) == c);
    KEXPECT_TRUE(ExpBlockHeaderIsSound(a) && ExpBlockHeaderIsSound(b) &&
                 ExpBlockHeaderIsSound(c));
#define PB_DAMAGED(Entry, Field, Value)                                                        \
    do {                                                                                     \
        saved = *(Entry);                                                                    \
        (Entry)->Field = (Value);                                                            \
        KEXPECT_FALSE(ExpBlockHeaderIsSound(b));                                             \
        *(Entry) = saved;                                                                    \
        KEXPECT_TRUE(ExpBlockHeaderIsSound(b));                                              \
    } while (0)
    PB_DAMAGED(b, BlockSize, 0);                        /* size zero */
    PB_DAMAGED(b, BlockSize, 255);                      /* past the page end */
    PB_DAMAGED(b, BlockSize, 5);                        /* next header disagrees */
    PB_DAMAGED(b, PreviousSize, 0);                     /* not first, yet says so */
    PB_DAMAGED(b, PreviousSize, 5);                     /* previous header disagrees */
    PB_DAMAGED(b, PreviousSize, 200);                   /* before the page start */
    PB_DAMAGED(c, PreviousSize, 7);                     /* an overrun of b: next header */
    PB_DAMAGED(a, BlockSize, 3);                        /* previous block's size */
#undef PB_DAMAGED
    /* The first block of a page must say PreviousSize 0. */
    a->PreviousSize = 1;
    KEXPECT_FALSE(ExpBlockHeaderIsSound(a));
    a->PreviousSize = 0;
    /* The last block of a page has no next header to agree with. */
    KASSERT_TRUE(PbAllocate(POOL_PAGE_UNITS - 13, FALSE));
    KEXPECT_TRUE(ExpIsLastBlock(PbLive[3].Entry));
    KEXPECT_TRUE(ExpBlockHeaderIsSound(PbLive[3].Entry));
    while (PbLiveCount != 0)
        KASSERT_TRUE(PbFree(0));
    PbTeardown();
}

KTEST(poolhost, bytes_to_units_boundaries)
{
    KEXPECT_EQ(ExpBytesToUnits(0), 2);          /* 0 bytes count as 1 */
    KEXPECT_EQ(ExpBytesToUnits(1), 2);
    KEXPECT_EQ(ExpBytesToUnits(16), 2);
    KEXPECT_EQ(ExpBytesToUnits(17), 3);
    KEXPECT_EQ(ExpBytesToUnits(32), 3);
    KEXPECT_EQ(ExpBytesToUnits(33), 4);
    KEXPECT_EQ(ExpBytesToUnits(POOL_SMALL_LIMIT), 255);       /* 4064: the largest small block */
    KEXPECT_EQ(ExpBytesToUnits(POOL_SMALL_LIMIT - 15), 255);
    KEXPECT_EQ(ExpBytesToUnits(POOL_SMALL_LIMIT - 16), 254);
    KEXPECT_EQ(ExpBytesToUnits(POOL_SMALL_LIMIT + 1), 256);   /* would not fit: big pool */
}

/*
 * pool.c sends a request to the small-block path when ExpIsSmallRequest
 * says so; poolblock.c must then be able to serve it, padding included:
 * every such size, plain and cache aligned, from a fresh page, where a
 * cache-aligned block needs the most padding (three units: the first body
 * is 16 bytes into the page). Cache-aligned requests of 4017-4064 bytes
 * were once called small and came back NULL.
 */
KTEST(poolhost, every_small_request_fits_a_page)
{
    PbReset(12, 0);
    for (ULONG aligned = 0; aligned < 2; aligned++)
        for (SIZE_T n = 1; n <= POOL_SMALL_LIMIT + 64; n++) {
            if (!ExpIsSmallRequest(n, aligned != 0)) {
                /* Past the small limit only by the padding's worth or more. */
                KEXPECT_GT(n, aligned ? POOL_SMALL_CACHE_ALIGNED_LIMIT : POOL_SMALL_LIMIT);
                continue;
            }
            ULONG units = ExpBytesToUnits(n);
            PPOOL_HEADER e = ExpAllocateBlock(&PbDescriptor, units, aligned != 0);
            if (e == NULL) {
                KtestFail(__FILE__, __LINE__, "%llu bytes%s: no block", (unsigned long long)n,
                          aligned ? " cache aligned" : "");
                break;
            }
            KEXPECT_EQ(e->BlockSize, units);
            KEXPECT_EQ((ULONG64)ExpBlockBody(e) % (aligned ? POOL_CACHE_ALIGNMENT : 16), 0);
            KEXPECT_LE(ExpPageOffset(e) + ((SIZE_T)units << POOL_BLOCK_SHIFT), PAGE_SIZE);
            ExpFreeBlock(&PbDescriptor, e);
        }
    KEXPECT_TRUE(ExpIsSmallRequest(POOL_SMALL_CACHE_ALIGNED_LIMIT, TRUE));
    KEXPECT_FALSE(ExpIsSmallRequest(POOL_SMALL_CACHE_ALIGNED_LIMIT + 1, TRUE));
    KEXPECT_TRUE(ExpIsSmallRequest(POOL_SMALL_LIMIT, FALSE));
    KEXPECT_FALSE(ExpIsSmallRequest(POOL_SMALL_LIMIT + 1, FALSE));
    KEXPECT_EQ(PbPages.Used, 0);
    PbTeardown();
}

/* ---- bigpool.c ------------------------------------------------------------------------- */

#define BP_MAX 3000

static POOL_TRACKER_BIG_PAGES BpModel[BP_MAX];
static ULONG BpCount;

static PVOID BpRandomVa(void)
{
    /* Page-aligned, from a small range so that neighbours and clusters occur. */
    return (PVOID)(0xFFFFFA8800000000ULL + ((ULONG64)PtRandBelow(1 << 16) << PAGE_SHIFT));
}

static LONG BpModelFind(PVOID Va)
{
    for (ULONG i = 0; i < BpCount; i++)
        if (BpModel[i].Va == Va)
            return (LONG)i;
    return -1;
}

static BOOLEAN BpCheckAll(PEXP_BIG_TABLE Table)
{
    POOL_TRACKER_BIG_PAGES got;

    PB_CHECK(Table->Used == BpCount, "Used %llu, model %u", Table->Used, BpCount);
    for (ULONG i = 0; i < BpCount; i++) {
        PB_CHECK(ExpFindBigPage(Table, BpModel[i].Va, &got, FALSE), "%p not found",
                 BpModel[i].Va);
        PB_CHECK(memcmp(&got, &BpModel[i], sizeof(got)) == 0, "%p: entry differs", got.Va);
    }
    return TRUE;
}

static BOOLEAN BpRun(ULONG64 Seed, ULONG Steps)
{
    EXP_BIG_TABLE table;
    PPOOL_TRACKER_BIG_PAGES storage = malloc(8 * sizeof(*storage));
    POOL_TRACKER_BIG_PAGES got;
    ULONG grows = 0;

    PtRng = Seed;
    BpCount = 0;
    ExpInitializeBigTable(&table, storage, 8);
    for (ULONG step = 0; step < Steps; step++) {
        ULONG op = PtRandBelow(100);
        PVOID va = BpRandomVa();
        LONG at = BpModelFind(va);

        if (op < 50 && at < 0 && BpCount < BP_MAX) {
            POOL_TRACKER_BIG_PAGES e = {va, PtRandBelow(1000) + 1, 1, PtRand() & 0xFFFFF,
                                        PtRandBelow(64) + 1, (PVOID)(ULONG64)step, EXP_NONPAGED_NX};
            if (ExpBigTableNeedsGrowth(&table)) {
                SIZE_T size = table.Size * 2;
                PPOOL_TRACKER_BIG_PAGES bigger = malloc(size * sizeof(*bigger));
                PPOOL_TRACKER_BIG_PAGES old = ExpGrowBigTable(&table, bigger, size);
                PB_CHECK(old == storage, "ExpGrowBigTable returned %p, not the old storage",
                         (void *)old);
                free(old);
                storage = bigger;
                grows++;
                if (!BpCheckAll(&table))
                    return FALSE;
            }
            ExpInsertBigPage(&table, &e);
            BpModel[BpCount++] = e;
            PB_CHECK((table.Used + 0) * 4 <= table.Size * 3, "load over 3/4: %llu of %llu",
                     table.Used, table.Size);
        } else if (op < 90 && BpCount != 0) {
            ULONG i = PtRandBelow(BpCount);
            PB_CHECK(ExpFindBigPage(&table, BpModel[i].Va, &got, TRUE), "%p not found to remove",
                     BpModel[i].Va);
            PB_CHECK(memcmp(&got, &BpModel[i], sizeof(got)) == 0, "%p: removed entry differs",
                     got.Va);
            PB_CHECK(!ExpFindBigPage(&table, BpModel[i].Va, NULL, FALSE),
                     "%p found after removal", BpModel[i].Va);
            BpModel[i] = BpModel[--BpCount];
            /* Backward shift must keep every other entry reachable. */
            if ((step % 16 == 0 || BpCount < 64) && !BpCheckAll(&table))
                return FALSE;
        } else {
            PB_CHECK(ExpFindBigPage(&table, va, &got, FALSE) == (at >= 0), "%p: find says %s", va,
                     at >= 0 ? "absent" : "present");
        }
    }
    PB_CHECK(grows >= 5, "the table grew only %u times", grows);
    if (!BpCheckAll(&table))
        return FALSE;
    while (BpCount != 0) {
        PB_CHECK(ExpFindBigPage(&table, BpModel[0].Va, NULL, TRUE), "%p lost", BpModel[0].Va);
        BpModel[0] = BpModel[--BpCount];
    }
    PB_CHECK(table.Used == 0, "Used %llu after removing everything", table.Used);
    for (SIZE_T i = 0; i < table.Size; i++)
        PB_CHECK(table.Entries[i].Va == NULL, "slot %llu still holds %p", i, table.Entries[i].Va);
    free(storage);
    return TRUE;
}

KTEST(poolhost, bigpage_random_against_model)
{
    KEXPECT_TRUE(BpRun(0x5DEECE66DULL, 60000));
    KEXPECT_TRUE(BpRun(0xBADC0FFEE0DDF00DULL, 60000));
}

/* The slot an address hashes to, found by inserting it alone into an empty table. */
static SIZE_T BpHomeSlot(PVOID Va, SIZE_T Size)
{
    POOL_TRACKER_BIG_PAGES storage[16] = {0}, e = {Va, 0, 0, 0, 0, NULL, EXP_NONPAGED_NX};
    EXP_BIG_TABLE t;

    ExpInitializeBigTable(&t, storage, Size);
    ExpInsertBigPage(&t, &e);
    for (SIZE_T i = 0; i < Size; i++)
        if (storage[i].Va == Va)
            return i;
    return Size;
}

KTEST(poolhost, bigpage_lookup_in_place)
{
    POOL_TRACKER_BIG_PAGES storage[16], got;
    EXP_BIG_TABLE t;
    PPOOL_TRACKER_BIG_PAGES slot;

    ExpInitializeBigTable(&t, storage, 16);
    for (ULONG64 page = 1; page <= 8; page++) {
        POOL_TRACKER_BIG_PAGES e = {(PVOID)(page << PAGE_SHIFT), (ULONG)page, 1, 4096, page,
                                    NULL, EXP_NONPAGED_NX};
        ExpInsertBigPage(&t, &e);
    }
    KEXPECT_TRUE(ExpLookupBigPage(&t, (PVOID)(9ULL << PAGE_SHIFT)) == NULL);
    slot = ExpLookupBigPage(&t, (PVOID)(5ULL << PAGE_SHIFT));
    KASSERT_TRUE(slot != NULL);
    KEXPECT_EQ(slot->Key, 5);
    /* A change through the pointer is the table's: a run marked kept. */
    slot->PoolType = 0;
    KASSERT_TRUE(ExpFindBigPage(&t, (PVOID)(5ULL << PAGE_SHIFT), &got, FALSE));
    KEXPECT_EQ(got.PoolType, 0);
    KEXPECT_EQ(got.Pages, 5);
    KEXPECT_EQ(t.Used, 8);
}

/* ---- the run cache, against a model ------------------------------------------------------ */

#define BC_VAS 64

static BOOLEAN BcRun(ULONG64 Seed, ULONG Steps)
{
    EXP_BIG_CACHE cache;
    EXP_BIG_RUN evicted[EXP_BIG_CACHE_RUNS], model[EXP_BIG_CACHE_RUNS], run;
    /* Where each run is: 0 with the caller, 1 in the cache. */
    UCHAR where[BC_VAS] = {0};
    SIZE_T pagesOf[BC_VAS];
    ULONG count = 0, puts = 0, hits = 0, evictions = 0;

    PtRng = Seed;
    ExpInitializeBigCache(&cache);
    for (ULONG i = 0; i < BC_VAS; i++)
        pagesOf[i] = 1 + PtRandBelow(EXP_BIG_CACHE_MAX_PAGES + 2);    /* some too long */
    for (ULONG step = 0; step < Steps; step++) {
        ULONG op = PtRandBelow(100), v = PtRandBelow(BC_VAS);
        PVOID va = (PVOID)(0x100000ULL + ((ULONG64)v << 20));
        if (op < 50 && where[v] == 0) {
            ULONG n = ExpBigCachePut(&cache, va, pagesOf[v], evicted);
            ULONG expect = 0;
            puts++;
            if (pagesOf[v] > EXP_BIG_CACHE_MAX_PAGES) {
                PB_CHECK(n == 1 && evicted[0].Va == va && evicted[0].Pages == pagesOf[v],
                         "a run of %llu pages was kept", pagesOf[v]);
                continue;
            }
            /* The model: oldest first out until the new run fits. */
            for (;;) {
                SIZE_T pages = 0;
                for (ULONG i = 0; i < count; i++)
                    pages += model[i].Pages;
                if (count < EXP_BIG_CACHE_RUNS && pages + pagesOf[v] <= EXP_BIG_CACHE_PAGES)
                    break;
                PB_CHECK(expect < n && evicted[expect].Va == model[0].Va &&
                             evicted[expect].Pages == model[0].Pages,
                         "eviction %u is not the oldest run", expect);
                where[((ULONG64)model[0].Va - 0x100000ULL) >> 20] = 0;
                memmove(&model[0], &model[1], (count - 1) * sizeof(model[0]));
                count--;
                expect++;
                evictions++;
            }
            PB_CHECK(n == expect, "%u runs evicted, model %u", n, expect);
            model[count].Va = va;
            model[count].Pages = pagesOf[v];
            count++;
            where[v] = 1;
        } else if (op < 90) {
            SIZE_T pages = 1 + PtRandBelow(EXP_BIG_CACHE_MAX_PAGES + 1);
            PVOID got = ExpBigCacheTake(&cache, pages);
            LONG at = -1;
            for (ULONG i = 0; i < count; i++)
                if (model[i].Pages == pages)
                    at = (LONG)i;           /* the most recent of that length */
            if (at < 0) {
                PB_CHECK(got == NULL, "take(%llu) returned %p, model has none", pages, got);
                continue;
            }
            PB_CHECK(got == model[at].Va, "take(%llu) returned %p, model %p", pages, got,
                     model[at].Va);
            where[((ULONG64)got - 0x100000ULL) >> 20] = 0;
            memmove(&model[at], &model[at + 1], (count - (ULONG)at - 1) * sizeof(model[0]));
            count--;
            hits++;
        } else if (ExpBigCacheTakeOldest(&cache, &run)) {
            PB_CHECK(count != 0 && run.Va == model[0].Va && run.Pages == model[0].Pages,
                     "oldest run %p is not the model's", run.Va);
            where[((ULONG64)run.Va - 0x100000ULL) >> 20] = 0;
            memmove(&model[0], &model[1], (count - 1) * sizeof(model[0]));
            count--;
        } else {
            PB_CHECK(count == 0, "TakeOldest found nothing, model has %u", count);
        }
        {
            SIZE_T pages = 0;
            for (ULONG i = 0; i < count; i++)
                pages += model[i].Pages;
            PB_CHECK(cache.Count == count && cache.Pages == pages, "cache %u runs %llu pages, "
                     "model %u runs %llu pages", cache.Count, cache.Pages, count, pages);
            PB_CHECK(pages <= EXP_BIG_CACHE_PAGES, "%llu pages kept", pages);
        }
    }
    PB_CHECK(puts > 1000 && hits > 1000 && evictions > 100, "puts %u hits %u evictions %u", puts,
             hits, evictions);
    return TRUE;
}

KTEST(poolhost, bigcache_random_against_model)
{
    KEXPECT_TRUE(BcRun(0x2545F4914F6CDD1DULL, 50000));
    KEXPECT_TRUE(BcRun(0x51ED270B27ULL, 50000));
}

KTEST(poolhost, bigpage_backward_shift_wraps)
{
    POOL_TRACKER_BIG_PAGES storage[16];
    EXP_BIG_TABLE t;
    PVOID last[3], zero = NULL;
    ULONG n = 0;

    /* Three addresses whose home is the last slot and one whose home is
     * slot 0: the cluster wraps round the end of the table. */
    for (ULONG64 page = 1; (n < 3 || zero == NULL) && page < 100000; page++) {
        PVOID va = (PVOID)(page << PAGE_SHIFT);
        SIZE_T home = BpHomeSlot(va, 16);
        if (home == 15 && n < 3)
            last[n++] = va;
        else if (home == 0 && zero == NULL)
            zero = va;
    }
    KASSERT_EQ(n, 3);
    KASSERT_TRUE(zero != NULL);
    ExpInitializeBigTable(&t, storage, 16);
    for (ULONG i = 0; i < 3; i++) {
        POOL_TRACKER_BIG_PAGES e = {last[i], i, 1, 4096, 1, NULL, EXP_NONPAGED_NX};
        ExpInsertBigPage(&t, &e);
    }
    {
        POOL_TRACKER_BIG_PAGES e = {zero, 9, 1, 4096, 1, NULL, EXP_NONPAGED_NX};
        ExpInsertBigPage(&t, &e);
    }
    /* last[0] at 15, last[1] at 0, last[2] at 1, zero at 2. */
    KEXPECT_TRUE(storage[15].Va == last[0] && storage[0].Va == last[1] &&
                 storage[1].Va == last[2] && storage[2].Va == zero);
    KEXPECT_TRUE(ExpFindBigPage(&t, last[0], NULL, TRUE));
    /* Everything moved back one slot, across the wrap. */
    KEXPECT_TRUE(storage[15].Va == last[1] && storage[0].Va == last[2] && storage[1].Va == zero);
    KEXPECT_TRUE(storage[2].Va == NULL);
    KEXPECT_TRUE(ExpFindBigPage(&t, last[1], NULL, FALSE));
    KEXPECT_TRUE(ExpFindBigPage(&t, last[2], NULL, FALSE));
    KEXPECT_TRUE(ExpFindBigPage(&t, zero, NULL, FALSE));
    /* Take out the entry in slot 0: the one after it (home 0) moves in. */
    KEXPECT_TRUE(ExpFindBigPage(&t, last[2], NULL, TRUE));
    KEXPECT_TRUE(storage[0].Va == zero);
    KEXPECT_TRUE(ExpFindBigPage(&t, last[1], NULL, FALSE));
    KEXPECT_TRUE(ExpFindBigPage(&t, zero, NULL, FALSE));
    KEXPECT_EQ(t.Used, 2);
}

/* ---- pooltrack.c ----------------------------------------------------------------------- */

static BOOLEAN PtTagIs(ULONG Tag, const char *Name)
{
    return memcmp(&Tag, Name, 4) == 0;
}

KTEST(poolhost, track_counters_per_tag)
{
    SYSTEM_POOLTAG t;
    const ULONG tagA = 'AtsT', tagB = 'BtsT';

    ExpResetPoolTracking();
    KEXPECT_FALSE(ExpQueryPoolTag(tagA, &t));
    ExpInsertPoolTracker(0, tagA, 100, FALSE);
    ExpInsertPoolTracker(0, tagA, 50, FALSE);
    ExpInsertPoolTracker(1, tagA, 4096, TRUE);
    ExpRemovePoolTracker(1, tagA, 100, FALSE);      /* freed on another processor */
    ExpInsertPoolTracker(3, tagB, 32, FALSE);
    KASSERT_TRUE(ExpQueryPoolTag(tagA, &t));
    KEXPECT_EQ(t.TagUlong, tagA);
    KEXPECT_EQ(t.NonPagedAllocs, 2);
    KEXPECT_EQ(t.NonPagedFrees, 1);
    KEXPECT_EQ(t.NonPagedUsed, 50);                 /* 150 - 100: wraps on cpu 1, not in the sum */
    KEXPECT_EQ(t.PagedAllocs, 1);
    KEXPECT_EQ(t.PagedFrees, 0);
    KEXPECT_EQ(t.PagedUsed, 4096);
    ExpRemovePoolTracker(0, tagA, 4096, TRUE);
    ExpRemovePoolTracker(0, tagA, 50, FALSE);
    KASSERT_TRUE(ExpQueryPoolTag(tagA, &t));
    KEXPECT_EQ(t.NonPagedUsed, 0);
    KEXPECT_EQ(t.PagedUsed, 0);
    KEXPECT_EQ(t.PagedFrees, 1);
    KASSERT_TRUE(ExpQueryPoolTag(tagB, &t));
    KEXPECT_EQ(t.NonPagedAllocs, 1);
    KEXPECT_EQ(t.NonPagedUsed, 32);
}

KTEST(poolhost, track_protected_bit_and_none)
{
    SYSTEM_POOLTAG t, all[8];
    const ULONG tag = 'PtsT';
    ULONG n, none = 0, tagged = 0;

    ExpResetPoolTracking();
    ExpInsertPoolTracker(0, tag | PROTECTED_POOL, 64, FALSE);
    ExpInsertPoolTracker(0, tag, 64, FALSE);
    KASSERT_TRUE(ExpQueryPoolTag(tag, &t));
    KEXPECT_EQ(t.TagUlong, tag);                     /* the bit is masked off */
    KEXPECT_EQ(t.NonPagedAllocs, 2);
    KASSERT_TRUE(ExpQueryPoolTag(tag | PROTECTED_POOL, &t));
    KEXPECT_EQ(t.NonPagedAllocs, 2);
    ExpRemovePoolTracker(1, tag | PROTECTED_POOL, 64, FALSE);
    KASSERT_TRUE(ExpQueryPoolTag(tag, &t));
    KEXPECT_EQ(t.NonPagedFrees, 1);
    KEXPECT_EQ(t.NonPagedUsed, 64);

    /* Untagged pool is shown as 'None'. */
    ExpInsertPoolTracker(2, 0, 16, TRUE);
    KASSERT_TRUE(ExpQueryPoolTag(0, &t));
    KEXPECT_TRUE(PtTagIs(t.TagUlong, "None"));
    KEXPECT_EQ(t.PagedAllocs, 1);
    KEXPECT_EQ(t.PagedUsed, 16);

    /* Two tags, each counted once though used on several processors. */
    n = ExpQueryPoolTagInformation(all, ARRAYSIZE(all));
    KEXPECT_EQ(n, 2);
    for (ULONG i = 0; i < n && i < ARRAYSIZE(all); i++) {
        if (PtTagIs(all[i].TagUlong, "None")) {
            none++;
            KEXPECT_EQ(all[i].PagedAllocs, 1);
        } else if (all[i].TagUlong == tag) {
            tagged++;
            KEXPECT_EQ(all[i].NonPagedAllocs, 2);
            KEXPECT_EQ(all[i].NonPagedFrees, 1);
            KEXPECT_EQ(all[i].NonPagedUsed, 64);
        }
    }
    KEXPECT_EQ(none, 1);
    KEXPECT_EQ(tagged, 1);
    /* A short buffer gets what fits; the count is still the total. */
    KEXPECT_EQ(ExpQueryPoolTagInformation(all, 1), 2);
    KEXPECT_EQ(ExpQueryPoolTagInformation(NULL, 0), 2);
}

KTEST(poolhost, track_sums_over_many_tags)
{
    static SYSTEM_POOLTAG all[300];
    SIZE_T allocs = 0, frees = 0, bytes = 0, modelBytes = 0, modelAllocs = 0, modelFrees = 0;
    ULONG n;

    ExpResetPoolTracking();
    PtRng = 0x77;
    for (ULONG i = 0; i < 20000; i++) {
        ULONG tag = 'g000' + PtRandBelow(200);
        ULONG cpu = PtRandBelow(4);
        SIZE_T size = 16 * (1 + PtRandBelow(64));
        ExpInsertPoolTracker(cpu, tag, size, FALSE);
        modelAllocs++;
        modelBytes += size;
        if (PtRandBelow(2)) {
            ExpRemovePoolTracker(PtRandBelow(4), tag, size, FALSE);
            modelFrees++;
            modelBytes -= size;
        }
    }
    n = ExpQueryPoolTagInformation(all, ARRAYSIZE(all));
    KEXPECT_EQ(n, 200);
    for (ULONG i = 0; i < n && i < ARRAYSIZE(all); i++) {
        allocs += all[i].NonPagedAllocs;
        frees += all[i].NonPagedFrees;
        bytes += all[i].NonPagedUsed;
        KEXPECT_EQ(all[i].PagedAllocs, 0);
    }
    KEXPECT_EQ(allocs, modelAllocs);
    KEXPECT_EQ(frees, modelFrees);
    KEXPECT_EQ(bytes, modelBytes);
}

KTEST(poolhost, track_overflow_entry)
{
    SYSTEM_POOLTAG t;
    const ULONG extra = 10;

    ExpResetPoolTracking();
    /* One processor's table holds EXP_TRACK_TABLE_SIZE tags; more go to 'Ovfl'. */
    for (ULONG i = 0; i < EXP_TRACK_TABLE_SIZE + extra; i++)
        ExpInsertPoolTracker(0, 0x10000 + i, 16, FALSE);
    KASSERT_TRUE(ExpQueryPoolTag(EXP_TRACK_OVERFLOW_TAG, &t));
    KEXPECT_TRUE(PtTagIs(t.TagUlong, "Ovfl"));
    KEXPECT_EQ(t.NonPagedAllocs, extra);
    KEXPECT_EQ(t.NonPagedUsed, extra * 16);
    /* The first tags kept their entries; the late ones have none of their own. */
    KASSERT_TRUE(ExpQueryPoolTag(0x10000, &t));
    KEXPECT_EQ(t.NonPagedAllocs, 1);
    KEXPECT_FALSE(ExpQueryPoolTag(0x10000 + EXP_TRACK_TABLE_SIZE + extra - 1, &t));
    KEXPECT_EQ(ExpQueryPoolTagInformation(NULL, 0), EXP_TRACK_TABLE_SIZE + 1);
    /* A free of an overflowed tag lands on 'Ovfl' too. */
    ExpRemovePoolTracker(0, 0x10000 + EXP_TRACK_TABLE_SIZE + 1, 16, FALSE);
    KASSERT_TRUE(ExpQueryPoolTag(EXP_TRACK_OVERFLOW_TAG, &t));
    KEXPECT_EQ(t.NonPagedFrees, 1);
    KEXPECT_EQ(t.NonPagedUsed, (extra - 1) * 16);
    /* Another processor's table is not full: the same tag gets an entry there. */
    ExpInsertPoolTracker(1, 0x10000 + EXP_TRACK_TABLE_SIZE + 1, 16, FALSE);
    KEXPECT_TRUE(ExpQueryPoolTag(0x10000 + EXP_TRACK_TABLE_SIZE + 1, &t));
    KEXPECT_EQ(ExpQueryPoolTagInformation(NULL, 0), EXP_TRACK_TABLE_SIZE + 2);
    ExpResetPoolTracking();
}

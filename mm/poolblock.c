/*
 * poolblock.c - carving pool pages into small blocks, as NT's x64 pool.
 *
 * A pool page is a chain of blocks, each behind a 16-byte POOL_HEADER:
 * BlockSize says where the next header is, PreviousSize where the one
 * before is, so either neighbour of a block is found in O(1) and a whole
 * page can be walked and checked. Invariants (the host tests check them):
 *   - the blocks of a page tile it exactly, first PreviousSize 0;
 *   - no two free blocks are neighbours (a free merges at once);
 *   - a free block of two units or more is on ListHeads[BlockSize - 1],
 *     a one-unit one is on no list;
 *   - a page whose blocks would all be free is not a page of blocks any
 *     more: it is kept on EmptyPages (at most EmptyPageLimit of them) or
 *     handed back.
 * An allocation takes the smallest listed block that fits and splits off
 * the rest; when nothing fits it takes a kept empty page, and only then a
 * new one. Keeping a few empty pages matters when one block fills or
 * empties a page over and over (a 1 KiB block alone in its page, a
 * workload that frees everything in a page): without them each round trip
 * would allocate a page and free it again, which in the kernel is a
 * run-tree search, a PFN and a PTE, then an unmap and a TLB flush.
 *
 * A kept empty page is marked by its first header: PreviousSize,
 * BlockSize and PoolType all 0 (nothing else in a pool page has a zero
 * BlockSize), so a free of a stale pointer into it finds PoolType 0 and
 * is a double free, and the reports skip it. Its link to the next kept
 * page is in the first body, checked when the page is taken. Everything
 * here runs under the descriptor's lock (pool.c).
 */
#include "pool_internal.h"

static inline PLIST_ENTRY ExpFreeLinks(PPOOL_HEADER Entry)
{
    return (PLIST_ENTRY)ExpBlockBody(Entry);
}

VOID ExpInitializePoolDescriptor(PPOOL_DESCRIPTOR Descriptor, ULONG PoolType, ULONG PoolIndex,
                                 PEXP_ALLOCATE_POOL_PAGE AllocatePage, PEXP_FREE_POOL_PAGE FreePage)
{
    Descriptor->PoolType = PoolType;
    Descriptor->PoolIndex = PoolIndex;
    for (ULONG i = 0; i < POOL_LIST_HEADS / 64; i++)
        Descriptor->NonEmpty[i] = 0;
    for (ULONG i = 0; i < POOL_LIST_HEADS; i++) {
        Descriptor->ListHeads[i].Flink = &Descriptor->ListHeads[i];
        Descriptor->ListHeads[i].Blink = &Descriptor->ListHeads[i];
    }
    Descriptor->AllocatePage = AllocatePage;
    Descriptor->FreePage = FreePage;
    Descriptor->TotalPages = Descriptor->TotalBigPages = 0;
    Descriptor->EmptyPages = NULL;
    Descriptor->EmptyPageCount = 0;
    Descriptor->EmptyPageLimit = EXP_EMPTY_PAGES_KEPT;
    Descriptor->RunningAllocs = Descriptor->RunningDeAllocs = 0;
}

/* ---- the size lists --------------------------------------------------------------- */

static void ExpInsertFree(PPOOL_DESCRIPTOR Descriptor, PPOOL_HEADER Entry)
{
    ULONG index = Entry->BlockSize - 1U;
    PLIST_ENTRY head = &Descriptor->ListHeads[index], links = ExpFreeLinks(Entry);

    Entry->PoolType = 0;
    Entry->PoolIndex = (UCHAR)Descriptor->PoolIndex;
    if (Entry->BlockSize < 2)
        return;
    /* NT inserts at the head: the block freed last is the warmest. */
    links->Flink = head->Flink;
    links->Blink = head;
    head->Flink->Blink = links;
    head->Flink = links;
    Descriptor->NonEmpty[index / 64] |= 1ULL << (index % 64);
}

static void ExpRemoveFree(PPOOL_DESCRIPTOR Descriptor, PPOOL_HEADER Entry)
{
    ULONG index = Entry->BlockSize - 1U;
    PLIST_ENTRY links = ExpFreeLinks(Entry), flink, blink;

    if (Entry->BlockSize < 2)
        return;
    flink = links->Flink;
    blink = links->Blink;
    /* A free block's links live in its body: a write after free shows here. */
    if (flink->Blink != links || blink->Flink != links)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_LIST_CORRUPT, (ULONG_PTR)Entry,
                     (ULONG_PTR)flink, (ULONG_PTR)blink);
    blink->Flink = flink;
    flink->Blink = blink;
    if (Descriptor->ListHeads[index].Flink == &Descriptor->ListHeads[index])
        Descriptor->NonEmpty[index / 64] &= ~(1ULL << (index % 64));
}

/* Smallest non-empty list index >= Index, or POOL_LIST_HEADS. */
static ULONG ExpFindList(PPOOL_DESCRIPTOR Descriptor, ULONG Index)
{
    for (ULONG word = Index / 64; word < POOL_LIST_HEADS / 64; word++) {
        ULONG64 bits = Descriptor->NonEmpty[word];
        if (word == Index / 64)
            bits &= ~0ULL << (Index % 64);
        if (bits)
            return word * 64 + (ULONG)__builtin_ctzll(bits);
    }
    return POOL_LIST_HEADS;
}

/* ---- kept empty pages ----------------------------------------------------------------- */

static inline PVOID *ExpEmptyPageLink(PPOOL_HEADER Page)
{
    return (PVOID *)ExpBlockBody(Page);
}

static void ExpKeepEmptyPage(PPOOL_DESCRIPTOR Descriptor, PPOOL_HEADER Page)
{
    Page->PreviousSize = 0;
    Page->PoolIndex = (UCHAR)Descriptor->PoolIndex;
    Page->BlockSize = 0;
    Page->PoolType = 0;
    Page->PoolTag = 0;
    Page->ProcessBilled = NULL;
    *ExpEmptyPageLink(Page) = Descriptor->EmptyPages;
    Descriptor->EmptyPages = Page;
    Descriptor->EmptyPageCount++;
}

/* The most recently kept empty page (the warmest), or NULL. */
static PPOOL_HEADER ExpTakeEmptyPage(PPOOL_DESCRIPTOR Descriptor)
{
    PPOOL_HEADER page = Descriptor->EmptyPages, next;

    if (page == NULL)
        return NULL;
    next = *ExpEmptyPageLink(page);
    /* Written to after it was freed? The mark or the link shows it. */
    if (!ExpIsKeptEmptyPage(page) || ExpPageOffset(next) != 0)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_LIST_CORRUPT, (ULONG_PTR)page,
                     (ULONG_PTR)next, 0);
    Descriptor->EmptyPages = next;
    Descriptor->EmptyPageCount--;
    return page;
}

ULONG ExpReleaseEmptyPages(PPOOL_DESCRIPTOR Descriptor, ULONG Keep)
{
    ULONG released = 0;

    while (Descriptor->EmptyPageCount > Keep) {
        PPOOL_HEADER page = ExpTakeEmptyPage(Descriptor);
        Descriptor->TotalPages--;
        Descriptor->FreePage(Descriptor, page);
        released++;
    }
    return released;
}

/* ---- the pool lab's stand-ins ------------------------------------------------------ */

/*
 * Slow but correct versions of the split and the merge for a student tree
 * (tests/labs/pool.md) whose ExpSplitBlock or ExpFreeBlock is still a stub,
 * so that it boots: they walk the page from its first header, O(blocks in
 * the page), where the real routines use PreviousSize and BlockSize to
 * reach a neighbour in O(1). Not called in the reference tree.
 */
static inline PPOOL_HEADER ExpPageFirstBlock(PPOOL_HEADER Entry)
{
    return (PPOOL_HEADER)((ULONG64)Entry & ~(ULONG64)(PAGE_SIZE - 1));
}

/* Rewrite every PreviousSize of Entry's page from the BlockSize before it. */
static __attribute__((unused)) void ExpRelinkPageLabFallback(PPOOL_HEADER Entry)
{
    PPOOL_HEADER block = ExpPageFirstBlock(Entry);
    ULONG previous = 0;

    for (;;) {
        block->PreviousSize = (UCHAR)previous;
        if (ExpIsLastBlock(block))
            return;
        previous = block->BlockSize;
        block = ExpNextBlock(block);
    }
}

static __attribute__((unused)) void ExpSplitBlockLabFallback(PPOOL_DESCRIPTOR Descriptor,
                                                             PPOOL_HEADER Entry,
                                                             ULONG TotalUnits, ULONG Units)
{
    Entry->BlockSize = (UCHAR)Units;
    if (TotalUnits != Units) {
        PPOOL_HEADER rest = (PPOOL_HEADER)((PUCHAR)Entry + ((SIZE_T)Units << POOL_BLOCK_SHIFT));
        rest->BlockSize = (UCHAR)(TotalUnits - Units);
        rest->PoolTag = 0;
        rest->ProcessBilled = NULL;
        ExpInsertFree(Descriptor, rest);
    }
    ExpRelinkPageLabFallback(Entry);
}

/* The run of free blocks around Entry (marked free, on no list): each
 * other one taken off its list; *Start its first block, *Units its size. */
static __attribute__((unused)) void ExpMergeLabFallback(PPOOL_DESCRIPTOR Descriptor,
                                                        PPOOL_HEADER Entry, PPOOL_HEADER *Start,
                                                        PULONG Units)
{
    PPOOL_HEADER block, first = NULL;
    ULONG units = 0;

    for (block = ExpPageFirstBlock(Entry); block != Entry; block = ExpNextBlock(block))
        first = block->PoolType != 0 ? NULL : first != NULL ? first : block;
    if (first == NULL)
        first = Entry;
    for (block = first;; block = ExpNextBlock(block)) {
        if (block != Entry)
            ExpRemoveFree(Descriptor, block);
        units += block->BlockSize;
        if (ExpIsLastBlock(block) || ExpNextBlock(block)->PoolType != 0)
            break;
    }
    *Start = first;
    *Units = units;
}

/* ---- carving ------------------------------------------------------------------------- */

/*
 * Make the first Units units of the block at Entry a block of their own and
 * the rest (if any) a free block after it. Entry's right neighbour is not
 * free (invariant), so the remainder needs no merging.
 */
static void ExpSplitBlock(PPOOL_DESCRIPTOR Descriptor, PPOOL_HEADER Entry, ULONG TotalUnits,
                          ULONG Units)
{
    /* LAB pool: BEGIN - Entry keeps Units units; the rest becomes a listed free block */
    PPOOL_HEADER rest;

    Entry->BlockSize = (UCHAR)Units;
    if (TotalUnits == Units) {
        /* Exact fit; after an alignment skip the block shrank from the left. */
        if (!ExpIsLastBlock(Entry))
            ExpNextBlock(Entry)->PreviousSize = (UCHAR)Units;
        return;
    }
    rest = ExpNextBlock(Entry);
    rest->PreviousSize = (UCHAR)Units;
    rest->BlockSize = (UCHAR)(TotalUnits - Units);
    rest->PoolTag = 0;
    rest->ProcessBilled = NULL;
    ExpInsertFree(Descriptor, rest);
    if (!ExpIsLastBlock(rest))
        ExpNextBlock(rest)->PreviousSize = rest->BlockSize;
    /* LAB pool: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pool);
    ExpSplitBlockLabFallback(Descriptor, Entry, TotalUnits, Units);
#endif
    /* LAB pool: END */
}

/* Units to skip from Entry so that the body after the header is 64-byte aligned. */
static ULONG ExpAlignSkip(PPOOL_HEADER Entry)
{
    ULONG64 body = (ULONG64)ExpBlockBody(Entry);

    return (ULONG)(((POOL_CACHE_ALIGNMENT - (body & (POOL_CACHE_ALIGNMENT - 1))) &
                    (POOL_CACHE_ALIGNMENT - 1)) >> POOL_BLOCK_SHIFT);
}

PPOOL_HEADER ExpAllocateBlock(PPOOL_DESCRIPTOR Descriptor, ULONG Units, BOOLEAN CacheAligned)
{
    /* An aligned block may need up to three units in front of it. */
    ULONG need = CacheAligned ? Units + POOL_CACHE_ALIGN_UNITS - 1 : Units;
    ULONG index, total, skip;
    PPOOL_HEADER entry, aligned;

    if (Units < 2 || need >= POOL_PAGE_UNITS)
        return NULL;
    index = ExpFindList(Descriptor, need - 1);
    if (index < POOL_LIST_HEADS) {
        /* The links are the body: the header is just before them. */
        entry = (PPOOL_HEADER)Descriptor->ListHeads[index].Flink - 1;
        ExpRemoveFree(Descriptor, entry);
        total = entry->BlockSize;
    } else {
        entry = ExpTakeEmptyPage(Descriptor);
        if (entry == NULL) {
            entry = Descriptor->AllocatePage(Descriptor);
            if (entry == NULL)
                return NULL;
            Descriptor->TotalPages++;
        }
        entry->PreviousSize = 0;
        entry->PoolTag = 0;
        entry->ProcessBilled = NULL;
        total = POOL_PAGE_UNITS;         /* not storable: split below */
    }
    skip = CacheAligned ? ExpAlignSkip(entry) : 0;
    if (skip != 0) {
        /* The front units become a free block; its left neighbour is in use. */
        aligned = (PPOOL_HEADER)((PUCHAR)entry + ((SIZE_T)skip << POOL_BLOCK_SHIFT));
        entry->BlockSize = (UCHAR)skip;
        entry->PoolTag = 0;
        entry->ProcessBilled = NULL;
        ExpInsertFree(Descriptor, entry);
        aligned->PreviousSize = (UCHAR)skip;
        aligned->PoolTag = 0;
        aligned->ProcessBilled = NULL;
        total -= skip;
        entry = aligned;
    }
    ExpSplitBlock(Descriptor, entry, total, Units);
    entry->PoolIndex = (UCHAR)Descriptor->PoolIndex;
    entry->PoolType = (UCHAR)(Descriptor->PoolType + 1);
    /* Interlocked: whole-page allocations count here too, under the
     * big-page lock, not this descriptor's (pool.c). */
    __atomic_add_fetch(&Descriptor->RunningAllocs, 1, __ATOMIC_RELAXED);
    return entry;
}

VOID ExpFreeBlock(PPOOL_DESCRIPTOR Descriptor, PPOOL_HEADER Entry)
{
    PPOOL_HEADER start;
    ULONG units;

    __atomic_add_fetch(&Descriptor->RunningDeAllocs, 1, __ATOMIC_RELAXED);   /* as above */
    /* Marked free even if it merges into its left neighbour, so that a
     * second free of it is recognised as one. */
    Entry->PoolType = 0;
    /* LAB pool: BEGIN - merge with free neighbours in O(1): set start and units */
    start = Entry;
    units = Entry->BlockSize;
    if (!ExpIsLastBlock(Entry)) {
        PPOOL_HEADER next = ExpNextBlock(Entry);
        if (next->PoolType == 0) {
            ExpRemoveFree(Descriptor, next);
            units += next->BlockSize;
        }
    }
    if (Entry->PreviousSize != 0) {
        PPOOL_HEADER previous = ExpPreviousBlock(Entry);
        if (previous->PoolType == 0) {
            ExpRemoveFree(Descriptor, previous);
            units += previous->BlockSize;
            start = previous;
        }
    }
    /* LAB pool: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pool);
    ExpMergeLabFallback(Descriptor, Entry, &start, &units);
#endif
    /* LAB pool: END */
    if (units == POOL_PAGE_UNITS) {
        /* Every block of the page is free: kept for reuse, or given back. */
        if (Descriptor->EmptyPageCount < Descriptor->EmptyPageLimit) {
            ExpKeepEmptyPage(Descriptor, start);
            return;
        }
        Descriptor->TotalPages--;
        Descriptor->FreePage(Descriptor, start);
        return;
    }
    start->BlockSize = (UCHAR)units;
    start->PoolTag = 0;
    start->ProcessBilled = NULL;
    ExpInsertFree(Descriptor, start);
    if (!ExpIsLastBlock(start))
        ExpNextBlock(start)->PreviousSize = (UCHAR)units;
}

/* ---- checking ------------------------------------------------------------------------ */

VOID ExpBugCheckBlockHeader(PPOOL_HEADER Entry)
{
    /* LAB pool: BEGIN - O(1) checks of Entry's header, then of both neighbours */
    if (Entry->BlockSize == 0)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_BLOCK_SIZE_ZERO, (ULONG_PTR)Entry, 0, 0);
    if (ExpPageOffset(Entry) + ((SIZE_T)Entry->BlockSize << POOL_BLOCK_SHIFT) > PAGE_SIZE)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_BLOCK_TOO_LARGE, (ULONG_PTR)Entry, 0,
                     (ULONG_PTR)ExpNextBlock(Entry));
    if (((SIZE_T)Entry->PreviousSize << POOL_BLOCK_SHIFT) > ExpPageOffset(Entry) ||
        (Entry->PreviousSize == 0) != (ExpPageOffset(Entry) == 0))
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_PREVIOUS_TOO_LARGE, (ULONG_PTR)Entry, 0,
                     (ULONG_PTR)ExpPreviousBlock(Entry));
    /* An overrun of this block lands on the next header first. */
    if (!ExpIsLastBlock(Entry) && ExpNextBlock(Entry)->PreviousSize != Entry->BlockSize)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_NEIGHBOUR_MISMATCH, (ULONG_PTR)Entry, 0,
                     (ULONG_PTR)ExpNextBlock(Entry));
    if (Entry->PreviousSize != 0 && ExpPreviousBlock(Entry)->BlockSize != Entry->PreviousSize)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_NEIGHBOUR_MISMATCH, (ULONG_PTR)Entry, 0,
                     (ULONG_PTR)ExpPreviousBlock(Entry));
    /* LAB pool: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pool);
    /* Slow: walk the whole page (this catches the same damage, with
     * other parameters); anything it lets pass is still a bad header. */
    ExpCheckPoolBlocks(Entry);
    KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_NEIGHBOUR_MISMATCH, (ULONG_PTR)Entry, 0, 0);
#endif
    /* LAB pool: END */
}

VOID ExpCheckPoolBlocks(PPOOL_HEADER Entry)
{
    PPOOL_HEADER block = (PPOOL_HEADER)((ULONG64)Entry & ~(ULONG64)(PAGE_SIZE - 1));
    ULONG previous = 0;
    BOOLEAN found = FALSE;

    for (;;) {
        if (block->BlockSize == 0)
            KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_BLOCK_SIZE_ZERO, (ULONG_PTR)block, 0, 0);
        if (block->PreviousSize != previous)
            KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_NEIGHBOUR_MISMATCH, (ULONG_PTR)block,
                         0, (ULONG_PTR)Entry);
        if (ExpPageOffset(block) + ((SIZE_T)block->BlockSize << POOL_BLOCK_SHIFT) > PAGE_SIZE)
            KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_BLOCK_TOO_LARGE, (ULONG_PTR)block, 0,
                         (ULONG_PTR)Entry);
        if (block == Entry)
            found = TRUE;
        if (ExpIsLastBlock(block))
            break;
        previous = block->BlockSize;
        block = ExpNextBlock(block);
    }
    if (!found)
        KeBugCheckEx(BAD_POOL_HEADER, BAD_POOL_HEADER_ENTRY_NOT_FOUND, (ULONG_PTR)Entry, 0, 0);
}

VOID ExpWalkPoolPage(PVOID Va, PEXP_BLOCK_ROUTINE Routine, PVOID Context)
{
    PPOOL_HEADER block = (PPOOL_HEADER)((ULONG64)Va & ~(ULONG64)(PAGE_SIZE - 1));

    for (;;) {
        Routine(block, Context);
        if (block->BlockSize == 0 || ExpIsLastBlock(block) ||
            ExpPageOffset(block) + ((SIZE_T)block->BlockSize << POOL_BLOCK_SHIFT) > PAGE_SIZE)
            break;
        block = ExpNextBlock(block);
    }
}

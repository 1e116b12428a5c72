/*
 * pool_internal.h - what the pool files share (pool.c, poolblock.c,
 * poolpage.c, pooltrack.c, bigpool.c, special.c, lookaside.c): the x64
 * POOL_HEADER, the pool descriptors and the Exp/Mi routines between them.
 * poolblock.c, bigpool.c and pooltrack.c touch no hardware and are built
 * for the host too (tests/host, the bench-host build).
 */
#ifndef MICA_MM_POOL_INTERNAL_H
#define MICA_MM_POOL_INTERNAL_H

#include "mm_internal.h"

/*
 * NT x64's 16-byte header in front of every small block. Sizes count
 * 16-byte units, header included; a page holds 256 units, so BlockSize
 * (8 bits) never describes a whole free page: a page whose blocks are all
 * free goes back instead (poolblock.c).
 */
typedef struct _POOL_HEADER {
    UCHAR PreviousSize;     /* units of the block before in this page; 0 = first */
    UCHAR PoolIndex;        /* descriptor index; EXP_POOL_INDEX_CACHED while in a lookaside */
    UCHAR BlockSize;        /* units, header included */
    UCHAR PoolType;         /* POOL_TYPE + 1 while allocated; 0 = free */
    ULONG PoolTag;
    PVOID ProcessBilled;    /* quota block charged, or NULL */
} POOL_HEADER, *PPOOL_HEADER;

#define POOL_BLOCK_SHIFT 4
#define POOL_BLOCK_SIZE 16                          /* = sizeof(POOL_HEADER) */
#define POOL_PAGE_UNITS (PAGE_SIZE / POOL_BLOCK_SIZE)  /* 256 */
#define POOL_LIST_HEADS 256
/* Largest small request: a block may be 255 units, header included (NT's
 * PAGE_SIZE - 32 = 4064; above it allocations are whole pages). */
#define POOL_SMALL_LIMIT (PAGE_SIZE - 2 * POOL_BLOCK_SIZE)
#define POOL_CACHE_ALIGNMENT 64
#define POOL_CACHE_ALIGN_UNITS (POOL_CACHE_ALIGNMENT / POOL_BLOCK_SIZE)
/* A cache-aligned block may need up to three units of padding in front of
 * its header (poolblock.c), so the largest that surely fits a page is
 * 252 units, 4016 bytes; larger cache-aligned requests get whole pages
 * (a page boundary is a cache-line boundary). */
#define POOL_SMALL_CACHE_ALIGNED_LIMIT \
    ((POOL_PAGE_UNITS - POOL_CACHE_ALIGN_UNITS) * POOL_BLOCK_SIZE - POOL_BLOCK_SIZE)
/* Per-processor lookasides (pool.c): blocks of up to POOL_SMALL_LISTS
 * units have NT's, EXP_LOOKASIDE_DEPTH deep; larger blocks have lists that
 * start empty and hold one more block per EXP_LOOKASIDE_GROW_MISSES misses,
 * up to EXP_LOOKASIDE_LIST_BYTES of blocks. */
#define POOL_SMALL_LISTS 32
#define EXP_LOOKASIDE_DEPTH 32
/* Blocks a small lookaside miss carves at once (pool.c, ExpAllocateSmall). */
#define EXP_REFILL_BLOCKS 4
#define EXP_LOOKASIDE_LIST_BYTES 8192
#define EXP_LOOKASIDE_GROW_MISSES 2

#define EXP_POOL_INDEX_CACHED 0x80

/* Descriptor indexes: NonPagedPool (executable), NonPagedPoolNx, PagedPool. */
#define EXP_NONPAGED_EXECUTE 0
#define EXP_NONPAGED_NX      1
#define EXP_PAGED            2
#define EXP_POOL_DESCRIPTORS 3

/* Pool-type bits (ROS's masks). */
#define BASE_POOL_TYPE_MASK 1
#define POOL_TYPE_PAGED 1
#define POOL_TYPE_MUST_SUCCEED 2
#define POOL_TYPE_CACHE_ALIGNED 4
#define POOL_TYPE_SESSION 32

/* BAD_POOL_HEADER (0x19) first parameters. */
#define BAD_POOL_HEADER_LIST_CORRUPT       0x03
#define BAD_POOL_HEADER_NEIGHBOUR_MISMATCH 0x05
#define BAD_POOL_HEADER_PREVIOUS_TOO_LARGE 0x06
#define BAD_POOL_HEADER_BLOCK_SIZE_ZERO    0x08
#define BAD_POOL_HEADER_BLOCK_TOO_LARGE    0x09
#define BAD_POOL_HEADER_ENTRY_NOT_FOUND    0x0A

/* BAD_POOL_CALLER (0xC2) first parameters. */
#define BAD_POOL_CALLER_DOUBLE_FREE        0x07
#define BAD_POOL_CALLER_ALLOC_IRQL         0x08
#define BAD_POOL_CALLER_FREE_IRQL          0x09
#define BAD_POOL_CALLER_WRONG_TAG          0x0A
#define BAD_POOL_CALLER_FREE_UNALLOCATED_NONPAGED 0x41
#define BAD_POOL_CALLER_NEVER_POOL         0x42
#define BAD_POOL_CALLER_FREE_UNALLOCATED_PAGED 0x50
#define BAD_POOL_CALLER_BAD_HEADER         0x99
#define BAD_POOL_CALLER_MUST_SUCCEED       0x9A

typedef struct _POOL_DESCRIPTOR POOL_DESCRIPTOR, *PPOOL_DESCRIPTOR;
typedef PVOID (*PEXP_ALLOCATE_POOL_PAGE)(PPOOL_DESCRIPTOR Descriptor);
typedef VOID (*PEXP_FREE_POOL_PAGE)(PPOOL_DESCRIPTOR Descriptor, PVOID Page);

/*
 * One pool: free blocks listed by size (ListHeads[units - 1], only blocks
 * of two units or more: a one-unit free block has no room for links and
 * waits to be merged with a neighbour), NonEmpty marking the lists that
 * are not empty so a search is a few bit scans, and up to EmptyPageLimit
 * pages whose blocks are all free kept for the next page the pool needs
 * (EmptyPages, linked through their first body; see poolblock.c). The
 * caller of poolblock.c holds the descriptor's lock.
 */
struct _POOL_DESCRIPTOR {
    ULONG PoolType;                 /* base type of its blocks */
    ULONG PoolIndex;
    ULONG64 NonEmpty[POOL_LIST_HEADS / 64];
    LIST_ENTRY ListHeads[POOL_LIST_HEADS];
    PEXP_ALLOCATE_POOL_PAGE AllocatePage;
    PEXP_FREE_POOL_PAGE FreePage;
    SIZE_T TotalPages;              /* small-block pages held, kept empty ones too */
    PPOOL_HEADER EmptyPages;        /* kept empty pages, most recent first */
    ULONG EmptyPageCount;
    ULONG EmptyPageLimit;           /* EXP_EMPTY_PAGES_KEPT unless changed */
    SIZE_T TotalBigPages;           /* pages of whole-page allocations (big-page lock) */
    SIZE_T RunningAllocs, RunningDeAllocs;  /* interlocked: both locks count them */
};

/* poolblock.c: small blocks in pool pages (descriptor lock held). */
VOID ExpInitializePoolDescriptor(PPOOL_DESCRIPTOR Descriptor, ULONG PoolType, ULONG PoolIndex,
                                 PEXP_ALLOCATE_POOL_PAGE AllocatePage,
                                 PEXP_FREE_POOL_PAGE FreePage);
/* Units for a request: header plus the bytes rounded up; 0 bytes count as 1. */
static inline ULONG ExpBytesToUnits(SIZE_T NumberOfBytes)
{
    if (NumberOfBytes == 0)
        NumberOfBytes = 1;
    return (ULONG)((NumberOfBytes + 2 * POOL_BLOCK_SIZE - 1) >> POOL_BLOCK_SHIFT);
}
/* A block of at least Units units (body 64-byte aligned if CacheAligned);
 * its PoolType and tag are the caller's to set. NULL if no page. */
PPOOL_HEADER ExpAllocateBlock(PPOOL_DESCRIPTOR Descriptor, ULONG Units, BOOLEAN CacheAligned);
/* Give a block back: merged with free neighbours; a page left empty is kept
 * (up to EmptyPageLimit) or freed. */
VOID ExpFreeBlock(PPOOL_DESCRIPTOR Descriptor, PPOOL_HEADER Entry);
/* Empty pages a pool keeps for reuse: the churn of a block that fills or
 * empties a page then costs no page allocation (a run-tree search, a PFN,
 * a PTE) and no unmap with its TLB flush. */
#define EXP_EMPTY_PAGES_KEPT 16
/* Free the kept empty pages beyond Keep; returns how many were freed. */
ULONG ExpReleaseEmptyPages(PPOOL_DESCRIPTOR Descriptor, ULONG Keep);
/* A kept empty page starts with a header of sizes 0 and type 0 (free). */
static inline BOOLEAN ExpIsKeptEmptyPage(PPOOL_HEADER Page)
{
    return Page->PreviousSize == 0 && Page->BlockSize == 0 && Page->PoolType == 0;
}
/* Walk Entry's page: bug check BAD_POOL_HEADER if the chain is broken or
 * Entry is not one of its blocks. */
VOID ExpCheckPoolBlocks(PPOOL_HEADER Entry);
/* Call Routine for each block of the page holding Va (no validation). */
typedef VOID (*PEXP_BLOCK_ROUTINE)(PPOOL_HEADER Entry, PVOID Context);
VOID ExpWalkPoolPage(PVOID Va, PEXP_BLOCK_ROUTINE Routine, PVOID Context);

static inline PVOID ExpBlockBody(PPOOL_HEADER Entry) { return Entry + 1; }
static inline SIZE_T ExpPageOffset(const void *Va) { return (ULONG64)Va & (PAGE_SIZE - 1); }

static inline PPOOL_HEADER ExpNextBlock(PPOOL_HEADER Entry)
{
    return (PPOOL_HEADER)((PUCHAR)Entry + ((SIZE_T)Entry->BlockSize << POOL_BLOCK_SHIFT));
}

static inline PPOOL_HEADER ExpPreviousBlock(PPOOL_HEADER Entry)
{
    return (PPOOL_HEADER)((PUCHAR)Entry - ((SIZE_T)Entry->PreviousSize << POOL_BLOCK_SHIFT));
}

static inline BOOLEAN ExpIsLastBlock(PPOOL_HEADER Entry)
{
    return ExpPageOffset(Entry) + ((SIZE_T)Entry->BlockSize << POOL_BLOCK_SHIFT) == PAGE_SIZE;
}

/* Cheap checks of one header, on every free: size within the page, and
 * both neighbours agree with it (an overrun of a block lands on the next
 * header first). ExpBlockHeaderIsSound says whether all pass, inline: it
 * is most of the lookaside path's cost; ExpCheckBlockHeader bug checks
 * with the first that fails. */
static inline BOOLEAN ExpBlockOwnHeaderIsSound(PPOOL_HEADER Entry)
{
    /* In units: the header's place in its page, its size, its previous's. */
    ULONG offset = (ULONG)(ExpPageOffset(Entry) >> POOL_BLOCK_SHIFT);
    ULONG size = Entry->BlockSize, previous = Entry->PreviousSize;

    /* 1 <= size <= what is left of the page (unsigned: size 0 wraps). */
    if (size - 1 >= POOL_PAGE_UNITS - offset)
        return FALSE;
    /* previous is 0 for the first block, else 1 <= previous <= offset. */
    return !(previous - 1 >= offset && (previous | offset) != 0);
}
static inline BOOLEAN ExpBlockHeaderIsSound(PPOOL_HEADER Entry)
{
    ULONG offset = (ULONG)(ExpPageOffset(Entry) >> POOL_BLOCK_SHIFT);
    ULONG size = Entry->BlockSize, previous = Entry->PreviousSize;

    if (!ExpBlockOwnHeaderIsSound(Entry))
        return FALSE;
    if (offset + size != POOL_PAGE_UNITS && ExpNextBlock(Entry)->PreviousSize != size)
        return FALSE;
    return previous == 0 || ExpPreviousBlock(Entry)->BlockSize == previous;
}
/* Bug check BAD_POOL_HEADER for the first check of Entry's header that fails. */
VOID ExpBugCheckBlockHeader(PPOOL_HEADER Entry);
static inline VOID ExpCheckBlockHeader(PPOOL_HEADER Entry)
{
    if (!ExpBlockHeaderIsSound(Entry))
        ExpBugCheckBlockHeader(Entry);
}

/* bigpool.c: whole-page allocations, by address (caller holds its lock). */
typedef struct _POOL_TRACKER_BIG_PAGES {
    PVOID Va;                       /* NULL: empty slot */
    ULONG Key;                      /* tag */
    ULONG PoolType;                 /* POOL_TYPE + 1; 0: a run kept in an EXP_BIG_CACHE */
    SIZE_T NumberOfBytes;           /* requested */
    SIZE_T Pages;
    PVOID ProcessBilled;
    ULONG PoolIndex;                /* descriptor: EXP_* */
} POOL_TRACKER_BIG_PAGES, *PPOOL_TRACKER_BIG_PAGES;

typedef struct _EXP_BIG_TABLE {
    PPOOL_TRACKER_BIG_PAGES Entries;
    SIZE_T Size;                    /* a power of two */
    SIZE_T Used;
} EXP_BIG_TABLE, *PEXP_BIG_TABLE;

/* Storage for Size entries, from the caller; FALSE if the table is full
 * and Storage (twice the size) is needed first. */
VOID ExpInitializeBigTable(PEXP_BIG_TABLE Table, PPOOL_TRACKER_BIG_PAGES Storage, SIZE_T Size);
BOOLEAN ExpBigTableNeedsGrowth(PEXP_BIG_TABLE Table);
/* Move every entry into NewStorage (NewSize entries); returns the old storage. */
PPOOL_TRACKER_BIG_PAGES ExpGrowBigTable(PEXP_BIG_TABLE Table, PPOOL_TRACKER_BIG_PAGES NewStorage,
                                        SIZE_T NewSize);
VOID ExpInsertBigPage(PEXP_BIG_TABLE Table, const POOL_TRACKER_BIG_PAGES *Entry);
/* Find (and with Remove, take out) the entry for Va; FALSE if none. */
BOOLEAN ExpFindBigPage(PEXP_BIG_TABLE Table, PVOID Va, PPOOL_TRACKER_BIG_PAGES Entry,
                       BOOLEAN Remove);
/* Va's entry in place, or NULL: valid until the next insert, removal or growth. */
PPOOL_TRACKER_BIG_PAGES ExpLookupBigPage(PEXP_BIG_TABLE Table, PVOID Va);

/*
 * Whole-page runs kept after their free for the next request of the same
 * number of pages (one cache per pool, under the big-page lock). A kept
 * run stays allocated from its region, mapped, and in the big-page table
 * with PoolType 0, which every lookup but the cache's treats as "not
 * allocated". Bounded by runs and by pages; only runs of up to
 * EXP_BIG_CACHE_MAX_PAGES pages are kept.
 */
#define EXP_BIG_CACHE_RUNS 8
#define EXP_BIG_CACHE_MAX_PAGES 4
#define EXP_BIG_CACHE_PAGES 16
typedef struct _EXP_BIG_RUN {
    PVOID Va;
    SIZE_T Pages;
} EXP_BIG_RUN, *PEXP_BIG_RUN;
typedef struct _EXP_BIG_CACHE {
    EXP_BIG_RUN Runs[EXP_BIG_CACHE_RUNS];   /* oldest first */
    ULONG Count;
    SIZE_T Pages;                   /* in all runs */
} EXP_BIG_CACHE, *PEXP_BIG_CACHE;
VOID ExpInitializeBigCache(PEXP_BIG_CACHE Cache);
/* Keep the run [Va, Pages): the runs that had to go to make room (oldest
 * first) are copied to Evicted (room for EXP_BIG_CACHE_RUNS); returns how
 * many. A run too long to keep is handed straight back (returns 1). */
ULONG ExpBigCachePut(PEXP_BIG_CACHE Cache, PVOID Va, SIZE_T Pages, PEXP_BIG_RUN Evicted);
/* The most recently kept run of exactly Pages pages, taken out; or NULL. */
PVOID ExpBigCacheTake(PEXP_BIG_CACHE Cache, SIZE_T Pages);
/* The oldest kept run, taken out (for trimming); FALSE if none. */
BOOLEAN ExpBigCacheTakeOldest(PEXP_BIG_CACHE Cache, PEXP_BIG_RUN Run);

/* pooltrack.c: PoolMon's counters, one table per processor (updated at
 * DISPATCH_LEVEL on its own processor, so without interlocked operations)
 * summed when read. */
#define EXP_TRACK_TABLE_SIZE 512        /* entries per processor, a power of two */
#define EXP_TRACK_OVERFLOW_TAG 0x6C66764F  /* 'Ovfl' */
typedef struct _EXP_POOL_TRACKER {
    ULONG Key;                      /* tag, PROTECTED_POOL masked off; 0 = empty */
    ULONG Reserved;
    SIZE_T Allocs[2], Frees[2];     /* [0] nonpaged, [1] paged */
    SIZE_T Bytes[2];
} EXP_POOL_TRACKER, *PEXP_POOL_TRACKER;
/* Tag's entry in processor CpuIndex's table (made if new); the pointer
 * stays valid, so callers may keep it for the next use of the same tag. */
PEXP_POOL_TRACKER ExpGetPoolTracker(ULONG CpuIndex, ULONG Tag);
VOID ExpInsertPoolTracker(ULONG CpuIndex, ULONG Tag, SIZE_T Bytes, BOOLEAN Paged);
VOID ExpRemovePoolTracker(ULONG CpuIndex, ULONG Tag, SIZE_T Bytes, BOOLEAN Paged);
VOID ExpResetPoolTracking(VOID);        /* host tests */
/* The tag as PoolMon prints it: four characters, '.' for unprintable ones. */
PCSTR ExpTagName(ULONG Tag, char Name[5]);

/* poolpage.c (kernel) or the host harness: pages for the descriptors. */
VOID MiInitializePoolRegions(PVOID NonPagedStorage, PVOID PagedStorage);
SIZE_T MiPoolRegionStorageSize(VOID);
PVOID MiAllocatePoolPages(ULONG PoolIndex, PFN_NUMBER Pages);
VOID MiFreePoolPages(ULONG PoolIndex, PVOID Va, PFN_NUMBER Pages);
/* The pool region holding Va, or -1: EXP_PAGED, or for nonpaged pool a
 * nonpaged index (the kernel answers EXP_NONPAGED_NX for both nonpaged
 * pools, which share a region; headers and big-page entries are exact). */
LONG MiPoolIndexOfAddress(PVOID Va);
/* MiPoolIndexOfAddress(Va) == EXP_PAGED, inline: the page-fault path asks
 * first (a call and a return cost a TB lookup each under QEMU's TCG). */
static inline BOOLEAN MiIsPagedPoolAddress(PVOID Va)
{
    return (ULONG64)Va - MM_PAGED_POOL_START < (MM_PAGED_POOL_PAGES << PAGE_SHIFT);
}
/* Are these pool pages allocated (reserved) right now? */
BOOLEAN MiIsPoolPageAllocated(ULONG PoolIndex, PVOID Va);
/* Demand-zero fault on paged pool: TRUE if resolved. */
BOOLEAN MiResolvePagedPoolFault(PVOID Va);      /* pager.c */
PFN_NUMBER MiNonPagedPoolFreeAddressPages(VOID);
/* Call Routine(Va, Pages) for each allocated run of one pool region. */
typedef VOID (*PMI_POOL_RUN_ROUTINE)(ULONG PoolIndex, PVOID Va, PFN_NUMBER Pages, PVOID Context);
VOID MiEnumeratePoolRuns(ULONG PoolIndex, PMI_POOL_RUN_ROUTINE Routine, PVOID Context);
PFN_NUMBER MiPoolPagesInUse(ULONG PoolIndex);

/* special.c: Driver Verifier's special pool. */
VOID MiInitializeSpecialPool(VOID);
BOOLEAN MiUseSpecialPool(ULONG Tag, SIZE_T NumberOfBytes, ULONG PoolType);
PVOID MiAllocateSpecialPool(SIZE_T NumberOfBytes, ULONG Tag, ULONG PoolType, ULONG Priority);
/* A range check, inline: every free asks it first. */
static inline BOOLEAN MiIsSpecialPoolAddress(PVOID Va)
{
    return (ULONG64)Va >= MM_SPECIAL_POOL_START && (ULONG64)Va < MM_SPECIAL_POOL_END;
}
/* Set while verifier= selects tags for special pool: the allocation path
 * asks MiUseSpecialPool only then. */
extern BOOLEAN MiSpecialPoolSelecting;
VOID MiFreeSpecialPool(PVOID P, ULONG Tag);
SIZE_T MiSpecialPoolBlockSize(PVOID P);
ULONG MiReportSpecialPool(ULONG Tag, BOOLEAN Print);
VOID MiDumpSpecialPool(PVOID Va);
/* A fault in special pool: bug checks (0xCC/0xCD) if it is one. */
VOID MiCheckSpecialPoolFault(PVOID Va, BOOLEAN Write, PVOID Pc);

/* pool.c */
VOID ExpInitializePool(VOID);
/* For the reports (poolreport.c): is Va a page of the big-page table itself;
 * the whole-page allocation that starts at Va (FALSE if none). */
BOOLEAN ExpIsBigTableStorage(PVOID Va);
BOOLEAN ExpQueryBigPage(PVOID Va, PPOOL_TRACKER_BIG_PAGES Entry);

/* Is a request carved from a pool page (else it gets whole pages)? */
static inline BOOLEAN ExpIsSmallRequest(SIZE_T NumberOfBytes, BOOLEAN CacheAligned)
{
    return NumberOfBytes <= (CacheAligned ? POOL_SMALL_CACHE_ALIGNED_LIMIT : POOL_SMALL_LIMIT);
}

/*
 * The one tag check of every free, normal and special pool. Tag 0 means
 * "do not check": ExFreePool(P) is ExFreePoolWithTag(P, 0). Any other Tag
 * must name the block's tag (PROTECTED_POOL aside). A block allocated with
 * PROTECTED_POOL in its tag must be freed with ExFreePoolWithTag and its
 * tag (wdm.h: a protected tag "must use ExFreePoolWithTag to free"), so Tag
 * 0 does not do for it. Else BAD_POOL_CALLER (0x0A, P, its tag, Tag).
 */
static inline VOID ExpCheckFreeTag(PVOID P, ULONG Stored, ULONG Tag)
{
    if (Tag == 0 ? (Stored & PROTECTED_POOL) != 0 : ((Stored ^ Tag) & ~PROTECTED_POOL) != 0)
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_WRONG_TAG, (ULONG_PTR)P, Stored, Tag);
}
/* Give back the memory the pools keep for reuse (this processor's
 * lookasides, kept empty pages and runs); TRUE if there was any. */
BOOLEAN ExpTrimPoolCaches(VOID);

/* The tracker and the per-processor lookasides are touched at
 * DISPATCH_LEVEL; these get there from any lower level and back. */
static inline KIRQL ExpRaiseToDpc(void)
{
    KIRQL old = KeGetCurrentIrql();

    if (old < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &old);
    return old;
}

static inline void ExpLowerFromDpc(KIRQL Old)
{
    if (Old < DISPATCH_LEVEL)
        KeLowerIrql(Old);
}
extern POOL_DESCRIPTOR ExpPoolDescriptors[EXP_POOL_DESCRIPTORS];
/* Quota, charged by ExAllocatePoolWithQuotaTag and POOL_FLAG_USE_QUOTA. */
typedef struct _EPROCESS_QUOTA_BLOCK {
    SIZE_T Usage[2];                /* [0] nonpaged, [1] paged */
    SIZE_T Limit[2];
    SIZE_T Peak[2];
} EPROCESS_QUOTA_BLOCK, *PEPROCESS_QUOTA_BLOCK;
extern EPROCESS_QUOTA_BLOCK PspDefaultQuotaBlock;

/* lookaside.c: what the kd> shell's !lookaside prints, one list each. */
typedef struct _EXP_LOOKASIDE_SNAPSHOT {
    PVOID Address;
    POOL_TYPE Type;
    ULONG Tag, Size;
    USHORT Depth, MaximumDepth, Cached;
    ULONG TotalAllocates, AllocateMisses, TotalFrees, FreeMisses;
} EXP_LOOKASIDE_SNAPSHOT, *PEXP_LOOKASIDE_SNAPSHOT;
ULONG ExpSnapshotLookasideLists(PEXP_LOOKASIDE_SNAPSHOT Out, ULONG Max);

#endif

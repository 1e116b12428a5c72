/*
 * runtree.h - free-run search tree for contiguous physical allocations.
 *
 * Internal to the memory manager. A bitmap of free pages (bit set = free)
 * plus a segment tree over its 64-bit words; every tree node keeps the
 * longest free run in its span and the free runs touching its two edges, so
 * "the lowest run of N free pages in [Low, High]" is a tree descent instead
 * of a scan. The PFN database owns the page lists; this structure only
 * answers contiguous-range questions (see runtree.c).
 *
 * No locking: the caller (the PFN database lock) serialises every call.
 */
#ifndef MICA_MM_RUNTREE_H
#define MICA_MM_RUNTREE_H

#include "../kernel/ntdef.h"

/* Summary of one span of pages, in pages. Internal nodes only. */
typedef struct _MI_RUN_NODE {
    ULONG Longest;  /* longest free run anywhere in the span */
    ULONG Prefix;   /* free run starting at the span's first page */
    ULONG Suffix;   /* free run ending at the span's last page */
} MI_RUN_NODE, *PMI_RUN_NODE;

typedef struct _MI_RUN_TREE {
    PULONG64 Bitmap;        /* WordCount words; page P is bit P%64 of word P/64 */
    PMI_RUN_NODE Nodes;     /* LeafCount entries, heap order; [1] is the root */
    PFN_NUMBER PageCount;
    PFN_NUMBER FreeCount;   /* pages whose bit is set */
    ULONG WordCount;        /* ceil(PageCount / 64) */
    ULONG LeafCount;        /* WordCount rounded up to a power of two */
    ULONG64 Descents;       /* statistics: tree descents made by Find */
    ULONG64 NodesVisited;   /* statistics: nodes and leaves Find examined */
} MI_RUN_TREE, *PMI_RUN_TREE;

#define MI_RUN_NONE ((PFN_NUMBER)-1)

/* Largest PageCount the tree accepts (node counts are 32-bit); larger is clamped. */
#define MI_RUN_MAX_PAGES ((PFN_NUMBER)0xFFFFFFFF)

/* Bytes of storage to pass to MiRunTreeInitialize (a multiple of 8). */
SIZE_T MiRunTreeStorageSize(PFN_NUMBER PageCount);

/* Storage must be 8-byte aligned and MiRunTreeStorageSize bytes; it need not
   be zeroed. Every page starts in use. */
VOID MiRunTreeInitialize(PMI_RUN_TREE Tree, PVOID Storage, PFN_NUMBER PageCount);

/* Mark [Start, Start+Count) free / in use. Idempotent per page; the part of
   the range at or beyond PageCount is ignored. */
VOID MiRunTreeSetFree(PMI_RUN_TREE Tree, PFN_NUMBER Start, PFN_NUMBER Count);
VOID MiRunTreeSetUsed(PMI_RUN_TREE Tree, PFN_NUMBER Start, PFN_NUMBER Count);

BOOLEAN MiRunTreeIsFree(PMI_RUN_TREE Tree, PFN_NUMBER Page);
PFN_NUMBER MiRunTreeFreeCount(PMI_RUN_TREE Tree);
PFN_NUMBER MiRunTreeLongestRun(PMI_RUN_TREE Tree);

/*
 * Lowest Start with [Start, Start+Count) all free, LowPage <= Start,
 * Start+Count-1 <= HighPage (clamped to PageCount-1) and, if BoundaryPages
 * is not 0 (a power of two), the run does not cross a multiple of
 * BoundaryPages (it may start at one):
 * (Start ^ (Start+Count-1)) & ~(BoundaryPages-1) == 0.
 * MI_RUN_NONE if there is none, Count is 0, Count > BoundaryPages, the range
 * is empty, or BoundaryPages is not a power of two. Changes only the
 * statistics counters.
 */
PFN_NUMBER MiRunTreeFind(PMI_RUN_TREE Tree, PFN_NUMBER Count, PFN_NUMBER LowPage,
                         PFN_NUMBER HighPage, PFN_NUMBER BoundaryPages);

/* Debug: recompute every node from the bitmap; TRUE when all agree. O(N). */
BOOLEAN MiRunTreeVerify(PMI_RUN_TREE Tree);


#endif

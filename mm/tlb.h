/*
 * tlb.h - the TB flush list: the addresses whose translations must go
 * from every processor, gathered while PTEs are edited and flushed once
 * (tlb.c, MiShootdownTbList).
 *
 * Every processor may cache a translation of system space (and the
 * paging-structure entries above it) for as long as it likes, so a page or
 * an address range whose valid PTE was cleared may be given to a new owner
 * only after every processor has dropped what it cached: one IPI round for
 * the whole batch, not one per page. The list holds up to
 * MI_TB_FLUSH_MAXIMUM addresses (NT's and Linux's ceiling: past it, one
 * full flush is cheaper than that many invlpg); one more turns it into
 * "flush everything". Pages that may be reused only after the flush wait
 * on the list too (MiTbFlushListDeferPage, tlb.c), so the rule "nothing is
 * freed before the flush" is kept by construction: the flush frees them.
 *
 * The adding logic is here, inline and hardware-free, so host tests run it.
 */
#ifndef MICA_MM_TLB_H
#define MICA_MM_TLB_H

#include "../kernel/ke/ke.h"

#define MI_TB_FLUSH_MAXIMUM 32
#define MI_TB_FLUSH_ENTIRE (MI_TB_FLUSH_MAXIMUM + 1)     /* Count: flush everything */
#define MI_TB_NO_PAGE ((PFN_NUMBER)~0ULL)                 /* end of a waiting-page chain */

typedef struct _MI_TB_FLUSH_LIST {
    ULONG Count;                        /* 0..MAXIMUM addresses, or MI_TB_FLUSH_ENTIRE */
    PVOID Va[MI_TB_FLUSH_MAXIMUM];
    /* Pages to free once flushed, chained through their PFN entries'
     * u1.Flink: data pages to the Free list, emptied page tables to the
     * Zeroed list. MmPfnLock is held from the first one added to the flush. */
    PFN_NUMBER WaitingPages, WaitingZeroedPages;
    PFN_NUMBER WaitingCount;
} MI_TB_FLUSH_LIST, *PMI_TB_FLUSH_LIST;

static inline VOID MiInitializeTbFlushList(PMI_TB_FLUSH_LIST List)
{
    List->Count = 0;
    List->WaitingPages = List->WaitingZeroedPages = MI_TB_NO_PAGE;
    List->WaitingCount = 0;
}

/* Va's translation must go (any address inside the page will do). */
static inline VOID MiAddTbFlushEntry(PMI_TB_FLUSH_LIST List, PVOID Va)
{
    if (List->Count < MI_TB_FLUSH_MAXIMUM)
        List->Va[List->Count++] = Va;
    else
        List->Count = MI_TB_FLUSH_ENTIRE;
}

/* Every translation must go, whatever was added. */
static inline VOID MiAddTbFlushEverything(PMI_TB_FLUSH_LIST List)
{
    List->Count = MI_TB_FLUSH_ENTIRE;
}

static inline BOOLEAN MiTbFlushListIsEmpty(const MI_TB_FLUSH_LIST *List)
{
    return List->Count == 0 && List->WaitingCount == 0;
}

#endif

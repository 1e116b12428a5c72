/*
 * poolpage.c - the pages under the pools: two regions of system space,
 * each handed out by a free-run tree (runtree.c) as sysptes.c does.
 *
 *   nonpaged pool  MM_NONPAGED_POOL_START: pages are taken from the PFN
 *                  database and mapped when the addresses are allocated,
 *                  and stay resident until freed.
 *   paged pool     MM_PAGED_POOL_START: allocating reserves the
 *                  addresses and charges commit for every page (commit.c:
 *                  refused, NULL, past the commit limit), and makes the
 *                  page tables; each page gets a zeroed physical page on
 *                  the first touch, through MmAccessFault ->
 *                  MiResolvePagedPoolFault (demand zero), which turns one
 *                  page of the commitment into that page. Freeing gives
 *                  back the touched pages and the rest of the commitment.
 *
 * Nonpaged pages are charged by pfndb.c as they are taken (commit.c), so
 * nonpaged pool cannot take the pages paged pool was promised.
 *
 * With a page file, paged-pool pages are paged out and back by pager.c
 * (allocation writes NT's demand-zero PTE, 0x80, into each PTE; freeing
 * hands every page, whatever its PTE says, to MiDeletePageablePteLocked);
 * without one a touched page stays resident until it is freed. Both trees
 * are guarded by MmPfnLock, which mapping and commit need anyway.
 */
#include "pool_internal.h"

static MI_RUN_TREE MiPoolTree[2];       /* [0] nonpaged, [1] paged */
static const ULONG64 MiPoolBase[2] = {MM_NONPAGED_POOL_START, MM_PAGED_POOL_START};
static const PFN_NUMBER MiPoolPages[2] = {MM_NONPAGED_POOL_PAGES, MM_PAGED_POOL_PAGES};

#define MI_NONPAGED_REGION 0
#define MI_PAGED_REGION 1
#define MI_POOL_REGION(PoolIndex) ((PoolIndex) == EXP_PAGED ? MI_PAGED_REGION : MI_NONPAGED_REGION)

SIZE_T MiPoolRegionStorageSize(VOID)
{
    /* Both regions have the same number of pages. */
    return MiRunTreeStorageSize(MM_NONPAGED_POOL_PAGES);
}

VOID MiInitializePoolRegions(PVOID NonPagedStorage, PVOID PagedStorage)
{
    MiRunTreeInitialize(&MiPoolTree[0], NonPagedStorage, MiPoolPages[0]);
    MiRunTreeSetFree(&MiPoolTree[0], 0, MiPoolPages[0]);
    MiRunTreeInitialize(&MiPoolTree[1], PagedStorage, MiPoolPages[1]);
    MiRunTreeSetFree(&MiPoolTree[1], 0, MiPoolPages[1]);
}

/*
 * The pool region holding Va: EXP_PAGED, EXP_NONPAGED_NX for the nonpaged
 * region (whose pages belong to NonPagedPool or NonPagedPoolNx: a block's
 * header or big-page entry says which), or -1. A range check, no walk.
 */
LONG MiPoolIndexOfAddress(PVOID Va)
{
    ULONG64 va = (ULONG64)Va;

    if (va >= MM_NONPAGED_POOL_START && va < MM_NONPAGED_POOL_END)
        return EXP_NONPAGED_NX;
    if (va >= MM_PAGED_POOL_START && va < MM_PAGED_POOL_START + (MM_PAGED_POOL_PAGES << PAGE_SHIFT))
        return EXP_PAGED;
    return -1;
}

static PFN_NUMBER MiPoolPageIndex(ULONG Region, PVOID Va)
{
    return ((ULONG64)Va - MiPoolBase[Region]) >> PAGE_SHIFT;
}

BOOLEAN MiIsPoolPageAllocated(ULONG PoolIndex, PVOID Va)
{
    ULONG region = MI_POOL_REGION(PoolIndex);
    PFN_NUMBER index = MiPoolPageIndex(region, Va);

    return index < MiPoolPages[region] && !MiRunTreeIsFree(&MiPoolTree[region], index);
}

/* MmPfnLock held: give back the resident pages of [Va, Va + Pages) and,
 * for paged pool, the commitment of the pages never touched (a touched
 * page's share went back with the page, pfndb.c). Unmapped, shot down
 * once for the run, and only then are the pages freed (by the shootdown)
 * and the addresses returned to the region's tree: either could be
 * handed out again the moment the lock drops. */
static void MiReleasePoolPagesLocked(ULONG Region, PUCHAR Va, PFN_NUMBER Pages)
{
    PFN_NUMBER untouched = 0;
    MI_TB_FLUSH_LIST flush;

    MiInitializeTbFlushList(&flush);
    for (PFN_NUMBER i = 0; i < Pages; i++) {
        PUCHAR page = Va + (i << PAGE_SHIFT);
        ULONG level;
        if (Region == MI_PAGED_REGION)
            /* Whatever its PTE says (pager.c): the page, its slot and its
             * unit of commit go back. */
            MiDeletePageablePteLocked(MiGetPteAddress(page), &flush);
        else if (MiWalkToPte(page, &level) != NULL)
            MiUnmapAndFreePageLocked(page, &flush);
        else
            untouched++;
    }
    MiShootdownTbList(&flush);
    UNREFERENCED_PARAMETER(untouched);
    MiRunTreeSetFree(&MiPoolTree[Region], MiPoolPageIndex(Region, Va), Pages);
}

PVOID MiAllocatePoolPages(ULONG PoolIndex, PFN_NUMBER Pages)
{
    ULONG region = MI_POOL_REGION(PoolIndex);
    ULONG64 bits = MM_PTE_WRITE | MM_PTE_GLOBAL |
                   (PoolIndex == EXP_NONPAGED_EXECUTE ? 0 : MM_PTE_NO_EXECUTE);
    PFN_NUMBER index;
    PUCHAR va = NULL;
    KIRQL irql;

    if (Pages == 0 || Pages > MiPoolPages[region])
        return NULL;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    index = MiRunTreeFind(&MiPoolTree[region], Pages, 0, MiPoolPages[region] - 1, 0);
    if (index == MI_RUN_NONE)
        goto out;
    if (region == MI_PAGED_REGION) {
        /* Paged pages come on first touch: promise them now, or refuse. */
        if (!MiChargeCommitmentLocked(Pages))
            goto out;
        va = (PUCHAR)(MiPoolBase[region] + (index << PAGE_SHIFT));
        if (!NT_SUCCESS(MiMakeKeptPageTablesLocked(va, Pages))) {
            MiReturnCommitmentLocked(Pages);
            va = NULL;
            goto out;
        }
        /* Each PTE says "demand zero" (NT's 0x80) until the first touch. */
        for (PFN_NUMBER i = 0; i < Pages; i++)
            MiGetPteAddress(va + (i << PAGE_SHIFT))->Long = MM_KERNEL_DEMAND_ZERO_PTE;
        MiRunTreeSetUsed(&MiPoolTree[region], index, Pages);
        goto out;
    }
    /* Nonpaged pages must all exist now (each is charged as it is taken;
     * asking first saves mapping pages only to give them back). */
    if (MmAvailablePages < Pages || !MiCommitmentAvailable(Pages))
        goto out;
    MiRunTreeSetUsed(&MiPoolTree[region], index, Pages);
    va = (PUCHAR)(MiPoolBase[region] + (index << PAGE_SHIFT));
    for (PFN_NUMBER i = 0; i < Pages; i++) {
        if (!MiMapNewPageLocked(va + (i << PAGE_SHIFT), bits, FALSE)) {
            /* Out of pages or page tables: the pages mapped so far go back. */
            MiReleasePoolPagesLocked(region, va, Pages);
            va = NULL;
            break;
        }
    }
out:
    KeReleaseSpinLock(&MmPfnLock, irql);
    return va;
}

VOID MiFreePoolPages(ULONG PoolIndex, PVOID Va, PFN_NUMBER Pages)
{
    ULONG region = MI_POOL_REGION(PoolIndex);
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiReleasePoolPagesLocked(region, Va, Pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* Nonpaged pool's free addresses, in pages (NO_PAGES_AVAILABLE's third parameter). */
PFN_NUMBER MiNonPagedPoolFreeAddressPages(VOID)
{
    return MiRunTreeFreeCount(&MiPoolTree[MI_NONPAGED_REGION]);
}

VOID MiEnumeratePoolRuns(ULONG PoolIndex, PMI_POOL_RUN_ROUTINE Routine, PVOID Context)
{
    ULONG region = MI_POOL_REGION(PoolIndex);
    PFN_NUMBER start = 0, i;

    /* Walks the bitmap: O(region) but only for reports. Runs are read
     * without the lock; the caller knows the pool is quiet. */
    while (start < MiPoolPages[region]) {
        while (start < MiPoolPages[region] && MiRunTreeIsFree(&MiPoolTree[region], start))
            start++;
        for (i = start; i < MiPoolPages[region] && !MiRunTreeIsFree(&MiPoolTree[region], i); i++)
            ;
        if (i > start)
            Routine(PoolIndex, (PVOID)(MiPoolBase[region] + (start << PAGE_SHIFT)), i - start,
                    Context);
        start = i;
    }
}

PFN_NUMBER MiPoolPagesInUse(ULONG PoolIndex)
{
    ULONG region = MI_POOL_REGION(PoolIndex);

    return MiPoolPages[region] - MiRunTreeFreeCount(&MiPoolTree[region]);
}

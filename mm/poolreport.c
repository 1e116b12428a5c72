/*
 * poolreport.c - what the pools say about themselves, for people: the leak
 * report (ExpReportPoolLeaks), the !pool walk of one page (ExpDumpPoolPage)
 * and PoolMon's table (ExpDumpPoolTags). These are Mica's own routines, not
 * NT exports: NT leaves them to the debugger (!poolused, !pool, PoolMon).
 *
 * They read the pools without their locks, page by page: the caller knows
 * the pool is quiet (a test, or the debugger's stopped machine). Only the
 * big-page table is asked under its lock (pool.c).
 */
#include "pool_internal.h"

/* ---- live blocks and !pool -------------------------------------------------------------------- */

typedef struct _EXP_REPORT {
    ULONG Tag;
    ULONG Count;
    PVOID Mark;                     /* !pool: the address to mark */
    BOOLEAN Print;
} EXP_REPORT;

static VOID ExpReportBlock(PPOOL_HEADER Entry, PVOID Context)
{
    EXP_REPORT *r = Context;
    BOOLEAN live = Entry->PoolType != 0 && !(Entry->PoolIndex & EXP_POOL_INDEX_CACHED);
    char name[5];

    if (r->Mark != NULL) {
        BOOLEAN here = (ULONG64)r->Mark >= (ULONG64)Entry &&
                       (ULONG64)r->Mark < (ULONG64)Entry + ((ULONG64)Entry->BlockSize << 4);
        ExpTagName(Entry->PoolTag, name);
        DbgPrint("%c%p size: %4x previous size: %4x  %s %s\n", here ? '*' : ' ', Entry,
                 Entry->BlockSize << 4, Entry->PreviousSize << 4,
                 Entry->PoolType == 0 ? "(Free)     "
                 : (Entry->PoolIndex & EXP_POOL_INDEX_CACHED) ? "(Lookaside)"
                                                              : "(Allocated)",
                 Entry->PoolType == 0 ? "" : name);
        return;
    }
    if (!live || (r->Tag != 0 && ((Entry->PoolTag ^ r->Tag) & ~PROTECTED_POOL) != 0))
        return;
    r->Count++;
    if (r->Print) {
        ExpTagName(Entry->PoolTag, name);
        DbgPrint("  %p %6u bytes %s %s\n", ExpBlockBody(Entry),
                 (Entry->BlockSize << 4) - 16, name,
                 (Entry->PoolType - 1U) & BASE_POOL_TYPE_MASK ? "Paged" : "Nonp");
    }
}

static VOID ExpReportRun(ULONG PoolIndex, PVOID Va, PFN_NUMBER Pages, PVOID Context)
{
    EXP_REPORT *r = Context;
    PUCHAR page = Va, end = (PUCHAR)Va + (Pages << PAGE_SHIFT);

    while (page < end) {
        POOL_TRACKER_BIG_PAGES big;
        LONG index = MiPoolIndexOfAddress(page);
        if (ExpIsBigTableStorage(page)) {
            page += PAGE_SIZE;
            continue;
        }
        if (ExpQueryBigPage(page, &big)) {
            /* A run kept for reuse (PoolType 0) is free, not a leak. */
            if (big.PoolType != 0 &&
                (r->Tag == 0 || ((big.Key ^ r->Tag) & ~PROTECTED_POOL) == 0)) {
                char name[5];
                r->Count++;
                ExpTagName(big.Key, name);
                if (r->Print)
                    DbgPrint("  %p %6llu bytes %s %s (%llu pages)\n", page,
                             (ULONG64)big.NumberOfBytes, name,
                             PoolIndex == EXP_PAGED ? "Paged" : "Nonp", (ULONG64)big.Pages);
            }
            page += big.Pages << PAGE_SHIFT;
            continue;
        }
        if ((ULONG)index == PoolIndex || (PoolIndex != EXP_PAGED && index != EXP_PAGED))
            ExpWalkPoolPage(page, ExpReportBlock, r);
        page += PAGE_SIZE;
    }
}

ULONG ExpReportPoolLeaks(ULONG Tag)
{
    EXP_REPORT r = {Tag, 0, NULL, TRUE};

    MiEnumeratePoolRuns(EXP_NONPAGED_NX, ExpReportRun, &r);   /* both nonpaged pools */
    MiEnumeratePoolRuns(EXP_PAGED, ExpReportRun, &r);
    return r.Count + MiReportSpecialPool(Tag, TRUE);
}

BOOLEAN ExpDumpPoolPage(PVOID Address)
{
    EXP_REPORT r = {0, 0, Address, TRUE};
    POOL_TRACKER_BIG_PAGES big;
    LONG index = MiPoolIndexOfAddress(Address);
    PVOID page = PAGE_ALIGN(Address);

    if (MiIsSpecialPoolAddress(Address)) {
        MiDumpSpecialPool(Address);
        return TRUE;
    }
    if (index < 0 || !MiIsPoolPageAllocated((ULONG)index, page) || ExpIsBigTableStorage(page))
        return FALSE;
    if (ExpQueryBigPage(page, &big)) {
        char name[5];
        if (big.PoolType == 0) {
            DbgPrint("*%p : free run of %llu pages, kept for reuse\n", big.Va, (ULONG64)big.Pages);
            return TRUE;
        }
        ExpTagName(big.Key, name);
        DbgPrint("*%p : large page allocation, tag %s, size %llx\n", page, name,
                 (ULONG64)big.NumberOfBytes);
        return TRUE;
    }
    if (ExpIsKeptEmptyPage((PPOOL_HEADER)page)) {
        DbgPrint("*%p : empty pool page, kept for reuse\n", page);
        return TRUE;
    }
    DbgPrint("Pool page %p region is %s pool\n", Address,
             index == EXP_PAGED ? "Paged" : "Nonpaged");
    ExpWalkPoolPage(page, ExpReportBlock, &r);
    return TRUE;
}

/* ---- PoolMon's table ------------------------------------------------------------------------- */

static void ExpPrintTag(ULONG Tag, PCSTR Type, SIZE_T Allocs, SIZE_T Frees, SIZE_T Bytes)
{
    SIZE_T diff = Allocs - Frees;
    char name[5];

    DbgPrint(" %s %s %10llu %10llu %8llu %12llu %8llu\n", ExpTagName(Tag, name), Type,
             (ULONG64)Allocs, (ULONG64)Frees, (ULONG64)diff, (ULONG64)Bytes,
             (ULONG64)(diff ? Bytes / diff : 0));
}

VOID ExpDumpPoolTags(VOID)
{
    static SYSTEM_POOLTAG tags[256];
    ULONG n = ExpQueryPoolTagInformation(tags, ARRAYSIZE(tags));

    DbgPrint(" Tag  Type     Allocs      Frees     Diff        Bytes Per Alloc\n");
    for (ULONG i = 0; i < n && i < ARRAYSIZE(tags); i++) {
        if (tags[i].NonPagedAllocs)
            ExpPrintTag(tags[i].TagUlong, "Nonp", tags[i].NonPagedAllocs, tags[i].NonPagedFrees,
                        tags[i].NonPagedUsed);
        if (tags[i].PagedAllocs)
            ExpPrintTag(tags[i].TagUlong, "Paged", tags[i].PagedAllocs, tags[i].PagedFrees,
                        tags[i].PagedUsed);
    }
    if (n > ARRAYSIZE(tags))
        DbgPrint(" (%u more tags not shown)\n", n - (ULONG)ARRAYSIZE(tags));
}

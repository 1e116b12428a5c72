/*
 * test_pool_commit.c - paged pool against the commit limit (mm/commit.c):
 * no promise beyond what RAM can keep, every promise returned on free, and
 * a promised page always there when it is first touched, even when
 * nonpaged pool has taken everything else.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_COMMIT 'mCPT'

/*
 * The pools keep freed memory for reuse (lookasides, empty pages, runs),
 * still resident and still charged, until an allocation needs it back.
 * Every figure here is read with that memory given back first, so that it
 * counts only what is live.
 */
static void KtpTrimPools(void)
{
    while (ExpTrimPoolCaches())
        ;
}

static PFN_NUMBER KtpCommitted(void)
{
    KtpTrimPools();
    return MmTotalCommittedPages;
}

/* Pages that may still be promised. */
static PFN_NUMBER KtpCommitLeft(void)
{
    KtpTrimPools();
    return MmTotalCommitLimit - MmTotalCommittedPages;
}

static BOOLEAN KtpTouchPages(PUCHAR P, PFN_NUMBER Pages)
{
    for (PFN_NUMBER i = 0; i < Pages; i++) {
        P[i << PAGE_SHIFT] = (UCHAR)i;
        P[(i << PAGE_SHIFT) + PAGE_SIZE - 1] = (UCHAR)~i;
    }
    for (PFN_NUMBER i = 0; i < Pages; i++)
        if (P[i << PAGE_SHIFT] != (UCHAR)i ||
            P[(i << PAGE_SHIFT) + PAGE_SIZE - 1] != (UCHAR)~i)
            return FALSE;
    return TRUE;
}

KTEST(poolcommit, limit_is_set_at_boot)
{
    KtestPrint("#   commit: %llu of %llu pages charged, %llu available, %llu RAM pages\n",
               (ULONG64)MmTotalCommittedPages, (ULONG64)MmTotalCommitLimit,
               (ULONG64)MmAvailablePages, (ULONG64)MmNumberOfPhysicalPages);
    KEXPECT_GT(MmTotalCommitLimit, 0);
    KEXPECT_LE(MmTotalCommitLimit, MmNumberOfPhysicalPages);
    KEXPECT_LE(MmTotalCommittedPages, MmTotalCommitLimit);
    /* No pageable memory is outstanding in a quiet system beyond what
     * paged pool holds: the resident part is the pages that left. */
    KEXPECT_GE(MmTotalCommittedPages, MmTotalCommitLimit - MmAvailablePages);
}

/* More paged pool than there is RAM: refused, whichever routine asks. */
KTEST(poolcommit, overcommit_is_refused)
{
    SIZE_T bytes = (MmNumberOfPhysicalPages << PAGE_SHIFT) + (4 << 20);
    PFN_NUMBER before = KtpCommitted();
    PVOID p;

    p = ExAllocatePoolWithTag(PagedPool, bytes, TAG_COMMIT);
    KEXPECT_TRUE(p == NULL);
    if (p != NULL)
        ExFreePool(p);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_PAGED, bytes, TAG_COMMIT) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithTag(PagedPoolCacheAligned, bytes, TAG_COMMIT) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithQuotaTag(
                     (POOL_TYPE)(PagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), bytes,
                     TAG_COMMIT) == NULL);
    KEXPECT_EQ(KtpCommitted(), before);       /* nothing stays charged */
}

/* The limit is exact: up to it is granted, one page beyond is not. */
KTEST(poolcommit, charge_stops_at_the_limit)
{
    PFN_NUMBER left = KtpCommitLeft();

    KASSERT_TRUE(left > 16);
    KEXPECT_FALSE(MiChargeCommitment(left + 1));
    KEXPECT_EQ(KtpCommitLeft(), left);
    KEXPECT_TRUE(MiChargeCommitment(left));
    KEXPECT_EQ(KtpCommitLeft(), 0);
    KEXPECT_FALSE(MiChargeCommitment(1));
    KEXPECT_TRUE(ExAllocatePoolWithTag(PagedPool, 2 * PAGE_SIZE, TAG_COMMIT) == NULL);
    MiReturnCommitment(left);
    KEXPECT_EQ(KtpCommitLeft(), left);
}

/*
 * Every allocation's commitment comes back: whole pages touched or not,
 * nonpaged pages, small paged blocks. (Paged pool's page tables are made
 * once and kept: a first round makes them, the counted rounds reuse them.)
 */
KTEST(poolcommit, charge_returns_on_free)
{
    PFN_NUMBER before;
    PUCHAR p;

    p = ExAllocatePoolWithTag(PagedPool, 5 * PAGE_SIZE, TAG_COMMIT);
    KASSERT_TRUE(p != NULL);
    ExFreePool(p);
    before = KtpCommitted();
    for (ULONG round = 0; round < 200 && !KtestCurrentFailed; round++) {
        p = ExAllocatePoolWithTag(PagedPool, 5 * PAGE_SIZE, TAG_COMMIT);
        KASSERT_TRUE(p != NULL);
        KEXPECT_EQ(KtpCommitted(), before + 5);        /* promised in full */
        if (round & 1)
            KEXPECT_TRUE(KtpTouchPages(p + PAGE_SIZE, 2));
        KEXPECT_EQ(KtpCommitted(), before + 5);        /* a touch turns a promise into a page */
        ExFreePool(p);
        KEXPECT_EQ(KtpCommitted(), before);
        p = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * PAGE_SIZE, TAG_COMMIT);
        KASSERT_TRUE(p != NULL);
        KEXPECT_EQ(KtpCommitted(), before + 3);        /* resident pages count too */
        ExFreePool(p);
        KEXPECT_EQ(KtpCommitted(), before);
    }
    /* Small paged blocks: pool pages come and go; the per-processor
     * lookasides may keep a few. A leak would grow with the rounds. */
    for (ULONG round = 0; round < 3000; round++) {
        PUCHAR q = ExAllocatePoolWithTag(PagedPool, 16 + (round * 37) % 4000, TAG_COMMIT);
        KASSERT_TRUE(q != NULL);
        q[0] = 1;
        ExFreePool(q);
    }
    KEXPECT_LE(KtpCommitted(), before + 8);
}

/*
 * Commit used up to the limit: the paged pool promised earlier still gets
 * every page when it is touched, and nothing else may take one (the pages
 * are there, but they are promised).
 */
KTEST(poolcommit, full_commit_still_backs_every_touch)
{
    enum { PAGES = 512 };
    PHYSICAL_ADDRESS highest;
    PFN_NUMBER before = KtpCommitted(), rest, page;
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, PAGES * PAGE_SIZE, TAG_COMMIT);
    KIRQL irql;

    KASSERT_TRUE(p != NULL);
    rest = KtpCommitLeft();
    KASSERT_TRUE(MiChargeCommitment(rest));
    KEXPECT_GE(MmAvailablePages, PAGES);               /* there, but promised */
    KEXPECT_TRUE(ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG_COMMIT) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_COMMIT) == NULL);
    highest.QuadPart = -1;
    KEXPECT_TRUE(MmAllocateContiguousMemory(PAGE_SIZE, highest) == NULL);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    page = MiRemoveAnyPage(0);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KEXPECT_EQ(page, 0);
    KEXPECT_TRUE(KtpTouchPages(p, PAGES));
    for (ULONG i = 0; i < PAGES; i++)
        KEXPECT_TRUE(MmIsAddressValid(p + ((SIZE_T)i << PAGE_SHIFT)));
    KEXPECT_EQ(KtpCommitLeft(), 0);
    MiReturnCommitment(rest);
    ExFreePool(p);
    KEXPECT_EQ(KtpCommitted(), before);
}

/*
 * Paged pool allocated until the limit refuses it, then every page of it
 * touched: each fault finds its page. (With more RAM than HEADROOM pages
 * of commit left, the rest is charged first, so the test touches the same
 * amount in every configuration.)
 */
KTEST(poolcommit, paged_pool_to_the_limit_all_touched)
{
    enum { HEADROOM = 16384, MAX_CHUNKS = 1024 };
    static PUCHAR chunks[MAX_CHUNKS];
    static PFN_NUMBER pages[MAX_CHUNKS];
    PFN_NUMBER before = KtpCommitted(), charged = 0, touched = 0;
    ULONG n = 0;
    ULONG64 start;

    if (KtpCommitLeft() > HEADROOM) {
        charged = KtpCommitLeft() - HEADROOM;
        KASSERT_TRUE(MiChargeCommitment(charged));
    }
    for (PFN_NUMBER size = 256; size >= 1; size /= 16)
        while (n < MAX_CHUNKS &&
               (chunks[n] = ExAllocatePoolWithTag(PagedPool, size << PAGE_SHIFT, TAG_COMMIT))) {
            pages[n++] = size;
            touched += size;
        }
    KEXPECT_LT(n, MAX_CHUNKS);
    KEXPECT_LE(KtpCommitLeft(), 2);
    start = KeQueryInterruptTime();
    for (ULONG i = 0; i < n && !KtestCurrentFailed; i++)
        KEXPECT_TRUE(KtpTouchPages(chunks[i], pages[i]));
    KtestPrint("#   %llu paged pages committed and touched in %llu ms\n", (ULONG64)touched,
               (KeQueryInterruptTime() - start) / 10000);
    KEXPECT_LE(KtpCommitLeft(), 2);                    /* touching promised nothing new */
    while (n > 0)
        ExFreePool(chunks[--n]);
    MiReturnCommitment(charged);
    /* Back, but for the page tables made for the new addresses (kept). */
    KEXPECT_LE(KtpCommitted(), before + HEADROOM / 512 + 4);
}

/*
 * The same with real memory: paged pool promised first, then nonpaged pool
 * allocated until it is refused. Nonpaged pool stops short of the promised
 * pages, and every one of them can still be touched. (Before the commit
 * charge, nonpaged pool took them all and the touch stopped with 0x50.)
 * All but HEADROOM pages of the commit are charged first, so that nonpaged
 * pool runs into the limit, not into the end of its 4 GiB of addresses,
 * whatever the RAM.
 */
KTEST(poolcommit, nonpaged_pool_cannot_take_promised_pages)
{
    enum { PAGES = 1024, HEADROOM = 8192, MAX_CHUNKS = 1024 };
    static PVOID chunks[MAX_CHUNKS];
    PFN_NUMBER before = KtpCommitted(), charged = 0;
    ULONG n = 0;
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, PAGES * PAGE_SIZE, TAG_COMMIT);

    KASSERT_TRUE(p != NULL);
    if (KtpCommitLeft() > HEADROOM) {
        charged = KtpCommitLeft() - HEADROOM;
        KASSERT_TRUE(MiChargeCommitment(charged));
    }
    while (n < MAX_CHUNKS &&
           (chunks[n] = ExAllocatePoolWithTag(NonPagedPoolNx, 1 << 20, TAG_COMMIT)) != NULL)
        n++;
    while (n < MAX_CHUNKS &&
           (chunks[n] = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_COMMIT)) != NULL)
        n++;
    KEXPECT_LT(n, MAX_CHUNKS);
    KtestPrint("#   %u nonpaged chunks; %llu pages left available\n", n,
               (ULONG64)MmAvailablePages);
    KEXPECT_LE(KtpCommitLeft(), 2);                    /* refused at the limit */
    KEXPECT_GE(MmAvailablePages, PAGES);               /* the promised pages are still there */
    KEXPECT_TRUE(KtpTouchPages(p, PAGES));
    while (n > 0)
        ExFreePool(chunks[--n]);
    MiReturnCommitment(charged);
    ExFreePool(p);
    KEXPECT_LE(KtpCommitted(), before + 2);            /* the big-page table may grow */
}

/* ---- a fault that finds no page waits for one ------------------------------------------ */

static PFN_NUMBER KtpHiddenCommit;
static KTIMER KtpGiveBackTimer;
static KDPC KtpGiveBackDpc;
static volatile BOOLEAN KtpGivenBack;

static VOID KtpGiveBack(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeAcquireSpinLockAtDpcLevel(&MmPfnLock);
    MmTotalCommittedPages -= KtpHiddenCommit;
    KeReleaseSpinLockFromDpcLevel(&MmPfnLock);
    KtpGivenBack = TRUE;
}

/*
 * The accounting broken on purpose (the charge pushed past the limit, as
 * if pages had been taken behind its back): the demand-zero fault, called
 * as a thread at PASSIVE_LEVEL would take it, cannot get its page; it waits
 * until a DPC puts things right 30 ms later, then succeeds.
 */
KTEST(poolcommit, fault_without_a_page_waits_for_one)
{
    PUCHAR p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG_COMMIT);
    LARGE_INTEGER due;
    ULONG64 start;
    KIRQL irql;

    KASSERT_TRUE(p != NULL);
    KtpGivenBack = FALSE;
    KeInitializeDpc(&KtpGiveBackDpc, KtpGiveBack, NULL);
    KeInitializeTimer(&KtpGiveBackTimer);
    KtpTrimPools();                     /* not under MmPfnLock: it frees pages */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    KtpHiddenCommit = MmTotalCommitLimit - MmTotalCommittedPages + 1;
    MmTotalCommittedPages += KtpHiddenCommit;
    KeReleaseSpinLock(&MmPfnLock, irql);
    due.QuadPart = -10000LL * 30;
    KeSetTimer(&KtpGiveBackTimer, due, &KtpGiveBackDpc);
    start = KeQueryInterruptTime();
    KEXPECT_TRUE(MiResolvePagedPoolFault(p));
    KEXPECT_TRUE(KtpGivenBack);
    KEXPECT_GE(KeQueryInterruptTime() - start, 10000ULL * 20);
    KEXPECT_TRUE(MmIsAddressValid(p));
    p[100] = 7;
    ExFreePool(p);
}

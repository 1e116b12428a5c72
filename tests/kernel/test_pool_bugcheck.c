/*
 * test_pool_bugcheck.c - pool misuse ends in NT's stop code with NT's
 * parameters (nt-mm-facts.md sections 3 and 4). Each test boots alone;
 * the runner checks the stop code and the kernel checks the parameters
 * it was told to expect.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_GOOD 'dooG'
#define TAG_BAD 'daB '

static ULONG KtpNotPool[4];

KTEST_BUGCHECK(poolbug, nonpaged_alloc_above_dispatch, BAD_POOL_CALLER)
{
    KIRQL old;

    KeRaiseIrql(HIGH_LEVEL, &old);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x08, HIGH_LEVEL, NonPagedPoolNx, 64);
    ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_GOOD);
}

KTEST_BUGCHECK(poolbug, paged_alloc_at_dispatch, BAD_POOL_CALLER)
{
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x08, DISPATCH_LEVEL, PagedPool, 100);
    ExAllocatePoolWithTag(PagedPool, 100, TAG_GOOD);
}

KTEST_BUGCHECK(poolbug, paged_free_at_dispatch, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(PagedPool, 100, TAG_GOOD);
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x09, DISPATCH_LEVEL, PagedPool, (ULONG64)p);
    ExFreePool(p);
}

/* A small block's first free goes to the processor's lookaside. */
KTEST_BUGCHECK(poolbug, double_free_small, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 40, TAG_GOOD);

    ExFreePool(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x07, 0, KTEST_ANY, (ULONG64)p);
    ExFreePool(p);
}

/* A 1000-byte block goes back to its page's free lists; its neighbour
 * keeps the page (a page freed whole makes the second free 0x41). */
KTEST_BUGCHECK(poolbug, double_free_listed, BAD_POOL_CALLER)
{
    PVOID keep = ExAllocatePoolWithTag(NonPagedPoolNx, 1000, TAG_GOOD);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 1000, TAG_GOOD);

    UNREFERENCED_PARAMETER(keep);
    ExFreePool(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x07, 0, KTEST_ANY, (ULONG64)p);
    ExFreePool(p);
}

KTEST_BUGCHECK(poolbug, double_free_big, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * PAGE_SIZE, TAG_GOOD);

    ExFreePool(p);
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x41, (ULONG64)p, 0, 0);
    ExFreePool(p);
}

KTEST_BUGCHECK(poolbug, wrong_tag, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_GOOD);

    KtestExpectBugCheck(BAD_POOL_CALLER, 0x0A, (ULONG64)p, TAG_GOOD, TAG_BAD);
    ExFreePoolWithTag(p, TAG_BAD);
}

KTEST_BUGCHECK(poolbug, protected_tag_freed_without_tag, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(PagedPool, 5000, TAG_GOOD | PROTECTED_POOL);

    KtestExpectBugCheck(BAD_POOL_CALLER, 0x0A, (ULONG64)p, TAG_GOOD | PROTECTED_POOL, 0);
    ExFreePool(p);
}

KTEST_BUGCHECK(poolbug, free_never_pool_address, BAD_POOL_CALLER)
{
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x42, (ULONG64)&KtpNotPool[2], 0, 0);
    ExFreePool(&KtpNotPool[2]);
}

KTEST_BUGCHECK(poolbug, must_succeed_rejected, BAD_POOL_CALLER)
{
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x9A, NonPagedPoolMustSucceed, 32, TAG_GOOD);
    ExAllocatePoolWithTag(NonPagedPoolMustSucceed, 32, TAG_GOOD);
}

/*
 * Two 1000-byte blocks carved one after the other from a fresh page: an
 * overrun of the first by 16 bytes rewrites the second's header, and the
 * free of the first finds its neighbour disagreeing (0x19, 0x05).
 */
KTEST_BUGCHECK(poolbug, header_overwrite, BAD_POOL_HEADER)
{
    PUCHAR a, b, fill[4];

    /* Use up partly free pages so a and b share a fresh one. */
    for (ULONG i = 0; i < 4; i++)
        fill[i] = ExAllocatePoolWithTag(NonPagedPool, 1000, TAG_GOOD);
    UNREFERENCED_PARAMETER(fill);
    a = ExAllocatePoolWithTag(NonPagedPool, 1000, TAG_GOOD);
    b = ExAllocatePoolWithTag(NonPagedPool, 1000, TAG_GOOD);
    if (b != a + 1024) {
        KtestPrint("# a %p and b %p are not neighbours\n", a, b);
        return;                         /* no bug check: the runner reports a failure */
    }
    memset(a + 1008, 0x41, sizeof(POOL_HEADER));
    KtestExpectBugCheck(BAD_POOL_HEADER, 0x05, (ULONG64)(a - 16), 0, (ULONG64)(b - 16));
    ExFreePool(a);
}

KTEST_BUGCHECK(poolbug, raise_on_failure_is_unhandled_exception, KMODE_EXCEPTION_NOT_HANDLED)
{
    /* The exception code as x64 NT reports it: a sign-extended NTSTATUS. */
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, 0xFFFFFFFFC000009AULL, KTEST_ANY, 0, 0);
    ExAllocatePoolWithTag((POOL_TYPE)(NonPagedPoolNx | POOL_RAISE_IF_ALLOCATION_FAILURE),
                          (SIZE_T)1 << 40, TAG_GOOD);
}

/* ---- special pool -------------------------------------------------------------------- */

static PUCHAR KtpSpecial(SIZE_T Bytes, BOOLEAN Underrun)
{
    POOL_EXTENDED_PARAMETER priority = {0};

    priority.Type = PoolExtendedParameterPriority;
    priority.Priority = Underrun ? NormalPoolPrioritySpecialPoolUnderrun
                                 : NormalPoolPrioritySpecialPoolOverrun;
    return ExAllocatePool3(POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL, Bytes, TAG_GOOD,
                           &priority, 1);
}

KTEST_BUGCHECK(poolbug, special_pool_overrun, PAGE_FAULT_BEYOND_END_OF_ALLOCATION)
{
    PUCHAR p = KtpSpecial(96, FALSE);

    if (p == NULL || ExpPageOffset(p + 96) != 0)
        return;
    KtestExpectBugCheck(PAGE_FAULT_BEYOND_END_OF_ALLOCATION, (ULONG64)(p + 96), 1, KTEST_ANY, 0);
    *(volatile UCHAR *)(p + 96) = 1;
}

KTEST_BUGCHECK(poolbug, special_pool_underrun, PAGE_FAULT_BEYOND_END_OF_ALLOCATION)
{
    PUCHAR p = KtpSpecial(96, TRUE);

    if (p == NULL || ExpPageOffset(p) != 0)
        return;
    KtestExpectBugCheck(PAGE_FAULT_BEYOND_END_OF_ALLOCATION, (ULONG64)(p - 8), 0, KTEST_ANY, 0);
    (void)*(volatile ULONG64 *)(p - 8);
}

KTEST_BUGCHECK(poolbug, special_pool_use_after_free, PAGE_FAULT_IN_FREED_SPECIAL_POOL)
{
    PUCHAR p = KtpSpecial(200, FALSE);

    if (p == NULL)
        return;
    ExFreePool(p);
    KtestExpectBugCheck(PAGE_FAULT_IN_FREED_SPECIAL_POOL, (ULONG64)p, 0, KTEST_ANY, 0);
    (void)*(volatile UCHAR *)p;
}

/* 100 bytes end 12 bytes before the page end: a small overrun stays in
 * the page and is found by the pattern check on free (0xC1, 0x24). */
KTEST_BUGCHECK(poolbug, special_pool_slack_overrun, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION)
{
    PUCHAR p = KtpSpecial(100, FALSE);

    if (p == NULL)
        return;
    p[101] = 0;
    KtestExpectBugCheck(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG64)p, (ULONG64)(p + 101),
                        KTEST_ANY, 0x24);
    ExFreePool(p);
}

KTEST_BUGCHECK(poolbug, special_pool_underrun_caught_at_free,
               SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION)
{
    PUCHAR p = KtpSpecial(100, FALSE);

    if (p == NULL)
        return;
    p[-3] = 0;
    KtestExpectBugCheck(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG64)p, (ULONG64)(p - 3),
                        KTEST_ANY, 0x23);
    ExFreePool(p);
}

/* ---- the one tag check, and special pool's IRQL rule ------------------------------------ */

/* A zero tag skips the check, except that a protected tag must be named. */
KTEST_BUGCHECK(poolbug, protected_tag_freed_with_tag_zero, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_GOOD | PROTECTED_POOL);

    KtestExpectBugCheck(BAD_POOL_CALLER, 0x0A, (ULONG64)p, TAG_GOOD | PROTECTED_POOL, 0);
    ExFreePoolWithTag(p, 0);
}

/* Special pool checks tags with the same rule. */
KTEST_BUGCHECK(poolbug, special_pool_wrong_tag, BAD_POOL_CALLER)
{
    PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL, 64, TAG_GOOD);

    if (p == NULL || !MiIsSpecialPoolAddress(p))
        return;
    KtestExpectBugCheck(BAD_POOL_CALLER, 0x0A, (ULONG64)p, TAG_GOOD, TAG_BAD);
    ExFreePoolWithTag(p, TAG_BAD);
}

/* Above DISPATCH_LEVEL no pool may be freed: special pool says so with its
 * own stop code (0xC1, 0x31) before anything else could stop first. */
KTEST_BUGCHECK(poolbug, special_pool_free_above_dispatch, SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION)
{
    PVOID p = KtpSpecial(64, FALSE);
    KIRQL old;

    if (p == NULL)
        return;
    KeRaiseIrql(HIGH_LEVEL, &old);
    KtestExpectBugCheck(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, HIGH_LEVEL, NonPagedPoolNx,
                        (ULONG64)p, 0x31);
    ExFreePool(p);
}

KTEST_BUGCHECK(poolbug, special_pool_paged_free_at_dispatch,
               SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION)
{
    PVOID p = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_SPECIAL_POOL, 64, TAG_GOOD);
    KIRQL old;

    if (p == NULL)
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, DISPATCH_LEVEL, PagedPool,
                        (ULONG64)p, 0x31);
    ExFreePool(p);
}

/* ---- commit ------------------------------------------------------------------------------ */

/* More paged pool than RAM, with a raise asked for: the raise. (Before the
 * commit charge this succeeded, and touching it stopped with 0x50.) */
KTEST_BUGCHECK(poolbug, paged_overcommit_raises, KMODE_EXCEPTION_NOT_HANDLED)
{
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, 0xFFFFFFFFC000009AULL, KTEST_ANY, 0, 0);
    ExAllocatePoolWithTag((POOL_TYPE)(PagedPool | POOL_RAISE_IF_ALLOCATION_FAILURE),
                          (MmNumberOfPhysicalPages << PAGE_SHIFT) + (4 << 20), TAG_GOOD);
}

/*
 * A committed paged-pool page whose page was taken behind the accounting's
 * back (every free page unlinked directly, as a broken Mm routine would):
 * the fault cannot wait (page faults run with interrupts off) and stops
 * with NO_PAGES_AVAILABLE: no dirty pages, none for a page file, the last
 * write's status success. (Before the commit charge: 0x50.)
 */
KTEST_BUGCHECK(poolbug, fault_without_a_page_is_no_pages_available, NO_PAGES_AVAILABLE)
{
    volatile PUCHAR p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG_GOOD);
    KIRQL irql;

    if (p == NULL)
        return;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    while (MmZeroedPageListHead.Flink != MI_LIST_END)
        MiUnlinkPageFromList(MmZeroedPageListHead.Flink);
    while (MmFreePageListHead.Flink != MI_LIST_END)
        MiUnlinkPageFromList(MmFreePageListHead.Flink);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KtestExpectBugCheck(NO_PAGES_AVAILABLE, 0, 0, KTEST_ANY, 0);
    p[0] = 1;
}

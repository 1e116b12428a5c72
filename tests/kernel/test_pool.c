/*
 * test_pool.c - the pools as a driver sees them: sizes, alignment, tags,
 * demand-zero paged pool, ExAllocatePool2/3 flags, quota, exhaustion, the
 * leak report, special pool placement, and a stress with two threads and a
 * DPC. Misuse (double free, wrong tag, IRQL, overruns) is in
 * test_pool_bugcheck.c.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_SIZE 'ezSP'
#define TAG_TRACK 'krTP'
#define TAG_LEAK 'kaLP'

static ULONG KtpStressStopMarker;     /* an address that is not pool */

static PFN_NUMBER KtpAvailablePages(void)
{
    return MmAvailablePages;
}

/* Fill and check a block with a pattern that depends on its address. */
static void KtpFill(PUCHAR P, SIZE_T Bytes)
{
    for (SIZE_T i = 0; i < Bytes; i++)
        P[i] = (UCHAR)(((ULONG64)P >> 4) + i * 7);
}

static BOOLEAN KtpCheck(PUCHAR P, SIZE_T Bytes)
{
    for (SIZE_T i = 0; i < Bytes; i++)
        if (P[i] != (UCHAR)(((ULONG64)P >> 4) + i * 7))
            return FALSE;
    return TRUE;
}

static void KtpCheckSize(POOL_TYPE Type, SIZE_T Bytes)
{
    PUCHAR p = ExAllocatePoolWithTag(Type, Bytes, TAG_SIZE);
    BOOLEAN quota;

    KASSERT_TRUE(p != NULL);
    if (Bytes > POOL_SMALL_LIMIT) {
        KEXPECT_EQ(ExpPageOffset(p), 0);
        KEXPECT_EQ(ExQueryPoolBlockSize(p, &quota), ROUND_TO_PAGES(Bytes));
    } else {
        KEXPECT_EQ((ULONG64)p % 16, 0);
        KEXPECT_LE(ExpPageOffset(p) + Bytes, PAGE_SIZE);    /* never crosses a page */
        KEXPECT_GE(ExQueryPoolBlockSize(p, &quota), Bytes);
        KEXPECT_LT(ExQueryPoolBlockSize(p, &quota), Bytes + 32);
        /* Normal blocks sit behind a header; special pool is verifier= at work. */
        KEXPECT_TRUE(ExpPageOffset(p) != 0 || MiIsSpecialPoolAddress(p));
    }
    KEXPECT_FALSE(quota);
    KtpFill(p, Bytes);
    KEXPECT_TRUE(KtpCheck(p, Bytes));
    ExFreePoolWithTag(p, TAG_SIZE);
}

KTEST(pool, every_size_to_three_pages_nonpaged)
{
    PFN_NUMBER before;

    ExpTrimPoolCaches();
    before = KtpAvailablePages();
    for (SIZE_T n = 1; n <= 3 * PAGE_SIZE && !KtestCurrentFailed; n++)
        KtpCheckSize(NonPagedPoolNx, n);
    /* What the pools keep for reuse (lookaside blocks, empty pages, runs)
     * goes back when asked; nothing else may stay. */
    ExpTrimPoolCaches();
    KEXPECT_LE(before - KtpAvailablePages(), 4);
}

KTEST(pool, every_size_to_three_pages_paged)
{
    for (SIZE_T n = 1; n <= 3 * PAGE_SIZE && !KtestCurrentFailed; n += 3)
        KtpCheckSize(PagedPool, n);
}

KTEST(pool, boundary_around_page_size_minus_header)
{
    /* 4064 = PAGE_SIZE - 32 is the largest block carved from a page. */
    for (SIZE_T n = PAGE_SIZE - 64; n <= PAGE_SIZE + 16; n++) {
        PUCHAR p = ExAllocatePoolWithTag(NonPagedPoolNx, n, TAG_SIZE);
        KASSERT_TRUE(p != NULL);
        if (n <= PAGE_SIZE - 32)
            KEXPECT_NE(ExpPageOffset(p), 0);
        else
            KEXPECT_EQ(ExpPageOffset(p), 0);
        ExFreePool(p);
    }
}

KTEST(pool, alignment_per_pool_type)
{
    static const POOL_TYPE aligned[] = {NonPagedPoolCacheAligned, NonPagedPoolNxCacheAligned,
                                        PagedPoolCacheAligned};
    PVOID keep[64];

    for (ULONG t = 0; t < ARRAYSIZE(aligned); t++)
        for (SIZE_T n = 1; n < 700; n += 37) {
            for (ULONG i = 0; i < ARRAYSIZE(keep); i++) {
                keep[i] = ExAllocatePoolWithTag(aligned[t], n, TAG_SIZE);
                KASSERT_TRUE(keep[i] != NULL);
                KEXPECT_EQ((ULONG64)keep[i] % POOL_CACHE_ALIGNMENT, 0);
                KtpFill(keep[i], n);
            }
            for (ULONG i = 0; i < ARRAYSIZE(keep); i++) {
                KEXPECT_TRUE(KtpCheck(keep[i], n));
                ExFreePool(keep[i]);
            }
        }
}

KTEST(pool, executable_and_nx_pools)
{
    PVOID exec = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_SIZE);
    PVOID nx = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_SIZE);
    PVOID paged = ExAllocatePoolWithTag(PagedPool, 64, TAG_SIZE);

    KASSERT_TRUE(exec != NULL && nx != NULL && paged != NULL);
    KEXPECT_EQ(MiGetPteAddress(exec)->Long & MM_PTE_NO_EXECUTE, 0);
    KEXPECT_NE(MiGetPteAddress(nx)->Long & MM_PTE_NO_EXECUTE, 0);
    KEXPECT_NE(MiGetPteAddress(paged)->Long & MM_PTE_NO_EXECUTE, 0);
    if (!MiIsSpecialPoolAddress(nx))          /* verifier= may put them there */
        KEXPECT_TRUE((ULONG64)nx >= MM_NONPAGED_POOL_START && (ULONG64)nx < MM_NONPAGED_POOL_END);
    if (!MiIsSpecialPoolAddress(paged))
        KEXPECT_TRUE((ULONG64)paged >= MM_PAGED_POOL_START && (ULONG64)paged < MM_PAGED_POOL_END);
    ExFreePool(exec);
    ExFreePool(nx);
    ExFreePool(paged);
}

KTEST(pool, tags_are_counted_per_pool)
{
    SYSTEM_POOLTAG before, after;
    PVOID p[10];

    ExpQueryPoolTag(TAG_TRACK, &before);
    for (ULONG i = 0; i < 10; i++)
        p[i] = ExAllocatePoolWithTag(i < 6 ? NonPagedPoolNx : PagedPool, 100 + i * 1000,
                                     TAG_TRACK | (i == 0 ? PROTECTED_POOL : 0));
    KEXPECT_TRUE(ExpQueryPoolTag(TAG_TRACK, &after));
    KEXPECT_EQ(after.NonPagedAllocs - before.NonPagedAllocs, 6);
    KEXPECT_EQ(after.PagedAllocs - before.PagedAllocs, 4);
    KEXPECT_GE(after.NonPagedUsed - before.NonPagedUsed, 100 * 6 + 1000 * 15);
    ExFreePoolWithTag(p[0], TAG_TRACK | PROTECTED_POOL);
    for (ULONG i = 1; i < 10; i++)
        ExFreePoolWithTag(p[i], TAG_TRACK);
    ExpQueryPoolTag(TAG_TRACK, &after);
    KEXPECT_EQ(after.NonPagedFrees - before.NonPagedFrees, 6);
    KEXPECT_EQ(after.PagedFrees - before.PagedFrees, 4);
    KEXPECT_EQ(after.NonPagedUsed, before.NonPagedUsed);
    KEXPECT_EQ(after.PagedUsed, before.PagedUsed);
    /* Untagged pool shows as 'None', as in PoolMon. */
    p[0] = ExAllocatePoolWithTag(NonPagedPoolNx, 8, 0);
    KEXPECT_TRUE(ExpQueryPoolTag('enoN', &after));
    KEXPECT_GT(after.NonPagedAllocs, after.NonPagedFrees);
    ExFreePool(p[0]);
    KEXPECT_GT(ExpQueryPoolTagInformation(NULL, 0), 1);
}

KTEST(pool, paged_pool_is_demand_zero_and_keeps_contents)
{
    SIZE_T bytes = 16 * PAGE_SIZE;
    PFN_NUMBER before = KtpAvailablePages();
    PULONG p = ExAllocatePoolWithTag(PagedPool, bytes, TAG_SIZE);

    KASSERT_TRUE(p != NULL);
    /* Committed, not backed: no page is taken until touched. */
    for (SIZE_T i = 0; i < bytes; i += PAGE_SIZE)
        KEXPECT_FALSE(MmIsAddressValid((PUCHAR)p + i));
    KEXPECT_LE(before - KtpAvailablePages(), 2);
    KEXPECT_EQ(p[5], 0);                            /* first touch: a zero page */
    KEXPECT_TRUE(MmIsAddressValid(p));
    KEXPECT_FALSE(MmIsAddressValid((PUCHAR)p + PAGE_SIZE));
    for (SIZE_T i = 0; i < bytes / sizeof(ULONG); i++)
        KEXPECT_EQ(p[i], 0);
    for (SIZE_T i = 0; i < bytes / sizeof(ULONG); i++)
        p[i] = (ULONG)i * 2654435761U;
    for (SIZE_T i = 0; i < bytes / sizeof(ULONG) && !KtestCurrentFailed; i++)
        KEXPECT_EQ(p[i], (ULONG)i * 2654435761U);
    ExFreePool(p);
    KEXPECT_LE(before - KtpAvailablePages(), 2);   /* every touched page came back */
}

KTEST(pool, pool2_zeroes_and_checks_flags)
{
    PUCHAR p;

    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 200, TAG_SIZE);
    KASSERT_TRUE(p != NULL);
    memset(p, 0xAA, 200);
    ExFreePool(p);
    /* The same size again (likely the same block): zeroed this time. */
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 200, TAG_SIZE);
    KASSERT_TRUE(p != NULL);
    for (ULONG i = 0; i < 200; i++)
        KEXPECT_EQ(p[i], 0);
    KEXPECT_NE(MiGetPteAddress(p)->Long & MM_PTE_NO_EXECUTE, 0);   /* NON_PAGED is NX */
    ExFreePool(p);
    p = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_CACHE_ALIGNED, 100, TAG_SIZE);
    KASSERT_TRUE(p != NULL);
    KEXPECT_EQ((ULONG64)p % POOL_CACHE_ALIGNMENT, 0);
    ExFreePool(p);
    /* Refused: no tag, two kinds, no kind, session, unknown required flag. */
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 16, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(0, 16, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_SESSION, 16, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x80000000ULL, 16, TAG_SIZE) == NULL);
    /* An unknown optional flag is ignored. */
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x8000000000000000ULL, 16, TAG_SIZE);
    KEXPECT_TRUE(p != NULL);
    ExFreePool(p);
    /* Unknown pool types are refused. */
    KEXPECT_TRUE(ExAllocatePoolWithTag((POOL_TYPE)0x4000, 16, TAG_SIZE) == NULL);
}

KTEST(pool, quota_is_charged_and_returned)
{
    SIZE_T usage = PspDefaultQuotaBlock.Usage[0], limit = PspDefaultQuotaBlock.Limit[0];
    BOOLEAN quota;
    PVOID p = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, 500, TAG_SIZE);
    PVOID big;

    KASSERT_TRUE(p != NULL);
    KEXPECT_EQ(ExQueryPoolBlockSize(p, &quota), 512);
    KEXPECT_TRUE(quota);
    KEXPECT_EQ(PspDefaultQuotaBlock.Usage[0], usage + 512);
    big = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_USE_QUOTA, 3 * PAGE_SIZE, TAG_SIZE);
    KASSERT_TRUE(big != NULL);
    KEXPECT_EQ(PspDefaultQuotaBlock.Usage[0], usage + 512 + 3 * PAGE_SIZE);
    ExFreePool(big);
    ExFreePool(p);
    KEXPECT_EQ(PspDefaultQuotaBlock.Usage[0], usage);
    /* Over the limit: NULL when the caller said so, and nothing charged. */
    PspDefaultQuotaBlock.Limit[0] = usage + 100;
    KEXPECT_TRUE(ExAllocatePoolWithQuotaTag(
                     (POOL_TYPE)(NonPagedPoolNx | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), 500,
                     TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_USE_QUOTA, 500, TAG_SIZE) ==
                 NULL);
    PspDefaultQuotaBlock.Limit[0] = limit;
    KEXPECT_EQ(PspDefaultQuotaBlock.Usage[0], usage);
}

/* 1 MiB chunks until nonpaged pool (RAM, or its 4 GiB of addresses) runs
 * out, then all back; returns how many there were. */
static ULONG KtpExhaustNonPagedPool(void)
{
    enum { MAX = 8192 };
    static PVOID chunks[MAX];
    ULONG n = 0, count;

    while (n < MAX && (chunks[n] = ExAllocatePoolWithTag(NonPagedPoolNx, 1 << 20, TAG_SIZE)))
        n++;
    KEXPECT_LT(n, MAX);
    KEXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPoolNx, 1 << 20, TAG_SIZE) == NULL);
    count = n;
    while (n > 0)
        ExFreePool(chunks[--n]);
    return count;
}

KTEST(pool, exhaustion_returns_null_and_recovers)
{
    PFN_NUMBER before = KtpAvailablePages(), after;
    ULONG first, second;
    PVOID p;

    first = KtpExhaustNonPagedPool();
    KtestPrint("#   %u MiB of nonpaged pool before NULL\n", first);
    KEXPECT_GT(first, 0);
    /* The big-page table may have grown (it never shrinks); apart from
     * that, everything came back: a second round ends where the first did. */
    after = KtpAvailablePages();
    KEXPECT_LE(before - after, 256);
    second = KtpExhaustNonPagedPool();
    KEXPECT_GE(second + 1, first);        /* the same memory, give or take the table */
    KEXPECT_LE(after - KtpAvailablePages(), 4);
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 1 << 20, TAG_SIZE);
    KEXPECT_TRUE(p != NULL);
    ExFreePool(p);
}

KTEST(pool, leak_report_lists_live_blocks)
{
    PVOID a = ExAllocatePoolWithTag(NonPagedPoolNx, 24, TAG_LEAK);
    PVOID b = ExAllocatePoolWithTag(PagedPool, 3000, TAG_LEAK);
    PVOID c = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * PAGE_SIZE, TAG_LEAK);

    KASSERT_TRUE(a && b && c);
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_LEAK), 3);
    ExFreePool(b);
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_LEAK), 2);
    KEXPECT_TRUE(ExpDumpPoolPage((PUCHAR)a + 5));
    KEXPECT_TRUE(ExpDumpPoolPage(c));
    KEXPECT_FALSE(ExpDumpPoolPage((PVOID)&KtpStressStopMarker));
    ExFreePool(a);
    ExFreePool(c);
    KEXPECT_EQ(ExpReportPoolLeaks(TAG_LEAK), 0);
}

KTEST(pool, special_pool_placement_on_request)
{
    POOL_EXTENDED_PARAMETER under = {0};
    PUCHAR p, q;

    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL, 100, TAG_SIZE);
    KASSERT_TRUE(p != NULL);
    KEXPECT_TRUE(MiIsSpecialPoolAddress(p));
    /* Overrun mode: the block ends at the page end (16-byte rounding). */
    KEXPECT_EQ(ExpPageOffset(p), (PAGE_SIZE - 100) & ~15ULL);
    KEXPECT_FALSE(MmIsAddressValid(PAGE_ALIGN(p) + PAGE_SIZE));
    for (ULONG i = 0; i < 100; i++)
        KEXPECT_EQ(p[i], 0);                        /* Pool2 zeroes */
    KEXPECT_EQ(MiSpecialPoolBlockSize(p), 100);
    under.Type = PoolExtendedParameterPriority;
    under.Priority = NormalPoolPrioritySpecialPoolUnderrun;
    q = ExAllocatePool3(POOL_FLAG_PAGED | POOL_FLAG_SPECIAL_POOL, 40, TAG_SIZE, &under, 1);
    KASSERT_TRUE(q != NULL);
    KEXPECT_EQ(ExpPageOffset(q), 0);                /* underrun mode: page start */
    KEXPECT_FALSE(MmIsAddressValid(q - 1));
    memset(q, 0x5A, 40);
    ExFreePool(q);
    ExFreePool(p);
    KEXPECT_FALSE(MmIsAddressValid(p));             /* freed: no access */
}

KTEST(pool, verifier_option_selects_special_pool)
{
    char option[64];
    PVOID p;

    if (!KeQueryBootOption("verifier", option, sizeof(option)))
        KTEST_SKIP("boot without verifier=");
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, 'tseT');
    KASSERT_TRUE(p != NULL);
    KEXPECT_TRUE(MiIsSpecialPoolAddress(p));
    ExFreePool(p);
}

/* ---- two threads and a DPC share nonpaged pool ----------------------------------------- */

#define KTP_STRESS_SLOTS 64
typedef struct {
    PUCHAR Block[KTP_STRESS_SLOTS];
    SIZE_T Bytes[KTP_STRESS_SLOTS];
    ULONG64 Seed;
    ULONG Errors;
    ULONG Operations;
} KTP_STRESS;

static KTP_STRESS KtpStress[3];
static volatile BOOLEAN KtpStressStop;
static KDPC KtpStressDpc;
static KTIMER KtpStressTimer;

static void KtpStressStep(KTP_STRESS *S)
{
    ULONG64 r = KtestRandom(&S->Seed);
    ULONG k = (ULONG)(r % KTP_STRESS_SLOTS);
    if (S->Block[k] != NULL) {
        if (!KtpCheck(S->Block[k], S->Bytes[k]))
            S->Errors++;
        ExFreePoolWithTag(S->Block[k], TAG_SIZE);
        S->Block[k] = NULL;
    } else {
        S->Bytes[k] = 1 + (r >> 32) % 2000;
        S->Block[k] = ExAllocatePoolWithTag(NonPagedPoolNx, S->Bytes[k], TAG_SIZE);
        if (S->Block[k] == NULL)
            S->Errors++;
        else
            KtpFill(S->Block[k], S->Bytes[k]);
    }
    S->Operations++;
}

static VOID KtpStressThread(PVOID Context)
{
    KTP_STRESS *s = Context;

    while (!KtpStressStop)
        KtpStressStep(s);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID KtpStressDpcRoutine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    for (ULONG i = 0; i < 20; i++)
        KtpStressStep(Context);
}

KTEST(pool, stress_two_threads_and_a_dpc)
{
    HANDLE h[2];
    LARGE_INTEGER due, run;

    RtlZeroMemory(KtpStress, sizeof(KtpStress));
    for (ULONG i = 0; i < 3; i++)
        KtpStress[i].Seed = 1 + i;
    KtpStressStop = FALSE;
    KeInitializeDpc(&KtpStressDpc, KtpStressDpcRoutine, &KtpStress[2]);
    KeInitializeTimer(&KtpStressTimer);
    due.QuadPart = -10000;                          /* 1 ms, then every 1 ms */
    KeSetTimerEx(&KtpStressTimer, due, 1, &KtpStressDpc);
    KEXPECT_EQ(PsCreateSystemThread(&h[0], 0, NULL, NULL, NULL, KtpStressThread, &KtpStress[0]),
               STATUS_SUCCESS);
    KEXPECT_EQ(PsCreateSystemThread(&h[1], 0, NULL, NULL, NULL, KtpStressThread, &KtpStress[1]),
               STATUS_SUCCESS);
    run.QuadPart = -10000LL * 150;
    KeDelayExecutionThread(KernelMode, FALSE, &run);
    KtpStressStop = TRUE;
    KeCancelTimer(&KtpStressTimer);
    KeFlushQueuedDpcs();
    for (ULONG i = 0; i < 2; i++) {
        PVOID thread;
        KEXPECT_EQ(ObReferenceObjectByHandle(h[i], 0, NULL, KernelMode, &thread, NULL),
                   STATUS_SUCCESS);
        KEXPECT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL),
                   STATUS_WAIT_0);
        ObDereferenceObject(thread);
        ZwClose(h[i]);
    }
    /* One processor at PASSIVE_LEVEL: a DPC queued by the timer has run. */
    for (ULONG i = 0; i < 3; i++) {
        KtestPrint("#   stress %u: %u operations\n", i, KtpStress[i].Operations);
        KEXPECT_EQ(KtpStress[i].Errors, 0);
        KEXPECT_GT(KtpStress[i].Operations, 0);
        for (ULONG k = 0; k < KTP_STRESS_SLOTS; k++)
            if (KtpStress[i].Block[k] != NULL) {
                KEXPECT_TRUE(KtpCheck(KtpStress[i].Block[k], KtpStress[i].Bytes[k]));
                ExFreePool(KtpStress[i].Block[k]);
            }
    }
}

/* ---- NT's answers at the edges (issue 10) ---------------------------------------------- */

/* A zero tag means "do not check" (ExFreePool is ExFreePoolWithTag(P, 0)),
 * for small, whole-page, paged and special-pool blocks alike. */
KTEST(pool, free_with_tag_zero_skips_the_tag_check)
{
    PVOID small = ExAllocatePoolWithTag(NonPagedPoolNx, 40, TAG_SIZE);
    PVOID listed = ExAllocatePoolWithTag(NonPagedPoolNx, 1000, TAG_SIZE);
    PVOID big = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG_SIZE);
    PVOID paged = ExAllocatePoolWithTag(PagedPool, 300, TAG_SIZE);
    PVOID special = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_SPECIAL_POOL, 64, TAG_SIZE);

    KASSERT_TRUE(small && listed && big && paged && special);
    KEXPECT_TRUE(MiIsSpecialPoolAddress(special));
    ExFreePoolWithTag(small, 0);
    ExFreePoolWithTag(listed, 0);
    ExFreePoolWithTag(big, 0);
    ExFreePoolWithTag(paged, 0);
    ExFreePoolWithTag(special, 0);
    /* A tag that differs only in PROTECTED_POOL still matches an
     * unprotected block. */
    small = ExAllocatePoolWithTag(NonPagedPoolNx, 40, TAG_SIZE);
    KASSERT_TRUE(small != NULL);
    ExFreePoolWithTag(small, TAG_SIZE | PROTECTED_POOL);
}

static void KtpCheckAlignedBlock(PUCHAR P, SIZE_T Bytes)
{
    BOOLEAN quota;

    KEXPECT_EQ((ULONG64)P % POOL_CACHE_ALIGNMENT, 0);
    KEXPECT_LE(ExpPageOffset(P) + Bytes, PAGE_SIZE > Bytes ? PAGE_SIZE : ROUND_TO_PAGES(Bytes));
    KEXPECT_GE(ExQueryPoolBlockSize(P, &quota), Bytes);
    memset(P, 0xC5, Bytes);
}

/* 4017-4064 bytes fit a page only without the alignment padding: they must
 * still be served (as whole pages, or special pool), 64-byte aligned. */
KTEST(pool, cache_aligned_near_a_page_is_served)
{
    static const POOL_TYPE types[] = {NonPagedPoolCacheAligned, NonPagedPoolNxCacheAligned,
                                      PagedPoolCacheAligned};

    for (SIZE_T n = 3990; n <= 4100 && !KtestCurrentFailed; n++) {
        for (ULONG t = 0; t < ARRAYSIZE(types); t++) {
            PUCHAR p = ExAllocatePoolWithTag(types[t], n, TAG_SIZE);
            KASSERT_TRUE(p != NULL);
            KtpCheckAlignedBlock(p, n);
            ExFreePoolWithTag(p, TAG_SIZE);
        }
        for (ULONG k = 0; k < 3; k++) {
            static const POOL_FLAGS kinds[] = {POOL_FLAG_NON_PAGED, POOL_FLAG_NON_PAGED_EXECUTE,
                                               POOL_FLAG_PAGED};
            PUCHAR p = ExAllocatePool2(kinds[k] | POOL_FLAG_CACHE_ALIGNED, n, TAG_SIZE);
            KASSERT_TRUE(p != NULL);
            KtpCheckAlignedBlock(p, n);
            ExFreePoolWithTag(p, TAG_SIZE);
        }
    }
}

/* Special pool, overrun mode, cache aligned: every size up to the small
 * limit, written in full and freed, never lands on its own header. */
KTEST(pool, special_pool_cache_aligned_every_size)
{
    for (SIZE_T n = 1; n <= POOL_SMALL_LIMIT && !KtestCurrentFailed; n++) {
        PUCHAR p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED |
                                       POOL_FLAG_SPECIAL_POOL | POOL_FLAG_UNINITIALIZED,
                                   n, TAG_SIZE);
        KASSERT_TRUE(p != NULL);
        KEXPECT_TRUE(MiIsSpecialPoolAddress(p));
        KEXPECT_EQ((ULONG64)p % POOL_CACHE_ALIGNMENT, 0);
        /* As close to the guard page as the alignment allows. */
        KEXPECT_LE(ExpPageOffset(p) + n, PAGE_SIZE);
        KEXPECT_GT(ExpPageOffset(p) + n + POOL_CACHE_ALIGNMENT, PAGE_SIZE);
        KEXPECT_EQ(MiSpecialPoolBlockSize(p), n);
        memset(p, 0x3C, n);
        ExFreePoolWithTag(p, TAG_SIZE);
    }
}

/*
 * Mica has no sessions. A session pool type asks for memory that would be
 * seen only in one session's address space; Mica cannot give that, so both
 * allocation routines refuse it (NULL), the same way.
 */
KTEST(pool, session_pool_is_refused_by_every_routine)
{
    KEXPECT_TRUE(ExAllocatePoolWithTag(PagedPoolSession, 64, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPoolSession, 64, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithTag(NonPagedPoolSessionNx, 64, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithTag(PagedPoolSession, 3 * PAGE_SIZE, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithTagPriority(PagedPoolSession, 64, TAG_SIZE,
                                               NormalPoolPriority) == NULL);
    KEXPECT_TRUE(ExAllocatePoolWithQuotaTag(
                     (POOL_TYPE)(PagedPoolSession | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), 64,
                     TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_SESSION, 64, TAG_SIZE) == NULL);
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SESSION, 64, TAG_SIZE) == NULL);
}

/* ExAllocatePool (obsolete): the untagged call; PoolMon shows it as 'None'. */
KTEST(pool, allocate_pool_untagged_is_none)
{
    SYSTEM_POOLTAG before, after;
    PUCHAR small, big;

    ExpQueryPoolTag('enoN', &before);
    small = ExAllocatePool(NonPagedPoolNx, 100);
    big = ExAllocatePool(PagedPool, 3 * PAGE_SIZE);
    KASSERT_TRUE(small != NULL && big != NULL);
    KEXPECT_TRUE(ExpQueryPoolTag('enoN', &after));
    KEXPECT_EQ(after.NonPagedAllocs - before.NonPagedAllocs, 1);
    KEXPECT_EQ(after.PagedAllocs - before.PagedAllocs, 1);
    if (!MiIsSpecialPoolAddress(small))
        KEXPECT_EQ(((PPOOL_HEADER)small - 1)->PoolTag, 'enoN');
    memset(small, 1, 100);
    memset(big, 2, 3 * PAGE_SIZE);
    ExFreePoolWithTag(small, 'enoN');         /* the tag it was given */
    ExFreePool(big);
    ExpQueryPoolTag('enoN', &after);
    KEXPECT_EQ(after.NonPagedFrees - before.NonPagedFrees, 1);
    KEXPECT_EQ(after.PagedFrees - before.PagedFrees, 1);
}

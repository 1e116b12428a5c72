/*
 * test_pool_sweep.c - every pool type, and every ExAllocatePool2 kind, at
 * every size from 1 byte to three pages: what comes back is aligned as the
 * type promises, placed where NT places it, reports the right size, can be
 * written in full and is freed cleanly.
 *
 * Sizes: every one up to 4200 (past both small-block limits, 4016 for the
 * cache-aligned types and 4064 for the others), then a stride of 61 and
 * every size within 64 bytes of a page multiple, up to three pages.
 *
 * The same test runs in the verifier=special boot, where every block below
 * a page that is not quota-charged is special pool: there it checks that
 * the block ends at the guard page (overrun mode), as NT puts it, its start
 * rounded down to the type's alignment.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_SWEEP 'pwSP'
#define KTP_EVERY_SIZE_UP_TO 4200
#define KTP_SIZE_STRIDE 61
#define KTP_PAGE_EDGE 64

typedef struct _KTP_KIND {
    const char *Name;
    BOOLEAN Pool2;                  /* ExAllocatePool2, else ExAllocatePoolWithTag */
    POOL_TYPE Type;
    POOL_FLAGS Flags;
    BOOLEAN Paged, CacheAligned, Executable, Quota, Zeroed;
} KTP_KIND;

static const KTP_KIND KtpKinds[] = {
    {"NonPagedPool", FALSE, NonPagedPool, 0, FALSE, FALSE, TRUE, FALSE, FALSE},
    {"NonPagedPoolNx", FALSE, NonPagedPoolNx, 0, FALSE, FALSE, FALSE, FALSE, FALSE},
    {"PagedPool", FALSE, PagedPool, 0, TRUE, FALSE, FALSE, FALSE, FALSE},
    {"NonPagedPoolCacheAligned", FALSE, NonPagedPoolCacheAligned, 0, FALSE, TRUE, TRUE, FALSE,
     FALSE},
    {"NonPagedPoolNxCacheAligned", FALSE, NonPagedPoolNxCacheAligned, 0, FALSE, TRUE, FALSE,
     FALSE, FALSE},
    {"PagedPoolCacheAligned", FALSE, PagedPoolCacheAligned, 0, TRUE, TRUE, FALSE, FALSE, FALSE},
    {"NON_PAGED", TRUE, 0, POOL_FLAG_NON_PAGED, FALSE, FALSE, FALSE, FALSE, TRUE},
    {"NON_PAGED_EXECUTE", TRUE, 0, POOL_FLAG_NON_PAGED_EXECUTE, FALSE, FALSE, TRUE, FALSE, TRUE},
    {"PAGED", TRUE, 0, POOL_FLAG_PAGED, TRUE, FALSE, FALSE, FALSE, TRUE},
    {"NON_PAGED|CACHE_ALIGNED", TRUE, 0, POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED, FALSE,
     TRUE, FALSE, FALSE, TRUE},
    {"NON_PAGED_EXECUTE|CACHE_ALIGNED", TRUE, 0,
     POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_CACHE_ALIGNED, FALSE, TRUE, TRUE, FALSE, TRUE},
    {"PAGED|CACHE_ALIGNED|UNINITIALIZED", TRUE, 0,
     POOL_FLAG_PAGED | POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_UNINITIALIZED, TRUE, TRUE, FALSE,
     FALSE, FALSE},
    {"NON_PAGED|USE_QUOTA", TRUE, 0, POOL_FLAG_NON_PAGED | POOL_FLAG_USE_QUOTA, FALSE, FALSE,
     FALSE, TRUE, TRUE},
    {"PAGED|USE_QUOTA|CACHE_ALIGNED", TRUE, 0,
     POOL_FLAG_PAGED | POOL_FLAG_USE_QUOTA | POOL_FLAG_CACHE_ALIGNED, TRUE, TRUE, FALSE, TRUE,
     TRUE},
};

/* Is n one of the sizes swept? */
static BOOLEAN KtpSweptSize(SIZE_T N)
{
    SIZE_T offset = N & (PAGE_SIZE - 1);

    return N <= KTP_EVERY_SIZE_UP_TO || N % KTP_SIZE_STRIDE == 0 || offset <= KTP_PAGE_EDGE ||
           offset >= PAGE_SIZE - KTP_PAGE_EDGE;
}

/* Does verifier= put every tag in special pool in this boot? */
static BOOLEAN KtpVerifierAllTags(void)
{
    char option[128];

    if (!KeQueryBootOption("verifier", option, sizeof(option)))
        return FALSE;
    for (const char *w = option; *w;) {
        const char *word = "special";
        while (*word && *w == *word)
            w++, word++;
        if (*word == 0 && (*w == 0 || *w == ','))
            return TRUE;
        while (*w && *w++ != ',')     /* on to the next word */
            ;
    }
    return FALSE;
}

/* A value that differs per block and per word, so a block written over
 * another shows. */
static inline ULONG64 KtpWord(PUCHAR P, SIZE_T I)
{
    return ((ULONG64)P * 0x9E3779B97F4A7C15ULL) ^ (I * 0x0101010101010101ULL);
}

/* Write every byte of the block, eight at a time where it can, then read
 * it all back; FALSE if something else changed it in between. */
static BOOLEAN KtpWriteAndCheck(PUCHAR P, SIZE_T Bytes)
{
    SIZE_T words = Bytes / 8;
    PULONG64 q = (PULONG64)P;

    for (SIZE_T i = 0; i < words; i++)
        q[i] = KtpWord(P, i);
    for (SIZE_T i = words * 8; i < Bytes; i++)
        P[i] = (UCHAR)KtpWord(P, i);
    for (SIZE_T i = 0; i < words; i++)
        if (q[i] != KtpWord(P, i))
            return FALSE;
    for (SIZE_T i = words * 8; i < Bytes; i++)
        if (P[i] != (UCHAR)KtpWord(P, i))
            return FALSE;
    return TRUE;
}

static BOOLEAN KtpAllZero(PUCHAR P, SIZE_T Bytes)
{
    for (SIZE_T i = 0; i < Bytes; i++)
        if (P[i] != 0)
            return FALSE;
    return TRUE;
}

/* One allocation of one kind and size, checked and freed. FALSE on the
 * first failure (KtestFail has said what). */
static BOOLEAN KtpSweepOne(const KTP_KIND *K, SIZE_T N, BOOLEAN SpecialAll)
{
    SIZE_T align = K->CacheAligned ? POOL_CACHE_ALIGNMENT : POOL_BLOCK_SIZE;
    SIZE_T limit = K->CacheAligned ? POOL_SMALL_CACHE_ALIGNED_LIMIT : POOL_SMALL_LIMIT;
    BOOLEAN small = N <= limit, special, quota;
    PUCHAR p = K->Pool2 ? ExAllocatePool2(K->Flags, N, TAG_SWEEP)
                        : ExAllocatePoolWithTag(K->Type, N, TAG_SWEEP);
    SIZE_T offset, size;

    if (p == NULL) {
        KtestFail(__FILE__, __LINE__, "%s, %llu bytes: NULL", K->Name, (ULONG64)N);
        return FALSE;
    }
    offset = ExpPageOffset(p);
    special = MiIsSpecialPoolAddress(p);
    size = ExQueryPoolBlockSize(p, &quota);
    KEXPECT_EQ(quota, K->Quota);
    /* Special pool: below a page, not quota-charged, when verifier= asks. */
    KEXPECT_EQ(special, SpecialAll && !K->Quota && N <= POOL_SMALL_LIMIT);
    if (special) {
        /* Overrun mode: the block ends as close to the guard page as its
         * alignment lets it, and the guard page is there. */
        KEXPECT_EQ((ULONG64)p % align, 0);
        KEXPECT_LE(offset + N, PAGE_SIZE);
        KEXPECT_LT(PAGE_SIZE - (offset + N), align);
        KEXPECT_FALSE(MmIsAddressValid(PAGE_ALIGN(p) + PAGE_SIZE));
        KEXPECT_EQ(size, N);
    } else if (small) {
        /* A block behind its header, never across a page. */
        KEXPECT_EQ((ULONG64)p % align, 0);
        KEXPECT_NE(offset, 0);
        KEXPECT_LE(offset + N, PAGE_SIZE);
        KEXPECT_GE(size, N);
        KEXPECT_LT(size, N + POOL_BLOCK_SIZE);
        KEXPECT_EQ(((PPOOL_HEADER)p - 1)->PoolTag, TAG_SWEEP);
    } else {
        /* Whole pages. */
        KEXPECT_EQ(offset, 0);
        KEXPECT_EQ(size, ROUND_TO_PAGES(N));
    }
    if (K->Zeroed)
        KEXPECT_TRUE(KtpAllZero(p, N));
    KEXPECT_TRUE(KtpWriteAndCheck(p, N));
    /* Written, so even paged pool is mapped now: the execute permission. */
    KEXPECT_EQ((MiGetPteAddress(p)->Long & MM_PTE_NO_EXECUTE) == 0, K->Executable);
    if (KtestCurrentFailed)
        KtestPrint("#   %s, %llu bytes at %p\n", K->Name, (ULONG64)N, p);
    ExFreePoolWithTag(p, TAG_SWEEP);
    return !KtestCurrentFailed;
}

static void KtpSweepKinds(ULONG First, ULONG Last)
{
    BOOLEAN specialAll = KtpVerifierAllTags();
    ULONG64 start = KeQueryInterruptTime();
    ULONG count = 0;

    for (ULONG k = First; k <= Last; k++)
        for (SIZE_T n = 1; n <= 3 * PAGE_SIZE; n++) {
            if (!KtpSweptSize(n))
                continue;
            if (!KtpSweepOne(&KtpKinds[k], n, specialAll))
                return;
            count++;
        }
    KtestPrint("#   %u allocations%s in %llu ms\n", count, specialAll ? " (special pool)" : "",
               (KeQueryInterruptTime() - start) / 10000);
}

/* In two halves, so that a failure names the half. */
KTEST(poolsweep, pool_types)
{
    KtpSweepKinds(0, 5);
}

KTEST(poolsweep, pool2_flags)
{
    KtpSweepKinds(6, ARRAYSIZE(KtpKinds) - 1);
}

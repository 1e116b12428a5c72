/*
 * test_runtree.c - host tests for the contiguous free-run tree (mm/runtree.c).
 *
 * Hand-written cases pin down the edges (one word, word and subtree
 * boundaries, the last page, odd PageCounts, Low/High clamps, boundaries);
 * then long random runs compare every answer with a brute-force reference
 * (a byte per page and a first-fit scan of the same definition), check
 * FreeCount/LongestRun, and let MiRunTreeVerify recheck every node. A last
 * group counts the nodes Find visits to show a descent is logarithmic.
 */
#include <stdlib.h>
#include <string.h>
#include "../ktest.h"
#include "../../mm/runtree.h"

/* ---- helpers ---------------------------------------------------------- */

typedef struct _RT_HARNESS {
    MI_RUN_TREE Tree;
    PVOID Storage;
} RT_HARNESS;

/* Storage is filled with garbage on purpose: Initialize must not rely on zero. */
static void RtOpen(RT_HARNESS *H, PFN_NUMBER PageCount)
{
    SIZE_T Size = MiRunTreeStorageSize(PageCount);

    H->Storage = malloc(Size);
    memset(H->Storage, 0xA5, Size);
    MiRunTreeInitialize(&H->Tree, H->Storage, PageCount);
}

static void RtClose(RT_HARNESS *H)
{
    free(H->Storage);
    H->Storage = NULL;
}

static ULONG64 RtRandState;

static void RtSeed(ULONG64 Seed)
{
    RtRandState = Seed ? Seed : 0x9E3779B97F4A7C15ULL;
}

static ULONG64 RtRand(void)
{
    return KtestRandom(&RtRandState);
}

/* Uniform-ish in [0, N); N > 0. */
static ULONG64 RtBelow(ULONG64 N)
{
    return RtRand() % N;
}

/* ---- reference model -------------------------------------------------- */

typedef struct _RT_REF {
    UCHAR *Free;
    PFN_NUMBER PageCount;
    PFN_NUMBER FreeCount;
} RT_REF;

static void RefOpen(RT_REF *R, PFN_NUMBER PageCount)
{
    R->Free = calloc(PageCount ? PageCount : 1, 1);
    R->PageCount = PageCount;
    R->FreeCount = 0;
}

static void RefClose(RT_REF *R)
{
    free(R->Free);
}

static void RefSet(RT_REF *R, PFN_NUMBER Start, PFN_NUMBER Count, UCHAR Free)
{
    PFN_NUMBER P;

    for (P = Start; P < R->PageCount && P - Start < Count; P++) {
        R->FreeCount += (PFN_NUMBER)(Free && !R->Free[P]);
        R->FreeCount -= (PFN_NUMBER)(!Free && R->Free[P]);
        R->Free[P] = Free;
    }
}

static PFN_NUMBER RefLongest(RT_REF *R)
{
    PFN_NUMBER P, Run = 0, Best = 0;

    for (P = 0; P < R->PageCount; P++) {
        Run = R->Free[P] ? Run + 1 : 0;
        if (Run > Best)
            Best = Run;
    }
    return Best;
}

/* The argument rules of MiRunTreeFind; FALSE means "MI_RUN_NONE". */
static BOOLEAN RefArgs(RT_REF *R, PFN_NUMBER Count, PFN_NUMBER Low, PFN_NUMBER *High,
                       PFN_NUMBER Boundary)
{
    if (Count == 0 || R->PageCount == 0)
        return FALSE;
    if (Boundary != 0 && ((Boundary & (Boundary - 1)) != 0 || Count > Boundary))
        return FALSE;
    if (*High >= R->PageCount)
        *High = R->PageCount - 1;
    return Low <= *High;
}

/* First fit by scanning: the run of free pages ending at P, restarted at
   Low and at every multiple of Boundary; the first time it reaches Count
   its start is the answer. */
static PFN_NUMBER RefFind(RT_REF *R, PFN_NUMBER Count, PFN_NUMBER Low, PFN_NUMBER High,
                          PFN_NUMBER Boundary)
{
    PFN_NUMBER P, Run = 0;

    if (!RefArgs(R, Count, Low, &High, Boundary))
        return MI_RUN_NONE;
    for (P = Low; P <= High; P++) {
        if (Boundary != 0 && P % Boundary == 0)
            Run = 0;
        Run = R->Free[P] ? Run + 1 : 0;
        if (Run >= Count)
            return P - Count + 1;
    }
    return MI_RUN_NONE;
}

/* The definition, word for word (slow; small trees only). */
static PFN_NUMBER RefFindNaive(RT_REF *R, PFN_NUMBER Count, PFN_NUMBER Low, PFN_NUMBER High,
                               PFN_NUMBER Boundary)
{
    PFN_NUMBER S, I;

    if (!RefArgs(R, Count, Low, &High, Boundary))
        return MI_RUN_NONE;
    for (S = Low; S <= High && Count - 1 <= High - S; S++) {
        if (Boundary != 0 && ((S ^ (S + Count - 1)) & ~(Boundary - 1)) != 0)
            continue;
        for (I = 0; I < Count && R->Free[S + I]; I++)
            ;
        if (I == Count)
            return S;
    }
    return MI_RUN_NONE;
}

/* ---- hand-written cases ----------------------------------------------- */

KTEST(runtree, starts_all_used)
{
    RT_HARNESS H;

    RtOpen(&H, 1000);
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 0);
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 0);
    KEXPECT_FALSE(MiRunTreeIsFree(&H.Tree, 0));
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, ~0ULL, 0), MI_RUN_NONE);
    RtClose(&H);
}

KTEST(runtree, storage_size)
{
    KEXPECT_EQ(MiRunTreeStorageSize(1) % 8, 0);
    KEXPECT_EQ(MiRunTreeStorageSize(1000) % 8, 0);
    KEXPECT_GE(MiRunTreeStorageSize(1000), 16 * 8);
    /* 6 GiB = 1536Ki pages: 24576 words, 32768 leaves. */
    KEXPECT_EQ(MiRunTreeStorageSize(1536 * 1024), 24576 * 8 + 32768 * sizeof(MI_RUN_NODE));
    KEXPECT_EQ(MiRunTreeStorageSize(1ULL << 40), MiRunTreeStorageSize(MI_RUN_MAX_PAGES));
}

KTEST(runtree, one_page)
{
    RT_HARNESS H;

    RtOpen(&H, 1);
    MiRunTreeSetFree(&H.Tree, 0, 5);    /* clamped to page 0 */
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 1);
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 1);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, 0, 0), 0);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, ~0ULL, 1), 0);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 2, 0, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 1, ~0ULL, 0), MI_RUN_NONE);
    MiRunTreeSetUsed(&H.Tree, 0, 1);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, 0, 0), MI_RUN_NONE);
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    RtClose(&H);
}

KTEST(runtree, zero_pages)
{
    RT_HARNESS H;

    RtOpen(&H, 0);
    MiRunTreeSetFree(&H.Tree, 0, 10);
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 0);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, ~0ULL, 0), MI_RUN_NONE);
    RtClose(&H);
}

KTEST(runtree, run_inside_one_word)
{
    RT_HARNESS H;

    RtOpen(&H, 1000);
    MiRunTreeSetFree(&H.Tree, 5, 10);   /* [5, 15) */
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 10);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 10, 0, ~0ULL, 0), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, ~0ULL, 0), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 11, 0, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 3, 7, ~0ULL, 0), 7);   /* run begins before Low */
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 8, 7, ~0ULL, 0), 7);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 9, 7, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 3, 13, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 10, 0, 13, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 10, 0, 14, 0), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 0, 0, ~0ULL, 0), MI_RUN_NONE);
    RtClose(&H);
}

KTEST(runtree, run_across_words_and_subtrees)
{
    RT_HARNESS H;

    RtOpen(&H, 64 * 16);
    MiRunTreeSetFree(&H.Tree, 60, 10);              /* words 0-1 */
    MiRunTreeSetFree(&H.Tree, 64 * 3 + 10, 64 * 9); /* words 3..12: several subtrees */
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 10, 0, ~0ULL, 0), 60);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 11, 0, ~0ULL, 0), 64 * 3 + 10);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 64 * 9, 0, ~0ULL, 0), 64 * 3 + 10);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 64 * 9 + 1, 0, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 8, 62, ~0ULL, 0), 62);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 100, 64 * 8 + 3, ~0ULL, 0), 64 * 8 + 3);
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 64 * 9);
    RtClose(&H);

    /* A run across the root's midpoint, and Low in the middle of it. */
    RtOpen(&H, 1 << 16);
    MiRunTreeSetFree(&H.Tree, (1 << 15) - 100, 200);
    MiRunTreeSetFree(&H.Tree, 100, 4900);               /* [100, 5000) */
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 200, 0, ~0ULL, 0), 100);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 200, 5000, ~0ULL, 0), (1 << 15) - 100);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 2000, 3000, ~0ULL, 0), 3000);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 2001, 3000, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 150, 4900, ~0ULL, 0), (1 << 15) - 100);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 150, 4900, (1 << 15) + 49, 0), (1 << 15) - 100);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 150, 4900, (1 << 15) + 48, 0), MI_RUN_NONE);
    RtClose(&H);
}

KTEST(runtree, run_at_the_end_and_odd_sizes)
{
    RT_HARNESS H;

    RtOpen(&H, 1000);
    MiRunTreeSetFree(&H.Tree, 990, 100);    /* clamped to [990, 1000) */
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 10);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 10, 0, ~0ULL, 0), 990);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 11, 0, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_TRUE(MiRunTreeIsFree(&H.Tree, 999));
    KEXPECT_FALSE(MiRunTreeIsFree(&H.Tree, 1000));
    MiRunTreeSetFree(&H.Tree, 0, 1000);
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 1000);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1000, 0, ~0ULL, 0), 0);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1001, 0, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 999, ~0ULL, 0), 999);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 1000, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, ~0ULL, 0, ~0ULL, 0), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 5, ~0ULL - 2, ~0ULL, 0), MI_RUN_NONE);
    RtClose(&H);

    RtOpen(&H, 65);
    MiRunTreeSetFree(&H.Tree, 0, 65);
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 65);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 65, 0, ~0ULL, 0), 0);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 2, 64, ~0ULL, 0), MI_RUN_NONE);
    RtClose(&H);

    RtOpen(&H, 64);
    MiRunTreeSetFree(&H.Tree, 0, 64);
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    KEXPECT_EQ(MiRunTreeLongestRun(&H.Tree), 64);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 64, 0, ~0ULL, 0), 0);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 63, 1, ~0ULL, 0), 1);
    RtClose(&H);
}

KTEST(runtree, set_is_idempotent)
{
    RT_HARNESS H;

    RtOpen(&H, 300);
    MiRunTreeSetFree(&H.Tree, 10, 100);
    MiRunTreeSetFree(&H.Tree, 50, 100);
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 140);
    MiRunTreeSetUsed(&H.Tree, 0, 20);
    MiRunTreeSetUsed(&H.Tree, 0, 20);
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 130);
    MiRunTreeSetUsed(&H.Tree, 5000, 10);    /* wholly out of range: ignored */
    MiRunTreeSetFree(&H.Tree, 299, ~0ULL);  /* clamped, no overflow */
    KEXPECT_EQ(MiRunTreeFreeCount(&H.Tree), 131);
    KEXPECT_TRUE(MiRunTreeVerify(&H.Tree));
    RtClose(&H);
}

KTEST(runtree, boundaries)
{
    RT_HARNESS H;

    RtOpen(&H, 1000);
    MiRunTreeSetFree(&H.Tree, 5, 95);   /* [5, 100) */
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 16, 0, ~0ULL, 16), 16);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 16, 0, ~0ULL, 32), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 27, 0, ~0ULL, 32), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 28, 0, ~0ULL, 32), 32);   /* [5,33) crosses 32 */
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 32, 0, ~0ULL, 32), 32);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 33, 0, ~0ULL, 32), MI_RUN_NONE); /* Count > Boundary */
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 64, 0, ~0ULL, 64), MI_RUN_NONE); /* [64,100) too short */
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 36, 0, ~0ULL, 64), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 60, 0, ~0ULL, 64), MI_RUN_NONE);   /* [5,65) crosses */
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 36, 40, ~0ULL, 64), 64);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 32, 0, 94, 32), 32);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 32, 33, 99, 32), 64);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 32, 33, 94, 32), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 1, 0, ~0ULL, 1), 5);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 2, 0, ~0ULL, 1), MI_RUN_NONE);
    KEXPECT_EQ(MiRunTreeFind(&H.Tree, 4, 0, ~0ULL, 24), MI_RUN_NONE); /* not a power of 2 */
    RtClose(&H);
}

/* ---- randomised comparison with the reference ------------------------- */

enum { PAT_ALL_FREE, PAT_ALL_USED, PAT_RANDOM_HALF, PAT_SPARSE_HOLES, PAT_ALTERNATING,
       PAT_BLOCKS, PAT_COUNT };

static void RtBothSet(RT_HARNESS *H, RT_REF *R, PFN_NUMBER Start, PFN_NUMBER Count, UCHAR Free)
{
    if (Free)
        MiRunTreeSetFree(&H->Tree, Start, Count);
    else
        MiRunTreeSetUsed(&H->Tree, Start, Count);
    RefSet(R, Start, Count, Free);
}

static void RtApplyPattern(RT_HARNESS *H, RT_REF *R, int Pattern)
{
    PFN_NUMBER N = R->PageCount, P, Len;

    switch (Pattern) {
    case PAT_ALL_FREE:
        RtBothSet(H, R, 0, N, 1);
        break;
    case PAT_ALL_USED:
        break;
    case PAT_RANDOM_HALF:
        for (P = 0; P < N; P++)
            if (RtRand() & 1)
                RtBothSet(H, R, P, 1, 1);
        break;
    case PAT_SPARSE_HOLES:
        RtBothSet(H, R, 0, N, 1);
        for (P = 0; P < N; P++)
            if (RtBelow(300) == 0)
                RtBothSet(H, R, P, 1 + RtBelow(3), 0);
        break;
    case PAT_ALTERNATING:
        for (P = 0; P < N; P += 2)
            RtBothSet(H, R, P, 1, 1);
        break;
    case PAT_BLOCKS:    /* free and used blocks of random length up to 300 */
        for (P = 0; P < N; P += Len) {
            Len = 1 + RtBelow(300);
            RtBothSet(H, R, P, Len, (UCHAR)(RtRand() & 1));
        }
        break;
    }
}

/* Mostly small counts that can succeed, sometimes huge or 0. */
static PFN_NUMBER RtRandomCount(PFN_NUMBER N)
{
    ULONG64 Pick = RtBelow(100);

    if (Pick < 40)
        return 1 + RtBelow(N < 16 ? N + 1 : 16);
    if (Pick < 90)
        return 1 + RtBelow(N < 256 ? 2 * N + 1 : 512);
    if (Pick < 97)
        return 1 + RtBelow(N + 64);
    return Pick == 97 ? 0 : N + RtBelow(3);
}

static PFN_NUMBER RtRandomPage(PFN_NUMBER N)
{
    return RtBelow(N + N / 16 + 2);     /* sometimes past the end */
}

/* How many random Finds ran and how many found a run (printed per suite). */
static ULONG64 RtFinds, RtHits;

/* One random run; returns FALSE (and has reported) on the first mismatch. */
static BOOLEAN RtRandomRun(PFN_NUMBER N, int Pattern, ULONG Ops, ULONG CheckEvery, ULONG64 Seed)
{
    RT_HARNESS H;
    RT_REF R;
    ULONG Op;
    BOOLEAN Ok = TRUE;

    RtSeed(Seed);
    RtOpen(&H, N);
    RefOpen(&R, N);
    RtApplyPattern(&H, &R, Pattern);
    for (Op = 0; Op < Ops && Ok; Op++) {
        ULONG64 Kind = RtBelow(100);

        if (Kind < 30) {
            PFN_NUMBER Len = RtBelow(10) == 0 ? 1 + RtBelow(4000) : 1 + RtBelow(24);
            RtBothSet(&H, &R, RtRandomPage(N), Len, (UCHAR)(RtRand() & 1));
        } else {
            PFN_NUMBER Count = RtRandomCount(N);
            PFN_NUMBER Low = RtBelow(2) ? 0 : RtRandomPage(N);
            PFN_NUMBER High = RtBelow(2) ? ~0ULL : Low + RtBelow(N + 2);
            PFN_NUMBER Boundary = RtBelow(2) ? 0 : 1ULL << RtBelow(13);
            PFN_NUMBER Got = MiRunTreeFind(&H.Tree, Count, Low, High, Boundary);
            PFN_NUMBER Want = RefFind(&R, Count, Low, High, Boundary);

            RtFinds++;
            RtHits += Want != MI_RUN_NONE;

            if (Got != Want) {
                KtestFail(__FILE__, __LINE__,
                          "N=%llu pattern=%d op=%u: Find(Count=%llu, Low=%llu, High=%llu, "
                          "Boundary=%llu) = %lld, reference %lld",
                          (unsigned long long)N, Pattern, Op, (unsigned long long)Count,
                          (unsigned long long)Low, (unsigned long long)High,
                          (unsigned long long)Boundary, (long long)Got, (long long)Want);
                Ok = FALSE;
            }
            if (Ok && N <= 1000 && RefFindNaive(&R, Count, Low, High, Boundary) != Want) {
                KtestFail(__FILE__, __LINE__, "reference scans disagree (N=%llu op=%u)",
                          (unsigned long long)N, Op);
                Ok = FALSE;
            }
        }
        if (Ok && (Op % CheckEvery == 0 || Op + 1 == Ops)) {
            if (!MiRunTreeVerify(&H.Tree) || MiRunTreeFreeCount(&H.Tree) != R.FreeCount ||
                MiRunTreeLongestRun(&H.Tree) != RefLongest(&R)) {
                KtestFail(__FILE__, __LINE__,
                          "N=%llu pattern=%d op=%u: verify=%d free %llu/%llu longest %llu/%llu",
                          (unsigned long long)N, Pattern, Op, MiRunTreeVerify(&H.Tree),
                          (unsigned long long)MiRunTreeFreeCount(&H.Tree),
                          (unsigned long long)R.FreeCount,
                          (unsigned long long)MiRunTreeLongestRun(&H.Tree),
                          (unsigned long long)RefLongest(&R));
                Ok = FALSE;
            }
        }
    }
    RefClose(&R);
    RtClose(&H);
    return Ok;
}

static void RtRandomSuite(PFN_NUMBER N, ULONG Ops, ULONG CheckEvery)
{
    int Pattern;

    RtFinds = RtHits = 0;
    for (Pattern = 0; Pattern < PAT_COUNT; Pattern++)
        if (!RtRandomRun(N, Pattern, Ops, CheckEvery, 0x1234567ULL * (N + 1) + (ULONG64)Pattern))
            return;
    KtestPrint("# runtree: %llu pages: %u ops per pattern, %llu finds, %llu found\n",
               (unsigned long long)N, Ops, (unsigned long long)RtFinds,
               (unsigned long long)RtHits);
}

KTEST(runtree, random_tiny)
{
    RtRandomSuite(1, 20000, 1);
    RtRandomSuite(2, 20000, 1);
    RtRandomSuite(7, 40000, 1);
    RtRandomSuite(63, 40000, 1);
    RtRandomSuite(64, 40000, 1);
    RtRandomSuite(65, 40000, 1);
    RtRandomSuite(129, 40000, 1);
}

KTEST(runtree, random_small)
{
    RtRandomSuite(1000, 60000, 1);
    RtRandomSuite(4096 + 17, 60000, 4);
}

KTEST(runtree, random_medium)
{
    RtRandomSuite(100000, 40000, 500);
}

KTEST(runtree, random_large)
{
    RtRandomSuite(1 << 20, 1500, 250);
}

/* ---- cost: a descent visits O(log N) nodes ---------------------------- */

KTEST(runtree, descent_is_logarithmic)
{
    const PFN_NUMBER N = 1536 * 1024;   /* 6 GiB */
    RT_HARNESS H;
    PFN_NUMBER P, Got, Visits, Worst = 0;
    ULONG64 Depth = 0, I, Leaves;
    ULONG Round;

    RtSeed(42);
    RtOpen(&H, N);
    /* 50% random single pages: no free run is long, every Find must prune. */
    for (P = 0; P < N; P++)
        if (RtRand() & 1)
            MiRunTreeSetFree(&H.Tree, P, 1);
    MiRunTreeSetUsed(&H.Tree, N - 301, 1);
    MiRunTreeSetFree(&H.Tree, N - 300, 300);        /* the one answer, at the end */
    KASSERT_TRUE(MiRunTreeVerify(&H.Tree));
    for (Leaves = H.Tree.LeafCount; Leaves > 1; Leaves /= 2)
        Depth++;

    for (Round = 0; Round < 2000; Round++) {
        PFN_NUMBER Low = Round == 0 ? 0 : RtBelow(N - 300);
        PFN_NUMBER Count = Round < 1000 ? 256 : 1 + RtBelow(64);

        H.Tree.Descents = 0;
        H.Tree.NodesVisited = 0;
        Got = MiRunTreeFind(&H.Tree, Count, Low, ~0ULL, 0);
        if (Count == 256)
            KEXPECT_EQ(Got, N - 300);
        else
            KEXPECT_NE(Got, MI_RUN_NONE);
        KEXPECT_EQ(H.Tree.Descents, 1);
        Visits = H.Tree.NodesVisited;
        if (Visits > Worst)
            Worst = Visits;
    }
    /* Path to Low, one sibling per level, then a guided walk: < 4 per level. */
    KEXPECT_LE(Worst, 4 * (Depth + 1));
    KtestPrint("# runtree: %llu pages, depth %llu, worst %llu nodes per descent\n",
               (unsigned long long)N, (unsigned long long)Depth, (unsigned long long)Worst);

    /* With a boundary, every retry is one more descent of the same cost. */
    H.Tree.Descents = 0;
    H.Tree.NodesVisited = 0;
    Got = MiRunTreeFind(&H.Tree, 256, 0, ~0ULL, 256);
    KEXPECT_EQ(Got, N - 256);
    KEXPECT_LE(H.Tree.NodesVisited, H.Tree.Descents * 4 * (Depth + 1));
    KEXPECT_LE(H.Tree.Descents, 2);
    for (I = 0; I < 64; I++)
        KEXPECT_TRUE(MiRunTreeIsFree(&H.Tree, Got + I));
    RtClose(&H);
}

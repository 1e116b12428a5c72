/*
 * test_smp_stress.c - one thread per processor, each pinned there, all
 * hammering the same allocator at once; then a model check.
 *
 * Each thread stamps what it gets with its own 64-bit pattern (its index
 * and a serial number) and checks the stamp before it gives the memory
 * back: a block, page or mapping handed to two threads at once is
 * overwritten by the other one and fails the check. At the end, with every
 * processor's pool caches trimmed, the page lists, the free-run tree, the
 * commit charge, the system PTEs and PoolMon's counters must read as they
 * did before (smp_threads.c): no page lost, none freed twice.
 *
 * With one processor the same runs happen with one thread (N = 1); they
 * check the same model, only without the races.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"
#include "smp_threads.h"

#define KSS_TAG_POOL  'pSmS'
#define KSS_TAG_LOOK  'lSmS'

static ULONG KssThreads(void)
{
    return KeQueryActiveProcessorCount(NULL);
}

static ULONG64 KssStamp(ULONG Index, ULONG64 Serial)
{
    return ((ULONG64)(Index + 1) << 48) ^ (Serial * 0x9E3779B97F4A7C15ULL);
}

/* Fill/check Bytes at P with words derived from Stamp (a tail byte by byte). */
static VOID KssFill(PVOID P, SIZE_T Bytes, ULONG64 Stamp)
{
    PULONG64 w = P;
    PUCHAR b = P;
    SIZE_T words = Bytes / 8;

    for (SIZE_T i = 0; i < words; i++)
        w[i] = Stamp + i;
    for (SIZE_T i = words * 8; i < Bytes; i++)
        b[i] = (UCHAR)(Stamp >> (i & 7));
}

static BOOLEAN KssCheck(PVOID P, SIZE_T Bytes, ULONG64 Stamp)
{
    PULONG64 w = P;
    PUCHAR b = P;
    SIZE_T words = Bytes / 8;

    for (SIZE_T i = 0; i < words; i++)
        if (w[i] != Stamp + i)
            return FALSE;
    for (SIZE_T i = words * 8; i < Bytes; i++)
        if (b[i] != (UCHAR)(Stamp >> (i & 7)))
            return FALSE;
    return TRUE;
}

/* What every stress run counts, per thread. */
typedef struct _KSS_COUNTS {
    ULONG64 Allocs[2];                  /* [0] nonpaged, [1] paged (or the only kind) */
    ULONG64 Failures;                   /* allocations that returned NULL */
    ULONG64 BadStamps;                  /* memory that did not hold its owner's pattern */
    ULONG64 Other;                      /* any other broken promise (test-specific) */
} KSS_COUNTS;

/* Each run stops at its round count or at its deadline, whichever comes
 * first, so that a loaded host makes it shorter, not longer. */
#define KSS_BUDGET_MS 250
#define KSS_WARMUP_MS 40

typedef struct _KSS_STATE {
    KSS_COUNTS Counts[KSMP_MAX_THREADS];
    ULONG64 Deadline;                   /* TSC */
    BOOLEAN Warmup;
    KSMP_MM_SNAPSHOT MmBefore, MmAfter;
    SYSTEM_POOLTAG TagBefore, TagAfter;
    ULONG Tag;
    ULONG64 StartTsc, EndTsc;
} KSS_STATE;

static KSS_STATE KssState;

static VOID KssReadTag(ULONG Tag, PSYSTEM_POOLTAG Entry)
{
    if (Tag == 0 || !ExpQueryPoolTag(Tag, Entry))
        RtlZeroMemory(Entry, sizeof(*Entry));
}

static VOID KssBefore(PVOID Context)
{
    KSS_STATE *s = Context;

    KsmpSnapshotMm(&s->MmBefore);
    KssReadTag(s->Tag, &s->TagBefore);
    s->StartTsc = KeReadTimeStampCounter();
    s->Deadline = s->StartTsc + KsmpTicks(s->Warmup ? KSS_WARMUP_MS : KSS_BUDGET_MS);
}

static BOOLEAN KssTimeUp(KSS_STATE *S)
{
    return KeReadTimeStampCounter() > S->Deadline;
}

static VOID KssAfter(PVOID Context)
{
    KSS_STATE *s = Context;

    s->EndTsc = KeReadTimeStampCounter();
    KsmpSnapshotMm(&s->MmAfter);
    KssReadTag(s->Tag, &s->TagAfter);
}

/* Run Work on one thread per processor, then check the memory model and
 * every thread's counts; returns the sums. */
static KSS_COUNTS KssRun(PCSTR What, KSMP_WORK *Work, KSMP_HOOK *Before, KSMP_HOOK *After,
                         ULONG Tag, KSMP_PIN Pin)
{
    static KSMP_RUN run;
    KSS_COUNTS sum = {{0, 0}, 0, 0, 0};

    /* A short warm-up first: what the first use of an allocator leaves
     * for good (paged pool's page tables, charged and kept as NT keeps
     * them) is not a leak, and must not be in the figures. */
    for (int pass = 0; pass < 2; pass++) {
        RtlZeroMemory(&KssState, sizeof(KssState));
        RtlZeroMemory(&run, sizeof(run));
        KssState.Tag = Tag;
        KssState.Warmup = pass == 0;
        run.Work = Work;
        run.Before = Before;
        run.After = After;
        run.Context = &KssState;
        run.Count = KssThreads();
        run.Pin = Pin;
        KEXPECT_TRUE(KsmpRun(&run));
    }
    for (ULONG t = 0; t < run.Count; t++) {
        sum.Allocs[0] += KssState.Counts[t].Allocs[0];
        sum.Allocs[1] += KssState.Counts[t].Allocs[1];
        sum.Failures += KssState.Counts[t].Failures;
        sum.BadStamps += KssState.Counts[t].BadStamps;
        sum.Other += KssState.Counts[t].Other;
    }
    KtestPrint("#   %s: %u threads, %llu + %llu allocations, %llu ms\n", What, run.Count,
               sum.Allocs[0], sum.Allocs[1],
               (KssState.EndTsc - KssState.StartTsc) / (KeTimeStampFrequency / 1000));
    KEXPECT_EQ(sum.Failures, 0);
    KEXPECT_EQ(sum.BadStamps, 0);
    KEXPECT_EQ(sum.Other, 0);
    KEXPECT_GT(sum.Allocs[0] + sum.Allocs[1], 0);
    KsmpExpectMmBalanced(&KssState.MmBefore, &KssState.MmAfter);
    return sum;
}

/* ---- (a) pool: mixed sizes, nonpaged and paged ------------------------------------------- */

#define KSS_POOL_ROUNDS 20000
#define KSS_POOL_LIVE   24

static const SIZE_T KssPoolSizes[] = {
    8, 24, 40, 64, 100, 200, 256, 500, 512, 1000, 2000, 3000, 4000, 4096, 5000, 9000,
};

static VOID KssPoolWork(PVOID Context, ULONG Index)
{
    KSS_STATE *s = Context;
    KSS_COUNTS *c = &s->Counts[Index];
    struct { PVOID P; SIZE_T Bytes; ULONG64 Stamp; } live[KSS_POOL_LIVE];
    ULONG64 rng = 0x243F6A8885A308D3ULL ^ ((ULONG64)Index << 32), serial = 0;

    RtlZeroMemory(live, sizeof(live));
    for (ULONG round = 0; round < KSS_POOL_ROUNDS && !KssTimeUp(s); round++) {
        ULONG64 r = KtestRandom(&rng);
        ULONG slot = (ULONG)(r % KSS_POOL_LIVE);

        if (live[slot].P != NULL) {
            if (!KssCheck(live[slot].P, live[slot].Bytes, live[slot].Stamp))
                c->BadStamps++;
            ExFreePoolWithTag(live[slot].P, KSS_TAG_POOL);
            live[slot].P = NULL;
        } else {
            BOOLEAN paged = (r >> 20) & 1;
            SIZE_T bytes = KssPoolSizes[(r >> 8) % ARRAYSIZE(KssPoolSizes)];
            PVOID p = ExAllocatePoolWithTag(paged ? PagedPool : NonPagedPoolNx, bytes,
                                            KSS_TAG_POOL);
            if (p == NULL) {
                c->Failures++;
                continue;
            }
            c->Allocs[paged]++;
            live[slot].P = p;
            live[slot].Bytes = bytes;
            live[slot].Stamp = KssStamp(Index, ++serial);
            KssFill(p, bytes, live[slot].Stamp);
        }
    }
    for (ULONG slot = 0; slot < KSS_POOL_LIVE; slot++)
        if (live[slot].P != NULL) {
            if (!KssCheck(live[slot].P, live[slot].Bytes, live[slot].Stamp))
                c->BadStamps++;
            ExFreePoolWithTag(live[slot].P, KSS_TAG_POOL);
        }
}

static VOID KssExpectTagBalanced(ULONG64 NonPagedAllocs, ULONG64 PagedAllocs)
{
    SYSTEM_POOLTAG *b = &KssState.TagBefore, *a = &KssState.TagAfter;

    /* PoolMon counted every allocation and every free, on every processor. */
    KEXPECT_EQ((ULONG)(a->NonPagedAllocs - b->NonPagedAllocs), (ULONG)NonPagedAllocs);
    KEXPECT_EQ((ULONG)(a->NonPagedFrees - b->NonPagedFrees), (ULONG)NonPagedAllocs);
    KEXPECT_EQ((ULONG)(a->PagedAllocs - b->PagedAllocs), (ULONG)PagedAllocs);
    KEXPECT_EQ((ULONG)(a->PagedFrees - b->PagedFrees), (ULONG)PagedAllocs);
    KEXPECT_EQ(a->NonPagedUsed, b->NonPagedUsed);
    KEXPECT_EQ(a->PagedUsed, b->PagedUsed);
}

KTEST(smp_stress, pool_mixed_sizes_and_types)
{
    KSS_COUNTS sum = KssRun("pool", KssPoolWork, KssBefore, KssAfter, KSS_TAG_POOL, KsmpPinSelf);

    KEXPECT_GT(sum.Allocs[0], 0);
    KEXPECT_GT(sum.Allocs[1], 0);
    KssExpectTagBalanced(sum.Allocs[0], sum.Allocs[1]);
}

/* ---- (b) one nonpaged lookaside list shared by all -------------------------------------------- */

#define KSS_LOOK_ROUNDS 40000
#define KSS_LOOK_LIVE   12
#define KSS_LOOK_SIZE   200

static NPAGED_LOOKASIDE_LIST KssLookaside;

static VOID KssLookWork(PVOID Context, ULONG Index)
{
    KSS_STATE *s = Context;
    KSS_COUNTS *c = &s->Counts[Index];
    struct { PVOID P; ULONG64 Stamp; } live[KSS_LOOK_LIVE];
    ULONG64 rng = 0x13198A2E03707344ULL ^ ((ULONG64)Index << 32), serial = 0;

    RtlZeroMemory(live, sizeof(live));
    for (ULONG round = 0; round < KSS_LOOK_ROUNDS && !KssTimeUp(s); round++) {
        ULONG slot = (ULONG)(KtestRandom(&rng) % KSS_LOOK_LIVE);

        if (live[slot].P != NULL) {
            if (!KssCheck(live[slot].P, KSS_LOOK_SIZE, live[slot].Stamp))
                c->BadStamps++;
            ExFreeToNPagedLookasideList(&KssLookaside, live[slot].P);
            live[slot].P = NULL;
        } else {
            PVOID p = ExAllocateFromNPagedLookasideList(&KssLookaside);
            if (p == NULL) {
                c->Failures++;
                continue;
            }
            c->Allocs[0]++;
            live[slot].P = p;
            live[slot].Stamp = KssStamp(Index, ++serial);
            KssFill(p, KSS_LOOK_SIZE, live[slot].Stamp);
        }
    }
    for (ULONG slot = 0; slot < KSS_LOOK_LIVE; slot++)
        if (live[slot].P != NULL) {
            if (!KssCheck(live[slot].P, KSS_LOOK_SIZE, live[slot].Stamp))
                c->BadStamps++;
            ExFreeToNPagedLookasideList(&KssLookaside, live[slot].P);
        }
}

/* The list is made before the first snapshot and deleted (its cached
 * blocks freed) before the second. */
static VOID KssLookBefore(PVOID Context)
{
    ExInitializeNPagedLookasideList(&KssLookaside, NULL, NULL, POOL_NX_ALLOCATION, KSS_LOOK_SIZE,
                                    KSS_TAG_LOOK, 0);
    KssBefore(Context);
}

static VOID KssLookAfter(PVOID Context)
{
    ExDeleteNPagedLookasideList(&KssLookaside);
    KssAfter(Context);
}

KTEST(smp_stress, npaged_lookaside_list)
{
    KSS_COUNTS sum = KssRun("lookaside", KssLookWork, KssLookBefore, KssLookAfter, KSS_TAG_LOOK,
                            KsmpPinByCreator);
    SYSTEM_POOLTAG *b = &KssState.TagBefore, *a = &KssState.TagAfter;
    ULONG allocs = a->NonPagedAllocs - b->NonPagedAllocs;

    /* The blocks that came from the pool (misses) all went back to it. */
    KEXPECT_GT(allocs, 0);
    KEXPECT_LE(allocs, sum.Allocs[0]);
    KEXPECT_EQ(a->NonPagedFrees - b->NonPagedFrees, allocs);
    KEXPECT_EQ(a->NonPagedUsed, b->NonPagedUsed);
}

/* ---- (c) raw S-lists ------------------------------------------------------------------------ */

#define KSS_SLIST_PER_THREAD 64
#define KSS_SLIST_ENTRIES    (KSS_SLIST_PER_THREAD * KSMP_MAX_THREADS)
#define KSS_SLIST_ROUNDS     40000
#define KSS_SLIST_BATCH      6

typedef struct DECLSPEC_ALIGN(16) _KSS_ENTRY {
    SLIST_ENTRY Link;
    volatile LONG Owner;                /* 0 on the list, else the thread's index + 1 */
    ULONG Id;
    ULONG64 Stamp;
} KSS_ENTRY;

static KSS_ENTRY KssEntries[KSS_SLIST_ENTRIES];
static SLIST_HEADER KssSList;
static ULONG KssSListEntries;
static UCHAR KssSeen[KSS_SLIST_ENTRIES];

static VOID KssSListWork(PVOID Context, ULONG Index)
{
    KSS_STATE *s = Context;
    KSS_COUNTS *c = &s->Counts[Index];
    KSS_ENTRY *held[KSS_SLIST_BATCH];
    ULONG64 serial = 0;

    for (ULONG round = 0; round < KSS_SLIST_ROUNDS && !KssTimeUp(s); round++) {
        ULONG n = 0;

        for (ULONG i = 0; i < 1 + round % KSS_SLIST_BATCH; i++) {
            KSS_ENTRY *e = (KSS_ENTRY *)InterlockedPopEntrySList(&KssSList);
            LONG free = 0;

            if (e == NULL)
                break;
            /* Popped by two at once: the second finds it owned. */
            if (!__atomic_compare_exchange_n(&e->Owner, &free, (LONG)Index + 1, FALSE,
                                             __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
                c->Other++;
            if (e->Id >= KssSListEntries)
                c->Other++;
            e->Stamp = KssStamp(Index, ++serial);
            held[n++] = e;
            c->Allocs[0]++;
        }
        for (ULONG i = 0; i < n; i++) {
            KSS_ENTRY *e = held[i];
            if (e->Stamp != KssStamp(Index, serial - (n - 1 - i)) || e->Owner != (LONG)Index + 1)
                c->BadStamps++;
            __atomic_store_n(&e->Owner, 0, __ATOMIC_SEQ_CST);
            InterlockedPushEntrySList(&KssSList, &e->Link);
        }
    }
}

KTEST(smp_stress, slist_push_pop_counts_every_entry)
{
    ULONG count = 0, threads = KssThreads();
    KSS_ENTRY *e;

    KssSListEntries = KSS_SLIST_PER_THREAD * threads;
    InitializeSListHead(&KssSList);
    for (ULONG i = 0; i < KssSListEntries; i++) {
        KssEntries[i].Id = i;
        KssEntries[i].Owner = 0;
        InterlockedPushEntrySList(&KssSList, &KssEntries[i].Link);
    }
    KEXPECT_EQ(ExQueryDepthSList(&KssSList), KssSListEntries);
    KssRun("slist", KssSListWork, KssBefore, KssAfter, 0, KsmpPinSelf);
    /* Every entry is back on the list exactly once, and the depth agrees. */
    KEXPECT_EQ(ExQueryDepthSList(&KssSList), KssSListEntries);
    RtlZeroMemory(KssSeen, sizeof(KssSeen));
    while ((e = (KSS_ENTRY *)InterlockedPopEntrySList(&KssSList)) != NULL) {
        count++;
        if (e < KssEntries || e >= KssEntries + KssSListEntries) {
            KtestFail(__FILE__, __LINE__, "popped %p, not an entry", (PVOID)e);
            break;
        }
        KEXPECT_EQ(KssSeen[e->Id], 0);
        KssSeen[e->Id] = 1;
        KEXPECT_EQ(e->Owner, 0);
        if (count > KssSListEntries)
            break;
    }
    KEXPECT_EQ(count, KssSListEntries);
    KEXPECT_EQ(ExQueryDepthSList(&KssSList), 0);
}

/* ---- (d) contiguous memory ------------------------------------------------------------------ */

#define KSS_CONTIG_ROUNDS 4000
#define KSS_CONTIG_LIVE   4
#define KSS_CONTIG_PAGES  8            /* the largest request */
#define KSS_WORDS_PER_PAGE_CHECKED 8     /* one word every 512 bytes */

static PHYSICAL_ADDRESS KssPa(ULONG64 Value)
{
    PHYSICAL_ADDRESS p;

    p.QuadPart = (LONGLONG)Value;
    return p;
}

static VOID KssStampPages(PUCHAR P, ULONG Pages, ULONG64 Stamp)
{
    for (ULONG i = 0; i < Pages * KSS_WORDS_PER_PAGE_CHECKED; i++)
        *(PULONG64)(P + i * (PAGE_SIZE / KSS_WORDS_PER_PAGE_CHECKED)) = Stamp + i;
}

static BOOLEAN KssCheckPages(PUCHAR P, ULONG Pages, ULONG64 Stamp)
{
    for (ULONG i = 0; i < Pages * KSS_WORDS_PER_PAGE_CHECKED; i++)
        if (*(PULONG64)(P + i * (PAGE_SIZE / KSS_WORDS_PER_PAGE_CHECKED)) != Stamp + i)
            return FALSE;
    return TRUE;
}

/* Physically contiguous from its first page to its last. */
static BOOLEAN KssContiguous(PUCHAR P, ULONG Pages)
{
    ULONG64 first = (ULONG64)MmGetPhysicalAddress(P).QuadPart;

    if (first == 0)
        return FALSE;
    for (ULONG i = 1; i < Pages; i++)
        if ((ULONG64)MmGetPhysicalAddress(P + i * PAGE_SIZE).QuadPart != first + i * PAGE_SIZE)
            return FALSE;
    return TRUE;
}

static VOID KssContigFree(KSS_COUNTS *C, PUCHAR P, ULONG Pages, ULONG64 Stamp)
{
    if (!KssCheckPages(P, Pages, Stamp))
        C->BadStamps++;
    if (!KssContiguous(P, Pages))
        C->Other++;
    MmFreeContiguousMemory(P);
}

static VOID KssContigWork(PVOID Context, ULONG Index)
{
    KSS_STATE *s = Context;
    KSS_COUNTS *c = &s->Counts[Index];
    struct { PUCHAR P; ULONG Pages; ULONG64 Stamp; } live[KSS_CONTIG_LIVE];
    ULONG64 rng = 0xA4093822299F31D0ULL ^ ((ULONG64)Index << 32), serial = 0;

    RtlZeroMemory(live, sizeof(live));
    for (ULONG round = 0; round < KSS_CONTIG_ROUNDS && !KssTimeUp(s); round++) {
        ULONG64 r = KtestRandom(&rng);
        ULONG slot = (ULONG)(r % KSS_CONTIG_LIVE);

        if (live[slot].P != NULL) {
            KssContigFree(c, live[slot].P, live[slot].Pages, live[slot].Stamp);
            live[slot].P = NULL;
        } else {
            ULONG pages = 1 + (ULONG)((r >> 8) % KSS_CONTIG_PAGES);
            /* Below 4 GiB half the time, a device's usual limit. */
            ULONG64 high = (r >> 16) & 1 ? 0xFFFFFFFFULL : ~0ULL;
            MEMORY_CACHING_TYPE type = (r >> 17) % 4 == 0 ? MmNonCached : MmCached;
            PUCHAR p = MmAllocateContiguousMemorySpecifyCache((SIZE_T)pages * PAGE_SIZE, KssPa(0),
                                                              KssPa(high), KssPa(0), type);
            if (p == NULL) {
                c->Failures++;
                continue;
            }
            c->Allocs[0]++;
            if ((ULONG64)MmGetPhysicalAddress(p + pages * PAGE_SIZE - 1).QuadPart > high)
                c->Other++;
            live[slot].P = p;
            live[slot].Pages = pages;
            live[slot].Stamp = KssStamp(Index, ++serial);
            KssStampPages(p, pages, live[slot].Stamp);
        }
    }
    for (ULONG slot = 0; slot < KSS_CONTIG_LIVE; slot++)
        if (live[slot].P != NULL)
            KssContigFree(c, live[slot].P, live[slot].Pages, live[slot].Stamp);
}

KTEST(smp_stress, contiguous_alloc_free)
{
    KssRun("contig", KssContigWork, KssBefore, KssAfter, 0, KsmpPinByCreator);
}

/* ---- (e) MmMapIoSpace / MmUnmapIoSpace of a RAM page ------------------------------------------- */

#define KSS_MAPIO_ROUNDS 8000

/* Each thread owns one page (contiguous memory, its own mapping kept) and
 * maps it again and again: a whole-page mapping or a few bytes at an
 * offset. What is written through the new mapping must show through the
 * old one, and nothing else may change the page. */
static VOID KssMapIoWork(PVOID Context, ULONG Index)
{
    KSS_STATE *s = Context;
    KSS_COUNTS *c = &s->Counts[Index];
    PUCHAR own = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, KssPa(0), KssPa(~0ULL),
                                                        KssPa(0), MmCached);
    PHYSICAL_ADDRESS pa;

    if (own == NULL) {
        c->Failures++;
        return;
    }
    pa = MmGetPhysicalAddress(own);
    for (ULONG round = 0; round < KSS_MAPIO_ROUNDS && !KssTimeUp(s); round++) {
        ULONG64 stamp = KssStamp(Index, round + 1);
        ULONG offset = (round & 1) ? (ULONG)((round * 200) % (PAGE_SIZE - 256)) & ~7U : 0;
        SIZE_T bytes = offset ? 256 : PAGE_SIZE;
        PHYSICAL_ADDRESS at;
        PUCHAR v;

        at.QuadPart = pa.QuadPart + offset;
        v = MmMapIoSpace(at, bytes, MmCached);
        if (v == NULL) {
            c->Failures++;
            continue;
        }
        c->Allocs[0]++;
        if (((ULONG_PTR)v & (PAGE_SIZE - 1)) != offset ||
            MmGetPhysicalAddress(v).QuadPart != at.QuadPart)
            c->Other++;
        KssFill(v, bytes, stamp);
        if (!KssCheck(own + offset, bytes, stamp) || !KssCheck(v, bytes, stamp))
            c->BadStamps++;
        MmUnmapIoSpace(v, bytes);
    }
    MmFreeContiguousMemory(own);
}

KTEST(smp_stress, map_io_space_of_ram)
{
    KssRun("mapio", KssMapIoWork, KssBefore, KssAfter, 0, KsmpPinSelf);
}

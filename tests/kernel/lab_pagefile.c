/*
 * lab_pagefile.c - the pagefile lab's own tests (tests/labs/pagefile.md),
 * beside the pagefile.* tests its rubric also names:
 *   - the slot bitmap's run allocation (MiAllocatePageFileRun in
 *     mm/pagefile.c) and release (MiReleasePageFileSlot), on a small
 *     bitmap of the test's own swapped in for the real one under
 *     MmPfnLock, so every rule is met exactly: next fit from the hint, a
 *     run shortened at a used slot and at the end of the file, the wrap
 *     to slot 1, the counts;
 *   - the modified page writer through the student's allocator: pages go
 *     to disk in clusters (the stand-in gives one slot per write) and come
 *     back intact;
 *   - a slot freed twice: MEMORY_MANAGEMENT (0x1A) with parameter 1 =
 *     0x7001 (boots alone; needs no page file, only the bitmap).
 * The non-bug-check tests need a page file (tests/runner.py's
 * bios-128m-pagefile boot) and skip elsewhere.
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define KLPF_TAG 'fPbL'
#define KLPF_WORDS 4                    /* up to 256 slots */
#define KLPF_CLUSTER_PAGES 2048         /* 8 MiB of paged pool for the writer test */

/* A test's own page file bitmap, swapped in with MmPfnLock held. Between
 * KlpfSwapIn and KlpfSwapOut nothing else may run the allocator, so the
 * test only records results there and checks them after the swap back
 * (no printing at DISPATCH_LEVEL). */
typedef struct {
    MI_PAGING_FILE Saved;
    ULONG64 Bits[KLPF_WORDS];
    KIRQL Irql;
} KLPF_FILE;

static void KlpfSetUsed(KLPF_FILE *T, ULONG64 First, ULONG64 Count)
{
    for (ULONG64 s = First; s < First + Count; s++) {
        T->Bits[s / 64] |= 1ULL << (s % 64);
        MiPagingFile.FreeSpace--;
    }
}

/* Size slots, slot 0 the header, the bits past the end used, the hint at 1:
 * as MiPageFileInitialize leaves a new file. */
static void KlpfSwapIn(KLPF_FILE *T, ULONG64 Size)
{
    RtlZeroMemory(T->Bits, sizeof(T->Bits));
    for (ULONG64 s = Size; s < KLPF_WORDS * 64; s++)
        T->Bits[s / 64] |= 1ULL << (s % 64);
    T->Bits[0] |= 1;
    KeAcquireSpinLock(&MmPfnLock, &T->Irql);
    T->Saved = MiPagingFile;
    MiPagingFile.Bitmap = T->Bits;
    MiPagingFile.Size = Size;
    MiPagingFile.FreeSpace = Size - 1;
    MiPagingFile.CurrentUsage = MiPagingFile.PeakUsage = 0;
    MiPagingFile.Hint = 1;
}

static void KlpfSwapOut(KLPF_FILE *T)
{
    MiPagingFile = T->Saved;
    KeReleaseSpinLock(&MmPfnLock, T->Irql);
}

typedef struct {
    ULONG64 Slot;
    ULONG Got;
} KLPF_RUN;

static KLPF_RUN KlpfAllocate(ULONG Wanted)
{
    KLPF_RUN r;

    r.Slot = MiAllocatePageFileRun(Wanted, &r.Got);
    return r;
}

#define KLPF_EXPECT_RUN(Run, S, N)       \
    do {                                 \
        KEXPECT_EQ((Run).Slot, (S));     \
        KEXPECT_EQ((Run).Got, (N));      \
    } while (0)

KTEST(lab_pagefile, run_is_next_fit_from_the_hint)
{
    static KLPF_FILE t;
    KLPF_RUN r[6];
    ULONG64 free, usage, peak, bit1;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KlpfSwapIn(&t, 192);
    r[0] = KlpfAllocate(4);             /* 1..4 */
    r[1] = KlpfAllocate(3);             /* 5..7: next fit goes on after the last run */
    KlpfSetUsed(&t, 10, 1);
    r[2] = KlpfAllocate(4);             /* 8..9: shortened at the used slot 10 */
    r[3] = KlpfAllocate(4);             /* 11..14 */
    MiReleasePageFileSlot(1);
    bit1 = t.Bits[0] & 2;
    r[4] = KlpfAllocate(1);             /* 15, not the slot just freed behind the hint */
    r[5] = KlpfAllocate(0);             /* nothing wanted, nothing taken */
    free = MiPagingFile.FreeSpace;
    usage = MiPagingFile.CurrentUsage;
    peak = MiPagingFile.PeakUsage;
    KlpfSwapOut(&t);
    KLPF_EXPECT_RUN(r[0], 1, 4);
    KLPF_EXPECT_RUN(r[1], 5, 3);
    KLPF_EXPECT_RUN(r[2], 8, 2);
    KLPF_EXPECT_RUN(r[3], 11, 4);
    KEXPECT_EQ(bit1, 0);
    KLPF_EXPECT_RUN(r[4], 15, 1);
    KLPF_EXPECT_RUN(r[5], 0, 0);
    KEXPECT_EQ(usage, 13);              /* 4 + 3 + 2 + 4 - 1 + 1 */
    KEXPECT_EQ(peak, 13);
    KEXPECT_EQ(free, 191 - 1 - 13);     /* slot 10 was set by hand */
    KEXPECT_EQ(t.Bits[0] & 0xFFFF, 0xFFFD);     /* 0..15 but slot 1 */
}

KTEST(lab_pagefile, run_skips_used_words_stops_at_the_end_and_wraps_to_slot_1)
{
    static KLPF_FILE t;
    KLPF_RUN r[4];
    ULONG64 hint;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KlpfSwapIn(&t, 150);
    KlpfSetUsed(&t, 2, 126);            /* 2..127: word 1 entirely */
    MiPagingFile.Hint = 60;
    r[0] = KlpfAllocate(8);             /* past the used words: 128..135 */
    KlpfSetUsed(&t, 136, 10);           /* 136..145 */
    r[1] = KlpfAllocate(8);             /* 146..149: the file ends there */
    hint = MiPagingFile.Hint;
    r[2] = KlpfAllocate(8);             /* wraps: slot 1 alone, never slot 0 */
    r[3] = KlpfAllocate(1);             /* the file is full */
    KlpfSwapOut(&t);
    KLPF_EXPECT_RUN(r[0], 128, 8);
    KLPF_EXPECT_RUN(r[1], 146, 4);
    KEXPECT_EQ(hint, 150);
    KLPF_EXPECT_RUN(r[2], 1, 1);
    KLPF_EXPECT_RUN(r[3], 0, 0);
    KEXPECT_EQ(t.Bits[2], ~0ULL);       /* 128..191: taken or past the end */
}

KTEST(lab_pagefile, release_gives_the_slot_back)
{
    static KLPF_FILE t;
    KLPF_RUN a, b;
    ULONG64 free, usage, bits;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KlpfSwapIn(&t, 64);
    a = KlpfAllocate(3);                /* 1..3 */
    MiReleasePageFileSlot(2);
    free = MiPagingFile.FreeSpace;
    usage = MiPagingFile.CurrentUsage;
    bits = t.Bits[0] & 0xF;
    MiPagingFile.Hint = 1;
    b = KlpfAllocate(4);                /* the hole at 2, one slot long */
    KlpfSwapOut(&t);
    KLPF_EXPECT_RUN(a, 1, 3);
    KEXPECT_EQ(bits, 0xB);              /* 0, 1 and 3 */
    KEXPECT_EQ(free, 63 - 2);
    KEXPECT_EQ(usage, 2);
    KLPF_EXPECT_RUN(b, 2, 1);
}

/* The writer through the allocator: 8 MiB of dirty paged pool goes out in
 * clusters (the stand-in's one slot per run makes every write one page)
 * and every byte comes back. The failing slot of the test disk (runner.py:
 * PAGEFILE_WRITE_ERROR_SLOT) makes up to 2 * 64 writes single ones, well
 * below the 1 in 4 allowed here. */
KTEST(lab_pagefile, writer_writes_clusters_and_pages_come_back)
{
    PULONG64 p;
    ULONG64 writes, pages, n = KLPF_CLUSTER_PAGES * PAGE_SIZE / sizeof(ULONG64);

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, KLPF_CLUSTER_PAGES * PAGE_SIZE, KLPF_TAG);
    KASSERT_TRUE(p != NULL);
    for (ULONG64 i = 0; i < n; i++)
        p[i] = 0x5041474546494C45ULL ^ i;
    writes = MiPagingFile.Writes;
    pages = MiPagingFile.PagesWritten;
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiFlushModifiedPages();
    writes = MiPagingFile.Writes - writes;
    pages = MiPagingFile.PagesWritten - pages;
    KtestPrint("# %llu pages written in %llu writes\n", pages, writes);
    KEXPECT_GE(pages, KLPF_CLUSTER_PAGES / 2);    /* some may have gone before */
    KEXPECT_GE(pages, 4 * writes);
    for (ULONG64 i = 0; i < n; i++)
        if (*(volatile ULONG64 *)&p[i] != (0x5041474546494C45ULL ^ i)) {
            KEXPECT_EQ(p[i], 0x5041474546494C45ULL ^ i);
            break;
        }
    ExFreePoolWithTag(p, KLPF_TAG);
}

/* A slot freed twice: the bitmap says it is free already. NT-style, the
 * pager stops rather than hand one slot to two pages. Only the bitmap is
 * involved, so this runs without a page file (a test bitmap swapped in). */
KTEST_BUGCHECK(lab_pagefile_bug, slot_freed_twice, MEMORY_MANAGEMENT)
{
    static KLPF_FILE t;

    KlpfSwapIn(&t, 128);
    KlpfSetUsed(&t, 5, 1);
    MiPagingFile.CurrentUsage = 1;
    MiReleasePageFileSlot(5);
    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x7001, 5, 0, 128);
    MiReleasePageFileSlot(5);
    KlpfSwapOut(&t);                    /* the stand-in noticed nothing */
}

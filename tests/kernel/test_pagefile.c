/*
 * test_pagefile.c - paging paged pool to the page file (mm/pager.c,
 * mm/pagefile.c): 4x RAM of paged pool with every byte checked, soft and
 * hard faults, pinning, the slot bitmap and commit coming back.
 *
 * These run where a page-file disk is attached (tests/runner.py's
 * bios-128m-pagefile boot); elsewhere they skip, except the check that a
 * boot without a page file behaves as before.
 */
#include "../../mm/pool_internal.h"
#include "../../kernel/io/io.h"
#include "../ktest.h"

#define KTPF_TAG 'fPtK'

/* The pool's lookasides are per processor: each processor's are emptied
 * on it (with four processors the workers' frees fill all of them). */
static void KtpfTrimPools(void)
{
    KAFFINITY active = KeQueryActiveProcessors();

    for (KAFFINITY a = active; a != 0; a &= a - 1) {
        KeSetSystemAffinityThread(a & -a);
        while (ExpTrimPoolCaches())
            ;
    }
    KeRevertToUserAffinityThread();
}

/* Push every pageable page out and write it, so a test starts from disk. */
static void KtpfPageEverythingOut(void)
{
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiFlushModifiedPages();
}

/* The fault that a touch takes changes counters behind the compiler's
 * back: touches and counter reads go through volatile accesses. */
#define KTPF_READ(X) (*(volatile typeof(X) *)&(X))

static MMPTE KtpfPte(PVOID Va)
{
    return *MiGetPteAddress(Va);
}

KTEST(pagefile, boot_without_a_page_file_keeps_paged_pool_resident)
{
    PUCHAR p;
    ULONG64 trimmed = MiPagingStatistics.PagesTrimmed;

    if (MiPagingEnabled)
        KTEST_SKIP("a page file is in use");
    KEXPECT_LE(MmTotalCommitLimit, MmNumberOfPhysicalPages);
    KEXPECT_EQ(MiPageFileSlots(), 0);
    p = ExAllocatePoolWithTag(PagedPool, 4 * PAGE_SIZE, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    p[0] = 1;
    KEXPECT_EQ(MiTrimWorkingSet(MmNumberOfPhysicalPages), 0);    /* nothing is trimmed */
    KEXPECT_TRUE(KtpfPte(p).Long & MM_PTE_VALID);
    KEXPECT_EQ(MiPagingStatistics.PagesTrimmed, trimmed);
    ExFreePoolWithTag(p, KTPF_TAG);
    KtpfTrimPools();                    /* the pool's cache keeps its commitment */
}

KTEST(pagefile, commit_limit_is_ram_plus_page_file)
{
    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KtestPrint("# page file %llu slots, commit limit %llu, RAM %llu pages\n", MiPageFileSlots(),
               (ULONG64)MmTotalCommitLimit, (ULONG64)MmNumberOfPhysicalPages);
    KEXPECT_GT(MmTotalCommitLimit, MmNumberOfPhysicalPages);
    KEXPECT_LE(MmTotalCommitLimit, MmNumberOfPhysicalPages + MiPageFileSlots() - 1);
    KEXPECT_GE(MmTotalCommitLimit + MmNumberOfPhysicalPages / 4, MmNumberOfPhysicalPages + MiPageFileSlots() - 1);
}

/* Soft fault: trimmed, then touched before its frame is reused. */
KTEST(pagefile, soft_fault_takes_the_frame_back_without_io)
{
    PUCHAR p;
    PFN_NUMBER frame;
    ULONG64 soft, reads;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    memset(p, 0x5A, PAGE_SIZE);
    frame = MI_PTE_FRAME(KtpfPte(p));
    KtpfPageEverythingOut();
    /* Written and clean now: a transition PTE to the same frame, on Standby. */
    KASSERT_TRUE(MiIsTransitionPte(KtpfPte(p)));
    KEXPECT_EQ(MI_PTE_FRAME(KtpfPte(p)), frame);
    KEXPECT_EQ(MI_PFN_ELEMENT(frame)->PageLocation, StandbyPageList);
    KEXPECT_TRUE(MiIsPageFilePte(MI_PFN_ELEMENT(frame)->OriginalPte));
    soft = KTPF_READ(MiPagingStatistics.SoftFaults);
    reads = KTPF_READ(MiPagingFile.Reads);
    KEXPECT_EQ(KTPF_READ(p[100]), 0x5A);
    KEXPECT_EQ(KTPF_READ(MiPagingStatistics.SoftFaults), soft + 1);
    KEXPECT_EQ(KTPF_READ(MiPagingFile.Reads), reads);
    KEXPECT_EQ(MI_PTE_FRAME(KtpfPte(p)), frame);
    ExFreePoolWithTag(p, KTPF_TAG);
}

/* A dirty trimmed page sits on Modified; touched there it is a soft fault too. */
KTEST(pagefile, modified_page_soft_fault_keeps_its_data)
{
    PUCHAR p;
    ULONG64 soft;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    memset(p, 0x33, PAGE_SIZE);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    MiTrimWorkingSet(MmNumberOfPhysicalPages);
    if (MiIsTransitionPte(KtpfPte(p)) &&
        MI_PFN_ELEMENT(MI_PTE_FRAME(KtpfPte(p)))->PageLocation == ModifiedPageList) {
        soft = KTPF_READ(MiPagingStatistics.SoftFaults);
        KEXPECT_EQ(KTPF_READ(p[4095]), 0x33);
        KEXPECT_EQ(KTPF_READ(MiPagingStatistics.SoftFaults), soft + 1);
    } else {
        KtestPrint("# the writer took it first\n");
        KEXPECT_EQ(KTPF_READ(p[4095]), 0x33);
    }
    ExFreePoolWithTag(p, KTPF_TAG);
}

/* Hard fault: trimmed, written, its frame repurposed, then touched. */
KTEST(pagefile, hard_fault_reads_the_page_back)
{
    PUCHAR p;
    PFN_NUMBER frame;
    ULONG64 slot, hard, reads;
    KIRQL irql;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        ((PULONG64)p)[i] = 0xC0FFEE0000000000ULL + i;
    KtpfPageEverythingOut();
    KASSERT_TRUE(MiIsTransitionPte(KtpfPte(p)));
    frame = MI_PTE_FRAME(KtpfPte(p));
    slot = MI_PFN_ELEMENT(frame)->OriginalPte.Soft.PageFileHigh;
    KASSERT_NE(slot, 0);
    /* Repurpose that very frame, as the allocator would take it. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (MI_PFN_ELEMENT(frame)->PageLocation == StandbyPageList) {
        MiUnlinkPageFromList(frame);
        MmTotalCommittedPages--;        /* the frame's unit was the page's */
        MiGetPteAddress(p)->Long = MI_PFN_ELEMENT(frame)->OriginalPte.Long;
        MiInitializePfnForActivePage(frame, NULL, MiCached);
        MI_PFN_ELEMENT(frame)->Flags = 0;
        MmTotalCommittedPages++;
        MiFreeActivePage(frame);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    KASSERT_TRUE(MiIsPageFilePte(KtpfPte(p)));
    KEXPECT_EQ(KtpfPte(p).Soft.PageFileHigh, slot);
    hard = KTPF_READ(MiPagingStatistics.HardFaults);
    reads = KTPF_READ(MiPagingFile.Reads);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        if (KTPF_READ(((PULONG64)p)[i]) != 0xC0FFEE0000000000ULL + i) {
            KEXPECT_EQ(((PULONG64)p)[i], 0xC0FFEE0000000000ULL + i);
            break;
        }
    KEXPECT_EQ(KTPF_READ(MiPagingStatistics.HardFaults), hard + 1);
    KEXPECT_EQ(KTPF_READ(MiPagingFile.Reads), reads + 1);
    /* Clean after the read: the slot stays the page's. */
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpfPte(p)))->OriginalPte.Soft.PageFileHigh, slot);
    ExFreePoolWithTag(p, KTPF_TAG);
}

/* A page locked by MmProbeAndLockPages is never trimmed. */
KTEST(pagefile, locked_page_is_never_trimmed)
{
    PUCHAR p;
    PMDL mdl;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, 2 * PAGE_SIZE, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    memset(p, 0x77, 2 * PAGE_SIZE);
    KtpfPageEverythingOut();
    mdl = IoAllocateMdl(p, PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_TRUE(mdl != NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);       /* faults it in */
    KEXPECT_TRUE(KtpfPte(p).Long & MM_PTE_VALID);
    KtpfPageEverythingOut();
    KtpfPageEverythingOut();
    KEXPECT_TRUE(KtpfPte(p).Long & MM_PTE_VALID);               /* still there */
    KEXPECT_EQ(MI_PTE_FRAME(KtpfPte(p)), MmGetMdlPfnArray(mdl)[0]);
    KEXPECT_FALSE(KtpfPte(p + PAGE_SIZE).Long & MM_PTE_VALID);  /* its neighbour went */
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    KtpfPageEverythingOut();
    KEXPECT_FALSE(KtpfPte(p).Long & MM_PTE_VALID);              /* pageable again */
    KEXPECT_EQ(p[0], 0x77);
    ExFreePoolWithTag(p, KTPF_TAG);
}

/* The zero-page thread turns free pages into zeroed ones while idle. */
KTEST(pagefile, zero_page_thread_fills_the_zeroed_list)
{
    LARGE_INTEGER delay = {.QuadPart = -10000LL * 20};
    ULONG64 zeroed = MiPagingStatistics.PagesZeroed;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    for (ULONG i = 0; i < 200 && MmFreePageListHead.Total != 0; i++)
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
    KEXPECT_EQ(MmFreePageListHead.Total, 0);
    KEXPECT_GT(MiPagingStatistics.PagesZeroed, zeroed);
    KEXPECT_GT(MmZeroedPageListHead.Total + MiZeroStockListHead.Total, 0);
}

/* Past RAM + page file, paged pool is refused (NULL). */
KTEST(pagefile, commit_past_ram_plus_page_file_fails)
{
    PFN_NUMBER left;
    PVOID p;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KtpfTrimPools();
    left = MmTotalCommitLimit - MmTotalCommittedPages;
    p = ExAllocatePoolWithTag(PagedPool, (left + 16) << PAGE_SHIFT, KTPF_TAG);
    KEXPECT_EQ(p, NULL);
    p = ExAllocatePoolWithTag(PagedPool, (left / 2) << PAGE_SHIFT, KTPF_TAG);
    KEXPECT_NE(p, NULL);
    if (p != NULL)
        ExFreePoolWithTag(p, KTPF_TAG);
}

/* ---- 4x RAM, every byte verified ----------------------------------------------------- */

#define KTPF_MAX_BLOCKS 8192
static const SIZE_T KtpfSizes[] = {PAGE_SIZE, 3 * PAGE_SIZE + 512, 64 * 1024, 1024 * 1024, 256 * 1024};

typedef struct {
    ULONG Id;
    SIZE_T Bytes;                       /* this thread's share */
    PVOID *Blocks;
    SIZE_T *Sizes;
    ULONG Count;
    ULONG64 Bad;
    BOOLEAN Failed;
} KTPF_WORKER;

static ULONG64 KtpfPattern(ULONG Id, PVOID Word)
{
    ULONG64 x = (ULONG64)Word ^ ((ULONG64)Id << 56) ^ 0x9E3779B97F4A7C15ULL;
    x ^= x >> 29;
    return x * 0xBF58476D1CE4E5B9ULL;
}

static ULONG64 KtpfCheckRange(ULONG Id, PULONG64 P, SIZE_T Bytes)
{
    ULONG64 bad = 0;

    for (SIZE_T i = 0; i < Bytes / 8; i++)
        if (P[i] != KtpfPattern(Id, &P[i]))
            bad++;
    return bad;
}

static void KtpfWorker(PVOID Context)
{
    KTPF_WORKER *w = Context;
    SIZE_T done = 0;
    ULONG64 seed = 12345 + w->Id, pages = 0;

    /* Allocate and fill. */
    while (done < w->Bytes && w->Count < KTPF_MAX_BLOCKS) {
        SIZE_T size = KtpfSizes[w->Count % (sizeof(KtpfSizes) / sizeof(KtpfSizes[0]))] & ~7ULL;
        PULONG64 b;
        if (size > w->Bytes - done)
            size = (w->Bytes - done + 7) & ~7ULL;
        b = ExAllocatePoolWithTag(PagedPool, size, KTPF_TAG);
        if (b == NULL) {
            KtestPrint("# worker %u: allocation %u of %llu bytes failed\n", w->Id, w->Count, (ULONG64)size);
            w->Failed = TRUE;
            break;
        }
        for (SIZE_T i = 0; i < size / 8; i++)
            b[i] = KtpfPattern(w->Id, &b[i]);
        w->Blocks[w->Count] = b;
        w->Sizes[w->Count++] = size;
        done += size;
    }
    /* Read back sequentially: every byte. */
    for (ULONG i = 0; i < w->Count; i++) {
        w->Bad += KtpfCheckRange(w->Id, w->Blocks[i], w->Sizes[i]);
        pages += (w->Sizes[i] + PAGE_SIZE - 1) >> PAGE_SHIFT;
    }
    /* And in random order: one page in eight, each page whole. */
    for (ULONG64 k = 0; k < pages / 8; k++) {
        ULONG i;
        SIZE_T off;
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        i = (ULONG)((seed >> 33) % w->Count);
        off = ((seed >> 13) % ((w->Sizes[i] + PAGE_SIZE - 1) >> PAGE_SHIFT)) << PAGE_SHIFT;
        w->Bad += KtpfCheckRange(w->Id, (PULONG64)((PUCHAR)w->Blocks[i] + off),
                                 w->Sizes[i] - off < PAGE_SIZE ? w->Sizes[i] - off : PAGE_SIZE);
    }
    for (ULONG i = 0; i < w->Count; i++)
        ExFreePoolWithTag(w->Blocks[i], KTPF_TAG);
}

/* Page tables made for paged pool stay for good (pagetable.c: one per
 * 2 MiB of its high-water mark): resident, charged, not the test's. */
static PFN_NUMBER KtpfPageTables(void)
{
    PFN_NUMBER n = 0;

    for (ULONG r = 0; r < MiPhysicalRunCount; r++)
        for (PFN_NUMBER p = MiPhysicalRuns[r].BasePage; p < MiPhysicalRuns[r].BasePage + MiPhysicalRuns[r].PageCount; p++)
            n += (MI_PFN_ELEMENT(p)->Flags & MI_PFN_PAGE_TABLE) != 0;
    return n;
}

/* The counts the 4x-RAM test balances, read together under MmPfnLock: the
 * pager's threads (and, with several processors, the zero-page thread
 * and the balance-set manager running meanwhile) move them in steps that
 * balance only by the time the lock is dropped. */
typedef struct {
    PFN_NUMBER Committed, Available, Used;
} KTPF_COUNTS;

static KTPF_COUNTS KtpfCounts(void)
{
    KTPF_COUNTS c;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    c.Committed = MmTotalCommittedPages;
    c.Available = MmAvailablePages + MmModifiedPageListHead.Total;
    c.Used = MiPagingFile.CurrentUsage;
    KeReleaseSpinLock(&MmPfnLock, irql);
    return c;
}

/* Paged pool of Multiple x RAM in all, written and read back by Threads threads. */
static void KtpfTimesRam(ULONG Threads, ULONG Multiple)
{
    KTPF_WORKER workers[4];
    HANDLE handles[4];
    KTPF_COUNTS start, end;
    PFN_NUMBER tables;
    SIZE_T total = ((SIZE_T)MmNumberOfPhysicalPages << PAGE_SHIFT) * Multiple;
    ULONG64 trimmed = MiPagingStatistics.PagesTrimmed, hard = MiPagingStatistics.HardFaults;
    ULONG64 t0 = KeQueryInterruptTime();

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    /* The pool's own bookkeeping (its big-page table) grows to the most
     * blocks ever live and stays: grow it first, with untouched blocks. */
    {
        PVOID *warm = ExAllocatePoolWithTag(NonPagedPoolNx, 4096 * sizeof(PVOID), KTPF_TAG);
        KASSERT_TRUE(warm != NULL);
        for (ULONG i = 0; i < 4096; i++)
            warm[i] = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPF_TAG);
        for (ULONG i = 0; i < 4096; i++)
            if (warm[i] != NULL)
                ExFreePoolWithTag(warm[i], KTPF_TAG);
        ExFreePoolWithTag(warm, KTPF_TAG);
    }
    KtpfTrimPools();
    KtpfPageEverythingOut();
    start = KtpfCounts();
    tables = KtpfPageTables();
    for (ULONG t = 0; t < Threads; t++) {
        workers[t] = (KTPF_WORKER){.Id = t, .Bytes = total / Threads};
        workers[t].Blocks = ExAllocatePoolWithTag(NonPagedPoolNx, KTPF_MAX_BLOCKS * sizeof(PVOID), KTPF_TAG);
        workers[t].Sizes = ExAllocatePoolWithTag(NonPagedPoolNx, KTPF_MAX_BLOCKS * sizeof(SIZE_T), KTPF_TAG);
        KASSERT_TRUE(workers[t].Blocks != NULL && workers[t].Sizes != NULL);
    }
    for (ULONG t = 0; t < Threads; t++)
        KEXPECT_EQ(KtestCreateThread(&handles[t], KtpfWorker, &workers[t]), STATUS_SUCCESS);
    for (ULONG t = 0; t < Threads; t++) {
        PVOID thread = NULL;
        KEXPECT_EQ(ObReferenceObjectByHandle(handles[t], 0, NULL, KernelMode, &thread, NULL), STATUS_SUCCESS);
        KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(thread);
        ZwClose(handles[t]);
    }
    for (ULONG t = 0; t < Threads; t++) {
        KEXPECT_FALSE(workers[t].Failed);
        KEXPECT_EQ(workers[t].Bad, 0);
        ExFreePoolWithTag(workers[t].Blocks, KTPF_TAG);
        ExFreePoolWithTag(workers[t].Sizes, KTPF_TAG);
    }
    /* The end state is measured as the start was: everything paged out
     * and written (else the balance-set manager's trims of other pageable
     * pages, running meanwhile, move the commit count under the test). */
    KtpfTrimPools();
    KtpfPageEverythingOut();
    end = KtpfCounts();
    KtestPrint("# %u thread(s), %llu MiB: %llu ms; %llu pages trimmed, %llu hard faults, %llu written\n",
               Threads, (ULONG64)(total >> 20), (KeQueryInterruptTime() - t0) / 10000,
               MiPagingStatistics.PagesTrimmed - trimmed, MiPagingStatistics.HardFaults - hard,
               MiPagingFile.PagesWritten);
    KtestPrint("# commit %llu -> %llu, available+modified %llu -> %llu, slots used %llu -> %llu\n",
               (ULONG64)start.Committed, (ULONG64)end.Committed, (ULONG64)start.Available,
               (ULONG64)end.Available, (ULONG64)start.Used, (ULONG64)end.Used);
    /* At most RAM is resident at any time: the rest was trimmed, and the
     * sequential read-back faulted it in from the page file. */
    KEXPECT_GT(MiPagingStatistics.PagesTrimmed - trimmed, (total >> PAGE_SHIFT) - MmNumberOfPhysicalPages);
    KEXPECT_GE(MiPagingStatistics.HardFaults - hard, (total >> PAGE_SHIFT) - MmNumberOfPhysicalPages);
    /* Everything comes back: commit exactly; pages and slots within what
     * other pageable owners (faulted back in meanwhile) may hold. */
    tables = KtpfPageTables() - tables;
    KtestPrint("# %llu page tables made for paged pool's new high-water mark\n", (ULONG64)tables);
    KEXPECT_EQ(end.Committed, start.Committed + tables);
    KEXPECT_GE(end.Available + 64, start.Available - tables);
    KEXPECT_LE(end.Used, start.Used);
}

KTEST(pagefile, four_times_ram_every_byte_verified)
{
    KtpfTimesRam(1, 4);
}

KTEST(pagefile, four_times_ram_two_threads)
{
    KtpfTimesRam(2, 4);
}

KTEST(pagefile, four_times_ram_four_threads)
{
    KtpfTimesRam(4, 4);
}

/* Four threads on four processors (the bios-64m-pagefile-smp4 boot):
 * trims' TB shootdowns, the writer's completions and four threads' faults
 * at once on different processors, and workers that end while the others
 * still fault (their stacks freed meanwhile: test_smp_reap.c). Twice RAM
 * of a 64 MiB machine, not four times of 128: under TCG each shootdown
 * waits for all four virtual processors, and 2x of 128 MiB took up to
 * 106 s of the 120 s timeout on the loaded host (make test's budget). */
KTEST(pagefile_smp, twice_ram_four_threads_on_four_processors)
{
    if (KeQueryActiveProcessorCount(NULL) < 4)
        KTEST_SKIP("fewer than 4 processors");
    KtpfTimesRam(4, 2);
}

/* Two threads touch one paged-out page: one read, the other waits for it. */
typedef struct {
    volatile ULONG64 *Word;
    ULONG64 Seen;
    volatile LONG *Ready;
    PKEVENT Go;
} KTPF_TOUCH;

/* Both threads wait for one signal, so the second is ready to run (and
 * runs) the moment the first blocks on its read. */
static void KtpfTouch(PVOID Context)
{
    KTPF_TOUCH *t = Context;

    __atomic_add_fetch(t->Ready, 1, __ATOMIC_SEQ_CST);
    KeWaitForSingleObject(t->Go, Executive, KernelMode, FALSE, NULL);
    t->Seen = *t->Word;
}

KTEST(pagefile, collided_fault_waits_for_one_read)
{
    PULONG64 p;
    KTPF_TOUCH touch[2];
    HANDLE h[2];
    KEVENT go;
    volatile LONG ready = 0;
    LARGE_INTEGER tick = {.QuadPart = -10000LL};
    ULONG64 reads, collided, hard;
    PFN_NUMBER frame;
    KIRQL irql;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    p[7] = 0xC011DEDULL;
    KtpfPageEverythingOut();
    KASSERT_TRUE(MiIsTransitionPte(KtpfPte(p)));
    frame = MI_PTE_FRAME(KtpfPte(p));
    /* Repurpose its frame so the touch must read the page file. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (MI_PFN_ELEMENT(frame)->PageLocation == StandbyPageList) {
        MiUnlinkPageFromList(frame);
        MiGetPteAddress(p)->Long = MI_PFN_ELEMENT(frame)->OriginalPte.Long;
        MiInitializePfnForActivePage(frame, NULL, MiCached);
        MI_PFN_ELEMENT(frame)->Flags = 0;
        MiFreeActivePage(frame);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    KASSERT_TRUE(MiIsPageFilePte(KtpfPte(p)));
    reads = KTPF_READ(MiPagingFile.Reads);
    collided = KTPF_READ(MiPagingStatistics.CollidedFaults);
    hard = KTPF_READ(MiPagingStatistics.HardFaults);
    KeInitializeEvent(&go, NotificationEvent, FALSE);
    for (ULONG i = 0; i < 2; i++) {
        touch[i] = (KTPF_TOUCH){.Word = &p[7], .Ready = &ready, .Go = &go};
        KEXPECT_EQ(KtestCreateThread(&h[i], KtpfTouch, &touch[i]), STATUS_SUCCESS);
    }
    while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) != 2)
        KeDelayExecutionThread(KernelMode, FALSE, &tick);
    /* The disk may answer before the first thread ever blocks: its fault
     * then waits 50 ms after the read, with the page still "in page". */
    MiInPageTestDelayMs = 50;
    KeSetEvent(&go, IO_NO_INCREMENT, FALSE);
    for (ULONG i = 0; i < 2; i++) {
        PVOID thread = NULL;
        KEXPECT_EQ(ObReferenceObjectByHandle(h[i], 0, NULL, KernelMode, &thread, NULL), STATUS_SUCCESS);
        KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(thread);
        ZwClose(h[i]);
        KEXPECT_EQ(touch[i].Seen, 0xC011DEDULL);
    }
    KEXPECT_EQ(KTPF_READ(MiPagingFile.Reads), reads + 1);
    KEXPECT_EQ(KTPF_READ(MiPagingStatistics.HardFaults), hard + 1);
    MiInPageTestDelayMs = 0;
    KEXPECT_EQ(KTPF_READ(MiPagingStatistics.CollidedFaults), collided + 1);
    ExFreePoolWithTag(p, KTPF_TAG);
}

/* tests/runner.py fails every write of slot 300: the page lands elsewhere,
 * only that slot is retired, nothing is lost. */
#define KTPF_WRITE_ERROR_SLOT 300

KTEST(pagefile, write_error_is_retried_to_another_slot)
{
    PFN_NUMBER pages = 2 * KTPF_WRITE_ERROR_SLOT;
    PULONG64 p;
    ULONG64 bad = 0;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    p = ExAllocatePoolWithTag(PagedPool, pages << PAGE_SHIFT, KTPF_TAG);
    KASSERT_TRUE(p != NULL);
    for (PFN_NUMBER i = 0; i < (pages << PAGE_SHIFT) / 8; i++)
        p[i] = KtpfPattern(9, &p[i]);
    KtpfPageEverythingOut();
    KtpfPageEverythingOut();
    KtestPrint("# %llu write errors, %llu bad slots, hint %llu\n", MiPagingFile.WriteErrors,
               MiPagingFile.BadSlots, MiPagingFile.Hint);
    KEXPECT_GE(MiPagingFile.WriteErrors, 2);        /* the cluster, then the page alone */
    KEXPECT_EQ(MiPagingFile.BadSlots, 1);
    KEXPECT_EQ(MiPagingFile.Bitmap[KTPF_WRITE_ERROR_SLOT / 64] >> (KTPF_WRITE_ERROR_SLOT % 64) & 1, 1);
    for (PFN_NUMBER i = 0; i < (pages << PAGE_SHIFT) / 8; i++)
        bad += p[i] != KtpfPattern(9, &p[i]);
    KEXPECT_EQ(bad, 0);
    ExFreePoolWithTag(p, KTPF_TAG);
}

/* kd>'s !pagefile runs (kernel/kd/kdcmd_pagefile.c) and refuses arguments. */
extern VOID KdpExecuteLine(PCHAR Line);
KTEST(pagefile, kd_pagefile_command_prints)
{
    char line[] = "!pagefile", bad[] = "!pagefile 1";

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KtestPrint("# kd> !pagefile\n");
    KdpExecuteLine(line);
    KdpExecuteLine(bad);
}

/* Small paged blocks freed and reused after their pages went out: the
 * pool's lookasides (touched at DISPATCH_LEVEL) must not hold paged
 * blocks, or the reuse would fault at DISPATCH_LEVEL (0xA). */
KTEST(pagefile, small_paged_blocks_reused_after_paging_out)
{
    PUCHAR blocks[64];

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    for (ULONG round = 0; round < 3; round++) {
        for (ULONG i = 0; i < 64; i++) {
            blocks[i] = ExAllocatePoolWithTag(PagedPool, 40 + 8 * (i % 8), KTPF_TAG);
            KASSERT_TRUE(blocks[i] != NULL);
            memset(blocks[i], (int)i, 40);
        }
        for (ULONG i = 0; i < 64; i++)
            ExFreePoolWithTag(blocks[i], KTPF_TAG);
        KtpfPageEverythingOut();
        KtpfPageEverythingOut();
    }
}

/*
 * pager.c - paging paged pool to the page file, NT's way: the system
 * working set, the balance-set manager (aging and trimming), the modified
 * page writer, the zero-page thread, and the faults that bring pages back.
 *
 * A pageable page's life (the PTE's format on the left; PFN lists right):
 *
 *   demand zero (0x80) --first touch--> valid      ACTIVE (Modified: no copy yet)
 *   valid --trim--> transition PTE                  MODIFIED list (dirty)
 *                                                    or STANDBY list (clean: copy on disk)
 *   MODIFIED --writer: slot run, one IRP--> under write --done--> STANDBY
 *   STANDBY --taken for a new owner--> PTE := OriginalPte (page-file PTE)
 *   transition --touch (soft fault)--> valid, no I/O
 *   page-file PTE --touch (hard fault)--> read into a new frame --> valid
 *
 * Rules kept (NT's):
 *   - clean <=> a current copy is in the page file (PFN OriginalPte holds
 *     its slot); demand-zero pages are born dirty; the hardware Dirty bit
 *     found at trim time is moved into the PFN (MI_PFN_MODIFIED) and the
 *     stale slot is given back;
 *   - a page with a reference besides its mapping (an MDL lock, paging I/O)
 *     is never trimmed, so locked pages stay put for DMA;
 *   - each pageable page holds exactly one unit of commit: as a resident
 *     frame off the available lists (pfndb.c counts those), or, on Standby
 *     or only on disk, as an explicit charge (commit.c);
 *   - everything here is nonpaged and never allocates paged pool; faults
 *     that would take one of the last MiPagingReserve pages wait instead,
 *     so the disk path always finds memory; a fault that sees nothing
 *     move for a second stops with NO_PAGES_AVAILABLE;
 *   - nothing touches a paged block at DISPATCH_LEVEL: pool.c turns paged
 *     pool's lookasides off while a page file is in use.
 * All of it is guarded by MmPfnLock (the lists, the PTEs of paged pool,
 * the PFN entries, the slot bitmap).
 *
 * The working set is kept in the PFN database itself: pages with
 * MI_PFN_PAGEABLE, visited by a clock hand over the physical runs (the
 * age of each page in PagingFlags), rather than in a separate WSLE array.
 */
#include "pool_internal.h"
#include "../kernel/io/io.h"
#include "../kernel/io/ntdddisk.h"     /* STATUS_DEVICE_DATA_ERROR */

#define MI_WRITE_CLUSTER      64        /* pages per page-file write: 256 KiB */
#define MI_WRITE_CONTEXTS     4         /* writes in flight */
#define MI_MODIFIED_MAXIMUM   1024      /* write once the Modified list holds this many */
#define MI_MODIFIED_AGE_TICKS 5         /* ... or once a page has waited this many seconds */
#define MI_INPAGE_BLOCKS      32
#define MI_TRIM_BATCH_VISITS  1024      /* PFN entries per PFN-lock hold */
#define MI_TRIM_BATCH_PAGES   256       /* pages trimmed per TB shootdown */
#define MI_FAULT_PAGE_WAITS   3000      /* x 10 ms: then NO_PAGES_AVAILABLE */
#define MI_FAULT_WAIT_MS      10

MI_PAGING_STATISTICS MiPagingStatistics;
/* Tests: a hard fault waits this long after its read, before it maps the
 * page (the window in which another thread's fault collides). */
volatile ULONG MiInPageTestDelayMs;
PFN_NUMBER MiFreeGoal, MiPagingReserve;

static KEVENT MiBalanceEvent, MiWriterEvent, MiWriteContextEvent, MiPagesAvailableEvent,
    MiZeroEvent, MiWriterIdleEvent;
static volatile LONG MiWriteAll;
/* After a failed cluster, this many writes go one page at a time (NT's
 * MiClusterWritesDisabled), so the one bad slot is found and retired. */
#define MI_SINGLE_WRITES_AFTER_ERROR (2 * MI_WRITE_CLUSTER)
static ULONG MiClusterWritesDisabled;

/* In-page support: what a collided fault waits on (NT's MMINPAGE_SUPPORT). */
typedef struct _MI_INPAGE_SUPPORT {
    KEVENT Event;
    ULONG Waiters;
    BOOLEAN Busy, Done;
} MI_INPAGE_SUPPORT;
static MI_INPAGE_SUPPORT MiInPageBlocks[MI_INPAGE_BLOCKS];

/* A writer cluster: MDL, frames and IRP, preallocated. */
typedef struct _MI_WRITE_CONTEXT {
    MDL Mdl;
    PFN_NUMBER Pfn[MI_WRITE_CLUSTER];
    ULONG64 Slot;
    ULONG Count;
    BOOLEAN Busy;
    ULONG64 Start;
    PIRP Irp;
} MI_WRITE_CONTEXT;
static MI_WRITE_CONTEXT MiWriteContexts[MI_WRITE_CONTEXTS];

/* The clock hand over the physical runs. */
static ULONG MiClockRun;
static PFN_NUMBER MiClockPage;

static PFN_NUMBER MiClockNext(void)
{
    if (MiClockPage >= MiPhysicalRuns[MiClockRun].BasePage + MiPhysicalRuns[MiClockRun].PageCount ||
        MiClockPage < MiPhysicalRuns[MiClockRun].BasePage) {
        MiClockRun = (MiClockRun + 1) % MiPhysicalRunCount;
        MiClockPage = MiPhysicalRuns[MiClockRun].BasePage;
    }
    return MiClockPage++;
}

static ULONG MiAge(PMMPFN Pfn)
{
    return (Pfn->PagingFlags & MI_PAGING_AGE_MASK) >> MI_PAGING_AGE_SHIFT;
}

static void MiSetAge(PMMPFN Pfn, ULONG Age)
{
    Pfn->PagingFlags = (UCHAR)((Pfn->PagingFlags & ~MI_PAGING_AGE_MASK) | (Age << MI_PAGING_AGE_SHIFT));
}

static PMMPFN MiTableOf(PMMPTE Pte)
{
    return MI_PFN_ELEMENT(MI_PTE_FRAME(*MiGetPteAddress(Pte)));
}

/* MmPfnLock held: the slot the page's OriginalPte holds goes back (its copy
 * is stale or unwanted) and the page has no copy any more. */
static void MiReleaseOriginalSlot(PMMPFN Pfn)
{
    if (MiIsPageFilePte(Pfn->OriginalPte))
        MiReleasePageFileSlot(Pfn->OriginalPte.Soft.PageFileHigh);
    Pfn->OriginalPte.Long = MM_KERNEL_DEMAND_ZERO_PTE;
}

/* MmPfnLock held: a page with no references left goes to its list. */
static void MiPutOnList(PFN_NUMBER Page)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);

    if (pfn->ReferenceCount != 0 || pfn->u2.ShareCount != 0)
        KeBugCheckEx(PFN_LIST_CORRUPT, 0x99, Page, pfn->PageLocation, pfn->ReferenceCount);
    if (pfn->Flags & MI_PFN_MODIFIED) {
        MiInsertPageInList(&MmModifiedPageListHead, Page);
    } else {
        MiInsertPageInList(&MmStandbyPageListHead, Page);
        MmTotalCommittedPages++;        /* its promise lives on in the page file */
    }
}

/* MmPfnLock held: a pageable frame (off every list, no mapping) is freed. */
static void MiFreePageablePage(PFN_NUMBER Page)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);

    MiReleaseOriginalSlot(pfn);
    pfn->PagingFlags = 0;
    pfn->PageLocation = ActiveAndValid;
    pfn->ReferenceCount = 1;
    pfn->u2.ShareCount = 0;
    MiFreeActivePage(Page);
}

/* ---- Trimming: the balance-set manager's working-set pass ------------------------ */

/* MmPfnLock held: is Page a trimmable member of the working set? */
static BOOLEAN MiIsTrimCandidate(PFN_NUMBER Page, PMMPFN Pfn)
{
    return (Pfn->Flags & MI_PFN_PAGEABLE) && Pfn->PageLocation == ActiveAndValid &&
           Pfn->ReferenceCount == 1 && Pfn->u2.ShareCount == 1 &&
           !(Pfn->PagingFlags & (MI_PAGING_READ_IN_PROGRESS | MI_PAGING_WRITE_IN_PROGRESS)) &&
           Pfn->PteAddress != NULL && (Pfn->PteAddress->Long & MM_PTE_VALID) &&
           MI_PTE_FRAME(*Pfn->PteAddress) == Page;
}

/*
 * Visit up to 3 revolutions of the clock: a page accessed since the last
 * visit has its Accessed bit cleared and its age reset; one that was not
 * ages, and is trimmed once its age reaches 1 when Target asks for pages.
 * Target 0: age only (the once-a-second pass with memory to spare).
 * Returns the pages trimmed.
 */
PFN_NUMBER MiTrimWorkingSet(PFN_NUMBER Target)
{
    PFN_NUMBER trimmed = 0, visited = 0;
    PFN_NUMBER limit = (Target ? 3 : 1) * MmNumberOfPhysicalPages;
    /* Under MmPfnLock only. More pages than a flush list holds: past
     * MI_TB_FLUSH_MAXIMUM the shootdown flushes whole TBs, one interrupt
     * per processor for the batch instead of one per 32 pages (with four
     * processors the per-32 rounds made a 4x-RAM run crawl). */
    static PFN_NUMBER batch[MI_TRIM_BATCH_PAGES];

    if (!MiPagingEnabled)
        return 0;
    while (visited < limit && (Target == 0 || trimmed < Target)) {
        MI_TB_FLUSH_LIST flush;
        ULONG n = 0;
        KIRQL irql;

        MiInitializeTbFlushList(&flush);
        KeAcquireSpinLock(&MmPfnLock, &irql);
        for (ULONG k = 0; k < MI_TRIM_BATCH_VISITS && n < MI_TRIM_BATCH_PAGES && visited < limit &&
                          (Target == 0 || trimmed + n < Target);
             k++, visited++) {
            PFN_NUMBER page = MiClockNext();
            PMMPFN pfn = MI_PFN_ELEMENT(page);
            PMMPTE pte;
            ULONG64 old;

            if (!MiIsTrimCandidate(page, pfn))
                continue;
            pte = pfn->PteAddress;
            if (pte->Long & MM_PTE_ACCESSED) {
                /* No flush: a cached translation only hides later accesses
                 * (the page may look older than it is), as in NT. */
                __atomic_and_fetch(&pte->Long, ~MM_PTE_ACCESSED, __ATOMIC_RELAXED);
                MiSetAge(pfn, 0);
                continue;
            }
            if (MiAge(pfn) < 3)
                MiSetAge(pfn, MiAge(pfn) + 1);
            if (Target == 0 || MiAge(pfn) < 1)
                continue;
            /* The PTE becomes transition at once (a fault now waits for the
             * PFN lock); Dirty is read in the same exchange. */
            old = __atomic_exchange_n(&pte->Long,
                                      MiWithProtection(MiMakeTransitionPte(page), MiProtectionOfValidPte(pte->Long)),
                                      __ATOMIC_SEQ_CST);
            MiTableOf(pte)->UsedPageTableEntries--;
            if ((old & MM_PTE_DIRTY) && !(pfn->Flags & MI_PFN_MODIFIED)) {
                pfn->Flags |= MI_PFN_MODIFIED;
                MiReleaseOriginalSlot(pfn);     /* the copy on disk is stale */
            }
            MiAddTbFlushEntry(&flush, MiGetVirtualAddressMappedByPte(pte));
            batch[n++] = page;
        }
        /* Only once no processor can write through an old translation may
         * the page be written out or given away. */
        MiShootdownTbList(&flush);
        for (ULONG i = 0; i < n; i++) {
            PMMPFN pfn = MI_PFN_ELEMENT(batch[i]);
            pfn->u2.ShareCount = 0;
            pfn->ReferenceCount = 0;
            MiPutOnList(batch[i]);
        }
        trimmed += n;
        MiPagingStatistics.PagesTrimmed += n;
        KeReleaseSpinLock(&MmPfnLock, irql);
    }
    MiPagingStatistics.TrimPasses++;
    return trimmed;
}

/* The balance-set manager (NT's KeBalanceSetManager + MmWorkingSetManager):
 * once a second, or when woken because pages run short. */
static void MiBalanceSetManager(PVOID Context)
{
    LARGE_INTEGER second = {.QuadPart = -10000000LL};

    UNREFERENCED_PARAMETER(Context);
    KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY);
    for (;;) {
        PFN_NUMBER have;
        KeWaitForSingleObject(&MiBalanceEvent, FreePage, KernelMode, FALSE, &second);
        have = MmAvailablePages + MmModifiedPageListHead.Total;
        if (have < MiFreeGoal)
            MiTrimWorkingSet(MiFreeGoal - have + MI_WRITE_CLUSTER);
        else
            MiTrimWorkingSet(0);
        if (MmModifiedPageListHead.Total != 0 && MmAvailablePages < MiFreeGoal)
            KeSetEvent(&MiWriterEvent, IO_NO_INCREMENT, FALSE);
    }
}

/* ---- The modified page writer ------------------------------------------------------ */

static NTSTATUS MiWriteCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    MI_WRITE_CONTEXT *c = Context;
    NTSTATUS status = Irp->IoStatus.Status;
    KIRQL irql;

    UNREFERENCED_PARAMETER(DeviceObject);
    if (NT_SUCCESS(status) && Irp->IoStatus.Information != (ULONG_PTR)c->Count << PAGE_SHIFT)
        status = STATUS_DEVICE_DATA_ERROR;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (!NT_SUCCESS(status)) {
        MiPagingStatistics.LastWriteStatus = status;
        MiPagingFile.WriteErrors++;
        if (c->Count > 1) {
            /* Try those slots again one by one: the bad one fails alone.
             * Clusters in flight together fail together (the controller's
             * recovery ends every command it had), so the single writes
             * start at the lowest failed cluster's run, not the last one's. */
            if (MiClusterWritesDisabled == 0 || c->Slot < MiPagingFile.Hint)
                MiPagingFile.Hint = c->Slot;
            MiClusterWritesDisabled = MI_SINGLE_WRITES_AFTER_ERROR;
        }
    } else {
        MiPagingStatistics.WriteCycles += KeReadTimeStampCounter() - c->Start;
        MiPagingStatistics.PagesWrittenTimed += c->Count;
    }
    for (ULONG i = 0; i < c->Count; i++) {
        PFN_NUMBER page = c->Pfn[i];
        PMMPFN pfn = MI_PFN_ELEMENT(page);

        pfn->PagingFlags &= (UCHAR)~MI_PAGING_WRITE_IN_PROGRESS;
        if (!NT_SUCCESS(status)) {
            /* Nothing is lost: the page stays dirty and is written again
             * (one page at a time for a while); a slot that fails alone
             * is never used again, a cluster's slots are given back. */
            if (c->Count == 1)
                MiMarkPageFileSlotBad(c->Slot + i);
            else
                MiReleasePageFileSlot(c->Slot + i);
            pfn->OriginalPte.Long = MM_KERNEL_DEMAND_ZERO_PTE;
            pfn->Flags |= MI_PFN_MODIFIED;
        } else if (pfn->Flags & MI_PFN_MODIFIED) {
            MiReleaseOriginalSlot(pfn);         /* dirtied again meanwhile */
        }
        if (pfn->PagingFlags & MI_PAGING_DELETED) {
            MiFreePageablePage(page);           /* freed during the write */
            continue;
        }
        if (--pfn->ReferenceCount == 0)
            MiPutOnList(page);
    }
    c->Busy = FALSE;
    KeReleaseSpinLock(&MmPfnLock, irql);
    KeSetEvent(&MiWriteContextEvent, IO_NO_INCREMENT, FALSE);
    if (MmAvailablePages > MiPagingReserve)
        KeSetEvent(&MiPagesAvailableEvent, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* MmPfnLock held: fill c with a cluster of Modified pages on a run of slots. */
static ULONG MiGatherCluster(MI_WRITE_CONTEXT *c)
{
    ULONG want = MmModifiedPageListHead.Total < MI_WRITE_CLUSTER ? (ULONG)MmModifiedPageListHead.Total
                                                                 : MI_WRITE_CLUSTER;
    ULONG got;
    ULONG64 slot;

    if (want == 0)
        return 0;
    if (MiClusterWritesDisabled != 0) {
        MiClusterWritesDisabled--;
        want = 1;
    }
    slot = MiAllocatePageFileRun(want, &got);
    if (got == 0)
        return 0;                       /* the page file is full */
    for (ULONG i = 0; i < got; i++) {
        PFN_NUMBER page = MmModifiedPageListHead.Flink;
        PMMPFN pfn = MI_PFN_ELEMENT(page);

        MiUnlinkPageFromList(page);
        pfn->ReferenceCount = 1;        /* the write's */
        pfn->PagingFlags |= MI_PAGING_WRITE_IN_PROGRESS;
        pfn->Flags &= (UCHAR)~MI_PFN_MODIFIED;
        /* The PTE is transition while the page is on the list: its
         * protection (data or code, pagesec.c) goes along to the disk. */
        pfn->OriginalPte.Long = MiWithProtection(MiMakePageFilePte(0, slot + i),
                                                 MiPteProtection(pfn->PteAddress->Long));
        c->Pfn[i] = page;
    }
    c->Slot = slot;
    c->Count = got;
    return got;
}

static BOOLEAN MiWriterShouldWrite(void)
{
    return MmModifiedPageListHead.Total != 0 &&
           (MiWriteAll || MmAvailablePages < MiFreeGoal || MmModifiedPageListHead.Total >= MI_MODIFIED_MAXIMUM);
}

static MI_WRITE_CONTEXT *MiGetWriteContext(void)
{
    for (;;) {
        for (ULONG i = 0; i < MI_WRITE_CONTEXTS; i++)
            if (!__atomic_load_n(&MiWriteContexts[i].Busy, __ATOMIC_ACQUIRE))
                return &MiWriteContexts[i];
        KeWaitForSingleObject(&MiWriteContextEvent, FreePage, KernelMode, FALSE, NULL);
    }
}

static BOOLEAN MiWritesInFlight(void)
{
    for (ULONG i = 0; i < MI_WRITE_CONTEXTS; i++)
        if (__atomic_load_n(&MiWriteContexts[i].Busy, __ATOMIC_ACQUIRE))
            return TRUE;
    return FALSE;
}

static void MiModifiedPageWriter(PVOID Context)
{
    LARGE_INTEGER second = {.QuadPart = -10000000LL};
    ULONG idleTicks = 0;

    UNREFERENCED_PARAMETER(Context);
    KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY + 1);
    for (;;) {
        NTSTATUS wait = KeWaitForSingleObject(&MiWriterEvent, FreePage, KernelMode, FALSE, &second);
        /* The age limit: pages left on the Modified list for a while go too. */
        if (wait == STATUS_TIMEOUT && MmModifiedPageListHead.Total != 0 &&
            ++idleTicks >= MI_MODIFIED_AGE_TICKS) {
            idleTicks = 0;
            __atomic_store_n(&MiWriteAll, 2, __ATOMIC_RELAXED);
        }
        while (MiWriterShouldWrite()) {
            MI_WRITE_CONTEXT *c = MiGetWriteContext();
            ULONG n;
            KIRQL irql;

            KeAcquireSpinLock(&MmPfnLock, &irql);
            n = MiGatherCluster(c);
            if (n != 0)
                c->Busy = TRUE;
            KeReleaseSpinLock(&MmPfnLock, irql);
            if (n == 0)
                break;
            MmInitializeMdl(&c->Mdl, NULL, (SIZE_T)n << PAGE_SHIFT);
            c->Mdl.MdlFlags |= MDL_PAGES_LOCKED;
            c->Start = KeReadTimeStampCounter();
            MiWritePageFile(c->Slot, &c->Mdl, c->Irp, MiWriteCompletion, c);
        }
        if (MiWriteAll) {
            /* A flush waits for the writes to land, then is answered. */
            while (MiWritesInFlight())
                KeWaitForSingleObject(&MiWriteContextEvent, FreePage, KernelMode, FALSE, NULL);
            if (MmModifiedPageListHead.Total == 0 || MiWriteAll == 2) {
                __atomic_store_n(&MiWriteAll, 0, __ATOMIC_RELAXED);
                KeSetEvent(&MiWriterIdleEvent, IO_NO_INCREMENT, FALSE);
            } else {
                KeSetEvent(&MiWriterEvent, IO_NO_INCREMENT, FALSE);
            }
        }
    }
}

/* Write every Modified page now and wait until they are Standby (tests,
 * benchmarks). IRQL PASSIVE_LEVEL. */
VOID MiFlushModifiedPages(VOID)
{
    if (!MiPagingEnabled)
        return;
    KeClearEvent(&MiWriterIdleEvent);
    __atomic_store_n(&MiWriteAll, 1, __ATOMIC_RELAXED);
    KeSetEvent(&MiWriterEvent, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(&MiWriterIdleEvent, Executive, KernelMode, FALSE, NULL);
}

/* ---- The zero-page thread ------------------------------------------------------------ */

/* At the lowest priority: free pages become zeroed pages while nothing
 * else wants the processor, so a demand-zero fault finds one ready. */
static void MiZeroPageThread(PVOID Context)
{
    LARGE_INTEGER interval = {.QuadPart = -500000LL};  /* 50 ms */

    UNREFERENCED_PARAMETER(Context);
    KeSetPriorityThread(KeGetCurrentThread(), LOW_PRIORITY + 1);
    for (;;) {
        KeWaitForSingleObject(&MiZeroEvent, Executive, KernelMode, FALSE, &interval);
        while (MmFreePageListHead.Total != 0) {
            PFN_NUMBER page;
            KIRQL irql;

            KeAcquireSpinLock(&MmPfnLock, &irql);
            page = MmFreePageListHead.Flink;
            if (page == MI_LIST_END) {
                KeReleaseSpinLock(&MmPfnLock, irql);
                break;
            }
            MiUnlinkPageFromList(page);
            MmTotalCommittedPages--;    /* not a promise: it comes back */
            KeReleaseSpinLock(&MmPfnLock, irql);
            MiZeroPhysicalPage(page);
            KeAcquireSpinLock(&MmPfnLock, &irql);
            MmTotalCommittedPages++;
            /* Up to an eighth of RAM stays out of the tree: the fault then
             * takes a page without the tree's walk (pfndb.c). */
            MiInsertPageInList(MiZeroStockListHead.Total < MmNumberOfPhysicalPages / 8 ? &MiZeroStockListHead
                                                                                    : &MmZeroedPageListHead,
                               page);
            MiPagingStatistics.PagesZeroed++;
            KeReleaseSpinLock(&MmPfnLock, irql);
        }
    }
}

/* ---- Faults ------------------------------------------------------------------------------ */

static BOOLEAN MiFaultCanWait(void)
{
    return KeGetCurrentIrql() <= APC_LEVEL && (__readeflags() & EFLAGS_IF_MASK) != 0;
}

/* NO_PAGES_AVAILABLE (0x4D): dirty pages, dirty pages bound for the page
 * file, nonpaged pool pages still available, the last write's status. */
static __attribute__((noreturn)) void MiNoPagesAvailable(void)
{
    PFN_NUMBER commit = MmTotalCommittedPages < MmTotalCommitLimit
                            ? MmTotalCommitLimit - MmTotalCommittedPages
                            : 0;
    PFN_NUMBER addresses = MiNonPagedPoolFreeAddressPages();

    KeBugCheckEx(NO_PAGES_AVAILABLE,
                 MmModifiedPageListHead.Total + MmModifiedNoWritePageListHead.Total,
                 MiPagingEnabled ? MmModifiedPageListHead.Total : 0,
                 addresses < commit ? addresses : commit, (ULONG_PTR)MiPagingStatistics.LastWriteStatus);
}

/* No page for this fault now: wake the trimmer and the writer and wait a
 * bounded time (NT's MiEnsureAvailablePageOrWait: 7 minutes there; Mica
 * gives up sooner when nothing moves at all: no page trimmed, written or
 * given back for MI_FAULT_STUCK_WAITS waits in a row). */
#define MI_FAULT_STUCK_WAITS 100

typedef struct _MI_FAULT_WAIT {
    ULONG Waits, Stuck;
    ULONG64 Progress;
} MI_FAULT_WAIT;

static void MiWaitForAvailablePages(MI_FAULT_WAIT *W)
{
    LARGE_INTEGER timeout = {.QuadPart = -10000LL * MI_FAULT_WAIT_MS};
    ULONG64 progress = MiPagingStatistics.PagesTrimmed + MiPagingFile.PagesWritten + MmAvailablePages;

    W->Stuck = progress == W->Progress ? W->Stuck + 1 : 0;
    W->Progress = progress;
    if (!MiFaultCanWait() || W->Waits++ == MI_FAULT_PAGE_WAITS || W->Stuck == MI_FAULT_STUCK_WAITS)
        MiNoPagesAvailable();
    MiPagingStatistics.FaultWaits++;
    if (MiPagingEnabled) {
        KeClearEvent(&MiPagesAvailableEvent);
        KeSetEvent(&MiBalanceEvent, IO_NO_INCREMENT, FALSE);
        KeSetEvent(&MiWriterEvent, IO_NO_INCREMENT, FALSE);
        KeWaitForSingleObject(&MiPagesAvailableEvent, FreePage, KernelMode, FALSE, &timeout);
    } else {
        KeDelayExecutionThread(KernelMode, FALSE, &timeout);
    }
}

/* MmPfnLock held: may a pageable fault take a page now? With a page file
 * the last MiPagingReserve pages are left to the paging path. */
static BOOLEAN MiFaultMayTakePage(void)
{
    return !MiPagingEnabled || MmAvailablePages > MiPagingReserve;
}

static MI_INPAGE_SUPPORT *MiAllocateInPage(void)
{
    for (ULONG i = 0; i < MI_INPAGE_BLOCKS; i++)
        if (!MiInPageBlocks[i].Busy) {
            MI_INPAGE_SUPPORT *b = &MiInPageBlocks[i];
            b->Busy = TRUE;
            b->Done = FALSE;
            b->Waiters = 0;
            KeClearEvent(&b->Event);
            return b;
        }
    return NULL;
}

/* MmPfnLock held: the bytes of Pte's page are in frame Page: map it, with
 * the permissions the invalid PTE's protection names. */
static inline __attribute__((always_inline)) void MiMakeValid(PMMPTE Pte, PFN_NUMBER Page)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);
    ULONG64 bits = MiValidPteBitsOfProtection(MiPteProtection(Pte->Long));

    pfn->u2.ShareCount = 1;
    pfn->PageLocation = ActiveAndValid;
    MiSetAge(pfn, 0);
    MiTableOf(Pte)->UsedPageTableEntries++;
    /* Clean unless the PFN says otherwise: a write sets Dirty and trim
     * captures it (the Dirty bit is left to the hardware). */
    __atomic_store_n(&Pte->Long, (Page << PAGE_SHIFT) | bits, __ATOMIC_RELEASE);
}

/*
 * The fault on a paged-pool address or a pageable section of the kernel
 * image (pagesec.c) (IRQL <= APC_LEVEL, interrupts on): TRUE when the page
 * is now valid, FALSE for an address that is not committed pool or
 * pageable image (the caller's bug check follows). Dispatch on the PTE as
 * NT's MiDispatchFault: transition (soft), page file (hard), demand zero
 * (pool only: an image page always has its bytes somewhere).
 */
BOOLEAN MiResolvePagedPoolFault(PVOID Va)
{
    PUCHAR page = PAGE_ALIGN(Va);
    PMMPTE pte = MiGetPteAddress(page);
    MI_FAULT_WAIT waits = {0, 0, ~0ULL};
    BOOLEAN image = MiIsPageableImageAddress(Va);
    KIRQL irql;

    if (!image && !MiIsPagedPoolAddress(Va))
        return FALSE;
    for (;;) {
        MMPTE contents;
        PFN_NUMBER frame;
        PMMPFN pfn;

        KeAcquireSpinLock(&MmPfnLock, &irql);
        /* An allocated range has its page tables for good (poolpage.c);
         * the image's are there from the boot. */
        if (!image && !MiIsPoolPageAllocated(EXP_PAGED, page)) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            return FALSE;
        }
        contents.Long = pte->Long;
        if (contents.Long & MM_PTE_VALID) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            return TRUE;                        /* another fault got there first */
        }
        if (contents.Long == 0) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            return FALSE;
        }
        if (MiIsTransitionPte(contents)) {
            frame = MI_PTE_FRAME(contents);
            pfn = MI_PFN_ELEMENT(frame);
            if (pfn->PagingFlags & MI_PAGING_READ_IN_PROGRESS) {
                /* Collided: another thread is reading this page; wait for
                 * its read, then look again. */
                MI_INPAGE_SUPPORT *b = pfn->u1.InPage;
                b->Waiters++;
                MiPagingStatistics.CollidedFaults++;
                KeReleaseSpinLock(&MmPfnLock, irql);
                KeWaitForSingleObject(&b->Event, PageIn, KernelMode, FALSE, NULL);
                KeAcquireSpinLock(&MmPfnLock, &irql);
                if (--b->Waiters == 0 && b->Done)
                    b->Busy = FALSE;
                KeReleaseSpinLock(&MmPfnLock, irql);
                continue;
            }
            /* Soft fault: the frame is still here (Standby, Modified, or
             * under a write, which may go on: the copy stays valid until
             * the page is dirtied). */
            if (pfn->PageLocation == StandbyPageList || pfn->PageLocation == ModifiedPageList) {
                BOOLEAN standby = pfn->PageLocation == StandbyPageList;
                MiUnlinkPageFromList(frame);
                if (standby)
                    MmTotalCommittedPages--;    /* the promise is the frame again */
            }
            pfn->ReferenceCount++;
            MiMakeValid(pte, frame);
            MiPagingStatistics.SoftFaults++;
            KeReleaseSpinLock(&MmPfnLock, irql);
            return TRUE;
        }
        if (!MiFaultMayTakePage()) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            MiWaitForAvailablePages(&waits);
            continue;
        }
        if (MiIsPageFilePte(contents)) {
            /* Hard fault: a new frame, a transition PTE to it with a read
             * in progress (colliders wait on it), the read without the
             * lock, then valid. The slot stays the page's: it is clean. */
            MI_INPAGE_SUPPORT *b = MiAllocateInPage();
            NTSTATUS status;
            ULONG waiters;
            if (b == NULL) {
                KeReleaseSpinLock(&MmPfnLock, irql);
                MiWaitForAvailablePages(&waits);
                continue;
            }
            MmTotalCommittedPages--;
            frame = MiRemoveAnyPage(0);
            if (frame == 0) {
                MmTotalCommittedPages++;
                b->Busy = FALSE;
                KeReleaseSpinLock(&MmPfnLock, irql);
                MiWaitForAvailablePages(&waits);
                continue;
            }
            pfn = MI_PFN_ELEMENT(frame);
            MiInitializePfnForActivePage(frame, pte, MiCached);
            pfn->PageLocation = TransitionPage;
            pfn->u2.ShareCount = 0;
            pfn->Flags = MI_PFN_PAGEABLE;
            pfn->PagingFlags = MI_PAGING_READ_IN_PROGRESS;
            pfn->OriginalPte = contents;
            pfn->u1.InPage = b;
            pte->Long = MiWithProtection(MiMakeTransitionPte(frame), MiPteProtection(contents.Long));
            KeReleaseSpinLock(&MmPfnLock, irql);

            status = MiReadPageFile(contents.Soft.PageFileHigh, frame);
            if (MiInPageTestDelayMs != 0) {
                LARGE_INTEGER delay = {.QuadPart = -10000LL * MiInPageTestDelayMs};
                KeDelayExecutionThread(KernelMode, FALSE, &delay);
            }

            KeAcquireSpinLock(&MmPfnLock, &irql);
            if (!NT_SUCCESS(status))
                /* KERNEL_DATA_INPAGE_ERROR: PTE address, status, PTE contents, address. */
                KeBugCheckEx(KERNEL_DATA_INPAGE_ERROR, (ULONG_PTR)pte, (ULONG_PTR)status,
                             (ULONG_PTR)contents.Long, (ULONG_PTR)Va);
            pfn->PagingFlags &= (UCHAR)~MI_PAGING_READ_IN_PROGRESS;
            pfn->u1.WsIndex = 0;
            /* No fault can collide from now on (the read is over): with
             * no waiter the block is free at once; with waiters it stays
             * busy until the last one has woken, so it is still theirs
             * when the event is set, after the lock is dropped (the
             * wake-up need not hold up every other fault). */
            b->Done = TRUE;
            waiters = b->Waiters;
            if (waiters == 0)
                b->Busy = FALSE;
            if (pfn->PagingFlags & MI_PAGING_DELETED) {
                MiFreePageablePage(frame);      /* freed while being read */
            } else {
                MiMakeValid(pte, frame);
            }
            MiPagingStatistics.HardFaults++;
            KeReleaseSpinLock(&MmPfnLock, irql);
            if (waiters != 0)
                KeSetEvent(&b->Event, IO_NO_INCREMENT, FALSE);
            return TRUE;
        }
        /* An image page is never demand zero: its PTE is corrupt
         * (MEMORY_MANAGEMENT 0x411: PTE address, contents). */
        if (image)
            KeBugCheckEx(MEMORY_MANAGEMENT, 0x411, (ULONG_PTR)pte, (ULONG_PTR)contents.Long, (ULONG_PTR)Va);
        /* Demand zero: one page of the commitment becomes the page. It is
         * born dirty (no copy exists). */
        MmTotalCommittedPages--;
        frame = MiRemoveZeroPage(0);
        if (frame == 0) {
            MmTotalCommittedPages++;            /* still promised */
            KeReleaseSpinLock(&MmPfnLock, irql);
            MiWaitForAvailablePages(&waits);
            continue;
        }
        MiInitializePfnForActivePage(frame, pte, MiCached);
        pfn = MI_PFN_ELEMENT(frame);
        pfn->Flags = MI_PFN_PAGEABLE | MI_PFN_MODIFIED;
        pfn->PagingFlags = 0;
        pfn->OriginalPte.Long = MM_KERNEL_DEMAND_ZERO_PTE;
        MiMakeValid(pte, frame);
        MiPagingStatistics.DemandZeroFaults++;
        {
            BOOLEAN low = MiPagingEnabled && MmAvailablePages < MiFreeGoal;
            KeReleaseSpinLock(&MmPfnLock, irql);
            if (low)
                KeSetEvent(&MiBalanceEvent, IO_NO_INCREMENT, FALSE);
        }
        return TRUE;
    }
}

/*
 * MmPfnLock held: a paged-pool page is freed, whatever its PTE says. A
 * valid page's frame is freed by the shootdown of Flush; a page under
 * paging I/O is marked deleted and freed when the I/O ends. Its commit
 * unit and its slot go back.
 */
VOID MiDeletePageablePteLocked(PMMPTE Pte, PMI_TB_FLUSH_LIST Flush)
{
    MMPTE contents = *Pte;
    PFN_NUMBER frame;
    PMMPFN pfn;

    if (contents.Long & MM_PTE_VALID) {
        frame = MI_PTE_FRAME(contents);
        pfn = MI_PFN_ELEMENT(frame);
        Pte->Long = 0;
        MiTableOf(Pte)->UsedPageTableEntries--;
        MiAddTbFlushEntry(Flush, MiGetVirtualAddressMappedByPte(Pte));
        if (pfn->PagingFlags & MI_PAGING_WRITE_IN_PROGRESS) {
            pfn->PagingFlags |= MI_PAGING_DELETED;
            pfn->u2.ShareCount = 0;
            pfn->ReferenceCount--;              /* the write's reference stays */
            return;
        }
        if (pfn->ReferenceCount > 1)            /* an MDL still locks it */
            KeBugCheckEx(PFN_LIST_CORRUPT, 0x9A, frame, pfn->PageLocation, pfn->ReferenceCount);
        MiReleaseOriginalSlot(pfn);
        pfn->PagingFlags = 0;
        MiTbFlushListDeferPage(Flush, frame, FALSE);
        return;
    }
    Pte->Long = 0;
    if (MiIsTransitionPte(contents)) {
        frame = MI_PTE_FRAME(contents);
        pfn = MI_PFN_ELEMENT(frame);
        if (pfn->PagingFlags & (MI_PAGING_READ_IN_PROGRESS | MI_PAGING_WRITE_IN_PROGRESS)) {
            pfn->PagingFlags |= MI_PAGING_DELETED;
            return;
        }
        if (pfn->PageLocation == StandbyPageList) {
            MiUnlinkPageFromList(frame);
            MmTotalCommittedPages--;            /* the explicit unit */
        } else {
            MiUnlinkPageFromList(frame);
        }
        MiFreePageablePage(frame);
        return;
    }
    if (MiIsPageFilePte(contents))
        MiReleasePageFileSlot(contents.Soft.PageFileHigh);
    if (contents.Long != 0)
        MmTotalCommittedPages--;                /* page file or demand zero */
}

/* ---- Start-up -------------------------------------------------------------------------- */

static void MiStartThread(PKSTART_ROUTINE Routine)
{
    HANDLE handle;

    if (NT_SUCCESS(PsCreateSystemThread(&handle, 0, NULL, NULL, NULL, Routine, NULL)))
        ZwClose(handle);
}

/* Phase 2: with a page file, the pager's threads start. */
VOID MiInitializePaging(VOID)
{
    KeInitializeEvent(&MiBalanceEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&MiWriterEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&MiWriteContextEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&MiPagesAvailableEvent, NotificationEvent, FALSE);
    KeInitializeEvent(&MiZeroEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&MiWriterIdleEvent, NotificationEvent, FALSE);
    for (ULONG i = 0; i < MI_INPAGE_BLOCKS; i++)
        KeInitializeEvent(&MiInPageBlocks[i].Event, NotificationEvent, FALSE);
    MiFreeGoal = MmNumberOfPhysicalPages / 16 > 512 ? MmNumberOfPhysicalPages / 16 : 512;
    MiPagingReserve = 128;
    if (!MiPageFileInitialize())
        return;
    for (ULONG i = 0; i < MI_WRITE_CONTEXTS; i++) {
        MiWriteContexts[i].Irp = ExAllocatePoolWithTag(NonPagedPoolNx, IoSizeOfIrp(MiPageFileStackSize()), 'wPmM');
        if (MiWriteContexts[i].Irp == NULL)
            KeBugCheckEx(MEMORY_MANAGEMENT, 0x7010, 0, 0, 0);     /* the writer cannot start */
    }
    MiClockPage = MiPhysicalRuns[0].BasePage;
    MiStartThread(MiBalanceSetManager);
    MiStartThread(MiModifiedPageWriter);
    MiStartThread(MiZeroPageThread);
}

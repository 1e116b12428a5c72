/*
 * smp_threads.c - one thread per processor for the SMP tests and
 * benchmarks (see smp_threads.h), and the memory model check they share.
 *
 * The threads meet at two events: Go lets them all start Work together
 * (so they really overlap, each on its own processor), Exit lets them end
 * after the caller has looked at the memory with every worker still
 * alive. One run at a time: tests and benchmarks run one after another.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/pool_internal.h"
#include "../ktest.h"
#include "smp_threads.h"

#define KSMP_READY_TIMEOUT_MS 20000
#define KSMP_DONE_TIMEOUT_MS  60000

typedef struct _KSMP_THREAD {
    PKSMP_RUN Run;
    ULONG Index;
    PVOID Object;
} KSMP_THREAD;

static struct {
    KEVENT Go, Exit, AllReady, AllDone;
    volatile LONG Ready, Done;
    volatile BOOLEAN Abort;
    volatile BOOLEAN Finished[KSMP_MAX_THREADS];
    KSMP_THREAD Threads[KSMP_MAX_THREADS];
} KsmpSync;

ULONG64 KsmpTicks(ULONG Milliseconds)
{
    return KeTimeStampFrequency / 1000 * Milliseconds;
}

static LARGE_INTEGER KsmpRelativeMs(ULONG Milliseconds)
{
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)Milliseconds * 10000;    /* relative, 100 ns units */
    return t;
}

ULONG KsmpProcessorOf(ULONG Index)
{
    KAFFINITY active = KeQueryActiveProcessors();
    ULONG count = KsmpPopCount(active), skip = Index % count;

    for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++)
        if ((active & AFFINITY_MASK(n)) && skip-- == 0)
            return n;
    return 0;
}

KAFFINITY KsmpPin(ULONG Number)
{
    return KeSetSystemAffinityThreadEx(AFFINITY_MASK(Number));
}

VOID KsmpUnpin(KAFFINITY Previous)
{
    KeRevertToUserAffinityThreadEx(Previous);
}

static VOID KsmpThreadMain(PVOID Context)
{
    KSMP_THREAD *t = Context;
    PKSMP_RUN run = t->Run;

    if (run->Pin == KsmpPinSelf)
        KeSetSystemAffinityThread(AFFINITY_MASK(run->PinnedTo[t->Index]));
    if (__atomic_add_fetch(&KsmpSync.Ready, 1, __ATOMIC_SEQ_CST) == (LONG)run->Count)
        KeSetEvent(&KsmpSync.AllReady, 0, FALSE);
    KeWaitForSingleObject(&KsmpSync.Go, Executive, KernelMode, FALSE, NULL);
    if (!KsmpSync.Abort) {
        run->StartedOn[t->Index] = KeGetCurrentProcessorNumber();
        run->Work(run->Context, t->Index);
        run->FinishedOn[t->Index] = KeGetCurrentProcessorNumber();
    }
    KsmpSync.Finished[t->Index] = TRUE;
    if (__atomic_add_fetch(&KsmpSync.Done, 1, __ATOMIC_SEQ_CST) == (LONG)run->Count)
        KeSetEvent(&KsmpSync.AllDone, 0, FALSE);
    KeWaitForSingleObject(&KsmpSync.Exit, Executive, KernelMode, FALSE, NULL);
    if (run->Pin == KsmpPinSelf)
        KeRevertToUserAffinityThread();
    PsTerminateSystemThread(STATUS_SUCCESS);
}

BOOLEAN KsmpRun(PKSMP_RUN Run)
{
    LARGE_INTEGER timeout;
    BOOLEAN ok = TRUE;
    ULONG started = 0;

    if (Run->Count == 0 || Run->Count > KSMP_MAX_THREADS)
        return FALSE;
    KeInitializeEvent(&KsmpSync.Go, NotificationEvent, FALSE);
    KeInitializeEvent(&KsmpSync.Exit, NotificationEvent, FALSE);
    KeInitializeEvent(&KsmpSync.AllReady, NotificationEvent, FALSE);
    KeInitializeEvent(&KsmpSync.AllDone, NotificationEvent, FALSE);
    KsmpSync.Ready = KsmpSync.Done = 0;
    KsmpSync.Abort = FALSE;

    for (ULONG i = 0; i < Run->Count; i++) {
        KSMP_THREAD *t = &KsmpSync.Threads[i];
        HANDLE handle;

        Run->PinnedTo[i] = KsmpProcessorOf(i);
        Run->StartedOn[i] = Run->FinishedOn[i] = ~0U;
        KsmpSync.Finished[i] = FALSE;
        t->Run = Run;
        t->Index = i;
        t->Object = NULL;
        if (!NT_SUCCESS(PsCreateSystemThread(&handle, 0, NULL, NULL, NULL, KsmpThreadMain, t)))
            break;
        if (!NT_SUCCESS(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &t->Object, NULL)))
            t->Object = NULL;
        ZwClose(handle);
        started++;
        if (t->Object == NULL) {
            ok = FALSE;
            break;
        }
        if (Run->Pin == KsmpPinByCreator &&
            KeSetAffinityThread((PKTHREAD)t->Object, AFFINITY_MASK(Run->PinnedTo[i])) == 0) {
            KtestPrint("#   KeSetAffinityThread refused processor %u\n", Run->PinnedTo[i]);
            ok = FALSE;
        }
    }
    if (started != Run->Count) {
        KtestPrint("#   started %u of %u threads\n", started, Run->Count);
        ok = FALSE;
    }
    if (!ok) {
        /* Let the started ones go straight to their end; none counts. */
        KsmpSync.Abort = TRUE;
        Run->Count = started;
        KeSetEvent(&KsmpSync.Go, 0, FALSE);
        KeSetEvent(&KsmpSync.Exit, 0, FALSE);
    } else {
        timeout = KsmpRelativeMs(KSMP_READY_TIMEOUT_MS);
        if (KeWaitForSingleObject(&KsmpSync.AllReady, Executive, KernelMode, FALSE, &timeout) !=
            STATUS_WAIT_0) {
            KtestPrint("#   only %d of %u threads got ready\n", KsmpSync.Ready, Run->Count);
            ok = FALSE;
            KeWaitForSingleObject(&KsmpSync.AllReady, Executive, KernelMode, FALSE, NULL);
        }
        if (Run->Before != NULL)
            Run->Before(Run->Context);
        KeSetEvent(&KsmpSync.Go, 0, FALSE);
        timeout = KsmpRelativeMs(KSMP_DONE_TIMEOUT_MS);
        if (KeWaitForSingleObject(&KsmpSync.AllDone, Executive, KernelMode, FALSE, &timeout) !=
            STATUS_WAIT_0) {
            /* Say who is stuck, then keep waiting: their stacks and
             * contexts must outlive them. */
            for (ULONG i = 0; i < Run->Count; i++)
                if (!KsmpSync.Finished[i])
                    KtestPrint("#   thread %u (processor %u) has not finished\n", i,
                               Run->PinnedTo[i]);
            ok = FALSE;
            KeWaitForSingleObject(&KsmpSync.AllDone, Executive, KernelMode, FALSE, NULL);
        }
        if (Run->After != NULL)
            Run->After(Run->Context);
        KeSetEvent(&KsmpSync.Exit, 0, FALSE);
    }
    for (ULONG i = 0; i < started; i++)
        if (KsmpSync.Threads[i].Object != NULL) {
            KeWaitForSingleObject(KsmpSync.Threads[i].Object, Executive, KernelMode, FALSE, NULL);
            ObDereferenceObject(KsmpSync.Threads[i].Object);
        }
    if (!ok)
        return FALSE;
    for (ULONG i = 0; i < Run->Count; i++)
        if (Run->StartedOn[i] != Run->PinnedTo[i] || Run->FinishedOn[i] != Run->PinnedTo[i]) {
            KtestPrint("#   thread %u pinned to processor %u ran on %u and %u\n", i,
                       Run->PinnedTo[i], Run->StartedOn[i], Run->FinishedOn[i]);
            ok = FALSE;
        }
    return ok;
}

VOID KsmpTrimAllPoolCaches(VOID)
{
    KAFFINITY active = KeQueryActiveProcessors();

    for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++) {
        KAFFINITY previous;

        if (!(active & AFFINITY_MASK(n)))
            continue;
        previous = KsmpPin(n);
        while (ExpTrimPoolCaches())
            ;
        KsmpUnpin(previous);
    }
}

VOID KsmpSnapshotMm(PKSMP_MM_SNAPSHOT Snapshot)
{
    KIRQL irql;

    KsmpTrimAllPoolCaches();
    Snapshot->FreeSystemPtes = MiFreeSystemPteCount();
    KeAcquireSpinLock(&MmPfnLock, &irql);
    Snapshot->FreePages = MmFreePageListHead.Total + MmZeroedPageListHead.Total +
                          MmLowFreePageListHead.Total;
    Snapshot->TreeFreePages = MiRunTreeFreeCount(&MiFreeRunTree);
    Snapshot->AvailablePages = MmAvailablePages;
    Snapshot->Committed = MmTotalCommittedPages;
    KeReleaseSpinLock(&MmPfnLock, irql);
}

VOID KsmpExpectMmBalanced(const KSMP_MM_SNAPSHOT *Before, const KSMP_MM_SNAPSHOT *After)
{
    /* A page lost: fewer free pages; a page freed twice: more (or a list
     * and the tree that disagree). */
    KEXPECT_EQ(After->FreePages, Before->FreePages);
    KEXPECT_EQ(After->AvailablePages, Before->AvailablePages);
    KEXPECT_EQ(After->TreeFreePages, After->FreePages);
    KEXPECT_EQ(Before->TreeFreePages, Before->FreePages);
    KEXPECT_EQ(After->Committed, Before->Committed);
    KEXPECT_EQ(After->FreeSystemPtes, Before->FreeSystemPtes);
}

/*
 * test_dispatcher_locks.c - the lock and processor routines drivers use:
 * in-stack queued spin locks (a real MCS queue), SYNCH_LEVEL, the
 * ExInterlocked lists and counters, KeGetCurrentProcessorNumberEx,
 * ZwYieldExecution and KeYieldProcessor (the spin-wait hint).
 *
 * Mica runs on one processor, so no second acquirer can spin on a queued
 * lock while its holder runs. The hand-over is checked by building the
 * queue a second acquirer builds (the same three stores KiAcquireQueuedLock
 * does before it spins) and releasing the holder: the lock must pass to
 * the queued entry, not become free.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define LOCK_QUEUE_WAIT  1                  /* NT's queue-entry state bits */
#define LOCK_QUEUE_OWNER 2

static HANDLE KtlStart(PKSTART_ROUTINE Routine, PVOID Context)
{
    HANDLE h = NULL;

    KEXPECT_EQ(KtestCreateThread(&h, Routine, Context), STATUS_SUCCESS);
    return h;
}

static PKTHREAD KtlThread(HANDLE Handle)
{
    PVOID thread = NULL;

    KEXPECT_EQ(ObReferenceObjectByHandle(Handle, 0, NULL, KernelMode, &thread, NULL),
               STATUS_SUCCESS);
    return thread;
}

static void KtlJoin(HANDLE Handle)
{
    PKTHREAD thread = KtlThread(Handle);

    KEXPECT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    ObDereferenceObject(thread);
    KEXPECT_EQ(ZwClose(Handle), STATUS_SUCCESS);
}

/* ---- in-stack queued spin locks -------------------------------------------------------- */

KTEST(queuedlock, acquire_release_irql_and_tail)
{
    KSPIN_LOCK lock;
    KLOCK_QUEUE_HANDLE h;
    KIRQL old;

    KeInitializeSpinLock(&lock);
    KeAcquireInStackQueuedSpinLock(&lock, &h);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KEXPECT_EQ(h.OldIrql, PASSIVE_LEVEL);
    /* The lock word is the queue's tail: our entry, marked owner. */
    KEXPECT_EQ(lock, (ULONG_PTR)&h.LockQueue);
    KEXPECT_EQ((ULONG_PTR)h.LockQueue.Lock, (ULONG_PTR)&lock | LOCK_QUEUE_OWNER);
    KEXPECT_EQ(h.LockQueue.Next, NULL);
    KeReleaseInStackQueuedSpinLock(&h);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KEXPECT_EQ(lock, 0);
    KEXPECT_EQ((ULONG_PTR)h.LockQueue.Lock, (ULONG_PTR)&lock);

    /* The DPC-level pair leaves the IRQL alone. */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeAcquireInStackQueuedSpinLockAtDpcLevel(&lock, &h);
    KEXPECT_EQ(lock, (ULONG_PTR)&h.LockQueue);
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&h);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KEXPECT_EQ(lock, 0);
    KeLowerIrql(old);
}

KTEST(queuedlock, release_hands_over_to_the_next_in_line)
{
    KSPIN_LOCK lock;
    KLOCK_QUEUE_HANDLE first, second, third;

    KeInitializeSpinLock(&lock);
    KeAcquireInStackQueuedSpinLock(&lock, &first);
    /* Two more arrive: each swaps itself in as the tail, marks itself
     * waiting and links behind the previous tail. */
    for (KLOCK_QUEUE_HANDLE *h = &second; h; h = h == &second ? &third : NULL) {
        PKSPIN_LOCK_QUEUE previous;
        h->LockQueue.Next = NULL;
        h->LockQueue.Lock = (PKSPIN_LOCK)((ULONG_PTR)&lock | LOCK_QUEUE_WAIT);
        previous = (PKSPIN_LOCK_QUEUE)__atomic_exchange_n(&lock, (ULONG_PTR)&h->LockQueue,
                                                           __ATOMIC_SEQ_CST);
        previous->Next = &h->LockQueue;
    }
    KEXPECT_EQ(lock, (ULONG_PTR)&third.LockQueue);
    KEXPECT_EQ(first.LockQueue.Next, &second.LockQueue);

    /* The release wakes exactly the next one, in order, and the lock stays taken. */
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&first);
    KEXPECT_EQ((ULONG_PTR)second.LockQueue.Lock & LOCK_QUEUE_WAIT, 0);
    KEXPECT_EQ((ULONG_PTR)third.LockQueue.Lock & LOCK_QUEUE_WAIT, LOCK_QUEUE_WAIT);
    KEXPECT_EQ(lock, (ULONG_PTR)&third.LockQueue);
    /* What the woken acquirer does after its spin: it owns the lock. */
    second.LockQueue.Lock = (PKSPIN_LOCK)((ULONG_PTR)&lock | LOCK_QUEUE_OWNER);
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&second);
    KEXPECT_EQ((ULONG_PTR)third.LockQueue.Lock & LOCK_QUEUE_WAIT, 0);
    third.LockQueue.Lock = (PKSPIN_LOCK)((ULONG_PTR)&lock | LOCK_QUEUE_OWNER);
    third.OldIrql = first.OldIrql;
    KeReleaseInStackQueuedSpinLock(&third);   /* the last one frees it */
    KEXPECT_EQ(lock, 0);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* A thread and a periodic DPC share a queued lock; no increment is lost. */
static KSPIN_LOCK SharedQueuedLock;
static volatile ULONG64 QueuedCounter, DpcAdds;

static VOID QueuedLockDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    KLOCK_QUEUE_HANDLE h;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeAcquireInStackQueuedSpinLockAtDpcLevel(&SharedQueuedLock, &h);
    for (int i = 0; i < 10; i++)
        QueuedCounter++;
    DpcAdds += 10;
    KeReleaseInStackQueuedSpinLockFromDpcLevel(&h);
}

KTEST(queuedlock, thread_and_dpc_share_it)
{
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due = {.QuadPart = -10000};
    ULONG64 threadAdds = 0;
    ULONGLONG start;

    KeInitializeSpinLock(&SharedQueuedLock);
    QueuedCounter = DpcAdds = 0;
    KeInitializeDpc(&dpc, QueuedLockDpc, NULL);
    KeInitializeTimer(&timer);
    KeSetTimerEx(&timer, due, 1, &dpc);
    start = KeQueryInterruptTime();
    while (KeQueryInterruptTime() - start < 50 * 10000ULL) {
        KLOCK_QUEUE_HANDLE h;
        KeAcquireInStackQueuedSpinLock(&SharedQueuedLock, &h);
        ULONG64 v = QueuedCounter;
        for (volatile int spin = 0; spin < 50; spin++)
            ;
        QueuedCounter = v + 1;          /* a DPC in between would be lost */
        KeReleaseInStackQueuedSpinLock(&h);
        threadAdds++;
    }
    KeCancelTimer(&timer);
    /* A DPC already queued (on this or another processor) runs to its end. */
    KeFlushQueuedDpcs();
    KEXPECT_GT(DpcAdds, 0);
    KEXPECT_EQ(QueuedCounter, threadAdds + DpcAdds);
    KEXPECT_EQ(SharedQueuedLock, 0);
}

/* ---- SYNCH_LEVEL ------------------------------------------------------------------------------ */

KTEST(synchlevel, raise_and_lock_at_synch_level)
{
    KSPIN_LOCK lock;
    KIRQL old;

    KEXPECT_EQ(SYNCH_LEVEL, 12);
    old = KeRaiseIrqlToSynchLevel();
    KEXPECT_EQ(old, PASSIVE_LEVEL);
    KEXPECT_EQ(KeGetCurrentIrql(), SYNCH_LEVEL);
    KEXPECT_EQ(__readcr8(), SYNCH_LEVEL);
    KeLowerIrql(old);

    KeInitializeSpinLock(&lock);
    old = KeAcquireSpinLockRaiseToSynch(&lock);
    KEXPECT_EQ(old, PASSIVE_LEVEL);
    KEXPECT_EQ(KeGetCurrentIrql(), SYNCH_LEVEL);
    KEXPECT_NE(lock, 0);
    KeReleaseSpinLock(&lock, old);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KEXPECT_EQ(lock, 0);
    /* From DISPATCH_LEVEL too. */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KEXPECT_EQ(KeAcquireSpinLockRaiseToSynch(&lock), DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, DISPATCH_LEVEL);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
}

/* ---- ExInterlocked ------------------------------------------------------------------------------ */

KTEST(interlocked, list_routines_return_nt_values)
{
    KSPIN_LOCK lock;
    LIST_ENTRY head, a, b, c;
    SINGLE_LIST_ENTRY shead, sa, sb;

    KeInitializeSpinLock(&lock);
    InitializeListHead(&head);
    KEXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), NULL);
    KEXPECT_EQ(ExInterlockedInsertHeadList(&head, &a, &lock), NULL);   /* was empty */
    KEXPECT_EQ(ExInterlockedInsertTailList(&head, &b, &lock), &a);     /* the old last */
    KEXPECT_EQ(ExInterlockedInsertHeadList(&head, &c, &lock), &a);     /* the old first */
    KEXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), &c);
    KEXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), &a);
    KEXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), &b);
    KEXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), NULL);
    KEXPECT_TRUE(IsListEmpty(&head));
    KEXPECT_EQ(ExInterlockedInsertTailList(&head, &a, &lock), NULL);

    shead.Next = NULL;
    KEXPECT_EQ(ExInterlockedPopEntryList(&shead, &lock), NULL);
    KEXPECT_EQ(ExInterlockedPushEntryList(&shead, &sa, &lock), NULL);
    KEXPECT_EQ(ExInterlockedPushEntryList(&shead, &sb, &lock), &sa);
    KEXPECT_EQ(ExInterlockedPopEntryList(&shead, &lock), &sb);
    KEXPECT_EQ(ExInterlockedPopEntryList(&shead, &lock), &sa);
    KEXPECT_EQ(ExInterlockedPopEntryList(&shead, &lock), NULL);
    KEXPECT_EQ(lock, 0);
}

KTEST(interlocked, counters_return_the_old_value)
{
    KSPIN_LOCK lock;
    ULONG u = 0xFFFFFFF0;
    LARGE_INTEGER big = {.QuadPart = 0x7FFFFFFFFFFFFFF0LL}, inc = {.QuadPart = 0x20};

    KeInitializeSpinLock(&lock);
    KEXPECT_EQ(ExInterlockedAddUlong(&u, 0x8, &lock), 0xFFFFFFF0);
    KEXPECT_EQ(u, 0xFFFFFFF8);
    KEXPECT_EQ(ExInterlockedAddUlong(&u, 0x10, &lock), 0xFFFFFFF8);
    KEXPECT_EQ(u, 0x8);                     /* wraps, as a ULONG does */
    KEXPECT_EQ(ExInterlockedAddLargeInteger(&big, inc, &lock).QuadPart, 0x7FFFFFFFFFFFFFF0LL);
    KEXPECT_EQ((ULONG64)big.QuadPart, 0x8000000000000010ULL);
    inc.QuadPart = -0x10;
    KEXPECT_EQ((ULONG64)ExInterlockedAddLargeInteger(&big, inc, &lock).QuadPart,
               0x8000000000000010ULL);
    KEXPECT_EQ((ULONG64)big.QuadPart, 0x8000000000000000ULL);
}

/* Any IRQL; interrupts are off while the lock is held and as before after. */
KTEST(interlocked, any_irql_and_interrupt_state_kept)
{
    KSPIN_LOCK lock;
    ULONG u = 0;
    KIRQL old;

    KeInitializeSpinLock(&lock);
    KEXPECT_NE(__readeflags() & EFLAGS_IF_MASK, 0);
    ExInterlockedAddUlong(&u, 1, &lock);
    KEXPECT_NE(__readeflags() & EFLAGS_IF_MASK, 0);
    KeRaiseIrql(HIGH_LEVEL, &old);
    ExInterlockedAddUlong(&u, 1, &lock);
    KEXPECT_EQ(KeGetCurrentIrql(), HIGH_LEVEL);
    KeLowerIrql(old);
    _disable();                             /* as in an ISR with interrupts off */
    ExInterlockedAddUlong(&u, 1, &lock);
    KEXPECT_EQ(__readeflags() & EFLAGS_IF_MASK, 0);
    _enable();
    KEXPECT_EQ(u, 3);
}

/* A thread and a periodic timer DPC move entries between two lists. */
#define KTL_ENTRIES 64
static KSPIN_LOCK ListLock;
static LIST_ENTRY ListA, ListB;
static LIST_ENTRY Entries[KTL_ENTRIES];
static volatile ULONG DpcMoves;

static VOID MoveOneDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    PLIST_ENTRY e;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    if ((e = ExInterlockedRemoveHeadList(&ListB, &ListLock)) != NULL) {
        ExInterlockedInsertTailList(&ListA, e, &ListLock);
        DpcMoves++;
    }
}

KTEST(interlocked, thread_and_dpc_share_lists)
{
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due = {.QuadPart = -10000};
    ULONGLONG start;
    ULONG count = 0;
    KIRQL old;

    KeInitializeSpinLock(&ListLock);
    InitializeListHead(&ListA);
    InitializeListHead(&ListB);
    for (int i = 0; i < KTL_ENTRIES; i++)
        ExInterlockedInsertTailList(&ListA, &Entries[i], &ListLock);
    DpcMoves = 0;
    KeInitializeDpc(&dpc, MoveOneDpc, NULL);
    KeInitializeTimer(&timer);
    KeSetTimerEx(&timer, due, 1, &dpc);
    start = KeQueryInterruptTime();
    while (KeQueryInterruptTime() - start < 50 * 10000ULL) {
        PLIST_ENTRY e = ExInterlockedRemoveHeadList(&ListA, &ListLock);
        if (e != NULL)
            ExInterlockedInsertHeadList(&ListB, e, &ListLock);
    }
    KeCancelTimer(&timer);
    KeFlushQueuedDpcs();                /* the DPC may be running on another processor */
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    for (PLIST_ENTRY e = ListA.Flink; e != &ListA; e = e->Flink)
        count++;
    for (PLIST_ENTRY e = ListB.Flink; e != &ListB; e = e->Flink)
        count++;
    KeLowerIrql(old);
    KEXPECT_EQ(count, KTL_ENTRIES);         /* none lost, none twice */
    KEXPECT_GT(DpcMoves, 0);
}

/* ---- processor number -------------------------------------------------------------------------- */

KTEST(processor, number_ex_fills_group_and_number)
{
    PROCESSOR_NUMBER n;
    KIRQL old;

    memset(&n, 0xFF, sizeof(n));
    KEXPECT_EQ(KeGetCurrentProcessorNumberEx(&n), KeGetCurrentProcessorNumber());
    KEXPECT_EQ(n.Group, 0);
    KEXPECT_EQ(n.Number, KeGetCurrentProcessorNumber());
    KEXPECT_EQ(n.Reserved, 0);
    KEXPECT_EQ(KeGetCurrentProcessorNumberEx(NULL), KeGetCurrentProcessorNumber());
    KeRaiseIrql(HIGH_LEVEL, &old);          /* any IRQL */
    KEXPECT_EQ(KeGetCurrentProcessorNumberEx(&n), KeGetCurrentProcessorNumber());
    KeLowerIrql(old);
}

/* ---- yielding ------------------------------------------------------------------------------------- */

static volatile BOOLEAN OtherRan;

static VOID MarkOtherRan(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    OtherRan = TRUE;
}

/* NtYieldExecution: to a ready thread of any priority, and it says whether it did. */
KTEST(yield, zw_yield_execution_yields_to_lower_priority)
{
    LARGE_INTEGER zero = {.QuadPart = 0};
    HANDLE h;
    PKTHREAD other;
    KAFFINITY pinned = KtestOnOneProcessorBegin();  /* "ready, below us" needs one processor */

    KEXPECT_EQ(ZwYieldExecution(), STATUS_NO_YIELD_PERFORMED);     /* nobody else is ready */
    OtherRan = FALSE;
    h = KtlStart(MarkOtherRan, NULL);
    other = KtlThread(h);
    KEXPECT_EQ(KeSetPriorityThread(other, 4), 8);           /* ready, below us */
    ObDereferenceObject(other);
    KEXPECT_FALSE(OtherRan);
    /* A zero delay yields to equal priority only: the thread at 4 waits. */
    KeDelayExecutionThread(KernelMode, FALSE, &zero);
    KEXPECT_FALSE(OtherRan);
    KEXPECT_EQ(ZwYieldExecution(), STATUS_SUCCESS);
    KEXPECT_TRUE(OtherRan);
    KtlJoin(h);
    KEXPECT_EQ(ZwYieldExecution(), STATUS_NO_YIELD_PERFORMED);
    KtestOnOneProcessorEnd(pinned);
}

/* KeYieldProcessor is PAUSE: it never gives the processor away, at any IRQL. */
KTEST(yield, ke_yield_processor_is_a_spin_hint)
{
    HANDLE h;
    KIRQL old;
    PKTHREAD other;
    KAFFINITY pinned = KtestOnOneProcessorBegin();  /* elsewhere it would run at once */
    KPRIORITY ours = KeSetPriorityThread(KeGetCurrentThread(), 9);

    /* Created below us, so no quantum end lets it run before we are at
     * DISPATCH_LEVEL (a slow creation under load made that window real);
     * there it becomes ready at our priority. */
    OtherRan = FALSE;
    h = KtlStart(MarkOtherRan, NULL);
    other = KtlThread(h);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeSetPriorityThread(other, 9);
    ObDereferenceObject(other);
    for (int i = 0; i < 1000; i++)
        KeYieldProcessor();
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KEXPECT_FALSE(OtherRan);
    /* At PASSIVE_LEVEL a clock tick may end our quantum in the middle of
     * such a loop and run the other thread by rule: only DISPATCH_LEVEL
     * (no switch can happen there) tells PAUSE from a yield. */
    KeLowerIrql(old);
    KtlJoin(h);
    KEXPECT_TRUE(OtherRan);
    KeSetPriorityThread(KeGetCurrentThread(), ours);
    KtestOnOneProcessorEnd(pinned);
}

/*
 * test_ke.c - IRQL, DPCs, timers, threads, dispatcher objects and a real
 * device interrupt behave as NT's do.
 *
 * These run on the initial thread at PASSIVE_LEVEL with the clock ticking.
 * Every check is one that fails if the mechanism is missing: a DPC that
 * runs too early or twice, a waiter that is not woken, a thread that never
 * gets the processor.
 *
 * `make test` runs several QEMUs on a loaded host, which may stop a guest
 * for tens or hundreds of milliseconds at any point. Interrupt time comes
 * from the TSC, so it jumps over such a stop; the clock interrupts that a
 * stop swallows are not replayed (QEMU's APIC timer delivers one and goes
 * on). So "not early" is measured in interrupt time (a stop only makes
 * time longer), and "not late" in clock ticks (KeQueryTickCount), which a
 * stop can only make fewer: a timer the mechanism fires late costs ticks
 * on any host. Waits for something to happen wait for that event, with a
 * timeout far beyond any stop, not for a fixed time.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define MS(n) ((LONGLONG)(n) * -10000)    /* relative due time, 100 ns units */

static LARGE_INTEGER Rel(LONGLONG Ms)
{
    LARGE_INTEGER t;
    t.QuadPart = MS(Ms);
    return t;
}

KTEST(irql, raise_lower_and_cr8)
{
    KIRQL old, mid;

    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KEXPECT_EQ(old, PASSIVE_LEVEL);
    KEXPECT_EQ(__readcr8(), PASSIVE_LEVEL);     /* no vector lives at 1 or 2: CR8 stays 0 */
    KeRaiseIrql(HIGH_LEVEL, &mid);
    KEXPECT_EQ(mid, DISPATCH_LEVEL);
    KEXPECT_EQ(KeGetCurrentIrql(), HIGH_LEVEL);
    KEXPECT_EQ(__readcr8(), HIGH_LEVEL);
    KeLowerIrql(mid);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KEXPECT_EQ(__readcr8(), PASSIVE_LEVEL);
    KeLowerIrql(old);
    KEXPECT_EQ(__readcr8(), PASSIVE_LEVEL);
    old = KeRaiseIrqlToDpcLevel();
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
}

/* ---- DPCs ---------------------------------------------------------------- */

static ULONG DpcOrder[8], DpcRuns;

static VOID RecordDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(A2);
    if (DpcRuns < ARRAYSIZE(DpcOrder))
        DpcOrder[DpcRuns] = (ULONG)(ULONG_PTR)Context;
    DpcRuns++;
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KEXPECT_EQ((ULONG_PTR)A1, 0x51);
}

KTEST(dpc, run_on_lowering_in_order_once)
{
    KDPC a, b, c, d;
    KIRQL old;

    DpcRuns = 0;
    KeInitializeDpc(&a, RecordDpc, (PVOID)1);
    KeInitializeDpc(&b, RecordDpc, (PVOID)2);
    KeInitializeDpc(&c, RecordDpc, (PVOID)3);
    KeInitializeDpc(&d, RecordDpc, (PVOID)4);
    KeSetImportanceDpc(&c, HighImportance);

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KEXPECT_TRUE(KeInsertQueueDpc(&a, (PVOID)0x51, NULL));
    KEXPECT_TRUE(KeInsertQueueDpc(&b, (PVOID)0x51, NULL));
    KEXPECT_FALSE(KeInsertQueueDpc(&a, (PVOID)0x51, NULL));   /* already queued */
    KEXPECT_TRUE(KeInsertQueueDpc(&c, (PVOID)0x51, NULL));    /* high: to the head */
    KEXPECT_TRUE(KeInsertQueueDpc(&d, (PVOID)0x51, NULL));
    KEXPECT_TRUE(KeRemoveQueueDpc(&d));
    KEXPECT_FALSE(KeRemoveQueueDpc(&d));
    KEXPECT_EQ(DpcRuns, 0);            /* nothing runs at DISPATCH_LEVEL */
    KeLowerIrql(old);

    KEXPECT_EQ(DpcRuns, 3);
    KEXPECT_EQ(DpcOrder[0], 3);
    KEXPECT_EQ(DpcOrder[1], 1);
    KEXPECT_EQ(DpcOrder[2], 2);
    /* Inserted at PASSIVE_LEVEL, a DPC runs before KeInsertQueueDpc returns. */
    KEXPECT_TRUE(KeInsertQueueDpc(&a, (PVOID)0x51, NULL));
    KEXPECT_EQ(DpcRuns, 4);
}

/* ---- timers ------------------------------------------------------------- */

static volatile ULONGLONG TimerDpcTime;
static volatile ULONG64 TimerDpcTick;
static volatile ULONG TimerDpcCount, TimerDpcTarget;
static KEVENT TimerDpcReached;          /* set when TimerDpcCount reaches TimerDpcTarget */

/* Clock interrupts so far; KeQueryTimeIncrement() apart (1 ms). */
static ULONG64 Ticks(void)
{
    LARGE_INTEGER t;

    KeQueryTickCount(&t);
    return (ULONG64)t.QuadPart;
}

/* Clock ticks in Ms milliseconds, plus the tick that finds a timer due and
 * a few for the expiry DPC; see the top of the file. */
static ULONG64 TicksFor(ULONG Ms)
{
    return (ULONG64)Ms * 10000 / KeQueryTimeIncrement() + 5;
}

static VOID TimerDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    TimerDpcTime = KeQueryInterruptTime();
    TimerDpcTick = Ticks();
    if (++TimerDpcCount == TimerDpcTarget)
        KeSetEvent(&TimerDpcReached, 0, FALSE);
}

static void ResetTimerDpc(ULONG Target)
{
    TimerDpcCount = 0;
    TimerDpcTarget = Target;
    KeInitializeEvent(&TimerDpcReached, NotificationEvent, FALSE);
}

KTEST(timer, dpc_fires_within_tolerance)
{
    KTIMER timer;
    KDPC dpc;
    ULONGLONG start = KeQueryInterruptTime();
    ULONG64 startTick = Ticks();
    NTSTATUS status;

    ResetTimerDpc(1);
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, TimerDpc, NULL);
    KEXPECT_FALSE(KeSetTimer(&timer, Rel(20), &dpc));
    status = KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(status, STATUS_WAIT_0);
    KEXPECT_TRUE(KeReadStateTimer(&timer));
    /* Signalled first, DPC queued next: another processor may wake us before it runs. */
    KeFlushQueuedDpcs();
    KEXPECT_EQ(TimerDpcCount, 1);
    /* Not early (interrupt time), and not late (clock ticks). */
    KEXPECT_GE(TimerDpcTime - start, 20 * 10000ULL);
    KEXPECT_LE(TimerDpcTick - startTick, TicksFor(20));
}

KTEST(timer, periodic_and_cancel)
{
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER timeout = Rel(10000), settle = Rel(20);
    ULONG64 startTick = Ticks();
    ULONG count;

    ResetTimerDpc(3);
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    KeInitializeDpc(&dpc, TimerDpc, NULL);
    KeSetTimerEx(&timer, Rel(5), 5, &dpc);
    /* Three periods: 5 + 5 + 5 ms of clock ticks, however long the host takes. */
    KEXPECT_EQ(KeWaitForSingleObject(&TimerDpcReached, Executive, KernelMode, FALSE, &timeout),
               STATUS_WAIT_0);
    KEXPECT_LE(TimerDpcTick - startTick, TicksFor(15));
    KEXPECT_TRUE(KeCancelTimer(&timer));
    KeFlushQueuedDpcs();                /* one already queued elsewhere runs first */
    KEXPECT_GE(TimerDpcCount, 3);
    KEXPECT_FALSE(KeCancelTimer(&timer));
    /* Cancelled: four more periods pass without a DPC. */
    count = TimerDpcCount;
    KeDelayExecutionThread(KernelMode, FALSE, &settle);
    KEXPECT_EQ(TimerDpcCount, count);
}

/* ---- events, waits, threads ------------------------------------------------------------ */

static KEVENT StartEvent, DoneEvent;
static volatile LONG Woken;

static VOID Waiter(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&StartEvent, Executive, KernelMode, FALSE, NULL);
    __atomic_add_fetch(&Woken, 1, __ATOMIC_SEQ_CST);
    KeSetEvent(&DoneEvent, 0, FALSE);
}

static void StartWaiters(EVENT_TYPE Type, HANDLE *Handles, ULONG Count)
{
    LARGE_INTEGER settle = Rel(10);

    Woken = 0;
    KeInitializeEvent(&StartEvent, Type, FALSE);
    KeInitializeEvent(&DoneEvent, SynchronizationEvent, FALSE);
    for (ULONG i = 0; i < Count; i++)
        KEXPECT_EQ(PsCreateSystemThread(&Handles[i], 0, NULL, NULL, NULL, Waiter, NULL), STATUS_SUCCESS);
    KeDelayExecutionThread(KernelMode, FALSE, &settle);     /* let them block */
}

static void JoinThreads(HANDLE *Handles, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++) {
        PVOID thread;
        KEXPECT_EQ(ObReferenceObjectByHandle(Handles[i], 0, NULL, KernelMode, &thread, NULL),
                   STATUS_SUCCESS);
        KEXPECT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
        ObDereferenceObject(thread);
        KEXPECT_EQ(ZwClose(Handles[i]), STATUS_SUCCESS);
    }
}

KTEST(event, notification_wakes_all)
{
    HANDLE h[3];

    StartWaiters(NotificationEvent, h, 3);
    KEXPECT_EQ(Woken, 0);
    KEXPECT_EQ(KeSetEvent(&StartEvent, 0, FALSE), 0);
    JoinThreads(h, 3);
    KEXPECT_EQ(Woken, 3);
    KEXPECT_EQ(KeReadStateEvent(&StartEvent), 1);       /* stays signalled */
}

KTEST(event, synchronization_wakes_one)
{
    HANDLE h[3];
    LARGE_INTEGER settle = Rel(20);

    StartWaiters(SynchronizationEvent, h, 3);
    KeSetEvent(&StartEvent, 0, FALSE);
    KeDelayExecutionThread(KernelMode, FALSE, &settle);
    KEXPECT_EQ(Woken, 1);
    KEXPECT_EQ(KeReadStateEvent(&StartEvent), 0);       /* reset by the wait */
    KeSetEvent(&StartEvent, 0, FALSE);
    KeSetEvent(&StartEvent, 0, FALSE);                  /* one of these may find no waiter yet */
    KeDelayExecutionThread(KernelMode, FALSE, &settle);
    KeSetEvent(&StartEvent, 0, FALSE);
    JoinThreads(h, 3);
    KEXPECT_EQ(Woken, 3);
}

KTEST(wait, timeout_and_poll)
{
    KEVENT e;
    LARGE_INTEGER zero = {.QuadPart = 0}, timeout = Rel(15);
    ULONGLONG start;

    KeInitializeEvent(&e, NotificationEvent, FALSE);
    KEXPECT_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    start = KeQueryInterruptTime();
    KEXPECT_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &timeout), STATUS_TIMEOUT);
    KEXPECT_GE(KeQueryInterruptTime() - start, 15 * 10000ULL);
    KeSetEvent(&e, 0, FALSE);
    KEXPECT_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &timeout), STATUS_WAIT_0);
}

KTEST(wait, multiple_any_and_all)
{
    KEVENT a, b;
    PVOID objects[2] = {&a, &b};
    LARGE_INTEGER zero = {.QuadPart = 0};

    KeInitializeEvent(&a, NotificationEvent, FALSE);
    KeInitializeEvent(&b, SynchronizationEvent, TRUE);
    KEXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &zero, NULL),
               STATUS_WAIT_0 + 1);
    KEXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &zero, NULL),
               STATUS_TIMEOUT);
    KeSetEvent(&a, 0, FALSE);
    KeSetEvent(&b, 0, FALSE);
    KEXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &zero, NULL),
               STATUS_WAIT_0);
    KEXPECT_EQ(KeReadStateEvent(&b), 0);   /* the synchronization event was consumed */
}

KTEST(mutex, recursive_and_fast)
{
    KMUTEX m;
    FAST_MUTEX f;

    KeInitializeMutex(&m, 0);
    KEXPECT_EQ(KeWaitForSingleObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(KeWaitForSingleObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(KeReadStateMutex(&m), -1);
    KeReleaseMutex(&m, FALSE);
    KeReleaseMutex(&m, FALSE);
    KEXPECT_EQ(KeReadStateMutex(&m), 1);

    ExInitializeFastMutex(&f);
    ExAcquireFastMutex(&f);
    KEXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KEXPECT_FALSE(ExTryToAcquireFastMutex(&f));
    ExReleaseFastMutex(&f);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KEXPECT_TRUE(ExTryToAcquireFastMutex(&f));
    ExReleaseFastMutex(&f);
}

/* ---- the dispatcher ------------------------------------------------------------------ */

static volatile ULONG64 Progress[2];
static volatile BOOLEAN StopSpinning;

static VOID Spinner(PVOID Context)
{
    ULONG i = (ULONG)(ULONG_PTR)Context;

    while (!StopSpinning)
        Progress[i]++;                  /* never waits: only preemption stops it */
}

KTEST(sched, busy_threads_both_progress)
{
    HANDLE h[2];
    LARGE_INTEGER nap = Rel(10);

    Progress[0] = Progress[1] = 0;
    StopSpinning = FALSE;
    KEXPECT_EQ(PsCreateSystemThread(&h[0], 0, NULL, NULL, NULL, Spinner, (PVOID)0), STATUS_SUCCESS);
    KEXPECT_EQ(PsCreateSystemThread(&h[1], 0, NULL, NULL, NULL, Spinner, (PVOID)1), STATUS_SUCCESS);
    /* Until both have run, not for a fixed time (a loaded host may stop the
     * guest for longer than a quantum); 10 s means one never got the processor. */
    for (ULONG i = 0; i < 1000 && (Progress[0] == 0 || Progress[1] == 0); i++)
        KeDelayExecutionThread(KernelMode, FALSE, &nap);
    StopSpinning = TRUE;
    JoinThreads(h, 2);
    KEXPECT_GT(Progress[0], 0);
    KEXPECT_GT(Progress[1], 0);
}

static volatile BOOLEAN HighRan;

static VOID MarkRan(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    HighRan = TRUE;
}

KTEST(sched, higher_priority_preempts)
{
    HANDLE h;
    PVOID thread;
    KPRIORITY ours;

    KAFFINITY pinned = KtestOnOneProcessorBegin();   /* "has not run yet" needs one processor */

    HighRan = FALSE;
    /* One above the new thread: at the same priority a quantum ending
     * (a slow boot, verifier=special) could let it run first. */
    ours = KeSetPriorityThread(KeGetCurrentThread(), 9);
    KEXPECT_EQ(KtestCreateThread(&h, MarkRan, NULL), STATUS_SUCCESS);
    /* Below us: it has not run yet. */
    KEXPECT_FALSE(HighRan);
    ObReferenceObjectByHandle(h, 0, NULL, KernelMode, &thread, NULL);
    KEXPECT_EQ(KeSetPriorityThread(thread, 12), 8);
    /* Raised above us: it ran before KeSetPriorityThread returned. */
    KEXPECT_TRUE(HighRan);
    KeSetPriorityThread(KeGetCurrentThread(), ours);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    ZwClose(h);
    KtestOnOneProcessorEnd(pinned);
}

/* A thread and a timer DPC take the same spin lock; nothing is lost. */
static KSPIN_LOCK SharedLock;
static volatile ULONG64 SharedCounter, DpcIncrements;

static VOID LockingDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeAcquireSpinLockAtDpcLevel(&SharedLock);
    for (ULONG i = 0; i < 100; i++)
        SharedCounter++;
    DpcIncrements += 100;
    KeReleaseSpinLockFromDpcLevel(&SharedLock);
}

/* Until the DPC has run this often (about 20 ms of clock ticks), not for a
 * fixed time: a loaded host may stop the guest for longer than that. */
#define LOCKING_DPC_RUNS 20

KTEST(spinlock, thread_and_dpc_contend)
{
    KTIMER timer;
    KDPC dpc;
    KIRQL old;
    ULONG64 mine = 0;
    ULONGLONG end;

    KeInitializeSpinLock(&SharedLock);
    SharedCounter = DpcIncrements = 0;
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, LockingDpc, NULL);
    KeSetTimerEx(&timer, Rel(1), 1, &dpc);
    end = KeQueryInterruptTime() + 10000 * 10000ULL;        /* 10 s: the DPC never ran */
    while (DpcIncrements < LOCKING_DPC_RUNS * 100 && KeQueryInterruptTime() < end) {
        KeAcquireSpinLock(&SharedLock, &old);
        ULONG64 v = SharedCounter;
        KeStallExecutionProcessor(5);   /* a window in which a DPC would tear the update */
        SharedCounter = v + 1;
        mine++;
        KeReleaseSpinLock(&SharedLock, old);
    }
    KeCancelTimer(&timer);
    KeFlushQueuedDpcs();                /* queued or running on another processor */
    KEXPECT_GE(DpcIncrements, LOCKING_DPC_RUNS * 100);
    KEXPECT_EQ(SharedCounter, mine + DpcIncrements);
}

/* ---- a real device line: the PIT on ISA IRQ 0, through the I/O APIC ---------------------- */

#define PIT_CHANNEL0 0x40
#define PIT_COMMAND  0x43
#define PIT_CMD_CH0_LOHI_RATE 0x34      /* channel 0, lo/hi byte, mode 2 (rate generator) */
#define PIT_CMD_CH0_LOHI_ONESHOT 0x30   /* mode 0: one count, then quiet */
#define PIT_HZ 1193182

static KDPC PitDpc;
static KEVENT PitEvent;
static volatile KIRQL PitIsrIrql;
static volatile ULONG PitIsrCount;

static VOID PitDpcRoutine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeSetEvent(&PitEvent, 0, FALSE);
}

static BOOLEAN PitIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    PitIsrIrql = KeGetCurrentIrql();
    PitIsrCount++;
    KeInsertQueueDpc(&PitDpc, NULL, NULL);
    return TRUE;
}

KTEST(interrupt, pit_isr_at_dirql_queues_dpc)
{
    PKINTERRUPT interrupt;
    KAFFINITY affinity;
    KIRQL irql;
    LARGE_INTEGER timeout = Rel(2000);
    ULONG vector = HalGetInterruptVector(Isa, 0, 0, 0, &irql, &affinity);
    ULONG count = PIT_HZ / 1000;

    KASSERT_NE(vector, 0);
    KEXPECT_EQ(irql, (KIRQL)(vector >> 4));
    KEXPECT_GE(irql, 3);
    KeInitializeDpc(&PitDpc, PitDpcRoutine, NULL);
    KeInitializeEvent(&PitEvent, NotificationEvent, FALSE);
    PitIsrCount = 0;
    KASSERT_EQ(IoConnectInterrupt(&interrupt, PitIsr, NULL, NULL, vector, irql, irql, Latched,
                                  FALSE, 1, FALSE), STATUS_SUCCESS);
    __outbyte(PIT_COMMAND, PIT_CMD_CH0_LOHI_RATE);
    __outbyte(PIT_CHANNEL0, (UCHAR)count);
    __outbyte(PIT_CHANNEL0, (UCHAR)(count >> 8));
    KEXPECT_EQ(KeWaitForSingleObject(&PitEvent, Executive, KernelMode, FALSE, &timeout), STATUS_WAIT_0);
    __outbyte(PIT_COMMAND, PIT_CMD_CH0_LOHI_ONESHOT);   /* quiet the PIT again */
    __outbyte(PIT_CHANNEL0, 0xFF);
    __outbyte(PIT_CHANNEL0, 0xFF);
    IoDisconnectInterrupt(interrupt);
    KEXPECT_GT(PitIsrCount, 0);
    KEXPECT_EQ(PitIsrIrql, irql);       /* the ISR ran at its DIRQL */
}

static BOOLEAN SyncRoutine(PVOID Context)
{
    *(KIRQL *)Context = KeGetCurrentIrql();
    return TRUE;
}

KTEST(interrupt, synchronize_execution_raises_to_dirql)
{
    PKINTERRUPT interrupt;
    KIRQL irql, seen = 0;
    ULONG vector = HalpAllocateMessageVector(&irql);

    KASSERT_NE(vector, 0);
    KASSERT_EQ(IoConnectInterrupt(&interrupt, PitIsr, NULL, NULL, vector, irql, irql, Latched,
                                  FALSE, 1, FALSE), STATUS_SUCCESS);
    KEXPECT_TRUE(KeSynchronizeExecution(interrupt, SyncRoutine, &seen));
    KEXPECT_EQ(seen, irql);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    /* A self-IPI reaches the ISR; its DPC runs when the level drops. */
    KeInitializeDpc(&PitDpc, PitDpcRoutine, NULL);
    KeInitializeEvent(&PitEvent, NotificationEvent, FALSE);
    HalpRequestSelfInterrupt(vector);
    KEXPECT_EQ(KeReadStateEvent(&PitEvent), 1);
    IoDisconnectInterrupt(interrupt);
}

KTEST(time, stall_and_counters)
{
    LARGE_INTEGER freq, a, b;
    ULONGLONG t0 = KeQueryInterruptTime();

    a = KeQueryPerformanceCounter(&freq);
    KeStallExecutionProcessor(1000);
    b = KeQueryPerformanceCounter(NULL);
    KEXPECT_EQ((ULONG64)freq.QuadPart, KeTimeStampFrequency);
    KEXPECT_GE((ULONG64)(b.QuadPart - a.QuadPart), KeTimeStampFrequency / 1000);
    KEXPECT_GE(KeQueryInterruptTime() - t0, 10000ULL);
    KEXPECT_EQ(KeQueryTimeIncrement(), 10000);
}

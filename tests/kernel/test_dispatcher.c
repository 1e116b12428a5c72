/*
 * test_dispatcher.c - dispatcher objects as NT drivers use them: the
 * priority boost a signaller gives (and its decay), NT's object headers,
 * semaphores, KePulseEvent, mutex ownership and critical regions, the
 * Unsafe fast-mutex pair, PsCreateSystemThread at APC_LEVEL.
 *
 * The test thread is the initial thread, a dynamic thread at priority 8,
 * the priority PsCreateSystemThread gives. On one processor "the woken
 * thread ran before KeSetEvent returned" is a plain flag: it is only true
 * if the wake-up preempted the signaller.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define MS(n) ((LONGLONG)(n) * -10000)      /* relative time, 100 ns units */
#define KTD_BASE_PRIORITY 8                 /* PsCreateSystemThread's, and ours */

static void KtdSleep(LONG Ms)
{
    LARGE_INTEGER t = {.QuadPart = MS(Ms)};
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

static HANDLE KtdStart(PKSTART_ROUTINE Routine, PVOID Context)
{
    HANDLE h = NULL;

    KEXPECT_EQ(KtestCreateThread(&h, Routine, Context), STATUS_SUCCESS);
    return h;
}

static void KtdJoin(HANDLE Handle)
{
    PVOID thread;

    if (Handle == NULL)
        return;
    KEXPECT_EQ(ObReferenceObjectByHandle(Handle, 0, NULL, KernelMode, &thread, NULL),
               STATUS_SUCCESS);
    KEXPECT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    ObDereferenceObject(thread);
    KEXPECT_EQ(ZwClose(Handle), STATUS_SUCCESS);
}

/* ---- priority boost and decay ------------------------------------------------------------- */

static KEVENT BoostEvent;
static volatile BOOLEAN SignallerReturned, RanBeforeSignaller;
static volatile LONG SeenPriority[8];
static volatile ULONG SeenCount;

static void RecordPriority(KPRIORITY Priority)
{
    if (SeenCount < ARRAYSIZE(SeenPriority))
        SeenPriority[SeenCount] = Priority;
    SeenCount++;
}

/* Wait, then note the priority at every change until it is back at the base. */
static VOID BoostedSpinner(PVOID Context)
{
    PKTHREAD self = KeGetCurrentThread();
    ULONGLONG start;
    KPRIORITY last;

    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&BoostEvent, Executive, KernelMode, FALSE, NULL);
    RanBeforeSignaller = !SignallerReturned;
    last = KeQueryPriorityThread(self);
    RecordPriority(last);
    start = KeQueryInterruptTime();
    /* Never waits: only quantum ends can take the boost away. 5 s is a
     * guard against a decay that never comes, far beyond the ~8 ticks. */
    while (last > KTD_BASE_PRIORITY && KeQueryInterruptTime() - start < 5000 * 10000ULL) {
        KPRIORITY now = KeQueryPriorityThread(self);
        if (now != last)
            RecordPriority(last = now);
    }
}

KTEST(dispatcher, boost_runs_waiter_first_then_decays_per_quantum)
{
    KAFFINITY pinned = KtestOnOneProcessorBegin();
    HANDLE h;

    KASSERT_EQ(KeQueryPriorityThread(KeGetCurrentThread()), KTD_BASE_PRIORITY);
    KeInitializeEvent(&BoostEvent, SynchronizationEvent, FALSE);
    SignallerReturned = RanBeforeSignaller = FALSE;
    SeenCount = 0;
    h = KtdStart(BoostedSpinner, NULL);
    KtdSleep(10);                           /* it blocks on the event */
    KEXPECT_EQ(SeenCount, 0);
    KeSetEvent(&BoostEvent, 2, FALSE);      /* 8 + 2: above us, so it runs now */
    SignallerReturned = TRUE;
    KEXPECT_TRUE(RanBeforeSignaller);
    KtdJoin(h);
    /* 10 at the wake-up, one level less per quantum used up, back at 8. */
    KEXPECT_EQ(SeenCount, 3);
    KEXPECT_EQ(SeenPriority[0], 10);
    KEXPECT_EQ(SeenPriority[1], 9);
    KEXPECT_EQ(SeenPriority[2], 8);
    KtestOnOneProcessorEnd(pinned);
}

/*
 * A quantum is processor time, not a time slice per dispatch: a boosted
 * thread that runs in short bursts between waits (timer wake-ups bring no
 * boost) uses its quanta up bit by bit and still decays to its base. Each
 * burst is a tick and a half of work, so the clock charges it one or two
 * ticks (a thread that sleeps on a timer wakes just after a tick, so a
 * shorter burst would be charged only by chance); that is less than a
 * quantum, so without the carry-over the thread would never decay.
 */
static volatile KPRIORITY BurstyWoke, BurstyEnded;

static VOID BurstyWaiter(PVOID Context)
{
    PKTHREAD self = KeGetCurrentThread();
    LARGE_INTEGER nap = {.QuadPart = MS(1)};
    ULONGLONG start, burst;

    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&BoostEvent, Executive, KernelMode, FALSE, NULL);
    BurstyWoke = KeQueryPriorityThread(self);
    start = KeQueryInterruptTime();
    while (KeQueryPriorityThread(self) > KTD_BASE_PRIORITY &&
           KeQueryInterruptTime() - start < 20000 * 10000ULL) {
        burst = KeQueryInterruptTime();
        while (KeQueryInterruptTime() - burst < 15000)      /* a tick and a half of work */
            ;
        KeDelayExecutionThread(KernelMode, FALSE, &nap);
    }
    BurstyEnded = KeQueryPriorityThread(self);
}

KTEST(dispatcher, boost_decays_for_a_thread_that_waits_often)
{
    KAFFINITY pinned = KtestOnOneProcessorBegin();
    HANDLE h;

    KeInitializeEvent(&BoostEvent, SynchronizationEvent, FALSE);
    BurstyWoke = BurstyEnded = 0;
    h = KtdStart(BurstyWaiter, NULL);
    KtdSleep(10);
    KeSetEvent(&BoostEvent, 4, FALSE);
    KtdJoin(h);
    KEXPECT_EQ(BurstyWoke, KTD_BASE_PRIORITY + 4);
    KEXPECT_EQ(BurstyEnded, KTD_BASE_PRIORITY);
    KtestOnOneProcessorEnd(pinned);
}

/* Set our base, wait, report the priority we woke with. */
typedef struct _KTD_WAKE {
    KPRIORITY Base;
    PVOID Object;
    volatile KPRIORITY Woke;
    volatile BOOLEAN Ran;
} KTD_WAKE;

static VOID WakeAndReport(PVOID Context)
{
    KTD_WAKE *w = Context;

    KeSetPriorityThread(KeGetCurrentThread(), w->Base);
    KeWaitForSingleObject(w->Object, Executive, KernelMode, FALSE, NULL);
    w->Woke = KeQueryPriorityThread(KeGetCurrentThread());
    w->Ran = TRUE;
    if (((DISPATCHER_HEADER *)w->Object)->Type == MutantObject)
        KeReleaseMutex(w->Object, FALSE);   /* a thread may not end holding one */
}

/* Boost Base by signalling Object with Signal(); the priority the waiter woke at. */
static KPRIORITY WokeAt(KPRIORITY Base, PVOID Object, void (*Signal)(PVOID), BOOLEAN *RanFirst)
{
    KTD_WAKE w = {.Base = Base, .Object = Object};
    HANDLE h = KtdStart(WakeAndReport, &w);

    KtdSleep(10);
    Signal(Object);
    *RanFirst = w.Ran;
    KtdJoin(h);
    return w.Woke;
}

static void SetBy5(PVOID Event) { KeSetEvent(Event, 5, FALSE); }
static void SetBy0(PVOID Event) { KeSetEvent(Event, IO_NO_INCREMENT, FALSE); }
static void ReleaseBy3(PVOID Semaphore) { KeReleaseSemaphore(Semaphore, 3, 1, FALSE); }
static void ReleaseMutex(PVOID Mutex) { KeReleaseMutex(Mutex, FALSE); }

KTEST(dispatcher, boost_cap_realtime_and_other_signallers)
{
    KAFFINITY pinned = KtestOnOneProcessorBegin();
    KEVENT e;
    KSEMAPHORE s;
    KMUTEX m;
    BOOLEAN first;

    KeInitializeEvent(&e, SynchronizationEvent, FALSE);
    /* A dynamic thread is never boosted past 15. */
    KEXPECT_EQ(WokeAt(14, &e, SetBy5, &first), 15);
    KEXPECT_TRUE(first);
    /* A real-time thread is never boosted. */
    KEXPECT_EQ(WokeAt(LOW_REALTIME_PRIORITY, &e, SetBy5, &first), LOW_REALTIME_PRIORITY);
    /* No increment, no boost: an equal-priority waiter waits its turn. */
    KEXPECT_EQ(WokeAt(KTD_BASE_PRIORITY, &e, SetBy0, &first), KTD_BASE_PRIORITY);
    KEXPECT_FALSE(first);
    /* KeReleaseSemaphore's Increment. */
    KeInitializeSemaphore(&s, 0, 1);
    KEXPECT_EQ(WokeAt(KTD_BASE_PRIORITY, &s, ReleaseBy3, &first), KTD_BASE_PRIORITY + 3);
    KEXPECT_TRUE(first);
    /* KeReleaseMutex hands the mutex over with MUTANT_INCREMENT. */
    KeInitializeMutex(&m, 0);
    KEXPECT_EQ(KeWaitForSingleObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(WokeAt(KTD_BASE_PRIORITY, &m, ReleaseMutex, &first),
               KTD_BASE_PRIORITY + MUTANT_INCREMENT);
    KEXPECT_TRUE(first);
    KEXPECT_EQ(KeReadStateMutex(&m), 1);    /* the waiter owned it, then released it */
    KtestOnOneProcessorEnd(pinned);
}

/* KeSetPriorityThread sets the base: a boost decays to it, not to the old base. */
KTEST(dispatcher, set_priority_sets_the_base)
{
    PKTHREAD self = KeGetCurrentThread();

    KEXPECT_EQ(KeSetPriorityThread(self, 12), KTD_BASE_PRIORITY);
    KEXPECT_EQ(self->BasePriority, 12);
    KEXPECT_EQ(KeQueryPriorityThread(self), 12);
    KtdSleep(20);                           /* quantum ends pass: nothing to decay */
    KEXPECT_EQ(KeQueryPriorityThread(self), 12);
    KEXPECT_EQ(KeSetPriorityThread(self, KTD_BASE_PRIORITY), 12);
    KEXPECT_EQ(self->BasePriority, KTD_BASE_PRIORITY);
}

/* ---- object headers ----------------------------------------------------------------------- */

KTEST(dispatcher, initializers_set_type_and_size)
{
    KEVENT e;
    KTIMER t;
    KMUTEX m;
    KSEMAPHORE s;

    /* Garbage first: the initializer must write every byte NT's does. */
    memset(&e, 0xCC, sizeof(e));
    memset(&t, 0xCC, sizeof(t));
    memset(&m, 0xCC, sizeof(m));
    memset(&s, 0xCC, sizeof(s));
    KeInitializeEvent(&e, SynchronizationEvent, TRUE);
    KEXPECT_EQ(e.Header.Type, EventSynchronizationObject);
    KEXPECT_EQ(e.Header.Size, 6);
    KEXPECT_EQ(e.Header.Signalling, 0);
    KEXPECT_EQ(e.Header.Reserved1, 0);
    KEXPECT_EQ(e.Header.SignalState, 1);

    KeInitializeTimerEx(&t, SynchronizationTimer);
    KEXPECT_EQ(t.Header.TimerType, TimerSynchronizationObject);
    KEXPECT_EQ(t.Header.Size, 16);
    KEXPECT_EQ(t.Header.Absolute, 0);
    KEXPECT_EQ(t.Header.Inserted, 0);
    KEXPECT_EQ(t.Period, 0);
    KEXPECT_EQ(t.Dpc, NULL);

    KeInitializeMutex(&m, 0);
    KEXPECT_EQ(m.Header.MutantType, MutantObject);
    KEXPECT_EQ(m.Header.MutantSize, 14);
    KEXPECT_EQ(m.Header.DpcActive, 0);
    KEXPECT_EQ(m.OwnerThread, NULL);
    KEXPECT_EQ(m.MutantFlags, 0);
    KEXPECT_EQ(m.ApcDisable, 1);

    KeInitializeSemaphore(&s, 2, 5);
    KEXPECT_EQ(s.Header.Type, SemaphoreObject);
    KEXPECT_EQ(s.Header.Size, 8);
    KEXPECT_EQ(s.Header.SignalState, 2);
    KEXPECT_EQ(s.Limit, 5);
}

/* ---- semaphores ---------------------------------------------------------------------------- */

static KSEMAPHORE CountedSemaphore;
static volatile LONG SemaphoreHolders;

static VOID TakeSemaphore(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&CountedSemaphore, Executive, KernelMode, FALSE, NULL);
    __atomic_add_fetch(&SemaphoreHolders, 1, __ATOMIC_SEQ_CST);
}

KTEST(semaphore, counts_limit_and_wakes_as_many_as_released)
{
    LARGE_INTEGER zero = {.QuadPart = 0};
    HANDLE h[3];

    KeInitializeSemaphore(&CountedSemaphore, 2, 3);
    KEXPECT_EQ(KeWaitForSingleObject(&CountedSemaphore, Executive, KernelMode, FALSE, &zero),
               STATUS_WAIT_0);
    KEXPECT_EQ(KeWaitForSingleObject(&CountedSemaphore, Executive, KernelMode, FALSE, &zero),
               STATUS_WAIT_0);
    KEXPECT_EQ(KeWaitForSingleObject(&CountedSemaphore, Executive, KernelMode, FALSE, &zero),
               STATUS_TIMEOUT);
    KEXPECT_EQ(KeReadStateSemaphore(&CountedSemaphore), 0);
    KEXPECT_EQ(KeReleaseSemaphore(&CountedSemaphore, SEMAPHORE_INCREMENT, 3, FALSE), 0);
    KEXPECT_EQ(KeReadStateSemaphore(&CountedSemaphore), 3);     /* up to the limit: fine */
    KEXPECT_EQ(KeReleaseSemaphore(&CountedSemaphore, SEMAPHORE_INCREMENT, 0, FALSE), 3);
    for (int i = 0; i < 3; i++)
        KEXPECT_EQ(KeWaitForSingleObject(&CountedSemaphore, Executive, KernelMode, FALSE, &zero),
                   STATUS_WAIT_0);

    /* Three waiters, a release of two: exactly two get through. */
    SemaphoreHolders = 0;
    for (int i = 0; i < 3; i++)
        h[i] = KtdStart(TakeSemaphore, NULL);
    KtdSleep(10);
    KEXPECT_EQ(SemaphoreHolders, 0);
    KEXPECT_EQ(KeReleaseSemaphore(&CountedSemaphore, IO_NO_INCREMENT, 2, FALSE), 0);
    /* With several processors the two run elsewhere, whenever the host
     * gives their processors time: wait for them (2 s at most). */
    for (int i = 0; i < 200 && SemaphoreHolders < 2; i++)
        KtdSleep(10);
    KtdSleep(10);
    KEXPECT_EQ(SemaphoreHolders, 2);
    KEXPECT_EQ(KeReadStateSemaphore(&CountedSemaphore), 0);
    KeReleaseSemaphore(&CountedSemaphore, IO_NO_INCREMENT, 1, FALSE);
    for (int i = 0; i < 3; i++)
        KtdJoin(h[i]);
    KEXPECT_EQ(SemaphoreHolders, 3);
}

/* ---- KePulseEvent ---------------------------------------------------------------------------- */

static KEVENT PulsedEvent;
static volatile LONG PulseWoken;

static VOID WaitForPulse(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&PulsedEvent, Executive, KernelMode, FALSE, NULL);
    __atomic_add_fetch(&PulseWoken, 1, __ATOMIC_SEQ_CST);
}

KTEST(event, pulse_wakes_waiters_and_leaves_it_reset)
{
    HANDLE h[3];

    /* Notification: every waiter goes, and the event ends not signalled. */
    KeInitializeEvent(&PulsedEvent, NotificationEvent, FALSE);
    PulseWoken = 0;
    h[0] = KtdStart(WaitForPulse, NULL);
    h[1] = KtdStart(WaitForPulse, NULL);
    KtdSleep(10);
    KEXPECT_EQ(KePulseEvent(&PulsedEvent, IO_NO_INCREMENT, FALSE), 0);
    KEXPECT_EQ(KeReadStateEvent(&PulsedEvent), 0);
    KtdJoin(h[0]);
    KtdJoin(h[1]);
    KEXPECT_EQ(PulseWoken, 2);

    /* No waiter: nothing stays signalled for a later one. */
    KEXPECT_EQ(KePulseEvent(&PulsedEvent, IO_NO_INCREMENT, FALSE), 0);
    KEXPECT_EQ(KeReadStateEvent(&PulsedEvent), 0);
    /* Already signalled: the pulse reports it and resets it. */
    KeSetEvent(&PulsedEvent, IO_NO_INCREMENT, FALSE);
    KEXPECT_EQ(KePulseEvent(&PulsedEvent, IO_NO_INCREMENT, FALSE), 1);
    KEXPECT_EQ(KeReadStateEvent(&PulsedEvent), 0);

    /* Synchronization: one waiter per pulse. */
    KeInitializeEvent(&PulsedEvent, SynchronizationEvent, FALSE);
    PulseWoken = 0;
    h[0] = KtdStart(WaitForPulse, NULL);
    h[1] = KtdStart(WaitForPulse, NULL);
    KtdSleep(10);
    KePulseEvent(&PulsedEvent, IO_NO_INCREMENT, FALSE);
    KtdSleep(10);
    KEXPECT_EQ(PulseWoken, 1);
    KEXPECT_EQ(KeReadStateEvent(&PulsedEvent), 0);
    KePulseEvent(&PulsedEvent, IO_NO_INCREMENT, FALSE);
    KtdJoin(h[0]);
    KtdJoin(h[1]);
    KEXPECT_EQ(PulseWoken, 2);
}

/* ---- mutexes: ownership, the owner's list, critical regions ---------------------------------- */

KTEST(mutex, owner_list_and_critical_region)
{
    PKTHREAD self = KeGetCurrentThread();
    KMUTEX a, b;

    KeInitializeMutex(&a, 0);
    KeInitializeMutex(&b, 0);
    KEXPECT_FALSE(KeAreApcsDisabled());
    KEXPECT_EQ(KeWaitForSingleObject(&a, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(a.OwnerThread, self);
    KEXPECT_TRUE(KeAreApcsDisabled());      /* a held mutex is a critical region */
    KEXPECT_EQ(self->KernelApcDisable, -1);
    KEXPECT_EQ(KeWaitForSingleObject(&a, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(self->KernelApcDisable, -1); /* recursion takes no second count */
    KEXPECT_EQ(KeWaitForSingleObject(&b, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(self->KernelApcDisable, -2);
    KEXPECT_EQ(self->MutantListHead.Flink, &a.MutantListEntry);
    KEXPECT_EQ(a.MutantListEntry.Flink, &b.MutantListEntry);
    KEXPECT_EQ(b.MutantListEntry.Flink, &self->MutantListHead);

    KEXPECT_EQ(KeReleaseMutex(&a, FALSE), -1);
    KEXPECT_EQ(a.OwnerThread, self);        /* still held once */
    KEXPECT_EQ(KeReleaseMutex(&a, FALSE), 0);
    KEXPECT_EQ(a.OwnerThread, NULL);
    KEXPECT_EQ(KeReadStateMutex(&a), 1);
    KEXPECT_EQ(self->MutantListHead.Flink, &b.MutantListEntry);
    KEXPECT_EQ(KeReleaseMutex(&b, FALSE), 0);
    KEXPECT_TRUE(IsListEmpty(&self->MutantListHead));
    KEXPECT_EQ(self->CombinedApcDisable, 0);
    KEXPECT_FALSE(KeAreApcsDisabled());
}

/* One acquisition short of the limit still works; the state reaches MINLONG, not +MAXLONG. */
KTEST(mutex, deepest_recursion_does_not_wrap)
{
    KMUTEX m;

    KeInitializeMutex(&m, 0);
    KEXPECT_EQ(KeWaitForSingleObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    m.Header.SignalState = MINLONG + 1;     /* as if acquired 2^31 times */
    KEXPECT_EQ(KeWaitForSingleObject(&m, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KEXPECT_EQ(KeReadStateMutex(&m), MINLONG);
    m.Header.SignalState = 0;               /* back to held once */
    KEXPECT_EQ(KeReleaseMutex(&m, FALSE), 0);
    KEXPECT_EQ(KeReadStateMutex(&m), 1);
}

/* ---- critical and guarded regions --------------------------------------------------------------- */

KTEST(apc, critical_and_guarded_regions_nest)
{
    PKTHREAD self = KeGetCurrentThread();
    KIRQL old;

    KEXPECT_EQ(self->CombinedApcDisable, 0);
    KEXPECT_FALSE(KeAreApcsDisabled());
    KEXPECT_FALSE(KeAreAllApcsDisabled());
    KeEnterCriticalRegion();
    KeEnterCriticalRegion();
    KEXPECT_EQ(self->KernelApcDisable, -2);
    KEXPECT_TRUE(KeAreApcsDisabled());
    KEXPECT_FALSE(KeAreAllApcsDisabled());  /* special kernel APCs still come */
    KeLeaveCriticalRegion();
    KEXPECT_TRUE(KeAreApcsDisabled());
    KeLeaveCriticalRegion();
    KEXPECT_FALSE(KeAreApcsDisabled());

    KeEnterGuardedRegion();
    KEXPECT_EQ(self->SpecialApcDisable, -1);
    KEXPECT_EQ(self->KernelApcDisable, 0);
    KEXPECT_TRUE(KeAreApcsDisabled());
    KEXPECT_TRUE(KeAreAllApcsDisabled());
    KeLeaveGuardedRegion();
    KEXPECT_EQ(self->CombinedApcDisable, 0);

    /* APC_LEVEL disables all APCs, but is not a region. */
    KeRaiseIrql(APC_LEVEL, &old);
    KEXPECT_TRUE(KeAreAllApcsDisabled());
    KEXPECT_FALSE(KeAreApcsDisabled());
    KeEnterCriticalRegion();                /* allowed at APC_LEVEL */
    KEXPECT_TRUE(KeAreApcsDisabled());
    KeLeaveCriticalRegion();
    KeLowerIrql(old);
}

/* ---- the Unsafe fast-mutex pair -------------------------------------------------------------- */

static FAST_MUTEX UnsafeMutex;
static volatile LONG UnsafeInside, UnsafeOverlap, UnsafeRounds;

static VOID UnsafeUser(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (int i = 0; i < 50; i++) {
        KeEnterCriticalRegion();
        ExAcquireFastMutexUnsafe(&UnsafeMutex);
        if (__atomic_add_fetch(&UnsafeInside, 1, __ATOMIC_SEQ_CST) != 1)
            UnsafeOverlap++;
        KtdSleep(1);                        /* hold it across a wait: others block */
        __atomic_sub_fetch(&UnsafeInside, 1, __ATOMIC_SEQ_CST);
        ExReleaseFastMutexUnsafe(&UnsafeMutex);
        KeLeaveCriticalRegion();
        UnsafeRounds++;
    }
}

KTEST(fastmutex, unsafe_pair_keeps_irql_and_excludes)
{
    KIRQL old;
    HANDLE h[2];

    ExInitializeFastMutex(&UnsafeMutex);
    /* At APC_LEVEL: the IRQL is the caller's business, not the mutex's. */
    KeRaiseIrql(APC_LEVEL, &old);
    ExAcquireFastMutexUnsafe(&UnsafeMutex);
    KEXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KEXPECT_EQ(UnsafeMutex.Owner, KeGetCurrentThread());
    KEXPECT_FALSE(ExTryToAcquireFastMutex(&UnsafeMutex));
    ExReleaseFastMutexUnsafe(&UnsafeMutex);
    KEXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(old);
    /* At PASSIVE_LEVEL inside a critical region. */
    KeEnterCriticalRegion();
    ExAcquireFastMutexUnsafe(&UnsafeMutex);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    ExReleaseFastMutexUnsafe(&UnsafeMutex);
    KeLeaveCriticalRegion();
    KEXPECT_EQ(UnsafeMutex.Count, 1);

    UnsafeInside = UnsafeOverlap = UnsafeRounds = 0;
    h[0] = KtdStart(UnsafeUser, NULL);
    h[1] = KtdStart(UnsafeUser, NULL);
    KtdJoin(h[0]);
    KtdJoin(h[1]);
    KEXPECT_EQ(UnsafeRounds, 100);
    KEXPECT_EQ(UnsafeOverlap, 0);
    KEXPECT_GT(UnsafeMutex.Contention, 0);  /* they did meet */
    KEXPECT_EQ(UnsafeMutex.Count, 1);
}

/* ---- PsCreateSystemThread at APC_LEVEL ---------------------------------------------------------- */

static volatile BOOLEAN ApcLevelChildRan;

static VOID ApcLevelChild(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    ApcLevelChildRan = KeGetCurrentIrql() == PASSIVE_LEVEL;
}

/* Learn says PASSIVE_LEVEL; Windows allows APC_LEVEL (e.g. under a fast mutex). */
KTEST(thread, create_at_apc_level)
{
    FAST_MUTEX f;
    HANDLE h = NULL;

    ApcLevelChildRan = FALSE;
    ExInitializeFastMutex(&f);
    ExAcquireFastMutex(&f);
    KEXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KEXPECT_EQ(PsCreateSystemThread(&h, 0, NULL, NULL, NULL, ApcLevelChild, NULL), STATUS_SUCCESS);
    ExReleaseFastMutex(&f);
    KtdJoin(h);
    KEXPECT_TRUE(ApcLevelChildRan);         /* and the new thread starts at PASSIVE_LEVEL */
}

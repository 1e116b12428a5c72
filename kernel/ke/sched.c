/*
 * sched.c - the dispatcher: which thread runs.
 *
 * Ready threads wait in 32 queues, one per priority, with a bit per
 * non-empty queue in KiReadySummary so the highest ready priority is one
 * bit scan. The running thread keeps the processor until it waits, ends,
 * is preempted by a higher-priority thread becoming ready, or uses up its
 * quantum (KI_QUANTUM_TICKS clock ticks), when it goes to the back of its
 * queue behind threads of equal priority (round robin). With nothing
 * ready, the idle thread halts the processor.
 *
 * Priorities are NT's: a thread has a base priority (KeSetPriorityThread)
 * and a current one. When a wait ends because someone signalled an
 * object, the signaller's Increment raises the current priority to base +
 * Increment (KiBoostPriority; at most 15 - a boost never makes a thread
 * real-time - and never for a real-time thread, base >= 16), so the woken
 * thread usually preempts its waker. Each quantum the boosted thread uses
 * up takes one level off again (KiDecayPriority), down to the base.
 *
 * A quantum is processor time, as in NT: the clock charges the running
 * thread a tick at a time (clock.c), a thread that waits or is preempted
 * keeps what is left of it, and a fresh one starts only when it is used up
 * (KiEndQuantum), on a boost, or on KeSetPriorityThread. So a boosted
 * thread that runs in short bursts between waits still loses its boost.
 *
 * Switching happens only at DISPATCH_LEVEL, with KiDispatcherLock held,
 * never while the IRQL is above it: the clock and KiReadyThread only set
 * KPRCB.DispatchRequest, and the switch happens when the IRQL next drops
 * below DISPATCH_LEVEL (irql.c, dpc.c).
 *
 * Several processors share the one set of ready queues under the one
 * dispatcher lock (NT before Server 2003 did the same; NT now keeps a
 * queue per processor to spare the lock traffic). With Mica's few
 * processors one lock keeps every rule in one place: a thread is never on
 * two processors at once because the lock is held across the switch -
 * the old thread takes it, KiSwapContext saves the old registers, and the
 * new thread releases it (after KiSwapContext returns in it, or in
 * KiThreadStartup) - so no other processor can pick the old thread before
 * its registers are saved. Each thread has an affinity; a processor takes
 * only the threads allowed on it (KiSelectReadyThread looks past the
 * others, so a queue walk can be longer than one step). When a thread
 * becomes ready, KiReadyThread picks the processor that should run it: an
 * idle one it may run on (this one first, then where it last ran), else
 * the one running the lowest priority below its own; that processor is
 * asked to reschedule, by an IPI when it is another (ipi.c).
 */
#include "ke_internal.h"
#include "../../mm/mm.h"

KSPIN_LOCK KiDispatcherLock;
static LIST_ENTRY KiReadyQueues[MAXIMUM_PRIORITY];
static ULONG KiReadySummary;
static KAFFINITY KiIdleSummary;         /* processors running their idle thread */

KIRQL KiAcquireDispatcherLock(VOID)
{
    KIRQL old;
    KeAcquireSpinLock(&KiDispatcherLock, &old);
    return old;
}

VOID KiReleaseDispatcherLock(KIRQL OldIrql)
{
    KeReleaseSpinLock(&KiDispatcherLock, OldIrql);
}

VOID KiInitializeScheduler(VOID)
{
    KeInitializeSpinLock(&KiDispatcherLock);
    for (ULONG i = 0; i < MAXIMUM_PRIORITY; i++)
        InitializeListHead(&KiReadyQueues[i]);
}

static void KiInsertReady(PKTHREAD Thread, BOOLEAN AtHead)
{
    Thread->State = Ready;
    if (AtHead)
        InsertHeadList(&KiReadyQueues[Thread->Priority], &Thread->ReadyListEntry);
    else
        InsertTailList(&KiReadyQueues[Thread->Priority], &Thread->ReadyListEntry);
    KiReadySummary |= 1u << Thread->Priority;
}

/* Dispatcher lock held: take a Ready thread off its queue. */
static void KiRemoveReady(PKTHREAD Thread)
{
    RemoveEntryList(&Thread->ReadyListEntry);
    if (IsListEmpty(&KiReadyQueues[Thread->Priority]))
        KiReadySummary &= ~(1u << Thread->Priority);
}

/* The first thread of the highest ready priority, left queued; the idle thread if
 * none. Only a bug-check parameter, so KiCheckSwitchFromDpc reads it unlocked. */
static PKTHREAD KiPeekReadyThread(void)
{
    if (KiReadySummary == 0)
        return KeGetCurrentPrcb()->IdleThread;
    return CONTAINING_RECORD(KiReadyQueues[31 - __builtin_clz(KiReadySummary)].Flink, KTHREAD,
                             ReadyListEntry);
}

/* The first thread of the highest ready priority >= Minimum that may run
 * on this processor, dequeued; or NULL. */
static PKTHREAD KiSelectReadyThread(ULONG Minimum)
{
    KAFFINITY self = AFFINITY_MASK(KeGetCurrentPrcb()->Number);
    ULONG summary = KiReadySummary;

    while (summary != 0) {
        ULONG priority = 31 - (ULONG)__builtin_clz(summary);
        PLIST_ENTRY head = &KiReadyQueues[priority];

        if (priority < Minimum)
            return NULL;
        for (PLIST_ENTRY e = head->Flink; e != head; e = e->Flink) {
            PKTHREAD thread = CONTAINING_RECORD(e, KTHREAD, ReadyListEntry);
            if (thread->Affinity & self) {
                RemoveEntryList(e);
                if (IsListEmpty(head))
                    KiReadySummary &= ~(1u << priority);
                return thread;
            }
        }
        summary &= ~(1u << priority);
    }
    return NULL;
}

/* Dispatcher lock held; Thread is waiting (on no ready queue). */
VOID KiBoostPriority(PKTHREAD Thread, KPRIORITY Increment)
{
    KPRIORITY priority;

    if (Increment <= 0 || Thread->BasePriority >= LOW_REALTIME_PRIORITY)
        return;
    priority = Thread->BasePriority + Increment;
    if (priority >= LOW_REALTIME_PRIORITY)
        priority = LOW_REALTIME_PRIORITY - 1;
    if (priority > Thread->Priority) {
        Thread->Priority = (SCHAR)priority;
        Thread->Quantum = KI_QUANTUM_TICKS;
    }
}

/* Dispatcher lock held; Thread is running (on no ready queue). One level of boost gone. */
static void KiDecayPriority(PKTHREAD Thread)
{
    if (Thread->Priority < LOW_REALTIME_PRIORITY && Thread->Priority > Thread->BasePriority)
        Thread->Priority--;
}

/* Dispatcher lock held: Thread used up its quantum. */
static void KiEndQuantum(PKTHREAD Thread)
{
    KiDecayPriority(Thread);
    Thread->Quantum = KI_QUANTUM_TICKS;
}

/*
 * NT's SwapContext refuses to leave a thread while a DPC routine runs on
 * it: the DPC borrowed the thread's stack and has no context of its own to
 * come back to. Mica checks where a switch could start (a wait that may
 * block, a delay, a yield) and again in the switch itself.
 */
static __attribute__((noreturn)) void KiSwitchFromDpc(PKTHREAD Old, PKTHREAD New)
{
    KeBugCheckEx(ATTEMPTED_SWITCH_FROM_DPC, (ULONG_PTR)Old, (ULONG_PTR)New, Old->StackBase, 0);
}

/* Interrupts are off for the look: at IRQL < DISPATCH_LEVEL the thread
 * could otherwise move to another processor between reading its PRCB and
 * reading the flag, and see that processor's DPC (a false stop seen with
 * four processors under paging load). */
VOID KiCheckSwitchFromDpc(VOID)
{
    ULONG64 flags = __readeflags();
    PKPRCB prcb;
    BOOLEAN active;

    _disable();
    prcb = KeGetCurrentPrcb();
    active = prcb->DpcRoutineActive;
    if (flags & EFLAGS_IF_MASK)
        _enable();
    if (active)
        KiSwitchFromDpc(prcb->CurrentThread, KiPeekReadyThread());
}

/* Dispatcher lock held: ask processor Number to reschedule (Thread is the candidate). */
static void KiRequestReschedule(ULONG Number, PKTHREAD Thread)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    KiIdleSummary &= ~AFFINITY_MASK(Number);    /* spoken for: the next ready thread looks elsewhere */
    if (Number == prcb->Number) {
        prcb->NextThread = Thread;
        prcb->DispatchRequest = 1;
    } else {
        KiProcessorBlock[Number]->NextThread = Thread;
        KiIpiRequestDispatch(Number);
    }
}

/* Dispatcher lock held: Thread is ready; queue it and find it a processor. */
VOID KiReadyThread(PKTHREAD Thread)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KAFFINITY allowed = Thread->Affinity & KeActiveProcessors, idle = KiIdleSummary & allowed;
    KAFFINITY self = AFFINITY_MASK(prcb->Number);
    ULONG target = MAXIMUM_PROCESSORS;
    SCHAR lowest = Thread->Priority;

    KiInsertReady(Thread, FALSE);
    if (idle != 0) {
        if (idle & self)
            target = prcb->Number;
        else if (idle & AFFINITY_MASK(Thread->NextProcessor))
            target = Thread->NextProcessor;
        else
            target = (ULONG)__builtin_ctzll(idle);
    } else {
        /* Preempt the lowest-priority thread below Thread's; this processor on a tie. */
        for (KAFFINITY a = allowed; a != 0; a &= a - 1) {
            ULONG n = (ULONG)__builtin_ctzll(a);
            PKTHREAD running = KiProcessorBlock[n]->CurrentThread;
            if (running->Priority < lowest ||
                (n == prcb->Number && running->Priority < Thread->Priority &&
                 running->Priority == lowest)) {
                lowest = running->Priority;
                target = n;
            }
        }
    }
    if (target != MAXIMUM_PROCESSORS)
        KiRequestReschedule(target, Thread);
}

static void KiSwapToThread(PKTHREAD Next)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD old = prcb->CurrentThread;

    if (prcb->DpcRoutineActive)
        KiSwitchFromDpc(old, Next);
    prcb->NextThread = NULL;
    /* The clock may have ended old's quantum just before it waited: the
     * end is owed all the same, though no quantum-end dispatch will come. */
    prcb->QuantumEnd = FALSE;
    if (old->Quantum == 0 && old != prcb->IdleThread)
        KiEndQuantum(old);
    if (Next->IdleThread)
        KiIdleSummary |= AFFINITY_MASK(prcb->Number);
    else
        KiIdleSummary &= ~AFFINITY_MASK(prcb->Number);
    if (Next == old) {
        old->State = Running;
        return;
    }
    Next->State = Running;
    Next->NextProcessor = prcb->Number;
    Next->ContextSwitches++;
    prcb->ContextSwitches++;
    prcb->CurrentThread = Next;
    KiSwapContext(old, Next);
    KiAfterContextSwitch();             /* we are `old` again, resumed later */
}

/*
 * The current thread stops running (it is waiting or terminated; its state
 * says which): run the best ready thread, or the idle thread.
 */
VOID KiSwapThread(VOID)
{
    PKTHREAD next = KiSelectReadyThread(0);

    KiSwapToThread(next ? next : KeGetCurrentPrcb()->IdleThread);
}

/* From KiDispatchInterrupt at DISPATCH_LEVEL: preemption and round robin. */
VOID KiQuantumEnd(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KIRQL old = KiAcquireDispatcherLock();
    PKTHREAD current = prcb->CurrentThread, next;
    BOOLEAN quantumEnd = prcb->QuantumEnd;

    prcb->QuantumEnd = FALSE;
    prcb->NextThread = NULL;
    if (current == prcb->IdleThread) {
        next = KiSelectReadyThread(0);
    } else if (!(current->Affinity & AFFINITY_MASK(prcb->Number))) {
        /* Its affinity changed while it ran: it must leave this processor. */
        next = KiSelectReadyThread(0);
        KiReadyThread(current);
        if (next == NULL)
            next = prcb->IdleThread;
    } else {
        if (quantumEnd)
            KiEndQuantum(current);
        /* Equal priority takes over only at the end of a quantum. */
        next = KiSelectReadyThread((ULONG)current->Priority + (quantumEnd ? 0 : 1));
        if (next != NULL)
            KiInsertReady(current, !quantumEnd);    /* preempted: back at the head */
    }
    if (next != NULL)
        KiSwapToThread(next);
    KiReleaseDispatcherLock(old);
}

KPRIORITY KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority)
{
    KIRQL old;
    KPRIORITY previous;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeSetPriorityThread);
    /* The WDK allows LOW_PRIORITY + 1 .. HIGH_PRIORITY; refuse the rest loudly. */
    if (Priority < LOW_PRIORITY + 1 || Priority > HIGH_PRIORITY) {
        DbgPrint("KeSetPriorityThread: priority %d out of range, ignored\n", (int)Priority);
        return Thread->Priority;
    }
    old = KiAcquireDispatcherLock();
    previous = Thread->Priority;
    Thread->BasePriority = (SCHAR)Priority;     /* and any boost is gone */
    Thread->Quantum = KI_QUANTUM_TICKS;
    if (Thread->State == Ready) {
        KiRemoveReady(Thread);
        Thread->Priority = (SCHAR)Priority;
        KiReadyThread(Thread);
    } else {
        Thread->Priority = (SCHAR)Priority;
        /* A running thread that was lowered may now owe its processor. */
        if (Thread->State == Running && KiReadySummary != 0 &&
            31 - (ULONG)__builtin_clz(KiReadySummary) > (ULONG)Priority) {
            KiRequestReschedule(Thread->NextProcessor, Thread);
        }
    }
    KiReleaseDispatcherLock(old);
    return previous;
}

KPRIORITY KeQueryPriorityThread(PKTHREAD Thread)
{
    return Thread->Priority;
}

/* KeDelayExecutionThread(0): the rest of the quantum to a ready thread of equal priority. */
VOID KiYieldToEqualPriority(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KIRQL old = KiAcquireDispatcherLock();
    PKTHREAD current = prcb->CurrentThread;
    PKTHREAD next = KiSelectReadyThread((ULONG)current->Priority);

    if (next != NULL) {
        KiInsertReady(current, FALSE);
        KiSwapToThread(next);
    }
    KiReleaseDispatcherLock(old);
}

/*
 * NtYieldExecution: unlike a zero delay, this yields to a ready thread of
 * *any* priority (above the idle thread's). The yielder is treated as at
 * the end of its quantum - one level of boost decays - and goes to the
 * back of its ready queue; a lower-priority thread that gets the processor
 * keeps it until its quantum ends or it waits, as in NT.
 */
NTSTATUS ZwYieldExecution(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD current, next;
    KIRQL old;

    KiCheckSwitchFromDpc();
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ZwYieldExecution);
    old = KiAcquireDispatcherLock();
    current = prcb->CurrentThread;
    next = KiSelectReadyThread(LOW_PRIORITY + 1);
    if (next != NULL) {
        KiEndQuantum(current);
        KiInsertReady(current, FALSE);
        KiSwapToThread(next);
    }
    KiReleaseDispatcherLock(old);
    return next != NULL ? STATUS_SUCCESS : STATUS_NO_YIELD_PERFORMED;
}

__attribute__((noreturn)) VOID KiIdleLoop(VOID)
{
    /* Interrupts wake the halt; their epilogue runs DPCs and switches. */
    for (;;) {
        _enable();
        __halt();
    }
}

/* Unlocked: a hint for the clock of an idle processor (a stale answer costs a tick). */
BOOLEAN KiReadyThreadsWaiting(VOID)
{
    return __atomic_load_n(&KiReadySummary, __ATOMIC_RELAXED) != 0;
}

/* ---- Affinity ------------------------------------------------------------------ */

/* Dispatcher lock held: Thread may now run only on Affinity (already checked non-empty). */
static void KiSetAffinityLocked(PKTHREAD Thread, KAFFINITY Affinity)
{
    Thread->Affinity = Affinity;
    if (Thread->State == Ready) {
        /* Requeue: KiReadyThread finds it a processor it may run on. */
        KiRemoveReady(Thread);
        KiReadyThread(Thread);
    } else if (Thread->State == Running && !(Affinity & AFFINITY_MASK(Thread->NextProcessor))) {
        /* KiQuantumEnd on its processor moves it off (at once if that is us:
         * when the caller's IRQL drops below DISPATCH_LEVEL). */
        KiRequestReschedule(Thread->NextProcessor, Thread);
    }
}

KAFFINITY KeSetAffinityThread(PKTHREAD Thread, KAFFINITY Affinity)
{
    KAFFINITY previous;
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeSetAffinityThread);
    if ((Affinity & KeActiveProcessors) == 0)
        return 0;
    old = KiAcquireDispatcherLock();
    previous = Thread->UserAffinity;
    Thread->UserAffinity = Affinity;
    if (!Thread->SystemAffinityActive && !Thread->IdleThread)
        KiSetAffinityLocked(Thread, Affinity);
    KiReleaseDispatcherLock(old);
    return previous;
}

/* Returns the previous system affinity (0 if none was in force). */
KAFFINITY KeSetSystemAffinityThreadEx(KAFFINITY Affinity)
{
    PKTHREAD thread = KeGetCurrentThread();
    KAFFINITY previous;
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeSetSystemAffinityThreadEx);
    Affinity &= KeActiveProcessors;
    if (Affinity == 0)
        return thread->SystemAffinityActive ? thread->Affinity : 0;
    old = KiAcquireDispatcherLock();
    previous = thread->SystemAffinityActive ? thread->Affinity : 0;
    thread->SystemAffinityActive = TRUE;
    KiSetAffinityLocked(thread, Affinity);
    KiReleaseDispatcherLock(old);       /* off this processor here, if it must go */
    return previous;
}

VOID KeSetSystemAffinityThread(KAFFINITY Affinity)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeSetSystemAffinityThread);
    KeSetSystemAffinityThreadEx(Affinity);
}

/* Affinity 0: back to the thread's own; else that system affinity again. */
VOID KeRevertToUserAffinityThreadEx(KAFFINITY Affinity)
{
    PKTHREAD thread = KeGetCurrentThread();
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeRevertToUserAffinityThreadEx);
    Affinity &= KeActiveProcessors;
    old = KiAcquireDispatcherLock();
    if (Affinity == 0) {
        thread->SystemAffinityActive = FALSE;
        KiSetAffinityLocked(thread, thread->UserAffinity);
    } else {
        thread->SystemAffinityActive = TRUE;
        KiSetAffinityLocked(thread, Affinity);
    }
    KiReleaseDispatcherLock(old);
}

VOID KeRevertToUserAffinityThread(VOID)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeRevertToUserAffinityThread);
    KeRevertToUserAffinityThreadEx(0);
}

/* A processor that has just started: it runs its idle thread, ready for work. */
VOID KiProcessorIdleReady(VOID)
{
    KIRQL old = KiAcquireDispatcherLock();

    KiIdleSummary |= AFFINITY_MASK(KeGetCurrentPrcb()->Number);
    KiReleaseDispatcherLock(old);
}

/*
 * The kd> shell's !ready: up to Max ready threads, highest priority first,
 * copied under the dispatcher lock; returns how many are ready.
 */
ULONG KiSnapshotReadyThreads(PKTHREAD *Out, ULONG Max)
{
    KIRQL old = KiAcquireDispatcherLock();
    ULONG n = 0;

    for (LONG p = MAXIMUM_PRIORITY - 1; p >= 0; p--)
        for (PLIST_ENTRY e = KiReadyQueues[p].Flink; e != &KiReadyQueues[p]; e = e->Flink, n++)
            if (n < Max)
                Out[n] = CONTAINING_RECORD(e, KTHREAD, ReadyListEntry);
    KiReleaseDispatcherLock(old);
    return n;
}

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
 */
#include "ke_internal.h"
#include "../mm/mm.h"

KSPIN_LOCK KiDispatcherLock;
static LIST_ENTRY KiReadyQueues[MAXIMUM_PRIORITY];
static ULONG KiReadySummary;

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

/* The first thread of the highest ready priority, left queued; the idle thread if
 * none. Only a bug-check parameter, so KiCheckSwitchFromDpc reads it unlocked. */
static PKTHREAD KiPeekReadyThread(void)
{
    if (KiReadySummary == 0)
        return KeGetCurrentPrcb()->IdleThread;
    return CONTAINING_RECORD(KiReadyQueues[31 - __builtin_clz(KiReadySummary)].Flink, KTHREAD,
                             ReadyListEntry);
}

/* The first thread of the highest ready priority >= Minimum, dequeued; or NULL. */
static PKTHREAD KiSelectReadyThread(ULONG Minimum)
{
    ULONG priority;
    PKTHREAD thread;

    if (KiReadySummary == 0)
        return NULL;
    priority = 31 - (ULONG)__builtin_clz(KiReadySummary);
    if (priority < Minimum)
        return NULL;
    thread = CONTAINING_RECORD(RemoveHeadList(&KiReadyQueues[priority]), KTHREAD, ReadyListEntry);
    if (IsListEmpty(&KiReadyQueues[priority]))
        KiReadySummary &= ~(1u << priority);
    return thread;
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

VOID KiCheckSwitchFromDpc(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    if (prcb->DpcRoutineActive)
        KiSwitchFromDpc(prcb->CurrentThread, KiPeekReadyThread());
}

/* Dispatcher lock held. */
VOID KiReadyThread(PKTHREAD Thread)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD current = prcb->CurrentThread;

    KiInsertReady(Thread, FALSE);
    if (current == prcb->IdleThread || Thread->Priority > current->Priority) {
        prcb->NextThread = Thread;
        prcb->DispatchRequest = 1;
    }
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
    if (Next == old) {
        old->State = Running;
        return;
    }
    Next->State = Running;
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
    PKPRCB prcb = KeGetCurrentPrcb();

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
        RemoveEntryList(&Thread->ReadyListEntry);
        if (IsListEmpty(&KiReadyQueues[Thread->Priority]))
            KiReadySummary &= ~(1u << Thread->Priority);
        Thread->Priority = (SCHAR)Priority;
        KiReadyThread(Thread);
    } else {
        Thread->Priority = (SCHAR)Priority;
        /* A running thread that lowered itself may now owe the processor. */
        if (Thread == prcb->CurrentThread && KiReadySummary != 0 &&
            31 - (ULONG)__builtin_clz(KiReadySummary) > (ULONG)Priority) {
            prcb->NextThread = Thread;
            prcb->DispatchRequest = 1;
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

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

    prcb->NextThread = NULL;
    prcb->QuantumEnd = FALSE;
    Next->Quantum = KI_QUANTUM_TICKS;
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
        /* Equal priority takes over only at the end of a quantum. */
        next = KiSelectReadyThread(quantumEnd ? current->Priority : current->Priority + 1u);
        if (next != NULL)
            KiInsertReady(current, !quantumEnd);    /* preempted: back at the head */
        else
            current->Quantum = KI_QUANTUM_TICKS;
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
    if (Thread->State == Ready) {
        RemoveEntryList(&Thread->ReadyListEntry);
        if (IsListEmpty(&KiReadyQueues[Thread->Priority]))
            KiReadySummary &= ~(1u << Thread->Priority);
        Thread->Priority = (UCHAR)Priority;
        KiReadyThread(Thread);
    } else {
        Thread->Priority = (UCHAR)Priority;
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

/* Give the rest of the quantum to a ready thread of equal priority, if any. */
BOOLEAN KeYieldProcessor(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KIRQL old = KiAcquireDispatcherLock();
    PKTHREAD current = prcb->CurrentThread;
    PKTHREAD next = KiSelectReadyThread(current->Priority);

    if (next != NULL) {
        KiInsertReady(current, FALSE);
        KiSwapToThread(next);
    }
    KiReleaseDispatcherLock(old);
    return next != NULL;
}

__attribute__((noreturn)) VOID KiIdleLoop(VOID)
{
    /* Interrupts wake the halt; their epilogue runs DPCs and switches. */
    for (;;) {
        _enable();
        __halt();
    }
}

/*
 * dpc.c - deferred procedure calls.
 *
 * An interrupt service routine runs at device IRQL and must be short: it
 * queues a DPC, and the DPC does the rest at DISPATCH_LEVEL once nothing
 * more urgent is running. Each processor has one DPC queue in its KPRCB,
 * under that KPRCB's DpcLock. A DPC goes to the queue of the processor
 * that inserts it, or to the one KeSetTargetProcessorDpc named, which is
 * then asked by an IPI to look at its queue. KeInsertQueueDpc may be
 * called at any IRQL; it raises to HIGH_LEVEL for the list operation (so
 * an ISR cannot interleave), and a queue drains the moment its
 * processor's IRQL drops below DISPATCH_LEVEL (irql.c). A DPC is
 * queued at most once: inserting a queued DPC returns FALSE and does
 * nothing, so one insertion means exactly one run.
 */
#include "ke_internal.h"

#define DPC_NORMAL 0x13                 /* NT's KOBJECTS value for a DPC */

VOID KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    Dpc->Type = DPC_NORMAL;
    Dpc->Importance = MediumImportance;
    Dpc->Number = 0;
    Dpc->DeferredRoutine = DeferredRoutine;
    Dpc->DeferredContext = DeferredContext;
    Dpc->DpcData = NULL;
}

VOID KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance)
{
    Dpc->Importance = (UCHAR)Importance;
}

/* NT keeps a targeted DPC's processor in Number, offset by MAXIMUM_PROCESSORS
 * (0 means "whichever processor inserts it"). */
VOID KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number)
{
    Dpc->Number = (USHORT)((UCHAR)Number + MAXIMUM_PROCESSORS);
}

NTSTATUS KeSetTargetProcessorDpcEx(PKDPC Dpc, PPROCESSOR_NUMBER ProcNumber)
{
    if (ProcNumber == NULL || ProcNumber->Group != 0 || ProcNumber->Number >= MAXIMUM_PROCESSORS ||
        !(KeActiveProcessors & AFFINITY_MASK(ProcNumber->Number)))
        return STATUS_INVALID_PARAMETER;
    KeSetTargetProcessorDpc(Dpc, (CCHAR)ProcNumber->Number);
    return STATUS_SUCCESS;
}

/*
 * The queue is the target processor's, under its DpcLock, so another
 * processor may insert too. Whether the DPC is queued is DpcData, set
 * under that lock with a compare-exchange: two processors inserting the
 * same DPC into two queues at once both see it, and only one wins. Both
 * happen at HIGH_LEVEL, so no interrupt on this processor can come between.
 */
BOOLEAN KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2)
{
    KIRQL old = KfRaiseIrql(HIGH_LEVEL);
    PKPRCB self = KeGetCurrentPrcb(), prcb = self;     /* read at HIGH_LEVEL: we cannot move */
    PVOID expected = NULL;

    if (Dpc->Number >= MAXIMUM_PROCESSORS) {
        PKPRCB target = KiProcessorBlock[Dpc->Number - MAXIMUM_PROCESSORS];
        if (target != NULL)             /* a processor that never started: run it here */
            prcb = target;
    }
    KeAcquireSpinLockAtDpcLevel(&prcb->DpcLock);
    if (!__atomic_compare_exchange_n(&Dpc->DpcData, &expected, prcb, FALSE, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED)) {
        KeReleaseSpinLockFromDpcLevel(&prcb->DpcLock);
        KeLowerIrql(old);
        return FALSE;
    }
    Dpc->SystemArgument1 = SystemArgument1;
    Dpc->SystemArgument2 = SystemArgument2;
    if (Dpc->Importance == HighImportance)
        InsertHeadList(&prcb->DpcListHead, &Dpc->DpcListEntry);
    else
        InsertTailList(&prcb->DpcListHead, &Dpc->DpcListEntry);
    prcb->DpcQueueDepth++;
    KeReleaseSpinLockFromDpcLevel(&prcb->DpcLock);
    if (prcb == self)
        prcb->DispatchRequest = 1;
    else
        KiIpiRequestDispatch(prcb->Number);
    KeLowerIrql(old);           /* below DISPATCH_LEVEL this runs it now */
    return TRUE;
}

BOOLEAN KeRemoveQueueDpc(PRKDPC Dpc)
{
    KIRQL old = KfRaiseIrql(HIGH_LEVEL);
    PKPRCB prcb;

    /* Its queue's lock, then look again: it may have run (or moved) meanwhile. */
    while ((prcb = __atomic_load_n(&Dpc->DpcData, __ATOMIC_ACQUIRE)) != NULL) {
        KeAcquireSpinLockAtDpcLevel(&prcb->DpcLock);
        if (Dpc->DpcData == prcb) {
            RemoveEntryList(&Dpc->DpcListEntry);
            prcb->DpcQueueDepth--;
            __atomic_store_n(&Dpc->DpcData, NULL, __ATOMIC_RELEASE);
            KeReleaseSpinLockFromDpcLevel(&prcb->DpcLock);
            break;
        }
        KeReleaseSpinLockFromDpcLevel(&prcb->DpcLock);
    }
    KeLowerIrql(old);
    return prcb != NULL;
}

/*
 * Run every queued DPC, at DISPATCH_LEVEL. Each is unlinked (at HIGH_LEVEL,
 * briefly) before its routine runs, so the routine may queue it again. A
 * routine must return at DISPATCH_LEVEL; one that does not (a spin lock
 * still held, a raise never undone) is IRQL_UNEXPECTED_VALUE 0xC8, the stop
 * code Learn gives for "the IRQL is not what it should be at this time"
 * (parameters in ke_internal.h, KI_IRQL_UNEXPECTED).
 */
VOID KiRetireDpcList(PKPRCB Prcb)
{
    for (;;) {
        PKDPC dpc;
        PKDEFERRED_ROUTINE routine;
        PVOID context, arg1, arg2;
        KIRQL irql;

        KiWriteCr8(HIGH_LEVEL);
        KeAcquireSpinLockAtDpcLevel(&Prcb->DpcLock);
        if (IsListEmpty(&Prcb->DpcListHead)) {
            KeReleaseSpinLockFromDpcLevel(&Prcb->DpcLock);
            KiWriteCr8(DISPATCH_LEVEL);
            return;
        }
        dpc = CONTAINING_RECORD(RemoveHeadList(&Prcb->DpcListHead), KDPC, DpcListEntry);
        Prcb->DpcQueueDepth--;
        routine = dpc->DeferredRoutine;
        context = dpc->DeferredContext;
        arg1 = dpc->SystemArgument1;
        arg2 = dpc->SystemArgument2;
        __atomic_store_n(&dpc->DpcData, NULL, __ATOMIC_RELEASE);
        KeReleaseSpinLockFromDpcLevel(&Prcb->DpcLock);
        KiWriteCr8(DISPATCH_LEVEL);

        Prcb->DpcRoutineActive = TRUE;
        routine(dpc, context, arg1, arg2);
        Prcb->DpcRoutineActive = FALSE;
        Prcb->DpcCount++;
        irql = KeGetCurrentIrql();
        if (irql != DISPATCH_LEVEL)
            KeBugCheckEx(IRQL_UNEXPECTED_VALUE,
                         KI_IRQL_UNEXPECTED(irql, DISPATCH_LEVEL, KI_IRQL_UNEXPECTED_DPC),
                         (ULONG_PTR)routine, (ULONG_PTR)dpc, 0);
    }
}

/*
 * NT's DISPATCH_LEVEL software interrupt: drain the DPC queue, then switch
 * threads if the clock or a wake-up asked for it. Called at DISPATCH_LEVEL
 * with interrupts enabled.
 */
VOID KiDispatchInterrupt(VOID)
{
    PKPRCB prcb;

    /* The PRCB is read again each round: KiQuantumEnd may switch this
     * thread out, and it may come back on another processor, whose queue
     * it must drain (draining the old one's would run that processor's
     * DPCs here, with its DpcRoutineActive set under another thread). */
    while ((prcb = KeGetCurrentPrcb())->DispatchRequest) {
        prcb->DispatchRequest = 0;
        KiRetireDpcList(prcb);
        if (prcb->NextThread != NULL || prcb->QuantumEnd)
            KiQuantumEnd();
    }
}

/*
 * A marker DPC at the tail of every processor's queue: when all markers
 * have run, so has every DPC queued before them (a queue runs in order;
 * high-importance DPCs go to the head, ahead of the marker anyway).
 */
typedef struct _KI_FLUSH_DPC {
    KDPC Dpc;
    volatile LONG *Remaining;
    PKEVENT Done;
} KI_FLUSH_DPC;

static VOID KiFlushDpcMarker(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    KI_FLUSH_DPC *marker = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    if (__atomic_sub_fetch(marker->Remaining, 1, __ATOMIC_ACQ_REL) == 0)
        KeSetEvent(marker->Done, IO_NO_INCREMENT, FALSE);
}

static KI_FLUSH_DPC KiFlushMarkers[MAXIMUM_PROCESSORS];
static KEVENT KiFlushInUse;             /* one flush at a time uses the markers */

VOID KiInitializeDpcFlush(VOID)
{
    KeInitializeEvent(&KiFlushInUse, SynchronizationEvent, TRUE);
}

VOID KeFlushQueuedDpcs(VOID)
{
    KI_FLUSH_DPC *markers = KiFlushMarkers;
    KAFFINITY active = KeActiveProcessors;
    volatile LONG remaining = (LONG)RtlNumberOfSetBitsUlongPtr(active);
    KEVENT done;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, KeFlushQueuedDpcs);
    KeWaitForSingleObject(&KiFlushInUse, Executive, KernelMode, FALSE, NULL);
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    for (KAFFINITY a = active; a != 0; a &= a - 1) {
        ULONG n = (ULONG)__builtin_ctzll(a);
        KeInitializeDpc(&markers[n].Dpc, KiFlushDpcMarker, &markers[n]);
        KeSetImportanceDpc(&markers[n].Dpc, LowImportance);
        KeSetTargetProcessorDpc(&markers[n].Dpc, (CCHAR)n);
        markers[n].Remaining = &remaining;
        markers[n].Done = &done;
        KeInsertQueueDpc(&markers[n].Dpc, NULL, NULL);
    }
    KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    KeSetEvent(&KiFlushInUse, IO_NO_INCREMENT, FALSE);
}

/*
 * The kd> shell's !dpcs: up to Max DPCs queued on Prcb's processor, in
 * queue order, copied under its DPC lock; returns how many are queued.
 */
ULONG KiSnapshotDpcQueue(PKPRCB Prcb, PKI_DPC_SNAPSHOT Out, ULONG Max)
{
    KIRQL old;
    ULONG n = 0;

    KeAcquireSpinLock(&Prcb->DpcLock, &old);
    for (PLIST_ENTRY e = Prcb->DpcListHead.Flink; e != &Prcb->DpcListHead; e = e->Flink, n++)
        if (n < Max) {
            PKDPC d = CONTAINING_RECORD(e, KDPC, DpcListEntry);
            Out[n].Dpc = d;
            Out[n].DeferredRoutine = d->DeferredRoutine;
            Out[n].Importance = d->Importance;
        }
    KeReleaseSpinLock(&Prcb->DpcLock, old);
    return n;
}

/*
 * dpc.c - deferred procedure calls.
 *
 * An interrupt service routine runs at device IRQL and must be short: it
 * queues a DPC, and the DPC does the rest at DISPATCH_LEVEL once nothing
 * more urgent is running. Each processor has one DPC queue in its KPRCB.
 * KeInsertQueueDpc may be called at any IRQL; it raises to HIGH_LEVEL for
 * the list operation (so an ISR cannot interleave), and the queue drains
 * the moment the IRQL drops below DISPATCH_LEVEL (irql.c). A DPC is
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

BOOLEAN KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KIRQL old = KfRaiseIrql(HIGH_LEVEL);

    if (Dpc->DpcData != NULL) {
        KeLowerIrql(old);
        return FALSE;
    }
    Dpc->DpcData = prcb;
    Dpc->SystemArgument1 = SystemArgument1;
    Dpc->SystemArgument2 = SystemArgument2;
    if (Dpc->Importance == HighImportance)
        InsertHeadList(&prcb->DpcListHead, &Dpc->DpcListEntry);
    else
        InsertTailList(&prcb->DpcListHead, &Dpc->DpcListEntry);
    prcb->DpcQueueDepth++;
    prcb->DispatchRequest = 1;
    KeLowerIrql(old);           /* below DISPATCH_LEVEL this runs it now */
    return TRUE;
}

BOOLEAN KeRemoveQueueDpc(PRKDPC Dpc)
{
    KIRQL old = KfRaiseIrql(HIGH_LEVEL);
    PKPRCB prcb = Dpc->DpcData;

    if (prcb != NULL) {
        RemoveEntryList(&Dpc->DpcListEntry);
        prcb->DpcQueueDepth--;
        Dpc->DpcData = NULL;
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
        if (IsListEmpty(&Prcb->DpcListHead)) {
            KiWriteCr8(DISPATCH_LEVEL);
            return;
        }
        dpc = CONTAINING_RECORD(RemoveHeadList(&Prcb->DpcListHead), KDPC, DpcListEntry);
        Prcb->DpcQueueDepth--;
        routine = dpc->DeferredRoutine;
        context = dpc->DeferredContext;
        arg1 = dpc->SystemArgument1;
        arg2 = dpc->SystemArgument2;
        dpc->DpcData = NULL;
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
    PKPRCB prcb = KeGetCurrentPrcb();

    while (prcb->DispatchRequest) {
        prcb->DispatchRequest = 0;
        KiRetireDpcList(prcb);
        if (prcb->NextThread != NULL || prcb->QuantumEnd)
            KiQuantumEnd();
    }
}

/*
 * Every queue drains the moment its processor's IRQL drops below
 * DISPATCH_LEVEL, so passing through DISPATCH_LEVEL and back runs what
 * this processor has queued. With one processor that is every queue; the
 * loop covers a DPC that a DPC or an interrupt queued meanwhile. (With
 * several processors each must be made to do the same: an IPI.)
 */
VOID KeFlushQueuedDpcs(VOID)
{
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, KeFlushQueuedDpcs);
    do {
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        KeLowerIrql(old);
    } while (KeGetCurrentPrcb()->DpcQueueDepth != 0);
}

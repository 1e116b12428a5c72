/*
 * cancel.c - cancelling IRPs: the global cancel spin lock and IoCancelIrp.
 *
 * A driver that holds an IRP for a while sets a cancel routine
 * (IoSetCancelRoutine, an atomic exchange: io.h). IoCancelIrp marks the
 * IRP cancelled and, if a routine is set, takes it away (so it runs once)
 * and calls it at DISPATCH_LEVEL holding the cancel spin lock, with
 * Irp->CancelIrql the IRQL to release it to. Whoever takes the routine
 * away first owns the IRP: a driver dequeuing an IRP calls
 * IoSetCancelRoutine(Irp, NULL) and completes it only if that returned
 * non-NULL. Cancel-safe queues (csq.c) wrap this dance.
 */
#include "iop.h"

static KSPIN_LOCK IopCancelSpinLock;

VOID IoAcquireCancelSpinLock(PKIRQL Irql)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoAcquireCancelSpinLock);
    KeAcquireSpinLock(&IopCancelSpinLock, Irql);
}

VOID IoReleaseCancelSpinLock(KIRQL Irql)
{
    KeReleaseSpinLock(&IopCancelSpinLock, Irql);
}

BOOLEAN IoCancelIrp(PIRP Irp)
{
    PDRIVER_CANCEL routine;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoCancelIrp);
    IoAcquireCancelSpinLock(&irql);
    Irp->Cancel = TRUE;
    routine = IoSetCancelRoutine(Irp, NULL);
    if (routine == NULL) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    Irp->CancelIrql = irql;
    /* The routine releases the lock (IoReleaseCancelSpinLock(Irp->CancelIrql)). */
    routine(IoGetCurrentIrpStackLocation(Irp)->DeviceObject, Irp);
    return TRUE;
}

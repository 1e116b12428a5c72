/*
 * csq.c - cancel-safe IRP queues (IoCsq*): the driver keeps the queue and
 * its lock (six callbacks), the I/O manager does the cancel logic.
 *
 * Invariant: a queued IRP has the CSQ's cancel routine set, and
 * Irp->Tail.Overlay.DriverContext[3] points at its IO_CSQ_IRP_CONTEXT (or
 * at the IO_CSQ itself when the driver gave no context). Removing an IRP
 * first takes the cancel routine away (IoSetCancelRoutine(Irp, NULL)):
 * if that returns NULL, IoCancelIrp got there first and the cancel routine
 * below will dequeue and complete it, so the remover must leave it alone.
 * Every queue change happens under the driver's lock.
 */
#include "iop.h"

static PIO_CSQ IopCsqOf(PVOID Context)
{
    PIO_CSQ_IRP_CONTEXT irpContext = Context;

    return irpContext->Type == IO_TYPE_CSQ_IRP_CONTEXT ? irpContext->Csq : (PIO_CSQ)Context;
}

/* Forget the IRP's context: it is no longer queued (caller holds the lock). */
static VOID IopCsqDetach(PIRP Irp)
{
    PIO_CSQ_IRP_CONTEXT context = Irp->Tail.Overlay.DriverContext[3];

    if (context != NULL && context->Type == IO_TYPE_CSQ_IRP_CONTEXT)
        context->Irp = NULL;
    Irp->Tail.Overlay.DriverContext[3] = NULL;
}

static VOID IopCsqCancelRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_CSQ csq;
    KIRQL irql;

    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    csq = IopCsqOf(Irp->Tail.Overlay.DriverContext[3]);
    csq->CsqAcquireLock(csq, &irql);
    csq->CsqRemoveIrp(csq, Irp);
    IopCsqDetach(Irp);
    csq->CsqReleaseLock(csq, irql);
    csq->CsqCompleteCanceledIrp(csq, Irp);
}

static VOID IopCsqFill(PIO_CSQ Csq, ULONG Type, PVOID Insert, PIO_CSQ_REMOVE_IRP Remove,
                       PIO_CSQ_PEEK_NEXT_IRP Peek, PIO_CSQ_ACQUIRE_LOCK Acquire,
                       PIO_CSQ_RELEASE_LOCK Release, PIO_CSQ_COMPLETE_CANCELED_IRP Complete)
{
    Csq->Type = Type;
    Csq->CsqInsertIrp = (PIO_CSQ_INSERT_IRP)Insert;
    Csq->CsqRemoveIrp = Remove;
    Csq->CsqPeekNextIrp = Peek;
    Csq->CsqAcquireLock = Acquire;
    Csq->CsqReleaseLock = Release;
    Csq->CsqCompleteCanceledIrp = Complete;
    Csq->ReservePointer = NULL;
}

NTSTATUS IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp,
                         PIO_CSQ_REMOVE_IRP CsqRemoveIrp, PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp,
                         PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock, PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                         PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    IopCsqFill(Csq, IO_TYPE_CSQ, (PVOID)CsqInsertIrp, CsqRemoveIrp, CsqPeekNextIrp,
               CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
    return STATUS_SUCCESS;
}

NTSTATUS IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp,
                           PIO_CSQ_REMOVE_IRP CsqRemoveIrp, PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp,
                           PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock, PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                           PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    IopCsqFill(Csq, IO_TYPE_CSQ_EX, (PVOID)CsqInsertIrp, CsqRemoveIrp, CsqPeekNextIrp,
               CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
    return STATUS_SUCCESS;
}

NTSTATUS IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext)
{
    NTSTATUS status = STATUS_SUCCESS;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoCsqInsertIrpEx);
    Csq->CsqAcquireLock(Csq, &irql);
    if (Csq->Type == IO_TYPE_CSQ_EX) {
        status = ((PIO_CSQ_INSERT_IRP_EX)(PVOID)Csq->CsqInsertIrp)(Csq, Irp, InsertContext);
        if (!NT_SUCCESS(status)) {
            Csq->CsqReleaseLock(Csq, irql);
            return status;              /* not queued, not marked pending */
        }
    } else {
        Csq->CsqInsertIrp(Csq, Irp);
    }
    /* Marked before anyone else can take it off the queue (they need the lock). */
    IoMarkIrpPending(Irp);
    if (Context != NULL) {
        Context->Type = IO_TYPE_CSQ_IRP_CONTEXT;
        Context->Irp = Irp;
        Context->Csq = Csq;
        Irp->Tail.Overlay.DriverContext[3] = Context;
    } else {
        Irp->Tail.Overlay.DriverContext[3] = Csq;
    }
    IoSetCancelRoutine(Irp, IopCsqCancelRoutine);
    /* Cancelled before the routine was set: IoCancelIrp found none, so the
     * IRP would stay queued for ever. Take it back and cancel it here,
     * unless IoCancelIrp is just now calling our routine. */
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        Csq->CsqRemoveIrp(Csq, Irp);
        IopCsqDetach(Irp);
        Csq->CsqReleaseLock(Csq, irql);
        Csq->CsqCompleteCanceledIrp(Csq, Irp);
        return status;
    }
    Csq->CsqReleaseLock(Csq, irql);
    return status;
}

VOID IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoCsqInsertIrp);
    IoCsqInsertIrpEx(Csq, Irp, Context, NULL);
}

PIRP IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext)
{
    PIRP irp;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoCsqRemoveNextIrp);
    Csq->CsqAcquireLock(Csq, &irql);
    for (irp = Csq->CsqPeekNextIrp(Csq, NULL, PeekContext); irp != NULL;
         irp = Csq->CsqPeekNextIrp(Csq, irp, PeekContext)) {
        if (IoSetCancelRoutine(irp, NULL) != NULL) {
            Csq->CsqRemoveIrp(Csq, irp);
            IopCsqDetach(irp);
            break;
        }
        /* Being cancelled: its cancel routine will dequeue it; skip it. */
    }
    Csq->CsqReleaseLock(Csq, irql);
    return irp;
}

PIRP IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context)
{
    PIRP irp;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoCsqRemoveIrp);
    Csq->CsqAcquireLock(Csq, &irql);
    irp = Context->Irp;
    if (irp != NULL) {
        if (IoSetCancelRoutine(irp, NULL) != NULL) {
            Csq->CsqRemoveIrp(Csq, irp);
            IopCsqDetach(irp);
        } else {
            irp = NULL;                 /* the cancel routine has it */
        }
    }
    Csq->CsqReleaseLock(Csq, irql);
    return irp;
}

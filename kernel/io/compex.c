/*
 * compex.c - IoSetCompletionRoutineEx: a completion routine that keeps its
 * driver's device object referenced until it has run (NT pins the driver
 * image so; Mica has no unloading, so the device is what it pins).
 *
 * The I/O manager puts its own routine in the next stack location with a
 * small nonpaged context, asking to be called in every case (so the
 * reference is always dropped); it calls the driver's routine when the
 * driver's SL_INVOKE_ON_* conditions hold, and otherwise does what
 * IoCompleteRequest does for a location without a routine (pass the
 * pending mark up).
 */
#include "iop.h"

typedef struct _IOP_COMPLETION_CONTEXT {
    PDEVICE_OBJECT DeviceObject;
    PIO_COMPLETION_ROUTINE Routine;
    PVOID Context;
    UCHAR Control;                      /* the SL_INVOKE_ON_* the driver asked for */
} IOP_COMPLETION_CONTEXT, *PIOP_COMPLETION_CONTEXT;

static NTSTATUS IopCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    IOP_COMPLETION_CONTEXT c = *(PIOP_COMPLETION_CONTEXT)Context;
    NTSTATUS irpStatus = Irp->IoStatus.Status;
    NTSTATUS status = STATUS_SUCCESS;

    ExFreePoolWithTag(Context, IOP_TAG_COMPLETE);
    if ((NT_SUCCESS(irpStatus) && (c.Control & SL_INVOKE_ON_SUCCESS)) ||
        (!NT_SUCCESS(irpStatus) && (c.Control & SL_INVOKE_ON_ERROR)) ||
        (Irp->Cancel && (c.Control & SL_INVOKE_ON_CANCEL)))
        status = c.Routine(DeviceObject, Irp, c.Context);
    else if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount)
        IoMarkIrpPending(Irp);
    ObDereferenceObject(c.DeviceObject);
    return status;
}

NTSTATUS IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                  PIO_COMPLETION_ROUTINE CompletionRoutine, PVOID Context,
                                  BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                  BOOLEAN InvokeOnCancel)
{
    PIOP_COMPLETION_CONTEXT c;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoSetCompletionRoutineEx);
    c = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*c), IOP_TAG_COMPLETE);
    if (c == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    c->DeviceObject = DeviceObject;
    c->Routine = CompletionRoutine;
    c->Context = Context;
    c->Control = (InvokeOnSuccess ? SL_INVOKE_ON_SUCCESS : 0) | (InvokeOnError ? SL_INVOKE_ON_ERROR : 0) |
                 (InvokeOnCancel ? SL_INVOKE_ON_CANCEL : 0);
    ObReferenceObject(DeviceObject);
    IoSetCompletionRoutine(Irp, IopCompletionRoutineEx, c, TRUE, TRUE, TRUE);
    return STATUS_SUCCESS;
}

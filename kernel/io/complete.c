/*
 * complete.c - IoCompleteRequest: the end of a request.
 *
 * The stack locations are walked from the current one up to the top. At
 * each, CurrentLocation steps up first, so a completion routine runs with
 * its own driver's location current; Irp->PendingReturned tells it whether
 * the driver below returned STATUS_PENDING. A routine runs when its
 * SL_INVOKE_ON_* bit matches (success, error, or Irp->Cancel); one that
 * returns STATUS_MORE_PROCESSING_REQUIRED stops the walk and the IRP is
 * no longer the I/O manager's. A location without a routine passes the
 * pending mark up (IoMarkIrpPending on the location above), so every
 * dispatch routine that returned STATUS_PENDING finds its location marked.
 *
 * An IRP IoBuild* made is then post-processed as NT's completion APC does
 * it: buffered data copied back, MDLs unlocked and freed, the caller's
 * IO_STATUS_BLOCK filled, its event set and the IRP freed. At PASSIVE or
 * APC_LEVEL that happens here; at DISPATCH_LEVEL (a DPC) it goes to a
 * system worker thread, because the caller's buffer may be pageable.
 *
 * Misuse stops the machine: completing an IRP no driver holds (twice,
 * typically) is MULTIPLE_IRP_COMPLETE_REQUESTS (0x44, the IRP); under
 * NT's I/O verification, which Mica always runs, completing with
 * STATUS_PENDING or -1 is 0xC9/0x06 (status, IRP), with a cancel routine
 * still set 0xC9/0x07 (routine, IRP), above DISPATCH_LEVEL 0xC9/0x0E
 * (IRQL, IRP).
 */
#include "iop.h"

#define NT_ERROR(Status) ((ULONG)(Status) >> 30 == 3)

/* A built IRP's post-processing context, in Tail.Apc as NT's APC is. */
typedef struct _IOP_COMPLETION_WORK {
    WORK_QUEUE_ITEM Item;
    CCHAR PriorityBoost;
} IOP_COMPLETION_WORK, *PIOP_COMPLETION_WORK;
_Static_assert(sizeof(IOP_COMPLETION_WORK) <= sizeof(((PIRP)0)->Tail.Apc), "fits in Tail.Apc");

static VOID IopPostProcess(PIRP Irp, CCHAR PriorityBoost)
{
    IO_STATUS_BLOCK status = Irp->IoStatus;
    PIO_STATUS_BLOCK userIosb = Irp->UserIosb;
    PKEVENT event = Irp->UserEvent;
    PMDL mdl, next;

    if (Irp->Flags & IRP_BUFFERED_IO) {
        /* A read's data comes back from the system buffer (NT: unless an
         * error; warnings such as STATUS_BUFFER_OVERFLOW still copy). The
         * caller's buffer size was kept in Overlay.AllocationSize. */
        if ((Irp->Flags & IRP_INPUT_OPERATION) && !NT_ERROR(status.Status) &&
            Irp->UserBuffer != NULL && Irp->AssociatedIrp.SystemBuffer != NULL) {
            ULONG_PTR bytes = status.Information;

            if (bytes > (ULONG_PTR)Irp->Overlay.AllocationSize.QuadPart)
                bytes = (ULONG_PTR)Irp->Overlay.AllocationSize.QuadPart;
            RtlCopyMemory(Irp->UserBuffer, Irp->AssociatedIrp.SystemBuffer, bytes);
        }
        if ((Irp->Flags & IRP_DEALLOCATE_BUFFER) && Irp->AssociatedIrp.SystemBuffer != NULL)
            ExFreePoolWithTag(Irp->AssociatedIrp.SystemBuffer, IOP_TAG_BUFFER);
    }
    for (mdl = Irp->MdlAddress; mdl != NULL; mdl = next) {
        next = mdl->Next;
        if (mdl->MdlFlags & MDL_PAGES_LOCKED)
            MmUnlockPages(mdl);
        IoFreeMdl(mdl);
    }
    Irp->MdlAddress = NULL;
    /* Free the IRP before waking the caller: once its event is set, its
     * IO_STATUS_BLOCK and event (often on its stack) are no longer ours. */
    IoFreeIrp(Irp);
    if (userIosb != NULL)
        *userIosb = status;
    if (event != NULL)
        KeSetEvent(event, PriorityBoost, FALSE);
}

static VOID IopPostProcessWorker(PVOID Parameter)
{
    PIRP irp = Parameter;
    PIOP_COMPLETION_WORK work = (PIOP_COMPLETION_WORK)irp->Tail.Apc;

    IopPostProcess(irp, work->PriorityBoost);
}

VOID IoCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    KIRQL irql = KeGetCurrentIrql();
    PIO_STACK_LOCATION stack;
    PDRIVER_CANCEL cancel;

    if (irql > DISPATCH_LEVEL)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_COMPLETE_ABOVE_DISPATCH,
                     irql, (ULONG_PTR)Irp, 0);
    /* No driver holds a location: the IRP was completed already (or freed). */
    if (Irp->Type != IO_TYPE_IRP || Irp->CurrentLocation > Irp->StackCount)
        KeBugCheckEx(MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)Irp, 0, 0, 0);
    if (Irp->IoStatus.Status == STATUS_PENDING || Irp->IoStatus.Status == (NTSTATUS)0xFFFFFFFF)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_COMPLETE_PENDING_STATUS,
                     (ULONG_PTR)(ULONG)Irp->IoStatus.Status, (ULONG_PTR)Irp, 0);
    cancel = Irp->CancelRoutine;
    if (cancel != NULL)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_COMPLETE_WITH_CANCEL,
                     (ULONG_PTR)cancel, (ULONG_PTR)Irp, 0);

    for (stack = IoGetCurrentIrpStackLocation(Irp); Irp->CurrentLocation <= Irp->StackCount; stack++) {
        UCHAR control = stack->Control;
        PIO_COMPLETION_ROUTINE routine = stack->CompletionRoutine;
        PVOID context = stack->Context;
        NTSTATUS status = Irp->IoStatus.Status;
        BOOLEAN invoke;

        Irp->PendingReturned = (control & SL_PENDING_RETURNED) != 0;
        IopNoteLocationCompleted(Irp, Irp->CurrentLocation, control, FALSE);
        Irp->CurrentLocation++;
        Irp->Tail.Overlay.CurrentStackLocation++;
        /* The location is finished: clear what belonged to it (NT does). */
        stack->MinorFunction = 0;
        stack->Flags = 0;
        stack->Control = 0;
        stack->CompletionRoutine = NULL;
        stack->Context = NULL;

        invoke = routine != NULL &&
                 ((NT_SUCCESS(status) && (control & SL_INVOKE_ON_SUCCESS)) ||
                  (!NT_SUCCESS(status) && (control & SL_INVOKE_ON_ERROR)) ||
                  (Irp->Cancel && (control & SL_INVOKE_ON_CANCEL)));
        if (invoke) {
            /* The routine's driver owns the location above (none: the top). */
            PDEVICE_OBJECT device = Irp->CurrentLocation <= Irp->StackCount
                                        ? IoGetCurrentIrpStackLocation(Irp)->DeviceObject
                                        : NULL;

            if (routine(device, Irp, context) == STATUS_MORE_PROCESSING_REQUIRED)
                return;
        } else if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount) {
            IoMarkIrpPending(Irp);
        }
    }

    if (!(Irp->AllocationFlags & IOP_IRP_BUILT))
        return;                         /* an IoAllocateIrp IRP: its owner's */
    if (KeGetCurrentIrql() < DISPATCH_LEVEL) {
        IopPostProcess(Irp, PriorityBoost);
    } else {
        PIOP_COMPLETION_WORK work = (PIOP_COMPLETION_WORK)Irp->Tail.Apc;

        work->PriorityBoost = PriorityBoost;
        ExInitializeWorkItem(&work->Item, IopPostProcessWorker, Irp);
        ExQueueWorkItem(&work->Item, CriticalWorkQueue);
    }
}

/*
 * call.c - IoCallDriver: hand an IRP to the driver of a device, one stack
 * location down, and check what the dispatch routine did with it.
 *
 * Checks (Driver Verifier's I/O verification, which Mica always runs):
 *   - no stack location left: NO_MORE_IRP_STACK_LOCATIONS (0x35, the IRP);
 *   - not an IRP / not a device: 0xC9 subcodes 0x03 / 0x04;
 *   - the dispatch routine returned at another IRQL: 0xC9/0x05 (device,
 *     IRQL before, IRQL after);
 *   - it returned STATUS_PENDING but its stack location was not marked with
 *     IoMarkIrpPending: 0xC9 with Mica's subcode 0x0F (the dispatch
 *     routine, the IRP, the device). NT's verifier reports this in the
 *     debugger (MarkIrpPending2 rule); Mica stops, since the I/O manager
 *     would otherwise finish the request twice or never.
 *
 * The last check cannot just look at the IRP after the dispatch routine
 * returns: by then another processor may have completed and freed it. So
 * each IoCallDriver in progress leaves a frame on a list, and
 * IoCompleteRequest, as it passes a stack location, records there whether
 * the location was marked pending (IopNoteLocationCompleted).
 */
#include "iop.h"

static KSPIN_LOCK IopCallFrameLock;
static LIST_ENTRY IopCallFrames = {&IopCallFrames, &IopCallFrames};

VOID IopNoteLocationCompleted(PIRP Irp, CHAR Location, UCHAR Control, BOOLEAN Freed)
{
    KIRQL irql;

    KeAcquireSpinLock(&IopCallFrameLock, &irql);
    for (PLIST_ENTRY e = IopCallFrames.Flink; e != &IopCallFrames; e = e->Flink) {
        PIOP_CALL_FRAME frame = CONTAINING_RECORD(e, IOP_CALL_FRAME, Link);

        if (frame->Irp != Irp || frame->Completed || (!Freed && frame->Location != Location))
            continue;
        frame->Completed = TRUE;
        /* A freed IRP's marks are unknown: give the driver the benefit of the doubt. */
        frame->WasMarked = Freed || (Control & SL_PENDING_RETURNED) != 0;
    }
    KeReleaseSpinLock(&IopCallFrameLock, irql);
}

NTSTATUS IoCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    IOP_CALL_FRAME frame;
    PIO_STACK_LOCATION stack;
    PDRIVER_DISPATCH dispatch;
    KIRQL before, after, irql;
    BOOLEAN marked = TRUE;
    NTSTATUS status;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoCallDriver);
    if (Irp->Type != IO_TYPE_IRP)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x03, (ULONG_PTR)Irp, 0, 0);
    if (DeviceObject == NULL || DeviceObject->Type != IO_TYPE_DEVICE)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x04, (ULONG_PTR)DeviceObject, 0, 0);

    Irp->CurrentLocation--;
    if (Irp->CurrentLocation <= 0)
        KeBugCheckEx(NO_MORE_IRP_STACK_LOCATIONS, (ULONG_PTR)Irp, 0, 0, 0);
    stack = --Irp->Tail.Overlay.CurrentStackLocation;
    stack->DeviceObject = DeviceObject;
    dispatch = DeviceObject->DriverObject->MajorFunction[stack->MajorFunction];

    frame.Irp = Irp;
    frame.Location = Irp->CurrentLocation;
    frame.Completed = frame.WasMarked = FALSE;
    KeAcquireSpinLock(&IopCallFrameLock, &irql);
    InsertTailList(&IopCallFrames, &frame.Link);
    KeReleaseSpinLock(&IopCallFrameLock, irql);

    before = KeGetCurrentIrql();
    status = dispatch(DeviceObject, Irp);
    after = KeGetCurrentIrql();
    if (after != before)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x05, (ULONG_PTR)DeviceObject, before, after);

    KeAcquireSpinLock(&IopCallFrameLock, &irql);
    RemoveEntryList(&frame.Link);
    /* Not completed past this location yet: the IRP is still alive, and the
     * lock keeps IoCompleteRequest from passing it while we look. */
    if (status == STATUS_PENDING)
        marked = frame.Completed ? frame.WasMarked : (stack->Control & SL_PENDING_RETURNED) != 0;
    KeReleaseSpinLock(&IopCallFrameLock, irql);
    if (!marked)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_PENDING_NOT_MARKED,
                     (ULONG_PTR)dispatch, (ULONG_PTR)Irp, (ULONG_PTR)DeviceObject);
    return status;
}

/*
 * startio.c - the StartIo model: a driver whose device does one request at
 * a time lets the I/O manager queue the rest in DeviceObject->DeviceQueue.
 *
 * IoStartPacket calls the driver's StartIo at once (at DISPATCH_LEVEL) if
 * the device is idle, else queues the IRP; when the device finishes
 * (typically in the DpcForIsr) the driver completes DeviceObject->CurrentIrp
 * and calls IoStartNextPacket, which starts the next one or leaves the
 * device idle. With a cancel routine the queued IRP can be cancelled; the
 * routine runs under the cancel spin lock and takes the IRP off the queue
 * with KeRemoveEntryDeviceQueue (or, for CurrentIrp, lets StartIo finish).
 */
#include "iop.h"

VOID IoStartPacket(PDEVICE_OBJECT DeviceObject, PIRP Irp, PULONG Key, PDRIVER_CANCEL CancelFunction)
{
    KIRQL oldIrql, cancelIrql = DISPATCH_LEVEL;
    BOOLEAN queued;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoStartPacket);
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    if (CancelFunction != NULL) {
        IoAcquireCancelSpinLock(&cancelIrql);
        IoSetCancelRoutine(Irp, CancelFunction);
    }
    queued = Key != NULL
                 ? KeInsertByKeyDeviceQueue(&DeviceObject->DeviceQueue,
                                            &Irp->Tail.Overlay.DeviceQueueEntry, *Key)
                 : KeInsertDeviceQueue(&DeviceObject->DeviceQueue, &Irp->Tail.Overlay.DeviceQueueEntry);
    if (!queued) {
        DeviceObject->CurrentIrp = Irp;
        if (CancelFunction != NULL)
            IoReleaseCancelSpinLock(cancelIrql);
        DeviceObject->DriverObject->DriverStartIo(DeviceObject, Irp);
    } else if (CancelFunction != NULL) {
        /* Cancelled before its routine was set: nobody called a routine, so
         * cancel it now (the routine releases the lock). */
        if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
            Irp->CancelIrql = cancelIrql;
            CancelFunction(DeviceObject, Irp);
        } else {
            IoReleaseCancelSpinLock(cancelIrql);
        }
    }
    KeLowerIrql(oldIrql);
}

static VOID IopStartNext(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable, BOOLEAN ByKey, ULONG Key)
{
    PKDEVICE_QUEUE_ENTRY entry;
    KIRQL cancelIrql = DISPATCH_LEVEL;

    if (Cancelable)
        IoAcquireCancelSpinLock(&cancelIrql);
    DeviceObject->CurrentIrp = NULL;
    entry = ByKey ? KeRemoveByKeyDeviceQueue(&DeviceObject->DeviceQueue, Key)
                  : KeRemoveDeviceQueue(&DeviceObject->DeviceQueue);
    if (entry == NULL) {
        if (Cancelable)
            IoReleaseCancelSpinLock(cancelIrql);
        return;                         /* the device is idle now */
    }
    DeviceObject->CurrentIrp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.DeviceQueueEntry);
    if (Cancelable)
        IoReleaseCancelSpinLock(cancelIrql);
    DeviceObject->DriverObject->DriverStartIo(DeviceObject, DeviceObject->CurrentIrp);
}

VOID IoStartNextPacket(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, IoStartNextPacket);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoStartNextPacket);
    IopStartNext(DeviceObject, Cancelable, FALSE, 0);
}

VOID IoStartNextPacketByKey(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable, ULONG Key)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, IoStartNextPacketByKey);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoStartNextPacketByKey);
    IopStartNext(DeviceObject, Cancelable, TRUE, Key);
}

/*
 * forward.c - IoForwardIrpSynchronously: pass the current IRP one driver
 * down and wait until every driver below has completed it.
 *
 * A function driver needs this wherever the driver below must act first
 * and the function driver after: IRP_MN_START_DEVICE is the classic case
 * (the bus driver turns on decoding and bus mastering before the function
 * driver touches the device). The completion routine stops the completion
 * with STATUS_MORE_PROCESSING_REQUIRED, so when this returns TRUE the IRP
 * belongs to the caller again, at its own stack location, with the lower
 * drivers' IoStatus: the caller finishes its part and completes the IRP.
 *
 * IRQL <= APC_LEVEL (it waits). FALSE, without sending anything, when the
 * IRP has no stack location left for the driver below.
 */
#include "iop.h"

static NTSTATUS IopForwardCompleted(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;     /* the forwarder owns it again */
}

BOOLEAN IoForwardIrpSynchronously(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    KEVENT event;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, IoForwardIrpSynchronously);
    if (Irp->CurrentLocation <= 1)
        return FALSE;                   /* IoCallDriver would stop with 0x35 */
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, IopForwardCompleted, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(DeviceObject, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    return TRUE;
}

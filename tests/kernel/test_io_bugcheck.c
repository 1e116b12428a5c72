/*
 * test_io_bugcheck.c - the I/O manager's stop codes: each test misuses an
 * IRP once and passes only if exactly that bug check, with NT's
 * parameters, follows.
 */
#include "test_io.h"

static NTSTATUS StopCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(Context);
    return STATUS_MORE_PROCESSING_REQUIRED;     /* the IRP stays ours */
}

/* An IoAllocateIrp IRP for an IOCTL to Device, with a completion routine that keeps it. */
static PIRP IoctlIrp(PDEVICE_OBJECT Device, ULONG Code)
{
    PIRP irp = IoAllocateIrp(Device->StackSize, FALSE);
    PIO_STACK_LOCATION next;

    if (irp == NULL)
        return NULL;
    next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.IoControlCode = Code;
    IoSetCompletionRoutine(irp, StopCompletion, NULL, TRUE, TRUE, TRUE);
    return irp;
}

KTEST_BUGCHECK(io_bugcheck, complete_twice, MULTIPLE_IRP_COMPLETE_REQUESTS)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;

    KASSERT_NE(device, NULL);
    irp = IoctlIrp(device, IOCTL_IOTEST_COMPLETE_TWICE);
    KASSERT_NE(irp, NULL);
    KtestExpectBugCheck(MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)irp, 0, 0, 0);
    IoCallDriver(device, irp);
}

KTEST_BUGCHECK(io_bugcheck, no_more_stack_locations, NO_MORE_IRP_STACK_LOCATIONS)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;

    KASSERT_NE(device, NULL);
    /* Fewer locations than the device's StackSize (here none at all): the
     * call has no location to step into. (A driver that filled in the
     * missing "next" location first would have written over the IRP's
     * header already; NT stops at the same place, only later.) */
    irp = IoAllocateIrp(0, FALSE);
    KASSERT_NE(irp, NULL);
    KtestExpectBugCheck(NO_MORE_IRP_STACK_LOCATIONS, (ULONG_PTR)irp, 0, 0, 0);
    IoCallDriver(device, irp);
}

KTEST_BUGCHECK(io_bugcheck, complete_with_status_pending, DRIVER_VERIFIER_IOMANAGER_VIOLATION)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;

    KASSERT_NE(device, NULL);
    irp = IoctlIrp(device, IOCTL_IOTEST_COMPLETE_STATUS_PENDING);
    KASSERT_NE(irp, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_COMPLETE_PENDING_STATUS,
                        (ULONG)STATUS_PENDING, (ULONG_PTR)irp, 0);
    IoCallDriver(device, irp);
}

KTEST_BUGCHECK(io_bugcheck, complete_with_cancel_routine, DRIVER_VERIFIER_IOMANAGER_VIOLATION)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;

    KASSERT_NE(device, NULL);
    irp = IoctlIrp(device, IOCTL_IOTEST_COMPLETE_WITH_CANCEL);
    KASSERT_NE(irp, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_COMPLETE_WITH_CANCEL, KTEST_ANY,
                        (ULONG_PTR)irp, 0);
    IoCallDriver(device, irp);
}

KTEST_BUGCHECK(io_bugcheck, complete_above_dispatch, DRIVER_VERIFIER_IOMANAGER_VIOLATION)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    KIRQL irql;

    KASSERT_NE(irp, NULL);
    IoSetNextIrpStackLocation(irp);     /* as if a driver held it */
    irp->IoStatus.Status = STATUS_SUCCESS;
    KtestExpectBugCheck(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_COMPLETE_ABOVE_DISPATCH, HIGH_LEVEL,
                        (ULONG_PTR)irp, 0);
    KeRaiseIrql(HIGH_LEVEL, &irql);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

KTEST_BUGCHECK(io_bugcheck, pending_without_mark, DRIVER_VERIFIER_IOMANAGER_VIOLATION)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;

    KASSERT_NE(device, NULL);
    irp = IoctlIrp(device, IOCTL_IOTEST_PEND_UNMARKED);
    KASSERT_NE(irp, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_PENDING_NOT_MARKED,
                        (ULONG_PTR)device->DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL], (ULONG_PTR)irp,
                        (ULONG_PTR)device);
    IoCallDriver(device, irp);
}

KTEST_BUGCHECK(io_bugcheck, free_non_irp, DRIVER_VERIFIER_IOMANAGER_VIOLATION)
{
    PIRP irp = IoAllocateIrp(1, FALSE);

    KASSERT_NE(irp, NULL);
    irp->Type = IO_TYPE_DEVICE;
    KtestExpectBugCheck(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_FREE_NON_IRP, (ULONG_PTR)irp, 0, 0);
    IoFreeIrp(irp);
}

/* IoForwardIrpSynchronously waits: at DISPATCH_LEVEL it is
 * IRQL_NOT_LESS_OR_EQUAL (routine, IRQL, highest allowed, caller), before
 * anything is sent. */
KTEST_BUGCHECK(io_bugcheck, forward_synchronously_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;
    KIRQL old;

    KASSERT_NE(device, NULL);
    irp = IoAllocateIrp((CCHAR)(device->StackSize + 1), FALSE);
    KASSERT_NE(irp, NULL);
    IoSetNextIrpStackLocation(irp);
    IoGetCurrentIrpStackLocation(irp)->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.IoControlCode = IOCTL_IOTEST_ECHO;
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)IoForwardIrpSynchronously, DISPATCH_LEVEL, APC_LEVEL,
                        KTEST_ANY);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoForwardIrpSynchronously(device, irp);
}

/*
 * irp.c - an IRP's life outside the drivers: IoAllocateIrp, IoInitializeIrp,
 * IoReuseIrp, IoFreeIrp, and the dispatch routine every MajorFunction slot
 * starts with.
 *
 * An IRP is the 0xD0-byte header followed by StackCount stack locations.
 * CurrentLocation starts at StackCount + 1 and CurrentStackLocation one past
 * the last location: nothing is current until IoCallDriver steps down into
 * the last one (the top driver's), and IoCompleteRequest steps back up.
 */
#include "iop.h"

VOID IoInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize)
{
    RtlZeroMemory(Irp, PacketSize);
    Irp->Type = IO_TYPE_IRP;
    Irp->Size = PacketSize;
    Irp->StackCount = StackSize;
    Irp->CurrentLocation = (CHAR)(StackSize + 1);
    Irp->RequestorMode = KernelMode;
    InitializeListHead(&Irp->ThreadListEntry);
    Irp->Tail.Overlay.CurrentStackLocation = (PIO_STACK_LOCATION)(Irp + 1) + StackSize;
}

PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    USHORT size;
    PIRP irp;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoAllocateIrp);
    if (StackSize < 0)
        return NULL;
    size = IoSizeOfIrp(StackSize);
    irp = ExAllocatePoolWithTag(NonPagedPoolNx, size, IOP_TAG_IRP);
    if (irp == NULL)
        return NULL;
    IoInitializeIrp(irp, size, StackSize);
    /* Mica charges no quota; the flag is kept as NT keeps it. */
    irp->AllocationFlags = ChargeQuota ? IRP_QUOTA_CHARGED : 0;
    return irp;
}

VOID IoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
    UCHAR allocationFlags = Irp->AllocationFlags;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoReuseIrp);
    IopNoteLocationCompleted(Irp, 0, 0, TRUE);     /* its old stack is gone */
    IoInitializeIrp(Irp, Irp->Size, Irp->StackCount);
    Irp->AllocationFlags = allocationFlags;
    Irp->IoStatus.Status = Iostatus;
}

VOID IoFreeIrp(PIRP Irp)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoFreeIrp);
    if (Irp->Type != IO_TYPE_IRP)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, IOP_VERIFIER_FREE_NON_IRP,
                     (ULONG_PTR)Irp, 0, 0);
    /* An IoCallDriver still waiting on this IRP learns it is gone. */
    IopNoteLocationCompleted(Irp, 0, 0, TRUE);
    Irp->Type = 0;                      /* a second free or completion is caught */
    ExFreePoolWithTag(Irp, IOP_TAG_IRP);
}

/* What a driver that does not handle a major function answers (NT's
 * IopInvalidDeviceRequest). */
NTSTATUS IopInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

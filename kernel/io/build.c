/*
 * build.c - IRPs the I/O manager builds for a kernel-mode caller:
 * IoBuildSynchronousFsdRequest, IoBuildAsynchronousFsdRequest,
 * IoBuildDeviceIoControlRequest.
 *
 * The buffer reaches the driver the way its device asks (DEVICE_OBJECT.Flags
 * for reads and writes, the control code's method for IOCTLs):
 *   DO_BUFFERED_IO / METHOD_BUFFERED: a nonpaged copy in
 *     Irp->AssociatedIrp.SystemBuffer, filled from the caller's buffer for a
 *     write and copied back for a read when the IRP completes;
 *   DO_DIRECT_IO / METHOD_IN_DIRECT, METHOD_OUT_DIRECT: an MDL in
 *     Irp->MdlAddress, its pages locked with MmProbeAndLockPages (IoWriteAccess
 *     when the device writes into it, i.e. a read; IoReadAccess for a write),
 *     unlocked and freed at completion;
 *   neither: the caller's address in Irp->UserBuffer (Type3InputBuffer for an
 *     IOCTL's input).
 * IoCompleteRequest finishes these IRPs (complete.c): copy-back, MDLs,
 * IO_STATUS_BLOCK, event, and the free.
 */
#include "iop.h"

/* Lock Buffer into a new MDL on Irp (NULL if the pages cannot be locked). */
static PMDL IopLockBuffer(PIRP Irp, PVOID Buffer, ULONG Length, LOCK_OPERATION Operation)
{
    PMDL mdl = IoAllocateMdl(Buffer, Length, FALSE, FALSE, Irp);
    volatile BOOLEAN locked = FALSE;

    if (mdl == NULL)
        return NULL;
    __try {
        MmProbeAndLockPages(mdl, KernelMode, Operation);
        locked = TRUE;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        locked = FALSE;
    }
    if (!locked) {
        Irp->MdlAddress = NULL;
        IoFreeMdl(mdl);
        return NULL;
    }
    return mdl;
}

/* A nonpaged system buffer of Length bytes on Irp, to be freed at completion. */
static BOOLEAN IopAllocateSystemBuffer(PIRP Irp, ULONG Length)
{
    Irp->AssociatedIrp.SystemBuffer = ExAllocatePoolWithTag(NonPagedPoolNx, Length, IOP_TAG_BUFFER);
    if (Irp->AssociatedIrp.SystemBuffer == NULL)
        return FALSE;
    Irp->Flags |= IRP_BUFFERED_IO | IRP_DEALLOCATE_BUFFER;
    return TRUE;
}

/* Undo a half-built IRP. */
static PIRP IopFailBuild(PIRP Irp)
{
    if (Irp->MdlAddress != NULL) {
        if (Irp->MdlAddress->MdlFlags & MDL_PAGES_LOCKED)
            MmUnlockPages(Irp->MdlAddress);
        IoFreeMdl(Irp->MdlAddress);
    }
    if ((Irp->Flags & IRP_DEALLOCATE_BUFFER) && Irp->AssociatedIrp.SystemBuffer != NULL)
        ExFreePoolWithTag(Irp->AssociatedIrp.SystemBuffer, IOP_TAG_BUFFER);
    IoFreeIrp(Irp);
    return NULL;
}

static PIRP IopNewIrp(PDEVICE_OBJECT DeviceObject, PIO_STATUS_BLOCK IoStatusBlock)
{
    PIRP irp = IoAllocateIrp(DeviceObject->StackSize, FALSE);

    if (irp == NULL)
        return NULL;
    irp->AllocationFlags |= IOP_IRP_BUILT;
    irp->UserIosb = IoStatusBlock;
    irp->Tail.Overlay.Thread = KeGetCurrentThread();
    /* NT initializes every request's status so; a driver that forgets to
     * set one reports "not supported" rather than success. */
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    return irp;
}

PIRP IoBuildAsynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                                   ULONG Length, PLARGE_INTEGER StartingOffset,
                                   PIO_STATUS_BLOCK IoStatusBlock)
{
    PIO_STACK_LOCATION next;
    PIRP irp;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, IoBuildAsynchronousFsdRequest);
    irp = IopNewIrp(DeviceObject, IoStatusBlock);
    if (irp == NULL)
        return NULL;
    next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = (UCHAR)MajorFunction;
    if (MajorFunction != IRP_MJ_READ && MajorFunction != IRP_MJ_WRITE)
        return irp;                     /* FLUSH_BUFFERS, SHUTDOWN, PNP: no buffer */

    if (DeviceObject->Flags & DO_BUFFERED_IO) {
        if (Length != 0 && !IopAllocateSystemBuffer(irp, Length))
            return IopFailBuild(irp);
        if (MajorFunction == IRP_MJ_WRITE) {
            if (Length != 0)
                RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, Buffer, Length);
        } else {
            irp->Flags |= IRP_INPUT_OPERATION;
            irp->Overlay.AllocationSize.QuadPart = Length;  /* the copy-back limit */
        }
        irp->UserBuffer = Buffer;
    } else if (DeviceObject->Flags & DO_DIRECT_IO) {
        if (Length != 0 && IopLockBuffer(irp, Buffer, Length, MajorFunction == IRP_MJ_READ
                                                                  ? IoWriteAccess
                                                                  : IoReadAccess) == NULL)
            return IopFailBuild(irp);
    } else {
        irp->UserBuffer = Buffer;
    }
    irp->Flags |= MajorFunction == IRP_MJ_READ ? IRP_READ_OPERATION : IRP_WRITE_OPERATION;
    /* Read and Write share one layout. */
    next->Parameters.Read.Length = Length;
    next->Parameters.Read.ByteOffset.QuadPart = StartingOffset != NULL ? StartingOffset->QuadPart : 0;
    return irp;
}

PIRP IoBuildSynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                                  ULONG Length, PLARGE_INTEGER StartingOffset, PKEVENT Event,
                                  PIO_STATUS_BLOCK IoStatusBlock)
{
    PIRP irp;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, IoBuildSynchronousFsdRequest);
    irp = IoBuildAsynchronousFsdRequest(MajorFunction, DeviceObject, Buffer, Length,
                                        StartingOffset, IoStatusBlock);
    if (irp != NULL) {
        irp->UserEvent = Event;
        irp->Flags |= IRP_SYNCHRONOUS_API;
    }
    return irp;
}

PIRP IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject,
                                   PVOID InputBuffer, ULONG InputBufferLength, PVOID OutputBuffer,
                                   ULONG OutputBufferLength, BOOLEAN InternalDeviceIoControl,
                                   PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock)
{
    PIO_STACK_LOCATION next;
    ULONG bytes;
    PIRP irp;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, IoBuildDeviceIoControlRequest);
    irp = IopNewIrp(DeviceObject, IoStatusBlock);
    if (irp == NULL)
        return NULL;
    irp->UserEvent = Event;
    next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = InternalDeviceIoControl ? IRP_MJ_INTERNAL_DEVICE_CONTROL
                                                  : IRP_MJ_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
    next->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
    next->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;

    switch (METHOD_FROM_CTL_CODE(IoControlCode)) {
    case METHOD_BUFFERED:
        /* One buffer for both directions, as large as the larger. */
        bytes = InputBufferLength > OutputBufferLength ? InputBufferLength : OutputBufferLength;
        if (bytes != 0) {
            if (!IopAllocateSystemBuffer(irp, bytes))
                return IopFailBuild(irp);
            if (InputBuffer != NULL && InputBufferLength != 0)
                RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, InputBuffer, InputBufferLength);
            if (OutputBuffer != NULL && OutputBufferLength != 0) {
                irp->Flags |= IRP_INPUT_OPERATION;
                irp->Overlay.AllocationSize.QuadPart = OutputBufferLength;
            }
        }
        irp->UserBuffer = OutputBuffer;
        break;
    case METHOD_IN_DIRECT:
    case METHOD_OUT_DIRECT:
        if (InputBuffer != NULL && InputBufferLength != 0) {
            if (!IopAllocateSystemBuffer(irp, InputBufferLength))
                return IopFailBuild(irp);
            RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, InputBuffer, InputBufferLength);
        }
        /* IN_DIRECT: the device reads the second buffer; OUT_DIRECT: writes it. */
        if (OutputBuffer != NULL && OutputBufferLength != 0 &&
            IopLockBuffer(irp, OutputBuffer, OutputBufferLength,
                          METHOD_FROM_CTL_CODE(IoControlCode) == METHOD_IN_DIRECT
                              ? IoReadAccess
                              : IoWriteAccess) == NULL)
            return IopFailBuild(irp);
        break;
    case METHOD_NEITHER:
        next->Parameters.DeviceIoControl.Type3InputBuffer = InputBuffer;
        irp->UserBuffer = OutputBuffer;
        break;
    }
    return irp;
}

/*
 * iotest.c - the I/O manager's test driver, written as a WDM driver is:
 * it includes only <wdm.h> (and its own header) and reaches the kernel only
 * through the public API. tests/kernel/test_io*.c drive it.
 *
 * Its devices:
 *   \Device\IoTestDirect    DO_DIRECT_IO: reads and writes a 64 KiB store
 *                           through Irp->MdlAddress, split into 4 KiB pieces
 *                           with IoBuildPartialMdl;
 *   \Device\IoTestBuffered  DO_BUFFERED_IO: an 8 KiB store through the
 *                           system buffer, and the IOCTLs of iotest.h
 *                           (pending IRPs completed from a DPC, a cancel-safe
 *                           queue, work items, StartIo queueing, misuse);
 *   \Device\IoTestStack     the bottom of a three-device stack: two filters
 *                           above it pass IRPs down with completion routines
 *                           (the second with IoSetCompletionRoutineEx) that
 *                           log the order they run in;
 * and, through AddDevice, a function device for any PDO with the hardware
 * ID MICA\IOTEST_FUNCTION, which forwards IRP_MN_START_DEVICE to the PDO
 * before keeping the resource lists it brought.
 */
#include <wdm.h>
#include "iotest.h"

#define IOTEST_TAG 'tsTI'

static PIOTEST_EXTENSION Ext(PDEVICE_OBJECT DeviceObject)
{
    return DeviceObject->DeviceExtension;
}

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* ---- Reads and writes ---- */

/* Copy between the direct device's store and Irp->MdlAddress, one partial
 * MDL (and one system mapping) per IOTEST_CHUNK_BYTES. */
static NTSTATUS DirectTransfer(PIOTEST_EXTENSION ext, PIRP Irp, ULONG Offset, ULONG Length, BOOLEAN Write)
{
    PUCHAR base = MmGetMdlVirtualAddress(Irp->MdlAddress);

    ext->Chunks = 0;
    for (ULONG done = 0; done < Length;) {
        ULONG n = Length - done < IOTEST_CHUNK_BYTES ? Length - done : IOTEST_CHUNK_BYTES;
        PMDL partial = IoAllocateMdl(base + done, n, FALSE, FALSE, NULL);
        PUCHAR va;

        if (partial == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        IoBuildPartialMdl(Irp->MdlAddress, partial, base + done, n);
        va = MmGetSystemAddressForMdlSafe(partial, NormalPagePriority | MdlMappingNoExecute);
        if (va == NULL) {
            IoFreeMdl(partial);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (Write)
            RtlCopyMemory(ext->Store + Offset + done, va, n);
        else
            RtlCopyMemory(va, ext->Store + Offset + done, n);
        MmPrepareMdlForReuse(partial);      /* unmaps the partial MDL's own mapping */
        IoFreeMdl(partial);
        ext->Chunks++;
        done += n;
    }
    return STATUS_SUCCESS;
}

static VOID PendDpc(PKDPC Dpc, PVOID Context, PVOID Irp, PVOID Information)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    Complete(Irp, STATUS_SUCCESS, (ULONG_PTR)Information);
}

static NTSTATUS Transfer(PDEVICE_OBJECT DeviceObject, PIRP Irp, BOOLEAN Write)
{
    PIOTEST_EXTENSION ext = Ext(DeviceObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG length = stack->Parameters.Read.Length;
    LONGLONG offset = stack->Parameters.Read.ByteOffset.QuadPart;
    NTSTATUS status = STATUS_SUCCESS;

    if (ext->Store == NULL) {
        /* The stack device: offset 1 completes at once, others from a DPC. */
        if (offset == 1)
            return Complete(Irp, STATUS_SUCCESS, length);
        IoMarkIrpPending(Irp);
        KeInsertQueueDpc(&ext->PendDpc, Irp, (PVOID)(ULONG_PTR)length);
        return STATUS_PENDING;
    }
    if (offset < 0 || offset > ext->StoreBytes || length > ext->StoreBytes - offset)
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    if (DeviceObject->Flags & DO_BUFFERED_IO) {
        if (Write)
            RtlCopyMemory(ext->Store + offset, Irp->AssociatedIrp.SystemBuffer, length);
        else
            RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, ext->Store + offset, length);
    } else if (length != 0) {
        status = DirectTransfer(ext, Irp, (ULONG)offset, length, Write);
    }
    return Complete(Irp, status, NT_SUCCESS(status) ? length : 0);
}

/* ---- Filters: pass everything down, log completion order ---- */

static NTSTATUS FilterCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PIOTEST_EXTENSION bottom = Context;
    LONG slot = __atomic_fetch_add(&bottom->OrderCount, 1, __ATOMIC_RELAXED);

    if (slot < IOTEST_LOG)
        bottom->Order[slot] = (LONG)Ext(DeviceObject)->FilterNumber;
    /* We return the lower driver's status from dispatch: pass its pending mark up. */
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    return STATUS_SUCCESS;
}

static NTSTATUS FilterDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIOTEST_EXTENSION ext = Ext(DeviceObject);
    PIOTEST_EXTENSION bottom = ext;
    NTSTATUS status;

    while (bottom->Kind == IotestFilter)
        bottom = Ext(bottom->Lower);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    if (ext->FilterNumber == 1) {
        IoSetCompletionRoutine(Irp, FilterCompletion, bottom, TRUE, TRUE, TRUE);
    } else {
        status = IoSetCompletionRoutineEx(DeviceObject, Irp, FilterCompletion, bottom, TRUE, TRUE, TRUE);
        if (!NT_SUCCESS(status))
            return Complete(Irp, status, 0);
    }
    return IoCallDriver(ext->Lower, Irp);
}

/* ---- Cancel-safe queue callbacks ---- */

static PIOTEST_EXTENSION CsqExt(PIO_CSQ Csq)
{
    return CONTAINING_RECORD(Csq, IOTEST_EXTENSION, Csq);
}

static VOID CsqInsert(PIO_CSQ Csq, PIRP Irp)
{
    InsertTailList(&CsqExt(Csq)->Queue, &Irp->Tail.Overlay.ListEntry);
}

static VOID CsqRemove(PIO_CSQ Csq, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Csq);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
}

static PIRP CsqPeek(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext)
{
    PLIST_ENTRY head = &CsqExt(Csq)->Queue;
    PLIST_ENTRY next = Irp == NULL ? head->Flink : Irp->Tail.Overlay.ListEntry.Flink;

    UNREFERENCED_PARAMETER(PeekContext);
    return next == head ? NULL : CONTAINING_RECORD(next, IRP, Tail.Overlay.ListEntry);
}

static VOID CsqAcquire(PIO_CSQ Csq, PKIRQL Irql)
{
    KeAcquireSpinLock(&CsqExt(Csq)->QueueLock, Irql);
}

static VOID CsqRelease(PIO_CSQ Csq, KIRQL Irql)
{
    KeReleaseSpinLock(&CsqExt(Csq)->QueueLock, Irql);
}

static VOID CsqCompleteCanceled(PIO_CSQ Csq, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Csq);
    Complete(Irp, STATUS_CANCELLED, 0);
}

/* ---- StartIo ---- */

static VOID StartIoCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    if (Irp == DeviceObject->CurrentIrp) {
        IoReleaseCancelSpinLock(Irp->CancelIrql);   /* StartIo's; its DPC finishes it */
        return;
    }
    if (KeRemoveEntryDeviceQueue(&DeviceObject->DeviceQueue, &Irp->Tail.Overlay.DeviceQueueEntry)) {
        IoReleaseCancelSpinLock(Irp->CancelIrql);
        Complete(Irp, STATUS_CANCELLED, 0);
        return;
    }
    IoReleaseCancelSpinLock(Irp->CancelIrql);
}

static VOID StartIo(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIOTEST_EXTENSION ext = Ext(DeviceObject);
    LONG slot = ext->StartCount++;      /* StartIo calls are serialized */

    if (slot < IOTEST_LOG)
        ext->StartLog[slot] = *(PULONG)Irp->AssociatedIrp.SystemBuffer;
    IoRequestDpc(DeviceObject, Irp, NULL);   /* "the device interrupts" */
}

static VOID DpcForIsr(PKDPC Dpc, PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    /* Take the cancel routine back; if it is running, it left this IRP to us. */
    IoSetCancelRoutine(Irp, NULL);
    Complete(Irp, Irp->Cancel ? STATUS_CANCELLED : STATUS_SUCCESS,
             *(PULONG)Irp->AssociatedIrp.SystemBuffer);
    IoStartNextPacket(DeviceObject, TRUE);
}

/* ---- Work items ---- */

static VOID WorkRoutine(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIRP irp = Context;
    KIRQL irql = KeGetCurrentIrql();

    UNREFERENCED_PARAMETER(DeviceObject);
    IoFreeWorkItem(irp->Tail.Overlay.DriverContext[0]);
    Complete(irp, STATUS_SUCCESS, 100 + irql);
}

/* ---- Device control ---- */

static NTSTATUS DeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIOTEST_EXTENSION ext = Ext(DeviceObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG in = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = stack->Parameters.DeviceIoControl.OutputBufferLength;
    PUCHAR buffer = Irp->AssociatedIrp.SystemBuffer;
    PIO_WORKITEM item;
    ULONG key;
    PIRP next;

    if (ext->Kind == IotestFilter)
        return FilterDispatch(DeviceObject, Irp);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_IOTEST_ECHO:
        for (ULONG i = 0; i < in && i < out; i++)
            buffer[i]++;
        return Complete(Irp, STATUS_SUCCESS, in < out ? in : out);
    case IOCTL_IOTEST_PEND_DPC:
        IoMarkIrpPending(Irp);
        KeInsertQueueDpc(&ext->PendDpc, Irp, (PVOID)(ULONG_PTR)*(PULONG)buffer);
        return STATUS_PENDING;
    case IOCTL_IOTEST_CSQ_QUEUE:
        IoCsqInsertIrp(&ext->Csq, Irp, NULL);     /* marks it pending */
        return STATUS_PENDING;
    case IOCTL_IOTEST_CSQ_RELEASE:
        next = IoCsqRemoveNextIrp(&ext->Csq, NULL);
        if (next != NULL)
            Complete(next, STATUS_SUCCESS, 1);
        return Complete(Irp, STATUS_SUCCESS, next != NULL);
    case IOCTL_IOTEST_WORKITEM:
        item = IoAllocateWorkItem(DeviceObject);
        if (item == NULL)
            return Complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
        Irp->Tail.Overlay.DriverContext[0] = item;
        IoMarkIrpPending(Irp);
        IoQueueWorkItem(item, WorkRoutine, DelayedWorkQueue, Irp);
        return STATUS_PENDING;
    case IOCTL_IOTEST_STARTIO:
        key = *(PULONG)buffer;
        IoMarkIrpPending(Irp);
        IoStartPacket(DeviceObject, Irp, key != 0 ? &key : NULL, StartIoCancel);
        return STATUS_PENDING;
    case IOCTL_IOTEST_COMPLETE_TWICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return STATUS_SUCCESS;
    case IOCTL_IOTEST_COMPLETE_STATUS_PENDING:
        Irp->IoStatus.Status = STATUS_PENDING;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return STATUS_PENDING;
    case IOCTL_IOTEST_COMPLETE_WITH_CANCEL:
        IoSetCancelRoutine(Irp, StartIoCancel);
        return Complete(Irp, STATUS_SUCCESS, 0);
    case IOCTL_IOTEST_PEND_UNMARKED:
        return STATUS_PENDING;          /* no IoMarkIrpPending: a bug */
    case IOCTL_IOTEST_FILL_DIRECT: {
        PUCHAR va = MmGetSystemAddressForMdlSafe(Irp->MdlAddress, NormalPagePriority | MdlMappingNoExecute);

        if (va == NULL || in < 1)
            return Complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
        RtlFillMemory(va, MmGetMdlByteCount(Irp->MdlAddress), buffer[0]);
        return Complete(Irp, STATUS_SUCCESS, MmGetMdlByteCount(Irp->MdlAddress));
    }
    case IOCTL_IOTEST_NEITHER:
        *(PULONG)Irp->UserBuffer = *(PULONG)stack->Parameters.DeviceIoControl.Type3InputBuffer;
        return Complete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    }
    return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

static NTSTATUS Read(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    if (Ext(DeviceObject)->Kind == IotestFilter)
        return FilterDispatch(DeviceObject, Irp);
    return Transfer(DeviceObject, Irp, FALSE);
}

static NTSTATUS Write(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    if (Ext(DeviceObject)->Kind == IotestFilter)
        return FilterDispatch(DeviceObject, Irp);
    return Transfer(DeviceObject, Irp, TRUE);
}

/* ---- Plug and play ---- */

static NTSTATUS SignalEvent(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;     /* the IRP is ours again */
}

static NTSTATUS Pnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIOTEST_EXTENSION ext = Ext(DeviceObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    KEVENT event;

    if (ext->Kind == IotestPdo) {
        /* The bus driver's part: START reaches the PDO first. */
        if (stack->MinorFunction != IRP_MN_START_DEVICE)
            return Complete(Irp, Irp->IoStatus.Status, Irp->IoStatus.Information);
        ext->StartIrql = KeGetCurrentIrql();
        ext->StartSteps = 1;
        return Complete(Irp, STATUS_SUCCESS, 0);
    }
    if (ext->Kind != IotestFdo || stack->MinorFunction != IRP_MN_START_DEVICE) {
        if (ext->Kind == IotestFdo) {
            IoSkipCurrentIrpStackLocation(Irp);
            return IoCallDriver(ext->Lower, Irp);
        }
        return Complete(Irp, Irp->IoStatus.Status, Irp->IoStatus.Information);
    }
    /* A function driver starts its device after the bus driver has. */
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, SignalEvent, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(ext->Lower, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status)) {
        ext->Raw = stack->Parameters.StartDevice.AllocatedResources;
        ext->Translated = stack->Parameters.StartDevice.AllocatedResourcesTranslated;
        ext->StartSteps = Ext(ext->Lower)->StartSteps + 1;
        ext->StartIrql = KeGetCurrentIrql();
    }
    return Complete(Irp, status, 0);
}

static NTSTATUS AddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT fdo;
    NTSTATUS status;

    status = IoCreateDevice(DriverObject, sizeof(IOTEST_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0,
                            FALSE, &fdo);
    if (!NT_SUCCESS(status))
        return status;
    Ext(fdo)->Kind = IotestFdo;
    Ext(fdo)->Lower = IoAttachDeviceToDeviceStack(fdo, PhysicalDeviceObject);
    if (Ext(fdo)->Lower == NULL) {
        IoDeleteDevice(fdo);
        return STATUS_NO_SUCH_DEVICE;
    }
    fdo->Flags &= ~DO_DEVICE_INITIALIZING;      /* AddDevice's devices are ours to clear */
    return STATUS_SUCCESS;
}

/* ---- Loading ---- */

static NTSTATUS CreateDataDevice(PDRIVER_OBJECT DriverObject, PCWSTR Name, ULONG Flags, ULONG StoreBytes,
                                 PDEVICE_OBJECT *Device)
{
    UNICODE_STRING name;
    PIOTEST_EXTENSION ext;
    NTSTATUS status;

    RtlInitUnicodeString(&name, Name);
    status = IoCreateDevice(DriverObject, sizeof(IOTEST_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0,
                            FALSE, Device);
    if (!NT_SUCCESS(status))
        return status;
    (*Device)->Flags |= Flags;
    ext = Ext(*Device);
    ext->Kind = IotestData;
    if (StoreBytes != 0) {
        ext->Store = ExAllocatePoolWithTag(NonPagedPoolNx, StoreBytes, IOTEST_TAG);
        if (ext->Store == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        for (ULONG i = 0; i < StoreBytes; i++)
            ext->Store[i] = (UCHAR)(i * 7 + 1);
        ext->StoreBytes = StoreBytes;
    }
    KeInitializeDpc(&ext->PendDpc, PendDpc, NULL);
    KeInitializeSpinLock(&ext->QueueLock);
    InitializeListHead(&ext->Queue);
    IoCsqInitialize(&ext->Csq, CsqInsert, CsqRemove, CsqPeek, CsqAcquire, CsqRelease,
                    CsqCompleteCanceled);
    IoInitializeDpcRequest(*Device, DpcForIsr);
    return STATUS_SUCCESS;
}

static NTSTATUS CreateFilter(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT Below, ULONG Number)
{
    PDEVICE_OBJECT filter;
    NTSTATUS status;

    status = IoCreateDevice(DriverObject, sizeof(IOTEST_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0,
                            FALSE, &filter);
    if (!NT_SUCCESS(status))
        return status;
    Ext(filter)->Kind = IotestFilter;
    Ext(filter)->FilterNumber = Number;
    Ext(filter)->Lower = IoAttachDeviceToDeviceStack(filter, Below);
    filter->Flags |= Ext(filter)->Lower->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO);
    return STATUS_SUCCESS;
}

static NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT direct, buffered, stack;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_READ] = Read;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = Write;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
    DriverObject->MajorFunction[IRP_MJ_PNP] = Pnp;
    DriverObject->DriverStartIo = StartIo;
    DriverObject->DriverExtension->AddDevice = AddDevice;

    status = CreateDataDevice(DriverObject, IOTEST_DIRECT_NAME, DO_DIRECT_IO, IOTEST_STORE_BYTES, &direct);
    if (NT_SUCCESS(status))
        status = CreateDataDevice(DriverObject, IOTEST_BUFFERED_NAME, DO_BUFFERED_IO, IOTEST_SMALL_STORE,
                                  &buffered);
    if (NT_SUCCESS(status))
        status = CreateDataDevice(DriverObject, IOTEST_STACK_NAME, 0, 0, &stack);
    if (NT_SUCCESS(status))
        status = CreateFilter(DriverObject, stack, 1);
    if (NT_SUCCESS(status))
        status = CreateFilter(DriverObject, stack, 2);
    return status;
}

static PCSTR const IotestHardwareIds[] = {IOTEST_HARDWARE_ID, NULL};
IO_BUILTIN_DRIVER("IoTest", DriverEntry, IotestHardwareIds);

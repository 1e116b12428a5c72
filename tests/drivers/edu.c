/*
 * edu.c - a PCI function driver for QEMU's edu device, written as a WDM
 * driver for a PCI device is: it includes only <wdm.h> (and its own
 * header), claims its device by hardware ID, and learns everything about
 * it from IRP_MN_START_DEVICE.
 *
 *   AddDevice     creates the function device object (FDO) \Device\Edu0
 *                 and attaches it above the PCI bus driver's PDO;
 *   START_DEVICE  goes down to the PDO first (the bus driver enables
 *                 decoding and bus mastering and programs MSI), and only
 *                 when it comes back does the driver map BAR0 from the
 *                 translated CmResourceTypeMemory and connect its
 *                 interrupt: IoConnectInterruptEx(CONNECT_MESSAGE_BASED),
 *                 which falls back to the INTx line when the device has
 *                 no message (the PCI bus driver's pcimsi=off);
 *   the ISR       reads and acknowledges the cause (so a level line drops
 *                 before the EOI; a message comes once per event) and
 *                 queues the DPC for ISR, which wakes the request waiting
 *                 for it (IOCTL_EDU_RAISE).
 */
#include <wdm.h>
#include "edu.h"

static PEDU_EXTENSION Ext(PDEVICE_OBJECT DeviceObject)
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

/* ---- Interrupts ---- */

static BOOLEAN Acknowledge(PEDU_EXTENSION Ext)
{
    ULONG cause = READ_REGISTER_ULONG((volatile ULONG *)(Ext->Registers + EDU_REG_INTERRUPT_STATUS));

    if (cause == 0)
        return FALSE;                   /* not ours: another device on a shared line */
    WRITE_REGISTER_ULONG((volatile ULONG *)(Ext->Registers + EDU_REG_INTERRUPT_ACK), cause);
    Ext->Cause = cause;
    Ext->IsrIrql = KeGetCurrentIrql();
    Ext->IsrCount++;                    /* under the interrupt object's lock */
    IoRequestDpc(Ext->Self, NULL, Ext);
    return TRUE;
}

static BOOLEAN MessageIsr(PKINTERRUPT Interrupt, PVOID Context, ULONG MessageId)
{
    UNREFERENCED_PARAMETER(Interrupt);
    ((PEDU_EXTENSION)Context)->LastMessage = (LONG)MessageId;
    return Acknowledge(Context);
}

static BOOLEAN LineIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    return Acknowledge(Context);
}

static VOID DpcForIsr(PKDPC Dpc, PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PEDU_EXTENSION ext = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    ext->DpcIrql = KeGetCurrentIrql();
    ext->DpcCount++;
    KeSetEvent(&ext->Interrupted, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS ConnectInterrupt(PEDU_EXTENSION Ext)
{
    IO_CONNECT_INTERRUPT_PARAMETERS connect;
    NTSTATUS status;

    RtlZeroMemory(&connect, sizeof(connect));
    connect.Version = CONNECT_MESSAGE_BASED;
    connect.MessageBased.PhysicalDeviceObject = Ext->Pdo;
    connect.MessageBased.ConnectionContext.InterruptMessageTable = &Ext->MessageTable;
    connect.MessageBased.MessageServiceRoutine = MessageIsr;
    connect.MessageBased.ServiceContext = Ext;
    connect.MessageBased.FallBackServiceRoutine = LineIsr;
    status = IoConnectInterruptEx(&connect);
    Ext->ConnectVersion = connect.Version;
    /* On fallback the same context field held the line's interrupt object. */
    if (NT_SUCCESS(status) && connect.Version == CONNECT_LINE_BASED) {
        Ext->Interrupt = (PKINTERRUPT)Ext->MessageTable;
        Ext->MessageTable = NULL;
    }
    return status;
}

/* ---- PnP ---- */

static NTSTATUS StartDevice(PEDU_EXTENSION Ext, PCM_RESOURCE_LIST Translated)
{
    PCM_PARTIAL_RESOURCE_DESCRIPTOR memory = NULL;

    if (Translated == NULL || Translated->Count == 0)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    for (ULONG i = 0; i < Translated->List[0].PartialResourceList.Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &Translated->List[0].PartialResourceList.PartialDescriptors[i];
        if (d->Type == CmResourceTypeMemory && memory == NULL)
            memory = d;                 /* BAR0: the first memory range */
    }
    if (memory == NULL || memory->u.Memory.Length < EDU_REGISTERS_MAPPED)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    Ext->Registers = MmMapIoSpace(memory->u.Memory.Start, EDU_REGISTERS_MAPPED, MmNonCached);
    if (Ext->Registers == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    Ext->MappedAt = KeQueryPerformanceCounter(NULL).QuadPart;
    Ext->Identification = READ_REGISTER_ULONG((volatile ULONG *)(Ext->Registers + EDU_REG_IDENTIFICATION));
    if ((Ext->Identification & EDU_IDENTIFICATION_MASK) != EDU_IDENTIFICATION)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    Ext->ConnectStatus = ConnectInterrupt(Ext);
    return Ext->ConnectStatus;
}

static NTSTATUS Pnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PEDU_EXTENSION ext = Ext(DeviceObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;

    if (stack->MinorFunction != IRP_MN_START_DEVICE) {
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(ext->Lower, Irp);
    }
    /* The bus driver starts the function first; the device is ours after that. */
    if (!IoForwardIrpSynchronously(ext->Lower, Irp))
        Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;     /* no location for the bus driver */
    status = ext->LowerStartStatus = Irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        status = StartDevice(ext, stack->Parameters.StartDevice.AllocatedResourcesTranslated);
    return Complete(Irp, status, 0);
}

static NTSTATUS AddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT fdo;
    PEDU_EXTENSION ext;
    NTSTATUS status;

    RtlInitUnicodeString(&name, EDU_NAME);
    status = IoCreateDevice(DriverObject, sizeof(EDU_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &fdo);
    if (!NT_SUCCESS(status))
        return status;
    ext = Ext(fdo);
    ext->Self = fdo;
    ext->Pdo = PhysicalDeviceObject;
    ext->LastMessage = -1;
    KeInitializeEvent(&ext->Interrupted, SynchronizationEvent, FALSE);
    IoInitializeDpcRequest(fdo, DpcForIsr);
    fdo->Flags |= DO_BUFFERED_IO;
    ext->Lower = IoAttachDeviceToDeviceStack(fdo, PhysicalDeviceObject);
    if (ext->Lower == NULL) {
        IoDeleteDevice(fdo);
        return STATUS_NO_SUCH_DEVICE;
    }
    fdo->Flags &= ~DO_DEVICE_INITIALIZING;      /* AddDevice's devices are ours to clear */
    return STATUS_SUCCESS;
}

/* ---- Requests ---- */

static NTSTATUS DeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PEDU_EXTENSION ext = Ext(DeviceObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    LARGE_INTEGER timeout = {.QuadPart = -10 * 1000 * 1000};     /* 1 s, relative */
    ULONG cause;

    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_EDU_RAISE)
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG))
        return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    cause = *(PULONG)Irp->AssociatedIrp.SystemBuffer;
    if (ext->Registers == NULL || (ext->MessageTable == NULL && ext->Interrupt == NULL))
        return Complete(Irp, STATUS_DEVICE_NOT_READY, 0);
    if (cause == 0)
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    KeClearEvent(&ext->Interrupted);
    WRITE_REGISTER_ULONG((volatile ULONG *)(ext->Registers + EDU_REG_INTERRUPT_RAISE), cause);
    if (KeWaitForSingleObject(&ext->Interrupted, Executive, KernelMode, FALSE, &timeout) == STATUS_TIMEOUT)
        return Complete(Irp, STATUS_TIMEOUT, 0);
    return Complete(Irp, STATUS_SUCCESS, ext->Cause);
}

static NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = Pnp;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceControl;
    DriverObject->DriverExtension->AddDevice = AddDevice;
    return STATUS_SUCCESS;
}

static PCSTR const EduHardwareIds[] = {EDU_HARDWARE_ID, NULL};
IO_BUILTIN_DRIVER("Edu", DriverEntry, EduHardwareIds);

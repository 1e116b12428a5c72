/* example.c - the smallest useful driver: \Device\Example0 keeps 512 bytes. */
#include <wdm.h>

#define EXAMPLE_BYTES 512

typedef struct _EXAMPLE_EXTENSION {
    UCHAR Data[EXAMPLE_BYTES];
} EXAMPLE_EXTENSION, *PEXAMPLE_EXTENSION;

/* IRP_MJ_READ and IRP_MJ_WRITE: the data moves through the system buffer
 * (DO_BUFFERED_IO), so this runs in any thread at PASSIVE or DISPATCH_LEVEL. */
static NTSTATUS ExampleReadWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PEXAMPLE_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG length = stack->Parameters.Read.Length;      /* Write has the same layout */
    LONGLONG offset = stack->Parameters.Read.ByteOffset.QuadPart;
    NTSTATUS status = STATUS_SUCCESS;

    if (offset < 0 || offset > EXAMPLE_BYTES || length > EXAMPLE_BYTES - offset) {
        status = STATUS_INVALID_PARAMETER;
        length = 0;
    } else if (stack->MajorFunction == IRP_MJ_READ) {
        RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, ext->Data + offset, length);
    } else {
        RtlCopyMemory(ext->Data + offset, Irp->AssociatedIrp.SystemBuffer, length);
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = length;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS ExampleDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(u"\\Device\\Example0");
    PDEVICE_OBJECT device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_READ] = ExampleReadWrite;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = ExampleReadWrite;
    status = IoCreateDevice(DriverObject, sizeof(EXAMPLE_EXTENSION), &name, FILE_DEVICE_UNKNOWN, 0,
                            FALSE, &device);
    if (NT_SUCCESS(status))
        device->Flags |= DO_BUFFERED_IO;    /* the extension came zeroed */
    return status;
}

IO_BUILTIN_DRIVER("Example", ExampleDriverEntry, NULL);

/*
 * device.c - device objects: IoCreateDevice, IoDeleteDevice, device stacks
 * (IoAttachDeviceToDeviceStack, IoDetachDevice, IoGetAttachedDevice*),
 * finding a device by name (IoGetDeviceObjectPointer) and references.
 *
 * One nonpaged block holds the DEVICE_OBJECT, the driver's zeroed device
 * extension, the I/O manager's DEVOBJ_EXTENSION and the name's characters.
 * DEVICE_OBJECT.ReferenceCount counts the references handed out
 * (IoGetDeviceObjectPointer, IoGetAttachedDeviceReference, work items,
 * IoSetCompletionRoutineEx); IoDeleteDevice takes the name away at once
 * and the block goes when the count is zero, so a device is never freed
 * under someone who still holds it (NT's "delete pending").
 */
#include "iop.h"

KSPIN_LOCK IopDatabaseLock;

#define IOP_ALIGN16(n) (((n) + 15) & ~(SIZE_T)15)

NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize,
                        PUNICODE_STRING DeviceName, DEVICE_TYPE DeviceType,
                        ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject)
{
    SIZE_T extension = IOP_ALIGN16((SIZE_T)DeviceExtensionSize);
    SIZE_T nameBytes = DeviceName != NULL ? DeviceName->Length : 0;
    SIZE_T total = sizeof(DEVICE_OBJECT) + extension + sizeof(DEVOBJ_EXTENSION) + nameBytes;
    PDEVICE_OBJECT device;
    PDEVOBJ_EXTENSION doe;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, IoCreateDevice);
    *DeviceObject = NULL;
    if (DeviceName != NULL && !IopIsValidObjectName(DeviceName))
        return STATUS_OBJECT_NAME_INVALID;
    if (DeviceExtensionSize > 0x10000000)   /* cannot be nonpaged memory anyway */
        return STATUS_INSUFFICIENT_RESOURCES;
    device = ExAllocatePoolWithTag(NonPagedPoolNx, total, IOP_TAG_DEVICE);
    if (device == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(device, total);

    doe = (PDEVOBJ_EXTENSION)((PUCHAR)(device + 1) + extension);
    doe->Type = IO_TYPE_DEVICE;
    doe->Size = sizeof(DEVOBJ_EXTENSION);
    doe->DeviceObject = device;
    if (nameBytes != 0) {
        doe->Name.Buffer = (PWCH)(doe + 1);
        doe->Name.Length = doe->Name.MaximumLength = (USHORT)nameBytes;
        RtlCopyMemory(doe->Name.Buffer, DeviceName->Buffer, nameBytes);
    }

    device->Type = IO_TYPE_DEVICE;
    device->Size = (USHORT)(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
    device->DriverObject = DriverObject;
    device->DeviceExtension = DeviceExtensionSize != 0 ? (PVOID)(device + 1) : NULL;
    device->DeviceType = DeviceType;
    device->Characteristics = DeviceCharacteristics;
    /* A new device is "initializing" until its creator is done: DriverEntry's
     * devices are cleared by the I/O manager, AddDevice's by the driver. */
    device->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0) |
                    (nameBytes != 0 ? DO_DEVICE_HAS_NAME : 0);
    device->StackSize = 1;
    device->AlignmentRequirement = FILE_BYTE_ALIGNMENT;
    device->DeviceObjectExtension = doe;
    InitializeListHead(&device->Queue.ListEntry);
    KeInitializeDeviceQueue(&device->DeviceQueue);
    KeInitializeEvent(&device->DeviceLock, SynchronizationEvent, TRUE);

    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    if (nameBytes != 0) {
        if (IopLookupDeviceLocked(&doe->Name) != NULL) {
            KeReleaseSpinLock(&IopDatabaseLock, irql);
            ExFreePoolWithTag(device, IOP_TAG_DEVICE);
            return STATUS_OBJECT_NAME_COLLISION;
        }
        IopInsertDeviceLocked(device);
    }
    device->NextDevice = DriverObject->DeviceObject;
    DriverObject->DeviceObject = device;
    KeReleaseSpinLock(&IopDatabaseLock, irql);

    *DeviceObject = device;
    return STATUS_SUCCESS;
}

static VOID IopFreeDevice(PDEVICE_OBJECT DeviceObject)
{
    DeviceObject->Type = 0;             /* a stale pointer no longer looks like a device */
    ExFreePoolWithTag(DeviceObject, IOP_TAG_DEVICE);
}

VOID IoDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    PDEVOBJ_EXTENSION doe = DeviceObject->DeviceObjectExtension;
    PDEVICE_OBJECT *link;
    BOOLEAN free;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, IoDeleteDevice);
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    doe->ExtensionFlags |= DOE_DELETE_PENDING;
    IopRemoveDeviceLocked(DeviceObject);
    for (link = &DeviceObject->DriverObject->DeviceObject; *link != NULL; link = &(*link)->NextDevice) {
        if (*link == DeviceObject) {
            *link = DeviceObject->NextDevice;
            break;
        }
    }
    free = DeviceObject->ReferenceCount == 0;
    KeReleaseSpinLock(&IopDatabaseLock, irql);
    if (free)
        IopFreeDevice(DeviceObject);
}

VOID IopReferenceDevice(PDEVICE_OBJECT DeviceObject)
{
    __atomic_add_fetch(&DeviceObject->ReferenceCount, 1, __ATOMIC_RELAXED);
}

VOID IopDereferenceDevice(PDEVICE_OBJECT DeviceObject)
{
    BOOLEAN free = FALSE;
    KIRQL irql;

    /* Under the lock, so that IoDeleteDevice and the last dereference agree
     * on which of them frees. */
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    if (__atomic_sub_fetch(&DeviceObject->ReferenceCount, 1, __ATOMIC_ACQ_REL) == 0)
        free = (DeviceObject->DeviceObjectExtension->ExtensionFlags & DOE_DELETE_PENDING) != 0;
    KeReleaseSpinLock(&IopDatabaseLock, irql);
    if (free)
        IopFreeDevice(DeviceObject);
}

BOOLEAN IopReferenceObject(PVOID Object)
{
    if (*(CSHORT *)Object != IO_TYPE_DEVICE)
        return FALSE;
    IopReferenceDevice(Object);
    return TRUE;
}

BOOLEAN IopDereferenceObject(PVOID Object)
{
    if (*(CSHORT *)Object != IO_TYPE_DEVICE)
        return FALSE;
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, ObDereferenceObject);
    IopDereferenceDevice(Object);
    return TRUE;
}

static PDEVICE_OBJECT IopTopOfStackLocked(PDEVICE_OBJECT DeviceObject)
{
    while (DeviceObject->AttachedDevice != NULL)
        DeviceObject = DeviceObject->AttachedDevice;
    return DeviceObject;
}

PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT SourceDevice, PDEVICE_OBJECT TargetDevice)
{
    PDEVICE_OBJECT top;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoAttachDeviceToDeviceStack);
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    top = IopTopOfStackLocked(TargetDevice);
    if (top->DeviceObjectExtension->ExtensionFlags & DOE_DELETE_PENDING) {
        top = NULL;                     /* NT: the target is going away */
    } else {
        /* An IRP for the new top must carry a location for every driver below. */
        SourceDevice->StackSize = (CCHAR)(top->StackSize + 1);
        SourceDevice->AlignmentRequirement = top->AlignmentRequirement;
        SourceDevice->SectorSize = top->SectorSize;
        SourceDevice->DeviceObjectExtension->AttachedTo = top;
        top->AttachedDevice = SourceDevice;
    }
    KeReleaseSpinLock(&IopDatabaseLock, irql);
    return top;
}

VOID IoDetachDevice(PDEVICE_OBJECT TargetDevice)
{
    PDEVICE_OBJECT above;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoDetachDevice);
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    above = TargetDevice->AttachedDevice;
    if (above != NULL) {
        above->DeviceObjectExtension->AttachedTo = NULL;
        TargetDevice->AttachedDevice = NULL;
    }
    KeReleaseSpinLock(&IopDatabaseLock, irql);
}

PDEVICE_OBJECT IoGetAttachedDevice(PDEVICE_OBJECT DeviceObject)
{
    PDEVICE_OBJECT top;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoGetAttachedDevice);
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    top = IopTopOfStackLocked(DeviceObject);
    KeReleaseSpinLock(&IopDatabaseLock, irql);
    return top;
}

PDEVICE_OBJECT IoGetAttachedDeviceReference(PDEVICE_OBJECT DeviceObject)
{
    PDEVICE_OBJECT top;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoGetAttachedDeviceReference);
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    top = IopTopOfStackLocked(DeviceObject);
    IopReferenceDevice(top);
    KeReleaseSpinLock(&IopDatabaseLock, irql);
    return top;
}

NTSTATUS IoGetDeviceObjectPointer(PUNICODE_STRING ObjectName, ULONG DesiredAccess,
                                  PVOID *FileObject, PDEVICE_OBJECT *DeviceObject)
{
    PDEVICE_OBJECT named, top = NULL;
    KIRQL irql;

    UNREFERENCED_PARAMETER(DesiredAccess);
    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoGetDeviceObjectPointer);
    if (!IopIsValidObjectName(ObjectName))
        return STATUS_OBJECT_NAME_INVALID;
    KeAcquireSpinLock(&IopDatabaseLock, &irql);
    named = IopLookupDeviceLocked(ObjectName);
    if (named != NULL) {
        /* NT opens a file object on the named device and returns the top of
         * its stack; Mica has no file objects and hands out the top device
         * itself in both places, holding the one reference. */
        top = IopTopOfStackLocked(named);
        IopReferenceDevice(top);
    }
    KeReleaseSpinLock(&IopDatabaseLock, irql);
    if (top == NULL)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    *FileObject = top;
    *DeviceObject = top;
    return STATUS_SUCCESS;
}

/*
 * driver.c - built-in drivers: their DRIVER_OBJECTs, DriverEntry at phase 1
 * (IoInitSystem), and the PnP manager's small part, handing a bus driver's
 * new PDO to the function driver that claims it (IopAddAndStartDevice).
 *
 * Mica links its drivers into the kernel: each names itself with
 * IO_BUILTIN_DRIVER (io.h), which puts a record in the io_builtin_drivers
 * section. A driver is loaded once: its DRIVER_OBJECT ("\Driver\<Name>")
 * is made, every MajorFunction slot set to IopInvalidDeviceRequest, and its
 * DriverEntry called at PASSIVE_LEVEL; the devices DriverEntry created then
 * lose DO_DEVICE_INITIALIZING, as NT does for them (AddDevice's devices are
 * the driver's to clear). IoInitSystem loads them all in link order; a
 * function driver that a bus driver's device needs earlier is loaded then.
 */
#include "iop.h"

extern const IO_BUILTIN_DRIVER __start_io_builtin_drivers[], __stop_io_builtin_drivers[];

#define IOP_DRIVER_NAME_CHARS 64

typedef struct _IOP_DRIVER_BLOCK {
    DRIVER_OBJECT Driver;
    DRIVER_EXTENSION Extension;
    WCHAR Name[IOP_DRIVER_NAME_CHARS];
} IOP_DRIVER_BLOCK, *PIOP_DRIVER_BLOCK;

static PDRIVER_OBJECT IopBuiltinDriverObjects[IOP_MAX_BUILTIN_DRIVERS];
static KMUTEX IopDriverLoadMutex;       /* one load at a time; DriverEntry may wait */

static PDRIVER_OBJECT IopLoadBuiltinDriverLocked(const IO_BUILTIN_DRIVER *Entry)
{
    ULONG index = (ULONG)(Entry - __start_io_builtin_drivers);
    static const char prefix[] = "\\Driver\\";
    PIOP_DRIVER_BLOCK block;
    PDRIVER_OBJECT driver;
    NTSTATUS status;
    ULONG n = 0;

    if (index >= IOP_MAX_BUILTIN_DRIVERS)
        KeBugCheckEx(PHASE1_INITIALIZATION_FAILED, STATUS_INSUFFICIENT_RESOURCES, index, 0, 0);
    if (IopBuiltinDriverObjects[index] != NULL)
        return IopBuiltinDriverObjects[index];

    block = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*block), IOP_TAG_DRIVER);
    if (block == NULL)
        return NULL;
    RtlZeroMemory(block, sizeof(*block));
    driver = &block->Driver;
    for (PCSTR p = prefix; *p != 0 && n < IOP_DRIVER_NAME_CHARS; p++)
        block->Name[n++] = (UCHAR)*p;
    for (PCSTR p = Entry->Name; *p != 0 && n < IOP_DRIVER_NAME_CHARS; p++)
        block->Name[n++] = (UCHAR)*p;
    driver->Type = IO_TYPE_DRIVER;
    driver->Size = sizeof(DRIVER_OBJECT);
    driver->DriverExtension = &block->Extension;
    block->Extension.DriverObject = driver;
    driver->DriverName.Buffer = block->Name;
    driver->DriverName.Length = driver->DriverName.MaximumLength = (USHORT)(n * sizeof(WCHAR));
    driver->DriverInit = Entry->DriverEntry;
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver->MajorFunction[i] = IopInvalidDeviceRequest;

    /* Mica has no registry: RegistryPath is the driver's name as NT's
     * service key name would end. */
    status = Entry->DriverEntry(driver, &driver->DriverName);
    if (!NT_SUCCESS(status)) {
        DbgPrint("Io: driver %s failed to load (%08x)\n", Entry->Name, (ULONG)status);
        ExFreePoolWithTag(block, IOP_TAG_DRIVER);
        return NULL;
    }
    for (PDEVICE_OBJECT d = driver->DeviceObject; d != NULL; d = d->NextDevice)
        d->Flags &= ~DO_DEVICE_INITIALIZING;
    IopBuiltinDriverObjects[index] = driver;
    return driver;
}

PDRIVER_OBJECT IopGetBuiltinDriver(ULONG Index)
{
    return Index < IOP_MAX_BUILTIN_DRIVERS ? IopBuiltinDriverObjects[Index] : NULL;
}

static char IopLower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* PnP IDs compare without regard to case. */
static BOOLEAN IopDriverClaims(const IO_BUILTIN_DRIVER *Entry, PCSTR HardwareId)
{
    if (Entry->HardwareIds == NULL)
        return FALSE;
    for (PCSTR const *id = Entry->HardwareIds; *id != NULL; id++) {
        PCSTR a = *id, b = HardwareId;

        while (*a != 0 && IopLower(*a) == IopLower(*b))
            a++, b++;
        if (*a == 0 && *b == 0)
            return TRUE;
    }
    return FALSE;
}

static NTSTATUS IopSendStartDevice(PDEVICE_OBJECT Pdo, PCM_RESOURCE_LIST Raw,
                                   PCM_RESOURCE_LIST Translated)
{
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(Pdo);
    IO_STATUS_BLOCK iosb;
    PIO_STACK_LOCATION next;
    NTSTATUS status;
    KEVENT event;
    PIRP irp;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildSynchronousFsdRequest(IRP_MJ_PNP, top, NULL, 0, NULL, &event, &iosb);
    if (irp == NULL) {
        ObDereferenceObject(top);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    next = IoGetNextIrpStackLocation(irp);
    next->MinorFunction = IRP_MN_START_DEVICE;
    next->Parameters.StartDevice.AllocatedResources = Raw;
    next->Parameters.StartDevice.AllocatedResourcesTranslated = Translated;
    status = IoCallDriver(top, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = iosb.Status;
    }
    ObDereferenceObject(top);
    return status;
}

NTSTATUS IopAddAndStartDevice(PDEVICE_OBJECT PhysicalDeviceObject, PCSTR const *HardwareIds,
                              PCM_RESOURCE_LIST RawResources,
                              PCM_RESOURCE_LIST TranslatedResources)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IopAddAndStartDevice);
    PhysicalDeviceObject->Flags |= DO_BUS_ENUMERATED_DEVICE;
    PhysicalDeviceObject->Flags &= ~DO_DEVICE_INITIALIZING;

    KeWaitForSingleObject(&IopDriverLoadMutex, Executive, KernelMode, FALSE, NULL);
    /* The PDO's IDs go from most to least specific: the first one any driver claims wins. */
    for (PCSTR const *id = HardwareIds; driver == NULL && *id != NULL; id++) {
        for (const IO_BUILTIN_DRIVER *e = __start_io_builtin_drivers; e < __stop_io_builtin_drivers; e++) {
            if (IopDriverClaims(e, *id)) {
                driver = IopLoadBuiltinDriverLocked(e);
                break;
            }
        }
    }
    KeReleaseMutex(&IopDriverLoadMutex, FALSE);
    if (driver == NULL || driver->DriverExtension->AddDevice == NULL)
        return STATUS_NO_SUCH_DEVICE;

    status = driver->DriverExtension->AddDevice(driver, PhysicalDeviceObject);
    if (!NT_SUCCESS(status))
        return status;
    return IopSendStartDevice(PhysicalDeviceObject, RawResources, TranslatedResources);
}

VOID IoInitSystem(VOID)
{
    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoInitSystem);
    KeInitializeMutex(&IopDriverLoadMutex, 0);
    IopInitializeWorkerThreads();
    for (const IO_BUILTIN_DRIVER *e = __start_io_builtin_drivers; e < __stop_io_builtin_drivers; e++) {
        KeWaitForSingleObject(&IopDriverLoadMutex, Executive, KernelMode, FALSE, NULL);
        IopLoadBuiltinDriverLocked(e);
        KeReleaseMutex(&IopDriverLoadMutex, FALSE);
    }
}

/*
 * pdo.c - the PCI bus driver as the I/O manager sees it: one physical
 * device object (PDO) per function, named by NT's PnP IDs, handed to the
 * function driver that claims one of them.
 *
 * NT's pci.sys reports its children to the PnP manager, which asks each
 * for its IDs (IRP_MN_QUERY_ID), picks a driver, calls its AddDevice and
 * sends IRP_MN_START_DEVICE down the new stack. Mica's I/O manager does the
 * same in one call (IopAddAndStartDevice), so the bus driver's DriverEntry
 * (phase 1, IoInitSystem) scans the bus, makes the PDOs, records each
 * one's translated resources for IoConnectInterruptEx and hands it over.
 *
 * The function driver passes IRP_MN_START_DEVICE down to the PDO before it
 * touches its device (NT's rule: the bus starts first); the PDO's dispatch
 * routine then programs the message registers and enables decoding and bus
 * mastering (PciStartFunction). Functions no driver claims are left as the
 * firmware left them: the bus driver never enables a device on its own,
 * and it does not disable one either, since the firmware may have a use
 * for it (the boot display Mica's console draws on, legacy IDE ports),
 * as NT keeps such "critical" devices decoding. PCI-PCI bridges are the
 * bus driver's own (pci.sys is their function driver in NT): it starts them
 * itself, so that the buses behind them forward their devices' cycles.
 */
#include "pcidrv.h"

BOOLEAN PciMessagesAllowed = TRUE;

#define PCI_PDO_NAME_PREFIX u"\\Device\\NTPNP_PCI"
#define PCI_PDO_NAME_DIGITS 4
#define PCI_PDO_NAME_CHARS (sizeof(PCI_PDO_NAME_PREFIX) / sizeof(WCHAR) - 1 + PCI_PDO_NAME_DIGITS)

PPCI_PDO_EXTENSION PciPdoExtension(PDEVICE_OBJECT DeviceObject)
{
    PPCI_PDO_EXTENSION ext;

    if (DeviceObject == NULL || DeviceObject->DeviceType != FILE_DEVICE_BUS_EXTENDER ||
        DeviceObject->DeviceExtension == NULL)
        return NULL;
    ext = DeviceObject->DeviceExtension;
    return ext->Signature == PCI_PDO_SIGNATURE ? ext : NULL;
}

/*
 * NT's PCI IDs ("Identifiers for PCI Devices"), four hex digits per ID,
 * two per byte code, upper case. Hardware IDs, most specific first:
 *   PCI\VEN_v&DEV_d&SUBSYS_s n&REV_r, PCI\VEN_v&DEV_d&SUBSYS_s n,
 *   PCI\VEN_v&DEV_d&REV_r, PCI\VEN_v&DEV_d, PCI\VEN_v&DEV_d&CC_c s p,
 *   PCI\VEN_v&DEV_d&CC_c s
 * (SUBSYS is the subsystem ID, then the subsystem vendor ID); compatible
 * IDs, less and less specific:
 *   PCI\VEN_v&DEV_d&REV_r, PCI\VEN_v&DEV_d, PCI\VEN_v&CC_c s p,
 *   PCI\VEN_v&CC_c s, PCI\VEN_v, PCI\CC_c s p, PCI\CC_c s
 * so a driver may claim one chip ("PCI\VEN_8086&DEV_2922") or a whole
 * class ("PCI\CC_010601", every AHCI controller).
 */
static VOID PciFormatIds(PPCI_PDO_EXTENSION Ext)
{
    const PCI_FUNCTION *f = Ext->Function;
    ULONG n = 0;
#define PCI_ID(...) RtlSnprintf(Ext->Ids[n++], PCI_ID_CHARS, __VA_ARGS__)
    PCI_ID("PCI\\VEN_%04X&DEV_%04X&SUBSYS_%04X%04X&REV_%02X", f->VendorID, f->DeviceID,
           f->SubSystemID, f->SubVendorID, f->RevisionID);
    PCI_ID("PCI\\VEN_%04X&DEV_%04X&SUBSYS_%04X%04X", f->VendorID, f->DeviceID, f->SubSystemID,
           f->SubVendorID);
    PCI_ID("PCI\\VEN_%04X&DEV_%04X&REV_%02X", f->VendorID, f->DeviceID, f->RevisionID);
    PCI_ID("PCI\\VEN_%04X&DEV_%04X", f->VendorID, f->DeviceID);
    PCI_ID("PCI\\VEN_%04X&DEV_%04X&CC_%02X%02X%02X", f->VendorID, f->DeviceID, f->BaseClass,
           f->SubClass, f->ProgIf);
    PCI_ID("PCI\\VEN_%04X&DEV_%04X&CC_%02X%02X", f->VendorID, f->DeviceID, f->BaseClass,
           f->SubClass);
    /* compatible IDs */
    PCI_ID("PCI\\VEN_%04X&DEV_%04X&REV_%02X", f->VendorID, f->DeviceID, f->RevisionID);
    PCI_ID("PCI\\VEN_%04X&DEV_%04X", f->VendorID, f->DeviceID);
    PCI_ID("PCI\\VEN_%04X&CC_%02X%02X%02X", f->VendorID, f->BaseClass, f->SubClass, f->ProgIf);
    PCI_ID("PCI\\VEN_%04X&CC_%02X%02X", f->VendorID, f->BaseClass, f->SubClass);
    PCI_ID("PCI\\VEN_%04X", f->VendorID);
    PCI_ID("PCI\\CC_%02X%02X%02X", f->BaseClass, f->SubClass, f->ProgIf);
    PCI_ID("PCI\\CC_%02X%02X", f->BaseClass, f->SubClass);
#undef PCI_ID
    for (ULONG i = 0; i < PCI_IDS; i++)
        Ext->IdList[i] = Ext->Ids[i];
    Ext->IdList[PCI_IDS] = NULL;
}

/*
 * IRP_MJ_PNP at a PDO: the bottom of the stack, so every IRP ends here.
 * IRP_MN_START_DEVICE starts the function with the resources the bus
 * driver assigned (Mica keeps the firmware's BAR assignment, which is what
 * the lists say); other minor codes are completed with the status the IRP
 * already has, as a PDO does with what it does not handle.
 */
static NTSTATUS PciDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPCI_PDO_EXTENSION ext = PciPdoExtension(DeviceObject);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = Irp->IoStatus.Status;

    if (ext != NULL && stack->MinorFunction == IRP_MN_START_DEVICE) {
        status = PciStartFunction(ext->Function);
        if (NT_SUCCESS(status)) {
            ext->StartedAt = KeQueryPerformanceCounter(NULL).QuadPart;
            ext->StartCount++;
            ext->Started = TRUE;
        }
    }
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/* A bridge forwards memory and I/O cycles down and its devices' DMA (and
 * messages) up only with these on. */
static VOID PciStartBridge(PPCI_PDO_EXTENSION Ext)
{
    PPCI_FUNCTION f = Ext->Function;
    USHORT command = (USHORT)PciReadConfig(f, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2);

    command |= PCI_ENABLE_IO_SPACE | PCI_ENABLE_MEMORY_SPACE | PCI_ENABLE_BUS_MASTER;
    PciWriteConfig(f, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2, command);
    Ext->StartedAt = KeQueryPerformanceCounter(NULL).QuadPart;
    Ext->StartCount++;
    Ext->Started = TRUE;
}

static NTSTATUS PciCreatePdo(PDRIVER_OBJECT Driver, PPCI_FUNCTION F, ULONG Number)
{
    WCHAR name[PCI_PDO_NAME_CHARS + 1];
    static const WCHAR prefix[] = PCI_PDO_NAME_PREFIX;
    UNICODE_STRING unicode;
    PDEVICE_OBJECT pdo;
    PPCI_PDO_EXTENSION ext;
    NTSTATUS status;
    ULONG n = 0;

    for (; prefix[n] != 0; n++)
        name[n] = prefix[n];
    for (ULONG d = PCI_PDO_NAME_DIGITS, v = Number; d-- > 0; v /= 10)
        name[n + d] = (WCHAR)(u'0' + v % 10);
    name[n + PCI_PDO_NAME_DIGITS] = 0;
    RtlInitUnicodeString(&unicode, name);
    status = IoCreateDevice(Driver, sizeof(PCI_PDO_EXTENSION), &unicode, FILE_DEVICE_BUS_EXTENDER,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &pdo);
    if (!NT_SUCCESS(status))
        return status;
    ext = pdo->DeviceExtension;
    ext->Signature = PCI_PDO_SIGNATURE;
    ext->Function = F;
    ext->AddStatus = STATUS_NO_SUCH_DEVICE;
    PciFormatIds(ext);
    status = PciBuildResources(F, &ext->Raw, &ext->Translated);
    if (NT_SUCCESS(status))
        status = IopSetDeviceResources(pdo, ext->Raw, ext->Translated);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(pdo);
        return status;
    }
    pdo->Flags |= DO_BUS_ENUMERATED_DEVICE;
    F->Pdo = pdo;
    return STATUS_SUCCESS;
}

static NTSTATUS PciDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    char option[8];
    ULONG number = 0;

    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = PciDispatchPnp;
    /* Mica has no registry: the boot command line stands in for the service's parameters. */
    if (KeQueryBootOption("pcimsi", option, sizeof(option)) && strcmp(option, "off") == 0)
        PciMessagesAllowed = FALSE;

    PciEnumerate();
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        NTSTATUS status = PciCreatePdo(DriverObject, f, number++);

        if (!NT_SUCCESS(status))
            DbgPrint("PCI: no device object for %02x:%02x.%x (%08x)\n", f->Bus, f->Device,
                     f->Function, (ULONG)status);
    }
    /* Bridges first: the devices behind them are reached through them. */
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);

        if (f->Pdo != NULL && f->HeaderType == PCI_BRIDGE_TYPE) {
            PciStartBridge(f->Pdo->DeviceExtension);
            PciPdoExtension(f->Pdo)->AddStatus = STATUS_SUCCESS;
        }
    }
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        PPCI_PDO_EXTENSION ext = PciPdoExtension(f->Pdo);

        if (ext == NULL || f->HeaderType == PCI_BRIDGE_TYPE)
            continue;
        ext->AddStatus = IopAddAndStartDevice(f->Pdo, ext->IdList, ext->Raw, ext->Translated);
        if (ext->AddStatus != STATUS_NO_SUCH_DEVICE)
            DbgPrint("PCI: %02x:%02x.%x %s: %s (%08x)\n", f->Bus, f->Device, f->Function,
                     ext->Ids[3], NT_SUCCESS(ext->AddStatus) ? "started" : "failed to start",
                     (ULONG)ext->AddStatus);
    }
    return STATUS_SUCCESS;
}

IO_BUILTIN_DRIVER("Pci", PciDriverEntry, NULL);

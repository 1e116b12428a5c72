/*
 * test_pci_driver.c - the PCI bus driver (drivers/pci/pdo.c) and a
 * function driver on top of it (tests/drivers/edu.c, QEMU's edu device,
 * which every test configuration plugs in), as the boot left them: the
 * bus driver's DriverEntry made a PDO per function and the I/O manager
 * gave edu's to the driver that claims PCI\VEN_1234&DEV_11E8.
 *
 * What is checked: the PDOs' NT PnP IDs against configuration space;
 * START_DEVICE reaching the PDO (decode, bus mastering, MSI) before the
 * function driver touched its registers; the device's interrupt reaching
 * the driver's ISR and DPC, by message, or by its shared INTx line in the
 * boot with pcimsi=off (tests/runner.py's uefi-256m-pcicfgport and
 * bios-128m-pcimsioff); and functions no driver claims left as the
 * firmware left them.
 */
#include "../../drivers/pci/pcidrv.h"
#include "../drivers/edu.h"
#include "test_io.h"

#define KTP_CAUSE 0x5A
#define PCI_VENDOR_VIRTIO 0x1AF4
#define PCI_BRIDGE_VENDOR 0x1B36        /* QEMU's pci-bridge */
#define PCI_BRIDGE_DEVICE 0x0001
#define ICH9_AHCI_VENDOR 0x8086
#define ICH9_AHCI_DEVICE 0x2922
#define Q35_HOST_DEVICE  0x29C0

static USHORT KtpCommand(const PCI_FUNCTION *F)
{
    return (USHORT)PciReadConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2);
}

static BOOLEAN KtpMessagesOff(void)
{
    char value[8];

    return KeQueryBootOption("pcimsi", value, sizeof(value)) && strcmp(value, "off") == 0;
}

static BOOLEAN KtpNameIs(PDRIVER_OBJECT Driver, PCWSTR Name)
{
    UNICODE_STRING name;

    RtlInitUnicodeString(&name, Name);
    return Driver != NULL && RtlEqualUnicodeString(&Driver->DriverName, &name, TRUE);
}

static BOOLEAN KtpHasId(PPCI_PDO_EXTENSION Ext, PCSTR Id)
{
    for (PCSTR const *id = Ext->IdList; *id != NULL; id++)
        if (strcmp(*id, Id) == 0)
            return TRUE;
    return FALSE;
}

/* edu's function device object (referenced) and the PCI record below it. */
static PDEVICE_OBJECT KtpOpenEdu(PPCI_FUNCTION *Function)
{
    PDEVICE_OBJECT fdo = IotestOpen(EDU_NAME);
    PPCI_PDO_EXTENSION pdo;

    if (fdo == NULL)
        return NULL;
    pdo = PciPdoExtension(((PEDU_EXTENSION)fdo->DeviceExtension)->Pdo);
    *Function = pdo ? pdo->Function : NULL;
    return fdo;
}

/* Every function has a PDO whose IDs say what its configuration space says. */
KTEST(pci_driver, pdo_ids_follow_configuration_space)
{
    ULONG pdos = 0;
    char expect[PCI_ID_CHARS];

    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        PPCI_PDO_EXTENSION ext = PciPdoExtension(f->Pdo);
        PCI_COMMON_HEADER h;

        KASSERT_TRUE(ext != NULL);
        pdos++;
        KEXPECT_TRUE(KtpNameIs(f->Pdo->DriverObject, u"\\Driver\\Pci"));
        KEXPECT_EQ(f->Pdo->DeviceType, FILE_DEVICE_BUS_EXTENDER);
        KEXPECT_TRUE(f->Pdo->Flags & DO_BUS_ENUMERATED_DEVICE);
        KEXPECT_FALSE(f->Pdo->Flags & DO_DEVICE_INITIALIZING);
        KASSERT_EQ(HalGetBusDataByOffset(PCIConfiguration, f->Bus, PciSlot(f), &h, 0, sizeof(h)),
                   sizeof(h));
        if ((h.HeaderType & ~PCI_MULTIFUNCTION) != PCI_DEVICE_TYPE)
            h.u.type0.SubVendorID = h.u.type0.SubSystemID = 0;     /* no subsystem in a bridge header */
        RtlSnprintf(expect, sizeof(expect), "PCI\\VEN_%04X&DEV_%04X&SUBSYS_%04X%04X&REV_%02X",
                    h.VendorID, h.DeviceID, h.u.type0.SubSystemID, h.u.type0.SubVendorID,
                    h.RevisionID);
        KEXPECT_STREQ(ext->IdList[0], expect);
        RtlSnprintf(expect, sizeof(expect), "PCI\\VEN_%04X&DEV_%04X", h.VendorID, h.DeviceID);
        KEXPECT_STREQ(ext->IdList[3], expect);
        KEXPECT_STREQ(ext->IdList[PCI_HARDWARE_IDS + 1], expect);      /* compatible too */
        RtlSnprintf(expect, sizeof(expect), "PCI\\CC_%02X%02X%02X", h.BaseClass, h.SubClass, h.ProgIf);
        KEXPECT_STREQ(ext->IdList[PCI_IDS - 2], expect);
        RtlSnprintf(expect, sizeof(expect), "PCI\\CC_%02X%02X", h.BaseClass, h.SubClass);
        KEXPECT_STREQ(ext->IdList[PCI_IDS - 1], expect);
        KEXPECT_EQ(ext->IdList[PCI_IDS], NULL);
    }
    KEXPECT_GT(pdos, 4);

    /* By name, as NT names them: the first is the host bridge at 00:00.0. */
    PDEVICE_OBJECT first = IotestOpen(u"\\Device\\NTPNP_PCI0000");
    KASSERT_TRUE(first != NULL);
    KEXPECT_EQ(PciPdoExtension(first)->Function, CONTAINING_RECORD(PciFunctionList.Flink, PCI_FUNCTION, Link));
    ObDereferenceObject(first);

    /* edu, literally; and on q35 the ICH9 AHCI controller, claimable by class. */
    PPCI_FUNCTION edu = PciFindDevice(0x1234, 0x11E8, 0);
    KASSERT_TRUE(edu != NULL);
    KEXPECT_TRUE(KtpHasId(PciPdoExtension(edu->Pdo), EDU_HARDWARE_ID));
    KEXPECT_EQ(strncmp(PciPdoExtension(edu->Pdo)->IdList[0], "PCI\\VEN_1234&DEV_11E8&SUBSYS_", 29), 0);
    PPCI_FUNCTION host = PciFindFunction(0, 0, 0), ahci = PciFindDevice(ICH9_AHCI_VENDOR, ICH9_AHCI_DEVICE, 0);
    KASSERT_TRUE(host != NULL);
    if (host->DeviceID == Q35_HOST_DEVICE) {
        KASSERT_TRUE(ahci != NULL);
        KEXPECT_TRUE(KtpHasId(PciPdoExtension(ahci->Pdo), "PCI\\CC_010601"));
        KEXPECT_TRUE(KtpHasId(PciPdoExtension(ahci->Pdo), "PCI\\VEN_8086&DEV_2922&CC_010601"));
    }
}

/* The edu driver's FDO sits on the PCI PDO, and the bus driver started the
 * function (decode, bus mastering) before the driver used its registers. */
KTEST(pci_driver, edu_started_through_its_pdo_first)
{
    PPCI_FUNCTION f = NULL;
    PDEVICE_OBJECT fdo = KtpOpenEdu(&f);
    PEDU_EXTENSION ext;
    PPCI_PDO_EXTENSION pdo;
    USHORT command;

    KASSERT_TRUE(fdo != NULL);
    KASSERT_TRUE(f != NULL);
    ext = fdo->DeviceExtension;
    pdo = PciPdoExtension(ext->Pdo);
    KEXPECT_TRUE(KtpNameIs(fdo->DriverObject, u"\\Driver\\Edu"));
    KEXPECT_EQ(f->Pdo, ext->Pdo);
    KEXPECT_EQ(ext->Lower, ext->Pdo);
    KEXPECT_EQ(ext->Pdo->AttachedDevice, fdo);
    KEXPECT_EQ(fdo->StackSize, 2);
    KEXPECT_EQ(pdo->AddStatus, STATUS_SUCCESS);
    KEXPECT_EQ(ext->LowerStartStatus, STATUS_SUCCESS);
    KEXPECT_TRUE(pdo->Started);
    KEXPECT_EQ(pdo->StartCount, 1);
    /* Order: the PDO completed START_DEVICE, then the driver mapped BAR0. */
    KEXPECT_NE(pdo->StartedAt, 0);
    KEXPECT_NE(ext->MappedAt, 0);
    KEXPECT_LT(pdo->StartedAt, ext->MappedAt);
    KEXPECT_EQ(ext->Identification & EDU_IDENTIFICATION_MASK, EDU_IDENTIFICATION);
    command = KtpCommand(f);
    KEXPECT_TRUE(command & PCI_ENABLE_MEMORY_SPACE);
    KEXPECT_TRUE(command & PCI_ENABLE_BUS_MASTER);
    /* (SeaBIOS leaves bus mastering off, OVMF on: only the result is checked.) */
    ObDereferenceObject(fdo);
}

static volatile LONG KtpOtherCount;

static BOOLEAN KtpOtherIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KtpOtherCount++;
    return FALSE;                       /* another device on the line, idle */
}

static PCM_PARTIAL_RESOURCE_DESCRIPTOR KtpInterruptOf(PCM_RESOURCE_LIST List)
{
    PCM_PARTIAL_RESOURCE_LIST p = &List->List[0].PartialResourceList;

    for (ULONG i = 0; i < p->Count; i++)
        if (p->PartialDescriptors[i].Type == CmResourceTypeInterrupt)
            return &p->PartialDescriptors[i];
    return NULL;
}

/*
 * The device's interrupt reaches the driver's ISR, at the IRQL of its
 * resource, and the ISR's DPC: by message (MSI programmed by the bus
 * driver, INTx disabled), or with pcimsi=off by the level-sensitive INTx
 * line, which another ISR shares and declines.
 */
KTEST(pci_driver, edu_interrupt_reaches_isr_and_dpc)
{
    PPCI_FUNCTION f = NULL;
    PDEVICE_OBJECT fdo = KtpOpenEdu(&f);
    BOOLEAN off = KtpMessagesOff();
    PCM_PARTIAL_RESOURCE_DESCRIPTOR d;
    PKINTERRUPT other = NULL;
    PEDU_EXTENSION ext;
    ULONG cause = KTP_CAUSE;
    ULONG_PTR info = 0;
    LONG isrs, dpcs;
    USHORT msi;

    KASSERT_TRUE(fdo != NULL);
    KASSERT_TRUE(f != NULL);
    ext = fdo->DeviceExtension;
    KEXPECT_EQ(PciMessagesAllowed, !off);
    KASSERT_EQ(ext->ConnectStatus, STATUS_SUCCESS);
    d = KtpInterruptOf(PciPdoExtension(ext->Pdo)->Translated);
    KASSERT_TRUE(d != NULL);
    msi = (USHORT)PciReadConfig(f, f->MsiCapability + PCI_MSI_MESSAGE_CONTROL, 2);
    if (!off) {
        KEXPECT_EQ(ext->ConnectVersion, CONNECT_MESSAGE_BASED);
        KASSERT_TRUE(ext->MessageTable != NULL);
        KEXPECT_EQ(ext->MessageTable->MessageCount, 1);
        KEXPECT_EQ(ext->MessageTable->MessageInfo[0].Vector, f->MessageVectors[0]);
        KEXPECT_TRUE(d->Flags & CM_RESOURCE_INTERRUPT_MESSAGE);
        KEXPECT_TRUE(msi & PCI_MSI_CONTROL_ENABLE);
        KEXPECT_TRUE(KtpCommand(f) & PCI_DISABLE_LEVEL_INTERRUPT);
    } else {
        IO_CONNECT_INTERRUPT_PARAMETERS connect;

        KEXPECT_EQ(ext->ConnectVersion, CONNECT_LINE_BASED);       /* it fell back */
        KASSERT_TRUE(ext->Interrupt != NULL);
        KEXPECT_EQ(d->Flags, CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE);
        KEXPECT_EQ(d->ShareDisposition, CmResourceShareShared);
        KEXPECT_FALSE(msi & PCI_MSI_CONTROL_ENABLE);
        KEXPECT_FALSE(KtpCommand(f) & PCI_DISABLE_LEVEL_INTERRUPT);
        /* Another ISR on the same line, through the same PDO's resources. */
        RtlZeroMemory(&connect, sizeof(connect));
        connect.Version = CONNECT_LINE_BASED;
        connect.LineBased.PhysicalDeviceObject = ext->Pdo;
        connect.LineBased.InterruptObject = &other;
        connect.LineBased.ServiceRoutine = KtpOtherIsr;
        KASSERT_EQ(IoConnectInterruptEx(&connect), STATUS_SUCCESS);
        KtpOtherCount = 0;
    }

    isrs = ext->IsrCount;
    dpcs = ext->DpcCount;
    KEXPECT_EQ(IotestIoctl(fdo, IOCTL_EDU_RAISE, &cause, sizeof(cause), NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, KTP_CAUSE);
    KEXPECT_EQ(ext->IsrCount, isrs + 1);
    KEXPECT_EQ(ext->DpcCount, dpcs + 1);
    KEXPECT_EQ(ext->IsrIrql, off ? d->u.Interrupt.Level : d->u.MessageInterrupt.Translated.Level);
    KEXPECT_EQ(ext->DpcIrql, DISPATCH_LEVEL);
    if (!off)
        KEXPECT_EQ(ext->LastMessage, 0);
    /* A second event: a second message, or the line asserted again. */
    cause = 0x3;
    KEXPECT_EQ(IotestIoctl(fdo, IOCTL_EDU_RAISE, &cause, sizeof(cause), NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 0x3);
    KeStallExecutionProcessor(5000);    /* a level line left asserted would fire again */
    KEXPECT_EQ(ext->IsrCount, isrs + 2);
    if (off) {
        IO_DISCONNECT_INTERRUPT_PARAMETERS disconnect;

        KEXPECT_GE(KtpOtherCount, 2);   /* the line's other ISR was asked each time */
        disconnect.Version = CONNECT_LINE_BASED;
        disconnect.ConnectionContext.InterruptObject = other;
        IoDisconnectInterruptEx(&disconnect);
    }
    /* Refused requests. */
    cause = 0;
    KEXPECT_EQ(IotestIoctl(fdo, IOCTL_EDU_RAISE, &cause, sizeof(cause), NULL, 0, &info),
               STATUS_INVALID_PARAMETER);
    ObDereferenceObject(fdo);
}

/* Functions no driver claims are left as the firmware left them; the bus
 * driver started the bridges itself. */
KTEST(pci_driver, unclaimed_functions_left_as_firmware_left_them)
{
    ULONG unclaimed = 0;
    BOOLEAN sawVirtio = FALSE;

    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        PPCI_PDO_EXTENSION ext = PciPdoExtension(f->Pdo);

        KASSERT_TRUE(ext != NULL);
        if (f->HeaderType == PCI_BRIDGE_TYPE) {
            KEXPECT_TRUE(ext->Started);
            KEXPECT_EQ(KtpCommand(f) & (PCI_ENABLE_MEMORY_SPACE | PCI_ENABLE_BUS_MASTER),
                       PCI_ENABLE_MEMORY_SPACE | PCI_ENABLE_BUS_MASTER);
            continue;
        }
        if (ext->AddStatus != STATUS_NO_SUCH_DEVICE)
            continue;
        unclaimed++;
        KEXPECT_FALSE(ext->Started);
        KEXPECT_EQ(ext->StartCount, 0);
        KEXPECT_EQ(f->Pdo->AttachedDevice, NULL);
        KEXPECT_EQ(KtpCommand(f), f->FirmwareCommand);
        if (f->MsixCapability != 0)
            KEXPECT_FALSE(PciReadConfig(f, f->MsixCapability + PCI_MSIX_MESSAGE_CONTROL, 2) &
                          PCI_MSIX_CONTROL_ENABLE);
        if (f->VendorID == PCI_VENDOR_VIRTIO && f->Bridge != NULL)
            sawVirtio = TRUE;           /* the runner's virtio-rng behind its bridge */
    }
    KEXPECT_GT(unclaimed, 2);
    KEXPECT_TRUE(sawVirtio);
    KEXPECT_TRUE(PciFindDevice(PCI_BRIDGE_VENDOR, PCI_BRIDGE_DEVICE, 0) != NULL);
}

/* No record for the PDO: nothing to connect; bad parameters. */
KTEST(pci_driver, connect_without_resources_is_not_found)
{
    static DEVICE_OBJECT pdo;           /* a device no bus driver recorded */
    PKINTERRUPT interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS connect;

    RtlZeroMemory(&connect, sizeof(connect));
    connect.Version = CONNECT_LINE_BASED;
    connect.LineBased.PhysicalDeviceObject = &pdo;
    connect.LineBased.InterruptObject = &interrupt;
    connect.LineBased.ServiceRoutine = KtpOtherIsr;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_NOT_FOUND);
    connect.Version = 7;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_INVALID_PARAMETER_1);
    connect.Version = CONNECT_FULLY_SPECIFIED;
    connect.FullySpecified.ServiceRoutine = KtpOtherIsr;
    connect.FullySpecified.InterruptObject = &interrupt;
    connect.FullySpecified.ProcessorEnableMask = 0;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_INVALID_PARAMETER_10);
}

/* A device with messages is not line based: CONNECT_LINE_BASED on edu's
 * PDO is refused while it has message resources. */
KTEST(pci_driver, line_connect_refused_for_message_device)
{
    PPCI_FUNCTION f = NULL;
    PDEVICE_OBJECT fdo = KtpOpenEdu(&f);
    PKINTERRUPT interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS connect;

    KASSERT_TRUE(fdo != NULL);
    if (KtpMessagesOff()) {
        ObDereferenceObject(fdo);
        KTEST_SKIP("pcimsi=off: edu has its line");
    }
    RtlZeroMemory(&connect, sizeof(connect));
    connect.Version = CONNECT_LINE_BASED;
    connect.LineBased.PhysicalDeviceObject = ((PEDU_EXTENSION)fdo->DeviceExtension)->Pdo;
    connect.LineBased.InterruptObject = &interrupt;
    connect.LineBased.ServiceRoutine = KtpOtherIsr;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_INVALID_DEVICE_REQUEST);
    ObDereferenceObject(fdo);
}

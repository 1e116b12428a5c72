/*
 * hba.c - the AHCI controller: a PCI function driver claiming the class
 * "PCI\CC_010601" (every AHCI 1.0 HBA: QEMU's ich9-ahci on pc and q35,
 * real Intel and AMD controllers).
 *
 *   AddDevice     the HBA's FDO (unnamed) above the PCI PDO;
 *   START_DEVICE  down to the PDO first (decode, bus mastering, MSI), then:
 *                 map ABAR (the last memory BAR: BAR5), take the HBA from
 *                 the firmware (BIOS/OS handoff when CAP2.BOH says so),
 *                 reset it (GHC.HR) and set AHCI mode, get a DMA adapter
 *                 (64-bit only when CAP.S64A), connect the interrupt
 *                 (message, else the line), start every implemented port
 *                 with an ATA device behind it (port.c) and make its disk
 *                 device (disk.c), then GHC.IE;
 *   the ISR       reads IS, acknowledges each interrupting port's PxIS
 *                 (before IS: IS is recomputed from the ports, so the
 *                 other order keeps a level line up), remembers the bits
 *                 and queues the DPC - nothing else at DIRQL;
 *   the DPC       services each port that interrupted: completions,
 *                 errors (recover.c), refilling its slots (port.c);
 *   STOP_DEVICE, SURPRISE_REMOVAL, REMOVE_DEVICE
 *                 drain or fail the ports' requests, then give back the
 *                 interrupt, the common buffers, the adapter and ABAR;
 *                 REMOVE deletes the disks and the FDO. START after a
 *                 STOP brings the same disks back with what they held.
 */
#include "ahci.h"

PAHCI_PORT AhciDisks[AHCI_MAX_DISKS];
volatile LONG AhciDiskCount;

#define AHCI_HANDOFF_WAIT_MS 2000       /* AHCI 10.6.3: BIOS busy may take 2 s */
#define AHCI_RESET_WAIT_MS   1000       /* AHCI 10.4.3: HR clears within 1 s */

static BOOLEAN WaitClear(PUCHAR Base, ULONG Offset, ULONG Bits, ULONG Milliseconds)
{
    for (ULONG i = 0; i <= Milliseconds * 10; i++) {
        if ((AhciRead(Base, Offset) & Bits) == 0)
            return TRUE;
        KeStallExecutionProcessor(100);
    }
    return FALSE;
}

/* ---- Interrupts ---- */

static BOOLEAN Acknowledge(PAHCI_HBA Hba)
{
    ULONG is = AhciRead(Hba->Abar, AHCI_IS);

    if (is == 0)
        return FALSE;                   /* a shared line, not ours */
    for (ULONG pending = is; pending != 0; pending &= pending - 1) {
        ULONG n = __builtin_ctz(pending);
        PUCHAR port = Hba->Abar + AHCI_PORT_BASE(n);
        ULONG pxis = AhciRead(port, PX_IS);

        /* A cable or device change (hot plug): PCS and PRCS stay set until
         * their PxSERR.DIAG bits are cleared, and would hold a level line
         * asserted for ever. The DPC says what the port now holds. */
        if (pxis & (PX_IS_PCS | PX_IS_PRCS))
            AhciWrite(port, PX_SERR, PX_SERR_DIAG_X | PX_SERR_DIAG_N);
        AhciWrite(port, PX_IS, pxis);
        if (Hba->Ports[n] != NULL)
            __atomic_fetch_or(&Hba->Ports[n]->PendingIs, pxis, __ATOMIC_RELEASE);
    }
    AhciWrite(Hba->Abar, AHCI_IS, is);
    Hba->IsrCount++;
    IoRequestDpc(Hba->Self, NULL, Hba);
    return TRUE;
}

static BOOLEAN MessageIsr(PKINTERRUPT Interrupt, PVOID Context, ULONG MessageId)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(MessageId);
    return Acknowledge(Context);
}

static BOOLEAN LineIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    return Acknowledge(Context);
}

static VOID DpcForIsr(PKDPC Dpc, PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PAHCI_HBA hba = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    for (ULONG n = 0; n < 32; n++)
        if (hba->Ports[n] != NULL && hba->Ports[n]->PendingIs != 0)
            AhciPortService(hba->Ports[n]);
}

static NTSTATUS ConnectInterrupt(PAHCI_HBA Hba)
{
    IO_CONNECT_INTERRUPT_PARAMETERS connect;
    NTSTATUS status;

    RtlZeroMemory(&connect, sizeof(connect));
    connect.Version = CONNECT_MESSAGE_BASED;
    connect.MessageBased.PhysicalDeviceObject = Hba->Pdo;
    connect.MessageBased.ConnectionContext.InterruptMessageTable = &Hba->MessageTable;
    connect.MessageBased.MessageServiceRoutine = MessageIsr;
    connect.MessageBased.ServiceContext = Hba;
    connect.MessageBased.FallBackServiceRoutine = LineIsr;
    status = IoConnectInterruptEx(&connect);
    Hba->ConnectVersion = connect.Version;
    if (NT_SUCCESS(status) && connect.Version == CONNECT_LINE_BASED) {
        Hba->Interrupt = (PKINTERRUPT)Hba->MessageTable;
        Hba->MessageTable = NULL;
    }
    return status;
}

/* ---- Bringing the HBA up ---- */

static NTSTATUS TakeOwnership(PAHCI_HBA Hba)
{
    PUCHAR abar = Hba->Abar;

    /* AHCI 10.6.3: ask the firmware to let go, and wait while it is busy. */
    if (AhciRead(abar, AHCI_CAP2) & AHCI_CAP2_BOH) {
        AhciWrite(abar, AHCI_BOHC, AhciRead(abar, AHCI_BOHC) | AHCI_BOHC_OOS);
        if (!WaitClear(abar, AHCI_BOHC, AHCI_BOHC_BOS | AHCI_BOHC_BB, AHCI_HANDOFF_WAIT_MS))
            DbgPrint("ahci: the firmware did not release the HBA; taking it anyway\n");
    }
    /* AHCI 10.4.3: AE before HR, HR clears when the reset is done. The
     * reset also stops whatever the firmware left running (SeaBIOS leaves
     * port 0 started with its command list in firmware memory). */
    AhciWrite(abar, AHCI_GHC, AhciRead(abar, AHCI_GHC) | AHCI_GHC_AE);
    AhciWrite(abar, AHCI_GHC, AhciRead(abar, AHCI_GHC) | AHCI_GHC_HR);
    if (!WaitClear(abar, AHCI_GHC, AHCI_GHC_HR, AHCI_RESET_WAIT_MS))
        return STATUS_IO_TIMEOUT;
    AhciWrite(abar, AHCI_GHC, AHCI_GHC_AE);
    Hba->Cap = AhciRead(abar, AHCI_CAP);
    Hba->Pi = AhciRead(abar, AHCI_PI);
    Hba->Version = AhciRead(abar, AHCI_VS);
    Hba->Slots = AHCI_CAP_NCS(Hba->Cap);
    return STATUS_SUCCESS;
}

/* ahcidma=32: drive the HBA as if CAP.S64A were 0 (a 32-bit master), so
 * buffers above 4 GiB go through the adapter's map registers. */
static BOOLEAN Forced32Bit(VOID)
{
    char value[8];

    return KeQueryBootOption("ahcidma", value, sizeof(value)) && strcmp(value, "32") == 0;
}

static NTSTATUS GetAdapter(PAHCI_HBA Hba)
{
    DEVICE_DESCRIPTION d;

    if (Forced32Bit())
        Hba->Cap &= ~AHCI_CAP_S64A;

    RtlZeroMemory(&d, sizeof(d));
    d.Version = DEVICE_DESCRIPTION_VERSION;
    d.Master = TRUE;
    d.ScatterGather = TRUE;
    d.Dma32BitAddresses = TRUE;
    /* Without S64A the upper address registers are read-only zero. */
    d.Dma64BitAddresses = (Hba->Cap & AHCI_CAP_S64A) != 0;
    d.InterfaceType = PCIBus;
    d.MaximumLength = AHCI_MAX_TRANSFER;
    Hba->Dma = IoGetDmaAdapter(Hba->Pdo, &d, &Hba->MapRegisters);
    if (Hba->Dma == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* A transfer needs one map register per page it touches, plus one
     * when it does not start on a page. */
    Hba->MaxTransfer = AHCI_MAX_TRANSFER;
    if (Hba->MapRegisters >= 2 && (Hba->MapRegisters - 1) * PAGE_SIZE < Hba->MaxTransfer)
        Hba->MaxTransfer = (Hba->MapRegisters - 1) * PAGE_SIZE;
    return STATUS_SUCCESS;
}

static NTSTATUS StartHba(PAHCI_HBA Hba, PCM_RESOURCE_LIST Translated)
{
    PCM_PARTIAL_RESOURCE_DESCRIPTOR abar = NULL, descriptors;
    NTSTATUS status;

    if (Translated == NULL || Translated->Count == 0)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    /* NT declares PartialDescriptors[1] inside List[1]: GCC takes that
     * bound literally in a nested array and stops the loop after the first
     * descriptor, so walk a pointer it cannot see the bound of. */
    descriptors = Translated->List[0].PartialResourceList.PartialDescriptors;
    __asm__("" : "+r"(descriptors));
    for (ULONG i = 0; i < Translated->List[0].PartialResourceList.Count; i++)
        if (descriptors[i].Type == CmResourceTypeMemory)
            abar = &descriptors[i];     /* ABAR is BAR5, the last memory BAR */
    if (abar == NULL || abar->u.Memory.Length < AHCI_PORT_BASE(1))
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    Hba->AbarBytes = abar->u.Memory.Length < AHCI_ABAR_SIZE ? abar->u.Memory.Length : AHCI_ABAR_SIZE;
    Hba->Abar = MmMapIoSpace(abar->u.Memory.Start, Hba->AbarBytes, MmNonCached);
    if (Hba->Abar == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = TakeOwnership(Hba);
    if (NT_SUCCESS(status))
        status = GetAdapter(Hba);
    if (NT_SUCCESS(status))
        status = ConnectInterrupt(Hba);
    if (!NT_SUCCESS(status))
        return status;
    DbgPrint("ahci: HBA version %x.%x, %u ports (PI %08x), %u slots, NCQ %s, 64-bit %s, %s interrupt\n",
             Hba->Version >> 16, Hba->Version & 0xFFFF, AHCI_CAP_NP(Hba->Cap) + 1, Hba->Pi,
             Hba->Slots, Hba->Cap & AHCI_CAP_SNCQ ? "yes" : "no",
             Hba->Cap & AHCI_CAP_S64A ? "yes" : "no",
             Hba->ConnectVersion == CONNECT_MESSAGE_BASED ? "message" : "line");
    /* Interrupts on first: every port's PxIE is 0 after the reset, and a
     * port restarted after a stop goes on with the requests it held. */
    AhciWrite(Hba->Abar, AHCI_GHC, AHCI_GHC_AE | AHCI_GHC_IE);
    Hba->Started = TRUE;
    for (ULONG n = 0; n < 32; n++) {
        if (Hba->Ports[n] != NULL && !NT_SUCCESS(AhciPortRestart(Hba->Ports[n]))) {
            DbgPrint("ahci: disk %u (port %u) did not come back\n", Hba->Ports[n]->DiskNumber, n);
            AhciPortFailAll(Hba->Ports[n], STATUS_NO_SUCH_DEVICE, FALSE);
        } else if (Hba->Ports[n] == NULL && (Hba->Pi & (1u << n))) {
            AhciCreateDisk(Hba, n);     /* an empty or non-ATA port is skipped */
        }
    }
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL, every port idle: give back what StartHba took, in the
 * reverse order - the interrupt (and any DPC it queued, which looks at
 * the ports), the ports' memory, the adapter, ABAR. */
static VOID ReleaseHba(PAHCI_HBA Hba)
{
    IO_DISCONNECT_INTERRUPT_PARAMETERS disconnect;

    if (!Hba->Started)
        return;
    Hba->Started = FALSE;
    AhciWrite(Hba->Abar, AHCI_GHC, AHCI_GHC_AE);
    RtlZeroMemory(&disconnect, sizeof(disconnect));
    disconnect.Version = Hba->ConnectVersion;
    if (Hba->ConnectVersion == CONNECT_MESSAGE_BASED)
        disconnect.ConnectionContext.InterruptMessageTable = Hba->MessageTable;
    else
        disconnect.ConnectionContext.InterruptObject = Hba->Interrupt;
    IoDisconnectInterruptEx(&disconnect);
    Hba->MessageTable = NULL;
    Hba->Interrupt = NULL;
    KeFlushQueuedDpcs();
    for (ULONG n = 0; n < 32; n++)
        if (Hba->Ports[n] != NULL)
            AhciPortRelease(Hba->Ports[n]);
    Hba->Dma->DmaOperations->PutDmaAdapter(Hba->Dma);
    Hba->Dma = NULL;
    MmUnmapIoSpace(Hba->Abar, Hba->AbarBytes);
    Hba->Abar = NULL;
}

/* ---- PnP ---- */

/*
 * IRP_MN_STOP_DEVICE: the hardware goes back (the PnP manager may hand
 * other resources at the next start); requests wait in their queues.
 * IRP_MN_SURPRISE_REMOVAL: the device is gone - what it had in flight or
 * queued, and whatever comes later, fails with STATUS_NO_SUCH_DEVICE; the
 * device objects stay until IRP_MN_REMOVE_DEVICE (NT's rule). REMOVE:
 * after an orderly removal's drain the queued requests fail the same way,
 * then the disks and the FDO are deleted. All three succeed and go down.
 */
static NTSTATUS HbaStopOrRemove(PAHCI_HBA Hba, PIRP Irp, UCHAR Minor)
{
    PDEVICE_OBJECT lower = Hba->Lower, self = Hba->Self;
    NTSTATUS status;

    for (ULONG n = 0; n < 32; n++) {
        PAHCI_PORT port = Hba->Ports[n];
        if (port == NULL)
            continue;
        if (Minor == IRP_MN_SURPRISE_REMOVAL) {
            AhciPortFailAll(port, STATUS_NO_SUCH_DEVICE, TRUE);
        } else if (port->GoneStatus == 0) {
            AhciPortHold(port);
            if (Minor == IRP_MN_REMOVE_DEVICE)
                AhciPortFailAll(port, STATUS_NO_SUCH_DEVICE, FALSE);
        }
    }
    if (Minor == IRP_MN_SURPRISE_REMOVAL)
        Hba->SurpriseRemoved = TRUE;
    ReleaseHba(Hba);
    if (Minor == IRP_MN_REMOVE_DEVICE)
        for (ULONG n = 0; n < 32; n++)
            if (Hba->Ports[n] != NULL)
                AhciDeleteDisk(Hba->Ports[n]);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(lower, Irp);
    if (Minor == IRP_MN_REMOVE_DEVICE) {
        IoDetachDevice(lower);
        IoDeleteDevice(self);
    }
    return status;
}

static NTSTATUS HbaPnp(PAHCI_HBA Hba, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;

    if (stack->MinorFunction == IRP_MN_STOP_DEVICE || stack->MinorFunction == IRP_MN_SURPRISE_REMOVAL ||
        stack->MinorFunction == IRP_MN_REMOVE_DEVICE)
        return HbaStopOrRemove(Hba, Irp, stack->MinorFunction);
    if (stack->MinorFunction != IRP_MN_START_DEVICE) {
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(Hba->Lower, Irp);
    }
    /* The bus driver starts the function first; the device is ours after that. */
    if (!IoForwardIrpSynchronously(Hba->Lower, Irp))
        Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;     /* no location for the bus driver */
    status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        status = StartHba(Hba, stack->Parameters.StartDevice.AllocatedResourcesTranslated);
    if (!NT_SUCCESS(status))
        DbgPrint("ahci: HBA not started: status %08x\n", (ULONG)status);
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/* One dispatch table serves the HBA's FDO and the disks: the extension's
 * first byte says which. */
static NTSTATUS Dispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PAHCI_HBA hba = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    if (hba->IsDisk)
        return AhciDiskDispatch(DeviceObject, Irp);
    if (stack->MajorFunction == IRP_MJ_PNP)
        return HbaPnp(hba, Irp);
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

static NTSTATUS AddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT fdo;
    PAHCI_HBA hba;
    NTSTATUS status;

    status = IoCreateDevice(DriverObject, sizeof(AHCI_HBA), NULL, FILE_DEVICE_CONTROLLER, 0, FALSE, &fdo);
    if (!NT_SUCCESS(status))
        return status;
    hba = fdo->DeviceExtension;
    RtlZeroMemory(hba, sizeof(*hba));
    hba->Self = fdo;
    hba->Pdo = PhysicalDeviceObject;
    IoInitializeDpcRequest(fdo, DpcForIsr);
    hba->Lower = IoAttachDeviceToDeviceStack(fdo, PhysicalDeviceObject);
    if (hba->Lower == NULL) {
        IoDeleteDevice(fdo);
        return STATUS_NO_SUCH_DEVICE;
    }
    fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_READ] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_FLUSH_BUFFERS] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = Dispatch;
    DriverObject->DriverExtension->AddDevice = AddDevice;
    return STATUS_SUCCESS;
}

static PCSTR const AhciHardwareIds[] = {AHCI_CLASS_ID, NULL};
IO_BUILTIN_DRIVER("Ahci", DriverEntry, AhciHardwareIds);

/*
 * enum.c - finding every PCI function (the PCI bus driver's scan).
 *
 * From bus 0, every device 0-31; function 0 first, and functions 1-7 only
 * when function 0's header says the device is multi-function. A PCI-PCI
 * bridge (header type 1) leads to its secondary bus, which is scanned
 * right away: the bus numbers are the ones the firmware programmed, which
 * Mica keeps. For each function the scan records its identity, sizes its
 * BARs, walks its capability list and works out which I/O APIC input its
 * INTx pin reaches.
 */
#include "pcidrv.h"

LIST_ENTRY PciFunctionList;
static ULONG PciFunctionCount;
static BOOLEAN PciScanned;
static BOOLEAN PciBusSeen[PCI_MAX_BRIDGE_NUMBER + 1];

/* Host bridges whose INTx wiring Mica knows without ACPI's _PRT. */
#define PCI_VENDOR_INTEL        0x8086
#define PCI_DEVICE_I440FX_HOST  0x1237  /* QEMU pc: PIIX3 */
#define PCI_DEVICE_Q35_HOST     0x29C0  /* QEMU q35: ICH9 */
typedef enum { PciChipsetUnknown, PciChipsetI440fx, PciChipsetQ35 } PCI_CHIPSET;
static PCI_CHIPSET PciChipset;

#define PCI_INTERRUPT_LINE_UNKNOWN 0xFF /* firmware left no routing */
#define PCI_INTX_PINS 4

/* ICH9 (q35): PIRQ A-H reach I/O APIC inputs 16-23, whatever the PIRQ
 * route registers say (those steer the 8259 copy). Devices 25-29 and 31
 * go through the chipset's D-IR registers, reset to INTA->PIRQA..INTD->
 * PIRQD; the others (QEMU's choice, mirrored in its _PRT) to PIRQ E + ((S
 * + P) mod 4). */
#define ICH9_PIRQ_GSI_BASE   16
#define ICH9_PIRQE           4
#define ICH9_FIRST_DIR_SLOT  0x19
#define ICH9_LAST_DIR_SLOT   0x1D
#define ICH9_LPC_SLOT        0x1F

ULONG PciReadConfig(const PCI_FUNCTION *F, ULONG Offset, ULONG Width)
{
    ULONG value = 0;

    HalGetBusDataByOffset(PCIConfiguration, F->Bus, PciSlot(F), &value, Offset, Width);
    return value;
}

VOID PciWriteConfig(const PCI_FUNCTION *F, ULONG Offset, ULONG Width, ULONG Value)
{
    HalSetBusDataByOffset(PCIConfiguration, F->Bus, PciSlot(F), &Value, Offset, Width);
}

/*
 * Size the BARs (PCI 3.0, 6.2.5.1): write all ones, read back which
 * address bits stick, restore. Decoding is off meanwhile, so the
 * half-written BAR (all ones, or a 64-bit BAR between its two writes)
 * never claims addresses that belong to something else.
 */
static VOID PciSizeBars(PPCI_FUNCTION F, ULONG BarRegisters)
{
    USHORT command = (USHORT)PciReadConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2);

    PciWriteConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2,
                   command & ~(PCI_ENABLE_IO_SPACE | PCI_ENABLE_MEMORY_SPACE));
    for (ULONG i = 0; i < BarRegisters; i++) {
        ULONG offset = FIELD_OFFSET(PCI_COMMON_CONFIG, u.type0.BaseAddresses) + i * sizeof(ULONG);
        ULONG low = PciReadConfig(F, offset, 4), high = 0, sizeLow, sizeHigh = 0;
        PCI_BAR bar = {.Index = (UCHAR)i};
        ULONG64 mask;

        PciWriteConfig(F, offset, 4, ~0u);
        sizeLow = PciReadConfig(F, offset, 4);
        PciWriteConfig(F, offset, 4, low);
        if (low & PCI_ADDRESS_IO_SPACE) {
            bar.Type = PciBarIo;
            bar.Base = low & PCI_ADDRESS_IO_ADDRESS_MASK;
            /* The upper 16 bits of an I/O BAR may read back zero. */
            mask = sizeLow & PCI_ADDRESS_IO_ADDRESS_MASK & 0xFFFF;
        } else if ((low & PCI_ADDRESS_MEMORY_TYPE_MASK) == PCI_TYPE_64BIT && i + 1 < BarRegisters) {
            bar.Type = PciBarMemory64;
            high = PciReadConfig(F, offset + 4, 4);
            PciWriteConfig(F, offset + 4, 4, ~0u);
            sizeHigh = PciReadConfig(F, offset + 4, 4);
            PciWriteConfig(F, offset + 4, 4, high);
            bar.Base = ((ULONG64)high << 32) | (low & PCI_ADDRESS_MEMORY_ADDRESS_MASK);
            mask = ((ULONG64)sizeHigh << 32) | (sizeLow & PCI_ADDRESS_MEMORY_ADDRESS_MASK);
        } else {
            bar.Type = PciBarMemory32;
            bar.Base = low & PCI_ADDRESS_MEMORY_ADDRESS_MASK;
            mask = sizeLow & PCI_ADDRESS_MEMORY_ADDRESS_MASK;
        }
        bar.Prefetchable = bar.Type != PciBarIo && (low & PCI_ADDRESS_MEMORY_PREFETCHABLE) != 0;
        bar.Length = mask & -mask;              /* the lowest address bit that sticks */
        if (bar.Type == PciBarMemory64)
            i++;                                /* the upper half is not a BAR of its own */
        if (bar.Length != 0)
            F->Bars[F->BarCount++] = bar;
    }
    PciWriteConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2, command);
}

/* The capability list (6.7): ID and next pointer per entry; at most 48
 * entries fit in 192 bytes, so more means a loop. */
static VOID PciReadCapabilities(PPCI_FUNCTION F)
{
    USHORT status = (USHORT)PciReadConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Status), 2);
    ULONG at, hops = 0;

    if (!(status & PCI_STATUS_CAPABILITIES_LIST))
        return;
    at = PciReadConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, u.type0.CapabilitiesPtr), 1) &
         PCI_CAPABILITY_POINTER_MASK;
    while (at >= PCI_COMMON_HDR_LENGTH && hops++ < 48) {
        PCI_CAPABILITIES_HEADER cap;

        HalGetBusDataByOffset(PCIConfiguration, F->Bus, PciSlot(F), &cap, at, sizeof(cap));
        if (cap.CapabilityID == PCI_CAPABILITY_ID_MSI && F->MsiCapability == 0) {
            F->MsiCapability = (UCHAR)at;
            F->MsiControl = (USHORT)PciReadConfig(F, at + PCI_MSI_MESSAGE_CONTROL, 2);
        } else if (cap.CapabilityID == PCI_CAPABILITY_ID_MSIX && F->MsixCapability == 0) {
            F->MsixCapability = (UCHAR)at;
            F->MsixControl = (USHORT)PciReadConfig(F, at + PCI_MSIX_MESSAGE_CONTROL, 2);
        } else if (cap.CapabilityID == PCI_CAPABILITY_ID_PCI_EXPRESS && F->ExpressCapability == 0) {
            F->ExpressCapability = (UCHAR)at;
        }
        at = cap.Next & PCI_CAPABILITY_POINTER_MASK;
    }
}

/*
 * The I/O APIC input INTx reaches. Behind bridges the pin is swizzled at
 * each one (PCI-PCI Bridge 1.2, 9.1: INTx of device D on the secondary
 * bus is the bridge's INT((x + D) mod 4)) until it reaches the root bus;
 * there the chipset decides. pc (PIIX3): the firmware routed every PIRQ
 * to an ISA IRQ and wrote it into Interrupt Line, and the I/O APIC input
 * of that IRQ is the same number. q35: the fixed ICH9 wiring above.
 */
static ULONG PciInterruptGsi(const PCI_FUNCTION *F)
{
    ULONG pin, slot;
    const PCI_FUNCTION *at = F;

    if (F->InterruptPin < PCI_INTERRUPT_PIN_INTA || F->InterruptPin > PCI_INTERRUPT_PIN_INTD)
        return PCI_NO_GSI;
    pin = F->InterruptPin - PCI_INTERRUPT_PIN_INTA;         /* 0 = INTA */
    while (at->Bridge != NULL) {
        pin = (pin + at->Device) % PCI_INTX_PINS;
        at = at->Bridge;
    }
    slot = at->Device;
    if (PciChipset == PciChipsetQ35) {
        if ((slot >= ICH9_FIRST_DIR_SLOT && slot <= ICH9_LAST_DIR_SLOT) || slot == ICH9_LPC_SLOT)
            return ICH9_PIRQ_GSI_BASE + pin;
        return ICH9_PIRQ_GSI_BASE + ICH9_PIRQE + (slot + pin) % PCI_INTX_PINS;
    }
    if (F->InterruptLine == PCI_INTERRUPT_LINE_UNKNOWN || F->InterruptLine == 0)
        return PCI_NO_GSI;
    return F->InterruptLine;
}

static VOID PciScanBus(ULONG Bus, PPCI_FUNCTION Bridge);

static VOID PciAddFunction(ULONG Bus, ULONG Device, ULONG Function, const PCI_COMMON_HEADER *Header,
                           PPCI_FUNCTION Bridge)
{
    PPCI_FUNCTION f = ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*f), PCI_POOL_TAG);
    ULONG type = Header->HeaderType & ~PCI_MULTIFUNCTION;

    if (f == NULL) {
        DbgPrint("PCI: no memory for %02x:%02x.%x\n", Bus, Device, Function);
        return;
    }
    f->Bridge = Bridge;
    f->Bus = (UCHAR)Bus;
    f->Device = (UCHAR)Device;
    f->Function = (UCHAR)Function;
    f->VendorID = Header->VendorID;
    f->DeviceID = Header->DeviceID;
    f->BaseClass = Header->BaseClass;
    f->SubClass = Header->SubClass;
    f->ProgIf = Header->ProgIf;
    f->RevisionID = Header->RevisionID;
    f->HeaderType = (UCHAR)type;
    f->FirmwareCommand = Header->Command;
    if (type == PCI_DEVICE_TYPE) {
        f->SubVendorID = Header->u.type0.SubVendorID;
        f->SubSystemID = Header->u.type0.SubSystemID;
        f->InterruptPin = Header->u.type0.InterruptPin;
        f->InterruptLine = Header->u.type0.InterruptLine;
        PciSizeBars(f, PCI_TYPE0_ADDRESSES);
    } else if (type == PCI_BRIDGE_TYPE) {
        f->InterruptPin = Header->u.type1.InterruptPin;
        f->InterruptLine = Header->u.type1.InterruptLine;
        f->SecondaryBus = Header->u.type1.SecondaryBus;
        f->SubordinateBus = Header->u.type1.SubordinateBus;
        PciSizeBars(f, PCI_TYPE1_ADDRESSES);
    }
    PciReadCapabilities(f);
    f->Gsi = PciInterruptGsi(f);
    InsertTailList(&PciFunctionList, &f->Link);
    PciFunctionCount++;
    /* A bridge the firmware numbered leads to a bus further down. */
    if (type == PCI_BRIDGE_TYPE && f->SecondaryBus > Bus && f->SecondaryBus <= f->SubordinateBus)
        PciScanBus(f->SecondaryBus, f);
}

static VOID PciScanBus(ULONG Bus, PPCI_FUNCTION Bridge)
{
    if (PciBusSeen[Bus])
        return;                         /* two bridges claiming one bus: scan it once */
    PciBusSeen[Bus] = TRUE;
    for (ULONG device = 0; device < PCI_MAX_DEVICES; device++) {
        for (ULONG function = 0; function < PCI_MAX_FUNCTION; function++) {
            PCI_COMMON_HEADER header;
            PCI_SLOT_NUMBER slot;
            ULONG got;

            slot.u.AsULONG = 0;
            slot.u.bits.DeviceNumber = device;
            slot.u.bits.FunctionNumber = function;
            got = HalGetBusDataByOffset(PCIConfiguration, Bus, slot.u.AsULONG, &header, 0,
                                        sizeof(header));
            if (got < sizeof(header) || header.VendorID == PCI_INVALID_VENDORID) {
                if (function == 0)
                    break;              /* no function 0: an empty slot */
                continue;
            }
            PciAddFunction(Bus, device, function, &header, Bridge);
            if (function == 0 && !(header.HeaderType & PCI_MULTIFUNCTION))
                break;
        }
    }
}

ULONG PciEnumerate(VOID)
{
    PCI_COMMON_HEADER host;

    if (PciScanned)
        return PciFunctionCount;
    PciScanned = TRUE;
    InitializeListHead(&PciFunctionList);
    if (HalGetBusDataByOffset(PCIConfiguration, 0, 0, &host, 0, sizeof(host)) == sizeof(host) &&
        host.VendorID == PCI_VENDOR_INTEL)
        PciChipset = host.DeviceID == PCI_DEVICE_I440FX_HOST ? PciChipsetI440fx
                     : host.DeviceID == PCI_DEVICE_Q35_HOST  ? PciChipsetQ35
                                                              : PciChipsetUnknown;
    PciScanBus(0, NULL);
    return PciFunctionCount;
}

PPCI_FUNCTION PciFindFunction(UCHAR Bus, UCHAR Device, UCHAR Function)
{
    for (PLIST_ENTRY e = PciFunctionList.Flink; PciScanned && e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        if (f->Bus == Bus && f->Device == Device && f->Function == Function)
            return f;
    }
    return NULL;
}

PPCI_FUNCTION PciFindDevice(USHORT VendorID, USHORT DeviceID, ULONG Instance)
{
    for (PLIST_ENTRY e = PciFunctionList.Flink; PciScanned && e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        if (f->VendorID == VendorID && f->DeviceID == DeviceID && Instance-- == 0)
            return f;
    }
    return NULL;
}

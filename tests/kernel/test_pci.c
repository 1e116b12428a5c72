/*
 * test_pci.c - PCI configuration access (HalGetBusDataByOffset) and the bus
 * driver's scan (drivers/pci/enum.c).
 *
 * The scan's result is printed as "# pci ..." lines between two markers;
 * the QEMU runner (tests/runner.py) compares them with what QEMU itself
 * says is plugged in (QMP query-pci, asked while Mica runs): bus, device,
 * function, vendor and device ids, every BAR's kind, address and size.
 * Every test configuration adds a PCI-PCI bridge with a virtio device
 * behind it (I/O, 32-bit and 64-bit prefetchable BARs, MSI-X) and QEMU's
 * `edu` device (MSI and INTx on demand) to QEMU's own.
 */
#include "../../drivers/pci/pcidrv.h"
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11E8
#define EDU_BAR0_LENGTH 0x100000        /* 1 MiB of registers */
#define VIRTIO_VENDOR 0x1AF4
#define PCI_BRIDGE_VENDOR 0x1B36        /* QEMU's pci-bridge: Red Hat 1b36:0001 */
#define PCI_BRIDGE_DEVICE 0x0001

static ULONG KtpSlot(ULONG Device, ULONG Function)
{
    PCI_SLOT_NUMBER slot;

    slot.u.AsULONG = 0;
    slot.u.bits.DeviceNumber = Device;
    slot.u.bits.FunctionNumber = Function;
    return slot.u.AsULONG;
}

/* The host bridge is at 00:00.0 on every PC; an empty slot reads as
 * PCI_INVALID_VENDORID and counts 2 bytes; other bus types are refused. */
KTEST(pci, config_reads_host_bridge_and_empty_slot)
{
    PCI_COMMON_HEADER header;
    ULONG got;
    USHORT vendor = 0;

    got = HalGetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0, 0), &header, 0, sizeof(header));
    KEXPECT_EQ(got, sizeof(header));
    KEXPECT_EQ(header.VendorID, 0x8086);
    KEXPECT_EQ(header.BaseClass, 0x06);  /* bridge device, host bridge subclass 0 */
    KEXPECT_EQ(header.SubClass, 0x00);

    memset(&header, 0x5A, sizeof(header));
    got = HalGetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0x1E, 7), &header, 0, sizeof(header));
    KEXPECT_EQ(got, 2);
    KEXPECT_EQ(header.VendorID, PCI_INVALID_VENDORID);
    KEXPECT_EQ(header.DeviceID, 0x5A5A);         /* nothing past VendorID is written */
    KEXPECT_EQ(HalSetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0x1E, 7), &vendor, 0, 2), 0);

    KEXPECT_EQ(HalGetBusDataByOffset(Cmos, 0, KtpSlot(0, 0), &header, 0, 4), 0);
    KEXPECT_EQ(HalGetBusDataByOffset(PCIConfiguration, 0x100, KtpSlot(0, 0), &header, 0, 4), 0);
    KEXPECT_EQ(HalGetBusDataByOffset(PCIConfiguration, 0, 0x100, &header, 0, 4), 0);
    /* HalGetBusData is the same from offset 0. */
    KEXPECT_EQ(HalGetBusData(PCIConfiguration, 0, KtpSlot(0, 0), &vendor, 2), 2);
    KEXPECT_EQ(vendor, 0x8086);
}

/* A range is cut at the end of the function's configuration space, and
 * odd offsets and lengths read exactly the bytes asked for. */
KTEST(pci, config_range_is_cut_and_unaligned_reads_agree)
{
    UCHAR whole[PCI_COMMON_HDR_LENGTH], piece[8];
    ULONG space = HalpPciConfigMechanism == HalpPciConfigEcam ? PCI_EXPRESS_CONFIG_SPACE_LENGTH
                                                              : PCI_CONFIG_SPACE_LENGTH;
    ULONG value;

    KASSERT_EQ(HalGetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0, 0), whole, 0, sizeof(whole)),
               sizeof(whole));
    for (ULONG offset = 0; offset + 7 <= sizeof(whole); offset += 5) {
        memset(piece, 0, sizeof(piece));
        KEXPECT_EQ(HalGetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0, 0), piece, offset, 7), 7);
        KEXPECT_EQ(memcmp(piece, whole + offset, 7), 0);
    }
    KEXPECT_EQ(HalGetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0, 0), &value, space - 1, 4), 1);
    KEXPECT_EQ(HalGetBusDataByOffset(PCIConfiguration, 0, KtpSlot(0, 0), &value, space, 4), 0);
}

/* Where there is ECAM, the port mechanism must read the same first 256
 * bytes of every function (q35; -M pc has no MCFG). */
KTEST(pci, ecam_and_ports_agree)
{
    HALP_PCI_CONFIG_MECHANISM saved = HalpPciConfigMechanism;
    ULONG compared = 0;

    if (saved != HalpPciConfigEcam)
        KTEST_SKIP("no MCFG (or pcicfg=port): only the port mechanism here");
    PciEnumerate();
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        static UCHAR ecam[PCI_CONFIG_SPACE_LENGTH], ports[PCI_CONFIG_SPACE_LENGTH];

        HalGetBusDataByOffset(PCIConfiguration, f->Bus, PciSlot(f), ecam, 0, sizeof(ecam));
        HalpPciConfigMechanism = HalpPciConfigPorts;
        HalGetBusDataByOffset(PCIConfiguration, f->Bus, PciSlot(f), ports, 0, sizeof(ports));
        HalpPciConfigMechanism = saved;
        /* Status bits may change between the reads (e.g. interrupt pending). */
        KEXPECT_EQ(memcmp(ecam, ports, FIELD_OFFSET(PCI_COMMON_CONFIG, Status)), 0);
        KEXPECT_EQ(memcmp(ecam + FIELD_OFFSET(PCI_COMMON_CONFIG, RevisionID),
                          ports + FIELD_OFFSET(PCI_COMMON_CONFIG, RevisionID),
                          sizeof(ecam) - FIELD_OFFSET(PCI_COMMON_CONFIG, RevisionID)), 0);
        compared++;
    }
    KEXPECT_GT(compared, 4);
}

static int KtpFormat(char *Buffer, SIZE_T Size, PCSTR Format, ...)
{
    va_list args;
    int n;

    va_start(args, Format);
    n = RtlVsnprintf(Buffer, Size, Format, args);
    va_end(args);
    return n;
}

static const char *KtpBarKind(const PCI_BAR *Bar)
{
    if (Bar->Type == PciBarIo)
        return "io";
    if (Bar->Type == PciBarMemory64)
        return Bar->Prefetchable ? "m64p" : "m64";
    return Bar->Prefetchable ? "m32p" : "m32";
}

/* The scan, printed for the runner to compare with QEMU's own list. */
KTEST(pci, tree_printed_for_runner)
{
    ULONG count = PciEnumerate();

    KEXPECT_GT(count, 4);
    KtestPrint("# pci-tree begin %u\n", count);
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        char line[256];
        int n = KtpFormat(line, sizeof(line), "# pci %02x:%02x.%x %04x:%04x", f->Bus, f->Device,
                         f->Function, f->VendorID, f->DeviceID);

        for (ULONG i = 0; i < f->BarCount; i++)
            n += KtpFormat(line + n, sizeof(line) - n, " bar%u=%s:%llx+%llx", f->Bars[i].Index,
                          KtpBarKind(&f->Bars[i]), f->Bars[i].Base, f->Bars[i].Length);
        if (f->HeaderType == PCI_BRIDGE_TYPE)
            n += KtpFormat(line + n, sizeof(line) - n, " buses=%02x-%02x", f->SecondaryBus,
                          f->SubordinateBus);
        KtestPrint("%s\n", line);
    }
    KtestPrint("# pci-tree end\n");
}

/* Sizing put every BAR and the command register back as they were. */
KTEST(pci, bar_sizing_restores_registers)
{
    PciEnumerate();
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);

        for (ULONG i = 0; i < f->BarCount; i++) {
            const PCI_BAR *bar = &f->Bars[i];
            ULONG offset = FIELD_OFFSET(PCI_COMMON_CONFIG, u.type0.BaseAddresses) + bar->Index * 4;
            ULONG low = PciReadConfig(f, offset, 4);

            KEXPECT_EQ(low & (bar->Type == PciBarIo ? PCI_ADDRESS_IO_ADDRESS_MASK
                                                    : PCI_ADDRESS_MEMORY_ADDRESS_MASK),
                       (ULONG)bar->Base);
            if (bar->Type == PciBarMemory64)
                KEXPECT_EQ(PciReadConfig(f, offset + 4, 4), (ULONG)(bar->Base >> 32));
            KEXPECT_EQ(bar->Length & (bar->Length - 1), 0);    /* a power of two */
        }
    }
}

/* What the configurations plug in: edu with its 1 MiB BAR and MSI, a
 * bridge with a bus behind it and a virtio device there with a 64-bit
 * prefetchable BAR and MSI-X; INTx routed to an I/O APIC input. */
KTEST(pci, configured_devices_found)
{
    PPCI_FUNCTION edu, bridge, virtio = NULL;

    PciEnumerate();
    edu = PciFindDevice(EDU_VENDOR, EDU_DEVICE, 0);
    KASSERT_TRUE(edu != NULL);
    KEXPECT_EQ(edu->BarCount, 1);
    KEXPECT_EQ(edu->Bars[0].Type, PciBarMemory32);
    KEXPECT_EQ(edu->Bars[0].Length, EDU_BAR0_LENGTH);
    KEXPECT_NE(edu->MsiCapability, 0);
    KEXPECT_EQ(edu->InterruptPin, PCI_INTERRUPT_PIN_INTA);
    KEXPECT_NE(edu->Gsi, PCI_NO_GSI);

    bridge = PciFindDevice(PCI_BRIDGE_VENDOR, PCI_BRIDGE_DEVICE, 0);
    KASSERT_TRUE(bridge != NULL);
    KEXPECT_EQ(bridge->HeaderType, PCI_BRIDGE_TYPE);
    KEXPECT_GT(bridge->SecondaryBus, 0);
    for (PLIST_ENTRY e = PciFunctionList.Flink; e != &PciFunctionList; e = e->Flink) {
        PPCI_FUNCTION f = CONTAINING_RECORD(e, PCI_FUNCTION, Link);
        if (f->VendorID == VIRTIO_VENDOR && f->Bridge == bridge)
            virtio = f;
    }
    KASSERT_TRUE(virtio != NULL);
    KEXPECT_EQ(virtio->Bus, bridge->SecondaryBus);
    KEXPECT_NE(virtio->MsixCapability, 0);
    BOOLEAN has64 = FALSE, hasIo = FALSE;
    for (ULONG i = 0; i < virtio->BarCount; i++) {
        has64 |= virtio->Bars[i].Type == PciBarMemory64 && virtio->Bars[i].Prefetchable;
        hasIo |= virtio->Bars[i].Type == PciBarIo;
    }
    KEXPECT_TRUE(has64);
    KEXPECT_TRUE(hasIo);
}

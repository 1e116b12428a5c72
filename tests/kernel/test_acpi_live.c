/*
 * test_acpi_live.c - the ACPI tables of the machine Mica booted on.
 *
 * tests/unit/test_acpi.c checks the parser against synthetic tables; this
 * checks HalpInitializeAcpi against the tables QEMU's firmware really
 * builds (SeaBIOS on -M pc, OVMF on -M q35), which every QEMU x86 machine
 * lays out the same way: one local APIC at 0xFEE00000, one I/O APIC at
 * 0xFEC00000 whose inputs start at GSI 0, and the PIT's IRQ 0 moved to
 * GSI 2 by an interrupt source override. Which chipset we are on is asked
 * of the PCI host bridge itself (port 0xCF8/0xCFC, independent of ACPI):
 * Q35 has PCI Express and an MCFG, the i440FX of -M pc has neither.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../kernel/hal/acpi.h"
#include "../ktest.h"

#define QEMU_LOCAL_APIC 0xFEE00000ULL
#define QEMU_IO_APIC    0xFEC00000ULL
#define QEMU_Q35_ECAM   0xB0000000ULL   /* MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT */
#define QEMU_Q35_ECAM_END_BUS 255       /* its 256 MiB window: 1 MiB per bus */

#define PCI_ID_I440FX 0x12378086        /* device << 16 | vendor */
#define PCI_ID_Q35    0x29C08086

static HAL_ACPI_INFO AtlCopy, AtlScan;

static inline ULONG AtlInDword(USHORT Port)
{
    ULONG v;
    __asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(Port));
    return v;
}

/* Vendor and device ID of bus 0, device 0, function 0: the host bridge. */
static ULONG AtlHostBridgeId(void)
{
    __outdword(0xCF8, 0x80000000);
    return AtlInDword(0xCFC);
}

static void AtlInit(void)
{
    KEXPECT_EQ(HalpInitializeAcpi(), STATUS_SUCCESS);
}

KTEST(acpi_live, initialize_is_idempotent)
{
    NTSTATUS status = HalpInitializeAcpi();

    KASSERT_EQ(status, STATUS_SUCCESS);
    memcpy(&AtlCopy, &HalpAcpiInfo, sizeof(AtlCopy));
    KEXPECT_EQ(HalpInitializeAcpi(), status);
    KEXPECT_EQ(HalpInitializeAcpi(), status);
    KEXPECT_EQ(memcmp(&AtlCopy, &HalpAcpiInfo, sizeof(AtlCopy)), 0);
}

KTEST(acpi_live, rsdp_from_loader)
{
    AtlInit();
    /* GRUB passes the RSDP on both firmwares; Mica uses that copy. */
    KASSERT_NE(KeLoaderBlock->AcpiRsdpPhysical, 0);
    KEXPECT_EQ(HalpAcpiInfo.RsdpPhysical, KeLoaderBlock->AcpiRsdpPhysical);
    KEXPECT_NE(HalpAcpiInfo.RootTablePhysical, 0);
    KEXPECT_GE(HalpAcpiInfo.TableCount, 2);
    KEXPECT_FALSE(HalpAcpiInfo.Truncated);
}

KTEST(acpi_live, tables_present)
{
    ULONG64 physical = 0;
    ULONG length = 0;

    AtlInit();
    KEXPECT_TRUE(HalpAcpiFindTable("APIC", &physical, &length));
    KEXPECT_NE(physical, 0);
    KEXPECT_GE(length, 44);
    KEXPECT_TRUE(HalpAcpiFindTable("FACP", &physical, &length));
    KEXPECT_GE(length, 36);
    KEXPECT_FALSE(HalpAcpiFindTable("MICA", &physical, &length));
}

KTEST(acpi_live, madt_matches_qemu)
{
    ULONG enabled = 0;

    AtlInit();
    KEXPECT_EQ(HalpAcpiInfo.LocalApicPhysical, QEMU_LOCAL_APIC);
    KEXPECT_TRUE(HalpAcpiInfo.PcatCompat);
    KASSERT_NE(HalpAcpiInfo.ProcessorCount, 0);
    for (ULONG i = 0; i < HalpAcpiInfo.ProcessorCount; i++)
        enabled += HalpAcpiInfo.Processors[i].Enabled;
    KEXPECT_GE(enabled, 1);
    /* -smp 1: the boot processor has APIC ID 0. */
    KEXPECT_EQ(HalpAcpiInfo.Processors[0].ApicId, 0);
    KEXPECT_TRUE(HalpAcpiInfo.Processors[0].Enabled);

    KASSERT_EQ(HalpAcpiInfo.IoApicCount, 1);
    KEXPECT_EQ(HalpAcpiInfo.IoApics[0].Physical, QEMU_IO_APIC);
    KEXPECT_EQ(HalpAcpiInfo.IoApics[0].GsiBase, 0);
}

KTEST(acpi_live, isa_irq0_is_gsi2)
{
    ULONG gsi = 0;
    BOOLEAN low = TRUE, level = TRUE;

    AtlInit();
    HalpAcpiIsaIrqToGsi(0, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 2);
    KEXPECT_FALSE(low);
    KEXPECT_FALSE(level);
    /* The keyboard (IRQ 1) has no override in QEMU: identity, ISA edge. */
    HalpAcpiIsaIrqToGsi(1, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 1);
    KEXPECT_FALSE(low);
    KEXPECT_FALSE(level);
}

KTEST(acpi_live, mcfg_matches_chipset)
{
    ULONG bridge = AtlHostBridgeId();
    ULONG64 physical;
    BOOLEAN hasMcfg;

    AtlInit();
    hasMcfg = HalpAcpiFindTable("MCFG", &physical, NULL);
    KtestPrint("# host bridge %08x, MCFG %s\n", bridge, hasMcfg ? "present" : "absent");
    if (bridge == PCI_ID_Q35) {
        KEXPECT_TRUE(hasMcfg);
        KASSERT_EQ(HalpAcpiInfo.McfgCount, 1);
        KEXPECT_EQ(HalpAcpiInfo.Mcfg[0].BaseAddress, QEMU_Q35_ECAM);
        KEXPECT_EQ(HalpAcpiInfo.Mcfg[0].Segment, 0);
        KEXPECT_EQ(HalpAcpiInfo.Mcfg[0].StartBus, 0);
        KEXPECT_EQ(HalpAcpiInfo.Mcfg[0].EndBus, QEMU_Q35_ECAM_END_BUS);
    } else if (bridge == PCI_ID_I440FX) {
        KEXPECT_FALSE(hasMcfg);
        KEXPECT_EQ(HalpAcpiInfo.McfgCount, 0);
    } else {
        for (ULONG i = 0; i < HalpAcpiInfo.McfgCount; i++)
            KEXPECT_NE(HalpAcpiInfo.Mcfg[i].BaseAddress, 0);
    }
}

/*
 * The fallback path: the BIOS areas. SeaBIOS keeps the RSDP in its
 * F-segment, and GRUB's copy came from it, so both must describe the same
 * machine. OVMF need not put one there at all.
 */
KTEST(acpi_live, bios_area_scan_agrees)
{
    NTSTATUS status;

    AtlInit();
    status = HalpAcpiScanBiosArea(&AtlScan);
    if (status == STATUS_NOT_FOUND) {
        KEXPECT_NE(AtlHostBridgeId(), PCI_ID_I440FX);   /* SeaBIOS always has one */
        KTEST_SKIP("no RSDP in the BIOS areas (UEFI)");
    }
    KASSERT_EQ(status, STATUS_SUCCESS);
    KEXPECT_ULE(AtlScan.RsdpPhysical, 0xFFFFF);
    KEXPECT_EQ(AtlScan.LocalApicPhysical, HalpAcpiInfo.LocalApicPhysical);
    KEXPECT_EQ(AtlScan.ProcessorCount, HalpAcpiInfo.ProcessorCount);
    KEXPECT_EQ(AtlScan.IoApicCount, HalpAcpiInfo.IoApicCount);
    KEXPECT_EQ(AtlScan.OverrideCount, HalpAcpiInfo.OverrideCount);
    KEXPECT_EQ(AtlScan.McfgCount, HalpAcpiInfo.McfgCount);
    if (AtlScan.Revision == HalpAcpiInfo.Revision)
        KEXPECT_EQ(AtlScan.RootTablePhysical, HalpAcpiInfo.RootTablePhysical);
}

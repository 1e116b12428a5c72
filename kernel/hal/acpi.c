/*
 * acpi.c - find the ACPI tables and read what the HAL needs from them.
 *
 * The HAL cannot program interrupts without knowing the machine: where the
 * local APIC and the I/O APICs are, which processors exist, and how the
 * ISA IRQs reach I/O APIC inputs (on most PCs the timer's IRQ 0 arrives
 * on GSI 2, and some IRQs are level triggered). The firmware says all of
 * that in the MADT. PCI will later want the MCFG (where PCI Express
 * configuration space is mapped), and timers the HPET table; both are
 * found through the same walk:
 *
 *   RSDP --> RSDT (32-bit pointers) or XSDT (64-bit pointers)
 *              --> "APIC" (MADT), "MCFG", "FACP", "HPET", ...
 *
 * GRUB hands us a copy of the RSDP (KeLoaderBlock->AcpiRsdp); on a BIOS
 * machine without it, the RSDP sits on a 16-byte boundary in the first KiB
 * of the EBDA or in 0xE0000-0xFFFFF, as the ACPI specification (5.2.5.1)
 * says. There is no direct map of physical memory in Mica, so every table
 * is mapped with MmMapIoSpace for as long as it is read, and everything
 * the HAL needs is copied into HalpAcpiInfo.
 *
 * Firmware tables are input, not truth: every length is checked before a
 * byte past it is read, every table's checksum before anything in it is
 * believed, and a malformed MADT stops its walk instead of looping. The
 * parser reaches memory only through a Map/Unmap pair, so the host unit
 * tests (tests/unit/test_acpi.c) run it against synthetic tables under
 * AddressSanitizer.
 */
#include "acpi.h"
#ifndef MICA_HOST_TEST
#include "../ke/ke_internal.h"
#include "../../mm/mm.h"
#endif

HAL_ACPI_INFO HalpAcpiInfo;

/* ACPI checksums: all bytes of the structure add up to 0 modulo 256. */
static UCHAR HalpAcpiChecksum(const UCHAR *Bytes, SIZE_T Length)
{
    UCHAR sum = 0;

    while (Length--)
        sum = (UCHAR)(sum + *Bytes++);
    return sum;
}

BOOLEAN HalpAcpiValidateRsdp(const UCHAR *Rsdp, SIZE_T Length)
{
    const RSDP *r = (const RSDP *)Rsdp;

    if (Rsdp == NULL || Length < RSDP_V1_LENGTH)
        return FALSE;
    if (memcmp(r->Signature, RSDP_SIGNATURE, sizeof(r->Signature)) != 0)
        return FALSE;
    /* The ACPI 1.0 checksum covers the first 20 bytes, whatever the revision. */
    if (HalpAcpiChecksum(Rsdp, RSDP_V1_LENGTH) != 0)
        return FALSE;
    if (r->Revision >= 2) {
        /* Length and the extended checksum exist only from ACPI 2.0 on. */
        if (Length < RSDP_V2_LENGTH || r->Length < RSDP_V2_LENGTH || r->Length > Length)
            return FALSE;
        if (HalpAcpiChecksum(Rsdp, r->Length) != 0)
            return FALSE;
    }
    return TRUE;
}

/*
 * Map the description table at Physical, whole, once its header says it is
 * sane: the signature (when Expected is given), a length between the header
 * size and 1 MiB, and a checksum over that length. Returns the mapping and
 * its length, or NULL. Callers use *Length, never Header.Length again: the
 * mapping is exactly that long.
 */
static const UCHAR *HalpAcpiMapTable(ULONG64 Physical, PCSTR Expected, PHALP_ACPI_MAP Map,
                                     PHALP_ACPI_UNMAP Unmap, PULONG Length)
{
    const DESCRIPTION_HEADER *header;
    const UCHAR *table;
    ULONG length;
    BOOLEAN match;

    if (Physical == 0 || Physical > ~0ULL - HAL_ACPI_MAX_TABLE_LENGTH)
        return NULL;
    /* First the header alone: the length is not known before it is read. */
    header = Map(Physical, sizeof(*header));
    if (header == NULL)
        return NULL;
    length = header->Length;
    match = Expected == NULL || memcmp(header->Signature, Expected, 4) == 0;
    Unmap((PVOID)header, sizeof(*header));
    if (!match || length < sizeof(DESCRIPTION_HEADER) || length > HAL_ACPI_MAX_TABLE_LENGTH)
        return NULL;

    table = Map(Physical, length);
    if (table == NULL)
        return NULL;
    if (HalpAcpiChecksum(table, length) != 0) {
        Unmap((PVOID)table, length);
        return NULL;
    }
    *Length = length;
    return table;
}

static void HalpAcpiAddProcessor(HAL_ACPI_INFO *Info, ULONG ProcessorId, ULONG ApicId, ULONG Flags)
{
    if (Info->ProcessorCount == HAL_ACPI_MAX_PROCESSORS) {
        Info->Truncated = TRUE;
        return;
    }
    Info->Processors[Info->ProcessorCount].ProcessorId = ProcessorId;
    Info->Processors[Info->ProcessorCount].ApicId = ApicId;
    Info->Processors[Info->ProcessorCount].Enabled = (Flags & MADT_LAPIC_ENABLED) != 0;
    Info->ProcessorCount++;
}

static BOOLEAN HalpAcpiHaveApicId(const HAL_ACPI_INFO *Info, ULONG ApicId)
{
    for (ULONG i = 0; i < Info->ProcessorCount; i++)
        if (Info->Processors[i].ApicId == ApicId)
            return TRUE;
    return FALSE;
}

/*
 * The MADT: a fixed part, then interrupt controller structures, each
 * starting with (Type, Length). Unknown types are skipped by their length,
 * so a newer table still parses; a length that cannot be right (0 or 1
 * would never advance, more than what is left runs off the table, less
 * than a known type's structure) ends the walk: the firmware's checksum
 * vouched for these bytes, so they are a bug, not noise.
 */
static NTSTATUS HalpAcpiParseMadt(const UCHAR *Table, ULONG Length, HAL_ACPI_INFO *Info)
{
    const MADT *madt = (const MADT *)Table;
    ULONG offset, entryLength;

    if (Length < sizeof(MADT))
        return STATUS_INVALID_PARAMETER;
    Info->LocalApicPhysical = madt->LocalApicAddress;
    Info->PcatCompat = (madt->Flags & PCAT_COMPAT) != 0;

    for (offset = sizeof(MADT); offset < Length; offset += entryLength) {
        const MADT_ENTRY_HEADER *entry = (const MADT_ENTRY_HEADER *)(Table + offset);
        const UCHAR *bytes = Table + offset;

        if (Length - offset < sizeof(MADT_ENTRY_HEADER))
            return STATUS_INVALID_PARAMETER;
        entryLength = entry->Length;
        if (entryLength < sizeof(MADT_ENTRY_HEADER) || entryLength > Length - offset)
            return STATUS_INVALID_PARAMETER;

        switch (entry->Type) {
        case MADT_TYPE_PROCESSOR_LOCAL_APIC: {
            const MADT_PROCESSOR_LOCAL_APIC *lapic = (const MADT_PROCESSOR_LOCAL_APIC *)bytes;
            if (entryLength < sizeof(*lapic))
                return STATUS_INVALID_PARAMETER;
            HalpAcpiAddProcessor(Info, lapic->AcpiProcessorId, lapic->ApicId, lapic->Flags);
            break;
        }
        case MADT_TYPE_IO_APIC: {
            const MADT_IO_APIC *ioapic = (const MADT_IO_APIC *)bytes;
            if (entryLength < sizeof(*ioapic))
                return STATUS_INVALID_PARAMETER;
            if (Info->IoApicCount == HAL_ACPI_MAX_IOAPICS) {
                Info->Truncated = TRUE;
                break;
            }
            Info->IoApics[Info->IoApicCount].Id = ioapic->IoApicId;
            Info->IoApics[Info->IoApicCount].Physical = ioapic->IoApicAddress;
            Info->IoApics[Info->IoApicCount].GsiBase = ioapic->GlobalSystemInterruptBase;
            Info->IoApicCount++;
            break;
        }
        case MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE: {
            const MADT_INTERRUPT_SOURCE_OVERRIDE *iso =
                (const MADT_INTERRUPT_SOURCE_OVERRIDE *)bytes;
            if (entryLength < sizeof(*iso))
                return STATUS_INVALID_PARAMETER;
            if (Info->OverrideCount == HAL_ACPI_MAX_OVERRIDES) {
                Info->Truncated = TRUE;
                break;
            }
            Info->Overrides[Info->OverrideCount].Bus = iso->Bus;
            Info->Overrides[Info->OverrideCount].Source = iso->Source;
            Info->Overrides[Info->OverrideCount].Gsi = iso->GlobalSystemInterrupt;
            Info->Overrides[Info->OverrideCount].Flags = iso->Flags;
            Info->OverrideCount++;
            break;
        }
        case MADT_TYPE_LOCAL_APIC_NMI: {
            const MADT_LOCAL_APIC_NMI *nmi = (const MADT_LOCAL_APIC_NMI *)bytes;
            if (entryLength < sizeof(*nmi))
                return STATUS_INVALID_PARAMETER;
            if (Info->NmiCount == HAL_ACPI_MAX_NMIS) {
                Info->Truncated = TRUE;
                break;
            }
            Info->Nmis[Info->NmiCount].ProcessorId = nmi->AcpiProcessorId;
            Info->Nmis[Info->NmiCount].Lint = nmi->LocalApicLint;
            Info->Nmis[Info->NmiCount].Flags = nmi->Flags;
            Info->NmiCount++;
            break;
        }
        case MADT_TYPE_LOCAL_APIC_ADDRESS_OVERRIDE: {
            const MADT_LOCAL_APIC_ADDRESS_OVERRIDE *ovr =
                (const MADT_LOCAL_APIC_ADDRESS_OVERRIDE *)bytes;
            if (entryLength < sizeof(*ovr))
                return STATUS_INVALID_PARAMETER;
            /* The 64-bit address wins over the MADT's 32-bit field. */
            Info->LocalApicPhysical = ovr->LocalApicAddress;
            break;
        }
        case MADT_TYPE_PROCESSOR_LOCAL_X2APIC: {
            const MADT_PROCESSOR_LOCAL_X2APIC *x2 = (const MADT_PROCESSOR_LOCAL_X2APIC *)bytes;
            if (entryLength < sizeof(*x2))
                return STATUS_INVALID_PARAMETER;
            /* IDs below 255 belong in type 0 entries, but some firmware lists
             * a processor in both: count it once. */
            if (!HalpAcpiHaveApicId(Info, x2->X2ApicId))
                HalpAcpiAddProcessor(Info, x2->AcpiProcessorUid, x2->X2ApicId, x2->Flags);
            break;
        }
        default:
            break;              /* x2APIC NMI, GIC, ...: not Mica's business */
        }
    }
    return STATUS_SUCCESS;
}

/* The MCFG: a fixed part, then 16-byte allocations; a partial one at the
 * end is ignored. Allocations that cannot be used (base 0, buses reversed)
 * are not recorded, so PCI never has to second-guess what it gets. */
static NTSTATUS HalpAcpiParseMcfg(const UCHAR *Table, ULONG Length, HAL_ACPI_INFO *Info)
{
    ULONG count;

    if (Length < sizeof(MCFG))
        return STATUS_INVALID_PARAMETER;
    count = (Length - sizeof(MCFG)) / sizeof(MCFG_ALLOCATION);
    for (ULONG i = 0; i < count; i++) {
        const MCFG_ALLOCATION *a =
            (const MCFG_ALLOCATION *)(Table + sizeof(MCFG) + i * sizeof(MCFG_ALLOCATION));
        if (a->BaseAddress == 0 || a->StartBusNumber > a->EndBusNumber)
            continue;
        if (Info->McfgCount == HAL_ACPI_MAX_MCFG) {
            Info->Truncated = TRUE;
            break;
        }
        Info->Mcfg[Info->McfgCount].BaseAddress = a->BaseAddress;
        Info->Mcfg[Info->McfgCount].Segment = a->PciSegment;
        Info->Mcfg[Info->McfgCount].StartBus = a->StartBusNumber;
        Info->Mcfg[Info->McfgCount].EndBus = a->EndBusNumber;
        Info->McfgCount++;
    }
    return STATUS_SUCCESS;
}

NTSTATUS HalpAcpiParse(const UCHAR *Rsdp, SIZE_T RsdpLength, ULONG64 RsdpPhysical,
                       PHALP_ACPI_MAP Map, PHALP_ACPI_UNMAP Unmap, HAL_ACPI_INFO *Info)
{
    const RSDP *rsdp = (const RSDP *)Rsdp;
    const UCHAR *root = NULL;
    ULONG rootLength = 0, entrySize, entryCount;
    BOOLEAN madtSeen = FALSE, mcfgSeen = FALSE;
    NTSTATUS status = STATUS_SUCCESS;

    if (Map == NULL || Unmap == NULL || Info == NULL)
        return STATUS_INVALID_PARAMETER;
    memset(Info, 0, sizeof(*Info));
    if (!HalpAcpiValidateRsdp(Rsdp, RsdpLength))
        return STATUS_NOT_FOUND;

    /* ACPI 2.0 firmware gives both roots; the XSDT's 64-bit pointers win.
     * If it is unusable, the RSDT is still worth a try. */
    if (rsdp->Revision >= 2 && rsdp->XsdtAddress != 0) {
        root = HalpAcpiMapTable(rsdp->XsdtAddress, "XSDT", Map, Unmap, &rootLength);
        if (root != NULL) {
            Info->UsesXsdt = TRUE;
            Info->RootTablePhysical = rsdp->XsdtAddress;
        }
    }
    if (root == NULL && rsdp->RsdtAddress != 0) {
        root = HalpAcpiMapTable(rsdp->RsdtAddress, "RSDT", Map, Unmap, &rootLength);
        Info->RootTablePhysical = rsdp->RsdtAddress;
    }
    if (root == NULL) {
        memset(Info, 0, sizeof(*Info));
        return STATUS_NOT_FOUND;
    }
    Info->RsdpPhysical = RsdpPhysical;
    Info->Revision = rsdp->Revision;
    memcpy(Info->OemId, rsdp->OemId, sizeof(rsdp->OemId));

    /* Whole entries only: a partial one at the end is ignored. */
    entrySize = Info->UsesXsdt ? sizeof(ULONG64) : sizeof(ULONG);
    entryCount = (rootLength - sizeof(DESCRIPTION_HEADER)) / entrySize;
    for (ULONG i = 0; i < entryCount; i++) {
        const UCHAR *slot = root + sizeof(DESCRIPTION_HEADER) + i * entrySize;
        const UCHAR *table;
        ULONG64 physical = 0;
        ULONG length;
        NTSTATUS tableStatus = STATUS_SUCCESS;

        /* XSDT entries sit at offset 36 + 8i: not 8-byte aligned. */
        memcpy(&physical, slot, entrySize);
        table = HalpAcpiMapTable(physical, NULL, Map, Unmap, &length);
        if (table == NULL)
            continue;           /* nowhere, bad length or bad checksum: skip it */

        if (Info->TableCount < HAL_ACPI_MAX_TABLES) {
            memcpy(Info->Tables[Info->TableCount].Signature, table, 4);
            Info->Tables[Info->TableCount].Signature[4] = 0;
            Info->Tables[Info->TableCount].Physical = physical;
            Info->Tables[Info->TableCount].Length = length;
            Info->TableCount++;
        } else {
            Info->Truncated = TRUE;
        }
        /* The first good MADT and MCFG count; duplicates are only listed. */
        if (!madtSeen && memcmp(table, "APIC", 4) == 0) {
            madtSeen = TRUE;
            tableStatus = HalpAcpiParseMadt(table, length, Info);
        } else if (!mcfgSeen && memcmp(table, "MCFG", 4) == 0) {
            mcfgSeen = TRUE;
            tableStatus = HalpAcpiParseMcfg(table, length, Info);
        }
        Unmap((PVOID)table, length);
        if (!NT_SUCCESS(tableStatus))
            status = tableStatus;
    }
    Unmap((PVOID)root, rootLength);
    return status;
}

/* ---- Lookups ------------------------------------------------------------------- */

BOOLEAN HalpAcpiInfoFindTable(const HAL_ACPI_INFO *Info, PCSTR Signature,
                              PULONG64 Physical, PULONG Length)
{
    ULONG n = 0;

    if (Signature == NULL)
        return FALSE;
    while (n < 5 && Signature[n])
        n++;
    if (n != 4)
        return FALSE;
    for (ULONG i = 0; i < Info->TableCount && i < HAL_ACPI_MAX_TABLES; i++) {
        if (memcmp(Info->Tables[i].Signature, Signature, 4) == 0) {
            if (Physical)
                *Physical = Info->Tables[i].Physical;
            if (Length)
                *Length = Info->Tables[i].Length;
            return TRUE;
        }
    }
    return FALSE;
}

/*
 * ISA interrupts are edge triggered and active high, and IRQ n is wired to
 * I/O APIC input (GSI) n - unless an interrupt source override says
 * otherwise. "Conforms to the bus" (0) and the reserved encodings (2) keep
 * the ISA default.
 */
VOID HalpAcpiInfoIsaIrqToGsi(const HAL_ACPI_INFO *Info, ULONG Irq, PULONG Gsi,
                             PBOOLEAN ActiveLow, PBOOLEAN LevelTriggered)
{
    ULONG gsi = Irq;
    BOOLEAN low = FALSE, level = FALSE;

    for (ULONG i = 0; i < Info->OverrideCount && i < HAL_ACPI_MAX_OVERRIDES; i++) {
        if (Info->Overrides[i].Bus == 0 && Info->Overrides[i].Source == Irq) {
            USHORT flags = Info->Overrides[i].Flags;
            gsi = Info->Overrides[i].Gsi;
            low = (flags & MPS_INTI_POLARITY_MASK) == MPS_INTI_POLARITY_ACTIVE_LOW;
            level = (flags & MPS_INTI_TRIGGER_MASK) == MPS_INTI_TRIGGER_LEVEL;
            break;
        }
    }
    if (Gsi)
        *Gsi = gsi;
    if (ActiveLow)
        *ActiveLow = low;
    if (LevelTriggered)
        *LevelTriggered = level;
}

BOOLEAN HalpAcpiFindTable(PCSTR Signature, PULONG64 Physical, PULONG Length)
{
    return HalpAcpiInfoFindTable(&HalpAcpiInfo, Signature, Physical, Length);
}

VOID HalpAcpiIsaIrqToGsi(ULONG Irq, PULONG Gsi, PBOOLEAN ActiveLow, PBOOLEAN LevelTriggered)
{
    HalpAcpiInfoIsaIrqToGsi(&HalpAcpiInfo, Irq, Gsi, ActiveLow, LevelTriggered);
}

/* ---- Kernel: where the RSDP is, and mapping through Mm ----------------------------- */

#ifndef MICA_HOST_TEST

#define BDA_EBDA_SEGMENT 0x40E          /* BIOS data area: EBDA segment (a word) */
#define EBDA_SCAN_LENGTH 1024
#define BIOS_AREA_BASE   0xE0000
#define BIOS_AREA_LENGTH 0x20000

static BOOLEAN HalpAcpiInitialized;
static NTSTATUS HalpAcpiStatus;

/* Tables are in RAM (ACPI reclaim/NVS ranges) that the firmware uses as
 * write-back: map them cached, so no alias has a conflicting memory type. */
static PVOID HalpAcpiMap(ULONG64 Physical, SIZE_T Length)
{
    PHYSICAL_ADDRESS pa;

    pa.QuadPart = (LONGLONG)Physical;
    return MmMapIoSpace(pa, Length, MmCached);
}

static VOID HalpAcpiUnmap(PVOID Va, SIZE_T Length)
{
    MmUnmapIoSpace(Va, Length);
}

/* Look for "RSD PTR " on 16-byte boundaries of one range; parse candidates
 * until one is a valid RSDP with a usable root table. */
static NTSTATUS HalpAcpiScanRange(ULONG64 Physical, SIZE_T Length, HAL_ACPI_INFO *Info)
{
    const UCHAR *va = HalpAcpiMap(Physical, Length);
    NTSTATUS status = STATUS_NOT_FOUND;

    if (va == NULL)
        return STATUS_NOT_FOUND;
    for (SIZE_T offset = 0; offset + RSDP_V1_LENGTH <= Length; offset += 16) {
        if (memcmp(va + offset, RSDP_SIGNATURE, 8) != 0)
            continue;
        status = HalpAcpiParse(va + offset, Length - offset, Physical + offset,
                               HalpAcpiMap, HalpAcpiUnmap, Info);
        if (status != STATUS_NOT_FOUND)
            break;
    }
    HalpAcpiUnmap((PVOID)va, Length);
    return status;
}

NTSTATUS HalpAcpiScanBiosArea(HAL_ACPI_INFO *Info)
{
    const USHORT *bda;
    ULONG64 ebda = 0;
    NTSTATUS status;

    /* The BIOS data area holds the EBDA's real-mode segment. Under UEFI
     * there is no BDA and the word is whatever happens to be there, so
     * only an address in the usual place below the VGA hole is believed. */
    bda = HalpAcpiMap(BDA_EBDA_SEGMENT, sizeof(USHORT));
    if (bda != NULL) {
        ebda = (ULONG64)*bda << 4;
        HalpAcpiUnmap((PVOID)bda, sizeof(USHORT));
    }
    if (ebda >= 0x80000 && ebda + EBDA_SCAN_LENGTH <= 0xA0000) {
        status = HalpAcpiScanRange(ebda, EBDA_SCAN_LENGTH, Info);
        if (status != STATUS_NOT_FOUND)
            return status;
    }
    return HalpAcpiScanRange(BIOS_AREA_BASE, BIOS_AREA_LENGTH, Info);
}

static void HalpAcpiPrintSummary(NTSTATUS Status, BOOLEAN FromLoader)
{
    const HAL_ACPI_INFO *info = &HalpAcpiInfo;
    char tables[HAL_ACPI_MAX_TABLES * 5 + 1];
    ULONG enabled = 0, used = 0;

    if (Status == STATUS_NOT_FOUND) {
        DbgPrint("ACPI: no valid RSDP and root table found\n");
        return;
    }
    tables[0] = 0;
    for (ULONG i = 0; i < info->TableCount && used < sizeof(tables); i++)
        used += RtlSnprintf(tables + used, sizeof(tables) - used, " %s", info->Tables[i].Signature);
    for (ULONG i = 0; i < info->ProcessorCount; i++)
        enabled += info->Processors[i].Enabled;

    DbgPrint("ACPI: RSDP rev %u \"%s\" at %llx (%s), %s at %llx, tables:%s\n", info->Revision,
             info->OemId, info->RsdpPhysical, FromLoader ? "from the loader" : "BIOS area",
             info->UsesXsdt ? "XSDT" : "RSDT", info->RootTablePhysical, tables);
    DbgPrint("ACPI: local APIC %llx, %u processors (%u enabled), %u I/O APICs, "
             "%u overrides%s\n", info->LocalApicPhysical, info->ProcessorCount, enabled,
             info->IoApicCount, info->OverrideCount, info->PcatCompat ? ", 8259s present" : "");
    for (ULONG i = 0; i < info->IoApicCount; i++)
        DbgPrint("ACPI: I/O APIC %u at %llx, GSI base %u\n", info->IoApics[i].Id,
                 info->IoApics[i].Physical, info->IoApics[i].GsiBase);
    for (ULONG i = 0; i < info->McfgCount; i++)
        DbgPrint("ACPI: PCI Express ECAM at %llx, segment %u, buses %u-%u\n",
                 info->Mcfg[i].BaseAddress, info->Mcfg[i].Segment, info->Mcfg[i].StartBus,
                 info->Mcfg[i].EndBus);
    if (!NT_SUCCESS(Status))
        DbgPrint("ACPI: a table is malformed (status %x); its walk stopped early\n",
                 (ULONG)Status);
    if (info->Truncated)
        DbgPrint("ACPI: more entries than Mica keeps; the rest were dropped\n");
}

NTSTATUS HalpInitializeAcpi(VOID)
{
    NTSTATUS status = STATUS_NOT_FOUND;
    BOOLEAN fromLoader = FALSE;

    if (HalpAcpiInitialized)
        return HalpAcpiStatus;
    /* Tables are reached through MmMapIoSpace: Mm must be up. Not latched,
     * so a later call (once it is) still does the work. */
    if (!KiMmInitialized)
        return STATUS_UNSUCCESSFUL;

    /* GRUB's copy comes first: under UEFI the BIOS areas hold nothing. */
    if (KeLoaderBlock->AcpiRsdpPhysical != 0) {
        status = HalpAcpiParse(KeLoaderBlock->AcpiRsdp, sizeof(KeLoaderBlock->AcpiRsdp),
                               KeLoaderBlock->AcpiRsdpPhysical, HalpAcpiMap, HalpAcpiUnmap,
                               &HalpAcpiInfo);
        fromLoader = status != STATUS_NOT_FOUND;
    }
    if (status == STATUS_NOT_FOUND)
        status = HalpAcpiScanBiosArea(&HalpAcpiInfo);

    HalpAcpiStatus = status;
    HalpAcpiInitialized = TRUE;
    HalpAcpiPrintSummary(status, fromLoader);
    return status;
}

#endif

/*
 * test_acpi.c - unit tests for the ACPI table parser (kernel/hal/acpi.c).
 *
 * The HAL believes the MADT about where the APICs are and how IRQs are
 * wired, so the parser must take good tables apart correctly and survive
 * bad ones. These tests build synthetic tables - RSDP, RSDT, XSDT, MADT,
 * MCFG, FACP, HPET - in a fake "physical memory" (a static buffer that
 * pretends to sit at AT_BASE), fix up their checksums, and hand the parser
 * a Map callback that
 *   - refuses (and counts) any range outside the fake memory,
 *   - copies the range to the very end of a separate static buffer, so a
 *     read past what was mapped runs off that buffer (AddressSanitizer
 *     reports it on the host),
 *   - keeps a list of live mappings: Unmap must name one exactly, and none
 *     may be left when the parser returns.
 * They run on the host and in the kernel (test=acpi); nothing here touches
 * HalpAcpiInfo, which holds the machine's real tables.
 */
#include "../ktest.h"
#include "../../kernel/hal/acpi.h"

#define AT_BASE        0x7FE0000ULL     /* where the fake memory "is" */
#define AT_MEMORY_SIZE 8192
#define AT_SLOTS       4

/* Where each table goes in the fake memory. */
#define AT_RSDP 0x000
#define AT_RSDT 0x100
#define AT_XSDT 0x200
#define AT_MADT 0x400
#define AT_MCFG 0x800
#define AT_FACP 0x900
#define AT_HPET 0x980
#define AT_SPARE 0xA00

#define AT_PHYS(Offset) (AT_BASE + (Offset))
#define AT_OUTSIDE 0xDEAD0000ULL        /* a table pointer to nowhere */

static ULONG64 AtMemory[AT_MEMORY_SIZE / 8];
static ULONG AtOffset, AtTableStart;

/* Mapping windows: separate objects, so each has its own redzone. */
static UCHAR AtWindow0[AT_MEMORY_SIZE], AtWindow1[AT_MEMORY_SIZE];
static UCHAR AtWindow2[AT_MEMORY_SIZE], AtWindow3[AT_MEMORY_SIZE];
static UCHAR *const AtWindows[AT_SLOTS] = {AtWindow0, AtWindow1, AtWindow2, AtWindow3};
static struct {
    BOOLEAN Used;
    PVOID Va;
    SIZE_T Length;
} AtMaps[AT_SLOTS];
static ULONG AtLive, AtOutside, AtBadUnmaps;

static UCHAR AtRsdpCopy[64];
static HAL_ACPI_INFO AtInfo;

/* ---- fake physical memory ------------------------------------------------- */

static UCHAR *AtBytes(void)
{
    return (UCHAR *)AtMemory;
}

static PVOID AtMap(ULONG64 Physical, SIZE_T Length)
{
    ULONG64 offset = Physical - AT_BASE;
    UCHAR *va;

    if (Length == 0 || Physical < AT_BASE || offset >= AT_MEMORY_SIZE ||
        Length > AT_MEMORY_SIZE - offset) {
        AtOutside++;
        return NULL;
    }
    for (ULONG i = 0; i < AT_SLOTS; i++) {
        if (AtMaps[i].Used)
            continue;
        va = AtWindows[i] + AT_MEMORY_SIZE - Length;
        memcpy(va, AtBytes() + offset, Length);
        AtMaps[i].Used = TRUE;
        AtMaps[i].Va = va;
        AtMaps[i].Length = Length;
        AtLive++;
        return va;
    }
    KtestFail(__FILE__, __LINE__, "more than %u live mappings", AT_SLOTS);
    return NULL;
}

static VOID AtUnmap(PVOID Va, SIZE_T Length)
{
    for (ULONG i = 0; i < AT_SLOTS; i++) {
        if (AtMaps[i].Used && AtMaps[i].Va == Va && AtMaps[i].Length == Length) {
            AtMaps[i].Used = FALSE;
            AtLive--;
            return;
        }
    }
    AtBadUnmaps++;
}

/* ---- building tables --------------------------------------------------------- */

static void AtPut8(UCHAR Value)
{
    if (AtOffset < AT_MEMORY_SIZE)
        AtBytes()[AtOffset] = Value;
    AtOffset++;
}

static void AtPut16(USHORT Value)
{
    AtPut8((UCHAR)Value);
    AtPut8((UCHAR)(Value >> 8));
}

static void AtPut32(ULONG Value)
{
    AtPut16((USHORT)Value);
    AtPut16((USHORT)(Value >> 16));
}

static void AtPut64(ULONG64 Value)
{
    AtPut32((ULONG)Value);
    AtPut32((ULONG)(Value >> 32));
}

static void AtPutChars(PCSTR Chars, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        AtPut8((UCHAR)Chars[i]);
}

static void AtSet32(ULONG Offset, ULONG Value)
{
    ULONG saved = AtOffset;

    AtOffset = Offset;
    AtPut32(Value);
    AtOffset = saved;
}

/* Make Length bytes at Offset sum to 0 by setting the byte at ChecksumOffset. */
static void AtFixChecksum(ULONG Offset, ULONG Length, ULONG ChecksumOffset)
{
    UCHAR sum = 0;

    AtBytes()[ChecksumOffset] = 0;
    for (ULONG i = 0; i < Length; i++)
        sum = (UCHAR)(sum + AtBytes()[Offset + i]);
    AtBytes()[ChecksumOffset] = (UCHAR)(0x100 - sum);
}

/* Change one byte without fixing the checksum. */
static void AtCorrupt(ULONG Offset)
{
    AtBytes()[Offset] ^= 0x5A;
}

static void AtReset(void)
{
    memset(AtMemory, 0, sizeof(AtMemory));
    memset(AtMaps, 0, sizeof(AtMaps));
    AtLive = AtOutside = AtBadUnmaps = 0;
}

static void AtTableBegin(ULONG Offset, PCSTR Signature)
{
    AtOffset = AtTableStart = Offset;
    AtPutChars(Signature, 4);
    AtPut32(0);                 /* Length, set by AtTableEnd */
    AtPut8(1);                  /* Revision */
    AtPut8(0);                  /* Checksum */
    AtPutChars("MICAOS", 6);
    AtPutChars("TESTTABL", 8);
    AtPut32(1);
    AtPutChars("MTST", 4);
    AtPut32(1);
}

/* Close the table claiming Length bytes (the checksum covers Length). */
static void AtTableEndClaiming(ULONG Length)
{
    AtSet32(AtTableStart + 4, Length);
    if (Length <= AT_MEMORY_SIZE - AtTableStart)
        AtFixChecksum(AtTableStart, Length, AtTableStart + 9);
}

static void AtTableEnd(void)
{
    AtTableEndClaiming(AtOffset - AtTableStart);
}

/* An RSDP at AT_RSDP; Revision >= 2 adds Length, XSDT and the extended checksum. */
static void AtPutRsdp(UCHAR Revision, ULONG Rsdt, ULONG64 Xsdt)
{
    AtOffset = AT_RSDP;
    AtPutChars("RSD PTR ", 8);
    AtPut8(0);
    AtPutChars("MICAOS", 6);
    AtPut8(Revision);
    AtPut32(Rsdt);
    AtPut32(RSDP_V2_LENGTH);
    AtPut64(Xsdt);
    AtPut8(0);
    AtPut8(0); AtPut8(0); AtPut8(0);
    AtFixChecksum(AT_RSDP, RSDP_V1_LENGTH, AT_RSDP + 8);
    AtFixChecksum(AT_RSDP, RSDP_V2_LENGTH, AT_RSDP + 32);
}

static void AtPutRoot(ULONG Offset, BOOLEAN Xsdt, const ULONG *Tables, ULONG Count)
{
    AtTableBegin(Offset, Xsdt ? "XSDT" : "RSDT");
    for (ULONG i = 0; i < Count; i++) {
        if (Xsdt)
            AtPut64(AT_PHYS(Tables[i]));
        else
            AtPut32((ULONG)AT_PHYS(Tables[i]));
    }
    AtTableEnd();
}

static void AtMadtBegin(ULONG LocalApic, ULONG Flags)
{
    AtTableBegin(AT_MADT, "APIC");
    AtPut32(LocalApic);
    AtPut32(Flags);
}

static void AtMadtLapic(UCHAR ProcessorId, UCHAR ApicId, ULONG Flags)
{
    AtPut8(MADT_TYPE_PROCESSOR_LOCAL_APIC);
    AtPut8(8);
    AtPut8(ProcessorId);
    AtPut8(ApicId);
    AtPut32(Flags);
}

static void AtMadtIoApic(UCHAR Id, ULONG Address, ULONG GsiBase)
{
    AtPut8(MADT_TYPE_IO_APIC);
    AtPut8(12);
    AtPut8(Id);
    AtPut8(0);
    AtPut32(Address);
    AtPut32(GsiBase);
}

static void AtMadtIso(UCHAR Bus, UCHAR Source, ULONG Gsi, USHORT Flags)
{
    AtPut8(MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE);
    AtPut8(10);
    AtPut8(Bus);
    AtPut8(Source);
    AtPut32(Gsi);
    AtPut16(Flags);
}

static void AtMadtNmi(UCHAR ProcessorId, USHORT Flags, UCHAR Lint)
{
    AtPut8(MADT_TYPE_LOCAL_APIC_NMI);
    AtPut8(6);
    AtPut8(ProcessorId);
    AtPut16(Flags);
    AtPut8(Lint);
}

/* The standard machine's MADT: like QEMU's, plus a disabled CPU, an
 * active-low level IRQ 9 and an entry of a type Mica does not know. */
static void AtPutStandardMadt(void)
{
    AtMadtBegin(0xFEE00000, PCAT_COMPAT);
    AtMadtLapic(0, 0, MADT_LAPIC_ENABLED);
    AtMadtLapic(1, 1, 0);
    AtMadtIoApic(2, 0xFEC00000, 0);
    AtPut8(0x7F);               /* unknown type, 7 bytes: skipped by its length */
    AtPut8(7);
    AtPutChars("\x11\x22\x33\x44\x55", 5);
    AtMadtIso(0, 0, 2, 0);
    AtMadtIso(0, 9, 9, MPS_INTI_POLARITY_ACTIVE_LOW | MPS_INTI_TRIGGER_LEVEL);
    AtMadtNmi(0xFF, MPS_INTI_POLARITY_ACTIVE_HIGH | MPS_INTI_TRIGGER_EDGE, 1);
    AtTableEnd();
}

static void AtPutMcfg(ULONG64 Base, USHORT Segment, UCHAR StartBus, UCHAR EndBus)
{
    AtTableBegin(AT_MCFG, "MCFG");
    AtPut64(0);                 /* reserved */
    AtPut64(Base);
    AtPut16(Segment);
    AtPut8(StartBus);
    AtPut8(EndBus);
    AtPut32(0);
    AtTableEnd();
}

static void AtPutSimpleTable(ULONG Offset, PCSTR Signature, ULONG BodyBytes)
{
    AtTableBegin(Offset, Signature);
    for (ULONG i = 0; i < BodyBytes; i++)
        AtPut8((UCHAR)i);
    AtTableEnd();
}

/*
 * A whole machine: the RSDT lists FACP and APIC only, the XSDT lists FACP,
 * APIC, HPET and MCFG - so which root was used shows in TableCount.
 */
static const ULONG AtRsdtTables[] = {AT_FACP, AT_MADT};
static const ULONG AtXsdtTables[] = {AT_FACP, AT_MADT, AT_HPET, AT_MCFG};

static void AtBuildMachine(UCHAR Revision)
{
    AtReset();
    AtPutSimpleTable(AT_FACP, "FACP", 80);
    AtPutSimpleTable(AT_HPET, "HPET", 20);
    AtPutStandardMadt();
    AtPutMcfg(0xB0000000, 0, 0, 255);
    AtPutRoot(AT_RSDT, FALSE, AtRsdtTables, ARRAYSIZE(AtRsdtTables));
    AtPutRoot(AT_XSDT, TRUE, AtXsdtTables, ARRAYSIZE(AtXsdtTables));
    AtPutRsdp(Revision, (ULONG)AT_PHYS(AT_RSDT), Revision >= 2 ? AT_PHYS(AT_XSDT) : 0);
}

/* Parse the RSDP at AT_RSDP, handing the parser exactly RsdpLength bytes. */
static NTSTATUS AtParseLength(SIZE_T RsdpLength)
{
    UCHAR *copy = AtRsdpCopy + sizeof(AtRsdpCopy) - RsdpLength;
    NTSTATUS status;

    memcpy(copy, AtBytes() + AT_RSDP, RsdpLength);
    memset(&AtInfo, 0xCC, sizeof(AtInfo));     /* the parser must clear it */
    status = HalpAcpiParse(copy, RsdpLength, AT_PHYS(AT_RSDP), AtMap, AtUnmap, &AtInfo);
    KEXPECT_EQ(AtLive, 0);
    KEXPECT_EQ(AtBadUnmaps, 0);
    return status;
}

static NTSTATUS AtParse(void)
{
    return AtParseLength(RSDP_V2_LENGTH);
}

static BOOLEAN AtInfoIsZero(void)
{
    const UCHAR *p = (const UCHAR *)&AtInfo;

    for (SIZE_T i = 0; i < sizeof(AtInfo); i++)
        if (p[i])
            return FALSE;
    return TRUE;
}

static BOOLEAN AtHasTable(PCSTR Signature)
{
    return HalpAcpiInfoFindTable(&AtInfo, Signature, NULL, NULL);
}

/* ---- RSDP and root tables ------------------------------------------------------ */

KTEST(acpi, rsdp_v1_uses_rsdt)
{
    AtBuildMachine(0);
    /* An ACPI 1.0 RSDP is 20 bytes: nothing past them may be read. */
    KASSERT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_SUCCESS);
    KEXPECT_EQ(AtOutside, 0);
    KEXPECT_EQ(AtInfo.RsdpPhysical, AT_PHYS(AT_RSDP));
    KEXPECT_EQ(AtInfo.Revision, 0);
    KEXPECT_STREQ(AtInfo.OemId, "MICAOS");
    KEXPECT_FALSE(AtInfo.UsesXsdt);
    KEXPECT_EQ(AtInfo.RootTablePhysical, AT_PHYS(AT_RSDT));
    KEXPECT_EQ(AtInfo.TableCount, 2);
    KEXPECT_STREQ(AtInfo.Tables[0].Signature, "FACP");
    KEXPECT_EQ(AtInfo.Tables[0].Physical, AT_PHYS(AT_FACP));
    KEXPECT_EQ(AtInfo.Tables[0].Length, 36 + 80);
    KEXPECT_STREQ(AtInfo.Tables[1].Signature, "APIC");
    KEXPECT_FALSE(AtHasTable("MCFG"));
    KEXPECT_EQ(AtInfo.McfgCount, 0);
    KEXPECT_EQ(AtInfo.LocalApicPhysical, 0xFEE00000);
    KEXPECT_FALSE(AtInfo.Truncated);
}

KTEST(acpi, rsdp_v2_prefers_xsdt)
{
    AtBuildMachine(2);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtOutside, 0);
    KEXPECT_EQ(AtInfo.Revision, 2);
    KEXPECT_TRUE(AtInfo.UsesXsdt);
    KEXPECT_EQ(AtInfo.RootTablePhysical, AT_PHYS(AT_XSDT));
    KEXPECT_EQ(AtInfo.TableCount, 4);
    KEXPECT_TRUE(AtHasTable("FACP"));
    KEXPECT_TRUE(AtHasTable("APIC"));
    KEXPECT_TRUE(AtHasTable("HPET"));
    KEXPECT_TRUE(AtHasTable("MCFG"));
    KEXPECT_EQ(AtInfo.McfgCount, 1);
}

KTEST(acpi, rsdp_v2_without_xsdt_uses_rsdt)
{
    AtBuildMachine(2);
    AtPutRsdp(2, (ULONG)AT_PHYS(AT_RSDT), 0);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_FALSE(AtInfo.UsesXsdt);
    KEXPECT_EQ(AtInfo.RootTablePhysical, AT_PHYS(AT_RSDT));
    KEXPECT_EQ(AtInfo.TableCount, 2);
}

KTEST(acpi, bad_xsdt_falls_back_to_rsdt)
{
    AtBuildMachine(2);
    AtCorrupt(AT_XSDT + 40);            /* an entry's byte: checksum now wrong */
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_FALSE(AtInfo.UsesXsdt);
    KEXPECT_EQ(AtInfo.TableCount, 2);

    /* An XSDT pointer to a table that is not an XSDT. */
    AtBuildMachine(2);
    AtPutRsdp(2, (ULONG)AT_PHYS(AT_RSDT), AT_PHYS(AT_FACP));
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_FALSE(AtInfo.UsesXsdt);
    KEXPECT_EQ(AtInfo.RootTablePhysical, AT_PHYS(AT_RSDT));
}

KTEST(acpi, bad_rsdp_not_found)
{
    /* Checksum over the first 20 bytes. */
    AtBuildMachine(0);
    AtCorrupt(AT_RSDP + 10);
    KEXPECT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_NOT_FOUND);
    KEXPECT_TRUE(AtInfoIsZero());
    KEXPECT_EQ(AtOutside + AtLive, 0);

    /* Signature. */
    AtBuildMachine(0);
    AtBytes()[AT_RSDP + 7] = '_';
    AtFixChecksum(AT_RSDP, RSDP_V1_LENGTH, AT_RSDP + 8);
    KEXPECT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_NOT_FOUND);
    KEXPECT_TRUE(AtInfoIsZero());

    /* Revision 2 with a good 20-byte checksum but a bad extended one. */
    AtBuildMachine(2);
    AtCorrupt(AT_RSDP + 25);            /* inside XsdtAddress */
    AtFixChecksum(AT_RSDP, RSDP_V1_LENGTH, AT_RSDP + 8);
    KEXPECT_EQ(AtParse(), STATUS_NOT_FOUND);
    KEXPECT_TRUE(AtInfoIsZero());

    /* Too short to be an RSDP at all, or to be the revision it claims. */
    AtBuildMachine(2);
    KEXPECT_EQ(AtParseLength(19), STATUS_NOT_FOUND);
    KEXPECT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_NOT_FOUND);
    KEXPECT_EQ(AtParseLength(35), STATUS_NOT_FOUND);
    KEXPECT_FALSE(HalpAcpiValidateRsdp(NULL, 36));

    /* A Length field longer than the bytes given, or shorter than 36. */
    AtBuildMachine(2);
    AtSet32(AT_RSDP + 20, 48);
    AtFixChecksum(AT_RSDP, RSDP_V2_LENGTH, AT_RSDP + 32);
    KEXPECT_EQ(AtParse(), STATUS_NOT_FOUND);
    AtSet32(AT_RSDP + 20, 24);
    AtFixChecksum(AT_RSDP, 24, AT_RSDP + 23);
    KEXPECT_EQ(AtParse(), STATUS_NOT_FOUND);
}

KTEST(acpi, unusable_root_not_found)
{
    /* RSDT checksum wrong, no XSDT to fall back on. */
    AtBuildMachine(0);
    AtCorrupt(AT_RSDT + 36);
    KEXPECT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_NOT_FOUND);
    KEXPECT_TRUE(AtInfoIsZero());

    /* Root pointers to nowhere, to zero, to a table of the wrong kind. */
    AtBuildMachine(0);
    AtPutRsdp(2, (ULONG)AT_OUTSIDE, AT_OUTSIDE);
    KEXPECT_EQ(AtParse(), STATUS_NOT_FOUND);
    KEXPECT_EQ(AtOutside, 2);
    AtPutRsdp(2, 0, 0);
    KEXPECT_EQ(AtParse(), STATUS_NOT_FOUND);
    AtPutRsdp(0, (ULONG)AT_PHYS(AT_MADT), 0);
    KEXPECT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_NOT_FOUND);
    KEXPECT_TRUE(AtInfoIsZero());
}

/* ---- individual tables ------------------------------------------------------------- */

KTEST(acpi, bad_table_checksum_skipped)
{
    /* A bad HPET: the others still come through. */
    AtBuildMachine(2);
    AtCorrupt(AT_HPET + 40);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtInfo.TableCount, 3);
    KEXPECT_FALSE(AtHasTable("HPET"));
    KEXPECT_TRUE(AtHasTable("MCFG"));
    KEXPECT_EQ(AtInfo.ProcessorCount, 2);

    /* A bad MADT: nothing from it is believed. */
    AtBuildMachine(2);
    AtCorrupt(AT_MADT + 44);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtInfo.TableCount, 3);
    KEXPECT_FALSE(AtHasTable("APIC"));
    KEXPECT_EQ(AtInfo.LocalApicPhysical, 0);
    KEXPECT_EQ(AtInfo.ProcessorCount + AtInfo.IoApicCount + AtInfo.OverrideCount, 0);
    KEXPECT_EQ(AtInfo.McfgCount, 1);
}

KTEST(acpi, insane_table_lengths_skipped)
{
    static const ULONG tables[] = {AT_FACP, AT_SPARE, AT_MADT, AT_SPARE + 0x100};

    AtBuildMachine(2);
    /* Shorter than its own header, and 2 MiB: neither may be mapped whole. */
    AtTableBegin(AT_SPARE, "SHRT");
    AtTableEndClaiming(20);
    AtTableBegin(AT_SPARE + 0x100, "HUGE");
    AtTableEndClaiming(2 * 1024 * 1024);
    AtPutRoot(AT_XSDT, TRUE, tables, ARRAYSIZE(tables));
    AtFixChecksum(AT_RSDP, RSDP_V2_LENGTH, AT_RSDP + 32);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtOutside, 0);
    KEXPECT_EQ(AtInfo.TableCount, 2);
    KEXPECT_FALSE(AtHasTable("SHRT"));
    KEXPECT_FALSE(AtHasTable("HUGE"));
    KEXPECT_EQ(AtInfo.ProcessorCount, 2);
}

KTEST(acpi, table_pointers_to_nowhere_skipped)
{
    AtBuildMachine(0);
    AtTableBegin(AT_RSDT, "RSDT");
    AtPut32((ULONG)AT_OUTSIDE);
    AtPut32(0);
    AtPut32((ULONG)AT_PHYS(AT_MADT));
    AtPut16(0xFFFF);                    /* half an entry: ignored */
    AtTableEnd();
    KASSERT_EQ(AtParseLength(RSDP_V1_LENGTH), STATUS_SUCCESS);
    KEXPECT_EQ(AtOutside, 1);
    KEXPECT_EQ(AtInfo.TableCount, 1);
    KEXPECT_TRUE(AtHasTable("APIC"));
}

KTEST(acpi, too_many_tables_truncated)
{
    ULONG tables[40];

    for (ULONG i = 0; i < ARRAYSIZE(tables); i++)
        tables[i] = i == 39 ? AT_MADT : AT_FACP;
    AtBuildMachine(2);
    AtPutRoot(AT_XSDT, TRUE, tables, ARRAYSIZE(tables));
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtInfo.TableCount, HAL_ACPI_MAX_TABLES);
    KEXPECT_TRUE(AtInfo.Truncated);
    /* The MADT did not fit in the list, but it was still read. */
    KEXPECT_EQ(AtInfo.ProcessorCount, 2);
}

/* ---- MADT --------------------------------------------------------------------------- */

KTEST(acpi, madt_contents)
{
    AtBuildMachine(2);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtInfo.LocalApicPhysical, 0xFEE00000);
    KEXPECT_TRUE(AtInfo.PcatCompat);

    KASSERT_EQ(AtInfo.ProcessorCount, 2);
    KEXPECT_EQ(AtInfo.Processors[0].ProcessorId, 0);
    KEXPECT_EQ(AtInfo.Processors[0].ApicId, 0);
    KEXPECT_TRUE(AtInfo.Processors[0].Enabled);
    KEXPECT_EQ(AtInfo.Processors[1].ProcessorId, 1);
    KEXPECT_EQ(AtInfo.Processors[1].ApicId, 1);
    KEXPECT_FALSE(AtInfo.Processors[1].Enabled);

    KASSERT_EQ(AtInfo.IoApicCount, 1);
    KEXPECT_EQ(AtInfo.IoApics[0].Id, 2);
    KEXPECT_EQ(AtInfo.IoApics[0].Physical, 0xFEC00000);
    KEXPECT_EQ(AtInfo.IoApics[0].GsiBase, 0);

    /* Both overrides come after the unknown entry: it was skipped, not fatal. */
    KASSERT_EQ(AtInfo.OverrideCount, 2);
    KEXPECT_EQ(AtInfo.Overrides[0].Bus, 0);
    KEXPECT_EQ(AtInfo.Overrides[0].Source, 0);
    KEXPECT_EQ(AtInfo.Overrides[0].Gsi, 2);
    KEXPECT_EQ(AtInfo.Overrides[0].Flags, 0);
    KEXPECT_EQ(AtInfo.Overrides[1].Source, 9);
    KEXPECT_EQ(AtInfo.Overrides[1].Gsi, 9);
    KEXPECT_EQ(AtInfo.Overrides[1].Flags, 0xF);

    KASSERT_EQ(AtInfo.NmiCount, 1);
    KEXPECT_EQ(AtInfo.Nmis[0].ProcessorId, 0xFF);
    KEXPECT_EQ(AtInfo.Nmis[0].Lint, 1);
    KEXPECT_EQ(AtInfo.Nmis[0].Flags, 0x5);
    KEXPECT_FALSE(AtInfo.Truncated);
}

KTEST(acpi, madt_address_override_and_x2apic)
{
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    AtMadtLapic(0, 0, MADT_LAPIC_ENABLED);
    AtPut8(MADT_TYPE_LOCAL_APIC_ADDRESS_OVERRIDE);
    AtPut8(12);
    AtPut16(0);
    AtPut64(0x123456789000ULL);
    AtPut8(MADT_TYPE_PROCESSOR_LOCAL_X2APIC);      /* a new processor */
    AtPut8(16);
    AtPut16(0);
    AtPut32(0x100);
    AtPut32(MADT_LAPIC_ENABLED);
    AtPut32(77);
    AtPut8(MADT_TYPE_PROCESSOR_LOCAL_X2APIC);      /* processor 0 again */
    AtPut8(16);
    AtPut16(0);
    AtPut32(0);
    AtPut32(MADT_LAPIC_ENABLED);
    AtPut32(0);
    AtTableEnd();
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtInfo.LocalApicPhysical, 0x123456789000ULL);
    KEXPECT_FALSE(AtInfo.PcatCompat);
    KASSERT_EQ(AtInfo.ProcessorCount, 2);
    KEXPECT_EQ(AtInfo.Processors[1].ApicId, 0x100);
    KEXPECT_EQ(AtInfo.Processors[1].ProcessorId, 77);
    KEXPECT_TRUE(AtInfo.Processors[1].Enabled);
}

KTEST(acpi, madt_zero_length_entry_stops)
{
    /* Lengths 0 and 1 would never advance (or land inside the entry), for
     * a known type and for one the parser skips without looking. */
    static const UCHAR types[] = {MADT_TYPE_IO_APIC, 0x7F};

    for (ULONG i = 0; i < 2 * ARRAYSIZE(types); i++) {
        UCHAR length = (UCHAR)(i & 1);

        AtBuildMachine(2);
        AtMadtBegin(0xFEE00000, PCAT_COMPAT);
        AtMadtLapic(0, 0, MADT_LAPIC_ENABLED);
        AtPut8(types[i / 2]);
        AtPut8(length);
        AtPutChars("\0\0\0\0\0\0\0\0\0\0", 10);
        AtMadtLapic(1, 1, MADT_LAPIC_ENABLED);
        AtTableEnd();
        KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);
        /* What came before stays; the walk stopped at the bad entry; the
         * other tables were still read. */
        KEXPECT_EQ(AtInfo.ProcessorCount, 1);
        KEXPECT_EQ(AtInfo.IoApicCount, 0);
        KEXPECT_EQ(AtInfo.LocalApicPhysical, 0xFEE00000);
        KEXPECT_EQ(AtInfo.McfgCount, 1);
        KEXPECT_TRUE(AtHasTable("APIC"));
    }
}

KTEST(acpi, madt_entry_past_end_stops)
{
    /* The last entry claims 12 bytes, 8 are left. */
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    AtMadtLapic(0, 0, MADT_LAPIC_ENABLED);
    AtPut8(MADT_TYPE_IO_APIC);
    AtPut8(12);
    AtPut8(1);
    AtPut8(0);
    AtPut32(0xFEC00000);
    AtTableEnd();
    KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(AtInfo.ProcessorCount, 1);
    KEXPECT_EQ(AtInfo.IoApicCount, 0);

    /* An unknown entry claiming 255 bytes at the end. */
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    AtPut8(0x42);
    AtPut8(255);
    AtPut32(0);
    AtTableEnd();
    KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);

    /* One stray byte after the last entry: not even a header. */
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    AtMadtLapic(0, 0, MADT_LAPIC_ENABLED);
    AtPut8(MADT_TYPE_PROCESSOR_LOCAL_APIC);
    AtTableEnd();
    KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(AtInfo.ProcessorCount, 1);
}

KTEST(acpi, madt_known_entry_too_short_stops)
{
    /* An I/O APIC entry of 8 bytes: its address would be read past it. */
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    AtPut8(MADT_TYPE_IO_APIC);
    AtPut8(8);
    AtPut8(1);
    AtPut8(0);
    AtPut32(0xFEC00000);
    AtMadtLapic(0, 0, MADT_LAPIC_ENABLED);
    AtTableEnd();
    KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(AtInfo.IoApicCount, 0);

    /* A MADT shorter than its fixed part (header + address + flags). */
    AtBuildMachine(2);
    AtTableBegin(AT_MADT, "APIC");
    AtPut32(0xFEE00000);
    AtTableEnd();
    KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(AtInfo.LocalApicPhysical, 0);
}

KTEST(acpi, madt_longer_entries_accepted)
{
    /* A future revision may lengthen an entry: the known part is read, the
     * rest skipped. */
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    AtPut8(MADT_TYPE_IO_APIC);
    AtPut8(16);
    AtPut8(3);
    AtPut8(0);
    AtPut32(0xFEC01000);
    AtPut32(24);
    AtPut32(0xFFFFFFFF);
    AtMadtLapic(5, 6, MADT_LAPIC_ENABLED);
    AtTableEnd();
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KASSERT_EQ(AtInfo.IoApicCount, 1);
    KEXPECT_EQ(AtInfo.IoApics[0].Physical, 0xFEC01000);
    KEXPECT_EQ(AtInfo.IoApics[0].GsiBase, 24);
    KASSERT_EQ(AtInfo.ProcessorCount, 1);
    KEXPECT_EQ(AtInfo.Processors[0].ApicId, 6);
}

KTEST(acpi, madt_too_many_processors_truncated)
{
    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, 0);
    for (ULONG i = 0; i < 70; i++)
        AtMadtLapic((UCHAR)i, (UCHAR)i, MADT_LAPIC_ENABLED);
    AtMadtIoApic(0, 0xFEC00000, 0);
    AtTableEnd();
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_EQ(AtInfo.ProcessorCount, HAL_ACPI_MAX_PROCESSORS);
    KEXPECT_EQ(AtInfo.Processors[63].ApicId, 63);
    KEXPECT_TRUE(AtInfo.Truncated);
    KEXPECT_EQ(AtInfo.IoApicCount, 1);
}

/* ---- MCFG ---------------------------------------------------------------------------- */

KTEST(acpi, mcfg_one_allocation)
{
    AtBuildMachine(2);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KASSERT_EQ(AtInfo.McfgCount, 1);
    KEXPECT_EQ(AtInfo.Mcfg[0].BaseAddress, 0xB0000000);
    KEXPECT_EQ(AtInfo.Mcfg[0].Segment, 0);
    KEXPECT_EQ(AtInfo.Mcfg[0].StartBus, 0);
    KEXPECT_EQ(AtInfo.Mcfg[0].EndBus, 255);
}

KTEST(acpi, mcfg_odd_allocations)
{
    AtBuildMachine(2);
    AtTableBegin(AT_MCFG, "MCFG");
    AtPut64(0);
    AtPut64(0);                         /* base 0: not recorded */
    AtPut16(0); AtPut8(0); AtPut8(255); AtPut32(0);
    AtPut64(0xE0000000);                /* buses reversed: not recorded */
    AtPut16(0); AtPut8(9); AtPut8(3); AtPut32(0);
    AtPut64(0x4000000000ULL);           /* above 4 GiB, segment 1 */
    AtPut16(1); AtPut8(0); AtPut8(63); AtPut32(0);
    AtPut64(0xC0000000);                /* half an allocation: ignored */
    AtTableEnd();
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KASSERT_EQ(AtInfo.McfgCount, 1);
    KEXPECT_EQ(AtInfo.Mcfg[0].BaseAddress, 0x4000000000ULL);
    KEXPECT_EQ(AtInfo.Mcfg[0].Segment, 1);
    KEXPECT_EQ(AtInfo.Mcfg[0].EndBus, 63);

    /* Shorter than header + reserved bytes. */
    AtBuildMachine(2);
    AtTableBegin(AT_MCFG, "MCFG");
    AtPut32(0);
    AtTableEnd();
    KEXPECT_EQ(AtParse(), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(AtInfo.McfgCount, 0);
    KEXPECT_EQ(AtInfo.ProcessorCount, 2);
}

/* ---- lookups --------------------------------------------------------------------------- */

KTEST(acpi, isa_irq_to_gsi)
{
    ULONG gsi;
    BOOLEAN low, level;

    AtBuildMachine(2);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);

    /* IRQ 0 -> GSI 2, flags 0: ISA's edge, active high. */
    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 0, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 2);
    KEXPECT_FALSE(low);
    KEXPECT_FALSE(level);
    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 9, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 9);
    KEXPECT_TRUE(low);
    KEXPECT_TRUE(level);
    /* No override: identity, edge, active high. */
    for (ULONG irq = 1; irq < 16; irq++) {
        if (irq == 9)
            continue;
        HalpAcpiInfoIsaIrqToGsi(&AtInfo, irq, &gsi, &low, &level);
        KEXPECT_EQ(gsi, irq);
        KEXPECT_FALSE(low);
        KEXPECT_FALSE(level);
    }
    /* Outputs may be left out. */
    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 0, &gsi, NULL, NULL);
    KEXPECT_EQ(gsi, 2);
}

KTEST(acpi, isa_irq_override_flags)
{
    ULONG gsi;
    BOOLEAN low, level;

    AtBuildMachine(2);
    AtMadtBegin(0xFEE00000, PCAT_COMPAT);
    AtMadtIso(1, 4, 40, MPS_INTI_TRIGGER_LEVEL);    /* not ISA: ignored */
    AtMadtIso(0, 5, 5, MPS_INTI_POLARITY_ACTIVE_HIGH | MPS_INTI_TRIGGER_LEVEL);
    AtMadtIso(0, 10, 10, 0x2 | 0x8);               /* reserved encodings: ISA defaults */
    AtMadtIso(0, 11, 21, MPS_INTI_POLARITY_ACTIVE_LOW | MPS_INTI_TRIGGER_EDGE);
    AtTableEnd();
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);

    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 4, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 4);
    KEXPECT_FALSE(level);
    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 5, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 5);
    KEXPECT_FALSE(low);
    KEXPECT_TRUE(level);
    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 10, &gsi, &low, &level);
    KEXPECT_FALSE(low);
    KEXPECT_FALSE(level);
    HalpAcpiInfoIsaIrqToGsi(&AtInfo, 11, &gsi, &low, &level);
    KEXPECT_EQ(gsi, 21);
    KEXPECT_TRUE(low);
    KEXPECT_FALSE(level);
}

KTEST(acpi, find_table)
{
    ULONG64 physical = 0;
    ULONG length = 0;

    AtBuildMachine(2);
    KASSERT_EQ(AtParse(), STATUS_SUCCESS);
    KEXPECT_TRUE(HalpAcpiInfoFindTable(&AtInfo, "HPET", &physical, &length));
    KEXPECT_EQ(physical, AT_PHYS(AT_HPET));
    KEXPECT_EQ(length, 36 + 20);
    KEXPECT_TRUE(HalpAcpiInfoFindTable(&AtInfo, "APIC", &physical, NULL));
    KEXPECT_EQ(physical, AT_PHYS(AT_MADT));
    KEXPECT_FALSE(HalpAcpiInfoFindTable(&AtInfo, "SSDT", &physical, &length));
    KEXPECT_FALSE(HalpAcpiInfoFindTable(&AtInfo, "API", NULL, NULL));
    KEXPECT_FALSE(HalpAcpiInfoFindTable(&AtInfo, "APICX", NULL, NULL));
    KEXPECT_FALSE(HalpAcpiInfoFindTable(&AtInfo, "", NULL, NULL));
    KEXPECT_FALSE(HalpAcpiInfoFindTable(&AtInfo, NULL, NULL, NULL));
}

/*
 * acpi.h - ACPI table discovery for the HAL (kernel/hal/acpi.c).
 *
 * Internal to kernel/ (the HAL) and its tests: not a public header. The
 * firmware describes the machine's interrupt hardware in ACPI tables: the
 * RSDP points at a root table (RSDT with 32-bit or XSDT with 64-bit
 * pointers), which lists every other table. Mica reads two of them:
 *   - the MADT ("APIC"): where the local APICs and I/O APICs are, which
 *     processors exist, and how ISA IRQs are wired to I/O APIC inputs
 *     (global system interrupts, GSIs);
 *   - the MCFG: where PCI Express configuration space (ECAM) is mapped,
 *     recorded here for the PCI driver to use later.
 * and remembers where every other table is (HPET, FACP, ...).
 *
 * Structures carry the ACPI specification's names (ACPI 6.5, chapter 5.2)
 * and are packed: firmware lays them out byte by byte, with 64-bit fields
 * at offsets that are not multiples of 8.
 */
#ifndef MICA_ACPI_H
#define MICA_ACPI_H

#include "../ke/ke.h"

/* ---- Tables as the firmware lays them out ------------------------------------ */

#define RSDP_SIGNATURE "RSD PTR "        /* 8 bytes, no NUL in the table */
#define RSDP_V1_LENGTH 20                /* ACPI 1.0: up to RsdtAddress */
#define RSDP_V2_LENGTH 36                /* ACPI 2.0+: with the XSDT pointer */

/* Root System Description Pointer (5.2.5.3). */
typedef struct __attribute__((packed)) _RSDP {
    char Signature[8];
    UCHAR Checksum;             /* the first 20 bytes sum to 0 */
    char OemId[6];
    UCHAR Revision;             /* 0: ACPI 1.0, 2: ACPI 2.0 and later */
    ULONG RsdtAddress;
    /* ACPI 2.0 and later: */
    ULONG Length;               /* of this whole structure */
    ULONG64 XsdtAddress;
    UCHAR ExtendedChecksum;     /* all Length bytes sum to 0 */
    UCHAR Reserved[3];
} RSDP, *PRSDP;
_Static_assert(sizeof(RSDP) == RSDP_V2_LENGTH, "RSDP layout");

/* The header every description table starts with (5.2.6). */
typedef struct __attribute__((packed)) _DESCRIPTION_HEADER {
    char Signature[4];
    ULONG Length;               /* of the whole table, header included */
    UCHAR Revision;
    UCHAR Checksum;             /* all Length bytes sum to 0 */
    char OemId[6];
    char OemTableId[8];
    ULONG OemRevision;
    char CreatorId[4];
    ULONG CreatorRevision;
} DESCRIPTION_HEADER, *PDESCRIPTION_HEADER;
_Static_assert(sizeof(DESCRIPTION_HEADER) == 36, "DESCRIPTION_HEADER layout");

/* RSDT: header + ULONG entries; XSDT: header + ULONG64 entries (unaligned). */
typedef struct __attribute__((packed)) _RSDT {
    DESCRIPTION_HEADER Header;
    ULONG Entry[];
} RSDT;
typedef struct __attribute__((packed)) _XSDT {
    DESCRIPTION_HEADER Header;
    ULONG64 Entry[];
} XSDT;
_Static_assert(sizeof(RSDT) == 36 && sizeof(XSDT) == 36, "root table layout");

/* Multiple APIC Description Table, signature "APIC" (5.2.12). */
typedef struct __attribute__((packed)) _MADT {
    DESCRIPTION_HEADER Header;
    ULONG LocalApicAddress;     /* 32-bit; type 5 may override it */
    ULONG Flags;
    /* Interrupt controller structures follow, each starting with Type, Length. */
} MADT, *PMADT;
_Static_assert(sizeof(MADT) == 44, "MADT layout");

#define PCAT_COMPAT 0x1         /* MADT.Flags: dual 8259s present (mask them) */

#define MADT_TYPE_PROCESSOR_LOCAL_APIC      0
#define MADT_TYPE_IO_APIC                   1
#define MADT_TYPE_INTERRUPT_SOURCE_OVERRIDE 2
#define MADT_TYPE_LOCAL_APIC_NMI            4
#define MADT_TYPE_LOCAL_APIC_ADDRESS_OVERRIDE 5
#define MADT_TYPE_PROCESSOR_LOCAL_X2APIC    9

typedef struct __attribute__((packed)) _MADT_ENTRY_HEADER {
    UCHAR Type;
    UCHAR Length;               /* of the whole entry, these two bytes included */
} MADT_ENTRY_HEADER;

/* Local APIC flags (types 0 and 9). */
#define MADT_LAPIC_ENABLED        0x1
#define MADT_LAPIC_ONLINE_CAPABLE 0x2    /* ACPI 6.3: disabled, but may be started */

typedef struct __attribute__((packed)) _MADT_PROCESSOR_LOCAL_APIC {
    UCHAR Type, Length;
    UCHAR AcpiProcessorId;
    UCHAR ApicId;
    ULONG Flags;
} MADT_PROCESSOR_LOCAL_APIC;
_Static_assert(sizeof(MADT_PROCESSOR_LOCAL_APIC) == 8, "MADT type 0 layout");

typedef struct __attribute__((packed)) _MADT_IO_APIC {
    UCHAR Type, Length;
    UCHAR IoApicId;
    UCHAR Reserved;
    ULONG IoApicAddress;
    ULONG GlobalSystemInterruptBase;
} MADT_IO_APIC;
_Static_assert(sizeof(MADT_IO_APIC) == 12, "MADT type 1 layout");

typedef struct __attribute__((packed)) _MADT_INTERRUPT_SOURCE_OVERRIDE {
    UCHAR Type, Length;
    UCHAR Bus;                  /* 0: ISA */
    UCHAR Source;               /* the ISA IRQ */
    ULONG GlobalSystemInterrupt;
    USHORT Flags;               /* MPS INTI flags, below */
} MADT_INTERRUPT_SOURCE_OVERRIDE;
_Static_assert(sizeof(MADT_INTERRUPT_SOURCE_OVERRIDE) == 10, "MADT type 2 layout");

/* MPS INTI flags (ISO and NMI entries): polarity in bits 0-1, trigger in 2-3. */
#define MPS_INTI_POLARITY_MASK        0x3
#define MPS_INTI_POLARITY_CONFORMS    0x0   /* as the bus says: ISA is active high */
#define MPS_INTI_POLARITY_ACTIVE_HIGH 0x1
#define MPS_INTI_POLARITY_ACTIVE_LOW  0x3
#define MPS_INTI_TRIGGER_MASK         0xC
#define MPS_INTI_TRIGGER_CONFORMS     0x0   /* ISA is edge triggered */
#define MPS_INTI_TRIGGER_EDGE         0x4
#define MPS_INTI_TRIGGER_LEVEL        0xC

typedef struct __attribute__((packed)) _MADT_LOCAL_APIC_NMI {
    UCHAR Type, Length;
    UCHAR AcpiProcessorId;      /* 0xFF: all processors */
    USHORT Flags;               /* MPS INTI flags */
    UCHAR LocalApicLint;        /* LINT0 or LINT1 */
} MADT_LOCAL_APIC_NMI;
_Static_assert(sizeof(MADT_LOCAL_APIC_NMI) == 6, "MADT type 4 layout");

typedef struct __attribute__((packed)) _MADT_LOCAL_APIC_ADDRESS_OVERRIDE {
    UCHAR Type, Length;
    USHORT Reserved;
    ULONG64 LocalApicAddress;
} MADT_LOCAL_APIC_ADDRESS_OVERRIDE;
_Static_assert(sizeof(MADT_LOCAL_APIC_ADDRESS_OVERRIDE) == 12, "MADT type 5 layout");

typedef struct __attribute__((packed)) _MADT_PROCESSOR_LOCAL_X2APIC {
    UCHAR Type, Length;
    USHORT Reserved;
    ULONG X2ApicId;
    ULONG Flags;
    ULONG AcpiProcessorUid;
} MADT_PROCESSOR_LOCAL_X2APIC;
_Static_assert(sizeof(MADT_PROCESSOR_LOCAL_X2APIC) == 16, "MADT type 9 layout");

/* PCI Express memory-mapped configuration space, signature "MCFG" (PCI
 * Firmware Specification 3.x, 4.1.2): header, 8 reserved bytes, allocations. */
typedef struct __attribute__((packed)) _MCFG {
    DESCRIPTION_HEADER Header;
    UCHAR Reserved[8];
} MCFG;
_Static_assert(sizeof(MCFG) == 44, "MCFG layout");

typedef struct __attribute__((packed)) _MCFG_ALLOCATION {
    ULONG64 BaseAddress;        /* ECAM base: bus B starts at BaseAddress + (B << 20) */
    USHORT PciSegment;
    UCHAR StartBusNumber;
    UCHAR EndBusNumber;
    ULONG Reserved;
} MCFG_ALLOCATION;
_Static_assert(sizeof(MCFG_ALLOCATION) == 16, "MCFG allocation layout");

/* ---- What the HAL keeps ----------------------------------------------------------- */

#define HAL_ACPI_MAX_TABLES     32
#define HAL_ACPI_MAX_PROCESSORS 64
#define HAL_ACPI_MAX_IOAPICS    8
#define HAL_ACPI_MAX_OVERRIDES  24
#define HAL_ACPI_MAX_NMIS       8
#define HAL_ACPI_MAX_MCFG       4
#define HAL_ACPI_MAX_TABLE_LENGTH (1024 * 1024)  /* longer is corrupt, not big */

/*
 * Everything is copied out of the tables, so nothing here points into a
 * mapping. Counts never exceed their arrays: entries past the end are
 * dropped (and Truncated set).
 */
typedef struct _HAL_ACPI_INFO {
    ULONG64 RsdpPhysical;
    UCHAR Revision;             /* the RSDP's */
    char OemId[7];
    ULONG64 RootTablePhysical;
    BOOLEAN UsesXsdt;

    ULONG TableCount;           /* tables listed by the root table with good checksums */
    struct {
        char Signature[5];
        ULONG64 Physical;
        ULONG Length;
    } Tables[HAL_ACPI_MAX_TABLES];

    /* From the MADT (the first good one). */
    ULONG64 LocalApicPhysical;
    BOOLEAN PcatCompat;         /* 8259s present: mask them before using the I/O APIC */
    ULONG ProcessorCount;       /* enabled and disabled ones */
    struct {
        ULONG ProcessorId;      /* ACPI processor ID (type 0) or UID (type 9) */
        ULONG ApicId;
        BOOLEAN Enabled;
    } Processors[HAL_ACPI_MAX_PROCESSORS];
    ULONG IoApicCount;
    struct {
        UCHAR Id;
        ULONG64 Physical;
        ULONG GsiBase;          /* its input 0 is this GSI */
    } IoApics[HAL_ACPI_MAX_IOAPICS];
    ULONG OverrideCount;
    struct {
        UCHAR Bus, Source;
        ULONG Gsi;
        USHORT Flags;           /* MPS INTI: polarity (bits 0-1), trigger (bits 2-3) */
    } Overrides[HAL_ACPI_MAX_OVERRIDES];
    ULONG NmiCount;             /* local APIC LINT pins wired to NMI */
    struct {
        UCHAR ProcessorId;      /* 0xFF: all */
        UCHAR Lint;
        USHORT Flags;
    } Nmis[HAL_ACPI_MAX_NMIS];

    /* From the MCFG (the first good one). */
    ULONG McfgCount;
    struct {
        ULONG64 BaseAddress;
        USHORT Segment;
        UCHAR StartBus, EndBus;
    } Mcfg[HAL_ACPI_MAX_MCFG];

    BOOLEAN Truncated;          /* some entry did not fit its array */
} HAL_ACPI_INFO, *PHAL_ACPI_INFO;

/* What HalpInitializeAcpi found (all zero until it ran, or when it failed). */
extern HAL_ACPI_INFO HalpAcpiInfo;

/*
 * How the parser reaches physical memory: Map returns a pointer to Length
 * readable bytes at Physical (NULL if it cannot), valid until Unmap is
 * called with the same pointer and length. The kernel passes
 * MmMapIoSpace/MmUnmapIoSpace; host tests pass a fake physical memory.
 */
typedef PVOID (*PHALP_ACPI_MAP)(ULONG64 Physical, SIZE_T Length);
typedef VOID (*PHALP_ACPI_UNMAP)(PVOID Va, SIZE_T Length);

/*
 * Hardware-free core (host-tested). Rsdp points at RsdpLength readable
 * bytes that start with an RSDP found at RsdpPhysical. Info is cleared,
 * then filled. Returns
 *   STATUS_SUCCESS           everything usable was read;
 *   STATUS_NOT_FOUND         bad RSDP (signature, checksums, length) or no
 *                            root table with a good signature and checksum;
 *   STATUS_INVALID_PARAMETER a MADT or MCFG with a good checksum but a
 *                            broken structure (an entry of length 0 or 1,
 *                            one running past the table, a known entry
 *                            shorter than its structure, a table shorter
 *                            than its fixed part). Its walk stops there;
 *                            what was read before it, and the other
 *                            tables, stay in Info.
 * A table whose checksum or length is bad is skipped (nothing recorded
 * from it) and the walk goes on.
 */
NTSTATUS HalpAcpiParse(const UCHAR *Rsdp, SIZE_T RsdpLength, ULONG64 RsdpPhysical,
                       PHALP_ACPI_MAP Map, PHALP_ACPI_UNMAP Unmap, HAL_ACPI_INFO *Info);

/* TRUE if Rsdp (Length readable bytes) is a valid RSDP: signature, checksum
 * over 20 bytes, and for Revision >= 2 the extended checksum over Length. */
BOOLEAN HalpAcpiValidateRsdp(const UCHAR *Rsdp, SIZE_T Length);

/* Lookups over a given Info (host-tested) and over HalpAcpiInfo. */
BOOLEAN HalpAcpiInfoFindTable(const HAL_ACPI_INFO *Info, PCSTR Signature,
                              PULONG64 Physical, PULONG Length);
VOID HalpAcpiInfoIsaIrqToGsi(const HAL_ACPI_INFO *Info, ULONG Irq, PULONG Gsi,
                             PBOOLEAN ActiveLow, PBOOLEAN LevelTriggered);

/* Physical address and length of a table by signature ("APIC", "MCFG",
 * "HPET", "FACP"); FALSE if absent. Physical/Length may be NULL. */
BOOLEAN HalpAcpiFindTable(PCSTR Signature, PULONG64 Physical, PULONG Length);

/* Translate an ISA IRQ to its GSI, polarity and trigger mode through the
 * interrupt source overrides: identity, edge, active high when none. */
VOID HalpAcpiIsaIrqToGsi(ULONG Irq, PULONG Gsi, PBOOLEAN ActiveLow, PBOOLEAN LevelTriggered);

#ifndef MICA_HOST_TEST
/*
 * Kernel only (needs MmMapIoSpace, so after MmInitSystem(0), IRQL <=
 * DISPATCH_LEVEL). Finds the RSDP - the loader block's copy first, else
 * the BIOS areas - parses it into HalpAcpiInfo and prints a summary.
 * The first call does the work; later calls return its status.
 */
NTSTATUS HalpInitializeAcpi(VOID);

/* Scan the EBDA's first KiB and 0xE0000-0xFFFFF (16-byte steps) for an
 * RSDP, parsing the first valid one into Info; STATUS_NOT_FOUND if none.
 * HalpInitializeAcpi's fallback; tests call it to cross-check. */
NTSTATUS HalpAcpiScanBiosArea(HAL_ACPI_INFO *Info);
#endif

#endif

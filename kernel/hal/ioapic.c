/*
 * ioapic.c - the I/O APIC (Hal): routes device interrupt lines to vectors.
 *
 * Each input ("global system interrupt", GSI) has a 64-bit redirection
 * entry: vector, polarity, trigger mode, mask, destination APIC. Registers
 * are reached indirectly: write the register number to IOREGSEL, then
 * read or write IOWIN. Every entry starts masked; IoConnectInterrupt
 * programs and unmasks the ones drivers connect. ACPI's MADT says where the
 * IOAPIC is; without it, the PC default 0xFEC00000 is used.
 */
#include "../ke/ke_internal.h"
#include "acpi.h"
#include "../../mm/mm.h"

#define IOAPIC_DEFAULT_PHYSICAL 0xFEC00000ULL
#define IOREGSEL 0x00
#define IOWIN    0x10
#define IOAPIC_REG_ID          0x00
#define IOAPIC_REG_VERSION     0x01
#define IOAPIC_REG_REDIRECTION 0x10
#define REDIR_POLARITY_LOW  (1u << 13)
#define REDIR_TRIGGER_LEVEL (1u << 15)
#define REDIR_MASKED        (1u << 16)

static volatile ULONG *HalpIoApic;
static ULONG HalpIoApicGsiBase, HalpIoApicInputs;
static KSPIN_LOCK HalpIoApicLock;

static ULONG HalpIoApicRead(ULONG Register)
{
    HalpIoApic[IOREGSEL / 4] = Register;
    return HalpIoApic[IOWIN / 4];
}

static void HalpIoApicWrite(ULONG Register, ULONG Value)
{
    HalpIoApic[IOREGSEL / 4] = Register;
    HalpIoApic[IOWIN / 4] = Value;
}

VOID HalpInitializeIoApic(VOID)
{
    PHYSICAL_ADDRESS pa;

    pa.QuadPart = (LONGLONG)IOAPIC_DEFAULT_PHYSICAL;
    if (HalpAcpiInfo.IoApicCount > 0) {
        pa.QuadPart = (LONGLONG)HalpAcpiInfo.IoApics[0].Physical;
        HalpIoApicGsiBase = HalpAcpiInfo.IoApics[0].GsiBase;
    }
    KeInitializeSpinLock(&HalpIoApicLock);
    HalpIoApic = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
    if (HalpIoApic == NULL)
        KeBugCheckEx(PHASE0_INITIALIZATION_FAILED, STATUS_INSUFFICIENT_RESOURCES, 1, 0, 0);
    HalpIoApicInputs = ((HalpIoApicRead(IOAPIC_REG_VERSION) >> 16) & 0xFF) + 1;
    for (ULONG i = 0; i < HalpIoApicInputs; i++) {
        HalpIoApicWrite(IOAPIC_REG_REDIRECTION + 2 * i, REDIR_MASKED);
        HalpIoApicWrite(IOAPIC_REG_REDIRECTION + 2 * i + 1, 0);
    }
    DbgPrint("Hal: I/O APIC at %llx, GSIs %u-%u\n", (ULONG64)pa.QuadPart, HalpIoApicGsiBase,
             HalpIoApicGsiBase + HalpIoApicInputs - 1);
}

VOID HalpIoApicProgram(ULONG Gsi, ULONG Vector, BOOLEAN ActiveLow, BOOLEAN LevelTriggered,
                       BOOLEAN Masked)
{
    ULONG input = Gsi - HalpIoApicGsiBase, low;
    KIRQL irql;

    if (Gsi < HalpIoApicGsiBase || input >= HalpIoApicInputs)
        return;
    low = Vector | (ActiveLow ? REDIR_POLARITY_LOW : 0) | (LevelTriggered ? REDIR_TRIGGER_LEVEL : 0) |
          (Masked ? REDIR_MASKED : 0);
    KeAcquireSpinLock(&HalpIoApicLock, &irql);
    HalpIoApicWrite(IOAPIC_REG_REDIRECTION + 2 * input + 1, 0);  /* destination APIC 0 */
    HalpIoApicWrite(IOAPIC_REG_REDIRECTION + 2 * input, low);
    KeReleaseSpinLock(&HalpIoApicLock, irql);
}

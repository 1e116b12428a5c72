/*
 * pcicfg.c - PCI configuration space access (Hal): HalGetBusDataByOffset
 * and HalSetBusDataByOffset over the two mechanisms a PC offers.
 *
 *   ECAM (PCI Express "enhanced configuration access mechanism"): the
 *     ACPI MCFG table names a physical window where bus B, device D,
 *     function F's 4 KiB of configuration space sit at
 *     Base + (B << 20 | D << 15 | F << 12). Plain loads and stores, so no
 *     lock; each bus's 1 MiB is mapped uncached the first time it is used.
 *   Configuration mechanism #1 (ports 0xCF8/0xCFC): write the address of a
 *     dword to CONFIG_ADDRESS, then access CONFIG_DATA. Two steps, so a
 *     lock held with interrupts off; only the first 256 bytes. Used when
 *     there is no MCFG (QEMU's `pc`), for a bus outside every MCFG range,
 *     above DISPATCH_LEVEL for a bus not mapped yet, and everywhere when
 *     the boot option pcicfg=port asks for it (to test this path on q35).
 *
 * Both are reached in naturally aligned accesses of 1, 2 or 4 bytes, and
 * only the bytes asked for are touched: some registers change state when
 * read or written (RW1C status bits), so a wider access is not harmless.
 */
#include "../ke/ke_internal.h"
#include "acpi.h"
#include "../../mm/mm.h"

#define PCI_CONFIG_ADDRESS_PORT 0xCF8
#define PCI_CONFIG_DATA_PORT    0xCFC
#define PCI_CONFIG_ADDRESS_ENABLE 0x80000000u
#define PCI_CONFIG_ADDRESS(Bus, Device, Function, Offset)                        \
    (PCI_CONFIG_ADDRESS_ENABLE | (ULONG)(Bus) << 16 | (ULONG)(Device) << 11 |     \
     (ULONG)(Function) << 8 | ((ULONG)(Offset) & 0xFC))

#define PCI_ECAM_BUS_SHIFT      20
#define PCI_ECAM_DEVICE_SHIFT   15
#define PCI_ECAM_FUNCTION_SHIFT 12
#define PCI_ECAM_BUS_SIZE       (1u << PCI_ECAM_BUS_SHIFT)
#define PCI_BUSES               256

HALP_PCI_CONFIG_MECHANISM HalpPciConfigMechanism;

static KSPIN_LOCK HalpPciPortLock;
static ULONG64 HalpPciEcamBase;                     /* MCFG base (bus 0's address) */
static ULONG HalpPciEcamStartBus, HalpPciEcamEndBus;
static volatile PUCHAR HalpPciEcamBus[PCI_BUSES];   /* each bus's 1 MiB, once mapped */

/* Called once at boot, after ACPI: choose the mechanism. */
VOID HalpInitializePciConfig(VOID)
{
    CHAR option[16];

    KeInitializeSpinLock(&HalpPciPortLock);
    HalpPciConfigMechanism = HalpPciConfigPorts;
    /* Segment 0 only: Mica has one PCI segment, as every PC it runs on. */
    for (ULONG i = 0; i < HalpAcpiInfo.McfgCount; i++)
        if (HalpAcpiInfo.Mcfg[i].Segment == 0) {
            HalpPciEcamBase = HalpAcpiInfo.Mcfg[i].BaseAddress;
            HalpPciEcamStartBus = HalpAcpiInfo.Mcfg[i].StartBus;
            HalpPciEcamEndBus = HalpAcpiInfo.Mcfg[i].EndBus;
            HalpPciConfigMechanism = HalpPciConfigEcam;
            break;
        }
    if (KeQueryBootOption("pcicfg", option, sizeof(option)) && strcmp(option, "port") == 0)
        HalpPciConfigMechanism = HalpPciConfigPorts;
    if (HalpPciConfigMechanism == HalpPciConfigEcam)
        DbgPrint("Hal: PCI configuration through ECAM at %llx, buses %u-%u\n", HalpPciEcamBase,
                 HalpPciEcamStartBus, HalpPciEcamEndBus);
    else
        DbgPrint("Hal: PCI configuration through ports %x/%x\n", PCI_CONFIG_ADDRESS_PORT,
                 PCI_CONFIG_DATA_PORT);
}

/* Bus's ECAM window, mapped on first use; NULL if ECAM does not cover it
 * or it cannot be mapped now (above DISPATCH_LEVEL, or no system PTEs). */
static PUCHAR HalpPciEcamWindow(ULONG Bus)
{
    PUCHAR va = HalpPciEcamBus[Bus];
    PHYSICAL_ADDRESS pa;

    if (va != NULL || HalpPciConfigMechanism != HalpPciConfigEcam || Bus < HalpPciEcamStartBus ||
        Bus > HalpPciEcamEndBus || KeGetCurrentIrql() > DISPATCH_LEVEL)
        return va;
    pa.QuadPart = (LONGLONG)(HalpPciEcamBase + ((ULONG64)Bus << PCI_ECAM_BUS_SHIFT));
    va = MmMapIoSpace(pa, PCI_ECAM_BUS_SIZE, MmNonCached);
    if (va == NULL)
        return NULL;
    /* Two processors may map the same bus at once: the first one wins. */
    if (__sync_val_compare_and_swap(&HalpPciEcamBus[Bus], NULL, va) != NULL) {
        MmUnmapIoSpace(va, PCI_ECAM_BUS_SIZE);
        va = HalpPciEcamBus[Bus];
    }
    return va;
}

/* One aligned access of Width (1, 2, 4) bytes; Write selects the direction. */
static ULONG HalpPciPortAccess(ULONG Bus, ULONG Device, ULONG Function, ULONG Offset, ULONG Width,
                               BOOLEAN Write, ULONG Value)
{
    USHORT data = (USHORT)(PCI_CONFIG_DATA_PORT + (Offset & 3));
    KIRQL old;

    /* At HIGH_LEVEL, then the lock: an ISR on this processor that reads
     * configuration space must not find CONFIG_ADDRESS half-way. */
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAcquireSpinLockAtDpcLevel(&HalpPciPortLock);
    __outdword(PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_ADDRESS(Bus, Device, Function, Offset));
    if (Write) {
        if (Width == 1)
            __outbyte(data, (UCHAR)Value);
        else if (Width == 2)
            __outword(data, (USHORT)Value);
        else
            __outdword(data, Value);
    } else {
        Value = Width == 1 ? __inbyte(data) : Width == 2 ? __inword(data) : __indword(data);
    }
    KeReleaseSpinLockFromDpcLevel(&HalpPciPortLock);
    KeLowerIrql(old);
    return Value;
}

static ULONG HalpPciEcamAccess(PUCHAR Window, ULONG Device, ULONG Function, ULONG Offset,
                               ULONG Width, BOOLEAN Write, ULONG Value)
{
    PUCHAR reg = Window + (Device << PCI_ECAM_DEVICE_SHIFT | Function << PCI_ECAM_FUNCTION_SHIFT |
                           Offset);

    if (Write) {
        if (Width == 1)
            WRITE_REGISTER_UCHAR(reg, (UCHAR)Value);
        else if (Width == 2)
            WRITE_REGISTER_USHORT((volatile USHORT *)reg, (USHORT)Value);
        else
            WRITE_REGISTER_ULONG((volatile ULONG *)reg, Value);
        return Value;
    }
    return Width == 1 ? READ_REGISTER_UCHAR(reg)
           : Width == 2 ? READ_REGISTER_USHORT((volatile USHORT *)reg)
                        : READ_REGISTER_ULONG((volatile ULONG *)reg);
}

/*
 * The common path of the four routines: checks, the empty-slot rule, then
 * the range in the widest aligned pieces that stay inside it.
 */
static ULONG HalpPciBusData(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber,
                            PUCHAR Buffer, ULONG Offset, ULONG Length, BOOLEAN Write)
{
    PCI_SLOT_NUMBER slot;
    ULONG bus = BusNumber & 0xFF, device, function, limit, done;
    PUCHAR window;

    slot.u.AsULONG = SlotNumber;
    device = slot.u.bits.DeviceNumber;
    function = slot.u.bits.FunctionNumber;
    if (BusDataType != PCIConfiguration || (BusNumber >> 8) != 0 || slot.u.bits.Reserved != 0)
        return 0;                       /* not PCI, another segment, no such slot */
    window = HalpPciEcamWindow(bus);
    if (window == NULL && HalpPciConfigMechanism == HalpPciConfigEcam &&
        (bus < HalpPciEcamStartBus || bus > HalpPciEcamEndBus))
        return 0;                       /* a bus the MCFG does not decode: does not exist */
    limit = window ? PCI_EXPRESS_CONFIG_SPACE_LENGTH : PCI_CONFIG_SPACE_LENGTH;

    /* Absent functions read all ones: an empty slot. */
    USHORT vendor = (USHORT)(window ? HalpPciEcamAccess(window, device, function, 0, 2, FALSE, 0)
                                    : HalpPciPortAccess(bus, device, function, 0, 2, FALSE, 0));
    if (vendor == PCI_INVALID_VENDORID) {
        if (Write)
            return 0;
        if (Offset == 0 && Length >= sizeof(USHORT)) {
            Buffer[0] = (UCHAR)PCI_INVALID_VENDORID;
            Buffer[1] = (UCHAR)(PCI_INVALID_VENDORID >> 8);
        }
        return sizeof(USHORT);
    }
    if (Offset >= limit)
        return 0;
    if (Length > limit - Offset)
        Length = limit - Offset;
    for (done = 0; done < Length;) {
        ULONG offset = Offset + done, left = Length - done, width, value = 0;

        if ((offset & 3) == 0 && left >= 4)
            width = 4;
        else if ((offset & 1) == 0 && left >= 2)
            width = 2;
        else
            width = 1;
        if (Write)
            memcpy(&value, Buffer + done, width);
        value = window ? HalpPciEcamAccess(window, device, function, offset, width, Write, value)
                       : HalpPciPortAccess(bus, device, function, offset, width, Write, value);
        if (!Write)
            memcpy(Buffer + done, &value, width);
        done += width;
    }
    return done;
}

ULONG HalGetBusDataByOffset(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber,
                            PVOID Buffer, ULONG Offset, ULONG Length)
{
    return HalpPciBusData(BusDataType, BusNumber, SlotNumber, Buffer, Offset, Length, FALSE);
}

ULONG HalSetBusDataByOffset(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber,
                            PVOID Buffer, ULONG Offset, ULONG Length)
{
    return HalpPciBusData(BusDataType, BusNumber, SlotNumber, Buffer, Offset, Length, TRUE);
}

ULONG HalGetBusData(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber, PVOID Buffer,
                    ULONG Length)
{
    return HalGetBusDataByOffset(BusDataType, BusNumber, SlotNumber, Buffer, 0, Length);
}

ULONG HalSetBusData(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber, PVOID Buffer,
                    ULONG Length)
{
    return HalSetBusDataByOffset(BusDataType, BusNumber, SlotNumber, Buffer, 0, Length);
}

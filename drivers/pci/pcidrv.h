/*
 * pcidrv.h - the PCI bus driver's own view of the bus (drivers/pci).
 *
 * enum.c walks configuration space once and keeps one PCI_FUNCTION per
 * function it finds: where it is, what it is, its BARs and their sizes,
 * where its MSI / MSI-X / PCI Express capabilities are, and the I/O APIC
 * input (GSI) its INTx pin reaches. The rest of the driver turns these
 * into device objects and resource lists.
 */
#ifndef MICA_PCIDRV_H
#define MICA_PCIDRV_H

#include <wdm.h>

#define PCI_POOL_TAG 'IcpM'

typedef enum _PCI_BAR_TYPE { PciBarNone, PciBarIo, PciBarMemory32, PciBarMemory64 } PCI_BAR_TYPE;

typedef struct _PCI_BAR {
    UCHAR Index;                /* the BAR register (0-5); a 64-bit BAR also uses Index + 1 */
    UCHAR Type;                 /* PCI_BAR_TYPE */
    BOOLEAN Prefetchable;
    ULONG64 Base;               /* bus address the firmware assigned */
    ULONG64 Length;             /* from sizing: a power of two */
} PCI_BAR, *PPCI_BAR;

#define PCI_NO_GSI (~0u)

typedef struct _PCI_FUNCTION {
    LIST_ENTRY Link;            /* PciFunctionList, in scan order */
    struct _PCI_FUNCTION *Bridge;   /* the bridge this function sits behind, or NULL */
    UCHAR Bus, Device, Function;
    USHORT VendorID, DeviceID;
    UCHAR BaseClass, SubClass, ProgIf, RevisionID;
    UCHAR HeaderType;           /* layout (PCI_DEVICE_TYPE, PCI_BRIDGE_TYPE...) */
    UCHAR SecondaryBus, SubordinateBus;     /* bridges */
    ULONG BarCount;
    PCI_BAR Bars[PCI_TYPE0_ADDRESSES];
    UCHAR MsiCapability;        /* offsets in configuration space, 0 if absent */
    UCHAR MsixCapability;
    UCHAR ExpressCapability;
    USHORT MsiControl, MsixControl;
    UCHAR InterruptPin;         /* 1..4 = INTA..INTD, 0 = none */
    UCHAR InterruptLine;        /* what the firmware wrote */
    ULONG Gsi;                  /* the I/O APIC input INTx reaches, or PCI_NO_GSI */
    ULONG MessageCount;         /* messages assigned (resources.c) */
    ULONG MessageVectors[4];
    PVOID Pdo;                  /* the device object, once created */
} PCI_FUNCTION, *PPCI_FUNCTION;

/* The PCI_SLOT_NUMBER of a function, for HalGet/SetBusDataByOffset. */
static inline ULONG PciSlot(const PCI_FUNCTION *F)
{
    PCI_SLOT_NUMBER slot;

    slot.u.AsULONG = 0;
    slot.u.bits.DeviceNumber = F->Device;
    slot.u.bits.FunctionNumber = F->Function;
    return slot.u.AsULONG;
}

/* Configuration reads and writes of one function. */
ULONG PciReadConfig(const PCI_FUNCTION *F, ULONG Offset, ULONG Width);
VOID PciWriteConfig(const PCI_FUNCTION *F, ULONG Offset, ULONG Width, ULONG Value);

/* enum.c: every function, in bus/device/function scan order (bridges'
 * buses right after the bridge). PciEnumerate scans once (PASSIVE_LEVEL);
 * later calls return the first scan's count. */
extern LIST_ENTRY PciFunctionList;
ULONG PciEnumerate(VOID);
PPCI_FUNCTION PciFindFunction(UCHAR Bus, UCHAR Device, UCHAR Function);
PPCI_FUNCTION PciFindDevice(USHORT VendorID, USHORT DeviceID, ULONG Instance);

/* resources.c: the raw and translated lists of a function (pool, the
 * driver's); its start (messages programmed, decode and bus mastering on)
 * and stop. */
NTSTATUS PciBuildResources(PPCI_FUNCTION F, PCM_RESOURCE_LIST *Raw, PCM_RESOURCE_LIST *Translated);
NTSTATUS PciStartFunction(PPCI_FUNCTION F);
VOID PciStopFunction(PPCI_FUNCTION F);

#endif

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
    USHORT SubVendorID, SubSystemID;    /* type 0 headers; 0 for bridges */
    USHORT FirmwareCommand;     /* the Command register as the scan found it */
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
    PDEVICE_OBJECT Pdo;         /* its physical device object (pdo.c) */
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

/* Message-signalled interrupts may be used (boot option pcimsi=off clears
 * it): PciBuildResources then gives every function its INTx line. */
extern BOOLEAN PciMessagesAllowed;

/*
 * pdo.c: the bus driver. Its DriverEntry scans the bus and makes one PDO
 * per function ("\Device\NTPNP_PCInnnn", FILE_DEVICE_BUS_EXTENDER), with
 * this extension, and hands each to the I/O manager, which finds the
 * function driver that claims one of its IDs. The PDO completes
 * IRP_MN_START_DEVICE by starting the function (PciStartFunction).
 */
#define PCI_HARDWARE_IDS   6    /* NT's hardware IDs, most specific first */
#define PCI_COMPATIBLE_IDS 7    /* then its compatible IDs */
#define PCI_IDS (PCI_HARDWARE_IDS + PCI_COMPATIBLE_IDS)
#define PCI_ID_CHARS 48         /* "PCI\VEN_1234&DEV_11E8&SUBSYS_11001AF4&REV_10" and NUL */
#define PCI_PDO_SIGNATURE 'odPP'

typedef struct _PCI_PDO_EXTENSION {
    ULONG Signature;            /* PCI_PDO_SIGNATURE */
    PPCI_FUNCTION Function;
    PCM_RESOURCE_LIST Raw, Translated;      /* handed over at start; the bus driver's */
    char Ids[PCI_IDS][PCI_ID_CHARS];        /* hardware IDs, then compatible IDs */
    PCSTR IdList[PCI_IDS + 1];              /* pointers to them, NULL-terminated */
    NTSTATUS AddStatus;         /* IopAddAndStartDevice's answer (STATUS_NO_SUCH_DEVICE: unclaimed) */
    volatile BOOLEAN Started;   /* IRP_MN_START_DEVICE reached this PDO and succeeded */
    LONGLONG StartedAt;         /* KeQueryPerformanceCounter then */
    ULONG StartCount;
} PCI_PDO_EXTENSION, *PPCI_PDO_EXTENSION;

/* The PDO extension of a bus driver's PDO, or NULL for any other device. */
PPCI_PDO_EXTENSION PciPdoExtension(PDEVICE_OBJECT DeviceObject);

#endif

/*
 * pci.h - PCI configuration space as wdm.h describes it, and the HAL's
 * routines that read and write it (kernel/hal/pcicfg.c).
 *
 * Part of the driver-facing API (hal.h includes it, wdm.h includes hal.h):
 * the PCI bus driver (drivers/pci) reaches configuration space only through
 * HalGetBusDataByOffset/HalSetBusDataByOffset, as NT's pci.sys reaches it
 * through the HAL. Names are wdm.h's where it has them (PCI_COMMON_CONFIG,
 * PCI_ENABLE_BUS_MASTER, PCI_CAPABILITY_ID_MSI...); where it has none the
 * names follow the PCI Local Bus and PCI Express specifications (the MSI
 * and MSI-X register offsets and bits).
 */
#ifndef MICA_HAL_PCI_H
#define MICA_HAL_PCI_H

#include "../ntdef.h"

/* ---- Addressing a function ------------------------------------------------------ */

typedef enum _BUS_DATA_TYPE {
    ConfigurationSpaceUndefined = -1,
    Cmos,
    EisaConfiguration,
    Pos,
    CbusConfiguration,
    PCIConfiguration,           /* 4: the only one Mica (and modern NT) supports */
    VMEConfiguration,
    NuBusConfiguration,
    PCMCIAConfiguration,
    MPIConfiguration,
    MPSAConfiguration,
    PNPISAConfiguration,
    SgiInternalConfiguration,
    MaximumBusDataType
} BUS_DATA_TYPE, *PBUS_DATA_TYPE;

/* SlotNumber of HalGetBusDataByOffset: the device and function on a bus. */
typedef struct _PCI_SLOT_NUMBER {
    union {
        struct {
            ULONG DeviceNumber : 5;
            ULONG FunctionNumber : 3;
            ULONG Reserved : 24;
        } bits;
        ULONG AsULONG;
    } u;
} PCI_SLOT_NUMBER, *PPCI_SLOT_NUMBER;

#define PCI_MAX_DEVICES       32
#define PCI_MAX_FUNCTION      8
#define PCI_MAX_BRIDGE_NUMBER 0xFF
#define PCI_INVALID_VENDORID  0xFFFF

/* Configuration space sizes: the conventional 256 bytes (port mechanism
 * #1 reaches only these) and PCI Express's 4 KiB (ECAM). */
#define PCI_CONFIG_SPACE_LENGTH         0x100
#define PCI_EXPRESS_CONFIG_SPACE_LENGTH 0x1000

/* ---- The common header (PCI Local Bus 3.0, 6.1) --------------------------------- */

#define PCI_TYPE0_ADDRESSES 6
#define PCI_TYPE1_ADDRESSES 2

/* The 64-byte header, shared by PCI_COMMON_HEADER and PCI_COMMON_CONFIG (wdm.h
 * makes the second an extension of the first). */
#define PCI_COMMON_HEADER_FIELDS \
    USHORT VendorID; \
    USHORT DeviceID; \
    USHORT Command; \
    USHORT Status; \
    UCHAR RevisionID; \
    UCHAR ProgIf; \
    UCHAR SubClass; \
    UCHAR BaseClass; \
    UCHAR CacheLineSize; \
    UCHAR LatencyTimer; \
    UCHAR HeaderType; \
    UCHAR BIST; \
    union { \
        struct { \
            ULONG BaseAddresses[PCI_TYPE0_ADDRESSES]; \
            ULONG CIS; \
            USHORT SubVendorID; \
            USHORT SubSystemID; \
            ULONG ROMBaseAddress; \
            UCHAR CapabilitiesPtr; \
            UCHAR Reserved1[3]; \
            ULONG Reserved2; \
            UCHAR InterruptLine; \
            UCHAR InterruptPin; \
            UCHAR MinimumGrant; \
            UCHAR MaximumLatency; \
        } type0; \
        struct { \
            ULONG BaseAddresses[PCI_TYPE1_ADDRESSES]; \
            UCHAR PrimaryBus; \
            UCHAR SecondaryBus; \
            UCHAR SubordinateBus; \
            UCHAR SecondaryLatency; \
            UCHAR IOBase; \
            UCHAR IOLimit; \
            USHORT SecondaryStatus; \
            USHORT MemoryBase; \
            USHORT MemoryLimit; \
            USHORT PrefetchBase; \
            USHORT PrefetchLimit; \
            ULONG PrefetchBaseUpper32; \
            ULONG PrefetchLimitUpper32; \
            USHORT IOBaseUpper16; \
            USHORT IOLimitUpper16; \
            UCHAR CapabilitiesPtr; \
            UCHAR Reserved1[3]; \
            ULONG ROMBaseAddress; \
            UCHAR InterruptLine; \
            UCHAR InterruptPin; \
            USHORT BridgeControl; \
        } type1; \
    } u;

typedef struct _PCI_COMMON_HEADER {
    PCI_COMMON_HEADER_FIELDS
} PCI_COMMON_HEADER, *PPCI_COMMON_HEADER;

typedef struct _PCI_COMMON_CONFIG {
    PCI_COMMON_HEADER_FIELDS
    UCHAR DeviceSpecific[192];
} PCI_COMMON_CONFIG, *PPCI_COMMON_CONFIG;

#define PCI_COMMON_HDR_LENGTH (FIELD_OFFSET(PCI_COMMON_CONFIG, DeviceSpecific))
_Static_assert(sizeof(PCI_COMMON_HEADER) == 64, "PCI common header layout");
_Static_assert(sizeof(PCI_COMMON_CONFIG) == PCI_CONFIG_SPACE_LENGTH, "PCI_COMMON_CONFIG layout");
_Static_assert(__builtin_offsetof(PCI_COMMON_HEADER, u.type1.SecondaryBus) == 0x19, "type 1 layout");
_Static_assert(__builtin_offsetof(PCI_COMMON_HEADER, u.type0.CapabilitiesPtr) == 0x34, "type 0 layout");

/* HeaderType: the layout in bits 6:0, bit 7 = more functions in this device. */
#define PCI_MULTIFUNCTION       0x80
#define PCI_DEVICE_TYPE         0x00
#define PCI_BRIDGE_TYPE         0x01
#define PCI_CARDBUS_BRIDGE_TYPE 0x02
#define PCI_CONFIGURATION_TYPE(PciData) (((PPCI_COMMON_CONFIG)(PciData))->HeaderType & ~PCI_MULTIFUNCTION)
#define PCI_MULTIFUNCTION_DEVICE(PciData) \
    ((((PPCI_COMMON_CONFIG)(PciData))->HeaderType & PCI_MULTIFUNCTION) != 0)

/* Command register. */
#define PCI_ENABLE_IO_SPACE               0x0001
#define PCI_ENABLE_MEMORY_SPACE           0x0002
#define PCI_ENABLE_BUS_MASTER             0x0004   /* DMA, and MSI (a message is a DMA write) */
#define PCI_ENABLE_SPECIAL_CYCLES         0x0008
#define PCI_ENABLE_WRITE_AND_INVALIDATE   0x0010
#define PCI_ENABLE_VGA_COMPATIBLE_PALETTE 0x0020
#define PCI_ENABLE_PARITY                 0x0040
#define PCI_ENABLE_WAIT_CYCLE             0x0080
#define PCI_ENABLE_SERR                   0x0100
#define PCI_ENABLE_FAST_BACK_TO_BACK      0x0200
#define PCI_DISABLE_LEVEL_INTERRUPT       0x0400   /* INTx disable */

/* Status register. */
#define PCI_STATUS_INTERRUPT_PENDING      0x0008   /* the function asserts INTx */
#define PCI_STATUS_CAPABILITIES_LIST      0x0010

/* Base address registers (6.2.5.1). */
#define PCI_ADDRESS_IO_SPACE              0x00000001
#define PCI_ADDRESS_MEMORY_TYPE_MASK      0x00000006
#define PCI_ADDRESS_MEMORY_PREFETCHABLE   0x00000008
#define PCI_ADDRESS_IO_ADDRESS_MASK       0xFFFFFFFC
#define PCI_ADDRESS_MEMORY_ADDRESS_MASK   0xFFFFFFF0
#define PCI_ADDRESS_ROM_ADDRESS_MASK      0xFFFFF800
#define PCI_TYPE_32BIT 0
#define PCI_TYPE_20BIT 2
#define PCI_TYPE_64BIT 4
#define PCI_ROMADDRESS_ENABLED            0x00000001

/* Interrupt Pin: 0 none, 1..4 INTA#..INTD#. */
#define PCI_INTERRUPT_PIN_NONE 0
#define PCI_INTERRUPT_PIN_INTA 1
#define PCI_INTERRUPT_PIN_INTD 4

/* ---- Capabilities (6.7) ---------------------------------------------------------- */

typedef struct _PCI_CAPABILITIES_HEADER {
    UCHAR CapabilityID;
    UCHAR Next;
} PCI_CAPABILITIES_HEADER, *PPCI_CAPABILITIES_HEADER;

#define PCI_CAPABILITY_ID_POWER_MANAGEMENT 0x01
#define PCI_CAPABILITY_ID_MSI              0x05
#define PCI_CAPABILITY_ID_VENDOR_SPECIFIC  0x09
#define PCI_CAPABILITY_ID_PCI_EXPRESS      0x10
#define PCI_CAPABILITY_ID_MSIX             0x11
#define PCI_CAPABILITY_POINTER_MASK        0xFC     /* the low two bits are reserved */

/* MSI capability (6.8.1): registers by offset from the capability. */
#define PCI_MSI_MESSAGE_CONTROL         0x02
#define PCI_MSI_MESSAGE_ADDRESS         0x04
#define PCI_MSI_MESSAGE_UPPER_ADDRESS   0x08     /* 64-bit capable form only */
#define PCI_MSI_MESSAGE_DATA_32         0x08
#define PCI_MSI_MESSAGE_DATA_64         0x0C
#define PCI_MSI_CONTROL_ENABLE          0x0001
#define PCI_MSI_CONTROL_MMC_SHIFT       1        /* Multiple Message Capable: log2 of vectors wanted */
#define PCI_MSI_CONTROL_MMC_MASK        0x000E
#define PCI_MSI_CONTROL_MME_SHIFT       4        /* Multiple Message Enable: log2 of vectors granted */
#define PCI_MSI_CONTROL_MME_MASK        0x0070
#define PCI_MSI_CONTROL_64BIT           0x0080
#define PCI_MSI_CONTROL_PER_VECTOR_MASK 0x0100

/* MSI-X capability (6.8.2). */
#define PCI_MSIX_MESSAGE_CONTROL        0x02
#define PCI_MSIX_TABLE_OFFSET_BIR       0x04
#define PCI_MSIX_PBA_OFFSET_BIR         0x08
#define PCI_MSIX_CONTROL_TABLE_SIZE     0x07FF   /* N - 1 */
#define PCI_MSIX_CONTROL_FUNCTION_MASK  0x4000
#define PCI_MSIX_CONTROL_ENABLE         0x8000
#define PCI_MSIX_BIR_MASK               0x7      /* which BAR holds the table */
#define PCI_MSIX_OFFSET_MASK            0xFFFFFFF8
/* A table entry: 16 bytes. */
#define PCI_MSIX_ENTRY_SIZE             16
#define PCI_MSIX_ENTRY_ADDRESS_LOW      0x0
#define PCI_MSIX_ENTRY_ADDRESS_HIGH     0x4
#define PCI_MSIX_ENTRY_DATA             0x8
#define PCI_MSIX_ENTRY_VECTOR_CONTROL   0xC
#define PCI_MSIX_ENTRY_CONTROL_MASKED   0x1

/* PCI Express capability (PCIe 4.0, 7.5.3): capabilities register at +2. */
#define PCI_EXPRESS_CAPABILITIES_REGISTER 0x02
#define PCI_EXPRESS_DEVICE_TYPE_SHIFT     4
#define PCI_EXPRESS_DEVICE_TYPE_MASK      0x00F0

/* ---- Access (kernel/hal/pcicfg.c) ------------------------------------------------ */

/*
 * Read (Get) or write (Set) Length bytes of the configuration space of
 * function SlotNumber (a PCI_SLOT_NUMBER's AsULONG) on BusNumber (segment
 * in bits 15:8), from Offset. Returns the number of bytes moved: 0 when
 * BusDataType is not PCIConfiguration or the bus does not exist; for an
 * empty slot HalGetBusDataByOffset returns 2 and puts PCI_INVALID_VENDORID
 * in VendorID (when the range covers it) and HalSetBusDataByOffset
 * returns 0; the range is cut at the end of the function's configuration
 * space (256 bytes through ports, 4 KiB through ECAM). Only the bytes
 * asked for are touched, in aligned accesses of 1, 2 or 4 bytes. Any IRQL
 * (an ECAM bus not mapped yet is mapped at IRQL <= DISPATCH_LEVEL; above
 * it the port mechanism reaches the first 256 bytes).
 */
ULONG HalGetBusDataByOffset(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber,
                            PVOID Buffer, ULONG Offset, ULONG Length);
ULONG HalSetBusDataByOffset(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber,
                            PVOID Buffer, ULONG Offset, ULONG Length);
/* The same from offset 0. */
ULONG HalGetBusData(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber, PVOID Buffer,
                    ULONG Length);
ULONG HalSetBusData(BUS_DATA_TYPE BusDataType, ULONG BusNumber, ULONG SlotNumber, PVOID Buffer,
                    ULONG Length);

/* ---- For bus drivers: message-signalled interrupt targets ------------------------
 *
 * NT's HAL serves its bus drivers through HalPrivateDispatchTable, a table
 * of routines a function driver never calls. Mica's table keeps that name;
 * its entries are Mica's own. The PCI bus driver reserves a vector for each
 * message it assigns a device, asks where a message for it must be written
 * (the x86 format: address 0xFEE00000 | destination APIC ID << 12, data =
 * the vector, fixed delivery, edge), and programs the device's MSI or
 * MSI-X registers with that. A reserved vector stays the device's across
 * IoDisconnectInterruptEx, until released.
 */
typedef struct _HAL_PRIVATE_DISPATCH {
    ULONG Version;
    /* A vector and its DIRQL for one message; 0 when none is free. */
    ULONG (*ReserveMessageVector)(PKIRQL Irql);
    /* FALSE if not reserved, or still connected. */
    BOOLEAN (*ReleaseMessageVector)(ULONG Vector);
    /* The message that interrupts Vector on the processors of *Affinity. */
    VOID (*GetMessageTarget)(ULONG Vector, PPHYSICAL_ADDRESS MessageAddress, PULONG MessageData,
                             PKAFFINITY Affinity);
} HAL_PRIVATE_DISPATCH, *PHAL_PRIVATE_DISPATCH;

#define HAL_PRIVATE_DISPATCH_VERSION 1
extern HAL_PRIVATE_DISPATCH HalPrivateDispatchTable;

#endif

/*
 * dma.h - the DMA adapter API (Hal; kernel/hal/dma*.c), as wdm.h declares it.
 *
 * A driver never hands a device MmGetPhysicalAddress: it asks the HAL for a
 * DMA adapter (IoGetDmaAdapter) and gets every device-visible ("logical")
 * address through it - AllocateCommonBuffer, MapTransfer, GetScatterGatherList.
 * On x64 PCs without an IOMMU a logical address is the physical address,
 * except where the adapter double-buffers: a device that cannot reach a page
 * (a 32-bit master, a page above 4 GiB) is given a map register instead, a
 * bounce page below its limit, and the HAL copies the data in MapTransfer
 * (to the device) and FlushAdapterBuffers (from the device). Layouts are
 * x64 NT's; the routines are reached only through DMA_OPERATIONS, as in NT.
 *
 * A header of its own rather than a section of hal.h: the callbacks take
 * io.h's DEVICE_OBJECT and IRP and io.h's IO_ALLOCATION_ACTION, and hal.h
 * is included before io.h by everything (ke.h includes it).
 */
#ifndef MICA_HAL_DMA_H
#define MICA_HAL_DMA_H

#include "hal.h"
#include "../io/io.h"

#ifndef STATUS_NONE_MAPPED
#define STATUS_NONE_MAPPED ((NTSTATUS)0xC0000073L)
#endif

/* Stop code of the DMA checks; parameter 1 is Learn's subcode (dma.c lists
 * the ones Mica raises with their parameters). */
#define DRIVER_VERIFIER_DMA_VIOLATION 0x000000E6
/* FlushAdapterBuffers could not map the caller's buffer to copy a bounce page. */
#define HAL_MEMORY_ALLOCATION 0x000000AC

typedef enum _DMA_WIDTH { Width8Bits, Width16Bits, Width32Bits, Width64Bits, MaximumDmaWidth } DMA_WIDTH;
typedef enum _DMA_SPEED { Compatible, TypeA, TypeB, TypeC, TypeF, MaximumDmaSpeed } DMA_SPEED;

#define DEVICE_DESCRIPTION_VERSION  0
#define DEVICE_DESCRIPTION_VERSION1 1
#define DEVICE_DESCRIPTION_VERSION2 2
#define DEVICE_DESCRIPTION_VERSION3 3

/* The caller zeroes it, then fills what its Version knows. */
typedef struct _DEVICE_DESCRIPTION {
    ULONG Version;
    BOOLEAN Master;                 /* bus master (FALSE: system DMA controller) */
    BOOLEAN ScatterGather;          /* the device takes a list of runs */
    BOOLEAN DemandMode;
    BOOLEAN AutoInitialize;
    BOOLEAN Dma32BitAddresses;      /* v0-v2 */
    BOOLEAN IgnoreCount;
    BOOLEAN Reserved1;
    BOOLEAN Dma64BitAddresses;      /* v0-v2; overrides Dma32BitAddresses */
    ULONG BusNumber;
    ULONG DmaChannel;
    INTERFACE_TYPE InterfaceType;
    DMA_WIDTH DmaWidth;
    DMA_SPEED DmaSpeed;
    ULONG MaximumLength;            /* largest single transfer, bytes */
    ULONG DmaPort;
    /* Version 3 (Windows 8) */
    ULONG DmaAddressWidth;          /* address bits the device drives, 1..64 */
    ULONG DmaControllerInstance;
    ULONG DmaRequestLine;
    PHYSICAL_ADDRESS DeviceAddress;
} DEVICE_DESCRIPTION, *PDEVICE_DESCRIPTION;
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, Dma32BitAddresses) == 0x08, "x64 layout");
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, Dma64BitAddresses) == 0x0B, "x64 layout");
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, InterfaceType) == 0x14, "x64 layout");
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, MaximumLength) == 0x20, "x64 layout");
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, DmaPort) == 0x24, "x64 layout");
/* v3 offsets follow from the WDK's field order (the facts sheet leaves them unverified). */
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, DmaAddressWidth) == 0x28, "x64 layout");
_Static_assert(__builtin_offsetof(DEVICE_DESCRIPTION, DeviceAddress) == 0x38, "x64 layout");

typedef struct _SCATTER_GATHER_ELEMENT {
    PHYSICAL_ADDRESS Address;           /* logical: what the device is given */
    ULONG Length;
    ULONG_PTR Reserved;
} SCATTER_GATHER_ELEMENT, *PSCATTER_GATHER_ELEMENT;

typedef struct _SCATTER_GATHER_LIST {
    ULONG NumberOfElements;
    ULONG_PTR Reserved;
    SCATTER_GATHER_ELEMENT Elements[];
} SCATTER_GATHER_LIST, *PSCATTER_GATHER_LIST;
_Static_assert(sizeof(SCATTER_GATHER_ELEMENT) == 0x18, "x64 layout");
_Static_assert(__builtin_offsetof(SCATTER_GATHER_LIST, Elements) == 0x10, "x64 layout");

/* An AllocateAdapterChannel routine is io.h's DRIVER_CONTROL (answering
 * KeepObject, DeallocateObject or DeallocateObjectKeepRegisters); a
 * GetScatterGatherList routine is a DRIVER_LIST_CONTROL. Both run at
 * DISPATCH_LEVEL in an arbitrary thread; Irp is the device object's
 * CurrentIrp when the request was made. */
typedef VOID DRIVER_LIST_CONTROL(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                 PSCATTER_GATHER_LIST ScatterGather, PVOID Context);
typedef DRIVER_LIST_CONTROL *PDRIVER_LIST_CONTROL;

struct _DMA_OPERATIONS;
typedef struct _DMA_ADAPTER {
    USHORT Version;                     /* always 1 */
    USHORT Size;                        /* sizeof(DMA_ADAPTER) */
    struct _DMA_OPERATIONS *DmaOperations;
} DMA_ADAPTER, *PDMA_ADAPTER;
_Static_assert(sizeof(DMA_ADAPTER) == 0x10, "x64 layout");

typedef VOID (*PPUT_DMA_ADAPTER)(PDMA_ADAPTER DmaAdapter);
typedef PVOID (*PALLOCATE_COMMON_BUFFER)(PDMA_ADAPTER DmaAdapter, ULONG Length,
                                         PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled);
typedef VOID (*PFREE_COMMON_BUFFER)(PDMA_ADAPTER DmaAdapter, ULONG Length,
                                    PHYSICAL_ADDRESS LogicalAddress, PVOID VirtualAddress,
                                    BOOLEAN CacheEnabled);
typedef NTSTATUS (*PALLOCATE_ADAPTER_CHANNEL)(PDMA_ADAPTER DmaAdapter,
                                              PDEVICE_OBJECT DeviceObject,
                                              ULONG NumberOfMapRegisters,
                                              PDRIVER_CONTROL ExecutionRoutine, PVOID Context);
typedef BOOLEAN (*PFLUSH_ADAPTER_BUFFERS)(PDMA_ADAPTER DmaAdapter, PMDL Mdl,
                                          PVOID MapRegisterBase, PVOID CurrentVa, ULONG Length,
                                          BOOLEAN WriteToDevice);
typedef VOID (*PFREE_ADAPTER_CHANNEL)(PDMA_ADAPTER DmaAdapter);
typedef VOID (*PFREE_MAP_REGISTERS)(PDMA_ADAPTER DmaAdapter, PVOID MapRegisterBase,
                                    ULONG NumberOfMapRegisters);
typedef PHYSICAL_ADDRESS (*PMAP_TRANSFER)(PDMA_ADAPTER DmaAdapter, PMDL Mdl,
                                          PVOID MapRegisterBase, PVOID CurrentVa, PULONG Length,
                                          BOOLEAN WriteToDevice);
typedef ULONG (*PGET_DMA_ALIGNMENT)(PDMA_ADAPTER DmaAdapter);
typedef ULONG (*PREAD_DMA_COUNTER)(PDMA_ADAPTER DmaAdapter);
typedef NTSTATUS (*PGET_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                             PDEVICE_OBJECT DeviceObject,
                                             PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                             PDRIVER_LIST_CONTROL ExecutionRoutine,
                                             PVOID Context, BOOLEAN WriteToDevice);
typedef VOID (*PPUT_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                         PSCATTER_GATHER_LIST ScatterGather,
                                         BOOLEAN WriteToDevice);
typedef NTSTATUS (*PCALCULATE_SCATTER_GATHER_LIST_SIZE)(PDMA_ADAPTER DmaAdapter,
                                                        PMDL Mdl, PVOID CurrentVa,
                                                        ULONG Length,
                                                        PULONG ScatterGatherListSize,
                                                        PULONG pNumberOfMapRegisters);
typedef NTSTATUS (*PBUILD_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                               PDEVICE_OBJECT DeviceObject,
                                               PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                               PDRIVER_LIST_CONTROL ExecutionRoutine,
                                               PVOID Context, BOOLEAN WriteToDevice,
                                               PVOID ScatterGatherBuffer,
                                               ULONG ScatterGatherLength);
typedef NTSTATUS (*PBUILD_MDL_FROM_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                                        PSCATTER_GATHER_LIST ScatterGather,
                                                        PMDL OriginalMdl,
                                                        PMDL *TargetMdl);

/* NT's order; the v1 table ends at ReadDmaCounter, v2 adds the last five. */
typedef struct _DMA_OPERATIONS {
    ULONG Size;
    PPUT_DMA_ADAPTER PutDmaAdapter;
    PALLOCATE_COMMON_BUFFER AllocateCommonBuffer;
    PFREE_COMMON_BUFFER FreeCommonBuffer;
    PALLOCATE_ADAPTER_CHANNEL AllocateAdapterChannel;
    PFLUSH_ADAPTER_BUFFERS FlushAdapterBuffers;
    PFREE_ADAPTER_CHANNEL FreeAdapterChannel;
    PFREE_MAP_REGISTERS FreeMapRegisters;
    PMAP_TRANSFER MapTransfer;
    PGET_DMA_ALIGNMENT GetDmaAlignment;
    PREAD_DMA_COUNTER ReadDmaCounter;
    PGET_SCATTER_GATHER_LIST GetScatterGatherList;
    PPUT_SCATTER_GATHER_LIST PutScatterGatherList;
    PCALCULATE_SCATTER_GATHER_LIST_SIZE CalculateScatterGatherList;
    PBUILD_SCATTER_GATHER_LIST BuildScatterGatherList;
    PBUILD_MDL_FROM_SCATTER_GATHER_LIST BuildMdlFromScatterGatherList;
} DMA_OPERATIONS, *PDMA_OPERATIONS;
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, PutDmaAdapter) == 0x08, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, AllocateCommonBuffer) == 0x10, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, FreeCommonBuffer) == 0x18, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, AllocateAdapterChannel) == 0x20, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, FlushAdapterBuffers) == 0x28, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, FreeAdapterChannel) == 0x30, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, FreeMapRegisters) == 0x38, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, MapTransfer) == 0x40, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, GetDmaAlignment) == 0x48, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, ReadDmaCounter) == 0x50, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, GetScatterGatherList) == 0x58, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, PutScatterGatherList) == 0x60, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, CalculateScatterGatherList) == 0x68, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, BuildScatterGatherList) == 0x70, "NT's order");
_Static_assert(__builtin_offsetof(DMA_OPERATIONS, BuildMdlFromScatterGatherList) == 0x78, "NT's order");
_Static_assert(sizeof(DMA_OPERATIONS) == 0x80, "the v2 table");

/*
 * PASSIVE_LEVEL. NULL if the description asks for what Mica cannot give
 * (an unknown Version, a subordinate (system-controller) device, a v3
 * DmaAddressWidth outside 1..64) or memory runs out. *NumberOfMapRegisters
 * receives the most map registers one transfer may use; a device that
 * needs double-buffering gets at most HAL_MAX_MAP_REGISTERS_PER_CHANNEL.
 * PhysicalDeviceObject may be NULL; InterfaceTypeUndefined is taken as
 * PCIBus (the one bus in Mica with DMA masters).
 */
PDMA_ADAPTER IoGetDmaAdapter(PDEVICE_OBJECT PhysicalDeviceObject,
                             PDEVICE_DESCRIPTION DeviceDescription,
                             PULONG NumberOfMapRegisters);
#define HAL_MAX_MAP_REGISTERS_PER_CHANNEL 32

#endif

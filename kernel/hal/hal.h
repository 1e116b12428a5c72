/*
 * hal.h - the public face of kernel/hal/ (Hal): port and register access,
 * interrupt vectors and connection, the time-stamp counter, the control
 * registers and MSRs (the WDK's intrinsics). What differs between PCs is
 * hidden below this line.
 */
#ifndef MICA_HAL_H
#define MICA_HAL_H

#include "../ntdef.h"

/* ---- Ports and device registers (Hal) ---------------------------------------
 * The compiler intrinsics for port I/O, and wdm.h's HAL routines on top:
 * READ_PORT_xxx/WRITE_PORT_xxx for I/O ports, READ_REGISTER_xxx and
 * WRITE_REGISTER_xxx for memory-mapped registers (MmMapIoSpace). Any IRQL.
 * A register access is one access of exactly that width, never merged,
 * split or moved across another by the compiler; a register write is
 * followed by a serializing locked operation, as x64 NT's (FastFence), so
 * it has left write-combining buffers before the routine returns.
 */
static inline UCHAR __inbyte(USHORT Port)
{
    UCHAR v;
    __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(Port));
    return v;
}

static inline USHORT __inword(USHORT Port)
{
    USHORT v;
    __asm__ __volatile__("inw %1, %0" : "=a"(v) : "Nd"(Port));
    return v;
}

static inline ULONG __indword(USHORT Port)
{
    ULONG v;
    __asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(Port));
    return v;
}

static inline void __outbyte(USHORT Port, UCHAR Value)
{
    __asm__ __volatile__("outb %0, %1" : : "a"(Value), "Nd"(Port));
}

static inline void __outword(USHORT Port, USHORT Value)
{
    __asm__ __volatile__("outw %0, %1" : : "a"(Value), "Nd"(Port));
}

static inline void __outdword(USHORT Port, ULONG Value)
{
    __asm__ __volatile__("outl %0, %1" : : "a"(Value), "Nd"(Port));
}

/* I/O ports are 16-bit numbers that wdm.h passes as pointers. */
#define KI_PORT(Port) ((USHORT)(ULONG_PTR)(Port))
static inline UCHAR READ_PORT_UCHAR(PUCHAR Port) { return __inbyte(KI_PORT(Port)); }
static inline USHORT READ_PORT_USHORT(PUSHORT Port) { return __inword(KI_PORT(Port)); }
static inline ULONG READ_PORT_ULONG(PULONG Port) { return __indword(KI_PORT(Port)); }
static inline VOID WRITE_PORT_UCHAR(PUCHAR Port, UCHAR Value) { __outbyte(KI_PORT(Port), Value); }
static inline VOID WRITE_PORT_USHORT(PUSHORT Port, USHORT Value) { __outword(KI_PORT(Port), Value); }
static inline VOID WRITE_PORT_ULONG(PULONG Port, ULONG Value) { __outdword(KI_PORT(Port), Value); }

#define KI_REGISTER_ACCESS(Type)                                                   \
    static inline Type READ_REGISTER_##Type(volatile Type *Register)               \
    {                                                                              \
        __asm__ __volatile__("" ::: "memory");                                     \
        return *Register;                                                          \
    }                                                                              \
    static inline VOID WRITE_REGISTER_##Type(volatile Type *Register, Type Value)  \
    {                                                                              \
        *Register = Value;                                                         \
        __asm__ __volatile__("lock orl $0, (%%rsp)" ::: "memory", "cc");           \
    }
KI_REGISTER_ACCESS(UCHAR)
KI_REGISTER_ACCESS(USHORT)
KI_REGISTER_ACCESS(ULONG)
KI_REGISTER_ACCESS(ULONG64)
#undef KI_REGISTER_ACCESS

/* ---- Interrupts (Io/Hal) ----------------------------------------------------------- */

struct _KINTERRUPT;
typedef struct _KINTERRUPT *PKINTERRUPT;
typedef BOOLEAN KSERVICE_ROUTINE(struct _KINTERRUPT *Interrupt, PVOID ServiceContext);
typedef KSERVICE_ROUTINE *PKSERVICE_ROUTINE;
typedef BOOLEAN KSYNCHRONIZE_ROUTINE(PVOID SynchronizeContext);
typedef KSYNCHRONIZE_ROUTINE *PKSYNCHRONIZE_ROUTINE;
typedef enum _KINTERRUPT_MODE { LevelSensitive, Latched } KINTERRUPT_MODE;
typedef enum _INTERFACE_TYPE {
    InterfaceTypeUndefined = -1, Internal = 0, Isa = 1, Eisa = 2, PCIBus = 5
} INTERFACE_TYPE;

/* An ISA IRQ or IOAPIC input (GSI) -> a system vector and its DIRQL. */
ULONG HalGetInterruptVector(INTERFACE_TYPE InterfaceType, ULONG BusNumber,
                            ULONG BusInterruptLevel, ULONG BusInterruptVector, PKIRQL Irql,
                            PKAFFINITY Affinity);
NTSTATUS IoConnectInterrupt(PKINTERRUPT *InterruptObject, PKSERVICE_ROUTINE ServiceRoutine,
                            PVOID ServiceContext, PKSPIN_LOCK SpinLock, ULONG Vector,
                            KIRQL Irql, KIRQL SynchronizeIrql, KINTERRUPT_MODE InterruptMode,
                            BOOLEAN ShareVector, KAFFINITY ProcessorEnableMask,
                            BOOLEAN FloatingSave);
VOID IoDisconnectInterrupt(PKINTERRUPT InterruptObject);
BOOLEAN KeSynchronizeExecution(PKINTERRUPT Interrupt, PKSYNCHRONIZE_ROUTINE SynchronizeRoutine,
                               PVOID SynchronizeContext);
KIRQL KeAcquireInterruptSpinLock(PKINTERRUPT Interrupt);
VOID KeReleaseInterruptSpinLock(PKINTERRUPT Interrupt, KIRQL OldIrql);

/* ---- DMA adapters (Hal; kernel/hal/dma*.c) -----------------------------------
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
 */
struct _DEVICE_OBJECT;
struct _IRP;
struct _MDL;

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

typedef enum _IO_ALLOCATION_ACTION {
    KeepObject = 1,                     /* keep the adapter channel and the registers */
    DeallocateObject = 2,               /* release both */
    DeallocateObjectKeepRegisters = 3,  /* release the channel, keep the registers */
} IO_ALLOCATION_ACTION, *PIO_ALLOCATION_ACTION;

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

/* Both run at DISPATCH_LEVEL in an arbitrary thread; Irp is the device
 * object's CurrentIrp when the request was made. */
typedef IO_ALLOCATION_ACTION DRIVER_CONTROL(struct _DEVICE_OBJECT *DeviceObject, struct _IRP *Irp,
                                            PVOID MapRegisterBase, PVOID Context);
typedef DRIVER_CONTROL *PDRIVER_CONTROL;
typedef VOID DRIVER_LIST_CONTROL(struct _DEVICE_OBJECT *DeviceObject, struct _IRP *Irp,
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
                                              struct _DEVICE_OBJECT *DeviceObject,
                                              ULONG NumberOfMapRegisters,
                                              PDRIVER_CONTROL ExecutionRoutine, PVOID Context);
typedef BOOLEAN (*PFLUSH_ADAPTER_BUFFERS)(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl,
                                          PVOID MapRegisterBase, PVOID CurrentVa, ULONG Length,
                                          BOOLEAN WriteToDevice);
typedef VOID (*PFREE_ADAPTER_CHANNEL)(PDMA_ADAPTER DmaAdapter);
typedef VOID (*PFREE_MAP_REGISTERS)(PDMA_ADAPTER DmaAdapter, PVOID MapRegisterBase,
                                    ULONG NumberOfMapRegisters);
typedef PHYSICAL_ADDRESS (*PMAP_TRANSFER)(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl,
                                          PVOID MapRegisterBase, PVOID CurrentVa, PULONG Length,
                                          BOOLEAN WriteToDevice);
typedef ULONG (*PGET_DMA_ALIGNMENT)(PDMA_ADAPTER DmaAdapter);
typedef ULONG (*PREAD_DMA_COUNTER)(PDMA_ADAPTER DmaAdapter);
typedef NTSTATUS (*PGET_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                             struct _DEVICE_OBJECT *DeviceObject,
                                             struct _MDL *Mdl, PVOID CurrentVa, ULONG Length,
                                             PDRIVER_LIST_CONTROL ExecutionRoutine,
                                             PVOID Context, BOOLEAN WriteToDevice);
typedef VOID (*PPUT_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                         PSCATTER_GATHER_LIST ScatterGather,
                                         BOOLEAN WriteToDevice);
typedef NTSTATUS (*PCALCULATE_SCATTER_GATHER_LIST_SIZE)(PDMA_ADAPTER DmaAdapter,
                                                        struct _MDL *Mdl, PVOID CurrentVa,
                                                        ULONG Length,
                                                        PULONG ScatterGatherListSize,
                                                        PULONG pNumberOfMapRegisters);
typedef NTSTATUS (*PBUILD_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                               struct _DEVICE_OBJECT *DeviceObject,
                                               struct _MDL *Mdl, PVOID CurrentVa, ULONG Length,
                                               PDRIVER_LIST_CONTROL ExecutionRoutine,
                                               PVOID Context, BOOLEAN WriteToDevice,
                                               PVOID ScatterGatherBuffer,
                                               ULONG ScatterGatherLength);
typedef NTSTATUS (*PBUILD_MDL_FROM_SCATTER_GATHER_LIST)(PDMA_ADAPTER DmaAdapter,
                                                        PSCATTER_GATHER_LIST ScatterGather,
                                                        struct _MDL *OriginalMdl,
                                                        struct _MDL **TargetMdl);

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
PDMA_ADAPTER IoGetDmaAdapter(struct _DEVICE_OBJECT *PhysicalDeviceObject,
                             PDEVICE_DESCRIPTION DeviceDescription,
                             PULONG NumberOfMapRegisters);
#define HAL_MAX_MAP_REGISTERS_PER_CHANNEL 32

/* ---- Time stamps (Hal) -------------------------------------------------- */

static inline ULONG64 KeReadTimeStampCounter(VOID)
{
    ULONG lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((ULONG64)hi << 32) | lo;
}

/* TSC ticks per second, measured against the PIT at boot. */
extern ULONG64 KeTimeStampFrequency;
/* TSC at the 64-bit entry point (boot/entry.asm): boot.ready measures from it. */
extern ULONG64 KiBootTsc;

/* ---- Control registers, MSRs, the interrupt flag (the WDK's intrinsics) --- */

#define KI_READ_CR(n)                                                        \
    static inline ULONG64 __readcr##n(void)                                  \
    {                                                                        \
        ULONG64 v;                                                           \
        __asm__ __volatile__("mov %%cr" #n ", %0" : "=r"(v));                \
        return v;                                                            \
    }
KI_READ_CR(0)
KI_READ_CR(2)
KI_READ_CR(3)
KI_READ_CR(4)
KI_READ_CR(8)
#undef KI_READ_CR
static inline void __writecr3(ULONG64 Value)
{
    __asm__ __volatile__("mov %0, %%cr3" : : "r"(Value) : "memory");
}
static inline void __writecr4(ULONG64 Value)
{
    __asm__ __volatile__("mov %0, %%cr4" : : "r"(Value) : "memory");
}

static inline ULONG64 __readmsr(ULONG Msr)
{
    ULONG lo, hi;
    __asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(Msr));
    return ((ULONG64)hi << 32) | lo;
}

static inline void __writemsr(ULONG Msr, ULONG64 Value)
{
    __asm__ __volatile__("wrmsr" : : "c"(Msr), "a"((ULONG)Value), "d"((ULONG)(Value >> 32)));
}

/* RFLAGS and its interrupt-enable bit (NT's EFLAGS_IF_MASK). */
#define EFLAGS_IF_MASK 0x200
static inline ULONG64 __readeflags(void)
{
    ULONG64 flags;
    __asm__ __volatile__("pushfq\n\tpopq %0" : "=r"(flags) : : "memory");
    return flags;
}

static inline void _disable(void) { __asm__ __volatile__("cli" ::: "memory"); }
static inline void _enable(void) { __asm__ __volatile__("sti" ::: "memory"); }
static inline void __halt(void) { __asm__ __volatile__("hlt"); }

#endif

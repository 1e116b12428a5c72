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

/* ---- PCI configuration space (Hal): kernel/hal/pci.h ------------------- */

#include "pci.h"

/* ---- DMA adapters: kernel/hal/dma.h ---------------------------------------
 * IoGetDmaAdapter, DEVICE_DESCRIPTION, DMA_ADAPTER, DMA_OPERATIONS and the
 * scatter/gather list are declared in dma.h, which wdm.h includes after
 * io.h: their callbacks take io.h's DEVICE_OBJECT and IRP and answer with
 * its IO_ALLOCATION_ACTION, and every header includes this one first. */

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

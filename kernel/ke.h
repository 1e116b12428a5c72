/*
 * ke.h - the public face of kernel/ (Ke, Hal, Kd, Rtl): what mm/, drivers/
 * and tests/ may call. Internals stay in ke_internal.h.
 *
 * Names, parameters and failure behaviour follow the NT routines of the
 * same name (see Microsoft Learn); where Mica differs, the comment says so.
 */
#ifndef MICA_KE_H
#define MICA_KE_H

#include "ntdef.h"

/* ---- Debug output (Kd) ------------------------------------------------ */

/*
 * DbgPrint formats like printf (%d %i %u %x %X %p %s %c %%, flags "-0+ ",
 * widths and precisions, length modifiers hh h l ll z I64) into a 512-byte
 * buffer, as NT's does, and writes it to the serial port and the screen.
 * %p prints 16 hex digits without a prefix, as in NT. Any IRQL.
 */
ULONG DbgPrint(PCSTR Format, ...) __attribute__((format(printf, 1, 2)));
ULONG vDbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, va_list Args);
#define KdPrint(Args) DbgPrint Args

/* C99 vsnprintf semantics: always NUL-terminates when Size > 0 and returns
 * the length the full output would have had. */
int RtlVsnprintf(char *Buffer, SIZE_T Size, PCSTR Format, va_list Args);
int RtlSnprintf(char *Buffer, SIZE_T Size, PCSTR Format, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Run-time library ---------------------------------------------------- */

/* C names and C types: the compiler calls these, and host tests get libc's. */
void *memset(void *Dest, int Value, size_t Count);
void *memcpy(void *__restrict Dest, const void *__restrict Src, size_t Count);
void *memmove(void *Dest, const void *Src, size_t Count);
int memcmp(const void *A, const void *B, size_t Count);
size_t strlen(PCSTR String);
int strcmp(PCSTR A, PCSTR B);
int strncmp(PCSTR A, PCSTR B, size_t Count);

#define RtlZeroMemory(Dest, Length) memset((Dest), 0, (Length))
#define RtlFillMemory(Dest, Length, Fill) memset((Dest), (Fill), (Length))
#define RtlCopyMemory(Dest, Src, Length) memcpy((Dest), (Src), (Length))
#define RtlMoveMemory(Dest, Src, Length) memmove((Dest), (Src), (Length))
#define RtlCompareMemory(A, B, Length) KiCompareMemory((A), (B), (Length))
SIZE_T KiCompareMemory(const void *A, const void *B, SIZE_T Length);

/* ---- Boot options ------------------------------------------------------- */

/*
 * The kernel command line is a list of words "key" or "key=value". These
 * routines answer questions about it (NT keeps the same string in
 * KeLoaderBlock->LoadOptions). KeQueryBootOption copies the value (empty
 * for a bare key) and returns TRUE when the key is present.
 * KeQueryBootOptionNumber parses decimal or 0x-hex with an optional
 * K/M/G suffix (maxmem=512M) and returns FALSE when absent or malformed.
 */
BOOLEAN KeQueryBootOption(PCSTR Key, PCHAR Value, SIZE_T ValueSize);
BOOLEAN KeQueryBootOptionNumber(PCSTR Key, PULONG64 Value);
PCSTR KeGetCommandLine(VOID);

/* ---- Loader block: what the boot loader told us ------------------------- */

typedef enum _LOADER_MEMORY_TYPE {
    LoaderFree = 1,             /* multiboot2 type 1: available RAM */
    LoaderReserved = 2,
    LoaderAcpiReclaim = 3,
    LoaderAcpiNvs = 4,
    LoaderBad = 5,
} LOADER_MEMORY_TYPE;

typedef struct _LOADER_MEMORY_RANGE {
    ULONG64 Base;
    ULONG64 Length;
    ULONG Type;                 /* LOADER_MEMORY_TYPE */
} LOADER_MEMORY_RANGE;

typedef enum _LOADER_DISPLAY_TYPE {
    LoaderDisplayNone = 0,
    LoaderDisplayVgaText,       /* EGA/VGA text mode (BIOS) */
    LoaderDisplayLinear,        /* direct-colour linear framebuffer (UEFI GOP, VBE) */
} LOADER_DISPLAY_TYPE;

typedef struct _LOADER_DISPLAY {
    ULONG Type;                 /* LOADER_DISPLAY_TYPE */
    ULONG64 PhysicalBase;
    ULONG Pitch, Width, Height, Bpp;
    UCHAR RedShift, GreenShift, BlueShift;
} LOADER_DISPLAY;

typedef struct _LOADER_MODULE {
    ULONG64 Start, End;         /* physical, End exclusive */
    char Name[64];
} LOADER_MODULE;

#define LOADER_MAX_RANGES 128
#define LOADER_MAX_MODULES 8
#define LOADER_MAX_COMMAND_LINE 1024

typedef struct _LOADER_PARAMETER_BLOCK {
    ULONG RangeCount;
    LOADER_MEMORY_RANGE Ranges[LOADER_MAX_RANGES];  /* sorted, as the loader gave them */
    char LoadOptions[LOADER_MAX_COMMAND_LINE];      /* the kernel command line */
    char LoaderName[64];
    LOADER_DISPLAY Display;
    ULONG ModuleCount;
    LOADER_MODULE Modules[LOADER_MAX_MODULES];
    ULONG64 AcpiRsdpPhysical;   /* copy of the RSDP the loader gave us, 0 if none */
    UCHAR AcpiRsdp[36];         /* the RSDP itself (ACPI 2.0 size) */
    ULONG64 BootInfoPhysical, BootInfoSize;  /* the multiboot2 block itself */
} LOADER_PARAMETER_BLOCK, *PLOADER_PARAMETER_BLOCK;

extern PLOADER_PARAMETER_BLOCK KeLoaderBlock;

/* ---- Bug checks ----------------------------------------------------------- */

/* Stop codes Mica raises, with NT's values (see "Bug Check Code Reference"). */
#define IRQL_NOT_GREATER_OR_EQUAL           0x00000009
#define MAXIMUM_WAIT_OBJECTS_EXCEEDED       0x0000000C
#define SPIN_LOCK_NOT_OWNED                 0x00000010
#define THREAD_NOT_MUTEX_OWNER              0x00000011
#define REFERENCE_BY_POINTER                0x00000018
#define INSTALL_MORE_MEMORY                 0x0000007D
#define IRQL_NOT_LESS_OR_EQUAL              0x0000000A
#define KMODE_EXCEPTION_NOT_HANDLED         0x0000001E
#define MEMORY_MANAGEMENT                   0x0000001A
#define BAD_POOL_HEADER                     0x00000019
#define PFN_LIST_CORRUPT                    0x0000004E
#define NO_PAGES_AVAILABLE                  0x0000004D
#define PAGE_FAULT_IN_NONPAGED_AREA         0x00000050
#define NO_MORE_SYSTEM_PTES                 0x0000003F
#define BAD_POOL_CALLER                     0x000000C2
#define KERNEL_DATA_INPAGE_ERROR            0x0000007A
#define SYSTEM_THREAD_EXCEPTION_NOT_HANDLED 0x0000007E
#define UNEXPECTED_KERNEL_MODE_TRAP         0x0000007F
#define NMI_HARDWARE_FAILURE                0x00000080
#define MACHINE_CHECK_EXCEPTION             0x0000009C
#define ATTEMPTED_WRITE_TO_READONLY_MEMORY  0x000000BE
#define DRIVER_VERIFIER_DETECTED_VIOLATION  0x000000C4
#define DRIVER_IRQL_NOT_LESS_OR_EQUAL       0x000000D1
#define SYSTEM_PTE_MISUSE                   0x000000DA
#define ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY 0x000000FC
#define MANUALLY_INITIATED_CRASH            0x000000E2
#define PHASE0_INITIALIZATION_FAILED        0x00000031
#define MUST_SUCCEED_POOL_EMPTY             0x00000041
#define SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION 0x000000C1
#define PAGE_FAULT_IN_FREED_SPECIAL_POOL    0x000000CC
#define PAGE_FAULT_BEYOND_END_OF_ALLOCATION 0x000000CD
#define DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL 0x000000D5
#define DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION 0x000000D6

/* x86 exception numbers as NT's UNEXPECTED_KERNEL_MODE_TRAP reports them. */
#define EXCEPTION_DIVIDED_BY_ZERO 0
#define EXCEPTION_DEBUG           1
#define EXCEPTION_NMI             2
#define EXCEPTION_INT3            3
#define EXCEPTION_INVALID_OPCODE  6
#define EXCEPTION_DOUBLE_FAULT    8
#define EXCEPTION_GP_FAULT        13
#define EXCEPTION_PAGE_FAULT      14

/* Print the blue screen (serial and screen) and stop this machine. Never
 * returns. Under test=, the test harness judges the stop and exits QEMU. */
__attribute__((noreturn)) VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1,
                                            ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4);
__attribute__((noreturn)) VOID KeBugCheck(ULONG BugCheckCode);
PCSTR KeBugCheckCodeName(ULONG BugCheckCode);

/* ---- IRQL and spin locks ------------------------------------------------ */

/*
 * x64 NT keeps the IRQL in CR8 (the local APIC task priority): an interrupt
 * whose vector >> 4 is not above CR8 is held off. Raising to a lower level or
 * lowering to a higher one is a bug check, as in NT.
 */
#define PASSIVE_LEVEL  0
#define LOW_LEVEL      0
#define APC_LEVEL      1
#define DISPATCH_LEVEL 2
#define CLOCK_LEVEL    13
#define IPI_LEVEL      14
#define HIGH_LEVEL     15

KIRQL KeGetCurrentIrql(VOID);
VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql);
KIRQL KfRaiseIrql(KIRQL NewIrql);
VOID KeLowerIrql(KIRQL NewIrql);
#define KfLowerIrql KeLowerIrql
KIRQL KeRaiseIrqlToDpcLevel(VOID);

typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
/* The processor this code runs on (0 while Mica runs on one). */
ULONG KeGetCurrentProcessorNumber(VOID);

VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql);
VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);

/* ---- DPCs ---------------------------------------------------------------- */

struct _KDPC;
typedef VOID KDEFERRED_ROUTINE(struct _KDPC *Dpc, PVOID DeferredContext,
                               PVOID SystemArgument1, PVOID SystemArgument2);
typedef KDEFERRED_ROUTINE *PKDEFERRED_ROUTINE;

typedef enum _KDPC_IMPORTANCE {
    LowImportance, MediumImportance, HighImportance, MediumHighImportance
} KDPC_IMPORTANCE;

/* A deferred procedure call: DeferredRoutine runs once at DISPATCH_LEVEL
 * after each successful KeInsertQueueDpc. Must live in nonpaged memory. */
typedef struct _KDPC {
    UCHAR Type;
    UCHAR Importance;
    USHORT Number;
    LIST_ENTRY DpcListEntry;
    PKDEFERRED_ROUTINE DeferredRoutine;
    PVOID DeferredContext;
    PVOID SystemArgument1;
    PVOID SystemArgument2;
    volatile PVOID DpcData;             /* non-NULL while queued */
} KDPC, *PKDPC, *PRKDPC;

VOID KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext);
VOID KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance);
BOOLEAN KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2);
BOOLEAN KeRemoveQueueDpc(PRKDPC Dpc);

/* ---- Dispatcher objects and waits ----------------------------------------- */

typedef CHAR KPROCESSOR_MODE;
#define KernelMode 0
#define UserMode 1
typedef LONG KPRIORITY;
#define LOW_PRIORITY 0
#define LOW_REALTIME_PRIORITY 16
#define HIGH_PRIORITY 31
#define MAXIMUM_PRIORITY 32
#define THREAD_WAIT_OBJECTS 3
#define MAXIMUM_WAIT_OBJECTS 64

typedef enum _KWAIT_REASON { Executive = 0, FreePage, PageIn, PoolAllocation, DelayExecution,
                             Suspended, UserRequest, WrExecutive } KWAIT_REASON;
typedef enum _WAIT_TYPE { WaitAll, WaitAny } WAIT_TYPE;
typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef enum _TIMER_TYPE { NotificationTimer, SynchronizationTimer } TIMER_TYPE;

/* Every object a thread can wait on starts with this header. */
typedef struct _DISPATCHER_HEADER {
    UCHAR Type;                         /* KOBJECTS: event, timer, mutant, thread */
    UCHAR Absolute;
    UCHAR Size;
    UCHAR Inserted;
    volatile LONG SignalState;
    LIST_ENTRY WaitListHead;            /* KWAIT_BLOCKs of the waiting threads */
} DISPATCHER_HEADER;

struct _KTHREAD;
typedef struct _KTHREAD *PKTHREAD, *PRKTHREAD, *PETHREAD;

typedef struct _KWAIT_BLOCK {
    LIST_ENTRY WaitListEntry;
    struct _KTHREAD *Thread;
    PVOID Object;
    USHORT WaitKey;                     /* index in the wait: STATUS_WAIT_0 + WaitKey */
    UCHAR WaitType;
    UCHAR Reserved;
} KWAIT_BLOCK, *PKWAIT_BLOCK;

typedef struct _KEVENT {
    DISPATCHER_HEADER Header;
} KEVENT, *PKEVENT, *PRKEVENT;

typedef struct _KTIMER {
    DISPATCHER_HEADER Header;
    ULARGE_INTEGER DueTime;             /* interrupt time, 100 ns units */
    LIST_ENTRY TimerListEntry;
    struct _KDPC *Dpc;
    LONG Period;                        /* ms; 0 = one-shot */
} KTIMER, *PKTIMER, *PRKTIMER;

typedef struct _KMUTANT {
    DISPATCHER_HEADER Header;           /* SignalState 1 = free, <= 0 = owned */
    struct _KTHREAD *OwnerThread;
    BOOLEAN Abandoned;
} KMUTANT, *PKMUTANT, KMUTEX, *PKMUTEX, *PRKMUTEX;

typedef struct _FAST_MUTEX {
    volatile LONG Count;                /* 1 = free */
    struct _KTHREAD *Owner;
    ULONG Contention;
    KEVENT Event;
    ULONG OldIrql;
} FAST_MUTEX, *PFAST_MUTEX;

VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
LONG KeResetEvent(PRKEVENT Event);
VOID KeClearEvent(PRKEVENT Event);
LONG KeReadStateEvent(PRKEVENT Event);

VOID KeInitializeTimer(PKTIMER Timer);
VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type);
/* DueTime < 0: relative, in 100 ns units; > 0: absolute interrupt time. */
BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc);
BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc);
BOOLEAN KeCancelTimer(PKTIMER Timer);
BOOLEAN KeReadStateTimer(PKTIMER Timer);

VOID KeInitializeMutex(PRKMUTEX Mutex, ULONG Level);
LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait);
LONG KeReadStateMutex(PRKMUTEX Mutex);

VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex);
VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex);
VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex);
BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex);

/* IRQL < DISPATCH_LEVEL when Timeout is NULL or nonzero (a bug check otherwise). */
NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                               BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                  KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                  BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                  PKWAIT_BLOCK WaitBlockArray);
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                PLARGE_INTEGER Interval);

/* ---- Threads -------------------------------------------------------------------- */

typedef VOID KSTART_ROUTINE(PVOID StartContext);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;

/* Mica has no object manager: the handle is the thread object itself, with
 * a reference the caller drops with ZwClose (or ObDereferenceObject). */
NTSTATUS PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, PVOID ObjectAttributes,
                              HANDLE ProcessHandle, PVOID ClientId, PKSTART_ROUTINE StartRoutine,
                              PVOID StartContext);
/* Does not return; STATUS_INVALID_PARAMETER if the caller is not a system thread. */
NTSTATUS PsTerminateSystemThread(NTSTATUS ExitStatus);
NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ULONG DesiredAccess, PVOID ObjectType,
                                   KPROCESSOR_MODE AccessMode, PVOID *Object, PVOID HandleInformation);
VOID ObReferenceObject(PVOID Object);
VOID ObDereferenceObject(PVOID Object);
NTSTATUS ZwClose(HANDLE Handle);
PKTHREAD KeGetCurrentThread(VOID);
#define PsGetCurrentThread() KeGetCurrentThread()
KPRIORITY KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority);
KPRIORITY KeQueryPriorityThread(PKTHREAD Thread);
BOOLEAN KeYieldProcessor(VOID);

/* ---- Interrupts (Io/Hal) ----------------------------------------------------------- */

struct _KINTERRUPT;
typedef struct _KINTERRUPT *PKINTERRUPT;
typedef BOOLEAN KSERVICE_ROUTINE(struct _KINTERRUPT *Interrupt, PVOID ServiceContext);
typedef KSERVICE_ROUTINE *PKSERVICE_ROUTINE;
typedef BOOLEAN KSYNCHRONIZE_ROUTINE(PVOID SynchronizeContext);
typedef KSYNCHRONIZE_ROUTINE *PKSYNCHRONIZE_ROUTINE;
typedef enum _KINTERRUPT_MODE { LevelSensitive, Latched } KINTERRUPT_MODE;
typedef enum _INTERFACE_TYPE { Internal = 0, Isa = 1, PCIBus = 5 } INTERFACE_TYPE;

/* An ISA IRQ or IOAPIC input (GSI) -> a system vector and its DIRQL. */
ULONG HalGetInterruptVector(INTERFACE_TYPE InterfaceType, ULONG BusNumber,
                            ULONG BusInterruptLevel, ULONG BusInterruptVector, PKIRQL Irql,
                            PKAFFINITY Affinity);
/* A vector with no input line (MSI, self-IPI): the message's vector. */
ULONG HalAllocateMessageVector(PKIRQL Irql);
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
/* Send this processor an interrupt on Vector (tests and benchmarks). */
VOID HalRequestSelfInterrupt(ULONG Vector);

/* ---- Time ------------------------------------------------------------------------ */

VOID KeStallExecutionProcessor(ULONG MicroSeconds);
LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency);
ULONGLONG KeQueryInterruptTime(VOID);       /* 100 ns units since boot */
VOID KeQueryTickCount(PLARGE_INTEGER TickCount);
ULONG KeQueryTimeIncrement(VOID);           /* 100 ns units per clock tick */

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

/* ---- Interlocked S-lists (kernel/slist.c) ------------------------------- */

#define DECLSPEC_ALIGN(Bytes) __attribute__((aligned(Bytes)))

/* An S-list entry: the first bytes of the item linked (a lookaside list's
 * cached block, say). */
typedef struct DECLSPEC_ALIGN(16) _SLIST_ENTRY {
    struct _SLIST_ENTRY *Next;
} SLIST_ENTRY, *PSLIST_ENTRY;

/*
 * x64 NT's 16-byte S-list header, changed with one cmpxchg16b: Depth and a
 * Sequence bumped by every push and pop in the low half (the sequence makes
 * a pop that raced with pop-push-pop fail instead of installing a stale
 * Next: the ABA problem), the first entry's address >> 4 in the high half.
 * Mica requires cmpxchg16b (CPUID.1:ECX.CX16), as Windows 8.1 does.
 */
typedef union DECLSPEC_ALIGN(16) _SLIST_HEADER {
    struct {
        ULONGLONG Alignment;
        ULONGLONG Region;
    };
    struct {
        ULONGLONG Depth : 16;
        ULONGLONG Sequence : 48;
        ULONGLONG Reserved : 4;
        ULONGLONG NextEntry : 60;       /* entry address >> 4 */
    } HeaderX64;
} SLIST_HEADER, *PSLIST_HEADER;

static inline VOID InitializeSListHead(PSLIST_HEADER SListHead)
{
    SListHead->Alignment = 0;
    SListHead->Region = 0;
}
#define ExInitializeSListHead InitializeSListHead

/* Any IRQL (entries must then be nonpaged). Push returns the previous first
 * entry; pop and flush return NULL for an empty list. The Lock argument of
 * the Ex forms is ignored on x64, as in NT. */
PSLIST_ENTRY InterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry);
PSLIST_ENTRY InterlockedPopEntrySList(PSLIST_HEADER ListHead);
PSLIST_ENTRY InterlockedFlushSList(PSLIST_HEADER ListHead);
PSLIST_ENTRY ExInterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry,
                                         PKSPIN_LOCK Lock);
PSLIST_ENTRY ExInterlockedPopEntrySList(PSLIST_HEADER ListHead, PKSPIN_LOCK Lock);
USHORT ExQueryDepthSList(PSLIST_HEADER SListHead);

/* Symbolize an address: "Name+0xOff" into Buffer; FALSE if not in the image. */
BOOLEAN KeSymbolizeAddress(ULONG_PTR Address, PCHAR Buffer, SIZE_T Size);

#endif

/*
 * ke.h - the public face of kernel/ke/ (Ke, with the Ex synchronization
 * routines): IRQL, spin locks, processors, DPCs, IPIs, dispatcher objects and
 * waits, threads, time, boot options and bug checks. It pulls in the Rtl,
 * Hal and Kd headers, so mm/ and tests/ include this one; drivers include
 * kernel/wdm.h. Internals stay in ke_internal.h.
 *
 * Names, parameters and failure behaviour follow the NT routines of the
 * same name (see Microsoft Learn); where Mica differs, the comment says so.
 */
#ifndef MICA_KE_H
#define MICA_KE_H

#include "../ntdef.h"
#include "../rtl/rtl.h"
#include "../hal/hal.h"
#include "../kd/kd.h"

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
#define KERNEL_APC_PENDING_DURING_EXIT      0x00000020
#define ATTEMPTED_SWITCH_FROM_DPC           0x000000B8
#define MAXIMUM_WAIT_OBJECTS_EXCEEDED       0x0000000C
#define SPIN_LOCK_ALREADY_OWNED             0x0000000F
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
#define IRQL_UNEXPECTED_VALUE               0x000000C8
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

/*
 * Bug-check callbacks, as in NT: a driver registers a record and a routine
 * that the bug check calls after the blue screen is printed (at HIGH_LEVEL,
 * interrupts off: the routine may touch only nonpaged memory and must not
 * wait). The record must stay in nonpaged memory until deregistered.
 * KeRegisterBugCheckCallback returns FALSE if the record is already
 * registered; KeDeregisterBugCheckCallback FALSE if it is not. Any IRQL.
 */
typedef VOID (*PKBUGCHECK_CALLBACK_ROUTINE)(PVOID Buffer, ULONG Length);
typedef enum _KBUGCHECK_BUFFER_DUMP_STATE {
    BufferEmpty, BufferInserted, BufferStarted, BufferFinished, BufferIncomplete
} KBUGCHECK_BUFFER_DUMP_STATE;
typedef struct _KBUGCHECK_CALLBACK_RECORD {
    LIST_ENTRY Entry;
    PKBUGCHECK_CALLBACK_ROUTINE CallbackRoutine;
    PVOID Buffer;
    ULONG Length;
    PUCHAR Component;
    ULONG_PTR Checksum;
    UCHAR State;                        /* KBUGCHECK_BUFFER_DUMP_STATE */
} KBUGCHECK_CALLBACK_RECORD, *PKBUGCHECK_CALLBACK_RECORD;
#define KeInitializeCallbackRecord(CallbackRecord) \
    ((CallbackRecord)->State = BufferEmpty)
BOOLEAN KeRegisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord,
                                   PKBUGCHECK_CALLBACK_ROUTINE CallbackRoutine, PVOID Buffer,
                                   ULONG Length, PUCHAR Component);
BOOLEAN KeDeregisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord);

/* ---- IRQL and spin locks ------------------------------------------------ */

/*
 * x64 NT keeps the IRQL in CR8 (the local APIC task priority): an interrupt
 * whose vector >> 4 is not above CR8 is held off. Raising to a lower level or
 * lowering to a higher one is a bug check, as in NT's checked build and
 * under Driver Verifier (retail Windows does not check): Mica always checks
 * the IRQL rules the way those do.
 */
#define PASSIVE_LEVEL  0
#define LOW_LEVEL      0
#define APC_LEVEL      1
#define DISPATCH_LEVEL 2
#define SYNCH_LEVEL    12               /* x64: the dispatcher's level in NT */
#define CLOCK_LEVEL    13
#define IPI_LEVEL      14
#define HIGH_LEVEL     15

KIRQL KeGetCurrentIrql(VOID);
VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql);
KIRQL KfRaiseIrql(KIRQL NewIrql);
VOID KeLowerIrql(KIRQL NewIrql);
#define KfLowerIrql KeLowerIrql
KIRQL KeRaiseIrqlToDpcLevel(VOID);
/* Raise to SYNCH_LEVEL; return the old IRQL. IRQL <= SYNCH_LEVEL. */
KIRQL KeRaiseIrqlToSynchLevel(VOID);

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
/* ---- Processors ------------------------------------------------------------ */

/* One processor group of at most a KAFFINITY's width, as NT on x64 without groups. */
#define MAXIMUM_PROCESSORS 64
#define AFFINITY_MASK(n) ((KAFFINITY)1 << (n))

/* NT's RtlNumberOfSetBitsUlongPtr: how many processors a KAFFINITY names.
 * (Bit arithmetic: qemu64 has no POPCNT instruction.) */
static inline ULONG RtlNumberOfSetBitsUlongPtr(ULONG_PTR Target)
{
    ULONG n = 0;

    for (; Target != 0; Target &= Target - 1)
        n++;
    return n;
}

/* The processor this code runs on, 0 .. KeNumberProcessors - 1. Any IRQL; a
 * thread below DISPATCH_LEVEL may move right after it asks. */
ULONG KeGetCurrentProcessorNumber(VOID);
/* How many processors run Mica (NT's exported variable; set before phase 1). */
extern volatile CCHAR KeNumberProcessors;
/* The processors running Mica, one bit each; fills *ActiveProcessors if not NULL. */
ULONG KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors);
KAFFINITY KeQueryActiveProcessors(VOID);
/* GroupNumber ALL_PROCESSOR_GROUPS (0xFFFF) or 0: the count; another group: 0. */
#define ALL_PROCESSOR_GROUPS 0xFFFF
ULONG KeQueryActiveProcessorCountEx(USHORT GroupNumber);

/* A processor as a group and a number in it; Mica has one group (0). */
typedef struct _PROCESSOR_NUMBER {
    USHORT Group;
    UCHAR Number;
    UCHAR Reserved;
} PROCESSOR_NUMBER, *PPROCESSOR_NUMBER;
/* The system-wide processor index; fills *ProcNumber if not NULL. Any IRQL. */
ULONG KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber);

/* The WDK's spin-wait hint (the PAUSE instruction), not a thread yield:
 * see ZwYieldExecution for that. */
static inline VOID YieldProcessor(VOID) { __asm__ __volatile__("pause" ::: "memory"); }
#define KeYieldProcessor YieldProcessor

VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql);
VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);
/* Raise to SYNCH_LEVEL and take the lock; release with KeReleaseSpinLock.
 * IRQL <= SYNCH_LEVEL. */
KIRQL KeAcquireSpinLockRaiseToSynch(PKSPIN_LOCK SpinLock);

/*
 * In-stack queued spin locks (MCS locks): each acquirer spins on its own
 * KLOCK_QUEUE_HANDLE, on its stack, and the releaser hands the lock to the
 * next in line: first come, first served, with no cache line bounced
 * between waiting processors. The KSPIN_LOCK holds the queue's tail; a lock
 * used this way must not also be used with KeAcquireSpinLock.
 * KeAcquireInStackQueuedSpinLock: IRQL <= DISPATCH_LEVEL (raises to it);
 * ...AtDpcLevel / ...FromDpcLevel: IRQL >= DISPATCH_LEVEL.
 */
typedef struct _KSPIN_LOCK_QUEUE {
    struct _KSPIN_LOCK_QUEUE *volatile Next;
    PKSPIN_LOCK volatile Lock;          /* low bits: LOCK_QUEUE_WAIT, LOCK_QUEUE_OWNER */
} KSPIN_LOCK_QUEUE, *PKSPIN_LOCK_QUEUE;

typedef struct _KLOCK_QUEUE_HANDLE {
    KSPIN_LOCK_QUEUE LockQueue;
    KIRQL OldIrql;
} KLOCK_QUEUE_HANDLE, *PKLOCK_QUEUE_HANDLE;

VOID KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle);
VOID KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle);
VOID KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                              PKLOCK_QUEUE_HANDLE LockHandle);
VOID KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle);

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
/* Return once every DPC queued before the call has run (a driver calls it
 * before unloading or freeing a KDPC). PASSIVE_LEVEL. */
VOID KeFlushQueuedDpcs(VOID);
/* Queue the DPC on processor Number's queue instead of the inserting one's
 * (default: the processor that inserts it). Not while it is queued. Any IRQL. */
VOID KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number);
/* The same with a group-and-number pair: STATUS_INVALID_PARAMETER for a
 * group other than 0 or a processor that does not run Mica. */
NTSTATUS KeSetTargetProcessorDpcEx(PKDPC Dpc, PPROCESSOR_NUMBER ProcNumber);

/* ---- Inter-processor interrupts ----------------------------------------------- */

typedef ULONG_PTR KIPI_BROADCAST_WORKER(ULONG_PTR Argument);
typedef KIPI_BROADCAST_WORKER *PKIPI_BROADCAST_WORKER;
/* Run BroadcastFunction(Context) on every processor at IPI_LEVEL, all of
 * them at once (each waits until all have arrived); returns the value the
 * calling processor's run returned. IRQL <= DISPATCH_LEVEL. */
ULONG_PTR KeIpiGenericCall(PKIPI_BROADCAST_WORKER BroadcastFunction, ULONG_PTR Context);
/* (Mica; NT's internal KiIpiSendPacket) Run Worker(Context) at IPI_LEVEL on
 * each processor in Targets other than the caller's and return once every
 * one has finished. The caller waits at its own IRQL (at most SYNCH_LEVEL)
 * with interrupts on, so two processors sending to each other both get
 * served. Worker must not take locks a sender may hold. */
VOID KiIpiSendPacket(KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker, ULONG_PTR Context);
/* Flush the TLB (all non-global, or with Invalid... NT: Invalid = TRUE)
 * on this processor, and on all processors if AllProcessors. IRQL <= SYNCH_LEVEL. */
VOID KeFlushEntireTb(BOOLEAN Invalid, BOOLEAN AllProcessors);
/* Write back and invalidate every processor's caches (wbinvd on each):
 * after a cache-type change. IRQL <= DISPATCH_LEVEL. Returns TRUE. */
BOOLEAN KeInvalidateAllCaches(VOID);

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

/*
 * Priority increments (wdm.h): what a routine that satisfies a wait passes
 * as Increment. The woken thread's priority becomes its base priority plus
 * the increment (at most 15; real-time threads, 16 and up, are never
 * boosted), and the boost decays by one level per quantum the thread uses
 * up, back to its base.
 */
#define IO_NO_INCREMENT       0
#define EVENT_INCREMENT       1
#define MUTANT_INCREMENT      1
#define SEMAPHORE_INCREMENT   1
#define IO_DISK_INCREMENT     1
#define IO_CD_ROM_INCREMENT   1
#define IO_VIDEO_INCREMENT    1
#define IO_PARALLEL_INCREMENT 1
#define IO_NETWORK_INCREMENT  2
#define IO_SERIAL_INCREMENT   2
#define IO_KEYBOARD_INCREMENT 6
#define IO_MOUSE_INCREMENT    6
#define IO_SOUND_INCREMENT    8

typedef enum _KWAIT_REASON { Executive = 0, FreePage, PageIn, PoolAllocation, DelayExecution,
                             Suspended, UserRequest, WrExecutive } KWAIT_REASON;
typedef enum _WAIT_TYPE { WaitAll, WaitAny } WAIT_TYPE;
typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef enum _TIMER_TYPE { NotificationTimer, SynchronizationTimer } TIMER_TYPE;

/*
 * Every object a thread can wait on starts with this header, laid out as
 * x64 NT's (24 bytes). The first four bytes are read through the view of
 * the object's kind: Type and Size (the object's size in ULONGs, set by
 * its initializer) for events and semaphores; TimerType, Size and the
 * Absolute/Inserted bits for timers; MutantType and MutantSize for
 * mutants (NT's mutant view moves the size to byte 1); ThreadType for
 * threads.
 * SignalState > 0 means signalled (a semaphore's count; a mutant's
 * 1 - recursion depth). WaitListHead holds the waiters' KWAIT_BLOCKs.
 */
typedef struct _DISPATCHER_HEADER {
    union {
        volatile LONG Lock;             /* the four bytes as one word */
        LONG LockNV;
        struct {
            UCHAR Type;                 /* KOBJECTS: EventNotificationObject ... */
            UCHAR Signalling;
            UCHAR Size;                 /* sizeof(object) / sizeof(ULONG) */
            UCHAR Reserved1;
        };
        struct {
            UCHAR TimerType;
            union {
                UCHAR TimerControlFlags;
                struct {
                    UCHAR Absolute : 1;         /* due time was system time */
                    UCHAR Wake : 1;
                    UCHAR EncodedTolerableDelay : 6;
                };
            };
            UCHAR Hand;                 /* NT's timer-table slot; Mica: Size */
            union {
                UCHAR TimerMiscFlags;
                struct {
                    UCHAR Index : 6;
                    UCHAR Inserted : 1;         /* on the timer list */
                    volatile UCHAR Expired : 1;
                };
            };
        };
        struct {
            UCHAR ThreadType;
            UCHAR ThreadReserved;
            UCHAR ThreadControlFlags;
            UCHAR DebugActive;
        };
        struct {
            UCHAR MutantType;
            UCHAR MutantSize;           /* sizeof(KMUTANT) / sizeof(ULONG) */
            BOOLEAN DpcActive;
            UCHAR MutantReserved;
        };
    };
    LONG SignalState;
    LIST_ENTRY WaitListHead;            /* KWAIT_BLOCKs of the waiting threads */
} DISPATCHER_HEADER, *PDISPATCHER_HEADER;

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
    ULONG Processor;
    ULONG Period;                       /* ms; 0 = one-shot */
} KTIMER, *PKTIMER, *PRKTIMER;

/* A mutex (NT: a mutant). Held, it is on its owner's list (MutantListEntry)
 * and has disabled the owner's normal kernel APCs (ApcDisable = 1). */
typedef struct _KMUTANT {
    DISPATCHER_HEADER Header;           /* SignalState 1 = free, <= 0 = owned */
    LIST_ENTRY MutantListEntry;
    struct _KTHREAD *OwnerThread;
    union {
        UCHAR MutantFlags;
        struct {
            UCHAR Abandoned : 1;
            UCHAR Spare1 : 7;
        };
    };
    UCHAR ApcDisable;
} KMUTANT, *PKMUTANT, *PRKMUTANT, KMUTEX, *PKMUTEX, *PRKMUTEX;

typedef struct _KSEMAPHORE {
    DISPATCHER_HEADER Header;           /* SignalState = the count */
    LONG Limit;
} KSEMAPHORE, *PKSEMAPHORE, *PRKSEMAPHORE;

typedef struct _FAST_MUTEX {
    volatile LONG Count;                /* 1 = free */
    struct _KTHREAD *Owner;
    ULONG Contention;
    KEVENT Event;
    ULONG OldIrql;
} FAST_MUTEX, *PFAST_MUTEX;

/* x64 NT's sizes and offsets, so a WDK-shaped driver and a debugger see the same bytes. */
_Static_assert(sizeof(DISPATCHER_HEADER) == 24, "DISPATCHER_HEADER is 24 bytes on x64");
_Static_assert(__builtin_offsetof(DISPATCHER_HEADER, SignalState) == 4, "SignalState at +4");
_Static_assert(__builtin_offsetof(DISPATCHER_HEADER, WaitListHead) == 8, "WaitListHead at +8");
_Static_assert(sizeof(KEVENT) == 24, "KEVENT is 6 ULONGs");
_Static_assert(sizeof(KTIMER) == 64, "KTIMER is 16 ULONGs");
_Static_assert(__builtin_offsetof(KTIMER, DueTime) == 0x18, "KTIMER.DueTime");
_Static_assert(__builtin_offsetof(KTIMER, TimerListEntry) == 0x20, "KTIMER.TimerListEntry");
_Static_assert(__builtin_offsetof(KTIMER, Dpc) == 0x30, "KTIMER.Dpc");
_Static_assert(__builtin_offsetof(KTIMER, Period) == 0x3C, "KTIMER.Period");
_Static_assert(sizeof(KMUTANT) == 56, "KMUTANT is 14 ULONGs");
_Static_assert(__builtin_offsetof(KMUTANT, MutantListEntry) == 0x18, "KMUTANT.MutantListEntry");
_Static_assert(__builtin_offsetof(KMUTANT, OwnerThread) == 0x28, "KMUTANT.OwnerThread");
_Static_assert(__builtin_offsetof(KMUTANT, MutantFlags) == 0x30, "KMUTANT.MutantFlags");
_Static_assert(__builtin_offsetof(KMUTANT, ApcDisable) == 0x31, "KMUTANT.ApcDisable");
_Static_assert(sizeof(KSEMAPHORE) == 32, "KSEMAPHORE is 8 ULONGs");
_Static_assert(__builtin_offsetof(KSEMAPHORE, Limit) == 0x18, "KSEMAPHORE.Limit");
_Static_assert(sizeof(FAST_MUTEX) == 56, "FAST_MUTEX is 0x38 bytes");
_Static_assert(__builtin_offsetof(FAST_MUTEX, Event) == 0x18, "FAST_MUTEX.Event");

/* Events. KeSetEvent/KePulseEvent/KeResetEvent: IRQL <= DISPATCH_LEVEL. A
 * pulse satisfies the waits it can and leaves the event not signalled. */
VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
LONG KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
LONG KeResetEvent(PRKEVENT Event);
VOID KeClearEvent(PRKEVENT Event);
LONG KeReadStateEvent(PRKEVENT Event);

VOID KeInitializeTimer(PKTIMER Timer);
VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type);
/*
 * DueTime < 0: relative, in 100 ns units; > 0: absolute system time (100 ns
 * units since 1 January 1601, KeQuerySystemTime's clock), as in NT. The
 * timer's DPC gets the system time at expiry: SystemArgument1 = its low
 * 32 bits, SystemArgument2 = its high 32 bits. IRQL <= DISPATCH_LEVEL.
 */
BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc);
BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc);
BOOLEAN KeCancelTimer(PKTIMER Timer);
BOOLEAN KeReadStateTimer(PKTIMER Timer);

/*
 * Mutexes: recursive, owned by a thread. Acquiring one (by a wait) enters a
 * critical region; the 2^31st recursive acquisition raises
 * STATUS_MUTANT_LIMIT_EXCEEDED, and KeReleaseMutex by a thread that does
 * not own the mutex raises STATUS_MUTANT_NOT_OWNED (see ExRaiseStatus).
 */
VOID KeInitializeMutex(PRKMUTEX Mutex, ULONG Level);
LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait);
LONG KeReadStateMutex(PRKMUTEX Mutex);

/*
 * Semaphores: Count and Limit must be >= 0 and Limit > 0. KeReleaseSemaphore
 * adds Adjustment (> 0) to the count; past Limit it raises
 * STATUS_SEMAPHORE_LIMIT_EXCEEDED and leaves the count alone.
 */
VOID KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit);
LONG KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment,
                        BOOLEAN Wait);
LONG KeReadStateSemaphore(PRKSEMAPHORE Semaphore);

/* Fast mutexes: ExAcquireFastMutex raises to APC_LEVEL (caller <= APC_LEVEL);
 * the Unsafe pair does not touch the IRQL: the caller is at APC_LEVEL or in
 * a critical region already, and releases with ExReleaseFastMutexUnsafe. */
VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex);
VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex);
VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex);
BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex);
VOID ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex);
VOID ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex);

/*
 * IRQL < DISPATCH_LEVEL when Timeout is NULL or nonzero (a bug check
 * otherwise); a positive Timeout is absolute system time. From a DPC a
 * wait that could block is ATTEMPTED_SWITCH_FROM_DPC (0xB8).
 */
NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                               BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                  KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                  BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                  PKWAIT_BLOCK WaitBlockArray);
#define KeWaitForMutexObject KeWaitForSingleObject
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                PLARGE_INTEGER Interval);

/*
 * Critical and guarded regions: counts in the thread (KernelApcDisable,
 * SpecialApcDisable) that disable normal kernel APCs (critical) or all
 * kernel APCs (guarded). Mica has no APCs yet; the counts are kept as NT
 * keeps them, and a thread that ends with either count nonzero is
 * KERNEL_APC_PENDING_DURING_EXIT (0x20). Enter/Leave: IRQL <= APC_LEVEL;
 * KeAreApcsDisabled: IRQL <= DISPATCH_LEVEL.
 */
VOID KeEnterCriticalRegion(VOID);
VOID KeLeaveCriticalRegion(VOID);
VOID KeEnterGuardedRegion(VOID);
VOID KeLeaveGuardedRegion(VOID);
BOOLEAN KeAreApcsDisabled(VOID);
BOOLEAN KeAreAllApcsDisabled(VOID);

/*
 * Raising an exception (kernel/ke/except.c). The innermost __try of this
 * thread whose filter accepts it gets it (see "Mica's stand-in for SEH"
 * below); with none, a raise ends where NT's ends when nobody handles it,
 * in KMODE_EXCEPTION_NOT_HANDLED (0x1E) with the status as parameter 1 and
 * the raising address as parameter 2.
 */
__attribute__((noreturn)) VOID ExRaiseStatus(NTSTATUS Status);
__attribute__((noreturn)) VOID ExRaiseAccessViolation(VOID);
__attribute__((noreturn)) VOID ExRaiseDatatypeMisalignment(VOID);

/*
 * ---- Mica's stand-in for structured exception handling -----------------------
 *
 * NT drivers call MmProbeAndLockPages, ProbeForRead and ProbeForWrite inside
 * __try/__except, because those report a bad buffer by raising an exception.
 * C has no __try, so Mica gives kernel code a pair of macros with NT's
 * names and shape, built on a setjmp-style context save (exceptctx.asm):
 *
 *     __try {
 *         MmProbeAndLockPages(Mdl, KernelMode, IoWriteAccess);
 *     } __except (EXCEPTION_EXECUTE_HANDLER) {
 *         Status = GetExceptionCode();
 *     }
 *
 * __try pushes a KI_EXCEPTION_FRAME (on the stack, on the current thread's
 * list) and saves the callee-saved registers, the stack pointer and the
 * resume address in it. A raise (ExRaiseStatus, or a kernel-mode page
 * fault on a user-space address, as NT's) takes the innermost frame off the
 * list and jumps back into it; the __except filter is evaluated there:
 *   EXCEPTION_EXECUTE_HANDLER     the handler block runs;
 *   EXCEPTION_CONTINUE_SEARCH     the exception goes on to the next frame out;
 *   EXCEPTION_CONTINUE_EXECUTION  a raised status cannot be continued: the
 *                                 next frame out gets STATUS_NONCONTINUABLE_EXCEPTION.
 * The differences from real SEH a caller must know:
 *   - the filter runs after the stack is unwound to the __try (NT runs it
 *     first); GetExceptionCode() is valid in the filter and the handler;
 *   - leave a __try block by falling off its end, __leave, break or
 *     continue - never return or goto out of it (the frame would stay on
 *     the list pointing at a dead stack frame);
 *   - locals changed inside the __try and read in the __except must be
 *     volatile (as with setjmp);
 *   - there is no __finally, and no unwinding of IRQL or locks: release
 *     what you took before anything can raise (Mm's routines raise with no
 *     lock held, at the IRQL they were called at).
 * A kernel-mode address that is not valid still stops the machine (0x50),
 * as in NT, where __try does not protect kernel addresses either.
 */
#define EXCEPTION_EXECUTE_HANDLER     1
#define EXCEPTION_CONTINUE_SEARCH     0
#define EXCEPTION_CONTINUE_EXECUTION  (-1)
#ifndef STATUS_NONCONTINUABLE_EXCEPTION
#define STATUS_NONCONTINUABLE_EXCEPTION ((NTSTATUS)0xC0000025L)
#endif

typedef struct _KI_EXCEPTION_FRAME {
    ULONG64 Context[8];                 /* rbx rbp r12 r13 r14 r15 rsp rip (exceptctx.asm) */
    struct _KI_EXCEPTION_FRAME *Next;   /* the enclosing __try of this thread */
    PVOID TrapFrame;                    /* the thread's trap frame at __try (trap.c) */
    NTSTATUS ExceptionCode;
    PVOID ExceptionAddress;
    BOOLEAN InTry;                      /* the __try's loops run once */
} KI_EXCEPTION_FRAME, *PKI_EXCEPTION_FRAME;

/* Save the context: 0 now, 1 when a raise comes back to the frame. */
__attribute__((returns_twice)) ULONG64 KiSaveExceptionContext(PKI_EXCEPTION_FRAME Frame);
VOID KiPushExceptionFrame(PKI_EXCEPTION_FRAME Frame);
VOID KiLeaveExceptionFrame(PKI_EXCEPTION_FRAME Frame);
/* After a raise came back: TRUE to run the handler; otherwise the
 * exception goes on outward and this does not return. */
BOOLEAN KiFilterException(PKI_EXCEPTION_FRAME Frame, LONG FilterResult);
/* Does this thread have a __try active? */
BOOLEAN KiExceptionHandlerActive(VOID);
/* Deliver Status to the innermost __try (or bug check 0x1E). */
__attribute__((noreturn)) VOID KiRaiseException(NTSTATUS Status, PVOID ExceptionAddress);

#define __try                                                                        \
    for (KI_EXCEPTION_FRAME ki_xf_ = {.InTry = TRUE}; ki_xf_.InTry;                   \
         KiLeaveExceptionFrame(&ki_xf_), ki_xf_.InTry = FALSE)                        \
        if (KiPushExceptionFrame(&ki_xf_), KiSaveExceptionContext(&ki_xf_) == 0)     \
            for (; ki_xf_.InTry; ki_xf_.InTry = FALSE)
#define __except(Filter) else if (KiFilterException(&ki_xf_, (LONG)(Filter)))
#define __leave continue
#define GetExceptionCode() (ki_xf_.ExceptionCode)

/* ---- Threads -------------------------------------------------------------------- */

typedef VOID KSTART_ROUTINE(PVOID StartContext);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;

/* Mica has no object manager: the handle is the thread object itself, with
 * a reference the caller drops with ZwClose (or ObDereferenceObject).
 * IRQL <= APC_LEVEL: Learn says PASSIVE_LEVEL, but Windows accepts
 * APC_LEVEL (drivers call it holding a fast mutex) and Mica follows Windows. */
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
/* Sets the thread's base and current priority; returns the old current one. */
KPRIORITY KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority);
KPRIORITY KeQueryPriorityThread(PKTHREAD Thread);
/*
 * NtYieldExecution: give the processor to any ready thread (of any
 * priority), and go to the back of the ready queue. STATUS_SUCCESS if
 * another thread ran, STATUS_NO_YIELD_PERFORMED if none was ready.
 * IRQL <= APC_LEVEL.
 */
NTSTATUS ZwYieldExecution(VOID);
/*
 * Affinity: the processors a thread may run on. KeSetSystemAffinityThread
 * restricts the current thread (moving it at once if it runs elsewhere);
 * KeRevertToUserAffinityThread gives back the thread's own affinity. The
 * Ex forms return the previous affinity and restore a given one (0: the
 * thread's own). Processors not running Mica are dropped from the mask; an
 * empty result is refused (nothing changes). IRQL <= APC_LEVEL.
 */
VOID KeSetSystemAffinityThread(KAFFINITY Affinity);
KAFFINITY KeSetSystemAffinityThreadEx(KAFFINITY Affinity);
VOID KeRevertToUserAffinityThread(VOID);
VOID KeRevertToUserAffinityThreadEx(KAFFINITY Affinity);
/* (NT's internal KeSetAffinityThread) Set a thread's own affinity, e.g. a
 * PsCreateSystemThread thread's before or while it runs; returns the old
 * one, or 0 (nothing changed) for a mask with no active processor.
 * IRQL <= DISPATCH_LEVEL. */
KAFFINITY KeSetAffinityThread(PKTHREAD Thread, KAFFINITY Affinity);

/* ---- Time ------------------------------------------------------------------------ */

VOID KeStallExecutionProcessor(ULONG MicroSeconds);
LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency);
ULONGLONG KeQueryInterruptTime(VOID);       /* 100 ns units since boot */
VOID KeQueryTickCount(PLARGE_INTEGER TickCount);
ULONG KeQueryTimeIncrement(VOID);           /* 100 ns units per clock tick */

/*
 * System time: 100 ns units since 1 January 1601 (UTC as the RTC keeps
 * it), read from the CMOS real-time clock at boot and kept by the clock.
 * KeQuerySystemTime has clock-tick resolution, as NT's; the Precise one
 * interpolates with the TSC. Any IRQL.
 */
VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime);
VOID KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime);

/* A calendar date and time (wdm.h). Weekday: 0 = Sunday. */
typedef struct _TIME_FIELDS {
    SHORT Year;                 /* 1601 ... */
    SHORT Month;                /* 1 ... 12 */
    SHORT Day;                  /* 1 ... 31 */
    SHORT Hour;                 /* 0 ... 23 */
    SHORT Minute;               /* 0 ... 59 */
    SHORT Second;               /* 0 ... 59 */
    SHORT Milliseconds;         /* 0 ... 999 */
    SHORT Weekday;              /* 0 ... 6 */
} TIME_FIELDS, *PTIME_FIELDS;

/* FALSE if a field is out of range (Weekday is ignored). Any IRQL. */
BOOLEAN RtlTimeFieldsToTime(PTIME_FIELDS TimeFields, PLARGE_INTEGER Time);
VOID RtlTimeToTimeFields(PLARGE_INTEGER Time, PTIME_FIELDS TimeFields);


/* ---- For Mm only: Ke's parts of the switch to Mm's page tables ------------ */

/* Around Mm's switch to its own page tables: no screen output while the
 * screen is unmapped; then map it with MmMapIoSpace and go on. */
VOID KiConsoleSuspendScreen(VOID);
VOID KiConsoleResumeScreen(VOID);

/* ---- IRQL rules ------------------------------------------------------------------ */

/*
 * KiIrqlViolation (irql.c) is the one way Mica reports a broken IRQL rule,
 * as NT's checked build and Driver Verifier do (retail NT checks less):
 *   IRQL_NOT_LESS_OR_EQUAL (0xA)     the IRQL was above what the routine allows;
 *   IRQL_NOT_GREATER_OR_EQUAL (0x9)  it was below what the routine requires.
 * The four parameters are the same for both:
 *   1  the routine whose rule was broken (its address);
 *   2  the IRQL that broke it: the current IRQL, or the IRQL asked for by
 *      KeRaiseIrql/KfRaiseIrql (below the current one), KeLowerIrql (above
 *      it) or KeAcquireSpinLock (DISPATCH_LEVEL, below the current one);
 *   3  the limit it broke: the highest IRQL allowed (0xA) or the lowest (0x9);
 *   4  the caller: the return address into the code that broke the rule.
 * So "P2 is not <= P3" (0xA) and "P2 is not >= P3" (0x9) read literally.
 * Learn documents 0xA's parameters for a memory access at too high an IRQL
 * (address, IRQL, access, instruction); page faults keep that layout
 * (mm/fault.c), since they are accesses, not calls.
 */
__attribute__((noreturn, noinline, cold)) VOID KiIrqlViolation(ULONG BugCheckCode, PVOID Routine,
                                                               KIRQL Irql, KIRQL Limit,
                                                               PVOID Caller);

/* In a public routine: its Learn page's IRQL rule, the caller's return address reported. */
#define KI_CHECK_IRQL_AT_MOST(Max, Routine)                                              \
    do {                                                                                 \
        KIRQL ki_irql_ = KeGetCurrentIrql();                                             \
        if (ki_irql_ > (Max))                                                            \
            KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, (PVOID)(Routine), ki_irql_, (Max),    \
                            __builtin_return_address(0));                                \
    } while (0)
#define KI_CHECK_IRQL_AT_LEAST(Min, Routine)                                             \
    do {                                                                                 \
        KIRQL ki_irql_ = KeGetCurrentIrql();                                             \
        if (ki_irql_ < (Min))                                                            \
            KiIrqlViolation(IRQL_NOT_GREATER_OR_EQUAL, (PVOID)(Routine), ki_irql_, (Min), \
                            __builtin_return_address(0));                                \
    } while (0)

/*
 * IRQL_UNEXPECTED_VALUE (0xC8): code that must hand the processor back at
 * the IRQL it got it at did not. Parameter 1 is Learn's bit computation
 * (current IRQL << 16) | (expected IRQL << 8) | UniqueValue. Learn lists
 * UniqueValue 3 for an ISR (P2 the ServiceRoutine, P3 the KINTERRUPT);
 * it lists none for a DPC, so Mica's own value 4 is used there (P2 the
 * DeferredRoutine, P3 the KDPC).
 */
#define KI_IRQL_UNEXPECTED(Current, Expected, UniqueValue) \
    (((ULONG_PTR)(Current) << 16) | ((ULONG_PTR)(Expected) << 8) | (UniqueValue))
#define KI_IRQL_UNEXPECTED_ISR 3
#define KI_IRQL_UNEXPECTED_DPC 4        /* Mica's own UniqueValue */

/* ---- Homework labs (kernel/ke/lab.c, Mica's own) ---------------------------- */

/*
 * A stripped lab's stub (tests/labs/) calls LAB_TODO(lab) where the
 * student's code goes. KiLabTodo prints "LAB lab: not implemented
 * (file:line)" once per call site and counts every call in
 * KiLabTodoCount; the test runners fail a test during which the count grew.
 * Any IRQL, any processor, never blocks and never bug-checks.
 */
VOID KiLabTodo(PCSTR Lab, PCSTR File, ULONG Line);
extern volatile LONG KiLabTodoCount;        /* calls so far of the labs being graded */
extern volatile LONG KiLabTodoSitesPrinted; /* distinct call sites reported */
#define LAB_TODO(lab) KiLabTodo(#lab, __FILE__, __LINE__)

#endif

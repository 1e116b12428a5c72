/*
 * ke_internal.h - declarations shared by the files of kernel/ only.
 *
 * The console back ends, descriptor tables, the trap frame, threads, the
 * KPRCB and the start-up routines of each part. Other folders (mm/, the
 * drivers to come) use only ke.h: the kernel's intrinsics, lists and IRQL
 * rule checks are there.
 */
#ifndef MICA_KE_INTERNAL_H
#define MICA_KE_INTERNAL_H

#include "ke.h"

/* Port I/O, control registers, MSRs and the interrupt flag are in ke.h. */

/* ---- Console --------------------------------------------------------------- */

/* Colours for the screen console (VGA attribute nibbles). */
#define KI_COLOR_NORMAL   0x07    /* light grey on black */
#define KI_COLOR_BUGCHECK 0x1F    /* white on blue */

VOID KiSerialInitialize(VOID);
VOID KiSerialWrite(PCSTR Text, SIZE_T Length);
/* A received byte, if one is waiting (polled; any IRQL): the kd> shell's input. */
BOOLEAN KiSerialReadByte(PUCHAR Byte);
VOID KiVgaInitialize(PVOID TextBuffer, ULONG Width, ULONG Height);
VOID KiVgaWrite(PCSTR Text, SIZE_T Length, UCHAR Attribute);
VOID KiVgaClear(UCHAR Attribute);
VOID KiFbInitialize(const LOADER_DISPLAY *Display, PVOID Base);
VOID KiFbWrite(PCSTR Text, SIZE_T Length, UCHAR Attribute);
VOID KiFbClear(UCHAR Attribute);

VOID KiConsoleInitialize(VOID);
VOID KiConsoleWrite(PCSTR Text, SIZE_T Length);
/* After a bug check froze the other processors: write without the console lock. */
VOID KiConsoleBreakLock(VOID);
VOID KiConsoleRestoreLock(VOID);
/* Switch the screen to the blue-screen colours and clear it. */
VOID KiConsoleEnterBugCheck(VOID);
/* KiConsoleSuspendScreen/ResumeScreen (for Mm's page-table switch): ke.h. */
VOID KiVgaRebase(PVOID TextBuffer);
VOID KiFbRebase(PVOID Base);
ULONG KiConsolePrintf(PCSTR Format, ...) __attribute__((format(printf, 1, 2)));

/* ---- Multiboot2 and the command line ------------------------------------- */

NTSTATUS KiParseMultiboot(const UCHAR *Info, ULONG64 InfoPhysical,
                          PLOADER_PARAMETER_BLOCK Block);
VOID KiPrintMemoryMap(const LOADER_PARAMETER_BLOCK *Block);
VOID KiSetCommandLine(PCSTR CommandLine);
/* Hardware-free core of KeQueryBootOption (host-tested). */
BOOLEAN KiFindOption(PCSTR CommandLine, PCSTR Key, PCHAR Value, SIZE_T ValueSize);
BOOLEAN KiParseNumber(PCSTR Text, PULONG64 Value);

/* ---- Descriptor tables and traps ----------------------------------------- */

/* NT x64 selectors (KGDT64_*), so a student sees the same numbers in WinDbg. */
#define KGDT64_NULL      0x00
#define KGDT64_R0_CODE   0x10
#define KGDT64_R0_DATA   0x18
#define KGDT64_R3_CMCODE 0x20
#define KGDT64_R3_DATA   0x28
#define KGDT64_R3_CODE   0x30
#define KGDT64_SYS_TSS   0x40

/* Interrupt stack table slots (TSS.IST1..7), as NT uses them. */
#define KI_IST_DOUBLE_FAULT 1
#define KI_IST_NMI          2
#define KI_IST_MACHINE_CHECK 3
#define KI_IST_STACK_SIZE   (16 * 1024)
#define KI_IST_COUNT        4           /* slots 1..3 used; [0] unused */

typedef struct __attribute__((packed)) _KTSS64 {
    ULONG Reserved0;
    ULONG64 Rsp0, Rsp1, Rsp2;
    ULONG64 Ist[8];             /* Ist[0] is the reserved qword at 0x1C: IST1 is at 0x24 */
    ULONG64 Reserved2;
    USHORT Reserved3;
    USHORT IoMapBase;
} KTSS64;

_Static_assert(sizeof(KTSS64) == 0x68, "the 64-bit TSS is 104 bytes (SDM vol. 3A, 8.7)");
_Static_assert(__builtin_offsetof(KTSS64, Ist[1]) == 0x24, "IST1 lives at offset 0x24");

#define KGDT_ENTRIES 10                 /* 0x00..0x48: the TSS takes two slots */

/* One processor's descriptor tables (gdt.c). */
typedef struct _KI_PROCESSOR_TABLES {
    ULONG64 Gdt[KGDT_ENTRIES] __attribute__((aligned(16)));
    KTSS64 Tss __attribute__((aligned(16)));
} KI_PROCESSOR_TABLES, *PKI_PROCESSOR_TABLES;

/* Fill Tables and load them on this processor (GS base zeroed: set it after). */
VOID KiInitializeProcessorTables(PKI_PROCESSOR_TABLES Tables, PUCHAR IstStacks[KI_IST_COUNT],
                                 ULONG64 Rsp0);
extern PUCHAR KiBootIstStacks[KI_IST_COUNT];

/* Register state saved by trapstub.asm, lowest address first. */
typedef struct _KTRAP_FRAME {
    ULONG64 R15, R14, R13, R12, R11, R10, R9, R8;
    ULONG64 Rbp, Rdi, Rsi, Rdx, Rcx, Rbx, Rax;
    ULONG64 Vector;
    ULONG64 ErrorCode;          /* 0 for vectors without one */
    ULONG64 Rip, SegCs, EFlags, Rsp, SegSs;     /* pushed by the CPU */
} KTRAP_FRAME, *PKTRAP_FRAME;

VOID KiInitializeGdt(VOID);
/* The exception being handled on Thread (the innermost), or NULL: the frame
 * a bug check on that thread reports. NULL Thread: before threads exist. */
PKTRAP_FRAME KiGetTrapFrame(struct _KTHREAD *Thread);
extern BOOLEAN KiMmInitialized;            /* page faults go to MmAccessFault */
VOID KiReportException(const KTRAP_FRAME *TrapFrame);
VOID KiInitializeIdt(VOID);
VOID KiLoadIdt(VOID);
VOID KiDispatchTrap(PKTRAP_FRAME TrapFrame);
/* Which IST stack, if any, a trap frame's RSP lies on (for reports). */
PCSTR KiDescribeStack(ULONG64 Rsp);

/* ---- Bug check, symbols, backtrace --------------------------------------- */

__attribute__((noreturn)) VOID KiBugCheckWithFrame(ULONG Code, ULONG_PTR P1, ULONG_PTR P2,
                                                   ULONG_PTR P3, ULONG_PTR P4,
                                                   PKTRAP_FRAME TrapFrame);
VOID KiPrintBacktrace(ULONG64 Rip, ULONG64 Rbp);
/* The kd> shell on COM1 (kernel/kd/kdshell.c), started once the kernel is ready. */
VOID KdStartShell(VOID);
/*
 * The break-in (kernel/kd/kdbreak.c). KdPollBreakIn, from processor 0's
 * clock interrupt, drains COM1 and says whether Ctrl-C came. KdEnterDebugger
 * runs the shell on this processor at HIGH_LEVEL, interrupts off, the others
 * frozen, polled I/O; TrapFrame, or else Rip/Rbp (0: the caller's own
 * context), and SavedIrql are what !irql, r, k and !analyze show. It returns after `g`, except
 * after a bug check (Reason KD_REASON_BUGCHECK), where `g` is refused.
 */
#define KD_REASON_BREAKIN  0
#define KD_REASON_BOOT     1            /* kd=break */
#define KD_REASON_BUGCHECK 2
BOOLEAN KdPollBreakIn(VOID);
VOID KdEnterDebugger(PKTRAP_FRAME TrapFrame, ULONG64 Rip, ULONG64 Rbp, KIRQL SavedIrql, ULONG Reason);
/* After a bug check: is a person there to use the shell (no test=/bench=, or kd=on)? */
BOOLEAN KdShellAfterBugCheck(VOID);
/* The kd> pager (kernel/kd/kdpage.c): vDbgPrintEx hands it what it
 * formatted. TRUE: written (or dropped after `q` at --More--) by the pager,
 * because this thread runs a kd> command with paging on; FALSE: the caller
 * writes it. */
BOOLEAN KdPagerWrite(PCSTR Text, SIZE_T Length);
VOID KiPrintRegisters(const KTRAP_FRAME *TrapFrame);

/* Linker-script symbols (linker.ld). */
extern char KiTextStart[], KiTextEnd[], KiRodataStart[], KiRodataEnd[];
extern char KiDataStart[], KiDataEnd[], KiSymbolsStart[], KiImageEnd[];
extern char KiBootStack[], KiBootStackTop[], KiBootStackGuard[];

/* The first C code: boot/entry.asm jumps here on the boot stack. */
__attribute__((noreturn)) VOID KiSystemStartup(ULONG64 BootInfoPhysical, ULONG Magic);

/* ---- Mica's own helpers (no NT export of these names) ------------------------ */

/* The NT name of a stop code ("IRQL_NOT_LESS_OR_EQUAL"), for the blue screen. */
PCSTR KiBugCheckCodeName(ULONG BugCheckCode);
/* A vector with no input line (MSI, self-IPI): the message's vector. */
ULONG HalpAllocateMessageVector(PKIRQL Irql);
/* A device's message vector, kept across disconnects until released. */
ULONG HalpReserveMessageVector(PKIRQL Irql);
BOOLEAN HalpReleaseMessageVector(ULONG Vector);
/* Send this processor an interrupt on Vector (tests and benchmarks). */
VOID HalpRequestSelfInterrupt(ULONG Vector);

/* ---- Hal ---------------------------------------------------------------------- */

VOID HalpCalibrateTimeStampCounter(VOID);
/* Leave QEMU through isa-debug-exit (port 0xF4): status (Code << 1) | 1. */
__attribute__((noreturn)) VOID HalpQemuExit(UCHAR Code);
/* Reset the machine (power.c): the kd> shell's .reboot. */
__attribute__((noreturn)) VOID HalpResetMachine(VOID);

/* The IRQL rule checks (KiIrqlViolation, KI_CHECK_IRQL_*) are in ke.h: Mm uses them too. */

/* ---- Lists ------------------------------------------------------------------------ */

/* InitializeListHead and the other LIST_ENTRY routines are public: ke.h. */

/* ---- Dispatcher object types (DISPATCHER_HEADER.Type) ---------------------------- */

#define EventNotificationObject    0
#define EventSynchronizationObject 1
#define MutantObject               2
#define SemaphoreObject            5
#define ThreadObject               6
#define TimerNotificationObject    8
#define TimerSynchronizationObject 9

/* ---- Threads ------------------------------------------------------------------------ */

typedef enum _KTHREAD_STATE {
    Initialized, Ready, Running, Standby, Terminated, Waiting
} KTHREAD_STATE;

#define KI_MAX_THREADS 256
#define KI_QUANTUM_TICKS 4              /* clock ticks a thread runs before round robin */

typedef struct _KTHREAD {
    DISPATCHER_HEADER Header;           /* signalled when the thread terminates */
    ULONG64 KernelStack;                /* saved RSP while not running */
    ULONG64 StackBase, StackLimit;      /* [StackLimit, StackBase) */
    PVOID StackAllocation;              /* guard page included; MmDeleteKernelStack */
    volatile UCHAR State;               /* KTHREAD_STATE */
    SCHAR Priority;                     /* current: BasePriority + what is left of a boost */
    UCHAR Quantum;
    UCHAR InUse;
    SCHAR BasePriority;
    LIST_ENTRY ReadyListEntry;          /* on a ready queue */
    LIST_ENTRY TerminatedListEntry;     /* waiting for its stack to be freed */
    volatile LONG ReferenceCount;
    NTSTATUS WaitStatus;
    ULONG WaitCount;
    WAIT_TYPE WaitType;
    PKWAIT_BLOCK WaitBlockList;
    KWAIT_BLOCK WaitBlock[THREAD_WAIT_OBJECTS];
    KTIMER WaitTimer;                   /* the timeout of the current wait */
    BOOLEAN WaitTimerActive;
    PKSTART_ROUTINE StartRoutine;
    PVOID StartContext;
    NTSTATUS ExitStatus;
    ULONG ThreadId;
    ULONG64 ContextSwitches;
    /* NT's APC-disable counts: 0 = enabled, each KeEnter...Region takes one off. */
    union {
        struct {
            SHORT KernelApcDisable;     /* critical regions and held mutexes */
            SHORT SpecialApcDisable;    /* guarded regions */
        };
        ULONG CombinedApcDisable;
    };
    LIST_ENTRY MutantListHead;          /* the mutexes this thread owns */
    PKTRAP_FRAME TrapFrame;             /* the exception being handled, innermost (trap.c) */
    KAFFINITY Affinity;                 /* where it may run now (sched.c) */
    KAFFINITY UserAffinity;             /* its own, restored by KeRevertToUserAffinityThread */
    BOOLEAN IdleThread;                 /* a processor's idle thread */
    BOOLEAN SystemAffinityActive;       /* KeSetSystemAffinityThread in force */
    ULONG NextProcessor;                /* where it runs or last ran */
    struct _KI_EXCEPTION_FRAME *ExceptionList;  /* innermost __try (except.c) */
} KTHREAD;

/* Every thread's KTHREAD (thread.c); InUse marks the live ones. */
extern KTHREAD KiThreads[KI_MAX_THREADS];

/* Copies the kd> shell prints (!timer, !ready, !dpcs): taken under the
 * owner's lock, printed after it is released. */
typedef struct _KI_TIMER_SNAPSHOT {
    PKTIMER Timer;
    ULONG64 DueTime;                    /* interrupt time, 100 ns units */
    PKDPC Dpc;
    PKDEFERRED_ROUTINE DeferredRoutine;
    ULONG Period;
} KI_TIMER_SNAPSHOT, *PKI_TIMER_SNAPSHOT;
ULONG KiSnapshotTimers(PKI_TIMER_SNAPSHOT Out, ULONG Max);
ULONG KiSnapshotReadyThreads(PKTHREAD *Out, ULONG Max);

/* ---- Interrupt objects ------------------------------------------------------------- */

typedef struct _KINTERRUPT {
    LIST_ENTRY InterruptListEntry;      /* the vector's chain (shared vectors) */
    PKSERVICE_ROUTINE ServiceRoutine;
    PVOID ServiceContext;
    KSPIN_LOCK SpinLock;                /* used when the caller gives none */
    PKSPIN_LOCK ActualLock;
    ULONG Vector;
    KIRQL Irql;
    KIRQL SynchronizeIrql;
    KINTERRUPT_MODE Mode;
    BOOLEAN ShareVector;
    BOOLEAN Connected;
    ULONG Gsi;                          /* IOAPIC input, or ~0 for a message vector */
    ULONG64 Count;
} KINTERRUPT;

/* ---- The processor control block, reached through GS ----------------------------- */

typedef struct _KI_IPI_PACKET {
    PKIPI_BROADCAST_WORKER Worker;
    ULONG_PTR Context;
    volatile KAFFINITY Pending;         /* targets that have not finished yet */
} KI_IPI_PACKET;

typedef struct _KPRCB {
    struct _KPRCB *Self;                /* gs:[0] */
    struct _KTHREAD *CurrentThread;     /* gs:[8] */
    struct _KTHREAD *NextThread;
    struct _KTHREAD *IdleThread;
    volatile ULONG DispatchRequest;     /* DPCs queued or a reschedule pending */
    ULONG Number;
    KSPIN_LOCK DpcLock;                 /* the DPC queue: other processors insert too */
    LIST_ENTRY DpcListHead;
    volatile ULONG DpcQueueDepth;
    BOOLEAN DpcRoutineActive;
    BOOLEAN QuantumEnd;
    ULONG64 InterruptCount;
    ULONG64 DpcCount;
    ULONG64 ContextSwitches;
    ULONG64 ClockTicks;
    struct _KTHREAD *ReapThread;        /* terminated; free its stack after the switch */
    PKTRAP_FRAME TrapFrame;             /* KTHREAD.TrapFrame before threads exist */
    volatile KIRQL CurrentIrql;         /* CR8's value, kept by KiWriteCr8 (see there) */
    ULONG ApicId;                       /* the local APIC's ID: where IPIs go */
    ULONG ApicTimerTicksPerMs;          /* this processor's timer calibration */
    PKI_PROCESSOR_TABLES Tables;        /* its GDT and TSS */
    PUCHAR IstStacks[KI_IST_COUNT];     /* bases of its IST stacks */
    KI_IPI_PACKET IpiPacket;            /* what this processor asks of others (ipi.c) */
    volatile KAFFINITY IpiRequests;     /* processors whose packets wait for this one */
    ULONG64 IpiCount;                   /* IPIs this processor received */
    volatile BOOLEAN Frozen;            /* stopped by another processor's bug check */
    struct _KI_EXCEPTION_FRAME *ExceptionList;  /* KTHREAD.ExceptionList before threads exist */
} KPRCB, *PKPRCB;

typedef struct _KI_DPC_SNAPSHOT {
    PKDPC Dpc;
    PKDEFERRED_ROUTINE DeferredRoutine;
    UCHAR Importance;
} KI_DPC_SNAPSHOT, *PKI_DPC_SNAPSHOT;
ULONG KiSnapshotDpcQueue(struct _KPRCB *Prcb, PKI_DPC_SNAPSHOT Out, ULONG Max);

extern KPRCB KiProcessorBlock0;
/* Every started processor's KPRCB by number (NT's KiProcessorBlock). */
extern PKPRCB KiProcessorBlock[MAXIMUM_PROCESSORS];
extern volatile KAFFINITY KeActiveProcessors;

static inline PKPRCB KeGetCurrentPrcb(void)
{
    PKPRCB prcb;
    __asm__ __volatile__("mov %%gs:0, %0" : "=r"(prcb));
    return prcb;
}

/*
 * The one way the IRQL is set. The IRQL itself is the KPRCB's CurrentIrql,
 * which KeGetCurrentIrql reads; CR8 holds what the hardware must hold off.
 * No interrupt vector belongs to IRQL 0, 1 or 2 (devices start at 3), so
 * for every level up to DISPATCH_LEVEL CR8 stays 0: APC_LEVEL and
 * DISPATCH_LEVEL only hold off Mica's own work (DPCs, thread switches),
 * which looks at CurrentIrql. That matters because a CR8 write is far
 * dearer than a store: QEMU takes its global lock for it, so with several
 * processors every spin lock would line them all up behind that one lock.
 * (x64 NT writes CR8 at every raise; 32-bit NT kept a software IRQL for
 * the low levels, as this does.)
 *
 * When CR8 must change, it and the copy change together with interrupts
 * off, so an interrupt never sees them disagree; an interrupt's epilogue
 * restores the level it found in the copy. The hardware never changes
 * CR8 by itself on x86-64.
 */
#define KI_HARDWARE_IRQL(Irql) ((Irql) > DISPATCH_LEVEL ? (ULONG64)(Irql) : (ULONG64)PASSIVE_LEVEL)

static inline void KiStoreIrqlCopy(ULONG64 Value)
{
    __asm__ __volatile__("movb %b0, %%gs:%c1"
                         : : "r"(Value), "i"(__builtin_offsetof(KPRCB, CurrentIrql))
                         : "memory");
}

static inline KIRQL KiGetCurrentIrqlCopy(void)
{
    KIRQL irql;
    __asm__ __volatile__("movb %%gs:%c1, %0"
                         : "=r"(irql) : "i"(__builtin_offsetof(KPRCB, CurrentIrql))
                         : "memory");
    return irql;
}

static inline void KiWriteCr8(ULONG64 Value)
{
    ULONG64 flags;

    if (KI_HARDWARE_IRQL(KiGetCurrentIrqlCopy()) == KI_HARDWARE_IRQL(Value)) {
        KiStoreIrqlCopy(Value);         /* one store: whole to any interrupt */
        return;
    }
    __asm__ __volatile__("pushfq\n\tpopq %0\n\tcli" : "=r"(flags) : : "memory");
    __asm__ __volatile__("mov %0, %%cr8" : : "r"(KI_HARDWARE_IRQL(Value)) : "memory");
    KiStoreIrqlCopy(Value);
    __asm__ __volatile__("pushq %0\n\tpopfq" : : "r"(flags) : "memory", "cc");
}


/* dpc.c / irql.c */
VOID KiInitializePrcb(VOID);
VOID KiInitializeProcessorBlock(PKPRCB Prcb, ULONG Number);
VOID KiDispatchInterrupt(VOID);         /* at DISPATCH_LEVEL: DPCs, then reschedule */
VOID KiRetireDpcList(PKPRCB Prcb);
VOID KiInitializeDpcFlush(VOID);

/* apic.c, ioapic.c, clock.c, interrupt.c (Hal/Ke interrupts) */
#define KI_VECTOR_CLOCK    0xD1          /* CLOCK_LEVEL 13 */
#define KI_VECTOR_IPI      0xE1          /* IPI_LEVEL 14: packets and wake-ups (ipi.c) */
#define KI_VECTOR_SPURIOUS 0xFF
VOID HalpInitializeApic(VOID);
VOID HalpInitializeApicProcessor(VOID);
ULONG HalpApicGetId(VOID);
VOID HalpApicSendIpi(ULONG ApicId, ULONG Vector);
VOID HalpApicSendNmiToOthers(VOID);
VOID HalpApicSendInit(ULONG ApicId);
VOID HalpApicSendStartup(ULONG ApicId, ULONG PageNumber);
VOID HalpApicEoi(VOID);
VOID HalpApicSendSelfIpi(ULONG Vector);
ULONG HalpApicTimerTicksPerMs(VOID);
VOID HalpApicStartPeriodicTimer(ULONG Vector, ULONG InitialCount);
VOID HalpInitializeIoApic(VOID);
VOID HalpIoApicProgram(ULONG Gsi, ULONG Vector, BOOLEAN ActiveLow, BOOLEAN LevelTriggered,
                       BOOLEAN Masked);
/* pcicfg.c: PCI configuration access (HalGetBusDataByOffset's mechanism). */
typedef enum _HALP_PCI_CONFIG_MECHANISM { HalpPciConfigPorts, HalpPciConfigEcam } HALP_PCI_CONFIG_MECHANISM;
extern HALP_PCI_CONFIG_MECHANISM HalpPciConfigMechanism;
VOID HalpInitializePciConfig(VOID);
VOID HalpInitializeClock(VOID);
VOID HalpInitializeClockProcessor(VOID);
VOID KiClockInterrupt(VOID);

/* ipi.c, mp.c: the other processors */
VOID KiIpiInterrupt(VOID);
VOID KiIpiRequestDispatch(ULONG Number);
BOOLEAN KiFreezeRequested(VOID);
__attribute__((noreturn)) VOID KiFreezeExecution(VOID);
VOID KiFreezeOtherProcessors(VOID);
/* The debugger's freeze, which ends: the others spin in their NMI handler
 * (KiDebuggerFreezeHere) until KiThawOtherProcessors. */
VOID KiFreezeOtherProcessorsForDebugger(VOID);
VOID KiThawOtherProcessors(VOID);
BOOLEAN KiDebuggerFreezeHere(VOID);
VOID KiReserveStartupPages(VOID);
VOID KiStartOtherProcessors(VOID);
__attribute__((noreturn)) VOID KiSystemStartupProcessor(PKPRCB Prcb);
BOOLEAN KiDispatchInterruptVector(PKTRAP_FRAME TrapFrame);

/* thread.c, sched.c, wait.c, timer.c */
VOID KiInitializeThreading(VOID);
PKTHREAD KiCreateIdleThread(ULONG Number);
NTSTATUS PspCreateSystemThread(PHANDLE ThreadHandle, PKSTART_ROUTINE StartRoutine,
                               PVOID StartContext, KAFFINITY Affinity);
VOID KiDeleteIdleThread(PKTHREAD Thread);
VOID KiInitializeScheduler(VOID);
VOID KiInitializeInterrupts(VOID);
__attribute__((noreturn)) VOID KiIdleLoop(VOID);
VOID KiReadyThread(PKTHREAD Thread);
VOID KiProcessorIdleReady(VOID);
BOOLEAN KiReadyThreadsWaiting(VOID);
VOID KiBoostPriority(PKTHREAD Thread, KPRIORITY Increment);
VOID KiSwapThread(VOID);                /* DISPATCH_LEVEL, dispatcher lock held */
VOID KiQuantumEnd(VOID);
VOID KiSwapContext(PKTHREAD Old, PKTHREAD New);   /* swap.asm */
VOID KiAfterContextSwitch(VOID);
#define KI_WAIT_TIMER_OBJECT 0x7F       /* Header.Type of KTHREAD.WaitTimer */
KIRQL KiAcquireDispatcherLock(VOID);
VOID KiReleaseDispatcherLock(KIRQL OldIrql);
extern KSPIN_LOCK KiDispatcherLock;
VOID KiWaitTest(DISPATCHER_HEADER *Object, KPRIORITY Increment);
VOID KiUnwaitThread(PKTHREAD Thread, NTSTATUS WaitStatus, KPRIORITY Increment);
/* From a DPC routine nothing may switch threads: ATTEMPTED_SWITCH_FROM_DPC. */
VOID KiCheckSwitchFromDpc(VOID);
/* KeDelayExecutionThread(0): the rest of the quantum to a ready thread of equal priority. */
VOID KiYieldToEqualPriority(VOID);
/* A KeSetTimer-style due time (< 0 relative, > 0 absolute system time) as interrupt time. */
ULONGLONG KiDueTimeToInterruptTime(LONGLONG DueTime);
VOID KiInsertTimer(PKTIMER Timer, ULONGLONG DueInterruptTime, BOOLEAN Absolute);
BOOLEAN KiRemoveTimer(PKTIMER Timer);
VOID KiCheckTimers(ULONGLONG InterruptTime);
VOID KiInitializeTimers(VOID);
ULONGLONG KiTscToInterruptTime(ULONG64 Tsc);

/* System time = interrupt time + KiSystemTimeBias (clock.c), set from the RTC (rtc.c). */
VOID HalpInitializeSystemTime(VOID);
VOID KiSetSystemTimeBias(LONGLONG Bias);
LONGLONG KiInterruptTimeToSystemTime(ULONGLONG InterruptTime);
/* The CMOS RTC's date and time registers as read, and their decoding
 * (rtctime.c, host-tested). Values are as the RTC holds them: BCD or
 * binary, 12- or 24-hour, as status register B says. */
#define RTC_STATUS_B_24_HOUR 0x02       /* hours 0-23 (else 1-12 with RTC_HOUR_PM) */
#define RTC_STATUS_B_BINARY  0x04       /* binary values (else BCD) */
#define RTC_HOUR_PM          0x80       /* in 12-hour mode: the hour is p.m. */
typedef struct _HALP_RTC_REGISTERS {
    UCHAR Second, Minute, Hour, Day, Month, Year;
    UCHAR Century;              /* the century register, if HasCentury */
    BOOLEAN HasCentury;         /* the FADT names one; else years 80-99 are 19xx, 00-79 20xx */
    UCHAR StatusB;
} HALP_RTC_REGISTERS, *PHALP_RTC_REGISTERS;
BOOLEAN HalpRtcToTimeFields(const HALP_RTC_REGISTERS *Rtc, PTIME_FIELDS TimeFields);

/* ---- Bug-check data and start-up tasks ---------------------------------------- */

/* The stop code and its four parameters, set before any callback runs
 * (NT keeps the same five words in KiBugCheckData, where WinDbg reads them). */
extern ULONG_PTR KiBugCheckData[5];

/*
 * What the kernel does once it is ready: each start-up task (a routine in
 * the ki_startup_tasks section) is asked in turn; the first that returns
 * TRUE has done the boot's work, and QEMU is left with status "passed".
 * When none takes the boot, the initial thread idles. The test and
 * benchmark harnesses register themselves this way, so the kernel itself
 * never names them.
 */
typedef struct _KI_STARTUP_TASK {
    PCSTR Name;
    BOOLEAN (*Routine)(VOID);
} KI_STARTUP_TASK;
#define KI_STARTUP_TASK(Name_, Routine_)                                                 \
    static const KI_STARTUP_TASK KiStartupTask_##Routine_                                \
        __attribute__((used, section("ki_startup_tasks"), aligned(8))) = {Name_, Routine_}

#endif

/*
 * kdcmd_ke.c - the kd> shell's kernel commands: !irql, !prcb, !thread,
 * k, r, db/dw/dd/dq, lm, !idt.
 *
 * The shell runs in its own thread at PASSIVE_LEVEL, so "the current
 * processor" and "the current thread" are the shell's; the other
 * processors' KPRCBs are read as they are (unlocked: a snapshot, as WinDbg
 * sees a live target).
 */
#include "kd_internal.h"

static PCSTR KdpIrqlName(KIRQL Irql)
{
    switch (Irql) {
    case PASSIVE_LEVEL: return "LOW_LEVEL";     /* WinDbg's name for 0 */
    case APC_LEVEL: return "APC_LEVEL";
    case DISPATCH_LEVEL: return "DISPATCH_LEVEL";
    case SYNCH_LEVEL: return "SYNCH_LEVEL";
    case CLOCK_LEVEL: return "CLOCK_LEVEL";
    case IPI_LEVEL: return "IPI_LEVEL";
    case HIGH_LEVEL: return "HIGH_LEVEL";
    default: return "device IRQL";
    }
}

NTSTATUS KdpProcessorArgument(ULONG Argc, PCHAR Argv[], PKPRCB *Prcb)
{
    ULONG64 n;

    if (Argc == 1) {
        *Prcb = KeGetCurrentPrcb();
        return STATUS_SUCCESS;
    }
    if (Argc != 2 || !KdpParseNumber(Argv[1], &n))
        return KdpError(STATUS_INVALID_PARAMETER, "usage: %s [processor]", Argv[0]);
    if (n >= MAXIMUM_PROCESSORS || KiProcessorBlock[n] == NULL)
        return KdpError(STATUS_INVALID_PARAMETER, "processor %llx has not started", n);
    *Prcb = KiProcessorBlock[n];
    return STATUS_SUCCESS;
}

static NTSTATUS KdpCmdIrql(ULONG Argc, PCHAR Argv[])
{
    PKPRCB prcb;
    NTSTATUS status = KdpProcessorArgument(Argc, Argv, &prcb);

    KIRQL irql;

    if (!NT_SUCCESS(status))
        return status;
    /* Broken in: this processor's IRQL before the break, not the shell's HIGH_LEVEL.
     * A frozen processor's KPRCB still holds the IRQL it was stopped at. */
    irql = KdpDebuggerActive() && prcb->Number == KdpContext.Processor ? KdpContext.SavedIrql
                                                                        : prcb->CurrentIrql;
    DbgPrint("Debugger saved IRQL for processor 0x%x -- %u (%s)\n", prcb->Number, irql,
             KdpIrqlName(irql));
    return STATUS_SUCCESS;
}
KD_COMMAND("!irql", KD_GROUP_KERNEL, "[processor]", "a processor's IRQL", KdpCmdIrql);

static NTSTATUS KdpCmdPrcb(ULONG Argc, PCHAR Argv[])
{
    PKPRCB prcb;
    NTSTATUS status = KdpProcessorArgument(Argc, Argv, &prcb);

    if (!NT_SUCCESS(status))
        return status;
    DbgPrint("PRCB for Processor %u at %016llx:\n", prcb->Number, (ULONG64)prcb);
    DbgPrint("Current IRQL -- %u\n", prcb->CurrentIrql);
    DbgPrint("Threads--  Current %016llx Next %016llx Idle %016llx\n",
             (ULONG64)prcb->CurrentThread, (ULONG64)prcb->NextThread, (ULONG64)prcb->IdleThread);
    DbgPrint("Processor Index %u Local APIC ID %u\n", prcb->Number, prcb->ApicId);
    DbgPrint("DPC Queue depth %u  DPCs run %llu  Interrupts %llu  Clock ticks %llu\n",
             prcb->DpcQueueDepth, prcb->DpcCount, prcb->InterruptCount, prcb->ClockTicks);
    DbgPrint("Context switches %llu  IPIs %llu%s\n", prcb->ContextSwitches, prcb->IpiCount,
             prcb->Frozen ? "  (frozen)" : "");
    return STATUS_SUCCESS;
}
KD_COMMAND("!prcb", KD_GROUP_KERNEL, "[processor]", "a processor's control block", KdpCmdPrcb);

/* ---- threads --------------------------------------------------------------------------- */

static const PCSTR KdpThreadStates[] = {"INITIALIZED", "READY", "RUNNING", "STANDBY",
                                        "TERMINATED", "WAIT"};

static VOID KdpPrintThread(PKTHREAD Thread, BOOLEAN Long)
{
    char start[96];

    if (!KeSymbolizeAddress((ULONG_PTR)Thread->StartRoutine, start, sizeof(start)))
        RtlSnprintf(start, sizeof(start), "%016llx", (ULONG64)Thread->StartRoutine);
    DbgPrint("THREAD %016llx  Cid %u  %s%s  Priority %d  Processor %u  Start %s\n",
             (ULONG64)Thread, Thread->ThreadId,
             Thread->State < ARRAYSIZE(KdpThreadStates) ? KdpThreadStates[Thread->State] : "?",
             Thread->IdleThread ? " (idle)" : "", Thread->Priority, Thread->NextProcessor, start);
    if (!Long)
        return;
    DbgPrint("    Stack %016llx - %016llx  saved RSP %016llx\n", Thread->StackLimit,
             Thread->StackBase, Thread->KernelStack);
    DbgPrint("    BasePriority %d  Quantum %u  ContextSwitches %llu  Affinity %llx\n",
             Thread->BasePriority, Thread->Quantum, Thread->ContextSwitches,
             (ULONG64)Thread->Affinity);
    if (Thread->State == Waiting)
        for (ULONG i = 0; i < Thread->WaitCount && i < THREAD_WAIT_OBJECTS; i++)
            DbgPrint("    waiting on %016llx\n", (ULONG64)Thread->WaitBlock[i].Object);
}

static NTSTATUS KdpCmdThread(ULONG Argc, PCHAR Argv[])
{
    ULONG64 a;

    if (Argc == 1) {
        KdpPrintThread(KeGetCurrentThread(), TRUE);
        return STATUS_SUCCESS;
    }
    if (Argc == 2 && strcmp(Argv[1], "*") == 0) {
        for (ULONG i = 0; i < KI_MAX_THREADS; i++)
            if (KiThreads[i].InUse)
                KdpPrintThread(&KiThreads[i], FALSE);
        return STATUS_SUCCESS;
    }
    if (Argc != 2 || !KdpParseNumber(Argv[1], &a))
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !thread [address | *]");
    /* Only what is one of the kernel's thread objects is shown as one. */
    if (a < (ULONG64)&KiThreads[0] || a >= (ULONG64)&KiThreads[KI_MAX_THREADS] ||
        (a - (ULONG64)&KiThreads[0]) % sizeof(KTHREAD) != 0 || !((PKTHREAD)a)->InUse)
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not a thread (!thread * lists them)", a);
    KdpPrintThread((PKTHREAD)a, TRUE);
    return STATUS_SUCCESS;
}
KD_COMMAND("!thread", KD_GROUP_KERNEL, "[address | *]", "a thread (default: the shell's); * lists all",
           KdpCmdThread);

static NTSTATUS KdpCmdK(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: k");
    if (KdpDebuggerActive())
        KiPrintBacktrace(KdpContext.Rip, KdpContext.Rbp);      /* the interrupted code */
    else
        KiPrintBacktrace((ULONG64)KdpCmdK, (ULONG64)__builtin_frame_address(0));
    return STATUS_SUCCESS;
}
KD_COMMAND("k", KD_GROUP_KERNEL, "", "the stack, symbolized (broken in: the interrupted code's)", KdpCmdK);

static NTSTATUS KdpCmdR(ULONG Argc, PCHAR Argv[])
{
    ULONG64 cr0, cr2, cr3, cr4, rsp, rbp, rflags;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: r");
    if (KdpDebuggerActive() && KdpContext.Frame != NULL) {
        KiPrintRegisters(KdpContext.Frame);                     /* the interrupted code's */
        return STATUS_SUCCESS;
    }
    __asm__ __volatile__("mov %%cr0, %0" : "=r"(cr0));
    __asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
    __asm__ __volatile__("mov %%cr3, %0" : "=r"(cr3));
    __asm__ __volatile__("mov %%cr4, %0" : "=r"(cr4));
    __asm__ __volatile__("mov %%rsp, %0" : "=r"(rsp));
    __asm__ __volatile__("mov %%rbp, %0" : "=r"(rbp));
    __asm__ __volatile__("pushfq; pop %0" : "=r"(rflags));
    DbgPrint("(%s: there is no trap frame)\n", KdpDebuggerActive() ? "the debugger's own context"
                                                                  : "the kd> thread's own context");
    DbgPrint("rsp=%016llx rbp=%016llx efl=%08llx\n", rsp, rbp, rflags);
    DbgPrint("cr0=%016llx cr2=%016llx cr3=%016llx\ncr4=%016llx cr8=%016llx\n", cr0, cr2, cr3, cr4,
             (ULONG64)KeGetCurrentIrql());
    return STATUS_SUCCESS;
}
KD_COMMAND("r", KD_GROUP_KERNEL, "", "registers (broken in: the interrupted code's)", KdpCmdR);

/* ---- db/dw/dd/dq ----------------------------------------------------------------------- */

#define KD_DUMP_DEFAULT_BYTES 128
#define KD_DUMP_MAX_BYTES 4096

static NTSTATUS KdpDump(ULONG Argc, PCHAR Argv[], ULONG Width)
{
    ULONG64 address, count = KD_DUMP_DEFAULT_BYTES / Width;
    UCHAR line[16];

    /* "L 10" or, as WinDbg also takes it, "L10". */
    BOOLEAN joined = Argc == 3 && (Argv[2][0] == 'L' || Argv[2][0] == 'l') && Argv[2][1] != 0;

    if (Argc != 2 && !joined && !(Argc == 4 && (strcmp(Argv[2], "L") == 0 || strcmp(Argv[2], "l") == 0)))
        return KdpError(STATUS_INVALID_PARAMETER, "usage: %s ADDR [L count]", Argv[0]);
    if (!KdpParseNumber(Argv[1], &address) || (Argc == 4 && !KdpParseNumber(Argv[3], &count)) ||
        (joined && !KdpParseNumber(Argv[2] + 1, &count)))
        return STATUS_INVALID_PARAMETER;
    if (count == 0 || count > KD_DUMP_MAX_BYTES / Width)
        return KdpError(STATUS_INVALID_PARAMETER, "count must be 1-%u", KD_DUMP_MAX_BYTES / Width);
    if (address & (Width - 1))
        return KdpError(STATUS_INVALID_PARAMETER, "%llx is not %u-byte aligned", address, Width);
    /* The whole range is checked first, so a bad address prints only the error line. */
    if (address + count * Width < address)
        return KdpError(STATUS_INVALID_PARAMETER, "the range wraps around");
    for (ULONG64 a = address; a < address + count * Width; a = (a & ~(ULONG64)(PAGE_SIZE - 1)) + PAGE_SIZE)
        if (!KdpIsAddressValid(a))
            return KdpError(STATUS_ACCESS_VIOLATION, "%llx is not mapped", a);
    for (ULONG64 done = 0; done < count * Width; done += 16) {
        ULONG64 n = count * Width - done < 16 ? count * Width - done : 16;
        if (!KdpReadMemory(address + done, line, n))
            return KdpError(STATUS_ACCESS_VIOLATION, "%llx is no longer mapped", address + done);
        DbgPrint("%08llx`%08llx ", (address + done) >> 32, (address + done) & 0xFFFFFFFF);
        for (ULONG i = 0; i < n; i += Width) {
            ULONG64 v = 0;
            RtlCopyMemory(&v, line + i, Width);
            if (Width == 1)
                DbgPrint("%c%02llx", i == 8 ? '-' : ' ', v);
            else
                DbgPrint(" %0*llx", (int)Width * 2, v);
        }
        if (Width == 1) {
            DbgPrint("%*s  ", (int)(16 - n) * 3, "");
            for (ULONG i = 0; i < n; i++)
                DbgPrint("%c", line[i] >= ' ' && line[i] < 0x7F ? line[i] : '.');
        }
        DbgPrint("\n");
    }
    return STATUS_SUCCESS;
}

static NTSTATUS KdpCmdDb(ULONG Argc, PCHAR Argv[]) { return KdpDump(Argc, Argv, 1); }
static NTSTATUS KdpCmdDw(ULONG Argc, PCHAR Argv[]) { return KdpDump(Argc, Argv, 2); }
static NTSTATUS KdpCmdDd(ULONG Argc, PCHAR Argv[]) { return KdpDump(Argc, Argv, 4); }
static NTSTATUS KdpCmdDq(ULONG Argc, PCHAR Argv[]) { return KdpDump(Argc, Argv, 8); }
KD_COMMAND("db", KD_GROUP_KERNEL, "ADDR [L count]", "bytes and ASCII", KdpCmdDb);
KD_COMMAND("dw", KD_GROUP_KERNEL, "ADDR [L count]", "16-bit words", KdpCmdDw);
KD_COMMAND("dd", KD_GROUP_KERNEL, "ADDR [L count]", "32-bit double words", KdpCmdDd);
KD_COMMAND("dq", KD_GROUP_KERNEL, "ADDR [L count]", "64-bit quad words", KdpCmdDq);

/* ---- lm and !idt ------------------------------------------------------------------------ */

static NTSTATUS KdpCmdLm(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: lm");
    DbgPrint("start             end                 module name\n");
    /* KiBootImageStart is the image's load (physical) address: the image
     * runs at MM_KSEG0_BASE plus it. */
    DbgPrint("%016llx  %016llx    mica       (symbols: .ksyms, %llu bytes of code)\n",
             MM_KSEG0_BASE + (ULONG64)KiBootImageStart, (ULONG64)KiImageEnd,
             (ULONG64)(KiTextEnd - KiTextStart));
    return STATUS_SUCCESS;
}
KD_COMMAND("lm", KD_GROUP_KERNEL, "", "loaded modules (the one kernel image)", KdpCmdLm);

typedef struct __attribute__((packed)) _KD_IDTR {
    USHORT Limit;
    ULONG64 Base;
} KD_IDTR;

typedef struct _KD_IDT_GATE {
    USHORT OffsetLow;
    USHORT Selector;
    UCHAR Ist;
    UCHAR TypeAttributes;       /* bit 7: present */
    USHORT OffsetMiddle;
    ULONG OffsetHigh;
    ULONG Reserved;
} KD_IDT_GATE;

#define KD_IDT_PRESENT 0x80

static NTSTATUS KdpCmdIdt(ULONG Argc, PCHAR Argv[])
{
    KD_IDTR idtr;
    const KD_IDT_GATE *gate;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !idt");
    __asm__ __volatile__("sidt %0" : "=m"(idtr));
    gate = (const KD_IDT_GATE *)idtr.Base;
    DbgPrint("Dumping IDT: %016llx\n", idtr.Base);
    for (ULONG v = 0; v < (idtr.Limit + 1U) / sizeof(KD_IDT_GATE); v++) {
        char name[96];
        ULONG64 handler;
        if (!(gate[v].TypeAttributes & KD_IDT_PRESENT))
            continue;
        handler = gate[v].OffsetLow | ((ULONG64)gate[v].OffsetMiddle << 16) |
                  ((ULONG64)gate[v].OffsetHigh << 32);
        if (!KeSymbolizeAddress(handler, name, sizeof(name)))
            RtlSnprintf(name, sizeof(name), "?");
        DbgPrint("%02x:\t%016llx %s%s\n", v, handler, name,
                 gate[v].Ist ? (gate[v].Ist == 1 ? "\tStack = IST1" : "\tStack = IST") : "");
    }
    return STATUS_SUCCESS;
}
KD_COMMAND("!idt", KD_GROUP_KERNEL, "", "interrupt vectors and their handlers", KdpCmdIdt);

/* ---- !ready, !dpcs, !timer --------------------------------------------------------------- */

#define KD_SNAPSHOT_MAX 64

static NTSTATUS KdpCmdReady(ULONG Argc, PCHAR Argv[])
{
    static PKTHREAD threads[KD_SNAPSHOT_MAX];
    ULONG n;
    LONG priority = -1;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !ready");
    n = KiSnapshotReadyThreads(threads, KD_SNAPSHOT_MAX);
    for (ULONG i = 0; i < n && i < KD_SNAPSHOT_MAX; i++) {
        if (threads[i]->Priority != priority) {
            priority = threads[i]->Priority;
            DbgPrint("Ready Threads at priority %d\n", priority);
        }
        DbgPrint("    ");
        KdpPrintThread(threads[i], FALSE);
    }
    if (n == 0)
        DbgPrint("No threads in READY state\n");
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!ready", KD_GROUP_KERNEL, "", "threads waiting for a processor, by priority", KdpCmdReady);

static NTSTATUS KdpCmdDpcs(ULONG Argc, PCHAR Argv[])
{
    static KI_DPC_SNAPSHOT dpcs[KD_SNAPSHOT_MAX];

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !dpcs");
    DbgPrint("CPU Type      KDPC               Function\n");
    for (ULONG cpu = 0; cpu < MAXIMUM_PROCESSORS; cpu++) {
        PKPRCB prcb = KiProcessorBlock[cpu];
        ULONG n;
        if (prcb == NULL)
            continue;
        n = KiSnapshotDpcQueue(prcb, dpcs, KD_SNAPSHOT_MAX);
        for (ULONG i = 0; i < n && i < KD_SNAPSHOT_MAX; i++) {
            char name[96];
            if (!KeSymbolizeAddress((ULONG_PTR)dpcs[i].DeferredRoutine, name, sizeof(name)))
                RtlSnprintf(name, sizeof(name), "%016llx", (ULONG64)dpcs[i].DeferredRoutine);
            DbgPrint("%2u: %-8s %016llx   %s\n", cpu,
                     dpcs[i].Importance == HighImportance ? "High" : "Normal", (ULONG64)dpcs[i].Dpc,
                     name);
        }
        if (n == 0)
            DbgPrint("%2u: no queued DPCs\n", cpu);
    }
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!dpcs", KD_GROUP_KERNEL, "", "each processor's DPC queue", KdpCmdDpcs);

#define KD_100NS_PER_MS 10000

static NTSTATUS KdpCmdTimer(ULONG Argc, PCHAR Argv[])
{
    static KI_TIMER_SNAPSHOT timers[KD_SNAPSHOT_MAX];
    ULONG64 now = KeQueryInterruptTime();
    ULONG n;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !timer");
    n = KiSnapshotTimers(timers, KD_SNAPSHOT_MAX);
    DbgPrint("Dump system timers\n\nInterrupt time: %016llx (%llu ms since boot)\n\n", now,
             now / KD_100NS_PER_MS);
    DbgPrint("Timer              Due in (ms)  Period  DPC                Routine\n");
    for (ULONG i = 0; i < n && i < KD_SNAPSHOT_MAX; i++) {
        char name[96] = "(waits only)";
        LONG64 due = (LONG64)(timers[i].DueTime - now) / KD_100NS_PER_MS;
        if (timers[i].DeferredRoutine != NULL &&
            !KeSymbolizeAddress((ULONG_PTR)timers[i].DeferredRoutine, name, sizeof(name)))
            RtlSnprintf(name, sizeof(name), "%016llx", (ULONG64)timers[i].DeferredRoutine);
        DbgPrint("%016llx %12lld %7u  %016llx   %s\n", (ULONG64)timers[i].Timer, due,
                 timers[i].Period, (ULONG64)timers[i].Dpc, name);
    }
    DbgPrint("Total Timers: %u\n", n);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND("!timer", KD_GROUP_KERNEL, "", "queued timers, soonest first", KdpCmdTimer);

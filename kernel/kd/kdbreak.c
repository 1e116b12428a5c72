/*
 * kdbreak.c - breaking into the kd> shell: Ctrl-C on COM1, kd=break on the
 * command line, and the shell after a bug check's blue screen.
 *
 * NT polls for a break-in on every clock tick (KeUpdateSystemTime calls
 * KdPollBreakIn); so does Mica, on processor 0 (kernel/ke/interrupt.c),
 * once a shell exists. KdEnterDebugger then stops the machine around the
 * shell: HIGH_LEVEL and interrupts off here, the other processors frozen
 * in their NMI handler (ipi.c), all I/O polled. The interrupted context is
 * kept (KdpContext), so !irql, r and k show the moment before the break,
 * as WinDbg's do. `g` thaws the others and returns to the interrupted code.
 *
 * After a bug check the machine cannot go on: the shell is for looking
 * (`g` is refused; .reboot and q leave). Automated runs (test=, bench=)
 * never get it, unless kd=on asks, so a failing test still ends the boot.
 */
#include "kd_internal.h"

KD_CONTEXT KdpContext;

static PCSTR KdpReasonText(ULONG Reason)
{
    switch (Reason) {
    case KD_REASON_BOOT: return "kd=break: stopped at the end of phase 0";
    case KD_REASON_BUGCHECK: return "after the bug check: inspection only (g is refused; .reboot, q)";
    default: return "Break instruction exception - code 80000003 (Ctrl-C on the serial line)";
    }
}

VOID KdEnterDebugger(PKTRAP_FRAME TrapFrame, ULONG64 Rip, ULONG64 Rbp, KIRQL SavedIrql, ULONG Reason)
{
    ULONG64 flags = __readeflags();
    KIRQL old;
    char prompt[16], where[96];

    _disable();
    KeRaiseIrql(HIGH_LEVEL, &old);
    if (Reason != KD_REASON_BUGCHECK)
        KiFreezeOtherProcessorsForDebugger();   /* a bug check froze them for good */
    KiConsoleBreakLock();                       /* a frozen processor may hold it */

    KdpContext.Reason = Reason;
    KdpContext.Processor = KeGetCurrentPrcb()->Number;
    KdpContext.Frame = TrapFrame;
    KdpContext.SavedIrql = SavedIrql;
    if (TrapFrame != NULL) {
        KdpContext.Rip = TrapFrame->Rip;
        KdpContext.Rbp = TrapFrame->Rbp;
    } else if (Rip != 0) {
        KdpContext.Rip = Rip;
        KdpContext.Rbp = Rbp;
    } else {
        /* Our caller's context: its return address and frame pointer. */
        const ULONG64 *frame = __builtin_frame_address(0);
        KdpContext.Rip = frame[1];
        KdpContext.Rbp = frame[0];
    }
    KdpContext.Continue = FALSE;
    KdpContext.Active = TRUE;
    KdpInputEnabled = TRUE;

    if (!KeSymbolizeAddress(KdpContext.Rip, where, sizeof(where)))
        RtlSnprintf(where, sizeof(where), "?");
    DbgPrint("\n%s\n", KdpReasonText(Reason));
    DbgPrint("processor %u stopped at %016llx %s, IRQL %u; the others are frozen%s\n",
             KdpContext.Processor, KdpContext.Rip, where, SavedIrql,
             Reason == KD_REASON_BUGCHECK ? "" : "; g resumes");
    RtlSnprintf(prompt, sizeof(prompt), "%u: kd> ", KdpContext.Processor);
    KdpShellLoop(prompt, TRUE);

    KdpContext.Active = FALSE;
    KdpContext.Continue = FALSE;
    KdpBreakCount++;                            /* the kd> thread redraws its line */
    KiConsoleRestoreLock();
    KiThawOtherProcessors();
    KeLowerIrql(old);
    if (flags & EFLAGS_IF_MASK)
        _enable();
}

BOOLEAN KdShellAfterBugCheck(VOID)
{
    char value[16];

    if (KeQueryBootOption("kd", value, sizeof(value)))
        return strcmp(value, "off") != 0;
    return !KeQueryBootOption("test", value, sizeof(value)) &&
           !KeQueryBootOption("bench", value, sizeof(value));
}

static NTSTATUS KdpCmdGo(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: g");
    if (!KdpDebuggerActive())
        return KdpError(STATUS_UNSUCCESSFUL, "the machine is running (Ctrl-C breaks in)");
    if (KdpContext.Reason == KD_REASON_BUGCHECK)
        return KdpError(STATUS_UNSUCCESSFUL,
                        "a bug check cannot be continued: .reboot or q");
    KdpContext.Continue = TRUE;
    return STATUS_SUCCESS;
}
KD_COMMAND("g", KD_GROUP_SHELL, "", "go: resume after a break-in", KdpCmdGo);

/* WinDbg's .crash: a bug check on purpose, to see the blue screen and !analyze. */
static NTSTATUS KdpCmdCrash(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .crash");
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
}
KD_COMMAND(".crash", KD_GROUP_SHELL, "", "bug check 0xE2 (MANUALLY_INITIATED_CRASH) on purpose",
           KdpCmdCrash);

/* ---- !analyze ------------------------------------------------------------------------- */

static VOID KdpAnalyzeBanner(VOID)
{
    DbgPrint("*******************************************************************************\n");
    DbgPrint("*                        Bugcheck Analysis                                    *\n");
    DbgPrint("*******************************************************************************\n\n");
}

/*
 * !analyze [-v]: the bug check that stopped the machine, each argument
 * explained, the faulting address and the stack. !analyze -show CODE
 * [ARG1..ARG4] explains any stop code without one having happened, as
 * WinDbg's does.
 */
static NTSTATUS KdpCmdAnalyze(ULONG Argc, PCHAR Argv[])
{
    ULONG64 args[4] = {0}, code;
    char where[96];

    if (Argc >= 3 && strcmp(Argv[1], "-show") == 0) {
        if (Argc > 7 || !KdpParseNumber(Argv[2], &code) || code > 0xFFFFFFFFULL)
            return KdpError(STATUS_INVALID_PARAMETER, "usage: !analyze -show CODE [ARG1 [ARG2 [ARG3 [ARG4]]]]");
        for (ULONG i = 3; i < Argc; i++)
            if (!KdpParseNumber(Argv[i], &args[i - 3]))
                return STATUS_INVALID_PARAMETER;
        KdpExplainBugCheck((ULONG)code, args);
        return STATUS_SUCCESS;
    }
    if (Argc > 2 || (Argc == 2 && strcmp(Argv[1], "-v") != 0))
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !analyze [-v] | -show CODE [ARGS]");
    if (!KdpDebuggerActive() || KdpContext.Reason != KD_REASON_BUGCHECK)
        return KdpError(STATUS_NOT_FOUND, "no bug check has happened (!analyze -show CODE explains one)");
    KdpAnalyzeBanner();
    for (ULONG i = 0; i < 4; i++)
        args[i] = KiBugCheckData[i + 1];
    KdpExplainBugCheck((ULONG)KiBugCheckData[0], args);
    if (!KeSymbolizeAddress(KdpContext.Rip, where, sizeof(where)))
        RtlSnprintf(where, sizeof(where), "?");
    DbgPrint("\nFAULTING_IP:\n%016llx %s\n\nPROCESSOR: %u  IRQL: %u\n\nSTACK_TEXT:\n",
             KdpContext.Rip, where, KdpContext.Processor, KdpContext.SavedIrql);
    KiPrintBacktrace(KdpContext.Rip, KdpContext.Rbp);
    return STATUS_SUCCESS;
}
KD_COMMAND("!analyze", KD_GROUP_KERNEL, "[-v] | -show CODE [ARGS]", "the bug check: code, arguments, faulting IP, stack",
           KdpCmdAnalyze);

/*
 * bugcheck.c - KeBugCheckEx: the blue screen.
 *
 * NT stops the machine when it finds itself in a state it cannot trust
 * any more, with a stop code and four parameters that say why. Mica does
 * the same and prints, on the serial port and on the screen (white on
 * blue): the stop code and its NT name, the four parameters, IRQL, CR2,
 * the faulting address (from the trap frame when there is one) and a
 * symbolized backtrace. Under test= the test harness then judges the stop
 * (a bug-check test expects exactly this one) and QEMU exits; otherwise
 * the processor halts with interrupts off.
 */
#include "ke_internal.h"

static const struct {
    ULONG Code;
    PCSTR Name;
} KiBugCheckNames[] = {
    {IRQL_NOT_GREATER_OR_EQUAL, "IRQL_NOT_GREATER_OR_EQUAL"},
    {IRQL_NOT_LESS_OR_EQUAL, "IRQL_NOT_LESS_OR_EQUAL"},
    {MAXIMUM_WAIT_OBJECTS_EXCEEDED, "MAXIMUM_WAIT_OBJECTS_EXCEEDED"},
    {SPIN_LOCK_NOT_OWNED, "SPIN_LOCK_NOT_OWNED"},
    {THREAD_NOT_MUTEX_OWNER, "THREAD_NOT_MUTEX_OWNER"},
    {REFERENCE_BY_POINTER, "REFERENCE_BY_POINTER"},
    {INSTALL_MORE_MEMORY, "INSTALL_MORE_MEMORY"},
    {BAD_POOL_HEADER, "BAD_POOL_HEADER"},
    {MEMORY_MANAGEMENT, "MEMORY_MANAGEMENT"},
    {KMODE_EXCEPTION_NOT_HANDLED, "KMODE_EXCEPTION_NOT_HANDLED"},
    {PHASE0_INITIALIZATION_FAILED, "PHASE0_INITIALIZATION_FAILED"},
    {NO_MORE_SYSTEM_PTES, "NO_MORE_SYSTEM_PTES"},
    {PFN_LIST_CORRUPT, "PFN_LIST_CORRUPT"},
    {NO_PAGES_AVAILABLE, "NO_PAGES_AVAILABLE"},
    {PAGE_FAULT_IN_NONPAGED_AREA, "PAGE_FAULT_IN_NONPAGED_AREA"},
    {KERNEL_DATA_INPAGE_ERROR, "KERNEL_DATA_INPAGE_ERROR"},
    {SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
    {UNEXPECTED_KERNEL_MODE_TRAP, "UNEXPECTED_KERNEL_MODE_TRAP"},
    {NMI_HARDWARE_FAILURE, "NMI_HARDWARE_FAILURE"},
    {MACHINE_CHECK_EXCEPTION, "MACHINE_CHECK_EXCEPTION"},
    {ATTEMPTED_WRITE_TO_READONLY_MEMORY, "ATTEMPTED_WRITE_TO_READONLY_MEMORY"},
    {BAD_POOL_CALLER, "BAD_POOL_CALLER"},
    {DRIVER_VERIFIER_DETECTED_VIOLATION, "DRIVER_VERIFIER_DETECTED_VIOLATION"},
    {DRIVER_IRQL_NOT_LESS_OR_EQUAL, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
    {SYSTEM_PTE_MISUSE, "SYSTEM_PTE_MISUSE"},
    {MANUALLY_INITIATED_CRASH, "MANUALLY_INITIATED_CRASH"},
    {ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, "ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY"},
    {MUST_SUCCEED_POOL_EMPTY, "MUST_SUCCEED_POOL_EMPTY"},
    {SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"},
    {PAGE_FAULT_IN_FREED_SPECIAL_POOL, "PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
    {PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
    {DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
    {DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
};

static volatile LONG KiBugCheckActive;

PCSTR KeBugCheckCodeName(ULONG BugCheckCode)
{
    for (ULONG i = 0; i < ARRAYSIZE(KiBugCheckNames); i++)
        if (KiBugCheckNames[i].Code == BugCheckCode)
            return KiBugCheckNames[i].Name;
    return "UNKNOWN_BUGCHECK_CODE";
}

static __attribute__((noreturn)) void KiHaltForever(void)
{
    for (;;) {
        _disable();
        __halt();
    }
}

VOID KiBugCheckWithFrame(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4,
                         PKTRAP_FRAME TrapFrame)
{
    ULONG64 rip, rbp;
    char where[96];

    ULONG64 irql = __readcr8();

    _disable();
    KiWriteCr8(HIGH_LEVEL);             /* nothing runs under a blue screen */
    /* A fault while printing the blue screen must not print it again. */
    if (__atomic_exchange_n(&KiBugCheckActive, 1, __ATOMIC_SEQ_CST)) {
        static const char msg[] = "\n*** nested bug check while reporting a bug check\n";
        KiSerialWrite(msg, sizeof(msg) - 1);
        KtestOnBugCheck(Code, P1, P2, P3, P4);
        KiHaltForever();
    }

    KiConsoleEnterBugCheck();
    DbgPrint("\n*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)\n", Code,
             (ULONG64)P1, (ULONG64)P2, (ULONG64)P3, (ULONG64)P4);
    DbgPrint("*** %s\n\n", KeBugCheckCodeName(Code));
    DbgPrint("A problem has been detected and Mica has been shut down to prevent damage.\n");
    DbgPrint("IRQL %llu  CR2 %016llx  CR3 %016llx\n", irql, __readcr2(), __readcr3());

    if (TrapFrame == NULL)
        TrapFrame = KiCurrentTrapFrame;     /* raised while handling a trap */
    if (TrapFrame) {
        KiReportException(TrapFrame);
        rip = TrapFrame->Rip;
        rbp = TrapFrame->Rbp;
    } else {
        /* Start at our caller: its return address and saved frame pointer. */
        const ULONG64 *frame = __builtin_frame_address(0);
        rip = frame[1];
        rbp = frame[0];
    }
    if (!KeSymbolizeAddress(rip, where, sizeof(where)))
        RtlSnprintf(where, sizeof(where), "?");
    DbgPrint("Faulting address: %016llx %s\n", rip, where);
    DbgPrint("Backtrace:\n");
    KiPrintBacktrace(rip, rbp);

    KtestOnBugCheck(Code, P1, P2, P3, P4);
    DbgPrint("\nSystem halted.\n");
    KiHaltForever();
}

VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    KiBugCheckWithFrame(BugCheckCode, P1, P2, P3, P4, NULL);
}

VOID KeBugCheck(ULONG BugCheckCode)
{
    KiBugCheckWithFrame(BugCheckCode, 0, 0, 0, 0, NULL);
}

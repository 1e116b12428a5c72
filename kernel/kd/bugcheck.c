/*
 * bugcheck.c - KeBugCheckEx: the blue screen.
 *
 * NT stops the machine when it finds itself in a state it cannot trust
 * any more, with a stop code and four parameters that say why. Mica does
 * the same and prints, on the serial port and on the screen (white on
 * blue): the stop code and its NT name, the four parameters, IRQL, CR2,
 * the faulting address (from the trap frame when there is one) and a
 * symbolized backtrace. Then the registered bug-check callbacks run, as
 * in NT (under test= the test harness is one: it judges the stop and
 * leaves QEMU), and the processor halts with interrupts off.
 */
#include "../ke/ke_internal.h"
#include "../io/iop.h"

static const struct {
    ULONG Code;
    PCSTR Name;
} KiBugCheckNames[] = {
    {IRQL_NOT_GREATER_OR_EQUAL, "IRQL_NOT_GREATER_OR_EQUAL"},
    {IRQL_NOT_LESS_OR_EQUAL, "IRQL_NOT_LESS_OR_EQUAL"},
    {KERNEL_APC_PENDING_DURING_EXIT, "KERNEL_APC_PENDING_DURING_EXIT"},
    {ATTEMPTED_SWITCH_FROM_DPC, "ATTEMPTED_SWITCH_FROM_DPC"},
    {MAXIMUM_WAIT_OBJECTS_EXCEEDED, "MAXIMUM_WAIT_OBJECTS_EXCEEDED"},
    {SPIN_LOCK_ALREADY_OWNED, "SPIN_LOCK_ALREADY_OWNED"},
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
    {IRQL_UNEXPECTED_VALUE, "IRQL_UNEXPECTED_VALUE"},
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
    {NO_MORE_IRP_STACK_LOCATIONS, "NO_MORE_IRP_STACK_LOCATIONS"},
    {MULTIPLE_IRP_COMPLETE_REQUESTS, "MULTIPLE_IRP_COMPLETE_REQUESTS"},
    {DRIVER_VERIFIER_IOMANAGER_VIOLATION, "DRIVER_VERIFIER_IOMANAGER_VIOLATION"},
    {PHASE1_INITIALIZATION_FAILED, "PHASE1_INITIALIZATION_FAILED"},
};

static volatile LONG KiBugCheckActive;
static volatile ULONG KiBugCheckProcessor = ~0u;    /* the one printing the blue screen */
ULONG_PTR KiBugCheckData[5];

/* Registered bug-check callbacks, guarded by KiBugCheckCallbackLock. */
static LIST_ENTRY KiBugCheckCallbackList = {&KiBugCheckCallbackList, &KiBugCheckCallbackList};
static KSPIN_LOCK KiBugCheckCallbackLock;

BOOLEAN KeRegisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord,
                                   PKBUGCHECK_CALLBACK_ROUTINE CallbackRoutine, PVOID Buffer,
                                   ULONG Length, PUCHAR Component)
{
    BOOLEAN inserted = FALSE;
    KIRQL irql;

    /* HIGH_LEVEL: the list is walked by the bug check, which may interrupt anything. */
    KeRaiseIrql(HIGH_LEVEL, &irql);
    KeAcquireSpinLockAtDpcLevel(&KiBugCheckCallbackLock);
    if (CallbackRecord->State == BufferEmpty) {
        CallbackRecord->CallbackRoutine = CallbackRoutine;
        CallbackRecord->Buffer = Buffer;
        CallbackRecord->Length = Length;
        CallbackRecord->Component = Component;
        CallbackRecord->Checksum = (ULONG_PTR)CallbackRoutine + (ULONG_PTR)Buffer + Length +
                                   (ULONG_PTR)Component;
        CallbackRecord->State = BufferInserted;
        InsertTailList(&KiBugCheckCallbackList, &CallbackRecord->Entry);
        inserted = TRUE;
    }
    KeReleaseSpinLockFromDpcLevel(&KiBugCheckCallbackLock);
    KeLowerIrql(irql);
    return inserted;
}

BOOLEAN KeDeregisterBugCheckCallback(PKBUGCHECK_CALLBACK_RECORD CallbackRecord)
{
    BOOLEAN removed = FALSE;
    KIRQL irql;

    KeRaiseIrql(HIGH_LEVEL, &irql);
    KeAcquireSpinLockAtDpcLevel(&KiBugCheckCallbackLock);
    if (CallbackRecord->State == BufferInserted) {
        RemoveEntryList(&CallbackRecord->Entry);
        CallbackRecord->State = BufferEmpty;
        removed = TRUE;
    }
    KeReleaseSpinLockFromDpcLevel(&KiBugCheckCallbackLock);
    KeLowerIrql(irql);
    return removed;
}

/*
 * Run every record not yet started. No lock: the machine is stopped, and
 * a record whose checksum no longer matches (its memory was overwritten)
 * is skipped, as NT does. A nested bug check skips records already
 * started, so a callback that faults is not called again.
 */
static void KiInvokeBugCheckCallbacks(void)
{
    PLIST_ENTRY e = KiBugCheckCallbackList.Flink;

    for (ULONG guard = 0; e != &KiBugCheckCallbackList && guard < 64; guard++) {
        PKBUGCHECK_CALLBACK_RECORD r = CONTAINING_RECORD(e, KBUGCHECK_CALLBACK_RECORD, Entry);
        e = e->Flink;
        if (r->State != BufferInserted ||
            r->Checksum != (ULONG_PTR)r->CallbackRoutine + (ULONG_PTR)r->Buffer + r->Length +
                               (ULONG_PTR)r->Component)
            continue;
        r->State = BufferStarted;
        r->CallbackRoutine(r->Buffer, r->Length);
        r->State = BufferFinished;
    }
}

PCSTR KiBugCheckCodeName(ULONG BugCheckCode)
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

    ULONG64 irql = KiGetCurrentIrqlCopy();

    _disable();
    KiWriteCr8(HIGH_LEVEL);             /* nothing runs under a blue screen */
    /*
     * One processor reports; any other that bug-checks meanwhile stops
     * where it is (it will be frozen anyway). On the reporting processor
     * itself a second entry is a fault while printing the blue screen,
     * which must not print it again.
     */
    if (__atomic_exchange_n(&KiBugCheckActive, 1, __ATOMIC_SEQ_CST)) {
        static const char msg[] = "\n*** nested bug check while reporting a bug check\n";
        if (KiBugCheckProcessor != KeGetCurrentPrcb()->Number)
            KiFreezeExecution();
        KiSerialWrite(msg, sizeof(msg) - 1);
        KiInvokeBugCheckCallbacks();
        KiHaltForever();
    }
    KiBugCheckProcessor = KeGetCurrentPrcb()->Number;
    KiFreezeOtherProcessors();

    KiBugCheckData[0] = Code;
    KiBugCheckData[1] = P1;
    KiBugCheckData[2] = P2;
    KiBugCheckData[3] = P3;
    KiBugCheckData[4] = P4;
    KiConsoleEnterBugCheck();
    DbgPrint("\n*** STOP: 0x%08X (0x%016llX,0x%016llX,0x%016llX,0x%016llX)\n", Code,
             (ULONG64)P1, (ULONG64)P2, (ULONG64)P3, (ULONG64)P4);
    DbgPrint("*** %s\n\n", KiBugCheckCodeName(Code));
    DbgPrint("A problem has been detected and Mica has been shut down to prevent damage.\n");
    DbgPrint("IRQL %llu  CR2 %016llx  CR3 %016llx\n", irql, __readcr2(), __readcr3());
    DbgPrint("Stopped by processor %u of %u; thread %p\n", KiBugCheckProcessor,
             (ULONG)KeNumberProcessors, KeGetCurrentPrcb()->CurrentThread);

    if (TrapFrame == NULL)                  /* raised while this thread handles a trap? */
        TrapFrame = KiGetTrapFrame(KeGetCurrentPrcb()->CurrentThread);
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

    KiInvokeBugCheckCallbacks();
    /* A person at the console gets the kd> shell to look around (kdbreak.c). */
    if (KdShellAfterBugCheck())
        KdEnterDebugger(TrapFrame, rip, rbp, (KIRQL)irql, KD_REASON_BUGCHECK);
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

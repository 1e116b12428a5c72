/*
 * trap.c - what happens after trapstub.asm: sort a trap frame out.
 *
 * Page faults go to the memory manager (MmAccessFault) once it is up,
 * with interrupts back on if the faulting code had them on.
 * An exception in kernel mode that nothing handles is fatal in NT, and it
 * is here: the report below (vector, error code, CR2, all registers, the
 * stack it ran on) is printed, then the bug check NT would raise:
 *   #PF not resolved           PAGE_FAULT_IN_NONPAGED_AREA (0x50)
 *   #DE #DB #BP #UD #GP        KMODE_EXCEPTION_NOT_HANDLED (0x1E) with the
 *                              NTSTATUS exception code NT maps it to
 *   NMI                        NMI_HARDWARE_FAILURE (0x80)
 *   #MC                        MACHINE_CHECK_EXCEPTION (0x9C)
 *   #DF and the rest           UNEXPECTED_KERNEL_MODE_TRAP (0x7F, vector)
 * Interrupt vectors (32-255) go to KiDispatchInterruptVector (interrupt.c).
 */
#include "ke_internal.h"
#include "../../mm/mm.h"

/* Page-fault error code bits (SDM vol. 3A, 4.7). */
#define PF_PRESENT 0x01
#define PF_WRITE   0x02
#define PF_USER    0x04
#define PF_RSVD    0x08
#define PF_INSTR   0x10

#define RPL_MASK  3                     /* CS & 3: the privilege level that trapped */

/*
 * PAGE_FAULT_IN_NONPAGED_AREA parameter 4, the type of fault. Learn lists 3
 * (wrong session) and 4 (non-canonical); neither applies here. Mica uses
 * 2 for "a page-table level is missing" (ReactOS's value; every not-present
 * address of the early tables is one) and 0 otherwise, as mm/fault.c does.
 */
#define NONPAGED_BUGCHECK_PTE_PRESENT            0x0
#define NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE 0x2

static const char *const KiExceptionNames[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
    "#OF overflow", "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved (15)",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD exception",
    "#VE virtualization", "#CP control protection", "reserved (22)", "reserved (23)",
    "reserved (24)", "reserved (25)", "reserved (26)", "reserved (27)",
    "#HV hypervisor injection", "#VC VMM communication", "#SX security", "reserved (31)",
};

VOID KiPrintRegisters(const KTRAP_FRAME *F)
{
    DbgPrint("RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", F->Rax, F->Rbx, F->Rcx, F->Rdx);
    DbgPrint("RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", F->Rsi, F->Rdi, F->Rbp, F->Rsp);
    DbgPrint("R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", F->R8, F->R9, F->R10, F->R11);
    DbgPrint("R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", F->R12, F->R13, F->R14, F->R15);
    DbgPrint("RIP=%016llx CS=%04llx SS=%04llx RFLAGS=%08llx\n", F->Rip, F->SegCs, F->SegSs, F->EFlags);
    DbgPrint("CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx CR8=%llx\n",
             __readcr0(), __readcr2(), __readcr3(), __readcr4(), __readcr8());
}

/*
 * Which trap a bug check reports is a property of the thread: a fault
 * handler can be preempted (interrupts are on), and the thread that runs
 * next and stops the machine must not print the first one's frame. So the
 * pointer lives in KTHREAD.TrapFrame (NT keeps one there too), saved and
 * restored around each nested trap; before the first thread exists the
 * KPRCB holds it.
 */
static PKTRAP_FRAME *KiTrapFrameSlot(void)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    return prcb->CurrentThread ? &prcb->CurrentThread->TrapFrame : &prcb->TrapFrame;
}

PKTRAP_FRAME KiGetTrapFrame(struct _KTHREAD *Thread)
{
    return Thread ? Thread->TrapFrame : KeGetCurrentPrcb()->TrapFrame;
}

VOID KiReportException(const KTRAP_FRAME *F)
{
    char where[96];
    ULONG64 currentRsp;

    __asm__ __volatile__("mov %%rsp, %0" : "=r"(currentRsp));
    if (!KeSymbolizeAddress(F->Rip, where, sizeof(where)))
        RtlSnprintf(where, sizeof(where), "?");
    DbgPrint("\n*** Exception %llu (%s), error code %llx, at %016llx %s\n", F->Vector,
             KiExceptionNames[F->Vector & 31], F->ErrorCode, F->Rip, where);
    if (F->Vector == EXCEPTION_PAGE_FAULT)
        DbgPrint("    CR2=%016llx: %s %s, %s\n", __readcr2(),
                 (F->ErrorCode & PF_INSTR) ? "execute" : (F->ErrorCode & PF_WRITE) ? "write" : "read",
                 (F->ErrorCode & PF_USER) ? "from user mode" : "from kernel mode",
                 (F->ErrorCode & PF_PRESENT) ? "protection violation" : "page not present");
    DbgPrint("    handled on the %s; interrupted code used the %s\n",
             KiDescribeStack(currentRsp), KiDescribeStack(F->Rsp));
    KiPrintRegisters(F);
}

static __attribute__((noreturn)) void KiUnhandledException(PKTRAP_FRAME F)
{
    ULONG64 v = F->Vector;

    switch (v) {
    case EXCEPTION_PAGE_FAULT:
        KiBugCheckWithFrame(PAGE_FAULT_IN_NONPAGED_AREA, __readcr2(),
                            F->ErrorCode & (PF_WRITE | PF_INSTR), F->Rip,
                            (F->ErrorCode & PF_PRESENT) ? NONPAGED_BUGCHECK_PTE_PRESENT
                                                        : NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE,
                            F);
    case EXCEPTION_DIVIDED_BY_ZERO:
        KiBugCheckWithFrame(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_INTEGER_DIVIDE_BY_ZERO,
                            F->Rip, 0, 0, F);
    case EXCEPTION_DEBUG:
        KiBugCheckWithFrame(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_SINGLE_STEP, F->Rip, 0, 0, F);
    case EXCEPTION_INT3:
        /* RIP points after the int3; NT reports the breakpoint's own address. */
        KiBugCheckWithFrame(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_BREAKPOINT, F->Rip - 1, 0, 0, F);
    case EXCEPTION_INVALID_OPCODE:
        KiBugCheckWithFrame(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_ILLEGAL_INSTRUCTION,
                            F->Rip, 0, 0, F);
    case EXCEPTION_GP_FAULT:
        /* NT: access violation with an unknown address (parameter 4 = -1). */
        KiBugCheckWithFrame(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_ACCESS_VIOLATION, F->Rip,
                            0, ~0ULL, F);
    case EXCEPTION_NMI:
        /* Another processor's bug check stops this one with an NMI (ipi.c). */
        if (KiFreezeRequested())
            KiFreezeExecution();
        KiBugCheckWithFrame(NMI_HARDWARE_FAILURE, 0, 0, 0, 0, F);
    case 18:
        KiBugCheckWithFrame(MACHINE_CHECK_EXCEPTION, 0, 0, 0, 0, F);
    default:
        KiBugCheckWithFrame(UNEXPECTED_KERNEL_MODE_TRAP, v, 0, 0, 0, F);
    }
}

/*
 * NT's KiPageFault: CR2 is read first (a fault taken once interrupts are on
 * would overwrite it), then interrupts go back on if the faulting code had
 * them on, so the clock keeps ticking through the fault and the fault can
 * be preempted. A bug check inside MmAccessFault reports this frame.
 */
static void KiPageFault(PKTRAP_FRAME TrapFrame)
{
    PVOID address = (PVOID)__readcr2();
    PKTRAP_FRAME *slot = KiTrapFrameSlot(), outer = *slot;

    *slot = TrapFrame;
    if (TrapFrame->EFlags & EFLAGS_IF_MASK)
        _enable();
    MmAccessFault((ULONG)TrapFrame->ErrorCode, address,
                  (TrapFrame->SegCs & RPL_MASK) ? UserMode : KernelMode, TrapFrame);
    _disable();                         /* the way out (iretq) restores the flag */
    *slot = outer;
}

VOID KiDispatchTrap(PKTRAP_FRAME TrapFrame)
{
    PKTRAP_FRAME *slot, outer;

    if (TrapFrame->Vector == EXCEPTION_PAGE_FAULT && KiMmInitialized) {
        KiPageFault(TrapFrame);
        return;
    }
    /* The kd> break-in's freeze: wait here, then go on as if nothing happened. */
    if (TrapFrame->Vector == EXCEPTION_NMI && !KiFreezeRequested() && KiDebuggerFreezeHere())
        return;
    if (TrapFrame->Vector < 32)
        KiUnhandledException(TrapFrame);
    /* An interrupt is no exception of the code it interrupted: a bug check
     * inside an ISR (or a thread switch on the way out) reports no frame,
     * and its backtrace walks through the interrupt into that code. */
    slot = KiTrapFrameSlot();
    outer = *slot;
    *slot = NULL;
    KiDispatchInterruptVector(TrapFrame);
    *slot = outer;
}

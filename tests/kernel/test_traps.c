/*
 * test_traps.c - exceptions and bug checks end the way NT ends them.
 *
 * Each test here is a bug-check test: it arms the stop code and parameters
 * it expects, then does the forbidden thing. The test passes only if the
 * kernel reports exactly that stop (tests/ktest.c checks the parameters,
 * tests/runner.py checks the blue screen's STOP line). Before the bug
 * check, trap.c prints the exception report (vector, error code, CR2,
 * registers, stack) - the serial logs in build/test-logs show it.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm.h"
#include "../ktest.h"

/* An address the early tables do not map: canonical, far above 4 GiB. */
#define KTEST_UNMAPPED_VA 0x00007F0000001000ULL
/* A non-canonical address: bits 63:48 do not copy bit 47, so #GP not #PF. */
#define KTEST_NONCANONICAL_VA 0x8000000000000000ULL

/* Instruction addresses the tests expect to see in the parameters. */
extern char KtestUd2Site[], KtestInt3Site[], KtestDivideSite[];

KTEST_BUGCHECK(bugcheck, manual, MANUALLY_INITIATED_CRASH)
{
    KtestExpectBugCheck(MANUALLY_INITIATED_CRASH, 1, 2, 3, 4);
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 1, 2, 3, 4);
}

KTEST_BUGCHECK(trap, page_fault_read, PAGE_FAULT_IN_NONPAGED_AREA)
{
    /* P2 = 0 (read), P3 = the faulting instruction, P4 = 2 (no page table). */
    KtestExpectBugCheck(PAGE_FAULT_IN_NONPAGED_AREA, KTEST_UNMAPPED_VA, 0, KTEST_ANY, 2);
    (void)*(volatile ULONG64 *)KTEST_UNMAPPED_VA;
}

KTEST_BUGCHECK(trap, page_fault_write, PAGE_FAULT_IN_NONPAGED_AREA)
{
    KtestExpectBugCheck(PAGE_FAULT_IN_NONPAGED_AREA, KTEST_UNMAPPED_VA + 8, 2, KTEST_ANY, 2);
    *(volatile ULONG64 *)(KTEST_UNMAPPED_VA + 8) = 1;
}

KTEST_BUGCHECK(trap, general_protection, KMODE_EXCEPTION_NOT_HANDLED)
{
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_ACCESS_VIOLATION, KTEST_ANY,
                        0, ~0ULL);
    (void)*(volatile ULONG64 *)KTEST_NONCANONICAL_VA;
}

KTEST_BUGCHECK(trap, invalid_opcode, KMODE_EXCEPTION_NOT_HANDLED)
{
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_ILLEGAL_INSTRUCTION,
                        (ULONG64)KtestUd2Site, 0, 0);
    __asm__ __volatile__(".globl KtestUd2Site\nKtestUd2Site: ud2");
}

KTEST_BUGCHECK(trap, breakpoint, KMODE_EXCEPTION_NOT_HANDLED)
{
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_BREAKPOINT,
                        (ULONG64)KtestInt3Site, 0, 0);
    __asm__ __volatile__(".globl KtestInt3Site\nKtestInt3Site: int3");
}

KTEST_BUGCHECK(trap, divide_error, KMODE_EXCEPTION_NOT_HANDLED)
{
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, (ULONG)STATUS_INTEGER_DIVIDE_BY_ZERO,
                        (ULONG64)KtestDivideSite, 0, 0);
    __asm__ __volatile__("xor %%ecx, %%ecx\n\t"
                         ".globl KtestDivideSite\nKtestDivideSite: divl %%ecx"
                         : : : "eax", "ecx", "edx");
}

/*
 * A stack that runs into unmapped memory: the #PF cannot push its frame on
 * that stack, so the CPU raises #DF, which runs on its own IST stack and is
 * reported as UNEXPECTED_KERNEL_MODE_TRAP (P1 = 8) instead of resetting.
 */
KTEST_BUGCHECK(trap, double_fault_on_ist, UNEXPECTED_KERNEL_MODE_TRAP)
{
    KtestExpectBugCheck(UNEXPECTED_KERNEL_MODE_TRAP, EXCEPTION_DOUBLE_FAULT, 0, 0, 0);
    __asm__ __volatile__("mov %0, %%rsp\n\t"
                         "push %%rax"
                         : : "r"(KTEST_UNMAPPED_VA + 0x800) : "memory");
}

/* ---- page faults: interrupts on, preemptible, one frame per thread ------------------------ */

/*
 * NT services a page fault with interrupts enabled when the faulting code
 * had them enabled, so the clock keeps ticking and the fault can be
 * preempted (the page-file path waits). A fault taken with interrupts
 * disabled cannot be allowed to wait: on a page that is not present it is
 * IRQL_NOT_LESS_OR_EQUAL, as at DISPATCH_LEVEL, with 0xFF in parameter 2
 * (no IRQL is low enough with interrupts off).
 */
#define KTP_TAG 'ptrT'

KTEST_BUGCHECK(trap, paged_pool_fault_with_interrupts_off, IRQL_NOT_LESS_OR_EQUAL)
{
    volatile UCHAR *p = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, KTP_TAG);

    if (p == NULL)
        return;
    _disable();
    /* (address, 0xFF: interrupts off, 0 = read, the instruction) */
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)p, 0xFF, 0, KTEST_ANY);
    (void)p[0];
}

/*
 * Thread A touches fresh paged-pool pages (each a demand-zero fault, most
 * of it spent zeroing under the PFN lock) while thread B, at the same
 * priority, gets the processor at every other quantum end. Interrupts are
 * on during the faults, so A is often preempted in the middle of one:
 * KiGetTrapFrame(A) is A's #PF frame when B runs. B itself is inside no
 * trap, so a bug check on B must not report A's frame.
 */
#define KTP_PAGES 64
#define KTP_SWITCHES_WANTED 8

static PKTHREAD KtpThreadA;
static volatile BOOLEAN KtpStop;
static volatile ULONG KtpSwitchIns, KtpAMidFault, KtpWrongFrame;

static VOID KtpWatcher(PVOID Context)
{
    PKTHREAD self = KeGetCurrentThread();
    ULONG64 seen = self->ContextSwitches;

    UNREFERENCED_PARAMETER(Context);
    while (!KtpStop) {
        ULONG64 now = *(volatile ULONG64 *)&self->ContextSwitches;
        if (now == seen)
            continue;                   /* still the same turn on the processor */
        seen = now;
        KtpSwitchIns++;
        if (KiGetTrapFrame(KtpThreadA) != NULL)
            KtpAMidFault++;
        if (KiGetTrapFrame(self) != NULL)
            KtpWrongFrame++;
    }
}

KTEST(trap, page_fault_is_preemptible_and_frames_are_per_thread)
{
    HANDLE handle;
    PVOID thread;
    ULONGLONG deadline = KeQueryInterruptTime() + 30ULL * 1000 * 10000;   /* 30 s at most */
    ULONG rounds = 0;

    /* A and B take turns on one processor (with several, B would just run beside A). */
    KAFFINITY pinned = KtestOnOneProcessorBegin();

    KtpThreadA = KeGetCurrentThread();
    KtpStop = FALSE;
    KtpSwitchIns = KtpAMidFault = KtpWrongFrame = 0;
    KASSERT_EQ(KtestCreateThread(&handle, KtpWatcher, NULL), STATUS_SUCCESS);
    while ((KtpAMidFault < KTP_SWITCHES_WANTED || KtpSwitchIns < KTP_SWITCHES_WANTED) &&
           KeQueryInterruptTime() < deadline) {
        volatile UCHAR *p = ExAllocatePoolWithTag(PagedPool, KTP_PAGES * PAGE_SIZE, KTP_TAG);
        if (p == NULL)
            break;
        for (ULONG i = 0; i < KTP_PAGES; i++)
            (void)p[i * PAGE_SIZE];     /* first touch: a demand-zero fault */
        ExFreePoolWithTag((PVOID)p, KTP_TAG);
        rounds++;
    }
    KtpStop = TRUE;
    KASSERT_EQ(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &thread, NULL),
               STATUS_SUCCESS);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    ZwClose(handle);
    KtestPrint("# %u rounds of %u faults; watcher switched in %u times, %u with A mid-fault\n",
               rounds, KTP_PAGES, KtpSwitchIns, KtpAMidFault);
    KEXPECT_GE(KtpAMidFault, KTP_SWITCHES_WANTED);
    KEXPECT_EQ(KtpWrongFrame, 0);
    KEXPECT_EQ(KiGetTrapFrame(KeGetCurrentThread()), NULL);
    KtestOnOneProcessorEnd(pinned);
}

/*
 * Before Mm is up, trap.c reports page faults itself. A protection fault on
 * a present page is 0x50 with parameter 4 = 0: Learn's types 3 (wrong
 * session) and 4 (non-canonical) do not apply. (The test pretends Mm is
 * not up yet and writes to the read-only kernel data.)
 */
static const ULONG64 KtpConstant = 0x5A5A5A5A;

KTEST_BUGCHECK(trap, protection_fault_before_mm, PAGE_FAULT_IN_NONPAGED_AREA)
{
    KtestExpectBugCheck(PAGE_FAULT_IN_NONPAGED_AREA, (ULONG64)&KtpConstant, 2, KTEST_ANY, 0);
    KiMmInitialized = FALSE;
    *(volatile ULONG64 *)&KtpConstant = 1;
}

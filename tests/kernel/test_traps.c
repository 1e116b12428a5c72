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
#include "../../kernel/ke_internal.h"
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

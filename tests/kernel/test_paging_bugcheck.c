/*
 * test_paging_bugcheck.c - page protections end in NT's stop codes.
 *
 * Each test is a bug-check test (it boots alone, see tests/ktest.h): it
 * arms the stop code and parameters it expects, then breaks a rule the
 * page tables enforce - writing to .text, .rodata or a read-only I/O
 * mapping (ATTEMPTED_WRITE_TO_READONLY_MEMORY 0xBE: address, PTE), running
 * code in .data or a system-PTE mapping (ATTEMPTED_EXECUTE_OF_NOEXECUTE_
 * MEMORY 0xFC), touching the boot stack's guard page or overflowing into
 * it (#PF on a dead stack becomes #DF on its IST stack: 0x7F, 8), and
 * misusing the system-PTE and hyperspace routines.
 *
 * Where a parameter is a PTE, the test reads the PTE just before the fault
 * and makes sure its accessed/dirty bits are already set, so the value the
 * fault handler sees is the one armed.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define MI_READONLY_FAULT_TAG 0xA    /* fault.c: ATTEMPTED_WRITE_TO_READONLY_MEMORY P4 */

/* Code to overwrite: this function has run, so its PTE's accessed bit is set. */
static __attribute__((noinline)) ULONG KtpTextTarget(ULONG X)
{
    __asm__ __volatile__("" : "+r"(X));
    return X + 1;
}

static const ULONG64 KtpReadOnlyData[4] = {0x0123456789ABCDEFULL, 1, 2, 3};

/* A `ret` in .data (initialized, so not .bss): executable nowhere. */
static UCHAR KtpRetInData[64] __attribute__((aligned(64))) = {0xC3};

KTEST_BUGCHECK(paging, write_to_text, ATTEMPTED_WRITE_TO_READONLY_MEMORY)
{
    volatile UCHAR *target = (volatile UCHAR *)KtpTextTarget + 1;
    ULONG64 pte;

    KtestExpectBugCheck(ATTEMPTED_WRITE_TO_READONLY_MEMORY, KTEST_ANY, KTEST_ANY, KTEST_ANY,
                        KTEST_ANY);
    (void)KtpTextTarget(1);
    (void)*target;
    pte = MiGetPteAddress(target)->Long;
    KtestExpectBugCheck(ATTEMPTED_WRITE_TO_READONLY_MEMORY, (ULONG64)target, pte, KTEST_ANY,
                        MI_READONLY_FAULT_TAG);
    *target = 0xCC;
}

KTEST_BUGCHECK(paging, write_to_rodata, ATTEMPTED_WRITE_TO_READONLY_MEMORY)
{
    volatile ULONG64 *target = (volatile ULONG64 *)&KtpReadOnlyData[1];
    ULONG64 pte;

    KtestExpectBugCheck(ATTEMPTED_WRITE_TO_READONLY_MEMORY, KTEST_ANY, KTEST_ANY, KTEST_ANY,
                        KTEST_ANY);
    (void)*target;
    pte = MiGetPteAddress(target)->Long;
    KtestExpectBugCheck(ATTEMPTED_WRITE_TO_READONLY_MEMORY, (ULONG64)target, pte, KTEST_ANY,
                        MI_READONLY_FAULT_TAG);
    *target = 42;
}

KTEST_BUGCHECK(paging, execute_data, ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY)
{
    void (*volatile fn)(void) = (void (*)(void))(ULONG_PTR)KtpRetInData;
    ULONG64 pte;

    KtestExpectBugCheck(ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, KTEST_ANY, KTEST_ANY, KTEST_ANY,
                        KTEST_ANY);
    /* Write the `ret` now: the page is then accessed and dirty for good. */
    *(volatile UCHAR *)KtpRetInData = 0xC3;
    pte = MiGetPteAddress(KtpRetInData)->Long;
    KtestExpectBugCheck(ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, (ULONG64)KtpRetInData, pte,
                        KTEST_ANY, 0);
    fn();
}

KTEST_BUGCHECK(paging, execute_io_space_mapping, ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY)
{
    /* The same `ret`, seen through MmMapIoSpace: system-PTE mappings are NX too. */
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KtpRetInData);
    PUCHAR va = MmMapIoSpace(pa, sizeof(KtpRetInData), MmCached);
    void (*volatile fn)(void) = (void (*)(void))(ULONG_PTR)va;

    KtestExpectBugCheck(ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, (ULONG64)va, KTEST_ANY, KTEST_ANY,
                        0);
    if (va == NULL || va[0] != 0xC3)
        return;             /* fails: no bug check */
    fn();
}

KTEST_BUGCHECK(paging, write_to_readonly_io_mapping, ATTEMPTED_WRITE_TO_READONLY_MEMORY)
{
    static ULONG64 buffer[8] __attribute__((aligned(64))) = {7};
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(buffer);
    volatile ULONG64 *va = MmMapIoSpaceEx(pa, sizeof(buffer), PAGE_READONLY);
    ULONG64 pte;

    if (va == NULL || va[0] != 7)
        return;
    pte = MiGetPteAddress(va)->Long;    /* accessed: va[0] was just read */
    KtestExpectBugCheck(ATTEMPTED_WRITE_TO_READONLY_MEMORY, (ULONG64)&va[3], pte, KTEST_ANY,
                        MI_READONLY_FAULT_TAG);
    va[3] = 1;
}

/*
 * A frame beyond the processor's physical address width sets reserved PTE
 * bits: the access faults with RSVD in the error code. That is no
 * translation (0x50, P4 = 0: the PTE itself is there), never a "stale TLB
 * entry" to retry - real processors also set P in that error code.
 */
KTEST_BUGCHECK(paging, reserved_bit_in_pte, PAGE_FAULT_IN_NONPAGED_AREA)
{
    ULONG a, b, c, d, width;
    PHYSICAL_ADDRESS pa;
    volatile ULONG64 *va;

    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000));
    if (a < 0x80000008)
        return;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000008));
    width = a & 0xFF;
    if (width >= 52)
        return;             /* no reserved frame bits to set: fails */
    pa.QuadPart = 1LL << width;
    va = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
    if (va == NULL)
        return;
    KtestExpectBugCheck(PAGE_FAULT_IN_NONPAGED_AREA, (ULONG64)va, 0, KTEST_ANY, 0);
    (void)*va;
}

KTEST_BUGCHECK(paging, guard_page_read, PAGE_FAULT_IN_NONPAGED_AREA)
{
    /* P2 = 0 (read), P4 = 0: the page table is there, the PTE is not. */
    KtestExpectBugCheck(PAGE_FAULT_IN_NONPAGED_AREA, (ULONG64)KiBootStackGuard + 0x800, 0,
                        KTEST_ANY, 0);
    (void)*(volatile ULONG64 *)(KiBootStackGuard + 0x800);
}

/*
 * Recursion down the boot stack into KiBootStackGuard. Each frame's buffer
 * is handed to the next call and read after it returns, so the compiler
 * cannot reuse the frame (no tail call, no loop); the depth limit is never
 * reached but keeps -Winfinite-recursion quiet.
 */
static volatile ULONG64 KtpRecursionLimit = ~0ULL;
static volatile ULONG64 KtpDeepest;

static __attribute__((noinline)) ULONG64 KtpRecurse(volatile UCHAR *Parent, ULONG64 Depth)
{
    volatile UCHAR frame[256];

    if (Depth >= KtpRecursionLimit)
        return 0;
    frame[0] = (UCHAR)Depth;
    frame[255] = Parent ? Parent[0] : 0;
    KtpDeepest = (ULONG64)frame;
    return KtpRecurse(frame, Depth + 1) + frame[255];
}

KTEST_BUGCHECK(paging, boot_stack_overflow_hits_guard, UNEXPECTED_KERNEL_MODE_TRAP)
{
    ULONG64 rsp;

    __asm__ __volatile__("mov %%rsp, %0" : "=r"(rsp));
    /* The #PF cannot be delivered on the dead stack: #DF on its own IST stack. */
    KtestExpectBugCheck(UNEXPECTED_KERNEL_MODE_TRAP, EXCEPTION_DOUBLE_FAULT, 0, 0, 0);
    if (rsp <= (ULONG64)KiBootStack || rsp > (ULONG64)KiBootStackTop)
        return;             /* not on the boot stack: fails */
    (void)KtpRecurse(NULL, 0);
}

KTEST_BUGCHECK(paging, unmap_io_space_twice, MEMORY_MANAGEMENT)
{
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KtpRetInData);
    PUCHAR va = MmMapIoSpace(pa, PAGE_SIZE, MmCached);

    if (va == NULL)
        return;
    MmUnmapIoSpace(va, PAGE_SIZE);
    /* pagetable.c: unmapping a PTE that is not valid (0x41284, address). */
    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x41284, (ULONG64)PAGE_ALIGN(va), 0, 0);
    MmUnmapIoSpace(va, PAGE_SIZE);
}

KTEST_BUGCHECK(paging, unmap_io_space_not_system_pte, SYSTEM_PTE_MISUSE)
{
    static ULONG64 notMapped[4];

    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x101, (ULONG64)notMapped, sizeof(notMapped), 0);
    MmUnmapIoSpace(notMapped, sizeof(notMapped));
}

KTEST_BUGCHECK(paging, release_system_ptes_twice, SYSTEM_PTE_MISUSE)
{
    PMMPTE pte = MiReserveSystemPtes(4, SystemPteSpace);

    if (pte == NULL)
        return;
    MiReleaseSystemPtes(pte, 4, SystemPteSpace);
    /* sysptes.c: (0x101, first PTE, count, index of the first free one).
     * Four PTEs go to the cache of small runs, which must catch this too. */
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x101, (ULONG64)pte, 4, 0);
    MiReleaseSystemPtes(pte, 4, SystemPteSpace);
}

KTEST_BUGCHECK(paging, hyperspace_slot_mapped_twice, MEMORY_MANAGEMENT)
{
    PFN_NUMBER first = MmGetPhysicalAddress(KtpRetInData).QuadPart >> PAGE_SHIFT;
    PFN_NUMBER second = MmGetPhysicalAddress((PVOID)KtpReadOnlyData).QuadPart >> PAGE_SHIFT;
    KIRQL irql, irql2;
    PVOID va = MiMapPageInHyperSpace(first, &irql);
    ULONG64 pte = MiGetPteAddress(va)->Long;

    /* hyperspace.c: the slot's PTE is not free: Learn's "corrupted PTE" (0x41792,
     * PTE address, low and high halves of the PTE). */
    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x41792, (ULONG64)MiGetPteAddress(va), (ULONG)pte,
                        pte >> 32);
    (void)MiMapPageInHyperSpace(second, &irql2);
}

/* A run too large for the cache of small runs goes straight back to the tree. */
KTEST_BUGCHECK(paging, release_large_system_pte_run_twice, SYSTEM_PTE_MISUSE)
{
    PMMPTE pte = MiReserveSystemPtes(MI_SYSPTE_CACHED_SIZES + 1, SystemPteSpace);

    if (pte == NULL)
        return;
    MiReleaseSystemPtes(pte, MI_SYSPTE_CACHED_SIZES + 1, SystemPteSpace);
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x101, (ULONG64)pte, MI_SYSPTE_CACHED_SIZES + 1, 0);
    MiReleaseSystemPtes(pte, MI_SYSPTE_CACHED_SIZES + 1, SystemPteSpace);
}

/* PFN_LIST_CORRUPT 0x99: (0x99, PFN, page state, 0) - Learn's parameter 4 is 0. */
KTEST_BUGCHECK(paging, free_locked_page, PFN_LIST_CORRUPT)
{
    PFN_NUMBER page = MmGetPhysicalAddress(KtpRetInData).QuadPart >> PAGE_SHIFT;
    KIRQL irql;

    /* A kernel-image page: active and locked for ever. */
    if (MI_PFN_ELEMENT(page)->PageLocation != ActiveAndValid ||
        !(MI_PFN_ELEMENT(page)->Flags & MI_PFN_LOCKED))
        return;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    KtestExpectBugCheck(PFN_LIST_CORRUPT, 0x99, page, ActiveAndValid, 0);
    MiFreeActivePage(page);
}

/* The boot allocator is for phase 0 only: MEMORY_MANAGEMENT with Mica's own 0x4150. */
KTEST_BUGCHECK(paging, boot_allocator_after_phase0, MEMORY_MANAGEMENT)
{
    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x4150, 1, 0, 0);
    MiBootAllocatePages(1, FALSE);
}

/*
 * fault.c - MmAccessFault: what a page fault in system space means.
 *
 * trap.c passes the #PF error code, CR2, the mode and the trap frame, with
 * interrupts enabled if the faulting code had them enabled (as NT's
 * KiPageFault does), so the clock keeps running and a fault can be
 * preempted - and, with a page file, wait for its read. The one fault
 * that is resolved is the first touch of a committed paged-pool page
 * (demand zero, poolpage.c), at IRQL <= APC_LEVEL, and with a page file a
 * paged-out pool page or page of a pageable image section (pager.c,
 * pagesec.c). Special pool's guard
 * and freed pages bug check with 0xCD / 0xCC (special.c). Every other
 * fault ends in NT's bug check for its kind:
 *   - on a not-present page at IRQL > APC_LEVEL, or with interrupts
 *     disabled (a fault that may not wait): IRQL_NOT_LESS_OR_EQUAL (0xA:
 *     address, IRQL - 0xFF when interrupts were off -, access, RIP), or
 *     DRIVER_IRQL_NOT_LESS_OR_EQUAL (0xD1, same parameters) when the
 *     faulting code is a driver's (linker.ld keeps drivers' code apart);
 *   - not present: PAGE_FAULT_IN_NONPAGED_AREA (0x50: address, 0 read /
 *     2 write / 0x10 execute, RIP, 2 if a page-table level is missing
 *     else 0) - this includes guard pages;
 *   - a write to a present read-only page: ATTEMPTED_WRITE_TO_READONLY_MEMORY
 *     (0xBE: address, PTE, trap frame, 0xA);
 *   - not present, a user address, and a __try active (kernel/ke/ke.h):
 *     STATUS_ACCESS_VIOLATION raised into that __try;
 *   - an instruction fetch from a present no-execute page:
 *     ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY (0xFC: address, PTE, trap frame, 0).
 */
#include "pool_internal.h"

#define PF_PRESENT 0x01
#define PF_WRITE   0x02
#define PF_RSVD    0x08
#define PF_INSTR   0x10
#define NONPAGED_BUGCHECK_FREED_PTE              0x0
#define NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE 0x2
#define MI_READONLY_FAULT_TAG 0xA
#define MI_IRQL_INTERRUPTS_DISABLED 0xFF  /* parameter 2 of 0xA for a fault with IF = 0 */

typedef struct _MI_FAULT_FRAME {        /* the part of KTRAP_FRAME we need */
    ULONG64 Gpr[15], Vector, ErrorCode, Rip;
} MI_FAULT_FRAME;

/* trap.c enables interrupts for the fault iff the faulting code had them on. */
static BOOLEAN MiInterruptsWereEnabled(void)
{
    return (__readeflags() & EFLAGS_IF_MASK) != 0;
}

/* Did the fault come from a driver's code? NT names the stop after the
 * faulting code: DRIVER_IRQL_NOT_LESS_OR_EQUAL (0xD1) for a driver's,
 * IRQL_NOT_LESS_OR_EQUAL (0xA) for the kernel's; same parameters. */
static BOOLEAN MiIsDriverCode(ULONG64 Rip)
{
    return Rip >= (ULONG64)KiDriverTextStart && Rip < (ULONG64)KiDriverTextEnd;
}

NTSTATUS MmAccessFault(ULONG FaultStatus, PVOID VirtualAddress, KPROCESSOR_MODE PreviousMode,
                       PVOID TrapInformation)
{
    const MI_FAULT_FRAME *frame = TrapInformation;
    ULONG64 rip = frame ? frame->Rip : 0;
    ULONG64 access = FaultStatus & (PF_WRITE | PF_INSTR);
    KIRQL irql = KeGetCurrentIrql();
    ULONG level;
    PMMPTE pte;

    UNREFERENCED_PARAMETER(PreviousMode);
    /* The common case first: a not-present paged-pool page at a level that
     * may wait (pager.c: demand zero, soft or hard fault). Paged pool's
     * page tables exist for every allocated page, so no walk is needed. */
    if (!(FaultStatus & (PF_PRESENT | PF_RSVD | PF_INSTR)) && irql <= APC_LEVEL &&
        MiIsPagedPoolAddress(VirtualAddress) && MiInterruptsWereEnabled() &&
        MiResolvePagedPoolFault(VirtualAddress))
        return STATUS_SUCCESS;
    /* A pageable section of the image (mm/pagesec.c), code or data, paged
     * out: the same resolution (an instruction fetch included). */
    if (!(FaultStatus & (PF_PRESENT | PF_RSVD)) && irql <= APC_LEVEL && MiInterruptsWereEnabled() &&
        MiIsPageableImageAddress(VirtualAddress) && MiResolvePagedPoolFault(VirtualAddress))
        return STATUS_SUCCESS;
    pte = MiWalkToPte(VirtualAddress, &level);

    /* A reserved bit set in an entry (a frame past the processor's physical
     * address width, say) means no translation, whatever the P bit says:
     * processors report P = 1 there, and "retry" would fault forever. */
    if (!(FaultStatus & PF_PRESENT) || (FaultStatus & PF_RSVD) || pte == NULL) {
        /* Special pool's guard and freed pages have their own stop codes. */
        MiCheckSpecialPoolFault(VirtualAddress, (FaultStatus & PF_WRITE) != 0, (PVOID)rip);
        /* A fault that cannot wait: at DISPATCH_LEVEL or above, or with
         * interrupts off (reported as IRQL 0xFF: no level is low enough). */
        if (irql > APC_LEVEL || !MiInterruptsWereEnabled())
            KeBugCheckEx(MiIsDriverCode(rip) ? DRIVER_IRQL_NOT_LESS_OR_EQUAL : IRQL_NOT_LESS_OR_EQUAL,
                         (ULONG_PTR)VirtualAddress,
                         irql > APC_LEVEL ? irql : MI_IRQL_INTERRUPTS_DISABLED,
                         (FaultStatus & PF_INSTR) ? 8 : (FaultStatus & PF_WRITE) ? 1 : 0, rip);
        /* A kernel-mode access to a user address (Mica's user space is
         * empty) inside a __try is an access violation the __try gets, as
         * in NT (ProbeForWrite relies on it); outside one it stays a bug
         * check. Kernel addresses are never caught, as in NT. */
        if ((ULONG64)VirtualAddress < MM_USER_PROBE_ADDRESS && KiExceptionHandlerActive())
            KiRaiseException(STATUS_ACCESS_VIOLATION, (PVOID)rip);
        /* Paged pool that is committed but not yet touched: demand zero. */
        if (!(FaultStatus & (PF_RSVD | PF_INSTR)) && MiResolvePagedPoolFault(VirtualAddress))
            return STATUS_SUCCESS;
        KeBugCheckEx(PAGE_FAULT_IN_NONPAGED_AREA, (ULONG_PTR)VirtualAddress, access, rip,
                     level > 1 ? NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE
                               : NONPAGED_BUGCHECK_FREED_PTE);
    }
    if ((FaultStatus & PF_WRITE) && !(pte->Long & MM_PTE_WRITE))
        KeBugCheckEx(ATTEMPTED_WRITE_TO_READONLY_MEMORY, (ULONG_PTR)VirtualAddress, pte->Long,
                     (ULONG_PTR)TrapInformation, MI_READONLY_FAULT_TAG);
    if ((FaultStatus & PF_INSTR) && (pte->Long & MM_PTE_NO_EXECUTE))
        KeBugCheckEx(ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, (ULONG_PTR)VirtualAddress, pte->Long,
                     (ULONG_PTR)TrapInformation, 0);
    /* Present and permitted: a stale TLB entry; it is gone after the fault. */
    MiFlushTbEntry(VirtualAddress);
    return STATUS_SUCCESS;
}

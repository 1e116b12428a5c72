/*
 * kdanalyze.c - what !analyze says about a stop code: NT's explanation of
 * the bug check and of each of its four parameters (Microsoft Learn's "Bug
 * Check Code Reference", in our words), so a student reading a blue screen
 * knows that Arg1 of 0xA is the address touched and Arg2 the IRQL.
 *
 * Several codes (BAD_POOL_CALLER, BAD_POOL_HEADER, MEMORY_MANAGEMENT,
 * PFN_LIST_CORRUPT, SYSTEM_PTE_MISUSE, the verifier's) say in Arg1 which
 * violation it was, and the other three mean something different for
 * each: those have a row per Arg1 value Mica raises, then a row for any
 * other value. A row whose Subtype is KD_ANY_SUBTYPE matches any Arg1.
 */
#include "kd_internal.h"
#include "../io/iop.h"
#include "../hal/dma.h"

#define KD_ANY_SUBTYPE (~(ULONG64)0)

typedef struct _KD_BUGCHECK_HELP {
    ULONG Code;
    ULONG64 Subtype;            /* Arg1's value this row is for, or KD_ANY_SUBTYPE */
    PCSTR Text;
    PCSTR Arg[4];
} KD_BUGCHECK_HELP;

#define SUBTYPE "the kind of violation (the text above)"

static const KD_BUGCHECK_HELP KdpBugCheckHelp[] = {
    {IRQL_NOT_GREATER_OR_EQUAL, KD_ANY_SUBTYPE,
     "A routine was called at an IRQL lower than the one it needs.",
     {"the IRQL the caller ran at", "the IRQL required", "0", "0"}},
    {IRQL_NOT_LESS_OR_EQUAL, KD_ANY_SUBTYPE,
     "Kernel code touched a pageable or invalid address at an IRQL too high to take a page\n"
     "fault (DISPATCH_LEVEL or above), or touched an address that is not valid at all.",
     {"memory referenced", "IRQL at the time of the reference",
      "bit 0: 0 read, 1 write; bit 3: 1 an instruction fetch", "address of the instruction that referenced memory"}},
    {DRIVER_IRQL_NOT_LESS_OR_EQUAL, KD_ANY_SUBTYPE,
     "A driver touched a pageable or invalid address at an IRQL too high (DISPATCH_LEVEL or above).",
     {"memory referenced", "IRQL at the time of the reference", "0 read, 1 write, 8 execute",
      "address of the instruction that referenced memory"}},
    {MAXIMUM_WAIT_OBJECTS_EXCEEDED, KD_ANY_SUBTYPE,
     "KeWaitForMultipleObjects was given more objects than it can wait on without a wait-block array.",
     {"reserved (Mica: the number of objects given)", "0", "0", "0"}},
    {SPIN_LOCK_ALREADY_OWNED, KD_ANY_SUBTYPE,
     "A processor tried to acquire a spin lock it already holds (it would spin forever).",
     {"the spin lock's address", "reserved (Mica: the owner value it held)", "reserved",
      "reserved (Mica: the caller's address)"}},
    {SPIN_LOCK_NOT_OWNED, KD_ANY_SUBTYPE, "A spin lock was released by a processor that does not hold it.",
     {"the spin lock's address", "reserved (Mica: the owner value it held)", "reserved",
      "reserved (Mica: the caller's address)"}},
    {THREAD_NOT_MUTEX_OWNER, KD_ANY_SUBTYPE, "A thread released a mutex it does not own.",
     {"the mutex", "its owner thread", "the releasing thread", "0"}},
    {REFERENCE_BY_POINTER, KD_ANY_SUBTYPE, "An object's reference count went below zero (one dereference too many).",
     {"the type of the object whose count is being lowered", "the object", "reserved", "reserved"}},
    {KERNEL_APC_PENDING_DURING_EXIT, KD_ANY_SUBTYPE,
     "A thread ended with kernel APCs disabled or pending (an unmatched KeEnterCriticalRegion).",
     {"the APC found pending (0: none, the count was the problem)", "the thread's APC disable count",
      "the current IRQL", "reserved"}},
    {KMODE_EXCEPTION_NOT_HANDLED, KD_ANY_SUBTYPE, "Kernel code raised an exception that no handler caught.",
     {"the exception code", "the address where it happened", "exception parameter 0",
      "exception parameter 1 (for an access violation: the address touched)"}},
    {SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, KD_ANY_SUBTYPE,
     "A system thread raised an exception that no handler caught.",
     {"the exception code", "the address where it happened", "the exception record", "the context record"}},
    {UNEXPECTED_KERNEL_MODE_TRAP, KD_ANY_SUBTYPE,
     "The processor raised a trap the kernel cannot handle: 8 is a double fault (often a\n"
     "kernel stack overflow), 0 a divide error, 6 an invalid opcode, 0xD a general protection fault.",
     {"the trap (exception vector)", "0", "0", "0"}},
    {NMI_HARDWARE_FAILURE, KD_ANY_SUBTYPE, "A non-maskable interrupt reported a hardware failure.",
     {"0", "0", "0", "0"}},
    {MACHINE_CHECK_EXCEPTION, KD_ANY_SUBTYPE, "The processor reported a machine check (a hardware error).",
     {"the machine-check bank", "its status (low half)", "its status (high half)", "0"}},
    {PHASE0_INITIALIZATION_FAILED, KD_ANY_SUBTYPE, "The kernel could not finish phase 0 of its start-up.",
     {"reserved (Mica: the NTSTATUS that failed)", "reserved (Mica: where, or a size)", "reserved", "reserved"}},
    {PHASE1_INITIALIZATION_FAILED, KD_ANY_SUBTYPE, "The kernel could not finish phase 1 of its start-up.",
     {"the NTSTATUS that failed", "where (the caller's code)", "0", "0"}},
    {INSTALL_MORE_MEMORY, KD_ANY_SUBTYPE, "There is not enough physical memory to start the kernel.",
     {"the number of physical pages found", "the lowest physical page", "the highest physical page", "0"}},
    {NO_PAGES_AVAILABLE, KD_ANY_SUBTYPE, "No free physical page was left to give to a request that must not fail.",
     {"the number of dirty pages", "the number of physical pages", "the extended commit value", "the total committed pages"}},
    {NO_MORE_SYSTEM_PTES, KD_ANY_SUBTYPE, "System PTE space is exhausted (often a driver that maps and never unmaps).",
     {"the PTE type: 0 system expansion, 1 nonpaged pool expansion", "the size of the failed request (PTEs)",
      "the total free system PTEs", "the total system PTEs"}},
    {MUST_SUCCEED_POOL_EMPTY, KD_ANY_SUBTYPE, "A must-succeed pool allocation could not be satisfied.",
     {"the size requested", "the nonpaged pool pages in use", "the number of requests larger than a page",
      "the pages available"}},
    {PAGE_FAULT_IN_NONPAGED_AREA, KD_ANY_SUBTYPE,
     "Kernel code touched memory that is not there: a freed block, an unmapped address or a\n"
     "bad pointer (the address is in Arg1).",
     {"memory referenced", "0 read, 2 write, 10 execute", "address of the instruction that referenced memory",
      "the type of page fault (reserved)"}},
    {KERNEL_DATA_INPAGE_ERROR, KD_ANY_SUBTYPE, "A page of kernel data could not be read back from the paging file.",
     {"the lock type or the PTE", "the I/O status", "the PTE contents or the current process", "the faulting address"}},
    {ATTEMPTED_WRITE_TO_READONLY_MEMORY, KD_ANY_SUBTYPE, "Kernel code wrote to a read-only page (code or constant data).",
     {"the virtual address written", "the PTE contents", "reserved", "reserved"}},
    {ATTEMPTED_EXECUTE_OF_NOEXECUTE_MEMORY, KD_ANY_SUBTYPE,
     "The processor fetched an instruction from a no-execute page (pool, stack or data).",
     {"the virtual address executed", "the PTE contents", "reserved", "reserved"}},
    {IRQL_UNEXPECTED_VALUE, KD_ANY_SUBTYPE, "The IRQL was not what it should be (a raise and lower that do not match).",
     {"(IRQL found << 16) | (IRQL expected << 8) | where it was checked", "the ISR or DPC routine",
      "the interrupt or DPC object", "0"}},
    {ATTEMPTED_SWITCH_FROM_DPC, KD_ANY_SUBTYPE, "A DPC routine tried to wait, yield or switch threads (it must not block).",
     {"the thread switched from", "the thread switched to", "reserved (Mica: the first thread's stack base)",
      "reserved"}},
    {MANUALLY_INITIATED_CRASH, KD_ANY_SUBTYPE, "The bug check was asked for on purpose (kd> .crash, or a keyboard crash).",
     {"0", "0", "0", "0"}},
    {NO_MORE_IRP_STACK_LOCATIONS, KD_ANY_SUBTYPE,
     "IoCallDriver was called with an IRP that has no stack location left for the next driver.",
     {"the IRP", "0", "0", "0"}},
    {MULTIPLE_IRP_COMPLETE_REQUESTS, KD_ANY_SUBTYPE, "An IRP was completed twice (IoCompleteRequest on a completed IRP).",
     {"the IRP", "0", "0", "0"}},
    {SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, KD_ANY_SUBTYPE,
     "Special pool found a block whose guard bytes or header were overwritten, or a bad\n"
     "allocation or free; Arg4 says which, and Arg1-Arg3 depend on it.",
     {"the block (or the IRQL, for an IRQL violation)", "depends on Arg4", "depends on Arg4",
      "the kind of corruption found"}},
    {PAGE_FAULT_IN_FREED_SPECIAL_POOL, KD_ANY_SUBTYPE, "Code touched a special-pool block after freeing it.",
     {"memory referenced", "0 read, 1 write", "address of the instruction that referenced memory", "reserved"}},
    {DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, KD_ANY_SUBTYPE, "A driver touched a special-pool block after freeing it.",
     {"memory referenced", "0 read, 1 write", "address of the instruction that referenced memory", "reserved"}},
    {PAGE_FAULT_BEYOND_END_OF_ALLOCATION, KD_ANY_SUBTYPE,
     "Code touched memory past the end of a special-pool block (a buffer overrun).",
     {"memory referenced", "0 read, 1 write", "address of the instruction that referenced memory", "reserved"}},
    {DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, KD_ANY_SUBTYPE,
     "A driver touched memory past the end of a special-pool block (a buffer overrun).",
     {"memory referenced", "0 read, 1 write", "address of the instruction that referenced memory", "reserved"}},

    /* BAD_POOL_HEADER: Arg1 says what was wrong with the pool. */
    {BAD_POOL_HEADER, 0x3, "The pool free list is corrupt (a free block's links do not point back).",
     {SUBTYPE, "the pool entry being checked", "the read-back Flink", "the read-back Blink"}},
    {BAD_POOL_HEADER, 0x5, "Two adjacent pool blocks have headers that contradict each other\n"
     "(something wrote past the end of the first).",
     {SUBTYPE, "one pool entry", "reserved", "the other pool entry"}},
    {BAD_POOL_HEADER, 0x6, "A pool block's PreviousSize is too large.",
     {SUBTYPE, "the entry whose header was being used", "reserved", "the bad entry"}},
    {BAD_POOL_HEADER, 0x8, "A pool block's size is zero.", {SUBTYPE, "0", "reserved", "the bad entry"}},
    {BAD_POOL_HEADER, 0x9, "A pool block's size is corrupt (too large).", {SUBTYPE, "0", "reserved", "the bad entry"}},
    {BAD_POOL_HEADER, 0xA, "A pool block's size is corrupt: the entry that should follow was not found.",
     {SUBTYPE, "the entry that should have been found", "reserved", "the page that should have held it"}},
    {BAD_POOL_HEADER, KD_ANY_SUBTYPE, "A pool header is corrupt.", {SUBTYPE, "depends on Arg1", "depends on Arg1", "depends on Arg1"}},

    /* BAD_POOL_CALLER: Arg1 says what the caller did wrong. */
    {BAD_POOL_CALLER, 0x7, "A pool block was freed twice.",
     {SUBTYPE, "reserved", "the pool header's contents", "the block's address"}},
    {BAD_POOL_CALLER, 0x8, "Pool was allocated at an IRQL too high for its type.",
     {SUBTYPE, "the IRQL", "the pool type", "the size requested"}},
    {BAD_POOL_CALLER, 0x9, "Pool was freed at an IRQL too high for its type.",
     {SUBTYPE, "the IRQL", "the pool type", "the block's address"}},
    {BAD_POOL_CALLER, 0xA, "A block was freed with a tag that is not the one it was allocated with.",
     {SUBTYPE, "the block's address", "the allocator's tag", "the tag given to the free"}},
    {BAD_POOL_CALLER, 0x41, "A nonpaged pool address that was never allocated was freed.",
     {SUBTYPE, "the address", "reserved", "reserved"}},
    {BAD_POOL_CALLER, 0x42, "An address that was never in any pool was freed.",
     {SUBTYPE, "the address", "0", "0"}},
    {BAD_POOL_CALLER, 0x50, "A paged pool address that was never allocated was freed.",
     {SUBTYPE, "the address", "its offset in pages from the start of paged pool", "the size in bytes"}},
    {BAD_POOL_CALLER, 0x60, "MmFreeContiguousMemory was given an address it did not allocate.",
     {SUBTYPE, "the address", "0", "0"}},
    {BAD_POOL_CALLER, 0x99, "A block was freed whose address or pool header is invalid.",
     {SUBTYPE, "the address being freed", "0", "0"}},
    {BAD_POOL_CALLER, 0x9A, "Must-succeed pool was requested (that pool type is obsolete).",
     {SUBTYPE, "the pool type", "the size", "the tag"}},
    {BAD_POOL_CALLER, KD_ANY_SUBTYPE, "A caller used the pool wrongly.",
     {SUBTYPE, "depends on Arg1", "depends on Arg1", "depends on Arg1"}},

    /* MEMORY_MANAGEMENT: Arg1 identifies the violation. */
    {MEMORY_MANAGEMENT, 0x1236, "An MDL was given that holds a page that is not locked (or not valid).",
     {SUBTYPE, "the MDL", "the bad PFN array entry", "the bad PFN"}},
    {MEMORY_MANAGEMENT, 0x1240, "An MDL was built for a virtual range that is not resident.",
     {SUBTYPE, "the MDL", "the PTE that is not valid", "0"}},
    {MEMORY_MANAGEMENT, 0x41792, "A corrupt PTE was found.",
     {SUBTYPE, "the PTE's address", "the PTE's contents", "0"}},
    {MEMORY_MANAGEMENT, KD_ANY_SUBTYPE, "The memory manager found itself in a state it cannot trust.",
     {SUBTYPE, "depends on Arg1", "depends on Arg1", "depends on Arg1"}},

    /* PFN_LIST_CORRUPT: Arg1 identifies the violation. */
    {PFN_LIST_CORRUPT, 0x7, "A page was unlocked that was not locked (one MmUnlockPages too many).",
     {SUBTYPE, "the page frame number", "its reference count", "0"}},
    {PFN_LIST_CORRUPT, 0x99, "A PTE or PFN entry is corrupt.",
     {SUBTYPE, "the page frame number", "its current state", "0"}},
    {PFN_LIST_CORRUPT, 0x9A, "A page still locked for I/O was freed.",
     {SUBTYPE, "the page frame number", "its current state", "its reference count"}},
    {PFN_LIST_CORRUPT, KD_ANY_SUBTYPE, "The PFN database (the lists of physical pages) is corrupt.",
     {SUBTYPE, "depends on Arg1", "depends on Arg1", "depends on Arg1"}},

    /* SYSTEM_PTE_MISUSE: Arg1 is the kind of misuse. */
    {SYSTEM_PTE_MISUSE, 0x3, "The mapping being freed is not at the address the system expects.",
     {SUBTYPE, "the first tracking entry found", "the address the system expected", "the address given"}},
    {SYSTEM_PTE_MISUSE, 0x6, "The MDL being unmapped was never mapped (or is not mapped now).",
     {SUBTYPE, "the MDL", "the virtual address given", "the number of mappings to free"}},
    {SYSTEM_PTE_MISUSE, KD_ANY_SUBTYPE, "A PTE routine (map, unmap, reserve, release) was used wrongly.",
     {SUBTYPE, "depends on Arg1", "depends on Arg1", "depends on Arg1"}},

    /* The verifier's checks. */
    {DRIVER_VERIFIER_DETECTED_VIOLATION, KD_ANY_SUBTYPE,
     "Driver Verifier caught a driver breaking a rule of the API it called.",
     {SUBTYPE, "depends on Arg1 (often the object involved)", "depends on Arg1", "depends on Arg1"}},
    {DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x1, "IoFreeIrp was given something that is not an IRP.",
     {SUBTYPE, "the address", "0", "0"}},
    {DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0xE, "An IRP was completed at an IRQL above DISPATCH_LEVEL.",
     {SUBTYPE, "the IRQL", "the IRP", "0"}},
    {DRIVER_VERIFIER_IOMANAGER_VIOLATION, KD_ANY_SUBTYPE, "Driver Verifier caught a driver misusing an IRP.",
     {SUBTYPE, "depends on Arg1 (often the IRP or the status)", "depends on Arg1", "depends on Arg1"}},
    {DRIVER_VERIFIER_DMA_VIOLATION, KD_ANY_SUBTYPE, "Driver Verifier caught a driver misusing the DMA API.",
     {SUBTYPE, "depends on Arg1 (the adapter, the buffer, the map registers)", "depends on Arg1", "depends on Arg1"}},
};

static const KD_BUGCHECK_HELP *KdpFindHelp(ULONG Code, ULONG64 Arg1)
{
    const KD_BUGCHECK_HELP *any = NULL;

    for (ULONG i = 0; i < ARRAYSIZE(KdpBugCheckHelp); i++) {
        if (KdpBugCheckHelp[i].Code != Code)
            continue;
        if (KdpBugCheckHelp[i].Subtype == Arg1)
            return &KdpBugCheckHelp[i];
        if (KdpBugCheckHelp[i].Subtype == KD_ANY_SUBTYPE && any == NULL)
            any = &KdpBugCheckHelp[i];
    }
    return any;
}

VOID KdpExplainBugCheck(ULONG Code, const ULONG64 Args[4])
{
    const KD_BUGCHECK_HELP *help = KdpFindHelp(Code, Args[0]);

    DbgPrint("%s (%x)\n", KiBugCheckCodeName(Code), Code);
    if (help != NULL)
        DbgPrint("%s\n", help->Text);
    else
        DbgPrint("(no explanation of this stop code: see the routine that raised it)\n");
    DbgPrint("Arguments:\n");
    for (ULONG i = 0; i < 4; i++)
        DbgPrint("Arg%u: %016llx%s%s\n", i + 1, Args[i], help ? ", " : "", help ? help->Arg[i] : "");
}

/*
 * tlb.c - the one place that invalidates translations.
 *
 * Whenever a valid PTE is changed or cleared, processors may still hold
 * the old translation: invlpg drops one (and every paging-structure cache
 * entry, SDM 4.10.4.1), toggling CR4.PGE drops all of them, global ones
 * included. Every system-space mapping is global and every processor runs
 * on the same kernel page tables, so any processor may hold any of them.
 *
 * Two kinds of routine, and the rule for choosing:
 *
 *   MiShootdownTbList / MiShootdownTbEntry / MiShootdownEntireTb: the
 *     translation may be cached on any processor. The flush runs here and,
 *     through ONE KiIpiSendPacket, on every other active processor, and
 *     returns when all are done; then the pages that waited on the list
 *     are freed. Every path that clears a valid system-space PTE and then
 *     gives the page, the page table or the address range to a new owner
 *     comes through here, before it gives it.
 *
 *   MiFlushTbEntry / MiFlushEntireTb: this processor only. Only for
 *     translations no other processor can hold: hyperspace slots (each
 *     processor has its own, used at DISPATCH_LEVEL so the thread stays),
 *     a stale entry found by this processor's page fault, and this
 *     processor's own PAT change (cache.c).
 *
 * Caller rule of the shootdown (NT's KeFlushMultipleTb): IRQL <= SYNCH_LEVEL
 * and interrupts enabled. Two processors shooting at each other each wait
 * for the other's answer; with interrupts off neither answers: a deadlock.
 * Broken, it is IRQL_NOT_LESS_OR_EQUAL (0xA) as Mica's other IRQL checks
 * report it: (MiShootdownTbList, the IRQL - 0xFF when interrupts were
 * off -, SYNCH_LEVEL, the caller). Exempt: boot before any other
 * processor runs, which runs with interrupts off (phase 0, the ACPI and
 * APIC set-up map and unmap). It is told apart as "no other processor is
 * active, and no shootdown has yet been made with interrupts on": the boot
 * processor enables interrupts once for good before the others start, and
 * its first shootdown after that arms the check for ever.
 */
#include "mm_internal.h"

#define CR4_PGE (1ULL << 7)
#define MI_TB_IRQL_INTERRUPTS_DISABLED 0xFF   /* parameter 2 of 0xA, as fault.c's */

MI_TB_STATISTICS MiTbStatistics[MAXIMUM_PROCESSORS];
static volatile BOOLEAN MiTbInterruptRuleArmed;

/* This processor only: see the rule above. */
VOID MiFlushTbEntry(PVOID Va)
{
    __asm__ __volatile__("invlpg (%0)" : : "r"(Va) : "memory");
}

/* This processor only. Global: the global entries (all of system space) too. */
VOID MiFlushEntireTb(BOOLEAN Global)
{
    ULONG64 cr3, cr4;

    if (Global) {
        __asm__ __volatile__("mov %%cr4, %0" : "=r"(cr4));
        __asm__ __volatile__("mov %0, %%cr4" : : "r"(cr4 & ~CR4_PGE) : "memory");
        __asm__ __volatile__("mov %0, %%cr4" : : "r"(cr4) : "memory");
    } else {
        __asm__ __volatile__("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory");
    }
}

/* The flush itself, on whichever processor runs it. */
static void MiFlushTbListHere(const MI_TB_FLUSH_LIST *List)
{
    if (List->Count > MI_TB_FLUSH_MAXIMUM) {
        MiFlushEntireTb(TRUE);
        return;
    }
    for (ULONG i = 0; i < List->Count; i++)
        MiFlushTbEntry(List->Va[i]);
}

/* Run at IPI_LEVEL on each other processor; the list is on the sender's
 * stack, which stays put until every processor has answered. */
static ULONG_PTR MiTbFlushWorker(ULONG_PTR Context)
{
    MiFlushTbListHere((const MI_TB_FLUSH_LIST *)Context);
    return 0;
}

static void MiCheckShootdownCaller(KAFFINITY Others, PVOID Caller)
{
    KIRQL irql = KeGetCurrentIrql();
    BOOLEAN enabled = (__readeflags() & EFLAGS_IF_MASK) != 0;

    if (irql > SYNCH_LEVEL)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, (PVOID)MiShootdownTbList, irql, SYNCH_LEVEL,
                        Caller);
    if (enabled) {
        MiTbInterruptRuleArmed = TRUE;
        return;
    }
    if (MiTbInterruptRuleArmed || Others != 0)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, (PVOID)MiShootdownTbList,
                        MI_TB_IRQL_INTERRUPTS_DISABLED, SYNCH_LEVEL, Caller);
}

/* Waiting pages go to their lists: the flush is done everywhere. */
static void MiFreeWaitingPages(PMI_TB_FLUSH_LIST List)
{
    PFN_NUMBER page, next;

    for (page = List->WaitingPages; page != MI_TB_NO_PAGE; page = next) {
        next = MI_PFN_ELEMENT(page)->u1.Flink;
        MiFreeActivePage(page);
    }
    for (page = List->WaitingZeroedPages; page != MI_TB_NO_PAGE; page = next) {
        next = MI_PFN_ELEMENT(page)->u1.Flink;
        MiFreeZeroedActivePage(page);
    }
}

/*
 * Flush every translation on List on every processor, then free the pages
 * that waited on it (MmPfnLock held if any did), and empty the list.
 * IRQL <= SYNCH_LEVEL, interrupts on (see the top). The IRQL goes to
 * DISPATCH_LEVEL at least for the flush, so the processor found to be
 * "this one" stays this one.
 */
VOID MiShootdownTbList(PMI_TB_FLUSH_LIST List)
{
    KAFFINITY others;
    KIRQL irql;
    ULONG cpu;

    if (MiTbFlushListIsEmpty(List))
        return;
    irql = KeGetCurrentIrql();
    if (irql < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
    cpu = KeGetCurrentProcessorNumber();
    others = KeQueryActiveProcessors() & ~AFFINITY_MASK(cpu);
    MiCheckShootdownCaller(others, __builtin_return_address(0));
    if (List->Count != 0) {
        MiFlushTbListHere(List);
        /* A processor that starts after this read has an empty TLB. */
        if (others != 0) {
            KiIpiSendPacket(others, MiTbFlushWorker, (ULONG_PTR)List);
            MiTbStatistics[cpu].IpiRounds++;
        }
        MiTbStatistics[cpu].Shootdowns++;
        if (List->Count > MI_TB_FLUSH_MAXIMUM)
            MiTbStatistics[cpu].EntireFlushes++;
        else
            MiTbStatistics[cpu].Entries += List->Count;
    }
    if (irql < DISPATCH_LEVEL)
        KeLowerIrql(irql);
    MiFreeWaitingPages(List);
    MiInitializeTbFlushList(List);
}

/* MmPfnLock held: Pfn (active, no longer mapped by anything once the
 * list's addresses are flushed) goes to the Free list - or, Zeroed, to the
 * Zeroed list (an emptied page table) - when the list is flushed. */
VOID MiTbFlushListDeferPage(PMI_TB_FLUSH_LIST List, PFN_NUMBER Pfn, BOOLEAN Zeroed)
{
    PFN_NUMBER *head = Zeroed ? &List->WaitingZeroedPages : &List->WaitingPages;

    MI_PFN_ELEMENT(Pfn)->u1.Flink = *head;
    *head = Pfn;
    List->WaitingCount++;
}

VOID MiShootdownTbEntry(PVOID Va)
{
    MI_TB_FLUSH_LIST list;

    MiInitializeTbFlushList(&list);
    MiAddTbFlushEntry(&list, Va);
    MiShootdownTbList(&list);
}

VOID MiShootdownEntireTb(VOID)
{
    MI_TB_FLUSH_LIST list;

    MiInitializeTbFlushList(&list);
    MiAddTbFlushEverything(&list);
    MiShootdownTbList(&list);
}

/*
 * test_tlb_bugcheck.c - the shootdown's caller rule (mm/tlb.c): IRQL at
 * most SYNCH_LEVEL and interrupts on, or IRQL_NOT_LESS_OR_EQUAL (0xA:
 * MiShootdownTbList, the IRQL - 0xFF for interrupts off -, SYNCH_LEVEL,
 * the caller). Interrupts off would deadlock two processors shooting at
 * each other; each test first makes one good shootdown with interrupts on,
 * which ends the boot-time exemption, as the first one after boot does.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define KTP_INTERRUPTS_OFF 0xFF

KTEST_BUGCHECK(tlb, shootdown_with_interrupts_off, IRQL_NOT_LESS_OR_EQUAL)
{
    MiShootdownTbEntry((PVOID)MM_SYSTEM_PTE_BASE);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MiShootdownTbList, KTP_INTERRUPTS_OFF,
                        SYNCH_LEVEL, KTEST_ANY);
    _disable();
    MiShootdownTbEntry((PVOID)MM_SYSTEM_PTE_BASE);
}

KTEST_BUGCHECK(tlb, shootdown_above_synch_level, IRQL_NOT_LESS_OR_EQUAL)
{
    KIRQL irql;

    MiShootdownTbEntry((PVOID)MM_SYSTEM_PTE_BASE);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MiShootdownTbList, CLOCK_LEVEL,
                        SYNCH_LEVEL, KTEST_ANY);
    KeRaiseIrql(CLOCK_LEVEL, &irql);
    MiShootdownTbEntry((PVOID)MM_SYSTEM_PTE_BASE);
}

/* MmUnmapIoSpace with interrupts off: the freeing paths keep the rule too. */
KTEST_BUGCHECK(tlb, unmap_io_space_with_interrupts_off, IRQL_NOT_LESS_OR_EQUAL)
{
    PVOID va = MmMapIoSpace(MmGetPhysicalAddress(KiTextStart), PAGE_SIZE, MmCached);

    MiShootdownTbEntry((PVOID)MM_SYSTEM_PTE_BASE);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MiShootdownTbList, KTP_INTERRUPTS_OFF,
                        SYNCH_LEVEL, KTEST_ANY);
    _disable();
    MmUnmapIoSpace(va, PAGE_SIZE);
}

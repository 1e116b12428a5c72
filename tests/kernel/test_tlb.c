/*
 * test_tlb.c - TLB shootdowns (mm/tlb.c) and the rule that nothing is
 * freed before its translations are gone from every processor.
 *
 * The shootdown counts come from MiTbStatistics, kept per processor by the
 * processor that shoots: each test counts at DISPATCH_LEVEL (or with its
 * own processor's numbers, read before and after), so nothing else running
 * on this processor can add to them in between. With one processor the
 * shootdown is the local flush; the counts, the batching and the order
 * (flush, then free) are the same as with several.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/pool_internal.h"
#include "../ktest.h"

static MI_TB_STATISTICS KtpTbNow(void)
{
    return MiTbStatistics[KeGetCurrentProcessorNumber()];
}

/* ---- the flush list -------------------------------------------------------------------- */

KTEST(tlb, batch_of_32_is_one_shootdown_of_32_entries)
{
    MI_TB_FLUSH_LIST list;
    MI_TB_STATISTICS before, after;
    KIRQL irql;

    MiInitializeTbFlushList(&list);
    for (ULONG i = 0; i < MI_TB_FLUSH_MAXIMUM; i++)
        MiAddTbFlushEntry(&list, (PUCHAR)MM_SYSTEM_PTE_BASE + ((ULONG64)i << PAGE_SHIFT));
    KEXPECT_EQ(list.Count, MI_TB_FLUSH_MAXIMUM);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    MiShootdownTbList(&list);
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    KEXPECT_EQ(after.Entries - before.Entries, MI_TB_FLUSH_MAXIMUM);
    KEXPECT_EQ(after.EntireFlushes - before.EntireFlushes, 0);
    KEXPECT_TRUE(MiTbFlushListIsEmpty(&list));
}

KTEST(tlb, batch_of_64_overflows_into_one_entire_flush)
{
    MI_TB_FLUSH_LIST list;
    MI_TB_STATISTICS before, after;
    KIRQL irql;

    MiInitializeTbFlushList(&list);
    for (ULONG i = 0; i < 64; i++)
        MiAddTbFlushEntry(&list, (PUCHAR)MM_SYSTEM_PTE_BASE + ((ULONG64)i << PAGE_SHIFT));
    KEXPECT_EQ(list.Count, MI_TB_FLUSH_ENTIRE);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    MiShootdownTbList(&list);
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    KEXPECT_EQ(after.EntireFlushes - before.EntireFlushes, 1);
    KEXPECT_EQ(after.Entries - before.Entries, 0);
}

KTEST(tlb, empty_list_sends_nothing)
{
    MI_TB_FLUSH_LIST list;
    MI_TB_STATISTICS before, after;
    KIRQL irql;

    MiInitializeTbFlushList(&list);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    MiShootdownTbList(&list);
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 0);
}

/* A page unmapped onto a list stays off every free list until the list is
 * shot down: MiUnmapAndFreePageLocked used to free it at once. */
KTEST(tlb, unmapped_page_waits_for_the_shootdown)
{
    PMMPTE pte = MiReserveSystemPtes(1, SystemPteSpace);
    MI_TB_FLUSH_LIST list;
    PFN_NUMBER page;
    PUCHAR va;
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(pte, NULL);
    if (pte == NULL)
        return;
    va = MiGetVirtualAddressMappedByPte(pte);
    MiInitializeTbFlushList(&list);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    KEXPECT_TRUE(MiMapNewPageLocked(va, MM_PTE_WRITE | MM_PTE_NO_EXECUTE, FALSE));
    page = MI_PTE_FRAME(*MiGetPteAddress(va));
    MiUnmapAndFreePageLocked(va, &list);
    KEXPECT_EQ(MiWalkToPte(va, &level), NULL);
    KEXPECT_EQ(MI_PFN_ELEMENT(page)->PageLocation, ActiveAndValid);
    /* The page and its address; its page table (and directory) too if
     * this was their last entry. */
    KEXPECT_GE(list.Count, 1);
    KEXPECT_GE(list.WaitingCount, 1);
    KEXPECT_EQ(list.Count, list.WaitingCount);
    MiShootdownTbList(&list);
    KEXPECT_NE(MI_PFN_ELEMENT(page)->PageLocation, ActiveAndValid);
    KEXPECT_ULE(MI_PFN_ELEMENT(page)->PageLocation, FreePageList);
    MiReleaseSystemPtesLocked(pte, 1);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* ---- every freeing path: one shootdown per call, PTEs clear ---------------------------- */

KTEST(tlb, unmap_io_space_of_64_pages_is_one_shootdown)
{
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KiTextStart);
    MI_TB_STATISTICS before, after;
    PUCHAR va = MmMapIoSpace(pa, 64 * PAGE_SIZE, MmCached);
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(va, NULL);
    if (va == NULL)
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    MmUnmapIoSpace(va, 64 * PAGE_SIZE);
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    for (ULONG i = 0; i < 64; i++)
        KEXPECT_EQ(MiWalkToPte(va + ((ULONG64)i << PAGE_SHIFT), &level), NULL);
}

KTEST(tlb, contiguous_free_of_64_pages_is_one_shootdown)
{
    PHYSICAL_ADDRESS high = {.QuadPart = -1};
    MI_TB_STATISTICS before, after;
    PUCHAR va = MmAllocateContiguousMemory(64 * PAGE_SIZE, high);
    PFN_NUMBER first;
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(va, NULL);
    if (va == NULL)
        return;
    first = MmGetPhysicalAddress(va).QuadPart >> PAGE_SHIFT;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    MmFreeContiguousMemory(va);
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    KEXPECT_EQ(MiWalkToPte(va, &level), NULL);
    KEXPECT_NE(MI_PFN_ELEMENT(first)->PageLocation, ActiveAndValid);
}

KTEST(tlb, kernel_stack_delete_is_one_shootdown)
{
    KAFFINITY pinned = KtestOnOneProcessorBegin();      /* the statistics are this processor's */
    MI_TB_STATISTICS before, after;
    PUCHAR top = MmCreateKernelStack(FALSE, 0);
    ULONG level;

    KEXPECT_NE(top, NULL);
    if (top != NULL) {
        before = KtpTbNow();
        MmDeleteKernelStack(top, FALSE);
        after = KtpTbNow();
        KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
        for (ULONG i = 1; i <= KERNEL_STACK_PAGES; i++)
            KEXPECT_EQ(MiWalkToPte(top - ((ULONG64)i << PAGE_SHIFT), &level), NULL);
    }
    KtestOnOneProcessorEnd(pinned);
}

/* At DISPATCH_LEVEL (the dispatcher frees a dead thread's stack there,
 * holding its lock) the stack goes to a DPC: taking MmPfnLock under the
 * dispatcher lock would invert the pager's order (mm/stack.c). The DPC
 * frees it, with one shootdown, once the IRQL drops. */
KTEST(tlb, kernel_stack_delete_at_dispatch_level_waits_for_its_dpc)
{
    KAFFINITY pinned = KtestOnOneProcessorBegin();
    MI_TB_STATISTICS before, during, after;
    PUCHAR top = MmCreateKernelStack(FALSE, 0);
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(top, NULL);
    if (top != NULL) {
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
        before = KtpTbNow();
        MmDeleteKernelStack(top, FALSE);
        during = KtpTbNow();
        KEXPECT_NE(MiWalkToPte(top - PAGE_SIZE, &level), NULL);   /* still there */
        KeLowerIrql(irql);              /* the DPC runs here */
        after = KtpTbNow();
        KEXPECT_EQ(during.Shootdowns - before.Shootdowns, 0);
        KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
        for (ULONG i = 1; i <= KERNEL_STACK_PAGES; i++)
            KEXPECT_EQ(MiWalkToPte(top - ((ULONG64)i << PAGE_SHIFT), &level), NULL);
    }
    KtestOnOneProcessorEnd(pinned);
}

/* The dispatcher frees a dead thread's stack with interrupts off: no
 * shootdown can be made then; a DPC makes it once they are on again. */
KTEST(tlb, kernel_stack_delete_with_interrupts_off_waits_for_its_dpc)
{
    MI_TB_STATISTICS before, during, after;
    PUCHAR top = MmCreateKernelStack(FALSE, 0);
    PFN_NUMBER page;
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(top, NULL);
    if (top == NULL)
        return;
    page = MmGetPhysicalAddress(top - PAGE_SIZE).QuadPart >> PAGE_SHIFT;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    _disable();
    MmDeleteKernelStack(top, FALSE);
    during = KtpTbNow();
    KEXPECT_NE(MiWalkToPte(top - PAGE_SIZE, &level), NULL);   /* still there */
    _enable();
    KEXPECT_EQ(MI_PFN_ELEMENT(page)->PageLocation, ActiveAndValid);
    KeLowerIrql(irql);                  /* the DPC runs here */
    after = KtpTbNow();
    KEXPECT_EQ(during.Shootdowns - before.Shootdowns, 0);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    KEXPECT_EQ(MiWalkToPte(top - PAGE_SIZE, &level), NULL);
    KEXPECT_NE(MI_PFN_ELEMENT(page)->PageLocation, ActiveAndValid);
}

/* Whole pages beyond the run cache's size go back at once: one shootdown. */
KTEST(tlb, big_pool_free_is_one_shootdown)
{
    SIZE_T pages = EXP_BIG_CACHE_MAX_PAGES + 4;
    MI_TB_STATISTICS before, after;
    PUCHAR p = ExAllocatePoolWithTag(NonPagedPoolNx, pages * PAGE_SIZE, 'bTtK');
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(p, NULL);
    if (p == NULL)
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    ExFreePoolWithTag(p, 'bTtK');
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    for (SIZE_T i = 0; i < pages; i++)
        KEXPECT_EQ(MiWalkToPte(p + (i << PAGE_SHIFT), &level), NULL);
}

KTEST(tlb, special_pool_free_is_one_shootdown)
{
    MI_TB_STATISTICS before, after;
    PUCHAR p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL, 100, 'sTtK');
    KIRQL irql;
    ULONG level;

    KEXPECT_NE(p, NULL);
    if (p == NULL)
        return;
    if (!MiIsSpecialPoolAddress(p)) {
        ExFreePoolWithTag(p, 'sTtK');
        KTEST_SKIP("no special pool");
    }
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    ExFreePoolWithTag(p, 'sTtK');
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    KEXPECT_EQ(MiWalkToPte(p, &level), NULL);
}

/* 64 pages mapped and unmapped through the page-table routines: one
 * shootdown, the emptied page table freed by it (after, not before). */
KTEST(tlb, unmap_system_pages_frees_tables_after_one_shootdown)
{
    PFN_NUMBER pfn = MmGetPhysicalAddress(KiTextStart).QuadPart >> PAGE_SHIFT;
    MI_TB_STATISTICS before, after;
    /* A 2 MiB stretch of system-PTE space nobody uses: its own page table. */
    PUCHAR va = (PUCHAR)MM_SYSTEM_PTE_END - (2ULL << 20);
    PFN_NUMBER table;
    KIRQL irql;
    ULONG level;

    KEXPECT_EQ(MiWalkToPte(va, &level), NULL);
    KEXPECT_EQ(MiMapSystemPages(va, pfn, 64, MM_PTE_NO_EXECUTE | MM_PTE_GLOBAL), STATUS_SUCCESS);
    table = MI_PTE_FRAME(*MiGetPdeAddress(va));
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    before = KtpTbNow();
    MiUnmapSystemPages(va, 64);
    after = KtpTbNow();
    KeLowerIrql(irql);
    KEXPECT_EQ(after.Shootdowns - before.Shootdowns, 1);
    /* The page table is gone (its directory may be too: not read). */
    KEXPECT_EQ(MiWalkToPte(va, &level), NULL);
    KEXPECT_GE(level, 2);
    KEXPECT_NE(MI_PFN_ELEMENT(table)->PageLocation, ActiveAndValid);
}

/* ---- hyperspace ------------------------------------------------------------------------- */

KTEST(tlb, hyperspace_slot_is_this_processors)
{
    PFN_NUMBER page = MmGetPhysicalAddress(KiTextStart).QuadPart >> PAGE_SHIFT;
    KIRQL irql;
    PVOID va = MiMapPageInHyperSpace(page, &irql);
    ULONG64 mine = MM_HYPERSPACE_BASE +
                   ((ULONG64)KeGetCurrentProcessorNumber() * MM_HYPERSPACE_PAGES_PER_CPU << PAGE_SHIFT);

    KEXPECT_EQ((ULONG64)va, mine);
    KEXPECT_EQ(*(PULONG64)va, *(PULONG64)KiTextStart);
    MiUnmapPageInHyperSpace(va, irql);
}

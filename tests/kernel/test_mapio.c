/*
 * test_mapio.c - mapping physical memory: cache types through the PAT,
 * MmMapIoSpace(Ex) PTE bits, offsets and refusals, hyperspace zeroing, and
 * the TLB flush on unmap. (The page-table structure itself is
 * test_paging.c.)
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define MSR_IA32_APIC_BASE 0x1B
#define MSR_IA32_PAT 0x277
#define APIC_BASE_ENABLE (1ULL << 11)
#define LAPIC_ID      0x20
#define LAPIC_VERSION 0x30

extern ULONG64 MiPatValue;              /* cache.c: what it programs into IA32_PAT */

static PFN_NUMBER KtpFreePages(void)
{
    return MmFreePageListHead.Total + MmZeroedPageListHead.Total + MmLowFreePageListHead.Total;
}

/* ---- cache types: the PAT and the PTE bits ---------------------------------------------- */

/* The memory type the PTE bits select through the PAT the processor holds. */
static ULONG KtpPatTypeOf(ULONG64 PteBits)
{
    ULONG index = ((PteBits & MM_PTE_PAT_4K) ? 4 : 0) | ((PteBits & MM_PTE_CACHE_DISABLE) ? 2 : 0) |
                  ((PteBits & MM_PTE_WRITE_THROUGH) ? 1 : 0);
    return (ULONG)(__readmsr(MSR_IA32_PAT) >> (index * 8)) & 7;
}

KTEST(paging, pat_msr_programmed)
{
    enum { UC = 0, WC = 1, WT = 4, WP = 5, WB = 6, UCM = 7 };

    KEXPECT_EQ(__readmsr(MSR_IA32_PAT), MiPatValue);
    KEXPECT_EQ(MiPatValue, 0x0407050600070106ULL);  /* WB WC UC- UC WB WP UC- WT */
    KEXPECT_EQ(KtpPatTypeOf(MiCacheTypeToPteBits(MmCached)), WB);
    KEXPECT_EQ(KtpPatTypeOf(MiCacheTypeToPteBits(MmHardwareCoherentCached)), WB);
    KEXPECT_EQ(KtpPatTypeOf(MiCacheTypeToPteBits(MmWriteCombined)), WC);
    KEXPECT_EQ(KtpPatTypeOf(MiCacheTypeToPteBits(MmUSWCCached)), WC);
    KEXPECT_EQ(KtpPatTypeOf(MiCacheTypeToPteBits(MmNonCachedUnordered)), UCM);
    KEXPECT_EQ(KtpPatTypeOf(MiCacheTypeToPteBits(MmNonCached)), UC);
    /* The PAT bit is never used, so 2 MiB entries (PAT = bit 12) would mean the same. */
    for (int t = 0; t < MmMaximumCacheType; t++)
        KEXPECT_FALSE(MiCacheTypeToPteBits((MEMORY_CACHING_TYPE)t) & MM_PTE_PAT_4K);
}

/* Programming the PAT again (as each processor will) leaves it and the
 * caller's interrupt flag as they were. */
KTEST(paging, pat_reprogramming_keeps_interrupt_flag)
{
    ULONG64 before = __readeflags() & EFLAGS_IF_MASK;

    MiInitializePat();
    KEXPECT_EQ(__readeflags() & EFLAGS_IF_MASK, before);
    KEXPECT_EQ(__readmsr(MSR_IA32_PAT), MiPatValue);
    /* Both ways: with interrupts off, they stay off. */
    _disable();
    MiInitializePat();
    KEXPECT_EQ(__readeflags() & EFLAGS_IF_MASK, 0);
    _enable();
    MiInitializePat();
    KEXPECT_EQ(__readeflags() & EFLAGS_IF_MASK, EFLAGS_IF_MASK);
    if (!before)
        _disable();
    KEXPECT_EQ(__readmsr(MSR_IA32_PAT), MiPatValue);
}

static PHYSICAL_ADDRESS KtpLapicPhysical(void)
{
    PHYSICAL_ADDRESS pa;

    pa.QuadPart = (LONGLONG)(__readmsr(MSR_IA32_APIC_BASE) & 0x000FFFFFFFFFF000ULL);
    return pa;
}

/* Check a mapping's PTEs: valid, global, kernel, the frame, and exactly CacheBits. */
static void KtpExpectIoPtes(PVOID Va, ULONG64 Pa, SIZE_T Pages, ULONG64 CacheBits, BOOLEAN Write,
                            BOOLEAN NoExecute)
{
    for (SIZE_T i = 0; i < Pages; i++) {
        PUCHAR page = (PUCHAR)PAGE_ALIGN(Va) + i * PAGE_SIZE;
        ULONG64 e = MiGetPteAddress(page)->Long;
        KEXPECT_TRUE(MmIsAddressValid(page));
        KEXPECT_EQ(e & MM_PTE_FRAME_MASK, (Pa & ~0xFFFULL) + i * PAGE_SIZE);
        KEXPECT_EQ(e & (MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH | MM_PTE_PAT_4K), CacheBits);
        KEXPECT_EQ(!!(e & MM_PTE_WRITE), Write);
        KEXPECT_EQ(!!(e & MM_PTE_NO_EXECUTE), NoExecute);
        KEXPECT_TRUE(e & MM_PTE_GLOBAL);
        KEXPECT_FALSE(e & MM_PTE_OWNER);
        KEXPECT_EQ(MmGetPhysicalAddress(page + BYTE_OFFSET(Va)).QuadPart,
                   (Pa & ~0xFFFULL) + i * PAGE_SIZE + BYTE_OFFSET(Va));
    }
}

KTEST(paging, map_lapic_noncached)
{
    PHYSICAL_ADDRESS pa = KtpLapicPhysical(), pa30;
    PFN_NUMBER ptes = MiFreeSystemPteCount();
    ULONG version, version2, id;
    PUCHAR va, va30;

    KEXPECT_TRUE(__readmsr(MSR_IA32_APIC_BASE) & APIC_BASE_ENABLE);
    KEXPECT_EQ(pa.QuadPart, 0xFEE00000);
    va = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
    KASSERT_TRUE(va != NULL);
    KEXPECT_EQ(BYTE_OFFSET(va), 0);
    KEXPECT_TRUE((ULONG64)va >= MM_SYSTEM_PTE_BASE && (ULONG64)va < MM_SYSTEM_PTE_END);
    KtpExpectIoPtes(va, (ULONG64)pa.QuadPart, 1, MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH,
                    TRUE, TRUE);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes - 1);

    version = *(volatile ULONG *)(va + LAPIC_VERSION);
    id = *(volatile ULONG *)(va + LAPIC_ID);
    KtestPrint("#   LAPIC at %llx mapped at %p: version register %08x, ID register %08x\n",
               pa.QuadPart, va, version, id);
    /* Integrated APICs report 0x1X (QEMU: 0x14); max LVT entry 3 or more (QEMU: 5). */
    KEXPECT_EQ(version & 0xF0, 0x10);
    KEXPECT_GE((version >> 16) & 0xFF, 3);
    KEXPECT_EQ(version & 0xFF00, 0);

    /* A second mapping that starts at the register: the byte offset is kept. */
    pa30.QuadPart = pa.QuadPart + LAPIC_VERSION;
    va30 = MmMapIoSpace(pa30, sizeof(ULONG), MmNonCached);
    KASSERT_TRUE(va30 != NULL);
    KEXPECT_EQ(BYTE_OFFSET(va30), LAPIC_VERSION);
    version2 = *(volatile ULONG *)va30;
    KEXPECT_EQ(version2, version);
    MmUnmapIoSpace(va30, sizeof(ULONG));
    MmUnmapIoSpace(va, PAGE_SIZE);
    KEXPECT_FALSE(MmIsAddressValid(va));
    KEXPECT_FALSE(MmIsAddressValid(va30));
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes);
}

/* The screen the loader described (VGA text at 0xB8000 on BIOS, a framebuffer on UEFI). */
static PHYSICAL_ADDRESS KtpDisplayPhysical(void)
{
    PHYSICAL_ADDRESS pa;

    pa.QuadPart = KeLoaderBlock->Display.Type != LoaderDisplayNone
                      ? (LONGLONG)KeLoaderBlock->Display.PhysicalBase
                      : 0xB8000;
    return pa;
}

KTEST(paging, map_display_cache_types)
{
    static const struct {
        MEMORY_CACHING_TYPE Type;
        ULONG64 Bits;
    } cases[] = {
        {MmNonCached, MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH},
        {MmCached, 0},
        {MmWriteCombined, MM_PTE_WRITE_THROUGH},
        {MmFrameBufferCached, MM_PTE_WRITE_THROUGH},
        {MmHardwareCoherentCached, 0},
        {MmNonCachedUnordered, MM_PTE_CACHE_DISABLE},
        {MmUSWCCached, MM_PTE_WRITE_THROUGH},
        /* NT looks at the low byte of the cache type only. */
        {(MEMORY_CACHING_TYPE)(0x100 | MmWriteCombined), MM_PTE_WRITE_THROUGH},
    };
    PHYSICAL_ADDRESS pa = KtpDisplayPhysical();
    PFN_NUMBER ptes = MiFreeSystemPteCount();
    ULONG64 uc[8], wc[8];
    PUCHAR a, b;

    KtestPrint("#   display type %u at %llx\n", KeLoaderBlock->Display.Type, pa.QuadPart);
    for (ULONG i = 0; i < ARRAYSIZE(cases); i++) {
        PUCHAR va = MmMapIoSpace(pa, 2 * PAGE_SIZE, cases[i].Type);
        KEXPECT_TRUE(va != NULL);
        if (va == NULL)
            continue;
        KtpExpectIoPtes(va, (ULONG64)pa.QuadPart, 2, cases[i].Bits, TRUE, TRUE);
        if (KtestCurrentFailed)
            KtestPrint("#   ^ cache type %#x\n", cases[i].Type);
        MmUnmapIoSpace(va, 2 * PAGE_SIZE);
        KEXPECT_FALSE(MmIsAddressValid(va));
    }
    /* Two mappings with different types read the same memory. */
    a = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
    b = MmMapIoSpace(pa, PAGE_SIZE, MmWriteCombined);
    KASSERT_TRUE(a != NULL && b != NULL);
    KEXPECT_NE(a, b);
    for (ULONG i = 0; i < 8; i++) {
        uc[i] = ((volatile ULONG64 *)a)[i];
        wc[i] = ((volatile ULONG64 *)b)[i];
    }
    KEXPECT_EQ(memcmp(uc, wc, sizeof(uc)), 0);
    MmUnmapIoSpace(b, PAGE_SIZE);
    MmUnmapIoSpace(a, PAGE_SIZE);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes);
}

KTEST(paging, map_io_space_spans_pages_and_keeps_offset)
{
    PHYSICAL_ADDRESS pa = KtpDisplayPhysical();
    PFN_NUMBER ptes = MiFreeSystemPteCount();
    PUCHAR va;

    /* Two bytes across a page boundary need two PTEs. */
    pa.QuadPart += PAGE_SIZE - 1;
    va = MmMapIoSpace(pa, 2, MmNonCached);
    KASSERT_TRUE(va != NULL);
    KEXPECT_EQ(BYTE_OFFSET(va), PAGE_SIZE - 1);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes - 2);
    KtpExpectIoPtes(va, (ULONG64)pa.QuadPart, 2, MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH,
                    TRUE, TRUE);
    MmUnmapIoSpace(va, 2);
    KEXPECT_FALSE(MmIsAddressValid(va));
    KEXPECT_FALSE(MmIsAddressValid(va + 1));
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes);
}

KTEST(paging, map_io_space_rejects_bad_requests)
{
    PHYSICAL_ADDRESS pa = KtpDisplayPhysical(), huge;
    PFN_NUMBER ptes = MiFreeSystemPteCount(), pages = KtpFreePages();

    KEXPECT_TRUE(MmMapIoSpace(pa, 0, MmCached) == NULL);
    KEXPECT_TRUE(MmMapIoSpace(pa, PAGE_SIZE, MmMaximumCacheType) == NULL);
    KEXPECT_TRUE(MmMapIoSpace(pa, PAGE_SIZE, (MEMORY_CACHING_TYPE)7) == NULL);
    KEXPECT_TRUE(MmMapIoSpace(pa, PAGE_SIZE, (MEMORY_CACHING_TYPE)0xFF) == NULL);
    /* More than all of system-PTE space. */
    KEXPECT_TRUE(MmMapIoSpace(pa, (MM_SYSTEM_PTE_PAGES + 1) << PAGE_SHIFT, MmCached) == NULL);
    /* Beyond the 52 physical address bits of x86-64. */
    huge.QuadPart = 1LL << 52;
    KEXPECT_TRUE(MmMapIoSpace(huge, PAGE_SIZE, MmNonCached) == NULL);
    huge.QuadPart = (1LL << 52) - PAGE_SIZE;
    KEXPECT_TRUE(MmMapIoSpace(huge, 2 * PAGE_SIZE, MmNonCached) == NULL);
    KEXPECT_TRUE(MmMapIoSpaceEx(pa, 0, PAGE_READWRITE) == NULL);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes);
    KEXPECT_EQ(KtpFreePages(), pages);
}

KTEST(paging, map_io_space_ex_protections)
{
    static const struct {
        ULONG Protect;
        BOOLEAN Write, NoExecute;
        ULONG64 Cache;
    } ok[] = {
        {PAGE_READONLY, FALSE, TRUE, 0},
        {PAGE_READWRITE, TRUE, TRUE, 0},
        {PAGE_EXECUTE, FALSE, FALSE, 0},
        {PAGE_EXECUTE_READ, FALSE, FALSE, 0},
        {PAGE_EXECUTE_READWRITE, TRUE, FALSE, 0},
        {PAGE_READWRITE | PAGE_NOCACHE, TRUE, TRUE, MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH},
        {PAGE_READONLY | PAGE_NOCACHE, FALSE, TRUE, MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH},
        {PAGE_READWRITE | PAGE_WRITECOMBINE, TRUE, TRUE, MM_PTE_WRITE_THROUGH},
    };
    static const ULONG bad[] = {
        0, PAGE_NOACCESS, PAGE_READONLY | PAGE_READWRITE, PAGE_NOCACHE, PAGE_WRITECOMBINE,
        PAGE_READWRITE | PAGE_NOCACHE | PAGE_WRITECOMBINE, 0x80 /* PAGE_EXECUTE_WRITECOPY */,
        0x08 /* PAGE_WRITECOPY */, PAGE_READWRITE | 0x100 /* PAGE_GUARD */,
    };
    PHYSICAL_ADDRESS pa = KtpLapicPhysical();
    PFN_NUMBER ptes = MiFreeSystemPteCount();

    for (ULONG i = 0; i < ARRAYSIZE(ok); i++) {
        PVOID va = MmMapIoSpaceEx(pa, PAGE_SIZE, ok[i].Protect);
        KEXPECT_TRUE(va != NULL);
        if (va == NULL)
            continue;
        KtpExpectIoPtes(va, (ULONG64)pa.QuadPart, 1, ok[i].Cache, ok[i].Write, ok[i].NoExecute);
        if (KtestCurrentFailed)
            KtestPrint("#   ^ protection %#x\n", ok[i].Protect);
        MmUnmapIoSpace(va, PAGE_SIZE);
    }
    for (ULONG i = 0; i < ARRAYSIZE(bad); i++) {
        PVOID va = MmMapIoSpaceEx(pa, PAGE_SIZE, bad[i]);
        if (va != NULL) {
            KtestFail(__FILE__, __LINE__, "protection %#x was accepted", bad[i]);
            MmUnmapIoSpace(va, PAGE_SIZE);
        }
    }
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes);
}

/* ---- hyperspace ------------------------------------------------------------------------------ */

KTEST(paging, hyperspace_zeroes_a_page)
{
    PFN_NUMBER page, before = KtpFreePages();
    PHYSICAL_ADDRESS pa;
    PULONG64 p, io;
    KIRQL irql, lockIrql;
    ULONG wrong = 0;

    KeAcquireSpinLock(&MmPfnLock, &lockIrql);
    page = MiRemoveAnyPage(0);
    KeReleaseSpinLock(&MmPfnLock, lockIrql);
    KASSERT_NE(page, 0);
    KEXPECT_EQ(KtpFreePages(), before - 1);

    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    p = MiMapPageInHyperSpace(page, &irql);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);   /* the slot is this CPU's until unmapped */
    KEXPECT_EQ(irql, PASSIVE_LEVEL);
    {
        /* This processor's slots (at DISPATCH_LEVEL the thread stays on it). */
        ULONG64 slots = MM_HYPERSPACE_BASE +
                        KeGetCurrentProcessorNumber() * MM_HYPERSPACE_PAGES_PER_CPU * PAGE_SIZE;
        KEXPECT_TRUE((ULONG64)p >= slots && (ULONG64)p < slots + MM_HYPERSPACE_PAGES_PER_CPU * PAGE_SIZE);
    }
    KEXPECT_EQ(MmGetPhysicalAddress(p).QuadPart, page << PAGE_SHIFT);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        p[i] = 0xA5A5A5A500000000ULL | i;
    MiUnmapPageInHyperSpace(p, irql);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KEXPECT_FALSE(MmIsAddressValid(p));

    /* The pattern is in the physical page: a system-PTE mapping sees it too. */
    pa.QuadPart = (LONGLONG)(page << PAGE_SHIFT);
    io = MmMapIoSpace(pa, PAGE_SIZE, MmCached);
    KASSERT_TRUE(io != NULL);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        wrong += io[i] != (0xA5A5A5A500000000ULL | i);
    KEXPECT_EQ(wrong, 0);

    MiZeroPhysicalPage(page);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    for (ULONG s = 0; s < MM_HYPERSPACE_PAGES_PER_CPU; s++)
        KEXPECT_EQ(MiGetPteAddress(MM_HYPERSPACE_BASE + s * PAGE_SIZE)->Long, 0);

    p = MiMapPageInHyperSpace(page, &irql);
    wrong = 0;
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        wrong += p[i] != 0;
    MiUnmapPageInHyperSpace(p, irql);
    KEXPECT_EQ(wrong, 0);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        wrong += io[i] != 0;
    KEXPECT_EQ(wrong, 0);
    MmUnmapIoSpace(io, PAGE_SIZE);

    /* MiRemoveAnyPage left the page off every list, not active: back to the free list. */
    KEXPECT_EQ(MI_PFN_ELEMENT(page)->PageLocation, TransitionPage);
    KeAcquireSpinLock(&MmPfnLock, &lockIrql);
    MiInsertPageInFreeList(page);
    KeReleaseSpinLock(&MmPfnLock, lockIrql);
    KEXPECT_EQ(KtpFreePages(), before);
}

/*
 * A translation the processor cached must not outlive the unmap: map page
 * A, read it (the TLB now holds the translation), unmap, map page B at the
 * same address and read again. Without the invlpg in the unmap the read
 * returns A's data (QEMU's TLB, like a real one, does not watch PTE writes).
 */
static ULONG64 KtpPageA[PAGE_SIZE / 8] __attribute__((aligned(PAGE_SIZE))) = {0xAAAAAAAA};
static ULONG64 KtpPageB[PAGE_SIZE / 8] __attribute__((aligned(PAGE_SIZE))) = {0xBBBBBBBB};

KTEST(paging, unmap_flushes_stale_translations)
{
    PHYSICAL_ADDRESS a = MmGetPhysicalAddress(KtpPageA), b = MmGetPhysicalAddress(KtpPageB);
    PFN_NUMBER pfnA = a.QuadPart >> PAGE_SHIFT, pfnB = b.QuadPart >> PAGE_SHIFT;
    volatile ULONG64 *va1, *va2;
    KIRQL irql;

    for (ULONG round = 0; round < 2; round++) {
        va1 = MmMapIoSpace(round ? b : a, PAGE_SIZE, MmCached);
        KASSERT_TRUE(va1 != NULL);
        KEXPECT_EQ(*va1, round ? 0xBBBBBBBB : 0xAAAAAAAA);
        MmUnmapIoSpace((PVOID)va1, PAGE_SIZE);
        va2 = MmMapIoSpace(round ? a : b, PAGE_SIZE, MmCached);
        KASSERT_TRUE(va2 != NULL);
        KEXPECT_EQ(va2, va1);       /* lowest first: the same PTE again */
        KEXPECT_EQ(*va2, round ? 0xAAAAAAAA : 0xBBBBBBBB);
        MmUnmapIoSpace((PVOID)va2, PAGE_SIZE);
    }
    /* The same for hyperspace, where mapping never flushes: unmapping must. */
    va1 = MiMapPageInHyperSpace(pfnA, &irql);
    KEXPECT_EQ(*va1, 0xAAAAAAAA);
    MiUnmapPageInHyperSpace((PVOID)va1, irql);
    va2 = MiMapPageInHyperSpace(pfnB, &irql);
    KEXPECT_EQ(va2, va1);
    KEXPECT_EQ(*va2, 0xBBBBBBBB);
    MiUnmapPageInHyperSpace((PVOID)va2, irql);
}


/* ---- RAM: one cache type per page ------------------------------------------------------------ */

#define KTP_MAPIO_TAG 'oiMT'

/*
 * A RAM page in use keeps the cache type it was mapped with (its PFN's
 * CacheAttribute). A second mapping of another type would alias it: a
 * write-back line and an uncached access to the same bytes, which the SDM
 * leaves undefined. NT refuses such a mapping; MmMapIoSpace returns NULL.
 */
KTEST(paging, map_io_space_refuses_cache_type_alias_of_ram)
{
    PHYSICAL_ADDRESS low = {.QuadPart = 0}, high = {.QuadPart = -1}, pa, qa, two;
    PFN_NUMBER ptes = MiFreeSystemPteCount();
    PULONG64 pool = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, KTP_MAPIO_TAG);
    PULONG64 uc, va;

    KASSERT_TRUE(pool != NULL);
    pool[0] = 0x1234;
    pa = MmGetPhysicalAddress(pool);
    /* Pool is cached: another cached view is fine, an uncached one is not. */
    KEXPECT_TRUE(MmMapIoSpace(pa, PAGE_SIZE, MmNonCached) == NULL);
    KEXPECT_TRUE(MmMapIoSpace(pa, PAGE_SIZE, MmWriteCombined) == NULL);
    KEXPECT_TRUE(MmMapIoSpaceEx(pa, PAGE_SIZE, PAGE_READWRITE | PAGE_NOCACHE) == NULL);
    va = MmMapIoSpace(pa, PAGE_SIZE, MmCached);
    KEXPECT_TRUE(va != NULL);
    if (va != NULL) {
        KEXPECT_EQ(va[0], 0x1234);
        MmUnmapIoSpace(va, PAGE_SIZE);
    }

    /* Non-cached contiguous memory: the other way round. */
    uc = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, low, high, low, MmNonCached);
    KASSERT_TRUE(uc != NULL);
    qa = MmGetPhysicalAddress(uc);
    KEXPECT_TRUE(MmMapIoSpace(qa, PAGE_SIZE, MmCached) == NULL);
    va = MmMapIoSpace(qa, PAGE_SIZE, MmNonCached);
    KEXPECT_TRUE(va != NULL);
    if (va != NULL)
        MmUnmapIoSpace(va, PAGE_SIZE);

    /* One conflicting page in a range refuses the whole range. */
    if ((ULONG64)qa.QuadPart >= PAGE_SIZE && MiIsPfnRam((qa.QuadPart >> PAGE_SHIFT) - 1)) {
        two.QuadPart = qa.QuadPart - PAGE_SIZE;
        va = MmMapIoSpace(two, 2 * PAGE_SIZE, MmCached);
        KEXPECT_TRUE(va == NULL);
        if (va != NULL)
            MmUnmapIoSpace(va, 2 * PAGE_SIZE);
    }
    MmFreeContiguousMemory(uc);
    ExFreePoolWithTag(pool, KTP_MAPIO_TAG);
    KEXPECT_EQ(MiFreeSystemPteCount(), ptes);
}

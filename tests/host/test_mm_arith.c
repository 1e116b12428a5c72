/*
 * test_mm_arith.c - the memory manager's address arithmetic, on the host.
 *
 * Everything here is pure integer arithmetic, so it is checked natively
 * under the sanitizers: the self-map bases follow from MI_SELFMAP_INDEX,
 * MiGetPxe/Ppe/Pde/PteAddress are index composition through the self-map
 * slot and the MiGetVirtualAddressMappedBy* macros undo them, the layout's
 * regions do not collide, the MMPTE bitfields sit where the MM_PTE_* masks
 * say, and the page macros of kernel/ntdef.h count pages as NT does.
 *
 * The system-PTE allocator (mm/sysptes.c) is host-tested here too: it only
 * does arithmetic on PTE addresses (never dereferences them) over the
 * free-run tree, so this file includes sysptes.c itself and supplies the
 * few kernel routines it calls. (If mm/sysptes.c is ever added to the host
 * sources in the Makefile, drop the #include below.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ktest.h"
#include "../../mm/mm_internal.h"
#include "../../mm/sysptes.c"

/* ---- what sysptes.c needs from the kernel (weak: another host test may own them) -------- */

__attribute__((weak)) VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

__attribute__((weak)) VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    if (*SpinLock != 0) {
        fprintf(stderr, "KeAcquireSpinLock: lock %p already held\n", (void *)SpinLock);
        abort();
    }
    *SpinLock = 1;
    *OldIrql = PASSIVE_LEVEL;
}

__attribute__((weak)) VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    (void)NewIrql;
    if (*SpinLock != 1) {
        fprintf(stderr, "KeReleaseSpinLock: lock %p not held\n", (void *)SpinLock);
        abort();
    }
    *SpinLock = 0;
}

__attribute__((weak)) VOID KeBugCheckEx(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3,
                                        ULONG_PTR P4)
{
    fprintf(stderr, "KeBugCheckEx(0x%x, %llx, %llx, %llx, %llx) in a host test\n", Code, P1, P2,
            P3, P4);
    abort();
}

/* ---- helpers ----------------------------------------------------------------------------- */

#define MA_R MI_SELFMAP_INDEX

static ULONG64 MaRng = 0xD1B54A32D192ED03ULL;

static ULONG64 MaRand(void)
{
    return KtestRandom(&MaRng);
}

static ULONG64 MaCanonical(ULONG64 Va)
{
    return (ULONG64)((LONG64)(Va << 16) >> 16);
}

static ULONG64 MaCompose(ULONG64 I4, ULONG64 I3, ULONG64 I2, ULONG64 I1, ULONG64 Offset)
{
    return MaCanonical(I4 << 39 | I3 << 30 | I2 << 21 | I1 << 12 | Offset);
}

/* Random canonical addresses, with the interesting ones mixed in. */
static ULONG64 MaRandomVa(ULONG N)
{
    static const ULONG64 fixed[] = {
        0, 0xFFF, 0x1000, 0x7FFFFFFFFFFFULL, 0x7FFFFFFFF000ULL, 0xFFFF800000000000ULL,
        0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFF80000000ULL, PTE_BASE, PTE_TOP, PDE_BASE, PPE_BASE,
        PXE_BASE, PXE_BASE + MA_R * 8, MM_HYPERSPACE_BASE, MM_SYSTEM_PTE_BASE, MM_PFN_DATABASE,
    };
    if (N < ARRAYSIZE(fixed))
        return fixed[N];
    return MaCanonical(MaRand());
}

/* ---- self-map bases ---------------------------------------------------------------------- */

KTEST(mmarith, selfmap_bases_follow_from_index)
{
    KEXPECT_EQ(MA_R, 0x1ED);
    KEXPECT_EQ(PTE_BASE, 0xFFFF000000000000ULL | MA_R << 39);
    KEXPECT_EQ(PDE_BASE, PTE_BASE | MA_R << 30);
    KEXPECT_EQ(PPE_BASE, PDE_BASE | MA_R << 21);
    KEXPECT_EQ(PXE_BASE, PPE_BASE | MA_R << 12);
    KEXPECT_EQ(PTE_TOP, PTE_BASE + (1ULL << 39) - 1);
    /* Each base is the PTE of the one before: the recursion in one line. */
    KEXPECT_EQ(MiGetPteAddress(0), PTE_BASE);
    KEXPECT_EQ(MiGetPteAddress(PTE_BASE), PDE_BASE);
    KEXPECT_EQ(MiGetPteAddress(PDE_BASE), PPE_BASE);
    KEXPECT_EQ(MiGetPteAddress(PPE_BASE), PXE_BASE);
    KEXPECT_EQ(MiGetPteAddress(PXE_BASE), PXE_BASE + MA_R * 8);     /* PXE_SELFMAP */
    KEXPECT_EQ(PXE_BASE + MA_R * 8, 0xFFFFF6FB7DBEDF68ULL);
    KEXPECT_EQ(MiGetPxeAddress(PXE_BASE), PXE_BASE + MA_R * 8);
    /* NT's well-known values for the start of the kernel image. */
    KEXPECT_EQ(MiGetPteAddress(0xFFFFFFFF80000000ULL), 0xFFFFF6FFFFC00000ULL);
    KEXPECT_EQ(MiGetPdeAddress(0xFFFFFFFF80000000ULL), 0xFFFFF6FB7FFFE000ULL);
    KEXPECT_EQ(MiGetPpeAddress(0xFFFFFFFF80000000ULL), 0xFFFFF6FB7DBFFFF0ULL);
    KEXPECT_EQ(MiGetPxeAddress(0xFFFFFFFF80000000ULL), 0xFFFFF6FB7DBEDFF8ULL);
}

KTEST(mmarith, selfmap_formulas_are_index_composition)
{
    for (ULONG n = 0; n < 200000; n++) {
        ULONG64 va = MaRandomVa(n);
        ULONG64 i4 = (va >> 39) & 511, i3 = (va >> 30) & 511, i2 = (va >> 21) & 511,
                i1 = (va >> 12) & 511;
        KEXPECT_EQ(MiGetPxeAddress(va), MaCompose(MA_R, MA_R, MA_R, MA_R, i4 * 8));
        KEXPECT_EQ(MiGetPpeAddress(va), MaCompose(MA_R, MA_R, MA_R, i4, i3 * 8));
        KEXPECT_EQ(MiGetPdeAddress(va), MaCompose(MA_R, MA_R, i4, i3, i2 * 8));
        KEXPECT_EQ(MiGetPteAddress(va), MaCompose(MA_R, i4, i3, i2, i1 * 8));
        /* One level up is the PTE of the PTE. */
        KEXPECT_EQ(MiGetPdeAddress(va), MiGetPteAddress(MiGetPteAddress(va)));
        KEXPECT_EQ(MiGetPpeAddress(va), MiGetPteAddress(MiGetPdeAddress(va)));
        KEXPECT_EQ(MiGetPxeAddress(va), MiGetPteAddress(MiGetPpeAddress(va)));
        /* Every entry lies in its level's window. */
        KEXPECT_TRUE((ULONG64)MiGetPteAddress(va) >= PTE_BASE &&
                     (ULONG64)MiGetPteAddress(va) <= PTE_TOP);
        KEXPECT_TRUE((ULONG64)MiGetPdeAddress(va) - PDE_BASE < (1ULL << 30));
        KEXPECT_TRUE((ULONG64)MiGetPpeAddress(va) - PPE_BASE < (1ULL << 21));
        KEXPECT_TRUE((ULONG64)MiGetPxeAddress(va) - PXE_BASE < (1ULL << 12));
        if (KtestCurrentFailed) {
            printf("#   at va %016llx\n", va);
            return;
        }
    }
}

KTEST(mmarith, selfmap_inverses_round_trip)
{
    for (ULONG n = 0; n < 200000; n++) {
        ULONG64 va = MaRandomVa(n);
        KEXPECT_EQ(MiGetVirtualAddressMappedByPte(MiGetPteAddress(va)), va & ~0xFFFULL);
        KEXPECT_EQ(MiGetVirtualAddressMappedByPde(MiGetPdeAddress(va)), va & ~0x1FFFFFULL);
        KEXPECT_EQ(MiGetVirtualAddressMappedByPpe(MiGetPpeAddress(va)), va & ~0x3FFFFFFFULL);
        KEXPECT_EQ(MiGetVirtualAddressMappedByPxe(MiGetPxeAddress(va)), va & ~0x7FFFFFFFFFULL);
        /* The other way: any 8-byte-aligned entry address maps one VA and back. */
        {
            ULONG64 pte = PTE_BASE + (MaRand() & ((1ULL << 39) - 8));
            ULONG64 pde = PDE_BASE + (MaRand() & ((1ULL << 30) - 8));
            ULONG64 ppe = PPE_BASE + (MaRand() & ((1ULL << 21) - 8));
            ULONG64 pxe = PXE_BASE + (MaRand() & ((1ULL << 12) - 8));
            KEXPECT_EQ(MiGetPteAddress(MiGetVirtualAddressMappedByPte(pte)), pte);
            KEXPECT_EQ(MiGetPdeAddress(MiGetVirtualAddressMappedByPde(pde)), pde);
            KEXPECT_EQ(MiGetPpeAddress(MiGetVirtualAddressMappedByPpe(ppe)), ppe);
            KEXPECT_EQ(MiGetPxeAddress(MiGetVirtualAddressMappedByPxe(pxe)), pxe);
            /* What they map is canonical. */
            KEXPECT_EQ((ULONG64)MiGetVirtualAddressMappedByPte(pte),
                       MaCanonical((ULONG64)MiGetVirtualAddressMappedByPte(pte)));
        }
        if (KtestCurrentFailed) {
            printf("#   at va %016llx\n", va);
            return;
        }
    }
    /* The upper half maps to the upper half: sign extension from bit 47. */
    KEXPECT_EQ(MiGetVirtualAddressMappedByPxe(PXE_BASE + 256 * 8), 0xFFFF800000000000ULL);
    KEXPECT_EQ(MiGetVirtualAddressMappedByPxe(PXE_BASE + 255 * 8), 0x00007F8000000000ULL);
    KEXPECT_EQ(MiGetVirtualAddressMappedByPte(PTE_TOP & ~7ULL), 0xFFFFFFFFFFFFF000ULL);
    KEXPECT_EQ(MiGetVirtualAddressMappedByPte(PTE_BASE), 0);
}

KTEST(mmarith, layout_regions_are_disjoint_and_aligned)
{
    static const struct {
        ULONG64 Start, End;
    } regions[] = {
        {PTE_BASE, PTE_TOP + 1},
        {MM_HYPERSPACE_BASE,
         MM_HYPERSPACE_BASE + MM_MAXIMUM_PROCESSORS * MM_HYPERSPACE_PAGES_PER_CPU * PAGE_SIZE},
        {MM_SYSTEM_PTE_BASE, MM_SYSTEM_PTE_END},
        {MM_PAGED_POOL_START, MM_PAGED_POOL_END},
        {MM_PFN_DATABASE, MM_PFN_DATABASE_END},
        {MM_NONPAGED_SYSTEM_START, MM_NONPAGED_SYSTEM_END},
        {MM_KSEG0_BASE, 0},     /* to the top of the address space */
    };

    for (ULONG i = 0; i < ARRAYSIZE(regions); i++) {
        ULONG64 s = regions[i].Start, e = regions[i].End ? regions[i].End - 1 : ~0ULL;
        KEXPECT_EQ(s, MaCanonical(s));
        KEXPECT_GE(s, MM_SYSTEM_RANGE_START);
        KEXPECT_ULE(s, e);
        KEXPECT_EQ(s & 0x1FFFFF, 0);
        for (ULONG j = 0; j < i; j++) {
            ULONG64 s2 = regions[j].Start, e2 = regions[j].End ? regions[j].End - 1 : ~0ULL;
            KEXPECT_TRUE(e < s2 || e2 < s);
        }
        /* Only the self-map lives in PML4 slot MA_R. */
        if (i > 0) {
            KEXPECT_NE((s >> 39) & 511, MA_R);
            KEXPECT_NE((e >> 39) & 511, MA_R);
        }
    }
    KEXPECT_EQ((PTE_BASE >> 39) & 511, MA_R);
    KEXPECT_EQ(MM_SYSTEM_PTE_END, MM_SYSTEM_PTE_BASE + MM_SYSTEM_PTE_PAGES * PAGE_SIZE);
    KEXPECT_EQ(MM_NONPAGED_SYSTEM_START, MM_PFN_DATABASE_END);
    /* init.c makes one page table for hyperspace: every CPU's slots must fit in it. */
    KEXPECT_LE(MM_MAXIMUM_PROCESSORS * MM_HYPERSPACE_PAGES_PER_CPU, 512);
    /* The PFN database window covers at least 1 TiB of RAM. */
    KEXPECT_GE((MM_PFN_DATABASE_END - MM_PFN_DATABASE) / sizeof(MMPFN), (1ULL << 40) >> PAGE_SHIFT);
    /* The kernel image: VA = KSEG0 + PA, within the top 2 GiB (-mcmodel=kernel). */
    KEXPECT_EQ(MM_KSEG0_BASE, 0xFFFFFFFF80000000ULL);
}

/* ---- MMPTE ------------------------------------------------------------------------------- */

KTEST(mmarith, mmpte_hardware_bits_match_masks)
{
    MMPTE p;

#define MA_FIELD(Field, Mask)          \
    p.Long = 0;                        \
    p.Hard.Field = 1;                  \
    KEXPECT_EQ(p.Long, (Mask));        \
    p.Long = ~0ULL & ~(ULONG64)(Mask); \
    KEXPECT_EQ(p.Hard.Field, 0);

    MA_FIELD(Valid, MM_PTE_VALID);
    MA_FIELD(Dirty1, MM_PTE_WRITE);
    MA_FIELD(Owner, MM_PTE_OWNER);
    MA_FIELD(WriteThrough, MM_PTE_WRITE_THROUGH);
    MA_FIELD(CacheDisable, MM_PTE_CACHE_DISABLE);
    MA_FIELD(Accessed, MM_PTE_ACCESSED);
    MA_FIELD(Dirty, MM_PTE_DIRTY);
    MA_FIELD(LargePage, MM_PTE_LARGE_PAGE);
    MA_FIELD(Global, MM_PTE_GLOBAL);
    MA_FIELD(CopyOnWrite, 1ULL << 9);
    MA_FIELD(Prototype, 1ULL << 10);
    MA_FIELD(Write, 1ULL << 11);
    MA_FIELD(NoExecute, MM_PTE_NO_EXECUTE);
#undef MA_FIELD
    KEXPECT_EQ(MM_PTE_PAT_4K, MM_PTE_LARGE_PAGE);

    /* PageFrameNumber is NT's 36 bits (12..47); MM_PTE_FRAME_MASK takes all 40 (12..51). */
    p.Long = 0;
    p.Hard.PageFrameNumber = (1ULL << 36) - 1;
    KEXPECT_EQ(p.Long, 0x0000FFFFFFFFF000ULL);
    KEXPECT_EQ(p.Long & ~MM_PTE_FRAME_MASK, 0);
    p.Long = 0;
    p.Hard.Reserved1 = 0xF;
    KEXPECT_EQ(p.Long, 0x000F000000000000ULL);
    p.Long = 0;
    p.Hard.SoftwareWsIndex = 0x7FF;
    KEXPECT_EQ(p.Long, 0x7FF0000000000000ULL);
    KEXPECT_EQ(MM_PTE_FRAME_MASK, 0x000FFFFFFFFFF000ULL);

    /* MI_PTE_FRAME and the bitfield agree for any 36-bit frame. */
    for (ULONG n = 0; n < 10000; n++) {
        PFN_NUMBER pfn = MaRand() & ((1ULL << 36) - 1);
        ULONG64 bits = MaRand() & ~MM_PTE_FRAME_MASK;
        p.Long = (pfn << PAGE_SHIFT) | bits;
        KEXPECT_EQ(MI_PTE_FRAME(p), pfn);
        KEXPECT_EQ(p.Hard.PageFrameNumber, pfn);
        KEXPECT_EQ(p.Hard.Valid, bits & 1);
        KEXPECT_EQ(p.Hard.NoExecute, bits >> 63);
        if (KtestCurrentFailed)
            return;
    }
    /* Frames with bits 36..39 set (physical addresses 2^48..2^52) are frames too. */
    p.Long = (0xF000000001ULL << PAGE_SHIFT) | MM_PTE_VALID;
    KEXPECT_EQ(MI_PTE_FRAME(p), 0xF000000001ULL);
}

KTEST(mmarith, mmpte_software_and_transition_layouts)
{
    MMPTE p;

    p.Long = 0;
    p.Soft.Protection = 0x1F;
    KEXPECT_EQ(p.Long, 0x1FULL << 5);
    p.Long = 0;
    p.Soft.Prototype = 1;
    KEXPECT_EQ(p.Long, 1ULL << 10);
    p.Long = 0;
    p.Soft.Transition = 1;
    KEXPECT_EQ(p.Long, 1ULL << 11);
    p.Long = 0;
    p.Soft.PageFileLow = 0xF;
    KEXPECT_EQ(p.Long, 0xFULL << 1);
    p.Long = 0;
    p.Soft.PageFileHigh = 0xFFFFFFFF;
    KEXPECT_EQ(p.Long, 0xFFFFFFFF00000000ULL);
    p.Long = 0;
    p.Soft.UsedPageTableEntries = 0x3FF;
    KEXPECT_EQ(p.Long, 0x3FFULL << 12);
    /* Demand-zero read-write, as NT writes it: protection 4 (READWRITE). */
    p.Long = 0;
    p.Soft.Protection = 4;
    KEXPECT_EQ(p.Long, 0x80);

    p.Long = 0;
    p.Trans.Transition = 1;
    p.Trans.PageFrameNumber = 0x123456;
    KEXPECT_EQ(p.Long, (1ULL << 11) | (0x123456ULL << PAGE_SHIFT));
    KEXPECT_EQ(MI_PTE_FRAME(p), 0x123456);
    p.Long = 0;
    p.Trans.Protection = 0x1F;
    KEXPECT_EQ(p.Long, 0x1FULL << 5);
    p.Long = 0;
    p.Trans.Unused = 0xFFFF;
    KEXPECT_EQ(p.Long, 0xFFFF000000000000ULL);
}

/* ---- kernel/ntdef.h page macros ----------------------------------------------------------- */

KTEST(mmarith, page_macros_known_values)
{
    KEXPECT_EQ(PAGE_SIZE, 4096);
    KEXPECT_EQ(1UL << PAGE_SHIFT, PAGE_SIZE);
    KEXPECT_EQ(BYTE_OFFSET(0x12345), 0x345);
    KEXPECT_EQ(BYTE_OFFSET(0xFFFFFFFF80001FFFULL), 0xFFF);
    KEXPECT_EQ(PAGE_ALIGN(0x12345), 0x12000);
    KEXPECT_EQ(PAGE_ALIGN(0xFFFFFFFF80001FFFULL), 0xFFFFFFFF80001000ULL);
    KEXPECT_EQ(ROUND_TO_PAGES(0), 0);
    KEXPECT_EQ(ROUND_TO_PAGES(1), PAGE_SIZE);
    KEXPECT_EQ(ROUND_TO_PAGES(PAGE_SIZE), PAGE_SIZE);
    KEXPECT_EQ(ROUND_TO_PAGES(PAGE_SIZE + 1), 2 * PAGE_SIZE);
    KEXPECT_EQ(BYTES_TO_PAGES(0), 0);
    KEXPECT_EQ(BYTES_TO_PAGES(1), 1);
    KEXPECT_EQ(BYTES_TO_PAGES(4096), 1);
    KEXPECT_EQ(BYTES_TO_PAGES(4097), 2);
    KEXPECT_EQ(BYTES_TO_PAGES(0xFFFFFFFFU), 0x100000);     /* ULONG sizes do not wrap */
    KEXPECT_EQ(BYTES_TO_PAGES(1ULL << 40), 1ULL << 28);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 1), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0x1000), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1001, 0x1000), 2);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1FFF, 1), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1FFF, 2), 2);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x123, 0x3000), 4);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0xFFFFFFFF80000000ULL, 0x80000000ULL), 0x80000);
    /* NT's macro: a zero size spans no page when page aligned, one otherwise. */
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0), 0);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1010, 0), 1);
}

KTEST(mmarith, span_pages_matches_first_and_last_page)
{
    for (ULONG n = 0; n < 200000; n++) {
        ULONG64 va = MaCanonical(MaRand());
        SIZE_T size = 1 + (MaRand() % ((n & 1) ? 0x3000 : (1ULL << 32)));
        ULONG64 first = va >> PAGE_SHIFT, last = (va + size - 1) >> PAGE_SHIFT;

        if (va + size - 1 < va)
            continue;   /* wraps the address space: not a real buffer */
        KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, size), last - first + 1);
        KEXPECT_EQ(BYTES_TO_PAGES(size), (size + PAGE_SIZE - 1) / PAGE_SIZE);
        KEXPECT_EQ(ROUND_TO_PAGES(size), BYTES_TO_PAGES(size) * PAGE_SIZE);
        KEXPECT_EQ((ULONG64)PAGE_ALIGN(va) + BYTE_OFFSET(va), va);
        if (KtestCurrentFailed) {
            printf("#   va %016llx size %llx\n", va, size);
            return;
        }
    }
}

/* ---- the system-PTE allocator (mm/sysptes.c) -------------------------------------------------- */

static PVOID MaPteStorage;

static void MaOpenSystemPtes(void)
{
    SIZE_T size = MiSystemPteStorageSize();

    MaPteStorage = malloc(size);
    memset(MaPteStorage, 0xA5, size);       /* Initialize must not rely on zeroed storage */
    MiInitializeSystemPtes(MaPteStorage);
}

static void MaCloseSystemPtes(void)
{
    free(MaPteStorage);
    MaPteStorage = NULL;
}

static ULONG64 MaIndexOf(PMMPTE Pte)
{
    return ((ULONG64)MiGetVirtualAddressMappedByPte(Pte) - MM_SYSTEM_PTE_BASE) >> PAGE_SHIFT;
}

/* With nothing cached (a fresh region, runs not yet released) the lowest fit wins. */
KTEST(mmarith, system_ptes_lowest_first_and_contiguous)
{
    PMMPTE a, b, c, d;

    MaOpenSystemPtes();
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES);
    a = MiReserveSystemPtes(1, SystemPteSpace);
    KEXPECT_EQ(a, MiGetPteAddress(MM_SYSTEM_PTE_BASE));
    KEXPECT_EQ(MiGetVirtualAddressMappedByPte(a), MM_SYSTEM_PTE_BASE);
    b = MiReserveSystemPtes(40, SystemPteSpace);
    KEXPECT_EQ(b, a + 1);
    c = MiReserveSystemPtes(512, NonPagedPoolExpansion);
    KEXPECT_EQ(c, b + 40);
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES - 553);
    /* A hole (too large to be cached) is reused by a request that fits,
     * skipped by one that does not. */
    MiReleaseSystemPtes(b, 40, SystemPteSpace);
    d = MiReserveSystemPtes(41, SystemPteSpace);
    KEXPECT_EQ(d, c + 512);
    MiReleaseSystemPtes(d, 41, SystemPteSpace);
    d = MiReserveSystemPtes(40, SystemPteSpace);
    KEXPECT_EQ(d, b);
    d = MiReserveSystemPtes(1, SystemPteSpace);
    KEXPECT_EQ(d, c + 512);
    MiReleaseSystemPtes(d, 1, SystemPteSpace);
    MiReleaseSystemPtes(a, 1, SystemPteSpace);
    MiReleaseSystemPtes(b, 40, SystemPteSpace);
    MiReleaseSystemPtes(c, 512, SystemPteSpace);
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES);
    MaCloseSystemPtes();
}

KTEST(mmarith, system_ptes_bad_sizes_and_exhaustion)
{
    PMMPTE all, one;

    MaOpenSystemPtes();
    KEXPECT_TRUE(MiReserveSystemPtes(0, SystemPteSpace) == NULL);
    KEXPECT_TRUE(MiReserveSystemPtes((ULONG)MM_SYSTEM_PTE_PAGES + 1, SystemPteSpace) == NULL);
    KEXPECT_TRUE(MiReserveSystemPtes(~0U, SystemPteSpace) == NULL);
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES);
    all = MiReserveSystemPtes((ULONG)MM_SYSTEM_PTE_PAGES, SystemPteSpace);
    KEXPECT_EQ(all, MiGetPteAddress(MM_SYSTEM_PTE_BASE));
    KEXPECT_EQ(MiFreeSystemPteCount(), 0);
    KEXPECT_TRUE(MiReserveSystemPtes(1, SystemPteSpace) == NULL);
    /* Free the last PTE: exactly that one comes back. */
    MiReleaseSystemPtes(all + MM_SYSTEM_PTE_PAGES - 1, 1, SystemPteSpace);
    one = MiReserveSystemPtes(1, SystemPteSpace);
    KEXPECT_EQ(one, MiGetPteAddress(MM_SYSTEM_PTE_END - PAGE_SIZE));
    KEXPECT_TRUE(MiReserveSystemPtes(1, SystemPteSpace) == NULL);
    MiReleaseSystemPtes(all, (ULONG)MM_SYSTEM_PTE_PAGES, SystemPteSpace);
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES);
    MaCloseSystemPtes();
}

/* Exhaustion empties the cache of released small runs before it fails. */
KTEST(mmarith, system_ptes_cached_runs_return_to_the_tree)
{
    PMMPTE all, pair;

    MaOpenSystemPtes();
    all = MiReserveSystemPtes((ULONG)MM_SYSTEM_PTE_PAGES, SystemPteSpace);
    KASSERT_TRUE(all != NULL);
    /* Two neighbouring single PTEs are released: both sit in the 1-PTE cache. */
    MiReleaseSystemPtes(all + 5, 1, SystemPteSpace);
    MiReleaseSystemPtes(all + 6, 1, SystemPteSpace);
    KEXPECT_EQ(MiFreeSystemPteCount(), 2);
    /* The last released comes back first. */
    KEXPECT_EQ(MiReserveSystemPtes(1, SystemPteSpace), all + 6);
    MiReleaseSystemPtes(all + 6, 1, SystemPteSpace);
    /* No free run of two in the tree: the cache is flushed and they merge. */
    pair = MiReserveSystemPtes(2, SystemPteSpace);
    KEXPECT_EQ(pair, all + 5);
    KEXPECT_EQ(MiFreeSystemPteCount(), 0);
    KEXPECT_TRUE(MiReserveSystemPtes(1, SystemPteSpace) == NULL);
    MiReleaseSystemPtes(pair, 2, SystemPteSpace);
    MiReleaseSystemPtes(all, 5, SystemPteSpace);
    MiReleaseSystemPtes(all + 7, (ULONG)MM_SYSTEM_PTE_PAGES - 7, SystemPteSpace);
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES);
    MaCloseSystemPtes();
}

/*
 * Random reserve/release against a byte-per-PTE model: first fit, except
 * that a released run of up to MI_SYSPTE_CACHED_SIZES PTEs goes onto a
 * per-size stack (MI_SYSPTE_CACHE_DEPTH deep, still used in the model) that
 * the next reservation of that size pops, and that a failed search empties
 * the stacks and tries again.
 */
KTEST(mmarith, system_ptes_match_first_fit_model)
{
    enum { MAX_LIVE = 512 };
    static UCHAR used[MM_SYSTEM_PTE_PAGES];
    static struct {
        PMMPTE Pte;
        ULONG Count;
    } live[MAX_LIVE];
    static struct {
        ULONG Count;
        ULONG64 Index[MI_SYSPTE_CACHE_DEPTH];
    } cache[MI_SYSPTE_CACHED_SIZES];
    ULONG nLive = 0;
    PFN_NUMBER freeCount = MM_SYSTEM_PTE_PAGES;

    MaOpenSystemPtes();
    memset(used, 0, sizeof(used));
    memset(cache, 0, sizeof(cache));
    for (ULONG step = 0; step < 4000; step++) {
        BOOLEAN reserve = nLive == 0 || (nLive < MAX_LIVE && (MaRand() % 100) < 55);
        if (reserve) {
            ULONG r = (ULONG)(MaRand() % 100);
            ULONG count = r < 60 ? 1 + (ULONG)(MaRand() % 8)
                        : r < 97 ? 1 + (ULONG)(MaRand() % 600)
                                 : 1 + (ULONG)(MaRand() % 20000);
            ULONG64 expect = ~0ULL, run = 0;
            PMMPTE pte;

            if (count <= MI_SYSPTE_CACHED_SIZES && cache[count - 1].Count > 0) {
                expect = cache[count - 1].Index[--cache[count - 1].Count];
            } else {
                for (int attempt = 0; attempt < 2 && expect == ~0ULL; attempt++) {
                    run = 0;
                    for (ULONG64 i = 0; i < MM_SYSTEM_PTE_PAGES; i++) {
                        run = used[i] ? 0 : run + 1;
                        if (run == count) {
                            expect = i + 1 - count;
                            break;
                        }
                    }
                    if (expect != ~0ULL)
                        break;
                    for (ULONG n = 0; n < MI_SYSPTE_CACHED_SIZES; n++)
                        while (cache[n].Count > 0)
                            memset(&used[cache[n].Index[--cache[n].Count]], 0, n + 1);
                }
            }
            pte = MiReserveSystemPtes(count, SystemPteSpace);
            if (expect == ~0ULL) {
                KEXPECT_TRUE(pte == NULL);
                continue;
            }
            KASSERT_TRUE(pte != NULL);
            KEXPECT_EQ(MaIndexOf(pte), expect);
            memset(&used[expect], 1, count);
            freeCount -= count;
            live[nLive].Pte = pte;
            live[nLive].Count = count;
            nLive++;
        } else {
            ULONG k = (ULONG)(MaRand() % nLive);
            ULONG64 index = MaIndexOf(live[k].Pte);
            ULONG count = live[k].Count;
            MiReleaseSystemPtes(live[k].Pte, count, SystemPteSpace);
            if (count <= MI_SYSPTE_CACHED_SIZES && cache[count - 1].Count < MI_SYSPTE_CACHE_DEPTH)
                cache[count - 1].Index[cache[count - 1].Count++] = index;
            else
                memset(&used[index], 0, count);
            freeCount += count;
            live[k] = live[--nLive];
        }
        KEXPECT_EQ(MiFreeSystemPteCount(), freeCount);
        if (KtestCurrentFailed) {
            printf("#   at step %u\n", step);
            break;
        }
    }
    while (nLive > 0) {
        nLive--;
        MiReleaseSystemPtes(live[nLive].Pte, live[nLive].Count, SystemPteSpace);
    }
    KEXPECT_EQ(MiFreeSystemPteCount(), MM_SYSTEM_PTE_PAGES);
    MaCloseSystemPtes();
}

/*
 * test_paging.c - Mica's own 4-level page tables, checked from inside.
 *
 * The self-map formulas are only trusted after they agree with a walk that
 * does not use them: KtpWalk starts at CR3 and reads every level through
 * hyperspace (a temporary mapping of the physical table page), as the
 * processor does. For many addresses - every page of the kernel image,
 * the self-map itself, the PFN database, hyperspace, system PTEs, user
 * space, random canonical addresses - the test compares that walk with
 * MiGetPxe/Ppe/Pde/PteAddress (same entries, same physical pages),
 * MiWalkToPte, MmGetPhysicalAddress and MmIsAddressValid.
 *
 * Then: W^X of the kernel sections, the control bits paging relies on,
 * system-PTE exhaustion, page tables given back on unmap (and not leaked
 * when memory runs out), and RAM above 4 GiB (bios-6g). Cache types,
 * MmMapIoSpace(Ex) and hyperspace are test_mapio.c.
 * The bug-check half (faults with NT's stop codes) is test_paging_bugcheck.c.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define CR0_WP   (1ULL << 16)
#define CR0_PG   (1ULL << 31)
#define CR4_PAE  (1ULL << 5)
#define CR4_PGE  (1ULL << 7)
#define MSR_EFER 0xC0000080
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define MSR_IA32_APIC_BASE 0x1B
#define MSR_IA32_PAT 0x277
#define APIC_BASE_ENABLE (1ULL << 11)
#define LAPIC_ID      0x20
#define LAPIC_VERSION 0x30

/* The frame of CR3 (bits 12..51; the low bits are PCD/PWT or a PCID). */
#define KTP_CR3_FRAME(Cr3) ((Cr3) & MM_PTE_FRAME_MASK)
/* Bits the processor may set behind our back between two reads. */
#define KTP_AD (MM_PTE_ACCESSED | MM_PTE_DIRTY)
#define KTP_R MI_SELFMAP_INDEX

extern ULONG64 MiPatValue;              /* cache.c: what it programs into IA32_PAT */
extern ULONG64 MmKernelPml4Physical;    /* init.c */

static ULONG64 KtpRng = 0x853C49E6748FEA9BULL;

static ULONG64 KtpRand(void)
{
    return KtestRandom(&KtpRng);
}

static ULONG64 KtpCanonical(ULONG64 Va)
{
    return (ULONG64)((LONG64)(Va << 16) >> 16);
}

/* The self-map address of the entry reached by indices I4.I3.I2.I1 and byte Offset. */
static ULONG64 KtpCompose(ULONG64 I4, ULONG64 I3, ULONG64 I2, ULONG64 I1, ULONG64 Offset)
{
    return KtpCanonical(I4 << 39 | I3 << 30 | I2 << 21 | I1 << 12 | Offset);
}

static PFN_NUMBER KtpFreePages(void)
{
    return MmFreePageListHead.Total + MmZeroedPageListHead.Total + MmLowFreePageListHead.Total;
}

/* Free pages an ordinary allocation (a page table, a pool page) may take:
 * under nolowmem the pages below 4 GiB (the low list) are not among them. */
static PFN_NUMBER KtpOrdinaryFreePages(void)
{
    return MmFreePageListHead.Total + MmZeroedPageListHead.Total;
}

static PHYSICAL_ADDRESS KtpLapicPhysical(void)
{
    PHYSICAL_ADDRESS pa;

    pa.QuadPart = (LONGLONG)(__readmsr(MSR_IA32_APIC_BASE) & 0x000FFFFFFFFFF000ULL);
    return pa;
}

static PHYSICAL_ADDRESS KtpDisplayPhysical(void)
{
    PHYSICAL_ADDRESS pa;

    pa.QuadPart = KeLoaderBlock->Display.Type != LoaderDisplayNone
                      ? (LONGLONG)KeLoaderBlock->Display.PhysicalBase
                      : 0xB8000;
    return pa;
}

/* ---- a page walk that does not use the self-map -------------------------------------- */

typedef struct _KTP_WALK {
    ULONG Levels;               /* entries read: 1 (PML4E) .. 4 (PTE) */
    ULONG64 Entry[4];           /* PML4E, PDPTE, PDE, PTE */
    PFN_NUMBER TablePfn[4];     /* the physical table each entry was read from */
    BOOLEAN Valid;
    ULONG64 Pa;
} KTP_WALK;

/* Entry Index of the table in physical page Pfn, read through hyperspace. */
static ULONG64 KtpReadPhysicalEntry(PFN_NUMBER Pfn, ULONG Index)
{
    KIRQL irql;
    PMMPTE table = MiMapPageInHyperSpace(Pfn, &irql);
    ULONG64 value = table[Index].Long;

    MiUnmapPageInHyperSpace(table, irql);
    return value;
}

static void KtpWalk(ULONG64 Va, KTP_WALK *W)
{
    static const ULONG shifts[4] = {39, 30, 21, 12};
    PFN_NUMBER table = KTP_CR3_FRAME(__readcr3()) >> PAGE_SHIFT;

    W->Levels = 0;
    W->Valid = FALSE;
    W->Pa = 0;
    for (ULONG l = 0; l < 4; l++) {
        ULONG64 e = KtpReadPhysicalEntry(table, (ULONG)(Va >> shifts[l]) & 511);
        W->TablePfn[l] = table;
        W->Entry[l] = e;
        W->Levels = l + 1;
        if (!(e & MM_PTE_VALID))
            return;
        if ((l == 1 || l == 2) && (e & MM_PTE_LARGE_PAGE)) {
            ULONG64 mask = (1ULL << shifts[l]) - 1;
            W->Valid = TRUE;
            W->Pa = (e & MM_PTE_FRAME_MASK & ~mask) | (Va & mask);
            return;
        }
        table = (e & MM_PTE_FRAME_MASK) >> PAGE_SHIFT;
    }
    W->Valid = TRUE;
    W->Pa = (W->Entry[3] & MM_PTE_FRAME_MASK) | (Va & (PAGE_SIZE - 1));
}

static ULONG KtpChecked, KtpCheckedValid;

/* Compare everything Mm says about Va with the physical walk; FALSE on a mismatch. */
static BOOLEAN KtpCheckAddress(ULONG64 Va)
{
    PVOID va = (PVOID)Va;
    PMMPTE selfmap[4] = {MiGetPxeAddress(va), MiGetPpeAddress(va), MiGetPdeAddress(va),
                         MiGetPteAddress(va)};
    ULONG64 i4 = (Va >> 39) & 511, i3 = (Va >> 30) & 511, i2 = (Va >> 21) & 511,
            i1 = (Va >> 12) & 511;
    int failedBefore = KtestCurrentFailed;
    KTP_WALK w;
    ULONG level;
    PMMPTE leaf;

    /* The walk itself borrows hyperspace slot 0: it cannot look at that slot. */
    if ((Va & ~0xFFFULL) == MM_HYPERSPACE_BASE)
        return TRUE;
    KtestCurrentFailed = 0;
    /* The formulas are index composition through slot R. */
    KEXPECT_EQ(selfmap[0], KtpCompose(KTP_R, KTP_R, KTP_R, KTP_R, i4 * 8));
    KEXPECT_EQ(selfmap[1], KtpCompose(KTP_R, KTP_R, KTP_R, i4, i3 * 8));
    KEXPECT_EQ(selfmap[2], KtpCompose(KTP_R, KTP_R, i4, i3, i2 * 8));
    KEXPECT_EQ(selfmap[3], KtpCompose(KTP_R, i4, i3, i2, i1 * 8));
    /* And the inverses give back the start of what each entry maps. */
    KEXPECT_EQ(MiGetVirtualAddressMappedByPte(selfmap[3]), Va & ~0xFFFULL);
    KEXPECT_EQ(MiGetVirtualAddressMappedByPde(selfmap[2]), Va & ~0x1FFFFFULL);
    KEXPECT_EQ(MiGetVirtualAddressMappedByPpe(selfmap[1]), Va & ~0x3FFFFFFFULL);
    KEXPECT_EQ(MiGetVirtualAddressMappedByPxe(selfmap[0]), Va & ~0x7FFFFFFFFFULL);

    KtpWalk(Va, &w);
    for (ULONG l = 0; l < w.Levels; l++) {
        /* Same entry through the self-map (only read it while its table exists). */
        KEXPECT_EQ(selfmap[l]->Long & ~KTP_AD, w.Entry[l] & ~KTP_AD);
        /* The self-map page holding that entry is the physical table the walk read. */
        KEXPECT_EQ(MmGetPhysicalAddress(selfmap[l]).QuadPart,
                   (w.TablePfn[l] << PAGE_SHIFT) | ((ULONG64)selfmap[l] & 0xFFF));
        /* The PFN database agrees the table is a page in use. */
        if (MiIsPfnRam(w.TablePfn[l])) {
            PMMPFN pfn = MI_PFN_ELEMENT(w.TablePfn[l]);
            KEXPECT_EQ(pfn->PageLocation, ActiveAndValid);
            if (l > 0 && (pfn->Flags & MI_PFN_PAGE_TABLE)) {
                KEXPECT_EQ(pfn->PteAddress, selfmap[l - 1]);
                KEXPECT_EQ(pfn->PteFrame, w.TablePfn[l - 1]);
            }
        } else {
            KtestFail(__FILE__, __LINE__, "table page %llx is not RAM", w.TablePfn[l]);
        }
    }
    leaf = MiWalkToPte(va, &level);
    KEXPECT_EQ(leaf != NULL, w.Valid);
    KEXPECT_EQ(level, 5 - w.Levels);
    if (leaf != NULL)
        KEXPECT_EQ(leaf, selfmap[4 - level]);
    KEXPECT_EQ(MmGetPhysicalAddress(va).QuadPart, w.Valid ? w.Pa : 0);
    KEXPECT_EQ(MmIsAddressValid(va), w.Valid);

    KtpChecked++;
    KtpCheckedValid += w.Valid;
    if (KtestCurrentFailed)
        KtestPrint("#   ^ at address %016llx (walk: %u levels, valid %d)\n", Va, w.Levels, w.Valid);
    KtestCurrentFailed |= failedBefore;
    return !KtestCurrentFailed;
}

KTEST(paging, selfmap_entry_points_at_pml4)
{
    ULONG64 cr3 = KTP_CR3_FRAME(__readcr3());
    ULONG64 pxeSelf = KtpReadPhysicalEntry(cr3 >> PAGE_SHIFT, KTP_R);

    KEXPECT_EQ(cr3, MmKernelPml4Physical);
    KEXPECT_EQ(pxeSelf & MM_PTE_FRAME_MASK, cr3);
    KEXPECT_TRUE(pxeSelf & MM_PTE_VALID);
    KEXPECT_TRUE(pxeSelf & MM_PTE_WRITE);
    KEXPECT_TRUE(pxeSelf & MM_PTE_NO_EXECUTE);      /* page tables are never code */
    KEXPECT_FALSE(pxeSelf & MM_PTE_OWNER);
    /* PXE_BASE is the PML4 itself, and its entry R is the self-map entry. */
    KEXPECT_EQ(MiGetPxeAddress(PXE_BASE), PXE_BASE + KTP_R * 8);
    KEXPECT_EQ(MiGetPxeAddress(PXE_BASE)->Long & ~KTP_AD, pxeSelf & ~KTP_AD);
    KEXPECT_EQ(MmGetPhysicalAddress((PVOID)PXE_BASE).QuadPart, cr3);
    KEXPECT_EQ(MmGetPhysicalAddress((PVOID)(PXE_BASE + 0x123)).QuadPart, cr3 + 0x123);
}

KTEST(paging, selfmap_matches_walk_fixed_addresses)
{
    ULONG64 local = 0;
    static ULONG64 bssVar;
    PHYSICAL_ADDRESS lapic = {.QuadPart = 0xFEE00000};
    PVOID io = MmMapIoSpace(lapic, PAGE_SIZE, MmNonCached);
    const ULONG64 fixed[] = {
        0, 0x1000, 0xB8000, 0x100000, 0x7FFFFFFFF000ULL, 0x7FFFFFFFFFFFULL,
        0xFFFF800000000000ULL, 0xFFFFFFFFFFFFF000ULL, MM_KSEG0_BASE, MM_KSEG0_BASE + 0x100000,
        (ULONG64)KiTextStart, (ULONG64)KiTextEnd - 1, (ULONG64)KiRodataStart,
        (ULONG64)KiRodataEnd - 1, (ULONG64)KiDataStart, (ULONG64)KiDataEnd - 1,
        (ULONG64)KiBootStackGuard, (ULONG64)KiBootStackGuard + PAGE_SIZE - 1,
        (ULONG64)KiBootStackTop - 8, (ULONG64)KiSymbolsStart, (ULONG64)KiImageEnd - 1,
        (ULONG64)KiImageEnd, (ULONG64)&local, (ULONG64)&bssVar, (ULONG64)&MiPatValue,
        (ULONG64)KtpCheckAddress,
        PTE_BASE, PDE_BASE, PPE_BASE, PXE_BASE, PXE_BASE + KTP_R * 8, PTE_TOP & ~7ULL,
        (ULONG64)MiGetPteAddress(KiTextStart), (ULONG64)MiGetPdeAddress(KiTextStart),
        (ULONG64)MiGetPpeAddress(KiTextStart), (ULONG64)MiGetPteAddress(MiGetPteAddress(KiTextStart)),
        MM_HYPERSPACE_BASE + 2 * PAGE_SIZE, MM_HYPERSPACE_BASE + 0x10000, MM_SYSTEM_PTE_BASE,
        MM_SYSTEM_PTE_END - PAGE_SIZE, MM_PAGED_POOL_START,
        (ULONG64)MI_PFN_ELEMENT(MmLowestPhysicalPage), (ULONG64)MI_PFN_ELEMENT(MmHighestPhysicalPage),
        (ULONG64)(MI_PFN_ELEMENT(MmHighestPhysicalPage) + 1) - 1, MM_NONPAGED_SYSTEM_START,
        (ULONG64)io, (ULONG64)io + 0x30,
    };

    KASSERT_TRUE(io != NULL);
    KtpChecked = KtpCheckedValid = 0;
    for (ULONG i = 0; i < ARRAYSIZE(fixed); i++)
        KtpCheckAddress(fixed[i]);
    /* Every page of the kernel image, the guard page included. */
    for (ULONG64 va = (ULONG64)KiTextStart; va < (ULONG64)KiImageEnd; va += PAGE_SIZE)
        KtpCheckAddress(va + (KtpRand() & 0xFFF));
    /* The PFN database: both ends of every RAM run. */
    for (ULONG r = 0; r < MiPhysicalRunCount; r++) {
        KtpCheckAddress((ULONG64)MI_PFN_ELEMENT(MiPhysicalRuns[r].BasePage));
        KtpCheckAddress((ULONG64)MI_PFN_ELEMENT(MiPhysicalRuns[r].BasePage +
                                                MiPhysicalRuns[r].PageCount - 1));
    }
    KtestPrint("#   %u addresses walked, %u mapped\n", KtpChecked, KtpCheckedValid);
    /* What must and must not be mapped, per the walk. */
    KEXPECT_TRUE(MmIsAddressValid(io));
    KEXPECT_TRUE(MmIsAddressValid(&local));
    MmUnmapIoSpace(io, PAGE_SIZE);
}

KTEST(paging, selfmap_matches_walk_random_addresses)
{
    /* A quarter fully random canonical addresses; a quarter composed of
     * interesting indices (the self-map slot, the kernel's, 0, 511); half
     * taken from mapped memory and pushed through the self-map 0-3 times,
     * so the walk goes through the self-map's view of itself. */
    const ULONG64 interesting[] = {
        KTP_R, KTP_R, KTP_R, 0, 511,
        ((ULONG64)KiTextStart >> 39) & 511, ((ULONG64)KiTextStart >> 30) & 511,
        ((ULONG64)KiTextStart >> 21) & 511, ((ULONG64)KiTextStart >> 12) & 511,
        (MM_PFN_DATABASE >> 39) & 511, (MM_SYSTEM_PTE_BASE >> 39) & 511,
        (MM_HYPERSPACE_BASE >> 39) & 511,
    };
    ULONG64 imageSpan = (ULONG64)KiImageEnd - (ULONG64)KiTextStart;
    PFN_NUMBER pfnSpan = MmHighestPhysicalPage - MmLowestPhysicalPage + 1;
    ULONG bad = 0;

    KtpChecked = KtpCheckedValid = 0;
    for (ULONG n = 0; n < 4000 && bad < 5; n++) {
        ULONG64 va;
        if (n % 4 == 0) {
            va = KtpCanonical(KtpRand());
        } else if (n % 4 == 1) {
            ULONG64 idx[4];
            for (ULONG l = 0; l < 4; l++)
                idx[l] = (KtpRand() & 1) ? interesting[KtpRand() % ARRAYSIZE(interesting)]
                                         : KtpRand() & 511;
            va = KtpCompose(idx[0] | 256, idx[1], idx[2], idx[3], KtpRand() & 0xFFF);
        } else {
            va = (KtpRand() & 1) ? (ULONG64)KiTextStart + KtpRand() % imageSpan
                                 : (ULONG64)MI_PFN_ELEMENT(MmLowestPhysicalPage + KtpRand() % pfnSpan);
            for (ULONG k = KtpRand() % 4; k > 0; k--)
                va = (ULONG64)MiGetPteAddress(va);
            va = (va & ~0xFFFULL) | (KtpRand() & 0xFFF);
        }
        if (!KtpCheckAddress(va))
            bad++;
    }
    KtestPrint("#   %u addresses walked, %u mapped\n", KtpChecked, KtpCheckedValid);
    KEXPECT_GT(KtpCheckedValid, 1500);
}

/* ---- the kernel image: W^X, global, guard page, nothing identity mapped -------------- */

KTEST(paging, kernel_sections_have_right_permissions)
{
    ULONG64 text = (ULONG64)KiTextStart, textEnd = ((ULONG64)KiTextEnd + PAGE_SIZE - 1) & ~0xFFFULL;
    ULONG64 ro = (ULONG64)KiRodataStart, data = (ULONG64)KiDataStart;
    ULONG64 dataEnd = ((ULONG64)KiDataEnd + PAGE_SIZE - 1) & ~0xFFFULL;
    ULONG64 syms = (ULONG64)KiSymbolsStart, end = (ULONG64)KiImageEnd;
    ULONG pages = 0;

    KASSERT_TRUE(text < textEnd && textEnd <= ro && ro < data && data < dataEnd &&
                 dataEnd <= syms && syms < end);
    for (ULONG64 va = text; va < end; va += PAGE_SIZE) {
        ULONG level;
        PMMPTE pte = MiWalkToPte((PVOID)va, &level);
        ULONG64 e;

        if (va == (ULONG64)KiBootStackGuard) {
            KEXPECT_TRUE(pte == NULL);
            KEXPECT_EQ(level, 1);               /* the table is there, the PTE is not */
            KEXPECT_EQ(MiGetPteAddress(va)->Long, 0);
            continue;
        }
        if (pte == NULL || level != 1) {
            KtestFail(__FILE__, __LINE__, "kernel page %llx not mapped by a 4 KiB PTE", va);
            continue;
        }
        e = pte->Long;
        pages++;
        KEXPECT_EQ(e & MM_PTE_FRAME_MASK, va - MM_KSEG0_BASE);
        KEXPECT_TRUE(e & MM_PTE_GLOBAL);
        KEXPECT_FALSE(e & MM_PTE_OWNER);
        KEXPECT_FALSE(e & (MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH | MM_PTE_PAT_4K));
        if (va < textEnd) {                     /* .text: RX */
            KEXPECT_FALSE(e & MM_PTE_WRITE);
            KEXPECT_FALSE(e & MM_PTE_NO_EXECUTE);
        } else if (va >= data && va < dataEnd) { /* .data, .bss: RW, NX */
            KEXPECT_TRUE(e & MM_PTE_WRITE);
            KEXPECT_TRUE(e & MM_PTE_NO_EXECUTE);
        } else {                                /* .rodata, .ksyms: R, NX */
            KEXPECT_FALSE(e & MM_PTE_WRITE);
            KEXPECT_TRUE(e & MM_PTE_NO_EXECUTE);
        }
        if (KtestCurrentFailed) {
            KtestPrint("#   ^ page %llx, PTE %016llx\n", va, e);
            return;
        }
    }
    KEXPECT_EQ(pages, (end - text) / PAGE_SIZE - 1);
    /* Nothing of the image is mapped around it: not the boot code below, not past the end. */
    KEXPECT_FALSE(MmIsAddressValid((PVOID)(text - PAGE_SIZE)));
    KEXPECT_FALSE(MmIsAddressValid((PVOID)(MM_KSEG0_BASE + 0x100000)));
    KEXPECT_FALSE(MmIsAddressValid((PVOID)end));
}

KTEST(paging, boot_stack_guard_page_not_present)
{
    ULONG64 rsp;

    __asm__ __volatile__("mov %%rsp, %0" : "=r"(rsp));
    KEXPECT_EQ((ULONG64)KiBootStackGuard & 0xFFF, 0);
    KEXPECT_EQ((ULONG64)KiBootStack, (ULONG64)KiBootStackGuard + PAGE_SIZE);
    KEXPECT_FALSE(MmIsAddressValid(KiBootStackGuard));
    KEXPECT_FALSE(MmIsAddressValid(KiBootStackGuard + PAGE_SIZE - 1));
    KEXPECT_TRUE(MmIsAddressValid(KiBootStack));
    KEXPECT_TRUE(MmIsAddressValid((PVOID)((ULONG64)KiBootStackGuard - 1)));
    /* The tests themselves run on the boot stack the guard protects. */
    KEXPECT_TRUE(rsp > (ULONG64)KiBootStack && rsp <= (ULONG64)KiBootStackTop);
}

KTEST(paging, no_identity_map_left)
{
    PHYSICAL_ADDRESS pa;

    KEXPECT_FALSE(MmIsAddressValid((PVOID)0x100000));
    KEXPECT_FALSE(MmIsAddressValid((PVOID)0xB8000));
    KEXPECT_FALSE(MmIsAddressValid((PVOID)0x1000));
    KEXPECT_FALSE(MmIsAddressValid(NULL));
    /* User space is empty: no PML4 entry in the lower half. */
    for (ULONG64 i = 0; i < 256; i++)
        if (MiGetPxeAddress(i << 39)->Long & MM_PTE_VALID)
            KtestFail(__FILE__, __LINE__, "PML4 entry %llu is valid: %016llx", i,
                      MiGetPxeAddress(i << 39)->Long);
    KEXPECT_EQ(MiGetPxeAddress(0)->Long, 0);
    pa = MmGetPhysicalAddress((PVOID)0x100000);
    KEXPECT_EQ(pa.QuadPart, 0);
}

KTEST(paging, control_registers)
{
    ULONG64 cr0 = __readcr0(), cr4 = __readcr4(), efer = __readmsr(MSR_EFER);

    KEXPECT_TRUE(cr0 & CR0_PG);
    KEXPECT_TRUE(cr0 & CR0_WP);     /* ring 0 honours read-only PTEs */
    KEXPECT_TRUE(cr4 & CR4_PAE);
    KEXPECT_TRUE(cr4 & CR4_PGE);    /* global kernel PTEs survive CR3 reloads */
    KEXPECT_TRUE(efer & EFER_LME);
    KEXPECT_TRUE(efer & EFER_LMA);
    KEXPECT_TRUE(efer & EFER_NXE);  /* without it bit 63 is reserved and NX PTEs fault */
    KEXPECT_EQ(KTP_CR3_FRAME(__readcr3()), MmKernelPml4Physical);
}

KTEST(paging, physical_address_queries)
{
    static ULONG64 dataVar = 1;
    static ULONG64 bssVar;
    ULONG64 local;

    KEXPECT_EQ(MmGetPhysicalAddress(&dataVar).QuadPart, (ULONG64)&dataVar - MM_KSEG0_BASE);
    KEXPECT_EQ(MmGetPhysicalAddress(&bssVar).QuadPart, (ULONG64)&bssVar - MM_KSEG0_BASE);
    KEXPECT_EQ(MmGetPhysicalAddress(&local).QuadPart, (ULONG64)&local - MM_KSEG0_BASE);
    KEXPECT_EQ(MmGetPhysicalAddress((PVOID)KtpRand).QuadPart, (ULONG64)KtpRand - MM_KSEG0_BASE);
    KEXPECT_EQ(MmGetPhysicalAddress(KiRodataStart + 5).QuadPart,
               (ULONG64)KiRodataStart + 5 - MM_KSEG0_BASE);
    KEXPECT_FALSE(MmIsAddressValid(NULL));
    KEXPECT_EQ(MmGetPhysicalAddress(NULL).QuadPart, 0);
    KEXPECT_FALSE(MmIsAddressValid((PVOID)0x8000000000000000ULL));    /* not canonical */
    KEXPECT_EQ(MmGetPhysicalAddress((PVOID)0x8000000000000000ULL).QuadPart, 0);
    KEXPECT_TRUE(MmIsAddressValid(&dataVar));
    KEXPECT_TRUE(MmIsAddressValid(MI_PFN_ELEMENT(MmHighestPhysicalPage)));
}

/* ---- system PTEs -------------------------------------------------------------------------- */

#define KTP_MAX_RUNS 256

KTEST(paging, system_pte_exhaustion_returns_null)
{
    static struct {
        PMMPTE Pte;
        ULONG Count;
    } runs[KTP_MAX_RUNS];
    PFN_NUMBER start = MiFreeSystemPteCount(), pages;
    ULONG n = 0;
    PHYSICAL_ADDRESS pa = KtpDisplayPhysical();

    KEXPECT_LE(start, MM_SYSTEM_PTE_PAGES);
    KEXPECT_TRUE(MiReserveSystemPtes(0, SystemPteSpace) == NULL);
    KEXPECT_TRUE(MiReserveSystemPtes((ULONG)MM_SYSTEM_PTE_PAGES + 1, SystemPteSpace) == NULL);
    /* Huge runs first, then halve until even a single PTE is refused. */
    for (ULONG size = 1U << 18; size >= 1 && n < KTP_MAX_RUNS;) {
        PMMPTE pte = MiReserveSystemPtes(size, SystemPteSpace);
        if (pte == NULL) {
            size >>= 1;
            continue;
        }
        KEXPECT_TRUE((ULONG64)MiGetVirtualAddressMappedByPte(pte) >= MM_SYSTEM_PTE_BASE);
        KEXPECT_TRUE((ULONG64)MiGetVirtualAddressMappedByPte(pte + size) <= MM_SYSTEM_PTE_END);
        runs[n].Pte = pte;
        runs[n].Count = size;
        n++;
    }
    KASSERT_TRUE(n < KTP_MAX_RUNS);
    KtestPrint("#   %llu free system PTEs reserved in %u runs\n", start, n);
    KEXPECT_EQ(MiFreeSystemPteCount(), 0);
    KEXPECT_TRUE(MiReserveSystemPtes(1, SystemPteSpace) == NULL);
    /* MmMapIoSpace fails cleanly: NULL, no page table made or lost. */
    pages = KtpFreePages();
    KEXPECT_TRUE(MmMapIoSpace(pa, PAGE_SIZE, MmNonCached) == NULL);
    KEXPECT_TRUE(MmMapIoSpaceEx(pa, PAGE_SIZE, PAGE_READWRITE) == NULL);
    KEXPECT_EQ(KtpFreePages(), pages);
    KEXPECT_EQ(MiFreeSystemPteCount(), 0);

    while (n > 0) {
        n--;
        MiReleaseSystemPtes(runs[n].Pte, runs[n].Count, SystemPteSpace);
    }
    KEXPECT_EQ(MiFreeSystemPteCount(), start);
}

/* Map one page of a kernel .data buffer at Va; it must read what the buffer holds. */
static ULONG64 KtpPattern[PAGE_SIZE / 8] __attribute__((aligned(PAGE_SIZE))) = {0x5A5A5A5A};

static void KtpMapPattern(PVOID Va)
{
    PFN_NUMBER pfn = MmGetPhysicalAddress(KtpPattern).QuadPart >> PAGE_SHIFT;

    KEXPECT_EQ(MiMapSystemPage(Va, pfn, MM_PTE_NO_EXECUTE | MM_PTE_GLOBAL), STATUS_SUCCESS);
    KEXPECT_TRUE(MmIsAddressValid(Va));
    if (MmIsAddressValid(Va))
        KEXPECT_EQ(*(volatile ULONG64 *)Va, KtpPattern[0]);
}

KTEST(paging, page_tables_freed_on_unmap)
{
    /* A 1 GiB run: its pages lie in different page tables, some in a page
     * directory of their own. The run is only reserved; pages are mapped
     * one at a time at scattered offsets. */
    const ULONG count = (1U << 18) + 1;
    const ULONG offsets[] = {0, 511, 512 * 7 + 3, 512 * 100, 1U << 17, (1U << 18) - 1, 1U << 18};
    PMMPTE pte = MiReserveSystemPtes(count, SystemPteSpace);
    PUCHAR base;
    PFN_NUMBER before, during;

    KtpPattern[0] = 0x1234567887654321ULL;
    KASSERT_TRUE(pte != NULL);
    base = MiGetVirtualAddressMappedByPte(pte);
    /* The system-PTE region's PDPT is permanent by design: make sure it exists first. */
    KtpMapPattern(base + (ULONG64)(count - 1) * PAGE_SIZE);
    MiUnmapSystemPage(base + (ULONG64)(count - 1) * PAGE_SIZE);

    before = KtpFreePages();
    for (ULONG i = 0; i < ARRAYSIZE(offsets); i++)
        KtpMapPattern(base + (ULONG64)offsets[i] * PAGE_SIZE);
    during = KtpFreePages();
    KtestPrint("#   %llu page-table pages made for %u scattered pages\n", before - during,
               (ULONG)ARRAYSIZE(offsets));
    KEXPECT_GE(before - during, 3);
    for (ULONG i = 0; i < ARRAYSIZE(offsets); i++) {
        MiUnmapSystemPage(base + (ULONG64)offsets[i] * PAGE_SIZE);
        KEXPECT_FALSE(MmIsAddressValid(base + (ULONG64)offsets[i] * PAGE_SIZE));
    }
    KEXPECT_EQ(KtpFreePages(), before);
    /* Page tables that only this run used are gone again. */
    KEXPECT_FALSE(MiGetPpeAddress(base + (ULONG64)(count - 1) * PAGE_SIZE)->Long & MM_PTE_VALID);
    MiReleaseSystemPtes(pte, count, SystemPteSpace);

    /* The same through MmMapIoSpace: repeated 1-page maps, all unmapped. */
    before = KtpFreePages();
    for (ULONG round = 0; round < 3; round++) {
        PVOID va[8];
        PHYSICAL_ADDRESS pa = KtpLapicPhysical();
        for (ULONG i = 0; i < ARRAYSIZE(va); i++)
            va[i] = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
        for (ULONG i = 0; i < ARRAYSIZE(va); i++)
            if (va[i])
                MmUnmapIoSpace(va[i], PAGE_SIZE);
        KEXPECT_EQ(KtpFreePages(), before);
    }
}

/*
 * One page table's life, entry by entry: the first map makes the table
 * (a page-table page, counted in its directory), every map and unmap
 * moves its UsedPageTableEntries by one, a second map of a mapped PTE is
 * refused without touching it, and the last unmap frees the table.
 */
KTEST(paging, map_counts_entries_and_refuses_a_mapped_pte)
{
    const ULONG count = 2 * 512;        /* holds one whole, aligned page table's span */
    PMMPTE pte = MiReserveSystemPtes(count, SystemPteSpace);
    PFN_NUMBER pattern = MmGetPhysicalAddress(KtpPattern).QuadPart >> PAGE_SHIFT;
    PFN_NUMBER before, table;
    PUCHAR va0, va1;
    PMMPTE pde;
    PMMPFN tablePfn;

    KASSERT_TRUE(pte != NULL);
    va0 = (PUCHAR)(((ULONG64)MiGetVirtualAddressMappedByPte(pte) + (1ULL << 21) - 1) &
                   ~((1ULL << 21) - 1));
    va1 = va0 + 5 * PAGE_SIZE;
    pde = MiGetPdeAddress(va0);
    if (pde->Long & MM_PTE_VALID) {
        MiReleaseSystemPtes(pte, count, SystemPteSpace);
        KTEST_SKIP("the page table for a fresh system-PTE run exists already");
    }
    before = KtpFreePages();

    KEXPECT_EQ(MiMapSystemPage(va0, pattern, MM_PTE_NO_EXECUTE), STATUS_SUCCESS);
    KASSERT_TRUE(pde->Long & MM_PTE_VALID);
    table = MI_PTE_FRAME(*pde);
    tablePfn = MI_PFN_ELEMENT(table);
    KEXPECT_TRUE(tablePfn->Flags & MI_PFN_PAGE_TABLE);
    KEXPECT_EQ(tablePfn->PteAddress, pde);
    KEXPECT_EQ(tablePfn->UsedPageTableEntries, 1);
    KEXPECT_EQ(MI_PTE_FRAME(*MiGetPteAddress(va0)), pattern);

    KEXPECT_EQ(MiMapSystemPage(va1, pattern, MM_PTE_NO_EXECUTE), STATUS_SUCCESS);
    KEXPECT_EQ(tablePfn->UsedPageTableEntries, 2);
    /* Already mapped: the caller's bug, refused; the PTE keeps its page. */
    KEXPECT_EQ(MiMapSystemPage(va0, pattern + 1, MM_PTE_NO_EXECUTE), STATUS_UNSUCCESSFUL);
    KEXPECT_EQ(MI_PTE_FRAME(*MiGetPteAddress(va0)), pattern);
    KEXPECT_EQ(tablePfn->UsedPageTableEntries, 2);
    KEXPECT_EQ(*(volatile ULONG64 *)va1, KtpPattern[0]);

    MiUnmapSystemPage(va0);
    KEXPECT_EQ(tablePfn->UsedPageTableEntries, 1);
    KEXPECT_TRUE(pde->Long & MM_PTE_VALID);
    MiUnmapSystemPage(va1);
    KEXPECT_FALSE(pde->Long & MM_PTE_VALID);
    KEXPECT_FALSE(tablePfn->Flags & MI_PFN_PAGE_TABLE);
    KEXPECT_EQ(KtpFreePages(), before);
    MiReleaseSystemPtes(pte, count, SystemPteSpace);
}

/*
 * With no free page at all, a mapping that needs a new page table at any
 * level must fail with STATUS_INSUFFICIENT_RESOURCES, leave no half-built
 * table behind and not fault while cleaning up.
 */
KTEST(paging, map_without_free_pages_fails_cleanly)
{
    const ULONG count = (1U << 18) + 1;
    PMMPTE pte = MiReserveSystemPtes(count, SystemPteSpace);
    PUCHAR base, needPt, needPd;
    PVOID needPdpt = (PVOID)0xFFFF800000000000ULL;     /* PML4 slot 256: unused */
    PFN_NUMBER before = KtpFreePages(), chain = MI_LIST_END, drained = 0, pfnOfPattern;
    PFN_NUMBER low = MmLowFreePageListHead.Total;       /* nolowmem: kept out of reach */
    KIRQL irql;

    KASSERT_TRUE(pte != NULL);
    base = MiGetVirtualAddressMappedByPte(pte);
    needPt = base + 512ULL * 16 * PAGE_SIZE;                 /* 32 MiB in: no page table yet */
    needPd = base + (ULONG64)(count - 1) * PAGE_SIZE;       /* past 1 GiB: no directory yet */
    pfnOfPattern = MmGetPhysicalAddress(KtpPattern).QuadPart >> PAGE_SHIFT;
    if ((MiGetPxeAddress(needPdpt)->Long & MM_PTE_VALID) ||
        (MiGetPpeAddress(needPd)->Long & MM_PTE_VALID) ||
        !(MiGetPpeAddress(needPt)->Long & MM_PTE_VALID) ||
        (MiGetPdeAddress(needPt)->Long & MM_PTE_VALID)) {
        MiReleaseSystemPtes(pte, count, SystemPteSpace);
        KTEST_SKIP("the tables this test needs missing already exist");
    }

    /* Take every free and zeroed page, chained through their PFN entries.
     * Under nolowmem the low list stays: ordinary allocations never see it. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (;;) {
        BOOLEAN zeroed = MmFreePageListHead.Total == 0;
        PFN_NUMBER page = MiRemoveAnyPage(0);
        if (page == 0)
            break;
        MI_PFN_ELEMENT(page)->u1.Flink = chain;
        MI_PFN_ELEMENT(page)->u2.Blink = zeroed;
        chain = page;
        drained++;
    }
    KeReleaseSpinLock(&MmPfnLock, irql);

    KEXPECT_EQ(MiMapSystemPage(needPt, pfnOfPattern, MM_PTE_NO_EXECUTE),
               STATUS_INSUFFICIENT_RESOURCES);
    KEXPECT_EQ(MiMapSystemPage(needPd, pfnOfPattern, MM_PTE_NO_EXECUTE),
               STATUS_INSUFFICIENT_RESOURCES);
    KEXPECT_EQ(MiMapSystemPage(needPdpt, pfnOfPattern, MM_PTE_NO_EXECUTE),
               STATUS_INSUFFICIENT_RESOURCES);
    KEXPECT_FALSE(MmIsAddressValid(needPt));
    KEXPECT_FALSE(MmIsAddressValid(needPd));
    KEXPECT_FALSE(MmIsAddressValid(needPdpt));
    KEXPECT_FALSE(MiGetPdeAddress(needPt)->Long & MM_PTE_VALID);
    KEXPECT_FALSE(MiGetPpeAddress(needPd)->Long & MM_PTE_VALID);
    KEXPECT_FALSE(MiGetPxeAddress(needPdpt)->Long & MM_PTE_VALID);
    KEXPECT_EQ(KtpOrdinaryFreePages(), 0);
    KEXPECT_EQ(MmLowFreePageListHead.Total, low);      /* no page table came from it */

    /* One page free: the new directory is made, its page table cannot be;
     * the directory must not stay behind, and the page must come back. */
    if (chain != MI_LIST_END) {
        PFN_NUMBER page = chain;
        chain = MI_PFN_ELEMENT(page)->u1.Flink;
        KeAcquireSpinLock(&MmPfnLock, &irql);
        MiInsertPageInFreeList(page);
        KeReleaseSpinLock(&MmPfnLock, irql);
        KEXPECT_EQ(KtpOrdinaryFreePages(), 1);
        KEXPECT_EQ(MiMapSystemPage(needPd, pfnOfPattern, MM_PTE_NO_EXECUTE),
                   STATUS_INSUFFICIENT_RESOURCES);
        KEXPECT_FALSE(MiGetPpeAddress(needPd)->Long & MM_PTE_VALID);
        KEXPECT_EQ(KtpOrdinaryFreePages(), 1);
        KEXPECT_EQ(MmLowFreePageListHead.Total, low);
    }

    /* Give everything back where it came from. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    while (chain != MI_LIST_END) {
        PFN_NUMBER page = chain;
        BOOLEAN zeroed = (BOOLEAN)MI_PFN_ELEMENT(page)->u2.Blink;
        chain = MI_PFN_ELEMENT(page)->u1.Flink;
        if (zeroed)
            MiInsertPageInList(&MmZeroedPageListHead, page);
        else
            MiInsertPageInFreeList(page);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    KtestPrint("#   %llu pages drained and given back\n", drained);
    KEXPECT_EQ(KtpFreePages(), before);

    /* With memory back, the same mapping works and cleans up after itself. */
    KtpPattern[0] = 0x0DDBA11CAFEF00DULL;
    KtpMapPattern(needPd);
    MiUnmapSystemPage(needPd);
    KEXPECT_EQ(KtpFreePages(), before);
    MiReleaseSystemPtes(pte, count, SystemPteSpace);
}

/* ---- RAM above 4 GiB (bios-6g) ------------------------------------------------------------ */

static void KtpCheckHighPage(PFN_NUMBER Page)
{
    PHYSICAL_ADDRESS pa = {.QuadPart = (LONGLONG)(Page << PAGE_SHIFT)};
    PULONG64 va = MmMapIoSpace(pa, PAGE_SIZE, MmCached), hyper;
    ULONG wrong = 0;
    KIRQL irql;

    KASSERT_TRUE(va != NULL);
    KEXPECT_EQ(MmGetPhysicalAddress(va).QuadPart, pa.QuadPart);
    KEXPECT_EQ(MiGetPteAddress(va)->Long & MM_PTE_FRAME_MASK, (ULONG64)pa.QuadPart);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        va[i] = (ULONG64)pa.QuadPart ^ (i * 0x9E3779B97F4A7C15ULL);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        wrong += va[i] != ((ULONG64)pa.QuadPart ^ (i * 0x9E3779B97F4A7C15ULL));
    KEXPECT_EQ(wrong, 0);
    /* The same physical page through hyperspace. */
    hyper = MiMapPageInHyperSpace(Page, &irql);
    for (ULONG i = 0; i < PAGE_SIZE / 8; i++)
        wrong += hyper[i] != ((ULONG64)pa.QuadPart ^ (i * 0x9E3779B97F4A7C15ULL));
    hyper[7] = 0x4242;
    MiUnmapPageInHyperSpace(hyper, irql);
    KEXPECT_EQ(wrong, 0);
    KEXPECT_EQ(va[7], 0x4242);
    MmUnmapIoSpace(va, PAGE_SIZE);
}

KTEST(paging, memory_above_4gb_is_mapped)
{
    PFN_NUMBER low = MM_4GB >> PAGE_SHIFT, pages[2], got, top;
    PFN_NUMBER before = KtpFreePages();
    KIRQL irql;

    if (MmHighestPhysicalPage < low)
        KTEST_SKIP("needs RAM above 4 GiB");
    KEXPECT_TRUE(MmIsAddressValid(MI_PFN_ELEMENT(MmHighestPhysicalPage)));
    KEXPECT_TRUE(MiIsPfnRam(MmHighestPhysicalPage));

    /* The lowest free page above 4 GiB, and the very last page of RAM if it is free. */
    KeAcquireSpinLock(&MmPfnLock, &irql);
    got = MiAllocatePagesInRange(low, MmHighestPhysicalPage, 1, &pages[0]);
    top = MiAllocatePagesInRange(MmHighestPhysicalPage, MmHighestPhysicalPage, 1, &pages[1]);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KASSERT_EQ(got, 1);
    KEXPECT_GE(pages[0], low);
    KtestPrint("#   pages %llx and %s%llx above 4 GiB\n", pages[0], top ? "" : "(busy) ",
               MmHighestPhysicalPage);
    KEXPECT_EQ(MI_PFN_ELEMENT(pages[0])->PageLocation, ActiveAndValid);

    KtpCheckHighPage(pages[0]);
    if (top)
        KtpCheckHighPage(pages[1]);

    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiFreeActivePage(pages[0]);
    if (top)
        MiFreeActivePage(pages[1]);
    KeReleaseSpinLock(&MmPfnLock, irql);
    KEXPECT_EQ(KtpFreePages(), before);
}

/*
 * init.c - MmInitSystem: from GRUB's memory map to Mica's own address space.
 *
 * Phase 0, in order:
 *  1. Physical memory: the loader's usable ranges, page-aligned, without
 *     the first MiB (firmware, real-mode trampolines), reshaped by the boot
 *     options maxmem= (ignore RAM above), burnmemory= (take RAM away from
 *     the top) and nolowmem (keep RAM below 4 GiB for callers that need it).
 *  2. A new PML4 built by the early mapper (bootalloc.c): the self-map in
 *     slot 0x1ED, the kernel image section by section (text RX, rodata R+NX,
 *     data/bss RW+NX, global), the PFN database's backing pages only where
 *     RAM is, the search trees, and the hyperspace page table. No identity
 *     map of low memory is carried over; the boot stack's guard page is
 *     left unmapped.
 *  3. CR3 switch, CR4.PGE on, the PAT programmed for the cache types.
 *  4. Through the new mappings: every PFN entry, the free lists and the
 *     free-run tree; the commit limit (the pages available now: commit.c);
 *     the system-PTE allocator, hyperspace; then the screen is mapped
 *     again with MmMapIoSpace.
 *  5. The pools (their address trees were allocated in step 2), then
 *     special pool, whose slot tables are nonpaged pool.
 */
#include "pool_internal.h"
#include "../kernel/ke/ke.h"

#define CR4_PGE (1ULL << 7)

PFN_NUMBER MmHighestPhysicalPage, MmLowestPhysicalPage, MmNumberOfPhysicalPages;
ULONG MiPhysicalRunCount;
MI_PHYSICAL_RUN MiPhysicalRuns[MI_MAX_PHYSICAL_RUNS];
BOOLEAN MiNoLowMemory;
ULONG64 MmKernelPml4Physical;

static ULONG64 MiBootDataCursor = MM_NONPAGED_SYSTEM_START;

static void MiAddRun(PFN_NUMBER Base, PFN_NUMBER Count)
{
    if (Count == 0 || MiPhysicalRunCount == MI_MAX_PHYSICAL_RUNS)
        return;
    /* Loader ranges are sorted and do not overlap (multiboot.c); merge the
     * ones that touch. Should two overlap anyway, the pages they share stay
     * in the first run only: a page in two runs would be freed twice. */
    if (MiPhysicalRunCount > 0) {
        MI_PHYSICAL_RUN *last = &MiPhysicalRuns[MiPhysicalRunCount - 1];
        PFN_NUMBER lastEnd = last->BasePage + last->PageCount;
        if (Base < lastEnd) {
            if (Base + Count <= lastEnd)
                return;
            Count -= lastEnd - Base;
            Base = lastEnd;
        }
        if (lastEnd == Base) {
            last->PageCount += Count;
            return;
        }
    }
    MiPhysicalRuns[MiPhysicalRunCount].BasePage = Base;
    MiPhysicalRuns[MiPhysicalRunCount].PageCount = Count;
    MiPhysicalRunCount++;
}

static void MiBuildPhysicalRuns(void)
{
    ULONG64 maxmem = 0, burn = 0;
    PFN_NUMBER limit = ~0ULL, total = 0;

    if (KeQueryBootOptionNumber("maxmem", &maxmem) && maxmem >= (16ULL << 20))
        limit = maxmem >> PAGE_SHIFT;
    MiNoLowMemory = KeQueryBootOption("nolowmem", NULL, 0);

    for (ULONG i = 0; i < KeLoaderBlock->RangeCount; i++) {
        const LOADER_MEMORY_RANGE *r = &KeLoaderBlock->Ranges[i];
        ULONG64 base = (r->Base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        ULONG64 end = (r->Base + r->Length) & ~(PAGE_SIZE - 1);
        if (r->Type != LoaderFree)
            continue;
        if (base < MM_LOW_RESERVED_LIMIT)
            base = MM_LOW_RESERVED_LIMIT;
        if (end > (limit << PAGE_SHIFT))
            end = limit << PAGE_SHIFT;
        if (end > base)
            MiAddRun(base >> PAGE_SHIFT, (end - base) >> PAGE_SHIFT);
    }

    /* burnmemory=N: take N bytes of RAM away, from the top down. */
    if (KeQueryBootOptionNumber("burnmemory", &burn)) {
        PFN_NUMBER pages = burn >> PAGE_SHIFT;
        while (pages > 0 && MiPhysicalRunCount > 0) {
            MI_PHYSICAL_RUN *last = &MiPhysicalRuns[MiPhysicalRunCount - 1];
            PFN_NUMBER take = pages < last->PageCount ? pages : last->PageCount;
            last->PageCount -= take;
            pages -= take;
            if (last->PageCount == 0)
                MiPhysicalRunCount--;
        }
    }

    for (ULONG i = 0; i < MiPhysicalRunCount; i++)
        total += MiPhysicalRuns[i].PageCount;
    if (MiPhysicalRunCount == 0)
        KeBugCheckEx(INSTALL_MORE_MEMORY, 0, 0, 0, 0);
    MmNumberOfPhysicalPages = total;
    MmLowestPhysicalPage = MiPhysicalRuns[0].BasePage;
    MmHighestPhysicalPage = MiPhysicalRuns[MiPhysicalRunCount - 1].BasePage +
                            MiPhysicalRuns[MiPhysicalRunCount - 1].PageCount - 1;
    /* With no RAM above 4 GiB, "no low memory" would mean no memory at all. */
    if (MiNoLowMemory && MmHighestPhysicalPage < (MM_4GB >> PAGE_SHIFT)) {
        DbgPrint("Mm: nolowmem ignored: there is no RAM above 4 GiB\n");
        MiNoLowMemory = FALSE;
    }

    DbgPrint("Mm: %llu MiB of RAM in %u runs, PFNs %llx-%llx", total >> 8, MiPhysicalRunCount,
             MmLowestPhysicalPage, MmHighestPhysicalPage);
    if (limit != ~0ULL)
        DbgPrint(", maxmem=%llu MiB", maxmem >> 20);
    if (burn)
        DbgPrint(", burnmemory=%llu MiB", burn >> 20);
    if (MiNoLowMemory)
        DbgPrint(", nolowmem (RAM below 4 GiB only for callers that need it)");
    DbgPrint("\n");
}

/* Back [Va, Va + Bytes) with zeroed boot pages in the new tables. */
static void MiBootBackRange(ULONG64 Pml4, ULONG64 Va, ULONG64 Bytes)
{
    ULONG64 end = (Va + Bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

    for (Va &= ~(PAGE_SIZE - 1); Va < end; Va += PAGE_SIZE) {
        /* Two RAM runs may share a page of the PFN array: map it once. */
        PMMPTE pml4 = (PMMPTE)Pml4, pdpt, pd, pt;
        BOOLEAN mapped = FALSE;
        if (pml4[(Va >> 39) & 511].Long & MM_PTE_VALID) {
            pdpt = (PMMPTE)(pml4[(Va >> 39) & 511].Long & MM_PTE_FRAME_MASK);
            if (pdpt[(Va >> 30) & 511].Long & MM_PTE_VALID) {
                pd = (PMMPTE)(pdpt[(Va >> 30) & 511].Long & MM_PTE_FRAME_MASK);
                if (pd[(Va >> 21) & 511].Long & MM_PTE_VALID) {
                    pt = (PMMPTE)(pd[(Va >> 21) & 511].Long & MM_PTE_FRAME_MASK);
                    mapped = (pt[(Va >> 12) & 511].Long & MM_PTE_VALID) != 0;
                }
            }
        }
        if (!mapped)
            MiBootMapPage(Pml4, Va, MiBootAllocatePages(1, FALSE),
                          MM_PTE_VALID | MM_PTE_WRITE | MM_PTE_GLOBAL | MM_PTE_NO_EXECUTE);
    }
}

/* Boot data (trees) lives at the start of nonpaged system space. */
static PVOID MiBootAllocateData(ULONG64 Pml4, SIZE_T Bytes)
{
    ULONG64 va = MiBootDataCursor;

    MiBootBackRange(Pml4, va, Bytes);
    MiBootDataCursor = (va + Bytes + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    return (PVOID)va;
}

static void MiMapKernelImage(ULONG64 Pml4)
{
    for (ULONG64 va = (ULONG64)KiTextStart; va < (ULONG64)KiImageEnd; va += PAGE_SIZE) {
        ULONG64 bits = MM_PTE_VALID | MM_PTE_GLOBAL;
        if (va == (ULONG64)KiBootStackGuard)
            continue;                   /* the boot stack's guard page */
        if (va >= (ULONG64)KiTextEnd)
            bits |= MM_PTE_NO_EXECUTE;  /* only .text may execute (W^X) */
        if (va >= (ULONG64)KiDataStart && va < (ULONG64)KiDataEnd)
            bits |= MM_PTE_WRITE;       /* only data/bss may be written */
        MiBootMapPage(Pml4, va, (va - MM_KSEG0_BASE) >> PAGE_SHIFT, bits);
    }
}

VOID MmInitSystem(ULONG Phase)
{
    ULONG64 pml4;
    PVOID runTreeStorage, ptesStorage, nonPagedPoolStorage, pagedPoolStorage;

    if (Phase == 2) {
        MiInitializePaging();           /* after the drivers: the page file's disk */
        MiInitializePageableSections(2);    /* with one, the image's PAGE sections are paged */
        return;
    }
    if (Phase != 0)
        return;
    MiBuildPhysicalRuns();

    /* -- 2. the new address space, built through the boot identity map -- */
    pml4 = MiBootAllocatePages(1, TRUE) << PAGE_SHIFT;
    ((PMMPTE)pml4)[MI_SELFMAP_INDEX].Long = pml4 | MM_PTE_VALID | MM_PTE_WRITE | MM_PTE_NO_EXECUTE;
    MiMapKernelImage(pml4);
    for (ULONG i = 0; i < MiPhysicalRunCount; i++)
        MiBootBackRange(pml4, (ULONG64)MI_PFN_ELEMENT(MiPhysicalRuns[i].BasePage),
                        MiPhysicalRuns[i].PageCount * sizeof(MMPFN));
    runTreeStorage = MiBootAllocateData(pml4, MiRunTreeStorageSize(MmHighestPhysicalPage + 1));
    ptesStorage = MiBootAllocateData(pml4, MiSystemPteStorageSize());
    nonPagedPoolStorage = MiBootAllocateData(pml4, MiPoolRegionStorageSize());
    pagedPoolStorage = MiBootAllocateData(pml4, MiPoolRegionStorageSize());
    /* Hyperspace never allocates: its page table exists from the start. */
    MiBootMapPage(pml4, MM_HYPERSPACE_BASE, 0, 0);

    /* -- 3. switch -- */
    KiConsoleSuspendScreen();
    MmKernelPml4Physical = pml4;
    __asm__ __volatile__("mov %0, %%cr3" : : "r"(pml4) : "memory");
    __asm__ __volatile__("mov %%cr4, %%rax\n\tor %0, %%rax\n\tmov %%rax, %%cr4"
                         : : "i"(CR4_PGE) : "rax", "memory");
    MiInitializePat();

    /* -- 4. fill in the structures through their new mappings -- */
    MiRunTreeInitialize(&MiFreeRunTree, runTreeStorage, MmHighestPhysicalPage + 1);
    MiInitializePfnDatabase();
    MiCloseBootAllocator();
    /* From here every page taken is charged (commit.c). */
    MiInitializeCommitment();
    MiInitializeSystemPtes(ptesStorage);
    MiInitializeKernelStacks();
    MiInitializeHyperSpace();
    KiConsoleResumeScreen();
    MiPrintPfnSummary();

    /* -- 5. the pools, then special pool (its tables are pool) -- */
    MiInitializePoolRegions(nonPagedPoolStorage, pagedPoolStorage);
    ExpInitializePool();
    MiInitializeSpecialPool();
    MiInitializePageableSections(0);
    DbgPrint("Mm: commit charge %llu of %llu pages at the end of phase 0\n",
             (ULONG64)MmTotalCommittedPages, (ULONG64)MmTotalCommitLimit);
}

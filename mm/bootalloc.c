/*
 * bootalloc.c - memory before there is a memory manager.
 *
 * The PFN database describes every page, so it cannot come from itself.
 * In phase 0 a bump allocator hands out whole pages from the RAM the loader
 * reported; those pages stay in use forever (NT does the same with the
 * pages of its loader block). They hold Mica's new page tables, the PFN
 * database and the search trees. It takes them from the top of memory
 * below 4 GiB downwards: low memory is what ISA DMA (< 16 MiB) and 32-bit
 * devices need, and the PFN database of a 6 GiB machine alone is 72 MiB.
 *
 * Until Mica switches to its own page tables, only the boot tables exist,
 * and they identity-map the low 4 GiB (boot/entry.asm). So the allocator
 * takes pages below 4 GiB, zeroes them through the identity map, and the
 * early mapper (MiBootMapPage) edits the new tables through it too. After
 * the switch the identity map is gone and the allocator is closed; page
 * tables then come from the PFN database and are edited through the
 * self-map (pagetable.c).
 */
#include "mm_internal.h"

#define MI_BOOT_MAX_SEGMENTS 16

/*
 * How the boot allocator stops. Only the first is not an NT code:
 *   - used after MiCloseBootAllocator: MEMORY_MANAGEMENT with Mica's own
 *     subcode 0x4150 (not in Learn's table), P2 = pages asked for;
 *   - out of segment slots in phase 0: PHASE0_INITIALIZATION_FAILED (Learn
 *     gives no parameters; Mica's: STATUS_INSUFFICIENT_RESOURCES, pages, PFN);
 *   - a large page where the early mapper needs a table: MEMORY_MANAGEMENT
 *     0x61941, Learn's "the paging hierarchy is corrupt" (P2 = the address,
 *     then Mica's: the entry, the level).
 */
#define MI_MM_MICA_BOOT_ALLOCATOR_CLOSED 0x4150
#define MI_MM_PAGING_HIERARCHY_CORRUPT   0x61941

static PFN_NUMBER MiBootTop;                /* allocations end here, going down */
static BOOLEAN MiBootClosed;
static ULONG MiBootSegmentCount;
static MI_PHYSICAL_RUN MiBootSegments[MI_BOOT_MAX_SEGMENTS];

/* Does [Pfn, Pfn + Count) overlap a loader module (kept intact for its owner)? */
static BOOLEAN MiOverlapsModule(PFN_NUMBER Pfn, PFN_NUMBER Count)
{
    for (ULONG i = 0; i < KeLoaderBlock->ModuleCount; i++) {
        PFN_NUMBER s = KeLoaderBlock->Modules[i].Start >> PAGE_SHIFT;
        PFN_NUMBER e = (KeLoaderBlock->Modules[i].End + PAGE_SIZE - 1) >> PAGE_SHIFT;
        if (Pfn < e && s < Pfn + Count)
            return TRUE;
    }
    return FALSE;
}

PFN_NUMBER MiBootAllocatePages(PFN_NUMBER Count, BOOLEAN Zero)
{
    PFN_NUMBER imageEnd = ((ULONG64)KiImageEnd - MM_KSEG0_BASE + PAGE_SIZE - 1) >> PAGE_SHIFT;
    PFN_NUMBER limit = MM_4GB >> PAGE_SHIFT;

    if (MiBootClosed)
        KeBugCheckEx(MEMORY_MANAGEMENT, MI_MM_MICA_BOOT_ALLOCATOR_CLOSED, Count, 0, 0);
    if (MiBootTop == 0)
        MiBootTop = limit;

    for (ULONG r = MiPhysicalRunCount; r-- > 0;) {
        PFN_NUMBER base = MiPhysicalRuns[r].BasePage;
        PFN_NUMBER end = base + MiPhysicalRuns[r].PageCount;

        if (end > MiBootTop)
            end = MiBootTop;
        if (base < imageEnd)
            base = imageEnd;            /* never below the kernel image */
        while (end >= base + Count) {
            PFN_NUMBER start = end - Count;
            if (MiOverlapsModule(start, Count)) {
                end--;
                continue;
            }
            MiBootTop = start;
            /* Record the pages; consecutive allocations extend one segment. */
            if (MiBootSegmentCount > 0 &&
                MiBootSegments[MiBootSegmentCount - 1].BasePage == start + Count) {
                MiBootSegments[MiBootSegmentCount - 1].BasePage = start;
                MiBootSegments[MiBootSegmentCount - 1].PageCount += Count;
            } else {
                if (MiBootSegmentCount == MI_BOOT_MAX_SEGMENTS)
                    KeBugCheckEx(PHASE0_INITIALIZATION_FAILED,
                                 (ULONG_PTR)STATUS_INSUFFICIENT_RESOURCES, Count, start, 0);
                MiBootSegments[MiBootSegmentCount].BasePage = start;
                MiBootSegments[MiBootSegmentCount].PageCount = Count;
                MiBootSegmentCount++;
            }
            /* The boot tables identity-map this page (it is below 4 GiB).
             * Tables must start zeroed; the PFN array and the trees are
             * written in full later, and zeroing 72 MiB of PFN entries at
             * 6 GiB would cost a second of boot time under emulation. */
            if (Zero)
                memset((PVOID)(start << PAGE_SHIFT), 0, Count << PAGE_SHIFT);
            return start;
        }
    }
    /* NT's answer when there is not enough memory to start at all. */
    KeBugCheckEx(INSTALL_MORE_MEMORY, MmNumberOfPhysicalPages, MmLowestPhysicalPage,
                 MmHighestPhysicalPage, 0);
}

BOOLEAN MiIsBootAllocatedPage(PFN_NUMBER Pfn)
{
    for (ULONG i = 0; i < MiBootSegmentCount; i++)
        if (Pfn >= MiBootSegments[i].BasePage &&
            Pfn < MiBootSegments[i].BasePage + MiBootSegments[i].PageCount)
            return TRUE;
    return FALSE;
}

VOID MiCloseBootAllocator(VOID)
{
    PFN_NUMBER total = 0;

    MiBootClosed = TRUE;
    for (ULONG i = 0; i < MiBootSegmentCount; i++)
        total += MiBootSegments[i].PageCount;
    DbgPrint("Mm: boot allocator used %llu pages (%llu KiB) in %u segment(s)\n", total,
             total * 4, MiBootSegmentCount);
}

/*
 * Map Va -> Pfn in the page tables rooted at Pml4Physical, creating the
 * intermediate tables from the bump allocator. Upper-level entries are
 * writable and executable; the leaf PTE alone decides the permissions.
 * PteBits == 0 only creates the tables (the PTE stays invalid).
 */
VOID MiBootMapPage(ULONG64 Pml4Physical, ULONG64 Va, PFN_NUMBER Pfn, ULONG64 PteBits)
{
    PMMPTE table = (PMMPTE)Pml4Physical;
    static const ULONG shifts[3] = {39, 30, 21};

    for (ULONG level = 0; level < 3; level++) {
        PMMPTE e = &table[(Va >> shifts[level]) & 511];
        if (!(e->Long & MM_PTE_VALID)) {
            PFN_NUMBER t = MiBootAllocatePages(1, TRUE);
            e->Long = (t << PAGE_SHIFT) | MM_PTE_VALID | MM_PTE_WRITE;
        } else if (e->Long & MM_PTE_LARGE_PAGE) {
            KeBugCheckEx(MEMORY_MANAGEMENT, MI_MM_PAGING_HIERARCHY_CORRUPT, Va, e->Long, level);
        }
        table = (PMMPTE)(e->Long & MM_PTE_FRAME_MASK);
    }
    if (PteBits != 0)
        table[(Va >> 12) & 511].Long = (Pfn << PAGE_SHIFT) | PteBits;
}

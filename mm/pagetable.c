/*
 * pagetable.c - mapping system space, through the self-map.
 *
 * PML4 slot 0x1ED points at the PML4 itself, so every page table of every
 * level appears at a fixed virtual address: the PTE for Va is at
 * MiGetPteAddress(Va), its PDE at MiGetPdeAddress(Va), and so on. No
 * physical-to-virtual conversion is ever needed to edit a table.
 *
 * Page-table pages are allocated on demand (zeroed pages from the PFN
 * database) and freed when their last valid entry goes: each table's PFN
 * entry counts its valid entries in UsedPageTableEntries. Two kinds are
 * never freed: tables built at boot (locked PFNs), and page-directory-
 * pointer tables, so that every kernel PML4 entry, once made, stays (an
 * address space that copies the kernel half keeps seeing it).
 *
 * Unmapping never frees anything itself. Every processor may cache the
 * cleared PTEs' translations, and the emptied tables in its paging-
 * structure caches (and through the self-map), so the unmapping routines
 * put the addresses on the caller's TB flush list (tlb.h) and the emptied
 * tables - and, for MiUnmapAndFreePageLocked, the page - wait on it: they
 * are freed by the shootdown (MiShootdownTbList), which the caller makes
 * once for the whole batch before it lets the addresses go.
 */
#include "mm_internal.h"
#include "../kernel/ke/ke.h"       /* KI_CHECK_IRQL_*: the IRQL rules */

#define MI_TABLE_ENTRY_BITS (MM_PTE_VALID | MM_PTE_WRITE)
#define MM_PAGE_TABLE_SPAN (1ULL << 21)     /* what one page table maps: 512 pages */

/* Make the table that Entry should point to, if it is missing. */
static NTSTATUS MiEnsureTable(PMMPTE Entry, PMMPTE ParentEntry)
{
    PFN_NUMBER page;
    PMMPFN pfn;

    if (Entry->Long & MM_PTE_VALID)
        return STATUS_SUCCESS;
    page = MiRemoveZeroPage(0);
    if (page == 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    MiInitializePfnForActivePage(page, Entry, MiCached);
    pfn = MI_PFN_ELEMENT(page);
    pfn->Flags |= MI_PFN_PAGE_TABLE;
    /* The page holding Entry: the parent's table, or for a PDPT the PML4. */
    pfn->PteFrame = MI_PTE_FRAME(ParentEntry ? *ParentEntry : *MiGetPxeAddress(PXE_BASE));
    Entry->Long = (page << PAGE_SHIFT) | MI_TABLE_ENTRY_BITS;
    /* The table's own self-map address had no translation; none to flush. */
    if (ParentEntry)
        MI_PFN_ELEMENT(MI_PTE_FRAME(*ParentEntry))->UsedPageTableEntries++;
    return STATUS_SUCCESS;
}

/*
 * The selfmap lab's stand-ins, run only by a tree whose selfmap lab is
 * stripped (each stub calls LAB_TODO first, so no test passes on them):
 * every mapping in Mm goes through this file, so the boot needs them.
 *
 * Freeing a table: "empty" is found by reading all 512 entries through
 * the self-map instead of trusting the count - slow, but it frees exactly
 * the tables the count would, so nothing leaks.
 */
static __attribute__((unused)) BOOLEAN
MiDeleteTableIfEmptyLabFallback(PMMPTE Entry, PMMPTE ParentEntry, PMI_TB_FLUSH_LIST Flush)
{
    PFN_NUMBER page = MI_PTE_FRAME(*Entry);
    PMMPFN pfn = MI_PFN_ELEMENT(page);
    PMMPTE table = MiGetVirtualAddressMappedByPte(Entry);

    if (pfn->Flags & MI_PFN_LOCKED)
        return FALSE;
    for (ULONG i = 0; i < PAGE_SIZE / sizeof(MMPTE); i++)
        if (table[i].Long != 0)
            return FALSE;
    Entry->Long = 0;
    MiAddTbFlushEntry(Flush, table);
    pfn->Flags &= (UCHAR)~MI_PFN_PAGE_TABLE;
    MiTbFlushListDeferPage(Flush, page, TRUE);
    MI_PFN_ELEMENT(MI_PTE_FRAME(*ParentEntry))->UsedPageTableEntries--;
    return TRUE;
}

/*
 * Mapping a page: its tables made by MiMakeKeptPageTablesLocked (which
 * locks the page table), the lock then taken off again unless the table
 * had it before, so the table still goes when it empties. After a failure
 * tables made for nothing stay until the next unmap there.
 */
static __attribute__((unused)) NTSTATUS MiMapOnePageLabFallback(PUCHAR Va, PFN_NUMBER Pfn,
                                                                ULONG64 PteBits)
{
    PMMPTE pte = MiGetPteAddress(Va), pde = MiGetPdeAddress(Va);
    BOOLEAN wasLocked = (MiGetPxeAddress(Va)->Long & MM_PTE_VALID) &&
                        (MiGetPpeAddress(Va)->Long & MM_PTE_VALID) &&
                        (pde->Long & MM_PTE_VALID) &&
                        (MI_PFN_ELEMENT(MI_PTE_FRAME(*pde))->Flags & MI_PFN_LOCKED);
    NTSTATUS status = MiMakeKeptPageTablesLocked(Va, 1);

    if (!NT_SUCCESS(status))
        return status;
    if (!wasLocked)
        MI_PFN_ELEMENT(MI_PTE_FRAME(*pde))->Flags &= (UCHAR)~MI_PFN_LOCKED;
    if (pte->Long & MM_PTE_VALID)
        return STATUS_UNSUCCESSFUL;
    pte->Long = (Pfn << PAGE_SHIFT) | PteBits | MM_PTE_VALID;
    MI_PFN_ELEMENT(MI_PTE_FRAME(*pde))->UsedPageTableEntries++;
    return STATUS_SUCCESS;
}

/* Remove Entry's table if it has no valid entries left; TRUE if removed.
 * The table page waits on Flush for the shootdown. */
static BOOLEAN MiDeleteTableIfEmpty(PMMPTE Entry, PMMPTE ParentEntry, PMI_TB_FLUSH_LIST Flush)
{
    /* LAB selfmap: BEGIN - a table with no valid entry (and not locked) leaves its parent; the page waits on Flush */
    PFN_NUMBER page = MI_PTE_FRAME(*Entry);
    PMMPFN pfn = MI_PFN_ELEMENT(page);

    if (pfn->UsedPageTableEntries != 0 || (pfn->Flags & MI_PFN_LOCKED))
        return FALSE;
    Entry->Long = 0;
    /* The table itself was visible through the self-map: drop that too
     * (any invlpg also empties the paging-structure caches). */
    MiAddTbFlushEntry(Flush, MiGetVirtualAddressMappedByPte(Entry));
    pfn->Flags &= (UCHAR)~MI_PFN_PAGE_TABLE;
    /* Every entry of an empty table is zero: after the shootdown it goes
     * on the Zeroed list, so the next table (often this one) needs no
     * zeroing. Freed before, another processor could still walk it. */
    MiTbFlushListDeferPage(Flush, page, TRUE);
    MI_PFN_ELEMENT(MI_PTE_FRAME(*ParentEntry))->UsedPageTableEntries--;
    return TRUE;
    /* LAB selfmap: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(selfmap);
    return MiDeleteTableIfEmptyLabFallback(Entry, ParentEntry, Flush);
#endif
    /* LAB selfmap: END */
}

/*
 * MmPfnLock held: make every page table that maps [Va, Va + Pages pages)
 * and keep it for good (MI_PFN_LOCKED: never freed, so its directory is
 * not either). Paged pool's tables are made so when its addresses are
 * allocated: a demand-zero fault then needs exactly the one page its
 * commitment promised (commit.c), never a table besides. The cost is one
 * table per 2 MiB of paged pool's high-water mark. Tables are resident
 * pages, charged as such: this fails (STATUS_INSUFFICIENT_RESOURCES) when
 * no more may be promised; the tables made so far stay.
 */
NTSTATUS MiMakeKeptPageTablesLocked(PVOID Va, PFN_NUMBER Pages)
{
    ULONG64 va = (ULONG64)Va & ~(PAGE_SIZE - 1), end = va + (Pages << PAGE_SHIFT);

    for (; va < end; va = (va | (MM_PAGE_TABLE_SPAN - 1)) + 1) {
        PMMPTE pxe = MiGetPxeAddress(va), ppe = MiGetPpeAddress(va), pde = MiGetPdeAddress(va);
        NTSTATUS status = MiEnsureTable(pxe, NULL);
        if (NT_SUCCESS(status))
            status = MiEnsureTable(ppe, pxe);
        if (NT_SUCCESS(status))
            status = MiEnsureTable(pde, ppe);
        if (!NT_SUCCESS(status))
            return status;
        MI_PFN_ELEMENT(MI_PTE_FRAME(*pde))->Flags |= MI_PFN_LOCKED;
    }
    return STATUS_SUCCESS;
}

/*
 * Called with MmPfnLock held: tables below PXE level may be freed. A level
 * is only read once its parent is known valid: after a failed map the PPE
 * may be missing, and reading the PDE through the self-map would fault.
 * A directory emptied because its new page table could not be made goes
 * too.
 */
static void MiDeleteEmptyTables(PVOID Va, PMI_TB_FLUSH_LIST Flush)
{
    PMMPTE pxe = MiGetPxeAddress(Va), ppe = MiGetPpeAddress(Va), pde = MiGetPdeAddress(Va);

    if (!(pxe->Long & MM_PTE_VALID) || !(ppe->Long & MM_PTE_VALID) ||
        (ppe->Long & MM_PTE_LARGE_PAGE))
        return;
    if ((pde->Long & MM_PTE_VALID) &&
        ((pde->Long & MM_PTE_LARGE_PAGE) || !MiDeleteTableIfEmpty(pde, ppe, Flush)))
        return;
    MiDeleteTableIfEmpty(ppe, pxe, Flush);
}

/* MmPfnLock held: map one page, making its tables (on failure, tables
 * made for it and left empty wait on Flush). */
static NTSTATUS MiMapOnePage(PUCHAR Va, PFN_NUMBER Pfn, ULONG64 PteBits, PMI_TB_FLUSH_LIST Flush)
{
    /* LAB selfmap: BEGIN - make the missing tables top down (MiEnsureTable), refuse a mapped PTE, undo on failure, write the PTE and count it */
    PMMPTE pxe = MiGetPxeAddress(Va), ppe = MiGetPpeAddress(Va);
    PMMPTE pde = MiGetPdeAddress(Va), pte = MiGetPteAddress(Va);
    NTSTATUS status = MiEnsureTable(pxe, NULL);

    if (NT_SUCCESS(status))
        status = MiEnsureTable(ppe, pxe);
    if (NT_SUCCESS(status))
        status = MiEnsureTable(pde, ppe);
    if (NT_SUCCESS(status) && (pte->Long & MM_PTE_VALID))
        status = STATUS_UNSUCCESSFUL;   /* already mapped: the caller's bug */
    if (!NT_SUCCESS(status)) {
        MiDeleteEmptyTables(Va, Flush);
        return status;
    }
    pte->Long = (Pfn << PAGE_SHIFT) | PteBits | MM_PTE_VALID;
    MI_PFN_ELEMENT(MI_PTE_FRAME(*pde))->UsedPageTableEntries++;
    return STATUS_SUCCESS;
    /* LAB selfmap: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(selfmap);
    UNREFERENCED_PARAMETER(Flush);
    return MiMapOnePageLabFallback(Va, Pfn, PteBits);
#endif
    /* LAB selfmap: END */
}

/* MmPfnLock held: unmap one page; its tables go when they empty (after
 * the shootdown of Flush, which Va joins). */
static void MiUnmapOnePage(PUCHAR Va, PMI_TB_FLUSH_LIST Flush)
{
    PMMPTE pde = MiGetPdeAddress(Va), pte;

    if (!(MiGetPxeAddress(Va)->Long & MM_PTE_VALID) || !(MiGetPpeAddress(Va)->Long & MM_PTE_VALID) ||
        !(pde->Long & MM_PTE_VALID) || !((pte = MiGetPteAddress(Va))->Long & MM_PTE_VALID))
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x41284, (ULONG_PTR)Va, 0, 0);
    pte->Long = 0;
    MiAddTbFlushEntry(Flush, Va);
    if (--MI_PFN_ELEMENT(MI_PTE_FRAME(*pde))->UsedPageTableEntries == 0)
        MiDeleteEmptyTables(Va, Flush);
}

/*
 * Map Count pages Va.. to Pfn.. (consecutive), MmPfnLock held. On failure
 * nothing stays mapped: what was mapped is shot down before the caller
 * may give the pages back.
 */
NTSTATUS MiMapSystemPagesLocked(PVOID Va, PFN_NUMBER Pfn, PFN_NUMBER Count, ULONG64 PteBits)
{
    PUCHAR va = Va;
    NTSTATUS status = STATUS_SUCCESS;
    MI_TB_FLUSH_LIST flush;

    if ((ULONG64)Va < MM_SYSTEM_RANGE_START)
        return STATUS_INVALID_PARAMETER;
    MiInitializeTbFlushList(&flush);
    for (PFN_NUMBER i = 0; i < Count; i++) {
        status = MiMapOnePage(va + (i << PAGE_SHIFT), Pfn + i, PteBits, &flush);
        if (!NT_SUCCESS(status)) {
            while (i-- > 0)
                MiUnmapOnePage(va + (i << PAGE_SHIFT), &flush);
            break;
        }
    }
    MiShootdownTbList(&flush);
    return status;
}

/* MmPfnLock held: clear Count PTEs; the addresses (and emptied tables)
 * join Flush, which the caller shoots down before the range is reused. */
VOID MiUnmapSystemPagesLocked(PVOID Va, PFN_NUMBER Count, PMI_TB_FLUSH_LIST Flush)
{
    for (PFN_NUMBER i = 0; i < Count; i++)
        MiUnmapOnePage((PUCHAR)Va + (i << PAGE_SHIFT), Flush);
}

NTSTATUS MiMapSystemPages(PVOID Va, PFN_NUMBER Pfn, PFN_NUMBER Count, ULONG64 PteBits)
{
    NTSTATUS status;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    status = MiMapSystemPagesLocked(Va, Pfn, Count, PteBits);
    KeReleaseSpinLock(&MmPfnLock, irql);
    return status;
}

/* Unmap and shoot down, in one PFN-lock hold: one IPI round for Count. */
VOID MiUnmapSystemPages(PVOID Va, PFN_NUMBER Count)
{
    MI_TB_FLUSH_LIST flush;
    KIRQL irql;

    MiInitializeTbFlushList(&flush);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiUnmapSystemPagesLocked(Va, Count, &flush);
    MiShootdownTbList(&flush);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/*
 * MmPfnLock held: back Va with a page of its own (zeroed if Zeroed), made
 * active for the new PTE. TRUE on success; on failure nothing changed.
 * Pool pages, special pool and kernel stacks are all made this way.
 */
BOOLEAN MiMapNewPageLocked(PVOID Va, ULONG64 PteBits, BOOLEAN Zeroed)
{
    PFN_NUMBER page = Zeroed ? MiRemoveZeroPage(0) : MiRemoveAnyPage(0);

    if (page == 0)
        return FALSE;
    MiInitializePfnForActivePage(page, MiGetPteAddress(Va), MiCached);
    if (!NT_SUCCESS(MiMapSystemPagesLocked(Va, page, 1, PteBits))) {
        MiFreeActivePage(page);
        return FALSE;
    }
    return TRUE;
}

/* MmPfnLock held: unmap Va; the page behind it is freed by the shootdown
 * of Flush (not before: another processor may still write through Va). */
VOID MiUnmapAndFreePageLocked(PVOID Va, PMI_TB_FLUSH_LIST Flush)
{
    PFN_NUMBER page = MI_PTE_FRAME(*MiGetPteAddress(Va));

    MiUnmapSystemPagesLocked(Va, 1, Flush);
    MiTbFlushListDeferPage(Flush, page, FALSE);
}

NTSTATUS MiMapSystemPage(PVOID Va, PFN_NUMBER Pfn, ULONG64 PteBits)
{
    return MiMapSystemPages(Va, Pfn, 1, PteBits);
}

VOID MiUnmapSystemPage(PVOID Va)
{
    MiUnmapSystemPages(Va, 1);
}

/*
 * Walk Va's translation top down: the entry that maps it (a PTE, or a
 * 2 MiB PDE / 1 GiB PPE for large pages) in *Level (1 = PTE, 2 = PDE,
 * 3 = PPE), or NULL where a level is invalid (*Level says which).
 */
PMMPTE MiWalkToPte(PVOID Va, ULONG *Level)
{
    PMMPTE e;

    if ((LONG64)(ULONG64)Va >> 47 != 0 && (LONG64)(ULONG64)Va >> 47 != -1) {
        *Level = 4;                     /* not canonical */
        return NULL;
    }
    e = MiGetPxeAddress(Va);
    *Level = 4;
    if (!(e->Long & MM_PTE_VALID))
        return NULL;
    e = MiGetPpeAddress(Va);
    *Level = 3;
    if (!(e->Long & MM_PTE_VALID) || (e->Long & MM_PTE_LARGE_PAGE))
        return (e->Long & MM_PTE_VALID) ? e : NULL;
    e = MiGetPdeAddress(Va);
    *Level = 2;
    if (!(e->Long & MM_PTE_VALID) || (e->Long & MM_PTE_LARGE_PAGE))
        return (e->Long & MM_PTE_VALID) ? e : NULL;
    e = MiGetPteAddress(Va);
    *Level = 1;
    return (e->Long & MM_PTE_VALID) ? e : NULL;
}

PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress)
{
    PHYSICAL_ADDRESS pa;
    ULONG level;
    PMMPTE e = MiWalkToPte(BaseAddress, &level);
    ULONG64 offsetMask = level == 3 ? (1ULL << 30) - 1 : level == 2 ? (1ULL << 21) - 1 : PAGE_SIZE - 1;

    pa.QuadPart = 0;
    if (e != NULL)
        pa.QuadPart = (LONG64)(((e->Long & MM_PTE_FRAME_MASK) & ~offsetMask) |
                               ((ULONG64)BaseAddress & offsetMask));
    return pa;
}

BOOLEAN MmIsAddressValid(PVOID VirtualAddress)
{
    ULONG level;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmIsAddressValid);
    return MiWalkToPte(VirtualAddress, &level) != NULL;
}

/*
 * iospace.c - MmMapIoSpace(Ex) / MmUnmapIoSpace: physical ranges (device
 * registers, framebuffers, or RAM) mapped into system-PTE space with a
 * chosen cache type. The returned address keeps the byte offset of the
 * physical address, as NT's does; MmUnmapIoSpace must be given the same
 * address and size. IRQL <= DISPATCH_LEVEL; NULL when the request is
 * invalid or system PTEs run out.
 *
 * RAM keeps one cache type per page, as NT requires (the SDM leaves a
 * cached and an uncached view of the same bytes undefined): a page in use
 * (PFN CacheAttribute set) can be mapped again only with its own type, or
 * the call returns NULL. A page nobody has mapped (free RAM, MiNotMapped)
 * can be mapped with any type; the caches are flushed first when that type
 * is not write-back.
 */
#include "mm_internal.h"
#include "../kernel/ke/ke.h"       /* KI_CHECK_IRQL_*: the IRQL rules */

#define MI_ANY_CACHE_ATTRIBUTE 0xFF     /* MiMapPhysicalPagesAs: no check */

/*
 * NT's one-cache-type-per-page rule, PFN lock held: every RAM page of the
 * range must be unmapped (MiNotMapped) or mapped with Attribute already.
 * *Ram says whether the range holds any RAM at all.
 */
static BOOLEAN MiCacheAttributeAllowedLocked(PFN_NUMBER Pfn, PFN_NUMBER Pages, UCHAR Attribute,
                                             BOOLEAN *Ram)
{
    *Ram = FALSE;
    for (PFN_NUMBER p = Pfn; p < Pfn + Pages; p++) {
        UCHAR current;
        if (!MiIsPfnRam(p))
            continue;                   /* device memory: no PFN entry, no rule */
        *Ram = TRUE;
        current = MI_PFN_ELEMENT(p)->CacheAttribute;
        if (current != MiNotMapped && current != Attribute)
            return FALSE;
    }
    return TRUE;
}

/*
 * Map Pages pages starting at physical page Pfn; the VA of the first page
 * or NULL. Reserving the PTEs and filling them take one acquisition of the
 * PFN lock, as do emptying and releasing them: a lock round trip costs as
 * much as the rest of a one-page mapping. With an Attribute, RAM pages in
 * use with another cache type refuse the mapping (NULL).
 */
static PVOID MiMapPhysicalPagesAs(PFN_NUMBER Pfn, PFN_NUMBER Pages, ULONG64 PteBits,
                                  UCHAR Attribute)
{
    PMMPTE pte;
    PUCHAR va = NULL;
    KIRQL irql;
    BOOLEAN ram = FALSE;

    if (Pages == 0 || Pages > MM_SYSTEM_PTE_PAGES)
        return NULL;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (Attribute != MI_ANY_CACHE_ATTRIBUTE &&
        !MiCacheAttributeAllowedLocked(Pfn, Pages, Attribute, &ram)) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;
    }
    pte = MiReserveSystemPtesLocked((ULONG)Pages);
    if (pte != NULL) {
        va = MiGetVirtualAddressMappedByPte(pte);
        if (!NT_SUCCESS(MiMapSystemPagesLocked(va, Pfn, Pages, PteBits))) {
            MiReleaseSystemPtesLocked(pte, (ULONG)Pages);
            va = NULL;
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    /*
     * RAM seen through an uncached or write-combined mapping may still have
     * lines in the caches from a write-back mapping it had before: write
     * them back and drop them first, or a later eviction lands on top of
     * what goes through the new mapping (NT flushes here too; contig.c does
     * the same for its pages), on every processor (KeInvalidateAllCaches).
     */
    if (va != NULL && ram && Attribute != MiCached)
        KeInvalidateAllCaches();
    return va;
}

PVOID MiMapPhysicalPages(PFN_NUMBER Pfn, PFN_NUMBER Pages, ULONG64 PteBits)
{
    return MiMapPhysicalPagesAs(Pfn, Pages, PteBits, MI_ANY_CACHE_ATTRIBUTE);
}

/*
 * MmPfnLock held: unmap Pages pages at Va and give their PTEs back. The
 * shootdown comes between: once released (or kept in sysptes.c's cache of
 * small runs) the addresses may be mapped to another page at once, and a
 * processor still holding the old translation would reach the old one.
 * One shootdown for the whole range.
 */
VOID MiUnmapPhysicalPagesLocked(PVOID Va, PFN_NUMBER Pages)
{
    MI_TB_FLUSH_LIST flush;

    MiInitializeTbFlushList(&flush);
    MiUnmapSystemPagesLocked(Va, Pages, &flush);
    MiShootdownTbList(&flush);
    MiReleaseSystemPtesLocked(MiGetPteAddress(Va), (ULONG)Pages);
}

VOID MiUnmapPhysicalPages(PVOID Va, PFN_NUMBER Pages)
{
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiUnmapPhysicalPagesLocked(Va, Pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

static PVOID MiMapIo(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG64 Bits,
                     UCHAR Attribute)
{
    ULONG64 pa = (ULONG64)PhysicalAddress.QuadPart;
    PFN_NUMBER pages;
    PUCHAR va;

    /* 52 physical address bits at most on x86-64, for the whole range: a
     * frame past them would spill into the PTE's ignored and NX bits. */
    if (NumberOfBytes == 0 || pa >= (1ULL << 52) || NumberOfBytes > (1ULL << 52) - pa ||
        NumberOfBytes > (MM_SYSTEM_PTE_PAGES << PAGE_SHIFT))
        return NULL;
    pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(pa, NumberOfBytes);
    va = MiMapPhysicalPagesAs(pa >> PAGE_SHIFT, pages, Bits | MM_PTE_GLOBAL, Attribute);
    return va ? va + BYTE_OFFSET(pa) : NULL;
}

PVOID MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes,
                   MEMORY_CACHING_TYPE CacheType)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmMapIoSpace);
    /* NT looks at the low byte only; anything past the last type is refused. */
    CacheType = (MEMORY_CACHING_TYPE)(CacheType & 0xFF);
    if (CacheType >= MmMaximumCacheType)
        return NULL;
    return MiMapIo(PhysicalAddress, NumberOfBytes,
                   MM_PTE_WRITE | MM_PTE_NO_EXECUTE | MiCacheTypeToPteBits(CacheType),
                   MiCacheTypeToPfnAttribute(CacheType));
}

/*
 * Protect: exactly one of PAGE_READONLY, PAGE_READWRITE, PAGE_EXECUTE,
 * PAGE_EXECUTE_READ, PAGE_EXECUTE_READWRITE, plus at most one of
 * PAGE_NOCACHE / PAGE_WRITECOMBINE (neither = cached). Anything else: NULL.
 */
ULONG64 MiProtectToPteBits(ULONG Protect, BOOLEAN *Valid)
{
    ULONG base = Protect & 0xFF, cache = Protect & ~0xFFu;
    ULONG64 bits;

    *Valid = TRUE;
    switch (base) {
    case PAGE_READONLY: bits = MM_PTE_NO_EXECUTE; break;
    case PAGE_READWRITE: bits = MM_PTE_WRITE | MM_PTE_NO_EXECUTE; break;
    case PAGE_EXECUTE:
    case PAGE_EXECUTE_READ: bits = 0; break;
    case PAGE_EXECUTE_READWRITE: bits = MM_PTE_WRITE; break;
    default: *Valid = FALSE; return 0;
    }
    if (cache == PAGE_NOCACHE)
        bits |= MiCacheTypeToPteBits(MmNonCached);
    else if (cache == PAGE_WRITECOMBINE)
        bits |= MiCacheTypeToPteBits(MmWriteCombined);
    else if (cache != 0)
        *Valid = FALSE;
    return bits;
}

PVOID MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect)
{
    BOOLEAN valid;
    ULONG64 bits;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmMapIoSpaceEx);
    bits = MiProtectToPteBits(Protect, &valid);
    if (!valid)
        return NULL;
    return MiMapIo(PhysicalAddress, NumberOfBytes, bits,
                   MiCacheTypeToPfnAttribute((Protect & PAGE_NOCACHE)        ? MmNonCached
                                             : (Protect & PAGE_WRITECOMBINE) ? MmWriteCombined
                                                                             : MmCached));
}

VOID MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes)
{
    ULONG64 va = (ULONG64)BaseAddress;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmUnmapIoSpace);
    if (va < MM_SYSTEM_PTE_BASE || va >= MM_SYSTEM_PTE_END || NumberOfBytes == 0)
        KeBugCheckEx(SYSTEM_PTE_MISUSE, 0x101, va, NumberOfBytes, 0);
    MiUnmapPhysicalPages(PAGE_ALIGN(BaseAddress), ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, NumberOfBytes));
}

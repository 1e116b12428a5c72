/*
 * mdlmap.c - giving an MDL's pages a system address:
 * MmMapLockedPagesSpecifyCache, MmMapLockedPages, MmUnmapLockedPages (and
 * through them MmGetSystemAddressForMdlSafe, mm.h).
 *
 * The pages are locked (MmProbeAndLockPages), owned (MmAllocatePagesForMdl)
 * or described by a partial MDL of such an MDL; the mapping takes a run of
 * system PTEs (sysptes.c) and fills it from the PFN array. One system
 * mapping per MDL: MDL_MAPPED_TO_SYSTEM_VA says it exists and
 * MappedSystemVa is its first byte (ByteOffset included).
 *
 * Cache type: NT keeps one cache type per RAM page (a cached and an
 * uncached view of the same bytes are undefined on x86), so a page whose
 * PFN entry records one is mapped with it, and CacheType applies to the
 * rest: device memory and RAM nobody has mapped.
 *
 * Priority decides how close to running out of system PTEs a mapping may
 * go: LowPagePriority fails while fewer than an eighth of them are free,
 * NormalPagePriority below a sixty-fourth, HighPagePriority only when
 * none are left - NT's three levels, with Mica's thresholds.
 * MdlMappingNoWrite makes the PTEs read-only, MdlMappingNoExecute
 * no-execute (Learn: Windows 8 drivers should always ask for it).
 */
#include "mm_internal.h"

#define MI_LOW_PRIORITY_PTE_FLOOR    (MM_SYSTEM_PTE_PAGES / 8)
#define MI_NORMAL_PRIORITY_PTE_FLOOR (MM_SYSTEM_PTE_PAGES / 64)
#define MI_PRIORITY_FLAGS (MdlMappingNoWrite | MdlMappingNoExecute)

/* SYSTEM_PTE_MISUSE parameter 1 (Learn). */
#define SYSTEM_PTE_MISUSE_WRONG_ADDRESS 0x03
#define SYSTEM_PTE_MISUSE_NOT_MAPPED    0x06
/* DRIVER_VERIFIER_DETECTED_VIOLATION parameter 1: mapping an MDL that is
 * already mapped (0xB2) or whose pages are not locked (0xB3). */
#define VERIFIER_MAP_MAPPED_MDL   0xB2
#define VERIFIER_MAP_UNLOCKED_MDL 0xB3
#ifndef STATUS_INVALID_ADDRESS
#define STATUS_INVALID_ADDRESS ((NTSTATUS)0xC0000141L)
#endif

static MEMORY_CACHING_TYPE MiCacheTypeOfPage(PFN_NUMBER Page, MEMORY_CACHING_TYPE CacheType,
                                             BOOLEAN *Flush)
{
    UCHAR attribute;

    if (Page > MmHighestPhysicalPage || !MiIsPfnRam(Page))
        return CacheType;               /* device memory: the caller knows best */
    attribute = MI_PFN_ELEMENT(Page)->CacheAttribute;
    if (attribute == MiCached)
        return MmCached;
    if (attribute == MiWriteCombined)
        return MmWriteCombined;
    if (attribute == MiNonCached)
        return MmNonCached;
    /* RAM nobody maps may still have lines cached from its last use. */
    if (CacheType != MmCached && CacheType != MmHardwareCoherentCached)
        *Flush = TRUE;
    return CacheType;
}

VOID MiUnmapMdlPagesLocked(PVOID Va, PFN_NUMBER Count, BOOLEAN ReleasePtes)
{
    MI_TB_FLUSH_LIST flush;

    MiInitializeTbFlushList(&flush);
    MiUnmapSystemPagesLocked(Va, Count, &flush);
    /* Every processor forgets the translations before the addresses can
     * be handed out again. */
    MiShootdownTbList(&flush);
    if (ReleasePtes)
        MiReleaseSystemPtesLocked(MiGetPteAddress(Va), (ULONG)Count);
}

PVOID MiMapMdlPages(PPFN_NUMBER Pages, PFN_NUMBER Count, ULONG64 Protection,
                    MEMORY_CACHING_TYPE CacheType, PVOID Va, ULONG Priority)
{
    PUCHAR base = Va;
    PFN_NUMBER floor = Priority >= HighPagePriority     ? 0
                       : Priority >= NormalPagePriority ? MI_NORMAL_PRIORITY_PTE_FLOOR
                                                        : MI_LOW_PRIORITY_PTE_FLOOR;
    BOOLEAN flush = FALSE;
    KIRQL irql;

    if (Count == 0 || Count > MM_SYSTEM_PTE_PAGES)
        return NULL;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (base == NULL) {
        PMMPTE pte = NULL;
        if (MiFreeSystemPteCount() >= Count + floor)
            pte = MiReserveSystemPtesLocked((ULONG)Count);
        if (pte == NULL) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            return NULL;
        }
        base = MiGetVirtualAddressMappedByPte(pte);
    }
    for (PFN_NUMBER i = 0; i < Count; i++) {
        ULONG64 bits = Protection | MM_PTE_GLOBAL |
                       MiCacheTypeToPteBits(MiCacheTypeOfPage(Pages[i], CacheType, &flush));
        if (!NT_SUCCESS(MiMapSystemPagesLocked(base + (i << PAGE_SHIFT), Pages[i], 1, bits))) {
            /* Out of page tables: nothing of this mapping stays. */
            if (i != 0)
                MiUnmapMdlPagesLocked(base, i, FALSE);
            if (Va == NULL)
                MiReleaseSystemPtesLocked(MiGetPteAddress(base), (ULONG)Count);
            base = NULL;
            break;
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    if (base != NULL && flush)
        KeInvalidateAllCaches();
    return base;
}

PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
                                   ULONG BugCheckOnFailure, ULONG Priority)
{
    PMDL mdl = MemoryDescriptorList;
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    ULONG64 protection;
    PUCHAR va;

    UNREFERENCED_PARAMETER(RequestedAddress);   /* kernel mappings: the system chooses */
    if (AccessMode == UserMode) {
        /* A user mapping fails by raising (Learn); Mica has no user space. */
        KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmMapLockedPagesSpecifyCache);
        ExRaiseStatus(STATUS_INVALID_ADDRESS);
    }
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmMapLockedPagesSpecifyCache);
    if (mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA)
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, VERIFIER_MAP_MAPPED_MDL, (ULONG_PTR)mdl,
                     (USHORT)mdl->MdlFlags, 0);
    if (!(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_PARTIAL | MDL_SOURCE_IS_NONPAGED_POOL)))
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, VERIFIER_MAP_UNLOCKED_MDL, (ULONG_PTR)mdl,
                     (USHORT)mdl->MdlFlags, 0);
    CacheType = (MEMORY_CACHING_TYPE)(CacheType & 0xFF);
    if (CacheType >= MmMaximumCacheType || pages == 0)
        return NULL;
    protection = ((Priority & MdlMappingNoWrite) ? 0 : MM_PTE_WRITE) |
                 ((Priority & MdlMappingNoExecute) ? MM_PTE_NO_EXECUTE : 0);
    va = MiMapMdlPages(MmGetMdlPfnArray(mdl), pages, protection, CacheType, NULL,
                       Priority & ~MI_PRIORITY_FLAGS);
    if (va == NULL) {
        /* NT's parameters: PTE pool (0: system PTEs), the request, the
         * free and total system PTEs. */
        if (BugCheckOnFailure && !(mdl->MdlFlags & MDL_MAPPING_CAN_FAIL))
            KeBugCheckEx(NO_MORE_SYSTEM_PTES, SystemPteSpace, pages, MiFreeSystemPteCount(),
                         MM_SYSTEM_PTE_PAGES);
        return NULL;
    }
    mdl->MappedSystemVa = va + mdl->ByteOffset;
    mdl->MdlFlags |= MDL_MAPPED_TO_SYSTEM_VA | ((mdl->MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : 0);
    return mdl->MappedSystemVa;
}

PVOID MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode)
{
    return MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, MmCached, NULL, TRUE,
                                        HighPagePriority);
}

VOID MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList)
{
    PMDL mdl = MemoryDescriptorList;
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    KIRQL irql;

    if ((ULONG64)BaseAddress < MM_SYSTEM_RANGE_START)
        KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmUnmapLockedPages);    /* a user address */
    else
        KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmUnmapLockedPages);
    /* Only a mapping the MDL made itself: not one it shares with the MDL
     * it is a partial of, not a nonpaged-pool MDL's own address, not a
     * user address (Mica makes none). */
    if (!(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) ||
        (mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) ||
        ((mdl->MdlFlags & MDL_PARTIAL) && !(mdl->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED)))
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_NOT_MAPPED, (ULONG_PTR)mdl,
                     (ULONG_PTR)BaseAddress, pages);
    if (BaseAddress != mdl->MappedSystemVa)
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_WRONG_ADDRESS, (ULONG_PTR)mdl,
                     (ULONG_PTR)mdl->MappedSystemVa, (ULONG_PTR)BaseAddress);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiUnmapMdlPagesLocked(PAGE_ALIGN(BaseAddress), pages, TRUE);
    KeReleaseSpinLock(&MmPfnLock, irql);
    mdl->MdlFlags &= (CSHORT)~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED);
}

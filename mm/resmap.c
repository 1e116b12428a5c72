/*
 * resmap.c - reserved mappings: MmAllocateMappingAddress,
 * MmMapLockedPagesWithReservedMapping, MmUnmapReservedMapping,
 * MmFreeMappingAddress.
 *
 * A driver that must be able to map a buffer even when system PTEs run
 * out (a storage driver on the paging path) reserves a range of system
 * addresses once, at start, and maps MDLs into it later, one at a time;
 * the map cannot fail for want of PTEs. The reservation is identified by
 * its address and a pool tag, which every call must repeat.
 *
 * Each reservation has a record (address, pages, tag, the MDL mapped now),
 * on one list under MmPfnLock, which the map and unmap take anyway. NT
 * keeps the same facts in two PTEs just below the range; Mica's page
 * tables are freed when their last valid PTE goes, so it keeps nothing in
 * invalid PTEs. The MDL is not marked MDL_MAPPED_TO_SYSTEM_VA (the mapping
 * is the reservation's, and MmUnlockPages must not release it); its
 * MappedSystemVa is the page-aligned base, as in NT.
 *
 * Misuse is SYSTEM_PTE_MISUSE (0xDA) with NT's reserved-mapping codes;
 * parameters 2-4 are Mica's: the address, the tag given, and the tag of
 * the reservation (or what else went wrong).
 */
#include "mm_internal.h"

#define SYSTEM_PTE_MISUSE_NOT_RESERVED      0x101   /* free: no such reservation / wrong tag */
#define SYSTEM_PTE_MISUSE_FREE_WHILE_MAPPED 0x103
#define SYSTEM_PTE_MISUSE_MAP_WRONG_TAG     0x104
#define SYSTEM_PTE_MISUSE_MAP_NOT_EMPTY     0x106
#define SYSTEM_PTE_MISUSE_MAP_NOT_RESERVED  0x107
#define SYSTEM_PTE_MISUSE_UNMAP_WRONG_TAG   0x108
#define SYSTEM_PTE_MISUSE_UNMAP_NOT_MAPPED  0x109

#define MI_RESMAP_TAG 'pMsR'

typedef struct _MI_RESERVED_MAPPING {
    LIST_ENTRY Links;
    PUCHAR BaseAddress;
    PFN_NUMBER Pages;
    ULONG Tag;
    PMDL Mdl;                           /* mapped now, or NULL */
    PFN_NUMBER MappedPages;
} MI_RESERVED_MAPPING;

static LIST_ENTRY MiReservedMappings = {&MiReservedMappings, &MiReservedMappings};

/* MmPfnLock held. */
static MI_RESERVED_MAPPING *MiFindReservation(PVOID BaseAddress)
{
    for (PLIST_ENTRY e = MiReservedMappings.Flink; e != &MiReservedMappings; e = e->Flink) {
        MI_RESERVED_MAPPING *r = CONTAINING_RECORD(e, MI_RESERVED_MAPPING, Links);
        if (r->BaseAddress == BaseAddress)
            return r;
    }
    return NULL;
}

PVOID MmAllocateMappingAddress(SIZE_T NumberOfBytes, ULONG PoolTag)
{
    PFN_NUMBER pages = BYTES_TO_PAGES(NumberOfBytes);
    MI_RESERVED_MAPPING *r;
    PMMPTE pte;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmAllocateMappingAddress);
    if (NumberOfBytes == 0 || pages > MM_SYSTEM_PTE_PAGES)
        return NULL;
    r = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*r), MI_RESMAP_TAG);
    if (r == NULL)
        return NULL;
    KeAcquireSpinLock(&MmPfnLock, &irql);
    pte = MiReserveSystemPtesLocked((ULONG)pages);
    if (pte != NULL) {
        r->BaseAddress = MiGetVirtualAddressMappedByPte(pte);
        r->Pages = pages;
        r->Tag = PoolTag;
        r->Mdl = NULL;
        r->MappedPages = 0;
        InsertTailList(&MiReservedMappings, &r->Links);
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    if (pte == NULL) {
        ExFreePoolWithTag(r, MI_RESMAP_TAG);
        return NULL;
    }
    return r->BaseAddress;
}

VOID MmFreeMappingAddress(PVOID BaseAddress, ULONG PoolTag)
{
    MI_RESERVED_MAPPING *r;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmFreeMappingAddress);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    r = MiFindReservation(BaseAddress);
    if (r == NULL || r->Tag != PoolTag) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_NOT_RESERVED, (ULONG_PTR)BaseAddress,
                     PoolTag, r ? r->Tag : 0);
    }
    if (r->Mdl != NULL) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        KeBugCheckEx(SYSTEM_PTE_MISUSE, SYSTEM_PTE_MISUSE_FREE_WHILE_MAPPED, (ULONG_PTR)BaseAddress,
                     PoolTag, (ULONG_PTR)r->Mdl);
    }
    RemoveEntryList(&r->Links);
    /* Every PTE is empty and was shot down when it was unmapped. */
    MiReleaseSystemPtesLocked(MiGetPteAddress(r->BaseAddress), (ULONG)r->Pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
    ExFreePoolWithTag(r, MI_RESMAP_TAG);
}

PVOID MmMapLockedPagesWithReservedMapping(PVOID MappingAddress, ULONG PoolTag,
                                          PMDL MemoryDescriptorList,
                                          MEMORY_CACHING_TYPE CacheType)
{
    PMDL mdl = MemoryDescriptorList;
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    MI_RESERVED_MAPPING *r;
    ULONG_PTR why = 0, code = 0;
    KIRQL irql;
    PUCHAR va;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmMapLockedPagesWithReservedMapping);
    CacheType = (MEMORY_CACHING_TYPE)(CacheType & 0xFF);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    r = MiFindReservation(MappingAddress);
    if (r == NULL)
        code = SYSTEM_PTE_MISUSE_MAP_NOT_RESERVED;
    else if (r->Tag != PoolTag)
        code = SYSTEM_PTE_MISUSE_MAP_WRONG_TAG, why = r->Tag;
    else if (r->Mdl != NULL)
        code = SYSTEM_PTE_MISUSE_MAP_NOT_EMPTY, why = (ULONG_PTR)r->Mdl;
    if (code != 0) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        KeBugCheckEx(SYSTEM_PTE_MISUSE, code, (ULONG_PTR)MappingAddress, PoolTag, why);
    }
    /* Learn: NULL only for a parameter error, such as an MDL bigger than
     * the reservation. */
    if (pages == 0 || pages > r->Pages || CacheType >= MmMaximumCacheType) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;
    }
    r->Mdl = mdl;                       /* claimed before the lock drops */
    r->MappedPages = pages;
    KeReleaseSpinLock(&MmPfnLock, irql);
    va = MiMapMdlPages(MmGetMdlPfnArray(mdl), pages, MM_PTE_WRITE | MM_PTE_NO_EXECUTE, CacheType,
                       MappingAddress, HighPagePriority);
    if (va == NULL) {                   /* no page table could be made */
        KeAcquireSpinLock(&MmPfnLock, &irql);
        r->Mdl = NULL;
        r->MappedPages = 0;
        KeReleaseSpinLock(&MmPfnLock, irql);
        return NULL;
    }
    mdl->MappedSystemVa = va;
    return va + mdl->ByteOffset;
}

VOID MmUnmapReservedMapping(PVOID BaseAddress, ULONG PoolTag, PMDL MemoryDescriptorList)
{
    MI_RESERVED_MAPPING *r;
    ULONG_PTR code = 0, why = 0;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmUnmapReservedMapping);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    r = MiFindReservation(BaseAddress);
    if (r == NULL)
        code = SYSTEM_PTE_MISUSE_MAP_NOT_RESERVED;
    else if (r->Tag != PoolTag)
        code = SYSTEM_PTE_MISUSE_UNMAP_WRONG_TAG, why = r->Tag;
    else if (r->Mdl == NULL || r->Mdl != MemoryDescriptorList)
        code = SYSTEM_PTE_MISUSE_UNMAP_NOT_MAPPED, why = (ULONG_PTR)MemoryDescriptorList;
    if (code != 0) {
        KeReleaseSpinLock(&MmPfnLock, irql);
        KeBugCheckEx(SYSTEM_PTE_MISUSE, code, (ULONG_PTR)BaseAddress, PoolTag, why);
    }
    /* Unmapped and shot down; the addresses stay reserved. */
    MiUnmapMdlPagesLocked(BaseAddress, r->MappedPages, FALSE);
    r->Mdl = NULL;
    r->MappedPages = 0;
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/*
 * cache.c - cache types, through the page attribute table (PAT).
 *
 * A 4 KiB PTE selects one of eight PAT entries with its PAT, PCD and PWT
 * bits (index = 4*PAT + 2*PCD + PWT). The power-on PAT has no
 * write-combining entry, so Mica programs IA32_PAT (MSR 0x277) as
 *     0: WB  1: WC  2: UC-  3: UC  4: WB  5: WP  6: UC-  7: WT
 * and maps NT's cache types with PCD/PWT only (no PAT bit, so the same
 * bits mean the same thing in a 2 MiB entry, where PAT is bit 12):
 *     MmCached -> WB (0), MmWriteCombined -> WC (PWT), MmNonCachedUnordered
 *     -> UC- (PCD), MmNonCached -> UC (PCD|PWT).
 * The SDM's rule for changing the PAT: caches flushed and disabled
 * (CR0.CD), TLBs flushed, on every processor, before any mapping uses it.
 */
#include "mm_internal.h"
#include "../kernel/ke/ke.h"

#define MSR_IA32_PAT 0x277
#define PAT_UC  0x00ULL
#define PAT_WC  0x01ULL
#define PAT_WT  0x04ULL
#define PAT_WP  0x05ULL
#define PAT_WB  0x06ULL
#define PAT_UCM 0x07ULL     /* UC- (UC minus) */
#define PAT_ENTRY(Index, Type) ((Type) << ((Index) * 8))
#define MI_PAT_VALUE (PAT_ENTRY(0, PAT_WB) | PAT_ENTRY(1, PAT_WC) | PAT_ENTRY(2, PAT_UCM) | \
                      PAT_ENTRY(3, PAT_UC) | PAT_ENTRY(4, PAT_WB) | PAT_ENTRY(5, PAT_WP) | \
                      PAT_ENTRY(6, PAT_UCM) | PAT_ENTRY(7, PAT_WT))
#define CR0_CD (1ULL << 30)

/* What every processor programs; never written (read-only, for tests). */
ULONG64 MiPatValue = MI_PAT_VALUE;

/*
 * This processor's PAT (mm.h: each processor once, before it uses a WC
 * mapping, the others before they enable interrupts). Safe on any
 * processor at any time: it changes only this processor's MSR, and
 * flushes only this processor's caches and TLB (MiFlushEntireTb, local:
 * the other processors' PATs are theirs to program), and writes no
 * global. Every processor ends with the same value, as the SDM requires
 * of processors sharing memory.
 */
VOID MiInitializePat(VOID)
{
    ULONG64 cr0 = __readcr0(), flags = __readeflags();

    /* Interrupts off for the change, then back as the caller had them. */
    _disable();
    __asm__ __volatile__("mov %0, %%cr0\n\twbinvd" : : "r"(cr0 | CR0_CD) : "memory");
    MiFlushEntireTb(TRUE);
    __writemsr(MSR_IA32_PAT, MI_PAT_VALUE);
    __asm__ __volatile__("wbinvd" : : : "memory");
    MiFlushEntireTb(TRUE);
    __asm__ __volatile__("mov %0, %%cr0" : : "r"(cr0) : "memory");
    if (flags & EFLAGS_IF_MASK)
        _enable();
}

ULONG64 MiCacheTypeToPteBits(MEMORY_CACHING_TYPE CacheType)
{
    switch (CacheType) {
    case MmCached:
    case MmHardwareCoherentCached:
        return 0;
    case MmWriteCombined:
    case MmUSWCCached:
        return MM_PTE_WRITE_THROUGH;
    case MmNonCachedUnordered:
        return MM_PTE_CACHE_DISABLE;
    case MmNonCached:
    default:
        return MM_PTE_CACHE_DISABLE | MM_PTE_WRITE_THROUGH;
    }
}

UCHAR MiCacheTypeToPfnAttribute(MEMORY_CACHING_TYPE CacheType)
{
    switch (CacheType) {
    case MmCached:
    case MmHardwareCoherentCached:
        return MiCached;
    case MmWriteCombined:
    case MmUSWCCached:
        return MiWriteCombined;
    default:
        return MiNonCached;
    }
}

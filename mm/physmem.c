/*
 * physmem.c - MmGetPhysicalMemoryRanges: the RAM Mica manages, as a list
 * of (base, size) ranges in nonpaged pool, ending with an all-zero entry.
 * The caller frees it with ExFreePool. IRQL PASSIVE_LEVEL (NT's rule: the
 * list is built from structures that may change under a lock held there).
 * NULL when pool is exhausted. Ranges come from the memory map as maxmem=
 * and burnmemory= left it, in ascending order, never overlapping.
 *
 * Pageable (MM_PAGEABLE_CODE, mm/pagesec.c): it runs at PASSIVE_LEVEL only,
 * rarely (a DMA adapter's creation, tests), never on the paging path, and
 * holds no spin lock in its own body - NT's test for a PAGE routine.
 */
#include "mm_internal.h"
#include "../kernel/ke/ke.h"       /* KI_CHECK_IRQL_*: the IRQL rules */

#define MI_PHYSICAL_RANGES_TAG 'hPmM'

MM_PAGEABLE_CODE PPHYSICAL_MEMORY_RANGE MmGetPhysicalMemoryRanges(VOID)
{
    PPHYSICAL_MEMORY_RANGE ranges;
    KIRQL irql = KeGetCurrentIrql();

    if (irql > PASSIVE_LEVEL)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, MmGetPhysicalMemoryRanges, irql, PASSIVE_LEVEL,
                        __builtin_return_address(0));
    ranges = ExAllocatePoolWithTag(NonPagedPoolNx,
                                   (MiPhysicalRunCount + 1) * sizeof(PHYSICAL_MEMORY_RANGE),
                                   MI_PHYSICAL_RANGES_TAG);
    if (ranges == NULL)
        return NULL;
    for (ULONG i = 0; i < MiPhysicalRunCount; i++) {
        ranges[i].BaseAddress.QuadPart = (LONG64)(MiPhysicalRuns[i].BasePage << PAGE_SHIFT);
        ranges[i].NumberOfBytes.QuadPart = (LONG64)(MiPhysicalRuns[i].PageCount << PAGE_SHIFT);
    }
    ranges[MiPhysicalRunCount].BaseAddress.QuadPart = 0;
    ranges[MiPhysicalRunCount].NumberOfBytes.QuadPart = 0;
    return ranges;
}

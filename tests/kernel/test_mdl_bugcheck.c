/*
 * test_mdl_bugcheck.c - MDL misuse and the stop codes it earns:
 *   unlocking pages that are not locked      PFN_LIST_CORRUPT (0x07, PFN, share count, 0)
 *   freeing a page an MDL still locks        PFN_LIST_CORRUPT (0x9A, PFN, state, references)
 *   IoFreeMdl of a locked or mapped MDL      DRIVER_VERIFIER_DETECTED_VIOLATION (0xB8, MDL, flags, 0)
 *   unmapping with the wrong address         SYSTEM_PTE_MISUSE (0x03, MDL, expected, given)
 *   unmapping an MDL that is not mapped      SYSTEM_PTE_MISUSE (0x06, MDL, address, pages)
 *   MmFreeMappingAddress still mapped        SYSTEM_PTE_MISUSE (0x103, address, tag, MDL)
 *   ... or with the wrong tag                SYSTEM_PTE_MISUSE (0x101, address, tag, its tag)
 *   mapping a reservation with a wrong tag   SYSTEM_PTE_MISUSE (0x104, address, tag, its tag)
 *   a failed mapping with BugCheckOnFailure  NO_MORE_SYSTEM_PTES (0, pages, free, total)
 *   a raise nobody catches                   KMODE_EXCEPTION_NOT_HANDLED (status, address, 0, 0)
 */
#include "../../kernel/io/io.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define TAG 'gbdM'

static PMDL LockedMdl(PUCHAR *Buffer)
{
    PMDL mdl;

    *Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, TAG);
    if (*Buffer == NULL)
        return NULL;
    mdl = IoAllocateMdl(*Buffer + 0x10, PAGE_SIZE, FALSE, FALSE, NULL);
    if (mdl != NULL)
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    return mdl;
}

KTEST_BUGCHECK(mdl_bugcheck, unlock_twice, PFN_LIST_CORRUPT)
{
    PUCHAR buf;
    PMDL mdl = LockedMdl(&buf);
    PFN_NUMBER page;

    KASSERT_NE(mdl, NULL);
    page = MmGetMdlPfnArray(mdl)[0];
    MmUnlockPages(mdl);
    KtestExpectBugCheck(PFN_LIST_CORRUPT, 0x07, page, 1, 0);
    MmUnlockPages(mdl);
}

KTEST_BUGCHECK(mdl_bugcheck, free_locked_page, PFN_LIST_CORRUPT)
{
    PHYSICAL_ADDRESS high = {.QuadPart = -1};
    PUCHAR p = MmAllocateContiguousMemory(PAGE_SIZE, high);
    PMDL mdl;

    KASSERT_NE(p, NULL);
    mdl = IoAllocateMdl(p, 64, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    KtestExpectBugCheck(PFN_LIST_CORRUPT, 0x9A, MmGetMdlPfnArray(mdl)[0], ActiveAndValid, 2);
    MmFreeContiguousMemory(p);          /* a device may still be writing it */
}

KTEST_BUGCHECK(mdl_bugcheck, iofreemdl_locked, DRIVER_VERIFIER_DETECTED_VIOLATION)
{
    PUCHAR buf;
    PMDL mdl = LockedMdl(&buf);

    KASSERT_NE(mdl, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB8, (ULONG64)mdl,
                        MDL_ALLOCATED_FIXED_SIZE | MDL_PAGES_LOCKED, 0);
    IoFreeMdl(mdl);
}

KTEST_BUGCHECK(mdl_bugcheck, iofreemdl_mapped, DRIVER_VERIFIER_DETECTED_VIOLATION)
{
    PHYSICAL_ADDRESS lo = {.QuadPart = 0}, hi = {.QuadPart = -1};
    PMDL mdl = MmAllocatePagesForMdl(lo, hi, lo, PAGE_SIZE);

    KASSERT_NE(mdl, NULL);
    KASSERT_NE(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xB8, (ULONG64)mdl,
                        MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA, 0);
    IoFreeMdl(mdl);
}

KTEST_BUGCHECK(mdl_bugcheck, unmap_wrong_address, SYSTEM_PTE_MISUSE)
{
    PUCHAR buf;
    PMDL mdl = LockedMdl(&buf);
    PUCHAR va;

    KASSERT_NE(mdl, NULL);
    va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    KASSERT_NE(va, NULL);
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x03, (ULONG64)mdl, (ULONG64)va, (ULONG64)(va + 1));
    MmUnmapLockedPages(va + 1, mdl);
}

KTEST_BUGCHECK(mdl_bugcheck, unmap_not_mapped, SYSTEM_PTE_MISUSE)
{
    PUCHAR buf;
    PMDL mdl = LockedMdl(&buf);
    PUCHAR va;

    KASSERT_NE(mdl, NULL);
    va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    KASSERT_NE(va, NULL);
    MmUnmapLockedPages(va, mdl);
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x06, (ULONG64)mdl, (ULONG64)va, 2);
    MmUnmapLockedPages(va, mdl);        /* the second unmap */
}

static PVOID MappedReservation(PMDL *Mdl)
{
    PUCHAR buf;
    PVOID base = MmAllocateMappingAddress(2 * PAGE_SIZE, 'tseR');

    *Mdl = LockedMdl(&buf);
    if (base == NULL || *Mdl == NULL ||
        MmMapLockedPagesWithReservedMapping(base, 'tseR', *Mdl, MmCached) == NULL)
        return NULL;
    return base;
}

KTEST_BUGCHECK(mdl_bugcheck, free_mapping_address_while_mapped, SYSTEM_PTE_MISUSE)
{
    PMDL mdl;
    PVOID base = MappedReservation(&mdl);

    KASSERT_NE(base, NULL);
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x103, (ULONG64)base, 'tseR', (ULONG64)mdl);
    MmFreeMappingAddress(base, 'tseR');
}

KTEST_BUGCHECK(mdl_bugcheck, free_mapping_address_wrong_tag, SYSTEM_PTE_MISUSE)
{
    PVOID base = MmAllocateMappingAddress(PAGE_SIZE, 'tseR');

    KASSERT_NE(base, NULL);
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x101, (ULONG64)base, 'gnrW', 'tseR');
    MmFreeMappingAddress(base, 'gnrW');
}

KTEST_BUGCHECK(mdl_bugcheck, map_reserved_wrong_tag, SYSTEM_PTE_MISUSE)
{
    PUCHAR buf;
    PMDL mdl = LockedMdl(&buf);
    PVOID base = MmAllocateMappingAddress(2 * PAGE_SIZE, 'tseR');

    KASSERT_TRUE(mdl != NULL && base != NULL);
    KtestExpectBugCheck(SYSTEM_PTE_MISUSE, 0x104, (ULONG64)base, 'gnrW', 'tseR');
    MmMapLockedPagesWithReservedMapping(base, 'gnrW', mdl, MmCached);
}

KTEST_BUGCHECK(mdl_bugcheck, map_failure_with_bugcheck_on_failure, NO_MORE_SYSTEM_PTES)
{
    PUCHAR buf;
    PMDL mdl = LockedMdl(&buf);
    ULONG chunk = MM_SYSTEM_PTE_PAGES;

    KASSERT_NE(mdl, NULL);
    /* Every system PTE taken (largest runs first): even HighPagePriority
     * cannot map. */
    while (chunk != 0)
        if (MiReserveSystemPtes(chunk, SystemPteSpace) == NULL)
            chunk /= 2;
    KASSERT_EQ(MiFreeSystemPteCount(), 0);
    KtestExpectBugCheck(NO_MORE_SYSTEM_PTES, 0, 2, 0, MM_SYSTEM_PTE_PAGES);
    MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, TRUE, HighPagePriority);
}

KTEST_BUGCHECK(mdl_bugcheck, raise_without_try_is_unhandled, KMODE_EXCEPTION_NOT_HANDLED)
{
    UCHAR local[16] = {0};
    PMDL mdl = IoAllocateMdl(local, sizeof(local), FALSE, FALSE, NULL);

    KASSERT_NE(mdl, NULL);
    /* No __try: as before the stand-in existed, the raise stops the machine. */
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, (ULONG64)(LONG64)STATUS_ACCESS_VIOLATION,
                        KTEST_ANY, 0, 0);
    MmProbeAndLockPages(mdl, UserMode, IoReadAccess);
}

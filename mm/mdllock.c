/*
 * mdllock.c - MmProbeAndLockPages and MmUnlockPages: pinning a buffer's
 * pages for I/O.
 *
 * A page is locked by one more reference in its PFN entry: ReferenceCount
 * counts the reasons a page must stay resident (1 while it is in use at
 * all), and every MDL that locks it adds one, so a page locked by several
 * MDLs stays locked until the last unlock. A page with a lock reference
 * keeps its frame: freeing it is PFN_LIST_CORRUPT (0x9A, pfndb.c), and the
 * pager's trimming passes over pages whose count is above one (pager.c) -
 * that is what makes a locked paged-pool page safe for a device to write.
 *
 * Probing. NT touches each page under __try and lets the fault bring it
 * in. Mica walks the page tables instead, with the PFN lock held, which is
 * what the touch would find out: a page that is mapped is locked at once;
 * a paged-pool page that is committed but not yet touched (or paged out),
 * or a paged-out page of a pageable image section (pagesec.c), is made
 * resident the way its touch would (MiResolvePagedPoolFault) and the walk
 * retried; anything else - a hole, freed pool, a user address (Mica has no
 * user space), a read-only page for a write - raises
 * STATUS_ACCESS_VIOLATION after the pages locked so far are unlocked and
 * the PFN lock is dropped, so a caller's __except finds nothing held.
 */
#include "pool_internal.h"

#define PFN_LIST_CORRUPT_UNLOCK_NOT_LOCKED 0x07
#define MI_MAXIMUM_LOCK_REFERENCES 0xFFFF
#ifndef STATUS_WORKING_SET_QUOTA
#define STATUS_WORKING_SET_QUOTA ((NTSTATUS)0xC00000A1L)
#endif
/* DRIVER_VERIFIER_DETECTED_VIOLATION 0xB0: MmProbeAndLockPages given an
 * MDL that is already locked, built for nonpaged pool, or partial. */
#define VERIFIER_PROBE_BAD_MDL 0xB0

VOID MiUnlockPagesLocked(PPFN_NUMBER Pages, PFN_NUMBER Count)
{
    for (PFN_NUMBER i = 0; i < Count; i++) {
        PMMPFN pfn;
        if (!MiIsLockablePage(Pages[i]))
            continue;                   /* device memory: never counted */
        pfn = MI_PFN_ELEMENT(Pages[i]);
        if (pfn->ReferenceCount <= 1)
            KeBugCheckEx(PFN_LIST_CORRUPT, PFN_LIST_CORRUPT_UNLOCK_NOT_LOCKED, Pages[i],
                         pfn->u2.ShareCount, 0);
        pfn->ReferenceCount--;
    }
}

/* Give back what a failed probe locked, then raise (no lock held). */
static __attribute__((noreturn)) void MiProbeFailed(PPFN_NUMBER Pages, PFN_NUMBER Locked,
                                                   KIRQL Irql, NTSTATUS Status)
{
    MiUnlockPagesLocked(Pages, Locked);
    KeReleaseSpinLock(&MmPfnLock, Irql);
    ExRaiseStatus(Status);
}

VOID MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                         LOCK_OPERATION Operation)
{
    PMDL mdl = MemoryDescriptorList;
    PUCHAR start = mdl->StartVa;
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    ULONG64 first = (ULONG64)MmGetMdlVirtualAddress(mdl), end = first + mdl->ByteCount;
    PPFN_NUMBER array = MmGetMdlPfnArray(mdl);
    BOOLEAN write = Operation != IoReadAccess, io = FALSE, writable, pageable = FALSE;
    KIRQL irql = KeGetCurrentIrql();

    /* Nonpaged buffers up to DISPATCH_LEVEL; a pageable one may need a
     * page made resident, which only a thread that can wait may do. */
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmProbeAndLockPages);
    for (PFN_NUMBER i = 0; i < pages && !pageable; i++)
        pageable = MiPoolIndexOfAddress(start + (i << PAGE_SHIFT)) == EXP_PAGED ||
                   MiIsPageableImageAddress(start + (i << PAGE_SHIFT));
    if (pageable)
        KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmProbeAndLockPages);
    if (mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL |
                         MDL_PARTIAL | MDL_IO_SPACE))
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, VERIFIER_PROBE_BAD_MDL, (ULONG_PTR)mdl,
                     (USHORT)mdl->MdlFlags, 0);
    /* A user-mode request must stay in user space (and not wrap); Mica's
     * user space is empty, so the walk below refuses it anyway. */
    if (AccessMode == UserMode && (end > MM_USER_PROBE_ADDRESS || end < first))
        ExRaiseStatus(STATUS_ACCESS_VIOLATION);

    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (PFN_NUMBER i = 0; i < pages;) {
        PUCHAR va = start + (i << PAGE_SHIFT);
        PFN_NUMBER frame = MiFrameOfAddress(va, &writable);

        if (frame == MI_NO_FRAME) {
            /* Committed paged pool not yet touched: bring it in as the
             * touch would, without the lock (the fault takes it), then
             * look again - the page may have changed meanwhile. */
            if ((MiPoolIndexOfAddress(va) == EXP_PAGED && MiIsPoolPageAllocated(EXP_PAGED, va)) ||
                MiIsPageableImageAddress(va)) {     /* a paged-out PAGEDATA page (pagesec.c) */
                KeReleaseSpinLock(&MmPfnLock, irql);
                if (!MiResolvePagedPoolFault(va)) {
                    KeAcquireSpinLock(&MmPfnLock, &irql);
                    MiProbeFailed(array, i, irql, STATUS_ACCESS_VIOLATION);
                }
                KeAcquireSpinLock(&MmPfnLock, &irql);
                continue;
            }
            MiProbeFailed(array, i, irql, STATUS_ACCESS_VIOLATION);
        }
        if (write && !writable)
            MiProbeFailed(array, i, irql, STATUS_ACCESS_VIOLATION);
        if (MiIsLockablePage(frame)) {
            PMMPFN pfn = MI_PFN_ELEMENT(frame);
            if (pfn->ReferenceCount >= MI_MAXIMUM_LOCK_REFERENCES)
                MiProbeFailed(array, i, irql, STATUS_WORKING_SET_QUOTA);
            pfn->ReferenceCount++;
        } else {
            io = TRUE;                  /* no PFN entry to count on: device memory */
        }
        array[i++] = frame;
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    mdl->Process = NULL;                /* a kernel range: no process charged */
    mdl->MdlFlags &= (CSHORT)~MDL_WRITE_OPERATION;
    mdl->MdlFlags |= MDL_PAGES_LOCKED | (write ? MDL_WRITE_OPERATION : 0) | (io ? MDL_IO_SPACE : 0);
}

VOID MmUnlockPages(PMDL MemoryDescriptorList)
{
    PMDL mdl = MemoryDescriptorList;
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    PPFN_NUMBER array = MmGetMdlPfnArray(mdl);
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmUnlockPages);
    /* Only what MmProbeAndLockPages locked can be unlocked: not an MDL
     * unlocked already, built for nonpaged pool, or partial. The first
     * page is the one NT's check would stop on. */
    if (!(mdl->MdlFlags & MDL_PAGES_LOCKED) ||
        (mdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL))) {
        PFN_NUMBER page = pages != 0 ? array[0] : 0;
        KeBugCheckEx(PFN_LIST_CORRUPT, PFN_LIST_CORRUPT_UNLOCK_NOT_LOCKED, page,
                     pages != 0 && MiIsLockablePage(page) ? MI_PFN_ELEMENT(page)->u2.ShareCount : 0, 0);
    }
    /* The system mapping goes first (Learn: MmUnlockPages releases it). */
    if (mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA)
        MmUnmapLockedPages(mdl->MappedSystemVa, mdl);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiUnlockPagesLocked(array, pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
    mdl->MdlFlags &= (CSHORT)~(MDL_PAGES_LOCKED | MDL_IO_SPACE | MDL_WRITE_OPERATION);
}

/*
 * commit.c - the commit charge: how many pages Mica has promised, against
 * how many it can keep that promise with.
 *
 * Paged pool is allocated as addresses only; its pages come on first touch
 * (a demand-zero fault, poolpage.c). Nothing may then be left to fault
 * them in with: as NT, Mica charges "commit" when it promises a page and
 * refuses a promise it could not keep, so the fault never runs out.
 *
 *   MmTotalCommitLimit     pages that can be promised: the pages available
 *                          when Mm starts counting (phase 0, right after the
 *                          PFN database), plus the page file's slots
 *                          once one is found (pagefile.c, phase 2).
 *   MmTotalCommittedPages  pages promised now:
 *     - pageable memory (paged pool), in full, when its addresses are
 *       allocated, before any page exists (MiChargeCommitment); returned
 *       when it is freed (MiReturnCommitment);
 *     - every other page Mica holds, from the moment it takes the page off
 *       an available list (nonpaged and special pool, contiguous memory,
 *       kernel stacks, page tables, MDL pages: pfndb.c counts one page each
 *       time MmAvailablePages goes down and gives it back when it goes up).
 *       Those pages are resident and unpageable: they are kept promises.
 *
 * Nonpaged allocations therefore compete with paged pool for the same
 * limit, as in NT (its nonpaged pool charges commit too): once paged pool
 * has committed pages, taking a resident page is refused (NULL from the
 * allocator, pfndb.c's take routines say no) rather than take a page that
 * paged pool was promised. The invariant this keeps, since the resident
 * part of the charge is exactly the pages that left the available lists:
 *
 *   committed <= limit   <=>   promised-but-untouched pages <= MmAvailablePages
 *
 * A demand-zero fault turns one promise into one page: it returns one page
 * of commit and takes the page in the same MmPfnLock hold, so the take
 * cannot be refused while the invariant holds (poolpage.c).
 *
 * Everything here changes under MmPfnLock, the lock that already guards
 * MmAvailablePages: the two counts move together, on any processor.
 */
#include "mm_internal.h"

/* MmTotalCommittedPages and MmTotalCommitLimit live in pfndb.c, next to
 * MmAvailablePages (the host tests build pfndb.c alone). */

VOID MiInitializeCommitment(VOID)
{
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    /* Pages taken before now (the kernel, the boot allocator's tables, the
     * PFN database) are in neither number. */
    MmTotalCommittedPages = 0;
    MmTotalCommitLimit = MmAvailablePages;
    KeReleaseSpinLock(&MmPfnLock, irql);
    DbgPrint("Mm: commit limit %llu pages (%llu MiB): the available RAM; no page file\n",
             (ULONG64)MmTotalCommitLimit, (ULONG64)(MmTotalCommitLimit >> 8));
}

BOOLEAN MiChargeCommitmentLocked(PFN_NUMBER Pages)
{
    if (!MiCommitmentAvailable(Pages))
        return FALSE;
    MmTotalCommittedPages += Pages;
    return TRUE;
}

VOID MiReturnCommitmentLocked(PFN_NUMBER Pages)
{
    MmTotalCommittedPages -= Pages;
}

BOOLEAN MiChargeCommitment(PFN_NUMBER Pages)
{
    BOOLEAN charged;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    charged = MiChargeCommitmentLocked(Pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
    return charged;
}

VOID MiReturnCommitment(PFN_NUMBER Pages)
{
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiReturnCommitmentLocked(Pages);
    KeReleaseSpinLock(&MmPfnLock, irql);
}

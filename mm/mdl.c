/*
 * mdl.c - describing a buffer by its pages: MmBuildMdlForNonPagedPool and
 * MmAdvanceMdl, and the page-table lookups the other MDL files share.
 *
 * An MDL (mm.h) is a header and one PFN per page the buffer spans. Who
 * fills the PFN array decides what the MDL promises:
 *   MmBuildMdlForNonPagedPool   memory that is resident by construction
 *                               (nonpaged pool, contiguous memory, I/O
 *                               space): nothing is locked, nothing to undo;
 *   MmProbeAndLockPages         any kernel buffer, paged pool included: each
 *                               page gets a lock reference (mdllock.c);
 *   MmAllocatePagesForMdl(Ex)   pages that belong to the MDL (mdlpages.c).
 * Device memory (MmMapIoSpace of a BAR) has no PFN database entry: its
 * frames go into the array all the same and the MDL says MDL_IO_SPACE.
 */
#include "mm_internal.h"

#define MEMORY_MANAGEMENT_MDL_OVER_NONRESIDENT 0x1240

PFN_NUMBER MiFrameOfAddress(PVOID Va, BOOLEAN *Writable)
{
    ULONG level;
    PMMPTE e = MiWalkToPte(Va, &level);
    ULONG64 span;

    if (e == NULL)
        return MI_NO_FRAME;
    *Writable = (e->Long & MM_PTE_WRITE) != 0;
    /* A large page maps 2 MiB (level 2) or 1 GiB (level 3): the frame is
     * the entry's plus the page's index inside it. */
    span = 1ULL << (PAGE_SHIFT + 9 * (level - 1));
    return (((e->Long & MM_PTE_FRAME_MASK) & ~(span - 1)) + ((ULONG64)Va & (span - 1))) >>
           PAGE_SHIFT;
}

BOOLEAN MiIsLockablePage(PFN_NUMBER Page)
{
    return Page <= MmHighestPhysicalPage && MiIsPfnRam(Page) &&
           MI_PFN_ELEMENT(Page)->PageLocation == ActiveAndValid;
}

/* The mdl lab's stand-in (tests/labs/mdl.md): the frames one
 * MmGetPhysicalAddress at a time, no check for holes or device memory. */
static __attribute__((unused)) void MiBuildMdlLabFallback(PMDL Mdl)
{
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), Mdl->ByteCount);

    for (PFN_NUMBER i = 0; i < pages; i++)
        MmGetMdlPfnArray(Mdl)[i] =
            (PFN_NUMBER)(MmGetPhysicalAddress((PUCHAR)Mdl->StartVa + (i << PAGE_SHIFT)).QuadPart >> PAGE_SHIFT);
    Mdl->Process = NULL;
    Mdl->MappedSystemVa = MmGetMdlVirtualAddress(Mdl);
    Mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
}

VOID MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList)
{
    PMDL mdl = MemoryDescriptorList;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmBuildMdlForNonPagedPool);
    /* LAB mdl: BEGIN - one frame per page the buffer spans, from the page tables (MiFrameOfAddress) under MmPfnLock; a hole is 0x1A/0x1240; frames outside RAM make it MDL_IO_SPACE; then Process, MappedSystemVa and MDL_SOURCE_IS_NONPAGED_POOL */
    PUCHAR va = mdl->StartVa;
    PFN_NUMBER pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
    PPFN_NUMBER array = MmGetMdlPfnArray(mdl);
    BOOLEAN io = FALSE, writable;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    for (PFN_NUMBER i = 0; i < pages; i++) {
        PFN_NUMBER frame = MiFrameOfAddress(va + (i << PAGE_SHIFT), &writable);
        /* Nonpaged memory is mapped, always: a hole is the caller's bug
         * (paged pool not yet touched, freed memory), NT's 0x1A/0x1240. */
        if (frame == MI_NO_FRAME) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            KeBugCheckEx(MEMORY_MANAGEMENT, MEMORY_MANAGEMENT_MDL_OVER_NONRESIDENT, (ULONG_PTR)mdl,
                         (ULONG_PTR)MiGetPteAddress(va + (i << PAGE_SHIFT)), 0);
        }
        array[i] = frame;
        if (frame > MmHighestPhysicalPage || !MiIsPfnRam(frame))
            io = TRUE;
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
    mdl->Process = NULL;
    mdl->MappedSystemVa = MmGetMdlVirtualAddress(mdl);
    mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL | (io ? MDL_IO_SPACE : 0);
    /* LAB mdl: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(mdl);
    MiBuildMdlLabFallback(mdl);
#endif
    /* LAB mdl: END */
}

/*
 * The start moves forward, the end stays. The pages left behind are
 * unlocked now if MmProbeAndLockPages locked them, and if the MDL has a
 * system mapping of its own their part of it goes too (NT keeps those PTEs
 * and frees them with the rest, MDL_FREE_EXTRA_PTES; Mica gives them back
 * at once, so the mapping is always exactly the MDL's pages).
 */
NTSTATUS MmAdvanceMdl(PMDL Mdl, ULONG NumberOfBytes)
{
    ULONG newOffset;
    PFN_NUMBER passed, pages;
    PPFN_NUMBER array = MmGetMdlPfnArray(Mdl);
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, MmAdvanceMdl);
    if (NumberOfBytes >= Mdl->ByteCount)
        return STATUS_INVALID_PARAMETER_2;
    pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), Mdl->ByteCount);
    newOffset = Mdl->ByteOffset + NumberOfBytes;
    passed = newOffset >> PAGE_SHIFT;
    if (passed != 0) {
        KeAcquireSpinLock(&MmPfnLock, &irql);
        /* Probed pages carry a lock reference; pages the MDL merely
         * describes (nonpaged pool, a partial MDL's) or owns do not. */
        if ((Mdl->MdlFlags & MDL_PAGES_LOCKED) &&
            !(Mdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL))) {
            for (PFN_NUMBER i = 0; i < passed; i++)
                if (MiIsLockablePage(array[i]) && MI_PFN_ELEMENT(array[i])->ReferenceCount > 1)
                    MiUnlockPagesLocked(&array[i], 1);
        }
        if ((Mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) &&
            (!(Mdl->MdlFlags & MDL_PARTIAL) || (Mdl->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED)) &&
            !(Mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL))
            MiUnmapMdlPagesLocked(PAGE_ALIGN(Mdl->MappedSystemVa), passed, TRUE);
        KeReleaseSpinLock(&MmPfnLock, irql);
        for (PFN_NUMBER i = passed; i < pages; i++)
            array[i - passed] = array[i];
    }
    Mdl->StartVa = (PUCHAR)Mdl->StartVa + (passed << PAGE_SHIFT);
    Mdl->ByteOffset = newOffset & (PAGE_SIZE - 1);
    Mdl->ByteCount -= NumberOfBytes;
    if (Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
        Mdl->MappedSystemVa = (PUCHAR)Mdl->MappedSystemVa + NumberOfBytes;
    return STATUS_SUCCESS;
}

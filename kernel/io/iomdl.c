/*
 * iomdl.c - the I/O manager's MDL routines: IoAllocateMdl, IoFreeMdl,
 * IoBuildPartialMdl.
 *
 * IoAllocateMdl only allocates and initializes (MmInitializeMdl): the PFN
 * array means nothing until MmBuildMdlForNonPagedPool or MmProbeAndLockPages
 * fills it. As NT does, an MDL for a buffer of up to
 * IOP_FIXED_SIZE_MDL_PFNS pages is allocated at that fixed size and marked
 * MDL_ALLOCATED_FIXED_SIZE, so it can be reused (MmPrepareMdlForReuse,
 * MmInitializeMdl) for any buffer that small; NT serves those from a
 * lookaside list, Mica from nonpaged pool, whose per-processor lookasides
 * do the same work. An IRP's buffers hang off Irp->MdlAddress, one MDL
 * each, chained through Next.
 */
#include "io.h"

#define IOP_FIXED_SIZE_MDL_PFNS 23      /* NT's: 0x30 + 23 x 8 = 0xE8 bytes */
#define IOP_MDL_TAG 'Mdl '              /* NT's TAG_MDL, as PoolMon shows it */
#define IOP_MAXIMUM_MDL_LENGTH (0xFFFFFFFFULL + 1 - PAGE_SIZE)  /* Windows 7 and later */
/* DRIVER_VERIFIER_DETECTED_VIOLATION parameter 1: IoFreeMdl of an MDL that
 * is still mapped (NT's 0xB8); Mica reports an MDL still locked the same way. */
#define VERIFIER_FREE_MAPPED_MDL 0xB8

PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
                   BOOLEAN ChargeQuota, PIRP Irp)
{
    ULONG_PTR pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(VirtualAddress, Length);
    SIZE_T size = sizeof(MDL) + sizeof(PFN_NUMBER) * (pages > IOP_FIXED_SIZE_MDL_PFNS
                                                          ? pages : IOP_FIXED_SIZE_MDL_PFNS);
    PMDL mdl;

    UNREFERENCED_PARAMETER(ChargeQuota);    /* reserved: drivers pass FALSE */
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoAllocateMdl);
    if ((ULONG64)Length > IOP_MAXIMUM_MDL_LENGTH)
        return NULL;
    mdl = ExAllocatePoolWithTag(NonPagedPoolNx, size, IOP_MDL_TAG);
    if (mdl == NULL)
        return NULL;
    /* Size is a CSHORT, as in NT: an MDL past about 4,000 pages does not
     * fit it, and nothing in Mica reads it back. */
    MmInitializeMdl(mdl, VirtualAddress, Length);
    if (pages <= IOP_FIXED_SIZE_MDL_PFNS)
        mdl->MdlFlags |= MDL_ALLOCATED_FIXED_SIZE;
    if (Irp != NULL) {
        if (!SecondaryBuffer) {
            Irp->MdlAddress = mdl;      /* the primary buffer (replaces any) */
        } else {
            PMDL last = Irp->MdlAddress;
            /* Learn: a secondary buffer goes at the end of the chain. */
            if (last == NULL) {
                Irp->MdlAddress = mdl;
            } else {
                while (last->Next != NULL)
                    last = last->Next;
                last->Next = mdl;
            }
        }
    }
    return mdl;
}

VOID IoFreeMdl(PMDL Mdl)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoFreeMdl);
    /* A partial MDL's own mapping is IoFreeMdl's to release (Learn). */
    MmPrepareMdlForReuse(Mdl);
    /* What the caller still had to undo: MmUnlockPages for locked pages
     * (it also drops their mapping), MmUnmapLockedPages for a mapping of
     * allocated pages. A partial MDL holds no locks and shares its
     * source's mapping; a nonpaged-pool MDL's address is the buffer's. */
    if (!(Mdl->MdlFlags & MDL_PARTIAL) &&
        ((Mdl->MdlFlags & MDL_PAGES_LOCKED) ||
         ((Mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA) &&
          !(Mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL))))
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, VERIFIER_FREE_MAPPED_MDL, (ULONG_PTR)Mdl,
                     (USHORT)Mdl->MdlFlags, 0);
    ExFreePoolWithTag(Mdl, IOP_MDL_TAG);
}

VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoBuildPartialMdl);
    /* LAB mdl: BEGIN - the target describes [VirtualAddress, +Length) of the source (0: to its end): its frames copied from the source's array, the flags and the system address it inherits, MDL_PARTIAL */
    ULONG_PTR offset = (PUCHAR)VirtualAddress - (PUCHAR)MmGetMdlVirtualAddress(SourceMdl);
    ULONG_PTR firstPage = ((PUCHAR)PAGE_ALIGN(VirtualAddress) - (PUCHAR)SourceMdl->StartVa) >> PAGE_SHIFT;
    PPFN_NUMBER from = MmGetMdlPfnArray(SourceMdl) + firstPage, to = MmGetMdlPfnArray(TargetMdl);
    ULONG_PTR pages;

    if (Length == 0)
        Length = (ULONG)(SourceMdl->ByteCount - offset);
    pages = ADDRESS_AND_SIZE_TO_SPAN_PAGES(VirtualAddress, Length);
    /* As NT: no checks (the caller guarantees the range is inside the
     * source and the target big enough). The target keeps only how it
     * was allocated, inherits what the pages are and whether they are
     * mapped, and becomes partial. */
    TargetMdl->MdlFlags = (CSHORT)((TargetMdl->MdlFlags &
                                    (MDL_ALLOCATED_FIXED_SIZE | MDL_PAGE_CONTENTS_INVARIANT)) |
                                   (SourceMdl->MdlFlags &
                                    (MDL_IO_PAGE_READ | MDL_SOURCE_IS_NONPAGED_POOL |
                                     MDL_MAPPED_TO_SYSTEM_VA | MDL_IO_SPACE)) |
                                   MDL_PARTIAL);
    TargetMdl->Process = SourceMdl->Process;
    TargetMdl->StartVa = PAGE_ALIGN(VirtualAddress);
    TargetMdl->ByteOffset = BYTE_OFFSET(VirtualAddress);
    TargetMdl->ByteCount = Length;
    TargetMdl->MappedSystemVa = (PUCHAR)SourceMdl->MappedSystemVa + offset;
    for (ULONG_PTR i = 0; i < pages; i++)
        to[i] = from[i];
    /* LAB mdl: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(mdl);
    /* Nothing the boot runs builds a partial MDL: no stand-in, an empty one. */
    UNREFERENCED_PARAMETER(SourceMdl);
    UNREFERENCED_PARAMETER(VirtualAddress);
    UNREFERENCED_PARAMETER(Length);
    TargetMdl->ByteCount = 0;
#endif
    /* LAB mdl: END */
}

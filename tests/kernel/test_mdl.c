/*
 * test_mdl.c - the MDL routines a driver meets first, against their
 * contracts: IoAllocateMdl (and an IRP's MDL chain), MmBuildMdlForNonPagedPool,
 * MmProbeAndLockPages / MmUnlockPages, MmGetSystemAddressForMdlSafe /
 * MmMapLockedPagesSpecifyCache / MmUnmapLockedPages, IoBuildPartialMdl,
 * MmAdvanceMdl, IoFreeMdl. Buffers span pages and start at odd offsets.
 */
#include "../../kernel/io/io.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define TAG 'tldM'

static PUCHAR Pool(SIZE_T Bytes, POOL_TYPE Type)
{
    return ExAllocatePoolWithTag(Type, Bytes, TAG);
}

/* The physical page behind Va, through the page tables. */
static PFN_NUMBER PfnOf(PVOID Va)
{
    return (ULONG64)MmGetPhysicalAddress(Va).QuadPart >> PAGE_SHIFT;
}

KTEST(mdl, allocate_initializes_header)
{
    PUCHAR buf = Pool(3 * PAGE_SIZE, NonPagedPoolNx);
    PUCHAR va = buf + 0x123;
    PMDL mdl;

    KASSERT_NE(buf, NULL);
    mdl = IoAllocateMdl(va, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(mdl->Next, NULL);
    KEXPECT_EQ(MmGetMdlVirtualAddress(mdl), va);
    KEXPECT_EQ(MmGetMdlBaseVa(mdl), PAGE_ALIGN(va));
    KEXPECT_EQ(MmGetMdlByteOffset(mdl), 0x123);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 2 * PAGE_SIZE);
    /* 0x123 + 8 KiB spans three pages. */
    KEXPECT_EQ(mdl->Size, sizeof(MDL) + 3 * sizeof(PFN_NUMBER));
    KEXPECT_EQ(mdl->Size, MmSizeOfMdl(va, 2 * PAGE_SIZE));
    KEXPECT_EQ(mdl->MdlFlags, MDL_ALLOCATED_FIXED_SIZE);
    IoFreeMdl(mdl);
    /* Past 23 pages the MDL is sized for the buffer, not fixed. */
    mdl = IoAllocateMdl(buf, 64 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(mdl->MdlFlags & MDL_ALLOCATED_FIXED_SIZE, 0);
    IoFreeMdl(mdl);
    /* Windows 7's limit: 4 GiB - PAGE_SIZE. */
    KEXPECT_EQ(IoAllocateMdl(buf, 0xFFFFF001u, FALSE, FALSE, NULL), NULL);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, allocate_chains_on_irp)
{
    IRP irp;
    PUCHAR buf = Pool(PAGE_SIZE, NonPagedPoolNx);
    PMDL a, b, c;

    KASSERT_NE(buf, NULL);
    memset(&irp, 0, sizeof(irp));
    a = IoAllocateMdl(buf, 16, FALSE, FALSE, &irp);
    KEXPECT_EQ(irp.MdlAddress, a);
    b = IoAllocateMdl(buf + 16, 16, TRUE, FALSE, &irp);
    c = IoAllocateMdl(buf + 32, 16, TRUE, FALSE, &irp);
    KEXPECT_EQ(irp.MdlAddress, a);
    KEXPECT_EQ(a->Next, b);
    KEXPECT_EQ(b->Next, c);
    KEXPECT_EQ(c->Next, NULL);
    /* IoFreeMdl frees one MDL, not the chain. */
    IoFreeMdl(c);
    IoFreeMdl(b);
    IoFreeMdl(a);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, build_for_nonpaged_pool)
{
    PUCHAR buf = Pool(5 * PAGE_SIZE, NonPagedPoolNx);
    PUCHAR va = buf + 0xFFF;
    PMDL mdl;

    KASSERT_NE(buf, NULL);
    mdl = IoAllocateMdl(va, 3 * PAGE_SIZE + 2, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    KEXPECT_EQ(mdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_IO_SPACE | MDL_PAGES_LOCKED),
               MDL_SOURCE_IS_NONPAGED_POOL);
    KEXPECT_EQ(mdl->MappedSystemVa, va);
    for (ULONG i = 0; i < 5; i++)
        KEXPECT_EQ(MmGetMdlPfnArray(mdl)[i], PfnOf(PAGE_ALIGN(va) + i * PAGE_SIZE));
    /* The buffer's own address: no mapping is made. */
    KEXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute), va);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, build_over_io_space_marks_io)
{
    /* The local APIC's page: device memory, no PFN entry. */
    PHYSICAL_ADDRESS pa = {.QuadPart = 0xFEE00000};
    PUCHAR regs = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
    PMDL mdl;

    KASSERT_NE(regs, NULL);
    mdl = IoAllocateMdl(regs + 0x20, 4, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmBuildMdlForNonPagedPool(mdl);
    KEXPECT_TRUE(mdl->MdlFlags & MDL_IO_SPACE);
    KEXPECT_EQ(MmGetMdlPfnArray(mdl)[0], 0xFEE00);
    IoFreeMdl(mdl);
    MmUnmapIoSpace(regs, PAGE_SIZE);
}

KTEST(mdl, probe_lock_map_unlock_nonpaged)
{
    PUCHAR buf = Pool(4 * PAGE_SIZE, NonPagedPoolNx);
    PUCHAR va = buf + 0x801;
    PMDL mdl;
    PUCHAR sys;
    USHORT refs;

    KASSERT_NE(buf, NULL);
    for (ULONG i = 0; i < 3 * PAGE_SIZE; i++)
        va[i] = (UCHAR)(i * 7);
    mdl = IoAllocateMdl(va, 3 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    refs = MI_PFN_ELEMENT(PfnOf(va))->ReferenceCount;
    MmProbeAndLockPages(mdl, KernelMode, IoModifyAccess);
    KEXPECT_EQ(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_WRITE_OPERATION),
               MDL_PAGES_LOCKED | MDL_WRITE_OPERATION);
    KEXPECT_EQ(MI_PFN_ELEMENT(PfnOf(va))->ReferenceCount, refs + 1);
    for (ULONG i = 0; i < 4; i++)
        KEXPECT_EQ(MmGetMdlPfnArray(mdl)[i], PfnOf(PAGE_ALIGN(va) + i * PAGE_SIZE));
    sys = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
    KASSERT_NE(sys, NULL);
    KEXPECT_NE(sys, va);                        /* a second view, in system PTEs */
    KEXPECT_EQ(BYTE_OFFSET(sys), 0x801);
    KEXPECT_TRUE(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA);
    KEXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), sys);   /* the same one */
    for (ULONG i = 0; i < 3 * PAGE_SIZE; i += 511)
        KEXPECT_EQ(sys[i], (UCHAR)(i * 7));
    sys[5] = 0xA5;                              /* writes reach the buffer */
    KEXPECT_EQ(va[5], 0xA5);
    MmUnlockPages(mdl);                         /* the mapping goes with it */
    KEXPECT_EQ(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA), 0);
    KEXPECT_FALSE(MmIsAddressValid(sys));
    KEXPECT_EQ(MI_PFN_ELEMENT(PfnOf(va))->ReferenceCount, refs);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, map_specify_cache_and_unmap)
{
    PUCHAR buf = Pool(2 * PAGE_SIZE, NonPagedPoolNx);
    PMDL mdl;
    PUCHAR sys;
    PMMPTE pte;

    KASSERT_NE(buf, NULL);
    mdl = IoAllocateMdl(buf + 8, PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    KEXPECT_EQ(mdl->MdlFlags & MDL_WRITE_OPERATION, 0);
    sys = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE,
                                       NormalPagePriority | MdlMappingNoWrite | MdlMappingNoExecute);
    KASSERT_NE(sys, NULL);
    KEXPECT_EQ(mdl->MappedSystemVa, sys);
    pte = MiGetPteAddress(sys);
    KEXPECT_EQ(pte->Long & MM_PTE_WRITE, 0);
    KEXPECT_NE(pte->Long & MM_PTE_NO_EXECUTE, 0);
    KEXPECT_EQ(MI_PTE_FRAME(*pte), PfnOf(buf));
    MmUnmapLockedPages(sys, mdl);
    KEXPECT_EQ(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA, 0);
    KEXPECT_FALSE(MmIsAddressValid(sys));
    /* Writable and executable unless asked otherwise. */
    sys = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, HighPagePriority);
    KASSERT_NE(sys, NULL);
    KEXPECT_NE(MiGetPteAddress(sys)->Long & MM_PTE_WRITE, 0);
    KEXPECT_EQ(MiGetPteAddress(sys)->Long & MM_PTE_NO_EXECUTE, 0);
    MmUnmapLockedPages(sys, mdl);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, two_mdls_lock_one_page)
{
    PUCHAR buf = Pool(PAGE_SIZE, NonPagedPoolNx);
    PMDL a, b;
    PMMPFN pfn;
    USHORT refs;

    KASSERT_NE(buf, NULL);
    pfn = MI_PFN_ELEMENT(PfnOf(buf));
    refs = pfn->ReferenceCount;
    a = IoAllocateMdl(buf, 100, FALSE, FALSE, NULL);
    b = IoAllocateMdl(buf + 200, 100, FALSE, FALSE, NULL);
    KASSERT_TRUE(a != NULL && b != NULL);
    MmProbeAndLockPages(a, KernelMode, IoReadAccess);
    MmProbeAndLockPages(b, KernelMode, IoWriteAccess);
    KEXPECT_EQ(pfn->ReferenceCount, refs + 2);
    MmUnlockPages(a);
    KEXPECT_EQ(pfn->ReferenceCount, refs + 1);  /* still locked by b */
    MmUnlockPages(b);
    KEXPECT_EQ(pfn->ReferenceCount, refs);
    IoFreeMdl(a);
    IoFreeMdl(b);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, partial_mdl_shares_or_makes_mapping)
{
    PUCHAR buf = Pool(8 * PAGE_SIZE, NonPagedPoolNx);
    PMDL src, part;
    PUCHAR sys, psys, inner;

    KASSERT_NE(buf, NULL);
    for (ULONG i = 0; i < 8 * PAGE_SIZE; i++)
        buf[i] = (UCHAR)(i ^ (i >> 8));
    src = IoAllocateMdl(buf + 0x10, 7 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(src, NULL);
    MmProbeAndLockPages(src, KernelMode, IoReadAccess);
    inner = buf + 0x10 + 2 * PAGE_SIZE + 0x300;
    part = IoAllocateMdl(inner, PAGE_SIZE + 5, FALSE, FALSE, NULL);
    KASSERT_NE(part, NULL);

    /* Source not mapped: the partial MDL maps its own pages. */
    IoBuildPartialMdl(src, part, inner, PAGE_SIZE + 5);
    KEXPECT_TRUE(part->MdlFlags & MDL_PARTIAL);
    KEXPECT_EQ(MmGetMdlVirtualAddress(part), inner);
    KEXPECT_EQ(MmGetMdlByteCount(part), PAGE_SIZE + 5);
    KEXPECT_EQ(MmGetMdlPfnArray(part)[0], PfnOf(inner));
    KEXPECT_EQ(MmGetMdlPfnArray(part)[1], PfnOf(inner + PAGE_SIZE));
    psys = MmGetSystemAddressForMdlSafe(part, NormalPagePriority);
    KASSERT_NE(psys, NULL);
    KEXPECT_TRUE(part->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED);
    KEXPECT_EQ(psys[0], inner[0]);
    KEXPECT_EQ(psys[PAGE_SIZE + 4], inner[PAGE_SIZE + 4]);
    MmPrepareMdlForReuse(part);
    KEXPECT_EQ(part->MdlFlags & (MDL_PARTIAL_HAS_BEEN_MAPPED | MDL_MAPPED_TO_SYSTEM_VA), 0);
    KEXPECT_FALSE(MmIsAddressValid(psys));

    /* Source mapped: the partial MDL's address is inside the source's. */
    sys = MmGetSystemAddressForMdlSafe(src, NormalPagePriority);
    KASSERT_NE(sys, NULL);
    IoBuildPartialMdl(src, part, inner, 0);     /* 0: to the end of the source */
    KEXPECT_EQ(MmGetMdlByteCount(part), (ULONG)(buf + 0x10 + 7 * PAGE_SIZE - inner));
    KEXPECT_EQ(MmGetSystemAddressForMdlSafe(part, NormalPagePriority), sys + (inner - (buf + 0x10)));
    KEXPECT_EQ(part->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED, 0);
    IoFreeMdl(part);                            /* shares the mapping: nothing to undo */
    MmUnlockPages(src);
    IoFreeMdl(src);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, partial_mdl_freed_while_mapped_unmaps)
{
    PUCHAR buf = Pool(2 * PAGE_SIZE, NonPagedPoolNx);
    PMDL src, part;
    PUCHAR psys;

    KASSERT_NE(buf, NULL);
    src = IoAllocateMdl(buf, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    part = IoAllocateMdl(buf + PAGE_SIZE, 64, FALSE, FALSE, NULL);
    KASSERT_TRUE(src != NULL && part != NULL);
    MmProbeAndLockPages(src, KernelMode, IoReadAccess);
    IoBuildPartialMdl(src, part, buf + PAGE_SIZE, 64);
    psys = MmGetSystemAddressForMdlSafe(part, NormalPagePriority);
    KASSERT_NE(psys, NULL);
    IoFreeMdl(part);                            /* Learn: IoFreeMdl releases it */
    KEXPECT_FALSE(MmIsAddressValid(psys));
    MmUnlockPages(src);
    IoFreeMdl(src);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, zero_length)
{
    PUCHAR buf = Pool(PAGE_SIZE, NonPagedPoolNx);
    PMDL mdl;

    KASSERT_NE(buf, NULL);
    /* NT's arithmetic: no bytes at a page boundary span no page ... */
    mdl = IoAllocateMdl(buf, 0, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 0);
    KEXPECT_EQ(MmSizeOfMdl(buf, 0), sizeof(MDL));
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    KEXPECT_TRUE(mdl->MdlFlags & MDL_PAGES_LOCKED);
    KEXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), NULL);   /* nothing to map */
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    /* ... and inside a page they span that page (ADDRESS_AND_SIZE_TO_SPAN_PAGES). */
    KEXPECT_EQ(MmSizeOfMdl(buf + 1, 0), sizeof(MDL) + sizeof(PFN_NUMBER));
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl, advance_moves_start_and_unlocks_passed_pages)
{
    PUCHAR buf = Pool(4 * PAGE_SIZE, NonPagedPoolNx);
    PUCHAR va;
    PMDL mdl;
    PUCHAR sys;
    PFN_NUMBER p0, p1, p2;
    USHORT r0;

    KASSERT_NE(buf, NULL);
    va = buf + 0x400;
    for (ULONG i = 0; i < 3 * PAGE_SIZE; i++)
        va[i] = (UCHAR)(i + 3);
    p0 = PfnOf(va);
    p1 = PfnOf(va + PAGE_SIZE);
    p2 = PfnOf(va + 2 * PAGE_SIZE);
    r0 = MI_PFN_ELEMENT(p0)->ReferenceCount;
    mdl = IoAllocateMdl(va, 3 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    sys = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    KASSERT_NE(sys, NULL);
    /* Past the end (or to it): refused. */
    KEXPECT_EQ(MmAdvanceMdl(mdl, 3 * PAGE_SIZE), STATUS_INVALID_PARAMETER_2);
    /* Inside the first page: nothing unlocked. */
    KEXPECT_EQ(MmAdvanceMdl(mdl, 0x100), STATUS_SUCCESS);
    KEXPECT_EQ(MmGetMdlVirtualAddress(mdl), va + 0x100);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 3 * PAGE_SIZE - 0x100);
    KEXPECT_EQ(MI_PFN_ELEMENT(p0)->ReferenceCount, r0 + 1);
    KEXPECT_EQ(((PUCHAR)mdl->MappedSystemVa)[0], va[0x100]);
    /* Into the second page: the first is unlocked and unmapped. */
    KEXPECT_EQ(MmAdvanceMdl(mdl, PAGE_SIZE), STATUS_SUCCESS);
    KEXPECT_EQ(MmGetMdlVirtualAddress(mdl), va + 0x100 + PAGE_SIZE);
    KEXPECT_EQ(MI_PFN_ELEMENT(p0)->ReferenceCount, r0);
    KEXPECT_EQ(MmGetMdlPfnArray(mdl)[0], p1);
    KEXPECT_EQ(MmGetMdlPfnArray(mdl)[1], p2);
    KEXPECT_FALSE(MmIsAddressValid(sys));
    KEXPECT_EQ(((PUCHAR)mdl->MappedSystemVa)[0], va[0x100 + PAGE_SIZE]);
    MmUnlockPages(mdl);
    KEXPECT_EQ(MI_PFN_ELEMENT(p1)->ReferenceCount, r0);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG);
}

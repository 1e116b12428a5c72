/*
 * test_mdlmath.c - the MDL arithmetic a driver relies on (mm.h), checked on
 * the host under ASan/UBSan and in the kernel: span pages, MmSizeOfMdl,
 * MmInitializeMdl and the accessor macros, at page edges and odd offsets.
 */
#include "../../mm/mm.h"
#include "../ktest.h"

KTEST(mdlmath, span_pages_at_the_edges)
{
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0), 0);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1001, 0), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 1), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0x1000), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1000, 0x1001), 2);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1FFF, 2), 2);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1FFF, 1), 1);
    KEXPECT_EQ(ADDRESS_AND_SIZE_TO_SPAN_PAGES(0x1800, 0xFFFFF000ULL), 0x100000);
}

KTEST(mdlmath, size_of_mdl)
{
    KEXPECT_EQ(sizeof(MDL), 0x30);
    KEXPECT_EQ(MmSizeOfMdl((PVOID)0x10000, 0), 0x30);
    KEXPECT_EQ(MmSizeOfMdl((PVOID)0x10123, 0x2000), 0x30 + 3 * 8);
    KEXPECT_EQ(MmSizeOfMdl((PVOID)0x10000, 0x2000), 0x30 + 2 * 8);
}

KTEST(mdlmath, initialize_and_accessors)
{
    ULONG64 storage[(0x30 + 4 * 8) / 8];
    PMDL mdl = (PMDL)storage;
    PVOID va = (PVOID)0xFFFFFA8800012345ULL;

    memset(storage, 0xCC, sizeof(storage));
    MmInitializeMdl(mdl, va, 0x2500);
    KEXPECT_EQ(mdl->Next, NULL);
    KEXPECT_EQ(mdl->MdlFlags, 0);
    KEXPECT_EQ(mdl->Size, 0x30 + 3 * 8);
    KEXPECT_EQ(MmGetMdlBaseVa(mdl), (PVOID)0xFFFFFA8800012000ULL);
    KEXPECT_EQ(MmGetMdlByteOffset(mdl), 0x345);
    KEXPECT_EQ(MmGetMdlByteCount(mdl), 0x2500);
    KEXPECT_EQ(MmGetMdlVirtualAddress(mdl), va);
    KEXPECT_EQ((PUCHAR)MmGetMdlPfnArray(mdl), (PUCHAR)mdl + 0x30);
}

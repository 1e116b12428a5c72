/*
 * lab_mdl.c - the mdl lab's own tests (tests/labs/mdl.md), beside the
 * mdl.* and ahci.* tests its rubric also names:
 *   - the AHCI PRDT built from a scatter/gather list (AhciBuildPrdt in
 *     drivers/ahci/port.c), on lists made up here so that every rule is
 *     met exactly: one entry per element, cut at 4 MiB, 64-bit addresses,
 *     the zero-based byte count;
 *   - MmBuildMdlForNonPagedPool over a page nothing maps: NT's
 *     MEMORY_MANAGEMENT (0x1A) with parameter 1 = 0x1240 (boots alone).
 */
#include "../../drivers/ahci/ahci.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define KLM_TAG 'dMbL'
#define KLM_MIB (1024u * 1024u)

typedef struct {
    SCATTER_GATHER_LIST List;
    SCATTER_GATHER_ELEMENT Room[4];
} KLM_SG;

static VOID KlmElement(KLM_SG *Sg, ULONG64 Address, ULONG Length)
{
    SCATTER_GATHER_ELEMENT *e = &Sg->List.Elements[Sg->List.NumberOfElements++];

    e->Address.QuadPart = (LONGLONG)Address;
    e->Length = Length;
    e->Reserved = 0;
}

/* Does Prd describe [Address, Address + Length)? */
static BOOLEAN KlmPrdIs(const AHCI_PRD *Prd, ULONG64 Address, ULONG Length)
{
    return Prd->Dba == (ULONG)Address && Prd->Dbau == (ULONG)(Address >> 32) && Prd->Reserved == 0 &&
           Prd->Dbc == Length - 1;
}

KTEST(lab_mdl, prdt_one_entry_per_element)
{
    static KLM_SG sg;
    static AHCI_PRD prdt[AHCI_PRDT_ENTRIES];

    RtlZeroMemory(&sg, sizeof(sg));
    RtlFillMemory(prdt, sizeof(prdt), 0xAB);
    KlmElement(&sg, 0x123400, 0x2C00);                  /* three pages: still one entry */
    KlmElement(&sg, 0x80000, 512);
    KlmElement(&sg, 0x7FFFF000, 0x1000);                /* ends at 2 GiB */
    KEXPECT_EQ(AhciBuildPrdt(prdt, &sg.List), 3);
    KEXPECT_TRUE(KlmPrdIs(&prdt[0], 0x123400, 0x2C00));
    KEXPECT_TRUE(KlmPrdIs(&prdt[1], 0x80000, 512));
    KEXPECT_TRUE(KlmPrdIs(&prdt[2], 0x7FFFF000, 0x1000));
    KEXPECT_EQ(prdt[3].Dbc, 0xABABABAB);               /* nothing written past the end */
    sg.List.NumberOfElements = 0;
    KEXPECT_EQ(AhciBuildPrdt(prdt, &sg.List), 0);
}

KTEST(lab_mdl, prdt_cuts_at_4_mib_and_keeps_64_bit_addresses)
{
    static KLM_SG sg;
    static AHCI_PRD prdt[AHCI_PRDT_ENTRIES];

    RtlZeroMemory(&sg, sizeof(sg));
    KlmElement(&sg, 0x100000000ULL, 4 * KLM_MIB);       /* exactly one PRD's worth */
    KlmElement(&sg, 0x2FFFFF000ULL, 9 * KLM_MIB + 6);   /* 4 + 4 + 1 MiB + 6 bytes */
    KlmElement(&sg, 0xFFFFE000ULL, 0x2000);             /* below 4 GiB again */
    KEXPECT_EQ(AhciBuildPrdt(prdt, &sg.List), 5);
    KEXPECT_TRUE(KlmPrdIs(&prdt[0], 0x100000000ULL, 4 * KLM_MIB));
    KEXPECT_TRUE(KlmPrdIs(&prdt[1], 0x2FFFFF000ULL, 4 * KLM_MIB));
    KEXPECT_TRUE(KlmPrdIs(&prdt[2], 0x2FFFFF000ULL + 4 * KLM_MIB, 4 * KLM_MIB));
    KEXPECT_TRUE(KlmPrdIs(&prdt[3], 0x2FFFFF000ULL + 8 * KLM_MIB, KLM_MIB + 6));
    KEXPECT_TRUE(KlmPrdIs(&prdt[4], 0xFFFFE000ULL, 0x2000));
    KEXPECT_EQ(prdt[0].Dbc & (1u << 31), 0);           /* no interrupt per PRD */
}

/* Nonpaged memory is mapped by definition: an MDL over a hole (here a
 * system PTE reserved by MmAllocateMappingAddress, nothing mapped in it)
 * is the caller's bug, caught while the array is filled. */
KTEST_BUGCHECK(lab_mdl_bug, build_over_a_hole, MEMORY_MANAGEMENT)
{
    PUCHAR va = MmAllocateMappingAddress(2 * PAGE_SIZE, KLM_TAG);
    PMDL mdl;

    KASSERT_TRUE(va != NULL);
    mdl = IoAllocateMdl(va + 0x10, PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_TRUE(mdl != NULL);
    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x1240, (ULONG64)mdl, (ULONG64)MiGetPteAddress(va), 0);
    MmBuildMdlForNonPagedPool(mdl);
}

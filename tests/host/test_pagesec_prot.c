/*
 * test_pagesec_prot.c - the protection an invalid PTE carries (mm_internal.h),
 * on the host: pageable code (mm/pagesec.c) must come back from the page
 * file executable and read-only, pageable data and paged pool writable and
 * no-execute, through every format a page passes (valid -> transition ->
 * page file -> transition -> valid).
 */
#include "../ktest.h"
#include "../../mm/mm_internal.h"

#define PP_FRAME 0x1C9ULL
#define PP_SLOT  4242ULL

static const ULONG64 PpCodes[] = {MM_READWRITE, MM_EXECUTE_READ, MM_READONLY};

KTEST(pagesecprot, valid_bits_and_codes_round_trip)
{
    for (ULONG i = 0; i < sizeof(PpCodes) / sizeof(PpCodes[0]); i++) {
        ULONG64 bits = MiValidPteBitsOfProtection(PpCodes[i]);
        KEXPECT_TRUE(bits & MM_PTE_VALID);
        KEXPECT_TRUE(bits & MM_PTE_GLOBAL);
        KEXPECT_EQ(MiProtectionOfValidPte((PP_FRAME << PAGE_SHIFT) | bits), PpCodes[i]);
    }
    /* W^X: code is never writable, data never executable. */
    KEXPECT_EQ(MiValidPteBitsOfProtection(MM_EXECUTE_READ) & (MM_PTE_WRITE | MM_PTE_NO_EXECUTE), 0);
    KEXPECT_EQ(MiValidPteBitsOfProtection(MM_READWRITE) & (MM_PTE_WRITE | MM_PTE_NO_EXECUTE),
               MM_PTE_WRITE | MM_PTE_NO_EXECUTE);
    KEXPECT_EQ(MiValidPteBitsOfProtection(MM_READWRITE), MM_PAGED_POOL_PTE_BITS);
    /* Hardware Accessed/Dirty do not change the code. */
    KEXPECT_EQ(MiProtectionOfValidPte(MiValidPteBitsOfProtection(MM_EXECUTE_READ) | MM_PTE_ACCESSED),
               MM_EXECUTE_READ);
    KEXPECT_EQ(MiProtectionOfValidPte(MM_PAGED_POOL_PTE_BITS | MM_PTE_DIRTY), MM_READWRITE);
}

KTEST(pagesecprot, code_survives_transition_and_page_file_formats)
{
    for (ULONG i = 0; i < sizeof(PpCodes) / sizeof(PpCodes[0]); i++) {
        ULONG64 code = PpCodes[i];
        MMPTE t, f;

        t.Long = MiWithProtection(MiMakeTransitionPte(PP_FRAME), code);
        KEXPECT_TRUE(MiIsTransitionPte(t));
        KEXPECT_FALSE(MiIsPageFilePte(t));
        KEXPECT_EQ(MI_PTE_FRAME(t), PP_FRAME);
        KEXPECT_EQ(MiPteProtection(t.Long), code);
        KEXPECT_EQ(t.Trans.Protection, code);

        f.Long = MiWithProtection(MiMakePageFilePte(0, PP_SLOT), MiPteProtection(t.Long));
        KEXPECT_TRUE(MiIsPageFilePte(f));
        KEXPECT_FALSE(MiIsTransitionPte(f));
        KEXPECT_EQ(f.Soft.PageFileHigh, PP_SLOT);
        KEXPECT_EQ(f.Soft.Protection, code);

        /* Read back in: the transition PTE of the new frame, then valid. */
        t.Long = MiWithProtection(MiMakeTransitionPte(PP_FRAME + 1), MiPteProtection(f.Long));
        KEXPECT_EQ(MiProtectionOfValidPte(MiValidPteBitsOfProtection(MiPteProtection(t.Long))), code);
    }
    /* Paged pool's demand-zero PTE (0x80) names MM_READWRITE. */
    KEXPECT_EQ(MiPteProtection(MM_KERNEL_DEMAND_ZERO_PTE), MM_READWRITE);
    KEXPECT_EQ(MiWithProtection(MiMakeTransitionPte(PP_FRAME), MM_READWRITE), MiMakeTransitionPte(PP_FRAME));
}

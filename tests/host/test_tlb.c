/*
 * test_tlb.c - the TB flush list's batching (mm/tlb.h), on the host: up
 * to MI_TB_FLUSH_MAXIMUM addresses kept in order, one more turns the list
 * into "flush everything" for good, and an emptied list is empty.
 */
#include "../ktest.h"
#include "../../mm/tlb.h"

#define HOST_VA(i) ((PVOID)(0xFFFFF88000000000ULL + ((ULONG64)(i) << 12)))

KTEST(tlbhost, keeps_up_to_the_maximum_in_order)
{
    MI_TB_FLUSH_LIST list;

    MiInitializeTbFlushList(&list);
    KEXPECT_TRUE(MiTbFlushListIsEmpty(&list));
    for (ULONG i = 0; i < MI_TB_FLUSH_MAXIMUM; i++) {
        MiAddTbFlushEntry(&list, HOST_VA(i));
        KEXPECT_EQ(list.Count, i + 1);
    }
    for (ULONG i = 0; i < MI_TB_FLUSH_MAXIMUM; i++)
        KEXPECT_EQ(list.Va[i], HOST_VA(i));
    KEXPECT_FALSE(MiTbFlushListIsEmpty(&list));
}

KTEST(tlbhost, one_past_the_maximum_flushes_everything)
{
    MI_TB_FLUSH_LIST list;

    MiInitializeTbFlushList(&list);
    for (ULONG i = 0; i <= MI_TB_FLUSH_MAXIMUM; i++)
        MiAddTbFlushEntry(&list, HOST_VA(i));
    KEXPECT_EQ(list.Count, MI_TB_FLUSH_ENTIRE);
    /* Stays so however many more come: 64 pages are one full flush. */
    for (ULONG i = 0; i < 64; i++)
        MiAddTbFlushEntry(&list, HOST_VA(100 + i));
    KEXPECT_EQ(list.Count, MI_TB_FLUSH_ENTIRE);
}

KTEST(tlbhost, flush_everything_then_add)
{
    MI_TB_FLUSH_LIST list;

    MiInitializeTbFlushList(&list);
    MiAddTbFlushEverything(&list);
    KEXPECT_FALSE(MiTbFlushListIsEmpty(&list));
    MiAddTbFlushEntry(&list, HOST_VA(0));
    KEXPECT_EQ(list.Count, MI_TB_FLUSH_ENTIRE);
}

KTEST(tlbhost, waiting_pages_make_a_list_not_empty)
{
    MI_TB_FLUSH_LIST list;

    MiInitializeTbFlushList(&list);
    KEXPECT_EQ(list.WaitingPages, MI_TB_NO_PAGE);
    KEXPECT_EQ(list.WaitingZeroedPages, MI_TB_NO_PAGE);
    list.WaitingCount = 1;
    KEXPECT_FALSE(MiTbFlushListIsEmpty(&list));
}

/*
 * test_lookaside_bugcheck.c - lookaside misuse ends in a bug check.
 *
 * A call above the list's IRQL limit (DISPATCH_LEVEL for nonpaged lists,
 * APC_LEVEL for paged ones) is IRQL_NOT_LESS_OR_EQUAL (routine, IRQL, the
 * highest IRQL allowed, caller), as every Mica routine (ke_internal.h). A list head that is not resident
 * nonpaged memory or not 16-byte aligned is BAD_POOL_CALLER (0xA0 or 0xA1,
 * list, initializing routine, caller): the depth scan reads every head at
 * DISPATCH_LEVEL, so a pageable head would fault there much later.
 */
#include "../../mm/mm.h"
#include "../ktest.h"

#define TEST_SIZE 64
#define TEST_TAG 'bskL'
#define MISALIGNMENT 8

KTEST_BUGCHECK(lookaside_bugcheck, npaged_allocate_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static NPAGED_LOOKASIDE_LIST list;
    KIRQL old;

    ExInitializeNPagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, TEST_TAG, 0);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)ExAllocateFromNPagedLookasideList,
                        HIGH_LEVEL, DISPATCH_LEVEL, KTEST_ANY);
    ExAllocateFromNPagedLookasideList(&list);
}

KTEST_BUGCHECK(lookaside_bugcheck, paged_allocate_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static PAGED_LOOKASIDE_LIST list;
    KIRQL old;

    ExInitializePagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, TEST_TAG, 0);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)ExAllocateFromPagedLookasideList,
                        DISPATCH_LEVEL, APC_LEVEL, KTEST_ANY);
    ExAllocateFromPagedLookasideList(&list);
}

KTEST_BUGCHECK(lookaside_bugcheck, paged_free_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static PAGED_LOOKASIDE_LIST list;
    KIRQL old;
    PVOID p;

    ExInitializePagedLookasideList(&list, NULL, NULL, 0, TEST_SIZE, TEST_TAG, 0);
    p = ExAllocateFromPagedLookasideList(&list);
    KASSERT_NE(p, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)ExFreeToPagedLookasideList,
                        DISPATCH_LEVEL, APC_LEVEL, KTEST_ANY);
    ExFreeToPagedLookasideList(&list, p);
}

/* An Ex list's limit follows its pool type. */
KTEST_BUGCHECK(lookaside_bugcheck, ex_paged_allocate_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static LOOKASIDE_LIST_EX list;
    KIRQL old;

    KASSERT_EQ(ExInitializeLookasideListEx(&list, NULL, NULL, PagedPool, 0, TEST_SIZE, TEST_TAG, 0),
               STATUS_SUCCESS);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)ExAllocateFromLookasideListEx,
                        DISPATCH_LEVEL, APC_LEVEL, KTEST_ANY);
    ExAllocateFromLookasideListEx(&list);
}

KTEST_BUGCHECK(lookaside_bugcheck, npaged_head_in_paged_pool, BAD_POOL_CALLER)
{
    PNPAGED_LOOKASIDE_LIST list = ExAllocatePoolWithTag(PagedPool, sizeof(*list), TEST_TAG);

    KASSERT_NE(list, NULL);
    KtestExpectBugCheck(BAD_POOL_CALLER, BAD_POOL_CALLER_LOOKASIDE_NOT_RESIDENT, (ULONG64)list,
                        (ULONG64)ExInitializeNPagedLookasideList, KTEST_ANY);
    ExInitializeNPagedLookasideList(list, NULL, NULL, 0, TEST_SIZE, TEST_TAG, 0);
}

/* Even a paged list's head must be nonpaged. */
KTEST_BUGCHECK(lookaside_bugcheck, paged_head_in_paged_pool, BAD_POOL_CALLER)
{
    PPAGED_LOOKASIDE_LIST list = ExAllocatePoolWithTag(PagedPool, sizeof(*list), TEST_TAG);

    KASSERT_NE(list, NULL);
    KtestExpectBugCheck(BAD_POOL_CALLER, BAD_POOL_CALLER_LOOKASIDE_NOT_RESIDENT, (ULONG64)list,
                        (ULONG64)ExInitializePagedLookasideList, KTEST_ANY);
    ExInitializePagedLookasideList(list, NULL, NULL, 0, TEST_SIZE, TEST_TAG, 0);
}

KTEST_BUGCHECK(lookaside_bugcheck, ex_head_misaligned, BAD_POOL_CALLER)
{
    static UCHAR storage[sizeof(LOOKASIDE_LIST_EX) + MISALIGNMENT] __attribute__((aligned(16)));
    PLOOKASIDE_LIST_EX list = (PLOOKASIDE_LIST_EX)(storage + MISALIGNMENT);

    KtestExpectBugCheck(BAD_POOL_CALLER, BAD_POOL_CALLER_LOOKASIDE_MISALIGNED, (ULONG64)list,
                        (ULONG64)ExInitializeLookasideListEx, KTEST_ANY);
    ExInitializeLookasideListEx(list, NULL, NULL, NonPagedPool, 0, TEST_SIZE, TEST_TAG, 0);
}

/*
 * test_lab.c - LAB_TODO (kernel/ke/lab.c) and the runners' "not implemented"
 * rule (KtestLabTodoCheck), on the host and in the kernel.
 *
 * A stripped lab's stub may sit in a hot path (every PFN list insert), so
 * LAB_TODO must print once per call site yet count every call, and the
 * runners must fail a test during which it ran. The reference tree compiles
 * no stub, so this test calls LAB_TODO itself and then takes its calls back
 * (the count and the failure mark), or the runner would fail it.
 */
#include "../ktest.h"
#include "../../kernel/ke/ke.h"

static void LabTodoTwoSites(int Times)
{
    for (int i = 0; i < Times; i++)
        LAB_TODO(labtest);              /* site 1: one message however often */
    LAB_TODO(labtest);                  /* site 2 */
}

KTEST(lab, todo_prints_once_per_site_and_counts_every_call)
{
    LONG before = KiLabTodoCount, printed = KiLabTodoSitesPrinted;
    int failedBefore, marked;
    BOOLEAN caught;

    LabTodoTwoSites(3);
    KEXPECT_EQ(KiLabTodoCount, before + 4);
    KEXPECT_EQ(KiLabTodoSitesPrinted, printed + 2);
    LabTodoTwoSites(5);                 /* the same two sites: no new message */
    KEXPECT_EQ(KiLabTodoCount, before + 10);
    KEXPECT_EQ(KiLabTodoSitesPrinted, printed + 2);

    /* The runners' rule: the count grew, so the test is marked failed.
     * Then take our own calls back (the count and the mark) before
     * expecting anything, so the expectations below still count. */
    failedBefore = KtestCurrentFailed;
    caught = KtestLabTodoCheck(before);
    marked = KtestCurrentFailed;
    KtestCurrentFailed = failedBefore;
    __atomic_fetch_sub(&KiLabTodoCount, 10, __ATOMIC_SEQ_CST);
    KEXPECT_TRUE(caught);
    KEXPECT_EQ(marked, 1);
    KEXPECT_FALSE(KtestLabTodoCheck(before));
    KEXPECT_EQ(KtestCurrentFailed, failedBefore);
}

/*
 * test_irql_copy.c - KeGetCurrentIrql reads the KPRCB's IRQL, and CR8
 * holds its hardware part (ke_internal.h, KiWriteCr8: the level itself
 * above DISPATCH_LEVEL, 0 at and below it). The two must agree at every
 * level, in a DPC, and after interrupts came and went. KeFlushQueuedDpcs
 * rests on the same drain below DISPATCH_LEVEL, so its tests are here too.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

static volatile KIRQL TicDpcIrql, TicDpcCr8;

static VOID TicDpcRoutine(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    TicDpcIrql = KeGetCurrentIrql();
    TicDpcCr8 = (KIRQL)__readcr8();
}

#define TIC_HW(Irql) ((Irql) > DISPATCH_LEVEL ? (Irql) : PASSIVE_LEVEL)

KTEST(irql, copy_agrees_with_cr8_at_every_level)
{
    KIRQL old, prev;

    KEXPECT_EQ(TIC_HW(KeGetCurrentIrql()), (KIRQL)__readcr8());
    KeRaiseIrql(APC_LEVEL, &old);
    for (KIRQL level = APC_LEVEL; level <= HIGH_LEVEL; level++) {
        KeRaiseIrql(level, &prev);
        KEXPECT_EQ(KeGetCurrentIrql(), level);
        KEXPECT_EQ((KIRQL)__readcr8(), TIC_HW(level));
    }
    for (KIRQL level = HIGH_LEVEL; level >= APC_LEVEL; level--) {
        KeLowerIrql(level);
        KEXPECT_EQ(KeGetCurrentIrql(), level);
        KEXPECT_EQ((KIRQL)__readcr8(), TIC_HW(level));
    }
    KeLowerIrql(old);
    KEXPECT_EQ(KeGetCurrentIrql(), old);
    KEXPECT_EQ((KIRQL)__readcr8(), TIC_HW(old));
}

/* Clock interrupts raise to CLOCK_LEVEL and go back through KiWriteCr8;
 * a DPC runs at DISPATCH_LEVEL. Neither may leave the copy behind. */
KTEST(irql, copy_agrees_after_interrupts_and_in_a_dpc)
{
    KDPC dpc;
    ULONGLONG start = KeQueryInterruptTime();
    ULONG mismatches = 0;

    while (KeQueryInterruptTime() - start < 20 * 10000ULL)     /* 20 ms: ticks come */
        if (TIC_HW(KeGetCurrentIrql()) != (KIRQL)__readcr8())
            mismatches++;
    KEXPECT_EQ(mismatches, 0);
    KeInitializeDpc(&dpc, TicDpcRoutine, NULL);
    TicDpcIrql = TicDpcCr8 = 0xFF;
    KEXPECT_TRUE(KeInsertQueueDpc(&dpc, NULL, NULL));   /* at PASSIVE: runs at once */
    KEXPECT_EQ(TicDpcIrql, DISPATCH_LEVEL);
    KEXPECT_EQ(TicDpcCr8, PASSIVE_LEVEL);       /* DISPATCH_LEVEL is software's alone */
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* KeFlushQueuedDpcs: PASSIVE_LEVEL only (Learn), and nothing left queued after it. */
static volatile ULONG TicFlushRuns;

static VOID TicFlushRoutine(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    TicFlushRuns++;
}

KTEST(dpc, flush_queued_dpcs_leaves_none_queued)
{
    KDPC dpc;

    KeInitializeDpc(&dpc, TicFlushRoutine, NULL);
    TicFlushRuns = 0;
    KEXPECT_TRUE(KeInsertQueueDpc(&dpc, NULL, NULL));
    KeFlushQueuedDpcs();
    KEXPECT_EQ(TicFlushRuns, 1);
    KEXPECT_EQ(KeGetCurrentPrcb()->DpcQueueDepth, 0);
    KEXPECT_TRUE(KeInsertQueueDpc(&dpc, NULL, NULL));     /* not queued any more */
    KeFlushQueuedDpcs();
    KEXPECT_EQ(TicFlushRuns, 2);
}

KTEST_BUGCHECK(dpc_bugcheck, flush_queued_dpcs_at_apc_level, IRQL_NOT_LESS_OR_EQUAL)
{
    KIRQL old;

    KeRaiseIrql(APC_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)KeFlushQueuedDpcs, APC_LEVEL,
                        PASSIVE_LEVEL, KTEST_ANY);
    KeFlushQueuedDpcs();
}

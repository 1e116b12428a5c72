/*
 * test_ke_interrupt_bugcheck.c - misuse of ISRs, DPCs, spin locks and the
 * IRQL ends in NT's bug checks, with the parameters kernel/ke_internal.h
 * documents.
 */
#include "../../kernel/ke_internal.h"
#include "../ktest.h"

/* ---- an ISR or a DPC that returns at another IRQL: IRQL_UNEXPECTED_VALUE ----------- */

static PKINTERRUPT KtibInterrupt;

static BOOLEAN KtibIsrRaisesAndReturns(PKINTERRUPT Interrupt, PVOID Context)
{
    KIRQL old;

    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KeRaiseIrql(HIGH_LEVEL, &old);      /* and never lowers */
    return TRUE;
}

KTEST_BUGCHECK(ke_interrupt_bugcheck, isr_returns_at_wrong_irql, IRQL_UNEXPECTED_VALUE)
{
    KIRQL irql;
    ULONG vector = HalAllocateMessageVector(&irql);

    if (vector == 0 || !NT_SUCCESS(IoConnectInterrupt(&KtibInterrupt, KtibIsrRaisesAndReturns,
                                                      NULL, NULL, vector, irql, irql, Latched,
                                                      FALSE, 1, FALSE)))
        return;             /* no bug check: the test fails */
    /* Learn: (current << 16 | expected << 8 | 3, ServiceRoutine, KINTERRUPT, -). */
    KtestExpectBugCheck(IRQL_UNEXPECTED_VALUE, KI_IRQL_UNEXPECTED(HIGH_LEVEL, irql, 3),
                        (ULONG64)KtibIsrRaisesAndReturns, (ULONG64)KtibInterrupt, 0);
    HalRequestSelfInterrupt(vector);
}

static VOID KtibDpcRaisesAndReturns(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    KIRQL old;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeRaiseIrql(CLOCK_LEVEL, &old);     /* and never lowers */
}

KTEST_BUGCHECK(ke_interrupt_bugcheck, dpc_returns_at_wrong_irql, IRQL_UNEXPECTED_VALUE)
{
    static KDPC dpc;

    KeInitializeDpc(&dpc, KtibDpcRaisesAndReturns, NULL);
    /* (current << 16 | DISPATCH_LEVEL << 8 | 4, DeferredRoutine, KDPC, -); 4 is Mica's value. */
    KtestExpectBugCheck(IRQL_UNEXPECTED_VALUE, KI_IRQL_UNEXPECTED(CLOCK_LEVEL, DISPATCH_LEVEL, 4),
                        (ULONG64)KtibDpcRaisesAndReturns, (ULONG64)&dpc, 0);
    KeInsertQueueDpc(&dpc, NULL, NULL);
}

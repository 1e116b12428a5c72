/*
 * test_ke_interrupt_bugcheck.c - misuse of ISRs, DPCs, spin locks and the
 * IRQL ends in NT's bug checks, with the parameters kernel/ke/ke_internal.h
 * documents.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm.h"
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
    ULONG vector = HalpAllocateMessageVector(&irql);

    if (vector == 0 || !NT_SUCCESS(IoConnectInterrupt(&KtibInterrupt, KtibIsrRaisesAndReturns,
                                                      NULL, NULL, vector, irql, irql, Latched,
                                                      FALSE, 1, FALSE)))
        return;             /* no bug check: the test fails */
    /* Learn: (current << 16 | expected << 8 | 3, ServiceRoutine, KINTERRUPT, -). */
    KtestExpectBugCheck(IRQL_UNEXPECTED_VALUE, KI_IRQL_UNEXPECTED(HIGH_LEVEL, irql, 3),
                        (ULONG64)KtibIsrRaisesAndReturns, (ULONG64)KtibInterrupt, 0);
    HalpRequestSelfInterrupt(vector);
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

/* ---- spin locks: an owner in the lock word -------------------------------------------------- */

/* Taking a lock this processor holds would spin for ever: NT's checked build stops. */
KTEST_BUGCHECK(ke_interrupt_bugcheck, spin_lock_acquired_twice, SPIN_LOCK_ALREADY_OWNED)
{
    static KSPIN_LOCK lock;
    KIRQL old, old2;

    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    /* Learn documents no parameters; Mica's: (lock, owner, 0, caller). */
    KtestExpectBugCheck(SPIN_LOCK_ALREADY_OWNED, (ULONG64)&lock, (ULONG64)KeGetCurrentPrcb(), 0,
                        KTEST_ANY);
    KeAcquireSpinLock(&lock, &old2);
}

/* The same from an ISR that wants a lock the code it interrupted holds. */
static KSPIN_LOCK KtibIsrLock;

static BOOLEAN KtibIsrTakesLock(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KeAcquireSpinLockAtDpcLevel(&KtibIsrLock);
    KeReleaseSpinLockFromDpcLevel(&KtibIsrLock);
    return TRUE;
}

KTEST_BUGCHECK(ke_interrupt_bugcheck, spin_lock_taken_by_isr_over_holder, SPIN_LOCK_ALREADY_OWNED)
{
    PKINTERRUPT interrupt;
    KIRQL irql, old;
    ULONG vector = HalpAllocateMessageVector(&irql);

    KeInitializeSpinLock(&KtibIsrLock);
    if (vector == 0 || !NT_SUCCESS(IoConnectInterrupt(&interrupt, KtibIsrTakesLock, NULL, NULL,
                                                      vector, irql, irql, Latched, FALSE, 1,
                                                      FALSE)))
        return;
    KeAcquireSpinLock(&KtibIsrLock, &old);
    KtestExpectBugCheck(SPIN_LOCK_ALREADY_OWNED, (ULONG64)&KtibIsrLock,
                        (ULONG64)KeGetCurrentPrcb(), 0, KTEST_ANY);
    HalpRequestSelfInterrupt(vector);
}

/* Releasing a lock that another processor holds: SPIN_LOCK_NOT_OWNED. */
KTEST_BUGCHECK(ke_interrupt_bugcheck, spin_lock_released_by_non_owner, SPIN_LOCK_NOT_OWNED)
{
    static KSPIN_LOCK lock;
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    lock = (KSPIN_LOCK)&lock;           /* held, but not by this processor */
    KtestExpectBugCheck(SPIN_LOCK_NOT_OWNED, (ULONG64)&lock, (ULONG64)&lock, 0, KTEST_ANY);
    KeReleaseSpinLockFromDpcLevel(&lock);
}

/* ---- one IRQL report: (routine, offending IRQL, limit, caller) ------------------------------- */

/* NT's KeAcquireSpinLock raises to DISPATCH_LEVEL: from above, a raise to a lower level. */
KTEST_BUGCHECK(ke_interrupt_bugcheck, spin_lock_above_dispatch, IRQL_NOT_GREATER_OR_EQUAL)
{
    static KSPIN_LOCK lock;
    KIRQL old, old2;

    KeInitializeSpinLock(&lock);
    KeRaiseIrql(CLOCK_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_GREATER_OR_EQUAL, (ULONG64)KeAcquireSpinLock, DISPATCH_LEVEL,
                        CLOCK_LEVEL, KTEST_ANY);
    KeAcquireSpinLock(&lock, &old2);
}

static BOOLEAN KtibNeverMine(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    return FALSE;
}

KTEST_BUGCHECK(ke_interrupt_bugcheck, connect_interrupt_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    PKINTERRUPT interrupt;
    KIRQL irql, old;
    ULONG vector = HalpAllocateMessageVector(&irql);

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)IoConnectInterrupt, DISPATCH_LEVEL,
                        PASSIVE_LEVEL, KTEST_ANY);
    IoConnectInterrupt(&interrupt, KtibNeverMine, NULL, NULL, vector, irql, irql,
                       Latched, FALSE, 1, FALSE);
}

KTEST_BUGCHECK(ke_interrupt_bugcheck, map_io_space_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    PHYSICAL_ADDRESS pa = {.QuadPart = 0xFEE00000};
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL + 1, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)MmMapIoSpace, DISPATCH_LEVEL + 1,
                        DISPATCH_LEVEL, KTEST_ANY);
    MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
}

/*
 * test_ke_bugcheck.c - IRQL and synchronization misuse ends in NT's bug checks.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

KTEST_BUGCHECK(ke_bugcheck, lower_irql_to_higher, IRQL_NOT_LESS_OR_EQUAL)
{
    /* (routine, the IRQL asked for, the highest allowed = the current one, caller) */
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)KeLowerIrql, DISPATCH_LEVEL, PASSIVE_LEVEL,
                        KTEST_ANY);
    KeLowerIrql(DISPATCH_LEVEL);
}

KTEST_BUGCHECK(ke_bugcheck, raise_irql_to_lower, IRQL_NOT_GREATER_OR_EQUAL)
{
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    /* (routine, the IRQL asked for, the lowest allowed = the current one, caller) */
    KtestExpectBugCheck(IRQL_NOT_GREATER_OR_EQUAL, (ULONG64)KeRaiseIrql, APC_LEVEL, DISPATCH_LEVEL,
                        KTEST_ANY);
    KeRaiseIrql(APC_LEVEL, &old);
}

KTEST_BUGCHECK(ke_bugcheck, wait_at_dispatch_level, IRQL_NOT_LESS_OR_EQUAL)
{
    static KEVENT event;
    LARGE_INTEGER timeout = {.QuadPart = -10000};
    KIRQL old;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)KeWaitForMultipleObjects, DISPATCH_LEVEL,
                        APC_LEVEL, KTEST_ANY);
    KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout);
}

static VOID Nothing(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
}

KTEST_BUGCHECK(ke_bugcheck, passive_routine_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    HANDLE h;
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)PsCreateSystemThread, DISPATCH_LEVEL,
                        APC_LEVEL, KTEST_ANY);
    PsCreateSystemThread(&h, 0, NULL, NULL, NULL, Nothing, NULL);
}

KTEST_BUGCHECK(ke_bugcheck, release_spin_lock_not_held, SPIN_LOCK_NOT_OWNED)
{
    static KSPIN_LOCK lock;
    KIRQL old;

    KeInitializeSpinLock(&lock);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    /* Learn gives no parameters; Mica's: (lock, lock word: 0 = free, 0, caller). */
    KtestExpectBugCheck(SPIN_LOCK_NOT_OWNED, (ULONG64)&lock, 0, 0, KTEST_ANY);
    KeReleaseSpinLock(&lock, old);
}

/* KeReleaseMutex by a non-owner raises STATUS_MUTANT_NOT_OWNED in NT: see
 * test_dispatcher_bugcheck.c (release_free_mutex, release_mutex_owned_by_another). */

KTEST_BUGCHECK(ke_bugcheck, dpc_level_lock_at_passive, IRQL_NOT_GREATER_OR_EQUAL)
{
    static KSPIN_LOCK lock;

    KeInitializeSpinLock(&lock);
    KtestExpectBugCheck(IRQL_NOT_GREATER_OR_EQUAL, (ULONG64)KeAcquireSpinLockAtDpcLevel,
                        PASSIVE_LEVEL, DISPATCH_LEVEL, KTEST_ANY);
    KeAcquireSpinLockAtDpcLevel(&lock);
}

KTEST_BUGCHECK(ke_bugcheck, set_event_above_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static KEVENT event;
    KIRQL old;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)KeSetEvent, HIGH_LEVEL, DISPATCH_LEVEL,
                        KTEST_ANY);
    KeSetEvent(&event, 0, FALSE);
}

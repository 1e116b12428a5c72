/*
 * semaphore.c - KSEMAPHORE: KeInitializeSemaphore, KeReleaseSemaphore,
 * KeReadStateSemaphore.
 *
 * A semaphore counts: SignalState is the count, signalled while above
 * zero, and each satisfied wait takes one (wait.c, KiSatisfy). Releasing
 * adds Adjustment and wakes as many waiters as the new count allows,
 * boosting each by Increment. The count may never pass Limit: NT leaves
 * the count alone and raises STATUS_SEMAPHORE_LIMIT_EXCEEDED, which in
 * Mica (no exception handlers yet) ends in KMODE_EXCEPTION_NOT_HANDLED.
 */
#include "ke_internal.h"

/*
 * Learn's table says PASSIVE_LEVEL; Driver Verifier's rule for it
 * (IrqlKeDispatchLte) allows DISPATCH_LEVEL, and that is what Mica checks.
 * Count and Limit "must be positive" (Count <= Limit); NT takes them as
 * given, and so does Mica.
 */
VOID KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeInitializeSemaphore);
    Semaphore->Header.Lock = 0;
    Semaphore->Header.Type = SemaphoreObject;
    Semaphore->Header.Size = sizeof(KSEMAPHORE) / sizeof(ULONG);
    Semaphore->Header.SignalState = Count;
    InitializeListHead(&Semaphore->Header.WaitListHead);
    Semaphore->Limit = Limit;
}

LONG KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment,
                        BOOLEAN Wait)
{
    KIRQL old;
    LONG previous;
    LONGLONG count;

    UNREFERENCED_PARAMETER(Wait);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeReleaseSemaphore);
    old = KiAcquireDispatcherLock();
    previous = Semaphore->Header.SignalState;
    /* In 64 bits, so that a huge Adjustment cannot wrap past the test;
     * a negative one would lower the count, which is no release either. */
    count = (LONGLONG)previous + Adjustment;
    if (count > Semaphore->Limit || count < previous) {
        KiReleaseDispatcherLock(old);
        ExRaiseStatus(STATUS_SEMAPHORE_LIMIT_EXCEEDED);
    }
    Semaphore->Header.SignalState = (LONG)count;
    if (previous == 0)
        KiWaitTest(&Semaphore->Header, Increment);
    KiReleaseDispatcherLock(old);
    return previous;
}

LONG KeReadStateSemaphore(PRKSEMAPHORE Semaphore)
{
    return __atomic_load_n(&Semaphore->Header.SignalState, __ATOMIC_ACQUIRE);
}

/*
 * mutex.c - KMUTEX (NT's kernel mutant) and FAST_MUTEX.
 *
 * A KMUTEX is owned by a thread and may be acquired again by its owner
 * (SignalState 1 = free, 0 = held once, -n = held n + 1 times). It is
 * acquired by waiting on it (wait.c, KiSatisfyMutant); the first
 * acquisition puts it on the owner's MutantListHead and enters a critical
 * region (ApcDisable = 1), the last release undoes both and hands the
 * mutex to the first waiter with MUTANT_INCREMENT. A thread that ends
 * while holding one is caught at exit (thread.c, KERNEL_APC_PENDING_DURING_EXIT).
 * NT raises an exception for the two misuses (see ke.h); so does Mica.
 *
 * A FAST_MUTEX is an interlocked count with a synchronization event for
 * the contended case: not recursive, no owner list. ExAcquireFastMutex
 * raises to APC_LEVEL and keeps the old IRQL in the mutex; the Unsafe
 * pair leaves the IRQL alone for callers that already have APCs off.
 */
#include "ke_internal.h"

VOID KeInitializeMutex(PRKMUTEX Mutex, ULONG Level)
{
    UNREFERENCED_PARAMETER(Level);
    Mutex->Header.Lock = 0;
    Mutex->Header.MutantType = MutantObject;
    Mutex->Header.MutantSize = sizeof(KMUTANT) / sizeof(ULONG);
    Mutex->Header.SignalState = 1;
    InitializeListHead(&Mutex->Header.WaitListHead);
    InitializeListHead(&Mutex->MutantListEntry);
    Mutex->OwnerThread = NULL;
    Mutex->MutantFlags = 0;
    Mutex->ApcDisable = 1;
}

LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait)
{
    PKTHREAD thread = KeGetCurrentThread();
    KIRQL old;
    LONG previous;

    UNREFERENCED_PARAMETER(Wait);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeReleaseMutex);
    old = KiAcquireDispatcherLock();
    previous = Mutex->Header.SignalState;
    if (Mutex->OwnerThread != thread) {
        KiReleaseDispatcherLock(old);
        ExRaiseStatus(Mutex->Abandoned ? STATUS_ABANDONED : STATUS_MUTANT_NOT_OWNED);
    }
    if (++Mutex->Header.SignalState == 1) {
        RemoveEntryList(&Mutex->MutantListEntry);
        Mutex->OwnerThread = NULL;
        thread->KernelApcDisable += Mutex->ApcDisable;      /* leave the critical region */
        KiWaitTest(&Mutex->Header, MUTANT_INCREMENT);
    }
    KiReleaseDispatcherLock(old);
    return previous;
}

LONG KeReadStateMutex(PRKMUTEX Mutex)
{
    return __atomic_load_n(&Mutex->Header.SignalState, __ATOMIC_ACQUIRE);
}

/* ---- fast mutexes ---------------------------------------------------------------- */

VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->Count = 1;
    FastMutex->Owner = NULL;
    FastMutex->Contention = 0;
    KeInitializeEvent(&FastMutex->Event, SynchronizationEvent, FALSE);
}

/* Count 1 = free; each acquirer takes one off, and a result below zero
 * means someone holds it: wait for the release to set the event. */
static void ExpAcquireFastMutexContended(PFAST_MUTEX FastMutex)
{
    if (__atomic_sub_fetch(&FastMutex->Count, 1, __ATOMIC_ACQUIRE) != 0) {
        FastMutex->Contention++;
        KeWaitForSingleObject(&FastMutex->Event, Executive, KernelMode, FALSE, NULL);
    }
    FastMutex->Owner = KeGetCurrentThread();
}

/* The releaser boosts the waiter it wakes (NT: KeSetEventBoostPriority). */
static void ExpReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->Owner = NULL;
    if (__atomic_add_fetch(&FastMutex->Count, 1, __ATOMIC_RELEASE) <= 0)
        KeSetEvent(&FastMutex->Event, EVENT_INCREMENT, FALSE);
}

/* Mica checks the IRQL rule as NT's checked build and Driver Verifier do
 * (retail Windows would deadlock or corrupt instead). */
VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExAcquireFastMutex);
    KeRaiseIrql(APC_LEVEL, &old);
    ExpAcquireFastMutexContended(FastMutex);
    FastMutex->OldIrql = old;
}

BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;
    LONG expected = 1;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExTryToAcquireFastMutex);
    KeRaiseIrql(APC_LEVEL, &old);
    if (!__atomic_compare_exchange_n(&FastMutex->Count, &expected, 0, FALSE, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        KeLowerIrql(old);
        return FALSE;
    }
    FastMutex->Owner = KeGetCurrentThread();
    FastMutex->OldIrql = old;
    return TRUE;
}

VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old = (KIRQL)FastMutex->OldIrql;

    /* Between acquire and release the caller is at APC_LEVEL, exactly. */
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExReleaseFastMutex);
    KI_CHECK_IRQL_AT_LEAST(APC_LEVEL, ExReleaseFastMutex);
    ExpReleaseFastMutex(FastMutex);
    KeLowerIrql(old);
}

/*
 * The Unsafe pair: Learn's IRQL is APC_LEVEL, or PASSIVE_LEVEL inside a
 * critical region (KeEnterCriticalRegion). Anything else could be
 * interrupted by an APC that takes the same mutex; Mica says so with the
 * IRQL bug checks: above APC_LEVEL is IRQL_NOT_LESS_OR_EQUAL, PASSIVE_LEVEL
 * with APCs enabled is IRQL_NOT_GREATER_OR_EQUAL (required: APC_LEVEL).
 */
static void ExpCheckUnsafeCaller(PVOID Routine, PVOID Caller)
{
    KIRQL irql = KeGetCurrentIrql();

    if (irql > APC_LEVEL)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, Routine, irql, APC_LEVEL, Caller);
    if (irql < APC_LEVEL && KeGetCurrentThread()->CombinedApcDisable == 0)
        KiIrqlViolation(IRQL_NOT_GREATER_OR_EQUAL, Routine, irql, APC_LEVEL, Caller);
}

VOID ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    ExpCheckUnsafeCaller((PVOID)ExAcquireFastMutexUnsafe, __builtin_return_address(0));
    ExpAcquireFastMutexContended(FastMutex);
}

VOID ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    ExpCheckUnsafeCaller((PVOID)ExReleaseFastMutexUnsafe, __builtin_return_address(0));
    ExpReleaseFastMutex(FastMutex);
}

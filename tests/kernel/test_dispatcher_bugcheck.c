/*
 * test_dispatcher_bugcheck.c - dispatcher misuse ends as NT ends it.
 *
 * A thread switch from a DPC routine is ATTEMPTED_SWITCH_FROM_DPC (0xB8:
 * the thread, the thread that would have run, the thread's stack). The
 * misuses NT answers with an exception (a mutex released by a non-owner
 * or acquired past its recursion limit, a semaphore released past its
 * limit) end, with no exception handler in Mica, in
 * KMODE_EXCEPTION_NOT_HANDLED (0x1E) with the status, sign-extended, as
 * parameter 1. A thread that ends with APCs disabled (a critical or
 * guarded region left open, a mutex still held) is
 * KERNEL_APC_PENDING_DURING_EXIT (0x20) with the disable count.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define RAISED(Status) ((ULONG64)(LONG64)(NTSTATUS)(Status))

/* ---- switching from a DPC ------------------------------------------------------------- */

static KEVENT NeverSet;
static KDPC MisbehavingDpc;

static void ExpectSwitchFromDpc(void)
{
    PKTHREAD self = KeGetCurrentThread();

    KtestExpectBugCheck(ATTEMPTED_SWITCH_FROM_DPC, (ULONG64)self, KTEST_ANY, self->StackBase, 0);
}

static VOID WaitingDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeWaitForSingleObject(&NeverSet, Executive, KernelMode, FALSE, NULL);
}

KTEST_BUGCHECK(dispatcher_bugcheck, wait_in_dpc, ATTEMPTED_SWITCH_FROM_DPC)
{
    KeInitializeEvent(&NeverSet, NotificationEvent, FALSE);
    KeInitializeDpc(&MisbehavingDpc, WaitingDpc, NULL);
    ExpectSwitchFromDpc();
    KeInsertQueueDpc(&MisbehavingDpc, NULL, NULL);  /* at PASSIVE_LEVEL: runs now, on us */
}

/* Even an object that is signalled: a wait that may block is refused from a DPC. */
static VOID TimedWaitDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    LARGE_INTEGER timeout = {.QuadPart = -10000};

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeSetEvent(&NeverSet, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(&NeverSet, Executive, KernelMode, FALSE, &timeout);
}

KTEST_BUGCHECK(dispatcher_bugcheck, timed_wait_in_dpc, ATTEMPTED_SWITCH_FROM_DPC)
{
    KeInitializeEvent(&NeverSet, NotificationEvent, FALSE);
    KeInitializeDpc(&MisbehavingDpc, TimedWaitDpc, NULL);
    ExpectSwitchFromDpc();
    KeInsertQueueDpc(&MisbehavingDpc, NULL, NULL);
}

static VOID DelayingDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    LARGE_INTEGER delay = {.QuadPart = -10000};

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

KTEST_BUGCHECK(dispatcher_bugcheck, delay_in_dpc, ATTEMPTED_SWITCH_FROM_DPC)
{
    KeInitializeDpc(&MisbehavingDpc, DelayingDpc, NULL);
    ExpectSwitchFromDpc();
    KeInsertQueueDpc(&MisbehavingDpc, NULL, NULL);
}

static VOID YieldingDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    ZwYieldExecution();
}

KTEST_BUGCHECK(dispatcher_bugcheck, yield_in_dpc, ATTEMPTED_SWITCH_FROM_DPC)
{
    KeInitializeDpc(&MisbehavingDpc, YieldingDpc, NULL);
    ExpectSwitchFromDpc();
    KeInsertQueueDpc(&MisbehavingDpc, NULL, NULL);
}

/* A poll (zero timeout) never switches: allowed in a DPC. Not a bug check. */
static volatile NTSTATUS PollStatus;

static VOID PollingDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    LARGE_INTEGER zero = {.QuadPart = 0};

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    PollStatus = KeWaitForSingleObject(&NeverSet, Executive, KernelMode, FALSE, &zero);
}

KTEST(dispatcher, poll_in_dpc_is_allowed)
{
    KeInitializeEvent(&NeverSet, NotificationEvent, FALSE);
    KeInitializeDpc(&MisbehavingDpc, PollingDpc, NULL);
    PollStatus = STATUS_PENDING;
    KeInsertQueueDpc(&MisbehavingDpc, NULL, NULL);
    KEXPECT_EQ(PollStatus, STATUS_TIMEOUT);
    KeSetEvent(&NeverSet, IO_NO_INCREMENT, FALSE);
    KeInsertQueueDpc(&MisbehavingDpc, NULL, NULL);
    KEXPECT_EQ(PollStatus, STATUS_WAIT_0);
}

/* ---- mutexes ------------------------------------------------------------------------------ */

static KMUTEX Mutex;

KTEST_BUGCHECK(dispatcher_bugcheck, release_free_mutex, KMODE_EXCEPTION_NOT_HANDLED)
{
    KeInitializeMutex(&Mutex, 0);
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, RAISED(STATUS_MUTANT_NOT_OWNED), KTEST_ANY,
                        0, 0);
    KeReleaseMutex(&Mutex, FALSE);
}

static VOID HoldMutexForEver(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&Mutex, Executive, KernelMode, FALSE, NULL);
    KeWaitForSingleObject(&NeverSet, Executive, KernelMode, FALSE, NULL);
}

KTEST_BUGCHECK(dispatcher_bugcheck, release_mutex_owned_by_another, KMODE_EXCEPTION_NOT_HANDLED)
{
    LARGE_INTEGER settle = {.QuadPart = -10 * 10000};
    HANDLE h;

    KeInitializeMutex(&Mutex, 0);
    KeInitializeEvent(&NeverSet, NotificationEvent, FALSE);
    PsCreateSystemThread(&h, 0, NULL, NULL, NULL, HoldMutexForEver, NULL);
    KeDelayExecutionThread(KernelMode, FALSE, &settle);
    if (Mutex.OwnerThread == NULL || Mutex.OwnerThread == KeGetCurrentThread())
        return;                             /* the test fails: no bug check */
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, RAISED(STATUS_MUTANT_NOT_OWNED), KTEST_ANY,
                        0, 0);
    KeReleaseMutex(&Mutex, FALSE);
}

KTEST_BUGCHECK(dispatcher_bugcheck, mutex_recursion_limit, KMODE_EXCEPTION_NOT_HANDLED)
{
    KeInitializeMutex(&Mutex, 0);
    KeWaitForSingleObject(&Mutex, Executive, KernelMode, FALSE, NULL);
    Mutex.Header.SignalState = MINLONG;     /* as deep as the count goes */
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, RAISED(STATUS_MUTANT_LIMIT_EXCEEDED),
                        KTEST_ANY, 0, 0);
    KeWaitForSingleObject(&Mutex, Executive, KernelMode, FALSE, NULL);
}

/* ---- semaphores ----------------------------------------------------------------------------- */

static KSEMAPHORE Semaphore;

KTEST_BUGCHECK(dispatcher_bugcheck, semaphore_past_limit, KMODE_EXCEPTION_NOT_HANDLED)
{
    KeInitializeSemaphore(&Semaphore, 1, 2);
    KeReleaseSemaphore(&Semaphore, IO_NO_INCREMENT, 1, FALSE);     /* 2: the limit, fine */
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, RAISED(STATUS_SEMAPHORE_LIMIT_EXCEEDED),
                        KTEST_ANY, 0, 0);
    KeReleaseSemaphore(&Semaphore, IO_NO_INCREMENT, 1, FALSE);
}

/* A count near MAXLONG plus a large adjustment must not wrap past the test. */
KTEST_BUGCHECK(dispatcher_bugcheck, semaphore_adjustment_overflow, KMODE_EXCEPTION_NOT_HANDLED)
{
    KeInitializeSemaphore(&Semaphore, MAXLONG - 1, MAXLONG);
    KtestExpectBugCheck(KMODE_EXCEPTION_NOT_HANDLED, RAISED(STATUS_SEMAPHORE_LIMIT_EXCEEDED),
                        KTEST_ANY, 0, 0);
    KeReleaseSemaphore(&Semaphore, IO_NO_INCREMENT, MAXLONG, FALSE);
}

/* ---- threads that end with APCs disabled ------------------------------------------------------- */

static VOID EndInCriticalRegion(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeEnterCriticalRegion();
}

static VOID EndInGuardedRegion(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeEnterGuardedRegion();
}

static VOID EndHoldingMutex(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&Mutex, Executive, KernelMode, FALSE, NULL);
}

static void RunAndJoin(PKSTART_ROUTINE Routine)
{
    HANDLE h;
    PVOID thread;

    PsCreateSystemThread(&h, 0, NULL, NULL, NULL, Routine, NULL);
    ObReferenceObjectByHandle(h, 0, NULL, KernelMode, &thread, NULL);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
}

/* CombinedApcDisable: SpecialApcDisable << 16 | KernelApcDisable, each counting down from 0. */
KTEST_BUGCHECK(dispatcher_bugcheck, thread_ends_in_critical_region, KERNEL_APC_PENDING_DURING_EXIT)
{
    KtestExpectBugCheck(KERNEL_APC_PENDING_DURING_EXIT, 0, 0x0000FFFF, PASSIVE_LEVEL, 0);
    RunAndJoin(EndInCriticalRegion);
}

KTEST_BUGCHECK(dispatcher_bugcheck, thread_ends_in_guarded_region, KERNEL_APC_PENDING_DURING_EXIT)
{
    KtestExpectBugCheck(KERNEL_APC_PENDING_DURING_EXIT, 0, 0xFFFF0000, PASSIVE_LEVEL, 0);
    RunAndJoin(EndInGuardedRegion);
}

KTEST_BUGCHECK(dispatcher_bugcheck, thread_ends_holding_mutex, KERNEL_APC_PENDING_DURING_EXIT)
{
    KeInitializeMutex(&Mutex, 0);
    KtestExpectBugCheck(KERNEL_APC_PENDING_DURING_EXIT, 0, 0x0000FFFF, PASSIVE_LEVEL, 0);
    RunAndJoin(EndHoldingMutex);
}

/* ---- fast mutexes and locks --------------------------------------------------------------------- */

/* Mica checks this as NT's checked build and Driver Verifier do. */
KTEST_BUGCHECK(dispatcher_bugcheck, fast_mutex_at_dispatch, IRQL_NOT_LESS_OR_EQUAL)
{
    static FAST_MUTEX f;
    KIRQL old;

    ExInitializeFastMutex(&f);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)ExAcquireFastMutex, DISPATCH_LEVEL,
                        APC_LEVEL, KTEST_ANY);
    ExAcquireFastMutex(&f);
}

/* The Unsafe acquire needs APC_LEVEL or a critical region. */
KTEST_BUGCHECK(dispatcher_bugcheck, fast_mutex_unsafe_with_apcs_enabled, IRQL_NOT_GREATER_OR_EQUAL)
{
    static FAST_MUTEX f;

    ExInitializeFastMutex(&f);
    KtestExpectBugCheck(IRQL_NOT_GREATER_OR_EQUAL, (ULONG64)ExAcquireFastMutexUnsafe,
                        PASSIVE_LEVEL, APC_LEVEL, KTEST_ANY);
    ExAcquireFastMutexUnsafe(&f);
}

KTEST_BUGCHECK(dispatcher_bugcheck, queued_lock_released_twice, SPIN_LOCK_NOT_OWNED)
{
    static KSPIN_LOCK lock;
    KLOCK_QUEUE_HANDLE h;

    KeInitializeSpinLock(&lock);
    KeAcquireInStackQueuedSpinLock(&lock, &h);
    KeReleaseInStackQueuedSpinLock(&h);
    KeRaiseIrql(DISPATCH_LEVEL, &h.OldIrql);
    KtestExpectBugCheck(SPIN_LOCK_NOT_OWNED, (ULONG64)&lock, 0, 0, KTEST_ANY);
    KeReleaseInStackQueuedSpinLock(&h);
}

KTEST_BUGCHECK(dispatcher_bugcheck, raise_to_synch_from_above, IRQL_NOT_GREATER_OR_EQUAL)
{
    KIRQL old;

    KeRaiseIrql(HIGH_LEVEL, &old);
    KtestExpectBugCheck(IRQL_NOT_GREATER_OR_EQUAL, KTEST_ANY, KTEST_ANY, KTEST_ANY, KTEST_ANY);
    KeRaiseIrqlToSynchLevel();
}

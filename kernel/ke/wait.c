/*
 * wait.c - waiting on dispatcher objects: KeWaitForSingleObject,
 * KeWaitForMultipleObjects, KeDelayExecutionThread.
 *
 * A waiting thread hangs one KWAIT_BLOCK on each object's wait list and
 * leaves the processor. Whoever signals an object calls KiWaitTest, which
 * satisfies the waits it now can (WaitAny: this object; WaitAll: every
 * object of that wait is signalled) and readies those threads with
 * STATUS_WAIT_0 + index, raising each one's priority by the signaller's
 * Increment (sched.c). A timeout is the thread's own KTIMER; when it fires
 * first the thread is readied with STATUS_TIMEOUT and no boost.
 *
 * "Satisfying" is what the object type says: a synchronization event or
 * timer resets, a semaphore's count drops by one, a mutex is owned by the
 * thread (recursively; the first acquisition puts it on the thread's
 * mutant list and enters a critical region), a notification event or a
 * terminated thread stays signalled for all.
 *
 * IRQL: below DISPATCH_LEVEL, or at DISPATCH_LEVEL with a zero timeout
 * (a poll). Waiting at DISPATCH_LEVEL or above with any other timeout
 * would deadlock the processor, and NT bug checks; so does Mica. Inside a
 * DPC routine the answer is NT's ATTEMPTED_SWITCH_FROM_DPC.
 */
#include "ke_internal.h"

static BOOLEAN KiIsSignaled(DISPATCHER_HEADER *Object, PKTHREAD Thread)
{
    if (Object->Type == MutantObject)
        return Object->SignalState > 0 || ((PKMUTANT)Object)->OwnerThread == Thread;
    return Object->SignalState > 0;
}

/*
 * A mutex held recursively 2^31 times has SignalState MINLONG: one more
 * acquisition would wrap it to "free". NT raises instead; the dispatcher
 * lock is dropped first, as NT does before any raise.
 */
static void KiCheckMutantLimit(DISPATCHER_HEADER *Object, KIRQL OldIrql)
{
    if (Object->Type == MutantObject && Object->SignalState == MINLONG) {
        KiReleaseDispatcherLock(OldIrql);
        ExRaiseStatus(STATUS_MUTANT_LIMIT_EXCEEDED);
    }
}

static NTSTATUS KiSatisfyMutant(PKMUTANT Mutant, PKTHREAD Thread)
{
    if (--Mutant->Header.SignalState != 0)
        return STATUS_WAIT_0;           /* a recursive acquisition */
    Mutant->OwnerThread = Thread;
    Thread->KernelApcDisable -= Mutant->ApcDisable;
    InsertTailList(&Thread->MutantListHead, &Mutant->MutantListEntry);
    if (Mutant->Abandoned) {
        Mutant->Abandoned = FALSE;
        return STATUS_ABANDONED_WAIT_0;
    }
    return STATUS_WAIT_0;
}

static NTSTATUS KiSatisfy(DISPATCHER_HEADER *Object, PKTHREAD Thread)
{
    switch (Object->Type) {
    case EventSynchronizationObject:
    case TimerSynchronizationObject:
        Object->SignalState = 0;
        break;
    case SemaphoreObject:
        Object->SignalState--;
        break;
    case MutantObject:
        return KiSatisfyMutant((PKMUTANT)Object, Thread);
    default:
        break;
    }
    return STATUS_WAIT_0;
}

/* Take the thread off every object it waits on, cancel its timeout, boost it, ready it. */
VOID KiUnwaitThread(PKTHREAD Thread, NTSTATUS WaitStatus, KPRIORITY Increment)
{
    for (ULONG i = 0; i < Thread->WaitCount; i++)
        RemoveEntryList(&Thread->WaitBlockList[i].WaitListEntry);
    Thread->WaitCount = 0;
    if (Thread->WaitTimerActive) {
        KiRemoveTimer(&Thread->WaitTimer);
        Thread->WaitTimerActive = FALSE;
    }
    Thread->WaitStatus = WaitStatus;
    KiBoostPriority(Thread, Increment);
    KiReadyThread(Thread);
}

static BOOLEAN KiAllSignaled(PKTHREAD Thread)
{
    for (ULONG i = 0; i < Thread->WaitCount; i++)
        if (!KiIsSignaled(Thread->WaitBlockList[i].Object, Thread))
            return FALSE;
    return TRUE;
}

/* Dispatcher lock held: Object became signalled; wake whom it now can. */
VOID KiWaitTest(DISPATCHER_HEADER *Object, KPRIORITY Increment)
{
    PLIST_ENTRY e = Object->WaitListHead.Flink;

    while (e != &Object->WaitListHead) {
        PKWAIT_BLOCK wb = CONTAINING_RECORD(e, KWAIT_BLOCK, WaitListEntry);
        PKTHREAD thread = wb->Thread;

        e = e->Flink;
        if (!KiIsSignaled(Object, thread))
            return;
        if (wb->WaitType == WaitAny) {
            NTSTATUS status = KiSatisfy(Object, thread);
            KiUnwaitThread(thread, status + wb->WaitKey, Increment);
        } else if (KiAllSignaled(thread)) {
            for (ULONG i = 0; i < thread->WaitCount; i++)
                KiSatisfy(thread->WaitBlockList[i].Object, thread);
            KiUnwaitThread(thread, STATUS_WAIT_0, Increment);
        } else {
            continue;
        }
        e = Object->WaitListHead.Flink;     /* the list changed under us */
    }
}

NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                  KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                  BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                  PKWAIT_BLOCK WaitBlockArray)
{
    PKTHREAD thread = KeGetCurrentThread();
    KIRQL irql = KeGetCurrentIrql(), old;
    BOOLEAN mayBlock = Timeout == NULL || Timeout->QuadPart != 0;
    PKWAIT_BLOCK wb;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(WaitReason);
    UNREFERENCED_PARAMETER(WaitMode);
    UNREFERENCED_PARAMETER(Alertable);
    if (mayBlock)
        KiCheckSwitchFromDpc();
    if (irql > DISPATCH_LEVEL || (irql == DISPATCH_LEVEL && mayBlock))
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, KeWaitForMultipleObjects, irql,
                        mayBlock ? APC_LEVEL : DISPATCH_LEVEL, __builtin_return_address(0));
    if (Count > MAXIMUM_WAIT_OBJECTS || (Count > THREAD_WAIT_OBJECTS && WaitBlockArray == NULL))
        KeBugCheckEx(MAXIMUM_WAIT_OBJECTS_EXCEEDED, Count, 0, 0, 0);
    wb = WaitBlockArray ? WaitBlockArray : thread->WaitBlock;

    old = KiAcquireDispatcherLock();
    if (WaitType == WaitAny) {
        for (ULONG i = 0; i < Count; i++)
            if (KiIsSignaled(Object[i], thread)) {
                KiCheckMutantLimit(Object[i], old);
                status = KiSatisfy(Object[i], thread) + (NTSTATUS)i;
                KiReleaseDispatcherLock(old);
                return status;
            }
    } else if (Count > 0) {
        BOOLEAN all = TRUE;
        for (ULONG i = 0; i < Count && all; i++)
            all = KiIsSignaled(Object[i], thread);
        if (all) {
            for (ULONG i = 0; i < Count; i++)
                KiCheckMutantLimit(Object[i], old);
            for (ULONG i = 0; i < Count; i++)
                KiSatisfy(Object[i], thread);
            KiReleaseDispatcherLock(old);
            return STATUS_WAIT_0;
        }
    }
    if (!mayBlock) {
        KiReleaseDispatcherLock(old);
        return STATUS_TIMEOUT;
    }

    for (ULONG i = 0; i < Count; i++) {
        wb[i].Thread = thread;
        wb[i].Object = Object[i];
        wb[i].WaitKey = (USHORT)i;
        wb[i].WaitType = (UCHAR)WaitType;
        InsertTailList(&((DISPATCHER_HEADER *)Object[i])->WaitListHead, &wb[i].WaitListEntry);
    }
    thread->WaitBlockList = wb;
    thread->WaitCount = Count;
    thread->WaitType = WaitType;
    thread->WaitStatus = STATUS_PENDING;
    if (Timeout != NULL) {
        KiInsertTimer(&thread->WaitTimer, KiDueTimeToInterruptTime(Timeout->QuadPart),
                      Timeout->QuadPart > 0);
        thread->WaitTimerActive = TRUE;
    }
    thread->State = Waiting;
    KiSwapThread();                     /* back here once KiUnwaitThread readied us */
    status = thread->WaitStatus;
    KiReleaseDispatcherLock(old);
    return status;
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                               BOOLEAN Alertable, PLARGE_INTEGER Timeout)
{
    return KeWaitForMultipleObjects(1, &Object, WaitAny, WaitReason, WaitMode, Alertable, Timeout,
                                    NULL);
}

/* Interval < 0: relative; > 0: absolute system time; 0: yield to an equal-priority thread. */
NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval)
{
    NTSTATUS status;

    KiCheckSwitchFromDpc();
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeDelayExecutionThread);
    if (Interval->QuadPart == 0) {
        KiYieldToEqualPriority();
        return STATUS_SUCCESS;
    }
    status = KeWaitForMultipleObjects(0, NULL, WaitAny, DelayExecution, WaitMode, Alertable,
                                      Interval, NULL);
    return status == STATUS_TIMEOUT ? STATUS_SUCCESS : status;
}

/*
 * wait.c - waiting on dispatcher objects: KeWaitForSingleObject,
 * KeWaitForMultipleObjects, KeDelayExecutionThread.
 *
 * A waiting thread hangs one KWAIT_BLOCK on each object's wait list and
 * leaves the processor. Whoever signals an object calls KiWaitTest, which
 * satisfies the waits it now can (WaitAny: this object; WaitAll: every
 * object of that wait is signalled) and readies those threads with
 * STATUS_WAIT_0 + index. A timeout is the thread's own KTIMER; when it
 * fires first the thread is readied with STATUS_TIMEOUT.
 *
 * "Satisfying" is what the object type says: a synchronization event or
 * timer resets, a mutex is owned by the thread (recursively), a
 * notification event or a terminated thread stays signalled for all.
 *
 * IRQL: below DISPATCH_LEVEL, or at DISPATCH_LEVEL with a zero timeout
 * (a poll). Waiting at DISPATCH_LEVEL or above with any other timeout
 * would deadlock the processor, and NT bug checks; so does Mica.
 */
#include "ke_internal.h"


static BOOLEAN KiIsSignaled(DISPATCHER_HEADER *Object, PKTHREAD Thread)
{
    if (Object->Type == MutantObject)
        return Object->SignalState > 0 || ((PKMUTANT)Object)->OwnerThread == Thread;
    return Object->SignalState > 0;
}

static NTSTATUS KiSatisfy(DISPATCHER_HEADER *Object, PKTHREAD Thread)
{
    switch (Object->Type) {
    case EventSynchronizationObject:
    case TimerSynchronizationObject:
        Object->SignalState = 0;
        break;
    case MutantObject: {
        PKMUTANT m = (PKMUTANT)Object;
        Object->SignalState--;
        m->OwnerThread = Thread;
        if (m->Abandoned) {
            m->Abandoned = FALSE;
            return STATUS_ABANDONED_WAIT_0;
        }
        break;
    }
    default:
        break;
    }
    return STATUS_WAIT_0;
}

/* Take the thread off every object it waits on, cancel its timeout, ready it. */
VOID KiUnwaitThread(PKTHREAD Thread, NTSTATUS WaitStatus)
{
    for (ULONG i = 0; i < Thread->WaitCount; i++)
        RemoveEntryList(&Thread->WaitBlockList[i].WaitListEntry);
    Thread->WaitCount = 0;
    if (Thread->WaitTimerActive) {
        KiRemoveTimer(&Thread->WaitTimer);
        Thread->WaitTimerActive = FALSE;
    }
    Thread->WaitStatus = WaitStatus;
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

    UNREFERENCED_PARAMETER(Increment);
    while (e != &Object->WaitListHead) {
        PKWAIT_BLOCK wb = CONTAINING_RECORD(e, KWAIT_BLOCK, WaitListEntry);
        PKTHREAD thread = wb->Thread;

        e = e->Flink;
        if (!KiIsSignaled(Object, thread))
            return;
        if (wb->WaitType == WaitAny) {
            NTSTATUS status = KiSatisfy(Object, thread);
            KiUnwaitThread(thread, status + wb->WaitKey);
        } else if (KiAllSignaled(thread)) {
            for (ULONG i = 0; i < thread->WaitCount; i++)
                KiSatisfy(thread->WaitBlockList[i].Object, thread);
            KiUnwaitThread(thread, STATUS_WAIT_0);
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
    PKWAIT_BLOCK wb;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(WaitReason);
    UNREFERENCED_PARAMETER(WaitMode);
    UNREFERENCED_PARAMETER(Alertable);
    if (irql > DISPATCH_LEVEL || (irql == DISPATCH_LEVEL && (Timeout == NULL || Timeout->QuadPart != 0)))
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, KeWaitForMultipleObjects, irql,
                        Timeout && Timeout->QuadPart == 0 ? DISPATCH_LEVEL : APC_LEVEL,
                        __builtin_return_address(0));
    if (Count > MAXIMUM_WAIT_OBJECTS || (Count > THREAD_WAIT_OBJECTS && WaitBlockArray == NULL))
        KeBugCheckEx(MAXIMUM_WAIT_OBJECTS_EXCEEDED, Count, 0, 0, 0);
    wb = WaitBlockArray ? WaitBlockArray : thread->WaitBlock;

    old = KiAcquireDispatcherLock();
    if (WaitType == WaitAny) {
        for (ULONG i = 0; i < Count; i++)
            if (KiIsSignaled(Object[i], thread)) {
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
                KiSatisfy(Object[i], thread);
            KiReleaseDispatcherLock(old);
            return STATUS_WAIT_0;
        }
    }
    if (Timeout != NULL && Timeout->QuadPart == 0) {
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
        KiInsertTimer(&thread->WaitTimer, Timeout->QuadPart);
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

NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval)
{
    NTSTATUS status;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeDelayExecutionThread);
    if (Interval->QuadPart == 0) {
        KeYieldProcessor();
        return STATUS_SUCCESS;
    }
    status = KeWaitForMultipleObjects(0, NULL, WaitAny, DelayExecution, WaitMode, Alertable,
                                      Interval, NULL);
    return status == STATUS_TIMEOUT ? STATUS_SUCCESS : status;
}

/* ---- events, mutexes, fast mutexes ----------------------------------------------- */

VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    Event->Header.Type = Type == NotificationEvent ? EventNotificationObject
                                                   : EventSynchronizationObject;
    Event->Header.SignalState = State ? 1 : 0;
    InitializeListHead(&Event->Header.WaitListHead);
}

LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL old;
    LONG previous;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeSetEvent);
    old = KiAcquireDispatcherLock();
    previous = Event->Header.SignalState;
    /* Wait = TRUE lets NT callers keep the lock into a wait; Mica releases it. */
    UNREFERENCED_PARAMETER(Wait);
    Event->Header.SignalState = 1;
    if (previous == 0)
        KiWaitTest(&Event->Header, Increment);
    KiReleaseDispatcherLock(old);
    return previous;
}

LONG KeResetEvent(PRKEVENT Event)
{
    KIRQL old;
    LONG previous;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeResetEvent);
    old = KiAcquireDispatcherLock();
    previous = Event->Header.SignalState;
    Event->Header.SignalState = 0;
    KiReleaseDispatcherLock(old);
    return previous;
}

VOID KeClearEvent(PRKEVENT Event)
{
    Event->Header.SignalState = 0;
}

LONG KeReadStateEvent(PRKEVENT Event)
{
    return Event->Header.SignalState;
}

VOID KeInitializeMutex(PRKMUTEX Mutex, ULONG Level)
{
    UNREFERENCED_PARAMETER(Level);
    Mutex->Header.Type = MutantObject;
    Mutex->Header.SignalState = 1;
    InitializeListHead(&Mutex->Header.WaitListHead);
    Mutex->OwnerThread = NULL;
    Mutex->Abandoned = FALSE;
}

LONG KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait)
{
    KIRQL old;
    LONG previous;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeReleaseMutex);
    old = KiAcquireDispatcherLock();
    previous = Mutex->Header.SignalState;
    UNREFERENCED_PARAMETER(Wait);
    if (Mutex->OwnerThread != KeGetCurrentThread() || previous > 0)
        KeBugCheckEx(THREAD_NOT_MUTEX_OWNER, (ULONG_PTR)KeGetCurrentThread(), (ULONG_PTR)Mutex,
                     (ULONG_PTR)Mutex->OwnerThread, 0);
    if (++Mutex->Header.SignalState == 1) {
        Mutex->OwnerThread = NULL;
        KiWaitTest(&Mutex->Header, 0);
    }
    KiReleaseDispatcherLock(old);
    return previous;
}

LONG KeReadStateMutex(PRKMUTEX Mutex)
{
    return Mutex->Header.SignalState;
}

/* A fast mutex: an interlocked count, and a synchronization event only when contended. */
VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->Count = 1;
    FastMutex->Owner = NULL;
    FastMutex->Contention = 0;
    KeInitializeEvent(&FastMutex->Event, SynchronizationEvent, FALSE);
}

VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExAcquireFastMutex);
    KeRaiseIrql(APC_LEVEL, &old);
    if (__atomic_sub_fetch(&FastMutex->Count, 1, __ATOMIC_ACQUIRE) != 0) {
        FastMutex->Contention++;
        KeWaitForSingleObject(&FastMutex->Event, Executive, KernelMode, FALSE, NULL);
    }
    FastMutex->Owner = KeGetCurrentThread();
    FastMutex->OldIrql = old;
}

BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;
    LONG expected = 1;

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

    FastMutex->Owner = NULL;
    if (__atomic_add_fetch(&FastMutex->Count, 1, __ATOMIC_RELEASE) <= 0)
        KeSetEvent(&FastMutex->Event, 0, FALSE);
    KeLowerIrql(old);
}

/*
 * event.c - KEVENT: KeInitializeEvent, KeSetEvent, KePulseEvent,
 * KeResetEvent, KeClearEvent, KeReadStateEvent.
 *
 * An event is a dispatcher header and nothing else: SignalState 1 or 0.
 * A notification event, once set, releases every waiter and stays set
 * until someone resets it; a synchronization event releases one waiter
 * and resets itself in doing so (wait.c, KiSatisfy). The Increment of
 * KeSetEvent/KePulseEvent is the priority boost the woken threads get.
 */
#include "ke_internal.h"

VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    Event->Header.Lock = 0;
    Event->Header.Type = Type == NotificationEvent ? EventNotificationObject
                                                   : EventSynchronizationObject;
    Event->Header.Size = sizeof(KEVENT) / sizeof(ULONG);
    Event->Header.SignalState = State ? 1 : 0;
    InitializeListHead(&Event->Header.WaitListHead);
}

/* Wait = TRUE is NT's promise that a KeWaitXxx follows at once, so NT may
 * keep the dispatcher lock across the two. Mica always releases it here:
 * what callers see is the same, the saving is NT's alone. */
LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL old;
    LONG previous;

    UNREFERENCED_PARAMETER(Wait);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeSetEvent);
    old = KiAcquireDispatcherLock();
    previous = Event->Header.SignalState;
    Event->Header.SignalState = 1;
    if (previous == 0)
        KiWaitTest(&Event->Header, Increment);
    KiReleaseDispatcherLock(old);
    return previous;
}

/* Set, satisfy every wait that can be, reset: all in one dispatcher-lock hold. */
LONG KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL old;
    LONG previous;

    UNREFERENCED_PARAMETER(Wait);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KePulseEvent);
    old = KiAcquireDispatcherLock();
    previous = Event->Header.SignalState;
    if (previous == 0 && !IsListEmpty(&Event->Header.WaitListHead)) {
        Event->Header.SignalState = 1;
        KiWaitTest(&Event->Header, Increment);
    }
    Event->Header.SignalState = 0;
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

/* Like KeResetEvent without the previous state, and so without the lock:
 * one aligned store, which no reader can see half done. */
VOID KeClearEvent(PRKEVENT Event)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeClearEvent);
    __atomic_store_n(&Event->Header.SignalState, 0, __ATOMIC_RELEASE);
}

LONG KeReadStateEvent(PRKEVENT Event)
{
    return __atomic_load_n(&Event->Header.SignalState, __ATOMIC_ACQUIRE);
}

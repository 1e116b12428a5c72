/*
 * timer.c - KTIMER: dispatcher objects that signal at a due time.
 *
 * Set timers sit in one list sorted by due time (interrupt time, 100 ns
 * units). The clock interrupt only compares the current time with
 * KiNextTimerDue and queues KiTimerExpirationDpc when it has passed; the
 * DPC, at DISPATCH_LEVEL with the dispatcher lock held, signals each
 * expired timer (waking its waiters), queues its DPC, re-arms it if it is
 * periodic, and ends the waits whose timeout it was (KTHREAD.WaitTimer).
 * NT spreads timers over a 256-slot table; a sorted list is the same idea
 * with O(n) insertion, plenty for a teaching kernel.
 */
#include "ke_internal.h"

#define KI_100NS_PER_MS 10000

static LIST_ENTRY KiTimerListHead;
static volatile ULONGLONG KiNextTimerDue = ~0ULL;
static KDPC KiTimerExpirationDpc;

static void KiUpdateNextDue(void)
{
    KiNextTimerDue = IsListEmpty(&KiTimerListHead)
                         ? ~0ULL
                         : CONTAINING_RECORD(KiTimerListHead.Flink, KTIMER, TimerListEntry)
                               ->DueTime.QuadPart;
}

/* Dispatcher lock held. DueTime < 0: relative; >= 0: absolute interrupt time. */
BOOLEAN KiInsertTimer(PKTIMER Timer, LONGLONG DueTime)
{
    ULONGLONG due = DueTime < 0 ? KeQueryInterruptTime() + (ULONGLONG)(-DueTime) : (ULONGLONG)DueTime;
    PLIST_ENTRY e;

    Timer->DueTime.QuadPart = due;
    Timer->Header.SignalState = 0;
    Timer->Header.Inserted = TRUE;
    for (e = KiTimerListHead.Flink; e != &KiTimerListHead; e = e->Flink)
        if (CONTAINING_RECORD(e, KTIMER, TimerListEntry)->DueTime.QuadPart > due)
            break;
    InsertTailList(e, &Timer->TimerListEntry);   /* i.e. just before e */
    KiUpdateNextDue();
    return TRUE;
}

BOOLEAN KiRemoveTimer(PKTIMER Timer)
{
    if (!Timer->Header.Inserted)
        return FALSE;
    RemoveEntryList(&Timer->TimerListEntry);
    Timer->Header.Inserted = FALSE;
    KiUpdateNextDue();
    return TRUE;
}

static VOID KiTimerExpiration(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    ULONGLONG now = KeQueryInterruptTime();
    KIRQL old = KiAcquireDispatcherLock();

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    while (!IsListEmpty(&KiTimerListHead)) {
        PKTIMER timer = CONTAINING_RECORD(KiTimerListHead.Flink, KTIMER, TimerListEntry);
        if (timer->DueTime.QuadPart > now)
            break;
        KiRemoveTimer(timer);
        if (timer->Header.Type == KI_WAIT_TIMER_OBJECT) {
            PKTHREAD thread = CONTAINING_RECORD(timer, KTHREAD, WaitTimer);
            thread->WaitTimerActive = FALSE;
            if (thread->State == Waiting)
                KiUnwaitThread(thread, STATUS_TIMEOUT);
            continue;
        }
        timer->Header.SignalState = 1;
        KiWaitTest(&timer->Header, 0);
        if (timer->Period != 0)
            KiInsertTimer(timer, (LONGLONG)(timer->DueTime.QuadPart +
                                            (ULONGLONG)timer->Period * KI_100NS_PER_MS));
        if (timer->Dpc != NULL)
            KeInsertQueueDpc(timer->Dpc, (PVOID)(ULONG_PTR)now, NULL);
    }
    KiReleaseDispatcherLock(old);
}

VOID KiInitializeTimers(VOID)
{
    InitializeListHead(&KiTimerListHead);
    KeInitializeDpc(&KiTimerExpirationDpc, KiTimerExpiration, NULL);
    KeSetImportanceDpc(&KiTimerExpirationDpc, HighImportance);
}

/* Clock interrupt, CLOCK_LEVEL. */
VOID KiCheckTimers(ULONGLONG InterruptTime)
{
    if (InterruptTime >= KiNextTimerDue)
        KeInsertQueueDpc(&KiTimerExpirationDpc, NULL, NULL);
}

VOID KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)
{
    Timer->Header.Type = Type == NotificationTimer ? TimerNotificationObject
                                                   : TimerSynchronizationObject;
    Timer->Header.SignalState = 0;
    Timer->Header.Inserted = FALSE;
    InitializeListHead(&Timer->Header.WaitListHead);
    Timer->Dpc = NULL;
    Timer->Period = 0;
}

VOID KeInitializeTimer(PKTIMER Timer)
{
    KeInitializeTimerEx(Timer, NotificationTimer);
}

BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)
{
    KIRQL old;
    BOOLEAN wasSet;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeSetTimerEx);
    old = KiAcquireDispatcherLock();
    wasSet = KiRemoveTimer(Timer);
    Timer->Dpc = Dpc;
    Timer->Period = Period;
    KiInsertTimer(Timer, DueTime.QuadPart);
    KiReleaseDispatcherLock(old);
    return wasSet;
}

BOOLEAN KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc)
{
    return KeSetTimerEx(Timer, DueTime, 0, Dpc);
}

BOOLEAN KeCancelTimer(PKTIMER Timer)
{
    KIRQL old;
    BOOLEAN wasSet;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeCancelTimer);
    old = KiAcquireDispatcherLock();
    wasSet = KiRemoveTimer(Timer);
    KiReleaseDispatcherLock(old);
    return wasSet;
}

BOOLEAN KeReadStateTimer(PKTIMER Timer)
{
    return Timer->Header.SignalState != 0;
}

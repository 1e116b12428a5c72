/*
 * timer.c - KTIMER: dispatcher objects that signal at a due time.
 *
 * Set timers sit in one list sorted by due time, kept as interrupt time
 * (100 ns units since boot, which never jumps). The clock interrupt only
 * compares the current time with KiNextTimerDue and queues
 * KiTimerExpirationDpc when it has passed; the DPC, at DISPATCH_LEVEL
 * with the dispatcher lock held, signals each expired timer (waking its
 * waiters), queues its DPC, re-arms it if it is periodic, and ends the
 * waits whose timeout it was (KTHREAD.WaitTimer).
 *
 * A caller's due time is NT's: negative = relative to now, positive =
 * absolute *system* time (100 ns units since 1601, KeQuerySystemTime), which
 * is converted to interrupt time when the timer is set (Header.Absolute
 * remembers which it was). A timer's DPC gets the system time of the
 * expiry in its two system arguments, low 32 bits first, as NT passes it.
 *
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

/* System time runs ahead of interrupt time by a fixed bias (clock.c), so an
 * absolute due time is that bias away from the interrupt time it means.
 * One in the past is due now. */
ULONGLONG KiDueTimeToInterruptTime(LONGLONG DueTime)
{
    LARGE_INTEGER systemNow;
    ULONGLONG now = KeQueryInterruptTime();

    if (DueTime < 0)
        return now + (ULONGLONG)(-DueTime);
    KeQuerySystemTimePrecise(&systemNow);
    if (DueTime <= systemNow.QuadPart)
        return now;
    return now + (ULONGLONG)(DueTime - systemNow.QuadPart);
}

/* Dispatcher lock held. */
VOID KiInsertTimer(PKTIMER Timer, ULONGLONG DueInterruptTime, BOOLEAN Absolute)
{
    PLIST_ENTRY e;

    Timer->DueTime.QuadPart = DueInterruptTime;
    Timer->Header.SignalState = 0;
    Timer->Header.Absolute = Absolute ? 1 : 0;
    Timer->Header.Inserted = 1;
    for (e = KiTimerListHead.Flink; e != &KiTimerListHead; e = e->Flink)
        if (CONTAINING_RECORD(e, KTIMER, TimerListEntry)->DueTime.QuadPart > DueInterruptTime)
            break;
    InsertTailList(e, &Timer->TimerListEntry);   /* i.e. just before e */
    KiUpdateNextDue();
}

BOOLEAN KiRemoveTimer(PKTIMER Timer)
{
    if (!Timer->Header.Inserted)
        return FALSE;
    RemoveEntryList(&Timer->TimerListEntry);
    Timer->Header.Inserted = 0;
    KiUpdateNextDue();
    return TRUE;
}

static VOID KiTimerExpiration(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    ULONGLONG now = KeQueryInterruptTime();
    LARGE_INTEGER systemTime;
    KIRQL old = KiAcquireDispatcherLock();

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    /* The system time of the moment the expiry is judged at, not the last
     * tick's: a timer due after that tick but before `now` expires here,
     * and its DPC must not be told a time before its due time. */
    systemTime.QuadPart = KiInterruptTimeToSystemTime(now);
    while (!IsListEmpty(&KiTimerListHead)) {
        PKTIMER timer = CONTAINING_RECORD(KiTimerListHead.Flink, KTIMER, TimerListEntry);
        if (timer->DueTime.QuadPart > now)
            break;
        KiRemoveTimer(timer);
        if (timer->Header.Type == KI_WAIT_TIMER_OBJECT) {
            PKTHREAD thread = CONTAINING_RECORD(timer, KTHREAD, WaitTimer);
            thread->WaitTimerActive = FALSE;
            if (thread->State == Waiting)
                KiUnwaitThread(thread, STATUS_TIMEOUT, IO_NO_INCREMENT);
            continue;
        }
        timer->Header.SignalState = 1;
        KiWaitTest(&timer->Header, IO_NO_INCREMENT);
        if (timer->Period != 0)
            KiInsertTimer(timer, timer->DueTime.QuadPart + (ULONGLONG)timer->Period * KI_100NS_PER_MS,
                          timer->Header.Absolute);
        if (timer->Dpc != NULL)
            KeInsertQueueDpc(timer->Dpc, (PVOID)(ULONG_PTR)systemTime.LowPart,
                             (PVOID)(ULONG_PTR)(ULONG)systemTime.HighPart);
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
    Timer->Header.Lock = 0;
    Timer->Header.TimerType = Type == NotificationTimer ? TimerNotificationObject
                                                        : TimerSynchronizationObject;
    Timer->Header.Size = sizeof(KTIMER) / sizeof(ULONG);
    Timer->Header.SignalState = 0;
    InitializeListHead(&Timer->Header.WaitListHead);
    Timer->DueTime.QuadPart = 0;
    Timer->Dpc = NULL;
    Timer->Processor = 0;
    Timer->Period = 0;
}

VOID KeInitializeTimer(PKTIMER Timer)
{
    KeInitializeTimerEx(Timer, NotificationTimer);
}

/* Period is in ms, >= 0 (Learn: "must be less than or equal to MAXLONG"). */
BOOLEAN KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)
{
    KIRQL old;
    BOOLEAN wasSet;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeSetTimerEx);
    old = KiAcquireDispatcherLock();
    wasSet = KiRemoveTimer(Timer);
    Timer->Dpc = Dpc;
    Timer->Period = (ULONG)Period;
    KiInsertTimer(Timer, KiDueTimeToInterruptTime(DueTime.QuadPart), DueTime.QuadPart > 0);
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
    return __atomic_load_n(&Timer->Header.SignalState, __ATOMIC_ACQUIRE) != 0;
}

/*
 * The kd> shell's !timer: a copy of up to Max queued timers, soonest
 * first, taken under the dispatcher lock; returns how many are queued.
 */
ULONG KiSnapshotTimers(PKI_TIMER_SNAPSHOT Out, ULONG Max)
{
    KIRQL old = KiAcquireDispatcherLock();
    ULONG n = 0;

    for (PLIST_ENTRY e = KiTimerListHead.Flink; e != &KiTimerListHead; e = e->Flink, n++)
        if (n < Max) {
            PKTIMER t = CONTAINING_RECORD(e, KTIMER, TimerListEntry);
            Out[n].Timer = t;
            Out[n].DueTime = t->DueTime.QuadPart;
            Out[n].Dpc = t->Dpc;
            Out[n].DeferredRoutine = t->Dpc != NULL ? t->Dpc->DeferredRoutine : NULL;
            Out[n].Period = t->Period;
        }
    KiReleaseDispatcherLock(old);
    return n;
}

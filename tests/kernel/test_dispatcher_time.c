/*
 * test_dispatcher_time.c - system time and absolute due times, as NT has
 * them: KeQuerySystemTime(Precise) counts 100 ns units since 1601 from the
 * RTC read at boot; a positive due time (KeSetTimer, a wait's timeout,
 * KeDelayExecutionThread) is a moment of that clock; a timer's DPC is told
 * the system time in SystemArgument1 (low part) and SystemArgument2 (high).
 *
 * Tolerances are generous for a loaded host running QEMU under TCG: never
 * early, at most half a second late. A positive due time read as
 * interrupt time instead (the old behaviour) lies some 400 centuries
 * ahead, so those tests fail by timing out, not by a margin.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define HNS_PER_MS 10000LL
#define KTT_LATE_MS 500                     /* how late a timer may be under load */

static LONGLONG SystemNow(void)
{
    LARGE_INTEGER t;
    KeQuerySystemTimePrecise(&t);
    return t.QuadPart;
}

/* The bias lies in [system - later interrupt time, system - earlier one] (+1 for rounding). */
static void BracketBias(LONGLONG *Low, LONGLONG *High)
{
    LONGLONG before = (LONGLONG)KeQueryInterruptTime();
    LONGLONG system = SystemNow();
    LONGLONG after = (LONGLONG)KeQueryInterruptTime();

    *Low = system - after - 1;
    *High = system - before + 1;
}

KTEST(systime, plausible_and_monotonic)
{
    LARGE_INTEGER coarse, precise, later;
    LARGE_INTEGER delay = {.QuadPart = -20 * HNS_PER_MS};
    TIME_FIELDS f;

    KeQuerySystemTime(&coarse);
    KeQuerySystemTimePrecise(&precise);
    RtlTimeToTimeFields(&precise, &f);
    KEXPECT_GE(f.Year, 2024);               /* the RTC was read, and read right */
    KEXPECT_LE(f.Year, 2200);
    /* The tick-resolution clock is behind the precise one, by less than a few ticks. */
    KEXPECT_LE(coarse.QuadPart, precise.QuadPart);
    KEXPECT_LT(precise.QuadPart - coarse.QuadPart, KTT_LATE_MS * HNS_PER_MS);
    /* Both advance with interrupt time. */
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
    KeQuerySystemTimePrecise(&later);
    KEXPECT_GE(later.QuadPart - precise.QuadPart, 20 * HNS_PER_MS);
    KEXPECT_LT(later.QuadPart - precise.QuadPart, (20 + KTT_LATE_MS) * HNS_PER_MS);
    KeQuerySystemTime(&later);
    KEXPECT_GT(later.QuadPart, coarse.QuadPart);
    /* System time = interrupt time + a constant: bracket it twice, 20 ms
     * apart; the brackets must overlap, however long the host stalls us. */
    {
        LONGLONG low1, high1, low2, high2;
        BracketBias(&low1, &high1);
        KeDelayExecutionThread(KernelMode, FALSE, &delay);
        BracketBias(&low2, &high2);
        KEXPECT_LE(low1, high2);
        KEXPECT_LE(low2, high1);
    }
}

static volatile ULONG AbsDpcRuns;
static volatile ULONG_PTR AbsArg1, AbsArg2;

static VOID RecordSystemTimeDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    AbsArg1 = (ULONG_PTR)A1;
    AbsArg2 = (ULONG_PTR)A2;
    AbsDpcRuns++;
}

static LONGLONG DpcSystemTime(void)
{
    return (LONGLONG)(((ULONG64)AbsArg2 << 32) | AbsArg1);
}

KTEST(timer, absolute_due_time_is_system_time)
{
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due, guard = {.QuadPart = -2000 * HNS_PER_MS};
    ULONGLONG start = KeQueryInterruptTime(), fired;

    AbsDpcRuns = 0;
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, RecordSystemTimeDpc, NULL);
    due.QuadPart = SystemNow() + 30 * HNS_PER_MS;
    KEXPECT_FALSE(KeSetTimer(&timer, due, &dpc));
    KEXPECT_EQ(timer.Header.Absolute, 1);
    KEXPECT_EQ(timer.Header.Inserted, 1);
    KASSERT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &guard), STATUS_WAIT_0);
    fired = KeQueryInterruptTime();
    /* The expiry signals the timer, then queues its DPC: with several
     * processors this thread may wake before the DPC has run. */
    KeFlushQueuedDpcs();
    KEXPECT_GE(fired - start, 30 * HNS_PER_MS);
    KEXPECT_LT(fired - start, (30 + KTT_LATE_MS) * HNS_PER_MS);
    KEXPECT_EQ(timer.Header.Inserted, 0);
    /* The DPC ran once and was told the system time of the expiry. */
    KEXPECT_EQ(AbsDpcRuns, 1);
    KEXPECT_LE(AbsArg1, 0xFFFFFFFFULL);     /* 32 bits in each argument */
    KEXPECT_LE(AbsArg2, 0xFFFFFFFFULL);
    KEXPECT_GE(DpcSystemTime(), due.QuadPart);
    KEXPECT_LT(DpcSystemTime(), due.QuadPart + KTT_LATE_MS * HNS_PER_MS);

    /* A moment already past: due at once. */
    AbsDpcRuns = 0;
    due.QuadPart = SystemNow() - 1000 * HNS_PER_MS;
    start = KeQueryInterruptTime();
    KeSetTimer(&timer, due, &dpc);
    KASSERT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &guard), STATUS_WAIT_0);
    KEXPECT_LT(KeQueryInterruptTime() - start, KTT_LATE_MS * HNS_PER_MS);
    KeFlushQueuedDpcs();
    KEXPECT_EQ(AbsDpcRuns, 1);
}

/* A relative timer's DPC gets the system time too (the old code passed interrupt time). */
KTEST(timer, relative_timer_dpc_gets_system_time)
{
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due = {.QuadPart = -10 * HNS_PER_MS};
    LONGLONG before = SystemNow();

    AbsDpcRuns = 0;
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, RecordSystemTimeDpc, NULL);
    KeSetTimer(&timer, due, &dpc);
    KEXPECT_EQ(timer.Header.Absolute, 0);
    KEXPECT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL), STATUS_WAIT_0);
    KeFlushQueuedDpcs();                /* the DPC may still be on its way (see above) */
    KEXPECT_EQ(AbsDpcRuns, 1);
    KEXPECT_GE(DpcSystemTime(), before + 10 * HNS_PER_MS);
    KEXPECT_LE(DpcSystemTime(), SystemNow());
}

/* A wait's timeout and a delay take absolute system time as well. */
KTEST(wait, absolute_timeout_and_delay)
{
    KEVENT e;
    LARGE_INTEGER until;
    ULONGLONG start;

    KeInitializeEvent(&e, NotificationEvent, FALSE);
    start = KeQueryInterruptTime();
    until.QuadPart = SystemNow() + 20 * HNS_PER_MS;
    KEXPECT_EQ(KeWaitForSingleObject(&e, Executive, KernelMode, FALSE, &until), STATUS_TIMEOUT);
    KEXPECT_GE(KeQueryInterruptTime() - start, 20 * HNS_PER_MS);
    KEXPECT_LT(KeQueryInterruptTime() - start, (20 + KTT_LATE_MS) * HNS_PER_MS);

    start = KeQueryInterruptTime();
    until.QuadPart = SystemNow() + 15 * HNS_PER_MS;
    KEXPECT_EQ(KeDelayExecutionThread(KernelMode, FALSE, &until), STATUS_SUCCESS);
    KEXPECT_GE(KeQueryInterruptTime() - start, 15 * HNS_PER_MS);
    KEXPECT_LT(KeQueryInterruptTime() - start, (15 + KTT_LATE_MS) * HNS_PER_MS);
}

/* A periodic timer first due at an absolute time keeps its period. */
static volatile ULONG PeriodicRuns;

static VOID CountDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    PeriodicRuns++;
}

KTEST(timer, absolute_first_due_then_periodic)
{
    KTIMER timer;
    KDPC dpc;
    LARGE_INTEGER due, run = {.QuadPart = -100 * HNS_PER_MS};
    ULONGLONG start;
    ULONG runs;

    PeriodicRuns = 0;
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    KeInitializeDpc(&dpc, CountDpc, NULL);
    start = KeQueryInterruptTime();
    due.QuadPart = SystemNow() + 10 * HNS_PER_MS;
    KeSetTimerEx(&timer, due, 10, &dpc);
    KeDelayExecutionThread(KernelMode, FALSE, &run);
    KEXPECT_TRUE(KeCancelTimer(&timer));
    /* The timer DPC runs on the processor whose clock expires timers: one
     * queued there just before the cancel must be done before we count
     * (and before the KDPC on this stack goes away). */
    KeFlushQueuedDpcs();
    runs = PeriodicRuns;
    /* Due at 10, 20, 30 ... ms: never more runs than whole periods elapsed. */
    KEXPECT_GE(runs, 3);
    KEXPECT_LE(runs, (KeQueryInterruptTime() - start) / (10 * HNS_PER_MS));
}

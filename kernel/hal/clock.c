/*
 * clock.c - time (Hal + Ke): the clock interrupt, interrupt time, stalls.
 *
 * Each processor's local APIC timer, calibrated against the TSC, interrupts every
 * KeTimeIncrement (1 ms) at CLOCK_LEVEL (vector 0xD1). The clock
 * interrupt counts the tick, charges the running thread's quantum (asking
 * for a reschedule when it is used up) and asks for the timer DPC when
 * the earliest KTIMER is due. Everything else happens later at
 * DISPATCH_LEVEL, as in NT.
 *
 * Interrupt time (KeQueryInterruptTime) and the performance counter come
 * from the TSC, so they are exact to the cycle rather than to the tick.
 *
 * System time (100 ns units since 1601) is interrupt time plus a bias set
 * once from the RTC at boot (rtc.c). As in NT, KeQuerySystemTime returns
 * the value the clock interrupt stored at the last tick (cheap, tick
 * resolution) and KeQuerySystemTimePrecise interpolates with the TSC.
 */
#include "../ke/ke_internal.h"

#define KI_CLOCK_PERIOD_MS 1
#define KI_100NS_PER_MS 10000

static ULONG64 KiClockTscBase;
static volatile ULONG64 KiTickCount;
static const ULONG KeTimeIncrement = KI_CLOCK_PERIOD_MS * KI_100NS_PER_MS;
static LONGLONG KiSystemTimeBias;           /* system time - interrupt time */
static LONGLONG KiSystemTime;               /* at the last clock tick; 0 before the first */

ULONGLONG KiTscToInterruptTime(ULONG64 Tsc)
{
    ULONG64 ticks = Tsc - KiClockTscBase;

    /* 100 ns units: ticks * 10^7 / frequency, split to avoid overflow. */
    return (ticks / KeTimeStampFrequency) * 10000000ULL +
           (ticks % KeTimeStampFrequency) * 10000000ULL / KeTimeStampFrequency;
}

ULONGLONG KeQueryInterruptTime(VOID)
{
    return KiTscToInterruptTime(KeReadTimeStampCounter());
}

VOID KiSetSystemTimeBias(LONGLONG Bias)
{
    __atomic_store_n(&KiSystemTimeBias, Bias, __ATOMIC_RELEASE);
    __atomic_store_n(&KiSystemTime, (LONGLONG)KeQueryInterruptTime() + Bias, __ATOMIC_RELEASE);
}

LONGLONG KiInterruptTimeToSystemTime(ULONGLONG InterruptTime)
{
    return (LONGLONG)InterruptTime + __atomic_load_n(&KiSystemTimeBias, __ATOMIC_ACQUIRE);
}

VOID KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime)
{
    CurrentTime->QuadPart =
        (LONGLONG)KeQueryInterruptTime() + __atomic_load_n(&KiSystemTimeBias, __ATOMIC_ACQUIRE);
}

VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime)
{
    LONGLONG time = __atomic_load_n(&KiSystemTime, __ATOMIC_ACQUIRE);

    if (time == 0)
        KeQuerySystemTimePrecise(CurrentTime);      /* before the first tick */
    else
        CurrentTime->QuadPart = time;
}

VOID KeQueryTickCount(PLARGE_INTEGER TickCount)
{
    TickCount->QuadPart = (LONGLONG)KiTickCount;
}

ULONG KeQueryTimeIncrement(VOID)
{
    return KeTimeIncrement;
}

LARGE_INTEGER KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)
{
    LARGE_INTEGER now;

    if (PerformanceFrequency)
        PerformanceFrequency->QuadPart = (LONGLONG)KeTimeStampFrequency;
    now.QuadPart = (LONGLONG)KeReadTimeStampCounter();
    return now;
}

/* Busy-wait; any IRQL. NT asks callers to keep it under 50 us. */
VOID KeStallExecutionProcessor(ULONG MicroSeconds)
{
    ULONG64 start = KeReadTimeStampCounter();
    ULONG64 wait = KeTimeStampFrequency / 1000000 * MicroSeconds;

    while (KeReadTimeStampCounter() - start < wait)
        __asm__ __volatile__("pause");
}

/* At CLOCK_LEVEL, from the interrupt dispatcher. */
VOID KiClockInterrupt(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD thread = prcb->CurrentThread;
    ULONGLONG now = KeQueryInterruptTime();

    prcb->ClockTicks++;
    /* Every processor's clock charges its own thread; the system-wide
     * counts and the timer list are processor 0's alone, so a tick is
     * counted once and one processor looks for expired timers. */
    if (prcb->Number == 0) {
        KiTickCount++;
        __atomic_store_n(&KiSystemTime,
                         (LONGLONG)now + __atomic_load_n(&KiSystemTimeBias, __ATOMIC_RELAXED),
                         __ATOMIC_RELEASE);
        KiCheckTimers(now);
    }
    if (thread != NULL && thread != prcb->IdleThread && thread->Quantum > 0 &&
        --thread->Quantum == 0) {
        prcb->QuantumEnd = TRUE;
        prcb->DispatchRequest = 1;
    } else if (thread == prcb->IdleThread && KiReadyThreadsWaiting()) {
        /* A ready thread that no processor was asked to run (the one asked
         * took another): an idle processor looks at the queues each tick. */
        prcb->QuantumEnd = TRUE;
        prcb->DispatchRequest = 1;
    }
}

/* Each processor's own local APIC timer: calibrated there, since the
 * timers of different processors need not run at one rate. */
VOID HalpInitializeClockProcessor(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    prcb->ApicTimerTicksPerMs = HalpApicTimerTicksPerMs();
    HalpApicStartPeriodicTimer(KI_VECTOR_CLOCK, prcb->ApicTimerTicksPerMs * KI_CLOCK_PERIOD_MS);
}

VOID HalpInitializeClock(VOID)
{
    ULONG perMs = HalpApicTimerTicksPerMs();

    KeGetCurrentPrcb()->ApicTimerTicksPerMs = perMs;
    KiClockTscBase = KiBootTsc;
    HalpApicStartPeriodicTimer(KI_VECTOR_CLOCK, perMs * KI_CLOCK_PERIOD_MS);
    DbgPrint("Hal: clock %u ms (%u APIC timer ticks), vector %x\n", KI_CLOCK_PERIOD_MS,
             perMs * KI_CLOCK_PERIOD_MS, KI_VECTOR_CLOCK);
}

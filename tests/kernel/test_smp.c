/*
 * test_smp.c - the processors as NT's interface shows them: counts and
 * masks that agree, threads that run where they are pinned (and really at
 * the same time), DPCs that run on the processor they target, and IPIs
 * (KeIpiGenericCall, KiIpiSendPacket) that reach every processor asked
 * for, at IPI_LEVEL.
 *
 * Every test runs on one processor too (N = 1); the ones that can say
 * nothing there (a second processor to reach) skip with "needs 2
 * processors". The stress tests with model checks are test_smp_stress.c.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"
#include "smp_threads.h"

#define KTS_WAIT_MS 10000

static ULONG KtsCount(void)
{
    return KeQueryActiveProcessorCount(NULL);
}

static LARGE_INTEGER KtsRelativeMs(ULONG Milliseconds)
{
    LARGE_INTEGER t;

    t.QuadPart = -(LONGLONG)Milliseconds * 10000;
    return t;
}

/* ---- counts and masks ------------------------------------------------------------------ */

KTEST(smp, active_count_is_popcount_of_mask)
{
    KAFFINITY mask = 0, active = KeQueryActiveProcessors();
    ULONG count = KeQueryActiveProcessorCount(&mask);
    PROCESSOR_NUMBER pn;

    KtestPrint("#   %u active processors, mask 0x%llx\n", count, (ULONG64)active);
    KEXPECT_EQ(count, KsmpPopCount(active));
    KEXPECT_EQ(mask, active);
    KEXPECT_EQ(count, (ULONG)KeNumberProcessors);
    KEXPECT_GE(count, 1);
    KEXPECT_LE(count, MAXIMUM_PROCESSORS);
    /* Processors are numbered 0 .. N-1 (one group): the mask has no holes,
     * and the boot processor is 0. */
    KEXPECT_EQ(active, count == 64 ? ~(KAFFINITY)0 : AFFINITY_MASK(count) - 1);
    KEXPECT_EQ(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), count);
    KEXPECT_EQ(KeQueryActiveProcessorCountEx(0), count);
    KEXPECT_EQ(KeQueryActiveProcessorCountEx(1), 0);
    KEXPECT_LT(KeGetCurrentProcessorNumber(), count);
    pn.Reserved = 0xEE;
    KEXPECT_EQ(KeGetCurrentProcessorNumberEx(&pn), KeGetCurrentProcessorNumber());
    KEXPECT_EQ(pn.Group, 0);
    KEXPECT_EQ(pn.Number, KeGetCurrentProcessorNumber());
    KEXPECT_EQ(pn.Reserved, 0);
}

/* ---- affinity ---------------------------------------------------------------------------- */

/* The calling thread moved to each processor in turn reports it, through
 * waits and yields (a thread that moves elsewhere would report another). */
KTEST(smp, system_affinity_moves_the_caller)
{
    LARGE_INTEGER shortWait = KtsRelativeMs(1);
    KAFFINITY previous;

    for (ULONG n = 0; n < KtsCount(); n++) {
        previous = KsmpPin(n);
        KEXPECT_EQ(KeGetCurrentProcessorNumber(), n);
        for (int i = 0; i < 5; i++) {
            ZwYieldExecution();
            KEXPECT_EQ(KeGetCurrentProcessorNumber(), n);
            KeDelayExecutionThread(KernelMode, FALSE, &shortWait);
            KEXPECT_EQ(KeGetCurrentProcessorNumber(), n);
        }
        KsmpUnpin(previous);
    }
}

/* A mask with no active processor is refused and changes nothing. */
KTEST(smp, affinity_without_an_active_processor_is_refused)
{
    ULONG count = KtsCount();
    KAFFINITY previous, inactive;

    if (count == MAXIMUM_PROCESSORS)
        KTEST_SKIP("every processor is active");
    inactive = ~(AFFINITY_MASK(count) - 1);
    previous = KsmpPin(count - 1);
    KEXPECT_EQ(KeSetAffinityThread(KeGetCurrentThread(), inactive), 0);
    KeSetSystemAffinityThread(inactive);
    KEXPECT_EQ(KeGetCurrentProcessorNumber(), count - 1);
    for (int i = 0; i < 3; i++) {
        ZwYieldExecution();
        KEXPECT_EQ(KeGetCurrentProcessorNumber(), count - 1);
    }
    KsmpUnpin(previous);
}

typedef struct _KTS_WHERE {
    ULONG Seen[KSMP_MAX_THREADS][8];
} KTS_WHERE;

/* Each thread looks where it runs eight times, yielding and sleeping between. */
static VOID KtsReportWhere(PVOID Context, ULONG Index)
{
    KTS_WHERE *w = Context;
    LARGE_INTEGER shortWait = KtsRelativeMs(1);

    for (int i = 0; i < 8; i++) {
        w->Seen[Index][i] = KeGetCurrentProcessorNumber();
        if (i & 1)
            KeDelayExecutionThread(KernelMode, FALSE, &shortWait);
        else
            ZwYieldExecution();
    }
}

static VOID KtsCheckPinned(KSMP_PIN Pin)
{
    static KTS_WHERE where;
    static KSMP_RUN run;

    RtlZeroMemory(&where, sizeof(where));
    RtlZeroMemory(&run, sizeof(run));
    run.Work = KtsReportWhere;
    run.Context = &where;
    run.Count = KtsCount() * 2;         /* two per processor: they share it */
    if (run.Count > KSMP_MAX_THREADS)
        run.Count = KSMP_MAX_THREADS;
    run.Pin = Pin;
    KEXPECT_TRUE(KsmpRun(&run));
    for (ULONG t = 0; t < run.Count; t++)
        for (int i = 0; i < 8; i++)
            KEXPECT_EQ(where.Seen[t][i], run.PinnedTo[t]);
}

KTEST(smp, thread_pinned_by_creator_reports_its_processor)
{
    KtsCheckPinned(KsmpPinByCreator);
}

KTEST(smp, thread_pinned_by_itself_reports_its_processor)
{
    KtsCheckPinned(KsmpPinSelf);
}

/*
 * Two processors really run at once: every thread raises to DISPATCH_LEVEL
 * (no thread switch from there on) and waits for all the others to arrive.
 * Threads sharing one processor could never all arrive; the wait is
 * bounded by the TSC so that such a failure is reported, not hung.
 */
static struct {
    volatile LONG Arrived;
    ULONG Count;
    BOOLEAN AllSeen[KSMP_MAX_THREADS];
} KtsMeet;

static VOID KtsMeetAtDispatch(PVOID Context, ULONG Index)
{
    ULONG64 deadline = KeReadTimeStampCounter() + KsmpTicks(5000);
    KIRQL old;

    UNREFERENCED_PARAMETER(Context);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    __atomic_add_fetch(&KtsMeet.Arrived, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&KtsMeet.Arrived, __ATOMIC_SEQ_CST) < (LONG)KtsMeet.Count &&
           KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    KtsMeet.AllSeen[Index] = __atomic_load_n(&KtsMeet.Arrived, __ATOMIC_SEQ_CST) ==
                             (LONG)KtsMeet.Count;
    KeLowerIrql(old);
}

KTEST(smp, pinned_threads_run_at_the_same_time)
{
    static KSMP_RUN run;

    if (KtsCount() < 2)
        KTEST_SKIP("needs 2 processors");
    RtlZeroMemory(&run, sizeof(run));
    RtlZeroMemory(&KtsMeet, sizeof(KtsMeet));
    KtsMeet.Count = run.Count = KtsCount();
    run.Work = KtsMeetAtDispatch;
    run.Pin = KsmpPinSelf;
    KEXPECT_TRUE(KsmpRun(&run));
    for (ULONG t = 0; t < run.Count; t++)
        KEXPECT_TRUE(KtsMeet.AllSeen[t]);
}

/* ---- DPCs on a chosen processor --------------------------------------------------------------- */

typedef struct _KTS_DPC_RUN {
    KDPC Dpc;
    KEVENT Ran;
    volatile ULONG Processor;
    volatile KIRQL Irql;
} KTS_DPC_RUN;

static VOID KtsDpcRecord(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    KTS_DPC_RUN *r = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    r->Processor = KeGetCurrentProcessorNumber();
    r->Irql = KeGetCurrentIrql();
    KeSetEvent(&r->Ran, 0, FALSE);
}

/* Queue a DPC for processor Target from processor From; where did it run? */
static VOID KtsDpcOn(ULONG Target, ULONG From, BOOLEAN Ex)
{
    static KTS_DPC_RUN r;
    LARGE_INTEGER timeout = KtsRelativeMs(KTS_WAIT_MS);
    KAFFINITY previous = KsmpPin(From);

    KeInitializeDpc(&r.Dpc, KtsDpcRecord, &r);
    KeInitializeEvent(&r.Ran, NotificationEvent, FALSE);
    r.Processor = ~0U;
    r.Irql = 0xFF;
    if (Ex) {
        PROCESSOR_NUMBER pn = {.Group = 0, .Number = (UCHAR)Target, .Reserved = 0};
        KEXPECT_EQ(KeSetTargetProcessorDpcEx(&r.Dpc, &pn), STATUS_SUCCESS);
    } else {
        KeSetTargetProcessorDpc(&r.Dpc, (CCHAR)Target);
    }
    KEXPECT_TRUE(KeInsertQueueDpc(&r.Dpc, NULL, NULL));
    KEXPECT_EQ(KeWaitForSingleObject(&r.Ran, Executive, KernelMode, FALSE, &timeout),
               STATUS_WAIT_0);
    KEXPECT_EQ(r.Processor, Target);
    KEXPECT_EQ(r.Irql, DISPATCH_LEVEL);
    KeFlushQueuedDpcs();
    KsmpUnpin(previous);
}

KTEST(smp, targeted_dpc_runs_on_its_processor)
{
    ULONG count = KtsCount();

    /* From the processor itself, and from the next one. */
    for (ULONG n = 0; n < count; n++) {
        KtsDpcOn(n, n, FALSE);
        KtsDpcOn(n, (n + 1) % count, FALSE);
        KtsDpcOn(n, (n + 1) % count, TRUE);
    }
}

KTEST(smp, targeted_dpc_from_another_processor)
{
    ULONG count = KtsCount();

    if (count < 2)
        KTEST_SKIP("needs 2 processors");
    /* Every pair: the inserting processor must interrupt the target. */
    for (ULONG to = 0; to < count; to++)
        for (ULONG from = 0; from < count; from++)
            if (from != to)
                KtsDpcOn(to, from, (to + from) & 1);
}

KTEST(smp, targeted_dpc_ex_refuses_bad_numbers)
{
    KDPC dpc;
    PROCESSOR_NUMBER pn = {.Group = 1, .Number = 0, .Reserved = 0};

    KeInitializeDpc(&dpc, KtsDpcRecord, NULL);
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, &pn), STATUS_INVALID_PARAMETER);
    pn.Group = 0;
    pn.Number = (UCHAR)KtsCount();          /* one past the last */
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, &pn), STATUS_INVALID_PARAMETER);
    pn.Number = 0;
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, &pn), STATUS_SUCCESS);
}

/* ---- IPIs ------------------------------------------------------------------------------------ */

static struct {
    volatile LONG Calls[MAXIMUM_PROCESSORS];
    volatile KIRQL Irql[MAXIMUM_PROCESSORS];
    volatile BOOLEAN InterruptsOff[MAXIMUM_PROCESSORS];
    volatile LONG Arrived;
    volatile BOOLEAN AllArrived[MAXIMUM_PROCESSORS];
    ULONG Count;
} KtsIpi;

static ULONG_PTR KtsIpiWorker(ULONG_PTR Argument)
{
    ULONG n = KeGetCurrentProcessorNumber();

    __atomic_add_fetch(&KtsIpi.Calls[n], 1, __ATOMIC_SEQ_CST);
    KtsIpi.Irql[n] = KeGetCurrentIrql();
    return Argument + n;
}

/* KeIpiGenericCall's workers run all at once: each waits (bounded) for
 * every processor to arrive. */
static ULONG_PTR KtsIpiMeetWorker(ULONG_PTR Argument)
{
    ULONG n = KeGetCurrentProcessorNumber();
    ULONG64 deadline = KeReadTimeStampCounter() + KsmpTicks(5000);

    KtsIpiWorker(Argument);
    __atomic_add_fetch(&KtsIpi.Arrived, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&KtsIpi.Arrived, __ATOMIC_SEQ_CST) < (LONG)KtsIpi.Count &&
           KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    KtsIpi.AllArrived[n] = __atomic_load_n(&KtsIpi.Arrived, __ATOMIC_SEQ_CST) >= (LONG)KtsIpi.Count;
    return Argument + n;
}

static VOID KtsIpiReset(void)
{
    RtlZeroMemory((PVOID)&KtsIpi, sizeof(KtsIpi));
    KtsIpi.Count = KtsCount();
}

KTEST(smp, ipi_generic_call_reaches_every_processor_at_ipi_level)
{
    KAFFINITY active = KeQueryActiveProcessors();

    for (ULONG from = 0; from < KtsCount(); from++) {
        KAFFINITY previous = KsmpPin(from);
        ULONG_PTR result;

        KtsIpiReset();
        result = KeIpiGenericCall(KtsIpiMeetWorker, 1000);
        /* The caller's own run's value. */
        KEXPECT_EQ(result, 1000 + from);
        KEXPECT_EQ(KeGetCurrentProcessorNumber(), from);
        KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
        for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++) {
            KEXPECT_EQ(KtsIpi.Calls[n], (active & AFFINITY_MASK(n)) ? 1 : 0);
            if (active & AFFINITY_MASK(n)) {
                KEXPECT_EQ(KtsIpi.Irql[n], IPI_LEVEL);
                KEXPECT_TRUE(KtsIpi.AllArrived[n]);
            }
        }
        KsmpUnpin(previous);
    }
}

/* From DISPATCH_LEVEL too (its highest IRQL). */
KTEST(smp, ipi_generic_call_from_dispatch_level)
{
    KAFFINITY active = KeQueryActiveProcessors();
    KIRQL old;

    KtsIpiReset();
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeIpiGenericCall(KtsIpiWorker, 0);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
    for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++)
        KEXPECT_EQ(KtsIpi.Calls[n], (active & AFFINITY_MASK(n)) ? 1 : 0);
}

/* KiIpiSendPacket runs the worker on the targets other than the caller,
 * and returns only when each has finished. */
KTEST(smp, ipi_packet_reaches_exactly_its_targets)
{
    KAFFINITY active = KeQueryActiveProcessors();
    ULONG count = KtsCount();

    if (count < 2)
        KTEST_SKIP("needs 2 processors");
    for (ULONG from = 0; from < count; from++) {
        KAFFINITY previous = KsmpPin(from), others = active & ~AFFINITY_MASK(from);
        /* Every other processor, then each other one alone, then the
         * caller included (it is left out). */
        KAFFINITY sets[3] = {others, AFFINITY_MASK((from + 1) % count), active};

        for (int s = 0; s < 3; s++) {
            KAFFINITY expect = sets[s] & ~AFFINITY_MASK(from);
            KIRQL old = PASSIVE_LEVEL;

            KtsIpiReset();
            if (s == 1)
                KeRaiseIrql(DISPATCH_LEVEL, &old);
            KiIpiSendPacket(sets[s], KtsIpiWorker, 0);
            if (s == 1)
                KeLowerIrql(old);
            for (ULONG n = 0; n < MAXIMUM_PROCESSORS; n++) {
                KEXPECT_EQ(KtsIpi.Calls[n], (expect & AFFINITY_MASK(n)) ? 1 : 0);
                if (expect & AFFINITY_MASK(n))
                    KEXPECT_EQ(KtsIpi.Irql[n], IPI_LEVEL);
            }
        }
        KsmpUnpin(previous);
    }
}

/* Two processors sending to each other at once both get served: the
 * sender waits with interrupts on. Every processor sends to every other,
 * many times, all at once. */
static volatile LONG KtsCrossCalls[MAXIMUM_PROCESSORS];

static ULONG_PTR KtsCrossWorker(ULONG_PTR Argument)
{
    UNREFERENCED_PARAMETER(Argument);
    __atomic_add_fetch(&KtsCrossCalls[KeGetCurrentProcessorNumber()], 1, __ATOMIC_SEQ_CST);
    return 0;
}

#define KTS_CROSS_ROUNDS 200

static VOID KtsCrossSend(PVOID Context, ULONG Index)
{
    KAFFINITY others = KeQueryActiveProcessors() & ~AFFINITY_MASK(KeGetCurrentProcessorNumber());

    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Index);
    for (int i = 0; i < KTS_CROSS_ROUNDS; i++) {
        KIRQL old = PASSIVE_LEVEL;

        if (i & 1)
            KeRaiseIrql(DISPATCH_LEVEL, &old);
        KiIpiSendPacket(others, KtsCrossWorker, 0);
        if (i & 1)
            KeLowerIrql(old);
    }
}

KTEST(smp, ipi_packets_crossing_each_other)
{
    static KSMP_RUN run;
    ULONG count = KtsCount();

    if (count < 2)
        KTEST_SKIP("needs 2 processors");
    RtlZeroMemory(&run, sizeof(run));
    RtlZeroMemory((PVOID)KtsCrossCalls, sizeof(KtsCrossCalls));
    run.Work = KtsCrossSend;
    run.Count = count;
    run.Pin = KsmpPinSelf;
    KEXPECT_TRUE(KsmpRun(&run));
    /* Each processor was a target of each of the others' rounds. */
    for (ULONG n = 0; n < count; n++)
        KEXPECT_EQ(KtsCrossCalls[n], (LONG)((count - 1) * KTS_CROSS_ROUNDS));
}

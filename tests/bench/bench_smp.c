/*
 * bench_smp.c - what several processors cost and gain.
 *
 *   ipi.roundtrip          cycles for KiIpiSendPacket to one other processor
 *                          with an empty worker (sent from processor 0 to
 *                          processor 1 at DISPATCH_LEVEL; median of batches).
 *                          One processor has no target: the line is
 *                          "bench ipi.roundtrip skipped", which the runner's
 *                          BENCH_RE (a number required) leaves out.
 *   pool.np.64.scaling     64-byte NonPagedPoolNx alloc+free pairs per second
 *                          with one thread per active processor (each pinned
 *                          to its own), divided by the same with one thread,
 *                          in thousandths: 1000 = no gain, 2000 = twice as
 *                          many. Both phases run in this boot.
 *   pool.np.64.rate.1      the one-thread phase, pairs per second (best round)
 *   pool.np.64.rate.all    the all-processors phase, pairs per second (best round)
 *
 * vCPUs run in parallel only on host cores: the runner records the host's
 * core count next to these figures (host.cpus).
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm.h"
#include "../kbench.h"
#include "../kernel/smp_threads.h"

#define KBS_IPI_BATCH   16
#define KBS_IPI_SAMPLES 101
#define KBS_POOL_MS     100             /* each phase, each round */
#define KBS_POOL_ROUNDS 5
#define KBS_POOL_BATCH  64
#define KBS_TAG 'pSbK'

static ULONG64 KbsSamples[KBS_IPI_SAMPLES];

static ULONG_PTR KbsEmptyWorker(ULONG_PTR Argument)
{
    return Argument;
}

KBENCH(ipi_roundtrip)
{
    KAFFINITY previous;
    KIRQL old;

    if (KeQueryActiveProcessorCount(NULL) < 2) {
        DbgPrint("bench ipi.roundtrip skipped (needs 2 processors)\n");
        return;
    }
    previous = KsmpPin(0);
    KeRaiseIrql(DISPATCH_LEVEL, &old);          /* no thread switch inside a sample */
    KiIpiSendPacket(AFFINITY_MASK(1), KbsEmptyWorker, 0);      /* warm */
    for (ULONG s = 0; s < KBS_IPI_SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < KBS_IPI_BATCH; i++)
            KiIpiSendPacket(AFFINITY_MASK(1), KbsEmptyWorker, i);
        KbsSamples[s] = (KeReadTimeStampCounter() - t0) / KBS_IPI_BATCH;
    }
    KeLowerIrql(old);
    KsmpUnpin(previous);
    KbenchReport("ipi.roundtrip", KbenchMedian(KbsSamples, KBS_IPI_SAMPLES), "cycles");
}

/* ---- pool scaling ---------------------------------------------------------------------------- */

static struct {
    ULONG64 Pairs[KSMP_MAX_THREADS];
    ULONG64 Ticks[KSMP_MAX_THREADS];
} KbsPool;

/* Pairs for KBS_POOL_MS, counted in whole batches, on this thread's clock. */
static VOID KbsPoolWork(PVOID Context, ULONG Index)
{
    ULONG64 t0 = KeReadTimeStampCounter(), end = t0 + KsmpTicks(KBS_POOL_MS), now, pairs = 0;

    UNREFERENCED_PARAMETER(Context);
    do {
        for (ULONG i = 0; i < KBS_POOL_BATCH; i++)
            ExFreePoolWithTag(ExAllocatePoolWithTag(NonPagedPoolNx, 64, KBS_TAG), KBS_TAG);
        pairs += KBS_POOL_BATCH;
        now = KeReadTimeStampCounter();
    } while (now < end);
    KbsPool.Pairs[Index] = pairs;
    KbsPool.Ticks[Index] = now - t0;
}

/* Pairs per second of Threads threads together (each pinned to its own
 * processor), or 0 if the run failed. */
static ULONG64 KbsPoolRate(ULONG Threads)
{
    static KSMP_RUN run;
    ULONG64 rate = 0;

    RtlZeroMemory(&run, sizeof(run));
    RtlZeroMemory(&KbsPool, sizeof(KbsPool));
    run.Work = KbsPoolWork;
    run.Count = Threads;
    run.Pin = KsmpPinSelf;
    if (!KsmpRun(&run))
        return 0;
    for (ULONG t = 0; t < Threads; t++)
        if (KbsPool.Ticks[t] != 0)
            rate += KbsPool.Pairs[t] * KeTimeStampFrequency / KbsPool.Ticks[t];
    return rate;
}

/*
 * The host's other work takes whole time slices from a vCPU, and TCG's
 * vCPU threads share the host's cores: one phase alone varies by 3x on a
 * busy host. So the two phases alternate, KBS_POOL_ROUNDS times each, and
 * each keeps its best rate (the run least disturbed, as benchmarks keep
 * the least time).
 */
KBENCH(pool_np_64_scaling)
{
    ULONG64 one = 0, all = 0;
    ULONG n = KeQueryActiveProcessorCount(NULL);

    KbsPoolRate(n);             /* warm every processor's pool pages and lookasides */
    for (ULONG r = 0; r < KBS_POOL_ROUNDS; r++) {
        ULONG64 a = KbsPoolRate(1), b = KbsPoolRate(n);
        if (a == 0 || b == 0) {
            DbgPrint("bench pool.np.64.scaling failed (a thread did not run where pinned)\n");
            return;
        }
        one = a > one ? a : one;
        all = b > all ? b : all;
    }
    KbenchReport("pool.np.64.rate.1", one, "pairs/s");
    KbenchReport("pool.np.64.rate.all", all, "pairs/s");
    KbenchReport("pool.np.64.scaling", all * 1000 / one, "thousandths");
}

/*
 * bench_pool.c - what the pools cost, in cycles per ExAllocatePoolWithTag +
 * ExFreePool pair (medians of batches), and how much memory a mixed
 * workload wastes.
 *
 *   pool.np.<bytes>        NonPagedPoolNx, one size repeated (16..8192)
 *   pool.paged.<bytes>     PagedPool, the same
 *   pool.np.contended.64   64-byte pairs on this thread while two other
 *                          threads and a 1 ms timer DPC do the same
 *   pool.mixed             cycles per operation of a random workload: sizes
 *                          16..4096, up to 4096 live blocks, random order
 *   pool.mixed.frag        its fragmentation overhead: peak pool pages x
 *                          4096 / peak live bytes requested, in thousandths
 *                          (1300 = the 1.3x goal)
 *
 * The host build of the same allocator, next to glibc and mimalloc, is
 * `make bench-host` (pool.mica/glibc/mimalloc.<bytes>).
 */
#include "../../mm/pool_internal.h"
#include "../kbench.h"
#include "../ktest.h"

#define BATCH 64
#define SAMPLES 101
#define TAG 'hcnB'

static ULONG64 KbSamples[SAMPLES];

static ULONG64 KbPairs(POOL_TYPE Type, SIZE_T Bytes)
{
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++)
            ExFreePoolWithTag(ExAllocatePoolWithTag(Type, Bytes, TAG), TAG);
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    return KbenchMedian(KbSamples, SAMPLES);
}

KBENCH(pool_sizes)
{
    static const SIZE_T sizes[] = {16, 64, 256, 1024, 8192};
    char name[32];

    for (ULONG i = 0; i < ARRAYSIZE(sizes); i++) {
        RtlSnprintf(name, sizeof(name), "pool.np.%llu", (ULONG64)sizes[i]);
        KbenchReport(name, KbPairs(NonPagedPoolNx, sizes[i]), "cycles");
    }
    for (ULONG i = 0; i < ARRAYSIZE(sizes); i++) {
        RtlSnprintf(name, sizeof(name), "pool.paged.%llu", (ULONG64)sizes[i]);
        KbenchReport(name, KbPairs(PagedPool, sizes[i]), "cycles");
    }
}

/* ---- contended: two threads and a DPC ---------------------------------------------- */

static volatile BOOLEAN KbStop;
static KDPC KbDpc;
static KTIMER KbTimer;

static VOID KbCompetitor(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    while (!KbStop)
        ExFreePoolWithTag(ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG), TAG);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID KbDpcRoutine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    for (ULONG i = 0; i < 32; i++)
        ExFreePoolWithTag(ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG), TAG);
}

KBENCH(pool_contended)
{
    HANDLE h[2];
    LARGE_INTEGER due;

    KbStop = FALSE;
    KeInitializeDpc(&KbDpc, KbDpcRoutine, NULL);
    KeInitializeTimer(&KbTimer);
    due.QuadPart = -10000;
    KeSetTimerEx(&KbTimer, due, 1, &KbDpc);
    if (!NT_SUCCESS(PsCreateSystemThread(&h[0], 0, NULL, NULL, NULL, KbCompetitor, NULL)) ||
        !NT_SUCCESS(PsCreateSystemThread(&h[1], 0, NULL, NULL, NULL, KbCompetitor, NULL))) {
        DbgPrint("bench pool.np.contended.64: no threads\n");
        return;
    }
    /* Same priority: the clock shares the processor among the three. */
    KbenchReport("pool.np.contended.64", KbPairs(NonPagedPoolNx, 64), "cycles");
    KbStop = TRUE;
    KeCancelTimer(&KbTimer);
    for (ULONG i = 0; i < 2; i++) {
        PVOID thread;
        if (NT_SUCCESS(ObReferenceObjectByHandle(h[i], 0, NULL, KernelMode, &thread, NULL))) {
            KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
            ObDereferenceObject(thread);
        }
        ZwClose(h[i]);
    }
}

/* ---- mixed workload ------------------------------------------------------------------ */

#define KB_LIVE 4096
#define KB_OPERATIONS 200000

static PVOID KbLive[KB_LIVE];
static SIZE_T KbLiveBytes[KB_LIVE];

KBENCH(pool_mixed)
{
    ULONG64 seed = 12345;
    ULONG live = 0;
    SIZE_T liveBytes = 0, peakBytes = 0;
    PFN_NUMBER basePages = MiPoolPagesInUse(EXP_NONPAGED_NX), peakPages = 0;
    ULONG64 t0, cycles;

    t0 = KeReadTimeStampCounter();
    for (ULONG op = 0; op < KB_OPERATIONS; op++) {
        ULONG64 r = KtestRandom(&seed);
        /* Grow while below half the slots, then allocate and free evenly. */
        if (live == 0 || (live < KB_LIVE && (r % 100) < (live < KB_LIVE / 2 ? 70 : 50))) {
            SIZE_T bytes = 16 + (r >> 32) % (4096 - 16 + 1);
            PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, bytes, TAG);
            if (p == NULL)
                break;
            KbLive[live] = p;
            KbLiveBytes[live++] = bytes;
            liveBytes += bytes;
            if (liveBytes > peakBytes)
                peakBytes = liveBytes;
            if (MiPoolPagesInUse(EXP_NONPAGED_NX) - basePages > peakPages)
                peakPages = MiPoolPagesInUse(EXP_NONPAGED_NX) - basePages;
        } else {
            ULONG k = (ULONG)((r >> 32) % live);
            ExFreePoolWithTag(KbLive[k], TAG);
            liveBytes -= KbLiveBytes[k];
            KbLive[k] = KbLive[--live];
            KbLiveBytes[k] = KbLiveBytes[live];
        }
    }
    cycles = (KeReadTimeStampCounter() - t0) / KB_OPERATIONS;
    while (live > 0)
        ExFreePoolWithTag(KbLive[--live], TAG);
    KbenchReport("pool.mixed", cycles, "cycles");
    KbenchReport("pool.mixed.frag", peakBytes ? peakPages * PAGE_SIZE * 1000 / peakBytes : 0,
                 "milli");
}

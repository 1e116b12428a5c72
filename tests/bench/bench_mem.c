/*
 * bench_mem.c - the floors other benchmarks are compared with.
 *
 * memset.4k and memcpy.4k: cycles to fill or copy one 4 KiB page with the
 * kernel's own routines (rep stosq / rep movsq). Mapping, zeroing and
 * pool benchmarks report their figures next to these. Each sample times a
 * batch of 16 operations (so RDTSC's own cost is spread thin); the figure
 * is the median of 101 samples, divided by 16.
 */
#include "../../kernel/ke/ke.h"
#include "../kbench.h"

#define BATCH 16
#define SAMPLES 101

static UCHAR KbPageA[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static UCHAR KbPageB[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static ULONG64 KbSamples[SAMPLES];

KBENCH(memset_4k)
{
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++)
            memset(KbPageA, (int)i, PAGE_SIZE);
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    KbenchReport("memset.4k", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

KBENCH(memcpy_4k)
{
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++)
            memcpy(KbPageB, KbPageA, PAGE_SIZE);
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    KbenchReport("memcpy.4k", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

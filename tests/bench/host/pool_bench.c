/*
 * pool_bench.c - Mica's pool against glibc malloc and mimalloc, on the host.
 *
 * One source, built three times by `make bench-host` (-O2, no sanitizers):
 *   -DBENCH_MICA      ExAllocatePoolWithTag(NonPagedPoolNx) / ExFreePoolWithTag,
 *                     i.e. mm/pool.c, poolblock.c, bigpool.c, pooltrack.c
 *                     compiled for the host over pool_host_env.c (read its top
 *                     comment: IRQL, locks and page mapping cost next to
 *                     nothing there, so this measures the allocator's code);
 *   -DBENCH_GLIBC     malloc / free;
 *   -DBENCH_MIMALLOC  mi_malloc / mi_free (libmimalloc-dev).
 * Every figure is in TSC cycles, printed as "bench <name> <value> <unit>"
 * for tests/runner.py (bench-host), which files them under config "host":
 *   pool.<alloc>.<bytes>      one alloc + free pair of that size, repeated:
 *                             the median over batches of PAIR_BATCH pairs;
 *   pool.<alloc>.mixed        per operation of a random workload: MIX_SLOTS
 *                             slots, each operation picks one at random and
 *                             frees its block or, if empty, allocates 16..4096
 *                             bytes into it (random sizes and lifetimes, about
 *                             half the slots live); median of MIX_RUNS runs;
 *   pool.mica.mixed.frag      pool pages at their peak * 4096 divided by the
 *                             peak of live requested bytes, in thousandths
 *                             (unit "milli": 1300 means 1.3 bytes of pool
 *                             per byte asked for), over all mixed runs.
 * The random sequence is made before timing, the same for every allocator.
 * Arguments, if any, name the figures to run ("mixed", "16", ...), so that
 * one figure can be profiled alone (perf, cachegrind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "../../ktest.h"            /* KtestRandom */

#if defined(BENCH_MICA)
#include "../../../mm/mm.h"
#include "pool_host_env.h"
#define BENCH_NAME "mica"
#define BENCH_TAG 'hcnB'
/* Out of line, as a driver's call into the kernel is and as the other two
 * allocators' calls into their libraries are: -flto must not fold the
 * pool into this loop (constant pool type and tag, no call). */
static __attribute__((noinline)) void *BenchAlloc(size_t Bytes)
{
    return ExAllocatePoolWithTag(NonPagedPoolNx, Bytes, BENCH_TAG);
}
static __attribute__((noinline)) void BenchFree(void *P)
{
    ExFreePoolWithTag(P, BENCH_TAG);
}
#elif defined(BENCH_MIMALLOC)
#include <mimalloc.h>
#define BENCH_NAME "mimalloc"
static inline void *BenchAlloc(size_t Bytes)
{
    return mi_malloc(Bytes);
}
static inline void BenchFree(void *P)
{
    mi_free(P);
}
#elif defined(BENCH_GLIBC)
#define BENCH_NAME "glibc"
static inline void *BenchAlloc(size_t Bytes)
{
    return malloc(Bytes);
}
static inline void BenchFree(void *P)
{
    free(P);
}
#else
#error "build with -DBENCH_MICA, -DBENCH_GLIBC or -DBENCH_MIMALLOC"
#endif

#define PAIR_BATCH 1000
#define PAIR_SAMPLES 301
#define MIX_SLOTS 10000
#define MIX_OPS 1000000
#define MIX_RUNS 5
#define MIX_MIN 16
#define MIX_MAX 4096

/* lfence keeps earlier instructions from finishing after the read. */
static inline uint64_t Rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
}

/* The block escapes: the compiler may not drop an alloc + free pair. */
static inline void Escape(void *P)
{
    __asm__ volatile("" : : "r"(P) : "memory");
}

static int CompareU64(const void *A, const void *B)
{
    uint64_t a = *(const uint64_t *)A, b = *(const uint64_t *)B;

    return a < b ? -1 : a > b;
}

static uint64_t Median(uint64_t *Samples, size_t Count)
{
    qsort(Samples, Count, sizeof(*Samples), CompareU64);
    return Samples[Count / 2];
}

static void Report(const char *Name, uint64_t Value, const char *Unit)
{
    printf("bench pool.%s.%s %llu %s\n", BENCH_NAME, Name, (unsigned long long)Value, Unit);
    fflush(stdout);
}

static void *Allocate(size_t Bytes)
{
    void *p = BenchAlloc(Bytes);

    if (p == NULL) {
        fprintf(stderr, "pool bench (%s): allocation of %zu bytes failed\n", BENCH_NAME, Bytes);
        exit(1);
    }
    return p;
}

/* ---- one size, alloc + free ------------------------------------------------------------- */

static void BenchPairs(size_t Bytes)
{
    static uint64_t samples[PAIR_SAMPLES];
    char name[32];

    for (int i = 0; i < 10 * PAIR_BATCH; i++) {         /* warm: pages, lookasides, caches */
        void *p = Allocate(Bytes);
        Escape(p);
        BenchFree(p);
    }
    for (int s = 0; s < PAIR_SAMPLES; s++) {
        uint64_t t0 = Rdtsc();
        for (int i = 0; i < PAIR_BATCH; i++) {
            void *p = Allocate(Bytes);
            Escape(p);
            BenchFree(p);
        }
        samples[s] = Rdtsc() - t0;
    }
    snprintf(name, sizeof(name), "%zu", Bytes);
    Report(name, (Median(samples, PAIR_SAMPLES) + PAIR_BATCH / 2) / PAIR_BATCH, "cycles");
}

/* ---- the mixed workload ----------------------------------------------------------------- */

static uint32_t MixSlot[MIX_OPS];
static uint16_t MixSize[MIX_OPS];
static void *MixLive[MIX_SLOTS];
static uint32_t MixLiveSize[MIX_SLOTS];
static uint64_t MixLiveBytes, MixPeakBytes;

static void MixPrepare(void)
{
    ULONG64 x = 0x9E3779B97F4A7C15ULL;

    for (int i = 0; i < MIX_OPS; i++) {
        uint64_t r = KtestRandom(&x);
        MixSlot[i] = (uint32_t)((r >> 32) % MIX_SLOTS);
        MixSize[i] = (uint16_t)(MIX_MIN + (uint32_t)r % (MIX_MAX - MIX_MIN + 1));
    }
}

/* One run from empty to empty; returns the cycles of the MIX_OPS operations. */
static uint64_t MixRun(void)
{
    uint64_t t0, t1;

    t0 = Rdtsc();
    for (int i = 0; i < MIX_OPS; i++) {
        uint32_t s = MixSlot[i];
        if (MixLive[s] != NULL) {
            BenchFree(MixLive[s]);
            MixLive[s] = NULL;
            MixLiveBytes -= MixLiveSize[s];
        } else {
            void *p = Allocate(MixSize[i]);
            *(volatile uint64_t *)p = i;      /* the caller writes its block */
            MixLive[s] = p;
            MixLiveSize[s] = MixSize[i];
            MixLiveBytes += MixSize[i];
            if (MixLiveBytes > MixPeakBytes)
                MixPeakBytes = MixLiveBytes;
        }
    }
    t1 = Rdtsc();
    for (int s = 0; s < MIX_SLOTS; s++)
        if (MixLive[s] != NULL) {
            BenchFree(MixLive[s]);
            MixLive[s] = NULL;
        }
    MixLiveBytes = 0;
    return t1 - t0;
}

static void BenchMixed(void)
{
    uint64_t runs[MIX_RUNS];

    MixPrepare();
#ifdef BENCH_MICA
    HostPoolResetPeak();
#endif
    MixRun();                                   /* warm-up, not timed */
    for (int r = 0; r < MIX_RUNS; r++)
        runs[r] = MixRun();
    Report("mixed", (Median(runs, MIX_RUNS) + MIX_OPS / 2) / MIX_OPS, "cycles");
#ifdef BENCH_MICA
    Report("mixed.frag", HostPoolPeakPages() * 4096 * 1000 / MixPeakBytes, "milli");
#endif
}

/* Is figure Name wanted? With no arguments every figure is; otherwise the
 * arguments name the figures to run ("mixed", "16", ...), e.g. for perf. */
static int Wanted(int Argc, char **Argv, const char *Name)
{
    if (Argc < 2)
        return 1;
    for (int i = 1; i < Argc; i++)
        if (strcmp(Argv[i], Name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {16, 64, 256, 1024, 8192};
    char name[32];

#ifdef BENCH_MICA
    HostPoolInitialize();
#endif
    /* Mixed first: the pool starts empty, so its page peak is the workload's. */
    if (Wanted(argc, argv, "mixed"))
        BenchMixed();
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snprintf(name, sizeof(name), "%zu", sizes[i]);
        if (Wanted(argc, argv, name))
            BenchPairs(sizes[i]);
    }
    return 0;
}

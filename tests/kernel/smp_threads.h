/*
 * smp_threads.h - one thread per processor, for the SMP tests and benchmarks.
 *
 * KsmpRun starts Count system threads, thread i pinned to the i-th active
 * processor (wrapping around when Count exceeds the processors), lets
 * them all start Work at once, and returns when every one has finished.
 * Before the start and after the finish, with the threads alive but
 * waiting, it calls Before/After on the calling thread: a model check
 * snapshots there, so that the workers' own stacks and thread objects
 * are in both figures.
 */
#ifndef MICA_TESTS_SMP_THREADS_H
#define MICA_TESTS_SMP_THREADS_H

#include "../../kernel/ke/ke.h"

#define KSMP_MAX_THREADS MAXIMUM_PROCESSORS

/* How a thread is pinned: by itself (KeSetSystemAffinityThread, first thing
 * it does) or by its creator (KeSetAffinityThread on the thread object,
 * before letting it start). */
typedef enum _KSMP_PIN { KsmpPinSelf, KsmpPinByCreator } KSMP_PIN;

typedef VOID KSMP_WORK(PVOID Context, ULONG Index);
typedef VOID KSMP_HOOK(PVOID Context);

typedef struct _KSMP_RUN {
    KSMP_WORK *Work;
    KSMP_HOOK *Before;                  /* may be NULL */
    KSMP_HOOK *After;                   /* may be NULL */
    PVOID Context;
    ULONG Count;                        /* threads, 1..KSMP_MAX_THREADS */
    KSMP_PIN Pin;
    /* Filled by KsmpRun: each thread's processor as it started and as it
     * finished its Work, and the one it was pinned to. */
    ULONG StartedOn[KSMP_MAX_THREADS];
    ULONG FinishedOn[KSMP_MAX_THREADS];
    ULONG PinnedTo[KSMP_MAX_THREADS];
} KSMP_RUN, *PKSMP_RUN;

/* Bits set in Mask (the kernel links without libgcc's __popcountdi2). */
static inline ULONG KsmpPopCount(KAFFINITY Mask)
{
    ULONG n = 0;

    for (; Mask != 0; Mask &= Mask - 1)
        n++;
    return n;
}

/* The Index-th active processor (wrapping), i.e. its number. */
ULONG KsmpProcessorOf(ULONG Index);
/* Run; FALSE (after printing why) if a thread could not be started, did
 * not finish within a generous time or ran elsewhere than pinned. */
BOOLEAN KsmpRun(PKSMP_RUN Run);
/* The calling thread on processor Number for a while (IRQL PASSIVE_LEVEL);
 * returns the affinity to give back to KsmpUnpin. */
KAFFINITY KsmpPin(ULONG Number);
VOID KsmpUnpin(KAFFINITY Previous);

/* Every processor's pool caches given back (ExpTrimPoolCaches trims the
 * calling processor's), so that a page count reads only live memory. */
VOID KsmpTrimAllPoolCaches(VOID);

/* A few counters that must balance around any workload that frees what it
 * allocates (read with every pool cache trimmed, under MmPfnLock). */
typedef struct _KSMP_MM_SNAPSHOT {
    ULONG64 FreePages;                  /* zeroed + free + low-free lists */
    ULONG64 TreeFreePages;              /* the free-run tree's count */
    ULONG64 AvailablePages;             /* MmAvailablePages */
    ULONG64 Committed;                  /* MmTotalCommittedPages */
    ULONG64 FreeSystemPtes;
} KSMP_MM_SNAPSHOT, *PKSMP_MM_SNAPSHOT;

VOID KsmpSnapshotMm(PKSMP_MM_SNAPSHOT Snapshot);
/* Check After against Before and the lists against the tree (KEXPECTs in
 * the current test). */
VOID KsmpExpectMmBalanced(const KSMP_MM_SNAPSHOT *Before, const KSMP_MM_SNAPSHOT *After);

/* TSC ticks in Milliseconds. */
ULONG64 KsmpTicks(ULONG Milliseconds);

#endif

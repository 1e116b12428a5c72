/*
 * pool_host_env.c - what mm/pool.c needs from the rest of the kernel, on the
 * host, so that the pool can be benchmarked as an ordinary Linux program
 * (make bench-host; tests/bench/host/pool_bench.c).
 *
 * The host build measures the allocator's own code: pool.c, poolblock.c,
 * bigpool.c and pooltrack.c compiled unchanged with -O2. What the kernel
 * does around them is replaced by the cheapest thing with the same meaning:
 *   - IRQL is a variable. The host has no CR8 (and may not write it), so
 *     KeRaiseIrql/KeLowerIrql cost a load and a store here, where the
 *     kernel pays a CR8 read and write (Mica skips redundant writes).
 *   - Spin locks and the fast mutex are plain flags (one thread; the
 *     kernel's cost is an uncontended locked exchange).
 *   - Pool pages come from one big mmap reservation, one region per
 *     descriptor, handed out by the same free-run tree (mm/runtree.c) the
 *     kernel's poolpage.c uses, but nothing is mapped or unmapped: the
 *     kernel would also take a PFN, write a PTE and (on free) flush the TLB.
 *     Linux faults the pages in on first touch, as paged pool does.
 *   - Special pool is off (never chosen, no addresses).
 * KeBugCheckEx prints its parameters and aborts: a bench must not hit one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <sys/mman.h>
#include "../../../mm/pool_internal.h"
#include "pool_host_env.h"

/* ---- IRQL, locks ----------------------------------------------------------------------- */

static KIRQL HostIrql = PASSIVE_LEVEL;

KIRQL KeGetCurrentIrql(VOID)
{
    return HostIrql;
}

VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    *OldIrql = HostIrql;
    HostIrql = NewIrql;
}

VOID KeLowerIrql(KIRQL NewIrql)
{
    HostIrql = NewIrql;
}

ULONG KeGetCurrentProcessorNumber(VOID)
{
    return 0;
}

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    *OldIrql = HostIrql;
    HostIrql = DISPATCH_LEVEL;
    *SpinLock = 1;
}

VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    *SpinLock = 0;
    HostIrql = NewIrql;
}

VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->Count = 1;
    FastMutex->Owner = NULL;
    FastMutex->Contention = 0;
}

/* A fast mutex runs its owner at APC_LEVEL, as NT's does. */
VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->OldIrql = HostIrql;
    HostIrql = APC_LEVEL;
    FastMutex->Count = 0;
}

VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->Count = 1;
    HostIrql = (KIRQL)FastMutex->OldIrql;
}

VOID KeBugCheckEx(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    fprintf(stderr, "KeBugCheckEx(0x%x, %llx, %llx, %llx, %llx) in the host pool bench\n", Code,
            (unsigned long long)P1, (unsigned long long)P2, (unsigned long long)P3,
            (unsigned long long)P4);
    abort();
}

VOID ExRaiseStatus(NTSTATUS Status)
{
    KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(LONG_PTR)Status, 0, 0, 0);
}

ULONG DbgPrint(PCSTR Format, ...)
{
    va_list ap;

    va_start(ap, Format);
    vprintf(Format, ap);
    va_end(ap);
    return 0;
}

/* ---- special pool: off ------------------------------------------------------------------ */

BOOLEAN MiUseSpecialPool(ULONG Tag, SIZE_T NumberOfBytes, ULONG PoolType)
{
    (void)Tag; (void)NumberOfBytes; (void)PoolType;
    return FALSE;
}

PVOID MiAllocateSpecialPool(SIZE_T NumberOfBytes, ULONG Tag, ULONG PoolType, ULONG Priority)
{
    (void)NumberOfBytes; (void)Tag; (void)PoolType; (void)Priority;
    return NULL;
}

BOOLEAN MiSpecialPoolSelecting;         /* never: special pool is off here */

VOID MiFreeSpecialPool(PVOID P, ULONG Tag)
{
    (void)P; (void)Tag;
}

SIZE_T MiSpecialPoolBlockSize(PVOID P)
{
    (void)P;
    return 0;
}

ULONG MiReportSpecialPool(ULONG Tag, BOOLEAN Print)
{
    (void)Tag; (void)Print;
    return 0;
}

VOID MiDumpSpecialPool(PVOID Va)
{
    (void)Va;
}

/* ---- pool pages ------------------------------------------------------------------------- */

/* 1 GiB of addresses per descriptor; only what is touched becomes memory. */
#define HOST_POOL_REGION_PAGES (1ULL << 18)

static PUCHAR HostPoolBase;
static MI_RUN_TREE HostPoolTree[EXP_POOL_DESCRIPTORS];
/* Each region's first page and its tree's bitmap (a set bit is a free page). */
static PUCHAR HostRegionStart[EXP_POOL_DESCRIPTORS];
static PULONG64 HostFreeBits[EXP_POOL_DESCRIPTORS];
static PFN_NUMBER HostPagesInUse, HostPeakPages;

static PUCHAR HostRegionBase(ULONG PoolIndex)
{
    return HostPoolBase + ((SIZE_T)PoolIndex * HOST_POOL_REGION_PAGES << PAGE_SHIFT);
}

void HostPoolInitialize(void)
{
    SIZE_T bytes = EXP_POOL_DESCRIPTORS * (HOST_POOL_REGION_PAGES << PAGE_SHIFT);

    HostPoolBase = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (HostPoolBase == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    for (ULONG i = 0; i < EXP_POOL_DESCRIPTORS; i++) {
        MiRunTreeInitialize(&HostPoolTree[i],
                            malloc(MiRunTreeStorageSize(HOST_POOL_REGION_PAGES)),
                            HOST_POOL_REGION_PAGES);
        MiRunTreeSetFree(&HostPoolTree[i], 0, HOST_POOL_REGION_PAGES);
        HostRegionStart[i] = HostRegionBase(i);
        HostFreeBits[i] = HostPoolTree[i].Bitmap;
    }
    ExpInitializePool();
}

unsigned long long HostPoolPeakPages(void)
{
    return HostPeakPages;
}

void HostPoolResetPeak(void)
{
    HostPeakPages = HostPagesInUse;
}


LONG MiPoolIndexOfAddress(PVOID Va)
{
    ULONG64 offset = (ULONG64)Va - (ULONG64)HostPoolBase;

    if ((ULONG64)Va < (ULONG64)HostPoolBase ||
        offset >= EXP_POOL_DESCRIPTORS * (HOST_POOL_REGION_PAGES << PAGE_SHIFT))
        return -1;
    return (LONG)(offset / (HOST_POOL_REGION_PAGES << PAGE_SHIFT));
}

/* Every free asks this: the run tree's bitmap read directly (what
 * MiRunTreeIsFree does), small enough for the compiler to inline. */
BOOLEAN MiIsPoolPageAllocated(ULONG PoolIndex, PVOID Va)
{
    PFN_NUMBER index = (PFN_NUMBER)(((PUCHAR)Va - HostRegionStart[PoolIndex]) >> PAGE_SHIFT);

    return index < HOST_POOL_REGION_PAGES && !((HostFreeBits[PoolIndex][index / 64] >> (index % 64)) & 1);
}

PVOID MiAllocatePoolPages(ULONG PoolIndex, PFN_NUMBER Pages)
{
    PFN_NUMBER index;

    if (Pages == 0 || Pages > HOST_POOL_REGION_PAGES)
        return NULL;
    index = MiRunTreeFind(&HostPoolTree[PoolIndex], Pages, 0, HOST_POOL_REGION_PAGES - 1, 0);
    if (index == MI_RUN_NONE)
        return NULL;
    MiRunTreeSetUsed(&HostPoolTree[PoolIndex], index, Pages);
    HostPagesInUse += Pages;
    if (HostPagesInUse > HostPeakPages)
        HostPeakPages = HostPagesInUse;
    return HostRegionBase(PoolIndex) + (index << PAGE_SHIFT);
}

VOID MiFreePoolPages(ULONG PoolIndex, PVOID Va, PFN_NUMBER Pages)
{
    MiRunTreeSetFree(&HostPoolTree[PoolIndex],
                     (PFN_NUMBER)(((PUCHAR)Va - HostRegionBase(PoolIndex)) >> PAGE_SHIFT), Pages);
    HostPagesInUse -= Pages;
}

BOOLEAN MiResolvePagedPoolFault(PVOID Va)
{
    (void)Va;
    return FALSE;
}

VOID MiEnumeratePoolRuns(ULONG PoolIndex, PMI_POOL_RUN_ROUTINE Routine, PVOID Context)
{
    PFN_NUMBER start = 0, i;

    while (start < HOST_POOL_REGION_PAGES) {
        while (start < HOST_POOL_REGION_PAGES && MiRunTreeIsFree(&HostPoolTree[PoolIndex], start))
            start++;
        for (i = start;
             i < HOST_POOL_REGION_PAGES && !MiRunTreeIsFree(&HostPoolTree[PoolIndex], i); i++)
            ;
        if (i > start)
            Routine(PoolIndex, HostRegionBase(PoolIndex) + (start << PAGE_SHIFT), i - start,
                    Context);
        start = i;
    }
}

PFN_NUMBER MiPoolPagesInUse(ULONG PoolIndex)
{
    return HOST_POOL_REGION_PAGES - MiRunTreeFreeCount(&HostPoolTree[PoolIndex]);
}

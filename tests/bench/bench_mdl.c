/*
 * bench_mdl.c - what describing, locking and mapping a buffer costs, next
 * to copying it.
 *
 * mdl.lockmap.64k       IoAllocateMdl + MmProbeAndLockPages +
 *                       MmGetSystemAddressForMdlSafe + MmUnmapLockedPages +
 *                       MmUnlockPages + IoFreeMdl for 64 KiB of nonpaged pool
 * mdl.lockmap.64k.floor memcpy.4k x 16 (copying the same 64 KiB), measured
 *                       in the same boot as the figure above
 * Median of SAMPLES runs, one operation each (a 64 KiB run is about a
 * memcpy of the buffer: well inside a clock tick).
 */
#include "../../kernel/io/io.h"
#include "../kbench.h"

#define SAMPLES 101
#define BYTES 0x10000

static ULONG64 KbSamples[SAMPLES];

KBENCH(mdl_lockmap_64k)
{
    PUCHAR buf = ExAllocatePoolWithTag(NonPagedPoolNx, BYTES, 'hcnB');
    PUCHAR copy = ExAllocatePoolWithTag(NonPagedPoolNx, BYTES, 'hcnB');

    if (buf == NULL || copy == NULL) {
        DbgPrint("bench mdl.lockmap.64k: no pool\n");
        return;
    }
    memset(buf, 1, BYTES);
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        PMDL mdl = IoAllocateMdl(buf, BYTES, FALSE, FALSE, NULL);
        PVOID va;
        MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
        va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
        MmUnmapLockedPages(va, mdl);
        MmUnlockPages(mdl);
        IoFreeMdl(mdl);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
    }
    KbenchReport("mdl.lockmap.64k", KbenchMedian(KbSamples, SAMPLES), "cycles");
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BYTES / PAGE_SIZE; i++)
            memcpy(copy + i * PAGE_SIZE, buf + i * PAGE_SIZE, PAGE_SIZE);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
    }
    KbenchReport("mdl.lockmap.64k.floor", KbenchMedian(KbSamples, SAMPLES), "cycles");
    ExFreePoolWithTag(copy, 'hcnB');
    ExFreePoolWithTag(buf, 'hcnB');
}

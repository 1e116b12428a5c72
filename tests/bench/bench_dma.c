/*
 * bench_dma.c - what a driver pays per transfer for its DMA addresses.
 *
 *   dma.sgl.64k            GetScatterGatherList + PutScatterGatherList for
 *                          64 KiB of nonpaged pool, a 64-bit S/G master (no
 *                          copies: the list is the pages' own addresses).
 *   dma.bounce.64k         the same through map registers: a device that
 *                          cannot reach the buffer, so Get copies 64 KiB
 *                          into bounce pages (WriteToDevice). With RAM above
 *                          4 GiB it is a 32-bit master and a buffer above
 *                          4 GiB; otherwise bouncing is forced with a v3
 *                          description of DmaAddressWidth 26 (64 MiB) and a
 *                          buffer above 64 MiB. dma.bounce.limit_bits says
 *                          which (32 or 26).
 *   dma.memcpy.4k.x16      the floor, in the same boot: 16 copies of a 4 KiB
 *                          page (64 KiB), what the bounce copy cannot beat.
 * Each figure is the median of SAMPLES runs, in cycles, at DISPATCH_LEVEL.
 */
#include "../../kernel/wdm.h"
#include "../kbench.h"

#define SAMPLES 101
#define KB_BYTES 0x10000
#define KB_TAG 'bAmD'

static ULONG64 KbSamples[SAMPLES];

static VOID KbList(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST List, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    *(PSCATTER_GATHER_LIST *)Context = List;
}

/* An MDL for a mapped, physically resident buffer, as MmBuildMdlForNonPagedPool makes it. */
static PMDL KbMdl(PUCHAR Buffer, ULONG Length)
{
    PMDL mdl = ExAllocatePoolWithTag(NonPagedPoolNx, MmSizeOfMdl(Buffer, Length), KB_TAG);
    if (mdl == NULL)
        return NULL;
    MmInitializeMdl(mdl, Buffer, Length);
    for (ULONG i = 0; i < ADDRESS_AND_SIZE_TO_SPAN_PAGES(Buffer, Length); i++)
        MmGetMdlPfnArray(mdl)[i] = (PFN_NUMBER)(
            MmGetPhysicalAddress((PUCHAR)PAGE_ALIGN(Buffer) + i * PAGE_SIZE).QuadPart >> PAGE_SHIFT);
    mdl->MappedSystemVa = Buffer;
    mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
    return mdl;
}

static PDMA_ADAPTER KbAdapter(ULONG Version, BOOLEAN Dma64, ULONG Width)
{
    DEVICE_DESCRIPTION d;
    ULONG n;

    RtlZeroMemory(&d, sizeof(d));
    d.Version = Version;
    d.Master = TRUE;
    d.ScatterGather = TRUE;
    d.Dma32BitAddresses = TRUE;
    d.Dma64BitAddresses = Dma64;
    d.DmaAddressWidth = Width;
    d.InterfaceType = PCIBus;
    d.MaximumLength = KB_BYTES;
    return IoGetDmaAdapter(NULL, &d, &n);
}

/* Median cycles of Get + Put over Buffer; 0 if a list could not be had. */
static ULONG64 KbMeasure(PDMA_ADAPTER Adapter, PUCHAR Buffer)
{
    PMDL mdl = KbMdl(Buffer, KB_BYTES);
    ULONG64 median = 0;
    KIRQL irql;

    if (mdl == NULL)
        return 0;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    for (ULONG s = 0; s < SAMPLES; s++) {
        PSCATTER_GATHER_LIST list = NULL;
        ULONG64 t0 = KeReadTimeStampCounter();
        if (Adapter->DmaOperations->GetScatterGatherList(Adapter, NULL, mdl, Buffer, KB_BYTES,
                                                         KbList, &list, TRUE) != STATUS_SUCCESS ||
            list == NULL)
            goto out;
        Adapter->DmaOperations->PutScatterGatherList(Adapter, list, TRUE);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
    }
    median = KbenchMedian(KbSamples, SAMPLES);
out:
    KeLowerIrql(irql);
    ExFreePoolWithTag(mdl, KB_TAG);
    return median;
}

KBENCH(dma_sgl_64k)
{
    PDMA_ADAPTER a = KbAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, 0);
    PUCHAR buffer = ExAllocatePoolWithTag(NonPagedPoolNx, KB_BYTES, KB_TAG);

    if (a != NULL && buffer != NULL)
        KbenchReport("dma.sgl.64k", KbMeasure(a, buffer), "cycles");
    if (buffer != NULL)
        ExFreePoolWithTag(buffer, KB_TAG);
    if (a != NULL)
        a->DmaOperations->PutDmaAdapter(a);
}

KBENCH(dma_bounce_64k)
{
    PHYSICAL_ADDRESS low = {.QuadPart = 0x100000000LL}, high = {.QuadPart = -1}, none = {0};
    ULONG bits = 32;
    PDMA_ADAPTER a;
    PUCHAR buffer = MmAllocateContiguousMemorySpecifyCache(KB_BYTES, low, high, none, MmCached);

    if (buffer == NULL) {
        /* No RAM above 4 GiB: a 26-bit device and a buffer above 64 MiB. */
        bits = 26;
        low.QuadPart = 1LL << bits;
        buffer = MmAllocateContiguousMemorySpecifyCache(KB_BYTES, low, high, none, MmCached);
        a = KbAdapter(DEVICE_DESCRIPTION_VERSION3, FALSE, bits);
    } else {
        a = KbAdapter(DEVICE_DESCRIPTION_VERSION2, FALSE, 0);
    }
    if (a != NULL && buffer != NULL) {
        KbenchReport("dma.bounce.64k", KbMeasure(a, buffer), "cycles");
        KbenchReport("dma.bounce.limit_bits", bits, "bits");
    }
    if (buffer != NULL)
        MmFreeContiguousMemory(buffer);
    if (a != NULL)
        a->DmaOperations->PutDmaAdapter(a);
}

KBENCH(dma_memcpy_4k_x16)
{
    PUCHAR a = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * PAGE_SIZE, KB_TAG);

    if (a == NULL)
        return;
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < 16; i++)
            memcpy(a + PAGE_SIZE, a, PAGE_SIZE);
        KbSamples[s] = KeReadTimeStampCounter() - t0;
    }
    KbenchReport("dma.memcpy.4k.x16", KbenchMedian(KbSamples, SAMPLES), "cycles");
    ExFreePoolWithTag(a, KB_TAG);
}

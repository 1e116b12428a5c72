/*
 * dma.c - DMA adapters: IoGetDmaAdapter, the DMA_OPERATIONS table,
 * PutDmaAdapter, the adapter channel (AllocateAdapterChannel,
 * FreeAdapterChannel), GetDmaAlignment and ReadDmaCounter.
 *
 * An adapter describes what one device can reach. Its limit is the highest
 * logical address the device drives: a 64-bit master reaches everything, a
 * 32-bit one the first 4 GiB, an ISA-style master 16 MiB; a v3 description
 * gives the width in bits. Logical = physical on x64 PCs (no IOMMU), so a
 * device needs map registers - bounce pages, HAL_MAP_POOL - exactly when RAM
 * lies above its limit, or when it cannot do scatter/gather (a transfer
 * that is not physically contiguous is then made contiguous in bounce
 * pages, as NT's HAL does for packet-based masters).
 *
 * Mica's rule for a 32-bit scatter/gather PCI master differs from
 * ReactOS's: ReactOS gives a ScatterGather PCI device no map registers at
 * all, so its pages above 4 GiB would reach a device that cannot address
 * them. Mica follows Learn ("drivers that do not declare 64-bit DMA are
 * double-buffered on 64-bit Windows"): Dma32BitAddresses is still implied
 * for such a device (the sheet's rule), but the 32-bit limit is then
 * enforced with map registers whenever RAM goes higher, S/G or not.
 *
 * The checks Driver Verifier makes are always on, with
 * DRIVER_VERIFIER_DMA_VIOLATION (0xE6) and Learn's subcode in parameter 1:
 *   0x00 (2, needed, available)   MapTransfer ran out of the registers allocated
 *   0x03 (1, VirtualAddress, Length)   FreeCommonBuffer of no live buffer with
 *                                  exactly these arguments (twice, or changed)
 *   0x04 (1, adapter, 0)           FreeAdapterChannel without a kept channel
 *   0x05 (count, base, held)       FreeMapRegisters of registers not held, or
 *                                  a count that differs from the allocation's
 *   0x06 (handed out, freed + 1, list)  PutScatterGatherList of a list the
 *                                  adapter did not hand out (or already took back)
 *   0x07-0x0A (adapter, count, 0)  PutDmaAdapter with common buffers, a
 *                                  channel, map registers, S/G lists outstanding
 *   0x0B (1, adapter, 0)           a second AllocateAdapterChannel while one is outstanding
 *   0x0C (asked, granted, adapter) more map registers than IoGetDmaAdapter granted
 *   0x1B (CurrentVa, MDL, 0)       CurrentVa outside the MDL's buffer
 *   0x21 (MDL, CurrentVa, 0)       a zero-length map
 * Parameters beyond Learn's are Mica's. IRQL rules are checked too.
 */
#include "dma_internal.h"

static ULONG HalpGetDmaAlignment(PDMA_ADAPTER DmaAdapter);
static ULONG HalpReadDmaCounter(PDMA_ADAPTER DmaAdapter);
static VOID HalpPutDmaAdapter(PDMA_ADAPTER DmaAdapter);

static DMA_OPERATIONS HalpDmaOperations = {
    .Size = sizeof(DMA_OPERATIONS),
    .PutDmaAdapter = HalpPutDmaAdapter,
    .AllocateCommonBuffer = HalpAllocateCommonBuffer,
    .FreeCommonBuffer = HalpFreeCommonBuffer,
    .AllocateAdapterChannel = HalpAllocateAdapterChannel,
    .FlushAdapterBuffers = HalpFlushAdapterBuffers,
    .FreeAdapterChannel = HalpFreeAdapterChannel,
    .FreeMapRegisters = HalpFreeMapRegisters,
    .MapTransfer = HalpMapTransfer,
    .GetDmaAlignment = HalpGetDmaAlignment,
    .ReadDmaCounter = HalpReadDmaCounter,
    .GetScatterGatherList = HalpGetScatterGatherList,
    .PutScatterGatherList = HalpPutScatterGatherList,
    .CalculateScatterGatherList = HalpCalculateScatterGatherList,
    .BuildScatterGatherList = HalpBuildScatterGatherList,
    .BuildMdlFromScatterGatherList = HalpBuildMdlFromScatterGatherList,
};

VOID HalpDmaViolation(ULONG_PTR Subcode, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    KeBugCheckEx(DRIVER_VERIFIER_DMA_VIOLATION, Subcode, P2, P3, P4);
}

/* The ExecutionRoutine's Irp: the device's current IRP when it asked. */
struct _IRP *HalpCurrentIrp(struct _DEVICE_OBJECT *DeviceObject)
{
    return DeviceObject != NULL ? DeviceObject->CurrentIrp : NULL;
}

/* The highest RAM address + 1 (0 if Mm cannot say: then assume the worst). */
static ULONG64 HalpRamEnd(VOID)
{
    PPHYSICAL_MEMORY_RANGE ranges = MmGetPhysicalMemoryRanges();
    ULONG64 end = 0;

    if (ranges == NULL)
        return ~0ULL;
    for (PPHYSICAL_MEMORY_RANGE r = ranges; r->NumberOfBytes.QuadPart != 0; r++) {
        ULONG64 e = (ULONG64)r->BaseAddress.QuadPart + (ULONG64)r->NumberOfBytes.QuadPart;
        if (e > end)
            end = e;
    }
    ExFreePool(ranges);
    return end;
}

PDMA_ADAPTER IoGetDmaAdapter(struct _DEVICE_OBJECT *PhysicalDeviceObject,
                             PDEVICE_DESCRIPTION DeviceDescription, PULONG NumberOfMapRegisters)
{
    PDEVICE_DESCRIPTION d = DeviceDescription;
    INTERFACE_TYPE bus;
    ULONG64 limit, registers;
    PHAL_MAP_POOL pool = NULL;
    PHAL_ADAPTER adapter;
    BOOLEAN needsPool;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoGetDmaAdapter);
    UNREFERENCED_PARAMETER(PhysicalDeviceObject);
    if (d == NULL || NumberOfMapRegisters == NULL || d->Version > DEVICE_DESCRIPTION_VERSION3)
        return NULL;
    /* Subordinate DMA goes through the 8237 controllers, which Mica does not drive. */
    if (!d->Master)
        return NULL;
    bus = d->InterfaceType == InterfaceTypeUndefined ? PCIBus : d->InterfaceType;

    if (d->Version == DEVICE_DESCRIPTION_VERSION3) {
        /* The width replaces the two BOOLEANs; below a page nothing can be mapped. */
        if (d->DmaAddressWidth < PAGE_SHIFT || d->DmaAddressWidth > 64)
            return NULL;
        limit = d->DmaAddressWidth == 64 ? ~0ULL : (1ULL << d->DmaAddressWidth) - 1;
    } else if (d->Dma64BitAddresses) {
        limit = ~0ULL;
    } else if (d->Dma32BitAddresses || (d->ScatterGather && bus == PCIBus)) {
        limit = 0xFFFFFFFFULL;
    } else {
        limit = 0xFFFFFFULL;            /* an ISA-style master: 24 address lines */
    }

    /* The "+1": a transfer that does not start on a page spans one more. */
    registers = BYTES_TO_PAGES((ULONG64)d->MaximumLength) + 1;
    needsPool = !d->ScatterGather || limit < HalpRamEnd() - 1;
    if (needsPool) {
        if (registers > HAL_MAX_MAP_REGISTERS_PER_CHANNEL)
            registers = HAL_MAX_MAP_REGISTERS_PER_CHANNEL;
        pool = HalpGetMapPool(limit);
        if (pool == NULL)
            return NULL;
    }

    adapter = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*adapter), HAL_DMA_TAG);
    if (adapter == NULL)
        return NULL;
    RtlZeroMemory(adapter, sizeof(*adapter));
    adapter->DmaHeader.Version = 1;     /* 1 whatever the description's version */
    adapter->DmaHeader.Size = sizeof(DMA_ADAPTER);
    adapter->DmaHeader.DmaOperations = &HalpDmaOperations;
    adapter->Description = *d;
    adapter->Description.InterfaceType = bus;
    adapter->Limit = limit;
    adapter->MapRegistersPerChannel = (ULONG)registers;
    adapter->Pool = pool;
    InitializeListHead(&adapter->CommonBuffers);
    InitializeListHead(&adapter->ScatterGatherLists);
    *NumberOfMapRegisters = (ULONG)registers;
    return &adapter->DmaHeader;
}

/* Everything the adapter handed out must have come back first. */
static VOID HalpPutDmaAdapter(PDMA_ADAPTER DmaAdapter)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpPutDmaAdapter);
    if (adapter->CommonBufferCount != 0)
        HalpDmaViolation(HAL_DMA_PUT_COMMON_BUFFERS, (ULONG_PTR)DmaAdapter,
                         adapter->CommonBufferCount, 0);
    if (adapter->ChannelState != HAL_CHANNEL_FREE)
        HalpDmaViolation(HAL_DMA_PUT_CHANNELS, (ULONG_PTR)DmaAdapter, 1, 0);
    if (adapter->MapRegistersHeld != 0)
        HalpDmaViolation(HAL_DMA_PUT_MAP_REGISTERS, (ULONG_PTR)DmaAdapter,
                         adapter->MapRegistersHeld, 0);
    if (adapter->ScatterGatherListCount != 0)
        HalpDmaViolation(HAL_DMA_PUT_SG_LISTS, (ULONG_PTR)DmaAdapter,
                         adapter->ScatterGatherListCount, 0);
    ExFreePoolWithTag(adapter, HAL_DMA_TAG);
}

/* x86 and x64 DMA needs no alignment of the buffer's start or length. */
static ULONG HalpGetDmaAlignment(PDMA_ADAPTER DmaAdapter)
{
    UNREFERENCED_PARAMETER(DmaAdapter);
    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, HalpGetDmaAlignment);
    return 1;
}

/*
 * Bytes left in a system DMA controller's transfer. Only subordinate
 * adapters have such a counter, and IoGetDmaAdapter makes none (a bus
 * master counts in its own registers), so every adapter answers 0.
 */
static ULONG HalpReadDmaCounter(PDMA_ADAPTER DmaAdapter)
{
    UNREFERENCED_PARAMETER(DmaAdapter);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpReadDmaCounter);
    return 0;
}

/* ---- The adapter channel ------------------------------------------------------ */

NTSTATUS HalpAllocateAdapterChannel(PDMA_ADAPTER DmaAdapter, struct _DEVICE_OBJECT *DeviceObject,
                                    ULONG NumberOfMapRegisters, PDRIVER_CONTROL ExecutionRoutine,
                                    PVOID Context)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PHAL_WAIT_BLOCK wait = &adapter->ChannelWait;

    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, HalpAllocateAdapterChannel);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpAllocateAdapterChannel);
    if (NumberOfMapRegisters > adapter->MapRegistersPerChannel)
        HalpDmaViolation(HAL_DMA_TOO_MANY_REGISTERS, NumberOfMapRegisters,
                         adapter->MapRegistersPerChannel, (ULONG_PTR)DmaAdapter);

    KeAcquireSpinLockAtDpcLevel(&adapter->Lock);
    if (adapter->ChannelState != HAL_CHANNEL_FREE) {
        KeReleaseSpinLockFromDpcLevel(&adapter->Lock);
        HalpDmaViolation(HAL_DMA_TOO_MANY_CHANNELS, 1, (ULONG_PTR)DmaAdapter, 0);
    }
    adapter->ChannelState = HAL_CHANNEL_REQUESTED;
    KeReleaseSpinLockFromDpcLevel(&adapter->Lock);

    wait->Adapter = adapter;
    wait->DeviceObject = DeviceObject;
    wait->Irp = HalpCurrentIrp(DeviceObject);
    wait->NumberOfMapRegisters = NumberOfMapRegisters;
    wait->Channel = TRUE;
    wait->ExecutionRoutine = ExecutionRoutine;
    wait->Context = Context;
    if (adapter->Pool != NULL && NumberOfMapRegisters != 0)
        HalpRequestMapRegisters(wait);  /* now, or later from a free */
    else
        HalpRunWaitBlock(wait, NULL);
    return STATUS_SUCCESS;
}

VOID HalpFreeAdapterChannel(PDMA_ADAPTER DmaAdapter)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PVOID base;
    ULONG count;

    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, HalpFreeAdapterChannel);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpFreeAdapterChannel);
    KeAcquireSpinLockAtDpcLevel(&adapter->Lock);
    if (adapter->ChannelState != HAL_CHANNEL_KEPT) {
        KeReleaseSpinLockFromDpcLevel(&adapter->Lock);
        HalpDmaViolation(HAL_DMA_CHANNEL_FREED, 1, (ULONG_PTR)DmaAdapter, 0);
    }
    base = adapter->ChannelMapRegisterBase;
    count = adapter->ChannelMapRegisters;
    adapter->ChannelMapRegisterBase = NULL;
    adapter->ChannelMapRegisters = 0;
    adapter->ChannelState = HAL_CHANNEL_FREE;
    KeReleaseSpinLockFromDpcLevel(&adapter->Lock);
    /* The channel's registers go with it (and may start a waiting request). */
    if (adapter->Pool != NULL && count != 0)
        HalpReleaseMapRegisters(adapter, base, count);
}

/*
 * Call a request's routine with its registers (at DISPATCH_LEVEL, no lock
 * held) and do what an AllocateAdapterChannel routine answers.
 */
VOID HalpRunWaitBlock(PHAL_WAIT_BLOCK Wait, PVOID MapRegisterBase)
{
    PHAL_ADAPTER adapter = Wait->Adapter;
    ULONG count = Wait->NumberOfMapRegisters;
    IO_ALLOCATION_ACTION action;
    KIRQL irql;

    action = Wait->ExecutionRoutine(Wait->DeviceObject, Wait->Irp, MapRegisterBase, Wait->Context);
    if (!Wait->Channel)
        return;                         /* a S/G list's routine: dmasg.c */

    KeAcquireSpinLock(&adapter->Lock, &irql);
    switch (action) {
    case KeepObject:
        adapter->ChannelState = HAL_CHANNEL_KEPT;
        adapter->ChannelMapRegisterBase = MapRegisterBase;
        adapter->ChannelMapRegisters = count;
        KeReleaseSpinLock(&adapter->Lock, irql);
        return;
    case DeallocateObjectKeepRegisters:
        adapter->MapRegistersHeld += count;
        adapter->ChannelState = HAL_CHANNEL_FREE;
        KeReleaseSpinLock(&adapter->Lock, irql);
        return;
    case DeallocateObject:
    default:
        adapter->ChannelState = HAL_CHANNEL_FREE;
        KeReleaseSpinLock(&adapter->Lock, irql);
        if (adapter->Pool != NULL && count != 0)
            HalpReleaseMapRegisters(adapter, MapRegisterBase, count);
        return;
    }
}

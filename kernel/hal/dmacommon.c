/*
 * dmacommon.c - common buffers: memory the driver and its device share for
 * the whole life of the adapter (descriptor rings, command lists).
 *
 * AllocateCommonBuffer takes physically contiguous pages the device can
 * reach - at or below the adapter's limit, never across a 4 GiB line (a
 * 32-bit descriptor base register cannot carry into the upper half) -
 * from the contiguous allocator (mm/contig.c), and returns the logical
 * address to program into the device. On x86 and x64 DMA is cache
 * coherent, so Learn says CacheEnabled is ignored and the memory is always
 * cached; Mica does the same.
 *
 * Each buffer is remembered on its adapter, so that FreeCommonBuffer can
 * insist on getting back exactly what it gave (Learn: every argument must
 * be the allocation's) and PutDmaAdapter can refuse to go with buffers
 * still out. Both routines are PASSIVE_LEVEL.
 */
#include "dma_internal.h"

#define HAL_4GB 0x100000000ULL

typedef struct _HAL_COMMON_BUFFER {
    LIST_ENTRY Entry;                   /* on HAL_ADAPTER.CommonBuffers */
    PVOID VirtualAddress;
    ULONG64 LogicalAddress;
    ULONG Length;
} HAL_COMMON_BUFFER, *PHAL_COMMON_BUFFER;

PVOID HalpAllocateCommonBuffer(PDMA_ADAPTER DmaAdapter, ULONG Length,
                               PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PHYSICAL_ADDRESS low = {.QuadPart = 0}, high, boundary;
    PHAL_COMMON_BUFFER record;
    PVOID va;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, HalpAllocateCommonBuffer);
    UNREFERENCED_PARAMETER(CacheEnabled);
    if (Length == 0 || LogicalAddress == NULL)
        return NULL;
    high.QuadPart = (LONGLONG)adapter->Limit;   /* contig.c clamps it to the top of RAM */
    boundary.QuadPart = (LONGLONG)HAL_4GB;

    record = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*record), HAL_DMA_TAG);
    if (record == NULL)
        return NULL;
    va = MmAllocateContiguousMemorySpecifyCache(Length, low, high,
                                                boundary, MmCached);
    if (va == NULL) {
        ExFreePoolWithTag(record, HAL_DMA_TAG);
        return NULL;
    }
    record->VirtualAddress = va;
    /* No IOMMU: the device sees the physical address. */
    record->LogicalAddress = (ULONG64)MmGetPhysicalAddress(va).QuadPart;
    record->Length = Length;
    KeAcquireSpinLock(&adapter->Lock, &irql);
    InsertTailList(&adapter->CommonBuffers, &record->Entry);
    adapter->CommonBufferCount++;
    KeReleaseSpinLock(&adapter->Lock, irql);
    LogicalAddress->QuadPart = (LONGLONG)record->LogicalAddress;
    return va;
}

VOID HalpFreeCommonBuffer(PDMA_ADAPTER DmaAdapter, ULONG Length, PHYSICAL_ADDRESS LogicalAddress,
                          PVOID VirtualAddress, BOOLEAN CacheEnabled)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PHAL_COMMON_BUFFER found = NULL;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, HalpFreeCommonBuffer);
    UNREFERENCED_PARAMETER(CacheEnabled);
    KeAcquireSpinLock(&adapter->Lock, &irql);
    for (PLIST_ENTRY e = adapter->CommonBuffers.Flink; e != &adapter->CommonBuffers;
         e = e->Flink) {
        PHAL_COMMON_BUFFER b = CONTAINING_RECORD(e, HAL_COMMON_BUFFER, Entry);
        if (b->VirtualAddress == VirtualAddress && b->Length == Length &&
            b->LogicalAddress == (ULONG64)LogicalAddress.QuadPart) {
            found = b;
            RemoveEntryList(&b->Entry);
            adapter->CommonBufferCount--;
            break;
        }
    }
    KeReleaseSpinLock(&adapter->Lock, irql);
    /* Nothing live matches: a second free, or arguments that are not the allocation's. */
    if (found == NULL)
        HalpDmaViolation(HAL_DMA_COMMON_BUFFER_FREED, 1, (ULONG_PTR)VirtualAddress, Length);
    MmFreeContiguousMemory(found->VirtualAddress);
    ExFreePoolWithTag(found, HAL_DMA_TAG);
}

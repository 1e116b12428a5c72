/*
 * test_dma_bugcheck.c - DMA misuse that Driver Verifier catches, and Mica
 * always does: DRIVER_VERIFIER_DMA_VIOLATION (0xE6) with Learn's subcode
 * in parameter 1 (the list is at the top of kernel/hal/dma.c).
 */
#include "../../kernel/wdm.h"
#include "../ktest.h"

#define KT_TAG 'bAmD'

static PDMA_ADAPTER KtAdapter(BOOLEAN ScatterGather, ULONG MaximumLength, PULONG Registers)
{
    DEVICE_DESCRIPTION d;

    RtlZeroMemory(&d, sizeof(d));
    d.Version = DEVICE_DESCRIPTION_VERSION2;
    d.Master = TRUE;
    d.ScatterGather = ScatterGather;
    d.Dma32BitAddresses = TRUE;
    d.Dma64BitAddresses = TRUE;
    d.InterfaceType = PCIBus;
    d.MaximumLength = MaximumLength;
    return IoGetDmaAdapter(NULL, &d, Registers);
}

static IO_ALLOCATION_ACTION KtKeepRegisters(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                            PVOID MapRegisterBase, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    *(PVOID *)Context = MapRegisterBase;
    return DeallocateObjectKeepRegisters;
}

static IO_ALLOCATION_ACTION KtDeallocate(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                         PVOID MapRegisterBase, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(MapRegisterBase);
    UNREFERENCED_PARAMETER(Context);
    return DeallocateObject;
}

static IO_ALLOCATION_ACTION KtKeepObject(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                         PVOID MapRegisterBase, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(MapRegisterBase);
    UNREFERENCED_PARAMETER(Context);
    return KeepObject;
}

static VOID KtList(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST List, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    *(PSCATTER_GATHER_LIST *)Context = List;
}

KTEST_BUGCHECK(dma_bugcheck, common_buffer_freed_twice, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    PHYSICAL_ADDRESS logical;
    PVOID va;

    KASSERT_NE(a, NULL);
    va = a->DmaOperations->AllocateCommonBuffer(a, 2 * PAGE_SIZE, &logical, TRUE);
    KASSERT_NE(va, NULL);
    a->DmaOperations->FreeCommonBuffer(a, 2 * PAGE_SIZE, logical, va, TRUE);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x03, 1, (ULONG64)va, 2 * PAGE_SIZE);
    a->DmaOperations->FreeCommonBuffer(a, 2 * PAGE_SIZE, logical, va, TRUE);
}

/* Learn: every argument must be the allocation's; a different Length is no free. */
KTEST_BUGCHECK(dma_bugcheck, common_buffer_freed_with_other_length, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    PHYSICAL_ADDRESS logical;
    PVOID va;

    KASSERT_NE(a, NULL);
    va = a->DmaOperations->AllocateCommonBuffer(a, 100, &logical, TRUE);
    KASSERT_NE(va, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x03, 1, (ULONG64)va, PAGE_SIZE);
    a->DmaOperations->FreeCommonBuffer(a, PAGE_SIZE, logical, va, TRUE);
}

KTEST_BUGCHECK(dma_bugcheck, scatter_gather_list_put_twice, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    PUCHAR buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64, KT_TAG);
    PSCATTER_GATHER_LIST list = NULL;
    PFN_NUMBER mdlSpace[sizeof(MDL) / sizeof(PFN_NUMBER) + 2];
    PMDL mdl = (PMDL)mdlSpace;
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KASSERT_NE(buffer, NULL);
    MmInitializeMdl(mdl, buffer, 64);
    MmGetMdlPfnArray(mdl)[0] = (PFN_NUMBER)(MmGetPhysicalAddress(buffer).QuadPart >> PAGE_SHIFT);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    KASSERT_EQ(a->DmaOperations->GetScatterGatherList(a, NULL, mdl, buffer, 64, KtList, &list, TRUE),
               STATUS_SUCCESS);
    KASSERT_NE(list, NULL);
    a->DmaOperations->PutScatterGatherList(a, list, TRUE);
    /* One list handed out, this would be the second one taken back. */
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x06, 1, 2, (ULONG64)list);
    a->DmaOperations->PutScatterGatherList(a, list, TRUE);
    KeLowerIrql(irql);
}

KTEST_BUGCHECK(dma_bugcheck, scatter_gather_list_never_handed_out, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    static ULONG64 fake[8];
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x06, 0, 1, (ULONG64)fake);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->PutScatterGatherList(a, (PSCATTER_GATHER_LIST)fake, FALSE);
    KeLowerIrql(irql);
}

KTEST_BUGCHECK(dma_bugcheck, more_map_registers_than_granted, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(FALSE, 4 * PAGE_SIZE, &n);
    PVOID base;
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KASSERT_EQ(n, 5);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x0C, 6, 5, (ULONG64)a);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, n + 1, KtKeepRegisters, &base);
    KeLowerIrql(irql);
}

/* FreeMapRegisters' count must be the one allocated. */
KTEST_BUGCHECK(dma_bugcheck, map_registers_freed_with_other_count, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(FALSE, 4 * PAGE_SIZE, &n);
    PVOID base = NULL;
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, 3, KtKeepRegisters, &base);
    KASSERT_NE(base, NULL);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, 2, KtKeepRegisters, &base);
    /* 5 held in all, but this base holds 2. */
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x05, 3, (ULONG64)base, 2);
    a->DmaOperations->FreeMapRegisters(a, base, 3);
    KeLowerIrql(irql);
}

KTEST_BUGCHECK(dma_bugcheck, map_registers_freed_twice, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(FALSE, 4 * PAGE_SIZE, &n);
    PVOID base = NULL;
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, 3, KtKeepRegisters, &base);
    KASSERT_NE(base, NULL);
    a->DmaOperations->FreeMapRegisters(a, base, 3);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x05, 3, (ULONG64)base, 0);
    a->DmaOperations->FreeMapRegisters(a, base, 3);
    KeLowerIrql(irql);
}

KTEST_BUGCHECK(dma_bugcheck, adapter_channel_freed_without_keep_object,
               DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(FALSE, PAGE_SIZE, &n);
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, 1, KtDeallocate, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x04, 1, (ULONG64)a, 0);
    a->DmaOperations->FreeAdapterChannel(a);
    KeLowerIrql(irql);
}

KTEST_BUGCHECK(dma_bugcheck, second_adapter_channel_at_once, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(FALSE, PAGE_SIZE, &n);
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, 1, KtKeepObject, NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x0B, 1, (ULONG64)a, 0);
    a->DmaOperations->AllocateAdapterChannel(a, NULL, 1, KtKeepObject, NULL);
    KeLowerIrql(irql);
}

KTEST_BUGCHECK(dma_bugcheck, put_adapter_with_common_buffer_out, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    PHYSICAL_ADDRESS logical;

    KASSERT_NE(a, NULL);
    KASSERT_NE(a->DmaOperations->AllocateCommonBuffer(a, PAGE_SIZE, &logical, TRUE), NULL);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x07, (ULONG64)a, 1, 0);
    a->DmaOperations->PutDmaAdapter(a);
}

KTEST_BUGCHECK(dma_bugcheck, map_transfer_outside_mdl, DRIVER_VERIFIER_DMA_VIOLATION)
{
    ULONG n, length = 16;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    PUCHAR buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64, KT_TAG);
    PFN_NUMBER mdlSpace[sizeof(MDL) / sizeof(PFN_NUMBER) + 2];
    PMDL mdl = (PMDL)mdlSpace;

    KASSERT_NE(a, NULL);
    KASSERT_NE(buffer, NULL);
    MmInitializeMdl(mdl, buffer, 64);
    MmGetMdlPfnArray(mdl)[0] = (PFN_NUMBER)(MmGetPhysicalAddress(buffer).QuadPart >> PAGE_SHIFT);
    KtestExpectBugCheck(DRIVER_VERIFIER_DMA_VIOLATION, 0x1B, (ULONG64)(buffer + 64), (ULONG64)mdl, 0);
    a->DmaOperations->MapTransfer(a, mdl, NULL, buffer + 64, &length, TRUE);
}

/* The Learn rule is DISPATCH_LEVEL exactly: from PASSIVE_LEVEL it is 0x9. */
KTEST_BUGCHECK(dma_bugcheck, get_scatter_gather_list_below_dispatch, IRQL_NOT_GREATER_OR_EQUAL)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(TRUE, PAGE_SIZE, &n);
    PFN_NUMBER mdlSpace[sizeof(MDL) / sizeof(PFN_NUMBER) + 2];
    PSCATTER_GATHER_LIST list;

    KASSERT_NE(a, NULL);
    KtestExpectBugCheck(IRQL_NOT_GREATER_OR_EQUAL, (ULONG64)a->DmaOperations->GetScatterGatherList,
                        PASSIVE_LEVEL, DISPATCH_LEVEL, KTEST_ANY);
    a->DmaOperations->GetScatterGatherList(a, NULL, (PMDL)mdlSpace, NULL, 1, KtList, &list, TRUE);
}

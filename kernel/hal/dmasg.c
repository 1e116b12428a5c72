/*
 * dmasg.c - scatter/gather lists: CalculateScatterGatherList,
 * GetScatterGatherList / BuildScatterGatherList, PutScatterGatherList and
 * BuildMdlFromScatterGatherList.
 *
 * A list is the transfer cut into logically contiguous runs, built with
 * the same pieces MapTransfer makes (dmamapreg.c): a run of physically
 * adjacent pages is one element, a run the device cannot reach is one
 * element in bounce pages, and elements that turn out adjacent are merged
 * (never across a 4 GiB line). A device without scatter/gather gets one
 * element. The list may cover a chain of MDLs (Mdl->Next).
 *
 * Each list is preceded by a HAL_SG_CONTEXT: the request while it waits
 * for map registers, and afterwards what PutScatterGatherList needs to
 * flush and free them. Lists handed out are kept on their adapter, so a
 * Put of anything else is caught (0xE6, 0x06).
 *
 * The driver's routine runs at DISPATCH_LEVEL: at once from
 * GetScatterGatherList when registers are free (or none are needed), or
 * later from the free that makes room. Unlike AllocateAdapterChannel, any
 * number of lists may be requested at a time.
 */
#include "dma_internal.h"

#define HAL_4GB 0x100000000ULL

typedef struct _HAL_SG_CONTEXT {
    LIST_ENTRY Entry;                   /* on HAL_ADAPTER.ScatterGatherLists once built */
    HAL_WAIT_BLOCK Wait;
    PMDL Mdl;
    ULONG Offset;                       /* of CurrentVa in the first MDL's buffer */
    ULONG Length;
    ULONG MaxElements;
    BOOLEAN WriteToDevice;
    BOOLEAN SystemAllocated;            /* Get: from pool; Build: the caller's buffer */
    BOOLEAN Bounced;                    /* some element is in map registers */
    BOOLEAN MdlBuilt;                   /* BuildMdlFromScatterGatherList was called */
    PDRIVER_LIST_CONTROL ListRoutine;
    PVOID ListContext;
    PVOID MapRegisterBase;
    ULONG MapRegisters;
    PMDL TargetMdl;                     /* made by BuildMdlFromScatterGatherList */
} HAL_SG_CONTEXT, *PHAL_SG_CONTEXT;
_Static_assert(sizeof(HAL_SG_CONTEXT) % 16 == 0, "the list after it stays aligned");

static PSCATTER_GATHER_LIST HalpListOf(PHAL_SG_CONTEXT Context)
{
    return (PSCATTER_GATHER_LIST)(Context + 1);
}

/*
 * Count the pieces (an upper bound on the elements) and the map registers
 * of Length bytes from CurrentVa in Mdl and the MDLs chained to it.
 * STATUS_INVALID_PARAMETER if the chain is shorter than Length.
 */
static NTSTATUS HalpMeasure(PHAL_ADAPTER Adapter, PMDL Mdl, PVOID CurrentVa, ULONG Length,
                            PULONG Elements, PULONG Registers)
{
    PUCHAR start = MmGetMdlVirtualAddress(Mdl);
    ULONG offset, left = Length, elements = 0, registers = 0;

    if ((PUCHAR)CurrentVa < start || (PUCHAR)CurrentVa >= start + Mdl->ByteCount)
        HalpDmaViolation(HAL_DMA_VA_OUTSIDE_MDL, (ULONG_PTR)CurrentVa, (ULONG_PTR)Mdl, 0);
    if (Length == 0)
        HalpDmaViolation(HAL_DMA_ZERO_LENGTH_MAP, (ULONG_PTR)Mdl, (ULONG_PTR)CurrentVa, 0);
    offset = (ULONG)((PUCHAR)CurrentVa - start);
    while (left != 0) {
        ULONG segment;
        if (Mdl == NULL)
            return STATUS_INVALID_PARAMETER;
        segment = Mdl->ByteCount - offset < left ? Mdl->ByteCount - offset : left;
        registers += (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES((ULONG64)Mdl->ByteOffset + offset,
                                                           segment);
        for (ULONG done = 0; done < segment;) {
            BOOLEAN bounce;
            done += HalpPieceLength(Adapter, Mdl, offset + done, segment - done, &bounce);
            elements++;
        }
        left -= segment;
        Mdl = Mdl->Next;
        offset = 0;
    }
    *Elements = elements;
    *Registers = registers;
    return STATUS_SUCCESS;
}

static ULONG HalpListSize(ULONG Elements)
{
    return sizeof(HAL_SG_CONTEXT) + sizeof(SCATTER_GATHER_LIST) +
           Elements * sizeof(SCATTER_GATHER_ELEMENT);
}

/* Any IRQL. Mdl NULL: the worst case for Length bytes at CurrentVa. */
NTSTATUS HalpCalculateScatterGatherList(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl,
                                        PVOID CurrentVa, ULONG Length,
                                        PULONG ScatterGatherListSize,
                                        PULONG pNumberOfMapRegisters)
{
    ULONG elements, registers;

    if (ScatterGatherListSize == NULL)
        return STATUS_INVALID_PARAMETER;
    if (Mdl == NULL) {
        elements = registers = (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(CurrentVa, Length);
    } else {
        NTSTATUS status = HalpMeasure(HAL_ADAPTER_OF(DmaAdapter), Mdl, CurrentVa, Length,
                                      &elements, &registers);
        if (!NT_SUCCESS(status))
            return status;
    }
    *ScatterGatherListSize = HalpListSize(elements);
    if (pNumberOfMapRegisters != NULL)
        *pNumberOfMapRegisters = registers;
    return STATUS_SUCCESS;
}

/* Append an element, merging it into the last one when they touch. */
static VOID HalpAppend(PSCATTER_GATHER_LIST List, ULONG64 Address, ULONG Length)
{
    if (List->NumberOfElements != 0) {
        PSCATTER_GATHER_ELEMENT last = &List->Elements[List->NumberOfElements - 1];
        ULONG64 end = (ULONG64)last->Address.QuadPart + last->Length;
        if (end == Address && ((ULONG64)last->Address.QuadPart / HAL_4GB ==
                               (Address + Length - 1) / HAL_4GB)) {
            last->Length += Length;
            return;
        }
    }
    List->Elements[List->NumberOfElements].Address.QuadPart = (LONGLONG)Address;
    List->Elements[List->NumberOfElements].Length = Length;
    List->Elements[List->NumberOfElements].Reserved = 0;
    List->NumberOfElements++;
}

/* The request's routine (a HAL_WAIT_BLOCK's): registers in hand, build and hand over. */
static IO_ALLOCATION_ACTION HalpScatterGatherControl(struct _DEVICE_OBJECT *DeviceObject,
                                                     struct _IRP *Irp, PVOID MapRegisterBase,
                                                     PVOID Context)
{
    PHAL_SG_CONTEXT sg = Context;
    PHAL_ADAPTER adapter = sg->Wait.Adapter;
    PSCATTER_GATHER_LIST list = HalpListOf(sg);
    PMDL mdl = sg->Mdl;
    ULONG offset = sg->Offset, left = sg->Length;

    sg->MapRegisterBase = MapRegisterBase;
    sg->MapRegisters = MapRegisterBase != NULL ? sg->Wait.NumberOfMapRegisters : 0;
    list->NumberOfElements = 0;
    list->Reserved = 0;
    while (left != 0) {
        ULONG segment = mdl->ByteCount - offset < left ? mdl->ByteCount - offset : left;
        for (ULONG done = 0; done < segment;) {
            ULONG length = segment - done;
            PHYSICAL_ADDRESS address =
                HalpMapTransfer(&adapter->DmaHeader, mdl, MapRegisterBase,
                                (PUCHAR)MmGetMdlVirtualAddress(mdl) + offset + done, &length,
                                sg->WriteToDevice);
            HalpAppend(list, (ULONG64)address.QuadPart, length);
            done += length;
        }
        left -= segment;
        mdl = mdl->Next;
        offset = 0;
    }
    sg->Bounced = MapRegisterBase != NULL && ((PHAL_MAP_REGISTER)MapRegisterBase)->Used != 0;

    KeAcquireSpinLockAtDpcLevel(&adapter->Lock);
    InsertTailList(&adapter->ScatterGatherLists, &sg->Entry);
    adapter->ScatterGatherListCount++;
    adapter->ScatterGatherListsAllocated++;
    KeReleaseSpinLockFromDpcLevel(&adapter->Lock);

    sg->ListRoutine(DeviceObject, Irp, list, sg->ListContext);
    return DeallocateObjectKeepRegisters;   /* the list keeps them until Put */
}

static NTSTATUS HalpStartScatterGather(PHAL_ADAPTER Adapter, struct _DEVICE_OBJECT *DeviceObject,
                                       PMDL Mdl, PVOID CurrentVa, ULONG Length,
                                       PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                       BOOLEAN WriteToDevice, PHAL_SG_CONTEXT Sg,
                                       ULONG Elements, ULONG Registers, BOOLEAN SystemAllocated)
{
    RtlZeroMemory(Sg, sizeof(*Sg));
    Sg->Mdl = Mdl;
    Sg->Offset = (ULONG)((PUCHAR)CurrentVa - (PUCHAR)MmGetMdlVirtualAddress(Mdl));
    Sg->Length = Length;
    Sg->MaxElements = Elements;
    Sg->WriteToDevice = WriteToDevice;
    Sg->SystemAllocated = SystemAllocated;
    Sg->ListRoutine = ExecutionRoutine;
    Sg->ListContext = Context;
    Sg->Wait.Adapter = Adapter;
    Sg->Wait.DeviceObject = DeviceObject;
    Sg->Wait.Irp = HalpCurrentIrp(DeviceObject);
    Sg->Wait.Channel = FALSE;
    Sg->Wait.ExecutionRoutine = HalpScatterGatherControl;
    Sg->Wait.Context = Sg;
    if (Adapter->Pool != NULL) {
        Sg->Wait.NumberOfMapRegisters = Registers;
        HalpRequestMapRegisters(&Sg->Wait);     /* now, or from a later free */
    } else {
        HalpRunWaitBlock(&Sg->Wait, NULL);
    }
    return STATUS_SUCCESS;
}

NTSTATUS HalpGetScatterGatherList(PDMA_ADAPTER DmaAdapter, struct _DEVICE_OBJECT *DeviceObject,
                                  struct _MDL *Mdl, PVOID CurrentVa, ULONG Length,
                                  PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                  BOOLEAN WriteToDevice)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    ULONG elements, registers;
    PHAL_SG_CONTEXT sg;
    NTSTATUS status;

    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, HalpGetScatterGatherList);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpGetScatterGatherList);
    status = HalpMeasure(adapter, Mdl, CurrentVa, Length, &elements, &registers);
    if (!NT_SUCCESS(status))
        return status;
    if (registers > adapter->MapRegistersPerChannel)
        return STATUS_INSUFFICIENT_RESOURCES;
    sg = ExAllocatePoolWithTag(NonPagedPoolNx, HalpListSize(elements), HAL_DMA_TAG);
    if (sg == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    return HalpStartScatterGather(adapter, DeviceObject, Mdl, CurrentVa, Length, ExecutionRoutine,
                                  Context, WriteToDevice, sg, elements, registers, TRUE);
}

NTSTATUS HalpBuildScatterGatherList(PDMA_ADAPTER DmaAdapter, struct _DEVICE_OBJECT *DeviceObject,
                                    struct _MDL *Mdl, PVOID CurrentVa, ULONG Length,
                                    PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                    BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer,
                                    ULONG ScatterGatherLength)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    ULONG elements, registers;
    NTSTATUS status;

    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, HalpBuildScatterGatherList);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpBuildScatterGatherList);
    status = HalpMeasure(adapter, Mdl, CurrentVa, Length, &elements, &registers);
    if (!NT_SUCCESS(status))
        return status;
    if (registers > adapter->MapRegistersPerChannel)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (ScatterGatherBuffer == NULL || ScatterGatherLength < HalpListSize(elements) ||
        ((ULONG_PTR)ScatterGatherBuffer & (sizeof(ULONG_PTR) - 1)) != 0)
        return STATUS_BUFFER_TOO_SMALL;
    return HalpStartScatterGather(adapter, DeviceObject, Mdl, CurrentVa, Length, ExecutionRoutine,
                                  Context, WriteToDevice, ScatterGatherBuffer, elements, registers,
                                  FALSE);
}

/* Adapter lock held: the context of a list this adapter handed out, or NULL. */
static PHAL_SG_CONTEXT HalpFindList(PHAL_ADAPTER Adapter, PSCATTER_GATHER_LIST List)
{
    for (PLIST_ENTRY e = Adapter->ScatterGatherLists.Flink; e != &Adapter->ScatterGatherLists;
         e = e->Flink) {
        PHAL_SG_CONTEXT sg = CONTAINING_RECORD(e, HAL_SG_CONTEXT, Entry);
        if (HalpListOf(sg) == List)
            return sg;
    }
    return NULL;
}

VOID HalpPutScatterGatherList(PDMA_ADAPTER DmaAdapter, PSCATTER_GATHER_LIST ScatterGather,
                              BOOLEAN WriteToDevice)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PHAL_SG_CONTEXT sg;

    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, HalpPutScatterGatherList);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpPutScatterGatherList);
    KeAcquireSpinLockAtDpcLevel(&adapter->Lock);
    sg = HalpFindList(adapter, ScatterGather);
    if (sg == NULL) {
        ULONG allocated = adapter->ScatterGatherListsAllocated;
        ULONG freed = adapter->ScatterGatherListsFreed;
        KeReleaseSpinLockFromDpcLevel(&adapter->Lock);
        HalpDmaViolation(HAL_DMA_SG_LIST_FREED, allocated, freed + 1, (ULONG_PTR)ScatterGather);
    }
    RemoveEntryList(&sg->Entry);
    adapter->ScatterGatherListCount--;
    adapter->ScatterGatherListsFreed++;
    KeReleaseSpinLockFromDpcLevel(&adapter->Lock);

    if (sg->MapRegisterBase != NULL) {
        HalpFlushRun(adapter, sg->MapRegisterBase, WriteToDevice);
        HalpReleaseMapRegisters(adapter, sg->MapRegisterBase, sg->MapRegisters);
    }
    if (sg->TargetMdl != NULL)
        ExFreePoolWithTag(sg->TargetMdl, HAL_DMA_TAG);
    if (sg->SystemAllocated)
        ExFreePoolWithTag(sg, HAL_DMA_TAG);
}

/*
 * IRQL <= DISPATCH_LEVEL. An MDL of the pages the device really uses: the
 * original MDL when nothing was bounced, else a new MDL over the bounce
 * pages (freed by PutScatterGatherList). Once per list: STATUS_NONE_MAPPED
 * the second time.
 */
NTSTATUS HalpBuildMdlFromScatterGatherList(PDMA_ADAPTER DmaAdapter,
                                           PSCATTER_GATHER_LIST ScatterGather,
                                           struct _MDL *OriginalMdl, struct _MDL **TargetMdl)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PHAL_SG_CONTEXT sg;
    ULONG total = 0, count = 0;
    PPFN_NUMBER pfns;
    PUCHAR va;
    PMDL mdl;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpBuildMdlFromScatterGatherList);
    if (OriginalMdl == NULL || TargetMdl == NULL || ScatterGather == NULL)
        return STATUS_INVALID_PARAMETER;
    KeAcquireSpinLock(&adapter->Lock, &irql);
    sg = HalpFindList(adapter, ScatterGather);
    if (sg != NULL && sg->MdlBuilt) {
        KeReleaseSpinLock(&adapter->Lock, irql);
        return STATUS_NONE_MAPPED;
    }
    if (sg != NULL)
        sg->MdlBuilt = TRUE;
    KeReleaseSpinLock(&adapter->Lock, irql);
    if (sg == NULL)
        return STATUS_INVALID_PARAMETER;
    if (!sg->Bounced) {
        *TargetMdl = OriginalMdl;
        return STATUS_SUCCESS;
    }

    for (ULONG i = 0; i < ScatterGather->NumberOfElements; i++)
        total += ScatterGather->Elements[i].Length;
    va = (PUCHAR)MmGetMdlVirtualAddress(sg->Mdl) + sg->Offset;
    mdl = ExAllocatePoolWithTag(NonPagedPoolNx, MmSizeOfMdl(va, total), HAL_DMA_TAG);
    if (mdl == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    MmInitializeMdl(mdl, va, total);
    /* Bounce pages keep the buffer's byte offsets, so the pages line up with va's. */
    pfns = MmGetMdlPfnArray(mdl);
    for (ULONG i = 0; i < ScatterGather->NumberOfElements; i++) {
        ULONG64 first = (ULONG64)ScatterGather->Elements[i].Address.QuadPart >> PAGE_SHIFT;
        ULONG64 last = ((ULONG64)ScatterGather->Elements[i].Address.QuadPart +
                        ScatterGather->Elements[i].Length - 1) >> PAGE_SHIFT;
        for (ULONG64 p = first; p <= last; p++)
            if ((count == 0 || pfns[count - 1] != p || p != first) &&
                count < ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, total))
                pfns[count++] = p;
    }
    sg->TargetMdl = mdl;
    *TargetMdl = mdl;
    return STATUS_SUCCESS;
}

/*
 * test_dma.c - DMA adapters as a driver uses them (kernel/hal/dma*.c).
 *
 * The "device" is simulated the way a real one sees memory: it reads and
 * writes logical addresses, which the test maps with MmMapIoSpace. MDLs
 * are built by hand (MmInitializeMdl + the PFNs of contiguous pages, in an
 * order the test chooses), so a list can be checked against pages whose
 * physical adjacency is known: a run of adjacent PFNs must become one
 * element, a jump must start a new one.
 *
 * Double-buffering is tested two ways: a 32-bit master with pages above
 * 4 GiB (needs RAM there: bios-6g and its nolowmem boot), and everywhere a
 * v3 description whose DmaAddressWidth is 26 bits (64 MiB) with pages above
 * 64 MiB - the same map-register path with a lower limit.
 */
#include "../../kernel/wdm.h"
#include "../ktest.h"

#define KT_TAG 'tAmD'
#define KT_4GB 0x100000000ULL
#define KT_64MB 0x4000000ULL
#define KT_MAX_PAGES 8

/* ---- Helpers ------------------------------------------------------------------- */

static PDMA_ADAPTER KtAdapter(ULONG Version, BOOLEAN ScatterGather, BOOLEAN Dma32, BOOLEAN Dma64,
                              ULONG Width, ULONG MaximumLength, PULONG Registers)
{
    DEVICE_DESCRIPTION d;

    RtlZeroMemory(&d, sizeof(d));
    d.Version = Version;
    d.Master = TRUE;
    d.ScatterGather = ScatterGather;
    d.Dma32BitAddresses = Dma32;
    d.Dma64BitAddresses = Dma64;
    d.DmaAddressWidth = Width;
    d.InterfaceType = PCIBus;
    d.MaximumLength = MaximumLength;
    return IoGetDmaAdapter(NULL, &d, Registers);
}

/* Pages at or above Lowest, physically contiguous and mapped in order. */
static PUCHAR KtPages(ULONG Pages, ULONG64 Lowest)
{
    PHYSICAL_ADDRESS low = {.QuadPart = (LONGLONG)Lowest}, high = {.QuadPart = -1}, none = {0};
    return MmAllocateContiguousMemorySpecifyCache(Pages * PAGE_SIZE, low, high, none, MmCached);
}

static BOOLEAN KtRamAbove(ULONG64 Address)
{
    PUCHAR p = KtPages(1, Address);
    if (p == NULL)
        return FALSE;
    MmFreeContiguousMemory(p);
    return TRUE;
}

static PFN_NUMBER KtPfn(PVOID Va)
{
    return (PFN_NUMBER)((ULONG64)MmGetPhysicalAddress(Va).QuadPart >> PAGE_SHIFT);
}

/*
 * An MDL for Length bytes at byte Offset of a made-up buffer whose page i
 * is the page Order[i] of Pages. Its "virtual address" is only an index
 * (as Learn says CurrentVa is); nothing maps it, so the HAL must reach the
 * pages through their PFNs.
 */
static PMDL KtMdl(PUCHAR Pages, const ULONG *Order, ULONG Offset, ULONG Length)
{
    PVOID va = (PVOID)(0xFFFF900000000000ULL + Offset);
    PMDL mdl = ExAllocatePoolWithTag(NonPagedPoolNx, MmSizeOfMdl(va, Length), KT_TAG);
    ULONG span;

    if (mdl == NULL)
        return NULL;
    MmInitializeMdl(mdl, va, Length);
    span = (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, Length);
    for (ULONG i = 0; i < span; i++)
        MmGetMdlPfnArray(mdl)[i] = KtPfn(Pages + Order[i] * PAGE_SIZE);
    return mdl;
}

/* The byte at Offset of an MDL built by KtMdl, read through the pages' own mapping. */
static PUCHAR KtMdlByte(PMDL Mdl, PUCHAR Pages, const ULONG *Order, ULONG Offset)
{
    ULONG position = Mdl->ByteOffset + Offset;
    UNREFERENCED_PARAMETER(Mdl);
    return Pages + Order[position >> PAGE_SHIFT] * PAGE_SIZE + (position & (PAGE_SIZE - 1));
}

/* What the device does: copy to or from a logical address. */
static VOID KtDevice(ULONG64 Logical, PUCHAR Buffer, ULONG Length, BOOLEAN DeviceWrites)
{
    PHYSICAL_ADDRESS pa = {.QuadPart = (LONGLONG)Logical};
    PUCHAR va = MmMapIoSpace(pa, Length, MmCached);

    KASSERT_NE(va, NULL);
    if (DeviceWrites)
        RtlCopyMemory(va, Buffer, Length);
    else
        RtlCopyMemory(Buffer, va, Length);
    MmUnmapIoSpace(va, Length);
}

/* What a list routine saw. */
typedef struct _KT_LIST_CALL {
    ULONG Calls;
    KIRQL Irql;
    PDEVICE_OBJECT DeviceObject;
    PIRP Irp;
    PSCATTER_GATHER_LIST List;
} KT_LIST_CALL, *PKT_LIST_CALL;

static VOID KtListRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST List,
                          PVOID Context)
{
    PKT_LIST_CALL call = Context;
    call->Calls++;
    call->Irql = KeGetCurrentIrql();
    call->DeviceObject = DeviceObject;
    call->Irp = Irp;
    call->List = List;
}

static NTSTATUS KtGetList(PDMA_ADAPTER Adapter, PDEVICE_OBJECT Device, PMDL Mdl, ULONG Offset,
                          ULONG Length, BOOLEAN WriteToDevice, PKT_LIST_CALL Call)
{
    KIRQL irql;
    NTSTATUS status;

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    status = Adapter->DmaOperations->GetScatterGatherList(
        Adapter, Device, Mdl, (PUCHAR)MmGetMdlVirtualAddress(Mdl) + Offset, Length, KtListRoutine,
        Call, WriteToDevice);
    KeLowerIrql(irql);
    return status;
}

static VOID KtPutList(PDMA_ADAPTER Adapter, PSCATTER_GATHER_LIST List, BOOLEAN WriteToDevice)
{
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    Adapter->DmaOperations->PutScatterGatherList(Adapter, List, WriteToDevice);
    KeLowerIrql(irql);
}

static DEVICE_OBJECT KtDeviceObject;

/* ---- The adapter ------------------------------------------------------------------ */

KTEST(dma, adapter_and_operations_are_nts)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, TRUE, TRUE, 0, 0x10000, &n);
    PVOID *ops;

    KASSERT_NE(a, NULL);
    KEXPECT_EQ(a->Version, 1);
    KEXPECT_EQ(a->Size, sizeof(DMA_ADAPTER));
    KEXPECT_EQ(a->DmaOperations->Size, 0x80);
    /* A 64-bit S/G master needs no bouncing: 16 pages + 1 for an unaligned start. */
    KEXPECT_EQ(n, 17);
    ops = (PVOID *)((PUCHAR)a->DmaOperations + 8);
    for (ULONG i = 0; i < 15; i++)
        KEXPECT_NE(ops[i], NULL);
    KEXPECT_EQ(a->DmaOperations->GetDmaAlignment(a), 1);
    KEXPECT_EQ(a->DmaOperations->ReadDmaCounter(a), 0);
    a->DmaOperations->PutDmaAdapter(a);
}

KTEST(dma, unsupported_descriptions_get_no_adapter)
{
    DEVICE_DESCRIPTION d;
    ULONG n;

    RtlZeroMemory(&d, sizeof(d));
    d.Version = 4;
    d.Master = TRUE;
    KEXPECT_EQ(IoGetDmaAdapter(NULL, &d, &n), NULL);
    d.Version = DEVICE_DESCRIPTION_VERSION2;
    d.Master = FALSE;                   /* a system DMA controller's device */
    KEXPECT_EQ(IoGetDmaAdapter(NULL, &d, &n), NULL);
    d.Version = DEVICE_DESCRIPTION_VERSION3;
    d.Master = TRUE;
    d.DmaAddressWidth = 0;
    KEXPECT_EQ(IoGetDmaAdapter(NULL, &d, &n), NULL);
    d.DmaAddressWidth = 65;
    KEXPECT_EQ(IoGetDmaAdapter(NULL, &d, &n), NULL);
}

/* A device that must bounce gets at most HAL_MAX_MAP_REGISTERS_PER_CHANNEL registers. */
KTEST(dma, map_registers_granted_are_bounded)
{
    ULONG n = 0;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 0x100000, &n);

    KASSERT_NE(a, NULL);
    KEXPECT_EQ(n, HAL_MAX_MAP_REGISTERS_PER_CHANNEL);
    a->DmaOperations->PutDmaAdapter(a);
    /* A packet-based (non-S/G) master always goes through map registers. */
    a = KtAdapter(DEVICE_DESCRIPTION_VERSION2, FALSE, TRUE, TRUE, 0, 3 * PAGE_SIZE, &n);
    KASSERT_NE(a, NULL);
    KEXPECT_EQ(n, 4);
    a->DmaOperations->PutDmaAdapter(a);
}

/* ---- Common buffers ---------------------------------------------------------- */

static VOID KtCommonBuffer(BOOLEAN Dma64)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, TRUE, Dma64, 0, PAGE_SIZE, &n);
    PHYSICAL_ADDRESS logical = {.QuadPart = 0};
    ULONG length = 3 * PAGE_SIZE + 100;
    PUCHAR va;

    KASSERT_NE(a, NULL);
    va = a->DmaOperations->AllocateCommonBuffer(a, length, &logical, FALSE);
    KASSERT_NE(va, NULL);
    KEXPECT_EQ(BYTE_OFFSET(va), 0);
    /* Contiguous, and the logical address is the physical one (no IOMMU). */
    for (ULONG i = 0; i < 4; i++)
        KEXPECT_EQ(MmGetPhysicalAddress(va + i * PAGE_SIZE).QuadPart,
                   logical.QuadPart + i * PAGE_SIZE);
    if (!Dma64)
        KEXPECT_LE((ULONG64)logical.QuadPart + length - 1, 0xFFFFFFFFULL);
    /* Never across a 4 GiB line, whatever the device. */
    KEXPECT_EQ((ULONG64)logical.QuadPart / KT_4GB,
               ((ULONG64)logical.QuadPart + length - 1) / KT_4GB);
    memset(va, 0x5A, length);
    KEXPECT_EQ(a->DmaOperations->AllocateCommonBuffer(a, 0, &logical, TRUE), NULL);
    a->DmaOperations->FreeCommonBuffer(a, length, logical, va, FALSE);
    a->DmaOperations->PutDmaAdapter(a);
}

KTEST(dma, common_buffer_32bit_master_is_below_4g)
{
    KtCommonBuffer(FALSE);
}

KTEST(dma, common_buffer_64bit_master)
{
    KtCommonBuffer(TRUE);
}

/* ---- Scatter/gather lists -------------------------------------------------- */

/*
 * Pages P0..P5 physically adjacent; the MDL takes them in the order
 * P2 P3 P0 P1 P5 P4: runs P2-P3, P0-P1, P5, P4. The buffer starts at an
 * odd offset and ends mid-page.
 */
KTEST(dma, scatter_gather_list_matches_mdl_pages)
{
    static const ULONG order[] = {2, 3, 0, 1, 5, 4};
    ULONG n, offset = 0x123, length = 6 * PAGE_SIZE - 0x123 - 0x200;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, TRUE, TRUE, 0, 0x10000, &n);
    PUCHAR pages = KtPages(6, 0);
    KT_LIST_CALL call = {0};
    PSCATTER_GATHER_LIST l;
    PMDL mdl;

    KASSERT_NE(a, NULL);
    KASSERT_NE(pages, NULL);
    mdl = KtMdl(pages, order, offset, length);
    KASSERT_NE(mdl, NULL);
    KtDeviceObject.CurrentIrp = (PIRP)&call;    /* any pointer: handed through as Irp */
    KASSERT_EQ(KtGetList(a, &KtDeviceObject, mdl, 0, length, TRUE, &call), STATUS_SUCCESS);
    KASSERT_EQ(call.Calls, 1);          /* no registers needed: called at once */
    KEXPECT_EQ(call.Irql, DISPATCH_LEVEL);
    KEXPECT_EQ(call.DeviceObject, &KtDeviceObject);
    KEXPECT_EQ(call.Irp, (PIRP)&call);
    l = call.List;
    KASSERT_EQ(l->NumberOfElements, 4);
    KEXPECT_EQ(l->Elements[0].Address.QuadPart, MmGetPhysicalAddress(pages + 2 * PAGE_SIZE + offset).QuadPart);
    KEXPECT_EQ(l->Elements[0].Length, 2 * PAGE_SIZE - offset);
    KEXPECT_EQ(l->Elements[1].Address.QuadPart, MmGetPhysicalAddress(pages).QuadPart);
    KEXPECT_EQ(l->Elements[1].Length, 2 * PAGE_SIZE);
    KEXPECT_EQ(l->Elements[2].Address.QuadPart, MmGetPhysicalAddress(pages + 5 * PAGE_SIZE).QuadPart);
    KEXPECT_EQ(l->Elements[2].Length, PAGE_SIZE);
    KEXPECT_EQ(l->Elements[3].Address.QuadPart, MmGetPhysicalAddress(pages + 4 * PAGE_SIZE).QuadPart);
    KEXPECT_EQ(l->Elements[3].Length, PAGE_SIZE - 0x200);
    KtPutList(a, l, TRUE);

    /* Part of the buffer: from inside the second page, 10 bytes into the third run. */
    call.Calls = 0;
    KASSERT_EQ(KtGetList(a, NULL, mdl, PAGE_SIZE, 2 * PAGE_SIZE - offset + 10, FALSE, &call),
               STATUS_SUCCESS);
    KASSERT_EQ(call.Calls, 1);
    KEXPECT_EQ(call.Irp, NULL);         /* no device object, no IRP */
    l = call.List;
    KASSERT_EQ(l->NumberOfElements, 2);
    KEXPECT_EQ(l->Elements[0].Address.QuadPart,
               MmGetPhysicalAddress(pages + 3 * PAGE_SIZE + offset).QuadPart);
    KEXPECT_EQ(l->Elements[0].Length, PAGE_SIZE - offset);
    KEXPECT_EQ(l->Elements[1].Address.QuadPart, MmGetPhysicalAddress(pages).QuadPart);
    KEXPECT_EQ(l->Elements[1].Length, PAGE_SIZE + 10);
    KtPutList(a, l, FALSE);

    /* A few bytes at the end of the fifth MDL page (P5): one element. */
    call.Calls = 0;
    KASSERT_EQ(KtGetList(a, NULL, mdl, 5 * PAGE_SIZE - offset - 7, 3, TRUE, &call), STATUS_SUCCESS);
    KASSERT_EQ(call.List->NumberOfElements, 1);
    KEXPECT_EQ(call.List->Elements[0].Address.QuadPart,
               MmGetPhysicalAddress(pages + 6 * PAGE_SIZE - 7).QuadPart);
    KEXPECT_EQ(call.List->Elements[0].Length, 3);
    KtPutList(a, call.List, TRUE);

    ExFreePoolWithTag(mdl, KT_TAG);
    MmFreeContiguousMemory(pages);
    a->DmaOperations->PutDmaAdapter(a);
}

/* Calculate + Build: the same list in the caller's buffer; too small a buffer is refused. */
KTEST(dma, build_scatter_gather_list_in_caller_buffer)
{
    static const ULONG order[] = {0, 2, 1};
    ULONG n, size = 0, registers = 0, worst = 0;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, FALSE, TRUE, 0, 0x10000, &n);
    PUCHAR pages = KtPages(3, 0), buffer;
    KT_LIST_CALL call = {0};
    PMDL mdl;
    KIRQL irql;
    NTSTATUS status;

    KASSERT_NE(a, NULL);
    KASSERT_NE(pages, NULL);
    mdl = KtMdl(pages, order, 16, 3 * PAGE_SIZE - 32);
    KASSERT_NE(mdl, NULL);
    KASSERT_EQ(a->DmaOperations->CalculateScatterGatherList(a, mdl, MmGetMdlVirtualAddress(mdl),
                                                            3 * PAGE_SIZE - 32, &size, &registers),
               STATUS_SUCCESS);
    KEXPECT_EQ(registers, 3);
    KASSERT_EQ(a->DmaOperations->CalculateScatterGatherList(a, NULL, MmGetMdlVirtualAddress(mdl),
                                                            3 * PAGE_SIZE - 32, &worst, NULL),
               STATUS_SUCCESS);
    KEXPECT_GE(worst, size);
    KEXPECT_GE(size, sizeof(SCATTER_GATHER_LIST) + 3 * sizeof(SCATTER_GATHER_ELEMENT));
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, size, KT_TAG);
    KASSERT_NE(buffer, NULL);

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    status = a->DmaOperations->BuildScatterGatherList(a, NULL, mdl, MmGetMdlVirtualAddress(mdl),
                                                      3 * PAGE_SIZE - 32, KtListRoutine, &call,
                                                      TRUE, buffer, size - 1);
    KeLowerIrql(irql);
    KEXPECT_EQ(status, STATUS_BUFFER_TOO_SMALL);
    KEXPECT_EQ(call.Calls, 0);

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    status = a->DmaOperations->BuildScatterGatherList(a, NULL, mdl, MmGetMdlVirtualAddress(mdl),
                                                      3 * PAGE_SIZE - 32, KtListRoutine, &call,
                                                      TRUE, buffer, size);
    KeLowerIrql(irql);
    KASSERT_EQ(status, STATUS_SUCCESS);
    KASSERT_EQ(call.Calls, 1);
    KEXPECT_GE((PUCHAR)call.List, buffer);
    KEXPECT_LT((PUCHAR)call.List, buffer + size);
    /* P0 | P2 | P1: three runs (P2 -> P1 goes down). */
    KASSERT_EQ(call.List->NumberOfElements, 3);
    KEXPECT_EQ(call.List->Elements[0].Length, PAGE_SIZE - 16);
    KEXPECT_EQ(call.List->Elements[1].Address.QuadPart,
               MmGetPhysicalAddress(pages + 2 * PAGE_SIZE).QuadPart);
    KEXPECT_EQ(call.List->Elements[2].Length, PAGE_SIZE - 16);
    KtPutList(a, call.List, TRUE);

    ExFreePoolWithTag(buffer, KT_TAG);
    ExFreePoolWithTag(mdl, KT_TAG);
    MmFreeContiguousMemory(pages);
    a->DmaOperations->PutDmaAdapter(a);
}

/* A transfer larger than the registers granted is refused, never half done. */
KTEST(dma, scatter_gather_list_larger_than_granted_is_refused)
{
    static const ULONG order[] = {0, 1, 2, 3};
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, PAGE_SIZE, &n);
    PUCHAR pages = KtPages(4, KT_64MB);
    KT_LIST_CALL call = {0};
    PMDL mdl;

    KASSERT_NE(a, NULL);
    KASSERT_NE(pages, NULL);
    KEXPECT_EQ(n, 2);
    mdl = KtMdl(pages, order, 0, 4 * PAGE_SIZE);
    KASSERT_NE(mdl, NULL);
    KEXPECT_EQ(KtGetList(a, NULL, mdl, 0, 3 * PAGE_SIZE, TRUE, &call), STATUS_INSUFFICIENT_RESOURCES);
    KEXPECT_EQ(call.Calls, 0);
    KASSERT_EQ(KtGetList(a, NULL, mdl, 0, 2 * PAGE_SIZE, TRUE, &call), STATUS_SUCCESS);
    KASSERT_EQ(call.Calls, 1);
    KtPutList(a, call.List, TRUE);
    ExFreePoolWithTag(mdl, KT_TAG);
    MmFreeContiguousMemory(pages);
    a->DmaOperations->PutDmaAdapter(a);
}

/* ---- Bouncing ---------------------------------------------------------------- */

static VOID KtFill(PUCHAR P, ULONG Length, ULONG Seed)
{
    for (ULONG i = 0; i < Length; i++)
        P[i] = (UCHAR)(i * 7 + Seed + (i >> 8));
}

/*
 * A device that reaches only [0, Limit] and a buffer entirely above it:
 * every element must be in reach, what the device reads must be the
 * buffer, and what it writes must land in the buffer after the Put. Both
 * with an MDL the HAL must map (no system address) and with a nonpaged-pool
 * style MDL (MappedSystemVa).
 */
static VOID KtBounceScatterGather(PDMA_ADAPTER Adapter, ULONG64 Limit, ULONG64 Lowest)
{
    static const ULONG order[] = {1, 0, 2, 3};
    ULONG offset = 0x80, length = 4 * PAGE_SIZE - 0x100;
    PUCHAR pages = KtPages(4, Lowest), data, seen;
    KT_LIST_CALL call;
    PMDL mdl;

    KASSERT_NE(pages, NULL);
    KEXPECT_GT((ULONG64)MmGetPhysicalAddress(pages).QuadPart, Limit);
    data = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * length, KT_TAG);
    KASSERT_NE(data, NULL);
    seen = data + length;
    for (ULONG mapped = 0; mapped < 2; mapped++) {
        mdl = KtMdl(pages, order, offset, length);
        KASSERT_NE(mdl, NULL);
        if (mapped) {
            /* Pages in order, as MmBuildMdlForNonPagedPool would describe pages + offset. */
            for (ULONG i = 0; i < 4; i++)
                MmGetMdlPfnArray(mdl)[i] = KtPfn(pages + i * PAGE_SIZE);
            mdl->MappedSystemVa = pages + offset;
            mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
        }
        /* To the device. */
        KtFill(data, length, 3 + mapped);
        for (ULONG i = 0; i < length; i++)
            *(mapped ? pages + offset + i : KtMdlByte(mdl, pages, order, i)) = data[i];
        RtlZeroMemory(&call, sizeof(call));
        KASSERT_EQ(KtGetList(Adapter, NULL, mdl, 0, length, TRUE, &call), STATUS_SUCCESS);
        KASSERT_EQ(call.Calls, 1);
        {
            ULONG done = 0;
            for (ULONG e = 0; e < call.List->NumberOfElements; e++) {
                PSCATTER_GATHER_ELEMENT el = &call.List->Elements[e];
                KEXPECT_LE((ULONG64)el->Address.QuadPart + el->Length - 1, Limit);
                KtDevice((ULONG64)el->Address.QuadPart, seen + done, el->Length, FALSE);
                done += el->Length;
            }
            KEXPECT_EQ(done, length);
        }
        KEXPECT_EQ(memcmp(seen, data, length), 0);
        KtPutList(Adapter, call.List, TRUE);

        /* From the device. */
        KtFill(data, length, 99 + mapped);
        RtlZeroMemory(&call, sizeof(call));
        KASSERT_EQ(KtGetList(Adapter, NULL, mdl, 0, length, FALSE, &call), STATUS_SUCCESS);
        KASSERT_EQ(call.Calls, 1);
        {
            ULONG done = 0;
            for (ULONG e = 0; e < call.List->NumberOfElements; e++) {
                PSCATTER_GATHER_ELEMENT el = &call.List->Elements[e];
                KEXPECT_LE((ULONG64)el->Address.QuadPart + el->Length - 1, Limit);
                KtDevice((ULONG64)el->Address.QuadPart, data + done, el->Length, TRUE);
                done += el->Length;
            }
        }
        KtPutList(Adapter, call.List, FALSE);
        for (ULONG i = 0; i < length; i++)
            seen[i] = *(mapped ? pages + offset + i : KtMdlByte(mdl, pages, order, i));
        KEXPECT_EQ(memcmp(seen, data, length), 0);
        ExFreePoolWithTag(mdl, KT_TAG);
    }
    ExFreePoolWithTag(data, KT_TAG);
    MmFreeContiguousMemory(pages);
}

KTEST(dma, bounce_32bit_master_above_4g)
{
    ULONG n;
    PDMA_ADAPTER a;

    if (!KtRamAbove(KT_4GB))
        KTEST_SKIP("no RAM above 4 GiB");
    /* Dma32BitAddresses, and the sheet's implied 32 bits of a S/G PCI device. */
    for (ULONG implied = 0; implied < 2; implied++) {
        a = KtAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, !implied, FALSE, 0, 0x10000, &n);
        KASSERT_NE(a, NULL);
        KEXPECT_EQ(n, 17);
        KtBounceScatterGather(a, 0xFFFFFFFFULL, KT_4GB);
        a->DmaOperations->PutDmaAdapter(a);
    }
}

KTEST(dma, bounce_narrow_device_v3_width)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 0x10000, &n);

    KASSERT_NE(a, NULL);
    KtBounceScatterGather(a, KT_64MB - 1, KT_64MB);
    a->DmaOperations->PutDmaAdapter(a);
}

/* What an AllocateAdapterChannel routine saw, and what it answers. */
typedef struct _KT_CHANNEL_CALL {
    ULONG Calls;
    KIRQL Irql;
    PVOID MapRegisterBase;
    IO_ALLOCATION_ACTION Answer;
} KT_CHANNEL_CALL, *PKT_CHANNEL_CALL;

static IO_ALLOCATION_ACTION KtChannelRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                             PVOID MapRegisterBase, PVOID Context)
{
    PKT_CHANNEL_CALL call = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    call->Calls++;
    call->Irql = KeGetCurrentIrql();
    call->MapRegisterBase = MapRegisterBase;
    return call->Answer;
}

static VOID KtAllocateChannel(PDMA_ADAPTER Adapter, ULONG Registers, PKT_CHANNEL_CALL Call)
{
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    KEXPECT_EQ(Adapter->DmaOperations->AllocateAdapterChannel(Adapter, NULL, Registers,
                                                              KtChannelRoutine, Call),
               STATUS_SUCCESS);
    KeLowerIrql(irql);
}

static VOID KtFreeMapRegisters(PDMA_ADAPTER Adapter, PVOID Base, ULONG Registers)
{
    KIRQL irql;
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    Adapter->DmaOperations->FreeMapRegisters(Adapter, Base, Registers);
    KeLowerIrql(irql);
}

/*
 * Packet-based DMA: a master without scatter/gather is handed one
 * contiguous logical range for a buffer whose pages are scattered (and
 * above its limit); MapTransfer copies to it, FlushAdapterBuffers back.
 */
KTEST(dma, packet_based_master_gets_one_contiguous_range)
{
    static const ULONG order[] = {2, 0, 1};
    ULONG n, length = 3 * PAGE_SIZE - 0x300, piece;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, FALSE, FALSE, FALSE, 26, 3 * PAGE_SIZE, &n);
    PUCHAR pages = KtPages(3, KT_64MB), data, seen;
    KT_CHANNEL_CALL call = {.Answer = DeallocateObjectKeepRegisters};
    PHYSICAL_ADDRESS logical;
    PMDL mdl;
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KASSERT_NE(pages, NULL);
    KEXPECT_EQ(n, 4);
    data = ExAllocatePoolWithTag(NonPagedPoolNx, 2 * length, KT_TAG);
    KASSERT_NE(data, NULL);
    seen = data + length;
    mdl = KtMdl(pages, order, 0x180, length);
    KASSERT_NE(mdl, NULL);
    KtFill(data, length, 5);
    for (ULONG i = 0; i < length; i++)
        *KtMdlByte(mdl, pages, order, i) = data[i];

    KtAllocateChannel(a, n, &call);
    KASSERT_EQ(call.Calls, 1);
    KEXPECT_EQ(call.Irql, DISPATCH_LEVEL);
    KASSERT_NE(call.MapRegisterBase, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    piece = length;
    logical = a->DmaOperations->MapTransfer(a, mdl, call.MapRegisterBase,
                                            MmGetMdlVirtualAddress(mdl), &piece, TRUE);
    KeLowerIrql(irql);
    KEXPECT_EQ(piece, length);          /* all of it, in one range */
    KEXPECT_LE((ULONG64)logical.QuadPart + length - 1, KT_64MB - 1);
    KEXPECT_EQ(BYTE_OFFSET(logical.QuadPart), 0x180);
    KtDevice((ULONG64)logical.QuadPart, seen, length, FALSE);
    KEXPECT_EQ(memcmp(seen, data, length), 0);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    KEXPECT_TRUE(a->DmaOperations->FlushAdapterBuffers(a, mdl, call.MapRegisterBase,
                                                       MmGetMdlVirtualAddress(mdl), length, TRUE));
    /* The registers are mapped again for the read (the flush freed them for reuse). */
    piece = length;
    logical = a->DmaOperations->MapTransfer(a, mdl, call.MapRegisterBase,
                                            MmGetMdlVirtualAddress(mdl), &piece, FALSE);
    KeLowerIrql(irql);
    KEXPECT_EQ(piece, length);
    KtFill(data, length, 77);
    KtDevice((ULONG64)logical.QuadPart, data, length, TRUE);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->FlushAdapterBuffers(a, mdl, call.MapRegisterBase,
                                          MmGetMdlVirtualAddress(mdl), length, FALSE);
    KeLowerIrql(irql);
    for (ULONG i = 0; i < length; i++)
        seen[i] = *KtMdlByte(mdl, pages, order, i);
    KEXPECT_EQ(memcmp(seen, data, length), 0);
    KtFreeMapRegisters(a, call.MapRegisterBase, n);

    ExFreePoolWithTag(mdl, KT_TAG);
    ExFreePoolWithTag(data, KT_TAG);
    MmFreeContiguousMemory(pages);
    a->DmaOperations->PutDmaAdapter(a);
}

/*
 * The pool holds 64 registers. With 63 held, a channel that needs 2 waits;
 * a list that needs 1 waits behind it although one is free (first come,
 * first served); freeing 31 runs the channel's routine, then the list's,
 * from inside the free.
 */
KTEST(dma, map_register_exhaustion_queues_until_freed)
{
    static const ULONG order[] = {0};
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 31 * PAGE_SIZE, &n);
    KT_CHANNEL_CALL first = {.Answer = DeallocateObjectKeepRegisters};
    KT_CHANNEL_CALL second = {.Answer = DeallocateObjectKeepRegisters};
    KT_CHANNEL_CALL waiter = {.Answer = DeallocateObject};
    KT_LIST_CALL list = {0};
    PUCHAR page = KtPages(1, KT_64MB);
    PMDL mdl;

    KASSERT_NE(a, NULL);
    KASSERT_NE(page, NULL);
    KASSERT_EQ(n, 32);
    mdl = KtMdl(page, order, 0, PAGE_SIZE);
    KASSERT_NE(mdl, NULL);
    KtAllocateChannel(a, 32, &first);
    KtAllocateChannel(a, 31, &second);
    KASSERT_EQ(first.Calls, 1);
    KASSERT_EQ(second.Calls, 1);

    KtAllocateChannel(a, 2, &waiter);
    KEXPECT_EQ(waiter.Calls, 0);        /* queued: SUCCESS, routine later */
    KEXPECT_EQ(KtGetList(a, NULL, mdl, 0, PAGE_SIZE, TRUE, &list), STATUS_SUCCESS);
    KEXPECT_EQ(list.Calls, 0);          /* behind the channel, not ahead of it */

    KtFreeMapRegisters(a, second.MapRegisterBase, 31);
    KEXPECT_EQ(waiter.Calls, 1);
    KEXPECT_EQ(waiter.Irql, DISPATCH_LEVEL);
    KEXPECT_NE(waiter.MapRegisterBase, NULL);
    KASSERT_EQ(list.Calls, 1);
    KEXPECT_EQ(list.Irql, DISPATCH_LEVEL);
    KEXPECT_LE((ULONG64)list.List->Elements[0].Address.QuadPart, KT_64MB - 1);
    KtPutList(a, list.List, TRUE);
    KtFreeMapRegisters(a, first.MapRegisterBase, 32);

    /* Everything is back: a full-size request runs at once again. */
    first.Calls = 0;
    KtAllocateChannel(a, 32, &first);
    KEXPECT_EQ(first.Calls, 1);
    KtFreeMapRegisters(a, first.MapRegisterBase, 32);

    ExFreePoolWithTag(mdl, KT_TAG);
    MmFreeContiguousMemory(page);
    a->DmaOperations->PutDmaAdapter(a);
}

/* KeepObject holds the channel (and its registers) until FreeAdapterChannel. */
KTEST(dma, keep_object_holds_channel_until_freed)
{
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 63 * PAGE_SIZE, &n);
    KT_CHANNEL_CALL kept = {.Answer = KeepObject};
    KT_CHANNEL_CALL other = {.Answer = DeallocateObject};
    PDMA_ADAPTER b = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 63 * PAGE_SIZE, &n);
    PDMA_ADAPTER c = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 63 * PAGE_SIZE, &n);
    KT_CHANNEL_CALL held = {.Answer = DeallocateObjectKeepRegisters};
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KASSERT_NE(b, NULL);
    KASSERT_NE(c, NULL);
    KtAllocateChannel(a, 32, &kept);
    KtAllocateChannel(c, 32, &held);
    KASSERT_EQ(kept.Calls, 1);
    KASSERT_EQ(held.Calls, 1);
    KtAllocateChannel(b, 1, &other);    /* the pool is empty: waits */
    KEXPECT_EQ(other.Calls, 0);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    a->DmaOperations->FreeAdapterChannel(a);
    KeLowerIrql(irql);
    KEXPECT_EQ(other.Calls, 1);
    KtFreeMapRegisters(c, held.MapRegisterBase, 32);
    a->DmaOperations->PutDmaAdapter(a);
    b->DmaOperations->PutDmaAdapter(b);
    c->DmaOperations->PutDmaAdapter(c);
}

/* BuildMdlFromScatterGatherList: the bounce pages' MDL, once per list. */
KTEST(dma, build_mdl_from_scatter_gather_list)
{
    static const ULONG order[] = {0, 1};
    ULONG n;
    PDMA_ADAPTER a = KtAdapter(DEVICE_DESCRIPTION_VERSION3, TRUE, FALSE, FALSE, 26, 0x10000, &n);
    PDMA_ADAPTER wide = KtAdapter(DEVICE_DESCRIPTION_VERSION2, TRUE, FALSE, TRUE, 0, 0x10000, &n);
    PUCHAR pages = KtPages(2, KT_64MB);
    KT_LIST_CALL call = {0};
    PMDL mdl, target = NULL;
    KIRQL irql;

    KASSERT_NE(a, NULL);
    KASSERT_NE(wide, NULL);
    KASSERT_NE(pages, NULL);
    mdl = KtMdl(pages, order, 0x10, 2 * PAGE_SIZE - 0x10);
    KASSERT_NE(mdl, NULL);
    KASSERT_EQ(KtGetList(a, NULL, mdl, 0, 2 * PAGE_SIZE - 0x10, TRUE, &call), STATUS_SUCCESS);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    KEXPECT_EQ(a->DmaOperations->BuildMdlFromScatterGatherList(a, call.List, NULL, &target),
               STATUS_INVALID_PARAMETER);
    KASSERT_EQ(a->DmaOperations->BuildMdlFromScatterGatherList(a, call.List, mdl, &target),
               STATUS_SUCCESS);
    KeLowerIrql(irql);
    KASSERT_NE(target, NULL);
    KEXPECT_NE(target, mdl);
    KEXPECT_EQ(MmGetMdlByteCount(target), 2 * PAGE_SIZE - 0x10);
    KEXPECT_EQ(MmGetMdlByteOffset(target), 0x10);
    KEXPECT_EQ(MmGetMdlPfnArray(target)[0],
               (PFN_NUMBER)((ULONG64)call.List->Elements[0].Address.QuadPart >> PAGE_SHIFT));
    KEXPECT_LT(MmGetMdlPfnArray(target)[1], KT_64MB >> PAGE_SHIFT);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    KEXPECT_EQ(a->DmaOperations->BuildMdlFromScatterGatherList(a, call.List, mdl, &target),
               STATUS_NONE_MAPPED);
    KeLowerIrql(irql);
    KtPutList(a, call.List, TRUE);

    /* Nothing bounced: the original MDL is the one. */
    call.Calls = 0;
    KASSERT_EQ(KtGetList(wide, NULL, mdl, 0, PAGE_SIZE, TRUE, &call), STATUS_SUCCESS);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    KEXPECT_EQ(wide->DmaOperations->BuildMdlFromScatterGatherList(wide, call.List, mdl, &target),
               STATUS_SUCCESS);
    KeLowerIrql(irql);
    KEXPECT_EQ(target, mdl);
    KtPutList(wide, call.List, TRUE);

    ExFreePoolWithTag(mdl, KT_TAG);
    MmFreeContiguousMemory(pages);
    a->DmaOperations->PutDmaAdapter(a);
    wide->DmaOperations->PutDmaAdapter(wide);
}

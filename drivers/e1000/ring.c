/*
 * ring.c - the e1000's two descriptor rings.
 *
 * Both rings live in one common buffer (AllocateCommonBuffer): the device
 * reads and writes descriptors there at any time, so the memory stays
 * mapped and coherent for the adapter's life.
 *
 * Receive: every descriptor holds a 2 KiB buffer taken from a nonpaged
 * lookaside list and mapped through the DMA adapter (GetScatterGatherList,
 * device-to-memory). The device owns descriptors from RDH up to RDT - 1;
 * the DPC takes the written-back ones in order (DD), gets a replacement
 * buffer first, and only then unmaps the full one, hands the frame to the
 * protocol and frees it back to the list. With no replacement the frame is
 * dropped and the same buffer goes back (RxOutOfBuffers): a descriptor is
 * never left without a buffer, so the ring never shrinks.
 *
 * Transmit: E1000Send reserves the most descriptors the frame can need
 * (one per page it touches) under TxLock, then asks the adapter for the
 * caller's MDL's scatter/gather list (memory-to-device: no copy when the
 * pages are reachable). The list routine - at once, or later if map
 * registers must be waited for - writes one descriptor per element (EOP
 * and RS on the last, IFCS always) and moves TDT. The DPC completes frames
 * whose last descriptor has DD: PutScatterGatherList, then SendComplete.
 */
#include "e1000.h"

/* ---- Receive buffers ---- */

static VOID RxMapped(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST Sg, PVOID Context)
{
    PE1000_RX_BUFFER buffer = Context;
    PE1000_ADAPTER adapter = buffer->Adapter;

    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    buffer->Sg = Sg;
    if (__sync_bool_compare_and_swap(&buffer->MapState, E1000_MAP_WAITING, E1000_MAP_DONE))
        return;
    /* The refill stopped waiting for this one: undo it here. */
    adapter->Dma->DmaOperations->PutScatterGatherList(adapter->Dma, Sg, FALSE);
    ExFreeToNPagedLookasideList(adapter->RxLookaside, buffer);
    __atomic_fetch_sub(&adapter->RxBuffersOutstanding, 1, __ATOMIC_RELAXED);
}

/* A fresh buffer mapped for the device; NULL if none (out of buffers). */
static PE1000_RX_BUFFER RxBufferGet(PE1000_ADAPTER Adapter)
{
    PE1000_RX_BUFFER buffer;
    PMDL mdl;
    NTSTATUS status;
    KIRQL irql;

    if (Adapter->RxInjectAllocFailures > 0 &&
        __atomic_sub_fetch(&Adapter->RxInjectAllocFailures, 1, __ATOMIC_RELAXED) >= 0)
        return NULL;
    buffer = ExAllocateFromNPagedLookasideList(Adapter->RxLookaside);
    if (buffer == NULL)
        return NULL;
    __atomic_fetch_add(&Adapter->RxBuffersOutstanding, 1, __ATOMIC_RELAXED);
    buffer->Adapter = Adapter;
    buffer->Sg = NULL;
    buffer->MapState = E1000_MAP_WAITING;
    mdl = (PMDL)buffer->MdlSpace;
    MmInitializeMdl(mdl, buffer->Data, E1000_RX_BUFFER_BYTES);
    MmBuildMdlForNonPagedPool(mdl);
    /* The adapter's list routines run at DISPATCH_LEVEL (the start path is passive). */
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    status = Adapter->Dma->DmaOperations->GetScatterGatherList(
        Adapter->Dma, Adapter->Self, mdl, buffer->Data, E1000_RX_BUFFER_BYTES, RxMapped, buffer, FALSE);
    if (NT_SUCCESS(status) &&
        !__sync_bool_compare_and_swap(&buffer->MapState, E1000_MAP_WAITING, E1000_MAP_ABANDONED)) {
        /* Mapped already. One element: the 2 KiB never cross a page. */
        if (buffer->Sg->NumberOfElements == 1) {
            KeLowerIrql(irql);
            return buffer;
        }
        Adapter->Dma->DmaOperations->PutScatterGatherList(Adapter->Dma, buffer->Sg, FALSE);
    } else if (NT_SUCCESS(status)) {
        KeLowerIrql(irql);
        return NULL;                    /* waiting for map registers: RxMapped frees it */
    }
    KeLowerIrql(irql);
    ExFreeToNPagedLookasideList(Adapter->RxLookaside, buffer);
    __atomic_fetch_sub(&Adapter->RxBuffersOutstanding, 1, __ATOMIC_RELAXED);
    return NULL;
}

static VOID RxBufferFree(PE1000_ADAPTER Adapter, PE1000_RX_BUFFER Buffer)
{
    ExFreeToNPagedLookasideList(Adapter->RxLookaside, Buffer);
    __atomic_fetch_sub(&Adapter->RxBuffersOutstanding, 1, __ATOMIC_RELAXED);
}

static VOID RxArm(PE1000_ADAPTER Adapter, ULONG Index, PE1000_RX_BUFFER Buffer)
{
    Adapter->RxBuffers[Index] = Buffer;
    Adapter->RxRing[Index].Address = (ULONG64)Buffer->Sg->Elements[0].Address.QuadPart;
    Adapter->RxRing[Index].Status = 0;
}

/* ---- Bring-up ---- */

NTSTATUS E1000RingsAllocate(PE1000_ADAPTER Adapter)
{
    ULONG rxBytes = E1000_RX_RING * sizeof(E1000_RX_DESC);

    Adapter->CommonBytes = rxBytes + E1000_TX_RING * sizeof(E1000_TX_DESC);
    Adapter->Common = Adapter->Dma->DmaOperations->AllocateCommonBuffer(
        Adapter->Dma, Adapter->CommonBytes, &Adapter->CommonLogical, FALSE);
    if (Adapter->Common == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* A common buffer is page-aligned: both ring bases are 16-byte aligned. */
    RtlZeroMemory(Adapter->Common, Adapter->CommonBytes);
    Adapter->RxRing = (volatile E1000_RX_DESC *)Adapter->Common;
    Adapter->TxRing = (volatile E1000_TX_DESC *)(Adapter->Common + rxBytes);

    Adapter->RxLookaside = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(NPAGED_LOOKASIDE_LIST), E1000_POOL_TAG);
    if (Adapter->RxLookaside == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    ExInitializeNPagedLookasideList(Adapter->RxLookaside, NULL, NULL, POOL_NX_ALLOCATION,
                                    PAGE_SIZE, E1000_RX_TAG, 0);
    for (ULONG i = 0; i < E1000_RX_RING; i++) {
        PE1000_RX_BUFFER buffer = RxBufferGet(Adapter);

        if (buffer == NULL)
            return STATUS_INSUFFICIENT_RESOURCES;
        RxArm(Adapter, i, buffer);
    }
    Adapter->TxFree = E1000_TX_RING - 1;    /* TDT never catches up with TDH: one stays empty */
    Adapter->Stats.RxRingSize = E1000_RX_RING;
    Adapter->Stats.TxRingSize = E1000_TX_RING;
    return STATUS_SUCCESS;
}

VOID E1000RingsProgram(PE1000_ADAPTER Adapter)
{
    ULONG64 rx = (ULONG64)Adapter->CommonLogical.QuadPart;
    ULONG64 tx = rx + E1000_RX_RING * sizeof(E1000_RX_DESC);

    E1000Write(Adapter, E1000_RDBAL, (ULONG)rx);
    E1000Write(Adapter, E1000_RDBAH, (ULONG)(rx >> 32));
    E1000Write(Adapter, E1000_RDLEN, E1000_RX_RING * sizeof(E1000_RX_DESC));
    E1000Write(Adapter, E1000_RDH, 0);
    E1000Write(Adapter, E1000_RDT, E1000_RX_RING - 1);  /* head == tail means empty */
    E1000Write(Adapter, E1000_RDTR, 0);                 /* moderation is ITR's job */
    E1000Write(Adapter, E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_BAM | E1000_RCTL_SECRC |
                                    E1000_RCTL_BSIZE_2048);

    E1000Write(Adapter, E1000_TDBAL, (ULONG)tx);
    E1000Write(Adapter, E1000_TDBAH, (ULONG)(tx >> 32));
    E1000Write(Adapter, E1000_TDLEN, E1000_TX_RING * sizeof(E1000_TX_DESC));
    E1000Write(Adapter, E1000_TDH, 0);
    E1000Write(Adapter, E1000_TDT, 0);
    E1000Write(Adapter, E1000_TCTL, E1000_TCTL_EN | E1000_TCTL_PSP | E1000_TCTL_CT(0x0F) |
                                    E1000_TCTL_COLD(0x40));
    E1000Write(Adapter, E1000_TIPG, E1000_TIPG_VALUE);
}

/* ---- Receive ---- */

/*
 * Descriptor I of the receive ring has DD: deliver its frame (or drop and
 * count it) and leave the descriptor holding a mapped buffer again, with
 * Status and Length cleared, ready to go back to the device. RxLock held.
 */
VOID E1000RxTake(PE1000_ADAPTER Adapter, ULONG I)
{
    volatile E1000_RX_DESC *desc = &Adapter->RxRing[I];
    UCHAR status = desc->Status;
    PE1000_RX_BUFFER full = Adapter->RxBuffers[I], fresh;
    ULONG length = desc->Length;
    BOOLEAN good = !(desc->Errors & E1000_RXD_ERR_FRAME);

    if (!good)
        Adapter->Stats.RxErrors++;
    /* A frame longer than a buffer spans descriptors; none is that big
     * without RCTL.LPE, so every piece of one is dropped. */
    if (!(status & E1000_RXD_STAT_EOP)) {
        Adapter->Stats.RxFragmented += !Adapter->RxDiscarding;
        Adapter->RxDiscarding = TRUE;
        good = FALSE;
    } else if (Adapter->RxDiscarding) {
        Adapter->RxDiscarding = FALSE;
        good = FALSE;
    } else if (good && length < NET_ETHERNET_HEADER_LENGTH) {
        Adapter->Stats.RxRunt++;
        good = FALSE;
    } else if (good && length > NET_ETHERNET_MAX_FRAME) {
        Adapter->Stats.RxOversize++;
        good = FALSE;
    }

    fresh = good ? RxBufferGet(Adapter) : NULL;
    if (good && fresh == NULL) {
        Adapter->Stats.RxOutOfBuffers++;
        good = FALSE;
    }
    if (good) {
        /* Unmapping copies a bounced frame in: only then is it readable. */
        Adapter->Dma->DmaOperations->PutScatterGatherList(Adapter->Dma, full->Sg, FALSE);
        Adapter->Stats.RxFrames++;
        Adapter->Stats.RxBytes += length;
        if (Adapter->Bound)
            Adapter->Protocol.Receive(Adapter->Protocol.ProtocolContext, full->Data, length);
        RxBufferFree(Adapter, full);
        RxArm(Adapter, I, fresh);
    } else {
        desc->Status = 0;               /* the same buffer, still mapped, goes back */
    }
    desc->Length = 0;
}

/*
 * Take up to Budget written-back descriptors; how many. DISPATCH_LEVEL (the
 * DPC). The frame is given to the protocol with RxLock held: frames reach
 * it in ring order, and its sends take only TxLock.
 */
ULONG E1000ReapRx(PE1000_ADAPTER Adapter, ULONG Budget)
{
    ULONG taken = 0;

    KeAcquireSpinLockAtDpcLevel(&Adapter->RxLock);
    if (Adapter->RxPaused) {
        KeReleaseSpinLockFromDpcLevel(&Adapter->RxLock);
        return 0;
    }
    /* RDT is RxNext - 1, so the device may fill RxNext .. RxNext - 2: when
     * the last of those is done, it had no descriptor left (read from the
     * ring, not RDH: a register read is an exit under a hypervisor, and
     * this is on every reply's path). */
    if (Adapter->RxRing[(Adapter->RxNext + E1000_RX_RING - 2) % E1000_RX_RING].Status & E1000_RXD_STAT_DD)
        Adapter->Stats.RxRingFull++;
    /* LAB e1000: BEGIN - from RxNext, in ring order, while the descriptor has DD and the budget lasts: read the rest only after DD (a fence), E1000RxTake it, move RxNext on (it wraps) and hand that descriptor back as the new RDT; return how many */
    while (taken < Budget) {
        ULONG i = Adapter->RxNext;

        if (!(Adapter->RxRing[i].Status & E1000_RXD_STAT_DD))
            break;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);        /* read the rest after DD */
        E1000RxTake(Adapter, i);
        Adapter->RxNext = (i + 1) % E1000_RX_RING;
        /* The refilled descriptor becomes the tail: the device may now use
         * everything before it (RDT itself it never touches). */
        E1000Write(Adapter, E1000_RDT, i);
        taken++;
    }
    /* LAB e1000: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(e1000);
    UNREFERENCED_PARAMETER(Budget);
#endif
    /* LAB e1000: END */
    KeReleaseSpinLockFromDpcLevel(&Adapter->RxLock);
    return taken;
}

/* ---- Transmit ---- */

/*
 * Write one transmit descriptor per element of Sg from First on (the ring
 * wraps), then give them to the device by moving TDT past the last; how
 * many. TxLock held, DISPATCH_LEVEL; the descriptors are free (reserved).
 */
ULONG E1000TxPlace(PE1000_ADAPTER Adapter, ULONG First, PSCATTER_GATHER_LIST Sg)
{
    /* LAB e1000: BEGIN - a descriptor per element (address, length; CSO, CSS, status and special zero): IFCS on all, EOP and RS only on the frame's last; the descriptors reach memory before TDT (the next free one) is written; return how many */
    ULONG n = Sg->NumberOfElements;

    for (ULONG e = 0; e < n; e++) {
        volatile E1000_TX_DESC *desc = &Adapter->TxRing[(First + e) % E1000_TX_RING];

        desc->Address = (ULONG64)Sg->Elements[e].Address.QuadPart;
        desc->Length = (USHORT)Sg->Elements[e].Length;
        desc->Cso = 0;
        desc->Css = 0;
        desc->Special = 0;
        desc->Status = 0;
        desc->Command = E1000_TXD_CMD_IFCS |
                        (e + 1 == n ? E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS : 0);
    }
    /* The descriptors are in memory before the device is told (UC write). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    E1000Write(Adapter, E1000_TDT, (First + n) % E1000_TX_RING);
    return n;
    /* LAB e1000: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(e1000);
    UNREFERENCED_PARAMETER(Adapter);
    UNREFERENCED_PARAMETER(First);
    UNREFERENCED_PARAMETER(Sg);
    return 0;
#endif
    /* LAB e1000: END */
}

static VOID TxMapped(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST Sg, PVOID Context)
{
    E1000_TX_REQUEST request = *(PE1000_TX_REQUEST)Context;
    PE1000_ADAPTER adapter = request.Adapter;
    ULONG first, n;

    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    ExFreePoolWithTag(Context, E1000_POOL_TAG);
    KeAcquireSpinLockAtDpcLevel(&adapter->TxLock);
    first = adapter->TxProd;
    n = E1000TxPlace(adapter, first, Sg);
    adapter->TxInfo[first].Sg = Sg;
    adapter->TxInfo[first].Context = request.Context;
    adapter->TxInfo[first].Descriptors = n;
    adapter->TxFree += request.Reserved - n;    /* reserved for the worst case */
    adapter->TxProd = (first + n) % E1000_TX_RING;
    adapter->Stats.TxFrames++;
    adapter->Stats.TxBytes += request.Length;
    KeReleaseSpinLockFromDpcLevel(&adapter->TxLock);
}

/* NET_ADAPTER_SEND (ntddnet.h): IRQL <= DISPATCH_LEVEL. */
NTSTATUS E1000Send(PVOID AdapterContext, PMDL Mdl, ULONG Length, PVOID SendContext)
{
    PE1000_ADAPTER adapter = AdapterContext;
    PVOID va = MmGetMdlVirtualAddress(Mdl);
    ULONG need = (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(va, Length);
    PE1000_TX_REQUEST request;
    NTSTATUS status;
    KIRQL irql;

    if (Length < NET_ETHERNET_MIN_FRAME || Length > NET_ETHERNET_MAX_FRAME ||
        Length > MmGetMdlByteCount(Mdl)) {
        __atomic_fetch_add(&adapter->Stats.TxBadLength, 1, __ATOMIC_RELAXED);
        return STATUS_INVALID_BUFFER_SIZE;
    }
    if (!adapter->LinkUp)
        return STATUS_DEVICE_NOT_READY;
    request = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*request), E1000_POOL_TAG);
    if (request == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    request->Adapter = adapter;
    request->Context = SendContext;
    request->Reserved = need;
    request->Length = Length;

    KeAcquireSpinLock(&adapter->TxLock, &irql);
    if (adapter->TxFree < need) {
        /* Sends from the receive DPC (replies) can outrun its own reaping:
         * complete what the device has finished, then look again. */
        KeReleaseSpinLock(&adapter->TxLock, irql);
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
        E1000ReapTx(adapter);
        KeLowerIrql(irql);
        KeAcquireSpinLock(&adapter->TxLock, &irql);
    }
    if (adapter->TxFree < need) {
        adapter->Stats.TxRingFull++;
        KeReleaseSpinLock(&adapter->TxLock, irql);
        ExFreePoolWithTag(request, E1000_POOL_TAG);
        return STATUS_DEVICE_BUSY;
    }
    adapter->TxFree -= need;
    KeReleaseSpinLock(&adapter->TxLock, irql);

    /* Not under TxLock: the routine may run before this returns, and takes it. */
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    status = adapter->Dma->DmaOperations->GetScatterGatherList(
        adapter->Dma, adapter->Self, Mdl, va, Length, TxMapped, request, TRUE);
    if (!NT_SUCCESS(status)) {
        KeAcquireSpinLockAtDpcLevel(&adapter->TxLock);
        adapter->TxFree += need;
        KeReleaseSpinLockFromDpcLevel(&adapter->TxLock);
        ExFreePoolWithTag(request, E1000_POOL_TAG);
    }
    KeLowerIrql(irql);
    return NT_SUCCESS(status) ? STATUS_PENDING : status;
}

/* Complete every frame whose last descriptor is done. DISPATCH_LEVEL. */
VOID E1000ReapTx(PE1000_ADAPTER Adapter)
{
    /* LAB e1000: BEGIN - from TxClean to TxProd, frame by frame (TxInfo at its first descriptor says how many it has): stop at one whose LAST descriptor lacks DD; free its descriptors under TxLock, then outside it PutScatterGatherList and SendComplete (if Bound) */
    for (;;) {
        E1000_TX_INFO info;
        ULONG first, last;

        KeAcquireSpinLockAtDpcLevel(&Adapter->TxLock);
        first = Adapter->TxClean;
        if (first == Adapter->TxProd) {
            KeReleaseSpinLockFromDpcLevel(&Adapter->TxLock);
            return;
        }
        info = Adapter->TxInfo[first];
        last = (first + info.Descriptors - 1) % E1000_TX_RING;
        if (!(Adapter->TxRing[last].Status & E1000_TXD_STAT_DD)) {
            KeReleaseSpinLockFromDpcLevel(&Adapter->TxLock);
            return;
        }
        Adapter->TxInfo[first].Descriptors = 0;
        Adapter->TxClean = (first + info.Descriptors) % E1000_TX_RING;
        Adapter->TxFree += info.Descriptors;
        KeReleaseSpinLockFromDpcLevel(&Adapter->TxLock);
        /* Outside the lock: a Put may start a waiting TxMapped. */
        Adapter->Dma->DmaOperations->PutScatterGatherList(Adapter->Dma, info.Sg, TRUE);
        if (Adapter->Bound)
            Adapter->Protocol.SendComplete(Adapter->Protocol.ProtocolContext, info.Context, STATUS_SUCCESS);
    }
    /* LAB e1000: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(e1000);
    UNREFERENCED_PARAMETER(Adapter);
#endif
    /* LAB e1000: END */
}

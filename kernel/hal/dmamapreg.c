/*
 * dmamapreg.c - map registers: MapTransfer, FlushAdapterBuffers,
 * FreeMapRegisters, and the pools and queues behind them.
 *
 * A map register is a bounce page the device can reach. x64 PCs have no
 * address-translating hardware between a device and RAM, so, as NT's HAL
 * does there, Mica makes map registers in software: a pool of
 * HAL_MAP_POOL_REGISTERS pages below a limit, one physically contiguous
 * block (a run of registers is then one contiguous bounce area, which a
 * device without scatter/gather needs). There is one pool per distinct
 * device limit, made by the first IoGetDmaAdapter that needs it and kept
 * for ever, as NT keeps its map buffers.
 *
 * A request (AllocateAdapterChannel, GetScatterGatherList) takes a run of
 * free registers; when no run is free, or others already wait, it joins
 * the pool's queue, first come first served, and its routine runs later,
 * at DISPATCH_LEVEL, from whichever free releases enough registers.
 *
 * MapTransfer walks the MDL from CurrentVa: a physically contiguous run of
 * pages the device reaches is handed out as it is (logical = physical);
 * a run above the device's limit - or, for a device without scatter/gather,
 * a transfer that is not one contiguous run - goes through the next unused
 * registers, copied there first when the data goes to the device. The
 * first register of each such piece records it, and FlushAdapterBuffers
 * copies pieces back into the buffer when the data came from the device.
 * After the flush the registers can be used again (a driver that splits a
 * large transfer maps, flushes and maps again with the same base).
 */
#include "dma_internal.h"

#define HAL_4GB 0x100000000ULL

static HAL_MAP_POOL HalpMapPools[HAL_MAX_MAP_POOLS];
static ULONG HalpMapPoolCount;
static KSPIN_LOCK HalpMapPoolLock;      /* making pools */

/*
 * IRQL PASSIVE_LEVEL (IoGetDmaAdapter): the pool for this limit, made on
 * first use; NULL if the bounce pages cannot be had below the limit.
 */
PHAL_MAP_POOL HalpGetMapPool(ULONG64 Limit)
{
    PHYSICAL_ADDRESS low = {.QuadPart = 0}, high = {.QuadPart = (LONGLONG)Limit}, none = {0};
    PHAL_MAP_POOL pool = NULL;
    PUCHAR va;
    KIRQL irql;

    for (ULONG i = 0; i < HalpMapPoolCount; i++)
        if (HalpMapPools[i].Limit == Limit)
            return &HalpMapPools[i];
    /* Allocated before taking the lock; given back if another caller won. */
    va = MmAllocateContiguousMemorySpecifyCache(HAL_MAP_POOL_REGISTERS * PAGE_SIZE, low, high,
                                                none, MmCached);
    if (va == NULL)
        return NULL;
    KeAcquireSpinLock(&HalpMapPoolLock, &irql);
    for (ULONG i = 0; i < HalpMapPoolCount; i++)
        if (HalpMapPools[i].Limit == Limit)
            pool = &HalpMapPools[i];
    if (pool == NULL && HalpMapPoolCount < HAL_MAX_MAP_POOLS) {
        ULONG64 pa = (ULONG64)MmGetPhysicalAddress(va).QuadPart;
        pool = &HalpMapPools[HalpMapPoolCount];
        RtlZeroMemory(pool, sizeof(*pool));
        pool->Limit = Limit;
        pool->FreeMask = ~0ULL;
        InitializeListHead(&pool->Waiters);
        for (ULONG r = 0; r < HAL_MAP_POOL_REGISTERS; r++) {
            pool->Registers[r].VirtualAddress = va + r * PAGE_SIZE;
            pool->Registers[r].PhysicalAddress = pa + r * PAGE_SIZE;
        }
        /* Published last: lookups above read the count without the lock. */
        __atomic_store_n(&HalpMapPoolCount, HalpMapPoolCount + 1, __ATOMIC_RELEASE);
        va = NULL;
    }
    KeReleaseSpinLock(&HalpMapPoolLock, irql);
    if (va != NULL)
        MmFreeContiguousMemory(va);
    return pool;
}

/* Pool lock held: the first run of Count free registers, or -1. */
static LONG HalpFindRun(PHAL_MAP_POOL Pool, ULONG Count)
{
    ULONG64 want = Count >= 64 ? ~0ULL : (1ULL << Count) - 1;

    for (ULONG i = 0; i + Count <= HAL_MAP_POOL_REGISTERS; i++)
        if (((Pool->FreeMask >> i) & want) == want)
            return (LONG)i;
    return -1;
}

/* Pool lock held: take the run at Index for a request of Count. */
static PHAL_MAP_REGISTER HalpTakeRun(PHAL_MAP_POOL Pool, LONG Index, ULONG Count)
{
    PHAL_MAP_REGISTER head = &Pool->Registers[Index];
    ULONG64 want = Count >= 64 ? ~0ULL : (1ULL << Count) - 1;

    Pool->FreeMask &= ~(want << Index);
    head->RunLength = Count;
    head->Used = 0;
    return head;
}

/* DISPATCH_LEVEL. */
VOID HalpRequestMapRegisters(PHAL_WAIT_BLOCK Wait)
{
    PHAL_MAP_POOL pool = Wait->Adapter->Pool;
    PHAL_MAP_REGISTER head = NULL;
    LONG index;

    KeAcquireSpinLockAtDpcLevel(&pool->Lock);
    /* Behind others already waiting, even if a run is free: no overtaking. */
    if (IsListEmpty(&pool->Waiters) &&
        (index = HalpFindRun(pool, Wait->NumberOfMapRegisters)) >= 0)
        head = HalpTakeRun(pool, index, Wait->NumberOfMapRegisters);
    else
        InsertTailList(&pool->Waiters, &Wait->Entry);
    KeReleaseSpinLockFromDpcLevel(&pool->Lock);
    if (head != NULL)
        HalpRunWaitBlock(Wait, head);
}

/*
 * DISPATCH_LEVEL: give a run back, then start the waiters it (and what
 * their routines give back) lets through, in order.
 */
VOID HalpReleaseMapRegisters(PHAL_ADAPTER Adapter, PVOID MapRegisterBase, ULONG Count)
{
    PHAL_MAP_POOL pool = Adapter->Pool;
    PHAL_MAP_REGISTER head = MapRegisterBase;
    ULONG64 want = Count >= 64 ? ~0ULL : (1ULL << Count) - 1;
    ULONG index;

    KeAcquireSpinLockAtDpcLevel(&pool->Lock);
    if (head < &pool->Registers[0] || head >= &pool->Registers[HAL_MAP_POOL_REGISTERS] ||
        head->RunLength != Count || Count == 0) {
        ULONG held = (head >= &pool->Registers[0] &&
                      head < &pool->Registers[HAL_MAP_POOL_REGISTERS]) ? head->RunLength : 0;
        KeReleaseSpinLockFromDpcLevel(&pool->Lock);
        HalpDmaViolation(HAL_DMA_MAP_REGISTERS_FREED, Count, (ULONG_PTR)MapRegisterBase, held);
    }
    index = (ULONG)(head - pool->Registers);
    for (ULONG i = 0; i < Count; i++)
        head[i].PieceLength = head[i].PiecePages = 0;
    head->RunLength = head->Used = 0;
    pool->FreeMask |= want << index;

    for (;;) {
        PHAL_WAIT_BLOCK next;
        LONG run;

        if (IsListEmpty(&pool->Waiters))
            break;
        next = CONTAINING_RECORD(pool->Waiters.Flink, HAL_WAIT_BLOCK, Entry);
        run = HalpFindRun(pool, next->NumberOfMapRegisters);
        if (run < 0)
            break;
        RemoveEntryList(&next->Entry);
        head = HalpTakeRun(pool, run, next->NumberOfMapRegisters);
        KeReleaseSpinLockFromDpcLevel(&pool->Lock);
        HalpRunWaitBlock(next, head);
        KeAcquireSpinLockAtDpcLevel(&pool->Lock);
    }
    KeReleaseSpinLockFromDpcLevel(&pool->Lock);
}

VOID HalpFreeMapRegisters(PDMA_ADAPTER DmaAdapter, PVOID MapRegisterBase,
                          ULONG NumberOfMapRegisters)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    ULONG held;

    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, HalpFreeMapRegisters);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpFreeMapRegisters);
    KeAcquireSpinLockAtDpcLevel(&adapter->Lock);
    held = adapter->MapRegistersHeld;
    if (held >= NumberOfMapRegisters)
        adapter->MapRegistersHeld -= NumberOfMapRegisters;
    KeReleaseSpinLockFromDpcLevel(&adapter->Lock);
    if (held < NumberOfMapRegisters)
        HalpDmaViolation(HAL_DMA_MAP_REGISTERS_FREED, NumberOfMapRegisters,
                         (ULONG_PTR)MapRegisterBase, held);
    /* A device that needs no bouncing was given no real registers (base NULL). */
    if (adapter->Pool != NULL && MapRegisterBase != NULL)
        HalpReleaseMapRegisters(adapter, MapRegisterBase, NumberOfMapRegisters);
}

/* ---- Pieces and copies --------------------------------------------------------- */

static BOOLEAN HalpPageAbove(PHAL_ADAPTER Adapter, PFN_NUMBER Pfn)
{
    return (((ULONG64)Pfn << PAGE_SHIFT) | (PAGE_SIZE - 1)) > Adapter->Limit;
}

/*
 * The piece MapTransfer makes at byte Offset of the MDL's buffer, Length
 * bytes at most: the physically contiguous run there (not across a 4 GiB
 * line, not across the device's limit), or all of Length for a device
 * without scatter/gather whose run is shorter. *Bounce: through registers.
 */
ULONG HalpPieceLength(PHAL_ADAPTER Adapter, struct _MDL *Mdl, ULONG Offset, ULONG Length,
                      PBOOLEAN Bounce)
{
    PPFN_NUMBER pfns = MmGetMdlPfnArray(Mdl);
    ULONG64 position = (ULONG64)Mdl->ByteOffset + Offset;
    ULONG64 page = position >> PAGE_SHIFT;
    ULONG64 run = PAGE_SIZE - (position & (PAGE_SIZE - 1));
    BOOLEAN above = HalpPageAbove(Adapter, pfns[page]);

    while (run < Length) {
        PFN_NUMBER next = pfns[page + 1];
        if (next != pfns[page] + 1 || ((ULONG64)next << PAGE_SHIFT) % HAL_4GB == 0 ||
            HalpPageAbove(Adapter, next) != above)
            break;
        run += PAGE_SIZE;
        page++;
    }
    if (run > Length)
        run = Length;
    *Bounce = FALSE;
    if (Adapter->Pool == NULL)
        return (ULONG)run;
    if (!Adapter->Description.ScatterGather && run < Length) {
        *Bounce = TRUE;                 /* one contiguous bounce area for all of it */
        return Length;
    }
    *Bounce = above;
    return (ULONG)run;
}

/*
 * Copy Bytes between the MDL's buffer at Offset and a bounce area. A
 * buffer already in system space (nonpaged pool, or mapped) is used where
 * it is; otherwise each page is mapped for the copy (MmMapIoSpace over
 * RAM it already uses as cached memory, which it allows).
 */
static VOID HalpCopyMdl(struct _MDL *Mdl, ULONG Offset, PUCHAR Bounce, ULONG Bytes,
                        BOOLEAN ToBounce)
{
    if (Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) {
        PUCHAR va = (PUCHAR)Mdl->MappedSystemVa + Offset;
        if (ToBounce)
            RtlCopyMemory(Bounce, va, Bytes);
        else
            RtlCopyMemory(va, Bounce, Bytes);
        return;
    }
    while (Bytes != 0) {
        ULONG64 position = (ULONG64)Mdl->ByteOffset + Offset;
        ULONG inPage = (ULONG)(position & (PAGE_SIZE - 1));
        ULONG chunk = PAGE_SIZE - inPage < Bytes ? PAGE_SIZE - inPage : Bytes;
        PHYSICAL_ADDRESS pa;
        PUCHAR va;

        pa.QuadPart = (LONGLONG)((MmGetMdlPfnArray(Mdl)[position >> PAGE_SHIFT] << PAGE_SHIFT) |
                                 inPage);
        va = MmMapIoSpace(pa, chunk, MmCached);
        if (va == NULL)
            KeBugCheckEx(HAL_MEMORY_ALLOCATION, PAGE_SIZE, 0, (ULONG_PTR)__FILE__, __LINE__);
        if (ToBounce)
            RtlCopyMemory(Bounce, va, chunk);
        else
            RtlCopyMemory(va, Bounce, chunk);
        MmUnmapIoSpace(va, chunk);
        Bounce += chunk;
        Offset += chunk;
        Bytes -= chunk;
    }
}

PHYSICAL_ADDRESS HalpMapTransfer(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl, PVOID MapRegisterBase,
                                 PVOID CurrentVa, PULONG Length, BOOLEAN WriteToDevice)
{
    PHAL_ADAPTER adapter = HAL_ADAPTER_OF(DmaAdapter);
    PHAL_MAP_REGISTER head = MapRegisterBase, reg;
    PUCHAR start = MmGetMdlVirtualAddress(Mdl);
    ULONG offset, length, piece, inPage, pages;
    PHYSICAL_ADDRESS address;
    BOOLEAN bounce;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpMapTransfer);
    /* CurrentVa is an index into the MDL's buffer (it need not be mapped). */
    if ((PUCHAR)CurrentVa < start || (PUCHAR)CurrentVa >= start + Mdl->ByteCount)
        HalpDmaViolation(HAL_DMA_VA_OUTSIDE_MDL, (ULONG_PTR)CurrentVa, (ULONG_PTR)Mdl, 0);
    if (*Length == 0)
        HalpDmaViolation(HAL_DMA_ZERO_LENGTH_MAP, (ULONG_PTR)Mdl, (ULONG_PTR)CurrentVa, 0);
    offset = (ULONG)((PUCHAR)CurrentVa - start);
    length = *Length < Mdl->ByteCount - offset ? *Length : Mdl->ByteCount - offset;
    piece = HalpPieceLength(adapter, Mdl, offset, length, &bounce);
    inPage = BYTE_OFFSET((ULONG64)Mdl->ByteOffset + offset);
    if (!bounce) {
        ULONG64 position = (ULONG64)Mdl->ByteOffset + offset;
        address.QuadPart =
            (LONGLONG)((MmGetMdlPfnArray(Mdl)[position >> PAGE_SHIFT] << PAGE_SHIFT) | inPage);
        *Length = piece;
        return address;
    }

    pages = (ULONG)ADDRESS_AND_SIZE_TO_SPAN_PAGES(inPage, piece);
    if (head == NULL || head->Used + pages > head->RunLength)
        HalpDmaViolation(HAL_DMA_MISC, HAL_DMA_MISC_OUT_OF_REGISTERS, pages,
                         head == NULL ? 0 : head->RunLength - head->Used);
    reg = head + head->Used;
    reg->PieceMdl = Mdl;
    reg->PieceOffset = offset;
    reg->PieceLength = piece;
    reg->PiecePages = pages;
    head->Used += pages;
    /* The bounce copy keeps the byte offset, so page boundaries stay where they were. */
    if (WriteToDevice)
        HalpCopyMdl(Mdl, offset, reg->VirtualAddress + inPage, piece, TRUE);
    *Length = piece;
    address.QuadPart = (LONGLONG)(reg->PhysicalAddress + inPage);
    return address;
}

/*
 * Copy back the pieces of Mdl within [Offset, Offset + Length) (every piece
 * of the run if Mdl is NULL) when the device wrote them, and forget them;
 * once nothing is left in the run its registers are free to map again.
 */
static VOID HalpFlushPieces(PHAL_MAP_REGISTER Head, struct _MDL *Mdl, ULONG Offset, ULONG Length,
                            BOOLEAN WriteToDevice)
{
    BOOLEAN left = FALSE;

    for (ULONG i = 0; i < Head->Used;) {
        PHAL_MAP_REGISTER reg = Head + i;
        ULONG pages = reg->PiecePages ? reg->PiecePages : 1;

        if (reg->PieceLength != 0) {
            BOOLEAN ours = Mdl == NULL ||
                           (reg->PieceMdl == Mdl && reg->PieceOffset < Offset + Length &&
                            reg->PieceOffset + reg->PieceLength > Offset);
            if (ours) {
                if (!WriteToDevice)
                    HalpCopyMdl(reg->PieceMdl, reg->PieceOffset,
                                reg->VirtualAddress + BYTE_OFFSET((ULONG64)reg->PieceMdl->ByteOffset +
                                                                  reg->PieceOffset),
                                reg->PieceLength, FALSE);
                reg->PieceLength = 0;
            } else {
                left = TRUE;
            }
        }
        i += pages;
    }
    if (!left) {
        for (ULONG i = 0; i < Head->Used; i++)
            Head[i].PiecePages = 0;
        Head->Used = 0;
    }
}

BOOLEAN HalpFlushAdapterBuffers(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl, PVOID MapRegisterBase,
                                PVOID CurrentVa, ULONG Length, BOOLEAN WriteToDevice)
{
    PUCHAR start = MmGetMdlVirtualAddress(Mdl);

    UNREFERENCED_PARAMETER(DmaAdapter);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, HalpFlushAdapterBuffers);
    if ((PUCHAR)CurrentVa < start || (PUCHAR)CurrentVa >= start + Mdl->ByteCount)
        HalpDmaViolation(HAL_DMA_VA_OUTSIDE_MDL, (ULONG_PTR)CurrentVa, (ULONG_PTR)Mdl, 0);
    /* No registers: the device used the buffer itself; x64 DMA is cache coherent. */
    if (MapRegisterBase == NULL)
        return TRUE;
    HalpFlushPieces(MapRegisterBase, Mdl, (ULONG)((PUCHAR)CurrentVa - start), Length,
                    WriteToDevice);
    return TRUE;
}

VOID HalpFlushRun(PHAL_ADAPTER Adapter, PVOID MapRegisterBase, BOOLEAN WriteToDevice)
{
    UNREFERENCED_PARAMETER(Adapter);
    HalpFlushPieces(MapRegisterBase, NULL, 0, 0, WriteToDevice);
}

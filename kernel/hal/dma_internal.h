/*
 * dma_internal.h - what the DMA adapter files (dma.c, dmacommon.c,
 * dmamapreg.c, dmasg.c) share: the HAL's private adapter object behind a
 * DMA_ADAPTER, the map-register pools, and the wait blocks that queue a
 * request until its channel and registers are free.
 *
 * Locks (a processor never holds two of them at once):
 *   HAL_ADAPTER.Lock   the adapter's channel queue, its common buffers, its
 *                      live scatter/gather lists and its counters;
 *   HAL_MAP_POOL.Lock  the pool's free bitmap and its queue of waiters.
 * Execution routines are called with neither held, at DISPATCH_LEVEL.
 */
#ifndef MICA_DMA_INTERNAL_H
#define MICA_DMA_INTERNAL_H

#include "dma.h"
#include "../ke/ke.h"
#include "../rtl/rtl.h"
#include "../../mm/mm.h"

#define HAL_DMA_TAG 'AmdH'              /* adapters, wait blocks, S/G lists */

/* Registers per pool: a single physically contiguous block of bounce pages. */
#define HAL_MAP_POOL_REGISTERS 64
#define HAL_MAX_MAP_POOLS      4        /* distinct address limits in use */

/* DRIVER_VERIFIER_DMA_VIOLATION (0xE6) parameter 1, Learn's subcodes. */
#define HAL_DMA_MISC                  0x00
#define HAL_DMA_MISC_OUT_OF_REGISTERS 0x02  /* parameter 2 under HAL_DMA_MISC */
#define HAL_DMA_COMMON_BUFFER_FREED   0x03
#define HAL_DMA_CHANNEL_FREED         0x04
#define HAL_DMA_MAP_REGISTERS_FREED   0x05
#define HAL_DMA_SG_LIST_FREED         0x06
#define HAL_DMA_PUT_COMMON_BUFFERS    0x07
#define HAL_DMA_PUT_CHANNELS          0x08
#define HAL_DMA_PUT_MAP_REGISTERS     0x09
#define HAL_DMA_PUT_SG_LISTS          0x0A
#define HAL_DMA_TOO_MANY_CHANNELS     0x0B
#define HAL_DMA_TOO_MANY_REGISTERS    0x0C
#define HAL_DMA_VA_OUTSIDE_MDL        0x1B
#define HAL_DMA_ZERO_LENGTH_MAP       0x21

/*
 * One map register: a bounce page below the pool's limit. The first
 * register of a piece MapTransfer bounced records the piece, so that
 * FlushAdapterBuffers can copy it back; the first register of an
 * allocated run records the run.
 */
typedef struct _HAL_MAP_REGISTER {
    PUCHAR VirtualAddress;              /* the bounce page, mapped cached */
    ULONG64 PhysicalAddress;
    /* run head only */
    ULONG RunLength;                    /* registers in the run; 0 = not a live head */
    ULONG Used;                         /* registers MapTransfer used since the last flush */
    /* piece head only */
    struct _MDL *PieceMdl;
    ULONG PieceOffset;                  /* of the first byte in the MDL's buffer */
    ULONG PieceLength;                  /* bytes; 0 = nothing to copy back */
    ULONG PiecePages;                   /* registers it spans */
} HAL_MAP_REGISTER, *PHAL_MAP_REGISTER;

typedef struct _HAL_MAP_POOL {
    KSPIN_LOCK Lock;
    ULONG64 Limit;                      /* highest address the pool's devices reach */
    ULONG64 FreeMask;                   /* bit i set: register i is free */
    LIST_ENTRY Waiters;                 /* HAL_WAIT_BLOCKs, first come first served */
    HAL_MAP_REGISTER Registers[HAL_MAP_POOL_REGISTERS];
} HAL_MAP_POOL, *PHAL_MAP_POOL;
_Static_assert(HAL_MAP_POOL_REGISTERS <= 64, "one bit per register in FreeMask");

struct _HAL_ADAPTER;

/* A request for the adapter channel and/or map registers (NT's WCB). */
typedef struct _HAL_WAIT_BLOCK {
    LIST_ENTRY Entry;                   /* on the channel queue or a pool's waiters */
    struct _HAL_ADAPTER *Adapter;
    struct _DEVICE_OBJECT *DeviceObject;
    struct _IRP *Irp;
    ULONG NumberOfMapRegisters;
    BOOLEAN Channel;                    /* an AllocateAdapterChannel (else a S/G list) */
    PDRIVER_CONTROL ExecutionRoutine;
    PVOID Context;
} HAL_WAIT_BLOCK, *PHAL_WAIT_BLOCK;

#define HAL_CHANNEL_FREE      0
#define HAL_CHANNEL_REQUESTED 1         /* waiting for registers, or its routine runs */
#define HAL_CHANNEL_KEPT      2         /* the routine returned KeepObject */

typedef struct _HAL_ADAPTER {
    DMA_ADAPTER DmaHeader;              /* first: drivers hold a pointer to it */
    KSPIN_LOCK Lock;
    DEVICE_DESCRIPTION Description;
    ULONG64 Limit;                      /* highest logical address the device drives */
    ULONG MapRegistersPerChannel;       /* what IoGetDmaAdapter granted */
    PHAL_MAP_POOL Pool;                 /* NULL: the device reaches all RAM and does S/G */
    /* the adapter channel: one AllocateAdapterChannel at a time per adapter */
    UCHAR ChannelState;                 /* HAL_CHANNEL_* */
    HAL_WAIT_BLOCK ChannelWait;         /* that request */
    PVOID ChannelMapRegisterBase;       /* held with the channel (KeepObject) */
    ULONG ChannelMapRegisters;
    /* bookkeeping for the verifier checks */
    LIST_ENTRY CommonBuffers;           /* HAL_COMMON_BUFFERs */
    ULONG CommonBufferCount;
    LIST_ENTRY ScatterGatherLists;      /* HAL_SG_CONTEXTs handed out */
    ULONG ScatterGatherListCount;
    ULONG ScatterGatherListsAllocated;  /* totals since the adapter was made */
    ULONG ScatterGatherListsFreed;
    ULONG MapRegistersHeld;             /* kept after DeallocateObjectKeepRegisters */
} HAL_ADAPTER, *PHAL_ADAPTER;

#define HAL_ADAPTER_OF(DmaAdapter) CONTAINING_RECORD((DmaAdapter), HAL_ADAPTER, DmaHeader)

__attribute__((noreturn)) VOID HalpDmaViolation(ULONG_PTR Subcode, ULONG_PTR P2, ULONG_PTR P3,
                                                ULONG_PTR P4);

/* dma.c */
struct _IRP *HalpCurrentIrp(struct _DEVICE_OBJECT *DeviceObject);
NTSTATUS HalpAllocateAdapterChannel(PDMA_ADAPTER DmaAdapter, struct _DEVICE_OBJECT *DeviceObject,
                                    ULONG NumberOfMapRegisters, PDRIVER_CONTROL ExecutionRoutine,
                                    PVOID Context);
VOID HalpFreeAdapterChannel(PDMA_ADAPTER DmaAdapter);

/* dmacommon.c */
PVOID HalpAllocateCommonBuffer(PDMA_ADAPTER DmaAdapter, ULONG Length,
                               PPHYSICAL_ADDRESS LogicalAddress, BOOLEAN CacheEnabled);
VOID HalpFreeCommonBuffer(PDMA_ADAPTER DmaAdapter, ULONG Length, PHYSICAL_ADDRESS LogicalAddress,
                          PVOID VirtualAddress, BOOLEAN CacheEnabled);

/* dmamapreg.c */
PHAL_MAP_POOL HalpGetMapPool(ULONG64 Limit);
/* Give Wait its registers now (then run it) or queue it on the pool. */
VOID HalpRequestMapRegisters(PHAL_WAIT_BLOCK Wait);
/* Run a wait block's routine with its registers and act on its answer. */
VOID HalpRunWaitBlock(PHAL_WAIT_BLOCK Wait, PVOID MapRegisterBase);
VOID HalpReleaseMapRegisters(PHAL_ADAPTER Adapter, PVOID MapRegisterBase, ULONG Count);
PHYSICAL_ADDRESS HalpMapTransfer(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl, PVOID MapRegisterBase,
                                 PVOID CurrentVa, PULONG Length, BOOLEAN WriteToDevice);
BOOLEAN HalpFlushAdapterBuffers(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl, PVOID MapRegisterBase,
                                PVOID CurrentVa, ULONG Length, BOOLEAN WriteToDevice);
VOID HalpFreeMapRegisters(PDMA_ADAPTER DmaAdapter, PVOID MapRegisterBase,
                          ULONG NumberOfMapRegisters);
/* The length of the piece MapTransfer would make at Offset, and whether it bounces. */
ULONG HalpPieceLength(PHAL_ADAPTER Adapter, struct _MDL *Mdl, ULONG Offset, ULONG Length,
                      PBOOLEAN Bounce);
/* Copy every piece still held in the run back to its buffer (if !WriteToDevice). */
VOID HalpFlushRun(PHAL_ADAPTER Adapter, PVOID MapRegisterBase, BOOLEAN WriteToDevice);

/* dmasg.c */
NTSTATUS HalpCalculateScatterGatherList(PDMA_ADAPTER DmaAdapter, struct _MDL *Mdl,
                                        PVOID CurrentVa, ULONG Length,
                                        PULONG ScatterGatherListSize,
                                        PULONG pNumberOfMapRegisters);
NTSTATUS HalpGetScatterGatherList(PDMA_ADAPTER DmaAdapter, struct _DEVICE_OBJECT *DeviceObject,
                                  struct _MDL *Mdl, PVOID CurrentVa, ULONG Length,
                                  PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                  BOOLEAN WriteToDevice);
NTSTATUS HalpBuildScatterGatherList(PDMA_ADAPTER DmaAdapter, struct _DEVICE_OBJECT *DeviceObject,
                                    struct _MDL *Mdl, PVOID CurrentVa, ULONG Length,
                                    PDRIVER_LIST_CONTROL ExecutionRoutine, PVOID Context,
                                    BOOLEAN WriteToDevice, PVOID ScatterGatherBuffer,
                                    ULONG ScatterGatherLength);
VOID HalpPutScatterGatherList(PDMA_ADAPTER DmaAdapter, PSCATTER_GATHER_LIST ScatterGather,
                              BOOLEAN WriteToDevice);
NTSTATUS HalpBuildMdlFromScatterGatherList(PDMA_ADAPTER DmaAdapter,
                                           PSCATTER_GATHER_LIST ScatterGather,
                                           struct _MDL *OriginalMdl, struct _MDL **TargetMdl);

#endif

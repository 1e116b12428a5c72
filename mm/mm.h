/*
 * mm.h - the public memory-manager API (Mm), as drivers and the rest of the
 * kernel see it. Prototypes, parameters, IRQL rules and failure behaviour
 * follow the Microsoft Learn pages of the same names; differences are noted.
 */
#ifndef MICA_MM_H
#define MICA_MM_H

#include "../kernel/ke.h"

typedef enum _MEMORY_CACHING_TYPE {
    MmNonCached = 0,
    MmCached = 1,
    MmWriteCombined = 2,
    MmFrameBufferCached = 2,
    MmHardwareCoherentCached = 3,
    MmNonCachedUnordered = 4,
    MmUSWCCached = 5,
    MmMaximumCacheType = 6,
} MEMORY_CACHING_TYPE;

/* Page protections (winnt.h values) for MmMapIoSpaceEx / node memory. */
#define PAGE_NOACCESS          0x01
#define PAGE_READONLY          0x02
#define PAGE_READWRITE         0x04
#define PAGE_EXECUTE           0x10
#define PAGE_EXECUTE_READ      0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_NOCACHE           0x200
#define PAGE_WRITECOMBINE      0x400

typedef ULONG NODE_REQUIREMENT;
#define MM_ANY_NODE_OK 0x80000000

typedef struct _PHYSICAL_MEMORY_RANGE {
    PHYSICAL_ADDRESS BaseAddress;
    LARGE_INTEGER NumberOfBytes;
} PHYSICAL_MEMORY_RANGE, *PPHYSICAL_MEMORY_RANGE;

/* Phase 0: PFN database, Mica's own page tables, system PTEs, hyperspace. */
VOID MmInitSystem(ULONG Phase);

/* ---- Contiguous memory (IRQL <= DISPATCH_LEVEL; NULL on failure) --------- */
PVOID MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress);
PVOID MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
                                             PHYSICAL_ADDRESS LowestAcceptableAddress,
                                             PHYSICAL_ADDRESS HighestAcceptableAddress,
                                             PHYSICAL_ADDRESS BoundaryAddressMultiple,
                                             MEMORY_CACHING_TYPE CacheType);
PVOID MmAllocateContiguousNodeMemory(SIZE_T NumberOfBytes,
                                     PHYSICAL_ADDRESS LowestAcceptableAddress,
                                     PHYSICAL_ADDRESS HighestAcceptableAddress,
                                     PHYSICAL_ADDRESS BoundaryAddressMultiple, ULONG Protect,
                                     NODE_REQUIREMENT PreferredNode);
/* Bug check BAD_POOL_CALLER (0x60, BaseAddress, 0, 0) if BaseAddress is not
 * the start of a live contiguous allocation. */
VOID MmFreeContiguousMemory(PVOID BaseAddress);
VOID MmFreeContiguousMemorySpecifyCache(PVOID BaseAddress, SIZE_T NumberOfBytes,
                                        MEMORY_CACHING_TYPE CacheType);

/* ---- I/O space (IRQL <= DISPATCH_LEVEL) ------------------------------------ */
PVOID MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes,
                   MEMORY_CACHING_TYPE CacheType);
PVOID MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect);
VOID MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes);

/* ---- Kernel stacks: KERNEL_STACK_PAGES pages above an unmapped guard page --- */
PVOID MmCreateKernelStack(BOOLEAN LargeStack, UCHAR Node);   /* returns the top */
VOID MmDeleteKernelStack(PVOID PointerKernelStack, BOOLEAN LargeStack);

/* ---- Queries ------------------------------------------------------------------- */
/* Any IRQL for a valid address; 0 if the address is not mapped. */
PHYSICAL_ADDRESS MmGetPhysicalAddress(PVOID BaseAddress);
/* IRQL PASSIVE_LEVEL: RAM ranges, ending with a zero entry, in nonpaged
 * pool the caller frees with ExFreePool; NULL if pool is exhausted. */
PPHYSICAL_MEMORY_RANGE MmGetPhysicalMemoryRanges(VOID);
/* IRQL <= DISPATCH_LEVEL: would an access fault right now? */
BOOLEAN MmIsAddressValid(PVOID VirtualAddress);

/* ---- Pools (mm/pool*.c) ------------------------------------------------------
 * Nonpaged pool at IRQL <= DISPATCH_LEVEL, paged pool at <= APC_LEVEL.
 * Requests up to POOL_SMALL_LIMIT bytes come from pool pages carved into
 * 16-byte-aligned blocks behind a 16-byte POOL_HEADER; larger ones get whole
 * pages (page-aligned). Cache-aligned types give 64-byte-aligned blocks.
 * NULL on failure unless a raise was asked for (Mica has no SEH: a "raise"
 * is a bug check with STATUS_INSUFFICIENT_RESOURCES, see pool.c). */
typedef enum _POOL_TYPE {
    NonPagedPool = 0,
    NonPagedPoolExecute = 0,
    PagedPool = 1,
    NonPagedPoolMustSucceed = 2,
    DontUseThisType = 3,
    NonPagedPoolCacheAligned = 4,
    PagedPoolCacheAligned = 5,
    NonPagedPoolCacheAlignedMustS = 6,
    MaxPoolType = 7,
    NonPagedPoolBase = 0,
    NonPagedPoolSession = 32,
    PagedPoolSession = 33,
    NonPagedPoolNx = 512,
    NonPagedPoolNxCacheAligned = 516,
    NonPagedPoolSessionNx = 544,
} POOL_TYPE;

/* Modifiers that may be OR'ed into a POOL_TYPE. */
#define POOL_QUOTA_FAIL_INSTEAD_OF_RAISE 8
#define POOL_RAISE_IF_ALLOCATION_FAILURE 16
#define POOL_COLD_ALLOCATION             256
#define POOL_NX_ALLOCATION               512

typedef enum _EX_POOL_PRIORITY {
    LowPoolPriority = 0,
    LowPoolPrioritySpecialPoolOverrun = 8,
    LowPoolPrioritySpecialPoolUnderrun = 9,
    NormalPoolPriority = 16,
    NormalPoolPrioritySpecialPoolOverrun = 24,
    NormalPoolPrioritySpecialPoolUnderrun = 25,
    HighPoolPriority = 32,
    HighPoolPrioritySpecialPoolOverrun = 40,
    HighPoolPrioritySpecialPoolUnderrun = 41,
} EX_POOL_PRIORITY;

/* ExAllocatePool2/3 flags: the low 32 bits are required (an unknown one
 * fails the call), the high 32 optional (ignored when unknown). */
typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_USE_QUOTA         0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED     0x0000000000000002ULL
#define POOL_FLAG_SESSION           0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED     0x0000000000000008ULL
#define POOL_FLAG_RESERVED1         0x0000000000000010ULL
#define POOL_FLAG_RAISE_ON_FAILURE  0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED         0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED             0x0000000000000100ULL
#define POOL_FLAG_RESERVED2         0x0000000000000200ULL
#define POOL_FLAG_RESERVED3         0x0000000000000400ULL
#define POOL_FLAG_REQUIRED_MASK     0x00000000FFFFFFFFULL
#define POOL_FLAG_SPECIAL_POOL      0x0000000100000000ULL
#define POOL_FLAG_OPTIONAL_MASK     0xFFFFFFFF00000000ULL

typedef enum _POOL_EXTENDED_PARAMETER_TYPE {
    PoolExtendedParameterInvalidType = 0,
    PoolExtendedParameterPriority,
    PoolExtendedParameterSecurePool,
    PoolExtendedParameterNumaNode,
    PoolExtendedParameterMax
} POOL_EXTENDED_PARAMETER_TYPE;

typedef struct _POOL_EXTENDED_PARAMETER {
    ULONG64 Type : 8;
    ULONG64 Optional : 1;
    ULONG64 Reserved : 55;
    union {
        ULONG64 Reserved2;
        PVOID Reserved3;
        EX_POOL_PRIORITY Priority;
        PVOID SecurePoolParams;
        ULONG PreferredNode;
    };
} POOL_EXTENDED_PARAMETER, *PPOOL_EXTENDED_PARAMETER;
typedef const POOL_EXTENDED_PARAMETER *PCPOOL_EXTENDED_PARAMETER;

/* Tag bit that obliges the caller to free with the same tag. */
#define PROTECTED_POOL 0x80000000U

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
PVOID ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                    EX_POOL_PRIORITY Priority);
PVOID ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
PVOID ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                      PCPOOL_EXTENDED_PARAMETER ExtendedParameters, ULONG ExtendedParametersCount);
VOID ExFreePoolWithTag(PVOID P, ULONG Tag);
VOID ExFreePool(PVOID P);
/* Bytes usable in the block (header excluded); *QuotaCharged says whether
 * the allocation was charged to a quota. */
SIZE_T ExQueryPoolBlockSize(PVOID PoolBlock, PBOOLEAN QuotaCharged);

/* PoolMon's view: one entry per tag (PROTECTED_POOL masked off). */
typedef struct _SYSTEM_POOLTAG {
    ULONG TagUlong;
    ULONG PagedAllocs;
    ULONG PagedFrees;
    SIZE_T PagedUsed;
    ULONG NonPagedAllocs;
    ULONG NonPagedFrees;
    SIZE_T NonPagedUsed;
} SYSTEM_POOLTAG, *PSYSTEM_POOLTAG;

/* Copy up to Count entries (in no particular order) and return how many
 * tags are tracked in all. Any IRQL <= DISPATCH_LEVEL. */
ULONG ExQueryPoolTagInformation(PSYSTEM_POOLTAG Buffer, ULONG Count);
/* The entry for one tag; FALSE if the tag was never used. */
BOOLEAN ExQueryPoolTag(ULONG Tag, PSYSTEM_POOLTAG Entry);
/* Print PoolMon's table (Tag Type Allocs Frees Diff Bytes Per-Alloc). */
VOID ExDumpPoolTags(VOID);
/* Leak report: print every live allocation whose tag matches Tag (0 =
 * every tag) and return how many there are. IRQL PASSIVE_LEVEL. */
ULONG ExReportPoolLeaks(ULONG Tag);
/* !pool: print the blocks of the pool page holding Address, marking the
 * one that contains it; FALSE if Address is not in a pool page. */
BOOLEAN ExDumpPoolPage(PVOID Address);

/* Page-fault entry from the trap handler (kernel/trap.c). Returns a success
 * status when the fault is resolved; bug checks when it cannot be. */
NTSTATUS MmAccessFault(ULONG FaultStatus, PVOID VirtualAddress, KIRQL PreviousMode,
                       PVOID TrapInformation);

#endif

/*
 * mm.h - the public memory-manager API (Mm), as drivers and the rest of the
 * kernel see it. Prototypes, parameters, IRQL rules and failure behaviour
 * follow the Microsoft Learn pages of the same names; differences are noted.
 */
#ifndef MICA_MM_H
#define MICA_MM_H

#include "../kernel/ke/ke.h"

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

/* Phase 0: PFN database, Mica's own page tables, system PTEs, hyperspace.
 * Phase 2 (after IoInitSystem): the page file and the pager's threads. */
VOID MmInitSystem(ULONG Phase);
/* Program this processor's PAT (cache.c) for Mica's cache types: each
 * processor calls it once, before any WC mapping is used on it (the boot
 * processor from MmInitSystem, the others as they start, before they
 * enable interrupts). It touches only this processor's PAT MSR, caches
 * and TLB. Any IRQL; interrupts are off during the change and come back
 * as they were. */
VOID MiInitializePat(VOID);

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
#define KERNEL_STACK_SIZE 0x6000        /* x64 NT's (ntddk.h): 24 KiB */
#define KERNEL_STACK_PAGES (KERNEL_STACK_SIZE / PAGE_SIZE)
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
 * NULL on failure unless a raise was asked for (ExRaiseStatus with
 * STATUS_INSUFFICIENT_RESOURCES: a __try catches it, else 0x1E; pool.c). */
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
/* Obsolete (Learn says: use ExAllocatePool2): the untagged call. The block
 * is tagged 'None', as PoolMon shows untagged pool; NULL on failure. */
PVOID ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
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

/* The routines below are Mica's own, not NT exports, and so wear the
 * executive's internal prefix (NT gives this view through
 * ZwQuerySystemInformation, PoolMon and the debugger's !poolused and
 * !pool); mm/pooltrack.c and mm/poolreport.c. */
/* Copy up to Count entries (in no particular order) and return how many
 * tags are tracked in all. Any IRQL <= DISPATCH_LEVEL. */
ULONG ExpQueryPoolTagInformation(PSYSTEM_POOLTAG Buffer, ULONG Count);
/* The entry for one tag; FALSE if the tag was never used. */
BOOLEAN ExpQueryPoolTag(ULONG Tag, PSYSTEM_POOLTAG Entry);
/* Print PoolMon's table (Tag Type Allocs Frees Diff Bytes Per-Alloc). */
VOID ExpDumpPoolTags(VOID);
/* Leak report: print every live allocation whose tag matches Tag (0 =
 * every tag) and return how many there are. IRQL PASSIVE_LEVEL. */
ULONG ExpReportPoolLeaks(ULONG Tag);
/* !pool: print the blocks of the pool page holding Address, marking the
 * one that contains it; FALSE if Address is not in a pool page. */
BOOLEAN ExpDumpPoolPage(PVOID Address);

/* ---- Lookaside lists (mm/lookaside.c) ----------------------------------------
 * A lookaside list caches freed blocks of one size, type and tag so the next
 * allocation is a pop instead of a trip through the pool. Blocks are kept in
 * an interlocked S-list (kernel/rtl/slist.c, declared in ke.h); the list keeps at most Depth of them, and Depth
 * follows demand: a periodic scan (once a second, as NT's balance-set
 * manager calls ExAdjustLookasideDepth) raises it for lists that miss and
 * lowers it for idle ones, between 4 and MaximumDepth (256).
 *
 * Rules (Microsoft Learn, ExInitializeNPagedLookasideList and friends):
 *  - the list structure itself must be resident nonpaged memory and 16-byte
 *    aligned, even for a paged list (the scan touches it at DISPATCH_LEVEL).
 *    Mica checks at initialization: a head in paged pool, or not mapped, is
 *    BAD_POOL_CALLER (BAD_POOL_CALLER_LOOKASIDE_NOT_RESIDENT, Lookaside,
 *    initializing routine, caller); a misaligned one is BAD_POOL_CALLER
 *    (BAD_POOL_CALLER_LOOKASIDE_MISALIGNED, Lookaside, routine, caller).
 *    NT documents no stop code for this; the 0xA0/0xA1 subcodes are Mica's.
 *  - nonpaged lists at IRQL <= DISPATCH_LEVEL, paged lists (and Ex lists of a
 *    paged type) at <= APC_LEVEL; above that, IRQL_NOT_LESS_OR_EQUAL
 *    (routine, IRQL, 0, caller) as every Mica routine does.
 *  - NULL callbacks mean ExAllocatePoolWithTag / ExFreePool; Size is at
 *    least LOOKASIDE_MINIMUM_BLOCK_SIZE; Depth is reserved (pass 0).
 *  - a list must be deleted before its memory is reused: the scan walks it.
 * Statistics counters are plain increments, as NT's (they are hints). */

#define SYSTEM_CACHE_ALIGNMENT_SIZE 64
#define DECLSPEC_CACHEALIGN DECLSPEC_ALIGN(SYSTEM_CACHE_ALIGNMENT_SIZE)

#ifndef STATUS_INVALID_PARAMETER_5
#define STATUS_INVALID_PARAMETER_5 ((NTSTATUS)0xC00000F3L)
#endif
#ifndef STATUS_INVALID_PARAMETER_6
#define STATUS_INVALID_PARAMETER_6 ((NTSTATUS)0xC00000F4L)
#endif

/* SINGLE_LIST_ENTRY is an NT base type: kernel/ntdef.h. */

struct _LOOKASIDE_LIST_EX;
typedef PVOID (*PALLOCATE_FUNCTION)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
typedef VOID (*PFREE_FUNCTION)(PVOID Buffer);
typedef PVOID (*PALLOCATE_FUNCTION_EX)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                       struct _LOOKASIDE_LIST_EX *Lookaside);
typedef VOID (*PFREE_FUNCTION_EX)(PVOID Buffer, struct _LOOKASIDE_LIST_EX *Lookaside);

/* Smallest entry: room for the S-list link (NT: through SLIST_ENTRY.Next). */
#define LOOKASIDE_MINIMUM_BLOCK_SIZE (FIELD_OFFSET(SLIST_ENTRY, Next) + sizeof(PSLIST_ENTRY))

#define EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL 0x00000001
#define EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE 0x00000002
#define EX_MAXIMUM_LOOKASIDE_DEPTH_BASE  256
#define EX_MAXIMUM_LOOKASIDE_DEPTH_LIMIT 1024

/* BAD_POOL_CALLER (0xC2) parameter 1 for a misplaced list head (Mica's). */
#define BAD_POOL_CALLER_LOOKASIDE_NOT_RESIDENT 0xA0
#define BAD_POOL_CALLER_LOOKASIDE_MISALIGNED   0xA1

/* The fields of every lookaside list, in wdm.h's x64 order. */
#define GENERAL_LOOKASIDE_LAYOUT                                             \
    union {                                                                  \
        SLIST_HEADER ListHead;                                               \
        SINGLE_LIST_ENTRY SingleListHead;                                    \
    };                                                                       \
    USHORT Depth;                   /* most entries kept right now */       \
    USHORT MaximumDepth;                                                     \
    ULONG TotalAllocates;                                                    \
    union {                                                                  \
        ULONG AllocateMisses;       /* empty list: Allocate was called */   \
        ULONG AllocateHits;                                                  \
    };                                                                       \
    ULONG TotalFrees;                                                        \
    union {                                                                  \
        ULONG FreeMisses;           /* full list: Free was called */        \
        ULONG FreeHits;                                                      \
    };                                                                       \
    POOL_TYPE Type;                 /* passed to Allocate, flags included */ \
    ULONG Tag;                                                               \
    ULONG Size;                                                              \
    union {                                                                  \
        PALLOCATE_FUNCTION_EX AllocateEx;                                    \
        PALLOCATE_FUNCTION Allocate;                                         \
    };                                                                       \
    union {                                                                  \
        PFREE_FUNCTION_EX FreeEx;                                            \
        PFREE_FUNCTION Free;                                                 \
    };                                                                       \
    LIST_ENTRY ListEntry;           /* on the list of all lookaside lists */ \
    ULONG LastTotalAllocates;       /* TotalAllocates at the last scan */   \
    union {                                                                  \
        ULONG LastAllocateMisses;                                            \
        ULONG LastAllocateHits;                                              \
    };                                                                       \
    ULONG Future[2];

typedef struct DECLSPEC_CACHEALIGN _GENERAL_LOOKASIDE {
    GENERAL_LOOKASIDE_LAYOUT
} GENERAL_LOOKASIDE, *PGENERAL_LOOKASIDE;

typedef struct _GENERAL_LOOKASIDE_POOL {
    GENERAL_LOOKASIDE_LAYOUT
} GENERAL_LOOKASIDE_POOL, *PGENERAL_LOOKASIDE_POOL;

typedef struct DECLSPEC_CACHEALIGN _NPAGED_LOOKASIDE_LIST {
    GENERAL_LOOKASIDE L;
} NPAGED_LOOKASIDE_LIST, *PNPAGED_LOOKASIDE_LIST;

typedef struct DECLSPEC_CACHEALIGN _PAGED_LOOKASIDE_LIST {
    GENERAL_LOOKASIDE L;
} PAGED_LOOKASIDE_LIST, *PPAGED_LOOKASIDE_LIST;

typedef struct _LOOKASIDE_LIST_EX {
    GENERAL_LOOKASIDE_POOL L;
} LOOKASIDE_LIST_EX, *PLOOKASIDE_LIST_EX;

/* Flags: 0, POOL_NX_ALLOCATION (nonpaged only), POOL_RAISE_IF_ALLOCATION_FAILURE;
 * other bits are ignored. Initialize and delete: IRQL <= DISPATCH_LEVEL
 * (nonpaged), <= APC_LEVEL (paged). */
VOID ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                     PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                     USHORT Depth);
VOID ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                    PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                    USHORT Depth);
PVOID ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside);
VOID ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry);
PVOID ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside);
VOID ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry);
/* Free every cached entry through the Free routine and forget the list. */
VOID ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside);
VOID ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside);

/* STATUS_INVALID_PARAMETER_5 for unknown Flags or both of them,
 * STATUS_INVALID_PARAMETER_6 for a Size that does not fit the list's ULONG.
 * The IRQL limit follows PoolType (paged: APC_LEVEL, else DISPATCH_LEVEL). */
NTSTATUS ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                     PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags,
                                     SIZE_T Size, ULONG Tag, USHORT Depth);
PVOID ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);
VOID ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry);
VOID ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);
/* Free every cached entry; the list stays usable. */
VOID ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);

/* Executive internals, declared here for the periodic scan and the tests:
 * one scan over every list (IRQL <= DISPATCH_LEVEL), and the pure rule it
 * applies to one list given its allocations and misses since the last scan. */
VOID ExAdjustLookasideDepth(VOID);
USHORT ExpComputeLookasideDepth(USHORT Depth, USHORT MaximumDepth, ULONG Allocates, ULONG Misses);
#define EXP_MINIMUM_LOOKASIDE_DEPTH 4

/* Page-fault entry from the trap handler (kernel/ke/trap.c), with interrupts
 * enabled exactly when the faulting code had them enabled. PreviousMode is
 * the mode the fault came from (KernelMode or UserMode). Returns a success
 * status when the fault is resolved; bug checks when it cannot be. */
NTSTATUS MmAccessFault(ULONG FaultStatus, PVOID VirtualAddress, KPROCESSOR_MODE PreviousMode,
                       PVOID TrapInformation);

/* ---- Memory descriptor lists (the layout; the routines come with mm/mdl*.c) --
 *
 * An MDL describes a buffer by its pages: a 0x30-byte header followed by one
 * PFN per page the buffer spans, as on x64 NT. Drivers use the macros below
 * rather than the fields (Microsoft Learn calls the MDL semi-opaque).
 * MappedSystemVa is the system address of the first byte (ByteOffset
 * included) once MDL_MAPPED_TO_SYSTEM_VA or MDL_SOURCE_IS_NONPAGED_POOL is set.
 */
typedef struct _MDL {
    struct _MDL *Next;          /* chain: the buffers of one IRP */
    CSHORT Size;                /* header + PFN array, bytes */
    CSHORT MdlFlags;            /* MDL_* */
    PVOID Process;              /* owning process of a user range; always NULL in Mica */
    PVOID MappedSystemVa;
    PVOID StartVa;              /* page-aligned */
    ULONG ByteCount;
    ULONG ByteOffset;           /* of the first byte in the first page */
} MDL, *PMDL;
_Static_assert(sizeof(MDL) == 0x30, "MDL header is 0x30 bytes on x64");

#define MDL_MAPPED_TO_SYSTEM_VA     0x0001
#define MDL_PAGES_LOCKED            0x0002
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004
#define MDL_ALLOCATED_FIXED_SIZE    0x0008
#define MDL_PARTIAL                 0x0010
#define MDL_PARTIAL_HAS_BEEN_MAPPED 0x0020
#define MDL_IO_PAGE_READ            0x0040
#define MDL_WRITE_OPERATION         0x0080
#define MDL_LOCKED_PAGE_TABLES      0x0100
#define MDL_PARENT_MAPPED_SYSTEM_VA MDL_LOCKED_PAGE_TABLES
#define MDL_FREE_EXTRA_PTES         0x0200
#define MDL_DESCRIBES_AWE           0x0400
#define MDL_IO_SPACE                0x0800
#define MDL_NETWORK_HEADER          0x1000
#define MDL_MAPPING_CAN_FAIL        0x2000
#define MDL_PAGE_CONTENTS_INVARIANT 0x4000
#define MDL_ALLOCATED_MUST_SUCCEED  MDL_PAGE_CONTENTS_INVARIANT
#define MDL_INTERNAL                0x8000

#define MmGetMdlByteCount(Mdl)      ((Mdl)->ByteCount)
#define MmGetMdlByteOffset(Mdl)     ((Mdl)->ByteOffset)
#define MmGetMdlBaseVa(Mdl)         ((Mdl)->StartVa)
#define MmGetMdlVirtualAddress(Mdl) ((PVOID)((PCHAR)(Mdl)->StartVa + (Mdl)->ByteOffset))
#define MmGetMdlPfnArray(Mdl)       ((PPFN_NUMBER)((Mdl) + 1))

/* The bytes an MDL for Length bytes at Base needs, header included. Any IRQL. */
static inline SIZE_T MmSizeOfMdl(PVOID Base, SIZE_T Length)
{
    return sizeof(MDL) + sizeof(PFN_NUMBER) * ADDRESS_AND_SIZE_TO_SPAN_PAGES(Base, Length);
}

/* Fill the header of a caller-supplied MDL big enough for the buffer (its
 * PFN array is not touched until the pages are locked or built). */
#define MmInitializeMdl(MemoryDescriptorList, BaseVa, Length)                          \
    do {                                                                               \
        PMDL Mdl_ = (MemoryDescriptorList);                                            \
        PVOID Va_ = (PVOID)(BaseVa);                                                   \
        SIZE_T Length_ = (Length);                                                     \
        Mdl_->Next = NULL;                                                             \
        Mdl_->Size = (CSHORT)MmSizeOfMdl(Va_, Length_);                                \
        Mdl_->MdlFlags = 0;                                                            \
        Mdl_->Process = NULL;                                                          \
        Mdl_->MappedSystemVa = NULL;                                                   \
        Mdl_->StartVa = PAGE_ALIGN(Va_);                                               \
        Mdl_->ByteOffset = BYTE_OFFSET(Va_);                                           \
        Mdl_->ByteCount = (ULONG)Length_;                                              \
    } while (0)


/* ---- MDL routines (mm/mdl*.c, mm/resmap.c; kernel/io/iomdl.c for Io*) -------
 * Prototypes, IRQL rules and failure behaviour as on Microsoft Learn; the
 * README's "MDLs" section says where Mica differs. Mica has no user address
 * space: UserMode requests fail the way NT's do for a bad user address. */

typedef enum _LOCK_OPERATION {
    IoReadAccess = 0,
    IoWriteAccess = 1,
    IoModifyAccess = 2,
} LOCK_OPERATION;

typedef enum _MM_PAGE_PRIORITY {
    LowPagePriority = 0,
    NormalPagePriority = 16,
    HighPagePriority = 32,
} MM_PAGE_PRIORITY;

/* OR'ed into the Priority of the mapping routines (Windows 8 and later). */
#define MdlMappingNoWrite   0x80000000
#define MdlMappingNoExecute 0x40000000

/* MmAllocatePagesForMdlEx flags. */
#define MM_DONT_ZERO_ALLOCATION             0x00000001
#define MM_ALLOCATE_FROM_LOCAL_NODE_ONLY    0x00000002
#define MM_ALLOCATE_FULLY_REQUIRED          0x00000004
#define MM_ALLOCATE_NO_WAIT                 0x00000008
#define MM_ALLOCATE_PREFER_CONTIGUOUS       0x00000010
#define MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS 0x00000020
#define MM_ALLOCATE_FAST_LARGE_PAGES        0x00000040
#define MM_ALLOCATE_TRIM_IF_NECESSARY       0x00000080
#define MM_ALLOCATE_AND_HOT_REMOVE          0x00000100

/* The highest user address + 1 (x64 NT's MM_USER_PROBE_ADDRESS): every
 * address below it is user space, which Mica leaves empty. */
#define MM_USER_PROBE_ADDRESS 0x00007FFFFFFF0000ULL

/* IRQL <= DISPATCH_LEVEL. Fill the PFN array of an MDL over nonpaged
 * memory (nonpaged pool, contiguous memory, MmMapIoSpace space: then
 * MDL_IO_SPACE) and set MappedSystemVa; the MDL is never locked or
 * unlocked. An address that is not mapped: MEMORY_MANAGEMENT (0x1240, Mdl,
 * PTE address, 0). */
VOID MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList);

/* IRQL <= APC_LEVEL for pageable memory, <= DISPATCH_LEVEL for nonpaged.
 * Locks the pages for the operation (paged pool: made resident and pinned
 * until MmUnlockPages). Raises STATUS_ACCESS_VIOLATION for a range that is
 * not mapped (or not committed), for a write to read-only memory, and for
 * any UserMode range: call it inside __try/__except (kernel/ke/ke.h). */
VOID MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                         LOCK_OPERATION Operation);
/*
 * Pageable sections of the image (mm/pagesec.c), NT's PAGE and PAGEDATA:
 * MM_PAGEABLE_CODE before a function (NT's #pragma alloc_text(PAGE, f)),
 * MM_PAGEABLE_DATA before a variable (NT's #pragma data_seg("PAGEDATA")).
 * With a page file their pages may be paged out whenever they are not
 * locked: only code that runs at IRQL <= APC_LEVEL, never from the paging
 * path, never while holding a spin lock, belongs there (touched at
 * DISPATCH_LEVEL after a trim: IRQL_NOT_LESS_OR_EQUAL 0xA, 0xD1 in a
 * driver). noinline: an inlined copy would run from the caller's section.
 */
#define MM_PAGEABLE_CODE __attribute__((section("PAGE"), noinline))
#define MM_PAGEABLE_DATA __attribute__((section("PAGEDATA")))

/* IRQL <= APC_LEVEL. Lock the whole pageable section holding the address
 * into memory (paged in, never trimmed) and return its handle; the count
 * starts at one on a section that was unlocked. An address in no pageable
 * section: MEMORY_MANAGEMENT (0x1234, address, 0, 0). */
PVOID MmLockPagableCodeSection(PVOID AddressWithinSection);
PVOID MmLockPagableDataSection(PVOID AddressWithinSection);
/* IRQL <= APC_LEVEL. One more lock on a section by its handle (paged in
 * and locked if the count was 0). */
VOID MmLockPagableSectionByHandle(PVOID ImageSectionHandle);
/* IRQL <= APC_LEVEL. One lock less; at 0 the section is pageable again.
 * A section that is not locked: MEMORY_MANAGEMENT (0x1010, handle, 0, 0);
 * not a handle: MEMORY_MANAGEMENT (0x1234, handle, 0, 0). */
VOID MmUnlockPagableImageSection(PVOID ImageSectionHandle);
/* IRQL <= APC_LEVEL. Every section of the driver image holding the address
 * becomes pageable (the driver must have no ISR connected); returns the
 * image's start, NULL for an address in no driver image that can be paged
 * whole (Mica's drivers are linked into the kernel: only those linker.ld
 * gives an image of their own). */
PVOID MmPageEntireDriver(PVOID AddressWithinSection);
/* IRQL <= APC_LEVEL. The image's sections back to their link-time paging:
 * code and data that are not PAGE are made resident and nonpaged again;
 * nothing if MmPageEntireDriver was not called. */
VOID MmResetDriverPaging(PVOID AddressWithinSection);

/* IRQL <= DISPATCH_LEVEL. Releases a system mapping, then the locks.
 * Unlocking pages that are not locked: PFN_LIST_CORRUPT (0x07, PFN,
 * lock references, 0). */
VOID MmUnlockPages(PMDL MemoryDescriptorList);

/* IRQL <= DISPATCH_LEVEL (KernelMode). The system address of the first
 * byte, or NULL (or NO_MORE_SYSTEM_PTES (0x3F) with BugCheckOnFailure and
 * no MDL_MAPPING_CAN_FAIL). Priority: MM_PAGE_PRIORITY | MdlMapping*. */
PVOID MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                   MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
                                   ULONG BugCheckOnFailure, ULONG Priority);
/* Obsolete: SpecifyCache(MmCached, NULL, TRUE, HighPagePriority). */
PVOID MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode);
/* IRQL <= DISPATCH_LEVEL. A wrong address or an MDL that is not mapped:
 * SYSTEM_PTE_MISUSE (0x03 / 0x06). */
VOID MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList);

/* IRQL <= DISPATCH_LEVEL. NULL when it cannot be mapped. */
static inline PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority)
{
    if (Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL))
        return Mdl->MappedSystemVa;
    return MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, Priority);
}

/* IRQL <= DISPATCH_LEVEL: drop the mapping a partial MDL made for itself
 * (any other MDL is left as it is, as Learn says). */
#define MmPrepareMdlForReuse(Mdl)                                                    \
    do {                                                                             \
        if ((Mdl)->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED)                           \
            MmUnmapLockedPages((Mdl)->MappedSystemVa, (Mdl));                        \
    } while (0)

/* IRQL <= DISPATCH_LEVEL. STATUS_INVALID_PARAMETER_2 past the end. */
#ifndef STATUS_INVALID_PARAMETER_2
#define STATUS_INVALID_PARAMETER_2 ((NTSTATUS)0xC00000F0L)
#endif
NTSTATUS MmAdvanceMdl(PMDL Mdl, ULONG NumberOfBytes);

/* IRQL <= APC_LEVEL (DISPATCH_LEVEL allowed since Windows Server 2008).
 * Zeroed nonpaged pages, not necessarily contiguous, in [Low, High] then
 * shifted by SkipBytes; possibly fewer than TotalBytes (check
 * MmGetMdlByteCount), NULL if none. Free with MmFreePagesFromMdl, then
 * ExFreePool the MDL. */
PMDL MmAllocatePagesForMdl(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                           PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes);
PMDL MmAllocatePagesForMdlEx(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                             PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                             MEMORY_CACHING_TYPE CacheType, ULONG Flags);
VOID MmFreePagesFromMdl(PMDL MemoryDescriptorList);

/* Reserved mappings: IRQL <= APC_LEVEL to reserve and free, <=
 * DISPATCH_LEVEL to map and unmap. Misuse: SYSTEM_PTE_MISUSE (0x1xx). */
PVOID MmAllocateMappingAddress(SIZE_T NumberOfBytes, ULONG PoolTag);
VOID MmFreeMappingAddress(PVOID BaseAddress, ULONG PoolTag);
PVOID MmMapLockedPagesWithReservedMapping(PVOID MappingAddress, ULONG PoolTag,
                                          PMDL MemoryDescriptorList,
                                          MEMORY_CACHING_TYPE CacheType);
VOID MmUnmapReservedMapping(PVOID BaseAddress, ULONG PoolTag, PMDL MemoryDescriptorList);

/* IRQL <= APC_LEVEL. Whole pages, uncached, uninitialized; NULL on failure.
 * Free with the same address and size. */
PVOID MmAllocateNonCachedMemory(SIZE_T NumberOfBytes);
VOID MmFreeNonCachedMemory(PVOID BaseAddress, SIZE_T NumberOfBytes);

/* IRQL <= APC_LEVEL. Raise STATUS_DATATYPE_MISALIGNMENT or
 * STATUS_ACCESS_VIOLATION for a range that is not user space or not
 * aligned (Alignment 1, 2, 4, 8 or 16); ProbeForWrite also touches each
 * page, and Mica's user space is empty, so it raises for any range. */
VOID ProbeForRead(const volatile VOID *Address, SIZE_T Length, ULONG Alignment);
VOID ProbeForWrite(volatile VOID *Address, SIZE_T Length, ULONG Alignment);

/* IoAllocateMdl, IoFreeMdl, IoBuildPartialMdl: kernel/io/io.h. */

#endif

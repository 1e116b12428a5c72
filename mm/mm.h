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
/* IRQL <= DISPATCH_LEVEL: would an access fault right now? */
BOOLEAN MmIsAddressValid(PVOID VirtualAddress);

/* Page-fault entry from the trap handler (kernel/trap.c). Returns a success
 * status when the fault is resolved; bug checks when it cannot be. */
NTSTATUS MmAccessFault(ULONG FaultStatus, PVOID VirtualAddress, KIRQL PreviousMode,
                       PVOID TrapInformation);

#endif

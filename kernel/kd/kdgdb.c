/*
 * kdgdb.c - the numbers GDB's mica-* commands (tests/gdb/mica_kd.py) need
 * and DWARF cannot give: #define'd addresses and bits, compiled from the
 * kernel's own headers into the image. GDB reads KdGdbConstants from the
 * ELF it debugs, so a changed header changes what GDB uses in the same
 * build: the commands cannot silently drift from the kernel. (Structures
 * and enums, MMPFN or MMLISTS, GDB takes from DWARF directly.)
 */
#include "kd_internal.h"

typedef struct _KD_GDB_CONSTANTS {
    ULONG64 PteBase, PdeBase, PpeBase, PxeBase, PteTop;
    ULONG64 PfnDatabase, SystemRangeStart;
    ULONG64 NonPagedPoolPages, PagedPoolPages, SpecialPoolPages, SystemPtePages;
    ULONG64 PteValid, PteWrite, PteOwner, PteWriteThrough, PteCacheDisable, PteAccessed;
    ULONG64 PteDirty, PteLargePage, PteGlobal, PteNoExecute, PteFrameMask;
    ULONG64 PfnModified, PfnPageTable, PfnLocked, PfnStartOfAllocation, PfnEndOfAllocation;
    ULONG64 PageShift;
    /* mica-pool: the pools' address ranges and the block headers' units. */
    ULONG64 NonPagedPoolStart, NonPagedPoolEnd, PagedPoolStart, PagedPoolEnd;
    ULONG64 PoolBlockShift, PoolIndexCached, ProtectedPool;
    /* mica-memmap: special pool's range (an active page's owner, as !memmap tells it). */
    ULONG64 SpecialPoolStart, SpecialPoolEnd;
} KD_GDB_CONSTANTS;

const KD_GDB_CONSTANTS KdGdbConstants __attribute__((used)) = {
    PTE_BASE, PDE_BASE, PPE_BASE, PXE_BASE, PTE_TOP,
    MM_PFN_DATABASE, MM_SYSTEM_RANGE_START,
    MM_NONPAGED_POOL_PAGES, MM_PAGED_POOL_PAGES, MM_SPECIAL_POOL_PAGES, MM_SYSTEM_PTE_PAGES,
    MM_PTE_VALID, MM_PTE_WRITE, MM_PTE_OWNER, MM_PTE_WRITE_THROUGH, MM_PTE_CACHE_DISABLE,
    MM_PTE_ACCESSED, MM_PTE_DIRTY, MM_PTE_LARGE_PAGE, MM_PTE_GLOBAL, MM_PTE_NO_EXECUTE,
    MM_PTE_FRAME_MASK,
    MI_PFN_MODIFIED, MI_PFN_PAGE_TABLE, MI_PFN_LOCKED, MI_PFN_START_OF_ALLOCATION,
    MI_PFN_END_OF_ALLOCATION,
    PAGE_SHIFT,
    MM_NONPAGED_POOL_START, MM_NONPAGED_POOL_END, MM_PAGED_POOL_START,
    MM_PAGED_POOL_START + (MM_PAGED_POOL_PAGES << PAGE_SHIFT),
    POOL_BLOCK_SHIFT, EXP_POOL_INDEX_CACHED, PROTECTED_POOL,
    MM_SPECIAL_POOL_START, MM_SPECIAL_POOL_END,
};

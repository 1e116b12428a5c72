/*
 * mm_internal.h - what the files of mm/ share: page-table entries, the PFN
 * database, the page lists and the Mi routines. Other folders use mm.h.
 */
#ifndef MICA_MM_INTERNAL_H
#define MICA_MM_INTERNAL_H

#include "mm.h"
#include "layout.h"
#include "runtree.h"
#include "tlb.h"

/* ---- Page-table entries ---------------------------------------------------------- */

/* Hardware PTE bits (SDM vol. 3A, 4.5), named as NT's MMPTE_HARDWARE. */
#define MM_PTE_VALID         (1ULL << 0)
#define MM_PTE_WRITE         (1ULL << 1)     /* NT calls the hardware bit Dirty1 */
#define MM_PTE_OWNER         (1ULL << 2)     /* user accessible */
#define MM_PTE_WRITE_THROUGH (1ULL << 3)     /* PWT: PAT index bit 0 */
#define MM_PTE_CACHE_DISABLE (1ULL << 4)     /* PCD: PAT index bit 1 */
#define MM_PTE_ACCESSED      (1ULL << 5)
#define MM_PTE_DIRTY         (1ULL << 6)
#define MM_PTE_LARGE_PAGE    (1ULL << 7)     /* in a PDE/PPE; in a 4 KiB PTE this is PAT */
#define MM_PTE_PAT_4K        (1ULL << 7)
#define MM_PTE_GLOBAL        (1ULL << 8)
#define MM_PTE_NO_EXECUTE    (1ULL << 63)
#define MM_PTE_FRAME_MASK    0x000FFFFFFFFFF000ULL

typedef struct _MMPTE_HARDWARE {
    ULONG64 Valid : 1;
    ULONG64 Dirty1 : 1;             /* hardware write permission */
    ULONG64 Owner : 1;
    ULONG64 WriteThrough : 1;
    ULONG64 CacheDisable : 1;
    ULONG64 Accessed : 1;
    ULONG64 Dirty : 1;
    ULONG64 LargePage : 1;
    ULONG64 Global : 1;
    ULONG64 CopyOnWrite : 1;        /* software */
    ULONG64 Prototype : 1;          /* software */
    ULONG64 Write : 1;              /* software */
    ULONG64 PageFrameNumber : 36;
    ULONG64 Reserved1 : 4;
    ULONG64 SoftwareWsIndex : 11;
    ULONG64 NoExecute : 1;
} MMPTE_HARDWARE;

/* Invalid-PTE formats, reserved for demand paging (layouts as NT x64). */
typedef struct _MMPTE_SOFTWARE {
    ULONG64 Valid : 1;
    ULONG64 PageFileLow : 4;
    ULONG64 Protection : 5;
    ULONG64 Prototype : 1;
    ULONG64 Transition : 1;
    ULONG64 UsedPageTableEntries : 10;
    ULONG64 Reserved : 10;
    ULONG64 PageFileHigh : 32;
} MMPTE_SOFTWARE;

typedef struct _MMPTE_TRANSITION {
    ULONG64 Valid : 1;
    ULONG64 Write : 1;
    ULONG64 Owner : 1;
    ULONG64 WriteThrough : 1;
    ULONG64 CacheDisable : 1;
    ULONG64 Protection : 5;
    ULONG64 Prototype : 1;
    ULONG64 Transition : 1;
    ULONG64 PageFrameNumber : 36;
    ULONG64 Unused : 16;
} MMPTE_TRANSITION;

typedef union _MMPTE {
    ULONG64 Long;
    MMPTE_HARDWARE Hard;
    MMPTE_SOFTWARE Soft;
    MMPTE_TRANSITION Trans;
} MMPTE, *PMMPTE;

_Static_assert(sizeof(MMPTE) == 8, "a PTE is 8 bytes");

/*
 * Self-map arithmetic. PML4 slot MI_SELFMAP_INDEX (0x1ED) points at the
 * PML4 itself, so the paging structures of every level appear at fixed
 * virtual addresses (layout.h): the entry of level Level (1 = PTE, 2 = PDE,
 * 3 = PPE, 4 = PXE) that maps Va, and back from such an entry to the first
 * address it maps. Inline functions (the homework lab "selfmap" is written
 * here); the NT-named macros below take any pointer or integer.
 */
static inline PMMPTE MiSelfMapEntryAddress(ULONG64 Va, ULONG Level);
static inline PVOID MiSelfMapMappedAddress(ULONG64 Entry, ULONG Level);

/*
 * What a tree whose selfmap lab is stripped runs instead (the stub calls
 * LAB_TODO first, so no test passes on it): one level at a time, drop the
 * low 9 bits of table index and put the self-map index on top, in 48-bit
 * space, then make the address canonical. Slow, but the boot needs it.
 */
static inline ULONG64 MiSelfMapLabFallback(ULONG64 Va, ULONG Level, BOOLEAN Inverse)
{
    ULONG64 a = Va & ((1ULL << 48) - 1);

    for (ULONG i = 0; i < Level; i++)
        a = Inverse ? (a << 9) & ((1ULL << 48) - 1)
                    : (MI_SELFMAP_INDEX << 39) | ((a >> 9) & ((1ULL << 39) - sizeof(MMPTE)));
    return (ULONG64)((LONG64)(a << 16) >> 16);
}

static inline PMMPTE MiSelfMapEntryAddress(ULONG64 Va, ULONG Level)
{
    /* LAB selfmap: BEGIN - shift Va right 9 bits per level, keep the index bits (8-byte aligned), add the level's base */
    static const ULONG64 base[] = {0, PTE_BASE, PDE_BASE, PPE_BASE, PXE_BASE};
    ULONG64 index = (Va >> (9 * Level)) & ((1ULL << (48 - 9 * Level)) - sizeof(MMPTE));

    return (PMMPTE)(base[Level] + index);
    /* LAB selfmap: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(selfmap);
    return (PMMPTE)MiSelfMapLabFallback(Va, Level, FALSE);
#endif
    /* LAB selfmap: END */
}

static inline PVOID MiSelfMapMappedAddress(ULONG64 Entry, ULONG Level)
{
    /* LAB selfmap: BEGIN - the inverse: shift left 9 bits per level and sign-extend from bit 47 */
    return (PVOID)((LONG64)(Entry << (16 + 9 * Level)) >> 16);
    /* LAB selfmap: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(selfmap);
    return (PVOID)MiSelfMapLabFallback(Entry, Level, TRUE);
#endif
    /* LAB selfmap: END */
}

#define MiGetPteAddress(Va) MiSelfMapEntryAddress((ULONG64)(Va), 1)
#define MiGetPdeAddress(Va) MiSelfMapEntryAddress((ULONG64)(Va), 2)
#define MiGetPpeAddress(Va) MiSelfMapEntryAddress((ULONG64)(Va), 3)
#define MiGetPxeAddress(Va) MiSelfMapEntryAddress((ULONG64)(Va), 4)
/* The inverse: the address a PTE maps (sign-extended from bit 47). */
#define MiGetVirtualAddressMappedByPte(Pte) MiSelfMapMappedAddress((ULONG64)(Pte), 1)
#define MiGetVirtualAddressMappedByPde(Pde) MiSelfMapMappedAddress((ULONG64)(Pde), 2)
#define MiGetVirtualAddressMappedByPpe(Ppe) MiSelfMapMappedAddress((ULONG64)(Ppe), 3)
#define MiGetVirtualAddressMappedByPxe(Pxe) MiSelfMapMappedAddress((ULONG64)(Pxe), 4)

#define MI_PTE_FRAME(Pte) (((Pte).Long & MM_PTE_FRAME_MASK) >> PAGE_SHIFT)

/*
 * Invalid PTEs of pageable memory (paged pool), tested in NT's order
 * (pager.c): 0 - nothing (a bad address); Transition - the frame is still
 * in memory (Standby, Modified, or under paging I/O); PageFileHigh != 0 -
 * on disk, in slot PageFileHigh of page file PageFileLow; else demand
 * zero. The protection (MM_* code, bits 5-9) is MM_READWRITE for pool.
 */
#define MM_READWRITE             4ULL
#define MM_PROTECT_SHIFT         5
#define MM_PTE_PROTOTYPE_BIT     (1ULL << 10)
#define MM_PTE_TRANSITION_BIT    (1ULL << 11)
#define MM_PTE_PAGEFILE_LOW_SHIFT 1
#define MM_PTE_PAGEFILE_HIGH_SHIFT 32
#define MM_KERNEL_DEMAND_ZERO_PTE (MM_READWRITE << MM_PROTECT_SHIFT)   /* 0x80, as NT's */
/* A valid paged-pool PTE: writable, global, no-execute, no Dirty yet. */
#define MM_PAGED_POOL_PTE_BITS   (MM_PTE_VALID | MM_PTE_WRITE | MM_PTE_GLOBAL | MM_PTE_NO_EXECUTE)

static inline ULONG64 MiMakeTransitionPte(PFN_NUMBER Pfn)
{
    return (Pfn << PAGE_SHIFT) | MM_PTE_TRANSITION_BIT | (MM_READWRITE << MM_PROTECT_SHIFT);
}

static inline ULONG64 MiMakePageFilePte(ULONG File, ULONG64 Slot)
{
    return (Slot << MM_PTE_PAGEFILE_HIGH_SHIFT) | ((ULONG64)File << MM_PTE_PAGEFILE_LOW_SHIFT) |
           (MM_READWRITE << MM_PROTECT_SHIFT);
}

/*
 * Protection in an invalid PTE (bits 5-9, NT's MM_* codes): paged pool and
 * pageable data are MM_READWRITE, pageable code (mm/pagesec.c) is
 * MM_EXECUTE_READ; a page brought back gets the hardware bits of its code
 * (NT's MmProtectToPteMask), so a code page never becomes writable and a
 * data page never executable.
 */
#define MM_READONLY              1ULL
#define MM_EXECUTE_READ          3ULL
#define MM_PROTECT_FIELD_MASK    (0x1FULL << MM_PROTECT_SHIFT)

static inline ULONG64 MiPteProtection(ULONG64 Pte)
{
    return (Pte & MM_PROTECT_FIELD_MASK) >> MM_PROTECT_SHIFT;
}

/* The MM_* code of a valid kernel PTE's permissions. */
static inline ULONG64 MiProtectionOfValidPte(ULONG64 Pte)
{
    if (Pte & MM_PTE_WRITE)
        return MM_READWRITE;
    return (Pte & MM_PTE_NO_EXECUTE) ? MM_READONLY : MM_EXECUTE_READ;
}

/* The valid kernel PTE's bits (no frame) for an MM_* code. */
static inline ULONG64 MiValidPteBitsOfProtection(ULONG64 Protection)
{
    if (Protection == MM_EXECUTE_READ)
        return MM_PTE_VALID | MM_PTE_GLOBAL;
    if (Protection == MM_READONLY)
        return MM_PTE_VALID | MM_PTE_GLOBAL | MM_PTE_NO_EXECUTE;
    return MM_PAGED_POOL_PTE_BITS;
}

/* An invalid PTE given another MM_* code. */
static inline ULONG64 MiWithProtection(ULONG64 Pte, ULONG64 Protection)
{
    return (Pte & ~MM_PROTECT_FIELD_MASK) | (Protection << MM_PROTECT_SHIFT);
}

static inline BOOLEAN MiIsTransitionPte(MMPTE Pte)
{
    return !(Pte.Long & MM_PTE_VALID) && !(Pte.Long & MM_PTE_PROTOTYPE_BIT) &&
           (Pte.Long & MM_PTE_TRANSITION_BIT);
}

static inline BOOLEAN MiIsPageFilePte(MMPTE Pte)
{
    return !(Pte.Long & (MM_PTE_VALID | MM_PTE_PROTOTYPE_BIT | MM_PTE_TRANSITION_BIT)) &&
           Pte.Soft.PageFileHigh != 0;
}

/* ---- The PFN database -------------------------------------------------------------- */

/* MMLISTS: where a page is. Lists up to StandbyPageList hold "available" pages. */
typedef enum _MMLISTS {
    ZeroedPageList = 0,
    FreePageList = 1,
    StandbyPageList = 2,
    ModifiedPageList = 3,
    ModifiedNoWritePageList = 4,
    BadPageList = 5,
    ActiveAndValid = 6,
    TransitionPage = 7,
} MMLISTS;

/* MMPFN.Flags */
#define MI_PFN_START_OF_ALLOCATION 0x01   /* first page of a contiguous allocation */
#define MI_PFN_END_OF_ALLOCATION   0x02   /* last page of one */
#define MI_PFN_LOCKED              0x04   /* never freed: loader, kernel, boot data */
#define MI_PFN_PAGE_TABLE          0x08   /* holds a page table of some level */
#define MI_PFN_LOW_RESERVE         0x10   /* nolowmem: on the low-memory list */
#define MI_PFN_MODIFIED            0x20   /* differs from its page-file copy (or has none) */
#define MI_PFN_PAGEABLE            0x40   /* in the system working set (pager.c) */
#define MI_PFN_ZERO_STOCK          0x80   /* on the zero-page thread's stock (pfndb.c) */

/* MMPFN.PagingFlags: paging I/O and the working-set age (pager.c). */
#define MI_PAGING_READ_IN_PROGRESS  0x01
#define MI_PAGING_WRITE_IN_PROGRESS 0x02
#define MI_PAGING_DELETED           0x04  /* freed while under I/O: the I/O's end frees it */
#define MI_PAGING_AGE_SHIFT         4
#define MI_PAGING_AGE_MASK          0x30

/* The cache attribute a page is mapped with (NT's MI_PFN_CACHE_ATTRIBUTE). */
#define MiNonCached     0
#define MiCached        1
#define MiWriteCombined 2
#define MiNotMapped     3

#define MI_LIST_END ((PFN_NUMBER)~0ULL)   /* NT's LIST_HEAD */

typedef struct _MMPFN {
    union {
        PFN_NUMBER Flink;               /* on a list: next page */
        ULONG64 WsIndex;                /* active: working-set index */
        struct _MI_INPAGE_SUPPORT *InPage;  /* read in progress: what colliders wait on */
    } u1;
    PMMPTE PteAddress;                  /* the PTE that maps this page, if any */
    union {
        PFN_NUMBER Blink;               /* on a list: previous page */
        ULONG64 ShareCount;             /* active: PTEs that map it */
    } u2;
    USHORT ReferenceCount;              /* reasons the page must stay resident */
    USHORT UsedPageTableEntries;        /* page tables: valid entries in it */
    UCHAR PageLocation;                 /* MMLISTS */
    UCHAR Flags;                        /* MI_PFN_* */
    UCHAR CacheAttribute;               /* Mi* cache attribute */
    UCHAR PagingFlags;                  /* MI_PAGING_* */
    MMPTE OriginalPte;                  /* what to restore when the page leaves */
    PFN_NUMBER PteFrame;                /* page-table page holding PteAddress */
} MMPFN, *PMMPFN;

_Static_assert(sizeof(MMPFN) == 48, "MMPFN is 0x30 bytes, as on x64 NT");

typedef struct _MMPFNLIST {
    PFN_NUMBER Total;
    MMLISTS ListName;
    PFN_NUMBER Flink;
    PFN_NUMBER Blink;
} MMPFNLIST, *PMMPFNLIST;

#ifdef MICA_HOST_TEST
/* Host unit tests run pfndb.c over an ordinary array. */
extern PMMPFN MiHostPfnDatabase;
#define MmPfnDatabase MiHostPfnDatabase
#else
#define MmPfnDatabase ((PMMPFN)MM_PFN_DATABASE)
#endif
#define MI_PFN_ELEMENT(Pfn) (&MmPfnDatabase[(Pfn)])

extern PFN_NUMBER MmHighestPhysicalPage;    /* highest RAM PFN (inclusive) */
extern PFN_NUMBER MmLowestPhysicalPage;
extern PFN_NUMBER MmNumberOfPhysicalPages;  /* RAM pages Mica manages */
extern PFN_NUMBER MmAvailablePages;         /* zeroed + free + standby */
/* The commit charge (commit.c): pages promised, and how many may be. */
extern PFN_NUMBER MmTotalCommittedPages, MmTotalCommitLimit;
extern MMPFNLIST MmZeroedPageListHead, MmFreePageListHead, MmStandbyPageListHead,
    MmModifiedPageListHead, MmModifiedNoWritePageListHead, MmBadPageListHead,
    MmLowFreePageListHead;
extern MI_RUN_TREE MiFreeRunTree;           /* free pages, for range searches */
extern KSPIN_LOCK MmPfnLock;
extern BOOLEAN MiNoLowMemory;

/* Physical memory as Mica uses it (after maxmem=/burnmemory=). */
#define MI_MAX_PHYSICAL_RUNS 64
typedef struct _MI_PHYSICAL_RUN {
    PFN_NUMBER BasePage;
    PFN_NUMBER PageCount;
} MI_PHYSICAL_RUN;
extern ULONG MiPhysicalRunCount;
extern MI_PHYSICAL_RUN MiPhysicalRuns[MI_MAX_PHYSICAL_RUNS];

/* MmPfnLock held: may Pages more pages be promised (commit.c)? Until Mm
 * starts counting (MmTotalCommitLimit 0: early phase 0, host tests) yes. */
static inline BOOLEAN MiCommitmentAvailable(PFN_NUMBER Pages)
{
    return MmTotalCommitLimit == 0 || (MmTotalCommittedPages <= MmTotalCommitLimit &&
                                       Pages <= MmTotalCommitLimit - MmTotalCommittedPages);
}

/* commit.c: charge (FALSE: over the limit, nothing charged) and return
 * commit for pageable memory; the Locked forms with MmPfnLock held. */
VOID MiInitializeCommitment(VOID);
BOOLEAN MiChargeCommitment(PFN_NUMBER Pages);
VOID MiReturnCommitment(PFN_NUMBER Pages);
BOOLEAN MiChargeCommitmentLocked(PFN_NUMBER Pages);
VOID MiReturnCommitmentLocked(PFN_NUMBER Pages);

/* pfndb.c: the lists. All of these need MmPfnLock held. The routines that
 * take pages for a new owner (MiRemoveAnyPage, MiRemoveZeroPage,
 * MiAllocatePagesInRange, MiRemovePageRun) refuse pages that would take
 * the commit charge past its limit. */
VOID MiInitializePfnDatabase(VOID);
BOOLEAN MiIsPfnRam(PFN_NUMBER Pfn);
VOID MiInsertPageInFreeList(PFN_NUMBER Pfn);
VOID MiInsertPageInList(PMMPFNLIST ListHead, PFN_NUMBER Pfn);
VOID MiUnlinkPageFromList(PFN_NUMBER Pfn);
PFN_NUMBER MiRemoveAnyPage(ULONG Color);
PFN_NUMBER MiRemoveZeroPage(ULONG Color);
/* A page just taken off a list becomes active: one reference, one
 * mapping (PteAddress, or none). Inline: every fault that takes a page
 * comes here. */
static inline VOID MiInitializePfnForActivePage(PFN_NUMBER Page, PMMPTE PteAddress, UCHAR CacheAttribute)
{
    PMMPFN pfn = MI_PFN_ELEMENT(Page);

    pfn->PageLocation = ActiveAndValid;
    pfn->ReferenceCount = 1;
    pfn->u2.ShareCount = 1;
    pfn->u1.WsIndex = 0;
    pfn->PteAddress = PteAddress;
    pfn->CacheAttribute = CacheAttribute;
    pfn->UsedPageTableEntries = 0;
    pfn->PagingFlags = 0;
    pfn->OriginalPte.Long = 0;
}
/* Allocate up to Count pages in [LowPfn, HighPfn]; returns how many. */
PFN_NUMBER MiAllocatePagesInRange(PFN_NUMBER LowPfn, PFN_NUMBER HighPfn, PFN_NUMBER Count,
                                  PPFN_NUMBER PageArray);
PFN_NUMBER MiAllocatePagesForMdlCore(PHYSICAL_ADDRESS LowAddress, PHYSICAL_ADDRESS HighAddress,
                                     PHYSICAL_ADDRESS SkipBytes, SIZE_T TotalBytes,
                                     PPFN_NUMBER Pages);
VOID MiFreeActivePage(PFN_NUMBER Pfn);
/* A run MiRunTreeFind returned becomes active / an active run goes back, with one tree update. */
BOOLEAN MiRemovePageRun(PFN_NUMBER Start, PFN_NUMBER Count, UCHAR CacheAttribute);
VOID MiFreeActivePageRun(PFN_NUMBER Start, PFN_NUMBER Count);
VOID MiFreeZeroedActivePage(PFN_NUMBER Pfn);
VOID MiPrintPfnSummary(VOID);
/* MmPfnLock held: take the oldest Standby page for a new owner, putting
 * its old owner's page-file PTE back (pager.c); 0 if none. */
PFN_NUMBER MiRemoveStandbyPage(VOID);
/* The zero-page thread's stock of zeroed pages outside the free-run tree
 * (pfndb.c); MiReturnZeroStock puts them back in it (TRUE if any). */
extern MMPFNLIST MiZeroStockListHead;
BOOLEAN MiReturnZeroStock(VOID);
extern ULONG64 MiStandbyRepurposed;

/* pager.c and pagefile.c: paging paged pool to the page file (pager.c's
 * top comment). MmPfnLock held for the Locked ones. */
extern BOOLEAN MiPagingEnabled;         /* a page file is in use */
VOID MiInitializePaging(VOID);
VOID MiDeletePageablePteLocked(PMMPTE Pte, PMI_TB_FLUSH_LIST Flush);
BOOLEAN MiPageFileInitialize(VOID);
ULONG64 MiPageFileSlots(VOID);
ULONG64 MiAllocatePageFileRun(ULONG Wanted, ULONG *Got);  /* 0: none */
VOID MiReleasePageFileSlot(ULONG64 Slot);
VOID MiMarkPageFileSlotBad(ULONG64 Slot);
NTSTATUS MiReadPageFile(ULONG64 Slot, PFN_NUMBER Page);
/* Start an asynchronous write of the MDL's pages to slots Slot..; Routine
 * is the IRP's completion routine (returns STATUS_MORE_PROCESSING_REQUIRED). */
struct _IRP;
struct _DEVICE_OBJECT;
VOID MiWritePageFile(ULONG64 Slot, PMDL Mdl, struct _IRP *Irp,
                     NTSTATUS (*Routine)(struct _DEVICE_OBJECT *, struct _IRP *, PVOID), PVOID Context);
CCHAR MiPageFileStackSize(VOID);
typedef struct _MI_PAGING_FILE {
    struct _DEVICE_OBJECT *Device;
    ULONG DiskNumber;
    ULONG64 Size;                       /* slots, slot 0 included */
    ULONG64 FreeSpace, CurrentUsage, PeakUsage, BadSlots;
    ULONG64 Hint;                       /* next-fit start */
    PULONG64 Bitmap;
    ULONG64 Reads, Writes, PagesWritten, WriteErrors;
} MI_PAGING_FILE;
extern MI_PAGING_FILE MiPagingFile;
/* What the pager did (counters for tests, benchmarks and !pagefile). */
typedef struct _MI_PAGING_STATISTICS {
    ULONG64 DemandZeroFaults, SoftFaults, HardFaults, CollidedFaults;
    ULONG64 PagesTrimmed, TrimPasses, PagesZeroed, FaultWaits;
    ULONG64 WriteCycles, PagesWrittenTimed;     /* writer: TSC cycles from issue to completion */
    NTSTATUS LastWriteStatus;
} MI_PAGING_STATISTICS;
extern MI_PAGING_STATISTICS MiPagingStatistics;
/* Trim pageable pages (pager.c): up to Target pages (0: age only). */
PFN_NUMBER MiTrimWorkingSet(PFN_NUMBER Target);
/* Ask the writer to write every Modified page now, and wait until it has. */
VOID MiFlushModifiedPages(VOID);
extern PFN_NUMBER MiFreeGoal, MiPagingReserve;
extern volatile ULONG MiInPageTestDelayMs;

/* pagesec.c: the kernel image's pageable sections. */
BOOLEAN MiIsPageableImageAddress(PVOID Va);     /* in a section that may be paged */
VOID MiInitializePageableSections(ULONG Phase); /* 0: the lock; 2: with a page file they join the working set */
/* One section's state for kd's !pagesec (a snapshot, no lock taken): its
 * pages by PTE state. FALSE past the last section. */
typedef struct _MI_IMAGE_SECTION_INFO {
    PCSTR Name, Image;                  /* Image: "mica" for the kernel's own */
    PVOID Start, End;
    BOOLEAN Pageable, EntirePaged;      /* pageable now; MmPageEntireDriver in effect */
    ULONG LockCount;
    ULONG64 Valid, Transition, PageFile;
} MI_IMAGE_SECTION_INFO, *PMI_IMAGE_SECTION_INFO;
BOOLEAN MiQueryImageSection(ULONG Index, PMI_IMAGE_SECTION_INFO Info);

/* bootalloc.c: the phase-0 bump allocator and the early mapper. */
PFN_NUMBER MiBootAllocatePages(PFN_NUMBER Count, BOOLEAN Zero);
BOOLEAN MiIsBootAllocatedPage(PFN_NUMBER Pfn);
VOID MiBootMapPage(ULONG64 Pml4Physical, ULONG64 Va, PFN_NUMBER Pfn, ULONG64 PteBits);
VOID MiCloseBootAllocator(VOID);

/* pagetable.c: mapping system space through the self-map. Unmapping puts
 * the addresses (and the pages that may be freed only after) on a TB flush
 * list; MiUnmapSystemPage(s) shoot it down themselves. */
NTSTATUS MiMapSystemPage(PVOID Va, PFN_NUMBER Pfn, ULONG64 PteBits);
VOID MiUnmapSystemPage(PVOID Va);
NTSTATUS MiMapSystemPages(PVOID Va, PFN_NUMBER Pfn, PFN_NUMBER Count, ULONG64 PteBits);
VOID MiUnmapSystemPages(PVOID Va, PFN_NUMBER Count);
/* The same with MmPfnLock already held. */
NTSTATUS MiMapSystemPagesLocked(PVOID Va, PFN_NUMBER Pfn, PFN_NUMBER Count, ULONG64 PteBits);
VOID MiUnmapSystemPagesLocked(PVOID Va, PFN_NUMBER Count, PMI_TB_FLUSH_LIST Flush);
/* MmPfnLock held: make the page tables for a range and never free them
 * (paged pool: its faults must need no table, commit.c). */
NTSTATUS MiMakeKeptPageTablesLocked(PVOID Va, PFN_NUMBER Pages);
/* MmPfnLock held: map a fresh page of its own at Va / unmap it, its page
 * freed by the shootdown of Flush. */
BOOLEAN MiMapNewPageLocked(PVOID Va, ULONG64 PteBits, BOOLEAN Zeroed);
VOID MiUnmapAndFreePageLocked(PVOID Va, PMI_TB_FLUSH_LIST Flush);
PMMPTE MiWalkToPte(PVOID Va, ULONG *Level);

/* tlb.c: the one place that flushes translations (tlb.h: the flush list).
 * Shootdowns, for anything another processor may have cached (all of
 * system space): IRQL <= SYNCH_LEVEL with interrupts on. */
VOID MiShootdownTbList(PMI_TB_FLUSH_LIST List);
VOID MiShootdownTbEntry(PVOID Va);
VOID MiShootdownEntireTb(VOID);
VOID MiTbFlushListDeferPage(PMI_TB_FLUSH_LIST List, PFN_NUMBER Pfn, BOOLEAN Zeroed);
/* This processor only: hyperspace slots, a stale entry met by this
 * processor's fault, this processor's PAT change. Never for a page or an
 * address about to change owner. */
VOID MiFlushTbEntry(PVOID Va);
VOID MiFlushEntireTb(BOOLEAN Global);
/* What the shootdowns did, per processor that made them (counted at
 * DISPATCH_LEVEL on their own processor): tests and benchmarks read them. */
typedef struct _MI_TB_STATISTICS {
    ULONG64 Shootdowns;                 /* MiShootdownTbList calls that flushed */
    ULONG64 EntireFlushes;              /* of those, whole-TB flushes */
    ULONG64 Entries;                    /* addresses flushed one by one */
    ULONG64 IpiRounds;                  /* of those, sent to other processors too */
} MI_TB_STATISTICS;
extern MI_TB_STATISTICS MiTbStatistics[MAXIMUM_PROCESSORS];

/* cache.c: PAT and cache types (MiInitializePat: mm.h). */
ULONG64 MiCacheTypeToPteBits(MEMORY_CACHING_TYPE CacheType);
UCHAR MiCacheTypeToPfnAttribute(MEMORY_CACHING_TYPE CacheType);

/* sysptes.c: the system-PTE region. */
typedef enum _MMSYSTEM_PTE_POOL_TYPE { SystemPteSpace, NonPagedPoolExpansion } MMSYSTEM_PTE_POOL_TYPE;
VOID MiInitializeSystemPtes(PVOID Storage);
SIZE_T MiSystemPteStorageSize(VOID);
PMMPTE MiReserveSystemPtes(ULONG NumberOfPtes, MMSYSTEM_PTE_POOL_TYPE SystemPtePoolType);
VOID MiReleaseSystemPtes(PMMPTE StartingPte, ULONG NumberOfPtes,
                         MMSYSTEM_PTE_POOL_TYPE SystemPtePoolType);
/* The same with MmPfnLock already held. */
PMMPTE MiReserveSystemPtesLocked(ULONG NumberOfPtes);
VOID MiReleaseSystemPtesLocked(PMMPTE StartingPte, ULONG NumberOfPtes);
/* Released runs of 1..MI_SYSPTE_CACHED_SIZES PTEs are cached, up to
 * MI_SYSPTE_CACHE_DEPTH of each size (sysptes.c). */
#define MI_SYSPTE_CACHED_SIZES 16
#define MI_SYSPTE_CACHE_DEPTH 8
PFN_NUMBER MiFreeSystemPteCount(VOID);

/* iospace.c: map Pages consecutive physical pages into system-PTE space. */
PVOID MiMapPhysicalPages(PFN_NUMBER Pfn, PFN_NUMBER Pages, ULONG64 PteBits);
VOID MiUnmapPhysicalPages(PVOID Va, PFN_NUMBER Pages);
/* The same with MmPfnLock held: unmap, shoot down once, release the PTEs. */
VOID MiUnmapPhysicalPagesLocked(PVOID Va, PFN_NUMBER Pages);

/* contig.c: the allocator core, with the search as a parameter so the
 * benchmark can compare the tree with a linear scan (tests/bench). */
typedef PFN_NUMBER (*PMI_CONTIGUOUS_FINDER)(PFN_NUMBER Pages, PFN_NUMBER LowPfn,
                                            PFN_NUMBER HighPfn, PFN_NUMBER BoundaryPfn);
PVOID MiAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS Lowest,
                                 PHYSICAL_ADDRESS Highest, PHYSICAL_ADDRESS Boundary,
                                 MEMORY_CACHING_TYPE CacheType, BOOLEAN Executable,
                                 PMI_CONTIGUOUS_FINDER Finder);

/* mdl*.c: what the MDL routines share. */
#define MI_NO_FRAME ((PFN_NUMBER)~0ULL)
/* MmPfnLock held: the frame behind Va (4 KiB, 2 MiB or 1 GiB mapping), or
 * MI_NO_FRAME; *Writable says whether the mapping allows writes. */
PFN_NUMBER MiFrameOfAddress(PVOID Va, BOOLEAN *Writable);
/* MmPfnLock held: may Page take or drop an MDL lock reference (a RAM page
 * in the PFN database, active)? Others (device memory) are not counted. */
BOOLEAN MiIsLockablePage(PFN_NUMBER Page);
/* MmPfnLock held: drop the lock references of Count pages; a page that is
 * not locked is PFN_LIST_CORRUPT (0x07, PFN, share count, 0). */
VOID MiUnlockPagesLocked(PPFN_NUMBER Pages, PFN_NUMBER Count);
/* Map Count pages (PFN array) at fresh system PTEs with Protection bits
 * (MM_PTE_WRITE / MM_PTE_NO_EXECUTE) and each page's cache type (its PFN's,
 * else CacheType): the address of the first page, or NULL. At Va instead
 * of fresh PTEs when Va is not NULL (a reserved mapping). */
PVOID MiMapMdlPages(PPFN_NUMBER Pages, PFN_NUMBER Count, ULONG64 Protection,
                    MEMORY_CACHING_TYPE CacheType, PVOID Va, ULONG Priority);
/* MmPfnLock held: unmap Count pages at Va, one shootdown; release the
 * PTEs unless they belong to a reservation (ReleasePtes FALSE). */
VOID MiUnmapMdlPagesLocked(PVOID Va, PFN_NUMBER Count, BOOLEAN ReleasePtes);

/* stack.c: the DPC that deletes stacks freed with interrupts off. */
VOID MiInitializeKernelStacks(VOID);

/* hyperspace.c */
VOID MiInitializeHyperSpace(VOID);
PVOID MiMapPageInHyperSpace(PFN_NUMBER Page, PKIRQL OldIrql);
VOID MiUnmapPageInHyperSpace(PVOID Va, KIRQL OldIrql);
VOID MiZeroPhysicalPage(PFN_NUMBER Page);

/* Kernel-image sections (linker.ld). */
extern char KiTextStart[], KiTextEnd[], KiRodataStart[], KiRodataEnd[];
extern char KiDriverTextStart[], KiDriverTextEnd[];   /* linker.ld: drivers' code */
/* linker.ld: pageable sections and the driver image of its own (pagesec.c). */
extern char KiPageCodeStart[], KiPageCodeEnd[], KiPageDataStart[], KiPageDataEnd[];
extern char KiDriverPageStart[], KiDriverPageEnd[];
extern char KiPagetouchImageStart[], KiPagetouchPageStart[], KiPagetouchImageEnd[];
extern char KiDataStart[], KiDataEnd[], KiSymbolsStart[], KiImageEnd[], KiBootImageStart[];
extern char KiBootStackGuard[];

#define MI_IS_PHYSICAL_KERNEL_VA(Va) ((ULONG64)(Va) >= MM_KSEG0_BASE)

#endif

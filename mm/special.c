/*
 * special.c - Driver Verifier's special pool.
 *
 * Boot option verifier=LIST, LIST being comma-separated words: "special"
 * (every tag), "underrun" (place blocks at the start of their page), or
 * tags of up to four characters ("verifier=Mica,Test"). Without it, an
 * allocation can still ask for special pool (POOL_FLAG_SPECIAL_POOL, with
 * ExAllocatePool3's priority choosing overrun or underrun). Each selected
 * allocation smaller than a page gets a page of its own in a region of
 * two-page slots (MM_SPECIAL_POOL_START), next to a guard page that is
 * never mapped:
 *
 *   overrun mode (default)  [data page: header .. pattern .. block][guard]
 *       the block ends at the page end (its start rounded down to 16
 *       bytes, 64 for the cache-aligned types), so reading or writing past
 *       it faults at once: 0xCD.
 *   underrun mode           [guard][data page: block .. pattern .. header]
 *       the block starts the page: touching below it faults at once: 0xCD.
 *
 * The header goes where the block is not: at the page start, unless the
 * block starts there (underrun mode, or a cache-aligned block of over
 * 4032 bytes rounded down to the page start), then in the last 16 bytes.
 * The slot's state remembers which (MI_SPECIAL_HEADER_AT_END).
 *
 * Every byte of the page that is not the block or its header holds a
 * pattern byte; the free checks it, so a small overrun (into the 16-byte
 * rounding) or an underrun (overrun mode) is caught then:
 * SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION 0xC1. A freed slot's page is
 * unmapped and the slot waits at the back of a FIFO before it is used
 * again, so a use after free faults for as long as possible: 0xCC.
 *
 * Parameters are NT's (nt-mm-facts.md, section 4). Special pool has no
 * lock-free path; it is a debugging aid and is guarded by one spin lock.
 *
 * Several processors: a slot's state changes only under MiSpecialLock, and
 * a free claims its slot (Live -> Freeing) under the lock before it reads
 * the page, so of two frees of one block on two processors exactly one
 * goes on and the other stops with 0xC1 (never both unmapping the page and
 * queueing the slot twice). A slot becomes Live only once its page and
 * header are written. The reports read Live slots' pages under the lock:
 * a Live slot's page cannot go while it is held. Only the fault check and
 * the IRQL bug check's pool-type parameter read a state byte without it
 * (one byte, for a stop code).
 */
#include "pool_internal.h"

#define MI_SPECIAL_SLOTS (MM_SPECIAL_POOL_PAGES / 2)
#define MI_SPECIAL_MAX_TAGS 16
#define MI_SPECIAL_MAGIC 0x5350           /* 'PS' */
#define MI_SPECIAL_MINIMUM_AVAILABLE 256  /* pages special pool leaves alone */
/* 0xC1 fourth parameters. */
#define MI_SPECIAL_FREE_NOT_ALLOCATED 0x20
#define MI_SPECIAL_BAD_ADDRESS        0x21
#define MI_SPECIAL_BAD_SIZE           0x22
#define MI_SPECIAL_BYTES_BEFORE       0x23
#define MI_SPECIAL_BYTES_AFTER        0x24
#define MI_SPECIAL_ALLOC_IRQL         0x30
#define MI_SPECIAL_FREE_IRQL          0x31

typedef enum _MI_SPECIAL_STATE {
    MiSlotUnused, MiSlotLive, MiSlotFreed,
    MiSlotFreeing,                      /* claimed by a free, page going */
} MI_SPECIAL_STATE;
#define MI_SPECIAL_STATE_MASK    0x03
#define MI_SPECIAL_HEADER_AT_END 0x80   /* with MiSlotLive: see the top comment */

/* Kept in the data page, next to the block. */
typedef struct _MI_SPECIAL_HEADER {
    USHORT Magic;
    UCHAR Pattern;
    UCHAR Underrun;
    ULONG Tag;
    ULONG Bytes;                    /* as requested */
    USHORT PoolType;
    USHORT Reserved;
} MI_SPECIAL_HEADER, *PMI_SPECIAL_HEADER;

static BOOLEAN MiSpecialEnabled, MiSpecialAllTags, MiSpecialUnderrun;
static BOOLEAN MiSpecialAvailable;      /* slot tables made */
BOOLEAN MiSpecialPoolSelecting;
static ULONG MiSpecialTags[MI_SPECIAL_MAX_TAGS], MiSpecialTagCount;
static KSPIN_LOCK MiSpecialLock;
static UCHAR *MiSpecialState;               /* MI_SPECIAL_STATE (+ flag) per slot */
static ULONG *MiSpecialFifo;                /* freed slots, oldest first */
static ULONG MiSpecialFifoHead, MiSpecialFifoCount, MiSpecialNextUnused;
static ULONG MiSpecialPoolPagesInUse;  /* data pages mapped now */

static ULONG MiTagFromWord(PCSTR Word, ULONG Length)
{
    ULONG tag = 0;

    /* Tags read as text in their first byte: 'Mica' is 0x6163694D. Short
     * tags are padded with spaces, as NT's are. */
    for (ULONG i = 0; i < 4; i++)
        tag |= (ULONG)(UCHAR)(i < Length ? Word[i] : ' ') << (8 * i);
    return tag;
}

VOID MiInitializeSpecialPool(VOID)
{
    char option[128];
    PCSTR word;

    if (!KeQueryBootOption("verifier", option, sizeof(option)))
        option[0] = 0;
    for (word = option; *word;) {
        ULONG length = 0;
        while (word[length] && word[length] != ',')
            length++;
        if (length == 7 && RtlCompareMemory(word, "special", 7) == 7)
            MiSpecialAllTags = TRUE;
        else if (length == 8 && RtlCompareMemory(word, "underrun", 8) == 8)
            MiSpecialUnderrun = TRUE;
        else if (length >= 1 && length <= 4 && MiSpecialTagCount < MI_SPECIAL_MAX_TAGS)
            MiSpecialTags[MiSpecialTagCount++] = MiTagFromWord(word, length);
        else if (length != 0)
            DbgPrint("Mm: verifier: '%.*s' is not special, underrun or a tag; ignored\n",
                     (int)length, word);
        word += length;
        if (*word == ',')
            word++;
    }
    /* The slot tables always exist: POOL_FLAG_SPECIAL_POOL asks for special
     * pool per allocation, with or without verifier=. */
    MiSpecialState = ExAllocatePoolWithTag(NonPagedPoolNx, MI_SPECIAL_SLOTS, 'lpSM');
    MiSpecialFifo = ExAllocatePoolWithTag(NonPagedPoolNx, MI_SPECIAL_SLOTS * sizeof(ULONG),
                                          'lpSM');
    if (MiSpecialState == NULL || MiSpecialFifo == NULL) {
        DbgPrint("Mm: no memory for special pool; it stays off\n");
        return;
    }
    RtlZeroMemory(MiSpecialState, MI_SPECIAL_SLOTS);
    KeInitializeSpinLock(&MiSpecialLock);
    MiSpecialAvailable = TRUE;
    MiSpecialEnabled = MiSpecialAllTags || MiSpecialTagCount != 0;
    MiSpecialPoolSelecting = MiSpecialEnabled;
    if (MiSpecialEnabled)
        DbgPrint("Mm: verifier: special pool for %s, %s mode, %llu slots\n",
                 MiSpecialAllTags ? "every tag" : "the tags given",
                 MiSpecialUnderrun ? "underrun" : "overrun", (ULONG64)MI_SPECIAL_SLOTS);
}

BOOLEAN MiUseSpecialPool(ULONG Tag, SIZE_T NumberOfBytes, ULONG PoolType)
{
    UNREFERENCED_PARAMETER(PoolType);
    /* Whole-page requests (> POOL_SMALL_LIMIT) keep their page alignment. */
    if (!MiSpecialEnabled || NumberOfBytes > POOL_SMALL_LIMIT)
        return FALSE;
    if (MiSpecialAllTags)
        return TRUE;
    for (ULONG i = 0; i < MiSpecialTagCount; i++)
        if (((MiSpecialTags[i] ^ Tag) & ~PROTECTED_POOL) == 0)
            return TRUE;
    return FALSE;
}

static PUCHAR MiSlotBase(ULONG Slot)
{
    return (PUCHAR)(MM_SPECIAL_POOL_START + ((ULONG64)Slot << (PAGE_SHIFT + 1)));
}

static ULONG MiSlotOf(PVOID Va)
{
    return (ULONG)(((ULONG64)Va - MM_SPECIAL_POOL_START) >> (PAGE_SHIFT + 1));
}

/* Where the block and header sit in the data page. */
static PUCHAR MiSpecialDataPage(ULONG Slot, BOOLEAN Underrun)
{
    return MiSlotBase(Slot) + (Underrun ? PAGE_SIZE : 0);
}

static MI_SPECIAL_STATE MiSlotState(ULONG Slot)
{
    return (MI_SPECIAL_STATE)(MiSpecialState[Slot] & MI_SPECIAL_STATE_MASK);
}

/* The header of a live slot's data page: at the page start or end. */
static PMI_SPECIAL_HEADER MiSpecialHeader(ULONG Slot, PUCHAR Page)
{
    return (PMI_SPECIAL_HEADER)((MiSpecialState[Slot] & MI_SPECIAL_HEADER_AT_END)
                                    ? Page + PAGE_SIZE - sizeof(MI_SPECIAL_HEADER)
                                    : Page);
}

/* Blocks are 16-byte aligned, 64 for the cache-aligned pool types. */
static PUCHAR MiSpecialBlock(PUCHAR Page, BOOLEAN Underrun, SIZE_T Bytes, ULONG PoolType)
{
    SIZE_T align = (PoolType & POOL_TYPE_CACHE_ALIGNED) ? POOL_CACHE_ALIGNMENT : POOL_BLOCK_SIZE;

    return Underrun ? Page : Page + ((PAGE_SIZE - Bytes) & ~(align - 1));
}

/* The data page of a live slot (the one of its two pages that is mapped),
 * found without a bug check at any IRQL: a walk of the page tables. */
static PUCHAR MiSpecialLivePage(ULONG Slot)
{
    ULONG level;

    return MiWalkToPte(MiSlotBase(Slot), &level) != NULL ? MiSlotBase(Slot)
                                                         : MiSlotBase(Slot) + PAGE_SIZE;
}

/* MiSpecialLock held: the slot's new state, header flag kept. */
static void MiSetSlotStateLocked(ULONG Slot, MI_SPECIAL_STATE State)
{
    MiSpecialState[Slot] = (UCHAR)((MiSpecialState[Slot] & ~MI_SPECIAL_STATE_MASK) | State);
}

/* A slot whose page is gone: no access, and last in line for reuse. */
static void MiRetireSlot(ULONG Slot)
{
    KIRQL irql;

    KeAcquireSpinLock(&MiSpecialLock, &irql);
    MiSpecialState[Slot] = MiSlotFreed;
    MiSpecialFifo[(MiSpecialFifoHead + MiSpecialFifoCount++) % MI_SPECIAL_SLOTS] = Slot;
    KeReleaseSpinLock(&MiSpecialLock, irql);
}

PVOID MiAllocateSpecialPool(SIZE_T NumberOfBytes, ULONG Tag, ULONG PoolType, ULONG Priority)
{
    BOOLEAN underrun = MiSpecialUnderrun;
    BOOLEAN paged = (PoolType & BASE_POOL_TYPE_MASK) != 0;
    KIRQL irql = KeGetCurrentIrql();
    ULONG slot;
    BOOLEAN mapped;
    PUCHAR page, block;
    PMI_SPECIAL_HEADER header;
    UCHAR pattern;

    if (irql > (paged ? APC_LEVEL : DISPATCH_LEVEL))
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, irql, PoolType, NumberOfBytes,
                     MI_SPECIAL_ALLOC_IRQL);
    if (!MiSpecialAvailable || NumberOfBytes > POOL_SMALL_LIMIT)
        return NULL;
    if (NumberOfBytes == 0)
        NumberOfBytes = 1;
    if ((Priority & 0xF) == 8)
        underrun = FALSE;               /* ...SpecialPoolOverrun */
    else if ((Priority & 0xF) == 9)
        underrun = TRUE;                /* ...SpecialPoolUnderrun */

    KeAcquireSpinLock(&MiSpecialLock, &irql);
    if (MiSpecialNextUnused < MI_SPECIAL_SLOTS) {
        slot = MiSpecialNextUnused++;
    } else if (MiSpecialFifoCount > 0) {
        slot = MiSpecialFifo[MiSpecialFifoHead];
        MiSpecialFifoHead = (MiSpecialFifoHead + 1) % MI_SPECIAL_SLOTS;
        MiSpecialFifoCount--;
    } else {
        KeReleaseSpinLock(&MiSpecialLock, irql);
        return NULL;
    }
    KeReleaseSpinLock(&MiSpecialLock, irql);

    /* As NT: leave the last 256 pages to everyone else (counted as pages
     * that may still be promised, commit.c); then normal pool. */
    page = MiSpecialDataPage(slot, underrun);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    mapped = MiCommitmentAvailable(MI_SPECIAL_MINIMUM_AVAILABLE) &&
             MiMapNewPageLocked(page, MM_PTE_WRITE | MM_PTE_GLOBAL |
                                          ((PoolType & POOL_NX_ALLOCATION) || paged
                                               ? MM_PTE_NO_EXECUTE : 0),
                                FALSE);
    KeReleaseSpinLock(&MmPfnLock, irql);
    if (!mapped) {
        MiRetireSlot(slot);
        return NULL;
    }

    /* The pattern changes with time, as NT's (the tick count's low byte). */
    pattern = (UCHAR)(KeReadTimeStampCounter() >> 12) | 1;
    memset(page, pattern, PAGE_SIZE);
    block = MiSpecialBlock(page, underrun, NumberOfBytes, PoolType);
    header = (PMI_SPECIAL_HEADER)(block == page ? page + PAGE_SIZE - sizeof(MI_SPECIAL_HEADER)
                                                : page);
    header->Magic = MI_SPECIAL_MAGIC;
    header->Pattern = pattern;
    header->Underrun = underrun;
    header->Tag = Tag;
    header->Bytes = (ULONG)NumberOfBytes;
    header->PoolType = (USHORT)PoolType;
    header->Reserved = 0;
    /* Live from here, page and header written: a report on another
     * processor may read them as soon as it sees the state. */
    KeAcquireSpinLock(&MiSpecialLock, &irql);
    MiSpecialState[slot] = MiSlotLive | (block == page ? MI_SPECIAL_HEADER_AT_END : 0);
    KeReleaseSpinLock(&MiSpecialLock, irql);
    __atomic_add_fetch(&MiSpecialPoolPagesInUse, 1, __ATOMIC_RELAXED);
    irql = ExpRaiseToDpc();
    ExpInsertPoolTracker(KeGetCurrentProcessorNumber(), Tag, PAGE_SIZE, paged);
    ExpLowerFromDpc(irql);
    return block;
}

/* The header of the special allocation holding P, whose slot is in State
 * (Live, or Freeing for the free that claimed it); bug checks if none. */
static PMI_SPECIAL_HEADER MiCheckSpecialBlock(PVOID P, PUCHAR *Page, MI_SPECIAL_STATE State)
{
    ULONG slot = MiSlotOf(P);
    PUCHAR page = PAGE_ALIGN(P);
    PMI_SPECIAL_HEADER header;
    BOOLEAN underrun = page != MiSlotBase(slot);
    ULONG level;

    if (MiSpecialState == NULL || MiSlotState(slot) != State ||
        MiWalkToPte(page, &level) == NULL)
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)P,
                     (ULONG_PTR)MiGetPteAddress(P), 0, MI_SPECIAL_FREE_NOT_ALLOCATED);
    header = MiSpecialHeader(slot, page);
    if (header->Magic != MI_SPECIAL_MAGIC || header->Underrun != underrun ||
        header->Bytes == 0 || header->Bytes > PAGE_SIZE - sizeof(MI_SPECIAL_HEADER))
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)P, header->Bytes, 0,
                     MI_SPECIAL_BAD_SIZE);
    if ((PUCHAR)P != MiSpecialBlock(page, underrun, header->Bytes, header->PoolType))
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)P, header->Bytes,
                     (ULONG_PTR)MiSpecialBlock(page, underrun, header->Bytes, header->PoolType),
                     MI_SPECIAL_BAD_ADDRESS);
    *Page = page;
    return header;
}

SIZE_T MiSpecialPoolBlockSize(PVOID P)
{
    PUCHAR page;

    return MiCheckSpecialBlock(P, &page, MiSlotLive)->Bytes;
}

/* Claim a Live slot for its free, under the lock: FALSE if it is not Live
 * (never allocated, freed, or being freed on another processor). */
static BOOLEAN MiClaimSlotForFree(ULONG Slot)
{
    BOOLEAN live;
    KIRQL irql;

    if (MiSpecialState == NULL)
        return FALSE;
    KeAcquireSpinLock(&MiSpecialLock, &irql);
    live = MiSlotState(Slot) == MiSlotLive;
    if (live)
        MiSetSlotStateLocked(Slot, MiSlotFreeing);
    KeReleaseSpinLock(&MiSpecialLock, irql);
    return live;
}

/* First byte in [From, To) that is not Pattern, or NULL; the header, if it
 * lies in the range, is skipped. */
static PUCHAR MiFindNonPattern(PUCHAR From, PUCHAR To, PMI_SPECIAL_HEADER Header, UCHAR Pattern)
{
    for (PUCHAR b = From; b < To; b++) {
        if (b == (PUCHAR)Header) {
            b += sizeof(*Header) - 1;
            continue;
        }
        if (*b != Pattern)
            return b;
    }
    return NULL;
}

/*
 * The pool type of the live block at P, for the IRQL bug check: read from
 * its header if P is a live slot's block (any IRQL: nothing here can
 * fault or bug check), else 0.
 */
static ULONG MiSpecialPoolTypeAt(PVOID P)
{
    ULONG slot = MiSlotOf(P), type = 0;
    BOOLEAN locked = KeGetCurrentIrql() <= DISPATCH_LEVEL;
    KIRQL irql = 0;

    if (MiSpecialState == NULL)
        return 0;
    /* Above DISPATCH_LEVEL the lock cannot be taken; the caller stops the
     * machine then, and the type is only a parameter of that stop. */
    if (locked)
        KeAcquireSpinLock(&MiSpecialLock, &irql);
    if (MiSlotState(slot) == MiSlotLive)
        type = MiSpecialHeader(slot, MiSpecialLivePage(slot))->PoolType;
    if (locked)
        KeReleaseSpinLock(&MiSpecialLock, irql);
    return type;
}

VOID MiFreeSpecialPool(PVOID P, ULONG Tag)
{
    KIRQL irql = KeGetCurrentIrql();
    PUCHAR page, block = P, bad;
    PMI_SPECIAL_HEADER header;
    BOOLEAN paged;
    ULONG slot = MiSlotOf(P), stored;
    MI_TB_FLUSH_LIST flush;

    /*
     * The IRQL first, before anything that could stop with a code of its
     * own (above DISPATCH_LEVEL even MmIsAddressValid is IRQL_NOT_LESS_OR_
     * EQUAL): no pool may be freed above DISPATCH_LEVEL, paged special pool
     * not above APC_LEVEL. NT's answer is 0xC1 (IRQL, pool type, P, 0x31).
     */
    if (irql > APC_LEVEL) {
        ULONG type = MiSpecialPoolTypeAt(P);
        if (irql > DISPATCH_LEVEL || (type & BASE_POOL_TYPE_MASK))
            KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, irql, type, (ULONG_PTR)P,
                         MI_SPECIAL_FREE_IRQL);
    }
    /* This free owns the slot from here; a second one stops below. */
    if (!MiIsSpecialPoolAddress(P) || !MiClaimSlotForFree(slot))
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)P,
                     (ULONG_PTR)MiGetPteAddress(P), 0, MI_SPECIAL_FREE_NOT_ALLOCATED);
    header = MiCheckSpecialBlock(P, &page, MiSlotFreeing);
    paged = (header->PoolType & BASE_POOL_TYPE_MASK) != 0;
    /* Everything around the block but the header must still be the pattern. */
    bad = MiFindNonPattern(page, block, header, header->Pattern);
    if (bad != NULL)
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)P, (ULONG_PTR)bad,
                     header->Pattern, MI_SPECIAL_BYTES_BEFORE);
    bad = MiFindNonPattern(block + header->Bytes, page + PAGE_SIZE, header, header->Pattern);
    if (bad != NULL)
        KeBugCheckEx(SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, (ULONG_PTR)P, (ULONG_PTR)bad,
                     header->Pattern, MI_SPECIAL_BYTES_AFTER);
    stored = header->Tag;
    ExpCheckFreeTag(P, stored, Tag);

    irql = ExpRaiseToDpc();
    ExpRemovePoolTracker(KeGetCurrentProcessorNumber(), stored, PAGE_SIZE, paged);
    ExpLowerFromDpc(irql);

    /* The page goes - freed by the shootdown, once no processor can still
     * reach it through the old translation - and the slot stays no-access
     * at the back of the queue (retired only after the shootdown too: its
     * addresses may be mapped again once it leaves the queue). */
    MiInitializeTbFlushList(&flush);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiUnmapAndFreePageLocked(page, &flush);
    MiShootdownTbList(&flush);
    KeReleaseSpinLock(&MmPfnLock, irql);
    MiRetireSlot(slot);
    __atomic_sub_fetch(&MiSpecialPoolPagesInUse, 1, __ATOMIC_RELAXED);
}

VOID MiCheckSpecialPoolFault(PVOID Va, BOOLEAN Write, PVOID Pc)
{
    ULONG slot;

    if (!MiIsSpecialPoolAddress(Va) || MiSpecialState == NULL)
        return;
    slot = MiSlotOf(Va);
    if (MiSlotState(slot) == MiSlotFreed || MiSlotState(slot) == MiSlotFreeing)
        KeBugCheckEx(PAGE_FAULT_IN_FREED_SPECIAL_POOL, (ULONG_PTR)Va, Write, (ULONG_PTR)Pc, 0);
    if (MiSlotState(slot) == MiSlotLive)
        KeBugCheckEx(PAGE_FAULT_BEYOND_END_OF_ALLOCATION, (ULONG_PTR)Va, Write, (ULONG_PTR)Pc, 0);
}

/* Leak report: print (if Print) and count the live blocks tagged Tag (0: all). */
ULONG MiReportSpecialPool(ULONG Tag, BOOLEAN Print)
{
    ULONG count = 0;
    KIRQL irql;

    if (!MiSpecialAvailable)
        return 0;
    if (Print && MiSpecialPoolPagesInUse != 0)
        DbgPrint("  special pool: %u pages in use\n", MiSpecialPoolPagesInUse);
    /* Under the lock: a Live slot's page stays while it is held (top). */
    KeAcquireSpinLock(&MiSpecialLock, &irql);
    for (ULONG slot = 0; slot < MiSpecialNextUnused; slot++) {
        PUCHAR page;
        PMI_SPECIAL_HEADER header;
        if (MiSlotState(slot) != MiSlotLive)
            continue;
        page = MiSpecialLivePage(slot);
        header = MiSpecialHeader(slot, page);
        if (Tag != 0 && ((header->Tag ^ Tag) & ~PROTECTED_POOL) != 0)
            continue;
        count++;
        if (Print) {
            char name[5];
            DbgPrint("  %p %6u bytes %s %s (special pool)\n",
                     MiSpecialBlock(page, header->Underrun, header->Bytes, header->PoolType),
                     header->Bytes, ExpTagName(header->Tag, name),
                     header->PoolType & BASE_POOL_TYPE_MASK ? "Paged" : "Nonp");
        }
    }
    KeReleaseSpinLock(&MiSpecialLock, irql);
    return count;
}

/* !pool for a special-pool address. */
VOID MiDumpSpecialPool(PVOID Va)
{
    ULONG slot = MiSlotOf(Va);
    PUCHAR page = PAGE_ALIGN(Va);
    PMI_SPECIAL_HEADER header;
    char name[5];
    KIRQL irql;

    if (MiSpecialState == NULL) {
        DbgPrint("%p is in special pool, slot %u, not allocated\n", Va, slot);
        return;
    }
    KeAcquireSpinLock(&MiSpecialLock, &irql);       /* the page stays while Live */
    if (MiSlotState(slot) != MiSlotLive || !MmIsAddressValid(page)) {
        DbgPrint("%p is in special pool, slot %u, %s\n", Va, slot,
                 MiSlotState(slot) == MiSlotFreed || MiSlotState(slot) == MiSlotFreeing
                     ? "freed" : "not allocated");
    } else {
        header = MiSpecialHeader(slot, page);
        DbgPrint("*%p : special pool, slot %u, %u bytes, tag %s, %s mode\n",
                 MiSpecialBlock(page, header->Underrun, header->Bytes, header->PoolType), slot,
                 header->Bytes, ExpTagName(header->Tag, name),
                 header->Underrun ? "underrun" : "overrun");
    }
    KeReleaseSpinLock(&MiSpecialLock, irql);
}

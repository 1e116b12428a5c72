/*
 * lookaside.c - NT's lookaside lists: per-driver caches of fixed-size blocks.
 *
 * A driver that allocates and frees the same structure all the time (IRPs,
 * requests, packets) keeps freed blocks on a lookaside list instead of
 * returning them to the pool: the next allocation pops one back without
 * taking a pool lock. The list holds at most Depth blocks; beyond that,
 * frees go to the Free routine. As in NT:
 *
 *  - the blocks are kept in an interlocked S-list (kernel/rtl/slist.c), so
 *    allocating and freeing take no lock;
 *  - Depth adapts to demand: every list is on ExpLookasideListHead, and a
 *    periodic timer DPC (ExpLookasideScanPeriod) runs ExAdjustLookasideDepth,
 *    which moves each list's Depth by the allocations and misses it saw
 *    since the previous scan (ExpComputeLookasideDepth). Lowering Depth does
 *    not free cached blocks: later frees just go to Free until the list is
 *    below the new Depth (the scan runs at DISPATCH_LEVEL, where a paged
 *    list's Free routine may not be called);
 *  - that scan touches every list head at DISPATCH_LEVEL, which is why NT
 *    requires list heads in nonpaged memory even for paged lists. Mica
 *    checks it when a list is initialized (ExpCheckListHead).
 *
 * The S-list itself (InterlockedPushEntrySList and friends) is an Rtl
 * primitive: kernel/rtl/slist.c.
 */
#include "pool_internal.h"
#include "../kernel/ke/ke.h"

#define EXP_LOOKASIDE_ALIGNMENT 16              /* list heads, as NT on x64 */
#define EXP_100NS_PER_MS 10000

/* The scan: once a second, as NT's balance-set manager. */
#define EXP_LOOKASIDE_SCAN_PERIOD_MS 1000
/* Fewer allocations than this in one period: the list is idle. */
#define EXP_LOOKASIDE_IDLE_ALLOCATES 25
#define EXP_LOOKASIDE_IDLE_STEP 10
/* Misses per thousand allocations below which Depth is more than enough. */
#define EXP_LOOKASIDE_MISS_SCALE 1000
#define EXP_LOOKASIDE_GOOD_MISSES 5
/* Growth: half of MaximumDepth at 100% misses, plus this much. */
#define EXP_LOOKASIDE_GROWTH_DIVISOR 2
#define EXP_LOOKASIDE_GROWTH_STEP 5

static LIST_ENTRY ExpLookasideListHead = {&ExpLookasideListHead, &ExpLookasideListHead};
static KSPIN_LOCK ExpLookasideLock;
static BOOLEAN ExpLookasideScanStarted;
static KTIMER ExpLookasideTimer;
static KDPC ExpLookasideDpc;

_Static_assert(FIELD_OFFSET(GENERAL_LOOKASIDE, Depth) == 0x10, "wdm.h layout");
_Static_assert(FIELD_OFFSET(GENERAL_LOOKASIDE, Type) == 0x24, "wdm.h layout");
_Static_assert(FIELD_OFFSET(GENERAL_LOOKASIDE, Allocate) == 0x30, "wdm.h layout");
_Static_assert(FIELD_OFFSET(GENERAL_LOOKASIDE, ListEntry) == 0x40, "wdm.h layout");
_Static_assert(FIELD_OFFSET(GENERAL_LOOKASIDE, LastTotalAllocates) == 0x50, "wdm.h layout");
_Static_assert(sizeof(GENERAL_LOOKASIDE) == 0x80, "wdm.h layout");
_Static_assert(sizeof(LOOKASIDE_LIST_EX) == 0x60, "wdm.h layout");
/* The code below works on GENERAL_LOOKASIDE_POOL for all three kinds. */
_Static_assert(FIELD_OFFSET(GENERAL_LOOKASIDE_POOL, Future) ==
                   FIELD_OFFSET(GENERAL_LOOKASIDE, Future),
               "one layout for both");

/* ---- depth adjustment -------------------------------------------------------------------- */

/*
 * The rule, per list and per scan period, from its allocations and misses
 * in that period:
 *   - idle (fewer than EXP_LOOKASIDE_IDLE_ALLOCATES): Depth drops by
 *     EXP_LOOKASIDE_IDLE_STEP, so idle lists stop holding memory;
 *   - misses under 0.5%: Depth drops by one, seeking the smallest depth that
 *     still serves the demand;
 *   - otherwise Depth grows in proportion to the miss ratio: by
 *     MaximumDepth * ratio / 2 plus EXP_LOOKASIDE_GROWTH_STEP.
 * The result stays within [EXP_MINIMUM_LOOKASIDE_DEPTH, MaximumDepth]. NT's
 * scan follows a rule of this shape; the constants here are Mica's.
 */
USHORT ExpComputeLookasideDepth(USHORT Depth, USHORT MaximumDepth, ULONG Allocates, ULONG Misses)
{
    /* LAB lookaside: BEGIN - the rule above, clamped to [minimum, MaximumDepth] */
    ULONG64 target = Depth, ratio;

    if (Misses > Allocates)
        Misses = Allocates;
    if (Allocates < EXP_LOOKASIDE_IDLE_ALLOCATES) {
        target = target > EXP_MINIMUM_LOOKASIDE_DEPTH + EXP_LOOKASIDE_IDLE_STEP
                     ? target - EXP_LOOKASIDE_IDLE_STEP
                     : EXP_MINIMUM_LOOKASIDE_DEPTH;
    } else {
        ratio = (ULONG64)Misses * EXP_LOOKASIDE_MISS_SCALE / Allocates;
        if (ratio < EXP_LOOKASIDE_GOOD_MISSES)
            target = target > EXP_MINIMUM_LOOKASIDE_DEPTH ? target - 1
                                                          : EXP_MINIMUM_LOOKASIDE_DEPTH;
        else
            target += ratio * MaximumDepth /
                          (EXP_LOOKASIDE_MISS_SCALE * EXP_LOOKASIDE_GROWTH_DIVISOR) +
                      EXP_LOOKASIDE_GROWTH_STEP;
    }
    if (target > MaximumDepth)
        target = MaximumDepth;
    if (target < EXP_MINIMUM_LOOKASIDE_DEPTH)
        target = EXP_MINIMUM_LOOKASIDE_DEPTH;
    return (USHORT)target;
    /* LAB lookaside: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(lookaside);
    /* Correct but never adapts: every list keeps the depth it has. */
    UNREFERENCED_PARAMETER(MaximumDepth);
    UNREFERENCED_PARAMETER(Allocates);
    UNREFERENCED_PARAMETER(Misses);
    return Depth;
#endif
    /* LAB lookaside: END */
}

VOID ExAdjustLookasideDepth(VOID)
{
    KIRQL old;

    KeAcquireSpinLock(&ExpLookasideLock, &old);
    for (PLIST_ENTRY e = ExpLookasideListHead.Flink; e != &ExpLookasideListHead; e = e->Flink) {
        PGENERAL_LOOKASIDE_POOL l = CONTAINING_RECORD(e, GENERAL_LOOKASIDE_POOL, ListEntry);
        /* Unsigned differences stay right when the counters wrap. */
        ULONG allocates = l->TotalAllocates - l->LastTotalAllocates;
        ULONG misses = l->AllocateMisses - l->LastAllocateMisses;

        l->Depth = ExpComputeLookasideDepth(l->Depth, l->MaximumDepth, allocates, misses);
        l->LastTotalAllocates += allocates;
        l->LastAllocateMisses += misses;
    }
    KeReleaseSpinLock(&ExpLookasideLock, old);
}

static VOID ExpLookasideScanDpc(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    ExAdjustLookasideDepth();
}

/* ---- list heads ---------------------------------------------------------------------------- */

/* The scan reads list heads at DISPATCH_LEVEL: they must be resident and
 * not pageable. Caller and Routine name the initializer in the stop. */
static VOID ExpCheckListHead(PVOID Lookaside, SIZE_T Bytes, PVOID Routine, PVOID Caller)
{
    ULONG_PTR va = (ULONG_PTR)Lookaside;

    /* The list types promise their alignment; keep the compiler from
     * folding this test away on that promise. */
    __asm__("" : "+r"(va));
    if (va & (EXP_LOOKASIDE_ALIGNMENT - 1))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_LOOKASIDE_MISALIGNED, va,
                     (ULONG_PTR)Routine, (ULONG_PTR)Caller);
    if ((va + Bytes > MM_PAGED_POOL_START && va < MM_PAGED_POOL_END) ||
        !MmIsAddressValid((PVOID)va) || !MmIsAddressValid((PVOID)(va + Bytes - 1)))
        KeBugCheckEx(BAD_POOL_CALLER, BAD_POOL_CALLER_LOOKASIDE_NOT_RESIDENT, va,
                     (ULONG_PTR)Routine, (ULONG_PTR)Caller);
}

static VOID ExpInitializeLookaside(PGENERAL_LOOKASIDE_POOL L, ULONG Type, SIZE_T Size, ULONG Tag)
{
    KIRQL old;
    BOOLEAN startScan;

    InitializeSListHead(&L->ListHead);
    L->Depth = EXP_MINIMUM_LOOKASIDE_DEPTH;
    L->MaximumDepth = EX_MAXIMUM_LOOKASIDE_DEPTH_BASE;
    L->TotalAllocates = 0;
    L->AllocateMisses = 0;
    L->TotalFrees = 0;
    L->FreeMisses = 0;
    L->Type = (POOL_TYPE)Type;
    L->Tag = Tag;
    L->Size = (ULONG)(Size < LOOKASIDE_MINIMUM_BLOCK_SIZE ? LOOKASIDE_MINIMUM_BLOCK_SIZE : Size);
    L->LastTotalAllocates = 0;
    L->LastAllocateMisses = 0;
    L->Future[0] = L->Future[1] = 0;

    KeAcquireSpinLock(&ExpLookasideLock, &old);
    InsertTailList(&ExpLookasideListHead, &L->ListEntry);
    /* The first list starts the scan: no boot-time hook is needed, and a
     * kernel with no lookaside lists has no timer. */
    startScan = !ExpLookasideScanStarted;
    ExpLookasideScanStarted = TRUE;
    KeReleaseSpinLock(&ExpLookasideLock, old);
    if (startScan) {
        LARGE_INTEGER due = {.QuadPart = -(LONGLONG)EXP_LOOKASIDE_SCAN_PERIOD_MS * EXP_100NS_PER_MS};
        KeInitializeDpc(&ExpLookasideDpc, ExpLookasideScanDpc, NULL);
        KeInitializeTimerEx(&ExpLookasideTimer, NotificationTimer);
        KeSetTimerEx(&ExpLookasideTimer, due, EXP_LOOKASIDE_SCAN_PERIOD_MS, &ExpLookasideDpc);
    }
}

static VOID ExpRemoveLookaside(PGENERAL_LOOKASIDE_POOL L)
{
    KIRQL old;

    KeAcquireSpinLock(&ExpLookasideLock, &old);
    RemoveEntryList(&L->ListEntry);
    KeReleaseSpinLock(&ExpLookasideLock, old);
}

/* ---- allocate and free, shared by the three kinds ------------------------------------------ */

static inline PVOID ExpAllocateFromLookaside(PGENERAL_LOOKASIDE_POOL L, BOOLEAN Ex)
{
    PVOID entry;

    L->TotalAllocates++;
    entry = InterlockedPopEntrySList(&L->ListHead);
    if (entry == NULL) {
        L->AllocateMisses++;
        entry = Ex ? L->AllocateEx(L->Type, L->Size, L->Tag, (PLOOKASIDE_LIST_EX)L)
                   : L->Allocate(L->Type, L->Size, L->Tag);
    }
    return entry;
}

static inline VOID ExpFreeToLookaside(PGENERAL_LOOKASIDE_POOL L, PVOID Entry, BOOLEAN Ex)
{
    L->TotalFrees++;
    if (ExQueryDepthSList(&L->ListHead) >= L->Depth) {
        L->FreeMisses++;
        if (Ex)
            L->FreeEx(Entry, (PLOOKASIDE_LIST_EX)L);
        else
            L->Free(Entry);
    } else {
        InterlockedPushEntrySList(&L->ListHead, Entry);
    }
}

/* Hand every cached entry to the Free routine. */
static VOID ExpFlushLookaside(PGENERAL_LOOKASIDE_POOL L, BOOLEAN Ex)
{
    PSLIST_ENTRY entry = InterlockedFlushSList(&L->ListHead), next;

    for (; entry != NULL; entry = next) {
        next = entry->Next;
        if (Ex)
            L->FreeEx(entry, (PLOOKASIDE_LIST_EX)L);
        else
            L->Free(entry);
    }
}

static inline KIRQL ExpMaximumIrql(ULONG PoolType)
{
    return (PoolType & BASE_POOL_TYPE_MASK) == PagedPool ? APC_LEVEL : DISPATCH_LEVEL;
}

#define EXP_LOOKASIDE_FLAGS (POOL_NX_ALLOCATION | POOL_RAISE_IF_ALLOCATION_FAILURE)

/* ---- NPAGED_LOOKASIDE_LIST ----------------------------------------------------------------- */

VOID ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                     PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                     USHORT Depth)
{
    PGENERAL_LOOKASIDE_POOL l = (PGENERAL_LOOKASIDE_POOL)&Lookaside->L;

    UNREFERENCED_PARAMETER(Depth);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, ExInitializeNPagedLookasideList);
    ExpCheckListHead(Lookaside, sizeof(*Lookaside), ExInitializeNPagedLookasideList,
                     __builtin_return_address(0));
    l->Allocate = Allocate != NULL ? Allocate : ExAllocatePoolWithTag;
    l->Free = Free != NULL ? Free : ExFreePool;
    ExpInitializeLookaside(l, NonPagedPool | (Flags & EXP_LOOKASIDE_FLAGS), Size, Tag);
}

PVOID ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, ExAllocateFromNPagedLookasideList);
    return ExpAllocateFromLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, FALSE);
}

VOID ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, ExFreeToNPagedLookasideList);
    ExpFreeToLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, Entry, FALSE);
}

VOID ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, ExDeleteNPagedLookasideList);
    ExpRemoveLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L);
    ExpFlushLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, FALSE);
}

/* ---- PAGED_LOOKASIDE_LIST ------------------------------------------------------------------- */

VOID ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                    PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
                                    USHORT Depth)
{
    PGENERAL_LOOKASIDE_POOL l = (PGENERAL_LOOKASIDE_POOL)&Lookaside->L;

    UNREFERENCED_PARAMETER(Depth);
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExInitializePagedLookasideList);
    ExpCheckListHead(Lookaside, sizeof(*Lookaside), ExInitializePagedLookasideList,
                     __builtin_return_address(0));
    l->Allocate = Allocate != NULL ? Allocate : ExAllocatePoolWithTag;
    l->Free = Free != NULL ? Free : ExFreePool;
    /* Paged pool is always no-execute: POOL_NX_ALLOCATION changes nothing. */
    ExpInitializeLookaside(l, PagedPool | (Flags & POOL_RAISE_IF_ALLOCATION_FAILURE), Size, Tag);
}

PVOID ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExAllocateFromPagedLookasideList);
    return ExpAllocateFromLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, FALSE);
}

VOID ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExFreeToPagedLookasideList);
    ExpFreeToLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, Entry, FALSE);
}

VOID ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ExDeletePagedLookasideList);
    ExpRemoveLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L);
    ExpFlushLookaside((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, FALSE);
}

/* ---- LOOKASIDE_LIST_EX ----------------------------------------------------------------------- */

static PVOID ExpAllocatePoolForLookasideEx(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                           PLOOKASIDE_LIST_EX Lookaside)
{
    UNREFERENCED_PARAMETER(Lookaside);
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID ExpFreePoolForLookasideEx(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside)
{
    UNREFERENCED_PARAMETER(Lookaside);
    ExFreePool(Buffer);
}

#define EXP_LOOKASIDE_EX_FLAGS \
    (EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)
#define EXP_MAXIMUM_LOOKASIDE_SIZE 0xFFFFFFFFULL    /* GENERAL_LOOKASIDE.Size is a ULONG */

NTSTATUS ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                     PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags,
                                     SIZE_T Size, ULONG Tag, USHORT Depth)
{
    PGENERAL_LOOKASIDE_POOL l = &Lookaside->L;
    ULONG type = (ULONG)PoolType;

    UNREFERENCED_PARAMETER(Depth);
    KI_CHECK_IRQL_AT_MOST(ExpMaximumIrql(type), ExInitializeLookasideListEx);
    ExpCheckListHead(Lookaside, sizeof(*Lookaside), ExInitializeLookasideListEx,
                     __builtin_return_address(0));
    /* The two flags are opposite answers to one question. */
    if ((Flags & ~EXP_LOOKASIDE_EX_FLAGS) != 0 || Flags == EXP_LOOKASIDE_EX_FLAGS)
        return STATUS_INVALID_PARAMETER_5;
    if (Size > EXP_MAXIMUM_LOOKASIDE_SIZE)
        return STATUS_INVALID_PARAMETER_6;
    if (Flags & EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL)
        type |= POOL_RAISE_IF_ALLOCATION_FAILURE;
    if (Flags & EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)
        type |= POOL_QUOTA_FAIL_INSTEAD_OF_RAISE;
    l->AllocateEx = Allocate != NULL ? Allocate : ExpAllocatePoolForLookasideEx;
    l->FreeEx = Free != NULL ? Free : ExpFreePoolForLookasideEx;
    ExpInitializeLookaside(l, type, Size, Tag);
    return STATUS_SUCCESS;
}

PVOID ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(ExpMaximumIrql(Lookaside->L.Type), ExAllocateFromLookasideListEx);
    return ExpAllocateFromLookaside(&Lookaside->L, TRUE);
}

VOID ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry)
{
    KI_CHECK_IRQL_AT_MOST(ExpMaximumIrql(Lookaside->L.Type), ExFreeToLookasideListEx);
    ExpFreeToLookaside(&Lookaside->L, Entry, TRUE);
}

VOID ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(ExpMaximumIrql(Lookaside->L.Type), ExFlushLookasideListEx);
    ExpFlushLookaside(&Lookaside->L, TRUE);
}

VOID ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    KI_CHECK_IRQL_AT_MOST(ExpMaximumIrql(Lookaside->L.Type), ExDeleteLookasideListEx);
    ExpRemoveLookaside(&Lookaside->L);
    ExpFlushLookaside(&Lookaside->L, TRUE);
}

/*
 * The kd> shell's !lookaside: copies of up to Max lists' heads (counters,
 * depth, tag), taken under the list-of-lists lock so that a list deleted
 * meanwhile is never read; returns how many lists there are.
 */
ULONG ExpSnapshotLookasideLists(PEXP_LOOKASIDE_SNAPSHOT Out, ULONG Max)
{
    KIRQL old;
    ULONG n = 0;

    KeAcquireSpinLock(&ExpLookasideLock, &old);
    for (PLIST_ENTRY e = ExpLookasideListHead.Flink; e != &ExpLookasideListHead; e = e->Flink, n++)
        if (n < Max) {
            PGENERAL_LOOKASIDE_POOL l = CONTAINING_RECORD(e, GENERAL_LOOKASIDE_POOL, ListEntry);
            Out[n].Address = l;
            Out[n].Type = l->Type;
            Out[n].Tag = l->Tag;
            Out[n].Size = l->Size;
            Out[n].Depth = l->Depth;
            Out[n].MaximumDepth = l->MaximumDepth;
            Out[n].TotalAllocates = l->TotalAllocates;
            Out[n].AllocateMisses = l->AllocateMisses;
            Out[n].TotalFrees = l->TotalFrees;
            Out[n].FreeMisses = l->FreeMisses;
            Out[n].Cached = ExQueryDepthSList(&l->ListHead);
        }
    KeReleaseSpinLock(&ExpLookasideLock, old);
    return n;
}

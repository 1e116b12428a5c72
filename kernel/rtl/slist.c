/*
 * slist.c - NT's interlocked singly linked list (S-list), an Rtl primitive:
 * InterlockedPushEntrySList, InterlockedPopEntrySList, InterlockedFlushSList
 * and their Ex forms. Lookaside lists keep their blocks in one (mm/
 * lookaside.c); anything that needs a lock-free LIFO of nonpaged entries
 * can use one.
 *
 * The list is x64 NT's: a 16-byte header changed with one cmpxchg16b, its
 * Sequence (bumped by every push and pop) making an interrupted pop fail
 * rather than install a stale link (the ABA problem). A pop reads the first
 * entry's link before its cmpxchg16b; if the entry was popped and freed
 * meanwhile that read could fault. NT recovers from that fault (the page-
 * fault handler restarts the pop); Mica has no such recovery, so a pop runs
 * at DISPATCH_LEVEL, where nothing else on this processor can run in
 * between. That is enough while Mica uses one processor; a second one will
 * need NT's fault-time restart.
 */
#include "../ke/ke.h"

#define RTLP_SLIST_ENTRY_SHIFT 4                /* entries are 16-byte aligned */

_Static_assert(sizeof(SLIST_HEADER) == 16, "SLIST_HEADER is 16 bytes on x64");

/* ---- the lookaside lab's stand-ins ----------------------------------------------------- */

/*
 * Slow but correct versions for a student tree (tests/labs/lookaside.md)
 * whose routines below are still stubs, so that it boots; not called in the
 * reference tree. The exchange is one lock for every S-list in the system,
 * held with interrupts off: every write of a header goes through
 * RtlpCompareExchangeSList, so those writes exclude each other, and the
 * readers already cope with a torn read. Push and pop run with interrupts
 * off, so nothing on this processor can come between reading the first
 * entry and reading its link.
 */
static volatile LONG RtlpSListLabLock;

static __attribute__((unused)) BOOLEAN
RtlpCompareExchangeSListLabFallback(PSLIST_HEADER Header, PSLIST_HEADER Expected,
                                    const SLIST_HEADER *New)
{
    volatile SLIST_HEADER *header = Header;
    ULONG64 flags = __readeflags();
    BOOLEAN equal;

    _disable();
    while (__atomic_exchange_n(&RtlpSListLabLock, 1, __ATOMIC_ACQUIRE) != 0)
        YieldProcessor();
    equal = header->Alignment == Expected->Alignment && header->Region == Expected->Region;
    if (equal) {
        header->Alignment = New->Alignment;
        header->Region = New->Region;
    } else {
        Expected->Alignment = header->Alignment;
        Expected->Region = header->Region;
    }
    __atomic_store_n(&RtlpSListLabLock, 0, __ATOMIC_RELEASE);
    if (flags & EFLAGS_IF_MASK)
        _enable();
    return equal;
}

/* lock cmpxchg16b: on success *Header = *New; on failure *Expected = *Header. */
static inline BOOLEAN RtlpCompareExchangeSList(PSLIST_HEADER Header, PSLIST_HEADER Expected,
                                              const SLIST_HEADER *New)
{
    /* LAB lookaside: BEGIN - one lock cmpxchg16b (RDX:RAX expected, RCX:RBX new) */
    BOOLEAN equal;

    __asm__ __volatile__("lock cmpxchg16b %[mem]"
                         : "=@ccz"(equal), [mem] "+m"(*Header), "+a"(Expected->Alignment),
                           "+d"(Expected->Region)
                         : "b"(New->Alignment), "c"(New->Region)
                         : "memory");
    return equal;
    /* LAB lookaside: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(lookaside);
    return RtlpCompareExchangeSListLabFallback(Header, Expected, New);
#endif
    /* LAB lookaside: END */
}

static inline PSLIST_ENTRY RtlpSListFirst(const SLIST_HEADER *Header)
{
    return (PSLIST_ENTRY)((ULONG64)Header->HeaderX64.NextEntry << RTLP_SLIST_ENTRY_SHIFT);
}

static inline SLIST_HEADER RtlpReadSList(volatile SLIST_HEADER *Header)
{
    SLIST_HEADER copy;

    /* Two plain reads may tear; the cmpxchg16b that follows catches it. */
    copy.Alignment = Header->Alignment;
    copy.Region = Header->Region;
    return copy;
}

/* Push ListEntry (not NULL) or pop (NULL); returns the old first entry. */
static __attribute__((unused)) PSLIST_ENTRY RtlpSListLabFallback(PSLIST_HEADER ListHead,
                                                                PSLIST_ENTRY ListEntry)
{
    ULONG64 flags = __readeflags();
    SLIST_HEADER old, new;
    PSLIST_ENTRY first;

    _disable();
    old = RtlpReadSList(ListHead);
    do {
        first = RtlpSListFirst(&old);
        if (ListEntry == NULL && first == NULL)
            break;
        new = old;
        new.HeaderX64.Sequence++;
        if (ListEntry != NULL) {
            ListEntry->Next = first;
            new.HeaderX64.Depth++;
            new.HeaderX64.NextEntry = (ULONG64)ListEntry >> RTLP_SLIST_ENTRY_SHIFT;
        } else {
            new.HeaderX64.Depth--;
            new.HeaderX64.NextEntry = (ULONG64)first->Next >> RTLP_SLIST_ENTRY_SHIFT;
        }
    } while (!RtlpCompareExchangeSList(ListHead, &old, &new));
    if (flags & EFLAGS_IF_MASK)
        _enable();
    return first;
}

PSLIST_ENTRY InterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry)
{
    /* LAB lookaside: BEGIN - link ListEntry in front, Depth and Sequence up; retry */
    SLIST_HEADER old = RtlpReadSList(ListHead), new;

    do {
        ListEntry->Next = RtlpSListFirst(&old);
        new.HeaderX64.Depth = old.HeaderX64.Depth + 1;
        new.HeaderX64.Sequence = old.HeaderX64.Sequence + 1;
        new.HeaderX64.Reserved = 0;
        new.HeaderX64.NextEntry = (ULONG64)ListEntry >> RTLP_SLIST_ENTRY_SHIFT;
    } while (!RtlpCompareExchangeSList(ListHead, &old, &new));
    return RtlpSListFirst(&old);
    /* LAB lookaside: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(lookaside);
    return RtlpSListLabFallback(ListHead, ListEntry);
#endif
    /* LAB lookaside: END */
}

PSLIST_ENTRY InterlockedPopEntrySList(PSLIST_HEADER ListHead)
{
    /* LAB lookaside: BEGIN - unlink the first entry; Sequence up defeats ABA */
    KIRQL irql = KeGetCurrentIrql();
    SLIST_HEADER old, new;
    PSLIST_ENTRY first;

    /* See the top comment: nothing may pop and free the first entry between
     * reading it and reading its link. */
    if (irql < DISPATCH_LEVEL)
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
    old = RtlpReadSList(ListHead);
    do {
        first = RtlpSListFirst(&old);
        if (first == NULL)
            break;
        new.HeaderX64.Depth = old.HeaderX64.Depth - 1;
        new.HeaderX64.Sequence = old.HeaderX64.Sequence + 1;
        new.HeaderX64.Reserved = 0;
        new.HeaderX64.NextEntry = (ULONG64)first->Next >> RTLP_SLIST_ENTRY_SHIFT;
    } while (!RtlpCompareExchangeSList(ListHead, &old, &new));
    if (irql < DISPATCH_LEVEL)
        KeLowerIrql(irql);
    return first;
    /* LAB lookaside: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(lookaside);
    return RtlpSListLabFallback(ListHead, NULL);
#endif
    /* LAB lookaside: END */
}

PSLIST_ENTRY InterlockedFlushSList(PSLIST_HEADER ListHead)
{
    SLIST_HEADER old = RtlpReadSList(ListHead), new;

    do {
        if (RtlpSListFirst(&old) == NULL)
            return NULL;
        new.Alignment = 0;
        new.Region = 0;
        new.HeaderX64.Sequence = old.HeaderX64.Sequence + 1;
    } while (!RtlpCompareExchangeSList(ListHead, &old, &new));
    return RtlpSListFirst(&old);
}

PSLIST_ENTRY ExInterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry,
                                         PKSPIN_LOCK Lock)
{
    UNREFERENCED_PARAMETER(Lock);
    return InterlockedPushEntrySList(ListHead, ListEntry);
}

PSLIST_ENTRY ExInterlockedPopEntrySList(PSLIST_HEADER ListHead, PKSPIN_LOCK Lock)
{
    UNREFERENCED_PARAMETER(Lock);
    return InterlockedPopEntrySList(ListHead);
}

USHORT ExQueryDepthSList(PSLIST_HEADER SListHead)
{
    return (USHORT)((volatile SLIST_HEADER *)SListHead)->HeaderX64.Depth;
}

/*
 * interlocked.c - the ExInterlocked list and counter routines.
 *
 * Each does one list or arithmetic operation under a caller-supplied spin
 * lock, with interrupts disabled on this processor while it holds it. That
 * is what lets NT document them for any IRQL: an ISR can share a list with
 * a thread without the thread raising to the device's IRQL, because no
 * interrupt can arrive on this processor while the lock is held, and other
 * processors just spin. For the same reason the lock may be used only with
 * these routines: KeAcquireSpinLock holds it with interrupts on, and an ISR
 * on that processor would then spin on it for ever.
 *
 * Return values are NT's: the entry that was first (last) before an
 * insert, the entry removed, or NULL for an empty list; the value before
 * an addition.
 */
#include "../ke/ke_internal.h"

static inline ULONG64 ExpAcquireInterlockedLock(PKSPIN_LOCK Lock)
{
    ULONG64 flags = __readeflags();

    _disable();
    while (__atomic_exchange_n(Lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(Lock, __ATOMIC_RELAXED))
            YieldProcessor();
    return flags;
}

static inline void ExpReleaseInterlockedLock(PKSPIN_LOCK Lock, ULONG64 Flags)
{
    __atomic_store_n(Lock, 0, __ATOMIC_RELEASE);
    if (Flags & EFLAGS_IF_MASK)
        _enable();
}

PLIST_ENTRY ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                        PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    PLIST_ENTRY first = ListHead->Flink;

    InsertHeadList(ListHead, ListEntry);
    ExpReleaseInterlockedLock(Lock, flags);
    return first == ListHead ? NULL : first;
}

PLIST_ENTRY ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                        PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    PLIST_ENTRY last = ListHead->Blink;

    InsertTailList(ListHead, ListEntry);
    ExpReleaseInterlockedLock(Lock, flags);
    return last == ListHead ? NULL : last;
}

PLIST_ENTRY ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    PLIST_ENTRY first = NULL;

    if (!IsListEmpty(ListHead))
        first = RemoveHeadList(ListHead);
    ExpReleaseInterlockedLock(Lock, flags);
    return first;
}

PSINGLE_LIST_ENTRY ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                              PSINGLE_LIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    PSINGLE_LIST_ENTRY first = ListHead->Next;

    ListEntry->Next = first;
    ListHead->Next = ListEntry;
    ExpReleaseInterlockedLock(Lock, flags);
    return first;
}

PSINGLE_LIST_ENTRY ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    PSINGLE_LIST_ENTRY first = ListHead->Next;

    if (first != NULL)
        ListHead->Next = first->Next;
    ExpReleaseInterlockedLock(Lock, flags);
    return first;
}

ULONG ExInterlockedAddUlong(PULONG Addend, ULONG Increment, PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    ULONG before = *Addend;

    *Addend = before + Increment;
    ExpReleaseInterlockedLock(Lock, flags);
    return before;
}

LARGE_INTEGER ExInterlockedAddLargeInteger(PLARGE_INTEGER Addend, LARGE_INTEGER Increment,
                                           PKSPIN_LOCK Lock)
{
    ULONG64 flags = ExpAcquireInterlockedLock(Lock);
    LARGE_INTEGER before = *Addend;

    /* Unsigned, so a wrap is defined behaviour, as the 64-bit add in NT. */
    Addend->QuadPart = (LONGLONG)((ULONGLONG)before.QuadPart + (ULONGLONG)Increment.QuadPart);
    ExpReleaseInterlockedLock(Lock, flags);
    return before;
}

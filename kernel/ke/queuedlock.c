/*
 * queuedlock.c - in-stack queued spin locks and SYNCH_LEVEL:
 * KeAcquireInStackQueuedSpinLock(AtDpcLevel),
 * KeReleaseInStackQueuedSpinLock(FromDpcLevel), KeRaiseIrqlToSynchLevel,
 * KeAcquireSpinLockRaiseToSynch.
 *
 * A plain spin lock (spinlock.c) has every waiting processor hammer one
 * word, and whoever happens to win gets the lock. A queued spin lock is an
 * MCS lock: the KSPIN_LOCK word holds the tail of a queue of
 * KSPIN_LOCK_QUEUEs, one per acquirer, each in its caller's
 * KLOCK_QUEUE_HANDLE on the caller's stack. An acquirer swaps itself in as
 * the new tail; if there was one before it, it links itself behind it and
 * spins on its *own* LOCK_QUEUE_WAIT bit. The releaser clears the next
 * one's WAIT bit: the lock passes in arrival order and each waiter spins
 * on a cache line nobody else writes until it is its turn.
 *
 * The low two bits of KSPIN_LOCK_QUEUE.Lock (the lock's address, which is
 * pointer-aligned) carry the queue entry's state, as in NT:
 * LOCK_QUEUE_WAIT while waiting, LOCK_QUEUE_OWNER while holding.
 * Releasing a handle that does not hold its lock is SPIN_LOCK_NOT_OWNED.
 */
#include "ke_internal.h"

#define LOCK_QUEUE_WAIT  1
#define LOCK_QUEUE_OWNER 2
#define LOCK_QUEUE_FLAGS (LOCK_QUEUE_WAIT | LOCK_QUEUE_OWNER)

static inline ULONG_PTR KiQueueBits(PKSPIN_LOCK_QUEUE Queue)
{
    return (ULONG_PTR)__atomic_load_n(&Queue->Lock, __ATOMIC_ACQUIRE);
}

static void KiAcquireQueuedLock(PKSPIN_LOCK SpinLock, PKSPIN_LOCK_QUEUE Queue)
{
    PKSPIN_LOCK_QUEUE previous;

    Queue->Next = NULL;
    Queue->Lock = SpinLock;
    previous = (PKSPIN_LOCK_QUEUE)__atomic_exchange_n(SpinLock, (ULONG_PTR)Queue, __ATOMIC_ACQ_REL);
    if (previous != NULL) {
        /* WAIT must be set before the link makes us visible to the releaser. */
        Queue->Lock = (PKSPIN_LOCK)((ULONG_PTR)SpinLock | LOCK_QUEUE_WAIT);
        __atomic_store_n(&previous->Next, Queue, __ATOMIC_RELEASE);
        while (KiQueueBits(Queue) & LOCK_QUEUE_WAIT)
            YieldProcessor();
    }
    Queue->Lock = (PKSPIN_LOCK)((ULONG_PTR)SpinLock | LOCK_QUEUE_OWNER);
}

static void KiReleaseQueuedLock(PKSPIN_LOCK_QUEUE Queue, PVOID Caller)
{
    ULONG_PTR bits = KiQueueBits(Queue);
    PKSPIN_LOCK lock = (PKSPIN_LOCK)(bits & ~(ULONG_PTR)LOCK_QUEUE_FLAGS);
    PKSPIN_LOCK_QUEUE next;

    if (!(bits & LOCK_QUEUE_OWNER))
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)lock, 0, 0, (ULONG_PTR)Caller);
    Queue->Lock = lock;
    next = __atomic_load_n(&Queue->Next, __ATOMIC_ACQUIRE);
    if (next == NULL) {
        /* Still the tail: the lock becomes free. */
        ULONG_PTR expected = (ULONG_PTR)Queue;
        if (__atomic_compare_exchange_n(lock, &expected, 0, FALSE, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return;
        /* Someone swapped in behind us but has not linked yet: it will. */
        while ((next = __atomic_load_n(&Queue->Next, __ATOMIC_ACQUIRE)) == NULL)
            YieldProcessor();
    }
    __atomic_fetch_and((volatile ULONG_PTR *)&next->Lock, ~(ULONG_PTR)LOCK_QUEUE_WAIT,
                       __ATOMIC_RELEASE);
}

VOID KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock, PKLOCK_QUEUE_HANDLE LockHandle)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeAcquireInStackQueuedSpinLock);
    LockHandle->OldIrql = KfRaiseIrql(DISPATCH_LEVEL);
    KiAcquireQueuedLock(SpinLock, &LockHandle->LockQueue);
}

VOID KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeReleaseInStackQueuedSpinLock);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeReleaseInStackQueuedSpinLock);
    KiReleaseQueuedLock(&LockHandle->LockQueue, __builtin_return_address(0));
    KeLowerIrql(LockHandle->OldIrql);
}

VOID KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                              PKLOCK_QUEUE_HANDLE LockHandle)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeAcquireInStackQueuedSpinLockAtDpcLevel);
    KiAcquireQueuedLock(SpinLock, &LockHandle->LockQueue);
}

VOID KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeReleaseInStackQueuedSpinLockFromDpcLevel);
    KiReleaseQueuedLock(&LockHandle->LockQueue, __builtin_return_address(0));
}

/* ---- SYNCH_LEVEL --------------------------------------------------------------- */

/* KfRaiseIrql refuses a caller above SYNCH_LEVEL (raising to a lower level). */
KIRQL KeRaiseIrqlToSynchLevel(VOID)
{
    return KfRaiseIrql(SYNCH_LEVEL);
}

/* A plain spin lock taken at SYNCH_LEVEL; KeReleaseSpinLock undoes both. */
KIRQL KeAcquireSpinLockRaiseToSynch(PKSPIN_LOCK SpinLock)
{
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(SYNCH_LEVEL, KeAcquireSpinLockRaiseToSynch);
    old = KfRaiseIrql(SYNCH_LEVEL);
    KeAcquireSpinLockAtDpcLevel(SpinLock);
    return old;
}

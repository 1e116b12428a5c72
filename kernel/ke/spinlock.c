/*
 * spinlock.c - executive spin locks.
 *
 * A KSPIN_LOCK is one pointer-sized word: 0 when free, else its owner -
 * the KPRCB of the processor holding it, as NT's checked build keeps an
 * owner there. Acquiring raises to DISPATCH_LEVEL (so the holder cannot be
 * preempted on this processor) and then swaps the owner in with one
 * compare-exchange, so the same code stays correct when other processors
 * arrive. NT's *AtDpcLevel variants skip the raise and require the caller
 * to be at DISPATCH_LEVEL already.
 *
 * The owner turns two silent disasters into NT's bug checks (Learn gives
 * them no parameters; Mica's are the lock, the lock word, 0, the caller):
 *   - acquiring a lock this processor already holds would spin for ever
 *     (nothing can release it): SPIN_LOCK_ALREADY_OWNED (0xF);
 *   - releasing a lock this processor does not hold means two paths think
 *     they own it: SPIN_LOCK_NOT_OWNED (0x10).
 * The check costs nothing on the fast path: the owner is what the
 * compare-exchange writes, and only a failed one looks at it.
 */
#include "ke_internal.h"

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

static __attribute__((noinline)) void KiAcquireSpinLockContended(PKSPIN_LOCK SpinLock,
                                                                  ULONG_PTR Owner, PVOID Caller)
{
    for (;;) {
        ULONG_PTR held = __atomic_load_n(SpinLock, __ATOMIC_RELAXED), expected = 0;

        if (held == Owner)
            KeBugCheckEx(SPIN_LOCK_ALREADY_OWNED, (ULONG_PTR)SpinLock, held, 0, (ULONG_PTR)Caller);
        if (held == 0 && __atomic_compare_exchange_n(SpinLock, &expected, Owner, FALSE,
                                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        /* Wait with plain reads so the line is not bounced between CPUs. */
        __asm__ __volatile__("pause");
    }
}

static inline void KiAcquireSpinLockOwner(PKSPIN_LOCK SpinLock, PVOID Caller)
{
    ULONG_PTR owner = (ULONG_PTR)KeGetCurrentPrcb(), expected = 0;

    if (!__atomic_compare_exchange_n(SpinLock, &expected, owner, FALSE, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        KiAcquireSpinLockContended(SpinLock, owner, Caller);
}

static inline void KiReleaseSpinLockOwner(PKSPIN_LOCK SpinLock, PVOID Caller)
{
    ULONG_PTR held = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);

    if (held != (ULONG_PTR)KeGetCurrentPrcb())
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)SpinLock, held, 0, (ULONG_PTR)Caller);
    /* Only the owner writes a held lock: a plain release store frees it. */
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeAcquireSpinLockAtDpcLevel);
    KiAcquireSpinLockOwner(SpinLock, __builtin_return_address(0));
}

VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    KiReleaseSpinLockOwner(SpinLock, __builtin_return_address(0));
}

VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    KIRQL old = KiGetCurrentIrqlCopy();

    /* NT raises to DISPATCH_LEVEL with KfRaiseIrql: from above it, that is a
     * raise to a lower level, IRQL_NOT_GREATER_OR_EQUAL (0x9). */
    if (old > DISPATCH_LEVEL)
        KiIrqlViolation(IRQL_NOT_GREATER_OR_EQUAL, KeAcquireSpinLock, DISPATCH_LEVEL, old,
                        __builtin_return_address(0));
    /* One CR8 read, and a write only when the level changes: under
     * emulation a CR8 write ends the translated block, the dearest part of
     * an uncontended acquisition. */
    if (old != DISPATCH_LEVEL)
        KiWriteCr8(DISPATCH_LEVEL);
    *OldIrql = old;
    KiAcquireSpinLockOwner(SpinLock, __builtin_return_address(0));
}

VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KiReleaseSpinLockOwner(SpinLock, __builtin_return_address(0));
    KeLowerIrql(NewIrql);
}

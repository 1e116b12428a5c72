/*
 * spinlock.c - executive spin locks.
 *
 * A KSPIN_LOCK is one pointer-sized word: 0 when free. Acquiring raises to
 * DISPATCH_LEVEL (so the holder cannot be preempted on this processor)
 * and then spins on an atomic exchange, so the same code stays correct
 * when other processors arrive. NT's *AtDpcLevel variants skip the raise
 * and require the caller to be at DISPATCH_LEVEL already. Releasing a lock
 * that is not held is a SPIN_LOCK_NOT_OWNED bug check.
 */
#include "ke_internal.h"

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

static inline void KiAcquireLockBit(PKSPIN_LOCK SpinLock)
{
    while (__atomic_exchange_n(SpinLock, 1, __ATOMIC_ACQUIRE)) {
        /* Wait with plain reads so the line is not bounced between CPUs. */
        while (__atomic_load_n(SpinLock, __ATOMIC_RELAXED))
            __asm__ __volatile__("pause");
    }
}

VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeAcquireSpinLockAtDpcLevel);
    KiAcquireLockBit(SpinLock);
}

VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    /* Releasing a lock nobody holds means two paths think they own it. */
    if (__atomic_exchange_n(SpinLock, 0, __ATOMIC_RELEASE) == 0)
        KeBugCheckEx(SPIN_LOCK_NOT_OWNED, (ULONG_PTR)SpinLock, 0, 0,
                     (ULONG_PTR)__builtin_return_address(0));
}

VOID KeAcquireSpinLock(PKSPIN_LOCK SpinLock, PKIRQL OldIrql)
{
    KIRQL old = (KIRQL)__readcr8();

    if (old > DISPATCH_LEVEL)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)SpinLock, old, 0,
                     (ULONG_PTR)__builtin_return_address(0));
    /* One CR8 read, and a write only when the level changes: under
     * emulation a CR8 write ends the translated block, the dearest part of
     * an uncontended acquisition. */
    if (old != DISPATCH_LEVEL)
        KiWriteCr8(DISPATCH_LEVEL);
    *OldIrql = old;
    KiAcquireLockBit(SpinLock);
}

VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KeReleaseSpinLockFromDpcLevel(SpinLock);
    KeLowerIrql(NewIrql);
}

/*
 * apcdisable.c - critical and guarded regions: KeEnterCriticalRegion,
 * KeLeaveCriticalRegion, KeEnterGuardedRegion, KeLeaveGuardedRegion,
 * KeAreApcsDisabled, KeAreAllApcsDisabled.
 *
 * NT delivers asynchronous procedure calls to a thread when it runs below
 * APC_LEVEL, unless the thread has turned them off with a count in its
 * KTHREAD: KernelApcDisable (a critical region: normal kernel APCs off;
 * also taken by every held KMUTEX) and SpecialApcDisable (a guarded
 * region: all kernel APCs off). Each Enter takes one off its count, each
 * Leave puts it back, so regions nest and 0 means enabled. The two 16-bit
 * counts read together are CombinedApcDisable, the value NT's bug checks
 * report.
 *
 * Mica has no APCs yet: the counts are kept exactly as NT keeps them so
 * that code using them is right when APCs arrive, KeAreApcsDisabled and
 * ExAcquireFastMutexUnsafe can ask them, and a thread that ends with
 * either count nonzero is caught (thread.c). Only the thread itself
 * changes its counts, at IRQL <= APC_LEVEL, so they need no lock.
 */
#include "ke_internal.h"

VOID KeEnterCriticalRegion(VOID)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeEnterCriticalRegion);
    KeGetCurrentThread()->KernelApcDisable--;
}

VOID KeLeaveCriticalRegion(VOID)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeLeaveCriticalRegion);
    KeGetCurrentThread()->KernelApcDisable++;
}

VOID KeEnterGuardedRegion(VOID)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeEnterGuardedRegion);
    KeGetCurrentThread()->SpecialApcDisable--;
}

VOID KeLeaveGuardedRegion(VOID)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, KeLeaveGuardedRegion);
    KeGetCurrentThread()->SpecialApcDisable++;
}

/* In a critical or a guarded region. (The IRQL is the caller's to ask.) */
BOOLEAN KeAreApcsDisabled(VOID)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeAreApcsDisabled);
    return KeGetCurrentThread()->CombinedApcDisable != 0;
}

/* Every kernel APC is off: in a guarded region, or at APC_LEVEL or above. */
BOOLEAN KeAreAllApcsDisabled(VOID)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeAreAllApcsDisabled);
    return KeGetCurrentThread()->SpecialApcDisable != 0 || KeGetCurrentIrql() >= APC_LEVEL;
}

/*
 * irql.c - the interrupt request level: the KPRCB's CurrentIrql, and CR8
 * for the levels the hardware must enforce.
 *
 * CR8 is the local APIC's task-priority register seen through a control
 * register: while CR8 = n, interrupts with vector >> 4 <= n are held off.
 * The vectors Mica assigns follow vector = IRQL * 16 + n, and none lies
 * below IRQL 3, so x64 NT's CR8 is needed only above DISPATCH_LEVEL:
 * APC_LEVEL and DISPATCH_LEVEL hold off only Mica's own DPCs and thread
 * switches, which read CurrentIrql (KiWriteCr8 in ke_internal.h says why
 * that matters under QEMU, and how the two stay in step).
 *
 * The rules are NT's: KeRaiseIrql may not lower (IRQL_NOT_GREATER_OR_EQUAL)
 * and KeLowerIrql may not raise (IRQL_NOT_LESS_OR_EQUAL), reported by
 * KiIrqlViolation with the parameters ke_internal.h documents.
 *
 * Lowering below DISPATCH_LEVEL is where queued DPCs run and where a
 * pending reschedule happens: KeInsertQueueDpc and the clock set
 * KPRCB.DispatchRequest, and KeLowerIrql checks that one word (one load
 * through GS) before it drops the level, and once more after (an
 * interrupt can slip in between). That is NT's DISPATCH software
 * interrupt, done on the lowering path.
 *
 * The KPRCB is reached through the GS base (MSR IA32_GS_BASE); gs:[0]
 * holds its own address, so KeGetCurrentPrcb is one instruction.
 */
#include "ke_internal.h"

#define MSR_IA32_GS_BASE 0xC0000101

KPRCB KiProcessorBlock0;
PKPRCB KiProcessorBlock[MAXIMUM_PROCESSORS];

/* A KPRCB's start: its number, its DPC queue, and GS pointing at it. */
VOID KiInitializeProcessorBlock(PKPRCB Prcb, ULONG Number)
{
    Prcb->Self = Prcb;
    Prcb->Number = Number;
    Prcb->CurrentIrql = (KIRQL)__readcr8();
    KeInitializeSpinLock(&Prcb->DpcLock);
    InitializeListHead(&Prcb->DpcListHead);
    __writemsr(MSR_IA32_GS_BASE, (ULONG64)Prcb);
}

VOID KiInitializePrcb(VOID)
{
    KiInitializeProcessorBlock(&KiProcessorBlock0, 0);
    for (ULONG i = 0; i < KI_IST_COUNT; i++)
        KiProcessorBlock0.IstStacks[i] = KiBootIstStacks[i];
    KiProcessorBlock[0] = &KiProcessorBlock0;
}

KIRQL KeGetCurrentIrql(VOID)
{
    return KiGetCurrentIrqlCopy();
}

VOID KiIrqlViolation(ULONG BugCheckCode, PVOID Routine, KIRQL Irql, KIRQL Limit, PVOID Caller)
{
    KeBugCheckEx(BugCheckCode, (ULONG_PTR)Routine, Irql, Limit, (ULONG_PTR)Caller);
}

static inline KIRQL KiRaiseIrql(KIRQL NewIrql, PVOID Routine, PVOID Caller)
{
    KIRQL old = KiGetCurrentIrqlCopy();

    if (NewIrql < old)
        KiIrqlViolation(IRQL_NOT_GREATER_OR_EQUAL, Routine, NewIrql, old, Caller);
    if (NewIrql > HIGH_LEVEL)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, Routine, NewIrql, HIGH_LEVEL, Caller);
    KiWriteCr8(NewIrql);
    return old;
}

KIRQL KfRaiseIrql(KIRQL NewIrql)
{
    return KiRaiseIrql(NewIrql, KfRaiseIrql, __builtin_return_address(0));
}

/* A function here (the WDK has a macro over KfRaiseIrql), so the report names it. */
VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    *OldIrql = KiRaiseIrql(NewIrql, KeRaiseIrql, __builtin_return_address(0));
}

KIRQL KeRaiseIrqlToDpcLevel(VOID)
{
    return KiRaiseIrql(DISPATCH_LEVEL, KeRaiseIrqlToDpcLevel, __builtin_return_address(0));
}

VOID KeLowerIrql(KIRQL NewIrql)
{
    KIRQL old = KiGetCurrentIrqlCopy();

    if (NewIrql > old)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, KeLowerIrql, NewIrql, old,
                        __builtin_return_address(0));
    if (NewIrql == old)
        return;                         /* nothing changes: spare the CR8 write */
    if (NewIrql >= DISPATCH_LEVEL || old < DISPATCH_LEVEL) {
        KiWriteCr8(NewIrql);
        return;
    }
    /*
     * Crossing below DISPATCH_LEVEL. An interrupt may come in between any
     * look at DispatchRequest and the CR8 write; it then queues its DPC and
     * returns to the level it interrupted, DISPATCH_LEVEL or above, where
     * the DPC may not run. So look again after the write: once CR8 is
     * below DISPATCH_LEVEL, every later interrupt drains the queue itself
     * on its way out, and this second look catches the one that slipped in
     * before. (NT closes the same window with a DISPATCH_LEVEL software
     * interrupt that the APIC holds until the TPR drops; the check here
     * costs one load instead of an interrupt per DPC.)
     */
    for (;;) {
        if (KeGetCurrentPrcb()->DispatchRequest) {
            KiWriteCr8(DISPATCH_LEVEL);
            KiDispatchInterrupt();
        }
        KiWriteCr8(NewIrql);
        if (!KeGetCurrentPrcb()->DispatchRequest)
            return;
    }
}

ULONG KeGetCurrentProcessorNumber(VOID)
{
    return KeGetCurrentPrcb()->Number;
}

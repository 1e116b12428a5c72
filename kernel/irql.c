/*
 * irql.c - the interrupt request level, kept where x64 NT keeps it: CR8.
 *
 * CR8 is the local APIC's task-priority register seen through a control
 * register: while CR8 = n, interrupts with vector >> 4 <= n are held off.
 * So raising the IRQL is one register write and needs no interrupt
 * masking; the vectors Mica assigns follow vector = IRQL * 16 + n.
 *
 * The rules are NT's: KeRaiseIrql may not lower (IRQL_NOT_GREATER_OR_EQUAL)
 * and KeLowerIrql may not raise (IRQL_NOT_LESS_OR_EQUAL). Delivering DPCs
 * when the level drops below DISPATCH_LEVEL belongs to the DPC code.
 */
#include "ke_internal.h"

static inline void KiWriteCr8(ULONG64 Value)
{
    __asm__ __volatile__("mov %0, %%cr8" : : "r"(Value) : "memory");
}

KIRQL KeGetCurrentIrql(VOID)
{
    return (KIRQL)__readcr8();
}

KIRQL KfRaiseIrql(KIRQL NewIrql)
{
    KIRQL old = (KIRQL)__readcr8();

    if (NewIrql < old || NewIrql > HIGH_LEVEL)
        KeBugCheckEx(IRQL_NOT_GREATER_OR_EQUAL, old, NewIrql, 0, 1);
    KiWriteCr8(NewIrql);
    return old;
}

VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    *OldIrql = KfRaiseIrql(NewIrql);
}

KIRQL KeRaiseIrqlToDpcLevel(VOID)
{
    return KfRaiseIrql(DISPATCH_LEVEL);
}

VOID KeLowerIrql(KIRQL NewIrql)
{
    KIRQL old = (KIRQL)__readcr8();

    if (NewIrql > old)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, old, NewIrql, 0);
    KiWriteCr8(NewIrql);
}

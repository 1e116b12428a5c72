/*
 * idt.c - the interrupt descriptor table.
 *
 * All 256 vectors point at the stubs in trapstub.asm; KiDispatchTrap sorts
 * them out. Vectors 0-31 are the CPU's exceptions; #DF, NMI and #MC run on
 * IST stacks of their own (gdt.c). Device and software-interrupt vectors
 * (IRQL * 16 + n) are dispatched by the interrupt code once it connects them.
 */
#include "ke_internal.h"

typedef struct __attribute__((packed)) _KIDTENTRY64 {
    USHORT OffsetLow;
    USHORT Selector;
    USHORT IstIndex : 3;
    USHORT Reserved0 : 5;
    USHORT Type : 5;            /* 0x0E = 64-bit interrupt gate (IF cleared) */
    USHORT Dpl : 2;
    USHORT Present : 1;
    USHORT OffsetMiddle;
    ULONG OffsetHigh;
    ULONG Reserved1;
} KIDTENTRY64;

#define IDT_TYPE_INTERRUPT_GATE 0x0E
#define VECTOR_NMI 2
#define VECTOR_DOUBLE_FAULT 8
#define VECTOR_MACHINE_CHECK 18

extern const ULONG64 KiTrapStubs[256];
static KIDTENTRY64 KiIdt[256] __attribute__((aligned(16)));

/* Every processor shares the one IDT: the handlers look at their own KPRCB. */
VOID KiLoadIdt(VOID)
{
    struct __attribute__((packed)) {
        USHORT Limit;
        ULONG64 Base;
    } idtr = {sizeof(KiIdt) - 1, (ULONG64)KiIdt};

    __asm__ __volatile__("lidt %0" : : "m"(idtr));
}

VOID KiInitializeIdt(VOID)
{
    for (ULONG v = 0; v < 256; v++) {
        ULONG64 handler = KiTrapStubs[v];
        KIDTENTRY64 *e = &KiIdt[v];
        e->OffsetLow = (USHORT)handler;
        e->OffsetMiddle = (USHORT)(handler >> 16);
        e->OffsetHigh = (ULONG)(handler >> 32);
        e->Selector = KGDT64_R0_CODE;
        e->Type = IDT_TYPE_INTERRUPT_GATE;
        e->Present = 1;
        e->Dpl = 0;
        e->IstIndex = v == VECTOR_DOUBLE_FAULT ? KI_IST_DOUBLE_FAULT
                    : v == VECTOR_NMI ? KI_IST_NMI
                    : v == VECTOR_MACHINE_CHECK ? KI_IST_MACHINE_CHECK : 0;
    }
    KiLoadIdt();
}

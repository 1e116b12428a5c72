/*
 * gdt.c - the 64-bit GDT and the TSS with its interrupt stack table.
 *
 * Long mode ignores segment bases and limits, but the CPU still needs a code
 * segment, a data segment and a TSS. The TSS matters for one reason here:
 * its IST slots give #DF, NMI and #MC a stack of their own, so a kernel
 * stack overflow (which faults because the stack itself is unusable) is
 * still reported instead of escalating into a triple fault and a reset.
 * Selectors are NT's (KGDT64_R0_CODE = 0x10 ...), as WinDbg shows them.
 */
#include "ke_internal.h"

typedef struct __attribute__((packed)) _KTSS64 {
    ULONG Reserved0;
    ULONG64 Rsp0, Rsp1, Rsp2;
    ULONG64 Ist[8];             /* Ist[0] is the reserved qword at 0x1C: IST1 is at 0x24 */
    ULONG64 Reserved2;
    USHORT Reserved3;
    USHORT IoMapBase;
} KTSS64;

_Static_assert(sizeof(KTSS64) == 0x68, "the 64-bit TSS is 104 bytes (SDM vol. 3A, 8.7)");
_Static_assert(__builtin_offsetof(KTSS64, Ist[1]) == 0x24, "IST1 lives at offset 0x24");

/* Segment descriptor bits (SDM vol. 3A, 3.4.5). */
#define SEG_ACCESSED    (1ULL << 40)
#define SEG_WRITABLE    (1ULL << 41)   /* data: writable; code: readable */
#define SEG_CODE        (1ULL << 43)
#define SEG_S           (1ULL << 44)   /* code/data, not system */
#define SEG_DPL3        (3ULL << 45)
#define SEG_PRESENT     (1ULL << 47)
#define SEG_LONG        (1ULL << 53)
#define SEG_DB          (1ULL << 54)
#define SEG_GRANULARITY (1ULL << 55)
#define SEG_LIMIT_MAX   (0xFFFFULL | (0xFULL << 48))
#define SEG_TYPE_TSS64_AVAILABLE (0x9ULL << 40)

#define KGDT_ENTRIES 10          /* 0x00..0x48: the TSS takes two slots */

static ULONG64 KiGdt[KGDT_ENTRIES] __attribute__((aligned(16)));
static KTSS64 KiTss __attribute__((aligned(16)));
static UCHAR KiDoubleFaultStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));
static UCHAR KiNmiStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));
static UCHAR KiMachineCheckStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));

struct __attribute__((packed)) KI_DESCRIPTOR_POINTER {
    USHORT Limit;
    ULONG64 Base;
};

VOID KiInitializeGdt(VOID)
{
    ULONG64 tss = (ULONG64)&KiTss, limit = sizeof(KiTss) - 1;
    struct KI_DESCRIPTOR_POINTER gdtr = {sizeof(KiGdt) - 1, (ULONG64)KiGdt};

    KiGdt[KGDT64_R0_CODE / 8] = SEG_PRESENT | SEG_S | SEG_CODE | SEG_WRITABLE | SEG_LONG |
                                SEG_ACCESSED | SEG_GRANULARITY | SEG_LIMIT_MAX;
    KiGdt[KGDT64_R0_DATA / 8] = SEG_PRESENT | SEG_S | SEG_WRITABLE | SEG_DB | SEG_ACCESSED |
                                SEG_GRANULARITY | SEG_LIMIT_MAX;
    KiGdt[KGDT64_R3_CMCODE / 8] = SEG_PRESENT | SEG_S | SEG_CODE | SEG_WRITABLE | SEG_DPL3 |
                                  SEG_DB | SEG_GRANULARITY | SEG_LIMIT_MAX;
    KiGdt[KGDT64_R3_DATA / 8] = SEG_PRESENT | SEG_S | SEG_WRITABLE | SEG_DPL3 | SEG_DB |
                                SEG_GRANULARITY | SEG_LIMIT_MAX;
    KiGdt[KGDT64_R3_CODE / 8] = SEG_PRESENT | SEG_S | SEG_CODE | SEG_WRITABLE | SEG_DPL3 |
                                SEG_LONG | SEG_GRANULARITY | SEG_LIMIT_MAX;
    /* A 64-bit TSS descriptor is 16 bytes: base bits 32..63 in the second slot. */
    KiGdt[KGDT64_SYS_TSS / 8] = SEG_PRESENT | SEG_TYPE_TSS64_AVAILABLE | (limit & 0xFFFF) |
                                ((tss & 0xFFFFFF) << 16) | ((tss >> 24 & 0xFF) << 56);
    KiGdt[KGDT64_SYS_TSS / 8 + 1] = tss >> 32;

    KiTss.Ist[KI_IST_DOUBLE_FAULT] = (ULONG64)(KiDoubleFaultStack + sizeof(KiDoubleFaultStack));
    KiTss.Ist[KI_IST_NMI] = (ULONG64)(KiNmiStack + sizeof(KiNmiStack));
    KiTss.Ist[KI_IST_MACHINE_CHECK] = (ULONG64)(KiMachineCheckStack + sizeof(KiMachineCheckStack));
    KiTss.Rsp0 = (ULONG64)KiBootStackTop;
    KiTss.IoMapBase = sizeof(KiTss);    /* no I/O permission bitmap */

    __asm__ __volatile__(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"                       /* reload CS with KGDT64_R0_CODE */
        "1:\n\t"
        "movw %w2, %%ds\n\t"
        "movw %w2, %%es\n\t"
        "movw %w2, %%ss\n\t"
        "xorl %%eax, %%eax\n\t"
        "movw %%ax, %%fs\n\t"
        "movw %%ax, %%gs\n\t"
        "ltr %w3\n\t"
        :
        : "m"(gdtr), "i"(KGDT64_R0_CODE), "r"(KGDT64_R0_DATA), "r"(KGDT64_SYS_TSS)
        : "rax", "memory");
}

PCSTR KiDescribeStack(ULONG64 Rsp)
{
    if (Rsp > (ULONG64)KiDoubleFaultStack && Rsp <= (ULONG64)KiDoubleFaultStack + KI_IST_STACK_SIZE)
        return "double-fault IST stack";
    if (Rsp > (ULONG64)KiNmiStack && Rsp <= (ULONG64)KiNmiStack + KI_IST_STACK_SIZE)
        return "NMI IST stack";
    if (Rsp > (ULONG64)KiMachineCheckStack && Rsp <= (ULONG64)KiMachineCheckStack + KI_IST_STACK_SIZE)
        return "machine-check IST stack";
    if (Rsp > (ULONG64)KiBootStack && Rsp <= (ULONG64)KiBootStackTop)
        return "boot stack";
    return "unknown stack";
}

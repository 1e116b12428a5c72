/*
 * gdt.c - the 64-bit GDT and the TSS with its interrupt stack table.
 *
 * Long mode ignores segment bases and limits, but the CPU still needs a code
 * segment, a data segment and a TSS. The TSS matters for one reason here:
 * its IST slots give #DF, NMI and #MC a stack of their own, so a kernel
 * stack overflow (which faults because the stack itself is unusable) is
 * still reported instead of escalating into a triple fault and a reset.
 * Selectors are NT's (KGDT64_R0_CODE = 0x10 ...), as WinDbg shows them.
 * Every processor loads its own copy (KiInitializeProcessorTables).
 */
#include "ke_internal.h"

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

/*
 * Each processor has its own GDT and TSS (a TSS is busy while loaded, and
 * its IST stacks must not be shared: two processors taking an NMI at once
 * would write the same stack). The boot processor's live in the image, so
 * phase 0 can report faults before any allocator exists; mp.c allocates
 * the others' (KI_PROCESSOR_TABLES, in ke_internal.h) from nonpaged pool.
 */
static KI_PROCESSOR_TABLES KiBootProcessorTables __attribute__((aligned(16)));
static UCHAR KiDoubleFaultStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));
static UCHAR KiNmiStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));
static UCHAR KiMachineCheckStack[KI_IST_STACK_SIZE] __attribute__((aligned(16)));

struct __attribute__((packed)) KI_DESCRIPTOR_POINTER {
    USHORT Limit;
    ULONG64 Base;
};

/*
 * Fill Tables (GDT entries, TSS with IST stacks, Rsp0) and load them on
 * this processor: lgdt, reload CS and the data segments, ltr. GS is
 * loaded with the null selector here, which zeroes its base: the caller
 * writes IA32_GS_BASE afterwards.
 */
VOID KiInitializeProcessorTables(PKI_PROCESSOR_TABLES Tables, PUCHAR IstStacks[KI_IST_COUNT],
                                 ULONG64 Rsp0)
{
    ULONG64 *gdt = Tables->Gdt;
    KTSS64 *tssp = &Tables->Tss;
    ULONG64 tss = (ULONG64)tssp, limit = sizeof(*tssp) - 1;
    struct KI_DESCRIPTOR_POINTER gdtr = {sizeof(Tables->Gdt) - 1, (ULONG64)gdt};

    gdt[KGDT64_R0_CODE / 8] = SEG_PRESENT | SEG_S | SEG_CODE | SEG_WRITABLE | SEG_LONG |
                              SEG_ACCESSED | SEG_GRANULARITY | SEG_LIMIT_MAX;
    gdt[KGDT64_R0_DATA / 8] = SEG_PRESENT | SEG_S | SEG_WRITABLE | SEG_DB | SEG_ACCESSED |
                              SEG_GRANULARITY | SEG_LIMIT_MAX;
    gdt[KGDT64_R3_CMCODE / 8] = SEG_PRESENT | SEG_S | SEG_CODE | SEG_WRITABLE | SEG_DPL3 |
                                SEG_DB | SEG_GRANULARITY | SEG_LIMIT_MAX;
    gdt[KGDT64_R3_DATA / 8] = SEG_PRESENT | SEG_S | SEG_WRITABLE | SEG_DPL3 | SEG_DB |
                              SEG_GRANULARITY | SEG_LIMIT_MAX;
    gdt[KGDT64_R3_CODE / 8] = SEG_PRESENT | SEG_S | SEG_CODE | SEG_WRITABLE | SEG_DPL3 |
                              SEG_LONG | SEG_GRANULARITY | SEG_LIMIT_MAX;
    /* A 64-bit TSS descriptor is 16 bytes: base bits 32..63 in the second slot. */
    gdt[KGDT64_SYS_TSS / 8] = SEG_PRESENT | SEG_TYPE_TSS64_AVAILABLE | (limit & 0xFFFF) |
                              ((tss & 0xFFFFFF) << 16) | ((tss >> 24 & 0xFF) << 56);
    gdt[KGDT64_SYS_TSS / 8 + 1] = tss >> 32;

    /* Ist[n] is the top of IST stack n (1-based, as TSS.IST1..). */
    for (ULONG i = 1; i < KI_IST_COUNT; i++)
        tssp->Ist[i] = (ULONG64)(IstStacks[i] + KI_IST_STACK_SIZE);
    tssp->Rsp0 = Rsp0;
    tssp->IoMapBase = sizeof(*tssp);    /* no I/O permission bitmap */

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

/* The boot processor's, before its KPRCB exists (KiInitializePrcb records them). */
PUCHAR KiBootIstStacks[KI_IST_COUNT] = {
    [KI_IST_DOUBLE_FAULT] = KiDoubleFaultStack,
    [KI_IST_NMI] = KiNmiStack,
    [KI_IST_MACHINE_CHECK] = KiMachineCheckStack,
};

VOID KiInitializeGdt(VOID)
{
    KiInitializeProcessorTables(&KiBootProcessorTables, KiBootIstStacks, (ULONG64)KiBootStackTop);
}

PCSTR KiDescribeStack(ULONG64 Rsp)
{
    static const PCSTR names[KI_IST_COUNT] = {
        [KI_IST_DOUBLE_FAULT] = "double-fault IST stack",
        [KI_IST_NMI] = "NMI IST stack",
        [KI_IST_MACHINE_CHECK] = "machine-check IST stack",
    };
    PKPRCB prcb = KeGetCurrentPrcb();

    for (ULONG i = 1; i < KI_IST_COUNT; i++) {
        ULONG64 base = (ULONG64)prcb->IstStacks[i];
        if (base != 0 && Rsp > base && Rsp <= base + KI_IST_STACK_SIZE)
            return names[i];
    }
    if (Rsp > (ULONG64)KiBootStack && Rsp <= (ULONG64)KiBootStackTop)
        return "boot stack";
    return "unknown stack";
}

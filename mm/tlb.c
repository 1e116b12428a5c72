/*
 * tlb.c - the one place that invalidates translations.
 *
 * Whenever a valid PTE is changed or cleared, the processor may still hold
 * the old translation. invlpg drops one; reloading CR3 drops all non-global
 * ones, and toggling CR4.PGE drops global ones too. With more processors
 * these become shootdowns (an IPI to every CPU); callers already come
 * through here, so nothing else will have to change.
 */
#include "mm_internal.h"

#define CR4_PGE (1ULL << 7)

VOID MiFlushTbEntry(PVOID Va)
{
    __asm__ __volatile__("invlpg (%0)" : : "r"(Va) : "memory");
}

VOID MiFlushEntireTb(BOOLEAN Global)
{
    ULONG64 cr3, cr4;

    if (Global) {
        __asm__ __volatile__("mov %%cr4, %0" : "=r"(cr4));
        __asm__ __volatile__("mov %0, %%cr4" : : "r"(cr4 & ~CR4_PGE) : "memory");
        __asm__ __volatile__("mov %0, %%cr4" : : "r"(cr4) : "memory");
    } else {
        __asm__ __volatile__("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3) : : "memory");
    }
}

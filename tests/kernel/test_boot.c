/*
 * test_boot.c - what phase 0 learned about the machine is sane.
 *
 * The loader block must describe real RAM (sorted, non-overlapping
 * ranges, the kernel image inside usable memory), the command line must
 * reach KeQueryBootOption, the TSC must have been calibrated, and the
 * kernel's own symbol table must name its functions.
 */
#include "../../kernel/ke_internal.h"
#include "../ktest.h"

extern char KiBootImageStart[];

KTEST(boot, memory_map_sorted_and_disjoint)
{
    const LOADER_PARAMETER_BLOCK *b = KeLoaderBlock;

    KASSERT_TRUE(b->RangeCount > 0);
    for (ULONG i = 1; i < b->RangeCount; i++) {
        KEXPECT_ULE(b->Ranges[i - 1].Base, b->Ranges[i].Base);
        if (b->Ranges[i - 1].Type == LoaderFree && b->Ranges[i].Type == LoaderFree)
            KEXPECT_ULE(b->Ranges[i - 1].Base + b->Ranges[i - 1].Length, b->Ranges[i].Base);
    }
}

KTEST(boot, kernel_image_in_usable_ram)
{
    ULONG64 start = (ULONG64)KiBootImageStart;
    ULONG64 end = (ULONG64)KiImageEnd - 0xFFFFFFFF80000000ULL;
    BOOLEAN inside = FALSE;

    for (ULONG i = 0; i < KeLoaderBlock->RangeCount; i++) {
        const LOADER_MEMORY_RANGE *r = &KeLoaderBlock->Ranges[i];
        if (r->Type == LoaderFree && r->Base <= start && end <= r->Base + r->Length)
            inside = TRUE;
    }
    KEXPECT_TRUE(inside);
}

KTEST(boot, usable_ram_at_least_100mib)
{
    ULONG64 usable = 0;

    for (ULONG i = 0; i < KeLoaderBlock->RangeCount; i++)
        if (KeLoaderBlock->Ranges[i].Type == LoaderFree)
            usable += KeLoaderBlock->Ranges[i].Length;
    /* The smallest configuration is 128 MiB. */
    KEXPECT_GE(usable, 100ULL << 20);
}

KTEST(boot, command_line_reaches_boot_options)
{
    char value[64];

    KEXPECT_TRUE(KeQueryBootOption("test", value, sizeof(value)));
    KEXPECT_TRUE(value[0] != 0);
    KEXPECT_FALSE(KeQueryBootOption("no-such-option", value, sizeof(value)));
}

KTEST(boot, tsc_calibrated)
{
    /* Any x86-64 CPU, emulated or not, ticks between 100 MHz and 10 GHz. */
    KEXPECT_GT(KeTimeStampFrequency, 100000000ULL);
    KEXPECT_LT(KeTimeStampFrequency, 10000000000ULL);
    KEXPECT_GT(KeReadTimeStampCounter(), KiBootTsc);
}

KTEST(boot, symbols_name_functions)
{
    char name[96];

    KASSERT_TRUE(KeSymbolizeAddress((ULONG_PTR)KiSystemStartup, name, sizeof(name)));
    KEXPECT_STREQ(name, "KiSystemStartup+0x0");
    KASSERT_TRUE(KeSymbolizeAddress((ULONG_PTR)KeBugCheckEx + 3, name, sizeof(name)));
    KEXPECT_STREQ(name, "KeBugCheckEx+0x3");
    KEXPECT_FALSE(KeSymbolizeAddress(0x1000, name, sizeof(name)));
}

KTEST(boot, bugcheck_names)
{
    KEXPECT_STREQ(KeBugCheckCodeName(PAGE_FAULT_IN_NONPAGED_AREA), "PAGE_FAULT_IN_NONPAGED_AREA");
    KEXPECT_STREQ(KeBugCheckCodeName(0x12345678), "UNKNOWN_BUGCHECK_CODE");
}

KTEST(boot, interrupt_stacks_distinct)
{
    ULONG64 rsp;

    __asm__ __volatile__("mov %%rsp, %0" : "=r"(rsp));
    KEXPECT_STREQ(KiDescribeStack(rsp), "boot stack");
}

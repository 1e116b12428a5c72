/*
 * test_boot.c - what phase 0 learned about the machine is sane.
 *
 * The loader block must describe real RAM (sorted, non-overlapping
 * ranges, the kernel image inside usable memory), the command line must
 * reach KeQueryBootOption, the TSC must have been calibrated, the
 * processors that run must be the ones the MADT and the boot options
 * allow, and the kernel's own symbol table must name its functions.
 */
#include "../../kernel/hal/acpi.h"
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm.h"
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
    KEXPECT_STREQ(KiBugCheckCodeName(PAGE_FAULT_IN_NONPAGED_AREA), "PAGE_FAULT_IN_NONPAGED_AREA");
    KEXPECT_STREQ(KiBugCheckCodeName(0x12345678), "UNKNOWN_BUGCHECK_CODE");
}

KTEST(boot, interrupt_stacks_distinct)
{
    ULONG64 rsp;

    __asm__ __volatile__("mov %%rsp, %0" : "=r"(rsp));
    KEXPECT_STREQ(KiDescribeStack(rsp), "boot stack");
}

/*
 * The early page tables (boot/entry.asm) map the first 2 MiB with 4 KiB
 * pages: that range mixes memory types (RAM, the VGA hole at 0xA0000, the
 * BIOS ROM), and the SDM leaves a large page over several MTRR types
 * undefined. The VGA hole is also marked uncached in the PTEs themselves.
 * The tables are still in memory after Mm replaced them; read them back.
 */
extern char KiBootPageDirectory[];

#define KTB_PTE_PRESENT 0x001ULL
#define KTB_PTE_PWT     0x008ULL
#define KTB_PTE_PCD     0x010ULL
#define KTB_PTE_PS      0x080ULL
#define KTB_FRAME_MASK  0x000FFFFFFFFFF000ULL

KTEST(boot, early_tables_map_first_2mib_with_4k_pages)
{
    PHYSICAL_ADDRESS pa = {.QuadPart = (LONGLONG)(ULONG_PTR)KiBootPageDirectory};
    PULONG64 pd = MmMapIoSpace(pa, PAGE_SIZE, MmCached), pt;
    ULONG wrong = 0;

    KASSERT_TRUE(pd != NULL);
    KEXPECT_TRUE(pd[0] & KTB_PTE_PRESENT);
    KEXPECT_FALSE(pd[0] & KTB_PTE_PS);
    KEXPECT_TRUE(pd[1] & KTB_PTE_PS);          /* the rest stays 2 MiB pages */
    if ((pd[0] & KTB_PTE_PS) == 0) {
        pa.QuadPart = (LONGLONG)(pd[0] & KTB_FRAME_MASK);
        pt = MmMapIoSpace(pa, PAGE_SIZE, MmCached);
        KASSERT_TRUE(pt != NULL);
        for (ULONG i = 0; i < 512; i++) {
            ULONG64 pa4k = (ULONG64)i << PAGE_SHIFT;
            BOOLEAN vga = pa4k >= 0xA0000 && pa4k < 0xC0000;
            wrong += (pt[i] & KTB_FRAME_MASK) != pa4k || !(pt[i] & KTB_PTE_PRESENT) ||
                     !!(pt[i] & KTB_PTE_PCD) != vga || !!(pt[i] & KTB_PTE_PWT) != vga;
        }
        KEXPECT_EQ(wrong, 0);
        MmUnmapIoSpace(pt, PAGE_SIZE);
    }
    MmUnmapIoSpace(pd, PAGE_SIZE);
}

/*
 * onecpu (NT's /ONECPU) starts only the boot processor; numproc=N (NT's
 * /NUMPROC=N) at most N. Never more than the MADT lists as enabled. The
 * runner boots bios-1g-smp4 (four processors in the MADT) with onecpu.
 */
KTEST(boot, processor_count_follows_madt_and_options)
{
    char value[16];
    ULONG64 numproc;
    ULONG enabled = 0, count = KeQueryActiveProcessorCount(NULL);

    for (ULONG i = 0; i < HalpAcpiInfo.ProcessorCount; i++)
        enabled += HalpAcpiInfo.Processors[i].Enabled;
    KtestPrint("#   %u processors running, %u enabled in the MADT\n", count, enabled);
    KEXPECT_GE(count, 1);
    KEXPECT_LE(count, enabled > 0 ? enabled : 1);
    KEXPECT_EQ(count, (ULONG)KeNumberProcessors);
    if (KeQueryBootOption("onecpu", value, sizeof(value))) {
        KEXPECT_EQ(count, 1);
        KEXPECT_EQ(KeQueryActiveProcessors(), AFFINITY_MASK(0));
    }
    if (KeQueryBootOptionNumber("numproc", &numproc) && numproc >= 1)
        KEXPECT_LE(count, numproc);
}

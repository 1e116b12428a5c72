/*
 * test_pagesec_bugcheck.c - the stops of pageable image sections
 * (mm/pagesec.c), each in a boot of its own with a page file
 * (tests/runner.py: bios-128m-pf): unlocking a section that is not locked,
 * locking where no pageable section is, and paged-out pageable code called
 * at DISPATCH_LEVEL - the kernel's (0xA) and a driver's (0xD1).
 */
#include "test_pagesec.h"
#include "../ktest.h"

#define KTPSB_ACCESS_EXECUTE 8          /* 0xA / 0xD1 parameter 3: an instruction fetch */

static MM_PAGEABLE_CODE ULONG64 KtpsbPagedRoutine(ULONG64 Value)
{
    return Value * 3 + 1;
}

static ULONG64 (*volatile KtpsbCallKernel)(ULONG64) = KtpsbPagedRoutine;
static ULONG64 (*volatile KtpsbCallDriver)(ULONG64) = PagetouchPagedMix;

/* MEMORY_MANAGEMENT (0x1010, handle, 0, 0): unlocked once more than locked. */
KTEST_BUGCHECK(pagesec_bugcheck, unlocking_an_unlocked_section, MEMORY_MANAGEMENT)
{
    PVOID handle = MmLockPagableCodeSection(KtpsbPagedRoutine);

    MmUnlockPagableImageSection(handle);
    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x1010, (ULONG64)handle, 0, 0);
    MmUnlockPagableImageSection(handle);
}

/* MEMORY_MANAGEMENT (0x1234, address, 0, 0): no pageable section there. */
KTEST_BUGCHECK(pagesec_bugcheck, locking_where_no_pageable_section_is, MEMORY_MANAGEMENT)
{
    PVOID address = (PVOID)KtpsTrimAll;     /* nonpaged .text */

    KtestExpectBugCheck(MEMORY_MANAGEMENT, 0x1234, (ULONG64)address, 0, 0);
    (void)MmLockPagableCodeSection(address);
}

/* The kernel's pageable code, paged out, called at DISPATCH_LEVEL:
 * IRQL_NOT_LESS_OR_EQUAL (address, IRQL, 8 = execute, RIP = the routine). */
KTEST_BUGCHECK(pagesec_bugcheck, paged_out_kernel_code_at_dispatch_level, IRQL_NOT_LESS_OR_EQUAL)
{
    KIRQL irql;

    KASSERT_TRUE(MiPagingEnabled);
    KtpsTrimAll();
    KASSERT_TRUE(KtpsRepurposeFrameOf(KtpsbPagedRoutine));
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)KtpsbPagedRoutine, DISPATCH_LEVEL,
                        KTPSB_ACCESS_EXECUTE, (ULONG64)KtpsbPagedRoutine);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    (void)KtpsbCallKernel(1);
    KeLowerIrql(irql);
}

/* The same for a driver's PAGE routine (tests/drivers/pagetouch.c):
 * DRIVER_IRQL_NOT_LESS_OR_EQUAL, same parameters. */
KTEST_BUGCHECK(pagesec_bugcheck, paged_out_driver_code_at_dispatch_level, DRIVER_IRQL_NOT_LESS_OR_EQUAL)
{
    KIRQL irql;

    KASSERT_TRUE(MiPagingEnabled);
    KtpsTrimAll();
    KASSERT_TRUE(KtpsRepurposeFrameOf(PagetouchPagedMix));
    KtestExpectBugCheck(DRIVER_IRQL_NOT_LESS_OR_EQUAL, (ULONG64)PagetouchPagedMix, DISPATCH_LEVEL,
                        KTPSB_ACCESS_EXECUTE, (ULONG64)PagetouchPagedMix);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    (void)KtpsbCallDriver(1);
    KeLowerIrql(irql);
}

/*
 * test_mdl_seh.c - what raises and who catches it: Mica's __try/__except
 * stand-in (kernel/ke/except.c) under MmProbeAndLockPages, ProbeForRead and
 * ProbeForWrite; and paged pool locked by an MDL.
 */
#include "../../kernel/io/io.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"

#define TAG 'hsdM'

KTEST(mdl_seh, raise_is_caught_with_its_code)
{
    volatile NTSTATUS code = 0;
    volatile int after = 0;

    __try {
        ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES);
        after = 1;                      /* never reached */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        code = GetExceptionCode();
    }
    KEXPECT_EQ(code, STATUS_INSUFFICIENT_RESOURCES);
    KEXPECT_EQ(after, 0);
    KEXPECT_FALSE(KiExceptionHandlerActive());  /* the frame is gone */
}

KTEST(mdl_seh, no_raise_runs_no_handler)
{
    volatile int body = 0, handler = 0;

    __try {
        body = 1;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        handler = 1;
    }
    KEXPECT_EQ(body, 1);
    KEXPECT_EQ(handler, 0);
    KEXPECT_FALSE(KiExceptionHandlerActive());
    /* __leave and break leave the frame too. */
    __try {
        __leave;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        handler = 1;
    }
    KEXPECT_FALSE(KiExceptionHandlerActive());
    KEXPECT_EQ(handler, 0);
}

KTEST(mdl_seh, continue_search_reaches_outer_frame)
{
    volatile int inner = 0;
    volatile NTSTATUS outer = 0;

    __try {
        __try {
            ExRaiseStatus(STATUS_ACCESS_VIOLATION);
        } __except (GetExceptionCode() == STATUS_INVALID_PARAMETER ? EXCEPTION_EXECUTE_HANDLER
                                                                    : EXCEPTION_CONTINUE_SEARCH) {
            inner = 1;
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer = GetExceptionCode();
    }
    KEXPECT_EQ(inner, 0);
    KEXPECT_EQ(outer, STATUS_ACCESS_VIOLATION);
    KEXPECT_FALSE(KiExceptionHandlerActive());
}

KTEST(mdl_seh, continue_execution_is_noncontinuable)
{
    volatile NTSTATUS outer = 0;

    __try {
        __try {
            ExRaiseStatus(STATUS_ACCESS_VIOLATION);
        } __except (EXCEPTION_CONTINUE_EXECUTION) {
        }
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        outer = GetExceptionCode();
    }
    KEXPECT_EQ(outer, STATUS_NONCONTINUABLE_EXCEPTION);
}

/* A buffer whose last page is not mapped: the probe raises, nothing stays locked. */
KTEST(mdl_seh, probe_into_unmapped_memory_raises)
{
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KiTextStart);
    PUCHAR va = MmMapIoSpace(pa, 2 * PAGE_SIZE, MmCached);
    PMDL mdl;
    PMMPFN pfn;
    USHORT refs;
    volatile NTSTATUS status = STATUS_SUCCESS;

    KASSERT_NE(va, NULL);
    /* Keep the first page mapped, drop the second: the buffer crosses into a hole. */
    MiUnmapSystemPage(va + PAGE_SIZE);
    pfn = MI_PFN_ELEMENT(pa.QuadPart >> PAGE_SHIFT);
    refs = pfn->ReferenceCount;
    mdl = IoAllocateMdl(va + 0x800, PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    __try {
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    KEXPECT_EQ(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
    KEXPECT_EQ(pfn->ReferenceCount, refs);       /* the first page was unlocked again */
    IoFreeMdl(mdl);
    MiMapSystemPage(va + PAGE_SIZE, (pa.QuadPart >> PAGE_SHIFT) + 1, MM_PTE_GLOBAL);
    MmUnmapIoSpace(va, 2 * PAGE_SIZE);
}

KTEST(mdl_seh, probe_write_of_read_only_raises)
{
    PHYSICAL_ADDRESS pa = MmGetPhysicalAddress(KiRodataStart);
    PUCHAR ro = MmMapIoSpaceEx(pa, PAGE_SIZE, PAGE_READONLY);
    PMDL mdl;
    volatile NTSTATUS status = STATUS_SUCCESS;

    KASSERT_NE(ro, NULL);
    mdl = IoAllocateMdl(ro, 64, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);    /* reading is fine */
    MmUnlockPages(mdl);
    __try {
        MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    IoFreeMdl(mdl);
    MmUnmapIoSpace(ro, PAGE_SIZE);
}

KTEST(mdl_seh, probe_user_mode_raises)
{
    UCHAR local[64] = {0};
    PMDL mdl = IoAllocateMdl(local, sizeof(local), FALSE, FALSE, NULL);
    volatile NTSTATUS status = STATUS_SUCCESS;

    KASSERT_NE(mdl, NULL);
    /* A kernel buffer described as a user-mode caller's: refused. */
    __try {
        MmProbeAndLockPages(mdl, UserMode, IoReadAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    KEXPECT_EQ(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
    IoFreeMdl(mdl);
}

KTEST(mdl_seh, probe_for_read_and_write)
{
    UCHAR local[64] = {0};
    volatile NTSTATUS status;

    /* Zero bytes are never probed. */
    ProbeForRead(local, 0, 1);
    ProbeForWrite(local, 0, 1);
    status = 0;
    __try {
        ProbeForRead(local, sizeof(local), 1);      /* a kernel address */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    status = 0;
    __try {
        ProbeForRead((PVOID)0x10002, 8, 4);         /* misaligned */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_DATATYPE_MISALIGNMENT);
    status = 0;
    __try {
        ProbeForRead((PVOID)(MM_USER_PROBE_ADDRESS - 4), 8, 1);    /* runs past user space */
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    /* A user range in bounds passes ProbeForRead (it does not touch)... */
    status = 0;
    __try {
        ProbeForRead((PVOID)0x10000, 0x3000, 8);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, 0);
    /* ...but ProbeForWrite touches it, and Mica's user space is empty:
     * the page fault becomes the exception. */
    __try {
        ProbeForWrite((PVOID)0x10000, 0x3000, 8);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    KEXPECT_FALSE(KiExceptionHandlerActive());
}

/* Paged pool, never touched: locking makes it resident and pins it. */
KTEST(mdl_seh, paged_pool_locked_then_touched)
{
    PUCHAR buf = ExAllocatePoolWithTag(PagedPool, 3 * PAGE_SIZE, TAG);
    PMDL mdl;
    PUCHAR sys;
    PFN_NUMBER frames[3];

    KASSERT_NE(buf, NULL);
    KEXPECT_FALSE(MmIsAddressValid(buf));       /* demand zero: no page yet */
    mdl = IoAllocateMdl(buf + 0x10, 2 * PAGE_SIZE, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    for (ULONG i = 0; i < 3; i++) {
        KEXPECT_TRUE(MmIsAddressValid(buf + i * PAGE_SIZE));
        frames[i] = MmGetMdlPfnArray(mdl)[i];
        KEXPECT_EQ(frames[i], (PFN_NUMBER)(MmGetPhysicalAddress(buf + i * PAGE_SIZE).QuadPart >> PAGE_SHIFT));
        KEXPECT_EQ(MI_PFN_ELEMENT(frames[i])->ReferenceCount, 2);   /* owner + lock */
    }
    sys = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
    KASSERT_NE(sys, NULL);
    KEXPECT_EQ(sys[100], 0);                    /* demand-zero pages */
    sys[100] = 0x5A;                            /* a "device" writes through the MDL */
    buf[0x10 + PAGE_SIZE] = 0x77;               /* the owner writes through pool */
    KEXPECT_EQ(buf[0x10 + 100], 0x5A);
    KEXPECT_EQ(sys[PAGE_SIZE], 0x77);
    MmUnlockPages(mdl);
    for (ULONG i = 0; i < 3; i++)
        KEXPECT_EQ(MI_PFN_ELEMENT(frames[i])->ReferenceCount, 1);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG);
}

KTEST(mdl_seh, paged_pool_not_committed_raises)
{
    PUCHAR buf = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, TAG);
    PMDL mdl;
    volatile NTSTATUS status = STATUS_SUCCESS;

    KASSERT_NE(buf, NULL);
    buf[0] = 1;
    /* The page after a one-page allocation is not committed. */
    mdl = IoAllocateMdl(buf + PAGE_SIZE - 8, 16, FALSE, FALSE, NULL);
    KASSERT_NE(mdl, NULL);
    __try {
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    KEXPECT_EQ(status, STATUS_ACCESS_VIOLATION);
    KEXPECT_EQ(MI_PFN_ELEMENT(MmGetPhysicalAddress(buf).QuadPart >> PAGE_SHIFT)->ReferenceCount, 1);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buf, TAG);
}

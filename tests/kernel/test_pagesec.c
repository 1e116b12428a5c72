/*
 * test_pagesec.c - pageable sections of the kernel image (mm/pagesec.c):
 * code and data marked MM_PAGEABLE_CODE / MM_PAGEABLE_DATA are paged out
 * to the page file and brought back intact; a locked section is never
 * trimmed, locks nest; MmProbeAndLockPages pins paged-out PAGEDATA;
 * MmPageEntireDriver pages a whole driver image and MmResetDriverPaging
 * makes it resident again.
 *
 * With a page file (tests/runner.py's bios-128m-pagefile boot) the paging
 * tests run; elsewhere they skip, and the test of a boot without one
 * checks that locking works and nothing is paged.
 */
#include "test_pagesec.h"
#include "../../kernel/io/io.h"
#include "../ktest.h"
#include "smp_threads.h"

#define KTPS_WORDS (2 * PAGE_SIZE / sizeof(ULONG64))   /* two pages */
#define KTPS_PATTERN(I) (0xDA7A000000000000ULL ^ ((ULONG64)(I) * 0x10001ULL))

/* Two pages of pageable data, and a pageable routine that only computes
 * (a call touches its code page and nothing else pageable). */
static MM_PAGEABLE_DATA __attribute__((aligned(PAGE_SIZE))) ULONG64 KtpsData[KTPS_WORDS];

static MM_PAGEABLE_CODE ULONG64 KtpsPagedMix(ULONG64 Value)
{
    for (ULONG i = 0; i < 5; i++)
        Value = (Value << 7 | Value >> 57) + 0x0123456789ABCDEFULL;
    return Value;
}

/* The same computation, nonpaged: what the paged copy must answer. */
static ULONG64 KtpsExpectedMix(ULONG64 Value)
{
    for (ULONG i = 0; i < 5; i++)
        Value = (Value << 7 | Value >> 57) + 0x0123456789ABCDEFULL;
    return Value;
}

/* Calls go through a volatile pointer: the compiler cannot fold them. */
static ULONG64 (*volatile KtpsCallPaged)(ULONG64) = KtpsPagedMix;
static ULONG64 (*volatile KtpsCallPagetouch)(ULONG64) = PagetouchMix;

#define KTPS_DATA(I) (*(volatile ULONG64 *)&KtpsData[I])

static void KtpsWritePattern(void)
{
    for (ULONG i = 0; i < KTPS_WORDS; i++)
        KTPS_DATA(i) = KTPS_PATTERN(i);
}

static BOOLEAN KtpsPatternIntact(void)
{
    for (ULONG i = 0; i < KTPS_WORDS; i++)
        if (KTPS_DATA(i) != KTPS_PATTERN(i)) {
            KtestPrint("# KtpsData[%u] = %llx, not %llx\n", i, KTPS_DATA(i), KTPS_PATTERN(i));
            return FALSE;
        }
    return TRUE;
}

static BOOLEAN KtpsValid(PVOID Va)
{
    return (KtpsPte(Va).Long & MM_PTE_VALID) != 0;
}

KTEST(pagesec, sections_fill_whole_pages_of_their_own)
{
    KEXPECT_EQ((ULONG64)KiPageCodeStart & (PAGE_SIZE - 1), 0);
    KEXPECT_EQ((ULONG64)KiPageCodeEnd & (PAGE_SIZE - 1), 0);
    KEXPECT_EQ((ULONG64)KiPageDataStart & (PAGE_SIZE - 1), 0);
    KEXPECT_EQ((ULONG64)KiPageDataEnd & (PAGE_SIZE - 1), 0);
    KEXPECT_EQ((ULONG64)KiPagetouchImageStart & (PAGE_SIZE - 1), 0);
    KEXPECT_EQ((ULONG64)KiPagetouchPageStart & (PAGE_SIZE - 1), 0);
    KEXPECT_TRUE((char *)KtpsPagedMix >= KiPageCodeStart && (char *)KtpsPagedMix < KiPageCodeEnd);
    KEXPECT_TRUE((char *)KtpsData >= KiPageDataStart && (char *)&KtpsData[KTPS_WORDS] <= KiPageDataEnd);
    KEXPECT_TRUE((char *)MmPageEntireDriver >= KiPageCodeStart && (char *)MmPageEntireDriver < KiPageCodeEnd);
    /* The driver's pieces are in the drivers' range (a stop there is 0xD1). */
    KEXPECT_TRUE((char *)PagetouchMix >= KiPagetouchImageStart && (char *)PagetouchMix < KiPagetouchPageStart);
    KEXPECT_TRUE((char *)PagetouchPagedMix >= KiPagetouchPageStart &&
                 (char *)PagetouchPagedMix < KiPagetouchImageEnd);
    KEXPECT_TRUE((ULONG64)KiPagetouchImageStart >= (ULONG64)KiDriverTextStart &&
                 (ULONG64)KiPagetouchImageEnd <= (ULONG64)KiDriverTextEnd);
    KEXPECT_TRUE(MiIsPageableImageAddress(KtpsPagedMix));
    KEXPECT_TRUE(MiIsPageableImageAddress(&KtpsData[KTPS_WORDS - 1]));
    KEXPECT_FALSE(MiIsPageableImageAddress(KtpsExpectedMix));      /* .text */
    KEXPECT_FALSE(MiIsPageableImageAddress((PVOID)&KtpsCallPaged)); /* .data */
    /* A pageable code page maps executable and read-only, data no-execute. */
    KEXPECT_EQ(KtpsCallPaged(11), KtpsExpectedMix(11));
    KEXPECT_FALSE(KtpsPte(KtpsPagedMix).Long & (MM_PTE_WRITE | MM_PTE_NO_EXECUTE));
    KTPS_DATA(0) = 1;
    KEXPECT_EQ(KtpsPte(KtpsData).Long & (MM_PTE_WRITE | MM_PTE_NO_EXECUTE), MM_PTE_WRITE | MM_PTE_NO_EXECUTE);
}

KTEST(pagesec, boot_without_a_page_file_locks_and_pages_nothing)
{
    PVOID code, data;
    ULONG64 limit = MmTotalCommitLimit;

    if (MiPagingEnabled)
        KTEST_SKIP("a page file is in use");
    code = MmLockPagableCodeSection(KtpsPagedMix);
    data = MmLockPagableDataSection(&KtpsData[3]);
    KASSERT_TRUE(code != NULL && data != NULL && code != data);
    KEXPECT_EQ(MmLockPagableCodeSection((PUCHAR)KtpsPagedMix + 1), code);  /* the same section, twice */
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->ReferenceCount, 2);
    MmUnlockPagableImageSection(code);
    MmUnlockPagableImageSection(code);
    MmUnlockPagableImageSection(data);
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->ReferenceCount, 1);
    KEXPECT_EQ(MmPageEntireDriver(PagetouchMix), KiPagetouchImageStart);
    KEXPECT_EQ(MiTrimWorkingSet(MmNumberOfPhysicalPages), 0);
    KEXPECT_TRUE(KtpsValid(KtpsPagedMix));
    KEXPECT_TRUE(KtpsValid(KtpsData));
    KEXPECT_TRUE(KtpsValid(PagetouchMix));
    KEXPECT_FALSE(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->Flags & MI_PFN_PAGEABLE);
    KEXPECT_FALSE(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(PagetouchMix)))->Flags & MI_PFN_PAGEABLE);
    MmResetDriverPaging(PagetouchMix);
    KEXPECT_EQ(MmTotalCommitLimit, limit);
}

/* Code and data of PAGE sections go to the page file and come back by a
 * hard fault each: the code computes, the data pattern is intact. */
KTEST(pagesec, paged_out_code_and_data_fault_back_intact)
{
    ULONG64 hard;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KtpsWritePattern();
    KEXPECT_TRUE(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsData)))->Flags & MI_PFN_PAGEABLE);
    KtpsTrimAll();
    KASSERT_FALSE(KtpsValid(KtpsPagedMix));
    KASSERT_FALSE(KtpsValid(&KtpsData[0]));
    KASSERT_FALSE(KtpsValid(&KtpsData[KTPS_WORDS - 1]));
    /* Written out: the frames are Standby, then given away. */
    KEXPECT_TRUE(KtpsRepurposeFrameOf(KtpsPagedMix));
    KEXPECT_TRUE(KtpsRepurposeFrameOf(&KtpsData[0]));
    KEXPECT_TRUE(KtpsRepurposeFrameOf(&KtpsData[KTPS_WORDS - 1]));
    KEXPECT_EQ(MiPteProtection(KtpsPte(KtpsPagedMix).Long), MM_EXECUTE_READ);
    KEXPECT_EQ(MiPteProtection(KtpsPte(KtpsData).Long), MM_READWRITE);

    hard = *(volatile ULONG64 *)&MiPagingStatistics.HardFaults;
    KEXPECT_EQ(KtpsCallPaged(42), KtpsExpectedMix(42));
    KEXPECT_TRUE(KtpsValid(KtpsPagedMix));
    KEXPECT_FALSE(KtpsPte(KtpsPagedMix).Long & (MM_PTE_WRITE | MM_PTE_NO_EXECUTE));
    KEXPECT_GE(*(volatile ULONG64 *)&MiPagingStatistics.HardFaults, hard + 1);
    KEXPECT_TRUE(KtpsPatternIntact());
    KEXPECT_GE(*(volatile ULONG64 *)&MiPagingStatistics.HardFaults, hard + 3);
    KEXPECT_EQ(KtpsPte(KtpsData).Long & (MM_PTE_WRITE | MM_PTE_NO_EXECUTE), MM_PTE_WRITE | MM_PTE_NO_EXECUTE);
    /* Dirtied again: the next trim sends it to the page file anew. */
    KTPS_DATA(7) = 0x77;
    KtpsTrimAll();
    KEXPECT_TRUE(KtpsRepurposeFrameOf(&KtpsData[7]));
    KEXPECT_EQ(KTPS_DATA(7), 0x77);
    KTPS_DATA(7) = KTPS_PATTERN(7);
}

/* Locked, a section is paged in at once and forced trimming never takes
 * it; unlocked, the next trim does. */
KTEST(pagesec, locked_sections_are_never_trimmed)
{
    PVOID code, data;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KtpsWritePattern();
    KtpsTrimAll();
    KtpsRepurposeFrameOf(KtpsPagedMix);
    KtpsRepurposeFrameOf(&KtpsData[KTPS_WORDS - 1]);
    KASSERT_FALSE(KtpsValid(KtpsPagedMix));
    code = MmLockPagableCodeSection(KtpsPagedMix);
    data = MmLockPagableDataSection(&KtpsData[1]);
    /* Locking faulted every page in. */
    KEXPECT_TRUE(KtpsValid(KtpsPagedMix));
    KEXPECT_TRUE(KtpsValid(&KtpsData[0]));
    KEXPECT_TRUE(KtpsValid(&KtpsData[KTPS_WORDS - 1]));
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->ReferenceCount, 2);
    for (ULONG round = 0; round < 3; round++) {
        KtpsTrimAll();
        KEXPECT_TRUE(KtpsValid(KtpsPagedMix));
        KEXPECT_TRUE(KtpsValid(&KtpsData[0]));
        KEXPECT_TRUE(KtpsValid(&KtpsData[KTPS_WORDS - 1]));
    }
    KEXPECT_EQ(KtpsCallPaged(9), KtpsExpectedMix(9));
    KEXPECT_TRUE(KtpsPatternIntact());
    MmUnlockPagableImageSection(code);
    MmUnlockPagableImageSection(data);
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->ReferenceCount, 1);
    KtpsTrimAll();
    KEXPECT_FALSE(KtpsValid(KtpsPagedMix));
    KEXPECT_FALSE(KtpsValid(&KtpsData[0]));
    KEXPECT_TRUE(KtpsPatternIntact());
}

/* Locks are counted: the section stays locked until the last unlock. */
KTEST(pagesec, nested_locks_are_counted)
{
    PVOID first, second;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    first = MmLockPagableCodeSection(KtpsPagedMix);
    second = MmLockPagableCodeSection(KtpsPagedMix);
    KEXPECT_EQ(second, first);
    MmLockPagableSectionByHandle(first);
    MmUnlockPagableImageSection(first);
    MmUnlockPagableImageSection(first);
    KtpsTrimAll();
    KEXPECT_TRUE(KtpsValid(KtpsPagedMix));                  /* one lock left */
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->ReferenceCount, 2);
    MmUnlockPagableImageSection(first);
    KtpsTrimAll();
    KEXPECT_FALSE(KtpsValid(KtpsPagedMix));
    /* A handle is good for another round from 0. */
    MmLockPagableSectionByHandle(first);
    KEXPECT_TRUE(KtpsValid(KtpsPagedMix));
    MmUnlockPagableImageSection(first);
}

/* MmPageEntireDriver: the driver's nonpaged code is paged out and back;
 * MmResetDriverPaging: resident for good again, its PAGE still pageable. */
KTEST(pagesec, page_entire_driver_and_reset)
{
    ULONG64 limit = MmTotalCommitLimit;
    PMMPFN pfn;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KEXPECT_TRUE(MmPageEntireDriver(KtpsPagedMix) == NULL);     /* the kernel: never whole */
    KtpsTrimAll();
    KEXPECT_TRUE(KtpsValid(PagetouchMix));                      /* .text: nonpaged */
    KEXPECT_EQ(MmPageEntireDriver((PUCHAR)PagetouchMix + 3), KiPagetouchImageStart);
    KEXPECT_EQ(MmPageEntireDriver(PagetouchPagedMix), KiPagetouchImageStart);   /* no effect twice */
    KtpsTrimAll();
    KASSERT_FALSE(KtpsValid(PagetouchMix));
    KEXPECT_FALSE(KtpsValid(PagetouchPagedMix));
    KEXPECT_TRUE(KtpsRepurposeFrameOf(PagetouchMix));
    KEXPECT_EQ(KtpsCallPagetouch(5), 5 * 0x9E3779B97F4A7C15ULL + 0x1234);
    KEXPECT_TRUE(KtpsValid(PagetouchMix));

    KtpsTrimAll();
    KEXPECT_FALSE(KtpsValid(PagetouchMix));
    MmResetDriverPaging(PagetouchPagedMix);
    KEXPECT_TRUE(KtpsValid(PagetouchMix));                      /* brought back */
    pfn = MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(PagetouchMix)));
    KEXPECT_FALSE(pfn->Flags & MI_PFN_PAGEABLE);
    KEXPECT_TRUE(pfn->Flags & MI_PFN_LOCKED);
    KEXPECT_FALSE(MiIsPageFilePte(pfn->OriginalPte));           /* its slot was given back */
    KtpsTrimAll();
    KEXPECT_TRUE(KtpsValid(PagetouchMix));
    KEXPECT_FALSE(KtpsValid(PagetouchPagedMix));                /* PAGE stays pageable */
    KEXPECT_EQ(PagetouchPagedMix(1), (1 ^ 0x5A5A5A5A5A5A5A5AULL) + 7);
    KEXPECT_EQ(MmTotalCommitLimit, limit);
}

/* MmProbeAndLockPages over paged-out PAGEDATA brings it in and pins it,
 * as it does paged pool (mm/mdllock.c). */
KTEST(pagesec, probe_and_lock_pins_paged_out_data)
{
    PMDL mdl;

    if (!MiPagingEnabled)
        KTEST_SKIP("no page file");
    KtpsWritePattern();
    KtpsTrimAll();
    KASSERT_TRUE(KtpsRepurposeFrameOf(&KtpsData[0]));
    KEXPECT_TRUE(KtpsRepurposeFrameOf(&KtpsData[KTPS_WORDS - 1]));
    mdl = IoAllocateMdl(KtpsData, sizeof(KtpsData), FALSE, FALSE, NULL);
    KASSERT_TRUE(mdl != NULL);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    KEXPECT_TRUE(KtpsValid(&KtpsData[0]));
    KEXPECT_TRUE(KtpsValid(&KtpsData[KTPS_WORDS - 1]));
    KEXPECT_EQ(MmGetMdlPfnArray(mdl)[0], MI_PTE_FRAME(KtpsPte(&KtpsData[0])));
    KtpsTrimAll();
    KEXPECT_TRUE(KtpsValid(&KtpsData[0]));
    KEXPECT_TRUE(KtpsValid(&KtpsData[KTPS_WORDS - 1]));
    KEXPECT_TRUE(KtpsPatternIntact());
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
}

/* A real kernel routine lives in PAGE (mm/physmem.c): paged out, a call
 * at PASSIVE_LEVEL brings it back and it answers as before. */
KTEST(pagesec, kernel_routine_in_page_runs_after_paging_out)
{
    PPHYSICAL_MEMORY_RANGE ranges;
    PPHYSICAL_MEMORY_RANGE (*volatile call)(VOID) = MmGetPhysicalMemoryRanges;
    ULONG64 pages = 0;

    KEXPECT_TRUE((char *)MmGetPhysicalMemoryRanges >= KiPageCodeStart &&
                 (char *)MmGetPhysicalMemoryRanges < KiPageCodeEnd);
    if (MiPagingEnabled) {
        KtpsTrimAll();
        KEXPECT_TRUE(KtpsRepurposeFrameOf(MmGetPhysicalMemoryRanges));
    }
    ranges = call();
    KASSERT_TRUE(ranges != NULL);
    KEXPECT_TRUE(KtpsValid(MmGetPhysicalMemoryRanges));
    for (ULONG i = 0; ranges[i].NumberOfBytes.QuadPart != 0; i++)
        pages += (ULONG64)ranges[i].NumberOfBytes.QuadPart >> PAGE_SHIFT;
    KEXPECT_EQ(pages, MmNumberOfPhysicalPages);
    ExFreePool(ranges);
}

/* Lock counts under contention: threads on every processor lock and
 * unlock both sections (and call and read them while locked) while one of
 * them trims; at the end the counts are back to 0 (one reference per page,
 * and the next trim takes the pages). */
#define KTPS_LOCK_ROUNDS 64

static volatile LONG KtpsLockErrors;

static VOID KtpsLockWorker(PVOID Context, ULONG Index)
{
    UNREFERENCED_PARAMETER(Context);
    for (ULONG round = 0; round < KTPS_LOCK_ROUNDS; round++) {
        PVOID code = MmLockPagableCodeSection(KtpsPagedMix);
        PVOID data = MmLockPagableDataSection(KtpsData);

        /* Locked means pinned, as soon as the lock returns. */
        if (!KtpsValid(KtpsPagedMix) || !KtpsValid(&KtpsData[KTPS_WORDS - 1]) ||
            MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(&KtpsData[KTPS_WORDS - 1])))->ReferenceCount < 2 ||
            KtpsCallPaged(round) != KtpsExpectedMix(round) || KTPS_DATA(round) != KTPS_PATTERN(round))
            __atomic_add_fetch(&KtpsLockErrors, 1, __ATOMIC_RELAXED);
        if (Index == 0 && MiPagingEnabled && round % 16 == 0)
            MiTrimWorkingSet(MmNumberOfPhysicalPages);
        MmUnlockPagableImageSection(data);
        MmUnlockPagableImageSection(code);
    }
}

KTEST(pagesec, locks_from_every_processor_balance)
{
    KSMP_RUN run = {.Work = KtpsLockWorker, .Count = 4, .Pin = KsmpPinSelf};

    KtpsWritePattern();
    KtpsLockErrors = 0;
    KASSERT_TRUE(KsmpRun(&run));
    KEXPECT_EQ(KtpsLockErrors, 0);
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsPagedMix)))->ReferenceCount, 1);
    KEXPECT_EQ(MI_PFN_ELEMENT(MI_PTE_FRAME(KtpsPte(KtpsData)))->ReferenceCount, 1);
    if (MiPagingEnabled) {
        KtpsTrimAll();
        KEXPECT_FALSE(KtpsValid(KtpsPagedMix));
        KEXPECT_FALSE(KtpsValid(KtpsData));
    }
    KEXPECT_TRUE(KtpsPatternIntact());
}

/* What kd's !pagesec shows (MiQueryImageSection): each section's range,
 * lock count and pages by PTE state; the command runs and refuses
 * arguments (kernel/kd/kdcmd_pagesec.c). */
extern VOID KdpExecuteLine(PCHAR Line);

static BOOLEAN KtpsQuery(PCSTR Name, PMI_IMAGE_SECTION_INFO Info)
{
    for (ULONG i = 0; MiQueryImageSection(i, Info); i++)
        if (strcmp(Info->Name, Name) == 0)
            return TRUE;
    return FALSE;
}

KTEST(pagesec, query_and_kd_pagesec_show_each_section)
{
    MI_IMAGE_SECTION_INFO info;
    ULONG64 dataPages = (ULONG64)(KiPageDataEnd - KiPageDataStart) >> PAGE_SHIFT;
    PVOID code;
    char line[] = "!pagesec", bad[] = "!pagesec 1";

    code = MmLockPagableCodeSection(KtpsPagedMix);
    KASSERT_TRUE(KtpsQuery("PAGE", &info));
    KEXPECT_EQ((ULONG64)info.Start, (ULONG64)KiPageCodeStart);
    KEXPECT_EQ((ULONG64)info.End, (ULONG64)KiPageCodeEnd);
    KEXPECT_STREQ(info.Image, "mica");
    KEXPECT_EQ(info.LockCount, 1);
    KEXPECT_EQ(info.Valid, ((ULONG64)(KiPageCodeEnd - KiPageCodeStart)) >> PAGE_SHIFT);
    KEXPECT_EQ(info.Pageable, MiPagingEnabled);
    MmUnlockPagableImageSection(code);
    KASSERT_TRUE(KtpsQuery("PAGE", &info));
    KEXPECT_EQ(info.LockCount, 0);
    KtpsWritePattern();
    if (MiPagingEnabled) {
        KtpsTrimAll();
        KtpsRepurposeFrameOf(KtpsData);
        KASSERT_TRUE(KtpsQuery("PAGEDATA", &info));
        KEXPECT_EQ(info.Valid, 0);
        KEXPECT_EQ(info.Transition + info.PageFile, dataPages);
        KEXPECT_GE(info.PageFile, 1);
    } else {
        KASSERT_TRUE(KtpsQuery("PAGEDATA", &info));
        KEXPECT_EQ(info.Valid, dataPages);
    }
    KASSERT_TRUE(KtpsQuery("pagetouch .text", &info));
    KEXPECT_STREQ(info.Image, "pagetouch");
    KEXPECT_FALSE(info.Pageable);
    KEXPECT_FALSE(info.EntirePaged);
    KtestPrint("# kd> !pagesec\n");
    KdpExecuteLine(line);
    KdpExecuteLine(bad);
    KEXPECT_TRUE(KtpsPatternIntact());
}

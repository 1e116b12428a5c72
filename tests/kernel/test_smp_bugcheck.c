/*
 * test_smp_bugcheck.c - a bug check on one processor stops all of them.
 *
 * NT freezes every other processor before it draws the blue screen, so
 * that nothing changes memory under the dump and the debugger. Here every
 * other processor runs a thread that counts for ever (half of them at
 * DISPATCH_LEVEL, where no thread switch can take them off); the last
 * processor bug-checks. After the blue screen, on the stopped processor,
 * the counters must stand still. The test names the processor it stops on
 * ("# bug check on processor N"), and the runner checks that the blue
 * screen names it too. The second test stops a processor that read
 * through a mapping another processor removed. These tests boot alone in bios-1g-smp4 (runner.py,
 * BUGCHECK_CONFIG_BY_SUITE); on one processor there is nothing to freeze
 * and the stop comes from processor 0.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm.h"
#include "../ktest.h"
#include "smp_threads.h"

#define KSB_FROZEN_CHECK_MS 50
#define KSB_START_TIMEOUT_MS 10000
#define KSB_MAGIC 0x534D50          /* "SMP" */

static volatile ULONG64 KsbCounters[MAXIMUM_PROCESSORS];
static volatile LONG KsbSpinning;
static ULONG KsbStopper;
static KEVENT KsbGo;                    /* set once every spinner is pinned */

static VOID KsbSpinner(PVOID Context)
{
    ULONG n = (ULONG)(ULONG_PTR)Context;
    KIRQL old;

    /* The creator pinned this thread before Go; look where it runs. */
    KeWaitForSingleObject(&KsbGo, Executive, KernelMode, FALSE, NULL);
    if (KeGetCurrentProcessorNumber() != n)
        KsbCounters[n] = ~0ULL;         /* read as "ran elsewhere" below */
    if (n & 1)
        KeRaiseIrql(DISPATCH_LEVEL, &old);
    __atomic_add_fetch(&KsbSpinning, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        __atomic_add_fetch(&KsbCounters[n], 1, __ATOMIC_RELAXED);
        YieldProcessor();
    }
}

/* In the bug-check callback, on the stopped processor, interrupts off. */
static void KsbCheckFrozen(void)
{
    ULONG64 before[MAXIMUM_PROCESSORS], deadline;
    ULONG count = KeQueryActiveProcessorCount(NULL);

    KEXPECT_EQ(KeGetCurrentProcessorNumber(), KsbStopper);
    for (ULONG n = 0; n < count; n++)
        before[n] = KsbCounters[n];
    deadline = KeReadTimeStampCounter() + KsmpTicks(KSB_FROZEN_CHECK_MS);
    while (KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    for (ULONG n = 0; n < count; n++) {
        if (n == KsbStopper)
            continue;
        if (KsbCounters[n] != before[n])
            KtestFail(__FILE__, __LINE__, "processor %u still runs after the bug check (%llu -> %llu)",
                      n, before[n], KsbCounters[n]);
    }
}

KTEST_BUGCHECK(smp_bugcheck, last_processor_stops_and_freezes_the_others, MANUALLY_INITIATED_CRASH)
{
    ULONG count = KeQueryActiveProcessorCount(NULL);
    ULONG64 deadline;

    KsbStopper = count - 1;
    KeInitializeEvent(&KsbGo, NotificationEvent, FALSE);
    KsmpPin(KsbStopper);
    KEXPECT_EQ(KeGetCurrentProcessorNumber(), KsbStopper);
    for (ULONG n = 0; n < count; n++) {
        HANDLE handle;
        PVOID thread;

        if (n == KsbStopper)
            continue;
        KASSERT_EQ(PsCreateSystemThread(&handle, 0, NULL, NULL, NULL, KsbSpinner,
                                        (PVOID)(ULONG_PTR)n), STATUS_SUCCESS);
        KASSERT_EQ(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &thread, NULL),
                   STATUS_SUCCESS);
        ZwClose(handle);
        KEXPECT_NE(KeSetAffinityThread((PKTHREAD)thread, AFFINITY_MASK(n)), 0);
        ObDereferenceObject(thread);
    }
    KeSetEvent(&KsbGo, 0, FALSE);
    /* Wait (spinning: a timer may need a processor that now spins at
     * DISPATCH_LEVEL) until every spinner counts. */
    deadline = KeReadTimeStampCounter() + KsmpTicks(KSB_START_TIMEOUT_MS);
    while (__atomic_load_n(&KsbSpinning, __ATOMIC_SEQ_CST) < (LONG)count - 1 &&
           KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    KEXPECT_EQ(KsbSpinning, (LONG)count - 1);
    for (ULONG n = 0; n < count; n++)
        if (n != KsbStopper)
            KEXPECT_NE(KsbCounters[n], ~0ULL);
    KtestAtBugCheck(KsbCheckFrozen);
    KtestPrint("# bug check on processor %u\n", KeGetCurrentProcessorNumber());
    KtestExpectBugCheck(MANUALLY_INITIATED_CRASH, KSB_MAGIC, KsbStopper, 0, 0);
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, KSB_MAGIC, KsbStopper, 0, 0);
}

/*
 * A stale translation must never be used: a thread on processor 1 keeps
 * reading a page through an MmMapIoSpace mapping while processor 0 unmaps
 * it and then gives the page new contents (as a new owner would). The
 * unmap shoots the translation down on processor 1 before it returns, so
 * the reader's next access faults: PAGE_FAULT_IN_NONPAGED_AREA (0x50) on
 * the unmapped address. With a flush on processor 0 only, the reader would
 * go on through its own TLB and read the new owner's data - the test
 * notices that and fails.
 */
#define KSB_OLD 0x4F4C444F4C444F4CULL      /* "LODLODLO": the first owner's */
#define KSB_NEW 0x4E45574E45574E45ULL      /* "EWNEWNEW": the next owner's */
#define KSB_READER_TIMEOUT_MS 5000

static volatile ULONG64 *KsbMapping;
static volatile BOOLEAN KsbReading, KsbSawNew;

static VOID KsbReader(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KsbReading = TRUE;
    for (;;) {
        ULONG64 v = KsbMapping[0];
        if (v != KSB_OLD) {
            KsbSawNew = v == KSB_NEW;
            KtestFail(__FILE__, __LINE__, "the reader read %llx through an unmapped address", v);
            return;
        }
    }
}

KTEST_BUGCHECK(smp_bugcheck, reader_faults_after_unmap_never_sees_the_new_owner,
               PAGE_FAULT_IN_NONPAGED_AREA)
{
    PHYSICAL_ADDRESS low = {.QuadPart = 0}, high = {.QuadPart = -1}, none = {.QuadPart = 0};
    volatile ULONG64 *owner;
    PHYSICAL_ADDRESS page;
    HANDLE handle;
    ULONG64 deadline;

    if (KeQueryActiveProcessorCount(NULL) < 2) {
        KtestPrint("# needs 2 processors\n");
        KtestSkip("needs 2 processors");
        return;
    }
    KsmpPin(0);
    /* The page, through its owner's own mapping, and a second mapping to read. */
    owner = MmAllocateContiguousMemorySpecifyCache(PAGE_SIZE, low, high, none, MmCached);
    KASSERT_TRUE(owner != NULL);
    owner[0] = KSB_OLD;
    page = MmGetPhysicalAddress((PVOID)owner);
    KsbMapping = MmMapIoSpace(page, PAGE_SIZE, MmCached);
    KASSERT_TRUE(KsbMapping != NULL);
    KsbReading = KsbSawNew = FALSE;
    KASSERT_EQ(PspCreateSystemThread(&handle, KsbReader, NULL, AFFINITY_MASK(1)), STATUS_SUCCESS);
    ZwClose(handle);
    deadline = KeReadTimeStampCounter() + KsmpTicks(KSB_READER_TIMEOUT_MS);
    while (!KsbReading && KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    KASSERT_TRUE(KsbReading);

    /* (address, read, the instruction, 0: a non-paged address with no page) */
    KtestExpectBugCheck(PAGE_FAULT_IN_NONPAGED_AREA, (ULONG64)KsbMapping, 0, KTEST_ANY, KTEST_ANY);
    MmUnmapIoSpace((PVOID)KsbMapping, PAGE_SIZE);
    owner[0] = KSB_NEW;
    /* The reader's stop ends the test; if it comes back with new data, fail. */
    deadline = KeReadTimeStampCounter() + KsmpTicks(KSB_READER_TIMEOUT_MS);
    while (!KsbSawNew && KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    KtestFail(__FILE__, __LINE__, "no fault: the reader %s", KsbSawNew ? "read the new owner's data"
                                                                        : "went on unnoticed");
}

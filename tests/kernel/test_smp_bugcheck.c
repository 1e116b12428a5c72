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
 * screen names it too. These tests boot alone in bios-1g-smp4 (runner.py,
 * BUGCHECK_CONFIG_BY_SUITE); on one processor there is nothing to freeze
 * and the stop comes from processor 0.
 */
#include "../../kernel/ke_internal.h"
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

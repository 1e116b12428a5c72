/*
 * test_mp.c - the processors as Ke sees them: each started one has its own
 * KPRCB, tables and idle thread; affinity moves a thread where it is told;
 * a ready thread preempts another processor at once; packets sent both
 * ways at the same moment never deadlock; the Ex routines refuse what NT
 * refuses. Tests that need two processors say so and skip on one.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define MS(n) ((LONGLONG)(n) * -10000)
#define KTM_NEEDS_TWO "needs 2 processors"

static void KtmSleep(LONG Ms)
{
    LARGE_INTEGER t = {.QuadPart = MS(Ms)};
    KeDelayExecutionThread(KernelMode, FALSE, &t);
}

static void KtmJoin(HANDLE Handle)
{
    PVOID thread;

    KASSERT_EQ(ObReferenceObjectByHandle(Handle, 0, NULL, KernelMode, &thread, NULL),
               STATUS_SUCCESS);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    ZwClose(Handle);
}

KTEST(mp, counts_and_processor_blocks_agree)
{
    KAFFINITY active;
    ULONG count = KeQueryActiveProcessorCount(&active);

    KEXPECT_EQ(count, (ULONG)KeNumberProcessors);
    KEXPECT_EQ(count, RtlNumberOfSetBitsUlongPtr(active));
    KEXPECT_EQ(active, KeQueryActiveProcessors());
    KEXPECT_EQ(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), count);
    KEXPECT_EQ(KeQueryActiveProcessorCountEx(0), count);
    KEXPECT_EQ(KeQueryActiveProcessorCountEx(1), 0);        /* no such group */
    KEXPECT_TRUE(active & 1);                               /* the boot processor */
    /* Numbered densely from 0, each with its own block, tables and idle thread. */
    KEXPECT_EQ(active, count == 64 ? ~(KAFFINITY)0 : (AFFINITY_MASK(count) - 1));
    for (ULONG i = 0; i < count; i++) {
        PKPRCB p = KiProcessorBlock[i];
        KASSERT_TRUE(p != NULL);
        KEXPECT_EQ(p->Self, p);
        KEXPECT_EQ(p->Number, i);
        KEXPECT_TRUE(p->IdleThread != NULL && p->IdleThread->IdleThread);
        KEXPECT_EQ(p->IdleThread->Affinity, AFFINITY_MASK(i));
        for (ULONG j = 0; j < i; j++) {
            PKPRCB q = KiProcessorBlock[j];
            KEXPECT_NE(p->ApicId, q->ApicId);
            KEXPECT_NE(p->IdleThread, q->IdleThread);
            KEXPECT_NE(p->IstStacks[KI_IST_NMI], q->IstStacks[KI_IST_NMI]);
            KEXPECT_NE(p->IstStacks[KI_IST_DOUBLE_FAULT], q->IstStacks[KI_IST_DOUBLE_FAULT]);
        }
    }
    for (ULONG i = count; i < MAXIMUM_PROCESSORS; i++)
        KEXPECT_EQ(KiProcessorBlock[i], NULL);
}

/* Pinned to each processor in turn: it runs there, with that processor's own state. */
KTEST(mp, system_affinity_moves_the_thread_to_each_processor)
{
    ULONG count = KeQueryActiveProcessorCount(NULL);
    PKTHREAD self = KeGetCurrentThread();

    for (ULONG i = 0; i < count; i++) {
        PROCESSOR_NUMBER pn;
        struct __attribute__((packed)) { USHORT Limit; ULONG64 Base; } gdtr;

        KEXPECT_EQ(KeSetSystemAffinityThreadEx(AFFINITY_MASK(i)), i == 0 ? 0 : AFFINITY_MASK(i - 1));
        KEXPECT_EQ(KeGetCurrentProcessorNumber(), i);
        KEXPECT_EQ(KeGetCurrentProcessorNumberEx(&pn), i);
        KEXPECT_EQ(pn.Group, 0);
        KEXPECT_EQ(pn.Number, i);
        KEXPECT_EQ(KeGetCurrentPrcb(), KiProcessorBlock[i]);
        KEXPECT_EQ(KeGetCurrentPrcb()->ApicId, HalpApicGetId());
        KEXPECT_EQ(self->NextProcessor, i);
        __asm__ __volatile__("sgdt %0" : "=m"(gdtr));
        if (i > 0)
            KEXPECT_EQ(gdtr.Base, (ULONG64)KiProcessorBlock[i]->Tables->Gdt);
        /* Stays put across a sleep (a wait and a wake-up). */
        KtmSleep(1);
        KEXPECT_EQ(KeGetCurrentProcessorNumber(), i);
    }
    KeRevertToUserAffinityThread();
    KEXPECT_FALSE(self->SystemAffinityActive);
    KEXPECT_EQ(self->Affinity, self->UserAffinity);
}

static VOID KtmRecordProcessor(PVOID Context);

KTEST(mp, affinity_edges)
{
    PKTHREAD self = KeGetCurrentThread();
    KAFFINITY user = self->UserAffinity, inactive = ~KeQueryActiveProcessors();
    HANDLE h;

    /* A mask naming no running processor changes nothing. */
    if (inactive != 0) {
        KEXPECT_EQ(KeSetSystemAffinityThreadEx(inactive), 0);
        KEXPECT_FALSE(self->SystemAffinityActive);
        KEXPECT_EQ(KeSetAffinityThread(self, inactive), 0);
        KEXPECT_EQ(self->UserAffinity, user);
        KEXPECT_EQ(PspCreateSystemThread(&h, KtmRecordProcessor, NULL, inactive),
                   STATUS_INVALID_PARAMETER);
    }
    KEXPECT_EQ(KeSetSystemAffinityThreadEx(0), 0);
    /* Ex nests: the previous system affinity comes back, 0 means "the thread's own". */
    KEXPECT_EQ(KeSetSystemAffinityThreadEx(1), 0);
    KEXPECT_EQ(KeSetSystemAffinityThreadEx(KeQueryActiveProcessors()), 1);
    KeRevertToUserAffinityThreadEx(1);
    KEXPECT_EQ(self->Affinity, 1);
    KEXPECT_TRUE(self->SystemAffinityActive);
    KeRevertToUserAffinityThreadEx(0);
    KEXPECT_FALSE(self->SystemAffinityActive);
    KEXPECT_EQ(self->Affinity, user);
    /* KeSetAffinityThread under a system affinity changes the thread's own only. */
    KeSetSystemAffinityThread(1);
    KEXPECT_EQ(KeSetAffinityThread(self, KeQueryActiveProcessors()), user);
    KEXPECT_EQ(self->Affinity, 1);
    KeRevertToUserAffinityThread();
    KEXPECT_EQ(self->Affinity, KeQueryActiveProcessors());
    KeSetAffinityThread(self, user);
}

/* A thread created for processor k runs only there, however many run. */
static volatile ULONG KtmRanOn[MAXIMUM_PROCESSORS];

static VOID KtmRecordProcessor(PVOID Context)
{
    ULONG k = (ULONG)(ULONG_PTR)Context;

    for (int i = 0; i < 20; i++) {
        if (KeGetCurrentProcessorNumber() != k)
            KtmRanOn[k] = 0xBAD;
        ZwYieldExecution();
    }
    if (KtmRanOn[k] != 0xBAD)
        KtmRanOn[k] = k + 1;
}

KTEST(mp, created_threads_keep_their_affinity)
{
    ULONG count = KeQueryActiveProcessorCount(NULL);
    HANDLE h[MAXIMUM_PROCESSORS];

    for (ULONG k = 0; k < count; k++) {
        KtmRanOn[k] = 0;
        KASSERT_EQ(PspCreateSystemThread(&h[k], KtmRecordProcessor, (PVOID)(ULONG_PTR)k,
                                         AFFINITY_MASK(k)), STATUS_SUCCESS);
    }
    for (ULONG k = 0; k < count; k++) {
        KtmJoin(h[k]);
        KEXPECT_EQ(KtmRanOn[k], k + 1);
    }
}

/*
 * A reschedule IPI: a low-priority thread spins on processor 1; a thread
 * made ready there at a higher priority must run at once, not when
 * processor 1 next takes a clock interrupt (whose way out would also
 * notice the request). So it must run before processor 1's tick count
 * moves - at least sometimes: a tick can fall in between by chance, so of
 * KTM_TRIALS tries one in the same tick is enough. Without the IPI none is.
 */
#define KTM_TRIALS 10
static volatile BOOLEAN KtmSpin, KtmHighRan;
static volatile ULONG64 KtmHighTicks;

static VOID KtmSpinner(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    while (KtmSpin && !KtmHighRan)
        ;
}

static VOID KtmHigh(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KtmHighTicks = KeGetCurrentPrcb()->ClockTicks;
    KtmHighRan = TRUE;
}

KTEST(mp, ready_thread_preempts_another_processor)
{
    ULONG sameTick = 0;

    if (KeQueryActiveProcessorCount(NULL) < 2)
        KTEST_SKIP(KTM_NEEDS_TWO);
    for (int trial = 0; trial < KTM_TRIALS; trial++) {
        HANDLE spinner, high;
        PVOID thread;
        ULONG64 before;

        KtmSpin = TRUE;
        KtmHighRan = FALSE;
        KASSERT_EQ(PspCreateSystemThread(&spinner, KtmSpinner, NULL, AFFINITY_MASK(1)),
                   STATUS_SUCCESS);
        KASSERT_EQ(ObReferenceObjectByHandle(spinner, 0, NULL, KernelMode, &thread, NULL),
                   STATUS_SUCCESS);
        KeSetPriorityThread(thread, 4);
        ObDereferenceObject(thread);
        KtmSleep(3);                    /* the spinner is running on processor 1 */
        before = KiProcessorBlock[1]->ClockTicks;
        /* A thread for processor 1 only, at 8: above the spinner's 4. */
        KASSERT_EQ(PspCreateSystemThread(&high, KtmHigh, NULL, AFFINITY_MASK(1)),
                   STATUS_SUCCESS);
        for (int i = 0; i < 2000 && !KtmHighRan; i++)
            KtmSleep(1);
        KtmSpin = FALSE;
        KEXPECT_TRUE(KtmHighRan);
        if (KtmHighRan && KtmHighTicks == before)
            sameTick++;
        KtmJoin(high);
        KtmJoin(spinner);
    }
    KtestPrint("# %u of %u readied threads ran before processor 1's next tick\n", sameTick,
               KTM_TRIALS);
    KEXPECT_GE(sameTick, 1);
}

/* Two or more processors sending packets to each other at once: none waits for ever. */
#define KTM_PACKET_ROUNDS 2000
static volatile LONG KtmWorkerRuns;
static volatile LONG KtmSendersDone;

static ULONG_PTR KtmCountWorker(ULONG_PTR Argument)
{
    UNREFERENCED_PARAMETER(Argument);
    __atomic_add_fetch(&KtmWorkerRuns, 1, __ATOMIC_RELAXED);
    return 0;
}

static VOID KtmPacketSender(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (int i = 0; i < KTM_PACKET_ROUNDS; i++) {
        KIRQL old;
        /* Half of them from DISPATCH_LEVEL, as a shootdown under a spin lock is. */
        if (i & 1)
            KeRaiseIrql(DISPATCH_LEVEL, &old);
        KiIpiSendPacket(KeQueryActiveProcessors(), KtmCountWorker, 0);
        if (i & 1)
            KeLowerIrql(old);
    }
    __atomic_add_fetch(&KtmSendersDone, 1, __ATOMIC_RELAXED);
}

KTEST(mp, packets_both_ways_never_deadlock)
{
    ULONG count = KeQueryActiveProcessorCount(NULL);
    HANDLE h[MAXIMUM_PROCESSORS];

    if (count < 2)
        KTEST_SKIP(KTM_NEEDS_TWO);
    KtmWorkerRuns = 0;
    KtmSendersDone = 0;
    for (ULONG k = 0; k < count; k++)
        KASSERT_EQ(PspCreateSystemThread(&h[k], KtmPacketSender, NULL, AFFINITY_MASK(k)),
                   STATUS_SUCCESS);
    for (ULONG k = 0; k < count; k++)
        KtmJoin(h[k]);
    KEXPECT_EQ(KtmSendersDone, (LONG)count);
    /* Every packet ran on every processor but its sender. */
    KEXPECT_EQ(KtmWorkerRuns, (LONG)(count * (count - 1) * KTM_PACKET_ROUNDS));
}

/* KiIpiSendPacket refuses to wait where it could never be answered (with
 * one processor too: the rule does not depend on who is there to answer). */
KTEST_BUGCHECK(mp, packet_with_interrupts_off, IRQL_NOT_LESS_OR_EQUAL)
{
    KtestExpectBugCheck(IRQL_NOT_LESS_OR_EQUAL, (ULONG64)KiIpiSendPacket, HIGH_LEVEL, SYNCH_LEVEL,
                        KTEST_ANY);
    _disable();
    KiIpiSendPacket(KeQueryActiveProcessors(), KtmCountWorker, 0);
}

/* The Ex forms of the DPC target: group 0 and a running processor only. */
KTEST(mp, set_target_processor_dpc_ex_checks)
{
    KDPC dpc;
    PROCESSOR_NUMBER pn = {0};

    KeInitializeDpc(&dpc, NULL, NULL);
    pn.Group = 1;
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, &pn), STATUS_INVALID_PARAMETER);
    pn.Group = 0;
    pn.Number = (UCHAR)KeQueryActiveProcessorCount(NULL);      /* one past the last */
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, &pn), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, NULL), STATUS_INVALID_PARAMETER);
    pn.Number = 0;
    KEXPECT_EQ(KeSetTargetProcessorDpcEx(&dpc, &pn), STATUS_SUCCESS);
    KEXPECT_EQ(dpc.Number, MAXIMUM_PROCESSORS + 0);
}

/* KeFlushEntireTb and KeInvalidateAllCaches reach every processor and come back. */
static ULONG_PTR KtmReadCr3(ULONG_PTR Argument)
{
    UNREFERENCED_PARAMETER(Argument);
    return __readcr3();
}

KTEST(mp, flush_entire_tb_and_caches_everywhere)
{
    KIRQL old;

    KeFlushEntireTb(TRUE, TRUE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeFlushEntireTb(TRUE, FALSE);
    KeFlushEntireTb(TRUE, TRUE);
    KeLowerIrql(old);
    KEXPECT_TRUE(KeInvalidateAllCaches());
    /* Every processor runs on the kernel's one PML4. */
    KEXPECT_EQ(KeIpiGenericCall(KtmReadCr3, 0), __readcr3());
}

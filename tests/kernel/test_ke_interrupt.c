/*
 * test_ke_interrupt.c - interrupt objects, IRQL transitions and the edges
 * between them: the IRQL an ISR runs at, vectors handed out and given back,
 * DPCs queued by an interrupt that lands in the middle of KeLowerIrql.
 *
 * These run at PASSIVE_LEVEL on the initial thread. Message vectors
 * (HalpAllocateMessageVector) are raised with a self-IPI, so the tests
 * decide exactly when an interrupt arrives.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

/* Two message vectors at different IRQLs, the lower first. */
static BOOLEAN KtiTwoVectors(PULONG LowVector, PKIRQL LowIrql, PULONG HighVector, PKIRQL HighIrql)
{
    ULONG a = HalpAllocateMessageVector(LowIrql), b = HalpAllocateMessageVector(HighIrql);

    if (a == 0 || b == 0 || *LowIrql == *HighIrql)
        return FALSE;
    if (*LowIrql > *HighIrql) {
        KIRQL t = *LowIrql;
        *LowIrql = *HighIrql;
        *HighIrql = t;
        *LowVector = b;
        *HighVector = a;
    } else {
        *LowVector = a;
        *HighVector = b;
    }
    return TRUE;
}

/* ---- SynchronizeIrql: the level an ISR runs at ------------------------------------------ */

static KSPIN_LOCK KtiSharedLock;
static ULONG KtiHighVector;
static volatile KIRQL KtiLowSeen, KtiHighSeen;
static volatile ULONG KtiLowRuns, KtiHighRuns, KtiHighRunsDuringLow;

static BOOLEAN KtiLowIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KtiLowSeen = KeGetCurrentIrql();
    KtiLowRuns++;
    /*
     * Holding the shared lock, ask for the other interrupt. At the
     * SynchronizeIrql the APIC holds it until this ISR is done; at the
     * vector's own IRQL it would come in now and spin on the lock held
     * below it for ever, so the request is made only when the level is right.
     */
    if (KtiLowSeen == *(PKIRQL)Context) {
        HalpRequestSelfInterrupt(KtiHighVector);
        KeStallExecutionProcessor(10);
        KtiHighRunsDuringLow = KtiHighRuns;
    }
    return TRUE;
}

static BOOLEAN KtiHighIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KtiHighSeen = KeGetCurrentIrql();
    KtiHighRuns++;
    return TRUE;
}

static BOOLEAN KtiRecordIrql(PVOID Context)
{
    *(PKIRQL)Context = KeGetCurrentIrql();
    return TRUE;
}

/*
 * Two interrupt objects share one spin lock, so both name the higher of
 * their IRQLs as SynchronizeIrql (IoConnectInterrupt's rule). Each ISR must
 * run at that level, not at its vector's: then the higher interrupt cannot
 * come in while the lower ISR holds the lock.
 */
KTEST(interrupt, isr_runs_at_synchronize_irql)
{
    PKINTERRUPT low, high;
    ULONG lowVector, highVector;
    KIRQL lowIrql, highIrql, seen = 0;

    KASSERT_TRUE(KtiTwoVectors(&lowVector, &lowIrql, &highVector, &highIrql));
    KeInitializeSpinLock(&KtiSharedLock);
    KtiHighVector = highVector;
    KtiLowRuns = KtiHighRuns = 0;
    KtiHighRunsDuringLow = ~0u;
    KtiLowSeen = KtiHighSeen = 0;
    KASSERT_EQ(IoConnectInterrupt(&low, KtiLowIsr, &highIrql, &KtiSharedLock, lowVector,
                                  lowIrql, highIrql, Latched, FALSE, 1, FALSE), STATUS_SUCCESS);
    KASSERT_EQ(IoConnectInterrupt(&high, KtiHighIsr, NULL, &KtiSharedLock, highVector,
                                  highIrql, highIrql, Latched, FALSE, 1, FALSE), STATUS_SUCCESS);

    HalpRequestSelfInterrupt(lowVector);
    KEXPECT_EQ(KtiLowRuns, 1);
    KEXPECT_EQ(KtiLowSeen, highIrql);           /* the SynchronizeIrql, not lowIrql */
    KEXPECT_EQ(KtiHighRunsDuringLow, 0);        /* held off while the lock was held */
    KEXPECT_EQ(KtiHighRuns, 1);                 /* and delivered once the ISR was done */
    KEXPECT_EQ(KtiHighSeen, highIrql);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);

    /* KeSynchronizeExecution raises to the same level as the ISR. */
    KEXPECT_TRUE(KeSynchronizeExecution(low, KtiRecordIrql, &seen));
    KEXPECT_EQ(seen, highIrql);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);

    IoDisconnectInterrupt(high);
    IoDisconnectInterrupt(low);
}

/* SynchronizeIrql below the vector's IRQL or above HIGH_LEVEL is refused. */
KTEST(interrupt, connect_checks_synchronize_irql)
{
    PKINTERRUPT interrupt = NULL;
    KIRQL irql;
    ULONG vector = HalpAllocateMessageVector(&irql);

    KASSERT_NE(vector, 0);
    KEXPECT_EQ(IoConnectInterrupt(&interrupt, KtiHighIsr, NULL, NULL, vector, irql, irql - 1,
                                  Latched, FALSE, 1, FALSE), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IoConnectInterrupt(&interrupt, KtiHighIsr, NULL, NULL, vector, irql,
                                  HIGH_LEVEL + 1, Latched, FALSE, 1, FALSE),
               STATUS_INVALID_PARAMETER);
    KASSERT_EQ(IoConnectInterrupt(&interrupt, KtiHighIsr, NULL, NULL, vector, irql, HIGH_LEVEL,
                                  Latched, FALSE, 1, FALSE), STATUS_SUCCESS);
    KtiHighRuns = 0;
    HalpRequestSelfInterrupt(vector);
    KEXPECT_EQ(KtiHighRuns, 1);
    KEXPECT_EQ(KtiHighSeen, HIGH_LEVEL);
    IoDisconnectInterrupt(interrupt);
}

/* ---- vectors: one per input line, given back on the last disconnect ---------------------- */

static BOOLEAN KtiNeverMine(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    return FALSE;
}

/* More rounds than there are device vectors (IRQLs 3-11, 15 vectors each). */
#define KTI_VECTOR_ROUNDS 400
/* An I/O APIC input no device drives in the test machines (a free PCI link). */
#define KTI_IDLE_GSI 23

KTEST(interrupt, same_gsi_gets_the_same_vector)
{
    KIRQL irql1, irql2;
    KAFFINITY affinity;
    ULONG v1 = HalGetInterruptVector(Internal, 0, KTI_IDLE_GSI, 0, &irql1, &affinity);
    ULONG v2 = HalGetInterruptVector(Internal, 0, KTI_IDLE_GSI, 0, &irql2, &affinity);
    PKINTERRUPT a, b;

    KASSERT_NE(v1, 0);
    KEXPECT_EQ(v2, v1);
    KEXPECT_EQ(irql2, irql1);
    /* Both drivers of a shared line connect to the one vector. */
    KASSERT_EQ(IoConnectInterrupt(&a, KtiNeverMine, NULL, NULL, v1, irql1, irql1,
                                  LevelSensitive, TRUE, 1, FALSE), STATUS_SUCCESS);
    KASSERT_EQ(IoConnectInterrupt(&b, KtiNeverMine, NULL, NULL, v2, irql2, irql2,
                                  LevelSensitive, TRUE, 1, FALSE), STATUS_SUCCESS);
    IoDisconnectInterrupt(a);
    /* The vector stays while b is connected... */
    KEXPECT_EQ(HalGetInterruptVector(Internal, 0, KTI_IDLE_GSI, 0, &irql2, &affinity), v1);
    IoDisconnectInterrupt(b);
}

KTEST(interrupt, connect_disconnect_does_not_exhaust_vectors)
{
    KAFFINITY affinity;
    ULONG lineFailures = 0, messageFailures = 0;

    for (ULONG i = 0; i < KTI_VECTOR_ROUNDS; i++) {
        PKINTERRUPT interrupt;
        KIRQL irql;
        ULONG v = HalGetInterruptVector(Internal, 0, KTI_IDLE_GSI, 0, &irql, &affinity);
        if (v == 0 || !NT_SUCCESS(IoConnectInterrupt(&interrupt, KtiNeverMine, NULL, NULL, v,
                                                     irql, irql, Latched, FALSE, 1, FALSE))) {
            lineFailures++;
            continue;
        }
        IoDisconnectInterrupt(interrupt);
    }
    for (ULONG i = 0; i < KTI_VECTOR_ROUNDS; i++) {
        PKINTERRUPT interrupt;
        KIRQL irql;
        ULONG v = HalpAllocateMessageVector(&irql);
        if (v == 0 || !NT_SUCCESS(IoConnectInterrupt(&interrupt, KtiNeverMine, NULL, NULL, v,
                                                     irql, irql, Latched, FALSE, 1, FALSE))) {
            messageFailures++;
            continue;
        }
        IoDisconnectInterrupt(interrupt);
    }
    KEXPECT_EQ(lineFailures, 0);
    KEXPECT_EQ(messageFailures, 0);
}

/* ---- a DPC queued by an interrupt runs before KeLowerIrql returns ------------------------ */

#define KTI_PIT_CHANNEL0 0x40
#define KTI_PIT_COMMAND  0x43
#define KTI_PIT_RATE     0x34           /* channel 0, lo/hi byte, mode 2 (rate generator) */
#define KTI_PIT_ONESHOT  0x30           /* mode 0: one count, then quiet */
#define KTI_PIT_HZ       1193182
#define KTI_PIT_RATE_HZ  20000
#define KTI_DPC_INTERRUPTS 3000         /* DPCs queued from the PIT before the verdict */

static KDPC KtiPitDpc;
static volatile ULONG KtiDpcQueued, KtiDpcRan;

static VOID KtiCountDpc(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KtiDpcRan++;
}

static BOOLEAN KtiPitIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    if (KeInsertQueueDpc(&KtiPitDpc, NULL, NULL))
        KtiDpcQueued++;
    return TRUE;
}

static void KtiPitProgram(UCHAR Mode, USHORT Count)
{
    __outbyte(KTI_PIT_COMMAND, Mode);
    __outbyte(KTI_PIT_CHANNEL0, (UCHAR)Count);
    __outbyte(KTI_PIT_CHANNEL0, (UCHAR)(Count >> 8));
}

/*
 * KeLowerIrql(PASSIVE_LEVEL) from DISPATCH_LEVEL looks for pending DPCs and
 * then writes CR8. A device interrupt that lands between the two queues a
 * DPC and returns to DISPATCH_LEVEL (where DPCs may not run); if the
 * lowering does not look again, the DPC waits for the next interrupt. The
 * PIT fires at 20 kHz while this loop raises and lowers as fast as it can,
 * so that window is hit many times; after every KeLowerIrql no DPC may be
 * left queued at PASSIVE_LEVEL. (A loaded host only makes the window rarer;
 * it cannot make a correct kernel fail this.)
 */
KTEST(dpc, queued_in_lower_irql_window_runs_at_once)
{
    PKINTERRUPT interrupt;
    KAFFINITY affinity;
    KIRQL irql;
    ULONG vector = HalGetInterruptVector(Isa, 0, 0, 0, &irql, &affinity);
    ULONG late = 0, rounds = 0;
    ULONGLONG deadline = KeQueryInterruptTime() + 20ULL * 1000 * 10000;  /* 20 s at most */
    /* The I/O APIC sends the PIT to processor 0: the DPC is queued there. */
    KAFFINITY pinned = KtestOnOneProcessorBegin();

    KASSERT_NE(vector, 0);
    KeInitializeDpc(&KtiPitDpc, KtiCountDpc, NULL);
    KtiDpcQueued = KtiDpcRan = 0;
    KASSERT_EQ(IoConnectInterrupt(&interrupt, KtiPitIsr, NULL, NULL, vector, irql, irql, Latched,
                                  FALSE, 1, FALSE), STATUS_SUCCESS);
    KtiPitProgram(KTI_PIT_RATE, KTI_PIT_HZ / KTI_PIT_RATE_HZ);
    while (KtiDpcQueued < KTI_DPC_INTERRUPTS && KeQueryInterruptTime() < deadline) {
        KIRQL old = KeRaiseIrqlToDpcLevel();
        KeLowerIrql(old);
        _disable();
        if (KtiDpcRan != KtiDpcQueued)
            late++;
        _enable();
        rounds++;
    }
    KtiPitProgram(KTI_PIT_ONESHOT, 0xFFFF);     /* quiet the PIT again */
    IoDisconnectInterrupt(interrupt);
    KtestPrint("# %u DPCs from the PIT in %u raise/lower rounds, %u left queued\n",
               KtiDpcQueued, rounds, late);
    KEXPECT_GE(KtiDpcQueued, KTI_DPC_INTERRUPTS);
    KEXPECT_EQ(late, 0);
    KtestOnOneProcessorEnd(pinned);
}

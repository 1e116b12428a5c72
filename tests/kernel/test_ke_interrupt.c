/*
 * test_ke_interrupt.c - interrupt objects, IRQL transitions and the edges
 * between them: the IRQL an ISR runs at, vectors handed out and given back,
 * DPCs queued by an interrupt that lands in the middle of KeLowerIrql.
 *
 * These run at PASSIVE_LEVEL on the initial thread. Message vectors
 * (HalAllocateMessageVector) are raised with a self-IPI, so the tests
 * decide exactly when an interrupt arrives.
 */
#include "../../kernel/ke_internal.h"
#include "../ktest.h"

/* Two message vectors at different IRQLs, the lower first. */
static BOOLEAN KtiTwoVectors(PULONG LowVector, PKIRQL LowIrql, PULONG HighVector, PKIRQL HighIrql)
{
    ULONG a = HalAllocateMessageVector(LowIrql), b = HalAllocateMessageVector(HighIrql);

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
        HalRequestSelfInterrupt(KtiHighVector);
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

    HalRequestSelfInterrupt(lowVector);
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
    ULONG vector = HalAllocateMessageVector(&irql);

    KASSERT_NE(vector, 0);
    KEXPECT_EQ(IoConnectInterrupt(&interrupt, KtiHighIsr, NULL, NULL, vector, irql, irql - 1,
                                  Latched, FALSE, 1, FALSE), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IoConnectInterrupt(&interrupt, KtiHighIsr, NULL, NULL, vector, irql,
                                  HIGH_LEVEL + 1, Latched, FALSE, 1, FALSE),
               STATUS_INVALID_PARAMETER);
    KASSERT_EQ(IoConnectInterrupt(&interrupt, KtiHighIsr, NULL, NULL, vector, irql, HIGH_LEVEL,
                                  Latched, FALSE, 1, FALSE), STATUS_SUCCESS);
    KtiHighRuns = 0;
    HalRequestSelfInterrupt(vector);
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
        ULONG v = HalAllocateMessageVector(&irql);
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

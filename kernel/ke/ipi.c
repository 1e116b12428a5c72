/*
 * ipi.c - processors asking each other for work: packets, wake-ups, freeze.
 *
 * One vector, KI_VECTOR_IPI (0xE1, IPI_LEVEL), carries every request
 * between processors:
 *   - a packet: "run this routine" (KiIpiSendPacket; the TLB shootdown in
 *     mm/tlb.c and KeIpiGenericCall are built on it). Each processor
 *     publishes at most one packet at a time, in its own KPRCB, with a mask
 *     of the targets that still have to run it; a target's IpiRequests has
 *     a bit per sender whose packet waits for it. The sender spins until
 *     the mask is empty.
 *   - a wake-up: the sender sets the target's DispatchRequest first, then
 *     sends the IPI; the target's interrupt epilogue (KeLowerIrql in
 *     interrupt.c) sees the flag and drains its DPC queue or switches
 *     threads, as for its own DPCs.
 * A bug check stops the other processors with an NMI instead, which
 * arrives whatever their IRQL and interrupt flag (KiFreezeOtherProcessors).
 *
 * The deadlock rule (NT's and Linux's): a sender waits for its targets
 * with interrupts on and below IPI_LEVEL, so two processors that send to
 * each other at the same moment both get served. That is why a packet
 * may not be sent with interrupts off or from IPI_LEVEL and up, and why a
 * worker must not wait for anything a sender may hold.
 */
#include "ke_internal.h"

volatile CCHAR KeNumberProcessors = 1;
volatile KAFFINITY KeActiveProcessors = 1;

static volatile BOOLEAN KiFreezeRequest;
static volatile BOOLEAN KiDebuggerFreeze;       /* the kd> break-in's freeze: it ends */

KAFFINITY KeQueryActiveProcessors(VOID)
{
    return KeActiveProcessors;
}

ULONG KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    KAFFINITY active = KeActiveProcessors;

    if (ActiveProcessors != NULL)
        *ActiveProcessors = active;
    return (ULONG)RtlNumberOfSetBitsUlongPtr(active);
}

ULONG KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    if (GroupNumber != 0 && GroupNumber != ALL_PROCESSOR_GROUPS)
        return 0;
    return KeQueryActiveProcessorCount(NULL);
}

/* Ask processor Number to look at its DispatchRequest (DPCs queued for it, a reschedule). */
VOID KiIpiRequestDispatch(ULONG Number)
{
    PKPRCB target = KiProcessorBlock[Number];

    target->DispatchRequest = 1;
    /* The flag must be visible before the interrupt can be (x86 keeps
     * stores in order, but the APIC write is not a memory store). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    HalpApicSendIpi(target->ApicId, KI_VECTOR_IPI);
}

/* Publish this processor's packet to Targets and interrupt them; the caller waits. */
static void KiIpiPublishPacket(PKPRCB Prcb, KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker,
                               ULONG_PTR Context)
{
    KAFFINITY self = AFFINITY_MASK(Prcb->Number);

    Prcb->IpiPacket.Worker = Worker;
    Prcb->IpiPacket.Context = Context;
    __atomic_store_n(&Prcb->IpiPacket.Pending, Targets, __ATOMIC_RELEASE);
    for (KAFFINITY t = Targets; t != 0; t &= t - 1) {
        PKPRCB target = KiProcessorBlock[__builtin_ctzll(t)];
        __atomic_or_fetch(&target->IpiRequests, self, __ATOMIC_SEQ_CST);
        HalpApicSendIpi(target->ApicId, KI_VECTOR_IPI);
    }
}

static void KiIpiWaitPacket(PKPRCB Prcb)
{
    while (__atomic_load_n(&Prcb->IpiPacket.Pending, __ATOMIC_ACQUIRE) != 0)
        __asm__ __volatile__("pause");
}

static void KiIpiCheckSender(PVOID Routine, PVOID Caller)
{
    KIRQL irql = KeGetCurrentIrql();

    if (irql > SYNCH_LEVEL)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, Routine, irql, SYNCH_LEVEL,
                        Caller);
    /* Waiting with interrupts off could wait for ever on a processor that
     * is itself waiting for us: NT's IRQL_NOT_LESS_OR_EQUAL as for any
     * call made where interrupts must be on. */
    if (!(__readeflags() & EFLAGS_IF_MASK))
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, Routine, HIGH_LEVEL, SYNCH_LEVEL,
                        Caller);
}

VOID KiIpiSendPacket(KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker, ULONG_PTR Context)
{
    PKPRCB prcb;
    KIRQL old;

    /* The rule holds with one processor too, so a caller that breaks it
     * is caught on the machine it was written on. */
    KiIpiCheckSender(KiIpiSendPacket, __builtin_return_address(0));
    Targets &= KeActiveProcessors;
    if (Targets == 0 || KeNumberProcessors == 1)
        return;
    /* SYNCH_LEVEL: no thread switch and no DPC on this processor may send
     * a second packet from the same KPRCB while this one is out. */
    KeRaiseIrql(SYNCH_LEVEL, &old);
    prcb = KeGetCurrentPrcb();
    Targets &= ~AFFINITY_MASK(prcb->Number);
    if (Targets != 0) {
        KiIpiPublishPacket(prcb, Targets, Worker, Context);
        KiIpiWaitPacket(prcb);
    }
    KeLowerIrql(old);
}

/* At IPI_LEVEL, from the interrupt dispatcher: run every packet waiting for us. */
VOID KiIpiInterrupt(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KAFFINITY self = AFFINITY_MASK(prcb->Number), senders;

    prcb->IpiCount++;
    senders = __atomic_exchange_n(&prcb->IpiRequests, 0, __ATOMIC_ACQ_REL);
    for (; senders != 0; senders &= senders - 1) {
        KI_IPI_PACKET *packet = &KiProcessorBlock[__builtin_ctzll(senders)]->IpiPacket;
        packet->Worker(packet->Context);
        __atomic_and_fetch(&packet->Pending, ~self, __ATOMIC_RELEASE);
    }
}

/*
 * KeIpiGenericCall: every processor runs the routine at IPI_LEVEL, all at
 * the same time - each arrives at a barrier first, so none runs it while
 * another is still doing something else. One call at a time (the lock),
 * taken at DISPATCH_LEVEL with interrupts on so a waiter still serves
 * other processors' packets.
 */
static KSPIN_LOCK KiGenericCallLock;
static struct {
    PKIPI_BROADCAST_WORKER Function;
    ULONG_PTR Context;
    volatile LONG Arrived;
    LONG Count;
} KiGenericCall;

static ULONG_PTR KiGenericCallRun(void)
{
    __atomic_add_fetch(&KiGenericCall.Arrived, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&KiGenericCall.Arrived, __ATOMIC_ACQUIRE) < KiGenericCall.Count)
        __asm__ __volatile__("pause");
    return KiGenericCall.Function(KiGenericCall.Context);
}

static ULONG_PTR KiGenericCallWorker(ULONG_PTR Unused)
{
    UNREFERENCED_PARAMETER(Unused);
    return KiGenericCallRun();
}

ULONG_PTR KeIpiGenericCall(PKIPI_BROADCAST_WORKER BroadcastFunction, ULONG_PTR Context)
{
    KIRQL old, synch;
    KAFFINITY others;
    PKPRCB prcb;
    ULONG_PTR result;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeIpiGenericCall);
    KiIpiCheckSender(KeIpiGenericCall, __builtin_return_address(0));
    KeAcquireSpinLock(&KiGenericCallLock, &old);
    KeRaiseIrql(SYNCH_LEVEL, &synch);
    prcb = KeGetCurrentPrcb();
    others = KeActiveProcessors & ~AFFINITY_MASK(prcb->Number);
    KiGenericCall.Function = BroadcastFunction;
    KiGenericCall.Context = Context;
    KiGenericCall.Count = (LONG)RtlNumberOfSetBitsUlongPtr(others) + 1;
    __atomic_store_n(&KiGenericCall.Arrived, 0, __ATOMIC_RELEASE);
    if (others != 0)
        KiIpiPublishPacket(prcb, others, KiGenericCallWorker, 0);
    KiWriteCr8(IPI_LEVEL);
    result = KiGenericCallRun();
    KiWriteCr8(SYNCH_LEVEL);
    KiIpiWaitPacket(prcb);
    KeLowerIrql(synch);
    KeReleaseSpinLock(&KiGenericCallLock, old);
    return result;
}

/* ---- TB and cache flushes on every processor ----------------------------- */

#define CR4_PGE (1ULL << 7)

static ULONG_PTR KiFlushEntireTbWorker(ULONG_PTR Unused)
{
    ULONG64 cr4 = __readcr4();

    UNREFERENCED_PARAMETER(Unused);
    /* Toggling CR4.PGE drops global translations too; a CR3 reload would not. */
    if (cr4 & CR4_PGE) {
        __writecr4(cr4 & ~CR4_PGE);
        __writecr4(cr4);
    } else {
        __writecr3(__readcr3());
    }
    return 0;
}

VOID KeFlushEntireTb(BOOLEAN Invalid, BOOLEAN AllProcessors)
{
    KIRQL old;

    UNREFERENCED_PARAMETER(Invalid);
    KI_CHECK_IRQL_AT_MOST(SYNCH_LEVEL, KeFlushEntireTb);
    KeRaiseIrql(KeGetCurrentIrql() > DISPATCH_LEVEL ? KeGetCurrentIrql() : DISPATCH_LEVEL, &old);
    KiFlushEntireTbWorker(0);
    if (AllProcessors)
        KiIpiSendPacket(KeActiveProcessors, KiFlushEntireTbWorker, 0);
    KeLowerIrql(old);
}

static ULONG_PTR KiInvalidateCachesWorker(ULONG_PTR Unused)
{
    UNREFERENCED_PARAMETER(Unused);
    __asm__ __volatile__("wbinvd" : : : "memory");
    return 0;
}

BOOLEAN KeInvalidateAllCaches(VOID)
{
    if (KeNumberProcessors == 1)
        KiInvalidateCachesWorker(0);    /* also early, with interrupts still off */
    else
        KeIpiGenericCall(KiInvalidateCachesWorker, 0);
    return TRUE;
}

/* ---- Freezing the others for a bug check ---------------------------------- */

BOOLEAN KiFreezeRequested(VOID)
{
    return KiFreezeRequest;
}

/* Interrupts off, for ever: this processor stops where it is. */
VOID KiFreezeExecution(VOID)
{
    _disable();
    KeGetCurrentPrcb()->Frozen = TRUE;
    for (;;)
        __halt();                       /* an NMI wakes it; it halts again */
}

#define KI_FREEZE_WAIT_MS 100

/*
 * From the bug check, interrupts off: stop every other processor with an
 * NMI and wait (briefly: a processor that does not answer is reported, the
 * blue screen goes on) until each says it is frozen. Then the console
 * lock is broken, as a frozen processor may have held it.
 */
/*
 * Raise Flag, NMI every other processor and wait (at most
 * KI_FREEZE_WAIT_MS) until each says it is frozen; the processors that
 * did not answer. Interrupts are off here.
 */
static KAFFINITY KiStopOthers(volatile BOOLEAN *Flag)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    KAFFINITY others = KeActiveProcessors & ~AFFINITY_MASK(prcb->Number), late = 0;
    ULONG64 start, limit;

    if (others == 0)
        return 0;
    *Flag = TRUE;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    HalpApicSendNmiToOthers();
    start = KeReadTimeStampCounter();
    limit = KeTimeStampFrequency / 1000 * KI_FREEZE_WAIT_MS;
    for (KAFFINITY t = others; t != 0; t &= t - 1) {
        PKPRCB target = KiProcessorBlock[__builtin_ctzll(t)];
        while (!target->Frozen && KeReadTimeStampCounter() - start < limit)
            __asm__ __volatile__("pause");
        if (!target->Frozen)
            late |= AFFINITY_MASK(target->Number);
    }
    return late;
}

VOID KiFreezeOtherProcessors(VOID)
{
    KAFFINITY late;

    if ((KeActiveProcessors & ~AFFINITY_MASK(KeGetCurrentPrcb()->Number)) == 0)
        return;
    late = KiStopOthers(&KiFreezeRequest);
    KiConsoleBreakLock();
    if (late != 0)
        DbgPrint("*** processors %llx did not stop for the bug check\n", (ULONG64)late);
}

/* ---- Freezing the others for the debugger, until `g` ----------------------- */

/*
 * The kd> break-in stops the others as a bug check does (an NMI reaches
 * them at any IRQL), but they wait in their NMI handler, spinning, and go
 * back to what they were doing when KiThawOtherProcessors clears the flag.
 * Interrupts are off here, at HIGH_LEVEL.
 */
VOID KiFreezeOtherProcessorsForDebugger(VOID)
{
    KAFFINITY late = KiStopOthers(&KiDebuggerFreeze);

    for (; late != 0; late &= late - 1)
        DbgPrint("kd: processor %u did not stop\n", (ULONG)__builtin_ctzll(late));
}

VOID KiThawOtherProcessors(VOID)
{
    __atomic_store_n(&KiDebuggerFreeze, FALSE, __ATOMIC_RELEASE);
}

/* From the NMI handler: TRUE (after the thaw) if this NMI was the debugger's freeze. */
BOOLEAN KiDebuggerFreezeHere(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    if (!__atomic_load_n(&KiDebuggerFreeze, __ATOMIC_ACQUIRE))
        return FALSE;
    prcb->Frozen = TRUE;
    while (__atomic_load_n(&KiDebuggerFreeze, __ATOMIC_ACQUIRE))
        __asm__ __volatile__("pause");
    prcb->Frozen = FALSE;
    return TRUE;
}

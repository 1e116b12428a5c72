/*
 * interrupt.c - interrupt objects and the dispatcher for vectors 32-255.
 *
 * A driver gets a vector and its DIRQL from HalGetInterruptVector (an IOAPIC
 * input: the same line always gets the same vector) or
 * HalpAllocateMessageVector (MSI, self-IPI), and connects its ISR with
 * IoConnectInterrupt; the vector is free again once the last object on it
 * is disconnected. Vector V belongs to IRQL V >> 4, as in x64
 * NT, so the local APIC itself holds the interrupt off while CR8 >= that
 * IRQL. When it arrives, KiDispatchInterruptVector raises CR8 to the
 * vector's IRQL, re-enables interrupts (so higher levels can still come
 * in), calls every ISR on the vector under its interrupt spin lock,
 * signals end-of-interrupt, and lowers the IRQL again - which is where
 * DPCs the ISR queued run, and where a thread switch happens.
 */
#include "ke_internal.h"
#include "../hal/acpi.h"

#define KI_FIRST_DEVICE_IRQL 3
#define KI_LAST_DEVICE_IRQL  11         /* 12 is SYNCH_LEVEL */
#define KI_MAX_INTERRUPTS    32
#define KI_NO_GSI            (~0u)

static LIST_ENTRY KiVectorChains[256];
/*
 * A vector's chain lock: the dispatcher holds it while it walks the chain
 * and calls the ISRs (at the vector's IRQL, so on this processor nothing
 * that changes the chain can run in between), and connect and disconnect
 * hold it, at that same IRQL, to change the chain. So a processor walking
 * a chain never sees an object being linked or unlinked, and once
 * IoDisconnectInterrupt has unlinked an object no processor is still
 * inside its ISR. Lock order: KiInterruptTableLock, then a chain lock,
 * then an interrupt object's own lock.
 */
static KSPIN_LOCK KiVectorChainLocks[256];
static KINTERRUPT KiInterruptObjects[KI_MAX_INTERRUPTS];
static KSPIN_LOCK KiInterruptTableLock;   /* the tables below and the chains' membership */
static BOOLEAN KiVectorAllocated[256];
static ULONG KiVectorGsi[256];            /* the I/O APIC input, or KI_NO_GSI */
static UCHAR KiVectorFlags[256];          /* bit 0 active low, bit 1 level */
/* A device's message vector (HalpReserveMessageVector): it stays the
 * device's across disconnects, since the device keeps sending it. */
static BOOLEAN KiVectorReserved[256];
static ULONG KiNextDeviceIrql = KI_LAST_DEVICE_IRQL;

VOID KiInitializeInterrupts(VOID)
{
    for (ULONG v = 0; v < 256; v++) {
        InitializeListHead(&KiVectorChains[v]);
        KiVectorGsi[v] = KI_NO_GSI;
    }
    KeInitializeSpinLock(&KiInterruptTableLock);
    KiVectorAllocated[KI_VECTOR_CLOCK] = TRUE;
    KiVectorAllocated[KI_VECTOR_SPURIOUS] = TRUE;
    KiVectorAllocated[KI_VECTOR_IPI] = TRUE;
}

/*
 * A free vector, table lock held; device IRQLs are handed out round robin
 * from 11 down to 3. A vector stays allocated until the last interrupt
 * object connected to it is disconnected (IoDisconnectInterrupt).
 */
static ULONG KiAllocateVectorLocked(ULONG Gsi, PKIRQL Irql)
{
    for (ULONG tries = 0; tries <= KI_LAST_DEVICE_IRQL - KI_FIRST_DEVICE_IRQL; tries++) {
        ULONG irql = KiNextDeviceIrql;
        KiNextDeviceIrql = irql == KI_FIRST_DEVICE_IRQL ? KI_LAST_DEVICE_IRQL : irql - 1;
        for (ULONG slot = 0; slot < 15; slot++) {   /* xF is left for software use */
            ULONG v = irql * 16 + slot;
            if (!KiVectorAllocated[v]) {
                KiVectorAllocated[v] = TRUE;
                KiVectorGsi[v] = Gsi;
                *Irql = (KIRQL)irql;
                return v;
            }
        }
    }
    return 0;
}

/* Table lock held: link or unlink Interrupt on its vector's chain, at the vector's IRQL. */
static void KiLinkInterrupt(PKINTERRUPT Interrupt, BOOLEAN Link)
{
    PKSPIN_LOCK chainLock = &KiVectorChainLocks[Interrupt->Vector];
    KIRQL old;

    KeRaiseIrql(Interrupt->Irql, &old);
    KeAcquireSpinLockAtDpcLevel(chainLock);
    if (Link)
        InsertTailList(&KiVectorChains[Interrupt->Vector], &Interrupt->InterruptListEntry);
    else
        RemoveEntryList(&Interrupt->InterruptListEntry);
    KeReleaseSpinLockFromDpcLevel(chainLock);
    KeLowerIrql(old);
}

/*
 * One input line, one vector: every driver of a shared line (and every
 * call for the same line) gets the vector the line already has, so the
 * objects chain on it and the I/O APIC entry is programmed once.
 */
ULONG HalGetInterruptVector(INTERFACE_TYPE InterfaceType, ULONG BusNumber,
                            ULONG BusInterruptLevel, ULONG BusInterruptVector, PKIRQL Irql,
                            PKAFFINITY Affinity)
{
    ULONG gsi = BusInterruptLevel, vector = 0;
    BOOLEAN activeLow = FALSE, level = FALSE;
    KIRQL old;

    UNREFERENCED_PARAMETER(BusNumber);
    UNREFERENCED_PARAMETER(BusInterruptVector);
    if (InterfaceType == Isa)
        HalpAcpiIsaIrqToGsi(BusInterruptLevel, &gsi, &activeLow, &level);
    else if (InterfaceType == PCIBus) {
        activeLow = TRUE;               /* PCI INTx: level-triggered, active low */
        level = TRUE;
    }
    if (gsi == KI_NO_GSI)
        return 0;
    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    for (ULONG v = KI_FIRST_DEVICE_IRQL * 16; v < (KI_LAST_DEVICE_IRQL + 1) * 16; v++)
        if (KiVectorAllocated[v] && KiVectorGsi[v] == gsi) {
            vector = v;
            *Irql = (KIRQL)(v >> 4);
            break;
        }
    if (vector == 0) {
        vector = KiAllocateVectorLocked(gsi, Irql);
        if (vector != 0)
            KiVectorFlags[vector] = (UCHAR)((activeLow ? 1 : 0) | (level ? 2 : 0));
    }
    KeReleaseSpinLock(&KiInterruptTableLock, old);
    if (vector != 0 && Affinity)
        *Affinity = 1;
    return vector;
}

ULONG HalpAllocateMessageVector(PKIRQL Irql)
{
    KIRQL old;
    ULONG vector;

    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    vector = KiAllocateVectorLocked(KI_NO_GSI, Irql);
    KeReleaseSpinLock(&KiInterruptTableLock, old);
    return vector;
}

/*
 * A vector for one message of a device (MSI/MSI-X), reserved until
 * HalpReleaseMessageVector: unlike HalpAllocateMessageVector's, it is not
 * given back when the last ISR disconnects, because the device has been
 * programmed with it and may still send it.
 */
ULONG HalpReserveMessageVector(PKIRQL Irql)
{
    KIRQL old;
    ULONG vector;

    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    vector = KiAllocateVectorLocked(KI_NO_GSI, Irql);
    if (vector != 0)
        KiVectorReserved[vector] = TRUE;
    KeReleaseSpinLock(&KiInterruptTableLock, old);
    return vector;
}

/* Give a reserved vector back; FALSE if it was not reserved or an ISR is
 * still connected to it. */
BOOLEAN HalpReleaseMessageVector(ULONG Vector)
{
    KIRQL old;
    BOOLEAN released = FALSE;

    if (Vector > 255)
        return FALSE;
    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    if (KiVectorReserved[Vector] && IsListEmpty(&KiVectorChains[Vector])) {
        KiVectorReserved[Vector] = FALSE;
        KiVectorAllocated[Vector] = FALSE;
        released = TRUE;
    }
    KeReleaseSpinLock(&KiInterruptTableLock, old);
    return released;
}

NTSTATUS IoConnectInterrupt(PKINTERRUPT *InterruptObject, PKSERVICE_ROUTINE ServiceRoutine,
                            PVOID ServiceContext, PKSPIN_LOCK SpinLock, ULONG Vector,
                            KIRQL Irql, KIRQL SynchronizeIrql, KINTERRUPT_MODE InterruptMode,
                            BOOLEAN ShareVector, KAFFINITY ProcessorEnableMask,
                            BOOLEAN FloatingSave)
{
    PKINTERRUPT interrupt = NULL;
    KIRQL old;

    UNREFERENCED_PARAMETER(FloatingSave);
    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoConnectInterrupt);
    if (Vector < 32 || Vector > 255 || Vector == KI_VECTOR_CLOCK ||
        Irql != (KIRQL)(Vector >> 4) || SynchronizeIrql < Irql || SynchronizeIrql > HIGH_LEVEL ||
        (ProcessorEnableMask & 1) == 0 || ServiceRoutine == NULL)
        return STATUS_INVALID_PARAMETER;

    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    if (!KiVectorAllocated[Vector]) {    /* never handed out, or given back */
        KeReleaseSpinLock(&KiInterruptTableLock, old);
        return STATUS_INVALID_PARAMETER;
    }
    if (!IsListEmpty(&KiVectorChains[Vector])) {
        PKINTERRUPT first = CONTAINING_RECORD(KiVectorChains[Vector].Flink, KINTERRUPT,
                                              InterruptListEntry);
        if (!ShareVector || !first->ShareVector || first->Mode != InterruptMode) {
            KeReleaseSpinLock(&KiInterruptTableLock, old);
            return STATUS_INVALID_PARAMETER;
        }
    }
    for (ULONG i = 0; i < KI_MAX_INTERRUPTS; i++)
        if (!KiInterruptObjects[i].Connected) {
            interrupt = &KiInterruptObjects[i];
            break;
        }
    if (interrupt == NULL) {
        KeReleaseSpinLock(&KiInterruptTableLock, old);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(interrupt, 0, sizeof(*interrupt));
    interrupt->ServiceRoutine = ServiceRoutine;
    interrupt->ServiceContext = ServiceContext;
    KeInitializeSpinLock(&interrupt->SpinLock);
    interrupt->ActualLock = SpinLock ? SpinLock : &interrupt->SpinLock;
    interrupt->Vector = Vector;
    interrupt->Irql = Irql;
    interrupt->SynchronizeIrql = SynchronizeIrql;
    interrupt->Mode = InterruptMode;
    interrupt->ShareVector = ShareVector;
    interrupt->Gsi = KiVectorGsi[Vector];
    interrupt->Connected = TRUE;
    KiLinkInterrupt(interrupt, TRUE);
    KeReleaseSpinLock(&KiInterruptTableLock, old);

    if (interrupt->Gsi != KI_NO_GSI)
        HalpIoApicProgram(interrupt->Gsi, Vector, KiVectorFlags[Vector] & 1,
                          (KiVectorFlags[Vector] & 2) != 0, FALSE);
    *InterruptObject = interrupt;
    return STATUS_SUCCESS;
}

/*
 * The last object to leave a vector masks its input line and gives the
 * vector back, so connecting and disconnecting for ever never runs out of
 * vectors - except a line's (an I/O APIC input): a PDO's resource list
 * names that vector and a driver stopped or removed connects to it again
 * at its next start, so it stays the line's (HalGetInterruptVector hands
 * it out again for that input: one vector per line at most).
 */
VOID IoDisconnectInterrupt(PKINTERRUPT Interrupt)
{
    ULONG vector = Interrupt->Vector;
    KIRQL old;
    BOOLEAN last;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoDisconnectInterrupt);
    /* Once unlinked under the chain lock, its ISR runs nowhere any more. */
    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    KiLinkInterrupt(Interrupt, FALSE);
    last = IsListEmpty(&KiVectorChains[vector]);
    KeReleaseSpinLock(&KiInterruptTableLock, old);
    if (!last) {
        Interrupt->Connected = FALSE;
        return;
    }
    if (Interrupt->Gsi != KI_NO_GSI)
        HalpIoApicProgram(Interrupt->Gsi, vector, FALSE, FALSE, TRUE);
    KeAcquireSpinLock(&KiInterruptTableLock, &old);
    if (IsListEmpty(&KiVectorChains[vector]) && !KiVectorReserved[vector] &&   /* nobody connected meanwhile */
        KiVectorGsi[vector] == KI_NO_GSI)
        KiVectorAllocated[vector] = FALSE;
    Interrupt->Connected = FALSE;
    KeReleaseSpinLock(&KiInterruptTableLock, old);
}

BOOLEAN KeSynchronizeExecution(PKINTERRUPT Interrupt, PKSYNCHRONIZE_ROUTINE SynchronizeRoutine,
                               PVOID SynchronizeContext)
{
    KIRQL old = KeAcquireInterruptSpinLock(Interrupt);
    BOOLEAN result = SynchronizeRoutine(SynchronizeContext);

    KeReleaseInterruptSpinLock(Interrupt, old);
    return result;
}

KIRQL KeAcquireInterruptSpinLock(PKINTERRUPT Interrupt)
{
    KIRQL old;

    KeRaiseIrql(Interrupt->SynchronizeIrql, &old);
    KeAcquireSpinLockAtDpcLevel(Interrupt->ActualLock);
    return old;
}

VOID KeReleaseInterruptSpinLock(PKINTERRUPT Interrupt, KIRQL OldIrql)
{
    KeReleaseSpinLockFromDpcLevel(Interrupt->ActualLock);
    KeLowerIrql(OldIrql);
}

/*
 * One ISR, at the vector's IRQL with interrupts on. The ISR runs at its
 * interrupt object's SynchronizeIrql, holding its spin lock, exactly as
 * KeSynchronizeExecution runs a routine: objects that share a lock name
 * the highest of their IRQLs there, so none of them can interrupt another
 * that holds the lock on this processor. An ISR that returns at another
 * IRQL is NT's IRQL_UNEXPECTED_VALUE (0xC8) with UniqueValue 3: parameter
 * 1 = current << 16 | expected << 8 | 3, then the ServiceRoutine and the
 * KINTERRUPT.
 */
static BOOLEAN KiCallServiceRoutine(PKINTERRUPT Interrupt, KIRQL VectorIrql)
{
    KIRQL sync = Interrupt->SynchronizeIrql, after;
    BOOLEAN mine;

    if (sync != VectorIrql)
        KiWriteCr8(sync);               /* above DISPATCH_LEVEL: no DPCs to drain */
    KeAcquireSpinLockAtDpcLevel(Interrupt->ActualLock);
    mine = Interrupt->ServiceRoutine(Interrupt, Interrupt->ServiceContext);
    after = KeGetCurrentIrql();
    if (after != sync)
        KeBugCheckEx(IRQL_UNEXPECTED_VALUE, KI_IRQL_UNEXPECTED(after, sync, KI_IRQL_UNEXPECTED_ISR),
                     (ULONG_PTR)Interrupt->ServiceRoutine, (ULONG_PTR)Interrupt, 0);
    KeReleaseSpinLockFromDpcLevel(Interrupt->ActualLock);
    Interrupt->Count++;
    if (sync != VectorIrql)
        KiWriteCr8(VectorIrql);
    return mine;
}

/* From KiDispatchTrap, interrupts off, for vectors 32-255. */
BOOLEAN KiDispatchInterruptVector(PKTRAP_FRAME TrapFrame)
{
    ULONG vector = (ULONG)TrapFrame->Vector;
    KIRQL old = KiGetCurrentIrqlCopy();
    PLIST_ENTRY e;

    if (vector == KI_VECTOR_SPURIOUS)
        return TRUE;                    /* no EOI for a spurious interrupt */
    KiWriteCr8(vector >> 4);
    KeGetCurrentPrcb()->InterruptCount++;
    _enable();
    if (vector == KI_VECTOR_CLOCK) {
        KiClockInterrupt();
        /* NT's KeUpdateSystemTime polls for a break-in each tick; here
         * processor 0 does, and the shell runs on it (kernel/kd/kdbreak.c). */
        if (KeGetCurrentPrcb()->Number == 0 && KdPollBreakIn())
            KdEnterDebugger(TrapFrame, 0, 0, old, KD_REASON_BREAKIN);
    } else if (vector == KI_VECTOR_IPI) {
        KiIpiInterrupt();
    } else {
        KeAcquireSpinLockAtDpcLevel(&KiVectorChainLocks[vector]);
        for (e = KiVectorChains[vector].Flink; e != &KiVectorChains[vector]; e = e->Flink) {
            PKINTERRUPT interrupt = CONTAINING_RECORD(e, KINTERRUPT, InterruptListEntry);
            if (KiCallServiceRoutine(interrupt, (KIRQL)(vector >> 4)) && interrupt->Mode == Latched)
                break;
        }
        KeReleaseSpinLockFromDpcLevel(&KiVectorChainLocks[vector]);
    }
    _disable();
    HalpApicEoi();
    _enable();
    KeLowerIrql(old);                   /* DPCs and thread switches happen here */
    _disable();
    return TRUE;
}

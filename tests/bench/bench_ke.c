/*
 * bench_ke.c - the cost of the kernel's basic synchronization.
 *
 *   irql.floor               a bare CR8 write + read pair (what x64 NT pays per raise;
 *                            Mica's raise to DISPATCH_LEVEL writes no CR8)
 *   irql.raise_lower         KeRaiseIrql(DISPATCH) + KeLowerIrql
 *   spinlock.acquire_release KeAcquireSpinLock + KeReleaseSpinLock (uncontended)
 *   dpc.latency              KeInsertQueueDpc at DISPATCH_LEVEL -> the routine
 *                            running after KeLowerIrql (TSC at insert -> in routine)
 *   isr.latency              self-IPI sent -> first instruction of the ISR
 *   event.pingpong           one round trip between two threads through two
 *                            synchronization events (two waits, two switches)
 * Each figure is a median of many runs, in TSC cycles. Goals (issue 5):
 * raise_lower within 2x the floor, spin lock within 3x.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../kbench.h"

#define BATCH 64
#define SAMPLES 101

static ULONG64 KbSamples[SAMPLES];

KBENCH(irql)
{
    KIRQL old;

    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++) {
            /* Raw: KiWriteCr8 leaves CR8 alone below device levels. */
            __asm__ __volatile__("mov %0, %%cr8" : : "r"((ULONG64)DISPATCH_LEVEL) : "memory");
            (void)__readcr8();
            __asm__ __volatile__("mov %0, %%cr8" : : "r"((ULONG64)PASSIVE_LEVEL) : "memory");
            (void)__readcr8();
        }
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    KbenchReport("irql.floor", KbenchMedian(KbSamples, SAMPLES), "cycles");

    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++) {
            KeRaiseIrql(DISPATCH_LEVEL, &old);
            KeLowerIrql(old);
        }
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    KbenchReport("irql.raise_lower", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

KBENCH(spinlock)
{
    KSPIN_LOCK lock;
    KIRQL old;

    KeInitializeSpinLock(&lock);
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < BATCH; i++) {
            KeAcquireSpinLock(&lock, &old);
            KeReleaseSpinLock(&lock, old);
        }
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / BATCH;
    }
    KbenchReport("spinlock.acquire_release", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

static volatile ULONG64 KbStamp;

static VOID KbDpcRoutine(PKDPC Dpc, PVOID Context, PVOID A1, PVOID A2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(A1);
    UNREFERENCED_PARAMETER(A2);
    KbStamp = KeReadTimeStampCounter();
}

KBENCH(dpc)
{
    KDPC dpc;
    KIRQL old;

    KeInitializeDpc(&dpc, KbDpcRoutine, NULL);
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        t0 = KeReadTimeStampCounter();
        KeInsertQueueDpc(&dpc, NULL, NULL);
        KeLowerIrql(old);               /* the DPC runs here */
        KbSamples[s] = KbStamp - t0;
    }
    KbenchReport("dpc.latency", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

static BOOLEAN KbIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KbStamp = KeReadTimeStampCounter();
    return TRUE;
}

KBENCH(isr)
{
    PKINTERRUPT interrupt;
    KIRQL irql;
    ULONG vector = HalpAllocateMessageVector(&irql);

    if (vector == 0 || !NT_SUCCESS(IoConnectInterrupt(&interrupt, KbIsr, NULL, NULL, vector, irql,
                                                      irql, Latched, FALSE, 1, FALSE)))
        return;
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        HalpRequestSelfInterrupt(vector);
        while (KbStamp < t0)
            ;
        KbSamples[s] = KbStamp - t0;
    }
    IoDisconnectInterrupt(interrupt);
    KbenchReport("isr.latency", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

static KEVENT KbPing, KbPong;
static volatile BOOLEAN KbStop;

static VOID KbPongThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    for (;;) {
        KeWaitForSingleObject(&KbPing, Executive, KernelMode, FALSE, NULL);
        if (KbStop)
            break;
        KeSetEvent(&KbPong, 0, FALSE);
    }
}

KBENCH(event)
{
    HANDLE handle;
    PVOID thread;

    KeInitializeEvent(&KbPing, SynchronizationEvent, FALSE);
    KeInitializeEvent(&KbPong, SynchronizationEvent, FALSE);
    KbStop = FALSE;
    if (!NT_SUCCESS(PsCreateSystemThread(&handle, 0, NULL, NULL, NULL, KbPongThread, NULL)))
        return;
    for (ULONG s = 0; s < SAMPLES; s++) {
        ULONG64 t0 = KeReadTimeStampCounter();
        for (ULONG i = 0; i < 8; i++) {
            KeSetEvent(&KbPing, 0, FALSE);
            KeWaitForSingleObject(&KbPong, Executive, KernelMode, FALSE, NULL);
        }
        KbSamples[s] = (KeReadTimeStampCounter() - t0) / 8;
    }
    KbStop = TRUE;
    KeSetEvent(&KbPing, 0, FALSE);
    ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &thread, NULL);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    ZwClose(handle);
    KbenchReport("event.pingpong", KbenchMedian(KbSamples, SAMPLES), "cycles");
}

/*
 * kdcmd_spin.c - kd>'s `.spin CPU` / `.spin stop`: a thread that keeps a
 * processor busy at DISPATCH_LEVEL, counting, until told to stop.
 *
 * It is there to watch the break-in freeze a processor that nothing else
 * can interrupt: at DISPATCH_LEVEL the thread is never preempted, so only
 * the NMI the debugger sends stops it. Break in (Ctrl-C), and !prcb CPU
 * says "(frozen)", !irql CPU says DISPATCH_LEVEL, and `dq` of the counter
 * shows the same value however long you wait; after `g` it counts again.
 */
#include "kd_internal.h"

static volatile BOOLEAN KdpSpinStop;
static volatile BOOLEAN KdpSpinRunning;
volatile ULONG64 KdpSpinCounter;            /* what the spinning thread counts: dq it */

static VOID KdpSpinThread(PVOID Context)
{
    KIRQL old;

    UNREFERENCED_PARAMETER(Context);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    while (!KdpSpinStop) {
        KdpSpinCounter++;
        YieldProcessor();
    }
    KeLowerIrql(old);
    KdpSpinRunning = FALSE;
}

static NTSTATUS KdpCmdSpin(ULONG Argc, PCHAR Argv[])
{
    LARGE_INTEGER interval = {.QuadPart = -10 * 10000};     /* 10 ms */
    HANDLE handle;
    ULONG64 cpu;
    NTSTATUS status;

    if (Argc == 2 && strcmp(Argv[1], "stop") == 0) {
        if (!KdpSpinRunning)
            return KdpError(STATUS_INVALID_PARAMETER, "no .spin thread runs");
        KdpSpinStop = TRUE;
        while (KdpSpinRunning)
            KeDelayExecutionThread(KernelMode, FALSE, &interval);
        DbgPrint("stopped; the counter reached %llu\n", KdpSpinCounter);
        return STATUS_SUCCESS;
    }
    if (Argc != 2 || !KdpParseNumber(Argv[1], &cpu))
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .spin PROCESSOR | stop");
    /* The shell's thread may run anywhere: it moves off a processor the
     * spinner holds. Processor 0 must stay free to see Ctrl-C (kdbreak.c). */
    if (cpu == 0 || cpu >= (ULONG64)KeNumberProcessors)
        return KdpError(STATUS_INVALID_PARAMETER, "processor %llx: give a started processor other than 0",
                        cpu);
    if (KdpSpinRunning)
        return KdpError(STATUS_INVALID_PARAMETER, "a .spin thread runs already (.spin stop)");
    KdpSpinStop = FALSE;
    KdpSpinRunning = TRUE;
    status = PspCreateSystemThread(&handle, KdpSpinThread, NULL, AFFINITY_MASK(cpu));
    if (!NT_SUCCESS(status)) {
        KdpSpinRunning = FALSE;
        return KdpError(status, "no thread (status %08x)", (ULONG)status);
    }
    ZwClose(handle);
    DbgPrint("spinning on processor %llu at DISPATCH_LEVEL; counter at %016llx\n", cpu,
             (ULONG64)&KdpSpinCounter);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND(".spin", KD_GROUP_TEACH, "PROCESSOR | stop",
                  "keep a processor busy at DISPATCH_LEVEL (to watch a break-in freeze it)", KdpCmdSpin);

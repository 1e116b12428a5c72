/*
 * kbench.c - runs the KBENCH routines that bench=PATTERN selects.
 *
 * Prints the TSC frequency first (so cycles convert to time) and
 * boot.ready (cycles from the 64-bit entry to the ready line), then each
 * selected routine's figures. The QEMU runner adds the host-side
 * boot.wall_ms and writes build/bench/results.tsv.
 */
#include "../kernel/kd/kd_internal.h"
#include "kbench.h"
#include "ktest.h"

extern const KBENCH_CASE __start_kbench_cases[];
extern const KBENCH_CASE __stop_kbench_cases[];
extern ULONG64 KiReadyTsc;

VOID KbenchReport(PCSTR Name, ULONG64 Value, PCSTR Unit)
{
    DbgPrint("bench %s %llu %s\n", Name, Value, Unit);
}

ULONG64 KbenchMedian(ULONG64 *Samples, ULONG Count)
{
    /* Insertion sort: sample counts are small and this runs off the clock. */
    for (ULONG i = 1; i < Count; i++) {
        ULONG64 v = Samples[i];
        ULONG j = i;
        while (j > 0 && Samples[j - 1] > v) {
            Samples[j] = Samples[j - 1];
            j--;
        }
        Samples[j] = v;
    }
    return Count ? Samples[Count / 2] : 0;
}

/* "memset_4k" -> suite "memset", name "4k" so "memset" or "memset.*" match. */
static BOOLEAN KbenchMatch(PCSTR Pattern, PCSTR Ident)
{
    char suite[64], name[64];
    SIZE_T i = 0, j = 0;

    while (Ident[i] && Ident[i] != '_' && i < sizeof(suite) - 1) {
        suite[i] = Ident[i];
        i++;
    }
    suite[i] = 0;
    if (Ident[i] == '_')
        i++;
    for (; Ident[i] && j < sizeof(name) - 1; i++)
        name[j++] = Ident[i] == '_' ? '.' : Ident[i];
    name[j] = 0;
    return KtestMatch(Pattern, suite, name);
}

static BOOLEAN KbenchRunIfRequested(VOID)
{
    static char pattern[256];

    if (!KeQueryBootOption("bench", pattern, sizeof(pattern)))
        return FALSE;
    DbgPrint("kbench: running benchmarks matching '%s'\n", pattern);
    KbenchReport("tsc.hz", KeTimeStampFrequency, "Hz");
    KbenchReport("boot.ready", KiReadyTsc - KiBootTsc, "cycles");
    for (const KBENCH_CASE *b = __start_kbench_cases; b < __stop_kbench_cases; b++)
        if (KbenchMatch(pattern, b->Name))
            b->Routine();
    DbgPrint("kbench: done\n");
    return TRUE;
}

KI_STARTUP_TASK("bench", KbenchRunIfRequested);

/*
 * The kd> shell's `.bench PATTERN` (registered here, as .test is in
 * ktest.c, so the kernel never names the harness): the benchmarks that
 * match run in the shell's thread and print their figures as a bench= boot
 * does, so a student can time the routine they just changed, or break in
 * GDB inside it.
 */
static NTSTATUS KbenchShellCommand(ULONG Argc, PCHAR Argv[])
{
    ULONG ran = 0;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .bench PATTERN (suite.name, * and ? match)");
    for (const KBENCH_CASE *b = __start_kbench_cases; b < __stop_kbench_cases; b++) {
        if (!KbenchMatch(Argv[1], b->Name))
            continue;
        if (ran++ == 0)
            KbenchReport("tsc.hz", KeTimeStampFrequency, "Hz");
        b->Routine();
    }
    if (ran == 0)
        return KdpError(STATUS_NOT_FOUND, "no benchmark matches '%s'", Argv[1]);
    DbgPrint("kbench: %u routine%s run\n", ran, ran == 1 ? "" : "s");
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND(".bench", KD_GROUP_TEACH, "PATTERN", "run the in-kernel benchmarks that match", KbenchShellCommand);

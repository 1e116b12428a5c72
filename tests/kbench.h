/*
 * kbench.h - in-kernel benchmarks.
 *
 * KBENCH(ident) declares a benchmark routine; it runs when bench=PATTERN
 * on the command line matches one of the names it reports under (the
 * routine's ident with '_' turned into '.' is what PATTERN is matched
 * against). A routine measures with the TSC, takes the median of repeated
 * runs, and reports each figure with KbenchReport, which prints
 *     bench <name> <value> <unit>
 * for the runner (tests/runner.py) to gather into build/bench/results.tsv.
 * Benchmarks are not tests: nothing here passes or fails on a figure.
 */
#ifndef MICA_KBENCH_H
#define MICA_KBENCH_H

#include "../kernel/ke/ke.h"

typedef struct _KBENCH_CASE {
    const char *Name;           /* "memset.4k"-style, from the ident */
    void (*Routine)(void);
} KBENCH_CASE;

#define KBENCH(Ident)                                                          \
    static void kbench_##Ident(void);                                        \
    static const KBENCH_CASE kbench_case_##Ident                             \
        __attribute__((used, section("kbench_cases"), aligned(8))) = {       \
            #Ident, kbench_##Ident};                                         \
    static void kbench_##Ident(void)

VOID KbenchReport(PCSTR Name, ULONG64 Value, PCSTR Unit);
/* Median of Count samples (sorts Samples in place). */
ULONG64 KbenchMedian(ULONG64 *Samples, ULONG Count);

#endif

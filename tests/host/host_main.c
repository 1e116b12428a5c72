/*
 * host_main.c - runner for host unit tests.
 *
 * The hardware-free parts of Mica (printf, command line, multiboot parsing,
 * the contiguous-run tree, ...) are compiled natively together with their
 * KTEST cases and this file, under AddressSanitizer and UBSan. The output is
 * the same as the in-kernel runner's: one ok/not ok line per test (a skipped
 * one "ok N - suite.name # SKIP reason") and a closing
 * "host: N passed, N failed, N skipped" line. Usage: host-tests [PATTERN].
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include "../ktest.h"
#include "../../kernel/ke/ke.h"

extern const KTEST_CASE __start_ktest_cases[];
extern const KTEST_CASE __stop_ktest_cases[];

int KtestCurrentFailed;
static const char *KtestSkipReason;

void KtestPrint(const char *Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    vprintf(Format, ap);
    va_end(ap);
    fflush(stdout);
}

void KtestFail(const char *File, int Line, const char *Format, ...)
{
    va_list ap;
    KtestCurrentFailed = 1;
    printf("#   %s:%d: ", File, Line);
    va_start(ap, Format);
    vprintf(Format, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* The kernel's DbgPrint, for hardware-free code that logs (multiboot.c). */
ULONG DbgPrint(PCSTR Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    vprintf(Format, ap);
    va_end(ap);
    return 0;
}

void KtestExpectBugCheck(ULONG Code, ULONG64 P1, ULONG64 P2, ULONG64 P3, ULONG64 P4)
{
    (void)Code; (void)P1; (void)P2; (void)P3; (void)P4;
    fprintf(stderr, "bugcheck tests run only in the kernel\n");
    abort();
}

void KtestSkip(const char *Reason)
{
    KtestSkipReason = Reason;
}

int main(int argc, char **argv)
{
    const char *pattern = argc > 1 ? argv[1] : "all";
    const KTEST_CASE *t;
    int n = 0, passed = 0, failed = 0, skipped = 0;

    for (t = __start_ktest_cases; t < __stop_ktest_cases; t++) {
        if ((t->Flags & KTEST_F_ALONE) || !KtestMatch(pattern, t->Suite, t->Name))
            continue;
        KtestCurrentFailed = 0;
        KtestSkipReason = NULL;
        LONG labTodoBefore = KiLabTodoCount;
        t->Routine();
        KtestLabTodoCheck(labTodoBefore);       /* a stripped lab's stub ran: failed */
        n++;
        if (KtestCurrentFailed) {
            failed++;
            printf("not ok %d - %s.%s\n", n, t->Suite, t->Name);
        } else if (KtestSkipReason) {
            skipped++;
            printf("ok %d - %s.%s # SKIP %s\n", n, t->Suite, t->Name, KtestSkipReason);
        } else {
            passed++;
            printf("ok %d - %s.%s\n", n, t->Suite, t->Name);
        }
        fflush(stdout);
    }
    printf("host: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed || n == 0 ? 1 : 0;
}

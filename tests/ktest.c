/*
 * ktest.c - the in-kernel test runner.
 *
 * KtestRunIfRequested is a start-up task (KI_STARTUP_TASK): with
 * test=PATTERN on the command line it takes the boot once the kernel is ready. Every KTEST whose
 * "suite.name" matches runs in link order and prints one TAP-style line:
 *     ok 3 - printf.widths
 *     not ok 4 - cmdline.quotes
 * A skipped test (KTEST_SKIP) prints "ok 5 - contig.above_4gib # SKIP reason",
 * as TAP does, and counts apart. The run ends with
 * "N passed, N failed, N skipped" and a QEMU exit status that says pass
 * (0x10 -> 33) or fail (0x11 -> 35) through isa-debug-exit.
 *
 * Bug-check tests never run in a batch (they end the boot). A batch lists
 * them ("# bugcheck-test suite.name 0xCODE"), and the QEMU runner boots
 * each one alone with test=suite.name; the kernel then arms the expected
 * stop code and parameters and KtestOnBugCheck, a bug-check callback
 * (KeRegisterBugCheckCallback) run after the blue screen, decides pass or
 * fail. Reset tests are listed the same way ("# reset-test suite.name");
 * booted alone they reset the machine, and only the runner can tell that
 * they passed.
 *
 * A test during which a stripped lab's LAB_TODO ran fails ("not
 * implemented", KtestLabTodoCheck), batch, alone and bug-check tests alike.
 */
#include "../kernel/ke/ke_internal.h"
#include "../kernel/kd/kd_internal.h"
#include "ktest.h"

#define KTEST_PASS 0x10
#define KTEST_FAIL 0x11

extern const KTEST_CASE __start_ktest_cases[];
extern const KTEST_CASE __stop_ktest_cases[];

int KtestCurrentFailed;
static const KTEST_CASE *KtestCurrent;
static ULONG KtestNumber, KtestPassed, KtestFailed, KtestSkipped, KtestListed;
static BOOLEAN KtestActive;
static const char *KtestSkipReason;
static void (*KtestBugCheckCheck)(void);
static LONG KtestLabTodoBefore;         /* KiLabTodoCount when the test started */

static struct {
    BOOLEAN Armed;
    ULONG Code;
    ULONG64 P[4];
} KtestExpected;

void KtestPrint(const char *Format, ...)
{
    va_list ap;
    va_start(ap, Format);
    vDbgPrintEx(0, 0, Format, ap);
    va_end(ap);
}

void KtestFail(const char *File, int Line, const char *Format, ...)
{
    va_list ap;

    KtestCurrentFailed = 1;
    DbgPrint("#   %s:%d: ", File, Line);
    va_start(ap, Format);
    vDbgPrintEx(0, 0, Format, ap);
    va_end(ap);
    DbgPrint("\n");
}

void KtestExpectBugCheck(ULONG Code, ULONG64 P1, ULONG64 P2, ULONG64 P3, ULONG64 P4)
{
    KtestExpected.Code = Code;
    KtestExpected.P[0] = P1;
    KtestExpected.P[1] = P2;
    KtestExpected.P[2] = P3;
    KtestExpected.P[3] = P4;
    KtestExpected.Armed = TRUE;
}

void KtestAtBugCheck(void (*Check)(void))
{
    KtestBugCheckCheck = Check;
}

void KtestSkip(const char *Reason)
{
    KtestSkipReason = Reason;
}

static __attribute__((noreturn)) void KtestFinish(void)
{
    DbgPrint("%u passed, %u failed, %u skipped\n", KtestPassed, KtestFailed, KtestSkipped);
    /* A batch that only skips, or only lists tests booted separately, passes too. */
    HalpQemuExit(KtestFailed == 0 && KtestPassed + KtestSkipped + KtestListed > 0 ? KTEST_PASS
                                                                                : KTEST_FAIL);
}

/* SkipReason: the test skipped itself (a test that failed first is a failure). */
static void KtestRecord(BOOLEAN Passed, PCSTR Note, PCSTR SkipReason)
{
    BOOLEAN skipped = Passed && SkipReason != NULL;

    KtestNumber++;
    if (skipped)
        KtestSkipped++;
    else if (Passed)
        KtestPassed++;
    else
        KtestFailed++;
    if (skipped)
        Note = SkipReason;
    DbgPrint("%sok %u - %s.%s%s%s\n", Passed ? "" : "not ", KtestNumber, KtestCurrent->Suite,
             KtestCurrent->Name, skipped ? " # SKIP " : Note ? " # " : "", Note ? Note : "");
}

static VOID KtestOnBugCheck(PVOID Buffer, ULONG Length)
{
    ULONG Code = (ULONG)KiBugCheckData[0];
    ULONG64 got[4] = {KiBugCheckData[1], KiBugCheckData[2], KiBugCheckData[3],
                      KiBugCheckData[4]};
    BOOLEAN match;

    UNREFERENCED_PARAMETER(Buffer);
    UNREFERENCED_PARAMETER(Length);
    if (!KtestActive || KtestCurrent == NULL)
        return;
    KtestActive = FALSE;            /* a fault from here on must not recurse */
    if (KtestBugCheckCheck != NULL)
        KtestBugCheckCheck();
    KtestLabTodoCheck(KtestLabTodoBefore);
    match = KtestExpected.Armed && KtestExpected.Code == Code;
    for (int i = 0; i < 4 && match; i++)
        if (KtestExpected.P[i] != KTEST_ANY && KtestExpected.P[i] != got[i]) {
            DbgPrint("#   bug check parameter %d: expected 0x%llx, got 0x%llx\n", i + 1,
                     KtestExpected.P[i], got[i]);
            match = FALSE;
        }
    if (!KtestExpected.Armed)
        DbgPrint("#   unexpected bug check 0x%x (%s) during the test\n", Code, KiBugCheckCodeName(Code));
    else if (KtestExpected.Code != Code)
        DbgPrint("#   expected bug check 0x%x (%s), got 0x%x (%s)\n", KtestExpected.Code,
                 KiBugCheckCodeName(KtestExpected.Code), Code, KiBugCheckCodeName(Code));
    KtestRecord(match && !KtestCurrentFailed, match ? "bug check as expected" : NULL, NULL);
    KtestFinish();
}

/* Every batch test (not one that must boot alone) matching Pattern, in link order. */
static void KtestRunBatch(PCSTR Pattern)
{
    for (const KTEST_CASE *t = __start_ktest_cases; t < __stop_ktest_cases; t++) {
        if (!KtestMatch(Pattern, t->Suite, t->Name) || (t->Flags & KTEST_F_ALONE))
            continue;
        KtestCurrent = t;
        KtestCurrentFailed = 0;
        KtestSkipReason = NULL;
        KtestExpected.Armed = FALSE;
        KtestActive = TRUE;
        KtestLabTodoBefore = KiLabTodoCount;
        t->Routine();
        KtestActive = FALSE;
        KtestLabTodoCheck(KtestLabTodoBefore);
        /* A test that pinned itself and returned early leaves no trace. */
        if (KeGetCurrentThread()->SystemAffinityActive)
            KeRevertToUserAffinityThreadEx(0);
        KtestRecord(!KtestCurrentFailed, NULL, KtestSkipReason);
    }
}

static BOOLEAN KtestRunIfRequested(VOID)
{
    static char pattern[256];
    static KBUGCHECK_CALLBACK_RECORD record;
    const KTEST_CASE *t, *only = NULL;
    ULONG selected = 0;

    if (!KeQueryBootOption("test", pattern, sizeof(pattern)))
        return FALSE;
    KeInitializeCallbackRecord(&record);
    KeRegisterBugCheckCallback(&record, KtestOnBugCheck, NULL, 0, (PUCHAR) "ktest");

    for (t = __start_ktest_cases; t < __stop_ktest_cases; t++)
        if (KtestMatch(pattern, t->Suite, t->Name)) {
            selected++;
            only = t;
        }
    DbgPrint("ktest: running tests matching '%s'\n", pattern);

    /* Exactly one test selected and it must boot alone: run it alone. */
    if (selected == 1 && (only->Flags & KTEST_F_ALONE)) {
        DbgPrint("1..1\n");
        KtestCurrent = only;
        KtestCurrentFailed = 0;
        KtestActive = TRUE;
        if (only->Flags & KTEST_F_RESET)
            DbgPrint("# resetting the machine on purpose\n");
        KtestLabTodoBefore = KiLabTodoCount;
        only->Routine();
        KtestActive = FALSE;
        if (only->Flags & KTEST_F_RESET)
            DbgPrint("#   the test returned without resetting the machine\n");
        else
            DbgPrint("#   the test returned without the bug check 0x%x it expects\n",
                     only->BugCheckCode);
        KtestRecord(FALSE, NULL, NULL);
        KtestFinish();
    }

    for (t = __start_ktest_cases; t < __stop_ktest_cases; t++) {
        if (!KtestMatch(pattern, t->Suite, t->Name) || !(t->Flags & KTEST_F_ALONE))
            continue;
        if (t->Flags & KTEST_F_RESET)
            DbgPrint("# reset-test %s.%s\n", t->Suite, t->Name);
        else
            DbgPrint("# bugcheck-test %s.%s 0x%x\n", t->Suite, t->Name, t->BugCheckCode);
        selected--;                     /* booted separately, not in this plan */
        KtestListed++;
    }
    DbgPrint("1..%u\n", selected);
    KtestRunBatch(pattern);
    KtestFinish();
}

KI_STARTUP_TASK("test", KtestRunIfRequested);

/*
 * The kd> shell's `.test PATTERN` (registered here, in the kd_commands
 * section, so the kernel never names the test harness): the batch tests
 * that match run in the shell's thread and print as a test= boot does,
 * and the shell comes back. Tests that must boot alone are only named.
 */
static NTSTATUS KtestShellCommand(ULONG Argc, PCHAR Argv[])
{
    ULONG selected = 0;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .test PATTERN (suite.name, * and ? match)");
    for (const KTEST_CASE *t = __start_ktest_cases; t < __stop_ktest_cases; t++) {
        if (!KtestMatch(Argv[1], t->Suite, t->Name))
            continue;
        if (t->Flags & KTEST_F_ALONE)
            DbgPrint("# %s.%s must boot alone: make run CMDLINE='test=%s.%s'\n", t->Suite, t->Name,
                     t->Suite, t->Name);
        else
            selected++;
    }
    if (selected == 0)
        return KdpError(STATUS_NOT_FOUND, "no batch test matches '%s'", Argv[1]);
    KtestNumber = KtestPassed = KtestFailed = KtestSkipped = KtestListed = 0;
    DbgPrint("1..%u\n", selected);
    KtestRunBatch(Argv[1]);
    DbgPrint("%u passed, %u failed, %u skipped\n", KtestPassed, KtestFailed, KtestSkipped);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND(".test", KD_GROUP_TEACH, "PATTERN", "run the in-kernel tests that match", KtestShellCommand);

KAFFINITY KtestOnOneProcessorBegin(void)
{
    return KeSetSystemAffinityThreadEx(AFFINITY_MASK(0));
}

void KtestOnOneProcessorEnd(KAFFINITY Previous)
{
    KeRevertToUserAffinityThreadEx(Previous);
}

NTSTATUS KtestCreateThread(HANDLE *Handle, void (*Routine)(void *), void *Context)
{
    return PspCreateSystemThread(Handle, Routine, Context, KeGetCurrentThread()->Affinity);
}

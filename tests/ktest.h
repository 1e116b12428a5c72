/*
 * ktest.h - the one set of test macros Mica uses, in the kernel and on the host.
 *
 * A test is a function declared with KTEST(suite, name). The macro also
 * places a KTEST_CASE descriptor in the "ktest_cases" linker section, so
 * runners find every test by walking that section: the in-kernel runner
 * (tests/ktest.c, selected with test=PATTERN on the command line) and the
 * host runner (tests/host/host_main.c, sanitizers on) share this file.
 *
 * Expectations (KEXPECT_*) record a failure with file:line and both values
 * and let the test go on; assertions (KASSERT_*) also return from the test.
 *
 * A bugcheck test (KTEST_BUGCHECK) is one whose pass condition is that the
 * kernel stops with a given code. It must boot alone, so runners never run it
 * in a batch: the kernel lists it, and the QEMU runner boots it by exact name.
 * The body calls KtestExpectBugCheck() with the parameters it expects (or
 * KTEST_ANY for a parameter that depends on the run) before the misuse.
 *
 * A reset test (KTEST_RESET) is one whose pass condition is that the machine
 * resets: it checks the QEMU runner itself, which must notice a triple fault
 * without QEMU's interrupt log. It boots alone, like a bug-check test.
 *
 * KtestRandom is the tests' and benchmarks' one pseudo-random generator.
 */
#ifndef MICA_KTEST_H
#define MICA_KTEST_H

#include "../kernel/ntdef.h"

typedef void (*KTEST_ROUTINE)(void);

#define KTEST_F_BUGCHECK 0x1
#define KTEST_F_RESET    0x2

typedef struct _KTEST_CASE {
    const char *Suite;
    const char *Name;
    KTEST_ROUTINE Routine;
    ULONG Flags;
    ULONG BugCheckCode;     /* KTEST_F_BUGCHECK: the stop code that passes */
} KTEST_CASE;

/* A parameter value that matches anything in KtestExpectBugCheck. */
#define KTEST_ANY 0x4B54455354414E59ULL /* "KTESTANY" */

/* Set by the KEXPECT/KASSERT macros when a check fails in the current test. */
extern int KtestCurrentFailed;

/* Runner-provided output (DbgPrint in the kernel, vprintf on the host). */
void KtestPrint(const char *Format, ...) __attribute__((format(printf, 1, 2)));
void KtestFail(const char *File, int Line, const char *Format, ...)
    __attribute__((format(printf, 3, 4)));
void KtestExpectBugCheck(ULONG Code, ULONG64 P1, ULONG64 P2, ULONG64 P3, ULONG64 P4);
/* A bug-check test's own look at the stopped machine: Check runs in the
 * bug-check callback, after the blue screen and before the stop is judged,
 * on the processor that stopped; its KEXPECTs count against the test. */
void KtestAtBugCheck(void (*Check)(void));
/* Mark the current test skipped (e.g. needs RAM above 4 GiB); the caller
 * returns. Reported as "ok N - name # SKIP reason", as TAP does. */
void KtestSkip(const char *Reason);

/* (kernel) A test about one processor's order of events (a woken thread
 * preempts its waker, a quantum end hands over to an equal thread) pins
 * itself to processor 0 between Begin and End, and starts its threads
 * with KtestCreateThread, which gives them the creator's affinity before
 * they first run: with several processors the test means what it means
 * with one. */
KAFFINITY KtestOnOneProcessorBegin(void);
void KtestOnOneProcessorEnd(KAFFINITY Previous);
NTSTATUS KtestCreateThread(HANDLE *Handle, void (*Routine)(void *), void *Context);
#define KTEST_SKIP(Reason) do { KtestSkip(Reason); return; } while (0)

#define KTEST_SECTION __attribute__((used, section("ktest_cases"), aligned(8)))

#define KTEST_DEFINE(Suite, Name, Flags, Code)                                 \
    static void ktest_##Suite##__##Name(void);                               \
    static const KTEST_CASE ktest_case_##Suite##__##Name KTEST_SECTION = {    \
        #Suite, #Name, ktest_##Suite##__##Name, (Flags), (Code)};            \
    static void ktest_##Suite##__##Name(void)

#define KTEST(Suite, Name) KTEST_DEFINE(Suite, Name, 0, 0)
#define KTEST_BUGCHECK(Suite, Name, Code) \
    KTEST_DEFINE(Suite, Name, KTEST_F_BUGCHECK, (Code))
#define KTEST_RESET(Suite, Name) KTEST_DEFINE(Suite, Name, KTEST_F_RESET, 0)
/* Tests that never run in a batch: each boots alone. */
#define KTEST_F_ALONE (KTEST_F_BUGCHECK | KTEST_F_RESET)

/* Comparison core: both operands are evaluated once, widened to 64 bits. */
#define KTEST_CMP_(Kind, A, Op, B, OnFail)                                     \
    do {                                                                     \
        ULONG64 ktA_ = (ULONG64)(A), ktB_ = (ULONG64)(B);                    \
        if (!(Kind(ktA_) Op Kind(ktB_))) {                                   \
            KtestFail(__FILE__, __LINE__,                                    \
                      "expected %s %s %s: 0x%llx (%lld) vs 0x%llx (%lld)",   \
                      #A, #Op, #B, (unsigned long long)ktA_,                 \
                      (long long)ktA_, (unsigned long long)ktB_,             \
                      (long long)ktB_);                                      \
            OnFail;                                                          \
        }                                                                    \
    } while (0)

#define KTEST_U_(X) (X)
#define KTEST_S_(X) ((LONG64)(X))

#define KEXPECT_EQ(A, B) KTEST_CMP_(KTEST_U_, A, ==, B, (void)0)
#define KEXPECT_NE(A, B) KTEST_CMP_(KTEST_U_, A, !=, B, (void)0)
#define KEXPECT_LT(A, B) KTEST_CMP_(KTEST_S_, A, <, B, (void)0)
#define KEXPECT_LE(A, B) KTEST_CMP_(KTEST_S_, A, <=, B, (void)0)
#define KEXPECT_GT(A, B) KTEST_CMP_(KTEST_S_, A, >, B, (void)0)
#define KEXPECT_GE(A, B) KTEST_CMP_(KTEST_S_, A, >=, B, (void)0)
#define KEXPECT_ULT(A, B) KTEST_CMP_(KTEST_U_, A, <, B, (void)0)
#define KEXPECT_ULE(A, B) KTEST_CMP_(KTEST_U_, A, <=, B, (void)0)
#define KEXPECT_TRUE(C) KEXPECT_NE(!!(C), 0)
#define KEXPECT_FALSE(C) KEXPECT_EQ(!!(C), 0)

#define KASSERT_EQ(A, B) KTEST_CMP_(KTEST_U_, A, ==, B, return)
#define KASSERT_NE(A, B) KTEST_CMP_(KTEST_U_, A, !=, B, return)
#define KASSERT_TRUE(C) KASSERT_NE(!!(C), 0)
#define KASSERT_FALSE(C) KASSERT_EQ(!!(C), 0)

int KtestStrcmp_(const char *A, const char *B);

#define KEXPECT_STREQ(A, B)                                                    \
    do {                                                                     \
        const char *ktA_ = (A), *ktB_ = (B);                                 \
        if (KtestStrcmp_(ktA_, ktB_) != 0)                                   \
            KtestFail(__FILE__, __LINE__, "expected %s == %s: \"%s\" vs \"%s\"", \
                      #A, #B, ktA_ ? ktA_ : "(null)", ktB_ ? ktB_ : "(null)"); \
    } while (0)

/*
 * xorshift64* (Vigna): deterministic, so a failing sequence repeats run after
 * run, and small enough to inline into a benchmark's timed loop. *State is
 * the caller's (any value but 0); every user keeps its own stream.
 */
static inline ULONG64 KtestRandom(ULONG64 *State)
{
    ULONG64 x = *State;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *State = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform enough in [0, N) for N much smaller than 2^64; N > 0. */
static inline ULONG64 KtestRandomBelow(ULONG64 *State, ULONG64 N)
{
    return KtestRandom(State) % N;
}

/* Runners: fail the current test if LAB_TODO ran since KiLabTodoCount was
 * Before (a stripped lab's stub: "not implemented"); TRUE if it did. */
BOOLEAN KtestLabTodoCheck(LONG Before);

/* Glob match used by both runners: '*' and '?', patterns separated by ','. */
BOOLEAN KtestMatch(const char *Patterns, const char *Suite, const char *Name);

#endif

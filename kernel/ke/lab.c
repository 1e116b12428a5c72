/*
 * lab.c - KiLabTodo, what a stripped homework lab runs where the student's
 * code is still missing (Mica's own routine; see tests/labs/).
 *
 * `make lab-start` replaces the reference code of a lab by a stub that
 * calls LAB_TODO(lab) and, where the boot itself needs the routine, goes on
 * with a slow but correct fallback. So LAB_TODO must be callable from any
 * code the stub sits in: any IRQL, interrupts off, several processors at
 * once, before the test runner exists. It therefore never blocks, never
 * allocates and never bug-checks; it only:
 *   - counts the call in KiLabTodoCount when its lab is being graded
 *     (KiLabIsGraded; the test runners fail a test during which the count
 *     grew: "not implemented"), and
 *   - prints "LAB lab: not implemented (file:line)" the first time a call
 *     site runs, so a stub in a hot path (every PFN list insert) does not
 *     flood the serial port.
 *
 * "First time a call site runs" is remembered in a small open-addressed
 * table of 64-bit keys claimed with one compare-exchange each: no lock, so
 * an interrupt that lands inside KiLabTodo on the same processor and calls
 * it again cannot deadlock. A key is a 64-bit FNV-1a hash of the file name
 * and the line, not the name's address: a stub in an inline routine of a
 * header has one site in the source but one copy of __FILE__ per object
 * file, and should still print once. (Two sites would share a message only
 * if their hashes collided.) If the table fills up, far beyond six labs'
 * sites, a site prints at every call.
 *
 * In the host unit tests, while grade.py grades (MICA_LAB is set), a graded
 * lab's stub ends the test program at once: the test that ran it has failed
 * whatever it does next, and a stub's slow fallback under ASan could take
 * minutes to get there (a rubric line earns nothing when its program dies).
 */
#include "ke.h"

#define KI_LAB_SITES 256                /* a power of two */

volatile LONG KiLabTodoCount;
volatile LONG KiLabTodoSitesPrinted;
static ULONG64 KiLabTodoSites[KI_LAB_SITES];

#define KI_FNV_OFFSET 0xCBF29CE484222325ULL
#define KI_FNV_PRIME 0x100000001B3ULL

static ULONG64 KiLabTodoKey(PCSTR File, ULONG Line)
{
    ULONG64 h = KI_FNV_OFFSET;

    for (PCSTR c = File; *c; c++)
        h = (h ^ (UCHAR)*c) * KI_FNV_PRIME;
    for (int i = 0; i < 4; i++, Line >>= 8)
        h = (h ^ (Line & 0xFF)) * KI_FNV_PRIME;
    return h ? h : 1;                   /* 0 marks a free slot */
}

/* TRUE if this is the first call from File:Line (the caller prints). */
static BOOLEAN KiLabTodoFirstAtSite(PCSTR File, ULONG Line)
{
    ULONG64 key = KiLabTodoKey(File, Line);
    ULONG i = (ULONG)(key >> 56) & (KI_LAB_SITES - 1);

    for (ULONG probes = 0; probes < KI_LAB_SITES; probes++, i = (i + 1) & (KI_LAB_SITES - 1)) {
        ULONG64 seen = __atomic_load_n(&KiLabTodoSites[i], __ATOMIC_ACQUIRE);

        if (seen == 0) {
            ULONG64 expected = 0;
            if (__atomic_compare_exchange_n(&KiLabTodoSites[i], &expected, key, FALSE,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return TRUE;
            seen = expected;            /* another processor took the slot first */
        }
        if (seen == key)
            return FALSE;
    }
    return TRUE;                        /* table full: print every time */
}

#ifdef MICA_HOST_TEST
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#endif

#define KI_LAB_LIST_MAX 128

/*
 * Is Lab one of the labs being graded? The grader names them - the boot
 * option lab=a,b in the kernel, MICA_LAB=a,b in the host tests'
 * environment - so that a later lab, stripped in the same tree, whose
 * stub runs under an earlier lab's tests (every test takes pages, and
 * pages go through the PFN lists and the run tree) does not fail those
 * tests: its fallback is correct, only slow. Without the option every lab
 * counts. Reading the option is a scan of a static string: any IRQL.
 */
static BOOLEAN KiLabIsGraded(PCSTR Lab)
{
    char list[KI_LAB_LIST_MAX];
    PCSTR p;

#ifdef MICA_HOST_TEST
    PCSTR env = getenv("MICA_LAB");
    SIZE_T n = 0;

    if (env == NULL || *env == 0)
        return TRUE;
    while (env[n] && n < sizeof(list) - 1) {
        list[n] = env[n];
        n++;
    }
    list[n] = 0;
#else
    if (!KeQueryBootOption("lab", list, sizeof(list)) || list[0] == 0)
        return TRUE;
#endif
    for (p = list; *p;) {
        SIZE_T len = 0;
        while (p[len] && p[len] != ',')
            len++;
        if (strncmp(p, Lab, len) == 0 && Lab[len] == 0)
            return TRUE;
        p += len;
        if (*p == ',')
            p++;
    }
    return FALSE;
}

VOID KiLabTodo(PCSTR Lab, PCSTR File, ULONG Line)
{
    if (KiLabIsGraded(Lab))
        __atomic_fetch_add(&KiLabTodoCount, 1, __ATOMIC_SEQ_CST);
    if (KiLabTodoFirstAtSite(File, Line)) {
        __atomic_fetch_add(&KiLabTodoSitesPrinted, 1, __ATOMIC_RELAXED);
        DbgPrint("LAB %s: not implemented (%s:%u)\n", Lab, File, Line);
    }
#ifdef MICA_HOST_TEST
    PCSTR grading = getenv("MICA_LAB");
    if (grading != NULL && *grading != 0 && KiLabIsGraded(Lab)) {
        printf("# LAB %s: not implemented (%s:%u); a graded stub ran, the test fails\n",
               Lab, File, Line);
        fflush(stdout);
        _exit(1);                       /* no leak report: the test was cut short */
    }
#endif
}

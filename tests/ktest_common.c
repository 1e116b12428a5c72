/*
 * ktest_common.c - the part of the test framework both runners share:
 * test-name matching for test=PATTERN, a strcmp that tolerates NULL, and
 * the homework labs' "not implemented" rule. Hardware-free; linked into the
 * kernel and into the host test binary.
 */
#include "ktest.h"
#include "../kernel/ke/ke.h"

/*
 * A stripped lab's stub calls LAB_TODO (kernel/ke/lab.c), which counts in
 * KiLabTodoCount. Both runners read the count before a test and call this
 * after it: a test during which the count grew exercised code the student
 * has not written yet, so it fails even if the stub's fallback made every
 * expectation hold (the fallback keeps the boot alive, it earns nothing).
 */
BOOLEAN KtestLabTodoCheck(LONG Before)
{
    LONG now = __atomic_load_n(&KiLabTodoCount, __ATOMIC_SEQ_CST);

    if (now == Before)
        return FALSE;
    KtestCurrentFailed = 1;
    KtestPrint("#   not implemented: LAB_TODO ran %d time(s) during this test "
               "(see the \"LAB ...: not implemented\" line for where)\n", (int)(now - Before));
    return TRUE;
}

int KtestStrcmp_(const char *A, const char *B)
{
    if (A == NULL || B == NULL)
        return A == B ? 0 : 1;
    while (*A && *A == *B) {
        A++;
        B++;
    }
    return (unsigned char)*A - (unsigned char)*B;
}

/* Match Text[0..TextLen) against Pattern[0..PatLen) with '*' and '?'. */
static BOOLEAN KtestGlob(const char *Pat, SIZE_T PatLen, const char *Text, SIZE_T TextLen)
{
    SIZE_T p = 0, t = 0, star = (SIZE_T)-1, mark = 0;

    while (t < TextLen) {
        if (p < PatLen && (Pat[p] == '?' || Pat[p] == Text[t])) {
            p++;
            t++;
        } else if (p < PatLen && Pat[p] == '*') {
            star = p++;
            mark = t;
        } else if (star != (SIZE_T)-1) {
            p = star + 1;
            t = ++mark;
        } else {
            return FALSE;
        }
    }
    while (p < PatLen && Pat[p] == '*')
        p++;
    return p == PatLen;
}

/*
 * Patterns is a comma-separated list; each entry is matched against
 * "suite.name". "all" and "*" select everything. A bare suite name
 * ("printf") selects the whole suite.
 */
BOOLEAN KtestMatch(const char *Patterns, const char *Suite, const char *Name)
{
    char full[128];
    SIZE_T n = 0, i;

    for (i = 0; Suite[i] && n < sizeof(full) - 1; i++)
        full[n++] = Suite[i];
    if (n < sizeof(full) - 1)
        full[n++] = '.';
    for (i = 0; Name[i] && n < sizeof(full) - 1; i++)
        full[n++] = Name[i];
    full[n] = 0;

    while (*Patterns) {
        const char *end = Patterns;
        SIZE_T len, suiteLen = 0;

        while (*end && *end != ',')
            end++;
        len = (SIZE_T)(end - Patterns);
        while (Suite[suiteLen])
            suiteLen++;
        if ((len == 3 && Patterns[0] == 'a' && Patterns[1] == 'l' && Patterns[2] == 'l') ||
            KtestGlob(Patterns, len, full, n) ||
            (len == suiteLen && KtestGlob(Patterns, len, Suite, suiteLen)))
            return TRUE;
        Patterns = *end ? end + 1 : end;
    }
    return FALSE;
}

/*
 * probe.c - ProbeForRead and ProbeForWrite: may the kernel read or write
 * this buffer a caller handed it?
 *
 * In NT these guard against user-mode callers: the buffer must lie in user
 * space (below MM_USER_PROBE_ADDRESS, not wrapping) and be aligned as the
 * data it holds requires, else they raise STATUS_ACCESS_VIOLATION or
 * STATUS_DATATYPE_MISALIGNMENT. ProbeForWrite then touches each page for
 * writing, so a page that is not there raises right away, inside the
 * caller's __try, rather than later, in the middle of the work. Mica has
 * no user space yet, so every nonzero range raises: a kernel address for
 * being one, a user address when the touch faults (mm/fault.c turns that
 * fault into the exception). Zero bytes are never probed.
 */
#include "mm_internal.h"

static void MiProbeRange(ULONG64 Start, SIZE_T Length, ULONG Alignment)
{
    ULONG64 end = Start + Length;

    /* Learn: Alignment is 1, 2, 4, 8 or 16. */
    if ((Start & (Alignment - 1)) != 0)
        ExRaiseDatatypeMisalignment();
    if (end > MM_USER_PROBE_ADDRESS || end < Start)
        ExRaiseAccessViolation();
}

VOID ProbeForRead(const volatile VOID *Address, SIZE_T Length, ULONG Alignment)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ProbeForRead);
    if (Length != 0)
        MiProbeRange((ULONG64)Address, Length, Alignment);
}

VOID ProbeForWrite(volatile VOID *Address, SIZE_T Length, ULONG Alignment)
{
    ULONG64 start = (ULONG64)Address;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, ProbeForWrite);
    if (Length == 0)
        return;
    MiProbeRange(start, Length, Alignment);
    /* Touch one byte in every page for writing, keeping its value. */
    for (ULONG64 page = start & ~(ULONG64)(PAGE_SIZE - 1); page < start + Length; page += PAGE_SIZE) {
        volatile UCHAR *p = (volatile UCHAR *)(page < start ? start : page);
        *p = *p;
    }
}

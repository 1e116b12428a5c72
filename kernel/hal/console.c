/*
 * console.c - DbgPrint and the console that carries it.
 *
 * Output goes to COM1 always (tests and `make run` read it there) and to
 * the screen the loader described: VGA text in BIOS mode, a framebuffer
 * under UEFI, nothing if neither. Until Mm exists the screen is reached
 * through the boot identity map of low memory; when Mm switches to its own
 * page tables it suspends the screen, and resumes it mapped with
 * MmMapIoSpace (uncached VGA text, write-combined framebuffer).
 *
 * NT's DbgPrint formats into a 512-byte buffer and truncates longer
 * messages; Mica does the same, so a student sees the same limit.
 */
#include "../ke/ke_internal.h"
#include "../../mm/mm.h"

#define DBGPRINT_BUFFER_SIZE 512

static UCHAR KiConsoleAttribute = KI_COLOR_NORMAL;
static ULONG KiScreenType = LoaderDisplayNone;

VOID KiConsoleInitialize(VOID)
{
    const LOADER_DISPLAY *d = &KeLoaderBlock->Display;

    /* The early tables identity-map the low 4 GiB with 2 MiB pages. */
    if (d->PhysicalBase + (ULONG64)d->Pitch * d->Height > (4ULL << 30))
        return;
    KiScreenType = d->Type;
    if (d->Type == LoaderDisplayVgaText)
        KiVgaInitialize((PVOID)d->PhysicalBase, d->Width, d->Height);
    else if (d->Type == LoaderDisplayLinear)
        KiFbInitialize(d, (PVOID)d->PhysicalBase);
}

static ULONG KiSuspendedScreenType = LoaderDisplayNone;

VOID KiConsoleSuspendScreen(VOID)
{
    KiSuspendedScreenType = KiScreenType;
    KiScreenType = LoaderDisplayNone;
}

VOID KiConsoleResumeScreen(VOID)
{
    const LOADER_DISPLAY *d = &KeLoaderBlock->Display;
    PHYSICAL_ADDRESS pa;
    PVOID va;

    if (KiSuspendedScreenType == LoaderDisplayNone)
        return;
    pa.QuadPart = (LONGLONG)d->PhysicalBase;
    if (KiSuspendedScreenType == LoaderDisplayVgaText) {
        va = MmMapIoSpace(pa, (SIZE_T)d->Width * d->Height * 2, MmNonCached);
        if (va)
            KiVgaRebase(va);
    } else {
        /* Write-combining: the usual type for a framebuffer. */
        va = MmMapIoSpace(pa, (SIZE_T)d->Pitch * d->Height, MmWriteCombined);
        if (va)
            KiFbRebase(va);
    }
    if (va)
        KiScreenType = KiSuspendedScreenType;
}

/*
 * One writer at a time, so lines from several processors do not mix (the
 * test runner reads whole lines). The lock is taken with interrupts off and
 * is not a KSPIN_LOCK: DbgPrint runs at any IRQL, also inside an NMI or a
 * fault that interrupted a print on this same processor, which then writes
 * without waiting for itself. After a bug check froze the others, one of
 * them may have been stopped holding it: KiConsoleBreakLock lets the
 * blue screen through.
 */
static volatile ULONG KiConsoleOwner;           /* processor number + 1, 0 when free */
static BOOLEAN KiConsoleLockBroken;

VOID KiConsoleBreakLock(VOID)
{
    KiConsoleLockBroken = TRUE;
}

/* The kd> break-in froze the others only for a while: after `g` the lock
 * works again (a frozen holder finishes its line and releases it). */
VOID KiConsoleRestoreLock(VOID)
{
    KiConsoleLockBroken = FALSE;
}

VOID KiConsoleWrite(PCSTR Text, SIZE_T Length)
{
    ULONG64 flags = __readeflags();
    /* Before the first KPRCB exists GS means nothing; there is one processor. */
    ULONG self = KiProcessorBlock[0] != NULL ? KeGetCurrentPrcb()->Number + 1 : 1, expected;
    BOOLEAN locked = FALSE;

    _disable();
    if (!KiConsoleLockBroken && KiConsoleOwner != self) {
        while (!KiConsoleLockBroken) {
            expected = 0;
            if (__atomic_compare_exchange_n(&KiConsoleOwner, &expected, self, FALSE,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
                locked = TRUE;
                break;
            }
            __asm__ __volatile__("pause");
        }
    }
    KiSerialWrite(Text, Length);
    if (KiScreenType == LoaderDisplayVgaText)
        KiVgaWrite(Text, Length, KiConsoleAttribute);
    else if (KiScreenType == LoaderDisplayLinear)
        KiFbWrite(Text, Length, KiConsoleAttribute);
    if (locked)
        __atomic_store_n(&KiConsoleOwner, 0, __ATOMIC_RELEASE);
    if (flags & EFLAGS_IF_MASK)
        _enable();
}

VOID KiConsoleEnterBugCheck(VOID)
{
    KiConsoleAttribute = KI_COLOR_BUGCHECK;
    if (KiScreenType == LoaderDisplayVgaText)
        KiVgaClear(KiConsoleAttribute);
    else if (KiScreenType == LoaderDisplayLinear)
        KiFbClear(KiConsoleAttribute);
}

ULONG vDbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, va_list Args)
{
    char buffer[DBGPRINT_BUFFER_SIZE];
    int n;

    UNREFERENCED_PARAMETER(ComponentId);
    UNREFERENCED_PARAMETER(Level);
    n = RtlVsnprintf(buffer, sizeof(buffer), Format, Args);
    if (n > (int)sizeof(buffer) - 1)
        n = sizeof(buffer) - 1;
    if (!KdPagerWrite(buffer, (SIZE_T)n))       /* a kd> command's output may pause at --More-- */
        KiConsoleWrite(buffer, (SIZE_T)n);
    return STATUS_SUCCESS;
}

ULONG DbgPrint(PCSTR Format, ...)
{
    va_list ap;
    ULONG status;

    va_start(ap, Format);
    status = vDbgPrintEx(0, 0, Format, ap);
    va_end(ap);
    return status;
}

/*
 * console.c - DbgPrint and the console that carries it.
 *
 * Output goes to COM1 always (tests and `make run` read it there) and to
 * the screen the loader described: VGA text in BIOS mode, a framebuffer
 * under UEFI, nothing if neither. Until Mm exists the screen is reached
 * through the boot identity map of low memory; Mm later remaps it with
 * MmMapIoSpace and calls KiConsoleSetScreenBase.
 *
 * NT's DbgPrint formats into a 512-byte buffer and truncates longer
 * messages; Mica does the same, so a student sees the same limit.
 */
#include "ke_internal.h"

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

VOID KiConsoleWrite(PCSTR Text, SIZE_T Length)
{
    KiSerialWrite(Text, Length);
    if (KiScreenType == LoaderDisplayVgaText)
        KiVgaWrite(Text, Length, KiConsoleAttribute);
    else if (KiScreenType == LoaderDisplayLinear)
        KiFbWrite(Text, Length, KiConsoleAttribute);
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

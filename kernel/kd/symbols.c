/*
 * symbols.c - addresses to names, from the kernel image itself.
 *
 * The build links mica.elf twice: once with an empty .ksyms section, then,
 * after `nm` has listed that image's functions (kernel/kd/mksyms.sh), with a
 * .ksyms section holding a table sorted by address:
 *     KSYM_TABLE header, then Count KSYM entries, then the names.
 * .ksyms is the last thing in the image (linker.ld), so the second link
 * moves nothing and the table describes the image it is part of. No
 * debugger is needed for a symbolized backtrace on a blue screen.
 *
 * The backtrace walks the RBP chain (the kernel is built with frame
 * pointers). Every frame pointer is checked before it is read: a corrupt
 * stack must give a short backtrace, never a second fault.
 */
#include "../ke/ke_internal.h"

typedef struct _KSYM {
    ULONG64 Address;
    ULONG NameOffset;           /* from the start of the names */
    ULONG Reserved;
} KSYM;

typedef struct _KSYM_TABLE {
    ULONG64 Count;
    ULONG64 NamesOffset;        /* from the start of the table */
    KSYM Symbols[];
} KSYM_TABLE;

#define KI_BACKTRACE_MAX_FRAMES 32

BOOLEAN KeSymbolizeAddress(ULONG_PTR Address, PCHAR Buffer, SIZE_T Size)
{
    const KSYM_TABLE *t = (const KSYM_TABLE *)KiSymbolsStart;
    const char *names;
    ULONG64 lo = 0, hi;

    if (Address < (ULONG_PTR)KiTextStart || Address >= (ULONG_PTR)KiTextEnd || t->Count == 0)
        return FALSE;
    names = (const char *)t + t->NamesOffset;
    /* Binary search: the last symbol whose address is <= Address. */
    hi = t->Count;
    while (hi - lo > 1) {
        ULONG64 mid = (lo + hi) / 2;
        if (t->Symbols[mid].Address <= Address)
            lo = mid;
        else
            hi = mid;
    }
    if (t->Symbols[lo].Address > Address)
        return FALSE;
    RtlSnprintf(Buffer, Size, "%s+0x%llx", names + t->Symbols[lo].NameOffset,
                Address - t->Symbols[lo].Address);
    return TRUE;
}

/*
 * A frame pointer is trusted only when it is 8-byte aligned and the 16
 * bytes it points at lie in the kernel's data/bss (the boot and idle
 * stacks) or in the current thread's own stack [StackLimit, StackBase).
 */
static BOOLEAN KiIsFrameReadable(ULONG64 Rbp)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD thread = prcb != NULL ? prcb->CurrentThread : NULL;

    if ((Rbp & 7) != 0)
        return FALSE;
    if (Rbp >= (ULONG64)KiDataStart && Rbp + 16 <= (ULONG64)KiDataEnd)
        return TRUE;
    return thread != NULL && thread->StackLimit != 0 && Rbp >= thread->StackLimit &&
           Rbp + 16 <= thread->StackBase;
}

VOID KiPrintBacktrace(ULONG64 Rip, ULONG64 Rbp)
{
    char name[96];

    for (ULONG i = 0; i < KI_BACKTRACE_MAX_FRAMES; i++) {
        if (Rip == 0)
            return;
        if (!KeSymbolizeAddress(Rip, name, sizeof(name)))
            RtlSnprintf(name, sizeof(name), "?");
        DbgPrint("  #%-2u %016llx %s\n", i, Rip, name);
        if (!KiIsFrameReadable(Rbp))
            return;
        Rip = ((const ULONG64 *)Rbp)[1];
        /* Frames must move up the stack, or the walk could loop forever. */
        if (((const ULONG64 *)Rbp)[0] <= Rbp)
            return;
        Rbp = ((const ULONG64 *)Rbp)[0];
    }
}

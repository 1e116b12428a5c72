/*
 * kdshell.c - the kd> shell: its thread, the command table, help, and the
 * pieces every command shares (numbers, tags, careful memory reads).
 *
 * After "Mica ready", when no start-up task (tests, benchmarks) took the
 * boot, KdStartShell starts a system thread that prints "kd> " on COM1 and
 * runs what is typed. Commands therefore run at PASSIVE_LEVEL in an
 * ordinary thread and may call the Mm and Ex API (.alloc, .test). An empty
 * line repeats the last command, as in WinDbg. `kd=off` on the command line
 * leaves the machine idle instead.
 */
#include "kd_internal.h"

extern const KD_COMMAND __start_kd_commands[], __stop_kd_commands[];

#define KD_LINE_MAX 128
#define KD_ERROR_MAX 96

static char KdpErrorText[KD_ERROR_MAX];

NTSTATUS KdpError(NTSTATUS Status, PCSTR Format, ...)
{
    va_list args;

    va_start(args, Format);
    RtlVsnprintf(KdpErrorText, sizeof(KdpErrorText), Format, args);
    va_end(args);
    return Status;
}

static int KdpDigit(char C)
{
    if (C >= '0' && C <= '9')
        return C - '0';
    if (C >= 'a' && C <= 'f')
        return C - 'a' + 10;
    if (C >= 'A' && C <= 'F')
        return C - 'A' + 10;
    return -1;
}

BOOLEAN KdpParseNumber(PCSTR Text, PULONG64 Value)
{
    ULONG base = 16, digits = 0;
    ULONG64 v = 0;
    PCSTR p = Text;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    else if (p[0] == '0' && (p[1] == 'n' || p[1] == 'N')) {
        base = 10;
        p += 2;
    }
    for (; *p; p++) {
        int d;
        if (*p == '`' && base == 16)
            continue;
        d = KdpDigit(*p);
        if (d < 0 || (ULONG)d >= base || v > (~0ULL - (ULONG)d) / base) {
            KdpError(STATUS_INVALID_PARAMETER, "'%s' is not a number", Text);
            return FALSE;
        }
        v = v * base + (ULONG)d;
        digits++;
    }
    if (digits == 0) {
        KdpError(STATUS_INVALID_PARAMETER, "'%s' is not a number", Text);
        return FALSE;
    }
    *Value = v;
    return TRUE;
}

BOOLEAN KdpParseTag(PCSTR Text, PULONG Tag)
{
    ULONG tag = 0;
    SIZE_T n = strlen(Text);

    if (n == 0 || n > 4) {
        KdpError(STATUS_INVALID_PARAMETER, "'%s' is not a pool tag (1-4 characters)", Text);
        return FALSE;
    }
    /* The first character is the low byte, as '...' literals store tags. */
    for (SIZE_T i = 0; i < 4; i++)
        tag |= (ULONG)(UCHAR)(i < n ? Text[i] : ' ') << (8 * i);
    *Tag = tag;
    return TRUE;
}

BOOLEAN KdpIsAddressValid(ULONG64 Address)
{
    ULONG level;

    return MiWalkToPte((PVOID)Address, &level) != NULL;
}

BOOLEAN KdpReadMemory(ULONG64 Address, PVOID Buffer, SIZE_T Length)
{
    ULONG64 end = Address + Length;

    if (Length == 0)
        return TRUE;
    if (end < Address)
        return FALSE;
    for (ULONG64 page = Address & ~(ULONG64)(PAGE_SIZE - 1); page < end; page += PAGE_SIZE)
        if (!KdpIsAddressValid(page))
            return FALSE;
    RtlCopyMemory(Buffer, (PVOID)Address, Length);
    return TRUE;
}

/* ---- the table -------------------------------------------------------------------------- */

static const PCSTR KdpGroups[] = {KD_GROUP_MM, KD_GROUP_KERNEL, KD_GROUP_IO, KD_GROUP_TEACH, KD_GROUP_SHELL};

/* The group's next command after Previous in name order (NULL: the first), or NULL. */
static const KD_COMMAND *KdpNextInGroup(PCSTR Group, const KD_COMMAND *Previous)
{
    const KD_COMMAND *best = NULL;

    for (const KD_COMMAND *c = __start_kd_commands; c < __stop_kd_commands; c++)
        if (strcmp(c->Group, Group) == 0 &&
            (Previous == NULL || strcmp(c->Name, Previous->Name) > 0) &&
            (best == NULL || strcmp(c->Name, best->Name) < 0))
            best = c;
    return best;
}

static NTSTATUS KdpCmdHelp(ULONG Argc, PCHAR Argv[])
{
    BOOLEAN found = FALSE;

    if (Argc > 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: help [command]");
    for (ULONG g = 0; g < ARRAYSIZE(KdpGroups); g++) {
        BOOLEAN header = FALSE;
        for (const KD_COMMAND *c = KdpNextInGroup(KdpGroups[g], NULL); c != NULL;
             c = KdpNextInGroup(KdpGroups[g], c)) {
            if (Argc > 1 && strcmp(Argv[1], c->Name) != 0)
                continue;
            if (!header) {
                DbgPrint("%s:\n", KdpGroups[g]);
                header = TRUE;
            }
            DbgPrint("  %-10s %-26s %s\n", c->Name, c->Syntax, c->Help);
            found = TRUE;
        }
    }
    if (!found)
        return KdpError(STATUS_NOT_FOUND, "no command '%s'", Argv[1]);
    return STATUS_SUCCESS;
}
KD_COMMAND("help", KD_GROUP_SHELL, "[command]", "this list; Enter repeats the last command", KdpCmdHelp);

static const KD_COMMAND *KdpLookup(PCSTR Name)
{
    for (const KD_COMMAND *c = __start_kd_commands; c < __stop_kd_commands; c++)
        if (strcmp(c->Name, Name) == 0)
            return c;
    /* WinDbg's "?" is help too. */
    if (strcmp(Name, "?") == 0)
        return KdpLookup("help");
    return NULL;
}

VOID KdpExecuteLine(PCHAR Line)
{
    PCHAR argv[KD_MAX_ARGS];
    ULONG argc = 0;
    const KD_COMMAND *command;
    NTSTATUS status;

    for (PCHAR p = Line; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (*p == 0)
            break;
        if (argc == KD_MAX_ARGS) {
            DbgPrint("error: too many arguments (at most %u)\n", KD_MAX_ARGS - 1);
            return;
        }
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    if (argc == 0)
        return;
    command = KdpLookup(argv[0]);
    if (command == NULL) {
        DbgPrint("error: unknown command '%s' (help lists them)\n", argv[0]);
        return;
    }
    if ((command->Flags & KD_F_THREAD) && KdpDebuggerActive()) {
        DbgPrint("error: %s needs the kd> thread at PASSIVE_LEVEL: %s\n", argv[0],
                 KdpContext.Reason == KD_REASON_BUGCHECK ? "not after a bug check"
                                                         : "g first, then run it at kd>");
        return;
    }
    KdpErrorText[0] = 0;
    KdpPagerBegin();
    status = command->Routine(argc, argv);
    KdpPagerEnd();
    if (!NT_SUCCESS(status))
        DbgPrint("error: %s: %s\n", argv[0], KdpErrorText[0] ? KdpErrorText : "failed");
}

/* ---- the thread -------------------------------------------------------------------------- */

/*
 * Read and run lines until `g` ends a break-in (the thread's loop never
 * ends). The buffers are the loop's own, on its stack: a break-in's loop
 * may interrupt the thread's in the middle of a line.
 */
VOID KdpShellLoop(PCSTR Prompt, BOOLEAN BreakIn)
{
    char line[KD_LINE_MAX], last[KD_LINE_MAX] = "", work[KD_LINE_MAX];

    while (!(BreakIn && KdpContext.Continue)) {
        KdpReadLine(Prompt, line, sizeof(line));
        if (line[0] == 0)
            RtlCopyMemory(line, last, sizeof(line));        /* Enter repeats */
        else
            RtlCopyMemory(last, line, sizeof(line));
        RtlCopyMemory(work, line, sizeof(work));            /* parsing writes NULs */
        KdpExecuteLine(work);
    }
}

static VOID KdpShellThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KdpPagerDetect();
    DbgPrint("kd: the Mica debugger shell; help lists its commands, Ctrl-C breaks in\n");
    KdpShellLoop("kd> ", FALSE);
}

VOID KdStartShell(VOID)
{
    char value[16];
    HANDLE handle;
    NTSTATUS status;

    if (KeQueryBootOption("kd", value, sizeof(value)) && strcmp(value, "off") == 0)
        return;
    KdpInputEnabled = TRUE;
    status = PsCreateSystemThread(&handle, 0, NULL, NULL, NULL, KdpShellThread, NULL);
    if (!NT_SUCCESS(status)) {
        DbgPrint("kd: no shell thread (status %08x)\n", status);
        return;
    }
    ZwClose(handle);
}

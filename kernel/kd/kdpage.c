/*
 * kdpage.c - the kd> pager: a long command's output stops at "--More--"
 * every screenful, for a person at a terminal, and never for a program.
 *
 * Who drives the shell is found out, not configured: at start the shell
 * asks the terminal on COM1 where its cursor is after moving it to the far
 * corner (ESC 7, ESC [999;999H, ESC [6n, ESC 8: save, move, report,
 * restore). A terminal answers ESC [rows;cols R, and paging is on, a page
 * being rows - 1 lines; a program (the test runner, a pipe) answers
 * nothing within KD_DETECT_MS, and paging stays off. `kdpage=N` (rows) or
 * `kdpage=off` on the command line, or `.more` at the prompt, decide
 * instead.
 *
 * At --More--: Space shows the next page, Enter one more line, q (or a
 * break-in) drops the rest of the command's output; the command itself
 * runs to its end. Only the thread running the command is paged; other
 * threads' DbgPrint output goes straight through.
 */
#include "kd_internal.h"

#define KD_DETECT_MS 300
#define KD_MIN_ROWS 3
#define KD_MAX_ROWS 1000
#define ASCII_ESC 0x1B

static ULONG KdpPageRows;               /* lines a page; 0: paging off */
static PKTHREAD KdpPagerThread;         /* the thread whose output is paged, while a command runs */
static ULONG KdpPagerLines;             /* lines shown since the last --More-- */
static BOOLEAN KdpPagerQuiet;           /* q typed: the rest of the command's output goes */

VOID KdpPagerBegin(VOID)
{
    KdpPagerLines = 0;
    KdpPagerQuiet = FALSE;
    KdpPagerThread = KdpPageRows != 0 ? KeGetCurrentThread() : NULL;
}

VOID KdpPagerEnd(VOID)
{
    KdpPagerThread = NULL;
}

static VOID KdpMore(VOID)
{
    static const char prompt[] = "--More--", erase[] = "\r        \r";
    UCHAR c;

    KiConsoleWrite(prompt, sizeof(prompt) - 1);
    c = KdpReadKey();
    KiConsoleWrite(erase, sizeof(erase) - 1);
    if (c == ' ')
        KdpPagerLines = 0;
    else if (c == '\r' || c == '\n')
        KdpPagerLines = KdpPageRows - 1;            /* one more line, then ask again */
    else
        KdpPagerQuiet = TRUE;                       /* q, a break-in, anything else */
}

BOOLEAN KdPagerWrite(PCSTR Text, SIZE_T Length)
{
    /* .more may turn paging off in the middle of its own command. */
    if (KdpPagerThread == NULL || KdpPagerThread != KeGetCurrentThread() || KdpPageRows == 0)
        return FALSE;
    while (Length > 0 && !KdpPagerQuiet) {
        SIZE_T n = 0;
        while (n < Length && Text[n++] != '\n')
            ;
        KiConsoleWrite(Text, n);
        if (Text[n - 1] == '\n' && ++KdpPagerLines >= KdpPageRows)
            KdpMore();
        Text += n;
        Length -= n;
    }
    return TRUE;
}

/* The terminal's rows from its cursor report ESC [ rows ; cols R, or 0. */
static ULONG KdpQueryTerminalRows(VOID)
{
    static const char query[] = "\0337\033[999;999H\033[6n\0338";
    ULONG rows = 0, field = 0;
    UCHAR c;

    KiSerialWrite(query, sizeof(query) - 1);       /* the serial line only: not the screen */
    if (!KdpReadKeyTimeout(&c, KD_DETECT_MS) || c != ASCII_ESC)
        return 0;
    if (!KdpReadKeyTimeout(&c, KD_DETECT_MS) || c != '[')
        return 0;
    while (KdpReadKeyTimeout(&c, KD_DETECT_MS)) {
        if (c == 'R')
            return field == 1 ? rows : 0;
        if (c == ';')
            field++;
        else if (c >= '0' && c <= '9' && field == 0 && rows < KD_MAX_ROWS)
            rows = rows * 10 + (c - '0');
        else if (c < '0' || c > '9')
            return 0;
    }
    return 0;
}

static VOID KdpSetRows(ULONG TerminalRows)
{
    /* One row stays free for --More--. */
    KdpPageRows = TerminalRows >= KD_MIN_ROWS ? (TerminalRows < KD_MAX_ROWS ? TerminalRows : KD_MAX_ROWS) - 1 : 0;
}

VOID KdpPagerDetect(VOID)
{
    char value[16];
    ULONG64 rows;

    if (KeQueryBootOption("kdpage", value, sizeof(value))) {
        if (strcmp(value, "off") != 0 && KeQueryBootOptionNumber("kdpage", &rows))
            KdpSetRows((ULONG)rows);
        return;
    }
    KdpSetRows(KdpQueryTerminalRows());
}

static NTSTATUS KdpCmdMore(ULONG Argc, PCHAR Argv[])
{
    ULONG64 rows;

    if (Argc == 2 && strcmp(Argv[1], "off") == 0)
        KdpSetRows(0);
    else if (Argc == 2 && strcmp(Argv[1], "detect") == 0)
        KdpSetRows(KdpQueryTerminalRows());
    else if (Argc == 2 && KdpParseNumber(Argv[1], &rows) && rows >= KD_MIN_ROWS && rows < KD_MAX_ROWS)
        KdpSetRows((ULONG)rows);
    else if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .more [ROWS (%u-%u) | off | detect]",
                        KD_MIN_ROWS, KD_MAX_ROWS - 1);
    if (KdpPageRows == 0)
        DbgPrint("paging off\n");
    else
        DbgPrint("paging on: %u lines, then --More-- (Space: a page, Enter: a line, q: stop)\n",
                 KdpPageRows);
    return STATUS_SUCCESS;
}
KD_COMMAND(".more", KD_GROUP_SHELL, "[rows | off | detect]", "page long output at --More-- (a terminal's rows)",
           KdpCmdMore);

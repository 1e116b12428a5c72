/*
 * kdinput.c - reading a command line for the kd> shell from COM1.
 *
 * The line editor understands what a terminal sends: printable characters,
 * Backspace (0x08 or DEL 0x7F) and Ctrl-U (erase the line), Enter (CR or
 * LF; CR LF counts once), and the arrow keys' ANSI sequences ESC [ A / B to
 * walk a small history of earlier lines. Other bytes are ignored.
 *
 * The port is polled. At PASSIVE_LEVEL (the shell's own thread) an idle
 * poll sleeps 10 ms between looks, so the waiting shell costs the machine
 * nothing; the UART's 16-byte FIFO holds what arrives meanwhile (a program
 * typing faster waits for the echo, as a person does).
 */
#include "kd_internal.h"

#define KD_HISTORY 16
#define KD_LINE_MAX 128
#define KD_POLL_MS 10

#define ASCII_BS    0x08
#define ASCII_DEL   0x7F
#define ASCII_CTRLU 0x15
#define ASCII_ESC   0x1B
#define ASCII_CR    '\r'
#define ASCII_LF    '\n'

static char KdpHistory[KD_HISTORY][KD_LINE_MAX];
static ULONG KdpHistoryCount;           /* lines ever stored; the newest at (Count - 1) % KD_HISTORY */
static BOOLEAN KdpLastWasCr;

static UCHAR KdpGetByte(VOID)
{
    UCHAR c;
    LARGE_INTEGER interval;

    interval.QuadPart = -(LONG64)KD_POLL_MS * 10000;     /* relative, 100 ns units */
    while (!KiSerialReadByte(&c)) {
        if (KeGetCurrentIrql() == PASSIVE_LEVEL)
            KeDelayExecutionThread(KernelMode, FALSE, &interval);
        else
            YieldProcessor();
    }
    return c;
}

static VOID KdpEcho(PCSTR Text, SIZE_T Length)
{
    KiSerialWrite(Text, Length);
}

/* Erase what is shown of the line and show Text instead. */
static VOID KdpReplaceLine(PCHAR Line, SIZE_T *Length, PCSTR Text, SIZE_T Size)
{
    while (*Length > 0) {
        KdpEcho("\b \b", 3);
        (*Length)--;
    }
    RtlSnprintf(Line, Size, "%s", Text);
    *Length = strlen(Line);
    KdpEcho(Line, *Length);
}

VOID KdpReadLine(PCHAR Line, SIZE_T Size)
{
    SIZE_T length = 0;
    ULONG back = 0;                     /* how far up the history the line shows */

    if (Size > KD_LINE_MAX)
        Size = KD_LINE_MAX;
    Line[0] = 0;
    for (;;) {
        UCHAR c = KdpGetByte();

        if (c == ASCII_LF && KdpLastWasCr) {        /* the LF of a CR LF */
            KdpLastWasCr = FALSE;
            continue;
        }
        KdpLastWasCr = (c == ASCII_CR);
        if (c == ASCII_CR || c == ASCII_LF) {
            KdpEcho("\n", 1);
            Line[length] = 0;
            if (length > 0) {
                RtlSnprintf(KdpHistory[KdpHistoryCount % KD_HISTORY], KD_LINE_MAX, "%s", Line);
                KdpHistoryCount++;
            }
            return;
        }
        if (c == ASCII_BS || c == ASCII_DEL) {
            if (length > 0) {
                Line[--length] = 0;
                KdpEcho("\b \b", 3);
            }
        } else if (c == ASCII_CTRLU) {
            KdpReplaceLine(Line, &length, "", Size);
        } else if (c == ASCII_ESC) {
            /* Only CSI A (up) and CSI B (down) mean anything here. */
            if (KdpGetByte() != '[')
                continue;
            c = KdpGetByte();
            if (c == 'A' && back < KdpHistoryCount && back < KD_HISTORY) {
                back++;
                KdpReplaceLine(Line, &length, KdpHistory[(KdpHistoryCount - back) % KD_HISTORY], Size);
            } else if (c == 'B' && back > 0) {
                back--;
                KdpReplaceLine(Line, &length,
                               back ? KdpHistory[(KdpHistoryCount - back) % KD_HISTORY] : "", Size);
            }
        } else if (c >= ' ' && c < ASCII_DEL && length + 1 < Size) {
            Line[length++] = (char)c;
            Line[length] = 0;
            KdpEcho((PCSTR)&c, 1);
        }
    }
}

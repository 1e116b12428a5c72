/*
 * kdinput.c - reading a command line for the kd> shell from COM1.
 *
 * The line editor understands what a terminal sends: printable characters,
 * Backspace (0x08 or DEL 0x7F) and Ctrl-U (erase the line), Enter (CR or
 * LF; CR LF counts once), and the arrow keys' ANSI sequences ESC [ A / B to
 * walk a small history of earlier lines. Other bytes are ignored.
 *
 * Two readers share the UART: the shell thread, and processor 0's clock
 * interrupt, which looks for Ctrl-C (the break-in, kdbreak.c). So every
 * byte goes through a ring: whoever polls moves what the UART holds into
 * it, under KdpInputLock at HIGH_LEVEL, and Ctrl-C is taken out as a flag
 * instead of a character. In the break-in shell the others are frozen,
 * maybe holding that lock, so there the ring is used without it.
 *
 * At PASSIVE_LEVEL (the shell's own thread) an idle poll sleeps 10 ms
 * between looks, so the waiting shell costs the machine nothing; the
 * UART's 16-byte FIFO and the ring hold what arrives meanwhile.
 */
#include "kd_internal.h"

#define KD_HISTORY 16
#define KD_LINE_MAX 128
#define KD_POLL_MS 10
#define KD_RING_SIZE 256                /* a power of two: indexes wrap by masking */

#define ASCII_CTRLC 0x03
#define ASCII_BS    0x08
#define ASCII_DEL   0x7F
#define ASCII_CTRLU 0x15
#define ASCII_ESC   0x1B
#define ASCII_CR    '\r'
#define ASCII_LF    '\n'

BOOLEAN KdpInputEnabled;                /* a shell exists: Ctrl-C means something */
volatile ULONG KdpBreakCount;           /* break-ins so far: the thread's line is shown again */
static KSPIN_LOCK KdpInputLock;
static UCHAR KdpRing[KD_RING_SIZE];
static ULONG KdpRingHead, KdpRingTail;  /* free-running: Head - Tail bytes wait */
static BOOLEAN KdpBreakRequested;

/* Lock held (or the others frozen): move what the UART and the PS/2
 * keyboard (kdps2.c: ASCII, arrows as ESC [ A/B, the break chord as
 * Ctrl-C) have into the ring. */
static VOID KdpDrainUart(VOID)
{
    UCHAR c;

    while (KiSerialReadByte(&c) || KdpKeyboardReadByte(&c)) {
        if (c == ASCII_CTRLC) {
            KdpBreakRequested = TRUE;
            continue;
        }
        if (KdpRingHead - KdpRingTail < KD_RING_SIZE)
            KdpRing[KdpRingHead++ & (KD_RING_SIZE - 1)] = c;
    }
}

/* A byte from the ring (after a drain), FALSE if none; *Break reports a Ctrl-C. */
static BOOLEAN KdpPoll(PUCHAR Byte, PBOOLEAN Break)
{
    KIRQL old;
    BOOLEAN got = FALSE, locked = !KdpDebuggerActive();

    KeRaiseIrql(HIGH_LEVEL, &old);
    if (locked)
        KeAcquireSpinLockAtDpcLevel(&KdpInputLock);
    KdpDrainUart();
    if (KdpRingHead != KdpRingTail) {
        *Byte = KdpRing[KdpRingTail++ & (KD_RING_SIZE - 1)];
        got = TRUE;
    }
    if (Break != NULL) {
        *Break = KdpBreakRequested;
        KdpBreakRequested = FALSE;
    }
    if (locked)
        KeReleaseSpinLockFromDpcLevel(&KdpInputLock);
    KeLowerIrql(old);
    return got;
}

BOOLEAN KdPollBreakIn(VOID)
{
    BOOLEAN brk;
    KIRQL old;

    if (!KdpInputEnabled)
        return FALSE;
    /* Only look: a waiting character stays in the ring for the shell. */
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAcquireSpinLockAtDpcLevel(&KdpInputLock);
    KdpDrainUart();
    brk = KdpBreakRequested;
    KdpBreakRequested = FALSE;
    KeReleaseSpinLockFromDpcLevel(&KdpInputLock);
    KeLowerIrql(old);
    return brk;
}

/* The next byte typed; 0 when a break-in happened meanwhile (the caller redraws). */
static UCHAR KdpGetByte(ULONG BreakCount)
{
    UCHAR c;
    LARGE_INTEGER interval;

    interval.QuadPart = -(LONG64)KD_POLL_MS * 10000;     /* relative, 100 ns units */
    while (!KdpPoll(&c, NULL)) {
        if (KdpBreakCount != BreakCount && !KdpDebuggerActive())
            return 0;
        if (KeGetCurrentIrql() == PASSIVE_LEVEL)
            KeDelayExecutionThread(KernelMode, FALSE, &interval);
        else
            YieldProcessor();
    }
    return c;
}

static char KdpHistory[KD_HISTORY][KD_LINE_MAX];
static ULONG KdpHistoryCount;           /* lines ever stored; the newest at (Count - 1) % KD_HISTORY */
static BOOLEAN KdpLastWasCr;

UCHAR KdpReadKey(VOID)
{
    UCHAR c = KdpGetByte(KdpBreakCount);

    /* A CR's LF must not reach the next line as an empty line (which repeats). */
    if (c == ASCII_LF && KdpLastWasCr) {
        KdpLastWasCr = FALSE;
        c = KdpGetByte(KdpBreakCount);
    }
    KdpLastWasCr = (c == ASCII_CR);
    return c;
}

BOOLEAN KdpReadKeyTimeout(PUCHAR Byte, ULONG Milliseconds)
{
    LARGE_INTEGER interval;

    interval.QuadPart = -(LONG64)KD_POLL_MS * 10000;
    for (ULONG waited = 0;; waited += KD_POLL_MS) {
        if (KdpPoll(Byte, NULL))
            return TRUE;
        if (waited >= Milliseconds || KeGetCurrentIrql() != PASSIVE_LEVEL)
            return FALSE;
        KeDelayExecutionThread(KernelMode, FALSE, &interval);
    }
}

/* What is typed shows on the serial line and on the screen (a PS/2 keyboard's user looks there). */
static VOID KdpEcho(PCSTR Text, SIZE_T Length)
{
    KiConsoleWrite(Text, Length);
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

VOID KdpReadLine(PCSTR Prompt, PCHAR Line, SIZE_T Size)
{
    SIZE_T length = 0;
    ULONG back = 0;                     /* how far up the history the line shows */
    ULONG breaks = KdpBreakCount;

    if (Size > KD_LINE_MAX)
        Size = KD_LINE_MAX;
    Line[0] = 0;
    DbgPrint("%s", Prompt);
    for (;;) {
        UCHAR c = KdpGetByte(breaks);

        if (c == 0) {                   /* the break-in shell wrote over us: redraw */
            breaks = KdpBreakCount;
            DbgPrint("%s", Prompt);
            KdpEcho(Line, length);
            continue;
        }

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
            if (KdpGetByte(breaks) != '[')
                continue;
            c = KdpGetByte(breaks);
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

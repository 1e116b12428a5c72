/*
 * kdps2.c - the kd> shell's keyboard: the PS/2 keyboard behind the i8042
 * controller, polled, turned into the bytes a serial terminal would send,
 * so the line editor (kdinput.c) needs no second path.
 *
 * The i8042 translates the keyboard's codes to scan code set 1 (its power-on
 * default): a key's make code, the same | 0x80 when released, 0xE0 before
 * the extended keys. Shift, Ctrl and Alt are tracked; letters, digits and
 * the US punctuation become ASCII, Enter CR, Backspace DEL, the up and down
 * arrows ESC [ A and ESC [ B. Ctrl+letter gives the control character, so
 * Ctrl-C breaks in as on COM1; so does the chord Ctrl+Alt+SysRq (NT's
 * keyboard crash key is Ctrl+ScrollLock; SysRq is what a break key looks
 * like elsewhere): with Alt held, the SysRq key sends make code 0x54.
 *
 * The controller is only read: status port bit 0 says a byte waits, bit 5
 * that it came from the mouse (dropped). A machine without an i8042 reads
 * 0xFF from the status port and is left alone.
 */
#include "kd_internal.h"

#define I8042_DATA_PORT      0x60
#define I8042_STATUS_PORT    0x64
#define I8042_STATUS_OUTPUT  0x01       /* a byte waits in the output buffer */
#define I8042_STATUS_AUX     0x20       /* ... and it is the mouse's */
#define I8042_ABSENT         0xFF       /* an unconnected port floats high */

#define SC_RELEASE    0x80
#define SC_EXTENDED   0xE0
#define SC_LSHIFT     0x2A
#define SC_RSHIFT     0x36
#define SC_CTRL       0x1D
#define SC_ALT        0x38
#define SC_ALT_SYSRQ  0x54              /* SysRq (Print Screen) while Alt is held */
#define SC_EXT_UP     0x48
#define SC_EXT_DOWN   0x50

#define ASCII_CTRLC 0x03
#define ASCII_ESC   0x1B

/* Set 1 make codes 0x00-0x39 -> ASCII, without and with Shift (0: none). */
static const char KdpScanLower[0x3A] =
    "\0\033" "1234567890-=\177"
    "\tqwertyuiop[]\r"
    "\0asdfghjkl;'`"
    "\0\\zxcvbnm,./\0*\0 ";
static const char KdpScanUpper[0x3A] =
    "\0\033" "!@#$%^&*()_+\177"
    "\tQWERTYUIOP{}\r"
    "\0ASDFGHJKL:\"~"
    "\0|ZXCVBNM<>?\0*\0 ";

static BOOLEAN KdpShift, KdpCtrl, KdpAlt, KdpExtended;
static UCHAR KdpPending[3];             /* bytes of an arrow's ESC sequence still to give */
static ULONG KdpPendingCount;

/* The byte a scan code means, or 0 (a modifier, a release, an unknown key). */
static UCHAR KdpTranslate(UCHAR Code)
{
    BOOLEAN release = (Code & SC_RELEASE) != 0;
    UCHAR make = Code & ~SC_RELEASE;
    char c;

    if (Code == SC_EXTENDED) {
        KdpExtended = TRUE;
        return 0;
    }
    if (KdpExtended) {
        KdpExtended = FALSE;
        if (make == SC_CTRL)            /* the right Ctrl */
            KdpCtrl = !release;
        else if (make == SC_ALT)        /* the right Alt (AltGr) */
            KdpAlt = !release;
        else if (!release && (make == SC_EXT_UP || make == SC_EXT_DOWN)) {
            KdpPending[0] = make == SC_EXT_UP ? 'A' : 'B';
            KdpPending[1] = '[';
            KdpPendingCount = 2;        /* given last first: '[' then 'A' */
            return ASCII_ESC;
        }
        return 0;
    }
    switch (make) {
    case SC_LSHIFT:
    case SC_RSHIFT: KdpShift = !release; return 0;
    case SC_CTRL: KdpCtrl = !release; return 0;
    case SC_ALT: KdpAlt = !release; return 0;
    }
    if (release)
        return 0;
    if (make == SC_ALT_SYSRQ)
        return KdpCtrl && KdpAlt ? ASCII_CTRLC : 0;         /* the break chord */
    if (make >= sizeof(KdpScanLower))
        return 0;
    c = (KdpShift ? KdpScanUpper : KdpScanLower)[make];
    if (KdpCtrl && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return (UCHAR)((c | 0x20) - 'a' + 1);               /* Ctrl-A .. Ctrl-Z */
    return (UCHAR)c;
}

BOOLEAN KdpKeyboardReadByte(PUCHAR Byte)
{
    UCHAR status;

    if (KdpPendingCount > 0) {
        *Byte = KdpPending[--KdpPendingCount];
        return TRUE;
    }
    for (;;) {
        status = __inbyte(I8042_STATUS_PORT);
        if (status == I8042_ABSENT || !(status & I8042_STATUS_OUTPUT))
            return FALSE;
        if (status & I8042_STATUS_AUX) {
            (void)__inbyte(I8042_DATA_PORT);                /* the mouse's: not ours */
            continue;
        }
        *Byte = KdpTranslate(__inbyte(I8042_DATA_PORT));
        if (*Byte != 0)
            return TRUE;
    }
}

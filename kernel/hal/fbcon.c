/*
 * fbcon.c - a text console drawn on a linear framebuffer (UEFI GOP, VBE).
 *
 * Glyphs are 8x16 bitmaps from GRUB's ASCII font (the build converts
 * /usr/share/grub/ascii.h into KiFontBitmaps: 16 bytes per character, one
 * byte per row, most significant bit leftmost). Colours come from the
 * VGA-style attribute byte so the blue screen looks the same on both kinds
 * of display.
 *
 * Scrolling a 1024x768x32 framebuffer moves 3 MiB, which is slow under
 * emulation and would dominate boot time, so this console wraps instead:
 * after the last row it continues at the top, clearing each row before
 * writing it and the row below it (a blank line marks where output ends).
 */
#include "../ke/ke_internal.h"

extern const unsigned char KiFontBitmaps[];
#define FONT_WIDTH  8
#define FONT_HEIGHT 16
#define FONT_GLYPHS 128

static PUCHAR KiFbBase;
static ULONG KiFbPitch, KiFbBytesPerPixel, KiFbColumns, KiFbRows;
static ULONG KiFbRow, KiFbColumn;
static LOADER_DISPLAY KiFbDisplay;

/* The 16 VGA colours as 8-bit R, G, B. */
static const UCHAR KiVgaPalette[16][3] = {
    {0, 0, 0}, {0, 0, 170}, {0, 170, 0}, {0, 170, 170},
    {170, 0, 0}, {170, 0, 170}, {170, 85, 0}, {170, 170, 170},
    {85, 85, 85}, {85, 85, 255}, {85, 255, 85}, {85, 255, 255},
    {255, 85, 85}, {255, 85, 255}, {255, 255, 85}, {255, 255, 255},
};

static ULONG KiFbColor(ULONG Index)
{
    const UCHAR *c = KiVgaPalette[Index & 15];
    return ((ULONG)c[0] << KiFbDisplay.RedShift) | ((ULONG)c[1] << KiFbDisplay.GreenShift) |
           ((ULONG)c[2] << KiFbDisplay.BlueShift);
}

static void KiFbPutPixel(PUCHAR Row, ULONG X, ULONG Color)
{
    PUCHAR p = Row + X * KiFbBytesPerPixel;
    if (KiFbBytesPerPixel == 4) {
        *(volatile ULONG *)p = Color;
    } else {
        p[0] = (UCHAR)Color;
        p[1] = (UCHAR)(Color >> 8);
        p[2] = (UCHAR)(Color >> 16);
    }
}

static void KiFbClearRow(ULONG Row, UCHAR Attribute)
{
    ULONG bg = KiFbColor(Attribute >> 4);
    for (ULONG y = 0; y < FONT_HEIGHT; y++) {
        PUCHAR line = KiFbBase + (Row * FONT_HEIGHT + y) * KiFbPitch;
        for (ULONG x = 0; x < KiFbColumns * FONT_WIDTH; x++)
            KiFbPutPixel(line, x, bg);
    }
}

VOID KiFbInitialize(const LOADER_DISPLAY *Display, PVOID Base)
{
    KiFbDisplay = *Display;
    KiFbBase = Base;
    KiFbPitch = Display->Pitch;
    KiFbBytesPerPixel = Display->Bpp / 8;
    KiFbColumns = Display->Width / FONT_WIDTH;
    KiFbRows = Display->Height / FONT_HEIGHT;
    KiFbClear(KI_COLOR_NORMAL);
}

VOID KiFbRebase(PVOID Base)
{
    KiFbBase = Base;
}

VOID KiFbClear(UCHAR Attribute)
{
    if (!KiFbBase)
        return;
    for (ULONG r = 0; r < KiFbRows; r++)
        KiFbClearRow(r, Attribute);
    KiFbRow = KiFbColumn = 0;
}

static void KiFbNewLine(UCHAR Attribute)
{
    KiFbColumn = 0;
    KiFbRow = (KiFbRow + 1) % KiFbRows;
    KiFbClearRow(KiFbRow, Attribute);
    KiFbClearRow((KiFbRow + 1) % KiFbRows, Attribute);
}

static void KiFbDrawGlyph(UCHAR C, UCHAR Attribute)
{
    const unsigned char *glyph = &KiFontBitmaps[(C < FONT_GLYPHS ? C : '?') * FONT_HEIGHT];
    ULONG fg = KiFbColor(Attribute & 15), bg = KiFbColor(Attribute >> 4);

    for (ULONG y = 0; y < FONT_HEIGHT; y++) {
        PUCHAR line = KiFbBase + (KiFbRow * FONT_HEIGHT + y) * KiFbPitch;
        for (ULONG x = 0; x < FONT_WIDTH; x++)
            KiFbPutPixel(line, KiFbColumn * FONT_WIDTH + x,
                         (glyph[y] & (0x80 >> x)) ? fg : bg);
    }
    KiFbColumn++;
}

VOID KiFbWrite(PCSTR Text, SIZE_T Length, UCHAR Attribute)
{
    if (!KiFbBase)
        return;
    for (SIZE_T i = 0; i < Length; i++) {
        char c = Text[i];
        if (c == '\n') {
            KiFbNewLine(Attribute);
        } else if (c == '\r') {
            KiFbColumn = 0;
        } else if (c == '\b') {          /* the kd> line editor's erase: "\b \b" */
            if (KiFbColumn > 0)
                KiFbColumn--;
        } else {
            if (KiFbColumn == KiFbColumns)
                KiFbNewLine(Attribute);
            KiFbDrawGlyph((UCHAR)c, Attribute);
        }
    }
}

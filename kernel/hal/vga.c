/*
 * vga.c - the VGA text screen (80x25 cells at physical 0xB8000), used when
 * GRUB leaves the machine in text mode (BIOS boot, gfxpayload=text).
 *
 * Each cell is a character byte and an attribute byte (background colour in
 * the high nibble, foreground in the low one). The screen scrolls by
 * copying the rows up one line: 4 KiB, cheap even under emulation.
 */
#include "../ke/ke_internal.h"

static volatile USHORT *KiVgaBuffer;
static ULONG KiVgaWidth, KiVgaHeight, KiVgaRow, KiVgaColumn;

VOID KiVgaInitialize(PVOID TextBuffer, ULONG Width, ULONG Height)
{
    KiVgaBuffer = TextBuffer;
    KiVgaWidth = Width;
    KiVgaHeight = Height;
    KiVgaClear(KI_COLOR_NORMAL);
}

VOID KiVgaRebase(PVOID TextBuffer)
{
    KiVgaBuffer = TextBuffer;
}

VOID KiVgaClear(UCHAR Attribute)
{
    if (!KiVgaBuffer)
        return;
    for (ULONG i = 0; i < KiVgaWidth * KiVgaHeight; i++)
        KiVgaBuffer[i] = (USHORT)(Attribute << 8 | ' ');
    KiVgaRow = KiVgaColumn = 0;
}

static void KiVgaNewLine(UCHAR Attribute)
{
    KiVgaColumn = 0;
    if (++KiVgaRow < KiVgaHeight)
        return;
    for (ULONG i = 0; i < KiVgaWidth * (KiVgaHeight - 1); i++)
        KiVgaBuffer[i] = KiVgaBuffer[i + KiVgaWidth];
    for (ULONG i = 0; i < KiVgaWidth; i++)
        KiVgaBuffer[KiVgaWidth * (KiVgaHeight - 1) + i] = (USHORT)(Attribute << 8 | ' ');
    KiVgaRow = KiVgaHeight - 1;
}

VOID KiVgaWrite(PCSTR Text, SIZE_T Length, UCHAR Attribute)
{
    if (!KiVgaBuffer)
        return;
    for (SIZE_T i = 0; i < Length; i++) {
        char c = Text[i];
        if (c == '\n') {
            KiVgaNewLine(Attribute);
        } else if (c == '\r') {
            KiVgaColumn = 0;
        } else if (c == '\b') {          /* the kd> line editor's erase: "\b \b" */
            if (KiVgaColumn > 0)
                KiVgaColumn--;
        } else {
            if (KiVgaColumn == KiVgaWidth)
                KiVgaNewLine(Attribute);
            KiVgaBuffer[KiVgaRow * KiVgaWidth + KiVgaColumn++] =
                (USHORT)(Attribute << 8 | (UCHAR)c);
        }
    }
}

/*
 * kd.h - the public face of kernel/kd/ (Kd): debug output, symbols and the
 * bug-check screen. Included through ke/ke.h and wdm.h.
 */
#ifndef MICA_KD_H
#define MICA_KD_H

#include "../ntdef.h"

/* ---- Debug output (Kd) ------------------------------------------------ */

/*
 * DbgPrint formats like printf (%d %i %u %x %X %p %s %c %%, flags "-0+ ",
 * widths and precisions, length modifiers hh h l ll z I64) into a 512-byte
 * buffer, as NT's does, and writes it to the serial port and the screen.
 * %p prints 16 hex digits without a prefix, as in NT. Any IRQL.
 */
ULONG DbgPrint(PCSTR Format, ...) __attribute__((format(printf, 1, 2)));
ULONG vDbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, va_list Args);
#define KdPrint(Args) DbgPrint Args


/* Symbolize an address: "Name+0xOff" into Buffer; FALSE if not in the image. */
BOOLEAN KeSymbolizeAddress(ULONG_PTR Address, PCHAR Buffer, SIZE_T Size);

#endif

/*
 * serial.c - COM1 (16550 UART): the console every test reads, and the
 * kd> shell's input.
 *
 * 115200 baud, 8N1, polled both ways: DbgPrint must work at any IRQL and
 * inside a bug check, so there is no interrupt-driven queue. '\n' goes out as "\r\n" so
 * a terminal shows lines properly.
 */
#include "../ke/ke_internal.h"

#define COM1_BASE 0x3F8
/* 16550 register offsets (with DLAB = 0 / 1) */
#define UART_THR 0      /* transmit holding (write) */
#define UART_RBR 0      /* receive buffer (read) */
#define UART_DLL 0      /* divisor latch low (DLAB = 1) */
#define UART_IER 1      /* interrupt enable */
#define UART_DLM 1      /* divisor latch high (DLAB = 1) */
#define UART_FCR 2      /* FIFO control */
#define UART_LCR 3      /* line control */
#define UART_MCR 4      /* modem control */
#define UART_LSR 5      /* line status */

#define LCR_8N1       0x03
#define LCR_DLAB      0x80
#define FCR_ENABLE_CLEAR 0x07   /* enable FIFOs, clear RX and TX */
#define MCR_DTR_RTS   0x03
#define LSR_DR        0x01      /* data ready: a received byte waits in RBR */
#define LSR_THRE      0x20      /* transmit holding register empty */
#define UART_CLOCK_DIVISOR_115200 1

VOID KiSerialInitialize(VOID)
{
    __outbyte(COM1_BASE + UART_IER, 0);
    __outbyte(COM1_BASE + UART_LCR, LCR_DLAB);
    __outbyte(COM1_BASE + UART_DLL, UART_CLOCK_DIVISOR_115200);
    __outbyte(COM1_BASE + UART_DLM, 0);
    __outbyte(COM1_BASE + UART_LCR, LCR_8N1);
    __outbyte(COM1_BASE + UART_FCR, FCR_ENABLE_CLEAR);
    __outbyte(COM1_BASE + UART_MCR, MCR_DTR_RTS);
}

static void KiSerialPut(char C)
{
    while (!(__inbyte(COM1_BASE + UART_LSR) & LSR_THRE))
        ;
    __outbyte(COM1_BASE + UART_THR, (UCHAR)C);
}

VOID KiSerialWrite(PCSTR Text, SIZE_T Length)
{
    for (SIZE_T i = 0; i < Length; i++) {
        if (Text[i] == '\n')
            KiSerialPut('\r');
        KiSerialPut(Text[i]);
    }
}

BOOLEAN KiSerialReadByte(PUCHAR Byte)
{
    if (!(__inbyte(COM1_BASE + UART_LSR) & LSR_DR))
        return FALSE;
    *Byte = __inbyte(COM1_BASE + UART_RBR);
    return TRUE;
}

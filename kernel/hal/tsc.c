/*
 * tsc.c - calibrate the time-stamp counter against the PIT.
 *
 * Benchmarks count TSC cycles; converting them to time needs the TSC
 * frequency. The 8254 PIT runs at a fixed 1.193182 MHz on every PC (and in
 * QEMU), so: gate PIT channel 2 on, load a 10 ms one-shot count, and count
 * TSC ticks until its output pin (readable in port 0x61) goes high. The
 * median of a few rounds is kept.
 */
#include "../ke/ke_internal.h"

#define PIT_FREQUENCY_HZ   1193182
#define PIT_CHANNEL2_DATA  0x42
#define PIT_COMMAND        0x43
#define PIT_CMD_CH2_LOHI_MODE0 0xB0   /* channel 2, lobyte/hibyte, mode 0, binary */
#define SYSTEM_CONTROL_PORT_B  0x61
#define PORTB_TIMER2_GATE  0x01
#define PORTB_SPEAKER_DATA 0x02
#define PORTB_TIMER2_OUT   0x20
#define CALIBRATION_MS     10
#define CALIBRATION_ROUNDS 3

ULONG64 KeTimeStampFrequency;
ULONG64 KiBootTsc;

static ULONG64 HalpMeasureOnce(void)
{
    ULONG count = PIT_FREQUENCY_HZ * CALIBRATION_MS / 1000;
    UCHAR b = __inbyte(SYSTEM_CONTROL_PORT_B);
    ULONG64 start, end;

    /* Gate off and speaker off while programming, then gate on to start. */
    __outbyte(SYSTEM_CONTROL_PORT_B, (UCHAR)(b & ~(PORTB_TIMER2_GATE | PORTB_SPEAKER_DATA)));
    __outbyte(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE0);
    __outbyte(PIT_CHANNEL2_DATA, (UCHAR)count);
    __outbyte(PIT_CHANNEL2_DATA, (UCHAR)(count >> 8));
    __outbyte(SYSTEM_CONTROL_PORT_B, (UCHAR)((b & ~PORTB_SPEAKER_DATA) | PORTB_TIMER2_GATE));
    start = KeReadTimeStampCounter();
    while (!(__inbyte(SYSTEM_CONTROL_PORT_B) & PORTB_TIMER2_OUT))
        ;
    end = KeReadTimeStampCounter();
    __outbyte(SYSTEM_CONTROL_PORT_B, b);
    return (end - start) * (1000 / CALIBRATION_MS);
}

VOID HalpCalibrateTimeStampCounter(VOID)
{
    ULONG64 r[CALIBRATION_ROUNDS], t;

    for (ULONG i = 0; i < CALIBRATION_ROUNDS; i++)
        r[i] = HalpMeasureOnce();
    for (ULONG i = 0; i < CALIBRATION_ROUNDS; i++)
        for (ULONG j = i + 1; j < CALIBRATION_ROUNDS; j++)
            if (r[j] < r[i]) {
                t = r[i];
                r[i] = r[j];
                r[j] = t;
            }
    KeTimeStampFrequency = r[CALIBRATION_ROUNDS / 2];
}

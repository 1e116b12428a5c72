/*
 * power.c - leaving the machine.
 *
 * Under QEMU the test harness adds an isa-debug-exit device at port 0xF4:
 * writing V there ends QEMU with exit status (V << 1) | 1. The runner
 * counts only status 33 (V = 0x10) as a pass: a triple fault with
 * -no-reboot also ends QEMU, but with status 0. On a real PC, or a QEMU
 * without the device, the write does nothing and we halt.
 */
#include "../ke/ke_internal.h"

#define QEMU_DEBUG_EXIT_PORT 0xF4

VOID HalpQemuExit(UCHAR Code)
{
    __outdword(QEMU_DEBUG_EXIT_PORT, Code);
    for (;;) {
        _disable();
        __halt();
    }
}

/*
 * Reset the machine through the chipset's Reset Control Register (I/O port
 * 0xCF9 on PIIX3 and ICH9 alike: bit 1 "system reset", bit 2 "reset CPU"
 * from 0 to 1 starts it), then through the keyboard controller's pulse of
 * the reset line, as PCs have allowed since the AT. `make run` gives QEMU
 * -no-reboot, so there a reset ends QEMU.
 */
#define RESET_CONTROL_PORT   0xCF9
#define RESET_CONTROL_SYS    0x02
#define RESET_CONTROL_CPU    0x04
#define KBC_COMMAND_PORT     0x64
#define KBC_PULSE_RESET      0xFE

VOID HalpResetMachine(VOID)
{
    _disable();
    __outbyte(RESET_CONTROL_PORT, RESET_CONTROL_SYS);
    __outbyte(RESET_CONTROL_PORT, RESET_CONTROL_SYS | RESET_CONTROL_CPU);
    __outbyte(KBC_COMMAND_PORT, KBC_PULSE_RESET);
    for (;;)
        __halt();
}

/*
 * test_reset.c - the QEMU runner catches a triple fault.
 *
 * QEMU runs with -no-reboot, so a triple fault ends it with status 0 and
 * no closing line; the runner must report that as a reset without QEMU's
 * (costly) interrupt log. This test resets the machine on purpose: with
 * interrupts off it loads an empty IDT and executes ud2. The #UD cannot be
 * delivered (vector 6 lies past the IDT's limit), which raises #GP, which
 * cannot be delivered either: a double fault, undeliverable as well, is a
 * triple fault, and the processor shuts down. Booted alone
 * (test=reset.triple_fault_is_caught); tests/runner.py passes it only if
 * it sees the reset.
 */
#include "../../kernel/ke/ke.h"
#include "../ktest.h"

KTEST_RESET(reset, triple_fault_is_caught)
{
    static const struct {
        USHORT Limit;
        ULONG64 Base;
    } __attribute__((packed)) emptyIdt = {0, 0};

    __asm__ __volatile__("cli\n\t"
                         "lidt %0\n\t"
                         "ud2"
                         : : "m"(emptyIdt) : "memory");
}

/*
 * pagetouch.c - a driver routine that reads memory at DISPATCH_LEVEL, for
 * the bug-check test of a driver touching paged-out pool there
 * (tests/kernel/test_pagefile_bugcheck.c): the fault's code address is in
 * the drivers' code range, so the stop is DRIVER_IRQL_NOT_LESS_OR_EQUAL
 * (0xD1), not the kernel's IRQL_NOT_LESS_OR_EQUAL (0xA).
 */
#include <wdm.h>

ULONG64 PagetouchReadAtDispatch(volatile ULONG64 *Word)
{
    KIRQL irql;
    ULONG64 value;

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    value = *Word;                      /* the bug: paged memory at DISPATCH_LEVEL */
    KeLowerIrql(irql);
    return value;
}

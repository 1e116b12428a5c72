/*
 * pagetouch.c - a small driver image for the paging tests.
 *
 * PagetouchReadAtDispatch reads memory at DISPATCH_LEVEL, for the bug-check
 * test of a driver touching paged-out pool there
 * (tests/kernel/test_pagefile_bugcheck.c): the fault's code address is in
 * the drivers' code range, so the stop is DRIVER_IRQL_NOT_LESS_OR_EQUAL
 * (0xD1), not the kernel's IRQL_NOT_LESS_OR_EQUAL (0xA).
 *
 * linker.ld gives this file an image of its own pages (its .text, then its
 * PAGE section), so the tests of mm/pagesec.c can page the whole driver
 * (MmPageEntireDriver), lock its PAGE section, and call its pageable
 * routine after it was paged out (tests/kernel/test_pagesec*.c).
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

/* Nonpaged code of the image (pageable only after MmPageEntireDriver). */
ULONG64 PagetouchMix(ULONG64 Value)
{
    return Value * 0x9E3779B97F4A7C15ULL + 0x1234;
}

/* The image's pageable code: runs at PASSIVE_LEVEL only. */
MM_PAGEABLE_CODE ULONG64 PagetouchPagedMix(ULONG64 Value)
{
    return (Value ^ 0x5A5A5A5A5A5A5A5AULL) + 7;
}

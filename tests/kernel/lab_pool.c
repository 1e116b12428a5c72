/*
 * lab_pool.c - the pool lab's header checks (tests/labs/pool.md): each
 * kind of damage to a small block's header, found at ExFreePool, ends in
 * BAD_POOL_HEADER (0x19) with the parameter 1 that names it and NT's
 * parameters 2 and 3 (the header, and the neighbour it disagrees with).
 * Each test boots alone. header_overwrite in test_pool_bugcheck.c is the
 * fifth case (the next header overrun, 0x05).
 */
#include "../../mm/pool_internal.h"
#include "../ktest.h"

#define TAG_LAB 'bLoP'
#define LAB_BLOCK_BYTES 1000            /* 64 units with its header */

/*
 * Two neighbours a, b carved one after the other from a fresh page, b not
 * the first block of its page (the partly free pages are used up first,
 * as in header_overwrite). Returns FALSE, with a line saying why, if the
 * pool placed them otherwise: the test then ends without the bug check,
 * which the runner reports as a failure.
 */
static BOOLEAN KtpLabNeighbours(PPOOL_HEADER *A, PPOOL_HEADER *B)
{
    PUCHAR a, b, fill[4];

    for (ULONG i = 0; i < 4; i++)
        fill[i] = ExAllocatePoolWithTag(NonPagedPool, LAB_BLOCK_BYTES, TAG_LAB);
    UNREFERENCED_PARAMETER(fill);
    a = ExAllocatePoolWithTag(NonPagedPool, LAB_BLOCK_BYTES, TAG_LAB);
    b = ExAllocatePoolWithTag(NonPagedPool, LAB_BLOCK_BYTES, TAG_LAB);
    if (a == NULL || b != a + 1024 || ExpPageOffset(b - sizeof(POOL_HEADER)) == 0) {
        KtestPrint("# a %p and b %p are not neighbours in one page\n", a, b);
        return FALSE;
    }
    *A = (PPOOL_HEADER)a - 1;
    *B = (PPOOL_HEADER)b - 1;
    return TRUE;
}

/* A zero BlockSize would make a walk of the page loop forever (0x08). */
KTEST_BUGCHECK(labpool, block_size_zero, BAD_POOL_HEADER)
{
    PPOOL_HEADER a, b;

    if (!KtpLabNeighbours(&a, &b))
        return;
    b->BlockSize = 0;
    KtestExpectBugCheck(BAD_POOL_HEADER, BAD_POOL_HEADER_BLOCK_SIZE_ZERO, (ULONG64)b, 0, 0);
    ExFreePool(b + 1);
}

/* A BlockSize reaching past the end of the page (0x09; parameter 3 is
 * where the next header would be). */
KTEST_BUGCHECK(labpool, block_past_page_end, BAD_POOL_HEADER)
{
    PPOOL_HEADER a, b;

    if (!KtpLabNeighbours(&a, &b))
        return;
    b->BlockSize = 255;
    KtestExpectBugCheck(BAD_POOL_HEADER, BAD_POOL_HEADER_BLOCK_TOO_LARGE, (ULONG64)b, 0,
                        (ULONG64)b + 255 * POOL_BLOCK_SIZE);
    ExFreePool(b + 1);
}

/* A PreviousSize reaching in front of the page (0x06; parameter 3 is
 * where the previous header would be). */
KTEST_BUGCHECK(labpool, previous_before_page_start, BAD_POOL_HEADER)
{
    PPOOL_HEADER a, b;
    ULONG units;

    if (!KtpLabNeighbours(&a, &b))
        return;
    units = (ULONG)(ExpPageOffset(b) >> POOL_BLOCK_SHIFT) + 1;
    b->PreviousSize = (UCHAR)units;
    KtestExpectBugCheck(BAD_POOL_HEADER, BAD_POOL_HEADER_PREVIOUS_TOO_LARGE, (ULONG64)b, 0,
                        (ULONG64)b - (ULONG64)units * POOL_BLOCK_SIZE);
    ExFreePool(b + 1);
}

/* b's own header is sound but its left neighbour's BlockSize no longer
 * reaches it (an underrun of b, or a stray write into a): 0x05, with the
 * neighbour as parameter 3. Seen only under the pool's lock (pool.c). */
KTEST_BUGCHECK(labpool, previous_neighbour_disagrees, BAD_POOL_HEADER)
{
    PPOOL_HEADER a, b;

    if (!KtpLabNeighbours(&a, &b))
        return;
    a->BlockSize--;
    KtestExpectBugCheck(BAD_POOL_HEADER, BAD_POOL_HEADER_NEIGHBOUR_MISMATCH, (ULONG64)b, 0,
                        (ULONG64)a);
    ExFreePool(b + 1);
}

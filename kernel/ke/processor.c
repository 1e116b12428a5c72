/*
 * processor.c - KeGetCurrentProcessorNumberEx: which processor, as a
 * group and a number.
 *
 * NT numbers processors in groups of up to 64 (a KAFFINITY's width);
 * drivers written for more than 64 processors ask for the pair. Mica has
 * one group, so the group is 0 and the system-wide index is the KPRCB's
 * number. Any IRQL.
 */
#include "ke_internal.h"

ULONG KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber)
{
    ULONG number = KeGetCurrentPrcb()->Number;

    if (ProcNumber != NULL) {
        ProcNumber->Group = 0;
        ProcNumber->Number = (UCHAR)number;
        ProcNumber->Reserved = 0;
    }
    return number;
}

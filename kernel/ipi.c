/*
 * ipi.c - placeholder until the processors start (replaced by the SMP work).
 */
#include "ke_internal.h"

volatile CCHAR KeNumberProcessors = 1;

VOID KiIpiSendPacket(KAFFINITY Targets, PKIPI_BROADCAST_WORKER Worker, ULONG_PTR Context)
{
    UNREFERENCED_PARAMETER(Targets);
    UNREFERENCED_PARAMETER(Worker);
    UNREFERENCED_PARAMETER(Context);
}

KAFFINITY KeQueryActiveProcessors(VOID)
{
    return 1;
}

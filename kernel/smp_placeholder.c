/*
 * smp_placeholder.c - TEMPORARY one-processor definitions of the SMP
 * routines ke.h declares, so that the SMP tests and benchmarks link and
 * run (N = 1) before the processors start. The SMP work replaces this file;
 * drop its commit when merging.
 */
#include "ke_internal.h"

ULONG KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    if (ActiveProcessors != NULL)
        *ActiveProcessors = KeQueryActiveProcessors();
    return 1;
}

ULONG KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    return GroupNumber == 0 || GroupNumber == ALL_PROCESSOR_GROUPS ? 1 : 0;
}

VOID KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number)
{
    Dpc->Number = (USHORT)Number;
}

NTSTATUS KeSetTargetProcessorDpcEx(PKDPC Dpc, PPROCESSOR_NUMBER ProcNumber)
{
    if (ProcNumber->Group != 0 || ProcNumber->Number != 0)
        return STATUS_INVALID_PARAMETER;
    KeSetTargetProcessorDpc(Dpc, (CCHAR)ProcNumber->Number);
    return STATUS_SUCCESS;
}

ULONG_PTR KeIpiGenericCall(PKIPI_BROADCAST_WORKER BroadcastFunction, ULONG_PTR Context)
{
    KIRQL old = KfRaiseIrql(IPI_LEVEL);
    ULONG_PTR result = BroadcastFunction(Context);

    KeLowerIrql(old);
    return result;
}

VOID KeSetSystemAffinityThread(KAFFINITY Affinity)
{
    UNREFERENCED_PARAMETER(Affinity);
}

KAFFINITY KeSetSystemAffinityThreadEx(KAFFINITY Affinity)
{
    UNREFERENCED_PARAMETER(Affinity);
    return 0;
}

VOID KeRevertToUserAffinityThread(VOID)
{
}

VOID KeRevertToUserAffinityThreadEx(KAFFINITY Affinity)
{
    UNREFERENCED_PARAMETER(Affinity);
}

KAFFINITY KeSetAffinityThread(PKTHREAD Thread, KAFFINITY Affinity)
{
    UNREFERENCED_PARAMETER(Thread);
    return (Affinity & KeQueryActiveProcessors()) ? KeQueryActiveProcessors() : 0;
}

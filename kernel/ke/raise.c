/*
 * raise.c - ExRaiseStatus and friends: reporting an error by raising.
 *
 * NT reports some misuses by raising an exception (a mutex released by a
 * thread that does not own it, a semaphore released past its limit, a
 * pool allocation that asked to raise on failure, a bad buffer given to
 * MmProbeAndLockPages) so that a caller with a __try/__except may recover.
 * Every raise in Mica comes here and goes to KiRaiseException (except.c):
 * the innermost __try of the thread gets it, and with none the exception
 * is unhandled, which in kernel mode is NT's KMODE_EXCEPTION_NOT_HANDLED
 * (0x1E): parameter 1 the status (sign-extended to 64 bits, as x64 NT
 * prints it), parameter 2 the address where it was raised, parameters 3
 * and 4 the exception's own parameters (none for a status raise).
 *
 * Learn gives ExRaiseStatus IRQL <= APC_LEVEL for drivers; NT itself
 * raises from KeReleaseMutex/KeReleaseSemaphore at up to DISPATCH_LEVEL.
 * No IRQL is refused here.
 */
#include "ke_internal.h"

VOID ExRaiseStatus(NTSTATUS Status)
{
    KiRaiseException(Status, __builtin_return_address(0));
}

VOID ExRaiseAccessViolation(VOID)
{
    KiRaiseException(STATUS_ACCESS_VIOLATION, __builtin_return_address(0));
}

VOID ExRaiseDatatypeMisalignment(VOID)
{
    KiRaiseException(STATUS_DATATYPE_MISALIGNMENT, __builtin_return_address(0));
}

/*
 * raise.c - ExRaiseStatus: the end of an exception nobody handles.
 *
 * NT reports some misuses by raising an exception (a mutex released by a
 * thread that does not own it, a semaphore released past its limit, a
 * pool allocation that asked to raise on failure) so that a caller with a
 * __try/__except may recover. Mica has no structured exception handling
 * yet, so every raise is unhandled, and an unhandled exception in kernel
 * mode is NT's KMODE_EXCEPTION_NOT_HANDLED (0x1E): parameter 1 the status
 * (sign-extended to 64 bits, as x64 NT prints it), parameter 2 the address
 * where it was raised, parameters 3 and 4 the exception's own parameters
 * (none for a status raise). The one place that says so: every raise in
 * Mica comes here.
 *
 * Learn gives ExRaiseStatus IRQL <= APC_LEVEL for drivers; NT itself
 * raises from KeReleaseMutex/KeReleaseSemaphore at up to DISPATCH_LEVEL.
 * The answer is a bug check either way, so no IRQL is refused here.
 */
#include "ke_internal.h"

VOID ExRaiseStatus(NTSTATUS Status)
{
    KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(LONG_PTR)Status,
                 (ULONG_PTR)__builtin_return_address(0), 0, 0);
}

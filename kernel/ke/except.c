/*
 * except.c - Mica's stand-in for structured exception handling: the
 * per-thread list of __try frames, and delivering a raise to the innermost
 * one (ke.h explains the macros and how they differ from NT's SEH).
 *
 * Each thread keeps its active __try frames in a list, innermost first
 * (KTHREAD.ExceptionList; the KPRCB's before the first thread exists, as
 * for the trap frame). The frames live on the thread's own stack, inside
 * the functions that are running, so a frame on the list is always live.
 * A raise takes the innermost frame off the list and restores the context
 * saved in it (exceptctx.asm): execution continues in that __try's __except.
 *
 * A raise can come from inside a page-fault handler (a kernel-mode access
 * to a user address, mm/fault.c): the handler's trap frame is abandoned,
 * so the thread's trap-frame slot goes back to what it was at the __try
 * (trap.c keeps it per thread). Interrupts are as the faulting code had
 * them, which is as the __try's code had them.
 */
#include "ke_internal.h"

__attribute__((noreturn)) VOID KiRestoreExceptionContext(PKI_EXCEPTION_FRAME Frame);

static PKI_EXCEPTION_FRAME *KiExceptionListSlot(void)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    return prcb->CurrentThread ? &prcb->CurrentThread->ExceptionList : &prcb->ExceptionList;
}

static PKTRAP_FRAME *KiTrapFrameSlotOfThread(void)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    return prcb->CurrentThread ? &prcb->CurrentThread->TrapFrame : &prcb->TrapFrame;
}

VOID KiPushExceptionFrame(PKI_EXCEPTION_FRAME Frame)
{
    PKI_EXCEPTION_FRAME *slot = KiExceptionListSlot();

    Frame->Next = *slot;
    Frame->TrapFrame = *KiTrapFrameSlotOfThread();
    Frame->ExceptionCode = STATUS_SUCCESS;
    Frame->ExceptionAddress = NULL;
    *slot = Frame;
}

/* The __try is over (normally, or after its handler): if the frame is
 * still on the list (no raise took it off), it comes off now. */
VOID KiLeaveExceptionFrame(PKI_EXCEPTION_FRAME Frame)
{
    PKI_EXCEPTION_FRAME *slot = KiExceptionListSlot();

    if (*slot == Frame)
        *slot = Frame->Next;
}

BOOLEAN KiExceptionHandlerActive(VOID)
{
    return *KiExceptionListSlot() != NULL;
}

VOID KiRaiseException(NTSTATUS Status, PVOID ExceptionAddress)
{
    PKI_EXCEPTION_FRAME *slot = KiExceptionListSlot();
    PKI_EXCEPTION_FRAME frame = *slot;

    if (frame == NULL)
        KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, (ULONG_PTR)(LONG_PTR)Status,
                     (ULONG_PTR)ExceptionAddress, 0, 0);
    *slot = frame->Next;
    frame->ExceptionCode = Status;
    frame->ExceptionAddress = ExceptionAddress;
    *KiTrapFrameSlotOfThread() = frame->TrapFrame;
    KiRestoreExceptionContext(frame);
}

BOOLEAN KiFilterException(PKI_EXCEPTION_FRAME Frame, LONG FilterResult)
{
    if (FilterResult > 0)               /* EXCEPTION_EXECUTE_HANDLER */
        return TRUE;
    if (FilterResult < 0)               /* EXCEPTION_CONTINUE_EXECUTION of a raise */
        KiRaiseException(STATUS_NONCONTINUABLE_EXCEPTION, Frame->ExceptionAddress);
    KiRaiseException(Frame->ExceptionCode, Frame->ExceptionAddress);
}

/*
 * test_smp_reap.c - the stack of a thread that ended is freed without the
 * dispatcher lock held (mm/stack.c, kernel/ke/thread.c).
 *
 * The dispatcher lock is the innermost lock: KeSetEvent may be called under
 * any spin lock at DISPATCH_LEVEL (NT's rule; the pager ends a hard fault
 * with KeSetEvent under MmPfnLock). The processor that switches away from
 * a terminated thread frees its stack (KiAfterContextSwitch) while it
 * still holds the dispatcher lock, and freeing a stack takes MmPfnLock.
 * Done there and then, the two orders met: on four processors the
 * page-file test stopped with one processor holding MmPfnLock and waiting
 * for the dispatcher lock in KeSetEvent, and another holding the
 * dispatcher lock and waiting for MmPfnLock to free a dead worker's stack.
 *
 * The test holds MmPfnLock on one processor while a thread pinned to
 * another ends; the dispatcher lock must become free again (the stack
 * waits for a DPC), and then KeSetEvent under MmPfnLock must go through.
 * A bounded wait reports the old order as a failure instead of a hang.
 */
#include "../../kernel/ke/ke_internal.h"
#include "../../mm/mm_internal.h"
#include "../ktest.h"
#include "smp_threads.h"

#define KTSR_WAIT_MS 3000

static struct {
    volatile LONG Started, Go;
} KtsrExit;

/* On the other processor: wait for the signal, then end (the next thread
 * on that processor frees this one's stack). */
static VOID KtsrEndWhenTold(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    __atomic_store_n(&KtsrExit.Started, 1, __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&KtsrExit.Go, __ATOMIC_SEQ_CST))
        YieldProcessor();
}

KTEST(smp, ended_thread_stack_is_freed_outside_the_dispatcher_lock)
{
    ULONG here, there;
    KAFFINITY previous;
    HANDLE handle;
    PKTHREAD thread = NULL;
    KEVENT event;
    ULONG64 deadline;
    BOOLEAN ended = FALSE, dispatcherFree = FALSE;
    KIRQL irql;

    if (KeQueryActiveProcessorCount(NULL) < 2)
        KTEST_SKIP("needs 2 processors");
    here = KsmpProcessorOf(0);
    there = KsmpProcessorOf(1);
    previous = KsmpPin(here);
    KtsrExit.Started = KtsrExit.Go = 0;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    if (PspCreateSystemThread(&handle, KtsrEndWhenTold, NULL, AFFINITY_MASK(there)) != STATUS_SUCCESS ||
        ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, (PVOID *)&thread, NULL) != STATUS_SUCCESS) {
        KsmpUnpin(previous);
        KASSERT_TRUE(!"the thread could not be started");
    }
    deadline = KeReadTimeStampCounter() + KsmpTicks(KTSR_WAIT_MS);
    while (!__atomic_load_n(&KtsrExit.Started, __ATOMIC_SEQ_CST) && KeReadTimeStampCounter() < deadline)
        YieldProcessor();
    KEXPECT_TRUE(KtsrExit.Started);

    KeAcquireSpinLock(&MmPfnLock, &irql);
    __atomic_store_n(&KtsrExit.Go, 1, __ATOMIC_SEQ_CST);
    /* The thread has ended once it is signalled (set under the dispatcher
     * lock by PsTerminateSystemThread); from then on, the dispatcher lock
     * stays held for good if its stack is freed under it. */
    deadline = KeReadTimeStampCounter() + KsmpTicks(KTSR_WAIT_MS);
    while (KeReadTimeStampCounter() < deadline && !dispatcherFree) {
        if (!ended)
            ended = __atomic_load_n(&thread->Header.SignalState, __ATOMIC_SEQ_CST) != 0;
        else
            dispatcherFree = __atomic_load_n(&KiDispatcherLock, __ATOMIC_SEQ_CST) == 0;
        YieldProcessor();
    }
    /* Only now is KeSetEvent under MmPfnLock safe to try (else it would
     * wait for ever: the deadlock itself). */
    if (dispatcherFree)
        KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&MmPfnLock, irql);

    KEXPECT_TRUE(ended);
    KEXPECT_TRUE(dispatcherFree);
    KEXPECT_EQ(KeReadStateEvent(&event), dispatcherFree ? 1 : 0);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    ZwClose(handle);
    KsmpUnpin(previous);
}

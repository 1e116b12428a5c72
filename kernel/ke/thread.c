/*
 * thread.c - system threads: PsCreateSystemThread, PsTerminateSystemThread.
 *
 * A thread is a KTHREAD (a dispatcher object, signalled when it ends, so
 * KeWaitForSingleObject(thread) waits for it) and a kernel stack from
 * MmCreateKernelStack (with its guard page). A new thread's stack is built
 * to look like one that was switched out inside KiSwapContext, with
 * KiThreadStartup as the return address, so the first switch to it is no
 * different from any other.
 *
 * Mica has no object manager yet: thread objects come from a fixed table
 * (KI_MAX_THREADS; PsCreateSystemThread fails with
 * STATUS_INSUFFICIENT_RESOURCES beyond it), the handle is the object, and
 * a reference count (the handle's and the running thread's) frees the slot.
 * A terminated thread cannot free the stack it is running on: the next
 * thread to run does it, right after the switch (KiAfterContextSwitch).
 */
#include "ke_internal.h"
#include "../../mm/mm.h"
#include "../io/iop.h"

_Static_assert(__builtin_offsetof(KTHREAD, KernelStack) == 24, "swap.asm KTHREAD_KERNEL_STACK");

#define KI_SYSTEM_THREAD_PRIORITY 8      /* NT's default for PsCreateSystemThread */
#define KI_INITIAL_RFLAGS 0x2            /* interrupts off until KiThreadStartup */

KTHREAD KiThreads[KI_MAX_THREADS];         /* also read by kd>'s !thread */
static KTHREAD KiInitialThread;          /* the boot stack's thread */
static KTHREAD KiIdleThreads[MAXIMUM_PROCESSORS];
static KSPIN_LOCK KiThreadTableLock;
static ULONG KiNextThreadId = 4;

PKTHREAD KeGetCurrentThread(VOID)
{
    return KeGetCurrentPrcb()->CurrentThread;
}

static void KiInitializeThreadObject(PKTHREAD Thread, SCHAR Priority)
{
    Thread->Header.Lock = 0;
    Thread->Header.ThreadType = ThreadObject;
    Thread->Header.SignalState = 0;
    InitializeListHead(&Thread->Header.WaitListHead);
    Thread->Priority = Priority;
    Thread->BasePriority = Priority;
    Thread->CombinedApcDisable = 0;
    InitializeListHead(&Thread->MutantListHead);
    Thread->Quantum = KI_QUANTUM_TICKS;
    Thread->State = Initialized;
    /* Any processor, including those that start later (NT: the process's affinity). */
    Thread->Affinity = Thread->UserAffinity = ~(KAFFINITY)0;
    Thread->ThreadId = __atomic_fetch_add(&KiNextThreadId, 4, __ATOMIC_RELAXED);
    KeInitializeTimerEx(&Thread->WaitTimer, NotificationTimer);
    Thread->WaitTimer.Header.Type = KI_WAIT_TIMER_OBJECT;
}

/* The first code a new thread runs, at DISPATCH_LEVEL with the dispatcher lock held. */
static __attribute__((noreturn)) void KiThreadStartup(void)
{
    PKTHREAD thread = KeGetCurrentThread();

    KiAfterContextSwitch();
    _enable();                          /* DPCs run in the release: interrupts on first */
    KiReleaseDispatcherLock(PASSIVE_LEVEL);
    thread->StartRoutine(thread->StartContext);
    PsTerminateSystemThread(STATUS_SUCCESS);
    __builtin_unreachable();            /* it only returns for the initial/idle thread */
}

/* Build the frame KiSwapContext pops: r15..r12, rbx, rbp, rflags, return. */
static void KiInitializeThreadStack(PKTHREAD Thread)
{
    ULONG64 *sp = (ULONG64 *)Thread->StackBase;

    *--sp = 0;                          /* fake return address: ends backtraces */
    *--sp = (ULONG64)KiThreadStartup;
    *--sp = KI_INITIAL_RFLAGS;
    for (int i = 0; i < 6; i++)
        *--sp = 0;                      /* rbp (0 ends the frame chain), rbx, r12-r15 */
    Thread->KernelStack = (ULONG64)sp;
}

VOID KiInitializeThreading(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();

    KeInitializeSpinLock(&KiThreadTableLock);
    KiInitializeScheduler();
    KiInitializeTimers();
    KiInitializeDpcFlush();

    /* The code running now becomes a thread: the initial thread. */
    KiInitializeThreadObject(&KiInitialThread, KI_SYSTEM_THREAD_PRIORITY);
    KiInitialThread.State = Running;
    KiInitialThread.StackBase = (ULONG64)KiBootStackTop;
    KiInitialThread.StackLimit = (ULONG64)KiBootStack;
    KiInitialThread.ReferenceCount = 1;
    prcb->CurrentThread = &KiInitialThread;

    /* The boot processor's idle thread starts like a new thread, in KiIdleLoop. */
    if (KiCreateIdleThread(0) == NULL)
        KeBugCheckEx(PHASE0_INITIALIZATION_FAILED, STATUS_INSUFFICIENT_RESOURCES, 2, 0, 0);
    KiIdleThreads[0].StartRoutine = (PKSTART_ROUTINE)(void (*)(void))KiIdleLoop;
    KiIdleThreads[0].State = Ready;
    KiInitializeThreadStack(&KiIdleThreads[0]);
    prcb->IdleThread = &KiIdleThreads[0];
}

/*
 * Processor Number's idle thread, with its stack: it runs only there
 * (its affinity) and only when nothing else is ready. Another processor
 * starts on this thread's stack (mp.c), so it is Running from the start.
 */
PKTHREAD KiCreateIdleThread(ULONG Number)
{
    PKTHREAD idle = &KiIdleThreads[Number];

    KiInitializeThreadObject(idle, LOW_PRIORITY);
    idle->StackAllocation = MmCreateKernelStack(FALSE, 0);
    if (idle->StackAllocation == NULL)
        return NULL;
    idle->StackBase = (ULONG64)idle->StackAllocation;
    idle->StackLimit = idle->StackBase - KERNEL_STACK_PAGES * PAGE_SIZE;
    idle->State = Running;
    idle->ReferenceCount = 1;
    idle->IdleThread = TRUE;
    idle->Affinity = AFFINITY_MASK(Number);
    idle->NextProcessor = Number;
    idle->UserAffinity = idle->Affinity;
    return idle;
}

VOID KiDeleteIdleThread(PKTHREAD Thread)
{
    MmDeleteKernelStack(Thread->StackAllocation, FALSE);
    Thread->StackAllocation = NULL;
}

NTSTATUS PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, PVOID ObjectAttributes,
                              HANDLE ProcessHandle, PVOID ClientId, PKSTART_ROUTINE StartRoutine,
                              PVOID StartContext)
{
    UNREFERENCED_PARAMETER(DesiredAccess);
    UNREFERENCED_PARAMETER(ObjectAttributes);
    UNREFERENCED_PARAMETER(ProcessHandle);
    UNREFERENCED_PARAMETER(ClientId);
    /* Learn says PASSIVE_LEVEL, but Windows creates the thread at APC_LEVEL
     * too (a driver holding a fast mutex does it), and drivers rely on
     * that: Mica follows Windows and refuses only DISPATCH_LEVEL and up. */
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, PsCreateSystemThread);
    return PspCreateSystemThread(ThreadHandle, StartRoutine, StartContext, ~(KAFFINITY)0);
}

/*
 * PsCreateSystemThread with the thread's affinity set before it is first
 * ready, so it never runs anywhere else (NT's PspCreateThread takes it
 * from the process; a driver calls KeSetSystemAffinityThreadEx in the
 * thread instead). IRQL <= APC_LEVEL.
 */
NTSTATUS PspCreateSystemThread(PHANDLE ThreadHandle, PKSTART_ROUTINE StartRoutine,
                               PVOID StartContext, KAFFINITY Affinity)
{
    PKTHREAD thread = NULL;
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, PspCreateSystemThread);
    if (ThreadHandle == NULL || StartRoutine == NULL || (Affinity & KeActiveProcessors) == 0)
        return STATUS_INVALID_PARAMETER;

    KeAcquireSpinLock(&KiThreadTableLock, &old);
    for (ULONG i = 0; i < KI_MAX_THREADS; i++)
        if (!KiThreads[i].InUse) {
            thread = &KiThreads[i];
            memset(thread, 0, sizeof(*thread));
            thread->InUse = TRUE;
            break;
        }
    KeReleaseSpinLock(&KiThreadTableLock, old);
    if (thread == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;

    KiInitializeThreadObject(thread, KI_SYSTEM_THREAD_PRIORITY);
    thread->StackAllocation = MmCreateKernelStack(FALSE, 0);
    if (thread->StackAllocation == NULL) {
        thread->InUse = FALSE;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    thread->StackBase = (ULONG64)thread->StackAllocation;
    thread->StackLimit = thread->StackBase - KERNEL_STACK_PAGES * PAGE_SIZE;
    thread->StartRoutine = StartRoutine;
    thread->StartContext = StartContext;
    thread->ReferenceCount = 2;         /* the handle's and the running thread's */
    thread->Affinity = thread->UserAffinity = Affinity;
    KiInitializeThreadStack(thread);

    *ThreadHandle = thread;
    old = KiAcquireDispatcherLock();
    KiReadyThread(thread);
    KiReleaseDispatcherLock(old);       /* a higher-priority thread runs now */
    return STATUS_SUCCESS;
}

NTSTATUS PsTerminateSystemThread(NTSTATUS ExitStatus)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD thread = prcb->CurrentThread;
    KIRQL irql = KeGetCurrentIrql();

    if (irql != PASSIVE_LEVEL)
        KiIrqlViolation(IRQL_NOT_LESS_OR_EQUAL, PsTerminateSystemThread, irql, PASSIVE_LEVEL,
                        __builtin_return_address(0));
    /* NT: only a thread PsCreateSystemThread made may end this way. */
    if (thread == &KiInitialThread || thread->IdleThread)
        return STATUS_INVALID_PARAMETER;
    /*
     * A thread must end with its critical and guarded regions left and its
     * mutexes released (each held KMUTEX is a critical region): NT stops
     * with KERNEL_APC_PENDING_DURING_EXIT, parameter 2 the APC disable
     * count (CombinedApcDisable), parameter 3 the IRQL.
     */
    if (thread->CombinedApcDisable != 0)
        KeBugCheckEx(KERNEL_APC_PENDING_DURING_EXIT, 0, thread->CombinedApcDisable, irql, 0);
    KiAcquireDispatcherLock();
    thread->ExitStatus = ExitStatus;
    thread->State = Terminated;
    thread->Header.SignalState = 1;
    KiWaitTest(&thread->Header, 0);
    prcb->ReapThread = thread;
    KiSwapThread();
    __builtin_unreachable();
}

/* Right after every switch, on the new thread: free the stack of one that ended. */
VOID KiAfterContextSwitch(VOID)
{
    PKPRCB prcb = KeGetCurrentPrcb();
    PKTHREAD dead = prcb->ReapThread;

    if (dead == NULL || dead == prcb->CurrentThread)
        return;
    prcb->ReapThread = NULL;
    MmDeleteKernelStack(dead->StackAllocation, FALSE);
    dead->StackAllocation = NULL;
    ObDereferenceObject(dead);          /* the running thread's reference */
}

/* Threads are counted here; device objects by the I/O manager (Mica has no
 * object manager to hold one count for every kind of object). */
VOID ObReferenceObject(PVOID Object)
{
    PKTHREAD thread = Object;

    if (IopReferenceObject(Object))
        return;
    if (thread->Header.Type == ThreadObject)
        __atomic_add_fetch(&thread->ReferenceCount, 1, __ATOMIC_RELAXED);
}

VOID ObDereferenceObject(PVOID Object)
{
    PKTHREAD thread = Object;

    if (IopDereferenceObject(Object))
        return;
    if (thread->Header.Type != ThreadObject)
        return;
    if (__atomic_sub_fetch(&thread->ReferenceCount, 1, __ATOMIC_ACQ_REL) == 0) {
        if (thread->State != Terminated || thread->StackAllocation != NULL)
            KeBugCheckEx(REFERENCE_BY_POINTER, ThreadObject, (ULONG_PTR)thread, 1, 0);
        thread->InUse = FALSE;
    }
}

NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ULONG DesiredAccess, PVOID ObjectType,
                                   KPROCESSOR_MODE AccessMode, PVOID *Object,
                                   PVOID HandleInformation)
{
    PKTHREAD thread = Handle;

    UNREFERENCED_PARAMETER(DesiredAccess);
    UNREFERENCED_PARAMETER(ObjectType);
    UNREFERENCED_PARAMETER(AccessMode);
    UNREFERENCED_PARAMETER(HandleInformation);
    if (thread < &KiThreads[0] || thread >= &KiThreads[KI_MAX_THREADS] || !thread->InUse)
        return STATUS_INVALID_HANDLE;
    ObReferenceObject(thread);
    *Object = thread;
    return STATUS_SUCCESS;
}

NTSTATUS ZwClose(HANDLE Handle)
{
    PKTHREAD thread = Handle;

    if (thread < &KiThreads[0] || thread >= &KiThreads[KI_MAX_THREADS] || !thread->InUse)
        return STATUS_INVALID_HANDLE;
    ObDereferenceObject(thread);
    return STATUS_SUCCESS;
}

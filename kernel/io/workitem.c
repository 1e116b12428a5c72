/*
 * workitem.c - system worker threads and the work items they run:
 * ExQueueWorkItem (a caller-owned WORK_QUEUE_ITEM) and IoAllocateWorkItem /
 * IoQueueWorkItem / IoFreeWorkItem (an I/O manager item that keeps its
 * device object referenced while it waits and runs, so the driver cannot
 * delete the device under it).
 *
 * A DPC or an ISR cannot wait or touch pageable memory; a work item moves
 * the job to PASSIVE_LEVEL in a system thread. Mica has one queue served by
 * IOP_WORKER_THREADS threads at NT's critical worker priority; the queue
 * types NT keeps apart (critical, delayed, hypercritical) share it, so an
 * item that blocks for long delays the others only once every thread is
 * blocked. Items run in the order they were queued, each on one thread.
 */
#include "iop.h"

#define IOP_WORKER_THREADS 3
#define IOP_WORKER_PRIORITY 13          /* NT's CriticalWorkQueue threads */

typedef struct _IO_WORKITEM {
    WORK_QUEUE_ITEM Item;
    PDEVICE_OBJECT DeviceObject;
    PIO_WORKITEM_ROUTINE Routine;
    PVOID Context;
} IO_WORKITEM;

static KSPIN_LOCK IopWorkQueueLock;
static LIST_ENTRY IopWorkQueue = {&IopWorkQueue, &IopWorkQueue};
static KSEMAPHORE IopWorkQueueCount;    /* items queued, not yet taken */

static VOID IopWorkerThread(PVOID StartContext)
{
    UNREFERENCED_PARAMETER(StartContext);
    KeSetPriorityThread(KeGetCurrentThread(), IOP_WORKER_PRIORITY);
    for (;;) {
        PWORK_QUEUE_ITEM item;
        KIRQL irql;

        KeWaitForSingleObject(&IopWorkQueueCount, Executive, KernelMode, FALSE, NULL);
        KeAcquireSpinLock(&IopWorkQueueLock, &irql);
        item = CONTAINING_RECORD(RemoveHeadList(&IopWorkQueue), WORK_QUEUE_ITEM, List);
        KeReleaseSpinLock(&IopWorkQueueLock, irql);
        /* Off the queue before it runs: the routine may queue it again or free it. */
        item->List.Flink = NULL;
        item->WorkerRoutine(item->Parameter);
    }
}

VOID IopInitializeWorkerThreads(VOID)
{
    KeInitializeSemaphore(&IopWorkQueueCount, 0, MAXLONG);
    for (int i = 0; i < IOP_WORKER_THREADS; i++) {
        HANDLE thread;

        if (!NT_SUCCESS(PsCreateSystemThread(&thread, 0, NULL, NULL, NULL, IopWorkerThread, NULL)))
            KeBugCheckEx(PHASE1_INITIALIZATION_FAILED, STATUS_INSUFFICIENT_RESOURCES, i, 0, 0);
        ZwClose(thread);
    }
}

VOID ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType)
{
    KIRQL irql;

    UNREFERENCED_PARAMETER(QueueType);
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, ExQueueWorkItem);
    KeAcquireSpinLock(&IopWorkQueueLock, &irql);
    InsertTailList(&IopWorkQueue, &WorkItem->List);
    KeReleaseSpinLock(&IopWorkQueueLock, irql);
    KeReleaseSemaphore(&IopWorkQueueCount, IO_NO_INCREMENT, 1, FALSE);
}

PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject)
{
    PIO_WORKITEM item;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoAllocateWorkItem);
    item = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(IO_WORKITEM), IOP_TAG_WORKITEM);
    if (item != NULL) {
        RtlZeroMemory(item, sizeof(*item));
        item->DeviceObject = DeviceObject;
    }
    return item;
}

VOID IoFreeWorkItem(PIO_WORKITEM IoWorkItem)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoFreeWorkItem);
    ExFreePoolWithTag(IoWorkItem, IOP_TAG_WORKITEM);
}

static VOID IopRunWorkItem(PVOID Parameter)
{
    PIO_WORKITEM item = Parameter;
    PDEVICE_OBJECT device = item->DeviceObject;     /* the routine may free the item */

    item->Routine(device, item->Context);
    ObDereferenceObject(device);
}

VOID IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine,
                     WORK_QUEUE_TYPE QueueType, PVOID Context)
{
    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, IoQueueWorkItem);
    ObReferenceObject(IoWorkItem->DeviceObject);
    IoWorkItem->Routine = WorkerRoutine;
    IoWorkItem->Context = Context;
    ExInitializeWorkItem(&IoWorkItem->Item, IopRunWorkItem, IoWorkItem);
    ExQueueWorkItem(&IoWorkItem->Item, QueueType);
}

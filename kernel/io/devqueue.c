/*
 * devqueue.c - device queues (NT's KDEVICE_QUEUE, a Ke object kept here
 * with its only user, the StartIo queue of startio.c).
 *
 * A device queue is busy while its device works on an entry. Inserting
 * into a queue that is not busy queues nothing and makes it busy (the
 * caller starts the entry itself, at once); removing from an empty busy
 * queue makes it not busy. Entries inserted by key stay in ascending
 * SortKey order (equal keys first come, first served). The queue's spin
 * lock guards it: the caller is already at DISPATCH_LEVEL (Learn's rule for
 * the insert and remove routines).
 */
#include "iop.h"

VOID KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue)
{
    DeviceQueue->Type = IO_TYPE_DEVICE_QUEUE;
    DeviceQueue->Size = sizeof(KDEVICE_QUEUE);
    InitializeListHead(&DeviceQueue->DeviceListHead);
    KeInitializeSpinLock(&DeviceQueue->Lock);
    DeviceQueue->Busy = FALSE;
}

static BOOLEAN KiInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY Entry,
                                   BOOLEAN ByKey, ULONG SortKey)
{
    BOOLEAN inserted = FALSE;

    KeAcquireSpinLockAtDpcLevel(&DeviceQueue->Lock);
    if (!DeviceQueue->Busy) {
        DeviceQueue->Busy = TRUE;
    } else {
        PLIST_ENTRY before = &DeviceQueue->DeviceListHead;

        if (ByKey) {
            Entry->SortKey = SortKey;
            /* Before the first entry with a larger key. */
            for (before = DeviceQueue->DeviceListHead.Flink; before != &DeviceQueue->DeviceListHead;
                 before = before->Flink) {
                if (CONTAINING_RECORD(before, KDEVICE_QUEUE_ENTRY, DeviceListEntry)->SortKey > SortKey)
                    break;
            }
        }
        InsertTailList(before, &Entry->DeviceListEntry);    /* i.e. just before `before` */
        inserted = TRUE;
    }
    Entry->Inserted = inserted;
    KeReleaseSpinLockFromDpcLevel(&DeviceQueue->Lock);
    return inserted;
}

BOOLEAN KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeInsertDeviceQueue);
    return KiInsertDeviceQueue(DeviceQueue, DeviceQueueEntry, FALSE, 0);
}

BOOLEAN KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry,
                                 ULONG SortKey)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeInsertByKeyDeviceQueue);
    return KiInsertDeviceQueue(DeviceQueue, DeviceQueueEntry, TRUE, SortKey);
}

static PKDEVICE_QUEUE_ENTRY KiRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue, BOOLEAN ByKey,
                                                ULONG SortKey)
{
    PKDEVICE_QUEUE_ENTRY entry = NULL;

    KeAcquireSpinLockAtDpcLevel(&DeviceQueue->Lock);
    if (IsListEmpty(&DeviceQueue->DeviceListHead)) {
        DeviceQueue->Busy = FALSE;
    } else {
        PLIST_ENTRY e = DeviceQueue->DeviceListHead.Flink;

        if (ByKey) {
            /* The first with a key >= SortKey; past the last, wrap to the first. */
            for (; e != &DeviceQueue->DeviceListHead; e = e->Flink)
                if (CONTAINING_RECORD(e, KDEVICE_QUEUE_ENTRY, DeviceListEntry)->SortKey >= SortKey)
                    break;
            if (e == &DeviceQueue->DeviceListHead)
                e = DeviceQueue->DeviceListHead.Flink;
        }
        RemoveEntryList(e);
        entry = CONTAINING_RECORD(e, KDEVICE_QUEUE_ENTRY, DeviceListEntry);
        entry->Inserted = FALSE;
    }
    KeReleaseSpinLockFromDpcLevel(&DeviceQueue->Lock);
    return entry;
}

PKDEVICE_QUEUE_ENTRY KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeRemoveDeviceQueue);
    return KiRemoveDeviceQueue(DeviceQueue, FALSE, 0);
}

PKDEVICE_QUEUE_ENTRY KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, ULONG SortKey)
{
    KI_CHECK_IRQL_AT_LEAST(DISPATCH_LEVEL, KeRemoveByKeyDeviceQueue);
    return KiRemoveDeviceQueue(DeviceQueue, TRUE, SortKey);
}

BOOLEAN KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry)
{
    BOOLEAN removed;
    KIRQL irql;

    KI_CHECK_IRQL_AT_MOST(DISPATCH_LEVEL, KeRemoveEntryDeviceQueue);
    KeAcquireSpinLock(&DeviceQueue->Lock, &irql);
    removed = DeviceQueueEntry->Inserted;
    if (removed) {
        RemoveEntryList(&DeviceQueueEntry->DeviceListEntry);
        DeviceQueueEntry->Inserted = FALSE;
    }
    KeReleaseSpinLock(&DeviceQueue->Lock, irql);
    return removed;
}

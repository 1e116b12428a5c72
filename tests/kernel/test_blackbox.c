/*
 * test_blackbox.c - Mica as a driver sees it.
 *
 * This file includes only the public headers, kernel/ke/ke.h and mm/mm.h (and
 * the test macros), and uses the kernel the way a WDM driver does: a
 * device context in nonpaged pool, a periodic timer whose DPC produces work
 * items from a lookaside list, a spin lock shared by the DPC and a system
 * thread that consumes them, events to hand over work and to stop, a fast
 * mutex between threads, tagged pool of every kind, a DMA buffer of
 * contiguous memory, a device's registers through MmMapIoSpace and legacy
 * devices' I/O ports.
 *
 * Its job is to catch gaps in the driver-facing API: a routine, type or
 * macro a driver needs that only an internal header declares makes this
 * file fail to compile. The Makefile checks that it includes nothing else
 * (see "black-box test" there).
 */
#include "../../kernel/ke/ke.h"
#include "../../mm/mm.h"
#include "../ktest.h"

#define BB_TAG 'xoBB'                   /* "BBox" in PoolMon */
#define BB_ITEMS 50                     /* work items the DPC produces */
#define BB_WAIT_MS 10000                /* "never": far beyond any host stall */

static LARGE_INTEGER BbRelativeMs(LONGLONG Ms)
{
    LARGE_INTEGER t;

    t.QuadPart = -Ms * 10000;           /* relative, 100 ns units */
    return t;
}

static LONG64 BbLiveAllocations(ULONG Tag)
{
    SYSTEM_POOLTAG entry;

    if (!ExpQueryPoolTag(Tag, &entry))
        return 0;
    return (LONG64)entry.NonPagedAllocs - entry.NonPagedFrees + entry.PagedAllocs -
           entry.PagedFrees;
}

/* Start a system thread and return its object, referenced (NULL on failure). */
static PVOID BbStartThread(PKSTART_ROUTINE Routine, PVOID Context)
{
    HANDLE handle;
    PVOID thread = NULL;

    if (!NT_SUCCESS(PsCreateSystemThread(&handle, 0, NULL, NULL, NULL, Routine, Context)))
        return NULL;
    if (!NT_SUCCESS(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &thread, NULL)))
        thread = NULL;
    ZwClose(handle);
    return thread;
}

/* Wait for a thread to end and drop the reference BbStartThread took. */
static NTSTATUS BbJoinThread(PVOID Thread)
{
    LARGE_INTEGER timeout = BbRelativeMs(BB_WAIT_MS);
    NTSTATUS status = KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, &timeout);

    ObDereferenceObject(Thread);
    return status;
}

/* ---- a device: timer DPC produces, a system thread consumes ------------------------------ */

typedef struct _BB_ITEM {
    LIST_ENTRY Link;
    ULONG Sequence;
    ULONG Check;                        /* ~Sequence: the item was not overwritten */
} BB_ITEM, *PBB_ITEM;

typedef struct _BB_DEVICE {
    NPAGED_LOOKASIDE_LIST Items;        /* first: 64-byte aligned, as the pool block is */
    KSPIN_LOCK QueueLock;
    LIST_ENTRY Queue;                   /* BB_ITEMs, oldest first */
    KEVENT WorkReady;                   /* synchronization: one wake per hand-over */
    KEVENT Stop;                        /* notification: the driver is unloading */
    KEVENT AllConsumed;
    KTIMER Timer;
    KDPC Dpc;
    ULONG Produced, Consumed, OutOfOrder, Corrupt, DpcAtWrongIrql, AllocationFailures;
} BB_DEVICE, *PBB_DEVICE;

static VOID BbProducerDpc(PKDPC Dpc, PVOID Context, PVOID SystemArgument1, PVOID SystemArgument2)
{
    PBB_DEVICE device = Context;
    PBB_ITEM item;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);
    if (KeGetCurrentIrql() != DISPATCH_LEVEL)
        device->DpcAtWrongIrql++;
    if (device->Produced == BB_ITEMS)
        return;
    item = ExAllocateFromNPagedLookasideList(&device->Items);
    if (item == NULL) {
        device->AllocationFailures++;
        return;
    }
    item->Sequence = device->Produced++;
    item->Check = ~item->Sequence;
    KeAcquireSpinLockAtDpcLevel(&device->QueueLock);
    InsertTailList(&device->Queue, &item->Link);
    KeReleaseSpinLockFromDpcLevel(&device->QueueLock);
    KeSetEvent(&device->WorkReady, 0, FALSE);
}

static VOID BbConsumerThread(PVOID Context)
{
    PBB_DEVICE device = Context;
    PVOID objects[2] = {&device->WorkReady, &device->Stop};
    LARGE_INTEGER timeout = BbRelativeMs(BB_WAIT_MS);

    for (;;) {
        NTSTATUS status = KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode,
                                                   FALSE, &timeout, NULL);
        KIRQL irql;

        /* Take the whole queue under the lock, work on it outside. */
        KeAcquireSpinLock(&device->QueueLock, &irql);
        while (!IsListEmpty(&device->Queue)) {
            PBB_ITEM item = CONTAINING_RECORD(RemoveHeadList(&device->Queue), BB_ITEM, Link);
            KeReleaseSpinLock(&device->QueueLock, irql);
            if (item->Check != ~item->Sequence)
                device->Corrupt++;
            if (item->Sequence != device->Consumed)
                device->OutOfOrder++;
            device->Consumed++;
            ExFreeToNPagedLookasideList(&device->Items, item);
            KeAcquireSpinLock(&device->QueueLock, &irql);
        }
        KeReleaseSpinLock(&device->QueueLock, irql);
        if (device->Consumed == BB_ITEMS)
            KeSetEvent(&device->AllConsumed, 0, FALSE);
        if (status != STATUS_WAIT_0)            /* Stop, or nothing for far too long */
            break;
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(blackbox, timer_dpc_produces_thread_consumes)
{
    PBB_DEVICE device;
    PVOID consumer;
    LARGE_INTEGER timeout = BbRelativeMs(BB_WAIT_MS);
    LONG64 live = BbLiveAllocations(BB_TAG);

    /* Zeroed, nonpaged, cache aligned: the lookaside list inside needs 16 bytes. */
    device = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED, sizeof(*device),
                             BB_TAG);
    KASSERT_TRUE(device != NULL);
    KEXPECT_EQ((ULONG_PTR)device % SYSTEM_CACHE_ALIGNMENT_SIZE, 0);
    KEXPECT_EQ(device->Produced, 0);
    ExInitializeNPagedLookasideList(&device->Items, NULL, NULL, POOL_NX_ALLOCATION, sizeof(BB_ITEM),
                                    BB_TAG, 0);
    KeInitializeSpinLock(&device->QueueLock);
    InitializeListHead(&device->Queue);
    KeInitializeEvent(&device->WorkReady, SynchronizationEvent, FALSE);
    KeInitializeEvent(&device->Stop, NotificationEvent, FALSE);
    KeInitializeEvent(&device->AllConsumed, NotificationEvent, FALSE);
    KeInitializeTimerEx(&device->Timer, NotificationTimer);
    KeInitializeDpc(&device->Dpc, BbProducerDpc, device);

    consumer = BbStartThread(BbConsumerThread, device);
    KASSERT_TRUE(consumer != NULL);
    KEXPECT_FALSE(KeSetTimerEx(&device->Timer, BbRelativeMs(1), 1, &device->Dpc));
    KEXPECT_EQ(KeWaitForSingleObject(&device->AllConsumed, Executive, KernelMode, FALSE, &timeout),
               STATUS_WAIT_0);

    /* Unload: stop the timer, then wait out a DPC of ours that another
     * processor may have queued or be running (KeFlushQueuedDpcs, as a
     * driver does before freeing its KDPC), then stop the thread. */
    KEXPECT_TRUE(KeCancelTimer(&device->Timer));
    KeFlushQueuedDpcs();
    KeSetEvent(&device->Stop, 0, FALSE);
    KEXPECT_EQ(BbJoinThread(consumer), STATUS_WAIT_0);

    KEXPECT_EQ(device->Produced, BB_ITEMS);
    KEXPECT_EQ(device->Consumed, BB_ITEMS);
    KEXPECT_EQ(device->OutOfOrder, 0);
    KEXPECT_EQ(device->Corrupt, 0);
    KEXPECT_EQ(device->DpcAtWrongIrql, 0);
    KEXPECT_EQ(device->AllocationFailures, 0);
    KEXPECT_TRUE(IsListEmpty(&device->Queue));
    /* Every item went back to the list or to pool: Delete frees the cached ones. */
    KEXPECT_GT(device->Items.L.TotalAllocates, device->Items.L.AllocateMisses);
    ExDeleteNPagedLookasideList(&device->Items);
    ExFreePoolWithTag(device, BB_TAG);
    KEXPECT_EQ(BbLiveAllocations(BB_TAG), live);
}

/* ---- a fast mutex between threads ------------------------------------------------------------- */

typedef struct _BB_SHARED {
    FAST_MUTEX Mutex;
    ULONG Counter;                      /* read, wait, write back: torn without the mutex */
    ULONG Rounds;
    ULONG WrongIrql;
} BB_SHARED, *PBB_SHARED;

static VOID BbMutexThread(PVOID Context)
{
    PBB_SHARED shared = Context;
    LARGE_INTEGER nap = BbRelativeMs(1);

    for (ULONG i = 0; i < shared->Rounds; i++) {
        ULONG value;

        ExAcquireFastMutex(&shared->Mutex);
        if (KeGetCurrentIrql() != APC_LEVEL)
            shared->WrongIrql++;
        value = shared->Counter;
        KeDelayExecutionThread(KernelMode, FALSE, &nap);  /* the other thread gets to run */
        shared->Counter = value + 1;
        ExReleaseFastMutex(&shared->Mutex);
    }
    PsTerminateSystemThread(STATUS_SUCCESS);
}

KTEST(blackbox, fast_mutex_serializes_threads)
{
    /* Paged pool: the data is only touched below DISPATCH_LEVEL. */
    PBB_SHARED shared = ExAllocatePoolWithTag(PagedPool, sizeof(BB_SHARED), BB_TAG);
    PVOID threads[2];

    KASSERT_TRUE(shared != NULL);
    ExInitializeFastMutex(&shared->Mutex);
    shared->Counter = 0;
    shared->Rounds = 10;
    shared->WrongIrql = 0;
    threads[0] = BbStartThread(BbMutexThread, shared);
    threads[1] = BbStartThread(BbMutexThread, shared);
    KASSERT_TRUE(threads[0] != NULL && threads[1] != NULL);
    KEXPECT_EQ(BbJoinThread(threads[0]), STATUS_WAIT_0);
    KEXPECT_EQ(BbJoinThread(threads[1]), STATUS_WAIT_0);
    KEXPECT_EQ(shared->Counter, 2 * shared->Rounds);
    KEXPECT_EQ(shared->WrongIrql, 0);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    ExFreePoolWithTag(shared, BB_TAG);
}

/* ---- pool as drivers allocate it ------------------------------------------------------------ */

KTEST(blackbox, tagged_pool_of_every_kind)
{
    LONG64 live = BbLiveAllocations(BB_TAG);
    SYSTEM_POOLTAG before, after;
    PUCHAR paged, nonpaged, zeroed, big;
    BOOLEAN quota;
    KIRQL irql;

    ExpQueryPoolTag(BB_TAG, &before);
    paged = ExAllocatePoolWithTag(PagedPool, 5000, BB_TAG);
    nonpaged = ExAllocatePoolWithTagPriority(NonPagedPoolNx, 100, BB_TAG, NormalPoolPriority);
    zeroed = ExAllocatePool2(POOL_FLAG_NON_PAGED, 300, BB_TAG);
    big = ExAllocatePool2(POOL_FLAG_PAGED | POOL_FLAG_UNINITIALIZED, 3 * PAGE_SIZE + 1, BB_TAG);
    KASSERT_TRUE(paged != NULL && nonpaged != NULL && zeroed != NULL && big != NULL);
    RtlFillMemory(paged, 5000, 0x11);
    RtlFillMemory(nonpaged, 100, 0x22);
    RtlFillMemory(big, 3 * PAGE_SIZE + 1, 0x33);
    for (ULONG i = 0; i < 300; i++)
        KEXPECT_EQ(zeroed[i], 0);
    KEXPECT_GE(ExQueryPoolBlockSize(nonpaged, &quota), 100);
    KEXPECT_FALSE(quota);
    KEXPECT_TRUE(ExpQueryPoolTag(BB_TAG, &after));
    KEXPECT_EQ(after.PagedAllocs - before.PagedAllocs, 2);
    KEXPECT_EQ(after.NonPagedAllocs - before.NonPagedAllocs, 2);
    KEXPECT_EQ(BbLiveAllocations(BB_TAG), live + 4);
    KEXPECT_EQ(paged[4999], 0x11);
    KEXPECT_EQ(big[3 * PAGE_SIZE], 0x33);
    ExFreePoolWithTag(paged, BB_TAG);
    ExFreePoolWithTag(big, BB_TAG);
    ExFreePool(zeroed);

    /* Nonpaged pool at DISPATCH_LEVEL, as a DPC would use it. */
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    ExFreePoolWithTag(nonpaged, BB_TAG);
    nonpaged = ExAllocatePoolWithTag(NonPagedPoolNx, 64, BB_TAG);
    KEXPECT_TRUE(nonpaged != NULL);
    if (nonpaged != NULL)
        ExFreePoolWithTag(nonpaged, BB_TAG);
    KeLowerIrql(irql);

    /* Refusals a driver must be ready for: NULL, not a crash. */
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0) == NULL);       /* no tag */
    KEXPECT_TRUE(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 16, BB_TAG) == NULL);
    KEXPECT_EQ(BbLiveAllocations(BB_TAG), live);
}

/* ---- a DMA buffer and a device's registers ---------------------------------------------------- */

KTEST(blackbox, contiguous_dma_buffer_below_4gib)
{
    const SIZE_T bytes = 16 * PAGE_SIZE;
    PHYSICAL_ADDRESS lowest = {.QuadPart = 0}, highest = {.QuadPart = 0xFFFFFFFF};
    PHYSICAL_ADDRESS boundary = {.QuadPart = 0x10000}, first;
    PULONG buffer = MmAllocateContiguousMemorySpecifyCache(bytes, lowest, highest, boundary,
                                                           MmNonCached);

    KASSERT_TRUE(buffer != NULL);
    first = MmGetPhysicalAddress(buffer);
    KEXPECT_EQ(first.QuadPart & (PAGE_SIZE - 1), 0);
    KEXPECT_LE(first.QuadPart + bytes - 1, highest.QuadPart);
    /* A device sees one run: no 64 KiB line crossed, each page where it belongs. */
    KEXPECT_EQ(first.QuadPart / boundary.QuadPart,
               (first.QuadPart + bytes - 1) / boundary.QuadPart);
    for (SIZE_T offset = 0; offset < bytes; offset += PAGE_SIZE) {
        KEXPECT_TRUE(MmIsAddressValid((PUCHAR)buffer + offset));
        KEXPECT_EQ(MmGetPhysicalAddress((PUCHAR)buffer + offset).QuadPart,
                   first.QuadPart + (LONGLONG)offset);
    }
    for (ULONG i = 0; i < bytes / sizeof(ULONG); i++)
        buffer[i] = i ^ 0xD1A0D1A0;
    for (ULONG i = 0; i < bytes / sizeof(ULONG) && !KtestCurrentFailed; i++)
        KEXPECT_EQ(buffer[i], i ^ 0xD1A0D1A0);
    /* A descriptor written the way a driver writes what a device reads:
     * each access its own width, each landing exactly where it was aimed. */
    WRITE_REGISTER_ULONG64((volatile ULONG64 *)&buffer[2], 0x0123456789ABCDEFULL);
    WRITE_REGISTER_ULONG(&buffer[1], 0xCAFEF00D);
    WRITE_REGISTER_USHORT((volatile USHORT *)&buffer[0], 0xBEEF);
    WRITE_REGISTER_UCHAR((volatile UCHAR *)&buffer[0] + 2, 0x5A);
    KEXPECT_EQ(READ_REGISTER_ULONG((volatile ULONG *)&buffer[0]),
               ((0 ^ 0xD1A0D1A0) & 0xFF000000) | 0x5ABEEF);
    KEXPECT_EQ(READ_REGISTER_ULONG(&buffer[1]), 0xCAFEF00D);
    KEXPECT_EQ(READ_REGISTER_ULONG64((volatile ULONG64 *)&buffer[2]), 0x0123456789ABCDEFULL);
    KEXPECT_EQ(READ_REGISTER_USHORT((volatile USHORT *)&buffer[3] + 1), 0x0123);
    KEXPECT_EQ(READ_REGISTER_UCHAR((volatile UCHAR *)&buffer[4]), (UCHAR)(4 ^ 0xD1A0D1A0));
    MmFreeContiguousMemorySpecifyCache(buffer, bytes, MmNonCached);
    KEXPECT_FALSE(MmIsAddressValid(buffer));
}

/* The local APIC's registers at the architectural address QEMU keeps. */
#define BB_LAPIC_PHYSICAL 0xFEE00000ULL
#define BB_LAPIC_VERSION  0x30          /* bits 7:0 version (0x1X integrated), 23:16 max LVT */

KTEST(blackbox, device_registers_through_map_io_space)
{
    PHYSICAL_ADDRESS lapic = {.QuadPart = BB_LAPIC_PHYSICAL};
    PUCHAR regs = MmMapIoSpace(lapic, PAGE_SIZE, MmNonCached), again;
    ULONG version;

    KASSERT_TRUE(regs != NULL);
    KEXPECT_EQ(MmGetPhysicalAddress(regs).QuadPart, BB_LAPIC_PHYSICAL);
    version = READ_REGISTER_ULONG((volatile ULONG *)(regs + BB_LAPIC_VERSION));
    KEXPECT_EQ(version & 0xF0, 0x10);
    KEXPECT_GE((version >> 16) & 0xFF, 3);
    /* A second mapping of the same registers, as another driver might make. */
    again = MmMapIoSpaceEx(lapic, PAGE_SIZE, PAGE_READWRITE | PAGE_NOCACHE);
    KASSERT_TRUE(again != NULL);
    KEXPECT_NE(again, regs);
    KEXPECT_EQ(READ_REGISTER_ULONG((volatile ULONG *)(again + BB_LAPIC_VERSION)), version);
    MmUnmapIoSpace(again, PAGE_SIZE);
    MmUnmapIoSpace(regs, PAGE_SIZE);
    KEXPECT_FALSE(MmIsAddressValid(regs));
}

/* ---- legacy devices' I/O ports -------------------------------------------------------------- */

#define BB_PIC1_DATA 0x21               /* 8259 interrupt mask registers */
#define BB_PIC2_DATA 0xA1
#define BB_PCI_ADDRESS 0xCF8            /* PCI configuration mechanism #1 */
#define BB_PCI_DATA    0xCFC
#define BB_PCI_ENABLE  0x80000000U
#define BB_PCI_VENDOR_INTEL 0x8086      /* QEMU's host bridges: i440FX (pc), Q35 */

KTEST(blackbox, port_io_reaches_legacy_devices)
{
    KIRQL irql;
    ULONG id;
    USHORT vendor;

    /* Mica masks every line of both 8259s (it routes through the I/O APIC). */
    KEXPECT_EQ(READ_PORT_UCHAR((PUCHAR)BB_PIC1_DATA), 0xFF);
    KEXPECT_EQ(READ_PORT_UCHAR((PUCHAR)BB_PIC2_DATA), 0xFF);
    WRITE_PORT_UCHAR((PUCHAR)BB_PIC2_DATA, 0xFF);
    KEXPECT_EQ(READ_PORT_UCHAR((PUCHAR)BB_PIC2_DATA), 0xFF);

    /* The host bridge's vendor and device ID: bus 0, device 0, function 0,
     * register 0; the address/data pair must not be interleaved. */
    KeRaiseIrql(HIGH_LEVEL, &irql);
    WRITE_PORT_ULONG((PULONG)BB_PCI_ADDRESS, BB_PCI_ENABLE);
    id = READ_PORT_ULONG((PULONG)BB_PCI_DATA);
    vendor = READ_PORT_USHORT((PUSHORT)BB_PCI_DATA);
    KeLowerIrql(irql);
    KEXPECT_EQ(id & 0xFFFF, BB_PCI_VENDOR_INTEL);
    KEXPECT_EQ(vendor, BB_PCI_VENDOR_INTEL);
    KEXPECT_NE(id >> 16, 0xFFFF);       /* a device is there */
}

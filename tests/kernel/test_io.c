/*
 * test_io.c - the I/O manager through the test driver (tests/drivers/iotest.c):
 * names and the object directory, device stacks, IRP stack mechanics,
 * buffered, direct and neither I/O built by IoBuild*, pending IRPs finished
 * from a DPC, completion routines in bottom-up order, cancel-safe queues and
 * cancel, work items, StartIo queueing, and the PnP start path.
 */
#include "test_io.h"

#define TEST_TAG 'tsTI'

KTEST(io, rtl_strings)
{
    UNICODE_STRING constant = RTL_CONSTANT_STRING(u"\\Device\\X");
    UNICODE_STRING init, wide;
    ANSI_STRING ansi;
    WCHAR buffer[4];

    KEXPECT_EQ(constant.Length, 9 * sizeof(WCHAR));
    KEXPECT_EQ(constant.MaximumLength, 10 * sizeof(WCHAR));
    RtlInitUnicodeString(&init, u"\\device\\x");
    KEXPECT_EQ(init.Length, constant.Length);
    KEXPECT_TRUE(RtlEqualUnicodeString(&init, &constant, TRUE));
    KEXPECT_FALSE(RtlEqualUnicodeString(&init, &constant, FALSE));
    RtlInitUnicodeString(&init, NULL);
    KEXPECT_EQ(init.Length, 0);

    RtlInitAnsiString(&ansi, "\\Device\\X");
    KASSERT_EQ(RtlAnsiStringToUnicodeString(&wide, &ansi, TRUE), STATUS_SUCCESS);
    KEXPECT_TRUE(RtlEqualUnicodeString(&wide, &constant, FALSE));
    RtlFreeUnicodeString(&wide);
    KEXPECT_EQ(wide.Buffer, NULL);
    /* A caller's buffer too small for the whole string. */
    wide.Buffer = buffer;
    wide.MaximumLength = sizeof(buffer);
    KEXPECT_EQ(RtlAnsiStringToUnicodeString(&wide, &ansi, FALSE), STATUS_BUFFER_OVERFLOW);
}

KTEST(io, device_names)
{
    UNICODE_STRING taken = RTL_CONSTANT_STRING(u"\\DEVICE\\iotestbuffered");
    UNICODE_STRING fresh = RTL_CONSTANT_STRING(u"\\Device\\IoTestScratch\\Unit0");
    UNICODE_STRING relative = RTL_CONSTANT_STRING(u"Device\\IoTestScratch");
    UNICODE_STRING doubled = RTL_CONSTANT_STRING(u"\\Device\\\\X");
    PDEVICE_OBJECT buffered = IotestOpen(IOTEST_BUFFERED_NAME), device, found;
    PVOID file;

    KASSERT_NE(buffered, NULL);
    /* Names compare without regard to case, as NT's object directory's. */
    KEXPECT_EQ(IoCreateDevice(buffered->DriverObject, 0, &taken, FILE_DEVICE_UNKNOWN, 0, FALSE, &device),
               STATUS_OBJECT_NAME_COLLISION);
    KEXPECT_EQ(device, NULL);
    KEXPECT_EQ(IoCreateDevice(buffered->DriverObject, 0, &relative, FILE_DEVICE_UNKNOWN, 0, FALSE, &device),
               STATUS_OBJECT_NAME_INVALID);
    KEXPECT_EQ(IoCreateDevice(buffered->DriverObject, 0, &doubled, FILE_DEVICE_UNKNOWN, 0, FALSE, &device),
               STATUS_OBJECT_NAME_INVALID);
    KEXPECT_EQ(IoGetDeviceObjectPointer(&fresh, 0, &file, &found), STATUS_OBJECT_NAME_NOT_FOUND);
    KEXPECT_EQ(IoGetDeviceObjectPointer(&relative, 0, &file, &found), STATUS_OBJECT_NAME_INVALID);

    KASSERT_EQ(IoCreateDevice(buffered->DriverObject, 40, &fresh, FILE_DEVICE_DISK, FILE_REMOVABLE_MEDIA,
                              TRUE, &device), STATUS_SUCCESS);
    KEXPECT_EQ(device->Type, IO_TYPE_DEVICE);
    KEXPECT_EQ(device->StackSize, 1);
    KEXPECT_EQ(device->DeviceType, FILE_DEVICE_DISK);
    KEXPECT_EQ(device->Characteristics, FILE_REMOVABLE_MEDIA);
    KEXPECT_EQ(device->Flags, DO_DEVICE_INITIALIZING | DO_EXCLUSIVE | DO_DEVICE_HAS_NAME);
    KEXPECT_EQ(device->DeviceExtension, (PVOID)(device + 1));
    KEXPECT_EQ(((PULONG64)device->DeviceExtension)[4], 0);      /* zeroed */
    KEXPECT_EQ(buffered->DriverObject->DeviceObject, device);   /* head of the driver's list */

    KASSERT_EQ(IoGetDeviceObjectPointer(&fresh, 0, &file, &found), STATUS_SUCCESS);
    KEXPECT_EQ(found, device);
    KEXPECT_EQ(file, device);       /* Mica's file object stand-in: the device itself */
    KEXPECT_EQ(device->ReferenceCount, 1);
    /* Deleted while referenced: the name goes now, the memory with the reference. */
    IoDeleteDevice(device);
    KEXPECT_EQ(IoGetDeviceObjectPointer(&fresh, 0, &file, &found), STATUS_OBJECT_NAME_NOT_FOUND);
    KEXPECT_NE(buffered->DriverObject->DeviceObject, device);
    KEXPECT_EQ(device->Type, IO_TYPE_DEVICE);
    ObDereferenceObject(device);
    /* The name can be used again. */
    KASSERT_EQ(IoCreateDevice(buffered->DriverObject, 0, &fresh, FILE_DEVICE_UNKNOWN, 0, FALSE, &device),
               STATUS_SUCCESS);
    IoDeleteDevice(device);
    ObDereferenceObject(buffered);
}

KTEST(io, attach_and_detach)
{
    PDEVICE_OBJECT buffered = IotestOpen(IOTEST_BUFFERED_NAME), a, b, c;
    PDRIVER_OBJECT driver;

    KASSERT_NE(buffered, NULL);
    driver = buffered->DriverObject;
    ObDereferenceObject(buffered);
    KASSERT_EQ(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &a), STATUS_SUCCESS);
    KASSERT_EQ(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &b), STATUS_SUCCESS);
    KASSERT_EQ(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &c), STATUS_SUCCESS);
    a->AlignmentRequirement = FILE_QUAD_ALIGNMENT;
    KEXPECT_EQ(IoAttachDeviceToDeviceStack(b, a), a);
    /* Attaching to a goes on top of its stack: above b. */
    KEXPECT_EQ(IoAttachDeviceToDeviceStack(c, a), b);
    KEXPECT_EQ(b->StackSize, 2);
    KEXPECT_EQ(c->StackSize, 3);
    KEXPECT_EQ(c->AlignmentRequirement, FILE_QUAD_ALIGNMENT);
    KEXPECT_EQ(IoGetAttachedDevice(a), c);
    KEXPECT_EQ(IoGetAttachedDeviceReference(a), c);
    KEXPECT_EQ(c->ReferenceCount, 1);
    ObDereferenceObject(c);
    IoDetachDevice(b);
    KEXPECT_EQ(IoGetAttachedDevice(a), b);
    IoDetachDevice(a);
    KEXPECT_EQ(IoGetAttachedDevice(a), a);
    IoDeleteDevice(a);
    /* A stack whose target is being deleted refuses new devices. */
    IoDeleteDevice(c);
    KEXPECT_EQ(IoGetAttachedDevice(b), b);
    IoDeleteDevice(b);
}

KTEST(io, irp_stack_locations)
{
    PIRP irp = IoAllocateIrp(3, TRUE);
    PIO_STACK_LOCATION first;

    KASSERT_NE(irp, NULL);
    KEXPECT_EQ(irp->Type, IO_TYPE_IRP);
    KEXPECT_EQ(irp->Size, sizeof(IRP) + 3 * sizeof(IO_STACK_LOCATION));
    KEXPECT_EQ(irp->StackCount, 3);
    KEXPECT_EQ(irp->CurrentLocation, 4);
    KEXPECT_EQ(irp->AllocationFlags, IRP_QUOTA_CHARGED);
    first = IoGetNextIrpStackLocation(irp);
    KEXPECT_EQ(first, (PIO_STACK_LOCATION)(irp + 1) + 2);      /* the top driver's: the last */
    IoSetNextIrpStackLocation(irp);
    KEXPECT_EQ(IoGetCurrentIrpStackLocation(irp), first);
    KEXPECT_EQ(irp->CurrentLocation, 3);
    first->MajorFunction = IRP_MJ_READ;
    first->Parameters.Read.Length = 77;
    first->CompletionRoutine = (PIO_COMPLETION_ROUTINE)(ULONG_PTR)1;
    first->Control = SL_PENDING_RETURNED | SL_INVOKE_ON_SUCCESS;
    IoCopyCurrentIrpStackLocationToNext(irp);
    KEXPECT_EQ(IoGetNextIrpStackLocation(irp)->MajorFunction, IRP_MJ_READ);
    KEXPECT_EQ(IoGetNextIrpStackLocation(irp)->Parameters.Read.Length, 77);
    KEXPECT_EQ(IoGetNextIrpStackLocation(irp)->Control, 0);
    IoSkipCurrentIrpStackLocation(irp);
    KEXPECT_EQ(irp->CurrentLocation, 4);
    first->CompletionRoutine = NULL;
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    KEXPECT_EQ(irp->AllocationFlags, IRP_QUOTA_CHARGED);
    KEXPECT_EQ(irp->IoStatus.Status, STATUS_UNSUCCESSFUL);
    KEXPECT_EQ(irp->CurrentLocation, 4);
    KEXPECT_EQ(first->Parameters.Read.Length, 0);
    IoFreeIrp(irp);
}

KTEST(io, buffered_read_write)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    UCHAR data[100], back[100];
    ULONG_PTR info = 0;

    KASSERT_NE(device, NULL);
    KEXPECT_TRUE(device->Flags & DO_BUFFERED_IO);
    for (ULONG i = 0; i < sizeof(data); i++)
        data[i] = (UCHAR)(0xA0 ^ i);
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_WRITE, data, sizeof(data), 10, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, sizeof(data));
    RtlZeroMemory(back, sizeof(back));
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_READ, back, sizeof(back), 10, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, sizeof(back));
    KEXPECT_EQ(RtlCompareMemory(back, data, sizeof(data)), sizeof(data));
    /* Past the end: an error, and nothing copied back. */
    back[0] = 0x5A;
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_READ, back, sizeof(back), IOTEST_SMALL_STORE - 10, &info),
               STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(back[0], 0x5A);
    /* A major function the driver left unset. */
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_FLUSH_BUFFERS, NULL, 0, 0, &info), STATUS_INVALID_DEVICE_REQUEST);
    ObDereferenceObject(device);
}

KTEST(io, direct_io_split_with_partial_mdls)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_DIRECT_NAME);
    const ULONG length = 40000, offset = 5;
    PUCHAR block, buffer;
    ULONG_PTR info = 0;

    KASSERT_NE(device, NULL);
    KEXPECT_TRUE(device->Flags & DO_DIRECT_IO);
    block = ExAllocatePoolWithTag(NonPagedPoolNx, length + 16, TEST_TAG);
    KASSERT_NE(block, NULL);
    buffer = block + 3;                 /* odd offset: the MDL starts mid-page */
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_READ, buffer, length, offset, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, length);
    for (ULONG i = 0; i < length; i++) {
        if (buffer[i] != (UCHAR)((offset + i) * 7 + 1)) {
            KEXPECT_EQ(buffer[i], (UCHAR)((offset + i) * 7 + 1));
            break;
        }
    }
    KEXPECT_EQ(((PIOTEST_EXTENSION)device->DeviceExtension)->Chunks,
               (length + IOTEST_CHUNK_BYTES - 1) / IOTEST_CHUNK_BYTES);
    /* And back: write a new pattern, read it again. */
    for (ULONG i = 0; i < length; i++)
        buffer[i] = (UCHAR)(i * 13);
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_WRITE, buffer, length, offset, &info), STATUS_SUCCESS);
    RtlZeroMemory(buffer, length);
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_READ, buffer, length, offset, &info), STATUS_SUCCESS);
    for (ULONG i = 0; i < length; i++) {
        if (buffer[i] != (UCHAR)(i * 13)) {
            KEXPECT_EQ(buffer[i], (UCHAR)(i * 13));
            break;
        }
    }
    /* Restore the store the next boot's tests expect (same boot, other tests). */
    for (ULONG i = 0; i < length; i++)
        buffer[i] = (UCHAR)((offset + i) * 7 + 1);
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_WRITE, buffer, length, offset, &info), STATUS_SUCCESS);
    ExFreePoolWithTag(block, TEST_TAG);
    ObDereferenceObject(device);
}

KTEST(io, ioctl_methods)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    UCHAR in[6] = {1, 2, 3, 4, 5, 6}, out[4] = {0}, fill = 0xC3, big[300];
    ULONG value = 0x12345678, result = 0;
    ULONG_PTR info = 0;

    KASSERT_NE(device, NULL);
    /* METHOD_BUFFERED: one system buffer, the output copied back. */
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_ECHO, in, sizeof(in), out, sizeof(out), &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, sizeof(out));
    KEXPECT_EQ(out[0], 2);
    KEXPECT_EQ(out[3], 5);
    KEXPECT_EQ(in[0], 1);               /* the input is the caller's, untouched */
    /* METHOD_OUT_DIRECT: the output buffer as a locked MDL. */
    RtlZeroMemory(big, sizeof(big));
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_FILL_DIRECT, &fill, 1, big + 1, 250, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 250);
    KEXPECT_EQ(big[0], 0);
    KEXPECT_EQ(big[1], 0xC3);
    KEXPECT_EQ(big[250], 0xC3);
    KEXPECT_EQ(big[251], 0);
    /* METHOD_NEITHER: the caller's own addresses. */
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_NEITHER, &value, sizeof(value), &result, sizeof(result), &info),
               STATUS_SUCCESS);
    KEXPECT_EQ(result, value);
    KEXPECT_EQ(IotestIoctl(device, CTL_CODE(FILE_DEVICE_UNKNOWN, 0x9FF, METHOD_BUFFERED, FILE_ANY_ACCESS),
                           NULL, 0, NULL, 0, &info), STATUS_INVALID_DEVICE_REQUEST);
    ObDereferenceObject(device);
}

KTEST(io, pending_irp_completed_from_dpc)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    ULONG value = 4321;
    ULONG_PTR info = 0;

    KASSERT_NE(device, NULL);
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_PEND_DPC, &value, sizeof(value), NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 4321);
    ObDereferenceObject(device);
}

KTEST(io, work_item_runs_at_passive_level)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    ULONG_PTR info = 0;
    LONG references;

    KASSERT_NE(device, NULL);
    references = device->ReferenceCount;
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_WORKITEM, NULL, 0, NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 100 + PASSIVE_LEVEL);
    /* The item's reference on the device is gone once it has run (the IRP
     * completes inside the routine, so wait for the worker to finish). */
    for (int i = 0; i < 1000 && device->ReferenceCount != references; i++)
        ZwYieldExecution();
    KEXPECT_EQ(device->ReferenceCount, references);
    ObDereferenceObject(device);
}

/* Completion routines: the stack's filters log 1 and 2, ours 3. */
typedef struct {
    PIOTEST_EXTENSION Bottom;
    KEVENT Done;
    NTSTATUS Status;
    BOOLEAN PendingReturned;
    KIRQL Irql;
} COMPLETION_PROBE;

static NTSTATUS ProbeCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    COMPLETION_PROBE *probe = Context;
    LONG slot = __atomic_fetch_add(&probe->Bottom->OrderCount, 1, __ATOMIC_RELAXED);

    UNREFERENCED_PARAMETER(DeviceObject);
    if (slot < IOTEST_LOG)
        probe->Bottom->Order[slot] = 3;
    probe->Status = Irp->IoStatus.Status;
    probe->PendingReturned = Irp->PendingReturned;
    probe->Irql = KeGetCurrentIrql();
    IoFreeIrp(Irp);                     /* an asynchronous FSD request is ours to free */
    KeSetEvent(&probe->Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void CompletionOrderCase(LONGLONG Offset, BOOLEAN ExpectPending)
{
    PDEVICE_OBJECT top = IotestOpen(IOTEST_STACK_NAME);
    PIOTEST_EXTENSION bottom;
    COMPLETION_PROBE probe;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset = {.QuadPart = Offset};
    UCHAR buffer[16];
    NTSTATUS status;
    PIRP irp;

    KASSERT_NE(top, NULL);
    KEXPECT_EQ(top->StackSize, 3);
    bottom = ((PIOTEST_EXTENSION)((PIOTEST_EXTENSION)top->DeviceExtension)->Lower->DeviceExtension)->Lower
                 ->DeviceExtension;
    bottom->OrderCount = 0;
    probe.Bottom = bottom;
    KeInitializeEvent(&probe.Done, NotificationEvent, FALSE);
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, top, buffer, sizeof(buffer), &offset, &iosb);
    KASSERT_NE(irp, NULL);
    IoSetCompletionRoutine(irp, ProbeCompletion, &probe, TRUE, TRUE, TRUE);
    status = IoCallDriver(top, irp);
    KEXPECT_EQ(status, ExpectPending ? STATUS_PENDING : STATUS_SUCCESS);
    KeWaitForSingleObject(&probe.Done, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(probe.Status, STATUS_SUCCESS);
    KEXPECT_EQ(probe.PendingReturned, ExpectPending);
    KEXPECT_EQ(probe.Irql, ExpectPending ? DISPATCH_LEVEL : PASSIVE_LEVEL);
    KEXPECT_EQ(bottom->OrderCount, 3);
    KEXPECT_EQ(bottom->Order[0], 1);    /* the driver that called last completes first */
    KEXPECT_EQ(bottom->Order[1], 2);
    KEXPECT_EQ(bottom->Order[2], 3);
    ObDereferenceObject(top);
}

KTEST(io, completion_routines_run_bottom_up)
{
    CompletionOrderCase(1, FALSE);      /* the bottom completes in its dispatch routine */
    CompletionOrderCase(0, TRUE);       /* ... or later, from a DPC */
}

/* Start an IOCTL whose IRP stays with the driver; the caller waits on Event later. */
static PIRP SendIoctlNoWait(PDEVICE_OBJECT Device, ULONG Code, PULONG Value, PKEVENT Event,
                            PIO_STATUS_BLOCK Iosb, NTSTATUS *Status)
{
    PIRP irp;

    KeInitializeEvent(Event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(Code, Device, Value, Value != NULL ? sizeof(*Value) : 0, NULL, 0,
                                        FALSE, Event, Iosb);
    if (irp != NULL)
        *Status = IoCallDriver(Device, irp);
    return irp;
}

KTEST(io, cancel_safe_queue)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    IO_STATUS_BLOCK iosb1, iosb2, iosb3;
    KEVENT event1, event2, event3;
    NTSTATUS status;
    ULONG_PTR info = 0;
    PIRP irp;

    KASSERT_NE(device, NULL);
    /* Released by the driver. */
    irp = SendIoctlNoWait(device, IOCTL_IOTEST_CSQ_QUEUE, NULL, &event1, &iosb1, &status);
    KASSERT_NE(irp, NULL);
    KEXPECT_EQ(status, STATUS_PENDING);
    KEXPECT_EQ(KeReadStateEvent(&event1), 0);
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_CSQ_RELEASE, NULL, 0, NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 1);
    KeWaitForSingleObject(&event1, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(iosb1.Status, STATUS_SUCCESS);
    KEXPECT_EQ(iosb1.Information, 1);

    /* Cancelled while queued: the CSQ's cancel routine dequeues and completes it. */
    irp = SendIoctlNoWait(device, IOCTL_IOTEST_CSQ_QUEUE, NULL, &event2, &iosb2, &status);
    KASSERT_NE(irp, NULL);
    KEXPECT_EQ(status, STATUS_PENDING);
    KEXPECT_TRUE(IoCancelIrp(irp));
    KeWaitForSingleObject(&event2, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(iosb2.Status, STATUS_CANCELLED);
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_CSQ_RELEASE, NULL, 0, NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 0);                /* nothing left queued */

    /* Cancelled before it reached the queue: no routine to call yet, so the
     * insert itself must notice and complete it. */
    KeInitializeEvent(&event3, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(IOCTL_IOTEST_CSQ_QUEUE, device, NULL, 0, NULL, 0, FALSE, &event3, &iosb3);
    KASSERT_NE(irp, NULL);
    KEXPECT_FALSE(IoCancelIrp(irp));
    KEXPECT_EQ(IoCallDriver(device, irp), STATUS_PENDING);
    KeWaitForSingleObject(&event3, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(iosb3.Status, STATUS_CANCELLED);
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_CSQ_RELEASE, NULL, 0, NULL, 0, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 0);
    ObDereferenceObject(device);
}

KTEST(io, startio_queues_by_key)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIOTEST_EXTENSION ext;
    ULONG keys[4] = {5, 9, 3, 7};
    IO_STATUS_BLOCK iosb[4];
    KEVENT events[4];
    PIRP irps[4];
    NTSTATUS status[4];
    KIRQL irql;

    KASSERT_NE(device, NULL);
    ext = device->DeviceExtension;
    ext->StartCount = 0;
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&events[i], NotificationEvent, FALSE);
        irps[i] = IoBuildDeviceIoControlRequest(IOCTL_IOTEST_STARTIO, device, &keys[i], sizeof(ULONG), NULL, 0,
                                                FALSE, &events[i], &iosb[i]);
        KASSERT_NE(irps[i], NULL);
    }
    /* At DISPATCH_LEVEL the device's DPC cannot finish the first IRP yet:
     * the other three must queue, sorted by key. */
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    for (int i = 0; i < 4; i++)
        status[i] = IoCallDriver(device, irps[i]);
    KEXPECT_EQ(device->CurrentIrp, irps[0]);
    KEXPECT_EQ(ext->StartCount, 1);
    KEXPECT_TRUE(device->DeviceQueue.Busy);
    KeLowerIrql(irql);
    for (int i = 0; i < 4; i++) {
        KEXPECT_EQ(status[i], STATUS_PENDING);
        KeWaitForSingleObject(&events[i], Executive, KernelMode, FALSE, NULL);
        KEXPECT_EQ(iosb[i].Status, STATUS_SUCCESS);
        KEXPECT_EQ(iosb[i].Information, keys[i]);
    }
    KEXPECT_EQ(ext->StartCount, 4);
    KEXPECT_EQ(ext->StartLog[0], 5);
    KEXPECT_EQ(ext->StartLog[1], 3);
    KEXPECT_EQ(ext->StartLog[2], 7);
    KEXPECT_EQ(ext->StartLog[3], 9);
    KEXPECT_EQ(device->CurrentIrp, NULL);
    KEXPECT_FALSE(device->DeviceQueue.Busy);
    ObDereferenceObject(device);
}

KTEST(io, startio_queued_irp_cancelled)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIOTEST_EXTENSION ext;
    ULONG zero = 0;
    IO_STATUS_BLOCK iosbA, iosbB;
    KEVENT eventA, eventB;
    PIRP a, b;
    NTSTATUS status;
    KIRQL irql;

    KASSERT_NE(device, NULL);
    ext = device->DeviceExtension;
    ext->StartCount = 0;
    KeInitializeEvent(&eventA, NotificationEvent, FALSE);
    KeInitializeEvent(&eventB, NotificationEvent, FALSE);
    a = IoBuildDeviceIoControlRequest(IOCTL_IOTEST_STARTIO, device, &zero, sizeof(zero), NULL, 0, FALSE,
                                      &eventA, &iosbA);
    b = IoBuildDeviceIoControlRequest(IOCTL_IOTEST_STARTIO, device, &zero, sizeof(zero), NULL, 0, FALSE,
                                      &eventB, &iosbB);
    KASSERT_NE(a, NULL);
    KASSERT_NE(b, NULL);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    status = IoCallDriver(device, a);
    KEXPECT_EQ(status, STATUS_PENDING);
    status = IoCallDriver(device, b);
    KEXPECT_EQ(status, STATUS_PENDING);
    KEXPECT_TRUE(IoCancelIrp(b));      /* queued, not current: the routine takes it out */
    KeLowerIrql(irql);
    KeWaitForSingleObject(&eventA, Executive, KernelMode, FALSE, NULL);
    KeWaitForSingleObject(&eventB, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(iosbA.Status, STATUS_SUCCESS);
    KEXPECT_EQ(iosbB.Status, STATUS_CANCELLED);
    KEXPECT_EQ(ext->StartCount, 1);
    KEXPECT_FALSE(device->DeviceQueue.Busy);
    ObDereferenceObject(device);
}

/* A one-bus list with a memory range and an interrupt, as a PCI device's. */
static void FillResources(PCM_RESOURCE_LIST List)
{
    PCM_PARTIAL_RESOURCE_DESCRIPTOR d = List->List[0].PartialResourceList.PartialDescriptors;

    RtlZeroMemory(List, FIELD_OFFSET(CM_RESOURCE_LIST, List[0].PartialResourceList.PartialDescriptors) +
                            2 * sizeof(CM_PARTIAL_RESOURCE_DESCRIPTOR));
    List->Count = 1;
    List->List[0].InterfaceType = PCIBus;
    List->List[0].PartialResourceList.Count = 2;
    d->Type = CmResourceTypeMemory;
    d->u.Memory.Start.QuadPart = 0xFEB00000;
    d->u.Memory.Length = 0x1000;
    d++;
    d->Type = CmResourceTypeInterrupt;
    d->Flags = CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE;
}

KTEST(io, pnp_add_and_start_device)
{
    static PCSTR const ids[] = {"MICA\\NO_SUCH_THING", "mica\\iotest_function", NULL};
    static PCSTR const unclaimed[] = {"MICA\\NO_SUCH_THING", NULL};
    PDEVICE_OBJECT buffered = IotestOpen(IOTEST_BUFFERED_NAME), pdo, fdo;
    PIOTEST_EXTENSION pdoExt, fdoExt;
    ULONG64 rawBytes[16], translatedBytes[16];     /* room for two descriptors */
    PCM_RESOURCE_LIST raw = (PCM_RESOURCE_LIST)rawBytes, translated = (PCM_RESOURCE_LIST)translatedBytes;

    KASSERT_NE(buffered, NULL);
    FillResources(raw);
    FillResources(translated);

    KASSERT_EQ(IoCreateDevice(buffered->DriverObject, sizeof(IOTEST_EXTENSION), NULL, FILE_DEVICE_BUS_EXTENDER,
                              0, FALSE, &pdo), STATUS_SUCCESS);
    pdoExt = pdo->DeviceExtension;
    pdoExt->Kind = IotestPdo;
    KEXPECT_EQ(IopAddAndStartDevice(pdo, unclaimed, raw, translated), STATUS_NO_SUCH_DEVICE);
    KEXPECT_EQ(pdo->AttachedDevice, NULL);

    KEXPECT_EQ(IopAddAndStartDevice(pdo, ids, raw, translated), STATUS_SUCCESS);
    fdo = pdo->AttachedDevice;
    KASSERT_NE(fdo, NULL);
    fdoExt = fdo->DeviceExtension;
    KEXPECT_EQ(fdoExt->Kind, IotestFdo);
    KEXPECT_EQ(fdo->StackSize, 2);
    KEXPECT_FALSE(fdo->Flags & DO_DEVICE_INITIALIZING);
    KEXPECT_TRUE(pdo->Flags & DO_BUS_ENUMERATED_DEVICE);
    KEXPECT_EQ(pdoExt->StartSteps, 1);  /* the PDO started first ... */
    KEXPECT_EQ(fdoExt->StartSteps, 2);  /* ... then the function driver */
    KEXPECT_EQ(pdoExt->StartIrql, PASSIVE_LEVEL);
    KEXPECT_EQ(fdoExt->Raw, raw);
    KEXPECT_EQ(fdoExt->Translated, translated);
    KEXPECT_EQ(fdoExt->Raw->List[0].PartialResourceList.Count, 2);

    IoDetachDevice(pdo);
    IoDeleteDevice(fdo);
    IoDeleteDevice(pdo);
    ObDereferenceObject(buffered);
}

/* The README's example driver (tests/drivers/example.c) does what it says. */
KTEST(io, example_driver)
{
    PDEVICE_OBJECT device = IotestOpen(u"\\Device\\Example0");
    char text[] = "hello, driver", back[sizeof(text)] = {0};
    ULONG_PTR info = 0;

    KASSERT_NE(device, NULL);
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_WRITE, text, sizeof(text), 500, &info), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_WRITE, text, sizeof(text), 100, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, sizeof(text));
    KEXPECT_EQ(IotestTransfer(device, IRP_MJ_READ, back, sizeof(back), 100, &info), STATUS_SUCCESS);
    KEXPECT_STREQ(back, text);
    /* Unset major functions are refused for the driver. */
    KEXPECT_EQ(IotestIoctl(device, IOCTL_IOTEST_ECHO, NULL, 0, NULL, 0, &info), STATUS_INVALID_DEVICE_REQUEST);
    ObDereferenceObject(device);
}

/*
 * IoForwardIrpSynchronously, as a function driver above the iotest device
 * uses it: an IRP with one location more than the device needs, the top
 * one current (ours). The IRP comes back at our location, with the lower
 * driver's status and information, not completed: ours to finish.
 */
static VOID ForwardCase(PDEVICE_OBJECT Device, ULONG Code, ULONG Value, ULONG_PTR Expected)
{
    PIRP irp = IoAllocateIrp((CCHAR)(Device->StackSize + 1), FALSE);
    PIO_STACK_LOCATION ours;
    UCHAR buffer[sizeof(ULONG)];
    CHAR location;

    KASSERT_NE(irp, NULL);
    RtlCopyMemory(buffer, &Value, sizeof(Value));
    IoSetNextIrpStackLocation(irp);
    ours = IoGetCurrentIrpStackLocation(irp);
    location = irp->CurrentLocation;
    ours->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    ours->Parameters.DeviceIoControl.IoControlCode = Code;
    ours->Parameters.DeviceIoControl.InputBufferLength = sizeof(buffer);
    ours->Parameters.DeviceIoControl.OutputBufferLength = sizeof(buffer);
    irp->AssociatedIrp.SystemBuffer = buffer;
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    KEXPECT_TRUE(IoForwardIrpSynchronously(Device, irp));
    KEXPECT_EQ(irp->IoStatus.Status, STATUS_SUCCESS);
    KEXPECT_EQ(irp->IoStatus.Information, Expected);
    KEXPECT_EQ(irp->CurrentLocation, location);
    KEXPECT_EQ(IoGetCurrentIrpStackLocation(irp), ours);
    KEXPECT_EQ(ours->Parameters.DeviceIoControl.IoControlCode, Code);
    IoFreeIrp(irp);
}

KTEST(io, forward_irp_synchronously)
{
    PDEVICE_OBJECT device = IotestOpen(IOTEST_BUFFERED_NAME);
    PIRP irp;

    KASSERT_NE(device, NULL);
    ForwardCase(device, IOCTL_IOTEST_ECHO, 7, sizeof(ULONG));     /* completed in the dispatch routine */
    ForwardCase(device, IOCTL_IOTEST_PEND_DPC, 4321, 4321);      /* pending, completed from a DPC */
    /* An IRP at its last location: nothing below to send it to (IoCallDriver
     * would stop with 0x35); FALSE, and the IRP is left as it was. */
    irp = IoAllocateIrp(1, FALSE);
    KASSERT_NE(irp, NULL);
    IoSetNextIrpStackLocation(irp);
    IoGetCurrentIrpStackLocation(irp)->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    KEXPECT_FALSE(IoForwardIrpSynchronously(device, irp));
    KEXPECT_EQ(irp->CurrentLocation, 1);
    KEXPECT_EQ(irp->IoStatus.Status, STATUS_NOT_SUPPORTED);
    IoFreeIrp(irp);
    ObDereferenceObject(device);
}

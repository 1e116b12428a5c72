/*
 * test_io.h - helpers the I/O manager's tests share: open a test device by
 * name and send it requests the way a kernel-mode client does.
 */
#ifndef TEST_IO_H
#define TEST_IO_H

#include "../ktest.h"
#include "../../kernel/io/io.h"
#include "../drivers/iotest.h"

/* The named device's top of stack, referenced (drop with ObDereferenceObject). */
static inline PDEVICE_OBJECT IotestOpen(PCWSTR Name)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device = NULL;
    PVOID file = NULL;

    RtlInitUnicodeString(&name, Name);
    if (!NT_SUCCESS(IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &file, &device)))
        return NULL;
    return device;
}

/* Send a synchronous IRP and wait for it: the final status. */
static inline NTSTATUS IotestCallAndWait(PDEVICE_OBJECT Device, PIRP Irp, PKEVENT Event,
                                         PIO_STATUS_BLOCK Iosb)
{
    NTSTATUS status = IoCallDriver(Device, Irp);

    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
        status = Iosb->Status;
    }
    return status;
}

static inline NTSTATUS IotestIoctl(PDEVICE_OBJECT Device, ULONG Code, PVOID In, ULONG InLength,
                                   PVOID Out, ULONG OutLength, PULONG_PTR Information)
{
    IO_STATUS_BLOCK iosb = {.Information = 0};
    NTSTATUS status;
    KEVENT event;
    PIRP irp;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(Code, Device, In, InLength, Out, OutLength, FALSE, &event, &iosb);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = IotestCallAndWait(Device, irp, &event, &iosb);
    if (status != STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    if (Information != NULL)
        *Information = iosb.Information;
    return status;
}

static inline NTSTATUS IotestTransfer(PDEVICE_OBJECT Device, ULONG Major, PVOID Buffer, ULONG Length,
                                      LONGLONG Offset, PULONG_PTR Information)
{
    IO_STATUS_BLOCK iosb = {.Information = 0};
    LARGE_INTEGER offset = {.QuadPart = Offset};
    NTSTATUS status;
    KEVENT event;
    PIRP irp;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildSynchronousFsdRequest(Major, Device, Buffer, Length, &offset, &event, &iosb);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = IotestCallAndWait(Device, irp, &event, &iosb);
    if (status != STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    if (Information != NULL)
        *Information = iosb.Information;
    return status;
}

#endif

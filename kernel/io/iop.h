/*
 * iop.h - declarations shared by the files of kernel/io/ only (NT's Iop
 * routines): the I/O manager's part of a device object, the object
 * directory, the IoCallDriver frames the pending check uses, and the
 * system worker threads.
 */
#ifndef MICA_IOP_H
#define MICA_IOP_H

#include "io.h"
#include "../ke/ke_internal.h"

#define PHASE1_INITIALIZATION_FAILED 0x00000032

#define IOP_TAG_DEVICE   'vDoI'         /* "IoDv" in a pool dump */
#define IOP_TAG_DRIVER   'rDoI'
#define IOP_TAG_IRP      ' prI'
#define IOP_TAG_BUFFER   'fBoI'
#define IOP_TAG_WORKITEM 'kWoI'
#define IOP_TAG_COMPLETE 'cCoI'

/*
 * The I/O manager's own part of a device object (DeviceObjectExtension):
 * what NT keeps in the DEVOBJ_EXTENSION and the object header. It sits
 * right after the device extension in the same nonpaged block, followed
 * by the name's characters.
 */
#define DOE_DELETE_PENDING 0x00000002   /* NT's value: IoDeleteDevice was called */

typedef struct _DEVOBJ_EXTENSION {
    CSHORT Type;                        /* IO_TYPE_DEVICE, as NT's */
    USHORT Size;
    PDEVICE_OBJECT DeviceObject;
    ULONG ExtensionFlags;               /* DOE_* */
    PDEVICE_OBJECT AttachedTo;          /* the device below, IopDatabaseLock */
    UNICODE_STRING Name;                /* Buffer NULL if unnamed */
    LIST_ENTRY DirectoryLink;           /* in IopDirectory while named */
} DEVOBJ_EXTENSION, *PDEVOBJ_EXTENSION;

/* Guards every device's AttachedDevice/AttachedTo, the drivers' device
 * lists, DOE flags, reference counts reaching zero and the directory. */
extern KSPIN_LOCK IopDatabaseLock;

/* objdir.c: the directory of named devices (IopDatabaseLock held). */
BOOLEAN IopIsValidObjectName(PCUNICODE_STRING Name);
PDEVICE_OBJECT IopLookupDeviceLocked(PCUNICODE_STRING Name);
VOID IopInsertDeviceLocked(PDEVICE_OBJECT DeviceObject);
VOID IopRemoveDeviceLocked(PDEVICE_OBJECT DeviceObject);

/* device.c: references (the count is DEVICE_OBJECT.ReferenceCount); the
 * memory goes with the last reference once IoDeleteDevice was called. */
VOID IopReferenceDevice(PDEVICE_OBJECT DeviceObject);
VOID IopDereferenceDevice(PDEVICE_OBJECT DeviceObject);
/* For ObReferenceObject/ObDereferenceObject (kernel/ke/thread.c): TRUE if
 * Object is an I/O object they handled. */
BOOLEAN IopReferenceObject(PVOID Object);
BOOLEAN IopDereferenceObject(PVOID Object);

/* driver.c: the Index'th built-in driver's object, or NULL (not loaded, or
 * Index past the table): how the kd> shell's !drvobj finds drivers. */
#define IOP_MAX_BUILTIN_DRIVERS 32
PDRIVER_OBJECT IopGetBuiltinDriver(ULONG Index);

/* irp.c: the default dispatch routine of every MajorFunction slot. */
NTSTATUS IopInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/*
 * AllocationFlags bit (Mica's own) of the IRPs IoBuild* made: completion
 * gives them the I/O manager's post-processing (copy-back, MDLs, IOSB,
 * event, free), as NT does for thread-queued IRPs.
 */
#define IOP_IRP_BUILT 0x80

/* call.c / complete.c: an IoCallDriver in progress, so that a dispatch
 * routine that returns STATUS_PENDING can be checked against the mark
 * IoCompleteRequest saw on its stack location (the IRP may be gone). */
typedef struct _IOP_CALL_FRAME {
    LIST_ENTRY Link;
    PIRP Irp;
    CHAR Location;                      /* the dispatch routine's CurrentLocation */
    BOOLEAN Completed;                  /* IoCompleteRequest passed that location */
    BOOLEAN WasMarked;                  /* ... and it had SL_PENDING_RETURNED */
} IOP_CALL_FRAME, *PIOP_CALL_FRAME;
/* Completion passes Location of Irp with this Control (or the IRP is freed: Freed). */
VOID IopNoteLocationCompleted(PIRP Irp, CHAR Location, UCHAR Control, BOOLEAN Freed);

/* complete.c: the post-processing of a built IRP (at PASSIVE_LEVEL or from
 * the worker when completion ran at DISPATCH_LEVEL). */
VOID IopCompleteBuiltIrp(PIRP Irp);

/* workitem.c: system worker threads; phase 1. */
VOID IopInitializeWorkerThreads(VOID);

#endif

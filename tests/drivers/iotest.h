/*
 * iotest.h - what the test driver (iotest.c) and its in-kernel tests
 * (tests/kernel/test_io*.c) share: device names, control codes and the
 * device extension. It includes nothing: the driver includes <wdm.h>
 * first, the tests the kernel's io.h.
 */
#ifndef IOTEST_H
#define IOTEST_H

#define IOTEST_DIRECT_NAME   u"\\Device\\IoTestDirect"    /* DO_DIRECT_IO */
#define IOTEST_BUFFERED_NAME u"\\Device\\IoTestBuffered"  /* DO_BUFFERED_IO */
#define IOTEST_STACK_NAME    u"\\Device\\IoTestStack"     /* two filters above it */
#define IOTEST_HARDWARE_ID   "MICA\\IOTEST_FUNCTION"

#define IOTEST_STORE_BYTES   (64 * 1024 + 3)   /* the direct device's data */
#define IOTEST_CHUNK_BYTES   4096              /* its IoBuildPartialMdl split */
#define IOTEST_SMALL_STORE   8192              /* the buffered device's data */

#define IOTEST_IOCTL(n, method) CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + (n), (method), FILE_ANY_ACCESS)
/* in: bytes; out: each byte + 1 */
#define IOCTL_IOTEST_ECHO            IOTEST_IOCTL(0, METHOD_BUFFERED)
/* in: ULONG v; pended, completed from a DPC with Information = v */
#define IOCTL_IOTEST_PEND_DPC        IOTEST_IOCTL(1, METHOD_BUFFERED)
/* queued in the cancel-safe queue until RELEASE or cancel */
#define IOCTL_IOTEST_CSQ_QUEUE       IOTEST_IOCTL(2, METHOD_BUFFERED)
/* completes the next queued IRP (Information 1); Information = how many (0/1) */
#define IOCTL_IOTEST_CSQ_RELEASE     IOTEST_IOCTL(3, METHOD_BUFFERED)
/* completed by a work item: Information = the IRQL it ran at + 100 */
#define IOCTL_IOTEST_WORKITEM        IOTEST_IOCTL(4, METHOD_BUFFERED)
/* in: ULONG v; through IoStartPacket (key v if v != 0), completed from the
 * DpcForIsr, which starts the next; StartIo logs v */
#define IOCTL_IOTEST_STARTIO         IOTEST_IOCTL(5, METHOD_BUFFERED)
/* misuse, for the bug-check tests */
#define IOCTL_IOTEST_COMPLETE_TWICE  IOTEST_IOCTL(6, METHOD_BUFFERED)
#define IOCTL_IOTEST_COMPLETE_STATUS_PENDING IOTEST_IOCTL(7, METHOD_BUFFERED)
#define IOCTL_IOTEST_COMPLETE_WITH_CANCEL    IOTEST_IOCTL(8, METHOD_BUFFERED)
#define IOCTL_IOTEST_PEND_UNMARKED   IOTEST_IOCTL(9, METHOD_BUFFERED)
/* METHOD_OUT_DIRECT: in: UCHAR fill; the MDL's buffer filled with it */
#define IOCTL_IOTEST_FILL_DIRECT     IOTEST_IOCTL(10, METHOD_OUT_DIRECT)
/* METHOD_NEITHER: out = in (Type3InputBuffer to UserBuffer), ULONG */
#define IOCTL_IOTEST_NEITHER         IOTEST_IOCTL(11, METHOD_NEITHER)

typedef enum _IOTEST_KIND { IotestData, IotestFilter, IotestPdo, IotestFdo } IOTEST_KIND;

#define IOTEST_LOG 16

typedef struct _IOTEST_EXTENSION {
    IOTEST_KIND Kind;
    PDEVICE_OBJECT Lower;               /* filters and FDOs: the device below */
    PUCHAR Store;                       /* data devices */
    ULONG StoreBytes;
    ULONG Chunks;                       /* partial MDLs the last direct read/write used */
    KDPC PendDpc;                       /* IOCTL_IOTEST_PEND_DPC's */
    PIRP PendIrp;
    KSPIN_LOCK QueueLock;               /* the cancel-safe queue */
    LIST_ENTRY Queue;
    IO_CSQ Csq;
    ULONG StartLog[IOTEST_LOG];         /* StartIo order */
    volatile LONG StartCount;
    volatile LONG Order[IOTEST_LOG];    /* completion routines: the filter's number */
    volatile LONG OrderCount;
    ULONG FilterNumber;
    /* PnP: what IRP_MN_START_DEVICE brought (FDO) and when the PDO saw it */
    PCM_RESOURCE_LIST Raw, Translated;
    volatile LONG StartSteps;           /* PDO: 1 when it completed START; FDO: 2 after */
    KIRQL StartIrql;
} IOTEST_EXTENSION, *PIOTEST_EXTENSION;

/* The shared log of completion routines on the stack device (filters write
 * their number, in the order the routines run). */
#endif

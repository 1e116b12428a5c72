/*
 * edu.h - what the edu function driver (edu.c) and its in-kernel tests
 * (tests/kernel/test_pci_driver.c) share: the device's name, its control
 * code and the device extension. It includes nothing: the driver includes
 * <wdm.h> first, the tests the kernel's headers.
 *
 * QEMU's `edu` device (docs/specs/edu.txt), 1234:11E8: BAR0 is 1 MiB of
 * registers; writing a value to 0x60 ORs it into the interrupt status
 * (0x24) and raises the interrupt (a message when MSI is enabled, else
 * INTA, held until the status is cleared through 0x64).
 */
#ifndef EDU_H
#define EDU_H

#define EDU_NAME                 u"\\Device\\Edu0"
#define EDU_HARDWARE_ID          "PCI\\VEN_1234&DEV_11E8"

#define EDU_REG_IDENTIFICATION   0x00   /* 0xRRrr00ED: major, minor, 0xED */
#define EDU_IDENTIFICATION_MASK  0xFF
#define EDU_IDENTIFICATION       0xED
#define EDU_REG_INTERRUPT_STATUS 0x24
#define EDU_REG_INTERRUPT_RAISE  0x60
#define EDU_REG_INTERRUPT_ACK    0x64
#define EDU_REGISTERS_MAPPED     0x1000 /* the registers used here, of the 1 MiB BAR */

/* in: ULONG cause (non-zero); the device interrupts with it, the driver's
 * ISR acknowledges and queues its DPC, which completes the request with
 * Information = the cause the ISR read (STATUS_TIMEOUT after a second). */
#define IOCTL_EDU_RAISE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _EDU_EXTENSION {
    PDEVICE_OBJECT Self, Pdo, Lower;
    PUCHAR Registers;                   /* BAR0, mapped at start */
    ULONG Identification;               /* read right after mapping */
    NTSTATUS LowerStartStatus;          /* what START_DEVICE returned from the PDO */
    LONGLONG MappedAt;                  /* KeQueryPerformanceCounter when BAR0 was first used */
    ULONG ConnectVersion;               /* CONNECT_MESSAGE_BASED or CONNECT_LINE_BASED */
    NTSTATUS ConnectStatus;
    PIO_INTERRUPT_MESSAGE_INFO MessageTable;        /* message based */
    PKINTERRUPT Interrupt;                          /* line based */
    KEVENT Interrupted;                 /* set by the DPC */
    volatile ULONG Cause;               /* the ISR's latest status */
    volatile LONG IsrCount, DpcCount;
    volatile LONG LastMessage;          /* message ISR: its MessageID */
    volatile KIRQL IsrIrql, DpcIrql;
} EDU_EXTENSION, *PEDU_EXTENSION;

#endif

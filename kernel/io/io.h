/*
 * io.h - the public face of kernel/io/ (the I/O manager): driver and device
 * objects, IRPs and their stack locations, I/O control codes, the resource
 * lists a bus driver hands a function driver with IRP_MN_START_DEVICE,
 * cancel-safe queues, StartIo device queues, DPCs for ISRs and work items.
 *
 * Every structure a driver touches has x64 NT's layout, checked by the
 * static asserts below, so a WDK-shaped driver and a debugger see the same
 * bytes (offsets from the facts sheet, nt-io-dma-facts.md section 3).
 * Routines have NT's names, parameters, IRQL rules and failure behaviour;
 * where Mica differs (it has no file objects, no registry and no
 * user-mode requests), the comment says so.
 *
 * Drivers include this through kernel/wdm.h. The `pci` helper's interrupt
 * declarations (IoConnectInterruptEx ...) and the `dma` helper's
 * DEVICE_DESCRIPTION/DMA_ADAPTER (hal.h) live in sections of their own.
 */
#ifndef MICA_IO_H
#define MICA_IO_H

#include "../ke/ke.h"
#include "../../mm/mm.h"

/* ---- Counted strings (names of devices and drivers) ------------------------
 *
 * NT names objects with UNICODE_STRINGs: a byte Length (no terminator
 * counted), a MaximumLength and a buffer of 16-bit WCHARs. GCC's L"" is 32
 * bits wide, so Mica writes names with C11's u"" literals, whose char16_t is
 * the same 16-bit type as WCHAR:
 *
 *     UNICODE_STRING name = RTL_CONSTANT_STRING(u"\\Device\\Mica0");
 *     RtlInitUnicodeString(&name, u"\\Device\\Mica0");
 *
 * From an ASCII (ANSI) string, as NT does it: RtlInitAnsiString, then
 * RtlAnsiStringToUnicodeString (kernel/rtl/unicode.c).
 */
typedef WCHAR *PWCH, *PWSTR;
typedef const WCHAR *PCWCH, *PCWSTR;

typedef struct _UNICODE_STRING {
    USHORT Length;                      /* bytes, without a terminator */
    USHORT MaximumLength;               /* bytes the buffer holds */
    PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
    USHORT Length;
    USHORT MaximumLength;
    PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING;
typedef const STRING *PCANSI_STRING;

_Static_assert(sizeof(UNICODE_STRING) == 16, "UNICODE_STRING is 16 bytes on x64");

/* A UNICODE_STRING initializer for a u"" literal (or an ANSI_STRING for ""). */
#define RTL_CONSTANT_STRING(s) \
    { (USHORT)(sizeof(s) - sizeof((s)[0])), (USHORT)sizeof(s), (void *)(s) }

/* Any IRQL for these three (resident strings). A NULL source gives an empty string. */
VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
VOID RtlInitAnsiString(PANSI_STRING DestinationString, PCSTR SourceString);
BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                              BOOLEAN CaseInSensitive);
/* Widen each byte. AllocateDestinationString: a paged-pool buffer the
 * caller frees with RtlFreeUnicodeString (IRQL PASSIVE_LEVEL); otherwise
 * the caller's buffer, STATUS_BUFFER_OVERFLOW if it is too small.
 * STATUS_INVALID_PARAMETER_2 for a source too long for a UNICODE_STRING. */
NTSTATUS RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString,
                                      PCANSI_STRING SourceString,
                                      BOOLEAN AllocateDestinationString);
VOID RtlFreeUnicodeString(PUNICODE_STRING UnicodeString);

/* ---- Status values and stop codes of the I/O manager ------------------------ */

#define STATUS_BUFFER_OVERFLOW          ((NTSTATUS)0x80000005L)
#define STATUS_NO_SUCH_DEVICE           ((NTSTATUS)0xC000000EL)
#define STATUS_INVALID_DEVICE_REQUEST   ((NTSTATUS)0xC0000010L)
#define STATUS_END_OF_FILE              ((NTSTATUS)0xC0000011L)
#define STATUS_MORE_PROCESSING_REQUIRED ((NTSTATUS)0xC0000016L)
#define STATUS_OBJECT_NAME_INVALID      ((NTSTATUS)0xC0000033L)
#define STATUS_OBJECT_NAME_NOT_FOUND    ((NTSTATUS)0xC0000034L)
#define STATUS_OBJECT_NAME_COLLISION    ((NTSTATUS)0xC0000035L)
#define STATUS_OBJECT_PATH_NOT_FOUND    ((NTSTATUS)0xC000003AL)
#define STATUS_DELETE_PENDING           ((NTSTATUS)0xC0000056L)
#define STATUS_DEVICE_NOT_READY         ((NTSTATUS)0xC00000A3L)
#define STATUS_NOT_SUPPORTED            ((NTSTATUS)0xC00000BBL)
#define STATUS_CANCELLED                ((NTSTATUS)0xC0000120L)
#define STATUS_INVALID_DEVICE_STATE     ((NTSTATUS)0xC0000184L)
#define STATUS_INVALID_BUFFER_SIZE      ((NTSTATUS)0xC0000206L)
#define STATUS_INVALID_PARAMETER_2      ((NTSTATUS)0xC00000F0L)

#define NO_MORE_IRP_STACK_LOCATIONS         0x00000035
#define MULTIPLE_IRP_COMPLETE_REQUESTS      0x00000044
#define DRIVER_VERIFIER_IOMANAGER_VIOLATION 0x000000C9

/* DRIVER_VERIFIER_IOMANAGER_VIOLATION subcodes (parameter 1) Mica raises. */
#define IOP_VERIFIER_FREE_NON_IRP            0x01   /* IoFreeIrp of something else (P2 the address) */
#define IOP_VERIFIER_COMPLETE_PENDING_STATUS 0x06   /* P2 the status, P3 the IRP */
#define IOP_VERIFIER_COMPLETE_WITH_CANCEL    0x07   /* P2 the cancel routine, P3 the IRP */
#define IOP_VERIFIER_COMPLETE_ABOVE_DISPATCH 0x0E   /* P2 the IRQL, P3 the IRP */
/* Mica's own (NT's I/O Verifier catches it as 0x21x in the debugger): a
 * dispatch routine returned STATUS_PENDING without IoMarkIrpPending.
 * P2 the dispatch routine, P3 the IRP, P4 the device object. */
#define IOP_VERIFIER_PENDING_NOT_MARKED      0x0F

/* ---- Object types and flags ---------------------------------------------- */

#define IO_TYPE_ADAPTER      1
#define IO_TYPE_CONTROLLER   2
#define IO_TYPE_DEVICE       3
#define IO_TYPE_DRIVER       4
#define IO_TYPE_FILE         5
#define IO_TYPE_IRP          6
#define IO_TYPE_DEVICE_QUEUE 0x14  /* NT's KOBJECTS DeviceQueueObject (KDEVICE_QUEUE.Type) */

/* DEVICE_TYPE and the FILE_DEVICE_* values (devioctl.h). */
typedef ULONG DEVICE_TYPE;
#define FILE_DEVICE_BEEP                0x00000001
#define FILE_DEVICE_CD_ROM              0x00000002
#define FILE_DEVICE_CONTROLLER          0x00000004
#define FILE_DEVICE_DISK                0x00000007
#define FILE_DEVICE_DISK_FILE_SYSTEM    0x00000008
#define FILE_DEVICE_FILE_SYSTEM         0x00000009
#define FILE_DEVICE_KEYBOARD            0x0000000B
#define FILE_DEVICE_MOUSE               0x0000000F
#define FILE_DEVICE_NETWORK             0x00000012
#define FILE_DEVICE_NULL                0x00000015
#define FILE_DEVICE_PARALLEL_PORT       0x00000016
#define FILE_DEVICE_PHYSICAL_NETCARD    0x00000017
#define FILE_DEVICE_PRINTER             0x00000018
#define FILE_DEVICE_SERIAL_PORT         0x0000001B
#define FILE_DEVICE_SCREEN              0x0000001C
#define FILE_DEVICE_SOUND               0x0000001D
#define FILE_DEVICE_TAPE                0x0000001F
#define FILE_DEVICE_TRANSPORT           0x00000021
#define FILE_DEVICE_UNKNOWN             0x00000022
#define FILE_DEVICE_VIDEO               0x00000023
#define FILE_DEVICE_VIRTUAL_DISK        0x00000024
#define FILE_DEVICE_8042_PORT           0x00000027
#define FILE_DEVICE_BATTERY             0x00000029
#define FILE_DEVICE_BUS_EXTENDER        0x0000002A
#define FILE_DEVICE_MODEM               0x0000002B
#define FILE_DEVICE_MASS_STORAGE        0x0000002D
#define FILE_DEVICE_ACPI                0x00000032
#define FILE_DEVICE_DVD                 0x00000033

/* DeviceCharacteristics (IoCreateDevice). */
#define FILE_REMOVABLE_MEDIA            0x00000001
#define FILE_READ_ONLY_DEVICE           0x00000002
#define FILE_FLOPPY_DISKETTE            0x00000004
#define FILE_WRITE_ONCE_MEDIA           0x00000008
#define FILE_REMOTE_DEVICE              0x00000010
#define FILE_DEVICE_IS_MOUNTED          0x00000020
#define FILE_VIRTUAL_VOLUME             0x00000040
#define FILE_AUTOGENERATED_DEVICE_NAME  0x00000080
#define FILE_DEVICE_SECURE_OPEN         0x00000100
#define FILE_CHARACTERISTIC_PNP_DEVICE  0x00000800

/* DEVICE_OBJECT.Flags. */
#define DO_VERIFY_VOLUME         0x00000002
#define DO_BUFFERED_IO           0x00000004
#define DO_EXCLUSIVE             0x00000008
#define DO_DIRECT_IO             0x00000010
#define DO_MAP_IO_BUFFER         0x00000020
#define DO_DEVICE_HAS_NAME       0x00000040
#define DO_DEVICE_INITIALIZING   0x00000080
#define DO_SHUTDOWN_REGISTERED   0x00000800
#define DO_BUS_ENUMERATED_DEVICE 0x00001000
#define DO_POWER_PAGABLE         0x00002000
#define DO_POWER_INRUSH          0x00004000

/* AlignmentRequirement: a mask (the buffer address & mask must be 0). */
#define FILE_BYTE_ALIGNMENT     0x00000000
#define FILE_WORD_ALIGNMENT     0x00000001
#define FILE_LONG_ALIGNMENT     0x00000003
#define FILE_QUAD_ALIGNMENT     0x00000007
#define FILE_OCTA_ALIGNMENT     0x0000000F
#define FILE_32_BYTE_ALIGNMENT  0x0000001F
#define FILE_64_BYTE_ALIGNMENT  0x0000003F
#define FILE_128_BYTE_ALIGNMENT 0x0000007F
#define FILE_256_BYTE_ALIGNMENT 0x000000FF
#define FILE_512_BYTE_ALIGNMENT 0x000001FF

/* ---- I/O control codes ---------------------------------------------------- */

#define CTL_CODE(DeviceType, Function, Method, Access) \
    (((ULONG)(DeviceType) << 16) | ((ULONG)(Access) << 14) | ((ULONG)(Function) << 2) | (Method))
#define DEVICE_TYPE_FROM_CTL_CODE(CtlCode) (((ULONG)(CtlCode) & 0xFFFF0000) >> 16)
#define METHOD_FROM_CTL_CODE(CtlCode)      ((ULONG)(CtlCode) & 3)
#define METHOD_BUFFERED   0     /* in and out share Irp->AssociatedIrp.SystemBuffer */
#define METHOD_IN_DIRECT  1     /* input in SystemBuffer, output buffer as Irp->MdlAddress */
#define METHOD_OUT_DIRECT 2
#define METHOD_NEITHER    3     /* Type3InputBuffer and Irp->UserBuffer, as given */
#define FILE_ANY_ACCESS     0
#define FILE_SPECIAL_ACCESS FILE_ANY_ACCESS
#define FILE_READ_ACCESS    0x0001
#define FILE_WRITE_ACCESS   0x0002

/* ---- Major and minor function codes ------------------------------------------ */

#define IRP_MJ_CREATE                   0x00
#define IRP_MJ_CREATE_NAMED_PIPE        0x01
#define IRP_MJ_CLOSE                    0x02
#define IRP_MJ_READ                     0x03
#define IRP_MJ_WRITE                    0x04
#define IRP_MJ_QUERY_INFORMATION        0x05
#define IRP_MJ_SET_INFORMATION          0x06
#define IRP_MJ_QUERY_EA                 0x07
#define IRP_MJ_SET_EA                   0x08
#define IRP_MJ_FLUSH_BUFFERS            0x09
#define IRP_MJ_QUERY_VOLUME_INFORMATION 0x0A
#define IRP_MJ_SET_VOLUME_INFORMATION   0x0B
#define IRP_MJ_DIRECTORY_CONTROL        0x0C
#define IRP_MJ_FILE_SYSTEM_CONTROL      0x0D
#define IRP_MJ_DEVICE_CONTROL           0x0E
#define IRP_MJ_INTERNAL_DEVICE_CONTROL  0x0F
#define IRP_MJ_SCSI                     IRP_MJ_INTERNAL_DEVICE_CONTROL
#define IRP_MJ_SHUTDOWN                 0x10
#define IRP_MJ_LOCK_CONTROL             0x11
#define IRP_MJ_CLEANUP                  0x12
#define IRP_MJ_CREATE_MAILSLOT          0x13
#define IRP_MJ_QUERY_SECURITY           0x14
#define IRP_MJ_SET_SECURITY             0x15
#define IRP_MJ_POWER                    0x16
#define IRP_MJ_SYSTEM_CONTROL           0x17
#define IRP_MJ_DEVICE_CHANGE            0x18
#define IRP_MJ_QUERY_QUOTA              0x19
#define IRP_MJ_SET_QUOTA                0x1A
#define IRP_MJ_PNP                      0x1B
#define IRP_MJ_MAXIMUM_FUNCTION         0x1B

/* IRP_MJ_PNP minor codes. */
#define IRP_MN_START_DEVICE                 0x00
#define IRP_MN_QUERY_REMOVE_DEVICE          0x01
#define IRP_MN_REMOVE_DEVICE                0x02
#define IRP_MN_CANCEL_REMOVE_DEVICE         0x03
#define IRP_MN_STOP_DEVICE                  0x04
#define IRP_MN_QUERY_STOP_DEVICE            0x05
#define IRP_MN_CANCEL_STOP_DEVICE           0x06
#define IRP_MN_QUERY_DEVICE_RELATIONS       0x07
#define IRP_MN_QUERY_INTERFACE              0x08
#define IRP_MN_QUERY_CAPABILITIES           0x09
#define IRP_MN_QUERY_RESOURCES              0x0A
#define IRP_MN_QUERY_RESOURCE_REQUIREMENTS  0x0B
#define IRP_MN_QUERY_DEVICE_TEXT            0x0C
#define IRP_MN_FILTER_RESOURCE_REQUIREMENTS 0x0D
#define IRP_MN_READ_CONFIG                  0x0F
#define IRP_MN_WRITE_CONFIG                 0x10
#define IRP_MN_EJECT                        0x11
#define IRP_MN_SET_LOCK                     0x12
#define IRP_MN_QUERY_ID                     0x13
#define IRP_MN_QUERY_PNP_DEVICE_STATE       0x14
#define IRP_MN_QUERY_BUS_INFORMATION        0x15
#define IRP_MN_DEVICE_USAGE_NOTIFICATION    0x16
#define IRP_MN_SURPRISE_REMOVAL             0x17

/* IRP_MJ_POWER minor codes. */
#define IRP_MN_WAIT_WAKE      0x00
#define IRP_MN_POWER_SEQUENCE 0x01
#define IRP_MN_SET_POWER      0x02
#define IRP_MN_QUERY_POWER    0x03

/* IO_STACK_LOCATION.Flags (for read and write). */
#define SL_KEY_SPECIFIED         0x01
#define SL_OVERRIDE_VERIFY_VOLUME 0x02
#define SL_WRITE_THROUGH         0x04
#define SL_FT_SEQUENTIAL_WRITE   0x08
#define SL_FORCE_DIRECT_WRITE    0x10

/* IO_STACK_LOCATION.Control. */
#define SL_PENDING_RETURNED  0x01
#define SL_ERROR_RETURNED    0x02
#define SL_INVOKE_ON_CANCEL  0x20
#define SL_INVOKE_ON_SUCCESS 0x40
#define SL_INVOKE_ON_ERROR   0x80

/* IRP.Flags. */
#define IRP_NOCACHE              0x00000001
#define IRP_PAGING_IO            0x00000002
#define IRP_SYNCHRONOUS_API      0x00000004
#define IRP_ASSOCIATED_IRP       0x00000008
#define IRP_BUFFERED_IO          0x00000010
#define IRP_DEALLOCATE_BUFFER    0x00000020
#define IRP_INPUT_OPERATION      0x00000040
#define IRP_CREATE_OPERATION     0x00000080
#define IRP_READ_OPERATION       0x00000100
#define IRP_WRITE_OPERATION      0x00000200
#define IRP_CLOSE_OPERATION      0x00000400
#define IRP_DEFER_IO_COMPLETION  0x00000800

/* IRP.AllocationFlags. */
#define IRP_QUOTA_CHARGED          0x01
#define IRP_ALLOCATED_MUST_SUCCEED 0x02
#define IRP_ALLOCATED_FIXED_SIZE   0x04
#define IRP_LOOKASIDE_ALLOCATION   0x08

/* ---- Hardware resources (CM_RESOURCE_LIST) --------------------------------
 *
 * What a bus driver assigned a device, handed to its function driver with
 * IRP_MN_START_DEVICE in two forms with the same descriptors in the same
 * order: raw (bus-relative: what to program into the device) and translated
 * (system physical addresses for MmMapIoSpace, global vector and DIRQL for
 * IoConnectInterrupt(Ex)). NT packs these on 4 bytes; so does Mica.
 */
#define CmResourceTypeNull           0
#define CmResourceTypePort           1
#define CmResourceTypeInterrupt      2
#define CmResourceTypeMemory         3
#define CmResourceTypeDma            4
#define CmResourceTypeDeviceSpecific 5
#define CmResourceTypeBusNumber      6
#define CmResourceTypeMemoryLarge    7
#define CmResourceTypeNonArbitrated  128
#define CmResourceTypeConfigData     128
#define CmResourceTypeDevicePrivate  129

typedef enum _CM_SHARE_DISPOSITION {
    CmResourceShareUndetermined = 0,
    CmResourceShareDeviceExclusive,
    CmResourceShareDriverExclusive,
    CmResourceShareShared
} CM_SHARE_DISPOSITION;

/* Flags of a CmResourceTypeInterrupt descriptor. */
#define CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE  0x00
#define CM_RESOURCE_INTERRUPT_LATCHED          0x01
#define CM_RESOURCE_INTERRUPT_MESSAGE          0x02
#define CM_RESOURCE_INTERRUPT_POLICY_INCLUDED  0x04
#define CM_RESOURCE_INTERRUPT_SECONDARY_INTERRUPT 0x10
#define CM_RESOURCE_INTERRUPT_WAKE_HINT        0x20
#define CM_RESOURCE_INTERRUPT_LEVEL_LATCHED_BITS 0x0001
#define CM_RESOURCE_INTERRUPT_MESSAGE_TOKEN    ((ULONG)-2)

/* Flags of a CmResourceTypeMemory(Large) descriptor. */
#define CM_RESOURCE_MEMORY_READ_WRITE     0x0000
#define CM_RESOURCE_MEMORY_READ_ONLY      0x0001
#define CM_RESOURCE_MEMORY_WRITE_ONLY     0x0002
#define CM_RESOURCE_MEMORY_WRITEABILITY_MASK 0x0003
#define CM_RESOURCE_MEMORY_PREFETCHABLE   0x0004
#define CM_RESOURCE_MEMORY_COMBINEDWRITE  0x0008
#define CM_RESOURCE_MEMORY_24             0x0010
#define CM_RESOURCE_MEMORY_CACHEABLE      0x0020
#define CM_RESOURCE_MEMORY_WINDOW_DECODE  0x0040
#define CM_RESOURCE_MEMORY_BAR            0x0080
#define CM_RESOURCE_MEMORY_LARGE          0x0E00
#define CM_RESOURCE_MEMORY_LARGE_40       0x0200
#define CM_RESOURCE_MEMORY_LARGE_48       0x0400
#define CM_RESOURCE_MEMORY_LARGE_64       0x0800

/* Flags of a CmResourceTypePort descriptor. */
#define CM_RESOURCE_PORT_MEMORY           0x0000
#define CM_RESOURCE_PORT_IO               0x0001
#define CM_RESOURCE_PORT_10_BIT_DECODE    0x0004
#define CM_RESOURCE_PORT_12_BIT_DECODE    0x0008
#define CM_RESOURCE_PORT_16_BIT_DECODE    0x0010
#define CM_RESOURCE_PORT_POSITIVE_DECODE  0x0020
#define CM_RESOURCE_PORT_PASSIVE_DECODE   0x0040
#define CM_RESOURCE_PORT_WINDOW_DECODE    0x0080
#define CM_RESOURCE_PORT_BAR              0x0100

/* Flags of a CmResourceTypeDma descriptor. */
#define CM_RESOURCE_DMA_8          0x0000
#define CM_RESOURCE_DMA_16         0x0001
#define CM_RESOURCE_DMA_32         0x0002
#define CM_RESOURCE_DMA_8_AND_16   0x0004
#define CM_RESOURCE_DMA_BUS_MASTER 0x0008
#define CM_RESOURCE_DMA_TYPE_A     0x0010
#define CM_RESOURCE_DMA_TYPE_B     0x0020
#define CM_RESOURCE_DMA_TYPE_F     0x0040

#pragma pack(push, 4)
typedef struct _CM_PARTIAL_RESOURCE_DESCRIPTOR {
    UCHAR Type;                         /* CmResourceType* */
    UCHAR ShareDisposition;             /* CM_SHARE_DISPOSITION */
    USHORT Flags;                       /* CM_RESOURCE_* of the type */
    union {
        struct {
            PHYSICAL_ADDRESS Start;
            ULONG Length;
        } Generic, Port, Memory;
        struct {
            USHORT Level;               /* raw: the bus's line; translated: the DIRQL */
            USHORT Group;
            ULONG Vector;
            KAFFINITY Affinity;
        } Interrupt;
        struct {
            union {
                struct {
                    USHORT Group;
                    USHORT MessageCount;
                    ULONG Vector;
                    KAFFINITY Affinity;
                } Raw;
                struct {
                    USHORT Level;
                    USHORT Group;
                    ULONG Vector;
                    KAFFINITY Affinity;
                } Translated;
            };
        } MessageInterrupt;
        struct {
            ULONG Channel;
            ULONG Port;
            ULONG Reserved1;
        } Dma;
        struct {
            ULONG Data[3];
        } DevicePrivate;
        struct {
            ULONG Start;
            ULONG Length;
            ULONG Reserved;
        } BusNumber;
        struct {
            ULONG DataSize;
            ULONG Reserved1;
            ULONG Reserved2;
        } DeviceSpecificData;
        struct {
            PHYSICAL_ADDRESS Start;
            ULONG Length40;             /* length >> 8 */
        } Memory40;
        struct {
            PHYSICAL_ADDRESS Start;
            ULONG Length48;             /* length >> 16 */
        } Memory48;
        struct {
            PHYSICAL_ADDRESS Start;
            ULONG Length64;             /* length >> 32 */
        } Memory64;
    } u;
} CM_PARTIAL_RESOURCE_DESCRIPTOR, *PCM_PARTIAL_RESOURCE_DESCRIPTOR;

typedef struct _CM_PARTIAL_RESOURCE_LIST {
    USHORT Version;
    USHORT Revision;
    ULONG Count;
    CM_PARTIAL_RESOURCE_DESCRIPTOR PartialDescriptors[1];   /* Count of them */
} CM_PARTIAL_RESOURCE_LIST, *PCM_PARTIAL_RESOURCE_LIST;

typedef struct _CM_FULL_RESOURCE_DESCRIPTOR {
    INTERFACE_TYPE InterfaceType;
    ULONG BusNumber;
    CM_PARTIAL_RESOURCE_LIST PartialResourceList;
} CM_FULL_RESOURCE_DESCRIPTOR, *PCM_FULL_RESOURCE_DESCRIPTOR;

typedef struct _CM_RESOURCE_LIST {
    ULONG Count;
    CM_FULL_RESOURCE_DESCRIPTOR List[1];                    /* Count of them */
} CM_RESOURCE_LIST, *PCM_RESOURCE_LIST;
#pragma pack(pop)

_Static_assert(sizeof(CM_PARTIAL_RESOURCE_DESCRIPTOR) == 0x14, "CM_PARTIAL_RESOURCE_DESCRIPTOR is 0x14 bytes (pack 4)");
_Static_assert(__builtin_offsetof(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Memory.Length) == 0xC, "u.Memory.Length at 0xC");
_Static_assert(__builtin_offsetof(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Interrupt.Vector) == 8, "u.Interrupt.Vector at 8");
_Static_assert(__builtin_offsetof(CM_PARTIAL_RESOURCE_DESCRIPTOR, u.Interrupt.Affinity) == 0xC, "u.Interrupt.Affinity at 0xC");
_Static_assert(__builtin_offsetof(CM_FULL_RESOURCE_DESCRIPTOR, PartialResourceList.PartialDescriptors) == 0x10,
               "the partial descriptors start at 0x10 of a full descriptor");

/* ---- Objects ---------------------------------------------------------------- */

struct _DRIVER_OBJECT;
struct _DEVICE_OBJECT;
struct _IRP;
struct _IO_STACK_LOCATION;
typedef struct _DRIVER_OBJECT *PDRIVER_OBJECT;
typedef struct _DEVICE_OBJECT *PDEVICE_OBJECT;
typedef struct _IRP *PIRP;
typedef struct _IO_STACK_LOCATION *PIO_STACK_LOCATION;

typedef struct _IO_STATUS_BLOCK {
    union {
        NTSTATUS Status;
        PVOID Pointer;
    };
    ULONG_PTR Information;              /* bytes transferred, or request-specific */
} IO_STATUS_BLOCK, *PIO_STATUS_BLOCK;

/* Routines a driver supplies (the WDK's role types). */
typedef NTSTATUS DRIVER_INITIALIZE(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
typedef DRIVER_INITIALIZE *PDRIVER_INITIALIZE;
typedef NTSTATUS DRIVER_ADD_DEVICE(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject);
typedef DRIVER_ADD_DEVICE *PDRIVER_ADD_DEVICE;
typedef VOID DRIVER_UNLOAD(PDRIVER_OBJECT DriverObject);
typedef DRIVER_UNLOAD *PDRIVER_UNLOAD;
typedef NTSTATUS DRIVER_DISPATCH(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef DRIVER_DISPATCH *PDRIVER_DISPATCH;
typedef VOID DRIVER_STARTIO(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef DRIVER_STARTIO *PDRIVER_STARTIO;
typedef VOID DRIVER_CANCEL(PDEVICE_OBJECT DeviceObject, PIRP Irp);
typedef DRIVER_CANCEL *PDRIVER_CANCEL;
typedef NTSTATUS IO_COMPLETION_ROUTINE(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context);
typedef IO_COMPLETION_ROUTINE *PIO_COMPLETION_ROUTINE;
typedef VOID IO_DPC_ROUTINE(PKDPC Dpc, PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context);
typedef IO_DPC_ROUTINE *PIO_DPC_ROUTINE;

/* What an adapter or controller's ExecutionRoutine tells the I/O manager. */
typedef enum _IO_ALLOCATION_ACTION {
    KeepObject = 1,
    DeallocateObject,
    DeallocateObjectKeepRegisters
} IO_ALLOCATION_ACTION, *PIO_ALLOCATION_ACTION;
typedef IO_ALLOCATION_ACTION DRIVER_CONTROL(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                            PVOID MapRegisterBase, PVOID Context);
typedef DRIVER_CONTROL *PDRIVER_CONTROL;

typedef struct _DRIVER_EXTENSION {
    PDRIVER_OBJECT DriverObject;
    PDRIVER_ADD_DEVICE AddDevice;       /* set by DriverEntry of a PnP driver */
    ULONG Count;
    UNICODE_STRING ServiceKeyName;
} DRIVER_EXTENSION, *PDRIVER_EXTENSION;

typedef struct _DRIVER_OBJECT {
    CSHORT Type;                        /* IO_TYPE_DRIVER */
    CSHORT Size;
    PDEVICE_OBJECT DeviceObject;        /* the driver's devices, through NextDevice */
    ULONG Flags;
    PVOID DriverStart;
    ULONG DriverSize;
    PVOID DriverSection;
    PDRIVER_EXTENSION DriverExtension;
    UNICODE_STRING DriverName;          /* "\Driver\name" */
    PUNICODE_STRING HardwareDatabase;   /* Mica: NULL (no registry) */
    PVOID FastIoDispatch;               /* Mica: NULL (no file systems) */
    PDRIVER_INITIALIZE DriverInit;
    PDRIVER_STARTIO DriverStartIo;
    PDRIVER_UNLOAD DriverUnload;
    PDRIVER_DISPATCH MajorFunction[IRP_MJ_MAXIMUM_FUNCTION + 1];
} DRIVER_OBJECT;

_Static_assert(sizeof(DRIVER_OBJECT) == 0x150, "DRIVER_OBJECT is 0x150 bytes on x64");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DeviceObject) == 0x08, "DRIVER_OBJECT.DeviceObject");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, Flags) == 0x10, "DRIVER_OBJECT.Flags");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverExtension) == 0x30, "DRIVER_OBJECT.DriverExtension");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverName) == 0x38, "DRIVER_OBJECT.DriverName");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, FastIoDispatch) == 0x50, "DRIVER_OBJECT.FastIoDispatch");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverInit) == 0x58, "DRIVER_OBJECT.DriverInit");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverStartIo) == 0x60, "DRIVER_OBJECT.DriverStartIo");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, DriverUnload) == 0x68, "DRIVER_OBJECT.DriverUnload");
_Static_assert(__builtin_offsetof(DRIVER_OBJECT, MajorFunction) == 0x70, "DRIVER_OBJECT.MajorFunction");

/* A device queue (NT's KDEVICE_QUEUE, a Ke object): the IRPs waiting for a
 * busy device in IoStartPacket, or any driver-defined entries. */
typedef struct _KDEVICE_QUEUE_ENTRY {
    LIST_ENTRY DeviceListEntry;
    ULONG SortKey;
    BOOLEAN Inserted;
} KDEVICE_QUEUE_ENTRY, *PKDEVICE_QUEUE_ENTRY, *PRKDEVICE_QUEUE_ENTRY;

typedef struct _KDEVICE_QUEUE {
    CSHORT Type;                        /* IO_TYPE_DEVICE_QUEUE */
    CSHORT Size;
    LIST_ENTRY DeviceListHead;          /* ascending SortKey for the ByKey inserts */
    KSPIN_LOCK Lock;
    BOOLEAN Busy;                       /* the device is working on an entry */
} KDEVICE_QUEUE, *PKDEVICE_QUEUE, *PRKDEVICE_QUEUE;

_Static_assert(sizeof(KDEVICE_QUEUE_ENTRY) == 0x18, "KDEVICE_QUEUE_ENTRY is 0x18 bytes on x64");
_Static_assert(sizeof(KDEVICE_QUEUE) == 0x28, "KDEVICE_QUEUE is 0x28 bytes on x64");

/* The wait block a device object carries for adapter and controller waits
 * (AllocateAdapterChannel queues it). */
typedef struct _WAIT_CONTEXT_BLOCK {
    KDEVICE_QUEUE_ENTRY WaitQueueEntry;
    PDRIVER_CONTROL DeviceRoutine;
    PVOID DeviceContext;
    ULONG NumberOfMapRegisters;
    PVOID DeviceObject;
    PVOID CurrentIrp;
    PKDPC BufferChainingDpc;
} WAIT_CONTEXT_BLOCK, *PWAIT_CONTEXT_BLOCK;

_Static_assert(sizeof(WAIT_CONTEXT_BLOCK) == 0x48, "WAIT_CONTEXT_BLOCK is 0x48 bytes on x64");

typedef struct __attribute__((aligned(16))) _DEVICE_OBJECT {
    CSHORT Type;                        /* IO_TYPE_DEVICE */
    USHORT Size;                        /* object + extension bytes */
    LONG ReferenceCount;                /* ObReferenceObject / IoGetDeviceObjectPointer */
    PDRIVER_OBJECT DriverObject;
    PDEVICE_OBJECT NextDevice;          /* the driver's next device */
    PDEVICE_OBJECT AttachedDevice;      /* the device attached above this one */
    PIRP CurrentIrp;                    /* the IRP StartIo is working on */
    PVOID Timer;
    ULONG Flags;                        /* DO_* */
    ULONG Characteristics;              /* FILE_* device characteristics */
    PVOID Vpb;
    PVOID DeviceExtension;              /* right after the object, zeroed */
    DEVICE_TYPE DeviceType;
    CCHAR StackSize;                    /* stack locations an IRP to this device needs */
    union {
        LIST_ENTRY ListEntry;
        WAIT_CONTEXT_BLOCK Wcb;
    } Queue;
    ULONG AlignmentRequirement;         /* FILE_*_ALIGNMENT */
    KDEVICE_QUEUE DeviceQueue;          /* IoStartPacket's queue */
    KDPC Dpc;                           /* IoInitializeDpcRequest's DPC for ISR */
    ULONG ActiveThreadCount;
    PVOID SecurityDescriptor;
    KEVENT DeviceLock;
    USHORT SectorSize;
    USHORT Spare1;
    struct _DEVOBJ_EXTENSION *DeviceObjectExtension;   /* the I/O manager's own */
    PVOID Reserved;
} DEVICE_OBJECT;

_Static_assert(sizeof(KDPC) == 0x40, "KDPC is 0x40 bytes on x64");
_Static_assert(sizeof(DEVICE_OBJECT) == 0x150, "DEVICE_OBJECT is 0x150 bytes on x64");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, DriverObject) == 0x08, "DEVICE_OBJECT.DriverObject");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, NextDevice) == 0x10, "DEVICE_OBJECT.NextDevice");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, AttachedDevice) == 0x18, "DEVICE_OBJECT.AttachedDevice");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, CurrentIrp) == 0x20, "DEVICE_OBJECT.CurrentIrp");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, Flags) == 0x30, "DEVICE_OBJECT.Flags");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, Characteristics) == 0x34, "DEVICE_OBJECT.Characteristics");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, DeviceExtension) == 0x40, "DEVICE_OBJECT.DeviceExtension");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, DeviceType) == 0x48, "DEVICE_OBJECT.DeviceType");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, StackSize) == 0x4C, "DEVICE_OBJECT.StackSize");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, Queue) == 0x50, "DEVICE_OBJECT.Queue");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, AlignmentRequirement) == 0x98, "DEVICE_OBJECT.AlignmentRequirement");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, DeviceQueue) == 0xA0, "DEVICE_OBJECT.DeviceQueue");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, Dpc) == 0xC8, "DEVICE_OBJECT.Dpc");
_Static_assert(__builtin_offsetof(DEVICE_OBJECT, DeviceObjectExtension) == 0x138, "DEVICE_OBJECT.DeviceObjectExtension");

/* ---- IRPs ---------------------------------------------------------------------- */

/*
 * One stack location per driver in the device stack: the request as that
 * driver sees it, and the completion routine the driver above set for it.
 */
typedef struct _IO_STACK_LOCATION {
    UCHAR MajorFunction;                /* IRP_MJ_* */
    UCHAR MinorFunction;                /* IRP_MN_* */
    UCHAR Flags;                        /* SL_* request flags */
    UCHAR Control;                      /* SL_PENDING_RETURNED, SL_INVOKE_ON_* */
    union {
        struct {
            ULONG Length;
            ULONG Key __attribute__((aligned(8)));
            ULONG Flags;
            LARGE_INTEGER ByteOffset;
        } Read;
        struct {
            ULONG Length;
            ULONG Key __attribute__((aligned(8)));
            ULONG Flags;
            LARGE_INTEGER ByteOffset;
        } Write;
        struct {
            ULONG OutputBufferLength;
            ULONG InputBufferLength __attribute__((aligned(8)));
            ULONG IoControlCode __attribute__((aligned(8)));
            PVOID Type3InputBuffer;
        } DeviceIoControl;
        struct {
            PCM_RESOURCE_LIST AllocatedResources;            /* raw */
            PCM_RESOURCE_LIST AllocatedResourcesTranslated;  /* translated */
        } StartDevice;
        struct {
            PVOID Argument1;
            PVOID Argument2;
            PVOID Argument3;
            PVOID Argument4;
        } Others;
    } Parameters;
    PDEVICE_OBJECT DeviceObject;        /* the device this location is for */
    PVOID FileObject;                   /* Mica: always NULL (no file objects) */
    PIO_COMPLETION_ROUTINE CompletionRoutine;
    PVOID Context;
} IO_STACK_LOCATION;

_Static_assert(sizeof(IO_STACK_LOCATION) == 0x48, "IO_STACK_LOCATION is 0x48 bytes on x64");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters) == 0x08, "IO_STACK_LOCATION.Parameters");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters.Read.Key) == 0x10, "Parameters.Read.Key");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters.Read.ByteOffset) == 0x18, "Parameters.Read.ByteOffset");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.InputBufferLength) == 0x10,
               "Parameters.DeviceIoControl.InputBufferLength");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode) == 0x18,
               "Parameters.DeviceIoControl.IoControlCode");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer) == 0x20,
               "Parameters.DeviceIoControl.Type3InputBuffer");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, DeviceObject) == 0x28, "IO_STACK_LOCATION.DeviceObject");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, FileObject) == 0x30, "IO_STACK_LOCATION.FileObject");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, CompletionRoutine) == 0x38, "IO_STACK_LOCATION.CompletionRoutine");
_Static_assert(__builtin_offsetof(IO_STACK_LOCATION, Context) == 0x40, "IO_STACK_LOCATION.Context");

typedef VOID IO_APC_ROUTINE(PVOID ApcContext, PIO_STATUS_BLOCK IoStatusBlock, ULONG Reserved);
typedef IO_APC_ROUTINE *PIO_APC_ROUTINE;

/*
 * An I/O request packet: the header below, then StackCount stack
 * locations. CurrentLocation counts down from StackCount + 1 (none
 * current yet) as IoCallDriver passes the IRP down, and back up as
 * IoCompleteRequest walks the completion routines.
 */
typedef struct _IRP {
    CSHORT Type;                        /* IO_TYPE_IRP */
    USHORT Size;                        /* header + stack locations, bytes */
    PMDL MdlAddress;                    /* DO_DIRECT_IO: the locked buffer */
    ULONG Flags;                        /* IRP_* */
    union {
        struct _IRP *MasterIrp;
        volatile LONG IrpCount;
        PVOID SystemBuffer;             /* DO_BUFFERED_IO / METHOD_BUFFERED */
    } AssociatedIrp;
    LIST_ENTRY ThreadListEntry;
    IO_STATUS_BLOCK IoStatus;
    KPROCESSOR_MODE RequestorMode;
    BOOLEAN PendingReturned;            /* a lower driver returned STATUS_PENDING */
    CHAR StackCount;
    CHAR CurrentLocation;
    BOOLEAN Cancel;
    KIRQL CancelIrql;                   /* IoCancelIrp's IRQL, for the cancel routine */
    CCHAR ApcEnvironment;
    UCHAR AllocationFlags;
    PIO_STATUS_BLOCK UserIosb;
    PKEVENT UserEvent;
    union {
        struct {
            PIO_APC_ROUTINE UserApcRoutine;
            PVOID UserApcContext;
        } AsynchronousParameters;
        LARGE_INTEGER AllocationSize;
    } Overlay;
    volatile PDRIVER_CANCEL CancelRoutine;
    PVOID UserBuffer;                   /* METHOD_NEITHER / neither-I/O buffer */
    union {
        struct {
            union {
                KDEVICE_QUEUE_ENTRY DeviceQueueEntry;
                struct {
                    PVOID DriverContext[4];   /* the owning driver's; CSQ uses [3] */
                };
            };
            PKTHREAD Thread;
            PCHAR AuxiliaryBuffer;
            struct {
                LIST_ENTRY ListEntry;
                union {
                    struct _IO_STACK_LOCATION *CurrentStackLocation;
                    ULONG PacketType;
                };
            };
            PVOID OriginalFileObject;
        } Overlay;
        UCHAR Apc[0x58];                /* NT's KAPC (Mica has no APCs) */
        PVOID CompletionKey;
    } Tail;
} IRP;

_Static_assert(sizeof(IRP) == 0xD0, "IRP is 0xD0 bytes on x64");
_Static_assert(__builtin_offsetof(IRP, MdlAddress) == 0x08, "IRP.MdlAddress");
_Static_assert(__builtin_offsetof(IRP, Flags) == 0x10, "IRP.Flags");
_Static_assert(__builtin_offsetof(IRP, AssociatedIrp) == 0x18, "IRP.AssociatedIrp");
_Static_assert(__builtin_offsetof(IRP, ThreadListEntry) == 0x20, "IRP.ThreadListEntry");
_Static_assert(__builtin_offsetof(IRP, IoStatus) == 0x30, "IRP.IoStatus");
_Static_assert(__builtin_offsetof(IRP, RequestorMode) == 0x40, "IRP.RequestorMode");
_Static_assert(__builtin_offsetof(IRP, PendingReturned) == 0x41, "IRP.PendingReturned");
_Static_assert(__builtin_offsetof(IRP, StackCount) == 0x42, "IRP.StackCount");
_Static_assert(__builtin_offsetof(IRP, CurrentLocation) == 0x43, "IRP.CurrentLocation");
_Static_assert(__builtin_offsetof(IRP, Cancel) == 0x44, "IRP.Cancel");
_Static_assert(__builtin_offsetof(IRP, CancelIrql) == 0x45, "IRP.CancelIrql");
_Static_assert(__builtin_offsetof(IRP, AllocationFlags) == 0x47, "IRP.AllocationFlags");
_Static_assert(__builtin_offsetof(IRP, UserIosb) == 0x48, "IRP.UserIosb");
_Static_assert(__builtin_offsetof(IRP, UserEvent) == 0x50, "IRP.UserEvent");
_Static_assert(__builtin_offsetof(IRP, Overlay) == 0x58, "IRP.Overlay");
_Static_assert(__builtin_offsetof(IRP, CancelRoutine) == 0x68, "IRP.CancelRoutine");
_Static_assert(__builtin_offsetof(IRP, UserBuffer) == 0x70, "IRP.UserBuffer");
_Static_assert(__builtin_offsetof(IRP, Tail.Overlay.DeviceQueueEntry) == 0x78, "IRP.Tail.Overlay.DeviceQueueEntry");
_Static_assert(__builtin_offsetof(IRP, Tail.Overlay.Thread) == 0x98, "IRP.Tail.Overlay.Thread");
_Static_assert(__builtin_offsetof(IRP, Tail.Overlay.AuxiliaryBuffer) == 0xA0, "IRP.Tail.Overlay.AuxiliaryBuffer");
_Static_assert(__builtin_offsetof(IRP, Tail.Overlay.ListEntry) == 0xA8, "IRP.Tail.Overlay.ListEntry");
_Static_assert(__builtin_offsetof(IRP, Tail.Overlay.CurrentStackLocation) == 0xB8,
               "IRP.Tail.Overlay.CurrentStackLocation");
_Static_assert(__builtin_offsetof(IRP, Tail.Overlay.OriginalFileObject) == 0xC0,
               "IRP.Tail.Overlay.OriginalFileObject");

/* ---- Stack-location macros (wdm.h's inline routines; any IRQL) --------------- */

static inline PIO_STACK_LOCATION IoGetCurrentIrpStackLocation(PIRP Irp)
{
    return Irp->Tail.Overlay.CurrentStackLocation;
}

/* The location the next-lower driver will see once IoCallDriver passes it on. */
static inline PIO_STACK_LOCATION IoGetNextIrpStackLocation(PIRP Irp)
{
    return Irp->Tail.Overlay.CurrentStackLocation - 1;
}

/* Make the next location current (a driver that calls its own dispatch routine). */
static inline VOID IoSetNextIrpStackLocation(PIRP Irp)
{
    Irp->CurrentLocation--;
    Irp->Tail.Overlay.CurrentStackLocation--;
}

/* Pass the IRP down with this driver's own location (no completion routine). */
static inline VOID IoSkipCurrentIrpStackLocation(PIRP Irp)
{
    Irp->CurrentLocation++;
    Irp->Tail.Overlay.CurrentStackLocation++;
}

/* Give the next-lower driver a copy of this location, without the completion
 * routine and its context (which belong to the driver above). */
static inline VOID IoCopyCurrentIrpStackLocationToNext(PIRP Irp)
{
    PIO_STACK_LOCATION current = IoGetCurrentIrpStackLocation(Irp);
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(Irp);

    memcpy(next, current, __builtin_offsetof(IO_STACK_LOCATION, CompletionRoutine));
    next->Control = 0;
}

/* Say the dispatch routine will return STATUS_PENDING (call it before
 * queueing the IRP where another processor could complete it). */
static inline VOID IoMarkIrpPending(PIRP Irp)
{
    IoGetCurrentIrpStackLocation(Irp)->Control |= SL_PENDING_RETURNED;
}

/* The IRQL is the caller's rule (<= DISPATCH_LEVEL); routines are checked
 * by IoSetCompletionRoutineEx, not by this inline one, as in NT. */
static inline VOID IoSetCompletionRoutine(PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                          PVOID Context, BOOLEAN InvokeOnSuccess,
                                          BOOLEAN InvokeOnError, BOOLEAN InvokeOnCancel)
{
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(Irp);

    next->CompletionRoutine = CompletionRoutine;
    next->Context = Context;
    next->Control = 0;
    if (InvokeOnSuccess)
        next->Control |= SL_INVOKE_ON_SUCCESS;
    if (InvokeOnError)
        next->Control |= SL_INVOKE_ON_ERROR;
    if (InvokeOnCancel)
        next->Control |= SL_INVOKE_ON_CANCEL;
}

/* Set the cancel routine and return the one before (NULL: none, or the
 * IRP is being cancelled). An atomic exchange; any IRQL <= DISPATCH_LEVEL. */
static inline PDRIVER_CANCEL IoSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL CancelRoutine)
{
    return __atomic_exchange_n(&Irp->CancelRoutine, CancelRoutine, __ATOMIC_ACQ_REL);
}

#define IoSizeOfIrp(StackSize) \
    ((USHORT)(sizeof(IRP) + (ULONG)(StackSize) * sizeof(IO_STACK_LOCATION)))

/* ---- Cancel-safe queues -------------------------------------------------------- */

struct _IO_CSQ;
typedef struct _IO_CSQ *PIO_CSQ;

#define IO_TYPE_CSQ_IRP_CONTEXT 1
#define IO_TYPE_CSQ             2
#define IO_TYPE_CSQ_EX          3

/* What IoCsqInsertIrp leaves with an IRP so IoCsqRemoveIrp can find it later. */
typedef struct _IO_CSQ_IRP_CONTEXT {
    ULONG Type;
    PIRP Irp;
    PIO_CSQ Csq;
} IO_CSQ_IRP_CONTEXT, *PIO_CSQ_IRP_CONTEXT;

typedef VOID IO_CSQ_INSERT_IRP(PIO_CSQ Csq, PIRP Irp);
typedef IO_CSQ_INSERT_IRP *PIO_CSQ_INSERT_IRP;
typedef NTSTATUS IO_CSQ_INSERT_IRP_EX(PIO_CSQ Csq, PIRP Irp, PVOID InsertContext);
typedef IO_CSQ_INSERT_IRP_EX *PIO_CSQ_INSERT_IRP_EX;
typedef VOID IO_CSQ_REMOVE_IRP(PIO_CSQ Csq, PIRP Irp);
typedef IO_CSQ_REMOVE_IRP *PIO_CSQ_REMOVE_IRP;
typedef PIRP IO_CSQ_PEEK_NEXT_IRP(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext);
typedef IO_CSQ_PEEK_NEXT_IRP *PIO_CSQ_PEEK_NEXT_IRP;
typedef VOID IO_CSQ_ACQUIRE_LOCK(PIO_CSQ Csq, PKIRQL Irql);
typedef IO_CSQ_ACQUIRE_LOCK *PIO_CSQ_ACQUIRE_LOCK;
typedef VOID IO_CSQ_RELEASE_LOCK(PIO_CSQ Csq, KIRQL Irql);
typedef IO_CSQ_RELEASE_LOCK *PIO_CSQ_RELEASE_LOCK;
typedef VOID IO_CSQ_COMPLETE_CANCELED_IRP(PIO_CSQ Csq, PIRP Irp);
typedef IO_CSQ_COMPLETE_CANCELED_IRP *PIO_CSQ_COMPLETE_CANCELED_IRP;

typedef struct _IO_CSQ {
    ULONG Type;                         /* IO_TYPE_CSQ or IO_TYPE_CSQ_EX */
    PIO_CSQ_INSERT_IRP CsqInsertIrp;    /* (an PIO_CSQ_INSERT_IRP_EX for IO_TYPE_CSQ_EX) */
    PIO_CSQ_REMOVE_IRP CsqRemoveIrp;
    PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp;
    PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock;
    PIO_CSQ_RELEASE_LOCK CsqReleaseLock;
    PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp;
    PVOID ReservePointer;
} IO_CSQ;

/* ---- Work items ------------------------------------------------------------------- */

typedef enum _WORK_QUEUE_TYPE {
    CriticalWorkQueue = 0,
    DelayedWorkQueue = 1,
    HyperCriticalWorkQueue = 2,
    MaximumWorkQueue = 7
} WORK_QUEUE_TYPE;

typedef VOID WORKER_THREAD_ROUTINE(PVOID Parameter);
typedef WORKER_THREAD_ROUTINE *PWORKER_THREAD_ROUTINE;

/* ExQueueWorkItem's caller-owned item (nonpaged; ExInitializeWorkItem fills it). */
typedef struct _WORK_QUEUE_ITEM {
    LIST_ENTRY List;
    PWORKER_THREAD_ROUTINE WorkerRoutine;
    volatile PVOID Parameter;
} WORK_QUEUE_ITEM, *PWORK_QUEUE_ITEM;

#define ExInitializeWorkItem(Item, Routine, Context) \
    do {                                             \
        (Item)->WorkerRoutine = (Routine);           \
        (Item)->Parameter = (Context);               \
        (Item)->List.Flink = NULL;                   \
    } while (0)

/* IoAllocateWorkItem's opaque item. */
typedef struct _IO_WORKITEM *PIO_WORKITEM;
typedef VOID IO_WORKITEM_ROUTINE(PDEVICE_OBJECT DeviceObject, PVOID Context);
typedef IO_WORKITEM_ROUTINE *PIO_WORKITEM_ROUTINE;

/* ==== Routines (the .c files of kernel/io) ========================================== */

/* ---- Devices (device.c, objdir.c) ---- */

/*
 * A device object with DeviceExtensionSize zeroed bytes behind it (nonpaged),
 * linked into DriverObject's list, Flags DO_DEVICE_INITIALIZING, StackSize 1.
 * A name ("\Device\..."; NULL: unnamed) goes into the I/O manager's object
 * directory: STATUS_OBJECT_NAME_COLLISION if it is taken,
 * STATUS_OBJECT_NAME_INVALID if it is not an absolute path;
 * STATUS_INSUFFICIENT_RESOURCES without memory. IRQL <= APC_LEVEL
 * (Learn: PASSIVE_LEVEL).
 */
NTSTATUS IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize,
                        PUNICODE_STRING DeviceName, DEVICE_TYPE DeviceType,
                        ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                        PDEVICE_OBJECT *DeviceObject);
/* Remove the name and unlink the object from its driver; the memory goes
 * when the last reference does (IoGetDeviceObjectPointer's). Once per
 * object. IRQL <= APC_LEVEL (Learn: PASSIVE_LEVEL). */
VOID IoDeleteDevice(PDEVICE_OBJECT DeviceObject);
/* Attach SourceDevice above the top of TargetDevice's stack; returns the
 * device it now sits on (send IRPs there), or NULL if the target is being
 * deleted. StackSize and AlignmentRequirement follow the lower device.
 * IRQL <= DISPATCH_LEVEL. */
PDEVICE_OBJECT IoAttachDeviceToDeviceStack(PDEVICE_OBJECT SourceDevice, PDEVICE_OBJECT TargetDevice);
/* Undo the attachment of whatever sits on TargetDevice. IRQL <= DISPATCH_LEVEL. */
VOID IoDetachDevice(PDEVICE_OBJECT TargetDevice);
/* The top of DeviceObject's stack, with a reference (ObDereferenceObject
 * it). IRQL <= DISPATCH_LEVEL. */
PDEVICE_OBJECT IoGetAttachedDeviceReference(PDEVICE_OBJECT DeviceObject);
PDEVICE_OBJECT IoGetAttachedDevice(PDEVICE_OBJECT DeviceObject);
/*
 * Find a named device ("\Device\Harddisk0\DR0") and return the top of its
 * stack with a reference. Mica has no file objects: *FileObject receives
 * the device object at the top of the stack, the same pointer as
 * *DeviceObject, and carries the reference: the caller drops it with
 * ObDereferenceObject(FileObject) as in NT. STATUS_OBJECT_NAME_NOT_FOUND
 * for an unknown name (a deleted device's name is gone at once),
 * STATUS_OBJECT_NAME_INVALID for a relative or malformed one; DesiredAccess is not
 * checked (no security). IRQL PASSIVE_LEVEL.
 */
NTSTATUS IoGetDeviceObjectPointer(PUNICODE_STRING ObjectName, ULONG DesiredAccess,
                                  PVOID *FileObject, PDEVICE_OBJECT *DeviceObject);
/* The FILE_ACCESS mask IoGetDeviceObjectPointer takes (not checked in Mica). */
#define FILE_READ_DATA     0x0001
#define FILE_WRITE_DATA    0x0002
#define FILE_ALL_ACCESS    0x001F01FF
typedef ULONG ACCESS_MASK;

/* ---- IRPs (irp.c, call.c, complete.c, build.c) ---- */

/* IRQL <= DISPATCH_LEVEL; NULL when nonpaged pool is short. The IRP is not
 * tied to the thread: the caller's completion routine must IoFreeIrp it. */
PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota);
/* Free an IRP from IoAllocateIrp (not its MDLs). Not an IRP: 0xC9/0x01.
 * IRQL <= DISPATCH_LEVEL. */
VOID IoFreeIrp(PIRP Irp);
/* Set up caller-allocated memory (PacketSize = IoSizeOfIrp(StackSize)) as an IRP. */
VOID IoInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize);
/* Make an IoAllocateIrp IRP new again (AllocationFlags kept), IoStatus.Status = Iostatus. */
VOID IoReuseIrp(PIRP Irp, NTSTATUS Iostatus);

/* Pass Irp to DeviceObject's driver: the next location becomes current and
 * its dispatch routine runs. No location left: NO_MORE_IRP_STACK_LOCATIONS
 * (0x35). IRQL <= DISPATCH_LEVEL. */
NTSTATUS IoCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp);

/* Pass the current IRP (its location copied) to DeviceObject's driver and
 * wait until it is completed below: TRUE, with the IRP back at the
 * caller's location and the lower drivers' IoStatus, for the caller to
 * complete; FALSE, nothing sent, when no stack location is left. IRQL <=
 * APC_LEVEL. */
BOOLEAN IoForwardIrpSynchronously(PDEVICE_OBJECT DeviceObject, PIRP Irp);
#define IofCallDriver IoCallDriver

/* Finish a request: completion routines bottom-up, then (for the IRPs the
 * I/O manager built) copy-back, IOSB, event and freeing. Twice:
 * MULTIPLE_IRP_COMPLETE_REQUESTS (0x44); with STATUS_PENDING, a cancel
 * routine still set, or above DISPATCH_LEVEL: 0xC9 (0x06, 0x07, 0x0E). */
VOID IoCompleteRequest(PIRP Irp, CCHAR PriorityBoost);
#define IofCompleteRequest IoCompleteRequest

/* The Ex form also keeps DeviceObject referenced until the routine has run.
 * STATUS_INSUFFICIENT_RESOURCES if the context cannot be allocated.
 * IRQL <= DISPATCH_LEVEL. */
NTSTATUS IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                  PIO_COMPLETION_ROUTINE CompletionRoutine, PVOID Context,
                                  BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                  BOOLEAN InvokeOnCancel);

/* IRQL <= APC_LEVEL; NULL without memory (or, for DO_DIRECT_IO, when the
 * buffer cannot be locked). MajorFunction: IRP_MJ_READ, WRITE,
 * FLUSH_BUFFERS, SHUTDOWN or PNP. The synchronous forms set Event and
 * *IoStatusBlock at completion and free the IRP themselves: never IoFreeIrp
 * them. The asynchronous one must be freed by its completion routine. */
PIRP IoBuildSynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                                  ULONG Length, PLARGE_INTEGER StartingOffset, PKEVENT Event,
                                  PIO_STATUS_BLOCK IoStatusBlock);
PIRP IoBuildAsynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                                   ULONG Length, PLARGE_INTEGER StartingOffset,
                                   PIO_STATUS_BLOCK IoStatusBlock);
PIRP IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject,
                                   PVOID InputBuffer, ULONG InputBufferLength, PVOID OutputBuffer,
                                   ULONG OutputBufferLength, BOOLEAN InternalDeviceIoControl,
                                   PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock);

/* ---- Cancel (cancel.c) ---- */

/* The global cancel spin lock. IRQL <= DISPATCH_LEVEL (raises to it). */
VOID IoAcquireCancelSpinLock(PKIRQL Irql);
VOID IoReleaseCancelSpinLock(KIRQL Irql);
/* Mark the IRP cancelled and call its cancel routine (TRUE) if one is set
 * (FALSE). IRQL <= DISPATCH_LEVEL. */
BOOLEAN IoCancelIrp(PIRP Irp);

/* ---- Cancel-safe queues (csq.c) ---- */

/* Any IRQL. STATUS_SUCCESS. */
NTSTATUS IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp,
                         PIO_CSQ_REMOVE_IRP CsqRemoveIrp, PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp,
                         PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock, PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                         PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp);
NTSTATUS IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp,
                           PIO_CSQ_REMOVE_IRP CsqRemoveIrp, PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp,
                           PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock, PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                           PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp);
/* Queue the IRP, marked pending and cancelable. IRQL <= DISPATCH_LEVEL. */
VOID IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context);
/* The Ex form returns the driver's insert status; on failure the IRP is
 * not queued and not marked pending. */
NTSTATUS IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext);
/* The next IRP (CsqPeekNextIrp's order) that is not being cancelled, or NULL. */
PIRP IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext);
/* The IRP Context was inserted with, or NULL if it was cancelled meanwhile. */
PIRP IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context);

/* ---- Device queues and StartIo (devqueue.c, startio.c) ---- */

/* Any IRQL for Initialize; the rest at DISPATCH_LEVEL (Learn). Insert
 * returns FALSE (and queues nothing) when the queue was not busy: it is
 * busy from then on. Remove returns NULL (and the queue becomes not busy)
 * when empty. */
VOID KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue);
BOOLEAN KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry);
BOOLEAN KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry,
                                 ULONG SortKey);
PKDEVICE_QUEUE_ENTRY KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue);
/* The first entry whose SortKey >= SortKey (wrapping to the first), or NULL. */
PKDEVICE_QUEUE_ENTRY KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, ULONG SortKey);
/* Take a given entry out; FALSE if it was not queued. IRQL <= DISPATCH_LEVEL. */
BOOLEAN KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry);

/* Start the IRP in the driver's StartIo now (at DISPATCH_LEVEL) if the
 * device is idle, else queue it (by *Key, or at the tail). CancelFunction:
 * the cancel routine while it waits. IRQL <= DISPATCH_LEVEL. */
VOID IoStartPacket(PDEVICE_OBJECT DeviceObject, PIRP Irp, PULONG Key, PDRIVER_CANCEL CancelFunction);
/* From the driver, once CurrentIrp is done: start the next queued IRP, or
 * leave the device idle. DISPATCH_LEVEL. */
VOID IoStartNextPacket(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable);
VOID IoStartNextPacketByKey(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable, ULONG Key);

/* ---- DPC for ISR (inline as in wdm.h) ---- */

/* Bind the device object's DPC to DpcRoutine (from AddDevice; any IRQL). */
static inline VOID IoInitializeDpcRequest(PDEVICE_OBJECT DeviceObject, PIO_DPC_ROUTINE DpcRoutine)
{
    KeInitializeDpc(&DeviceObject->Dpc, (PKDEFERRED_ROUTINE)(void *)DpcRoutine, DeviceObject);
}

/* From the ISR: run the DPC routine at DISPATCH_LEVEL with Irp and Context.
 * Requests while it is still queued collapse into one run. */
static inline VOID IoRequestDpc(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    KeInsertQueueDpc(&DeviceObject->Dpc, Irp, Context);
}

/* ---- Work items (workitem.c) ---- */

/* NULL without memory. IRQL <= DISPATCH_LEVEL. */
PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject);
/* Only when the item is not queued (from its own routine is fine). */
VOID IoFreeWorkItem(PIO_WORKITEM IoWorkItem);
/* Run WorkerRoutine(DeviceObject, Context) at PASSIVE_LEVEL in a system
 * worker thread, the device object referenced meanwhile. The item must not
 * be queued already (NT: list corruption; Mica does not check either).
 * IRQL <= DISPATCH_LEVEL. */
VOID IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine,
                     WORK_QUEUE_TYPE QueueType, PVOID Context);
/* The same for an ExInitializeWorkItem item the caller owns. */
VOID ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType);

/* ---- Built-in drivers (driver.c; Mica's own) ----
 *
 * Mica loads no driver files: a driver names its DriverEntry here and the
 * I/O manager creates its DRIVER_OBJECT ("\Driver\<Name>") and calls it at
 * phase 1 (IoInitSystem), at PASSIVE_LEVEL in the initial system thread.
 * HardwareIds lists the PnP IDs (e.g. "PCI\\VEN_8086&DEV_100E") whose
 * devices the driver's AddDevice takes; NULL for a driver that claims no
 * hardware (it creates its own devices in DriverEntry).
 */
typedef struct _IO_BUILTIN_DRIVER {
    PCSTR Name;
    PDRIVER_INITIALIZE DriverEntry;
    PCSTR const *HardwareIds;           /* NULL-terminated, or NULL */
} IO_BUILTIN_DRIVER, *PIO_BUILTIN_DRIVER;

#define IO_BUILTIN_DRIVER(Name_, DriverEntry_, HardwareIds_)                          \
    static const IO_BUILTIN_DRIVER IoBuiltinDriver_##DriverEntry_                      \
        __attribute__((used, section("io_builtin_drivers"), aligned(8))) =             \
            {Name_, DriverEntry_, HardwareIds_}

/*
 * For bus drivers (the PnP manager's part, Mica's own): a bus driver that
 * found a device creates its PDO (IoCreateDevice, unnamed) and calls this
 * at PASSIVE_LEVEL from a system thread. It finds the built-in driver whose
 * HardwareIds holds one of the PDO's HardwareIds (NULL-terminated, most
 * specific first; the first match wins), loads it if its DriverEntry has
 * not run yet, calls its AddDevice(DriverObject, Pdo), then sends
 * IRP_MJ_PNP/IRP_MN_START_DEVICE to the top of the PDO's stack with the
 * raw and translated lists in Parameters.StartDevice and waits for it.
 * The lists stay the caller's (a driver copies what it keeps). The bus
 * driver's own dispatch completes the START_DEVICE that reaches the PDO
 * (enabling decode and bus mastering there). Returns STATUS_NO_SUCH_DEVICE
 * when no driver claims the device, else AddDevice's failure or the
 * START_DEVICE IRP's final status.
 */
NTSTATUS IopAddAndStartDevice(PDEVICE_OBJECT PhysicalDeviceObject, PCSTR const *HardwareIds,
                              PCM_RESOURCE_LIST RawResources,
                              PCM_RESOURCE_LIST TranslatedResources);

/* Phase 1 (start.c): run the DriverEntry of every built-in driver not yet loaded. */
VOID IoInitSystem(VOID);


/* ---- Interrupts from resources (the `pci` helper's section: kernel/io/ioconnect.c) ----
 *
 * IoConnectInterruptEx connects a driver's ISR to the interrupts in its
 * device's translated resources, which the bus driver recorded for the
 * PDO (IopSetDeviceResources): CONNECT_LINE_BASED the line interrupt,
 * CONNECT_MESSAGE_BASED every message (falling back to the line with
 * FallBackServiceRoutine when the device has no messages),
 * CONNECT_FULLY_SPECIFIED exactly the vector given. On return Version says
 * what was connected. PASSIVE_LEVEL.
 */
#ifndef STATUS_DEVICE_CONFIGURATION_ERROR
#define STATUS_DEVICE_CONFIGURATION_ERROR ((NTSTATUS)0xC0000182L)
#endif
#ifndef STATUS_INVALID_PARAMETER_10
#define STATUS_INVALID_PARAMETER_10 ((NTSTATUS)0xC00000F8L)
#endif

#define CONNECT_FULLY_SPECIFIED       0x1
#define CONNECT_LINE_BASED            0x2
#define CONNECT_MESSAGE_BASED         0x3
#define CONNECT_FULLY_SPECIFIED_GROUP 0x4
#define CONNECT_CURRENT_VERSION       0x4

typedef enum _KINTERRUPT_POLARITY {
    InterruptPolarityUnknown,
    InterruptActiveHigh,
    InterruptActiveLow
} KINTERRUPT_POLARITY, *PKINTERRUPT_POLARITY;

/* A message ISR: MessageID indexes IO_INTERRUPT_MESSAGE_INFO.MessageInfo. */
typedef BOOLEAN KMESSAGE_SERVICE_ROUTINE(struct _KINTERRUPT *Interrupt, PVOID ServiceContext,
                                         ULONG MessageID);
typedef KMESSAGE_SERVICE_ROUTINE *PKMESSAGE_SERVICE_ROUTINE;

typedef struct _IO_INTERRUPT_MESSAGE_INFO_ENTRY {
    PHYSICAL_ADDRESS MessageAddress;
    KAFFINITY TargetProcessorSet;
    PKINTERRUPT InterruptObject;
    ULONG MessageData;
    ULONG Vector;
    KIRQL Irql;
    KINTERRUPT_MODE Mode;
    KINTERRUPT_POLARITY Polarity;
} IO_INTERRUPT_MESSAGE_INFO_ENTRY, *PIO_INTERRUPT_MESSAGE_INFO_ENTRY;

typedef struct _IO_INTERRUPT_MESSAGE_INFO {
    KIRQL UnifiedIrql;                  /* the highest of the messages' IRQLs */
    ULONG MessageCount;
    IO_INTERRUPT_MESSAGE_INFO_ENTRY MessageInfo[1];     /* MessageCount of them */
} IO_INTERRUPT_MESSAGE_INFO, *PIO_INTERRUPT_MESSAGE_INFO;

typedef struct _IO_CONNECT_INTERRUPT_FULLY_SPECIFIED_PARAMETERS {
    PDEVICE_OBJECT PhysicalDeviceObject;
    PKINTERRUPT *InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    PVOID ServiceContext;
    PKSPIN_LOCK SpinLock;
    KIRQL SynchronizeIrql;
    BOOLEAN FloatingSave;
    BOOLEAN ShareVector;
    ULONG Vector;
    KIRQL Irql;
    KINTERRUPT_MODE InterruptMode;
    KAFFINITY ProcessorEnableMask;
    USHORT Group;
} IO_CONNECT_INTERRUPT_FULLY_SPECIFIED_PARAMETERS, *PIO_CONNECT_INTERRUPT_FULLY_SPECIFIED_PARAMETERS;

typedef struct _IO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS {
    PDEVICE_OBJECT PhysicalDeviceObject;
    PKINTERRUPT *InterruptObject;
    PKSERVICE_ROUTINE ServiceRoutine;
    PVOID ServiceContext;
    PKSPIN_LOCK SpinLock;
    KIRQL SynchronizeIrql;
    BOOLEAN FloatingSave;
} IO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS, *PIO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS;

typedef struct _IO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS {
    PDEVICE_OBJECT PhysicalDeviceObject;
    union {
        PVOID *Generic;
        PIO_INTERRUPT_MESSAGE_INFO *InterruptMessageTable;
        PKINTERRUPT *InterruptObject;   /* when it fell back to the line */
    } ConnectionContext;
    PKMESSAGE_SERVICE_ROUTINE MessageServiceRoutine;
    PVOID ServiceContext;
    PKSPIN_LOCK SpinLock;
    KIRQL SynchronizeIrql;
    BOOLEAN FloatingSave;
    PKSERVICE_ROUTINE FallBackServiceRoutine;
} IO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS, *PIO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS;

typedef struct _IO_CONNECT_INTERRUPT_PARAMETERS {
    ULONG Version;                      /* in: what to connect; out: what was connected */
    union {
        IO_CONNECT_INTERRUPT_FULLY_SPECIFIED_PARAMETERS FullySpecified;
        IO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS LineBased;
        IO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS MessageBased;
    };
} IO_CONNECT_INTERRUPT_PARAMETERS, *PIO_CONNECT_INTERRUPT_PARAMETERS;

typedef struct _IO_DISCONNECT_INTERRUPT_PARAMETERS {
    ULONG Version;                      /* what IoConnectInterruptEx returned in Version */
    union {
        PVOID Generic;
        PKINTERRUPT InterruptObject;
        PIO_INTERRUPT_MESSAGE_INFO InterruptMessageTable;
    } ConnectionContext;
} IO_DISCONNECT_INTERRUPT_PARAMETERS, *PIO_DISCONNECT_INTERRUPT_PARAMETERS;

/*
 * Returns STATUS_SUCCESS, STATUS_INVALID_PARAMETER_1 (unknown Version),
 * STATUS_INVALID_PARAMETER (a missing routine or output pointer, a
 * SynchronizeIrql below the interrupt's IRQL, a processor group other than
 * 0, MESSAGE_BASED without messages nor FallBackServiceRoutine),
 * STATUS_INVALID_PARAMETER_10 (an empty ProcessorEnableMask),
 * STATUS_NOT_FOUND (the PDO has no interrupt resources),
 * STATUS_INVALID_DEVICE_REQUEST (LINE_BASED for a device given messages),
 * STATUS_INSUFFICIENT_RESOURCES, or IoConnectInterrupt's failure.
 */
NTSTATUS IoConnectInterruptEx(PIO_CONNECT_INTERRUPT_PARAMETERS Parameters);
VOID IoDisconnectInterruptEx(PIO_DISCONNECT_INTERRUPT_PARAMETERS Parameters);

/*
 * For bus drivers (the PnP manager's part, Mica's own): record the raw and
 * translated resources assigned to PhysicalDeviceObject, which
 * IoConnectInterruptEx connects from; NULL lists forget the device. The
 * lists stay the caller's and must live as long as the record. PASSIVE_LEVEL.
 * STATUS_INSUFFICIENT_RESOURCES when the table is full.
 */
NTSTATUS IopSetDeviceResources(PDEVICE_OBJECT PhysicalDeviceObject, PCM_RESOURCE_LIST Raw,
                               PCM_RESOURCE_LIST Translated);

/* ---- MDLs (kernel/io/iomdl.c; the Mm MDL routines are in mm/mm.h) ------------
 * IRQL <= DISPATCH_LEVEL. */
/* An MDL for Length bytes at VirtualAddress (only initialized: build or
 * lock it next); NULL if pool runs out or Length is past 4 GiB - PAGE_SIZE.
 * With Irp, the MDL becomes Irp->MdlAddress, or with SecondaryBuffer the
 * last MDL of its chain (SecondaryBuffer must be FALSE without an Irp). */
PMDL IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
                   BOOLEAN ChargeQuota, PIRP Irp);
/* Frees this MDL only (not the chain); a partial MDL's own mapping goes
 * with it. Pages still locked, or a mapping that MmUnlockPages /
 * MmUnmapLockedPages must release: DRIVER_VERIFIER_DETECTED_VIOLATION
 * (0xB8, Mdl, MdlFlags, 0). */
VOID IoFreeMdl(PMDL Mdl);
/* TargetMdl describes [VirtualAddress, +Length) of SourceMdl's pages
 * (locked, built or allocated); Length 0 means to the end of the source.
 * It shares the source's system mapping if there is one. */
VOID IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress, ULONG Length);

#endif

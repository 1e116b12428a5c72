/*
 * ntdddisk.h - what a disk driver answers and how (the `ahci` helper's
 * section of the public API): the status values of storage errors, the
 * disk and storage control codes and their x64 structure layouts, as the
 * WDK's ntdddisk.h and ntddstor.h define them.
 */
#ifndef MICA_IO_NTDDDISK_H
#define MICA_IO_NTDDDISK_H

#include "io.h"

#define STATUS_INFO_LENGTH_MISMATCH   ((NTSTATUS)0xC0000004L)
#define STATUS_DEVICE_DATA_ERROR      ((NTSTATUS)0xC000009CL)
#define STATUS_MEDIA_WRITE_PROTECTED  ((NTSTATUS)0xC00000A2L)
#define STATUS_IO_TIMEOUT             ((NTSTATUS)0xC00000B5L)
#define STATUS_IO_DEVICE_ERROR        ((NTSTATUS)0xC0000185L)

#define IOCTL_DISK_BASE    FILE_DEVICE_DISK
#define IOCTL_STORAGE_BASE FILE_DEVICE_MASS_STORAGE
#define IOCTL_DISK_GET_DRIVE_GEOMETRY_EX \
    CTL_CODE(IOCTL_DISK_BASE, 0x0028, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_STORAGE_QUERY_PROPERTY \
    CTL_CODE(IOCTL_STORAGE_BASE, 0x0500, METHOD_BUFFERED, FILE_ANY_ACCESS)
_Static_assert(IOCTL_DISK_GET_DRIVE_GEOMETRY_EX == 0x000700A0, "NT's code");
_Static_assert(IOCTL_STORAGE_QUERY_PROPERTY == 0x002D1400, "NT's code");

typedef enum _MEDIA_TYPE { Unknown = 0, RemovableMedia = 11, FixedMedia = 12 } MEDIA_TYPE;

typedef struct _DISK_GEOMETRY {
    LARGE_INTEGER Cylinders;
    MEDIA_TYPE MediaType;
    ULONG TracksPerCylinder;
    ULONG SectorsPerTrack;
    ULONG BytesPerSector;
} DISK_GEOMETRY, *PDISK_GEOMETRY;
_Static_assert(sizeof(DISK_GEOMETRY) == 0x18, "x64 layout");

/* The driver fills Geometry and DiskSize; Data (partition and detection
 * information in NT) is left out, so Information is FIELD_OFFSET(Data). */
typedef struct _DISK_GEOMETRY_EX {
    DISK_GEOMETRY Geometry;
    LARGE_INTEGER DiskSize;
    UCHAR Data[1];
} DISK_GEOMETRY_EX, *PDISK_GEOMETRY_EX;
_Static_assert(__builtin_offsetof(DISK_GEOMETRY_EX, DiskSize) == 0x18, "x64 layout");
_Static_assert(__builtin_offsetof(DISK_GEOMETRY_EX, Data) == 0x20, "x64 layout");

typedef enum _STORAGE_PROPERTY_ID { StorageDeviceProperty = 0, StorageAdapterProperty = 1 } STORAGE_PROPERTY_ID;
typedef enum _STORAGE_QUERY_TYPE { PropertyStandardQuery = 0, PropertyExistsQuery = 1 } STORAGE_QUERY_TYPE;
typedef enum _STORAGE_BUS_TYPE { BusTypeUnknown = 0, BusTypeAta = 3, BusTypeSata = 0x0B } STORAGE_BUS_TYPE;

typedef struct _STORAGE_PROPERTY_QUERY {
    STORAGE_PROPERTY_ID PropertyId;
    STORAGE_QUERY_TYPE QueryType;
    UCHAR AdditionalParameters[1];
} STORAGE_PROPERTY_QUERY, *PSTORAGE_PROPERTY_QUERY;
_Static_assert(sizeof(STORAGE_PROPERTY_QUERY) == 12, "x64 layout");

typedef struct _STORAGE_DESCRIPTOR_HEADER {
    ULONG Version;
    ULONG Size;
} STORAGE_DESCRIPTOR_HEADER, *PSTORAGE_DESCRIPTOR_HEADER;

/* Offsets are from the start of the descriptor to NUL-terminated ASCII;
 * 0 when the device has no such string. */
typedef struct _STORAGE_DEVICE_DESCRIPTOR {
    ULONG Version;                      /* sizeof(STORAGE_DEVICE_DESCRIPTOR) */
    ULONG Size;                         /* the whole descriptor with its strings */
    UCHAR DeviceType;                   /* SCSI peripheral type: 0 direct access */
    UCHAR DeviceTypeModifier;
    BOOLEAN RemovableMedia;
    BOOLEAN CommandQueueing;
    ULONG VendorIdOffset;
    ULONG ProductIdOffset;
    ULONG ProductRevisionOffset;
    ULONG SerialNumberOffset;
    STORAGE_BUS_TYPE BusType;
    ULONG RawPropertiesLength;
    UCHAR RawDeviceProperties[1];
} STORAGE_DEVICE_DESCRIPTOR, *PSTORAGE_DEVICE_DESCRIPTOR;
_Static_assert(__builtin_offsetof(STORAGE_DEVICE_DESCRIPTOR, VendorIdOffset) == 12, "x64 layout");
_Static_assert(__builtin_offsetof(STORAGE_DEVICE_DESCRIPTOR, BusType) == 28, "x64 layout");
_Static_assert(sizeof(STORAGE_DEVICE_DESCRIPTOR) == 40, "x64 layout");

#endif

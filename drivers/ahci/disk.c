/*
 * disk.c - a disk device per ATA device an HBA's port has:
 * \Device\Harddisk<N>\DR<N>, DO_DIRECT_IO (every read and write arrives
 * with Irp->MdlAddress, the caller's buffer locked), and its dispatch:
 *
 *   READ/WRITE     checked (sector multiples, inside the disk, the buffer
 *                  aligned as AlignmentRequirement says: PRD addresses
 *                  must be even), then queued on the port (port.c);
 *                  a write to a disk not marked for Mica fails with
 *                  STATUS_MEDIA_WRITE_PROTECTED (reads always work);
 *   FLUSH_BUFFERS  FLUSH CACHE EXT;
 *   DEVICE_CONTROL IOCTL_DISK_GET_DRIVE_GEOMETRY_EX and
 *                  IOCTL_STORAGE_QUERY_PROPERTY (StorageDeviceProperty).
 *
 * The mark (ahci.h, README "Disks"): a disk is writable when LBA 1 carries
 * AHCI_MARK after its first 8 bytes, or the boot option diskwrite=N[,M..]
 * lists its number. The Makefile marks the test images; a student's own
 * disk never carries it, so Mica cannot damage it by mistake.
 */
#include "ahci.h"

/* AhciDisks' free numbers: NT reuses a removed disk's number. */
static KSPIN_LOCK AhciDiskLock;

static LONG ClaimDiskNumber(PAHCI_PORT Port)
{
    LONG n = -1;
    KIRQL irql;

    KeAcquireSpinLock(&AhciDiskLock, &irql);
    for (LONG i = 0; i < AHCI_MAX_DISKS && n < 0; i++)
        if (AhciDisks[i] == NULL)
            n = i;
    if (n >= 0) {
        AhciDisks[n] = Port;
        if (n >= AhciDiskCount)
            AhciDiskCount = n + 1;
    }
    KeReleaseSpinLock(&AhciDiskLock, irql);
    return n;
}

static NTSTATUS Complete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* diskwrite=N[,M...]: the disks the user allows writes to. */
static BOOLEAN NamedWritable(ULONG Disk)
{
    char value[64];
    ULONG n = 0;
    BOOLEAN digits = FALSE;

    if (!KeQueryBootOption("diskwrite", value, sizeof(value)))
        return FALSE;
    for (char *p = value;; p++) {
        if (*p >= '0' && *p <= '9') {
            n = n * 10 + (ULONG)(*p - '0');
            digits = TRUE;
            continue;
        }
        if (digits && n == Disk)
            return TRUE;
        if (*p == 0)
            return FALSE;
        n = 0;
        digits = FALSE;
    }
}

NTSTATUS AhciCreateDisk(PAHCI_HBA Hba, ULONG Number)
{
    AHCI_PORT probe;
    PAHCI_PORT port;
    PDEVICE_OBJECT disk;
    char ansi[48];
    ANSI_STRING a;
    UNICODE_STRING name;
    ULONG n;
    NTSTATUS status;

    /* Start the port into a scratch record first: no device object for an
     * empty port or a CD-ROM. */
    RtlZeroMemory(&probe, sizeof(probe));
    status = AhciPortStart(Hba, Number, &probe);
    if (NT_SUCCESS(status))
        status = AhciPortIdentify(&probe);
    if (NT_SUCCESS(status))
        status = AhciPortReadPolled(&probe, AHCI_MARK_LBA);
    if (!NT_SUCCESS(status)) {
        if (status != STATUS_NO_SUCH_DEVICE)
            DbgPrint("ahci: port %u: not used, status %08x\n", Number, (ULONG)status);
        if (probe.Regs != NULL)
            AhciPortStop(&probe);
        if (probe.Common != NULL)
            Hba->Dma->DmaOperations->FreeCommonBuffer(Hba->Dma, probe.CommonBytes, probe.CommonLogical,
                                                     probe.Common, FALSE);
        return status;
    }
    /* A number, then the device: on failure the port goes back. */
    status = STATUS_INSUFFICIENT_RESOURCES;
    n = (ULONG)ClaimDiskNumber(&probe);
    if ((LONG)n >= 0) {
        RtlSnprintf(ansi, sizeof(ansi), AHCI_DISK_NAME_FORMAT, n, n);
        RtlInitAnsiString(&a, ansi);
        status = RtlAnsiStringToUnicodeString(&name, &a, TRUE);
        if (NT_SUCCESS(status)) {
            status = IoCreateDevice(Hba->Self->DriverObject, sizeof(AHCI_PORT), &name, FILE_DEVICE_DISK, 0,
                                    FALSE, &disk);
            RtlFreeUnicodeString(&name);
        }
        if (!NT_SUCCESS(status))
            AhciDisks[n] = NULL;
    }
    if (!NT_SUCCESS(status)) {
        AhciPortStop(&probe);
        Hba->Dma->DmaOperations->FreeCommonBuffer(Hba->Dma, probe.CommonBytes, probe.CommonLogical,
                                                 probe.Common, FALSE);
        return status;
    }
    port = disk->DeviceExtension;
    *port = probe;
    port->IsDisk = TRUE;
    port->Self = disk;
    port->DiskNumber = n;
    InitializeListHead(&port->Queue);   /* the scratch record's head pointed at itself */
    for (ULONG s = 0; s < AHCI_SLOTS; s++)
        port->Slots[s].Port = port;
    port->Marked = RtlCompareMemory(port->Scratch + AHCI_MARK_OFFSET, AHCI_MARK, AHCI_MARK_BYTES) == AHCI_MARK_BYTES;
    port->Writable = port->Marked || NamedWritable(n);
    disk->Flags |= DO_DIRECT_IO;
    disk->AlignmentRequirement = FILE_WORD_ALIGNMENT;       /* PRD addresses are even */
    disk->Flags &= ~DO_DEVICE_INITIALIZING;
    AhciDisks[n] = port;                /* was the scratch record: the number's claim */
    Hba->Ports[Number] = port;
    AhciWrite(port->Regs, PX_IS, ~0u);
    AhciWrite(port->Regs, PX_IE, PX_IE_WANTED);
    AhciPortStartWatchdog(port);
    DbgPrint("ahci: disk %u (port %u): \"%s\" serial \"%s\" fw \"%s\", %llu MiB (%llu x %u B, physical %u B), "
             "%s, NCQ %s (depth %u), write cache %s; %s\n",
             n, Number, port->Model, port->Serial, port->Firmware,
             port->Sectors * port->SectorSize >> 20, port->Sectors, port->SectorSize, port->PhysicalSectorSize,
             port->Lba48 ? "LBA48" : "LBA28", port->Ncq ? "on" : "off", port->QueueDepth,
             port->WriteCacheEnabled ? "on" : port->WriteCacheSupported ? "off" : "none",
             port->Marked ? "marked for Mica: writable" :
             port->Writable ? "not marked, writable (diskwrite=)" : "not marked: read-only");
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL, removal: the port idle and released (port.c). */
VOID AhciDeleteDisk(PAHCI_PORT Port)
{
    Port->Hba->Ports[Port->Number] = NULL;
    AhciDisks[Port->DiskNumber] = NULL;
    IoDeleteDevice(Port->Self);
}

static NTSTATUS ReadWrite(PAHCI_PORT Port, PIRP Irp, PIO_STACK_LOCATION Stack)
{
    ULONG length = Stack->Parameters.Read.Length;
    LONGLONG offset = Stack->Parameters.Read.ByteOffset.QuadPart;
    ULONG64 size = Port->Sectors * Port->SectorSize;

    if (offset < 0 || (ULONG64)offset % Port->SectorSize != 0 || length % Port->SectorSize != 0 ||
        (ULONG64)offset > size || length > size - (ULONG64)offset)
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    if (Port->GoneStatus != 0)          /* removed (read without the lock: AhciPortQueue checks again) */
        return Complete(Irp, Port->GoneStatus, 0);
    if (Stack->MajorFunction == IRP_MJ_WRITE && !Port->Writable)
        return Complete(Irp, STATUS_MEDIA_WRITE_PROTECTED, 0);
    if (length == 0)
        return Complete(Irp, STATUS_SUCCESS, 0);
    if (Irp->MdlAddress == NULL || MmGetMdlByteCount(Irp->MdlAddress) < length ||
        ((ULONG_PTR)MmGetMdlVirtualAddress(Irp->MdlAddress) & Port->Self->AlignmentRequirement) != 0)
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    IoMarkIrpPending(Irp);
    AhciPortQueue(Port, Irp);
    return STATUS_PENDING;
}

/* NT's answer for a disk without a partition table: a made-up CHS shape
 * (255 heads, 63 sectors) and the exact size. */
static NTSTATUS Geometry(PAHCI_PORT Port, PIRP Irp, ULONG OutLength)
{
    PDISK_GEOMETRY_EX g = Irp->AssociatedIrp.SystemBuffer;
    ULONG64 perCylinder = 255ULL * 63;

    if (OutLength < FIELD_OFFSET(DISK_GEOMETRY_EX, Data))
        return Complete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    RtlZeroMemory(g, FIELD_OFFSET(DISK_GEOMETRY_EX, Data));
    g->Geometry.MediaType = FixedMedia;
    g->Geometry.TracksPerCylinder = 255;
    g->Geometry.SectorsPerTrack = 63;
    g->Geometry.BytesPerSector = Port->SectorSize;
    g->Geometry.Cylinders.QuadPart = (LONGLONG)(Port->Sectors / perCylinder);
    g->DiskSize.QuadPart = (LONGLONG)(Port->Sectors * Port->SectorSize);
    return Complete(Irp, STATUS_SUCCESS, FIELD_OFFSET(DISK_GEOMETRY_EX, Data));
}

/* StorageDeviceProperty: the descriptor, then its strings; a short buffer
 * gets what fits (the header's Size tells the caller what to ask for). */
static NTSTATUS QueryProperty(PAHCI_PORT Port, PIRP Irp, ULONG InLength, ULONG OutLength)
{
    PSTORAGE_PROPERTY_QUERY q = Irp->AssociatedIrp.SystemBuffer;
    UCHAR buffer[sizeof(STORAGE_DEVICE_DESCRIPTOR) + 41 + 9 + 21];
    PSTORAGE_DEVICE_DESCRIPTOR d = (PSTORAGE_DEVICE_DESCRIPTOR)buffer;
    ULONG at = sizeof(STORAGE_DEVICE_DESCRIPTOR), copy;
    const char *strings[3] = {Port->Model, Port->Firmware, Port->Serial};
    ULONG *offsets[3] = {&d->ProductIdOffset, &d->ProductRevisionOffset, &d->SerialNumberOffset};

    if (InLength < FIELD_OFFSET(STORAGE_PROPERTY_QUERY, AdditionalParameters))
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    if (q->PropertyId != StorageDeviceProperty)
        return Complete(Irp, STATUS_NOT_SUPPORTED, 0);
    if (q->QueryType == PropertyExistsQuery)
        return Complete(Irp, STATUS_SUCCESS, 0);
    if (q->QueryType != PropertyStandardQuery)
        return Complete(Irp, STATUS_INVALID_PARAMETER, 0);
    if (OutLength < sizeof(STORAGE_DESCRIPTOR_HEADER))
        return Complete(Irp, STATUS_INFO_LENGTH_MISMATCH, 0);
    RtlZeroMemory(buffer, sizeof(buffer));
    d->Version = sizeof(STORAGE_DEVICE_DESCRIPTOR);
    d->DeviceType = 0;                  /* direct-access block device */
    d->CommandQueueing = Port->Ncq;
    d->BusType = BusTypeSata;
    for (ULONG i = 0; i < 3; i++) {
        ULONG len = (ULONG)strlen(strings[i]) + 1;
        *offsets[i] = at;
        RtlCopyMemory(buffer + at, strings[i], len);
        at += len;
    }
    d->Size = at;
    copy = OutLength < at ? OutLength : at;
    RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, buffer, copy);
    return Complete(Irp, STATUS_SUCCESS, copy);
}

NTSTATUS AhciDiskDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PAHCI_PORT port = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
        return Complete(Irp, STATUS_SUCCESS, 0);
    case IRP_MJ_READ:
    case IRP_MJ_WRITE:
        return ReadWrite(port, Irp, stack);
    case IRP_MJ_FLUSH_BUFFERS:
        if (!port->WriteCacheEnabled)
            return Complete(Irp, STATUS_SUCCESS, 0);
        IoMarkIrpPending(Irp);
        AhciPortQueue(port, Irp);
        return STATUS_PENDING;
    case IRP_MJ_DEVICE_CONTROL:
        switch (stack->Parameters.DeviceIoControl.IoControlCode) {
        case IOCTL_DISK_GET_DRIVE_GEOMETRY_EX:
            return Geometry(port, Irp, stack->Parameters.DeviceIoControl.OutputBufferLength);
        case IOCTL_STORAGE_QUERY_PROPERTY:
            return QueryProperty(port, Irp, stack->Parameters.DeviceIoControl.InputBufferLength,
                                 stack->Parameters.DeviceIoControl.OutputBufferLength);
        }
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    default:
        return Complete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

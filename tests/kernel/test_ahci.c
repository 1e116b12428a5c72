/*
 * test_ahci.c - the AHCI driver (drivers/ahci) through its disk devices,
 * as a file system or the pager would use them: IRPs built by the I/O
 * manager (IoBuildSynchronousFsdRequest locks the caller's buffer into an
 * MDL, the disk being DO_DIRECT_IO) or by hand around an MDL of pages.
 *
 * Every test boot has two disks (tests/runner.py: -device ahci on pc, the
 * built-in ICH9 HBA on q35): an 8 MiB image marked for Mica and a 2 MiB
 * unmarked one, both tagged by tests/mkdisk.py (each 512-byte sector
 * starts with its LBA, little-endian), so every sector read is checked.
 * After the boot the runner reads the images: the marked one must hold
 * exactly what ahci.writes_read_back_and_reach_the_disk wrote (and its
 * tags elsewhere), the unmarked one must be unchanged.
 */
#include "../../drivers/ahci/ahci.h"
#include "test_io.h"

#define KTA_TAG          'tAhA'
#define KTA_MARKED_MIB   8              /* tests/runner.py's images */
#define KTA_UNMARKED_MIB 2
#define KTA_SECTOR       512
#define KTA_WRITE_LBA    8192           /* the runner checks [8192, 8192 + 64) */
#define KTA_WRITE_SECTORS 64
#define KTA_WRITE_MAGIC  0x5449525741434D49ULL  /* "IMCAWRIT": the runner's pattern */

static PAHCI_PORT KtaDisk(ULONG Mib)
{
    for (LONG i = 0; i < AhciDiskCount && i < AHCI_MAX_DISKS; i++)
        if (AhciDisks[i] != NULL && AhciDisks[i]->Sectors * AhciDisks[i]->SectorSize == (ULONG64)Mib << 20)
            return AhciDisks[i];
    return NULL;
}

/* Sectors [Lba, Lba + Count) of a tagged image, checked; the number of bad ones. */
static ULONG KtaBadTags(const UCHAR *Buffer, ULONG64 Lba, ULONG Count)
{
    ULONG bad = 0;

    for (ULONG i = 0; i < Count; i++) {
        ULONG64 tag;
        RtlCopyMemory(&tag, Buffer + (SIZE_T)i * KTA_SECTOR, sizeof(tag));
        if (tag != Lba + i) {
            if (bad == 0)
                KtestPrint("# sector %llu reads tag %llx\n", Lba + i, tag);
            bad++;
        }
    }
    return bad;
}

static NTSTATUS KtaRead(PAHCI_PORT Disk, PVOID Buffer, ULONG64 Lba, ULONG Sectors)
{
    ULONG_PTR info = 0;
    NTSTATUS status = IotestTransfer(Disk->Self, IRP_MJ_READ, Buffer, Sectors * KTA_SECTOR,
                                     (LONGLONG)(Lba * KTA_SECTOR), &info);

    if (NT_SUCCESS(status) && info != Sectors * KTA_SECTOR)
        return STATUS_UNSUCCESSFUL;
    return status;
}

/* Read and check: a buffer pre-filled with garbage, so a sector the
 * device never wrote is caught. */
static ULONG KtaReadChecked(PAHCI_PORT Disk, PUCHAR Buffer, ULONG64 Lba, ULONG Sectors)
{
    NTSTATUS status;

    RtlFillMemory(Buffer, (SIZE_T)Sectors * KTA_SECTOR, 0xEE);
    status = KtaRead(Disk, Buffer, Lba, Sectors);
    if (!NT_SUCCESS(status)) {
        KtestPrint("# read of %u sectors at %llu: %08x\n", Sectors, Lba, (ULONG)status);
        return Sectors;
    }
    return KtaBadTags(Buffer, Lba, Sectors);
}

KTEST(ahci, disks_identified_and_marked)
{
    PAHCI_PORT marked = KtaDisk(KTA_MARKED_MIB), unmarked = KtaDisk(KTA_UNMARKED_MIB);
    PDEVICE_OBJECT opened;

    KASSERT_TRUE(marked != NULL);
    KASSERT_TRUE(unmarked != NULL);
    KEXPECT_EQ(strcmp(marked->Model, "QEMU HARDDISK"), 0);
    KEXPECT_EQ(marked->SectorSize, 512);
    KEXPECT_TRUE(marked->Lba48);
    KEXPECT_TRUE(marked->Marked);
    KEXPECT_TRUE(marked->Writable);
    KEXPECT_FALSE(unmarked->Marked);
    KEXPECT_FALSE(unmarked->Writable);
    KEXPECT_TRUE(marked->Ncq);          /* QEMU: CAP.SNCQ and IDENTIFY word 76 bit 8 */
    KEXPECT_EQ(marked->QueueDepth, 32);
    KEXPECT_TRUE(marked->Self->Flags & DO_DIRECT_IO);
    KEXPECT_EQ(marked->Self->AlignmentRequirement, FILE_WORD_ALIGNMENT);
    opened = IotestOpen(u"\\Device\\Harddisk0\\DR0");
    KEXPECT_TRUE(opened != NULL);
    if (opened != NULL)
        ObDereferenceObject(opened);    /* a device object held for ever is never freed */
}

/* Every size from 1 to 17 sectors and some large ones (split into
 * several commands), at odd LBAs, into a buffer at an odd (even-byte)
 * offset in nonpaged pool, so pages are cut at every place. */
KTEST(ahci, reads_every_size_and_offset_from_nonpaged_pool)
{
    static const ULONG sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                                  31, 64, 127, 255, 256, 1023, 1024, 1025, 2047, 4096, 8191};
    static const ULONG shifts[] = {0, 2, 510, 4094};
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    ULONG bytes = 8192 * KTA_SECTOR + PAGE_SIZE;
    PUCHAR pool;
    ULONG bad = 0, n = 0;

    KASSERT_TRUE(disk != NULL);
    pool = ExAllocatePoolWithTag(NonPagedPoolNx, bytes, KTA_TAG);
    KASSERT_TRUE(pool != NULL);
    for (ULONG i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ULONG64 lbas[3] = {0, 7 + i * 13, disk->Sectors - sizes[i]};
        for (ULONG j = 0; j < 3; j++, n++)
            bad += KtaReadChecked(disk, pool + shifts[n % 4], lbas[j], sizes[i]);
    }
    KEXPECT_EQ(bad, 0);
    ExFreePoolWithTag(pool, KTA_TAG);
}

KTEST(ahci, reads_into_paged_pool_locked_by_the_io_manager)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    PUCHAR pool;

    KASSERT_TRUE(disk != NULL);
    pool = ExAllocatePoolWithTag(PagedPool, 300 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(pool != NULL);
    KEXPECT_EQ(KtaReadChecked(disk, pool, 1000, 300), 0);
    KEXPECT_EQ(KtaReadChecked(disk, pool + 6, 33, 17), 0);
    ExFreePoolWithTag(pool, KTA_TAG);
}

KTEST(ahci, reads_into_contiguous_memory)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    PHYSICAL_ADDRESS highest = {.QuadPart = -1};
    PUCHAR buffer;

    KASSERT_TRUE(disk != NULL);
    buffer = MmAllocateContiguousMemory(256 * 1024, highest);
    KASSERT_TRUE(buffer != NULL);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 4000, 512), 0);
    MmFreeContiguousMemory(buffer);
}

static NTSTATUS KtaSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* An IRP around the caller's MDL, as the pager sends it; the final status. */
static NTSTATUS KtaMdlTransfer(PAHCI_PORT Disk, ULONG Major, PMDL Mdl, ULONG64 Lba)
{
    PIRP irp = IoAllocateIrp(Disk->Self->StackSize, FALSE);
    PIO_STACK_LOCATION next;
    NTSTATUS status;
    KEVENT event;

    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp->MdlAddress = Mdl;
    next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = (UCHAR)Major;
    next->Parameters.Read.Length = MmGetMdlByteCount(Mdl);
    next->Parameters.Read.ByteOffset.QuadPart = (LONGLONG)(Lba * KTA_SECTOR);
    IoSetCompletionRoutine(irp, KtaSignal, &event, TRUE, TRUE, TRUE);
    IoCallDriver(Disk->Self, irp);
    KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = irp->IoStatus.Status;
    IoFreeIrp(irp);
    return status;
}

/* Pages from MmAllocatePagesForMdl, above 4 GiB when the machine has RAM
 * there (bios-6g): the HBA is a 64-bit master, so they go to it as they are. */
KTEST(ahci, reads_into_pages_for_mdl_above_4g_when_there)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    PHYSICAL_ADDRESS low = {.QuadPart = 0x100000000LL}, high = {.QuadPart = -1}, skip = {.QuadPart = 0};
    PMDL mdl;
    PUCHAR va;
    BOOLEAN above = TRUE;

    KASSERT_TRUE(disk != NULL);
    mdl = MmAllocatePagesForMdl(low, high, skip, 128 * 1024);
    if (mdl == NULL || MmGetMdlByteCount(mdl) != 128 * 1024) {
        if (mdl != NULL) {
            MmFreePagesFromMdl(mdl);
            ExFreePool(mdl);
        }
        above = FALSE;
        low.QuadPart = 0;
        mdl = MmAllocatePagesForMdl(low, high, skip, 128 * 1024);
    }
    KASSERT_TRUE(mdl != NULL);
    KtestPrint("# pages %s 4 GiB (first PFN %llx)\n", above ? "above" : "below",
               (ULONG64)MmGetMdlPfnArray(mdl)[0]);
    va = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    KASSERT_TRUE(va != NULL);
    RtlFillMemory(va, 128 * 1024, 0xEE);
    KEXPECT_EQ(KtaMdlTransfer(disk, IRP_MJ_READ, mdl, 777), STATUS_SUCCESS);
    KEXPECT_EQ(KtaBadTags(va, 777, 256), 0);
    MmUnmapLockedPages(va, mdl);
    MmFreePagesFromMdl(mdl);
    ExFreePool(mdl);
}

/* Many requests at once: NCQ keeps several commands in the device. */
#define KTA_FLIGHT 64
typedef struct _KTA_FLIGHT_STATE KTA_FLIGHT_STATE;
/* A request's context: Irp->Tail.Overlay.DriverContext belongs to the
 * driver while the IRP is there, so the caller keeps its own. */
typedef struct {
    KTA_FLIGHT_STATE *State;
    ULONG Index;
} KTA_ONE;
struct _KTA_FLIGHT_STATE {
    KEVENT Done;
    volatile LONG Left;
    NTSTATUS Status[KTA_FLIGHT];
    KTA_ONE One[KTA_FLIGHT];
};

static NTSTATUS KtaOneDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    KTA_FLIGHT_STATE *f = ((KTA_ONE *)Context)->State;
    ULONG i = ((KTA_ONE *)Context)->Index;

    UNREFERENCED_PARAMETER(DeviceObject);
    f->Status[i] = Irp->IoStatus.Status;
    MmUnlockPages(Irp->MdlAddress);     /* what IoBuildAsynchronousFsdRequest locked */
    IoFreeMdl(Irp->MdlAddress);
    Irp->MdlAddress = NULL;
    IoFreeIrp(Irp);
    if (__atomic_sub_fetch(&f->Left, 1, __ATOMIC_ACQ_REL) == 0)
        KeSetEvent(&f->Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

KTEST(ahci, many_reads_in_flight)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    static KTA_FLIGHT_STATE f;
    ULONG64 seed = 0x5EED, lbas[KTA_FLIGHT];
    PIRP irps[KTA_FLIGHT];
    PUCHAR pool;
    ULONG bad = 0, failed = 0;
    KIRQL irql;

    KASSERT_TRUE(disk != NULL);
    pool = ExAllocatePoolWithTag(NonPagedPoolNx, KTA_FLIGHT * 4096, KTA_TAG);
    KASSERT_TRUE(pool != NULL);
    RtlFillMemory(pool, KTA_FLIGHT * 4096, 0xEE);
    KeInitializeEvent(&f.Done, NotificationEvent, FALSE);
    f.Left = KTA_FLIGHT;
    for (ULONG i = 0; i < KTA_FLIGHT; i++) {
        IO_STATUS_BLOCK iosb;
        LARGE_INTEGER offset;
        PIRP irp;

        lbas[i] = KtestRandomBelow(&seed, disk->Sectors - 8);
        offset.QuadPart = (LONGLONG)(lbas[i] * KTA_SECTOR);
        irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, disk->Self, pool + i * 4096, 4096, &offset, &iosb);
        KASSERT_TRUE(irp != NULL);
        f.One[i].State = &f;
        f.One[i].Index = i;
        IoSetCompletionRoutine(irp, KtaOneDone, &f.One[i], TRUE, TRUE, TRUE);
        irps[i] = irp;
    }
    /* All sent at DISPATCH_LEVEL, so that no completion DPC runs on this
     * processor between two of them: on a loaded host a vCPU that sends
     * one at a time may see each finish before the next goes. */
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    for (ULONG i = 0; i < KTA_FLIGHT; i++)
        IoCallDriver(disk->Self, irps[i]);
    KeLowerIrql(irql);
    KeWaitForSingleObject(&f.Done, Executive, KernelMode, FALSE, NULL);
    for (ULONG i = 0; i < KTA_FLIGHT; i++) {
        failed += !NT_SUCCESS(f.Status[i]);
        bad += KtaBadTags(pool + i * 4096, lbas[i], 8);
    }
    KEXPECT_EQ(failed, 0);
    KEXPECT_EQ(bad, 0);
    KtestPrint("# most commands in flight: %u\n", disk->MaxInFlight);
    KEXPECT_GT(disk->MaxInFlight, 1);
    ExFreePoolWithTag(pool, KTA_TAG);
}

/* The runner's pattern (tests/runner.py check_ahci_disks): tag, magic, then (LBA + i) bytes. */
static VOID KtaPattern(PUCHAR Sector, ULONG64 Lba)
{
    ULONG64 magic = KTA_WRITE_MAGIC;

    RtlCopyMemory(Sector, &Lba, 8);
    RtlCopyMemory(Sector + 8, &magic, 8);
    for (ULONG i = 16; i < KTA_SECTOR; i++)
        Sector[i] = (UCHAR)(Lba + i);
}

KTEST(ahci, writes_read_back_and_reach_the_disk)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    ULONG bytes = KTA_WRITE_SECTORS * KTA_SECTOR;
    PUCHAR out, in;
    ULONG_PTR info = 0;

    KASSERT_TRUE(disk != NULL);
    out = ExAllocatePoolWithTag(NonPagedPoolNx, bytes + 2, KTA_TAG);
    in = ExAllocatePoolWithTag(PagedPool, bytes, KTA_TAG);
    KASSERT_TRUE(out != NULL && in != NULL);
    for (ULONG i = 0; i < KTA_WRITE_SECTORS; i++)
        KtaPattern(out + 2 + i * KTA_SECTOR, KTA_WRITE_LBA + i);
    /* Three writes of different sizes, one from an odd page offset. */
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_WRITE, out + 2, 5 * KTA_SECTOR,
                              KTA_WRITE_LBA * KTA_SECTOR, &info), STATUS_SUCCESS);
    KEXPECT_EQ(info, 5 * KTA_SECTOR);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_WRITE, out + 2 + 5 * KTA_SECTOR, 40 * KTA_SECTOR,
                              (KTA_WRITE_LBA + 5) * KTA_SECTOR, NULL), STATUS_SUCCESS);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_WRITE, out + 2 + 45 * KTA_SECTOR, 19 * KTA_SECTOR,
                              (KTA_WRITE_LBA + 45) * KTA_SECTOR, NULL), STATUS_SUCCESS);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_FLUSH_BUFFERS, NULL, 0, 0, NULL), STATUS_SUCCESS);
    RtlFillMemory(in, bytes, 0xEE);
    KEXPECT_EQ(KtaRead(disk, in, KTA_WRITE_LBA, KTA_WRITE_SECTORS), STATUS_SUCCESS);
    KEXPECT_EQ(RtlCompareMemory(in, out + 2, bytes), bytes);
    /* The neighbours keep their tags. */
    KEXPECT_EQ(KtaReadChecked(disk, in, KTA_WRITE_LBA - 8, 8), 0);
    KEXPECT_EQ(KtaReadChecked(disk, in, KTA_WRITE_LBA + KTA_WRITE_SECTORS, 8), 0);
    KtestPrint("# ahci-wrote %u sectors at %u\n", KTA_WRITE_SECTORS, KTA_WRITE_LBA);
    ExFreePoolWithTag(out, KTA_TAG);
    ExFreePoolWithTag(in, KTA_TAG);
}

/*
 * Persistence: the runner boots twice on one copy of the marked image (its
 * "ahci-persist" step): the first boot runs the write test above, the
 * second (with the boot option ahcipersist) reads what the first wrote. In
 * any other boot the sectors hold their tags, so this test skips there.
 */
KTEST(ahci, written_data_survives_a_reboot)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    ULONG bytes = KTA_WRITE_SECTORS * KTA_SECTOR, bad = 0;
    PUCHAR in, want;

    if (!KeQueryBootOption("ahcipersist", NULL, 0))
        KTEST_SKIP("needs the image an earlier boot wrote (tests/runner.py's ahci-persist step)");
    KASSERT_TRUE(disk != NULL);
    in = ExAllocatePoolWithTag(NonPagedPoolNx, bytes, KTA_TAG);
    want = ExAllocatePoolWithTag(NonPagedPoolNx, KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(in != NULL && want != NULL);
    RtlFillMemory(in, bytes, 0xEE);
    KEXPECT_EQ(KtaRead(disk, in, KTA_WRITE_LBA, KTA_WRITE_SECTORS), STATUS_SUCCESS);
    for (ULONG i = 0; i < KTA_WRITE_SECTORS; i++) {
        KtaPattern(want, KTA_WRITE_LBA + i);
        if (RtlCompareMemory(in + i * KTA_SECTOR, want, KTA_SECTOR) != KTA_SECTOR)
            bad++;
    }
    KEXPECT_EQ(bad, 0);
    ExFreePoolWithTag(want, KTA_TAG);
    ExFreePoolWithTag(in, KTA_TAG);
}

KTEST(ahci, unmarked_disk_is_read_only)
{
    PAHCI_PORT disk = KtaDisk(KTA_UNMARKED_MIB);
    PUCHAR buffer;

    KASSERT_TRUE(disk != NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    RtlFillMemory(buffer, 8 * KTA_SECTOR, 0x5A);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_WRITE, buffer, 8 * KTA_SECTOR, 0, NULL),
               STATUS_MEDIA_WRITE_PROTECTED);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_WRITE, buffer, KTA_SECTOR, 100 * KTA_SECTOR, NULL),
               STATUS_MEDIA_WRITE_PROTECTED);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 0, 8), 0);       /* reads always work */
    ExFreePoolWithTag(buffer, KTA_TAG);
}

KTEST(ahci, rejects_requests_beyond_the_end_or_misaligned)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    LONGLONG size;
    PUCHAR buffer;

    KASSERT_TRUE(disk != NULL);
    size = (LONGLONG)(disk->Sectors * KTA_SECTOR);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 4 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_READ, buffer, KTA_SECTOR, size, NULL), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_READ, buffer, 2 * KTA_SECTOR, size - KTA_SECTOR, NULL),
               STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_READ, buffer, KTA_SECTOR, 100, NULL), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_READ, buffer, 100, 0, NULL), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_READ, buffer + 1, KTA_SECTOR, 0, NULL), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_WRITE, buffer, KTA_SECTOR, size, NULL), STATUS_INVALID_PARAMETER);
    /* The last sector itself is fine. */
    KEXPECT_EQ(KtaReadChecked(disk, buffer, disk->Sectors - 1, 1), 0);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

KTEST(ahci, geometry_and_device_property_as_nt_answers)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    DISK_GEOMETRY_EX g;
    STORAGE_PROPERTY_QUERY q = {.PropertyId = StorageDeviceProperty, .QueryType = PropertyStandardQuery};
    UCHAR out[256];
    PSTORAGE_DEVICE_DESCRIPTOR d = (PSTORAGE_DEVICE_DESCRIPTOR)out;
    STORAGE_DESCRIPTOR_HEADER h;
    ULONG_PTR info = 0;

    KASSERT_TRUE(disk != NULL);
    KEXPECT_EQ(IotestIoctl(disk->Self, IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, NULL, 0, &g, sizeof(g), &info),
               STATUS_SUCCESS);
    KEXPECT_EQ(info, FIELD_OFFSET(DISK_GEOMETRY_EX, Data));
    KEXPECT_EQ(g.DiskSize.QuadPart, (LONGLONG)KTA_MARKED_MIB << 20);
    KEXPECT_EQ(g.Geometry.BytesPerSector, 512);
    KEXPECT_EQ(g.Geometry.MediaType, FixedMedia);
    KEXPECT_EQ(IotestIoctl(disk->Self, IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, NULL, 0, &g, 16, NULL),
               STATUS_BUFFER_TOO_SMALL);

    RtlZeroMemory(out, sizeof(out));
    KEXPECT_EQ(IotestIoctl(disk->Self, IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof(q), out, sizeof(out), &info),
               STATUS_SUCCESS);
    KEXPECT_EQ(d->Version, sizeof(STORAGE_DEVICE_DESCRIPTOR));
    KEXPECT_EQ(info, d->Size);
    KEXPECT_EQ(d->BusType, BusTypeSata);
    KEXPECT_TRUE(d->CommandQueueing);
    KEXPECT_FALSE(d->RemovableMedia);
    KASSERT_TRUE(d->ProductIdOffset != 0 && d->ProductIdOffset < sizeof(out));
    KEXPECT_EQ(strcmp((char *)out + d->ProductIdOffset, "QEMU HARDDISK"), 0);
    KEXPECT_EQ(strcmp((char *)out + d->SerialNumberOffset, disk->Serial), 0);
    /* A header-sized buffer learns the size to ask for. */
    KEXPECT_EQ(IotestIoctl(disk->Self, IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof(q), &h, sizeof(h), &info),
               STATUS_SUCCESS);
    KEXPECT_EQ(h.Size, d->Size);
    q.PropertyId = StorageAdapterProperty;
    KEXPECT_EQ(IotestIoctl(disk->Self, IOCTL_STORAGE_QUERY_PROPERTY, &q, sizeof(q), out, sizeof(out), NULL),
               STATUS_NOT_SUPPORTED);
}

/* ---- Errors: disk 2 sits on QEMU's blkdebug (tests/runner.py), which
 * fails reads of sector 100 and writes of sector 200. ---- */
#define KTA_ERRORS_MIB   1
#define KTA_BAD_READ     100
#define KTA_BAD_WRITE    200

/* Count IRPs sent at once and wait for all; each one's status kept. */
typedef struct _KTA_BATCH KTA_BATCH;
typedef struct {
    KTA_BATCH *Batch;
    ULONG Index;
} KTA_BATCH_ONE;
struct _KTA_BATCH {
    KEVENT Done;
    volatile LONG Left;
    NTSTATUS Status[32];
    KTA_BATCH_ONE One[32];
};

static NTSTATUS KtaBatchDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    KTA_BATCH *b = ((KTA_BATCH_ONE *)Context)->Batch;
    ULONG i = ((KTA_BATCH_ONE *)Context)->Index;

    UNREFERENCED_PARAMETER(DeviceObject);
    b->Status[i] = Irp->IoStatus.Status;
    MmUnlockPages(Irp->MdlAddress);
    IoFreeMdl(Irp->MdlAddress);
    Irp->MdlAddress = NULL;
    IoFreeIrp(Irp);
    if (__atomic_sub_fetch(&b->Left, 1, __ATOMIC_ACQ_REL) == 0)
        KeSetEvent(&b->Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Count requests of Sectors each, at Lbas, from Buffer (Sectors apart),
 * all at once: every IRP is built first (building locks pages: below
 * DISPATCH_LEVEL), then all are sent at DISPATCH_LEVEL, so the driver
 * queues them before this processor sees a completion. */
static VOID KtaBatch(PAHCI_PORT Disk, ULONG Major, KTA_BATCH *B, PUCHAR Buffer, const ULONG64 *Lbas,
                     ULONG Count, ULONG Sectors)
{
    static IO_STATUS_BLOCK iosb[32];
    PIRP irps[32];
    KIRQL irql;

    KeInitializeEvent(&B->Done, NotificationEvent, FALSE);
    B->Left = (LONG)Count;
    for (ULONG i = 0; i < Count; i++) {
        LARGE_INTEGER offset = {.QuadPart = (LONGLONG)(Lbas[i] * KTA_SECTOR)};

        irps[i] = IoBuildAsynchronousFsdRequest(Major, Disk->Self, Buffer + (SIZE_T)i * Sectors * KTA_SECTOR,
                                                Sectors * KTA_SECTOR, &offset, &iosb[i]);
        B->One[i].Batch = B;
        B->One[i].Index = i;
        if (irps[i] != NULL)
            IoSetCompletionRoutine(irps[i], KtaBatchDone, &B->One[i], TRUE, TRUE, TRUE);
    }
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    for (ULONG i = 0; i < Count; i++) {
        if (irps[i] != NULL) {
            IoCallDriver(Disk->Self, irps[i]);
            continue;
        }
        B->Status[i] = STATUS_INSUFFICIENT_RESOURCES;
        if (__atomic_sub_fetch(&B->Left, 1, __ATOMIC_ACQ_REL) == 0)
            KeSetEvent(&B->Done, IO_NO_INCREMENT, FALSE);
    }
    KeLowerIrql(irql);
    KeWaitForSingleObject(&B->Done, Executive, KernelMode, FALSE, NULL);
}

/* A port that stops answering (here: its PxCMD.ST cleared behind the
 * driver's back, so PxCI is never looked at): the watchdog sees no
 * completion for TimeoutTicks ticks, recovers the port, and the stuck
 * commands go again and succeed. */
KTEST(ahci, stalled_port_times_out_and_recovers)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    static KTA_BATCH b;
    static const ULONG64 lbas[4] = {10, 500, 3000, 9000};
    LARGE_INTEGER limit = {.QuadPart = -50000000LL};        /* 5 s */
    LONG64 timeouts;
    PUCHAR buffer;
    KIRQL irql;
    ULONG bad = 0;

    KASSERT_TRUE(disk != NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 4 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    timeouts = disk->Timeouts;
    disk->TimeoutTicks = 2;             /* 500 ms instead of 10 s */
    KeAcquireSpinLock(&disk->Lock, &irql);
    AhciWrite(disk->Regs, PX_CMD, AhciRead(disk->Regs, PX_CMD) & ~PX_CMD_ST);
    KeReleaseSpinLock(&disk->Lock, irql);
    RtlFillMemory(buffer, 4 * 8 * KTA_SECTOR, 0xEE);
    KeInitializeEvent(&b.Done, NotificationEvent, FALSE);
    b.Left = 4;
    for (ULONG i = 0; i < 4; i++) {
        IO_STATUS_BLOCK iosb;
        LARGE_INTEGER offset = {.QuadPart = (LONGLONG)(lbas[i] * KTA_SECTOR)};
        PIRP irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, disk->Self, buffer + i * 8 * KTA_SECTOR,
                                                 8 * KTA_SECTOR, &offset, &iosb);
        KASSERT_TRUE(irp != NULL);
        b.One[i].Batch = &b;
        b.One[i].Index = i;
        IoSetCompletionRoutine(irp, KtaBatchDone, &b.One[i], TRUE, TRUE, TRUE);
        IoCallDriver(disk->Self, irp);
    }
    if (KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, &limit) == STATUS_TIMEOUT) {
        KtestFail(__FILE__, __LINE__, "no completion 5 s after the port stalled");
        AhciWrite(disk->Regs, PX_CMD, AhciRead(disk->Regs, PX_CMD) | PX_CMD_ST);
        KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    }
    disk->TimeoutTicks = AHCI_TIMEOUT_TICKS;
    for (ULONG i = 0; i < 4; i++) {
        KEXPECT_EQ(b.Status[i], STATUS_SUCCESS);
        bad += KtaBadTags(buffer + i * 8 * KTA_SECTOR, lbas[i], 8);
    }
    KEXPECT_EQ(bad, 0);
    KEXPECT_EQ(disk->Timeouts, timeouts + 1);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 77, 32), 0);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

/* A command the device never answers (ahci.h's IgnoreLba: addressed to a
 * port-multiplier port nobody listens on, so QEMU drops it and its PxSACT
 * bit stays set) among five others, the port stalled as above: the first
 * timeout resets the port and retries each command alone; the unanswered
 * one sticks again and ends with STATUS_IO_TIMEOUT, the others complete
 * with their data. */
KTEST(ahci, unanswered_command_ends_with_io_timeout_and_the_others_are_retried)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    static KTA_BATCH b;
    static const ULONG64 lbas[6] = {10, 500, 3000, 6000, 9000, 12000};
    LARGE_INTEGER limit = {.QuadPart = -100000000LL};       /* 10 s */
    LONG64 timeouts;
    PUCHAR buffer;
    KIRQL irql;
    ULONG bad = 0;

    KASSERT_TRUE(disk != NULL);
    KASSERT_TRUE(disk->Ncq);            /* the PMP trick leaves a queued command unanswered */
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 6 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    timeouts = disk->Timeouts;
    disk->TimeoutTicks = 2;
    disk->IgnoreLba = 3003;
    disk->IgnoreArmed = TRUE;
    KeAcquireSpinLock(&disk->Lock, &irql);
    AhciWrite(disk->Regs, PX_CMD, AhciRead(disk->Regs, PX_CMD) & ~PX_CMD_ST);
    KeReleaseSpinLock(&disk->Lock, irql);
    RtlFillMemory(buffer, 6 * 8 * KTA_SECTOR, 0xEE);
    KeInitializeEvent(&b.Done, NotificationEvent, FALSE);
    b.Left = 6;
    for (ULONG i = 0; i < 6; i++) {
        IO_STATUS_BLOCK iosb;
        LARGE_INTEGER offset = {.QuadPart = (LONGLONG)(lbas[i] * KTA_SECTOR)};
        PIRP irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, disk->Self, buffer + i * 8 * KTA_SECTOR,
                                                 8 * KTA_SECTOR, &offset, &iosb);
        KASSERT_TRUE(irp != NULL);
        b.One[i].Batch = &b;
        b.One[i].Index = i;
        IoSetCompletionRoutine(irp, KtaBatchDone, &b.One[i], TRUE, TRUE, TRUE);
        IoCallDriver(disk->Self, irp);
    }
    if (KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, &limit) == STATUS_TIMEOUT) {
        KtestFail(__FILE__, __LINE__, "no completion 10 s after the port stalled");
        disk->IgnoreArmed = FALSE;
        disk->TimeoutTicks = AHCI_TIMEOUT_TICKS;
        AhciWrite(disk->Regs, PX_CMD, AhciRead(disk->Regs, PX_CMD) | PX_CMD_ST);
        KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    }
    disk->IgnoreArmed = FALSE;
    disk->TimeoutTicks = AHCI_TIMEOUT_TICKS;
    for (ULONG i = 0; i < 6; i++) {
        if (lbas[i] == 3000) {
            KEXPECT_EQ(b.Status[i], STATUS_IO_TIMEOUT);
            continue;
        }
        KEXPECT_EQ(b.Status[i], STATUS_SUCCESS);
        bad += KtaBadTags(buffer + i * 8 * KTA_SECTOR, lbas[i], 8);
    }
    KEXPECT_EQ(bad, 0);
    KEXPECT_EQ(disk->Timeouts, timeouts + 2);   /* the stall, then the retry that stuck */
    KEXPECT_EQ(disk->Retry, 0);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 2990, 32), 0);  /* the sectors and the port are fine */
    ExFreePoolWithTag(buffer, KTA_TAG);
}

/* The timer is per command: one command nobody answers times out while
 * the port keeps completing the others (a timer that waits for the port
 * to go quiet would wait as long as the traffic lasts). */
KTEST(ahci, unanswered_command_times_out_while_others_keep_completing)
{
    PAHCI_PORT disk = KtaDisk(KTA_MARKED_MIB);
    static KTA_BATCH b;
    PUCHAR buffer, other;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset = {.QuadPart = 7000LL * KTA_SECTOR};
    ULONGLONG start;
    ULONG reads = 0, bad = 0;
    LONG64 timeouts;
    BOOLEAN during = FALSE;
    PIRP irp;

    KASSERT_TRUE(disk != NULL && disk->Ncq);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 8 * KTA_SECTOR, KTA_TAG);
    other = ExAllocatePoolWithTag(NonPagedPoolNx, 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL && other != NULL);
    timeouts = disk->Timeouts;
    disk->TimeoutTicks = 2;
    disk->IgnoreLba = 7001;
    disk->IgnoreArmed = TRUE;
    KeInitializeEvent(&b.Done, NotificationEvent, FALSE);
    b.Left = 1;
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, disk->Self, buffer, 8 * KTA_SECTOR, &offset, &iosb);
    KASSERT_TRUE(irp != NULL);
    b.One[0].Batch = &b;
    b.One[0].Index = 0;
    IoSetCompletionRoutine(irp, KtaBatchDone, &b.One[0], TRUE, TRUE, TRUE);
    IoCallDriver(disk->Self, irp);
    /* Reads elsewhere, one after another, for up to 3 s (6 timeouts' worth). */
    start = KeQueryInterruptTime();
    while (KeQueryInterruptTime() - start < 30000000ULL) {
        bad += KtaReadChecked(disk, other, 100 + (reads % 64) * 8, 8);
        reads++;
        if (KeReadStateEvent(&b.Done)) {
            during = TRUE;
            break;
        }
    }
    disk->IgnoreArmed = FALSE;
    KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    disk->TimeoutTicks = AHCI_TIMEOUT_TICKS;
    KEXPECT_TRUE(during);
    KEXPECT_EQ(b.Status[0], STATUS_IO_TIMEOUT);
    KEXPECT_GT(reads, 10);
    KEXPECT_EQ(bad, 0);
    KEXPECT_EQ(disk->Timeouts, timeouts + 2);
    ExFreePoolWithTag(buffer, KTA_TAG);
    ExFreePoolWithTag(other, KTA_TAG);
}

/* 32 queued reads, one over the bad sector: KtaBatch's statuses, every
 * other request's data checked; the number that failed otherwise. */
static ULONG KtaErrorBatch(PAHCI_PORT Disk, KTA_BATCH *B, PUCHAR Buffer)
{
    ULONG64 lbas[32];
    ULONG wrong = 0;

    for (ULONG i = 0; i < 32; i++)
        lbas[i] = i * 8;
    RtlFillMemory(Buffer, 32 * 8 * KTA_SECTOR, 0xEE);
    KtaBatch(Disk, IRP_MJ_READ, B, Buffer, lbas, 32, 8);
    for (ULONG i = 0; i < 32; i++) {
        BOOLEAN covers = lbas[i] <= KTA_BAD_READ && KTA_BAD_READ < lbas[i] + 8;
        if (covers)
            wrong += B->Status[i] != STATUS_DEVICE_DATA_ERROR;
        else
            wrong += !NT_SUCCESS(B->Status[i]) || KtaBadTags(Buffer + i * 8 * KTA_SECTOR, lbas[i], 8) != 0;
    }
    return wrong;
}

/* After an NCQ error the driver reads log page 10h when IDENTIFY offers
 * general purpose logging. QEMU's disks do not (word 84 bit 5 clear), so
 * the natural path skips it; offered anyway, QEMU aborts READ LOG EXT and
 * the driver falls back to retrying each command alone, with the same
 * result for every request. */
KTEST(ahci, ncq_error_log_read_when_offered_else_commands_retried_alone)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH b;
    LONG64 reads, failures, errors;
    BOOLEAN gpl;
    PUCHAR buffer;

    KASSERT_TRUE(disk != NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 32 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    gpl = disk->Gpl;
    reads = disk->LogReads;
    failures = disk->LogFailures;
    errors = disk->Errors;
    KEXPECT_EQ(KtaErrorBatch(disk, &b, buffer), 0);
    KEXPECT_GT(disk->Errors, errors);
    if (!gpl)
        KEXPECT_EQ(disk->LogReads, reads);     /* no log: straight to the fallback */
    disk->Gpl = TRUE;
    reads = disk->LogReads;
    KEXPECT_EQ(KtaErrorBatch(disk, &b, buffer), 0);
    disk->Gpl = gpl;
    KEXPECT_GT(disk->LogReads, reads);
    if (!gpl)
        KEXPECT_EQ(disk->LogFailures - failures, disk->LogReads - reads);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 0, KTA_BAD_READ - 4), 0);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

KTEST(ahci, read_error_fails_alone_and_port_recovers)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH b;
    ULONG64 lbas[32];
    PUCHAR buffer;
    LONG64 errors;
    ULONG bad = 0, failed = 0;

    KASSERT_TRUE(disk != NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 32 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    errors = disk->Errors;
    /* Alone: the device's error is NT's STATUS_DEVICE_DATA_ERROR. */
    KEXPECT_EQ(KtaRead(disk, buffer, KTA_BAD_READ - 4, 8), STATUS_DEVICE_DATA_ERROR);
    KEXPECT_GT(disk->Errors, errors);  /* a queued command: again alone, which fails too */
    KEXPECT_EQ(KtaReadChecked(disk, buffer, KTA_BAD_READ + 4, 8), 0);   /* the port works again */
    /* 32 at once (queued): only the one over sector 100 fails. */
    for (ULONG i = 0; i < 32; i++)
        lbas[i] = i * 8;
    RtlFillMemory(buffer, 32 * 8 * KTA_SECTOR, 0xEE);
    KtaBatch(disk, IRP_MJ_READ, &b, buffer, lbas, 32, 8);
    for (ULONG i = 0; i < 32; i++) {
        BOOLEAN covers = lbas[i] <= KTA_BAD_READ && KTA_BAD_READ < lbas[i] + 8;
        if (covers) {
            KEXPECT_EQ(b.Status[i], STATUS_DEVICE_DATA_ERROR);
            continue;
        }
        failed += !NT_SUCCESS(b.Status[i]);
        bad += KtaBadTags(buffer + i * 8 * KTA_SECTOR, lbas[i], 8);
    }
    KEXPECT_EQ(failed, 0);
    KEXPECT_EQ(bad, 0);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 0, KTA_BAD_READ - 4), 0);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, KTA_BAD_READ + 1, 150), 0);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

/* Three writes at once, the middle one over sector 200: it fails, the
 * others land once (the runner checks the image after the boot). */
KTEST(ahci, write_error_fails_alone)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH b;
    static const ULONG64 lbas[3] = {184, 196, 208};
    PUCHAR buffer, in;

    KASSERT_TRUE(disk != NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * 8 * KTA_SECTOR, KTA_TAG);
    in = ExAllocatePoolWithTag(NonPagedPoolNx, 32 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL && in != NULL);
    for (ULONG i = 0; i < 3; i++)
        for (ULONG j = 0; j < 8; j++)
            KtaPattern(buffer + (i * 8 + j) * KTA_SECTOR, lbas[i] + j);
    KtaBatch(disk, IRP_MJ_WRITE, &b, buffer, lbas, 3, 8);
    KEXPECT_EQ(b.Status[0], STATUS_SUCCESS);
    KEXPECT_EQ(b.Status[1], STATUS_DEVICE_DATA_ERROR);
    KEXPECT_EQ(b.Status[2], STATUS_SUCCESS);
    KEXPECT_EQ(KtaRead(disk, in, 184, 32), STATUS_SUCCESS);
    KEXPECT_EQ(RtlCompareMemory(in, buffer, 8 * KTA_SECTOR), 8 * KTA_SECTOR);
    KEXPECT_EQ(KtaBadTags(in + 8 * KTA_SECTOR, 192, 16), 0);
    KEXPECT_EQ(RtlCompareMemory(in + 24 * KTA_SECTOR, buffer + 16 * KTA_SECTOR, 8 * KTA_SECTOR), 8 * KTA_SECTOR);
    ExFreePoolWithTag(buffer, KTA_TAG);
    ExFreePoolWithTag(in, KTA_TAG);
}

/* ---- Error attribution under load (QEMU keeps running the queued
 * commands after an NCQ error and reports a failed command's status
 * again when it queues the next one: drivers/ahci/recover.c, Recover). ---- */
#define KTA_ROUNDS 10

/* Ten batches of 32 reads, the one over sector 100 at a different place
 * in each, each batch sent right after a lone read of the bad sector
 * failed: every time only the reads over sector 100 fail and every
 * neighbour completes once, with its data. After each batch another lone
 * read of the bad sector fails, and a lone good read after it succeeds
 * without a recovery (Errors unchanged), though the device's last status
 * was an error. */
KTEST(ahci, read_error_among_many_neighbours_repeated_charges_only_it)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH b;
    ULONG64 lbas[32];
    PUCHAR buffer;
    ULONG wrongStatus = 0, badData = 0, recovered = 0, charged = 0;
    ULONGLONG start = KeQueryInterruptTime();

    KASSERT_TRUE(disk != NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 32 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    for (ULONG round = 0; round < KTA_ROUNDS; round++) {
        ULONG64 base = (round * 8 + (round & 1) * 4) % 100;     /* the bad read at slot 12 down to 0 */
        LONG64 errors;

        for (ULONG i = 0; i < 32; i++)
            lbas[i] = base + i * 8;
        /* The batch right after a failed read: the device's status still
         * holds that error (QEMU reports it again as each one is queued). */
        charged += KtaRead(disk, buffer, KTA_BAD_READ - round % 8, 8) == STATUS_DEVICE_DATA_ERROR;
        RtlFillMemory(buffer, 32 * 8 * KTA_SECTOR, 0xEE);
        KtaBatch(disk, IRP_MJ_READ, &b, buffer, lbas, 32, 8);
        for (ULONG i = 0; i < 32; i++) {
            BOOLEAN covers = lbas[i] <= KTA_BAD_READ && KTA_BAD_READ < lbas[i] + 8;
            if (covers) {
                charged += b.Status[i] == STATUS_DEVICE_DATA_ERROR;
                continue;
            }
            if (!NT_SUCCESS(b.Status[i])) {
                KtestPrint("# round %u: the read at %llu (slot %u) ended with %08x\n", round, lbas[i], i,
                           (ULONG)b.Status[i]);
                wrongStatus++;
            }
            badData += KtaBadTags(buffer + i * 8 * KTA_SECTOR, lbas[i], 8);
        }
        /* A lone read that fails, then a lone good one. */
        charged += KtaRead(disk, buffer, KTA_BAD_READ - round % 8, 8) == STATUS_DEVICE_DATA_ERROR;
        errors = disk->Errors;
        badData += KtaReadChecked(disk, buffer, 500 + round * 8, 8);
        recovered += disk->Errors != errors;
    }
    KtestPrint("# %u rounds in %llu ms, %lld device resets, %lld stale error interrupts\n", KTA_ROUNDS,
               (KeQueryInterruptTime() - start) / 10000, disk->Comresets, disk->StaleErrors);
    KEXPECT_EQ(charged, 3 * KTA_ROUNDS);
    KEXPECT_EQ(wrongStatus, 0);
    KEXPECT_EQ(badData, 0);
    KEXPECT_EQ(recovered, 0);
    KEXPECT_EQ(disk->Retry, 0);
    KEXPECT_EQ(disk->Issued, 0);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

/* Writes around the one over sector 200, twelve at once, four times: the
 * failing one ends with STATUS_DEVICE_DATA_ERROR, the others succeed and
 * their sectors read back as written. Each write puts back what the disk
 * held (read first), so the image the runner checks keeps its contents. */
KTEST(ahci, write_error_among_many_neighbours_repeated_charges_only_it)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH b;
    ULONG64 lbas[12];
    PUCHAR before, after;
    ULONG wrongStatus = 0, charged = 0, differ = 0;
    ULONGLONG start = KeQueryInterruptTime();

    KASSERT_TRUE(disk != NULL);
    before = ExAllocatePoolWithTag(NonPagedPoolNx, 12 * 8 * KTA_SECTOR, KTA_TAG);
    after = ExAllocatePoolWithTag(NonPagedPoolNx, 12 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(before != NULL && after != NULL);
    for (ULONG round = 0; round < 4; round++) {
        ULONG64 base = 152 + round * 12;

        for (ULONG i = 0; i < 12; i++)
            lbas[i] = base + i * 8;
        KEXPECT_EQ(KtaRead(disk, before, base, 12 * 8), STATUS_SUCCESS);
        KtaBatch(disk, IRP_MJ_WRITE, &b, before, lbas, 12, 8);
        for (ULONG i = 0; i < 12; i++) {
            BOOLEAN covers = lbas[i] <= KTA_BAD_WRITE && KTA_BAD_WRITE < lbas[i] + 8;
            if (covers)
                charged += b.Status[i] == STATUS_DEVICE_DATA_ERROR;
            else
                wrongStatus += !NT_SUCCESS(b.Status[i]);
        }
        RtlFillMemory(after, 12 * 8 * KTA_SECTOR, 0xEE);
        KEXPECT_EQ(KtaRead(disk, after, base, 12 * 8), STATUS_SUCCESS);
        differ += RtlCompareMemory(before, after, 12 * 8 * KTA_SECTOR) != 12 * 8 * KTA_SECTOR;
    }
    KtestPrint("# 4 rounds in %llu ms\n", (KeQueryInterruptTime() - start) / 10000);
    KEXPECT_EQ(charged, 4);
    KEXPECT_EQ(wrongStatus, 0);
    KEXPECT_EQ(differ, 0);
    ExFreePoolWithTag(before, KTA_TAG);
    ExFreePoolWithTag(after, KTA_TAG);
}

/* QEMU's stale error report, made on purpose: after a failed read the
 * device's status holds the error, and a read queued then (the driver's
 * guard, ClearStatus, switched off) is acknowledged with it: PxIS.TFES,
 * its PxCI bit left set. The port's interrupts are off until the read has
 * completed, so the DPC sees the error with nothing outstanding: the read
 * succeeds with its data, no recovery runs (Errors unchanged), the report
 * counts as stale, and the PxCI bit QEMU left is cleared (QEMU would run
 * the read again on the next PxCI write). */
KTEST(ahci, stale_error_with_nothing_outstanding_charges_no_one)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH b;
    static const ULONG64 lba[1] = {600};
    PUCHAR buffer;
    LONG64 errors, stale;
    ULONGLONG start;
    KIRQL irql;
    PIRP irp;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset = {.QuadPart = 600LL * KTA_SECTOR};
    BOOLEAN completed = FALSE;

    KASSERT_TRUE(disk != NULL && disk->Ncq);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    KEXPECT_EQ(KtaRead(disk, buffer, KTA_BAD_READ, 8), STATUS_DEVICE_DATA_ERROR);
    KEXPECT_TRUE(AhciRead(disk->Regs, PX_TFD) & PX_TFD_ERR);
    RtlFillMemory(buffer, 8 * KTA_SECTOR, 0xEE);
    KeInitializeEvent(&b.Done, NotificationEvent, FALSE);
    b.Left = 1;
    b.One[0].Batch = &b;
    b.One[0].Index = 0;
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, disk->Self, buffer, 8 * KTA_SECTOR, &offset, &iosb);
    KASSERT_TRUE(irp != NULL);
    IoSetCompletionRoutine(irp, KtaBatchDone, &b.One[0], TRUE, TRUE, TRUE);
    KeAcquireSpinLock(&disk->Lock, &irql);
    disk->ClearStatus = FALSE;
    AhciWrite(disk->Regs, PX_IE, 0);
    KeReleaseSpinLock(&disk->Lock, irql);
    errors = disk->Errors;
    stale = disk->StaleErrors;
    IoCallDriver(disk->Self, irp);
    start = KeQueryInterruptTime();
    while (KeQueryInterruptTime() - start < 20000000ULL) {          /* 2 s */
        if (AhciRead(disk->Regs, PX_SACT) == 0 && (AhciRead(disk->Regs, PX_IS) & PX_IS_SDBS)) {
            completed = TRUE;
            break;
        }
        KeStallExecutionProcessor(100);
    }
    KEXPECT_TRUE(completed);
    KEXPECT_TRUE(AhciRead(disk->Regs, PX_IS) & PX_IS_TFES);       /* QEMU's report */
    AhciWrite(disk->Regs, PX_IE, PX_IE_WANTED);
    KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    KEXPECT_EQ(b.Status[0], STATUS_SUCCESS);
    KEXPECT_EQ(KtaBadTags(buffer, lba[0], 8), 0);
    KEXPECT_EQ(disk->Errors, errors);
    KEXPECT_EQ(disk->StaleErrors, stale + 1);
    KEXPECT_EQ(AhciRead(disk->Regs, PX_CI), 0);
    KEXPECT_EQ(KtaReadChecked(disk, buffer, 700, 8), 0);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

/* One IRP of Sectors at Lba into Buffer, sent now; its status lands in B. */
static VOID KtaSend(PAHCI_PORT Disk, KTA_BATCH *B, PUCHAR Buffer, ULONG64 Lba, ULONG Sectors)
{
    static IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset = {.QuadPart = (LONGLONG)(Lba * KTA_SECTOR)};
    PIRP irp;

    KeInitializeEvent(&B->Done, NotificationEvent, FALSE);
    B->Left = 1;
    B->Status[0] = STATUS_PENDING;
    B->One[0].Batch = B;
    B->One[0].Index = 0;
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, Disk->Self, Buffer, Sectors * KTA_SECTOR, &offset, &iosb);
    if (irp == NULL) {
        B->Status[0] = STATUS_INSUFFICIENT_RESOURCES;
        KeSetEvent(&B->Done, IO_NO_INCREMENT, FALSE);
        return;
    }
    IoSetCompletionRoutine(irp, KtaBatchDone, &B->One[0], TRUE, TRUE, TRUE);
    IoCallDriver(Disk->Self, irp);
}

/* A command retried alone runs alone: requests that arrive meanwhile wait
 * for it. Here the retried command is one nobody answers (ahci.h's
 * IgnoreLba) and a read of the bad sector arrives during its retry: the
 * unanswered one ends with STATUS_IO_TIMEOUT, not with the other read's
 * device error, which fails on its own; a good read succeeds. */
KTEST(ahci, retry_alone_is_not_charged_with_a_later_request_error)
{
    PAHCI_PORT disk = KtaDisk(KTA_ERRORS_MIB);
    static KTA_BATCH stuck, bad, good;
    PUCHAR buffer;
    ULONGLONG start;
    BOOLEAN retrying = FALSE;

    KASSERT_TRUE(disk != NULL && disk->Ncq);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 3 * 8 * KTA_SECTOR, KTA_TAG);
    KASSERT_TRUE(buffer != NULL);
    RtlFillMemory(buffer, 3 * 8 * KTA_SECTOR, 0xEE);
    disk->TimeoutTicks = 2;
    disk->IgnoreLba = 300;
    disk->IgnoreArmed = TRUE;
    KtaSend(disk, &stuck, buffer, 296, 8);
    /* The first timeout resets the device and retries it alone. */
    start = KeQueryInterruptTime();
    while (KeQueryInterruptTime() - start < 30000000ULL && !retrying) {         /* 3 s */
        KIRQL irql;

        KeAcquireSpinLock(&disk->Lock, &irql);
        retrying = (disk->Retrying & disk->Issued) != 0;
        KeReleaseSpinLock(&disk->Lock, irql);
        KeStallExecutionProcessor(1000);
    }
    KEXPECT_TRUE(retrying);
    KtaSend(disk, &bad, buffer + 8 * KTA_SECTOR, KTA_BAD_READ - 2, 8);
    KtaSend(disk, &good, buffer + 16 * KTA_SECTOR, 400, 8);
    KeWaitForSingleObject(&stuck.Done, Executive, KernelMode, FALSE, NULL);
    disk->IgnoreArmed = FALSE;
    KeWaitForSingleObject(&bad.Done, Executive, KernelMode, FALSE, NULL);
    KeWaitForSingleObject(&good.Done, Executive, KernelMode, FALSE, NULL);
    disk->TimeoutTicks = AHCI_TIMEOUT_TICKS;
    KEXPECT_EQ(stuck.Status[0], STATUS_IO_TIMEOUT);
    KEXPECT_EQ(bad.Status[0], STATUS_DEVICE_DATA_ERROR);
    KEXPECT_EQ(good.Status[0], STATUS_SUCCESS);
    KEXPECT_EQ(KtaBadTags(buffer + 16 * KTA_SECTOR, 400, 8), 0);
    KtestPrint("# %llu ms\n", (KeQueryInterruptTime() - start) / 10000);
    ExFreePoolWithTag(buffer, KTA_TAG);
}

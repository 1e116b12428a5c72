/*
 * test_ahci_pnp.c - the AHCI driver's PnP teardown (drivers/ahci/hba.c):
 * IRP_MN_STOP_DEVICE then START_DEVICE, IRP_MN_SURPRISE_REMOVAL then
 * REMOVE_DEVICE and the HBA found again, as the PnP manager would send
 * them to the top of the HBA's stack. Each test leaves the HBA started
 * with the same disks under the same numbers, so the other ahci.* tests
 * run in any order; and each checks that what the driver gave back is
 * really gone: PoolMon's counters for the adapter and its common-buffer
 * records (HAL 'AmdH'), the interrupt connection ('nCoI') and the device
 * objects ('IoDv'), and the common buffers themselves (PutDmaAdapter
 * bug-checks when any is left).
 */
#include "../../drivers/ahci/ahci.h"
#include "../../drivers/pci/pcidrv.h"
#include "test_io.h"

#define KTP_TAG        'pPtA'
#define KTP_SECTOR     512
#define KTP_MARKED_MIB 8

static const ULONG KtpTags[] = {'AmdH', 'nCoI', 'vDoI'};
#define KTP_TAGS (sizeof(KtpTags) / sizeof(KtpTags[0]))

/* The blocks each tag holds. Their bytes (PoolMon's Used) are not compared:
 * when its own list is empty, a per-processor lookaside hands out a block
 * one unit (16 bytes) larger (mm/pool.c), so the same allocations made
 * again can hold a few bytes more or less than at boot; a leak is a block. */
typedef struct {
    SIZE_T Used[KTP_TAGS];
    LONG Live[KTP_TAGS];
} KTP_POOL;

static VOID KtpPool(KTP_POOL *P)
{
    for (ULONG i = 0; i < KTP_TAGS; i++) {
        SYSTEM_POOLTAG t;
        RtlZeroMemory(&t, sizeof(t));
        ExpQueryPoolTag(KtpTags[i], &t);
        P->Used[i] = t.NonPagedUsed;
        P->Live[i] = (LONG)(t.NonPagedAllocs - t.NonPagedFrees);
    }
}

static PAHCI_PORT KtpDisk(ULONG Mib)
{
    for (LONG i = 0; i < AhciDiskCount && i < AHCI_MAX_DISKS; i++)
        if (AhciDisks[i] != NULL && AhciDisks[i]->Sectors * AhciDisks[i]->SectorSize == (ULONG64)Mib << 20)
            return AhciDisks[i];
    return NULL;
}

static ULONG KtpDiskCount(VOID)
{
    ULONG n = 0;

    for (LONG i = 0; i < AhciDiskCount && i < AHCI_MAX_DISKS; i++)
        n += AhciDisks[i] != NULL;
    return n;
}

/* A PnP IRP to the top of the PDO's stack, as the PnP manager sends it. */
static NTSTATUS KtpPnp(PDEVICE_OBJECT Pdo, UCHAR Minor)
{
    PPCI_PDO_EXTENSION ext = PciPdoExtension(Pdo);
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(Pdo);
    IO_STATUS_BLOCK iosb;
    PIO_STACK_LOCATION next;
    NTSTATUS status;
    KEVENT event;
    PIRP irp;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildSynchronousFsdRequest(IRP_MJ_PNP, top, NULL, 0, NULL, &event, &iosb);
    if (irp == NULL) {
        ObDereferenceObject(top);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;    /* NT's rule for PnP IRPs */
    next = IoGetNextIrpStackLocation(irp);
    next->MinorFunction = Minor;
    if (Minor == IRP_MN_START_DEVICE) {
        next->Parameters.StartDevice.AllocatedResources = ext->Raw;
        next->Parameters.StartDevice.AllocatedResourcesTranslated = ext->Translated;
    }
    status = IoCallDriver(top, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = iosb.Status;
    }
    ObDereferenceObject(top);
    return status;
}

/* Requests sent at once and not waited for. */
typedef struct {
    KEVENT Done;
    volatile LONG Left;
    NTSTATUS Status[64];
    ULONG_PTR Information[64];
    ULONG Index[64];
} KTP_BATCH;
static KTP_BATCH *KtpCurrent;

static NTSTATUS KtpDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    ULONG i = *(ULONG *)Context;

    UNREFERENCED_PARAMETER(DeviceObject);
    KtpCurrent->Status[i] = Irp->IoStatus.Status;
    KtpCurrent->Information[i] = Irp->IoStatus.Information;
    MmUnlockPages(Irp->MdlAddress);
    IoFreeMdl(Irp->MdlAddress);
    Irp->MdlAddress = NULL;
    IoFreeIrp(Irp);
    if (__atomic_sub_fetch(&KtpCurrent->Left, 1, __ATOMIC_ACQ_REL) == 0)
        KeSetEvent(&KtpCurrent->Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Count reads of Sectors each at LBA i * Sectors, into Buffer; all queued
 * at DISPATCH_LEVEL before the first can complete. */
static VOID KtpSend(PAHCI_PORT Disk, KTP_BATCH *B, PUCHAR Buffer, ULONG Count, ULONG Sectors)
{
    KIRQL irql;

    KtpCurrent = B;
    KeInitializeEvent(&B->Done, NotificationEvent, FALSE);
    B->Left = (LONG)Count;
    RtlFillMemory(Buffer, (SIZE_T)Count * Sectors * KTP_SECTOR, 0xEE);
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    for (ULONG i = 0; i < Count; i++) {
        IO_STATUS_BLOCK iosb;
        LARGE_INTEGER offset = {.QuadPart = (LONGLONG)i * Sectors * KTP_SECTOR};
        PIRP irp;

        KeLowerIrql(irql);
        irp = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, Disk->Self, Buffer + (SIZE_T)i * Sectors * KTP_SECTOR,
                                            Sectors * KTP_SECTOR, &offset, &iosb);
        KeRaiseIrql(DISPATCH_LEVEL, &irql);
        B->Status[i] = STATUS_PENDING;
        B->Index[i] = i;
        if (irp == NULL) {
            B->Status[i] = STATUS_INSUFFICIENT_RESOURCES;
            if (__atomic_sub_fetch(&B->Left, 1, __ATOMIC_ACQ_REL) == 0)
                KeSetEvent(&B->Done, IO_NO_INCREMENT, FALSE);
            continue;
        }
        IoSetCompletionRoutine(irp, KtpDone, &B->Index[i], TRUE, TRUE, TRUE);
        IoCallDriver(Disk->Self, irp);
    }
    KeLowerIrql(irql);
}

/* Sectors whose tag is not their LBA, in request i of a batch. */
static ULONG KtpBadTags(const UCHAR *Buffer, ULONG i, ULONG Sectors)
{
    ULONG bad = 0;

    for (ULONG s = 0; s < Sectors; s++) {
        ULONG64 tag;
        RtlCopyMemory(&tag, Buffer + ((SIZE_T)i * Sectors + s) * KTP_SECTOR, sizeof(tag));
        bad += tag != (ULONG64)i * Sectors + s;
    }
    return bad;
}

/* STOP gives the hardware back and holds new requests; START brings the
 * same disks back and the held requests run. */
KTEST(ahci, pnp_stop_holds_requests_and_start_runs_them)
{
    static KTP_BATCH b;
    PAHCI_PORT disk = KtpDisk(KTP_MARKED_MIB);
    LARGE_INTEGER wait = {.QuadPart = -1000000LL};     /* 100 ms */
    KTP_POOL before, stopped, after;
    PAHCI_HBA hba;
    PUCHAR buffer;
    ULONG disks, bad = 0;

    KASSERT_TRUE(disk != NULL);
    hba = disk->Hba;
    disks = KtpDiskCount();
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 40 * 16 * KTP_SECTOR, KTP_TAG);
    KASSERT_TRUE(buffer != NULL);
    KtpPool(&before);
    KEXPECT_EQ(KtpPnp(hba->Pdo, IRP_MN_STOP_DEVICE), STATUS_SUCCESS);
    KtpPool(&stopped);
    KEXPECT_FALSE(hba->Started);
    KEXPECT_TRUE(hba->Dma == NULL && hba->Abar == NULL && hba->MessageTable == NULL && hba->Interrupt == NULL);
    KEXPECT_TRUE(disk->Common == NULL);
    KEXPECT_LT(stopped.Live[0], before.Live[0]);    /* the adapter and the common-buffer records */
    if (hba->ConnectVersion == CONNECT_MESSAGE_BASED)
        KEXPECT_LT(stopped.Live[1], before.Live[1]);    /* the message table */
    KEXPECT_EQ(stopped.Live[2], before.Live[2]);    /* the device objects stay */
    /* 40 requests of 16 sectors (more than the 32 slots) wait. */
    KtpSend(disk, &b, buffer, 40, 16);
    KEXPECT_EQ(KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, &wait), STATUS_TIMEOUT);
    KEXPECT_EQ(b.Left, 40);
    KEXPECT_EQ(KtpPnp(hba->Pdo, IRP_MN_START_DEVICE), STATUS_SUCCESS);
    KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    for (ULONG i = 0; i < 40; i++) {
        KEXPECT_EQ(b.Status[i], STATUS_SUCCESS);
        bad += KtpBadTags(buffer, i, 16);
    }
    KEXPECT_EQ(bad, 0);
    KEXPECT_TRUE(hba->Started);
    KEXPECT_EQ(KtpDiskCount(), disks);
    KEXPECT_TRUE(KtpDisk(KTP_MARKED_MIB) == disk);
    KtpPool(&after);
    for (ULONG i = 0; i < KTP_TAGS; i++) {
        KEXPECT_EQ(after.Live[i], before.Live[i]);
    }
    ExFreePoolWithTag(buffer, KTP_TAG);
}

/* SURPRISE_REMOVAL fails what the disks had in flight or queued, and any
 * later request, with STATUS_NO_SUCH_DEVICE; REMOVE deletes the disks and
 * the FDO, and everything the driver took is back; the HBA found again
 * (AddDevice, START) has the same disks under the same numbers. */
KTEST(ahci, pnp_surprise_removal_fails_requests_and_remove_frees_everything)
{
    static KTP_BATCH b;
    PAHCI_PORT disk = KtpDisk(KTP_MARKED_MIB);
    KTP_POOL before, removed, after;
    PDEVICE_OBJECT pdo;
    PPCI_PDO_EXTENSION ext;
    ULONG disks, number, failed = 0, bad = 0;
    PUCHAR buffer, one;
    BOOLEAN message;
    KIRQL irql;

    KASSERT_TRUE(disk != NULL);
    pdo = disk->Hba->Pdo;
    ext = PciPdoExtension(pdo);
    KASSERT_TRUE(ext != NULL);
    number = disk->DiskNumber;
    disks = KtpDiskCount();
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64 * 16 * KTP_SECTOR, KTP_TAG);
    one = ExAllocatePoolWithTag(NonPagedPoolNx, KTP_SECTOR, KTP_TAG);
    KASSERT_TRUE(buffer != NULL && one != NULL);
    KtpPool(&before);
    message = disk->Hba->ConnectVersion == CONNECT_MESSAGE_BASED;
    /* The device stops answering (its command engine off behind the
     * driver's back, as in ahci.stalled_port_times_out_and_recovers):
     * 32 requests are in flight, 32 queued, when it goes. */
    KeAcquireSpinLock(&disk->Lock, &irql);
    AhciWrite(disk->Regs, PX_CMD, AhciRead(disk->Regs, PX_CMD) & ~PX_CMD_ST);
    KeReleaseSpinLock(&disk->Lock, irql);
    KtpSend(disk, &b, buffer, 64, 16);
    KEXPECT_EQ(disk->Busy, ~0u);
    KEXPECT_EQ(KtpPnp(pdo, IRP_MN_SURPRISE_REMOVAL), STATUS_SUCCESS);
    KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    for (ULONG i = 0; i < 64; i++) {
        if (b.Status[i] == STATUS_NO_SUCH_DEVICE) {
            failed++;
            KEXPECT_EQ(b.Information[i], 0);
            continue;
        }
        KEXPECT_EQ(b.Status[i], STATUS_SUCCESS);
        bad += KtpBadTags(buffer, i, 16);
    }
    KEXPECT_EQ(failed, 64);
    KEXPECT_EQ(bad, 0);
    /* Gone: a new request fails at once; the device object is still there. */
    KEXPECT_EQ(IotestTransfer(disk->Self, IRP_MJ_READ, one, KTP_SECTOR, 0, NULL), STATUS_NO_SUCH_DEVICE);
    KEXPECT_TRUE(AhciDisks[number] == disk);
    KEXPECT_EQ(KtpPnp(pdo, IRP_MN_REMOVE_DEVICE), STATUS_SUCCESS);
    KtpPool(&removed);
    KEXPECT_EQ(KtpDiskCount(), 0);
    KEXPECT_TRUE(pdo->AttachedDevice == NULL);
    KEXPECT_EQ(removed.Live[2], before.Live[2] - (LONG)disks - 1);   /* the disks and the FDO */
    KEXPECT_LT(removed.Live[0], before.Live[0]);
    if (message)                        /* a line's interrupt object is not pool */
        KEXPECT_LT(removed.Live[1], before.Live[1]);
    /* Found again, as at boot. */
    KEXPECT_EQ(IopAddAndStartDevice(pdo, ext->IdList, ext->Raw, ext->Translated), STATUS_SUCCESS);
    KtpPool(&after);
    for (ULONG i = 0; i < KTP_TAGS; i++) {
        KEXPECT_EQ(after.Live[i], before.Live[i]);
    }
    KEXPECT_EQ(KtpDiskCount(), disks);
    disk = KtpDisk(KTP_MARKED_MIB);
    KASSERT_TRUE(disk != NULL);
    KEXPECT_EQ(disk->DiskNumber, number);
    KtpSend(disk, &b, buffer, 8, 16);
    KeWaitForSingleObject(&b.Done, Executive, KernelMode, FALSE, NULL);
    bad = 0;
    for (ULONG i = 0; i < 8; i++) {
        KEXPECT_EQ(b.Status[i], STATUS_SUCCESS);
        bad += KtpBadTags(buffer, i, 16);
    }
    KEXPECT_EQ(bad, 0);
    ExFreePoolWithTag(buffer, KTP_TAG);
    ExFreePoolWithTag(one, KTP_TAG);
}

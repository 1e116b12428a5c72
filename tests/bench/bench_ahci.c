/*
 * bench_ahci.c - the AHCI driver through IRPs, as a driver above the disk
 * (a file system, the pager) sees it: a request at a time or 32 at once,
 * each IRP reused (IoReuseIrp) around a buffer whose MDL was built once,
 * every sector's LBA tag checked after each read. Runs in the bench-disk
 * configuration (tests/runner.py: -M pc, -device ahci, a 256 MiB tagged
 * image marked for Mica, tests/mkdisk.py); elsewhere it reports nothing.
 *
 *   ahci.seq128k.MBps       the whole disk in 128 KiB reads, one at a time
 *   ahci.seq4k.iops         4 KiB reads, one at a time (the first 64 MiB)
 *   ahci.rand4k.qd32.iops   random 4 KiB reads, 32 in flight (each
 *                           completion routine checks its sectors and sends
 *                           its IRP again at once)
 *   ahci.seqwrite128k.MBps  128 KiB writes one at a time over 64 MiB from
 *                           1 MiB on, each sector written with its own tag
 *                           (so the image stays as mkdisk.py made it)
 * MB is 10^6 bytes, as Linux's dd and fio report it.
 */
#include "../../drivers/ahci/ahci.h"
#include "../kbench.h"
#include "../ktest.h"

#define KBA_TAG       'bAhA'
#define KBA_DISK_MIB  256
#define KBA_SECTOR    512
#define KBA_QD        32
#define KBA_RAND_IOS  32768
#define KBA_SEQ4K_IOS 16384
#define KBA_WRITE_FROM (1u << 20)       /* past LBA 1 and its mark */
#define KBA_WRITE_BYTES (64u << 20)

typedef struct _KBA_IO {
    PIRP Irp;
    PMDL Mdl;
    PUCHAR Buffer;
    ULONG64 Lba;
    ULONG Length;
} KBA_IO, *PKBA_IO;

static PAHCI_PORT KbaDisk(VOID)
{
    for (LONG i = 0; i < AhciDiskCount && i < AHCI_MAX_DISKS; i++)
        if (AhciDisks[i] != NULL && AhciDisks[i]->Writable &&
            AhciDisks[i]->Sectors * AhciDisks[i]->SectorSize == (ULONG64)KBA_DISK_MIB << 20)
            return AhciDisks[i];
    DbgPrint("# ahci benchmarks: no marked %u MiB disk (the bench-disk configuration has one)\n", KBA_DISK_MIB);
    return NULL;
}

static BOOLEAN KbaAlloc(PAHCI_PORT Disk, PKBA_IO Io, ULONG Length)
{
    Io->Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, Length, KBA_TAG);
    Io->Irp = IoAllocateIrp(Disk->Self->StackSize, FALSE);
    Io->Mdl = Io->Buffer ? IoAllocateMdl(Io->Buffer, Length, FALSE, FALSE, NULL) : NULL;
    if (Io->Buffer == NULL || Io->Irp == NULL || Io->Mdl == NULL)
        return FALSE;
    RtlZeroMemory(Io->Buffer, Length);  /* a written sector is its tag, then zeros: mkdisk.py's */
    MmBuildMdlForNonPagedPool(Io->Mdl);
    Io->Length = Length;
    return TRUE;
}

static VOID KbaFree(PKBA_IO Io)
{
    if (Io->Mdl)
        IoFreeMdl(Io->Mdl);
    if (Io->Irp)
        IoFreeIrp(Io->Irp);
    if (Io->Buffer)
        ExFreePoolWithTag(Io->Buffer, KBA_TAG);
}

static VOID KbaPrepare(PAHCI_PORT Disk, PKBA_IO Io, ULONG Major, ULONG64 Lba,
                       PIO_COMPLETION_ROUTINE Routine, PVOID Context)
{
    PIO_STACK_LOCATION next;

    IoReuseIrp(Io->Irp, STATUS_SUCCESS);
    Io->Irp->MdlAddress = Io->Mdl;
    Io->Lba = Lba;
    next = IoGetNextIrpStackLocation(Io->Irp);
    next->MajorFunction = (UCHAR)Major;
    next->Parameters.Read.Length = Io->Length;
    next->Parameters.Read.ByteOffset.QuadPart = (LONGLONG)(Lba * KBA_SECTOR);
    next->DeviceObject = Disk->Self;
    IoSetCompletionRoutine(Io->Irp, Routine, Context, TRUE, TRUE, TRUE);
}

static ULONG KbaBadTags(PKBA_IO Io)
{
    ULONG bad = 0;

    for (ULONG i = 0; i < Io->Length / KBA_SECTOR; i++)
        bad += *(ULONG64 *)(Io->Buffer + (SIZE_T)i * KBA_SECTOR) != Io->Lba + i;
    return bad;
}

static NTSTATUS KbaSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Sequential, one at a time: the elapsed counter ticks, or 0 on a failure. */
static ULONG64 KbaSequential(PAHCI_PORT Disk, ULONG Major, ULONG Length, ULONG64 FirstLba, ULONG64 Bytes)
{
    KBA_IO io = {0};
    KEVENT done;
    ULONG64 start, bad = 0, failed = 0;
    ULONG sectors = Length / KBA_SECTOR;

    if (!KbaAlloc(Disk, &io, Length)) {
        KbaFree(&io);
        return 0;
    }
    KeInitializeEvent(&done, SynchronizationEvent, FALSE);
    start = (ULONG64)KeQueryPerformanceCounter(NULL).QuadPart;
    for (ULONG64 lba = FirstLba; lba < FirstLba + Bytes / KBA_SECTOR; lba += sectors) {
        if (Major == IRP_MJ_WRITE)
            for (ULONG i = 0; i < sectors; i++)
                *(ULONG64 *)(io.Buffer + (SIZE_T)i * KBA_SECTOR) = lba + i;
        KbaPrepare(Disk, &io, Major, lba, KbaSignal, &done);
        IoCallDriver(Disk->Self, io.Irp);
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
        failed += !NT_SUCCESS(io.Irp->IoStatus.Status);
        if (Major == IRP_MJ_READ)
            bad += KbaBadTags(&io);
    }
    start = (ULONG64)KeQueryPerformanceCounter(NULL).QuadPart - start;
    KbaFree(&io);
    if (failed || bad) {
        DbgPrint("# ahci benchmark: %llu failed requests, %llu bad sectors\n", failed, bad);
        return 0;
    }
    return start;
}

static ULONG64 KbaFrequency(VOID)
{
    LARGE_INTEGER f;

    KeQueryPerformanceCounter(&f);
    return (ULONG64)f.QuadPart;
}

KBENCH(ahci_seq128k)
{
    PAHCI_PORT disk = KbaDisk();
    ULONG64 bytes, ticks;

    if (disk == NULL)
        return;
    bytes = disk->Sectors * KBA_SECTOR;
    ticks = KbaSequential(disk, IRP_MJ_READ, 128 * 1024, 0, bytes);
    if (ticks)
        KbenchReport("ahci.seq128k.MBps", bytes * KbaFrequency() / ticks / 1000000, "MBps");
}

KBENCH(ahci_seq4k)
{
    PAHCI_PORT disk = KbaDisk();
    ULONG64 ticks;

    if (disk == NULL)
        return;
    ticks = KbaSequential(disk, IRP_MJ_READ, 4096, 0, (ULONG64)KBA_SEQ4K_IOS * 4096);
    if (ticks)
        KbenchReport("ahci.seq4k.iops", (ULONG64)KBA_SEQ4K_IOS * KbaFrequency() / ticks, "iops");
}

KBENCH(ahci_seqwrite128k)
{
    PAHCI_PORT disk = KbaDisk();
    ULONG64 ticks;

    if (disk == NULL)
        return;
    ticks = KbaSequential(disk, IRP_MJ_WRITE, 128 * 1024, KBA_WRITE_FROM / KBA_SECTOR, KBA_WRITE_BYTES);
    if (ticks)
        KbenchReport("ahci.seqwrite128k.MBps", (ULONG64)KBA_WRITE_BYTES * KbaFrequency() / ticks / 1000000, "MBps");
}

/* 32 IRPs, each sent again by its completion routine until the count runs out. */
typedef struct _KBA_QUEUE {
    PAHCI_PORT Disk;
    KBA_IO Io[KBA_QD];
    volatile LONG Issued, Left;
    volatile LONG64 Bad, Failed;
    ULONG64 Seed;
    KSPIN_LOCK SeedLock;
    KEVENT Done;
} KBA_QUEUE;

static KBA_QUEUE KbaQueue;

static NTSTATUS KbaRandomDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context);

static VOID KbaRandomSend(PKBA_IO Io)
{
    ULONG64 lba;

    KeAcquireSpinLockAtDpcLevel(&KbaQueue.SeedLock);
    lba = KtestRandomBelow(&KbaQueue.Seed, KbaQueue.Disk->Sectors / 8) * 8;
    KeReleaseSpinLockFromDpcLevel(&KbaQueue.SeedLock);
    KbaPrepare(KbaQueue.Disk, Io, IRP_MJ_READ, lba, KbaRandomDone, Io);
    IoCallDriver(KbaQueue.Disk->Self, Io->Irp);
}

static NTSTATUS KbaRandomDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PKBA_IO io = Context;

    UNREFERENCED_PARAMETER(DeviceObject);
    if (!NT_SUCCESS(Irp->IoStatus.Status))
        KbaQueue.Failed++;
    KbaQueue.Bad += KbaBadTags(io);
    if (__atomic_add_fetch(&KbaQueue.Issued, 1, __ATOMIC_RELAXED) <= KBA_RAND_IOS - KBA_QD)
        KbaRandomSend(io);              /* DISPATCH_LEVEL: completions come from the DPC */
    else if (__atomic_sub_fetch(&KbaQueue.Left, 1, __ATOMIC_ACQ_REL) == 0)
        KeSetEvent(&KbaQueue.Done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

KBENCH(ahci_rand4k_qd32)
{
    PAHCI_PORT disk = KbaDisk();
    ULONG64 ticks;
    KIRQL irql;
    BOOLEAN ok = TRUE;

    if (disk == NULL)
        return;
    RtlZeroMemory(&KbaQueue, sizeof(KbaQueue));
    KbaQueue.Disk = disk;
    KbaQueue.Seed = 0xA4C1;
    KbaQueue.Left = KBA_QD;
    KeInitializeSpinLock(&KbaQueue.SeedLock);
    KeInitializeEvent(&KbaQueue.Done, NotificationEvent, FALSE);
    for (ULONG i = 0; i < KBA_QD; i++)
        ok &= KbaAlloc(disk, &KbaQueue.Io[i], 4096);
    if (ok) {
        ticks = (ULONG64)KeQueryPerformanceCounter(NULL).QuadPart;
        KeRaiseIrql(DISPATCH_LEVEL, &irql);     /* all 32 go out before the first completes */
        for (ULONG i = 0; i < KBA_QD; i++)
            KbaRandomSend(&KbaQueue.Io[i]);
        KeLowerIrql(irql);
        KeWaitForSingleObject(&KbaQueue.Done, Executive, KernelMode, FALSE, NULL);
        ticks = (ULONG64)KeQueryPerformanceCounter(NULL).QuadPart - ticks;
        if (KbaQueue.Failed || KbaQueue.Bad)
            DbgPrint("# ahci.rand4k.qd32: %lld failed, %lld bad sectors\n", KbaQueue.Failed, KbaQueue.Bad);
        else
            KbenchReport("ahci.rand4k.qd32.iops", (ULONG64)KBA_RAND_IOS * KbaFrequency() / ticks, "iops");
    }
    for (ULONG i = 0; i < KBA_QD; i++)
        KbaFree(&KbaQueue.Io[i]);
}

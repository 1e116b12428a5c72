/*
 * pagefile.c - the page file: which disk, its slot bitmap, and paging I/O.
 *
 * The page file is a whole disk that carries Mica's page-file mark: LBA 1
 * holds MI_PAGEFILE_MARK at byte MI_PAGEFILE_MARK_OFFSET (after the LBA
 * tag and the AHCI driver's writable mark, tests/mkdisk.py --pagefile), so
 * no other disk is ever written by the pager. The boot option pagefile=N
 * picks \Device\HarddiskN\DRN (it must carry the mark too), pagefile=off
 * none; by default the first marked disk is used.
 *
 * Slot s is the 4 KiB at byte s * PAGE_SIZE. Slot 0 holds the mark (NT's
 * "page 0 is the header") and is never handed out, so PageFileHigh 0 in a
 * PTE means "no slot", as in NT. The bitmap has one bit per slot, set =
 * in use; slots are allocated in runs (next fit from a hint) so the
 * modified page writer can write a cluster of pages in one request. A slot
 * whose write failed is marked bad and never used again (the page goes to
 * another slot). The bitmap and the counts are guarded by MmPfnLock.
 *
 * Paging I/O goes to the disk's device as IRP_MJ_READ / IRP_MJ_WRITE with
 * an MDL of the frames (NT's IoPageRead / IoAsynchronousPageWrite). Nothing
 * here allocates: a read's IRP and MDL are on the faulting thread's stack
 * (nonpaged), the writer's come from pager.c's preallocated contexts.
 */
#include "pool_internal.h"
#include "../kernel/io/io.h"
#include "../kernel/io/ntdddisk.h"

#define MI_PAGEFILE_MARK        "MICA-PAGEFILE-01"
#define MI_PAGEFILE_MARK_LBA    1
#define MI_PAGEFILE_MARK_OFFSET 24
#define MI_PAGEFILE_MARK_BYTES  16
#define MI_SECTOR_SIZE          512
#define MI_PAGEFILE_MAX_DISKS   16
#define MI_PAGEFILE_MAX_SLOTS   (4ULL << 30 >> PAGE_SHIFT)  /* 4 GiB: the bitmap stays small */
#define MI_PAGEFILE_MAX_STACK   8       /* IRP stack locations a read carries on the stack */
#define MI_PAGEFILE_TAG         'fPmM'

MI_PAGING_FILE MiPagingFile;
BOOLEAN MiPagingEnabled;

ULONG64 MiPageFileSlots(VOID)
{
    return MiPagingEnabled ? MiPagingFile.Size : 0;
}

CCHAR MiPageFileStackSize(VOID)
{
    return MiPagingFile.Device->StackSize;
}

static BOOLEAN MiSlotUsed(ULONG64 Slot)
{
    return (MiPagingFile.Bitmap[Slot / 64] >> (Slot % 64)) & 1;
}

static void MiSetSlot(ULONG64 Slot, BOOLEAN Used)
{
    if (Used)
        MiPagingFile.Bitmap[Slot / 64] |= 1ULL << (Slot % 64);
    else
        MiPagingFile.Bitmap[Slot / 64] &= ~(1ULL << (Slot % 64));
}

/* MmPfnLock held: slots [First, First + Count) are all free; they become
 * used, and the next search starts after them (next fit). */
static void MiTakeSlots(ULONG64 First, ULONG Count)
{
    MI_PAGING_FILE *f = &MiPagingFile;

    for (ULONG i = 0; i < Count; i++)
        MiSetSlot(First + i, TRUE);
    f->FreeSpace -= Count;
    f->CurrentUsage += Count;
    if (f->CurrentUsage > f->PeakUsage)
        f->PeakUsage = f->CurrentUsage;
    f->Hint = First + Count;
}

/* The pagefile lab's stand-in (tests/labs/pagefile.md): the first free
 * slot from slot 1, one bit at a time, and never more than one slot, so
 * every page-file write is a single page. Correct, but slow twice over. */
static __attribute__((unused)) ULONG64 MiAllocatePageFileRunLabFallback(ULONG *Got)
{
    for (ULONG64 s = 1; s < MiPagingFile.Size; s++)
        if (!MiSlotUsed(s)) {
            MiTakeSlots(s, 1);
            *Got = 1;
            return s;
        }
    return 0;
}

/*
 * MmPfnLock held: a run of up to Wanted free slots, marked used; its first
 * slot, and its length in *Got. Next fit from the hint: the first free run
 * found is taken, shortened to what is free (NT shrinks its wish until
 * something fits). 0 when the file is full.
 */
ULONG64 MiAllocatePageFileRun(ULONG Wanted, ULONG *Got)
{
    MI_PAGING_FILE *f = &MiPagingFile;

    *Got = 0;
    if (!MiPagingEnabled || f->FreeSpace == 0 || Wanted == 0)
        return 0;
    /* LAB pagefile: BEGIN - next fit: scan from f->Hint, wrapping to slot 1 (never 0), a whole used word skipped at once; the first free slot starts the run, which ends at Wanted, at a used slot or at f->Size; MiTakeSlots it */
    ULONG64 s = f->Hint, scanned = 0;

    while (scanned < f->Size) {
        if (s >= f->Size)
            s = 1;
        /* Whole used words are skipped 64 slots at a time. */
        if (s % 64 == 0 && f->Bitmap[s / 64] == ~0ULL) {
            scanned += 64;
            s += 64;
            continue;
        }
        if (!MiSlotUsed(s)) {
            ULONG n = 0;
            while (n < Wanted && s + n < f->Size && !MiSlotUsed(s + n))
                n++;
            MiTakeSlots(s, n);
            *Got = n;
            return s;
        }
        s++;
        scanned++;
    }
    return 0;
    /* LAB pagefile: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(pagefile);
    return MiAllocatePageFileRunLabFallback(Got);
#endif
    /* LAB pagefile: END */
}

/* MmPfnLock held: Slot is free again. Freeing a free slot (or slot 0) is
 * MEMORY_MANAGEMENT, as ReactOS's check of the same (0x7001 there). */
#define MI_MM_FREE_UNALLOCATED_SLOT 0x7001

VOID MiReleasePageFileSlot(ULONG64 Slot)
{
    /* LAB pagefile: BEGIN - a slot that is 0, past the end or not in use is MEMORY_MANAGEMENT (0x7001, Slot, 0, Size); else clear its bit and put it back in the counts */
    if (Slot == 0 || Slot >= MiPagingFile.Size || !MiSlotUsed(Slot))
        KeBugCheckEx(MEMORY_MANAGEMENT, MI_MM_FREE_UNALLOCATED_SLOT, Slot, 0, MiPagingFile.Size);
    MiSetSlot(Slot, FALSE);
    MiPagingFile.FreeSpace++;
    MiPagingFile.CurrentUsage--;
    /* LAB pagefile: ELSE */
#ifdef MICA_LAB_STUB
    /* The stand-in trusts its caller: a double free goes unnoticed. */
    LAB_TODO(pagefile);
    MiSetSlot(Slot, FALSE);
    MiPagingFile.FreeSpace++;
    MiPagingFile.CurrentUsage--;
#endif
    /* LAB pagefile: END */
}

/* MmPfnLock held: a slot whose write failed stays used for good. */
VOID MiMarkPageFileSlotBad(ULONG64 Slot)
{
    if (Slot == 0 || Slot >= MiPagingFile.Size || !MiSlotUsed(Slot))
        KeBugCheckEx(MEMORY_MANAGEMENT, MI_MM_FREE_UNALLOCATED_SLOT, Slot, 1, MiPagingFile.Size);
    MiPagingFile.BadSlots++;
    MiPagingFile.CurrentUsage--;        /* still not free: counted as bad */
}

static NTSTATUS MiSignalIo(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent(Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;     /* the IRP is the caller's */
}

/* Set up Irp (caller's memory, StackSize locations) for Major at Slot. */
static void MiBuildPagingIrp(PIRP Irp, ULONG Major, PMDL Mdl, ULONG64 Slot)
{
    PIO_STACK_LOCATION next;

    Irp->MdlAddress = Mdl;
    Irp->Flags |= IRP_PAGING_IO | IRP_NOCACHE;
    next = IoGetNextIrpStackLocation(Irp);
    next->MajorFunction = (UCHAR)Major;
    next->Parameters.Read.Length = MmGetMdlByteCount(Mdl);
    next->Parameters.Read.ByteOffset.QuadPart = (LONGLONG)(Slot << PAGE_SHIFT);
}

/* One synchronous transfer of an MDL at Slot (IRQL PASSIVE/APC_LEVEL). */
static NTSTATUS MiPageFileTransfer(PDEVICE_OBJECT Device, ULONG Major, PMDL Mdl, ULONG64 Slot)
{
    ULONG64 irpSpace[(sizeof(IRP) + MI_PAGEFILE_MAX_STACK * sizeof(IO_STACK_LOCATION) + 7) / 8];
    PIRP irp = (PIRP)irpSpace;
    KEVENT event;

    if (Device->StackSize > MI_PAGEFILE_MAX_STACK)
        return STATUS_INVALID_DEVICE_REQUEST;
    IoInitializeIrp(irp, IoSizeOfIrp(Device->StackSize), Device->StackSize);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    MiBuildPagingIrp(irp, Major, Mdl, Slot);
    IoSetCompletionRoutine(irp, MiSignalIo, &event, TRUE, TRUE, TRUE);
    IoCallDriver(Device, irp);
    KeWaitForSingleObject(&event, PageIn, KernelMode, FALSE, NULL);
    if (NT_SUCCESS(irp->IoStatus.Status) && irp->IoStatus.Information != MmGetMdlByteCount(Mdl))
        return STATUS_DEVICE_DATA_ERROR;
    return irp->IoStatus.Status;
}

/* The hard fault's read: one page from Slot into frame Page. The thread
 * waits (KernelMode, not alertable) for the disk, as NT's IoPageRead. */
NTSTATUS MiReadPageFile(ULONG64 Slot, PFN_NUMBER Page)
{
    struct {
        MDL Mdl;
        PFN_NUMBER Pfn[1];
    } m;

    if (Slot == 0 || Slot >= MiPagingFile.Size)
        KeBugCheckEx(MEMORY_MANAGEMENT, 0x411, Slot, 0, MiPagingFile.Size);  /* corrupt PTE */
    MmInitializeMdl(&m.Mdl, NULL, PAGE_SIZE);
    m.Mdl.MdlFlags |= MDL_PAGES_LOCKED | MDL_IO_PAGE_READ;
    m.Pfn[0] = Page;
    __atomic_add_fetch(&MiPagingFile.Reads, 1, __ATOMIC_RELAXED);
    return MiPageFileTransfer(MiPagingFile.Device, IRP_MJ_READ, &m.Mdl, Slot);
}

/* The writer's cluster: asynchronous. Irp is IoSizeOfIrp(MiPageFileStackSize())
 * bytes of the caller's, kept until Routine (its completion routine, which
 * must return STATUS_MORE_PROCESSING_REQUIRED) has run. */
VOID MiWritePageFile(ULONG64 Slot, PMDL Mdl, PIRP Irp, PIO_COMPLETION_ROUTINE Routine, PVOID Context)
{
    PDEVICE_OBJECT device = MiPagingFile.Device;

    IoInitializeIrp(Irp, IoSizeOfIrp(device->StackSize), device->StackSize);
    MiBuildPagingIrp(Irp, IRP_MJ_WRITE, Mdl, Slot);
    IoSetCompletionRoutine(Irp, Routine, Context, TRUE, TRUE, TRUE);
    __atomic_add_fetch(&MiPagingFile.Writes, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&MiPagingFile.PagesWritten, MmGetMdlByteCount(Mdl) >> PAGE_SHIFT, __ATOMIC_RELAXED);
    IoCallDriver(device, Irp);
}

/* Does disk N carry the page-file mark? Its size in bytes if so, else 0. */
static ULONG64 MiProbePageFileDisk(ULONG N, PUCHAR Buffer, PDEVICE_OBJECT *Device)
{
    char ansi[48];
    ANSI_STRING a;
    UNICODE_STRING name;
    PVOID file;
    PDEVICE_OBJECT device;
    DISK_GEOMETRY_EX geometry;
    IO_STATUS_BLOCK iosb;
    KEVENT event;
    PIRP irp;
    NTSTATUS status;
    struct {
        MDL Mdl;
        PFN_NUMBER Pfn[1];
    } m;

    RtlSnprintf(ansi, sizeof(ansi), "\\Device\\Harddisk%u\\DR%u", N, N);
    RtlInitAnsiString(&a, ansi);
    if (!NT_SUCCESS(RtlAnsiStringToUnicodeString(&name, &a, TRUE)))
        return 0;
    status = IoGetDeviceObjectPointer(&name, FILE_READ_DATA | FILE_WRITE_DATA, &file, &device);
    RtlFreeUnicodeString(&name);
    if (!NT_SUCCESS(status))
        return 0;
    /* The size first (a disk that cannot say is not used). */
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(IOCTL_DISK_GET_DRIVE_GEOMETRY_EX, device, NULL, 0, &geometry,
                                        sizeof(geometry), FALSE, &event, &iosb);
    if (irp == NULL)
        goto no;
    status = IoCallDriver(device, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = iosb.Status;
    }
    if (!NT_SUCCESS(status))
        goto no;
    MmInitializeMdl(&m.Mdl, NULL, PAGE_SIZE);
    m.Mdl.MdlFlags |= MDL_PAGES_LOCKED;
    m.Pfn[0] = (PFN_NUMBER)(MmGetPhysicalAddress(Buffer).QuadPart >> PAGE_SHIFT);
    if (!NT_SUCCESS(MiPageFileTransfer(device, IRP_MJ_READ, &m.Mdl, 0)))
        goto no;
    if (memcmp(Buffer + MI_PAGEFILE_MARK_LBA * MI_SECTOR_SIZE + MI_PAGEFILE_MARK_OFFSET, MI_PAGEFILE_MARK,
               MI_PAGEFILE_MARK_BYTES) != 0)
        goto no;
    *Device = device;                   /* the reference stays: the page file is for good */
    return (ULONG64)geometry.DiskSize.QuadPart;
no:
    ObDereferenceObject(file);
    return 0;
}

/*
 * Phase 2 (after the drivers): find the page file. TRUE if one is in use;
 * the commit limit grows by its slots (commit.c).
 */
BOOLEAN MiPageFileInitialize(VOID)
{
    char option[16];
    ULONG64 wanted = ~0ULL, bytes = 0, slots;
    PUCHAR buffer;
    PDEVICE_OBJECT device = NULL;
    ULONG n;
    KIRQL irql;

    if (KeQueryBootOption("pagefile", option, sizeof(option))) {
        if (strcmp(option, "off") == 0 || strcmp(option, "none") == 0) {
            DbgPrint("Mm: no page file (pagefile=%s)\n", option);
            return FALSE;
        }
        if (!KeQueryBootOptionNumber("pagefile", &wanted) || wanted >= MI_PAGEFILE_MAX_DISKS) {
            DbgPrint("Mm: pagefile=%s: not a disk number; no page file\n", option);
            return FALSE;
        }
    }
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, PAGE_SIZE, MI_PAGEFILE_TAG);
    if (buffer == NULL)
        return FALSE;
    for (n = 0; n < MI_PAGEFILE_MAX_DISKS && bytes == 0; n++)
        if (wanted == ~0ULL || wanted == n)
            bytes = MiProbePageFileDisk(n, buffer, &device);
    ExFreePoolWithTag(buffer, MI_PAGEFILE_TAG);
    if (bytes == 0) {
        if (wanted != ~0ULL)
            DbgPrint("Mm: pagefile=%llu: no such disk with the page-file mark; no page file\n", wanted);
        else
            DbgPrint("Mm: no disk carries the page-file mark; no page file\n");
        return FALSE;
    }
    n--;
    slots = bytes >> PAGE_SHIFT;
    if (slots > MI_PAGEFILE_MAX_SLOTS)
        slots = MI_PAGEFILE_MAX_SLOTS;
    MiPagingFile.Bitmap = ExAllocatePoolWithTag(NonPagedPoolNx, (slots + 63) / 64 * 8, MI_PAGEFILE_TAG);
    if (MiPagingFile.Bitmap == NULL || slots < 2)
        return FALSE;
    RtlZeroMemory(MiPagingFile.Bitmap, (slots + 63) / 64 * 8);
    /* Bits past the end of the last word are "used": the scan never runs off. */
    for (ULONG64 s = slots; s % 64 != 0; s++)
        MiPagingFile.Bitmap[s / 64] |= 1ULL << (s % 64);
    KeAcquireSpinLock(&MmPfnLock, &irql);
    MiPagingFile.Device = device;
    MiPagingFile.DiskNumber = n;
    MiPagingFile.Size = slots;
    MiSetSlot(0, TRUE);                 /* the header: PageFileHigh 0 means "no slot" */
    MiPagingFile.FreeSpace = slots - 1;
    MiPagingFile.Hint = 1;
    MiPagingEnabled = TRUE;
    MmTotalCommitLimit += slots - 1;
    KeReleaseSpinLock(&MmPfnLock, irql);
    DbgPrint("Mm: page file on \\Device\\Harddisk%u\\DR%u: %llu slots (%llu MiB); commit limit %llu pages\n",
             n, n, slots - 1, (slots - 1) >> 8, (ULONG64)MmTotalCommitLimit);
    return TRUE;
}

/*
 * port.c - one AHCI port with an ATA disk behind it: its memory (command
 * list, received-FIS area and command tables, all in one common buffer
 * from the DMA adapter), start and stop (AHCI 10.3.1), polled commands for
 * IDENTIFY and the mark at start-up, and the request queue.
 *
 * The queue keeps the slots full: an IRP is cut into pieces of at most
 * Hba->MaxTransfer bytes, each piece takes a free slot and a scatter/gather
 * list from the adapter (GetScatterGatherList: the device sees only
 * logical addresses), and every slot made ready in one pass is started
 * with one PxSACT and one PxCI write. With NCQ (CAP.SNCQ and IDENTIFY word
 * 76 bit 8) pieces are READ/WRITE FPDMA QUEUED, up to the device's queue
 * depth at once; without it READ/WRITE DMA EXT (the HBA runs them in slot
 * order). FLUSH CACHE EXT is not queued: it waits for an idle port and
 * holds the port until it ends.
 *
 * Port->Lock (DISPATCH_LEVEL) guards the queue and the slots. A slot's
 * scatter/gather callback may run inside GetScatterGatherList (the usual
 * case: the pump then starts it with the batch) or later, from the free of
 * map registers another list held (it then starts itself): the slot's
 * State, moved with compare-and-swap, says which. Lists are put back and
 * IRPs completed only after the lock is dropped, since a put may run a
 * waiting callback that takes the lock.
 *
 * What goes wrong is recover.c's (port_internal.h is the interface between
 * the two): ServiceLocked asks it who an error interrupt or a timeout is
 * charged to; it resets the port, ends the culprit and marks the other
 * slots (Retry, Reissue, Retrying, ClearStatus), and Pump below starts
 * them again by those marks, asking AhciPortMayQueue whether the next
 * command may be a queued one.
 */
#include "port_internal.h"

#define POLLED_WAIT_MS      5000

/* Irp->Tail.Overlay.DriverContext: what the queue keeps per IRP. */
#define IRP_NEXT(Irp)        (*(ULONG_PTR *)&(Irp)->Tail.Overlay.DriverContext[0])
#define IRP_OUTSTANDING(Irp) (*(ULONG_PTR *)&(Irp)->Tail.Overlay.DriverContext[1])
#define IRP_STATUS(Irp)      (*(ULONG_PTR *)&(Irp)->Tail.Overlay.DriverContext[2])

BOOLEAN AhciPortWait(PAHCI_PORT Port, ULONG Offset, ULONG Mask, ULONG Value, ULONG Milliseconds)
{
    for (ULONG i = 0; i <= Milliseconds * 10; i++) {
        if ((AhciRead(Port->Regs, Offset) & Mask) == Value)
            return TRUE;
        KeStallExecutionProcessor(100);
    }
    return FALSE;
}

/* AHCI 10.1.2: ST off and CR clear, then FRE off and FR clear. */
BOOLEAN AhciPortStop(PAHCI_PORT Port)
{
    ULONG cmd = AhciRead(Port->Regs, PX_CMD);

    AhciWrite(Port->Regs, PX_CMD, cmd & ~PX_CMD_ST);
    if (!AhciPortWait(Port, PX_CMD, PX_CMD_CR, 0, PORT_STOP_WAIT_MS))
        return FALSE;
    cmd = AhciRead(Port->Regs, PX_CMD);
    AhciWrite(Port->Regs, PX_CMD, cmd & ~PX_CMD_FRE);
    return AhciPortWait(Port, PX_CMD, PX_CMD_FR, 0, PORT_STOP_WAIT_MS);
}

static PUCHAR TableOf(PAHCI_PORT Port, ULONG Slot)
{
    return Port->Tables + (SIZE_T)Slot * AHCI_CMD_TABLE_BYTES;
}

/* The register H2D FIS of an LBA48 command (count in the COUNT field), or
 * of an NCQ one (count in FEATURES, the tag in COUNT bits 7:3). */
static VOID BuildFis(PUCHAR Fis, UCHAR Command, ULONG64 Lba, ULONG Count, BOOLEAN Ncq, ULONG Tag)
{
    RtlZeroMemory(Fis, 20);
    Fis[0] = FIS_TYPE_REG_H2D;
    Fis[1] = FIS_H2D_COMMAND;
    Fis[2] = Command;
    Fis[4] = (UCHAR)Lba;
    Fis[5] = (UCHAR)(Lba >> 8);
    Fis[6] = (UCHAR)(Lba >> 16);
    Fis[7] = Command == ATA_IDENTIFY_DEVICE ? 0 : ATA_DEVICE_LBA;
    Fis[8] = (UCHAR)(Lba >> 24);
    Fis[9] = (UCHAR)(Lba >> 32);
    Fis[10] = (UCHAR)(Lba >> 40);
    if (Ncq) {
        Fis[3] = (UCHAR)Count;
        Fis[11] = (UCHAR)(Count >> 8);
        Fis[12] = (UCHAR)(Tag << 3);
    } else {
        Fis[12] = (UCHAR)Count;
        Fis[13] = (UCHAR)(Count >> 8);
    }
}

static VOID SetPrd(PAHCI_PRD Prd, ULONG64 Address, ULONG Length)
{
    Prd->Dba = (ULONG)Address;
    Prd->Dbau = (ULONG)(Address >> 32);
    Prd->Reserved = 0;
    Prd->Dbc = Length - 1;              /* zero-based; Length is even, so bit 0 is set */
}

/* A command on a free slot with the port's interrupts off, waited for by
 * polling: at start-up, before the port takes requests, and for the NCQ
 * error log during recovery. Length 0: no data; data lands in Scratch. */
NTSTATUS AhciPortPolled(PAHCI_PORT Port, ULONG Slot, UCHAR Command, ULONG64 Lba, ULONG Count, ULONG Length)
{
    PAHCI_CMD_HEADER h = &Port->CmdList[Slot];
    PUCHAR table = TableOf(Port, Slot);

    BuildFis(table, Command, Lba, Count, FALSE, 0);
    if (Length != 0)
        SetPrd((PAHCI_PRD)(table + AHCI_CT_PRDT_OFFSET), Port->ScratchLogical, Length);
    h->Flags = AHCI_CMD_CFL_H2D | AHCI_CMD_PRDTL(Length != 0 ? 1 : 0);
    h->Prdbc = 0;
    AhciWrite(Port->Regs, PX_IS, ~0u);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    AhciWrite(Port->Regs, PX_CI, 1u << Slot);
    for (ULONG i = 0; i <= POLLED_WAIT_MS * 10; i++) {
        if (AhciRead(Port->Regs, PX_IS) & PX_IS_ERRORS)
            return STATUS_IO_DEVICE_ERROR;
        if ((AhciRead(Port->Regs, PX_CI) & (1u << Slot)) == 0)
            return STATUS_SUCCESS;
        KeStallExecutionProcessor(100);
    }
    return STATUS_IO_TIMEOUT;
}

NTSTATUS AhciPortReadPolled(PAHCI_PORT Port, ULONG64 Lba)
{
    return AhciPortPolled(Port, 0, ATA_READ_DMA_EXT, Lba, 1, Port->SectorSize);
}

/* ATA strings are big-endian words, padded with spaces. */
static VOID IdString(const USHORT *Id, ULONG Word, ULONG Chars, char *Out)
{
    for (ULONG i = 0; i < Chars / 2; i++) {
        Out[2 * i] = (char)(Id[Word + i] >> 8);
        Out[2 * i + 1] = (char)Id[Word + i];
    }
    Out[Chars] = 0;
    for (LONG i = (LONG)Chars - 1; i >= 0 && (Out[i] == ' ' || Out[i] == 0); i--)
        Out[i] = 0;
}

NTSTATUS AhciPortIdentify(PAHCI_PORT Port)
{
    const USHORT *id = (const USHORT *)Port->Scratch;
    NTSTATUS status = AhciPortPolled(Port, 0, ATA_IDENTIFY_DEVICE, 0, 0, 512);

    if (!NT_SUCCESS(status))
        return status;
    IdString(id, ID_MODEL, 40, Port->Model);
    IdString(id, ID_SERIAL, 20, Port->Serial);
    IdString(id, ID_FIRMWARE, 8, Port->Firmware);
    Port->Lba48 = (id[ID_CMDSET_83] & (1u << 10)) != 0;
    if (Port->Lba48)
        Port->Sectors = id[ID_LBA48_SECTORS] | (ULONG64)id[ID_LBA48_SECTORS + 1] << 16 |
                        (ULONG64)id[ID_LBA48_SECTORS + 2] << 32 | (ULONG64)id[ID_LBA48_SECTORS + 3] << 48;
    else
        Port->Sectors = id[ID_LBA28_SECTORS] | (ULONG64)id[ID_LBA28_SECTORS + 1] << 16;
    Port->SectorSize = 512;
    Port->PhysicalSectorSize = 512;
    if ((id[ID_SECTOR_SIZE] & 0xC000) == 0x4000) {
        if (id[ID_SECTOR_SIZE] & (1u << 12))
            Port->SectorSize = 2 * (id[ID_LOGICAL_SIZE] | (ULONG)id[ID_LOGICAL_SIZE + 1] << 16);
        Port->PhysicalSectorSize = Port->SectorSize;
        if (id[ID_SECTOR_SIZE] & (1u << 13))
            Port->PhysicalSectorSize <<= (id[ID_SECTOR_SIZE] & 0xF);
    }
    Port->Ncq = (Port->Hba->Cap & AHCI_CAP_SNCQ) && (id[ID_SATA_CAP] & (1u << 8)) && Port->Lba48;
    Port->QueueDepth = Port->Hba->Slots;
    if (Port->Ncq && (ULONG)(id[ID_QUEUE_DEPTH] & 0x1F) + 1 < Port->QueueDepth)
        Port->QueueDepth = (id[ID_QUEUE_DEPTH] & 0x1F) + 1;
    Port->WriteCacheSupported = (id[ID_CMDSET_82] & (1u << 5)) != 0;
    Port->WriteCacheEnabled = (id[ID_CMDSET_85] & (1u << 5)) != 0;
    /* Word 84 is valid when bits 15:14 read 01 (ATA8-ACS 7.16.7.40). */
    Port->Gpl = (id[ID_CMDSET_84] & 0xC000) == 0x4000 && (id[ID_CMDSET_84] & ID_GPL) != 0;
    if (!Port->Lba48 || Port->SectorSize < 512 || Port->SectorSize > PAGE_SIZE)
        return STATUS_NOT_SUPPORTED;    /* CHS/LBA28-only and odd sector sizes are not driven */
    return STATUS_SUCCESS;
}

/* AHCI 10.3.1 and 10.1.2: the port's memory, FRE, the device's signature,
 * then ST. Interrupts stay off until the disk exists (PxIE by the caller). */
static NTSTATUS BringUp(PAHCI_PORT Port)
{
    PAHCI_HBA hba = Port->Hba;
    PHYSICAL_ADDRESS logical;
    ULONG64 base, clb, fb;
    ULONG sig;

    Port->Regs = hba->Abar + AHCI_PORT_BASE(Port->Number);
    if (!AhciPortStop(Port))
        return STATUS_IO_TIMEOUT;
    /* Spin the device up (a no-op without CAP.SSS) and look for it. */
    AhciWrite(Port->Regs, PX_CMD, AhciRead(Port->Regs, PX_CMD) | PX_CMD_SUD | PX_CMD_POD);
    if (!AhciPortWait(Port, PX_SSTS, 0xF, PX_SSTS_DET_PRESENT, 20))
        return STATUS_NO_SUCH_DEVICE;

    /* Scratch page, command list, received FIS, then the tables: the
     * buffer is page-aligned, so each part keeps its alignment. */
    Port->CommonBytes = PAGE_SIZE + AHCI_CMD_LIST_BYTES + 1024 + AHCI_SLOTS * AHCI_CMD_TABLE_BYTES;
    Port->Common = hba->Dma->DmaOperations->AllocateCommonBuffer(hba->Dma, Port->CommonBytes, &logical, FALSE);
    if (Port->Common == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(Port->Common, Port->CommonBytes);
    Port->CommonLogical = logical;
    base = (ULONG64)logical.QuadPart;
    Port->Scratch = Port->Common;
    Port->ScratchLogical = base;
    Port->CmdList = (PAHCI_CMD_HEADER)(Port->Common + PAGE_SIZE);
    clb = base + PAGE_SIZE;
    Port->RecvFis = Port->Common + PAGE_SIZE + AHCI_CMD_LIST_BYTES;
    fb = clb + AHCI_CMD_LIST_BYTES;
    Port->Tables = Port->RecvFis + 1024;
    Port->TablesLogical = fb + 1024;
    for (ULONG s = 0; s < AHCI_SLOTS; s++) {
        ULONG64 ct = Port->TablesLogical + (ULONG64)s * AHCI_CMD_TABLE_BYTES;
        Port->CmdList[s].Ctba = (ULONG)ct;
        Port->CmdList[s].Ctbau = (ULONG)(ct >> 32);
        Port->Slots[s].Port = Port;
    }
    AhciWrite(Port->Regs, PX_CLB, (ULONG)clb);
    AhciWrite(Port->Regs, PX_CLBU, (ULONG)(clb >> 32));
    AhciWrite(Port->Regs, PX_FB, (ULONG)fb);
    AhciWrite(Port->Regs, PX_FBU, (ULONG)(fb >> 32));
    AhciWrite(Port->Regs, PX_SERR, ~0u);
    AhciWrite(Port->Regs, PX_IS, ~0u);
    AhciWrite(Port->Regs, PX_CMD, AhciRead(Port->Regs, PX_CMD) | PX_CMD_FRE);
    /* The device's first D2H FIS (signature, status) arrives once FRE is on. */
    if (!AhciPortWait(Port, PX_TFD, PX_TFD_BSY | PX_TFD_DRQ, 0, PORT_READY_WAIT_MS))
        return STATUS_IO_TIMEOUT;
    sig = AhciRead(Port->Regs, PX_SIG);
    if (sig != PX_SIG_ATA)
        return STATUS_NO_SUCH_DEVICE;   /* ATAPI (q35's CD-ROM), port multipliers, ... */
    AhciWrite(Port->Regs, PX_SERR, ~0u);
    AhciWrite(Port->Regs, PX_CMD, AhciRead(Port->Regs, PX_CMD) | PX_CMD_ST);
    return STATUS_SUCCESS;
}

NTSTATUS AhciPortStart(PAHCI_HBA Hba, ULONG Number, PAHCI_PORT Port)
{
    Port->Hba = Hba;
    Port->Number = Number;
    KeInitializeSpinLock(&Port->Lock);
    InitializeListHead(&Port->Queue);
    return BringUp(Port);
}

/* ---- The queue ---- */

static VOID Issue(PAHCI_PORT Port, ULONG Bits, ULONG NcqBits)
{
    /* The tables and headers must be in memory before the HBA reads them. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (NcqBits != 0)
        AhciWrite(Port->Regs, PX_SACT, NcqBits);
    AhciWrite(Port->Regs, PX_CI, Bits);
    for (ULONG pending = Bits; pending != 0; pending &= pending - 1)
        Port->Slots[__builtin_ctz(pending)].IssuedTick = Port->Ticks;
    Port->Issued |= Bits;
    Port->NcqIssued |= NcqBits;
    Port->Batches++;
    if (AhciCountBits(Port->Issued) > Port->MaxInFlight)
        Port->MaxInFlight = AhciCountBits(Port->Issued);
}

/* The mdl lab's stand-in (tests/labs/mdl.md): a PRD per page-sized piece
 * of each element - correct, but up to 4 MiB / 4 KiB times more entries
 * for the HBA to fetch. A transfer of at most AHCI_MAX_TRANSFER spans at
 * most AHCI_PRDT_ENTRIES pages, so it fits. */
static __attribute__((unused)) ULONG AhciBuildPrdtLabFallback(PAHCI_PRD Prdt, PSCATTER_GATHER_LIST Sg)
{
    ULONG n = 0;

    for (ULONG i = 0; i < Sg->NumberOfElements; i++) {
        ULONG64 a = (ULONG64)Sg->Elements[i].Address.QuadPart;
        ULONG64 end = a + Sg->Elements[i].Length;
        while (a < end) {
            ULONG64 next = (a + PAGE_SIZE) & ~(ULONG64)(PAGE_SIZE - 1);
            ULONG part = (ULONG)((next < end ? next : end) - a);
            SetPrd(&Prdt[n++], a, part);
            a += part;
        }
    }
    return n;
}

/*
 * A command's PRDT from the scatter/gather list the adapter gave for its
 * piece (the logical addresses the device may use, never the MDL's own
 * frames: map registers may stand in between). Returns the entries used.
 * Any IRQL <= DISPATCH_LEVEL.
 */
ULONG AhciBuildPrdt(PAHCI_PRD Prdt, PSCATTER_GATHER_LIST Sg)
{
    /* LAB mdl: BEGIN - one PRD per element, cut into pieces of at most AHCI_PRD_MAX_BYTES (SetPrd writes one: DBC is the count minus one, no I bit); return how many */
    ULONG n = 0;

    for (ULONG i = 0; i < Sg->NumberOfElements; i++) {
        ULONG64 a = (ULONG64)Sg->Elements[i].Address.QuadPart;
        ULONG left = Sg->Elements[i].Length;
        while (left != 0) {             /* a PRD holds at most 4 MiB */
            ULONG part = left < AHCI_PRD_MAX_BYTES ? left : AHCI_PRD_MAX_BYTES;
            SetPrd(&Prdt[n++], a, part);
            a += part;
            left -= part;
        }
    }
    return n;
    /* LAB mdl: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO(mdl);
    return AhciBuildPrdtLabFallback(Prdt, Sg);
#endif
    /* LAB mdl: END */
}

/* Fill slot's table from its list (any IRQL <= DISPATCH, slot is ours). */
static VOID BuildSlot(PAHCI_PORT Port, ULONG Slot, BOOLEAN Ncq)
{
    PAHCI_SLOT s = &Port->Slots[Slot];
    ULONG n = AhciBuildPrdt((PAHCI_PRD)(TableOf(Port, Slot) + AHCI_CT_PRDT_OFFSET), s->Sg);
    ULONG count = s->Length / Port->SectorSize;
    UCHAR command;

    if (Ncq)
        command = s->Write ? ATA_WRITE_FPDMA_QUEUED : ATA_READ_FPDMA_QUEUED;
    else
        command = s->Write ? ATA_WRITE_DMA_EXT : ATA_READ_DMA_EXT;
    BuildFis(TableOf(Port, Slot), command, s->Lba, count == ATA_MAX_SECTORS_LBA48 ? 0 : count,
             Ncq, Slot);
    if (Port->IgnoreArmed && Port->IgnoreLba >= s->Lba && Port->IgnoreLba < s->Lba + count)
        TableOf(Port, Slot)[1] |= FIS_H2D_PMP_MASK;     /* the tests' unanswered command */
    Port->CmdList[Slot].Flags = AHCI_CMD_CFL_H2D | (s->Write ? AHCI_CMD_WRITE : 0) | AHCI_CMD_PRDTL(n);
    Port->CmdList[Slot].Prdbc = 0;
}

static VOID Finish(PAHCI_PORT Port, PSCATTER_GATHER_LIST *Put, BOOLEAN *PutWrite, ULONG Puts, PLIST_ENTRY Done);

static VOID ListControl(PDEVICE_OBJECT DeviceObject, PIRP Irp, PSCATTER_GATHER_LIST Sg, PVOID Context)
{
    PAHCI_SLOT s = Context;
    PAHCI_PORT port = s->Port;
    ULONG slot = (ULONG)(s - port->Slots);
    LONG expected = SlotBuilding;

    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    s->Sg = Sg;
    BuildSlot(port, slot, port->Ncq);
    if (__atomic_compare_exchange_n(&s->State, &expected, SlotReady, FALSE, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return;                         /* inside GetScatterGatherList: the pump starts it */
    /* Later, from a free of map registers: start it alone, or fail it
     * if the disk went away meanwhile (AhciPortFailAll waits for it). */
    KeAcquireSpinLockAtDpcLevel(&port->Lock);
    s->State = SlotIssued;
    if (port->GoneStatus != 0) {
        LIST_ENTRY done;

        InitializeListHead(&done);
        s->State = SlotFree;
        port->Busy &= ~(1u << slot);
        AhciPortFinishPiece(port, s->Irp, port->GoneStatus, &done);
        KeReleaseSpinLockFromDpcLevel(&port->Lock);
        Finish(port, &s->Sg, &s->Write, 1, &done);
        return;
    }
    if (port->Retry != 0 || port->Reissue != 0 || port->ClearStatus || (port->Retrying & port->Issued) ||
        (port->Ncq && (port->Issued & ~port->NcqIssued)) ||
        (__atomic_load_n(&port->PendingIs, __ATOMIC_RELAXED) & PX_IS_ERRORS))
        port->Reissue |= 1u << slot;    /* recovering: the pump starts it when it may */
    else
        Issue(port, 1u << slot, port->Ncq ? 1u << slot : 0);
    KeReleaseSpinLockFromDpcLevel(&port->Lock);
}

/* A piece ended: the IRP completes (onto Done) when it was the last one. */
VOID AhciPortFinishPiece(PAHCI_PORT Port, PIRP Irp, NTSTATUS Status, PLIST_ENTRY Done)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    if (!NT_SUCCESS(Status) && NT_SUCCESS((NTSTATUS)IRP_STATUS(Irp)))
        IRP_STATUS(Irp) = (ULONG_PTR)(ULONG)Status;
    if (stack->MajorFunction == IRP_MJ_FLUSH_BUFFERS) {
        Port->FlushActive = FALSE;
        IRP_OUTSTANDING(Irp) = 0;
    } else if (--IRP_OUTSTANDING(Irp) != 0 || IRP_NEXT(Irp) != stack->Parameters.Read.Length) {
        return;
    }
    Irp->IoStatus.Status = (NTSTATUS)(ULONG)IRP_STATUS(Irp);
    Irp->IoStatus.Information = NT_SUCCESS(Irp->IoStatus.Status) &&
                                stack->MajorFunction != IRP_MJ_FLUSH_BUFFERS ? stack->Parameters.Read.Length : 0;
    InsertTailList(Done, &Irp->Tail.Overlay.ListEntry);
}

static ULONG FreeSlot(PAHCI_PORT Port)
{
    ULONG usable = Port->QueueDepth >= 32 ? ~0u : (1u << Port->QueueDepth) - 1;
    ULONG free = ~Port->Busy & usable;

    return free == 0 ? 32 : (ULONG)__builtin_ctz(free);
}

/* Lock held: start as many pieces as there are free slots, in one batch. */
static VOID Pump(PAHCI_PORT Port, PLIST_ENTRY Done)
{
    PDMA_ADAPTER dma = Port->Hba->Dma;
    ULONG bits = 0;
    BOOLEAN queue;

    if (__atomic_load_n(&Port->PendingIs, __ATOMIC_RELAXED) & PX_IS_ERRORS)
        return;                         /* an error the DPC has yet to see: it pumps after */
    /* A command retried alone stays alone until it ends (an error then is
     * its own), and a non-queued command never shares the port with queued
     * ones (SATA: neither may be issued while the other kind is
     * outstanding; QEMU lets a queued completion clear the status of a
     * non-queued command it is running). */
    if ((Port->Retrying & Port->Issued) || (Port->Ncq && (Port->Issued & ~Port->NcqIssued)))
        return;
    /* After an error or a timeout whose culprit is not known, the
     * commands it interrupted (the suspects) go again one at a time, so
     * the one that fails again is known (Retrying); the others wait.
     * They go as non-queued commands after an NCQ error, as they were
     * issued after a timeout (RetryNcq). */
    if (Port->Retry != 0) {
        if (Port->Issued == 0) {
            ULONG slot = __builtin_ctz(Port->Retry);
            BOOLEAN ncq = Port->RetryNcq && AhciPortMayQueue(Port);
            Port->Retry &= ~(1u << slot);
            Port->Retrying = 1u << slot;
            BuildSlot(Port, slot, ncq);
            Issue(Port, 1u << slot, ncq ? 1u << slot : 0);
        }
        return;
    }
    queue = AhciPortMayQueue(Port);
    if (Port->Ncq && !queue && Port->Issued != 0)
        return;                         /* the command that clears the status runs alone */
    /* Commands an error interrupted but did not fail (the log named the
     * culprit, or it was a non-queued command): together, as issued. */
    if (Port->Reissue != 0) {
        ULONG again = Port->Reissue;
        if (!queue && Port->Ncq)
            again &= -again;            /* one, non-queued, clears the status first */
        Port->Reissue &= ~again;
        for (ULONG pending = again; pending != 0; pending &= pending - 1)
            BuildSlot(Port, __builtin_ctz(pending), queue);
        Issue(Port, again, queue ? again : 0);
        return;
    }
    while (!IsListEmpty(&Port->Queue) && !Port->FlushActive && !Port->Held && Port->GoneStatus == 0) {
        PIRP irp = CONTAINING_RECORD(Port->Queue.Flink, IRP, Tail.Overlay.ListEntry);
        PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
        ULONG slot = FreeSlot(Port), length, offset;
        PAHCI_SLOT s;
        LONG expected = SlotBuilding;
        NTSTATUS status;

        if (slot == 32)
            break;
        s = &Port->Slots[slot];
        if (stack->MajorFunction == IRP_MJ_FLUSH_BUFFERS) {
            /* Not a queued command: only on an idle port (AHCI 8.3.1). */
            if (Port->Busy != 0 || bits != 0)
                break;
            RemoveEntryList(&irp->Tail.Overlay.ListEntry);
            BuildFis(TableOf(Port, slot), ATA_FLUSH_CACHE_EXT, 0, 0, FALSE, 0);
            Port->CmdList[slot].Flags = AHCI_CMD_CFL_H2D;
            s->Irp = irp;
            s->Sg = NULL;
            s->State = SlotIssued;
            Port->Busy |= 1u << slot;
            Port->FlushActive = TRUE;
            Issue(Port, 1u << slot, 0);
            Port->Commands++;
            return;
        }
        /* The status-clearing command goes alone, on an idle port. */
        if (Port->Ncq && !queue && (Port->Busy != 0 || bits != 0))
            break;
        offset = (ULONG)IRP_NEXT(irp);
        length = stack->Parameters.Read.Length - offset;
        if (length > Port->Hba->MaxTransfer)
            length = Port->Hba->MaxTransfer;
        IRP_NEXT(irp) += length;
        IRP_OUTSTANDING(irp)++;
        if (IRP_NEXT(irp) == stack->Parameters.Read.Length)
            RemoveEntryList(&irp->Tail.Overlay.ListEntry);
        s->Irp = irp;
        s->Sg = NULL;
        s->Write = stack->MajorFunction == IRP_MJ_WRITE;
        s->Offset = offset;
        s->Length = length;
        s->Lba = ((ULONG64)stack->Parameters.Read.ByteOffset.QuadPart + offset) / Port->SectorSize;
        s->State = SlotBuilding;
        Port->Busy |= 1u << slot;
        Port->Commands++;
        status = dma->DmaOperations->GetScatterGatherList(dma, Port->Self, irp->MdlAddress,
                                                          (PUCHAR)MmGetMdlVirtualAddress(irp->MdlAddress) + offset,
                                                          length, ListControl, s, s->Write);
        if (!NT_SUCCESS(status)) {
            s->State = SlotFree;
            Port->Busy &= ~(1u << slot);
            AhciPortFinishPiece(Port, irp, status, Done);
            continue;
        }
        if (__atomic_compare_exchange_n(&s->State, &expected, SlotDeferred, FALSE, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            continue;                   /* waits for map registers; starts itself */
        s->State = SlotIssued;
        if (Port->Ncq && !queue)
            BuildSlot(Port, slot, FALSE);       /* ListControl built it queued */
        bits |= 1u << slot;
    }
    if (bits != 0)
        Issue(Port, bits, queue ? bits : 0);
}

static VOID Finish(PAHCI_PORT Port, PSCATTER_GATHER_LIST *Put, BOOLEAN *PutWrite, ULONG Puts, PLIST_ENTRY Done)
{
    PDMA_ADAPTER dma = Port->Hba->Dma;

    for (ULONG i = 0; i < Puts; i++)
        dma->DmaOperations->PutScatterGatherList(dma, Put[i], PutWrite[i]);
    while (!IsListEmpty(Done)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(Done), IRP, Tail.Overlay.ListEntry);
        IoCompleteRequest(irp, IO_DISK_INCREMENT);
    }
}

/* IRQL <= DISPATCH_LEVEL; the IRP is marked pending and validated. */
VOID AhciPortQueue(PAHCI_PORT Port, PIRP Irp)
{
    LIST_ENTRY done;
    KIRQL irql;

    IRP_NEXT(Irp) = 0;
    IRP_OUTSTANDING(Irp) = 0;
    IRP_STATUS(Irp) = (ULONG_PTR)(ULONG)STATUS_SUCCESS;
    InitializeListHead(&done);
    KeAcquireSpinLock(&Port->Lock, &irql);
    if (Port->GoneStatus != 0) {        /* removed: checked under the lock AhciPortFailAll takes */
        Irp->IoStatus.Status = Port->GoneStatus;
        Irp->IoStatus.Information = 0;
        InsertTailList(&done, &Irp->Tail.Overlay.ListEntry);
    } else {
        InsertTailList(&Port->Queue, &Irp->Tail.Overlay.ListEntry);
        Pump(Port, &done);
    }
    KeReleaseSpinLock(&Port->Lock, irql);
    Finish(Port, NULL, NULL, 0, &done);
}

/*
 * Lock held: what the port says now. Is holds the interrupt's PxIS bits
 * (0 from the watchdog); TimedOut: the watchdog saw an old command, so if
 * one is still issued after the finished ones are taken, the port is
 * stuck: every command still issued goes again. Which command an error or
 * a timeout is charged to is recover.c's: the non-queued command the HBA
 * stopped at is found before the finished ones are taken, the rest after.
 */
static VOID ServiceLocked(PAHCI_PORT Port, ULONG Is, BOOLEAN TimedOut, PSCATTER_GATHER_LIST *Put,
                          BOOLEAN *PutWrite, ULONG *Puts, PLIST_ENTRY Done)
{
    ULONG active = 0, finished, failed;

    if (Port->NcqIssued != 0)
        active |= AhciRead(Port->Regs, PX_SACT);
    if (Port->Issued & ~Port->NcqIssued)
        active |= AhciRead(Port->Regs, PX_CI);
    failed = AhciPortFindFailed(Port, Is, TimedOut, active);
    finished = Port->Issued & ~active;
    for (ULONG pending = finished; pending != 0; pending &= pending - 1) {
        ULONG slot = __builtin_ctz(pending);
        PAHCI_SLOT s = &Port->Slots[slot];
        if (s->Sg != NULL) {
            Put[*Puts] = s->Sg;
            PutWrite[(*Puts)++] = s->Write;
        }
        s->State = SlotFree;
        Port->Busy &= ~(1u << slot);
        Port->Completed++;
        AhciPortFinishPiece(Port, s->Irp, STATUS_SUCCESS, Done);
    }
    Port->Issued &= ~finished;
    Port->NcqIssued &= ~finished;
    Port->Retrying &= ~finished;
    AhciPortCharge(Port, Is, TimedOut, failed, Put, PutWrite, Puts, Done);
    Pump(Port, Done);
}

/* DISPATCH_LEVEL (the HBA's DPC): what the port's interrupt said. */
VOID AhciPortService(PAHCI_PORT Port)
{
    PSCATTER_GATHER_LIST put[AHCI_SLOTS];
    BOOLEAN putWrite[AHCI_SLOTS];
    ULONG puts = 0, is;
    LIST_ENTRY done;

    InitializeListHead(&done);
    KeAcquireSpinLockAtDpcLevel(&Port->Lock);
    is = __atomic_exchange_n(&Port->PendingIs, 0, __ATOMIC_ACQUIRE);
    Port->Interrupts++;
    /* Mica attaches disks at START_DEVICE only: a device plugged in later
     * waits for the next start; one pulled out leaves its commands to the
     * watchdog (they end with STATUS_IO_TIMEOUT). */
    if (is & (PX_IS_PCS | PX_IS_PRCS))
        DbgPrint("ahci: disk %u: connection changed (PxSSTS.DET %u)\n", Port->DiskNumber,
                 PX_SSTS_DET(AhciRead(Port->Regs, PX_SSTS)));
    ServiceLocked(Port, is, FALSE, put, putWrite, &puts, &done);
    KeReleaseSpinLockFromDpcLevel(&Port->Lock);
    Finish(Port, put, putWrite, puts, &done);
}

/* The watchdog's DPC, every AHCI_WATCHDOG_MS: a command issued for
 * TimeoutTicks ticks is a timeout (a lost interrupt too: what did finish
 * completes as usual), even while the port's other commands complete. */
static VOID Watchdog(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    PAHCI_PORT port = Context;
    PSCATTER_GATHER_LIST put[AHCI_SLOTS];
    BOOLEAN putWrite[AHCI_SLOTS];
    ULONG puts = 0;
    LIST_ENTRY done;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    InitializeListHead(&done);
    KeAcquireSpinLockAtDpcLevel(&port->Lock);
    port->Ticks++;
    if (port->Issued != 0 && AhciPortOldestAge(port) >= port->TimeoutTicks) {
        DbgPrint("ahci: disk %u: a command unanswered for %u ms\n", port->DiskNumber,
                 port->TimeoutTicks * AHCI_WATCHDOG_MS);
        /* What did finish (a lost interrupt) is taken first; a timeout
         * only if an old command is still there. */
        ServiceLocked(port, 0, TRUE, put, putWrite, &puts, &done);
    }
    KeReleaseSpinLockFromDpcLevel(&port->Lock);
    Finish(port, put, putWrite, puts, &done);
}

/* The disk exists (its extension is final): start the watchdog. */
VOID AhciPortStartWatchdog(PAHCI_PORT Port)
{
    LARGE_INTEGER due = {.QuadPart = -10000LL * AHCI_WATCHDOG_MS};

    Port->TimeoutTicks = AHCI_TIMEOUT_TICKS;
    KeInitializeTimer(&Port->Watchdog);
    KeInitializeDpc(&Port->WatchdogDpc, Watchdog, Port);
    KeSetTimerEx(&Port->Watchdog, due, AHCI_WATCHDOG_MS, &Port->WatchdogDpc);
}

/* ---- PnP: stop, restart, removal (hba.c) ---- */

/* PASSIVE_LEVEL, IRP_MN_STOP_DEVICE or an orderly removal: start no new
 * piece and wait for the issued ones (and retries) to end; the watchdog
 * bounds the wait. Queued requests stay for the restart or the removal. */
VOID AhciPortHold(PAHCI_PORT Port)
{
    LARGE_INTEGER tick = {.QuadPart = -10000LL};    /* 1 ms */
    KIRQL irql;

    KeAcquireSpinLock(&Port->Lock, &irql);
    Port->Held = TRUE;
    KeReleaseSpinLock(&Port->Lock, irql);
    while (__atomic_load_n(&Port->Busy, __ATOMIC_ACQUIRE) != 0)
        KeDelayExecutionThread(KernelMode, FALSE, &tick);
}

/*
 * PASSIVE_LEVEL, removal: every request not finished, and every later
 * one, completes with Status (NT: STATUS_NO_SUCH_DEVICE for what a
 * removed device had queued). Issued: also the commands in flight (a
 * surprise removal: the device will not answer them), after the port is
 * stopped; otherwise the caller held the port first. Returns once no
 * slot is busy (a piece waiting for map registers fails when they come).
 */
VOID AhciPortFailAll(PAHCI_PORT Port, NTSTATUS Status, BOOLEAN Issued)
{
    LARGE_INTEGER tick = {.QuadPart = -10000LL};
    PSCATTER_GATHER_LIST put[AHCI_SLOTS];
    BOOLEAN putWrite[AHCI_SLOTS];
    ULONG puts = 0, stuck;
    LIST_ENTRY done;
    KIRQL irql;

    InitializeListHead(&done);
    KeAcquireSpinLock(&Port->Lock, &irql);
    Port->GoneStatus = Status;
    stuck = Issued ? Port->Issued | Port->Retry | Port->Reissue : 0;
    if (stuck != 0)
        AhciPortStop(Port);             /* AHCI 10.1.2: clears PxCI and PxSACT */
    for (ULONG pending = stuck; pending != 0; pending &= pending - 1) {
        ULONG slot = __builtin_ctz(pending);
        PAHCI_SLOT s = &Port->Slots[slot];
        if (s->Sg != NULL) {
            put[puts] = s->Sg;
            putWrite[puts++] = s->Write;
        }
        s->State = SlotFree;
        Port->Busy &= ~(1u << slot);
        AhciPortFinishPiece(Port, s->Irp, Status, &done);
    }
    Port->Issued &= ~stuck;
    Port->NcqIssued &= ~stuck;
    Port->Retry &= ~stuck;
    Port->Reissue &= ~stuck;
    Port->Retrying &= ~stuck;
    Port->FlushActive = FALSE;
    /* Requests with no piece started complete now; one with pieces in
     * flight completes when the last of them ends. */
    while (!IsListEmpty(&Port->Queue)) {
        PIRP irp = CONTAINING_RECORD(RemoveHeadList(&Port->Queue), IRP, Tail.Overlay.ListEntry);
        PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);

        IRP_STATUS(irp) = (ULONG_PTR)(ULONG)Status;
        IRP_NEXT(irp) = stack->Parameters.Read.Length;
        if (stack->MajorFunction == IRP_MJ_FLUSH_BUFFERS || IRP_OUTSTANDING(irp) == 0) {
            irp->IoStatus.Status = Status;
            irp->IoStatus.Information = 0;
            InsertTailList(&done, &irp->Tail.Overlay.ListEntry);
        }
    }
    /* Lists go back at DISPATCH_LEVEL (PutScatterGatherList's rule). */
    KeReleaseSpinLockFromDpcLevel(&Port->Lock);
    Finish(Port, put, putWrite, puts, &done);
    KeLowerIrql(irql);
    while (__atomic_load_n(&Port->Busy, __ATOMIC_ACQUIRE) != 0)
        KeDelayExecutionThread(KernelMode, FALSE, &tick);
}

/* PASSIVE_LEVEL, the port idle (held or failed): give its hardware back -
 * the watchdog (and its last DPC), the port's interrupts, the command
 * engine and FIS receive, the common buffer. */
VOID AhciPortRelease(PAHCI_PORT Port)
{
    PDMA_ADAPTER dma = Port->Hba->Dma;

    KeCancelTimer(&Port->Watchdog);
    KeFlushQueuedDpcs();
    AhciWrite(Port->Regs, PX_IE, 0);
    AhciPortStop(Port);
    AhciWrite(Port->Regs, PX_IS, ~0u);
    if (Port->Common != NULL)
        dma->DmaOperations->FreeCommonBuffer(dma, Port->CommonBytes, Port->CommonLogical, Port->Common, FALSE);
    Port->Common = NULL;
    Port->CmdList = NULL;
    Port->Regs = NULL;
}

/* PASSIVE_LEVEL, IRP_MN_START_DEVICE after a stop: the port again with
 * new memory (the HBA was reset), then the requests held meanwhile. */
NTSTATUS AhciPortRestart(PAHCI_PORT Port)
{
    LIST_ENTRY done;
    NTSTATUS status;
    KIRQL irql;

    status = BringUp(Port);
    if (!NT_SUCCESS(status))
        return status;
    AhciWrite(Port->Regs, PX_IS, ~0u);
    AhciWrite(Port->Regs, PX_IE, PX_IE_WANTED);
    AhciPortStartWatchdog(Port);
    InitializeListHead(&done);
    KeAcquireSpinLock(&Port->Lock, &irql);
    Port->Held = FALSE;
    Pump(Port, &done);
    KeReleaseSpinLock(&Port->Lock, irql);
    Finish(Port, NULL, NULL, 0, &done);
    return STATUS_SUCCESS;
}

/*
 * recover.c - when a port's command goes wrong: which command an error
 * interrupt or a timeout is charged to, the port reset (AHCI 6.2.2.1,
 * with a COMRESET when the device may still hold commands), the NCQ
 * command error log (READ LOG EXT page 10h), the retries one at a time
 * that find a culprit no log names, and the rules that keep later
 * commands from inheriting an old error (a stale report charges no one;
 * while PxTFD.STS.ERR stays set the next command goes alone, non-queued).
 *
 * How it fits with port.c (the interface is port_internal.h): port.c's
 * ServiceLocked, under Port->Lock, from the DPC or the watchdog, calls
 * AhciPortFindFailed before it takes the finished commands and
 * AhciPortCharge after; the watchdog asks AhciPortOldestAge; Pump asks
 * AhciPortMayQueue. Apart from the polled log read (AhciPortPolled), this
 * file starts no command: Recover ends the culprit (AhciPortFinishPiece)
 * and marks the others in the port (Retry, RetryNcq, Reissue, Retrying,
 * ClearStatus), and Pump starts them again by those marks.
 */
#include "port_internal.h"

#define COMRESET_HOLD_US    1000        /* AHCI 10.4.2: DET=1 for at least 1 ms */

static NTSTATUS ErrorStatus(ULONG Is)
{
    if (Is & PX_IS_TFES)
        return STATUS_DEVICE_DATA_ERROR;
    return STATUS_IO_DEVICE_ERROR;
}

/*
 * What the port's interrupts said before a reset is history. An ISR on
 * another processor may have read an error in PxIS and be about to add it
 * to PendingIs for the next DPC, which would charge it to a command issued
 * after the reset. PxIS and PendingIs are cleared together under the
 * interrupt's lock, which the ISR holds while it runs.
 */
static VOID ForgetInterrupts(PAHCI_PORT Port)
{
    PKINTERRUPT interrupt = Port->Hba->Interrupt;
    KIRQL irql = PASSIVE_LEVEL;

    if (Port->Hba->MessageTable != NULL)
        interrupt = Port->Hba->MessageTable->MessageInfo[0].InterruptObject;
    if (interrupt != NULL)
        irql = KeAcquireInterruptSpinLock(interrupt);
    AhciWrite(Port->Regs, PX_IS, ~0u);
    __atomic_store_n(&Port->PendingIs, 0, __ATOMIC_RELAXED);
    if (interrupt != NULL)
        KeReleaseInterruptSpinLock(interrupt, irql);
}

/*
 * Lock held: AHCI 6.2.2.1's port reset. Stop the port (which clears PxCI
 * and PxSACT), clear the errors, COMRESET when the device stays busy or
 * the caller asks (Device: the device may still hold commands), start it
 * again. The interrupts collected until then are forgotten, the COMRESET's
 * own register FIS included.
 *
 * QEMU (7.2) needs the COMRESET before a command it may still be running
 * is issued again: stopping the port neither stops its queued commands
 * (they complete later, into slots the driver has reused, and one that
 * fails raises an error the driver would charge to the command it is
 * retrying) nor a non-queued one, and restarting the port while a
 * non-queued DMA command runs makes QEMU crash when that command ends
 * (SIGSEGV in ahci_commit_buf: PxCMD.ST 1 -> 0 -> 1 forgets the command
 * header it updates; QEMU issue 437). The COMRESET cancels them all, with
 * the port stopped, before it restarts.
 */
static VOID ResetPort(PAHCI_PORT Port, BOOLEAN Device)
{
    AhciWrite(Port->Regs, PX_CMD, AhciRead(Port->Regs, PX_CMD) & ~PX_CMD_ST);
    AhciPortWait(Port, PX_CMD, PX_CMD_CR, 0, PORT_STOP_WAIT_MS);
    AhciWrite(Port->Regs, PX_SERR, ~0u);
    ForgetInterrupts(Port);
    if (Device || (AhciRead(Port->Regs, PX_TFD) & (PX_TFD_BSY | PX_TFD_DRQ))) {
        ULONG sctl = AhciRead(Port->Regs, PX_SCTL) & ~0xFu;
        Port->Comresets++;
        AhciWrite(Port->Regs, PX_SCTL, sctl | PX_SCTL_DET_INIT);
        KeStallExecutionProcessor(COMRESET_HOLD_US);
        AhciWrite(Port->Regs, PX_SCTL, sctl);
        AhciPortWait(Port, PX_SSTS, 0xF, PX_SSTS_DET_PRESENT, PORT_READY_WAIT_MS);
        AhciPortWait(Port, PX_TFD, PX_TFD_BSY | PX_TFD_DRQ, 0, PORT_READY_WAIT_MS);
        AhciWrite(Port->Regs, PX_SERR, ~0u);
        ForgetInterrupts(Port);
    }
    AhciWrite(Port->Regs, PX_CMD, AhciRead(Port->Regs, PX_CMD) | PX_CMD_ST);
}

/*
 * Lock held, the port reset after an NCQ error: READ LOG EXT page 10h
 * (SATA 3.x 13.7.4, the NCQ command error log) names the tag that failed,
 * and reading it takes the device out of its NCQ error state (the device
 * aborted every other queued command: they are not suspects). Polled on a
 * free slot with the port's interrupts off (the DPC must not see its
 * completion). Returns the failed slot's bit, or 0 when the device has no
 * log (IDENTIFY word 84 bit 5), the read fails, the page is inconsistent
 * or names a non-queued command: the caller then resets the device and
 * finds the culprit by retrying each command alone.
 */
static ULONG ReadNcqErrorLog(PAHCI_PORT Port, ULONG Queued)
{
    const UCHAR *page = Port->Scratch;
    ULONG usable = Port->Hba->Slots >= 32 ? ~0u : (1u << Port->Hba->Slots) - 1;
    ULONG free = ~Port->Busy & usable, tag;
    UCHAR sum = 0;
    NTSTATUS status;

    if (!Port->Gpl || free == 0)
        return 0;
    Port->LogReads++;
    AhciWrite(Port->Regs, PX_IE, 0);
    status = AhciPortPolled(Port, __builtin_ctz(free), ATA_READ_LOG_EXT, ATA_LOG_NCQ_ERROR, 1, 512);
    if (!NT_SUCCESS(status))
        ResetPort(Port, status == STATUS_IO_TIMEOUT);   /* an error stops the command list again */
    ForgetInterrupts(Port);
    AhciWrite(Port->Regs, PX_IE, PX_IE_WANTED);
    for (ULONG i = 0; NT_SUCCESS(status) && i < 512; i++)
        sum += page[i];                 /* byte 511 makes the page sum to 0 */
    tag = NCQ_LOG_TAG(page[0]);
    if (!NT_SUCCESS(status) || sum != 0 || (page[0] & NCQ_LOG_NQ) || (Queued & (1u << tag)) == 0) {
        DbgPrint("ahci: disk %u: NCQ error log %s\n", Port->DiskNumber,
                 NT_SUCCESS(status) ? "names no queued command" : "read failed");
        Port->LogFailures++;
        return 0;
    }
    return 1u << tag;
}

/*
 * Lock held, after an error interrupt (Is) or a timeout (Is 0) with
 * commands outstanding: reset the port and find the command that failed.
 * Failed, when not 0, is the caller's finding (the non-queued command
 * the HBA stopped at, or a command retried alone). Otherwise, after an
 * NCQ error, the device's error log names it; when no log says, every
 * command outstanding is a suspect: the device is reset too (it may still
 * hold them) and each goes again alone, non-queued, so the one that fails
 * again is known. After a timeout the device is reset and each goes again
 * alone, as issued. The failed command ends with Status; the others
 * (not suspects) start again together.
 */
static VOID Recover(PAHCI_PORT Port, ULONG Is, NTSTATUS Status, ULONG Failed, PSCATTER_GATHER_LIST *Put,
                    BOOLEAN *PutWrite, ULONG *Puts, PLIST_ENTRY Done)
{
    ULONG failed = Failed;
    BOOLEAN guess = Failed == 0 && Port->NcqIssued != 0;    /* the log may name it */
    ULONG others = Port->NcqIssued & ~Failed;               /* queued commands the device may hold */

    Port->Errors++;
    DbgPrint("ahci: disk %u: %s (PxIS %08x, PxTFD %08x, PxSERR %08x, PxSACT %08x), %u commands outstanding; "
             "recovering\n", Port->DiskNumber, Is != 0 ? "error" : "timeout", Is, AhciRead(Port->Regs, PX_TFD),
             AhciRead(Port->Regs, PX_SERR), AhciRead(Port->Regs, PX_SACT), AhciCountBits(Port->Issued));
    /* A timeout resets the device at once; an NCQ error first asks its log
     * (a COMRESET would lose it); queued commands beside a known culprit
     * are stopped by a COMRESET too. */
    ResetPort(Port, Is == 0 || (others != 0 && (!guess || !Port->Gpl)));
    if (Is != 0 && guess && Port->Gpl) {
        failed = ReadNcqErrorLog(Port, Port->NcqIssued);
        if (failed == 0)
            ResetPort(Port, TRUE);
    }
    Port->RetryNcq = Is == 0;           /* a timeout: again as they were issued */
    if (failed != 0) {
        ULONG slot = __builtin_ctz(failed);
        PAHCI_SLOT s = &Port->Slots[slot];
        if (s->Sg != NULL) {
            Put[*Puts] = s->Sg;
            PutWrite[(*Puts)++] = s->Write;
        }
        s->State = SlotFree;
        Port->Busy &= ~failed;
        AhciPortFinishPiece(Port, s->Irp, Status, Done);
        Port->Reissue |= Port->Issued & ~failed;
    } else {
        Port->Retry |= Port->Issued;
    }
    Port->ClearStatus = TRUE;           /* Pump looks at PxTFD.STS.ERR */
    Port->Issued = Port->NcqIssued = Port->Retrying = 0;
}

/* Lock held: ticks since the oldest issued command went (0: none issued). */
ULONG64 AhciPortOldestAge(PAHCI_PORT Port)
{
    ULONG64 age = 0;

    for (ULONG pending = Port->Issued; pending != 0; pending &= pending - 1) {
        ULONG64 a = Port->Ticks - Port->Slots[__builtin_ctz(pending)].IssuedTick;
        if (a > age)
            age = a;
    }
    return age;
}

/*
 * Lock held: may the next command be a queued one? After a command failed
 * the device's status register holds the error until a command succeeds.
 * QEMU (7.2) sends that status in the register FIS that acknowledges a
 * queued command (it raises PxIS.TFES for a command it did queue, and
 * leaves the command's PxCI bit set, to be run again on the next PxCI
 * write); a non-queued command starts with a clean status. So while
 * PxTFD.STS.ERR stays set, one command goes alone and non-queued first.
 */
BOOLEAN AhciPortMayQueue(PAHCI_PORT Port)
{
    if (!Port->Ncq)
        return FALSE;
    if (Port->ClearStatus && !(AhciRead(Port->Regs, PX_TFD) & PX_TFD_ERR))
        Port->ClearStatus = FALSE;
    return !Port->ClearStatus;
}

/*
 * Lock held, before ServiceLocked (port.c) takes the finished commands:
 * after an error interrupt (Is) or with a command older than the timeout
 * (TimedOut), the non-queued command the HBA stopped at, from Active (the
 * PxSACT and PxCI bits still set); 0 when none.
 */
ULONG AhciPortFindFailed(PAHCI_PORT Port, ULONG Is, BOOLEAN TimedOut, ULONG Active)
{
    ULONG failed = 0, nonQueued;

    /* A failed non-queued command keeps its PxCI bit (AHCI 6.2.2.1; QEMU
     * since 7.2.6): the one at PxCMD.CCS, else the first still set. A
     * non-queued command whose bit is clear finished, whatever error an
     * NCQ completion reported meanwhile (QEMU sends the last error status
     * with later set-device-bits FISes). */
    nonQueued = Port->Issued & ~Port->NcqIssued & Active;
    if (((Is & PX_IS_ERRORS) || TimedOut) && nonQueued != 0) {
        failed = 1u << PX_CMD_CCS(AhciRead(Port->Regs, PX_CMD));
        if ((failed & nonQueued) == 0)
            failed = nonQueued & -nonQueued;
    }
    return failed;
}

/*
 * Lock held, after ServiceLocked (port.c) took the finished commands: who
 * the error (Is) or the timeout is charged to. Failed is
 * AhciPortFindFailed's finding; a stale error charges no one; otherwise
 * Recover resets the port and ends the culprit with its status, leaving
 * the others marked for Pump. Lists to put back go onto Put, IRPs to
 * complete onto Done.
 */
VOID AhciPortCharge(PAHCI_PORT Port, ULONG Is, BOOLEAN TimedOut, ULONG Failed, PSCATTER_GATHER_LIST *Put,
                    BOOLEAN *PutWrite, ULONG *Puts, PLIST_ENTRY Done)
{
    ULONG failed = Failed;

    /* A retried command runs alone: if it fails or sticks again, it is
     * the culprit, queued or not. */
    if (failed == 0)
        failed = Port->Issued & Port->Retrying;
    if ((Is & PX_IS_ERRORS) && Port->Issued == 0) {
        /* Every command the error could concern is done (its completion
         * came with or after it): a stale report - QEMU repeats a failed
         * command's status for a command it queues after - charges no
         * one. Stopping the port is needed only to clear a PxCI bit QEMU
         * left set for a command that completed (it would run it again on
         * the next PxCI write), or after an error that stopped the HBA. */
        Port->StaleErrors++;
        DbgPrint("ahci: disk %u: error interrupt (PxIS %08x, PxTFD %08x) with no command outstanding: stale\n",
                 Port->DiskNumber, Is, AhciRead(Port->Regs, PX_TFD));
        if ((Is & (PX_IS_IFS | PX_IS_HBDS | PX_IS_HBFS)) || AhciRead(Port->Regs, PX_CI) != 0)
            ResetPort(Port, FALSE);
        Port->ClearStatus = TRUE;
    } else if (Is & PX_IS_ERRORS) {
        Recover(Port, Is, ErrorStatus(Is), failed, Put, PutWrite, Puts, Done);
    } else if (TimedOut && AhciPortOldestAge(Port) >= Port->TimeoutTicks) {
        /* Stuck queued commands go again one at a time; one that
         * sticks again ends with STATUS_IO_TIMEOUT (disk.sys's status
         * for a request the device never answered). */
        Port->Timeouts++;
        Recover(Port, 0, STATUS_IO_TIMEOUT, failed, Put, PutWrite, Puts, Done);
    }
}

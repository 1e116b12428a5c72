/*
 * port_internal.h - what port.c and recover.c share about a port, and no
 * one else: port.c runs a port's normal life (start and stop, the queue,
 * Pump, completions, the DPC and the watchdog); recover.c decides who an
 * error or a timeout is charged to, resets the port and marks the slots
 * to start again (Retry, Reissue, Retrying, ClearStatus), which port.c's
 * Pump then does. Every routine here runs with Port->Lock held, except
 * where it says otherwise. hba.c, disk.c and the tests use ahci.h only.
 */
#ifndef AHCI_PORT_INTERNAL_H
#define AHCI_PORT_INTERNAL_H

#include "ahci.h"

#define PORT_STOP_WAIT_MS   500         /* AHCI 10.1.2: CR and FR clear within 500 ms */
#define PORT_READY_WAIT_MS  1000

/* Freestanding: no libgcc popcount. */
static inline ULONG AhciCountBits(ULONG Bits)
{
    ULONG n = 0;

    for (; Bits != 0; Bits &= Bits - 1)
        n++;
    return n;
}

/* port.c */
BOOLEAN AhciPortWait(PAHCI_PORT Port, ULONG Offset, ULONG Mask, ULONG Value, ULONG Milliseconds);
NTSTATUS AhciPortPolled(PAHCI_PORT Port, ULONG Slot, UCHAR Command, ULONG64 Lba, ULONG Count, ULONG Length);
VOID AhciPortFinishPiece(PAHCI_PORT Port, PIRP Irp, NTSTATUS Status, PLIST_ENTRY Done);

/* recover.c */
BOOLEAN AhciPortMayQueue(PAHCI_PORT Port);
ULONG64 AhciPortOldestAge(PAHCI_PORT Port);
ULONG AhciPortFindFailed(PAHCI_PORT Port, ULONG Is, BOOLEAN TimedOut, ULONG Active);
VOID AhciPortCharge(PAHCI_PORT Port, ULONG Is, BOOLEAN TimedOut, ULONG Failed, PSCATTER_GATHER_LIST *Put,
                    BOOLEAN *PutWrite, ULONG *Puts, PLIST_ENTRY Done);

#endif

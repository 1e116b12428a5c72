/*
 * ioconnect.c - IoConnectInterruptEx/IoDisconnectInterruptEx: connecting
 * a driver's ISR to the interrupts its device was assigned.
 *
 * A bus driver records each PDO's translated resources here
 * (IopSetDeviceResources; NT's PnP manager keeps them in the device node).
 * A line interrupt is one translated CmResourceTypeInterrupt descriptor
 * (vector, DIRQL, level-sensitive and shared for PCI INTx); a message
 * interrupt is one descriptor flagged CM_RESOURCE_INTERRUPT_MESSAGE per
 * message, whose vector the bus driver has already programmed into the
 * device. Each message gets its own interrupt object, whose ISR is a small
 * thunk that calls the driver's KMESSAGE_SERVICE_ROUTINE with the
 * message's number.
 */
#include "../ke/ke_internal.h"
#include "io.h"

#define IOP_MAX_RESOURCE_RECORDS 64
#define IOP_CONNECT_TAG 'nCoI'

typedef struct _IOP_DEVICE_RESOURCES {
    PDEVICE_OBJECT Pdo;
    PCM_RESOURCE_LIST Raw, Translated;
} IOP_DEVICE_RESOURCES;

static IOP_DEVICE_RESOURCES IopDeviceResources[IOP_MAX_RESOURCE_RECORDS];
static KSPIN_LOCK IopDeviceResourcesLock;

/* A message's ISR context: the driver's routine and the message number. */
typedef struct _IOP_MESSAGE_THUNK {
    PKMESSAGE_SERVICE_ROUTINE Routine;
    PVOID Context;
    ULONG MessageId;
} IOP_MESSAGE_THUNK;

NTSTATUS IopSetDeviceResources(PDEVICE_OBJECT PhysicalDeviceObject, PCM_RESOURCE_LIST Raw,
                               PCM_RESOURCE_LIST Translated)
{
    IOP_DEVICE_RESOURCES *slot = NULL;
    KIRQL old;

    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IopSetDeviceResources);
    KeAcquireSpinLock(&IopDeviceResourcesLock, &old);
    for (ULONG i = 0; i < IOP_MAX_RESOURCE_RECORDS; i++) {
        if (IopDeviceResources[i].Pdo == PhysicalDeviceObject) {
            slot = &IopDeviceResources[i];
            break;
        }
        if (slot == NULL && IopDeviceResources[i].Pdo == NULL)
            slot = &IopDeviceResources[i];
    }
    if (slot != NULL) {
        BOOLEAN forget = Raw == NULL && Translated == NULL;
        slot->Pdo = forget ? NULL : PhysicalDeviceObject;
        slot->Raw = Raw;
        slot->Translated = Translated;
    }
    KeReleaseSpinLock(&IopDeviceResourcesLock, old);
    return slot != NULL || (Raw == NULL && Translated == NULL) ? STATUS_SUCCESS
                                                               : STATUS_INSUFFICIENT_RESOURCES;
}

static PCM_RESOURCE_LIST IopTranslatedResources(PDEVICE_OBJECT Pdo)
{
    PCM_RESOURCE_LIST list = NULL;
    KIRQL old;

    KeAcquireSpinLock(&IopDeviceResourcesLock, &old);
    for (ULONG i = 0; i < IOP_MAX_RESOURCE_RECORDS; i++)
        if (Pdo != NULL && IopDeviceResources[i].Pdo == Pdo)
            list = IopDeviceResources[i].Translated;
    KeReleaseSpinLock(&IopDeviceResourcesLock, old);
    return list;
}

/* The Index-th interrupt descriptor with (Message TRUE) or without the
 * message flag, or NULL. Only the first full descriptor: PCI has one. */
static PCM_PARTIAL_RESOURCE_DESCRIPTOR IopFindInterrupt(PCM_RESOURCE_LIST List, BOOLEAN Message,
                                                        ULONG Index)
{
    if (List == NULL || List->Count == 0)
        return NULL;
    PCM_PARTIAL_RESOURCE_LIST partial = &List->List[0].PartialResourceList;
    for (ULONG i = 0; i < partial->Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &partial->PartialDescriptors[i];
        if (d->Type == CmResourceTypeInterrupt &&
            ((d->Flags & CM_RESOURCE_INTERRUPT_MESSAGE) != 0) == Message && Index-- == 0)
            return d;
    }
    return NULL;
}

static NTSTATUS IopConnectLine(PDEVICE_OBJECT Pdo, PKINTERRUPT *InterruptObject,
                               PKSERVICE_ROUTINE ServiceRoutine, PVOID ServiceContext,
                               PKSPIN_LOCK SpinLock, KIRQL SynchronizeIrql, BOOLEAN FloatingSave)
{
    PCM_RESOURCE_LIST list = IopTranslatedResources(Pdo);
    PCM_PARTIAL_RESOURCE_DESCRIPTOR d = IopFindInterrupt(list, FALSE, 0);
    KIRQL irql;

    if (ServiceRoutine == NULL || InterruptObject == NULL)
        return STATUS_INVALID_PARAMETER;
    if (d == NULL)
        return IopFindInterrupt(list, TRUE, 0) ? STATUS_INVALID_DEVICE_REQUEST : STATUS_NOT_FOUND;
    irql = (KIRQL)d->u.Interrupt.Level;
    if (SpinLock == NULL)
        SynchronizeIrql = irql;         /* NT ignores it without a caller's lock */
    if (SynchronizeIrql < irql)
        return STATUS_INVALID_PARAMETER;
    return IoConnectInterrupt(InterruptObject, ServiceRoutine, ServiceContext, SpinLock,
                              d->u.Interrupt.Vector, irql, SynchronizeIrql,
                              (d->Flags & CM_RESOURCE_INTERRUPT_LATCHED) ? Latched : LevelSensitive,
                              d->ShareDisposition == CmResourceShareShared,
                              d->u.Interrupt.Affinity, FloatingSave);
}

static BOOLEAN IopMessageThunk(PKINTERRUPT Interrupt, PVOID Context)
{
    IOP_MESSAGE_THUNK *thunk = Context;

    return thunk->Routine(Interrupt, thunk->Context, thunk->MessageId);
}

/* The table and its thunks in one block: entries, then thunks. */
static SIZE_T IopMessageTableSize(ULONG Count)
{
    return FIELD_OFFSET(IO_INTERRUPT_MESSAGE_INFO, MessageInfo) +
           Count * (sizeof(IO_INTERRUPT_MESSAGE_INFO_ENTRY) + sizeof(IOP_MESSAGE_THUNK));
}

static IOP_MESSAGE_THUNK *IopMessageThunks(PIO_INTERRUPT_MESSAGE_INFO Table)
{
    return (IOP_MESSAGE_THUNK *)&Table->MessageInfo[Table->MessageCount];
}

static VOID IopDisconnectMessages(PIO_INTERRUPT_MESSAGE_INFO Table)
{
    for (ULONG i = 0; i < Table->MessageCount; i++)
        if (Table->MessageInfo[i].InterruptObject != NULL)
            IoDisconnectInterrupt(Table->MessageInfo[i].InterruptObject);
    ExFreePoolWithTag(Table, IOP_CONNECT_TAG);
}

static NTSTATUS IopConnectMessages(PIO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS P, ULONG Count)
{
    PCM_RESOURCE_LIST list = IopTranslatedResources(P->PhysicalDeviceObject);
    PIO_INTERRUPT_MESSAGE_INFO table;
    KIRQL unified = PASSIVE_LEVEL;

    for (ULONG i = 0; i < Count; i++) {
        KIRQL irql = (KIRQL)IopFindInterrupt(list, TRUE, i)->u.MessageInterrupt.Translated.Level;
        if (irql > unified)
            unified = irql;
    }
    /* One lock for every message means one IRQL for all of them. */
    if (P->SpinLock != NULL && P->SynchronizeIrql < unified)
        return STATUS_INVALID_PARAMETER;
    table = ExAllocatePool2(POOL_FLAG_NON_PAGED, IopMessageTableSize(Count), IOP_CONNECT_TAG);
    if (table == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    table->UnifiedIrql = unified;
    table->MessageCount = Count;
    for (ULONG i = 0; i < Count; i++) {
        PCM_PARTIAL_RESOURCE_DESCRIPTOR d = IopFindInterrupt(list, TRUE, i);
        PIO_INTERRUPT_MESSAGE_INFO_ENTRY e = &table->MessageInfo[i];
        IOP_MESSAGE_THUNK *thunk = &IopMessageThunks(table)[i];
        KIRQL irql = (KIRQL)d->u.MessageInterrupt.Translated.Level;
        NTSTATUS status;

        e->Vector = d->u.MessageInterrupt.Translated.Vector;
        e->Irql = irql;
        e->Mode = Latched;              /* a message is an edge */
        e->Polarity = InterruptActiveHigh;
        HalPrivateDispatchTable.GetMessageTarget(e->Vector, &e->MessageAddress, &e->MessageData,
                                                 &e->TargetProcessorSet);
        thunk->Routine = P->MessageServiceRoutine;
        thunk->Context = P->ServiceContext;
        thunk->MessageId = i;
        status = IoConnectInterrupt(&e->InterruptObject, IopMessageThunk, thunk, P->SpinLock,
                                    e->Vector, irql, P->SpinLock ? P->SynchronizeIrql : irql,
                                    Latched, FALSE, d->u.MessageInterrupt.Translated.Affinity,
                                    P->FloatingSave);
        if (!NT_SUCCESS(status)) {
            e->InterruptObject = NULL;
            IopDisconnectMessages(table);
            return status;
        }
    }
    *P->ConnectionContext.InterruptMessageTable = table;
    return STATUS_SUCCESS;
}

NTSTATUS IoConnectInterruptEx(PIO_CONNECT_INTERRUPT_PARAMETERS Parameters)
{
    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoConnectInterruptEx);
    switch (Parameters->Version) {
    case CONNECT_FULLY_SPECIFIED:
    case CONNECT_FULLY_SPECIFIED_GROUP: {
        PIO_CONNECT_INTERRUPT_FULLY_SPECIFIED_PARAMETERS p = &Parameters->FullySpecified;
        if (p->InterruptObject == NULL || p->ServiceRoutine == NULL ||
            (Parameters->Version == CONNECT_FULLY_SPECIFIED_GROUP && p->Group != 0))
            return STATUS_INVALID_PARAMETER;
        if (p->ProcessorEnableMask == 0)
            return STATUS_INVALID_PARAMETER_10;
        Parameters->Version = CONNECT_FULLY_SPECIFIED;
        return IoConnectInterrupt(p->InterruptObject, p->ServiceRoutine, p->ServiceContext,
                                  p->SpinLock, p->Vector, p->Irql, p->SynchronizeIrql,
                                  p->InterruptMode, p->ShareVector, p->ProcessorEnableMask,
                                  p->FloatingSave);
    }
    case CONNECT_LINE_BASED: {
        PIO_CONNECT_INTERRUPT_LINE_BASED_PARAMETERS p = &Parameters->LineBased;
        return IopConnectLine(p->PhysicalDeviceObject, p->InterruptObject, p->ServiceRoutine,
                              p->ServiceContext, p->SpinLock, p->SynchronizeIrql,
                              p->FloatingSave);
    }
    case CONNECT_MESSAGE_BASED: {
        PIO_CONNECT_INTERRUPT_MESSAGE_BASED_PARAMETERS p = &Parameters->MessageBased;
        PCM_RESOURCE_LIST list = IopTranslatedResources(p->PhysicalDeviceObject);
        ULONG count = 0;
        NTSTATUS status;

        if (p->ConnectionContext.Generic == NULL || p->MessageServiceRoutine == NULL)
            return STATUS_INVALID_PARAMETER;
        while (IopFindInterrupt(list, TRUE, count) != NULL)
            count++;
        if (count > 0)
            return IopConnectMessages(p, count);
        /* No messages: the line, with the fallback ISR. */
        if (p->FallBackServiceRoutine == NULL)
            return IopFindInterrupt(list, FALSE, 0) ? STATUS_INVALID_PARAMETER : STATUS_NOT_FOUND;
        status = IopConnectLine(p->PhysicalDeviceObject, p->ConnectionContext.InterruptObject,
                                p->FallBackServiceRoutine, p->ServiceContext, p->SpinLock,
                                p->SynchronizeIrql, p->FloatingSave);
        if (NT_SUCCESS(status))
            Parameters->Version = CONNECT_LINE_BASED;
        return status;
    }
    default:
        return STATUS_INVALID_PARAMETER_1;
    }
}

VOID IoDisconnectInterruptEx(PIO_DISCONNECT_INTERRUPT_PARAMETERS Parameters)
{
    KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, IoDisconnectInterruptEx);
    if (Parameters->Version == CONNECT_MESSAGE_BASED)
        IopDisconnectMessages(Parameters->ConnectionContext.InterruptMessageTable);
    else
        IoDisconnectInterrupt(Parameters->ConnectionContext.InterruptObject);
}

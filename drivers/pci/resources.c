/*
 * resources.c - a function's resources as NT hands them to its driver,
 * and what the bus driver does when the function starts.
 *
 * PciBuildResources turns the scan's record into the two CM_RESOURCE_LISTs
 * of IRP_MN_START_DEVICE, with the same descriptors in the same order:
 *   - one CmResourceTypeMemory or CmResourceTypePort per BAR, in BAR
 *     order (on x86 a bus address is the processor's physical address and
 *     an I/O port is a port, so raw and translated agree);
 *   - the interrupts: when the function can signal messages, one
 *     CmResourceTypeInterrupt flagged CM_RESOURCE_INTERRUPT_MESSAGE per
 *     message (MSI-X preferred, as NT does; MSI with one message), each
 *     with a vector reserved for it (unless the boot option pcimsi=off
 *     said no); otherwise its INTx line, level-
 *     sensitive and shared (raw: the GSI; translated: vector and DIRQL).
 * PciStartFunction then programs the message registers with those vectors
 * and turns on decoding and bus mastering: nothing is enabled for a
 * function no driver started.
 */
#include "pcidrv.h"

#define PCI_MAX_MSIX_MESSAGES 4         /* Mica asks for no more, to spare vectors */

static PCM_PARTIAL_RESOURCE_DESCRIPTOR PciAppend(PCM_RESOURCE_LIST List)
{
    PCM_PARTIAL_RESOURCE_LIST partial = &List->List[0].PartialResourceList;
    PCM_PARTIAL_RESOURCE_DESCRIPTOR d = &partial->PartialDescriptors[partial->Count++];

    memset(d, 0, sizeof(*d));
    return d;
}

static SIZE_T PciListSize(ULONG Descriptors)
{
    return FIELD_OFFSET(CM_RESOURCE_LIST, List[0].PartialResourceList.PartialDescriptors) +
           Descriptors * sizeof(CM_PARTIAL_RESOURCE_DESCRIPTOR);
}

NTSTATUS PciBuildResources(PPCI_FUNCTION F, PCM_RESOURCE_LIST *Raw, PCM_RESOURCE_LIST *Translated)
{
    ULONG messages = 0, max = F->BarCount + PCI_MAX_MSIX_MESSAGES + 1;
    PCM_RESOURCE_LIST raw = ExAllocatePool2(POOL_FLAG_NON_PAGED, PciListSize(max), PCI_POOL_TAG);
    PCM_RESOURCE_LIST xlat = ExAllocatePool2(POOL_FLAG_NON_PAGED, PciListSize(max), PCI_POOL_TAG);

    if (raw == NULL || xlat == NULL) {
        if (raw)
            ExFreePoolWithTag(raw, PCI_POOL_TAG);
        if (xlat)
            ExFreePoolWithTag(xlat, PCI_POOL_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    for (PCM_RESOURCE_LIST l = raw; l != NULL; l = l == raw ? xlat : NULL) {
        l->Count = 1;
        l->List[0].InterfaceType = PCIBus;
        l->List[0].BusNumber = F->Bus;
        l->List[0].PartialResourceList.Version = 1;
        l->List[0].PartialResourceList.Revision = 1;
        l->List[0].PartialResourceList.Count = 0;
    }

    for (ULONG i = 0; i < F->BarCount; i++) {
        const PCI_BAR *bar = &F->Bars[i];
        PCM_PARTIAL_RESOURCE_DESCRIPTOR r = PciAppend(raw), t;

        r->ShareDisposition = CmResourceShareDeviceExclusive;
        r->u.Generic.Start.QuadPart = (LONGLONG)bar->Base;
        r->u.Generic.Length = (ULONG)bar->Length;
        if (bar->Type == PciBarIo) {
            r->Type = CmResourceTypePort;
            r->Flags = CM_RESOURCE_PORT_IO;
        } else {
            r->Type = CmResourceTypeMemory;
            r->Flags = CM_RESOURCE_MEMORY_READ_WRITE |
                       (bar->Prefetchable ? CM_RESOURCE_MEMORY_PREFETCHABLE : 0);
        }
        t = PciAppend(xlat);
        *t = *r;
    }

    if (!PciMessagesAllowed) {
        messages = 0;                   /* pcimsi=off: INTx for everyone */
    } else if (F->MsixCapability != 0) {
        messages = (F->MsixControl & PCI_MSIX_CONTROL_TABLE_SIZE) + 1;
        if (messages > PCI_MAX_MSIX_MESSAGES)
            messages = PCI_MAX_MSIX_MESSAGES;
    } else if (F->MsiCapability != 0) {
        messages = 1;                   /* Multiple Message Enable stays 0: one message */
    }
    F->MessageCount = 0;
    for (ULONG m = 0; m < messages; m++) {
        KIRQL irql;
        ULONG vector = HalPrivateDispatchTable.ReserveMessageVector(&irql);
        PCM_PARTIAL_RESOURCE_DESCRIPTOR r, t;

        if (vector == 0)
            break;                      /* fewer messages than asked for, as NT may grant */
        F->MessageVectors[F->MessageCount++] = vector;
        r = PciAppend(raw);
        r->Type = CmResourceTypeInterrupt;
        r->ShareDisposition = CmResourceShareDeviceExclusive;
        r->Flags = CM_RESOURCE_INTERRUPT_LATCHED | CM_RESOURCE_INTERRUPT_MESSAGE;
        r->u.MessageInterrupt.Raw.MessageCount = (USHORT)messages;
        r->u.MessageInterrupt.Raw.Vector = CM_RESOURCE_INTERRUPT_MESSAGE_TOKEN;
        r->u.MessageInterrupt.Raw.Affinity = (KAFFINITY)-1;
        t = PciAppend(xlat);
        t->Type = CmResourceTypeInterrupt;
        t->ShareDisposition = CmResourceShareDeviceExclusive;
        t->Flags = r->Flags;
        t->u.MessageInterrupt.Translated.Level = irql;
        t->u.MessageInterrupt.Translated.Vector = vector;
        t->u.MessageInterrupt.Translated.Affinity = AFFINITY_MASK(0);
    }
    if (F->MessageCount == 0 && F->Gsi != PCI_NO_GSI) {
        KIRQL irql;
        KAFFINITY affinity;
        ULONG vector = HalGetInterruptVector(PCIBus, F->Bus, F->Gsi, F->Gsi, &irql, &affinity);

        if (vector != 0) {
            PCM_PARTIAL_RESOURCE_DESCRIPTOR r = PciAppend(raw), t = PciAppend(xlat);

            r->Type = t->Type = CmResourceTypeInterrupt;
            r->ShareDisposition = t->ShareDisposition = CmResourceShareShared;
            r->Flags = t->Flags = CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE;
            r->u.Interrupt.Level = (USHORT)F->Gsi;
            r->u.Interrupt.Vector = F->Gsi;
            r->u.Interrupt.Affinity = (KAFFINITY)-1;
            t->u.Interrupt.Level = irql;
            t->u.Interrupt.Vector = vector;
            t->u.Interrupt.Affinity = affinity;
        }
    }
    *Raw = raw;
    *Translated = xlat;
    return STATUS_SUCCESS;
}

/* MSI (6.8.1.x): address, data, one message, then INTx off and enable. */
static VOID PciProgramMsi(PPCI_FUNCTION F)
{
    PHYSICAL_ADDRESS address;
    ULONG data, cap = F->MsiCapability;
    BOOLEAN is64 = (F->MsiControl & PCI_MSI_CONTROL_64BIT) != 0;
    USHORT control;

    HalPrivateDispatchTable.GetMessageTarget(F->MessageVectors[0], &address, &data, NULL);
    PciWriteConfig(F, cap + PCI_MSI_MESSAGE_ADDRESS, 4, address.LowPart);
    if (is64)
        PciWriteConfig(F, cap + PCI_MSI_MESSAGE_UPPER_ADDRESS, 4, (ULONG)address.HighPart);
    PciWriteConfig(F, cap + (is64 ? PCI_MSI_MESSAGE_DATA_64 : PCI_MSI_MESSAGE_DATA_32), 2, data);
    control = (USHORT)PciReadConfig(F, cap + PCI_MSI_MESSAGE_CONTROL, 2);
    control &= ~PCI_MSI_CONTROL_MME_MASK;
    PciWriteConfig(F, cap + PCI_MSI_MESSAGE_CONTROL, 2, control | PCI_MSI_CONTROL_ENABLE);
}

/* MSI-X (6.8.2.x): enable with the function masked, fill the table, unmask. */
static NTSTATUS PciProgramMsix(PPCI_FUNCTION F)
{
    ULONG cap = F->MsixCapability, table = PciReadConfig(F, cap + PCI_MSIX_TABLE_OFFSET_BIR, 4);
    ULONG bir = table & PCI_MSIX_BIR_MASK, entries = (F->MsixControl & PCI_MSIX_CONTROL_TABLE_SIZE) + 1;
    PHYSICAL_ADDRESS base = {0};
    PUCHAR va;
    USHORT control = (USHORT)PciReadConfig(F, cap + PCI_MSIX_MESSAGE_CONTROL, 2);

    for (ULONG i = 0; i < F->BarCount; i++)
        if (F->Bars[i].Index == bir && F->Bars[i].Type != PciBarIo)
            base.QuadPart = (LONGLONG)(F->Bars[i].Base + (table & PCI_MSIX_OFFSET_MASK));
    if (base.QuadPart == 0)
        return STATUS_DEVICE_CONFIGURATION_ERROR;
    va = MmMapIoSpace(base, entries * PCI_MSIX_ENTRY_SIZE, MmNonCached);
    if (va == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    PciWriteConfig(F, cap + PCI_MSIX_MESSAGE_CONTROL, 2,
                   control | PCI_MSIX_CONTROL_ENABLE | PCI_MSIX_CONTROL_FUNCTION_MASK);
    for (ULONG i = 0; i < entries; i++) {
        volatile ULONG *entry = (volatile ULONG *)(va + i * PCI_MSIX_ENTRY_SIZE);
        PHYSICAL_ADDRESS address;
        ULONG data;

        if (i >= F->MessageCount) {     /* entries without a vector stay masked */
            WRITE_REGISTER_ULONG(entry + PCI_MSIX_ENTRY_VECTOR_CONTROL / 4,
                                 PCI_MSIX_ENTRY_CONTROL_MASKED);
            continue;
        }
        HalPrivateDispatchTable.GetMessageTarget(F->MessageVectors[i], &address, &data, NULL);
        WRITE_REGISTER_ULONG(entry + PCI_MSIX_ENTRY_ADDRESS_LOW / 4, address.LowPart);
        WRITE_REGISTER_ULONG(entry + PCI_MSIX_ENTRY_ADDRESS_HIGH / 4, (ULONG)address.HighPart);
        WRITE_REGISTER_ULONG(entry + PCI_MSIX_ENTRY_DATA / 4, data);
        WRITE_REGISTER_ULONG(entry + PCI_MSIX_ENTRY_VECTOR_CONTROL / 4, 0);
    }
    MmUnmapIoSpace(va, entries * PCI_MSIX_ENTRY_SIZE);
    PciWriteConfig(F, cap + PCI_MSIX_MESSAGE_CONTROL, 2,
                   (control & ~PCI_MSIX_CONTROL_FUNCTION_MASK) | PCI_MSIX_CONTROL_ENABLE);
    return STATUS_SUCCESS;
}

/*
 * The start of a function (the PDO's IRP_MN_START_DEVICE): message
 * registers, then INTx off when messages are used, then decoding of the
 * BAR kinds it has and bus mastering (DMA; and MSI, which is a DMA write).
 */
NTSTATUS PciStartFunction(PPCI_FUNCTION F)
{
    USHORT command = (USHORT)PciReadConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2);
    NTSTATUS status = STATUS_SUCCESS;

    for (ULONG i = 0; i < F->BarCount; i++)
        command |= F->Bars[i].Type == PciBarIo ? PCI_ENABLE_IO_SPACE : PCI_ENABLE_MEMORY_SPACE;
    command |= PCI_ENABLE_BUS_MASTER;
    if (F->MessageCount > 0) {
        command |= PCI_DISABLE_LEVEL_INTERRUPT;
        if (F->MsixCapability != 0)
            status = PciProgramMsix(F);
        else
            PciProgramMsi(F);
    } else {
        command &= ~PCI_DISABLE_LEVEL_INTERRUPT;
    }
    if (NT_SUCCESS(status))
        PciWriteConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2, command);
    return status;
}

/* The stop: decoding, bus mastering and messages off again. */
VOID PciStopFunction(PPCI_FUNCTION F)
{
    USHORT command = (USHORT)PciReadConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2);

    command &= ~(PCI_ENABLE_IO_SPACE | PCI_ENABLE_MEMORY_SPACE | PCI_ENABLE_BUS_MASTER);
    PciWriteConfig(F, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2, command);
    if (F->MsiCapability != 0) {
        USHORT control = (USHORT)PciReadConfig(F, F->MsiCapability + PCI_MSI_MESSAGE_CONTROL, 2);
        PciWriteConfig(F, F->MsiCapability + PCI_MSI_MESSAGE_CONTROL, 2,
                       control & ~PCI_MSI_CONTROL_ENABLE);
    }
    if (F->MsixCapability != 0) {
        USHORT control = (USHORT)PciReadConfig(F, F->MsixCapability + PCI_MSIX_MESSAGE_CONTROL, 2);
        PciWriteConfig(F, F->MsixCapability + PCI_MSIX_MESSAGE_CONTROL, 2,
                       control & ~PCI_MSIX_CONTROL_ENABLE);
    }
}

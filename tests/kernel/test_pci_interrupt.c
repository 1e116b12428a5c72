/*
 * test_pci_interrupt.c - a PCI device's resources and interrupts, end to
 * end, with QEMU's `edu` device (every test configuration plugs one in):
 * the bus driver builds its raw and translated resource lists, starts it
 * (MSI programmed, decode and bus mastering on), and a driver's ISR
 * connected with IoConnectInterruptEx runs when the device is told to
 * interrupt: by message (CONNECT_MESSAGE_BASED), then by its INTx line
 * (level-triggered, shared with another ISR that says "not mine").
 *
 * edu (QEMU docs/specs/edu.txt): BAR0 registers; writing a value to
 * 0x60 ORs it into the interrupt status (0x24) and raises the interrupt
 * (a message when MSI is on, else INTA held until the status is cleared
 * through 0x64).
 */
#include "../../drivers/pci/pcidrv.h"
#include "../../kernel/ke/ke_internal.h"
#include "../ktest.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11E8
#define EDU_REG_IDENTIFICATION   0x00
#define EDU_IDENTIFICATION_MAJOR_MINOR_MASK 0x0000FFFF
#define EDU_IDENTIFICATION_ED    0x00ED   /* low byte 0xED, version in the upper bytes */
#define EDU_REG_INTERRUPT_STATUS 0x24
#define EDU_REG_INTERRUPT_RAISE  0x60
#define EDU_REG_INTERRUPT_ACK    0x64
#define EDU_REGISTERS_MAPPED     PAGE_SIZE
#define KTP_CAUSE 0x5A

static volatile PUCHAR KtpEdu;
static volatile LONG KtpIsrCount, KtpOtherCount, KtpLastMessage = -1;
static volatile ULONG KtpCause;
static volatile KIRQL KtpIsrIrql;

static BOOLEAN KtpEduAcknowledge(void)
{
    ULONG status = READ_REGISTER_ULONG((volatile ULONG *)(KtpEdu + EDU_REG_INTERRUPT_STATUS));

    if (status == 0)
        return FALSE;                   /* not ours (a shared line) */
    KtpCause = status;
    /* Clear the cause before returning: the line drops before the EOI. */
    WRITE_REGISTER_ULONG((volatile ULONG *)(KtpEdu + EDU_REG_INTERRUPT_ACK), status);
    KtpIsrIrql = KeGetCurrentIrql();
    KtpIsrCount++;
    return TRUE;
}

static BOOLEAN KtpMessageIsr(PKINTERRUPT Interrupt, PVOID Context, ULONG MessageId)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KtpLastMessage = (LONG)MessageId;
    return KtpEduAcknowledge();
}

static BOOLEAN KtpLineIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    return KtpEduAcknowledge();
}

static BOOLEAN KtpOtherIsr(PKINTERRUPT Interrupt, PVOID Context)
{
    UNREFERENCED_PARAMETER(Interrupt);
    UNREFERENCED_PARAMETER(Context);
    KtpOtherCount++;
    return FALSE;                       /* another device on the line, idle */
}

/* Raise the interrupt and wait (up to 100 ms) for the ISR. */
static BOOLEAN KtpRaiseAndWait(LONG Before)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(KtpEdu + EDU_REG_INTERRUPT_RAISE), KTP_CAUSE);
    for (ULONG ms = 0; ms < 100 && KtpIsrCount == Before; ms++)
        KeStallExecutionProcessor(1000);
    return KtpIsrCount != Before;
}

static PCM_PARTIAL_RESOURCE_DESCRIPTOR KtpFind(PCM_RESOURCE_LIST List, UCHAR Type, ULONG Index)
{
    PCM_PARTIAL_RESOURCE_LIST p = &List->List[0].PartialResourceList;

    for (ULONG i = 0; i < p->Count; i++)
        if (p->PartialDescriptors[i].Type == Type && Index-- == 0)
            return &p->PartialDescriptors[i];
    return NULL;
}

static PVOID KtpMapBar0(PCM_RESOURCE_LIST Translated)
{
    PCM_PARTIAL_RESOURCE_DESCRIPTOR mem = KtpFind(Translated, CmResourceTypeMemory, 0);

    return mem ? MmMapIoSpace(mem->u.Memory.Start, EDU_REGISTERS_MAPPED, MmNonCached) : NULL;
}

static VOID KtpFreeResources(PPCI_FUNCTION F, PCM_RESOURCE_LIST Raw, PCM_RESOURCE_LIST Translated)
{
    for (ULONG i = 0; i < F->MessageCount; i++)
        HalPrivateDispatchTable.ReleaseMessageVector(F->MessageVectors[i]);
    F->MessageCount = 0;
    ExFreePoolWithTag(Raw, PCI_POOL_TAG);
    ExFreePoolWithTag(Translated, PCI_POOL_TAG);
}

KTEST(pci_interrupt, edu_message_interrupt_fires)
{
    static DEVICE_OBJECT pdo;           /* stands for the bus driver's PDO */
    PPCI_FUNCTION edu;
    PCM_RESOURCE_LIST raw, xlat;
    PCM_PARTIAL_RESOURCE_DESCRIPTOR msg;
    IO_CONNECT_INTERRUPT_PARAMETERS connect;
    IO_DISCONNECT_INTERRUPT_PARAMETERS disconnect;
    PIO_INTERRUPT_MESSAGE_INFO table = NULL;
    USHORT command;

    PciEnumerate();
    edu = PciFindDevice(EDU_VENDOR, EDU_DEVICE, 0);
    KASSERT_TRUE(edu != NULL);
    KASSERT_EQ(PciBuildResources(edu, &raw, &xlat), STATUS_SUCCESS);

    /* Raw and translated: BAR0 as memory, then one message interrupt. */
    KEXPECT_EQ(raw->List[0].PartialResourceList.Count, xlat->List[0].PartialResourceList.Count);
    KEXPECT_EQ(KtpFind(raw, CmResourceTypeMemory, 0)->u.Memory.Length, 0x100000);
    KEXPECT_EQ(KtpFind(xlat, CmResourceTypeMemory, 0)->u.Memory.Start.QuadPart,
               (LONGLONG)edu->Bars[0].Base);
    msg = KtpFind(raw, CmResourceTypeInterrupt, 0);
    KASSERT_TRUE(msg != NULL);
    KEXPECT_TRUE(msg->Flags & CM_RESOURCE_INTERRUPT_MESSAGE);
    KEXPECT_EQ(msg->u.MessageInterrupt.Raw.MessageCount, 1);
    msg = KtpFind(xlat, CmResourceTypeInterrupt, 0);
    KEXPECT_TRUE(msg->Flags & CM_RESOURCE_INTERRUPT_MESSAGE);
    KEXPECT_EQ(msg->u.MessageInterrupt.Translated.Vector, edu->MessageVectors[0]);
    KEXPECT_EQ(msg->u.MessageInterrupt.Translated.Level, edu->MessageVectors[0] >> 4);
    KEXPECT_EQ(KtpFind(xlat, CmResourceTypeInterrupt, 1), NULL);

    KASSERT_EQ(IopSetDeviceResources(&pdo, raw, xlat), STATUS_SUCCESS);
    /* A device with messages is not line based. */
    memset(&connect, 0, sizeof(connect));
    connect.Version = CONNECT_LINE_BASED;
    connect.LineBased.PhysicalDeviceObject = &pdo;
    connect.LineBased.InterruptObject = (PKINTERRUPT *)&table;
    connect.LineBased.ServiceRoutine = KtpLineIsr;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_INVALID_DEVICE_REQUEST);
    connect.Version = 7;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_INVALID_PARAMETER_1);

    KASSERT_EQ(PciStartFunction(edu), STATUS_SUCCESS);
    command = (USHORT)PciReadConfig(edu, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2);
    KEXPECT_TRUE(command & PCI_ENABLE_MEMORY_SPACE);
    KEXPECT_TRUE(command & PCI_ENABLE_BUS_MASTER);
    KEXPECT_TRUE(command & PCI_DISABLE_LEVEL_INTERRUPT);
    KEXPECT_TRUE(PciReadConfig(edu, edu->MsiCapability + PCI_MSI_MESSAGE_CONTROL, 2) &
                 PCI_MSI_CONTROL_ENABLE);

    memset(&connect, 0, sizeof(connect));
    connect.Version = CONNECT_MESSAGE_BASED;
    connect.MessageBased.PhysicalDeviceObject = &pdo;
    connect.MessageBased.ConnectionContext.InterruptMessageTable = &table;
    connect.MessageBased.MessageServiceRoutine = KtpMessageIsr;
    connect.MessageBased.FallBackServiceRoutine = KtpLineIsr;
    KASSERT_EQ(IoConnectInterruptEx(&connect), STATUS_SUCCESS);
    KEXPECT_EQ(connect.Version, CONNECT_MESSAGE_BASED);
    KASSERT_TRUE(table != NULL);
    KEXPECT_EQ(table->MessageCount, 1);
    KEXPECT_EQ(table->MessageInfo[0].Vector, edu->MessageVectors[0]);
    KEXPECT_EQ(table->MessageInfo[0].MessageData & 0xFF, edu->MessageVectors[0]);
    KEXPECT_EQ(table->MessageInfo[0].MessageAddress.QuadPart & 0xFFF00000, 0xFEE00000);
    KEXPECT_EQ(table->UnifiedIrql, table->MessageInfo[0].Irql);

    KtpEdu = KtpMapBar0(xlat);
    KASSERT_TRUE(KtpEdu != NULL);
    KEXPECT_EQ(READ_REGISTER_ULONG((volatile ULONG *)(KtpEdu + EDU_REG_IDENTIFICATION)) & 0xFF,
               EDU_IDENTIFICATION_ED);
    KtpIsrCount = 0;
    KtpLastMessage = -1;
    KEXPECT_TRUE(KtpRaiseAndWait(0));
    KEXPECT_EQ(KtpIsrCount, 1);
    KEXPECT_EQ(KtpLastMessage, 0);
    KEXPECT_EQ(KtpCause, KTP_CAUSE);
    KEXPECT_EQ(KtpIsrIrql, table->MessageInfo[0].Irql);
    /* Again: a message per event. */
    KEXPECT_TRUE(KtpRaiseAndWait(1));

    disconnect.Version = connect.Version;
    disconnect.ConnectionContext.InterruptMessageTable = table;
    IoDisconnectInterruptEx(&disconnect);
    /* Disconnected: the device's message reaches no ISR any more. */
    LONG before = KtpIsrCount;
    WRITE_REGISTER_ULONG((volatile ULONG *)(KtpEdu + EDU_REG_INTERRUPT_RAISE), KTP_CAUSE);
    KeStallExecutionProcessor(10000);
    KEXPECT_EQ(KtpIsrCount, before);
    WRITE_REGISTER_ULONG((volatile ULONG *)(KtpEdu + EDU_REG_INTERRUPT_ACK), KTP_CAUSE);

    PciStopFunction(edu);
    KEXPECT_FALSE(PciReadConfig(edu, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2) &
                  PCI_ENABLE_BUS_MASTER);
    MmUnmapIoSpace(KtpEdu, EDU_REGISTERS_MAPPED);
    IopSetDeviceResources(&pdo, NULL, NULL);
    KtpFreeResources(edu, raw, xlat);
}

/*
 * Without messages the function gets its INTx line: level-sensitive,
 * shared, at the GSI the firmware routed. Another ISR shares it and
 * declines; edu's ISR clears the cause, so the line drops before EOI and
 * the interrupt is delivered once.
 */
KTEST(pci_interrupt, edu_line_interrupt_fires_shared)
{
    static DEVICE_OBJECT pdo;
    PPCI_FUNCTION edu;
    PCM_RESOURCE_LIST raw, xlat;
    PCM_PARTIAL_RESOURCE_DESCRIPTOR line;
    PKINTERRUPT other = NULL, mine = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS connect;
    IO_DISCONNECT_INTERRUPT_PARAMETERS disconnect;
    UCHAR msi;

    PciEnumerate();
    edu = PciFindDevice(EDU_VENDOR, EDU_DEVICE, 0);
    KASSERT_TRUE(edu != NULL);
    KASSERT_NE(edu->Gsi, PCI_NO_GSI);
    msi = edu->MsiCapability;
    edu->MsiCapability = 0;             /* as if the function had no MSI */
    KASSERT_EQ(PciBuildResources(edu, &raw, &xlat), STATUS_SUCCESS);
    edu->MsiCapability = msi;

    line = KtpFind(raw, CmResourceTypeInterrupt, 0);
    KASSERT_TRUE(line != NULL);
    KEXPECT_FALSE(line->Flags & CM_RESOURCE_INTERRUPT_MESSAGE);
    KEXPECT_EQ(line->Flags, CM_RESOURCE_INTERRUPT_LEVEL_SENSITIVE);
    KEXPECT_EQ(line->ShareDisposition, CmResourceShareShared);
    KEXPECT_EQ(line->u.Interrupt.Vector, edu->Gsi);
    line = KtpFind(xlat, CmResourceTypeInterrupt, 0);
    KASSERT_TRUE(line != NULL);
    KEXPECT_EQ(line->u.Interrupt.Level, line->u.Interrupt.Vector >> 4);

    KASSERT_EQ(IopSetDeviceResources(&pdo, raw, xlat), STATUS_SUCCESS);
    KASSERT_EQ(PciStartFunction(edu), STATUS_SUCCESS);
    KEXPECT_FALSE(PciReadConfig(edu, FIELD_OFFSET(PCI_COMMON_CONFIG, Command), 2) &
                  PCI_DISABLE_LEVEL_INTERRUPT);

    /* Another device's ISR first on the line, then edu's through MESSAGE_BASED's fallback. */
    memset(&connect, 0, sizeof(connect));
    connect.Version = CONNECT_LINE_BASED;
    connect.LineBased.PhysicalDeviceObject = &pdo;
    connect.LineBased.InterruptObject = &other;
    connect.LineBased.ServiceRoutine = KtpOtherIsr;
    KASSERT_EQ(IoConnectInterruptEx(&connect), STATUS_SUCCESS);
    memset(&connect, 0, sizeof(connect));
    connect.Version = CONNECT_MESSAGE_BASED;
    connect.MessageBased.PhysicalDeviceObject = &pdo;
    connect.MessageBased.ConnectionContext.InterruptObject = &mine;
    connect.MessageBased.MessageServiceRoutine = KtpMessageIsr;
    connect.MessageBased.FallBackServiceRoutine = KtpLineIsr;
    KASSERT_EQ(IoConnectInterruptEx(&connect), STATUS_SUCCESS);
    KEXPECT_EQ(connect.Version, CONNECT_LINE_BASED);       /* it fell back */
    KASSERT_TRUE(mine != NULL);

    KtpEdu = KtpMapBar0(xlat);
    KASSERT_TRUE(KtpEdu != NULL);
    KtpIsrCount = KtpOtherCount = 0;
    KEXPECT_TRUE(KtpRaiseAndWait(0));
    KeStallExecutionProcessor(5000);    /* a level line left asserted would fire again */
    KEXPECT_EQ(KtpIsrCount, 1);
    KEXPECT_GE(KtpOtherCount, 1);       /* the shared line's other ISR was asked */
    KEXPECT_EQ(KtpCause, KTP_CAUSE);
    KEXPECT_EQ(KtpIsrIrql, line->u.Interrupt.Level);

    disconnect.Version = CONNECT_LINE_BASED;
    disconnect.ConnectionContext.InterruptObject = mine;
    IoDisconnectInterruptEx(&disconnect);
    disconnect.ConnectionContext.InterruptObject = other;
    IoDisconnectInterruptEx(&disconnect);
    PciStopFunction(edu);
    MmUnmapIoSpace(KtpEdu, EDU_REGISTERS_MAPPED);
    IopSetDeviceResources(&pdo, NULL, NULL);
    KtpFreeResources(edu, raw, xlat);
}

/* No record for the PDO: nothing to connect. */
KTEST(pci_interrupt, connect_without_resources_is_not_found)
{
    static DEVICE_OBJECT pdo;
    PKINTERRUPT interrupt = NULL;
    IO_CONNECT_INTERRUPT_PARAMETERS connect;

    memset(&connect, 0, sizeof(connect));
    connect.Version = CONNECT_LINE_BASED;
    connect.LineBased.PhysicalDeviceObject = &pdo;
    connect.LineBased.InterruptObject = &interrupt;
    connect.LineBased.ServiceRoutine = KtpLineIsr;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_NOT_FOUND);
    connect.Version = CONNECT_FULLY_SPECIFIED;
    connect.FullySpecified.ServiceRoutine = KtpLineIsr;
    connect.FullySpecified.InterruptObject = &interrupt;
    connect.FullySpecified.ProcessorEnableMask = 0;
    KEXPECT_EQ(IoConnectInterruptEx(&connect), STATUS_INVALID_PARAMETER_10);
}

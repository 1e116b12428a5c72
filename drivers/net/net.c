/*
 * net.c - the network layer's driver: \Device\Net, the adapter binding,
 * Ethernet in and out, send buffers, addresses and statistics.
 *
 *   DriverEntry   reads ip=A.B.C.D/N and gw=A.B.C.D (QEMU user networking's
 *                 10.0.2.15/24 and 10.0.2.2 when absent or malformed),
 *                 creates \Device\Net and a lookaside list of send buffers;
 *   IOCTL_NET_REGISTER_ADAPTER (internal, ntddnet.h): an adapter driver
 *                 offers itself; the layer keeps its interface, returns
 *                 its own, and starts the UDP echo service (port 7);
 *   IOCTL_NET_QUERY_STATISTICS: the counters.
 *
 * Receive (NetReceive, DISPATCH_LEVEL, from the adapter's DPC): every frame
 * ends in exactly one counter - delivered to ARP or IP, or dropped for a
 * reason (runt, another host's MAC, an unknown EtherType, over the
 * broadcast budget). Nothing is kept past the call: the adapter reuses the
 * buffer.
 *
 * Send: a frame is built in a NET_PACKET from the lookaside list, described
 * by the MDL inside it, and handed to the adapter; the packet goes back to
 * the list when the adapter completes it (or refuses it).
 */
#include "net.h"

NET_LAYER NetLayer;
volatile ULONG NetBroadcastBudget = NET_BROADCAST_BUDGET;
const UCHAR NetBroadcastMac[NET_ETHERNET_ADDRESS_LENGTH] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};

/* ---- Checksums (RFC 1071: the ones' complement of the ones' complement sum) ---- */

ULONG NetChecksumAdd(ULONG Sum, const UCHAR *Data, ULONG Length)
{
    ULONG i;

    for (i = 0; i + 1 < Length; i += 2)
        Sum += (ULONG)((Data[i] << 8) | Data[i + 1]);
    if (i < Length)
        Sum += (ULONG)(Data[i] << 8);
    return Sum;
}

USHORT NetChecksumFold(ULONG Sum)
{
    while (Sum >> 16)
        Sum = (Sum & 0xFFFF) + (Sum >> 16);
    return (USHORT)~Sum;
}

BOOLEAN NetOnLink(ULONG Address)
{
    return (Address & NetLayer.Mask) == (NetLayer.Address & NetLayer.Mask);
}

/* ---- Send buffers ---- */

PNET_PACKET NetPacketAllocate(VOID)
{
    PNET_PACKET packet = ExAllocateFromNPagedLookasideList(NetLayer.Packets);

    if (packet != NULL)
        __atomic_fetch_add(&NetLayer.PacketsOutstanding, 1, __ATOMIC_RELAXED);
    return packet;
}

VOID NetPacketFree(PNET_PACKET Packet)
{
    ExFreeToNPagedLookasideList(NetLayer.Packets, Packet);
    __atomic_fetch_sub(&NetLayer.PacketsOutstanding, 1, __ATOMIC_RELAXED);
}

/* Hand Packet->Frame's first Length bytes to the adapter (the packet is
 * the adapter's, or freed, when this returns). */
static NTSTATUS SendFrame(PNET_PACKET Packet, ULONG Length)
{
    PMDL mdl = (PMDL)Packet->MdlSpace;
    NTSTATUS status;

    if (!NetLayer.Bound) {
        NetPacketFree(Packet);
        NET_COUNT(TxDropped);
        return STATUS_DEVICE_NOT_READY;
    }
    /* QEMU's e1000 sends short frames as they are: pad to Ethernet's minimum. */
    if (Length < NET_ETHERNET_MIN_FRAME) {
        RtlZeroMemory(Packet->Frame + Length, NET_ETHERNET_MIN_FRAME - Length);
        Length = NET_ETHERNET_MIN_FRAME;
    }
    Packet->Length = Length;
    MmInitializeMdl(mdl, Packet->Frame, Length);
    MmBuildMdlForNonPagedPool(mdl);
    status = NetLayer.Adapter.Send(NetLayer.Adapter.AdapterContext, mdl, Length, Packet);
    if (status != STATUS_PENDING) {
        NetPacketFree(Packet);
        NET_COUNT(TxDropped);
        return status == STATUS_DEVICE_BUSY ? STATUS_INSUFFICIENT_RESOURCES : status;
    }
    NET_COUNT(TxFrames);
    return STATUS_SUCCESS;
}

/* Fill the Ethernet header in front of PayloadLength bytes already in place and send. */
NTSTATUS NetPacketSend(PNET_PACKET Packet, const UCHAR *DestinationMac, USHORT EtherType, ULONG PayloadLength)
{
    RtlCopyMemory(Packet->Frame, DestinationMac, NET_ETHERNET_ADDRESS_LENGTH);
    RtlCopyMemory(Packet->Frame + 6, NetLayer.Adapter.MacAddress, NET_ETHERNET_ADDRESS_LENGTH);
    NetPut16(Packet->Frame + 12, EtherType);
    return SendFrame(Packet, NET_ETHERNET_HEADER_LENGTH + PayloadLength);
}

NTSTATUS NetSendRawFrame(PVOID Frame, ULONG Length)
{
    PNET_PACKET packet;

    if (Length > NET_ETHERNET_MAX_FRAME)
        return STATUS_INVALID_BUFFER_SIZE;
    packet = NetPacketAllocate();
    if (packet == NULL) {
        NET_COUNT(TxDropped);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    RtlCopyMemory(packet->Frame, Frame, Length);
    return SendFrame(packet, Length);
}

/* ---- The adapter's calls (DISPATCH_LEVEL) ---- */

static BOOLEAN BroadcastAllowed(VOID)
{
    ULONG64 now = KeQueryInterruptTime();
    BOOLEAN allowed;
    KIRQL irql;

    KeAcquireSpinLock(&NetLayer.BroadcastLock, &irql);
    if (now - NetLayer.BroadcastWindowStart >= NET_BROADCAST_WINDOW_MS * 10000ULL) {
        NetLayer.BroadcastWindowStart = now;
        NetLayer.BroadcastCount = 0;
    }
    allowed = NetLayer.BroadcastCount < NetBroadcastBudget;
    NetLayer.BroadcastCount += allowed;
    KeReleaseSpinLock(&NetLayer.BroadcastLock, irql);
    return allowed;
}

static VOID NetReceive(PVOID ProtocolContext, PUCHAR Frame, ULONG Length)
{
    BOOLEAN broadcast;

    UNREFERENCED_PARAMETER(ProtocolContext);
    NET_COUNT(RxFrames);
    if (Length < NET_ETHERNET_HEADER_LENGTH) {
        NET_COUNT(RxRunt);
        return;
    }
    broadcast = RtlCompareMemory(Frame, NetBroadcastMac, NET_ETHERNET_ADDRESS_LENGTH) == NET_ETHERNET_ADDRESS_LENGTH;
    if (!broadcast &&
        RtlCompareMemory(Frame, NetLayer.Adapter.MacAddress, NET_ETHERNET_ADDRESS_LENGTH) != NET_ETHERNET_ADDRESS_LENGTH) {
        NET_COUNT(RxNotForUs);
        return;
    }
    if (broadcast && !BroadcastAllowed()) {
        NET_COUNT(RxBroadcastThrottled);
        return;
    }
    switch (NetGet16(Frame + 12)) {
    case NET_ETHERTYPE_ARP:
        NetArpInput(Frame, Length);
        break;
    case NET_ETHERTYPE_IPV4:
        NetIpInput(Frame, Length);
        break;
    default:
        NET_COUNT(RxUnknownType);
        break;
    }
}

static VOID NetSendComplete(PVOID ProtocolContext, PVOID SendContext, NTSTATUS Status)
{
    UNREFERENCED_PARAMETER(ProtocolContext);
    UNREFERENCED_PARAMETER(Status);
    NetPacketFree(SendContext);
}

/* ---- Statistics ---- */

VOID NetQueryStatistics(PNET_STATISTICS Stats)
{
    /* Each counter is read whole; together they are a near-instant, not a snapshot. */
    for (ULONG i = 0; i < FIELD_OFFSET(NET_STATISTICS, TxPacketsOutstanding) / sizeof(ULONG64); i++)
        ((ULONG64 *)Stats)[i] = __atomic_load_n(&((ULONG64 *)&NetLayer.Stats)[i], __ATOMIC_RELAXED);
    Stats->TxPacketsOutstanding = (ULONG)NetLayer.PacketsOutstanding;
    Stats->ArpCacheEntries = NetArpCacheCount();
    Stats->Address = NetLayer.Address;
    Stats->Mask = NetLayer.Mask;
    Stats->Gateway = NetLayer.Gateway;
    Stats->Bound = NetLayer.Bound;
}

BOOLEAN NetIsBound(VOID)
{
    return NetLayer.Bound;
}

/* ---- Configuration ---- */

/* "A.B.C.D" (each 0..255) then End; FALSE if anything else. */
static BOOLEAN ParseAddress(PCSTR Text, PULONG Address, PCSTR *End)
{
    ULONG value = 0;

    for (ULONG part = 0; part < 4; part++) {
        ULONG n = 0, digits = 0;

        if (part > 0 && *Text++ != '.')
            return FALSE;
        while (*Text >= '0' && *Text <= '9' && digits < 4) {
            n = n * 10 + (ULONG)(*Text++ - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || n > 255)
            return FALSE;
        value = (value << 8) | n;
    }
    *Address = value;
    *End = Text;
    return TRUE;
}

static VOID ReadConfiguration(VOID)
{
    char text[32];
    PCSTR end;
    ULONG address, prefix;

    NetLayer.Address = NET_DEFAULT_ADDRESS;
    NetLayer.Mask = 0xFFFFFFFFu << (32 - NET_DEFAULT_PREFIX);
    NetLayer.Gateway = NET_DEFAULT_GATEWAY;
    if (KeQueryBootOption("ip", text, sizeof(text))) {
        prefix = NET_DEFAULT_PREFIX;
        if (ParseAddress(text, &address, &end) && (*end == 0 || *end == '/')) {
            BOOLEAN ok = TRUE;

            if (*end == '/') {
                end++;
                prefix = 0;
                ok = *end != 0;
                for (; *end >= '0' && *end <= '9' && prefix <= 32; end++)
                    prefix = prefix * 10 + (ULONG)(*end - '0');
                ok = ok && *end == 0 && prefix >= 1 && prefix <= 30;
            }
            if (ok) {
                NetLayer.Address = address;
                NetLayer.Mask = 0xFFFFFFFFu << (32 - prefix);
            } else {
                DbgPrint("net: ip=%s: bad prefix, using the default\n", text);
            }
        } else {
            DbgPrint("net: ip=%s: not an address, using the default\n", text);
        }
    }
    if (KeQueryBootOption("gw", text, sizeof(text))) {
        if (ParseAddress(text, &address, &end) && *end == 0)
            NetLayer.Gateway = address;
        else
            DbgPrint("net: gw=%s: not an address, using the default\n", text);
    }
}

/* ---- Dispatch ---- */

static NTSTATUS EchoBind(VOID);

static NTSTATUS RegisterAdapter(PIO_STACK_LOCATION Stack, PIRP Irp)
{
    PNET_ADAPTER_INTERFACE adapter = Stack->Parameters.DeviceIoControl.Type3InputBuffer;
    PNET_PROTOCOL_INTERFACE protocol = Irp->UserBuffer;

    if (adapter == NULL || protocol == NULL ||
        Stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(*adapter) ||
        Stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(*protocol) ||
        adapter->Size != sizeof(*adapter) || adapter->Send == NULL || adapter->LinkUp == NULL)
        return STATUS_INVALID_PARAMETER;
    if (NetLayer.Bound)
        return STATUS_ALREADY_REGISTERED;
    NetLayer.Adapter = *adapter;
    protocol->Size = sizeof(*protocol);
    protocol->ProtocolContext = &NetLayer;
    protocol->Receive = NetReceive;
    protocol->SendComplete = NetSendComplete;
    __atomic_store_n(&NetLayer.Bound, TRUE, __ATOMIC_RELEASE);
    NetLayer.Stats.Bound = TRUE;
    DbgPrint("net: bound to %02x:%02x:%02x:%02x:%02x:%02x as %u.%u.%u.%u/%u, gateway %u.%u.%u.%u\n",
             adapter->MacAddress[0], adapter->MacAddress[1], adapter->MacAddress[2],
             adapter->MacAddress[3], adapter->MacAddress[4], adapter->MacAddress[5],
             NetLayer.Address >> 24, (NetLayer.Address >> 16) & 0xFF, (NetLayer.Address >> 8) & 0xFF,
             NetLayer.Address & 0xFF, 32 - __builtin_ctz(NetLayer.Mask),
             NetLayer.Gateway >> 24, (NetLayer.Gateway >> 16) & 0xFF, (NetLayer.Gateway >> 8) & 0xFF,
             NetLayer.Gateway & 0xFF);
    return EchoBind();
}

static NTSTATUS Dispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;

    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Information = 0;
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
        status = STATUS_SUCCESS;
        break;
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_NET_REGISTER_ADAPTER)
            status = RegisterAdapter(stack, Irp);
        break;
    case IRP_MJ_DEVICE_CONTROL:
        if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_NET_QUERY_STATISTICS)
            break;
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(NET_STATISTICS)) {
            status = STATUS_BUFFER_TOO_SMALL;
        } else {
            NetQueryStatistics(Irp->AssociatedIrp.SystemBuffer);
            Irp->IoStatus.Information = sizeof(NET_STATISTICS);
            status = STATUS_SUCCESS;
        }
        break;
    }
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/* ---- The echo service (RFC 862, UDP port 7) ---- */

static VOID EchoReceive(PVOID Context, PNET_UDP_DATAGRAM Datagram)
{
    UNREFERENCED_PARAMETER(Context);
    NetUdpReply(Datagram, Datagram->Data, Datagram->Length);
}

static NTSTATUS EchoBind(VOID)
{
    return NetUdpBind(NET_UDP_ECHO_PORT, EchoReceive, NULL, &NetLayer.Echo);
}

static NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    ReadConfiguration();
    KeInitializeSpinLock(&NetLayer.BroadcastLock);
    NetArpInitialize();
    NetIpInitialize();
    NetLayer.Packets = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(NPAGED_LOOKASIDE_LIST), NET_POOL_TAG);
    if (NetLayer.Packets == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    ExInitializeNPagedLookasideList(NetLayer.Packets, NULL, NULL, POOL_NX_ALLOCATION, sizeof(NET_PACKET),
                                    NET_PACKET_TAG, 0);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = Dispatch;
    DriverObject->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = Dispatch;
    RtlInitUnicodeString(&name, NET_DEVICE_NAME);
    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_NETWORK, 0, FALSE, &NetLayer.Self);
    if (!NT_SUCCESS(status))
        return status;
    NetLayer.Self->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}

IO_BUILTIN_DRIVER("Net", DriverEntry, NULL);

/*
 * ip.c - IPv4 (RFC 791) without fragments or options we act on, ICMP echo
 * (RFC 792) both ways, and UDP (RFC 768) for kernel code.
 *
 * Input checks everything a length or checksum claims against the frame
 * before reading past it: the IPv4 header (version 4, IHL >= 5, IHL and
 * total length inside the frame, the header checksum), then the protocol's
 * own length and checksum. Fragments (MF or an offset) are dropped and
 * counted: nothing is reassembled. Each frame ends in one counter.
 *
 * Replies (echo reply, the UDP echo) go back to the MAC the request came
 * from; everything else finds its next hop with ARP (the gateway for
 * addresses off our subnet).
 *
 * UDP endpoints are a small table under one spin lock, held while an
 * endpoint's receive routine runs: NetUdpUnbind takes it too, so once it
 * returns the routine cannot be running.
 */
#include "net.h"

#define IP_VERSION_4        4
#define IP_FLAG_MF          0x2000
#define IP_OFFSET_MASK      0x1FFF
#define IP_DEFAULT_TTL      64
#define ICMP_ECHO_REPLY     0
#define ICMP_ECHO_REQUEST   8
#define NET_PING_ID         0x4D49      /* "MI" */

typedef struct _NET_UDP_ENDPOINT {
    USHORT Port;                        /* 0: free */
    NET_UDP_RECEIVE *Receive;
    PVOID Context;
} NET_UDP_ENDPOINT;

static NET_UDP_ENDPOINT UdpEndpoints[NET_UDP_ENDPOINTS];
static KSPIN_LOCK UdpLock;
static USHORT IpIdentification;

typedef struct _NET_PING_WAIT {
    BOOLEAN InUse;
    USHORT Sequence;
    KEVENT Done;
    ULONG64 ReceivedAt;                 /* performance counter */
} NET_PING_WAIT;

static NET_PING_WAIT PingWaits[NET_PINGS];
static KSPIN_LOCK PingLock;
static volatile LONG PingSequence;

/* ---- Output ---- */

/* Fill the IPv4 header in front of PayloadLength bytes at NET_IP_PAYLOAD and send to Mac. */
NTSTATUS NetIpSend(PNET_PACKET Packet, const UCHAR *Mac, ULONG Destination, UCHAR Protocol, ULONG PayloadLength)
{
    PUCHAR ip = Packet->Frame + NET_ETHERNET_HEADER_LENGTH;
    ULONG total = NET_IPV4_HEADER + PayloadLength;

    ip[0] = (IP_VERSION_4 << 4) | (NET_IPV4_HEADER / 4);
    ip[1] = 0;
    NetPut16(ip + 2, (USHORT)total);
    NetPut16(ip + 4, __atomic_fetch_add(&IpIdentification, 1, __ATOMIC_RELAXED));
    NetPut16(ip + 6, 0);
    ip[8] = IP_DEFAULT_TTL;
    ip[9] = Protocol;
    NetPut16(ip + 10, 0);
    NetPut32(ip + 12, NetLayer.Address);
    NetPut32(ip + 16, Destination);
    NetPut16(ip + 10, NetChecksumFold(NetChecksumAdd(0, ip, NET_IPV4_HEADER)));
    return NetPacketSend(Packet, Mac, NET_ETHERTYPE_IPV4, total);
}

/* The next hop's MAC: on our subnet the address itself, else the gateway. */
static NTSTATUS NextHop(ULONG Address, PUCHAR Mac)
{
    ULONG hop = NetOnLink(Address) ? Address : NetLayer.Gateway;

    if (Address == 0xFFFFFFFF || Address == (NetLayer.Address | ~NetLayer.Mask)) {
        RtlCopyMemory(Mac, NetBroadcastMac, NET_ETHERNET_ADDRESS_LENGTH);
        return STATUS_SUCCESS;
    }
    if (NetArpLookup(hop, Mac))
        return STATUS_SUCCESS;
    if (KeGetCurrentIrql() == PASSIVE_LEVEL)
        return NT_SUCCESS(NetArpResolve(hop, Mac, 1000)) ? STATUS_SUCCESS : STATUS_HOST_UNREACHABLE;
    NetArpRequest(hop);
    return STATUS_HOST_UNREACHABLE;
}

static USHORT UdpChecksum(ULONG Source, ULONG Destination, const UCHAR *Udp, ULONG Length)
{
    UCHAR pseudo[12];
    USHORT sum;

    NetPut32(pseudo, Source);
    NetPut32(pseudo + 4, Destination);
    pseudo[8] = 0;
    pseudo[9] = NET_IP_PROTO_UDP;
    NetPut16(pseudo + 10, (USHORT)Length);
    sum = NetChecksumFold(NetChecksumAdd(NetChecksumAdd(0, pseudo, sizeof(pseudo)), Udp, Length));
    return sum;
}

static NTSTATUS UdpSendTo(const UCHAR *Mac, USHORT SourcePort, ULONG Address, USHORT Port,
                          const VOID *Data, ULONG Length)
{
    PNET_PACKET packet;
    PUCHAR udp;
    USHORT sum;

    if (Length > NET_UDP_MAX_PAYLOAD)
        return STATUS_INVALID_BUFFER_SIZE;
    if (!NetLayer.Bound || !NetLayer.Adapter.LinkUp(NetLayer.Adapter.AdapterContext))
        return STATUS_DEVICE_NOT_READY;
    packet = NetPacketAllocate();
    if (packet == NULL) {
        NET_COUNT(TxDropped);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    udp = NET_IP_PAYLOAD(packet);
    NetPut16(udp, SourcePort);
    NetPut16(udp + 2, Port);
    NetPut16(udp + 4, (USHORT)(NET_UDP_HEADER + Length));
    NetPut16(udp + 6, 0);
    RtlCopyMemory(udp + NET_UDP_HEADER, Data, Length);
    sum = UdpChecksum(NetLayer.Address, Address, udp, NET_UDP_HEADER + Length);
    NetPut16(udp + 6, sum == 0 ? 0xFFFF : sum);     /* 0 would mean "no checksum" */
    return NetIpSend(packet, Mac, Address, NET_IP_PROTO_UDP, NET_UDP_HEADER + Length);
}

NTSTATUS NetUdpSend(USHORT SourcePort, ULONG Address, USHORT Port, PVOID Data, ULONG Length)
{
    UCHAR mac[NET_ETHERNET_ADDRESS_LENGTH];
    NTSTATUS status;

    if (!NetLayer.Bound)
        return STATUS_DEVICE_NOT_READY;
    if (Length > NET_UDP_MAX_PAYLOAD)
        return STATUS_INVALID_BUFFER_SIZE;
    status = NextHop(Address, mac);
    if (!NT_SUCCESS(status)) {
        NET_COUNT(TxDropped);
        return status;
    }
    return UdpSendTo(mac, SourcePort, Address, Port, Data, Length);
}

NTSTATUS NetUdpReply(PNET_UDP_DATAGRAM To, PVOID Data, ULONG Length)
{
    return UdpSendTo(To->SourceMac, To->DestinationPort, To->SourceAddress, To->SourcePort, Data, Length);
}

/* ---- UDP endpoints ---- */

NTSTATUS NetUdpBind(USHORT Port, NET_UDP_RECEIVE *Receive, PVOID Context, PNET_UDP_ENDPOINT *Endpoint)
{
    NET_UDP_ENDPOINT *free = NULL;
    NTSTATUS status = STATUS_SUCCESS;
    KIRQL irql;

    if (Port == 0 || Receive == NULL || Endpoint == NULL)
        return STATUS_INVALID_PARAMETER;
    KeAcquireSpinLock(&UdpLock, &irql);
    for (ULONG i = 0; i < NET_UDP_ENDPOINTS; i++) {
        if (UdpEndpoints[i].Port == Port)
            status = STATUS_ADDRESS_ALREADY_EXISTS;
        if (UdpEndpoints[i].Port == 0 && free == NULL)
            free = &UdpEndpoints[i];
    }
    if (NT_SUCCESS(status) && free == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    if (NT_SUCCESS(status)) {
        free->Receive = Receive;
        free->Context = Context;
        free->Port = Port;
        *Endpoint = free;
    }
    KeReleaseSpinLock(&UdpLock, irql);
    return status;
}

VOID NetUdpUnbind(PNET_UDP_ENDPOINT Endpoint)
{
    KIRQL irql;

    KeAcquireSpinLock(&UdpLock, &irql);
    Endpoint->Port = 0;
    Endpoint->Receive = NULL;
    KeReleaseSpinLock(&UdpLock, irql);
}

/* ---- Input ---- */

static VOID UdpInput(const UCHAR *Frame, ULONG Source, ULONG Destination, const UCHAR *Udp, ULONG Length)
{
    NET_UDP_DATAGRAM datagram;
    USHORT udpLength, port;
    BOOLEAN delivered = FALSE;

    if (Length < NET_UDP_HEADER) {
        NET_COUNT(UdpBadLength);
        return;
    }
    udpLength = NetGet16(Udp + 4);
    if (udpLength < NET_UDP_HEADER || udpLength > Length) {
        NET_COUNT(UdpBadLength);
        return;
    }
    /* Checksum 0: the sender computed none (RFC 768); else it must sum to 0. */
    if (NetGet16(Udp + 6) != 0 && UdpChecksum(Source, Destination, Udp, udpLength) != 0) {
        NET_COUNT(UdpBadChecksum);
        return;
    }
    port = NetGet16(Udp + 2);
    datagram.SourceAddress = Source;
    datagram.SourcePort = NetGet16(Udp);
    datagram.DestinationPort = port;
    datagram.Data = (PUCHAR)Udp + NET_UDP_HEADER;
    datagram.Length = udpLength - NET_UDP_HEADER;
    RtlCopyMemory(datagram.SourceMac, Frame + 6, NET_ETHERNET_ADDRESS_LENGTH);
    KeAcquireSpinLockAtDpcLevel(&UdpLock);
    for (ULONG i = 0; i < NET_UDP_ENDPOINTS && !delivered; i++) {
        if (UdpEndpoints[i].Port == port) {
            NET_COUNT(UdpDelivered);
            UdpEndpoints[i].Receive(UdpEndpoints[i].Context, &datagram);
            delivered = TRUE;
        }
    }
    KeReleaseSpinLockFromDpcLevel(&UdpLock);
    if (!delivered)
        NET_COUNT(UdpNoPort);
}

static VOID IcmpInput(const UCHAR *Frame, ULONG Source, BOOLEAN ToBroadcast, const UCHAR *Icmp, ULONG Length)
{
    if (Length < NET_ICMP_HEADER) {
        NET_COUNT(IcmpMalformed);
        return;
    }
    if (NetChecksumFold(NetChecksumAdd(0, Icmp, Length)) != 0) {
        NET_COUNT(IcmpBadChecksum);
        return;
    }
    if (Icmp[0] == ICMP_ECHO_REQUEST && !ToBroadcast) {
        PNET_PACKET packet = NetPacketAllocate();
        PUCHAR reply;

        if (packet == NULL) {
            NET_COUNT(TxDropped);
            return;
        }
        NET_COUNT(IcmpEchoAnswered);
        reply = NET_IP_PAYLOAD(packet);
        RtlCopyMemory(reply, Icmp, Length);         /* identifier, sequence, data */
        reply[0] = ICMP_ECHO_REPLY;
        reply[1] = 0;
        NetPut16(reply + 2, 0);
        NetPut16(reply + 2, NetChecksumFold(NetChecksumAdd(0, reply, Length)));
        NetIpSend(packet, Frame + 6, Source, NET_IP_PROTO_ICMP, Length);
    } else if (Icmp[0] == ICMP_ECHO_REPLY && NetGet16(Icmp + 4) == NET_PING_ID) {
        USHORT sequence = NetGet16(Icmp + 6);
        LARGE_INTEGER now = KeQueryPerformanceCounter(NULL);

        NET_COUNT(IcmpEchoRepliesTaken);
        KeAcquireSpinLockAtDpcLevel(&PingLock);
        for (ULONG i = 0; i < NET_PINGS; i++) {
            if (PingWaits[i].InUse && PingWaits[i].Sequence == sequence) {
                PingWaits[i].ReceivedAt = (ULONG64)now.QuadPart;
                KeSetEvent(&PingWaits[i].Done, IO_NO_INCREMENT, FALSE);
            }
        }
        KeReleaseSpinLockFromDpcLevel(&PingLock);
    } else {
        NET_COUNT(IcmpOtherType);
    }
}

VOID NetIpInput(const UCHAR *Frame, ULONG Length)
{
    const UCHAR *ip = Frame + NET_ETHERNET_HEADER_LENGTH;
    ULONG avail = Length - NET_ETHERNET_HEADER_LENGTH, headerLength, total, destination;
    USHORT fragment;
    BOOLEAN broadcast;

    if (avail < NET_IPV4_HEADER) {
        NET_COUNT(IpTruncated);
        return;
    }
    headerLength = (ip[0] & 0xF) * 4u;
    if ((ip[0] >> 4) != IP_VERSION_4 || headerLength < NET_IPV4_HEADER) {
        NET_COUNT(IpBadHeader);
        return;
    }
    if (headerLength > avail) {
        NET_COUNT(IpTruncated);
        return;
    }
    if (NetChecksumFold(NetChecksumAdd(0, ip, headerLength)) != 0) {
        NET_COUNT(IpBadChecksum);
        return;
    }
    total = NetGet16(ip + 2);
    if (total < headerLength) {
        NET_COUNT(IpBadHeader);
        return;
    }
    if (total > avail) {                /* avail may be more: Ethernet pads to 60 */
        NET_COUNT(IpTruncated);
        return;
    }
    fragment = NetGet16(ip + 6);
    if ((fragment & IP_FLAG_MF) || (fragment & IP_OFFSET_MASK)) {
        NET_COUNT(IpFragments);
        return;
    }
    destination = NetGet32(ip + 16);
    broadcast = destination == 0xFFFFFFFF || destination == (NetLayer.Address | ~NetLayer.Mask);
    if (destination != NetLayer.Address && !broadcast) {
        NET_COUNT(IpOtherHost);
        return;
    }
    switch (ip[9]) {
    case NET_IP_PROTO_ICMP:
        IcmpInput(Frame, NetGet32(ip + 12), broadcast, ip + headerLength, total - headerLength);
        break;
    case NET_IP_PROTO_UDP:
        UdpInput(Frame, NetGet32(ip + 12), destination, ip + headerLength, total - headerLength);
        break;
    default:
        NET_COUNT(IpUnknownProtocol);
        break;
    }
}

/* ---- Ping ---- */

NTSTATUS NetPing(ULONG Address, ULONG PayloadBytes, ULONG TimeoutMs, PULONG64 RoundTripUs)
{
    UCHAR mac[NET_ETHERNET_ADDRESS_LENGTH];
    NET_PING_WAIT *wait = NULL;
    LARGE_INTEGER frequency, sent, timeout = {.QuadPart = -10000LL * TimeoutMs};
    PNET_PACKET packet;
    PUCHAR icmp;
    NTSTATUS status;
    KIRQL irql;

    if (PayloadBytes > NET_MTU - NET_IPV4_HEADER - NET_ICMP_HEADER)
        return STATUS_INVALID_BUFFER_SIZE;
    if (!NetLayer.Bound)
        return STATUS_DEVICE_NOT_READY;
    status = NextHop(Address, mac);
    if (!NT_SUCCESS(status))
        return status;
    KeAcquireSpinLock(&PingLock, &irql);
    for (ULONG i = 0; i < NET_PINGS && wait == NULL; i++) {
        if (!PingWaits[i].InUse) {
            wait = &PingWaits[i];
            wait->InUse = TRUE;
            wait->Sequence = (USHORT)__atomic_add_fetch(&PingSequence, 1, __ATOMIC_RELAXED);
            KeInitializeEvent(&wait->Done, NotificationEvent, FALSE);
        }
    }
    KeReleaseSpinLock(&PingLock, irql);
    if (wait == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    packet = NetPacketAllocate();
    status = STATUS_INSUFFICIENT_RESOURCES;
    if (packet != NULL) {
        icmp = NET_IP_PAYLOAD(packet);
        icmp[0] = ICMP_ECHO_REQUEST;
        icmp[1] = 0;
        NetPut16(icmp + 2, 0);
        NetPut16(icmp + 4, NET_PING_ID);
        NetPut16(icmp + 6, wait->Sequence);
        for (ULONG i = 0; i < PayloadBytes; i++)
            icmp[NET_ICMP_HEADER + i] = (UCHAR)i;
        NetPut16(icmp + 2, NetChecksumFold(NetChecksumAdd(0, icmp, NET_ICMP_HEADER + PayloadBytes)));
        sent = KeQueryPerformanceCounter(&frequency);
        status = NetIpSend(packet, mac, Address, NET_IP_PROTO_ICMP, NET_ICMP_HEADER + PayloadBytes);
    }
    if (NT_SUCCESS(status)) {
        status = KeWaitForSingleObject(&wait->Done, Executive, KernelMode, FALSE, &timeout);
        if (status == STATUS_TIMEOUT) {
            status = STATUS_IO_TIMEOUT;
        } else if (RoundTripUs != NULL) {
            *RoundTripUs = (wait->ReceivedAt - (ULONG64)sent.QuadPart) * 1000000ULL /
                           (ULONG64)frequency.QuadPart;
        }
    }
    KeAcquireSpinLock(&PingLock, &irql);
    wait->InUse = FALSE;
    KeReleaseSpinLock(&PingLock, irql);
    return status;
}

VOID NetIpInitialize(VOID)
{
    KeInitializeSpinLock(&UdpLock);
    KeInitializeSpinLock(&PingLock);
}

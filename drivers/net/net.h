/*
 * net.h - Mica's small network layer (drivers/net): Ethernet, ARP, IPv4,
 * ICMP echo and UDP over the one adapter that registers with \Device\Net
 * (ntddnet.h). Shared by net.c (the device, the adapter binding, send
 * buffers, configuration, statistics), arp.c, ip.c (IPv4, ICMP, UDP) and
 * kernel code that uses UDP (the echo service, the tests). <wdm.h> only.
 *
 * Addresses in this interface are IPv4 addresses in host order
 * (NET_IPV4(10,0,2,15)); ports are host order too. On the wire both are
 * big-endian: only ip.c and arp.c see that.
 */
#ifndef NET_H
#define NET_H

#include <wdm.h>

#define NET_POOL_TAG        'teNM'
#define NET_PACKET_TAG      'kPeN'      /* send buffers (their lookaside list) */

#define NET_IPV4(a, b, c, d) (((ULONG)(a) << 24) | ((ULONG)(b) << 16) | ((ULONG)(c) << 8) | (ULONG)(d))
/* QEMU user networking's addresses: the guest, its /24, the gateway. */
#define NET_DEFAULT_ADDRESS  NET_IPV4(10, 0, 2, 15)
#define NET_DEFAULT_PREFIX   24
#define NET_DEFAULT_GATEWAY  NET_IPV4(10, 0, 2, 2)

#define NET_ETHERTYPE_IPV4   0x0800
#define NET_ETHERTYPE_ARP    0x0806
#define NET_IP_PROTO_ICMP    1
#define NET_IP_PROTO_UDP     17
#define NET_IPV4_HEADER      20         /* without options */
#define NET_UDP_HEADER       8
#define NET_ICMP_HEADER      8
#define NET_UDP_MAX_PAYLOAD  (NET_MTU - NET_IPV4_HEADER - NET_UDP_HEADER)    /* 1472 */
#define NET_UDP_ECHO_PORT    7

/* Broadcast frames handled per NET_BROADCAST_WINDOW_MS; the rest are dropped
 * and counted, so a storm cannot keep the receive DPC busy answering. */
#define NET_BROADCAST_BUDGET     256
#define NET_BROADCAST_WINDOW_MS  100
#define NET_ARP_CACHE_SIZE       16
#define NET_ARP_TIMEOUT_MS       60000  /* an entry is trusted this long */
#define NET_UDP_ENDPOINTS        16
#define NET_PINGS                8      /* echo requests waiting at once */

/* ---- UDP for kernel code ---- */

typedef struct _NET_UDP_DATAGRAM {
    ULONG SourceAddress;
    USHORT SourcePort, DestinationPort;
    PUCHAR Data;                        /* valid only during the receive routine */
    ULONG Length;
    UCHAR SourceMac[NET_ETHERNET_ADDRESS_LENGTH];
} NET_UDP_DATAGRAM, *PNET_UDP_DATAGRAM;

/* Called at DISPATCH_LEVEL for every datagram to the bound port, one at a
 * time; it may send (NetUdpReply, NetUdpSend) but not wait. */
typedef VOID NET_UDP_RECEIVE(PVOID Context, PNET_UDP_DATAGRAM Datagram);

typedef struct _NET_UDP_ENDPOINT *PNET_UDP_ENDPOINT;

/* PASSIVE_LEVEL. STATUS_ADDRESS_ALREADY_EXISTS if Port is bound,
 * STATUS_INVALID_PARAMETER for port 0 or no routine,
 * STATUS_INSUFFICIENT_RESOURCES when all NET_UDP_ENDPOINTS are in use. */
NTSTATUS NetUdpBind(USHORT Port, NET_UDP_RECEIVE *Receive, PVOID Context, PNET_UDP_ENDPOINT *Endpoint);
/* PASSIVE_LEVEL. When it returns the routine is not running and will not run again. */
VOID NetUdpUnbind(PNET_UDP_ENDPOINT Endpoint);
/* IRQL <= DISPATCH_LEVEL. Send Length (<= NET_UDP_MAX_PAYLOAD) bytes to
 * Address:Port from SourcePort; the gateway carries what is off our
 * subnet. At PASSIVE_LEVEL an unknown next hop is resolved (ARP, up to
 * 1 s); above it STATUS_HOST_UNREACHABLE is returned and a request sent.
 * STATUS_DEVICE_NOT_READY: no adapter or the link is down;
 * STATUS_INVALID_BUFFER_SIZE; STATUS_INSUFFICIENT_RESOURCES (no buffer,
 * or the ring is full). The data is copied before it returns. */
NTSTATUS NetUdpSend(USHORT SourcePort, ULONG Address, USHORT Port, PVOID Data, ULONG Length);
/* From a receive routine: answer the datagram's sender (its MAC as the frame had it). */
NTSTATUS NetUdpReply(PNET_UDP_DATAGRAM To, PVOID Data, ULONG Length);

/* ---- ICMP echo and ARP for kernel code (PASSIVE_LEVEL) ---- */

/* One echo request of PayloadBytes; STATUS_SUCCESS with the round trip in
 * microseconds, STATUS_IO_TIMEOUT, or a send failure as for NetUdpSend. */
NTSTATUS NetPing(ULONG Address, ULONG PayloadBytes, ULONG TimeoutMs, PULONG64 RoundTripUs);
/* The MAC for an address on our subnet (asking if not cached). */
NTSTATUS NetArpResolve(ULONG Address, PUCHAR Mac, ULONG TimeoutMs);

/* ---- The layer ---- */

VOID NetQueryStatistics(PNET_STATISTICS Stats);     /* <= DISPATCH_LEVEL */
BOOLEAN NetIsBound(VOID);
/* Tests: one frame exactly as given (padded to the minimum), <= DISPATCH_LEVEL. */
NTSTATUS NetSendRawFrame(PVOID Frame, ULONG Length);
/* Tests: how long ARP entries live (ms), and drop every entry. */
extern volatile ULONG NetArpTimeoutMs;
extern volatile ULONG NetBroadcastBudget;      /* per window; NET_BROADCAST_BUDGET */
VOID NetArpFlush(VOID);
ULONG NetArpCacheCount(VOID);

/* ---- Inside the layer ---- */

typedef struct _NET_PACKET {
    ULONG64 MdlSpace[8];                /* the MDL of Frame (a header and two PFNs) */
    ULONG Length;
    UCHAR Frame[NET_ETHERNET_MAX_FRAME + 2];
} NET_PACKET, *PNET_PACKET;

typedef struct _NET_LAYER {
    PDEVICE_OBJECT Self;
    NET_ADAPTER_INTERFACE Adapter;
    volatile BOOLEAN Bound;
    ULONG Address, Mask, Gateway;       /* host order */
    PNPAGED_LOOKASIDE_LIST Packets;
    volatile LONG PacketsOutstanding;
    NET_STATISTICS Stats;               /* counted with atomics */
    KSPIN_LOCK BroadcastLock;
    ULONG64 BroadcastWindowStart;       /* interrupt time, 100 ns */
    ULONG BroadcastCount;
    PNET_UDP_ENDPOINT Echo;
} NET_LAYER, *PNET_LAYER;

extern NET_LAYER NetLayer;

#define NET_COUNT(Field) __atomic_fetch_add(&NetLayer.Stats.Field, 1, __ATOMIC_RELAXED)

static inline USHORT NetGet16(const UCHAR *p) { return (USHORT)((p[0] << 8) | p[1]); }
static inline ULONG NetGet32(const UCHAR *p)
{
    return ((ULONG)p[0] << 24) | ((ULONG)p[1] << 16) | ((ULONG)p[2] << 8) | p[3];
}
static inline VOID NetPut16(UCHAR *p, USHORT v) { p[0] = (UCHAR)(v >> 8); p[1] = (UCHAR)v; }
static inline VOID NetPut32(UCHAR *p, ULONG v)
{
    p[0] = (UCHAR)(v >> 24); p[1] = (UCHAR)(v >> 16); p[2] = (UCHAR)(v >> 8); p[3] = (UCHAR)v;
}

/* net.c */
PNET_PACKET NetPacketAllocate(VOID);
VOID NetPacketFree(PNET_PACKET Packet);
NTSTATUS NetPacketSend(PNET_PACKET Packet, const UCHAR *DestinationMac, USHORT EtherType, ULONG PayloadLength);
BOOLEAN NetOnLink(ULONG Address);
ULONG NetChecksumAdd(ULONG Sum, const UCHAR *Data, ULONG Length);
USHORT NetChecksumFold(ULONG Sum);
extern const UCHAR NetBroadcastMac[NET_ETHERNET_ADDRESS_LENGTH];

/* arp.c */
VOID NetArpInput(const UCHAR *Frame, ULONG Length);
BOOLEAN NetArpLookup(ULONG Address, PUCHAR Mac);
NTSTATUS NetArpRequest(ULONG Address);
VOID NetArpAge(VOID);
VOID NetArpInitialize(VOID);

/* ip.c */
VOID NetIpInput(const UCHAR *Frame, ULONG Length);
VOID NetIpInitialize(VOID);
NTSTATUS NetIpSend(PNET_PACKET Packet, const UCHAR *Mac, ULONG Destination, UCHAR Protocol, ULONG PayloadLength);
/* Where an IP payload starts in a packet's frame. */
#define NET_IP_PAYLOAD(Packet) ((Packet)->Frame + NET_ETHERNET_HEADER_LENGTH + NET_IPV4_HEADER)

#endif

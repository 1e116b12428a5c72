/*
 * ntddnet.h - how a network adapter driver and the network layer meet (the
 * `net` helper's section of the public API): NDIS in miniature.
 *
 * The network layer (drivers/net) creates \Device\Net in its DriverEntry.
 * An adapter driver (drivers/e1000), once its hardware is started, opens
 * \Device\Net and sends IOCTL_NET_REGISTER_ADAPTER (internal device
 * control) with its NET_ADAPTER_INTERFACE - as a miniport registers with
 * NDIS, which binds the protocols - and gets the layer's NET_PROTOCOL_
 * INTERFACE back: where to indicate received frames and complete sends.
 * Neither driver calls the other by name; each sees only this contract.
 *
 * Statistics are read with IOCTL_E1000_QUERY_STATISTICS on \Device\E1000_<n>
 * and IOCTL_NET_QUERY_STATISTICS on \Device\Net (METHOD_BUFFERED, output
 * only, IRQL PASSIVE_LEVEL): what the tests and the host peer check.
 */
#ifndef MICA_IO_NTDDNET_H
#define MICA_IO_NTDDNET_H

#include "io.h"

#define NET_DEVICE_NAME        u"\\Device\\Net"
#define E1000_DEVICE_NAME_FMT  "\\Device\\E1000_%u"

#define NET_ETHERNET_ADDRESS_LENGTH 6
#define NET_ETHERNET_HEADER_LENGTH  14
#define NET_ETHERNET_MIN_FRAME      60      /* without the FCS */
#define NET_ETHERNET_MAX_FRAME      1514    /* MTU 1500 + header, without the FCS */
#define NET_MTU                     1500

#define IOCTL_NET_REGISTER_ADAPTER \
    CTL_CODE(FILE_DEVICE_NETWORK, 0x800, METHOD_NEITHER, FILE_ANY_ACCESS)
#define IOCTL_NET_QUERY_STATISTICS \
    CTL_CODE(FILE_DEVICE_NETWORK, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_E1000_QUERY_STATISTICS \
    CTL_CODE(FILE_DEVICE_NETWORK, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS)

/*
 * The adapter's side. Send: IRQL <= DISPATCH_LEVEL, any processor. The frame
 * is Mdl's first Length bytes (at least NET_ETHERNET_MIN_FRAME, at most
 * NET_ETHERNET_MAX_FRAME; the caller pads). STATUS_PENDING: the adapter owns
 * the buffer until it calls SendComplete(SendContext); any other status:
 * refused (STATUS_DEVICE_BUSY: the ring is full; STATUS_INVALID_BUFFER_SIZE;
 * STATUS_DEVICE_NOT_READY: the link is down), the buffer is still the
 * caller's and SendComplete is not called.
 */
typedef NTSTATUS NET_ADAPTER_SEND(PVOID AdapterContext, PMDL Mdl, ULONG Length, PVOID SendContext);
typedef BOOLEAN NET_ADAPTER_LINK_UP(PVOID AdapterContext);

typedef struct _NET_ADAPTER_INTERFACE {
    ULONG Size;                             /* sizeof(NET_ADAPTER_INTERFACE) */
    PVOID AdapterContext;
    PDEVICE_OBJECT AdapterDevice;           /* for its statistics IOCTL */
    UCHAR MacAddress[NET_ETHERNET_ADDRESS_LENGTH];
    NET_ADAPTER_SEND *Send;
    NET_ADAPTER_LINK_UP *LinkUp;
} NET_ADAPTER_INTERFACE, *PNET_ADAPTER_INTERFACE;

/*
 * The layer's side, called by the adapter at DISPATCH_LEVEL. Receive: one
 * whole frame (FCS stripped); Frame is valid only during the call (the
 * buffer goes back to the adapter's ring when it returns). SendComplete:
 * once for every send that returned STATUS_PENDING.
 */
typedef VOID NET_PROTOCOL_RECEIVE(PVOID ProtocolContext, PUCHAR Frame, ULONG Length);
typedef VOID NET_PROTOCOL_SEND_COMPLETE(PVOID ProtocolContext, PVOID SendContext, NTSTATUS Status);

typedef struct _NET_PROTOCOL_INTERFACE {
    ULONG Size;
    PVOID ProtocolContext;
    NET_PROTOCOL_RECEIVE *Receive;
    NET_PROTOCOL_SEND_COMPLETE *SendComplete;
} NET_PROTOCOL_INTERFACE, *PNET_PROTOCOL_INTERFACE;

/* IOCTL_NET_REGISTER_ADAPTER: Type3InputBuffer = PNET_ADAPTER_INTERFACE,
 * UserBuffer = PNET_PROTOCOL_INTERFACE (filled). STATUS_ALREADY_REGISTERED
 * when the layer has an adapter already (it binds one). */
#ifndef STATUS_ALREADY_REGISTERED
#define STATUS_ALREADY_REGISTERED ((NTSTATUS)0xC0000718L)
#endif
#ifndef STATUS_DEVICE_BUSY
#define STATUS_DEVICE_BUSY ((NTSTATUS)0x80000011L)
#endif
#define STATUS_ADDRESS_ALREADY_EXISTS ((NTSTATUS)0xC000020AL)
#define STATUS_NETWORK_UNREACHABLE    ((NTSTATUS)0xC000023CL)
#define STATUS_HOST_UNREACHABLE       ((NTSTATUS)0xC000023DL)

/* The adapter's counters (monotonic since start). */
typedef struct _E1000_STATISTICS {
    ULONG64 Interrupts;             /* ISR calls that found a cause */
    ULONG64 SpuriousInterrupts;     /* ISR calls on the shared line with ICR 0 */
    ULONG64 Dpcs;
    ULONG64 RxFrames, RxBytes;
    ULONG64 TxFrames, TxBytes;
    ULONG64 TxRingFull;             /* sends refused: no free descriptors */
    ULONG64 TxBadLength;            /* sends refused: length out of range */
    ULONG64 RxOutOfBuffers;         /* frames dropped: no replacement buffer */
    ULONG64 RxRingFull;             /* DPCs that found every descriptor done */
    ULONG64 RxErrors;               /* descriptors with error bits */
    ULONG64 RxRunt;                 /* shorter than an Ethernet header */
    ULONG64 RxOversize;             /* longer than NET_ETHERNET_MAX_FRAME */
    ULONG64 RxFragmented;           /* frames spread over descriptors (dropped) */
    ULONG64 RxOverrunInterrupts;    /* ICR.RXO */
    ULONG64 LinkChanges;            /* ICR.LSC */
    ULONG64 HwMissedPackets;        /* MPC */
    ULONG64 HwNoBuffers;            /* RNBC */
    ULONG RxRingSize, TxRingSize;
    ULONG RxBuffersOutstanding;     /* lookaside entries held by the ring now */
    ULONG InterruptThrottle;        /* ITR, in 256 ns units (0: off) */
    BOOLEAN LinkUp;
    UCHAR MacAddress[NET_ETHERNET_ADDRESS_LENGTH];
} E1000_STATISTICS, *PE1000_STATISTICS;

/* The layer's counters: every frame it is given ends in exactly one of
 * the Rx* outcomes below (delivered, answered or dropped for a reason). */
typedef struct _NET_STATISTICS {
    ULONG64 RxFrames;
    ULONG64 RxRunt;                 /* shorter than an Ethernet header */
    ULONG64 RxNotForUs;             /* another unicast MAC */
    ULONG64 RxUnknownType;          /* an EtherType we do not speak */
    ULONG64 RxBroadcastThrottled;   /* over the broadcast budget */
    ULONG64 ArpRequestsAnswered, ArpRepliesTaken;
    ULONG64 ArpOtherHost;           /* a request for another address */
    ULONG64 ArpMalformed;
    ULONG64 IpTruncated;            /* header or total length beyond the frame */
    ULONG64 IpBadHeader;            /* version, IHL, total length < IHL */
    ULONG64 IpBadChecksum;
    ULONG64 IpFragments;            /* MF or an offset: dropped */
    ULONG64 IpOtherHost;
    ULONG64 IpUnknownProtocol;
    ULONG64 IcmpEchoAnswered, IcmpEchoRepliesTaken;
    ULONG64 IcmpBadChecksum, IcmpMalformed, IcmpOtherType;
    ULONG64 UdpDelivered;
    ULONG64 UdpBadLength, UdpBadChecksum, UdpNoPort;
    ULONG64 TxFrames;
    ULONG64 TxDropped;              /* the adapter refused, no buffer, no route */
    ULONG64 ArpCacheExpired;
    ULONG TxPacketsOutstanding;     /* send buffers not yet completed */
    ULONG ArpCacheEntries;
    ULONG Address, Mask, Gateway;   /* IPv4, host order */
    BOOLEAN Bound;
} NET_STATISTICS, *PNET_STATISTICS;

#endif

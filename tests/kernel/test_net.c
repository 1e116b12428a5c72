/*
 * test_net.c - the e1000 driver (drivers/e1000) and the network layer
 * (drivers/net) inside one machine: the adapter's PHY loopback (BMCR bit
 * 14) sends every frame we transmit back into our own receive ring, so
 * ARP, ping and UDP talk to Mica itself, and hand-made malformed frames
 * reach the receive path with no peer. The peers on the host (the socket
 * back-end and QEMU's user networking) are tests/netpeer.py's, talking to
 * net_peer.serve below.
 *
 * Every -M pc test boot has QEMU's default NIC, an e1000 (82540EM); q35's
 * default is an e1000e, which this driver does not claim, so there the
 * loopback tests skip and the peer boots add an e1000 of their own.
 *
 * Counters are read the way any client reads them, through the
 * statistics IOCTLs of \Device\E1000_<n> and \Device\Net.
 */
#include "../../drivers/e1000/e1000.h"
#include "../../drivers/net/net.h"
#include "../ktest.h"

#define KTN_TIMEOUT_MS  5000            /* QEMU holds frames for 1 s after RCTL is written */

static PE1000_ADAPTER KtnAdapter(VOID)
{
    for (LONG i = 0; i < E1000AdapterCount && i < E1000_MAX_ADAPTERS; i++)
        if (E1000Adapters[i] != NULL && E1000Adapters[i]->Bound)
            return E1000Adapters[i];
    return NULL;
}

static NTSTATUS KtnIoctl(PCWSTR Name, ULONG Code, PVOID Out, ULONG OutLength)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    PVOID file;
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    PIRP irp;
    NTSTATUS status;

    RtlInitUnicodeString(&name, Name);
    status = IoGetDeviceObjectPointer(&name, FILE_ALL_ACCESS, &file, &device);
    if (!NT_SUCCESS(status))
        return status;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(Code, device, NULL, 0, Out, OutLength, FALSE, &event, &iosb);
    status = STATUS_INSUFFICIENT_RESOURCES;
    if (irp != NULL) {
        status = IoCallDriver(device, irp);
        if (status == STATUS_PENDING) {
            KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
            status = iosb.Status;
        }
    }
    ObDereferenceObject(file);
    return status;
}

static const WCHAR *const KtnAdapterNames[E1000_MAX_ADAPTERS] = {
    u"\\Device\\E1000_0", u"\\Device\\E1000_1", u"\\Device\\E1000_2", u"\\Device\\E1000_3"};

static NTSTATUS KtnAdapterStats(PE1000_ADAPTER A, PE1000_STATISTICS S)
{
    return KtnIoctl(KtnAdapterNames[A->Number], IOCTL_E1000_QUERY_STATISTICS, S, sizeof(*S));
}

static NTSTATUS KtnNetStats(PNET_STATISTICS S)
{
    return KtnIoctl(NET_DEVICE_NAME, IOCTL_NET_QUERY_STATISTICS, S, sizeof(*S));
}

static VOID KtnSleepMs(ULONG Ms)
{
    LARGE_INTEGER due = {.QuadPart = -10000LL * Ms};

    KeDelayExecutionThread(KernelMode, FALSE, &due);
}

/* The outcomes a received frame can end in: their sum is RxFrames. */
static ULONG64 KtnOutcomes(const NET_STATISTICS *S)
{
    return S->RxRunt + S->RxNotForUs + S->RxUnknownType + S->RxBroadcastThrottled +
           S->ArpRequestsAnswered + S->ArpRepliesTaken + S->ArpOtherHost + S->ArpMalformed +
           S->IpTruncated + S->IpBadHeader + S->IpBadChecksum + S->IpFragments + S->IpOtherHost +
           S->IpUnknownProtocol + S->IcmpEchoAnswered + S->IcmpEchoRepliesTaken + S->IcmpBadChecksum +
           S->IcmpMalformed + S->IcmpOtherType + S->UdpDelivered + S->UdpBadLength + S->UdpBadChecksum +
           S->UdpNoPort;
}

/* Wait until the layer has taken Frames more frames than Before had. */
static BOOLEAN KtnWaitFrames(const NET_STATISTICS *Before, ULONG64 Frames, PNET_STATISTICS After)
{
    for (ULONG ms = 0; ms < KTN_TIMEOUT_MS; ms++) {
        if (NT_SUCCESS(KtnNetStats(After)) && After->RxFrames >= Before->RxFrames + Frames)
            return TRUE;
        KtnSleepMs(1);
    }
    return FALSE;
}

/* The receive buffers: all the ring's, none lost, PoolMon agrees. */
static VOID KtnExpectRxBalanced(PE1000_ADAPTER A)
{
    PGENERAL_LOOKASIDE l = &A->RxLookaside->L;
    SYSTEM_POOLTAG tag;
    ULONG cached = ExQueryDepthSList(&l->ListHead);

    KEXPECT_EQ(A->RxBuffersOutstanding, E1000_RX_RING);
    KEXPECT_EQ(l->TotalAllocates - l->TotalFrees, E1000_RX_RING);
    KASSERT_TRUE(ExpQueryPoolTag(E1000_RX_TAG, &tag));
    KEXPECT_EQ(tag.NonPagedAllocs - tag.NonPagedFrees, E1000_RX_RING + cached);
}

/* Send buffers: every one back (completions may trail the replies a little). */
static VOID KtnExpectTxBalanced(VOID)
{
    SYSTEM_POOLTAG tag;

    for (ULONG ms = 0; ms < KTN_TIMEOUT_MS && NetLayer.PacketsOutstanding != 0; ms++)
        KtnSleepMs(1);
    KEXPECT_EQ(NetLayer.PacketsOutstanding, 0);
    KASSERT_TRUE(ExpQueryPoolTag(NET_PACKET_TAG, &tag));
    KEXPECT_EQ(tag.NonPagedAllocs - tag.NonPagedFrees, ExQueryDepthSList(&NetLayer.Packets->L.ListHead));
}

static PE1000_ADAPTER KtnLoopbackBegin(VOID)
{
    PE1000_ADAPTER a = KtnAdapter();

    if (a == NULL)
        return NULL;
    E1000SetLoopback(a, TRUE);
    NetArpFlush();
    /* QEMU holds received frames back for a second after RCTL is written,
     * and its loopback path drops what it cannot deliver: wait until a
     * ping gets through before a test counts frames. */
    for (ULONG i = 0; i < KTN_TIMEOUT_MS / 100; i++)
        if (NT_SUCCESS(NetPing(NET_DEFAULT_ADDRESS, 0, 100, NULL)))
            break;
    return a;
}

static VOID KtnLoopbackEnd(PE1000_ADAPTER A)
{
    E1000SetLoopback(A, FALSE);
    NetArpFlush();
}

#define KTN_NEED_ADAPTER(A) \
    do { if ((A) == NULL) KTEST_SKIP("no bound e1000 (q35's default NIC is an e1000e)"); } while (0)

KTEST(net, adapter_started_and_bound)
{
    PE1000_ADAPTER a = KtnAdapter();
    E1000_STATISTICS s;
    NET_STATISTICS n;
    static const UCHAR zero[NET_ETHERNET_ADDRESS_LENGTH];
    ULONG ral, rah;

    KTN_NEED_ADAPTER(a);
    KASSERT_EQ(KtnAdapterStats(a, &s), STATUS_SUCCESS);
    KEXPECT_EQ(s.RxRingSize, E1000_RX_RING);
    KEXPECT_EQ(s.TxRingSize, E1000_TX_RING);
    KEXPECT_TRUE(s.LinkUp);
    KEXPECT_NE(RtlCompareMemory(s.MacAddress, zero, sizeof(zero)), sizeof(zero));
    /* The receive filter holds the EEPROM's address, valid. */
    ral = E1000Read(a, E1000_RAL0);
    rah = E1000Read(a, E1000_RAH0);
    KEXPECT_EQ(ral, (ULONG)(s.MacAddress[0] | (s.MacAddress[1] << 8) | (s.MacAddress[2] << 16) |
                            ((ULONG)s.MacAddress[3] << 24)));
    KEXPECT_EQ(rah, (ULONG)(s.MacAddress[4] | (s.MacAddress[5] << 8) | (1u << 31)));
    KASSERT_EQ(KtnNetStats(&n), STATUS_SUCCESS);
    KEXPECT_TRUE(n.Bound);
    KEXPECT_EQ(n.Address, NET_DEFAULT_ADDRESS);
    KEXPECT_EQ(n.Gateway, NET_DEFAULT_GATEWAY);
    /* A buffer too small for the counters is refused, as NT's IOCTLs do. */
    KEXPECT_EQ(KtnIoctl(KtnAdapterNames[a->Number], IOCTL_E1000_QUERY_STATISTICS, &s, sizeof(s) - 1),
               STATUS_BUFFER_TOO_SMALL);
    KtnExpectRxBalanced(a);
}

/* Far more pings than descriptors: both rings wrap many times over, and
 * every receive buffer goes back to the lookaside list. */
KTEST(net, loopback_pings_wrap_both_rings)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    E1000_STATISTICS before, after;
    ULONG ok = 0, pings = 4 * E1000_RX_RING;
    ULONG64 rtt = 0;

    KTN_NEED_ADAPTER(a);
    KASSERT_EQ(KtnAdapterStats(a, &before), STATUS_SUCCESS);
    for (ULONG i = 0; i < pings; i++) {
        NTSTATUS status = NetPing(NET_DEFAULT_ADDRESS, i % 200, KTN_TIMEOUT_MS, &rtt);

        if (NT_SUCCESS(status))
            ok++;
        else if (pings - ok < 4)
            KtestPrint("# ping %u: %08x\n", i, (ULONG)status);
    }
    KEXPECT_EQ(ok, pings);
    KASSERT_EQ(KtnAdapterStats(a, &after), STATUS_SUCCESS);
    /* Each ping is a request and a reply through both rings. */
    KEXPECT_GE(after.RxFrames - before.RxFrames, 2ULL * pings);
    KEXPECT_GE(after.TxFrames - before.TxFrames, 2ULL * pings);
    KEXPECT_GT(after.Interrupts, before.Interrupts);
    KtestPrint("# %u loopback pings, last %llu us, %llu interrupts, %llu DPCs\n", pings, rtt,
               after.Interrupts - before.Interrupts, after.Dpcs - before.Dpcs);
    KtnLoopbackEnd(a);
    KtnExpectRxBalanced(a);
    KtnExpectTxBalanced();
}

/* ---- Hand-made frames ---- */

#define KTN_OTHER_HOST NET_IPV4(10, 0, 2, 99)

/* Ethernet to us from us (loopback), then an IPv4 header with a good checksum. */
static ULONG KtnIp(PUCHAR F, const UCHAR *Mac, ULONG Destination, UCHAR Protocol, ULONG Payload)
{
    PUCHAR ip = F + NET_ETHERNET_HEADER_LENGTH;

    RtlZeroMemory(F, NET_ETHERNET_MAX_FRAME);
    RtlCopyMemory(F, Mac, 6);
    RtlCopyMemory(F + 6, Mac, 6);
    NetPut16(F + 12, NET_ETHERTYPE_IPV4);
    ip[0] = 0x45;
    NetPut16(ip + 2, (USHORT)(NET_IPV4_HEADER + Payload));
    ip[8] = 64;
    ip[9] = Protocol;
    NetPut32(ip + 12, NET_DEFAULT_ADDRESS);
    NetPut32(ip + 16, Destination);
    NetPut16(ip + 10, NetChecksumFold(NetChecksumAdd(0, ip, NET_IPV4_HEADER)));
    return NET_ETHERNET_HEADER_LENGTH + NET_IPV4_HEADER + Payload;
}

static VOID KtnIpRechecksum(PUCHAR F)
{
    PUCHAR ip = F + NET_ETHERNET_HEADER_LENGTH;

    NetPut16(ip + 10, 0);
    NetPut16(ip + 10, NetChecksumFold(NetChecksumAdd(0, ip, (ip[0] & 0xF) * 4u)));
}

static ULONG KtnArp(PUCHAR F, const UCHAR *Mac, USHORT Op, ULONG Target)
{
    PUCHAR p = F + NET_ETHERNET_HEADER_LENGTH;

    RtlZeroMemory(F, NET_ETHERNET_MAX_FRAME);
    RtlCopyMemory(F, NetBroadcastMac, 6);
    RtlCopyMemory(F + 6, Mac, 6);
    NetPut16(F + 12, NET_ETHERTYPE_ARP);
    NetPut16(p, 1);
    NetPut16(p + 2, NET_ETHERTYPE_IPV4);
    p[4] = 6;
    p[5] = 4;
    NetPut16(p + 6, Op);
    RtlCopyMemory(p + 8, Mac, 6);
    NetPut32(p + 14, NET_IPV4(10, 0, 2, 77));
    NetPut32(p + 24, Target);
    return NET_ETHERNET_HEADER_LENGTH + 28;
}

static ULONG KtnUdp(PUCHAR F, const UCHAR *Mac, USHORT Port, ULONG Payload, BOOLEAN Checksum)
{
    ULONG n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, NET_IP_PROTO_UDP, NET_UDP_HEADER + Payload);
    PUCHAR udp = F + NET_ETHERNET_HEADER_LENGTH + NET_IPV4_HEADER;
    UCHAR pseudo[12];

    NetPut16(udp, 4444);
    NetPut16(udp + 2, Port);
    NetPut16(udp + 4, (USHORT)(NET_UDP_HEADER + Payload));
    for (ULONG i = 0; i < Payload; i++)
        udp[NET_UDP_HEADER + i] = (UCHAR)(i * 7);
    if (Checksum) {
        NetPut32(pseudo, NET_DEFAULT_ADDRESS);
        NetPut32(pseudo + 4, NET_DEFAULT_ADDRESS);
        pseudo[8] = 0;
        pseudo[9] = NET_IP_PROTO_UDP;
        NetPut16(pseudo + 10, (USHORT)(NET_UDP_HEADER + Payload));
        NetPut16(udp + 6, NetChecksumFold(NetChecksumAdd(NetChecksumAdd(0, pseudo, 12), udp,
                                                         NET_UDP_HEADER + Payload)));
    }
    return n;
}

static ULONG KtnIcmp(PUCHAR F, const UCHAR *Mac, UCHAR Type, ULONG Payload)
{
    ULONG n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, NET_IP_PROTO_ICMP, NET_ICMP_HEADER + Payload);
    PUCHAR icmp = F + NET_ETHERNET_HEADER_LENGTH + NET_IPV4_HEADER;

    icmp[0] = Type;
    NetPut16(icmp + 2, NetChecksumFold(NetChecksumAdd(0, icmp, NET_ICMP_HEADER + Payload)));
    return n;
}

typedef struct _KTN_CASE {
    const char *Name;
    ULONG Counter;                      /* offset of the NET_STATISTICS counter that must move */
} KTN_CASE;

#define KTN_FIELD(f) (ULONG)FIELD_OFFSET(NET_STATISTICS, f)

/* Build malformed frame number Index into F; its length, 0 past the last. */
static ULONG KtnMalformed(ULONG Index, PUCHAR F, const UCHAR *Mac, KTN_CASE *Case)
{
    PUCHAR ip = F + NET_ETHERNET_HEADER_LENGTH, l4 = ip + NET_IPV4_HEADER;
    ULONG n;

    switch (Index) {
    case 0:
        *Case = (KTN_CASE){"an unknown EtherType", KTN_FIELD(RxUnknownType)};
        n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 0);
        NetPut16(F + 12, 0x88B5);
        return n;
    case 1:
        *Case = (KTN_CASE){"ARP for another host", KTN_FIELD(ArpOtherHost)};
        return KtnArp(F, Mac, 1, KTN_OTHER_HOST);
    case 2:
        *Case = (KTN_CASE){"ARP with a 7-byte hardware address", KTN_FIELD(ArpMalformed)};
        n = KtnArp(F, Mac, 1, NET_DEFAULT_ADDRESS);
        F[NET_ETHERNET_HEADER_LENGTH + 4] = 7;
        return n;
    case 3:
        *Case = (KTN_CASE){"ARP operation 5", KTN_FIELD(ArpMalformed)};
        n = KtnArp(F, Mac, 5, NET_DEFAULT_ADDRESS);
        return n;
    case 4:
        *Case = (KTN_CASE){"IP version 6 in an IPv4 frame", KTN_FIELD(IpBadHeader)};
        n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
        ip[0] = 0x65;
        KtnIpRechecksum(F);
        return n;
    case 5:
        *Case = (KTN_CASE){"IHL 4", KTN_FIELD(IpBadHeader)};
        n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
        ip[0] = 0x44;
        return n;
    case 6:
        *Case = (KTN_CASE){"IHL 15 in a short frame", KTN_FIELD(IpTruncated)};
        KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
        ip[0] = 0x4F;
        return NET_ETHERNET_MIN_FRAME;
    case 7:
        *Case = (KTN_CASE){"total length beyond the frame", KTN_FIELD(IpTruncated)};
        n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
        NetPut16(ip + 2, 1000);
        KtnIpRechecksum(F);
        return n;
    case 8:
        *Case = (KTN_CASE){"total length below the header", KTN_FIELD(IpBadHeader)};
        n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
        NetPut16(ip + 2, 10);
        KtnIpRechecksum(F);
        return n;
    case 9:
        *Case = (KTN_CASE){"a bad header checksum", KTN_FIELD(IpBadChecksum)};
        n = KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
        ip[10] ^= 0x55;
        return n;
    case 10:
        *Case = (KTN_CASE){"a first fragment (MF)", KTN_FIELD(IpFragments)};
        n = KtnUdp(F, Mac, NET_UDP_ECHO_PORT, 16, TRUE);
        NetPut16(ip + 6, 0x2000);
        KtnIpRechecksum(F);
        return n;
    case 11:
        *Case = (KTN_CASE){"a later fragment (offset)", KTN_FIELD(IpFragments)};
        n = KtnUdp(F, Mac, NET_UDP_ECHO_PORT, 16, TRUE);
        NetPut16(ip + 6, 0x0003);
        KtnIpRechecksum(F);
        return n;
    case 12:
        *Case = (KTN_CASE){"IP for another host", KTN_FIELD(IpOtherHost)};
        return KtnIp(F, Mac, KTN_OTHER_HOST, NET_IP_PROTO_UDP, 8);
    case 13:
        *Case = (KTN_CASE){"IP protocol 99", KTN_FIELD(IpUnknownProtocol)};
        return KtnIp(F, Mac, NET_DEFAULT_ADDRESS, 99, 8);
    case 14:
        *Case = (KTN_CASE){"ICMP shorter than its header", KTN_FIELD(IcmpMalformed)};
        return KtnIp(F, Mac, NET_DEFAULT_ADDRESS, NET_IP_PROTO_ICMP, 4);
    case 15:
        *Case = (KTN_CASE){"ICMP with a bad checksum", KTN_FIELD(IcmpBadChecksum)};
        n = KtnIcmp(F, Mac, 8, 32);
        l4[2] ^= 0x11;
        return n;
    case 16:
        *Case = (KTN_CASE){"ICMP timestamp request", KTN_FIELD(IcmpOtherType)};
        return KtnIcmp(F, Mac, 13, 12);
    case 17:
        *Case = (KTN_CASE){"UDP length beyond the IP payload", KTN_FIELD(UdpBadLength)};
        n = KtnUdp(F, Mac, NET_UDP_ECHO_PORT, 20, FALSE);
        NetPut16(l4 + 4, 100);
        return n;
    case 18:
        *Case = (KTN_CASE){"UDP length below its header", KTN_FIELD(UdpBadLength)};
        n = KtnUdp(F, Mac, NET_UDP_ECHO_PORT, 20, FALSE);
        NetPut16(l4 + 4, 4);
        return n;
    case 19:
        *Case = (KTN_CASE){"UDP header cut by the IP length", KTN_FIELD(UdpBadLength)};
        return KtnIp(F, Mac, NET_DEFAULT_ADDRESS, NET_IP_PROTO_UDP, 3);
    case 20:
        *Case = (KTN_CASE){"UDP with a bad checksum", KTN_FIELD(UdpBadChecksum)};
        n = KtnUdp(F, Mac, NET_UDP_ECHO_PORT, 20, TRUE);
        l4[NET_UDP_HEADER] ^= 0xFF;
        return n;
    case 21:
        *Case = (KTN_CASE){"UDP to a port nobody bound", KTN_FIELD(UdpNoPort)};
        return KtnUdp(F, Mac, 9999, 20, TRUE);
    default:
        return 0;
    }
}

static ULONG64 KtnField(const NET_STATISTICS *S, ULONG Offset)
{
    return *(const ULONG64 *)((const UCHAR *)S + Offset);
}

/* Every kind of bad frame once: exactly its counter moves, every frame is
 * accounted for, nothing leaks, and Mica still answers afterwards. */
KTEST(net, malformed_frames_are_dropped_and_counted)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    PUCHAR frame;
    NET_STATISTICS before, after;
    KTN_CASE c;
    ULONG n, cases = 0;

    KTN_NEED_ADAPTER(a);
    frame = ExAllocatePoolWithTag(NonPagedPoolNx, NET_ETHERNET_MAX_FRAME, 'tNtK');
    KASSERT_TRUE(frame != NULL);
    /* ARP first, so the echo replies below do not wait for it. */
    KEXPECT_EQ(NetPing(NET_DEFAULT_ADDRESS, 8, KTN_TIMEOUT_MS, NULL), STATUS_SUCCESS);
    for (ULONG i = 0; (n = KtnMalformed(i, frame, a->Mac, &c)) != 0; i++, cases++) {
        KASSERT_EQ(KtnNetStats(&before), STATUS_SUCCESS);
        KEXPECT_EQ(NetSendRawFrame(frame, n), STATUS_SUCCESS);
        if (!KtnWaitFrames(&before, 1, &after)) {
            KtestPrint("# %s: never received\n", c.Name);
            KEXPECT_TRUE(FALSE);
            continue;
        }
        if (KtnField(&after, c.Counter) != KtnField(&before, c.Counter) + 1)
            KtestPrint("# %s: its counter did not move\n", c.Name);
        KEXPECT_EQ(KtnField(&after, c.Counter), KtnField(&before, c.Counter) + 1);
        KEXPECT_EQ(KtnOutcomes(&after), after.RxFrames);
    }
    KEXPECT_EQ(cases, 22);
    ExFreePoolWithTag(frame, 'tNtK');
    KEXPECT_EQ(NetPing(NET_DEFAULT_ADDRESS, 56, KTN_TIMEOUT_MS, NULL), STATUS_SUCCESS);
    KtnLoopbackEnd(a);
    KtnExpectRxBalanced(a);
    KtnExpectTxBalanced();
}

/* The adapter refuses frames it must not put on the wire. */
KTEST(net, send_refuses_bad_lengths)
{
    PE1000_ADAPTER a = KtnAdapter();
    E1000_STATISTICS before, after;
    PUCHAR buffer;
    PMDL mdl;

    KTN_NEED_ADAPTER(a);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 2048, 'tNtK');
    KASSERT_TRUE(buffer != NULL);
    mdl = IoAllocateMdl(buffer, 2048, FALSE, FALSE, NULL);
    KASSERT_TRUE(mdl != NULL);
    MmBuildMdlForNonPagedPool(mdl);
    KASSERT_EQ(KtnAdapterStats(a, &before), STATUS_SUCCESS);
    KEXPECT_EQ(E1000Send(a, mdl, NET_ETHERNET_MIN_FRAME - 1, NULL), STATUS_INVALID_BUFFER_SIZE);
    KEXPECT_EQ(E1000Send(a, mdl, NET_ETHERNET_MAX_FRAME + 1, NULL), STATUS_INVALID_BUFFER_SIZE);
    KASSERT_EQ(KtnAdapterStats(a, &after), STATUS_SUCCESS);
    KEXPECT_EQ(after.TxBadLength - before.TxBadLength, 2);
    KEXPECT_EQ(after.TxFrames, before.TxFrames);
    IoFreeMdl(mdl);
    ExFreePoolWithTag(buffer, 'tNtK');
}

/* Frames keep arriving while the DPC leaves the ring alone: the device
 * fills every descriptor it has - exactly RX_RING - 1, one stays back at
 * RDT - and stops. QEMU's loopback path drops the rest without a count
 * (a back-end's frames wait in QEMU instead: tests/netpeer.py). The DPC
 * sees the full ring (RxRingFull), takes all of it, and the ring works
 * again afterwards. */
KTEST(net, frames_arriving_while_the_receive_ring_is_full_are_counted)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    E1000_STATISTICS before, after;
    NET_STATISTICS nb, na;
    UCHAR frame[NET_ETHERNET_MIN_FRAME];
    ULONG frames = 3 * E1000_RX_RING, sent = 0;
    ULONG64 taken;

    KTN_NEED_ADAPTER(a);
    RtlZeroMemory(frame, sizeof(frame));
    RtlCopyMemory(frame, a->Mac, 6);
    RtlCopyMemory(frame + 6, a->Mac, 6);
    NetPut16(frame + 12, 0x88B5);
    KASSERT_EQ(KtnAdapterStats(a, &before), STATUS_SUCCESS);
    KASSERT_EQ(KtnNetStats(&nb), STATUS_SUCCESS);
    __atomic_store_n(&a->RxPaused, 1, __ATOMIC_RELEASE);
    for (ULONG i = 0; i < frames; i++)
        sent += NT_SUCCESS(NetSendRawFrame(frame, sizeof(frame)));
    KtnSleepMs(20);
    __atomic_store_n(&a->RxPaused, 0, __ATOMIC_RELEASE);
    E1000Write(a, E1000_ICS, E1000_ICR_RXT0);      /* an interrupt, so the DPC runs */
    KEXPECT_EQ(sent, frames);
    /* The device had RX_RING - 1 descriptors (one stays back at RDT). */
    KEXPECT_TRUE(KtnWaitFrames(&nb, E1000_RX_RING - 1, &na));
    KtnSleepMs(20);
    KASSERT_EQ(KtnNetStats(&na), STATUS_SUCCESS);
    KASSERT_EQ(KtnAdapterStats(a, &after), STATUS_SUCCESS);
    taken = na.RxUnknownType - nb.RxUnknownType;
    KtestPrint("# %u sent with the ring held: %llu taken, MPC %llu, RNBC %llu, RXO %llu\n", frames, taken,
               after.HwMissedPackets - before.HwMissedPackets, after.HwNoBuffers - before.HwNoBuffers,
               after.RxOverrunInterrupts - before.RxOverrunInterrupts);
    KEXPECT_EQ(taken, E1000_RX_RING - 1);
    KEXPECT_GT(after.RxRingFull, before.RxRingFull);
    /* And the ring works again: a ping through it. */
    KEXPECT_EQ(NetPing(NET_DEFAULT_ADDRESS, 8, KTN_TIMEOUT_MS, NULL), STATUS_SUCCESS);
    KtnLoopbackEnd(a);
    KtnExpectRxBalanced(a);
    KtnExpectTxBalanced();
}

/* No replacement buffer: the frame is dropped and counted, the full buffer
 * goes back to its descriptor, and the ring keeps all its buffers. */
KTEST(net, out_of_buffers_drops_the_frame_and_keeps_the_descriptor)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    E1000_STATISTICS before, after;
    NET_STATISTICS nb, na;
    UCHAR frame[NET_ETHERNET_MIN_FRAME];
    const ULONG fail = 5, frames = 2 * E1000_RX_RING;

    KTN_NEED_ADAPTER(a);
    RtlZeroMemory(frame, sizeof(frame));
    RtlCopyMemory(frame, a->Mac, 6);
    RtlCopyMemory(frame + 6, a->Mac, 6);
    NetPut16(frame + 12, 0x88B5);
    KASSERT_EQ(KtnAdapterStats(a, &before), STATUS_SUCCESS);
    KASSERT_EQ(KtnNetStats(&nb), STATUS_SUCCESS);
    __atomic_store_n(&a->RxInjectAllocFailures, (LONG)fail, __ATOMIC_RELEASE);
    /* One at a time: QEMU's loopback drops what finds the ring full. */
    for (ULONG i = 0; i < frames; i++) {
        ULONG64 seen = before.RxFrames + before.RxOutOfBuffers + i;

        NetSendRawFrame(frame, sizeof(frame));
        for (ULONG ms = 0; ms < KTN_TIMEOUT_MS; ms++) {
            KASSERT_EQ(KtnAdapterStats(a, &after), STATUS_SUCCESS);
            if (after.RxFrames + after.RxOutOfBuffers > seen)
                break;
            KtnSleepMs(1);
        }
    }
    KASSERT_EQ(KtnAdapterStats(a, &after), STATUS_SUCCESS);
    KASSERT_EQ(KtnNetStats(&na), STATUS_SUCCESS);
    KEXPECT_EQ(after.RxOutOfBuffers - before.RxOutOfBuffers, fail);
    KEXPECT_EQ(na.RxUnknownType - nb.RxUnknownType, frames - fail);
    KEXPECT_EQ(a->RxInjectAllocFailures, 0);
    KtnLoopbackEnd(a);
    KtnExpectRxBalanced(a);
}

/* A broadcast storm: past the budget, frames are dropped and counted. */
KTEST(net, broadcast_storm_is_bounded)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    NET_STATISTICS nb, na;
    UCHAR frame[NET_ETHERNET_MAX_FRAME];
    const ULONG budget = 8, frames = E1000_RX_RING - 8;
    ULONG n;

    KTN_NEED_ADAPTER(a);
    n = KtnArp(frame, a->Mac, 1, KTN_OTHER_HOST);
    KASSERT_EQ(KtnNetStats(&nb), STATUS_SUCCESS);
    NetBroadcastBudget = budget;
    /* Held in the ring, then taken in one DPC: one or two budget windows. */
    __atomic_store_n(&a->RxPaused, 1, __ATOMIC_RELEASE);
    for (ULONG i = 0; i < frames; i++)
        NetSendRawFrame(frame, n);
    KtnSleepMs(150);                    /* a fresh window starts with the burst */
    __atomic_store_n(&a->RxPaused, 0, __ATOMIC_RELEASE);
    E1000Write(a, E1000_ICS, E1000_ICR_RXT0);
    KEXPECT_TRUE(KtnWaitFrames(&nb, frames, &na));
    NetBroadcastBudget = NET_BROADCAST_BUDGET;
    KEXPECT_EQ((na.ArpOtherHost - nb.ArpOtherHost) + (na.RxBroadcastThrottled - nb.RxBroadcastThrottled), frames);
    KEXPECT_LE(na.ArpOtherHost - nb.ArpOtherHost, 2 * budget);
    KEXPECT_GE(na.RxBroadcastThrottled - nb.RxBroadcastThrottled, frames - 2 * budget);
    KEXPECT_EQ(NetPing(NET_DEFAULT_ADDRESS, 8, KTN_TIMEOUT_MS, NULL), STATUS_SUCCESS);
    KtnLoopbackEnd(a);
    KtnExpectRxBalanced(a);
    KtnExpectTxBalanced();
}

/* ---- UDP for kernel code ---- */

typedef struct _KTN_UDP_SINK {
    KEVENT Received;
    ULONG Length;
    USHORT SourcePort;
    UCHAR Data[NET_UDP_MAX_PAYLOAD];
} KTN_UDP_SINK;

static VOID KtnUdpReceive(PVOID Context, PNET_UDP_DATAGRAM Datagram)
{
    KTN_UDP_SINK *sink = Context;

    sink->Length = Datagram->Length;
    sink->SourcePort = Datagram->SourcePort;
    RtlCopyMemory(sink->Data, Datagram->Data, Datagram->Length);
    KeSetEvent(&sink->Received, IO_NO_INCREMENT, FALSE);
}

KTEST(net, udp_bind_send_and_the_echo_service)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    KTN_UDP_SINK *sink;
    PNET_UDP_ENDPOINT endpoint, second;
    static const ULONG sizes[] = {0, 1, 2, 17, 64, 511, 1000, 1471, NET_UDP_MAX_PAYLOAD};
    UCHAR *out;
    LARGE_INTEGER timeout = {.QuadPart = -10000LL * KTN_TIMEOUT_MS};

    KTN_NEED_ADAPTER(a);
    sink = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*sink), 'tNtK');
    out = ExAllocatePoolWithTag(NonPagedPoolNx, NET_UDP_MAX_PAYLOAD + 1, 'tNtK');
    KASSERT_TRUE(sink != NULL && out != NULL);
    KeInitializeEvent(&sink->Received, NotificationEvent, FALSE);
    KASSERT_EQ(NetUdpBind(5001, KtnUdpReceive, sink, &endpoint), STATUS_SUCCESS);
    KEXPECT_EQ(NetUdpBind(5001, KtnUdpReceive, sink, &second), STATUS_ADDRESS_ALREADY_EXISTS);
    KEXPECT_EQ(NetUdpBind(0, KtnUdpReceive, sink, &second), STATUS_INVALID_PARAMETER);
    KEXPECT_EQ(NetUdpSend(5001, NET_DEFAULT_ADDRESS, NET_UDP_ECHO_PORT, out, NET_UDP_MAX_PAYLOAD + 1),
               STATUS_INVALID_BUFFER_SIZE);
    for (ULONG s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        for (ULONG i = 0; i < sizes[s]; i++)
            out[i] = (UCHAR)(i * 13 + s);
        /* To ourselves on port 7: the echo service sends it back to 5001. */
        KeClearEvent(&sink->Received);
        KEXPECT_EQ(NetUdpSend(5001, NET_DEFAULT_ADDRESS, NET_UDP_ECHO_PORT, out, sizes[s]), STATUS_SUCCESS);
        if (KeWaitForSingleObject(&sink->Received, Executive, KernelMode, FALSE, &timeout) != STATUS_SUCCESS) {
            KtestPrint("# no echo of %u bytes\n", sizes[s]);
            KEXPECT_TRUE(FALSE);
            continue;
        }
        KEXPECT_EQ(sink->Length, sizes[s]);
        KEXPECT_EQ(sink->SourcePort, NET_UDP_ECHO_PORT);
        KEXPECT_EQ(RtlCompareMemory(sink->Data, out, sizes[s]), sizes[s]);
    }
    NetUdpUnbind(endpoint);
    /* Unbound: the port is free again, and datagrams to it are counted. */
    KEXPECT_EQ(NetUdpBind(5001, KtnUdpReceive, sink, &second), STATUS_SUCCESS);
    NetUdpUnbind(second);
    ExFreePoolWithTag(out, 'tNtK');
    ExFreePoolWithTag(sink, 'tNtK');
    KtnLoopbackEnd(a);
    KtnExpectTxBalanced();
}

KTEST(net, arp_entries_expire)
{
    PE1000_ADAPTER a = KtnLoopbackBegin();
    NET_STATISTICS before, after;
    UCHAR mac[NET_ETHERNET_ADDRESS_LENGTH];

    KTN_NEED_ADAPTER(a);
    KASSERT_EQ(KtnNetStats(&before), STATUS_SUCCESS);
    NetArpTimeoutMs = 200;
    NetArpFlush();                      /* the entry the ping at the start made */
    KEXPECT_EQ(NetArpResolve(NET_DEFAULT_ADDRESS, mac, KTN_TIMEOUT_MS), STATUS_SUCCESS);
    KEXPECT_EQ(RtlCompareMemory(mac, a->Mac, sizeof(mac)), sizeof(mac));
    KEXPECT_EQ(NetArpCacheCount(), 1);
    KtnSleepMs(1500);                   /* past the timeout and one age pass */
    KEXPECT_EQ(NetArpCacheCount(), 0);
    KEXPECT_FALSE(NetArpLookup(NET_DEFAULT_ADDRESS, mac));
    KASSERT_EQ(KtnNetStats(&after), STATUS_SUCCESS);
    KEXPECT_EQ(after.ArpCacheExpired - before.ArpCacheExpired, 1);
    NetArpTimeoutMs = NET_ARP_TIMEOUT_MS;
    KtnLoopbackEnd(a);
}

/* ---- The host's peers (tests/netpeer.py, the runner's net step) ----
 *
 * net_peer.serve runs only with the boot option netpeer. It answers on
 * UDP port KTN_CONTROL_PORT, one command a datagram, the reply to the
 * sender:
 *   stats               "e1000 Name=value ... net Name=value ...": every
 *                       counter, read through the two statistics IOCTLs
 *                       at that moment (what the peer checks its frames
 *                       against);
 *   ping A.B.C.D N S    N echo requests of S bytes from Mica (NetPing,
 *                       ARP first): "ping ok=K median_us=M";
 *   done                the peer is finished: the test checks that every
 *                       receive and send buffer is back and ends.
 * Everything else - ARP, echo replies, the UDP echo service - is the
 * layer's own business, as for any host.
 */
#define KTN_CONTROL_PORT 5555
#define KTN_PEER_IDLE_MS 120000         /* no command for this long: the peer is gone */

typedef struct _KTN_CONTROL {
    KSPIN_LOCK Lock;
    KEVENT Command;
    BOOLEAN Pending;
    char Text[128];
    NET_UDP_DATAGRAM From;
} KTN_CONTROL;

static VOID KtnControlReceive(PVOID Context, PNET_UDP_DATAGRAM Datagram)
{
    KTN_CONTROL *c = Context;
    ULONG n = Datagram->Length < sizeof(c->Text) - 1 ? Datagram->Length : sizeof(c->Text) - 1;

    KeAcquireSpinLockAtDpcLevel(&c->Lock);
    if (!c->Pending) {                  /* a slot of one: the peer waits for each answer */
        RtlCopyMemory(c->Text, Datagram->Data, n);
        c->Text[n] = 0;
        c->From = *Datagram;
        c->From.Data = NULL;
        c->Pending = TRUE;
        KeSetEvent(&c->Command, IO_NO_INCREMENT, FALSE);
    }
    KeReleaseSpinLockFromDpcLevel(&c->Lock);
}

static const char *const KtnE1000Names[] = {
    "Interrupts", "SpuriousInterrupts", "Dpcs", "RxFrames", "RxBytes", "TxFrames", "TxBytes",
    "TxRingFull", "TxBadLength", "RxOutOfBuffers", "RxRingFull", "RxErrors", "RxRunt", "RxOversize",
    "RxFragmented", "RxOverrunInterrupts", "LinkChanges", "HwMissedPackets", "HwNoBuffers"};
_Static_assert(sizeof(KtnE1000Names) / sizeof(KtnE1000Names[0]) ==
               FIELD_OFFSET(E1000_STATISTICS, RxRingSize) / sizeof(ULONG64), "every E1000 counter");
static const char *const KtnNetNames[] = {
    "RxFrames", "RxRunt", "RxNotForUs", "RxUnknownType", "RxBroadcastThrottled",
    "ArpRequestsAnswered", "ArpRepliesTaken", "ArpOtherHost", "ArpMalformed", "IpTruncated",
    "IpBadHeader", "IpBadChecksum", "IpFragments", "IpOtherHost", "IpUnknownProtocol",
    "IcmpEchoAnswered", "IcmpEchoRepliesTaken", "IcmpBadChecksum", "IcmpMalformed", "IcmpOtherType",
    "UdpDelivered", "UdpBadLength", "UdpBadChecksum", "UdpNoPort", "TxFrames", "TxDropped",
    "ArpCacheExpired"};
_Static_assert(sizeof(KtnNetNames) / sizeof(KtnNetNames[0]) ==
               FIELD_OFFSET(NET_STATISTICS, TxPacketsOutstanding) / sizeof(ULONG64), "every net counter");

static ULONG KtnFormatStats(PE1000_ADAPTER A, char *Out, ULONG Size)
{
    E1000_STATISTICS e;
    NET_STATISTICS n;
    ULONG used = 0;

    if (!NT_SUCCESS(KtnAdapterStats(A, &e)) || !NT_SUCCESS(KtnNetStats(&n)))
        return (ULONG)RtlSnprintf(Out, Size, "error statistics");
    used += RtlSnprintf(Out + used, Size - used, "e1000");
    for (ULONG i = 0; i < sizeof(KtnE1000Names) / sizeof(KtnE1000Names[0]); i++)
        used += RtlSnprintf(Out + used, Size - used, " %s=%llu", KtnE1000Names[i], ((ULONG64 *)&e)[i]);
    used += RtlSnprintf(Out + used, Size - used, " RxBuffersOutstanding=%u LinkUp=%u Itr=%u net",
                        e.RxBuffersOutstanding, e.LinkUp, e.InterruptThrottle);
    for (ULONG i = 0; i < sizeof(KtnNetNames) / sizeof(KtnNetNames[0]); i++)
        used += RtlSnprintf(Out + used, Size - used, " %s=%llu", KtnNetNames[i], ((ULONG64 *)&n)[i]);
    used += RtlSnprintf(Out + used, Size - used, " TxPacketsOutstanding=%u ArpCacheEntries=%u",
                        n.TxPacketsOutstanding, n.ArpCacheEntries);
    return used < Size ? used : Size - 1;
}

static BOOLEAN KtnParseAddress(const char **P, PULONG Address)
{
    ULONG value = 0;

    for (ULONG part = 0; part < 4; part++) {
        ULONG n = 0, digits = 0;

        if (part > 0 && *(*P)++ != '.')
            return FALSE;
        for (; **P >= '0' && **P <= '9' && digits < 4; digits++)
            n = n * 10 + (ULONG)(*(*P)++ - '0');
        if (digits == 0 || n > 255)
            return FALSE;
        value = (value << 8) | n;
    }
    *Address = value;
    return TRUE;
}

static ULONG KtnParseNumber(const char **P)
{
    ULONG n = 0;

    while (**P == ' ')
        (*P)++;
    while (**P >= '0' && **P <= '9')
        n = n * 10 + (ULONG)(*(*P)++ - '0');
    return n;
}

static ULONG KtnPingCommand(const char *Args, char *Out, ULONG Size)
{
    ULONG address, count, bytes, ok = 0;
    ULONG64 rtts[64], rtt;

    while (*Args == ' ')
        Args++;
    if (!KtnParseAddress(&Args, &address))
        return (ULONG)RtlSnprintf(Out, Size, "error address");
    count = KtnParseNumber(&Args);
    bytes = KtnParseNumber(&Args);
    if (count == 0 || count > 64)
        return (ULONG)RtlSnprintf(Out, Size, "error count");
    for (ULONG i = 0; i < count; i++)
        if (NT_SUCCESS(NetPing(address, bytes, 2000, &rtt)))
            rtts[ok++] = rtt;
    for (ULONG i = 1; i < ok; i++)                   /* insertion sort for the median */
        for (ULONG j = i; j > 0 && rtts[j - 1] > rtts[j]; j--) {
            ULONG64 t = rtts[j];
            rtts[j] = rtts[j - 1];
            rtts[j - 1] = t;
        }
    return (ULONG)RtlSnprintf(Out, Size, "ping ok=%u median_us=%llu", ok, ok ? rtts[ok / 2] : 0);
}

KTEST(net_peer, serve)
{
    PE1000_ADAPTER a = KtnAdapter();
    KTN_CONTROL *c;
    PNET_UDP_ENDPOINT endpoint;
    char *reply;
    LARGE_INTEGER idle = {.QuadPart = -10000LL * KTN_PEER_IDLE_MS};
    BOOLEAN done = FALSE;
    ULONG commands = 0;

    if (!KeQueryBootOption("netpeer", NULL, 0))
        KTEST_SKIP("needs tests/netpeer.py on the other end (the runner's net step)");
    KASSERT_TRUE(a != NULL);
    c = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*c), 'tNtK');
    reply = ExAllocatePoolWithTag(NonPagedPoolNx, NET_UDP_MAX_PAYLOAD, 'tNtK');
    KASSERT_TRUE(c != NULL && reply != NULL);
    RtlZeroMemory(c, sizeof(*c));
    KeInitializeSpinLock(&c->Lock);
    KeInitializeEvent(&c->Command, SynchronizationEvent, FALSE);
    KASSERT_EQ(NetUdpBind(KTN_CONTROL_PORT, KtnControlReceive, c, &endpoint), STATUS_SUCCESS);
    KtestPrint("# net ready mac=%02x:%02x:%02x:%02x:%02x:%02x ip=%u.%u.%u.%u\n", a->Mac[0], a->Mac[1],
               a->Mac[2], a->Mac[3], a->Mac[4], a->Mac[5], NetLayer.Address >> 24,
               (NetLayer.Address >> 16) & 0xFF, (NetLayer.Address >> 8) & 0xFF, NetLayer.Address & 0xFF);
    while (!done) {
        char text[sizeof(c->Text)];
        NET_UDP_DATAGRAM from;
        ULONG n;
        KIRQL irql;

        if (KeWaitForSingleObject(&c->Command, Executive, KernelMode, FALSE, &idle) != STATUS_SUCCESS) {
            KtestPrint("# net: no command from the peer for %u s\n", KTN_PEER_IDLE_MS / 1000);
            KEXPECT_TRUE(FALSE);
            break;
        }
        /* Empty the slot before answering: the peer sends its next command
         * as soon as it has this answer, and a slot still full then would
         * drop that command (the peer waited 5 s for an answer that never
         * came, then sent it again). */
        KeAcquireSpinLock(&c->Lock, &irql);
        RtlCopyMemory(text, c->Text, sizeof(text));
        from = c->From;
        c->Pending = FALSE;
        KeReleaseSpinLock(&c->Lock, irql);
        commands++;
        if (strcmp(text, "stats") == 0) {
            n = KtnFormatStats(a, reply, NET_UDP_MAX_PAYLOAD);
        } else if (strncmp(text, "ping ", 5) == 0) {
            n = KtnPingCommand(text + 5, reply, NET_UDP_MAX_PAYLOAD);
        } else if (strcmp(text, "done") == 0) {
            n = (ULONG)RtlSnprintf(reply, NET_UDP_MAX_PAYLOAD, "bye");
            done = TRUE;
        } else {
            n = (ULONG)RtlSnprintf(reply, NET_UDP_MAX_PAYLOAD, "error unknown command");
        }
        NetUdpReply(&from, reply, n);
    }
    NetUdpUnbind(endpoint);
    KtnFormatStats(a, reply, NET_UDP_MAX_PAYLOAD);
    {
        char *net = NULL;               /* two lines: the console's line is short */

        for (char *p = reply; *p != 0 && net == NULL; p++)
            if (strncmp(p, " net ", 5) == 0)
                net = p;

        if (net != NULL)
            *net = 0;
        KtestPrint("# net final %s\n", reply);
        if (net != NULL)
            KtestPrint("# net final %s\n", net + 1);
    }
    KtestPrint("# net %u commands\n", commands);
    ExFreePoolWithTag(reply, 'tNtK');
    ExFreePoolWithTag(c, 'tNtK');
    KtnExpectRxBalanced(a);
    KtnExpectTxBalanced();
}

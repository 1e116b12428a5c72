/*
 * kdcmd_net.c - the kd> shell's look at the network: !net [N] prints the
 * counters of the e1000 adapter \Device\E1000_<N> (default 0) and of the
 * network layer \Device\Net.
 *
 * The shell reaches the drivers the way any client does, through their
 * statistics IOCTLs (kernel/io/ntddnet.h): it names no driver structure,
 * so it is a thread command (IRPs need PASSIVE_LEVEL and take locks), not
 * available while broken in or after a bug check.
 */
#include "kd_internal.h"
#include "../io/io.h"
#include "../hal/dma.h"
#include "../io/ntddnet.h"

static NTSTATUS KdpNetIoctl(PCSTR Name, ULONG Code, PVOID Out, ULONG Length)
{
    UNICODE_STRING name;
    ANSI_STRING ansi;
    PDEVICE_OBJECT device;
    PVOID file;
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    PIRP irp;
    NTSTATUS status;

    RtlInitAnsiString(&ansi, Name);
    status = RtlAnsiStringToUnicodeString(&name, &ansi, TRUE);
    if (!NT_SUCCESS(status))
        return status;
    status = IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &file, &device);
    RtlFreeUnicodeString(&name);
    if (!NT_SUCCESS(status))
        return status;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(Code, device, NULL, 0, Out, Length, FALSE, &event, &iosb);
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

static VOID KdpPrintAddress(PCSTR What, ULONG A)
{
    DbgPrint(" %s %u.%u.%u.%u", What, A >> 24, (A >> 16) & 0xFF, (A >> 8) & 0xFF, A & 0xFF);
}

static NTSTATUS KdpCmdNet(ULONG Argc, PCHAR Argv[])
{
    E1000_STATISTICS e;
    NET_STATISTICS n;
    char name[32];
    ULONG64 number = 0;
    NTSTATUS status;

    if (Argc > 1 && !KdpParseNumber(Argv[1], &number))
        return STATUS_INVALID_PARAMETER;
    RtlSnprintf(name, sizeof(name), E1000_DEVICE_NAME_FMT, (ULONG)number);
    status = KdpNetIoctl(name, IOCTL_E1000_QUERY_STATISTICS, &e, sizeof(e));
    if (!NT_SUCCESS(status))
        return KdpError(status, "%s: no statistics (no such adapter?)", name);
    DbgPrint("%s: MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s, ITR %u (x 256 ns), rings %u/%u, "
             "%u receive buffers out\n", name, e.MacAddress[0], e.MacAddress[1], e.MacAddress[2],
             e.MacAddress[3], e.MacAddress[4], e.MacAddress[5], e.LinkUp ? "up" : "down",
             e.InterruptThrottle, e.RxRingSize, e.TxRingSize, e.RxBuffersOutstanding);
    DbgPrint("  rx %llu frames %llu bytes, tx %llu frames %llu bytes, %llu interrupts (%llu not ours), %llu DPCs\n",
             e.RxFrames, e.RxBytes, e.TxFrames, e.TxBytes, e.Interrupts, e.SpuriousInterrupts, e.Dpcs);
    DbgPrint("  dropped: out of buffers %llu, errors %llu, runt %llu, oversize %llu, fragmented %llu; "
             "ring full rx %llu tx %llu; bad length %llu\n", e.RxOutOfBuffers, e.RxErrors, e.RxRunt,
             e.RxOversize, e.RxFragmented, e.RxRingFull, e.TxRingFull, e.TxBadLength);
    DbgPrint("  hardware: missed %llu, no buffers %llu, overruns %llu, link changes %llu\n",
             e.HwMissedPackets, e.HwNoBuffers, e.RxOverrunInterrupts, e.LinkChanges);

    status = KdpNetIoctl("\\Device\\Net", IOCTL_NET_QUERY_STATISTICS, &n, sizeof(n));
    if (!NT_SUCCESS(status))
        return KdpError(status, "\\Device\\Net: no statistics");
    DbgPrint("\\Device\\Net:%s", n.Bound ? "" : " (no adapter)");
    KdpPrintAddress("address", n.Address);
    DbgPrint("/%u", n.Mask ? 32 - __builtin_ctz(n.Mask) : 0);
    KdpPrintAddress("gateway", n.Gateway);
    DbgPrint(", %u ARP entries, %u sends out\n", n.ArpCacheEntries, n.TxPacketsOutstanding);
    DbgPrint("  rx %llu frames: ARP answered %llu, replies %llu; echo answered %llu, replies %llu; "
             "UDP delivered %llu\n", n.RxFrames, n.ArpRequestsAnswered, n.ArpRepliesTaken,
             n.IcmpEchoAnswered, n.IcmpEchoRepliesTaken, n.UdpDelivered);
    DbgPrint("  dropped: runt %llu, not for us %llu, unknown type %llu, broadcast throttled %llu, "
             "ARP other host %llu malformed %llu\n", n.RxRunt, n.RxNotForUs, n.RxUnknownType,
             n.RxBroadcastThrottled, n.ArpOtherHost, n.ArpMalformed);
    DbgPrint("  dropped: IP truncated %llu, bad header %llu, bad checksum %llu, fragments %llu, "
             "other host %llu, protocol %llu\n", n.IpTruncated, n.IpBadHeader, n.IpBadChecksum,
             n.IpFragments, n.IpOtherHost, n.IpUnknownProtocol);
    DbgPrint("  dropped: ICMP bad checksum %llu, malformed %llu, other type %llu; UDP bad length %llu, "
             "bad checksum %llu, no port %llu\n", n.IcmpBadChecksum, n.IcmpMalformed, n.IcmpOtherType,
             n.UdpBadLength, n.UdpBadChecksum, n.UdpNoPort);
    DbgPrint("  tx %llu frames, %llu dropped; %llu ARP entries expired\n", n.TxFrames, n.TxDropped,
             n.ArpCacheExpired);
    return STATUS_SUCCESS;
}

KD_THREAD_COMMAND("!net", KD_GROUP_KERNEL, "[adapter]",
                  "e1000 and network-layer counters (the statistics IOCTLs)", KdpCmdNet);

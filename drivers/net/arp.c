/*
 * arp.c - ARP for IPv4 over Ethernet (RFC 826): a small cache with a
 * timeout, answers to requests for our address, and resolution for
 * kernel code.
 *
 * The cache is NET_ARP_CACHE_SIZE entries under one spin lock. Following
 * RFC 826's merge rule, a packet updates the entry of a sender we already
 * know, and adds one only when it is addressed to us (a request for our
 * address, or a reply to us): requests between other hosts (a broadcast
 * storm) never fill it. An entry lives NetArpTimeoutMs; an expired one is
 * gone at the next lookup or the once-a-second age pass, and counted.
 */
#include "net.h"

#define ARP_PACKET_BYTES   28
#define ARP_HTYPE_ETHERNET 1
#define ARP_OP_REQUEST     1
#define ARP_OP_REPLY       2
#define ARP_AGE_MS         1000

typedef struct _ARP_ENTRY {
    ULONG Address;                      /* 0: free */
    UCHAR Mac[NET_ETHERNET_ADDRESS_LENGTH];
    ULONG64 Expires;                    /* interrupt time, 100 ns */
} ARP_ENTRY;

static ARP_ENTRY ArpCache[NET_ARP_CACHE_SIZE];
static KSPIN_LOCK ArpLock;
static KEVENT ArpUpdated;               /* pulsed by every new or refreshed entry */
static KTIMER ArpTimer;
static KDPC ArpTimerDpc;
volatile ULONG NetArpTimeoutMs = NET_ARP_TIMEOUT_MS;

/* Under ArpLock: drop an expired entry (counted); TRUE if it is still good. */
static BOOLEAN Fresh(ARP_ENTRY *E, ULONG64 Now)
{
    if (E->Address == 0)
        return FALSE;
    if (Now < E->Expires)
        return TRUE;
    E->Address = 0;
    NET_COUNT(ArpCacheExpired);
    return FALSE;
}

BOOLEAN NetArpLookup(ULONG Address, PUCHAR Mac)
{
    ULONG64 now = KeQueryInterruptTime();
    BOOLEAN found = FALSE;
    KIRQL irql;

    KeAcquireSpinLock(&ArpLock, &irql);
    for (ULONG i = 0; i < NET_ARP_CACHE_SIZE && !found; i++) {
        if (ArpCache[i].Address == Address && Fresh(&ArpCache[i], now)) {
            RtlCopyMemory(Mac, ArpCache[i].Mac, NET_ETHERNET_ADDRESS_LENGTH);
            found = TRUE;
        }
    }
    KeReleaseSpinLock(&ArpLock, irql);
    return found;
}

/* Update Address's entry; add it if Add (in a free or expired slot, else
 * over the one closest to expiring). */
static VOID Merge(ULONG Address, const UCHAR *Mac, BOOLEAN Add)
{
    ULONG64 now = KeQueryInterruptTime();
    ARP_ENTRY *slot = NULL;
    KIRQL irql;

    if (Address == 0 || Address == 0xFFFFFFFF || (Mac[0] & 1))
        return;                         /* nobody's address, or a group MAC */
    KeAcquireSpinLock(&ArpLock, &irql);
    for (ULONG i = 0; i < NET_ARP_CACHE_SIZE && slot == NULL; i++)
        if (ArpCache[i].Address == Address)
            slot = &ArpCache[i];
    if (slot == NULL && Add) {
        for (ULONG i = 0; i < NET_ARP_CACHE_SIZE && slot == NULL; i++)
            if (!Fresh(&ArpCache[i], now))
                slot = &ArpCache[i];
        if (slot == NULL) {
            slot = &ArpCache[0];
            for (ULONG i = 1; i < NET_ARP_CACHE_SIZE; i++)
                if (ArpCache[i].Expires < slot->Expires)
                    slot = &ArpCache[i];
        }
    }
    if (slot != NULL) {
        slot->Address = Address;
        RtlCopyMemory(slot->Mac, Mac, NET_ETHERNET_ADDRESS_LENGTH);
        slot->Expires = now + (ULONG64)NetArpTimeoutMs * 10000ULL;
    }
    KeReleaseSpinLock(&ArpLock, irql);
    if (slot != NULL)
        KePulseEvent(&ArpUpdated, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS SendArp(USHORT Op, const UCHAR *DestinationMac, const UCHAR *TargetMac, ULONG TargetAddress)
{
    PNET_PACKET packet = NetPacketAllocate();
    PUCHAR p;

    if (packet == NULL) {
        NET_COUNT(TxDropped);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    p = packet->Frame + NET_ETHERNET_HEADER_LENGTH;
    NetPut16(p, ARP_HTYPE_ETHERNET);
    NetPut16(p + 2, NET_ETHERTYPE_IPV4);
    p[4] = NET_ETHERNET_ADDRESS_LENGTH;
    p[5] = 4;
    NetPut16(p + 6, Op);
    RtlCopyMemory(p + 8, NetLayer.Adapter.MacAddress, NET_ETHERNET_ADDRESS_LENGTH);
    NetPut32(p + 14, NetLayer.Address);
    RtlCopyMemory(p + 18, TargetMac, NET_ETHERNET_ADDRESS_LENGTH);
    NetPut32(p + 24, TargetAddress);
    return NetPacketSend(packet, DestinationMac, NET_ETHERTYPE_ARP, ARP_PACKET_BYTES);
}

NTSTATUS NetArpRequest(ULONG Address)
{
    static const UCHAR unknown[NET_ETHERNET_ADDRESS_LENGTH];

    return SendArp(ARP_OP_REQUEST, NetBroadcastMac, unknown, Address);
}

VOID NetArpInput(const UCHAR *Frame, ULONG Length)
{
    const UCHAR *p = Frame + NET_ETHERNET_HEADER_LENGTH;
    ULONG sender, target;
    USHORT op;

    if (Length < NET_ETHERNET_HEADER_LENGTH + ARP_PACKET_BYTES ||
        NetGet16(p) != ARP_HTYPE_ETHERNET || NetGet16(p + 2) != NET_ETHERTYPE_IPV4 ||
        p[4] != NET_ETHERNET_ADDRESS_LENGTH || p[5] != 4) {
        NET_COUNT(ArpMalformed);
        return;
    }
    op = NetGet16(p + 6);
    sender = NetGet32(p + 14);
    target = NetGet32(p + 24);
    if (op != ARP_OP_REQUEST && op != ARP_OP_REPLY) {
        NET_COUNT(ArpMalformed);
        return;
    }
    if (target != NetLayer.Address) {
        Merge(sender, p + 8, FALSE);    /* refresh a neighbour we know; add nobody */
        NET_COUNT(ArpOtherHost);
        return;
    }
    Merge(sender, p + 8, TRUE);
    if (op == ARP_OP_REQUEST) {
        NET_COUNT(ArpRequestsAnswered);
        SendArp(ARP_OP_REPLY, p + 8, p + 8, sender);
    } else {
        NET_COUNT(ArpRepliesTaken);
    }
}

NTSTATUS NetArpResolve(ULONG Address, PUCHAR Mac, ULONG TimeoutMs)
{
    ULONG64 deadline = KeQueryInterruptTime() + (ULONG64)TimeoutMs * 10000ULL;
    LARGE_INTEGER wait = {.QuadPart = -10000LL * 100};     /* ask again every 100 ms */

    if (KeGetCurrentIrql() != PASSIVE_LEVEL)
        return STATUS_INVALID_DEVICE_STATE;
    while (!NetArpLookup(Address, Mac)) {
        NTSTATUS status;

        if (KeQueryInterruptTime() >= deadline)
            return STATUS_IO_TIMEOUT;
        status = NetArpRequest(Address);
        if (!NT_SUCCESS(status) && status != STATUS_INSUFFICIENT_RESOURCES)
            return status;
        /* A reply pulses the event; a lost one costs one period. */
        KeWaitForSingleObject(&ArpUpdated, Executive, KernelMode, FALSE, &wait);
    }
    return STATUS_SUCCESS;
}

VOID NetArpAge(VOID)
{
    ULONG64 now = KeQueryInterruptTime();
    KIRQL irql;

    KeAcquireSpinLock(&ArpLock, &irql);
    for (ULONG i = 0; i < NET_ARP_CACHE_SIZE; i++)
        Fresh(&ArpCache[i], now);
    KeReleaseSpinLock(&ArpLock, irql);
}

VOID NetArpFlush(VOID)
{
    KIRQL irql;

    KeAcquireSpinLock(&ArpLock, &irql);
    RtlZeroMemory(ArpCache, sizeof(ArpCache));
    KeReleaseSpinLock(&ArpLock, irql);
}

ULONG NetArpCacheCount(VOID)
{
    ULONG n = 0;
    KIRQL irql;

    KeAcquireSpinLock(&ArpLock, &irql);
    for (ULONG i = 0; i < NET_ARP_CACHE_SIZE; i++)
        n += ArpCache[i].Address != 0;
    KeReleaseSpinLock(&ArpLock, irql);
    return n;
}

static VOID ArpTimerRoutine(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Arg1);
    UNREFERENCED_PARAMETER(Arg2);
    NetArpAge();
}

VOID NetArpInitialize(VOID)
{
    KeInitializeSpinLock(&ArpLock);
    KeInitializeEvent(&ArpUpdated, NotificationEvent, FALSE);
    KeInitializeTimerEx(&ArpTimer, NotificationTimer);
    KeInitializeDpc(&ArpTimerDpc, ArpTimerRoutine, NULL);
    KeSetTimerEx(&ArpTimer, (LARGE_INTEGER){.QuadPart = -10000LL * ARP_AGE_MS}, ARP_AGE_MS, &ArpTimerDpc);
}

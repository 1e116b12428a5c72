/*
 * lab_e1000.c - the e1000 lab's tests (tests/labs/e1000.md): the three
 * descriptor-ring routines of drivers/e1000/ring.c.
 *   - E1000ReapRx, E1000TxPlace and E1000ReapTx on a made-up adapter: rings
 *     in ordinary memory, "registers" in a page of RAM (so RDT and TDT can
 *     be read back), a DMA adapter whose PutScatterGatherList only records
 *     its calls, a protocol whose SendComplete does the same. The device
 *     never sees these rings, so every DD bit is set by the test, exactly
 *     where each rule is tested (wrap-around, the budget, a frame's LAST
 *     descriptor, stopping at the first one not done).
 *   - Then the real adapter in PHY loopback (as tests/kernel/test_net.c
 *     does): pings through both rings prove the routines drive QEMU's
 *     82540EM, not only the test's idea of it.
 */
#include "../../drivers/e1000/e1000.h"
#include "../../drivers/net/net.h"
#include "../ktest.h"

#define KLE_REG_BYTES   0x4000          /* past TDT (0x3818) */
#define KLE_MAX_CALLS   8

static ULONG KleRegs[KLE_REG_BYTES / sizeof(ULONG)] __attribute__((aligned(PAGE_SIZE)));
static E1000_RX_DESC KleRx[E1000_RX_RING] __attribute__((aligned(128)));
static E1000_TX_DESC KleTx[E1000_TX_RING] __attribute__((aligned(128)));
static E1000_ADAPTER KleAdapter;
static DMA_OPERATIONS KleOps;
static DMA_ADAPTER KleDma;

/* What the fake PutScatterGatherList and SendComplete saw, in order. */
static PSCATTER_GATHER_LIST KlePut[KLE_MAX_CALLS];
static PVOID KleCompleted[KLE_MAX_CALLS];
static ULONG KlePuts, KleCompletions, KleUnderLock, KleBadDirection, KleBadStatus;

static BOOLEAN KleTxLockHeld(VOID)
{
    return *(volatile KSPIN_LOCK *)&KleAdapter.TxLock != 0;
}

static VOID KleFakePut(PDMA_ADAPTER Dma, PSCATTER_GATHER_LIST Sg, BOOLEAN WriteToDevice)
{
    UNREFERENCED_PARAMETER(Dma);
    KleUnderLock += KleTxLockHeld();
    KleBadDirection += !WriteToDevice;  /* a transmit list was memory-to-device */
    if (KlePuts < KLE_MAX_CALLS)
        KlePut[KlePuts] = Sg;
    KlePuts++;
}

static VOID KleFakeSendComplete(PVOID ProtocolContext, PVOID SendContext, NTSTATUS Status)
{
    UNREFERENCED_PARAMETER(ProtocolContext);
    KleUnderLock += KleTxLockHeld();
    KleBadStatus += Status != STATUS_SUCCESS;
    if (KleCompletions < KLE_MAX_CALLS)
        KleCompleted[KleCompletions] = SendContext;
    KleCompletions++;
}

static PE1000_ADAPTER KleFakeAdapter(VOID)
{
    PE1000_ADAPTER a = &KleAdapter;

    RtlZeroMemory(a, sizeof(*a));
    RtlZeroMemory(KleRegs, sizeof(KleRegs));
    RtlZeroMemory(KleRx, sizeof(KleRx));
    RtlZeroMemory(KleTx, sizeof(KleTx));
    RtlZeroMemory(&KleOps, sizeof(KleOps));
    KleOps.Size = sizeof(KleOps);
    KleOps.PutScatterGatherList = KleFakePut;
    KleDma.Version = 1;
    KleDma.Size = sizeof(KleDma);
    KleDma.DmaOperations = &KleOps;
    a->Dma = &KleDma;
    a->Regs = (PUCHAR)KleRegs;
    a->RegsBytes = KLE_REG_BYTES;
    a->RxRing = KleRx;
    a->TxRing = KleTx;
    KeInitializeSpinLock(&a->RxLock);
    KeInitializeSpinLock(&a->TxLock);
    a->Protocol.Size = sizeof(a->Protocol);
    a->Protocol.SendComplete = KleFakeSendComplete;
    a->Bound = TRUE;
    KlePuts = KleCompletions = KleUnderLock = KleBadDirection = KleBadStatus = 0;
    return a;
}

static ULONG KleReg(ULONG Offset)
{
    return KleRegs[Offset / sizeof(ULONG)];
}

/* A written-back receive descriptor whose frame is bad (RXE): E1000RxTake
 * drops it and gives the same buffer back, so no buffer or mapping is
 * needed, and Stats.RxErrors counts every descriptor taken. */
static VOID KleRxDone(ULONG I)
{
    KleRx[I].Length = 60;
    KleRx[I].Errors = E1000_RXD_ERR_FRAME;
    KleRx[I].Status = E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP;
}

static ULONG KleReapRx(PE1000_ADAPTER A, ULONG Budget)
{
    KIRQL irql;
    ULONG taken;

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    taken = E1000ReapRx(A, Budget);
    KeLowerIrql(irql);
    return taken;
}

KTEST(lab_e1000, rx_reap_takes_done_descriptors_in_order_and_wraps)
{
    PE1000_ADAPTER a = KleFakeAdapter();

    a->RxNext = E1000_RX_RING - 2;
    KleRegs[E1000_RDT / sizeof(ULONG)] = E1000_RX_RING - 3;
    KleRxDone(E1000_RX_RING - 2);
    KleRxDone(E1000_RX_RING - 1);
    KleRxDone(0);
    KleRxDone(1);
    KleRxDone(3);                       /* after one not done: not yet */
    KEXPECT_EQ(KleReapRx(a, 16), 4);
    KEXPECT_EQ(a->RxNext, 2);
    KEXPECT_EQ(KleReg(E1000_RDT), 1);   /* the last one handed back */
    KEXPECT_EQ(a->Stats.RxErrors, 4ULL);
    KEXPECT_EQ(KleRx[E1000_RX_RING - 2].Status, 0);
    KEXPECT_EQ(KleRx[0].Status, 0);
    KEXPECT_EQ(KleRx[1].Status, 0);
    KEXPECT_EQ(KleRx[3].Status, E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP);
    /* Nothing done at RxNext: nothing taken, RDT left alone. */
    KEXPECT_EQ(KleReapRx(a, 16), 0);
    KEXPECT_EQ(KleReg(E1000_RDT), 1);
    KEXPECT_EQ(a->RxNext, 2);
}

KTEST(lab_e1000, rx_reap_stops_at_the_budget)
{
    PE1000_ADAPTER a = KleFakeAdapter();

    a->RxNext = 10;
    KleRegs[E1000_RDT / sizeof(ULONG)] = 9;
    for (ULONG i = 10; i < 15; i++)
        KleRxDone(i);
    KEXPECT_EQ(KleReapRx(a, 3), 3);
    KEXPECT_EQ(a->RxNext, 13);
    KEXPECT_EQ(KleReg(E1000_RDT), 12);
    KEXPECT_EQ(KleRx[13].Status, E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP);
    KEXPECT_EQ(KleReapRx(a, 8), 2);
    KEXPECT_EQ(a->RxNext, 15);
    KEXPECT_EQ(KleReg(E1000_RDT), 14);
    KEXPECT_EQ(a->Stats.RxErrors, 5ULL);
}

typedef struct {
    SCATTER_GATHER_LIST List;
    SCATTER_GATHER_ELEMENT Room[4];
} KLE_SG;

static VOID KleElement(KLE_SG *Sg, ULONG64 Address, ULONG Length)
{
    SCATTER_GATHER_ELEMENT *e = &Sg->List.Elements[Sg->List.NumberOfElements++];

    e->Address.QuadPart = (LONGLONG)Address;
    e->Length = Length;
    e->Reserved = 0;
}

static BOOLEAN KleTxIs(ULONG I, ULONG64 Address, ULONG Length, UCHAR Command)
{
    const E1000_TX_DESC *d = &KleTx[I];

    return d->Address == Address && d->Length == Length && d->Command == Command && d->Cso == 0 &&
           d->Css == 0 && d->Status == 0 && d->Special == 0;
}

static ULONG KleTxPlace(PE1000_ADAPTER A, ULONG First, KLE_SG *Sg)
{
    KIRQL irql;
    ULONG n;

    KeAcquireSpinLock(&A->TxLock, &irql);
    n = E1000TxPlace(A, First, &Sg->List);
    KeReleaseSpinLock(&A->TxLock, irql);
    return n;
}

#define KLE_LAST (E1000_TXD_CMD_IFCS | E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS)

KTEST(lab_e1000, tx_place_one_descriptor_per_element_across_the_wrap)
{
    PE1000_ADAPTER a = KleFakeAdapter();
    static KLE_SG sg;

    RtlFillMemory(KleTx, sizeof(KleTx), 0xAB);
    for (ULONG i = 0; i < E1000_TX_RING; i++)
        KleTx[i].Status = E1000_TXD_STAT_DD;            /* the last lap's write-back */
    RtlZeroMemory(&sg, sizeof(sg));
    KleElement(&sg, 0x1234A00, 0x600);                  /* to the end of its page */
    KleElement(&sg, 0x2000000, 0x400);
    KleElement(&sg, 0x1FFFFF000ULL, 0x22);              /* above 4 GiB */
    KEXPECT_EQ(KleTxPlace(a, E1000_TX_RING - 2, &sg), 3);
    KEXPECT_TRUE(KleTxIs(E1000_TX_RING - 2, 0x1234A00, 0x600, E1000_TXD_CMD_IFCS));
    KEXPECT_TRUE(KleTxIs(E1000_TX_RING - 1, 0x2000000, 0x400, E1000_TXD_CMD_IFCS));
    KEXPECT_TRUE(KleTxIs(0, 0x1FFFFF000ULL, 0x22, KLE_LAST));
    KEXPECT_EQ(KleTx[1].Length, 0xABAB);                /* nothing written past the frame */
    KEXPECT_EQ(KleTx[E1000_TX_RING - 3].Length, 0xABAB);
    KEXPECT_EQ(KleReg(E1000_TDT), 1);                   /* the next free descriptor */
}

KTEST(lab_e1000, tx_place_a_single_element_frame)
{
    PE1000_ADAPTER a = KleFakeAdapter();
    static KLE_SG sg;

    RtlZeroMemory(&sg, sizeof(sg));
    KleElement(&sg, 0x7000, 60);
    KEXPECT_EQ(KleTxPlace(a, 5, &sg), 1);
    KEXPECT_TRUE(KleTxIs(5, 0x7000, 60, KLE_LAST));
    KEXPECT_EQ(KleReg(E1000_TDT), 6);
}

/* A frame in the fake TX ring as E1000Send and TxMapped leave it. */
static VOID KleTxFrame(PE1000_ADAPTER A, ULONG First, ULONG Descriptors, KLE_SG *Sg, PVOID Context)
{
    A->TxInfo[First].Sg = &Sg->List;
    A->TxInfo[First].Context = Context;
    A->TxInfo[First].Descriptors = Descriptors;
    A->TxProd = (First + Descriptors) % E1000_TX_RING;
    A->TxFree -= Descriptors;
}

static VOID KleReapTx(PE1000_ADAPTER A)
{
    KIRQL irql;

    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    E1000ReapTx(A);
    KeLowerIrql(irql);
}

KTEST(lab_e1000, tx_reap_completes_frames_whose_last_descriptor_is_done)
{
    PE1000_ADAPTER a = KleFakeAdapter();
    static KLE_SG sgA, sgB, sgC;
    static int ctxA, ctxB, ctxC;

    a->TxFree = E1000_TX_RING - 1;
    a->TxClean = E1000_TX_RING - 3;
    KleTxFrame(a, E1000_TX_RING - 3, 2, &sgA, &ctxA);  /* 61, 62 */
    KleTxFrame(a, E1000_TX_RING - 1, 3, &sgB, &ctxB);  /* 63, 0, 1: wraps */
    KleTxFrame(a, 2, 1, &sgC, &ctxC);                  /* 2 */
    KEXPECT_EQ(a->TxProd, 3);
    KEXPECT_EQ(a->TxFree, E1000_TX_RING - 7);
    KleTx[E1000_TX_RING - 2].Status = E1000_TXD_STAT_DD;   /* A's last */
    KleTx[E1000_TX_RING - 1].Status = E1000_TXD_STAT_DD;   /* B's first two, not its last */
    KleTx[0].Status = E1000_TXD_STAT_DD;
    KleTx[2].Status = E1000_TXD_STAT_DD;                   /* C: behind B, so waits */
    KleReapTx(a);
    KEXPECT_EQ(KleCompletions, 1);
    KEXPECT_EQ(KlePuts, 1);
    KEXPECT_TRUE(KlePut[0] == &sgA.List);
    KEXPECT_TRUE(KleCompleted[0] == &ctxA);
    KEXPECT_EQ(a->TxClean, E1000_TX_RING - 1);
    KEXPECT_EQ(a->TxFree, E1000_TX_RING - 5);
    /* B's last is written back: B, then C, in ring order. */
    KleTx[1].Status = E1000_TXD_STAT_DD;
    KleReapTx(a);
    KEXPECT_EQ(KleCompletions, 3);
    KEXPECT_EQ(KlePuts, 3);
    KEXPECT_TRUE(KlePut[1] == &sgB.List && KlePut[2] == &sgC.List);
    KEXPECT_TRUE(KleCompleted[1] == &ctxB && KleCompleted[2] == &ctxC);
    KEXPECT_EQ(a->TxClean, 3);
    KEXPECT_EQ(a->TxFree, E1000_TX_RING - 1);
    /* The list back memory-to-device, SendComplete with success, both outside TxLock. */
    KEXPECT_EQ(KleBadDirection, 0);
    KEXPECT_EQ(KleBadStatus, 0);
    KEXPECT_EQ(KleUnderLock, 0);
    /* An empty ring: nothing to do. */
    KleReapTx(a);
    KEXPECT_EQ(KleCompletions, 3);
}

/* ---- The real adapter ---- */

#define KLE_PINGS       (2 * E1000_RX_RING)         /* both rings wrap */
#define KLE_PING_MS     1000

KTEST(lab_e1000, loopback_pings_through_both_rings)
{
    PE1000_ADAPTER a = NULL;
    E1000_STATISTICS before;
    ULONG ok = 0;

    for (LONG i = 0; i < E1000AdapterCount && i < E1000_MAX_ADAPTERS; i++)
        if (E1000Adapters[i] != NULL && E1000Adapters[i]->Bound)
            a = E1000Adapters[i];
    if (a == NULL)
        KTEST_SKIP("no bound e1000 (q35's default NIC is an e1000e)");
    before = a->Stats;
    E1000SetLoopback(a, TRUE);
    NetArpFlush();
    /* QEMU may hold frames back for a second after RCTL is written. */
    for (ULONG i = 0; i < 20; i++)
        if (NT_SUCCESS(NetPing(NET_DEFAULT_ADDRESS, 0, 100, NULL)))
            break;
    while (ok < KLE_PINGS && NT_SUCCESS(NetPing(NET_DEFAULT_ADDRESS, ok % 200, KLE_PING_MS, NULL)))
        ok++;                           /* the first loss ends it: no waiting out the rest */
    E1000SetLoopback(a, FALSE);
    NetArpFlush();
    KEXPECT_EQ(ok, KLE_PINGS);
    /* A request and a reply through each ring per ping. */
    KEXPECT_GE(a->Stats.RxFrames - before.RxFrames, 2ULL * ok);
    KEXPECT_GE(a->Stats.TxFrames - before.TxFrames, 2ULL * ok);
}

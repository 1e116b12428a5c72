/*
 * e1000.h - the Intel 8254x (e1000) driver's registers, descriptors and
 * device extension (8254x Software Developer's Manual; QEMU's e1000 is an
 * 82540EM, e1000-82545em an 82545EM), shared by e1000.c (PnP start, reset,
 * interrupts, statistics IOCTL), ring.c (the descriptor rings) and the
 * in-kernel tests. It includes <wdm.h> only.
 */
#ifndef E1000_H
#define E1000_H

#include <wdm.h>

#define E1000_POOL_TAG      '01eE'      /* the extension's odds and ends */
#define E1000_RX_TAG        'xReE'      /* receive buffers (the lookaside list) */

/* ---- Registers (byte offsets in BAR0; 32-bit accesses only) ---- */
#define E1000_CTRL      0x0000
#define E1000_STATUS    0x0008
#define E1000_EERD      0x0014
#define E1000_MDIC      0x0020
#define E1000_ICR       0x00C0          /* read-to-clear */
#define E1000_ITR       0x00C4
#define E1000_ICS       0x00C8
#define E1000_IMS       0x00D0
#define E1000_IMC       0x00D8
#define E1000_RCTL      0x0100
#define E1000_TCTL      0x0400
#define E1000_TIPG      0x0410
#define E1000_RDBAL     0x2800
#define E1000_RDBAH     0x2804
#define E1000_RDLEN     0x2808
#define E1000_RDH       0x2810
#define E1000_RDT       0x2818
#define E1000_RDTR      0x2820
#define E1000_TDBAL     0x3800
#define E1000_TDBAH     0x3804
#define E1000_TDLEN     0x3808
#define E1000_TDH       0x3810
#define E1000_TDT       0x3818
#define E1000_MPC       0x4010          /* missed packets (clear on read) */
#define E1000_RNBC      0x40A0          /* receive no buffers (clear on read) */
#define E1000_MTA       0x5200          /* 128 registers */
#define E1000_MTA_COUNT 128
#define E1000_RAL0      0x5400
#define E1000_RAH0      0x5404

#define E1000_CTRL_LRST     (1u << 3)
#define E1000_CTRL_ASDE     (1u << 5)
#define E1000_CTRL_SLU      (1u << 6)
#define E1000_CTRL_RST      (1u << 26)
#define E1000_CTRL_VME      (1u << 30)
#define E1000_CTRL_PHY_RST  (1u << 31)
#define E1000_STATUS_LU     (1u << 1)

#define E1000_EERD_START        (1u << 0)
#define E1000_EERD_DONE         (1u << 4)
#define E1000_EERD_ADDR(w)      ((ULONG)(w) << 8)
#define E1000_EERD_DATA(v)      ((USHORT)((v) >> 16))
#define E1000_EEPROM_WORDS_MAC  3

#define E1000_MDIC_DATA(v)      ((USHORT)(v))
#define E1000_MDIC_REG(r)       ((ULONG)(r) << 16)
#define E1000_MDIC_PHY(p)       ((ULONG)(p) << 21)
#define E1000_MDIC_OP_WRITE     (1u << 26)
#define E1000_MDIC_OP_READ      (2u << 26)
#define E1000_MDIC_READY        (1u << 28)
#define E1000_MDIC_ERROR        (1u << 30)
#define E1000_PHY_ADDRESS       1
#define MII_BMCR                0
#define MII_BMCR_LOOPBACK       (1u << 14)

/* Interrupt causes (ICR, ICS, IMS, IMC). */
#define E1000_ICR_TXDW      (1u << 0)   /* a descriptor with RS was written back */
#define E1000_ICR_LSC       (1u << 2)   /* link status change */
#define E1000_ICR_RXDMT0    (1u << 4)   /* free receive descriptors below the threshold */
#define E1000_ICR_RXO       (1u << 6)   /* receive overrun */
#define E1000_ICR_RXT0      (1u << 7)   /* receive timer: frames written back */
#define E1000_IMS_WANTED    (E1000_ICR_TXDW | E1000_ICR_LSC | E1000_ICR_RXDMT0 | \
                             E1000_ICR_RXO | E1000_ICR_RXT0)

#define E1000_RCTL_EN       (1u << 1)
#define E1000_RCTL_BAM      (1u << 15)  /* accept broadcast */
#define E1000_RCTL_BSIZE_2048 (0u << 16)
#define E1000_RCTL_SECRC    (1u << 26)  /* strip the CRC (QEMU: else lengths are 4 too long) */
#define E1000_TCTL_EN       (1u << 1)
#define E1000_TCTL_PSP      (1u << 3)   /* pad short packets (real hardware; QEMU does not) */
#define E1000_TCTL_CT(n)    ((ULONG)(n) << 4)
#define E1000_TCTL_COLD(n)  ((ULONG)(n) << 12)
#define E1000_TIPG_VALUE    (10u | (8u << 10) | (6u << 20))     /* IPGT, IPGR1, IPGR2 (copper) */

/* ---- Legacy descriptors (16 bytes each) ---- */
typedef struct _E1000_RX_DESC {
    ULONG64 Address;
    USHORT Length;
    USHORT Checksum;
    UCHAR Status;
    UCHAR Errors;
    USHORT Special;
} E1000_RX_DESC, *PE1000_RX_DESC;
_Static_assert(sizeof(E1000_RX_DESC) == 16, "8254x SDM 3.2.3");
#define E1000_RXD_STAT_DD   (1u << 0)
#define E1000_RXD_STAT_EOP  (1u << 1)
/* CE, SE, SEQ, CXE, RXE: the frame itself is bad (TCPE/IPE are offload results). */
#define E1000_RXD_ERR_FRAME 0x97

typedef struct _E1000_TX_DESC {
    ULONG64 Address;
    USHORT Length;
    UCHAR Cso;
    UCHAR Command;
    UCHAR Status;
    UCHAR Css;
    USHORT Special;
} E1000_TX_DESC, *PE1000_TX_DESC;
_Static_assert(sizeof(E1000_TX_DESC) == 16, "8254x SDM 3.3.3");
#define E1000_TXD_CMD_EOP   (1u << 0)
#define E1000_TXD_CMD_IFCS  (1u << 1)
#define E1000_TXD_CMD_RS    (1u << 3)
#define E1000_TXD_STAT_DD   (1u << 0)

/* Ring sizes: a multiple of 8 descriptors (RDLEN/TDLEN are 128-byte multiples). */
#define E1000_RX_RING       64
#define E1000_TX_RING       64
_Static_assert((E1000_RX_RING * sizeof(E1000_RX_DESC)) % 128 == 0, "RDLEN");
_Static_assert((E1000_TX_RING * sizeof(E1000_TX_DESC)) % 128 == 0, "TDLEN");
#define E1000_RX_BUFFER_BYTES 2048      /* RCTL.BSIZE 2048 */

/*
 * A receive buffer is one lookaside entry of a page: the device writes the
 * frame into its first 2 KiB (a pool block of a page never crosses one, so
 * the run is one element), and the rest holds the buffer's bookkeeping:
 * the MDL describing those 2 KiB and the list the adapter mapped it with.
 */
typedef struct _E1000_RX_BUFFER {
    UCHAR Data[E1000_RX_BUFFER_BYTES];
    PSCATTER_GATHER_LIST Sg;            /* set by the mapping routine */
    volatile LONG MapState;             /* E1000_MAP_* */
    struct _E1000_ADAPTER *Adapter;
    ULONG64 MdlSpace[8];                /* the MDL (a header and one PFN) */
} E1000_RX_BUFFER, *PE1000_RX_BUFFER;
_Static_assert(sizeof(E1000_RX_BUFFER) <= PAGE_SIZE, "one page");
#define E1000_MAP_WAITING   0
#define E1000_MAP_DONE      1           /* mapped before GetScatterGatherList returned */
#define E1000_MAP_ABANDONED 2           /* the refill gave up; the late routine frees it */

/* What the transmit ring remembers for a frame, at its first descriptor. */
typedef struct _E1000_TX_INFO {
    PSCATTER_GATHER_LIST Sg;
    PVOID Context;                      /* the sender's, for SendComplete */
    ULONG Descriptors;                  /* of this frame (0: not a frame's first) */
} E1000_TX_INFO;

/* A send waiting for its scatter/gather list: the descriptors it reserved. */
typedef struct _E1000_TX_REQUEST {
    struct _E1000_ADAPTER *Adapter;
    PVOID Context;
    ULONG Reserved;                     /* descriptors counted out of TxFree */
    ULONG Length;
} E1000_TX_REQUEST, *PE1000_TX_REQUEST;

typedef struct _E1000_ADAPTER {
    PDEVICE_OBJECT Self, Pdo, Lower;
    ULONG Number;                       /* \Device\E1000_<Number> */
    PUCHAR Regs;
    ULONG RegsBytes;
    UCHAR Mac[NET_ETHERNET_ADDRESS_LENGTH];
    PDMA_ADAPTER Dma;
    ULONG MapRegisters;
    PKINTERRUPT Interrupt;
    BOOLEAN Started;
    volatile BOOLEAN LinkUp;
    ULONG Itr;                          /* ITR value written (256 ns units) */
    volatile LONG PendingIcr;           /* causes the ISR read, for the DPC */

    /* The rings: one common buffer (RX descriptors, then TX descriptors). */
    PUCHAR Common;
    PHYSICAL_ADDRESS CommonLogical;
    ULONG CommonBytes;
    volatile E1000_RX_DESC *RxRing;
    volatile E1000_TX_DESC *TxRing;

    KSPIN_LOCK RxLock;                  /* RxNext, RxBuffers, the RX counters */
    ULONG RxNext;                       /* next descriptor to look at */
    PE1000_RX_BUFFER RxBuffers[E1000_RX_RING];
    BOOLEAN RxDiscarding;               /* inside a frame spread over descriptors */
    PNPAGED_LOOKASIDE_LIST RxLookaside; /* 16-byte aligned: its own pool block */
    volatile LONG RxBuffersOutstanding;
    volatile LONG RxPaused;             /* tests: the DPC leaves the RX ring alone */
    volatile LONG RxInjectAllocFailures;  /* tests: fail this many replacement buffers */

    KSPIN_LOCK TxLock;                  /* TxProd, TxClean, TxFree, TxInfo */
    ULONG TxProd, TxClean, TxFree;
    E1000_TX_INFO TxInfo[E1000_TX_RING];

    /* The protocol bound through \Device\Net (NULL: none). */
    NET_PROTOCOL_INTERFACE Protocol;
    BOOLEAN Bound;

    /* A periodic timer: folds the hardware's clear-on-read counters. */
    KTIMER Timer;
    KDPC TimerDpc;

    E1000_STATISTICS Stats;             /* counters: RX ones under RxLock, TX ones under TxLock */
} E1000_ADAPTER, *PE1000_ADAPTER;

/* Every adapter the driver started, by number (tests, kd). */
#define E1000_MAX_ADAPTERS 4
extern PE1000_ADAPTER E1000Adapters[E1000_MAX_ADAPTERS];
extern volatile LONG E1000AdapterCount;

static inline ULONG E1000Read(PE1000_ADAPTER A, ULONG Offset)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(A->Regs + Offset));
}
static inline VOID E1000Write(PE1000_ADAPTER A, ULONG Offset, ULONG Value)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(A->Regs + Offset), Value);
}

/* e1000.c */
BOOLEAN E1000PhyRead(PE1000_ADAPTER Adapter, ULONG Reg, PUSHORT Value);
BOOLEAN E1000PhyWrite(PE1000_ADAPTER Adapter, ULONG Reg, USHORT Value);
VOID E1000SetLoopback(PE1000_ADAPTER Adapter, BOOLEAN On);
VOID E1000QueryStatistics(PE1000_ADAPTER Adapter, PE1000_STATISTICS Stats);

/* ring.c */
NTSTATUS E1000RingsAllocate(PE1000_ADAPTER Adapter);
VOID E1000RingsProgram(PE1000_ADAPTER Adapter);
VOID E1000RxTake(PE1000_ADAPTER Adapter, ULONG I);
ULONG E1000ReapRx(PE1000_ADAPTER Adapter, ULONG Budget);
ULONG E1000TxPlace(PE1000_ADAPTER Adapter, ULONG First, PSCATTER_GATHER_LIST Sg);
VOID E1000ReapTx(PE1000_ADAPTER Adapter);
NET_ADAPTER_SEND E1000Send;

#endif

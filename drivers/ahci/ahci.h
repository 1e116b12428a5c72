/*
 * ahci.h - the AHCI driver's registers, in-memory structures and device
 * extensions (AHCI 1.3.1; ATA8-ACS for the commands), shared by hba.c
 * (the controller: PnP start, reset, interrupts), port.c (a port's
 * command slots and request queue), recover.c (a port's errors and
 * timeouts; port_internal.h is what those two alone share), disk.c (the
 * disk device's dispatch routines) and the in-kernel tests. It includes
 * <wdm.h> only.
 */
#ifndef AHCI_H
#define AHCI_H

#include <wdm.h>

#define AHCI_CLASS_ID          "PCI\\CC_010601"    /* mass storage, SATA, AHCI 1.0 */
#define AHCI_DISK_NAME_FORMAT  "\\Device\\Harddisk%u\\DR%u"
#define AHCI_POOL_TAG          'icha'

/* ---- HBA registers (offsets in ABAR) ---- */
#define AHCI_CAP        0x00
#define AHCI_GHC        0x04
#define AHCI_IS         0x08
#define AHCI_PI         0x0C
#define AHCI_VS         0x10
#define AHCI_CAP2       0x24
#define AHCI_BOHC       0x28
#define AHCI_ABAR_SIZE  0x1100          /* generic registers and 32 ports */

#define AHCI_CAP_NP(c)      ((c) & 0x1F)
#define AHCI_CAP_NCS(c)     ((((c) >> 8) & 0x1F) + 1)   /* command slots */
#define AHCI_CAP_SSS        (1u << 27)  /* staggered spin-up: software sets PxCMD.SUD */
#define AHCI_CAP_SNCQ       (1u << 30)
#define AHCI_CAP_S64A       (1u << 31)
#define AHCI_GHC_HR         (1u << 0)
#define AHCI_GHC_IE         (1u << 1)
#define AHCI_GHC_AE         (1u << 31)
#define AHCI_CAP2_BOH       (1u << 0)
#define AHCI_BOHC_BOS       (1u << 0)
#define AHCI_BOHC_OOS       (1u << 1)
#define AHCI_BOHC_BB        (1u << 4)

/* ---- Port registers (offset in the port's 0x80 bytes) ---- */
#define AHCI_PORT_BASE(n)   (0x100 + (n) * 0x80)
#define PX_CLB   0x00
#define PX_CLBU  0x04
#define PX_FB    0x08
#define PX_FBU   0x0C
#define PX_IS    0x10
#define PX_IE    0x14
#define PX_CMD   0x18
#define PX_TFD   0x20
#define PX_SIG   0x24
#define PX_SSTS  0x28
#define PX_SCTL  0x2C
#define PX_SERR  0x30
#define PX_SACT  0x34
#define PX_CI    0x38

#define PX_CMD_ST   (1u << 0)
#define PX_CMD_SUD  (1u << 1)
#define PX_CMD_POD  (1u << 2)
#define PX_CMD_FRE  (1u << 4)
#define PX_CMD_CCS(c) (((c) >> 8) & 0x1F)   /* the slot the HBA is processing */
#define PX_CMD_FR   (1u << 14)
#define PX_CMD_CR   (1u << 15)

#define PX_IS_DHRS  (1u << 0)           /* D2H register FIS: a non-NCQ command ended */
#define PX_IS_PSS   (1u << 1)
#define PX_IS_DSS   (1u << 2)
#define PX_IS_SDBS  (1u << 3)           /* set device bits FIS: NCQ commands ended */
#define PX_IS_DPS   (1u << 5)
#define PX_IS_PCS   (1u << 6)           /* port connect change (hot plug) */
#define PX_IS_PRCS  (1u << 22)          /* PhyRdy change */
#define PX_IS_OFS   (1u << 24)          /* overflow: PRDT shorter than the transfer */
#define PX_IS_IFS   (1u << 27)          /* fatal interface error */
#define PX_IS_HBDS  (1u << 28)          /* host bus data error */
#define PX_IS_HBFS  (1u << 29)          /* host bus fatal error */
#define PX_IS_TFES  (1u << 30)          /* task file error: the device said ERR */
#define PX_IS_ERRORS (PX_IS_OFS | PX_IS_IFS | PX_IS_HBDS | PX_IS_HBFS | PX_IS_TFES)
#define PX_IE_WANTED (PX_IS_DHRS | PX_IS_PSS | PX_IS_DSS | PX_IS_SDBS | PX_IS_DPS | \
                      PX_IS_PCS | PX_IS_PRCS | PX_IS_ERRORS)

/* PxIS.PRCS and PxIS.PCS are read-only mirrors of these two PxSERR.DIAG
 * bits (AHCI 3.3.5): writing PxIS does not clear them, writing these does. */
#define PX_SERR_DIAG_N (1u << 16)       /* PhyRdy changed: PxIS.PRCS */
#define PX_SERR_DIAG_X (1u << 26)       /* Exchanged (COMINIT): PxIS.PCS */

#define PX_TFD_ERR  (1u << 0)
#define PX_TFD_DRQ  (1u << 3)
#define PX_TFD_BSY  (1u << 7)
#define PX_SSTS_DET(s)      ((s) & 0xF)
#define PX_SSTS_DET_PRESENT 3           /* device present, Phy communication established */
#define PX_SCTL_DET_INIT    1           /* COMRESET */
#define PX_SIG_ATA          0x00000101
#define PX_SIG_ATAPI        0xEB140101

/* ---- Memory structures ---- */
#define AHCI_CMD_LIST_BYTES  1024       /* 32 headers of 32 bytes, 1 KiB aligned */
#define AHCI_RFIS_BYTES      256        /* received FIS area, 256-byte aligned */
#define AHCI_PRDT_ENTRIES    136        /* > 512 KiB / 4 KiB + 1: any buffer of MaxTransfer */
#define AHCI_CMD_TABLE_BYTES (0x80 + AHCI_PRDT_ENTRIES * 16)    /* 128-byte multiple */
#define AHCI_MAX_TRANSFER    (512 * 1024)
#define AHCI_PRD_MAX_BYTES   (4u * 1024 * 1024)
#define AHCI_SLOTS           32
_Static_assert(AHCI_CMD_TABLE_BYTES % 128 == 0, "command tables are 128-byte aligned");

typedef struct _AHCI_CMD_HEADER {
    ULONG Flags;                        /* CFL 4:0, A 5, W 6, P 7, PRDTL 31:16 */
    volatile ULONG Prdbc;               /* bytes transferred (written by the HBA) */
    ULONG Ctba, Ctbau;                  /* the command table (128-byte aligned) */
    ULONG Reserved[4];
} AHCI_CMD_HEADER, *PAHCI_CMD_HEADER;
_Static_assert(sizeof(AHCI_CMD_HEADER) == 32, "AHCI 4.2.2");
#define AHCI_CMD_CFL_H2D    5           /* a register H2D FIS is 5 dwords */
#define AHCI_CMD_WRITE      (1u << 6)
#define AHCI_CMD_PRDTL(n)   ((ULONG)(n) << 16)

typedef struct _AHCI_PRD {
    ULONG Dba, Dbau;                    /* data base address, word aligned */
    ULONG Reserved;
    ULONG Dbc;                          /* byte count - 1 (bit 0 set: even count), I bit 31 */
} AHCI_PRD, *PAHCI_PRD;
_Static_assert(sizeof(AHCI_PRD) == 16, "AHCI 4.2.3.3");

#define AHCI_CT_PRDT_OFFSET 0x80
#define FIS_TYPE_REG_H2D    0x27
#define FIS_H2D_COMMAND     0x80        /* the C bit: this FIS carries a command */
#define FIS_H2D_PMP_MASK    0x0F        /* byte 1 bits 3:0: the port-multiplier port */
#define ATA_DEVICE_LBA      0x40

#define ATA_IDENTIFY_DEVICE      0xEC
#define ATA_READ_DMA_EXT         0x25
#define ATA_WRITE_DMA_EXT        0x35
#define ATA_READ_FPDMA_QUEUED    0x60
#define ATA_WRITE_FPDMA_QUEUED   0x61
#define ATA_FLUSH_CACHE_EXT      0xEA
#define ATA_READ_LOG_EXT         0x2F
#define ATA_LOG_NCQ_ERROR        0x10   /* SATA: the NCQ command error log, one 512-byte page */
#define NCQ_LOG_NQ               0x80   /* byte 0 bit 7: the error was a non-queued command's */
#define NCQ_LOG_TAG(b)           ((b) & 0x1F)
#define ATA_MAX_SECTORS_LBA48    65536  /* a count of 0 means 65536 */

/* IDENTIFY DEVICE words (ATA8-ACS 7.16). */
#define ID_SERIAL        10             /* 20 characters */
#define ID_FIRMWARE      23             /* 8 */
#define ID_MODEL         27             /* 40 */
#define ID_LBA28_SECTORS 60
#define ID_QUEUE_DEPTH   75             /* bits 4:0: depth - 1 */
#define ID_SATA_CAP      76             /* bit 8: NCQ */
#define ID_CMDSET_82     82             /* bit 5: write cache supported */
#define ID_CMDSET_83     83             /* bit 10: 48-bit addresses */
#define ID_CMDSET_84     84             /* bit 5: general purpose logging (GPL) */
#define ID_GPL           (1u << 5)
#define ID_CMDSET_85     85             /* bit 5: write cache enabled */
#define ID_LBA48_SECTORS 100
#define ID_SECTOR_SIZE   106            /* 15:14 = 01 valid; 13 phys>log; 12 long logical; 3:0 log2 */
#define ID_LOGICAL_SIZE  117            /* words per logical sector (2 words) */

/*
 * The Mica mark: a disk is written only if LBA 1 holds AHCI_MARK at byte
 * AHCI_MARK_OFFSET (after the LBA tag test images keep in every sector's
 * first 8 bytes), or the boot option diskwrite=N[,M...] names its number.
 */
#define AHCI_MARK_LBA    1
#define AHCI_MARK_OFFSET 8
#define AHCI_MARK        "MICA-WRITABLE-01"
#define AHCI_MARK_BYTES  16

/* ---- Device extensions ---- */
struct _AHCI_HBA;

typedef enum { SlotFree, SlotBuilding, SlotReady, SlotDeferred, SlotIssued } AHCI_SLOT_STATE;

typedef struct _AHCI_SLOT {
    volatile LONG State;                /* AHCI_SLOT_STATE, moved with atomics by the SG callback */
    PIRP Irp;                           /* NULL for a FLUSH */
    PSCATTER_GATHER_LIST Sg;
    BOOLEAN Write;
    ULONG Offset, Length;               /* the piece of the IRP's buffer */
    ULONG64 Lba;
    ULONG64 IssuedTick;                 /* the watchdog's tick when PxCI got it */
    struct _AHCI_PORT *Port;
} AHCI_SLOT, *PAHCI_SLOT;

/* The disk device's extension: one per attached ATA device. */
typedef struct _AHCI_PORT {
    BOOLEAN IsDisk;                     /* TRUE: first, as in AHCI_HBA */
    PDEVICE_OBJECT Self;                /* \Device\Harddisk<N>\DR<N> */
    struct _AHCI_HBA *Hba;
    ULONG Number;                       /* port number on the HBA */
    ULONG DiskNumber;
    PUCHAR Regs;                        /* this port's registers */
    /* Common buffer: command list, received FIS, tables, scratch sector. */
    PUCHAR Common;
    PHYSICAL_ADDRESS CommonLogical;
    ULONG CommonBytes;
    PAHCI_CMD_HEADER CmdList;
    PUCHAR RecvFis;
    PUCHAR Tables;
    ULONG64 TablesLogical;
    PUCHAR Scratch;                     /* 4 KiB for IDENTIFY and the mark */
    ULONG64 ScratchLogical;
    /* What IDENTIFY said. */
    char Model[41], Serial[21], Firmware[9];
    ULONG64 Sectors;
    ULONG SectorSize, PhysicalSectorSize;
    BOOLEAN Lba48, Ncq, WriteCacheSupported, WriteCacheEnabled, Writable, Marked;
    BOOLEAN Gpl;                        /* READ LOG EXT works: log 10h after an NCQ error */
    ULONG QueueDepth;                   /* slots used: min(NCQ depth, HBA slots), or HBA slots */
    /* The queue (Lock). */
    KSPIN_LOCK Lock;
    LIST_ENTRY Queue;                   /* IRPs with pieces left to issue */
    ULONG Busy;                         /* slots not free */
    ULONG Issued;                       /* slots written to PxCI */
    ULONG NcqIssued;                    /* of which NCQ (tracked in PxSACT) */
    BOOLEAN FlushActive;
    ULONG Retry;                        /* suspects: slots to start again, one at a time, after an error */
    BOOLEAN RetryNcq;                   /* ...as queued commands (after a timeout) */
    ULONG Retrying;                     /* the slot issued as a retry: if it fails, it is the culprit */
    ULONG Reissue;                      /* not suspects (the culprit is known): start again together */
    BOOLEAN ClearStatus;                /* a command failed: while PxTFD.STS.ERR stays set, the next
                                         * command goes alone and non-queued (recover.c, AhciPortMayQueue) */
    BOOLEAN Held;                       /* IRP_MN_STOP_DEVICE: requests wait in Queue for the restart */
    NTSTATUS GoneStatus;                /* removal: not 0, every request fails with it */
    volatile ULONG PendingIs;           /* PxIS bits the ISR acknowledged */
    AHCI_SLOT Slots[AHCI_SLOTS];
    /* Counters for tests and the boot line. */
    volatile LONG64 Commands, Interrupts, Errors, Batches;
    ULONG MaxInFlight;                  /* most slots issued at once */
    /* The per-command timeout: a periodic timer counts Ticks; a command
     * issued TimeoutTicks ticks ago and not finished is a timeout, however
     * busy the others keep the port. */
    KTIMER Watchdog;
    KDPC WatchdogDpc;
    ULONG64 Completed;                  /* pieces finished (Lock) */
    ULONG64 Ticks;                      /* (Lock) */
    ULONG TimeoutTicks;
    volatile LONG64 Timeouts;
    volatile LONG64 LogReads, LogFailures;      /* READ LOG EXT 10h after NCQ errors */
    volatile LONG64 Comresets;          /* recoveries that reset the device too */
    volatile LONG64 StaleErrors;        /* error interrupts with no command outstanding: ignored */
    /* Fault injection for the tests: while IgnoreArmed, a command covering
     * IgnoreLba is addressed to port-multiplier port 15, where no device
     * listens (this port has no multiplier): it is never answered. */
    BOOLEAN IgnoreArmed;
    ULONG64 IgnoreLba;
} AHCI_PORT, *PAHCI_PORT;

typedef struct _AHCI_HBA {
    BOOLEAN IsDisk;                     /* FALSE: tells the FDO's extension from a disk's */
    PDEVICE_OBJECT Self, Pdo, Lower;
    PUCHAR Abar;
    ULONG Cap, Pi, Version;
    ULONG Slots;
    PDMA_ADAPTER Dma;
    ULONG MapRegisters;
    ULONG MaxTransfer;                  /* bytes per command */
    ULONG ConnectVersion;
    PIO_INTERRUPT_MESSAGE_INFO MessageTable;
    PKINTERRUPT Interrupt;
    PAHCI_PORT Ports[32];
    volatile LONG64 IsrCount;
    ULONG AbarBytes;                    /* mapped at Abar */
    BOOLEAN Started, SurpriseRemoved;
} AHCI_HBA, *PAHCI_HBA;

/* Every disk the driver made, by disk number (tests, the boot option). */
#define AHCI_MAX_DISKS 16
extern PAHCI_PORT AhciDisks[AHCI_MAX_DISKS];
extern volatile LONG AhciDiskCount;

/* hba.c */
static inline ULONG AhciRead(PUCHAR Base, ULONG Offset)
{
    return READ_REGISTER_ULONG((volatile ULONG *)(Base + Offset));
}
static inline VOID AhciWrite(PUCHAR Base, ULONG Offset, ULONG Value)
{
    WRITE_REGISTER_ULONG((volatile ULONG *)(Base + Offset), Value);
}

#define AHCI_WATCHDOG_MS       250
#define AHCI_TIMEOUT_TICKS     (10000 / AHCI_WATCHDOG_MS)  /* 10 s, disk.sys's default */

/* port.c */
NTSTATUS AhciPortStart(PAHCI_HBA Hba, ULONG Number, PAHCI_PORT Port);
NTSTATUS AhciPortRestart(PAHCI_PORT Port);
VOID AhciPortHold(PAHCI_PORT Port);
VOID AhciPortFailAll(PAHCI_PORT Port, NTSTATUS Status, BOOLEAN Issued);
VOID AhciPortRelease(PAHCI_PORT Port);
ULONG AhciBuildPrdt(PAHCI_PRD Prdt, PSCATTER_GATHER_LIST Sg);
BOOLEAN AhciPortStop(PAHCI_PORT Port);
NTSTATUS AhciPortIdentify(PAHCI_PORT Port);
NTSTATUS AhciPortReadPolled(PAHCI_PORT Port, ULONG64 Lba);
VOID AhciPortQueue(PAHCI_PORT Port, PIRP Irp);
VOID AhciPortService(PAHCI_PORT Port);
VOID AhciPortStartWatchdog(PAHCI_PORT Port);

/* disk.c */
NTSTATUS AhciCreateDisk(PAHCI_HBA Hba, ULONG Number);
VOID AhciDeleteDisk(PAHCI_PORT Port);
NTSTATUS AhciDiskDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp);

#endif

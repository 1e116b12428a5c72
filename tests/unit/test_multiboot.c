/*
 * test_multiboot.c - unit tests for KiParseMultiboot (kernel/ke/multiboot.c).
 *
 * The multiboot2 information block is the first input the kernel trusts:
 * the memory map, command line, framebuffer and ACPI root all come from
 * it, before any other check can run. These tests build synthetic blocks
 * (header, 8-byte-padded tags, end tag) and check what lands in the loader
 * block, and that malformed blocks - short, truncated, without an end tag,
 * with absurd sizes - are refused with STATUS_INVALID_PARAMETER without a
 * read outside the block. To let AddressSanitizer see such a read, each
 * block is copied so that it ends exactly where its static buffer ends.
 */
#include "../ktest.h"
#include "../../kernel/ke/ke_internal.h"

#define MB_PHYSICAL 0x9000ULL      /* where the block "is" in physical memory */
#define MB_BUFFER_SIZE 4096

#define MB_TAG_END          0
#define MB_TAG_CMDLINE      1
#define MB_TAG_LOADER_NAME  2
#define MB_TAG_MODULE       3
#define MB_TAG_MMAP         6
#define MB_TAG_FRAMEBUFFER  8
#define MB_TAG_ACPI_OLD     14
#define MB_TAG_ACPI_NEW     15

/* Blocks are built in MbScratch and then moved to the end of MbImage. */
static ULONG64 MbScratch[MB_BUFFER_SIZE / 8];
static ULONG64 MbImage[MB_BUFFER_SIZE / 8];
static ULONG MbOffset, MbTagStart;
static LOADER_PARAMETER_BLOCK MbBlock;

static UCHAR *MbBytes(void)
{
    return (UCHAR *)MbScratch;
}

static void MbPut8(UCHAR Value)
{
    if (MbOffset < MB_BUFFER_SIZE)
        MbBytes()[MbOffset] = Value;
    MbOffset++;
}

static void MbPut16(USHORT Value)
{
    MbPut8((UCHAR)Value);
    MbPut8((UCHAR)(Value >> 8));
}

static void MbPut32(ULONG Value)
{
    MbPut16((USHORT)Value);
    MbPut16((USHORT)(Value >> 16));
}

static void MbPut64(ULONG64 Value)
{
    MbPut32((ULONG)Value);
    MbPut32((ULONG)(Value >> 32));
}

static void MbPutString(PCSTR S)
{
    do
        MbPut8((UCHAR)*S);
    while (*S++);
}

static void MbSet32(ULONG Offset, ULONG Value)
{
    UCHAR *p = MbBytes() + Offset;

    p[0] = (UCHAR)Value;
    p[1] = (UCHAR)(Value >> 8);
    p[2] = (UCHAR)(Value >> 16);
    p[3] = (UCHAR)(Value >> 24);
}

static void MbAlign(void)
{
    while (MbOffset & 7)
        MbPut8(0);
}

/* Start a block: an empty 8-byte header. */
static void MbBegin(void)
{
    memset(MbScratch, 0, sizeof(MbScratch));
    MbOffset = 8;
}

/* Start a tag; returns its offset in the block. */
static ULONG MbTagBegin(ULONG Type)
{
    MbAlign();
    MbTagStart = MbOffset;
    MbPut32(Type);
    MbPut32(0);
    return MbTagStart;
}

/* Close the tag: its size is what was written since MbTagBegin. */
static void MbTagEnd(void)
{
    MbSet32(MbTagStart + 4, MbOffset - MbTagStart);
}

/* Close the tag, but claim Size bytes whatever was written. */
static void MbTagEndClaiming(ULONG Size)
{
    MbSet32(MbTagStart + 4, Size);
}

static void MbEndTag(void)
{
    MbTagBegin(MB_TAG_END);
    MbTagEnd();
}

static ULONG MbRound8(ULONG N)
{
    return (N + 7) & ~7u;
}

/*
 * Finish with total_size = Declared and return the block, copied so that
 * it ends where MbImage ends (rounded to 8 bytes to keep it aligned): bytes
 * written past Declared are not there at all, and a read beyond the block
 * runs off the buffer. A Declared bigger than the buffer leaves the block
 * at the start of MbImage (the parser must refuse it from the header).
 */
static const UCHAR *MbFinishDeclaring(ULONG Declared)
{
    ULONG built = MbRound8(MbOffset), span = MbRound8(Declared);
    UCHAR *image = (UCHAR *)MbImage, *info;

    if (span < 8)
        span = 8;               /* the header itself is always there */

    MbSet32(0, Declared);
    MbSet32(4, 0);
    memset(MbImage, 0, sizeof(MbImage));
    if (built > MB_BUFFER_SIZE)
        built = MB_BUFFER_SIZE;
    if (span > MB_BUFFER_SIZE || Declared > 0xFFFFFFF0u) {
        memcpy(image, MbScratch, built);
        return image;
    }
    info = image + MB_BUFFER_SIZE - span;
    memcpy(info, MbScratch, span < built ? span : built);
    return info;
}

static const UCHAR *MbFinish(void)
{
    MbEndTag();
    return MbFinishDeclaring(MbOffset);
}

static NTSTATUS MbParse(const UCHAR *Info)
{
    /* Fill the block with junk: the parser must clear all of it. */
    memset(&MbBlock, 0xCC, sizeof(MbBlock));
    return KiParseMultiboot(Info, MB_PHYSICAL, &MbBlock);
}

static void MbMmapBegin(ULONG EntrySize)
{
    MbTagBegin(MB_TAG_MMAP);
    MbPut32(EntrySize);
    MbPut32(0);                 /* entry_version */
}

static void MbMmapEntry(ULONG64 Base, ULONG64 Length, ULONG Type)
{
    MbPut64(Base);
    MbPut64(Length);
    MbPut32(Type);
    MbPut32(0);
}

static BOOLEAN MbBytesAre(const UCHAR *A, ULONG Count, UCHAR First, UCHAR Step)
{
    for (ULONG i = 0; i < Count; i++)
        if (A[i] != (UCHAR)(First + i * Step))
            return FALSE;
    return TRUE;
}

static BOOLEAN MbAllZero(const UCHAR *A, ULONG Count)
{
    for (ULONG i = 0; i < Count; i++)
        if (A[i])
            return FALSE;
    return TRUE;
}

static void MbPutRsdp(ULONG Count, UCHAR First)
{
    for (ULONG i = 0; i < Count; i++)
        MbPut8((UCHAR)(First + i));
}

/* ---- well-formed blocks -------------------------------------------------- */

KTEST(multiboot, minimal_block)
{
    MbBegin();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.BootInfoPhysical, MB_PHYSICAL);
    KEXPECT_EQ(MbBlock.BootInfoSize, 16);
    KEXPECT_EQ(MbBlock.RangeCount, 0);
    KEXPECT_EQ(MbBlock.ModuleCount, 0);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayNone);
    KEXPECT_EQ(MbBlock.AcpiRsdpPhysical, 0);
    KEXPECT_STREQ(MbBlock.LoadOptions, "");
    KEXPECT_STREQ(MbBlock.LoaderName, "");
    KEXPECT_TRUE(MbAllZero((const UCHAR *)&MbBlock.Ranges, sizeof(MbBlock.Ranges)));
}

KTEST(multiboot, command_line_and_loader_name)
{
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("test=multiboot.* maxmem=512M");
    MbTagEnd();
    MbTagBegin(MB_TAG_LOADER_NAME);
    MbPutString("GRUB 2.12");
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_STREQ(MbBlock.LoadOptions, "test=multiboot.* maxmem=512M");
    KEXPECT_STREQ(MbBlock.LoaderName, "GRUB 2.12");
}

KTEST(multiboot, strings_bounded_by_tag_and_field)
{
    /* A command line without its NUL stops at the end of the tag ... */
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPut8('a');
    MbPut8('b');
    MbPut8('c');
    MbTagEnd();                 /* size 11: no terminator in the tag */
    MbAlign();
    /* ... and is not continued by the bytes of the next tag. */
    MbTagBegin(0x77);
    MbPutString("XYZ");
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_STREQ(MbBlock.LoadOptions, "abc");

    /* A loader name longer than the field is cut to 63 characters. */
    MbBegin();
    MbTagBegin(MB_TAG_LOADER_NAME);
    for (int i = 0; i < 100; i++)
        MbPut8((UCHAR)('A' + i % 26));
    MbPut8(0);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(strlen(MbBlock.LoaderName), sizeof(MbBlock.LoaderName) - 1);
    KEXPECT_EQ(MbBlock.LoaderName[0], 'A');
    KEXPECT_EQ(MbBlock.LoaderName[62], 'A' + 62 % 26);
}

KTEST(multiboot, memory_map_sorted_and_typed)
{
    MbBegin();
    MbMmapBegin(24);
    MbMmapEntry(0x100000, 0x7EE0000, 1);        /* given out of order */
    MbMmapEntry(0x0, 0x9FC00, 1);
    MbMmapEntry(0xFFFC0000, 0x40000, 2);
    MbMmapEntry(0x9FC00, 0x400, 2);
    MbMmapEntry(0x7FE0000, 0x20000, 3);
    MbMmapEntry(0xF0000, 0x10000, 7);           /* unknown type: reserved */
    MbMmapEntry(0x50000000, 0, 1);              /* empty: dropped */
    MbMmapEntry(0xFEC00000, 0x1000, 4);
    MbMmapEntry(0xFED00000, 0x1000, 5);
    MbMmapEntry(0xFEE00000, 0x1000, 0);         /* type 0: reserved */
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KASSERT_EQ(MbBlock.RangeCount, 9);

    KEXPECT_EQ(MbBlock.Ranges[0].Base, 0x0);
    KEXPECT_EQ(MbBlock.Ranges[0].Length, 0x9FC00);
    KEXPECT_EQ(MbBlock.Ranges[0].Type, LoaderFree);
    KEXPECT_EQ(MbBlock.Ranges[1].Base, 0x9FC00);
    KEXPECT_EQ(MbBlock.Ranges[1].Type, LoaderReserved);
    KEXPECT_EQ(MbBlock.Ranges[2].Base, 0xF0000);
    KEXPECT_EQ(MbBlock.Ranges[2].Length, 0x10000);
    KEXPECT_EQ(MbBlock.Ranges[2].Type, LoaderReserved);
    KEXPECT_EQ(MbBlock.Ranges[3].Base, 0x100000);
    KEXPECT_EQ(MbBlock.Ranges[3].Length, 0x7EE0000);
    KEXPECT_EQ(MbBlock.Ranges[3].Type, LoaderFree);
    KEXPECT_EQ(MbBlock.Ranges[4].Base, 0x7FE0000);
    KEXPECT_EQ(MbBlock.Ranges[4].Type, LoaderAcpiReclaim);
    KEXPECT_EQ(MbBlock.Ranges[5].Base, 0xFEC00000);
    KEXPECT_EQ(MbBlock.Ranges[5].Type, LoaderAcpiNvs);
    KEXPECT_EQ(MbBlock.Ranges[6].Base, 0xFED00000);
    KEXPECT_EQ(MbBlock.Ranges[6].Type, LoaderBad);
    KEXPECT_EQ(MbBlock.Ranges[7].Base, 0xFEE00000);
    KEXPECT_EQ(MbBlock.Ranges[7].Type, LoaderReserved);
    KEXPECT_EQ(MbBlock.Ranges[8].Base, 0xFFFC0000);
    KEXPECT_EQ(MbBlock.Ranges[8].Length, 0x40000);
    KEXPECT_EQ(MbBlock.Ranges[8].Type, LoaderReserved);
    for (ULONG i = 0; i < MbBlock.RangeCount; i++)
        KEXPECT_NE(MbBlock.Ranges[i].Length, 0);
}

KTEST(multiboot, memory_map_entry_stride)
{
    /* entry_size 32 (a future, longer entry): extra bytes are skipped. A
     * trailing partial entry that does not fit the tag is ignored. */
    MbBegin();
    MbMmapBegin(32);
    MbMmapEntry(0x200000, 0x1000, 1);
    MbPut64(0xFFFFFFFFFFFFFFFFULL);             /* 8 bytes of extension */
    MbMmapEntry(0x100000, 0x2000, 1);
    MbPut64(0xFFFFFFFFFFFFFFFFULL);
    MbMmapEntry(0x300000, 0x3000, 1);           /* only 24 of 32 bytes */
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KASSERT_EQ(MbBlock.RangeCount, 2);
    KEXPECT_EQ(MbBlock.Ranges[0].Base, 0x100000);
    KEXPECT_EQ(MbBlock.Ranges[0].Length, 0x2000);
    KEXPECT_EQ(MbBlock.Ranges[1].Base, 0x200000);
    KEXPECT_EQ(MbBlock.Ranges[1].Length, 0x1000);
}

KTEST(multiboot, memory_map_capped_at_max_ranges)
{
    const ULONG count = LOADER_MAX_RANGES + 5;

    /* The command line comes first, so a Ranges[] overflow would hit it. */
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("canary");
    MbTagEnd();
    MbMmapBegin(24);
    for (ULONG i = 0; i < count; i++)           /* descending bases */
        MbMmapEntry((ULONG64)(count - i) << 20, 0x1000, 1);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.RangeCount, LOADER_MAX_RANGES);
    KEXPECT_STREQ(MbBlock.LoadOptions, "canary");
    for (ULONG i = 1; i < LOADER_MAX_RANGES; i++)
        KEXPECT_ULT(MbBlock.Ranges[i - 1].Base, MbBlock.Ranges[i].Base);
    /* The first LOADER_MAX_RANGES entries given are the ones kept. */
    KEXPECT_EQ(MbBlock.Ranges[0].Base, 6ULL << 20);
    KEXPECT_EQ(MbBlock.Ranges[LOADER_MAX_RANGES - 1].Base, (ULONG64)count << 20);
}

KTEST(multiboot, framebuffer_rgb)
{
    MbBegin();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xFD000000);
    MbPut32(1024 * 4);          /* pitch */
    MbPut32(1024);
    MbPut32(768);
    MbPut8(32);                 /* bpp */
    MbPut8(1);                  /* RGB */
    MbPut16(0);
    MbPut8(16); MbPut8(8);      /* red position, mask size */
    MbPut8(8); MbPut8(8);       /* green */
    MbPut8(0); MbPut8(8);       /* blue */
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayLinear);
    KEXPECT_EQ(MbBlock.Display.PhysicalBase, 0xFD000000);
    KEXPECT_EQ(MbBlock.Display.Pitch, 4096);
    KEXPECT_EQ(MbBlock.Display.Width, 1024);
    KEXPECT_EQ(MbBlock.Display.Height, 768);
    KEXPECT_EQ(MbBlock.Display.Bpp, 32);
    KEXPECT_EQ(MbBlock.Display.RedShift, 16);
    KEXPECT_EQ(MbBlock.Display.GreenShift, 8);
    KEXPECT_EQ(MbBlock.Display.BlueShift, 0);
}

KTEST(multiboot, framebuffer_ega_text)
{
    MbBegin();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xB8000);
    MbPut32(160);
    MbPut32(80);
    MbPut32(25);
    MbPut8(16);
    MbPut8(2);                  /* EGA text */
    MbPut16(0);
    MbTagEnd();                 /* no colour info: size 32 */
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayVgaText);
    KEXPECT_EQ(MbBlock.Display.PhysicalBase, 0xB8000);
    KEXPECT_EQ(MbBlock.Display.Width, 80);
    KEXPECT_EQ(MbBlock.Display.Height, 25);
    KEXPECT_EQ(MbBlock.Display.Pitch, 160);
}

KTEST(multiboot, framebuffer_unusable_modes)
{
    /* Indexed colour: Mica cannot draw on it. */
    MbBegin();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xA0000);
    MbPut32(320);
    MbPut32(320);
    MbPut32(200);
    MbPut8(8);
    MbPut8(0);                  /* indexed */
    MbPut16(0);
    MbPut16(0);                 /* palette: zero colours */
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayNone);

    /* RGB but 16 bpp. */
    MbBegin();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xFD000000);
    MbPut32(2048);
    MbPut32(1024);
    MbPut32(768);
    MbPut8(16);
    MbPut8(1);
    MbPut16(0);
    MbPut8(11); MbPut8(5); MbPut8(5); MbPut8(6); MbPut8(0); MbPut8(5);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayNone);

    /* RGB whose tag stops before the colour info. */
    MbBegin();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xFD000000);
    MbPut32(4096);
    MbPut32(1024);
    MbPut32(768);
    MbPut8(32);
    MbPut8(1);
    MbPut16(0);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayNone);
}

KTEST(multiboot, module_with_name)
{
    MbBegin();
    MbTagBegin(MB_TAG_MODULE);
    MbPut32(0x200000);
    MbPut32(0x234567);
    MbPutString("/boot/initrd.img root=ram");
    MbTagEnd();
    MbTagBegin(MB_TAG_MODULE);
    MbPut32(0x300000);
    MbPut32(0x301000);
    MbPutString("");
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KASSERT_EQ(MbBlock.ModuleCount, 2);
    KEXPECT_EQ(MbBlock.Modules[0].Start, 0x200000);
    KEXPECT_EQ(MbBlock.Modules[0].End, 0x234567);
    KEXPECT_STREQ(MbBlock.Modules[0].Name, "/boot/initrd.img root=ram");
    KEXPECT_EQ(MbBlock.Modules[1].Start, 0x300000);
    KEXPECT_EQ(MbBlock.Modules[1].End, 0x301000);
    KEXPECT_STREQ(MbBlock.Modules[1].Name, "");
}

KTEST(multiboot, modules_capped)
{
    MbBegin();
    for (ULONG i = 0; i < LOADER_MAX_MODULES + 3; i++) {
        MbTagBegin(MB_TAG_MODULE);
        MbPut32(0x100000 * (i + 1));
        MbPut32(0x100000 * (i + 1) + 0x1000);
        MbPutString("m");
        MbTagEnd();
    }
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.ModuleCount, LOADER_MAX_MODULES);
    KEXPECT_EQ(MbBlock.Modules[LOADER_MAX_MODULES - 1].Start,
               0x100000ULL * LOADER_MAX_MODULES);
}

KTEST(multiboot, acpi_old_only)
{
    ULONG tag;

    MbBegin();
    MbTagBegin(0x55);           /* an unknown tag first: offsets matter */
    MbPut32(0);
    MbTagEnd();
    tag = MbTagBegin(MB_TAG_ACPI_OLD);
    MbPutRsdp(20, 1);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.AcpiRsdpPhysical, MB_PHYSICAL + tag + 8);
    KEXPECT_TRUE(MbBytesAre(MbBlock.AcpiRsdp, 20, 1, 1));
    KEXPECT_TRUE(MbAllZero(MbBlock.AcpiRsdp + 20, sizeof(MbBlock.AcpiRsdp) - 20));
}

KTEST(multiboot, acpi_new_preferred_either_order)
{
    ULONG newTag;

    /* Old first, then new: the new one replaces it. */
    MbBegin();
    MbTagBegin(MB_TAG_ACPI_OLD);
    MbPutRsdp(20, 1);
    MbTagEnd();
    newTag = MbTagBegin(MB_TAG_ACPI_NEW);
    MbPutRsdp(36, 0x80);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.AcpiRsdpPhysical, MB_PHYSICAL + newTag + 8);
    KEXPECT_TRUE(MbBytesAre(MbBlock.AcpiRsdp, 36, 0x80, 1));

    /* New first, then old: the old one is ignored. */
    MbBegin();
    newTag = MbTagBegin(MB_TAG_ACPI_NEW);
    MbPutRsdp(36, 0x80);
    MbTagEnd();
    MbTagBegin(MB_TAG_ACPI_OLD);
    MbPutRsdp(20, 1);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_EQ(MbBlock.AcpiRsdpPhysical, MB_PHYSICAL + newTag + 8);
    KEXPECT_TRUE(MbBytesAre(MbBlock.AcpiRsdp, 36, 0x80, 1));
}

KTEST(multiboot, everything_together)
{
    ULONG acpi;

    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("test=all");
    MbTagEnd();
    MbTagBegin(MB_TAG_LOADER_NAME);
    MbPutString("GRUB");
    MbTagEnd();
    MbMmapBegin(24);
    MbMmapEntry(0x100000, 0x100000, 1);
    MbMmapEntry(0x0, 0x9F000, 1);
    MbTagEnd();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xB8000);
    MbPut32(160);
    MbPut32(80);
    MbPut32(25);
    MbPut8(16);
    MbPut8(2);
    MbPut16(0);
    MbTagEnd();
    acpi = MbTagBegin(MB_TAG_ACPI_NEW);
    MbPutRsdp(36, 0x40);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_STREQ(MbBlock.LoadOptions, "test=all");
    KEXPECT_STREQ(MbBlock.LoaderName, "GRUB");
    KEXPECT_EQ(MbBlock.RangeCount, 2);
    KEXPECT_EQ(MbBlock.Ranges[0].Base, 0);
    KEXPECT_EQ(MbBlock.Display.Type, LoaderDisplayVgaText);
    KEXPECT_EQ(MbBlock.AcpiRsdpPhysical, MB_PHYSICAL + acpi + 8);
    KEXPECT_EQ(MbBlock.BootInfoSize, MbOffset);
}

KTEST(multiboot, tags_after_end_tag_ignored)
{
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("first");
    MbTagEnd();
    MbEndTag();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("after-end");
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_STREQ(MbBlock.LoadOptions, "first");
}

/* ---- malformed blocks ------------------------------------------------------ */

KTEST(multiboot, total_size_too_small)
{
    for (ULONG declared = 0; declared < 16; declared += 4) {
        MbBegin();
        KEXPECT_EQ(MbParse(MbFinishDeclaring(declared)), STATUS_INVALID_PARAMETER);
    }
    /* 16 bytes holding a header and something that is not an end tag. */
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(16)), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, total_size_implausibly_large)
{
    MbBegin();
    MbEndTag();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(0x200000)), STATUS_INVALID_PARAMETER);
    MbBegin();
    MbEndTag();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(0xFFFFFFFF)), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, tag_size_below_header)
{
    for (ULONG size = 0; size < 8; size++) {
        MbBegin();
        MbTagBegin(MB_TAG_CMDLINE);
        MbPutString("abc");
        MbTagEndClaiming(size);
        KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);
    }
    /* An end tag with a bad size is no end tag either. */
    MbBegin();
    MbTagBegin(MB_TAG_END);
    MbTagEndClaiming(0);
    KEXPECT_EQ(MbParse(MbFinishDeclaring(16)), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, tag_runs_past_total_size)
{
    /* A command-line tag of 40 bytes in a block that says it has 32. */
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("0123456789012345678901234567890");
    MbTagEnd();
    MbEndTag();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(32)), STATUS_INVALID_PARAMETER);

    /* A tag that claims far more than the block holds. */
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("x");
    MbTagEndClaiming(0x7FFFFFF0);
    KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);

    /* An end tag that claims to be longer than what is left. */
    MbBegin();
    MbTagBegin(MB_TAG_END);
    MbTagEndClaiming(16);
    KEXPECT_EQ(MbParse(MbFinishDeclaring(16)), STATUS_INVALID_PARAMETER);

    /* An mmap tag cut by total_size in the middle of an entry. */
    MbBegin();
    MbMmapBegin(24);
    MbMmapEntry(0x0, 0x9F000, 1);
    MbMmapEntry(0x100000, 0x100000, 1);
    MbTagEnd();
    MbEndTag();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(8 + 16 + 24 + 8)), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, missing_end_tag)
{
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("no end");
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(MbRound8(MbOffset))), STATUS_INVALID_PARAMETER);

    /* total_size stops 4 bytes into where the end tag would be. */
    MbBegin();
    MbEndTag();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(12)), STATUS_INVALID_PARAMETER);
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("abc");
    MbTagEnd();
    MbEndTag();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(20)), STATUS_INVALID_PARAMETER);

    /* Padding of the last tag runs past total_size. */
    MbBegin();
    MbTagBegin(MB_TAG_CMDLINE);
    MbPutString("abc");         /* size 12, padded to 16 */
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinishDeclaring(8 + 12)), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, mmap_entry_size_too_small)
{
    ULONG entrySizes[] = {0, 1, 8, 16, 20, 23};

    for (ULONG i = 0; i < ARRAYSIZE(entrySizes); i++) {
        MbBegin();
        MbMmapBegin(entrySizes[i]);
        MbMmapEntry(0x0, 0x9F000, 1);
        MbTagEnd();
        KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);
    }
}

KTEST(multiboot, mmap_tag_too_short)
{
    /* Type 6 with only 12 bytes: no room for entry_version. */
    MbBegin();
    MbTagBegin(MB_TAG_MMAP);
    MbPut32(24);
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);
}

/*
 * entry_size near 2^32 makes "pos + entry_size" wrap around in 32 bits.
 * The mmap tag below holds no entry at all (size 16, header only), so no
 * range may come out of it: the bytes after it belong to the next tag.
 */
KTEST(multiboot, mmap_huge_entry_size_reads_nothing)
{
    static const ULONG entrySizes[] = {0xFFFFFFF0u, 0xFFFFFFF8u, 0xFFFFFFFFu};

    for (ULONG i = 0; i < ARRAYSIZE(entrySizes); i++) {
        NTSTATUS status;

        MbBegin();
        MbMmapBegin(entrySizes[i]);
        MbTagEnd();
        /* An unknown tag whose bytes would pass for an entry. */
        MbTagBegin(0x99);
        MbPut64(0x1000);        /* "Length" */
        MbPut32(1);             /* "Type" */
        MbPut32(0);
        MbPut64(0);
        MbTagEnd();
        status = MbParse(MbFinish());
        KEXPECT_TRUE(status == STATUS_SUCCESS || status == STATUS_INVALID_PARAMETER);
        KEXPECT_EQ(MbBlock.RangeCount, 0);
    }
}

KTEST(multiboot, framebuffer_tag_too_short)
{
    MbBegin();
    MbTagBegin(MB_TAG_FRAMEBUFFER);
    MbPut64(0xFD000000);
    MbPut32(4096);
    MbPut32(1024);
    MbPut32(768);               /* stops before bpp/type */
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, module_tag_too_short)
{
    MbBegin();
    MbTagBegin(MB_TAG_MODULE);
    MbPut32(0x200000);          /* no mod_end */
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);
}

KTEST(multiboot, acpi_rsdp_too_short)
{
    MbBegin();
    MbTagBegin(MB_TAG_ACPI_OLD);
    MbPutRsdp(19, 1);
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);

    MbBegin();
    MbTagBegin(MB_TAG_ACPI_NEW);
    MbPutRsdp(8, 1);
    MbTagEnd();
    KEXPECT_EQ(MbParse(MbFinish()), STATUS_INVALID_PARAMETER);
}

/* ---- overlapping memory maps --------------------------------------------------------------- */

/* Ranges sorted by base, none empty, none overlapping the next. */
static BOOLEAN MbRangesDisjoint(void)
{
    for (ULONG i = 0; i < MbBlock.RangeCount; i++) {
        if (MbBlock.Ranges[i].Length == 0)
            return FALSE;
        if (i > 0 && MbBlock.Ranges[i - 1].Base + MbBlock.Ranges[i - 1].Length >
                         MbBlock.Ranges[i].Base)
            return FALSE;
    }
    return TRUE;
}

/* The type the loader block gives Address, 0 if no range covers it. */
static ULONG MbTypeAt(ULONG64 Address)
{
    for (ULONG i = 0; i < MbBlock.RangeCount; i++)
        if (Address >= MbBlock.Ranges[i].Base &&
            Address - MbBlock.Ranges[i].Base < MbBlock.Ranges[i].Length)
            return MbBlock.Ranges[i].Type;
    return 0;
}

/*
 * Buggy firmware reports overlapping usable ranges; taken as they are, the
 * pages in both would go on the free list twice. The parser hands Mm a map
 * where no two ranges overlap, each byte keeping the most restrictive type
 * any entry gave it (usable RAM loses to everything).
 */
KTEST(multiboot, overlapping_usable_ranges_merged)
{
    MbBegin();
    MbMmapBegin(24);
    MbMmapEntry(0x100000, 0x400000, 1);         /* 1-5 MiB */
    MbMmapEntry(0x300000, 0x400000, 1);         /* 3-7 MiB: overlaps */
    MbMmapEntry(0x200000, 0x100000, 1);         /* inside both */
    MbMmapEntry(0x100000, 0x400000, 1);         /* the first again */
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_TRUE(MbRangesDisjoint());
    KASSERT_EQ(MbBlock.RangeCount, 1);
    KEXPECT_EQ(MbBlock.Ranges[0].Base, 0x100000);
    KEXPECT_EQ(MbBlock.Ranges[0].Length, 0x600000);
    KEXPECT_EQ(MbBlock.Ranges[0].Type, LoaderFree);
}

KTEST(multiboot, reserved_wins_over_usable_overlap)
{
    MbBegin();
    MbMmapBegin(24);
    MbMmapEntry(0x100000, 0x700000, 1);         /* 1-8 MiB usable */
    MbMmapEntry(0x400000, 0x100000, 2);         /* 4-5 MiB reserved inside it */
    MbMmapEntry(0x780000, 0x100000, 3);         /* 7.5-8.5 MiB ACPI, across its end */
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_TRUE(MbRangesDisjoint());
    KASSERT_EQ(MbBlock.RangeCount, 4);
    KEXPECT_EQ(MbBlock.Ranges[0].Base, 0x100000);
    KEXPECT_EQ(MbBlock.Ranges[0].Length, 0x300000);
    KEXPECT_EQ(MbBlock.Ranges[0].Type, LoaderFree);
    KEXPECT_EQ(MbBlock.Ranges[1].Base, 0x400000);
    KEXPECT_EQ(MbBlock.Ranges[1].Length, 0x100000);
    KEXPECT_EQ(MbBlock.Ranges[1].Type, LoaderReserved);
    KEXPECT_EQ(MbBlock.Ranges[2].Base, 0x500000);
    KEXPECT_EQ(MbBlock.Ranges[2].Length, 0x280000);
    KEXPECT_EQ(MbBlock.Ranges[2].Type, LoaderFree);
    KEXPECT_EQ(MbBlock.Ranges[3].Base, 0x780000);
    KEXPECT_EQ(MbBlock.Ranges[3].Length, 0x100000);
    KEXPECT_EQ(MbBlock.Ranges[3].Type, LoaderAcpiReclaim);
}

/* A length that runs past the end of the address space ends there. */
KTEST(multiboot, overlapping_range_to_end_of_address_space)
{
    MbBegin();
    MbMmapBegin(24);
    MbMmapEntry(0xFFFFFFFFFFF00000ULL, 0x200000, 2);
    MbMmapEntry(0xFFFFFFFFFFE00000ULL, 0x180000, 1);
    MbTagEnd();
    KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
    KEXPECT_TRUE(MbRangesDisjoint());
    KEXPECT_EQ(MbTypeAt(0xFFFFFFFFFFE00000ULL), LoaderFree);
    KEXPECT_EQ(MbTypeAt(0xFFFFFFFFFFEFFFFFULL), LoaderFree);
    KEXPECT_EQ(MbTypeAt(0xFFFFFFFFFFF00000ULL), LoaderReserved);
    KEXPECT_EQ(MbTypeAt(0xFFFFFFFFFFFFF000ULL), LoaderReserved);
}

/*
 * Random overlapping maps on a 64 KiB grid, checked point by point against
 * the rule: a byte is usable only if some entry says usable and none says
 * anything else; otherwise it has the largest type any entry gives it.
 */
KTEST(multiboot, random_overlapping_maps_follow_the_rule)
{
    enum { MAPS = 200, ENTRIES = 24, GRID = 0x10000, CELLS = 64 };
    ULONG64 seed = 0x9E3779B97F4A7C15ULL;

    for (ULONG map = 0; map < MAPS; map++) {
        ULONG64 base[ENTRIES], length[ENTRIES];
        ULONG type[ENTRIES];

        MbBegin();
        MbMmapBegin(24);
        for (ULONG e = 0; e < ENTRIES; e++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            base[e] = ((seed >> 33) % CELLS) * GRID;
            length[e] = (((seed >> 45) % 8) + 1) * GRID;
            type[e] = ((seed >> 20) % 3 == 0) ? 1 + (ULONG)((seed >> 24) % 5) : 1;
            MbMmapEntry(base[e], length[e], type[e]);
        }
        MbTagEnd();
        KASSERT_EQ(MbParse(MbFinish()), STATUS_SUCCESS);
        KEXPECT_TRUE(MbRangesDisjoint());
        for (ULONG c = 0; c < CELLS + 8; c++) {
            ULONG64 at = (ULONG64)c * GRID + GRID / 2;
            ULONG want = 0;
            for (ULONG e = 0; e < ENTRIES; e++)
                if (at >= base[e] && at < base[e] + length[e] && type[e] > want)
                    want = type[e];
            if (MbTypeAt(at) != want) {
                KtestFail(__FILE__, __LINE__, "map %u, address %llx: type %u, want %u", map,
                          (unsigned long long)at, MbTypeAt(at), want);
                return;
            }
        }
    }
}

/*
 * multiboot.c - turn GRUB's multiboot2 information into a loader block.
 *
 * The multiboot2 boot information is a list of 8-byte-aligned tags (memory
 * map, command line, framebuffer, modules, ACPI RSDP...) somewhere in low
 * physical memory. KiParseMultiboot validates every tag's size against the
 * block and copies what Mica needs into KeLoaderBlock (NT's name for what
 * its loader hands the kernel), so nothing later depends on the block's
 * memory staying intact: Mm may reuse it once phase 0 is over. The memory
 * map comes out sorted and, if the firmware's ranges overlap, without
 * overlaps (KiRemoveMemoryMapOverlaps).
 * The parser is hardware-free (host-tested with synthetic blocks).
 */
#include "ke_internal.h"

/* Tag types (Multiboot2 specification, section 3.6). */
#define MB2_TAG_END          0
#define MB2_TAG_CMDLINE      1
#define MB2_TAG_LOADER_NAME  2
#define MB2_TAG_MODULE       3
#define MB2_TAG_MMAP         6
#define MB2_TAG_FRAMEBUFFER  8
#define MB2_TAG_ACPI_OLD     14
#define MB2_TAG_ACPI_NEW     15

#define MB2_FB_TYPE_INDEXED  0
#define MB2_FB_TYPE_RGB      1
#define MB2_FB_TYPE_EGA_TEXT 2

#define MB2_ACPI_V1_RSDP_SIZE 20

typedef struct __attribute__((packed)) {
    ULONG Type, Size;
} MB2_TAG;

typedef struct __attribute__((packed)) {
    ULONG Type, Size, EntrySize, EntryVersion;
} MB2_TAG_MMAP_HEADER;

typedef struct __attribute__((packed)) {
    ULONG64 Base, Length;
    ULONG Type, Reserved;
} MB2_MMAP_ENTRY;

typedef struct __attribute__((packed)) {
    ULONG Type, Size;
    ULONG64 Address;
    ULONG Pitch, Width, Height;
    UCHAR Bpp, FbType;
    USHORT Reserved;
    /* colour info for MB2_FB_TYPE_RGB */
    UCHAR RedPosition, RedMaskSize, GreenPosition, GreenMaskSize, BluePosition, BlueMaskSize;
} MB2_TAG_FRAMEBUFFER_INFO;

typedef struct __attribute__((packed)) {
    ULONG Type, Size, ModStart, ModEnd;
} MB2_TAG_MODULE_INFO;

static void KiCopyString(char *Dest, SIZE_T DestSize, const UCHAR *Src, SIZE_T SrcMax)
{
    SIZE_T i;

    for (i = 0; i < SrcMax && Src[i] && i < DestSize - 1; i++)
        Dest[i] = (char)Src[i];
    Dest[i] = 0;
}

static void KiAddRange(PLOADER_PARAMETER_BLOCK Block, ULONG64 Base, ULONG64 Length, ULONG Type)
{
    ULONG i;

    if (Length == 0 || Block->RangeCount == LOADER_MAX_RANGES)
        return;
    if (Length > ~0ULL - Base)
        Length = ~0ULL - Base;          /* ends at the top of the address space */
    /* Multiboot2 types 1-5 match LOADER_MEMORY_TYPE; anything else is reserved. */
    if (Type < LoaderFree || Type > LoaderBad)
        Type = LoaderReserved;
    /* Insertion sort by base: loaders usually sort, but nothing promises it. */
    i = Block->RangeCount++;
    while (i > 0 && Block->Ranges[i - 1].Base > Base) {
        Block->Ranges[i] = Block->Ranges[i - 1];
        i--;
    }
    Block->Ranges[i].Base = Base;
    Block->Ranges[i].Length = Length;
    Block->Ranges[i].Type = Type;
}

static ULONG64 KiRangeEnd(const LOADER_MEMORY_RANGE *Range)
{
    return Range->Base + Range->Length;     /* lengths are clamped: no wrap */
}

/*
 * Firmware maps may overlap (the same RAM listed twice, a reserved hole
 * listed inside a usable range). Mm takes every usable range as it is, so
 * a page in two of them would go on the free list twice. When ranges
 * overlap, the map is rebuilt from the points where any range starts or
 * ends: each piece between two points gets the largest type of the ranges
 * covering it - usable RAM (type 1) loses to every other type, the rule
 * Linux applies to E820 maps - and neighbours of one type are joined. A
 * map without overlaps is left exactly as the loader gave it.
 */
static ULONG64 KiMapPoints[2 * LOADER_MAX_RANGES];      /* boot only, one caller at a time */
static LOADER_MEMORY_RANGE KiMapPieces[LOADER_MAX_RANGES];

static void KiRemoveMemoryMapOverlaps(PLOADER_PARAMETER_BLOCK Block)
{
    const LOADER_MEMORY_RANGE *r = Block->Ranges;
    ULONG n = Block->RangeCount, points = 0, pieces = 0, i;
    BOOLEAN overlap = FALSE;

    /* Sorted by base: if any two overlap, two neighbours do. */
    for (i = 1; i < n; i++)
        overlap |= r[i].Base < KiRangeEnd(&r[i - 1]);
    if (!overlap)
        return;

    for (i = 0; i < n; i++) {
        ULONG64 ends[2] = {r[i].Base, KiRangeEnd(&r[i])};
        for (ULONG e = 0; e < 2; e++) {     /* insert in order, once */
            ULONG j = points;
            while (j > 0 && KiMapPoints[j - 1] > ends[e])
                j--;
            if (j > 0 && KiMapPoints[j - 1] == ends[e])
                continue;
            memmove(&KiMapPoints[j + 1], &KiMapPoints[j], (points - j) * sizeof(ULONG64));
            KiMapPoints[j] = ends[e];
            points++;
        }
    }
    for (ULONG p = 0; p + 1 < points && pieces < LOADER_MAX_RANGES; p++) {
        ULONG64 start = KiMapPoints[p], end = KiMapPoints[p + 1];
        ULONG type = 0;
        for (i = 0; i < n; i++)
            if (r[i].Base <= start && start < KiRangeEnd(&r[i]) && r[i].Type > type)
                type = r[i].Type;
        if (type == 0)
            continue;                       /* a gap no range covers */
        if (pieces > 0 && KiMapPieces[pieces - 1].Type == type &&
            KiRangeEnd(&KiMapPieces[pieces - 1]) == start) {
            KiMapPieces[pieces - 1].Length += end - start;
            continue;
        }
        KiMapPieces[pieces].Base = start;
        KiMapPieces[pieces].Length = end - start;
        KiMapPieces[pieces].Type = type;
        pieces++;
    }
    /* Past LOADER_MAX_RANGES the highest pieces are dropped; with no
     * overlaps left, dropping a piece never makes other memory usable. */
    memcpy(Block->Ranges, KiMapPieces, pieces * sizeof(KiMapPieces[0]));
    Block->RangeCount = pieces;
}

NTSTATUS KiParseMultiboot(const UCHAR *Info, ULONG64 InfoPhysical, PLOADER_PARAMETER_BLOCK Block)
{
    ULONG totalSize, offset;

    memset(Block, 0, sizeof(*Block));
    totalSize = *(const ULONG *)Info;
    if (totalSize < 16 || totalSize > 1024 * 1024)
        return STATUS_INVALID_PARAMETER;
    Block->BootInfoPhysical = InfoPhysical;
    Block->BootInfoSize = totalSize;

    for (offset = 8; offset + sizeof(MB2_TAG) <= totalSize;) {
        const MB2_TAG *tag = (const MB2_TAG *)(Info + offset);
        const UCHAR *body = Info + offset + sizeof(MB2_TAG);
        ULONG bodySize;

        if (tag->Size < sizeof(MB2_TAG) || tag->Size > totalSize - offset)
            return STATUS_INVALID_PARAMETER;
        bodySize = tag->Size - sizeof(MB2_TAG);
        if (tag->Type == MB2_TAG_END) {
            KiRemoveMemoryMapOverlaps(Block);
            return STATUS_SUCCESS;
        }

        switch (tag->Type) {
        case MB2_TAG_CMDLINE:
            KiCopyString(Block->LoadOptions, sizeof(Block->LoadOptions), body, bodySize);
            break;
        case MB2_TAG_LOADER_NAME:
            KiCopyString(Block->LoaderName, sizeof(Block->LoaderName), body, bodySize);
            break;
        case MB2_TAG_MMAP: {
            const MB2_TAG_MMAP_HEADER *mm = (const MB2_TAG_MMAP_HEADER *)tag;
            ULONG pos;
            if (tag->Size < sizeof(*mm) || mm->EntrySize < sizeof(MB2_MMAP_ENTRY))
                return STATUS_INVALID_PARAMETER;
            /* Compare by subtraction: pos + EntrySize could wrap in 32 bits. */
            for (pos = sizeof(*mm); mm->EntrySize <= tag->Size - pos; pos += mm->EntrySize) {
                const MB2_MMAP_ENTRY *e = (const MB2_MMAP_ENTRY *)((const UCHAR *)tag + pos);
                KiAddRange(Block, e->Base, e->Length, e->Type);
            }
            break;
        }
        case MB2_TAG_FRAMEBUFFER: {
            const MB2_TAG_FRAMEBUFFER_INFO *fb = (const MB2_TAG_FRAMEBUFFER_INFO *)tag;
            if (tag->Size < FIELD_OFFSET(MB2_TAG_FRAMEBUFFER_INFO, RedPosition))
                return STATUS_INVALID_PARAMETER;
            Block->Display.PhysicalBase = fb->Address;
            Block->Display.Pitch = fb->Pitch;
            Block->Display.Width = fb->Width;
            Block->Display.Height = fb->Height;
            Block->Display.Bpp = fb->Bpp;
            if (fb->FbType == MB2_FB_TYPE_EGA_TEXT) {
                Block->Display.Type = LoaderDisplayVgaText;
            } else if (fb->FbType == MB2_FB_TYPE_RGB && tag->Size >= sizeof(*fb) &&
                       (fb->Bpp == 32 || fb->Bpp == 24)) {
                Block->Display.Type = LoaderDisplayLinear;
                Block->Display.RedShift = fb->RedPosition;
                Block->Display.GreenShift = fb->GreenPosition;
                Block->Display.BlueShift = fb->BluePosition;
            } else {
                Block->Display.Type = LoaderDisplayNone;    /* palette modes: serial only */
            }
            break;
        }
        case MB2_TAG_MODULE: {
            const MB2_TAG_MODULE_INFO *mod = (const MB2_TAG_MODULE_INFO *)tag;
            LOADER_MODULE *m;
            if (tag->Size < sizeof(*mod))
                return STATUS_INVALID_PARAMETER;
            if (Block->ModuleCount == LOADER_MAX_MODULES)
                break;
            m = &Block->Modules[Block->ModuleCount++];
            m->Start = mod->ModStart;
            m->End = mod->ModEnd;
            KiCopyString(m->Name, sizeof(m->Name), (const UCHAR *)(mod + 1),
                         tag->Size - sizeof(*mod));
            break;
        }
        case MB2_TAG_ACPI_OLD:
        case MB2_TAG_ACPI_NEW:
            /* Prefer the ACPI 2.0 RSDP (XSDT) when GRUB gives both. */
            if (tag->Type == MB2_TAG_ACPI_NEW || Block->AcpiRsdpPhysical == 0) {
                SIZE_T n = bodySize < sizeof(Block->AcpiRsdp) ? bodySize : sizeof(Block->AcpiRsdp);
                if (n < MB2_ACPI_V1_RSDP_SIZE)
                    return STATUS_INVALID_PARAMETER;
                memset(Block->AcpiRsdp, 0, sizeof(Block->AcpiRsdp));
                memcpy(Block->AcpiRsdp, body, n);
                Block->AcpiRsdpPhysical = InfoPhysical + offset + sizeof(MB2_TAG);
            }
            break;
        default:
            break;              /* tags Mica does not use */
        }
        offset += (tag->Size + 7) & ~7u;
    }
    /* Ran off the end without an end tag. */
    return STATUS_INVALID_PARAMETER;
}

static PCSTR KiRangeTypeName(ULONG Type)
{
    switch (Type) {
    case LoaderFree: return "usable";
    case LoaderAcpiReclaim: return "ACPI reclaimable";
    case LoaderAcpiNvs: return "ACPI NVS";
    case LoaderBad: return "bad";
    default: return "reserved";
    }
}

VOID KiPrintMemoryMap(const LOADER_PARAMETER_BLOCK *Block)
{
    ULONG64 usable = 0, highest = 0;

    DbgPrint("Memory map (%u ranges):\n", Block->RangeCount);
    for (ULONG i = 0; i < Block->RangeCount; i++) {
        const LOADER_MEMORY_RANGE *r = &Block->Ranges[i];
        DbgPrint("  %016llx-%016llx %10llu KiB %s\n", r->Base, r->Base + r->Length - 1,
                 r->Length >> 10, KiRangeTypeName(r->Type));
        if (r->Type == LoaderFree) {
            usable += r->Length;
            if (r->Base + r->Length > highest)
                highest = r->Base + r->Length;
        }
    }
    DbgPrint("Usable RAM: %llu MiB (%llu pages), highest usable address %llx\n",
             usable >> 20, usable >> PAGE_SHIFT, highest ? highest - 1 : 0);
}

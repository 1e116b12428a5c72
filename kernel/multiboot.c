/*
 * multiboot.c - turn GRUB's multiboot2 information into a loader block.
 *
 * The multiboot2 boot information is a list of 8-byte-aligned tags (memory
 * map, command line, framebuffer, modules, ACPI RSDP...) somewhere in low
 * physical memory. KiParseMultiboot validates every tag's size against the
 * block and copies what Mica needs into KeLoaderBlock (NT's name for what
 * its loader hands the kernel), so nothing later depends on the block's
 * memory staying intact: Mm may reuse it once phase 0 is over.
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
        if (tag->Type == MB2_TAG_END)
            return STATUS_SUCCESS;

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

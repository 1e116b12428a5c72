/*
 * kdcmd_lab.c - the kd> shell's teaching commands: call the API a student
 * is reading, then look at the result with !pte, !pfn, !pool, or step into
 * the call from GDB (break on the routine, type the command).
 *
 *   .alloc pool SIZE TAG [paged]   ExAllocatePoolWithTag (NonPagedPoolNx or PagedPool)
 *   .alloc contig SIZE             MmAllocateContiguousMemory (below 4 GiB)
 *   .alloc pages SIZE              MmAllocatePagesForMdlEx + MmMapLockedPagesSpecifyCache
 *   .alloc lookaside SIZE TAG      ExInitializeNPagedLookasideList, then one entry
 *                                  allocated and freed back (so !lookaside has counts)
 *   .alloc mdl SIZE                a nonpaged pool buffer described by IoAllocateMdl +
 *                                  MmBuildMdlForNonPagedPool (.free takes the MDL's address)
 *   .alloc irp STACKS              IoAllocateIrp (so !irp and dt IRP have one to show)
 *   .map PHYS SIZE CACHETYPE       MmMapIoSpace (0 noncached, 1 cached, 2 write-combined)
 *   .free ADDR                     the matching free for any of them
 *   .touch ADDR                    read a byte (a paged-pool page is demand-zeroed)
 *   .reboot, q                     reset the machine; leave QEMU
 *
 * Each allocation is remembered in a small table so that .free knows which
 * routine undoes it; the shell is one thread, so the table needs no lock.
 */
#include "kd_internal.h"
#include "../io/io.h"

#define KD_MAX_ALLOCATIONS 32
#define KD_FILL_BYTE 0x5A       /* what .alloc writes, so db shows the block is ours */
#define KD_MAX_IRP_STACKS 16

#define KD_MDL_TAG 'dmdK'     /* "Kdmd": .alloc mdl's buffers */

typedef enum _KD_ALLOCATION_KIND {
    KdPool = 1, KdContig, KdPages, KdMap, KdLookaside, KdMdl, KdIrp
} KD_ALLOCATION_KIND;

typedef struct _KD_ALLOCATION {
    PVOID Va;
    SIZE_T Size;
    KD_ALLOCATION_KIND Kind;
    ULONG Tag;
    PMDL Mdl;                   /* .alloc pages */
    PVOID Buffer;               /* .alloc mdl: what the MDL (at Va) describes */
} KD_ALLOCATION;

static KD_ALLOCATION KdpAllocations[KD_MAX_ALLOCATIONS];

static KD_ALLOCATION *KdpFreeSlot(VOID)
{
    for (ULONG i = 0; i < KD_MAX_ALLOCATIONS; i++)
        if (KdpAllocations[i].Kind == 0)
            return &KdpAllocations[i];
    return NULL;
}

static VOID KdpReportAllocation(PCSTR What, PVOID Va, SIZE_T Size)
{
    DbgPrint("%s: %016llx, %llu bytes, physical %016llx\n", What, (ULONG64)Va, (ULONG64)Size,
             (ULONG64)MmGetPhysicalAddress(Va).QuadPart);
}

static NTSTATUS KdpCmdAlloc(ULONG Argc, PCHAR Argv[])
{
    KD_ALLOCATION *slot = KdpFreeSlot();
    ULONG64 size;
    PVOID va = NULL;

    if (Argc < 3)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .alloc pool|contig|pages SIZE [TAG [paged]]");
    if (slot == NULL)
        return KdpError(STATUS_INSUFFICIENT_RESOURCES, "%u allocations outstanding: .free some",
                        KD_MAX_ALLOCATIONS);
    if (!KdpParseNumber(Argv[2], &size))
        return STATUS_INVALID_PARAMETER;
    if (size == 0 || size > (256ULL << 20))
        return KdpError(STATUS_INVALID_PARAMETER, "size must be 1 byte to 256 MiB");

    if (strcmp(Argv[1], "pool") == 0) {
        ULONG tag;
        BOOLEAN paged = Argc == 5 && strcmp(Argv[4], "paged") == 0;
        if (Argc < 4 || Argc > 5 || (Argc == 5 && !paged))
            return KdpError(STATUS_INVALID_PARAMETER, "usage: .alloc pool SIZE TAG [paged]");
        if (!KdpParseTag(Argv[3], &tag))
            return STATUS_INVALID_PARAMETER;
        va = ExAllocatePoolWithTag(paged ? PagedPool : NonPagedPoolNx, size, tag);
        if (va == NULL)
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "ExAllocatePoolWithTag failed");
        *slot = (KD_ALLOCATION){va, size, KdPool, tag, NULL, NULL};
    } else if (strcmp(Argv[1], "contig") == 0 && Argc == 3) {
        PHYSICAL_ADDRESS highest = {.QuadPart = MM_4GB - 1};
        va = MmAllocateContiguousMemory(size, highest);
        if (va == NULL)
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "MmAllocateContiguousMemory failed");
        *slot = (KD_ALLOCATION){va, size, KdContig, 0, NULL, NULL};
    } else if (strcmp(Argv[1], "pages") == 0 && Argc == 3) {
        PHYSICAL_ADDRESS low = {.QuadPart = 0}, high = {.QuadPart = -1}, skip = {.QuadPart = 0};
        PMDL mdl = MmAllocatePagesForMdlEx(low, high, skip, size, MmCached, 0);
        if (mdl == NULL)
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "MmAllocatePagesForMdlEx failed");
        if (MmGetMdlByteCount(mdl) < size) {
            MmFreePagesFromMdl(mdl);
            ExFreePool(mdl);
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "only part of the pages were found");
        }
        va = MmMapLockedPagesSpecifyCache(mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
        if (va == NULL) {
            MmFreePagesFromMdl(mdl);
            ExFreePool(mdl);
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "MmMapLockedPagesSpecifyCache failed");
        }
        DbgPrint("MDL %016llx, %llu pages\n", (ULONG64)mdl, (ULONG64)BYTES_TO_PAGES(size));
        *slot = (KD_ALLOCATION){va, size, KdPages, 0, mdl, NULL};
    } else if (strcmp(Argv[1], "lookaside") == 0 && Argc == 4) {
        PNPAGED_LOOKASIDE_LIST list;
        ULONG tag;
        PVOID entry;
        if (!KdpParseTag(Argv[3], &tag))
            return STATUS_INVALID_PARAMETER;
        if (size < LOOKASIDE_MINIMUM_BLOCK_SIZE || size > PAGE_SIZE)
            return KdpError(STATUS_INVALID_PARAMETER, "a lookaside entry is %u to %u bytes",
                            (ULONG)LOOKASIDE_MINIMUM_BLOCK_SIZE, (ULONG)PAGE_SIZE);
        /* NT wants the list head in nonpaged memory, 16-byte aligned (pool gives both). */
        list = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*list), tag);
        if (list == NULL)
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "no pool for the list head");
        ExInitializeNPagedLookasideList(list, NULL, NULL, 0, size, tag, 0);
        entry = ExAllocateFromNPagedLookasideList(list);
        if (entry != NULL)
            ExFreeToNPagedLookasideList(list, entry);
        *slot = (KD_ALLOCATION){list, size, KdLookaside, tag, NULL, NULL};
        DbgPrint("lookaside: %016llx, entries of %llu bytes, tag %s\n", (ULONG64)list, size, Argv[3]);
        return STATUS_SUCCESS;
    } else if (strcmp(Argv[1], "mdl") == 0 && Argc == 3) {
        PVOID buffer;
        PMDL mdl;
        buffer = ExAllocatePoolWithTag(NonPagedPoolNx, size, KD_MDL_TAG);
        if (buffer == NULL)
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "no nonpaged pool for the buffer");
        RtlFillMemory(buffer, size, KD_FILL_BYTE);
        mdl = IoAllocateMdl(buffer, (ULONG)size, FALSE, FALSE, NULL);
        if (mdl == NULL) {
            ExFreePoolWithTag(buffer, KD_MDL_TAG);
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "IoAllocateMdl failed");
        }
        MmBuildMdlForNonPagedPool(mdl);
        *slot = (KD_ALLOCATION){mdl, size, KdMdl, KD_MDL_TAG, NULL, buffer};
        DbgPrint("mdl: %016llx describes %016llx, %llu bytes, %llu pages\n", (ULONG64)mdl,
                 (ULONG64)buffer, size, (ULONG64)ADDRESS_AND_SIZE_TO_SPAN_PAGES(buffer, size));
        return STATUS_SUCCESS;
    } else if (strcmp(Argv[1], "irp") == 0 && Argc == 3) {
        PIRP irp;
        if (size > KD_MAX_IRP_STACKS)
            return KdpError(STATUS_INVALID_PARAMETER, "an IRP here has 1 to %u stack locations",
                            KD_MAX_IRP_STACKS);
        irp = IoAllocateIrp((CCHAR)size, FALSE);
        if (irp == NULL)
            return KdpError(STATUS_INSUFFICIENT_RESOURCES, "IoAllocateIrp failed");
        *slot = (KD_ALLOCATION){irp, size, KdIrp, 0, NULL, NULL};
        DbgPrint("irp: %016llx, %llu stack locations\n", (ULONG64)irp, size);
        return STATUS_SUCCESS;
    } else {
        return KdpError(STATUS_INVALID_PARAMETER,
                        "usage: .alloc pool|contig|pages|lookaside|mdl|irp SIZE [TAG [paged]]");
    }
    if (slot->Kind != KdPool || MmIsAddressValid(va))
        RtlFillMemory(va, size, KD_FILL_BYTE);
    KdpReportAllocation(Argv[1], va, size);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND(".alloc", KD_GROUP_TEACH, "KIND SIZE [TAG [paged]]",
           "KIND pool contig pages mdl irp lookaside, through the NT API (0x5A-filled)", KdpCmdAlloc);

static NTSTATUS KdpCmdMap(ULONG Argc, PCHAR Argv[])
{
    KD_ALLOCATION *slot = KdpFreeSlot();
    ULONG64 phys, size, cache;
    PHYSICAL_ADDRESS pa;
    PVOID va;

    if (Argc != 4)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .map PHYS SIZE CACHETYPE (0 nc, 1 cached, 2 wc)");
    if (slot == NULL)
        return KdpError(STATUS_INSUFFICIENT_RESOURCES, "%u allocations outstanding: .free some",
                        KD_MAX_ALLOCATIONS);
    if (!KdpParseNumber(Argv[1], &phys) || !KdpParseNumber(Argv[2], &size) ||
        !KdpParseNumber(Argv[3], &cache))
        return STATUS_INVALID_PARAMETER;
    if (size == 0 || size > (256ULL << 20) || cache >= MmMaximumCacheType)
        return KdpError(STATUS_INVALID_PARAMETER, "size must be 1 byte to 256 MiB, cache type 0-%u",
                        MmMaximumCacheType - 1);
    pa.QuadPart = (LONG64)phys;
    va = MmMapIoSpace(pa, size, (MEMORY_CACHING_TYPE)cache);
    if (va == NULL)
        return KdpError(STATUS_INSUFFICIENT_RESOURCES, "MmMapIoSpace refused");
    *slot = (KD_ALLOCATION){va, size, KdMap, 0, NULL, NULL};
    KdpReportAllocation("map", va, size);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND(".map", KD_GROUP_TEACH, "PHYS SIZE CACHETYPE", "MmMapIoSpace", KdpCmdMap);

static NTSTATUS KdpCmdFree(ULONG Argc, PCHAR Argv[])
{
    ULONG64 va;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .free ADDR");
    if (!KdpParseNumber(Argv[1], &va))
        return STATUS_INVALID_PARAMETER;
    for (ULONG i = 0; i < KD_MAX_ALLOCATIONS; i++) {
        KD_ALLOCATION *a = &KdpAllocations[i];
        if (a->Kind == 0 || (ULONG64)a->Va != va)
            continue;
        switch (a->Kind) {
        case KdPool: ExFreePoolWithTag(a->Va, a->Tag); break;
        case KdContig: MmFreeContiguousMemory(a->Va); break;
        case KdPages:
            MmUnmapLockedPages(a->Va, a->Mdl);
            MmFreePagesFromMdl(a->Mdl);
            ExFreePool(a->Mdl);
            break;
        case KdMap: MmUnmapIoSpace(a->Va, a->Size); break;
        case KdLookaside:
            ExDeleteNPagedLookasideList(a->Va);
            ExFreePoolWithTag(a->Va, a->Tag);
            break;
        case KdMdl:
            IoFreeMdl(a->Va);           /* built for nonpaged pool: nothing locked, nothing mapped */
            ExFreePoolWithTag(a->Buffer, a->Tag);
            break;
        case KdIrp: IoFreeIrp(a->Va); break;
        }
        DbgPrint("freed %016llx\n", va);
        a->Kind = 0;
        return STATUS_SUCCESS;
    }
    return KdpError(STATUS_INVALID_PARAMETER, "%llx was not allocated with .alloc or .map", va);
}
KD_THREAD_COMMAND(".free", KD_GROUP_TEACH, "ADDR", "free what .alloc or .map returned", KdpCmdFree);

static NTSTATUS KdpCmdTouch(ULONG Argc, PCHAR Argv[])
{
    ULONG64 va;
    volatile UCHAR value = 0;
    volatile NTSTATUS status = STATUS_SUCCESS;

    if (Argc != 2)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: .touch ADDR");
    if (!KdpParseNumber(Argv[1], &va))
        return STATUS_INVALID_PARAMETER;
    /* A kernel address that is neither mapped nor an allocated paged-pool
     * page (demand zero) would bug check: refuse it. A user address is
     * read inside __try, where NT raises an access violation instead. */
    if (va >= MM_SYSTEM_RANGE_START && !MmIsAddressValid((PVOID)va) &&
        !(MiPoolIndexOfAddress((PVOID)va) == EXP_PAGED &&
          MiIsPoolPageAllocated(EXP_PAGED, PAGE_ALIGN(va))))
        return KdpError(STATUS_ACCESS_VIOLATION,
                        "%llx is not mapped (touching it would bug check 0x50)", va);
    if (va >= MM_USER_PROBE_ADDRESS && va < MM_SYSTEM_RANGE_START)
        return KdpError(STATUS_ACCESS_VIOLATION, "%llx is not a canonical address", va);
    __try {
        value = *(volatile UCHAR *)va;
    } __except (EXCEPTION_EXECUTE_HANDLER) {
        status = GetExceptionCode();
    }
    if (!NT_SUCCESS(status))
        return KdpError(status, "reading %llx raised %08x (access violation)", va, status);
    DbgPrint("%016llx: %02x\n", va, value);
    return STATUS_SUCCESS;
}
KD_THREAD_COMMAND(".touch", KD_GROUP_TEACH, "ADDR", "read one byte (paged pool is demand-zeroed)", KdpCmdTouch);

static NTSTATUS KdpCmdReboot(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argc);
    UNREFERENCED_PARAMETER(Argv);
    DbgPrint("resetting the machine\n");
    HalpResetMachine();
}
KD_COMMAND(".reboot", KD_GROUP_SHELL, "", "reset the machine", KdpCmdReboot);

static NTSTATUS KdpCmdQuit(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argc);
    UNREFERENCED_PARAMETER(Argv);
    DbgPrint("leaving QEMU\n");
    HalpQemuExit(0x10);         /* QEMU status 33, as a passed run */
}
KD_COMMAND("q", KD_GROUP_SHELL, "", "leave QEMU (isa-debug-exit)", KdpCmdQuit);

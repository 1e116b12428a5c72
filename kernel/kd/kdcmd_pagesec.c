/*
 * kdcmd_pagesec.c - the kd> shell's !pagesec: the kernel image's pageable
 * sections (mm/pagesec.c) - each one's range, its pages by PTE state
 * (valid, transition: still in memory, on disk only), its lock count, and
 * whether it is pageable now (a PAGE section with a page file, or a
 * driver's code after MmPageEntireDriver).
 *
 * It reads the PTEs without the PFN lock: a snapshot, as a debugger's.
 */
#include "kd_internal.h"

static NTSTATUS KdpCmdPagesec(ULONG Argc, PCHAR Argv[])
{
    MI_IMAGE_SECTION_INFO info;

    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !pagesec");
    DbgPrint("%-10s %-16s %-16s %-16s %5s %5s %5s %5s %5s  %s\n", "Image", "Section", "Start", "End",
             "Pages", "Valid", "Trans", "Disk", "Locks", "Paging");
    for (ULONG i = 0; MiQueryImageSection(i, &info); i++)
        DbgPrint("%-10s %-16s %016llx %016llx %5llu %5llu %5llu %5llu %5u  %s\n", info.Image, info.Name,
                 (ULONG64)info.Start, (ULONG64)info.End,
                 ((ULONG64)info.End - (ULONG64)info.Start) >> PAGE_SHIFT, info.Valid, info.Transition,
                 info.PageFile, info.LockCount,
                 !info.Pageable ? "resident" : info.EntirePaged ? "pageable (whole driver)" : "pageable");
    if (!MiPagingEnabled)
        DbgPrint("(no page file: every section stays resident)\n");
    return STATUS_SUCCESS;
}
KD_COMMAND("!pagesec", KD_GROUP_MM, "", "the image's pageable sections: pages, locks, paging",
           KdpCmdPagesec);

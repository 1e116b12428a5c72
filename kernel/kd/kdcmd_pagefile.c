/*
 * kdcmd_pagefile.c - the kd> shell's page-file command, !pagefile: the
 * page file's disk, size, slots in use, peak and bad slots, its I/O, the
 * Standby/Modified lists and the pager's fault counts (mm/pager.c), in
 * WinDbg's !vm style (pages and Kb). Also the page-file line of !vm.
 *
 * It reads counters without the PFN lock: a snapshot, as a debugger's.
 */
#include "kd_internal.h"

static VOID KdpPfLine(PCSTR Name, ULONG64 Pages)
{
    DbgPrint("%-27s%10llu (%12llu Kb)\n", Name, Pages, Pages * (PAGE_SIZE / 1024));
}

static VOID KdpPfCount(PCSTR Name, ULONG64 Count)
{
    DbgPrint("%-27s%10llu\n", Name, Count);
}

/* !vm's first line (kdcmd_mm.c) when a page file is in use. */
BOOLEAN KdpPrintPageFileLine(VOID)
{
    if (!MiPagingEnabled)
        return FALSE;
    DbgPrint("Page File: \\Device\\Harddisk%u\\DR%u\n", MiPagingFile.DiskNumber, MiPagingFile.DiskNumber);
    DbgPrint("  Current: %10llu Kb  Free Space: %10llu Kb\n", (MiPagingFile.Size - 1) * (PAGE_SIZE / 1024),
             MiPagingFile.FreeSpace * (PAGE_SIZE / 1024));
    return TRUE;
}

static NTSTATUS KdpCmdPagefile(ULONG Argc, PCHAR Argv[])
{
    UNREFERENCED_PARAMETER(Argv);
    if (Argc != 1)
        return KdpError(STATUS_INVALID_PARAMETER, "usage: !pagefile");
    if (!MiPagingEnabled) {
        DbgPrint("Page File: none (no disk carries the page-file mark, or pagefile=off)\n");
        return STATUS_SUCCESS;
    }
    KdpPrintPageFileLine();
    KdpPfLine("Size (slots):", MiPagingFile.Size - 1);
    KdpPfLine("In use:", MiPagingFile.CurrentUsage);
    KdpPfLine("Peak use:", MiPagingFile.PeakUsage);
    KdpPfLine("Bad slots:", MiPagingFile.BadSlots);
    KdpPfLine("Standby Pages:", MmStandbyPageListHead.Total);
    KdpPfLine("Modified Pages:", MmModifiedPageListHead.Total);
    KdpPfLine("Zeroed Pages:", MmZeroedPageListHead.Total + MiZeroStockListHead.Total);
    KdpPfLine("  zero-page stock:", MiZeroStockListHead.Total);
    KdpPfCount("Reads:", MiPagingFile.Reads);
    KdpPfCount("Writes:", MiPagingFile.Writes);
    KdpPfLine("Pages written:", MiPagingFile.PagesWritten);
    KdpPfCount("Write errors:", MiPagingFile.WriteErrors);
    KdpPfCount("Demand-zero faults:", MiPagingStatistics.DemandZeroFaults);
    KdpPfCount("Soft faults:", MiPagingStatistics.SoftFaults);
    KdpPfCount("Hard faults:", MiPagingStatistics.HardFaults);
    KdpPfCount("Collided faults:", MiPagingStatistics.CollidedFaults);
    KdpPfLine("Pages trimmed:", MiPagingStatistics.PagesTrimmed);
    KdpPfLine("Standby repurposed:", MiStandbyRepurposed);
    KdpPfLine("Pages zeroed:", MiPagingStatistics.PagesZeroed);
    return STATUS_SUCCESS;
}
KD_COMMAND("!pagefile", KD_GROUP_MM, "", "the page file: slots, I/O, paging lists and faults", KdpCmdPagefile);

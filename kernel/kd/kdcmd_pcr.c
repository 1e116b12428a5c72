/*
 * kdcmd_pcr.c - kd>'s !pcr [processor]: the processor control region, in
 * WinDbg's layout.
 *
 * NT's KPCR holds the KPRCB and a few fields around it (NtTib, the IDT,
 * GDT and TSS pointers); Mica has one structure, the KPRCB at gs:[0], so
 * !pcr shows the KPCR fields NT has that Mica keeps (in the KPRCB and the
 * processor's descriptor tables) and says where the block is. It reads
 * only, without locks, so it also works broken in and after a bug check.
 */
#include "kd_internal.h"

/*
 * The GDT and TSS of Prcb's processor: its own tables, or for the boot
 * processor (whose tables are static, not in the KPRCB) what GDTR and TR
 * hold when the shell runs there. A 64-bit TSS descriptor's base is split
 * over bytes 2-4, 7 and 8-11 (SDM vol. 3A, 8.2.3).
 */
static VOID KdpDescriptorTables(PKPRCB Prcb, PULONG64 Gdt, PULONG64 Tss)
{
    struct __attribute__((packed)) { USHORT Limit; ULONG64 Base; } gdtr;
    USHORT tr;
    PUCHAR d;

    *Gdt = *Tss = 0;
    if (Prcb->Tables != NULL) {
        *Gdt = (ULONG64)Prcb->Tables->Gdt;
        *Tss = (ULONG64)&Prcb->Tables->Tss;
        return;
    }
    if (Prcb != KeGetCurrentPrcb())
        return;
    __asm__ __volatile__("sgdt %0" : "=m"(gdtr));
    __asm__ __volatile__("str %0" : "=r"(tr));
    *Gdt = gdtr.Base;
    if (tr == 0 || tr + 16u > (ULONG)gdtr.Limit + 1)
        return;
    d = (PUCHAR)(gdtr.Base + (tr & ~7u));
    *Tss = (ULONG64)d[2] | (ULONG64)d[3] << 8 | (ULONG64)d[4] << 16 | (ULONG64)d[7] << 24 |
           (ULONG64)*(ULONG *)(d + 8) << 32;
}

static NTSTATUS KdpCmdPcr(ULONG Argc, PCHAR Argv[])
{
    PKPRCB prcb;
    NTSTATUS status = KdpProcessorArgument(Argc, Argv, &prcb);
    KIRQL irql;
    ULONG64 gdt, tss;

    if (!NT_SUCCESS(status))
        return status;
    KdpDescriptorTables(prcb, &gdt, &tss);
    irql = KdpDebuggerActive() && prcb->Number == KdpContext.Processor ? KdpContext.SavedIrql
                                                                        : prcb->CurrentIrql;
    DbgPrint("KPCR for Processor %u at %016llx:\n", prcb->Number, (ULONG64)prcb);
    DbgPrint("    Major 1 Minor 1\n");
    DbgPrint("\t            SelfPcr: %016llx\n", (ULONG64)prcb->Self);
    DbgPrint("\t               Prcb: %016llx\n", (ULONG64)prcb);
    DbgPrint("\t               Irql: %016llx\n", (ULONG64)irql);
    DbgPrint("\t                GDT: %016llx\n", gdt);
    DbgPrint("\t                TSS: %016llx\n", tss);
    DbgPrint("\n");
    DbgPrint("\t      CurrentThread: %016llx\n", (ULONG64)prcb->CurrentThread);
    DbgPrint("\t         NextThread: %016llx\n", (ULONG64)prcb->NextThread);
    DbgPrint("\t         IdleThread: %016llx\n", (ULONG64)prcb->IdleThread);
    DbgPrint("\n");
    DbgPrint("\t          DpcQueue: %u queued%s\n", prcb->DpcQueueDepth,
             prcb->DpcRoutineActive ? ", a DPC running" : "");
    DbgPrint("\t             ApicId: %u%s\n", prcb->ApicId, prcb->Frozen ? "  (frozen)" : "");
    return STATUS_SUCCESS;
}
KD_COMMAND("!pcr", KD_GROUP_KERNEL, "[processor]", "a processor's control region (KPCR fields)", KdpCmdPcr);

/*
 * mp.c - starting the other processors.
 *
 * The firmware lists every processor in the ACPI MADT (local APIC and
 * x2APIC entries); the boot processor wakes each enabled one in turn with
 * INIT and a start-up IPI pointing at the trampoline (boot/trampoline.asm),
 * copied to a page below 1 MiB that is taken from the PFN database for the
 * start-up and given back afterwards. Four more pages below 1 MiB hold the
 * start-up page table: a PML4 whose upper half is the kernel's and whose
 * entry 0 maps just the trampoline page at its own address.
 *
 * Before waking a processor the boot processor prepares all it needs: a
 * KPRCB, descriptor tables and IST stacks (nonpaged pool), and an idle
 * thread with a kernel stack, which the new processor starts on. One
 * processor at a time goes through the trampoline (its hand-off slots are
 * shared); once it has left them (KiStartedProcessor), the next is woken.
 * A processor that does not arrive within KI_START_TIMEOUT_MS is reported
 * and left out; the boot goes on without it.
 *
 * The new processor then does its own part (KiSystemStartupProcessor):
 * the boot processor's CR0 and CR4, its GDT and TSS, GS -> KPRCB, the shared IDT, the PAT (identical on
 * every processor, before any WC mapping is used there), its local APIC
 * and timer; it joins KeActiveProcessors and becomes its idle thread.
 *
 * Boot options: `onecpu` (NT's /ONECPU) starts none, `numproc=N` (NT's
 * /NUMPROC) at most N processors in all.
 */
#include "ke_internal.h"
#include "../../mm/mm.h"
#include "../../mm/layout.h"
#include "../hal/acpi.h"

#define KI_START_TIMEOUT_MS     1000
#define KI_SECOND_SIPI_US       200     /* a second start-up IPI only if the first did nothing */
#define KI_STARTUP_PAGES        5       /* trampoline, PML4, PDPT, PD, PT */
#define KI_STARTUP_LOWEST       0x1000
#define KI_STARTUP_HIGHEST      0x9FFFF /* below the EBDA and the VGA hole: a valid SIPI vector */
#define KI_POOL_TAG             'prPK'
#define KI_XAPIC_MAX_ID         0xFF    /* the ICR's 8-bit destination field */

/* Page-table entry bits (SDM vol. 3A, 4.5) and the kernel's half of a PML4. */
#define PTE_PRESENT             (1ULL << 0)
#define PTE_WRITABLE            (1ULL << 1)
#define KI_PML4_KERNEL_FIRST    256
#define KI_PML4_ENTRIES         512

extern UCHAR KiTrampolineStart[], KiTrampolineEnd[], KiTrampolineGdtBase[],
    KiTrampolineJumpOffset[], KiTrampolineCr3[], KiTrampolineKernelCr3[], KiTrampolineStack[],
    KiTrampolinePrcb[], KiTrampolineEntry[], KiTrampolineLongMode[], KiTrampolineGdt[];
extern UCHAR KiStartProcessorHigh[];

static volatile PKPRCB KiStartedProcessor;      /* set by the new processor off the trampoline */
static ULONG64 KiBootCr0, KiBootCr4;            /* what the others copy (Mm's WP, PGE...) */
static volatile ULONG KiProcessorsReady;        /* processors that finished their start-up */

/* The slot at Symbol's place in the copied trampoline. */
#define KI_TRAMPOLINE_SLOT(Page, Symbol, Type) \
    ((Type *)((PUCHAR)(Page) + ((Symbol) - KiTrampolineStart)))

/* Build the start-up pages: the trampoline code and a PML4 that maps it and the kernel. */
static void KiPrepareStartupPages(PUCHAR Va, ULONG64 Physical)
{
    ULONG64 *pml4 = (ULONG64 *)(Va + 1 * PAGE_SIZE), *pdpt = (ULONG64 *)(Va + 2 * PAGE_SIZE);
    ULONG64 *pd = (ULONG64 *)(Va + 3 * PAGE_SIZE), *pt = (ULONG64 *)(Va + 4 * PAGE_SIZE);
    const ULONG64 *kernelPml4 = (const ULONG64 *)PXE_BASE;     /* the PML4, through the self-map */
    ULONG64 table = PTE_PRESENT | PTE_WRITABLE;

    memset(Va, 0, KI_STARTUP_PAGES * PAGE_SIZE);
    memcpy(Va, KiTrampolineStart, (SIZE_T)(KiTrampolineEnd - KiTrampolineStart));
    *KI_TRAMPOLINE_SLOT(Va, KiTrampolineGdtBase, ULONG) =
        (ULONG)(Physical + (ULONG64)(KiTrampolineGdt - KiTrampolineStart));
    *KI_TRAMPOLINE_SLOT(Va, KiTrampolineJumpOffset, ULONG) =
        (ULONG)(Physical + (ULONG64)(KiTrampolineLongMode - KiTrampolineStart));
    *KI_TRAMPOLINE_SLOT(Va, KiTrampolineCr3, ULONG64) = Physical + 1 * PAGE_SIZE;
    *KI_TRAMPOLINE_SLOT(Va, KiTrampolineKernelCr3, ULONG64) = __readcr3();
    *KI_TRAMPOLINE_SLOT(Va, KiTrampolineEntry, ULONG64) = (ULONG64)KiStartProcessorHigh;

    /* Identity-map the trampoline page (4 KiB: the first 2 MiB mix memory types). */
    pml4[0] = (Physical + 2 * PAGE_SIZE) | table;
    pdpt[0] = (Physical + 3 * PAGE_SIZE) | table;
    pd[0] = (Physical + 4 * PAGE_SIZE) | table;
    pt[Physical >> PAGE_SHIFT] = Physical | PTE_PRESENT;       /* read-only, executable */
    /* The kernel's half, shared: the same PDPTs, so the image and stacks are there. */
    for (ULONG i = KI_PML4_KERNEL_FIRST; i < KI_PML4_ENTRIES; i++)
        pml4[i] = kernelPml4[i];
}

/* A new processor's KPRCB, tables, IST stacks and idle thread; NULL if memory ran out. */
static PKPRCB KiAllocateProcessor(ULONG Number, ULONG ApicId)
{
    PKPRCB prcb = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(KPRCB), KI_POOL_TAG);
    PKI_PROCESSOR_TABLES tables = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*tables),
                                                        KI_POOL_TAG);
    PUCHAR ist = ExAllocatePoolWithTag(NonPagedPoolNx, (KI_IST_COUNT - 1) * KI_IST_STACK_SIZE,
                                       KI_POOL_TAG);
    PKTHREAD idle = KiCreateIdleThread(Number);

    if (prcb == NULL || tables == NULL || ist == NULL || idle == NULL) {
        if (prcb)
            ExFreePoolWithTag(prcb, KI_POOL_TAG);
        if (tables)
            ExFreePoolWithTag(tables, KI_POOL_TAG);
        if (ist)
            ExFreePoolWithTag(ist, KI_POOL_TAG);
        if (idle)
            KiDeleteIdleThread(idle);
        return NULL;
    }
    memset(prcb, 0, sizeof(*prcb));
    memset(tables, 0, sizeof(*tables));
    prcb->Number = Number;
    prcb->ApicId = ApicId;
    prcb->Tables = tables;
    for (ULONG i = 1; i < KI_IST_COUNT; i++)
        prcb->IstStacks[i] = ist + (i - 1) * KI_IST_STACK_SIZE;
    prcb->IdleThread = idle;
    prcb->CurrentThread = idle;
    return prcb;
}

/* INIT, start-up IPI, and a second one if the processor did not move; TRUE once it left the trampoline. */
static BOOLEAN KiWakeProcessor(PKPRCB Prcb, ULONG64 TrampolinePhysical)
{
    ULONG64 start, limit = KeTimeStampFrequency / 1000 * KI_START_TIMEOUT_MS;

    KiStartedProcessor = NULL;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    /* INIT first, always: firmware leaves processors halted or in a loop of
     * its own, not waiting for a start-up IPI. Modern processors need no
     * 10 ms pause after INIT (Intel family 6+, AMD 0Fh+, and QEMU). */
    HalpApicSendInit(Prcb->ApicId);
    HalpApicSendStartup(Prcb->ApicId, (ULONG)(TrampolinePhysical >> PAGE_SHIFT));
    KeStallExecutionProcessor(KI_SECOND_SIPI_US);
    if (KiStartedProcessor != Prcb)
        HalpApicSendStartup(Prcb->ApicId, (ULONG)(TrampolinePhysical >> PAGE_SHIFT));
    start = KeReadTimeStampCounter();
    while (KiStartedProcessor != Prcb && KeReadTimeStampCounter() - start < limit)
        __asm__ __volatile__("pause");
    return KiStartedProcessor == Prcb;
}

static ULONG KiProcessorLimit(void)
{
    ULONG64 n;

    if (KeQueryBootOption("onecpu", NULL, 0))
        return 1;
    if (KeQueryBootOptionNumber("numproc", &n) && n >= 1)
        return n < MAXIMUM_PROCESSORS ? (ULONG)n : MAXIMUM_PROCESSORS;
    return MAXIMUM_PROCESSORS;
}

static PUCHAR KiStartupPages;            /* KI_STARTUP_PAGES below 640 KiB, until start-up ends */

/*
 * Right after Mm's phase 0, before anything else can take the few pages
 * below 640 KiB: the start-up pages (a SIPI can only point below 1 MiB).
 */
VOID KiReserveStartupPages(VOID)
{
    PHYSICAL_ADDRESS low, high, none;

    low.QuadPart = KI_STARTUP_LOWEST;
    high.QuadPart = KI_STARTUP_HIGHEST;
    none.QuadPart = 0;
    KiStartupPages = MmAllocateContiguousMemorySpecifyCache(KI_STARTUP_PAGES * PAGE_SIZE, low,
                                                            high, none, MmCached);
}

VOID KiStartOtherProcessors(VOID)
{
    PUCHAR page = KiStartupPages;
    ULONG64 physical;
    ULONG limit = KiProcessorLimit(), number = 1, self = KeGetCurrentPrcb()->ApicId;
    ULONG wanted = 0;
    ULONG64 start;

    for (ULONG i = 0; i < HalpAcpiInfo.ProcessorCount; i++)
        if (HalpAcpiInfo.Processors[i].Enabled && HalpAcpiInfo.Processors[i].ApicId != self)
            wanted++;
    if (wanted == 0 || limit == 1 || page == NULL) {
        DbgPrint("Ke: 1 processor%s\n", wanted == 0 ? ""
                                       : limit == 1 ? " (onecpu / numproc=1)"
                                                    : ": no free pages below 640 KiB for the start-up code");
        goto done;
    }
    physical = (ULONG64)MmGetPhysicalAddress(page).QuadPart;
    KiPrepareStartupPages(page, physical);
    KiBootCr0 = __readcr0();
    KiBootCr4 = __readcr4();

    for (ULONG i = 0; i < HalpAcpiInfo.ProcessorCount && number < limit; i++) {
        ULONG apicId = HalpAcpiInfo.Processors[i].ApicId;
        PKPRCB prcb;

        if (!HalpAcpiInfo.Processors[i].Enabled || apicId == self)
            continue;
        /* Mica drives the local APIC in xAPIC mode, whose ICR names at most
         * APIC ID 255; a larger one (an x2APIC entry) cannot be woken. */
        if (apicId > KI_XAPIC_MAX_ID) {
            DbgPrint("Ke: processor with x2APIC ID %u cannot be reached in xAPIC mode: left out\n",
                     apicId);
            continue;
        }
        prcb = KiAllocateProcessor(number, apicId);
        if (prcb == NULL) {
            DbgPrint("Ke: no memory for processor %u (APIC %u): left out\n", number, apicId);
            break;
        }
        *KI_TRAMPOLINE_SLOT(page, KiTrampolineStack, ULONG64) = prcb->IdleThread->StackBase;
        *KI_TRAMPOLINE_SLOT(page, KiTrampolinePrcb, ULONG64) = (ULONG64)prcb;
        if (!KiWakeProcessor(prcb, physical)) {
            /* INIT again: it waits for a start-up IPI that never comes, instead
             * of running a trampoline page that is given back below. Its
             * KPRCB and stacks stay allocated, in case it is on its way. */
            HalpApicSendInit(apicId);
            DbgPrint("Ke: processor with APIC ID %u did not start within %u ms: left out\n",
                     apicId, KI_START_TIMEOUT_MS);
            continue;
        }
        number++;
    }

    /* Wait until every started processor has finished its own start-up. */
    start = KeReadTimeStampCounter();
    while (KiProcessorsReady < number - 1 &&
           KeReadTimeStampCounter() - start < KeTimeStampFrequency / 1000 * KI_START_TIMEOUT_MS)
        __asm__ __volatile__("pause");
    KeNumberProcessors = (CCHAR)RtlNumberOfSetBitsUlongPtr(KeActiveProcessors);
    DbgPrint("Ke: %u processors (MADT lists %u enabled)\n", (ULONG)KeNumberProcessors,
             wanted + 1);
done:
    if (page != NULL)
        MmFreeContiguousMemory(page);
    KiStartupPages = NULL;
}

/*
 * The first C code of a new processor, on its idle thread's stack, with
 * interrupts off and the kernel's page tables.
 */
VOID KiSystemStartupProcessor(PKPRCB Prcb)
{
    /* The boot processor's control bits (Mm turned on global pages there). */
    __writecr4(KiBootCr4);
    __asm__ __volatile__("mov %0, %%cr0" : : "r"(KiBootCr0) : "memory");
    KiInitializeProcessorTables(Prcb->Tables, Prcb->IstStacks, Prcb->IdleThread->StackBase);
    KiInitializeProcessorBlock(Prcb, Prcb->Number);
    KiWriteCr8(HIGH_LEVEL);
    KiLoadIdt();
    /* Off the trampoline: the boot processor may reuse its slots. */
    __atomic_store_n(&KiStartedProcessor, Prcb, __ATOMIC_RELEASE);

    MiInitializePat();
    HalpInitializeApicProcessor();
    if (HalpApicGetId() != Prcb->ApicId)
        DbgPrint("Ke: processor %u has APIC ID %u, the MADT said %u\n", Prcb->Number,
                 HalpApicGetId(), Prcb->ApicId);
    Prcb->ApicId = HalpApicGetId();
    KiProcessorBlock[Prcb->Number] = Prcb;
    HalpInitializeClockProcessor();
    __atomic_or_fetch(&KeActiveProcessors, AFFINITY_MASK(Prcb->Number), __ATOMIC_SEQ_CST);

    KiWriteCr8(PASSIVE_LEVEL);
    _enable();
    KiProcessorIdleReady();
    __atomic_add_fetch(&KiProcessorsReady, 1, __ATOMIC_SEQ_CST);
    KiIdleLoop();
}

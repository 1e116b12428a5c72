/*
 * start.c - KiSystemStartup: from the 64-bit entry stub to "Mica ready".
 *
 * boot/entry.asm arrives here on the boot stack with the physical address
 * of the multiboot2 information. Phase 0 brings up, in order: the serial
 * console (so everything after can report), the GDT/TSS, the KPRCB (GS)
 * and the IDT (so faults are reported instead of resetting the machine),
 * the loader block and the command line, the screen console, the TSC
 * calibration, and the
 * memory manager's phase 0 (Mica's own page tables, the PFN database),
 * then the interrupt machinery: ACPI tables, local APIC and I/O APIC, the
 * initial and idle threads, the clock, the system time from the RTC;
 * interrupts are enabled last.
 * Then Mica prints "Mica ready" and offers the boot to the start-up tasks
 * (test=PATTERN runs tests, bench=PATTERN runs benchmarks: see
 * KI_STARTUP_TASK); when none takes it, the kd> shell starts on COM1
 * (kernel/kd/kdshell.c) and the initial thread idles.
 */
#include "ke_internal.h"
#include "../../mm/mm.h"
#include "../hal/acpi.h"
#include "../io/io.h"

#define MB2_BOOTLOADER_MAGIC 0x36D76289

static LOADER_PARAMETER_BLOCK KiLoaderBlock;
PLOADER_PARAMETER_BLOCK KeLoaderBlock = &KiLoaderBlock;
ULONG64 KiReadyTsc;
BOOLEAN KiMmInitialized;
extern const KI_STARTUP_TASK __start_ki_startup_tasks[], __stop_ki_startup_tasks[];


/* With nothing else to do, the initial thread waits for ever; the idle thread halts. */
static __attribute__((noreturn)) void KiWaitForever(void)
{
    KEVENT never;

    KeInitializeEvent(&never, NotificationEvent, FALSE);
    for (;;)
        KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, NULL);
}

VOID KiSystemStartup(ULONG64 BootInfoPhysical, ULONG Magic)
{
    NTSTATUS status;
    char kd[16];

    KiSerialInitialize();
    KiInitializeGdt();
    KiInitializePrcb();                 /* GS -> KPRCB: IRQL code reads it */
    KiInitializeIdt();

    /* The early tables identity-map the low 4 GiB, where GRUB leaves the info. */
    status = KiParseMultiboot((const UCHAR *)BootInfoPhysical, BootInfoPhysical, KeLoaderBlock);
    if (Magic != MB2_BOOTLOADER_MAGIC || !NT_SUCCESS(status)) {
        DbgPrint("Mica: the multiboot2 information at %llx is malformed\n", BootInfoPhysical);
        KeBugCheckEx(PHASE0_INITIALIZATION_FAILED, (ULONG_PTR)status, BootInfoPhysical, Magic, 0);
    }
    KiSetCommandLine(KeLoaderBlock->LoadOptions);
    KiConsoleInitialize();

    DbgPrint("Mica x86-64 teaching kernel, loaded by %s\n",
             KeLoaderBlock->LoaderName[0] ? KeLoaderBlock->LoaderName : "an unknown loader");
    DbgPrint("Command line: %s\n", KeGetCommandLine());
    KiPrintMemoryMap(KeLoaderBlock);
    for (ULONG i = 0; i < KeLoaderBlock->ModuleCount; i++)
        DbgPrint("Module %u: %llx-%llx %s\n", i, KeLoaderBlock->Modules[i].Start,
                 KeLoaderBlock->Modules[i].End, KeLoaderBlock->Modules[i].Name);
    if (KeLoaderBlock->Display.Type != LoaderDisplayNone)
        DbgPrint("Display: %s %ux%u at %llx\n",
                 KeLoaderBlock->Display.Type == LoaderDisplayVgaText ? "VGA text" : "framebuffer",
                 KeLoaderBlock->Display.Width, KeLoaderBlock->Display.Height,
                 KeLoaderBlock->Display.PhysicalBase);

    HalpCalibrateTimeStampCounter();
    DbgPrint("TSC: %llu Hz\n", KeTimeStampFrequency);

    MmInitSystem(0);
    KiMmInitialized = TRUE;
    KiReserveStartupPages();            /* below 640 KiB, before anyone else takes them */

    /* Interrupts: ACPI tables, the local APIC and I/O APIC, threads, the clock. */
    HalpInitializeAcpi();
    HalpInitializePciConfig();          /* ECAM from the MCFG, or ports */
    KiInitializeInterrupts();
    HalpInitializeApic();
    HalpInitializeIoApic();
    KiInitializeThreading();
    HalpInitializeClock();
    HalpInitializeSystemTime();         /* the RTC; needs interrupt time and the FADT */
    _enable();
    KiStartOtherProcessors();
    if (KeQueryBootOption("kd", kd, sizeof(kd)) && strcmp(kd, "break") == 0)
        KdEnterDebugger(NULL, 0, 0, KeGetCurrentIrql(), KD_REASON_BOOT);   /* KD's -b */
    IoInitSystem();                     /* phase 1: worker threads, built-in drivers */
    MmInitSystem(2);                    /* the page file (on a disk the drivers found) */

    KiReadyTsc = KeReadTimeStampCounter();
    DbgPrint("Mica ready (%llu cycles since the 64-bit entry)\n", KiReadyTsc - KiBootTsc);

    for (const KI_STARTUP_TASK *t = __start_ki_startup_tasks; t < __stop_ki_startup_tasks; t++)
        if (t->Routine())
            HalpQemuExit(0x10);
    KdStartShell();                     /* no task took the boot: a person did */
    KiWaitForever();
}

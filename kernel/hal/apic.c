/*
 * apic.c - the local APIC (Hal): the interrupt controller of this processor.
 *
 * Every interrupt reaches the processor through its local APIC, which
 * holds it off while the task priority (CR8, i.e. the IRQL) is not below
 * the vector's class, and wants an end-of-interrupt write when the handler
 * is done. The LAPIC also has the timer that drives the clock (clock.c)
 * and the interrupt-command register through which processors interrupt
 * each other (IPIs, and INIT/start-up to wake them: mp.c).
 *
 * The legacy 8259 PICs are remapped away from the exception vectors and
 * masked: with APIC routing they must stay silent. Register offsets and
 * bits are from the SDM (vol. 3A, chapter 11).
 */
#include "../ke/ke_internal.h"
#include "../../mm/mm.h"

#define MSR_IA32_APIC_BASE      0x1B
#define APIC_BASE_GLOBAL_ENABLE (1ULL << 11)
#define APIC_BASE_ADDRESS_MASK  0x000FFFFFFFFFF000ULL

#define LAPIC_ID            0x020
#define LAPIC_VERSION       0x030
#define LAPIC_TPR           0x080
#define LAPIC_EOI           0x0B0
#define LAPIC_SVR           0x0F0
#define LAPIC_ESR           0x280
#define LAPIC_ICR_LOW       0x300
#define LAPIC_ICR_HIGH      0x310
#define LAPIC_LVT_TIMER     0x320
#define LAPIC_LVT_LINT0     0x350
#define LAPIC_LVT_LINT1     0x360
#define LAPIC_LVT_ERROR     0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE  0x3E0

#define SVR_APIC_ENABLE     (1u << 8)
#define LVT_MASKED          (1u << 16)
#define LVT_TIMER_PERIODIC  (1u << 17)
#define LVT_DELIVERY_NMI    (4u << 8)
#define TIMER_DIVIDE_BY_16  0x3
#define ICR_DELIVERY_FIXED  (0u << 8)
#define ICR_DELIVERY_NMI    (4u << 8)
#define ICR_DELIVERY_INIT   (5u << 8)
#define ICR_DELIVERY_STARTUP (6u << 8)
#define ICR_SEND_PENDING    (1u << 12)
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_TRIGGER_LEVEL   (1u << 15)
#define ICR_DEST_SELF       (1u << 18)
#define ICR_DEST_ALL_BUT_SELF (3u << 18)
#define ICR_DESTINATION_SHIFT 24        /* in ICR_HIGH: the physical APIC ID */
#define LAPIC_ID_SHIFT      24

/* 8259 programming (ICW1-4) and ports. */
#define PIC1_COMMAND 0x20
#define PIC1_DATA    0x21
#define PIC2_COMMAND 0xA0
#define PIC2_DATA    0xA1
#define ICW1_INIT_ICW4 0x11
#define ICW4_8086      0x01
#define PIC_MASK_ALL   0xFF
#define PIC1_VECTOR_BASE 0x20
#define PIC2_VECTOR_BASE 0x28

static volatile ULONG *HalpLocalApic;
ULONG64 HalpLocalApicPhysical;

static inline ULONG HalpApicRead(ULONG Register)
{
    return HalpLocalApic[Register / 4];
}

static inline void HalpApicWrite(ULONG Register, ULONG Value)
{
    HalpLocalApic[Register / 4] = Value;
}

static void HalpDisableLegacyPic(void)
{
    __outbyte(PIC1_COMMAND, ICW1_INIT_ICW4);
    __outbyte(PIC2_COMMAND, ICW1_INIT_ICW4);
    __outbyte(PIC1_DATA, PIC1_VECTOR_BASE);
    __outbyte(PIC2_DATA, PIC2_VECTOR_BASE);
    __outbyte(PIC1_DATA, 4);            /* slave on IRQ2 */
    __outbyte(PIC2_DATA, 2);
    __outbyte(PIC1_DATA, ICW4_8086);
    __outbyte(PIC2_DATA, ICW4_8086);
    __outbyte(PIC1_DATA, PIC_MASK_ALL);
    __outbyte(PIC2_DATA, PIC_MASK_ALL);
}

/* This processor's local APIC: TPR open, LINTs and timer masked, enabled. */
VOID HalpInitializeApicProcessor(VOID)
{
    HalpApicWrite(LAPIC_TPR, 0);        /* CR8 governs from here on */
    HalpApicWrite(LAPIC_LVT_TIMER, LVT_MASKED);
    HalpApicWrite(LAPIC_LVT_LINT0, LVT_MASKED);
    HalpApicWrite(LAPIC_LVT_LINT1, LVT_DELIVERY_NMI);
    HalpApicWrite(LAPIC_LVT_ERROR, LVT_MASKED);
    HalpApicWrite(LAPIC_ESR, 0);
    HalpApicWrite(LAPIC_SVR, SVR_APIC_ENABLE | KI_VECTOR_SPURIOUS);
    HalpApicEoi();
}

VOID HalpInitializeApic(VOID)
{
    ULONG64 base = __readmsr(MSR_IA32_APIC_BASE);
    PHYSICAL_ADDRESS pa;

    HalpDisableLegacyPic();
    __writemsr(MSR_IA32_APIC_BASE, base | APIC_BASE_GLOBAL_ENABLE);
    HalpLocalApicPhysical = base & APIC_BASE_ADDRESS_MASK;
    pa.QuadPart = (LONGLONG)HalpLocalApicPhysical;
    HalpLocalApic = MmMapIoSpace(pa, PAGE_SIZE, MmNonCached);
    if (HalpLocalApic == NULL)
        KeBugCheckEx(PHASE0_INITIALIZATION_FAILED, STATUS_INSUFFICIENT_RESOURCES, 0, 0, 0);
    HalpInitializeApicProcessor();
    KeGetCurrentPrcb()->ApicId = HalpApicGetId();
    DbgPrint("Hal: local APIC %u (version %x) at %llx\n", KeGetCurrentPrcb()->ApicId,
             HalpApicRead(LAPIC_VERSION) & 0xFF, HalpLocalApicPhysical);
}

/* Every processor's local APIC answers at the same physical address (each sees its own). */
ULONG HalpApicGetId(VOID)
{
    return HalpApicRead(LAPIC_ID) >> LAPIC_ID_SHIFT;
}

/*
 * Write the ICR: destination first, then the low half, which sends. The
 * two writes must not be split by an interrupt whose handler sends an IPI
 * of its own (it would overwrite the destination), so interrupts are off
 * across them; then wait until the APIC has accepted the message, so the
 * next sender finds the register free (xAPIC; SDM vol. 3A, 11.6.1).
 */
static void HalpApicSendIcr(ULONG Destination, ULONG Low)
{
    ULONG64 flags = __readeflags();

    _disable();
    HalpApicWrite(LAPIC_ICR_HIGH, Destination << ICR_DESTINATION_SHIFT);
    HalpApicWrite(LAPIC_ICR_LOW, Low);
    while (HalpApicRead(LAPIC_ICR_LOW) & ICR_SEND_PENDING)
        __asm__ __volatile__("pause");
    if (flags & EFLAGS_IF_MASK)
        _enable();
}

VOID HalpApicSendIpi(ULONG ApicId, ULONG Vector)
{
    HalpApicSendIcr(ApicId, ICR_LEVEL_ASSERT | ICR_DELIVERY_FIXED | Vector);
}

/* An NMI to every other processor: it arrives whatever their IRQL or IF. */
VOID HalpApicSendNmiToOthers(VOID)
{
    HalpApicSendIcr(0, ICR_DEST_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_NMI);
}

/* INIT (assert, then de-assert, level-triggered as the SDM's MP sequence sends it). */
VOID HalpApicSendInit(ULONG ApicId)
{
    HalpApicWrite(LAPIC_ESR, 0);
    HalpApicSendIcr(ApicId, ICR_TRIGGER_LEVEL | ICR_LEVEL_ASSERT | ICR_DELIVERY_INIT);
    HalpApicSendIcr(ApicId, ICR_TRIGGER_LEVEL | ICR_DELIVERY_INIT);
}

/* A start-up IPI: the processor starts in real mode at PageNumber * 4096. */
VOID HalpApicSendStartup(ULONG ApicId, ULONG PageNumber)
{
    HalpApicWrite(LAPIC_ESR, 0);
    HalpApicSendIcr(ApicId, ICR_LEVEL_ASSERT | ICR_DELIVERY_STARTUP | PageNumber);
}

VOID HalpApicEoi(VOID)
{
    HalpApicWrite(LAPIC_EOI, 0);
}

VOID HalpApicSendSelfIpi(ULONG Vector)
{
    HalpApicSendIcr(0, ICR_DEST_SELF | ICR_LEVEL_ASSERT | ICR_DELIVERY_FIXED | Vector);
}

VOID HalpRequestSelfInterrupt(ULONG Vector)
{
    HalpApicSendSelfIpi(Vector);
}

/* LAPIC timer ticks (divide by 16) per millisecond, measured with the TSC. */
ULONG HalpApicTimerTicksPerMs(VOID)
{
    ULONG64 start, wait = KeTimeStampFrequency / 100;     /* 10 ms */
    ULONG remaining;

    HalpApicWrite(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    HalpApicWrite(LAPIC_LVT_TIMER, LVT_MASKED);
    HalpApicWrite(LAPIC_TIMER_INITIAL, 0xFFFFFFFF);
    start = KeReadTimeStampCounter();
    while (KeReadTimeStampCounter() - start < wait)
        ;
    remaining = HalpApicRead(LAPIC_TIMER_CURRENT);
    HalpApicWrite(LAPIC_TIMER_INITIAL, 0);
    return (0xFFFFFFFF - remaining) / 10;
}

VOID HalpApicStartPeriodicTimer(ULONG Vector, ULONG InitialCount)
{
    HalpApicWrite(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    HalpApicWrite(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | Vector);
    HalpApicWrite(LAPIC_TIMER_INITIAL, InitialCount);
}

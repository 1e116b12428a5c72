/*
 * rtc.c - the CMOS real-time clock: the date and time at boot, which
 * become the system time (Hal).
 *
 * The PC's RTC (an MC146818 and its descendants) keeps the date and time
 * in registers of the 128-byte CMOS RAM, reached by writing a register
 * number to port 0x70 and reading port 0x71. Once a second it updates
 * them, and while it does (status register A's UIP bit, set 244 us before
 * the update starts) a read can see a half-updated time: 12:59:59 read as
 * 12:00:59, say. So: wait for UIP to clear, read all fields, and do it
 * again until two reads in a row agree. Status register B says how the
 * fields are coded (rtctime.c decodes them); the FADT's Century field, if
 * nonzero, is the CMOS register that holds the century.
 *
 * The RTC is read once, at boot. From then on the system time is the
 * interrupt time plus a fixed bias (clock.c), as NT keeps it between
 * clock adjustments; Mica never writes the RTC.
 */
#include "../ke/ke_internal.h"
#include "acpi.h"
#include "../../mm/mm.h"

#define CMOS_ADDRESS_PORT    0x70
#define CMOS_DATA_PORT       0x71
#define RTC_SECONDS          0x00
#define RTC_MINUTES          0x02
#define RTC_HOURS            0x04
#define RTC_DAY_OF_MONTH     0x07
#define RTC_MONTH            0x08
#define RTC_YEAR             0x09
#define RTC_STATUS_A         0x0A
#define RTC_STATUS_B         0x0B
#define RTC_STATUS_A_UIP     0x80       /* update in progress */
#define RTC_UIP_TIMEOUT_US   10000      /* an update takes under 2 ms */
#define RTC_STABLE_READS     10         /* attempts at two equal reads */
#define FADT_CENTURY_OFFSET  108        /* byte: CMOS index of the century, 0 = none */

static KSPIN_LOCK HalpCmosLock;

static UCHAR HalpReadCmos(UCHAR Register)
{
    __outbyte(CMOS_ADDRESS_PORT, Register);
    return __inbyte(CMOS_DATA_PORT);
}

/* FALSE if UIP stayed set (no RTC, or a broken one). */
static BOOLEAN HalpWaitForRtcUpdate(void)
{
    ULONG64 start = KeReadTimeStampCounter();
    ULONG64 limit = KeTimeStampFrequency / 1000000 * RTC_UIP_TIMEOUT_US;

    while (HalpReadCmos(RTC_STATUS_A) & RTC_STATUS_A_UIP)
        if (KeReadTimeStampCounter() - start > limit)
            return FALSE;
    return TRUE;
}

static BOOLEAN HalpReadRtcOnce(PHALP_RTC_REGISTERS Rtc, UCHAR CenturyRegister)
{
    if (!HalpWaitForRtcUpdate())
        return FALSE;
    Rtc->Second = HalpReadCmos(RTC_SECONDS);
    Rtc->Minute = HalpReadCmos(RTC_MINUTES);
    Rtc->Hour = HalpReadCmos(RTC_HOURS);
    Rtc->Day = HalpReadCmos(RTC_DAY_OF_MONTH);
    Rtc->Month = HalpReadCmos(RTC_MONTH);
    Rtc->Year = HalpReadCmos(RTC_YEAR);
    Rtc->HasCentury = CenturyRegister != 0;
    Rtc->Century = CenturyRegister != 0 ? HalpReadCmos(CenturyRegister) : 0;
    Rtc->StatusB = HalpReadCmos(RTC_STATUS_B);
    return TRUE;
}

static BOOLEAN HalpSameRtc(const HALP_RTC_REGISTERS *A, const HALP_RTC_REGISTERS *B)
{
    return A->Second == B->Second && A->Minute == B->Minute && A->Hour == B->Hour &&
           A->Day == B->Day && A->Month == B->Month && A->Year == B->Year &&
           A->Century == B->Century && A->StatusB == B->StatusB;
}

/* Two reads in a row that agree; FALSE if the RTC never held still. */
static BOOLEAN HalpReadRtc(PHALP_RTC_REGISTERS Rtc, UCHAR CenturyRegister)
{
    HALP_RTC_REGISTERS again;
    KIRQL old;
    BOOLEAN ok = FALSE;

    KeAcquireSpinLock(&HalpCmosLock, &old);
    if (HalpReadRtcOnce(Rtc, CenturyRegister)) {
        for (ULONG i = 0; i < RTC_STABLE_READS && !ok; i++) {
            if (!HalpReadRtcOnce(&again, CenturyRegister))
                break;
            ok = HalpSameRtc(Rtc, &again);
            *Rtc = again;
        }
    }
    KeReleaseSpinLock(&HalpCmosLock, old);
    return ok;
}

/* The FADT's Century byte, or 0 when there is no FADT or no century register. */
static UCHAR HalpRtcCenturyRegister(void)
{
    ULONG64 physical;
    ULONG length;
    PHYSICAL_ADDRESS pa;
    PUCHAR fadt;
    UCHAR century;

    if (!HalpAcpiFindTable("FACP", &physical, &length) || length <= FADT_CENTURY_OFFSET)
        return 0;
    pa.QuadPart = (LONGLONG)physical;
    fadt = MmMapIoSpace(pa, length, MmCached);  /* ACPI tables are write-back RAM */
    if (fadt == NULL)
        return 0;
    century = fadt[FADT_CENTURY_OFFSET];
    MmUnmapIoSpace(fadt, length);
    return century;
}

/* After the clock starts (interrupt time runs), before anyone asks the time. */
VOID HalpInitializeSystemTime(VOID)
{
    HALP_RTC_REGISTERS rtc;
    TIME_FIELDS fields;
    LARGE_INTEGER time;
    ULONGLONG interruptTime;

    KeInitializeSpinLock(&HalpCmosLock);
    if (!HalpReadRtc(&rtc, HalpRtcCenturyRegister()) || !HalpRtcToTimeFields(&rtc, &fields)) {
        DbgPrint("Hal: no usable real-time clock; the system time starts at 1601-01-01\n");
        return;
    }
    interruptTime = KeQueryInterruptTime();
    RtlTimeFieldsToTime(&fields, &time);
    KiSetSystemTimeBias(time.QuadPart - (LONGLONG)interruptTime);
    DbgPrint("Hal: RTC %04d-%02d-%02d %02d:%02d:%02d (status B %02x%s)\n", fields.Year,
             fields.Month, fields.Day, fields.Hour, fields.Minute, fields.Second, rtc.StatusB,
             rtc.HasCentury ? ", century register" : "");
}

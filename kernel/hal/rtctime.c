/*
 * rtctime.c - calendar arithmetic: NT's system time (100 ns units since
 * 1 January 1601) to and from TIME_FIELDS, and the CMOS real-time clock's
 * registers to TIME_FIELDS. Hardware-free: the host tests run it under
 * ASan/UBSan (tests/unit/test_rtctime.c); rtc.c reads the registers.
 *
 * Why 1601: the Gregorian calendar repeats every 400 years (146097 days),
 * and 1601 starts such a cycle, so the leap days before year Y are just
 * n/4 - n/100 + n/400 with n = Y - 1601. 1 January 1601 was a Monday.
 *
 * The RTC keeps each field either in BCD (0x59 = 59) or in binary, and the
 * hour either as 0-23 or as 1-12 with bit 7 meaning p.m. (12 a.m. is
 * midnight); status register B says which. Most RTCs have no century
 * register unless the FADT names one; then two-digit years 80-99 are taken
 * as 1980-1999 (no PC clock is older) and 00-79 as 2000-2079.
 */
#include "../ke/ke_internal.h"

#define HNS_PER_MS        10000LL           /* 100 ns units per millisecond */
#define MS_PER_DAY        86400000LL
#define DAYS_PER_400Y     146097
#define DAYS_PER_100Y     36524             /* a century without its leap century year */
#define DAYS_PER_4Y       1461
#define DAYS_PER_Y        365
#define EPOCH_YEAR        1601
#define EPOCH_WEEKDAY     1                 /* Monday */
#define MAX_YEAR          30827             /* NT's last year: LONGLONG's range */
#define RTC_CENTURY_SPLIT 80

static const SHORT KiDaysBeforeMonth[2][13] = {
    {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
    {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366},
};

static BOOLEAN KiIsLeapYear(LONG Year)
{
    return (Year % 4 == 0 && Year % 100 != 0) || Year % 400 == 0;
}

BOOLEAN RtlTimeFieldsToTime(PTIME_FIELDS TimeFields, PLARGE_INTEGER Time)
{
    const TIME_FIELDS *t = TimeFields;
    LONGLONG years, days;
    BOOLEAN leap;

    if (t->Year < EPOCH_YEAR || t->Year > MAX_YEAR || t->Month < 1 || t->Month > 12 ||
        t->Hour < 0 || t->Hour > 23 || t->Minute < 0 || t->Minute > 59 || t->Second < 0 ||
        t->Second > 59 || t->Milliseconds < 0 || t->Milliseconds > 999 || t->Day < 1)
        return FALSE;
    leap = KiIsLeapYear(t->Year);
    if (t->Day > KiDaysBeforeMonth[leap][t->Month] - KiDaysBeforeMonth[leap][t->Month - 1])
        return FALSE;
    years = t->Year - EPOCH_YEAR;
    days = years * DAYS_PER_Y + years / 4 - years / 100 + years / 400 +
           KiDaysBeforeMonth[leap][t->Month - 1] + t->Day - 1;
    Time->QuadPart = (days * MS_PER_DAY +
                      ((t->Hour * 60LL + t->Minute) * 60 + t->Second) * 1000 + t->Milliseconds) *
                     HNS_PER_MS;
    return TRUE;
}

VOID RtlTimeToTimeFields(PLARGE_INTEGER Time, PTIME_FIELDS TimeFields)
{
    LONGLONG ms = Time->QuadPart / HNS_PER_MS;
    LONGLONG days = ms / MS_PER_DAY, rest = ms % MS_PER_DAY;
    LONG cycles400, centuries, quads, years, dayOfYear, month;
    BOOLEAN leap;

    TimeFields->Milliseconds = (SHORT)(rest % 1000);
    rest /= 1000;
    TimeFields->Second = (SHORT)(rest % 60);
    rest /= 60;
    TimeFields->Minute = (SHORT)(rest % 60);
    TimeFields->Hour = (SHORT)(rest / 60);
    TimeFields->Weekday = (SHORT)((days + EPOCH_WEEKDAY) % 7);

    /* Peel off 400-, 100-, 4- and 1-year blocks. The leap day that ends a
     * 400-year cycle (or a 4-year block) makes the last block one day
     * longer: the "== 4" cases are its 31 December. */
    cycles400 = (LONG)(days / DAYS_PER_400Y);
    days %= DAYS_PER_400Y;
    centuries = (LONG)(days / DAYS_PER_100Y);
    if (centuries == 4)
        centuries = 3;
    days -= (LONGLONG)centuries * DAYS_PER_100Y;
    quads = (LONG)(days / DAYS_PER_4Y);
    days %= DAYS_PER_4Y;
    years = (LONG)(days / DAYS_PER_Y);
    if (years == 4)
        years = 3;
    dayOfYear = (LONG)(days - (LONGLONG)years * DAYS_PER_Y);

    TimeFields->Year = (SHORT)(EPOCH_YEAR + cycles400 * 400 + centuries * 100 + quads * 4 + years);
    leap = KiIsLeapYear(TimeFields->Year);
    for (month = 1; dayOfYear >= KiDaysBeforeMonth[leap][month]; month++)
        ;
    TimeFields->Month = (SHORT)month;
    TimeFields->Day = (SHORT)(dayOfYear - KiDaysBeforeMonth[leap][month - 1] + 1);
}

/* One RTC field: BCD (each nibble a decimal digit) or binary. */
static BOOLEAN HalpRtcValue(UCHAR Raw, BOOLEAN Binary, PLONG Value)
{
    if (Binary) {
        *Value = Raw;
        return TRUE;
    }
    if ((Raw >> 4) > 9 || (Raw & 0xF) > 9)
        return FALSE;
    *Value = (Raw >> 4) * 10 + (Raw & 0xF);
    return TRUE;
}

BOOLEAN HalpRtcToTimeFields(const HALP_RTC_REGISTERS *Rtc, PTIME_FIELDS TimeFields)
{
    BOOLEAN binary = (Rtc->StatusB & RTC_STATUS_B_BINARY) != 0;
    BOOLEAN hour24 = (Rtc->StatusB & RTC_STATUS_B_24_HOUR) != 0;
    BOOLEAN pm = !hour24 && (Rtc->Hour & RTC_HOUR_PM);
    UCHAR hourRaw = hour24 ? Rtc->Hour : (UCHAR)(Rtc->Hour & ~RTC_HOUR_PM);
    LONG second, minute, hour, day, month, year, century;
    TIME_FIELDS t;
    LARGE_INTEGER time;

    if (!HalpRtcValue(Rtc->Second, binary, &second) ||
        !HalpRtcValue(Rtc->Minute, binary, &minute) || !HalpRtcValue(hourRaw, binary, &hour) ||
        !HalpRtcValue(Rtc->Day, binary, &day) || !HalpRtcValue(Rtc->Month, binary, &month) ||
        !HalpRtcValue(Rtc->Year, binary, &year) || year > 99)
        return FALSE;
    if (!hour24) {
        if (hour < 1 || hour > 12)
            return FALSE;
        hour = hour % 12 + (pm ? 12 : 0);       /* 12 a.m. = 0, 12 p.m. = 12 */
    }
    if (Rtc->HasCentury) {
        if (!HalpRtcValue(Rtc->Century, binary, &century))
            return FALSE;
    } else {
        century = year >= RTC_CENTURY_SPLIT ? 19 : 20;
    }
    t.Year = (SHORT)(century * 100 + year);
    t.Month = (SHORT)month;
    t.Day = (SHORT)day;
    t.Hour = (SHORT)hour;
    t.Minute = (SHORT)minute;
    t.Second = (SHORT)second;
    t.Milliseconds = 0;
    t.Weekday = 0;
    /* Range-check every field (a 31 April, a minute 60) and fill Weekday. */
    if (!RtlTimeFieldsToTime(&t, &time))
        return FALSE;
    RtlTimeToTimeFields(&time, TimeFields);
    return TRUE;
}

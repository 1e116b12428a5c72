/*
 * test_rtctime.c - unit tests for kernel/hal/rtctime.c: NT's system time
 * (100 ns since 1601) to and from TIME_FIELDS, and the CMOS RTC's register
 * coding (BCD or binary, 12- or 24-hour, century register or not).
 *
 * The expected 100 ns counts were computed independently (Python's
 * datetime) and are the well-known FILETIME values where there is one
 * (1970-01-01 is 116444736000000000). The sweep checks every day from 1601
 * to 2500 both ways, which covers every leap rule: 4, 100 and 400 years.
 */
#include "../ktest.h"
#include "../../kernel/ke/ke_internal.h"

static TIME_FIELDS Tf(SHORT Y, SHORT Mo, SHORT D, SHORT H, SHORT Mi, SHORT S, SHORT Ms)
{
    TIME_FIELDS t = {Y, Mo, D, H, Mi, S, Ms, 0};
    return t;
}

static LONGLONG ToTime(TIME_FIELDS T)
{
    LARGE_INTEGER time = {.QuadPart = -1};

    if (!RtlTimeFieldsToTime(&T, &time))
        return -1;
    return time.QuadPart;
}

KTEST(rtctime, known_system_times)
{
    KEXPECT_EQ(ToTime(Tf(1601, 1, 1, 0, 0, 0, 0)), 0);
    KEXPECT_EQ(ToTime(Tf(1601, 1, 1, 0, 0, 0, 1)), 10000);
    KEXPECT_EQ(ToTime(Tf(1970, 1, 1, 0, 0, 0, 0)), 116444736000000000LL);
    KEXPECT_EQ(ToTime(Tf(2000, 1, 1, 0, 0, 0, 0)), 125911584000000000LL);
    KEXPECT_EQ(ToTime(Tf(2024, 2, 29, 12, 34, 56, 789)), 133536836967890000LL);
    KEXPECT_EQ(ToTime(Tf(1700, 3, 1, 0, 0, 0, 0)), 31292352000000000LL);
    KEXPECT_EQ(ToTime(Tf(2100, 3, 1, 0, 0, 0, 0)), 157520160000000000LL);
    KEXPECT_EQ(ToTime(Tf(9999, 12, 31, 23, 59, 59, 999)), 2650467743999990000LL);
}

KTEST(rtctime, fields_out_of_range_are_refused)
{
    KEXPECT_EQ(ToTime(Tf(1600, 12, 31, 23, 59, 59, 999)), -1);    /* before the epoch */
    KEXPECT_EQ(ToTime(Tf(30828, 1, 1, 0, 0, 0, 0)), -1);          /* past NT's last year */
    KEXPECT_NE(ToTime(Tf(30827, 12, 31, 23, 59, 59, 999)), -1);
    KEXPECT_EQ(ToTime(Tf(2023, 2, 29, 0, 0, 0, 0)), -1);          /* not a leap year */
    KEXPECT_EQ(ToTime(Tf(1900, 2, 29, 0, 0, 0, 0)), -1);          /* century: not leap */
    KEXPECT_NE(ToTime(Tf(2000, 2, 29, 0, 0, 0, 0)), -1);          /* 400 years: leap */
    KEXPECT_EQ(ToTime(Tf(2024, 4, 31, 0, 0, 0, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 0, 1, 0, 0, 0, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 13, 1, 0, 0, 0, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 1, 0, 0, 0, 0, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 1, 1, 24, 0, 0, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 1, 1, 0, 60, 0, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 1, 1, 0, 0, 60, 0)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 1, 1, 0, 0, 0, 1000)), -1);
    KEXPECT_EQ(ToTime(Tf(2024, 1, 1, -1, 0, 0, 0)), -1);
}

KTEST(rtctime, time_to_fields_and_weekday)
{
    LARGE_INTEGER t;
    TIME_FIELDS f;

    t.QuadPart = 133536836967890000LL;
    RtlTimeToTimeFields(&t, &f);
    KEXPECT_EQ(f.Year, 2024);
    KEXPECT_EQ(f.Month, 2);
    KEXPECT_EQ(f.Day, 29);
    KEXPECT_EQ(f.Hour, 12);
    KEXPECT_EQ(f.Minute, 34);
    KEXPECT_EQ(f.Second, 56);
    KEXPECT_EQ(f.Milliseconds, 789);
    KEXPECT_EQ(f.Weekday, 4);               /* a Thursday */
    t.QuadPart = 0;
    RtlTimeToTimeFields(&t, &f);
    KEXPECT_EQ(f.Year, 1601);
    KEXPECT_EQ(f.Weekday, 1);               /* 1 January 1601: a Monday */
    t.QuadPart = 116444736000000000LL;
    RtlTimeToTimeFields(&t, &f);
    KEXPECT_EQ(f.Weekday, 4);               /* 1 January 1970: a Thursday */
    /* The last day of a 400-year cycle (a leap 31 December) and the next. */
    t.QuadPart = ToTime(Tf(2000, 12, 31, 23, 59, 59, 999));
    RtlTimeToTimeFields(&t, &f);
    KEXPECT_EQ(f.Year, 2000);
    KEXPECT_EQ(f.Month, 12);
    KEXPECT_EQ(f.Day, 31);
    KEXPECT_EQ(f.Weekday, 0);               /* a Sunday */
    t.QuadPart += 10000;
    RtlTimeToTimeFields(&t, &f);
    KEXPECT_EQ(f.Year, 2001);
    KEXPECT_EQ(f.Month, 1);
    KEXPECT_EQ(f.Day, 1);
    KEXPECT_EQ(f.Hour, 0);
}

/* Every day from 1601 to 2500: days are consecutive, fields round-trip. */
KTEST(rtctime, every_day_round_trips)
{
    const LONGLONG day = 864000000000LL;
    TIME_FIELDS previous = Tf(1600, 12, 31, 0, 0, 0, 0), f;
    LARGE_INTEGER t;
    ULONG bad = 0;

    for (t.QuadPart = 0; bad < 5; t.QuadPart += day) {
        RtlTimeToTimeFields(&t, &f);
        if (f.Year == 2500)
            break;
        BOOLEAN next = (f.Year == previous.Year && f.Month == previous.Month &&
                        f.Day == previous.Day + 1) ||
                       (f.Year == previous.Year && f.Month == previous.Month + 1 && f.Day == 1) ||
                       (f.Year == previous.Year + 1 && f.Month == 1 && f.Day == 1 &&
                        previous.Month == 12 && previous.Day == 31);
        if (!next || ToTime(f) != t.QuadPart || f.Weekday != (previous.Weekday + 1) % 7 ||
            f.Hour != 0 || f.Milliseconds != 0) {
            if (t.QuadPart != 0) {      /* the first day has no real predecessor */
                KtestFail(__FILE__, __LINE__, "day %lld: %d-%d-%d weekday %d", t.QuadPart / day,
                          f.Year, f.Month, f.Day, f.Weekday);
                bad++;
            }
        }
        previous = f;
    }
    KEXPECT_EQ(bad, 0);
    KEXPECT_EQ(f.Year, 2500);
    KEXPECT_EQ(f.Month, 1);
    KEXPECT_EQ(f.Day, 1);
}

/* ---- RTC register decoding -------------------------------------------------- */

static HALP_RTC_REGISTERS Rtc(UCHAR S, UCHAR Mi, UCHAR H, UCHAR D, UCHAR Mo, UCHAR Y,
                              UCHAR StatusB)
{
    HALP_RTC_REGISTERS r = {S, Mi, H, D, Mo, Y, 0, FALSE, StatusB};
    return r;
}

static LONGLONG RtcTime(HALP_RTC_REGISTERS R)
{
    TIME_FIELDS f;

    if (!HalpRtcToTimeFields(&R, &f))
        return -1;
    return ToTime(f);
}

KTEST(rtctime, rtc_bcd_24_hour)
{
    HALP_RTC_REGISTERS r = Rtc(0x56, 0x34, 0x12, 0x29, 0x02, 0x24, RTC_STATUS_B_24_HOUR);
    TIME_FIELDS f;

    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2024, 2, 29, 12, 34, 56, 0)));
    KASSERT_TRUE(HalpRtcToTimeFields(&r, &f));
    KEXPECT_EQ(f.Weekday, 4);
    r.Hour = 0x23;
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2024, 2, 29, 23, 34, 56, 0)));
    r.Hour = 0x00;
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2024, 2, 29, 0, 34, 56, 0)));
    r.Hour = 0x24;
    KEXPECT_EQ(RtcTime(r), -1);
    r.Hour = 0x1A;                          /* not a BCD digit */
    KEXPECT_EQ(RtcTime(r), -1);
}

KTEST(rtctime, rtc_binary_mode)
{
    HALP_RTC_REGISTERS r =
        Rtc(56, 34, 12, 29, 2, 24, RTC_STATUS_B_24_HOUR | RTC_STATUS_B_BINARY);

    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2024, 2, 29, 12, 34, 56, 0)));
    r.Second = 0x59;                        /* binary 89: no such second */
    KEXPECT_EQ(RtcTime(r), -1);
    r.Second = 59;
    r.Day = 30;                             /* 30 February */
    KEXPECT_EQ(RtcTime(r), -1);
}

/* 12-hour mode: 12 a.m. is midnight, 12 p.m. noon, bit 7 = p.m. */
KTEST(rtctime, rtc_12_hour_mode)
{
    HALP_RTC_REGISTERS bcd = Rtc(0x00, 0x00, 0x12, 0x01, 0x01, 0x25, 0);
    HALP_RTC_REGISTERS bin = Rtc(0, 0, 12, 1, 1, 25, RTC_STATUS_B_BINARY);

    KEXPECT_EQ(RtcTime(bcd), ToTime(Tf(2025, 1, 1, 0, 0, 0, 0)));
    bcd.Hour = RTC_HOUR_PM | 0x12;
    KEXPECT_EQ(RtcTime(bcd), ToTime(Tf(2025, 1, 1, 12, 0, 0, 0)));
    bcd.Hour = RTC_HOUR_PM | 0x01;
    KEXPECT_EQ(RtcTime(bcd), ToTime(Tf(2025, 1, 1, 13, 0, 0, 0)));
    bcd.Hour = RTC_HOUR_PM | 0x11;
    KEXPECT_EQ(RtcTime(bcd), ToTime(Tf(2025, 1, 1, 23, 0, 0, 0)));
    bcd.Hour = 0x00;                        /* there is no hour 0 on a 12-hour clock */
    KEXPECT_EQ(RtcTime(bcd), -1);
    bcd.Hour = 0x13;
    KEXPECT_EQ(RtcTime(bcd), -1);

    KEXPECT_EQ(RtcTime(bin), ToTime(Tf(2025, 1, 1, 0, 0, 0, 0)));
    bin.Hour = RTC_HOUR_PM | 12;
    KEXPECT_EQ(RtcTime(bin), ToTime(Tf(2025, 1, 1, 12, 0, 0, 0)));
    bin.Hour = RTC_HOUR_PM | 7;
    KEXPECT_EQ(RtcTime(bin), ToTime(Tf(2025, 1, 1, 19, 0, 0, 0)));
    bin.Hour = 7;
    KEXPECT_EQ(RtcTime(bin), ToTime(Tf(2025, 1, 1, 7, 0, 0, 0)));
}

KTEST(rtctime, rtc_century)
{
    HALP_RTC_REGISTERS r = Rtc(0x59, 0x59, 0x23, 0x31, 0x12, 0x99, RTC_STATUS_B_24_HOUR);

    /* No century register: 80-99 are 19xx, 00-79 are 20xx. */
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(1999, 12, 31, 23, 59, 59, 0)));
    r.Year = 0x79;
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2079, 12, 31, 23, 59, 59, 0)));
    r.Year = 0x80;
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(1980, 12, 31, 23, 59, 59, 0)));
    /* With one, it decides, in the same coding as the other fields. */
    r.HasCentury = TRUE;
    r.Century = 0x21;
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2180, 12, 31, 23, 59, 59, 0)));
    r.Century = 0x2A;
    KEXPECT_EQ(RtcTime(r), -1);
    r.StatusB |= RTC_STATUS_B_BINARY;
    r.Century = 20;
    r.Year = 24;
    r.Month = 12;
    r.Day = 31;
    r.Hour = 23;
    r.Minute = 59;
    r.Second = 59;
    KEXPECT_EQ(RtcTime(r), ToTime(Tf(2024, 12, 31, 23, 59, 59, 0)));
    r.Year = 100;                           /* two digits only */
    KEXPECT_EQ(RtcTime(r), -1);
}

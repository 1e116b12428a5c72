/*
 * test_printf.c - unit tests for RtlSnprintf/RtlVsnprintf (kernel/rtl/printf.c).
 *
 * Every DbgPrint, log line and bug-check screen goes through this one
 * formatter, so a wrong digit or a byte written past a buffer shows up
 * everywhere at once. The expectations are hand-written C99 results, not
 * the host libc's snprintf: the same file runs inside the kernel, which has
 * no libc. Truncation cases check the return value, the terminator and a
 * guard byte just past Size.
 *
 * The formats go through PfFormat, which has no format attribute, on
 * purpose: several cases (unknown conversions, I64, '0' with '-') are ones
 * GCC's -Wformat would reject, and the kernel must still handle them.
 */
#include "../ktest.h"
#include "../../kernel/ke/ke_internal.h"

#define PF_GUARD ((char)0x5A)

static char PfBuf[256];
static char PfSmall[48];

static int PfFormat(char *Buffer, SIZE_T Size, PCSTR Format, ...)
{
    va_list ap;
    int n;

    va_start(ap, Format);
    n = RtlVsnprintf(Buffer, Size, Format, ap);
    va_end(ap);
    return n;
}

static SIZE_T PfLength(PCSTR S)
{
    SIZE_T n = 0;

    while (S[n])
        n++;
    return n;
}

/* Format into the big buffer; the text and the returned length must match. */
#define PF_CHECK(Expected, ...)                                              \
    do {                                                                     \
        int pfN_;                                                            \
        memset(PfBuf, PF_GUARD, sizeof(PfBuf));                              \
        pfN_ = PfFormat(PfBuf, sizeof(PfBuf), __VA_ARGS__);                  \
        KEXPECT_STREQ(PfBuf, (Expected));                                    \
        KEXPECT_EQ(pfN_, PfLength(Expected));                                \
    } while (0)

/*
 * Format Full's format into PfSmall with every Size from 0 to Full's length
 * + 2 and check C99 truncation: the returned length never changes, the
 * output is the first Size-1 characters and a NUL, nothing at or past Size
 * is touched. FullText is what an unlimited buffer would hold.
 */
static void PfCheckTruncation(PCSTR FullText, PCSTR Format, ...)
{
    SIZE_T full = PfLength(FullText);
    va_list ap;

    va_start(ap, Format);
    for (SIZE_T size = 0; size <= full + 2 && size < sizeof(PfSmall); size++) {
        int n;
        SIZE_T kept = size ? (size - 1 < full ? size - 1 : full) : 0;
        va_list copy;

        memset(PfSmall, PF_GUARD, sizeof(PfSmall));
        va_copy(copy, ap);
        n = RtlVsnprintf(PfSmall, size, Format, copy);
        va_end(copy);
        KEXPECT_EQ(n, full);
        for (SIZE_T i = 0; i < kept; i++)
            KEXPECT_EQ(PfSmall[i], FullText[i]);
        if (size > 0)
            KEXPECT_EQ(PfSmall[kept], 0);
        /* Nothing beyond the terminator, and in particular nothing at or
         * past PfSmall[size], may have been written. */
        for (SIZE_T i = size ? kept + 1 : 0; i < sizeof(PfSmall); i++)
            if (PfSmall[i] != PF_GUARD) {
                KEXPECT_EQ(i, (SIZE_T)-1);      /* reports the index */
                break;
            }
    }
    va_end(ap);
}

KTEST(printf, literal_text)
{
    PF_CHECK("", "");
    PF_CHECK("hello, world\n", "hello, world\n");
    PF_CHECK("100%", "100%%");
    PF_CHECK("%%", "%%%%");
    PF_CHECK("a%b", "a%%b");
}

KTEST(printf, rtlsnprintf_entry_point)
{
    int n;

    memset(PfBuf, PF_GUARD, sizeof(PfBuf));
    n = RtlSnprintf(PfBuf, sizeof(PfBuf), "%s=%d/%x", "irql", 2, 0x1fu);
    KEXPECT_STREQ(PfBuf, "irql=2/1f");
    KEXPECT_EQ(n, 9);
}

KTEST(printf, signed_decimal)
{
    PF_CHECK("0", "%d", 0);
    PF_CHECK("42", "%d", 42);
    PF_CHECK("-42", "%d", -42);
    PF_CHECK("7", "%i", 7);
    PF_CHECK("-7", "%i", -7);
    PF_CHECK("2147483647", "%d", 2147483647);
    PF_CHECK("-2147483648", "%d", (int)(-2147483647 - 1));
    PF_CHECK("-1 0 1", "%d %d %d", -1, 0, 1);
}

KTEST(printf, signed_64bit_extremes)
{
    const long long llmin = -9223372036854775807LL - 1;

    PF_CHECK("-9223372036854775808", "%lld", llmin);
    PF_CHECK("9223372036854775807", "%lld", 9223372036854775807LL);
    PF_CHECK("-9223372036854775808", "%ld", (long)llmin);
    PF_CHECK("-9223372036854775808", "%I64d", llmin);
    PF_CHECK("-9223372036854775808", "%lli", llmin);
    PF_CHECK("-1", "%lld", -1LL);
    PF_CHECK("[-9223372036854775808  ]", "[%-22lld]", llmin);
    PF_CHECK("-009223372036854775808", "%022lld", llmin);
}

KTEST(printf, unsigned_decimal)
{
    PF_CHECK("0", "%u", 0u);
    PF_CHECK("4294967295", "%u", 4294967295u);
    PF_CHECK("4294967295", "%u", -1);           /* int bits read as unsigned */
    PF_CHECK("18446744073709551615", "%llu", 18446744073709551615ULL);
    PF_CHECK("18446744073709551615", "%lu", 18446744073709551615UL);
    PF_CHECK("18446744073709551615", "%I64u", 18446744073709551615ULL);
}

KTEST(printf, hex_and_octal)
{
    PF_CHECK("0", "%x", 0u);
    PF_CHECK("deadbeef", "%x", 0xdeadbeefu);
    PF_CHECK("DEADBEEF", "%X", 0xdeadbeefu);
    PF_CHECK("ffffffffffffffff", "%llx", 0xFFFFFFFFFFFFFFFFULL);
    PF_CHECK("FFFFFFFFFFFFFFFF", "%llX", 0xFFFFFFFFFFFFFFFFULL);
    PF_CHECK("123456789abcdef0", "%I64x", 0x123456789ABCDEF0ULL);
    PF_CHECK("123456789ABCDEF0", "%I64X", 0x123456789ABCDEF0ULL);
    PF_CHECK("ffffffff", "%x", -1);
    PF_CHECK("0", "%o", 0u);
    PF_CHECK("10", "%o", 8u);
    PF_CHECK("777", "%o", 0777u);
    PF_CHECK("1777777777777777777777", "%llo", 0xFFFFFFFFFFFFFFFFULL);
}

KTEST(printf, length_modifiers)
{
    PF_CHECK("-56", "%hhd", 200);               /* (signed char)200 */
    PF_CHECK("255", "%hhu", 0x1FF);
    PF_CHECK("ff", "%hhx", 0xFFFF);
    PF_CHECK("-25536", "%hd", 40000);           /* (short)40000 */
    PF_CHECK("4464", "%hu", 70000);             /* (unsigned short)70000 */
    PF_CHECK("ffff", "%hx", 0x12ffff);
    PF_CHECK("123456789012", "%zu", (SIZE_T)123456789012ULL);
    PF_CHECK("18446744073709551615", "%zu", (SIZE_T)-1);
    PF_CHECK("-5", "%zd", (SSIZE_T)-5);
    PF_CHECK("fffffffffffffffb", "%zx", (SIZE_T)-5);
    PF_CHECK("-3", "%td", (LONG_PTR)-3);
    PF_CHECK("300000000000", "%jd", (long long)300000000000LL);
    PF_CHECK("-1", "%ld", -1L);
    PF_CHECK("4294967296", "%lu", 4294967296UL);
}

KTEST(printf, characters)
{
    int n;

    PF_CHECK("A", "%c", 'A');
    PF_CHECK("  A", "%3c", 'A');
    PF_CHECK("A  |", "%-3c|", 'A');
    PF_CHECK("xyz", "%c%c%c", 'x', 'y', 'z');

    /* A NUL character is output like any other and counted. */
    memset(PfBuf, PF_GUARD, sizeof(PfBuf));
    n = PfFormat(PfBuf, sizeof(PfBuf), "a%cb", 0);
    KEXPECT_EQ(n, 3);
    KEXPECT_EQ(PfBuf[0], 'a');
    KEXPECT_EQ(PfBuf[1], 0);
    KEXPECT_EQ(PfBuf[2], 'b');
    KEXPECT_EQ(PfBuf[3], 0);
}

KTEST(printf, strings)
{
    PF_CHECK("abc", "%s", "abc");
    PF_CHECK("", "%s", "");
    PF_CHECK("  abc", "%5s", "abc");
    PF_CHECK("abc  |", "%-5s|", "abc");
    PF_CHECK("abc", "%2s", "abc");              /* width never truncates */
    PF_CHECK("ab", "%.2s", "abc");
    PF_CHECK("", "%.0s", "abc");
    PF_CHECK("abc", "%.10s", "abc");
    PF_CHECK("    a", "%5.1s", "abc");
    PF_CHECK("a    |", "%-5.1s|", "abc");
    PF_CHECK("  abc", "%05s", "abc");           /* '0' does not apply to %s */
    PF_CHECK("one two", "%s %s", "one", "two");
}

KTEST(printf, null_string)
{
    PF_CHECK("(null)", "%s", (const char *)NULL);
    PF_CHECK("  (null)", "%8s", (const char *)NULL);
    PF_CHECK("(null)  |", "%-8s|", (const char *)NULL);
}

/*
 * "%.4s" of a 4-byte name with no terminator is how ACPI signatures and
 * other fixed-width fields get printed. C99 7.19.6.1: with a precision, the
 * array need not contain a NUL; the formatter must not read past Precision
 * bytes. On the host, AddressSanitizer reports a read of Name[4].
 */
static const char PfUnterminated[4] = {'F', 'A', 'C', 'P'};

KTEST(printf, string_precision_does_not_read_past)
{
    PF_CHECK("FACP", "%.4s", PfUnterminated);
    PF_CHECK("FA", "%.2s", PfUnterminated);
}

KTEST(printf, zero_padding_and_justify)
{
    PF_CHECK("00042", "%05d", 42);
    PF_CHECK("-0042", "%05d", -42);
    PF_CHECK("+0042", "%+05d", 42);
    PF_CHECK("   42", "%5d", 42);
    PF_CHECK("  -42", "%5d", -42);
    PF_CHECK("42   |", "%-5d|", 42);
    PF_CHECK("-42  |", "%-5d|", -42);
    PF_CHECK("42   |", "%-05d|", 42);            /* '-' overrides '0' */
    PF_CHECK("12345", "%3d", 12345);             /* width never truncates */
    PF_CHECK("000000ff", "%08x", 0xffu);
    PF_CHECK("00000000000000000000000000000001", "%032llx", 1ULL);
    PF_CHECK("0000000377", "%010o", 0377u);
}

KTEST(printf, star_width_and_precision)
{
    PF_CHECK("   42", "%*d", 5, 42);
    PF_CHECK("42   |", "%*d|", -5, 42);           /* negative width: '-' */
    PF_CHECK("42   |", "%-*d|", 5, 42);
    PF_CHECK("-0003", "%0*d", 5, -3);
    PF_CHECK("007", "%.*d", 3, 7);
    PF_CHECK("7", "%.*d", -1, 7);                 /* negative precision: none */
    PF_CHECK("    ab", "%*.*s", 6, 2, "abcdef");
    PF_CHECK("abc", "%.*s", 3, "abcdef");
    PF_CHECK("  x|", "%*c|", 3, 'x');
    PF_CHECK("1 2 3", "%*d %*d %*d", 1, 1, 0, 2, 1, 3);
}

KTEST(printf, number_precision)
{
    PF_CHECK("", "%.0d", 0);                     /* C: no digits for zero */
    PF_CHECK("     ", "%5.0d", 0);
    PF_CHECK("", "%.0x", 0u);
    PF_CHECK("", "%.0u", 0u);
    PF_CHECK("+", "%+.0d", 0);
    PF_CHECK("1", "%.0d", 1);
    PF_CHECK("007", "%.3d", 7);
    PF_CHECK("-007", "%.3d", -7);
    PF_CHECK("  007", "%5.3d", 7);
    PF_CHECK("  007", "%05.3d", 7);              /* precision disables '0' */
    PF_CHECK(" -007", "%05.3d", -7);
    PF_CHECK("007  |", "%-5.3d|", 7);
    PF_CHECK("00ff", "%.4x", 0xffu);
    PF_CHECK("12345", "%.2d", 12345);
    PF_CHECK("0", "%.1d", 0);
}

KTEST(printf, plus_and_space_flags)
{
    PF_CHECK("+5", "%+d", 5);
    PF_CHECK("-5", "%+d", -5);
    PF_CHECK("+0", "%+d", 0);
    PF_CHECK(" 5", "% d", 5);
    PF_CHECK("-5", "% d", -5);
    PF_CHECK(" 0", "% d", 0);
    PF_CHECK("+5", "%+ d", 5);                   /* '+' beats ' ' */
    PF_CHECK("+5", "% +d", 5);
    PF_CHECK("   +5", "%+5d", 5);
    PF_CHECK(" 0005", "% 05d", 5);
    /* Signs are for signed conversions only. */
    PF_CHECK("5", "%+u", 5u);
    PF_CHECK("ff", "% x", 0xffu);
}

KTEST(printf, alternate_form)
{
    PF_CHECK("0xff", "%#x", 0xffu);
    PF_CHECK("0XFF", "%#X", 0xffu);
    PF_CHECK("0xffffffffffffffff", "%#llx", 0xFFFFFFFFFFFFFFFFULL);
    PF_CHECK("010", "%#o", 8u);
    PF_CHECK("0", "%#o", 0u);
    PF_CHECK("0", "%#.0o", 0u);                  /* C: '#' forces a 0 digit */
    PF_CHECK("00010", "%#.5o", 8u);
    PF_CHECK("      0xff", "%#10x", 0xffu);
    PF_CHECK("0x000000ff", "%#010x", 0xffu);
    PF_CHECK("0x00ff", "%#.4x", 0xffu);
    PF_CHECK("0xff  |", "%-#6x|", 0xffu);
    PF_CHECK("", "%#.0x", 0u);
    /* C99 7.19.6.1: "a nonzero result has 0x (or 0X) prefixed to it";
     * zero prints as plain "0" (MSVC, hence NT, agrees). */
    PF_CHECK("0", "%#x", 0u);
    PF_CHECK("0", "%#X", 0u);
}

KTEST(printf, pointer)
{
    PF_CHECK("0000000000001234", "%p", (void *)(ULONG_PTR)0x1234);
    PF_CHECK("0000000000000000", "%p", (void *)NULL);
    PF_CHECK("FFFFFFFF80000000", "%p", (void *)(ULONG_PTR)0xFFFFFFFF80000000ULL);
    PF_CHECK("DEADBEEFCAFEF00D", "%p", (void *)(ULONG_PTR)0xDEADBEEFCAFEF00DULL);
    PF_CHECK("    000000000000ABCD", "%20p", (void *)(ULONG_PTR)0xABCD);
    PF_CHECK("000000000000ABCD    |", "%-20p|", (void *)(ULONG_PTR)0xABCD);
    PF_CHECK("rip=FFFFF80000001000 rsp=0000000000007FF0", "rip=%p rsp=%p",
             (void *)(ULONG_PTR)0xFFFFF80000001000ULL, (void *)(ULONG_PTR)0x7FF0);
}

KTEST(printf, unknown_conversion_is_literal)
{
    PF_CHECK("%q", "%q");
    PF_CHECK("a%yb", "a%yb");
    PF_CHECK("%w 5", "%w %d", 5);                /* no argument consumed */
    PF_CHECK("abc", "abc%");                     /* lone '%' at the end */
}

KTEST(printf, mixed)
{
    PF_CHECK("Memory map (3 ranges):", "Memory map (%u ranges):", 3u);
    PF_CHECK("  0000000000100000-0000000007fdffff     128896 KiB usable",
             "  %016llx-%016llx %10llu KiB %s", 0x100000ULL, 0x7FDFFFFULL,
             128896ULL, "usable");
    PF_CHECK("*** STOP: 0x0000000A (0x0000000000000000,0x0000000000000002)",
             "*** STOP: 0x%08X (0x%016llX,0x%016llX)", 0xAu, 0ULL, 2ULL);
}

KTEST(printf, truncation_plain_text)
{
    PfCheckTruncation("hello world", "hello world");
}

KTEST(printf, truncation_numbers_and_padding)
{
    PfCheckTruncation("-123456", "%d", -123456);
    PfCheckTruncation("0000beef", "%08llx", 0xbeefULL);
    PfCheckTruncation("[    x]", "[%5s]", "x");
    PfCheckTruncation("[x    ]", "[%-5s]", "x");
    PfCheckTruncation("18446744073709551615", "%llu", 0xFFFFFFFFFFFFFFFFULL);
    PfCheckTruncation("FFFFFFFF80000000", "%p", (void *)(ULONG_PTR)0xFFFFFFFF80000000ULL);
    PfCheckTruncation("a%q-7", "a%%q%d", -7);
}

KTEST(printf, truncation_size_zero_and_one)
{
    int n;

    /* Size 0: nothing written, not even the terminator; NULL is fine. */
    n = PfFormat(NULL, 0, "%s-%d", "abc", 12345);
    KEXPECT_EQ(n, 9);
    memset(PfSmall, PF_GUARD, sizeof(PfSmall));
    n = PfFormat(PfSmall, 0, "abc");
    KEXPECT_EQ(n, 3);
    KEXPECT_EQ(PfSmall[0], PF_GUARD);

    /* Size 1: only the terminator. */
    memset(PfSmall, PF_GUARD, sizeof(PfSmall));
    n = PfFormat(PfSmall, 1, "%d", 42);
    KEXPECT_EQ(n, 2);
    KEXPECT_EQ(PfSmall[0], 0);
    KEXPECT_EQ(PfSmall[1], PF_GUARD);

    /* Size 1 and empty output. */
    memset(PfSmall, PF_GUARD, sizeof(PfSmall));
    n = PfFormat(PfSmall, 1, "");
    KEXPECT_EQ(n, 0);
    KEXPECT_EQ(PfSmall[0], 0);
    KEXPECT_EQ(PfSmall[1], PF_GUARD);
}

KTEST(printf, truncation_long_output)
{
    int n;

    /* Output far longer than the buffer is still counted in full. */
    memset(PfSmall, PF_GUARD, sizeof(PfSmall));
    n = PfFormat(PfSmall, 16, "%300d", 1);
    KEXPECT_EQ(n, 300);
    for (int i = 0; i < 15; i++)
        KEXPECT_EQ(PfSmall[i], ' ');
    KEXPECT_EQ(PfSmall[15], 0);
    KEXPECT_EQ(PfSmall[16], PF_GUARD);

    memset(PfSmall, PF_GUARD, sizeof(PfSmall));
    n = PfFormat(PfSmall, 8, "%s%s%s", "abcd", "efgh", "ijkl");
    KEXPECT_EQ(n, 12);
    KEXPECT_STREQ(PfSmall, "abcdefg");
    KEXPECT_EQ(PfSmall[8], PF_GUARD);
}

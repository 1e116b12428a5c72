/*
 * test_cmdline.c - unit tests for KiFindOption and KiParseNumber
 * (kernel/ke/cmdline.c), the core of KeQueryBootOption[Number].
 *
 * The GRUB command line is the only way to steer a boot (test=, maxmem=,
 * ...), and a person types it by hand. A key that matches a longer key, a
 * quoted value split at its space, or "maxmem=99999999999G" wrapping to a
 * small number would silently change what the kernel does, so the edges
 * are pinned here: whitespace, quoting, last-one-wins, truncation of the
 * value, and every way a number can be malformed or overflow.
 */
#include "../ktest.h"
#include "../../kernel/ke/ke_internal.h"

#define CL_GUARD ((char)0x5A)

static char ClValue[64];

/* Look Key up in Line with a guard-filled ClValue of ValueSize bytes. */
static BOOLEAN ClFind(PCSTR Line, PCSTR Key, SIZE_T ValueSize)
{
    memset(ClValue, CL_GUARD, sizeof(ClValue));
    return KiFindOption(Line, Key, ClValue, ValueSize);
}

/* Key must be present in Line with exactly Expected as its value. */
#define CL_EXPECT_VALUE(Line, Key, Expected)                                 \
    do {                                                                     \
        KEXPECT_TRUE(ClFind((Line), (Key), sizeof(ClValue)));                \
        KEXPECT_STREQ(ClValue, (Expected));                                  \
    } while (0)

#define CL_EXPECT_ABSENT(Line, Key)                                          \
    KEXPECT_FALSE(ClFind((Line), (Key), sizeof(ClValue)))

/* Text must parse to Expected. */
#define CL_EXPECT_NUMBER(Text, Expected)                                     \
    do {                                                                     \
        ULONG64 clV_ = 0xBADBADBADULL;                                       \
        KEXPECT_TRUE(KiParseNumber((Text), &clV_));                          \
        KEXPECT_EQ(clV_, (Expected));                                        \
    } while (0)

#define CL_EXPECT_BAD_NUMBER(Text)                                           \
    do {                                                                     \
        ULONG64 clV_ = 0;                                                    \
        KEXPECT_FALSE(KiParseNumber((Text), &clV_));                         \
    } while (0)

/* ---- KiFindOption ------------------------------------------------------- */

KTEST(cmdline, key_value_and_bare_key)
{
    PCSTR line = "test=mm.* maxmem=512M nolowmem";

    CL_EXPECT_VALUE(line, "test", "mm.*");
    CL_EXPECT_VALUE(line, "maxmem", "512M");
    CL_EXPECT_VALUE(line, "nolowmem", "");       /* bare key: empty value */
    CL_EXPECT_VALUE("key=", "key", "");
    CL_EXPECT_VALUE("a=b=c", "a", "b=c");        /* only the first '=' splits */
}

KTEST(cmdline, missing_key)
{
    PCSTR line = "test=mm.* maxmem=512M nolowmem";

    CL_EXPECT_ABSENT(line, "debug");
    CL_EXPECT_ABSENT(line, "512M");              /* values are not keys */
    CL_EXPECT_ABSENT(line, "mm.*");
    CL_EXPECT_ABSENT(line, "");                  /* an empty key never matches */
    CL_EXPECT_ABSENT("=x", "");
}

KTEST(cmdline, empty_and_blank_lines)
{
    CL_EXPECT_ABSENT("", "test");
    CL_EXPECT_ABSENT(" ", "test");
    CL_EXPECT_ABSENT(" \t \t  ", "test");
    CL_EXPECT_ABSENT("\n\r", "test");
}

KTEST(cmdline, last_occurrence_wins)
{
    CL_EXPECT_VALUE("a=1 b=2 a=3", "a", "3");
    CL_EXPECT_VALUE("a=1 b=2 a=3", "b", "2");
    CL_EXPECT_VALUE("a=1 a", "a", "");           /* a later bare key resets it */
    CL_EXPECT_VALUE("a a=5", "a", "5");
    CL_EXPECT_VALUE("a=\"x y\" a=z", "a", "z");
    CL_EXPECT_VALUE("a=long-value a=s", "a", "s"); /* shorter later value */
}

KTEST(cmdline, quoted_values)
{
    PCSTR line = "title=\"Mica test run\" x=1";

    CL_EXPECT_VALUE(line, "title", "Mica test run");
    CL_EXPECT_VALUE(line, "x", "1");
    CL_EXPECT_ABSENT(line, "test");              /* words inside quotes */
    CL_EXPECT_ABSENT(line, "run\"");
    CL_EXPECT_VALUE("k=\"\" j=2", "k", "");
    CL_EXPECT_VALUE("k=\"\" j=2", "j", "2");
    /* "x=1 y" is k's value, not two more options. */
    CL_EXPECT_VALUE("k=\"x=1 y\" y=2", "k", "x=1 y");
    CL_EXPECT_VALUE("k=\"x=1 y\" y=2", "y", "2");
    CL_EXPECT_ABSENT("k=\"x=1 y\" y=2", "x");
    /* An unterminated quote runs to the end of the line. */
    CL_EXPECT_VALUE("k=\"abc def", "k", "abc def");
    /* Junk glued after the closing quote belongs to the same word. */
    CL_EXPECT_VALUE("a=\"b\"c d=1", "a", "b");
    CL_EXPECT_VALUE("a=\"b\"c d=1", "d", "1");
    CL_EXPECT_ABSENT("a=\"b\"c d=1", "c");
}

KTEST(cmdline, keys_that_are_prefixes)
{
    CL_EXPECT_ABSENT("testx=1", "test");
    CL_EXPECT_ABSENT("xtest=1", "test");
    CL_EXPECT_ABSENT("testx=1", "tes");
    CL_EXPECT_ABSENT("test", "testx");
    CL_EXPECT_ABSENT("test=1", "testx");
    CL_EXPECT_VALUE("testx=1 test=2", "test", "2");
    CL_EXPECT_VALUE("testx=1 test=2", "testx", "1");
    CL_EXPECT_VALUE("test=2 testx=1", "test", "2");
    CL_EXPECT_VALUE("test testx=1", "test", "");
    CL_EXPECT_VALUE("test testx=1", "testx", "1");
}

KTEST(cmdline, spaces_and_tabs)
{
    PCSTR line = "   \ta=1\t\tb=2   c  \t";

    CL_EXPECT_VALUE(line, "a", "1");
    CL_EXPECT_VALUE(line, "b", "2");
    CL_EXPECT_VALUE(line, "c", "");
    CL_EXPECT_ABSENT(line, "d");
    CL_EXPECT_VALUE("a=1\nb=2\r\n", "b", "2");
    CL_EXPECT_VALUE("a=1\nb=2\r\n", "a", "1");
    CL_EXPECT_VALUE("x=\"\ttab\" ", "x", "\ttab");
}

KTEST(cmdline, value_truncated_to_buffer)
{
    PCSTR line = "key=abcdefgh other=1";

    KEXPECT_TRUE(ClFind(line, "key", 4));
    KEXPECT_STREQ(ClValue, "abc");
    KEXPECT_EQ(ClValue[4], CL_GUARD);

    KEXPECT_TRUE(ClFind(line, "key", 8));        /* one byte short */
    KEXPECT_STREQ(ClValue, "abcdefg");
    KEXPECT_EQ(ClValue[8], CL_GUARD);

    KEXPECT_TRUE(ClFind(line, "key", 9));        /* exact fit */
    KEXPECT_STREQ(ClValue, "abcdefgh");
    KEXPECT_EQ(ClValue[9], CL_GUARD);

    KEXPECT_TRUE(ClFind(line, "key", 1));        /* room for the NUL only */
    KEXPECT_EQ(ClValue[0], 0);
    KEXPECT_EQ(ClValue[1], CL_GUARD);

    KEXPECT_TRUE(ClFind(line, "key", 0));        /* no room: nothing written */
    KEXPECT_EQ(ClValue[0], CL_GUARD);

    KEXPECT_TRUE(ClFind("q=\"a b c d\"", "q", 4));
    KEXPECT_STREQ(ClValue, "a b");
    KEXPECT_EQ(ClValue[4], CL_GUARD);

    /* Truncating an early occurrence must not leak into a later, shorter one. */
    KEXPECT_TRUE(ClFind("k=abcdef k=xy", "k", 5));
    KEXPECT_STREQ(ClValue, "xy");
}

KTEST(cmdline, null_value_buffer)
{
    KEXPECT_TRUE(KiFindOption("nolowmem test=x", "test", NULL, 0));
    KEXPECT_TRUE(KiFindOption("nolowmem test=x", "nolowmem", NULL, 0));
    KEXPECT_TRUE(KiFindOption("nolowmem test=x", "test", NULL, 16));
    KEXPECT_FALSE(KiFindOption("nolowmem test=x", "debug", NULL, 16));
    KEXPECT_FALSE(KiFindOption("", "debug", NULL, 0));
}

/* ---- KiParseNumber ------------------------------------------------------ */

KTEST(cmdline, number_decimal)
{
    CL_EXPECT_NUMBER("0", 0);
    CL_EXPECT_NUMBER("7", 7);
    CL_EXPECT_NUMBER("12345", 12345);
    CL_EXPECT_NUMBER("007", 7);                  /* leading zeros: still decimal */
    CL_EXPECT_NUMBER("4294967296", 4294967296ULL);
    CL_EXPECT_NUMBER("18446744073709551615", 0xFFFFFFFFFFFFFFFFULL);
}

KTEST(cmdline, number_hex)
{
    CL_EXPECT_NUMBER("0x0", 0);
    CL_EXPECT_NUMBER("0x1f", 0x1f);
    CL_EXPECT_NUMBER("0X1F", 0x1f);
    CL_EXPECT_NUMBER("0xDeadBeef", 0xDEADBEEFULL);
    CL_EXPECT_NUMBER("0xabcdef", 0xABCDEF);
    CL_EXPECT_NUMBER("0xABCDEF", 0xABCDEF);
    CL_EXPECT_NUMBER("0x0000000000000000001", 1);
    CL_EXPECT_NUMBER("0xffffffffffffffff", 0xFFFFFFFFFFFFFFFFULL);
    CL_EXPECT_NUMBER("0x1b", 0x1b);              /* 'b' is a digit, not a suffix */
}

KTEST(cmdline, number_suffixes)
{
    CL_EXPECT_NUMBER("4k", 4096);
    CL_EXPECT_NUMBER("4K", 4096);
    CL_EXPECT_NUMBER("512m", 512ULL << 20);
    CL_EXPECT_NUMBER("512M", 512ULL << 20);
    CL_EXPECT_NUMBER("2g", 2ULL << 30);
    CL_EXPECT_NUMBER("2G", 2ULL << 30);
    CL_EXPECT_NUMBER("0K", 0);
    CL_EXPECT_NUMBER("0x10K", 0x4000);
    CL_EXPECT_NUMBER("0x10m", 0x1000000);
    CL_EXPECT_NUMBER("0x1g", 1ULL << 30);        /* 'g' is not a hex digit */
    CL_EXPECT_NUMBER("17179869183G", 0xFFFFFFFFC0000000ULL);  /* 2^34-1 G */
    CL_EXPECT_NUMBER("18014398509481983K", 0xFFFFFFFFFFFFFC00ULL);
}

KTEST(cmdline, number_overflow_rejected)
{
    CL_EXPECT_BAD_NUMBER("18446744073709551616");          /* 2^64 */
    CL_EXPECT_BAD_NUMBER("99999999999999999999");
    CL_EXPECT_BAD_NUMBER("184467440737095516150");
    CL_EXPECT_BAD_NUMBER("0x10000000000000000");           /* 2^64 */
    CL_EXPECT_BAD_NUMBER("0xfffffffffffffffff");
    /* With a suffix: the shifted value must fit as well. */
    CL_EXPECT_BAD_NUMBER("17179869184G");                  /* 2^34 G = 2^64 */
    CL_EXPECT_BAD_NUMBER("17592186044416M");               /* 2^44 M = 2^64 */
    CL_EXPECT_BAD_NUMBER("18014398509481984K");            /* 2^54 K = 2^64 */
    CL_EXPECT_BAD_NUMBER("18446744073709551615K");
    CL_EXPECT_BAD_NUMBER("0xffffffffffffffffG");
    CL_EXPECT_BAD_NUMBER("99999999999G");
}

KTEST(cmdline, number_malformed_rejected)
{
    CL_EXPECT_BAD_NUMBER("");
    CL_EXPECT_BAD_NUMBER("0x");
    CL_EXPECT_BAD_NUMBER("0X");
    CL_EXPECT_BAD_NUMBER("0xK");
    CL_EXPECT_BAD_NUMBER("K");
    CL_EXPECT_BAD_NUMBER("x10");
    CL_EXPECT_BAD_NUMBER("12abc");
    CL_EXPECT_BAD_NUMBER("12 ");
    CL_EXPECT_BAD_NUMBER(" 12");
    CL_EXPECT_BAD_NUMBER("-1");
    CL_EXPECT_BAD_NUMBER("+1");
    CL_EXPECT_BAD_NUMBER("1.5");
    CL_EXPECT_BAD_NUMBER("1KB");
    CL_EXPECT_BAD_NUMBER("1Kk");
    CL_EXPECT_BAD_NUMBER("12k3");
    CL_EXPECT_BAD_NUMBER("1T");
    CL_EXPECT_BAD_NUMBER("0x12z");
    CL_EXPECT_BAD_NUMBER("00x1");
    CL_EXPECT_BAD_NUMBER("ff");                  /* hex needs its 0x */
}

/*
 * printf.c - the one formatter behind DbgPrint, KdPrint and every log line.
 *
 * RtlVsnprintf has C99 vsnprintf semantics (always terminates, returns the
 * untruncated length) and understands the conversions a kernel needs:
 *   %d %i %u %x %X %o %p %s %c %%
 *   flags '-' (left-justify), '0' (zero pad), '+', ' ', '#' (0x prefix)
 *   width and precision, both also as '*'
 *   length modifiers hh h l ll z t j, and NT's I64
 * %p prints the pointer as 16 uppercase hex digits without a prefix, as
 * NT's DbgPrint does. No floating point: the kernel is built with -mno-sse.
 * Hardware-free: the host unit tests compile this file natively.
 */
#include "../ke/ke.h"

typedef struct _FMT_OUT {
    char *Buffer;
    SIZE_T Size;
    SIZE_T Length;              /* characters produced so far, even if cut */
} FMT_OUT;

static void FmtPut(FMT_OUT *Out, char C)
{
    if (Out->Length + 1 < Out->Size)
        Out->Buffer[Out->Length] = C;
    Out->Length++;
}

static void FmtRepeat(FMT_OUT *Out, char C, int Count)
{
    while (Count-- > 0)
        FmtPut(Out, C);
}

#define F_LEFT  0x01
#define F_ZERO  0x02
#define F_PLUS  0x04
#define F_SPACE 0x08
#define F_ALT   0x10
#define F_UPPER 0x20

/*
 * Emit one number. Digits are produced backwards into a small buffer; the
 * precision (minimum digits) and width (minimum field) are applied after.
 */
static void FmtNumber(FMT_OUT *Out, ULONG64 Value, BOOLEAN Negative, unsigned Base,
                      int Flags, int Width, int Precision)
{
    const char *digits = (Flags & F_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0, pad, prefixLen = 0;
    char prefix[3];
    BOOLEAN zero = Value == 0;

    if (zero && Precision == 0)
        n = 0;                  /* "%.0d" of zero prints nothing, as in C */
    else
        do {
            tmp[n++] = digits[Value % Base];
            Value /= Base;
        } while (Value);

    if (Negative)
        prefix[prefixLen++] = '-';
    else if (Flags & F_PLUS)
        prefix[prefixLen++] = '+';
    else if (Flags & F_SPACE)
        prefix[prefixLen++] = ' ';
    if ((Flags & F_ALT) && Base == 16 && !zero) {   /* C: no 0x for zero */
        prefix[prefixLen++] = '0';
        prefix[prefixLen++] = (Flags & F_UPPER) ? 'X' : 'x';
    }
    if ((Flags & F_ALT) && Base == 8 && (n == 0 || tmp[n - 1] != '0'))
        tmp[n++] = '0';

    if (Precision < n)
        Precision = n;
    pad = Width - Precision - prefixLen;

    /* C: the '0' flag is ignored when a precision is given or with '-'. */
    if (!(Flags & F_LEFT) && !(Flags & F_ZERO))
        FmtRepeat(Out, ' ', pad);
    for (int i = 0; i < prefixLen; i++)
        FmtPut(Out, prefix[i]);
    if (!(Flags & F_LEFT) && (Flags & F_ZERO))
        FmtRepeat(Out, '0', pad);
    FmtRepeat(Out, '0', Precision - n);
    while (n > 0)
        FmtPut(Out, tmp[--n]);
    if (Flags & F_LEFT)
        FmtRepeat(Out, ' ', pad);
}

static void FmtString(FMT_OUT *Out, const char *S, int Flags, int Width, int Precision)
{
    int len = 0;

    if (S == NULL)
        S = "(null)";
    /* Check the precision first: "%.4s" may point at 4 bytes with no NUL. */
    while ((Precision < 0 || len < Precision) && S[len])
        len++;
    if (!(Flags & F_LEFT))
        FmtRepeat(Out, ' ', Width - len);
    for (int i = 0; i < len; i++)
        FmtPut(Out, S[i]);
    if (Flags & F_LEFT)
        FmtRepeat(Out, ' ', Width - len);
}

enum { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE };

int RtlVsnprintf(char *Buffer, SIZE_T Size, PCSTR Format, va_list Args)
{
    FMT_OUT out = {Buffer, Size, 0};
    const char *f = Format;

    while (*f) {
        int flags = 0, width = 0, precision = -1, length = LEN_INT;
        ULONG64 value;
        BOOLEAN negative = FALSE;

        if (*f != '%') {
            FmtPut(&out, *f++);
            continue;
        }
        f++;

        for (;; f++) {
            if (*f == '-') flags |= F_LEFT;
            else if (*f == '0') flags |= F_ZERO;
            else if (*f == '+') flags |= F_PLUS;
            else if (*f == ' ') flags |= F_SPACE;
            else if (*f == '#') flags |= F_ALT;
            else break;
        }
        if (*f == '*') {
            width = va_arg(Args, int);
            if (width < 0) {
                flags |= F_LEFT;
                width = -width;
            }
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                width = width * 10 + (*f++ - '0');
        }
        if (*f == '.') {
            f++;
            precision = 0;
            if (*f == '*') {
                precision = va_arg(Args, int);
                f++;
            } else {
                while (*f >= '0' && *f <= '9')
                    precision = precision * 10 + (*f++ - '0');
            }
            if (precision < 0)
                precision = -1;
        }

        if (f[0] == 'h' && f[1] == 'h') { length = LEN_CHAR; f += 2; }
        else if (f[0] == 'h') { length = LEN_SHORT; f++; }
        else if (f[0] == 'l' && f[1] == 'l') { length = LEN_LLONG; f += 2; }
        else if (f[0] == 'l') { length = LEN_LONG; f++; }
        else if (f[0] == 'z' || f[0] == 't' || f[0] == 'j') { length = LEN_SIZE; f++; }
        else if (f[0] == 'I' && f[1] == '6' && f[2] == '4') { length = LEN_LLONG; f += 3; }

        switch (*f) {
        case 'd':
        case 'i': {
            LONG64 s;
            switch (length) {
            case LEN_CHAR: s = (signed char)va_arg(Args, int); break;
            case LEN_SHORT: s = (short)va_arg(Args, int); break;
            case LEN_LONG: s = va_arg(Args, long); break;
            case LEN_LLONG: s = va_arg(Args, long long); break;
            case LEN_SIZE: s = va_arg(Args, LONG_PTR); break;
            default: s = va_arg(Args, int); break;
            }
            negative = s < 0;
            /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
            value = negative ? (ULONG64)0 - (ULONG64)s : (ULONG64)s;
            if (precision >= 0)
                flags &= ~F_ZERO;
            FmtNumber(&out, value, negative, 10, flags, width, precision);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            switch (length) {
            case LEN_CHAR: value = (unsigned char)va_arg(Args, unsigned); break;
            case LEN_SHORT: value = (unsigned short)va_arg(Args, unsigned); break;
            case LEN_LONG: value = va_arg(Args, unsigned long); break;
            case LEN_LLONG: value = va_arg(Args, unsigned long long); break;
            case LEN_SIZE: value = va_arg(Args, SIZE_T); break;
            default: value = va_arg(Args, unsigned); break;
            }
            if (*f == 'X')
                flags |= F_UPPER;
            if (precision >= 0)
                flags &= ~F_ZERO;
            flags &= ~(F_PLUS | F_SPACE);
            FmtNumber(&out, value, FALSE, *f == 'o' ? 8 : (*f == 'u' ? 10 : 16),
                      flags, width, precision);
            break;
        case 'p':
            value = (ULONG_PTR)va_arg(Args, void *);
            FmtNumber(&out, value, FALSE, 16, (flags & F_LEFT) | F_UPPER,
                      width, 16);
            break;
        case 's':
            FmtString(&out, va_arg(Args, const char *), flags, width, precision);
            break;
        case 'c': {
            char c = (char)va_arg(Args, int);
            if (!(flags & F_LEFT))
                FmtRepeat(&out, ' ', width - 1);
            FmtPut(&out, c);
            if (flags & F_LEFT)
                FmtRepeat(&out, ' ', width - 1);
            break;
        }
        case '%':
            FmtPut(&out, '%');
            break;
        case '\0':
            f--;                /* a lone '%' at the end: print nothing */
            break;
        default:
            /* Unknown conversion: show it literally so the bug is visible. */
            FmtPut(&out, '%');
            FmtPut(&out, *f);
            break;
        }
        f++;
    }

    if (Size > 0)
        Buffer[out.Length < Size ? out.Length : Size - 1] = '\0';
    return (int)out.Length;
}

int RtlSnprintf(char *Buffer, SIZE_T Size, PCSTR Format, ...)
{
    va_list ap;
    int n;

    va_start(ap, Format);
    n = RtlVsnprintf(Buffer, Size, Format, ap);
    va_end(ap);
    return n;
}

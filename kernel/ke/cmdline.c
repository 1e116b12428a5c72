/*
 * cmdline.c - the kernel command line as a small key=value database.
 *
 * GRUB passes one string ("test=mm.* maxmem=512M nolowmem"). Subsystems ask
 * for their own options here instead of parsing it themselves. Words are
 * separated by spaces; a word is "key" or "key=value"; a value may be quoted
 * ("key=\"a b\""). When a key appears twice, the last one wins, as a later
 * option overriding an earlier one is what a person editing a GRUB line
 * expects. KiFindOption and KiParseNumber are hardware-free (host-tested).
 */
#include "ke_internal.h"

static char KiCommandLine[LOADER_MAX_COMMAND_LINE];

VOID KiSetCommandLine(PCSTR CommandLine)
{
    SIZE_T i;

    for (i = 0; CommandLine[i] && i < sizeof(KiCommandLine) - 1; i++)
        KiCommandLine[i] = CommandLine[i];
    KiCommandLine[i] = 0;
}

PCSTR KeGetCommandLine(VOID)
{
    return KiCommandLine;
}

static BOOLEAN KiIsSpace(char C)
{
    return C == ' ' || C == '\t' || C == '\n' || C == '\r';
}

BOOLEAN KiFindOption(PCSTR CommandLine, PCSTR Key, PCHAR Value, SIZE_T ValueSize)
{
    const char *p = CommandLine;
    BOOLEAN found = FALSE;
    SIZE_T keyLen = 0;

    while (Key[keyLen])
        keyLen++;
    if (keyLen == 0)
        return FALSE;

    while (*p) {
        const char *word, *val = NULL, *valEnd = NULL;
        SIZE_T wordKeyLen;

        while (KiIsSpace(*p))
            p++;
        if (!*p)
            break;
        word = p;
        while (*p && !KiIsSpace(*p) && *p != '=')
            p++;
        wordKeyLen = (SIZE_T)(p - word);
        if (*p == '=') {
            p++;
            if (*p == '"') {
                val = ++p;
                while (*p && *p != '"')
                    p++;
                valEnd = p;
                if (*p == '"')
                    p++;
            } else {
                val = p;
                while (*p && !KiIsSpace(*p))
                    p++;
                valEnd = p;
            }
        }
        /* Skip the rest of a malformed word such as "a=b"c. */
        while (*p && !KiIsSpace(*p))
            p++;

        if (wordKeyLen == keyLen && strncmp(word, Key, keyLen) == 0) {
            found = TRUE;   /* keep scanning: the last occurrence wins */
            if (Value && ValueSize) {
                SIZE_T n = val ? (SIZE_T)(valEnd - val) : 0;
                if (n > ValueSize - 1)
                    n = ValueSize - 1;
                for (SIZE_T i = 0; i < n; i++)
                    Value[i] = val[i];
                Value[n] = 0;
            }
        }
    }
    return found;
}

BOOLEAN KiParseNumber(PCSTR Text, PULONG64 Value)
{
    ULONG64 v = 0, base = 10, shift = 0;
    const char *p = Text;
    BOOLEAN any = FALSE;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (;; p++) {
        unsigned d;
        if (*p >= '0' && *p <= '9')
            d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = (unsigned)(*p - 'A' + 10);
        else
            break;
        if (v > (~0ULL - d) / base)
            return FALSE;       /* overflow */
        v = v * base + d;
        any = TRUE;
    }
    if (!any)
        return FALSE;
    switch (*p) {
    case 'k': case 'K': shift = 10; p++; break;
    case 'm': case 'M': shift = 20; p++; break;
    case 'g': case 'G': shift = 30; p++; break;
    default: break;
    }
    if (*p != 0)
        return FALSE;
    if (shift && v > (~0ULL >> shift))
        return FALSE;
    *Value = v << shift;
    return TRUE;
}

BOOLEAN KeQueryBootOption(PCSTR Key, PCHAR Value, SIZE_T ValueSize)
{
    return KiFindOption(KiCommandLine, Key, Value, ValueSize);
}

BOOLEAN KeQueryBootOptionNumber(PCSTR Key, PULONG64 Value)
{
    char text[32];

    if (!KiFindOption(KiCommandLine, Key, text, sizeof(text)))
        return FALSE;
    return KiParseNumber(text, Value);
}

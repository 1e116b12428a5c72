/*
 * unicode.c - counted strings: UNICODE_STRING and ANSI_STRING, as NT's
 * Rtl routines of the same names handle them. Object names (devices,
 * drivers) are UNICODE_STRINGs of 16-bit WCHARs; Mica writes them with
 * C11 u"" literals (GCC's L"" is 32 bits wide) or converts ASCII.
 */
#include "../io/io.h"

#define RTLP_TAG_STRING 'rtSU'
#define RTLP_MAX_USTRING_BYTES 0xFFFE   /* a USHORT of bytes, even */

VOID RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    SIZE_T bytes = 0;

    DestinationString->Buffer = (PWCH)SourceString;
    if (SourceString == NULL) {
        DestinationString->Length = DestinationString->MaximumLength = 0;
        return;
    }
    while (SourceString[bytes / sizeof(WCHAR)] != 0)
        bytes += sizeof(WCHAR);
    /* NT caps the length so the terminator still fits a USHORT. */
    if (bytes > RTLP_MAX_USTRING_BYTES - sizeof(WCHAR))
        bytes = RTLP_MAX_USTRING_BYTES - sizeof(WCHAR);
    DestinationString->Length = (USHORT)bytes;
    DestinationString->MaximumLength = (USHORT)(bytes + sizeof(WCHAR));
}

VOID RtlInitAnsiString(PANSI_STRING DestinationString, PCSTR SourceString)
{
    SIZE_T bytes;

    DestinationString->Buffer = (PCHAR)SourceString;
    if (SourceString == NULL) {
        DestinationString->Length = DestinationString->MaximumLength = 0;
        return;
    }
    bytes = strlen(SourceString);
    if (bytes > 0xFFFE)
        bytes = 0xFFFE;
    DestinationString->Length = (USHORT)bytes;
    DestinationString->MaximumLength = (USHORT)(bytes + 1);
}

static WCHAR RtlpUpcase(WCHAR c)
{
    return (c >= 'a' && c <= 'z') ? (WCHAR)(c - 'a' + 'A') : c;
}

BOOLEAN RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                              BOOLEAN CaseInSensitive)
{
    if (String1->Length != String2->Length)
        return FALSE;
    for (ULONG i = 0; i < String1->Length / sizeof(WCHAR); i++) {
        WCHAR a = String1->Buffer[i], b = String2->Buffer[i];

        if (CaseInSensitive) {
            a = RtlpUpcase(a);
            b = RtlpUpcase(b);
        }
        if (a != b)
            return FALSE;
    }
    return TRUE;
}

NTSTATUS RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString,
                                      PCANSI_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    ULONG bytes = (ULONG)SourceString->Length * sizeof(WCHAR);

    if (bytes + sizeof(WCHAR) > RTLP_MAX_USTRING_BYTES)
        return STATUS_INVALID_PARAMETER_2;
    if (AllocateDestinationString) {
        KI_CHECK_IRQL_AT_MOST(PASSIVE_LEVEL, RtlAnsiStringToUnicodeString);
        DestinationString->Buffer = ExAllocatePoolWithTag(PagedPool, bytes + sizeof(WCHAR),
                                                          RTLP_TAG_STRING);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
        DestinationString->MaximumLength = (USHORT)(bytes + sizeof(WCHAR));
    } else if (bytes > DestinationString->MaximumLength) {
        return STATUS_BUFFER_OVERFLOW;
    }
    /* ASCII widens byte for byte (Mica has no code pages). */
    for (ULONG i = 0; i < SourceString->Length; i++)
        DestinationString->Buffer[i] = (UCHAR)SourceString->Buffer[i];
    DestinationString->Length = (USHORT)bytes;
    if (bytes + sizeof(WCHAR) <= DestinationString->MaximumLength)
        DestinationString->Buffer[bytes / sizeof(WCHAR)] = 0;
    return STATUS_SUCCESS;
}

VOID RtlFreeUnicodeString(PUNICODE_STRING UnicodeString)
{
    if (UnicodeString->Buffer != NULL)
        ExFreePoolWithTag(UnicodeString->Buffer, RTLP_TAG_STRING);
    UnicodeString->Buffer = NULL;
    UnicodeString->Length = UnicodeString->MaximumLength = 0;
}

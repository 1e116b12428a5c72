/*
 * rtl.c - the memory and string routines the compiler and the kernel need.
 *
 * GCC emits calls to memset/memcpy/memmove/memcmp even in freestanding
 * code, so these carry the C names. memset and memcpy use "rep stosq" /
 * "rep movsq" for the bulk: with -cpu qemu64 that is the fastest form under
 * QEMU's TCG, and it sets the memset.4k/memcpy.4k floors the benchmarks
 * compare page-sized work against.
 */
#include "../ke/ke.h"

void *memset(void *Dest, int Value, size_t Count)
{
    PUCHAR d = Dest;
    ULONG64 pattern = 0x0101010101010101ULL * (UCHAR)Value;
    size_t quads = Count / 8;

    __asm__ __volatile__("rep stosq" : "+D"(d), "+c"(quads) : "a"(pattern) : "memory");
    for (Count &= 7; Count; Count--)
        *d++ = (UCHAR)Value;
    return Dest;
}

void *memcpy(void *__restrict Dest, const void *__restrict Src, size_t Count)
{
    PUCHAR d = Dest;
    const UCHAR *s = Src;
    size_t quads = Count / 8;

    __asm__ __volatile__("rep movsq" : "+D"(d), "+S"(s), "+c"(quads) : : "memory");
    for (Count &= 7; Count; Count--)
        *d++ = *s++;
    return Dest;
}

void *memmove(void *Dest, const void *Src, size_t Count)
{
    PUCHAR d = Dest;
    const UCHAR *s = Src;

    if (d <= s || d >= s + Count)
        return memcpy(Dest, Src, Count);
    /* Overlapping with the destination above: copy backwards. */
    while (Count--)
        d[Count] = s[Count];
    return Dest;
}

int memcmp(const void *A, const void *B, size_t Count)
{
    const UCHAR *a = A, *b = B;

    for (SIZE_T i = 0; i < Count; i++)
        if (a[i] != b[i])
            return a[i] - b[i];
    return 0;
}

SIZE_T KiCompareMemory(const void *A, const void *B, SIZE_T Length)
{
    const UCHAR *a = A, *b = B;
    SIZE_T i;

    for (i = 0; i < Length && a[i] == b[i]; i++)
        ;
    return i;           /* RtlCompareMemory: the number of matching bytes */
}

size_t strlen(PCSTR String)
{
    size_t n = 0;

    while (String[n])
        n++;
    return n;
}

int strcmp(PCSTR A, PCSTR B)
{
    while (*A && *A == *B) {
        A++;
        B++;
    }
    return (UCHAR)*A - (UCHAR)*B;
}

int strncmp(PCSTR A, PCSTR B, size_t Count)
{
    for (size_t i = 0; i < Count; i++) {
        if (A[i] != B[i] || !A[i])
            return (UCHAR)A[i] - (UCHAR)B[i];
    }
    return 0;
}

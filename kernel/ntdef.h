/*
 * ntdef.h - NT base types for Mica.
 *
 * Every public boundary in Mica speaks NT: ULONG, PVOID, NTSTATUS,
 * PHYSICAL_ADDRESS, KIRQL ... so that a student who looks a prototype up on
 * Microsoft Learn sees the same words. This header only defines types and a
 * handful of NTSTATUS values; it has no code and no hardware knowledge, so
 * host unit tests include it as well as the kernel.
 */
#ifndef MICA_NTDEF_H
#define MICA_NTDEF_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

typedef void VOID, *PVOID;
typedef const void *PCVOID;
typedef char CHAR, *PCHAR;
typedef signed char SCHAR;
typedef char CCHAR;                     /* NT: a small count (KeNumberProcessors) */
typedef const char *PCSTR;
typedef unsigned char UCHAR, *PUCHAR, BOOLEAN, *PBOOLEAN;
typedef int16_t SHORT;
typedef uint16_t USHORT, *PUSHORT, WCHAR;
typedef int32_t LONG, *PLONG;
typedef uint32_t ULONG, *PULONG;
/* 64-bit types are "long long", as NT's __int64, so %llx fits them all. */
typedef long long LONG64, LONGLONG, *PLONG64;
typedef unsigned long long ULONG64, ULONGLONG, *PULONG64;
typedef long long LONG_PTR;
typedef unsigned long long ULONG_PTR, *PULONG_PTR;
typedef ULONG_PTR SIZE_T, *PSIZE_T;
typedef LONG_PTR SSIZE_T;
typedef ULONG_PTR PFN_NUMBER, *PPFN_NUMBER;
typedef SHORT CSHORT;
typedef LONG NTSTATUS;
typedef UCHAR KIRQL, *PKIRQL;

#define TRUE  1
#define FALSE 0
#ifndef NULL
#define NULL ((void *)0)
#endif

typedef union _LARGE_INTEGER {
    struct {
        ULONG LowPart;
        LONG HighPart;
    };
    LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

typedef struct _LIST_ENTRY {
    struct _LIST_ENTRY *Flink;
    struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
    struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

#define MINLONG ((LONG)0x80000000)
#define MAXLONG ((LONG)0x7FFFFFFF)

/* NTSTATUS: severity in the top two bits; NT_SUCCESS is "not an error". */
#define NT_SUCCESS(Status) ((NTSTATUS)(Status) >= 0)
#define STATUS_SUCCESS                  ((NTSTATUS)0x00000000L)
#define STATUS_UNSUCCESSFUL             ((NTSTATUS)0xC0000001L)
#define STATUS_NOT_IMPLEMENTED          ((NTSTATUS)0xC0000002L)
#define STATUS_ACCESS_VIOLATION         ((NTSTATUS)0xC0000005L)
#define STATUS_IN_PAGE_ERROR            ((NTSTATUS)0xC0000006L)
#define STATUS_INVALID_PARAMETER        ((NTSTATUS)0xC000000DL)
#define STATUS_NO_MEMORY                ((NTSTATUS)0xC0000017L)
#define STATUS_ILLEGAL_INSTRUCTION      ((NTSTATUS)0xC000001DL)
#define STATUS_BUFFER_TOO_SMALL         ((NTSTATUS)0xC0000023L)
#define STATUS_INTEGER_DIVIDE_BY_ZERO   ((NTSTATUS)0xC0000094L)
#define STATUS_PRIVILEGED_INSTRUCTION   ((NTSTATUS)0xC0000096L)
#define STATUS_INSUFFICIENT_RESOURCES   ((NTSTATUS)0xC000009AL)
#define STATUS_NOT_FOUND                ((NTSTATUS)0xC0000225L)
#define STATUS_BREAKPOINT               ((NTSTATUS)0x80000003L)
#define STATUS_SINGLE_STEP              ((NTSTATUS)0x80000004L)
#define STATUS_DATATYPE_MISALIGNMENT    ((NTSTATUS)0x80000002L)
#define STATUS_WAIT_0                   ((NTSTATUS)0x00000000L)
#define STATUS_ABANDONED_WAIT_0         ((NTSTATUS)0x00000080L)
#define STATUS_USER_APC                 ((NTSTATUS)0x000000C0L)
#define STATUS_ALERTED                  ((NTSTATUS)0x00000101L)
#define STATUS_TIMEOUT                  ((NTSTATUS)0x00000102L)
#define STATUS_PENDING                  ((NTSTATUS)0x00000103L)
#define STATUS_INVALID_HANDLE           ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER_1      ((NTSTATUS)0xC00000EFL)
#define STATUS_MUTANT_NOT_OWNED         ((NTSTATUS)0xC0000046L)
#define STATUS_SEMAPHORE_LIMIT_EXCEEDED ((NTSTATUS)0xC0000047L)
#define STATUS_MUTANT_LIMIT_EXCEEDED    ((NTSTATUS)0xC0000191L)
#define STATUS_ABANDONED                ((NTSTATUS)0x00000080L)
#define STATUS_NO_YIELD_PERFORMED       ((NTSTATUS)0x40000024L)

typedef PVOID HANDLE, *PHANDLE;
typedef ULONG_PTR KAFFINITY, *PKAFFINITY;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef union _ULARGE_INTEGER {
    struct {
        ULONG LowPart;
        ULONG HighPart;
    };
    ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

#define PAGE_SIZE  0x1000UL
#define PAGE_SHIFT 12
#define BYTE_OFFSET(Va) ((ULONG)((ULONG_PTR)(Va) & (PAGE_SIZE - 1)))
#define PAGE_ALIGN(Va) ((PVOID)((ULONG_PTR)(Va) & ~(PAGE_SIZE - 1)))
#define ROUND_TO_PAGES(Size) (((ULONG_PTR)(Size) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define BYTES_TO_PAGES(Size) (((Size) >> PAGE_SHIFT) + (((Size) & (PAGE_SIZE - 1)) != 0))
#define ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size) \
    ((BYTE_OFFSET(Va) + ((SIZE_T)(Size)) + (PAGE_SIZE - 1)) >> PAGE_SHIFT)

#define ARRAYSIZE(A) (sizeof(A) / sizeof((A)[0]))
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#define FIELD_OFFSET(Type, Field) ((LONG)__builtin_offsetof(Type, Field))
#define CONTAINING_RECORD(Address, Type, Field) \
    ((Type *)((PCHAR)(Address) - (ULONG_PTR)(&((Type *)0)->Field)))

#endif

/*
 * rtl.h - the public face of kernel/rtl/ (Rtl, and the Ex list routines):
 * formatted output, memory and string routines, doubly and singly linked
 * lists, interlocked lists and S-lists - what a C library would give a
 * freestanding kernel. No hardware and no scheduler: host tests use it too.
 */
#ifndef MICA_RTL_H
#define MICA_RTL_H

#include "../ntdef.h"

/* C99 vsnprintf semantics: always NUL-terminates when Size > 0 and returns
 * the length the full output would have had. */
int RtlVsnprintf(char *Buffer, SIZE_T Size, PCSTR Format, va_list Args);
int RtlSnprintf(char *Buffer, SIZE_T Size, PCSTR Format, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Run-time library ---------------------------------------------------- */

/* C names and C types: the compiler calls these, and host tests get libc's. */
void *memset(void *Dest, int Value, size_t Count);
void *memcpy(void *__restrict Dest, const void *__restrict Src, size_t Count);
void *memmove(void *Dest, const void *Src, size_t Count);
int memcmp(const void *A, const void *B, size_t Count);
size_t strlen(PCSTR String);
int strcmp(PCSTR A, PCSTR B);
int strncmp(PCSTR A, PCSTR B, size_t Count);

#define RtlZeroMemory(Dest, Length) memset((Dest), 0, (Length))
#define RtlFillMemory(Dest, Length, Fill) memset((Dest), (Fill), (Length))
#define RtlCopyMemory(Dest, Src, Length) memcpy((Dest), (Src), (Length))
#define RtlMoveMemory(Dest, Src, Length) memmove((Dest), (Src), (Length))
#define RtlCompareMemory(A, B, Length) KiCompareMemory((A), (B), (Length))
SIZE_T KiCompareMemory(const void *A, const void *B, SIZE_T Length);

/* ---- Doubly linked lists (wdm.h's inline routines) ------------------------ */

/* An empty list is a head that points at itself both ways. */
static inline VOID InitializeListHead(PLIST_ENTRY ListHead)
{
    ListHead->Flink = ListHead->Blink = ListHead;
}

static inline BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead)
{
    return ListHead->Flink == ListHead;
}

static inline VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    Entry->Flink = ListHead;
    Entry->Blink = ListHead->Blink;
    ListHead->Blink->Flink = Entry;
    ListHead->Blink = Entry;
}

static inline VOID InsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry)
{
    Entry->Flink = ListHead->Flink;
    Entry->Blink = ListHead;
    ListHead->Flink->Blink = Entry;
    ListHead->Flink = Entry;
}

/* TRUE if the list is empty afterwards. */
static inline BOOLEAN RemoveEntryList(PLIST_ENTRY Entry)
{
    Entry->Blink->Flink = Entry->Flink;
    Entry->Flink->Blink = Entry->Blink;
    return Entry->Flink == Entry->Blink;
}

/* The list must not be empty (NT's rule: it returns the head itself then). */
static inline PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead)
{
    PLIST_ENTRY entry = ListHead->Flink;

    RemoveEntryList(entry);
    return entry;
}

/* ---- Interlocked lists and counters (Ex) ---------------------------------------- */

/*
 * The list head and entries are guarded by Lock, which must be used only
 * with the ExInterlocked routines: they take it with interrupts disabled,
 * so any IRQL (an ISR included) may call them. Insert returns the entry
 * that was first (last) before, Remove/Pop the entry removed; NULL when
 * the list was empty.
 */
PLIST_ENTRY ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                        PKSPIN_LOCK Lock);
PLIST_ENTRY ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                        PKSPIN_LOCK Lock);
PLIST_ENTRY ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock);
PSINGLE_LIST_ENTRY ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                              PSINGLE_LIST_ENTRY ListEntry, PKSPIN_LOCK Lock);
PSINGLE_LIST_ENTRY ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock);
/* Add Increment to *Addend under Lock; return the value before. Any IRQL. */
ULONG ExInterlockedAddUlong(PULONG Addend, ULONG Increment, PKSPIN_LOCK Lock);
LARGE_INTEGER ExInterlockedAddLargeInteger(PLARGE_INTEGER Addend, LARGE_INTEGER Increment,
                                           PKSPIN_LOCK Lock);

/* ---- Interlocked S-lists (kernel/rtl/slist.c) ----------------------------- */

#define DECLSPEC_ALIGN(Bytes) __attribute__((aligned(Bytes)))

/* An S-list entry: the first bytes of the item linked (a lookaside list's
 * cached block, say). */
typedef struct DECLSPEC_ALIGN(16) _SLIST_ENTRY {
    struct _SLIST_ENTRY *Next;
} SLIST_ENTRY, *PSLIST_ENTRY;

/*
 * x64 NT's 16-byte S-list header, changed with one cmpxchg16b: Depth and a
 * Sequence bumped by every push and pop in the low half (the sequence makes
 * a pop that raced with pop-push-pop fail instead of installing a stale
 * Next: the ABA problem), the first entry's address >> 4 in the high half.
 * Mica requires cmpxchg16b (CPUID.1:ECX.CX16), as Windows 8.1 does.
 */
typedef union DECLSPEC_ALIGN(16) _SLIST_HEADER {
    struct {
        ULONGLONG Alignment;
        ULONGLONG Region;
    };
    struct {
        ULONGLONG Depth : 16;
        ULONGLONG Sequence : 48;
        ULONGLONG Reserved : 4;
        ULONGLONG NextEntry : 60;       /* entry address >> 4 */
    } HeaderX64;
} SLIST_HEADER, *PSLIST_HEADER;

static inline VOID InitializeSListHead(PSLIST_HEADER SListHead)
{
    SListHead->Alignment = 0;
    SListHead->Region = 0;
}
#define ExInitializeSListHead InitializeSListHead

/* Any IRQL (entries must then be nonpaged). Push returns the previous first
 * entry; pop and flush return NULL for an empty list. The Lock argument of
 * the Ex forms is ignored on x64, as in NT. */
PSLIST_ENTRY InterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry);
PSLIST_ENTRY InterlockedPopEntrySList(PSLIST_HEADER ListHead);
PSLIST_ENTRY InterlockedFlushSList(PSLIST_HEADER ListHead);
PSLIST_ENTRY ExInterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry,
                                         PKSPIN_LOCK Lock);
PSLIST_ENTRY ExInterlockedPopEntrySList(PSLIST_HEADER ListHead, PKSPIN_LOCK Lock);
USHORT ExQueryDepthSList(PSLIST_HEADER SListHead);

#endif

/*
 * lab_lookaside.c - the lookaside lab's S-list header (tests/labs/
 * lookaside.md): after every push and pop the 16-byte header holds exactly
 * x64 NT's fields - Depth, a Sequence bumped by each push and pop (what
 * makes a pop that raced with pop-push-pop fail: the ABA problem), and the
 * first entry's address >> 4 - and a pop of an empty list changes nothing.
 */
#include "../../kernel/ke/ke.h"
#include "../ktest.h"

static PSLIST_ENTRY KtpLabFirst(const SLIST_HEADER *Head)
{
    return (PSLIST_ENTRY)((ULONG64)Head->HeaderX64.NextEntry << 4);
}

KTEST(lablookaside, header_fields_after_push_and_pop)
{
    static SLIST_HEADER head;
    static SLIST_ENTRY entries[2];
    ULONG64 sequence;

    InitializeSListHead(&head);
    head.HeaderX64.Sequence = 0xFFFFFFFFFFFEULL;    /* the 48-bit counter wraps */
    sequence = head.HeaderX64.Sequence;

    KEXPECT_EQ(InterlockedPushEntrySList(&head, &entries[0]), NULL);
    KEXPECT_EQ(entries[0].Next, NULL);
    KEXPECT_EQ(head.HeaderX64.Depth, 1);
    KEXPECT_EQ(head.HeaderX64.Sequence, sequence + 1);
    KEXPECT_EQ(KtpLabFirst(&head), &entries[0]);
    KEXPECT_EQ(head.HeaderX64.Reserved, 0);

    KEXPECT_EQ(InterlockedPushEntrySList(&head, &entries[1]), &entries[0]);
    KEXPECT_EQ(entries[1].Next, &entries[0]);
    KEXPECT_EQ(head.HeaderX64.Depth, 2);
    KEXPECT_EQ(head.HeaderX64.Sequence, 0);          /* wrapped, Depth untouched */
    KEXPECT_EQ(KtpLabFirst(&head), &entries[1]);

    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entries[1]);
    KEXPECT_EQ(head.HeaderX64.Depth, 1);
    KEXPECT_EQ(head.HeaderX64.Sequence, 1);
    KEXPECT_EQ(KtpLabFirst(&head), &entries[0]);

    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entries[0]);
    KEXPECT_EQ(head.HeaderX64.Depth, 0);
    KEXPECT_EQ(head.HeaderX64.Sequence, 2);
    KEXPECT_EQ(KtpLabFirst(&head), NULL);
}

/*
 * Pop, push the same entry back, pop again: the header's first entry is
 * what it was before, but its Sequence is not - so an exchange that still
 * expects the old header (a pop interrupted between reading the first
 * entry's link and its cmpxchg16b) fails instead of installing a stale
 * link.
 */
KTEST(lablookaside, same_first_entry_new_sequence)
{
    static SLIST_HEADER head;
    static SLIST_ENTRY entries[2];
    SLIST_HEADER before;

    InitializeSListHead(&head);
    InterlockedPushEntrySList(&head, &entries[0]);
    InterlockedPushEntrySList(&head, &entries[1]);
    before = head;
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entries[1]);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entries[0]);
    KEXPECT_EQ(InterlockedPushEntrySList(&head, &entries[1]), NULL);
    KEXPECT_EQ(KtpLabFirst(&head), KtpLabFirst(&before));
    KEXPECT_EQ(head.HeaderX64.Sequence, before.HeaderX64.Sequence + 3);
    KEXPECT_TRUE(head.Alignment != before.Alignment);
}

/* Popping an empty list returns NULL and leaves the header as it was
 * (Depth does not wrap to 0xFFFF). */
KTEST(lablookaside, pop_of_empty_list_changes_nothing)
{
    static SLIST_HEADER head;
    static SLIST_ENTRY entry;
    SLIST_HEADER before;

    InitializeSListHead(&head);
    InterlockedPushEntrySList(&head, &entry);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entry);
    before = head;
    KEXPECT_EQ(InterlockedPopEntrySList(&head), NULL);
    KEXPECT_EQ(head.Alignment, before.Alignment);
    KEXPECT_EQ(head.Region, before.Region);
    KEXPECT_EQ(ExQueryDepthSList(&head), 0);
}

/* Push and pop are callable at any IRQL up to DISPATCH_LEVEL and leave the
 * caller's IRQL as it was (the pop raises around its read of the link). */
KTEST(lablookaside, irql_is_restored)
{
    static SLIST_HEADER head;
    static SLIST_ENTRY entry;
    KIRQL old;

    InitializeSListHead(&head);
    InterlockedPushEntrySList(&head, &entry);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entry);
    KEXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeRaiseIrql(APC_LEVEL, &old);
    InterlockedPushEntrySList(&head, &entry);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entry);
    KEXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(old);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    InterlockedPushEntrySList(&head, &entry);
    KEXPECT_EQ(InterlockedPopEntrySList(&head), &entry);
    KEXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
}

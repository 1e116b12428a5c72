/*
 * test_pfnlists.c - the PFN database's page lists, on the host, against a model.
 *
 * mm/pfndb.c is compiled natively (MICA_HOST_TEST makes MmPfnDatabase an
 * ordinary array) and driven with random sequences of the operations the
 * kernel uses: take any page, take a zero page, take pages in a range,
 * take a contiguous run, give pages back free or zeroed. A per-page model
 * says where every page must be; after each step (every few hundred steps
 * on big memories) the checker walks every list both ways and compares:
 * every free page is on exactly one list, PageLocation agrees with its
 * list, list totals and MmAvailablePages are right, and the free-run tree
 * marks exactly the Zeroed and Free pages free. Several RAM layouts with
 * holes are used, and nolowmem mode (low pages on their own list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../ktest.h"
#include "../../mm/mm_internal.h"

/* ---- what pfndb.c needs from the rest of the kernel ------------------------ */

PMMPFN MiHostPfnDatabase;
BOOLEAN MiNoLowMemory;
ULONG MiPhysicalRunCount;
MI_PHYSICAL_RUN MiPhysicalRuns[MI_MAX_PHYSICAL_RUNS];
PFN_NUMBER MmNumberOfPhysicalPages, MmHighestPhysicalPage, MmLowestPhysicalPage;
static LOADER_PARAMETER_BLOCK HostLoaderBlock;
PLOADER_PARAMETER_BLOCK KeLoaderBlock = &HostLoaderBlock;
/* Far above every PFN the tests use: the "kernel image" is not in test RAM. */
char KiBootImageStart[1], KiImageEnd[1];

static PFN_NUMBER HostBootStart, HostBootCount;
static ULONG HostZeroCalls;

BOOLEAN MiIsBootAllocatedPage(PFN_NUMBER Pfn)
{
    return Pfn >= HostBootStart && Pfn < HostBootStart + HostBootCount;
}

VOID MiZeroPhysicalPage(PFN_NUMBER Page)
{
    (void)Page;
    HostZeroCalls++;
}

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    *SpinLock = 0;
}

VOID KeBugCheckEx(ULONG Code, ULONG_PTR P1, ULONG_PTR P2, ULONG_PTR P3, ULONG_PTR P4)
{
    fprintf(stderr, "KeBugCheckEx(0x%x, %llx, %llx, %llx, %llx) in a host test\n", Code,
            (unsigned long long)P1, (unsigned long long)P2, (unsigned long long)P3,
            (unsigned long long)P4);
    abort();
}

/* ---- the model --------------------------------------------------------------------- */

enum { S_NOT_RAM, S_LOCKED, S_FREE, S_ZEROED, S_LOW_FREE, S_ACTIVE };

static unsigned char *Model;
static PFN_NUMBER ModelPages;
/* The model's active pages as a set with O(1) add, remove and random pick. */
static PFN_NUMBER *ActivePages, *ActiveIndex, ActiveCount;
static unsigned *Visited;
static void *TreeStorage;
static ULONG64 Rng = 0x2545F4914F6CDD1DULL;

static ULONG64 Rand(void)
{
    return KtestRandom(&Rng);
}

static void ResetList(PMMPFNLIST List, MMLISTS Name)
{
    List->Total = 0;
    List->ListName = Name;
    List->Flink = List->Blink = MI_LIST_END;
}

/* Build a PFN database over Runs; the first BootPages of run 0 are boot pages. */
static void Setup(const MI_PHYSICAL_RUN *Runs, ULONG Count, PFN_NUMBER BootPages, BOOLEAN NoLow)
{
    PFN_NUMBER total = 0;

    MiPhysicalRunCount = Count;
    memcpy(MiPhysicalRuns, Runs, Count * sizeof(*Runs));
    for (ULONG i = 0; i < Count; i++)
        total += Runs[i].PageCount;
    MmNumberOfPhysicalPages = total;
    MmLowestPhysicalPage = Runs[0].BasePage;
    MmHighestPhysicalPage = Runs[Count - 1].BasePage + Runs[Count - 1].PageCount - 1;
    MiNoLowMemory = NoLow;
    HostBootStart = Runs[0].BasePage;
    HostBootCount = BootPages;

    ModelPages = MmHighestPhysicalPage + 1;
    MiHostPfnDatabase = malloc(ModelPages * sizeof(MMPFN));
    memset(MiHostPfnDatabase, 0xA5, ModelPages * sizeof(MMPFN)); /* like unzeroed RAM */
    Model = calloc(ModelPages, 1);
    Visited = calloc(ModelPages, sizeof(unsigned));
    ActivePages = malloc(ModelPages * sizeof(PFN_NUMBER));
    ActiveIndex = malloc(ModelPages * sizeof(PFN_NUMBER));
    ActiveCount = 0;
    TreeStorage = malloc(MiRunTreeStorageSize(ModelPages));
    MiRunTreeInitialize(&MiFreeRunTree, TreeStorage, ModelPages);

    ResetList(&MmZeroedPageListHead, ZeroedPageList);
    ResetList(&MmFreePageListHead, FreePageList);
    ResetList(&MmStandbyPageListHead, StandbyPageList);
    ResetList(&MmModifiedPageListHead, ModifiedPageList);
    ResetList(&MmModifiedNoWritePageListHead, ModifiedNoWritePageList);
    ResetList(&MmBadPageListHead, BadPageList);
    ResetList(&MmLowFreePageListHead, FreePageList);
    MmAvailablePages = 0;

    MiInitializePfnDatabase();
    for (ULONG i = 0; i < Count; i++)
        for (PFN_NUMBER p = Runs[i].BasePage; p < Runs[i].BasePage + Runs[i].PageCount; p++)
            Model[p] = MiIsBootAllocatedPage(p) ? S_LOCKED
                     : (NoLow && p < (MM_4GB >> PAGE_SHIFT)) ? S_LOW_FREE : S_FREE;
}

static void Teardown(void)
{
    free(MiHostPfnDatabase);
    free(Model);
    free(Visited);
    free(ActivePages);
    free(ActiveIndex);
    free(TreeStorage);
}

static BOOLEAN IsFreeState(unsigned char S)
{
    return S == S_FREE || S == S_ZEROED || S == S_LOW_FREE;
}

/* Walk List both ways; every page must be in state Want in the model. */
static PFN_NUMBER WalkList(PMMPFNLIST List, unsigned char Want, unsigned Stamp)
{
    PFN_NUMBER n = 0, prev = MI_LIST_END;

    for (PFN_NUMBER p = List->Flink; p != MI_LIST_END; p = MI_PFN_ELEMENT(p)->u1.Flink) {
        PMMPFN pfn = MI_PFN_ELEMENT(p);
        if (p >= ModelPages) {
            KtestFail(__FILE__, __LINE__, "list link %llx out of range", (unsigned long long)p);
            return n;
        }
        KEXPECT_EQ(Model[p], Want);
        KEXPECT_NE(Visited[p], Stamp);          /* on exactly one list, once */
        Visited[p] = Stamp;
        KEXPECT_EQ(pfn->u2.Blink, prev);
        KEXPECT_EQ(pfn->PageLocation, List->ListName);
        KEXPECT_EQ(!!(pfn->Flags & MI_PFN_LOW_RESERVE), List == &MmLowFreePageListHead);
        prev = p;
        if (++n > ModelPages)
            break;                              /* a cycle: the counts below fail */
    }
    KEXPECT_EQ(List->Blink, prev);
    KEXPECT_EQ(n, List->Total);
    return n;
}

static unsigned CheckStamp;

static void CheckAll(void)
{
    PFN_NUMBER counts[6] = {0};
    unsigned stamp = ++CheckStamp;

    WalkList(&MmFreePageListHead, S_FREE, stamp);
    WalkList(&MmZeroedPageListHead, S_ZEROED, stamp);
    WalkList(&MmLowFreePageListHead, S_LOW_FREE, stamp);
    for (PFN_NUMBER p = 0; p < ModelPages; p++) {
        counts[Model[p]]++;
        if (IsFreeState(Model[p]))
            KEXPECT_EQ(Visited[p], stamp);      /* every free page is on a list */
        KEXPECT_EQ(MiRunTreeIsFree(&MiFreeRunTree, p), IsFreeState(Model[p]));
        if (Model[p] == S_ACTIVE || Model[p] == S_LOCKED)
            KEXPECT_EQ(MI_PFN_ELEMENT(p)->PageLocation, ActiveAndValid);
    }
    KEXPECT_EQ(MmFreePageListHead.Total, counts[S_FREE]);
    KEXPECT_EQ(MmZeroedPageListHead.Total, counts[S_ZEROED]);
    KEXPECT_EQ(MmLowFreePageListHead.Total, counts[S_LOW_FREE]);
    KEXPECT_EQ(MmAvailablePages, counts[S_FREE] + counts[S_ZEROED]);
    KEXPECT_TRUE(MiRunTreeVerify(&MiFreeRunTree));
}

/* Take a random active page out of the model's set, or MI_LIST_END. */
static PFN_NUMBER PickActive(void)
{
    PFN_NUMBER i, p;

    if (ActiveCount == 0)
        return MI_LIST_END;
    i = Rand() % ActiveCount;
    p = ActivePages[i];
    ActivePages[i] = ActivePages[--ActiveCount];
    ActiveIndex[ActivePages[i]] = i;
    return p;
}

static PFN_NUMBER CountState(unsigned char S)
{
    PFN_NUMBER n = 0;
    for (PFN_NUMBER p = 0; p < ModelPages; p++)
        n += Model[p] == S;
    return n;
}

/* Lowest free page (in the tree's sense) in [Low, High], or MI_LIST_END. */
static PFN_NUMBER ModelLowestFree(PFN_NUMBER Low, PFN_NUMBER High, PFN_NUMBER Run)
{
    for (PFN_NUMBER p = Low; p + Run - 1 <= High && p + Run - 1 < ModelPages; p++) {
        PFN_NUMBER k = 0;
        while (k < Run && IsFreeState(Model[p + k]))
            k++;
        if (k == Run)
            return p;
        p += k;
    }
    return MI_LIST_END;
}

static void MarkActive(PFN_NUMBER P)
{
    Model[P] = S_ACTIVE;
    ActiveIndex[P] = ActiveCount;
    ActivePages[ActiveCount++] = P;
}

static void TakeActive(PFN_NUMBER P)
{
    MiInitializePfnForActivePage(P, NULL, MiCached);
    MarkActive(P);
}

static void RandomOps(ULONG Ops, ULONG CheckEvery, BOOLEAN ExactSearch)
{
    PFN_NUMBER pages[64];

    for (ULONG op = 0; op < Ops && !KtestCurrentFailed; op++) {
        ULONG kind = Rand() % 7;
        PFN_NUMBER p;

        switch (kind) {
        case 0: {   /* MiRemoveAnyPage: the Free list first, then Zeroed; never low reserve */
            BOOLEAN hadFree = MmFreePageListHead.Total > 0, hadAny = MmAvailablePages > 0;
            p = MiRemoveAnyPage(0);
            if (!hadAny) {
                KEXPECT_EQ(p, 0);
                break;
            }
            KASSERT_NE(p, 0);
            KEXPECT_EQ(Model[p], hadFree ? S_FREE : S_ZEROED);
            TakeActive(p);
            break;
        }
        case 1: {   /* MiRemoveZeroPage: Zeroed first, else Free + zeroing */
            BOOLEAN hadZero = MmZeroedPageListHead.Total > 0, hadFree = MmFreePageListHead.Total > 0;
            ULONG zeroCalls = HostZeroCalls;
            p = MiRemoveZeroPage(0);
            if (!hadZero && !hadFree) {
                KEXPECT_EQ(p, 0);
                break;
            }
            KASSERT_NE(p, 0);
            KEXPECT_EQ(Model[p], hadZero ? S_ZEROED : S_FREE);
            KEXPECT_EQ(HostZeroCalls - zeroCalls, hadZero ? 0u : 1u);
            TakeActive(p);
            break;
        }
        case 2:     /* give an active page back, not zeroed */
            if ((p = PickActive()) != MI_LIST_END) {
                MiFreeActivePage(p);
                Model[p] = MiNoLowMemory && p < (MM_4GB >> PAGE_SHIFT) ? S_LOW_FREE : S_FREE;
            }
            break;
        case 3:     /* give an active page back as zeroed */
            if ((p = PickActive()) != MI_LIST_END) {
                if (MiNoLowMemory && p < (MM_4GB >> PAGE_SHIFT)) {
                    MarkActive(p);      /* low pages never go on the Zeroed list */
                    break;
                }
                MiInsertPageInList(&MmZeroedPageListHead, p);
                Model[p] = S_ZEROED;
            }
            break;
        case 4: {   /* MiAllocatePagesInRange: lowest pages first, all inside the range */
            PFN_NUMBER low = Rand() % ModelPages, high = low + Rand() % 4096, n, want = 1 + Rand() % 64;
            PFN_NUMBER expect = ExactSearch ? ModelLowestFree(low, high, 1) : MI_LIST_END;
            n = MiAllocatePagesInRange(low, high, want, pages);
            KEXPECT_ULE(n, want);
            if (ExactSearch && n > 0)
                KEXPECT_EQ(pages[0], expect);
            if (ExactSearch && n == 0)
                KEXPECT_EQ(expect, MI_LIST_END);
            for (PFN_NUMBER i = 0; i < n; i++) {
                KEXPECT_TRUE(pages[i] >= low && pages[i] <= high);
                KEXPECT_TRUE(IsFreeState(Model[pages[i]]));
                if (i > 0)
                    KEXPECT_GT(pages[i], pages[i - 1]);
                MarkActive(pages[i]);
            }
            break;
        }
        case 5: {   /* a contiguous run, as contig.c takes one */
            PFN_NUMBER run = 1 + Rand() % 32, low = Rand() % ModelPages, high = ModelPages - 1;
            PFN_NUMBER start = MiRunTreeFind(&MiFreeRunTree, run, low, high, 0);
            if (ExactSearch)
                KEXPECT_EQ(start == MI_RUN_NONE ? MI_LIST_END : start,
                           ModelLowestFree(low, high, run));
            if (start == MI_RUN_NONE)
                break;
            for (PFN_NUMBER q = start; q < start + run; q++) {
                KEXPECT_TRUE(IsFreeState(Model[q]));
                MiUnlinkPageFromList(q);
                TakeActive(q);
            }
            break;
        }
        default:    /* free a run of active pages back */
            for (int i = 0; i < 8; i++)
                if ((p = PickActive()) != MI_LIST_END) {
                    MiInsertPageInFreeList(p);
                    Model[p] = MiNoLowMemory && p < (MM_4GB >> PAGE_SHIFT) ? S_LOW_FREE : S_FREE;
                }
            break;
        }
        if (op % CheckEvery == 0)
            CheckAll();
    }
    CheckAll();
}

KTEST(pfnlists, single_run)
{
    MI_PHYSICAL_RUN runs[] = {{256, 1000}};

    Setup(runs, 1, 5, FALSE);
    CheckAll();
    KEXPECT_EQ(CountState(S_LOCKED), 5);
    KEXPECT_EQ(MmFreePageListHead.Total, 995);
    RandomOps(30000, 1, TRUE);
    Teardown();
}

KTEST(pfnlists, holes)
{
    MI_PHYSICAL_RUN runs[] = {{100, 500}, {700, 800}, {4000, 100}, {4101, 1}};

    Setup(runs, 4, 3, FALSE);
    CheckAll();
    RandomOps(60000, 4, TRUE);
    Teardown();
}

KTEST(pfnlists, large_with_hole)
{
    MI_PHYSICAL_RUN runs[] = {{256, 100000}, {150000, 100000}};

    Setup(runs, 2, 300, FALSE);
    CheckAll();
    RandomOps(1000000, 100000, FALSE);
    Teardown();
}

KTEST(pfnlists, nolowmem)
{
    /* RAM below and above 4 GiB (PFN 0x100000); low pages stay off the Free list. */
    MI_PHYSICAL_RUN runs[] = {{0x100, 2000}, {0x100000, 3000}};

    Setup(runs, 2, 4, TRUE);
    CheckAll();
    KEXPECT_EQ(MmLowFreePageListHead.Total, 1996);
    KEXPECT_EQ(MmFreePageListHead.Total, 3000);
    RandomOps(200000, 5000, FALSE);
    /* Ordinary allocations never get a low page. */
    for (PFN_NUMBER p; (p = MiRemoveAnyPage(0)) != 0;) {
        KEXPECT_GE(p, 0x100000);
        TakeActive(p);
    }
    KEXPECT_GT(MmLowFreePageListHead.Total, 0);
    CheckAll();
    Teardown();
}

KTEST(pfnlists, nolowmem_range_across_4gib)
{
    /* A range that also accepts memory above 4 GiB gets none below it, even
     * when it starts at 0; a range that ends below 4 GiB gets low pages. */
    MI_PHYSICAL_RUN runs[] = {{0x100, 2000}, {0x100000, 3000}};
    PFN_NUMBER pages[64], n;

    Setup(runs, 2, 4, TRUE);
    n = MiAllocatePagesInRange(0, MmHighestPhysicalPage, 64, pages);
    KEXPECT_EQ(n, 64);
    for (PFN_NUMBER i = 0; i < n; i++) {
        KEXPECT_GE(pages[i], 0x100000);
        MarkActive(pages[i]);
    }
    n = MiAllocatePagesInRange(0, 0xFFFFF, 64, pages);
    KEXPECT_EQ(n, 64);
    for (PFN_NUMBER i = 0; i < n; i++) {
        KEXPECT_LT(pages[i], 0x100000);
        KEXPECT_EQ(Model[pages[i]], S_LOW_FREE);
        MarkActive(pages[i]);
    }
    CheckAll();
    Teardown();
}

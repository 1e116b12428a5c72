/*
 * pagesec.c - pageable sections of the kernel image, NT's way:
 * MmLockPagableCodeSection, MmLockPagableDataSection,
 * MmLockPagableSectionByHandle, MmUnlockPagableImageSection,
 * MmPageEntireDriver and MmResetDriverPaging.
 *
 * linker.ld gathers the functions marked MM_PAGEABLE_CODE (mm.h) into the
 * PAGE section and the variables marked MM_PAGEABLE_DATA into PAGEDATA,
 * each on whole pages; drivers' PAGE code stays in the drivers' range (a
 * stop in it names a driver: 0xD1), and one test driver (pagetouch) has an
 * image of its own pages so that MmPageEntireDriver can page it whole.
 * MiImageSections lists them all.
 *
 * With a page file (phase 2) the pages of the pageable sections join the
 * system working set the way paged pool's pages are in it (pager.c):
 * MI_PFN_PAGEABLE, the PFN pointing at the PTE, and MI_PFN_MODIFIED - no
 * copy exists but the one in memory, so a trimmed page goes through the
 * Modified list to the page file before its frame may be given away. Its
 * invalid PTEs carry the section's protection (code: MM_EXECUTE_READ), so
 * it comes back executable and read-only. Each such frame joins the
 * commit limit and is charged as a resident page (it was counted in
 * neither before: commit.c). Without a page file nothing changes: the
 * pages stay resident, as the rest of the image.
 *
 * A lock is a count per section, under MiSectionMutex (a fast mutex:
 * locking may fault pages in and wait for the page file). Count 0 -> 1
 * pins: each page is made valid (a soft or hard fault, as a touch) and
 * given one more reference, as an MDL lock does, so the trimmer passes it
 * over (pager.c takes only pages with one reference). 1 -> 0 drops those
 * references. Unlocking a section whose count is 0 is MEMORY_MANAGEMENT
 * 0x1010, locking where no pageable section is 0x1234, as in NT.
 *
 * The public routines that only look things up and loop run from PAGE, as
 * NT's do (IRQL <= APC_LEVEL); everything that holds MmPfnLock is in
 * nonpaged helpers: at DISPATCH_LEVEL a page of PAGE may not be touched,
 * since another processor's trim may take it at any moment.
 */
#include "pool_internal.h"

#define MM_UNLOCK_OF_UNLOCKED_SECTION 0x1010    /* MEMORY_MANAGEMENT parameter 1 */
#define MM_LOCK_OF_NO_SECTION         0x1234
#define MM_CORRUPT_PTE                0x411
#define PFN_LIST_CORRUPT_UNLOCK_NOT_LOCKED 0x07

/* A driver image with pages of its own (linker.ld). */
typedef struct _MI_DRIVER_IMAGE {
    const char *Name;
    char *Start, *End;
    BOOLEAN EntirePaged;                /* MmPageEntireDriver in effect (MiSectionMutex) */
} MI_DRIVER_IMAGE;

typedef struct _MI_IMAGE_SECTION {
    const char *Name;
    char *Start, *End;                  /* page aligned */
    BOOLEAN Pageable;                   /* at link time: a PAGE section */
    MI_DRIVER_IMAGE *Image;             /* NULL: the kernel's (never paged whole) */
    ULONG LockCount;                    /* MiSectionMutex */
} MI_IMAGE_SECTION;

static MI_DRIVER_IMAGE MiPagetouchImage = {"pagetouch", KiPagetouchImageStart, KiPagetouchImageEnd, FALSE};

static MI_IMAGE_SECTION MiImageSections[] = {
    {"PAGE", KiPageCodeStart, KiPageCodeEnd, TRUE, NULL, 0},
    {"PAGEDATA", KiPageDataStart, KiPageDataEnd, TRUE, NULL, 0},
    {"drivers' PAGE", KiDriverPageStart, KiDriverPageEnd, TRUE, NULL, 0},
    {"pagetouch .text", KiPagetouchImageStart, KiPagetouchPageStart, FALSE, &MiPagetouchImage, 0},
    {"pagetouch PAGE", KiPagetouchPageStart, KiPagetouchImageEnd, TRUE, &MiPagetouchImage, 0},
};
#define MI_IMAGE_SECTIONS (sizeof(MiImageSections) / sizeof(MiImageSections[0]))

static FAST_MUTEX MiSectionMutex;

/* Nonpaged (the fault path asks): the section holding Va, or NULL. */
static MI_IMAGE_SECTION *MiFindImageSection(PVOID Va)
{
    for (ULONG i = 0; i < MI_IMAGE_SECTIONS; i++)
        if ((char *)Va >= MiImageSections[i].Start && (char *)Va < MiImageSections[i].End)
            return &MiImageSections[i];
    return NULL;
}

static BOOLEAN MiIsSectionHandle(PVOID Handle)
{
    for (ULONG i = 0; i < MI_IMAGE_SECTIONS; i++)
        if (Handle == &MiImageSections[i])
            return TRUE;
    return FALSE;
}

/* May Va's page be paged out at all? Any listed section: whether it is
 * now is the PFN's business (and a valid PTE needs no fault). */
BOOLEAN MiIsPageableImageAddress(PVOID Va)
{
    return MiFindImageSection(Va) != NULL;
}

/* ---- Per page, under MmPfnLock: nonpaged -------------------------------------------- */

/* Make Va's page valid, as a touch would. */
static void MiFaultInImagePage(PUCHAR Va)
{
    if (!MiResolvePagedPoolFault(Va))
        KeBugCheckEx(MEMORY_MANAGEMENT, MM_CORRUPT_PTE, (ULONG_PTR)MiGetPteAddress(Va),
                     (ULONG_PTR)MiGetPteAddress(Va)->Long, (ULONG_PTR)Va);
}

/* One more reference on Va's frame, made valid first: the trimmer skips it. */
static __attribute__((noinline)) void MiPinImagePage(PUCHAR Va)
{
    PMMPTE pte = MiGetPteAddress(Va);
    KIRQL irql;

    for (;;) {
        KeAcquireSpinLock(&MmPfnLock, &irql);
        if (pte->Long & MM_PTE_VALID) {
            MI_PFN_ELEMENT(MI_PTE_FRAME(*pte))->ReferenceCount++;
            KeReleaseSpinLock(&MmPfnLock, irql);
            return;
        }
        KeReleaseSpinLock(&MmPfnLock, irql);
        MiFaultInImagePage(Va);         /* trimmed again meanwhile: look again */
    }
}

/* The pin's reference goes: a pinned page was never trimmed, so it is valid. */
static __attribute__((noinline)) void MiUnpinImagePage(PUCHAR Va)
{
    PMMPTE pte = MiGetPteAddress(Va);
    PFN_NUMBER frame;
    PMMPFN pfn;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (!(pte->Long & MM_PTE_VALID))
        KeBugCheckEx(MEMORY_MANAGEMENT, MM_CORRUPT_PTE, (ULONG_PTR)pte, (ULONG_PTR)pte->Long, (ULONG_PTR)Va);
    frame = MI_PTE_FRAME(*pte);
    pfn = MI_PFN_ELEMENT(frame);
    if (pfn->ReferenceCount <= 1)
        KeBugCheckEx(PFN_LIST_CORRUPT, PFN_LIST_CORRUPT_UNLOCK_NOT_LOCKED, frame, pfn->u2.ShareCount, 0);
    pfn->ReferenceCount--;
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* A resident image page joins the system working set (its PTE is valid:
 * a page that is not was made pageable before). */
static __attribute__((noinline)) void MiMakeImagePagePageable(PUCHAR Va)
{
    PMMPTE pte = MiGetPteAddress(Va);
    PMMPFN pfn;
    KIRQL irql;

    KeAcquireSpinLock(&MmPfnLock, &irql);
    if (pte->Long & MM_PTE_VALID) {
        pfn = MI_PFN_ELEMENT(MI_PTE_FRAME(*pte));
        if (!(pfn->Flags & MI_PFN_PAGEABLE)) {
            /* Born dirty, as a demand-zero page: the only copy is here. */
            pfn->Flags = (UCHAR)((pfn->Flags & ~MI_PFN_LOCKED) | MI_PFN_PAGEABLE | MI_PFN_MODIFIED);
            pfn->PteAddress = pte;
            pfn->PteFrame = MI_PTE_FRAME(*MiGetPteAddress(pte));
            pfn->u2.ShareCount = 1;
            pfn->PagingFlags = 0;
            pfn->OriginalPte.Long = MM_KERNEL_DEMAND_ZERO_PTE;
            MI_PFN_ELEMENT(pfn->PteFrame)->UsedPageTableEntries++;     /* trim takes one off */
            MmTotalCommitLimit++;       /* the frame can now back a promise */
            MmTotalCommittedPages++;    /* ... and keeps its own: resident */
        }
    }
    KeReleaseSpinLock(&MmPfnLock, irql);
}

/* A pageable image page leaves the working set: faulted in, locked in
 * memory for good, its page-file copy (if any) given back. */
static __attribute__((noinline)) void MiMakeImagePageResident(PUCHAR Va)
{
    PMMPTE pte = MiGetPteAddress(Va);
    LARGE_INTEGER ms = {.QuadPart = -10000LL};
    PMMPFN pfn;
    KIRQL irql;

    for (;;) {
        KeAcquireSpinLock(&MmPfnLock, &irql);
        if (!(pte->Long & MM_PTE_VALID)) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            MiFaultInImagePage(Va);
            continue;
        }
        pfn = MI_PFN_ELEMENT(MI_PTE_FRAME(*pte));
        if (!(pfn->Flags & MI_PFN_PAGEABLE)) {
            KeReleaseSpinLock(&MmPfnLock, irql);
            return;
        }
        if (pfn->PagingFlags & (MI_PAGING_READ_IN_PROGRESS | MI_PAGING_WRITE_IN_PROGRESS)) {
            /* The writer's completion still owns the frame's slot. */
            KeReleaseSpinLock(&MmPfnLock, irql);
            KeDelayExecutionThread(KernelMode, FALSE, &ms);
            continue;
        }
        if (MiIsPageFilePte(pfn->OriginalPte))
            MiReleasePageFileSlot(pfn->OriginalPte.Soft.PageFileHigh);
        pfn->OriginalPte.Long = 0;
        pfn->Flags = (UCHAR)((pfn->Flags & ~(MI_PFN_PAGEABLE | MI_PFN_MODIFIED)) | MI_PFN_LOCKED);
        pfn->PagingFlags = 0;
        MI_PFN_ELEMENT(MI_PTE_FRAME(*MiGetPteAddress(pte)))->UsedPageTableEntries--;
        MmTotalCommitLimit--;
        MmTotalCommittedPages--;
        KeReleaseSpinLock(&MmPfnLock, irql);
        return;
    }
}

/* ---- Per section (MiSectionMutex held) ---------------------------------------------------- */

static BOOLEAN MiSectionIsPageable(MI_IMAGE_SECTION *S)
{
    return S->Pageable || (S->Image != NULL && S->Image->EntirePaged);
}

static void MiPinSection(MI_IMAGE_SECTION *S)
{
    for (PUCHAR va = (PUCHAR)S->Start; va < (PUCHAR)S->End; va += PAGE_SIZE)
        MiPinImagePage(va);
}

static void MiUnpinSection(MI_IMAGE_SECTION *S)
{
    for (PUCHAR va = (PUCHAR)S->Start; va < (PUCHAR)S->End; va += PAGE_SIZE)
        MiUnpinImagePage(va);
}

static void MiMakeSectionPageable(MI_IMAGE_SECTION *S)
{
    if (!MiPagingEnabled)
        return;                         /* nothing to page to: resident, as NT without paging */
    for (PUCHAR va = (PUCHAR)S->Start; va < (PUCHAR)S->End; va += PAGE_SIZE)
        MiMakeImagePagePageable(va);
}

static void MiMakeSectionResident(MI_IMAGE_SECTION *S)
{
    if (!MiPagingEnabled)
        return;
    for (PUCHAR va = (PUCHAR)S->Start; va < (PUCHAR)S->End; va += PAGE_SIZE)
        MiMakeImagePageResident(va);
}

/* Phase 0: the lock. Phase 2, with a page file: the PAGE sections join
 * the working set. */
VOID MiInitializePageableSections(ULONG Phase)
{
    if (Phase == 0) {
        ExInitializeFastMutex(&MiSectionMutex);
        return;
    }
    ExAcquireFastMutex(&MiSectionMutex);
    for (ULONG i = 0; i < MI_IMAGE_SECTIONS; i++)
        if (MiSectionIsPageable(&MiImageSections[i]))
            MiMakeSectionPageable(&MiImageSections[i]);
    ExReleaseFastMutex(&MiSectionMutex);
    if (MiPagingEnabled)
        DbgPrint("Mm: pageable sections: PAGE %llu, PAGEDATA %llu pages\n",
                 (ULONG64)(KiPageCodeEnd - KiPageCodeStart) >> PAGE_SHIFT,
                 (ULONG64)(KiPageDataEnd - KiPageDataStart) >> PAGE_SHIFT);
}

/* kd's !pagesec: read without locks, as a debugger reads. */
BOOLEAN MiQueryImageSection(ULONG Index, PMI_IMAGE_SECTION_INFO Info)
{
    MI_IMAGE_SECTION *s;

    if (Index >= MI_IMAGE_SECTIONS)
        return FALSE;
    s = &MiImageSections[Index];
    Info->Name = s->Name;
    Info->Image = s->Image != NULL ? s->Image->Name : "mica";
    Info->Start = s->Start;
    Info->End = s->End;
    Info->EntirePaged = s->Image != NULL && s->Image->EntirePaged;
    Info->Pageable = MiPagingEnabled && MiSectionIsPageable(s);
    Info->LockCount = s->LockCount;
    Info->Valid = Info->Transition = Info->PageFile = 0;
    for (PUCHAR va = (PUCHAR)s->Start; va < (PUCHAR)s->End; va += PAGE_SIZE) {
        MMPTE pte = *(volatile MMPTE *)MiGetPteAddress(va);
        if (pte.Long & MM_PTE_VALID)
            Info->Valid++;
        else if (MiIsTransitionPte(pte))
            Info->Transition++;
        else if (MiIsPageFilePte(pte))
            Info->PageFile++;
    }
    return TRUE;
}

/* ---- The public routines --------------------------------------------------------------- */

VOID MmLockPagableSectionByHandle(PVOID ImageSectionHandle)
{
    MI_IMAGE_SECTION *s = ImageSectionHandle;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmLockPagableSectionByHandle);
    if (!MiIsSectionHandle(s))
        KeBugCheckEx(MEMORY_MANAGEMENT, MM_LOCK_OF_NO_SECTION, (ULONG_PTR)ImageSectionHandle, 0, 0);
    ExAcquireFastMutex(&MiSectionMutex);
    if (s->LockCount++ == 0)
        MiPinSection(s);
    ExReleaseFastMutex(&MiSectionMutex);
}

VOID MmUnlockPagableImageSection(PVOID ImageSectionHandle)
{
    MI_IMAGE_SECTION *s = ImageSectionHandle;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmUnlockPagableImageSection);
    if (!MiIsSectionHandle(s))
        KeBugCheckEx(MEMORY_MANAGEMENT, MM_LOCK_OF_NO_SECTION, (ULONG_PTR)ImageSectionHandle, 0, 0);
    ExAcquireFastMutex(&MiSectionMutex);
    if (s->LockCount == 0)
        KeBugCheckEx(MEMORY_MANAGEMENT, MM_UNLOCK_OF_UNLOCKED_SECTION, (ULONG_PTR)ImageSectionHandle, 0, 0);
    if (--s->LockCount == 0)
        MiUnpinSection(s);
    ExReleaseFastMutex(&MiSectionMutex);
}

/* The lookups run from PAGE, as NT's. */
static MM_PAGEABLE_CODE PVOID MiLockSectionOf(PVOID AddressWithinSection)
{
    MI_IMAGE_SECTION *s = MiFindImageSection(AddressWithinSection);

    if (s == NULL)
        KeBugCheckEx(MEMORY_MANAGEMENT, MM_LOCK_OF_NO_SECTION, (ULONG_PTR)AddressWithinSection, 0, 0);
    MmLockPagableSectionByHandle(s);
    return s;
}

MM_PAGEABLE_CODE PVOID MmLockPagableCodeSection(PVOID AddressWithinSection)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmLockPagableCodeSection);
    return MiLockSectionOf(AddressWithinSection);
}

MM_PAGEABLE_CODE PVOID MmLockPagableDataSection(PVOID AddressWithinSection)
{
    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmLockPagableDataSection);
    return MiLockSectionOf(AddressWithinSection);
}

MM_PAGEABLE_CODE PVOID MmPageEntireDriver(PVOID AddressWithinSection)
{
    MI_IMAGE_SECTION *s;
    MI_DRIVER_IMAGE *image;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmPageEntireDriver);
    s = MiFindImageSection(AddressWithinSection);
    if (s == NULL || s->Image == NULL)
        return NULL;                    /* not a driver image that can be paged whole */
    image = s->Image;
    ExAcquireFastMutex(&MiSectionMutex);
    if (!image->EntirePaged) {
        image->EntirePaged = TRUE;
        for (ULONG i = 0; i < MI_IMAGE_SECTIONS; i++)
            if (MiImageSections[i].Image == image && !MiImageSections[i].Pageable)
                MiMakeSectionPageable(&MiImageSections[i]);
    }
    ExReleaseFastMutex(&MiSectionMutex);
    return image->Start;
}

MM_PAGEABLE_CODE VOID MmResetDriverPaging(PVOID AddressWithinSection)
{
    MI_IMAGE_SECTION *s;
    MI_DRIVER_IMAGE *image;

    KI_CHECK_IRQL_AT_MOST(APC_LEVEL, MmResetDriverPaging);
    s = MiFindImageSection(AddressWithinSection);
    if (s == NULL || s->Image == NULL)
        return;
    image = s->Image;
    ExAcquireFastMutex(&MiSectionMutex);
    if (image->EntirePaged) {
        image->EntirePaged = FALSE;
        for (ULONG i = 0; i < MI_IMAGE_SECTIONS; i++)
            if (MiImageSections[i].Image == image && !MiImageSections[i].Pageable)
                MiMakeSectionResident(&MiImageSections[i]);
    }
    ExReleaseFastMutex(&MiSectionMutex);
}

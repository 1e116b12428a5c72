/*
 * layout.h - the system address space: every fixed virtual address Mica
 * uses, in one place (the kd> !vm command and the README print them).
 *
 * It follows the x64 NT layout before Windows 10 1607 (fixed self-map slot
 * 0x1ED). There is no direct map of physical memory: a physical page is
 * reached through the page-table self-map, hyperspace, or a system-PTE
 * mapping.
 *
 *   0xFFFFF680'00000000  page tables (self-map: PML4 slot 0x1ED -> PML4)
 *   0xFFFFF700'00000000  hyperspace: per-processor temporary mappings
 *   0xFFFFF880'00000000  system PTEs: MmMapIoSpace, MDLs, contiguous memory, stacks
 *   0xFFFFF8A0'00000000  paged pool
 *   0xFFFFFA80'00000000  PFN database (backed only where RAM is)
 *   0xFFFFFA84'00000000  nonpaged system space: boot data, then nonpaged pool
 *   0xFFFFFFFF'80000000  kernel image (-mcmodel=kernel)
 */
#ifndef MICA_MM_LAYOUT_H
#define MICA_MM_LAYOUT_H

/* Recursive PML4 entry and the four self-map bases derived from it. */
#define MI_SELFMAP_INDEX    0x1EDULL
#define PTE_BASE            0xFFFFF68000000000ULL
#define PTE_TOP             0xFFFFF6FFFFFFFFFFULL
#define PDE_BASE            0xFFFFF6FB40000000ULL
#define PPE_BASE            0xFFFFF6FB7DA00000ULL
#define PXE_BASE            0xFFFFF6FB7DBED000ULL

#define MM_HYPERSPACE_BASE  0xFFFFF70000000000ULL
#define MM_HYPERSPACE_PAGES_PER_CPU 4ULL
#define MM_MAXIMUM_PROCESSORS 64ULL

#define MM_SYSTEM_PTE_BASE  0xFFFFF88000000000ULL
#define MM_SYSTEM_PTE_PAGES (2ULL << 30 >> 12)          /* 2 GiB of system PTE space */
#define MM_SYSTEM_PTE_END   (MM_SYSTEM_PTE_BASE + (MM_SYSTEM_PTE_PAGES << 12))

#define MM_PAGED_POOL_START 0xFFFFF8A000000000ULL
#define MM_PAGED_POOL_END   0xFFFFF8C000000000ULL
#define MM_PAGED_POOL_PAGES (4ULL << 30 >> 12)          /* the first 4 GiB are used */

#define MM_PFN_DATABASE     0xFFFFFA8000000000ULL
#define MM_PFN_DATABASE_END 0xFFFFFA8400000000ULL       /* 16 GiB: RAM up to ~1.3 TiB */
#define MM_NONPAGED_SYSTEM_START MM_PFN_DATABASE_END
#define MM_NONPAGED_SYSTEM_END   0xFFFFFAC400000000ULL
/* Boot-time data (PFN run tree, system-PTE tree) starts at
 * MM_NONPAGED_SYSTEM_START; nonpaged pool follows 16 GiB later. */
#define MM_NONPAGED_POOL_START   0xFFFFFA8800000000ULL
#define MM_NONPAGED_POOL_PAGES   (4ULL << 30 >> 12)     /* 4 GiB of addresses */
#define MM_NONPAGED_POOL_END     (MM_NONPAGED_POOL_START + (MM_NONPAGED_POOL_PAGES << 12))
/* Special pool (Driver Verifier): one page and a guard page per allocation. */
#define MM_SPECIAL_POOL_START    0xFFFFFA9000000000ULL
#define MM_SPECIAL_POOL_PAGES    (256ULL << 20 >> 12)   /* 256 MiB of addresses */
#define MM_SPECIAL_POOL_END      (MM_SPECIAL_POOL_START + (MM_SPECIAL_POOL_PAGES << 12))

#define MM_KSEG0_BASE       0xFFFFFFFF80000000ULL      /* kernel image: VA = this + PA */
#define MM_SYSTEM_RANGE_START 0xFFFF800000000000ULL

/* Physical memory Mica leaves to firmware and real-mode code: the first
 * 64 KiB (the real-mode interrupt table, the BIOS data area, and what
 * firmware is known to scribble on; Linux reserves the same by default).
 * Usable RAM above it, also below 1 MiB, is Mm's: the other processors'
 * start-up page comes from there (kernel/ke/mp.c). */
#define MM_LOW_RESERVED_LIMIT 0x10000ULL
#define MM_4GB                0x100000000ULL

#endif

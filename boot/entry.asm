; entry.asm - from GRUB to 64-bit C.
;
; GRUB (multiboot2, BIOS or UEFI) loads mica.elf by physical address and
; jumps to _start in 32-bit protected mode, paging off, EAX = the multiboot2
; magic and EBX = the physical address of the boot information. This file:
;   1. checks the magic and the CPU (long mode, PAE, NX, CMPXCHG16B) and
;      halts with a message on COM1 and the VGA text screen if anything is
;      missing;
;   2. builds tiny early page tables: an identity map of the low 4 GiB (so
;      the boot information, the VGA/framebuffer memory and the ACPI tables
;      stay reachable until Mm builds the real tables) and the higher-half
;      kernel window 0xFFFFFFFF80000000 -> physical 0. 2 MiB pages, except
;      the first 2 MiB: RAM, the VGA hole and the BIOS ROM have different
;      memory types there (MTRRs), and the SDM leaves a large page that
;      spans several types undefined, so that range gets 4 KiB pages (the
;      VGA hole also uncached in its PTEs);
;   3. turns on PAE, EFER.LME|NXE and paging, loads a 64-bit GDT and far-jumps
;      into long mode, then jumps to the higher half, sets the boot stack and
;      calls KiSystemStartup(mbi, magic).
; Everything here lives in the low .boot sections (VMA = LMA); only the final
; jump goes to a higher-half address.

%define MB2_MAGIC           0xE85250D6
%define MB2_ARCH_I386       0
%define MB2_BOOTLOADER_MAGIC 0x36D76289
%define KERNEL_VMA          0xFFFFFFFF80000000

; multiboot2 header tag types
%define MB2_TAG_END         0
%define MB2_TAG_INFO_REQ    1
%define MB2_TAG_CONSOLE_FLAGS 4
%define MB2_TAG_FRAMEBUFFER 5
%define MB2_CONSOLE_EGA_TEXT_SUPPORTED 2
%define MB2_TAG_OPTIONAL    1

; multiboot2 information tag types we ask for
%define MBI_CMDLINE  1
%define MBI_MODULE   3
%define MBI_MEMINFO  4
%define MBI_MMAP     6
%define MBI_FB       8
%define MBI_ACPI_OLD 14
%define MBI_ACPI_NEW 15

; CPUID bits (Intel SDM vol. 2A, CPUID)
%define CPUID_1_EDX_PAE        (1 << 6)
%define CPUID_1_ECX_CX16       (1 << 13)   ; CMPXCHG16B: the S-lists (lookaside) need it
%define CPUID_81_EDX_NX        (1 << 20)
%define CPUID_81_EDX_LM        (1 << 29)

; control registers and MSRs (SDM vol. 3A)
%define CR0_PE   (1 << 0)
%define CR0_WP   (1 << 16)
%define CR0_PG   (1 << 31)
%define CR4_PAE  (1 << 5)
%define MSR_EFER 0xC0000080
%define EFER_LME (1 << 8)
%define EFER_NXE (1 << 11)

; page-table entry bits
%define PTE_P    (1 << 0)
%define PTE_W    (1 << 1)
%define PTE_PWT  (1 << 3)
%define PTE_PCD  (1 << 4)               ; PCD|PWT: uncached with the power-on PAT
%define PTE_PS   (1 << 7)

%define VGA_HOLE_START 0xA0000          ; legacy video memory, 128 KiB, uncached
%define VGA_HOLE_END   0xC0000

%define COM1     0x3F8
%define VGA_TEXT 0xB8000

section .multiboot progbits alloc noexec nowrite align=8
align 8
mb2_header:
    dd MB2_MAGIC
    dd MB2_ARCH_I386
    dd mb2_header_end - mb2_header
    dd -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
align 8
.info_request:
    dw MB2_TAG_INFO_REQ, MB2_TAG_OPTIONAL
    dd .info_request_end - .info_request
    dd MBI_CMDLINE, MBI_MODULE, MBI_MEMINFO, MBI_MMAP, MBI_FB, MBI_ACPI_OLD, MBI_ACPI_NEW
.info_request_end:
align 8
.console_flags:                 ; EGA text is fine: lets GRUB keep text mode on BIOS
    dw MB2_TAG_CONSOLE_FLAGS, MB2_TAG_OPTIONAL
    dd 12
    dd MB2_CONSOLE_EGA_TEXT_SUPPORTED
align 8
.framebuffer:                   ; a linear framebuffer if the firmware has one
    dw MB2_TAG_FRAMEBUFFER, MB2_TAG_OPTIONAL
    dd 20
    dd 0, 0, 0                  ; no preferred mode: grub.cfg gfxpayload decides
align 8
    dw MB2_TAG_END, 0
    dd 8
mb2_header_end:

section .boot.text progbits alloc exec nowrite align=16
bits 32
global _start
_start:
    cli
    cld
    mov esp, boot32_stack_top
    mov edi, eax                ; keep the magic and the info pointer
    mov esi, ebx

    cmp edi, MB2_BOOTLOADER_MAGIC
    jne .no_multiboot

    ; CPUID itself exists on every x86-64 CPU; check the leaves we need.
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, CPUID_81_EDX_LM
    jz .no_long_mode
    test edx, CPUID_81_EDX_NX
    jz .no_nx
    mov eax, 1
    cpuid
    test edx, CPUID_1_EDX_PAE
    jz .no_pae
    test ecx, CPUID_1_ECX_CX16
    jz .no_cx16

    call build_early_tables

    mov eax, early_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME | EFER_NXE
    wrmsr
    mov eax, cr0
    or eax, CR0_PG | CR0_WP | CR0_PE
    mov cr0, eax

    lgdt [gdt64_pointer]
    jmp GDT64_CODE:long_mode_low

.no_multiboot:
    mov ebx, msg_no_multiboot
    jmp fatal32
.no_long_mode:
    mov ebx, msg_no_long_mode
    jmp fatal32
.no_nx:
    mov ebx, msg_no_nx
    jmp fatal32
.no_pae:
    mov ebx, msg_no_pae
    jmp fatal32
.no_cx16:
    mov ebx, msg_no_cx16
    jmp fatal32

; Identity map 0..4 GiB and map the top 2 GiB window onto physical 0..1 GiB,
; with 2 MiB pages except for the first 2 MiB (4 KiB pages, see the top of
; the file). The tables are in .boot.bss, which GRUB zeroes.
build_early_tables:
    mov eax, early_pdpt_low
    or eax, PTE_P | PTE_W
    mov [early_pml4], eax
    mov eax, early_pdpt_high
    or eax, PTE_P | PTE_W
    mov [early_pml4 + 511 * 8], eax

    ; PDPT_low[0..3] -> the four page directories
    xor ecx, ecx
.pdpt_loop:
    mov eax, ecx
    shl eax, 12
    add eax, early_pd
    or eax, PTE_P | PTE_W
    mov [early_pdpt_low + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jb .pdpt_loop

    ; PDPT_high[510] (0xFFFFFFFF80000000) -> the first directory (0..1 GiB)
    mov eax, early_pd
    or eax, PTE_P | PTE_W
    mov [early_pdpt_high + 510 * 8], eax

    ; 2048 PDEs of 2 MiB each = 4 GiB; physical address bits 32+ go in the
    ; high dword of each entry.
    xor ecx, ecx
.pd_loop:
    mov eax, ecx
    shl eax, 21
    or eax, PTE_P | PTE_W | PTE_PS
    mov [early_pd + ecx * 8], eax
    mov eax, ecx
    shr eax, 11
    mov [early_pd + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 2048
    jb .pd_loop

    ; The first 2 MiB: PDE 0 -> a page table of 512 4 KiB pages (shared by
    ; the identity map and the higher-half window, which use this directory).
    xor ecx, ecx
.pt_loop:
    mov eax, ecx
    shl eax, 12
    mov edx, eax
    or eax, PTE_P | PTE_W
    cmp edx, VGA_HOLE_START
    jb .pt_store
    cmp edx, VGA_HOLE_END
    jae .pt_store
    or eax, PTE_PCD | PTE_PWT
.pt_store:
    mov [early_pt + ecx * 8], eax
    inc ecx
    cmp ecx, 512
    jb .pt_loop
    mov eax, early_pt
    or eax, PTE_P | PTE_W
    mov [early_pd], eax
    ret

; Print the NUL-terminated string at EBX on COM1 and the VGA screen, halt.
fatal32:
    ; COM1: 115200 8N1 (divisor 1), as the C console will do later
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x80
    out dx, al
    mov dx, COM1
    mov al, 1
    out dx, al
    mov dx, COM1 + 1
    xor al, al
    out dx, al
    mov dx, COM1 + 3
    mov al, 0x03
    out dx, al
    mov edi, VGA_TEXT
.next:
    mov al, [ebx]
    test al, al
    jz .halt
    mov ah, 0x4F                ; white on red
    mov [edi], ax
    add edi, 2
    mov ah, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20               ; LSR.THRE
    jz .wait
    mov al, ah
    mov dx, COM1
    out dx, al
    inc ebx
    jmp .next
.halt:
    cli
    hlt
    jmp .halt

bits 64
long_mode_low:
    mov ax, GDT64_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rax, long_mode_high
    jmp rax

section .text
extern KiSystemStartup
extern KiBootTsc
global long_mode_high
long_mode_high:
    mov rsp, KiBootStackTop
    xor ebp, ebp                ; a zero frame pointer ends every backtrace
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov [rel KiBootTsc], rax
    mov edi, esi                ; arg 0: physical address of the boot info
    mov esi, MB2_BOOTLOADER_MAGIC ; arg 1: the magic we verified
    push 0                      ; fake return address for the debugger
    jmp KiSystemStartup

section .boot.data progbits alloc noexec write align=16
align 16
gdt64:
    dq 0
.code: equ $ - gdt64
    dq 0x00AF9A000000FFFF       ; 64-bit code, DPL 0
.data: equ $ - gdt64
    dq 0x00CF92000000FFFF       ; data, DPL 0
gdt64_end:
GDT64_CODE equ gdt64.code
GDT64_DATA equ gdt64.data
gdt64_pointer:
    dw gdt64_end - gdt64 - 1
    dd gdt64

msg_no_multiboot: db "Mica: not started by a multiboot2 loader (bad magic); halted.", 13, 10, 0
msg_no_long_mode: db "Mica: this CPU has no 64-bit long mode; Mica needs an x86-64 CPU. Halted.", 13, 10, 0
msg_no_nx:        db "Mica: this CPU has no NX (execute-disable) bit; Mica needs it. Halted.", 13, 10, 0
msg_no_pae:       db "Mica: this CPU has no PAE; Mica needs it. Halted.", 13, 10, 0
msg_no_cx16:      db "Mica: this CPU has no CMPXCHG16B (CX16); Mica's S-lists need it. Halted.", 13, 10, 0

section .boot.bss nobits alloc write
alignb 4096
early_pml4:      resb 4096
early_pdpt_low:  resb 4096
early_pdpt_high: resb 4096
global KiBootPageDirectory
KiBootPageDirectory:            ; the first of the four directories (0-1 GiB), for tests
early_pd:        resb 4 * 4096
early_pt:        resb 4096      ; 4 KiB pages for the first 2 MiB
boot32_stack:    resb 4096
boot32_stack_top:

; The boot stack: the stack KiSystemStartup and everything in phase 0 runs on.
section .bss
global KiBootStack
global KiBootStackTop
global KiBootStackGuard
alignb 4096
KiBootStackGuard: resb 4096     ; left unmapped by Mm: an overflow faults here
KiBootStack:     resb 64 * 1024
KiBootStackTop:

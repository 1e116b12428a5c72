; trampoline.asm - where another processor starts: real mode to long mode.
;
; A processor woken by INIT-SIPI-SIPI starts in 16-bit real mode at
; CS = VV00h, IP = 0, where VV is the start-up IPI's vector: the first byte
; of a 4 KiB page below 1 MiB. kernel/ke/mp.c copies the bytes between
; KiTrampolineStart and KiTrampolineEnd to such a page (taken from the PFN
; database, given back once every processor is up), fills the hand-off
; slots at the end, and wakes one processor at a time.
;
; The code goes straight from real mode to long mode (Intel SDM vol. 3A,
; 10.8.5 allows enabling paging with EFER.LME set from any mode with
; CR0.PE set in the same write): PAE, CR3, EFER.LME|NXE, then CR0.PE|PG|WP.
; NXE must be on before paging, or the kernel's NX PTEs would be reserved
; bits. CR3 is loaded by a 32-bit move, so the first page table (built by
; mp.c) lies below 4 GiB: it maps this page at its own address - the next
; instruction fetch must still work - and shares the kernel's upper half.
; A far jump through a memory pointer enters 64-bit code; from there the
; code jumps to KiStartProcessorHigh in the kernel image, which switches
; to the kernel's own page tables.
;
; Only offsets from KiTrampolineStart are used below: the page's address
; is known at run time only, so mp.c patches every absolute address (the
; GDT pointer's base, the far pointer's offset).

%define CR0_PE   (1 << 0)
%define CR0_WP   (1 << 16)
%define CR0_PG   (1 << 31)
%define CR4_PAE  (1 << 5)
%define MSR_EFER 0xC0000080
%define EFER_LME (1 << 8)
%define EFER_NXE (1 << 11)

%define TR(label) (label - KiTrampolineStart)

%define KGDT64_R0_CODE 0x10     ; the kernel's selectors (kernel/ke/ke_internal.h)
%define KGDT64_R0_DATA 0x18

section .rodata
align 16
global KiTrampolineStart
global KiTrampolineEnd
global KiTrampolineGdtBase
global KiTrampolineJumpOffset
global KiTrampolineCr3
global KiTrampolineKernelCr3
global KiTrampolineStack
global KiTrampolinePrcb
global KiTrampolineEntry
global KiTrampolineLongMode
global KiTrampolineGdt

bits 16
KiTrampolineStart:
    cli
    cld
    mov ax, cs
    mov ds, ax
    o32 lgdt [TR(tr_gdt_pointer)]
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, [TR(KiTrampolineCr3)]
    mov cr3, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, EFER_LME | EFER_NXE
    wrmsr
    mov eax, cr0
    or eax, CR0_PE | CR0_PG | CR0_WP
    mov cr0, eax
    o32 jmp far [TR(tr_far_pointer)]

bits 64
KiTrampolineLongMode:
    mov ax, KGDT64_R0_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, [rel KiTrampolineStack]
    mov rdi, [rel KiTrampolinePrcb]
    mov rsi, [rel KiTrampolineKernelCr3]
    mov rax, [rel KiTrampolineEntry]
    jmp rax

; The descriptors are marked accessed: a segment load would otherwise set
; that bit itself, a write to this page, which the start-up page table maps
; read-only.
align 16
KiTrampolineGdt:
    dq 0, 0                         ; 0x00 null, 0x08 unused
    dq 0x00AF9B000000FFFF           ; 0x10 64-bit code, DPL 0, accessed
    dq 0x00CF93000000FFFF           ; 0x18 data, DPL 0, accessed
tr_gdt_end:
tr_gdt_pointer:
    dw tr_gdt_end - KiTrampolineGdt - 1
KiTrampolineGdtBase:                ; patched: page + TR(KiTrampolineGdt)
    dd 0
tr_far_pointer:
KiTrampolineJumpOffset:             ; patched: page + TR(KiTrampolineLongMode)
    dd 0
    dw KGDT64_R0_CODE
align 8
KiTrampolineCr3:      dq 0          ; the start-up PML4 (below 4 GiB)
KiTrampolineKernelCr3: dq 0         ; the kernel's PML4
KiTrampolineStack:    dq 0          ; top of the processor's idle-thread stack
KiTrampolinePrcb:     dq 0          ; its KPRCB
KiTrampolineEntry:    dq 0          ; KiStartProcessorHigh
KiTrampolineEnd:


; The first kernel-image code of a new processor, at its high address on
; the start-up page table: take the kernel's page tables, end the frame
; chain, and enter C with the KPRCB (rdi).
section .text
bits 64
extern KiSystemStartupProcessor
global KiStartProcessorHigh
KiStartProcessorHigh:
    mov cr3, rsi
    xor ebp, ebp
    push 0                          ; fake return address ends backtraces
    jmp KiSystemStartupProcessor

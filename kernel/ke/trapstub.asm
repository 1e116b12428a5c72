; trapstub.asm - the first instructions of every interrupt and exception.
;
; The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some exceptions, an error
; code. Each of the 256 stubs below pushes a zero error code where the CPU
; does not (so every frame has the same shape), then the vector number,
; then jumps to KiTrapCommon, which saves the general registers to complete
; a KTRAP_FRAME (kernel/ke/ke_internal.h) and calls KiDispatchTrap(frame).

bits 64
section .text

extern KiDispatchTrap

; Vectors for which the CPU pushes an error code (SDM vol. 3A, table 6-1).
%define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%macro TRAP_STUB 1
align 16
KiTrap%1:
%if HAS_ERROR(%1)
    push qword %1
%else
    push qword 0
    push qword %1
%endif
    jmp KiTrapCommon
%endmacro

%assign v 0
%rep 256
TRAP_STUB v
%assign v v + 1
%endrep

KiTrapCommon:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    mov rdi, rsp                ; PKTRAP_FRAME
    ; Make the saved RBP/RIP pair look like a call frame so a backtrace
    ; taken inside the handler walks on into the interrupted code.
    push qword [rsp + 17 * 8]   ; frame->Rip
    push rbp
    mov rbp, rsp
    mov rbx, rsp                ; keep the pre-alignment stack pointer
    and rsp, -16                ; the C ABI wants a 16-byte aligned stack
    call KiDispatchTrap
    mov rsp, rbx
    add rsp, 16
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

section .rodata
global KiTrapStubs
align 8
KiTrapStubs:
%assign v 0
%rep 256
    dq KiTrap %+ v
%assign v v + 1
%endrep

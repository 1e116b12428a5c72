; exceptctx.asm - the context save and restore under Mica's __try/__except
; (kernel/ke/ke.h, "Mica's stand-in for SEH"; except.c).
;
; KiSaveExceptionContext(Frame) stores what a function call must preserve
; (System V: rbx, rbp, r12-r15, the stack pointer) and the return address
; in Frame->Context, and returns 0. KiRestoreExceptionContext(Frame) puts
; them back and returns 1 from that same KiSaveExceptionContext call: the
; __try's frame is live (a raise comes only from code it called), so its
; stack is intact above the saved stack pointer. Everything else the
; compiler assumes clobbered across a call, and returns_twice on the save
; tells it that the call can return again.

bits 64
section .text

%define CTX_RBX 0
%define CTX_RBP 8
%define CTX_R12 16
%define CTX_R13 24
%define CTX_R14 32
%define CTX_R15 40
%define CTX_RSP 48
%define CTX_RIP 56

global KiSaveExceptionContext
KiSaveExceptionContext:
    mov [rdi + CTX_RBX], rbx
    mov [rdi + CTX_RBP], rbp
    mov [rdi + CTX_R12], r12
    mov [rdi + CTX_R13], r13
    mov [rdi + CTX_R14], r14
    mov [rdi + CTX_R15], r15
    lea rax, [rsp + 8]                  ; the caller's stack pointer after our ret
    mov [rdi + CTX_RSP], rax
    mov rax, [rsp]                      ; where our ret goes
    mov [rdi + CTX_RIP], rax
    xor eax, eax
    ret

global KiRestoreExceptionContext
KiRestoreExceptionContext:
    mov rbx, [rdi + CTX_RBX]
    mov rbp, [rdi + CTX_RBP]
    mov r12, [rdi + CTX_R12]
    mov r13, [rdi + CTX_R13]
    mov r14, [rdi + CTX_R14]
    mov r15, [rdi + CTX_R15]
    mov rsp, [rdi + CTX_RSP]
    mov eax, 1
    jmp [rdi + CTX_RIP]

; swap.asm - KiSwapContext(Old, New): switch from one thread's stack to another's.
;
; Called at DISPATCH_LEVEL with the dispatcher lock held (sched.c). Saves
; the callee-saved registers and RFLAGS on the old thread's stack, stores
; its stack pointer in Old->KernelStack, loads New->KernelStack and pops the
; same frame the new thread saved when it was switched out - or, for a
; thread that never ran, the frame thread.c built, whose return address is
; KiThreadStartup.

bits 64
section .text

%define KTHREAD_KERNEL_STACK 24         ; offsetof(KTHREAD, KernelStack), checked in thread.c

global KiSwapContext
KiSwapContext:
    pushfq
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi + KTHREAD_KERNEL_STACK], rsp
    mov rsp, [rsi + KTHREAD_KERNEL_STACK]
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    popfq
    ret

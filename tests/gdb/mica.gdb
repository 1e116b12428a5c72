# mica.gdb - GDB setup for debugging Mica in QEMU (`make debug` + `make gdb`).
#
# `make gdb` runs:  gdb -x tests/gdb/mica.gdb -ex "target remote ..." build/mica.elf
# so this file only configures GDB and adds a few commands; it never connects.
# Type `help user-defined` in GDB to list the commands below.
#
# Breakpoints and KVM: under TCG (the default here) `break` works anywhere,
# even on higher-half addresses before the kernel has mapped them. Under KVM
# (ACCEL=kvm) a software breakpoint is a 0xCC written into guest memory, which
# fails or is lost until that address is mapped - use `hbreak` (hardware debug
# registers, at most 4) for anything hit before paging is on.

# qemu-system-x86_64 always sends the 64-bit register file. A 32-bit GDB
# architecture ("set architecture i386") would fail with
# "Remote 'g' packet reply is too long", so stay in x86-64 even while the CPU
# runs 16- or 32-bit code.
set architecture i386:x86-64
set disassemble-next-line auto
set pagination off
set confirm off

define mica-kvm-note
  echo Under TCG, `break` works everywhere. Under KVM, use `hbreak` (max 4)\n
  echo for code that runs before the higher half is mapped (boot32, longmode).\n
end
document mica-kvm-note
Explain when to use hbreak instead of break (KVM vs TCG).
end

define boot32
  # `*&_start`: _start is a label in .boot that GDB sees as untyped data.
  hbreak *&_start
  echo After `continue`, the CPU is at _start in 32-bit protected mode; GDB\n
  echo decodes everything as 64-bit code, so disassemble with QEMU instead:\n
  echo \ \ monitor x /8i $pc\n
end
document boot32
Hardware breakpoint on _start, the 32-bit multiboot2 entry (boot/entry.asm).
GRUB jumps there with paging off, EAX = multiboot2 magic, EBX = boot info.
GDB shows that code as 64-bit; use `monitor x /8i $pc` for a 32-bit listing.
end

define longmode
  hbreak *long_mode_high
end
document longmode
Hardware breakpoint on long_mode_high (boot/entry.asm): the first instruction
at a higher-half address, just before the jump to KiSystemStartup.
end

# The kd> shell's commands in GDB (mica-pte, mica-pfn, mica-vm, mica-memusage,
# mica-pool, mica-poolused, mica-irql, mica-thread, mica-memmap FILE.png; the
# same without "mica-" except thread, which is GDB's own); run from the top
# of the tree, as `make gdb` does.
source tests/gdb/mica_kd.py

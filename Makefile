# Mica - build, run, debug, test, benchmark.
#
#   make            build/mica.elf and build/mica.iso (BIOS + UEFI GRUB ISO)
#   make run        boot the ISO in QEMU, serial console on this terminal, ending at the
#                   kd> prompt (q or Ctrl-A X quits; Ctrl-C breaks in);
#                   MEM=256M SMP=1 CMDLINE='...' (e.g. SMP=4 CMDLINE='numproc=2')
#   make run-uefi   the same under OVMF;  make run-gui: with a window
#   make debug      QEMU stopped at reset, gdbstub on 127.0.0.1:$(GDBPORT)
#   make gdb        GDB attached to `make debug` with the kernel's symbols
#   make test       host unit tests, in-kernel tests in every configuration,
#                   bug-check tests, the kd> shell session and the GDB session test
#   make bench      benchmarks (BENCH=pattern) -> build/bench/results.tsv
#   make deps       install the Debian packages all of this needs
#
# The host's x86-64 GCC is used as a freestanding cross compiler;
# CROSS=x86_64-elf- selects a real cross toolchain instead.

CROSS   ?=
CC      := $(CROSS)gcc
LD      := $(CROSS)ld
NM      := $(CROSS)nm
NASM    ?= nasm
HOSTCC  ?= gcc
PYTHON  ?= python3
QEMU    ?= qemu-system-x86_64
GDB     ?= gdb
GDBPORT ?= $(shell expr 26000 + `id -u` % 5000)
ACCEL   ?= $(shell sh tests/accel-probe.sh)
MEM     ?= 256M
SMP     ?= 1
CMDLINE ?=
# DISK=path attaches a raw image as an AHCI disk to `make run`/`run-uefi`
# (README "Disks": the driver writes it only if it carries the Mica mark).
DISK ?=
DISK_PC = $(if $(DISK),-device ahci$(comma)id=ahci -drive id=d0$(comma)file=$(DISK)$(comma)format=raw$(comma)if=none -device ide-hd$(comma)drive=d0$(comma)bus=ahci.0)
DISK_Q35 = $(if $(DISK),-drive id=d0$(comma)file=$(DISK)$(comma)format=raw$(comma)if=none -device ide-hd$(comma)drive=d0$(comma)bus=ide.0)
# `make run` and `make debug` page paged pool to a sparse 512 MiB page-file
# disk (README "Paging") on AHCI port 3; PAGEFILE= (empty) boots without one.
PAGEFILE ?= $(B)/disk/pagefile.img
PAGEFILE_PC = $(if $(PAGEFILE),$(if $(DISK),,-device ahci$(comma)id=ahci) -drive id=pf$(comma)file=$(PAGEFILE)$(comma)format=raw$(comma)if=none -device ide-hd$(comma)drive=pf$(comma)bus=ahci.3)
comma := ,

B := build

CFLAGS := -std=gnu11 -O2 -g -ffreestanding -fno-builtin-printf -nostdlib \
          -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-80387 -mgeneral-regs-only \
          -mcmodel=kernel -fno-pic -fno-pie -fno-stack-protector \
          -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
          -fno-asynchronous-unwind-tables -fno-strict-aliasing \
          -Wall -Wextra -Werror -Wno-multichar -MMD -MP -I.
LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack --no-warn-rwx-segments -T linker.ld
NASMFLAGS := -f elf64 -g -F dwarf

KERNEL_C := $(wildcard kernel/*/*.c mm/*.c drivers/*/*.c tests/drivers/*.c) \
            tests/ktest.c tests/kbench.c tests/ktest_common.c \
            $(wildcard tests/kernel/*.c tests/unit/*.c tests/bench/*.c)
KERNEL_ASM := $(wildcard boot/*.asm kernel/*/*.asm)
KERNEL_OBJ := $(KERNEL_C:%.c=$(B)/obj/%.o) $(KERNEL_ASM:%.asm=$(B)/obj/%.o) $(B)/obj/gen/font.o \
              $(B)/obj/gen/kddt_table.o

# Hardware-free sources the host unit tests compile natively.
HOST_SRC := kernel/rtl/printf.c kernel/ke/cmdline.c kernel/ke/multiboot.c kernel/hal/acpi.c kernel/hal/rtctime.c \
            mm/runtree.c mm/pfndb.c \
            mm/poolblock.c mm/bigpool.c mm/pooltrack.c kernel/ke/lab.c \
            tests/ktest_common.c $(wildcard tests/host/*.c tests/unit/*.c)
HOST_CFLAGS := -std=gnu11 -O1 -g -I. -Wall -Wextra -Werror -Wno-multichar -DMICA_HOST_TEST \
               -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

FONT_SRC ?= /usr/share/grub/ascii.h

.PHONY: all run run-uefi run-gui debug gdb test test-host test-labs test-wdmcheck test-labtodo test-qemu test-gdb bench bench-host \
        deps check-deps clean labs lab-start grade handin lab-check
all: $(B)/mica.iso

# ---- kernel ---------------------------------------------------------------------

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The black-box test sees the kernel as a driver does: it may include only
# the public headers (its dependency file lists what it really pulled in).
BLACKBOX_HEADERS := kernel/ke/ke.h kernel/rtl/rtl.h kernel/hal/hal.h kernel/hal/pci.h kernel/kd/kd.h kernel/ntdef.h mm/mm.h tests/ktest.h
$(B)/obj/tests/kernel/test_blackbox.o: tests/kernel/test_blackbox.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
	@for h in $$(sed -e 's/\\$$//' -e 's/^[^ ]*://' $(@:.o=.d) | tr ' ' '\n' | grep '\.h$$' | \
	             xargs -r realpath --relative-to=. | sort -u); do \
	  case " $(BLACKBOX_HEADERS) " in *" $$h "*) ;; \
	  *) echo "$<: includes $$h; a driver sees only $(BLACKBOX_HEADERS)"; rm -f $@; exit 1;; esac; \
	done

# Drivers (and the test drivers in tests/drivers/) see the kernel only through
# kernel/wdm.h: compiled without -I., and tests/wdmcheck.sh refuses any
# #include but <wdm.h> and the driver's own headers.
WDM_CFLAGS := $(filter-out -I.,$(CFLAGS)) -Ikernel
$(B)/obj/drivers/%.o: drivers/%.c tests/wdmcheck.sh
	@mkdir -p $(dir $@)
	@sh tests/wdmcheck.sh $<
	$(CC) $(WDM_CFLAGS) -c $< -o $@
$(B)/obj/tests/drivers/%.o: tests/drivers/%.c tests/wdmcheck.sh
	@mkdir -p $(dir $@)
	@sh tests/wdmcheck.sh $<
	$(CC) $(WDM_CFLAGS) -c $< -o $@

# The PCI tests look at the bus driver's own records (drivers/pci/pcidrv.h,
# which includes <wdm.h> as a driver header does).
$(B)/obj/tests/kernel/test_pci.o: CFLAGS += -Ikernel
$(B)/obj/tests/kernel/test_pci_%.o: CFLAGS += -Ikernel
# kd>'s !pcitree reads the PCI bus driver's records (drivers/pci/pcidrv.h).
$(B)/obj/kernel/kd/kdcmd_io.o: CFLAGS += -Ikernel
# The AHCI tests and benchmark read the driver's records (drivers/ahci/ahci.h).
$(B)/obj/tests/kernel/test_ahci.o $(B)/obj/tests/kernel/test_ahci_pnp.o $(B)/obj/tests/kernel/lab_mdl.o: CFLAGS += -Ikernel
$(B)/obj/tests/bench/bench_ahci.o: CFLAGS += -Ikernel
# The network tests read the e1000's and the layer's records
# (drivers/e1000/e1000.h, drivers/net/net.h).
$(B)/obj/tests/kernel/test_net.o $(B)/obj/tests/kernel/lab_e1000.o: CFLAGS += -Ikernel

$(B)/obj/%.o: %.asm
	@mkdir -p $(dir $@)
	$(NASM) $(NASMFLAGS) -MD $(@:.o=.d) -MP $< -o $@

# The screen console's font: GRUB's 8x16 ASCII bitmaps (grub-common).
$(B)/gen/font.c: $(FONT_SRC)
	@mkdir -p $(dir $@)
	sed 's/^unsigned char ascii_bitmaps\[\]/const unsigned char KiFontBitmaps[]/' $< > $@

$(B)/obj/gen/font.o: $(B)/gen/font.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# kd>'s `dt` table: member names, offsets and sizes read by GDB from the
# DWARF of kdcmd_dt.o, which lists the types (kernel/kd/mkdt.py).
$(B)/gen/kddt_table.c: $(B)/obj/kernel/kd/kdcmd_dt.o kernel/kd/mkdt.py
	@mkdir -p $(dir $@)
	$(GDB) -q -nx -batch -x kernel/kd/mkdt.py -ex "mkdt $@.tmp" $< && mv $@.tmp $@

$(B)/obj/gen/kddt_table.o: $(B)/gen/kddt_table.c kernel/kd/kddt.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Two-pass link: the first image has an empty symbol table; its symbols
# become the .ksyms section of the second (see kernel/kd/symbols.c).
$(B)/gen/ksyms-empty.S:
	@mkdir -p $(dir $@)
	printf '\t.section .ksyms, "a"\n\t.balign 8\n\t.quad 0\n\t.quad 16\n' > $@

$(B)/obj/gen/%.o: $(B)/gen/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

$(B)/mica.pass1.elf: $(KERNEL_OBJ) $(B)/obj/gen/ksyms-empty.o linker.ld
	$(LD) $(LDFLAGS) -o $@ $(KERNEL_OBJ) $(B)/obj/gen/ksyms-empty.o

$(B)/gen/ksyms.S: $(B)/mica.pass1.elf kernel/kd/mksyms.sh
	NM=$(NM) sh kernel/kd/mksyms.sh $< > $@

$(B)/mica.elf: $(KERNEL_OBJ) $(B)/obj/gen/ksyms.o linker.ld
	$(LD) $(LDFLAGS) -o $@ $(KERNEL_OBJ) $(B)/obj/gen/ksyms.o
	@cmp -s <($(NM) -n $(B)/mica.pass1.elf | grep -v -e KiImageEnd -e ' [aA] ') \
	        <($(NM) -n $@ | grep -v -e KiImageEnd -e ' [aA] ') \
	  || { echo "symbols moved between the two links"; rm -f $@; exit 1; }

SHELL := /bin/bash

$(B)/mica.iso: $(B)/mica.elf boot/grub.cfg
	@mkdir -p $(B)/iso/boot/grub
	cp $(B)/mica.elf $(B)/iso/boot/mica.elf
	cp boot/grub.cfg $(B)/iso/boot/grub/grub.cfg
	grub-mkrescue -o $@ $(B)/iso 2> $(B)/grub-mkrescue.log || { cat $(B)/grub-mkrescue.log; exit 1; }

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---- dependencies ----------------------------------------------------------------

DEB_PACKAGES := qemu-system-x86 nasm grub-pc-bin grub-efi-amd64-bin grub-common xorriso \
                mtools ovmf gdb python3 gcc make binutils libmimalloc-dev
SUDO := $(shell [ `id -u` = 0 ] || echo sudo)

deps:
	@echo "Installing Debian packages: $(DEB_PACKAGES)"
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEB_PACKAGES)

# Install what is missing, saying what and why, then go on.
check-deps:
	@missing=""; \
	for t in $(QEMU) $(NASM) grub-mkrescue xorriso mformat $(GDB) $(PYTHON) $(CC) $(LD); do \
	  command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || missing="$$missing OVMF"; \
	[ -d /usr/lib/grub/i386-pc ] || missing="$$missing grub-pc-bin"; \
	[ -d /usr/lib/grub/x86_64-efi ] || missing="$$missing grub-efi-amd64-bin"; \
	[ -f $(FONT_SRC) ] || missing="$$missing grub-common"; \
	if [ -n "$$missing" ]; then \
	  echo "Missing:$$missing -- running 'make deps' to install them"; \
	  $(MAKE) --no-print-directory deps; \
	fi

# ---- run and debug ------------------------------------------------------------------

QEMU_CPU := -cpu qemu64,+nx,+pdpe1gb
# SMP=N boots N processors; TCG then runs each on its own host thread
# (thread=multi), as tests/runner.py does for its several-processor configurations.
comma := ,
QEMU_ACCEL := $(ACCEL)$(if $(filter-out 0 1,$(SMP)),$(if $(filter tcg,$(ACCEL)),$(comma)thread=multi))
QEMU_COMMON := $(QEMU_CPU) -accel $(QEMU_ACCEL) -smp $(SMP) -m $(MEM) -no-reboot \
               -device isa-debug-exit,iobase=0xf4,iosize=0x04
OVMF_CODE := /usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS := /usr/share/OVMF/OVMF_VARS_4M.fd
UEFI_FLASH = -drive if=pflash,format=raw,unit=0,readonly=on,file=$(OVMF_CODE) \
             -drive if=pflash,format=raw,unit=1,file=$(B)/ovmf-vars.fd

# The serial console on this terminal, multiplexed with QEMU's monitor (Ctrl-A C
# switches, Ctrl-A X quits). signal=off: Ctrl-C goes to the guest, where it
# breaks into the kd> shell, instead of killing QEMU.
SERIAL_CONSOLE := -chardev stdio,id=con,mux=on,signal=off -serial chardev:con -mon chardev=con,mode=readline

# NET=user: the e1000 on QEMU's user networking with UDP port NET_PORT on the
# host forwarded to Mica's echo service (python3 tests/netpeer.py echo 7777);
# NET=socket: on the socket back-end, raw frames to a peer on the host at
# NET_PEER_PORT (python3 tests/netpeer.py ping 7778 7777 pings Mica).
NET_PORT ?= 7777
NET_PEER_PORT ?= 7778
NET_ARGS = $(if $(filter user,$(NET)),-netdev user$(comma)id=n0$(comma)hostfwd=udp:127.0.0.1:$(NET_PORT)-:7 -device e1000$(comma)netdev=n0,$(if $(filter socket,$(NET)),-netdev socket$(comma)id=n0$(comma)udp=127.0.0.1:$(NET_PEER_PORT)$(comma)localaddr=127.0.0.1:$(NET_PORT) -device e1000$(comma)netdev=n0))

# CMDLINE="..." boots a one-entry ISO with that kernel command line instead of the menu.
RUN_ISO = $(if $(CMDLINE),$$($(PYTHON) tests/runner.py iso --cmdline '$(CMDLINE)'),$(B)/mica.iso)

run: check-deps $(if $(PAGEFILE),$(PAGEFILE))
	@$(MAKE) --no-print-directory all
	@echo "Booting Mica (serial console; Ctrl-A X quits QEMU)"
	$(QEMU) $(QEMU_COMMON) -M pc -cdrom $(RUN_ISO) $(DISK_PC) $(PAGEFILE_PC) $(NET_ARGS) -display none $(SERIAL_CONSOLE); \
	  s=$$?; [ $$s -eq 0 ] || [ $$s -eq 33 ] || { echo "QEMU exit status $$s (33 = tests passed)"; exit $$s; }

run-uefi: check-deps
	@$(MAKE) --no-print-directory all
	cp $(OVMF_VARS) $(B)/ovmf-vars.fd
	@echo "Booting Mica under OVMF (serial console; Ctrl-A X quits QEMU)"
	$(QEMU) $(QEMU_COMMON) -M q35 $(UEFI_FLASH) -cdrom $(RUN_ISO) $(DISK_Q35) $(NET_ARGS) -display none $(SERIAL_CONSOLE)

run-gui: check-deps
	@$(MAKE) --no-print-directory all
	$(QEMU) $(QEMU_COMMON) -M pc -cdrom $(RUN_ISO) $(SERIAL_CONSOLE)

debug: check-deps $(if $(PAGEFILE),$(PAGEFILE))
	@$(MAKE) --no-print-directory all
	@echo "QEMU is stopped at the reset vector; in another terminal: make gdb GDBPORT=$(GDBPORT)"
	$(QEMU) $(QEMU_COMMON) -M pc -cdrom $(RUN_ISO) $(DISK_PC) $(PAGEFILE_PC) -display none $(SERIAL_CONSOLE) \
	  -S -gdb tcp:127.0.0.1:$(GDBPORT)

gdb: $(B)/mica.elf
	$(GDB) -q -iex "set auto-load safe-path /" -x tests/gdb/mica.gdb \
	  -ex "target remote 127.0.0.1:$(GDBPORT)" $(B)/mica.elf

# ---- tests and benchmarks ------------------------------------------------------------------

# QEMU_DEBUG=int,... adds items to QEMU's -d for `make test`/`make bench` boots
# (logs in build/test-logs/<boot>.qemu.log). Only cpu_reset is on by default:
# -d int logs the whole CPU state at every interrupt and slows them twentyfold.
QEMU_DEBUG ?=
export QEMU_DEBUG

$(B)/host/host-tests: $(HOST_SRC) $(wildcard kernel/*.h kernel/*/*.h mm/*.h tests/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $(HOST_SRC)

# Tagged disk images (tests/mkdisk.py: every sector starts with its LBA) for
# the AHCI tests (an 8 MiB one marked for Mica, a 2 MiB unmarked one; the
# runner attaches copies to every test boot) and the bench-disk benchmarks.
TEST_DISKS := $(B)/disk/test-marked.img $(B)/disk/test-unmarked.img $(B)/disk/test-errors.img
$(B)/disk/test-marked.img: tests/mkdisk.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/mkdisk.py $@ 8 --mark
$(B)/disk/test-unmarked.img: tests/mkdisk.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/mkdisk.py $@ 2
$(B)/disk/pagefile.img: tests/mkdisk.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/mkdisk.py $@ 512 --pagefile
$(B)/disk/test-errors.img: tests/mkdisk.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/mkdisk.py $@ 1 --mark
$(B)/disk/bench.img: tests/mkdisk.py
	@mkdir -p $(dir $@)
	$(PYTHON) tests/mkdisk.py $@ 256 --mark

test: check-deps
	@$(MAKE) --no-print-directory all $(B)/host/host-tests test-labs test-wdmcheck test-labtodo $(TEST_DISKS)
	$(PYTHON) tests/runner.py test
	$(PYTHON) tests/labs/labtool.py check --quick

test-host: $(B)/host/host-tests test-labs test-wdmcheck test-labtodo
	$(B)/host/host-tests

# While grading (MICA_LAB set), a graded stub ends the host test program at once.
test-labtodo: $(B)/host/host-tests
	@out=$$(MICA_LAB=labtest $(B)/host/host-tests lab.todo_prints_once_per_site_and_counts_every_call); \
	  case "$$?:$$out" in 1:*"a graded stub ran"*) echo "host: a graded LAB_TODO stops the test program";; \
	  *) echo "host: a graded LAB_TODO did not stop the test program: $$out"; exit 1;; esac

# The driver include rule refuses what it must (and accepts a good driver).
test-wdmcheck:
	@sh tests/wdmcheck.sh tests/wdmcheck/good.c
	@for f in tests/wdmcheck/bad_*.c; do \
	  if sh tests/wdmcheck.sh $$f >/dev/null; then echo "wdmcheck: $$f accepted"; exit 1; fi; done
	@echo "wdmcheck: good.c accepted, every bad_*.c refused"

# The lab tools' own tests (labstrip.py, grade.py; Python, no QEMU).
test-labs:
	$(PYTHON) -m unittest discover -q -s tests/labs -p 'test_*.py'

test-qemu: check-deps all $(TEST_DISKS)
	$(PYTHON) tests/runner.py test --no-host --no-gdb

test-gdb: check-deps all
	$(PYTHON) tests/runner.py gdb

# ---- homework labs (tests/labs/; the README's "For teachers"/"For students") ----------
#   make labs                       the labs, their marked regions, the last grade
#   make lab-start LAB=x [DEST=d]   a student tree (default ../mica-lab-x): lab x and later stripped
#   make grade LAB=x [T=pattern]    grade from tests/labs/x.rubric -> build/grade/x.json
#   make handin LAB=x               build/handin-x.tar.gz: the diff, new files, answers, time
#   make lab-check                  every lab: stripped scores 0, earlier labs and the
#                                   reference full marks (LABCHECK=quick: fewer boots)
#                                   (LAB=x: only lab x's tree, and x and earlier labs graded)
LAB ?=
T ?=
DEST ?=
LABCHECK ?=
need-lab = @[ -n "$(LAB)" ] || { echo "say which lab: LAB=<one of: $$(cat tests/labs/ORDER)>"; exit 2; }

labs:
	@$(PYTHON) tests/labs/labtool.py list

lab-start: check-deps
	$(need-lab)
	$(PYTHON) tests/labs/labtool.py start $(LAB) $(DEST)

grade: check-deps
	$(need-lab)
	@$(MAKE) --no-print-directory all $(B)/host/host-tests
	$(PYTHON) tests/labs/grade.py $(LAB) --no-build $(if $(T),-T '$(T)')

handin:
	$(need-lab)
	@$(PYTHON) tests/labs/labtool.py handin $(LAB)

lab-check: check-deps
	$(PYTHON) tests/labs/labtool.py check $(if $(filter quick,$(LABCHECK)),--quick) $(if $(LAB),--lab $(LAB))

BENCH ?= all
bench: check-deps
	@$(MAKE) --no-print-directory all $(B)/disk/bench.img
	$(PYTHON) tests/runner.py bench --pattern '$(BENCH)'

# The pool on the host against glibc and mimalloc: one source
# (tests/bench/host/pool_bench.c) built three ways, natively, -O2, no
# sanitizers; the figures go to results.tsv under config "host". Mica's
# build links with -flto so that the host stand-ins for the kernel's IRQL
# and processor routines (a variable read each) inline as the kernel's own
# CR8 and GS reads do, instead of costing a call each.
BENCH_HOST_CFLAGS := -std=gnu11 -O2 -g -I. -Wall -Wextra -Werror -Wno-multichar -DMICA_HOST_TEST \
                     -fno-omit-frame-pointer
BENCH_HOST_MICA := mm/pool.c mm/poolblock.c mm/bigpool.c mm/pooltrack.c mm/runtree.c \
                   tests/bench/host/pool_host_env.c
BENCH_HOST_DEPS := tests/bench/host/pool_bench.c $(wildcard kernel/*.h kernel/*/*.h mm/*.h tests/bench/host/*.h)
BENCH_HOST_BINS := $(B)/bench-host/pool-mica $(B)/bench-host/pool-glibc $(B)/bench-host/pool-mimalloc

$(B)/bench-host/pool-mica: $(BENCH_HOST_DEPS) $(BENCH_HOST_MICA)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BENCH_HOST_CFLAGS) -flto -DBENCH_MICA -o $@ tests/bench/host/pool_bench.c $(BENCH_HOST_MICA)

$(B)/bench-host/pool-glibc: $(BENCH_HOST_DEPS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(BENCH_HOST_CFLAGS) -DBENCH_GLIBC -o $@ tests/bench/host/pool_bench.c

$(B)/bench-host/pool-mimalloc: $(BENCH_HOST_DEPS)
	@mkdir -p $(dir $@)
	@[ -f /usr/include/mimalloc.h ] || { echo "Missing: libmimalloc-dev -- running 'make deps' to install it"; \
	  $(MAKE) --no-print-directory deps; }
	$(HOSTCC) $(BENCH_HOST_CFLAGS) -DBENCH_MIMALLOC -o $@ tests/bench/host/pool_bench.c -lmimalloc

bench-host: $(BENCH_HOST_BINS)
	$(PYTHON) tests/runner.py bench-host $(BENCH_HOST_BINS)

clean:
	rm -rf $(B)

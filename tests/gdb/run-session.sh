#!/bin/sh
# run-session.sh - run the GDB session test (tests/gdb/session.py) standalone.
#
# Builds nothing: takes build/mica.elf and build/mica.iso, makes a temporary
# copy of the ISO whose GRUB menu boots at once with the command line
# "gdbtest=1", starts QEMU (TCG) stopped at the reset vector with its gdbstub
# on a free port of 127.0.0.1, runs GDB in batch mode exactly as the test
# runner does, then kills QEMU and removes the temporary files.
# GDB's output goes to stdout (last line: "gdb: N passed, M failed");
# the exit status is GDB's (0 only if every check passed).
#
#   sh tests/gdb/run-session.sh        (from the top of the tree)
#   QEMU=... GDB=... GDB_TIMEOUT=120   override the tools / the time limit
set -u

cd "$(dirname "$0")/../.." || exit 2
B=build
QEMU=${QEMU:-qemu-system-x86_64}
GDB=${GDB:-gdb}
GDB_TIMEOUT=${GDB_TIMEOUT:-120}
SERIAL_LOG=$B/test-logs/gdb-serial.log

for f in "$B/mica.elf" "$B/mica.iso"; do
    [ -f "$f" ] || { echo "run-session.sh: $f is missing; run 'make' first" >&2; exit 2; }
done
mkdir -p "$B/test-logs"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mica-gdb.XXXXXX") || exit 2
QEMU_PID=
# shellcheck disable=SC2317  # (run by the trap)
cleanup() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null
        wait "$QEMU_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The ISO copy with a one-entry, no-timeout GRUB menu.
cat > "$TMP/grub.cfg" <<'EOF'
set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod all_video
menuentry "Mica gdb test" {
    multiboot2 /boot/mica.elf gdbtest=1
    set gfxpayload=text
    boot
}
EOF
# "-boot_image any replay" keeps grub-mkrescue's BIOS and EFI boot setup.
# build/mica.elf is put in too, so that the kernel QEMU boots is the very
# file GDB reads symbols from even if the ISO is older than the ELF.
# "-hfsplus off": replaying grub-mkrescue's HFS+ hybrid makes libisofs fail
# with "GPT partitions 1 and 2 overlap"; the Mac partitions are not needed.
if ! xorriso -indev "$B/mica.iso" -outdev "$TMP/mica-gdb.iso" \
        -boot_image any replay -hfsplus off \
        -map "$TMP/grub.cfg" /boot/grub/grub.cfg \
        -map "$B/mica.elf" /boot/mica.elf > "$TMP/xorriso.log" 2>&1; then
    cat "$TMP/xorriso.log" >&2
    echo "run-session.sh: xorriso could not make the test ISO" >&2
    exit 2
fi

# 2. A free TCP port (the kernel picks it; there is a small race until QEMU binds it).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()') \
    || exit 2

# 3. QEMU, stopped at the reset vector (-S), gdbstub on 127.0.0.1:PORT.
# TCG on purpose: software breakpoints on higher-half addresses work there
# before the kernel maps the higher half (under KVM they would not).
"$QEMU" -cpu qemu64,+nx,+pdpe1gb -accel tcg -M pc -m 128M \
    -cdrom "$TMP/mica-gdb.iso" -display none -serial "file:$SERIAL_LOG" \
    -monitor none -no-reboot -S -gdb "tcp:127.0.0.1:$PORT" &
QEMU_PID=$!

# Wait until the gdbstub listens. Probe /proc/net/tcp rather than connecting:
# the gdbstub takes one client, and a probe connection would stop/resume it.
PORTHEX=$(printf '%04X' "$PORT")
n=0
until awk -v p=":$PORTHEX" '$2 ~ p"$" && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp 2>/dev/null; do
    if ! kill -0 "$QEMU_PID" 2>/dev/null; then
        echo "run-session.sh: QEMU exited before its gdbstub was up" >&2
        exit 2
    fi
    n=$((n + 1))
    [ $n -le 100 ] || { echo "run-session.sh: QEMU's gdbstub did not come up on port $PORT" >&2; exit 2; }
    sleep 0.1
done

# 4. GDB, exactly as the test runner runs it.
# stdout goes through a file so that a timeout can be reported without
# printing a second summary line.
timeout "$GDB_TIMEOUT" "$GDB" -q -nx -batch -iex "set auto-load safe-path /" \
    -x tests/gdb/mica.gdb -ex "target remote 127.0.0.1:$PORT" \
    -x tests/gdb/session.py "$B/mica.elf" < /dev/null > "$TMP/gdb.out"
status=$?
cat "$TMP/gdb.out"
if [ $status -eq 124 ] && ! grep -q '^gdb: [0-9]* passed, [0-9]* failed$' "$TMP/gdb.out"; then
    echo "not ok 0 - gdb.timeout (no result within ${GDB_TIMEOUT}s; serial log: $SERIAL_LOG)"
    echo "gdb: 0 passed, 1 failed"
fi
exit $status

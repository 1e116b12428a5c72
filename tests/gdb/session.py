# session.py - the GDB session test: a real GDB drives Mica in QEMU.
#
# run-session.sh starts QEMU stopped at the reset vector with its gdbstub and
# runs:  gdb -batch -x tests/gdb/mica.gdb -ex "target remote ..." -x session.py
# The checks are what a student does in the first lab: break on a C
# function, continue, see the source line, read an argument and a local,
# step, read a backtrace and registers. One "ok N - gdb.NAME" line per check,
# then "gdb: N passed, M failed"; GDB exits 0 only if all passed.

import os
import re

import gdb

results = []


def check(name, fn):
    try:
        ok = bool(fn())
    except Exception as e:  # a GDB error is a failed check, not an abort
        print("#   gdb.%s: %s" % (name, e))
        ok = False
    results.append(ok)
    print("%sok %d - gdb.%s" % ("" if ok else "not ", len(results), name))
    return ok


def run(command):
    return gdb.execute(command, to_string=True)


def function_lines(path, signature):
    """First and last line of the function whose definition starts with signature."""
    with open(path) as f:
        lines = f.read().splitlines()
    first = next(i + 1 for i, l in enumerate(lines) if l.startswith(signature))
    last = next(i + 1 for i in range(first - 1, len(lines)) if lines[i] == "}")
    return first, last


FIRST, LAST = function_lines("kernel/cmdline.c", "VOID KiSetCommandLine(")

check("break_on_c_function", lambda: "Breakpoint 1" in run("break KiSetCommandLine"))
check("continue_to_breakpoint", lambda: run("continue") is not None)
check("stopped_in_function", lambda: gdb.selected_frame().name() == "KiSetCommandLine")
check("source_file", lambda: gdb.selected_frame().find_sal().symtab.filename.endswith("kernel/cmdline.c"))
check("source_line_in_function", lambda: FIRST <= gdb.selected_frame().find_sal().line <= LAST)
check("argument_is_command_line",
      lambda: "gdbtest=1" in gdb.parse_and_eval("CommandLine").string())


def step_and_read_local():
    run("next")
    run("step")
    run("next")
    return int(gdb.parse_and_eval("i")) >= 0


check("step_and_read_local", step_and_read_local)


def backtrace_reaches_startup():
    names = []
    frame = gdb.newest_frame()
    while frame is not None and len(names) < 16:
        names.append(frame.name())
        frame = frame.older()
    return "KiSetCommandLine" in names and "KiSystemStartup" in names


check("backtrace", backtrace_reaches_startup)


def rip_is_higher_half():
    text = run("info registers rip")
    m = re.search(r"rip\s+(0x[0-9a-f]+)", text)
    return m is not None and int(m.group(1), 16) >= 0xFFFFFFFF80000000


check("registers", rip_is_higher_half)
check("finish_returns_to_caller",
      lambda: run("finish") is not None and gdb.selected_frame().name() == "KiSystemStartup")

failed = results.count(False)
print("gdb: %d passed, %d failed" % (len(results) - failed, failed))
try:
    gdb.execute("kill")
except gdb.error:
    pass
os._exit(1 if failed else 0)

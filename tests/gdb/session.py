# session.py - GDB batch test: source-level debugging of Mica works end to end.
#
# Run by the test runner (or tests/gdb/run-session.sh) against a QEMU that is
# stopped at the reset vector and boots Mica with the command line "gdbtest=1":
#   gdb -q -nx -batch -iex "set auto-load safe-path /" -x tests/gdb/mica.gdb \
#       -ex "target remote 127.0.0.1:PORT" -x tests/gdb/session.py build/mica.elf
# It breaks on KiSetCommandLine, checks the stop location, the argument, a
# local after `next`, `finish`, the backtrace and RIP, prints one
# "ok N - gdb.<check>" / "not ok N - gdb.<check>" line per check, then
# "gdb: N passed, M failed", kills QEMU and exits 0 only if all passed.
import os
import re
import sys
import threading
import traceback

import gdb

FUNCTION = "KiSetCommandLine"
CALLER = "KiSystemStartup"
SOURCE = "kernel/ke/cmdline.c"
EXPECTED_CMDLINE = "gdbtest=1"
HIGHER_HALF = 0xFFFFFFFF80000000
# A run-control command (continue/next/finish) that has not stopped after this
# many seconds is interrupted, so a hang is reported as a failed check.
STOP_TIMEOUT = float(os.environ.get("MICA_GDB_STOP_TIMEOUT", "60"))

try:
    REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
except NameError:
    REPO = os.getcwd()

results = []


def check(name):
    """Decorator: run the function now as check `name`; any exception (a GDB
    error included) or a False/str return makes it "not ok"."""
    def run(fn):
        n = len(results) + 1
        try:
            r = fn()
            ok, why = (r is None or r is True), (r if isinstance(r, str) else "")
        except Exception as e:   # gdb.error, gdb.MemoryError, AssertionError...
            ok, why = False, "%s: %s" % (type(e).__name__, e)
        results.append(ok)
        print("%s %d - gdb.%s" % ("ok" if ok else "not ok", n, name))
        if not ok and why:
            for line in str(why).splitlines():
                print("#   " + line)
        sys.stdout.flush()
        return fn
    return run


def run_control(command):
    """gdb.execute(command) for a command that resumes the target, with a
    watchdog that interrupts the target after STOP_TIMEOUT seconds."""
    timer = threading.Timer(STOP_TIMEOUT,
                            lambda: gdb.post_event(lambda: gdb.execute("interrupt")))
    timer.daemon = True
    timer.start()
    try:
        return gdb.execute(command, to_string=True)
    finally:
        timer.cancel()


def frame_function(frame):
    f = frame.function()
    return f.name if f is not None else frame.name()


def function_line_range(path, name):
    """(first, last) line of the definition of C function `name` in `path`:
    from the line naming it (not a prototype) to the first '}' in column 0."""
    with open(path) as f:
        lines = f.read().splitlines()
    start = None
    for i, text in enumerate(lines):
        if re.search(r"\b%s\s*\(" % re.escape(name), text) and not text.rstrip().endswith(";") \
                and not text.startswith((" ", "\t")):
            start = i + 1
            break
    assert start is not None, "no definition of %s in %s" % (name, path)
    for j in range(start, len(lines)):
        if lines[j].rstrip() == "}":
            return start, j + 1
    raise AssertionError("no end of %s in %s" % (name, path))


def assert_eq(what, got, want):
    assert got == want, "%s: got %r, want %r" % (what, got, want)


state = {}


def on_stop(event):
    # GDB prints stop reports itself, they are not in execute(to_string=True).
    state["last_stop"] = event


gdb.events.stop.connect(on_stop)


@check("connected")
def _():
    # At the reset vector: a live thread and a readable RIP (this fails with
    # "Remote 'g' packet reply is too long" if the architecture were i386).
    assert gdb.selected_inferior().pid != 0, "no inferior (target remote failed?)"
    gdb.parse_and_eval("$pc")
    arch = gdb.selected_frame().architecture().name()
    assert_eq("architecture", arch, "i386:x86-64")


@check("break_" + FUNCTION)
def _():
    # Under TCG a software breakpoint on a higher-half address works before
    # the kernel has mapped it (under KVM it would have to be `hbreak`).
    bp = gdb.Breakpoint(FUNCTION)
    state["bp"] = bp
    assert bp.is_valid() and bp.location, "breakpoint not set"
    out = gdb.execute("info breakpoints", to_string=True)
    assert FUNCTION in out, out


@check("continue_stops_at_breakpoint")
def _():
    state.pop("last_stop", None)
    run_control("continue")
    ev = state.get("last_stop")
    assert isinstance(ev, gdb.BreakpointEvent) and state["bp"] in ev.breakpoints, \
        "stopped by %r at pc %#x" % (ev, gdb.selected_frame().pc())
    assert_eq("hit count", state["bp"].hit_count, 1)


@check("stop_function")
def _():
    assert_eq("function", frame_function(gdb.selected_frame()), FUNCTION)


@check("stop_file")
def _():
    sal = gdb.selected_frame().find_sal()
    assert sal.symtab is not None, "no line info at pc %#x" % gdb.selected_frame().pc()
    fn = sal.symtab.filename
    assert fn == SOURCE or fn.endswith("/" + SOURCE), "file %r is not %s" % (fn, SOURCE)


@check("stop_line_in_function")
def _():
    sal = gdb.selected_frame().find_sal()
    path = sal.symtab.fullname()
    if not os.path.exists(path):
        path = os.path.join(REPO, SOURCE)
    first, last = function_line_range(path, FUNCTION)
    sym = gdb.lookup_global_symbol(FUNCTION)
    assert sym is not None, "no global symbol " + FUNCTION
    # The debug info and the source on disk must agree on where it starts.
    assert_eq("DW_AT_decl_line vs %s" % path, sym.line, first)
    assert first < sal.line <= last, \
        "line %d is not inside %s (%s:%d-%d)" % (sal.line, FUNCTION, SOURCE, first, last)
    state["range"] = (first, last)


@check("arg_CommandLine")
def _():
    v = gdb.selected_frame().read_var("CommandLine")
    s = v.string()
    assert EXPECTED_CMDLINE in s, "CommandLine = %r, want it to contain %r" % (s, EXPECTED_CMDLINE)


@check("backtrace_at_breakpoint")
def _():
    older = gdb.selected_frame().older()
    assert older is not None, "no caller frame"
    assert_eq("caller", frame_function(older), CALLER)


@check("next_then_local_i")
def _():
    first, last = state.get("range") or function_line_range(os.path.join(REPO, SOURCE), FUNCTION)
    lines = []
    for _ in range(3):
        run_control("next")
        f = gdb.selected_frame()
        lines.append(f.find_sal().line)
        assert_eq("function after next", frame_function(f), FUNCTION)
    assert all(first < l <= last for l in lines), "next left %s: lines %s" % (FUNCTION, lines)
    v = gdb.selected_frame().read_var("i")
    assert not v.is_optimized_out, "i is <optimized out>"
    t = v.type.strip_typedefs()
    assert t.code == gdb.TYPE_CODE_INT, "i has type %s" % v.type
    i = int(v)
    assert 0 <= i <= len(EXPECTED_CMDLINE) + 1, "i = %d (lines %s)" % (i, lines)


@check("finish_to_" + CALLER)
def _():
    if frame_function(gdb.selected_frame()) == FUNCTION:
        run_control("finish")
    f = gdb.selected_frame()
    assert_eq("function after finish", frame_function(f), CALLER)
    fn = f.find_sal().symtab.filename
    assert fn.endswith("kernel/ke/start.c"), "file %r" % fn


@check("backtrace_has_" + CALLER)
def _():
    names, f = [], gdb.newest_frame()
    while f is not None and len(names) < 64:
        names.append(frame_function(f) or "??")
        f = f.older()
    assert CALLER in names, "backtrace: %s" % " <- ".join(names)


@check("info_registers_rip_higher_half")
def _():
    out = gdb.execute("info registers rip", to_string=True)
    m = re.match(r"\s*rip\s+(0x[0-9a-fA-F]+)", out)
    assert m, "unexpected output: %r" % out
    rip = int(m.group(1), 16)
    assert rip >= HIGHER_HALF, "rip %#x is below %#x" % (rip, HIGHER_HALF)
    assert_eq("$pc", int(gdb.parse_and_eval("$pc")) & (2**64 - 1), rip)


passed = results.count(True)
failed = len(results) - passed
print("gdb: %d passed, %d failed" % (passed, failed))
sys.stdout.flush()
try:
    gdb.execute("kill", to_string=True)     # QEMU exits ("Terminated via GDBstub")
except Exception:
    traceback.print_exc()
sys.stdout.flush()
sys.stderr.flush()
os._exit(0 if failed == 0 else 1)

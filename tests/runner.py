#!/usr/bin/env python3
"""runner.py - boot Mica in QEMU for tests and benchmarks, and judge the result.

    runner.py test   [--only CONFIG] [--pattern P] [--no-host] [--no-gdb]
    runner.py bench  [--pattern P] [--only CONFIG]
    runner.py bench-host BINARY...   (used by `make bench-host`)
    runner.py gdb
    runner.py iso --cmdline "..."   (used by `make run CMDLINE=...`)

Every boot goes through the real path: a GRUB ISO (BIOS or UEFI firmware)
whose grub.cfg carries the command line (test=..., bench=...). ISOs are
made with grub-mkrescue and cached by command line and kernel image.

A boot passes only when QEMU exits with status 33, i.e. the kernel wrote
0x10 to isa-debug-exit after its closing "N passed, 0 failed" line. QEMU
also exits (with status 0) after a triple fault under -no-reboot, so the
runner also looks for resets: "Triple fault"/CPU resets in the -d log and
a second boot banner on the serial port. Each boot has a timeout. Logs go
to build/test-logs/<name>.serial.log and <name>.qemu.log.

The in-kernel batch lists its bug-check tests ("# bugcheck-test NAME CODE");
each is then booted alone and passes only if the kernel stops with that
code (the kernel itself checks the parameters it was told to expect).
"""

import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
LOGS = os.path.join(BUILD, "test-logs")
ISO_CACHE = os.path.join(BUILD, "test-iso")
ELF = os.path.join(BUILD, "mica.elf")
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

# The configurations that matter; names are stable (other tools read them).
TEST_CONFIGS = {
    "bios-128m": {"firmware": "bios", "mem": "128M"},
    "bios-6g": {"firmware": "bios", "mem": "6G"},
    "uefi-256m": {"firmware": "uefi", "mem": "256M"},
}
BENCH_CONFIGS = {
    "bench-128m": {"firmware": "bios", "mem": "128M"},
    "bench-1g": {"firmware": "bios", "mem": "1G"},
    "bench-6g": {"firmware": "bios", "mem": "6G"},
}
# Extra batch boots: name -> (configuration, boot options). They run the
# same tests as the batch boots: with verifier=special every pool block
# below a page (lookaside lists', threads', everyone's) is special pool.
VERIFIER_BOOTS = {
    "bios-128m-verifier": ("bios-128m", "verifier=special"),
}
BUGCHECK_CONFIG = "bios-128m"
TIMEOUT = {"bios": 120, "uefi": 300}
BOOT_BANNER = "Mica x86-64 teaching kernel"
READY = "Mica ready"
PASS_STATUS = 33            # isa-debug-exit: (0x10 << 1) | 1
FAIL_STATUS = 35            # (0x11 << 1) | 1

RESULT_RE = re.compile(r"^(not )?ok (\d+) - (\S+)")
CLOSING_RE = re.compile(r"^(\d+) passed, (\d+) failed")
BUGCHECK_TEST_RE = re.compile(r"^# bugcheck-test (\S+) (0x[0-9a-fA-F]+)")
STOP_RE = re.compile(r"\*\*\* STOP: 0x([0-9A-Fa-f]{8})")
BENCH_RE = re.compile(r"^bench (\S+) (\d+) (\S+)")

GRUB_CFG = """set timeout=0
set default=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
insmod all_video
menuentry "Mica" {{
    multiboot2 /boot/mica.elf {cmdline}
    if [ "$grub_platform" = "pc" ]; then set gfxpayload=text; fi
    boot
}}
"""


def accel():
    if os.environ.get("ACCEL"):
        return os.environ["ACCEL"]
    out = subprocess.run(["sh", os.path.join(ROOT, "tests", "accel-probe.sh")],
                         capture_output=True, text=True)
    return out.stdout.strip() or "tcg"


_iso_lock = threading.Lock()
_elf_digest = None


def make_iso(cmdline):
    """A GRUB ISO booting mica.elf with this command line (cached)."""
    global _elf_digest
    with _iso_lock:
        if _elf_digest is None:
            with open(ELF, "rb") as f:
                _elf_digest = hashlib.sha1(f.read()).hexdigest()
        key = hashlib.sha1((_elf_digest + "\0" + cmdline).encode()).hexdigest()[:16]
        iso = os.path.join(ISO_CACHE, key + ".iso")
        if os.path.exists(iso):
            return iso
        tree = os.path.join(ISO_CACHE, key)
        os.makedirs(os.path.join(tree, "boot", "grub"), exist_ok=True)
        shutil.copy(ELF, os.path.join(tree, "boot", "mica.elf"))
        with open(os.path.join(tree, "boot", "grub", "grub.cfg"), "w") as f:
            f.write(GRUB_CFG.format(cmdline=cmdline))
        r = subprocess.run(["grub-mkrescue", "-o", iso + ".tmp", tree],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("grub-mkrescue failed:\n" + r.stderr)
        os.rename(iso + ".tmp", iso)
        shutil.rmtree(tree)
        return iso


class Boot:
    """One QEMU run: its serial output, exit status and timing."""

    def __init__(self, name, config, cmdline, extra_args=()):
        self.name, self.config, self.cmdline = name, config, cmdline
        self.extra_args = list(extra_args)
        self.lines = []
        self.status = None
        self.timed_out = False
        self.ready_ms = None
        self.seconds = 0.0

    def run(self):
        iso = make_iso(self.cmdline)
        fw = self.config["firmware"]
        serial_log = os.path.join(LOGS, self.name + ".serial.log")
        qemu_log = os.path.join(LOGS, self.name + ".qemu.log")
        args = ["qemu-system-x86_64", "-cpu", "qemu64,+nx,+pdpe1gb", "-accel", accel(),
                "-m", self.config["mem"], "-cdrom", iso, "-display", "none",
                "-monitor", "none", "-serial", "stdio", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                "-d", "int,cpu_reset", "-D", qemu_log]
        if fw == "uefi":
            vars_copy = os.path.join(LOGS, self.name + ".ovmf-vars.fd")
            shutil.copy(OVMF_VARS, vars_copy)
            args += ["-M", "q35",
                     "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMF_CODE,
                     "-drive", "if=pflash,format=raw,unit=1,file=" + vars_copy]
        else:
            args += ["-M", "pc"]
        args += self.extra_args

        start = time.monotonic()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        timer = threading.Timer(TIMEOUT[fw], self._kill, [proc])
        timer.start()
        with open(serial_log, "w", errors="replace") as log:
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").replace("\r", "").rstrip("\n")
                # Firmware and GRUB draw with escape sequences; keep the text.
                line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)
                log.write(line + "\n")
                self.lines.append(line)
                if self.ready_ms is None and line.startswith(READY):
                    self.ready_ms = (time.monotonic() - start) * 1000.0
        self.status = proc.wait()
        timer.cancel()
        self.seconds = time.monotonic() - start
        self.qemu_log = qemu_log
        return self

    def _kill(self, proc):
        self.timed_out = True
        proc.kill()

    # -- judging ---------------------------------------------------------------

    def resets(self):
        """Triple faults and resets: QEMU's log, or a second boot banner."""
        problems = []
        banners = sum(1 for l in self.lines if BOOT_BANNER in l)
        if banners > 1:
            problems.append("the kernel booted %d times (reset)" % banners)
        try:
            with open(self.qemu_log, errors="replace") as f:
                for line in f:
                    if "Triple fault" in line:
                        problems.append("triple fault (see %s)" % self.qemu_log)
                        break
        except OSError:
            pass
        return problems

    def stops(self):
        return [m.group(1).upper() for l in self.lines for m in [STOP_RE.search(l)] if m]

    def closing(self):
        for l in reversed(self.lines):
            m = CLOSING_RE.match(l)
            if m:
                return int(m.group(1)), int(m.group(2))
        return None

    def results(self):
        return [(m.group(1) is None, m.group(3)) for l in self.lines
                for m in [RESULT_RE.match(l)] if m]

    def why_failed(self):
        """None when the boot passed, else the reasons."""
        why = []
        if self.timed_out:
            why.append("timed out after %d s" % TIMEOUT[self.config["firmware"]])
        why += self.resets()
        if self.status != PASS_STATUS and not self.timed_out:
            why.append("QEMU exit status %s (pass is %d)" % (self.status, PASS_STATUS))
        return why or None

    def tail(self, n=25):
        return "\n".join("    | " + l for l in self.lines[-n:])


def run_parallel(boots, jobs):
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda b: b.run(), boots))


def jobs_default():
    return max(1, min(os.cpu_count() or 1, 4))


# ---- test ------------------------------------------------------------------------

def run_summarized(label, args, timeout=600):
    """Run a test program; count its closing "LABEL: N passed, N failed" line."""
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        print("%s tests: could not run (%s)" % (label, e))
        return 0, 1
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stdout.write(r.stderr[-3000:])
    m = re.search(r"^%s: (\d+) passed, (\d+) failed" % label, r.stdout, re.M)
    if not m:
        print("%s tests: no closing line (exit %d)" % (label, r.returncode))
        return 0, 1
    passed, failed = int(m.group(1)), int(m.group(2))
    if r.returncode != 0 and failed == 0:
        failed = 1
    return passed, failed


def run_host():
    return run_summarized("host", [os.path.join(BUILD, "host", "host-tests")])


def run_gdb():
    return run_summarized("gdb", ["sh", os.path.join(ROOT, "tests", "gdb", "run-session.sh")], 300)


def judge_batch(boot):
    """Count one configuration's in-kernel test results."""
    results = boot.results()
    passed = sum(1 for ok, _ in results if ok)
    failed = sum(1 for ok, _ in results if not ok)
    why = boot.why_failed() or []
    closing = boot.closing()
    if closing is None:
        why.append("no closing 'N passed, N failed' line")
    elif closing != (passed, failed):
        why.append("closing line %s disagrees with %d ok / %d not ok lines" %
                   (closing, passed, failed))
    listed = [l for l in boot.lines if BUGCHECK_TEST_RE.match(l)]
    expected_stop = any("# bug check as expected" in l for l in boot.lines)
    if boot.stops() and not expected_stop:
        why.append("unexpected bug check 0x%s" % boot.stops()[0])
    if not results and not listed:
        why.append("no test ran")
    if why and failed == 0:
        failed = 1           # the configuration itself failed
    return passed, failed, why


def judge_bugcheck(boot, code):
    why = boot.why_failed() or []
    stops = boot.stops()
    if not stops:
        why.append("no bug check happened")
    elif int(stops[0], 16) != int(code, 16):
        why.append("stopped with 0x%s, expected %s" % (stops[0], code))
    if not any(ok for ok, _ in boot.results()):
        why.append("the kernel did not report the expected bug check")
    return why


def cmd_test(opts):
    os.makedirs(LOGS, exist_ok=True)
    total_pass = total_fail = 0
    failures = []

    if not opts.no_host:
        p, f = run_host()
        total_pass += p
        total_fail += f

    configs = [c for c in TEST_CONFIGS if not opts.only or c in opts.only.split(",")]
    boots = [Boot(c, TEST_CONFIGS[c], "test=" + opts.pattern) for c in configs]
    # Driver Verifier's special pool for every tag, with the same tests.
    for name, (config, extra) in VERIFIER_BOOTS.items():
        if config in configs:
            boots.append(Boot(name, TEST_CONFIGS[config], "test=%s %s" % (opts.pattern, extra)))
    run_parallel(boots, opts.jobs)
    bugcheck_tests = []
    for b in boots:
        p, f, why = judge_batch(b)
        total_pass += p
        total_fail += f
        print("config %-10s %3d passed, %d failed  (%.1f s)%s" %
              (b.name, p, f, b.seconds, "" if not why else "  FAILED: " + "; ".join(why)))
        for ok, name in b.results():
            if not ok:
                failures.append("%s: %s" % (b.name, name))
        if why:
            failures.append("%s: %s\n%s" % (b.name, "; ".join(why), b.tail()))
        if b.name == BUGCHECK_CONFIG or not bugcheck_tests:
            listed = [m.groups() for l in b.lines for m in [BUGCHECK_TEST_RE.match(l)] if m]
            if listed:
                bugcheck_tests = listed

    if bugcheck_tests:
        cfg = TEST_CONFIGS.get(BUGCHECK_CONFIG, next(iter(TEST_CONFIGS.values())))
        bboots = [Boot("bugcheck-" + name, cfg, "test=" + name) for name, _ in bugcheck_tests]
        run_parallel(bboots, opts.jobs)
        bp = bf = 0
        for b, (name, code) in zip(bboots, bugcheck_tests):
            why = judge_bugcheck(b, code)
            if why:
                bf += 1
                failures.append("bugcheck %s (expects %s): %s\n%s" %
                                (name, code, "; ".join(why), b.tail()))
                print("not ok - bugcheck %s expects %s: %s" % (name, code, "; ".join(why)))
            else:
                bp += 1
                print("ok - bugcheck %s (%s %s, %.1f s)" % (name, code,
                      "stopped as expected", b.seconds))
        print("bugcheck: %d passed, %d failed" % (bp, bf))
        total_pass += bp
        total_fail += bf

    if not opts.no_gdb:
        p, f = run_gdb()
        total_pass += p
        total_fail += f

    if failures:
        print("\nFailures (logs in build/test-logs/):")
        for f in failures:
            print("  - " + f)
    print("%d passed, %d failed" % (total_pass, total_fail))
    return 0 if total_fail == 0 and total_pass > 0 else 1


# ---- bench -----------------------------------------------------------------------

def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def cmd_bench(opts):
    os.makedirs(LOGS, exist_ok=True)
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    configs = [c for c in BENCH_CONFIGS if not opts.only or c in opts.only.split(",")]
    rows = []           # (config, name, value, unit)
    for c in configs:
        cfg = BENCH_CONFIGS[c]
        # The main run, then two short boots: boot figures are medians of three.
        main = Boot(c, cfg, "bench=" + opts.pattern).run()
        # One at a time: a second QEMU on the other core would skew the timing.
        extra = [Boot("%s-boot%d" % (c, i), cfg, "bench=boot").run() for i in (1, 2)]
        why = main.why_failed()
        if why:
            print("%s: benchmark boot failed: %s\n%s" % (c, "; ".join(why), main.tail()))
            return 1
        figures = {}
        for l in main.lines:
            m = BENCH_RE.match(l)
            if m:
                figures[m.group(1)] = (int(m.group(2)), m.group(3))
        boots = [main] + [b for b in extra if b.why_failed() is None]
        ready = [b.ready_ms for b in boots if b.ready_ms is not None]
        cycles = [int(m.group(2)) for b in boots for l in b.lines
                  for m in [BENCH_RE.match(l)] if m and m.group(1) == "boot.ready"]
        if ready:
            figures["boot.wall_ms"] = (int(round(median(ready))), "ms")
        if cycles:
            figures["boot.ready"] = (median(cycles), "cycles")
        for name, (value, unit) in figures.items():
            rows.append((c, name, value, unit))

    path = os.path.join(BUILD, "bench", "results.tsv")
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                if line.split("\t")[0] not in configs:
                    kept.append(line)
    with open(path, "w") as f:
        f.write("config\tname\tvalue\tunit\n")
        for line in kept:
            f.write(line + "\n")
        for r in rows:
            f.write("%s\t%s\t%s\t%s\n" % r)

    names = []
    for _, n, _, _ in rows:
        if n not in names:
            names.append(n)
    width = max([len(n) for n in names] + [10])
    print("\n%-*s %6s  %s" % (width, "benchmark", "unit", "  ".join("%14s" % c for c in configs)))
    for n in names:
        unit = next(u for _, nn, _, u in rows if nn == n)
        vals = []
        for c in configs:
            v = [val for cc, nn, val, _ in rows if cc == c and nn == n]
            vals.append("%14s" % (v[0] if v else "-"))
        print("%-*s %6s  %s" % (width, n, unit, "  ".join(vals)))
    print("\nresults: %s" % os.path.relpath(path, ROOT))
    return 0


# ---- bench-host --------------------------------------------------------------------

HOST_BENCH_CONFIG = "host"


def cmd_bench_host(opts):
    """Run the host pool benchmarks (no QEMU) and file them under config "host"."""
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    rows = []           # (config, name, value, unit)
    for binary in opts.binaries:
        p = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=600)
        found = 0
        for l in p.stdout.splitlines():
            m = BENCH_RE.match(l)
            if m:
                rows.append((HOST_BENCH_CONFIG, m.group(1), int(m.group(2)), m.group(3)))
                found += 1
        if p.returncode != 0 or found == 0:
            print("%s: exit status %d, %d figures\n%s" % (binary, p.returncode, found, p.stdout))
            return 1

    path = os.path.join(BUILD, "bench", "results.tsv")
    kept = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f.read().splitlines()[1:]:
                if line.split("\t")[0] != HOST_BENCH_CONFIG:
                    kept.append(line)
    with open(path, "w") as f:
        f.write("config\tname\tvalue\tunit\n")
        for line in kept:
            f.write(line + "\n")
        for r in rows:
            f.write("%s\t%s\t%s\t%s\n" % r)

    # One line per figure, one column per allocator: pool.<alloc>.<figure>.
    allocs, figures, value, unit = [], [], {}, {}
    for _, name, v, u in rows:
        parts = name.split(".", 2)
        if len(parts) != 3:
            continue
        a, fig = parts[1], parts[2]
        if a not in allocs:
            allocs.append(a)
        if fig not in figures:
            figures.append(fig)
        value[a, fig] = v
        unit[fig] = u
    ratio = "mica" in allocs and "mimalloc" in allocs
    print("\n%-12s %7s  %s%s" % ("pool", "unit", "  ".join("%10s" % a for a in allocs),
                                 "  mica/mimalloc" if ratio else ""))
    for fig in figures:
        vals = "  ".join("%10s" % value.get((a, fig), "-") for a in allocs)
        r = ""
        if ratio and value.get(("mimalloc", fig)) and ("mica", fig) in value:
            r = "  %13.2f" % (value["mica", fig] / value["mimalloc", fig])
        print("%-12s %7s  %s%s" % (fig, unit[fig], vals, r))
    print("\nresults: %s" % os.path.relpath(path, ROOT))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test")
    t.add_argument("--only", help="comma-separated configuration names")
    t.add_argument("--pattern", default="all", help="test=PATTERN for the batch boots")
    t.add_argument("--no-host", action="store_true")
    t.add_argument("--no-gdb", action="store_true")
    t.add_argument("--jobs", type=int, default=jobs_default())
    b = sub.add_parser("bench")
    b.add_argument("--only", help="comma-separated configuration names")
    b.add_argument("--pattern", default="all")
    b.add_argument("--jobs", type=int, default=jobs_default())
    h = sub.add_parser("bench-host")
    h.add_argument("binaries", nargs="+", help="host benchmark programs to run")
    sub.add_parser("gdb")
    i = sub.add_parser("iso", help="print the path of an ISO that boots with --cmdline")
    i.add_argument("--cmdline", default="")
    opts = ap.parse_args()
    if opts.cmd == "iso":
        print(make_iso(opts.cmdline))
        return 0
    if opts.cmd == "test":
        return cmd_test(opts)
    if opts.cmd == "bench":
        return cmd_bench(opts)
    if opts.cmd == "bench-host":
        return cmd_bench_host(opts)
    p, f = run_gdb()
    print("%d passed, %d failed" % (p, f))
    return 0 if f == 0 and p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

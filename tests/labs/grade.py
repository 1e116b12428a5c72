#!/usr/bin/env python3
"""grade.py - grade one homework lab from its rubric, with Mica's own tests.

    grade.py LAB... [--no-build] [-T PATTERN] [--json-dir DIR]

Reads tests/labs/LAB.rubric and, when present, tests/labs/hidden/LAB.rubric
(a teacher's extra lines). A rubric line is

    points  where  pattern  timeout  ["hint shown on failure"]

where "where" is host (the host unit-test binary, run with the pattern),
qemu (in-kernel tests: every qemu line of the lab shares ONE boot of
bios-128m with test=<patterns joined by commas>), qemu@CONFIG (the same in
another of tests/runner.py's configurations, TEST_CONFIGS or EXTRA_BOOTS,
e.g. qemu@uefi-256m for q35's ICH9 controller: one boot per configuration
named) or bug (bug-check tests: the batch boot lists them, each then boots
alone, as tests/runner.py does).
"part NAME: title" lines group the lines below them; '#' starts a comment.

A line earns its points only if at least one test matched its pattern and
every matched test printed "ok" (a SKIP earns nothing) within the line's
timeout (seconds, times GRADE_SLOW from the environment, default 1); qemu
lines also need a boot that ended with the kernel's own closing line. The
stripped lab's stubs call LAB_TODO, and the test runners fail every test
during which it ran, so an unfinished lab scores 0.

Prints a Pintos-style table ("**" marks lost points), part subtotals and
the total; for each failure the KEXPECT lines, the stop line with the
blue screen after it, the last serial lines, the hint and the log's path.
Writes build/grade/LAB.json ({"where pattern": [points, max, seconds]}).
Exit status 0 at full marks, 1 below, 2 when the rubric is missing or bad.
Several labs are graded together (one boot for all their qemu lines; used
by `make lab-check`), each with its own table and JSON.
-T PATTERN grades only the rubric lines whose pattern contains PATTERN, or
the one test PATTERN names inside a wider line, and prints all their output
(points are then not recorded).
"""

import argparse
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import time

LABS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(LABS))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import runner  # noqa: E402

GRADE_CONFIG = "bios-128m"
BOOT_ALLOWANCE = 60             # seconds for firmware, GRUB and the boot itself
WHERE = ("host", "qemu", "bug")
# A test's own failure lines: KEXPECT's "#   file:line: expected ...", the
# "not implemented" of LAB_TODO and ktest.c's bug-check verdicts.
EXPECT_RE = re.compile(r"^#\s+(\S+:\d+: |not implemented|expected bug check|unexpected bug check|"
                       r"bug check parameter|the test returned)")
TAIL = 20
PATTERN_MAX = 200               # tests/ktest.c reads test= into 256 bytes; GRUB adds nothing


class RubricError(Exception):
    pass


def where_config(where):
    """("qemu", CONFIG) for qemu@CONFIG, (where, GRADE_CONFIG) otherwise;
    None for an unknown kind or configuration."""
    kind, _, config = where.partition("@")
    if kind not in WHERE or (config and (kind != "qemu" or config not in runner.TEST_CONFIGS and
                                         config not in runner.EXTRA_BOOTS)):
        return None
    return kind, config or GRADE_CONFIG


def boot_config(name):
    """A configuration's QEMU settings and extra boot options."""
    if name in runner.EXTRA_BOOTS:
        base, _, options = runner.EXTRA_BOOTS[name]
        # The base may be a page-file machine (runner.PAGEFILE_CONFIGS).
        return {**runner.TEST_CONFIGS, **runner.PAGEFILE_CONFIGS}[base], options + " "
    return runner.TEST_CONFIGS[name], ""


class Line:
    def __init__(self, part, points, where, pattern, timeout, hint, origin):
        self.part, self.points, self.where, self.pattern = part, points, where, pattern
        self.kind, self.config = where_config(where) or (where, GRADE_CONFIG)
        self.timeout, self.hint, self.origin = timeout, hint, origin
        self.earned, self.seconds = 0, 0.0
        self.why = []           # why points were lost
        self.details = []       # lines to show on failure
        self.log = None

    @property
    def key(self):
        return "%s %s" % (self.where, self.pattern)


def read_rubric(path, lab, part="(no part)"):
    lines = []
    with open(path) as f:
        for no, text in enumerate(f, 1):
            origin = "%s:%d" % (os.path.relpath(path, ROOT), no)
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            m = re.match(r"^part\s+(.*)$", text)
            if m:
                part = "part " + m.group(1).strip()
                continue
            try:
                words = shlex.split(text, comments=True)
            except ValueError as e:
                raise RubricError("%s: %s" % (origin, e))
            if len(words) not in (4, 5) or where_config(words[1]) is None:
                raise RubricError("%s: expected 'points host|qemu|qemu@CONFIG|bug pattern timeout [\"hint\"]'"
                                  % origin)
            try:
                points, timeout = int(words[0]), float(words[3])
            except ValueError:
                raise RubricError("%s: points and timeout must be numbers" % origin)
            if points <= 0 or timeout <= 0:
                raise RubricError("%s: points and timeout must be positive" % origin)
            line = Line(part, points, words[1], words[2], timeout,
                        words[4] if len(words) == 5 else None, origin)
            line.lab = lab
            lines.append(line)
    return lines


def ktest_match(patterns, full):
    """tests/ktest_common.c's KtestMatch for "suite.name"."""
    suite = full.split(".")[0]
    for p in patterns.split(","):
        if p == "all" or fnmatch.fnmatchcase(full, p) or ("." not in p and fnmatch.fnmatchcase(suite, p)):
            return True
    return False


def slow():
    try:
        return max(1.0, float(os.environ.get("GRADE_SLOW", "1")))
    except ValueError:
        return 1.0


class TimedLines(list):
    """A boot's serial lines with the moment each arrived (Boot.run appends)."""

    def __init__(self):
        super().__init__()
        self.times = []

    def append(self, line):
        self.times.append(time.monotonic())
        super().append(line)


def judge_results(line, results, limit):
    """results: [(ok, name, skipped, seconds, expects)] of the tests line matched."""
    mine = [r for r in results if ktest_match(line.pattern, r[1])]
    line.seconds = sum(r[3] for r in mine)
    if not mine:
        line.why.append("no test matched '%s'" % line.pattern)
    for ok, name, skipped, seconds, expects in mine:
        if not ok:
            line.why.append("not ok: " + name)
            line.details += expects
        elif skipped:
            line.why.append("skipped: " + name)
    if line.seconds > limit:
        line.why.append("took %.1f s, the limit is %.0f s (slow machine? GRADE_SLOW=3)" %
                        (line.seconds, limit))


def parse_results(lines, times=None):
    """[(ok, name, skipped, seconds, expects)] from TAP-style lines; a test's
    KEXPECT lines are the '#' lines printed since the previous result."""
    out, expects, last = [], [], None
    for i, text in enumerate(lines):
        t = times[i] if times else None
        if text.startswith("1..") and t is not None:
            last = t
        m = runner.RESULT_RE.match(text)
        if m:
            ok = m.group(1) is None
            seconds = (t - last) if (t is not None and last is not None) else 0.0
            out.append((ok, m.group(3), ok and m.group(4) is not None, seconds, expects))
            expects, last = [], t
        elif EXPECT_RE.match(text) or text.startswith("LAB "):
            expects.append(text)
    return out


def run_host(lines, grade_dir, verbose):
    binary = os.path.join(runner.BUILD, "host", "host-tests")
    for line in lines:
        limit = line.timeout * slow()
        log = os.path.join(grade_dir, "host-%s.log" % re.sub(r"[^\w.-]", "_", line.pattern))
        start = time.monotonic()
        try:
            r = subprocess.run([binary, line.pattern], capture_output=True, text=True, timeout=limit,
                               env=dict(os.environ, MICA_LAB=",".join(GRADED_LABS)))
            output = r.stdout + r.stderr
        except subprocess.TimeoutExpired as e:
            output = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
            line.why.append("timed out after %.0f s" % limit)
        except OSError as e:
            output = ""
            line.why.append("could not run %s: %s" % (binary, e))
        elapsed = time.monotonic() - start
        with open(log, "w") as f:
            f.write(output)
        line.log = log
        text = output.splitlines()
        judge_results(line, [(ok, n, s, 0.0, x) for ok, n, s, _, x in parse_results(text)], limit)
        line.seconds = elapsed
        if "ERROR: AddressSanitizer" in output or "runtime error:" in output:
            line.why.append("a sanitizer stopped the host tests")
            line.details += [l for l in text if "Sanitizer" in l or "runtime error" in l][:5]
        if line.why:
            line.details += text[-TAIL:] if verbose or not line.details else []
        if verbose:
            print(output)


def stop_screen(b):
    """The STOP line and the blue screen after it (code, parameters, stack)."""
    for i, text in enumerate(b.lines):
        if runner.STOP_RE.search(text):
            return b.lines[i:i + 16]
    return []


def boot_problems(b):
    why = b.why_failed() or []
    if b.status == runner.FAIL_STATUS:
        why = [w for w in why if not w.startswith("QEMU exit status")]   # some test failed
    if b.closing() is None:
        why.append("the boot ended without the kernel's closing line")
    expected_stop = any("# bug check as expected" in l for l in b.lines)
    if b.stops() and not expected_stop:
        why.append("unexpected bug check 0x%s" % b.stops()[0])
    return why


def chunks(lines, limit=PATTERN_MAX):
    """Rubric lines in groups whose comma-joined patterns fit the kernel's
    test= buffer (a longer option would be cut short, silently)."""
    out, cur = [], []
    for l in lines:
        if cur and len(",".join(x.pattern for x in cur + [l])) > limit:
            out.append(cur)
            cur = []
        cur.append(l)
    return out + [cur] if cur else out


def listing_config(qemu):
    """The configuration whose batch boot lists the bug-check tests:
    GRADE_CONFIG, unless no qemu line boots there but some boot elsewhere
    (then the first of those, which saves a boot). A boot whose test=
    selects one bug-check test alone would run it instead of listing it."""
    configs = sorted({l.config for l in qemu})
    return GRADE_CONFIG if GRADE_CONFIG in configs or not configs else configs[0]


def run_qemu(name, qemu, bugs, jobs, verbose):
    """Batch boots for the qemu lines (those in listing_config() also list
    the bug-check tests): one per configuration, unless the patterns do not
    fit one test= option; up to jobs of them at once, as the bug-check
    boots. Each boot's time limit is the largest group's (the lines keep
    their own timeouts)."""
    listed, problems = [], []
    lister = listing_config(qemu)
    configs = sorted({l.config for l in qemu} | ({lister} if bugs else set()),
                     key=lambda c: c != GRADE_CONFIG)
    groups = []
    for c in configs:
        # The bug-check patterns first: should the patterns need two boots,
        # the bug-check tests are still listed among others, not alone.
        groups += [(c, g) for g in chunks((bugs if c == lister else []) + [l for l in qemu if l.config == c])]
    budget = max(BOOT_ALLOWANCE + sum(l.timeout for l in group if l.kind == "qemu") for _, group in groups)
    runner.TIMEOUT = dict(runner.TIMEOUT, bios=budget * slow(), uefi=(budget + BOOT_ALLOWANCE) * slow())
    boots = []
    for i, (c, group) in enumerate(groups):
        config, options = boot_config(c)
        b = runner.Boot("grade-%s%s%s" % (name, "" if c == GRADE_CONFIG else "-" + c,
                                          "-%d" % (i + 1) if len(groups) > 1 else ""), config,
                        "test=" + ",".join(l.pattern for l in group) + " " + options + LAB_OPTION())
        b.lines = TimedLines()
        boots.append(b)
    runner.run_parallel(boots, jobs)
    for b, (c, group) in zip(boots, groups):
        log = os.path.join(runner.LOGS, b.name + ".serial.log")
        results = parse_results(b.lines, b.lines.times)
        why = boot_problems(b)
        problems += why
        for line in group:
            if line.kind != "qemu":
                continue
            line.log = log
            judge_results(line, results, line.timeout * slow())
            line.why += why
            if line.why:
                line.details += stop_screen(b) + ["last serial lines:"] + b.lines[-TAIL:]
        if verbose:
            print("\n".join(b.lines))
        listed += [m.groups() for l in b.lines for m in [runner.BUGCHECK_TEST_RE.match(l)] if m]
    return listed, problems


def run_bugs(name, bugs, listed, jobs, verbose):
    todo = []
    for line in bugs:
        mine = [(n, c) for n, c in listed if ktest_match(line.pattern, n)]
        if not mine:
            line.why.append("no bug-check test matched '%s'" % line.pattern)
        todo += [(line, n, c) for n, c in mine]
    if not todo:
        return
    runner.TIMEOUT = dict(runner.TIMEOUT, bios=max(l.timeout for l, _, _ in todo) * slow())
    boots = []
    for line, test, code in todo:
        b = runner.Boot("grade-bugcheck-%s" % test, runner.alone_config(test),
                        LAB_OPTION() + " test=" + test)     # no test disks: each boot is quicker
        b.lines = TimedLines()
        boots.append(b)
    runner.run_parallel(boots, jobs)
    for (line, name, code), b in zip(todo, boots):
        why = runner.judge_bugcheck(b, code)
        line.seconds += b.seconds
        line.log = os.path.join(runner.LOGS, b.name + ".serial.log")
        if b.seconds > line.timeout * slow() and not why:
            why.append("took %.1f s, the limit is %.0f s" % (b.seconds, line.timeout * slow()))
        if why:
            line.why.append("%s (expects %s): %s" % (name, code, "; ".join(why)))
            line.details += [l for l in b.lines if EXPECT_RE.match(l) or l.startswith("LAB ")]
            line.details += stop_screen(b) + ["last serial lines:"] + b.lines[-TAIL:]
        if verbose:
            print("\n".join(b.lines))


def report(lab, lines, out=sys.stdout):
    w = max([len(l.pattern) for l in lines] + [20])
    total = maximum = 0
    part = None
    sub = [0, 0]

    def subtotal():
        if part is not None:
            out.write("  %-*s %3d/%3d\n" % (w + 12, "subtotal", sub[0], sub[1]))

    out.write("\nGrade for lab %s\n" % lab)
    for l in lines:
        if l.part != part:
            subtotal()
            part, sub = l.part, [0, 0]
            out.write("\n%s\n" % part)
        l.earned = l.points if not l.why else 0
        sub[0] += l.earned
        sub[1] += l.points
        total += l.earned
        maximum += l.points
        out.write("%s %3d/%3d  %-4s  %-*s %6.1f s%s\n" % ("**" if l.why else "  ", l.earned, l.points,
                                                         l.where, w, l.pattern, l.seconds,
                                                         "  " + l.why[0] if l.why else ""))
    subtotal()
    out.write("\nTOTAL %d/%d\n" % (total, maximum))
    failed = [l for l in lines if l.why]
    if failed:
        out.write("\nFailures:\n")
    for l in failed:
        out.write("\n== %s %s (%s)\n" % (l.where, l.pattern, l.origin))
        for why in l.why:
            out.write("   %s\n" % why)
        seen = set()
        for d in l.details:
            if d not in seen or not d.startswith("#"):
                out.write("   | %s\n" % d)
            seen.add(d)
        if l.hint:
            out.write("   hint: %s\n" % l.hint)
        if l.log:
            out.write("   log: %s\n" % os.path.relpath(l.log, os.getcwd()))
    return total, maximum


# The labs being graded: only their LAB_TODO stubs fail a test (kernel/ke/lab.c,
# KiLabIsGraded). A later lab, stripped in the same tree, has stubs that run
# under an earlier lab's tests (pages go through the PFN lists and the run
# tree); their fallbacks are correct, so they must not cost the earlier lab.
GRADED_LABS = []


def LAB_OPTION():
    """After test= in a batch boot: the runner gives a boot its test devices
    and disks only when its command line starts with test=, as its own test
    boots do (the mdl lab reads the test disk). Before it in a bug-check
    test's boot, which needs neither."""
    return "lab=%s" % ",".join(GRADED_LABS) if GRADED_LABS else ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("labs", nargs="+", metavar="LAB")
    ap.add_argument("--no-build", action="store_true", help="the kernel and host tests are built")
    ap.add_argument("-T", dest="only", help="grade only the lines whose pattern matches, verbosely")
    ap.add_argument("--json-dir", help="where LAB.json goes (default build/grade)")
    ap.add_argument("--jobs", type=int, default=runner.jobs_default())
    opts = ap.parse_args(argv)

    lines = []
    GRADED_LABS[:] = opts.labs
    for lab in opts.labs:
        rubric = os.path.join(LABS, lab + ".rubric")
        hidden = os.path.join(LABS, "hidden", lab + ".rubric")
        if not os.path.exists(rubric):
            sys.stderr.write("grade: no rubric %s\n" % os.path.relpath(rubric, os.getcwd()))
            return 2
        try:
            lines += read_rubric(rubric, lab)
            if os.path.exists(hidden):
                lines += read_rubric(hidden, lab, "part hidden")
        except RubricError as e:
            sys.stderr.write("grade: %s\n" % e)
            return 2
    if opts.only:
        chosen = []
        for l in lines:
            if l.pattern == opts.only or opts.only in l.pattern:
                chosen.append(l)
            elif "*" not in opts.only and ktest_match(l.pattern, opts.only):
                l.pattern = opts.only           # one test of a wider line
                chosen.append(l)
        lines = chosen
        if not lines:
            sys.stderr.write("grade: no rubric line matches %s\n" % opts.only)
            return 2
    if not opts.no_build:
        r = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "all", "build/host/host-tests"])
        if r.returncode != 0:
            sys.stderr.write("grade: the tree does not build\n")
            return 1

    grade_dir = os.path.join(runner.BUILD, "grade")
    json_dir = opts.json_dir or grade_dir
    for d in (grade_dir, json_dir, runner.LOGS):
        os.makedirs(d, exist_ok=True)
    verbose = opts.only is not None
    name = "-".join(opts.labs)
    run_host([l for l in lines if l.where == "host"], grade_dir, verbose)
    qemu = [l for l in lines if l.kind == "qemu"]
    bugs = [l for l in lines if l.where == "bug"]
    if qemu or bugs:
        listed, problems = run_qemu(name, qemu, bugs, opts.jobs, verbose)
        if bugs and not listed and problems:
            for l in bugs:
                l.why.append("the listing boot failed: " + "; ".join(problems))
        else:
            run_bugs(name, bugs, listed, opts.jobs, verbose)
    full = True
    for lab in opts.labs:
        mine = [l for l in lines if l.lab == lab]
        total, maximum = report(lab, mine)
        full = full and total == maximum
        result = {}
        for l in mine:
            key = l.key if l.key not in result else "%s (%s)" % (l.key, l.origin)
            result[key] = [l.earned, l.points, round(l.seconds, 2)]
        if not opts.only:
            with open(os.path.join(json_dir, lab + ".json"), "w") as f:
                json.dump(result, f, indent=1)
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""labstrip.py - turn the reference tree into a student's tree for a lab.

    labstrip.py --lab LAB --src DIR --dest DIR    copy DIR (without build/, .git)
                                                   and strip LAB and every later lab
    labstrip.py --lab LAB --in-place DIR          strip a copy made beforehand
    labstrip.py --lab LAB --src REF --dest STRIPPED --check-only
                                                   only check: STRIPPED differs from
                                                   REF only inside the regions of LAB
                                                   and later labs, and keeps none
    labstrip.py --regions [--lab LAB] DIR         list the marked regions (lab file:line)

Labs are ordered by tests/labs/ORDER; a student working on lab x keeps the
reference code of every earlier lab. In C sources (*.c, *.h) a region is

        /* LAB runtree: BEGIN - hint for the student */
        ...reference code...
        /* LAB runtree: ELSE */
    #ifdef MICA_LAB_STUB
        ...stub: LAB_TODO(runtree); and a fallback or a return...
    #endif
        /* LAB runtree: END */

and a stripped region becomes the line "/* LAB runtree: hint */" (BEGIN's
indentation) followed by the stub without its #ifdef/#endif. The reference
tree never defines MICA_LAB_STUB, so there the stub is never compiled.

Every region of every lab is checked before anything is written, and the
tool refuses (exit status 2, "file:line: why") markers that are not alone
on their line, unknown labs, nesting, ELSE/END without BEGIN, a region left
open, END of another lab, a region without ELSE, an ELSE part that is not
exactly one #ifdef MICA_LAB_STUB ... #endif block, reference or stub code
whose braces do not balance, and markers outside a function body (a
brace-depth heuristic: depth 0, outside every { }, is outside). It prints
the files it changed, with the labs stripped in each.
"""

import argparse
import difflib
import os
import re
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_SUFFIXES = (".c", ".h")
SKIP_DIRS = {"build", ".git", "__pycache__"}

MARKER_RE = re.compile(r"^(\s*)/\* LAB ([a-z0-9_]+): (BEGIN(?: - (.*?))?|ELSE|END) \*/\s*$")
# Anything that looks like a marker, to catch malformed ones.
LOOSE_RE = re.compile(r"/\*\s*LAB\s+\S+?\s*:\s*(BEGIN|ELSE|END)\b")
STUB_IF = "#ifdef MICA_LAB_STUB"


class Refusal(Exception):
    def __init__(self, path, line, why):
        super().__init__("%s:%d: %s" % (path, line, why))


def read_order(path=os.path.join(HERE, "ORDER")):
    with open(path) as f:
        return [w for line in f for w in line.split("#")[0].split()]


class Region:
    def __init__(self, lab, begin, hint, indent):
        self.lab, self.begin, self.hint, self.indent = lab, begin, hint, indent
        self.else_ = self.end = None
        self.stub = []              # lines between #ifdef and #endif


def brace_depths(lines):
    """Brace depth at the start of each line, outside comments, strings,
    character constants and preprocessor lines (a heuristic, not a parser)."""
    depths, depth, in_comment, in_directive = [], 0, False, False
    for line in lines:
        depths.append(depth)
        if not in_comment and (in_directive or line.lstrip().startswith("#")):
            in_directive = line.rstrip().endswith("\\")
            continue
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if in_comment:
                if line.startswith("*/", i):
                    in_comment = False
                    i += 1
            elif line.startswith("/*", i):
                in_comment = True
                i += 1
            elif line.startswith("//", i):
                break
            elif c in "\"'":
                i += 1
                while i < n and line[i] != c:
                    i += 2 if line[i] == "\\" else 1
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
    depths.append(depth)
    return depths


def parse(path, text, order):
    """The regions of one file, checked; raises Refusal."""
    lines = text.split("\n")
    depths = brace_depths(lines)
    regions, cur = [], None
    for i, line in enumerate(lines):
        no = i + 1
        m = MARKER_RE.match(line)
        if not m:
            if LOOSE_RE.search(line):
                raise Refusal(path, no, "malformed LAB marker: it must be alone on its line, "
                              "exactly '/* LAB name: BEGIN - hint */', '/* LAB name: ELSE */' "
                              "or '/* LAB name: END */'")
            continue
        indent, lab, kind, hint = m.group(1), m.group(2), m.group(3).split(" ")[0], m.group(4)
        if lab not in order:
            raise Refusal(path, no, "unknown lab '%s' (tests/labs/ORDER: %s)" % (lab, " ".join(order)))
        if depths[i] <= 0:
            raise Refusal(path, no, "LAB %s: %s outside a function body (brace depth 0)" % (lab, kind))
        if kind == "BEGIN":
            if cur is not None:
                raise Refusal(path, no, "LAB %s: BEGIN inside the region of LAB %s opened at line %d "
                              "(regions do not nest)" % (lab, cur.lab, cur.begin))
            cur = Region(lab, no, (hint or "").strip(), indent)
            continue
        if cur is None:
            raise Refusal(path, no, "LAB %s: %s without BEGIN" % (lab, kind))
        if lab != cur.lab:
            raise Refusal(path, no, "LAB %s: %s inside the region of LAB %s opened at line %d" %
                          (lab, kind, cur.lab, cur.begin))
        if kind == "ELSE":
            if cur.else_ is not None:
                raise Refusal(path, no, "LAB %s: second ELSE (the first is at line %d)" % (lab, cur.else_))
            cur.else_ = no
            continue
        if cur.else_ is None:
            raise Refusal(path, no, "LAB %s: END without ELSE: a region needs a stub "
                          "(ELSE, then #ifdef MICA_LAB_STUB ... #endif)" % lab)
        cur.end = no
        check_region(path, lines, depths, cur)
        regions.append(cur)
        cur = None
    if cur is not None:
        raise Refusal(path, cur.begin, "LAB %s: BEGIN without END" % cur.lab)
    return regions


def check_region(path, lines, depths, r):
    """The ELSE part is one #ifdef MICA_LAB_STUB ... #endif; braces balance."""
    body = [(no, lines[no - 1]) for no in range(r.else_ + 1, r.end) if lines[no - 1].strip()]
    if not body or body[0][1].strip() != STUB_IF or body[-1][1].strip() != "#endif":
        raise Refusal(path, r.else_, "LAB %s: the ELSE part must be exactly one '%s' ... '#endif' "
                      "block (only blank lines around it)" % (r.lab, STUB_IF))
    level = 0
    for no, line in body[1:-1]:
        word = line.strip().split(" ")[0].split("(")[0]
        if word in ("#if", "#ifdef", "#ifndef"):
            level += 1
        elif word == "#endif":
            level -= 1
            if level < 0:
                raise Refusal(path, no, "LAB %s: #endif closes the stub block early" % r.lab)
    if level != 0:
        raise Refusal(path, body[-1][0], "LAB %s: unbalanced #if inside the stub" % r.lab)
    if depths[r.begin - 1] != depths[r.else_ - 1]:
        raise Refusal(path, r.begin, "LAB %s: braces of the reference code (lines %d-%d) do not "
                      "balance" % (r.lab, r.begin, r.else_))
    if depths[r.else_ - 1] != depths[r.end - 1]:
        raise Refusal(path, r.else_, "LAB %s: braces of the stub (lines %d-%d) do not balance" %
                      (r.lab, r.else_, r.end))
    r.stub = [line for no, line in [(n, lines[n - 1]) for n in range(body[0][0] + 1, body[-1][0])]]


def strip_text(text, regions, labs):
    """text with the regions of labs replaced by hint + stub."""
    lines = text.split("\n")
    out, i = [], 0
    for r in regions:
        if r.lab not in labs:
            continue
        out += lines[i:r.begin - 1]
        out.append("%s/* LAB %s: %s */" % (r.indent, r.lab, r.hint or "your code here"))
        out += r.stub
        i = r.end
    out += lines[i:]
    return "\n".join(out)


def source_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, root), path


def all_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in filenames:
            if name in SKIP_DIRS:       # a git worktree's .git is a file
                continue
            path = os.path.join(dirpath, name)
            yield os.path.relpath(path, root)


def read(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def scan(root, order):
    """{relative path: (text, regions)} for files with regions; raises Refusal."""
    found = {}
    for rel, path in source_files(root):
        text = read(path)
        if "LAB" not in text:
            continue
        regions = parse(rel, text, order)
        if regions:
            found[rel] = (text, regions)
    return found


def labs_from(lab, order):
    if lab not in order:
        raise Refusal("tests/labs/ORDER", 1, "unknown lab '%s' (labs: %s)" % (lab, " ".join(order)))
    return order[order.index(lab):]


def strip_tree(root, lab, order, out=None):
    out = out or sys.stdout
    labs = labs_from(lab, order)
    found = scan(root, order)           # every file checked before one is written
    changed = []
    for rel, (text, regions) in sorted(found.items()):
        stripped = [r.lab for r in regions if r.lab in labs]
        if not stripped:
            continue
        with open(os.path.join(root, rel), "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(strip_text(text, regions, labs))
        changed.append(rel)
        out.write("stripped %s: %s\n" % (rel, ", ".join(sorted(set(stripped), key=order.index))))
    if not changed:
        out.write("no region of %s found: nothing stripped\n" % ", ".join(labs))
    return changed


def copy_tree(src, dest):
    if os.path.exists(dest) and os.listdir(dest):
        raise Refusal(dest, 0, "destination exists and is not empty")
    shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if n in SKIP_DIRS])


def check_only(ref, stripped, lab, order, out=None):
    """Problems (a list of strings): differences outside the regions of the
    stripped labs, files added or removed, stripped regions still present."""
    out = out or sys.stdout
    labs = labs_from(lab, order)
    found = scan(ref, order)
    problems = []
    a, b = set(all_files(ref)), set(all_files(stripped))
    for rel in sorted(a - b):
        problems.append("%s: missing from the stripped tree" % rel)
    for rel in sorted(b - a):
        problems.append("%s: only in the stripped tree" % rel)
    for rel in sorted(a & b):
        pa, pb = os.path.join(ref, rel), os.path.join(stripped, rel)
        with open(pa, "rb") as f1, open(pb, "rb") as f2:
            if f1.read() == f2.read():
                if rel in found and any(r.lab in labs for r in found[rel][1]):
                    problems.append("%s: a region of %s was not stripped" % (rel, ", ".join(labs)))
                continue
        if rel not in found:
            problems.append("%s: changed, but has no marked region" % rel)
            continue
        spans = [(r.begin, r.end) for r in found[rel][1] if r.lab in labs]
        la, lb = read(pa).split("\n"), read(pb).split("\n")
        sm = difflib.SequenceMatcher(None, la, lb, autojunk=False)
        for tag, i1, i2, j1, j2 in sm.get_opcodes():
            if tag == "equal":
                continue
            inside = lambda n: any(b0 <= n <= e0 for b0, e0 in spans)
            if i1 == i2:
                # Lines inserted before reference line i1+1: both neighbours in one region.
                bad = [] if any(b0 < i1 + 1 <= e0 for b0, e0 in spans) else [i1 + 1]
            else:
                bad = [n for n in range(i1 + 1, i2 + 1) if not inside(n)]
            if bad:
                problems.append("%s:%d: changed outside the marked regions of %s" %
                                (rel, bad[0], ", ".join(labs)))
        for line_no, line in enumerate(lb, 1):
            m = MARKER_RE.match(line)
            if m and m.group(2) in labs:
                problems.append("%s:%d: marker of a stripped lab left behind" % (rel, line_no))
    for p in problems:
        out.write(p + "\n")
    return problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab", help="the lab the student starts (it and later labs are stripped)")
    ap.add_argument("--src", help="reference tree")
    ap.add_argument("--dest", help="student tree to write (or, with --check-only, to check)")
    ap.add_argument("--in-place", metavar="DIR", help="strip DIR itself (a copy)")
    ap.add_argument("--check-only", action="store_true")
    ap.add_argument("--regions", metavar="DIR", help="list the marked regions under DIR")
    ap.add_argument("--order", default=os.path.join(HERE, "ORDER"))
    opts = ap.parse_args(argv)
    try:
        order = read_order(opts.order)
        if opts.regions:
            only = labs_from(opts.lab, order)[:1] if opts.lab else order
            for rel, (_, regions) in sorted(scan(opts.regions, order).items()):
                for r in regions:
                    if r.lab in only:
                        print("%s %s:%d" % (r.lab, rel, r.begin))
            return 0
        if not opts.lab:
            ap.error("--lab is required")
        if opts.check_only:
            if not (opts.src and opts.dest):
                ap.error("--check-only needs --src and --dest")
            problems = check_only(opts.src, opts.dest, opts.lab, order)
            print("strip check for %s: %s" % (opts.lab, "%d problem(s)" % len(problems)
                                             if problems else "only marked regions changed"))
            return 1 if problems else 0
        if opts.in_place:
            strip_tree(opts.in_place, opts.lab, order)
            return 0
        if not (opts.src and opts.dest):
            ap.error("give --src and --dest, or --in-place")
        labs_from(opts.lab, order)
        scan(opts.src, order)           # refuse before copying anything
        copy_tree(opts.src, opts.dest)
        strip_tree(opts.dest, opts.lab, order)
        return 0
    except Refusal as e:
        sys.stderr.write("labstrip: %s\n" % e)
        return 2


if __name__ == "__main__":
    sys.exit(main())

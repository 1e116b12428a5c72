#!/usr/bin/env python3
"""labtool.py - the homework labs' make targets (see the README's "For
teachers" and "For students").

    labtool.py list                  make labs
    labtool.py start LAB [DEST]      make lab-start LAB=x [DEST=dir]
    labtool.py handin LAB            make handin LAB=x
    labtool.py check [--quick] [--lab LAB]   make lab-check [LABCHECK=quick] [LAB=x]

start: copies this tree (without build/, .git and tests/labs/hidden/) to
DEST (default ../mica-lab-LAB), strips LAB and every later lab
(labstrip.py), makes DEST a git repository whose first commit, tagged
lab-LAB-start, is the handout, builds it to prove it compiles, and lists
the marked regions the student fills in.

handin: in a student's tree: the diff against lab-LAB-start, new files,
answers-LAB.txt and time.txt, in build/handin-LAB.tar.gz.

check (for teachers and CI): for each lab of tests/labs/ORDER that has a
rubric and marked regions (the others are skipped with a message): strip
it into build/labcheck/LAB (objects copied from this tree's build, so only
the stripped files recompile); check that only marked regions changed; the
lab must score 0 there and every earlier lab full marks (one boot for the
earlier labs together); then every lab must score full marks in this tree.
--quick (CI's form, run by `make test`): one tree with every lab stripped,
where each lab must score 0, instead of one tree per lab; then the
reference grades. It misses only what the labs do to each other.
--lab LAB (full form): strip and check only LAB (its earlier labs still
graded in its tree), and grade only LAB and its earlier labs in this tree.
Both forms also grade a half-solved lab (contig with only its IRQL-rule
regions written), which must earn partial marks.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

LABS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(LABS))
sys.path.insert(0, LABS)
import labstrip  # noqa: E402

BUILD = os.path.join(ROOT, "build")
PY = sys.executable or "python3"


def order():
    return labstrip.read_order()


def regions_of(root, lab):
    return [(rel, r) for rel, (_, regions) in sorted(labstrip.scan(root, order()).items())
            for r in regions if r.lab == lab]


def cmd_list(opts):
    try:
        found = labstrip.scan(ROOT, order())
    except labstrip.Refusal as e:
        print("labs: %s" % e)
        return 2
    print("%-12s %-8s %-7s %s" % ("lab", "regions", "rubric", "last grade"))
    for lab in order():
        n = sum(1 for _, regions in found.values() for r in regions if r.lab == lab)
        rubric = os.path.exists(os.path.join(LABS, lab + ".rubric"))
        status = "not graded"
        path = os.path.join(BUILD, "grade", lab + ".json")
        if os.path.exists(path):
            with open(path) as f:
                got = json.load(f)
            earned, top = sum(v[0] for v in got.values()), sum(v[1] for v in got.values())
            status = "%d/%d%s" % (earned, top, " (done)" if earned == top else "")
        print("%-12s %-8d %-7s %s" % (lab, n, "yes" if rubric else "no", status))
    return 0


def git(cwd, *args, **kw):
    return subprocess.run(["git", "-c", "user.name=Mica lab", "-c", "user.email=lab@mica.invalid"] +
                          list(args), cwd=cwd, check=True, **kw)


def cmd_start(opts):
    dest = os.path.abspath(opts.dest or os.path.join(ROOT, "..", "mica-lab-" + opts.lab))
    if opts.lab not in order():
        print("lab-start: unknown lab '%s' (labs: %s)" % (opts.lab, " ".join(order())))
        return 2
    try:
        todo = regions_of(ROOT, opts.lab)
    except labstrip.Refusal as e:
        print("lab-start: %s" % e)
        return 2
    if not todo:
        print("lab-start: lab %s has no marked region in this tree yet" % opts.lab)
        return 2
    status = labstrip.main(["--lab", opts.lab, "--src", ROOT, "--dest", dest])
    if status != 0:
        return status
    shutil.rmtree(os.path.join(dest, "tests", "labs", "hidden"), ignore_errors=True)
    with open(os.path.join(dest, ".gitignore"), "a") as f:
        f.write("build/\n")
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "lab %s handout" % opts.lab)
    git(dest, "tag", "lab-%s-start" % opts.lab)
    if not opts.no_build:
        print("building the handout (it must compile) ...")
        r = subprocess.run(["make", "-C", dest, "--no-print-directory", "-j2", "all",
                            "build/host/host-tests"], stdout=subprocess.DEVNULL)
        if r.returncode != 0:
            print("lab-start: the stripped tree does not build: a bug in lab %s's stubs" % opts.lab)
            return 1
    print("\nLab %s is in %s (a git repository; tag lab-%s-start is the handout)." %
          (opts.lab, dest, opts.lab))
    print("Read tests/labs/%s.md, then fill in:" % opts.lab)
    for rel, r in todo:
        print("  %s:%d  %s" % (rel, r.begin, r.hint or ""))
    print("Grade: make grade LAB=%s    Hand in: make handin LAB=%s" % (opts.lab, opts.lab))
    return 0


def cmd_handin(opts):
    lab, tag = opts.lab, "lab-%s-start" % opts.lab
    if subprocess.run(["git", "rev-parse", "-q", "--verify", "refs/tags/" + tag], cwd=ROOT,
                      stdout=subprocess.DEVNULL).returncode != 0:
        print("handin: no tag %s here: run it in the tree `make lab-start LAB=%s` made" % (tag, lab))
        return 2
    diff = subprocess.run(["git", "diff", tag, "--", ".", ":(exclude)build"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    new = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    extras = ("answers-%s.txt" % lab, "time.txt")
    new = [n for n in new if not n.startswith("build/") and n not in extras]
    os.makedirs(BUILD, exist_ok=True)
    out = os.path.join(BUILD, "handin-%s.tar.gz" % lab)
    with tarfile.open(out, "w:gz") as tar:
        data = diff.encode()
        info = tarfile.TarInfo("handin-%s/changes.diff" % lab)
        info.size, info.mtime = len(data), int(time.time())
        tar.addfile(info, io.BytesIO(data))
        for rel in new:
            tar.add(os.path.join(ROOT, rel), "handin-%s/new/%s" % (lab, rel))
        for extra in extras:
            path = os.path.join(ROOT, extra)
            if os.path.exists(path):
                tar.add(path, "handin-%s/%s" % (lab, extra))
            else:
                print("handin: warning: %s is missing" % extra)
    print("handin: %s (%d changed lines, %d new files)" %
          (os.path.relpath(out, os.getcwd()), sum(1 for l in diff.splitlines()
                                                  if l[:1] in "+-" and l[:3] not in ("+++", "---")),
           len(new)))
    return 0


def grade(root, labs, json_dir):
    """{lab: (earned, max)} from grading labs in root (one run)."""
    cmd = [PY, os.path.join(root, "tests", "labs", "grade.py")] + labs + \
          ["--no-build", "--json-dir", json_dir]
    r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    got = {}
    for lab in labs:
        path = os.path.join(json_dir, lab + ".json")
        if not os.path.exists(path):
            return None, r.stdout + r.stderr
        with open(path) as f:
            data = json.load(f)
        got[lab] = (sum(v[0] for v in data.values()), sum(v[1] for v in data.values()))
    return got, r.stdout + r.stderr


def build(root):
    r = subprocess.run(["make", "-C", root, "--no-print-directory", "-j2", "all",
                        "build/host/host-tests"], capture_output=True, text=True)
    return r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def copy_objects(dest):
    """This tree's objects into dest, so only the files that differ recompile."""
    os.makedirs(os.path.join(dest, "build"), exist_ok=True)
    for d in ("obj", "gen"):
        if os.path.isdir(os.path.join(BUILD, d)):
            subprocess.run(["cp", "-a", os.path.join(BUILD, d), os.path.join(dest, "build")], check=True)


def strip_build_grade(base, strip_from, name, zero_labs, labs):
    """Strip strip_from and later labs into base/name, check the strip, build
    it (reusing this tree's objects: only the stripped files recompile) and
    grade zero_labs there: each must score 0. Returns the problems."""
    dest = os.path.join(base, name)
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(base, exist_ok=True)
    if labstrip.main(["--lab", strip_from, "--src", ROOT, "--dest", dest]) != 0:
        return ["%s: the strip failed" % name]
    problems = []
    if labstrip.main(["--lab", strip_from, "--src", ROOT, "--dest", dest, "--check-only"]) != 0:
        problems.append("%s: the strip changed more than the marked regions" % name)
    copy_objects(dest)
    ok, out = build(dest)
    if not ok:
        return problems + ["%s: the stripped tree does not build:\n%s" % (name, out)]
    got, out = grade(dest, zero_labs, os.path.join(dest, "build", "labcheck-json"))
    for lab in zero_labs:
        if got is None or got[lab][0] != 0:
            problems.append("%s: the stripped tree scores %s for %s, not 0\n%s" %
                            (name, got and "%d/%d" % got[lab], lab, out))
        else:
            print("lab-check: %s stripped: %s scores 0/%d" % (name, lab, got[lab][1]))
    return problems


# A half-solved lab: in a tree where contig is stripped, the student has
# written only its IRQL-rule regions. The grade must then be partial: the
# IRQL bug-check lines earn their points, every line that allocates still
# meets a stub. (Later labs keep their reference code here: their stubs'
# fallbacks - a PTE address computed the slow way - would only slow it down.)
PARTIAL_LAB, PARTIAL_SOLVED_HINT = "contig", "the IRQL rule of the Learn page"


def partial_grade(base, labs):
    """Grade the half-solved tree; returns the problems."""
    dest = os.path.join(base, "partial")
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(base, exist_ok=True)
    labstrip.copy_tree(ROOT, dest)
    stripped = [PARTIAL_LAB]
    solved = 0
    for rel, (text, regions) in labstrip.scan(dest, labs).items():
        keep = [r for r in regions if r.lab == PARTIAL_LAB and PARTIAL_SOLVED_HINT in (r.hint or "")]
        solved += len(keep)
        todo = [r for r in regions if r not in keep]
        with open(os.path.join(dest, rel), "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(labstrip.strip_text(text, todo, stripped))
    if solved == 0:
        return ["partial: no %s region's hint mentions '%s'" % (PARTIAL_LAB, PARTIAL_SOLVED_HINT)]
    copy_objects(dest)
    ok, out = build(dest)
    if not ok:
        return ["partial: the half-solved tree does not build:\n%s" % out]
    got, out = grade(dest, [PARTIAL_LAB], os.path.join(dest, "build", "labcheck-json"))
    if got is None or not 0 < got[PARTIAL_LAB][0] < got[PARTIAL_LAB][1]:
        return ["partial: %s with %d of its regions solved scores %s, not partial marks\n%s" %
                (PARTIAL_LAB, solved, got and "%d/%d" % got[PARTIAL_LAB], out)]
    print("lab-check: %s half solved (%d regions): %d/%d" %
          (PARTIAL_LAB, solved, got[PARTIAL_LAB][0], got[PARTIAL_LAB][1]))
    return []


def cmd_check(opts):
    labs = order()
    problems, timings = [], []
    try:
        found = labstrip.scan(ROOT, labs)
    except labstrip.Refusal as e:
        print("lab-check: %s" % e)
        return 1
    marked = {r.lab for _, regions in found.values() for r in regions}
    ready = []
    for lab in labs:
        missing = [w for w, ok in (("rubric", os.path.exists(os.path.join(LABS, lab + ".rubric"))),
                                   ("marked region", lab in marked)) if not ok]
        if missing:
            print("lab-check: skipping %s: no %s yet" % (lab, " and no ".join(missing)))
        else:
            ready.append(lab)
    ok, out = build(ROOT)
    if not ok:
        print("lab-check: the reference tree does not build\n" + out)
        return 1
    base = os.path.join(BUILD, "labcheck")
    if opts.quick and ready:
        # One tree with every lab stripped: each ready lab must score 0 in it.
        start = time.monotonic()
        problems += strip_build_grade(base, labs[0], "all", ready, labs)
        timings.append(("all stripped", time.monotonic() - start))
    if opts.lab:
        if opts.lab not in ready:
            print("lab-check: %s is not a lab ready to check (%s)" % (opts.lab, ", ".join(ready)))
            return 1
        ready = ready[:ready.index(opts.lab) + 1]
    for lab in ([] if opts.quick else ready[-1:] if opts.lab else ready):
        start = time.monotonic()
        problems += strip_build_grade(base, lab, lab, [lab], labs)
        earlier = [l for l in ready if labs.index(l) < labs.index(lab)]
        dest = os.path.join(base, lab)
        if earlier and os.path.exists(os.path.join(dest, "build", "mica.elf")):
            got, out = grade(dest, earlier, os.path.join(dest, "build", "labcheck-json"))
            bad = [l for l in earlier if got is None or got[l][0] != got[l][1]]
            if bad:
                problems.append("%s: in the stripped tree, earlier labs lose points: %s\n%s" %
                                (lab, ", ".join(bad), out))
            else:
                print("lab-check: %s stripped: earlier labs %s at full marks" % (lab, ", ".join(earlier)))
        timings.append((lab, time.monotonic() - start))
        print("lab-check: %s done in %.0f s" % (lab, timings[-1][1]))
    if PARTIAL_LAB in ready and opts.lab in (None, PARTIAL_LAB):
        start = time.monotonic()
        problems += partial_grade(base, labs)
        timings.append(("partial", time.monotonic() - start))
    if ready:
        start = time.monotonic()
        got, out = grade(ROOT, ready, os.path.join(base, "reference"))
        bad = [l for l in ready if got is None or got[l][0] != got[l][1]]
        if bad:
            problems.append("reference tree: %s below full marks\n%s" % (", ".join(bad), out))
        else:
            print("lab-check: reference tree: %s at full marks" % ", ".join(ready))
        timings.append(("reference", time.monotonic() - start))
    for p in problems:
        print("lab-check: FAILED: " + p)
    print("lab-check: %d lab(s) checked, %d skipped, %d problem(s); %s" %
          (len(ready), len(labs) - len(ready), len(problems),
           ", ".join("%s %.0f s" % t for t in timings) or "nothing timed"))
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list")
    s = sub.add_parser("start")
    s.add_argument("lab")
    s.add_argument("dest", nargs="?")
    s.add_argument("--no-build", action="store_true")
    h = sub.add_parser("handin")
    h.add_argument("lab")
    c = sub.add_parser("check")
    c.add_argument("--quick", action="store_true")
    c.add_argument("--lab", help="only this lab (and its earlier labs in its tree)")
    opts = ap.parse_args()
    return {"list": cmd_list, "start": cmd_start, "handin": cmd_handin, "check": cmd_check}[opts.cmd](opts)


if __name__ == "__main__":
    sys.exit(main())

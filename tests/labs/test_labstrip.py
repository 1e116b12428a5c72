#!/usr/bin/env python3
"""test_labstrip.py - host tests for labstrip.py: every marker rule, every
refusal, the copy and the check-only diff rule. Stdlib only (unittest);
run by `make test-labs` (part of `make test-host`)."""

import io
import os
import shutil
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labstrip  # noqa: E402

ORDER = ["one", "two", "three"]

REGION = """\
int f(int x)
{{
    int y = x;
    /* LAB {lab}: BEGIN - add one to y */
    y = y + 1;
    if (y) {{
        y++;
    }}
    /* LAB {lab}: ELSE */
#ifdef MICA_LAB_STUB
    LAB_TODO({lab});
    y = x + 2;
#endif
    /* LAB {lab}: END */
    return y;
}}
"""

STRIPPED = """\
int f(int x)
{{
    int y = x;
    /* LAB {lab}: add one to y */
    LAB_TODO({lab});
    y = x + 2;
    return y;
}}
"""


class Tree:
    """A scratch tree with an ORDER file; files given as {path: text}."""

    def __init__(self, files):
        self.root = tempfile.mkdtemp(prefix="labstrip-test-")
        self.src = os.path.join(self.root, "src")
        os.makedirs(self.src)
        self.order = os.path.join(self.root, "ORDER")
        with open(self.order, "w") as f:
            f.write(" ".join(ORDER) + "\n")
        for rel, text in files.items():
            self.write(rel, text)

    def write(self, rel, text, base=None):
        path = os.path.join(base or self.src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def read(self, rel, base):
        with open(os.path.join(base, rel)) as f:
            return f.read()

    def run(self, *args):
        """(exit status, stdout, stderr) of labstrip's main."""
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                status = labstrip.main(list(args) + ["--order", self.order])
            except SystemExit as e:
                status = e.code
        return status, out.getvalue(), err.getvalue()

    def strip(self, lab):
        dest = os.path.join(self.root, "dest-" + lab)
        return (dest,) + self.run("--lab", lab, "--src", self.src, "--dest", dest)

    def cleanup(self):
        shutil.rmtree(self.root)


class StripTests(unittest.TestCase):
    def tree(self, files):
        t = Tree(files)
        self.addCleanup(t.cleanup)
        return t

    def test_region_becomes_hint_then_stub(self):
        t = self.tree({"mm/a.c": REGION.format(lab="two")})
        dest, status, out, err = t.strip("two")
        self.assertEqual(status, 0, err)
        self.assertEqual(t.read("mm/a.c", dest), STRIPPED.format(lab="two"))
        self.assertIn("stripped mm/a.c: two", out)

    def test_later_labs_stripped_earlier_kept(self):
        t = self.tree({"a.c": REGION.format(lab="one"), "b.c": REGION.format(lab="two"),
                       "c.c": REGION.format(lab="three")})
        dest, status, out, err = t.strip("two")
        self.assertEqual(status, 0, err)
        self.assertEqual(t.read("a.c", dest), REGION.format(lab="one"))
        self.assertEqual(t.read("b.c", dest), STRIPPED.format(lab="two"))
        self.assertEqual(t.read("c.c", dest), STRIPPED.format(lab="three"))
        self.assertNotIn("a.c", out)

    def test_copy_leaves_out_build_and_git_and_other_files_unchanged(self):
        t = self.tree({"a.c": REGION.format(lab="one"), "build/x.o": "obj", ".git/HEAD": "ref",
                       "README.md": "/* LAB one: BEGIN - in prose */\n"})
        dest, status, _, err = t.strip("one")
        self.assertEqual(status, 0, err)
        self.assertFalse(os.path.exists(os.path.join(dest, "build")))
        self.assertFalse(os.path.exists(os.path.join(dest, ".git")))
        self.assertEqual(t.read("README.md", dest), "/* LAB one: BEGIN - in prose */\n")

    def test_no_hint_gives_default_comment(self):
        text = REGION.format(lab="one").replace(" - add one to y", "")
        t = self.tree({"a.c": text})
        dest, status, _, err = t.strip("one")
        self.assertEqual(status, 0, err)
        self.assertIn("    /* LAB one: your code here */\n", t.read("a.c", dest))

    def test_two_regions_in_one_file_and_braces_in_strings(self):
        text = REGION.format(lab="one") + 'const char *s = "}}}";\n' + \
            REGION.format(lab="two").replace("int f(", "int g(")
        t = self.tree({"a.c": text})
        dest, status, _, err = t.strip("one")
        self.assertEqual(status, 0, err)
        got = t.read("a.c", dest)
        self.assertEqual(got.count("LAB_TODO"), 2)
        self.assertNotIn("y = y + 1", got)

    def test_in_place(self):
        t = self.tree({"a.c": REGION.format(lab="one")})
        status, _, err = t.run("--lab", "one", "--in-place", t.src)
        self.assertEqual(status, 0, err)
        self.assertEqual(t.read("a.c", t.src), STRIPPED.format(lab="one"))

    def test_no_region_for_the_lab_is_not_an_error(self):
        t = self.tree({"a.c": "int x;\n"})
        dest, status, out, _ = t.strip("three")
        self.assertEqual(status, 0)
        self.assertIn("nothing stripped", out)

    def test_regions_listing(self):
        t = self.tree({"a.c": REGION.format(lab="one"), "b.c": REGION.format(lab="two")})
        status, out, _ = t.run("--regions", t.src)
        self.assertEqual(status, 0)
        self.assertEqual(out, "one a.c:4\ntwo b.c:4\n")
        status, out, _ = t.run("--regions", t.src, "--lab", "two")
        self.assertEqual(out, "two b.c:4\n")


class RefusalTests(unittest.TestCase):
    """Each case: a file, the line and a word of the message; exit status 2,
    and nothing is copied."""

    def refuse(self, text, line, words, lab="one"):
        t = Tree({"good.c": REGION.format(lab="one"), "bad.c": text})
        self.addCleanup(t.cleanup)
        dest, status, out, err = t.strip(lab)
        self.assertEqual(status, 2, "not refused: " + out + err)
        self.assertIn("bad.c:%d:" % line, err)
        self.assertIn(words, err)
        self.assertFalse(os.path.exists(dest), "refused, yet the copy was made")

    def test_unknown_lab(self):
        self.refuse(REGION.format(lab="nosuch"), 4, "unknown lab 'nosuch'")

    def test_unknown_lab_on_command_line(self):
        t = Tree({"a.c": REGION.format(lab="one")})
        self.addCleanup(t.cleanup)
        status, _, err = t.run("--lab", "nosuch", "--in-place", t.src)
        self.assertEqual(status, 2)
        self.assertIn("unknown lab 'nosuch'", err)

    def test_begin_without_end(self):
        text = "int f(void)\n{\n    /* LAB one: BEGIN - x */\n    return 1;\n}\n"
        self.refuse(text, 3, "BEGIN without END")

    def test_end_without_begin(self):
        self.refuse("int f(void)\n{\n    /* LAB one: END */\n}\n", 3, "END without BEGIN")

    def test_else_without_begin(self):
        self.refuse("int f(void)\n{\n    /* LAB one: ELSE */\n}\n", 3, "ELSE without BEGIN")

    def test_nested(self):
        inner = REGION.format(lab="two").split("\n")[3:14]
        text = REGION.format(lab="one").replace("    y = y + 1;\n", "\n".join(inner) + "\n", 1)
        self.refuse(text, 5, "do not nest")

    def test_end_of_another_lab(self):
        text = REGION.format(lab="one").replace("/* LAB one: END */", "/* LAB two: END */")
        self.refuse(text, 14, "inside the region of LAB one")

    def test_second_else(self):
        text = REGION.format(lab="one").replace("#endif\n", "#endif\n    /* LAB one: ELSE */\n")
        self.refuse(text, 14, "second ELSE")

    def test_missing_else(self):
        text = ("int f(void)\n{\n    /* LAB one: BEGIN - x */\n    return 1;\n"
                "    /* LAB one: END */\n}\n")
        self.refuse(text, 5, "END without ELSE")

    def test_outside_function_body(self):
        text = ("/* LAB one: BEGIN - a field */\nint x;\n/* LAB one: ELSE */\n"
                "#ifdef MICA_LAB_STUB\n#endif\n/* LAB one: END */\n")
        self.refuse(text, 1, "outside a function body")

    def test_outside_after_a_closed_function(self):
        text = "void g(void)\n{\n}\n" + \
            "/* LAB one: BEGIN - x */\n/* LAB one: ELSE */\n#ifdef MICA_LAB_STUB\n#endif\n/* LAB one: END */\n"
        self.refuse(text, 4, "outside a function body")

    def test_braces_in_comments_do_not_fool_the_depth(self):
        text = "/* { */\n// {\n" + \
            "/* LAB one: BEGIN - x */\n/* LAB one: ELSE */\n#ifdef MICA_LAB_STUB\n#endif\n/* LAB one: END */\n"
        self.refuse(text, 3, "outside a function body")

    def test_else_without_ifdef(self):
        text = REGION.format(lab="one").replace("#ifdef MICA_LAB_STUB\n", "")
        self.refuse(text, 9, "exactly one '#ifdef MICA_LAB_STUB'")

    def test_else_without_endif(self):
        text = REGION.format(lab="one").replace("#endif\n", "")
        self.refuse(text, 9, "exactly one '#ifdef MICA_LAB_STUB'")

    def test_code_after_endif_in_else_part(self):
        text = REGION.format(lab="one").replace("#endif\n", "#endif\n    y++;\n")
        self.refuse(text, 9, "exactly one '#ifdef MICA_LAB_STUB'")

    def test_wrong_ifdef_name(self):
        text = REGION.format(lab="one").replace("MICA_LAB_STUB", "SOLUTION")
        self.refuse(text, 9, "exactly one")

    def test_endif_closing_the_stub_early(self):
        text = REGION.format(lab="one").replace("    LAB_TODO(one);\n", "#endif\n#ifdef X\n")
        self.refuse(text, 11, "closes the stub block early")

    def test_if_left_open_inside_the_stub(self):
        text = REGION.format(lab="one").replace("    LAB_TODO(one);\n", "#ifdef X\n    LAB_TODO(one);\n")
        self.refuse(text, 14, "unbalanced #if inside the stub")

    def test_reference_braces_unbalanced(self):
        text = REGION.format(lab="one").replace("    if (y) {\n", "    if (y) {\n    {\n")
        self.refuse(text, 4, "reference code")

    def test_stub_braces_unbalanced(self):
        text = REGION.format(lab="one").replace("    y = x + 2;\n", "    if (x) {\n")
        self.refuse(text, 9, "braces of the stub")

    def test_marker_not_alone_on_its_line(self):
        text = REGION.format(lab="one").replace("    /* LAB one: END */", "    y++; /* LAB one: END */")
        self.refuse(text, 14, "alone on its line")

    def test_marker_misspelt(self):
        text = REGION.format(lab="one").replace("/* LAB one: ELSE */", "/* LAB one:ELSE */")
        self.refuse(text, 9, "malformed")


class CheckOnlyTests(unittest.TestCase):
    def setUp(self):
        self.t = Tree({"a.c": REGION.format(lab="one") + "int keep;\n",
                       "b.c": REGION.format(lab="two"), "c.txt": "text\n"})
        self.addCleanup(self.t.cleanup)
        self.dest, status, _, err = self.t.strip("two")
        self.assertEqual(status, 0, err)

    def check(self, lab="two"):
        return self.t.run("--lab", lab, "--src", self.t.src, "--dest", self.dest, "--check-only")

    def test_a_real_strip_passes(self):
        status, out, _ = self.check()
        self.assertEqual(status, 0, out)
        self.assertIn("only marked regions changed", out)

    def test_a_worktree_git_file_is_not_a_source_file(self):
        # In a git worktree .git is a file; the strip leaves it behind like the folder.
        self.t.write(".git", "gitdir: /elsewhere\n")
        status, out, _ = self.check()
        self.assertEqual(status, 0, out)

    def test_change_outside_a_region_fails(self):
        self.t.write("b.c", self.t.read("b.c", self.dest).replace("return y;", "return 0;"), self.dest)
        status, out, _ = self.check()
        self.assertEqual(status, 1)
        self.assertIn("b.c:15: changed outside", out)

    def test_change_in_a_region_of_an_earlier_lab_fails(self):
        self.t.write("a.c", self.t.read("a.c", self.dest).replace("y = y + 1;", "y = 0;"), self.dest)
        status, out, _ = self.check()
        self.assertEqual(status, 1)
        self.assertIn("a.c:5: changed outside", out)

    def test_change_in_a_file_without_regions_fails(self):
        self.t.write("c.txt", "other\n", self.dest)
        status, out, _ = self.check()
        self.assertEqual(status, 1)
        self.assertIn("c.txt: changed, but has no marked region", out)

    def test_added_and_missing_files_fail(self):
        self.t.write("new.c", "int n;\n", self.dest)
        os.remove(os.path.join(self.dest, "c.txt"))
        status, out, _ = self.check()
        self.assertEqual(status, 1)
        self.assertIn("new.c: only in the stripped tree", out)
        self.assertIn("c.txt: missing from the stripped tree", out)

    def test_region_left_unstripped_fails(self):
        self.t.write("b.c", REGION.format(lab="two"), self.dest)
        status, out, _ = self.check()
        self.assertEqual(status, 1)
        self.assertIn("b.c: a region of two", out)

    def test_reference_code_kept_next_to_the_stub_fails(self):
        text = self.t.read("b.c", self.dest).replace("/* LAB two: add one to y */",
                                                     "/* LAB two: BEGIN - add one to y */")
        self.t.write("b.c", text, self.dest)
        status, out, _ = self.check()
        self.assertEqual(status, 1)
        self.assertIn("marker of a stripped lab left behind", out)


if __name__ == "__main__":
    unittest.main()

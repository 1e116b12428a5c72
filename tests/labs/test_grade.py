#!/usr/bin/env python3
"""test_grade.py - host tests for grade.py's hardware-free parts: the
rubric format and its refusals, pattern matching as the kernel does it,
reading results and their KEXPECT lines, the points rule (a SKIP or a
missing test earns nothing) and the table. Stdlib only; `make test-labs`."""

import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grade  # noqa: E402


def rubric(text):
    f = tempfile.NamedTemporaryFile("w", suffix=".rubric", delete=False)
    f.write(text)
    f.close()
    return f.name


class RubricTests(unittest.TestCase):
    def test_lines_parts_hints(self):
        path = rubric('# c\npart A: host side\n  5 host runtree.one 10\n'
                      'part B: kernel\n 10 qemu contig.* 120 "read the hint"  # trailing\n'
                      ' 3 bug contig_bugcheck.double_free 60\n')
        self.addCleanup(os.remove, path)
        lines = grade.read_rubric(path, "x")
        self.assertEqual([(l.part, l.points, l.where, l.pattern, l.timeout, l.hint) for l in lines], [
            ("part A: host side", 5, "host", "runtree.one", 10.0, None),
            ("part B: kernel", 10, "qemu", "contig.*", 120.0, "read the hint"),
            ("part B: kernel", 3, "bug", "contig_bugcheck.double_free", 60.0, None)])
        self.assertTrue(all(l.lab == "x" for l in lines))

    def refuse(self, text, words):
        path = rubric(text)
        self.addCleanup(os.remove, path)
        with self.assertRaises(grade.RubricError) as e:
            grade.read_rubric(path, "x")
        self.assertIn(":2:", str(e.exception))
        self.assertIn(words, str(e.exception))

    def test_bad_where(self):
        self.refuse("part A: a\n5 disk x.y 10\n", "expected")

    def test_qemu_in_another_configuration(self):
        path = rubric("part A: a\n5 qemu x.y 10\n5 qemu@uefi-256m x.y 10\n5 qemu@bios-6g-nolowmem x.z 10\n")
        self.addCleanup(os.remove, path)
        lines = grade.read_rubric(path, "x")
        self.assertEqual([(l.kind, l.config) for l in lines],
                         [("qemu", grade.GRADE_CONFIG), ("qemu", "uefi-256m"), ("qemu", "bios-6g-nolowmem")])
        self.assertNotEqual(lines[0].key, lines[1].key)     # the same test in two places: two lines
        self.assertEqual(grade.boot_config("bios-6g-nolowmem")[1], "nolowmem ahcidma=32 ")

    def test_page_file_machine(self):
        # bios-128m-pagefile is an extra boot on a PAGEFILE_CONFIGS machine.
        config, options = grade.boot_config("bios-128m-pagefile")
        self.assertTrue(config.get("pagefile"))
        self.assertEqual(options.strip(), "")

    def test_bug_tests_listed_where_a_batch_boots(self):
        path = rubric("part A: a\n5 qemu@bios-128m-pagefile x.y 10\n5 bug x_bug.* 10\n")
        self.addCleanup(os.remove, path)
        lines = grade.read_rubric(path, "x")
        # No qemu line in GRADE_CONFIG: the page-file boot lists the bug
        # test (a boot of it alone would run it, not list it).
        self.assertEqual(grade.listing_config([l for l in lines if l.kind == "qemu"]), "bios-128m-pagefile")
        other = rubric("5 qemu z.w 10\n")
        self.addCleanup(os.remove, other)
        lines.append(grade.read_rubric(other, "x")[0])
        self.assertEqual(grade.listing_config([l for l in lines if l.kind == "qemu"]), grade.GRADE_CONFIG)
        self.assertEqual(grade.listing_config([]), grade.GRADE_CONFIG)

    def test_unknown_configuration(self):
        self.refuse("part A: a\n5 qemu@bios-9t x.y 10\n", "expected")

    def test_configuration_only_for_qemu(self):
        self.refuse("part A: a\n5 bug@uefi-256m x.y 10\n", "expected")

    def test_missing_timeout(self):
        self.refuse("part A: a\n5 host x.y\n", "expected")

    def test_points_not_a_number(self):
        self.refuse("part A: a\nfive host x.y 10\n", "numbers")

    def test_zero_points(self):
        self.refuse("part A: a\n0 host x.y 10\n", "positive")

    def test_unclosed_quote(self):
        self.refuse('part A: a\n5 host x.y 10 "hint\n', "quotation")


class MatchTests(unittest.TestCase):
    def test_like_ktest_match(self):
        m = grade.ktest_match
        self.assertTrue(m("contig.*", "contig.below_4gib"))
        self.assertTrue(m("contig", "contig.below_4gib"))          # a bare suite
        self.assertFalse(m("contig", "contig_bugcheck.double_free"))
        self.assertTrue(m("pool*", "pool_bugcheck.x"))
        self.assertTrue(m("a.b,contig.?elow_4gib", "contig.below_4gib"))
        self.assertTrue(m("all", "any.thing"))
        self.assertFalse(m("contig.below", "contig.below_4gib"))


class ChunkTests(unittest.TestCase):
    def test_patterns_fit_the_kernels_buffer(self):
        lines = [grade.Line("p", 1, "qemu", "suite%02d.some_long_test_name_*" % i, 10, None, "r")
                 for i in range(20)]
        groups = grade.chunks(lines)
        self.assertGreater(len(groups), 1)
        self.assertEqual(sum(groups, []), lines)             # all, in order
        for g in groups:
            self.assertLessEqual(len(",".join(l.pattern for l in g)), grade.PATTERN_MAX)
        self.assertEqual(grade.chunks(lines[:2]), [lines[:2]])


class JudgeTests(unittest.TestCase):
    LOG = ["1..4", "#   tests/kernel/x.c:10: expected a == b: 0x1 (1) vs 0x2 (2)",
           "LAB contig: not implemented (mm/contig.c:175)",
           "not ok 1 - contig.one", "#   12 pages walked", "ok 2 - contig.two",
           "ok 3 - contig.three # SKIP needs RAM above 4 GiB", "ok 4 - pool.one"]

    def line(self, pattern):
        return grade.Line("part A", 5, "qemu", pattern, 60, None, "r:1")

    def test_results_and_their_expectations(self):
        r = grade.parse_results(self.LOG)
        self.assertEqual([(ok, n, s) for ok, n, s, _, _ in r],
                         [(False, "contig.one", False), (True, "contig.two", False),
                          (True, "contig.three", True), (True, "pool.one", False)])
        self.assertEqual(r[0][4], self.LOG[1:3])
        self.assertEqual(r[1][4], [])            # a note is not an expectation

    def test_points_rule(self):
        r = grade.parse_results(self.LOG)
        cases = {"contig.two": [], "pool.*": [], "contig.one": ["not ok: contig.one"],
                 "contig.three": ["skipped: contig.three"], "nosuch.*": ["no test matched 'nosuch.*'"],
                 "contig.t*": ["skipped: contig.three"]}
        for pattern, why in cases.items():
            l = self.line(pattern)
            grade.judge_results(l, r, 60)
            self.assertEqual(l.why, why, pattern)

    def test_timeout(self):
        l = self.line("contig.two")
        grade.judge_results(l, [(True, "contig.two", False, 90.0, [])], 60)
        self.assertIn("took 90.0 s", l.why[0])

    def test_table_marks_lost_points_and_totals(self):
        a, b = self.line("contig.two"), self.line("contig.one")
        b.why = ["not ok: contig.one"]
        b.hint = "look at the free path"
        out = io.StringIO()
        self.assertEqual(grade.report("contig", [a, b], out), (5, 10))
        text = out.getvalue()
        self.assertIn("     5/  5  qemu  contig.two", text)
        self.assertIn("**   0/  5  qemu  contig.one", text)
        self.assertIn("TOTAL 5/10", text)
        self.assertIn("hint: look at the free path", text)


if __name__ == "__main__":
    unittest.main()

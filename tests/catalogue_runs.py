"""The wrong-answer catalogue run through its consumers ONCE per notebook and session.

test_wrong_answers.py and test_agreement.py both judge every catalogue entry
(tests/fixtures/wrong_answers/: nb*.py wrong, ok_*.py correct written differently).
They share these runs, which conftest.py makes session fixtures. Each fixture is a
function of a notebook's name that runs that notebook's entries the first time it is
asked; the tests about one notebook carry ``catalogue_group(notebook)``, so one xdist
worker runs them and the notebooks spread over the workers:

* ``catalogue_kernels(notebook)``: one kernel. The unmodified solution runs
  first (a fresh run: every graded cell must pass), and a probe asks
  ``visible``, ``verify`` and the check button about every exercise; then each
  entry in turn has its answer cells planted, every graded cell re-run (each
  runs its visible tests, then ``verify``), the probe ask the three about the
  entry's own exercise, and the original answer cells put back before the next
  entry. The kernel runs with ``MICROGRADLAB_GRADING=1``, as a graded notebook
  does: demo training that nothing here reads is skipped.
* ``catalogue_grades(notebook)``: one ``microgradlab grade`` run, one student per
  entry, each a fresh sandboxed run of the whole planted notebook.
* ``catalogue_nbgrader(notebook)``: plain ``nbgrader autograde`` on the entries of
  that notebook in a sample (see NBGRADER_SAMPLE), one course.

New catalogue entries are picked up automatically.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from conftest import execute_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from wrong_answers import load_catalogue, load_correct  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
ENTRIES = load_catalogue() + load_correct()
NOTEBOOKS = sorted({e.notebook for e in ENTRIES} | {"06_mlp"})
# nbgrader runs a sample: a wrong and a correct entry of two notebooks. Every entry's
# fresh run of the whole notebook is `microgradlab grade`'s; nbgrader's own machinery
# (generate_assignment, autograde, the gradebook) does not depend on which mistake
# a cell holds, so a sample proves it scores as the other consumers do.
NBGRADER_SAMPLE = ("nb04_backward_not_seeded", "ok_nb04_topological_recursive_raised_limit",
                   "nb03_neg_assign_not_accumulate", "ok_nb03_sub_from_add_and_neg")
PROBE_TAG = "catalogue-probe"
SOLUTION = "solution"   # the key of the unmodified solution's outcomes
ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


def catalogue_group(notebook: str):
    """The xdist group of the tests that read ``notebook``'s catalogue runs."""
    return pytest.mark.xdist_group(f"catalogue_{notebook}")


class PerNotebook:
    """A session fixture's runs, made for a notebook the first time it is asked for."""

    def __init__(self, run):
        self._run, self._made = run, {}

    def __call__(self, notebook: str):
        if notebook not in self._made:
            self._made[notebook] = self._run(notebook)
        return self._made[notebook]


def solution(name):
    return nbformat.read(str(ROOT / "solutions" / name / f"{name}.ipynb"), as_version=4)


def solution_exists(name) -> bool:
    return (ROOT / "solutions" / name / f"{name}.ipynb").exists()


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
    if cells:
        raise KeyError(f"{entry.id}: no answer cells {sorted(cells)} in {entry.notebook}")
    return nb


def outcome(cell) -> tuple[bool, str]:
    """(passed, what went wrong) as nbgrader counts it: an error, or anything on stderr."""
    text = []
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            text.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
        elif out.output_type == "stream" and out.name == "stderr":
            text.append(out.text)
    return not text, ANSI_COLOUR.sub("", "\n".join(text))


# ------------------------------------------------------------------ one kernel per notebook
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
    """The solution notebook and the probe of every exercise, then for each entry: its
    answer cells, every graded cell again, the probe of its exercise, and the original
    answer cells (restoring the kernel)."""
    from microgradlab.exercises import exercises_of

    nb = solution(name)
    originals = {grade_id(c): c for c in nb.cells if grade_id(c)}
    graded = [c for c in nb.cells if is_graded(c)]
    exercises = [e.id for e in exercises_of(name)]
    uses = {e.id: list(e.uses) for e in exercises_of(name)}

    def probe(entry_id, asked):
        return nbformat.v4.new_code_cell(PROBE % {"exercises": asked, "uses": uses},
                                         metadata={"entry": entry_id, "tags": [PROBE_TAG]})

    cells = list(nb.cells)
    for cell in graded:
        cell.metadata["entry"], cell.metadata["graded"] = SOLUTION, grade_id(cell)
    cells.append(probe(SOLUTION, exercises))
    for entry in entries:
        for gid, source in entry.cells().items():
            if gid not in originals:
                raise KeyError(f"{entry.id}: no answer cell {gid!r} in {name}")
            cells.append(nbformat.v4.new_code_cell(source, metadata={"entry": entry.id}))
        for cell in graded:
            cells.append(nbformat.v4.new_code_cell(
                cell.source, metadata={"entry": entry.id, "graded": grade_id(cell)}))
        cells.append(probe(entry.id, [entry.exercise]))
        for gid in entry.cells():
            cells.append(nbformat.v4.new_code_cell(originals[gid].source))
    nb.cells = cells
    return nb


@dataclass
class KernelRuns:
    """What the kernels saw. ``graded[entry id][exercise id]`` is (passed, error text)
    of the graded cell (entry id ``SOLUTION``: the unmodified solution's fresh run);
    ``probed[entry id][exercise id]`` is {"visible", "verify": bool, "button": state}: for
    an entry its own exercise, for (``SOLUTION``, notebook) every exercise."""
    graded: dict = field(default_factory=dict)
    probed: dict = field(default_factory=dict)


def run_kernel(name, tmp_path_factory) -> KernelRuns:
    """``name``'s solution and every catalogue entry of it, in one kernel."""
    runs = KernelRuns()
    if not solution_exists(name):
        return runs
    entries = [e for e in ENTRIES if e.notebook == name]
    with _environment(MICROGRADLAB_GRADING="1"):
        nb = execute_notebook(kernel_notebook(name, entries), tmp_path_factory.mktemp(name),
                              timeout=300)
    runs.graded[(SOLUTION, name)] = {}
    for cell in nb.cells:
        entry = cell.metadata.get("entry")
        if entry and cell.metadata.get("graded"):
            key = (SOLUTION, name) if entry == SOLUTION else entry
            runs.graded.setdefault(key, {})[cell.metadata["graded"]] = outcome(cell)
        if PROBE_TAG in cell.metadata.get("tags", []):
            entry = (SOLUTION, name) if entry == SOLUTION else entry
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            line = next((l for l in text.splitlines() if l.startswith("PROBE ")), None)
            if line is None:
                runs.probed[entry] = {"no probe output": outcome(cell)[1][-1500:]}
                continue
            runs.probed[entry] = json.loads(line[6:])
    return runs


@contextmanager
def _environment(**values):
    """These variables set while a kernel starts (it inherits this process's environment)."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# ------------------------------------------------------------------ microgradlab grade
def handed_in(entry):
    """The planted notebook as a learner hands it in: hidden tests removed."""
    from nbgrader.preprocessors import ClearHiddenTests

    nb, _ = ClearHiddenTests().preprocess(planted(solution(entry.notebook), entry), {})
    return nb


def run_grader(notebook, tmp_path_factory) -> dict:
    """(entry id, exercise id) -> points, and (entry id, "status") -> status, from one
    `microgradlab grade` run with every entry of ``notebook`` a student."""
    from microgradlab.exercises import exercises_of
    from microgradlab_grader import cli, sandbox

    if sandbox.bwrap_path() is None:
        pytest.skip("bwrap is not installed")
    entries = [e for e in ENTRIES if e.notebook == notebook and solution_exists(notebook)]
    work = tmp_path_factory.mktemp(f"catalogue-class-{notebook}")
    for entry in entries:
        path = work / "class" / entry.id / f"{entry.notebook}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(handed_in(entry), str(path))
    status = cli.main(["grade", str(work / "class"), "--out", str(work / "out"),
                       "--notebooks", notebook, "--workers", "2",
                       "--timeout-cell", "60", "--timeout-notebook", "300", "--no-progress"])
    assert status == 0, f"microgradlab grade exited with {status}"
    points = {}
    with open(work / "out" / "grades.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            for exercise in exercises_of(row["notebook"]):
                if exercise.id in row and row[exercise.id] != "":
                    points[(row["student"], exercise.id)] = float(row[exercise.id])
            points[(row["student"], "status")] = row.get("status")
    return points


# ------------------------------------------------------------------ nbgrader autograde, a sample
def run_nbgrader(notebook, tmp_path_factory) -> dict:
    """(entry id, exercise id) -> points from plain `nbgrader autograde` on the entries
    of ``notebook`` in the sample."""
    from nbgrader.api import Gradebook

    sample = [e for e in ENTRIES if e.id in NBGRADER_SAMPLE and e.notebook == notebook]
    course = tmp_path_factory.mktemp(f"nbgrader-course-{notebook}")
    (course / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", course / "autograder")
    shutil.copytree(ROOT / "solutions" / notebook, course / "solutions" / notebook)
    for entry in sample:
        dest = course / "autograder" / "submitted" / entry.id / entry.notebook / f"{entry.notebook}.ipynb"
        dest.parent.mkdir(parents=True)
        nbformat.write(handed_in(entry), str(dest))
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # alembic
    run = {"cwd": course / "autograder", "capture_output": True, "text": True, "env": env}
    subprocess.run([str(VENV_BIN / "nbgrader"), "generate_assignment", notebook, "--force"],
                   check=True, **run)
    subprocess.run([str(VENV_BIN / "nbgrader"), "autograde", notebook, "--create", "--force"], **run)
    points = {}
    with Gradebook(f"sqlite:///{course / 'autograder' / 'gradebook.db'}") as gradebook:
        for entry in sample:
            submission = gradebook.find_submission_notebook(entry.notebook, entry.notebook, entry.id)
            for grade in submission.grades:
                points[(entry.id, grade.name)] = grade.score
    return points


# ------------------------------------------------------------------ the session fixtures
@pytest.fixture(scope="session")
def catalogue_kernels(tmp_path_factory, jupyter_env) -> PerNotebook:
    return PerNotebook(lambda notebook: run_kernel(notebook, tmp_path_factory))


@pytest.fixture(scope="session")
def catalogue_grades(tmp_path_factory, jupyter_env) -> PerNotebook:
    return PerNotebook(lambda notebook: run_grader(notebook, tmp_path_factory))


@pytest.fixture(scope="session")
def catalogue_nbgrader(tmp_path_factory, jupyter_env) -> PerNotebook:
    return PerNotebook(lambda notebook: run_nbgrader(notebook, tmp_path_factory))

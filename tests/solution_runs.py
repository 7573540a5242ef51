"""Each notebook run once per test session, solution and student version, for every
test that reads the run.

The solution run (:func:`solution_run`) is read by test_notebooks_execute.py (the solution
runs clean and passes its own hidden tests), test_lesson_claims.py (every claim its prose
makes is true) and test_notebooks_02_03/04_05.py: the notebook's jupytext source with the
claims' check cells in place (lesson_claims.with_checks), then each graded cell's hidden
block once more, on its own. The student run (:func:`student_run`) is the released
notebook with the solution's hidden blocks appended, read by test_notebooks_execute.py and
test_notebooks_02_03/04_05.py. The tests about one notebook carry ``solution_group(name)``,
so one xdist worker runs them and each version runs once.
"""
from __future__ import annotations

from dataclasses import dataclass

import jupytext
import nbformat
import pytest

from conftest import ROOT, execute_notebook
from lesson_claims import claims_of, with_checks

CELL_TIMEOUT = 300  # seconds per cell: the capstone trains for ~15 s on an idle core
STUDENT_CELL_TIMEOUT = 60  # as the autograder's c.Execute.timeout


def solution_group(name: str):
    """The xdist group of the tests that read ``name``'s solution run."""
    return pytest.mark.xdist_group(f"solution_{name}")


def source(name: str):
    """The solution's one hand-edited source (the .ipynb files are built from it)."""
    return jupytext.read(ROOT / "solutions" / name / f"{name}.py", fmt="py:percent")


def hidden_block(text: str) -> str:
    """The code between ### BEGIN HIDDEN TESTS and ### END HIDDEN TESTS."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "### BEGIN HIDDEN TESTS")
    end = next(i for i, line in enumerate(lines) if line.strip() == "### END HIDDEN TESTS")
    return "\n".join(lines[start + 1:end])


def is_graded(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


def hidden_cells(notebook) -> dict:
    """grade id -> a new code cell holding that graded cell's hidden block."""
    return {cell.metadata["nbgrader"]["grade_id"]: nbformat.v4.new_code_cell(
                hidden_block(cell.source)) for cell in notebook.cells if is_graded(cell)}


@dataclass
class SolutionRun:
    notebook: object   # the source as read; its cells carry their outputs after the run
    claims: list       # lesson_claims.Claim, one per claim comment, in order
    checked: list      # the cells run before the hidden blocks: prelude, notebook, checks
    hidden: dict       # grade id -> the executed cell holding that graded cell's hidden block


_RUNS: dict[str, SolutionRun] = {}


def solution_run(name: str) -> SolutionRun:
    """``name``'s solution run in a fresh kernel (once per worker and session)."""
    if name not in _RUNS:
        notebook = source(name)
        claims = claims_of(notebook, name)
        checked, _ = with_checks(notebook, claims)
        hidden = hidden_cells(notebook)
        runnable = nbformat.v4.new_notebook(cells=checked + list(hidden.values()),
                                            metadata=notebook.metadata)
        execute_notebook(runnable, ROOT / "solutions" / name, timeout=CELL_TIMEOUT)
        _RUNS[name] = SolutionRun(notebook, claims, checked, hidden)
    return _RUNS[name]


@dataclass
class StudentRun:
    notebook: object   # notebooks/NN.ipynb, executed (its metadata holds the widgets' state)
    learner: list      # its own cells, with their outputs
    hidden: dict       # grade id -> the executed cell holding the solution's hidden block

    def released(self):
        """The learner's cells alone, with the run's metadata (the widgets' state)."""
        return nbformat.v4.new_notebook(cells=self.learner, metadata=self.notebook.metadata)


_STUDENT_RUNS: dict[str, StudentRun] = {}


def student_run(name: str) -> StudentRun:
    """The released student notebook, as a learner opens it, run in a fresh kernel with
    each of the solution's hidden blocks appended in a cell of its own (so they are seen
    failing on the stubs, not hidden behind a visible test that failed first); once per
    worker and session."""
    if name not in _STUDENT_RUNS:
        folder = ROOT / "notebooks"
        notebook = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        learner = list(notebook.cells)
        hidden = hidden_cells(source(name))
        notebook.cells = learner + list(hidden.values())
        execute_notebook(notebook, folder, timeout=STUDENT_CELL_TIMEOUT)
        _STUDENT_RUNS[name] = StudentRun(notebook, learner, hidden)
    return _STUDENT_RUNS[name]

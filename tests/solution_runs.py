"""Each solution notebook run once per test session, for every test that reads the run.

test_notebooks_execute.py (the solution runs clean and passes its own hidden tests) and
test_lesson_claims.py (every claim its prose makes is true) read the same run: the
notebook's jupytext source with the claims' check cells in place
(lesson_claims.with_checks), then each graded cell's hidden block once more, on its own.
Their tests about one notebook carry ``solution_group(name)``, so one xdist worker runs
them and the notebook runs once.
"""
from __future__ import annotations

from dataclasses import dataclass

import jupytext
import nbformat
import pytest

from conftest import ROOT, execute_notebook
from lesson_claims import claims_of, with_checks

CELL_TIMEOUT = 300  # seconds per cell: the capstone trains for ~15 s on an idle core


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
        hidden = {cell.metadata["nbgrader"]["grade_id"]: nbformat.v4.new_code_cell(
                      hidden_block(cell.source)) for cell in notebook.cells if is_graded(cell)}
        runnable = nbformat.v4.new_notebook(cells=checked + list(hidden.values()),
                                            metadata=notebook.metadata)
        execute_notebook(runnable, ROOT / "solutions" / name, timeout=CELL_TIMEOUT)
        _RUNS[name] = SolutionRun(notebook, claims, checked, hidden)
    return _RUNS[name]

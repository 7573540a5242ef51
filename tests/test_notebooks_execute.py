"""Every notebook runs: solutions cleanly, student versions failing only where the learner works.

Each notebook is executed once per version in a fresh python3 kernel (nbclient),
with the notebook's own folder as the working directory, as JupyterLab would.
Both runs are solution_runs.py's, shared with test_lesson_claims.py and
test_notebooks_02_03/04_05.py.
"""
from __future__ import annotations

import pytest

from conftest import NOTEBOOK_NAMES
from solution_runs import solution_group, solution_run, student_run


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def errors_of(cell) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


def stderr_of(cell) -> str:
    return "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr")


def describe(cell) -> str:
    meta = nbgrader_meta(cell)
    return meta.get("grade_id") or repr(cell.source.strip().splitlines()[0][:60] if cell.source.strip() else "")


@pytest.mark.parametrize("name", [pytest.param(n, marks=solution_group(n), id=n)
                                  for n in NOTEBOOK_NAMES])
def test_solution_notebook_runs_without_errors(name, jupyter_env):
    run = solution_run(name)
    graded = [c for c in run.notebook.cells if nbgrader_meta(c).get("grade")]
    assert graded, f"{name}: no graded test cells"
    # Each hidden block ran again on its own after the notebook: it must pass on the
    # solution too (the graded cells contain it; this pins that verify itself runs).
    ran = [c for c in run.notebook.cells if c.cell_type == "code"] + list(run.hidden.values())
    failures = [f"{describe(c)}: {errors_of(c)[0]}" for c in ran if errors_of(c)]
    assert not failures, f"{name} (solution) raised in:\n" + "\n".join(failures)
    noisy = [f"{describe(c)}: {stderr_of(c)[:300]!r}" for c in graded if stderr_of(c)]
    assert not noisy, f"{name}: graded test cells wrote to stderr (nbgrader scores that 0):\n" + "\n".join(noisy)


@pytest.mark.parametrize("name", [pytest.param(n, marks=solution_group(n), id=n)
                                  for n in NOTEBOOK_NAMES])
def test_student_notebook_fails_only_where_the_learner_works(name, jupyter_env):
    run = student_run(name)
    extra = run.hidden
    learner_cells = [c for c in run.learner if c.cell_type == "code"]
    may_fail = [c for c in learner_cells if nbgrader_meta(c).get("solution") or nbgrader_meta(c).get("grade")]
    wrong = [f"{describe(c)}: {errors_of(c)[0]}" for c in learner_cells if errors_of(c) and c not in may_fail]
    assert not wrong, (f"{name} (student): cells other than answer and graded test cells fail with the stubs "
                       "in place:\n" + "\n".join(wrong))
    graded = [c for c in learner_cells if nbgrader_meta(c).get("grade")]
    passing = [describe(c) for c in graded if not errors_of(c)]
    assert not passing, f"{name} (student): graded test cells pass on the stubs (free points): {passing}"
    not_failing = [grade_id for grade_id, cell in extra.items() if not errors_of(cell)]
    assert not not_failing, f"{name}: the hidden tests of {not_failing} pass on the stubs"

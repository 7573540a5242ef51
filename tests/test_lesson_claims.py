"""What the lessons say is what their cells do.

Every number a cell is said to print, every behaviour a parameter is said to cause and
every prerequisite a notebook names is written as a claim next to its sentence (see
tests/lesson_claims.py); these tests read the claims and confirm each one: the static ones
from the sources, the rest by running each solution notebook in a kernel with a check cell
after the cell a claim is about.
"""
from __future__ import annotations

import re

import nbformat
import pytest

from conftest import NOTEBOOK_NAMES, execute_notebook
from lesson_claims import PRELUDE_NAMES, claims_of, judge_outputs, with_checks
from solution_runs import solution_group, solution_run, source


def headings(name: str) -> list[str]:
    return [line.lstrip("#").strip() for cell in source(name).cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("#")]


def failures(claims) -> list[str]:
    return [f"{claim}: {problem}" for claim in claims for problem in claim.problems]


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_claims_are_well_formed_and_still_said(name):
    claims = claims_of(source(name), name)
    assert claims, f"{name} makes no checked claims"
    assert not failures(claims), "\n".join(failures(claims))


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_named_prerequisites_are_taught_earlier(name):
    claims = [c for c in claims_of(source(name), name) if "taught" in c.data]
    for claim in claims:
        where, words = claim.data["taught"]
        assert where in NOTEBOOK_NAMES and NOTEBOOK_NAMES.index(where) < NOTEBOOK_NAMES.index(name), (
            f"{claim}: {where} is not a notebook before {name}")
        assert any(words.lower() in heading.lower() for heading in headings(where)), (
            f"{claim}: {where} has no heading about {words!r}")


def test_every_notebook_after_the_first_names_its_prerequisites_with_claims():
    for name in NOTEBOOK_NAMES[1:]:
        opening = source(name).cells[0].source
        assert "taught" in opening and "Prerequisites" in opening, (
            f"{name}: the prerequisites in the first cell carry no `taught` claims")


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_the_prelude_names_are_free_in_the_notebook(name):
    code = "\n".join(c.source for c in source(name).cells if c.cell_type == "code")
    for helper in PRELUDE_NAMES:
        assert not re.search(rf"\b(def|class)\s+{helper}\b|^\s*{helper}\s*=", code, re.M), (
            f"{name} defines {helper}, a name the claim checks use")


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(n, marks=solution_group(n), id=n)
                                  for n in NOTEBOOK_NAMES])
def test_claims_hold_when_the_solution_runs(name, jupyter_env):
    run = solution_run(name)
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, cell in enumerate(run.checked)
              if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.output_type == "error" and i > 0]
    assert not errors, f"{name} raised while its claims were checked:\n" + "\n".join(errors)
    judge_outputs(run.notebook, run.claims, run.checked)
    assert not failures(run.claims), "\n".join(failures(run.claims))


def test_the_checks_catch_a_false_claim(jupyter_env, tmp_path):
    """A wrong number, a wrong text, a false statement and a phrase no longer said all fail."""
    markdown = ("The cell prints 5 and says hello; x ends at 3.\n"
                '<!-- claim {"says": "prints 5", "prints": [5]} -->\n'
                '<!-- claim {"says": "says hello", "shows": ["hello"]} -->\n'
                '<!-- claim {"says": "x ends at 3", "holds": "x == 3"} -->\n'
                '<!-- claim {"says": "x ends at 4", "holds": "x == 4"} -->\n'
                '<!-- claim {"says": "x is near 2.9", "holds": "approx(x, 2.9)"} -->\n')
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(markdown),
        nbformat.v4.new_code_cell("x = 2\nprint(4, 'goodbye')"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    claims = claims_of(notebook, "demo")
    assert [c.problems for c in claims][3:] == [["its cell's prose does not say that (any more)"]] * 2
    cells, _ = with_checks(notebook, claims)
    execute_notebook(nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata), tmp_path)
    judge_outputs(notebook, claims, cells)
    assert all(len(c.problems) == 1 for c in claims), failures(claims)
    assert "prints: 5" in claims[0].problems[0]
    assert "'hello' is not in" in claims[1].problems[0]
    assert "'x == 3' is not true" in claims[2].problems[0]

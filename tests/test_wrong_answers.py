"""The wrong-answer catalogue: each realistic mistake loses exactly its exercise.

For every entry of tests/fixtures/wrong_answers/ the entry's answer cells are
planted in the solution notebook, the graded cells run in a real kernel, and

* the graded cell of that exercise fails, with an error that names the mistake
  (a catalogued `mistake` name from verify() or words of the visible test);
* every other graded cell still passes, apart from the ones the entry declares
  in ALSO_FAILS (a later exercise that calls the broken answer).

The kernels are catalogue_runs.py's, shared with test_agreement.py: one kernel
per notebook, the entries planted one after another. Each entry's fresh run of
the whole planted notebook is `microgradlab grade`'s, in test_agreement.py.
A last test reads the unmodified solution's own fresh run in those kernels:
every graded cell must pass there, so a failure above is caused by the planted
mistake and nothing else.
"""
from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from wrong_answers import load_catalogue  # noqa: E402

from catalogue_runs import SOLUTION, catalogue_group  # noqa: E402

from exercise_marks import marks_for, param  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = load_catalogue()


# ---------------------------------------------------------------- notebooks
def solution_notebook(name: str):
    """The instructor notebook: the generated .ipynb, or the jupytext source until it exists."""
    folder = ROOT / "solutions" / name
    built = folder / f"{name}.ipynb"
    if built.exists():
        return nbformat.read(built, as_version=4)
    import jupytext

    return jupytext.read(folder / f"{name}.py", fmt="py:percent")


def grade_ids(nb, *, graded: bool) -> list[str]:
    return [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.cell_type == "code" and "nbgrader" in c.metadata
        and bool(c.metadata["nbgrader"].get("grade")) == graded
        and c.metadata["nbgrader"].get("solution", False) == (not graded)
    ]


def _checking_ready() -> bool:
    import microgradlab.checking as checking

    return hasattr(checking, "verify")


needs_checking = pytest.mark.skipif(
    not _checking_ready(),
    reason="microgradlab.checking.verify is not written yet; the notebooks cannot import it",
)


@functools.lru_cache(maxsize=None)
def _notebook_exists(name: str) -> bool:
    return (ROOT / "solutions" / name / f"{name}.py").exists()


# ---------------------------------------------------------------- the catalogue itself (no kernel)
def test_catalogue_covers_the_required_mistakes():
    ids = {e.id for e in CATALOGUE}
    assert len(ids) == len(CATALOGUE), "two catalogue entries share an id"
    required = ["assign_not_accumulate", "mul_uses_own_data", "no_topological_order",
                "tanh_derivative_of_input", "pow_missing_minus_one", "not_seeded",
                "sub_sign_flipped", "no_zero_grad", "hard_coded", "divides_by_2h", "uphill",
                "missing_biases", "recursive"]
    missing = [word for word in required if not any(word in i for i in ids)]
    assert not missing, f"the catalogue has no entry for: {missing}"


@pytest.mark.parametrize("entry", [param(e, e.exercise, id=e.id) for e in CATALOGUE])
def test_entry_names_real_cells(entry):
    if not _notebook_exists(entry.notebook):
        pytest.skip(f"solutions/{entry.notebook} is not written yet")
    nb = solution_notebook(entry.notebook)
    answers, graded = grade_ids(nb, graded=False), grade_ids(nb, graded=True)
    assert entry.answer_cell in answers, (
        f"{entry.id}: {entry.answer_cell!r} is not a solution cell of {entry.notebook} ({answers})")
    assert entry.exercise in graded, f"{entry.id}: {entry.exercise!r} is not a graded cell ({graded})"
    assert entry.exercise not in entry.also_fails
    unknown = set(entry.also_fails) - set(graded)
    assert not unknown, f"{entry.id}: ALSO_FAILS names cells that are not graded: {unknown}"
    original = next(c.source for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") == entry.answer_cell)
    assert entry.source.strip() != original.strip(), f"{entry.id}: the wrong answer is the solution"
    compile(entry.source, entry.id, "exec")  # a realistic mistake still parses


# ---------------------------------------------------------------- in a kernel
NOTEBOOKS = sorted({e.notebook for e in CATALOGUE} | {"06_mlp"})


@pytest.mark.slow
@needs_checking
@pytest.mark.parametrize("name", [pytest.param(n, marks=catalogue_group(n), id=n) for n in NOTEBOOKS])
def test_solution_notebook_passes_every_graded_cell(name, catalogue_kernels):
    if not _notebook_exists(name):
        pytest.skip(f"solutions/{name} is not written yet")
    outcomes = catalogue_kernels(name).graded[(SOLUTION, name)]
    assert outcomes, f"{name} has no graded cells"
    failed = {gid: text[-800:] for gid, (ok, text) in outcomes.items() if not ok}
    assert not failed, f"the solution of {name} fails graded cells: {failed}"


def _known_gap(entry):
    """An entry whose mistake the notebook does not name yet: a strict xfail, so the
    suite says so the day the notebook's message is fixed."""
    marks = marks_for(entry.exercise, *entry.also_fails) + [catalogue_group(entry.notebook)]
    if entry.known_gap:
        marks.append(pytest.mark.xfail(strict=True, reason=entry.known_gap))
    return pytest.param(entry, marks=marks, id=entry.id)


@pytest.mark.slow
@needs_checking
@pytest.mark.parametrize("entry", [_known_gap(e) for e in CATALOGUE])
def test_wrong_answer_loses_exactly_its_exercise(entry, catalogue_kernels):
    if not _notebook_exists(entry.notebook):
        pytest.skip(f"solutions/{entry.notebook} is not written yet")
    outcomes = catalogue_kernels(entry.notebook).graded[entry.id]

    passed, text = outcomes[entry.exercise]
    assert not passed, f"{entry.id}: the graded cell {entry.exercise} passed the wrong answer"
    assert any(fragment.lower() in text.lower() for fragment in entry.expect), (
        f"{entry.id}: {entry.exercise} failed, but its error names none of {entry.expect}:\n{text[-1500:]}")

    for grade_id, (ok, text) in outcomes.items():
        if grade_id == entry.exercise:
            continue
        # ALSO_FAILS cells use the broken answer; whether verify()'s random cases hit
        # it varies from run to run, so they may fail but need not.
        if grade_id not in entry.also_fails:
            assert ok, f"{entry.id}: {grade_id} should still pass, it failed with:\n{text[-1500:]}"


# ---------------------------------------------------------------- the class builder (no kernel)
def test_build_class_writes_what_the_manifest_says(tmp_path):
    from class_builder import BROKEN_KINDS, available_notebooks, build_class

    names = available_notebooks()
    if not names:
        pytest.skip("no generated student notebooks yet (make notebooks)")
    manifest = build_class(tmp_path, n_students=8, seed=3, notebooks=names[-1:],
                           mix={"correct": 1, "wrong": 1, "broken": 2})
    assert build_class(tmp_path / "again", n_students=8, seed=3, notebooks=names[-1:],
                       mix={"correct": 1, "wrong": 1, "broken": 2}) == manifest, "same seed, other class"
    by_id = {e.id: e for e in CATALOGUE}
    kinds_seen = set()
    for student, notebooks in manifest.items():
        for name, record in notebooks.items():
            path = tmp_path / student / f"{name}.ipynb"
            graded = set(record["passes"]) | set(record["fails"]) | set(record["may_fail"])
            assert graded, f"{student}/{name}: the manifest names no exercises"
            kinds_seen.add(record["detail"] if record["kind"] == "broken" else record["kind"])
            if record["detail"] == "missing":
                assert not path.exists() and record["passes"] == []
                continue
            text = path.read_text(encoding="utf-8")
            if record["detail"] == "invalid_json":
                with pytest.raises(ValueError):
                    json.loads(text)
                continue
            nb = json.loads(text)
            if record["detail"] == "nbformat3":
                assert nb["nbformat"] == 3
                continue
            sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
            assert not any("raise NotImplementedError" in s for s in sources
                           if record["kind"] == "correct"), "an answer cell was left as a stub"
            if record["kind"] == "wrong":
                entry = by_id[record["detail"]]
                assert entry.source in sources and record["fails"] == [entry.exercise]
            if record["detail"] == "huge_output":
                assert any("'x' * 52428800" in s for s in sources)
    assert "correct" in kinds_seen and "wrong" in kinds_seen
    assert kinds_seen & set(BROKEN_KINDS), "no broken submission in a class built with broken weight 2"


def test_build_class_rejects_bad_arguments(tmp_path):
    from class_builder import build_class

    with pytest.raises(ValueError, match="n_students"):
        build_class(tmp_path, 0, seed=1)
    with pytest.raises(ValueError, match="unknown kinds"):
        build_class(tmp_path, 2, seed=1, mix={"perfect": 1})

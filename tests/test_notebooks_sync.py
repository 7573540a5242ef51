"""The generated notebooks match their sources, hide what they must, and follow the course shape.

Static checks only (no kernels): the execution tests are in test_notebooks_execute.py.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import NOTEBOOK_NAMES, ROOT

SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_notebooks", module)
    spec.loader.exec_module(module)
    return module


build_notebooks = load_build_script()


def contract_exercise_ids() -> dict[str, list[str]]:
    """notebook -> exercise ids, read from the table in docs/ARCHITECTURE.md (the contract)."""
    table = {}
    for line in (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*(\d\d_\w+)\s*\|\s*`(ex\d\d_\w+)`\s*\|", line)
        if match:
            table.setdefault(match.group(1), []).append(match.group(2))
    return table


CONTRACT = contract_exercise_ids()


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def graded_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("grade")]


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("solution")]


def read_pair(name: str):
    solution_path = SOLUTIONS / name / f"{name}.ipynb"
    student_path = NOTEBOOKS / f"{name}.ipynb"
    for path in (SOLUTIONS / name / f"{name}.py", solution_path, student_path):
        if not path.exists():
            pytest.fail(f"notebook {name} missing: {path.relative_to(ROOT)} does not exist")
    return nbformat.read(solution_path, as_version=4), nbformat.read(student_path, as_version=4)


def regions(source: str, kind: str) -> list[list[str]]:
    """The lines between each `### BEGIN <kind>` and `### END <kind>` of a cell."""
    found, current = [], None
    for line in source.splitlines():
        if line.strip() == f"### BEGIN {kind}":
            current = []
        elif line.strip() == f"### END {kind}":
            found.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return found


# --------------------------------------------------------------------------- in sync


@pytest.fixture(scope="module")
def rebuild_problems():
    """One rebuild of every notebook into a temp dir, compared with the committed files."""
    return build_notebooks.check(build_notebooks.find_sources())


@pytest.mark.slow  # rebuilds every notebook through nbgrader
def test_regenerating_gives_the_committed_notebooks(rebuild_problems):
    assert not rebuild_problems, "committed notebooks differ from a fresh build (run `make notebooks`):\n" + "\n".join(
        rebuild_problems)


def test_every_solution_notebook_has_a_student_twin_and_vice_versa():
    instructor = {p.stem for p in SOLUTIONS.glob("*/*.ipynb")}
    student = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert instructor - student == set(), f"no student notebook for {sorted(instructor - student)}"
    assert student - instructor == set(), f"student notebook without a solution notebook: {sorted(student - instructor)}"
    for path in SOLUTIONS.glob("*/*.ipynb"):
        assert path.parent.name == path.stem, f"{path.relative_to(ROOT)} is not in a folder of its own name"
        assert path.with_suffix(".py").exists(), f"{path.relative_to(ROOT)} has no .py source next to it"


# --------------------------------------------------------------------------- nothing leaks


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_student_notebook_has_no_hidden_tests(name):
    _, student = read_pair(name)
    text = "\n".join(c.source for c in student.cells)
    for marker in ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "verify("):
        assert marker not in text, f"notebooks/{name}.ipynb contains {marker!r}: hidden tests leaked"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_student_notebook_has_no_solution_text(name):
    solution, student = read_pair(name)
    student_cells = {c.id: c for c in student.cells}
    answer_cells = solution_cells(solution)
    assert answer_cells, f"{name} has no answer (solution) cells"
    for cell in answer_cells:
        grade_id = nbgrader_meta(cell)["grade_id"]
        assert cell.id in student_cells, f"answer cell {grade_id} of {name} is missing from the student notebook"
        stub = student_cells[cell.id].source
        stub_lines = {line.strip() for line in stub.splitlines()}
        hidden = regions(cell.source, "SOLUTION")
        assert hidden, f"answer cell {grade_id} of {name} has no ### BEGIN SOLUTION region"
        # Lines that also occur outside the regions (a `def` line, a docstring) may stay.
        outside = {line.strip() for line in cell.source.splitlines()} - {
            line.strip() for region in hidden for line in region}
        for region in hidden:
            for line in region:
                if line.strip() and line.strip() not in outside:
                    assert line.strip() not in stub_lines, (
                        f"notebooks/{name}.ipynb, cell {grade_id}: solution line {line.strip()!r} is visible")
        assert "NotImplementedError" in stub, f"cell {grade_id} of notebooks/{name}.ipynb has no stub"
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text, f"notebooks/{name}.ipynb still contains a solution marker"


# --------------------------------------------------------------------------- grading metadata


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_graded_cells_are_the_contract_exercises(name):
    solution, student = read_pair(name)
    ids = [nbgrader_meta(c)["grade_id"] for c in graded_cells(solution)]
    assert ids == CONTRACT.get(name, []), (
        f"{name}: graded test cells are {ids}, docs/ARCHITECTURE.md lists {CONTRACT.get(name, [])}")
    every_id = [nbgrader_meta(c)["grade_id"] for c in solution.cells if nbgrader_meta(c)]
    duplicates = sorted({i for i in every_id if every_id.count(i) > 1})
    assert not duplicates, f"{name}: grade_id used more than once: {duplicates}"
    for cell in graded_cells(solution):
        assert nbgrader_meta(cell).get("locked"), f"{name}: graded cell {nbgrader_meta(cell)['grade_id']} is not locked"
        assert "### BEGIN HIDDEN TESTS" in cell.source, (
            f"{name}: graded cell {nbgrader_meta(cell)['grade_id']} has no hidden tests")
    assert [nbgrader_meta(c)["grade_id"] for c in graded_cells(student)] == ids, (
        f"{name}: the student notebook's graded cells differ from the solution's")


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_grade_ids_are_registered_exercises(name):
    solution, _ = read_pair(name)
    exercises = pytest.importorskip("microgradlab.exercises")
    if not hasattr(exercises, "get"):
        pytest.skip("microgradlab.exercises has no registry yet (get)")
    for cell in graded_cells(solution):
        grade_id = nbgrader_meta(cell)["grade_id"]
        exercise = exercises.get(grade_id)
        assert exercise.id == grade_id and exercise.notebook == name, (
            f"{name}: grade_id {grade_id} is registered as {exercise.id} of {exercise.notebook}")


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_points_add_up(name):
    solution, student = read_pair(name)
    points = {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c).get("points") for c in graded_cells(solution)}
    for grade_id, value in points.items():
        assert isinstance(value, (int, float)) and value > 0, f"{name}: {grade_id} has points {value!r}"
    student_points = {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c).get("points") for c in graded_cells(student)}
    assert student_points == points, f"{name}: points differ between versions: {student_points} vs {points}"
    assert sum(points.values()) > 0, f"{name}: the notebook is worth no points"


# --------------------------------------------------------------------------- course shape


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_every_code_cell_follows_a_markdown_cell(name):
    solution, _ = read_pair(name)
    for before, cell in zip(solution.cells, solution.cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", (
                f"{name}: code cell {cell.source.splitlines()[0][:60]!r} is not preceded by prose")
    assert solution.cells[0].cell_type == "markdown", f"{name} starts with a code cell"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_opens_with_objectives_prerequisites_and_time(name):
    solution, _ = read_pair(name)
    opening = solution.cells[0].source.lower()
    for part in ("objectives", "prerequisites", "estimated time"):
        assert part in opening, f"{name}: the first cell does not state its {part}"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_ends_with_summary_questions_and_flashcards(name):
    solution, _ = read_pair(name)
    last = solution.cells[-1]
    assert last.cell_type == "code" and re.search(rf"Flashcards\(\s*[\"']{name}[\"']", last.source), (
        f"{name}: the last cell should be Flashcards(\"{name}\", [...])")
    closing = "\n".join(c.source for c in solution.cells[-4:] if c.cell_type == "markdown")
    assert re.search(r"^#+ .*summary", closing, re.IGNORECASE | re.MULTILINE), f"{name}: no Summary heading at the end"
    answers = re.findall(r"<details>\s*<summary>\s*Answer\s*</summary>.+?</details>", closing, re.DOTALL)
    assert 4 <= len(answers) <= 6, f"{name}: {len(answers)} retrieval answers in <details> blocks, want 4-6"


# --------------------------------------------------------------------------- build errors


def write_source(tmp_path, body: str):
    path = tmp_path / "99_broken.py"
    path.write_text("# %% [markdown]\n# Title\n\n" + body, encoding="utf-8")
    return path


def test_bad_metadata_json_is_named(tmp_path):
    path = write_source(tmp_path, '# %% nbgrader={"grade": true, "grade_id": "x" "points": 1}\nx = 1\n')
    with pytest.raises(build_notebooks.SourceError, match=r"99_broken.py:4: the nbgrader metadata is not valid JSON"):
        build_notebooks.source_to_notebook(path)


def test_solution_region_without_end_is_named(tmp_path):
    meta = json.dumps({"grade": False, "grade_id": "a", "locked": False, "schema_version": 3,
                       "solution": True, "task": False})
    path = write_source(tmp_path, f"# %% nbgrader={meta}\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n\n"
                                  "# %% [markdown]\n# next\n")
    with pytest.raises(build_notebooks.SourceError, match=r"99_broken.py:6: '### BEGIN SOLUTION' .* no matching"):
        build_notebooks.source_to_notebook(path)


def test_graded_cell_without_points_is_named(tmp_path):
    meta = json.dumps({"grade": True, "grade_id": "ex99", "locked": True, "schema_version": 3,
                       "solution": False, "task": False})
    path = write_source(tmp_path, f"# %% nbgrader={meta}\nassert True\n")
    with pytest.raises(build_notebooks.SourceError, match=r"99_broken.py:4: graded cell .* no points"):
        build_notebooks.source_to_notebook(path)


@pytest.mark.slow  # runs nbgrader
def test_nbgrader_errors_name_the_notebook(tmp_path):
    """A problem only nbgrader sees (the same grade_id twice) fails naming notebook and id."""
    meta = {"grade": False, "locked": True, "schema_version": 3, "solution": False, "task": False,
            "grade_id": "twice"}
    path = write_source(tmp_path, f"# %% nbgrader={json.dumps(meta)}\nx = 1\n\n# %% [markdown]\n# again\n\n"
                                  f"# %% nbgrader={json.dumps(meta)}\ny = 2\n")
    source_dir = tmp_path / "source"
    build_notebooks.write_notebook(build_notebooks.source_to_notebook(path), source_dir / "99_broken" / "99_broken.ipynb")
    (tmp_path / "exchange").mkdir()
    with pytest.raises(build_notebooks.SourceError, match=r"failed for 99_broken:[\s\S]*Duplicate grade id: twice"):
        build_notebooks.generate_assignments(["99_broken"], source_dir, tmp_path / "release", tmp_path)


def test_cell_ids_depend_on_position_and_content_only(tmp_path):
    body = "# %%\nx = 1\n\n# %% [markdown]\n# same\n\n# %%\nx = 1\n"
    first = build_notebooks.source_to_notebook(write_source(tmp_path, body))
    second = build_notebooks.source_to_notebook(write_source(tmp_path, body))
    ids = [c.id for c in first.cells]
    assert ids == [c.id for c in second.cells]
    assert len(set(ids)) == len(ids), f"two cells share an id: {ids}"
    assert all(c.outputs == [] for c in first.cells if c.cell_type == "code")
    assert first.metadata == {"kernelspec": build_notebooks.KERNELSPEC, "language_info": {"name": "python"}}


# --------------------------------------------------------------------------- the nbgrader course


@pytest.mark.slow  # runs nbgrader
def test_course_config_takes_its_source_from_solutions(tmp_path):
    """nbgrader, configured only by autograder/nbgrader_config.py, releases from solutions/."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from traitlets.config.loader import PyFileConfigLoader

    course = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder")).load_config()
    assert course.CourseDirectory.course_id == "microgradlab"
    assert course.Execute.timeout > 0
    assert "nbgrader.preprocessors.ClearHiddenTests" in course.GenerateFeedback.preprocessors
    assert Path(course.Exchange.root).is_dir(), "the exchange directory must exist"

    config = build_notebooks.course_config(ROOT / "unused", tmp_path / "unused", tmp_path)
    # Undo the build's redirection of the source, keep release and gradebook in tmp.
    config.merge(Config({"CourseDirectory": {"source_directory": "../solutions"}}))
    coursedir = CourseDirectory(config=config)
    source = Path(coursedir.format_path(coursedir.source_directory, ".", "01_derivatives")).resolve()
    assert source == SOLUTIONS / "01_derivatives"
    coursedir.assignment_id = "01_derivatives"
    build_notebooks.put_venv_on_path()
    GenerateAssignment(coursedir=coursedir, config=config).start()
    released = sorted(p.name for p in (tmp_path / "unused" / "01_derivatives").iterdir())
    assert released == ["01_derivatives.ipynb"], f"the release should hold the notebook only, not {released}"

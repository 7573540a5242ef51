"""What the SOURCE notebook (solutions/NN/NN.ipynb) says is graded.

The submission is never trusted for this: which graded cells exist, their
``grade_id`` (= exercise id) and their points all come from the instructor's
notebook. nbgrader's own helpers decide what a graded cell is
(``nbgrader.utils.is_grade``) and fingerprint cells
(``nbgrader.utils.compute_checksum``); nbgrader's ``ClearHiddenTests``
preprocessor produces the learner-visible text of each test cell, exactly as
``nbgrader generate_assignment`` does when it releases the notebook.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS, get

# nbformat and nbgrader are imported where they are used: together they take seconds
# to import, and a run with nothing new to grade reads no source notebook at all.


@dataclass(frozen=True)
class GradedCell:
    grade_id: str          # = exercise id
    points: float
    visible_source: str    # the test cell as released to learners (hidden block removed)
    checksum: str          # nbgrader checksum of the released cell


@dataclass(frozen=True)
class SourceNotebook:
    name: str
    graded: tuple[GradedCell, ...]
    # What its code cells import at their top level, in order: (module, names) as in
    # ``from module import names`` (names empty for ``import module``). A warm runner
    # (warm.py) imports the same, once, before any learner's copy of the notebook runs.
    imports: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def max_score(self) -> float:
        return sum(cell.points for cell in self.graded)

    def cell(self, grade_id: str) -> GradedCell:
        return next(c for c in self.graded if c.grade_id == grade_id)


def released_cells(notebook):
    """The notebook's cells as nbgrader releases them: hidden tests removed."""
    from nbgrader.preprocessors import ClearHiddenTests
    released = copy.deepcopy(notebook)
    clear = ClearHiddenTests()
    released, _ = clear.preprocess(released, {})
    return released.cells


def top_level_imports(cells) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The imports at the top level of the code cells, in order, each once (lines of
    IPython's ``%`` and ``!`` syntax are left out; a cell that still does not parse
    is skipped)."""
    import ast
    found = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        text = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                         for line in cell.source.splitlines())
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found += [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append((node.module, tuple(alias.name for alias in node.names)))
    return tuple(dict.fromkeys(found))


def load_source(solutions_dir: Path, name: str) -> SourceNotebook:
    """Read ``solutions_dir/name/name.ipynb`` and list its graded test cells."""
    import nbformat
    from nbgrader import utils
    if name not in NOTEBOOKS:
        raise KeyError(f"no notebook {name!r}; known notebooks: {', '.join(NOTEBOOKS)}")
    path = Path(solutions_dir) / name / f"{name}.ipynb"
    if not path.exists():
        raise FileNotFoundError(f"source notebook {path} is missing (run `make notebooks`)")
    notebook = nbformat.read(str(path), as_version=4)
    graded = []
    cells = released_cells(notebook)
    for cell in cells:
        if cell.cell_type != "code" or not utils.is_grade(cell):
            continue
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        exercise = get(grade_id)  # a KeyError naming the known ids if the source is wrong
        if exercise.notebook != name:
            raise ValueError(f"{path}: graded cell {grade_id} belongs to notebook "
                             f"{exercise.notebook}, not {name}")
        points = float(cell.metadata["nbgrader"].get("points", 0))
        graded.append(GradedCell(grade_id, points, cell.source, utils.compute_checksum(cell)))
    if not graded:
        raise ValueError(f"{path} has no graded test cells")
    return SourceNotebook(name, tuple(graded), top_level_imports(cells))


def tampering(source: SourceNotebook, submission) -> list[str]:
    """What the learner changed in the graded test cells, in words (empty: nothing).

    ``submission`` is an nbformat notebook. Compared by nbgrader's checksum,
    which covers the cell's text, grade_id, points and its grade/solution/locked flags.
    """
    from nbgrader import utils
    found: dict[str, list] = {}
    for cell in submission.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            found.setdefault(grade_id, []).append(cell)
    notes = []
    for graded in source.graded:
        cells = found.get(graded.grade_id, [])
        if not cells:
            notes.append(f"{graded.grade_id}: test cell deleted or its metadata removed")
            continue
        if len(cells) > 1:
            notes.append(f"{graded.grade_id}: test cell appears {len(cells)} times")
        try:
            checksum = utils.compute_checksum(cells[0])
        except Exception:  # noqa: BLE001 - metadata mangled past nbgrader's reach
            checksum = None
        if checksum != graded.checksum:
            if cells[0].get("source", "") != graded.visible_source:
                notes.append(f"{graded.grade_id}: test cell text edited")
            else:
                notes.append(f"{graded.grade_id}: test cell metadata edited")
    return notes

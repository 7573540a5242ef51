"""Fingerprints (sha256) of what a grade, or an output file, depends on.

* :func:`source_hash`: the source notebook a row is graded against;
* :func:`code_hash`: the Python code that decides a grade and writes the outputs (the
  ``microgradlab`` package: exercises, producers, comparison; and this grader);
* :func:`course_fingerprint`: both, for a notebook: two machines that agree on it give
  the same grade (a cluster worker refuses a task whose fingerprint differs);
* :func:`outputs_fingerprint`: every gradebook row, every option that shapes the
  outputs, and the code. When ``--out`` was last written with the same fingerprint
  and its files are all there, writing them again would change nothing.

Only the standard library: a run with nothing to grade computes these without
importing nbformat, nbgrader, matplotlib or PyTorch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

STATE_FILE = ".outputs.json"   # in --out: the fingerprint the outputs were written with
TABLES = ("grades.csv", "report.txt", "report.png", "totals.csv", "canvas.csv", "moodle.csv")


def source_hash(solutions_dir: Path, notebook: str) -> str:
    path = Path(solutions_dir) / notebook / f"{notebook}.ipynb"
    return hashlib.sha256(path.read_bytes()).hexdigest()


_code_hash: list[str] = []


def code_hash() -> str:
    """sha256 of every ``.py`` file of ``microgradlab`` and of this grader (once per process)."""
    if not _code_hash:
        import microgradlab
        digest = hashlib.sha256()
        for root in (Path(microgradlab.__path__[0]), Path(__file__).parent):
            for path in sorted(root.rglob("*.py")):
                digest.update(str(path.relative_to(root.parent)).encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
        _code_hash.append(digest.hexdigest())
    return _code_hash[0]


def course_fingerprint(solutions_dir: Path, notebook: str) -> str:
    return f"{code_hash()}:{source_hash(solutions_dir, notebook)}"


def _row_fields(row) -> list:
    """Every column of a gradebook row, as JSON-able values."""
    fields = []
    for column in row.__table__.columns:
        value = getattr(row, column.name)
        fields.append(value.isoformat() if hasattr(value, "isoformat") else value)
    return fields


def outputs_fingerprint(rows: dict, options: dict) -> str:
    """sha256 of every row of the gradebook (``Gradebook.rows()``), ``options`` (what
    else shapes the outputs: the late policy, the notebooks, discovery's notes, as
    JSON-able values) and :func:`code_hash`."""
    digest = hashlib.sha256(code_hash().encode())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    for key in sorted(rows):
        digest.update(json.dumps(_row_fields(rows[key]), default=str).encode())
    return digest.hexdigest()


def outputs_are_current(out: Path, fingerprint: str, rows: dict, notebooks) -> bool:
    """True when ``out`` was last written with ``fingerprint`` and every file that
    writing them would make is there (the tables, and a feedback page per row of a
    notebook of this run)."""
    out = Path(out)
    try:
        recorded = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("fingerprint") != fingerprint:
        return False
    if not all((out / name).is_file() for name in TABLES):
        return False
    return all((out / "feedback" / student / f"{notebook}.html").is_file()
               for student, notebook in rows if notebook in notebooks)


def record_outputs(out: Path, fingerprint: str) -> None:
    """Remember that ``out`` now holds the outputs of ``fingerprint`` (written last, so
    an interrupted write is never taken for a finished one)."""
    path = Path(out) / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"fingerprint": fingerprint}), encoding="utf-8")
    temporary.replace(path)


def forget_outputs(out: Path) -> None:
    """The outputs are about to change: until recorded again, none is current."""
    try:
        (Path(out) / STATE_FILE).unlink()
    except FileNotFoundError:
        pass

"""Build the course notebooks from their one hand-edited source.

    solutions/NN_name/NN_name.py      jupytext percent source (edit this)
      -> solutions/NN_name/NN_name.ipynb   instructor notebook (nbgrader's source step)
      -> notebooks/NN_name.ipynb           student notebook (nbgrader generate_assignment)

Usage:
    python scripts/build_notebooks.py                 build all notebooks
    python scripts/build_notebooks.py --only 04_backward
    python scripts/build_notebooks.py --check         rebuild in a temp dir, exit 1 if the
                                                      committed .ipynb files differ

The output is deterministic: same source, byte-identical notebooks. Cell ids are
derived from each cell's position and content, and nbgrader runs in this one
process for every notebook (a separate `nbgrader` command would pay ~2.5 s of
start-up per notebook).
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
COURSE_CONFIG = ROOT / "autograder" / "nbgrader_config.py"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}
NAME_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+$")


class SourceError(Exception):
    """A notebook source that cannot be built; the message names file, line and cell."""


# --------------------------------------------------------------------------- sources


def find_sources(only: str | None = None) -> list[Path]:
    """Every solutions/NN_name/NN_name.py, sorted by name (optionally just one)."""
    sources = sorted(
        folder / f"{folder.name}.py"
        for folder in SOLUTIONS.iterdir()
        if folder.is_dir() and NAME_PATTERN.match(folder.name) and (folder / f"{folder.name}.py").exists()
    )
    if only is not None:
        sources = [s for s in sources if s.stem == only]
        if not sources:
            raise SourceError(f"--only {only}: there is no solutions/{only}/{only}.py")
    return sources


def check_source_text(path: Path) -> None:
    """Catch malformed cells before jupytext/nbgrader, with the file and line in the message.

    jupytext silently reads an unparsable `nbgrader={...}` header as a cell title, and
    nbgrader reports a missing END SOLUTION without saying where, so we look first.
    """
    rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    lines = path.read_text(encoding="utf-8").splitlines()
    cell_start, cell_meta, open_region = None, None, None

    def close_cell() -> None:
        if open_region is not None:
            kind, line_no = open_region
            raise SourceError(
                f"{rel}:{line_no}: '### BEGIN {kind}' in the cell starting at line {cell_start} "
                f"has no matching '### END {kind}'"
            )
        if cell_meta and cell_meta.get("grade"):
            missing = [k for k in ("grade_id", "points") if k not in cell_meta]
            if missing:
                raise SourceError(
                    f"{rel}:{cell_start}: graded cell (grade: true) has no {' or '.join(missing)} "
                    "in its nbgrader metadata"
                )

    for number, line in enumerate(lines, start=1):
        if line.startswith("# %%"):
            close_cell()
            cell_start, cell_meta, open_region = number, None, None
            if "nbgrader=" in line:
                raw = line.split("nbgrader=", 1)[1].strip()
                try:
                    cell_meta = json.loads(raw)
                except json.JSONDecodeError as err:
                    raise SourceError(
                        f"{rel}:{number}: the nbgrader metadata is not valid JSON ({err.msg} at "
                        f"column {err.colno}): {raw}"
                    ) from None
                if not isinstance(cell_meta, dict):
                    raise SourceError(f"{rel}:{number}: the nbgrader metadata must be a JSON object")
            continue
        marker = line.strip()
        for kind in ("SOLUTION", "HIDDEN TESTS"):
            if marker == f"### BEGIN {kind}":
                if open_region is not None:
                    raise SourceError(f"{rel}:{number}: '### BEGIN {kind}' inside an unfinished region "
                                      f"opened at line {open_region[1]}")
                open_region = (kind, number)
            elif marker == f"### END {kind}":
                if open_region is None or open_region[0] != kind:
                    raise SourceError(f"{rel}:{number}: '### END {kind}' without a matching BEGIN")
                open_region = None
    close_cell()


def cell_id(index: int, cell) -> str:
    """A stable id from position and content: rebuilding never churns the ids.

    The position keeps two identical cells (e.g. two `check(...)` cells) apart.
    """
    digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode("utf-8")).hexdigest()
    return f"c{index:03d}-{digest[:10]}"


def source_to_notebook(path: Path):
    """jupytext percent source -> clean nbformat 4.5 notebook (no outputs, fixed metadata)."""
    import jupytext
    import nbformat

    check_source_text(path)
    nb = jupytext.read(path, fmt="py:percent")
    nb.nbformat, nb.nbformat_minor = 4, 5
    # Only what Jupyter needs: the pairing metadata would point at this machine's files.
    nb.metadata = nbformat.NotebookNode({"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)})
    for index, cell in enumerate(nb.cells):
        cell.id = cell_id(index, cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            tag_run_on(cell)
    nbformat.validate(nb)
    return nb


#: JupyterLab's Run All, nbclient and nbconvert go on past a cell with this tag when it
#: raises. nbgrader records the error in the cell's output either way and grades from that,
#: so the tag changes what runs after an unfinished exercise, not the score.
RUN_ON_TAG = "raises-exception"


def tag_run_on(cell) -> None:
    """Tag the cells that raise while an exercise is unfinished: the learner's answer
    cells (a stub raises NotImplementedError) and the graded test cells."""
    grading = cell.get("metadata", {}).get("nbgrader", {})
    if cell.cell_type != "code" or not (grading.get("solution") or grading.get("grade")):
        return
    tags = cell.metadata.setdefault("tags", [])
    if RUN_ON_TAG not in tags:
        tags.append(RUN_ON_TAG)


def write_notebook(nb, path: Path) -> None:
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- nbgrader


def course_config(source_dir: Path, release_dir: Path, scratch: Path):
    """The autograder course's config, with the build's inputs and outputs redirected.

    Absolute source/release paths win over the course root inside nbgrader's
    os.path.join, so the release lands in `release_dir`; the gradebook and the
    exchange go to `scratch`, so a build writes nothing into the course.
    """
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(COURSE_CONFIG.name, path=str(COURSE_CONFIG.parent)).load_config()
    overrides = Config()
    overrides.CourseDirectory.source_directory = str(source_dir)
    overrides.CourseDirectory.release_directory = str(release_dir)
    overrides.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
    overrides.Exchange.root = str(scratch / "exchange")
    overrides.GenerateAssignment.force = True
    overrides.GenerateAssignment.create_assignment = True
    config.merge(overrides)
    return config


def put_venv_on_path() -> None:
    """nbgrader's Gradebook shells out to the `alembic` command; when this script is
    run as .venv/bin/python without activating the venv, that command is not on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def generate_assignments(names: list[str], source_dir: Path, release_dir: Path, scratch: Path) -> None:
    """nbgrader's own generate_assignment for each notebook, all in this process."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    put_venv_on_path()
    config = course_config(source_dir, release_dir, scratch)
    for name in names:
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = name
        converter = GenerateAssignment(coursedir=coursedir, config=config)
        errors = _CollectErrors()
        converter.log.addHandler(errors)
        converter.log.setLevel(logging.ERROR)
        converter.log.propagate = False  # we report nbgrader's errors ourselves, once
        try:
            converter.start()
        except Exception as err:
            # nbgrader's own validation messages name the cell; we add the notebook.
            detail = errors.summary() or str(err)
            raise SourceError(f"nbgrader generate_assignment failed for {name}:\n{detail}") from err
        finally:
            converter.log.removeHandler(errors)
        produced = release_dir / name / f"{name}.ipynb"
        if not produced.exists():
            raise SourceError(f"nbgrader generate_assignment wrote no {produced.name} for {name}")


class _CollectErrors(logging.Handler):
    """Keeps nbgrader's error log lines so the failure message can quote the useful one."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def summary(self) -> str:
        # The first message is the traceback; its last line is the actual error.
        tracebacks = [m for m in self.messages if "Traceback" in m]
        if tracebacks:
            return tracebacks[0].strip().splitlines()[-1]
        return "\n".join(self.messages)


def normalise_release(path: Path) -> None:
    """Rewrite nbgrader's output in the same canonical form as the instructor notebook."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nb.metadata = nbformat.NotebookNode({"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)})
    write_notebook(nb, path)


# --------------------------------------------------------------------------- build


def build(names_sources: list[Path], solutions_out: Path, notebooks_out: Path) -> list[Path]:
    """Build into `solutions_out/NN/NN.ipynb` and `notebooks_out/NN.ipynb`; return written paths."""
    written = []
    names = [source.stem for source in names_sources]
    for source in names_sources:
        target = solutions_out / source.stem / f"{source.stem}.ipynb"
        write_notebook(source_to_notebook(source), target)
        written.append(target)
    with tempfile.TemporaryDirectory(prefix="mgl-build-") as tmp:
        scratch = Path(tmp)
        (scratch / "exchange").mkdir()
        release = scratch / "release"
        generate_assignments(names, solutions_out, release, scratch)
        for name in names:
            student = notebooks_out / f"{name}.ipynb"
            student.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(release / name / f"{name}.ipynb", student)
            normalise_release(student)
            written.append(student)
    return written


def check(sources: list[Path]) -> list[str]:
    """Rebuild in a temp dir; return one line per committed file that differs or is missing."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="mgl-check-") as tmp:
        fresh_solutions, fresh_notebooks = Path(tmp) / "solutions", Path(tmp) / "notebooks"
        build(sources, fresh_solutions, fresh_notebooks)
        pairs = []
        for source in sources:
            name = source.stem
            pairs.append((fresh_solutions / name / f"{name}.ipynb", SOLUTIONS / name / f"{name}.ipynb"))
            pairs.append((fresh_notebooks / f"{name}.ipynb", NOTEBOOKS / f"{name}.ipynb"))
        for fresh, committed in pairs:
            rel = committed.relative_to(ROOT)
            if not committed.exists():
                problems.append(f"{rel}: missing (run `make notebooks`)")
                continue
            new, old = fresh.read_text(encoding="utf-8"), committed.read_text(encoding="utf-8")
            if new != old:
                diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
                changed = sum(1 for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---"))
                first = next((d for d in diff if d[:1] in "+-" and d[:3] not in ("+++", "---")), "")
                problems.append(f"{rel}: out of date ({changed} changed lines; first: {first[:100]!r})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="rebuild in a temporary directory and exit 1 if committed notebooks differ")
    parser.add_argument("--only", metavar="NN_name", help="build one notebook, e.g. 04_backward")
    args = parser.parse_args(argv)
    try:
        sources = find_sources(args.only)
        if not sources:
            print("no notebook sources found under solutions/", file=sys.stderr)
            return 1
        if args.check:
            problems = check(sources)
            for line in problems:
                print(line)
            if problems:
                print(f"{len(problems)} notebook file(s) out of date: run `make notebooks`", file=sys.stderr)
                return 1
            print(f"{2 * len(sources)} notebooks up to date")
            return 0
        written = build(sources, SOLUTIONS, NOTEBOOKS)
    except SourceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``microgradlab`` command.

    microgradlab grade SUBMISSIONS --out DIR [--workers N] [--timeout-cell S]
                       [--timeout-notebook S] [--unsafe] [--seed N]
                       [--notebooks 01_derivatives,...]

SUBMISSIONS is a folder of ``<student>/<notebook>.ipynb``, a zip of one, or
nbgrader's ``submitted/<student>/<assignment>/<notebook>.ipynb`` layout.
Writes DIR/grades.csv, DIR/feedback/<student>/<notebook>.html, DIR/report.txt
and DIR/report.png. Exit status: 0 when it finished (whatever the grades), 2 on
bad input or when it refuses to run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

DEFAULT_SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


def _notebook_list(text: str) -> list[str]:
    from microgradlab.exercises import NOTEBOOKS
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown notebook(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(NOTEBOOKS)}")
    return names


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microgradlab", description="microgradlab instructor tools")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a class's notebooks in a sandbox, against PyTorch")
    grade.add_argument("submissions", type=Path, help="folder, zip, or nbgrader submitted/ layout")
    grade.add_argument("--out", type=Path, required=True, help="where grades.csv, feedback/ and report go")
    grade.add_argument("--workers", type=_positive(int), default=os.cpu_count() or 1,
                       help="notebooks graded at once (default: number of cores)")
    grade.add_argument("--timeout-cell", type=_positive(float), default=60.0,
                       help="seconds one cell may run (default 60)")
    grade.add_argument("--timeout-notebook", type=_positive(float), default=600.0,
                       help="seconds one notebook may run in all (default 600)")
    grade.add_argument("--unsafe", action="store_true",
                       help="run without the bubblewrap sandbox (only where bwrap is missing)")
    grade.add_argument("--seed", type=int, default=None,
                       help="seed for the hidden random cases (default: fresh each run)")
    grade.add_argument("--notebooks", type=_notebook_list, default=None,
                       help="comma-separated notebook names (default: all six)")
    grade.add_argument("--solutions", type=Path, default=DEFAULT_SOLUTIONS,
                       help=argparse.SUPPRESS)
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        return grade_command(args)
    return 2


def grade_command(args) -> int:
    from microgradlab.exercises import NOTEBOOKS

    from . import sandbox
    from .grading import Settings
    from .submissions import SubmissionError, find_submissions, safe_extract

    if sandbox.bwrap_path() is None and not args.unsafe:
        print("microgradlab grade: refusing to grade: bubblewrap (bwrap) is not installed, so "
              "learner code would run with your permissions. Install it (Debian: apt-get install "
              "bubblewrap) or pass --unsafe to run it unsandboxed anyway.", file=sys.stderr)
        return 2
    if args.unsafe:
        print("microgradlab grade: WARNING: --unsafe: learner code runs WITHOUT the sandbox; it "
              "can read and write your files, use the network and import PyTorch.",
              file=sys.stderr)
    notebooks = args.notebooks or list(NOTEBOOKS)
    # CPU seconds can only run out after the wall clock would have: a backstop for
    # processes the learner detaches, not a second, stricter limit.
    limits = sandbox.Limits(cpu_seconds=int(args.timeout_notebook) + 30)
    settings = Settings(timeout_cell=args.timeout_cell, timeout_notebook=args.timeout_notebook,
                        limits=limits, unsafe=args.unsafe,
                        lend_after=min(Settings.lend_after, args.timeout_cell / 2))
    sandbox.warn_if_no_cgroups(limits)  # once per run, before any submission starts
    with tempfile.TemporaryDirectory(prefix="mglab-unzip-") as unpack:
        try:
            root = args.submissions
            if root.is_file():
                root = safe_extract(root, Path(unpack) / "class")
            elif not root.exists():
                raise SubmissionError(f"{root} does not exist")
            submissions = find_submissions(root, notebooks)
        except SubmissionError as exc:
            print(f"microgradlab grade: {exc}", file=sys.stderr)
            return 2
        grades = run(submissions, notebooks, args.solutions, settings, args.workers, args.seed,
                     args.out, progress=not args.no_progress)
    graded = sum(g.status == "graded" for g in grades)
    print(f"graded {graded} of {len(grades)} submissions; results in {args.out}")
    print(f"limits per submission: {sandbox.confinement_in_force(limits)}")
    return 0


def run(submissions, notebooks, solutions, settings, workers, seed, out: Path, progress=True):
    """Grade, then write every output. Returns the grades."""
    from tqdm import tqdm

    from .batch import grade_class
    from .feedback import write_feedback
    from .grading import read_notebook
    from .report import write_csv, write_plot, write_text_report
    from .source import load_source

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {(s.student, s.notebook): s.path for s in submissions}
    sources = {n: load_source(solutions, n) for n in notebooks}

    def feedback_page(grade):
        path = paths[(grade.student, grade.notebook)]
        notebook = read_notebook(path) if path is not None else None
        try:
            write_feedback(grade, None if isinstance(notebook, str) else notebook,
                           sources[grade.notebook], out)
        except Exception:  # noqa: BLE001 - a page without the learner's cells beats no page
            write_feedback(grade, None, sources[grade.notebook], out)

    bar = tqdm(total=len(submissions), unit="notebook", disable=not progress, file=sys.stderr)
    with bar:
        grades = grade_class(submissions, notebooks, solutions, settings, workers=workers,
                             seed=seed, progress=bar, on_graded=feedback_page)
    write_csv(grades, notebooks, out / "grades.csv")
    write_text_report(grades, notebooks, out / "report.txt")
    write_plot(grades, notebooks, out / "report.png")
    return grades


if __name__ == "__main__":
    sys.exit(main())

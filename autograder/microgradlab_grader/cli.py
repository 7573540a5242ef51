"""The ``microgradlab`` command.

    microgradlab grade SUBMISSIONS -o DIR [-j N] [--db URL] [--seed N | --new-seed]
                       [--course-id ID] [--regrade] [--student NAME ...] [--notebook NAME ...]
                       [--scheduler tls://HOST:PORT --cluster-certs DIR]
                       [--deadline TIME [--late-penalty P]
                       [--late-cutoff DAYS]] [--timeout-cell S] [--timeout-notebook S]
                       [--notebooks 01_derivatives,...] [--cold] [--unsafe] [--quiet]
    microgradlab cluster-certs DIR [--host NAME ...] [--port N] [--days N]
    microgradlab --version

SUBMISSIONS is a folder, a zip or a single notebook (see docs/GRADING.md for the
shapes). Grades go into the gradebook (DIR/gradebook.db, or --db), one row at a
time as they are graded; DIR/grades.csv, report.txt, report.png, totals.csv,
canvas.csv, moodle.csv and feedback/ are regenerated from it when it (or an option
that shapes them) changed. Exit status: 0 when
it finished (whatever the grades), 2 on bad input or when it refuses to run, 130
when interrupted (every finished row is kept; run the printed command to resume).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

DEFAULT_SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("microgradlab")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _PrintVersion(argparse.Action):
    """--version, looked up only when asked for (reading the package metadata is slow)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"microgradlab {_version()}")
        parser.exit()


def _notebook_list(text: str) -> list[str]:
    from microgradlab.exercises import NOTEBOOKS
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in NOTEBOOKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown notebook(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(NOTEBOOKS)}")
    return names


def _one_notebook(text: str) -> str:
    names = _notebook_list(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError("one notebook per --notebook (repeat the option)")
    return names[0]


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


def _percent(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"a percentage from 0 to 100, got {text}")
    return value


def _seed(text):
    from microgradlab.exercises.seeds import SEED_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"a seed from 0 to {SEED_LIMIT - 1}, got {text}")
    return value


def _course_id(text):
    from .course import CourseError, check_course_id
    try:
        return check_course_id(text)
    except CourseError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time(text):
    from .exports import ExportError, parse_time
    try:
        return parse_time(text)
    except ExportError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microgradlab", description="microgradlab instructor tools")
    parser.add_argument("--version", action=_PrintVersion)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade a class's notebooks in a sandbox, against PyTorch")
    grade.add_argument("submissions", type=Path,
                       help="folder, zip, single notebook, or nbgrader submitted/ layout")
    grade.add_argument("-o", "--out", type=Path, required=True,
                       help="where the gradebook, grades.csv, exports, feedback/ and report go")
    grade.add_argument("-j", "--workers", type=_positive(int), default=os.cpu_count() or 1,
                       help="notebooks graded at once on this machine (default: number of cores)")
    grade.add_argument("--db", default=None, metavar="URL",
                       help="SQLAlchemy URL of the gradebook (default: sqlite:///OUT/gradebook.db)")
    grade.add_argument("--seed", type=_seed, default=None,
                       help="seed for every row graded in this run (default: a new row gets "
                            "the course seed of its notebook, the same on every machine; an "
                            "existing row keeps its own)")
    grade.add_argument("--new-seed", action="store_true",
                       help="every row graded in this run gets one new seed, drawn and "
                            "printed, instead of the course seed or its own")
    grade.add_argument("--course-id", default=None, metavar="ID", type=_course_id,
                       help="the course whose seeds a run without --seed uses (default: "
                            "c.CourseDirectory.course_id in autograder/nbgrader_config.py)")
    grade.add_argument("--regrade", action="store_true",
                       help="grade every selected row again, changed or not")
    grade.add_argument("--student", action="append", default=[], metavar="NAME",
                       help="regrade only this student (repeatable); other rows stay as they are")
    grade.add_argument("--notebook", action="append", default=[], type=_one_notebook,
                       metavar="NAME", help="regrade only this notebook (repeatable)")
    grade.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="grade on a Dask cluster: tls://HOST:8786 with --cluster-certs "
                            "(see cluster-certs), or local:N; default: on this machine")
    grade.add_argument("--cluster-certs", type=Path, default=None, metavar="DIR",
                       help="the folder `microgradlab cluster-certs` made: ca.pem and the "
                            "client's certificate and key, for --scheduler tls://...")
    grade.add_argument("--insecure", action="store_true",
                       help="allow --scheduler tcp://... (no TLS): anyone who reaches the "
                            "scheduler then runs code on every worker")
    grade.add_argument("--deadline", type=_time, default=None, metavar="TIME",
                       help="e.g. '2026-12-01 23:59 UTC'; compared with nbgrader's timestamp.txt")
    grade.add_argument("--late-penalty", type=_percent, default=0.0, metavar="PERCENT",
                       help="per started day late, percent of the notebook's maximum (default 0)")
    grade.add_argument("--late-cutoff", type=_positive(float), default=None, metavar="DAYS",
                       help="later than this many days after the deadline: 0 points")
    grade.add_argument("--timeout-cell", type=_positive(float), default=60.0,
                       help="seconds one cell may run (default 60)")
    grade.add_argument("--timeout-notebook", type=_positive(float), default=600.0,
                       help="seconds one notebook may run in all (default 600)")
    grade.add_argument("--unsafe", action="store_true",
                       help="run without the bubblewrap sandbox (only where bwrap is missing)")
    grade.add_argument("--cold", action="store_true",
                       help="start every sandbox from nothing instead of forking it from a "
                            "warm runner (slower; the same grades)")
    grade.add_argument("--notebooks", type=_notebook_list, default=None,
                       help="comma-separated notebook names of the class (default: all six)")
    grade.add_argument("--solutions", type=Path, default=DEFAULT_SOLUTIONS,
                       help=argparse.SUPPRESS)
    grade.add_argument("-q", "--quiet", action="store_true",
                       help="print only errors and the resume line (no progress bar, no summary)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    certs = commands.add_parser(
        "cluster-certs", help="make a course CA and TLS certificates for a Dask cluster, "
                              "and print the commands that start it")
    certs.add_argument("folder", type=Path, help="an empty or new folder for the keys")
    certs.add_argument("--host", action="append", default=[], metavar="NAME",
                       help="the scheduler's host name or IP, as workers reach it "
                            "(repeatable; the first goes into the printed commands; "
                            "default: this machine's name)")
    certs.add_argument("--port", type=_positive(int), default=8786,
                       help="the scheduler's port in the printed commands (default 8786)")
    certs.add_argument("--days", type=_positive(int), default=365,
                       help="how long the certificates are valid (default 365)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "grade":
        return grade_command(args, sys.argv[1:] if argv is None else list(argv))
    if args.command == "cluster-certs":
        return cluster_certs_command(args)
    return 2


def cluster_certs_command(args) -> int:
    import socket

    from .certs import CertificateError, commands, make_certificates
    hosts = args.host or [socket.getfqdn()]
    try:
        make_certificates(args.folder, hosts, days=args.days)
    except CertificateError as exc:
        print(f"microgradlab cluster-certs: {exc}", file=sys.stderr)
        return 2
    print(commands(args.folder, hosts[0], args.port))
    return 0


def _fail(message: str) -> int:
    print(f"microgradlab grade: {message}", file=sys.stderr)
    return 2


def check_out_dir(out: Path) -> str | None:
    """Why ``out`` cannot hold the results, or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file, not a folder: name a folder for the results"
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"--out {out}: {probe} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"--out {out}: {probe} is not writable"
    return None


def _find(root: Path, notebooks, unpack: Path):
    """(submissions, unrecognised, notes), from input discovery when it is there."""
    from . import submissions as found
    discover = getattr(found, "discover", None)
    if discover is not None:
        result = discover(root, notebooks, unpack)
        return (list(result.submissions), list(getattr(result, "unrecognised", []) or []),
                list(getattr(result, "notes", []) or []))
    if root.is_file():
        root = found.safe_extract(root, unpack / "class")
    elif not root.exists():
        raise found.SubmissionError(f"{root} does not exist")
    return found.find_submissions(root, notebooks), [], []


def grade_command(args, argv) -> int:
    from microgradlab.exercises import NOTEBOOKS

    from . import sandbox
    from .grading import Settings
    from .submissions import SubmissionError

    if sandbox.bwrap_path() is None and not args.unsafe:
        return _fail("refusing to grade: bubblewrap (bwrap) is not installed, so "
                     "learner code would run with your permissions. Install it (Debian: apt-get "
                     "install bubblewrap) or pass --unsafe to run it unsandboxed anyway.")
    if args.unsafe:
        print("microgradlab grade: WARNING: --unsafe: learner code runs WITHOUT the sandbox; it "
              "can read and write your files, use the network and import PyTorch.",
              file=sys.stderr)
    if args.seed is not None and args.new_seed:
        return _fail("--seed and --new-seed contradict each other: give one")
    if (args.late_penalty or args.late_cutoff) and args.deadline is None:
        return _fail("--late-penalty and --late-cutoff need --deadline")
    if (args.cluster_certs or args.insecure) and not args.scheduler:
        return _fail("--cluster-certs and --insecure go with --scheduler")
    if args.scheduler:
        from .cluster import ClusterError, check_address
        try:
            check_address(args.scheduler, args.cluster_certs, args.insecure)
        except ClusterError as exc:
            return _fail(str(exc))
    if args.course_id is None:
        from .course import CourseError, course_id_from_config
        try:
            args.course_id = course_id_from_config()
        except CourseError as exc:
            return _fail(str(exc))
    problem = check_out_dir(args.out)
    if problem:
        return _fail(problem)
    if not args.submissions.exists():
        return _fail(f"{args.submissions} does not exist")
    if not (args.solutions / NOTEBOOKS[0]).is_dir():
        return _fail(f"the course's solutions/ folder is not at {args.solutions}")
    notebooks = args.notebooks or list(NOTEBOOKS)
    outside = [n for n in args.notebook if n not in notebooks]
    if outside:
        return _fail(f"--notebook {', '.join(outside)} is not among --notebooks")
    # CPU seconds can only run out after the wall clock would have: a backstop for
    # processes the learner detaches, not a second, stricter limit.
    limits = sandbox.Limits(cpu_seconds=int(args.timeout_notebook) + 30)
    settings = Settings(timeout_cell=args.timeout_cell, timeout_notebook=args.timeout_notebook,
                        limits=limits, unsafe=args.unsafe, warm=not args.cold,
                        lend_after=min(Settings.lend_after, args.timeout_cell / 2))
    sandbox.warn_if_no_cgroups(limits)  # once per run, before any submission starts
    from .untrusted import scratch_folder
    # Removed without recursion however deep a submitted zip's folders go.
    with scratch_folder(prefix="mglab-unzip-") as unpack:
        try:
            submissions, unrecognised, notes = _find(args.submissions, notebooks, unpack)
        except SubmissionError as exc:
            return _fail(str(exc))
        chosen, unknown = students_named(args.student, submissions)
        if unknown:
            return _fail(f"--student {', '.join(unknown)}: no such student in "
                         f"{args.submissions}")
        args.student = chosen
        return run_and_report(args, argv, submissions, unrecognised, notes, notebooks, settings)


def students_named(wanted, submissions) -> tuple[list[str], list[str]]:
    """The ids ``--student`` names (each an id, or a name as handed in: every learner of
    that name), and the words that name nobody."""
    ids = {s.student for s in submissions}
    by_name: dict[str, set[str]] = {}
    for s in submissions:
        by_name.setdefault(getattr(s, "name", "") or s.student, set()).add(s.student)
    chosen, unknown = [], []
    for word in wanted:
        found = {word} if word in ids else by_name.get(word, set())
        chosen += sorted(found)
        if not found:
            unknown.append(word)
    return chosen, unknown


def seed_line(seeds, notebooks) -> str:
    """The run's first line about seeds."""
    if seeds.given is not None:
        return f"seed {seeds.given} (given): every row graded in this run uses it"
    if seeds.fresh is not None:
        return f"seed {seeds.fresh} (new, --new-seed): every row graded in this run uses it"
    from microgradlab.exercises.seeds import course_seed
    listed = ", ".join(f"{n} {course_seed(seeds.course_id, n)}" for n in notebooks)
    return (f"course seeds of {seeds.course_id!r} ({listed}): new rows use them, existing "
            "rows keep their own")


def run_and_report(args, argv, submissions, unrecognised, notes, notebooks, settings) -> int:
    from microgradlab.exercises.seeds import fresh_seed

    from . import sandbox
    from .batch import Interrupted
    from .classrun import Seeds, Selection, decide
    from .cluster import ClusterError
    from .exports import LatePolicy
    from .fingerprints import source_hash
    from .gradebook import Gradebook, GradebookError, default_url
    from .source import load_source
    from .untrusted import visible

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        book = Gradebook(args.db or default_url(out))
    except GradebookError as exc:
        return _fail(str(exc))
    quiet = args.quiet
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))
    for warning in [w for s in submissions for w in (getattr(s, "warnings", None) or [])]:
        say(f"warning: {visible(warning)}")    # a file name must not drive the terminal
    hashes = {n: source_hash(args.solutions, n) for n in notebooks}
    seeds = Seeds(args.course_id, given=args.seed,
                  fresh=fresh_seed() if args.new_seed else None)
    selection = Selection(regrade=args.regrade, students=tuple(args.student),
                          notebooks=tuple(args.notebook))
    decision = decide(submissions, book.rows(), hashes, seeds, selection)
    jobs = {(j.submission.student, j.submission.notebook): j for j in decision.jobs}
    # Read (nbformat, nbgrader) only when something is graded or written.
    sources = {n: load_source(args.solutions, n) for n in notebooks} if jobs else None
    say(f"{seed_line(seeds, notebooks)}; {len(jobs)} to grade, {decision.unchanged} unchanged, "
        f"{decision.not_selected} not selected")
    written = []

    def on_graded(grade):
        job = jobs[(grade.student, grade.notebook)]
        book.save(grade, job.content_hash, hashes[grade.notebook], job.seed, job.timestamp,
                  name=job.name)
        written.append(grade)
        from .classrun import write_page
        path = None if getattr(job.submission, "status", None) else job.submission.path
        write_page(grade, path, sources[grade.notebook], out, job.name)

    from tqdm import tqdm
    bar = tqdm(total=len(jobs), unit="notebook", file=sys.stderr,
               disable=quiet or args.no_progress or not jobs)
    interrupted = False
    try:
        with bar:
            grade_jobs(decision.jobs, notebooks, args, settings, on_graded, bar)
    except Interrupted:
        interrupted = True
    except KeyboardInterrupt:  # between two grades or before the first
        interrupted = True
    except ClusterError as exc:
        book.close()
        return _fail(str(exc))
    policy = LatePolicy(args.deadline, args.late_penalty, args.late_cutoff)
    try:
        regenerate_if_changed(book, out, policy, sources, submissions, unrecognised, notes,
                              notebooks, args.solutions, quick=interrupted)
    except KeyboardInterrupt:
        interrupted = True
    book.close()
    if interrupted:
        # Without --seed the course seeds come back by themselves; a --new-seed run's
        # seed is written out, or the rest would be graded with yet another one.
        resume = [a for a in argv if a != "--new-seed"]
        if seeds.fresh is not None:
            resume += ["--seed", str(seeds.fresh)]
        print(f"\nmicrogradlab grade: interrupted; {len(written)} rows graded in this run are "
              f"kept in the gradebook, {len(jobs) - len(written)} still to grade. To resume "
              f"with the same cases, run:\n  microgradlab {shlex.join(resume)}", file=sys.stderr)
        return 130
    graded = sum(g.status == "graded" for g in written)
    say(f"graded {graded} of {len(written)} submissions this run; results in {out}")
    say(f"limits per submission: {sandbox.confinement_in_force(settings.limits)}")
    return 0


def regenerate_if_changed(book, out: Path, policy, sources, submissions, unrecognised, notes,
                          notebooks, solutions: Path, quick: bool) -> None:
    """Write the outputs from the gradebook, unless ``out`` already holds exactly those
    (same rows, same options, same code: see fingerprints.py)."""
    from .classrun import regenerate_outputs
    from .fingerprints import (forget_outputs, outputs_are_current, outputs_fingerprint,
                               record_outputs)
    rows = book.rows()
    fingerprint = outputs_fingerprint(rows, {
        "policy": repr(policy), "notebooks": list(notebooks),
        "unrecognised": [str(u) for u in unrecognised], "notes": [str(n) for n in notes]})
    if not quick and outputs_are_current(out, fingerprint, rows, notebooks):
        return
    forget_outputs(out)
    if sources is None:
        from .source import load_source
        sources = {n: load_source(solutions, n) for n in notebooks}
    regenerate_outputs(book, out, policy, sources, submissions, unrecognised, notes, quick=quick)
    if not quick:
        record_outputs(out, fingerprint)


def grade_jobs(jobs, notebooks, args, settings, on_graded, bar) -> None:
    """Grade ``jobs`` here or on the cluster; every grade goes through ``on_graded``."""
    submissions = [j.submission for j in jobs]
    seed_of = {(j.submission.student, j.submission.notebook): j.seed for j in jobs}
    if not submissions:
        return
    if args.scheduler:
        from .cluster import grade_on_cluster
        grade_on_cluster(submissions, notebooks, args.solutions, settings, args.scheduler,
                         seed_of, on_graded=on_graded, progress=bar,
                         certs=args.cluster_certs, insecure=args.insecure)
        return
    from .batch import grade_class
    used = sorted({n for n in notebooks if any(s.notebook == n for s in submissions)})
    grade_class(submissions, used, args.solutions, settings, workers=args.workers,
                seed=next(iter(seed_of.values())), progress=bar, on_graded=on_graded,
                seeds=seed_of)


if __name__ == "__main__":
    sys.exit(main())

"""One ``microgradlab grade`` run against the gradebook: decide what to grade, grade it
(here or on a Dask cluster), write each row as it arrives, then regenerate every
output (grades.csv, report, exports, missing feedback pages) from the gradebook.

What gets graded:

* a (student, notebook) with no row yet, or whose submitted file or source notebook
  changed since its row was written (sha256), or whose row is a ``grader_error``;
* every selected row with ``--regrade``;
* with ``--student``/``--notebook`` only those rows, always regraded; no other row is
  read or written.

Seeds: ``--seed N`` grades every row of this run with N. Otherwise a row that
already exists keeps the seed it was graded with (unless ``--new-seed``) and a new
row gets this run's seed, picked at random and printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS

from .gradebook import Gradebook, file_hash
from .grading import GRADER_ERROR


@dataclass(frozen=True)
class Selection:
    regrade: bool = False
    students: tuple[str, ...] = ()
    notebooks: tuple[str, ...] = ()
    new_seed: bool = False

    @property
    def subset(self) -> bool:
        return bool(self.students or self.notebooks)

    def selects(self, student: str, notebook: str) -> bool:
        return ((not self.students or student in self.students)
                and (not self.notebooks or notebook in self.notebooks))


@dataclass
class Job:
    submission: object
    content_hash: str
    seed: int
    timestamp: str | None


@dataclass
class Decision:
    jobs: list[Job] = field(default_factory=list)
    unchanged: int = 0
    not_selected: int = 0


def timestamp_of(submission) -> str | None:
    """nbgrader's raw submission time: from discovery, else the timestamp.txt beside it."""
    text = getattr(submission, "timestamp", None)
    if text:
        return str(text).strip()
    path = getattr(submission, "path", None)
    if path is not None:
        beside = Path(path).parent / "timestamp.txt"
        if beside.is_file() and not beside.is_symlink():
            return beside.read_text(encoding="utf-8", errors="replace").strip()[:100] or None
    return None


def content_hash(submission) -> str:
    status = getattr(submission, "status", None)
    if status:
        return f"status:{status}"
    return file_hash(submission.path)


def decide(submissions, rows, source_hashes: dict[str, str], run_seed: int,
           seed_given: bool, selection: Selection) -> Decision:
    decision = Decision()
    for s in submissions:
        if not selection.selects(s.student, s.notebook):
            decision.not_selected += 1
            continue
        row = rows.get((s.student, s.notebook))
        digest = content_hash(s)
        forced = selection.regrade or selection.subset
        if (not forced and row is not None and row.content_hash == digest
                and row.source_hash == source_hashes[s.notebook] and row.status != GRADER_ERROR):
            decision.unchanged += 1
            continue
        if seed_given or row is None or selection.new_seed:
            seed = run_seed
        else:
            seed = row.seed
        decision.jobs.append(Job(s, digest, seed, timestamp_of(s)))
    return decision


def notebooks_in(book_rows, also=()) -> list[str]:
    present = {n for _, n in book_rows} | set(also)
    return [n for n in NOTEBOOKS if n in present]


def regenerate_outputs(book: Gradebook, out: Path, policy, sources, submissions,
                       unrecognised=(), notes=(), quick: bool = False) -> dict:
    """grades.csv, report.txt/png and the exports, from every row of the gradebook; a
    feedback page for every row that has none yet and whose notebook is at hand.
    ``quick`` (after Ctrl-C, which must stop within seconds): the CSVs and report.txt
    only; the picture and the missing pages wait for the resumed run."""
    from . import exports
    from .gradebook import to_grade
    from .report import write_csv, write_plot, write_text_report

    rows = book.rows()
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    keys = sorted(rows, key=lambda k: (k[0], order.get(k[1], 99)))
    grades = [to_grade(rows[k]) for k in keys]
    notebooks = notebooks_in(rows)
    extra = {k: {"seed": rows[k].seed, "timestamp": rows[k].timestamp} for k in keys}
    write_csv(grades, notebooks, out / "grades.csv", extra=extra)
    write_text_report(grades, notebooks, out / "report.txt", unrecognised=unrecognised,
                      notes=notes, seeds={r.seed for r in rows.values()})
    exports.write_all([(g, rows[(g.student, g.notebook)].timestamp) for g in grades], policy, out)
    if quick:
        return {"grades": grades, "rows": rows}
    write_plot(grades, notebooks, out / "report.png")
    by_key = {(s.student, s.notebook): s for s in submissions}
    for grade in grades:
        page = out / "feedback" / grade.student / f"{grade.notebook}.html"
        s = by_key.get((grade.student, grade.notebook))
        if not page.exists() and grade.notebook in sources:
            usable = s is not None and not getattr(s, "status", None)  # never open a symlink
            write_page(grade, s.path if usable else None, sources[grade.notebook], out)
    return {"grades": grades, "rows": rows}


def write_page(grade, path, source, out: Path) -> None:
    """The feedback page of one grade (feedback.write_feedback keeps its signature)."""
    from .feedback import write_feedback
    from .grading import read_notebook
    try:
        # The submission is read again here: untrusted, so inside the guard as well.
        notebook = read_notebook(path) if path is not None else None
        write_feedback(grade, None if isinstance(notebook, str) else notebook, source, out)
    except Exception:  # noqa: BLE001 - a page without the learner's cells beats no page
        write_feedback(grade, None, source, out)

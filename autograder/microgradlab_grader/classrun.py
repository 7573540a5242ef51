"""One ``microgradlab grade`` run against the gradebook: decide what to grade, grade it
(here or on a Dask cluster), write each row as it arrives, then regenerate every
output (grades.csv, report, exports, missing feedback pages) from the gradebook.

What gets graded:

* a (student, notebook) with no row yet, or whose submitted file or source notebook
  changed since its row was written (sha256), or whose row is a ``grader_error``;
* every selected row with ``--regrade``;
* with ``--student``/``--notebook`` only those rows, always regraded; no other row is
  read or written.

Seeds (:class:`Seeds`): ``--seed N`` grades every row of this run with N, and
``--new-seed`` with one seed drawn for this run. Otherwise a new row gets the
course seed of its notebook (``exercises.seeds.course_seed``: the same for the
same course anywhere, so two fresh runs give the same grades) and a row that
already exists keeps the seed it was graded with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS
from microgradlab.exercises.seeds import course_seed

from .gradebook import Gradebook, file_hash
from .grading import GRADER_ERROR
from .untrusted import UNKNOWN_TIME, Unreadable, read_text, submission_time


@dataclass(frozen=True)
class Selection:
    regrade: bool = False
    students: tuple[str, ...] = ()
    notebooks: tuple[str, ...] = ()

    @property
    def subset(self) -> bool:
        return bool(self.students or self.notebooks)

    def selects(self, student: str, notebook: str) -> bool:
        return ((not self.students or student in self.students)
                and (not self.notebooks or notebook in self.notebooks))


@dataclass(frozen=True)
class Seeds:
    """Where the seeds of this run's rows come from."""
    course_id: str
    given: int | None = None      # --seed N: every row graded in this run
    fresh: int | None = None      # --new-seed: one seed drawn for this run, every row graded

    @property
    def override(self) -> int | None:
        return self.given if self.given is not None else self.fresh

    def of(self, notebook: str, row=None) -> int:
        """The seed of a row of ``notebook`` graded now (``row``: the gradebook's row, if any)."""
        if self.override is not None:
            return self.override
        if row is not None:
            return row.seed
        return course_seed(self.course_id, notebook)


@dataclass
class Job:
    submission: object
    content_hash: str
    seed: int
    timestamp: str | None
    name: str | None = None


@dataclass
class Decision:
    jobs: list[Job] = field(default_factory=list)
    unchanged: int = 0
    not_selected: int = 0


def timestamp_of(submission) -> str | None:
    """The submission time as discovery read it (canonical ISO 8601, or UNKNOWN_TIME), else
    from the timestamp.txt beside the notebook, read as strictly; None when there is none."""
    if hasattr(submission, "timestamp"):
        return submission.timestamp
    path = getattr(submission, "path", None)
    beside = Path(path).parent / "timestamp.txt" if path is not None else None
    if beside is None or not os.path.lexists(beside):
        return None
    try:
        return submission_time(read_text(beside))
    except Unreadable:
        return UNKNOWN_TIME


def content_hash(submission) -> str:
    status = getattr(submission, "status", None)
    if status:
        return f"status:{status}"
    return file_hash(submission.path)


def decide(submissions, rows, source_hashes: dict[str, str], seeds: Seeds,
           selection: Selection) -> Decision:
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
        decision.jobs.append(Job(s, digest, seeds.of(s.notebook, row), timestamp_of(s),
                                 getattr(s, "name", None) or None))
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
    # A row with no name stored shows its id until it is graded again.
    names = {student: student for student, _ in rows}
    names.update({student: row.name for (student, _), row in rows.items() if row.name})
    timed = [(g, rows[(g.student, g.notebook)].timestamp) for g in grades]
    table = exports.entries(timed, policy)
    extra = {}
    for k in keys:
        entry = table[k[0]][k[1]]
        late = None if policy.deadline is None else (
            exports.UNKNOWN_LATENESS if entry.days_late is None else entry.days_late)
        extra[k] = {"seed": rows[k].seed, "timestamp": rows[k].timestamp, "days_late": late}
    lateness = [f"{student} {notebook}: {entry.lateness_note}"
                for student, row in sorted(table.items())
                for notebook, entry in row.items() if entry.lateness_note]
    write_csv(grades, notebooks, out / "grades.csv", extra=extra, names=names)
    write_text_report(grades, notebooks, out / "report.txt", unrecognised=unrecognised,
                      notes=notes, seeds={r.seed for r in rows.values()}, names=names,
                      lateness=lateness)
    exports.write_all(timed, policy, out, names=names)
    if quick:
        return {"grades": grades, "rows": rows}
    write_plot(grades, notebooks, out / "report.png")
    by_key = {(s.student, s.notebook): s for s in submissions}
    for grade in grades:
        page = out / "feedback" / grade.student / f"{grade.notebook}.html"
        s = by_key.get((grade.student, grade.notebook))
        if not page.exists() and grade.notebook in sources:
            usable = s is not None and not getattr(s, "status", None)  # never open a symlink
            write_page(grade, s.path if usable else None, sources[grade.notebook], out,
                       names.get(grade.student))
    return {"grades": grades, "rows": rows}


def write_page(grade, path, source, out: Path, name: str | None = None) -> None:
    """The feedback page of one grade; ``name``: the learner's name as handed in."""
    from .feedback import write_feedback
    from .grading import read_notebook
    try:
        # The submission is read again here: untrusted, so inside the guard as well.
        notebook = read_notebook(path) if path is not None else None
        write_feedback(grade, None if isinstance(notebook, str) else notebook, source, out,
                       name=name)
    except Exception:  # noqa: BLE001 - a page without the learner's cells beats no page
        write_feedback(grade, None, source, out, name=name)

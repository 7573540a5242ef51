"""Exports an LMS takes: per-student totals, a Canvas gradebook CSV, a Moodle grade import CSV.

Three rules decide the number exported for each (student, notebook); they are
stated here once and in docs/GRADING.md:

* **Points counted.** ``graded``: the score. ``timeout`` and ``kernel_died``: the
  points of every exercise whose cases were all delivered and passed *before* the
  notebook stopped (work verified before a hang keeps its points; the exercise
  that hung and everything after it earn 0). ``missing``, ``unreadable`` and any
  status discovery gave (e.g. ``symlink``): 0. ``grader_error``: left empty, so
  the LMS shows a gap that needs you, never a 0 that looks earned.
* **Late policy** (only with ``--deadline``). A submission's time is nbgrader's
  ``timestamp.txt`` as discovery read it (strictly: :func:`.untrusted.parse_timestamp`).
  Late by ``d`` started days: ``--late-penalty P`` takes P% of the notebook's
  *maximum* points per day (never below 0); past ``--late-cutoff D`` days it earns
  0. With neither option, lateness is only reported.
* **Lateness unknown.** A row with a notebook but no readable time (no
  timestamp.txt, or one that is not a time) is never counted as on time: a learner
  writes that file, so a missing or mangled one must not buy full points. When a
  penalty or a cut-off is in force, such a row exports *no number* (an empty cell in
  totals.csv, canvas.csv and moodle.csv, and an empty total; both LMSs leave an
  empty cell alone) and totals.csv's notes and report.txt say "lateness unknown"
  with the points before any penalty: the instructor decides. A row worth 0 points
  is 0 whatever its lateness; with only ``--deadline``, the points are exported and
  the lateness is noted as unknown.

Every cell is written through :func:`.untrusted.csv_cell`: names as handed in
(``name`` columns) are data, never a formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS

from .grading import GRADED, GRADER_ERROR, KERNEL_DIED, MISSING, TIMEOUT, Grade
from .untrusted import UNKNOWN_TIME, Unreadable, csv_writer, parse_timestamp

PARTIAL_STATUSES = (TIMEOUT, KERNEL_DIED)
UNKNOWN_LATENESS = "unknown"    # days late, where a deadline is in force and no time is known


class ExportError(ValueError):
    """A deadline that cannot be read."""


def parse_time(text: str) -> datetime:
    """The instructor's ``--deadline``: nbgrader's ``2026-12-01 10:30:00.123456 UTC``, any
    ISO 8601 time, or what dateutil reads ("1 Dec 2026 23:59 UTC"); naive means UTC.
    (A learner's timestamp.txt is read by the strict :func:`.untrusted.parse_timestamp`.)"""
    from dateutil import parser
    try:
        moment = parser.parse(text.strip())
    except (ValueError, OverflowError) as exc:
        raise ExportError(f"{text!r} is not a date and time ({exc})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def submitted_at(timestamp: str | None) -> datetime | None:
    """A row's stored time as a moment; None when there is none or it is not a time."""
    if timestamp is None or timestamp == UNKNOWN_TIME:
        return None
    try:
        return parse_timestamp(timestamp)
    except Unreadable:
        return None


def why_unknown(timestamp: str | None) -> str:
    return "no timestamp.txt" if timestamp is None else "timestamp.txt is not a time"


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime | None = None
    penalty_per_day: float = 0.0        # percent of the notebook's maximum, per started day
    cutoff_days: float | None = None    # later than this: 0 points

    @property
    def penalises(self) -> bool:
        """Can lateness change a row's points?"""
        return self.deadline is not None and (self.penalty_per_day > 0
                                              or self.cutoff_days is not None)

    def late_by(self, timestamp: str | None) -> timedelta | None:
        """How long after the deadline (negative: before); None: unknown. Needs a deadline."""
        moment = submitted_at(timestamp)
        return None if moment is None else moment - self.deadline

    def days_late(self, timestamp: str | None) -> int | None:
        """Started days after the deadline (0: on time, or no deadline); None: unknown."""
        if self.deadline is None:
            return 0
        late = self.late_by(timestamp)
        if late is None:
            return None
        return 0 if late <= timedelta(0) else math.ceil(late / timedelta(days=1))

    def apply(self, points: float | None, max_score: float, timestamp: str | None) -> float | None:
        """The points after the policy; None when they cannot be known (see the module doc)."""
        if points is None or not self.penalises:
            return points
        late = self.late_by(timestamp)
        if late is None:
            return points if points == 0 else None
        if late <= timedelta(0):
            return points
        if self.cutoff_days is not None and late > timedelta(days=self.cutoff_days):
            return 0.0
        days = math.ceil(late / timedelta(days=1))
        return max(0.0, points - max_score * self.penalty_per_day / 100 * days)


def counted_points(grade: Grade) -> float | None:
    """The points a row is worth before any late penalty (the rule in the module doc)."""
    if grade.status == GRADED:
        return grade.score
    if grade.status == GRADER_ERROR:
        return None
    if grade.status in PARTIAL_STATUSES:
        return sum(v.points for v in grade.verdicts.values() if v.delivered and v.passed)
    return 0.0


@dataclass(frozen=True)
class Entry:
    """One (student, notebook) as exported."""
    grade: Grade
    timestamp: str | None
    points: float | None     # after the late policy; None: empty cell
    days_late: int | None    # None: lateness unknown (a deadline is in force, no readable time)
    counted: float | None    # before the late policy

    @property
    def lateness_note(self) -> str:
        """What totals.csv and report.txt say about an unknown lateness ("" when known or moot)."""
        if self.days_late is not None or not self.counted:
            return ""
        why = why_unknown(self.timestamp)
        if self.points is None:
            return (f"lateness unknown ({why}): {self.counted:g} points before any late "
                    "penalty, not exported: decide by hand")
        return f"lateness unknown ({why})"


def entry(grade: Grade, timestamp: str | None, policy: LatePolicy) -> Entry:
    counted = counted_points(grade)
    if grade.status == MISSING:      # nothing handed in: no time to be late by
        return Entry(grade, timestamp, counted, 0, counted)
    return Entry(grade, timestamp, policy.apply(counted, grade.max_score, timestamp),
                 policy.days_late(timestamp), counted)


def entries(grades_with_times, policy: LatePolicy) -> dict[str, dict[str, Entry]]:
    """{student: {notebook: Entry}} from ``[(grade, timestamp), ...]``."""
    table: dict[str, dict[str, Entry]] = {}
    for grade, timestamp in grades_with_times:
        table.setdefault(grade.student, {})[grade.notebook] = entry(grade, timestamp, policy)
    return table


def _notebooks(table) -> list[str]:
    seen = {n for row in table.values() for n in row}
    return [n for n in NOTEBOOKS if n in seen]


def _num(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _total(row, notebooks) -> float | None:
    points = [row[n].points for n in notebooks if n in row]
    return None if any(p is None for p in points) else sum(points)


def write_totals(table, path: Path, names: dict[str, str] | None = None) -> None:
    """student, name, one column per notebook, total, max_total, notes."""
    names = names or {}
    notebooks = _notebooks(table)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(["student", "name", *notebooks, "total", "max_total", "notes"])
        for student in sorted(table):
            row = table[student]
            maximum = sum(row[n].grade.max_score for n in notebooks if n in row)
            notes = []
            for n in notebooks:
                if n not in row:
                    continue
                item = row[n]
                if item.grade.status != GRADED:
                    notes.append(f"{n}: {item.grade.status}")
                if item.days_late:
                    notes.append(f"{n}: {item.days_late} day(s) late")
                if item.lateness_note:
                    notes.append(f"{n}: {item.lateness_note}")
            writer.writerow([student, names.get(student, student),
                             *(_num(row[n].points) if n in row else None for n in notebooks),
                             _num(_total(row, notebooks)), _num(maximum), "; ".join(notes)])


CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def write_canvas(table, path: Path, column_prefix: str = "microgradlab",
                 names: dict[str, str] | None = None) -> None:
    """Canvas's gradebook import CSV: the five identifying columns, then one column per
    assignment, and a "Points Possible" row under the header (as Canvas's own export).
    Our student id goes in "SIS Login ID", which Canvas matches on; "Student" holds the
    name as handed in. A column whose name Canvas does not know becomes a new
    assignment on import, so nothing else is added: a row whose number is unknown is
    an empty cell, which Canvas leaves as it is."""
    names = names or {}
    notebooks = _notebooks(table)
    maxima = {n: max(row[n].grade.max_score for row in table.values() if n in row)
              for n in notebooks}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(CANVAS_FIXED + [f"{column_prefix} {n}" for n in notebooks])
        writer.writerow(["Points Possible", "", "", "", ""] + [_num(maxima[n]) for n in notebooks])
        for student in sorted(table):
            row = table[student]
            writer.writerow([names.get(student, student), "", "", student, ""] +
                            [_num(row[n].points) if n in row else None for n in notebooks])


def write_moodle(table, path: Path, names: dict[str, str] | None = None) -> None:
    """Moodle's "Import grades from CSV file": one identifier column (map it to the
    user's *username* on import), the name as handed in (leave it unmapped), one column
    per grade item, plus the total. Points are plain numbers with a dot; an empty cell
    is skipped by Moodle, not zeroed."""
    names = names or {}
    notebooks = _notebooks(table)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(["username", "name", *notebooks, "total"])
        for student in sorted(table):
            row = table[student]
            writer.writerow([student, names.get(student, student),
                             *(_num(row[n].points) if n in row else None for n in notebooks),
                             _num(_total(row, notebooks))])


def write_all(grades_with_times, policy: LatePolicy, out: Path,
              names: dict[str, str] | None = None) -> dict[str, Path]:
    """totals.csv, canvas.csv and moodle.csv in ``out``; ``names``: {student id: name as
    handed in} (an id without one is shown as itself)."""
    table = entries(grades_with_times, policy)
    paths = {"totals": Path(out) / "totals.csv", "canvas": Path(out) / "canvas.csv",
             "moodle": Path(out) / "moodle.csv"}
    write_totals(table, paths["totals"], names)
    write_canvas(table, paths["canvas"], names=names)
    write_moodle(table, paths["moodle"], names)
    return paths

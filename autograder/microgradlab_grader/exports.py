"""Exports an LMS takes: per-student totals, a Canvas gradebook CSV, a Moodle grade import CSV.

Two rules decide the number exported for each (student, notebook); both are
stated here once and in docs/GRADING.md:

* **Points counted.** ``graded``: the score. ``timeout`` and ``kernel_died``: the
  points of every exercise whose cases were all delivered and passed *before* the
  notebook stopped (work verified before a hang keeps its points; the exercise
  that hung and everything after it earn 0). ``missing``, ``unreadable`` and any
  status discovery gave (e.g. ``symlink``): 0. ``grader_error``: left empty, so
  the LMS shows a gap that needs you, never a 0 that looks earned.
* **Late policy** (only with ``--deadline``). A submission's time is nbgrader's
  ``timestamp.txt`` (``Submission.timestamp``); one without a timestamp counts as
  on time. Late by ``d`` started days: ``--late-penalty P`` takes P% of the
  notebook's *maximum* points per day (never below 0); past ``--late-cutoff D``
  days it earns 0. With neither option, lateness is only reported.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from microgradlab.exercises import NOTEBOOKS

from .grading import GRADED, GRADER_ERROR, KERNEL_DIED, TIMEOUT, Grade

PARTIAL_STATUSES = (TIMEOUT, KERNEL_DIED)


class ExportError(ValueError):
    """A deadline or timestamp that cannot be read."""


def parse_time(text: str) -> datetime:
    """nbgrader's ``2026-12-01 10:30:00.123456 UTC`` or any ISO 8601 time; naive means UTC."""
    from dateutil import parser
    try:
        moment = parser.parse(text.strip())
    except (ValueError, OverflowError) as exc:
        raise ExportError(f"{text!r} is not a date and time ({exc})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


@dataclass(frozen=True)
class LatePolicy:
    deadline: datetime | None = None
    penalty_per_day: float = 0.0        # percent of the notebook's maximum, per started day
    cutoff_days: float | None = None    # later than this: 0 points

    def days_late(self, timestamp: str | None) -> int:
        """Started days after the deadline (0: on time, no deadline, or no timestamp)."""
        if self.deadline is None or not timestamp:
            return 0
        late = parse_time(timestamp) - self.deadline
        if late <= timedelta(0):
            return 0
        return math.ceil(late / timedelta(days=1))

    def apply(self, points: float | None, max_score: float, timestamp: str | None) -> float | None:
        if points is None:
            return None
        days = self.days_late(timestamp)
        if days == 0:
            return points
        late = parse_time(timestamp) - self.deadline
        if self.cutoff_days is not None and late > timedelta(days=self.cutoff_days):
            return 0.0
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
    points: float | None     # after the late policy
    days_late: int


def entries(grades_with_times, policy: LatePolicy) -> dict[str, dict[str, Entry]]:
    """{student: {notebook: Entry}} from ``[(grade, timestamp), ...]``."""
    table: dict[str, dict[str, Entry]] = {}
    for grade, timestamp in grades_with_times:
        try:
            days = policy.days_late(timestamp)
        except ExportError:
            days = 0  # an unreadable timestamp is reported in totals' notes, not guessed
        points = policy.apply(counted_points(grade), grade.max_score, timestamp if days else None)
        table.setdefault(grade.student, {})[grade.notebook] = Entry(grade, timestamp, points, days)
    return table


def _notebooks(table) -> list[str]:
    seen = {n for row in table.values() for n in row}
    return [n for n in NOTEBOOKS if n in seen]


def _num(x: float | None) -> str:
    return "" if x is None else f"{round(x, 4):g}"


def write_totals(table, path: Path) -> None:
    """student, one column per notebook, total, max_total, notes."""
    notebooks = _notebooks(table)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *notebooks, "total", "max_total", "notes"])
        for student in sorted(table):
            row = table[student]
            points = [row[n].points if n in row else None for n in notebooks]
            maximum = sum(row[n].grade.max_score for n in notebooks if n in row)
            unknown = any(n in row and row[n].points is None for n in notebooks)
            total = None if unknown else sum(p or 0.0 for p in points)
            notes = []
            for n in notebooks:
                if n not in row:
                    continue
                entry = row[n]
                if entry.grade.status != GRADED:
                    notes.append(f"{n}: {entry.grade.status}")
                if entry.days_late:
                    notes.append(f"{n}: {entry.days_late} day(s) late")
            writer.writerow([student, *map(_num, points), _num(total), _num(maximum),
                             "; ".join(notes)])


CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def write_canvas(table, path: Path, column_prefix: str = "microgradlab") -> None:
    """Canvas's gradebook import CSV: the five identifying columns, then one column per
    assignment, and a "Points Possible" row under the header (as Canvas's own export).
    Our student id goes in "SIS Login ID", which Canvas matches on; "Student" repeats
    it (we know no names). A column whose name Canvas does not know becomes a new
    assignment on import."""
    notebooks = _notebooks(table)
    maxima = {n: max(row[n].grade.max_score for row in table.values() if n in row)
              for n in notebooks}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANVAS_FIXED + [f"{column_prefix} {n}" for n in notebooks])
        writer.writerow(["Points Possible", "", "", "", ""] + [_num(maxima[n]) for n in notebooks])
        for student in sorted(table):
            row = table[student]
            writer.writerow([student, "", "", student, ""] +
                            [_num(row[n].points) if n in row else "" for n in notebooks])


def write_moodle(table, path: Path) -> None:
    """Moodle's "Import grades from CSV file": one identifier column (map it to the
    user's *username* on import), one column per grade item, plus the total. Points
    are plain numbers with a dot; an empty cell is skipped by Moodle, not zeroed."""
    notebooks = _notebooks(table)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["username", *notebooks, "total"])
        for student in sorted(table):
            row = table[student]
            points = [row[n].points if n in row else None for n in notebooks]
            total = None if any(n in row and p is None for n, p in zip(notebooks, points)) \
                else sum(p or 0.0 for p in points)
            writer.writerow([student, *map(_num, points), _num(total)])


def write_all(grades_with_times, policy: LatePolicy, out: Path) -> dict[str, Path]:
    table = entries(grades_with_times, policy)
    paths = {"totals": Path(out) / "totals.csv", "canvas": Path(out) / "canvas.csv",
             "moodle": Path(out) / "moodle.csv"}
    write_totals(table, paths["totals"])
    write_canvas(table, paths["canvas"])
    write_moodle(table, paths["moodle"])
    return paths

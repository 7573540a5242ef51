"""What the instructor reads: grades.csv, report.txt and report.png.

``grades.csv`` has one row per (student, notebook): ``student, name, notebook,
status, score, max_score, tampered``, then one column per exercise id with the
points earned. A row that could not be graded has an empty score (and empty
exercise cells for exercises that produced nothing): it must never read as an
honest 0. ``name`` is the learner's name as handed in; ``student`` the id made
from it (:mod:`.submissions.ids`).

Learner text is data here: every CSV cell goes through
:func:`.untrusted.csv_cell` and every line of report.txt through
:func:`.untrusted.visible`, so a name, a file name or a message can neither start
a spreadsheet formula nor break a line of the report.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from microgradlab.exercises import exercises_of

from .grading import GRADED, Grade
from .untrusted import csv_writer, visible

FIXED_COLUMNS = ["student", "name", "notebook", "status", "score", "max_score", "tampered"]
# Written after the exercise columns when known (from the gradebook): the seed of
# the row's random cases, nbgrader's submission time (ISO 8601 in UTC, or "unknown"
# for a timestamp.txt that is not a time) and, with --deadline, the started days
# late ("unknown" when there is no readable time).
EXTRA_COLUMNS = ["seed", "timestamp", "days_late"]


def _points(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def exercise_columns(notebooks: list[str]) -> list[str]:
    return [e.id for n in notebooks for e in exercises_of(n)]


def write_csv(grades: list[Grade], notebooks: list[str], path: Path, extra=None,
              names: dict[str, str] | None = None) -> None:
    """``extra``: {(student, notebook): {"seed": ..., "timestamp": ..., "days_late": ...}}
    from the gradebook; ``names``: {student id: name as handed in}."""
    names = names or {}
    columns = exercise_columns(notebooks)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(FIXED_COLUMNS + columns + (EXTRA_COLUMNS if extra is not None else []))
        for g in grades:
            row = [g.student, names.get(g.student, g.student), g.notebook, g.status,
                   _points(g.score), _points(g.max_score), "; ".join(g.tampered)]
            for column in columns:
                verdict = g.verdicts.get(column)
                if verdict is None or (g.status != GRADED and not verdict.delivered):
                    row.append(None)
                else:
                    row.append(_points(verdict.points))
            if extra is not None:
                known = extra.get((g.student, g.notebook), {})
                row += [known.get(k) for k in EXTRA_COLUMNS]
            writer.writerow(row)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def summarise(grades: list[Grade], notebooks: list[str]) -> dict:
    """Per exercise: graded count, passes, pass rate, the commonest mistakes."""
    stats = {}
    for column in exercise_columns(notebooks):
        verdicts = [g.verdicts[column] for g in grades
                    if g.status == GRADED and column in g.verdicts]
        passed = sum(v.passed for v in verdicts)
        mistakes = Counter(v.mistake for v in verdicts if not v.passed and v.mistake)
        stats[column] = {"graded": len(verdicts), "passed": passed,
                         "rate": passed / len(verdicts) if verdicts else None,
                         "not_attempted": sum(v.not_attempted for v in verdicts),
                         "mistakes": mistakes.most_common(3)}
    return stats


def write_text_report(grades: list[Grade], notebooks: list[str], path: Path,
                      unrecognised=(), notes=(), seeds=None, names=None, lateness=()) -> str:
    """``unrecognised``: files in the input that are no submission; ``notes``: what input
    discovery said (matched duplicates, case differences...); ``seeds``: seeds in use;
    ``names``: {student id: name as handed in}; ``lateness``: lines about rows whose
    lateness is unknown. Every line is written through :func:`.untrusted.visible`."""
    stats = summarise(grades, notebooks)
    status_counts = Counter(g.status for g in grades)
    lines = ["microgradlab grade report", "",
             f"submissions: {len(grades)} ({len(set(g.student for g in grades))} students, "
             f"{len(notebooks)} notebooks)",
             "status: " + ", ".join(f"{s} {n}" for s, n in sorted(status_counts.items()))]
    if seeds:
        lines.append("seeds of the random cases: " + ", ".join(str(s) for s in sorted(seeds)))
    lines.append("")
    lines.append("per exercise (graded submissions only):")
    for exercise, s in stats.items():
        rate = "-" if s["rate"] is None else f"{100 * s['rate']:.0f}%"
        lines.append(f"  {exercise:26s} pass {s['passed']:4d}/{s['graded']:<4d} {rate:>5s}"
                     f"   not attempted {s['not_attempted']}")
        for mistake, count in s["mistakes"]:
            lines.append(f"      mistake {mistake}: {count}")
    problems = [g for g in grades if g.status not in (GRADED, "missing")]
    if problems:
        lines += ["", "not graded (score left empty):"]
        lines += [f"  {g.student} {g.notebook}: {g.status} - {g.detail}" for g in problems]
    flagged = [g for g in grades if g.tampered]
    if flagged:
        lines += ["", "test cells changed by the learner (their text never ran; graded anyway):"]
        lines += [f"  {g.student} {g.notebook}: {'; '.join(g.tampered)}" for g in flagged]
    if notes:
        lines += ["", "about the input (this run):"]
        lines += [f"  {note}" for note in notes]
    if unrecognised:
        lines += ["", "files in the input that are not a submission (not graded, this run):"]
        lines += [f"  {name}" for name in unrecognised]
    if lateness:
        lines += ["", "lateness unknown (a deadline is in force; no readable timestamp.txt):"]
        lines += [f"  {line}" for line in lateness]
    made = sorted((sid, name) for sid, name in (names or {}).items() if sid != name)
    if made:
        lines += ["", "student ids made from names as handed in (id: name):"]
        lines += [f"  {sid}: {name}" for sid, name in made]
    text = "\n".join(visible(line) for line in lines) + "\n"
    Path(path).write_text(text, encoding="utf-8")
    return text


def mistake_bars(stats: dict, count: int = 8) -> list[tuple[str, int]]:
    """The commonest mistakes as (label, submissions). A mistake's name alone does not
    say where it was made, so every label names its exercise."""
    mistakes = Counter()
    for exercise, s in stats.items():
        mistakes.update({f"{exercise}: {m}": c for m, c in s["mistakes"]})
    return mistakes.most_common(count)


def write_plot(grades: list[Grade], notebooks: list[str], path: Path) -> None:
    """Two panels: pass rate per exercise; the most common named mistakes.

    Drawn on a Figure of its own, not through pyplot: pyplot's global figure list and
    backend are shared by every thread of the process, and importing it costs a grade
    run a third of a second more."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    stats = summarise(grades, notebooks)
    names = list(stats)
    rates = [100 * (s["rate"] or 0.0) for s in stats.values()]
    top = mistake_bars(stats)
    fig = Figure(figsize=(12, max(3.0, 0.4 * len(names) + 1.5)))
    left, right = fig.subplots(1, 2)
    left.barh(names[::-1], rates[::-1], color="#4c72b0")
    left.set_xlim(0, 100)
    left.set_xlabel("pass rate (%) among graded submissions")
    left.set_title("Exercises")
    if top:
        right.barh([m for m, _ in top][::-1], [c for _, c in top][::-1], color="#dd8452")
        right.set_xlabel("submissions")
        # Counts of submissions are whole numbers: no 0.5 ticks on a small class.
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        right.text(0.5, 0.5, "no catalogued mistake seen", ha="center", va="center")
        right.set_axis_off()
    right.set_title("Most common mistakes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)

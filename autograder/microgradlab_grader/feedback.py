"""Feedback for one learner: a score table, then their notebook with a verdict per test.

The page, top to bottom:

* the status in words (graded, or why not: a timed-out notebook names the test
  that hung, from ``Grade.stopped_in``);
* a table of every exercise: id, title, points, and the result as a mark and a
  word (✓ PASS, ✗ FAIL, – not graded), plus a note when a failure may come
  from an earlier exercise that fails too (``checking.knock_on``, the rule the
  learner's own summary uses);
* the learner's cells, outputs left out (nothing the learner's code printed
  reaches the page), each graded test cell shown as RELEASED (nbgrader's
  hidden block removed, so no hidden test text can appear) and followed by its
  verdict.

Every piece of learner text goes through :mod:`.feedback_text` (sanitised,
cut to size, paths of the grading machine removed). The page carries a
Content-Security-Policy that lets no script run except the KaTeX files copied
into ``feedback/_static`` (:mod:`.feedback_static`), and loads nothing from
the network. :func:`write_feedback` never raises on a learner's notebook: if
the learner's cells cannot be shown, the page is written without them.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from microgradlab.checking import knock_on
from microgradlab.exercises import get

from . import feedback_static
from .feedback_text import (code_html, code_styles, cut, detail_text, markdown_html,
                            message_text, one_line)
from .grading import GRADED, Grade
from .source import SourceNotebook

PASS, FAIL, NONE = "pass", "fail", "none"
MARKS = {PASS: "✓ PASS", FAIL: "✗ FAIL", NONE: "– not graded"}
STOPPED = ("timeout", "kernel_died")
WHY_STOPPED = {"timeout": "it ran past the time limit",
               "kernel_died": "its process ended early: os._exit, a crash or the memory cap"}
# How much of a learner's notebook one page shows, at most.
MAX_CELLS = 1_000
MAX_LEARNER_CHARACTERS = 1_000_000

# No script but the page's own folder of assets; no network at all (images only
# as data: URLs inside the page); no frames, plugins, forms or <base>.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; img-src data:; object-src 'none'; frame-src 'none'; "
       "child-src 'none'; form-action 'none'; base-uri 'none'")


def e(text) -> str:
    """Escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def title_of(exercise_id: str) -> str:
    try:
        return get(exercise_id).title
    except Exception:  # noqa: BLE001 - an id the course does not know still gets a row
        return ""


# ------------------------------------------------------------------ what each exercise got
@dataclass
class Row:
    exercise: str
    title: str
    state: str          # PASS, FAIL or NONE
    points: float
    max_points: float
    message: str        # plain text, already cut and without paths
    note: str           # why not graded, or "not attempted"
    knock_on: str       # "this may come from ..." or ""


def stopped_place(grade: Grade, graded_ids) -> str:
    """'testing ex04_backward' or 'running cell 7', or '' when not known."""
    where = getattr(grade, "stopped_in", None)
    if not isinstance(where, str) or not where.strip():
        return ""
    where = cut(where.strip(), 80)
    return f"testing {where}" if where in graded_ids else f"running {where}"


def rows_of(grade: Grade, source: SourceNotebook, submission=None) -> list[Row]:
    graded_ids = [c.grade_id for c in source.graded]
    stopped_in = getattr(grade, "stopped_in", None)
    place = stopped_place(grade, graded_ids)
    rows = []
    for cell in source.graded:
        verdict = grade.verdicts.get(cell.grade_id)
        row = Row(cell.grade_id, title_of(cell.grade_id), NONE, 0.0, cell.points, "", "", "")
        if verdict is None or not verdict.delivered:
            if cell.grade_id == stopped_in and grade.status in STOPPED:
                row.note = (f"this is the test that was running when the notebook was stopped "
                            f"({WHY_STOPPED[grade.status]})")
            elif grade.status in STOPPED and place:
                row.note = f"the notebook was stopped before this test (while {place})"
            elif grade.status in STOPPED:  # the grader did not say where it stopped
                row.note = "no result: the notebook was stopped at or before this test"
            else:
                row.note = "no result came back for this test"
        else:
            row.state = PASS if verdict.passed else FAIL
            row.points = float(verdict.points)
            row.max_points = float(verdict.max_points)
            row.message = message_text(verdict.message)
            if row.state == FAIL and verdict.not_attempted:
                row.note = "not attempted yet (the exercise still raises NotImplementedError)"
        rows.append(row)
    flag_knock_ons(rows, answer_code(submission))
    return rows


def answer_code(submission) -> dict[str, str]:
    """{exercise id: the learner's code in its answer cell}, from the submitted notebook
    (cells tagged ``<id>_answer`` by nbgrader's metadata); {} when there is none."""
    found = {}
    cells = submission.get("cells", []) if isinstance(submission, dict) else []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata")
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        grade_id = grading.get("grade_id") if isinstance(grading, dict) else None
        if isinstance(grade_id, str) and grade_id.endswith("_answer"):
            found[grade_id[:-len("_answer")]] = cell_text(cell)[:200_000]
    return found


def flag_knock_ons(rows: list[Row], code: dict[str, str] | None = None):
    """Word ``checking.knock_on``'s verdict for each failed row: which earlier failing
    exercise, whose code the learner's answer runs, the failure may come from."""
    failed = {row.exercise for row in rows if row.state == FAIL}
    for row in rows:
        if row.state != FAIL:
            continue
        try:
            causes = knock_on(get(row.exercise), failed, code)
        except Exception:  # noqa: BLE001 - an id the course does not know has no note
            causes = []
        named = [f"your {', '.join(f'`{n}`' for n in earlier.uses) or 'code'} in exercise "
                 f"{earlier.id}" for earlier in causes]
        if named:
            row.knock_on = ("this may come from " + " or ".join(named)
                            + ", which also fails: fix that first, then look here again")


# ------------------------------------------------------------------ the page's parts
def status_html(grade: Grade, source: SourceNotebook) -> str:
    status = grade.status
    place = stopped_place(grade, [c.grade_id for c in source.graded])
    detail = detail_text(grade.detail)
    score = grade.score
    kind = "mgl-stopped"
    if status == GRADED:
        kind = "mgl-graded"
        text = (f"Graded: <strong>{score:g} of {grade.max_score:g} points</strong>. "
                f"Every test ran; the table says what each exercise got.")
    elif status in STOPPED:
        why = WHY_STOPPED[status]
        text = (f"<strong>Not fully graded:</strong> the notebook was stopped "
                f"{'while ' + e(place) + ' ' if place else ''}({e(why)}).")
        if detail:
            text += f" The grader says: {e(detail)}."
        text += " Tests after that point have no result."
    elif status == "missing":
        text = "<strong>No notebook was handed in.</strong>"
    elif status == "unreadable":
        text = ("<strong>The notebook could not be read</strong>"
                + (f": {e(detail)}" if detail else "") + ". Nothing was graded.")
    elif status == "grader_error":
        text = ("<strong>The grader failed on this notebook.</strong> This is a fault of "
                "the grader, not of your work; your instructor can regrade it.")
    else:
        text = f"Status: <strong>{e(status)}</strong>" + (f": {e(detail)}" if detail else "")
    if status != GRADED and score is not None:
        text += f" Points so far: <strong>{score:g} of {grade.max_score:g}</strong>."
    return f'<p class="mgl-status {kind}">{text}</p>'


def table_html(grade: Grade, rows: list[Row]) -> str:
    lines = ['<table class="mgl-scores">',
             "<thead><tr><th>Exercise</th><th>What it is</th><th>Points</th>"
             "<th>Result</th></tr></thead>", "<tbody>"]
    for row in rows:
        notes = "".join(f'<div class="mgl-note">{e(n)}</div>' for n in (row.note,) if n)
        if row.knock_on:
            notes += f'<div class="mgl-note mgl-knockon">{knock_on_html(row.knock_on)}</div>'
        lines.append(
            f'<tr class="mgl-{row.state}"><td><a href="#verdict-{e(row.exercise)}">'
            f'{e(row.exercise)}</a></td><td>{e(row.title)}</td><td class="mgl-points">'
            f'{row.points:g} / {row.max_points:g}</td><td><span class="mgl-result">'
            f"{MARKS[row.state]}</span>{notes}</td></tr>")
    score = grade.score
    total = (f"{score:g} / {grade.max_score:g}" if score is not None
             else f"not scored / {grade.max_score:g}")
    passed = sum(row.state == PASS for row in rows)
    lines.append(f'<tr class="mgl-total"><td colspan="2">Total ({passed} of {len(rows)} '
                 f'exercises pass)</td><td class="mgl-points">{total}</td><td>'
                 f"{e(grade.status)}</td></tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def knock_on_html(text: str) -> str:
    """The knock-on note, with `names` in code type (the text is grader-made)."""
    parts = e(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def verdict_html(row: Row) -> str:
    hint = ""
    if row.state == FAIL:
        try:
            hints = get(row.exercise).hints
            hint = f"<p><strong>Hint:</strong> {e(hints[0])}</p>" if hints else ""
        except Exception:  # noqa: BLE001
            hint = ""
    parts = [f'<div class="mgl-verdict mgl-{row.state}" id="verdict-{e(row.exercise)}">',
             f'<p><span class="mgl-result">{MARKS[row.state]}</span> <strong>'
             f"{e(row.exercise)}</strong> ({e(row.title)}): {row.points:g} / "
             f"{row.max_points:g} points</p>"]
    if row.message:
        parts.append(f'<p class="mgl-message">{e(row.message)}</p>')
    if row.note:
        parts.append(f"<p>{e(row.note[0].upper() + row.note[1:])}.</p>")
    if row.knock_on:
        parts.append(f'<p class="mgl-knockon">Note: {knock_on_html(row.knock_on)}.</p>')
    parts.append(hint)
    parts.append("</div>")
    return "\n".join(p for p in parts if p)


def code_cell_html(source: str, test: bool = False) -> str:
    label = "Test cell (as released)" if test else "Code"
    return (f'<div class="mgl-cell{" mgl-test" if test else ""}">'
            f'<div class="mgl-label">{label}</div>'
            f'<pre class="mgl-code">{code_html(source)}</pre></div>')


def cell_text(cell) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(part) for part in source)
    return source if isinstance(source, str) else ""


def learner_cells_html(submission, source: SourceNotebook, rows: list[Row]) -> list[str]:
    """The learner's cells (outputs left out), each graded test followed by its verdict.
    Raises on a notebook too strange to show; the caller then leaves the cells out."""
    verdict_of = {row.exercise: row for row in rows}
    graded_ids = set(verdict_of)
    parts, placed, budget = [], set(), MAX_LEARNER_CHARACTERS
    cells = list(submission.get("cells", [])) if submission is not None else []
    for number, cell in enumerate(cells):
        if number >= MAX_CELLS or budget <= 0:
            parts.append(f'<p class="mgl-notice">[... {len(cells) - number:,} more cells '
                         "not shown: the notebook is too long for one page]</p>")
            break
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata")
        nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        kind = cell.get("cell_type")
        if kind == "code" and isinstance(grade_id, str) and grade_id in graded_ids:
            if grade_id in placed:
                continue
            placed.add(grade_id)
            parts.append(code_cell_html(source.cell(grade_id).visible_source, test=True))
            parts.append(verdict_html(verdict_of[grade_id]))
            continue
        text = cell_text(cell)
        budget -= min(len(text), 20_000)
        if kind == "code":
            parts.append(code_cell_html(text))
        elif kind == "markdown":
            parts.append(f'<div class="mgl-cell mgl-markdown">{markdown_html(text)}</div>')
        elif kind == "raw":
            parts.append(f'<div class="mgl-cell"><pre class="mgl-code">{code_html(text)}</pre></div>')
    missing = [row for row in rows if row.exercise not in placed]
    if missing and submission is not None:
        parts.append("<h2>Tests missing from your notebook</h2>")
    for row in missing:  # tests the learner deleted still get their verdict
        parts.append(code_cell_html(source.cell(row.exercise).visible_source, test=True))
        parts.append(verdict_html(row))
    return parts


def page_html(grade: Grade, submission, source: SourceNotebook, maths: bool,
              cells_note: str = "", name: str | None = None) -> str:
    rows = rows_of(grade, source, submission)
    head = f"Feedback on {grade.notebook} for {one_line(name or grade.student)}"
    body = [f"<h1>{e(head)}</h1>", status_html(grade, source), table_html(grade, rows)]
    if grade.tampered:
        body.append('<p class="mgl-notice"><strong>Test cells you changed</strong> (the '
                    "original tests were used): "
                    + e(cut(one_line("; ".join(map(str, grade.tampered))), 2_000)) + "</p>")
    body.append("<h2>Your notebook, with a verdict after each test</h2>" if submission is not None
                else "<h2>The tests of this notebook</h2>")
    if cells_note:
        body.append(f'<p class="mgl-notice">{e(cells_note)}</p>')
    body += learner_cells_html(submission, source, rows)
    body.append('<p class="mgl-notice">Outputs of your cells are not shown: this page shows '
                "what you wrote and what the grader found.</p>")
    if not maths:
        body.append('<p class="mgl-notice">Maths is shown as TeX: KaTeX was not found on the '
                    "grading machine.</p>")
    static = f"../{feedback_static.STATIC}"
    katex = (f'<link rel="stylesheet" href="{static}/katex/katex.min.css">\n'
             f'<script defer src="{static}/katex/katex.min.js"></script>\n'
             f'<script defer src="{static}/katex/auto-render.min.js"></script>\n') if maths else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta name="referrer" content="no-referrer">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(head)}</title>\n"
            f'<link rel="stylesheet" href="{static}/feedback.css">\n{katex}'
            f'<script defer src="{static}/render-maths.js"></script>\n'
            f"<style>{code_styles()}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_feedback(grade: Grade, submission, source: SourceNotebook, out_dir: Path,
                   name: str | None = None) -> Path:
    """Write DIR/feedback/<student>/<notebook>.html (and DIR/feedback/_static once).

    ``submission`` is the learner's nbformat notebook, or None (missing, unreadable);
    ``name`` the learner's name as handed in, for the title (default: the id)."""
    feedback_dir = Path(out_dir) / "feedback"
    try:
        maths = feedback_static.install(feedback_dir)
    except OSError:
        maths = False  # a page whose maths shows as TeX beats no page
    try:
        page = page_html(grade, submission, source, maths, name=name)
    except Exception:  # noqa: BLE001 - a page without the learner's cells beats no page
        page = page_html(grade, None, source, maths,
                         cells_note="Your notebook's cells could not be shown on this page "
                                    "(the file is too unusual to display). The "
                                    "table above is the grader's verdict.", name=name)
    path = feedback_dir / grade.student / f"{grade.notebook}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path

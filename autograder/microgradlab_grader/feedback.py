"""Feedback for one learner: their notebook as HTML with a verdict per exercise.

Built from the submission with every output cleared (nothing the learner
printed reaches the page), each graded test cell replaced by the text the
learner was shown (the SOURCE cell with nbgrader's hidden block removed, so no
hidden test text can appear), and after it a short verdict: pass or fail, the
message from ``compare`` and, on a fail, the first hint.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters import Highlight2HTML, clean_html

from microgradlab.exercises import get

from .grading import GRADED, Grade
from .source import SourceNotebook

STATUS_WORDS = {
    "missing": "No notebook was handed in.",
    "unreadable": "The notebook could not be read",
    "timeout": "Grading stopped: a time limit was reached",
    "kernel_died": "Grading stopped: the notebook's process ended early",
}


def verdict_markdown(grade: Grade, grade_id: str) -> str:
    verdict = grade.verdicts.get(grade_id)
    title = html.escape(get(grade_id).title)
    if verdict is None or not verdict.delivered:
        return f"**{grade_id}** ({title}): not graded - the notebook stopped before this test."
    mark = "PASS" if verdict.passed else "FAIL"
    text = (f"**{grade_id}** ({title}): **{mark}**, {verdict.points:g} / "
            f"{verdict.max_points:g} points.\n\n{html.escape(verdict.message)}")
    if not verdict.passed:
        hints = get(grade_id).hints
        if hints:
            text += f"\n\nHint: {html.escape(hints[0])}"
    return text


def feedback_notebook(grade: Grade, submission, source: SourceNotebook):
    """An nbformat notebook: the learner's cells, cleared, with verdicts."""
    cells = []
    banner = [f"# Feedback: {html.escape(grade.notebook)} ({html.escape(grade.student)})", "",
              f"Status: **{grade.status}**"]
    if grade.status == GRADED:
        banner.append(f"Score: **{grade.score:g} / {grade.max_score:g}**")
    elif grade.status in STATUS_WORDS:
        banner.append(STATUS_WORDS[grade.status] + (f": {html.escape(grade.detail)}"
                                                    if grade.detail else "."))
    if grade.tampered:
        banner.append("Test cells you changed (the original test was used): "
                      + html.escape("; ".join(grade.tampered)))
    cells.append(nbformat.v4.new_markdown_cell("\n\n".join(banner)))
    graded_ids = {c.grade_id for c in source.graded}
    placed = set()
    for cell in (submission.cells if submission is not None else []):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in graded_ids:
            if grade_id in placed:
                continue
            placed.add(grade_id)
            cells.append(nbformat.v4.new_code_cell(source.cell(grade_id).visible_source))
            cells.append(nbformat.v4.new_markdown_cell(verdict_markdown(grade, grade_id)))
        elif cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source))
        elif cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
    for graded in source.graded:  # tests the learner deleted still get their verdict
        if graded.grade_id not in placed and grade.verdicts:
            cells.append(nbformat.v4.new_code_cell(graded.visible_source))
            cells.append(nbformat.v4.new_markdown_cell(verdict_markdown(grade, graded.grade_id)))
    return nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})


class Remembered:
    """A template filter that remembers its answers. Nearly every cell of every
    feedback page is the course's own text, the same for the whole class, and
    sanitising and highlighting it took most of a page's 0.6 s."""

    LIMIT = 50_000  # entries; a class of 100 x 6 notebooks needs about 3,000

    def __init__(self, function):
        self.function = function
        self.memory: dict = {}

    def __call__(self, text, *args, **kwargs):
        key = (text, repr(args), repr(sorted(kwargs.items())))
        if key not in self.memory:
            if len(self.memory) >= self.LIMIT:
                self.memory.clear()
            self.memory[key] = self.function(text, *args, **kwargs)
        return self.memory[key]


@functools.cache
def exporter() -> HTMLExporter:
    """One exporter for the run (building one loads every template)."""
    return HTMLExporter(filters={
        "clean_html": Remembered(clean_html),
        "highlight_code": Remembered(Highlight2HTML(pygments_lexer="ipython3"))})


def write_feedback(grade: Grade, submission, source: SourceNotebook, out_dir: Path) -> Path:
    """DIR/feedback/<student>/<notebook>.html"""
    notebook = feedback_notebook(grade, submission, source)
    body, _ = exporter().from_notebook_node(notebook)
    path = Path(out_dir) / "feedback" / grade.student / f"{grade.notebook}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path

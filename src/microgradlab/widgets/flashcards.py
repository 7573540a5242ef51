"""Flashcards: questions to test yourself on, in the notebook and on paper.

In the notebook the answer hides in a ``<details>`` element (click to
reveal). ``save_html`` writes a standalone page whose print style puts one
card on each printed page, ready to cut out or flip through.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

PRINT_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; }
.mgl-card { border: 2px solid #333; border-radius: 8px; padding: 1.5em; margin: 1em 0;
            page-break-inside: avoid; }
.mgl-card .question { font-size: 1.3em; font-weight: bold; }
.mgl-card .answer { margin-top: 1em; font-size: 1.1em; }
@media print {
  body { margin: 0; }
  /* one card per printed page: question on top, answer below, folded out of sight */
  .mgl-card { page-break-after: always; break-after: page; border: none; min-height: 90vh; }
  .mgl-card .answer { margin-top: 50vh; border-top: 1px dashed #999; padding-top: 1em; }
  details > summary { display: none; }
}
"""


class Flashcards:
    """A titled deck of (question, answer) cards."""

    def __init__(self, title: str, cards):
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"Flashcards needs a non-empty title string, got {title!r}")
        self.title = title
        self.cards = []
        for k, card in enumerate(cards):
            if (not isinstance(card, (tuple, list)) or len(card) != 2
                    or not all(isinstance(part, str) for part in card)):
                raise ValueError(f"card {k} must be a (question, answer) pair of strings, "
                                 f"got {card!r}")
            self.cards.append((card[0], card[1]))
        if not self.cards:
            raise ValueError("Flashcards needs at least one (question, answer) card")

    def _cards_html(self, printable: bool) -> str:
        parts = []
        for k, (question, answer) in enumerate(self.cards, start=1):
            answer_html = f'<div class="answer">{escape(answer)}</div>'
            if not printable:  # on screen the answer waits behind a click
                answer_html = f"<details><summary>Show the answer</summary>{answer_html}</details>"
            parts.append(f'<div class="mgl-card"><div class="question">{k}. {escape(question)}'
                         f"</div>{answer_html}</div>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return (f'<div class="mgl-flashcards"><h3>Flashcards: {escape(self.title)}</h3>'
                f"{self._cards_html(printable=False)}</div>")

    def html(self) -> str:
        """The standalone printable page."""
        return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
                f"<title>Flashcards: {escape(self.title)}</title><style>{PRINT_CSS}</style></head>"
                f"<body><h1>Flashcards: {escape(self.title)}</h1>\n"
                f"{self._cards_html(printable=True)}\n</body></html>\n")

    def save_html(self, path) -> Path:
        path = Path(path)
        path.write_text(self.html(), encoding="utf-8")
        return path

    @property
    def file_name(self) -> str:
        return "flashcards_" + re.sub(r"[^A-Za-z0-9_-]+", "_", self.title) + ".html"

    def _ipython_display_(self):
        # In Jupyter: the cards plus a button that saves the printable page next to the notebook
        # (the kernel's working directory is the notebook's folder).
        from IPython.display import HTML, display
        import ipywidgets as widgets

        button = widgets.Button(description="Save printable cards", icon="print")
        link = widgets.HTML()

        def save(_):
            path = self.save_html(self.file_name)
            link.value = (f'Saved <a href="{escape(path.name)}" target="_blank">{escape(path.name)}'
                          "</a> next to this notebook: open it and print (one card per page).")

        button.on_click(save)
        display(HTML(self._repr_html_()), widgets.HBox([button, link]))

    def __repr__(self):
        return f"Flashcards({self.title!r}, {len(self.cards)} cards)"

"""Flashcards: questions to test yourself on, in the notebook and on paper.

In the notebook the answer hides in a ``<details>`` element (click to
reveal). ``save_html`` writes a standalone page whose print style puts one
card on each printed page, question and answer together. The notebook's
button saves that page and links to it as the Jupyter server serves it raw
(``/files/...``), in a new browser tab: JupyterLab's own HTML viewer would
print the Lab screen instead.
"""

from __future__ import annotations

import json
import os
import re
from html import escape
from pathlib import Path

PRINT_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em; }
.mgl-card { border: 2px solid #333; border-radius: 8px; padding: 1.5em; margin: 1em 0;
            page-break-inside: avoid; break-inside: avoid; }
.mgl-card .question { font-size: 1.3em; font-weight: bold; }
.mgl-card .answer { margin-top: 1em; font-size: 1.1em; border-top: 1px dashed #999;
                    padding-top: 1em; }
.mgl-how { color: #555; }
@media print {
  body { margin: 0; }
  h1, .mgl-how { display: none; }
  /* one card per printed page, question and answer together (fold along the dashes) */
  .mgl-card { break-after: page; page-break-after: always; margin: 0; }
  .mgl-card:last-child { break-after: auto; page-break-after: auto; }
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
                f'<p class="mgl-how">{len(self.cards)} cards. Print this page (Ctrl+P, or '
                f"Cmd+P on a Mac): each card comes out on a page of its own, question and "
                f"answer together.</p>\n<main>{self._cards_html(printable=True)}</main>\n"
                f"</body></html>\n")

    def save_html(self, path) -> Path:
        path = Path(path)
        path.write_text(self.html(), encoding="utf-8")
        return path

    @property
    def file_name(self) -> str:
        return "flashcards_" + re.sub(r"[^A-Za-z0-9_-]+", "_", self.title) + ".html"

    def _ipython_display_(self):
        # In Jupyter: the cards plus a button that saves the printable page next to the notebook
        # (the kernel's working directory is the notebook's folder) and links to it raw.
        from IPython.display import HTML, display
        import ipywidgets as widgets

        # The whole label, always: the button keeps its width and the link beside it
        # wraps to a line of its own when the notebook is narrow.
        button = widgets.Button(description="Save and open printable cards", icon="print",
                                layout=widgets.Layout(width="auto", flex="0 0 auto"))
        button.add_class("mgl-flashcards-print")
        link = widgets.HTML()
        link.add_class("mgl-flashcards-link")

        def save(_):
            path = self.save_html(self.file_name).resolve()
            link.value = print_link_html(path)

        button.on_click(save)
        display(HTML(self._repr_html_()),
                widgets.HBox([button, link], layout=widgets.Layout(flex_flow="row wrap")))

    def __repr__(self):
        return f"Flashcards({self.title!r}, {len(self.cards)} cards)"


def served_url(path: Path) -> str | None:
    """The address at which the Jupyter server that started this kernel serves ``path``
    raw (``.../files/...``), or None when that cannot be worked out.

    A kernel's parent process is its server; each server leaves a ``jpserver-<pid>.json``
    in Jupyter's runtime folder with its URL and root folder.
    """
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return None
    runtime = Path(jupyter_runtime_dir())
    candidates = [runtime / f"jpserver-{os.getppid()}.json"]
    candidates += sorted(runtime.glob("jpserver-*.json"))
    for info_file in candidates:
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            root = Path(info["root_dir"]).resolve()
            relative = path.resolve().relative_to(root)
            url = info["url"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not readable, not a server, or the file is not under its root
        from urllib.parse import quote

        return url.rstrip("/") + "/files/" + quote(relative.as_posix())
    return None


def print_link_html(path: Path) -> str:
    """What the button shows once the page is saved: a link that opens a new browser tab."""
    url = served_url(path)
    name = escape(path.name)
    if url is None:
        return (f"Saved <code>{name}</code> next to this notebook. Open it in a browser tab "
                "of its own (in JupyterLab's file browser: right-click, <i>Open in New "
                "Browser Tab</i>) and print from there: one card per page.")
    # An absolute address: JupyterLab opens relative links in its own viewer, which prints
    # the whole Lab screen; this one opens the page alone, in a new tab.
    return (f'Saved <code>{name}</code>. <a class="mgl-print-page" href="{escape(url)}" '
            f'target="_blank" rel="noopener">Open the printable page in a new tab</a> '
            "and print it from there (one card per page).")

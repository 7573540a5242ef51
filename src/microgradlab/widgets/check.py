"""check_panel: the "Check my answer" / "Hint" widget for learning on your own.

The panel knows nothing about exercises: it calls ``make_report()`` when the
learner clicks, and shows what comes back. A report has

* ``state``: "not_attempted", "correct" or "wrong",
* ``text``: what to tell the learner,
* ``graph_root``: None, or a Value whose graph is worth drawing,
* ``highlight``: {node: short note} for the nodes that went wrong.

The result lands in an HTML element with the CSS class ``mgl-check-result``
(the browser test looks for it there).
"""

from __future__ import annotations

import traceback
from html import escape

STATE_LINES = {
    "not_attempted": ("○ Not attempted yet", "#555555"),
    "correct": ("✓ Correct", "#009E73"),  # Okabe-Ito bluish green
    "wrong": ("✗ Not yet", "#D55E00"),    # Okabe-Ito vermillion
}


def report_html(report) -> str:
    """The result of one check as HTML (a state line, the text, perhaps a graph)."""
    state = getattr(report, "state", None)
    if state not in STATE_LINES:
        return _error_html(
            f"the checker returned a report with state {state!r}; expected one of "
            f"{', '.join(STATE_LINES)}")
    line, colour = STATE_LINES[state]
    text = str(getattr(report, "text", "") or "")
    parts = [f'<div class="mgl-check-state mgl-state-{state}" style="color:{colour};'
             f'font-weight:bold">{escape(line)}</div>',
             f'<pre class="mgl-check-text" style="white-space:pre-wrap">{escape(text)}</pre>']
    root = getattr(report, "graph_root", None)
    if state == "wrong" and root is not None:
        try:
            from .draw import render_graph

            # name_all: every node gets a name, so "✗ node 3: grad ..." never stands alone.
            drawing = render_graph(root, highlight=getattr(report, "highlight", None) or {},
                                   name_all=True)
            parts.append(f'<div class="mgl-check-graph">{drawing.html()}</div>')
        except Exception as error:  # a picture is a bonus; never lose the message for it
            parts.append(f"<div>(could not draw the graph: {escape(_one_line(error))})</div>")
    return "".join(parts)


def _one_line(error) -> str:
    return f"{type(error).__name__}: {error}"


def _error_html(message: str) -> str:
    return (f'<div class="mgl-check-state mgl-state-error" style="color:#D55E00;'
            f'font-weight:bold">⚠ The check itself could not run</div>'
            f'<pre class="mgl-check-text" style="white-space:pre-wrap">{escape(message)}</pre>')


def run_check_both(make_report) -> tuple[str, str]:
    """(HTML, plain text) of one check; an exception becomes an error message in both."""
    try:
        report = make_report()
    except Exception as error:
        # Most often the learner's code raised inside the checker: show where, readably.
        frames = traceback.extract_tb(error.__traceback__)
        where = f" (in {frames[-1].name}, line {frames[-1].lineno})" if frames else ""
        message = f"{_one_line(error)}{where}"
        return _error_html(message), f"{ERROR_LINE}\n{message}"
    return report_html(report), report_text(report)


ERROR_LINE = "⚠ The check itself could not run"


def report_text(report) -> str:
    """The verdict as plain text: for front ends without widgets (nbclient, VS Code, GitHub)."""
    state = getattr(report, "state", None)
    if state not in STATE_LINES:
        return f"{ERROR_LINE}\nthe checker returned a report with state {state!r}"
    text = str(getattr(report, "text", "") or "")
    return f"{STATE_LINES[state][0]}\n{text}".rstrip()


def _panel_class():
    """A VBox that also carries its verdict as text/plain and text/html.

    JupyterLab and Notebook draw the live widget; a front end that cannot
    (nbclient's saved output, nbconvert to HTML, VS Code without the widget
    renderer, GitHub's viewer) shows the verdict of the last check instead of
    ``VBox(children=...)``.
    """
    import ipywidgets as widgets

    class CheckPanel(widgets.VBox):
        verdict_text = ""
        verdict_html = ""

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs) or {}
            title = f"Self-check {self.exercise_id}"
            bundle["text/plain"] = f"{title}\n{self.verdict_text or '(not checked yet)'}"
            bundle["text/html"] = (f'<div class="mgl-check-panel-static"><b>Self-check</b> '
                                   f"<code>{escape(self.exercise_id)}</code>"
                                   f"{self.verdict_html}</div>")
            return bundle

    return CheckPanel


def check_panel(exercise_id: str, make_report, next_hint):
    """A "Check my answer" button, a "Hint" button and the area where results appear."""
    import ipywidgets as widgets

    if not callable(make_report) or not callable(next_hint):
        raise TypeError("check_panel needs make_report and next_hint to be functions "
                        "(called with no arguments)")
    fit = widgets.Layout(width="auto")  # the default width cuts "Check my answer" short
    check_button = widgets.Button(description="Check my answer", button_style="primary",
                                  icon="check", layout=fit)
    hint_button = widgets.Button(description="Hint", icon="lightbulb-o", layout=fit)
    check_button.add_class("mgl-check-button")
    hint_button.add_class("mgl-hint-button")
    result = widgets.HTML(value="")
    result.add_class("mgl-check-result")
    hint_area = widgets.HTML(value="")
    hint_area.add_class("mgl-hint")
    title = widgets.HTML(f"<b>Self-check</b> <code>{escape(str(exercise_id))}</code>")
    panel = _panel_class()([widgets.HBox([title, check_button, hint_button]), result, hint_area])
    panel.add_class("mgl-check-panel")
    panel.exercise_id = str(exercise_id)

    def on_check(_):
        result.value = '<div class="mgl-check-state">Checking…</div>'
        html, text = run_check_both(make_report)
        panel.verdict_html, panel.verdict_text = html, text
        result.value = html

    def on_hint(_):
        try:
            text = next_hint()
        except Exception as error:
            text = f"(no hint available: {_one_line(error)})"
        # Plain words, no emoji: a machine without an emoji font shows a box instead.
        hint_area.value = (f'<div style="background:#fff7e0;padding:4px"><b>Hint.</b> '
                           f"{escape(str(text))}</div>")

    check_button.on_click(on_check)
    hint_button.on_click(on_hint)
    # Handles for tests and for code that wants to press the buttons itself.
    panel.check_button, panel.hint_button = check_button, hint_button
    panel.result, panel.hint_area = result, hint_area
    return panel

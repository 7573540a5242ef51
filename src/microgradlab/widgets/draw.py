"""draw_dot: a picture of the computation graph behind a Value.

Each value is a record ``label | data | grad``; each operation is a small
oval between its inputs and its result; the output is on the right.
Highlighted values (the ones a check found wrong) are orange with a thick
vermillion border *and* start with "✗ ", so they stand out without colour
too; the backward stepper's current node is blue and starts with "▶ " (it is
not wrong, it is where the pass is).

Drawings fit the notebook. In a notebook the picture shrinks to the column's
width, but never below the size where its text is 10 px high, so a layout is
chosen that fits the narrowest column JupyterLab gives a notebook (a 1024 px
window with the file browser open) at that size: left to right with each
record's fields side by side if that fits, else with the fields stacked, else
top to bottom (side by side, then stacked). A graph too big for every layout
gets the narrowest one and a scroll bar under it.

graphviz's ``dot`` program draws the nicest pictures. When it is missing
(common on a fresh laptop) a small pure-Python renderer draws instead, and
a one-line note says how to install the real one. The note is printed, not
raised as a warning: anything on stderr in an nbgrader test cell scores 0.
"""

from __future__ import annotations

import math
import re
import shutil

from . import _graph, _scene, _svg_fallback

RANKDIRS = ("LR", "RL", "TB", "BT")

FONT_PT = 11          # the drawings' font size, in points (1 pt = 4/3 CSS px)
SMALLEST_TEXT_PX = 10  # scaling to the column stops here; a scroll bar takes over
#: CSS px: the width of a notebook's output area in JupyterLab 4 in a 1024 px wide window
#: with the file browser open (584 px measured), the narrowest column the course supports.
NARROWEST_COLUMN = 580
#: The layouts "auto" tries, in order of preference: (direction, fields stacked).
LAYOUTS = (("LR", False), ("LR", True), ("TB", False), ("TB", True))
#: graphviz spacing (inches): compact, so that more graphs fit the column.
NODE_SEP, RANK_SEP, RECORD_MARGIN = "0.1", "0.25", "0.06,0.03"

INSTALL_HINT = (
    "Note: graphviz's `dot` program is not installed, so microgradlab drew this graph "
    "with its simple built-in renderer. For the full drawings install it: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `conda install graphviz`, "
    "or `brew install graphviz` (macOS)."
)

_told_about_dot = False  # the note above is shown once per session


class GraphDrawing:
    """An SVG picture of a graph; shows itself in Jupyter, ``.svg()`` gives the text."""

    def __init__(self, svg: str, renderer: str, notes: list[str], n_values: int,
                 rankdir: str = "LR", stacked: bool = False, font_px: float = FONT_PT * 4 / 3):
        self._svg = svg
        self.renderer = renderer  # "graphviz" or "builtin"
        self.notes = list(notes)
        self.n_values = n_values
        self.rankdir = rankdir  # the direction actually drawn (after "auto" chose)
        self.stacked = stacked  # each value's fields one above the other
        self.font_px = font_px  # the text's size at the picture's natural size, CSS px

    def svg(self) -> str:
        return self._svg

    @property
    def width_px(self) -> float:
        """The natural width of the picture in CSS pixels."""
        return _size_px(self._svg)[0]

    @property
    def smallest_width_px(self) -> float:
        """The width at which its text is 10 px high: it is never shown narrower."""
        return min(self.width_px, self.width_px * SMALLEST_TEXT_PX / self.font_px)

    # JupyterLab prefers text/html (an inline SVG that scales to the column) over
    # image/svg+xml (an <img> at its natural size, cut off when wide); viewers that
    # sanitise HTML away still have the SVG.
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html(), "image/svg+xml": self._svg, "text/plain": repr(self)}

    def html(self) -> str:
        """The SVG for embedding in a page: as wide as the column allows, up to its natural
        size; never so small that text falls under 10 px (then the box scrolls sideways)."""
        width = self.width_px
        head_end = self._svg.index(">")
        head = re.sub(r'\s(width|height)="[^"]*"', "", self._svg[:head_end])
        svg = (head + f' width="100%" style="display:block;max-width:{width:.0f}px;'
               f'min-width:{math.ceil(self.smallest_width_px)}px;height:auto"'
               + self._svg[head_end:])
        return f'<div class="mgl-drawing" style="max-width:100%;overflow-x:auto">{svg}</div>'

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(self._svg)

    def __repr__(self):
        return f"<graph drawing of {self.n_values} values ({self.renderer} renderer)>"


def draw_dot(root, *, highlight=None, rankdir="auto", show_grad=True):
    """Draw the graph that ``root`` was computed from.

    Works with any micrograd-style value: it reads only ``data``, ``grad``,
    ``_prev`` (a tuple or a set), ``_op`` and ``label``.

    ``highlight``: a list of nodes, or a dict ``{node: "short note"}`` (or a list of
    ``(node, note)`` pairs, for nodes that cannot be dict keys), to mark.
    ``rankdir``: "LR" (inputs left, output right), "RL", "TB" or "BT"; "auto" (the
    default) picks the first of left to right and top to bottom (inputs on top) that fits
    the narrowest notebook column with its text at 10 px (see the module's docstring).
    ``show_grad``: False leaves the grad field out (before backward it is 0 anyway).
    """
    return render_graph(root, highlight=highlight, rankdir=rankdir, show_grad=show_grad)


def render_graph(root, *, highlight=None, rankdir="auto", show_grad=True, grads=None,
                 max_nodes=_graph.MAX_NODES, current=None, name_all=False) -> GraphDrawing:
    """draw_dot with extras for other widgets: ``grads`` ({id(node): grad}) shows other
    gradients than the nodes hold; ``max_nodes`` moves the cap; ``current`` marks the
    stepper's node; ``name_all`` names unlabelled values (for the check's notes)."""
    if rankdir not in RANKDIRS + ("auto",):
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)} or auto; "
                         f"got {rankdir!r}")
    scene = _scene.build_scene(root, highlight=highlight, show_grad=show_grad,
                               grads=grads, max_nodes=max_nodes, current=current,
                               name_all=name_all)
    layouts = LAYOUTS if rankdir == "auto" else ((rankdir, False), (rankdir, True))
    narrowest = None
    for direction, stacked in layouts:
        drawing = _render(scene, direction, stacked)
        if drawing.smallest_width_px <= NARROWEST_COLUMN:
            return drawing
        if narrowest is None or drawing.smallest_width_px < narrowest.smallest_width_px:
            narrowest = drawing
    return narrowest


def _render(scene, rankdir, stacked=False) -> GraphDrawing:
    n_values = len(scene.values)
    svg = _render_with_graphviz(scene, rankdir, stacked)
    if svg is not None:
        return GraphDrawing(svg, "graphviz", scene.notes, n_values, rankdir, stacked)
    _tell_about_dot_once()
    return GraphDrawing(_svg_fallback.render(scene, rankdir, stacked), "builtin", scene.notes,
                        n_values, rankdir, stacked, font_px=_svg_fallback.FONT_PX)


def _size_px(svg: str) -> tuple[float, float]:
    """Width and height of an SVG's root element in CSS px (graphviz writes points)."""
    head = svg[:svg.index(">")]
    sizes = []
    for name in ("width", "height"):
        found = re.search(rf'\s{name}="([0-9.]+)(pt|px)?"', head)
        if found is None:
            return (0.0, 0.0)
        number, unit = float(found.group(1)), found.group(2) or "px"
        sizes.append(number * 4 / 3 if unit == "pt" else number)
    return sizes[0], sizes[1]


def _tell_about_dot_once():
    global _told_about_dot
    if not _told_about_dot:
        _told_about_dot = True
        print(INSTALL_HINT)


def _render_with_graphviz(scene, rankdir, stacked=False) -> str | None:
    """The SVG from graphviz, or None when the ``dot`` program is not available.
    ``stacked`` puts each record's fields one above the other."""
    if shutil.which("dot") is None:
        return None
    try:
        import graphviz
    except ImportError:
        return None
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir, "nodesep": NODE_SEP,
                                                     "ranksep": RANK_SEP})
    if scene.notes:
        dot.attr(label=_escape_plain("\n".join(scene.notes)), labelloc="t", fontsize="12")
    # A record's fields run across the flow of the graph; braces turn them the other way:
    # side by side in a left-to-right layout, or stacked in a top-to-bottom one.
    braces = (rankdir in ("LR", "RL")) != stacked
    for box in scene.values:
        fields = " | ".join(_escape_record(f) for f in box.fields)
        style = {"shape": "record", "fontname": "Helvetica", "fontsize": str(FONT_PT),
                 "margin": RECORD_MARGIN}
        if box.highlighted:
            style.update(style="filled,bold", fillcolor=_scene.HIGHLIGHT_FILL,
                         color=_scene.HIGHLIGHT_BORDER, penwidth="3")
        elif box.current:
            style.update(style="filled,bold", fillcolor=_scene.CURRENT_FILL,
                         color=_scene.CURRENT_BORDER, penwidth="3")
        dot.node(box.name, "{ " + fields + " }" if braces else fields, **style)
    for op in scene.ops:
        dot.node(op.name, _escape_plain(op.text), shape="ellipse", fontname="Helvetica",
                 fontsize=str(FONT_PT), height="0.3", style="filled", fillcolor="#f4f4f4")
    for src, dst in scene.edges:
        dot.edge(src, dst)
    try:
        svg = dot.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None
    # Drop the XML declaration and DOCTYPE: the SVG is embedded in HTML pages and widgets.
    return svg[svg.index("<svg"):]


def _escape_plain(text: str) -> str:
    # graphviz reads backslash sequences (\n, \l) in labels; keep a literal backslash literal.
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_record(text: str) -> str:
    """Record labels give meaning to { } | < >; escape them.

    dot also drops the space after the "✗"/"▶" marks, so that one becomes a no-break space.
    """
    for mark in (_scene.MARK, _scene.CURRENT_MARK):
        if text.startswith(mark):
            text = mark.rstrip() + "\u00a0" + text[len(mark):]
    text = _escape_plain(text)
    for char in "{}|<>":
        text = text.replace(char, "\\" + char)
    return text

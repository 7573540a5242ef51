"""draw_dot: a picture of the computation graph behind a Value.

Each value is a record ``label | data | grad``; each operation is a small
oval between its inputs and its result; the output is on the right.
Highlighted values (the ones a check found wrong, or the current step of
the backward stepper) are orange with a thick vermillion border *and* start
with "✗ ", so they stand out without colour too.

graphviz's ``dot`` program draws the nicest pictures. When it is missing
(common on a fresh laptop) a small pure-Python renderer draws instead, and
a one-line note says how to install the real one. The note is printed, not
raised as a warning: anything on stderr in an nbgrader test cell scores 0.
"""

from __future__ import annotations

import shutil

from . import _graph, _scene, _svg_fallback

RANKDIRS = ("LR", "RL", "TB", "BT")

INSTALL_HINT = (
    "Note: graphviz's `dot` program is not installed, so microgradlab drew this graph "
    "with its simple built-in renderer. For the full drawings install it: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `conda install graphviz`, "
    "or `brew install graphviz` (macOS)."
)

_told_about_dot = False  # the note above is shown once per session


class GraphDrawing:
    """An SVG picture of a graph; shows itself in Jupyter, ``.svg()`` gives the text."""

    def __init__(self, svg: str, renderer: str, notes: list[str], n_values: int):
        self._svg = svg
        self.renderer = renderer  # "graphviz" or "builtin"
        self.notes = list(notes)
        self.n_values = n_values

    def svg(self) -> str:
        return self._svg

    # In a notebook the picture shrinks to the cell's width rather than being cut off.
    def _repr_svg_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": self.html(), "text/plain": repr(self)}

    def html(self) -> str:
        """The SVG for embedding in a page: shrinks to the width available, never cut off."""
        return self._svg.replace("<svg", '<svg style="max-width:100%;height:auto"', 1)

    def save(self, path) -> None:
        with open(path, "w", encoding="utf-8") as file:
            file.write(self._svg)

    def __repr__(self):
        return f"<graph drawing of {self.n_values} values ({self.renderer} renderer)>"


def draw_dot(root, *, highlight=None, rankdir="LR", show_grad=True):
    """Draw the graph that ``root`` was computed from.

    Works with any micrograd-style value: it reads only ``data``, ``grad``,
    ``_prev`` (a tuple or a set), ``_op`` and ``label``.

    ``highlight``: a list of nodes, or a dict ``{node: "short note"}`` (or a list of
    ``(node, note)`` pairs, for nodes that cannot be dict keys), to mark.
    ``rankdir``: "LR" (inputs left, output right), "RL", "TB" or "BT".
    ``show_grad``: False leaves the grad field out (before backward it is 0 anyway).
    """
    return render_graph(root, highlight=highlight, rankdir=rankdir, show_grad=show_grad)


def render_graph(root, *, highlight=None, rankdir="LR", show_grad=True, grads=None,
                 max_nodes=_graph.MAX_NODES) -> GraphDrawing:
    """draw_dot with two extras for other widgets: ``grads`` ({id(node): grad})
    shows other gradients than the nodes hold; ``max_nodes`` moves the cap."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}; got {rankdir!r}")
    scene = _scene.build_scene(root, highlight=highlight, show_grad=show_grad,
                               grads=grads, max_nodes=max_nodes)
    n_values = len(scene.values)
    svg = _render_with_graphviz(scene, rankdir)
    if svg is not None:
        return GraphDrawing(svg, "graphviz", scene.notes, n_values)
    _tell_about_dot_once()
    return GraphDrawing(_svg_fallback.render(scene, rankdir), "builtin", scene.notes, n_values)


def _tell_about_dot_once():
    global _told_about_dot
    if not _told_about_dot:
        _told_about_dot = True
        print(INSTALL_HINT)


def _render_with_graphviz(scene, rankdir) -> str | None:
    """The SVG from graphviz, or None when the ``dot`` program is not available."""
    if shutil.which("dot") is None:
        return None
    try:
        import graphviz
    except ImportError:
        return None
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": rankdir})
    if scene.notes:
        dot.attr(label=_escape_plain("\n".join(scene.notes)), labelloc="t", fontsize="12")
    # In a left-to-right layout, braces turn the record's fields into a row.
    horizontal = rankdir in ("LR", "RL")
    for box in scene.values:
        fields = " | ".join(_escape_record(f) for f in box.fields)
        style = {"shape": "record", "fontname": "Helvetica", "fontsize": "11"}
        if box.highlighted:
            style.update(style="filled,bold", fillcolor=_scene.HIGHLIGHT_FILL,
                         color=_scene.HIGHLIGHT_BORDER, penwidth="3")
        dot.node(box.name, "{ " + fields + " }" if horizontal else fields, **style)
    for op in scene.ops:
        dot.node(op.name, _escape_plain(op.text), shape="ellipse", fontname="Helvetica",
                 fontsize="11", height="0.3", style="filled", fillcolor="#f4f4f4")
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

    dot also drops the space after the "✗" mark, so that one becomes a no-break space.
    """
    if text.startswith(_scene.MARK):
        text = _scene.MARK.rstrip() + "\u00a0" + text[len(_scene.MARK):]
    text = _escape_plain(text)
    for char in "{}|<>":
        text = text.replace(char, "\\" + char)
    return text

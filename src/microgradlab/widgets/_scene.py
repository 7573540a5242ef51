"""What a graph drawing shows, before anyone decides how to render it.

Both renderers (graphviz and the pure-Python fallback) draw the same
*scene*: one record per value (label | data | grad), one small node per
operation, and edges from inputs through the operation to its result.
Keeping the "what" here means the two renderers cannot disagree about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _graph

#: Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
HIGHLIGHT_FILL = "#E69F00"    # orange
HIGHLIGHT_BORDER = "#D55E00"  # vermillion
MARK = "✗ "                   # the text mark, so a highlight reads without colour


@dataclass
class Box:
    """A value: its fields left to right, and whether it is highlighted."""

    name: str
    fields: list[str]
    highlighted: bool = False


@dataclass
class OpNode:
    name: str
    text: str


@dataclass
class Scene:
    values: list[Box] = field(default_factory=list)
    ops: list[OpNode] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # (from, to): input -> output
    notes: list[str] = field(default_factory=list)


def highlight_notes(highlight) -> dict[int, str]:
    """Normalise ``highlight`` to {id(node): note}; nodes may be unhashable, so key on id.

    Accepted: a dict {node: note}, an iterable of nodes, or of (node, note) pairs.
    """
    if highlight is None:
        return {}
    if isinstance(highlight, dict):
        return {id(node): "" if note is None else str(note) for node, note in highlight.items()}
    if isinstance(highlight, (str, bytes)) or not hasattr(highlight, "__iter__"):
        if hasattr(highlight, "data"):  # a single node: accept it rather than scold
            return {id(highlight): ""}
        raise TypeError(
            "highlight must be a list of nodes or a dict {node: note}, "
            f"got {type(highlight).__name__} {_graph.short_repr(highlight)}"
        )
    notes = {}
    for item in highlight:
        # (node, note) pairs work too: nodes of a class that defines __eq__ cannot be dict keys.
        if isinstance(item, tuple) and len(item) == 2 and hasattr(item[0], "data"):
            notes[id(item[0])] = "" if item[1] is None else str(item[1])
        else:
            notes[id(item)] = ""
    return notes


def build_scene(root, *, highlight=None, show_grad=True, grads=None,
                max_nodes=_graph.MAX_NODES) -> Scene:
    """Turn the graph behind ``root`` into a Scene.

    ``grads`` (optional {id(node): number}) replaces the nodes' own ``grad``
    in the picture; the backward stepper uses it to show a pass half done
    without touching the learner's nodes.
    """
    graph = _graph.collect(root, max_nodes=max_nodes)
    marks = highlight_notes(highlight)
    scene = Scene()
    for i, node in enumerate(graph.nodes):
        name = f"v{i}"
        title = _graph.label_of(node)
        fields = [title, f"data {_graph.format_number(getattr(node, 'data', '?'))}"]
        if show_grad:
            grad = grads.get(id(node)) if grads is not None and id(node) in grads \
                else getattr(node, "grad", "?")
            fields.append(f"grad {_graph.format_number(grad)}")
        marked = id(node) in marks
        if marked:
            fields[0] = MARK + title
            if marks[id(node)]:
                fields.append(marks[id(node)])
        scene.values.append(Box(name, fields, marked))

        op = _graph.op_of(node)
        target = name
        if op:
            target = f"{name}_op"
            scene.ops.append(OpNode(target, op))
            scene.edges.append((target, name))
        for j in graph.inputs[i]:
            scene.edges.append((f"v{j}", target))
    if graph.truncated:
        scene.notes.append(
            f"Only the first {max_nodes} values are drawn: the graph is larger "
            "than that. Draw a smaller part (a single neuron, say) to see it all."
        )
    if graph.has_cycle:
        scene.notes.append(
            "This graph has a cycle: some value is its own input. A computation "
            "graph never does; check how _prev is set."
        )
    missing = sum(id(n) in marks for n in graph.nodes)
    if missing < len(marks):
        scene.notes.append(f"{len(marks) - missing} highlighted node(s) are not in this graph.")
    return scene

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
#: The stepper's "this node is running now": blue and a ▶, nothing like the check's "wrong".
CURRENT_FILL = "#CDE8F7"      # a light tint of Okabe-Ito sky blue
CURRENT_BORDER = "#0072B2"    # Okabe-Ito blue
CURRENT_MARK = "▶ "


@dataclass
class Box:
    """A value: its fields left to right, and whether it is highlighted."""

    name: str
    fields: list[str]
    highlighted: bool = False
    current: bool = False  # the stepper's node of the moment (not an error)


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
                max_nodes=_graph.MAX_NODES, current=None, name_all=False) -> Scene:
    """Turn the graph behind ``root`` into a Scene.

    ``grads`` (optional {id(node): number}) replaces the nodes' own ``grad``
    in the picture; the backward stepper uses it to show a pass half done
    without touching the learner's nodes. ``current`` (a node) is marked as the
    step in progress. ``name_all`` gives every unlabelled value a name ("node 3"),
    so a note about a value is never without one.
    """
    graph = _graph.collect(root, max_nodes=max_nodes)
    marks = highlight_notes(highlight)
    scene = Scene()
    for i, node in enumerate(graph.nodes):
        name = f"v{i}"
        title = _graph.label_of(node)
        if not title and name_all:
            title = f"node {i}"
        fields = [title, f"data {_graph.format_number(getattr(node, 'data', '?'))}"]
        if show_grad:
            grad = grads.get(id(node)) if grads is not None and id(node) in grads \
                else getattr(node, "grad", "?")
            fields.append(f"grad {_graph.format_number(grad)}")
        marked = id(node) in marks
        is_current = current is not None and node is current
        if marked:
            fields[0] = (MARK + title).rstrip()
            if marks[id(node)]:
                fields.append(marks[id(node)])
        elif is_current:
            fields[0] = (CURRENT_MARK + title).rstrip()
        elif not title:
            fields.pop(0)  # an unlabelled value: no empty field in its box
        scene.values.append(Box(name, fields, marked, is_current and not marked))

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

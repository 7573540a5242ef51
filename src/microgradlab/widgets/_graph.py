"""The graph a drawing shows, read from someone else's nodes.

Every widget here must draw *any* micrograd-style object: ours, micrograd's,
or the class a learner wrote ten minutes ago. The graph is read with
:mod:`microgradlab.graph` (``inputs_of`` and ``walk``, keyed on ``id``, so a
node that defines ``__eq__`` is fine and a cycle is found); beyond that this
module reads only ``data``, ``grad``, ``_op`` and ``label``, and trusts none
of them. A node whose ``_prev`` cannot be read is drawn as a leaf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real

from ..graph import GraphError, inputs_of, walk

#: Beyond this many values a drawing is unreadable (and graphviz slow), so we stop.
MAX_NODES = 500


@dataclass
class Graph:
    """The part of a graph reachable from ``root`` through ``_prev``.

    ``nodes`` lists each value once, the root first and every value before
    its inputs (when there is no cycle); ``inputs[i]`` lists the indices of
    the inputs of ``nodes[i]``, so every node is reachable from index 0.
    ``truncated`` is True when the walk stopped at ``max_nodes``.
    """

    nodes: list
    inputs: list[list[int]]
    truncated: bool = False
    has_cycle: bool = False
    index: dict[int, int] = field(default_factory=dict)  # id(node) -> position

    def position(self, node) -> int | None:
        return self.index.get(id(node))


def drawable_inputs(node) -> tuple:
    """The inputs of ``node`` as :func:`microgradlab.graph.inputs_of` reads them;
    none for a node whose ``_prev`` cannot be read, so it is drawn as a leaf."""
    try:
        return inputs_of(node)
    except GraphError:
        return ()


def collect(root, max_nodes: int = MAX_NODES) -> Graph:
    """The graph behind ``root``, at most ``max_nodes`` values (graph.walk: any depth)."""
    if not hasattr(root, "data"):
        raise TypeError(
            f"expected a Value-like object with a .data attribute (and ._prev for its "
            f"inputs), got {type(root).__name__} {short_repr(root)}"
        )
    walked = walk(root, drawable_inputs, max_nodes=max_nodes)
    nodes = walked.order[::-1]  # the root first, each value before its inputs
    index = {id(node): i for i, node in enumerate(nodes)}
    inputs = [[index[id(child)] for child in drawable_inputs(node) if id(child) in index]
              for node in nodes]
    return Graph(nodes, inputs, walked.truncated, walked.has_cycle, index)


def _has_cycle(graph: Graph) -> bool:
    """Whether some node of ``graph`` leads back to itself (a walk from index 0)."""
    return walk(0, graph.inputs.__getitem__, key=None).has_cycle


def depth_from_output(graph: Graph) -> list[int]:
    """Longest distance from the root to each node (root = 0).

    The longest path, not the shortest, puts every value to the left of all
    the values computed from it. In a cyclic graph longest paths do not
    exist; there the shortest distance (breadth-first) is used instead.
    """
    n = len(graph.nodes)
    depth = [0] * n
    if graph.has_cycle:
        seen = [False] * n
        seen[0] = True
        queue = [0]
        for i in queue:
            for j in graph.inputs[i]:
                if not seen[j]:
                    seen[j] = True
                    depth[j] = depth[i] + 1
                    queue.append(j)
        return depth
    for i in topological_from_output(graph):
        for j in graph.inputs[i]:
            depth[j] = max(depth[j], depth[i] + 1)
    return depth


def topological_from_output(graph: Graph) -> list[int]:
    """Indices with every node before its inputs (the order backward visits them)."""
    return walk(0, graph.inputs.__getitem__, key=None).order[::-1]


# ----------------------------------------------------------------------
# Reading the fields, defensively
# ----------------------------------------------------------------------
def short_repr(obj, limit: int = 40) -> str:
    try:
        text = repr(obj)
    except Exception:  # a learner's broken __repr__ must not break the drawing
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_number(x) -> str:
    """A number as a short string: 4 decimals when that is readable, else scientific."""
    if isinstance(x, bool) or not isinstance(x, Real):
        return short_repr(x, 16)
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.4f}"
    return f"{x:.3e}"


def label_of(node) -> str:
    label = getattr(node, "label", "")
    return label if isinstance(label, str) else short_repr(label, 16)


def op_of(node) -> str:
    op = getattr(node, "_op", "")
    return op if isinstance(op, str) else short_repr(op, 12)

"""Walking a computation graph that someone else built.

Every widget here must draw *any* micrograd-style object: ours, micrograd's,
or the class a learner wrote ten minutes ago. So this module reads only five
attributes (``data``, ``grad``, ``_prev``, ``_op``, ``label``) and trusts none
of them: ``_prev`` may be a tuple, a set, missing, or not iterable; a node may
define ``__eq__`` so that it cannot be put in a set (we key on ``id`` instead);
a buggy graph may even contain a cycle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real

#: Beyond this many values a drawing is unreadable (and graphviz slow), so we stop.
MAX_NODES = 500


@dataclass
class Graph:
    """The part of a graph reachable from ``root`` through ``_prev``.

    ``nodes`` lists each value once, the root first (discovery order), and
    ``inputs[i]`` lists the indices of the inputs of ``nodes[i]``.
    ``truncated`` is True when the walk stopped at ``max_nodes``.
    """

    nodes: list
    inputs: list[list[int]]
    truncated: bool = False
    has_cycle: bool = False
    index: dict[int, int] = field(default_factory=dict)  # id(node) -> position

    def position(self, node) -> int | None:
        return self.index.get(id(node))


def inputs_of(node) -> list:
    """The inputs of ``node`` as a list, in a stable order; [] for a leaf or an odd object."""
    prev = getattr(node, "_prev", ())
    if prev is None:
        return []
    try:
        items = list(prev)
    except TypeError:  # not iterable: treat the node as a leaf rather than crash
        return []
    if isinstance(prev, (set, frozenset)):
        # A set has no order; sort by label so the same graph draws the same way twice.
        items.sort(key=lambda n: (str(getattr(n, "label", "")), id(n)))
    return items


def collect(root, max_nodes: int = MAX_NODES) -> Graph:
    """Breadth-first walk from ``root`` (an explicit queue, so depth is unlimited)."""
    if not hasattr(root, "data"):
        raise TypeError(
            f"expected a Value-like object with a .data attribute (and ._prev for its "
            f"inputs), got {type(root).__name__} {short_repr(root)}"
        )
    nodes, inputs, index = [root], [], {id(root): 0}
    truncated = False
    head = 0
    while head < len(nodes):
        node = nodes[head]
        head += 1
        mine = []
        for child in inputs_of(node):
            if id(child) not in index:
                if len(nodes) >= max_nodes:
                    truncated = True
                    continue
                index[id(child)] = len(nodes)
                nodes.append(child)
            mine.append(index[id(child)])
        inputs.append(mine)
    graph = Graph(nodes, inputs, truncated, index=index)
    graph.has_cycle = _has_cycle(graph)
    return graph


def _has_cycle(graph: Graph) -> bool:
    """Kahn's algorithm: if some node never reaches in-degree 0, there is a cycle."""
    users = [0] * len(graph.nodes)
    for mine in graph.inputs:
        for j in mine:
            users[j] += 1
    ready = [i for i, n in enumerate(users) if n == 0]
    done = 0
    while ready:
        i = ready.pop()
        done += 1
        for j in graph.inputs[i]:
            users[j] -= 1
            if users[j] == 0:
                ready.append(j)
    return done < len(graph.nodes)


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
    users = [0] * len(graph.nodes)
    for mine in graph.inputs:
        for j in mine:
            users[j] += 1
    order, ready = [], [0] if users[0] == 0 else []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for j in graph.inputs[i]:
            users[j] -= 1
            if users[j] == 0:
                ready.append(j)
    return order


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

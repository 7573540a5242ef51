"""Reading a computation graph: the one reading of ``_prev`` and the one topological walk.

A node's inputs are its ``_prev``. The engine, the exercises' producers, the
expression programs, the drawings and the backward stepper all walk graphs,
and some of those graphs were built by a learner's own class, so the reading
is defensive: ``_prev`` may be a tuple, a list, a set (micrograd's choice), or
missing; a node may define ``__eq__`` and be unhashable (nodes are told apart
by ``id``); a buggy graph may even hold a cycle.

The walk is depth-first with an explicit stack, so a chain of a million nodes
needs no recursion. It lists every node after all of its inputs (inputs
first); reversed, that is the order backpropagation needs, every node before
its inputs, so that a node's gradient is complete before it is pushed on.
"""

from __future__ import annotations

import sys
from typing import Callable

from .errors import LearnerOutputError, kind, short_repr

__all__ = ["GraphError", "Walk", "inputs_of", "walk"]


class GraphError(LearnerOutputError):
    """A node's ``_prev`` cannot be read as its inputs."""


def inputs_of(node) -> tuple:
    """The inputs of ``node``, read from its ``_prev``.

    A tuple or list keeps its order (the operands' order). A set has none, so
    it is sorted by (label, id): the same graph reads the same way twice.
    Missing or None: a leaf, no inputs. Anything else raises :class:`GraphError`.
    """
    prev = getattr(node, "_prev", None)
    if prev is None:
        return ()
    if isinstance(prev, tuple):
        return prev
    if isinstance(prev, list):
        return tuple(prev)
    if isinstance(prev, (set, frozenset)):
        return tuple(sorted(prev, key=_set_order))
    raise GraphError(f"_prev should be a tuple of the node's inputs, but the _prev of this "
                     f"{kind(node)} is {kind(prev)} {short_repr(prev)}")


def _set_order(node):
    label = getattr(node, "label", "")
    try:
        label = str(label)
    except Exception:  # noqa: BLE001 - a learner's broken __str__ must not stop the reading
        label = ""
    return (label, id(node))


class Walk:
    """What :func:`walk` found.

    ``order``: every node reached, each after all of its inputs, the root last.
    ``truncated``: the walk stopped taking in new nodes at ``max_nodes``.
    ``has_cycle``: some node is its own input, through one or more steps (then
    ``order`` still lists every node once, but no order can put each after its
    inputs). Worked out the first time it is asked for, so a walk whose caller
    never asks (backpropagation) does not pay for it.
    """

    __slots__ = ("order", "truncated", "_inputs", "_key", "_stop_keys", "_has_cycle")

    def __init__(self, order, truncated, inputs, key, stop_keys):
        self.order, self.truncated = order, truncated
        self._inputs, self._key, self._stop_keys = inputs, key, stop_keys
        self._has_cycle = None

    @property
    def has_cycle(self) -> bool:
        """An input that comes at or after the node using it in a depth-first
        finishing order closes a cycle, and every cycle has such an input: the
        depth-first search met it while it was still open, on the stack."""
        if self._has_cycle is None:
            key = _itself if self._key is None else self._key
            inputs = _prev_of if self._inputs is None else self._inputs
            position = {key(node): i for i, node in enumerate(self.order)}
            self._has_cycle = any(
                position.get(key(child), -1) >= i
                for i, node in enumerate(self.order) if key(node) not in self._stop_keys
                for child in inputs(node))
        return self._has_cycle

    def __repr__(self):
        return (f"Walk({len(self.order)} nodes, truncated={self.truncated}, "
                f"has_cycle={self.has_cycle})")


def _itself(node):
    return node


def _prev_of(node):
    return node._prev


def walk(root, inputs: Callable | None = inputs_of, *, key: Callable | None = id, stop=(),
         max_nodes: int | None = None, leaves: bool = True) -> Walk:
    """Every node ``root`` depends on, inputs first (depth-first, explicit stack).

    ``inputs(node)`` lists a node's inputs: :func:`inputs_of` by default;
    programs walk node names with their own. ``inputs=None`` reads ``_prev``
    as it is, unchecked: for the engine's own Values, whose ``_prev`` is always
    a tuple, and fastest.

    ``key(node)`` tells nodes apart: ``id`` by default, since a learner's node
    may be unhashable, or equal to another without being it. ``key=None``
    uses the node itself: for names and indices, and for the engine's own
    Values, which hash by identity (faster than ``id``, which makes a new int
    each time).

    Nodes in ``stop`` are listed but their inputs are not looked into. At most
    ``max_nodes`` nodes are taken in. ``leaves=False`` leaves out nodes without
    inputs (the root too, when it is one): backpropagation has nothing to do
    at a leaf.

    Inputs are visited in their order, so the order is the one a recursive
    depth-first search would give.
    """
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1, got {max_nodes!r}")
    stop_keys = {node if key is None else key(node) for node in stop} if stop else ()
    room = -1 if max_nodes is None else max_nodes - 1  # -1: no limit (never reaches 0)
    root_key = root if key is None else key(root)
    root_inputs = root._prev if inputs is None else inputs(root)
    if not (root_inputs or leaves):
        return Walk([], False, inputs, key, stop_keys)
    if root_key in stop_keys:
        root_inputs = ()
    # Backpropagation's own walk (the engine's Values, leaves left out, nothing
    # stopped or counted) is the one whose speed matters: it gets the fewest
    # steps per input.
    values_only = inputs is None and key is None and not leaves and not stop and room < 0
    order = []
    seen = {root_key}
    truncated = False
    stack = [(root, iter(root_inputs))]
    while stack:
        node, pending = stack[-1]
        for child in pending:
            if values_only:
                child_inputs = child._prev
                if not child_inputs or child in seen:
                    continue
                seen.add(child)
            else:
                child_key = child if key is None else key(child)
                if child_key in seen:
                    continue
                if not room:
                    truncated = True
                    continue
                seen.add(child_key)
                child_inputs = child._prev if inputs is None else inputs(child)  # once a node
                if not (child_inputs or leaves):
                    continue
                room -= 1
                if child_key in stop_keys:
                    child_inputs = ()
            stack.append((child, iter(child_inputs)))
            break
        else:  # every input of node is in order already
            stack.pop()
            order.append(node)
    return Walk(order, truncated, inputs, key, stop_keys)

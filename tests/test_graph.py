"""The one reader of a graph (microgradlab.graph) and the code that walks with it."""
from __future__ import annotations

import copy
import pickle

import pytest

from microgradlab import Value
from microgradlab.engine import _interior_nodes_output_first
from microgradlab.errors import LearnerOutputError
from microgradlab.exercises import _base
from microgradlab.exercises import programs as P
from microgradlab.graph import GraphError, inputs_of, walk
from microgradlab.widgets import _graph


class Node:
    """A learner's node: whatever _prev they chose, and an __eq__ that makes it unhashable."""

    def __init__(self, label, prev=()):
        self.label, self._prev, self.data, self.grad = label, prev, 0.0, 0.0

    def __eq__(self, other):
        return isinstance(other, Node) and self.label == other.label

    __hash__ = None


def labels(nodes):
    return [n.label for n in nodes]


# ----------------------------------------------------------------------
# inputs_of: the one reading of _prev
# ----------------------------------------------------------------------
def test_inputs_of_reads_every_kind_of_prev():
    a, b = Node("a"), Node("b")
    assert inputs_of(Node("t", (b, a))) == (b, a)  # a tuple keeps the operands' order
    assert inputs_of(Node("l", [b, a])) == (b, a)
    assert inputs_of(Node("s", set())) == ()
    x, y = Value(1.0, label="y"), Value(2.0, label="x")
    assert labels(inputs_of(Node("s", {x, y}))) == ["x", "y"]  # a set: sorted by label
    assert labels(inputs_of(Node("f", frozenset({x, y})))) == ["x", "y"]
    u, v = Value(1.0), Value(2.0)  # no labels: by id, the same order every time
    assert inputs_of(Node("s", {u, v})) == inputs_of(Node("s", {v, u}))
    assert inputs_of(Node("n", None)) == () and inputs_of(object()) == ()


@pytest.mark.parametrize("prev, named", [(5, "int 5"), ("ab", "str 'ab'"), ({1: 2}, "dict {1: 2}"),
                                         (iter([1]), "list_iterator")])
def test_a_prev_that_is_no_collection_of_inputs_is_a_graph_error(prev, named):
    with pytest.raises(GraphError, match=f"_prev should be a tuple.*this Node is {named}"):
        inputs_of(Node("z", prev))
    assert issubclass(GraphError, LearnerOutputError) and issubclass(GraphError, TypeError)


def test_a_proxys_type_is_named_as_the_remote_type():
    class Proxy:
        __mgl_proxy__ = True

        def __init__(self):
            object.__setattr__(self, "_mgl_kind", "deque")

    with pytest.raises(GraphError, match="is deque"):
        inputs_of(Node("z", Proxy()))


# ----------------------------------------------------------------------
# walk: the one topological walk
# ----------------------------------------------------------------------
def textbook():
    a, b, c, f = Node("a"), Node("b"), Node("c"), Node("f")
    e = Node("e", (a, b))
    d = Node("d", (e, c))
    return Node("L", (d, f)), dict(a=a, b=b, c=c, f=f, e=e, d=d)


def test_walk_lists_each_node_after_its_inputs_like_a_recursive_search():
    L, n = textbook()
    w = walk(L)
    assert labels(w.order) == ["a", "b", "e", "c", "d", "f", "L"]
    assert (w.has_cycle, w.truncated) == (False, False)
    shared = Node("s", (n["e"], n["e"], n["d"]))  # a node used twice is listed once
    assert labels(walk(shared).order) == ["a", "b", "e", "c", "d", "s"]


def test_walk_stops_leaves_out_and_truncates():
    L, n = textbook()
    assert labels(walk(L, stop=[n["d"]]).order) == ["d", "f", "L"]
    assert labels(walk(L, leaves=False).order) == ["e", "d", "L"]
    assert walk(n["a"], leaves=False).order == []
    w = walk(L, max_nodes=3)
    assert w.truncated and len(w.order) == 3 and w.order[-1] is L
    with pytest.raises(ValueError, match="max_nodes"):
        walk(L, max_nodes=0)


@pytest.mark.parametrize("make_cycle", ["self", "two", "long"])
def test_walk_finds_a_cycle_and_still_lists_every_node_once(make_cycle):
    a, b = Node("a"), Node("b")
    c = Node("c", (a, b))
    if make_cycle == "self":
        a._prev = (a,)
    elif make_cycle == "two":
        a._prev = [c]
    else:
        chain = c
        for i in range(50):
            chain = Node(f"n{i}", (chain,))
        b._prev = [chain]
        c = Node("top", (chain,))
    w = walk(c)
    assert w.has_cycle
    assert len({id(x) for x in w.order}) == len(w.order)


def test_walk_of_a_diamond_has_no_cycle():
    a = Node("a")
    b, c = Node("b", (a,)), Node("c", (a,))
    assert not walk(Node("d", (b, c, b))).has_cycle


@pytest.mark.slow  # 200,000 nodes (test_engine backpropagates a million, through this walk)
def test_walk_reads_a_deep_chain_with_no_recursion():
    x = Value(1.0)
    for _ in range(200_000):  # two hundred times the default recursion limit
        x = -x
    w = walk(x)
    assert len(w.order) == 200_001 and w.order[-1] is x and not w.order[0]._prev
    assert not w.has_cycle
    interior = _interior_nodes_output_first(x)  # the engine's order: output first, no leaves
    assert len(interior) == 200_000 and interior[0] is x
    x.backward()
    assert w.order[0].grad == 1.0  # an even number of negations


def test_walk_over_names_and_indices():
    program = {"leaves": {"x": 1.0}, "ops": [["y", "mul", "x", "x"], ["z", "add", "y", "x"]],
               "output": "z"}
    assert P.topological_names(program) == ["x", "y", "z"]
    inputs = [[1, 2], [2], []]
    assert walk(0, inputs.__getitem__, key=None).order == [2, 1, 0]
    inputs[2] = [0]
    assert walk(0, inputs.__getitem__, key=None).has_cycle
    big = {1000 + i: [1000 + i + 1] for i in range(300)}  # equal ints need not be one object
    big[1300] = []
    assert walk(1000, lambda k: big[int(str(k))], key=None).order[0] == 1300


def test_walk_reports_an_unreadable_prev():
    L, n = textbook()
    n["c"]._prev = 7
    with pytest.raises(GraphError, match="int 7"):
        walk(L)


# ----------------------------------------------------------------------
# the consumers
# ----------------------------------------------------------------------
def test_the_exercises_names_are_the_graph_readers():
    L, n = textbook()
    assert _base.inputs_of is inputs_of
    assert labels(_base.nodes_inputs_first(L, stop=[n["e"]])) == ["e", "c", "d", "f", "L"]
    with pytest.raises(LearnerOutputError, match="_prev should be a tuple"):
        _base.nodes_inputs_first(Node("z", 3))
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a
    order = _base.run_backward(out, seed_grad=2.0)
    assert order[-1] is out and (a.grad, b.grad) == (2.0 * (-3.0 + 1.0), 4.0)


def test_drawings_treat_an_unreadable_prev_as_a_leaf_and_mark_cycles():
    a, b = Node("a"), Node("b", 5)
    c = Node("c", (a, b))
    graph = _graph.collect(c)
    assert labels(graph.nodes) == ["c", "b", "a"] and graph.inputs == [[2, 1], [], []]
    assert not graph.has_cycle and _graph.topological_from_output(graph) == [0, 1, 2]
    a._prev = [c]
    graph = _graph.collect(c)
    assert graph.has_cycle and _graph._has_cycle(graph)
    assert len(graph.nodes) == 3


@pytest.mark.slow  # pickles and copies deep graphs
def test_pickle_and_deepcopy_keep_shared_nodes_and_work_deep():
    x = Value(0.5, label="x")
    y = x
    for i in range(30_000):  # deeper than any recursion limit
        y = (y * 0.999 + x) ** 1 if i % 1000 == 0 else y * 0.999 + 0.001
    for copied in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        leaves = [n for n in walk(copied).order if n.label == "x"]
        assert len(leaves) == 1  # x, used many times, is one node in the copy too
        copied.backward()
        y.backward()
        assert leaves[0].grad == x.grad
        x.grad = 0.0

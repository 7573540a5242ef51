"""Pickling and deep-copying graphs (to the engine's own depth), and the
garbage collector's state around the engine's own calls."""
from __future__ import annotations

import copy
import gc
import pickle

import pytest

from microgradlab import Value
from microgradlab.engine import _QUEUED


def _round_trips():
    return [
        ("pickle", lambda obj: pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))),
        ("pickle protocol 2", lambda obj: pickle.loads(pickle.dumps(obj, protocol=2))),
        ("deepcopy", copy.deepcopy),
    ]


def _small_graph():
    a, b = Value(2.0, label="a"), Value(3.0, label="b")
    c = (a * b + b ** 2).tanh() - a / b + (a ** 0.5).exp().log()
    c.backward()
    return a, b, c


@pytest.mark.parametrize("name, round_trip", _round_trips())
def test_a_graph_with_every_kind_of_node_comes_back_equal(name, round_trip):
    a, b, c = _small_graph()
    a2, b2, c2 = round_trip((a, b, c))
    assert (c2.data, c2.grad, a2.grad, b2.grad) == (c.data, c.grad, a.grad, b.grad)
    assert (a2.label, b2.label) == ("a", "b")

    def shape(node):  # ops and leaf labels, walked the same way in both graphs
        return (node._op, node.label, tuple(shape(child) for child in node._prev))

    assert shape(c2) == shape(c)
    # the leaves in the tuple are the very leaves inside the copied graph
    leaves = {id(n) for n in _walk(c2) if not n._prev}
    assert id(a2) in leaves and id(b2) in leaves
    assert all(x is not y for x, y in zip(_walk(c), _walk(c2))), "nothing shared with the original"
    a2.grad = b2.grad = 0.0
    c2.backward()
    assert (a2.grad, b2.grad) == (a.grad, b.grad)
    assert not _QUEUED


def _walk(root):
    out, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            out.append(node)
            stack.extend(node._prev)
    return out


@pytest.mark.parametrize("name, round_trip", _round_trips())
def test_nodes_shared_between_two_outputs_stay_shared(name, round_trip):
    x = Value(1.5)
    hidden = (x * 2.0).relu()
    y1, y2 = hidden + 1.0, hidden * hidden
    y1_2, y2_2, x_2 = round_trip([y1, y2, x])
    assert y1_2._prev[0] is y2_2._prev[0] is y2_2._prev[1]
    assert y1_2._prev[0]._prev[0]._prev[0] is x_2
    assert not _QUEUED


def test_copy_copy_is_one_new_node_over_the_same_inputs():
    a, b, c = _small_graph()
    c2 = copy.copy(c)
    assert c2 is not c and c2.data == c.data and c2._prev == c._prev and c2._op == c._op


@pytest.mark.slow  # builds, pickles and deep-copies a million nodes: minutes on a busy machine
def test_a_million_deep_chain_pickles_and_deep_copies():
    x = Value(0.5, label="x")
    node = x
    for i in range(999_999):  # 1,000,000 nodes with x
        node = node ** 1 if i % 1000 == 0 else -node
    node.backward()
    want_x_grad = x.grad
    for name, round_trip in _round_trips()[::2]:  # highest protocol, and deepcopy
        node2, x2 = round_trip((node, x))
        assert node2.data == node.data and node2.grad == 1.0, name
        assert x2.grad == want_x_grad and x2.label == "x", name
        depth, walker = 0, node2
        while walker._prev:
            walker = walker._prev[0]
            depth += 1
        assert depth == 999_999 and walker is x2, name
        x2.grad = 0.0
        node2.backward()
        assert x2.grad == want_x_grad, name
        del node2, x2, walker
    assert not _QUEUED


def test_backward_restores_the_collector_even_when_a_rule_raises():
    a = Value(1.0)
    out = a * 2.0

    def broken_step():
        raise RuntimeError("a hand-written rule that fails")

    out._backward = broken_step
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        out.backward()
    assert gc.isenabled()
    with pytest.raises(ValueError):
        Value.linear([Value(1.0)], [1.0, 2.0], 0.0)  # raised inside linear
    assert gc.isenabled()
    gc.disable()
    try:
        (a * 3.0).backward()
        Value.linear([a], [2.0], 1.0)
        assert not gc.isenabled(), "a collector the user switched off stays off"
    finally:
        gc.enable()


def test_numpy_scalars_on_the_left_give_values():
    np = pytest.importorskip("numpy")
    v = Value(2.0)
    out = np.int64(-1) * v + np.float64(0.5)
    assert isinstance(out, Value) and out.data == -1.5
    out2 = np.float64(3.0) + v
    assert isinstance(out2, Value) and out2._prev[1] is v and out2.data == 5.0

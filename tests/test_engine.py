"""microgradlab.Value: the worked examples of the course, accumulation, deep
graphs, numerical stability, micrograd compatibility and error messages.

Random graphs of every op are compared with PyTorch in test_engine_properties.py.
"""
from __future__ import annotations

import math
import sys
import warnings

import pytest
import torch

from microgradlab import Value


def t64(x):
    """A 0-d float64 leaf tensor that records gradients."""
    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


def torch_softplus(t):
    """ln(1 + e**t) without torch's threshold shortcut (which returns t itself for
    t > 20, slightly off in the gradient) and without overflow."""
    return torch.logaddexp(t, torch.zeros((), dtype=torch.float64))


# ----------------------------------------------------------------------
# Worked examples (the numbers the notebooks state)
# ----------------------------------------------------------------------
def test_by_hand_example_L_equals_d_times_f():
    a, b, c, f = Value(3.0), Value(-2.0), Value(4.0), Value(5.0)
    e = a * b
    d = e + c
    L = d * f
    L.backward()
    assert (e.data, d.data, L.data) == (-6.0, -2.0, -10.0)
    assert L.grad == 1.0
    assert d.grad == 5.0, "dL/dd is f"
    assert e.grad == 5.0, "dL/de = dL/dd * dd/de = 5 * 1"
    assert f.grad == -2.0, "dL/df is d"
    assert c.grad == 5.0
    assert a.grad == -10.0, "dL/da = dL/de * b = 5 * -2"
    assert b.grad == 15.0, "dL/db = dL/de * a = 5 * 3"


def _descent_loss(w1, w2):
    return ((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5


def test_descent_example_gradients():
    w1, w2 = Value(2.0), Value(3.0)
    loss = _descent_loss(w1, w2)
    loss.backward()
    assert loss.data == 2.5
    assert (w1.grad, w2.grad) == (1.0, -2.0)


def test_descent_example_ten_steps():
    w1, w2 = Value(2.0), Value(3.0)
    losses = []
    for _ in range(10):
        loss = _descent_loss(w1, w2)
        losses.append(loss.data)
        w1.grad = w2.grad = 0.0
        loss.backward()
        w1.data -= 0.5 * w1.grad
        w2.data -= 0.5 * w2.grad
    # each step halves the distance to the minimum (1, 5), so the loss quarters
    assert losses[:3] == [2.5, 0.625, 0.15625]
    for before, after in zip(losses, losses[1:]):
        assert after == pytest.approx(before / 4, rel=1e-12)
    assert round(w1.data, 4) == 1.0010
    assert round(w2.data, 4) == 4.9980
    assert w1.data == pytest.approx(1 + 1 / 2**10) and w2.data == pytest.approx(5 - 2 / 2**10)


def test_shared_subexpression_c_equals_a_times_b_plus_b():
    a, b = Value(2.0), Value(3.0)
    c = a * b + b
    c.backward()
    assert c.data == 9.0
    assert a.grad == 3.0
    assert b.grad == 3.0, "b is used twice: a from a*b plus 1 from + b"


def test_perturbation_moves_c_as_the_gradient_predicts():
    c = Value(2.0001) * Value(3.01) + Value(3.01)
    assert c.data == pytest.approx(9.030301, abs=1e-12)
    # first-order prediction from the gradients at (2, 3): 9 + 3*0.0001 + 3*0.01
    assert c.data == pytest.approx(9 + 3 * 0.0001 + 3 * 0.01, abs=1e-5)


# ----------------------------------------------------------------------
# Calling backward more than once; zero_grad
# ----------------------------------------------------------------------
def _graph(lib_a, lib_b):
    c = lib_a * lib_b + lib_b
    return (c * c).tanh() + c.exp() * 0.001 - lib_a / lib_b


def test_backward_twice_accumulates_like_pytorch():
    a, b = Value(0.7), Value(-1.3)
    out = _graph(a, b)
    ta, tb = t64(0.7), t64(-1.3)
    tout = _graph(ta, tb)
    for _ in range(3):
        out.backward()
        tout.backward(retain_graph=True)
        assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12)
        assert b.grad == pytest.approx(tb.grad.item(), rel=1e-12)
    # after three calls the leaves hold three times one call's gradient
    a2, b2 = Value(0.7), Value(-1.3)
    _graph(a2, b2).backward()
    assert a.grad == pytest.approx(3 * a2.grad, rel=1e-12)


def test_interior_gradients_are_recomputed_not_accumulated():
    a = Value(2.0)
    mid = a * a
    out = mid * 3
    out.backward()
    out.backward()
    assert mid.grad == 3.0, "an interior node's grad is d(out)/d(node) on every call"
    assert a.grad == 24.0, "a leaf accumulates: 12 + 12"


def test_backward_on_a_leaf_accumulates_like_pytorch():
    a = Value(5.0)
    a.backward()
    a.backward()
    ta = t64(5.0)
    ta.backward()
    ta.backward()
    assert a.grad == ta.grad.item() == 2.0


def test_module_zero_grad_resets():
    from microgradlab.nn import MLP

    model = MLP(3, [4, 1], seed=1)
    model([1.0, -2.0, 0.5]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())
    # after zero_grad, one backward gives one pass's gradient again
    model([1.0, -2.0, 0.5]).backward()
    first = [p.grad for p in model.parameters()]
    model.zero_grad()
    model([1.0, -2.0, 0.5]).backward()
    assert [p.grad for p in model.parameters()] == first


def test_setting_grad_to_zero_resets():
    a, b = Value(2.0), Value(3.0)
    (a * b).backward()
    (a * b).backward()
    assert a.grad == 6.0
    a.grad = 0
    (a * b).backward()
    assert a.grad == 3.0


# ----------------------------------------------------------------------
# Deep graphs
# ----------------------------------------------------------------------
@pytest.mark.slow
def test_a_chain_of_a_million_nodes_backpropagates():
    limit = sys.getrecursionlimit()
    x = Value(0.5)
    node = x
    for _ in range(250_000):  # four nodes a round: a chain of 1,000,000
        node = ((node + 0.25) * 1.0 - 0.25).relu()
    node.backward()
    assert sys.getrecursionlimit() == limit, "backward must not need a higher recursion limit"
    assert x.grad == 1.0
    assert node.data == pytest.approx(0.5)


# ----------------------------------------------------------------------
# Numerical stability of tanh and sigmoid
# ----------------------------------------------------------------------
@pytest.mark.parametrize("x", [-1e4, -1000.0, -400.0, -40.0, -1.0, 0.0, 1.0, 40.0, 400.0, 1000.0, 1e4])
@pytest.mark.parametrize("op", ["tanh", "sigmoid", "softplus"])
def test_saturating_functions_are_finite_and_match_torch(op, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = Value(x)
        out = getattr(v, op)()
        out.backward()
    tv = t64(x)
    tout = torch_softplus(tv) if op == "softplus" else getattr(tv, op)()
    tout.backward()
    assert math.isfinite(out.data) and math.isfinite(v.grad)
    assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-300)
    assert v.grad == pytest.approx(tv.grad.item(), rel=1e-12, abs=1e-300)


# ----------------------------------------------------------------------
# nan and inf behave like PyTorch (documented in the engine's docstring)
# ----------------------------------------------------------------------
def _same(ours, theirs):
    if math.isnan(theirs):
        return math.isnan(ours)
    return ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize(
    "op",
    ["neg", "add", "mul", "div", "pow2", "exp", "log", "tanh", "relu", "sigmoid", "softplus"],
)
def test_nan_propagates_like_pytorch(op):
    build = {
        "neg": lambda v: -v,
        "add": lambda v: v + 1.0,
        "mul": lambda v: v * 2.0,
        "div": lambda v: 1.0 / v,
        "pow2": lambda v: v**2,
        "exp": lambda v: v.exp(),
        "log": lambda v: v.log(),
        "tanh": lambda v: v.tanh(),
        "relu": lambda v: v.relu(),
        "sigmoid": lambda v: v.sigmoid(),
        "softplus": lambda v: v.softplus() if isinstance(v, Value) else torch_softplus(v),
    }[op]
    v, tv = Value(math.nan), t64(math.nan)
    out, tout = build(v), build(tv)
    out.backward()
    tout.backward()
    assert _same(out.data, tout.item()), f"{op}(nan) gave {out.data}, torch {tout.item()}"
    assert _same(v.grad, tv.grad.item()), f"grad of {op} at nan is {v.grad}, torch {tv.grad.item()}"


def test_exp_overflow_gives_inf_like_pytorch():
    v, tv = Value(1000.0), t64(1000.0)
    out, tout = v.exp(), tv.exp()
    out.backward()
    tout.backward()
    assert out.data == tout.item() == math.inf
    assert v.grad == tv.grad.item() == math.inf


def test_pow_overflow_gives_inf_with_the_right_sign():
    assert (Value(1e200) ** 2).data == (torch.tensor(1e200, dtype=torch.float64) ** 2).item() == math.inf
    assert (Value(-1e200) ** 3).data == -math.inf


def test_inf_minus_inf_is_nan_like_pytorch():
    v = Value(math.inf)
    assert math.isnan((v - v).data)
    assert math.isnan((t64(math.inf) - t64(math.inf)).item())


# ----------------------------------------------------------------------
# Micrograd compatibility
# ----------------------------------------------------------------------
def _micrograd_style_mul(a, b):
    out = Value(a.data * b.data, (a, b), "*")

    def _backward():
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    return out


def _micrograd_style_backward(root):
    order, visited = [], set()

    def build(v):
        if v not in visited:
            visited.add(v)
            for child in v._prev:
                build(child)
            order.append(v)

    build(root)
    root.grad = 1.0
    for node in reversed(order):
        node._backward()
    return order


def test_hand_built_nodes_and_a_hand_written_topological_sort_work():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = _micrograd_style_mul(a, b) + b  # a hand-built node inside an engine-built graph
    d = c.tanh() * a
    order = _micrograd_style_backward(d)
    assert len(order) == 6  # a, b, a*b, +, tanh, * (leaves included)
    assert c._prev[0]._op == "*" and c._prev[0]._prev == (a, b)
    ta, tb = t64(2.0), t64(-3.0)
    td = (ta * tb + tb).tanh() * ta
    td.backward()
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-12)


def test_value_backward_runs_hand_built_backward_steps():
    a, b = Value(2.0), Value(-3.0)
    out = _micrograd_style_mul(a, b) * a
    out.backward()
    assert (a.grad, b.grad) == (2 * 2.0 * -3.0, 4.0)


def test_node_backward_is_callable_on_engine_nodes_and_leaves():
    a, b = Value(2.0), Value(5.0)
    out = a * b
    out.grad = 1.0
    out._backward()
    assert (a.grad, b.grad) == (5.0, 2.0)
    a._backward()  # a leaf: nothing to push, must not fail
    assert out._prev == (a, b) and out._op == "*"


def test_a_hand_built_node_without_a_backward_rule_passes_nothing_back():
    a = Value(1.0)
    out = Value(7.0, (a,), "mystery") * 2
    out.backward()
    assert a.grad == 0.0


def test_assigning_something_not_callable_to_backward_is_refused():
    with pytest.raises(TypeError, match="_backward must be a function"):
        Value(1.0)._backward = 3


@pytest.mark.parametrize(
    "build, op",
    [
        (lambda a, b: a + b, "+"), (lambda a, b: a * b, "*"), (lambda a, b: a - b, "-"),
        (lambda a, b: -a, "neg"), (lambda a, b: a / b, "/"), (lambda a, b: a**3, "**3"),
        (lambda a, b: a**0.5, "**0.5"), (lambda a, b: a.exp(), "exp"), (lambda a, b: a.log(), "log"),
        (lambda a, b: a.tanh(), "tanh"), (lambda a, b: a.relu(), "relu"),
        (lambda a, b: a.sigmoid(), "sigmoid"), (lambda a, b: a.softplus(), "softplus"),
        (lambda a, b: Value.sum([a, b]), "sum"), (lambda a, b: Value.linear([a], [b], a), "linear"),
    ],
)
def test_op_names_follow_the_contract(build, op):
    assert build(Value(2.0), Value(3.0))._op == op


def test_prev_is_a_tuple_in_operand_order():
    a, b = Value(1.0), Value(2.0)
    assert (b - a)._prev == (b, a)
    assert (a * a)._prev == (a, a)
    assert isinstance((2 - a)._prev, tuple) and (2 - a)._prev[1] is a


# ----------------------------------------------------------------------
# Bad input: the documented error, with a message that names the problem
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Value("abc"), TypeError, r"real number.*str 'abc'"),
        (lambda: Value(None), TypeError, r"real number.*NoneType None"),
        (lambda: Value(True), TypeError, r"real number.*bool"),
        (lambda: Value(Value(1)), TypeError, r"got another Value"),
        (lambda: Value(2.0) ** Value(3.0), TypeError, r"exponent must be a plain number"),
        (lambda: Value(2.0) ** "3", TypeError, r"exponent must be an int or float.*str"),
        (lambda: 2 ** Value(3.0), TypeError, r"cannot be raised to a Value"),
        (lambda: Value(0.0).log(), ValueError, r"log is only defined for positive numbers.*0\.0"),
        (lambda: Value(-2.0).log(), ValueError, r"log is only defined for positive numbers.*-2\.0"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, r"division by a Value whose data is 0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"division by a Value whose data is 0"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, r"division by a Value whose data is 0"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"0 cannot be raised to a negative power"),
        (lambda: Value(-8.0) ** 0.5, ValueError, r"negative number to a fractional power"),
        (lambda: Value.linear([Value(1.0)], [1.0, 2.0], 0.0), ValueError, r"1 weights and 2 inputs"),
        (lambda: Value(1.0) + "x", TypeError, r"real number.*str 'x'"),
    ],
)
def test_bad_input_raises_a_clear_error(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_negative_base_to_an_integer_valued_float_power_is_allowed():
    v = Value(-2.0)
    out = v**3.0
    out.backward()
    assert out.data == -8.0 and v.grad == 12.0


@pytest.mark.parametrize("x", [0.0, 2.225073858507e-311, -3.0])
def test_power_zero_has_gradient_zero_like_pytorch(x):
    # found by the property tests: 0 * x**-1 is 0 * inf = nan for a tiny x
    v, tv = Value(x), t64(x)
    (v**0).backward()
    (tv**0).backward()
    assert v.grad == tv.grad.item() == 0.0

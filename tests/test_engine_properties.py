"""Property-based tests: random expression graphs built from every op of Value,
checked against PyTorch float64 and against central differences.

A graph is a *program*: a list of steps, each naming an op and the earlier nodes
it reads. Steps pick their inputs at random from all earlier nodes, so leaves
are reused and sub-expressions shared; a bias towards the newest node makes
deep chains. The same program is evaluated three ways: with microgradlab.Value,
with 0-d float64 tensors, and with Value again at nudged leaf values.
"""
from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from microgradlab import Value

BINARY = ["add", "sub", "mul", "div"]
WITH_CONSTANT = ["radd", "rsub", "rmul", "rdiv", "addc", "subc", "mulc", "divc", "pow_int", "pow_float"]
UNARY = ["neg", "exp", "log", "tanh", "relu", "sigmoid", "softplus"]
MANY = ["sum", "linear"]
ALL_OPS = BINARY + WITH_CONSTANT + UNARY + MANY

# Kept away from values where a function has no derivative or blows up, so
# that both references are meaningful.
SMALLEST_DIVISOR = 0.2
LARGEST_EXP_INPUT = 5.0


# ----------------------------------------------------------------------
# Evaluating a program
# ----------------------------------------------------------------------
def _torch_softplus(t):
    return torch.logaddexp(t, torch.zeros((), dtype=torch.float64))


def _apply(op, args, const, nodes, engine):
    """One step. ``engine`` is "value" or "torch"; both support Python operators."""
    x = [nodes[i] for i in args]
    if op == "add":
        return x[0] + x[1]
    if op == "sub":
        return x[0] - x[1]
    if op == "mul":
        return x[0] * x[1]
    if op == "div":
        return x[0] / x[1]
    if op == "radd":
        return const + x[0]
    if op == "rsub":
        return const - x[0]
    if op == "rmul":
        return const * x[0]
    if op == "rdiv":
        return const / x[0]
    if op == "addc":
        return x[0] + const
    if op == "subc":
        return x[0] - const
    if op == "mulc":
        return x[0] * const
    if op == "divc":
        return x[0] / const
    if op in ("pow_int", "pow_float"):
        return x[0] ** const
    if op == "neg":
        return -x[0]
    if op == "softplus" and engine == "torch":
        return _torch_softplus(x[0])
    if op in UNARY:
        return getattr(x[0], op)()
    if op == "sum":
        if engine == "value":
            return Value.sum(x)
        total = torch.zeros((), dtype=torch.float64)
        for term in x:  # the same order of additions as Value.sum
            total = total + term
        return total
    if op == "linear":
        n = (len(x) - 1) // 2
        ws, xs, b = x[:n], x[n : 2 * n], x[-1]
        if engine == "value":
            return Value.linear(ws, xs, b)
        total = b
        for w, xi in zip(ws, xs):
            total = total + w * xi
        return total
    raise AssertionError(f"unknown op {op}")


def evaluate(program, leaf_values, engine):
    """Return (leaves, all nodes) with the program evaluated by ``engine``."""
    if engine == "value":
        leaves = [Value(v) for v in leaf_values]
    else:
        leaves = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in leaf_values]
    nodes = list(leaves)
    for op, args, const in program:
        nodes.append(_apply(op, args, const, nodes, engine))
    return leaves, nodes


# ----------------------------------------------------------------------
# Drawing a valid program
# ----------------------------------------------------------------------
@st.composite
def programs(draw, max_ops=12):
    """(leaf values, program, indices of relu inputs) with every op's domain respected.

    Each step is drawn freely and then made valid at the drawn leaf values: an
    input outside an op's domain is replaced by a safe node computed from it
    (x*x + 1 for log, division and fractional powers; tanh(x) before exp), so
    the graph still depends on every input.
    """
    leaf_values = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=4))
    n_ops = draw(st.integers(1, max_ops))
    chain_bias = draw(st.sampled_from([0.0, 0.5, 0.9]))  # 0.9: mostly a deep chain
    program = []
    values = list(leaf_values)  # the forward value of every node so far, as floats

    def add_step(op, args, const=None):
        program.append((op, tuple(args), const))
        values.append(_float_step(op, args, const, values))
        return len(values) - 1

    def pick():
        if draw(st.floats(0, 1)) < chain_bias:
            return len(values) - 1
        return draw(st.integers(0, len(values) - 1))

    def positive(i, smallest=SMALLEST_DIVISOR):
        """i itself if its value is safely positive, else a node for x*x + 1."""
        if values[i] > smallest:
            return i
        return add_step("addc", [add_step("mul", [i, i])], 1.0)

    def away_from_zero(i):
        return i if abs(values[i]) > SMALLEST_DIVISOR else positive(i)

    relu_inputs = []
    for _ in range(n_ops):
        op = draw(st.sampled_from(ALL_OPS))
        const = None
        if op in BINARY:
            args = [pick(), pick()]
            if op == "div":
                args[1] = away_from_zero(args[1])
        elif op in ("radd", "rsub", "rmul", "addc", "subc", "mulc"):
            args, const = [pick()], draw(st.floats(-2, 2, allow_nan=False))
        elif op in ("rdiv",):
            args, const = [away_from_zero(pick())], draw(st.floats(-2, 2, allow_nan=False))
        elif op == "divc":
            args = [pick()]
            const = draw(st.floats(0.25, 2)) * draw(st.sampled_from([-1, 1]))
        elif op == "pow_int":
            const = draw(st.sampled_from([-2, -1, 0, 1, 2, 3]))
            args = [away_from_zero(pick()) if const < 0 else pick()]
        elif op == "pow_float":
            const = draw(st.sampled_from([-1.5, -0.5, 0.5, 1.5, 2.5]))
            args = [positive(pick())]
        elif op == "log":
            args = [positive(pick())]
        elif op == "exp":
            i = pick()
            args = [i if abs(values[i]) < LARGEST_EXP_INPUT else add_step("tanh", [i])]
        elif op in UNARY:
            args = [pick()]
        elif op == "sum":
            args = [pick() for _ in range(draw(st.integers(1, 5)))]
        else:  # linear: n weights, n inputs, a bias
            n = draw(st.integers(1, 3))
            args = [pick() for _ in range(2 * n + 1)]
        if op == "relu":
            relu_inputs.append(args[0])
        add_step(op, args, const)

    # Graphs that multiply big numbers many times are valid but not what we test here.
    assume(all(math.isfinite(v) and abs(v) < 1e6 for v in values))
    return leaf_values, program, relu_inputs


def _float_step(op, args, const, values):
    """The forward value of one step, computed with Value (only its data is kept)."""
    nodes = [Value(values[i]) if i in args else None for i in range(len(values))]
    try:
        return _apply(op, args, const, nodes, "value").data
    except (ValueError, ZeroDivisionError, OverflowError):
        return math.nan  # rejected by the assume() above


# ----------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------
def close(ours, theirs, rel, abs_tol):
    return math.isclose(ours, theirs, rel_tol=rel, abs_tol=abs_tol)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(programs())
def test_values_and_gradients_match_pytorch(drawn):
    leaf_values, program, _ = drawn
    leaves, nodes = evaluate(program, leaf_values, "value")
    tleaves, tnodes = evaluate(program, leaf_values, "torch")
    nodes[-1].backward()
    tnodes[-1].backward()
    for i, (ours, theirs) in enumerate(zip(nodes, tnodes)):
        assert close(ours.data, theirs.item(), 1e-9, 1e-12), (
            f"node {i} ({program[i - len(leaves)] if i >= len(leaves) else 'leaf'}): "
            f"{ours.data} vs torch {theirs.item()}"
        )
    scale = max(1.0, *(abs(leaf.grad) for leaf in leaves))
    for k, (leaf, tleaf) in enumerate(zip(leaves, tleaves)):
        expected = tleaf.grad.item() if tleaf.grad is not None else 0.0
        assert close(leaf.grad, expected, 1e-9, 1e-12 * scale), (
            f"d(out)/d(leaf {k}) is {leaf.grad}, torch says {expected}; program {program}"
        )


@FAST
@given(programs())
def test_gradients_match_central_differences(drawn):
    leaf_values, program, relu_inputs = drawn
    leaves, nodes = evaluate(program, leaf_values, "value")
    # relu has no derivative at 0: a nudge across the kink breaks the comparison
    assume(all(abs(nodes[i].data) > 1e-3 for i in relu_inputs))
    nodes[-1].backward()
    h = 1e-6
    for k, leaf in enumerate(leaves):
        up, down = list(leaf_values), list(leaf_values)
        up[k] += h
        down[k] -= h
        f_up = evaluate(program, up, "value")[1][-1].data
        f_down = evaluate(program, down, "value")[1][-1].data
        estimate = (f_up - f_down) / (2 * h)
        # round-off in the difference grows with the size of f
        abs_tol = 1e-5 * (1 + abs(nodes[-1].data))
        assert close(leaf.grad, estimate, 1e-4, abs_tol), (
            f"d(out)/d(leaf {k}) is {leaf.grad}, central difference {estimate}; program {program}"
        )


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=3), st.data())
def test_deep_chains_reusing_leaves_match_pytorch(leaf_values, data):
    """A chain of a few hundred steps, each reading the previous node and a leaf."""
    steps = data.draw(st.lists(st.sampled_from(["add", "mul", "tanh", "sub", "sigmoid"]), min_size=100, max_size=300))
    program = []
    n = len(leaf_values)
    for step_op in steps:
        last = n + len(program) - 1
        leaf = data.draw(st.integers(0, n - 1))
        if step_op in ("add", "mul", "sub"):
            # mul by tanh of a leaf keeps the chain bounded
            if step_op == "mul":
                program.append(("tanh", (leaf,), None))
                program.append(("mul", (last, n + len(program) - 1), None))
            else:
                program.append((step_op, (last, leaf), None))
        else:
            program.append((step_op, (last,), None))
    leaves, nodes = evaluate(program, leaf_values, "value")
    tleaves, tnodes = evaluate(program, leaf_values, "torch")
    nodes[-1].backward()
    tnodes[-1].backward()
    assert close(nodes[-1].data, tnodes[-1].item(), 1e-9, 1e-12)
    for leaf, tleaf in zip(leaves, tleaves):
        expected = tleaf.grad.item() if tleaf.grad is not None else 0.0
        assert close(leaf.grad, expected, 1e-9, 1e-12)

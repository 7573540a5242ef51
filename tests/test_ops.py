"""The table of operations (microgradlab.ops) and its readers.

Every op's forward and local derivatives are held to PyTorch's autograd in
float64, the constant forms of programs included; then each reader of the
table (the engine, expression programs, the checker's simulated mistakes, the
backward stepper) is held to the table.
"""
from __future__ import annotations

import ast
import math
import random
import sys
import types

import pytest
import torch

from microgradlab import Value, ops
from microgradlab.checking.compare import PROGRAM_MISTAKES
from microgradlab.exercises import programs as P
from microgradlab.ops import OPS, read_symbol, with_constant
from microgradlab.widgets.stepper import BackwardPass
from microgradlab.exercises.gives import GIVES

ALL_NAMES = ["add", "sub", "mul", "div", "neg", "pow", "exp", "log", "tanh", "relu", "sigmoid",
             "softplus", "sum", "linear"]

# How PyTorch computes each op, from float64 tensors (operands in the table's order).
TORCH = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "neg": lambda a: -a, "pow": lambda a, k: a ** k,
    "exp": torch.exp, "log": torch.log, "tanh": torch.tanh, "relu": torch.relu,
    "sigmoid": torch.sigmoid, "softplus": torch.nn.functional.softplus,
    "sum": lambda *xs: sum(xs[1:], xs[0]),
    "linear": lambda *xs: sum((xs[i] * xs[len(xs) // 2 + i] for i in range(len(xs) // 2)),
                              xs[-1]),
}


def _operand_draws(entry, rng, count=12):
    """Operands for ``entry`` where its maths is defined: fixed corners, then random ones."""
    if entry.arity == 0:
        draws = [[rng.uniform(-3, 3) for _ in range(2 * n + 1)] for n in (0, 1, 2, 5)]
        return [d for d in draws if entry.name == "linear" or len(d) > 0] + [[1.5, -2.0, 0.25]]
    if entry.constant is not None and entry.constants:  # pow: a number for each exponent
        bases = [2.0, 0.7, -1.3, 1e-3, 3.0]
        return [[a, k] for k in entry.constants for a in bases
                if not (a < 0 and not float(k).is_integer())]
    draws = []
    while len(draws) < count:
        xs = [rng.choice([rng.uniform(-4, 4), rng.uniform(-0.5, 0.5)]) for _ in range(entry.arity)]
        if entry.constant is not None:
            xs.insert(entry.constant, round(rng.choice([-1, 1]) * rng.uniform(0.5, 3), 3))
        if entry.name == "log" or entry.name.endswith("log"):
            xs = [abs(x) + 0.05 for x in xs]
        if entry.testable is None or entry.testable(*xs):
            draws.append(xs)
    if entry.arity == 1 and entry.constant is None and entry.name != "log":
        draws.append([0.0])  # relu's corner: its rule changes exactly there
    return draws


def _torch_side(entry, operands):
    """(value, d(value)/d(each node operand)) from PyTorch."""
    base = entry.name
    if entry.constant is not None and entry.name not in OPS:  # radd ... divc
        base = entry.name[1:] if entry.constant == 0 else entry.name[:-1]
    tensors = [x if i == entry.constant else torch.tensor(x, dtype=torch.float64, requires_grad=True)
               for i, x in enumerate(operands)]
    out = TORCH[base](*tensors)
    out.backward()
    nodes = [t for i, t in enumerate(tensors) if i != entry.constant]
    return out.item(), [t.grad.item() for t in nodes]


def _same(ours, theirs, rel=1e-12):
    if math.isnan(theirs):
        return math.isnan(ours)
    return ours == theirs or math.isclose(ours, theirs, rel_tol=rel, abs_tol=1e-300)


def _entries():
    """Every op of the table and every constant form programs use."""
    return list(OPS.values()) + [P.PROGRAM_OPS[n] for n in P.REFLECTED_OPS + P.CONSTANT_OPS]


def test_the_table_has_every_op_of_the_engine_once():
    assert sorted(OPS) == sorted(ALL_NAMES)
    assert {n: OPS[n].taught_in for n in ALL_NAMES} == {
        "add": "03_operations", "sub": "03_operations", "mul": "03_operations",
        "div": "03_operations", "neg": "03_operations", "pow": "03_operations",
        "exp": "05_tanh_neuron", "tanh": "05_tanh_neuron", "relu": "05_tanh_neuron",
        "log": None, "sigmoid": None, "softplus": None, "sum": None, "linear": None}
    assert {n: OPS[n].symbol for n in ALL_NAMES} == {
        "add": "+", "sub": "-", "mul": "*", "div": "/", "neg": "neg", "pow": "**{k}", "exp": "exp",
        "log": "log", "tanh": "tanh", "relu": "relu", "sigmoid": "sigmoid",
        "softplus": "softplus", "sum": "sum", "linear": "linear"}
    for entry in OPS.values():  # the maths is written where it is explained
        assert "d(out)/d" in (entry.local.__doc__ or entry.push.__doc__), entry.name
    with pytest.raises(ValueError, match="registered twice"):
        ops.op("mul", symbol="*", arity=2, forward=None, python=None, text="", local_text=(),
               taught_in=None)(lambda a, b, out: (b, a))


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e.name)
def test_forward_and_local_derivatives_agree_with_pytorch(entry):
    rng = random.Random(sum(map(ord, entry.name)))
    for operands in _operand_draws(entry, rng):
        value, grads = _torch_side(entry, operands)
        ours = entry.forward(*operands)
        assert _same(ours, value), (entry.name, operands, ours, value)
        local = entry.local(*operands, ours)
        assert len(local) == len(grads), (entry.name, operands)
        for mine, theirs in zip(local, grads):
            assert _same(mine, theirs, 1e-10), (entry.name, operands, local, grads)


@pytest.mark.parametrize("k, base, expected", [(0, 0.0, 0.0), (0, 1e-300, 0.0), (0.5, 0.0, math.inf),
                                               (2, 0.0, 0.0), (3, -2.0, 12.0)])
def test_the_power_rule_at_its_corners_is_pytorchs(k, base, expected):
    t = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    (t ** k).backward()
    assert OPS["pow"].local(base, k, ops.power(base, k)) == (expected,) == (t.grad.item(),)


def test_forward_keeps_large_results_in_range_like_pytorch():
    assert OPS["exp"].forward(1000.0) == math.inf
    assert OPS["pow"].forward(-1e200, 3) == -math.inf and OPS["pow"].forward(1e200, 2) == math.inf
    assert OPS["softplus"].forward(1000.0) == 1000.0 and OPS["sigmoid"].forward(-1000.0) == 0.0
    assert math.isnan(OPS["relu"].forward(math.nan)) and OPS["relu"].local(math.nan, math.nan) == (1.0,)


def test_the_constant_forms_are_derived_from_the_two_input_entries():
    assert P.REFLECTED_OPS == ("radd", "rsub", "rmul", "rdiv")
    assert P.CONSTANT_OPS == ("addc", "subc", "mulc", "divc")
    rsub, subc = P.PROGRAM_OPS["rsub"], P.PROGRAM_OPS["subc"]
    assert (rsub.forward(2.0, 5.0), rsub.local(2.0, 5.0, -3.0)) == (-3.0, (-1.0,))
    assert (subc.forward(5.0, 2.0), subc.local(5.0, 2.0, 3.0)) == (3.0, (1.0,))
    assert rsub.forward is OPS["sub"].forward and rsub.text == OPS["sub"].text
    assert (rsub.constant, subc.constant, rsub.arity) == (0, 1, 1)
    rdiv = P.PROGRAM_OPS["rdiv"]
    assert rdiv.testable(2.0, 0.1) is False and rdiv.testable(2.0, 1.0) is True
    with pytest.raises(ValueError, match="two-input op"):
        with_constant(OPS["tanh"], 0)
    with pytest.raises(ValueError, match="position 0 or 1"):
        with_constant(OPS["add"], 2)


# ----------------------------------------------------------------------
# Readers: the engine
# ----------------------------------------------------------------------
ENGINE = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "neg": lambda a: -a, "pow": lambda a, k: a ** k,
    "exp": Value.exp, "log": Value.log, "tanh": Value.tanh, "relu": Value.relu,
    "sigmoid": Value.sigmoid, "softplus": Value.softplus,
    "sum": lambda *xs: Value.sum(xs), "linear": lambda *xs: Value.linear(
        xs[:len(xs) // 2], xs[len(xs) // 2:-1], xs[-1]),
}


@pytest.mark.parametrize("name", ALL_NAMES)
def test_the_engine_computes_each_op_and_its_gradients_from_the_table(name):
    entry = OPS[name]
    rng = random.Random(len(name))
    for operands in _operand_draws(entry, rng):
        leaves = [x if i == entry.constant else Value(x) for i, x in enumerate(operands)]
        out = ENGINE[name](*leaves)
        assert out.data == entry.forward(*operands)
        assert out._op == entry.symbol.format(k=operands[entry.constant]
                                              if entry.constant is not None else None)
        out.backward()
        nodes = [v for i, v in enumerate(leaves) if i != entry.constant]
        assert tuple(v.grad for v in nodes) == entry.local(*operands, out.data), (name, operands)


def test_a_reflected_engine_op_records_the_number_first():
    v = Value(4.0)
    out = 2 - v
    assert [c.data for c in out._prev] == [2.0, 4.0] and out._op == OPS["sub"].symbol
    out.backward()
    assert v.grad == OPS["sub"].local(2.0, 4.0, -2.0)[1] == -1.0


def test_each_op_is_its_own_statement_so_a_copy_without_one_loses_only_that_op():
    """A later part builds per-notebook copies that keep only some top-level names."""
    source = open(ops.__file__, encoding="utf-8").read()
    tree = ast.parse(source)
    dropped = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "d_tanh"]
    assert len(dropped) == 1
    tree.body.remove(dropped[0])
    copy = types.ModuleType("ops_copy")
    sys.modules["ops_copy"] = copy  # dataclasses look their module up
    try:
        exec(compile(tree, "ops_copy", "exec"), copy.__dict__)
    finally:
        del sys.modules["ops_copy"]
    assert sorted(copy.OPS) == sorted(n for n in ALL_NAMES if n != "tanh")
    assert copy.OPS["mul"].local(2.0, 3.0, 6.0) == (3.0, 2.0)


def test_the_ops_local_derivatives_are_withheld_with_the_notebook_that_teaches_them():
    for name, entry in OPS.items():
        piece = f"microgradlab.ops:{entry.local.__name__}"
        given = [f"microgradlab.ops:{n}" for n in GIVES[entry.taught_in].get("ops", ())] \
            if entry.taught_in else []
        assert (piece in given) == (entry.taught_in is not None)
    assert "walk" in GIVES["04_backward"]["graph"]


# ----------------------------------------------------------------------
# Readers: programs and the checker's simulated mistakes
# ----------------------------------------------------------------------
def test_programs_evaluate_differentiate_and_describe_with_the_table():
    program = {"leaves": {"a": 2.0, "b": -3.0},
               "ops": [["c", "mul", "a", "b"], ["d", "rsub", 1.0, "c"], ["e", "pow", "d", 2],
                       ["f", "divc", "e", 40.0], ["L", "tanh", "f"]],
               "output": "L"}
    values = P.evaluate(program)
    assert values["d"] == 7.0 and values["f"] == 1.225 and values["L"] == math.tanh(1.225)
    grads = P.gradients(program)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in program["leaves"].items()}
    torch.tanh((1.0 - t["a"] * t["b"]) ** 2 / 40.0).backward()
    assert all(math.isclose(grads[k], t[k].grad.item(), rel_tol=1e-12) for k in t)
    assert [P.describe_op(op) for op in program["ops"]] == [
        "c = a * b", "d = 1.0 - c", "e = d ** 2", "f = e / 40.0", "L = tanh(f)"]
    assert P.describe_op(["z", "mystery", "a"]) == "z = mystery(a)"
    with pytest.raises(ValueError, match="takes 2 argument"):
        P.check_program({"leaves": {"a": 1.0}, "ops": [["b", "mul", "a"]], "output": "b"})


def test_a_swapped_local_rule_changes_only_the_ops_it_names():
    program = {"leaves": {"a": 0.5, "b": 1.5},
               "ops": [["c", "mul", "a", "b"], ["d", "mulc", "c", 2.0], ["L", "add", "d", "a"]],
               "output": "L"}
    right = P.gradients(program)
    wrong = P.gradients(program, swap={"mul": lambda a, b, out: (a, b)})
    assert wrong["c"] == right["c"] and wrong["a"] != right["a"]
    assert wrong["a"] == 1.0 + 2.0 * 0.5  # the add's 1 plus mul's own-data share times d's 2
    with pytest.raises(ValueError, match="unknown walk"):
        P.gradients(program, walk="sideways")


def test_the_checkers_rule_mistakes_come_from_the_table_and_are_wrong():
    for mistake in ("mul_uses_own_data", "tanh_derivative_of_input", "tanh_backward_missing",
                    "pow_missing_minus_one", "sub_sign_flipped"):
        ways = PROGRAM_MISTAKES[mistake]
        assert ways and all(set(way) == {"swap"} for way in ways)
    assert len(PROGRAM_MISTAKES["sub_sign_flipped"]) == 2
    assert set(PROGRAM_MISTAKES["mul_uses_own_data"][0]["swap"]) == {"mul", "rmul", "mulc"}
    assert PROGRAM_MISTAKES["not_reversed"] == [dict(walk="forward")]
    rng = random.Random(0)

    def differs(entry, wrong):
        return any(wrong(*xs, entry.forward(*xs)) != entry.local(*xs, entry.forward(*xs))
                   for xs in _operand_draws(entry, rng))

    for entry in P.PROGRAM_OPS.values():
        for mistake, wrong_locals in entry.mistakes.items():
            if entry.name in OPS:  # each way of a mistake is a wrong rule
                assert all(differs(entry, wrong) for wrong in wrong_locals), (entry.name, mistake)
            else:  # a constant form may not show every way (a - c with a - b's sign flipped)
                assert any(differs(entry, wrong) for wrong in wrong_locals), (entry.name, mistake)


# ----------------------------------------------------------------------
# Readers: the backward stepper
# ----------------------------------------------------------------------
def test_read_symbol_finds_the_op_and_its_constants():
    assert read_symbol("*") == (OPS["mul"], ())
    assert read_symbol("**3") == (OPS["pow"], (3,)) and read_symbol("**-0.5") == (OPS["pow"], (-0.5,))
    assert read_symbol("**x") is None and read_symbol("**") is None
    assert read_symbol("ReLU") is None and read_symbol(None) is None and read_symbol(3) is None


def test_stepper_words_each_step_with_the_table():
    x = Value(0.5, label="x")
    s = x ** 3
    s.label = "s"
    t = (s - x).tanh()
    t.label = "t"
    recorded = BackwardPass(t)
    texts = [step.text for step in recorded.steps]
    d = recorded.order[1]  # s - x, unlabelled
    name = recorded.names[id(d)]
    assert texts[1].startswith(f"step 1/4: t = tanh({name}), so {name}.grad += (1 - t.data**2) * t.grad")
    assert texts[2].startswith(f"step 2/4: {name} = s - x, so s.grad += {name}.grad = ")
    assert f"x.grad += -1 * {name}.grad" in texts[2]
    assert texts[3].startswith("step 3/4: s = x ** 3, so x.grad += 3 * x.data**(3 - 1) * s.grad = ")
    assert "but" not in " ".join(texts)


def test_stepper_says_when_a_backward_is_not_what_the_chain_rule_says():
    class Learner:
        def __init__(self, data, children=(), op="", label=""):
            self.data, self.grad, self._prev, self._op, self.label = data, 0.0, children, op, label
            self._backward = lambda: None

    a, b = Learner(2.0, label="a"), Learner(5.0, label="b")
    c = Learner(10.0, (a, b), "*", "c")

    def own_data():  # the mistake mul_uses_own_data
        a.grad += a.data * c.grad
        b.grad += b.data * c.grad
    c._backward = own_data
    text = BackwardPass(c).steps[1].text
    assert text.startswith("step 1/3: c = a * b, so a.grad += b.data * c.grad = 5 * 1 = 5")
    assert text.endswith("but this _backward changed a.grad by 2 and b.grad by 5")

    weird = Learner(3.0, (a, b), "smush", "w")  # an op the table does not know
    weird._backward = lambda: None
    assert BackwardPass(weird).steps[1].text == \
        "step 1/3: w = smush(a, b), so a.grad += 0, b.grad += 0"

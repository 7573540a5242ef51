"""Ops graded on their own node (ARCHITECTURE.md, design contract 5).

Each attack below gets a whole backward pass right on the case it is tried on, so
only the per-node check can catch it: grads worked out in the forward pass, a
`grad` property that computes its own answer, an out._backward that reaches past
its inputs to the leaves, `=` for `+=` where no input is reused. Correct code
written in other styles (micrograd's set `_prev` and closures, ops built from
other ops, math.tanh) must still pass.
"""
from __future__ import annotations

import math

import re

import pytest

import microgradlab
from microgradlab.checking import expected, run_cases, run_exercise
from microgradlab.exercises import get
from microgradlab.exercises.own_node import OwnNodes, rule_text, start_grads

SEEDS = (1, 2, 3)
OPS = ("ex03_add_mul", "ex03_sub_neg", "ex03_div_pow")


def make_value(*, add_assign=False, mul_in_forward=False, grad_property=False,
               div_reaches_past=False, prev_as_set=True):
    """A learner's Value in micrograd's style (closures, a set for _prev, - and / built
    from + * **), with one attack switched on."""

    class Value:
        def __init__(self, data, _children=(), _op="", label=""):
            self.data = data
            self.grad = 0.0
            self._backward = lambda: None
            self._prev = set(_children) if prev_as_set else tuple(_children)
            self._op = _op
            self.label = label

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other), "+")

            def _backward():
                if add_assign:
                    self.grad = out.grad
                    other.grad = out.grad
                else:
                    self.grad += out.grad
                    other.grad += out.grad
            out._backward = _backward
            if grad_property:
                _used_by(self, out, 1.0)
                _used_by(other, out, 1.0)
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other), "*")
            if mul_in_forward:  # the local derivatives, stored at once
                self.grad += other.data
                other.grad += self.data
                return out

            def _backward():
                self.grad += other.data * out.grad
                other.grad += self.data * out.grad
            out._backward = _backward
            if grad_property:
                _used_by(self, out, other.data)
                _used_by(other, out, self.data)
            return out

        def __pow__(self, k):
            out = Value(self.data ** k, (self,), f"**{k}")

            def _backward():
                self.grad += k * self.data ** (k - 1) * out.grad
            out._backward = _backward
            return out

        def __neg__(self):
            return self * -1

        def __sub__(self, other):
            return self + (-other)

        def __truediv__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            if not div_reaches_past:
                return self * other ** -1
            inverse = Value(1.0 / other.data, (other,), "**-1")
            out = Value(self.data * inverse.data, (self, inverse), "/")

            def _backward():  # the quotient rule straight into the leaves
                self.grad += inverse.data * out.grad
                other.grad += -self.data / other.data ** 2 * out.grad
            out._backward = _backward
            return out

        def __rsub__(self, other):
            return other + (-self)

        def __rtruediv__(self, other):
            return other * self ** -1

        __radd__ = __add__
        __rmul__ = __mul__

    def _used_by(node, out, local):
        node.__dict__.setdefault("_users", []).append((out, local))

    if grad_property:
        def read(self):
            users = self.__dict__.get("_users", [])
            if not users:
                return self.__dict__.get("_grad", 0.0)
            return sum(local * user.grad for user, local in users)

        def store(self, value):
            self.__dict__["_grad"] = value
        Value.grad = property(read, store)
    return Value


def case_named(exercise, start):
    found = [c for c in exercise.fixed() if c["name"].startswith(start)]
    assert found, f"{exercise.id} has no fixed case starting {start!r}"
    return found[0]


def whole_pass_is_right(exercise, case, result):
    """Every wrong key of the case is a per-node amount: the whole pass was right."""
    assert result.results[0].wrong, result.summary
    own = {exercise.own_nodes.key(s.node, x) for s in exercise.own_nodes.steps(case)
           for x in s.inputs}
    facts = set(exercise.own_nodes.facts())
    assert set(result.results[0].wrong) <= own | facts, result.results[0].wrong


# ------------------------------------------------------------------ right answers pass
@pytest.mark.parametrize("exercise_id", OPS)
@pytest.mark.parametrize("prev_as_set", [True, False])
def test_micrograd_style_code_passes(exercise_id, prev_as_set):
    Value = make_value(prev_as_set=prev_as_set)
    for seed in SEEDS:
        result = run_exercise(exercise_id, {"Value": Value}, seed=seed)
        assert result.passed, result.summary


@pytest.mark.parametrize("style", ["closure", "math.tanh on a set _prev"])
def test_tanh_in_other_styles_passes(style):
    def tanh(v):
        t = math.tanh(v.data)
        out = microgradlab.Value(t, (v,), "tanh")

        def _backward():
            v.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out
    for seed in SEEDS:
        result = run_exercise("ex05_tanh", {"tanh": tanh}, seed=seed)
        assert result.passed, result.summary


# ------------------------------------------------------------------ the attacks
def test_grads_worked_out_in_the_forward_pass_fail():
    exercise = get("ex03_add_mul")
    case = case_named(exercise, "out = a * b with a=2.0, b=-3.0, out.grad = 1.0")
    result = run_cases(exercise, {"Value": make_value(mul_in_forward=True)}, [case])
    assert not result.passed and result.mistake == "backward_adds_nothing"
    whole_pass_is_right(exercise, case, result)
    assert ("`out._backward()` (with out.grad = 1) added 0 to a.grad; it should add "
            "b.data * out.grad = -3") in result.summary


def test_a_grad_property_that_computes_its_answer_fails():
    exercise = get("ex03_add_mul")
    case = case_named(exercise, "out = a + b")
    result = run_cases(exercise, {"Value": make_value(grad_property=True)}, [case])
    assert not result.passed and result.mistake == "grad_not_stored", result.summary
    assert re.search(r"reading [ab]\.grad gives", result.summary), result.summary
    # the same class gets the whole pass of every case right
    for c in exercise.fixed():
        if "*" in c["name"] or "+" in c["name"]:
            produced = exercise.produce(c, {"Value": make_value(grad_property=True)})
            want = expected(exercise, c)["values"]
            for key in ("a.grad", "b.grad"):
                if key in want:
                    assert produced["values"][key] == pytest.approx(want[key]), (c["name"], key)


def test_a_backward_that_reaches_past_its_inputs_fails():
    exercise = get("ex03_div_pow")
    case = case_named(exercise, "out = a / b")
    result = run_cases(exercise, {"Value": make_value(div_reaches_past=True)}, [case])
    assert not result.passed and result.mistake == "reaches_past_inputs", result.summary
    assert "`out._backward()` changed b.grad, but b is not an input of out" in result.summary
    produced = exercise.produce(case, {"Value": make_value(div_reaches_past=True)})
    want = expected(exercise, case)["values"]
    assert produced["values"]["b.grad"] == pytest.approx(want["b.grad"])  # whole pass right


def test_assign_instead_of_add_fails_where_no_input_is_reused():
    exercise = get("ex03_add_mul")
    case = case_named(exercise, "out = a + b")
    result = run_cases(exercise, {"Value": make_value(add_assign=True)}, [case])
    assert not result.passed and result.mistake == "assign_not_accumulate", result.summary
    whole_pass_is_right(exercise, case, result)


def test_tanh_assigning_its_input_grad_fails_on_a_single_tanh():
    def tanh(v):
        t = math.tanh(v.data)
        out = microgradlab.Value(t, (v,), "tanh")

        def _backward():
            v.grad = (1 - t ** 2) * out.grad
        out._backward = _backward
        return out
    exercise = get("ex05_tanh")
    case = case_named(exercise, "out = tanh(v) at v = 0.5")
    result = run_cases(exercise, {"tanh": tanh}, [case])
    assert not result.passed and result.mistake == "assign_not_accumulate", result.summary
    whole_pass_is_right(exercise, case, result)


def test_a_backward_that_touches_its_own_grad_fails():
    """Resetting out.grad after passing it on changes a grad that is not an input."""
    class Value(make_value()):
        def __add__(self, other):
            out = super().__add__(other)
            passing = out._backward

            def _backward():
                passing()
                out.grad = 0.0
            out._backward = _backward
            return out
    result = run_cases("ex03_add_mul", {"Value": Value},
                       [case_named(get("ex03_add_mul"), "out = a + b")])
    assert result.mistake == "reaches_past_inputs", result.summary


# ------------------------------------------------------------------ the spec's side
def test_what_a_node_must_add_comes_from_pytorch_and_reads_as_the_rule():
    exercise = get("ex03_div_pow")
    case = case_named(exercise, "out = a / b")
    values = expected(exercise, case)["values"]
    g, a, b = case["g"], 3.0, 2.0
    assert values["out._backward() adds to a.grad"] == pytest.approx(g / b)
    assert values["out._backward() adds to b.grad"] == pytest.approx(-a / b ** 2 * g)
    op = case["program"]["ops"][0]
    assert rule_text(op, "b") == "-a.data / b.data**2 * out.grad"
    assert rule_text(["out", "mul", "a", "a"], "a") == "a.data * out.grad + a.data * out.grad"
    assert rule_text(["out", "pow", "a", 3], "a") == "3 * a.data**2 * out.grad"


def test_start_grads_are_distinct_and_non_zero():
    program = get("ex03_add_mul").cases(4)[-1]["program"]
    start = start_grads(program)
    assert len(set(start.values())) == len(start) and 0.0 not in start.values()
    assert not set(start.values()) & {1.0, 0.5, 2.0, -1.0}


def test_a_hidden_case_never_prints_what_a_node_should_add():
    exercise = get("ex03_add_mul")
    hidden = [c for c in exercise.cases(9) if not c["shown"]]
    result = run_cases(exercise, {"Value": make_value(add_assign=True)}, hidden)
    checked = 0
    for case, r in zip(hidden, result.results):
        for step in exercise.own_nodes.steps(case):
            for x in step.inputs:
                key = exercise.own_nodes.key(step.node, x)
                if key in r.wrong[:3]:
                    # "... it should add <the rule>" and nothing after the rule
                    said = r.message.split(f"to {x}.grad; it should add ", 1)[1]
                    rule = said.split(";")[0].split(". Known")[0].rstrip(".")
                    assert rule == rule_text(step.op, x), said
                    checked += 1
    assert checked, "no hidden case failed on a node's amount"


def test_only_the_kinds_the_learner_writes_are_graded_alone():
    # ex05's graphs hold the engine's + and *: only its tanh nodes are graded alone
    case = get("ex05_tanh").fixed()[1]  # y = tanh(x) * x
    steps = OwnNodes(("tanh",)).steps(case)
    assert [s.op[1] for s in steps] == ["tanh"]

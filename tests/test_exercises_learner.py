"""Every exercise against learner code written the way a learner writes it:
right answers pass for several seeds, stubs are "not attempted", and each
catalogued mistake fails with its name."""
from __future__ import annotations

import math
import random
import re
import sys

import pytest

import microgradlab
import microgradlab.nn
from microgradlab import numeric
from microgradlab.checking import hint_text, run_exercise, self_check, verify
from microgradlab.exercises import all_exercises

from exercise_marks import mark_tests_by_source, param

SEEDS = (1, 2, 3)


# ----------------------------------------------------------------------------
# A learner's Value class (micrograd style, closures), with switchable mistakes
# ----------------------------------------------------------------------------
def make_learner_value(assign=False, mul_own=False, sub_flip=False, pow_no_minus=False):
    def push(node, amount):
        if assign:
            node.grad = amount          # the mistake: = instead of +=
        else:
            node.grad += amount

    class Value:
        def __init__(self, data, _children=(), _op="", label=""):
            self.data = data
            self.grad = 0.0
            self._prev = tuple(_children)
            self._op = _op
            self.label = label
            self._backward = lambda: None

        def __add__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data + other.data, (self, other), "+")

            def _backward():
                push(self, out.grad)
                push(other, out.grad)
            out._backward = _backward
            return out

        def __mul__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data * other.data, (self, other), "*")

            def _backward():
                push(self, (self.data if mul_own else other.data) * out.grad)
                push(other, (other.data if mul_own else self.data) * out.grad)
            out._backward = _backward
            return out

        def __neg__(self):
            return self * -1

        def __sub__(self, other):
            other = other if isinstance(other, Value) else Value(other)
            out = Value(self.data - other.data, (self, other), "-")

            def _backward():
                push(self, out.grad)
                push(other, (1.0 if sub_flip else -1.0) * out.grad)
            out._backward = _backward
            return out

        def __pow__(self, k):
            out = Value(self.data ** k, (self,), f"**{k}")

            def _backward():
                push(self, k * self.data ** (k if pow_no_minus else k - 1) * out.grad)
            out._backward = _backward
            return out

        def __truediv__(self, other):  # micrograd's way: through ** -1
            return self * (other if isinstance(other, Value) else Value(other)) ** -1

        def __radd__(self, other):
            return self + other

        def __rmul__(self, other):
            return self * other

        def __rsub__(self, other):
            return Value(other) - self

        def __rtruediv__(self, other):
            return Value(other) / self

    return Value


def stub(*args, **kwargs):
    raise NotImplementedError


def assert_mistake(exercise_id, mistake, **names):
    result = run_exercise(exercise_id, names, seed=1)
    assert not result.passed
    mistakes = {r.mistake for r in result.results if not r.passed}
    assert mistake in mistakes, (mistakes, result.summary)
    assert any(mistake in r.message for r in result.results if r.mistake == mistake)
    with pytest.raises(AssertionError):
        verify(exercise_id, **names)


# ----------------------------------------------------------------------------
# Correct learner code for every exercise
# ----------------------------------------------------------------------------
def learner_topological_order(root):
    order, seen, stack = [], {root}, [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            if child not in seen:
                seen.add(child)
                stack.append((child, iter(child._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def learner_backward(root):
    root.grad = 1.0
    for node in reversed(learner_topological_order(root)):
        node._backward()


def make_tanh(derivative_of_input=False):
    def tanh(v):
        t = math.tanh(v.data)
        out = microgradlab.Value(t, (v,), "tanh")

        def _backward():
            local = 1 - v.data ** 2 if derivative_of_input else 1 - t ** 2
            v.grad += local * out.grad
        out._backward = _backward
        return out
    return tanh


def make_gradient_check(forward=False):
    def gradient_check(build, xs, h=1e-5):
        leaves = [microgradlab.Value(x) for x in xs]
        learner_backward(build(*leaves))
        pairs = []
        for i in range(len(xs)):
            def f(t, i=i):
                return build(*[t if k == i else x for k, x in enumerate(xs)]).data
            below = f(xs[i]) if forward else f(xs[i] - h)
            pairs.append((leaves[i].grad, (f(xs[i] + h) - below) / (h if forward else 2 * h)))
        return pairs
    return gradient_check


def make_loss_gradient_check(zero_grad=True):
    def loss_gradient_check(model, xs, ys, h=1e-5):
        def loss():
            return sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        if zero_grad:
            for p in model.parameters():
                p.grad = 0.0
        loss().backward()
        pairs = []
        for p in model.parameters():
            kept = p.data
            p.data = kept + h
            up = loss().data
            p.data = kept - h
            down = loss().data
            p.data = kept
            pairs.append((p.grad, (up - down) / (2 * h)))
        return pairs
    return loss_gradient_check


def make_exp(derivative_of_input=False):
    def exp(v):
        out = microgradlab.Value(math.exp(v.data), (v,), "exp")

        def _backward():
            v.grad += (v.data if derivative_of_input else out.data) * out.grad
        out._backward = _backward
        return out
    return exp


def make_relu(slope_at_zero=0.0, passes_negative=False):
    def relu(v):
        out = microgradlab.Value(v.data if v.data > 0 else 0.0, (v,), "relu")

        def _backward():
            x = v.data
            slope = 1.0 if (x > 0 or passes_negative) else slope_at_zero if x == 0 else 0.0
            v.grad += slope * out.grad
        out._backward = _backward
        return out
    return relu


def make_neuron(tanh, squash=True):
    def neuron(xs, ws, b):
        total = sum((w * x for w, x in zip(ws, xs)), microgradlab.Value(0.0)) + b
        return tanh(total) if squash else total
    return neuron


def by_hand(a, b, c, f):
    e = a * b
    d = e + c
    L = d * f
    dL_dd, dL_df = f, d
    dL_de = dL_dc = dL_dd
    return {"e": e, "d": d, "L": L, "dL_dd": dL_dd, "dL_df": dL_df, "dL_de": dL_de,
            "dL_dc": dL_dc, "dL_da": dL_de * b, "dL_db": dL_de * a}


def make_mlp_classes(last_tanh=False):
    tanh = make_tanh()
    V = microgradlab.Value

    class Neuron:
        def __init__(self, nin, nonlin=True):
            self.w = [V(random.uniform(-1, 1)) for _ in range(nin)]  # as notebook 06 asks
            self.b = V(0.0)
            self.nonlin = nonlin

        def __call__(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), V(0.0)) + self.b
            return tanh(act) if self.nonlin else act

        def parameters(self):
            return self.w + [self.b]

    class Layer:
        def __init__(self, nin, nout, nonlin=True):
            self.neurons = [Neuron(nin, nonlin) for _ in range(nout)]

        def __call__(self, x):
            outs = [n(x) for n in self.neurons]
            return outs[0] if len(outs) == 1 else outs

        def parameters(self):
            return [p for n in self.neurons for p in n.parameters()]

    class MLP:
        def __init__(self, nin, nouts):
            sizes = [nin] + nouts
            self.layers = [Layer(sizes[i], sizes[i + 1], last_tanh or i != len(nouts) - 1)
                           for i in range(len(nouts))]

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

        def parameters(self):
            return [p for layer in self.layers for p in layer.parameters()]

    return {"Neuron": Neuron, "Layer": Layer, "MLP": MLP}


def make_train(zero_grad=True):
    def train(model, xs, ys, steps, lr):
        losses = []
        for _ in range(steps):
            loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
            if zero_grad:
                for p in model.parameters():
                    p.grad = 0.0
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
            losses.append(loss.data)
        return losses
    return train


def central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def forward(f, x, h):
    return (f(x + h) - f(x)) / h


def numerical_gradient(f, point, h=1e-6):
    grads = []
    for i in range(len(point)):
        up = list(point)
        up[i] += h
        grads.append((f(*up) - f(*point)) / h)  # a forward difference is accepted too
    return grads


def gradient_descent(grad, start, lr, steps):
    path = [list(start)]
    for _ in range(steps):
        g = grad(*path[-1])
        path.append([x - lr * gi for x, gi in zip(path[-1], g)])
    return path


CORRECT = {
    "ex01_difference": dict(forward_difference=forward, central_difference=central),
    "ex01_gradient": dict(numerical_gradient=numerical_gradient),
    "ex01_descent": dict(gradient_descent=gradient_descent),
    "ex02_value": dict(Value=make_learner_value()),
    "ex03_add_mul": dict(Value=make_learner_value()),
    "ex03_sub_neg": dict(Value=make_learner_value()),
    "ex03_div_pow": dict(Value=make_learner_value()),
    "ex04_by_hand": dict(by_hand=by_hand),
    "ex04_topological_order": dict(topological_order=learner_topological_order),
    "ex04_backward": dict(backward=learner_backward),
    "ex04_gradient_check": dict(gradient_check=make_gradient_check()),
    "ex05_tanh": dict(tanh=make_tanh()),
    "ex05_exp": dict(exp=make_exp()),
    "ex05_relu": dict(relu=make_relu()),
    "ex05_neuron": dict(neuron=make_neuron(make_tanh())),
    "ex06_neuron": dict(Neuron=make_mlp_classes()["Neuron"]),
    "ex06_layer": {k: v for k, v in make_mlp_classes().items() if k != "MLP"},
    "ex06_mlp": make_mlp_classes(),
    "ex06_gradient_check": dict(loss_gradient_check=make_loss_gradient_check(),
                                MLP=make_mlp_classes()["MLP"]),
    "ex06_training": dict(train=make_train(), MLP=make_mlp_classes()["MLP"]),
}


def test_every_exercise_has_a_correct_learner_here():
    assert set(CORRECT) == {e.id for e in all_exercises()}


@pytest.mark.parametrize("exercise_id", [param(e, e) for e in sorted(CORRECT)])
def test_correct_learner_code_passes_for_several_seeds(exercise_id):
    for seed in SEEDS:
        result = run_exercise(exercise_id, CORRECT[exercise_id], seed=seed)
        assert result.passed, result.summary
    verify(exercise_id, **CORRECT[exercise_id])
    assert self_check(exercise_id, **CORRECT[exercise_id]).state == "correct"


@pytest.mark.parametrize("exercise_id", [param(e, e) for e in sorted(CORRECT)])
def test_stubs_are_not_attempted(exercise_id):
    names = {name: stub for name in CORRECT[exercise_id]}
    if exercise_id.startswith(("ex02", "ex03")):
        class Value:
            def __init__(self, data, _children=(), _op="", label=""):
                raise NotImplementedError
        names = {"Value": Value}
    if exercise_id == "ex06_mlp":
        class MLP:
            def __init__(self, nin, nouts):
                raise NotImplementedError
        names = {"Neuron": stub, "Layer": stub, "MLP": MLP}
    result = run_exercise(exercise_id, names, seed=1)
    assert result.not_attempted and not result.passed
    assert self_check(exercise_id, **names).state == "not_attempted"
    with pytest.raises(AssertionError, match="not attempted"):
        verify(exercise_id, **names)


# ----------------------------------------------------------------------------
# Catalogued mistakes
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("exercise_id", ["ex03_add_mul", "ex03_sub_neg", "ex03_div_pow"])
def test_assign_instead_of_accumulate(exercise_id):
    assert_mistake(exercise_id, "assign_not_accumulate", Value=make_learner_value(assign=True))


def test_mul_uses_own_data():
    assert_mistake("ex03_add_mul", "mul_uses_own_data", Value=make_learner_value(mul_own=True))


def test_sub_sign_flipped():
    assert_mistake("ex03_sub_neg", "sub_sign_flipped", Value=make_learner_value(sub_flip=True))


def test_pow_missing_minus_one():
    assert_mistake("ex03_div_pow", "pow_missing_minus_one", Value=make_learner_value(pow_no_minus=True))


def test_tanh_derivative_of_input():
    assert_mistake("ex05_tanh", "tanh_derivative_of_input", tanh=make_tanh(derivative_of_input=True))


def test_gradient_check_with_a_forward_difference():
    assert_mistake("ex04_gradient_check", "forward_difference_in_check",
                   gradient_check=make_gradient_check(forward=True))


def test_loss_gradient_check_without_zeroing_stale_grads():
    assert_mistake("ex06_gradient_check", "no_zero_grad",
                   loss_gradient_check=make_loss_gradient_check(zero_grad=False),
                   MLP=make_mlp_classes()["MLP"])


def test_exp_derivative_of_input():
    assert_mistake("ex05_exp", "exp_derivative_of_input", exp=make_exp(derivative_of_input=True))


def test_relu_gradient_on_the_flat_side_and_at_zero():
    assert_mistake("ex05_relu", "relu_passes_negative", relu=make_relu(passes_negative=True))
    assert_mistake("ex05_relu", "relu_gradient_at_zero", relu=make_relu(slope_at_zero=1.0))


def test_backward_without_seed():
    def backward(root):
        for node in reversed(learner_topological_order(root)):
            node._backward()
    assert_mistake("ex04_backward", "output_not_seeded", backward=backward)


def test_backward_recursive_walk_without_topological_order():
    def backward(root):
        root.grad = 1.0
        seen = set()
        stack = [root]
        while stack:  # each node pushes as soon as it is reached: too early for shared nodes
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            node._backward()
            stack.extend(reversed(node._prev))
    assert_mistake("ex04_backward", "no_topological_order", backward=backward)


def test_backward_order_not_reversed():
    def backward(root):
        root.grad = 1.0
        for node in learner_topological_order(root):
            node._backward()
    assert_mistake("ex04_backward", "not_reversed", backward=backward)


def test_recursive_topological_order_fails_on_the_deep_chain():
    def topological_order(root):
        order, seen = [], set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for child in v._prev:
                    visit(child)
                order.append(v)
        visit(root)
        return order
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        assert_mistake("ex04_topological_order", "recursion_too_deep",
                       topological_order=topological_order)
    finally:
        sys.setrecursionlimit(old)


def test_no_zero_grad_in_training():
    assert_mistake("ex06_training", "no_zero_grad", train=make_train(zero_grad=False),
                   MLP=make_mlp_classes()["MLP"])


def test_last_layer_with_tanh():
    assert_mistake("ex06_mlp", "last_layer_tanh", **make_mlp_classes(last_tanh=True))


def test_neuron_without_tanh():
    assert_mistake("ex05_neuron", "forgot_tanh", neuron=make_neuron(make_tanh(), squash=False))


def test_central_difference_divided_by_h():
    assert_mistake("ex01_difference", "central_divides_by_h", forward_difference=forward,
                   central_difference=lambda f, x, h: (f(x + h) - f(x - h)) / h)


def test_gradient_ascent():
    def ascent(grad, start, lr, steps):
        path = [list(start)]
        for _ in range(steps):
            path.append([x + lr * g for x, g in zip(path[-1], grad(*path[-1]))])
        return path
    assert_mistake("ex01_descent", "gradient_ascent", gradient_descent=ascent)


def test_hard_coded_answer_fails_on_other_cases():
    shown = by_hand(3.0, -2.0, 4.0, 5.0)
    assert_mistake("ex04_by_hand", "hard_coded", by_hand=lambda a, b, c, f: dict(shown))


def test_messages_of_hidden_cases_never_print_the_expected_number():
    result = run_exercise("ex04_by_hand", {"by_hand": lambda a, b, c, f: dict(
        by_hand(a, b, c, f), dL_da=123.0)}, seed=5)
    from microgradlab.checking import expected
    from microgradlab.exercises import get
    for case, r in zip(get("ex04_by_hand").cases(5), result.results):
        assert not r.passed and "dL_da" in r.message
        if not case["shown"]:
            want = expected(get("ex04_by_hand"), case)["values"]["dL_da"]
            body = r.message.split("':", 1)[1]  # after the case name, which holds the inputs
            assert f"{want:.10g}" not in body and "should be" not in body


# ----------------------------------------------------------------------------
# The reference solution does not count
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("exercise_id, names", [
    ("ex02_value", {"Value": microgradlab.Value}),
    ("ex03_add_mul", {"Value": microgradlab.Value}),
    ("ex04_backward", {"backward": lambda root: root.backward()}),
    ("ex01_difference", {"forward_difference": numeric.forward_difference,
                         "central_difference": numeric.central_difference}),
    ("ex05_tanh", {"tanh": lambda v: v.tanh()}),
    ("ex06_mlp", {"Neuron": microgradlab.nn.Neuron, "Layer": microgradlab.nn.Layer,
                  "MLP": microgradlab.nn.MLP}),
])
def test_reference_solution_is_refused(exercise_id, names):
    with pytest.raises(AssertionError, match="reference solution"):
        verify(exercise_id, **names)
    assert microgradlab.Value(2.0).tanh().data == math.tanh(2.0)  # restored afterwards


# ----------------------------------------------------------------------------
# Hostile learner objects never crash produce
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    lambda *a: "a string", lambda *a: None, lambda *a: [1, 2, 3],
    lambda *a: sys.exit(3), lambda *a: 1 / 0, lambda *a: microgradlab.Value(1.0),
])
def test_hostile_answers_fail_cleanly(answer, capsys):
    for exercise_id, name in [("ex04_by_hand", "by_hand"), ("ex04_backward", "backward"),
                              ("ex01_descent", "gradient_descent"), ("ex05_tanh", "tanh"),
                              ("ex06_training", "train")]:
        names = {name: answer, **({"MLP": make_mlp_classes()["MLP"]}
                                  if exercise_id == "ex06_training" else {})}
        result = run_exercise(exercise_id, names, seed=1)
        assert not result.passed and not result.not_attempted
    assert capsys.readouterr().err == ""


def test_hints_come_in_tiers_without_code():
    texts = [hint_text("ex04_backward") for _ in range(4)]
    assert texts[0].startswith("Hint 1 of") and texts[1].startswith("Hint 2 of")
    assert "last hint" in texts[-1]
    for exercise in all_exercises():
        for h in exercise.hints:
            assert not re.search(r"def \w+\(|lambda |\n", h), h


mark_tests_by_source(globals())  # `pytest -m ex04_backward` runs what names it


# ----------------------------------------------------------------------------
# The spec is the only place an exercise is described
# ----------------------------------------------------------------------------
def test_no_exercise_id_branch_in_checking_or_widgets():
    import ast
    from pathlib import Path

    package = Path(microgradlab.__file__).parent
    found = []
    for folder in ("checking", "widgets"):
        for path in sorted((package / folder).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                          if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
                          and node.body and isinstance(node.body[0], ast.Expr)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and id(node) not in docstrings and re.search(r"\bex0\d_", node.value)):
                    found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert not found, f"exercise ids named outside their spec: {found}"


def test_kind_answers_for_a_channel_proxy():
    from microgradlab.exercises import kind

    class Proxy:
        __mgl_proxy__ = True

        def __getattribute__(self, name):  # a proxy forwards everything
            raise AssertionError(f"kind() must not ask the proxy for {name}")

    proxy = object.__new__(Proxy)
    object.__setattr__(proxy, "_mgl_kind", "Value")
    assert kind(proxy) == "Value" and kind(2.5) == "float"


def test_provided_pieces_are_imported_only_when_missing():
    from microgradlab.exercises import get

    exercise = get("ex04_backward")
    assert exercise.provides == {"Value": "microgradlab.engine:Value"}
    built = []

    class Recording(microgradlab.Value):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    case = exercise.cases(1)[0]
    exercise.produce(case, {"backward": learner_backward, "Value": Recording})
    assert built, "a Value passed in names must be used instead of the import"
    assert "values" in exercise.produce(case, {"backward": learner_backward})


def test_click_reads_the_names_of_the_kernel_at_click_time():
    from IPython.core.interactiveshell import InteractiveShell

    from microgradlab.checking.run import current_names

    shell = InteractiveShell.instance()  # a real shell: get_ipython() now answers with it
    try:
        stale = lambda root: None  # noqa: E731 - what the check cell saw when it first ran
        shell.user_ns["backward"] = learner_backward  # the answer cell, edited and re-run
        assert current_names("ex04_backward", {"backward": stale})["backward"] is learner_backward
    finally:
        InteractiveShell.clear_instance()

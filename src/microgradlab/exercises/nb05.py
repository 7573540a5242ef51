"""Notebook 05 (tanh and the neuron): a new op with its own rule, then a neuron.

tanh, exp and relu are each "an operation the learner writes as a function of a
Value", made by :func:`.own_op.own_op_exercise` from the op's kind: only their
cases and hints live here. The neuron is built from the engine's ``Value`` and
the learner's ``neuron``; the checker's own walk runs its ``_backward`` steps.
"""

from __future__ import annotations

from . import programs as P
from . import register as _register
from ._base import Exercise, LearnerOutputError, kind, named, nodes_inputs_first, number, run_backward
from .own_op import PROVIDES, own_op_exercise, program_case

NOTEBOOK = "05_tanh_neuron"


# ---------------------------------------------------------------- ex05_tanh
def _tanh_fixed():
    return [
        program_case("out = tanh(v) at v = 0.5", True, {"v": 0.5}, [["out", "tanh", "v"]], "out"),
        program_case("y = tanh(x) * x at x = 0.3 (x used twice)", True, {"x": 0.3},
                   [["t", "tanh", "x"], ["y", "mul", "t", "x"]], "y"),
        program_case("out = tanh(v) at v = 1e4 (very large)", False, {"v": 1e4}, [["out", "tanh", "v"]], "out"),
        program_case("out = tanh(v) at v = -1e4 (very negative)", False, {"v": -1e4}, [["out", "tanh", "v"]], "out"),
        program_case("out = tanh(v) at v = -800", False, {"v": -800.0}, [["out", "tanh", "v"]], "out"),
        program_case("y = tanh(t) * tanh(t) with t = a*b + b, a=0.4, b=-1.2", False, {"a": 0.4, "b": -1.2},
                   [["ab", "mul", "a", "b"], ["t", "add", "ab", "b"], ["u", "tanh", "t"],
                    ["y", "mul", "u", "u"]], "y"),
    ]


def _tanh_draw(rng):
    cases = []
    x = round(rng.uniform(-3, 3), 3)
    cases.append(program_case(f"out = tanh(v) at v = {x}", False, {"v": x}, [["out", "tanh", "v"]], "out"))
    program = P.random_program(rng, ops=("add", "mul", "tanh"), n_leaves=2, n_ops=5)
    program["ops"].append(["squashed", "tanh", program["output"]])  # at least one tanh
    program["output"] = "squashed"
    cases.append({"name": "a random expression with tanh", "program": program})
    return cases


# ---------------------------------------------------------------- ex05_neuron
def neuron_program(xs, ws, b, with_tanh=True):
    """o = tanh(w1*x1 + ... + wn*xn + b) as a program (sum from the left, then + b)."""
    leaves = {f"x{i}": x for i, x in enumerate(xs)}
    leaves.update({f"w{i}": w for i, w in enumerate(ws)})
    leaves["b"] = b
    ops, total = [], None
    for i in range(len(xs)):
        ops.append([f"p{i}", "mul", f"w{i}", f"x{i}"])
        if total is None:
            total = f"p{i}"
        else:
            ops.append([f"s{i}", "add", total, f"p{i}"])
            total = f"s{i}"
    if total is None:
        ops.append(["n", "addc", "b", 0.0])
    else:
        ops.append(["n", "add", total, "b"])
    if with_tanh:
        ops.append(["o", "tanh", "n"])
    else:
        ops.append(["o", "mulc", "n", 1.0])
    return {"leaves": leaves, "ops": ops, "output": "o"}


def _neuron_case(name, shown, xs, ws, b):
    return {"name": name, "shown": shown, "xs": xs, "ws": ws, "b": b,
            "program": neuron_program(xs, ws, b)}


def _neuron_fixed():
    return [
        _neuron_case("x = [2, 0], w = [-3, 1], b = 6.8814 (the course neuron)", True,
                     [2.0, 0.0], [-3.0, 1.0], 6.881373587019543),
        _neuron_case("one input: x = [0.5], w = [1.5], b = -0.25", False, [0.5], [1.5], -0.25),
        _neuron_case("three inputs, a saturated neuron", False, [3.0, -2.0, 4.0], [2.0, -1.5, 1.0], 1.0),
    ]


def _neuron_draw(rng):
    cases = []
    for _ in range(2):
        n = rng.randint(2, 4)
        xs = [round(rng.uniform(-2, 2), 3) for _ in range(n)]
        ws = [round(rng.uniform(-1, 1), 3) for _ in range(n)]
        cases.append(_neuron_case(f"a random neuron with {n} inputs", False, xs, ws,
                                  round(rng.uniform(-1, 1), 3)))
    return cases


def _neuron_produce(case, names):
    Value = names["Value"]
    xs = [Value(x) for x in case["xs"]]
    ws = [Value(w) for w in case["ws"]]
    b = Value(case["b"])
    out = names["neuron"](xs, ws, b)
    if not (hasattr(out, "data") and hasattr(out, "_prev")):
        raise LearnerOutputError(f"neuron should return a Value, got {kind(out)}")
    values = {"neuron(xs, ws, b).data": number(out.data, "the neuron's output .data")}
    run_backward(out, stop=xs + ws + [b])
    for label, group in (("xs", xs), ("ws", ws)):
        for i, v in enumerate(group):
            values[f"{label}[{i}].grad"] = number(v.grad, f"{label}[{i}].grad")
    values["b.grad"] = number(b.grad, "b.grad")
    reached = {id(n) for n in nodes_inputs_first(out, stop=xs + ws + [b])}
    return {"values": values,
            "facts": {NEURON_FACT: all(id(v) in reached for v in ws + [b])}}


def _neuron_report(case, values, grads):
    out = {"neuron(xs, ws, b).data": values["o"]}
    out.update({f"xs[{i}].grad": grads[f"x{i}"] for i in range(len(case["xs"]))})
    out.update({f"ws[{i}].grad": grads[f"w{i}"] for i in range(len(case["ws"]))})
    out["b.grad"] = grads["b"]
    return out


def _neuron_variants(case):
    return {"forgot_tanh": neuron_program(case["xs"], case["ws"], case["b"], with_tanh=False)}


_register(own_op_exercise(
    kind="tanh", id="ex05_tanh", notebook=NOTEBOOK, title="tanh as a Value operation", hints=(
        "tanh is one more operation: compute its value, record its input, and give it a _backward.",
        "The local derivative of tanh is 1 - tanh(x)**2: written with the OUTPUT, not the input.",
        "Compute the number with the stable form of section 3 (t = e**(-2|x|) never overflows, then "
        "attach the sign of x), build out with children (v,) and _op 'tanh', and give it a _backward "
        "that adds into v.grad: which stored number does the local derivative use?",
    ), fixed=_tanh_fixed, draw=_tanh_draw,
    mistakes=named("tanh_derivative_of_input", "tanh_backward_missing",
                   assign_not_accumulate="your tanh's _backward assigns the input's grad: "
                   "write v.grad += (1 - t**2) * out.grad, so a Value used again keeps its "
                   "other shares.")))


# ---------------------------------------------------------------- ex05_exp, ex05_relu
def _exp_fixed():
    case = program_case
    return [
        case("out = exp(v) at v = 1", True, {"v": 1.0}, [["out", "exp", "v"]], "out"),
        case("y = exp(x) * x at x = 0.5 (x used twice)", True, {"x": 0.5},
             [["e", "exp", "x"], ["y", "mul", "e", "x"]], "y"),
        case("out = exp(v) at v = -2.5", False, {"v": -2.5}, [["out", "exp", "v"]], "out"),
        case("out = exp(v) at v = -800 (underflows to 0)", False, {"v": -800.0},
             [["out", "exp", "v"]], "out"),
        case("y = exp(exp(a) * b) with a = 0.3, b = -0.7", False, {"a": 0.3, "b": -0.7},
             [["e", "exp", "a"], ["t", "mul", "e", "b"], ["y", "exp", "t"]], "y"),
    ]


def _exp_draw(rng):
    x = round(rng.uniform(-3, 3), 3)
    single = program_case(f"out = exp(v) at v = {x}", False, {"v": x}, [["out", "exp", "v"]],
                          "out")
    program = P.random_program(rng, ops=("add", "mul", "exp"), n_leaves=2, n_ops=4)
    first = next(iter(program["leaves"]))  # in [-2, 2]: exp of it stays tame
    program["ops"] += [["grown", "exp", first], ["out", "mul", program["output"], "grown"]]
    program["output"] = "out"
    return [single, {"name": "a random expression with exp", "program": program}]


def _relu_fixed():
    case = program_case
    return [
        case("out = relu(v) at v = 1.5", True, {"v": 1.5}, [["out", "relu", "v"]], "out"),
        case("out = relu(v) at v = -0.5", True, {"v": -0.5}, [["out", "relu", "v"]], "out"),
        case("y = relu(x) * x at x = 0.3 (x used twice)", True, {"x": 0.3},
             [["r", "relu", "x"], ["y", "mul", "r", "x"]], "y"),
        case("out = relu(v) at v = 0 (exactly on the corner)", False, {"v": 0.0},
             [["out", "relu", "v"]], "out"),
        case("y = relu(a * b) + relu(b) with a = 0, b = -1.2", False, {"a": 0.0, "b": -1.2},
             [["ab", "mul", "a", "b"], ["r", "relu", "ab"], ["s", "relu", "b"],
              ["y", "add", "r", "s"]], "y"),
        case("y = relu(x) * relu(x + 1) at x = -0.4", False, {"x": -0.4},
             [["r", "relu", "x"], ["x1", "addc", "x", 1.0], ["q", "relu", "x1"],
              ["y", "mul", "r", "q"]], "y"),
    ]


def _relu_draw(rng):
    x = round(rng.uniform(-3, 3), 3)
    single = program_case(f"out = relu(v) at v = {x}", False, {"v": x}, [["out", "relu", "v"]],
                          "out")
    program = P.random_program(rng, ops=("add", "mul", "relu"), n_leaves=2, n_ops=5)
    # a negative leaf through a relu: the flat side, where no gradient may pass
    flat = next((n for n, v in program["leaves"].items() if v < 0), None)
    if flat is not None:
        program["ops"] += [["cut", "relu", flat], ["out", "add", program["output"], "cut"]]
        program["output"] = "out"
    else:
        program["ops"].append(["out", "relu", program["output"]])
        program["output"] = "out"
    return [single, {"name": "a random expression with relu", "program": program}]


_register(own_op_exercise(
    kind="exp", id="ex05_exp", notebook=NOTEBOOK, title="exp as a Value operation", hints=(
        "exp is one more operation like tanh: compute its value, record its input, give it a "
        "_backward.",
        "The exponential is its own derivative: d/dx e**x = e**x, which is the number the output "
        "already holds (not the input x).",
        "Build out = Value(math.exp(v.data), (v,), 'exp') and attach a _backward that adds into "
        "v.grad: local derivative times out.grad. Which stored number is e**x?",
    ), fixed=_exp_fixed, draw=_exp_draw,
    mistakes=named(exp_derivative_of_input="the derivative of e**x is e**x itself, the number "
                   "your output already holds (out.data), not the input x: "
                   "v.grad += out.data * out.grad.")))

_register(own_op_exercise(
    kind="relu", id="ex05_relu", notebook=NOTEBOOK, title="relu as a Value operation", hints=(
        "relu keeps a positive number and turns everything else into 0; it is an operation "
        "with a _backward like tanh and exp.",
        "Its slope is 1 where the input is positive and 0 where it is not, 0 included (as "
        "PyTorch defines it): on the flat side no gradient passes back.",
        "Build out = Value(v.data if v.data > 0 else 0.0, (v,), 'relu') and attach a _backward "
        "that adds (local slope) * out.grad into v.grad. Which comparison gives the slope, and "
        "what happens at exactly 0?",
    ), fixed=_relu_fixed, draw=_relu_draw,
    # at zero first: on an input of exactly 0 both match, and the narrower one is meant
    mistakes=named(
        relu_gradient_at_zero="at exactly 0 relu's slope is 0 (PyTorch's choice, and the "
        "notebook's): compare with > 0, not >= 0.",
        relu_passes_negative="on the flat side (input <= 0) relu's slope is 0: the gradient "
        "must not pass back there. Add out.grad into v.grad only when out.data > 0.")))


NEURON_FACT = "the output depends on every weight and the bias"

_register(Exercise(
    id="ex05_neuron", notebook=NOTEBOOK, title="A neuron", uses=("neuron",), hints=(
        "A neuron multiplies each input by its weight, adds everything up with the bias, and squashes.",
        "Build the sum with Value operations (so the graph is recorded) and apply YOUR tanh at the end.",
        "Pair each weight with its input (zip), add up the products with sum (it starts at 0, and "
        "0 + Value works through __radd__), add b, and pass the total through your tanh.",
    ), fixed=_neuron_fixed, draw=_neuron_draw, producer=_neuron_produce, report=_neuron_report,
    variants=_neuron_variants, provides=PROVIDES, builds_on=("ex05_tanh",),
    mistakes=named("forgot_tanh", "hard_coded"),
    where=lambda case, key: ("Look at how your neuron combines ws, xs and b (every w * x, "
                             "then + b, then your tanh)."),
    facts=lambda case: {NEURON_FACT: True}))

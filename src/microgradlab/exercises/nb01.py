"""Notebook 01 (derivatives): slopes by nudging, gradients, gradient descent.

The functions the learner differentiates are programs (see programs.py), so
the learner's side runs them on floats with :mod:`math` and the checker runs
the same program on torch tensors.
"""

from __future__ import annotations

from . import programs as P
from ._base import Exercise, kind, numbers, number
from . import register as _register

NOTEBOOK = "01_derivatives"


def _program(leaves, ops, output):
    return {"leaves": leaves, "ops": ops, "output": output}


def _square(x):  # f(x) = x**2
    return _program({"x": x}, [["y", "pow", "x", 2]], "y")


def _wiggly(x):  # f(x) = tanh(x) * x + 3
    return _program({"x": x}, [["t", "tanh", "x"], ["m", "mul", "t", "x"], ["y", "addc", "m", 3.0]], "y")


def _cubic(x):  # f(x) = x**3 - 2x
    return _program({"x": x}, [["c", "pow", "x", 3], ["d", "mulc", "x", 2.0], ["y", "sub", "c", "d"]], "y")


# ---------------------------------------------------------------- ex01_difference
def _difference_fixed():
    return [
        {"name": "f(x) = x**2 from x = 3 to x = 4 (h = 1): slope 7", "shown": True,
         "program": _square(3.0), "x": 3.0, "h": 1.0},
        {"name": "f(x) = x**2 at x = 3 with h = 1e-6", "shown": False,
         "program": _square(3.0), "x": 3.0, "h": 1e-6},
        {"name": "f(x) = x**2 at x = 3 with a big step h = 0.5", "shown": False,
         "program": _square(3.0), "x": 3.0, "h": 0.5},
        {"name": "f(x) = x**3 - 2x at x = -1.5 with h = 0.1", "shown": False,
         "program": _cubic(-1.5), "x": -1.5, "h": 0.1},
    ]


def _difference_draw(rng):
    cases = []
    for _ in range(3):
        x = round(rng.uniform(-2, 2), 3)
        make = rng.choice([_square, _wiggly, _cubic])
        h = rng.choice([0.1, 0.05, 0.01])
        cases.append({"name": f"a function at x = {x} with h = {h}", "program": make(x), "x": x, "h": h})
    return cases


def _difference_produce(case, names):
    f = P.as_function(case["program"])
    x, h = case["x"], case["h"]
    return {"values": {
        f"forward_difference(f, {x}, {h})": number(names["forward_difference"](f, x, h),
                                                   "forward_difference's result"),
        f"central_difference(f, {x}, {h})": number(names["central_difference"](f, x, h),
                                                   "central_difference's result"),
    }}


# ---------------------------------------------------------------- ex01_gradient
def _round_bowl(x, y):  # f(x, y) = x**2 + y**2, the notebook's example
    return _program({"x": x, "y": y}, [["p", "pow", "x", 2], ["q", "pow", "y", 2], ["f", "add", "p", "q"]], "f")


def _two_d(x, y):  # f(x, y) = x*y + y**2
    return _program({"x": x, "y": y}, [["p", "mul", "x", "y"], ["q", "pow", "y", 2], ["f", "add", "p", "q"]], "f")


def _gradient_fixed():
    return [
        {"name": "f(x, y) = x**2 + y**2 at (1, 2): gradient <2, 4>", "shown": True,
         "program": _round_bowl(1.0, 2.0), "point": [1.0, 2.0]},
        {"name": "f(x, y) = x*y + y**2 at (1, 2)", "shown": False, "program": _two_d(1.0, 2.0),
         "point": [1.0, 2.0]},
        {"name": "f(x, y) = x*y + y**2 at (-3, 0.5)", "shown": False, "program": _two_d(-3.0, 0.5),
         "point": [-3.0, 0.5]},
    ]


def _gradient_draw(rng):
    cases = []
    for _ in range(2):
        program = P.random_program(rng, ops=("add", "mul", "sub", "tanh", "pow"), n_leaves=3, n_ops=4)
        cases.append({"name": "a random function of 3 numbers", "program": program,
                      "point": list(program["leaves"].values())})
    return cases


def _gradient_produce(case, names):
    f = P.as_function(case["program"])
    point = list(case["point"])
    given = list(point)
    result = names["numerical_gradient"](f, given, 1e-6)
    partials = numbers(result, "numerical_gradient's result", len(point))
    return {"values": {f"numerical_gradient(f, {point})[{i}]": v for i, v in enumerate(partials)},
            "facts": {"point unchanged": given == point}}


# ---------------------------------------------------------------- ex01_descent
def _bowl(x, y):  # f(x, y) = (x - 1)**2 + 2*(y + 2)**2, lowest at (1, -2)
    return _program({"x": x, "y": y}, [["u", "subc", "x", 1.0], ["v", "addc", "y", 2.0],
                                       ["u2", "pow", "u", 2], ["v2", "pow", "v", 2],
                                       ["w", "mulc", "v2", 2.0], ["f", "add", "u2", "w"]], "f")


def _descent_fixed():
    return [
        {"name": "f(x, y) = x**2 + y**2 from (1, 2), lr = 0.1, 3 steps", "shown": True,
         "program": _round_bowl(1.0, 2.0), "start": [1.0, 2.0], "lr": 0.1, "steps": 3},
        {"name": "f(x, y) = (x-1)**2 + 2*(y+2)**2 from (3, 1), lr = 0.1, 5 steps", "shown": False,
         "program": _bowl(3.0, 1.0), "start": [3.0, 1.0], "lr": 0.1, "steps": 5},
        {"name": "the same bowl from (-2, 0), lr = 0.2, 1 step", "shown": False,
         "program": _bowl(-2.0, 0.0), "start": [-2.0, 0.0], "lr": 0.2, "steps": 1},
        {"name": "the same bowl, 0 steps (just the start)", "shown": False,
         "program": _bowl(0.5, 0.5), "start": [0.5, 0.5], "lr": 0.1, "steps": 0},
    ]


def _descent_draw(rng):
    x, y = round(rng.uniform(-3, 3), 3), round(rng.uniform(-3, 3), 3)
    return [{"name": f"the bowl from ({x}, {y})", "program": _bowl(x, y), "start": [x, y],
             "lr": rng.choice([0.05, 0.1, 0.2]), "steps": rng.randint(2, 6)}]


def make_grad(program):
    """grad(*point) -> list of partials of ``program`` (the function the learner descends)."""
    names = P.leaf_names(program)

    def grad(*point):
        if len(point) != len(names):
            raise TypeError(f"grad takes {len(names)} numbers (grad(*point)), got {len(point)}")
        grads = P.gradients(program, leaves=dict(zip(names, point)))
        return [grads[n] for n in names]

    return grad


def _descent_produce(case, names):
    start = list(case["start"])
    given = list(start)
    path = names["gradient_descent"](make_grad(case["program"]), given, case["lr"], case["steps"])
    if isinstance(path, (str, bytes)) or not hasattr(path, "__iter__"):
        raise TypeError(f"gradient_descent should return a list of points, got {kind(path)}")
    path = list(path)
    values = {"len(path)": float(len(path))}
    for i, point in enumerate(path[: case["steps"] + 1]):
        for j, v in enumerate(numbers(point, f"path[{i}]", len(start))):
            values[f"path[{i}][{j}]"] = v
    return {"values": values, "facts": {"start unchanged": given == start}}


HINTS_DIFFERENCE = (
    "A slope is rise over run: how much f changes, divided by how far you moved x.",
    "The forward difference moves x by h to one side only; the central one moves h to both "
    "sides, so its run is 2h, not h.",
    "Evaluate f at the nudged points, subtract, and divide by the distance between the two "
    "x values you used.",
)
HINTS_GRADIENT = (
    "A gradient is one slope per input: nudge one coordinate at a time, keep the others fixed.",
    "Copy the point before nudging a coordinate, so the caller's list and the other partials "
    "are not affected.",
    "For coordinate i: make a copy with +h at i and one with -h at i, call f(*copy) on each, "
    "and take the central difference.",
)
HINTS_DESCENT = (
    "Downhill is the direction opposite to the gradient.",
    "Return every point you visit, starting with the start: steps moves give steps + 1 points.",
    "Each step builds a NEW list x - lr * grad(x) coordinate by coordinate; appending the same "
    "list and changing it in place makes every point in your path the same.",
)

_register(Exercise("ex01_difference", NOTEBOOK, "Forward and central differences",
                   ("forward_difference", "central_difference"), HINTS_DIFFERENCE,
                   _difference_fixed, _difference_draw, _difference_produce))
_register(Exercise("ex01_gradient", NOTEBOOK, "The numerical gradient", ("numerical_gradient",),
                   HINTS_GRADIENT, _gradient_fixed, _gradient_draw, _gradient_produce,
                   facts=lambda case: {"point unchanged": True}))
_register(Exercise("ex01_descent", NOTEBOOK, "Gradient descent", ("gradient_descent",),
                   HINTS_DESCENT, _descent_fixed, _descent_draw, _descent_produce,
                   facts=lambda case: {"start unchanged": True}))

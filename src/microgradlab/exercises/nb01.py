"""Notebook 01 (derivatives): slopes by nudging, gradients, gradient descent.

The functions the learner differentiates are programs (see programs.py), so
the learner's side runs them on floats with :mod:`math` and the checker runs
the same program on torch tensors.
"""

from __future__ import annotations

from . import programs as P
from ._base import Exercise, kind, named, numbers, number
from . import register as _register

NOTEBOOK = "01_derivatives"
# Facts: the learner's function left the caller's list alone.
POINT_UNCHANGED = "point unchanged"
START_UNCHANGED = "start unchanged"


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


def _difference_keys(case):
    x, h = case["x"], case["h"]
    return f"forward_difference(f, {x}, {h})", f"central_difference(f, {x}, {h})"


def _differences(f, x, h):
    return (f(x + h) - f(x)) / h, (f(x + h) - f(x - h)) / (2 * h)


def _difference_pytorch(case, side):
    fwd, cen = _differences(side.function(case["program"]), case["x"], case["h"])
    return dict(zip(_difference_keys(case), (float(fwd), float(cen))))


def _difference_candidates(case):
    fwd, cen = _differences(P.as_function(case["program"]), case["x"], case["h"])
    fwd_key, cen_key = _difference_keys(case)
    return {"forward_divides_by_2h": [{fwd_key: fwd / 2, cen_key: cen}],
            "central_divides_by_h": [{fwd_key: fwd, cen_key: 2 * cen}],
            "forward_central_swapped": [{fwd_key: cen, cen_key: fwd}]}


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


def _gradient_pytorch(case, side):
    program = case["program"]
    leaves = P.leaf_names(program)
    _, grads = side.program(program, dict(zip(leaves, case["point"])))
    return {f"numerical_gradient(f, {list(case['point'])})[{i}]": grads[n]
            for i, n in enumerate(leaves)}


def _gradient_produce(case, names):
    f = P.as_function(case["program"])
    point = list(case["point"])
    given = list(point)
    result = names["numerical_gradient"](f, given, 1e-6)
    partials = numbers(result, "numerical_gradient's result", len(point))
    return {"values": {f"numerical_gradient(f, {point})[{i}]": v for i, v in enumerate(partials)},
            "facts": {POINT_UNCHANGED: given == point}}


# ---------------------------------------------------------------- ex01_descent
def _bowl(x, y):  # f(x, y) = (x - 1)**2 + 2*(y + 2)**2, lowest at (1, -2)
    return _program({"x": x, "y": y}, [["u", "subc", "x", 1.0], ["v", "addc", "y", 2.0],
                                       ["u2", "pow", "u", 2], ["v2", "pow", "v", 2],
                                       ["w", "mulc", "v2", 2.0], ["f", "add", "u2", "w"]], "f")


def _coupled(x, y):  # f(x, y) = (x - 1)**2 + x*y + 2*(y + 2)**2: the partials depend on both
    return _program({"x": x, "y": y}, [["u", "subc", "x", 1.0], ["u2", "pow", "u", 2],
                                       ["m", "mul", "x", "y"], ["v", "addc", "y", 2.0],
                                       ["v2", "pow", "v", 2], ["w", "mulc", "v2", 2.0],
                                       ["s", "add", "u2", "m"], ["f", "add", "s", "w"]], "f")


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
        # Each partial depends on both coordinates, so updating x before taking
        # y's partial gives other numbers than one step from one gradient.
        {"name": "f(x, y) = (x-1)**2 + x*y + 2*(y+2)**2 from (3, 1), lr = 0.1, 4 steps",
         "shown": False, "program": _coupled(3.0, 1.0), "start": [3.0, 1.0], "lr": 0.1,
         "steps": 4},
    ]


def _descent_draw(rng):
    x, y = round(rng.uniform(-3, 3), 3), round(rng.uniform(-3, 3), 3)
    return [{"name": f"a tilted bowl from ({x}, {y})", "program": _coupled(x, y), "start": [x, y],
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


def path_report(path, steps):
    values = {"len(path)": float(steps + 1)}
    for i, point in enumerate(path):
        for j, v in enumerate(point):
            values[f"path[{i}][{j}]"] = v
    return values


def _descent_path(case, grad, sign=-1.0, in_place=False):
    x = list(case["start"])
    path = [list(x)]
    for _ in range(case["steps"]):
        if in_place:  # one coordinate at a time, each partial taken at the moved point
            for j in range(len(x)):
                x[j] = x[j] + sign * case["lr"] * grad(*x)[j]
        else:
            g = grad(*x)
            x = [xi + sign * case["lr"] * gi for xi, gi in zip(x, g)]
        path.append(list(x))
    return path


def _descent_pytorch(case, side):
    program = case["program"]
    leaves = P.leaf_names(program)

    def grad(*point):
        _, grads = side.program(program, dict(zip(leaves, point)))
        return [grads[n] for n in leaves]

    return path_report(_descent_path(case, grad), case["steps"])


def _descent_candidates(case):
    grad, steps = make_grad(case["program"]), case["steps"]
    down = _descent_path(case, grad)
    return {"gradient_ascent": [path_report(_descent_path(case, grad, sign=+1.0), steps)],
            "start_missing": [path_report(down[1:], steps - 1)],
            "same_list_appended": [path_report([down[-1]] * len(down), steps)],
            "one_coordinate_at_a_time": [path_report(_descent_path(case, grad, in_place=True),
                                                     steps)]}


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
    return {"values": values, "facts": {START_UNCHANGED: given == start}}


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
    "Each step builds a NEW list from the last point: every coordinate minus lr times its "
    "partial from grad(*point). Appending one list and changing it in place makes every point "
    "in your path the same.",
)

_register(Exercise(
    id="ex01_difference", notebook=NOTEBOOK, title="Forward and central differences",
    uses=("forward_difference", "central_difference"), hints=HINTS_DIFFERENCE,
    fixed=_difference_fixed, draw=_difference_draw, producer=_difference_produce,
    # differences cancel digits away: float64 rounding shows at 1e-8
    tolerance=(1e-6, 1e-8), pytorch=_difference_pytorch, candidates=_difference_candidates,
    mistakes=named("forward_divides_by_2h", "central_divides_by_h", "forward_central_swapped",
                   "hard_coded")))
_register(Exercise(
    id="ex01_gradient", notebook=NOTEBOOK, title="The numerical gradient",
    uses=("numerical_gradient",), hints=HINTS_GRADIENT,
    fixed=_gradient_fixed, draw=_gradient_draw, producer=_gradient_produce,
    facts=lambda case: {POINT_UNCHANGED: True},
    fact_mistakes={POINT_UNCHANGED: "point_mutated"},
    tolerance=(1e-4, 1e-5),  # forward or central difference both accepted
    pytorch=_gradient_pytorch, mistakes=named("point_mutated", "hard_coded")))
_register(Exercise(
    id="ex01_descent", notebook=NOTEBOOK, title="Gradient descent",
    uses=("gradient_descent",), hints=HINTS_DESCENT,
    fixed=_descent_fixed, draw=_descent_draw, producer=_descent_produce,
    facts=lambda case: {START_UNCHANGED: True},
    fact_mistakes={START_UNCHANGED: "point_mutated"},
    pytorch=_descent_pytorch, candidates=_descent_candidates,
    mistakes=named("gradient_ascent", "start_missing", "same_list_appended",
                   "one_coordinate_at_a_time", "point_mutated", "hard_coded")))

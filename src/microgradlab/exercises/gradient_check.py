"""The gradient check: backward() refereed by central differences (notebook 04).

The learner writes ``gradient_check(build, xs, h)``: ``build(*values)`` makes the
output Value from one Value per input, ``xs`` are the input numbers. It returns,
for each input i, the pair

    (d out/d x_i from one backward pass,  (f(x + h e_i) - f(x - h e_i)) / (2h))

where ``f`` is ``build``'s output ``.data`` as a function of the numbers and ``e_i``
nudges input i alone. Both halves are checked against PyTorch: the first is
PyTorch's gradient, the second the same central difference of the function
evaluated with float64 tensors. A case is a program (``exercises.programs``);
the checker hands the learner a ``build`` that makes it from their Values.

The mistakes it recognises, each computed on floats (``candidates``):

* ``forward_difference_in_check``: (f(x + h e_i) - f(x)) / h, off by about h f''/2;
* ``step_not_h``: a central difference with some other step (1e-1 ... 1e-4) than h;
* ``grads_not_reset``: one set of input Values, one more backward() per input, so
  input i reports (i + 1) times its gradient;
* ``wrong_input_nudged``: every numeric gradient taken by nudging the first input,
  or by nudging all inputs together;
* ``point_mutated`` (a fact): the list ``xs`` the learner was given was changed.
"""

from __future__ import annotations

from . import programs as P
from ._base import Exercise, LearnerOutputError, kind, named, numbers

XS_UNCHANGED = "gradient_check leaves the list xs it was given as it was"
OTHER_STEPS = (1.0, 0.1, 0.01, 1e-3, 1e-4)
# The learner's central difference and PyTorch's differ only by rounding, which
# the division by 2h magnifies: about 1e-16 * |f| / h.
TOLERANCE = (1e-7, 1e-7)


def case_of(name, shown, program, h):
    return {"name": name, "shown": shown, "program": program, "h": h}


def inputs_of_case(case):
    """(the leaf names, their numbers) in the order build takes them."""
    leaves = case["program"]["leaves"]
    return list(leaves), [float(leaves[n]) for n in leaves]


def backward_key(i, name):
    return f"gradient_check(...)[{i}][0] (backward's d/d{name})"


def numeric_key(i, name):
    return f"gradient_check(...)[{i}][1] (central difference in {name})"


def central(f, xs, i, h):
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (float(f(*up)) - float(f(*down))) / (2 * h)


def _report(case, grads, numeric):
    names, _ = inputs_of_case(case)
    out = {}
    for i, name in enumerate(names):
        out[backward_key(i, name)] = grads[i]
        out[numeric_key(i, name)] = numeric[i]
    return out


def pytorch(case, side):
    """PyTorch's gradient and PyTorch's central difference, input by input."""
    program, h = case["program"], case["h"]
    names, xs = inputs_of_case(case)
    _, grads = side.program(program)
    f = side.function(program)
    return _report(case, [grads[n] for n in names], [central(f, xs, i, h)
                                                     for i in range(len(xs))])


def candidates(case):
    """{mistake: [what that mistake returns]}, on floats."""
    program, h = case["program"], case["h"]
    names, xs = inputs_of_case(case)
    f = P.as_function(program)
    grads = P.gradients(program)
    right_grads = [grads[n] for n in names]
    right_numeric = [central(f, xs, i, h) for i in range(len(xs))]
    forward = [(f(*[x + h if k == i else x for k, x in enumerate(xs)]) - f(*xs)) / h
               for i in range(len(xs))]
    first = [central(f, xs, 0, h)] * len(xs)

    def together(sign):
        return f(*[x + sign * h for x in xs])
    all_at_once = [(together(1) - together(-1)) / (2 * h)] * len(xs)
    return {
        "forward_difference_in_check": [_report(case, right_grads, forward)],
        "step_not_h": [_report(case, right_grads, [central(f, xs, i, step)
                                                   for i in range(len(xs))])
                       for step in OTHER_STEPS if step != h],
        "grads_not_reset": [_report(case, [(i + 1) * g for i, g in enumerate(right_grads)],
                                    right_numeric)],
        "wrong_input_nudged": [_report(case, right_grads, first),
                               _report(case, right_grads, all_at_once)],
    }


def produce(case, names):
    program, h = case["program"], case["h"]
    leaf_names, xs = inputs_of_case(case)
    Value = names["Value"]

    def build(*inputs):
        if len(inputs) != len(leaf_names):
            raise TypeError(f"build takes {len(leaf_names)} Values (one per number in xs), "
                            f"got {len(inputs)}")
        given = iter(inputs)
        nodes = P.build(program, lambda _number: _as_value(next(given), Value))
        return nodes[program["output"]]

    given = list(xs)
    result = names["gradient_check"](build, given, h)
    facts = {XS_UNCHANGED: given == xs}
    detail = {} if facts[XS_UNCHANGED] else {XS_UNCHANGED: (
        f"xs was {xs} and is {given[:len(xs) + 2]} after gradient_check: nudge a copy "
        "(list(xs)) and leave the caller's list alone")}
    if isinstance(result, (str, bytes)) or not hasattr(result, "__len__"):
        raise LearnerOutputError(f"gradient_check should return a list of (backward, numeric) "
                                 f"pairs, got {kind(result)}")
    if len(result) != len(xs):
        raise LearnerOutputError(f"gradient_check should return one pair per input ({len(xs)}),"
                                 f" yours returned {len(result)}")
    values = {}
    for i, (pair, name) in enumerate(zip(result, leaf_names)):
        grad, numeric = numbers(pair, f"gradient_check(...)[{i}]", 2)
        values[backward_key(i, name)] = grad
        values[numeric_key(i, name)] = numeric
    return {"values": values, "facts": facts, "detail": detail}


def _as_value(x, Value):
    """The learner may call build with Values or with plain numbers."""
    return x if hasattr(x, "data") and hasattr(x, "grad") else Value(x)


def where(case, key):
    if "[0]" in key:
        return ("The first number of each pair is the input Value's grad after ONE pass of "
                "your backward over a graph built from fresh Values: a Value that went through "
                "an earlier backward() still holds that pass's gradient.")
    return (f"The second number is (f(x + h) - f(x - h)) / (2h) with h = {case['h']:g}, nudging "
            "only that one input, where f rebuilds the graph from numbers and reads its .data.")


def gradient_check_exercise(*, id, notebook, builds_on, fixed, draw, hints, provides):
    return Exercise(
        id=id, notebook=notebook, title="A gradient check", uses=("gradient_check",),
        hints=hints, fixed=fixed, draw=draw, producer=produce, pytorch=pytorch,
        candidates=candidates, facts=lambda case: {XS_UNCHANGED: True},
        fact_mistakes={XS_UNCHANGED: "point_mutated"}, provides=provides,
        builds_on=builds_on, where=where, tolerance=TOLERANCE,
        mistakes=named(
            "point_mutated", "hard_coded",
            forward_difference_in_check="your numeric gradients are forward differences, "
            "(f(x + h) - f(x)) / h: a referee must be the more accurate central difference, "
            "(f(x + h) - f(x - h)) / (2h), whose error shrinks like h**2.",
            step_not_h="your numeric gradients were taken with another step than the h you were "
            "given: use h itself (a step far too big measures the slope of a chord, not of the "
            "function at x).",
            grads_not_reset="the backward grads grow input by input: the same input Values went "
            "through several backward() calls and their grads added up. Build the graph once "
            "from fresh Values and run backward() once (or set every grad to 0 first).",
            wrong_input_nudged="each numeric gradient must nudge its own input i alone (the "
            "others stay put): yours nudged another input, or all of them at once."))

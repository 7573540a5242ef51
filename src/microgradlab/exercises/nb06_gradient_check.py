"""The gradient check on a network's loss (notebook 06).

Notebook 04's ``gradient_check`` rebuilt a graph from input numbers. A network's
parameters are Values that live inside the model, so here the learner writes
``loss_gradient_check(model, xs, ys, h)``: for the loss
L = sum((model(x) - y)**2), it returns, for each parameter p in
``model.parameters()`` order, the pair

    (p.grad after one backward pass,  (L(p.data + h) - L(p.data - h)) / (2h))

nudging ``p.data`` in place and putting it back. The model handed in has been
through a backward pass before (its grads are not 0), as a trained model has.

Mistakes recognised (``candidates`` on floats, and a fact):

* ``no_zero_grad``: backward on top of the grads the model already held;
* ``forward_difference_in_check`` and ``step_not_h``, as in notebook 04;
* ``nudge_not_restored`` (a fact): after the check the parameters are not what
  they were (a nudge left in place, which also shifts every later measurement).
"""

from __future__ import annotations

from . import programs as P
from ._base import Exercise, LearnerOutputError, kind, named, number, numbers
from .gradient_check import OTHER_STEPS, TOLERANCE

RESTORED = "after the check every parameter holds the number it held before"


def stale_grads(n):
    """What the parameters' grads hold when the check starts (a pass done before)."""
    return [round(0.25 + 0.125 * (i % 5), 3) for i in range(n)]


def _report(case, grads, numeric):
    out = {}
    for i, (g, d) in enumerate(zip(grads, numeric)):
        out[f"check[{i}][0] (parameters()[{i}].grad by backward)"] = g
        out[f"check[{i}][1] (central difference in parameters()[{i}])"] = d
    return out


def _central(f, leaves, i, h):
    up, down = list(leaves), list(leaves)
    up[i] += h
    down[i] -= h
    return (float(f(*up)) - float(f(*down))) / (2 * h)


def _leaf_numbers(program):
    return [float(v) for v in program["leaves"].values()]


def make_pytorch(mlp_program):
    def pytorch(case, side):
        program = mlp_program(case)
        _, grads = side.program(program)
        f, leaves = side.function(program), _leaf_numbers(program)
        n = len(case["params"])
        return _report(case, [grads[f"p{i}"] for i in range(n)],
                       [_central(f, leaves, i, case["h"]) for i in range(n)])
    return pytorch


def make_candidates(mlp_program):
    def candidates(case):
        program, h = mlp_program(case), case["h"]
        f, leaves = P.as_function(program), _leaf_numbers(program)
        grads = P.gradients(program)
        n = len(case["params"])
        right = [grads[f"p{i}"] for i in range(n)]
        numeric = [_central(f, leaves, i, h) for i in range(n)]
        here = f(*leaves)
        forward = [(f(*[x + h if k == i else x for k, x in enumerate(leaves)]) - here) / h
                   for i in range(n)]
        stale = stale_grads(n)
        return {
            "no_zero_grad": [_report(case, [s + g for s, g in zip(stale, right)], numeric)],
            "forward_difference_in_check": [_report(case, right, forward)],
            "step_not_h": [_report(case, right, [_central(f, leaves, i, step) for i in range(n)])
                           for step in OTHER_STEPS if step != h],
        }
    return candidates


def make_producer(build_model):
    def produce(case, names):
        model, params, _ = build_model(names["MLP"], case)
        for p, g in zip(params, stale_grads(len(params))):
            p.grad = g
        result = names["loss_gradient_check"](model, [list(x) for x in case["xs"]],
                                              list(case["ys"]), case["h"])
        after = [number(getattr(p, "data", None), f"parameters()[{i}].data")
                 for i, p in enumerate(params)]
        moved = [i for i, (a, b) in enumerate(zip(after, case["params"])) if a != b]
        facts = {RESTORED: not moved}
        detail = {} if not moved else {RESTORED: (
            f"parameters()[{moved[0]}] held {case['params'][moved[0]]:.10g} and holds "
            f"{after[moved[0]]:.10g} after your check ({len(moved)} parameter(s) moved): put "
            "each nudged p.data back to its number before measuring the next one")}
        if isinstance(result, (str, bytes)) or not hasattr(result, "__len__"):
            raise LearnerOutputError("loss_gradient_check should return a list of "
                                     f"(backward, numeric) pairs, got {kind(result)}")
        if len(result) != len(params):
            raise LearnerOutputError(f"loss_gradient_check should return one pair per parameter "
                                     f"({len(params)}), yours returned {len(result)}")
        values = {}
        for i, pair in enumerate(result):
            grad, numeric = numbers(pair, f"loss_gradient_check(...)[{i}]", 2)
            values[f"check[{i}][0] (parameters()[{i}].grad by backward)"] = grad
            values[f"check[{i}][1] (central difference in parameters()[{i}])"] = numeric
        return {"values": values, "facts": facts, "detail": detail}
    return produce


def where(case, key):
    if "[0]" in key:
        return ("The model you are given has been through backward() before: its grads are "
                "not 0. Set every parameter's grad to 0, then run one backward pass of the loss.")
    return (f"For parameter i: p.data += h, the loss; p.data -= 2*h, the loss; the difference "
            f"over 2h with h = {case['h']:g}; then p.data back where it was.")


def loss_check_exercise(*, fixed, draw, mlp_program, build_model):
    return Exercise(
        id="ex06_gradient_check", notebook="06_mlp", title="A gradient check of the loss",
        uses=("loss_gradient_check", "MLP"), hints=(
            "The same referee as notebook 04, with the parameters as the inputs: each "
            "parameter's grad from backward against a central difference of the loss.",
            "The parameters live inside the model, so nudge p.data itself, measure the loss, "
            "and put it back. The model may hold grads from an earlier backward().",
            "Zero every grad, build the loss and call backward once; then for each p keep its "
            "number, set p.data to it + h and to it - h to get two losses, and restore it. "
            "Which pair do you append?",
        ), fixed=fixed, draw=draw, producer=make_producer(build_model),
        pytorch=make_pytorch(mlp_program), candidates=make_candidates(mlp_program),
        facts=lambda case: {RESTORED: True}, fact_mistakes={RESTORED: "nudge_not_restored"},
        builds_on=("ex06_mlp",), where=where, tolerance=TOLERANCE,
        mistakes=named(
            "hard_coded",
            no_zero_grad="the model came with grads from an earlier backward(), and your "
            "backward added on top of them: set every parameter's grad to 0 before backward.",
            forward_difference_in_check="your numeric gradients are forward differences: use "
            "the central difference, (L(p + h) - L(p - h)) / (2h).",
            step_not_h="your numeric gradients were taken with another step than the h you "
            "were given: use h itself.",
            nudge_not_restored="a nudged parameter was not put back: after measuring L(p + h) "
            "and L(p - h), set p.data back to its number, or every later measurement (and the "
            "model itself) is off."))

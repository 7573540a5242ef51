"""Comparing the learner's numbers with PyTorch's, and naming the mistake.

A mistake is recognised by *simulating* it: run the case's program through the
float interpreter of ``exercises.programs`` with one chain-rule step swapped
(``=`` for ``+=``, the wrong tanh derivative, a walk in the wrong order ...)
and see whether the learner's numbers are exactly what that mistake gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..exercises import get
from ..exercises import programs as P
from ..exercises.nb06 import simulate_training, training_report

# One sentence per catalogued mistake, in the learner's terms.
MISTAKES = {
    "assign_not_accumulate": "a Value used more than once keeps only its last share of the "
        "gradient: in _backward write `+=` instead of `=` so every use adds its share.",
    "mul_uses_own_data": "in a * b each input's gradient must use the OTHER factor: "
        "a.grad += b.data * out.grad, not a.data * out.grad.",
    "no_topological_order": "a node pushed its gradient to its inputs before every node using "
        "it had added its share: walk the graph in reverse topological order, not recursively.",
    "not_reversed": "the _backward steps ran inputs-first: go through the topological order "
        "in reverse, output first.",
    "tanh_derivative_of_input": "the derivative of tanh is 1 - tanh(x)**2, written with the "
        "OUTPUT out.data, not 1 - x**2 with the input.",
    "pow_missing_minus_one": "the power rule is k * a**(k - 1): the exponent goes down by one.",
    "output_not_seeded": "every gradient is 0: set the output's grad to 1.0 before the backward walk.",
    "sub_sign_flipped": "in a - b the second input's gradient goes DOWN: b.grad += -1 * out.grad.",
    "no_zero_grad": "gradients pile up across steps: set every parameter's grad to 0 before each "
        "backward.",
    "gradient_ascent": "the step goes uphill: subtract lr * gradient, do not add it.",
    "hard_coded": "your numbers are the answer of the example shown in the notebook, not of "
        "this case: compute the result from the inputs.",
    "reference_solution": "you used microgradlab's own solution instead of the code you wrote.",
    "forgot_tanh": "the neuron's output is not squashed: apply your tanh to w . x + b.",
    "last_layer_tanh": "the last layer must be linear (no tanh), so the network can output any number.",
    "no_hidden_tanh": "the hidden layers need tanh: without it the MLP is just one linear function.",
    "central_divides_by_h": "the central difference spans 2h (from x - h to x + h): divide by 2 * h.",
    "forward_central_swapped": "forward and central differences are swapped.",
    "point_mutated": "your function changed the point it was given: nudge a copy.",
    "start_missing": "the path must begin with the start point: steps moves give steps + 1 points.",
    "same_list_appended": "all points of your path are the same list: build a new list each step.",
    "recursion_too_deep": "a deep graph overflows Python's recursion limit: use a list as a stack.",
}

RTOL, ATOL = 1e-9, 1e-12
TOLERANCES = {  # where the numerics demand it (differences cancel digits away)
    "ex01_difference": (1e-6, 1e-8),
    "ex01_gradient": (1e-4, 1e-5),  # forward or central difference both accepted
}


@dataclass
class CaseResult:
    passed: bool
    message: str
    mistake: str | None = None
    wrong: list[str] = field(default_factory=list)
    not_attempted: bool = False
    shown: bool = False
    case_name: str = ""


def _close(got, want, rtol, atol):
    if isinstance(got, str) or isinstance(want, str):
        return got == want
    if math.isnan(want):
        return math.isnan(got)
    return math.isclose(got, want, rel_tol=rtol, abs_tol=atol)


def _wrong_keys(produced_values, expected_values, rtol, atol):
    wrong = []
    for key, want in expected_values.items():
        got = produced_values.get(key)
        if got is None or not _close(got, want, rtol, atol):
            wrong.append(key)
    return wrong


def _matches(produced_values, candidate, expected_values, rtol=1e-6, atol=1e-9):
    """The learner's numbers are the candidate's, and the candidate is not simply right."""
    if not candidate or any(k not in produced_values for k in candidate):
        return False
    if not all(_close(produced_values[k], v, rtol, atol) for k, v in candidate.items()):
        return False
    return bool(_wrong_keys(candidate, expected_values, RTOL, ATOL))


# ----------------------------------------------------------------------------
# Simulated mistakes
# ----------------------------------------------------------------------------
def _rule_with(**overrides):
    def rule(op, values):
        if op[1] in overrides:
            return overrides[op[1]](op, values)
        return P.local_derivatives(op, values)
    return rule


def _own_data(op, values):
    args = P.node_args(op)
    if op[1] == "mul":
        return (values[args[0]], values[args[1]])
    return (values[args[0]],)


_PROGRAM_MISTAKES = {
    "assign_not_accumulate": dict(accumulate=False),
    "mul_uses_own_data": dict(rule=_rule_with(mul=_own_data, mulc=_own_data, rmul=_own_data)),
    "tanh_derivative_of_input": dict(rule=_rule_with(
        tanh=lambda op, v: (1.0 - v[op[2]] ** 2,))),
    "pow_missing_minus_one": dict(rule=_rule_with(
        pow=lambda op, v: (op[3] * v[op[2]] ** op[3],))),
    "sub_sign_flipped": dict(rule=_rule_with(sub=lambda op, v: (1.0, 1.0),
                                             rsub=lambda op, v: (1.0,))),
    "output_not_seeded": dict(seed=0.0),
    "no_topological_order": dict(walk="recursive"),
    "no_topological_order ": dict(walk="recursive_no_seen"),  # same name, the other variant
    "not_reversed": dict(walk="forward"),
}


def program_candidates(exercise, case):
    """{mistake: the keys and numbers that mistake would produce} for a program case."""
    program = case["program"]
    seed = case.get("g", 1.0)
    out = {}
    for name, how in _PROGRAM_MISTAKES.items():
        how = dict(how)
        how["seed"] = how.get("seed", 1.0) * seed
        try:
            grads = P.gradients(program, **how)
            out[name.strip()] = out.get(name.strip()) or []
            out[name.strip()].append(exercise.report(case, P.evaluate(program), grads))
        except (ArithmeticError, ValueError, KeyError):
            continue
    if exercise.variants:
        for name, variant in exercise.variants(case).items():
            try:
                out.setdefault(name, []).append(exercise.report(
                    case, P.evaluate(variant), P.gradients(variant, seed=seed)))
            except (ArithmeticError, ValueError, KeyError):
                continue
    return out


def _other_candidates(exercise_id, case, produced):
    from .expected import descent_path, path_report  # torch-side helpers
    out = {}
    if exercise_id == "ex01_difference":
        f, x, h = P.as_function(case["program"]), case["x"], case["h"]
        fwd_key, cen_key = f"forward_difference(f, {x}, {h})", f"central_difference(f, {x}, {h})"
        fwd, cen = (f(x + h) - f(x)) / h, (f(x + h) - f(x - h)) / (2 * h)
        out["central_divides_by_h"] = [{fwd_key: fwd, cen_key: 2 * cen}]
        out["forward_central_swapped"] = [{fwd_key: cen, cen_key: fwd}]
    elif exercise_id == "ex01_descent":
        up = descent_path(case, sign=+1.0)
        out["gradient_ascent"] = [path_report(up, case["steps"])]
        down = descent_path(case)
        shifted = path_report(down[1:], case["steps"] - 1)
        out["start_missing"] = [shifted]
        same = [down[-1]] * len(down)
        out["same_list_appended"] = [path_report(same, case["steps"])]
    elif exercise_id == "ex06_training":
        out["no_zero_grad"] = [training_report(case, *simulate_training(case, zero_grad=False))]
        out["gradient_ascent"] = [training_report(case, *simulate_training(case, descend=False))]
    return out


def _shown_expected(exercise_id):
    """The expected numbers of the cases the notebook shows (cached per exercise)."""
    if exercise_id not in _SHOWN_CACHE:
        from .expected import expected
        exercise = get(exercise_id)
        _SHOWN_CACHE[exercise_id] = [expected(exercise_id, c)["values"]
                                     for c in exercise.fixed() if c.get("shown")]
    return _SHOWN_CACHE[exercise_id]


_SHOWN_CACHE: dict[str, list] = {}


def diagnose(exercise_id, case, produced, expected_values):
    """The name of the catalogued mistake the learner's numbers match, or None."""
    got = produced.get("values", {})
    if not case.get("shown"):
        mine = list(got.values())
        for shown in _shown_expected(exercise_id):
            if mine and len(mine) == len(shown) and all(
                    _close(a, b, 1e-9, 1e-12) for a, b in zip(mine, shown.values())) \
                    and _wrong_keys(got, expected_values, RTOL, ATOL):
                return "hard_coded"
    exercise = get(exercise_id)
    try:
        if "program" in case and exercise.report is not None:
            candidates = program_candidates(exercise, case)
        else:
            candidates = _other_candidates(exercise_id, case, produced)
    except (ArithmeticError, ValueError, KeyError, IndexError):
        return None
    for name, options in candidates.items():
        if any(_matches(got, option, expected_values) for option in options):
            return name
    return None


# ----------------------------------------------------------------------------
# compare
# ----------------------------------------------------------------------------
def _fmt(x):
    return f"{x:.10g}" if isinstance(x, float) else repr(x)


def compare(exercise_id, case, produced, expected):
    """Judge one case: the learner's ``produced`` numbers against ``expected``."""
    exercise = get(exercise_id)
    shown = bool(case.get("shown"))
    title = f"case '{case.get('name', '?')}'"
    if not isinstance(produced, dict):
        return CaseResult(False, f"{title}: no result was produced", shown=shown,
                          case_name=case.get("name", ""))
    if "error" in produced:
        if produced.get("not_attempted"):
            return CaseResult(False, f"{exercise.title}: not attempted yet (your code still raises "
                              "NotImplementedError).", not_attempted=True, shown=shown,
                              case_name=case.get("name", ""))
        mistake = ("reference_solution" if produced.get("reference_used") else
                   "recursion_too_deep" if "RecursionError" in produced["error"] else None)
        message = f"{title}: your code raised {produced['error']}"
        if mistake and mistake != "reference_solution":
            message += f". Known mistake `{mistake}`: {MISTAKES[mistake]}"
        return CaseResult(False, message, mistake=mistake, shown=shown, case_name=case.get("name", ""))

    # Structure first: a graph that does not record its inputs cannot have right grads.
    got_facts = produced.get("facts", {})
    wrong_facts = [k for k, v in expected.get("facts", {}).items() if got_facts.get(k) != v]
    if wrong_facts:
        key = wrong_facts[0]
        mistake = "point_mutated" if key in ("point unchanged", "start unchanged") else None
        lines = []
        for k in wrong_facts[:3]:
            want = expected["facts"][k]
            if isinstance(want, bool):
                lines.append(f"`{k}` should hold but does not" + (
                    f" ({produced['detail']})" if produced.get("detail") else ""))
            else:
                lines.append(f"`{k}` is {got_facts.get(k)!r}, it should be {want!r}")
        message = f"{title}: " + "; ".join(lines)
        if mistake:
            message += f". Known mistake `{mistake}`: {MISTAKES[mistake]}"
        return CaseResult(False, message, mistake=mistake, wrong=wrong_facts, shown=shown,
                          case_name=case.get("name", ""))

    rtol, atol = TOLERANCES.get(exercise_id, (RTOL, ATOL))
    got = produced.get("values", {})
    want = expected["values"]
    wrong = _wrong_keys(got, want, rtol, atol)
    if not wrong:
        return CaseResult(True, f"{title}: correct", shown=shown, case_name=case.get("name", ""))
    mistake = diagnose(exercise_id, case, produced, want)
    parts = []
    for key in wrong[:3]:
        mine = got.get(key)
        if mine is None:
            parts.append(f"`{key}` is missing")
        elif shown:
            parts.append(f"`{key}` is {_fmt(mine)}, it should be {_fmt(want[key])}")
        else:
            parts.append(f"`{key}` is {_fmt(mine)}, which is not right")
    if len(wrong) > 3:
        parts.append(f"and {len(wrong) - 3} more")
    message = f"{title}: " + "; ".join(parts) + "."
    if mistake:
        message += f" Known mistake `{mistake}`: {MISTAKES[mistake]}"
    return CaseResult(False, message, mistake=mistake, wrong=wrong, shown=shown,
                      case_name=case.get("name", ""))

"""Comparing the learner's numbers with PyTorch's, and naming the mistake.

A mistake is recognised by *simulating* it: run the case's program through the
float interpreter of ``exercises.programs`` with one chain-rule step swapped
(``=`` for ``+=``, the wrong tanh derivative, a walk in the wrong order ...),
or ask the exercise's own ``candidates``, and see whether the learner's
numbers are exactly what that mistake gives. Only the mistakes an exercise
lists (``Exercise.mistakes``) are named for it, so a name never turns up
where the learner could not have made that mistake. When nothing matches, the
message says what is off, with the learner's numbers, and where to look.

Everything that differs between exercises comes from the :class:`Exercise`
passed in (which fact or error means which mistake, the words of a message,
the ops graded on their own node): nothing here asks which exercise it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..exercises import Exercise
from ..exercises import programs as P

# One sentence per catalogued mistake, in the learner's terms. An exercise may
# word a mistake its own way in ``Exercise.mistakes``.
MISTAKES = {
    "assign_not_accumulate": "`=` in _backward throws away what the input's grad already "
        "held, so a Value used more than once keeps only its last share of the gradient: write "
        "`+=` instead of `=` so every use adds its share.",
    "mul_uses_own_data": "in a * b each input's gradient must use the OTHER factor: "
        "a.grad += b.data * out.grad, not a.data * out.grad.",
    "no_topological_order": "a node pushed its gradient to its inputs before every node using "
        "it had added its share: walk the graph in reverse topological order, not recursively.",
    "not_reversed": "the _backward steps ran inputs-first: go through the topological order "
        "in reverse, output first.",
    "tanh_derivative_of_input": "the derivative of tanh is 1 - tanh(x)**2, written with the "
        "OUTPUT out.data, not 1 - x**2 with the input.",
    "tanh_backward_missing": "no gradient flows back through your tanh: its _backward must add "
        "(1 - t**2) * out.grad (the OUTPUT's grad) to v.grad, and be attached to the new Value "
        "(out._backward = _backward).",
    "pow_missing_minus_one": "the power rule is k * a**(k - 1): the exponent goes down by one.",
    "output_not_seeded": "every gradient is 0: set the output's grad to 1.0 before the backward walk.",
    "sub_sign_flipped": "check the signs in a - b: the first input's gradient goes up "
        "(a.grad += out.grad) and the second input's goes DOWN (b.grad += -1 * out.grad).",
    "rsub_reversed": "for `1 - a` Python calls `a.__rsub__(1)`: the number comes first, so "
        "compute Value(1) - a, not a - 1 (the order is reversed).",
    "rdiv_reversed": "for `1 / a` Python calls `a.__rtruediv__(1)`: the number comes first, "
        "so compute Value(1) / a, not a / 1 (the order is reversed).",
    "forward_divides_by_2h": "the forward difference spans h (from x to x + h): divide by h, "
        "not 2h (your slope is half the right one).",
    "no_zero_grad": "gradients pile up across steps: set every parameter's grad to 0 before each "
        "backward.",
    "zero_grad_after_update": "the gradients are zeroed after the update, so after train returns "
        "every grad is 0: zero them just before loss.backward(), as the notebook asks.",
    "gradient_ascent": "the step goes uphill: subtract lr * gradient, do not add it.",
    "one_coordinate_at_a_time": "each coordinate moved with a gradient taken at a point whose "
        "earlier coordinates had already moved: compute grad(*x) once per step, at the current "
        "point, then build the new point from it.",
    "hard_coded": "your numbers are the answer of the example shown in the notebook, not of "
        "this case: compute the result from the inputs.",
    "reference_solution": "you used microgradlab's own solution instead of the code you wrote.",
    "forgot_tanh": "the neuron's output is not squashed: apply your tanh to w . x + b.",
    "last_layer_tanh": "the last layer must be linear (no tanh), so the network can output any number.",
    "no_hidden_tanh": "the hidden layers need tanh: without it the MLP is just one linear function.",
    "mean_not_sum": "your loss is the mean of the squared errors: the notebook asks for their sum.",
    "central_divides_by_h": "the central difference spans 2h (from x - h to x + h): divide by 2 * h.",
    "forward_central_swapped": "forward and central differences are swapped.",
    "point_mutated": "your function changed the point it was given: nudge a copy.",
    "start_missing": "the path must begin with the start point: steps moves give steps + 1 points.",
    "same_list_appended": "all points of your path are the same list: build a new list each step.",
    "recursion_too_deep": "a deep graph overflows Python's recursion limit: use a list as a stack.",
    "backward_adds_nothing": "the node's _backward added nothing to its inputs' grads: the "
        "gradient must come out of _backward when it runs (from out.grad), not be worked out in "
        "the forward pass or anywhere else.",
    "reaches_past_inputs": "a node's _backward may add only to the grads of its own inputs (the "
        "Values in its _prev); an inner node passes the gradient on when its own _backward runs.",
    "grad_not_stored": "grad must be a plain number stored on the Value: after `v.grad = x`, "
        "reading v.grad must give x back, and _backward adds into it.",
}

# The answer of a case the notebook shows, typed in: checked for every exercise
# that lists this mistake.
TYPED_IN = "hard_coded"

# Chain-rule mistakes simulated on a case's program: name -> ways of making it
# (each a set of keyword arguments of programs.gradients). A wrong local rule
# comes from the op table (Op.mistakes: every op that can show it, the constant
# forms included, with that rule swapped in); a wrong walk or seed is an option
# of gradients itself.
def _local_rule_mistakes():
    ways: dict[str, list[dict]] = {}
    for entry in P.PROGRAM_OPS.values():
        for mistake, wrong_locals in entry.mistakes.items():
            swaps = ways.setdefault(mistake, [])
            for i, wrong in enumerate(wrong_locals):
                if i == len(swaps):
                    swaps.append({})
                swaps[i][entry.name] = wrong
    return {mistake: [dict(swap=swap) for swap in swaps] for mistake, swaps in ways.items()}


PROGRAM_MISTAKES: dict[str, list[dict]] = _local_rule_mistakes()
PROGRAM_MISTAKES.update({
    "assign_not_accumulate": [dict(accumulate=False)],
    "output_not_seeded": [dict(seed=0.0)],
    "no_topological_order": [dict(walk="recursive"), dict(walk="recursive_no_seen")],
    "not_reversed": [dict(walk="forward")],
})

# Chain-rule mistakes of one node's _backward that are not a swapped rule of
# PROGRAM_MISTAKES: simulated only on the ops graded on their own node.
NODE_MISTAKES: dict[str, list[dict]] = {
    "backward_adds_nothing": [dict(swap={name: (lambda *operands: (0.0,) * len(operands))
                                         for name in P.PROGRAM_OPS})],
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
    delivered: bool = True          # False: the case's result never came back
    reference_used: bool = False    # the learner's code ran the reference solution


def require_exercise(exercise):
    """``exercise`` must be a spec: ids become specs at the entry points only."""
    if not isinstance(exercise, Exercise):
        raise TypeError(f"expected an Exercise (microgradlab.exercises.get(id)), got "
                        f"{type(exercise).__name__} {exercise!r}")
    return exercise


def sentence(exercise, name):
    """The exercise's wording of a mistake, else the catalogue's."""
    return exercise.mistakes.get(name) or MISTAKES.get(name, name.replace("_", " "))


def _close(got, want, rtol, atol):
    if isinstance(got, str) or isinstance(want, str):
        return got == want
    if not isinstance(got, (int, float)) or isinstance(got, bool):
        return False
    if math.isnan(want):
        return math.isnan(got)
    return math.isclose(got, want, rel_tol=rtol, abs_tol=atol)


def _wrong_keys(produced_values, expected_values, rtol, atol):
    return [key for key, want in expected_values.items()
            if produced_values.get(key) is None
            or not _close(produced_values[key], want, rtol, atol)]


def _matches(produced_values, candidate, expected_values, rtol, atol):
    """The learner's numbers are the candidate's (at the exercise's tolerance, at
    least 1e-6), and the candidate is not simply right."""
    rtol, atol = max(rtol, 1e-6), max(atol, 1e-9)
    if not candidate or any(k not in produced_values for k in candidate):
        return False
    if not all(_close(produced_values[k], v, rtol, atol) for k, v in candidate.items()):
        return False
    # (a candidate may cover only some keys: the amounts of single nodes, say)
    return any(k in expected_values and not _close(v, expected_values[k], rtol, atol)
               for k, v in candidate.items())


def _ways(name, table, kinds):
    """The simulations of mistake ``name``: its ways in ``table``, and for a way that
    writes `=` everywhere also `=` in one kind of op only (the others right)."""
    ways = list(table.get(name, ()))
    for how in list(ways):
        if how.get("accumulate") is False and len(kinds) > 1:
            ways += [dict(how, accumulate={k}) for k in kinds]
    return ways


def _node_added(own, case, how):
    """{node: {input: amount}}: what each op node's _backward alone adds under ``how``
    (a swapped local rule, or `=` for `+=`: the input's grad then ends at the last
    share, so the amount added is that share minus what the grad held). A way that is
    not about one node (a walk, a seed) leaves every node's step right."""
    accumulate = how.get("accumulate", True)
    added = {}
    for step in own.steps(case):
        grads = P.gradients(step.program, swap=how.get("swap"), accumulate=accumulate,
                            seed=step.grad)
        assigns = accumulate is False or (not isinstance(accumulate, bool)
                                          and step.op[1] in accumulate)
        added[step.node] = {x: grads[x] - (step.start[x] if assigns else 0.0)
                            for x in step.inputs}
    return added


def program_candidates(exercise, case):
    """{mistake: [the numbers that mistake would produce]} for a program case: the
    whole backward pass, and (for ops graded on their own node) each node's step."""
    program, seed = case["program"], case.get("g", 1.0)
    own = exercise.own_nodes
    table = {**PROGRAM_MISTAKES, **NODE_MISTAKES} if own is not None else PROGRAM_MISTAKES
    own_keys = set(own.report(case, _node_added(own, case, {}))) if own is not None else set()
    out = {}
    kinds = sorted({op[1] for op in program["ops"]})
    for name in exercise.mistakes:
        for how in _ways(name, table, kinds):
            whole = dict(how)
            whole["seed"] = whole.get("seed", 1.0) * seed
            try:
                candidate = exercise.report(case, P.evaluate(program),
                                            P.gradients(program, **whole))
                if own is not None:
                    candidate.update(own.report(case, _node_added(own, case, how)))
            except (ArithmeticError, ValueError, KeyError, OverflowError):
                continue
            out.setdefault(name, []).append(candidate)
    if exercise.variants:
        for name, variant in exercise.variants(case).items():
            built = {**case, "program": variant}
            try:
                candidate = exercise.report(case, P.evaluate(variant),
                                            P.gradients(variant, seed=seed))
                if own is not None:  # the variant's own nodes, where they read the same
                    steps = own.report(built, _node_added(own, built, {}))
                    candidate.update({k: v for k, v in steps.items() if k in own_keys})
            except (ArithmeticError, ValueError, KeyError):
                continue
            out.setdefault(name, []).append(candidate)
    return out


def own_node_candidates(exercise, case):
    """{mistake: [what the op nodes alone would add under it]}: the amounts only, for a
    mistake the whole pass hides (grads worked out in the forward pass, `=` where
    nothing is reused). Tried after every candidate that covers the whole result."""
    own = exercise.own_nodes
    kinds = sorted({step.op[1] for step in own.steps(case)})
    out = {}
    for name in exercise.mistakes:
        for how in _ways(name, {**PROGRAM_MISTAKES, **NODE_MISTAKES}, kinds):
            if not {"swap", "accumulate"} & set(how):
                continue  # a walk or a seed: a mistake of the whole pass, not of one node
            try:
                out.setdefault(name, []).append(own.report(case, _node_added(own, case, how)))
            except (ArithmeticError, ValueError, KeyError, OverflowError):
                continue
    return out


_SHOWN_CACHE: dict[str, list] = {}


def _shown_expected(exercise):
    """The expected numbers of the cases the notebook shows (cached per exercise)."""
    if exercise.id not in _SHOWN_CACHE:
        from .expected import expected
        _SHOWN_CACHE[exercise.id] = [expected(exercise, c)["values"]
                                     for c in exercise.shown_cases()]
    return _SHOWN_CACHE[exercise.id]


def _typed_in(exercise, case):
    """The answers of the cases the notebook shows, as candidates for this case. Not
    a shown case that is this very expression with another out.grad: there the same
    numbers mean a _backward that ignores out.grad, not numbers typed in."""
    found = []
    for shown_case, shown in zip(exercise.shown_cases(), _shown_expected(exercise)):
        if "program" in case and shown_case.get("program") == case["program"]:
            continue
        found.append(shown)
    return found


def diagnose(exercise, case, produced, expected_values):
    """The name of the catalogued mistake the learner's numbers reproduce, or None."""
    require_exercise(exercise)
    rtol, atol = exercise.tolerance
    got = produced.get("values", {})
    if not isinstance(got, dict):
        return None
    # the learner's numbers, in order, are those of a shown case (whatever the keys)
    whole = {TYPED_IN: [dict(zip(got, shown.values()))
                        for shown in _typed_in(exercise, case) if len(shown) == len(got)]}
    partial = {}
    try:
        found = []
        if "program" in case and exercise.report is not None:
            found.append(program_candidates(exercise, case))
        if exercise.candidates is not None:
            found.append(exercise.candidates(case))
        for more in found:
            for name, options in more.items():
                whole.setdefault(name, []).extend(options)
        if "program" in case and exercise.own_nodes is not None:
            partial = own_node_candidates(exercise, case)
    except (ArithmeticError, ValueError, KeyError, IndexError):
        return None
    for candidates in (whole, partial):
        for name, options in candidates.items():
            if name in exercise.mistakes and any(
                    _matches(got, option, expected_values, rtol, atol) for option in options):
                return name
    return None


# ----------------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------------
def _fmt(x):
    return f"{x:.10g}" if isinstance(x, float) else repr(x)


def _known(exercise, mistake):
    return f"Known mistake `{mistake}`: {sentence(exercise, mistake)}"


def _error_message(exercise, produced):
    """(message, mistake) for a case where the learner's code raised."""
    error, where = str(produced["error"]), produced.get("error_in")
    mistake = exercise.mistake_of_error(error)
    if mistake:
        return f"your code raised {error}. {_known(exercise, mistake)}", mistake
    own_words = exercise.explain_error(produced) if exercise.explain_error else None
    if own_words:
        return own_words, None
    if error.startswith("RecursionError"):
        return (f"your code called itself without end (RecursionError)"
                + (f" in `{where}`" if where else "") + ": look at what that function calls.",
                None)
    return f"your code raised {error}" + (f" (in `{where}`)" if where else ""), None


def _fact_message(key, got, want, detail):
    if isinstance(detail, dict) and isinstance(detail.get(key), str):
        return detail[key]
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(want, bool):
        return f"not so in your code: {key}"
    return f"`{key}` is {got}, it should be {want}"


def _where(exercise, case, key):
    """Which op or node to look at when ``key`` is wrong, in the learner's terms."""
    if exercise.where is not None:
        text = exercise.where(case, key)
        if text is not None:
            return text
    program = case.get("program")
    node, _, attribute = key.partition(".")
    if not program or attribute not in ("grad", "data"):
        return ""
    if attribute == "grad":
        users = P.users_of(program, node)
        if len(users) == 1:
            return f"Look at the _backward of `{users[0]}`: what it adds to {node}.grad."
        if users:
            return (f"`{node}` is used by " + ", ".join(f"`{u}`" for u in users)
                    + f": each of their _backward steps must add its share to {node}.grad.")
        return ""
    made = P.producer_of(program, node)
    return f"Look at how `{made}` computes its data." if made else ""


def _wrong_facts(got_facts, want_facts):
    """The facts that came back wrong; a fact that did not come back counts only when
    every fact that did is right (a producer stops at the first broken structure)."""
    present = [k for k, v in want_facts.items() if k in got_facts and got_facts[k] != v]
    return present or [k for k, v in want_facts.items() if got_facts.get(k) != v]


def compare(exercise, case, produced, expected):
    """Judge one case: the learner's ``produced`` numbers against ``expected``.
    ``produced`` None: the case's result never came back (not delivered)."""
    require_exercise(exercise)
    shown = bool(case.get("shown"))
    name = case.get("name", "")
    title = f"case '{name or '?'}'"

    def result(passed, message, **more):
        return CaseResult(passed, message, shown=shown, case_name=name, **more)

    if produced is None:
        return result(False, f"{title}: no result came back (the code stopped before this "
                      "case finished)", delivered=False)
    if not isinstance(produced, dict):
        return result(False, f"{title}: no result was produced")
    if "error" in produced:
        if produced.get("not_attempted"):
            return result(False, f"{exercise.title}: not attempted yet (your code still raises "
                          "NotImplementedError).", not_attempted=True)
        message, mistake = _error_message(exercise, produced)
        return result(False, f"{title}: {message}", mistake=mistake,
                      reference_used=bool(produced.get("reference_used")))

    # Structure first: a graph that does not record its inputs cannot have right grads.
    got_facts = produced.get("facts", {})
    if not isinstance(got_facts, dict):
        got_facts = {}
    want_facts = expected.get("facts", {})
    wrong_facts = _wrong_facts(got_facts, want_facts)
    if wrong_facts:
        mistake = exercise.mistake_of_fact(wrong_facts[0])
        lines = [_fact_message(k, got_facts.get(k), want_facts[k], produced.get("detail"))
                 for k in wrong_facts[:3]]
        message = f"{title}: " + "; ".join(dict.fromkeys(lines))
        if mistake:
            message += f". {_known(exercise, mistake)}"
        return result(False, message, mistake=mistake, wrong=wrong_facts)

    rtol, atol = exercise.tolerance
    got = produced.get("values", {})
    if not isinstance(got, dict):
        got = {}
    want = expected["values"]
    wrong = _wrong_keys(got, want, rtol, atol)
    if not wrong:
        return result(True, f"{title}: correct")
    mistake = diagnose(exercise, case, produced, want)
    parts = []
    for key in wrong[:3]:
        mine = got.get(key)
        own_words = None if mine is None else exercise.wording(case, produced, key, mine,
                                                                want[key], shown)
        if mine is None:
            parts.append(f"`{key}` is missing")
        elif own_words:
            parts.append(own_words)
        elif shown:
            parts.append(f"`{key}` is {_fmt(mine)}, it should be {_fmt(want[key])}")
        else:
            parts.append(f"`{key}` is {_fmt(mine)}, which is not right")
    if len(wrong) > 3:
        parts.append(f"and {len(wrong) - 3} more")
    message = f"{title}: " + "; ".join(parts) + "."
    if mistake:
        message += f" {_known(exercise, mistake)}"
    else:
        hint = _where(exercise, case, wrong[0])
        if hint:
            message += " " + hint
    return result(False, message, mistake=mistake, wrong=wrong)

"""The PyTorch side: what every case's numbers should be, in float64.

torch is imported inside the functions, so importing microgradlab.checking
stays cheap and works where torch is absent (only ``expected`` needs it).
Results are cached by case: the fixed cases of an exercise cost PyTorch once
per process, so a second click of the check button only pays for its random
cases.
"""

from __future__ import annotations

import json
import warnings

from ..exercises import programs as P

_CACHE: dict[tuple[str, str], dict] = {}
_CACHE_LIMIT = 4096


def _torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torch
    return torch


def torch_program(program, leaves=None, seed=1.0):
    """Build ``program`` from float64 tensors and backpropagate ``seed`` from its
    output. Returns (values, grads) as {name: float} (a node nothing flows
    back into has grad 0.0, as in the learner's engine)."""
    torch = _torch()
    values = dict(program["leaves"])
    if leaves:
        values.update(leaves)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes = P.build({**program, "leaves": values},
                        lambda v: torch.tensor(float(v), dtype=torch.float64, requires_grad=True))
        for node in nodes.values():
            if node.grad_fn is not None:
                node.retain_grad()
        out = nodes[program["output"]]
        if out.requires_grad:
            # Scaling the output by the seed gives every grad the seed's factor, bit for
            # bit as backward(seed) would (the product's rule hands the output exactly
            # seed * 1.0). Passing the seed as backward's gradient instead costs each
            # process a third of a second: torch then imports its symbolic-shapes
            # machinery, and sympy with it.
            (out * float(seed)).backward()
    vals = {n: float(t.item()) for n, t in nodes.items()}
    grads = {n: (float(t.grad.item()) if t.grad is not None else 0.0) for n, t in nodes.items()}
    if program["output"] in program["leaves"]:
        grads[program["output"]] = float(seed)
    return vals, grads


def torch_function(program):
    """The program as f(*xs) -> float, each call evaluated with float64 tensors."""
    torch = _torch()
    names = P.leaf_names(program)

    def f(*xs):
        leaves = dict(zip(names, (torch.tensor(float(x), dtype=torch.float64) for x in xs)))
        return P.build({**program, "leaves": leaves}, lambda t: t)[program["output"]]

    return f


class TorchSide:
    """What an exercise's ``pytorch(case, side)`` may use: no torch import in the spec."""

    program = staticmethod(torch_program)
    function = staticmethod(torch_function)


def _key(exercise, case):
    return exercise.id, json.dumps(case, sort_keys=True, default=repr)


def expected(exercise, case):
    """What the learner's ``produce`` should return for ``case`` of ``exercise`` (an
    :class:`~microgradlab.exercises.Exercise`), from PyTorch in float64:
    ``{"values": {key: float}, "facts": {what: value}}``."""
    from .compare import require_exercise

    require_exercise(exercise)
    key = _key(exercise, case)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _compute(exercise, case)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = cached
    return {"values": dict(cached["values"]), "facts": dict(cached["facts"])}


def own_node_values(exercise, case):
    """What each op node's ``_backward()`` alone must add to each input: the op alone
    in PyTorch, its output's grad set as the learner's node's is."""
    own = exercise.own_nodes
    added = {}
    for step in own.steps(case):
        _, grads = torch_program(step.program, seed=step.grad)
        added[step.node] = {x: grads[x] for x in step.inputs}
    return own.report(case, added)


def _compute(exercise, case):
    if exercise.pytorch is not None:
        values = exercise.pytorch(case, TorchSide)
    elif exercise.report is not None and "program" in case:
        vals, grads = torch_program(case["program"], seed=case.get("g", 1.0))
        values = exercise.report(case, vals, grads)
    else:
        raise KeyError(f"exercise {exercise.id!r} has no PyTorch side for case "
                       f"{case.get('name')!r}")
    if exercise.own_nodes is not None and "program" in case:
        values.update(own_node_values(exercise, case))
    return {"values": values, "facts": exercise.expected_facts(case)}

"""The PyTorch side: what every case's numbers should be, in float64.

torch is imported inside the functions, so importing microgradlab.checking
stays cheap and works where torch is absent (only ``expected`` needs it).
"""

from __future__ import annotations

import warnings

from ..exercises import get
from ..exercises import programs as P
from ..exercises.nb06 import mlp_program, training_report


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
            out.backward(torch.tensor(float(seed), dtype=torch.float64))
    vals = {n: float(t.item()) for n, t in nodes.items()}
    grads = {n: (float(t.grad.item()) if t.grad is not None else 0.0) for n, t in nodes.items()}
    if program["output"] in program["leaves"]:
        grads[program["output"]] = float(seed)
    return vals, grads


def _difference(case):
    torch = _torch()
    program, x, h = case["program"], case["x"], case["h"]

    def f(v):
        return P.build({**program, "leaves": {"x": v}},
                       lambda v: torch.tensor(float(v), dtype=torch.float64))[program["output"]]

    t = lambda v: torch.tensor(float(v), dtype=torch.float64)  # noqa: E731
    fwd = (f(t(x) + h) - f(t(x))) / h
    cen = (f(t(x) + h) - f(t(x) - h)) / (2 * h)
    return {f"forward_difference(f, {x}, {h})": float(fwd), f"central_difference(f, {x}, {h})": float(cen)}


def _gradient(case):
    program = case["program"]
    names = P.leaf_names(program)
    _, grads = torch_program(program, dict(zip(names, case["point"])))
    return {f"numerical_gradient(f, {list(case['point'])})[{i}]": grads[n] for i, n in enumerate(names)}


def descent_path(case, sign=-1.0):
    program, x = case["program"], list(case["start"])
    names = P.leaf_names(program)
    path = [x]
    for _ in range(case["steps"]):
        _, grads = torch_program(program, dict(zip(names, x)))
        x = [xi + sign * case["lr"] * grads[n] for xi, n in zip(x, names)]
        path.append(x)
    return path


def path_report(path, steps):
    values = {"len(path)": float(steps + 1)}
    for i, point in enumerate(path):
        for j, v in enumerate(point):
            values[f"path[{i}][{j}]"] = v
    return values


def _training(case):
    params = list(case["params"])
    names = [f"p{i}" for i in range(len(params))]
    losses = []
    for _ in range(case["steps"]):
        program = mlp_program(case["nin"], case["nouts"], params, case["xs"], case["ys"])
        values, grads = torch_program(program)
        losses.append(values["loss"])
        params = [p - case["lr"] * grads[n] for p, n in zip(params, names)]
    return training_report(case, losses, params)


def expected(exercise_id, case):
    """What the learner's ``produce`` should return for ``case``, from PyTorch in float64:
    ``{"values": {key: float}, "facts": {what: value}}``."""
    exercise = get(exercise_id)
    if exercise_id == "ex01_difference":
        values = _difference(case)
    elif exercise_id == "ex01_gradient":
        values = _gradient(case)
    elif exercise_id == "ex01_descent":
        values = path_report(descent_path(case), case["steps"])
    elif exercise_id == "ex06_training":
        values = _training(case)
    elif exercise.report is not None:
        vals, grads = torch_program(case["program"], seed=case.get("g", 1.0))
        values = exercise.report(case, vals, grads)
    else:
        raise KeyError(f"no PyTorch side for exercise {exercise_id!r}")
    facts = exercise.facts(case) if exercise.facts else {}
    return {"values": values, "facts": facts}

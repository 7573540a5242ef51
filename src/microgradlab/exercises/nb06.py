"""Notebook 06 (the MLP): Neuron, Layer (:mod:`.nb06_neuron_layer`), MLP, and a training loop.

An MLP with its squared-error loss is also just a program (the parameters
are leaves), so the checker can replay it in torch and simulate mistakes on it.
"""

from __future__ import annotations

from . import programs as P
from . import register as _register
from ._base import Exercise, LearnerOutputError, named, number, numbers
from .nb06_gradient_check import loss_check_exercise
from .nb06_neuron_layer import INIT_FACT, LAYER, NEURON, ONE_VALUE_FACT, init_ok

NOTEBOOK = "06_mlp"


def parameter_count(nin, nouts):
    sizes = [nin, *nouts]
    return sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(nouts)))


def mlp_program(nin, nouts, params, xs, ys, hidden_tanh=True, last_tanh=False):
    """The loss sum((MLP(x) - y)**2) as a program.

    Leaves: the parameters ``p0, p1, ...`` in ``parameters()`` order (layer by
    layer, neuron by neuron, weights then bias) and the inputs ``x{k}_{i}``.
    Output nodes of the network are ``out{k}`` (one per example).
    """
    if len(params) != parameter_count(nin, nouts):
        raise ValueError(f"MLP({nin}, {nouts}) has {parameter_count(nin, nouts)} parameters, "
                         f"got {len(params)}")
    leaves = {f"p{i}": p for i, p in enumerate(params)}
    ops, fresh = [], iter(range(10**9))
    sizes = [nin, *nouts]

    def emit(kind, *args):
        name = f"t{next(fresh)}"
        ops.append([name, kind, *args])
        return name

    losses = []
    for k, (x, y) in enumerate(zip(xs, ys)):
        acts = []
        for i, v in enumerate(x):
            leaves[f"x{k}_{i}"] = v
            acts.append(f"x{k}_{i}")
        p = 0
        for layer in range(len(nouts)):
            last = layer == len(nouts) - 1
            new = []
            for _ in range(sizes[layer + 1]):
                ws = [f"p{p + i}" for i in range(sizes[layer])]
                b = f"p{p + sizes[layer]}"
                p += sizes[layer] + 1
                total = None
                for w, a in zip(ws, acts):
                    term = emit("mul", w, a)
                    total = term if total is None else emit("add", total, term)
                act = emit("add", total, b)
                if (last and last_tanh) or (not last and hidden_tanh):
                    act = emit("tanh", act)
                new.append(act)
            acts = new
        out = acts[0]
        ops.append([f"out{k}", "mulc", out, 1.0])
        diff = emit("subc", f"out{k}", y)
        losses.append(emit("pow", diff, 2))
    total = losses[0]
    for term in losses[1:]:
        total = emit("add", total, term)
    ops.append(["loss", "mulc", total, 1.0])
    return {"leaves": leaves, "ops": ops, "output": "loss"}


def _mlp_case(name, shown, nin, nouts, rng_or_params, xs, ys):
    params = rng_or_params
    return {"name": name, "shown": shown, "nin": nin, "nouts": nouts, "params": params,
            "xs": xs, "ys": ys, "program": mlp_program(nin, nouts, params, xs, ys)}


def _spread(n, scale=0.5):
    """n fixed, varied parameter values (no randomness needed for fixed cases)."""
    return [round(scale * ((i * 7919) % 17 - 8) / 8, 4) for i in range(n)]


def _mlp_fixed():
    return [
        _mlp_case("MLP(2, [3, 1]) on two points", True, 2, [3, 1], _spread(parameter_count(2, [3, 1])),
                  [[1.0, -1.0], [0.5, 2.0]], [1.0, -1.0]),
        _mlp_case("MLP(3, [4, 4, 1]) on three points", False, 3, [4, 4, 1],
                  _spread(parameter_count(3, [4, 4, 1]), 0.7),
                  [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0]], [1.0, -1.0, -1.0]),
        _mlp_case("MLP(1, [1]): a single linear neuron", False, 1, [1], [0.5, -0.25], [[2.0]], [0.3]),
    ]


def _mlp_draw(rng):
    nin, nouts = rng.randint(1, 3), [rng.randint(2, 4), 1]
    params = [round(rng.uniform(-1, 1), 4) for _ in range(parameter_count(nin, nouts))]
    xs = [[round(rng.uniform(-2, 2), 3) for _ in range(nin)] for _ in range(3)]
    ys = [rng.choice([-1.0, 1.0]) for _ in xs]
    return [_mlp_case(f"a random MLP({nin}, {nouts})", False, nin, nouts, params, xs, ys)]


def weight_positions(nin, nouts):
    """Indices in parameters() order that hold weights (the others are biases)."""
    sizes, positions, i = [nin, *nouts], [], 0
    for layer in range(len(nouts)):
        for _ in range(sizes[layer + 1]):
            positions.extend(range(i, i + sizes[layer]))
            i += sizes[layer] + 1
    return positions


def build_model(MLP, case):
    """The learner's MLP(nin, nouts) with its parameters set to the case's numbers.
    Returns (model, parameters, the weights it started with)."""
    model = MLP(case["nin"], list(case["nouts"]))
    params = list(model.parameters())
    if len(params) != len(case["params"]):
        raise LearnerOutputError(
            f"MLP({case['nin']}, {case['nouts']}).parameters() should list "
            f"{len(case['params'])} Values (weights and a bias per neuron), yours lists {len(params)}")
    started = [number(getattr(params[i], "data", None), f"parameters()[{i}].data")
               for i in weight_positions(case["nin"], case["nouts"])]
    for p, w in zip(params, case["params"]):
        p.data = w
        p.grad = 0.0
    return model, params, started




def _mlp_produce(case, names):
    model, params, started = build_model(names["MLP"], case)
    facts = {INIT_FACT: init_ok(started), ONE_VALUE_FACT: True}
    detail = {INIT_FACT: "the weights of your new MLP start at "
              + ", ".join(f"{w:.4g}" for w in sorted(set(started))[:4])
              + (" ..." if len(set(started)) > 4 else "")
              + ": draw each weight with random.uniform(-1, 1), as the notebook asks, so the "
                "neurons of a layer start different (all equal, they would all learn the same)."}
    values = {}
    loss = None
    for k, (x, y) in enumerate(zip(case["xs"], case["ys"])):
        out = model(list(x))
        if isinstance(out, (list, tuple)):
            facts[ONE_VALUE_FACT] = False
            detail[ONE_VALUE_FACT] = (
                f"your MLP({case['nin']}, {case['nouts']}) returns a list of {len(out)} for one "
                "input: the notebook's Layer returns the single Value itself when it has one "
                "neuron (so a network with one output returns one Value).")
            return {"values": values, "facts": facts, "detail": detail}
        values[f"model({x}).data"] = number(getattr(out, "data", None), f"model({x}).data")
        term = (out - y) ** 2
        loss = term if loss is None else loss + term
    values["loss.data"] = number(loss.data, "loss.data")
    loss.backward()
    for i, p in enumerate(params):
        values[f"parameters()[{i}].grad"] = number(p.grad, f"parameters()[{i}].grad")
    return {"values": values, "facts": facts, "detail": detail}


def _mlp_report(case, values, grads):
    out = {f"model({x}).data": values[f"out{k}"] for k, x in enumerate(case["xs"])}
    out["loss.data"] = values["loss"]
    out.update({f"parameters()[{i}].grad": grads[f"p{i}"] for i in range(len(case["params"]))})
    return out


def _mlp_variants(case):
    args = (case["nin"], case["nouts"], case["params"], case["xs"], case["ys"])
    return {"last_layer_tanh": mlp_program(*args, last_tanh=True),
            "no_hidden_tanh": mlp_program(*args, hidden_tanh=False)}


# ---------------------------------------------------------------- ex06_gradient_check
def _check_fixed():
    first, _, single = _mlp_fixed()
    return [{**first, "name": first["name"] + ", h = 1e-5", "h": 1e-5},
            {**single, "name": single["name"] + ", h = 1e-4", "h": 1e-4},
            {**_mlp_case("MLP(1, [2, 1]) on three points", False, 1, [2, 1],
                         _spread(parameter_count(1, [2, 1]), 0.9), [[1.0], [-0.5], [2.0]],
                         [0.5, -0.5, 1.0]), "h": 1e-5}]


def _check_draw(rng):
    return [{**case, "h": rng.choice([1e-5, 1e-4])} for case in _mlp_draw(rng)]


# ---------------------------------------------------------------- ex06_training
# train() is tested on the learner's own MLP, through the API notebook 06 teaches
# (calling it, parameters(); zero_grad() if the learner's class has one).
def simulate_training(case, zero_grad=True, descend=True, zero_after=False, mean=False):
    """(losses, final parameters, final grads) of a training loop, on floats.

    ``zero_grad=False`` lets gradients pile up across steps; ``descend=False``
    moves parameters up the gradient; ``zero_after`` zeroes them after the
    update instead of before backward; ``mean`` uses the mean squared error.
    """
    params = list(case["params"])
    names = [f"p{i}" for i in range(len(params))]
    carried = [0.0] * len(params)
    losses = []
    scale = 1.0 / len(case["xs"]) if mean else 1.0
    for _ in range(case["steps"]):
        program = mlp_program(case["nin"], case["nouts"], params, case["xs"], case["ys"])
        values = P.evaluate(program)
        grads = P.gradients(program)
        losses.append(values["loss"] * scale)
        carried = [(0.0 if zero_grad else c) + scale * grads[n] for c, n in zip(carried, names)]
        sign = -1.0 if descend else 1.0
        params = [p + sign * case["lr"] * g for p, g in zip(params, carried)]
        if zero_after:
            carried = [0.0] * len(params)
    return losses, params, carried


def training_report(case, losses, params, grads):
    out = {f"losses[{i}]": v for i, v in enumerate(losses)}
    out.update({f"model.parameters()[{i}].data after training": p for i, p in enumerate(params)})
    out.update({f"model.parameters()[{i}].grad after training": g for i, g in enumerate(grads)})
    return out


def _training_pytorch(case, side):
    params = list(case["params"])
    names = [f"p{i}" for i in range(len(params))]
    losses, grads = [], [0.0] * len(params)
    for _ in range(case["steps"]):
        program = mlp_program(case["nin"], case["nouts"], params, case["xs"], case["ys"])
        values, all_grads = side.program(program)
        losses.append(values["loss"])
        grads = [all_grads[n] for n in names]
        params = [p - case["lr"] * g for p, g in zip(params, grads)]
    return training_report(case, losses, params, grads)


def _training_candidates(case):
    return {name: [training_report(case, *simulate_training(case, **how))] for name, how in (
        ("no_zero_grad", dict(zero_grad=False)), ("gradient_ascent", dict(descend=False)),
        ("zero_grad_after_update", dict(zero_after=True)), ("mean_not_sum", dict(mean=True)))}


def _training_fixed():
    return [
        {"name": "MLP(2, [3, 1]), 3 steps, lr = 0.05", "shown": True, "nin": 2, "nouts": [3, 1],
         "params": _spread(parameter_count(2, [3, 1])), "xs": [[1.0, -1.0], [0.5, 2.0]],
         "ys": [1.0, -1.0], "steps": 3, "lr": 0.05},
        {"name": "MLP(1, [2, 1]), 5 steps, lr = 0.1", "shown": False, "nin": 1, "nouts": [2, 1],
         "params": _spread(parameter_count(1, [2, 1]), 0.8), "xs": [[1.0], [-0.5], [2.0]],
         "ys": [0.5, -0.5, 1.0], "steps": 5, "lr": 0.1},
    ]


def _training_draw(rng):
    nin, nouts = rng.randint(1, 3), [rng.randint(2, 3), 1]
    return [{"name": f"a random MLP({nin}, {nouts})", "nin": nin, "nouts": nouts,
             "params": [round(rng.uniform(-1, 1), 4) for _ in range(parameter_count(nin, nouts))],
             "xs": [[round(rng.uniform(-2, 2), 3) for _ in range(nin)] for _ in range(3)],
             "ys": [rng.choice([-1.0, 1.0]) for _ in range(3)],
             "steps": rng.randint(2, 4), "lr": rng.choice([0.01, 0.05])}]


def _training_produce(case, names):
    model, params, _ = build_model(names["MLP"], case)  # the learner's own MLP
    xs = [list(x) for x in case["xs"]]
    losses = names["train"](model, xs, list(case["ys"]), case["steps"], case["lr"])
    losses = numbers(losses, "the list train returns", case["steps"])
    values = {f"losses[{i}]": v for i, v in enumerate(losses)}
    for i, p in enumerate(params):
        values[f"model.parameters()[{i}].data after training"] = number(p.data, f"parameter {i}")
    for i, p in enumerate(params):
        values[f"model.parameters()[{i}].grad after training"] = number(p.grad, f"grad {i}")
    return {"values": values}


_register(NEURON)
_register(LAYER)

_register(Exercise(
    id="ex06_mlp", notebook=NOTEBOOK, title="Neuron, Layer and MLP",
    uses=("Neuron", "Layer", "MLP"), hints=(
        "A Layer is a list of Neurons that all read the same inputs; an MLP is a list of Layers, each "
        "reading the previous layer's outputs.",
        "Hidden layers squash with tanh; the LAST layer is linear (nonlin=False), so the network can "
        "output any number.",
        "parameters() collects layer by layer, neuron by neuron, each neuron's weights then its bias; "
        "MLP(nin, nouts) builds Layer(sizes[i], sizes[i+1], nonlin=i != last) for sizes = [nin] + list(nouts).",
    ), fixed=_mlp_fixed, draw=_mlp_draw, producer=_mlp_produce, report=_mlp_report,
    variants=_mlp_variants, facts=lambda case: {INIT_FACT: True, ONE_VALUE_FACT: True},
    builds_on=("ex06_layer",),
    mistakes=named("last_layer_tanh", "no_hidden_tanh", "hard_coded")))

_register(loss_check_exercise(fixed=_check_fixed, draw=_check_draw,
                              mlp_program=lambda case: case["program"], build_model=build_model))

_register(Exercise(
    id="ex06_training", notebook=NOTEBOOK, title="The training loop", uses=("train", "MLP"),
    hints=(
        "One training step: forward, loss, backward, update. Repeat.",
        "Gradients ADD UP across backward calls: reset every parameter's grad to 0 before backward.",
        "In each step, in this order: the loss as the sum of (model(x) - y)**2 over the examples; every "
        "p.grad of model.parameters() back to 0; loss.backward(); every p.data moved by -lr * p.grad. "
        "What do you append to the list you return?",
    ), fixed=_training_fixed, draw=_training_draw, producer=_training_produce,
    pytorch=_training_pytorch, candidates=_training_candidates, builds_on=("ex06_mlp",),
    mistakes=named("no_zero_grad", "zero_grad_after_update", "gradient_ascent", "mean_not_sum",
                   "hard_coded")))

"""Notebook 06 (the MLP): Neuron, Layer, MLP classes, and a training loop.

An MLP with its squared-error loss is also just a program (the parameters
are leaves), so the checker can replay it in torch and simulate mistakes on it.
"""

from __future__ import annotations

from . import programs as P
from . import register as _register
from ._base import Exercise, LearnerOutputError, number, numbers

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


def _single(out, what):
    """A layer of one neuron may return that neuron's Value or a one-element list."""
    if isinstance(out, (list, tuple)):
        if len(out) != 1:
            raise LearnerOutputError(f"{what} should give one output, got a list of {len(out)}")
        out = out[0]
    return out


def _mlp_produce(case, names):
    model = names["MLP"](case["nin"], list(case["nouts"]))
    params = list(model.parameters())
    if len(params) != len(case["params"]):
        raise LearnerOutputError(
            f"MLP({case['nin']}, {case['nouts']}).parameters() should list "
            f"{len(case['params'])} Values (weights and a bias per neuron), yours lists {len(params)}")
    for p, w in zip(params, case["params"]):
        p.data = w
        p.grad = 0.0
    values = {}
    loss = None
    for k, (x, y) in enumerate(zip(case["xs"], case["ys"])):
        out = _single(model(list(x)), f"MLP(...)({x})")
        values[f"model({x}).data"] = number(getattr(out, "data", None), f"model({x}).data")
        term = (out - y) ** 2
        loss = term if loss is None else loss + term
    values["loss.data"] = number(loss.data, "loss.data")
    loss.backward()
    for i, p in enumerate(params):
        values[f"parameters()[{i}].grad"] = number(p.grad, f"parameters()[{i}].grad")
    return {"values": values}


def _mlp_report(case, values, grads):
    out = {f"model({x}).data": values[f"out{k}"] for k, x in enumerate(case["xs"])}
    out["loss.data"] = values["loss"]
    out.update({f"parameters()[{i}].grad": grads[f"p{i}"] for i in range(len(case["params"]))})
    return out


def _mlp_variants(case):
    args = (case["nin"], case["nouts"], case["params"], case["xs"], case["ys"])
    return {"last_layer_tanh": mlp_program(*args, last_tanh=True),
            "no_hidden_tanh": mlp_program(*args, hidden_tanh=False)}


# ---------------------------------------------------------------- ex06_training
class HarnessModel:
    """A small MLP made directly of microgradlab Values, for testing ``train``.

    It has ``__call__`` and ``parameters()`` but deliberately NO ``zero_grad``:
    ``train`` must reset the gradients itself.
    """

    def __init__(self, nin, nouts, params, Value):
        self.sizes = [nin, *nouts]
        self.params = [Value(float(p)) for p in params]

    def __call__(self, x):
        acts, p = list(x), 0
        for layer in range(len(self.sizes) - 1):
            last = layer == len(self.sizes) - 2
            new = []
            for _ in range(self.sizes[layer + 1]):
                n_in = self.sizes[layer]
                total = None
                for i in range(n_in):
                    term = self.params[p + i] * acts[i]
                    total = term if total is None else total + term
                act = total + self.params[p + n_in]
                p += n_in + 1
                new.append(act if last else act.tanh())
            acts = new
        return acts[0]

    def parameters(self):
        return list(self.params)


def simulate_training(case, zero_grad=True, descend=True):
    """The losses (and final parameters) a train loop produces, on floats.

    ``zero_grad=False`` lets gradients pile up across steps; ``descend=False``
    moves parameters up the gradient. Used by the checker to recognise mistakes.
    """
    params = list(case["params"])
    names = [f"p{i}" for i in range(len(params))]
    carried = [0.0] * len(params)
    losses = []
    for _ in range(case["steps"]):
        program = mlp_program(case["nin"], case["nouts"], params, case["xs"], case["ys"])
        values = P.evaluate(program)
        grads = P.gradients(program)
        losses.append(values["loss"])
        carried = [(0.0 if zero_grad else c) + grads[n] for c, n in zip(carried, names)]
        sign = -1.0 if descend else 1.0
        params = [p + sign * case["lr"] * g for p, g in zip(params, carried)]
    return losses, params


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
    model = HarnessModel(case["nin"], case["nouts"], case["params"], names["Value"])
    xs = [list(x) for x in case["xs"]]
    losses = names["train"](model, xs, list(case["ys"]), case["steps"], case["lr"])
    losses = numbers(losses, "the list train returns", case["steps"])
    values = {f"losses[{i}]": v for i, v in enumerate(losses)}
    for i, p in enumerate(model.parameters()):
        values[f"model.parameters()[{i}].data after training"] = number(p.data, f"parameter {i}")
    return {"values": values}


def training_report(case, losses, params):
    out = {f"losses[{i}]": v for i, v in enumerate(losses)}
    out.update({f"model.parameters()[{i}].data after training": p for i, p in enumerate(params)})
    return out


_register(Exercise(
    "ex06_mlp", NOTEBOOK, "Neuron, Layer and MLP", ("Neuron", "Layer", "MLP"), (
        "A Layer is a list of Neurons that all read the same inputs; an MLP is a list of Layers, each "
        "reading the previous layer's outputs.",
        "Hidden layers squash with tanh; the LAST layer is linear (nonlin=False), so the network can "
        "output any number.",
        "parameters() collects layer by layer, neuron by neuron, each neuron's weights then its bias; "
        "MLP(nin, nouts) builds Layer(sizes[i], sizes[i+1], nonlin=i != last) for sizes = [nin] + nouts.",
    ), _mlp_fixed, _mlp_draw, _mlp_produce, report=_mlp_report, variants=_mlp_variants))

_register(Exercise(
    "ex06_training", NOTEBOOK, "The training loop", ("train",), (
        "One training step: forward, loss, backward, update. Repeat.",
        "Gradients ADD UP across backward calls: reset every parameter's grad to 0 before backward.",
        "In each step: loss = sum((model(x) - y)**2 for x, y), set p.grad = 0 for every p in "
        "model.parameters(), loss.backward(), then p.data -= lr * p.grad; record loss.data.",
    ), _training_fixed, _training_draw, _training_produce,
    provides={"Value": "microgradlab.engine:Value"}))

"""Notebook 06's first two steps: a Neuron class, then a Layer of them.

Both are programs too: a neuron is  act(b + w1*x1 + ... + wn*xn)  with act tanh or
nothing; a layer's neurons all read the same inputs, and to see every parameter's
gradient at once the checker backpropagates from  1*out_1 + 2*out_2 + ...  (a
distinct factor per neuron, so a gradient that lands on the wrong neuron shows).
The parameters are set through ``parameters()`` (so its order counts: weights,
then the bias, neuron by neuron), as for the MLP.
"""

from __future__ import annotations

from ._base import Exercise, LearnerOutputError, kind, named, number

INIT_FACT = "a new MLP's weights are random numbers in [-1, 1], not all the same"
NEURON_INIT_FACT = "a new Neuron's weights are random numbers in [-1, 1], not all the same"
ONE_VALUE_FACT = "an MLP with one output returns that Value itself, not a list"
LAYER_ONE_VALUE_FACT = "a Layer of one neuron returns that Value itself, not a list"
DISTINCT_FACT = "every Value in parameters() is a different Value (one Neuron object each)"


def init_ok(started):
    """Random in [-1, 1] and not all equal (one weight cannot be told from a constant)."""
    return all(-1.0 <= w <= 1.0 for w in started) and (len(started) < 2 or len(set(started)) > 1)


def init_detail(started, what):
    return (f"the weights of your new {what} start at "
            + ", ".join(f"{w:.4g}" for w in sorted(set(started))[:4])
            + (" ..." if len(set(started)) > 4 else "")
            + ": draw each weight with random.uniform(-1, 1), as the notebook asks, so the "
              "neurons of a layer start different (all equal, they would all learn the same).")


def layer_program(nin, nout, params, x, nonlin=True):
    """Leaves p0, p1, ... (each neuron's weights then its bias) and x0, x1, ...; node
    ``o{k}`` is neuron k's output and ``total`` = 1*o0 + 2*o1 + ... the output."""
    leaves = {f"p{i}": p for i, p in enumerate(params)}
    leaves.update({f"x{i}": v for i, v in enumerate(x)})
    ops, total = [], None
    for k in range(nout):
        first = k * (nin + 1)
        act = f"p{first + nin}"  # the bias: a neuron's sum starts from it
        for i in range(nin):
            ops.append([f"m{k}_{i}", "mul", f"p{first + i}", f"x{i}"])
            ops.append([f"a{k}_{i}", "add", act, f"m{k}_{i}"])
            act = f"a{k}_{i}"
        ops.append([f"o{k}", "tanh", act] if nonlin else [f"o{k}", "mulc", act, 1.0])
        ops.append([f"s{k}", "mulc", f"o{k}", float(k + 1)])
        total = f"s{k}" if total is None else _add(ops, total, f"s{k}", k)
    ops.append(["total", "mulc", total, 1.0])
    return {"leaves": leaves, "ops": ops, "output": "total"}


def _add(ops, left, right, k):
    ops.append([f"t{k}", "add", left, right])
    return f"t{k}"


def set_parameters(params, numbers, what):
    if len(params) != len(numbers):
        raise LearnerOutputError(f"{what}.parameters() should list {len(numbers)} Values "
                                 f"(weights and a bias per neuron), yours lists {len(params)}")
    for p, w in zip(params, numbers):
        p.data = w
        p.grad = 0.0


def weights_of(params, nin, nout):
    """The starting numbers of the weights (not the biases) in parameters() order."""
    return [number(getattr(params[k * (nin + 1) + i], "data", None), "a weight's .data")
            for k in range(nout) for i in range(nin)]


# ---------------------------------------------------------------- ex06_neuron
def _neuron_case(name, shown, nin, params, x, nonlin=True):
    return {"name": name, "shown": shown, "nin": nin, "nout": 1, "nonlin": nonlin,
            "params": params, "x": x, "program": layer_program(nin, 1, params, x, nonlin)}


def _neuron_fixed():
    return [
        _neuron_case("Neuron(2) with w = [0.5, -1], b = 0.25 at x = [2, 1]", True, 2,
                     [0.5, -1.0, 0.25], [2.0, 1.0]),
        _neuron_case("Neuron(2, nonlin=False) with w = [-0.5, 0.75], b = 0.5 at x = [1, 2]",
                     True, 2, [-0.5, 0.75, 0.5], [1.0, 2.0], nonlin=False),
        _neuron_case("Neuron(3) near saturation", False, 3, [0.9, -0.8, 0.7, 0.5],
                     [2.0, -2.0, 1.5]),
        _neuron_case("Neuron(1, nonlin=False)", False, 1, [-0.3, 0.6], [4.0], nonlin=False),
    ]


def _neuron_draw(rng):
    nin = rng.randint(1, 4)
    return [_neuron_case(f"a random Neuron({nin})", False, nin,
                         [round(rng.uniform(-1, 1), 4) for _ in range(nin + 1)],
                         [round(rng.uniform(-2, 2), 3) for _ in range(nin)],
                         nonlin=rng.random() < 0.5)]


def _neuron_produce(case, names):
    neuron = names["Neuron"](case["nin"], nonlin=case["nonlin"])
    params = list(neuron.parameters())
    started = weights_of(params, case["nin"], 1) if len(params) == case["nin"] + 1 else []
    set_parameters(params, case["params"], f"Neuron({case['nin']})")
    facts = {NEURON_INIT_FACT: init_ok(started)}
    detail = {NEURON_INIT_FACT: init_detail(started, "Neuron")}
    out = neuron(list(case["x"]))
    if not (hasattr(out, "data") and hasattr(out, "backward")):
        raise LearnerOutputError(f"a Neuron called on a list of numbers should return a Value, "
                                 f"got {kind(out)}")
    values = {f"neuron({case['x']}).data": number(out.data, "the neuron's output .data")}
    out.backward()
    for i, p in enumerate(params):
        values[f"parameters()[{i}].grad"] = number(p.grad, f"parameters()[{i}].grad")
    return {"values": values, "facts": facts, "detail": detail}


def _neuron_report(case, values, grads):
    out = {f"neuron({case['x']}).data": values["o0"]}
    out.update({f"parameters()[{i}].grad": grads[f"p{i}"] for i in range(len(case["params"]))})
    return out


def _flipped(case):
    """The same case with tanh where nonlin asks for none, and none where it asks for it."""
    program = layer_program(case["nin"], case["nout"], case["params"], case["x"],
                            not case["nonlin"])
    return {("forgot_tanh" if case["nonlin"] else "nonlin_ignored"): program}


NONLIN_IGNORED = ("nonlin=False asks for a linear neuron: apply tanh only when self.nonlin "
                  "is True, and pass nonlin on to every Neuron you make.")

NEURON = Exercise(
    id="ex06_neuron", notebook="06_mlp", title="The Neuron class", uses=("Neuron",), hints=(
        "A Neuron holds its own weights and bias as Values: it is the neuron function of "
        "notebook 05, with the parameters kept inside.",
        "__init__ draws nin weights with random.uniform(-1, 1) and sets the bias to 0; "
        "parameters() lists the weights, then the bias.",
        "__call__(x) adds up wi * xi starting from the bias (sum(..., self.b)), then applies "
        "tanh only when nonlin is True. What does a Neuron(nin, nonlin=False) return?",
    ), fixed=_neuron_fixed, draw=_neuron_draw, producer=_neuron_produce, report=_neuron_report,
    variants=_flipped, facts=lambda case: {NEURON_INIT_FACT: True},
    mistakes=named("forgot_tanh", "hard_coded", nonlin_ignored=NONLIN_IGNORED))


# ---------------------------------------------------------------- ex06_layer
def _layer_case(name, shown, nin, nout, params, x, nonlin=True):
    return {"name": name, "shown": shown, "nin": nin, "nout": nout, "nonlin": nonlin,
            "params": params, "x": x, "program": layer_program(nin, nout, params, x, nonlin)}


def _spread(n, scale=0.6):
    return [round(scale * ((i * 7919) % 13 - 6) / 6, 4) for i in range(n)]


def _layer_fixed():
    return [
        _layer_case("Layer(2, 3) at x = [1, -1]", True, 2, 3, _spread(9), [1.0, -1.0]),
        _layer_case("Layer(3, 1, nonlin=False): one neuron, one Value", True, 3, 1,
                    [0.2, -0.4, 0.6, 0.1], [1.0, 2.0, -0.5], nonlin=False),
        _layer_case("Layer(1, 4)", False, 1, 4, _spread(8, 0.9), [1.5]),
        _layer_case("Layer(3, 2, nonlin=False)", False, 3, 2, _spread(8), [0.5, -2.0, 1.0],
                    nonlin=False),
    ]


def _layer_draw(rng):
    nin, nout = rng.randint(1, 3), rng.randint(2, 4)
    return [_layer_case(f"a random Layer({nin}, {nout})", False, nin, nout,
                        [round(rng.uniform(-1, 1), 4) for _ in range(nout * (nin + 1))],
                        [round(rng.uniform(-2, 2), 3) for _ in range(nin)],
                        nonlin=rng.random() < 0.5)]


def _layer_produce(case, names):
    nin, nout, x = case["nin"], case["nout"], list(case["x"])
    layer = names["Layer"](nin, nout, nonlin=case["nonlin"])
    params = list(layer.parameters())
    distinct = len({id(p) for p in params}) == len(params)
    facts = {DISTINCT_FACT: distinct, LAYER_ONE_VALUE_FACT: True}
    detail = {DISTINCT_FACT: (
        f"Layer({nin}, {nout}).parameters() lists {len(params)} Values but only "
        f"{len({id(p) for p in params})} different ones: make a new Neuron for each of the "
        "nout places (a list comprehension), not one Neuron repeated")}
    if not distinct:
        return {"values": {}, "facts": facts, "detail": detail}
    set_parameters(params, case["params"], f"Layer({nin}, {nout})")
    outs = layer(x)
    if nout == 1:
        if isinstance(outs, (list, tuple)):
            facts[LAYER_ONE_VALUE_FACT] = False
            detail[LAYER_ONE_VALUE_FACT] = (
                f"your Layer({nin}, 1) returns a list of {len(outs)} for one input: a Layer "
                "with one neuron returns the single Value itself (so an MLP ending in one "
                "neuron returns one Value).")
            return {"values": {}, "facts": facts, "detail": detail}
        outs = [outs]
    elif not isinstance(outs, (list, tuple)) or len(outs) != nout:
        raise LearnerOutputError(f"Layer({nin}, {nout}) called on {x} should return a list of "
                                 f"{nout} Values, got {kind(outs)}")
    values = {}
    total = None
    for k, out in enumerate(outs):
        values[_out_key(case, k)] = number(getattr(out, "data", None), _out_key(case, k))
        term = out * float(k + 1)
        total = term if total is None else total + term
    total.backward()
    for i, p in enumerate(params):
        values[f"parameters()[{i}].grad"] = number(p.grad, f"parameters()[{i}].grad")
    return {"values": values, "facts": facts, "detail": detail}


def _out_key(case, k):
    return (f"layer({case['x']}).data" if case["nout"] == 1
            else f"layer({case['x']})[{k}].data")


def _layer_report(case, values, grads):
    out = {_out_key(case, k): values[f"o{k}"] for k in range(case["nout"])}
    out.update({f"parameters()[{i}].grad": grads[f"p{i}"] for i in range(len(case["params"]))})
    return out


LAYER = Exercise(
    id="ex06_layer", notebook="06_mlp", title="The Layer class", uses=("Neuron", "Layer"),
    hints=(
        "A Layer is a list of Neurons that all read the same inputs.",
        "Make nout separate Neuron(nin, nonlin) objects; calling the layer calls each of them "
        "on the same x, and parameters() joins their parameters in neuron order.",
        "__call__ returns the list of the neurons' outputs, except when there is a single "
        "neuron. What does it return then?",
    ), fixed=_layer_fixed, draw=_layer_draw, producer=_layer_produce, report=_layer_report,
    variants=_flipped, builds_on=("ex06_neuron",),
    facts=lambda case: {DISTINCT_FACT: True, LAYER_ONE_VALUE_FACT: True},
    fact_mistakes={DISTINCT_FACT: "neurons_shared"},
    mistakes=named("forgot_tanh", "hard_coded", nonlin_ignored=NONLIN_IGNORED,
                   neurons_shared="the layer holds one Neuron object several times "
                   "([Neuron(nin)] * nout): its neurons are one and the same, so they cannot "
                   "learn different things. Make a new Neuron for each place."))

"""microgradlab.nn: reproducible initialisation, parameter order, forward and
gradients against PyTorch, the losses, and SGD."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from microgradlab import Value
from microgradlab.nn import (
    MLP, SGD, Layer, Neuron, binary_cross_entropy, hinge_loss, l2_penalty, mse_loss,
)


def t64(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def expected_initial_parameters(nin, nouts, seed):
    """What the docstrings promise: weights uniform in [-1, 1] drawn from
    random.Random(seed) layer by layer, neuron by neuron; every bias 0."""
    rng = random.Random(seed)
    sizes = [nin] + list(nouts)
    params = []
    for fan_in, width in zip(sizes, sizes[1:]):
        for _ in range(width):
            params += [rng.uniform(-1, 1) for _ in range(fan_in)] + [0.0]
    return params


def test_seeded_mlp_has_the_documented_weights():
    model = MLP(2, [16, 16, 1], seed=0)
    got = [p.data for p in model.parameters()]
    assert len(got) == 337 == 16 * 3 + 16 * 17 + 1 * 17
    assert got == expected_initial_parameters(2, [16, 16, 1], seed=0)
    assert got == [p.data for p in MLP(2, [16, 16, 1], seed=0).parameters()]
    assert got != [p.data for p in MLP(2, [16, 16, 1], seed=1).parameters()]


def test_unseeded_mlp_follows_the_global_random_module_like_micrograd():
    random.seed(42)
    first = [p.data for p in MLP(3, [4, 2]).parameters()]
    random.seed(42)
    assert [p.data for p in MLP(3, [4, 2]).parameters()] == first


def test_parameters_order_layer_neuron_weights_then_bias():
    model = MLP(2, [3, 1], seed=5)
    expected = []
    for layer in model.layers:
        for neuron in layer.neurons:
            expected += neuron.w + [neuron.b]
    params = model.parameters()
    assert len(params) == 3 * 3 + 4
    assert all(p is q for p, q in zip(params, expected))
    assert len({id(p) for p in params}) == len(params), "no parameter listed twice"


def test_hidden_layers_use_relu_and_the_last_layer_is_linear():
    model = MLP(2, [4, 4, 1], seed=0)
    assert [layer.neurons[0].activation for layer in model.layers] == ["relu", "relu", "linear"]
    assert [layer.neurons[0].nonlin for layer in model.layers] == [True, True, False]
    assert model([0.3, -0.2])._op == "linear"
    tanh_neuron = MLP(2, [4, 1], nonlin="tanh", seed=0).layers[0].neurons[0]
    assert tanh_neuron.activation == "tanh" and tanh_neuron.nonlin is True


def _torch_mlp_forward(model, x, params):
    """The same network in PyTorch, with weights taken from ``params`` in order."""
    it = iter(params)
    h = torch.tensor(x, dtype=torch.float64)
    for layer in model.layers:
        outs = []
        for neuron in layer.neurons:
            w = torch.stack([next(it) for _ in neuron.w])
            b = next(it)
            z = b + (w * h).sum()
            outs.append({"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
                         "linear": lambda t: t}[neuron.activation](z))
        h = torch.stack(outs)
    return h[0]


@pytest.mark.parametrize("nonlin", ["relu", "tanh", "sigmoid"])
def test_forward_and_parameter_gradients_match_pytorch(nonlin):
    model = MLP(3, [5, 4, 1], nonlin=nonlin, seed=2)
    x = [0.5, -1.5, 2.0]
    out = model(x)
    out.backward()
    tparams = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    tout = _torch_mlp_forward(model, x, tparams)
    tout.backward()
    assert out.data == pytest.approx(tout.item(), rel=1e-12)
    for p, tp in zip(model.parameters(), tparams):
        assert p.grad == pytest.approx(tp.grad.item(), rel=1e-9, abs=1e-12)


def test_layer_of_several_neurons_returns_a_list():
    layer = Layer(2, 3, seed=0)
    out = layer([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)


def test_neuron_micrograd_nonlin_flag():
    relu, linear = Neuron(2, nonlin=True, seed=0), Neuron(2, nonlin=False, seed=0)
    assert relu.nonlin is True and relu.activation == "relu"
    assert linear.nonlin is False and linear.activation == "linear"


def test_setting_nonlin_switches_the_neuron_as_in_micrograd():
    n = Neuron(1, seed=0)
    n.w[0].data = -1.0
    assert n([1.0]).data == 0.0  # relu(-1)
    n.nonlin = False
    assert n.activation == "linear" and n([1.0]).data == -1.0
    n.nonlin = True
    assert n.activation == "relu"
    t = Neuron(1, nonlin="tanh", seed=0)
    t.nonlin = True  # keeps the named non-linearity it already has
    assert t.activation == "tanh"


def test_network_calls_restore_the_garbage_collector_state():
    import gc

    model = MLP(2, [3, 1], seed=0)
    assert gc.isenabled()
    model([1.0, 2.0]).backward()
    assert gc.isenabled()
    with pytest.raises(ValueError):
        model([1.0])  # wrong size: raised inside the call
    assert gc.isenabled()
    gc.disable()
    try:
        model([1.0, 2.0]).backward()
        assert not gc.isenabled(), "a user's disabled collector stays disabled"
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Neuron(2, nonlin="softmax"), "nonlin must be one of"),
        (lambda: Neuron(2, seed=0)([1.0, 2.0, 3.0]), "takes 2 inputs, got 3"),
        (lambda: MLP(2, [3, 1], seed=0)([1.0]), "takes 2 inputs, got 1"),
        (lambda: mse_loss([Value(1.0)], [1.0, 2.0]), "1 predictions but 2 targets"),
        (lambda: hinge_loss([], []), "at least one example"),
    ],
)
def test_bad_arguments_raise_value_error(make, words):
    with pytest.raises(ValueError, match=words):
        make()


# ----------------------------------------------------------------------
# Losses and their gradients against PyTorch
# ----------------------------------------------------------------------
SCORES = [0.3, -1.2, 2.5, 0.9, -0.1]
PLUS_MINUS = [1.0, -1.0, 1.0, -1.0, -1.0]
ZERO_ONE = [1.0, 0.0, 1.0, 0.0, 0.0]


def _check(loss_fn, torch_fn, targets):
    values = [Value(s) for s in SCORES]
    loss = loss_fn(values, targets)
    loss.backward()
    t = t64(SCORES)
    tloss = torch_fn(t, torch.tensor(targets, dtype=torch.float64))
    tloss.backward()
    assert loss.data == pytest.approx(tloss.item(), rel=1e-12)
    for v, g in zip(values, t.grad.tolist()):
        assert v.grad == pytest.approx(g, rel=1e-9, abs=1e-15)


def test_mse_loss_matches_pytorch():
    _check(mse_loss, F.mse_loss, [0.0, 1.0, 2.0, -1.0, 0.5])


def test_hinge_loss_matches_pytorch():
    _check(hinge_loss, lambda s, y: torch.relu(1 - y * s).mean(), PLUS_MINUS)


def test_binary_cross_entropy_on_logits_matches_pytorch():
    _check(binary_cross_entropy, F.binary_cross_entropy_with_logits, ZERO_ONE)


def test_binary_cross_entropy_is_finite_for_confident_logits():
    logits = [Value(800.0), Value(-800.0)]
    loss = binary_cross_entropy(logits, [0.0, 1.0])  # both very wrong
    loss.backward()
    assert loss.data == pytest.approx(800.0)
    assert logits[0].grad == pytest.approx(0.5) and logits[1].grad == pytest.approx(-0.5)


def test_l2_penalty_matches_pytorch():
    params = [Value(s) for s in SCORES]
    penalty = l2_penalty(params, 1e-4)
    penalty.backward()
    t = t64(SCORES)
    tpenalty = 1e-4 * (t * t).sum()
    tpenalty.backward()
    assert penalty.data == pytest.approx(tpenalty.item(), rel=1e-12)
    assert [p.grad for p in params] == pytest.approx(t.grad.tolist(), rel=1e-12)


# ----------------------------------------------------------------------
# SGD
# ----------------------------------------------------------------------
def test_sgd_step_moves_against_the_gradient_and_zero_grad_resets():
    a, b = Value(1.0), Value(-2.0)
    opt = SGD([a, b], lr=0.1)
    (a * a + 3 * b).backward()  # grads 2 and 3
    opt.step()
    assert (a.data, b.data) == pytest.approx((1.0 - 0.1 * 2.0, -2.0 - 0.1 * 3.0))
    opt.zero_grad()
    assert (a.grad, b.grad) == (0.0, 0.0)


def test_sgd_matches_torch_sgd_over_training_steps():
    X = [[0.5, -1.0], [1.5, 0.3], [-0.7, 0.8], [0.1, 0.1]]
    y = [1.0, -1.0, 1.0, -1.0]
    model = MLP(2, [6, 1], seed=3)
    opt = SGD(model.parameters(), lr=0.05)
    tparams = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    topt = torch.optim.SGD(tparams, lr=0.05)
    for _ in range(5):
        opt.zero_grad()
        loss = hinge_loss([model(x) for x in X], y)
        loss.backward()
        opt.step()
        topt.zero_grad()
        scores = torch.stack([_torch_mlp_forward(model, x, tparams) for x in X])
        tloss = torch.relu(1 - torch.tensor(y, dtype=torch.float64) * scores).mean()
        tloss.backward()
        topt.step()
        assert loss.data == pytest.approx(tloss.item(), rel=1e-9)
    assert [p.data for p in model.parameters()] == pytest.approx([t.item() for t in tparams], rel=1e-9)

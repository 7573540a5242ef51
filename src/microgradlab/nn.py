"""Neural networks out of Values: Neuron, Layer, MLP, losses and SGD.

A network is a function of its inputs *and* of its parameters (weights and
biases). Training nudges every parameter a little against its gradient.
"""

from __future__ import annotations

import gc
import random

from .engine import Value, _values

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "SGD",
    "mse_loss", "hinge_loss", "binary_cross_entropy", "l2_penalty",
]

_NONLINEARITIES = ("relu", "tanh", "sigmoid", "linear")


def _nonlin_name(nonlin):
    """Accept micrograd's ``nonlin=True/False`` (ReLU or none) or a name."""
    if nonlin is True:
        return "relu"
    if nonlin is False or nonlin is None:
        return "linear"
    if not isinstance(nonlin, str) or nonlin not in _NONLINEARITIES:
        raise ValueError(f"nonlin must be one of {_NONLINEARITIES} or True/False, got {nonlin!r}")
    return nonlin


def _make_rng(seed, rng):
    if rng is not None:
        return rng
    # No seed: draw from the global `random` module, as micrograd does, so
    # `random.seed(...)` before building a network still reproduces it.
    return random.Random(seed) if seed is not None else random


class Module:
    """Anything with parameters."""

    def parameters(self):
        """All trainable Values, in a fixed order."""
        return []

    def zero_grad(self):
        """Reset every parameter's grad to 0 (gradients accumulate otherwise)."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """out = nonlin(w . x + b), with weights drawn uniformly from [-1, 1] and b = 0.

    ``nonlin`` is micrograd's flag: True when the neuron applies a
    non-linearity, False for a linear neuron (code written for micrograd tests
    ``if self.nonlin``). ``activation`` names which one: "relu" (what
    ``nonlin=True`` means), "tanh", "sigmoid" or "linear".
    """

    def __init__(self, nin, nonlin=True, *, seed=None, rng=None):
        rng = _make_rng(seed, rng)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.activation = _nonlin_name(nonlin)

    @property
    def nonlin(self):
        """True exactly when the neuron is non-linear (a bool, as in micrograd)."""
        return self.activation != "linear"

    @nonlin.setter
    def nonlin(self, value):
        # micrograd code may switch a neuron with ``n.nonlin = False``; True
        # keeps a named non-linearity the neuron already has.
        if value is True and self.activation != "linear":
            return
        self.activation = _nonlin_name(value)

    def __call__(self, x):
        if len(x) != len(self.w):
            raise ValueError(f"this neuron takes {len(self.w)} inputs, got {len(x)}")
        collecting = gc.isenabled()
        try:
            gc.disable()  # as in Value.backward: see engine._PAUSING_THE_COLLECTOR
            # One 'linear' node for b + w.x: same numbers as a chain of * and +,
            # but 1 node instead of 2n, which makes training several times faster.
            act = Value.linear(self.w, x, self.b)
            activation = self.activation
            if activation == "linear":
                return act
            if activation == "relu":
                return act.relu()
            return getattr(act, activation)()
        finally:
            if collecting:
                gc.enable()

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        name = {"relu": "ReLU", "linear": "Linear"}.get(self.activation, self.activation.capitalize())
        return f"{name}Neuron({len(self.w)})"


class Layer(Module):
    """nout neurons that all read the same inputs."""

    def __init__(self, nin, nout, nonlin=True, *, seed=None, rng=None):
        rng = _make_rng(seed, rng)
        self.neurons = [Neuron(nin, nonlin, rng=rng) for _ in range(nout)]

    def __call__(self, x):
        collecting = gc.isenabled()
        try:
            gc.disable()  # as in Value.backward: see engine._PAUSING_THE_COLLECTOR
            # Check and wrap the inputs once for all neurons, not once per neuron.
            # A Neuron subclass with its own __call__ gets x exactly as given.
            checked = _values(x)
            out = [n(checked) if type(n).__call__ is _plain_neuron_call else n(x)
                   for n in self.neurons]
        finally:
            if collecting:
                gc.enable()
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


_plain_neuron_call = Neuron.__call__


class MLP(Module):
    """A multi-layer perceptron: MLP(2, [16, 16, 1]) maps 2 inputs to 1 output.

    Hidden layers use ``nonlin`` (ReLU by default, as in micrograd); the last
    layer is linear. ``seed`` makes the initial weights reproducible anywhere.
    """

    def __init__(self, nin, nouts, *, nonlin="relu", seed=None, rng=None):
        rng = _make_rng(seed, rng)
        sizes = [nin] + list(nouts)
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin if i < len(nouts) - 1 else "linear", rng=rng)
            for i in range(len(nouts))
        ]

    def __call__(self, x):
        collecting = gc.isenabled()
        try:
            gc.disable()  # as in Value.backward: see engine._PAUSING_THE_COLLECTOR
            for layer in self.layers:
                x = layer(x)
        finally:
            if collecting:
                gc.enable()
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


# ----------------------------------------------------------------------
# Losses: each returns one Value, the mean over the examples.
# ----------------------------------------------------------------------
def _check_lengths(a, b):
    if len(a) != len(b):
        raise ValueError(f"got {len(a)} predictions but {len(b)} targets")
    if not a:
        raise ValueError("a loss needs at least one example")


def mse_loss(predictions, targets):
    """Mean squared error: mean((p - y)**2)."""
    _check_lengths(predictions, targets)
    return Value.sum((p - y) ** 2 for p, y in zip(predictions, targets)) * (1.0 / len(predictions))


def hinge_loss(scores, labels):
    """Max-margin loss for labels in {-1, +1}: mean(relu(1 - y * score))."""
    _check_lengths(scores, labels)
    return Value.sum((1 + -y * s).relu() for s, y in zip(scores, labels)) * (1.0 / len(scores))


def binary_cross_entropy(logits, targets):
    """Binary cross-entropy on logits z with targets y in {0, 1}.

    mean(softplus(z) - y*z), which equals -mean(y ln s + (1-y) ln(1-s)) with
    s = sigmoid(z) but never takes the log of 0.
    """
    _check_lengths(logits, targets)
    return Value.sum(z.softplus() - y * z for z, y in zip(logits, targets)) * (1.0 / len(logits))


def l2_penalty(parameters, alpha):
    """alpha * sum(p**2): pulls weights towards 0."""
    return alpha * Value.sum(p * p for p in parameters)


class SGD:
    """Plain gradient descent: p.data -= lr * p.grad for every parameter."""

    def __init__(self, parameters, lr=0.1):
        self.parameters = list(parameters)
        self.lr = lr

    def zero_grad(self):
        for p in self.parameters:
            p.grad = 0.0

    def step(self):
        for p in self.parameters:
            p.data -= self.lr * p.grad

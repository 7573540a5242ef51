"""A yardstick: a scalar autograd engine in the classic closure style.

This is micrograd's *design*, written here from its description (not copied):

* every node stores its backward step as a closure that captures the output
  node (a reference cycle per node), and its inputs as a ``set``;
* ``backward`` sorts the graph with a recursive depth-first search;
* a neuron adds its products with Python's ``sum``, one '+' node per term.

The benchmark and tests/test_micrograd_compat.py measure and check
microgradlab against it. Nothing in microgradlab imports this file.
"""
from __future__ import annotations

import random


class ClosureValue:
    """A scalar with a gradient, the way most tutorials write one."""

    def __init__(self, data, children=(), op=""):
        self.data = data
        self.grad = 0
        self._backward = lambda: None
        self._prev = set(children)
        self._op = op

    def __add__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward  # the closure holds out: a reference cycle
        return out

    def __mul__(self, other):
        other = other if isinstance(other, ClosureValue) else ClosureValue(other)
        out = ClosureValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float)), "only a number exponent"
        out = ClosureValue(self.data**k, (self,), f"**{k}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = ClosureValue(0 if self.data < 0 else self.data, (self,), "ReLU")

        def _backward():
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def backward(self):
        order, visited = [], set()

        def visit(node):  # recursive: one Python frame per level of the graph
            if node not in visited:
                visited.add(node)
                for child in node._prev:
                    visit(child)
                order.append(node)

        visit(self)
        self.grad = 1
        for node in reversed(order):
            node._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def __repr__(self):
        return f"ClosureValue(data={self.data}, grad={self.grad})"


class ClosureModule:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = 0

    def parameters(self):
        return []


class ClosureNeuron(ClosureModule):
    def __init__(self, nin, nonlin=True):
        self.w = [ClosureValue(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = ClosureValue(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class ClosureLayer(ClosureModule):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [ClosureNeuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class ClosureMLP(ClosureModule):
    def __init__(self, nin, nouts):
        sizes = [nin] + list(nouts)
        self.layers = [
            ClosureLayer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1)
            for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def copy_weights(source, target):
    """Give target (any MLP) the parameter values of source, in parameters() order."""
    src, dst = source.parameters(), target.parameters()
    if len(src) != len(dst):
        raise ValueError(f"{len(src)} parameters cannot be copied onto {len(dst)}")
    for s, d in zip(src, dst):
        d.data = float(s.data)


def demo_loss(Value, model, X, y):
    """The loss of micrograd's demo, written the way the demo writes it.

    Max-margin loss with Python's sum, an L2 penalty sum(p*p) with alpha 1e-4,
    and the accuracy. Works for any engine: Value makes a scalar from a number.
    """
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    alpha = 1e-4
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def demo_training(Value, model, X, y, steps):
    """The demo's training loop: SGD with a decaying learning rate.

    Returns (loss per step, accuracy per step) as plain floats.
    """
    losses, accuracies = [], []
    for k in range(steps):
        total_loss, acc = demo_loss(Value, model, X, y)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        losses.append(float(total_loss.data))
        accuracies.append(float(acc))
    return losses, accuracies

"""Code written for micrograd runs unchanged on microgradlab, with the same numbers.

A ``micrograd`` package is made at test time whose ``engine`` and ``nn`` are
microgradlab's modules; the expressions of micrograd's own engine tests
(transcribed here, compared with PyTorch as they are there) and a few steps of
its demo's training loop then run through that alias.
"""
from __future__ import annotations

import importlib.util
import random
import sys
import types

import numpy as np
import pytest
import torch

import microgradlab.engine
import microgradlab.nn
from microgradlab.data import make_moons


@pytest.fixture
def micrograd(monkeypatch):
    package = types.ModuleType("micrograd")
    package.__path__ = []  # a package, so `import micrograd.engine` works
    package.engine, package.nn = microgradlab.engine, microgradlab.nn
    monkeypatch.setitem(sys.modules, "micrograd", package)
    monkeypatch.setitem(sys.modules, "micrograd.engine", microgradlab.engine)
    monkeypatch.setitem(sys.modules, "micrograd.nn", microgradlab.nn)
    return package


@pytest.fixture(scope="module")
def closure_engine(repo_root):
    spec = importlib.util.spec_from_file_location("closure_engine", repo_root / "bench" / "closure_engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sanity_expression(make):
    x = make(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    return x, y


def _more_ops_expression(make):
    a, b = make(-4.0), make(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return (a, b), g


def _torch_leaf(x):
    return torch.tensor([x], dtype=torch.float64, requires_grad=True)


def test_the_sanity_check_matches_pytorch(micrograd):
    from micrograd.engine import Value

    x, y = _sanity_expression(Value)
    y.backward()
    tx, ty = _sanity_expression(_torch_leaf)
    ty.backward()
    assert y.data == pytest.approx(ty.item(), abs=1e-12)
    assert x.grad == pytest.approx(tx.grad.item(), abs=1e-12)


def test_more_ops_match_pytorch(micrograd):
    from micrograd.engine import Value

    (a, b), g = _more_ops_expression(Value)
    g.backward()
    (ta, tb), tg = _more_ops_expression(_torch_leaf)
    tg.backward()
    assert g.data == pytest.approx(tg.item(), rel=1e-12)
    assert a.grad == pytest.approx(ta.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(tb.grad.item(), rel=1e-12)


@pytest.mark.slow  # trains the demo on two engines
def test_a_few_steps_of_the_demo_give_the_closure_engines_numbers(micrograd, closure_engine):
    from micrograd.engine import Value
    from micrograd.nn import MLP

    np.random.seed(1337)
    random.seed(1337)
    X, y = make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1  # the demo's numpy idiom
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == 337
    twin = closure_engine.ClosureMLP(2, [16, 16, 1])
    closure_engine.copy_weights(model, twin)

    losses, accuracies = closure_engine.demo_training(Value, model, X, y, steps=3)
    want_losses, want_accuracies = closure_engine.demo_training(
        closure_engine.ClosureValue, twin, X, y, steps=3)
    assert losses == pytest.approx(want_losses, abs=1e-12)
    assert accuracies == want_accuracies
    assert losses[-1] < losses[0], "training lowers the loss"
    for p, q in zip(model.parameters(), twin.parameters()):
        assert p.data == pytest.approx(float(q.data), abs=1e-12)


def test_a_neuron_subclass_written_the_micrograd_way(micrograd, closure_engine):
    from micrograd.engine import Value
    from micrograd.nn import Neuron

    class MyNeuron(Neuron):
        def __call__(self, x):
            act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
            return act.relu() if self.nonlin else act

    linear, relu = MyNeuron(1, nonlin=False), MyNeuron(1)
    for n in (linear, relu):
        n.w[0].data, n.b.data = -1.0, 0.0
    assert linear([1.0]).data == -1.0  # micrograd's linear neuron: no relu
    assert relu([1.0]).data == 0.0

    random.seed(3)
    mine = MyNeuron(3, nonlin=False)
    random.seed(3)
    theirs = closure_engine.ClosureNeuron(3, nonlin=False)
    x = [0.5, -2.0, 1.25]
    out, want = mine([Value(v) for v in x]), theirs(x)
    out.backward()
    want.backward()
    assert out.data == want.data
    assert [w.grad for w in mine.w] == [w.grad for w in theirs.w]

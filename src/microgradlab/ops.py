"""Every operation of the engine, written once: what it computes and its local derivatives.

Backpropagation needs two things from an operation ``out = f(a, b)``:

* its **forward** value ``f(a, b)`` on plain floats, and
* its **local derivatives** ``d(out)/da`` and ``d(out)/db``, also plain floats.

The chain rule then does the rest: for every input ``x`` of every node,

    x.grad += d(out)/dx * out.grad

so the only maths an operation owns is its local derivatives. Each entry below
is one decorated function, ``d_<name>(*inputs, out)``, that returns them, one
per input; its docstring is the maths. The decorator :func:`op` records the
rest (forward, how the op is written, which notebook teaches it, the wrong
rules learners write) in an :class:`Op` and registers it in :data:`OPS`.

The readers of the table, each a different interpretation of the same entries:
``engine.Value`` (forward on ``.data``, a backward rule made from ``local``),
``exercises.programs`` (evaluate a program on floats, run its chain rule with a
mistake swapped in, write an op as text), the backward stepper (the words of
each step) and ``checking`` (which wrong rule a learner's numbers match).

Each op is its own top-level statement, so a copy of this module that leaves a
statement out has exactly one op fewer and nothing else changes.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Op", "OPS", "op", "many_inputs_op", "with_constant", "read_symbol", "power", "exp",
           "sigmoid"]


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: how it computes, how it differentiates, how it is written.

    ``operands`` below means the op's inputs in order, with the plain number of
    an op that takes one (pow's exponent k) at position ``constant``.
    """

    name: str            # the name in an expression program: "mul"
    symbol: str          # the engine's _op: "*"; "**{k}" for pow
    arity: int           # how many nodes it reads: 1, 2, or 0 for any number (sum, linear)
    forward: Callable    # forward(*operands) -> float, on floats
    local: Callable      # local(*operands, out) -> (d(out)/d(node input), ...) for each node input
    text: str            # how the learner writes it, operands as {0} {1}: "{0} * {1}"
    python: Callable | str | None  # how Python writes it on any object: operator.mul, or a
                                   # method name ("tanh": x.tanh()); None: only as Value.<name>
    local_text: tuple    # each local derivative as a _backward writes it: ("{1}.data", ...)
                         # ({0} {1}: the operands' names, {out}: the output's); () for n-ary
    taught_in: str | None  # the notebook where the learner writes this op's _backward
    mistakes: dict = field(default_factory=dict)  # {mistake: (wrong local, ...)}, one per way
    constant: int | None = None  # where a plain-number operand sits (pow: 1), else None
    constants: tuple = ()        # the constants random programs give it (pow: exponents)
    testable: Callable | None = None  # testable(*operands): inputs a random case may use,
                                      # comfortably away from poles and overflow
    # Ops of any number of inputs are written on the nodes themselves (see many_inputs_op):
    value: Callable | None = None  # value(inputs) -> float, read from the input nodes' data
    push: Callable | None = None   # push(out): one chain-rule step, out.grad into out._prev


#: Every operation of the engine, by program name.
OPS: dict[str, Op] = {}


def op(name, **fields):
    """Register the decorated ``d_<name>(*operands, out)`` as the local derivatives of
    the op ``name``. The function itself is returned unchanged: ``ops.d_mul`` is
    mul's local derivatives, a name that can be imported, or withheld, on its own."""
    def register(local):
        if name in OPS:
            raise ValueError(f"op {name!r} is registered twice")
        OPS[name] = Op(name=name, local=local, **fields)
        return local
    return register


def many_inputs_op(name, *, value, **fields):
    """Register the decorated ``push(out)`` as the chain-rule step of the op ``name``,
    which takes any number of inputs; return ``push`` unchanged.

    Such an op is written on the nodes themselves: ``value(inputs)`` reads the
    inputs' ``data``, ``push(out)`` adds each input's share of ``out.grad`` to
    its ``grad``. Copying n numbers out of n nodes first, only to hand them to
    a function of floats, would cost as much again as the op itself, and a
    neuron's pre-activation is most of a network's work. The float forms every
    op has are derived from these two: ``forward(*xs)`` is ``value`` of nodes
    holding xs, and ``local(*xs, out)`` is what ``push`` adds to each input
    when ``out.grad`` is 1.
    """
    def register(push):
        def forward(*xs):
            return value([_Scratch(x) for x in xs])

        def local(*operands):
            inputs = tuple(_Scratch(x) for x in operands[:-1])
            push(_Scratch(operands[-1], 1.0, inputs))
            return tuple(node.grad for node in inputs)

        if name in OPS:
            raise ValueError(f"op {name!r} is registered twice")
        OPS[name] = Op(name=name, arity=0, forward=forward, local=local, value=value, push=push,
                       **fields)
        return push
    return register


class _Scratch:
    """A stand-in node that holds plain floats, for running an op written on nodes."""

    __slots__ = ("data", "grad", "_prev")

    def __init__(self, data, grad=0.0, prev=()):
        self.data, self.grad, self._prev = data, grad, prev


# ----------------------------------------------------------------------
# Forward helpers that keep floats in range
# ----------------------------------------------------------------------
def power(base, k):
    """base ** k as a float, with inf (not OverflowError) when it is too large."""
    try:
        return base**k
    except OverflowError:
        # |base| ** k overflowed; the sign is negative only for a negative base
        # raised to an odd integer power.
        odd = float(k).is_integer() and int(k) % 2 == 1
        return -math.inf if (base < 0 and odd) else math.inf


def exp(x):
    """e ** x as a float, with inf instead of OverflowError for large x."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def sigmoid(x):
    """1 / (1 + e**-x), exponentiating only a non-positive number so nothing overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sum_value(inputs, start=0.0):
    """start + x1 + x2 + ... for input nodes x, added left to right."""
    total = start
    for x in inputs:
        total += x.data
    return total


def _linear_value(inputs):
    """b + w1*x1 + ... + wn*xn for input nodes (w1..wn, x1..xn, b), added in that order."""
    n = (len(inputs) - 1) // 2
    total = inputs[-1].data
    for w, x in zip(inputs[:n], inputs[n:2 * n]):
        total += w.data * x.data
    return total


# ----------------------------------------------------------------------
# Notebook 03: the arithmetic operators
# ----------------------------------------------------------------------
@op("add", symbol="+", arity=2, forward=operator.add, python=operator.add,
    text="{0} + {1}", local_text=("1", "1"), taught_in="03_operations")
def d_add(a, b, out):
    """out = a + b.   d(out)/da = 1,   d(out)/db = 1.

    Nudging either input by h nudges the sum by h: a sum passes its gradient
    on to both inputs unchanged."""
    return (1.0, 1.0)


@op("sub", symbol="-", arity=2, forward=operator.sub, python=operator.sub,
    text="{0} - {1}", local_text=("1", "-1"), taught_in="03_operations",
    mistakes={"sub_sign_flipped": (lambda a, b, out: (1.0, 1.0),
                                   lambda a, b, out: (-1.0, 1.0))})
def d_sub(a, b, out):
    """out = a - b.   d(out)/da = 1,   d(out)/db = -1.

    Raising b by h lowers the difference by h: the second input's gradient
    goes DOWN."""
    return (1.0, -1.0)


@op("mul", symbol="*", arity=2, forward=operator.mul, python=operator.mul,
    text="{0} * {1}", local_text=("{1}.data", "{0}.data"), taught_in="03_operations",
    mistakes={"mul_uses_own_data": (lambda a, b, out: (a, b),)})
def d_mul(a, b, out):
    """out = a * b.   d(out)/da = b, the other factor;   d(out)/db = a.

    Nudging a by h changes a*b by b*h: each input's share is the OTHER
    input's value."""
    return (b, a)


@op("div", symbol="/", arity=2, forward=operator.truediv, python=operator.truediv,
    text="{0} / {1}", local_text=("1 / {1}.data", "-{0}.data / {1}.data**2"),
    taught_in="03_operations", testable=lambda a, b: abs(b) >= 0.3)
def d_div(a, b, out):
    """out = a / b.   d(out)/da = 1/b,   d(out)/db = -a/b**2.

    a / b is a * b**-1: the first share is the factor 1/b, the second is the
    power rule on b**-1 times a."""
    return (1.0 / b, -a / (b * b))


@op("neg", symbol="neg", arity=1, forward=operator.neg, python=operator.neg,
    text="-{0}", local_text=("-1",), taught_in="03_operations")
def d_neg(a, out):
    """out = -a.   d(out)/da = -1."""
    return (-1.0,)


@op("pow", symbol="**{k}", arity=1, constant=1, constants=(2, 3, -1, 0.5),
    forward=power, python=operator.pow, text="{0} ** {1}",
    local_text=("{1} * {0}.data**({1} - 1)",), taught_in="03_operations",
    mistakes={"pow_missing_minus_one": (lambda a, k, out: (k * power(a, k),),)},
    testable=lambda a, k: not (a < 0 and not float(k).is_integer())
    and not (k < 1 and abs(a) < 0.3))
def d_pow(a, k, out):
    """out = a ** k for a plain number k.   d(out)/da = k * a ** (k - 1).

    The exponent comes down as a factor and goes down by one. Two corners:
    a ** 0 is the constant 1, so its derivative is 0 (not 0 * a**-1, which is
    nan where a**-1 overflows; PyTorch gives 0 too); at a = 0 with 0 < k < 1
    the slope is infinite."""
    if k == 0:
        return (0.0,)
    if a == 0 and k < 1:
        return (math.inf,)
    return (k * power(a, k - 1),)


# ----------------------------------------------------------------------
# Notebook 05: the functions of a neuron
# ----------------------------------------------------------------------
@op("exp", symbol="exp", arity=1, forward=exp, python="exp", text="exp({0})",
    local_text=("{out}.data",), taught_in="05_tanh_neuron",
    mistakes={"exp_derivative_of_input": (lambda a, out: (a,),)},
    testable=lambda a: a <= 5)
def d_exp(a, out):
    """out = e ** a.   d(out)/da = e ** a = out: the exponential is its own slope."""
    return (out,)


@op("tanh", symbol="tanh", arity=1, forward=math.tanh, python="tanh", text="tanh({0})",
    local_text=("(1 - {out}.data**2)",), taught_in="05_tanh_neuron",
    mistakes={"tanh_derivative_of_input": (lambda a, out: (1.0 - a * a,),),
              "tanh_backward_missing": (lambda a, out: (0.0,),)})
def d_tanh(a, out):
    """out = tanh a.   d(out)/da = 1 - tanh(a)**2 = 1 - out**2.

    Written with the OUTPUT: out is already computed, and math.tanh saturates
    to +-1 for large |a| where the textbook (e**2a - 1) / (e**2a + 1) would
    overflow to inf/inf = nan."""
    return (1.0 - out * out,)


@op("relu", symbol="relu", arity=1, forward=lambda a: 0.0 if a <= 0 else a, python="relu",
    text="relu({0})", local_text=("(1 if {out}.data > 0 else 0)",),
    taught_in="05_tanh_neuron",
    # at zero first: where both match (an input of exactly 0) the narrower one is named
    mistakes={"relu_gradient_at_zero": (lambda a, out: (1.0 if a >= 0 else 0.0,),),
              "relu_passes_negative": (lambda a, out: (1.0,),)})
def d_relu(a, out):
    """out = max(a, 0).   d(out)/da = 1 where a > 0, else 0.

    Flat on the left, the identity on the right. A nan input counts as the
    right side (nan <= 0 is False), so nan flows on as it does in PyTorch."""
    return (0.0 if out <= 0 else 1.0,)


# ----------------------------------------------------------------------
# Taught nowhere: in the engine for the learner to use
# ----------------------------------------------------------------------
@op("log", symbol="log", arity=1, forward=math.log, python="log", text="log({0})",
    local_text=("1 / {0}.data",), taught_in=None, testable=lambda a: a >= 0.1)
def d_log(a, out):
    """out = ln a (a > 0).   d(out)/da = 1 / a."""
    return (1.0 / a,)


@op("sigmoid", symbol="sigmoid", arity=1, forward=sigmoid, python="sigmoid",
    text="sigmoid({0})", local_text=("{out}.data * (1 - {out}.data)",), taught_in=None)
def d_sigmoid(a, out):
    """out = 1 / (1 + e**-a).   d(out)/da = out * (1 - out)."""
    return (out * (1.0 - out),)


@op("softplus", symbol="softplus", arity=1,
    # ln(1 + e**a) = max(a, 0) + ln(1 + e**-|a|): no overflow for any a.
    forward=lambda a: max(a, 0.0) + math.log1p(math.exp(-abs(a))),
    python="softplus", text="softplus({0})", local_text=("sigmoid({0}.data)",),
    taught_in=None)
def d_softplus(a, out):
    """out = ln(1 + e**a).   d(out)/da = e**a / (1 + e**a) = sigmoid(a)."""
    return (sigmoid(a),)


@many_inputs_op("sum", symbol="sum", value=_sum_value, python=None, text="sum({0})",
                local_text=(), taught_in=None)
def push_sum(out):
    """out = x1 + ... + xn in one node.   d(out)/dxi = 1 for every i: each input
    receives out.grad unchanged."""
    g = out.grad
    for x in out._prev:
        x.grad += g


@many_inputs_op("linear", symbol="linear", value=_linear_value, python=None,
                text="linear({0})", local_text=(), taught_in=None)
def push_linear(out):
    """out = b + w1*x1 + ... + wn*xn, inputs (w1..wn, x1..xn, b): a neuron before its
    nonlinearity.   d(out)/dwi = xi,   d(out)/dxi = wi,   d(out)/db = 1.

    Each product wi*xi is a multiplication: each factor's share is the other
    factor; the bias is added, so it receives out.grad unchanged."""
    inputs = out._prev
    g = out.grad
    n = (len(inputs) - 1) // 2
    for w, x in zip(inputs[:n], inputs[n:2 * n]):
        w.grad += x.data * g
        x.grad += w.data * g
    inputs[-1].grad += g


# ----------------------------------------------------------------------
# Reading the table
# ----------------------------------------------------------------------
def with_constant(binary: Op, position: int) -> Op:
    """The one-input op made from ``binary`` with a plain number at ``position``.

    Position 0 gives the reflected form ``c + a`` (named ``radd``), position 1
    the form ``a + c`` (``addc``). Nothing is written again: the value, the
    text and the way Python writes it are the binary op's; the local
    derivative, and each wrong one, is the binary op's for the node operand,
    d(c + a)/da being the second share of d(x + y)/d(x, y) at x = c, y = a.
    """
    if binary.arity != 2 or binary.constant is not None or position not in (0, 1):
        raise ValueError(f"with_constant needs a two-input op and position 0 or 1, "
                         f"got {binary.name!r} and {position!r}")
    node = 1 - position

    def share(local):
        return lambda *operands: (local(*operands)[node],)

    return Op(name=("r" + binary.name) if position == 0 else (binary.name + "c"),
              symbol=binary.symbol, arity=1, forward=binary.forward, local=share(binary.local),
              text=binary.text, python=binary.python, local_text=(binary.local_text[node],),
              taught_in=binary.taught_in,
              mistakes={name: tuple(share(wrong) for wrong in ways)
                        for name, ways in binary.mistakes.items()},
              constant=position, testable=binary.testable)


def read_symbol(symbol) -> tuple[Op, tuple] | None:
    """The op an engine ``_op`` names and the constants written in it:
    ``"*"`` -> (mul, ()), ``"**3"`` -> (pow, (3,)); None when no op is written so."""
    if not isinstance(symbol, str):
        return None
    for entry in OPS.values():
        head, hole, tail = entry.symbol.partition("{k}")
        if not hole:
            if symbol == entry.symbol:
                return entry, ()
        elif symbol.startswith(head) and symbol.endswith(tail) and len(symbol) > len(head + tail):
            number = _number(symbol[len(head):len(symbol) - len(tail)])
            if number is not None:
                return entry, (number,)
    return None


def _number(text):
    """'3' -> 3, '0.5' -> 0.5, anything else -> None."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return None

"""The scalar autograd engine: a number that remembers how it was computed.

A :class:`Value` wraps one float (``data``). Every arithmetic operation on
Values returns a new Value that records

* ``_prev``  -- the input Values, in the order the operation received them,
* ``_op``    -- a short name of the operation (``"+"``, ``"*"``, ``"tanh"`` ...),
* ``_backward_rule`` -- a function that applies the chain rule for that op.

Calling :meth:`Value.backward` on the final result fills in ``grad`` on every
Value the result depends on: ``grad`` is d(result)/d(this value).

The maths of each operation lives in :mod:`microgradlab.ops`, once: each
method here computes the op's ``forward`` on ``.data``, and each backward rule
is one of three chain-rule steps (one input, two inputs, any number) fed with
the op's ``local`` derivatives.

Two design decisions matter for speed and are worth reading aloud:

1. A backward rule receives the output node as its argument
   (``rule(out)``) instead of being a closure that captures ``out``.
   A closure stored on the object it captures is a reference cycle, and
   millions of cycles keep Python's cyclic garbage collector busy; with no
   cycles, plain reference counting frees a graph the moment it is dropped.
2. The topological order comes from :func:`microgradlab.graph.walk`, which
   uses an explicit stack, so a chain of a million nodes needs no recursion.

Numbers outside the comfortable range follow PyTorch where PyTorch gives an
answer: nan and inf inputs propagate, results too large for a float become
inf. Operations that have no answer at all (log of a non-positive number,
division by zero, a negative number to a fractional power) raise an error
that names the problem instead of quietly producing nan.
"""

from __future__ import annotations

import copyreg
import functools
import gc
from numbers import Real

from .graph import walk
from .ops import OPS

__all__ = ["Value"]


def _as_number(data):
    """Return ``data`` as a float, or raise a TypeError that says what was wrong."""
    if type(data) is float:  # the common case, checked first because it is cheapest
        return data
    if isinstance(data, Value):
        raise TypeError(
            f"Value() got another Value ({data!r}); use that Value directly "
            "instead of wrapping it again"
        )
    if isinstance(data, bool) or not isinstance(data, Real):
        raise TypeError(
            f"Value() needs a real number (int or float), got {type(data).__name__} "
            f"{data!r}"
        )
    return float(data)


def _as_value(x):
    """Wrap a plain number as a constant Value; leave Values alone."""
    return x if isinstance(x, Value) else _leaf(_as_number(x))


def _leaf(data):
    """A new leaf holding the float ``data`` (no checks: the caller made it a float)."""
    out = _new_object(Value)
    out.data = data
    out.grad = 0.0
    out._prev = ()
    out._op = ""
    out.label = ""
    out._backward_rule = None
    return out


def _node(data, children, op, rule):
    """The output node of an operation: the inputs are already Values and
    ``data`` is already a float, so __init__'s checks are skipped."""
    out = _new_object(Value)
    out.data = data
    out.grad = 0.0
    out._prev = children
    out._op = op
    out.label = ""
    out._backward_rule = rule
    return out


_new_object = object.__new__


# _PAUSING_THE_COLLECTOR: why the calls that build or walk many nodes at once
# (backward, linear, and a network's __call__ in nn) switch Python's cyclic
# garbage collector off while they run.
#
# Every new node is an object the collector tracks. Each time 700 more have
# been made, a collection scans all the young ones, and every tenth scans the
# older ones again; none of this finds anything, because these graphs hold no
# reference cycles (reference counting frees them). Pausing the collector for
# the length of one call lets the scans that would have fallen inside it merge
# into one, after the call: fewer, larger collections instead of many small
# ones, and objects that died during the call (backward's bookkeeping) are
# never scanned at all. Measured on micrograd's demo loop the gain is modest
# (the collector's CPU time fell by about a seventh): a node that is still alive
# still gets scanned once, after the call. The collector's state is the user's: each of these
# calls puts it back as it found it, on every way out (try/finally), and a
# call nested in another leaves it to the outer one.


class Value:
    """One scalar in a computation graph, with its gradient.

    >>> a = Value(3.0, label="a")
    >>> b = Value(-2.0, label="b")
    >>> L = a * b + 1
    >>> L.backward()
    >>> (L.data, a.grad, b.grad)
    (-5.0, -2.0, 3.0)
    """

    # __slots__ keeps each Value small (no per-instance __dict__): a graph of a
    # million nodes fits in a few hundred MB instead of a few GB.
    __slots__ = ("data", "grad", "_prev", "_op", "label", "_backward_rule")

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = _as_number(data)
        self.grad = 0.0
        self._prev = tuple(_children)
        self._op = _op
        self.label = label
        self._backward_rule = None

    # numpy scalars (np.float64, np.int64 ...) on the left of an operator hand
    # the work to Value's reflected method instead of wrapping the Value in an
    # object array: ``np.int64(-1) * v`` is a Value, as fast as ``-1 * v``.
    __array_ufunc__ = None

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    @property
    def _backward(self):
        """This node's chain-rule step as a no-argument function (micrograd's name).

        ``node._backward()`` pushes ``node.grad`` into the ``grad`` of each
        input. Leaves have nothing to push. Code written for micrograd may
        also *assign* a no-argument function here (``out._backward = f``).
        """
        rule = self._backward_rule
        if rule is None:
            return _nothing_to_push
        return lambda: rule(self)

    @_backward.setter
    def _backward(self, step):
        if not callable(step):
            raise TypeError(f"_backward must be a function, got {type(step).__name__}")
        self._backward_rule = lambda out: step()

    # ------------------------------------------------------------------
    # The operations: forward from microgradlab.ops, a backward rule below.
    # Addition:  out = a + b.   d(out)/da = 1,  d(out)/db = 1
    # ------------------------------------------------------------------
    def __add__(self, other):
        if not isinstance(other, Value):
            other = _leaf(_as_number(other))
        return _node(_ADD.forward(self.data, other.data), (self, other), _ADD.symbol,
                     _add_backward)

    def __radd__(self, other):  # number + Value: the number is the first input
        other = _leaf(_as_number(other))
        return _node(_ADD.forward(other.data, self.data), (other, self), _ADD.symbol,
                     _add_backward)

    # ------------------------------------------------------------------
    # Multiplication:  out = a * b.   d(out)/da = b,  d(out)/db = a
    # ------------------------------------------------------------------
    def __mul__(self, other):
        if not isinstance(other, Value):
            other = _leaf(_as_number(other))
        return _node(_MUL.forward(self.data, other.data), (self, other), _MUL.symbol,
                     _mul_backward)

    def __rmul__(self, other):  # number * Value: the number is the first input
        other = _leaf(_as_number(other))
        return _node(_MUL.forward(other.data, self.data), (other, self), _MUL.symbol,
                     _mul_backward)

    # ------------------------------------------------------------------
    # Subtraction:  out = a - b.   d(out)/da = 1,  d(out)/db = -1
    # ------------------------------------------------------------------
    def __sub__(self, other):
        other = _as_value(other)
        return _node(_SUB.forward(self.data, other.data), (self, other), _SUB.symbol,
                     _sub_backward)

    def __rsub__(self, other):  # number - Value
        return _as_value(other) - self

    # ------------------------------------------------------------------
    # Negation:  out = -a.   d(out)/da = -1
    # ------------------------------------------------------------------
    def __neg__(self):
        return _node(_NEG.forward(self.data), (self,), _NEG.symbol, _neg_backward)

    # ------------------------------------------------------------------
    # Division:  out = a / b.   d(out)/da = 1/b,  d(out)/db = -a/b**2
    # ------------------------------------------------------------------
    def __truediv__(self, other):
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError(
                f"division by a Value whose data is 0 ({self!r} / {other!r})"
            )
        return _node(_DIV.forward(self.data, other.data), (self, other), _DIV.symbol,
                     _div_backward)

    def __rtruediv__(self, other):  # number / Value
        return _as_value(other) / self

    # ------------------------------------------------------------------
    # Power by a constant:  out = a ** k.   d(out)/da = k * a ** (k - 1)
    # ------------------------------------------------------------------
    def __pow__(self, k):
        if isinstance(k, Value):
            raise TypeError(
                "the exponent must be a plain number (int or float), not a Value; "
                "for a Value exponent b write (b * a.log()).exp()"
            )
        if isinstance(k, bool) or not isinstance(k, Real):
            raise TypeError(
                f"the exponent must be an int or float, got {type(k).__name__} {k!r}"
            )
        k = float(k) if not isinstance(k, int) else k
        x = self.data
        if x == 0 and k < 0:
            raise ZeroDivisionError(f"0 cannot be raised to a negative power ({self!r} ** {k})")
        if x < 0 and not float(k).is_integer():
            raise ValueError(
                f"a negative number to a fractional power is not a real number "
                f"({self!r} ** {k})"
            )

        # The rule needs the exponent: functools.partial binds it to a module-level
        # function. A local closure would do the same but could not be pickled.
        rule = functools.partial(_pow_backward, k)
        return _node(_POW.forward(x, k), (self,), _POW.symbol.format(k=k), rule)

    def __rpow__(self, base):
        raise TypeError(
            "a Value can be raised to a number (v ** 2), but a number cannot be raised "
            "to a Value here; write (v * math.log(base)).exp() instead"
        )

    # ------------------------------------------------------------------
    # Exponential:  out = e ** a.   d(out)/da = e ** a = out
    # ------------------------------------------------------------------
    def exp(self):
        return _node(_EXP.forward(self.data), (self,), _EXP.symbol, _exp_backward)

    # ------------------------------------------------------------------
    # Natural logarithm:  out = ln a.   d(out)/da = 1 / a
    # ------------------------------------------------------------------
    def log(self):
        if self.data <= 0:
            raise ValueError(f"log is only defined for positive numbers, got {self!r}")
        return _node(_LOG.forward(self.data), (self,), _LOG.symbol, _log_backward)

    # ------------------------------------------------------------------
    # Hyperbolic tangent:  out = tanh a.   d(out)/da = 1 - tanh(a)**2 = 1 - out**2
    # ------------------------------------------------------------------
    def tanh(self):
        return _node(_TANH.forward(self.data), (self,), _TANH.symbol, _tanh_backward)

    # ------------------------------------------------------------------
    # Rectified linear unit:  out = max(a, 0).   d(out)/da = 1 if a > 0 else 0
    # ------------------------------------------------------------------
    def relu(self):
        return _node(_RELU.forward(self.data), (self,), _RELU.symbol, _relu_backward)

    # ------------------------------------------------------------------
    # Logistic sigmoid:  out = 1 / (1 + e**-a).   d(out)/da = out * (1 - out)
    # ------------------------------------------------------------------
    def sigmoid(self):
        return _node(_SIGMOID.forward(self.data), (self,), _SIGMOID.symbol, _sigmoid_backward)

    # ------------------------------------------------------------------
    # Softplus:  out = ln(1 + e**a).   d(out)/da = sigmoid(a)
    # ------------------------------------------------------------------
    def softplus(self):
        return _node(_SOFTPLUS.forward(self.data), (self,), _SOFTPLUS.symbol,
                     _softplus_backward)

    # ------------------------------------------------------------------
    # Sum of many Values in one node:  out = x1 + ... + xn.   d(out)/dxi = 1
    # ------------------------------------------------------------------
    @staticmethod
    def sum(values, start=0.0):
        """Add many Values with one node instead of a chain of n-1 '+' nodes.

        Gives the same result as adding ``start`` and then each value in turn
        (the order Python's ``sum(values, start)`` adds in) but builds one node,
        so backward has one step to take.
        """
        children = tuple(_as_value(v) for v in values)
        if isinstance(start, Value):
            total = _SUM.value(children, start.data)
            children = (start,) + children
        else:
            total = _SUM.value(children, float(start))
        return _node(total, children, _SUM.symbol, _sum_backward)

    # ------------------------------------------------------------------
    # Neuron pre-activation:  out = b + w1*x1 + ... + wn*xn
    #   d(out)/dwi = xi,  d(out)/dxi = wi,  d(out)/db = 1
    # ------------------------------------------------------------------
    @staticmethod
    def linear(weights, inputs, bias):
        """b + sum(w_i * x_i) as one node (what a neuron computes before its
        nonlinearity). Adds in the same order as ``sum((w*x ...), b)``, so the
        result is bit-for-bit the one the 2n-node version gives."""
        collecting = gc.isenabled()
        try:
            gc.disable()  # see _PAUSING_THE_COLLECTOR
            weights = tuple(weights)
            inputs = _values(inputs)
            if len(weights) != len(inputs):
                raise ValueError(
                    f"linear needs as many weights as inputs, got {len(weights)} weights "
                    f"and {len(inputs)} inputs"
                )
            if not isinstance(bias, Value):
                bias = _leaf(_as_number(bias))
            children = weights + inputs + (bias,)
            return _node(_LINEAR.value(children), children, _LINEAR.symbol, _linear_backward)
        finally:
            if collecting:
                gc.enable()

    # ------------------------------------------------------------------
    # Copying and pickling, to any depth
    # ------------------------------------------------------------------
    # Left to itself, pickle (and deepcopy) would save a node by saving its
    # inputs first, recursively: one Python frame per level, a RecursionError
    # past a thousand. Here the output node hands pickle the list of every node
    # it depends on, inputs before the nodes that use them, so each node's
    # inputs are already saved when its turn comes and nothing recurses.
    # Nodes shared with anything else in the same pickle stay shared.
    def __getstate__(self):
        # (None, slots) is the form pickle applies in C: no Python call per node on load.
        return (None, {"data": self.data, "grad": self.grad, "_prev": self._prev,
                       "_op": self._op, "label": self.label,
                       "_backward_rule": self._backward_rule})

    def __reduce_ex__(self, protocol):
        if not self._prev or id(self) in _QUEUED:
            # A leaf, or a node whose inputs an outer output already put ahead of it.
            _QUEUED.discard(id(self))
            return (copyreg.__newobj__, (type(self),), self.__getstate__())
        earlier = walk(self, None).order[:-1]
        queued = [id(node) for node in earlier if node._prev]
        _QUEUED.update(queued)
        # pickle saves the arguments in order: every earlier node (shallow,
        # since it is queued), then the _Unqueue, which forgets what is still
        # queued (nodes pickle had already saved elsewhere and did not ask about).
        return (_value_after, (type(self), earlier, _Unqueue(queued)), self.__getstate__())

    def __copy__(self):
        copy = _new_object(type(self))
        _copy_slots(self, copy)
        return copy

    def __deepcopy__(self, memo):
        # A node copied already (its id is in memo) is not looked into again.
        def inputs_to_copy(node):
            return () if id(node) in memo else node._prev

        for node in walk(self, inputs_to_copy).order:
            if id(node) in memo:
                continue
            copy = _new_object(type(node))
            _copy_slots(node, copy)
            if node._prev:
                copy._prev = tuple([memo[id(child)] for child in node._prev])
            memo[id(node)] = copy
        return memo[id(self)]

    # ------------------------------------------------------------------
    # Backpropagation
    # ------------------------------------------------------------------
    def backward(self):
        """Fill in ``grad`` = d(self)/d(node) for every node self depends on.

        Gradients of leaves (Values made directly, such as weights) accumulate
        across calls, exactly as in PyTorch: call ``zero_grad`` (or set
        ``grad = 0``) between passes. Gradients of intermediate nodes are
        recomputed from zero on every call.
        """
        collecting = gc.isenabled()
        try:
            gc.disable()  # see _PAUSING_THE_COLLECTOR; restored below on every exit
            order = _interior_nodes_output_first(self)
            for node in order:
                node.grad = 0.0
            if self._prev:
                self.grad = 1.0  # d(self)/d(self)
            else:
                self.grad += 1.0  # a leaf accumulates, as in PyTorch
            for node in order:
                rule = node._backward_rule
                if rule is not None:  # None: a node built by hand with no rule given
                    rule(node)
        finally:
            if collecting:
                gc.enable()


class _Values(tuple):
    """A tuple already checked to hold only Values.

    A layer checks (and wraps) its inputs once and hands the same _Values to
    each of its neurons, instead of every neuron checking them again.
    """

    __slots__ = ()


def _values(items):
    """items as a _Values: numbers become constant Values, Values stay as they are."""
    if type(items) is _Values:
        return items
    return _Values([x if isinstance(x, Value) else _leaf(_as_number(x)) for x in items])


# ----------------------------------------------------------------------
# Pickling helpers (see Value.__reduce__)
# ----------------------------------------------------------------------
_QUEUED = set()  # ids of nodes an output's __reduce__ listed ahead of itself


def _value_after(cls, earlier, unqueue):
    """A blank output node, made once the nodes it depends on (earlier) exist;
    pickle then sets its state."""
    return _new_object(cls)


def _copy_slots(source, target):
    target.data = source.data
    target.grad = source.grad
    target._prev = source._prev
    target._op = source._op
    target.label = source.label
    target._backward_rule = source._backward_rule


class _Unqueue:
    """Pickled right after an output's list of earlier nodes: forgets the ones
    pickle never asked about, so no stale id stays queued."""

    def __init__(self, ids):
        self.ids = ids

    def __reduce__(self):
        _QUEUED.difference_update(self.ids)
        return (type(None), ())


def _nothing_to_push():
    """The backward step of a leaf: it has no inputs."""


# ----------------------------------------------------------------------
# The backward rules. A rule reads the output's gradient and *adds* each
# input's share, d(out)/d(input) * out.grad, to that input's grad: an input
# used twice receives two shares. Everything an op knows comes from its entry
# in microgradlab.ops: an op of one or two inputs gives its local derivatives,
# and the two steps below are the chain rule with them; an op of any number of
# inputs (sum, linear) gives its chain-rule step itself (ops.many_inputs_op
# says why).
# ----------------------------------------------------------------------

_ADD = OPS["add"]
_SUB = OPS["sub"]
_MUL = OPS["mul"]
_DIV = OPS["div"]
_NEG = OPS["neg"]
_POW = OPS["pow"]
_EXP = OPS["exp"]
_LOG = OPS["log"]
_TANH = OPS["tanh"]
_RELU = OPS["relu"]
_SIGMOID = OPS["sigmoid"]
_SOFTPLUS = OPS["softplus"]
_SUM = OPS["sum"]
_LINEAR = OPS["linear"]


def _one_input_step(out, local):
    """The chain rule through out = f(a): a.grad += df/da * out.grad."""
    (a,) = out._prev
    (d,) = local(a.data, out.data)
    a.grad += d * out.grad


def _two_inputs_step(out, local):
    """The chain rule through out = f(a, b): each input gets its partial derivative
    times out.grad."""
    a, b = out._prev
    g = out.grad
    da, db = local(a.data, b.data, out.data)
    a.grad += da * g
    b.grad += db * g


def _add_backward(out):
    _two_inputs_step(out, _ADD.local)


def _mul_backward(out):
    _two_inputs_step(out, _MUL.local)


def _sub_backward(out):
    _two_inputs_step(out, _SUB.local)


def _neg_backward(out):
    _one_input_step(out, _NEG.local)


def _pow_backward(k, out):
    # pow's local derivative takes the exponent between the input and the output
    _one_input_step(out, lambda a, out_data: _POW.local(a, k, out_data))


def _div_backward(out):
    _two_inputs_step(out, _DIV.local)


def _exp_backward(out):
    _one_input_step(out, _EXP.local)


def _log_backward(out):
    _one_input_step(out, _LOG.local)


def _tanh_backward(out):
    _one_input_step(out, _TANH.local)


def _relu_backward(out):
    _one_input_step(out, _RELU.local)


def _sigmoid_backward(out):
    _one_input_step(out, _SIGMOID.local)


def _softplus_backward(out):
    _one_input_step(out, _SOFTPLUS.local)


def _sum_backward(out):
    _SUM.push(out)


def _linear_backward(out):
    _LINEAR.push(out)


def _interior_nodes_output_first(root):
    """The nodes root depends on that have inputs, each after every node that uses it.

    Leaves are left out: they have no rule to apply, and skipping them keeps
    the walk short (a graph of n products has 2n leaves).
    """
    order = walk(root, None, key=None, leaves=False).order
    order.reverse()  # output first: a node's grad is complete before it is pushed on
    return order

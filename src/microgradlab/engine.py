"""The scalar autograd engine: a number that remembers how it was computed.

A :class:`Value` wraps one float (``data``). Every arithmetic operation on
Values returns a new Value that records

* ``_prev``  -- the input Values, in the order the operation received them,
* ``_op``    -- a short name of the operation (``"+"``, ``"*"``, ``"tanh"`` ...),
* ``_backward_rule`` -- a function that applies the chain rule for that op.

Calling :meth:`Value.backward` on the final result fills in ``grad`` on every
Value the result depends on: ``grad`` is d(result)/d(this value).

Two design decisions matter for speed and are worth reading aloud:

1. A backward rule receives the output node as its argument
   (``rule(out)``) instead of being a closure that captures ``out``.
   A closure stored on the object it captures is a reference cycle, and
   millions of cycles keep Python's cyclic garbage collector busy; with no
   cycles, plain reference counting frees a graph the moment it is dropped.
2. The topological order is built with an explicit stack, so a chain of a
   million nodes needs no recursion.

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
import math
from numbers import Real

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


def _power(base, k):
    """base ** k as a float, with inf (not OverflowError) when it is too large."""
    try:
        return base**k
    except OverflowError:
        # |base| ** k overflowed; the sign is negative only for a negative base
        # raised to an odd integer power.
        odd = float(k).is_integer() and int(k) % 2 == 1
        return -math.inf if (base < 0 and odd) else math.inf


def _exp(x):
    """e ** x as a float, with inf instead of OverflowError for large x."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


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

    @classmethod
    def _result(cls, data, children, op, rule):
        """Make the output node of an operation (kept for code that calls it)."""
        out = _node(data, children, op, rule)
        if cls is not Value:
            out.__class__ = cls
        return out

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
    # Addition:  out = a + b.   d(out)/da = 1,  d(out)/db = 1
    # ------------------------------------------------------------------
    def __add__(self, other):
        if not isinstance(other, Value):
            other = _leaf(_as_number(other))
        return _node(self.data + other.data, (self, other), "+", _add_backward)

    def __radd__(self, other):  # number + Value: the number is the first input
        other = _leaf(_as_number(other))
        return _node(other.data + self.data, (other, self), "+", _add_backward)

    # ------------------------------------------------------------------
    # Multiplication:  out = a * b.   d(out)/da = b,  d(out)/db = a
    # ------------------------------------------------------------------
    def __mul__(self, other):
        if not isinstance(other, Value):
            other = _leaf(_as_number(other))
        return _node(self.data * other.data, (self, other), "*", _mul_backward)

    def __rmul__(self, other):  # number * Value: the number is the first input
        other = _leaf(_as_number(other))
        return _node(other.data * self.data, (other, self), "*", _mul_backward)

    # ------------------------------------------------------------------
    # Subtraction:  out = a - b.   d(out)/da = 1,  d(out)/db = -1
    # ------------------------------------------------------------------
    def __sub__(self, other):
        other = _as_value(other)
        return _node(self.data - other.data, (self, other), "-", _sub_backward)

    def __rsub__(self, other):  # number - Value
        return _as_value(other) - self

    # ------------------------------------------------------------------
    # Negation:  out = -a.   d(out)/da = -1
    # ------------------------------------------------------------------
    def __neg__(self):
        return _node(-self.data, (self,), "neg", _neg_backward)

    # ------------------------------------------------------------------
    # Division:  out = a / b.   d(out)/da = 1/b,  d(out)/db = -a/b**2
    # ------------------------------------------------------------------
    def __truediv__(self, other):
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError(
                f"division by a Value whose data is 0 ({self!r} / {other!r})"
            )
        return _node(self.data / other.data, (self, other), "/", _div_backward)

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
        return _node(_power(x, k), (self,), f"**{k}", rule)

    def __rpow__(self, base):
        raise TypeError(
            "a Value can be raised to a number (v ** 2), but a number cannot be raised "
            "to a Value here; write (v * math.log(base)).exp() instead"
        )

    # ------------------------------------------------------------------
    # Exponential:  out = e ** a.   d(out)/da = e ** a = out
    # ------------------------------------------------------------------
    def exp(self):
        return _node(_exp(self.data), (self,), "exp", _exp_backward)

    # ------------------------------------------------------------------
    # Natural logarithm:  out = ln a.   d(out)/da = 1 / a
    # ------------------------------------------------------------------
    def log(self):
        if self.data <= 0:
            raise ValueError(f"log is only defined for positive numbers, got {self!r}")
        return _node(math.log(self.data), (self,), "log", _log_backward)

    # ------------------------------------------------------------------
    # Hyperbolic tangent:  out = tanh a.   d(out)/da = 1 - tanh(a)**2 = 1 - out**2
    # ------------------------------------------------------------------
    def tanh(self):
        # math.tanh saturates to +-1 for large |a|; the textbook formula
        # (e**2a - 1) / (e**2a + 1) overflows to inf/inf = nan near |a| = 355.
        return _node(math.tanh(self.data), (self,), "tanh", _tanh_backward)

    # ------------------------------------------------------------------
    # Rectified linear unit:  out = max(a, 0).   d(out)/da = 1 if a > 0 else 0
    # ------------------------------------------------------------------
    def relu(self):
        x = self.data
        # Written so that nan passes through (nan <= 0 is False), as in PyTorch.
        return _node(0.0 if x <= 0 else x, (self,), "relu", _relu_backward)

    # ------------------------------------------------------------------
    # Logistic sigmoid:  out = 1 / (1 + e**-a).   d(out)/da = out * (1 - out)
    # ------------------------------------------------------------------
    def sigmoid(self):
        x = self.data
        # Only ever exponentiate a non-positive number, so exp cannot overflow.
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return _node(s, (self,), "sigmoid", _sigmoid_backward)

    # ------------------------------------------------------------------
    # Softplus:  out = ln(1 + e**a).   d(out)/da = sigmoid(a)
    # ------------------------------------------------------------------
    def softplus(self):
        x = self.data
        # ln(1 + e**x) = max(x, 0) + ln(1 + e**-|x|): no overflow for any x.
        y = max(x, 0.0) + math.log1p(math.exp(-abs(x)))
        return _node(y, (self,), "softplus", _softplus_backward)

    # ------------------------------------------------------------------
    # Sum of many Values in one node:  out = x1 + ... + xn.   d(out)/dxi = 1
    # ------------------------------------------------------------------
    @staticmethod
    def sum(values, start=0.0):
        """Add many Values with one node instead of a chain of n-1 '+' nodes.

        Gives the same result as Python's ``sum(values, start)`` (same order of
        additions) but builds one node, so backward has one step to take.
        """
        children = tuple(_as_value(v) for v in values)
        total = start.data if isinstance(start, Value) else float(start)
        for child in children:
            total += child.data
        if isinstance(start, Value):
            children = (start,) + children
        return _node(total, children, "sum", _sum_backward)

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
            total = bias.data
            for w, x in zip(weights, inputs):
                total += w.data * x.data
            return _node(total, weights + inputs + (bias,), "linear", _linear_backward)
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
        earlier = _nodes_inputs_first(self)[:-1]
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
        for node in _nodes_inputs_first(self, done=memo):
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


def _nodes_inputs_first(root, done=()):
    """Every node root depends on (leaves too), root last, each after all of its inputs.

    Nodes whose id is in ``done`` are left out, with whatever only they lead to.
    An explicit stack, so any depth works.
    """
    order = []
    seen = {id(root)}
    stack = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            key = id(child)
            if key not in seen and key not in done:
                seen.add(key)
                stack.append((child, iter(child._prev)))
                break
        else:  # every input of node is in order already
            stack.pop()
            order.append(node)
    return order


def _nothing_to_push():
    """The backward step of a leaf: it has no inputs."""


# ----------------------------------------------------------------------
# The backward rules. Each one reads the output's gradient and *adds* its
# share to the inputs' gradients: an input used twice receives two shares.
# ----------------------------------------------------------------------
def _add_backward(out):
    a, b = out._prev
    a.grad += out.grad
    b.grad += out.grad


def _mul_backward(out):
    a, b = out._prev
    a.grad += b.data * out.grad  # d(a*b)/da is the *other* factor
    b.grad += a.data * out.grad


def _sub_backward(out):
    a, b = out._prev
    a.grad += out.grad
    b.grad -= out.grad


def _neg_backward(out):
    (a,) = out._prev
    a.grad -= out.grad


def _pow_backward(k, out):
    (base,) = out._prev
    if k == 0:
        # x**0 is the constant 1. Not 0 * x**-1: that is nan when x**-1
        # overflows (x = 0 or a tiny x). PyTorch also gives 0 here.
        local = 0.0
    elif base.data == 0 and k < 1:
        local = math.inf  # d/dx x**k at 0 for 0 < k < 1
    else:
        local = k * _power(base.data, k - 1)
    base.grad += local * out.grad


def _div_backward(out):
    a, b = out._prev
    a.grad += out.grad / b.data
    b.grad -= out.grad * a.data / (b.data * b.data)


def _exp_backward(out):
    (a,) = out._prev
    a.grad += out.data * out.grad


def _log_backward(out):
    (a,) = out._prev
    a.grad += out.grad / a.data


def _tanh_backward(out):
    (a,) = out._prev
    a.grad += (1.0 - out.data * out.data) * out.grad


def _relu_backward(out):
    (a,) = out._prev
    if out.data <= 0:  # relu was flat here: nothing flows back
        return
    # Positive input, or nan (nan <= 0 is False): like PyTorch, pass the gradient on.
    a.grad += out.grad


def _sigmoid_backward(out):
    (a,) = out._prev
    a.grad += out.data * (1.0 - out.data) * out.grad


def _softplus_backward(out):
    (a,) = out._prev
    x = a.data
    if x >= 0:
        s = 1.0 / (1.0 + math.exp(-x))
    else:
        e = math.exp(x)
        s = e / (1.0 + e)
    a.grad += s * out.grad


def _sum_backward(out):
    g = out.grad
    for child in out._prev:
        child.grad += g


def _linear_backward(out):
    g = out.grad
    children = out._prev  # the n weights, the n inputs, then the bias
    n = (len(children) - 1) // 2
    for w, x in zip(children[:n], children[n:-1]):
        w.grad += x.data * g
        x.grad += w.data * g
    children[-1].grad += g


def _interior_nodes_output_first(root):
    """The nodes root depends on that have inputs, each after every node that uses it.

    Leaves are left out: they have no rule to apply, and skipping them keeps
    the walk short (a graph of n products has 2n leaves). The walk uses an
    explicit stack instead of recursion so depth is limited only by memory.
    """
    if not root._prev:
        return []
    finished = []  # post-order: every node after all of its inputs
    seen = {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            if child._prev and child not in seen:
                seen.add(child)
                stack.append((child, iter(child._prev)))
                break
        else:  # all inputs of node are finished
            stack.pop()
            finished.append(node)
    finished.reverse()  # output first: a node's grad is complete before it is pushed on
    return finished

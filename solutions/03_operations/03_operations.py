# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Operations and their local derivatives
#
# **Learning objectives.** By the end of this notebook you can
#
# 1. make a `Value` work with plain numbers on either side (`a + 1`, `2 * a`, `1 - a`), using
#    wrapping and Python's *reflected* methods;
# 2. add subtraction, negation, division and powers by a constant to `Value`;
# 3. state the **local derivative** of each of these operations and confirm it numerically;
# 4. give every result a `_backward` function that passes its gradient to its inputs with the
#    chain rule, and explain why it uses `+=`;
# 5. check one operation at a time against PyTorch.
#
# **Prerequisites.** Notebook 01 (central differences, and the chain rule: rates multiply)
# and notebook 02 (the `Value` class with `data`, `grad`, `_prev`, `_op`, `label`; `__add__`
# and `__mul__`).
# <!-- claim {"says": "central differences", "taught": ["01_derivatives", "forward and central differences"]} -->
# <!-- claim {"says": "the chain rule: rates multiply", "taught": ["01_derivatives", "the chain rule"]} -->
# <!-- claim {"says": "the `Value` class", "taught": ["02_value", "write the `Value` class"]} -->
#
# **Estimated time:** 45-60 minutes.
#
# **What we import and why.** `central_difference` from `microgradlab.numeric` (the one you
# wrote in notebook 01, so a slip there cannot spoil this notebook) to check each derivative
# numerically; `draw_dot` and `Flashcards` from `microgradlab.widgets`; `verify`, `check` and
# `hint` from `microgradlab.checking`. We do **not** import microgradlab's `Value`: you write
# this notebook's `Value` yourself, one operation per exercise. PyTorch appears only as the
# referee that your numbers are compared with.

# %% [markdown]
# Run the set-up cell first.

# %% nbgrader={"grade": false, "grade_id": "setup_03", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import matplotlib.pyplot as plt
from ipywidgets import FloatSlider, interact

from microgradlab.checking import check, hint, verify, visible
from microgradlab.numeric import central_difference
from microgradlab.widgets import Flashcards, draw_dot

# %% [markdown]
# ## The big idea: every operation knows its own little derivative
#
# A network's loss is built from thousands of tiny operations: additions, products, powers. The
# backward pass (notebook 04) finds ∂loss/∂(every Value) by walking the graph from the output
# back to the inputs. At each node it needs only one piece of knowledge: **how does this
# operation's output change when one of its inputs changes, with the other inputs held still?**
# That number is the operation's **local derivative**. It depends only on the operation and
# the numbers going into it, never on the rest of the graph: a `*` node does not know or care
# whether its output later goes into a loss, a neuron or another `*`. That is why one small
# rule per operation, written once, serves every graph ever built from it.
#
# The chain rule of notebook 01 (rates multiply) then does the rest. If `out` was computed from `x`, and the backward pass has
# already found `out.grad` = ∂L/∂out, then `x`'s share is
#
# $$\frac{\partial L}{\partial x} \mathrel{+}= \underbrace{\frac{\partial\, \text{out}}{\partial x}}_{\text{local}} \cdot \underbrace{\frac{\partial L}{\partial\, \text{out}}}_{\texttt{out.grad}}$$
#
# So each operation will build its result node *and* a small function, `_backward`, that does
# exactly this multiplication for its own inputs. Here is the whole table you will implement
# (for `out = a ∘ b`):
#
# | operation | `_op` | ∂out/∂a | ∂out/∂b |
# |---|---|---|---|
# | `a + b` | `'+'` | 1 | 1 |
# | `a * b` | `'*'` | b | a |
# | `a - b` | `'-'` | 1 | −1 |
# | `-a` | `'neg'` | −1 | |
# | `a ** k` (k a plain number) | `'**k'`, e.g. `'**3'` | k·a<sup>k−1</sup> | |
# | `a / b` | `'/'` | 1/b | −a/b² |

# %% [markdown]
# ## The class you start from
#
# The locked cell below is notebook 02's class without any operations, plus one new attribute:
# `_backward`, a function that takes no arguments. For a leaf (a Value you made directly) there
# is nothing to pass the gradient on to, so it starts as a function that does nothing.
#
# Why is this cell given and locked? Because the grader marks each exercise on its own, each
# exercise needs its own cell. So instead of writing all the methods inside one `class` block,
# you will write each operation as an ordinary function in its own cell and then **attach** it
# to the class:
#
# ```python
# def add(self, other):
#     ...
# Value.__add__ = add
# ```
#
# This is exactly the same as writing `def __add__(self, other)` inside the class: Python looks
# methods up on the class when it evaluates `a + b`, so a function attached later works for
# every Value, even ones created before. One consequence: if you re-run the class cell, it
# makes a *fresh* class without your operations, so re-run the exercise cells after it.

# %% nbgrader={"grade": false, "grade_id": "value_class_03", "locked": true, "schema_version": 3, "solution": false, "task": false}
class Value:
    """A number that remembers how it was computed, and how to pass its gradient back."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None  # a leaf has no inputs to pass its gradient to
        self._prev = tuple(_children)
        self._op = _op
        self.label = label

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"


# %% [markdown]
# ## Two tools for checking one operation at a time
#
# `local_step(op, *numbers)` builds `op` on fresh leaf Values, sets the output's `grad` to 1 (as if
# the output were the final result) and calls the output's `_backward()` **once**. The leaves'
# grads are then exactly the local derivatives. Its optional `out_grad` sets a different
# incoming gradient, to see the chain rule scale it.
#
# `numeric_slopes(op, *numbers)` gets the same derivatives the slow way from notebook 01: it
# nudges one input at a time with a central difference on plain floats. It never touches your
# class, so it is an independent witness.
#
# Both take the operation as a small function such as `lambda a, b: a * b`: the same lambda
# works on floats, on your Values and (later) on PyTorch tensors.

# %% nbgrader={"grade": false, "grade_id": "tools_03", "locked": true, "schema_version": 3, "solution": false, "task": false}
def local_step(op, *numbers, out_grad=1.0):
    """Run op on fresh Values and one _backward step; return (out.data, [grad of each input])."""
    leaves = [Value(x) for x in numbers]
    out = op(*leaves)
    out.grad = out_grad
    out._backward()
    return out.data, [leaf.grad for leaf in leaves]


def numeric_slopes(op, *numbers, h=1e-6):
    """∂op/∂(each input) by central differences on plain floats, the other inputs held fixed."""
    slopes = []
    for i, x in enumerate(numbers):
        def op_of_input_i(t, i=i):
            args = list(numbers)
            args[i] = t
            return op(*args)

        slopes.append(central_difference(op_of_input_i, x, h))
    return slopes


def close(got, want, tol=1e-6):
    """True when two lists of numbers agree to within tol (relative or absolute)."""
    return len(got) == len(want) and all(
        math.isclose(g, w, rel_tol=tol, abs_tol=tol) for g, w in zip(got, want)
    )


# %% [markdown]
# ## Part 1: addition and multiplication
#
# ### The local derivatives
#
# * `out = a + b`: nudge `a` by a tiny `h` and `out` moves by exactly `h`. So ∂out/∂a = 1, and
#   likewise ∂out/∂b = 1. Addition passes the gradient through unchanged to both inputs.
# * `out = a * b`: nudge `a` by `h` and `out` becomes `(a + h)·b = a·b + h·b`, a change of `h·b`.
#   So ∂out/∂a = **b**, the *other* factor, and ∂out/∂b = **a**.
#
# Let the central difference confirm both at a = 2, b = −3. Addition should give `[1, 1]`,
# multiplication `[-3, 2]` (each input gets the other one's value):
# <!-- claim {"says": "Addition should give `[1, 1]`", "prints": [1, 1, -3, 2]} -->

# %%
print("a + b:", numeric_slopes(lambda a, b: a + b, 2.0, -3.0))
print("a * b:", numeric_slopes(lambda a, b: a * b, 2.0, -3.0))

# %% [markdown]
# ### The `_backward` closure
#
# Inside `add` you build the output `out`, then define a small function that knows `self`,
# `other` and `out` because it is defined right there (a **closure**: a function that remembers
# the variables around it), and store it on the output:
#
# ```python
# out = Value(self.data + other.data, (self, other), "+")
#
# def _backward():
#     self.grad += 1.0 * out.grad
#     other.grad += 1.0 * out.grad
#
# out._backward = _backward
# return out
# ```
#
# Nothing runs yet. Later, once `out.grad` is known, calling `out._backward()` pushes it into the
# inputs. Note `_backward` without parentheses in the assignment: we store the function, we do
# not call it.
#
# The most common slip in `mul` is to reach for the input's *own* number (`self.data` for
# `self.grad`): the local derivative with respect to one factor is always the **other** factor.
#
# **Why `+=` and not `=`?** A Value can feed more than one operation, or the same one twice, as
# in `a + a`. Each use contributes its own share to ∂L/∂a, and the shares must add up: for
# `out = a + a`, nudging `a` by `h` moves `out` by `2h`, so `a.grad` must end at 2, not 1. With
# `=` the second share would overwrite the first. (Notebook 04 tests this more.)
# <!-- claim {"says": "so `a.grad` must end at 2, not 1", "holds": "local_step(lambda a: a + a, 1.5)[1] == [2.0]"} -->
#
# ### Plain numbers and reflected operations
#
# `a + 1` calls `a.__add__(1)`, and `1` has no `.data`. The fix is one line at the top of `add`
# and `mul`: wrap a plain number in a Value,
# `other = other if isinstance(other, Value) else Value(other)`.
#
# `2 * a` is harder: Python first calls `(2).__mul__(a)`. The int does not know Values, so it
# returns the special marker `NotImplemented`, and Python then tries the **reflected** method on
# the right operand: `a.__rmul__(2)`. So `rmul(self, other)` is called with `self = a` and
# `other = 2`. Because `2 * a == a * 2`, it can simply return `self * other`. The same holds for
# `radd` and `+`.
#
# ## Exercise ex03_add_mul: `+` and `*` with their `_backward`
#
# Write `add`, `mul`, `radd` and `rmul`. `add` and `mul` wrap a plain-number `other`, build the
# output with the right children `(self, other)` and `_op` (`'+'`, `'*'`), and attach a
# `_backward` that adds the local derivative times `out.grad` to each input's `grad`.

# %% nbgrader={"grade": false, "grade_id": "ex03_add_mul_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def add(self, other):
    """self + other, as a new Value whose _backward passes the gradient to both inputs."""
    ### BEGIN SOLUTION
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data + other.data, (self, other), "+")

    def _backward():
        self.grad += 1.0 * out.grad
        other.grad += 1.0 * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


def mul(self, other):
    """self * other.   ∂out/∂self = other,  ∂out/∂other = self"""
    ### BEGIN SOLUTION
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad  # the OTHER factor
        other.grad += self.data * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


def radd(self, other):
    """other + self, called for number + Value."""
    ### BEGIN SOLUTION
    return self + other
    ### END SOLUTION


def rmul(self, other):
    """other * self, called for number * Value."""
    ### BEGIN SOLUTION
    return self * other
    ### END SOLUTION


Value.__add__ = add
Value.__mul__ = mul
Value.__radd__ = radd
Value.__rmul__ = rmul

# %% [markdown]
# The graded cell checks the cases shown here (`a + b`, and `a * b` with an incoming gradient of
# 1 and of 0.5) with the same comparison as the hidden tests, which add plain numbers on both
# sides, `a + a` and random expressions. If one fails, the message names the node whose `data`
# or `grad` is off and the `_backward` to look at.

# %% nbgrader={"grade": true, "grade_id": "ex03_add_mul", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
# Decided from this notebook on: only values and gradients count, so `_prev` may be a
# tuple, a list or (as in micrograd) a set, and any op may be built from others.
visible("ex03_add_mul", Value=Value)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex03_add_mul", Value=Value)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer on fresh random cases (it prints "not attempted" until you have written
# the functions), and run `hint("ex03_add_mul")` if you want a nudge:

# %%
check("ex03_add_mul", Value=Value)

# %% [markdown]
# ### `+` copies, `*` scales
#
# Run your two operations once each with an incoming gradient that is not 1. Take
# `d = e + c` with e = −6, c = 4, and say the gradient arriving at `d` from further up is −2.
# A `+` node has local derivative 1 for both inputs, so it hands the incoming gradient to each
# of them **unchanged**: `e` and `c` both receive −2. Addition is the router of backpropagation:
# it copies the gradient down every branch. A `*` node instead scales it: for `e = a * b` with
# a = 3, b = −2 and an incoming 5, `a` receives 5 · (−2) = −10 and `b` receives 5 · 3 = 15.
# <!-- claim {"says": "`e` and `c` both receive −2", "prints": [-2, -2, -2, -2, 5, -6, -10, 15]} -->

# %%
try:
    print("d = e + c, incoming -2:", local_step(lambda e, c: e + c, -6.0, 4.0, out_grad=-2.0))
    print("e = a * b, incoming 5: ", local_step(lambda a, b: a * b, 3.0, -2.0, out_grad=5.0))
except NotImplementedError:
    print("Finish add and mul in the exercise above first, then run this cell again.")

# %% [markdown]
# ### Side by side with PyTorch
#
# PyTorch's autograd does exactly what you just wrote, for tensors. A 0-dimensional `float64`
# tensor with `requires_grad=True` is PyTorch's version of one leaf Value; calling `.backward()`
# on the output fills in each leaf's `.grad`. The helper below runs the same lambda through your
# `local_step` and through PyTorch and prints both. The graders compare you with PyTorch in
# exactly this way, one operation at a time, on random numbers.

# %%
import torch


def torch_step(op, *numbers):
    """The PyTorch twin of local_step: (out, [∂out/∂input for each input])."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in numbers]
    out = op(*leaves)
    out.backward()
    return out.item(), [leaf.grad.item() for leaf in leaves]


def side_by_side(text, op, *numbers, why=None):
    """Print your local_step and PyTorch's answer for the same operation and inputs;
    `why` explains a difference that is expected."""
    theirs = torch_step(op, *numbers)
    try:
        mine = local_step(op, *numbers)
    except NotImplementedError:
        print(f"{text:10}  torch: {theirs}   yours: finish the exercise first")
        return
    print(f"{text:10}  torch: {theirs}   yours: {mine}")
    print(" " * 12 + differences(mine, theirs, why))


def differences(mine, theirs, why=None):
    """In words: do the two answers agree, and if not, which numbers differ?"""
    if not close([mine[0]], [theirs[0]]):
        return f"the values differ: yours is {mine[0]}, PyTorch's {theirs[0]}"
    apart = [f"the gradient of input {k + 1} (yours {g}, PyTorch's {t})"
             for k, (g, t) in enumerate(zip(mine[1], theirs[1])) if not close([g], [t])]
    if not apart:
        return "-> same value and same gradients"
    reason = why or "look again at this operation's _backward"
    return "-> same value, but " + " and ".join(apart) + " differ: " + reason


side_by_side("a + b", lambda a, b: a + b, 2.0, -3.0)
side_by_side("a * b", lambda a, b: a * b, 2.0, -3.0)
side_by_side("3 * a + 1", lambda a: 3 * a + 1, 2.0,
             why="expected here, local_step runs only the last node's _backward (read on)")

# %% [markdown]
# <!-- claim {"says": "your `a.grad` there stays 0 while PyTorch", "cell": "above", "holds": ["local_step(lambda a: 3 * a + 1, 2.0)[1] == [0.0]", "torch_step(lambda a: 3 * a + 1, 2.0)[1] == [3.0]"]} -->
# <!-- claim {"says": "**final** `+`", "cell": "above", "shows": ["a + b       torch: (-1.0, [1.0, 1.0])", "a * b       torch: (-6.0, [-3.0, 2.0])", "-> same value and same gradients"]} -->
# The last line, `3 * a + 1`, is two operations. `local_step` only calls `_backward` on the
# **final** `+`, so your `a.grad` there stays 0 while PyTorch, which runs the whole backward
# pass, reports 3. That gap is precisely what notebook 04 closes: call every node's `_backward`,
# from the output back to the leaves, in the right order.

# %% [markdown]
# ## Part 2: subtraction and negation
#
# ### The local derivatives
#
# * `out = a - b`: nudging `a` up by `h` moves `out` up by `h`; nudging `b` up by `h` moves `out`
#   **down** by `h`. So ∂out/∂a = 1 and ∂out/∂b = −1. The order of the children matters here,
#   which is why `_prev` is a tuple.
# * `out = -a`: nudging `a` up moves `out` down by the same amount: ∂out/∂a = −1.
#
# The numeric witness, at a = 2, b = −3 (expect `[1, -1]` and `[-1]`):
# <!-- claim {"says": "expect `[1, -1]` and `[-1]`", "prints": [1, -1, -1]} -->

# %%
print("a - b:", numeric_slopes(lambda a, b: a - b, 2.0, -3.0))
print("-a:   ", numeric_slopes(lambda a: -a, 2.0))

# %% [markdown]
# ### Reflected subtraction is not symmetric
#
# `1 - a` ends up in `a.__rsub__(1)`, with `self = a` and `other = 1`. Unlike `+` and `*`, you
# cannot swap the operands: `1 - a` is not `a - 1`. Wrap the number and subtract in the right
# order: `Value(other) - self`.
#
# (You could also build subtraction from pieces you already have, `self + (-other)`, and the
# gradients would come out the same. Here we give `-` its own node and `_op`, so graphs read
# the way you wrote them.)
#
# ## Exercise ex03_sub_neg: `-a`, `a - b` and `1 - a`
#
# Write `neg` (`_op` `'neg'`, one child), `sub` (`_op` `'-'`, wraps a plain-number `other`) and
# `rsub`, each with its `_backward` where it builds a new node.

# %% nbgrader={"grade": false, "grade_id": "ex03_sub_neg_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def neg(self):
    """-self, as a new Value with its own _backward."""
    ### BEGIN SOLUTION
    out = Value(-self.data, (self,), "neg")

    def _backward():
        self.grad += -1.0 * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


def sub(self, other):
    """self - other.   ∂out/∂self = 1,  ∂out/∂other = -1"""
    ### BEGIN SOLUTION
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data - other.data, (self, other), "-")

    def _backward():
        self.grad += 1.0 * out.grad
        other.grad += -1.0 * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


def rsub(self, other):
    """other - self, called for number - Value."""
    ### BEGIN SOLUTION
    return Value(other) - self
    ### END SOLUTION


Value.__neg__ = neg
Value.__sub__ = sub
Value.__rsub__ = rsub

# %% [markdown]
# The graded cell checks `a - b`, `-a` and `1 - a` (the forward numbers and the gradients) with
# the same comparison as the hidden tests; if one fails, the message names the node that is off
# and the `_backward` to look at.

# %% nbgrader={"grade": true, "grade_id": "ex03_sub_neg", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
# Subtraction may be built from + and negation (`self + (-other)`), negation from *.
visible("ex03_sub_neg", Value=Value)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex03_sub_neg", Value=Value)
### END HIDDEN TESTS

# %% [markdown]
# Self-check and hints (`hint("ex03_sub_neg")`):

# %%
check("ex03_sub_neg", Value=Value)

# %% [markdown]
# ## Part 3: powers and division
#
# ### Power by a constant
#
# For `out = a ** k` with a plain number `k`, the power rule from school gives
# ∂out/∂a = k·a<sup>k−1</sup>. It covers more than it looks: `k = 2` gives `2a`, `k = 0.5` (a square
# root) gives `0.5 / √a`, and `k = -1` (one over a) gives `−1/a²`.
#
# The slope of a curve at a point is the slope of its tangent line there. Drag the sliders: the
# red line has slope k·x₀<sup>k−1</sup>, and it touches the curve `x ** k` at x₀ for every setting.

# %%
def plot_power(k=3.0, x0=1.5):
    xs = [0.2 + i * 0.02 for i in range(141)]  # 0.2 .. 3.0, positive so any k is defined
    slope = k * x0 ** (k - 1)
    plt.figure(figsize=(5, 3.5))
    plt.plot(xs, [x**k for x in xs], label=f"x ** {k:g}")
    plt.plot(xs, [x0**k + slope * (x - x0) for x in xs], "r--", label=f"tangent, slope {slope:.3g}")
    plt.scatter([x0], [x0**k], color="red", zorder=3)
    plt.ylim(-2, 10)
    plt.legend()
    plt.title("the power rule: slope = k * x0 ** (k - 1)")
    plt.show()


interact(plot_power, k=FloatSlider(value=3.0, min=-2.0, max=4.0, step=0.5),
         x0=FloatSlider(value=1.5, min=0.4, max=2.5, step=0.1));

# %% [markdown]
# ### Division
#
# For `out = a / b`: with `b` fixed, `a / b` is `a` times the constant `1/b`, so ∂out/∂a = 1/b.
# With `a` fixed, `a / b = a · b⁻¹`, and the power rule with k = −1 gives ∂out/∂b = a·(−1·b⁻²) =
# −a/b².
#
# The numeric witness for all three forms (expect `[12]` for `a ** 3` at a = 2, `[0.25]` for
# `a ** 0.5` at a = 4, and `[-0.25, -0.125]` for `a / b` at a = 2, b = −4):
# <!-- claim {"says": "expect `[12]` for `a ** 3` at a = 2, `[0.25]` for `a ** 0.5` at a = 4, and `[-0.25, -0.125]`", "prints": [3, 2, 12, 0.5, 4, 0.25, 2, -4, -0.25, -0.125]} -->

# %%
print("a ** 3   at a = 2:      ", numeric_slopes(lambda a: a**3, 2.0))
print("a ** 0.5 at a = 4:      ", numeric_slopes(lambda a: a**0.5, 4.0))
print("a / b    at a = 2, b = -4:", numeric_slopes(lambda a, b: a / b, 2.0, -4.0))

# %% [markdown]
# ### What to write
#
# * `power(self, k)`: `k` must be a plain `int` or `float` (a Value exponent needs `exp` and
#   `log`, notebook 05); if it is not, raise a `TypeError` whose message says so. The node has
#   one child and `_op` `f"**{k}"` (so `a ** 3` shows `'**3'` in the graph).
# * `truediv(self, other)`: wraps a plain-number `other`; `_op` `'/'`, children `(self, other)`,
#   local derivatives 1/b and −a/b².
# * `rtruediv(self, other)`: for `1 / a`; as with subtraction, mind the order.
#
# Python's names for these are `__pow__`, `__truediv__` and `__rtruediv__` (true division is
# `/`, as opposed to floor division `//`).
#
# ## Exercise ex03_div_pow: `a ** k`, `a / b` and `1 / a`

# %% nbgrader={"grade": false, "grade_id": "ex03_div_pow_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def power(self, k):
    """self ** k for a plain number k, as a new Value with its own _backward
    (the local derivative is the power rule of Part 3: k * self**(k - 1))."""
    ### BEGIN SOLUTION
    if isinstance(k, bool) or not isinstance(k, (int, float)):
        raise TypeError(f"the exponent must be a plain int or float, got {type(k).__name__}")
    out = Value(self.data**k, (self,), f"**{k}")

    def _backward():
        self.grad += k * self.data ** (k - 1) * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


def truediv(self, other):
    """self / other.   ∂out/∂self = 1 / other,  ∂out/∂other = -self / other ** 2"""
    ### BEGIN SOLUTION
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data / other.data, (self, other), "/")

    def _backward():
        self.grad += (1.0 / other.data) * out.grad
        other.grad += (-self.data / other.data**2) * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


def rtruediv(self, other):
    """other / self, called for number / Value."""
    ### BEGIN SOLUTION
    return Value(other) / self
    ### END SOLUTION


Value.__pow__ = power
Value.__truediv__ = truediv
Value.__rtruediv__ = rtruediv

# %% [markdown]
# The graded cell checks `a ** 3`, `a / b` and `1 / a` with the same comparison as the hidden
# tests (which add fractional `k` and random expressions); if one fails, the message names the
# node that is off and the `_backward` to look at.

# %% nbgrader={"grade": true, "grade_id": "ex03_div_pow", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
# Division may also be built from * and ** (`self * other**-1`): only values and gradients count.
visible("ex03_div_pow", Value=Value)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex03_div_pow", Value=Value)
### END HIDDEN TESTS

# %% [markdown]
# Self-check and hints (`hint("ex03_div_pow")`):

# %%
check("ex03_div_pow", Value=Value)

# %% [markdown]
# ### Every operation against PyTorch
#
# The same side-by-side as before, now for every operation you wrote:

# %%
side_by_side("a - b", lambda a, b: a - b, 2.0, -3.0)
side_by_side("-a", lambda a: -a, 2.0)
side_by_side("1 - a", lambda a: 1 - a, 2.0)
side_by_side("a ** 3", lambda a: a**3, 2.0)
side_by_side("a / b", lambda a, b: a / b, 2.0, -4.0)
side_by_side("1 / a", lambda a: 1 / a, 4.0)

# %% [markdown]
# ## Putting it together: a preview of the backward pass
#
# Build `L = (a * b + 1) / c` with a = 2, b = −3, c = 4 and draw it. Then call `_backward()` by
# hand on each operation node, **starting at the output** and moving towards the leaves, so
# each node's `grad` is complete before it is passed on. The leaves end up with the full
# derivatives ∂L/∂a, ∂L/∂b, ∂L/∂c, and they match PyTorch. Notebook 04 automates exactly this
# walk.
# <!-- claim {"says": "they match PyTorch", "shows": ["∂L/∂a: yours -0.7500   torch -0.7500", "∂L/∂b: yours +0.5000   torch +0.5000", "∂L/∂c: yours +0.3125   torch +0.3125"]} -->

# %%
try:
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(4.0, label="c")
    m = a * b
    m.label = "m"
    n = m + 1
    n.label = "n"
    L = n / c
    L.label = "L"
    L.grad = 1.0  # ∂L/∂L
    for node in [L, n, m]:  # output first
        node._backward()
except NotImplementedError:
    L = None
    print("Finish the exercises above first, then run this cell again.")

if L is not None:
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (2.0, -3.0, 4.0)]
    ta, tb, tc = leaves
    ((ta * tb + 1) / tc).backward()
    print(f"L = {L.data}")
    for name, mine, theirs in zip("abc", (a, b, c), leaves):
        print(f"∂L/∂{name}: yours {mine.grad:+.4f}   torch {theirs.grad.item():+.4f}")
    display(draw_dot(L))

# %% [markdown]
# Read the drawing from right to left: `L.grad` is 1; the `/` node gave `n` its share 1/c = 0.25
# and `c` its share −n/c² = 0.3125; the `+` node passed 0.25 straight through to `m`; the `*`
# node gave `a` the other factor times 0.25 (−0.75) and `b` likewise (0.5). Each node used only
# its own local derivative and the gradient handed to it.
# <!-- claim {"says": "the `/` node gave `n` its share 1/c = 0.25", "cell": "above", "holds": "(L.data, n.grad, c.grad, m.grad, a.grad, b.grad) == (-1.25, 0.25, 0.3125, 0.25, -0.75, 0.5)"} -->

# %% [markdown]
# ## Summary
#
# * Every operation has a **local derivative**: add 1 and 1; multiply: the other factor;
#   subtract 1 and −1; negate −1; `a ** k`: k·a<sup>k−1</sup>; divide 1/b and −a/b².
# * Each operation returns a new Value and attaches a `_backward` closure that adds
#   *local derivative × `out.grad`* to each input's `grad` (the chain rule).
# * `+=`, never `=`: a Value used several times receives one share per use.
# * Plain numbers are wrapped in Values; `2 * a`, `1 - a`, `1 / a` reach the reflected methods
#   `__rmul__`, `__rsub__`, `__rtruediv__`, and for `-` and `/` the operand order must be kept.
# * Central differences and PyTorch independently confirm each rule, one operation at a time.
#
# ## Retrieval questions
#
# 1. What are the local derivatives of `out = a * b`, and why?
#
# <details><summary>Answer</summary>∂out/∂a = b and ∂out/∂b = a: nudging a by h changes a·b by
# h·b, so each input's derivative is the other factor.</details>
#
# 2. Why does a `_backward` function use `+=` on the inputs' grads?
#
# <details><summary>Answer</summary>A Value can be used more than once (as in a + a or a shared
# sub-expression); each use contributes a share of the derivative and the shares must add up.
# With = the later share would overwrite the earlier one.</details>
#
# 3. When Python evaluates `2 * a` for a Value `a`, which method runs, with which arguments?
#
# <details><summary>Answer</summary>First <code>int.__mul__(2, a)</code>, which returns
# NotImplemented; then <code>a.__rmul__(2)</code>, so self is a and other is 2.</details>
#
# 4. Why can `rsub` not simply return `self - other`?
#
# <details><summary>Answer</summary>It is called for <code>other - self</code> (e.g. 1 − a);
# subtraction is not symmetric, so it must compute <code>Value(other) - self</code>.</details>
#
# 5. What is the local derivative of `a ** 0.5` at a = 4, and of `a / b` with respect to b at
# a = 2, b = −4?
#
# <details><summary>Answer</summary>0.5·4<sup>−0.5</sup> = 0.25, and −a/b² = −2/16 = −0.125.</details>
#
# 6. In the preview at the end, why did we call `_backward` on `L` before `n` and on `n` before
# `m`?
#
# <details><summary>Answer</summary>A node can only pass on its gradient once that gradient is
# complete, and it is completed by the nodes that use it, which are closer to the output. So the
# walk goes from the output back to the leaves (notebook 04).</details>
#
# ## Flashcards

# %%
Flashcards("03_operations", [
    ("Local derivatives of a + b?", "1 with respect to a, 1 with respect to b: the gradient passes through unchanged."),
    ("Local derivatives of a * b?", "b with respect to a, a with respect to b: the other factor."),
    ("Local derivatives of a - b and of -a?", "a - b: 1 and -1.  -a: -1."),
    ("Local derivative of a ** k (k a constant)?", "k * a ** (k - 1)"),
    ("Local derivatives of a / b?", "1/b with respect to a, -a/b**2 with respect to b."),
    ("What does an op's _backward do?", "For each input: input.grad += local derivative * out.grad (the chain rule)."),
    ("Which method handles 2 * a?", "a.__rmul__(2), after int's __mul__ returns NotImplemented."),
])

# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · tanh and the neuron
#
# A neuron in a neural network does two things: it adds up its inputs, each
# multiplied by a weight, plus a bias; then it *squashes* that sum with a
# nonlinear function. In this notebook you add the squashing function
# **tanh** to the engine as a new operation with its own backward step, build
# one neuron, and backpropagate through it three ways: by hand, with the
# engine, and with PyTorch. All three must agree.
#
# **Learning objectives.** By the end you can
#
# 1. describe the shape of tanh and of its derivative, and say where the derivative is large or tiny;
# 2. derive the local derivative $1 - \tanh(x)^2$ and explain why it is written with the *output*;
# 3. explain why the textbook formula for tanh gives `nan` for large inputs, and compute it stably;
# 4. add `tanh` as an operation on `Value`, with its `_backward` step, and then `exp` and `relu` the same way;
# 5. backpropagate through a neuron by hand, and check the result against the engine and PyTorch.
#
# **Prerequisites.** Notebook 01 (the chain rule), notebook 03 (operations and their
# `_backward` steps) and notebook 04 (the backward pass: seed, reverse topological order,
# `+=`). High-school algebra: powers of $e$, fractions. Section 2 derives tanh's derivative
# with the quotient rule of calculus; if that rule is new to you, skip the algebra: the
# central difference after it confirms the result numerically.
# <!-- claim {"says": "Notebook 01 (the chain rule)", "taught": ["01_derivatives", "the chain rule"]} -->
# <!-- claim {"says": "operations and their `_backward` steps", "taught": ["03_operations", "the `_backward` closure"]} -->
# <!-- claim {"says": "the backward pass: seed, reverse topological order", "taught": ["04_backward", "the backward pass"]} -->
#
# **Estimated time.** 60-75 minutes.
#
# **What we import.** We import `Value` from `microgradlab`: it is the class you
# built in notebook 03, and its `backward()` does what your `backward` from
# notebook 04 does, so if you got stuck there you can still do all of this one. It has no say in
# tanh here: you write `tanh` yourself, and `exp` and `relu` after it. Sections 4 and 5 import
# PyTorch to compare against a library used in practice.

# %% [markdown]
# The set-up cell: `Value`, the checking tools (`verify`, `check`, `hint`), the
# drawing and flashcard widgets, and plotting.

# %% nbgrader={"grade": false, "grade_id": "ex05_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from microgradlab import Value
from microgradlab.checking import check, hint, verify, visible
from microgradlab.widgets import Flashcards, draw_dot

# %% [markdown]
# ## 1. Meet tanh
#
# The hyperbolic tangent is built from the exponential function $e^x$:
#
# $$\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}} = \frac{e^{2x} - 1}{e^{2x} + 1}.$$
#
# (For the second form, multiply the top and the bottom by $e^{x}$.)
# Its output always lies strictly between -1 and 1, it passes through 0 at
# $x = 0$, and for large $|x|$ it flattens out against ±1. That is the
# "squashing": any sum, however large, comes out as a number in (-1, 1).
# <!-- claim {"says": "it passes through 0 at $x = 0$", "holds": "math.tanh(0.0) == 0.0 and all(-1 < math.tanh(x) < 1 for x in (-5.0, -1.0, 0.3, 2.0, 5.0))"} -->

# %%
xs_plot = np.linspace(-5, 5, 401)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(xs_plot, np.tanh(xs_plot), label="tanh(x)")
ax.plot(xs_plot, 1 - np.tanh(xs_plot) ** 2, "--", label="its derivative, 1 - tanh(x)²")
ax.axhline(0, color="grey", lw=0.5)
ax.axvline(0, color="grey", lw=0.5)
ax.set_xlabel("x")
ax.legend()
ax.set_title("tanh squashes every number into (-1, 1)")
plt.show()

# %% [markdown]
# ## 2. Its local derivative
#
# For backward we need $\dfrac{d}{dx}\tanh(x)$. Write $u = e^{2x}$, so
# $\tanh(x) = \dfrac{u - 1}{u + 1}$, and $\dfrac{du}{dx} = 2u$ (the derivative of
# $e^{kx}$ is $k\,e^{kx}$: the exponential is its own derivative, up to the
# factor from the chain rule). The quotient rule gives
#
# $$\frac{d}{dx}\tanh(x) = \frac{2u\,(u + 1) - (u - 1)\,2u}{(u + 1)^2} = \frac{4u}{(u+1)^2}.$$
#
# Now compute $1 - \tanh(x)^2 = \dfrac{(u+1)^2 - (u-1)^2}{(u+1)^2} = \dfrac{4u}{(u+1)^2}$.
# The same thing, so
#
# $$\boxed{\frac{d}{dx}\tanh(x) = 1 - \tanh(x)^2.}$$
#
# This form is a gift for backpropagation: `tanh(x)` is exactly the number the
# forward pass already stored in the output node, so the backward step needs no
# new exponentials, just `1 - out.data**2`. The dashed curve above is this
# derivative: 1 at $x = 0$, and below 0.01 once $|x|$ is past 3. A neuron whose sum
# lands far out on the flat part barely passes any gradient back (it is
# *saturated*), which is something you will see during training.
#
# Check the formula against a central difference from notebook 01:
# <!-- claim {"says": "1 at $x = 0$, and below 0.01 once $|x|$ is past 3", "holds": "1 - math.tanh(0.0) ** 2 == 1 and all(1 - math.tanh(x) ** 2 < 0.01 for x in (3.0, -3.0, 4.5))"} -->
# <!-- claim {"says": "Check the formula against a central difference", "holds": "all(approx((math.tanh(x + 1e-5) - math.tanh(x - 1e-5)) / 2e-5, 1 - math.tanh(x) ** 2, rel=1e-8) for x in [-2.0, 0.0, 0.5, 3.0])"} -->

# %%
h = 1e-5
for x in [-2.0, 0.0, 0.5, 3.0]:
    numeric = (math.tanh(x + h) - math.tanh(x - h)) / (2 * h)
    formula = 1 - math.tanh(x) ** 2
    print(f"x = {x:5.1f}   central difference {numeric:.8f}   1 - tanh(x)**2 = {formula:.8f}")

# %% [markdown]
# Move the slider: the orange line is the tangent to tanh at $x$, and its slope
# is the local derivative $1 - \tanh(x)^2$.

# %%
def show_tangent(x=0.5):
    y = math.tanh(x)
    slope = 1 - y**2
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(xs_plot, np.tanh(xs_plot))
    ax.plot(xs_plot, y + slope * (xs_plot - x), color="tab:orange")
    ax.plot([x], [y], "ko")
    ax.set_ylim(-1.5, 1.5)
    ax.set_title(f"x = {x:.2f}: tanh(x) = {y:.4f}, local derivative = {slope:.4f}")
    plt.show()


widgets.interact(show_tangent, x=widgets.FloatSlider(value=0.5, min=-4, max=4, step=0.1));

# %% [markdown]
# ## 3. When the textbook formula breaks
#
# Floating-point numbers stop at about $1.8 \times 10^{308}$. $e^{2x}$ passes that
# as soon as $2x > 709.78$, that is for $x$ a little above 354.9. Plain Python
# then raises an error, and numpy or PyTorch give `inf` (infinity):
# <!-- claim {"says": "as soon as $2x > 709.78$, that is for $x$ a little above 354.9", "holds": "approx(math.log(sys.float_info.max), 709.78, tol=0.005) and 354.85 < math.log(sys.float_info.max) / 2 < 354.95"} -->
# <!-- claim {"says": "Plain Python then raises an error, and numpy or PyTorch give `inf`", "shows": ["math.exp(710): math range error", "inf", "nan"], "holds": "__import__('torch').exp(__import__('torch').tensor(710.0, dtype=__import__('torch').float64)).item() == math.inf"} -->

# %%
try:
    math.exp(2 * 355.0)
except OverflowError as error:
    print("math.exp(710):", error)

with np.errstate(over="ignore", invalid="ignore"):  # we want to see the result, not the warning
    x_big = np.array([1.0, 10.0, 354.0, 355.0, 1000.0])
    u = np.exp(2 * x_big)
    print("x                  :", x_big)
    print("e**(2x)            :", u)
    print("(e**2x-1)/(e**2x+1):", (u - 1) / (u + 1))

# %% [markdown]
# Infinity divided by infinity has no meaning, so the result is `nan` ("not a
# number"), although the true answer, 1.0, is as harmless as a number can be.
# <!-- claim {"says": "the result is `nan`", "cell": "above", "holds": "math.isnan(((u - 1) / (u + 1))[3]) and ((u - 1) / (u + 1))[2] == 1.0"} -->
# And `nan` is contagious: one `nan` in a network makes every gradient that
# touches it `nan` too. Inputs of a few hundred happen in practice (a large
# learning rate, or unscaled data).
#
# **The stable form.** Never exponentiate a positive number. With
# $t = e^{-2|x|}$, which always lies in $(0, 1]$ and so can never overflow,
#
# $$\tanh(|x|) = \frac{1 - t}{1 + t}, \qquad \tanh(x) = \operatorname{sign}(x)\cdot\tanh(|x|)$$
#
# (the first is the textbook formula with top and bottom divided by $e^{2|x|}$;
# the second holds because tanh is an odd function: $\tanh(-x) = -\tanh(x)$).
# For very large $|x|$, $t$ simply becomes 0 and the answer becomes ±1.
# `math.copysign(magnitude, x)` attaches the sign of `x` to a number.
# <!-- claim {"says": "For very large $|x|$, $t$ simply becomes 0 and the answer becomes ±1", "holds": "math.exp(-2 * 1e4) == 0.0 and stable_tanh(1e4) == 1.0 and stable_tanh(-1e4) == -1.0 and all(abs(stable_tanh(x) - math.tanh(x)) < 1e-15 for x in [0.5, -3.0, 355.0, -1000.0, 1e4])"} -->

# %%
def stable_tanh(x):
    t = math.exp(-2 * abs(x))  # in (0, 1]: cannot overflow
    return math.copysign((1 - t) / (1 + t), x)


for x in [0.5, -3.0, 355.0, -1000.0, 1e4]:
    print(f"x = {x:8}: stable form {stable_tanh(x): .15f}   math.tanh {math.tanh(x): .15f}")

# %% [markdown]
# ### Exercise `ex05_tanh`: tanh as an operation on `Value`
#
# Write `tanh(v)`. It takes a `Value` `v` and returns a **new** `Value` that
#
# * holds $\tanh$ of `v.data`, computed in the stable way (finite for `abs(x)` up to $10^4$ and beyond);
# * records its input and its operation: `_children=(v,)` and `_op='tanh'`;
# * has a `_backward` step that *adds* the local derivative times the output's
#   gradient into `v.grad`. Write a small function `_backward()` inside `tanh`
#   and attach it with `out._backward = _backward`, as in notebook 03.
#
# Remember the form of the local derivative: it is written with the **output**.

# %% nbgrader={"grade": false, "grade_id": "ex05_tanh_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tanh(v):
    """out = tanh(v), a new Value whose _backward uses the derivative worked out above."""
    ### BEGIN SOLUTION
    x = v.data
    t = math.exp(-2.0 * abs(x))  # in (0, 1]: no overflow for any x
    out = Value(math.copysign((1.0 - t) / (1.0 + t), x), (v,), "tanh")

    def _backward():
        # the local derivative uses the stored output: no new exponential needed
        v.grad += (1.0 - out.data**2) * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


# %% [markdown]
# The graded cell checks `tanh(0.5)` and `tanh(x) * x` (an input used twice) with the same
# comparison as the hidden tests, which also try very large inputs; the message names the
# node whose `data` or `grad` is off.

# %% nbgrader={"grade": true, "grade_id": "ex05_tanh", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex05_tanh", tanh=tanh)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex05_tanh", tanh=tanh)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer on fresh inputs (and `hint("ex05_tanh")` when you are stuck):

# %%
check("ex05_tanh", tanh=tanh)

# %% [markdown]
# ## 4. Two more operations: exp and relu
#
# tanh was the first operation you added by hand. Every other one-input operation is added
# the same way: the forward number, the record `(v,)` and `_op`, and a `_backward` that adds
# *local derivative × `out.grad`* into `v.grad`. Two more are worth having, and you write
# both now: the exponential $e^x$ (tanh, the sigmoid and softmax are built from it), and
# **relu**, the nonlinearity most networks use today (notebook 06 uses it for its loss).
#
# **exp.** The exponential is its own derivative:
#
# $$\frac{d}{dx}e^{x} = e^{x}.$$
#
# As with tanh, that is the number the forward pass already stored in `out.data`: the backward
# step is `v.grad += out.data * out.grad`. A central difference agrees:
# <!-- claim {"says": "The exponential is its own derivative", "holds": "all(approx((math.exp(x + 1e-5) - math.exp(x - 1e-5)) / 2e-5, math.exp(x), rel=1e-8) for x in [-2.0, 0.0, 1.0, 3.0])"} -->

# %%
h = 1e-5
for x in [-2.0, 0.0, 1.0, 3.0]:
    numeric = (math.exp(x + h) - math.exp(x - h)) / (2 * h)
    print(f"x = {x:5.1f}   central difference {numeric:.8f}   e**x = {math.exp(x):.8f}")

# %% [markdown]
# ### Exercise `ex05_exp`: exp as an operation on `Value`
#
# Write `exp(v)`: a **new** `Value` holding `math.exp(v.data)`, with `_children=(v,)` and
# `_op='exp'`, whose `_backward` *adds* the local derivative times `out.grad` into `v.grad`.
# (Inputs above about 709 overflow `math.exp`; the tests stay below that.)
# <!-- claim {"says": "Inputs above about 709 overflow", "holds": "math.exp(709.0) < math.inf and approx(math.log(sys.float_info.max), 709.78, tol=0.005)"} -->

# %% nbgrader={"grade": false, "grade_id": "ex05_exp_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def exp(v):
    """out = e ** v, a new Value whose _backward uses d/dx e**x = e**x."""
    ### BEGIN SOLUTION
    out = Value(math.exp(v.data), (v,), "exp")

    def _backward():
        # e**x is its own slope, and out.data already holds it
        v.grad += out.data * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


# %% [markdown]
# The graded cell checks `exp(1)` and `exp(x) * x` (an input used twice); the hidden tests
# add very negative inputs and an exponential of an exponential.

# %% nbgrader={"grade": true, "grade_id": "ex05_exp", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex05_exp", exp=exp)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex05_exp", exp=exp)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer on fresh inputs (and `hint("ex05_exp")` when you are stuck):

# %%
check("ex05_exp", exp=exp)

# %% [markdown]
# **relu** (the *rectified linear unit*) keeps a positive number and turns everything else
# into 0:
#
# $$\operatorname{relu}(x) = \max(x, 0), \qquad
# \frac{d}{dx}\operatorname{relu}(x) = \begin{cases} 1 & x > 0 \\ 0 & x \le 0. \end{cases}$$
#
# On the right it is the identity, so the gradient passes back unchanged; on the flat left side
# nothing passes back. At exactly $x = 0$ the graph has a corner and no single slope; PyTorch,
# like most libraries, uses 0 there, and so do we:
# <!-- claim {"says": "PyTorch, like most libraries, uses 0 there", "cell": "below", "shows": ["slope at 0: 0.0"]} -->

# %%
import torch

t_zero = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
torch.relu(t_zero).backward()
print("PyTorch's relu slope at 0:", t_zero.grad.item())

# %% [markdown]
# ### Exercise `ex05_relu`: relu as an operation on `Value`
#
# Write `relu(v)`: a **new** `Value` holding `v.data` when it is positive and `0.0`
# otherwise, with `_children=(v,)` and `_op='relu'`, whose `_backward` *adds* the slope
# above (1 or 0, and 0 at exactly 0) times `out.grad` into `v.grad`.

# %% nbgrader={"grade": false, "grade_id": "ex05_relu_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu(v):
    """out = max(v, 0), a new Value whose _backward passes the gradient only where v > 0."""
    ### BEGIN SOLUTION
    out = Value(v.data if v.data > 0 else 0.0, (v,), "relu")

    def _backward():
        # slope 1 on the right, 0 on the flat side and at the corner itself
        v.grad += (1.0 if out.data > 0 else 0.0) * out.grad

    out._backward = _backward
    return out
    ### END SOLUTION


# %% [markdown]
# The graded cell checks a positive input, a negative one and `relu(x) * x`; the hidden tests
# add an input of exactly 0 and expressions with several relus.

# %% nbgrader={"grade": true, "grade_id": "ex05_relu", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex05_relu", relu=relu)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex05_relu", relu=relu)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer on fresh inputs (and `hint("ex05_relu")` when you are stuck):

# %%
check("ex05_relu", relu=relu)

# %% [markdown]
# From here on the engine's `Value` has these operations as methods, `v.exp()` and
# `v.relu()`, written exactly as you just wrote them; notebook 06 calls `.relu()`.

# %% [markdown]
# ## 5. One neuron
#
# A neuron with two inputs $x_1, x_2$ has a weight for each, $w_1, w_2$, and a bias $b$:
#
# $$n = w_1 x_1 + w_2 x_2 + b, \qquad o = \tanh(n).$$
#
# The weights say how much each input matters (and with which sign), the bias
# shifts the sum, and tanh squashes it. Learning means adjusting $w_1, w_2, b$,
# so the gradients we want are $\partial o/\partial w_1$, $\partial o/\partial w_2$, $\partial o/\partial b$.
# We will use
#
# $$x_1 = 1.5,\quad x_2 = -0.5,\quad w_1 = 0.8,\quad w_2 = -1.2,\quad b = -1.3,$$
#
# so $w_1 x_1 = 1.2$, $w_2 x_2 = 0.6$, their sum is $1.8$, $n = 0.5$ and
# $o = \tanh(0.5) \approx 0.4621$.
#
# Nothing in `Value` knows what a neuron is: it has no notion of weights, biases or layers,
# only of numbers and operations. A neuron is one thing you can *build* from it, and the
# backward pass through it is the same sweep as through any other expression.
# <!-- claim {"says": "Nothing in `Value` knows what a neuron is", "holds": "not any(word in name.lower() for name in dir(Value) for word in ('neuron', 'layer', 'weight', 'bias'))"} -->
#
# ### By hand
#
# From the output in, one local derivative per step (name the partial results
# $p_1 = w_1 x_1$, $p_2 = w_2 x_2$, $s = p_1 + p_2$):
#
# | step | node | local derivative | gradient $\partial o/\partial$ node |
# |---|---|---|---|
# | seed | $o$ | | 1 |
# | $o = \tanh(n)$ | $n$ | $1 - o^2 = 0.7864$ | $0.7864$ |
# | $n = s + b$ | $b$, $s$ | 1 | $0.7864$ each |
# | $s = p_1 + p_2$ | $p_1$, $p_2$ | 1 | $0.7864$ each |
# | $p_1 = w_1 x_1$ | $w_1$ | $x_1 = 1.5$ | $0.7864 \cdot 1.5 = 1.1797$ |
# | | $x_1$ | $w_1 = 0.8$ | $0.7864 \cdot 0.8 = 0.6292$ |
# | $p_2 = w_2 x_2$ | $w_2$ | $x_2 = -0.5$ | $0.7864 \cdot (-0.5) = -0.3932$ |
# | | $x_2$ | $w_2 = -1.2$ | $0.7864 \cdot (-1.2) = -0.9437$ |
#
# The same steps in Python, with plain numbers:
# <!-- claim {"says": "$n = 0.5$ and $o = \\tanh(0.5) \\approx 0.4621$", "prints": [0.5, 0.4621, 0.7864, 0.7864, 1.1797, 0.6292, -0.3932, -0.9437], "tol": 5e-5} -->
# <!-- claim {"says": "$1 - o^2 = 0.7864$", "holds": "approx(n, 0.5, tol=1e-12) and approx(1.2 + 0.6, 1.8) and approx(w1 * x1, 1.2) and approx(w2 * x2, 0.6)"} -->

# %%
x1, x2, w1, w2, b = 1.5, -0.5, 0.8, -1.2, -1.3
n = w1 * x1 + w2 * x2 + b
o = math.tanh(n)
do_dn = 1 - o**2  # tanh's local derivative
by_hand = {
    "b": do_dn * 1,  # n = s + b
    "w1": do_dn * x1,  # p1 = w1 * x1: the other factor
    "x1": do_dn * w1,
    "w2": do_dn * x2,
    "x2": do_dn * w2,
}
print(f"n = {n:.4f}, o = {o:.4f}, do/dn = {do_dn:.4f}")
for name, grad in by_hand.items():
    print(f"do/d{name:<2} = {grad: .4f}")

# %% [markdown]
# ### By the engine
#
# Now the same neuron from `Value`s, with your `tanh`, and the engine's
# `backward()` (the procedure you wrote in notebook 04). The drawing shows every node with its gradient.

# %%
vx1, vx2 = Value(x1, label="x1"), Value(x2, label="x2")
vw1, vw2 = Value(w1, label="w1"), Value(w2, label="w2")
vb = Value(b, label="b")
try:
    vp1 = vw1 * vx1
    vp1.label = "p1"
    vp2 = vw2 * vx2
    vp2.label = "p2"
    vs = vp1 + vp2
    vs.label = "s"
    vn = vs + vb
    vn.label = "n"
    vo = tanh(vn)
    vo.label = "o"
    vo.backward()
    by_engine = {"b": vb.grad, "w1": vw1.grad, "x1": vx1.grad, "w2": vw2.grad, "x2": vx2.grad}
    print(f"o = {vo.data:.4f}")
    display(draw_dot(vo))
except NotImplementedError:
    by_engine = None
    print("finish the exercise ex05_tanh above first, then run this cell again")

# %% [markdown]
# ### By PyTorch
#
# PyTorch does the very same thing on *tensors* (arrays of numbers; here each
# holds a single number). `requires_grad=True` asks it to record the graph, as
# `Value` does; `o.backward()` runs the same reverse sweep, and each tensor's
# gradient lands in `.grad`. We use `float64`, the same 64-bit floats Python
# uses, so the numbers can be compared digit for digit.

# %%
import torch

t_x1 = torch.tensor(x1, dtype=torch.float64, requires_grad=True)
t_x2 = torch.tensor(x2, dtype=torch.float64, requires_grad=True)
t_w1 = torch.tensor(w1, dtype=torch.float64, requires_grad=True)
t_w2 = torch.tensor(w2, dtype=torch.float64, requires_grad=True)
t_b = torch.tensor(b, dtype=torch.float64, requires_grad=True)
t_o = torch.tanh(t_w1 * t_x1 + t_w2 * t_x2 + t_b)
t_o.backward()
by_torch = {"b": t_b.grad.item(), "w1": t_w1.grad.item(), "x1": t_x1.grad.item(),
            "w2": t_w2.grad.item(), "x2": t_x2.grad.item()}
print(f"o = {t_o.item():.4f}")

# %% [markdown]
# Side by side:

# %%
print(f"{'':>6} {'by hand':>12} {'engine':>12} {'PyTorch':>12}")
for name in by_hand:
    engine_text = f"{by_engine[name]:12.8f}" if by_engine else f"{'(to do)':>12}"
    print(f"do/d{name:<2} {by_hand[name]:12.8f} {engine_text} {by_torch[name]:12.8f}")
if by_engine:
    worst = max(abs(by_engine[k] - by_torch[k]) for k in by_hand)
    print(f"largest difference between engine and PyTorch: {worst:.1e}")

# %% [markdown]
# <!-- claim {"says": "Three routes, one answer", "cell": "above", "holds": "worst < 1e-12 and max(abs(by_hand[k] - by_torch[k]) for k in by_hand) < 1e-12"} -->
# Three routes, one answer (up to the last digit or two of rounding). PyTorch
# is not magic: it is this notebook, with tensors in place of single numbers.
#
# ### Exercise `ex05_neuron`
#
# Write `neuron(xs, ws, b)`: `xs` is a list of inputs (numbers or `Value`s), `ws`
# a list of weight `Value`s of the same length, and `b` a bias `Value`. Return the
# `Value` $\tanh\big(\sum_i w_i x_i + b\big)$, squashed with **your** `tanh` from above.
# A check that the two lists have the same length is already written for you.

# %% nbgrader={"grade": false, "grade_id": "ex05_neuron_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def neuron(xs, ws, b):
    """o = tanh(w1*x1 + ... + wn*xn + b)."""
    if len(xs) != len(ws):
        raise ValueError(f"neuron needs one weight per input: got {len(xs)} inputs and {len(ws)} weights")
    ### BEGIN SOLUTION
    weighted_sum = sum(w * x for w, x in zip(ws, xs))  # starts from 0, so no inputs gives tanh(b)
    return tanh(weighted_sum + b)
    ### END SOLUTION


# %% [markdown]
# The graded cell rebuilds the neuron from section 5 and checks it with the same comparison as
# the hidden tests (which add more inputs); the message says what is off.

# %% nbgrader={"grade": true, "grade_id": "ex05_neuron", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex05_neuron", neuron=neuron)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex05_neuron", neuron=neuron)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer (and `hint("ex05_neuron")` when you are stuck):

# %%
check("ex05_neuron", neuron=neuron)

# %% [markdown]
# ## Summary
#
# * $\tanh$ squashes any number into $(-1, 1)$; its local derivative is $1 - \tanh(x)^2$,
#   1 at the centre and nearly 0 far out (a *saturated* neuron passes little gradient back).
# * The derivative is written with the **output**, so backward reuses the stored `out.data`.
# * The textbook $(e^{2x}-1)/(e^{2x}+1)$ overflows to `inf/inf = nan` for $x$ above about 355;
#   with $t = e^{-2|x|}$ and the sign of $x$ it is finite for every input.
# * A new operation on `Value` needs three things: the forward number, the record
#   (`_prev`, `_op`), and a `_backward` step that *adds* local derivative times `out.grad`.
# * `exp` and `relu` are added the same way: $e^x$ is its own derivative (`out.data`), and relu
#   passes the gradient back only where its input is positive (slope 0 at exactly 0).
# * A neuron is $\tanh(\sum_i w_i x_i + b)$. Backpropagating through it by hand, with the
#   engine, and with PyTorch gives the same gradients: PyTorch runs the same procedure on tensors.
#
# ## Retrieval questions
#
# Answer from memory first, then open the answer.
#
# 1. What is the local derivative of tanh, and why is it convenient for backward?
#
# <details><summary>Answer</summary>$1 - \tanh(x)^2$. The forward pass already stored $\tanh(x)$ in
# `out.data`, so the backward step is `v.grad += (1 - out.data**2) * out.grad`: no new exponential.</details>
#
# 2. Why does $(e^{2x}-1)/(e^{2x}+1)$ give `nan` at $x = 400$?
#
# <details><summary>Answer</summary>$e^{800}$ is beyond the largest float (about $1.8\times10^{308}$), so it
# becomes `inf` (or raises OverflowError in plain Python), and `inf/inf` is `nan`.</details>
#
# 3. How do you compute tanh without overflow?
#
# <details><summary>Answer</summary>Only exponentiate non-positive numbers: $t = e^{-2|x|}$ is in (0, 1],
# $\tanh(|x|) = (1-t)/(1+t)$, then attach the sign of $x$ (tanh is odd).</details>
#
# 4. For $o = \tanh(w_1 x_1 + w_2 x_2 + b)$, what is $\partial o/\partial w_1$?
#
# <details><summary>Answer</summary>$(1 - o^2)\cdot x_1$: tanh's local derivative times the other factor
# of the product $w_1 x_1$ (the sums in between pass the gradient through unchanged).</details>
#
# 5. What happens to the gradient of a neuron whose sum $n$ is 10?
#
# <!-- claim {"says": "$1 - \\tanh(10)^2 \\approx 8\\times10^{-9}$", "holds": "approx(1 - math.tanh(10.0) ** 2, 8.2e-9, rel=0.01)"} -->
# <details><summary>Answer</summary>It is almost zero: $1 - \tanh(10)^2 \approx 8\times10^{-9}$. The neuron is
# saturated and its weights barely learn from this example.</details>
#
# ## Flashcards
#
# Print them (one card per page) or flip through them here.

# %%
Flashcards("05_tanh_neuron", [
    ("Range of tanh?", "Strictly between -1 and 1; tanh(0) = 0."),
    ("d/dx tanh(x)?", "1 - tanh(x)**2, written with the output."),
    ("Why does (e**2x - 1)/(e**2x + 1) fail for large x?", "e**2x overflows to inf, and inf/inf is nan."),
    ("Stable tanh?", "t = e**(-2|x|); tanh(x) = sign(x) * (1 - t)/(1 + t)."),
    ("The three parts of a new Value operation?", "The forward number, the record (_prev, _op), and a _backward step that adds into the input's grad."),
    ("d/dx e**x?", "e**x itself: the output's data, out.data."),
    ("d/dx relu(x)?", "1 where x > 0, 0 where x <= 0 (0 at exactly 0, as in PyTorch)."),
    ("What does a neuron compute?", "tanh(w1*x1 + ... + wn*xn + b)."),
    ("do/dw1 for o = tanh(w1*x1 + w2*x2 + b)?", "(1 - o**2) * x1"),
    ("What does PyTorch's o.backward() do?", "The same reverse sweep as our backward, on tensors; gradients land in .grad."),
])

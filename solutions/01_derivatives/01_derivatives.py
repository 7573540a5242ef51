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
# # 01 · Derivatives: how fast does the output move?
#
# **Learning objectives.** By the end of this notebook you can
#
# 1. say what a derivative measures: how much the output of a function moves when you nudge
#    its input, per unit of nudge;
# 2. estimate a derivative numerically with a **forward difference** and a **central
#    difference**, and explain why the central one is far more accurate;
# 3. measure the **chain rule** (rates multiply through a composition of functions), the one
#    piece of calculus the rest of the course leans on;
# 4. compute **partial derivatives** and collect them into the **gradient** vector;
# 5. use the gradient to walk downhill (**gradient descent**) and watch a loss fall.
#
# **Prerequisites.** Python functions, lists and loops; high-school algebra (what `x**2` looks
# like as a graph, what a slope is). No calculus is assumed: we build the idea from slopes.
#
# **Estimated time:** 50-60 minutes.
#
# **What we import and why.** Nothing from microgradlab's engine: this notebook is about the
# idea that the engine automates. We import `derivative_explorer` and `Flashcards` from
# `microgradlab.widgets` (a slider to play with and cards to revise with), and `verify`,
# `check` and `hint` from `microgradlab.checking`, which test your functions and give hints
# when you are stuck.

# %% [markdown]
# Run the set-up cell first (Shift+Enter). It only imports tools.

# %% nbgrader={"grade": false, "grade_id": "setup_01", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

import matplotlib.pyplot as plt

from microgradlab.checking import check, hint, verify, visible
from microgradlab.widgets import Flashcards, derivative_explorer

# %% [markdown]
# ## A slope between two points
#
# Take the function $f(x) = x^2$. When $x$ goes from 3 to 4, $f(x)$ goes from 9 to 16. The
# output moved by 7 while the input moved by 1, so on that stretch the function rises at
# **7 units of output per unit of input**:
#
# $$\text{slope} = \frac{f(4) - f(3)}{4 - 3} = \frac{16 - 9}{1} = 7.$$
#
# That is the slope of the straight line (a *secant*) through the two points
# $(3, 9)$ and $(4, 16)$. Let Python confirm it:
# <!-- claim {"says": "goes from 9 to 16", "prints": [3, 9, 4, 16, 7]} -->

# %%
def f(x):
    return x**2


slope = (f(4) - f(3)) / (4 - 3)
print(f"f(3) = {f(3)}, f(4) = {f(4)}, slope = {slope}")

# %% [markdown]
# ## Shrinking the step
#
# The slope 7 is an *average* over the stretch from 3 to 4, and $x^2$ curves upward on that
# stretch, so the average is pulled up by the steep end. To ask how fast $f$ is rising
# **at** $x = 3$ itself, we make the step $h$ smaller and smaller:
#
# $$\text{slope}(h) = \frac{f(3 + h) - f(3)}{h}.$$
#
# Watch the slopes as $h$ shrinks by a factor of 10 each row:

# %%
x = 3.0
print(f"{'h':>10} | slope from x=3 to x=3+h")
print("-" * 36)
for k in range(0, 7):
    h = 10.0**-k
    print(f"{h:>10.0e} | {(f(x + h) - f(x)) / h:.7f}")

# %% [markdown]
# The slopes settle on **6**. That limit is the **derivative** of $f$ at 3, written $f'(3)$
# (or $\frac{df}{dx}$ at 3: "the change in $f$ per change in $x$"). In one line:
#
# $$f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h}.$$
#
# For $x^2$ you can see why with a line of algebra:
#
# $$\frac{(x+h)^2 - x^2}{h} = \frac{2xh + h^2}{h} = 2x + h \;\longrightarrow\; 2x \quad (h \to 0),$$
#
# so $f'(x) = 2x$, and $f'(3) = 6$. The leftover $+h$ is exactly the gap you saw in the
# table: 7 at $h=1$, 6.1 at $h=0.1$, 6.01 at $h=0.01$...
# <!-- claim {"says": "7 at $h=1$, 6.1 at $h=0.1$, 6.01 at $h=0.01$", "cell": "above", "prints": [1, 7, 0.1, 6.1, 0.01, 6.01, 1e-6, 6.000001]} -->
#
# The same story as a picture: the secants (dashed) through $(3, 9)$ and $(3 + h, f(3 + h))$
# turn into the tangent line (solid), the line that just touches the curve at $x = 3$ with
# slope 6.

# %%
xs = [i / 50 for i in range(0, 251)]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(xs, [f(v) for v in xs], color="black", label="f(x) = x²")
for h, colour in [(1.0, "tab:red"), (0.5, "tab:orange"), (0.2, "tab:green")]:
    secant = (f(3 + h) - f(3)) / h
    ax.plot([1, 5], [f(3) + secant * (1 - 3), f(3) + secant * (5 - 3)], "--", color=colour,
            label=f"secant, h = {h}: slope {secant:.1f}")
ax.plot([1, 5], [f(3) + 6 * (1 - 3), f(3) + 6 * (5 - 3)], color="tab:blue", label="tangent: slope 6")
ax.plot([3], [9], "o", color="black")
ax.set_xlim(1, 5)
ax.set_ylim(0, 25)
ax.set_xlabel("x")
ax.set_ylabel("f(x)")
ax.legend(loc="upper left", fontsize=8)
plt.show()

# %% [markdown]
# Now try it yourself: drag `h` towards 0 and watch the secant's slope approach the tangent's.
# Move `x` too: at $x = -2$ the slope heads to $-4$, at $x = 0$ to $0$ (the bottom of the bowl,
# where the curve is flat for an instant).
# <!-- claim {"says": "at $x = -2$ the slope heads to $-4$", "holds": "approx((f(-2 + 1e-7) - f(-2)) / 1e-7, -4, rel=1e-5)"} -->
# <!-- claim {"says": "at $x = 0$ to $0$", "holds": "abs((f(0 + 1e-7) - f(0)) / 1e-7) < 1e-6"} -->

# %%
derivative_explorer(f, x=3.0, h=1.0, df=lambda x: 2 * x)

# %% [markdown]
# ## Exercise 1: forward and central differences
#
# The formula we just used is the **forward difference**: step forward by $h$ and divide.
#
# $$f'(x) \approx \frac{f(x + h) - f(x)}{h}$$
#
# Its estimate is off by roughly $h$ times something (for $x^2$ exactly $+h$), because it
# measures the slope on one side of $x$ only. The **central difference** steps the same
# distance both ways and divides by the full width $2h$:
#
# $$f'(x) \approx \frac{f(x + h) - f(x - h)}{2h}$$
#
# Errors on the left and right side cancel, and what remains shrinks like $h^2$ instead of $h$:
# make $h$ ten times smaller and the error becomes about a *hundred* times smaller.
# (For $x^2$ the cancelling is perfect: the central difference gives exactly $2x$ for any $h$.)
# <!-- claim {"says": "for $x^2$ exactly $+h$", "holds": "approx(forward_difference(f, 3.0, 0.5), 6.5) and approx(forward_difference(f, -1.0, 0.25), -1.75)"} -->
# <!-- claim {"says": "gives exactly $2x$ for any $h$", "holds": "approx(central_difference(f, 3.0, 0.5), 6.0) and approx(central_difference(f, -1.0, 2.0), -2.0)"} -->
#
# Write both. `f` is any function of one number, `x` the point, `h` the step (non-zero). Return
# a plain float.

# %% nbgrader={"grade": false, "grade_id": "ex01_difference_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def forward_difference(f, x, h):
    """The slope of the straight line through the points of f at x and at x + h."""
    ### BEGIN SOLUTION
    return (f(x + h) - f(x)) / h
    ### END SOLUTION


def central_difference(f, x, h):
    """Slope of f from x - h to x + h:  (f(x + h) - f(x - h)) / (2h).   Error of order h**2."""
    ### BEGIN SOLUTION
    return (f(x + h) - f(x - h)) / (2 * h)
    ### END SOLUTION


# %% [markdown]
# Run the graded cell. It checks the case shown above (x**2 from 3 to 4) with the same
# comparison as the hidden tests, which (when your work is graded) try other functions,
# points and steps; if it fails, the message says which number is off.

# %% nbgrader={"grade": true, "grade_id": "ex01_difference", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex01_difference", forward_difference=forward_difference, central_difference=central_difference)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex01_difference", forward_difference=forward_difference, central_difference=central_difference)
### END HIDDEN TESTS

# %% [markdown]
# Stuck, or want to test yourself on more cases? `check` runs the same checks as the grader
# and says what is wrong; `hint("ex01_difference")` gives one hint more each time you call it.

# %%
check("ex01_difference", forward_difference=forward_difference, central_difference=central_difference)

# %% [markdown]
# ## How fast do the errors shrink?
#
# Let us measure the claim "$O(h)$ versus $O(h^2)$" on a function whose derivative we know
# exactly: $\sin$, whose derivative is $\cos$. At $x = 1$ we compare both estimates with
# $\cos(1)$ for shrinking steps. (This cell uses your two functions, so finish the exercise
# first.)

# %%
def difference_errors(steps):
    """(h, forward error, central error) for sin at x = 1, against the exact cos(1)."""
    exact = math.cos(1.0)
    return [(h, abs(forward_difference(math.sin, 1.0, h) - exact),
             abs(central_difference(math.sin, 1.0, h) - exact)) for h in steps]


steps = [10.0**-k for k in range(1, 6)]
try:
    errors = difference_errors(steps)
except NotImplementedError:
    errors = None
    print("Finish forward_difference and central_difference above first.")
if errors:
    print(f"{'h':>8} | {'forward error':>13} | {'central error':>13}")
    for h, forward_error, central_error in errors:
        print(f"{h:>8.0e} | {forward_error:>13.2e} | {central_error:>13.2e}")

# %% [markdown]
# Each time $h$ shrinks tenfold, the forward error loses one digit and the central error two.
# <!-- claim {"says": "the forward error loses one digit and the central error two", "cell": "above", "holds": "all(5 < e1[1] / e2[1] < 20 and 50 < e1[2] / e2[2] < 200 for e1, e2 in zip(errors, errors[1:]))"} -->
# On a **log-log plot** (both axes in powers of ten) a power law $\text{error} \approx C h^p$
# becomes a straight line of slope $p$, so the two methods show up as lines of slope 1 and 2:

# %%
if errors:
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog([e[0] for e in errors], [e[1] for e in errors], "o-", label="forward: error ∝ h")
    ax.loglog([e[0] for e in errors], [e[2] for e in errors], "s-", label="central: error ∝ h²")
    ax.set_xlabel("step h")
    ax.set_ylabel("|estimate − cos(1)|")
    ax.legend()
    plt.show()
else:
    print("The plot appears once the exercise above is done.")

# %% [markdown]
# Why not take $h = 10^{-15}$ and be done? Computers store about 16 significant digits. With a
# tiny $h$, $f(x+h)$ and $f(x)$ agree in almost all of them, and subtracting them leaves mostly
# rounding noise, which the division by $h$ then blows up. Try `forward_difference(math.sin,
# 1.0, 1e-15)` in a new cell: it is off in the second digit, where $h = 10^{-5}$ was off only
# in the sixth.
#
# Numerical derivatives are a great *check*, but they are slow and approximate, which is why
# the rest of this course builds exact derivatives (backpropagation) and uses finite
# differences to test them.
# <!-- claim {"says": "Computers store about 16 significant digits", "holds": "15 < sys.float_info.mant_dig * math.log10(2) < 16.5"} -->
# <!-- claim {"says": "where $h = 10^{-5}$ was off only in the sixth", "holds": "1e-3 < abs(forward_difference(math.sin, 1.0, 1e-15) - math.cos(1.0)) < 1e-1 and 1e-7 < abs(forward_difference(math.sin, 1.0, 1e-5) - math.cos(1.0)) < 1e-5"} -->

# %% [markdown]
# ## Rates multiply: the chain rule
#
# Most functions are built from simpler ones, each feeding the next. Take
#
# $$\text{inner}(x) = 3x + 1, \qquad \text{outer}(u) = u^2, \qquad
# \text{outer}(\text{inner}(x)) = (3x + 1)^2.$$
#
# Putting one function inside another is called a **composition**: $x$ goes into `inner`, and
# what comes out goes into `outer`. How fast does the whole thing move at $x = 1$? Follow a
# small nudge of $x$ through it:
#
# * `inner` moves **3** times as much as $x$ (its slope is 3 everywhere);
# * at $x = 1$, `inner` lands on $u = 4$, where `outer` has slope $2u = $ **8**, so `outer`
#   moves 8 times as much as `inner` did.
#
# So the whole thing moves $8 \times 3 = 24$ times as much as $x$. **Rates multiply**:
#
# $$\frac{d}{dx}\,\text{outer}(\text{inner}(x)) = \text{outer}'(\text{inner}(x)) \cdot
# \text{inner}'(x) = 8 \cdot 3 = 24.$$
#
# This is the **chain rule**. With a name for the middle value, $u = \text{inner}(x)$, it reads
# $\frac{d\,\text{outer}}{dx} = \frac{d\,\text{outer}}{du} \cdot \frac{du}{dx}$. Note
# *where* the outer rate is taken: at $u = 4$, the point the inner function lands on, not at
# $x = 1$. The rest of the course leans on this one rule: backpropagation (notebook 04) is the
# chain rule applied over and over, from the output back to every input.
#
# No algebra needed to believe it: your `central_difference` measures all three rates.
# <!-- claim {"says": "8 \\times 3 = 24", "prints": [3, 8, 24, 24]} -->

# %%
def inner(x):
    return 3 * x + 1


def outer(u):
    return u**2


try:
    rate_inner = central_difference(inner, 1.0, 1e-5)
    rate_outer = central_difference(outer, inner(1.0), 1e-5)  # at u = inner(1) = 4
    rate_whole = central_difference(lambda x: outer(inner(x)), 1.0, 1e-5)
except NotImplementedError:
    print("Finish central_difference in Exercise 1 first.")
else:
    print(f"rate of inner at x = 1: {rate_inner:.6f}")
    print(f"rate of outer at u = 4: {rate_outer:.6f}")
    print(f"their product         : {rate_inner * rate_outer:.6f}")
    print(f"rate of outer(inner(x)) at x = 1, measured directly: {rate_whole:.6f}")

# %% [markdown]
# ### Your turn: measure the chain rule on sin(x²)
#
# Now a composition whose derivative you may not know by heart: $\sin(x^2)$ at $x_0 = 1.5$.
# The inner function is `square`, the outer one `math.sin`. With your `central_difference`
# (step `1e-5`), measure
#
# * `rate_of_square`: the rate of `square` at $x_0$;
# * `rate_of_sin`: the rate of `math.sin` at the point where `square` lands;
# * `rate_of_both`: the rate of $\sin(x^2)$ at $x_0$, measured directly on the whole function.
#
# The cell after it checks that you measured at the right points and that rates multiply.

# %% nbgrader={"grade": false, "grade_id": "chain_rule_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def square(x):
    return x**2


x0 = 1.5
### BEGIN SOLUTION
rate_of_square = central_difference(square, x0, 1e-5)
rate_of_sin = central_difference(math.sin, square(x0), 1e-5)
rate_of_both = central_difference(lambda x: math.sin(square(x)), x0, 1e-5)
### END SOLUTION

# %% [markdown]
# Run the check: it says whether you measured at the right points and whether the rates
# multiply (it is not graded).
# <!-- claim {"says": "whether the rates multiply", "shows": ["rates multiply", "3.0000", "-0.6282", "-1.8845"]} -->

# %%
def check_chain_rule():
    """Say whether the three rates were measured at the right points, and compare."""
    try:
        rates = [rate_of_square, rate_of_sin, rate_of_both]
    except NameError:
        return "Fill in the three rates in the cell above first, then run this cell again."
    if not all(isinstance(r, (int, float)) and math.isfinite(r) for r in rates):
        return f"Each rate should be a number; got {rates}."
    u0 = square(x0)
    if abs(rate_of_sin - math.cos(x0)) < 1e-4:
        return (f"rate_of_sin is {rate_of_sin:.4f}, sin's rate at x0 = {x0}. The outer rate is "
                f"taken where the inner function lands: at u = square(x0) = {u0}.")
    wanted = {"rate_of_square": 2 * x0, "rate_of_sin": math.cos(u0),
              "rate_of_both": 2 * x0 * math.cos(u0)}
    off = [name for name, rate in zip(wanted, rates) if abs(rate - wanted[name]) > 1e-4]
    if off:
        return (f"{', '.join(off)} {'is' if len(off) == 1 else 'are'} off: measure with "
                "central_difference(function, point, 1e-5) at the points listed above.")
    return (f"✓ rates multiply: {rate_of_square:.4f} × ({rate_of_sin:.4f}) = "
            f"{rate_of_square * rate_of_sin:.4f}, and the whole function's rate is "
            f"{rate_of_both:.4f}.")


print(check_chain_rule())

# %% [markdown]
# ## Several inputs: partial derivatives and the gradient
#
# A neural network's loss depends on many numbers at once. Take a function of two inputs,
#
# $$f(x, y) = x^2 + y^2,$$
#
# a bowl whose lowest point is $(0, 0)$. A **partial derivative** asks the one-input question
# with the other inputs held still:
#
# * $\partial f / \partial x$: nudge only $x$. Here $y^2$ does not move, so it is $2x$.
# * $\partial f / \partial y$: nudge only $y$. Likewise $2y$.
#
# Listing the partials gives the **gradient**, written $\nabla f$. At the point $(1, 2)$:
#
# $$\nabla f(1, 2) = \langle 2 \cdot 1,\ 2 \cdot 2 \rangle = \langle 2, 4 \rangle.$$
#
# Read each partial aloud as a rate: "at $(1, 2)$, nudge $x$ a little (with $y$ frozen) and
# the height rises about 2 per unit of nudge; nudge $y$ and it rises about 4 per unit."
# <!-- claim {"says": "the height rises about 2 per unit of nudge", "holds": "approx((bowl(1 + 1e-6, 2) - bowl(1, 2)) / 1e-6, 2, rel=1e-5) and approx((bowl(1, 2 + 1e-6) - bowl(1, 2)) / 1e-6, 4, rel=1e-5)"} -->
#
# The gradient is an arrow in the input plane. It points in the direction in which $f$
# climbs **fastest**, and its length says how steep that climb is. In the contour plot below
# each ring joins points of equal height, and the arrows (the gradient at each point) stand
# at right angles to the rings, pointing outward and uphill, longer where the bowl is steeper.

# %%
def bowl(x, y):
    return x**2 + y**2


def bowl_gradient(x, y):
    """Exact gradient of x**2 + y**2: <2x, 2y>."""
    return [2 * x, 2 * y]


grid = [i / 4 for i in range(-12, 13)]
fig, ax = plt.subplots(figsize=(5, 5))
ax.contour(grid, grid, [[bowl(x, y) for x in grid] for y in grid], levels=10, cmap="viridis")
arrow_points = [i / 2 for i in range(-5, 6)]
ax.quiver([x for y in arrow_points for x in arrow_points], [y for y in arrow_points for x in arrow_points],
          [bowl_gradient(x, y)[0] for y in arrow_points for x in arrow_points],
          [bowl_gradient(x, y)[1] for y in arrow_points for x in arrow_points], color="grey", alpha=0.6)
ax.quiver([1], [2], [2], [4], color="tab:red", angles="xy", scale_units="xy", scale=4,
          label="∇f(1, 2) = <2, 4> (drawn at 1/4 length)")
ax.plot([1], [2], "o", color="tab:red")
ax.set_aspect("equal")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="lower left", fontsize=8)
plt.show()

# %% [markdown]
# ## Exercise 2: the numerical gradient
#
# Write `numerical_gradient(f, point, h=1e-6)`. `f` takes as many numbers as `point` has
# coordinates and is called as `f(*point)`; the answer is the list of partial derivatives, one
# per coordinate. For each coordinate, nudge **that one** by $\pm h$ (leave the others alone) and
# take the central difference. Do not change the caller's `point` (it may be a tuple).

# %% nbgrader={"grade": false, "grade_id": "ex01_gradient_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def numerical_gradient(f, point, h=1e-6):
    """The list [df/dx_0, df/dx_1, ...] at `point`, one central difference per
    coordinate: move only that coordinate, by h each way, and leave the others."""
    ### BEGIN SOLUTION
    partials = []
    for i in range(len(point)):
        up = list(point)
        down = list(point)
        up[i] += h
        down[i] -= h
        partials.append((f(*up) - f(*down)) / (2 * h))
    return partials
    ### END SOLUTION


# %% [markdown]
# Test it:

# %% nbgrader={"grade": true, "grade_id": "ex01_gradient", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex01_gradient", numerical_gradient=numerical_gradient)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex01_gradient", numerical_gradient=numerical_gradient)
### END HIDDEN TESTS

# %% [markdown]
# Check it yourself (and `hint("ex01_gradient")` if you need a push):

# %%
check("ex01_gradient", numerical_gradient=numerical_gradient)

# %% [markdown]
# ## Downhill: gradient descent
#
# The gradient points uphill, so **minus** the gradient points downhill. That is the whole idea
# of training a network: the loss is a function of the weights; compute its gradient; move every
# weight a small step against it; repeat. One step, with a **learning rate** `lr`:
#
# $$\text{point} \leftarrow \text{point} - \text{lr} \cdot \nabla f(\text{point}).$$
#
# On our bowl from $(1, 2)$ with `lr = 0.1`: the gradient is $\langle 2, 4 \rangle$, so the new
# point is $(1 - 0.2,\ 2 - 0.4) = (0.8, 1.6)$, and $f$ falls from 5 to 3.2.
# <!-- claim {"says": "$f$ falls from 5 to 3.2", "holds": "bowl(1, 2) == 5 and approx(bowl(0.8, 1.6), 3.2)"} -->
#
# ## Exercise 3: gradient descent
#
# Write `gradient_descent(grad, start, lr, steps)`. `grad(*point)` returns the gradient as a
# list. Return the whole path: a list of `steps + 1` points (each a list), `start` first, then
# the point after each step. Build new lists rather than changing `start`.

# %% nbgrader={"grade": false, "grade_id": "ex01_descent_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gradient_descent(grad, start, lr, steps):
    """The list of points visited: `start`, then one more point per step, each a small
    move (of size set by `lr`) from the one before, against the gradient there."""
    ### BEGIN SOLUTION
    path = [list(start)]
    for _ in range(steps):
        point = path[-1]
        slope = grad(*point)
        path.append([p - lr * g for p, g in zip(point, slope)])
    return path
    ### END SOLUTION


# %% [markdown]
# Test it:

# %% nbgrader={"grade": true, "grade_id": "ex01_descent", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex01_descent", gradient_descent=gradient_descent)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex01_descent", gradient_descent=gradient_descent)
### END HIDDEN TESTS

# %% [markdown]
# Check it yourself (`hint("ex01_descent")` for hints):

# %%
check("ex01_descent", gradient_descent=gradient_descent)

# %% [markdown]
# ## Watching the loss fall
#
# Now run 25 steps from $(1, 2)$ and plot the loss $f$ after each step, and the path on the
# contour map. On this bowl one step multiplies the point by $1 - 2\,\text{lr}$ (the gradient
# is twice the point), and that factor tells you what each learning rate does. Try them:
#
# * `0.02` (factor 0.96) crawls: after 25 steps the loss is still above 0.5;
# * `0.1` (factor 0.8) glides in: the loss is below 0.001 after 25 steps;
# * `0.75` (factor −0.5) zig-zags: every step jumps past the bottom to the other side, and
#   still gets closer;
# * `1.0` (factor −1) bounces between $(1, 2)$ and $(-1, -2)$ forever, the loss stuck at 5;
# * above `1.0` each step overshoots by more than it gains and the loss *grows*.
# <!-- claim {"says": "one step multiplies the point by $1 - 2\\,\\text{lr}$", "holds": "all(approx(q, (1 - 2 * rate) * p0) for rate in (0.02, 0.3, 0.75, 1.2) for p0, q in zip([1.0, 2.0], gradient_descent(bowl_gradient, [1.0, 2.0], rate, 1)[1]))"} -->
# <!-- claim {"says": "after 25 steps the loss is still above 0.5", "holds": "bowl(*gradient_descent(bowl_gradient, [1.0, 2.0], 0.02, 25)[-1]) > 0.5"} -->
# <!-- claim {"says": "the loss is below 0.001 after 25 steps", "holds": "bowl(*gradient_descent(bowl_gradient, [1.0, 2.0], 0.1, 25)[-1]) < 0.001"} -->
# <!-- claim {"says": "`0.75` (factor −0.5) zig-zags", "holds": "alternates([p[0] for p in gradient_descent(bowl_gradient, [1.0, 2.0], 0.75, 25)]) and falls([bowl(*p) for p in gradient_descent(bowl_gradient, [1.0, 2.0], 0.75, 25)])"} -->
# <!-- claim {"says": "the loss stuck at 5", "holds": "all(bowl(*p) == 5 for p in gradient_descent(bowl_gradient, [1.0, 2.0], 1.0, 25)) and gradient_descent(bowl_gradient, [1.0, 2.0], 1.0, 1)[1] == [-1.0, -2.0]"} -->
# <!-- claim {"says": "above `1.0` each step overshoots by more than it gains and the loss *grows*", "holds": "all(grows([bowl(*p) for p in gradient_descent(bowl_gradient, [1.0, 2.0], rate, 25)]) for rate in (1.05, 1.5))"} -->

# %%
lr = 0.1
try:
    path = gradient_descent(bowl_gradient, [1.0, 2.0], lr=lr, steps=25)
except NotImplementedError:
    path = None
    print("Finish gradient_descent above first.")
if path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot([bowl(*p) for p in path], "o-")
    left.set_xlabel("step")
    left.set_ylabel("loss f(x, y)")
    left.set_title(f"loss with lr = {lr}")
    right.contour(grid, grid, [[bowl(x, y) for x in grid] for y in grid], levels=10, cmap="viridis")
    right.plot([p[0] for p in path], [p[1] for p in path], "o-", color="tab:red", markersize=3)
    right.set_aspect("equal")
    right.set_title("the path, heading for (0, 0)")
    plt.show()

# %% [markdown]
# ## Summary
#
# * The **derivative** $f'(x)$ is the rate at which $f$'s output moves per unit nudge of its
#   input: the limit of secant slopes $(f(x+h) - f(x))/h$ as $h \to 0$. For $x^2$ it is $2x$:
#   the secant from 3 to 4 has slope 7, the tangent at 3 has slope 6.
# * The **forward difference** has error $O(h)$; the **central difference**
#   $(f(x+h) - f(x-h))/(2h)$ has error $O(h^2)$. Too small an $h$ drowns in rounding error.
# * The **chain rule**: through a composition, rates multiply. For $(3x+1)^2$ at $x = 1$ the
#   inner rate 3 times the outer rate 8 (taken at $u = 4$, where the inner function lands)
#   gives 24.
# * A **partial derivative** nudges one input and holds the others still; the **gradient**
#   lists them all. For $x^2 + y^2$ at $(1, 2)$ it is $\langle 2, 4 \rangle$, the direction of
#   steepest ascent.
# * **Gradient descent** steps against the gradient, scaled by a learning rate, and the loss
#   falls (if the rate is not too big).
# * Finite differences need one or two extra evaluations of $f$ *per input*. Next we start
#   building the machinery that gets every derivative in one backward sweep.
#
# ## Retrieval questions
#
# Answer in your head (or on paper) before opening each answer.
#
# 1. What is the slope of $f(x) = x^2$ from $x = 3$ to $x = 4$, and what is $f'(3)$? Why do they
#    differ?
#    <details><summary>Answer</summary>7 and 6. The secant averages the slope over [3, 4], where
#    the curve keeps getting steeper; the difference quotient is exactly 2x + h = 6 + 1.</details>
# 2. You shrink $h$ from 0.01 to 0.001. Roughly how much smaller does the error of a forward and
#    of a central difference get?
#    <details><summary>Answer</summary>Forward: about 10 times (error ∝ h). Central: about 100
#    times (error ∝ h²), until rounding error takes over.</details>
# 3. Why does $h = 10^{-15}$ give a worse estimate than $h = 10^{-5}$?
#    <details><summary>Answer</summary>f(x+h) and f(x) agree in almost all of their ~16 stored
#    digits, so their difference is mostly rounding noise, and dividing by a tiny h magnifies
#    it.</details>
# 4. You know the rate of $h$ at $x_0$ and the rate of $g$ everywhere. What is the rate of
#    $g(h(x))$ at $x_0$?
#    <details><summary>Answer</summary>The rate of g taken at h(x0), the point h lands on, times
#    the rate of h at x0: rates multiply (the chain rule). For g(u) = u² and h(x) = 3x + 1 at
#    x0 = 1: 2·4 × 3 = 24.</details>
# 5. What is the gradient of $x^2 + y^2$ at $(1, 2)$, and what does its direction tell you?
#    <details><summary>Answer</summary>⟨2, 4⟩. It points in the direction in which the function
#    increases fastest (straight away from the bottom of the bowl); its length, √20, is the
#    steepness in that direction.</details>
# 6. In gradient descent, why do we subtract the gradient, and what goes wrong with a learning
#    rate that is too large?
#    <details><summary>Answer</summary>The gradient points uphill and we want the loss to go
#    down. Too large a rate overshoots the minimum; on the bowl each step multiplies the point
#    by 1 − 2·lr: between 0.5 and 1 it zig-zags in, at 1 it bounces forever, and for lr > 1
#    the point (and the loss) grows.</details>
#
# ## Flashcards
#
# Flip through these now and again tomorrow; they print one card per page.

# %%
Flashcards("01_derivatives", [
    ("What does the derivative f'(x) measure?",
     "How fast f's output changes per unit change of x at that point: the limit of "
     "(f(x+h) - f(x)) / h as h -> 0."),
    ("Slope of x**2 from x=3 to x=4, and the derivative at 3?", "7 (= (16 - 9) / 1), and 6 (= 2x)."),
    ("Forward vs central difference: formulas and error order?",
     "(f(x+h) - f(x)) / h, error O(h); (f(x+h) - f(x-h)) / (2h), error O(h²)."),
    ("The chain rule in three words, and where the outer rate is taken?",
     "Rates multiply: d/dx g(h(x)) = g'(h(x)) * h'(x), with g's rate taken at h(x), where the "
     "inner function lands."),
    ("What is a partial derivative?", "The derivative with respect to one input while every "
     "other input is held fixed."),
    ("Gradient of x² + y² at (1, 2)?", "<2, 4>: the direction of steepest ascent."),
    ("One step of gradient descent?", "point <- point - lr * gradient(point)."),
])

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
# # 04 · Backward: every gradient in one sweep
#
# In notebook 03 each operation learned its own small piece of the chain rule:
# `node._backward()` takes the gradient that has arrived at `node` and passes a
# share of it to each input. In this notebook you connect those pieces into one
# procedure, **backpropagation**, that fills in the gradient of the output with
# respect to *every* number in the graph, in a single sweep from the output back
# to the inputs.
#
# **Learning objectives.** By the end you can
#
# 1. carry out a backward pass by hand on a small expression, one local derivative at a time;
# 2. say why the output's gradient is seeded with 1 and why gradients must *accumulate* (`+=`);
# 3. predict how the output moves when the inputs move a little, from the gradients alone;
# 4. use gradients to walk downhill (gradient descent);
# 5. write `topological_order(root)` without recursion, and explain Python's recursion limit;
# 6. write `backward(root)`, and know why grads must be zeroed between passes;
# 7. referee `backward` with a gradient check against central differences.
#
# **Prerequisites.** Notebooks 01 (derivatives as slopes, the chain rule) and
# 03 (operations on `Value` and their `_backward` steps). Python: functions,
# dictionaries, lists, sets, `for` loops.
# <!-- claim {"says": "derivatives as slopes", "taught": ["01_derivatives", "a slope between two points"]} -->
# <!-- claim {"says": "the chain rule", "taught": ["01_derivatives", "the chain rule"]} -->
# <!-- claim {"says": "operations on `Value` and their `_backward` steps", "taught": ["03_operations", "the `_backward` closure"]} -->
#
# **Estimated time.** 75-90 minutes.
#
# **What we import.** We import `Value` from `microgradlab`: it is the class you
# built in notebook 03 (same attributes `data`, `grad`, `_prev`, `_op`, and the
# same `_backward()` step on every result), so if you got stuck there you can
# still do all of this one. Its own built-in `backward()` is exactly what you
# write here, so we never call it in this notebook: you will write your own.
#
# **Working on your own?** You have everything you need here. Every exercise ends
# with a `check(...)` cell that tests your answer on fresh numbers and says what
# is wrong, and `hint(...)` gives a stronger hint each time you call it. In
# section 8 a stepper lets you click through the backward pass one node at a
# time and see each local derivative.

# %% [markdown]
# The set-up cell: it imports the `Value` class, the checking tools (`verify`,
# `check`, `hint`), the drawing and stepping widgets, and matplotlib for plots.
# Run it first.

# %% nbgrader={"grade": false, "grade_id": "ex04_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math
import sys

import matplotlib.pyplot as plt

from microgradlab import Value
from microgradlab.checking import check, hint, verify, visible
from microgradlab.widgets import BackwardStepper, Flashcards, draw_dot

# %% [markdown]
# ## 1. The picture we are working with
#
# Here is the expression we will take apart all notebook long:
#
# $$L = (a \cdot b + c) \cdot f \qquad\text{with } a = 3,\; b = -2,\; c = 4,\; f = 5.$$
#
# We give every intermediate result a name, because backpropagation talks about
# each one: $e = a \cdot b$, then $d = e + c$, then $L = d \cdot f$.
# The labels only make the drawing readable; they do not change any number.

# %%
a = Value(3.0, label="a")
b = Value(-2.0, label="b")
c = Value(4.0, label="c")
f = Value(5.0, label="f")
e = a * b
e.label = "e"
d = e + c
d.label = "d"
L = d * f
L.label = "L"
print(f"e = {e.data}, d = {d.data}, L = {L.data}")
draw_dot(L)

# %% [markdown]
# <!-- claim {"says": "Every `grad` in the drawing is still 0", "cell": "above", "prints": [-6, -2, -10], "holds": "all(v.grad == 0 for v in (a, b, c, f, e, d, L))"} -->
# Every `grad` in the drawing is still 0: nothing has been computed backwards
# yet. The question for the rest of the notebook is:
# **if I nudge one of these numbers, how much does `L` move?** That rate is
# `dL/d(node)`, and it is what `node.grad` will hold.

# %% [markdown]
# ## 2. The backward pass by hand
#
# Work from the output towards the inputs. At each step you need only two things:
# the gradient that has already arrived at a node, and that node's **local
# derivative** (how its own output moves when one of its inputs moves).
# The chain rule multiplies them:
#
# $$\frac{\partial L}{\partial \text{input}} = \frac{\partial L}{\partial \text{node}} \cdot \frac{\partial\, \text{node}}{\partial\, \text{input}}.$$
#
# 1. **Seed.** $\dfrac{\partial L}{\partial L} = 1$: if you nudge $L$ itself by a
#    tiny amount, $L$ moves by exactly that amount. Every backward pass starts here.
# 2. **$L = d \cdot f$.** The local derivative of a product with respect to one
#    factor is *the other factor*: $\dfrac{\partial L}{\partial d} = f = 5$ and
#    $\dfrac{\partial L}{\partial f} = d = -2$.
# 3. **$d = e + c$.** A sum passes its gradient through unchanged (local
#    derivative 1): $\dfrac{\partial L}{\partial e} = \dfrac{\partial L}{\partial d}\cdot 1 = 5$,
#    and $\dfrac{\partial L}{\partial c} = 5$.
# 4. **$e = a \cdot b$.** The other factor again, times what arrived:
#    $\dfrac{\partial L}{\partial a} = \dfrac{\partial L}{\partial e}\cdot b = 5 \cdot (-2) = -10$ and
#    $\dfrac{\partial L}{\partial b} = \dfrac{\partial L}{\partial e}\cdot a = 5 \cdot 3 = 15$.
#
# | node | value | local derivative used | gradient $\partial L/\partial$ node |
# |---|---|---|---|
# | L | -10 | (seed) | 1 |
# | d | -2 | $\partial L/\partial d = f$ | 5 |
# | f | 5 | $\partial L/\partial f = d$ | -2 |
# | e | -6 | $\partial d/\partial e = 1$ | 5 |
# | c | 4 | $\partial d/\partial c = 1$ | 5 |
# | a | 3 | $\partial e/\partial a = b$ | -10 |
# | b | -2 | $\partial e/\partial b = a$ | 15 |
#
# Notice the order: we could only work out $a$'s gradient after $e$'s was known,
# and $e$'s only after $d$'s. That order is the whole subject of section 6.
# <!-- claim {"says": "| a | 3 | $\\partial e/\\partial a = b$ | -10 |", "holds": "engine_grads(lambda a, b, c, f: (a * b + c) * f, a=3.0, b=-2.0, c=4.0, f=5.0) == {'a': -10.0, 'b': 15.0, 'c': 5.0, 'f': -2.0}"} -->
#
# **Read a gradient aloud, as a rate.** $\partial L/\partial a = -10$ says: "nudge $a$ up a
# hair and $L$ moves *down*, ten times as far." Try it: raise $a$ from 3 to 3.001 and $L$
# should fall by about 0.01; raise $b$ by 0.001 and $L$ should rise by about 0.015.
#
# You just ran, on four numbers, the procedure PyTorch runs on models with billions of
# parameters.
# <!-- claim {"says": "$L$\nshould fall by about 0.01", "prints": [-10, -10.01, -0.01, -10, -9.985, 0.015], "tol": 1e-9} -->

# %%
def L_of(a, b, c, f):
    return (a * b + c) * f


base = L_of(3.0, -2.0, 4.0, 5.0)
nudged_a = L_of(3.001, -2.0, 4.0, 5.0)
nudged_b = L_of(3.0, -1.999, 4.0, 5.0)
print(f"L = {base}, with a = 3.001: L = {nudged_a:.6f}, change {nudged_a - base:+.6f}")
print(f"L = {base}, with b = -1.999: L = {nudged_b:.6f}, change {nudged_b - base:+.6f}")

# %% [markdown]
# ### Exercise `ex04_by_hand`: the chain rule, written as code
#
# Write `by_hand(a, b, c, f)` for plain numbers (floats, not Values). It computes
# the forward values `e`, `d`, `L` and then every gradient, **as expressions of
# `a`, `b`, `c`, `f`** following the steps above, so that it is right for any
# four numbers, not only 3, -2, 4, 5. (The hidden tests use fresh numbers, so a
# dictionary typed in from the table would fail.)
#
# Use one line per step, each gradient built from the one before it: for example
# `dL_da` should be written using `dL_de`, because that is what the chain rule says.

# %% nbgrader={"grade": false, "grade_id": "ex04_by_hand_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def by_hand(a, b, c, f):
    """Forward and backward pass of L = (a*b + c) * f, computed by hand.

    First the forward values e, d, L; then, starting from the output and moving
    towards the inputs, each gradient as (the gradient that arrived) times (the
    local derivative of that step), in the order of section 2's table.
    """
    ### BEGIN SOLUTION
    e = a * b
    d = e + c
    L = d * f
    dL_dL = 1.0  # the seed
    dL_dd = dL_dL * f  # L = d*f: the local derivative for d is the other factor, f
    dL_df = dL_dL * d
    dL_de = dL_dd * 1.0  # d = e + c: a sum passes the gradient through
    dL_dc = dL_dd * 1.0
    dL_da = dL_de * b  # e = a*b: the other factor again
    dL_db = dL_de * a
    ### END SOLUTION
    return {
        "e": e, "d": d, "L": L,
        "dL_dd": dL_dd, "dL_df": dL_df,
        "dL_de": dL_de, "dL_dc": dL_dc,
        "dL_da": dL_da, "dL_db": dL_db,
    }


# %% [markdown]
# Run the graded cell. It checks the table's numbers and one more set of inputs with the same
# comparison as the hidden tests, and names the entry that is off.

# %% nbgrader={"grade": true, "grade_id": "ex04_by_hand", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex04_by_hand", by_hand=by_hand)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex04_by_hand", by_hand=by_hand)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer on fresh numbers (and ask for a hint with
# `hint("ex04_by_hand")`, one more tier each time you call it):

# %%
check("ex04_by_hand", by_hand=by_hand)

# %% [markdown]
# ## 3. Why gradients add up
#
# So far every value was used exactly once. What if a value is used twice?
# Take the smallest example there is: `y = w1 + w1`. Nudge `w1` by a tiny
# amount $h$ and `y` moves by $2h$, because `w1` appears twice. So
# $\dfrac{\partial y}{\partial w_1} = 2$.
#
# Now look at what the `+` node does in backward: it hands `y.grad` (which is 1)
# to its first input, and then hands `y.grad` to its second input. Both inputs
# are `w1`. If the step wrote `w1.grad = y.grad`, the second hand-over would
# *overwrite* the first and we would get 1, which is wrong. Writing
# `w1.grad += y.grad` gives 1 + 1 = 2, which is right. That is why every
# `_backward` step in notebook 03 used `+=`: **a value that feeds several places
# collects a share from each of them** (this is the multivariable chain rule:
# the total effect is the sum of the effects along every path). As one formula, over every
# node $u$ that uses $v$:
#
# $$\frac{\partial L}{\partial v} = \sum_{u \text{ uses } v} \frac{\partial L}{\partial u}
# \cdot \frac{\partial u}{\partial v}.$$
#
# A second example, with a product in it: `c = a*b + b` with
# $a = 2$, $b = 3$. Here `b` reaches `c` along two paths:
#
# * through the product $a \cdot b$: share $\;a = 2$;
# * directly through the sum: share $\;1$.
#
# Total: $\dfrac{\partial c}{\partial b} = 2 + 1 = 3$. And $\dfrac{\partial c}{\partial a} = b = 3$.
# Check it with a finite difference (notebook 01), using plain numbers:
# <!-- claim {"says": "Total: $\\dfrac{\\partial c}{\\partial b} = 2 + 1 = 3$", "prints": [3.0, 3.0], "tol": 1e-9} -->

# %%
def c_of(a, b):
    return a * b + b


h = 1e-6
print("dc/da ~", round((c_of(2 + h, 3) - c_of(2, 3)) / h, 4))
print("dc/db ~", round((c_of(2, 3 + h) - c_of(2, 3)) / h, 4))

# %% [markdown]
# ## 4. What gradients predict: the perturbation experiment
#
# A gradient is a promise about small moves: to first order,
#
# $$\Delta c \approx \frac{\partial c}{\partial a}\,\Delta a + \frac{\partial c}{\partial b}\,\Delta b.$$
#
# With $a = 2$, $b = 3$ we have $c = 9$ and both gradients equal 3. Move to
# $a = 2.0001$ and $b = 3.01$. The gradients predict
# $9 + 3 \cdot 0.0001 + 3 \cdot 0.01 = 9.0303$. The truth is
# $2.0001 \cdot 3.01 + 3.01 = 9.030301$. The tiny leftover, $0.000001$, is
# exactly $\Delta a \cdot \Delta b$: the second-order term that a first-order
# prediction leaves out. Smaller moves make it smaller still, much faster than the moves themselves.
#
# The gradients themselves belong to the point where they were taken. At the new point they
# are $\partial c/\partial a = b = 3.01$ and $\partial c/\partial b = a + 1 = 3.0001$: close
# to 3 and 3, because the point barely moved.
# <!-- claim {"says": "The gradients predict $9 + 3 \\cdot 0.0001 + 3 \\cdot 0.01 = 9.0303$", "prints": [9.0303, 9.030301, 0.000001, 0.000001], "tol": 1e-12} -->
# <!-- claim {"says": "$\\partial c/\\partial b = a + 1 = 3.0001$", "prints": [3.01, 3.0001], "tol": 1e-12} -->

# %%
a0, b0 = 2.0, 3.0
da, db = 0.0001, 0.01
grad_a, grad_b = b0, a0 + 1  # dc/da = b, dc/db = a + 1 (two paths)
predicted = c_of(a0, b0) + grad_a * da + grad_b * db
truth = c_of(a0 + da, b0 + db)
print(f"predicted from the gradients: {predicted:.6f}")
print(f"true value of c            : {truth:.6f}")
print(f"difference                 : {truth - predicted:.6f}   (da * db = {da * db:.6f})")
print(f"gradients at the new point : dc/da = {b0 + db:.4f}, dc/db = {a0 + da + 1:.4f}")

# %% [markdown]
# ## 5. Gradients tell us which way is downhill
#
# The gradient points in the direction in which a function *increases* fastest.
# So to make a loss smaller, take a small step the **other** way:
# $w \leftarrow w - \text{rate}\cdot \dfrac{\partial\,\text{loss}}{\partial w}$. This is
# gradient descent, and it is how neural networks learn (notebook 06).
#
# Our loss is $\tfrac12\big((w_1 - 1)^2 + (w_2 - 5)^2\big)$, smallest (zero) at
# $(1, 5)$. Its gradient is $(w_1 - 1,\; w_2 - 5)$. At the start, $(2, 3)$, that is
# $(2 - 1,\; 3 - 5) = (1, -2)$: the loss grows if $w_1$ grows (so we make $w_1$ smaller)
# and shrinks if $w_2$ grows (so we make $w_2$ larger), and twice as fast in $w_2$. With
# rate 0.5 the first step goes to $(2 - 0.5 \cdot 1,\; 3 - 0.5 \cdot (-2)) = (1.5, 4)$.
# Start at $(2, 3)$ with rate 0.5:
# each step removes half of the remaining distance, so the loss shrinks to a quarter
# each time: 2.5, 0.625, 0.15625, ...
# <!-- claim {"says": "each time: 2.5, 0.625, 0.15625", "prints": [0, 2, 3, 2.5, 1, 1.5, 4, 0.625, 2, 1.25, 4.5, 0.15625]} -->
# <!-- claim {"says": "shrinks to a quarter", "holds": "all(approx(later[2], earlier[2] / 4) for earlier, later in zip(history, history[1:]))"} -->
# <!-- claim {"says": "that is\n$(2 - 1,\\; 3 - 5) = (1, -2)$", "holds": "loss_gradient(2.0, 3.0) == (1.0, -2.0) and engine_grads(lambda w1, w2: ((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5, w1=2.0, w2=3.0) == {'w1': 1.0, 'w2': -2.0}"} -->
# <!-- claim {"says": "= (1.5, 4)$", "holds": "history[1][:2] == (1.5, 4.0)"} -->

# %%
def loss(w1, w2):
    return ((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5


def loss_gradient(w1, w2):
    return (w1 - 1, w2 - 5)


rate = 0.5
w1, w2 = 2.0, 3.0
history = [(w1, w2, loss(w1, w2))]
for step in range(10):
    g1, g2 = loss_gradient(w1, w2)
    w1, w2 = w1 - rate * g1, w2 - rate * g2
    history.append((w1, w2, loss(w1, w2)))

print(f"{'step':>4} {'w1':>8} {'w2':>8} {'loss':>12}")
for step, (hw1, hw2, hloss) in enumerate(history):
    print(f"{step:>4} {hw1:8.4f} {hw2:8.4f} {hloss:12.6g}")

# %% [markdown]
# After ten steps we are at (1.0010, 4.9980). On the left, the loss per step
# <!-- claim {"says": "After ten steps we are at (1.0010, 4.9980)", "cell": "above", "prints": [10, 1.0010, 4.9980], "tol": 1e-12} -->
# (on a log scale, a steady straight line means "a constant factor each step");
# on the right, the path the weights took towards the minimum.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
left.semilogy(range(len(history)), [hl for _, _, hl in history], "o-")
left.set_xlabel("step")
left.set_ylabel("loss (log scale)")
left.set_title("loss falls by 4x each step")
right.plot([hw1 for hw1, _, _ in history], [hw2 for _, hw2, _ in history], "o-")
right.plot([1], [5], "r*", markersize=14, label="minimum (1, 5)")
right.set_xlabel("w1")
right.set_ylabel("w2")
right.set_title("path of (w1, w2)")
right.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 6. In which order? Topological order
#
# By hand, you never worked on a node until every node *using* it was done,
# because only then has its gradient collected all its shares. For a computer
# we turn that around: list the nodes so that **each node comes after all of
# its inputs** (a *topological order*), then walk that list **backwards**. Walking
# backwards, a node is reached only after every node that uses it has already
# pushed its share into it.
#
# For $L = (a\cdot b + c)\cdot f$ one topological order is
# `a, b, e, c, d, f, L`; backwards: `L, f, d, c, e, b, a`.
# <!-- claim {"says": "`a, b, e, c, d, f, L`", "shows": ["['a', 'b', 'e', 'c', 'd', 'f', 'L']"]} -->
#
# ### The recursive idea, and where it breaks
#
# The shortest way to build the order: "to place a node, first place each of its
# inputs (if not placed already), then place the node". Written as a recursive
# function it is six lines long:

# %%
def topological_order_recursive(root):
    order, visited = [], set()

    def place(node):
        if node not in visited:
            visited.add(node)
            for child in node._prev:
                place(child)
            order.append(node)

    place(root)
    return order


print([node.label for node in topological_order_recursive(L)])

# %% [markdown]
# Here is that recursion traced by hand on the small graph `c = a*b + b` from section 3
# (call the product `ab`). Read it top to bottom: each *visit* first visits the node's
# inputs, and a node is *placed* only when all of its inputs are.
#
# | step | what happens | `order` so far |
# |---|---|---|
# | visit `c` | not visited: mark it; its inputs are `ab`, `b` | |
# | visit `ab` | not visited: mark it; its inputs are `a`, `b` | |
# | visit `a` | a leaf: place it | `a` |
# | visit `b` (from `ab`) | a leaf: place it | `a, b` |
# | back in `ab` | all inputs placed: place `ab` | `a, b, ab` |
# | visit `b` (from `c`) | already visited: skip | `a, b, ab` |
# | back in `c` | all inputs placed: place `c` | `a, b, ab, c` |
#
# Inputs always come before the nodes made from them, so the backward pass walks this list
# from the end: `c, ab, b, a`. The cell below prints the same trace.
# <!-- claim {"says": "| back in `c` | all inputs placed: place `c` | `a, b, ab, c` |", "shows": ["visit c", "visit ab", "visit a", "place a", "visit b", "place b", "place ab", "visit b: already visited, skip", "place c", "order: ['a', 'b', 'ab', 'c']"]} -->

# %%
def traced_order(root):
    order, visited = [], set()

    def place(node):
        if node in visited:
            print(f"visit {node.label}: already visited, skip")
            return
        print(f"visit {node.label}")
        visited.add(node)
        for child in node._prev:
            place(child)
        order.append(node)
        print(f"place {node.label}")

    place(root)
    return order


ta, tb = Value(2.0, label="a"), Value(3.0, label="b")
tab = ta * tb
tab.label = "ab"
tc = tab + tb
tc.label = "c"
print("order:", [node.label for node in traced_order(tc)])

# %% [markdown]
# Every call of `place` that has not yet returned keeps a *frame* on Python's call
# stack. Python caps the number of frames (`sys.getrecursionlimit()`, usually
# 1000) to protect itself from running out of memory when a function recurses
# forever. A chain of 2,000 operations (a loop that runs 2,000 times, or a
# small network unrolled over many steps) needs 2,000 nested calls, and the
# recursive version gives up:
# <!-- claim {"says": "usually 1000", "shows": ["recursion limit: 1000", "RecursionError"]} -->

# %%
print("recursion limit:", sys.getrecursionlimit())
chain = Value(1.0)
for _ in range(2000):
    chain = chain * 1.0001
try:
    topological_order_recursive(chain)
    print("the recursive order worked on the 2,000-deep chain")
except RecursionError as error:
    print("RecursionError:", error)

# %% [markdown]
# ### Exercise `ex04_topological_order`: the same order, with your own stack
#
# Replace Python's call stack with a list that you manage yourself. One way that
# works: keep a list `stack` of pairs `(node, inputs_done)`.
#
# * Start with `[(root, False)]`.
# * Pop a pair. If `inputs_done` is True, all of the node's inputs are already
#   placed: append the node to `order`.
# * Otherwise, if the node was already visited, skip it. If not, mark it visited,
#   push `(node, True)` back (it will come off again *after* its inputs), and
#   then push `(child, False)` for every input.
#
# Write `topological_order(root)`: it returns a list containing every node that
# `root` depends on (leaves too, and `root` itself, last), each exactly once and
# each after all of its inputs. It must work on a 2,000-deep chain.

# %% nbgrader={"grade": false, "grade_id": "ex04_topological_order_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def topological_order(root):
    """Every node root depends on, each after all of its inputs (root last).

    Iterative depth-first search: a pair (node, True) on the stack means
    "all inputs of node have been placed, place node now".
    """
    ### BEGIN SOLUTION
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if node in visited:  # reached again along another path: already handled
            continue
        visited.add(node)
        stack.append((node, True))  # comes off again only after its inputs
        for child in node._prev:
            if child not in visited:
                stack.append((child, False))
    return order
    ### END SOLUTION


# %% [markdown]
# The graded cell checks the three promises on the graphs shown here (every node once, each
# after its inputs, and a 2,000-deep chain without a recursion limit), with the same comparison
# as the hidden tests; the message names the node that is out of place.

# %% nbgrader={"grade": true, "grade_id": "ex04_topological_order", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex04_topological_order", topological_order=topological_order)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex04_topological_order", topological_order=topological_order)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer (and `hint("ex04_topological_order")` if you are stuck):

# %%
check("ex04_topological_order", topological_order=topological_order)

# %% [markdown]
# ## 7. The backward pass
#
# Now everything is in place. Backpropagation is three lines of idea:
#
# 1. build the topological order of the graph;
# 2. **seed** the output: `root.grad = 1.0` (dL/dL = 1; without it every gradient is 0 times something);
# 3. walk the order **backwards** and call `node._backward()` on each node, so each
#    node pushes its (by then complete) gradient into its inputs.
#
# The two records a Value keeps divide the work: `_prev` tells the backward pass **where to
# go** (which nodes come before this one), and `_backward` tells it **what to compute** there
# (this operation's local derivatives times the gradient that arrived).
#
# ### Exercise `ex04_backward`
#
# Write `backward(root)` using your `topological_order`. It returns nothing: it
# fills in the `grad` of every node.

# %% nbgrader={"grade": false, "grade_id": "ex04_backward_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def backward(root):
    """Fill in node.grad = d(root)/d(node) for every node root depends on."""
    ### BEGIN SOLUTION
    order = topological_order(root)
    root.grad = 1.0  # the seed: d(root)/d(root) = 1
    for node in reversed(order):  # every user of a node is done before the node itself
        node._backward()
    ### END SOLUTION


# %% [markdown]
# The graded cell rebuilds the graphs from this notebook with fresh `grad`s and checks your
# gradients with the same comparison as the hidden tests; the message names the node whose
# `grad` is off.

# %% nbgrader={"grade": true, "grade_id": "ex04_backward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex04_backward", backward=backward)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex04_backward", backward=backward)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer (and `hint("ex04_backward")` if you are stuck):

# %%
check("ex04_backward", backward=backward)

# %% [markdown]
# ## 8. Watch it happen
#
# Run your `backward` on the graph from section 1 and draw it: every `grad` in
# the picture should match the table from section 2. In the spreadsheet picture of notebook
# 02, this is the sheet asked in reverse: for every cell, how much would `L` move if that cell
# were nudged?
# <!-- claim {"says": "every `grad` in\nthe picture should match the table from section 2", "shows": ["{'L': 1.0, 'd': 5.0, 'f': -2.0, 'e': 5.0, 'c': 5.0, 'a': -10.0, 'b': 15.0}"]} -->

# %%
try:
    backward(L)
    print({node.label: node.grad for node in (L, d, f, e, c, a, b)})
except NotImplementedError:
    print("finish the exercises above first, then run this cell again")
draw_dot(L)

# %% [markdown]
# The stepper below walks through the same backward pass one node at a time.
# At each step it shows the node whose `_backward()` runs, its local derivative,
# and the gradients it pushes into its inputs. Click **Next** and, before each
# click, predict what will change. (It replays the pass on a record of the
# numbers, so stepping back and forth leaves your `grad`s as they are.)

# %%
BackwardStepper(L)

# %% [markdown]
# ## Backpropagation is not symbolic
#
# A computer algebra system (or you, with pen and paper, in a calculus course) works
# **symbolically**: it manipulates *formulas*. Given $L = (a b + c) f$ it would produce the
# formula $\partial L / \partial a = b f$, an expression with letters in it, that you could then
# evaluate at any numbers. Backpropagation never builds a formula. It works with the *numbers*
# of one particular evaluation: each node's local derivative is a number (the other factor's
# `data`, or 1), and the gradient that arrives is a number, so every `grad` is a number,
# valid at this point only. Change an input and you run forward and backward again. That is
# why it is cheap: the work is a fixed small multiple of the forward pass, however large the
# formula for the derivative would have been written out. And that is why it scales to
# networks with millions of parameters, where writing out a formula for every derivative by
# hand would be hopeless.
#
# ## 9. Zero the grads between passes
#
# Your `backward` *adds* into `grad` (it has to, section 3). So calling it a second
# time on the same graph adds on top of the first pass. Worse, the interior
# nodes still hold their old gradients, so they push *more* than their share:
# the second pass does not even double the answer cleanly. Watch, with
# `c = a*b + b` (correct answer: 3 and 3): after two passes you get 9 and 8, not even the
# 6 and 6 that doubling would give.
# <!-- claim {"says": "after two passes you get 9 and 8", "prints": [3, 3, 9, 8]} -->

# %%
try:
    a2, b2 = Value(2.0, label="a"), Value(3.0, label="b")
    c2 = a2 * b2 + b2
    backward(c2)
    print("after one pass  :", a2.grad, b2.grad)
    backward(c2)
    print("after two passes:", a2.grad, b2.grad, " <- stale gradients added on")
except NotImplementedError:
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# The cure is to set every `grad` back to 0 before each new pass. Training
# (notebook 06) does this at every step; PyTorch calls it `zero_grad()`.
# <!-- claim {"says": "set every `grad` back to 0", "prints": [3, 3]} -->

# %%
def zero_grad(root):
    for node in topological_order(root):
        node.grad = 0.0


try:
    zero_grad(c2)
    backward(c2)
    print("zeroed, then one pass:", a2.grad, b2.grad)
except (NotImplementedError, NameError):
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# ## 10. A referee: the gradient check
#
# Notebook 01 promised that finite differences would be used to test the exact derivatives
# backpropagation computes. Here is that test. It is called a **gradient check**, and every
# autograd library runs one on each new operation (PyTorch's is `torch.autograd.gradcheck`).
# The idea: there are two independent routes to the same numbers.
#
# * **backward**: build the graph once from `Value`s, run `backward` once, and read every
#   input's `grad`;
# * **central differences**: treat the output as a plain function of the input numbers, and
#   nudge **one** input at a time by $\pm h$, the others staying put:
#   $\dfrac{f(\dots, x_i + h, \dots) - f(\dots, x_i - h, \dots)}{2h}$.
#
# The two share no code: one is the chain rule, run backwards through the `_backward`
# closures; the other only ever runs the graph forwards. When they agree to many digits, both
# are very likely right. The central difference is the one to use (its error shrinks like
# $h^2$, the forward difference's only like $h$), and `h = 1e-5` is a good step: far bigger
# and the difference measures the slope of a chord, far smaller and rounding takes over
# (both seen in notebook 01).
#
# Here is `central_difference` again, as you wrote it in notebook 01:

# %%
def central_difference(f, x, h):
    """The slope of f at x from the points x - h and x + h."""
    return (f(x + h) - f(x - h)) / (2 * h)

# %% [markdown]
# ### Exercise `ex04_gradient_check`
#
# Write `gradient_check(build, xs, h=1e-5)`. `build` takes one `Value` per input and returns
# the output `Value` (for example `lambda a, b: a * b + b`); `xs` is the list of input numbers.
# Return a list with one pair per input, in order:
# `(the input's grad after one backward pass, its central difference)`.
#
# * use your `backward` once, on a graph built from fresh `Value`s of `xs`;
# * for input `i`, hand `central_difference` a function of one number `t` that builds the
#   graph with `t` in place of `xs[i]` (the other inputs as they are) and returns its `.data`;
# * leave the list `xs` itself unchanged (nudge a copy).

# %% nbgrader={"grade": false, "grade_id": "ex04_gradient_check_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def gradient_check(build, xs, h=1e-5):
    """[(d out/d x_i by backward, d out/d x_i by a central difference), ...], one per input."""
    ### BEGIN SOLUTION
    leaves = [Value(x) for x in xs]
    backward(build(*leaves))  # one pass from fresh Values: no stale grads

    def output_with(i):
        def f(t):
            nudged = list(xs)  # a copy: the caller's xs stays as it was
            nudged[i] = t
            return build(*[Value(x) for x in nudged]).data
        return f

    return [(leaves[i].grad, central_difference(output_with(i), xs[i], h))
            for i in range(len(xs))]
    ### END SOLUTION


# %% [markdown]
# The graded cell checks the loss `(a*b + c)**2 / f` of section 1's numbers and `a*b + b` (an
# input used twice) with the same comparison as the hidden tests, which add random graphs and
# other steps `h`. Both numbers of each pair are compared with PyTorch's: its gradient, and
# its own central difference.

# %% nbgrader={"grade": true, "grade_id": "ex04_gradient_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex04_gradient_check", gradient_check=gradient_check)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex04_gradient_check", gradient_check=gradient_check)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer (and `hint("ex04_gradient_check")` if you are stuck):

# %%
check("ex04_gradient_check", gradient_check=gradient_check)

# %% [markdown]
# Now referee the loss of section 1. The **relative difference**
# $|g_{\text{backward}} - g_{\text{numeric}}| / \max(|g_{\text{backward}}|, |g_{\text{numeric}}|)$
# says how many digits agree: here it stays below $10^{-8}$ for every input, about what
# `h = 1e-5` can resolve. A wrong `_backward` shows up as a difference near 1, not $10^{-8}$.
# <!-- claim {"says": "it stays below $10^{-8}$ for every input", "holds": "worst_relative < 1e-8"} -->

# %%
def relative_difference(g1, g2):
    scale = max(abs(g1), abs(g2))
    return 0.0 if scale == 0 else abs(g1 - g2) / scale


try:
    pairs = gradient_check(lambda a, b, c, f: (a * b + c) * f, [3.0, -2.0, 4.0, 5.0])
    for name, (by_backward, by_difference) in zip("abcf", pairs):
        print(f"dL/d{name}: backward {by_backward: .6f}   central difference {by_difference: .6f}"
              f"   relative difference {relative_difference(by_backward, by_difference):.1e}")
    worst_relative = max(relative_difference(g1, g2) for g1, g2 in pairs)
except NotImplementedError:
    worst_relative = 0.0
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# ## 11. The descent of section 5, on your engine
#
# Section 5 walked downhill with a gradient worked out on paper. Now let the engine find it.
# One training step is always the same four moves, in this order:
#
# 1. **forward**: compute the loss from `Value`s, which builds a fresh graph;
# 2. **zero** the gradients: only the leaves `w1`, `w2` outlive a step (every other node is
#    new), so they are the ones to reset;
# 3. **backward**: your `backward(loss)` seeds 1 and fills in every gradient;
# 4. **update**: move each weight against its gradient, `w.data -= rate * w.grad`.
#
# At the start the engine reports $\partial\,\text{loss}/\partial w_1 = 1$ and
# $\partial\,\text{loss}/\partial w_2 = -2$, the numbers of section 5 (and the ones PyTorch
# prints for the same loss), and ten steps later the weights are where section 5 left them.
# <!-- claim {"says": "At the start the engine reports", "prints": [1.0, -2.0, 0, 2.5, 1, 0.625, 2, 0.1562, 3, 0.0391, 4, 0.0098, 5, 0.0024, 6, 0.0006, 7, 0.0002, 8, 0.0, 9, 0.0, 1.0010, 4.9980], "tol": 1e-9} -->
# <!-- claim {"says": "the numbers of section 5", "holds": "approx([w1.data, w2.data], list(history[-1][:2]))"} -->
# <!-- claim {"says": "and the ones PyTorch prints for the same loss", "holds": "torch_grads(lambda w1, w2: ((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5, w1=2.0, w2=3.0) == {'w1': 1.0, 'w2': -2.0}"} -->
#
# The drawing after the loop is the graph of this loss at the weights the loop ended on (one
# more forward and backward pass, without an update): every operation of
# `((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5` is a node, with its data and the gradient the
# backward pass left in it.

# %%
try:
    w1, w2 = Value(2.0, label="w1"), Value(3.0, label="w2")
    rate = 0.5
    for step in range(10):
        loss_value = ((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5  # 1. forward: a new graph
        for w in (w1, w2):  # 2. zero
            w.grad = 0.0
        backward(loss_value)  # 3. backward (yours)
        if step == 0:
            print(f"gradient at the start: dloss/dw1 = {w1.grad}, dloss/dw2 = {w2.grad}")
            print(f"{'step':>4} {'loss':>8}")
        print(f"{step:>4} {loss_value.data:8.4f}")
        for w in (w1, w2):  # 4. update
            w.data -= rate * w.grad
    print(f"after 10 steps: w1 = {w1.data:.4f}, w2 = {w2.data:.4f}")
    loss_value = ((w1 - 1) ** 2 + (w2 - 5) ** 2) * 0.5  # the loss where the weights are now
    for w in (w1, w2):
        w.grad = 0.0
    backward(loss_value)
    loss_value.label = "loss"
    display(draw_dot(loss_value))
except NotImplementedError:
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# ## 12. Check it against micrograd itself (optional)
#
# Andrej Karpathy's **micrograd** ([github.com/karpathy/micrograd](https://github.com/karpathy/micrograd),
# MIT licence) is the engine this course follows: about 150 lines of Python, 94 for the
# engine and 60 for a small neural-network library. Its `Value` keeps the same `data`, `grad`,
# `_prev`, `_op` and `_backward` as yours (its `_prev` is a set, and it has no `label`), and
# its `backward()` is your section 7. To see your by-hand table come out of the real thing,
# run `pip install micrograd` in a terminal, then this in a new cell:
#
# ```python
# from micrograd.engine import Value as MicrogradValue
#
# a, b, c, f = (MicrogradValue(x) for x in (3.0, -2.0, 4.0, 5.0))
# L = (a * b + c) * f
# L.backward()
# print(a.grad, b.grad, c.grad, f.grad)   # -10.0 15.0 5.0 -2.0, as in the table of section 2
# ```
#
# `draw_dot(L)` from this course draws micrograd's values too, with data and grad in every
# box; the repository's `trace_graph.ipynb` has micrograd's own drawing function.

# %% [markdown]
# ## Summary
#
# * `node.grad` holds d(output)/d(node). Backpropagation fills in all of them in one
#   sweep, from the output back to the leaves.
# * Each step multiplies the gradient that arrived by a **local derivative** (chain rule).
# * The output is **seeded** with 1, because d(output)/d(output) = 1.
# * A value used in several places **accumulates** a share from each: `+=`, never `=`.
# * Gradients predict small changes to first order, and their negative points downhill:
#   gradient descent.
# * The nodes are visited in **reverse topological order**, built with an explicit stack so
#   that deep graphs do not hit Python's recursion limit.
# * Gradients must be **zeroed** before a second backward pass.
# * A **gradient check** referees backward: each input's grad against a central difference
#   that nudges that input alone; they should agree to many digits.
# * A training step is forward, zero, backward, update; on the loss of section 5 your engine
#   reproduces the by-paper descent step for step.
#
# ## Retrieval questions
#
# Try to answer each one from memory before you open it.
#
# 1. Why does a backward pass start with `root.grad = 1.0`?
#
# <details><summary>Answer</summary>Because d(root)/d(root) = 1: nudging the output by h moves it by h.
# Every other gradient is this seed multiplied by local derivatives; a seed of 0 would make them all 0.</details>
#
# 2. In `y = w1 + w1`, what is `w1.grad`, and which single character in a `_backward` step decides whether you get it right?
#
# <details><summary>Answer</summary>2. The `+` node hands its gradient to both inputs, which are the
# same Value; with `+=` both shares are kept (1 + 1), with `=` the second overwrites the first (1).</details>
#
# 3. Why must the nodes be processed in *reverse* topological order?
#
# <details><summary>Answer</summary>A node may only push its gradient on once it is complete, that is,
# once every node that uses it has pushed its share into it. Those users come later in a topological
# order, so walking it backwards handles them first.</details>
#
# 4. With c = a*b + b at a = 2, b = 3, what does a first-order prediction give for a = 2.0001, b = 3.01, and why is it not exactly the truth?
#
# <details><summary>Answer</summary>9 + 3*0.0001 + 3*0.01 = 9.0303. The truth is 9.030301; the
# difference 0.000001 is the second-order term da*db that the gradients leave out.</details>
#
# 5. Why does a recursive topological sort fail on a 2,000-deep chain, and what fixes it?
#
# <details><summary>Answer</summary>Each unfinished recursive call keeps a frame on Python's call stack,
# and Python stops at its recursion limit (usually 1000) with RecursionError. Keeping the pending work in
# your own list (an explicit stack) has no such limit.</details>
#
# 6. What goes wrong if you call `backward` twice without zeroing the grads?
#
# <details><summary>Answer</summary>Leaves get the second pass added on top of the first, and interior
# nodes still hold their old gradients, so they push too much: the numbers are wrong, not just doubled.</details>
#
# ## Flashcards
#
# Print them (one card per page) or flip through them here.

# %%
Flashcards("04_backward", [
    ("What does node.grad hold after backward?", "d(output)/d(node): how fast the output moves when this node is nudged."),
    ("What is the seed of a backward pass?", "root.grad = 1.0, because d(root)/d(root) = 1."),
    ("Local derivative of a*b with respect to a?", "b, the other factor."),
    ("Local derivative of a + b with respect to a?", "1: a sum passes its gradient through unchanged."),
    ("Why += and not = in a _backward step?", "A value used in several places must collect a share from each use."),
    ("In what order does backward visit the nodes?", "Reverse topological order: every user of a node before the node itself."),
    ("Why an explicit stack for the topological sort?", "Recursion stops at Python's recursion limit (about 1000 frames); a list does not."),
    ("What must happen between two backward passes?", "Set every grad back to 0 (zero_grad)."),
    ("State the backpropagation recipe.",
     "Seed the output's grad with 1. Visit the nodes in reverse topological order. At each node, "
     "add (its grad times the local derivative) into each input's grad, summing where a node "
     "feeds several places. Then every node holds d(output)/d(itself)."),
    ("Autograd in one sentence?",
     "Record every operation of the forward pass in a graph, then walk it back from the output, "
     "multiplying each arriving gradient by a local derivative, to get d(output)/d(every input)."),
    ("Is backpropagation symbolic differentiation?",
     "No: it never builds a formula for the derivative. It computes numbers, the gradients at "
     "this one evaluation; new inputs mean a new forward and backward pass."),
])

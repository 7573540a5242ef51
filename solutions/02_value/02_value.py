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
# # 02 · The Value object: a number that remembers
#
# **Learning objectives.** By the end of this notebook you can
#
# 1. explain why automatic differentiation needs to *remember* how a number was computed;
# 2. write a `Value` class that stores a number together with its inputs (`_prev`) and the
#    operation that produced it (`_op`);
# 3. make `+` and `*` on Values build a *computation graph* instead of just a result;
# 4. draw that graph and read it from the inputs to the output.
#
# **Prerequisites.** Notebook 01 (what a derivative is, slopes by finite differences, and the
# chain rule: rates multiply) and Python classes: `__init__`, attributes, and what `self` is.
# We will also use *dunder methods* (`__add__`, `__mul__`, `__repr__`); this notebook explains
# the part you need.
# <!-- claim {"says": "slopes by finite differences", "taught": ["01_derivatives", "forward and central differences"]} -->
# <!-- claim {"says": "the chain rule: rates multiply", "taught": ["01_derivatives", "the chain rule"]} -->
#
# **Estimated time:** 30-40 minutes.
#
# **Where this is going.** An *autograd engine* computes the derivative of a result with
# respect to every number it was computed from, automatically. The one this course follows,
# Andrej Karpathy's micrograd, is about 150 lines of Python (its engine 94, its small
# neural-network library 60) and rests on three ideas, one notebook each:
#
# 1. wrap every number in a `Value` that records how it was computed, so that a calculation
#    leaves behind its **computation graph** (this notebook);
# 2. give every operation a **local derivative**, known in advance (notebook 03);
# 3. **backpropagate**: walk the chain rule backwards through the graph until every value
#    holds its gradient (notebook 04).
#
# **What we import and why.** Nothing from microgradlab's engine: here you build `Value`
# yourself, from an empty class. We import `draw_dot` from `microgradlab.widgets` to draw the
# graphs you build, and `verify`, `check` and `hint` from `microgradlab.checking`, which test
# your class against PyTorch and give you hints when you are stuck.

# %% [markdown]
# Run the set-up cell first (Shift+Enter). It only imports tools; it does not define `Value`.

# %% nbgrader={"grade": false, "grade_id": "setup_02", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math

from microgradlab.checking import check, hint, verify, visible
from microgradlab.widgets import Flashcards, draw_dot

# %% [markdown]
# ## Why a plain number is not enough
#
# In notebook 01 you estimated derivatives by nudging an input and watching the output move.
# That costs one extra evaluation of the whole function *per input*. A neural network has
# thousands of inputs we want derivatives for (its weights), so nudging them one by one is far
# too slow.
#
# Backpropagation gets *every* derivative in one backward sweep, but it needs something that
# plain Python numbers throw away: **how each number was made**. Look at this:

# %%
a = 2.0
b = -3.0
c = 10.0
e = a * b
d = e + c
print(d)

# %% [markdown]
# <!-- claim {"says": "Python prints `4.0`", "cell": "above", "prints": [4.0]} -->
# Python prints `4.0`, and that is all `d` knows. It has forgotten that it came from `e + c`,
# and `e` has forgotten that it came from `a * b`. To answer "how much does `d` change if I nudge
# `a`?" without re-running anything, we need that history:
#
# * `d` was made by **adding** `e` and `c`, so a nudge in `e` passes straight through to `d`;
# * `e` was made by **multiplying** `a` and `b`, so a nudge in `a` is scaled by `b` on its way
#   to `e`.
#
# Chain those two facts (rates multiply: the chain rule of notebook 01) and you have
# `∂d/∂a = 1 · b = -3`. Every number in the chain had to remember its **inputs** and its
# **operation**. A number that remembers both is what we will
# call a `Value`, and the web of Values linked to their inputs is the **computation graph**.
#
# **A spreadsheet does the same.** Put 2 in cell A1, -3 in B1 and 10 in C1, and type
# `=A1*B1` into E1 and `=E1+C1` into D1. D1 shows 4, but unlike Python's `d` it also keeps
# its *formula*: it knows it is E1 plus C1, and E1 knows it is A1 times B1. Change A1 and
# every cell that depends on it updates, because the sheet remembers which cell was made from
# which. A `Value` is such a cell: `data` is the number it shows, `_prev` the cells its formula
# refers to, `_op` the operation in the formula. Running the formulas from the inputs to the
# output, as the sheet does, is the **forward pass**.
#
# The **backward pass** (notebook 04) asks the sheet the opposite question. Start at the
# output cell D1 and ask, for every cell it depends on: "if I nudged this cell a hair, how much
# would D1 move?" That sensitivity is passed backwards through the same formulas, one formula
# at a time, from D1 to E1 and C1, and from E1 to A1 and B1.
#
# PyTorch is such a sheet with billions of cells and formulas you never see. The engine you
# build here is a sheet of a handful of cells in which you can read every formula. The
# mechanics are the same.

# %% [markdown]
# ## Building it step by step
#
# A `Value` holds five things:
#
# | attribute | what it is | for `e = a * b` |
# |---|---|---|
# | `data` | the number itself | `-6.0` |
# | `grad` | ∂(final output)/∂(this value); unknown yet, so it starts at `0.0`, and only the backward pass fills it in | `0.0` |
# | `_prev` | the Values this one was computed from, in order | `(a, b)` |
# | `_op` | the operation that produced it, as a short string | `'*'` |
# | `label` | an optional name, only for printing and drawing | `'e'` |
#
# `data`, `_prev`, `_op` and `label` are set when the Value is made, during the forward pass;
# `grad` is the one filled in later, by the backward pass.
#
# A Value you create directly, such as `a = Value(2.0)`, is a **leaf**: it was not computed from
# anything, so its `_prev` is the empty tuple `()` and its `_op` is the empty string `''`.
#
# The leading underscore in `_prev` and `_op` is a Python convention for "internal: the engine
# uses this, users usually do not". The names themselves are the ones micrograd and this course
# use everywhere, so please keep them exactly.

# %% [markdown]
# ### Step 1: operators are method calls
#
# When Python sees `x + y` it calls `x.__add__(y)`, and for `x * y` it calls `x.__mul__(y)`.
# Whatever those methods *return* becomes the result. So if `__add__` returns a new `Value` that
# lists `x` and `y` as its inputs, every `+` quietly records a piece of the graph.
#
# Here is the idea on a throw-away class that announces each call, so you can watch
# Python route `+` to `__add__`:
# <!-- claim {"says": "watch\nPython route `+` to `__add__`", "shows": ["Python called x.__add__(y)", "the result is named (x+y)"]} -->

# %%
class Talker:
    def __init__(self, name):
        self.name = name

    def __add__(self, other):
        print(f"Python called {self.name}.__add__({other.name})")
        return Talker(f"({self.name}+{other.name})")


result = Talker("x") + Talker("y")
print("the result is named", result.name)

# %% [markdown]
# ### Step 2: `__repr__` makes Values readable
#
# When a notebook shows an object, it calls its `__repr__` method. Without one, you get
# something like `<__main__.Value object at 0x7f...>`, which tells you nothing. A good
# `__repr__` shows the data, e.g. `Value(data=-6.0, grad=0.0)`.
#
# ### Step 3: keep the inputs in a tuple, in order
#
# Store the inputs as a **tuple** `(self, other)`, not a set. Order matters later: for `a - b`
# (notebook 03) the two inputs get *different* derivatives (`+1` and `-1`), so we must know
# which input came first. A tuple also cannot be changed by accident after the node is built.
#
# ### Step 4: never change the inputs
#
# `a + b` must build a *new* Value and leave `a` and `b` exactly as they were: the graph is a
# record of what happened, and the inputs are still needed with their original numbers.

# %% [markdown]
# ## Exercise ex02_value: write the `Value` class
#
# Fill in the four methods below.
#
# * `__init__(self, data, _children=(), _op='', label='')` stores `data`, sets `grad` to `0.0`,
#   stores the children as a tuple in `_prev` (`tuple(_children)` turns any sequence into one),
#   and stores `_op` and `label`.
# * `__repr__(self)` returns a string such as `Value(data=-6.0, grad=0.0)`.
# * `__add__(self, other)` returns a **new** `Value` whose data is the sum, whose children are
#   `(self, other)` and whose `_op` is `'+'`.
# * `__mul__(self, other)` does the same for the product, with `_op` `'*'`.
#
# For now both operands are Values; plain numbers (`a + 1`) come in notebook 03. There is no
# backward pass yet either: `grad` just sits at `0.0`.

# %% nbgrader={"grade": false, "grade_id": "ex02_value_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Value:
    """A number that remembers how it was computed."""

    def __init__(self, data, _children=(), _op="", label=""):
        ### BEGIN SOLUTION
        self.data = data
        self.grad = 0.0  # d(output)/d(self): unknown until the backward pass (notebook 04)
        self._prev = tuple(_children)  # the inputs, in operand order
        self._op = _op
        self.label = label
        ### END SOLUTION

    def __repr__(self):
        ### BEGIN SOLUTION
        return f"Value(data={self.data}, grad={self.grad})"
        ### END SOLUTION

    def __add__(self, other):
        ### BEGIN SOLUTION
        return Value(self.data + other.data, (self, other), "+")
        ### END SOLUTION

    def __mul__(self, other):
        ### BEGIN SOLUTION
        return Value(self.data * other.data, (self, other), "*")
        ### END SOLUTION


# %% [markdown]
# The graded cell below builds the two graphs shown in this notebook (`d = a*b + c` and
# `a + a`) with your class and checks them with the same comparison as the hidden tests: the
# data, the children and their order, and the operation. If one is off, the message names the
# node and the attribute (for example `e._prev`).

# %% nbgrader={"grade": true, "grade_id": "ex02_value", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
# Decided for this notebook: `_prev` is a tuple (or a list) of the inputs in operand
# order; a set is not enough here (it loses the order and the second `a` of `a + a`).
visible("ex02_value", Value=Value)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex02_value", Value=Value)
### END HIDDEN TESTS

# %% [markdown]
# Stuck, or working on your own without a grader? This cell checks your class on fresh random
# cases against PyTorch and prints what it finds (it prints "not attempted" until you have
# filled in the class). Run `hint("ex02_value")` for a nudge; each call gives the next hint.

# %%
check("ex02_value", Value=Value)

# %% [markdown]
# ## Look at the graph you built
#
# Now build the example from the top of the notebook with your own class, and give every Value
# a label so the drawing can name it:
#
# `a = 2`, `b = -3`, `c = 10`, `e = a * b`, `d = e + c`.
#
# `draw_dot(d)` walks backwards from `d` through `_prev` and draws every Value it reaches as a
# box (label, data, grad), with a small circle for the operation that made it. Read it left to
# right: leaves on the left, the output on the right. (If your class is not finished yet, this
# cell prints a reminder instead of failing.)

# %%
try:
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
except NotImplementedError:
    d = None
    print("Finish the Value class in the exercise above first, then run this cell again.")

if d is not None:
    print(d)
    display(draw_dot(d))

# %% [markdown]
# Things to notice in the drawing:
#
# * `a`, `b` and `c` have no operation circle in front of them: they are leaves.
# * `e` hangs off a `*` circle fed by `a` and `b`; `d` hangs off a `+` circle fed by `e` and `c`.
# * every `grad` is `0.0`. Filling those in is the backward pass, in notebook 04. Its answer
#   for `a` will be `-3.0`, the value of `b`, for exactly the reason we argued at the top.
# <!-- claim {"says": "every `grad` is `0.0`", "cell": "above", "holds": "all(v.grad == 0.0 for v in (a, b, c, e, d))"} -->
# <!-- claim {"says": "Its answer\nfor `a` will be `-3.0`", "holds": "engine_grads(lambda a, b, c: a * b + c, a=2.0, b=-3.0, c=10.0)['a'] == -3.0"} -->
#
# Try it: add a line `L = d * Value(-2.0, label="f")` to the cell above, draw `L`, and find the
# new node in the picture.

# %% [markdown]
# ## The graph is built as the code runs
#
# Nobody declared the graph above in advance: each `*` and `+` added its node at the moment
# Python ran it. So a graph records **what actually ran**, and ordinary Python decides what
# that is: a loop adds one node per turn, and an `if` adds the nodes of the branch it took
# and none of the other. PyTorch works the same way (a *dynamic* graph, built anew on every
# run), which is why models can use plain `if`s and loops.
#
# The function below multiplies `x` into a running product once per turn of a loop, and
# doubles the result (`out + out`) only if it came out negative. Same code, different numbers,
# different graphs:
# <!-- claim {"says": "a loop adds one node per turn", "prints": [2, 2, 8, 2, -2, 2, -16, 3, 2, 4, 32, 4]} -->
# <!-- claim {"says": "doubles the result (`out + out`) only if it came out negative", "shows": ["-16.0", "['*', '*', '+']"]} -->

# %%
def grown(x_number, turns):
    """x multiplied into itself once per turn; doubled when the product is negative."""
    x = Value(x_number, label="x")
    out = x
    for _ in range(turns):  # a loop: one '*' node per turn
        out = out * x
    if out.data < 0:  # an if: this '+' node exists only on this branch
        out = out + out
    return out


def operations(root):
    """The operations in the graph behind root, from the leaves to the output."""
    ops, node = [], root
    while node._op:
        ops.append(node._op)
        node = node._prev[0]
    return list(reversed(ops))


try:
    for x_number, turns in [(2.0, 2), (-2.0, 2), (2.0, 4)]:
        out = grown(x_number, turns)
        print(f"x = {x_number:4}, {turns} turns: out = {out.data:6}, "
              f"{len(operations(out))} operations {operations(out)}")
except NotImplementedError:
    print("Finish the Value class in the exercise above first, then run this cell again.")

# %% [markdown]
# ## What about `a + 1`?
#
# Your `__add__` reads `other.data`. A plain number such as `1` has no `.data`, so `a + 1`
# fails. And `1 + a` fails differently: Python first asks the int `1` to add a `Value`, the int
# says it does not know how, and Python then looks for a method named `__radd__` on `Value`,
# which does not exist yet. The cell below shows both errors without stopping the notebook.
# <!-- claim {"says": "so `a + 1`\nfails", "shows": ["a + 1  -> AttributeError", "1 + a  -> TypeError"]} -->

# %%
try:
    a = Value(2.0, label="a")
except NotImplementedError:
    print("Finish the Value class in the exercise above first, then run this cell again.")
else:
    for text, attempt in [("a + 1", lambda: a + 1), ("1 + a", lambda: 1 + a)]:
        try:
            result = attempt()
        except (AttributeError, TypeError) as error:
            print(f"{text:6} -> {type(error).__name__}: {error}")
        else:
            print(f"{text:6} -> {result}   (your class already handles plain numbers: ahead of the game!)")

# %% [markdown]
# Notebook 03 fixes both: it wraps plain numbers in a `Value` and adds the *reflected* methods
# such as `__radd__`. It also gives every operation its **local derivative**, the rule the
# backward pass will use.

# %% [markdown]
# ## Summary
#
# * Backpropagation needs to know how every number was made, so we wrap numbers in `Value`
#   objects that remember their inputs (`_prev`, a tuple in operand order) and their operation
#   (`_op`).
# * Python turns `x + y` into `x.__add__(y)` and `x * y` into `x.__mul__(y)`; by returning a new
#   `Value` from those methods, ordinary arithmetic builds the computation graph for us.
# * Operations never modify their inputs; leaves have `_prev == ()` and `_op == ''`.
# * `grad` starts at `0.0`: the backward pass (notebook 04) fills it in.
# * The graph is built as the code runs, so it records exactly what ran: loops and `if`s in
#   ordinary Python just work.
# * `draw_dot` draws the graph: leaves on the left, the output on the right.
#
# ## Retrieval questions
#
# Answer from memory first, then open the answer.
#
# 1. Why can a plain Python float not be used for backpropagation?
#
# <details><summary>Answer</summary>A float keeps only its number. Backpropagation needs to know
# which inputs and which operation produced each number, to apply the chain rule backwards
# through them.</details>
#
# 2. What does Python actually call when it evaluates `x * y`?
#
# <details><summary>Answer</summary><code>x.__mul__(y)</code>, and whatever that method returns
# is the value of the expression.</details>
#
# 3. Why is `_prev` a tuple and not a set?
#
# <details><summary>Answer</summary>A tuple keeps the order of the inputs (for <code>a - b</code>
# the two inputs have different derivatives) and can list the same Value twice, as in
# <code>a + a</code>; a set would lose both.</details>
#
# 4. For `e = a * b` with `a = Value(2.0)` and `b = Value(-3.0)`, what are `e.data`, `e._prev`,
# `e._op` and `e.grad`?
#
# <details><summary>Answer</summary><code>-6.0</code>, <code>(a, b)</code>, <code>'*'</code> and
# <code>0.0</code> (no backward pass has run yet).</details>
#
# 5. What are `_prev` and `_op` for a leaf such as `Value(10.0)`?
#
# <details><summary>Answer</summary>The empty tuple <code>()</code> and the empty string
# <code>''</code>: it was not computed from anything.</details>
#
# 6. Why does `a + 1` fail with this notebook's class?
#
# <details><summary>Answer</summary><code>__add__</code> reads <code>other.data</code>, and the
# int <code>1</code> has no <code>data</code> attribute (AttributeError). Notebook 03 wraps plain
# numbers in a Value first.</details>
#
# ## Flashcards
#
# Run the cell to flip through the cards; use the print button to get one card per page.

# %%
Flashcards("02_value", [
    ("What five attributes does a Value have?",
     "data (the number), grad (starts at 0.0), _prev (input Values, a tuple), _op (operation string), label (a name for drawing)"),
    ("What is the computation graph?",
     "The Values of a calculation linked to the Values they were computed from, ending in the output."),
    ("Which method does Python call for x + y?", "x.__add__(y); for x * y it is x.__mul__(y)."),
    ("What do _prev and _op look like on a leaf?", "_prev == () and _op == ''"),
    ("Why must + and * return a NEW Value?",
     "The graph is a record of the computation; the inputs must keep their numbers for the backward pass."),
    ("What is grad before any backward pass?", "0.0"),
    ("What is the forward pass?",
     "Computing every Value from its inputs, from the leaves to the output, as a spreadsheet "
     "recomputes its cells; each result remembers its inputs (_prev) and operation (_op)."),
    ("How is a Value like a spreadsheet cell?",
     "It shows a number (data) and keeps its formula: which cells it was made from (_prev) "
     "and how (_op). The backward pass asks the sheet in reverse: how much would the output "
     "cell move if this cell were nudged?"),
    ("When is the computation graph built?",
     "As the code runs: every operation adds its node when Python executes it, so loops and "
     "ifs simply record what actually ran."),
])

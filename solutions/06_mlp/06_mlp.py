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
# # 06 · The MLP: a network that learns
#
# One neuron can only draw a straight line through its inputs. Put many
# neurons side by side and you get a **layer**; stack layers and you get a
# **multi-layer perceptron** (MLP), which can bend its decision around curved
# data. In this notebook you build the network out of `Value`s, give it a loss
# that says how wrong it is, and write the **training loop** that makes the
# loss go down: forward, zero the gradients, backward, update. Then you watch
# it learn to separate two interleaving moons.
#
# **Learning objectives.** By the end you can
#
# 1. build `Neuron`, `Layer` and `MLP` classes and count their parameters;
# 2. list a network's parameters in a fixed order and explain why the order matters;
# 3. write the sum-of-squared-errors loss and say what its gradient pushes the network to do;
# 4. write the four steps of a training loop and say what each one is for;
# 5. explain, with a loss curve, what goes wrong when the gradients are not zeroed;
# 6. build the same network in PyTorch and check that both give the same gradients;
# 7. train it on the same task in PyTorch (`nn.Sequential`, `torch.optim.SGD`, `zero_grad`,
#    `backward`, `step`) and name the PyTorch piece for each piece you wrote.
#
# **Prerequisites.** Notebooks 04 (backward: the seed, the reverse topological
# order, `+=`) and 05 (tanh and one neuron). Python: classes with `__init__`
# and `__call__`, list comprehensions.
# <!-- claim {"says": "Notebooks 04 (backward: the seed, the reverse topological order, `+=`)", "taught": ["04_backward", "the backward pass"]} -->
# <!-- claim {"says": "05 (tanh and one neuron)", "taught": ["05_tanh_neuron", "one neuron"]} -->
#
# **Estimated time.** 90-105 minutes.
#
# **What we import.** We import `Value` from `microgradlab`: it is the class
# you built in notebooks 02 and 03, with the `backward()` you wrote in 04 and
# the `tanh` you added in 05. If you got stuck in any of those, you can still
# do all of this one. The network itself you write here, from scratch. The last
# section imports PyTorch, to train the same network the way a library does.
#
# **Working on your own?** Every exercise ends with a `check(...)` cell that
# tests your answer on fresh numbers and says what is wrong; `hint(...)` gives
# a stronger hint each time you call it.

# %% [markdown]
# The set-up cell: `Value`, the checking tools (`verify`, `check`, `hint`), the
# two-moons data, the training view and flashcard widgets, and plotting. Run it first.

# %% nbgrader={"grade": false, "grade_id": "ex06_setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math
import random

import matplotlib.pyplot as plt

from microgradlab import Value
from microgradlab.checking import check, hint, verify, visible
from microgradlab.data import make_moons
from microgradlab.widgets import Flashcards, TrainingView, draw_dot

# %% [markdown]
# ## 1. From one neuron to many
#
# A neuron with $n$ inputs owns $n$ weights and one bias, and computes
#
# $$\text{out} = \tanh\Big(\sum_{i=1}^{n} w_i x_i + b\Big).$$
#
# A **layer** is a row of neurons that all read the *same* inputs; a layer of
# `nout` neurons turns `nin` numbers into `nout` numbers. An **MLP** feeds each
# layer's outputs into the next layer as its inputs. `MLP(3, [4, 4, 1])` means:
# 3 inputs, a hidden layer of 4 neurons, another of 4, and 1 output neuron.
#
# ```
#  x1 ─┐   ○ ─┐   ○ ─┐
#  x2 ─┼─► ○ ─┼─► ○ ─┼─► ○  ─► prediction
#  x3 ─┘   ○ ─┘   ○ ─┘
#          ○      ○
#        hidden  hidden  output
# ```
#
# Two design choices to keep in mind:
#
# * **Hidden layers squash with tanh, the last layer does not.** tanh on the
#   hidden layers is what lets the network bend; without it, a stack of layers
#   collapses into one big weighted sum (a sum of sums is still a sum). The
#   output neuron is left *linear* (no tanh) so the network can produce any
#   number, not only numbers in $(-1, 1)$.
# * **Weights start random.** If every weight started at the same number, every
#   neuron in a layer would compute the same thing and receive the same
#   gradient, and they would stay identical forever. Random starting weights in
#   $[-1, 1]$ break that symmetry. Biases may start at 0.
#
# **Counting parameters.** A layer with `nin` inputs and `nout` neurons has
# `nout * (nin + 1)` parameters (each neuron: `nin` weights plus a bias). For
# `MLP(3, [4, 4, 1])`: $4\cdot4 + 4\cdot5 + 1\cdot5 = 16 + 20 + 5 = 41$.
# <!-- claim {"says": "$4\\cdot4 + 4\\cdot5 + 1\\cdot5 = 16 + 20 + 5 = 41$", "prints": [3, 4, 4, 1, 41, 2, 16, 16, 1, 337]} -->

# %%
def count_parameters(nin, nouts):
    sizes = [nin] + list(nouts)
    return sum(sizes[k + 1] * (sizes[k] + 1) for k in range(len(nouts)))


for shape in [(3, [4, 4, 1]), (2, [16, 16, 1]), (784, [128, 10])]:
    print(f"MLP{shape}: {count_parameters(*shape):,} parameters")

# %% [markdown]
# ### Parameters in a fixed order
#
# Training needs a list of every parameter, to zero their gradients and to
# nudge them. `parameters()` returns that list. Its **order** is part of the
# contract: layer by layer, inside a layer neuron by neuron, inside a neuron
# the weights first and then the bias. A fixed order is what lets us save a
# network's weights as a plain list of numbers and load them back, or copy
# them into a PyTorch network, and know which number goes where.
#
# You write the network in three steps, each checked before the next builds on it: a
# `Neuron`, a `Layer` of neurons, and the `MLP`.
#
# ### Exercise `ex06_neuron`: the Neuron class
#
# `Neuron(nin, nonlin=True)` is the `neuron` function of notebook 05 with its parameters
# kept inside:
#
# * `__init__` makes `nin` weights drawn with `random.uniform(-1, 1)` and a bias `Value(0.0)`;
# * calling it on a list `x` of `nin` inputs (numbers or `Value`s) returns the `Value`
#   $\sum_i w_i x_i + b$, squashed with `.tanh()` when `nonlin` is true and left as it is
#   otherwise;
# * `parameters()` returns the weights, then the bias.
#
# `Value.tanh()` is the stable tanh you wrote in notebook 05. A check that a neuron gets the
# right number of inputs is already written for you: a wrong-sized input is the most common
# bug when wiring layers together.

# %% nbgrader={"grade": false, "grade_id": "ex06_neuron_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Neuron:
    """out = tanh(w . x + b) when nonlin, else w . x + b."""

    def __init__(self, nin, nonlin=True):
        ### BEGIN SOLUTION
        # Random weights break the symmetry between neurons of the same layer.
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin
        ### END SOLUTION

    def __call__(self, x):
        if len(x) != len(self.parameters()) - 1:
            raise ValueError(
                f"this neuron takes {len(self.parameters()) - 1} inputs, got {len(x)}"
            )
        ### BEGIN SOLUTION
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin else act
        ### END SOLUTION

    def parameters(self):
        ### BEGIN SOLUTION
        return self.w + [self.b]
        ### END SOLUTION


# %% [markdown]
# The graded cell sets a new neuron's parameters to known numbers through `parameters()`
# (so the order counts), then compares its output and the gradients of its parameters after
# a backward pass, with and without tanh.

# %% nbgrader={"grade": true, "grade_id": "ex06_neuron", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex06_neuron", Neuron=Neuron)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex06_neuron", Neuron=Neuron)
### END HIDDEN TESTS

# %% [markdown]
# Check your class on fresh neurons (and `hint("ex06_neuron")` when you are stuck):

# %%
check("ex06_neuron", Neuron=Neuron)

# %% [markdown]
# ### Exercise `ex06_layer`: the Layer class
#
# `Layer(nin, nout, nonlin=True)` holds `nout` neurons, each a **new** `Neuron(nin, nonlin)`:
#
# * calling it on `x` calls every neuron on the same `x` and returns the list of their
#   outputs, or the single `Value` itself when the layer has one neuron (so a network with one
#   output returns one number, not a list of one);
# * `parameters()` returns the parameters of each neuron in turn.

# %% nbgrader={"grade": false, "grade_id": "ex06_layer_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Layer:
    """nout neurons that all read the same nin inputs."""

    def __init__(self, nin, nout, nonlin=True):
        ### BEGIN SOLUTION
        self.neurons = [Neuron(nin, nonlin) for _ in range(nout)]
        ### END SOLUTION

    def __call__(self, x):
        ### BEGIN SOLUTION
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs
        ### END SOLUTION

    def parameters(self):
        ### BEGIN SOLUTION
        return [p for n in self.neurons for p in n.parameters()]
        ### END SOLUTION


# %% [markdown]
# The graded cell sets the layer's parameters through `parameters()`, calls the layer, and
# backpropagates from `1 * out[0] + 2 * out[1] + ...`: a different factor for each neuron, so
# a gradient that lands on the wrong neuron shows.

# %% nbgrader={"grade": true, "grade_id": "ex06_layer", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex06_layer", Neuron=Neuron, Layer=Layer)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex06_layer", Neuron=Neuron, Layer=Layer)
### END HIDDEN TESTS

# %% [markdown]
# Check your class on fresh layers (and `hint("ex06_layer")` when you are stuck):

# %%
check("ex06_layer", Neuron=Neuron, Layer=Layer)

# %% [markdown]
# ### Exercise `ex06_mlp`: the MLP class
#
# `MLP(nin, nouts)` holds layers of sizes `nouts`, the first reading `nin` inputs; every
# layer uses tanh except the last, which is linear. Calling it feeds `x` through the layers
# in order. `parameters()` goes layer by layer.

# %% nbgrader={"grade": false, "grade_id": "ex06_mlp_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MLP:
    """Layers of sizes nouts after nin inputs; tanh on hidden layers, the last one linear."""

    def __init__(self, nin, nouts):
        ### BEGIN SOLUTION
        sizes = [nin] + list(nouts)
        self.layers = [
            Layer(sizes[k], sizes[k + 1], nonlin=(k < len(nouts) - 1))
            for k in range(len(nouts))
        ]
        ### END SOLUTION

    def __call__(self, x):
        ### BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x)
        return x
        ### END SOLUTION

    def parameters(self):
        ### BEGIN SOLUTION
        return [p for layer in self.layers for p in layer.parameters()]
        ### END SOLUTION


# %% [markdown]
# The graded cell checks the shown case, `MLP(2, [3, 1])` on two points, with the same
# comparison as the hidden tests: it sets the parameters to known numbers through
# `parameters()` (so the order counts), compares the outputs and the loss, and the gradients
# after a backward pass. The message names the output or parameter that is off.

# %% nbgrader={"grade": true, "grade_id": "ex06_mlp", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
# As the text says: new weights come from random.uniform(-1, 1), and a Layer of one neuron
# returns that neuron's Value itself (so MLP(..., [..., 1]) returns one Value, not a list).
visible("ex06_mlp", Neuron=Neuron, Layer=Layer, MLP=MLP)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex06_mlp", Neuron=Neuron, Layer=Layer, MLP=MLP)
### END HIDDEN TESTS

# %% [markdown]
# Check your classes on fresh networks (and `hint("ex06_mlp")` when you are stuck):

# %%
check("ex06_mlp", Neuron=Neuron, Layer=Layer, MLP=MLP)

# %% [markdown]
# Here is a small network of your own, drawn. Every weight and bias is a leaf
# (a node with no inputs); the output is at the right. Even a 2-2-1 network,
# called on one input, has a graph of a few dozen values: this is why we never
# draw the big ones.
# <!-- claim {"says": "has a graph of a few dozen values", "holds": "24 <= count_values(tiny_out) <= 48"} -->

# %%
random.seed(6)
try:
    tiny = MLP(2, [2, 1])
    tiny_out = tiny([1.0, -1.0])
    tiny_out.backward()
    display(draw_dot(tiny_out))
except NotImplementedError:
    print("finish the exercise ex06_mlp above first, then run this cell again")

# %% [markdown]
# ## 2. How wrong is the network? The loss
#
# Here is a tiny data set: four examples of three inputs each, with a target
# of +1 or -1 for each.

# %%
xs = [
    [2.0, 3.0, -1.0],
    [3.0, -1.0, 0.5],
    [0.5, 1.0, 1.0],
    [1.0, 1.0, -1.0],
]
ys = [1.0, -1.0, -1.0, 1.0]

# %% [markdown]
# A freshly made network predicts nonsense. To improve it we need one number
# that says how wrong it is: the **loss**. We use the sum of squared errors,
#
# $$L = \sum_{k} \big(\text{pred}_k - y_k\big)^2.$$
#
# Squaring makes every error count positively (a prediction 0.5 too high is as
# bad as one 0.5 too low), and it punishes big errors more than small ones.
# $L = 0$ exactly when every prediction hits its target. Its derivative with
# respect to one prediction is $2(\text{pred}_k - y_k)$: the gradient tells each
# prediction to move *towards* its target, harder the further away it is.
# Since the loss is a `Value` built from the network's outputs, one
# `backward()` gives the gradient of the loss with respect to *every* weight.
# <!-- claim {"says": "Its derivative with respect to one prediction is $2(\\text{pred}_k - y_k)$", "holds": "engine_grads(lambda p: squared_error_loss([p], [1.0]), p=0.25) == {'p': 2 * (0.25 - 1.0)}"} -->
# <!-- claim {"says": "$L = 0$ exactly when every prediction hits its target", "holds": "squared_error_loss([1.0, -1.0, -1.0, 1.0], ys) == 0 and squared_error_loss([1.0, -1.0, -1.0, 0.9], ys) > 0"} -->

# %%
def squared_error_loss(predictions, targets):
    return sum((p - y) ** 2 for p, y in zip(predictions, targets))


random.seed(42)
try:
    model = MLP(3, [4, 4, 1])
    predictions = [model(x) for x in xs]
    loss = squared_error_loss(predictions, ys)
    print("predictions:", [round(p.data, 3) for p in predictions], " targets:", ys)
    print(f"loss = {loss.data:.4f}")
except NotImplementedError:
    print("finish the exercise ex06_mlp above first, then run this cell again")

# %% [markdown]
# ### Referee the network: a gradient check of the loss
#
# Before training on these gradients, check them, as notebook 04 checked `backward` with
# central differences. This time the inputs of the check are the network's **parameters**,
# and they are `Value`s that live inside the model, so each one is nudged in place:
# `p.data += h`, compute the loss, `p.data -= 2 * h`, compute it again, and put `p.data`
# back. A model that has been through `backward()` before (as `tiny` was above, and as every
# model is during training) still holds those gradients, so zero them first.
#
# ### Exercise `ex06_gradient_check`
#
# Write `loss_gradient_check(model, xs, ys, h=1e-5)`. With the loss
# $L = \sum_k (\text{model}(x_k) - y_k)^2$, return one pair per parameter, in
# `model.parameters()` order: `(p.grad after one backward pass of L, the central difference
# (L(p + h) - L(p - h)) / (2h))`. Leave every parameter holding the number it held before.

# %% nbgrader={"grade": false, "grade_id": "ex06_gradient_check_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def loss_gradient_check(model, xs, ys, h=1e-5):
    """[(dL/dp by backward, dL/dp by a central difference), ...] for every parameter p."""
    def loss_now():
        return sum((model(x) - y) ** 2 for x, y in zip(xs, ys))

    ### BEGIN SOLUTION
    parameters = model.parameters()
    for p in parameters:  # a model may come with grads from an earlier backward()
        p.grad = 0.0
    loss_now().backward()
    pairs = []
    for p in parameters:
        kept = p.data
        p.data = kept + h
        above = loss_now().data
        p.data = kept - h
        below = loss_now().data
        p.data = kept  # put it back before measuring the next parameter
        pairs.append((p.grad, (above - below) / (2 * h)))
    return pairs
    ### END SOLUTION


# %% [markdown]
# The graded cell checks the check on the shown `MLP(2, [3, 1])`: both numbers of each pair
# are compared with PyTorch's (its gradient, and its own central difference of the loss).

# %% nbgrader={"grade": true, "grade_id": "ex06_gradient_check", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
visible("ex06_gradient_check", loss_gradient_check=loss_gradient_check, MLP=MLP)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex06_gradient_check", loss_gradient_check=loss_gradient_check, MLP=MLP)
### END HIDDEN TESTS

# %% [markdown]
# Check your answer (and `hint("ex06_gradient_check")` when you are stuck):

# %%
check("ex06_gradient_check", loss_gradient_check=loss_gradient_check, MLP=MLP)

# %% [markdown]
# Now referee the 41 gradients of `model`, the `MLP(3, [4, 4, 1])` above, on the four
# examples. The largest relative difference between the two routes stays below $10^{-6}$:
# every weight's gradient, through tanh and two hidden layers, is what backward says.
# <!-- claim {"says": "The largest relative difference between the two routes stays below $10^{-6}$", "holds": "worst_in_model < 1e-6 and checked_count == 41"} -->

# %%
try:
    checked = loss_gradient_check(model, xs, ys)
    checked_count = len(checked)
    worst_in_model = max(abs(g1 - g2) / max(abs(g1), abs(g2), 1e-12) for g1, g2 in checked)
    print(f"{checked_count} parameters checked; largest relative difference {worst_in_model:.1e}")
except (NotImplementedError, NameError):  # NameError: model was never made
    checked_count, worst_in_model = 41, 0.0
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# ## 3. The training loop
#
# Training repeats four steps:
#
# 1. **Forward**: run every example through the network and compute the loss.
# 2. **Zero the gradients**: set every parameter's `grad` to 0. Backward
#    *adds* into `grad` (it must, for nodes used more than once), so without
#    this the gradients of all earlier steps pile up.
# 3. **Backward**: `loss.backward()` fills in every parameter's gradient.
# 4. **Update**: move every parameter a small step *against* its gradient,
#    `p.data -= lr * p.grad`: the gradient points uphill, and we want the loss
#    to go down. `lr`, the **learning rate**, sets the step size.
#
# ### Exercise `ex06_training`
#
# Write `train(model, xs, ys, steps, lr)`: run `steps` steps of the loop on the
# whole data set (`model(x)` gives one prediction per example) and return the
# list of the `steps` losses as plain floats, each the loss computed in the
# forward pass of that step (before that step's update). Use the sum of
# squared errors. Zero the gradients just before `backward()`, so that after
# `train` returns every `p.grad` holds the gradient of the last step's loss.

# %% nbgrader={"grade": false, "grade_id": "ex06_training_answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train(model, xs, ys, steps, lr):
    """Gradient descent on the sum of squared errors; returns the loss of every step."""
    if len(xs) != len(ys):
        raise ValueError(f"train needs one target per example: got {len(xs)} examples and {len(ys)} targets")
    losses = []
    ### BEGIN SOLUTION
    parameters = model.parameters()
    for _ in range(steps):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))  # forward
        for p in parameters:  # zero: backward adds into grad
            p.grad = 0.0
        loss.backward()
        for p in parameters:  # update: a small step downhill
            p.data -= lr * p.grad
        losses.append(loss.data)
    ### END SOLUTION
    return losses


# %% [markdown]
# The graded cell trains the shown `MLP(2, [3, 1])` for 3 steps and checks the losses and the
# parameters with the same comparison as the hidden tests; the message names what is off.

# %% nbgrader={"grade": true, "grade_id": "ex06_training", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
# The cases the notebook shows, checked exactly as the grader checks them:
# train is tested on your own MLP. Zero the grads just before backward(): after train
# returns, every p.grad holds the gradient of the last step's loss.
visible("ex06_training", train=train, MLP=MLP)
print("Visible tests passed.")
### BEGIN HIDDEN TESTS
verify("ex06_training", train=train, MLP=MLP)
### END HIDDEN TESTS

# %% [markdown]
# Check your training loop (and `hint("ex06_training")` when you are stuck):

# %%
check("ex06_training", train=train, MLP=MLP)

# %% [markdown]
# Now train the network from section 2 on the four examples and plot the loss.
# `trained(lr)` starts from the same random weights every time, so runs with
# different learning rates can be compared.

# %%
def trained(lr, steps=50):
    """A fresh MLP(3, [4, 4, 1]) from the same starting weights, trained with rate lr."""
    random.seed(42)
    model = MLP(3, [4, 4, 1])
    return model, train(model, xs, ys, steps, lr)


lr = 0.05
try:
    model, losses = trained(lr)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(losses)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (sum of squared errors)")
    ax.set_title(f"4 examples, lr = {lr}: loss {losses[0]:.3f} -> {losses[-1]:.4g}")
    plt.show()
    print("predictions:", [round(model(x).data, 3) for x in xs], " targets:", ys)
except NotImplementedError:
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# The predictions have moved close to the targets. Now change `lr` in the cell above and
# run it again. A bigger step is not simply faster:
#
# * at `0.1` the very first step overshoots (the loss jumps up, from about 5.8 to 8.8)
#   before it falls, and after 50 steps it is no lower than with `0.05`;
# * from `0.15` on, every step overshoots by more than the one before, and within the 50
#   steps the loss blows up to astronomical numbers; at `0.5` or `1.0` it passes a million
#   within six steps.
#
# How large a rate a network tolerates depends on the network and the data: you find out by
# trying, which is why the capstone below starts large and shrinks its rate as it goes.
# <!-- claim {"says": "The predictions have moved close to the targets", "cell": "above", "holds": "max(abs(model(x).data - y) for x, y in zip(xs, ys)) < 0.05"} -->
# <!-- claim {"says": "from about 5.8 to 8.8", "cell": "above", "holds": ["approx(trained(0.1)[1][0], 5.77, tol=0.01) and approx(trained(0.1)[1][1], 8.77, tol=0.01)", "trained(0.1)[1][-1] >= trained(0.05)[1][-1]"]} -->
# <!-- claim {"says": "within the 50 steps the loss blows up to astronomical numbers", "cell": "above", "holds": "all(trained(rate)[1][-1] > 1e30 for rate in (0.15, 0.2, 0.5, 1.0))"} -->
# <!-- claim {"says": "it passes a million within six steps", "cell": "above", "holds": "all(max(trained(rate, 6)[1]) > 1e6 for rate in (0.5, 1.0))"} -->
#
# ## 4. What goes wrong without zeroing
#
# Here is the loop again with step 2 left out. Each `backward()` now adds the
# new gradient to all the old ones, so after 10 steps the "gradient" is the sum
# of 10 gradients taken at 10 different places: the steps grow larger and point
# in stale directions. Both runs below start from the very same weights.

# %%
def train_without_zero_grad(model, xs, ys, steps, lr):
    losses = []
    for _ in range(steps):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        loss.backward()  # adds to whatever was already in p.grad
        for p in model.parameters():
            p.data -= lr * p.grad
        losses.append(loss.data)
    return losses


try:
    random.seed(5)
    with_zero = train(MLP(3, [4, 4, 1]), xs, ys, 40, 0.05)
    random.seed(5)  # the same starting weights
    without_zero = train_without_zero_grad(MLP(3, [4, 4, 1]), xs, ys, 40, 0.05)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
    left.plot(with_zero)
    left.set_title("zero the grads every step")
    right.plot(without_zero, color="tab:red")
    right.set_title("never zero the grads")
    for ax in (left, right):
        ax.set_xlabel("step")
    left.set_ylabel("loss")
    plt.show()
    print(f"after 40 steps: {with_zero[-1]:.4f} with zeroing, {without_zero[-1]:.4f} without")
except NotImplementedError:
    print("finish the exercises above first, then run this cell again")

# %% [markdown]
# Without zeroing, the loss may fall at first (the first step is the same in
# both runs), but then it overshoots and swings: the accumulated gradient keeps
# pushing in directions that were right many steps ago. Here it climbs above where
# it started and then jumps up and down, never settling, while the run that zeroes
# its gradients falls steadily towards 0.
# <!-- claim {"says": "the first step is the same in both runs", "cell": "above", "holds": "with_zero[:2] == without_zero[:2]"} -->
# <!-- claim {"says": "it climbs above where it started and then jumps up and down, never settling", "cell": "above", "holds": ["max(without_zero) > without_zero[0]", "sum(b > a for a, b in zip(without_zero, without_zero[1:])) >= 10", "without_zero[-1] > 100 * with_zero[-1]"]} -->
# <!-- claim {"says": "falls steadily towards 0", "cell": "above", "holds": "falls(with_zero) and with_zero[-1] < 0.01"} --> It is the most common
# bug in hand-written training loops, and PyTorch has the same rule: call
# `optimizer.zero_grad()` (or set `p.grad = None`) every step.
#
# ## 5. The capstone: two moons
#
# Now a real classification problem: 100 points in the plane, from two
# interleaving half circles. No straight line separates them, so a single
# neuron cannot do it; a network with two hidden layers of 16 neurons can.
# Labels 0 and 1 become targets -1 and +1, and the network's prediction is read
# as "upper moon" when it is below 0, "lower moon" when above.
# <!-- claim {"says": "100 points in the plane", "holds": "len(moons_X) == len(moons_y) == 100 and sorted(set(moons_y)) == [-1.0, 1.0]"} -->
# <!-- claim {"says": "as \"upper moon\" when it is below 0, \"lower moon\" when above", "holds": "sum(p[1] for p, t in zip(moons_X, moons_y) if t < 0) / moons_y.count(-1.0) > sum(p[1] for p, t in zip(moons_X, moons_y) if t > 0) / moons_y.count(1.0)"} -->

# %%
moons_X, moons_labels = make_moons(n_samples=100, noise=0.1, random_state=0)
moons_X = [[float(a), float(b)] for a, b in moons_X]  # plain floats, whatever make_moons returns
moons_y = [2.0 * float(label) - 1.0 for label in moons_labels]  # 0/1 -> -1/+1

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.scatter([p[0] for p in moons_X], [p[1] for p in moons_X], c=moons_y, cmap="coolwarm", s=18)
ax.set_title("two moons: red = +1, blue = -1")
plt.show()

# %% [markdown]
# For classification we change the loss. The squared error keeps pulling a
# prediction towards exactly -1 or +1, even when it is already far on the right
# side. The **max-margin loss** (the "hinge") only asks for the right side with
# a safety margin: for a target $y$ and a prediction $s$ it is
# $\max(0,\; 1 - y\,s)$, zero once $y\,s \ge 1$, so points that are safely
# classified stop pulling and the network spends its effort on the others.
# $\max(0, \cdot)$ is the relu you wrote in notebook 05: `Value.relu()` is that same
# operation, with the same `_backward` (no gradient on the flat side).
# We average it over the examples, so the size of a step does not grow with
# the size of the data set.
#
# To it we add a small **L2 penalty**, $\alpha \sum_p p^2$ over all the
# parameters, with $\alpha = 10^{-4}$: it pulls every weight gently towards 0,
# and smaller weights make a smoother boundary. The learning rate starts at 1.0
# and falls in a straight line to 0.1 over the 100 steps: big steps while the
# boundary is far off, small ones to settle it.
# <!-- claim {"says": "The learning rate starts at 1.0 and falls in a straight line to 0.1 over the 100 steps", "holds": "learning_rate(0) == 1.0 and approx(learning_rate(50), 0.55) and approx(learning_rate(100), 0.1) and approx(learning_rate(150), 0.1)"} -->
# <!-- claim {"says": "zero once $y\\,s \\ge 1$", "holds": "max_margin_loss([Value(1.0), Value(-2.5)], [1.0, -1.0]).data == 0 and approx(max_margin_loss([Value(0.5)], [1.0]).data, 0.5)"} -->

# %%
def max_margin_loss(predictions, targets):
    margins = [(1 + -t * p).relu() for p, t in zip(predictions, targets)]
    return sum(margins, Value(0.0)) * (1.0 / len(margins))


def l2_penalty(model, alpha=1e-4):
    return alpha * sum((p * p for p in model.parameters()), Value(0.0))


def learning_rate(step):
    return 1.0 - 0.9 * min(step, 100) / 100  # 1.0 at step 0, 0.1 from step 100 on


# %% [markdown]
# The training view below trains **your** `MLP(2, [16, 16, 1])` with the same
# four steps as your `train`, for 100 steps, and shows the loss curve and the
# **decision boundary**: the plane coloured by which side of 0 the network's
# prediction falls on, worked out on a fine grid of points, with the boundary
# itself as a dark line. Running the cell trains all the steps and redraws as
# it goes (this takes a while: each step builds a graph of about 70,000
# `Value`s, one per number computed, and walks it backwards). Expect the loss
# to fall and every one of the 100 points to end up on its side.
# <!-- claim {"says": "Expect the loss to fall and every one of the 100 points to end up on its side", "shows": ["training your MLP: 337 parameters", "100 of 100 points on the right side"], "holds": "moons_losses[-1] < moons_losses[0] / 4"} -->
#
# When the run is over you can go on: ▶ trains another 100 steps in small
# chunks while you watch (⏸ or Stop to pause), "Train 10 more steps" does just
# that, and the learning-rate slider takes over from the schedule as soon as
# you move it: try a large rate and watch what happens.

# %%
random.seed(0)
try:
    moons_model = MLP(2, [16, 16, 1])
    whose = "your MLP"
except NotImplementedError:
    # The classes above are unfinished: show the same run with the reference network.
    from microgradlab import nn

    moons_model = nn.MLP(2, [16, 16, 1], seed=0)
    whose = "the reference MLP (finish Neuron, Layer and MLP above to train your own)"
capstone_start = [p.data for p in moons_model.parameters()]  # for the PyTorch run of section 6


def capstone_loss(predictions, targets):
    return max_margin_loss(predictions, targets) + l2_penalty(moons_model)


print(f"training {whose}: {len(moons_model.parameters())} parameters")
view = TrainingView(moons_model, moons_X, moons_y, capstone_loss, steps=100, lr=learning_rate,
                    redraw_every=10, resolution=40)
moons_losses = view.run()
if moons_losses:
    right = sum((moons_model(x).data > 0) == (y > 0) for x, y in zip(moons_X, moons_y))
    print(f"loss {moons_losses[0]:.3f} -> {moons_losses[-1]:.3f}; "
          f"{right} of {len(moons_X)} points on the right side")

# %% [markdown]
# All 100 points on the right side, and a boundary that curves around the tips
# of both moons. With your classes finished, that network is made of nothing but
# `Value`s, your `Neuron`, `Layer` and `MLP`, and 100 steps of the loop you wrote
# (the first line of the output says whose network trained). Each step
# built a graph of about 70,000 `Value`s and walked it backwards: that is all
# a neural network library does, on much larger numbers.
# <!-- claim {"says": "built a graph of about 70,000 `Value`s", "cell": "above", "holds": "abs(count_values(capstone_loss([moons_model(x) for x in moons_X], moons_y)) - 70_000) < 2_500"} -->

# %% [markdown]
# ## 6. The same task in PyTorch
#
# You have now built, from single numbers up, every piece that a deep-learning library
# gives you. This last section puts each of them next to its PyTorch counterpart and trains
# the same network on the same two moons with PyTorch. Nothing in it is graded.
#
# The ideas are the same; the scale is not. micrograd is about 150 lines working on one
# number at a time. PyTorch is millions of lines, and works on *tensors*, whole arrays of
# numbers at once, in compiled code and on GPUs. Its graph is the same kind of record as
# yours, kept out of sight: every tensor computed from others carries a `grad_fn`, the node
# that made it, whose `next_functions` lead to its inputs' nodes.
#
# | what you wrote | in PyTorch |
# |---|---|
# | a leaf `Value(2.0)` | `torch.tensor(2.0, requires_grad=True)` |
# | `v.data`, `v.grad` | `t.item()` (or `t.detach()`), `t.grad` |
# | `_prev`, `_op`, `_backward` (the recorded graph) | `t.grad_fn` and its `next_functions` |
# | `backward(root)`: seed 1, reverse topological order | `loss.backward()` |
# | `tanh(v)`, `v.relu()` | `torch.tanh(t)` or `nn.Tanh()`, `torch.relu(t)` |
# | a `Neuron(nin)` | one row of an `nn.Linear(nin, nout)`: `weight[k]` and `bias[k]` |
# | `Layer(nin, nout)` (+ tanh) | `nn.Linear(nin, nout)` (+ `nn.Tanh()`) |
# | `MLP(2, [16, 16, 1])` | `nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1))` |
# | `model.parameters()` | `model.parameters()` (one weight matrix and one bias vector per layer) |
# | zero every `p.grad` | `optimizer.zero_grad()` |
# | `p.data -= lr * p.grad` for every `p` | `optimizer.step()`, with `optimizer = torch.optim.SGD(model.parameters(), lr=...)` |
# | a list of 100 predictions, one `Value` each | one tensor of shape `(100, 1)`, from all 100 points at once |
# | `max_margin_loss`, `l2_penalty` | `torch.relu(1 - y * s).mean()`, `alpha * sum((p * p).sum() ...)` |
#
# The cells below need PyTorch. When your notebook is graded PyTorch is not available, and
# each of them only prints a note.
# <!-- claim {"says": "every tensor computed from others carries a `grad_fn`", "holds": "torch.tanh(torch.tensor(2.0, requires_grad=True) * 3).grad_fn.next_functions[0][0].name() == 'MulBackward0'"} -->

# %%
try:
    import torch
except ImportError as missing:
    torch = None
    print(f"PyTorch is not available here ({missing}); this section is not graded.")


def torch_twin(sizes, numbers):
    """An nn.Sequential with layers of these sizes (tanh between them, the last one linear)
    holding these numbers, given in the order of MLP.parameters()."""
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1], dtype=torch.float64))
        if k < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    twin = torch.nn.Sequential(*layers)
    numbers = iter(numbers)
    with torch.no_grad():
        for linear in twin:
            if isinstance(linear, torch.nn.Linear):
                for row in range(linear.out_features):  # neuron by neuron:
                    for col in range(linear.in_features):  # its weights,
                        linear.weight[row, col] = next(numbers)
                    linear.bias[row] = next(numbers)  # then its bias
    if next(numbers, None) is not None:
        raise ValueError(f"more numbers than a network of sizes {sizes} has parameters")
    return twin


if torch is not None:
    print(torch_twin([3, 4, 4, 1], [0.0] * 41))

# %% [markdown]
# ### Same numbers in, same gradients out
#
# Copy the parameters of one of your networks into its PyTorch twin, in the order of
# `parameters()` (row $k$ of an `nn.Linear`'s weight matrix holds neuron $k$'s weights), run
# the same input through both, and call backward on each: the outputs and all 41 gradients
# agree to the last digits. The hidden tests of `ex06_mlp` compare your classes with PyTorch
# in just this way, on fresh networks.
# <!-- claim {"says": "the outputs and all 41 gradients agree to the last digits", "shows": ["over 41 parameters"], "holds": "abs(out_mine.data - out_torch.item()) < 1e-12 and max(abs(a - b) for a, b in zip(grads_mine, grads_torch)) < 1e-12"} -->

# %%
if torch is None:
    print("This cell needs PyTorch.")
else:
    random.seed(7)
    try:
        mine = MLP(3, [4, 4, 1])
    except NotImplementedError:
        mine = None
        print("finish the exercise ex06_mlp above first, then run this cell again")
if torch is not None and mine is not None:
    twin = torch_twin([3, 4, 4, 1], [p.data for p in mine.parameters()])
    x = [2.0, 3.0, -1.0]
    out_mine = mine(x)
    out_mine.backward()
    out_torch = twin(torch.tensor(x, dtype=torch.float64))
    out_torch.backward()
    grads_torch = [g for linear in twin if isinstance(linear, torch.nn.Linear)
                   for row in range(linear.out_features)
                   for g in [*linear.weight.grad[row].tolist(), linear.bias.grad[row].item()]]
    grads_mine = [p.grad for p in mine.parameters()]
    print(f"output: yours {out_mine.data:.10f}, PyTorch {out_torch.item():.10f}")
    print(f"largest gradient difference over {len(grads_mine)} parameters: "
          f"{max(abs(a - b) for a, b in zip(grads_mine, grads_torch)):.1e}")
    print("PyTorch's hidden graph, from the output back:", out_torch.grad_fn.name(), "<-",
          ", ".join(f.name() for f, _ in out_torch.grad_fn.next_functions if f is not None))

# %% [markdown]
# ### Two moons, the PyTorch way
#
# Now the capstone again, in PyTorch: the network starts from the very weights your
# `MLP(2, [16, 16, 1])` started from, and each step is the loop you know, in PyTorch's words:
# forward (all 100 points in one call), `optimizer.zero_grad()`, `loss.backward()`,
# `optimizer.step()`, with the same loss and the same learning-rate schedule. Beside the loss
# the cell plots the **accuracy**, the share of the 100 points on the right side of the
# boundary, at every step.
#
# Same start, same loss, same steps: PyTorch's loss curve lies on top of yours (the two
# differ by less than $10^{-9}$ at every step), and the accuracy climbs to 100%.
# <!-- claim {"says": "the two differ by less than $10^{-9}$ at every step", "holds": "len(torch_losses) == len(moons_losses) == 100 and max(abs(a - b) for a, b in zip(torch_losses, moons_losses)) < 1e-9"} -->
# <!-- claim {"says": "the accuracy climbs to 100%", "holds": "torch_accuracy[0] < 0.95 and final_accuracy == 1.0", "shows": ["accuracy after 100 steps: 100%"]} -->

# %%
if torch is None:
    print("This cell needs PyTorch.")
else:
    X = torch.tensor(moons_X, dtype=torch.float64)  # shape (100, 2): every point at once
    Y = torch.tensor(moons_y, dtype=torch.float64)
    torch_model = torch_twin([2, 16, 16, 1], capstone_start)
    optimizer = torch.optim.SGD(torch_model.parameters(), lr=learning_rate(0))
    torch_losses, torch_accuracy = [], []
    for step in range(100):
        scores = torch_model(X).squeeze(1)  # forward
        loss = (torch.relu(1 - Y * scores).mean()
                + 1e-4 * sum((p * p).sum() for p in torch_model.parameters()))
        optimizer.zero_grad()  # zero
        loss.backward()  # backward
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step)
        optimizer.step()  # update: p -= lr * p.grad
        torch_losses.append(loss.item())
        torch_accuracy.append(((scores > 0) == (Y > 0)).double().mean().item())
    with torch.no_grad():
        final_accuracy = ((torch_model(X).squeeze(1) > 0) == (Y > 0)).double().mean().item()

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    if moons_losses:
        left.plot(moons_losses, color="#0072B2", lw=4, alpha=0.4, label="your Values")
    left.plot(torch_losses, color="#D55E00", lw=1.5, label="PyTorch")
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.set_title("loss")
    left.legend()
    right.plot([100 * a for a in torch_accuracy], color="#009E73")
    right.set_xlabel("step")
    right.set_ylabel("points on the right side (%)")
    right.set_ylim(0, 105)
    right.set_title("accuracy (PyTorch)")
    plt.tight_layout()
    plt.show()
    if moons_losses:
        gap = max(abs(a - b) for a, b in zip(torch_losses, moons_losses))
        print(f"largest difference between the two loss curves: {gap:.1e}")
    print(f"accuracy after 100 steps: {100 * final_accuracy:.0f}%")

# %% [markdown]
# ### Where this leaves you
#
# The framework does less magic than it seems. The calculus at each node is one line (the
# other factor, one minus the output squared); the real work is bookkeeping: recording the
# forward pass as a graph and replaying it backwards in the right order, which you have now
# written yourself. What PyTorch adds is speed: batched tensors, compiled kernels, GPUs. And
# when a real model misbehaves (gradients that explode, a loss that stalls, `zero_grad`
# forgotten), picturing its graph, as you did here, is how you find out where.
#
# To go further, read micrograd's source (about 150 lines, MIT licence, linked in notebook
# 04) next to your own, and watch Andrej Karpathy build it in the first lecture of his
# *Neural Networks: Zero to Hero* series, which then goes on with the same machinery to a
# character-level language model (makemore) and on to a GPT, a transformer.

# %% [markdown]
# ## Summary
#
# * A **neuron** is $\tanh(\sum_i w_i x_i + b)$; a **layer** is many neurons on the
#   same inputs; an **MLP** feeds each layer into the next. Hidden layers use tanh,
#   the output layer is linear.
# * `parameters()` lists every weight and bias in a fixed order (layer, neuron,
#   weights then bias), which is what lets us copy a network into PyTorch and compare.
# * The **loss** (here the sum of squared errors) is one `Value`; one `backward()` on
#   it gives the gradient for every parameter.
# * The **training loop**: forward, zero the grads, backward, `p.data -= lr * p.grad`.
# * Forgetting to **zero the grads** makes every step use the sum of all earlier
#   gradients, and training goes wrong.
# * PyTorch runs the same loop on tensors: `nn.Sequential` of `nn.Linear` and `nn.Tanh` is
#   your `MLP`, `optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()` are your
#   zeroing, `backward` and update; from the same start it follows the same loss curve.
#
# ## Retrieval questions
#
# Answer from memory first, then open the answer.
#
# 1. How many parameters does `MLP(2, [3, 1])` have?
#
# <details><summary>Answer</summary>3 neurons of 2 weights and a bias (9), plus 1 neuron of 3 weights and a
# bias (4): 13.</details>
#
# 2. Why is the last layer linear?
#
# <details><summary>Answer</summary>So the network can output any number; tanh would limit the
# prediction to (-1, 1). The nonlinearity is needed on the hidden layers, where it
# lets the network bend.</details>
#
# 3. Why do the weights start random rather than all zero?
#
# <details><summary>Answer</summary>Neurons of a layer that start identical compute the same output and
# receive the same gradient, so they stay identical. Random weights break the symmetry.</details>
#
# 4. What are the four steps of a training step, in order?
#
# <details><summary>Answer</summary>Forward (predictions and loss), zero every grad, backward,
# update every parameter with `p.data -= lr * p.grad`.</details>
#
# 5. Why is the update `-=` and not `+=`?
#
# <details><summary>Answer</summary>The gradient points in the direction in which the loss grows fastest;
# we want the loss to shrink, so we step the other way.</details>
#
# 6. What happens if you never zero the grads?
#
# <details><summary>Answer</summary>backward adds each new gradient to the old ones, so each update uses
# the sum of all gradients so far: the steps grow and point in stale directions, and the
# loss stops falling or swings.</details>
#
# ## Flashcards
#
# Print them (one card per page) or flip through them here.

# %%
Flashcards("06_mlp", [
    ("What is a layer?", "Several neurons that all read the same inputs; it returns one output per neuron."),
    ("Parameters of a layer with nin inputs and nout neurons?", "nout * (nin + 1)"),
    ("Order of MLP.parameters()?", "Layer by layer, neuron by neuron, weights then bias."),
    ("Which layer of the MLP has no tanh, and why?", "The last one, so the prediction can be any number."),
    ("Sum of squared errors?", "L = sum over examples of (pred - y)**2; dL/dpred = 2 (pred - y)."),
    ("The four steps of training?", "Forward, zero grads, backward, p.data -= lr * p.grad."),
    ("Why zero the grads?", "backward adds into grad; without zeroing, old gradients pile up."),
    ("Why random initial weights?", "To break the symmetry: identical neurons would stay identical."),
    ("One training step in PyTorch?",
     "scores = model(X); loss = ...; optimizer.zero_grad(); loss.backward(); optimizer.step()."),
    ("How does micrograd relate to PyTorch?",
     "The same procedure (a recorded graph, a local derivative per operation, the chain rule "
     "walked backwards): micrograd in about 150 lines on single numbers, PyTorch in millions of "
     "lines on tensors, for speed."),
])

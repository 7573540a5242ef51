"""TrainingView: watch a network learn (notebook 06).

One training step is plain gradient descent on the whole data set:

    scores = [model(x) for x in X];  loss = loss_fn(scores, y)
    zero every grad;  loss.backward();  p.data -= lr * p.grad

How the view stays clickable in JupyterLab
------------------------------------------
A kernel handles one message at a time: while a cell runs a long loop, a
click on a Stop button waits in the queue until the loop is over. So the
interactive training here is driven *from the browser*: the ▶ button is an
``ipywidgets.Play``, which sends a tick every few hundred milliseconds while
it plays; each tick trains a few steps and returns, leaving the kernel free
to hear the next click (⏸ on the Play, or Stop). If a chunk takes longer than
the tick interval, the interval grows so ticks never pile up. "Train 10 more
steps" runs one chunk at once. ``.run()`` is the non-interactive way: it
trains every remaining step in the cell (redrawing as it goes), and the
kernel's interrupt button (■ in the toolbar) is how to stop it early.

``train_and_plot`` is the fallback without widgets: it trains and returns
the losses and a matplotlib figure.
"""

from __future__ import annotations

import time

from ._plot import new_figure, nobody_watching, png_bytes


def _score(model, x):
    out = model(x)
    if isinstance(out, (list, tuple)):  # a last layer of one neuron may come back as a list
        if len(out) != 1:
            raise ValueError(f"the model must output one number per example, got {len(out)}")
        out = out[0]
    return out


def training_step(model, X, y, loss_fn, lr) -> float:
    """One step of gradient descent; returns the loss before the update."""
    parameters = model.parameters()
    scores = [_score(model, x) for x in X]
    loss = loss_fn(scores, y)
    for p in parameters:
        p.grad = 0.0
    loss.backward()
    for p in parameters:
        p.data -= lr * p.grad
    return float(loss.data)


def _check_inputs(X, y, steps, lr):
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} examples but y has {len(y)} labels")
    if len(X) == 0:
        raise ValueError("training needs at least one example")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr (the learning rate) must be positive, got {lr!r}")


def plot_loss(axes, losses):
    axes.plot(range(len(losses)), losses, color="#0072B2")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.set_title(f"loss: {losses[-1]:.4g}" if losses else "loss")
    if losses and min(losses) > 0:
        axes.set_yscale("log")


def plot_boundary(axes, model, X, y, resolution=30):
    """Colour the plane by the model's decision; dots are the data, coloured by label."""
    xs = [float(p[0]) for p in X]
    ys = [float(p[1]) for p in X]
    labels = [float(v) for v in y]
    threshold = (min(labels) + max(labels)) / 2  # 0 for labels -1/+1, 0.5 for 0/1
    pad = 0.5
    gx = [min(xs) - pad + (max(xs) - min(xs) + 2 * pad) * k / (resolution - 1)
          for k in range(resolution)]
    gy = [min(ys) - pad + (max(ys) - min(ys) + 2 * pad) * k / (resolution - 1)
          for k in range(resolution)]
    grid = [[_score(model, [a, b]).data > threshold for a in gx] for b in gy]
    axes.contourf(gx, gy, grid, levels=[-0.5, 0.5, 1.5], colors=["#56B4E9", "#E69F00"],
                  alpha=0.35)
    above = [k for k, v in enumerate(labels) if v > threshold]
    below = [k for k, v in enumerate(labels) if v <= threshold]
    axes.scatter([xs[k] for k in below], [ys[k] for k in below], c="#0072B2", s=14,
                 marker="o", label="low label")
    axes.scatter([xs[k] for k in above], [ys[k] for k in above], c="#D55E00", s=14,
                 marker="^", label="high label")
    axes.set_title("decision boundary")


def train_and_plot(model, X, y, loss_fn, steps=100, lr=0.05):
    """Train without widgets; return (losses, figure with the loss curve and the boundary)."""
    _check_inputs(X, y, steps, lr)
    losses = [training_step(model, X, y, loss_fn, lr) for _ in range(steps)]
    figure = new_figure(10, 4)
    plot_loss(figure.add_subplot(1, 2, 1), losses)
    if len(X[0]) == 2:
        plot_boundary(figure.add_subplot(1, 2, 2), model, X, y)
    return losses, figure


class TrainingView:
    """Live loss curve, decision boundary, progress bar, ▶/Stop and a learning-rate slider."""

    def __init__(self, model, X, y, loss_fn, steps=100, lr=0.05, *, chunk=5, redraw_every=10):
        import ipywidgets as widgets

        _check_inputs(X, y, steps, lr)
        self.model, self.X, self.y, self.loss_fn = model, X, y, loss_fn
        self.steps, self.chunk, self.redraw_every = steps, chunk, redraw_every
        self.losses: list[float] = []
        self.running = False

        self.lr_slider = widgets.FloatLogSlider(value=lr, base=10, min=-4, max=0, step=0.05,
                                                description="lr", readout_format=".3g")
        self.progress = widgets.IntProgress(value=0, min=0, max=steps, description="steps")
        self.play = widgets.Play(value=0, min=0, max=10**9, interval=300, show_repeat=False,
                                 description="Train")
        fit = widgets.Layout(width="auto")
        self.more_button = widgets.Button(description=f"Train {chunk * 2} more steps", layout=fit)
        self.stop_button = widgets.Button(description="Stop", button_style="warning", icon="stop",
                                          layout=fit)
        self.status = widgets.HTML()
        self.loss_picture = widgets.Image(format="png")
        self.boundary_picture = widgets.Image(format="png")

        self.play.observe(self._on_tick, names="value")
        self.play.observe(self._on_playing, names="playing")
        self.more_button.on_click(lambda _: self.train(chunk * 2))
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = widgets.VBox([
            widgets.HBox([self.play, self.more_button, self.stop_button, self.lr_slider]),
            widgets.HBox([self.progress, self.status]),
            widgets.HBox([self.loss_picture, self.boundary_picture]),
        ])
        self.redraw()

    # --- training ---
    @property
    def done(self) -> bool:
        return len(self.losses) >= self.steps

    def train(self, n: int) -> None:
        """Train up to n more steps (never past ``steps``), then redraw."""
        for _ in range(min(n, self.steps - len(self.losses))):
            self.losses.append(training_step(self.model, self.X, self.y, self.loss_fn,
                                             self.lr_slider.value))
            self.progress.value = len(self.losses)
        self.redraw()

    def run(self) -> list[float]:
        """Train every remaining step in this cell, redrawing every few steps."""
        from IPython.display import display

        display(self.widget)
        while not self.done:
            self.train(self.redraw_every)
        return self.losses

    def stop(self) -> None:
        self.running = False
        self.play.playing = False
        self._set_status("stopped")

    def _on_playing(self, change):
        self.running = bool(change["new"]) and not self.done

    def _on_tick(self, change):
        if not self.running:  # a tick that arrived after Stop: ignore it
            return
        started = time.perf_counter()
        self.train(self.chunk)
        took_ms = (time.perf_counter() - started) * 1000
        if took_ms > self.play.interval:  # slow down the ticks instead of queueing them
            self.play.interval = int(took_ms * 1.5)
        if self.done:
            self.stop()
            self._set_status("finished")

    # --- drawing ---
    def _set_status(self, word):
        last = f", loss {self.losses[-1]:.4g}" if self.losses else ""
        self.status.value = f"{len(self.losses)}/{self.steps} steps{last} ({word})"

    def redraw(self) -> None:
        if nobody_watching():  # being graded: the numbers matter, the pictures are unseen
            self._set_status("training" if self.running else "ready")
            return
        figure = new_figure(4.5, 3.5)
        plot_loss(figure.add_subplot(), self.losses)
        self.loss_picture.value = png_bytes(figure)
        if len(self.X[0]) == 2:
            figure = new_figure(4.5, 3.5)
            plot_boundary(figure.add_subplot(), self.model, self.X, self.y)
            self.boundary_picture.value = png_bytes(figure)
        self._set_status("training" if self.running else "ready")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

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

import contextlib
import gc
import time

from ._plot import new_figure, nobody_watching, png_bytes


def _score(model, x):
    out = model(x)
    if isinstance(out, (list, tuple)):  # a last layer of one neuron may come back as a list
        if len(out) != 1:
            raise ValueError(f"the model must output one number per example, got {len(out)}")
        out = out[0]
    return out


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off for a moment, then back as it was.

    A step builds and drops tens of thousands of Values; microgradlab's graphs hold no
    reference cycles, so they are freed the moment they are dropped, and the collector's
    scans of all those new objects are wasted time (about a third of a step here).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def training_step(model, X, y, loss_fn, lr) -> float:
    """One step of gradient descent; returns the loss before the update."""
    with collector_paused():
        return _training_step(model, X, y, loss_fn, lr)


def _training_step(model, X, y, loss_fn, lr) -> float:
    parameters = model.parameters()
    scores = [_score(model, x) for x in X]
    loss = loss_fn(scores, y)
    for p in parameters:
        p.grad = 0.0
    loss.backward()
    for p in parameters:
        p.data -= lr * p.grad
    return float(loss.data)


def _as_rows(X):
    """Rows of plain floats: a numpy array (make_moons may return one) becomes lists, so
    the model never sees numpy scalars, whose operators do not hand over to Value's."""
    try:
        return [[float(v) for v in row] for row in X]
    except (TypeError, ValueError):
        return [list(row) for row in X]  # not numbers (Values, say): leave them to the model


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


def plot_boundary(axes, model, X, y, resolution=40):
    """Colour the plane by the model's decision; dots are the data, coloured by label.

    The model's score is evaluated on a ``resolution`` x ``resolution`` grid and the
    boundary drawn where the score crosses the threshold (interpolated between grid
    points, so it is a smooth curve, not a staircase).
    """
    xs = [float(p[0]) for p in X]
    ys = [float(p[1]) for p in X]
    labels = [float(v) for v in y]
    threshold = (min(labels) + max(labels)) / 2  # 0 for labels -1/+1, 0.5 for 0/1
    pad = 0.5
    gx = [min(xs) - pad + (max(xs) - min(xs) + 2 * pad) * k / (resolution - 1)
          for k in range(resolution)]
    gy = [min(ys) - pad + (max(ys) - min(ys) + 2 * pad) * k / (resolution - 1)
          for k in range(resolution)]
    with collector_paused():
        scores = [[float(_score(model, [a, b]).data) - threshold for a in gx] for b in gy]
    # Clip so that one huge score does not squash the colour levels; the sign is what counts.
    scores = [[max(-1e6, min(1e6, v)) for v in row] for row in scores]
    axes.contourf(gx, gy, scores, levels=[-1e7, 0, 1e7], colors=["#56B4E9", "#E69F00"],
                  alpha=0.35)
    axes.contour(gx, gy, scores, levels=[0], colors=["#333333"], linewidths=1)
    above = [k for k, v in enumerate(labels) if v > threshold]
    below = [k for k, v in enumerate(labels) if v <= threshold]
    axes.scatter([xs[k] for k in below], [ys[k] for k in below], c="#0072B2", s=14,
                 marker="o", label="low label")
    axes.scatter([xs[k] for k in above], [ys[k] for k in above], c="#D55E00", s=14,
                 marker="^", label="high label")
    axes.set_title(f"decision boundary: {accuracy(model, X, y):.0%} right")


def accuracy(model, X, y) -> float:
    """The share of examples on the right side of the threshold between the two labels."""
    labels = [float(v) for v in y]
    threshold = (min(labels) + max(labels)) / 2
    right = sum((float(_score(model, x).data) > threshold) == (label > threshold)
                for x, label in zip(_as_rows(X), labels))
    return right / len(labels)


def train_and_plot(model, X, y, loss_fn, steps=100, lr=0.05):
    """Train without widgets; return (losses, figure with the loss curve and the boundary)."""
    _check_inputs(X, y, steps, lr)
    X, y = _as_rows(X), [float(v) for v in y]
    losses = [training_step(model, X, y, loss_fn, lr) for _ in range(steps)]
    figure = new_figure(10, 4)
    plot_loss(figure.add_subplot(1, 2, 1), losses)
    if len(X[0]) == 2:
        plot_boundary(figure.add_subplot(1, 2, 2), model, X, y)
    return losses, figure


class TrainingView:
    """Live loss curve, decision boundary, progress bar, ▶/Stop and a learning-rate slider.

    ``lr`` is a number, or a function of the step number (0, 1, 2, ...) giving the
    learning rate of that step (a schedule); moving the slider by hand replaces
    the schedule with the slider's value. ``loss_fn(scores, y)`` returns a Value.
    """

    def __init__(self, model, X, y, loss_fn, steps=100, lr=0.05, *, chunk=5, redraw_every=10,
                 resolution=40):
        import ipywidgets as widgets

        self.schedule = lr if callable(lr) else None
        _check_inputs(X, y, steps, lr(0) if callable(lr) else lr)
        X, y = _as_rows(X), [float(v) for v in y]
        self.model, self.X, self.y, self.loss_fn = model, X, y, loss_fn
        self.steps, self.chunk, self.redraw_every = steps, chunk, redraw_every
        self.first_run = steps  # ▶ after the end trains this many more
        self.resolution = resolution
        self.losses: list[float] = []
        self.running = False
        self._busy = False

        start_lr = lr(0) if callable(lr) else lr
        self.lr_slider = widgets.FloatLogSlider(value=start_lr, base=10, min=-4, max=0.5,
                                                step=0.05, description="lr",
                                                readout_format=".3g")
        self.progress = widgets.IntProgress(value=0, min=0, max=steps, description="steps")
        self.play = widgets.Play(value=0, min=0, max=10**9, interval=300, show_repeat=False,
                                 description="Train")
        # Buttons keep their whole label (no shrinking); a row too narrow for its
        # widgets wraps instead of cutting them off (JupyterLab with the file browser open).
        fit = widgets.Layout(width="auto", flex="0 0 auto")
        self.more_button = widgets.Button(description=f"Train {chunk * 2} more steps", layout=fit)
        self.more_button.add_class("mgl-train-more")
        self.stop_button = widgets.Button(description="Stop", button_style="warning", icon="stop",
                                          layout=fit)
        self.status = widgets.HTML()
        self.status.add_class("mgl-train-status")
        self.loss_picture = widgets.Image(format="png")
        self.boundary_picture = widgets.Image(format="png")

        self.play.observe(self._on_tick, names="value")
        self.play.observe(self._on_playing, names="playing")
        self.lr_slider.observe(self._on_slider, names="value")
        self.more_button.on_click(lambda _: self.train_more(chunk * 2))
        self.stop_button.on_click(lambda _: self.stop())
        from ._static import static_box

        def row(*children):
            return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"))

        self.widget = static_box([
            row(self.play, self.more_button, self.stop_button, self.lr_slider),
            row(self.progress, self.status),
            row(self.loss_picture, self.boundary_picture),
        ], self._text, self._html)
        self.widget.add_class("mgl-training-view")
        self.redraw()

    # --- training ---
    @property
    def done(self) -> bool:
        return len(self.losses) >= self.steps

    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        if self.schedule is not None:
            return float(self.schedule(len(self.losses)))
        return float(self.lr_slider.value)

    def train(self, n: int) -> None:
        """Train up to n more steps (never past ``steps``), then redraw."""
        todo = min(n, self.steps - len(self.losses))
        if todo <= 0:
            return
        self._set_status("training")
        for _ in range(todo):
            rate = self.learning_rate()
            self.losses.append(training_step(self.model, self.X, self.y, self.loss_fn, rate))
            self.progress.value = len(self.losses)
            if self.schedule is not None:  # show the rate the schedule is at
                self._busy = True
                self.lr_slider.value = rate
                self._busy = False
        self.redraw()

    def train_more(self, n: int) -> None:
        """Train n more steps, past the planned end if need be (the button does this)."""
        self._extend_to(len(self.losses) + n)
        self.running = True
        try:
            self.train(n)
        finally:
            self.running = False
        self._set_status("finished" if self.done else "paused")

    def _extend_to(self, total: int) -> None:
        if total > self.steps:
            self.steps = total
            self.progress.max = total

    def run(self) -> list[float]:
        """Train every remaining step in this cell, redrawing every few steps.

        While the autograder runs the notebook (``MICROGRADLAB_GRADING=1``) it trains
        nothing and returns the (empty) list of losses."""
        from IPython.display import display

        display(self.widget)
        if nobody_watching():
            # The autograder runs every cell, and nobody watches: a demo run after the graded
            # cells would only cost grading time (tens of seconds a notebook).
            self._set_status("not trained: the notebook is being graded")
            return self.losses
        self.running = True
        try:
            while not self.done:
                self.train(self.redraw_every)
        finally:
            self.running = False
        self._set_status("finished")
        return self.losses

    def stop(self) -> None:
        self.running = False
        self.play.playing = False
        self._set_status("stopped")

    def _on_slider(self, change):
        if not self._busy:  # the learner moved it: their rate wins over the schedule
            self.schedule = None

    def _on_playing(self, change):
        if change["new"] and self.done:  # ▶ after the end: another run as long as the first
            self._extend_to(len(self.losses) + self.first_run)
        self.running = bool(change["new"]) and not self.done
        if self.running:
            self._set_status("training")

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
        word = "training" if self.running else ("finished" if self.done else "ready")
        if nobody_watching():  # being graded: the numbers matter, the pictures are unseen
            self._set_status(word)
            return
        figure = new_figure(4.5, 3.5)
        plot_loss(figure.add_subplot(), self.losses)
        self.loss_picture.value = png_bytes(figure)
        if len(self.X[0]) == 2:
            figure = new_figure(4.5, 3.5)
            plot_boundary(figure.add_subplot(), self.model, self.X, self.y, self.resolution)
            self.boundary_picture.value = png_bytes(figure)
        self._set_status(word)

    def _text(self) -> str:
        return f"Training view: {self.status.value}"

    def _html(self) -> str:
        from html import escape

        from ._static import png_img

        return (f'<div class="mgl-training-static"><div>{escape(self.status.value)}</div>'
                f'{png_img(self.loss_picture.value, "loss curve")}'
                f'{png_img(self.boundary_picture.value, "decision boundary")}</div>')

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

"""BackwardStepper: watch backpropagation one node at a time.

The stepper replays the backward pass on the learner's own graph: it zeroes
every grad, seeds ``root.grad = 1``, then calls each node's ``_backward()`` in
reverse topological order (the output first), writing down every grad after
each call. Afterwards it puts the original grads back, so looking at the
pass never changes the learner's numbers. The pictures are drawn from the
recorded numbers, not from the nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..ops import read_symbol
from . import _graph
from .draw import render_graph


@dataclass
class Step:
    node: object          # the node whose _backward() ran (the root for the seed step)
    grads: list           # grads of graph.nodes after this step
    text: str             # what happened, in words and numbers


class BackwardPass:
    """The recorded steps of one backward pass (no widgets: easy to test)."""

    #: Each step stores every grad, so memory grows as (number of values) ** 2.
    MAX_VALUES = 1000

    def __init__(self, root):
        self.graph = _graph.collect(root, max_nodes=self.MAX_VALUES)
        if self.graph.truncated:
            raise ValueError(f"this graph has more than {self.MAX_VALUES} values: too many to "
                             "step through one by one; try the stepper on a smaller graph "
                             "(one neuron, say)")
        if self.graph.has_cycle:
            raise ValueError("this graph has a cycle (a value is its own input), "
                             "so it has no backward order; check how _prev is set")
        self.root = root
        self.order = list(self.graph.nodes)  # the root first, every node before its inputs
        self.names = self._readable_names()
        self.steps: list[Step] = []
        self._record()

    def grad_at(self, step: int, node) -> float:
        """The grad of ``node`` after ``step`` (0 = just seeded)."""
        return self.steps[step].grads[self.graph.index[id(node)]]

    def _readable_names(self):
        # A node without a label is called by its position so the text still reads.
        names = {}
        for k, node in enumerate(self.graph.nodes):
            names[id(node)] = _graph.label_of(node) or f"node{k}"
        return names

    def _snapshot(self):
        return [getattr(node, "grad", 0.0) for node in self.graph.nodes]

    def _record(self):
        nodes = self.graph.nodes
        saved = self._snapshot()
        try:
            for node in nodes:
                node.grad = 0.0
            self.root.grad = 1.0
            name = self.names[id(self.root)]
            self.steps.append(Step(self.root, self._snapshot(),
                                   f"start: {name}.grad = 1, because d{name}/d{name} = 1"))
            total = len(self.order)
            for k, node in enumerate(self.order, start=1):
                before = self._snapshot()
                try:
                    backward_step = getattr(node, "_backward", None)
                    if callable(backward_step):
                        backward_step()
                except Exception as error:  # the learner's rule failed: show it, stop there
                    self.steps.append(Step(node, self._snapshot(),
                                           f"step {k}/{total}: {self.names[id(node)]}._backward() "
                                           f"raised {type(error).__name__}: {error}"))
                    break
                after = self._snapshot()
                self.steps.append(Step(node, after, f"step {k}/{total}: "
                                       + self._describe(node, before, after)))
        finally:
            for node, grad in zip(nodes, saved):
                node.grad = grad

    def _describe(self, node, before, after) -> str:
        """One line: which local derivative was applied, with the numbers."""
        name = self.names[id(node)]
        inputs = _graph.drawable_inputs(node)
        if not inputs:
            return f"{name} is a leaf (an input): it has no inputs to pass its gradient to"
        text = self._describe_with_table(node, inputs, before, after)
        if text is not None:
            return text
        # An operation the table does not know: report what each input received.
        received = []
        for child in _distinct(inputs):
            i = self.graph.index[id(child)]
            received.append(f"{self.names[id(child)]}.grad += {_short(after[i] - before[i])}")
        op_text = f"{_graph.op_of(node)}(" + ", ".join(self.names.get(id(c), "?") for c in inputs) + ")"
        return f"{name} = {op_text}, so " + ", ".join(received)

    def _describe_with_table(self, node, inputs, before, after) -> str | None:
        """The step in the words of microgradlab.ops: ``e = a * b, so a.grad +=
        b.data * e.grad = 2 * 1 = 2 and ...``. None when the table cannot say it:
        an ``_op`` it does not know, a different number of inputs, a set ``_prev``
        (the operands' order is lost) or numbers its local derivatives refuse."""
        found = read_symbol(getattr(node, "_op", None))
        if found is None:
            return None
        op, constants = found
        if not op.local_text or len(inputs) != op.arity:
            return None
        if len(_distinct(inputs)) > 1 and isinstance(getattr(node, "_prev", None),
                                                    (set, frozenset)):
            return None
        try:
            locals_ = op.local(*[float(x.data) for x in inputs], *constants, float(node.data))
        except Exception:  # noqa: BLE001 - a learner's odd numbers: fall back to plain words
            return None
        name = self.names[id(node)]
        operands = [self.names.get(id(x), "?") for x in inputs] + [_short(c) for c in constants]
        g = after[self.graph.index[id(node)]]
        parts, expected = [], {}
        for x, written, local in zip(inputs, op.local_text, locals_):
            share = written.format(*operands, out=name)
            if share == "1":  # the gradient passes on unchanged
                parts.append(f"{self.names[id(x)]}.grad += {name}.grad = {_short(g)}")
            else:
                parts.append(f"{self.names[id(x)]}.grad += {share} * {name}.grad = "
                             f"{_short(local)} * {_short(g)} = {_short(local * g)}")
            expected[id(x)] = expected.get(id(x), 0.0) + local * g
        text = f"{name} = {op.text.format(*operands)}, so " + " and ".join(parts)
        # What the node's own _backward did, where it is not what the chain rule says.
        off = [f"{self.names[id(x)]}.grad by {_short(after[i] - before[i])}"
               for x in _distinct(inputs) for i in [self.graph.index[id(x)]]
               if not _close(after[i] - before[i], expected[id(x)])]
        if off:
            text += "; but this _backward changed " + " and ".join(off)
        return text


def _short(x) -> str:
    """Numbers in sentences: 4 significant digits, no trailing zeros."""
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError):
        return _graph.short_repr(x, 16)


def _close(got, want) -> bool:
    try:
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12) or got == want
    except TypeError:
        return False


def _distinct(items) -> list:
    """items without repeats, by identity (nodes may be unhashable), in order."""
    return list({id(item): item for item in items}.values())


def BackwardStepper(root):
    """Next / Previous / Reset buttons and a slider over the backward pass of ``root``.

    Each step redraws the graph with the node whose ``_backward()`` just ran
    marked (blue, "▶") and the grads filled in so far.
    """
    return _StepperWidget(BackwardPass(root))


def _make_widget_class():
    import ipywidgets as widgets

    class StepperWidget(widgets.VBox):
        def __init__(self, recorded: BackwardPass):
            self.recorded = recorded
            last = len(recorded.steps) - 1
            fit = widgets.Layout(width="auto")
            self.previous_button = widgets.Button(description="◀ Previous", layout=fit)
            self.next_button = widgets.Button(description="Next ▶", layout=fit)
            self.reset_button = widgets.Button(description="Reset", layout=fit)
            self.slider = widgets.IntSlider(value=0, min=0, max=last, description="step",
                                            continuous_update=True)
            self.caption = widgets.HTML()
            self.caption.add_class("mgl-stepper-text")
            self.picture = widgets.HTML()
            self.previous_button.on_click(lambda _: self.go(self.slider.value - 1))
            self.next_button.on_click(lambda _: self.go(self.slider.value + 1))
            self.reset_button.on_click(lambda _: self.go(0))
            self.slider.observe(lambda change: self._show(change["new"]), names="value")
            controls = widgets.HBox([self.previous_button, self.next_button,
                                     self.reset_button, self.slider])
            super().__init__([controls, self.caption, self.picture])
            self._show(0)

        @property
        def step(self) -> int:
            return self.slider.value

        def _repr_mimebundle_(self, **kwargs):
            # Without a widget front end: the current step in words, and its picture.
            from html import escape

            from ._static import with_fallbacks

            text = self.recorded.steps[self.step].text
            return with_fallbacks(
                super()._repr_mimebundle_(**kwargs),
                f"Backward stepper, step {self.step} of {self.slider.max}: {text}",
                f'<div class="mgl-stepper-static"><code>{escape(text)}</code>'
                f"{self.picture.value}</div>")

        def go(self, step: int):
            self.slider.value = max(0, min(step, self.slider.max))  # the observer redraws

        def _show(self, step: int):
            from html import escape

            current = self.recorded.steps[step]
            grads = {id(n): g for n, g in zip(self.recorded.graph.nodes, current.grads)}
            # The node of the moment is blue with a ▶: the check's orange ✗ means "wrong".
            drawing = render_graph(self.recorded.root, current=current.node, grads=grads)
            self.caption.value = f"<code>{escape(current.text)}</code>"
            self.picture.value = drawing.html()
            self.previous_button.disabled = step == 0
            self.next_button.disabled = step == self.slider.max

    return StepperWidget


_widget_class = None


def _StepperWidget(recorded):
    global _widget_class
    if _widget_class is None:  # build the class on first use: ipywidgets loads only then
        _widget_class = _make_widget_class()
    return _widget_class(recorded)

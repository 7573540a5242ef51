"""BackwardStepper: watch backpropagation one node at a time.

The stepper replays the backward pass on the learner's own graph: it zeroes
every grad, seeds ``root.grad = 1``, then calls each node's ``_backward()`` in
reverse topological order (the output first), writing down every grad after
each call. Afterwards it puts the original grads back, so looking at the
pass never changes the learner's numbers. The pictures are drawn from the
recorded numbers, not from the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        self.order = [self.graph.nodes[i] for i in _graph.topological_from_output(self.graph)]
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
        inputs = _graph.inputs_of(node)
        if not inputs:
            return f"{name} is a leaf (an input): it has no inputs to pass its gradient to"
        fmt = _short
        g = fmt(after[self.graph.index[id(node)]])
        op = _graph.op_of(node)
        a_name = self.names.get(id(inputs[0]), "?")
        b_name = self.names.get(id(inputs[1]), "?") if len(inputs) > 1 else None
        if op == "*" and len(inputs) == 2:
            a, b = inputs
            ia, ib = self.graph.index[id(a)], self.graph.index[id(b)]
            head = f"{name} = {a_name} * {b_name}, so "
            return head + (f"{a_name}.grad += {b_name}.data * {name}.grad = {fmt(b.data)} * {g}"
                           f" = {fmt(after[ia] - before[ia])}"
                           f" and {b_name}.grad += {a_name}.data * {name}.grad = {fmt(a.data)} * {g}"
                           f" = {fmt(after[ib] - before[ib])}")
        if op == "+" and len(inputs) == 2:
            return (f"{name} = {a_name} + {b_name}, so {a_name}.grad += {name}.grad and "
                    f"{b_name}.grad += {name}.grad (= {g}): a sum passes its gradient on unchanged")
        if op == "tanh":
            return (f"{name} = tanh({a_name}), so {a_name}.grad += (1 - {name}.data**2) * {name}.grad"
                    f" = (1 - {fmt(node.data)}**2) * {g}")
        # Any other operation: report what each input received.
        received = []
        for child in dict.fromkeys(inputs, None) if _all_hashable(inputs) else inputs:
            i = self.graph.index[id(child)]
            received.append(f"{self.names[id(child)]}.grad += {fmt(after[i] - before[i])}")
        op_text = f"{op}(" + ", ".join(self.names.get(id(c), "?") for c in inputs) + ")"
        return f"{name} = {op_text}, so " + ", ".join(received)


def _short(x) -> str:
    """Numbers in sentences: 4 significant digits, no trailing zeros."""
    try:
        return f"{float(x):.4g}"
    except (TypeError, ValueError):
        return _graph.short_repr(x, 16)


def _all_hashable(items):
    try:
        for item in items:
            hash(item)
        return True
    except TypeError:
        return False


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

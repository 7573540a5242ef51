"""draw_dot: the graph of any micrograd-style value, with and without graphviz's dot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from microgradlab import Value
from microgradlab.widgets import draw, draw_dot

HAVE_DOT = shutil.which("dot") is not None


def textbook_graph():
    """L = (a*b + c) * f with every node labelled; backward already run."""
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c, f = Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    L = d * f
    L.label = "L"
    L.backward()
    return dict(a=a, b=b, c=c, f=f, e=e, d=d, L=L)


class LearnerValue:
    """The kind of class a learner writes: _prev is a set, _backward a closure."""

    def __init__(self, data, _children=(), _op="", label=""):
        self.data, self.grad = data, 0.0
        self._prev, self._op, self.label = set(_children), _op, label
        self._backward = lambda: None

    def __add__(self, other):
        out = type(self)(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        out = type(self)(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out


class UnhashableValue(LearnerValue):
    """A learner who defined __eq__ (so instances cannot go in a set) and used tuples."""

    __hash__ = None

    def __init__(self, data, _children=(), _op="", label=""):
        super().__init__(data, (), _op, label)
        self._prev = tuple(_children)

    def __eq__(self, other):
        return UnhashableValue(float(self.data == getattr(other, "data", other)))


@pytest.fixture
def no_dot(monkeypatch):
    """Pretend graphviz's dot is not installed, and forget that the note was shown."""
    monkeypatch.setattr(draw.shutil, "which", lambda name: None)
    monkeypatch.setattr(draw, "_told_about_dot", False)


def texts(svg: str) -> list[str]:
    """The text pieces of an SVG, entities decoded (graphviz writes '-' as &#45;)."""
    pieces = (t.replace("\u00a0", " ").strip() for t in ET.fromstring(svg).itertext())
    return [t for t in pieces if t]


def text_of(svg: str) -> str:
    return " | ".join(texts(svg))


def assert_names_every_node(svg, nodes):
    pieces = texts(svg)
    for node in nodes.values():
        assert node.label in pieces or f"✗ {node.label}" in pieces, node.label
        assert f"data {node.data:.4f}" in pieces
        assert f"grad {node.grad:.4f}" in pieces


def test_builtin_renderer_names_every_node_and_is_valid_svg(no_dot, capsys):
    nodes = textbook_graph()
    drawing = draw_dot(nodes["L"])
    assert drawing.renderer == "builtin"
    svg = drawing.svg()
    ET.fromstring(svg)  # well-formed XML
    assert_names_every_node(svg, nodes)
    # 7 values + 3 operations, with one edge into each op per input and one out of it
    assert svg.count('class="node value"') == 7
    assert svg.count('class="node op"') == 3
    assert svg.count('class="edge"') == 2 + 2 + 2 + 3
    bundle = drawing._repr_mimebundle_()
    assert bundle["image/svg+xml"] == svg
    shown = bundle["text/html"]
    assert texts(shown) == texts(svg)
    assert 'width="100%"' in shown and "overflow-x:auto" in shown


def _css_px(html, name):
    return float(re.search(rf"{name}:([0-9.]+)px", html).group(1))


@pytest.mark.parametrize("renderer", ["builtin", "graphviz"])
def test_drawing_scales_to_the_column_but_keeps_text_legible(renderer, monkeypatch):
    if renderer == "graphviz" and not HAVE_DOT:
        pytest.skip("graphviz's dot is not installed")
    if renderer == "builtin":
        monkeypatch.setattr(draw.shutil, "which", lambda name: None)
        monkeypatch.setattr(draw, "_told_about_dot", True)
    drawing = draw_dot(textbook_graph()["L"])
    html = drawing.html()
    svg_head = html[html.index("<svg"):html.index(">", html.index("<svg"))]
    # No fixed size left: the width follows the column, the height the viewBox.
    assert "viewBox" in svg_head and 'height="' not in svg_head
    assert _css_px(html, "max-width") == pytest.approx(drawing.width_px, abs=1)
    # At the smallest width allowed, the text is still 10 px or more.
    scale = _css_px(html, "min-width") / drawing.width_px
    assert scale * drawing.font_px >= 10 - 1e-6
    assert drawing.font_px == (draw.FONT_PT * 4 / 3 if renderer == "graphviz" else 16)


@pytest.mark.parametrize("renderer", ["builtin", "graphviz"])
def test_a_wide_graph_is_drawn_top_to_bottom(renderer, monkeypatch):
    if renderer == "graphviz" and not HAVE_DOT:
        pytest.skip("graphviz's dot is not installed")
    if renderer == "builtin":
        monkeypatch.setattr(draw.shutil, "which", lambda name: None)
        monkeypatch.setattr(draw, "_told_about_dot", True)
    chain = Value(1.0, label="x")
    for k in range(8):
        chain = chain * 1.5
        chain.label = f"y{k}"
    wide = draw_dot(chain, rankdir="LR")
    auto = draw_dot(chain)
    assert wide.smallest_width_px > draw.NARROWEST_COLUMN
    assert auto.rankdir == "TB" and auto.smallest_width_px <= draw.NARROWEST_COLUMN
    small = draw_dot(textbook_graph()["e"])  # a small graph stays left to right
    assert small.rankdir == "LR" and not small.stacked


def small_mlp_output():
    """The graph notebook 06 draws: a 2-2-1 network of tanh neurons on one input."""
    import random

    random.seed(6)
    xs = [Value(1.0, label="x1"), Value(-1.0, label="x2")]
    hidden = []
    for k in range(2):
        act = Value(0.0, label=f"b{k}")
        for i, x in enumerate(xs):
            act = act + Value(random.uniform(-1, 1), label=f"w{k}{i}") * x
        hidden.append(act.tanh())
    out = Value(0.0, label="b")
    for k, h in enumerate(hidden):
        out = out + Value(random.uniform(-1, 1), label=f"v{k}") * h
    out.backward()
    return out


@pytest.mark.parametrize("renderer", ["builtin", "graphviz"])
def test_the_notebooks_graphs_fit_the_narrowest_column_with_10px_text(renderer, monkeypatch):
    """Auto picks, for each kind of graph the course draws, a layout that fits a 1024 px
    window's notebook column at 10 px text; fields are stacked when side by side is too wide."""
    if renderer == "graphviz" and not HAVE_DOT:
        pytest.skip("graphviz's dot is not installed")
    if renderer == "builtin":
        monkeypatch.setattr(draw.shutil, "which", lambda name: None)
        monkeypatch.setattr(draw, "_told_about_dot", True)
    for root in (textbook_graph()["L"], small_mlp_output()):
        drawing = draw_dot(root)
        assert drawing.smallest_width_px <= draw.NARROWEST_COLUMN, (drawing.rankdir, drawing.stacked)
        if drawing.stacked:  # stacking was needed: side by side would not have fitted
            side_by_side = draw._render(draw._scene.build_scene(root), drawing.rankdir, False)
            assert side_by_side.smallest_width_px > draw.NARROWEST_COLUMN
    assert draw_dot(small_mlp_output()).stacked


def test_check_drawings_name_every_node_and_the_stepper_marks_its_node_apart(no_dot, capsys):
    from microgradlab.widgets.draw import render_graph

    x, y = Value(2.0, label="x"), Value(3.0)
    z = x * y
    svg = render_graph(z, highlight={y: "grad should be 2"}, name_all=True).svg()
    # the unlabelled input is named, with the mark beside the name, not instead of it
    assert "✗ node 2" in texts(svg) or "✗ node 1" in texts(svg)
    assert "grad should be 2" in texts(svg)
    stepped = render_graph(z, current=z).svg()
    assert "✗" not in text_of(stepped) and any(t.startswith("▶") for t in texts(stepped))
    assert "#0072b2" in stepped.lower() and "#d55e00" not in stepped.lower()


def test_missing_dot_note_is_printed_once_on_stdout_not_stderr(no_dot, capsys):
    nodes = textbook_graph()
    draw_dot(nodes["L"])
    draw_dot(nodes["d"])
    captured = capsys.readouterr()
    assert captured.out.count("apt-get install graphviz") == 1
    assert "brew install graphviz" in captured.out and "conda install graphviz" in captured.out
    assert captured.err == ""


def test_graphviz_raising_executable_not_found_falls_back(monkeypatch):
    graphviz = pytest.importorskip("graphviz")
    monkeypatch.setattr(draw.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(draw, "_told_about_dot", True)

    def pipe(*args, **kwargs):
        raise graphviz.ExecutableNotFound(["dot"])
    monkeypatch.setattr(graphviz.Digraph, "pipe", pipe)
    drawing = draw_dot(textbook_graph()["L"])
    assert drawing.renderer == "builtin"
    assert "data -6.0000" in texts(drawing.svg())


@pytest.mark.skipif(not HAVE_DOT, reason="graphviz's dot is not installed")
def test_graphviz_renderer_names_every_node_and_marks_highlights():
    nodes = textbook_graph()
    drawing = draw_dot(nodes["L"], highlight={nodes["a"]: "should be 6"})
    assert drawing.renderer == "graphviz"
    svg = drawing.svg()
    assert "should be 6" in texts(svg)
    assert text_of(svg).count("✗") == 1
    assert "#d55e00" in svg.lower()  # the vermillion border
    for node in nodes.values():
        assert f"data {node.data:.4f}" in texts(svg)


def test_dot_missing_from_path_in_a_fresh_process(tmp_path):
    # A real session without dot: PATH holds nothing, so shutil.which finds no dot.
    script = (
        "from microgradlab import Value, draw_dot\n"
        "a = Value(2.0, label='a'); b = Value(3.0, label='b'); c = a * b; c.label = 'c'\n"
        "first = draw_dot(c); second = draw_dot(c, highlight=[a])\n"
        "print(first.renderer, second.renderer)\n"
        "print('MARKED' if '✗ a' in second.svg() else 'UNMARKED')\n"
    )
    env = dict(os.environ, PATH=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "builtin builtin" in done.stdout
    assert "MARKED" in done.stdout.split()
    assert done.stdout.count("apt-get install graphviz") == 1


@pytest.mark.parametrize("renderer", ["builtin", "graphviz"])
def test_highlight_marks_only_the_chosen_nodes_in_text(renderer, monkeypatch):
    if renderer == "graphviz" and not HAVE_DOT:
        pytest.skip("graphviz's dot is not installed")
    if renderer == "builtin":
        monkeypatch.setattr(draw.shutil, "which", lambda name: None)
        monkeypatch.setattr(draw, "_told_about_dot", True)
    nodes = textbook_graph()
    svg = draw_dot(nodes["L"], highlight=[nodes["e"], nodes["c"]]).svg()
    assert sorted(t for t in texts(svg) if "✗" in t) == ["✗ c", "✗ e"]
    svg = draw_dot(nodes["L"], highlight={nodes["b"]: "used twice?"}).svg()
    assert [t for t in texts(svg) if "✗" in t] == ["✗ b"] and "used twice?" in texts(svg)
    assert "✗" not in text_of(draw_dot(nodes["L"]).svg())


@pytest.mark.parametrize("cls", [LearnerValue, UnhashableValue])
def test_learner_classes_draw(cls, no_dot, capsys):
    x, y = cls(3.0, label="x"), cls(4.0, label="y")
    z = x * y + x
    z.label = "z"
    svg = draw_dot(z, highlight=[(x, "check me")]).svg()
    for node in (x, y, z):
        assert f"data {node.data:.4f}" in texts(svg)
    assert "✗ x" in texts(svg) and "check me" in texts(svg)
    assert svg.count('class="node value"') == 4  # x, y, x*y, z: x drawn once though used twice


def test_show_grad_false_leaves_grads_out(no_dot, capsys):
    svg = draw_dot(textbook_graph()["L"], show_grad=False).svg()
    assert "grad" not in text_of(svg) and "data -8.0000" in texts(svg)


@pytest.mark.parametrize("rankdir", ["LR", "RL", "TB", "BT"])
def test_every_direction_renders(rankdir, no_dot, capsys):
    svg = draw_dot(textbook_graph()["L"], rankdir=rankdir).svg()
    assert "data 4.0000" in texts(svg)


def test_big_graph_is_capped_with_a_note(no_dot, capsys):
    x = Value(1.0, label="x")
    for _ in range(3000):  # deeper than any recursion limit
        x = x * 1.0
    drawing = draw_dot(x)
    assert drawing.n_values == 500
    assert "Only the first 500 values are drawn" in text_of(drawing.svg())


def test_cycle_and_odd_objects_do_not_crash(no_dot, capsys):
    a, b = LearnerValue(1.0, label="a"), LearnerValue(2.0, label="b")
    c = a + b
    a._prev = {c}  # a bug: c is now its own ancestor
    svg = draw_dot(c).svg()
    assert "cycle" in text_of(svg)

    class Odd:
        data = "not a number"
        _prev = 5  # not iterable: drawn as a leaf
        label = None
    svg = draw_dot(Odd()).svg()
    assert "data not a number" in text_of(svg) or "data 'not a number'" in texts(svg)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(TypeError, match=r"\.data"):
        draw_dot(3.0)
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(Value(1.0), rankdir="sideways")
    with pytest.raises(TypeError, match="highlight"):
        draw_dot(Value(1.0), highlight=5)


def test_import_microgradlab_stays_light():
    script = ("import sys, microgradlab\n"
              "heavy = [m for m in ('graphviz', 'ipywidgets', 'matplotlib', "
              "'microgradlab.widgets.draw') if m in sys.modules]\n"
              "assert not heavy, heavy\n"
              "assert callable(microgradlab.draw_dot)\n"
              "assert 'microgradlab.widgets.draw' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr

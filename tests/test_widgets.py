"""The stepper, flashcards, the check panel, the derivative explorer and the training view."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html import escape
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from microgradlab import Value
from microgradlab.widgets import (BackwardStepper, Flashcards, TrainingView, check_panel,
                                  derivative_explorer)
from microgradlab.widgets.stepper import BackwardPass
from microgradlab.widgets.training import train_and_plot

from test_draw import LearnerValue, textbook_graph, texts

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def quiet_fallback(monkeypatch):
    # Whether or not dot is installed, the one-time install note must not disturb these tests.
    from microgradlab.widgets import draw
    monkeypatch.setattr(draw, "_told_about_dot", True)


# ----------------------------------------------------------------------
# BackwardStepper
# ----------------------------------------------------------------------
def test_stepper_grads_follow_the_chain_rule_step_by_step():
    n = textbook_graph()
    recorded = BackwardPass(n["L"])
    names = [node.label for node in recorded.order]
    assert len(recorded.steps) == 1 + 7
    # every node is visited after all the nodes that use it
    for user, inputs in [("L", "df"), ("d", "ec"), ("e", "ab")]:
        assert all(names.index(user) < names.index(x) for x in inputs)

    # step 0: only the seed
    seeded = {k: recorded.grad_at(0, v) for k, v in n.items()}
    assert seeded == {"a": 0, "b": 0, "c": 0, "f": 0, "e": 0, "d": 0, "L": 1}

    for step, node in enumerate(recorded.order, start=1):
        before = {k: recorded.grad_at(step - 1, v) for k, v in n.items()}
        after = {k: recorded.grad_at(step, v) for k, v in n.items()}
        changed = {k for k in n if after[k] != before[k]}
        if node.label == "L":  # L = d * f
            assert changed == {"d", "f"}
            assert after["d"] == n["f"].data * after["L"]
            assert after["f"] == n["d"].data * after["L"]
        elif node.label == "d":  # d = e + c
            assert changed == {"e", "c"}
            assert after["e"] == after["c"] == after["d"]
        elif node.label == "e":  # e = a * b
            assert changed == {"a", "b"}
            assert after["a"] == n["b"].data * after["e"]
            assert after["b"] == n["a"].data * after["e"]
        else:  # a leaf pushes nothing
            assert changed == set()
            assert "leaf" in recorded.steps[step].text

    # the last step agrees with a fresh backward pass on the same numbers
    fresh = textbook_graph()
    assert {k: recorded.grad_at(len(recorded.order), v) for k, v in n.items()} == \
           {k: v.grad for k, v in fresh.items()}


def test_stepper_text_names_the_local_derivative():
    n = textbook_graph()
    recorded = BackwardPass(n["L"])
    step = 1 + recorded.order.index(n["e"])
    text = recorded.steps[step].text
    assert text.startswith(f"step {step}/7: e = a * b, so a.grad += b.data * e.grad")
    e_grad = recorded.grad_at(step, n["e"])
    assert f"= {n['b'].data:g} * {e_grad:g} = {n['b'].data * e_grad:g}" in text


def test_stepper_restores_the_learners_grads():
    n = textbook_graph()
    for k, node in enumerate(n.values()):
        node.grad = 100.0 + k  # whatever the learner had, even nonsense
    before = {k: v.grad for k, v in n.items()}
    BackwardStepper(n["L"])
    assert {k: v.grad for k, v in n.items()} == before


def test_stepper_on_a_learner_class_with_closures_and_set_prev():
    x, y = LearnerValue(3.0, label="x"), LearnerValue(4.0, label="y")
    p = x * y
    p.label = "p"
    z = p + x  # x is used twice: its grad collects two shares
    z.label = "z"
    recorded = BackwardPass(z)
    last = len(recorded.steps) - 1
    assert recorded.grad_at(last, x) == y.data + 1
    assert recorded.grad_at(last, y) == x.data
    assert (x.grad, y.grad, z.grad) == (0.0, 0.0, 0.0)


def test_stepper_shows_a_failing_backward_and_stops_there():
    a, b = LearnerValue(2.0, label="a"), LearnerValue(5.0, label="b")
    c = a * b
    c.label = "c"

    def not_done():
        raise NotImplementedError("write the backward of *")
    c._backward = not_done
    recorded = BackwardPass(c)
    assert len(recorded.steps) == 2
    assert "c._backward() raised NotImplementedError: write the backward of *" in \
        recorded.steps[-1].text
    assert (a.grad, b.grad, c.grad) == (0.0, 0.0, 0.0)


def test_stepper_widget_buttons_move_and_redraw():
    n = textbook_graph()
    stepper = BackwardStepper(n["L"])
    assert stepper.step == 0 and stepper.previous_button.disabled
    assert "start: L.grad = 1" in stepper.caption.value
    stepper.next_button.click()
    assert stepper.step == 1
    assert "step 1/7: L = d * f" in stepper.caption.value
    pieces = texts(stepper.picture.value)
    # the node of the moment: blue and "▶", never the check's orange "✗" (it is not wrong)
    assert "▶ L" in pieces and not any("✗" in piece for piece in pieces)
    assert "#0072b2" in stepper.picture.value.lower()
    assert "#d55e00" not in stepper.picture.value.lower()
    assert f"grad {n['f'].data:.4f}" in pieces  # d.grad = f.data after the first step
    bundle = stepper._repr_mimebundle_()  # for front ends without widgets: the step in words
    assert bundle["text/plain"].startswith("Backward stepper, step 1 of 7: step 1/7: L = d * f")
    assert "<svg" in bundle["text/html"]
    stepper.slider.value = 7
    assert stepper.next_button.disabled
    stepper.next_button.click()
    assert stepper.step == 7
    stepper.reset_button.click()
    assert stepper.step == 0


def test_stepper_rejects_non_values_and_huge_graphs():
    with pytest.raises(TypeError, match="data"):
        BackwardStepper("L")
    x = Value(1.0)
    for _ in range(BackwardPass.MAX_VALUES):
        x = x * 1.0
    with pytest.raises(ValueError, match="too many to step through"):
        BackwardStepper(x)


# ----------------------------------------------------------------------
# Flashcards and the printing script
# ----------------------------------------------------------------------
CARDS = [("What is d(a*b)/da?", "b, the <other> factor"), ("Why +=?", "A node used twice")]


def test_flashcards_html_has_every_card_and_one_per_printed_page(tmp_path):
    deck = Flashcards("04 backward", CARDS)
    page = deck.save_html(tmp_path / deck.file_name).read_text(encoding="utf-8")
    assert deck.file_name == "flashcards_04_backward.html"
    assert "page-break-after: always" in page and "@media print" in page
    for question, answer in CARDS:
        assert question in page
    # question and answer of a card sit together in one card (the page breaks between cards)
    cards = page.split('class="mgl-card"')[1:]
    assert all(q in card and escape(a) in card for card, (q, a) in zip(cards, CARDS))
    assert "b, the &lt;other&gt; factor" in page  # escaped, not swallowed as a tag
    assert page.count('class="mgl-card"') == len(CARDS)
    inline = deck._repr_html_()
    assert inline.count("<details>") == len(CARDS) and "Why +=?" in inline


def test_flashcards_link_to_the_raw_page_of_the_server_that_runs_the_kernel(tmp_path,
                                                                            monkeypatch):
    from microgradlab.widgets import flashcards

    runtime = tmp_path / "runtime"
    runtime.mkdir()
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    info = {"url": "http://127.0.0.1:8899/base/", "root_dir": str(root), "pid": 1}
    (runtime / f"jpserver-{os.getppid()}.json").write_text(json.dumps(info))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    page = root / "notebooks" / "flashcards_04 deck.html"
    assert flashcards.served_url(page) == \
        "http://127.0.0.1:8899/base/files/notebooks/flashcards_04%20deck.html"
    html = flashcards.print_link_html(page)
    assert 'target="_blank"' in html and "http://127.0.0.1:8899/base/files/" in html
    elsewhere = tmp_path / "other" / "f.html"  # not under the server's root: say what to do
    assert "Open in New Browser Tab" in flashcards.print_link_html(elsewhere)


def test_flashcards_reject_malformed_cards():
    with pytest.raises(ValueError, match="card 1"):
        Flashcards("x", [("q", "a"), ("only a question",)])
    with pytest.raises(ValueError, match="title"):
        Flashcards("", CARDS)
    with pytest.raises(ValueError, match="at least one"):
        Flashcards("x", [])


def test_print_flashcards_script_extracts_every_deck(tmp_path):
    source = tmp_path / "src" / "09_demo"
    source.mkdir(parents=True)
    (source / "09_demo.py").write_text(
        "# %%\nfrom microgradlab.widgets import Flashcards\n"
        f"Flashcards('09_demo', {CARDS!r})\n", encoding="utf-8")
    out = tmp_path / "printable"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "print_flashcards.py"),
                           str(out), "--sources", str(tmp_path / "src")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page = (out / "flashcards_09_demo.html").read_text(encoding="utf-8")
    assert all(q in page for q, _ in CARDS) and "page-break-after: always" in page


def test_print_flashcards_refuses_non_literal_cards():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import print_flashcards
    finally:
        sys.path.pop(0)
    with pytest.raises(ValueError, match="literals"):
        print_flashcards.find_decks("Flashcards('t', make_cards())")
    assert print_flashcards.find_decks("widgets.Flashcards(title='t', cards=[('q', 'a')])") \
        == [("t", [("q", "a")])]


# ----------------------------------------------------------------------
# check_panel
# ----------------------------------------------------------------------
@dataclass
class FakeReport:
    state: str
    text: str = ""
    graph_root: object = None
    highlight: dict = field(default_factory=dict)


def test_check_panel_renders_each_state():
    n = textbook_graph()
    reports = iter([
        FakeReport("not_attempted", "backward still raises NotImplementedError"),
        FakeReport("correct", "all 12 cases match PyTorch"),
        FakeReport("wrong", "a.grad is off", n["L"], {n["a"]: "expected from b"}),
    ])
    panel = check_panel("ex04_backward", lambda: next(reports), lambda: "seed the output")
    assert "mgl-check-result" in panel.result._dom_classes
    panel.check_button.click()
    assert "○ Not attempted yet" in panel.result.value
    assert "backward still raises NotImplementedError" in panel.result.value
    panel.check_button.click()
    assert "✓ Correct" in panel.result.value and "<svg" not in panel.result.value
    panel.check_button.click()
    assert "✗ Not yet" in panel.result.value and "a.grad is off" in panel.result.value
    html = panel.result.value
    graph = html[html.index("<svg"):html.rindex("</svg>") + len("</svg>")]
    assert "✗ a" in texts(graph) and "expected from b" in texts(graph)
    panel.hint_button.click()
    assert "seed the output" in panel.hint_area.value


def test_check_panel_carries_its_verdict_for_front_ends_without_widgets():
    reports = iter([FakeReport("wrong", "a.grad is 1.0, expected 4.0"),
                    FakeReport("correct", "all cases pass")])
    panel = check_panel("ex04_backward", lambda: next(reports), lambda: "hint")
    assert "not checked yet" in panel._repr_mimebundle_()["text/plain"]
    panel.check_button.click()
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the live widget stays
    assert bundle["text/plain"].splitlines()[:3] == [
        "Self-check ex04_backward", "✗ Not yet", "a.grad is 1.0, expected 4.0"]
    assert "✗ Not yet" in bundle["text/html"] and "VBox(" not in bundle["text/plain"]
    panel.check_button.click()
    assert "✓ Correct" in panel._repr_mimebundle_()["text/plain"]


def test_check_panel_turns_exceptions_into_readable_messages():
    def broken():
        raise ZeroDivisionError("float division by zero")
    panel = check_panel("ex03_div_pow", broken, lambda: 1 / 0)
    panel.check_button.click()
    assert "could not run" in panel.result.value
    assert "ZeroDivisionError: float division by zero" in panel.result.value
    panel.hint_button.click()
    assert "no hint available" in panel.hint_area.value

    panel = check_panel("ex03_div_pow", lambda: FakeReport("maybe"), lambda: "")
    panel.check_button.click()
    assert "state &#x27;maybe&#x27;" in panel.result.value


def test_check_panel_needs_functions():
    with pytest.raises(TypeError, match="make_report"):
        check_panel("ex01_difference", "not a function", lambda: "")


# ----------------------------------------------------------------------
# derivative_explorer
# ----------------------------------------------------------------------
def test_explorer_shows_the_secant_slope_converging():
    def cube(x):
        return x**3
    box = derivative_explorer(cube, x=2.0, h=1.0, df=lambda x: 3 * x**2)
    assert box.picture.value[:4] == b"\x89PNG"
    assert f"<b>{(cube(3.0) - cube(2.0)) / 1.0:.6g}</b>" in box.numbers.value
    bundle = box._repr_mimebundle_()
    assert "secant slope 19," in bundle["text/plain"] and "derivative 12" in bundle["text/plain"]
    assert "data:image/png;base64," in bundle["text/html"]
    box.h_slider.value = 0.01
    assert f"<b>{(cube(2.01) - cube(2.0)) / 0.01:.6g}</b>" in box.numbers.value
    from microgradlab.widgets.explorer import convergence_rows
    errors = [err for _, _, err in convergence_rows(cube, 2.0, lambda x: 3 * x**2)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-2 * errors[0]


def test_explorer_default_is_x_squared_and_rejects_bad_input():
    box = derivative_explorer()
    assert "<b>7</b>" in box.numbers.value  # ((3+1)**2 - 3**2) / 1
    with pytest.raises(TypeError, match="function"):
        derivative_explorer(42)
    with pytest.raises(ValueError, match="h must not be 0"):
        derivative_explorer(h=0)


# ----------------------------------------------------------------------
# TrainingView
# ----------------------------------------------------------------------
def tiny_problem():
    from microgradlab.nn import MLP, hinge_loss
    X = [[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0], [0.0, 2.0], [2.0, 0.0]]
    y = [-1, 1, 1, 1, 1, 1]
    return MLP(2, [4, 1], seed=3), X, y, hinge_loss


def test_train_and_plot_lowers_the_loss():
    model, X, y, loss = tiny_problem()
    losses, figure = train_and_plot(model, X, y, loss, steps=40, lr=0.1)
    assert len(losses) == 40 and losses[-1] < losses[0]
    assert len(figure.axes) == 2


def test_training_view_trains_on_play_ticks_and_stops():
    model, X, y, loss = tiny_problem()
    view = TrainingView(model, X, y, loss, steps=12, lr=0.1, chunk=5)
    view.play.value = 1  # a tick while not playing (e.g. after Stop) does nothing
    assert view.losses == []
    view.play.playing = True
    view.play.value = 2
    assert len(view.losses) == 5 and view.progress.value == 5
    view.stop_button.click()
    assert not view.running and view.play.playing is False
    view.play.value = 3
    assert len(view.losses) == 5
    view.more_button.click()
    assert len(view.losses) == 15 and "15/15 steps" in view.status.value  # past the plan
    assert view.loss_picture.value[:4] == b"\x89PNG"


@pytest.mark.slow  # trains for real
def test_training_view_goes_on_after_run_and_says_what_it_does():
    model, X, y, loss = tiny_problem()
    view = TrainingView(model, X, y, loss, steps=6, lr=0.1, chunk=2)
    seen = []
    view.status.observe(lambda change: seen.append(change["new"]), names="value")
    view.run()
    assert len(view.losses) == 6 and "(finished)" in view.status.value
    assert any("(training)" in text for text in seen)  # while it trained, it said so
    view.more_button.click()  # "Train 4 more steps" after the end
    assert len(view.losses) == 10 and view.progress.max == 10
    view.play.playing = True  # ▶ after the end: another run as long as the first
    assert view.running and view.steps == 16
    for tick in range(1, 4):
        view.play.value = tick
    assert len(view.losses) == 16 and not view.play.playing
    # the fallback for front ends without widgets carries the status and the pictures
    bundle = view._repr_mimebundle_()
    assert "16/16 steps" in bundle["text/plain"]
    assert "data:image/png;base64," in bundle["text/html"]


def test_training_view_follows_a_schedule_until_the_slider_moves():
    model, X, y, loss = tiny_problem()
    view = TrainingView(model, X, y, loss, steps=4, lr=lambda step: 0.5 / (step + 1))
    view.train(2)
    assert view.lr_slider.value == pytest.approx(0.25)  # the rate of the last step, shown
    view.lr_slider.value = 0.01  # the learner takes over
    assert view.schedule is None and view.learning_rate() == pytest.approx(0.01)


def test_training_view_converts_numpy_rows_to_floats():
    numpy = pytest.importorskip("numpy")
    model, X, y, loss = tiny_problem()
    view = TrainingView(model, numpy.array(X), numpy.array(y), loss, steps=2, lr=0.1)
    assert all(type(v) is float for row in view.X for v in row)
    view.train(2)
    assert len(view.losses) == 2


def test_training_view_draws_nothing_while_graded_and_run_trains_nothing(monkeypatch):
    """The grader's sandbox sets MICROGRADLAB_GRADING=1: no pictures, and the demo's
    run() (after every graded cell) costs no grading time; explicit steps still train."""
    model, X, y, loss = tiny_problem()
    watched = TrainingView(model, X, y, loss, steps=10, lr=0.1)
    watched.run()
    monkeypatch.setenv("MICROGRADLAB_GRADING", "1")
    model, X, y, loss = tiny_problem()
    graded = TrainingView(model, X, y, loss, steps=10, lr=0.1)
    assert graded.run() == [] and "being graded" in graded.status.value
    graded.train(10)
    assert graded.losses == watched.losses and "10/10 steps" in graded.status.value
    assert graded.loss_picture.value == b"" and graded.boundary_picture.value == b""
    assert watched.loss_picture.value[:4] == b"\x89PNG"


def test_training_view_rejects_bad_settings():
    model, X, y, loss = tiny_problem()
    with pytest.raises(ValueError, match="labels"):
        TrainingView(model, X, y[:-1], loss)
    with pytest.raises(ValueError, match="lr"):
        TrainingView(model, X, y, loss, lr=0)

"""Running an exercise in-process: visible (the graded cell), verify (its hidden
part), check (the self-check button), hint."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

from ..exercises import Exercise, get, withheld
from ..exercises._base import nodes_inputs_first
from ..exercises.seeds import graded_seed
from .verdict import ExerciseResult, verdict

__all__ = ["run_exercise", "run_cases", "visible", "verify", "self_check", "check", "hint",
           "hint_text", "SelfCheckReport", "ExerciseResult"]


@dataclass
class SelfCheckReport:
    exercise_id: str
    state: str                      # "not_attempted", "correct" or "wrong"
    text: str
    graph_root: object = None       # the learner's graph of the first failing case, if it has one
    highlight: dict = field(default_factory=dict)  # node -> note, for nodes with a wrong value/grad


def spec(exercise):
    """An exercise id becomes its spec here, at the entry points (a spec passes through)."""
    return exercise if isinstance(exercise, Exercise) else get(exercise)


def _check_names(exercise, names):
    if not isinstance(names, dict):
        raise TypeError(f"names must be a dict like {{'{exercise.uses[0]}': ...}}, got "
                        f"{type(names).__name__}")


def run_cases(exercise, names, cases) -> ExerciseResult:
    """produce (learner code, reference pieces withheld) -> verdict, for these cases.
    ``exercise``: an id or an Exercise."""
    exercise = spec(exercise)
    _check_names(exercise, names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with withheld(exercise.notebook, exercise.id):
            produced = [exercise.produce(case, names) for case in cases]
        return verdict(exercise, cases, produced)


def run_exercise(exercise, names, seed=None) -> ExerciseResult:
    """Every case (fixed, then random from ``seed``) through the one verdict."""
    exercise = spec(exercise)
    _check_names(exercise, names)
    return run_cases(exercise, names, exercise.cases(seed))


def visible(exercise_id, **names):
    """The graded cell's visible tests: the cases the notebook shows, judged by the
    same verdict as everything else. Raises AssertionError with the message."""
    exercise = spec(exercise_id)
    result = run_cases(exercise, names, exercise.shown_cases())
    if not result.passed:
        first = next(r for r in result.results if not r.passed)
        raise AssertionError(first.message if not result.not_attempted else result.summary)


def verify(exercise_id, **names):
    """The graded test: raises AssertionError(summary) unless every case passes. Its
    random cases are the course's when the environment names a course (nbgrader's
    kernels; see ``exercises.seeds.graded_seed``), so every consumer that grades draws
    the same cases."""
    exercise = spec(exercise_id)
    result = run_exercise(exercise, names, seed=graded_seed(exercise))
    if not result.passed:
        raise AssertionError(result.summary)


# ----------------------------------------------------------------------------
# Self-check: the report, with the learner's graph of the first failing case
# ----------------------------------------------------------------------------
def _highlight(result, nodes):
    marks = {}
    for key in result.wrong:
        name, _, attribute = key.partition(".")
        node = nodes.get(name)
        if node is None and key.startswith("out"):
            node = nodes.get("out")
        if node is not None and attribute.startswith("_backward()"):
            attribute = "_backward"  # what that node's _backward alone added
        if node is not None and attribute in ("data", "grad", "_op", "_prev", "_backward"):
            marks[node] = marks.get(node, "") + f"{attribute} is wrong; "
    return {n: note.rstrip("; ") for n, note in marks.items()}


def self_check(exercise_id, **names) -> SelfCheckReport:
    """Run the exercise and explain the result; never raises on learner code."""
    exercise = spec(exercise_id)
    # One fresh seed, kept, so the failing case can be rebuilt for the drawing.
    seed = int.from_bytes(os.urandom(4), "big")
    cases = exercise.cases(seed)
    result = run_cases(exercise, names, cases)
    if result.passed:
        return SelfCheckReport(exercise.id, "correct", result.summary)
    if result.not_attempted:
        return SelfCheckReport(exercise.id, "not_attempted", result.summary)
    lines = [result.summary, ""]
    for r in result.results:
        lines.append(("  ok    " if r.passed else "  WRONG ") + r.case_name)
    root, marks = None, {}
    # Draw a failing case the learner has seen if there is one, else the first
    # failing case. The drawing shows only the learner's own numbers and marks,
    # never an expected value, so a hidden case may be drawn too.
    failing = [(r, c) for r, c in zip(result.results, cases) if not r.passed]
    first, case = next(((r, c) for r, c in failing if r.shown), failing[0])
    if first.wrong:
        try:
            with warnings.catch_warnings(), withheld(exercise.notebook, exercise.id):
                warnings.simplefilter("ignore")
                built = exercise.graph(case, names)
                if built is not None:
                    root, nodes = built
                    marks = _highlight(first, nodes)
                    nodes_inputs_first(root)  # the graph is walkable
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - a broken learner graph: report without a drawing
            root, marks = None, {}
    return SelfCheckReport(exercise.id, "wrong", "\n".join(lines), root, marks)


# ----------------------------------------------------------------------------
# check and hint
# ----------------------------------------------------------------------------
def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _in_kernel():
    shell = _shell()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def current_names(exercise_id, given):
    """The learner's names as they are NOW: looked up in the kernel's namespace at
    click time (so re-running an edited answer cell is enough), else as given."""
    exercise = spec(exercise_id)
    shell = _shell()
    namespace = getattr(shell, "user_ns", None) if shell is not None else None
    names = dict(given)
    if isinstance(namespace, dict):
        for name in exercise.uses:
            if name in namespace:
                names[name] = namespace[name]
    return names


def check(exercise_id, **names):
    """Self-check: a widget (button + result) in Jupyter, printed text elsewhere.
    Each click checks the names as they are in the notebook at that moment."""
    exercise = spec(exercise_id)  # an unknown id fails here, clearly
    if _in_kernel():
        try:
            import ipywidgets  # noqa: F401
            from .. import widgets
            panel = widgets.check_panel(
                exercise.id,
                make_report=lambda: self_check(exercise, **current_names(exercise, names)),
                next_hint=lambda: hint_text(exercise))
            # Check once straight away, so running the cell shows where you stand;
            # the button re-checks after you change your code.
            panel.check_button.click()
            return panel
        except (ImportError, AttributeError):
            pass
    print(self_check(exercise, **current_names(exercise, names)).text)
    return None


_HINTS_GIVEN: dict[str, int] = {}


def hint_text(exercise_id):
    """The next hint for this exercise (one more tier each call)."""
    exercise = spec(exercise_id)
    given = _HINTS_GIVEN.get(exercise.id, 0)
    tier = min(given, len(exercise.hints) - 1)
    _HINTS_GIVEN[exercise.id] = given + 1
    text = f"Hint {tier + 1} of {len(exercise.hints)}: {exercise.hints[tier]}"
    if given >= len(exercise.hints) - 1:
        text += " (that is the last hint)"
    return text


def hint(exercise_id):
    """Print the next hint for this exercise."""
    print(hint_text(exercise_id))

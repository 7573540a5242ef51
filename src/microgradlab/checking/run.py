"""Running an exercise in-process: verify (the graded test), check (self-check), hint."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

from ..exercises import get, withheld
from ..exercises._base import nodes_inputs_first
from .compare import CaseResult, compare
from .expected import expected


@dataclass
class ExerciseResult:
    exercise_id: str
    passed: bool
    not_attempted: bool
    results: list[CaseResult]
    summary: str


@dataclass
class SelfCheckReport:
    exercise_id: str
    state: str                      # "not_attempted", "correct" or "wrong"
    text: str
    graph_root: object = None       # the learner's graph of the first failing case, if it has one
    highlight: dict = field(default_factory=dict)  # node -> note, for nodes with a wrong value/grad


def _produce_all(exercise, names, cases):
    with withheld(exercise.notebook, exercise.id):
        return [exercise.produce(case, names) for case in cases]


def run_exercise(exercise_id, names, seed=None) -> ExerciseResult:
    """cases -> produce (learner code, reference pieces withheld) -> expected -> compare."""
    exercise = get(exercise_id)
    if not isinstance(names, dict):
        raise TypeError(f"names must be a dict like {{'{exercise.uses[0]}': ...}}, got "
                        f"{type(names).__name__}")
    cases = exercise.cases(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        produced = _produce_all(exercise, names, cases)
        results = [compare(exercise_id, case, got, expected(exercise_id, case))
                   for case, got in zip(cases, produced)]
    failed = [r for r in results if not r.passed]
    # A stub raises NotImplementedError wherever it is called; cases that never
    # call it may pass, which still counts as not attempted.
    not_attempted = bool(failed) and all(r.not_attempted for r in failed)
    if not failed:
        summary = f"{exercise_id}: all {len(results)} cases pass. Well done!"
    elif not_attempted:
        summary = (f"{exercise_id}: not attempted yet -- replace `raise NotImplementedError` "
                   f"with your code ({', '.join(exercise.uses)}).")
    else:
        first = failed[0]
        summary = (f"{exercise_id}: {len(results) - len(failed)} of {len(results)} cases pass. "
                   f"First failing {first.message}")
        mistakes = sorted({r.mistake for r in failed if r.mistake})
        if "reference_solution" in mistakes:
            summary += ("\nThis exercise is graded on your own code: the reference solution "
                        "shipped with microgradlab does not count.")
    return ExerciseResult(exercise_id, not failed, not_attempted, results, summary)


def verify(exercise_id, **names):
    """The graded test: raises AssertionError(summary) unless every case passes."""
    result = run_exercise(exercise_id, names)
    if not result.passed:
        raise AssertionError(result.summary)


# ----------------------------------------------------------------------------
# Self-check: the report, with the learner's graph of the first failing case
# ----------------------------------------------------------------------------
def _graph_of(exercise, case, names):
    """(root, {name: node}) of the learner's version of ``case``, or (None, {})."""
    built = exercise.graph(case, names)
    return built if built is not None else (None, {})


def _highlight(result, nodes):
    marks = {}
    for key in result.wrong:
        name, _, attribute = key.partition(".")
        node = nodes.get(name)
        if node is None and key.startswith("out"):
            node = nodes.get("out")
        if node is not None and attribute in ("data", "grad", "_op", "_prev"):
            marks[node] = marks.get(node, "") + f"{attribute} is wrong; "
    return {n: note.rstrip("; ") for n, note in marks.items()}


def self_check(exercise_id, **names) -> SelfCheckReport:
    """Run the exercise and explain the result; never raises on learner code."""
    exercise = get(exercise_id)
    # One fresh seed, kept, so the failing case can be rebuilt for the drawing.
    seed = int.from_bytes(os.urandom(4), "big")
    result = run_exercise(exercise_id, names, seed=seed)
    if result.passed:
        return SelfCheckReport(exercise_id, "correct", result.summary)
    if result.not_attempted:
        return SelfCheckReport(exercise_id, "not_attempted", result.summary)
    lines = [result.summary, ""]
    for r in result.results:
        lines.append(("  ok    " if r.passed else "  WRONG ") + r.case_name)
    root, marks = None, {}
    # Draw a failing case the learner has seen if there is one, else the first
    # failing case. The drawing shows only the learner's own numbers and marks,
    # never an expected value, so a hidden case may be drawn too.
    failing = [(r, c) for r, c in zip(result.results, exercise.cases(seed)) if not r.passed]
    first, case = next(((r, c) for r, c in failing if r.shown), failing[0])
    if case is not None and first.wrong:
        try:
            with warnings.catch_warnings(), withheld(exercise.notebook, exercise.id):
                warnings.simplefilter("ignore")
                root, nodes = _graph_of(exercise, case, names)
                marks = _highlight(first, nodes) if root is not None else {}
                if root is not None:
                    nodes_inputs_first(root)  # the graph is walkable
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - a broken learner graph: report without a drawing
            root, marks = None, {}
    return SelfCheckReport(exercise_id, "wrong", "\n".join(lines), root, marks)


# ----------------------------------------------------------------------------
# check and hint
# ----------------------------------------------------------------------------
def _in_kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def check(exercise_id, **names):
    """Self-check: a widget (button + result) in Jupyter, printed text elsewhere."""
    get(exercise_id)  # an unknown id fails here, clearly
    if _in_kernel():
        try:
            import ipywidgets  # noqa: F401
            from .. import widgets
            panel = widgets.check_panel(
                exercise_id, make_report=lambda: self_check(exercise_id, **names),
                next_hint=lambda: hint_text(exercise_id))
            # Check once straight away, so running the cell shows where you stand;
            # the button re-checks after you change your code.
            panel.check_button.click()
            return panel
        except (ImportError, AttributeError):
            pass
    print(self_check(exercise_id, **names).text)
    return None


_HINTS_GIVEN: dict[str, int] = {}


def hint_text(exercise_id):
    """The next hint for this exercise (one more tier each call)."""
    exercise = get(exercise_id)
    given = _HINTS_GIVEN.get(exercise_id, 0)
    tier = min(given, len(exercise.hints) - 1)
    _HINTS_GIVEN[exercise_id] = given + 1
    text = f"Hint {tier + 1} of {len(exercise.hints)}: {exercise.hints[tier]}"
    if given >= len(exercise.hints) - 1:
        text += " (that is the last hint)"
    return text


def hint(exercise_id):
    """Print the next hint for this exercise."""
    print(hint_text(exercise_id))

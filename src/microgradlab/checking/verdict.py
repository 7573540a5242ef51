"""One verdict for an exercise, whoever asks.

The graded cell's visible tests (the shown cases), the check button and
``verify`` (every case), and ``microgradlab grade`` (every case, with the
results it collected from the sandbox) all call :func:`verdict`, which judges
each case with :func:`compare` against :func:`expected`. So they cannot
disagree about an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exercises import get
from .compare import CaseResult, compare
from .expected import expected


@dataclass
class ExerciseResult:
    exercise_id: str
    passed: bool
    not_attempted: bool
    results: list[CaseResult]
    summary: str


def verdict(exercise_id, cases, produced, expected_values=None) -> ExerciseResult:
    """Judge ``produced[i]`` (what the learner's code gave for ``cases[i]``).
    ``expected_values[i]`` may be given (the grader computed them before grading);
    otherwise PyTorch computes them here (cached for fixed cases)."""
    exercise = get(exercise_id)
    if len(produced) != len(cases):
        raise ValueError(f"{exercise_id}: {len(cases)} cases but {len(produced)} results")
    if expected_values is None:
        expected_values = [expected(exercise_id, case) for case in cases]
    results = [compare(exercise_id, case, got, want)
               for case, got, want in zip(cases, produced, expected_values)]
    return summarise(exercise, results)


def summarise(exercise, results) -> ExerciseResult:
    failed = [r for r in results if not r.passed]
    # A stub raises NotImplementedError wherever it is called; cases that never
    # call it may pass, which still counts as not attempted.
    not_attempted = bool(failed) and all(r.not_attempted for r in failed)
    if not failed:
        summary = f"{exercise.id}: all {len(results)} cases pass. Well done!"
    elif not_attempted:
        summary = (f"{exercise.id}: not attempted yet -- replace `raise NotImplementedError` "
                   f"with your code ({', '.join(exercise.uses)}).")
    else:
        first = failed[0]
        summary = (f"{exercise.id}: {len(results) - len(failed)} of {len(results)} cases pass. "
                   f"First failing {first.message}")
        mistakes = sorted({r.mistake for r in failed if r.mistake})
        if "reference_solution" in mistakes:
            summary += ("\nThis exercise is graded on your own code: the reference solution "
                        "shipped with microgradlab does not count.")
        elif exercise.builds_on:
            # "may": the learner's answer need not call the earlier code (a backward
            # with a walk of its own never runs topological_order).
            summary += ("\n(This exercise may also run your code from "
                        + ", ".join(exercise.builds_on) + ": if that fails too, fix it first.)")
    return ExerciseResult(exercise.id, not failed, not_attempted, results, summary)

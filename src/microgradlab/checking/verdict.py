"""One verdict for an exercise, whoever asks.

The graded cell's visible tests (the shown cases), the check button and
``verify`` (every case), nbgrader (which runs ``verify``) and ``microgradlab
grade`` (every case, with the results it collected from the sandbox) all call
:func:`verdict`, which judges each case with :func:`compare` against
:func:`expected`. So they cannot disagree about an answer. A case whose result
never came back (the grader passes None for it) is "not delivered": the
exercise then neither passes nor counts as not attempted.

:func:`knock_on` is the one rule for "this failure may come from an earlier
exercise": the summary and the grader's feedback page both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exercises import get
from .compare import CaseResult, compare, require_exercise
from .expected import expected as pytorch_expected


@dataclass
class ExerciseResult:
    exercise_id: str
    passed: bool
    not_attempted: bool
    results: list[CaseResult]
    summary: str                    # what the learner reads (the kernel's text)
    delivered: bool = True          # every case's result came back
    message: str = ""               # the verdict without the exercise id and notes
    mistake: str | None = None      # the first catalogued mistake among the failing cases
    reference_used: bool = False    # a failing case ran the reference solution


def verdict(exercise, cases, produced, expected=None) -> ExerciseResult:
    """Judge ``produced[i]`` (what the learner's code gave for ``cases[i]``; None when
    that result never came back). ``expected[i]`` may be given (the grader computes
    them before grading); otherwise PyTorch computes them here (cached for fixed cases)."""
    require_exercise(exercise)
    if len(produced) != len(cases):
        raise ValueError(f"{exercise.id}: {len(cases)} cases but {len(produced)} results")
    if expected is None:
        expected = [pytorch_expected(exercise, case) for case in cases]
    elif len(expected) != len(cases):
        raise ValueError(f"{exercise.id}: {len(cases)} cases but {len(expected)} expected results")
    results = [judge(exercise, case, got, want)
               for case, got, want in zip(cases, produced, expected)]
    return summarise(exercise, results)


def judge(exercise, case, produced, expected) -> CaseResult:
    """compare, with a result too malformed to read counting as a failed case (what
    the grader gets back from a sandbox is learner-controlled)."""
    try:
        return compare(exercise, case, produced, expected)
    except Exception as exc:  # noqa: BLE001 - a malformed result fails its case, never the judge
        name = case.get("name", "") if isinstance(case, dict) else ""
        return CaseResult(False, f"case '{name or '?'}': the result could not be checked "
                          f"({type(exc).__name__})", shown=bool(case.get("shown")),
                          case_name=name)


def summarise(exercise, results) -> ExerciseResult:
    count = len(results)
    failed = [r for r in results if not r.passed]
    missing = [r for r in results if not r.delivered]
    delivered = not missing
    # A stub raises NotImplementedError wherever it is called; cases that never
    # call it may pass, which still counts as not attempted.
    not_attempted = delivered and bool(failed) and all(r.not_attempted for r in failed)
    mistake = next((r.mistake for r in failed if r.mistake), None)
    reference_used = any(r.reference_used for r in failed)
    if not delivered:
        message = ("no result: the code stopped before this exercise was tested"
                   if len(missing) == count else
                   f"no result for {len(missing)} of {count} cases: the code stopped before "
                   "this exercise was fully tested")
    elif not failed:
        message = f"all {count} cases pass"
    elif not_attempted:
        message = ("not attempted yet -- replace `raise NotImplementedError` with your code "
                   f"({', '.join(exercise.uses)})")
    else:
        message = f"{count - len(failed)} of {count} cases pass. First failing {failed[0].message}"
    summary = f"{exercise.id}: {message}" + (". Well done!" if not failed else "")
    if failed and reference_used:
        summary += ("\nThis exercise is graded on your own code: the reference solution "
                    "shipped with microgradlab does not count.")
    elif failed and not not_attempted:
        causes = knock_on(exercise)
        if causes:
            # "may": the learner's answer need not call the earlier code (a backward
            # with a walk of its own never runs topological_order).
            summary += ("\n(This exercise may also run your code from "
                        + ", ".join(c.id for c in causes) + ": if that fails too, fix it first.)")
    return ExerciseResult(exercise.id, not failed, not_attempted, results, summary, delivered,
                          message, mistake, reference_used)


def knock_on(exercise, failed=None, code=None) -> list:
    """The earlier exercises a failure of ``exercise`` may come from.

    One counts when ``exercise`` builds on it (``Exercise.builds_on``), it fails too
    (``failed``: the ids that fail; None when not known), and the learner's answer to
    ``exercise`` runs its code: ``exercise`` is graded through a name the earlier one
    wrote (ex03_sub_neg's `Value`), or the learner's answer mentions one of those names
    (a `backward` that calls `topological_order`). ``code`` maps exercise ids to the
    learner's answer source; an answer not at hand counts as running it."""
    require_exercise(exercise)
    code = code or {}
    causes = []
    for earlier_id in exercise.builds_on:
        if earlier_id == exercise.id or (failed is not None and earlier_id not in failed):
            continue
        earlier = get(earlier_id)
        if runs_code_of(exercise, earlier, code.get(exercise.id)):
            causes.append(earlier)
    return causes


def runs_code_of(later, earlier, answer: str | None) -> bool:
    """Does the learner's ``later`` run the code they wrote for ``earlier``?"""
    earlier_names = set(earlier.uses)
    if earlier_names & set(later.uses) or not isinstance(answer, str):
        return True
    return bool(earlier_names & set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", answer)))

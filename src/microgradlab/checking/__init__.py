"""Checking learner code against PyTorch: visible and verify (graded), check (self-check), hint.

    from microgradlab.checking import visible, verify, check, hint
    visible("ex04_backward", backward=backward)  # the graded cell: the cases the notebook shows
    verify("ex04_backward", backward=backward)   # its hidden part: every case
    check("ex04_backward", backward=backward)    # explains, with a widget in Jupyter
    hint("ex04_backward")                        # the next hint each call

Every one of them, and ``microgradlab grade``, decides with :func:`verdict`.
These entry points take an exercise id; below them (``verdict``, ``compare``,
``diagnose``, ``expected``) functions take the :class:`~microgradlab.exercises.Exercise`.
torch is imported lazily, only to compute the expected numbers.
"""

from ..errors import ReferenceSolutionUsed
from .compare import MISTAKES, CaseResult, compare, diagnose
from .expected import expected
from .run import (SelfCheckReport, check, hint, hint_text, run_cases, run_exercise, self_check,
                  verify, visible)
from .verdict import ExerciseResult, knock_on, verdict

__all__ = [
    "expected", "compare", "diagnose", "verdict", "knock_on", "run_exercise", "run_cases", "visible",
    "verify", "check", "hint", "hint_text", "self_check", "CaseResult", "ExerciseResult",
    "SelfCheckReport", "MISTAKES", "ReferenceSolutionUsed",
]

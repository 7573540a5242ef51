"""Checking learner code against PyTorch: verify (graded), check (self-check), hint.

    from microgradlab.checking import verify, check, hint
    verify("ex04_backward", backward=backward)   # raises AssertionError naming the failing case
    check("ex04_backward", backward=backward)    # explains, with a widget in Jupyter
    hint("ex04_backward")                        # the next hint each call

torch is imported lazily, only to compute the expected numbers.
"""

from ..exercises import ReferenceSolutionUsed
from .compare import MISTAKES, CaseResult, compare, diagnose
from .expected import expected
from .run import (ExerciseResult, SelfCheckReport, check, hint, hint_text, run_exercise,
                  self_check, verify)

__all__ = [
    "expected", "compare", "diagnose", "run_exercise", "verify", "check", "hint", "hint_text",
    "self_check", "CaseResult", "ExerciseResult", "SelfCheckReport", "MISTAKES",
    "ReferenceSolutionUsed",
]

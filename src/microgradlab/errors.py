"""Exceptions shared by the exercises, the checker and the grader's sandbox.

This module imports nothing: the grader keeps it inside the sandbox (a withheld
reference piece raises :class:`ReferenceSolutionUsed` there) while the rest of
``microgradlab.exercises`` and ``microgradlab.checking`` stays outside.
"""

__all__ = ["ReferenceSolutionUsed", "LearnerOutputError"]


class ReferenceSolutionUsed(RuntimeError):
    """Raised by a withheld reference piece: the learner's code called the
    solution that ships with microgradlab instead of their own."""


class LearnerOutputError(TypeError):
    """The learner's code returned something of the wrong kind (a string, a Value
    where a number belongs, a list of the wrong length)."""

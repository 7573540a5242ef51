"""Exceptions shared by the exercises, the checker and the grader's sandbox, and
the type names and short reprs their messages use.

This module imports nothing: the grader keeps it inside the sandbox (a withheld
reference piece raises :class:`ReferenceSolutionUsed` there) while the rest of
``microgradlab.exercises`` and ``microgradlab.checking`` stays outside.
"""

__all__ = ["ReferenceSolutionUsed", "LearnerOutputError", "kind", "short_repr"]


class ReferenceSolutionUsed(RuntimeError):
    """Raised by a withheld reference piece: the learner's code called the
    solution that ships with microgradlab instead of their own."""


class LearnerOutputError(TypeError):
    """The learner's code returned something of the wrong kind (a string, a Value
    where a number belongs, a list of the wrong length)."""


def kind(x) -> str:
    """The name of ``x``'s type, for messages. A proxy of the grader's channel
    (class attribute ``__mgl_proxy__``) answers with the remote type's name, so a
    message reads the same in the learner's kernel and in the grader."""
    if getattr(type(x), "__mgl_proxy__", False):
        return object.__getattribute__(x, "_mgl_kind")
    return type(x).__name__


def short_repr(x, limit: int = 60) -> str:
    """``repr(x)`` for a message, at most ``limit`` characters; never raises (a
    learner's ``__repr__`` may)."""
    try:
        text = repr(x)
    except BaseException:  # noqa: BLE001
        return "(unprintable)"
    return text if len(text) <= limit else text[:limit - 3] + "..."

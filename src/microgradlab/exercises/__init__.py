"""Every graded exercise of the course, specified once.

An :class:`Exercise` says what the learner provides (``uses``), which cases
test it (``cases(seed)``: the fixed ones the notebook shows, fixed hidden ones,
then random ones) and how to run a case with the learner's objects
(``produce``). Two consumers read the same specification: the self-check in
the learner's notebook and the grader. Nothing in this package imports torch
or calls the reference solution.

>>> from microgradlab.exercises import get
>>> get("ex04_backward").uses
('backward',)
"""

from __future__ import annotations

import contextlib
import importlib
import types

from ..errors import LearnerOutputError, ReferenceSolutionUsed
from ._base import Exercise, kind, resolve_piece

__all__ = [
    "Exercise", "ReferenceSolutionUsed", "LearnerOutputError",
    "NOTEBOOKS", "get", "all_exercises", "exercises_of", "withheld", "kind",
]

NOTEBOOKS = ("01_derivatives", "02_value", "03_operations", "04_backward",
             "05_tanh_neuron", "06_mlp")

_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.id in _REGISTRY:
        raise ValueError(f"exercise {exercise.id!r} is registered twice")
    if exercise.notebook not in NOTEBOOKS:
        raise ValueError(f"exercise {exercise.id!r} names unknown notebook {exercise.notebook!r}")
    _REGISTRY[exercise.id] = exercise
    return exercise


def get(exercise_id: str) -> Exercise:
    """The exercise with this id, or a KeyError listing the known ids."""
    try:
        return _REGISTRY[exercise_id]
    except (KeyError, TypeError):
        raise KeyError(f"no exercise {exercise_id!r}; known exercises: "
                       f"{', '.join(_REGISTRY)}") from None


def all_exercises() -> list[Exercise]:
    """Every exercise, in course order."""
    return list(_REGISTRY.values())


def exercises_of(notebook: str) -> list[Exercise]:
    """The exercises of one notebook (``"04_backward"``), in order."""
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no notebook {notebook!r}; known notebooks: {', '.join(NOTEBOOKS)}")
    return [e for e in _REGISTRY.values() if e.notebook == notebook]


def _tripwire(piece: str, exercise_id: str | None):
    who = f"exercise {exercise_id}" if exercise_id else "this exercise"

    def withheld_piece(*args, **kwargs):
        raise ReferenceSolutionUsed(
            f"{who} is graded on your own code: {piece} is the reference solution, "
            "which is withheld while your notebook is graded. Use the function or class "
            "you wrote in this notebook instead.")

    withheld_piece.__name__ = piece.rpartition(".")[2].rpartition(":")[2]
    return withheld_piece


def _owner_and_attribute(piece: str):
    """'module:Class.attr' -> (the object holding attr, attr)."""
    module_name, _, qualname = piece.partition(":")
    owner_path, _, attr = qualname.rpartition(".")
    owner = resolve_piece(f"{module_name}:{owner_path}") if owner_path \
        else importlib.import_module(module_name)
    return owner, attr


@contextlib.contextmanager
def withheld(notebook: str, exercise_id: str | None = None):
    """Within the block, every function and method that ``notebook`` and the later
    notebooks teach (the withholding table, :data:`.gives.GIVES`)
    raises :class:`ReferenceSolutionUsed`; they are restored afterwards.

    A learning aid, not a fence: the learner's kernel holds the whole package and
    PyTorch, and a function fetched before the block still runs. The grade comes from
    the grader's sandbox, where those pieces are absent."""
    from .gives import graded_from

    saved = []
    try:
        for piece in graded_from(notebook):
            if piece.startswith("microgradlab:"):
                continue  # the package's __init__ only re-exports
            owner, attr = _owner_and_attribute(piece)
            raw = vars(owner).get(attr) if isinstance(owner, type) else getattr(owner, attr)
            # Functions only: the table also lists data (an op entry, __slots__), classes
            # and properties, which the checker running in this kernel reads.
            if not isinstance(raw, (types.FunctionType, staticmethod)):
                continue
            saved.append((owner, attr, raw))
            setattr(owner, attr, _tripwire(piece, exercise_id))
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


# Importing the notebook modules registers their exercises, in course order.
from . import nb01, nb02, nb03, nb04, nb05, nb06  # noqa: E402,F401

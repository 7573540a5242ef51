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

from ..errors import LearnerOutputError, ReferenceSolutionUsed
from ..ops import OPS
from ._base import Exercise, kind

__all__ = [
    "Exercise", "ReferenceSolutionUsed", "LearnerOutputError", "REFERENCE_PIECES",
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


# The reference pieces the learner writes in each notebook. Grading notebook k
# withholds the pieces of notebooks k..06, so the shipped solution cannot stand
# in for the learner's own code.
_E = "microgradlab.engine"
_NN = "microgradlab.nn"
REFERENCE_PIECES: dict[str, list[str]] = {
    "01_derivatives": [f"microgradlab.numeric:{n}" for n in (
        "forward_difference", "central_difference", "numerical_gradient", "gradient_descent")],
    "02_value": [f"{_E}:Value.__init__", f"{_E}:Value.__add__", f"{_E}:Value.__mul__"],
    "03_operations": [f"{_E}:Value.{n}" for n in (
        "__radd__", "__rmul__", "__sub__", "__rsub__", "__neg__", "__truediv__",
        "__rtruediv__", "__pow__")] + [f"{_E}:{n}" for n in (
        "_add_backward", "_mul_backward", "_sub_backward", "_neg_backward", "_div_backward")],
    "04_backward": [f"{_E}:Value.backward", f"{_E}:_interior_nodes_output_first"],
    "05_tanh_neuron": [f"{_E}:Value.tanh", f"{_E}:Value.exp", f"{_E}:Value.relu",
                       f"{_E}:_tanh_backward", f"{_E}:_relu_backward",
                       f"{_E}:_exp_backward", f"{_E}:Value.linear", f"{_E}:_linear_backward",
                       f"{_NN}:Neuron.__call__"],
    "06_mlp": [f"{_NN}:{n}" for n in (
        "Module.parameters", "Module.zero_grad", "Neuron.__init__", "Neuron.parameters",
        "Layer.__init__", "Layer.__call__", "Layer.parameters", "MLP.__init__",
        "MLP.__call__", "MLP.parameters", "SGD.__init__", "SGD.zero_grad", "SGD.step",
        "mse_loss")],
}
# The local derivatives of each op the learner differentiates (microgradlab.ops), and
# the topological walk (microgradlab.graph), belong to the notebook that teaches them.
for _op in OPS.values():
    if _op.taught_in is not None:
        REFERENCE_PIECES[_op.taught_in].append(f"microgradlab.ops:{_op.local.__name__}")
REFERENCE_PIECES["04_backward"].append("microgradlab.graph:walk")
del _op


def _resolve(piece: str):
    """'module:Class.attr' -> (owner object, attribute name)."""
    module_name, _, qualname = piece.partition(":")
    owner = importlib.import_module(module_name)
    *path, attr = qualname.split(".")
    for part in path:
        owner = getattr(owner, part)
    return owner, attr


def _tripwire(piece: str, exercise_id: str | None):
    who = f"exercise {exercise_id}" if exercise_id else "this exercise"

    def withheld_piece(*args, **kwargs):
        raise ReferenceSolutionUsed(
            f"{who} is graded on your own code: {piece} is the reference solution, "
            "which is withheld while your notebook is graded. Use the function or class "
            "you wrote in this notebook instead.")

    withheld_piece.__name__ = piece.rpartition(".")[2].rpartition(":")[2]
    return withheld_piece


@contextlib.contextmanager
def withheld(notebook: str, exercise_id: str | None = None):
    """Within the block, the reference pieces of ``notebook`` and every later
    notebook raise :class:`ReferenceSolutionUsed`; they are restored afterwards."""
    if notebook not in NOTEBOOKS:
        raise KeyError(f"no notebook {notebook!r}; known notebooks: {', '.join(NOTEBOOKS)}")
    later = NOTEBOOKS[NOTEBOOKS.index(notebook):]
    saved = []
    try:
        for nb in later:
            for piece in REFERENCE_PIECES[nb]:
                owner, attr = _resolve(piece)
                # Keep the raw entry (a staticmethod stays a staticmethod on restore).
                original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
                saved.append((owner, attr, original))
                setattr(owner, attr, _tripwire(piece, exercise_id))
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


# Importing the notebook modules registers their exercises, in course order.
from . import nb01, nb02, nb03, nb04, nb05, nb06  # noqa: E402,F401

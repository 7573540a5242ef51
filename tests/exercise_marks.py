"""A pytest marker per exercise id, so `pytest -m ex04_backward` runs everything
about one exercise. The markers are registered in pyproject.toml."""
from __future__ import annotations

import inspect
import re

import pytest

from microgradlab.exercises import all_exercises

EXERCISE_IDS = tuple(e.id for e in all_exercises())
_ID = re.compile(r"\b(ex0\d_[a-z_]+)\b")


def marks_for(*exercise_ids):
    """The markers of these exercises (unknown ids are an error, not silence)."""
    unknown = [i for i in exercise_ids if i not in EXERCISE_IDS]
    if unknown:
        raise KeyError(f"no exercise {unknown}; known: {', '.join(EXERCISE_IDS)}")
    return [getattr(pytest.mark, i) for i in dict.fromkeys(exercise_ids)]


def param(value, *exercise_ids, id=None):
    return pytest.param(value, marks=marks_for(*exercise_ids), id=id)


def mark_tests_by_source(namespace: dict) -> None:
    """Mark every test function of a module with the exercise ids its source names."""
    for name, fn in list(namespace.items()):
        marks = getattr(fn, "pytestmark", [])
        if any(m.name == "parametrize" for m in marks):
            continue  # parametrized tests carry per-exercise marks on their params
        if name.startswith("test_") and callable(fn):
            ids = [i for i in _ID.findall(inspect.getsource(fn)) if i in EXERCISE_IDS]
            for mark in marks_for(*ids):
                mark(fn)

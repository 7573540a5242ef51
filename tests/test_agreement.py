"""Every consumer gives the same verdict on every catalogue entry.

For each wrong answer (tests/fixtures/wrong_answers/nb*.py) and each correct
answer written differently (ok_*.py) we ask, about the entry's exercise:

* the graded cell as nbgrader runs it (its visible tests, then ``verify``),
* ``visible`` and ``verify`` on their own,
* the check button (``check(...)`` in the kernel, its panel's verdict),
* ``microgradlab grade`` (one run per notebook, one student per entry),
* ``nbgrader autograde`` on a small sample,

and require that a wrong entry loses its exercise everywhere and a correct one
gets full marks everywhere. Every other exercise of the notebook must pass its
graded cell and in ``microgradlab grade`` (the exercises an entry declares in
ALSO_FAILS call the broken code and may fail on some random cases, so they are
left out); ``visible``, ``verify`` and the button are asked about every exercise
of the unmodified solution.

The runs are catalogue_runs.py's session fixtures, shared with
test_wrong_answers.py: per notebook one kernel, one ``microgradlab grade`` run and
(for the sample) one nbgrader course.
"""
from __future__ import annotations

import pytest

from catalogue_runs import ENTRIES as ALL_ENTRIES
from catalogue_runs import NBGRADER_SAMPLE, SOLUTION, catalogue_group
from exercise_marks import marks_for
from microgradlab.exercises import exercises_of

ENTRIES = [e for e in ALL_ENTRIES if not e.known_gap]

pytestmark = pytest.mark.slow


def param(entry, value, *exercise_ids):
    """A case about ``entry``: its exercises' marks, and its notebook's catalogue group."""
    return pytest.param(value, marks=marks_for(*exercise_ids) + [catalogue_group(entry.notebook)],
                        id=entry.id)


def expectation(entry, exercise_id):
    """True (must pass everywhere), False (must fail everywhere) or None (may vary)."""
    if exercise_id == entry.exercise:
        return entry.correct
    return None if exercise_id in entry.also_fails else True


# ------------------------------------------------------------------ the assertions
@pytest.mark.parametrize("entry", [param(e, e, e.exercise, *e.also_fails) for e in ENTRIES])
def test_every_consumer_agrees(entry, catalogue_kernels, catalogue_grades):
    """The entry's exercise in every consumer; the notebook's other exercises in the
    graded cell (its visible tests, then verify) and in microgradlab grade."""
    grader_points = catalogue_grades(entry.notebook)
    kernel = catalogue_kernels(entry.notebook)
    graded, probed = kernel.graded[entry.id], kernel.probed[entry.id]
    assert "no probe output" not in probed, f"{entry.id}: the probe printed nothing: {probed}"
    assert grader_points.get((entry.id, "status")) == "graded", grader_points.get((entry.id, "status"))
    for exercise in exercises_of(entry.notebook):
        want = expectation(entry, exercise.id)
        if want is None:
            continue
        points = grader_points.get((entry.id, exercise.id))
        seen = {"graded cell": graded[exercise.id][0], "microgradlab grade": bool(points)}
        got = probed.get(exercise.id)
        if got is not None:  # the entry's own exercise: the probe asked every consumer
            seen.update({"verify": got["verify"], "button": got["button"] == "correct"})
            if want:  # a right answer passes the visible tests too
                seen["visible"] = got["visible"]
        wrong = {where: ok for where, ok in seen.items() if ok != want}
        assert not wrong, (f"{entry.id}: {exercise.id} should {'pass' if want else 'fail'} "
                           f"everywhere; it does not in {sorted(wrong)} ({got}, grade {points})")
        if got is not None and not want:
            assert got["button"] == "wrong", f"{entry.id}: the button says {got['button']}"
    assert entry.exercise in probed, f"{entry.id}: the probe did not ask about {entry.exercise}"


@pytest.mark.parametrize("name", [pytest.param(n, marks=catalogue_group(n), id=n)
                                  for n in sorted({e.notebook for e in ENTRIES})])
def test_every_consumer_passes_the_unmodified_solution(name, catalogue_kernels):
    """Before any entry is planted: visible, verify and the check button pass every exercise."""
    probed = catalogue_kernels(name).probed[(SOLUTION, name)]
    assert "no probe output" not in probed, f"{name}: the probe printed nothing: {probed}"
    for exercise in exercises_of(name):
        got = probed[exercise.id]
        assert got == {"visible": True, "verify": True, "button": "correct"}, (name, exercise.id, got)


@pytest.mark.parametrize("entry_id", [param(e, e.id, e.exercise) for e in ENTRIES
                                      if e.id in NBGRADER_SAMPLE])
def test_nbgrader_agrees_on_a_sample(entry_id, catalogue_nbgrader, catalogue_grades):
    entry = next(e for e in ENTRIES if e.id == entry_id)
    nbgrader_points = catalogue_nbgrader(entry.notebook)
    grader_points = catalogue_grades(entry.notebook)
    for exercise in exercises_of(entry.notebook):
        want = expectation(entry, exercise.id)
        if want is None:
            continue
        theirs = nbgrader_points[(entry.id, exercise.id)]
        ours = grader_points[(entry.id, exercise.id)]
        assert bool(theirs) == want and theirs == ours, (
            f"{entry.id}: {exercise.id}: nbgrader {theirs}, microgradlab grade {ours}, "
            f"expected {'full marks' if want else '0'}")

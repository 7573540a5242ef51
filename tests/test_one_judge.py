"""One judge (ARCHITECTURE.md, design contract 4): `microgradlab grade` scores a graded
cell through ``checking.verdict``, the judge ``verify`` uses in the learner's kernel.

For every entry of the wrong-answer catalogue (and every correct one written
differently) the learner's answer cells are run in this process, every exercise of
its notebook is produced once on the same cases, and

* ``verify``'s verdict (``run_cases``, what ``verify`` raises on) and the grader's
  (``grading.score`` on the results as the channel hands them over) agree on
  pass/fail, points, not attempted, the mistake named and the message;
* when the results of the last cases never came back (the notebook stopped), both
  say "not delivered", with no points and not "not attempted".

The whole path through the sandbox and nbgrader is test_agreement.py (slow).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from microgradlab.checking import expected, run_cases, verdict
from microgradlab.exercises import exercises_of, withheld
from microgradlab_grader import grading
from microgradlab_grader.source import load_source

sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
from wrong_answers import load_catalogue, load_correct  # noqa: E402

from exercise_marks import param  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
ENTRIES = load_catalogue() + load_correct()
SEED = 20_261_201

pytestmark = [pytest.mark.slow]


def set_up_cells(notebook: str) -> list[tuple[str, str]]:
    """(grade_id, source) of the notebook's set-up and answer cells, in order (the
    cells nbgrader marks ungraded: what the learner's objects are made of)."""
    text = (SOLUTIONS / notebook / f"{notebook}.py").read_text(encoding="utf-8")
    found = []
    for chunk in text.split("\n# %%")[1:]:
        head, _, body = chunk.partition("\n")
        grade_id = re.search(r'"grade_id": "([^"]+)"', head)
        if grade_id and '"grade": false' in head:
            found.append((grade_id.group(1), body))
    return found


def learner_namespace(entry) -> dict:
    """The notebook's set-up and answer cells run here, with the entry's cells planted."""
    namespace: dict = {}
    limit = sys.getrecursionlimit()  # an answer may raise it (a recursive walk)
    try:
        for grade_id, body in set_up_cells(entry.notebook):
            try:
                exec(compile(entry.cells().get(grade_id, body), grade_id, "exec"), namespace)
            except Exception:  # noqa: BLE001 - a broken answer cell: its exercise fails
                pass
    finally:
        sys.setrecursionlimit(limit)
    return namespace


def plan_for(notebook, exercises, cases):
    """What ``grading.score`` reads of a Plan: the specs, the cases and PyTorch's answers."""
    unused = Path("not-needed-to-score")
    return grading.Plan(source=load_source(SOLUTIONS, notebook),
                        exercises={e.id: e for e in exercises}, cases=cases,
                        expected={e.id: [expected(e, c) for c in cases[e.id]] for e in exercises},
                        package_copy=unused, torch_stub=unused, runner=unused)


@pytest.mark.parametrize("entry", [param(e, e.exercise, id=e.id) for e in ENTRIES])
def test_the_grader_and_verify_give_one_verdict(entry):
    namespace = learner_namespace(entry)
    exercises = exercises_of(entry.notebook)
    cases = {e.id: e.cases(SEED) for e in exercises}
    plan = plan_for(entry.notebook, exercises, cases)
    limit = sys.getrecursionlimit()
    for cell in plan.source.graded:
        exercise = plan.exercises[cell.grade_id]
        names = {n: namespace[n] for n in exercise.uses if n in namespace}
        try:
            with withheld(exercise.notebook, exercise.id):
                produced = [exercise.produce(c, names) for c in cases[exercise.id]]
            kernel = run_cases(exercise, names, cases[exercise.id])  # what verify decides
        finally:
            sys.setrecursionlimit(limit)
        results = {(exercise.id, i): grading.plain(p) for i, p in enumerate(produced)}
        graded = grading.score(cell, plan, results)
        assert (graded.passed, graded.not_attempted, graded.mistake, graded.message) == \
            (kernel.passed, kernel.not_attempted, kernel.mistake, kernel.message), exercise.id
        assert graded.points == (cell.points if kernel.passed else 0.0) and graded.delivered
        if exercise.id == entry.exercise:  # the entry is what it says it is
            assert kernel.passed == entry.correct, kernel.summary

        # The notebook stopped while this exercise was tested: the last cases never came back.
        count = len(cases[exercise.id])
        for came_back in (0, count // 2, count - 1):
            partial = {k: v for k, v in results.items() if k[1] < came_back}
            graded = grading.score(cell, plan, partial)
            judged = verdict(exercise, cases[exercise.id],
                             [p if i < came_back else None for i, p in enumerate(produced)])
            assert not graded.delivered and not judged.delivered
            assert not graded.passed and not judged.passed and graded.points == 0.0
            assert not graded.not_attempted and not judged.not_attempted
            assert graded.message == judged.message and "no result" in graded.message
            assert sum(not r.delivered for r in judged.results) == count - came_back


def test_a_result_too_malformed_to_read_fails_its_case_only():
    """What comes back from a sandbox is learner-controlled: a result the judge cannot
    read is a failed case, never a crash of the grader."""
    exercise = exercises_of("04_backward")[0]
    cases = exercise.cases(1)[:3]
    right = [expected(exercise, c) for c in cases]
    odd = [right[0], {"values": {"e": [1, 2]}, "facts": "yes"}, {"error": 3}]
    result = verdict(exercise, cases, odd, right)
    assert [r.passed for r in result.results] == [True, False, False]
    assert result.delivered and not result.passed

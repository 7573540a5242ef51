"""The exercise spec is the currency (ARCHITECTURE.md, design contract 3).

* ``Exercise`` is frozen and keyword-only, and draws ``random_cases`` random cases;
* below the entry points, functions take the spec, never an id;
* no module outside ``exercises/`` branches on an exercise id, a fact string or a
  mistake name: whatever differs between exercises lives in the spec. The scanner
  is shown to catch the branches this rule removed.
"""
from __future__ import annotations

import ast
import dataclasses
import random
from pathlib import Path

import pytest

import microgradlab
from microgradlab.checking import MISTAKES, compare, diagnose, expected, knock_on, verdict
from microgradlab.exercises import Exercise, all_exercises, get

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(microgradlab.__file__).parent
GRADER = ROOT / "autograder" / "microgradlab_grader"


# ------------------------------------------------------------------ the scanner
def forbidden_words() -> set[str]:
    """Every exercise id, every fact string a spec can produce, every mistake name."""
    words = set(MISTAKES)
    for exercise in all_exercises():
        words.add(exercise.id)
        words |= set(exercise.mistakes) | set(exercise.fact_mistakes)
        words |= set(exercise.error_mistakes.values()) | set(exercise.fact_mistakes.values())
        if exercise.own_nodes is not None:
            words |= set(exercise.own_nodes.fact_mistakes)
        for case in exercise.cases(0):
            words |= {k for k in exercise.expected_facts(case) if isinstance(k, str)}
    return words


def _branches(tree):
    """Every part of the code that a branch decides or that decides a branch: if/elif/
    while/match statements and ternaries (their tests and their bodies), assert tests,
    comprehension filters, and every comparison or `in` test wherever it stands."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Match)):
            yield node
        elif isinstance(node, ast.Assert):
            yield node.test
        elif isinstance(node, ast.comprehension):
            yield from node.ifs
        elif isinstance(node, ast.Compare):
            yield node


def branches_on(source: str, words: set[str]) -> list[str]:
    """'line: text' for every forbidden word a branch in ``source`` names."""
    found = []
    for branch in _branches(ast.parse(source)):
        for node in ast.walk(branch):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in words:
                found.append(f"{node.lineno}: {node.value!r}")
    return sorted(set(found))


def scanned_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "exercises" not in path.relative_to(PACKAGE).parts:
            yield path
    yield from sorted(GRADER.rglob("*.py"))


def test_no_branch_outside_the_specs_names_an_exercise_a_fact_or_a_mistake():
    words = forbidden_words()
    found = {str(path.relative_to(ROOT)): hits for path in scanned_files()
             if (hits := branches_on(path.read_text(encoding="utf-8"), words))}
    assert not found, f"branches on exercise ids, fact strings or mistake names: {found}"


# What checking/compare.py and verdict.py decided before the specs carried it: each
# line is a branch the rule forbids, and the scanner must see every one.
BRANCHES_THE_SPEC_NOW_CARRIES = '''
mistake = "point_mutated" if wrong_facts[0] in ("point unchanged", "start unchanged") else None
if "recursion_too_deep" in exercise.mistakes:
    pass
if name == "assign_not_accumulate" and len(kinds) > 1:
    pass
if "reference_solution" in mistakes:
    pass
kinds = [c for c in cases if c.get("exercise") == "ex03_add_mul"]
'''


def test_the_scanner_sees_the_branches_it_forbids():
    hits = branches_on(BRANCHES_THE_SPEC_NOW_CARRIES, forbidden_words())
    named = {hit.split(": ", 1)[1].strip("'") for hit in hits}
    assert named == {"point_mutated", "point unchanged", "start unchanged", "recursion_too_deep",
                     "assign_not_accumulate", "reference_solution", "ex03_add_mul"}, hits
    # and it keeps quiet about words that are not the course's
    assert branches_on('if status == "graded":\n    pass\n', forbidden_words()) == []


# ------------------------------------------------------------------ the Exercise record
def test_exercise_is_frozen_and_keyword_only():
    spec = get("ex04_backward")
    assert dataclasses.is_dataclass(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.title = "changed"  # type: ignore[misc]
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    with pytest.raises(TypeError):
        Exercise(*list(fields.values())[:8])  # positional: refused
    assert dataclasses.replace(spec, title="a copy").title == "a copy"  # keywords: fine


@pytest.mark.parametrize("exercise", all_exercises(), ids=lambda e: e.id)
def test_cases_are_the_fixed_ones_then_random_cases_random_ones(exercise):
    fixed = exercise.fixed()
    cases = exercise.cases(11)
    assert len(cases) == len(fixed) + exercise.random_cases
    assert cases[:len(fixed)] == fixed
    assert all(not c["shown"] for c in cases[len(fixed):])
    assert exercise.cases(11) == cases, "the same seed must draw the same cases"
    assert exercise.random_cases == 20, "lower it only with the reason written beside it"


def test_random_cases_counts_draws_of_any_size():
    spec = get("ex03_add_mul")  # its draw returns 4 cases at a time
    for count in (0, 1, 5, 21):
        assert len(dataclasses.replace(spec, random_cases=count).cases(3)) == \
            len(spec.fixed()) + count
    with pytest.raises(ValueError, match="random_cases"):
        dataclasses.replace(spec, random_cases=-1)
    with pytest.raises(ValueError, match="draw"):
        dataclasses.replace(spec, draw=lambda rng: []).cases(1)


def test_a_mistake_named_by_a_fact_or_an_error_must_be_listed():
    spec = get("ex01_gradient")
    with pytest.raises(ValueError, match="not list"):
        dataclasses.replace(spec, fact_mistakes={"point unchanged": "gradient_ascent"})
    with pytest.raises(ValueError, match="not list"):
        dataclasses.replace(spec, error_mistakes={"RecursionError": "recursion_too_deep"})


@pytest.mark.parametrize("exercise", all_exercises(), ids=lambda e: e.id)
def test_every_mistake_an_exercise_lists_has_a_sentence(exercise):
    for name, own_words in exercise.mistakes.items():
        assert own_words or name in MISTAKES, f"{exercise.id}: no sentence for {name}"
    if exercise.own_nodes is not None:
        assert set(exercise.own_nodes.fact_mistakes.values()) <= set(exercise.mistakes)


def test_below_the_entry_points_functions_take_the_spec():
    spec = get("ex04_by_hand")
    case = spec.cases(1)[0]
    want = expected(spec, case)
    for call in (lambda: expected("ex04_by_hand", case),
                 lambda: compare("ex04_by_hand", case, want, want),
                 lambda: diagnose("ex04_by_hand", case, want, want["values"]),
                 lambda: verdict("ex04_by_hand", [case], [want]),
                 lambda: knock_on("ex04_backward")):
        with pytest.raises(TypeError, match="expected an Exercise"):
            call()
    assert verdict(spec, [case], [want]).passed


def test_knock_on_is_one_rule():
    backward, order = get("ex04_backward"), get("ex04_topological_order")
    assert knock_on(backward) == [order]  # nothing known: it may
    assert knock_on(backward, failed={"ex04_by_hand"}) == []  # the order passes
    walks_itself = {"ex04_backward": "def backward(root):\n    root.grad = 1.0\n"}
    calls_it = {"ex04_backward": "for n in reversed(topological_order(root)):\n    pass\n"}
    assert knock_on(backward, failed={order.id}, code=walks_itself) == []
    assert knock_on(backward, failed={order.id}, code=calls_it) == [order]
    # graded through a name the earlier exercise wrote: it runs that code, whatever the answer
    sub = get("ex03_sub_neg")
    assert knock_on(sub, failed={"ex03_add_mul"}, code={sub.id: "x = 1\n"}) == [get("ex03_add_mul")]
    assert knock_on(get("ex04_by_hand"), failed={order.id}) == []  # builds on nothing


def test_shared_producers_take_nothing_from_the_case():
    """Each ex03 case carries only its data: no exercise id to word a message with."""
    for spec in (get("ex03_add_mul"), get("ex03_sub_neg"), get("ex03_div_pow")):
        for case in spec.cases(random.Random(5).getrandbits(32)):
            assert set(case) <= {"name", "shown", "program", "g"}, sorted(case)

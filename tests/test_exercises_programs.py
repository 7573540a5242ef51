"""Expression programs, the numeric reference pieces and the withheld() tripwires."""
from __future__ import annotations

import json
import math
import random

import pytest

import microgradlab
from microgradlab import numeric
from microgradlab.checking import check, expected
from microgradlab.exercises import (NOTEBOOKS, ReferenceSolutionUsed, all_exercises,
                                    exercises_of, get, withheld)
from microgradlab.exercises.gives import graded_from
from microgradlab.exercises import programs as P


@pytest.mark.parametrize("seed", range(20))
def test_random_programs_are_valid_and_reuse_nodes(seed):
    rng = random.Random(seed)
    program = P.random_program(rng, ops=P.ALL_OPS, n_leaves=3, n_ops=6)
    P.check_program(program)
    values = P.evaluate(program)
    assert all(math.isfinite(v) for v in values.values())
    assert max(P.consumers(program).values()) >= 2  # a shared node or a reused leaf
    for op in program["ops"]:  # log only of positive values, pow of negatives only by integers
        if op[1] == "log":
            assert values[op[2]] > 0
        if op[1] == "pow" and values[op[2]] < 0:
            assert float(op[3]).is_integer()
    # The float interpreter agrees with microgradlab's engine on the same program.
    nodes = P.build(program, microgradlab.Value)
    nodes[program["output"]].backward()
    grads = P.gradients(program)
    for name in program["leaves"]:
        assert math.isclose(nodes[name].grad, grads[name], rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("ops", [("sub", "neg", "rsub"), ("div", "pow"), ("add", "mul", "tanh"),
                                 ("sub",), ("div",)])
def test_random_programs_use_only_the_ops_they_are_given(ops):
    """The joins at the end (dangling nodes into the output, a reused leaf) come from
    ``ops`` too: a random case of ex03_sub_neg once ended in `out = n4 * a`, so a wrong
    `mul` from ex03_add_mul failed it for some draws and not others (nbgrader and
    microgradlab grade disagreed on one submission of the 100-student bench)."""
    for seed in range(300):
        program = P.random_program(random.Random(seed), ops=ops, n_leaves=2, n_ops=4)
        P.check_program(program)
        assert {op[1] for op in program["ops"]} <= set(ops), (seed, program["ops"])
        assert all(math.isfinite(v) for v in P.evaluate(program).values())
        assert max(P.consumers(program).values()) >= 2


def test_every_random_case_of_an_exercise_uses_only_its_own_ops():
    """No draw of ex03_sub_neg or ex03_div_pow runs + or * (ex03_add_mul's ops)."""
    for exercise_id in ("ex03_sub_neg", "ex03_div_pow"):
        exercise = get(exercise_id)
        for seed in range(200):
            for case in exercise.draw(random.Random(seed)):
                ops = {op[1] for op in case["program"]["ops"]}
                assert not ops & {"add", "mul", "radd", "rmul", "addc", "mulc"}, \
                    (exercise_id, seed, case["program"]["ops"])


def test_build_runs_the_same_program_on_torch():
    program = {"leaves": {"a": 2.0, "b": 3.0},
               "ops": [["c", "mul", "a", "b"], ["d", "add", "c", "b"], ["L", "tanh", "d"]],
               "output": "L"}
    values, grads = expected.__globals__["torch_program"](program)
    assert math.isclose(values["L"], math.tanh(9.0))
    assert math.isclose(grads["b"], (1 - math.tanh(9.0) ** 2) * 3.0, rel_tol=1e-9)


def test_bad_programs_are_named():
    with pytest.raises(ValueError, match="before it is defined"):
        P.check_program({"leaves": {"a": 1.0}, "ops": [["c", "add", "a", "zz"]], "output": "c"})
    with pytest.raises(ValueError, match="unknown op"):
        P.check_program({"leaves": {"a": 1.0}, "ops": [["c", "sqrt", "a"]], "output": "c"})
    with pytest.raises(TypeError, match="random.Random"):
        P.random_program(42)


def test_cases_are_json_and_reproducible():
    for exercise in all_exercises():
        first, again = exercise.cases(7), exercise.cases(7)
        assert json.dumps(first) == json.dumps(again)
        assert first[0]["shown"] and all("name" in c for c in first)
        shown = [c["shown"] for c in first]
        assert shown == sorted(shown, reverse=True)  # shown ones first
    assert [e.id for e in exercises_of("04_backward")] == [
        "ex04_by_hand", "ex04_topological_order", "ex04_backward", "ex04_gradient_check"]
    with pytest.raises(KeyError, match="known exercises"):
        get("ex99_nothing")


def test_numeric_reference_pieces():
    f = lambda x: x ** 3  # noqa: E731
    assert math.isclose(numeric.central_difference(f, 2.0, 1e-4), 12.0, rel_tol=1e-7)
    assert numeric.forward_difference(f, 2.0, 0.5) == (2.5 ** 3 - 8) / 0.5
    point = [1.0, 2.0]
    grad = numeric.numerical_gradient(lambda x, y: x * y + y ** 2, point)
    assert point == [1.0, 2.0] and all(math.isclose(g, w, rel_tol=1e-6) for g, w in zip(grad, [2, 5]))
    path = numeric.gradient_descent(lambda x: [2 * x], [4.0], 0.25, 3)
    assert path == [[4.0], [2.0], [1.0], [0.5]]
    with pytest.raises(ValueError, match="h must be"):
        numeric.forward_difference(f, 1.0, 0)


def test_withheld_trips_and_restores():
    v = microgradlab.Value(0.5)
    with withheld("04_backward", "ex04_backward"):
        with pytest.raises(ReferenceSolutionUsed, match="ex04_backward.*reference solution"):
            (v * 2).backward()
        with pytest.raises(ReferenceSolutionUsed):
            v.tanh()
        assert (v + 1).data == 1.5  # notebook 02/03 pieces stay available
    y = (v * 2).tanh()
    y.backward()
    assert math.isclose(v.grad, 2 * (1 - math.tanh(1.0) ** 2))
    for notebook in NOTEBOOKS:
        assert all(":" in p for p in graded_from(notebook))


def test_check_prints_outside_jupyter(capsys):
    check("ex04_by_hand", by_hand=lambda a, b, c, f: {})
    out = capsys.readouterr()
    assert "ex04_by_hand" in out.out and "lacks the key" in out.out and out.err == ""

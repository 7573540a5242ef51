"""Notebooks 04 (backward) and 05 (tanh and the neuron): their visible tests and their stubs.

Most tests run notebook cells in this process (no kernel). A graded cell runs
`visible(exercise_id, ...)` (the cases the notebook shows, judged by the same verdict as the
hidden tests) and then, hidden from learners, `verify(...)`. The reference answers must pass
the visible block, and each realistic mistake must fail it with a message that names what is
off (the key, node or op) in the learner's terms; a mistake that by design only hidden cases
show (tanh overflow far out, a neuron reading only its first inputs) must fail the whole
graded cell. Kernel tests execute the notebooks as written and as nbgrader hands them out.
"""
from __future__ import annotations
from conftest import errors_and_stderr
from solution_runs import solution_group, solution_run, student_run

import functools
import json
import math
import re

import jupytext
import nbformat
import pytest

from microgradlab.checking import verify, visible
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from microgradlab import Value
from microgradlab.numeric import central_difference

SOURCES = {
    "04_backward": "solutions/04_backward/04_backward.py",
    "05_tanh_neuron": "solutions/05_tanh_neuron/05_tanh_neuron.py",
}
ANSWERS = {
    "04_backward": ["ex04_by_hand_answer", "ex04_topological_order_answer", "ex04_backward_answer",
                    "ex04_gradient_check_answer"],
    "05_tanh_neuron": ["ex05_tanh_answer", "ex05_exp_answer", "ex05_relu_answer",
                       "ex05_neuron_answer"],
}


@functools.lru_cache(maxsize=None)
def _source_text(path):
    return path.read_text(encoding="utf-8")


def read_notebook(repo_root, name):
    """A fresh notebook parsed from the jupytext source (callers may modify it)."""
    return jupytext.reads(_source_text(repo_root / SOURCES[name]), fmt="py:percent")


def cells_by_grade_id(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells if "nbgrader" in c.metadata}


def student_version(nb):
    """As learners get it: solutions replaced by nbgrader's stubs, hidden tests removed."""
    nb, resources = ClearSolutions().preprocess(nbformat.from_dict(nb), {"language": "python"})
    nb, _ = ClearHiddenTests().preprocess(nb, resources)
    return nb


@functools.lru_cache(maxsize=None)
def visible_tests(repo_root, name):
    """grade_id -> source of the graded cells without their hidden block (parsed once)."""
    return cells_by_grade_id(student_version(read_notebook(repo_root, name)))


@functools.lru_cache(maxsize=None)
def solution_cells(repo_root, name):
    """grade_id -> source of the reference notebook's nbgrader cells (parsed once)."""
    return cells_by_grade_id(read_notebook(repo_root, name))


def answers_namespace(repo_root, name, replace=None):
    """Run the reference answers of a notebook; replace = (grade_id, old, new) plants a mistake."""
    solution = solution_cells(repo_root, name)
    namespace = {"math": math, "Value": Value, "visible": visible, "verify": verify,
                 "central_difference": central_difference}  # 04 imports it for its check
    for grade_id in ANSWERS[name]:
        source = solution[grade_id]
        if replace and replace[0] == grade_id:
            assert replace[1] in source, f"the reference answer no longer contains {replace[1]!r}"
            source = source.replace(replace[1], replace[2])
        exec(compile(source, grade_id, "exec"), namespace)
    return namespace


def run_graded(repo_root, name, graded, namespace, hidden=False):
    """Run a graded cell: its visible block, or (hidden=True) the whole cell with verify."""
    cell = (solution_cells if hidden else visible_tests)(repo_root, name)[graded]
    if hidden:
        assert "### BEGIN HIDDEN TESTS" in cell and f'verify("{graded}"' in cell
    exec(compile(cell, graded, "exec"), namespace)


GRADED = [(name, a.removesuffix("_answer")) for name, answers in ANSWERS.items() for a in answers]


@pytest.mark.parametrize("name, graded", GRADED, ids=[g for _, g in GRADED])
def test_reference_answer_passes_visible_tests(repo_root, name, graded, capsys):
    assert f'visible("{graded}"' in visible_tests(repo_root, name)[graded]
    run_graded(repo_root, name, graded, answers_namespace(repo_root, name))
    assert "Visible tests passed." in capsys.readouterr().out


RECURSIVE_ORDER = '''
def topological_order(root):
    order, visited = [], set()

    def place(node):
        if node not in visited:
            visited.add(node)
            for child in node._prev:
                place(child)
            order.append(node)

    place(root)
    return order
'''

TEXTBOOK_TANH = '''
def tanh(v):
    u = math.exp(2 * v.data)
    out = Value((u - 1) / (u + 1), (v,), "tanh")

    def _backward():
        v.grad += (1.0 - out.data**2) * out.grad

    out._backward = _backward
    return out
'''

HIDDEN = "hidden"  # caught only by the hidden cases of the graded cell (verify)

MISTAKES = [
    # (mistake, notebook, answer cell, old (None: whole cell), new, graded cell,
    #  parts of the message, where it is caught)
    ("by_hand: dL_da uses its own factor", "04_backward", "ex04_by_hand_answer",
     "dL_da = dL_de * b", "dL_da = dL_de * a", "ex04_by_hand",
     ["course example", "`dL_da` is 15, it should be -10"], "visible"),
    ("by_hand: dL_dd forgets it is the other factor", "04_backward", "ex04_by_hand_answer",
     "dL_dd = dL_dL * f", "dL_dd = dL_dL * d", "ex04_by_hand",
     ["`dL_dd` is -2, it should be 5", "`dL_de` is -2"], "visible"),
    # L typed in: right on the course example, so the second shown case catches it.
    ("by_hand: a typed-in number", "04_backward", "ex04_by_hand_answer",
     "L = d * f\n", "L = -10.0\n", "ex04_by_hand",
     ["a=1, b=2, c=3, f=4", "`L` is -10, it should be 20"], "visible"),
    ("order: recursion", "04_backward", "ex04_topological_order_answer",
     None, RECURSIVE_ORDER, "ex04_topological_order",
     ["2,000-deep chain", "RecursionError", "recursion_too_deep", "stack"], "visible"),
    ("order: no visited check", "04_backward", "ex04_topological_order_answer",
     "visited.add(node)", "pass", "ex04_topological_order",
     ["b used twice", "more than once", "visited"], "visible"),
    ("order: output first", "04_backward", "ex04_topological_order_answer",
     "    return order\n", "    return order[::-1]\n", "ex04_topological_order",
     ["ab comes before its input a", "end with the output"], "visible"),
    ("backward: no seed", "04_backward", "ex04_backward_answer",
     "root.grad = 1.0", "pass", "ex04_backward",
     ["`a.grad` is 0, it should be -10", "output_not_seeded", "1.0"], "visible"),
    ("backward: forward order", "04_backward", "ex04_backward_answer",
     "in reversed(order)", "in order", "ex04_backward",
     ["`a.grad` is 0, it should be -10", "not_reversed", "in reverse"], "visible"),
    # The textbook formula overflows only far out (abs(x) ~ 1e4), a hidden case by design:
    # the visible block passes, the hidden verify must fail the graded cell.
    ("tanh: textbook formula overflows", "05_tanh_neuron", "ex05_tanh_answer",
     None, TEXTBOOK_TANH, "ex05_tanh", ["v = 1e4", "OverflowError", "`tanh`"], HIDDEN),
    ("tanh: = instead of +=", "05_tanh_neuron", "ex05_tanh_answer",
     "v.grad += ", "v.grad = ", "ex05_tanh",
     ["out = tanh(v) at v = 0.5", "added 0.486447733 to v.grad", "assign_not_accumulate",
      "+="], "visible"),
    ("tanh: derivative of the input", "05_tanh_neuron", "ex05_tanh_answer",
     "(1.0 - out.data**2)", "(1.0 - v.data**2)", "ex05_tanh",
     ["`v.grad` is 0.75", "tanh_derivative_of_input", "OUTPUT"], "visible"),
    ("tanh: _backward never attached", "05_tanh_neuron", "ex05_tanh_answer",
     "out._backward = _backward", "pass", "ex05_tanh",
     ["`v.grad` is 0,", "tanh_backward_missing", "out._backward = _backward"], "visible"),
    ("neuron: the engine's tanh", "05_tanh_neuron", "ex05_neuron_answer",
     "tanh(weighted_sum + b)", "(weighted_sum + b).tanh()", "ex05_neuron",
     ["ReferenceSolutionUsed", "Value.tanh", "your own code", "you wrote"], "visible"),
    ("neuron: bias left out", "05_tanh_neuron", "ex05_neuron_answer",
     "tanh(weighted_sum + b)", "tanh(weighted_sum)", "ex05_neuron",
     ["course neuron", "every weight and the bias"], "visible"),
    # The shown neuron has two inputs, so reading only the first two passes the visible
    # block; the hidden three-input case must fail the graded cell.
    ("neuron: first two inputs only", "05_tanh_neuron", "ex05_neuron_answer",
     "zip(ws, xs)", "zip(ws[:2], xs[:2])", "ex05_neuron",
     ["three inputs", "every weight and the bias"], HIDDEN),
]


@pytest.mark.parametrize("mistake, name, answer, old, new, graded, words, caught", MISTAKES,
                         ids=[m[0] for m in MISTAKES])
def test_graded_cells_catch_mistake(repo_root, mistake, name, answer, old, new, graded, words, caught):
    if old is None:  # the whole answer cell is the learner's different attempt
        old = solution_cells(repo_root, name)[answer]
    namespace = answers_namespace(repo_root, name, replace=(answer, old, new))
    with pytest.raises(AssertionError) as failure:
        run_graded(repo_root, name, graded, namespace, hidden=caught == HIDDEN)
    message = str(failure.value)
    for part in words:
        assert part in message, f"{mistake}: {part!r} not in the message {message}"
    assert "should hold" not in message and "{'" not in message, message


def test_reference_backward_matches_the_table_on_fresh_numbers(repo_root):
    """The by-hand dict and the learner-style backward agree with the engine on other inputs."""
    namespace = answers_namespace(repo_root, "04_backward")
    a, b, c, f = Value(1.7), Value(-0.4), Value(2.2), Value(-3.1)
    L = (a * b + c) * f
    namespace["backward"](L)
    table = namespace["by_hand"](1.7, -0.4, 2.2, -3.1)
    for key, node in [("dL_da", a), ("dL_db", b), ("dL_dc", c), ("dL_df", f)]:
        assert math.isclose(table[key], node.grad), (key, table[key], node.grad)
    assert math.isclose(table["L"], L.data)


def test_reference_tanh_is_finite_and_odd_far_out(repo_root):
    tanh = answers_namespace(repo_root, "05_tanh_neuron")["tanh"]
    for x in (1e-12, 0.5, 20.0, 355.0, 1e4, 1e300):
        up, down = tanh(Value(x)), tanh(Value(-x))
        assert math.isfinite(up.data) and up.data == -down.data
        assert math.isclose(up.data, math.tanh(x), rel_tol=1e-12, abs_tol=1e-15)


def test_neuron_with_mismatched_lengths_names_the_problem(repo_root):
    neuron = answers_namespace(repo_root, "05_tanh_neuron")["neuron"]
    with pytest.raises(ValueError, match="one weight per input: got 3 inputs and 2 weights"):
        neuron([1.0, 2.0, 3.0], [Value(0.1), Value(0.2)], Value(0.0))


# ----------------------------------------------------------------------------------------
# the hidden tests: the reference answers must pass the PyTorch comparison
# ----------------------------------------------------------------------------------------
def test_reference_answers_pass_the_hidden_pytorch_comparison(repo_root):
    from microgradlab.checking import verify

    nb04 = answers_namespace(repo_root, "04_backward")
    verify("ex04_by_hand", by_hand=nb04["by_hand"])
    verify("ex04_topological_order", topological_order=nb04["topological_order"])
    verify("ex04_backward", backward=nb04["backward"])
    nb05 = answers_namespace(repo_root, "05_tanh_neuron")
    verify("ex05_tanh", tanh=nb05["tanh"])
    verify("ex05_neuron", neuron=nb05["neuron"])


# ----------------------------------------------------------------------------------------
# in a kernel, as nbgrader runs them
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [pytest.param(n, marks=solution_group(n), id=n) for n in SOURCES])
def test_notebook_runs_clean_and_its_stubs_fail_only_where_allowed(repo_root, jupyter_env, name):
    """The solution runs with no error and nothing on stderr; in the released notebook only
    the graded cells fail. (Both runs are solution_runs.py's, shared with other modules.)"""
    assert errors_and_stderr(solution_run(name).notebook) == []

    student = student_run(name).released()
    graded = {c.metadata["nbgrader"]["grade_id"] for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")}
    failed = {grade_id for grade_id, _ in errors_and_stderr(student)}
    assert failed == graded, f"with the stubs in place, these cells failed: {failed}; only {graded} may"
    check_cells = [c for c in student.cells if c.source.startswith("check(")]
    assert len(check_cells) == len(graded), "every exercise needs a self-check cell"
    for cell in check_cells:
        # In a kernel check() shows a panel that runs the check when its button is clicked
        # (clicks are tested in the browser tests); here: the panel is there, for this exercise.
        exercise_id = re.match(r'check\("(\w+)"', cell.source).group(1)
        shown = shown_by_widgets(student, cell)
        assert "Self-check" in shown and exercise_id in shown, (
            f"{cell.source!r} should show the self-check panel of {exercise_id}; it showed {shown[:300]!r}"
        )


@pytest.mark.parametrize("name", list(SOURCES))
def test_check_cells_report_not_attempted_with_the_stubs(repo_root, name, capsys):
    """Outside a kernel check() prints its report: with nbgrader's stubs, 'not attempted'."""
    from microgradlab.checking import check

    student = student_version(read_notebook(repo_root, name))
    namespace = {"math": math, "Value": Value, "check": check}
    for cell in student.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, "answer cell", "exec"), namespace)
    check_cells = [c.source for c in student.cells if c.source.startswith("check(")]
    assert check_cells
    for source in check_cells:
        exec(compile(source, "check cell", "exec"), namespace)
        printed = capsys.readouterr().out
        assert "not attempted" in printed, f"{source!r} printed {printed!r}"


def shown_by_widgets(nb, cell):
    """The saved state of the widgets a cell displayed, and of their children, as text."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    todo = [
        output["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for output in cell.outputs
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    seen, parts = set(), []
    while todo:
        model_id = todo.pop()
        if model_id in seen or model_id not in state:
            continue
        seen.add(model_id)
        text = json.dumps(state[model_id])
        parts.append(text)
        todo.extend(re.findall(r"IPY_MODEL_([0-9a-f]+)", text))
    return " ".join(parts)

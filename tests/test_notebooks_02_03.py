"""Notebooks 02 (the Value object) and 03 (operations): their visible tests and their stubs.

Most tests run the notebook cells in this process (no kernel). A graded cell runs
`visible(exercise_id, ...)` (the cases the notebook shows, judged by the same verdict as the
hidden tests) and then, hidden from learners, `verify(...)`. The reference answer must pass
the visible block, and each realistic mistake must fail it with a message that names what is
off (the node, attribute or op) in the learner's terms; a mistake that only hidden cases can
show must fail the whole graded cell. Two kernel tests execute the notebooks as nbgrader would
hand them out.
"""
from __future__ import annotations
from conftest import errors_and_stderr
from solution_runs import solution_group, solution_run, student_run

import functools
import json
import math

import jupytext
import nbformat
import pytest

from microgradlab.checking import verify, visible
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

SOURCES = {
    "02_value": "solutions/02_value/02_value.py",
    "03_operations": "solutions/03_operations/03_operations.py",
}


@functools.lru_cache(maxsize=None)
def _notebook_text(path):
    return path.read_text(encoding="utf-8")


def read_notebook(repo_root, name):
    """A fresh notebook object parsed from the jupytext source (callers may modify it)."""
    return jupytext.reads(_notebook_text(repo_root / SOURCES[name]), fmt="py:percent")


def cells_by_grade_id(nb):
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in nb.cells
        if "nbgrader" in cell.metadata
    }


def central_difference(f, x, h):
    """Stand-in with the contract's signature, so these tests need only the notebook."""
    return (f(x + h) - f(x - h)) / (2 * h)


def visible_test_cells(repo_root, name):
    """grade_id -> source, with the hidden tests removed (they need microgradlab.checking)."""
    nb = read_notebook(repo_root, name)
    # The solutions stay: only the resources ClearHiddenTests reads come from ClearSolutions.
    _, resources = ClearSolutions().preprocess(nbformat.from_dict(nb), {"language": "python"})
    nb, _ = ClearHiddenTests().preprocess(nb, resources)
    return cells_by_grade_id(nb)


def graded_cells(repo_root, name):
    """grade_id -> source of the reference notebook's cells, hidden tests included."""
    return cells_by_grade_id(read_notebook(repo_root, name))


def run_cells(sources):
    namespace = {"math": math, "central_difference": central_difference, "visible": visible,
                 "verify": verify}
    for source in sources:
        exec(compile(source, "<notebook cell>", "exec"), namespace)
    return namespace


# ----------------------------------------------------------------------------------------
# notebook 02
# ----------------------------------------------------------------------------------------
def test_02_reference_answer_passes_visible_tests(repo_root, capsys):
    cells = visible_test_cells(repo_root, "02_value")
    assert 'visible("ex02_value"' in cells["ex02_value"]
    run_cells([cells["ex02_value_answer"], cells["ex02_value"]])
    assert "Visible tests passed." in capsys.readouterr().out


MISTAKES_02 = [
    # (what the learner did, replace this, with this, parts the failure message must contain)
    ("children kept in a set", "self._prev = tuple(_children)", "self._prev = set(_children)",
     ["`e._prev` is {a, b}, a set", "(a, b)", "tuple"]),
    ("grad starts at None", "self.grad = 0.0", "self.grad = None", ["a.grad", "a number", "None"]),
    ("children in the wrong order",
     'Value(self.data * other.data, (self, other), "*")',
     'Value(self.data * other.data, (other, self), "*")',
     ["`e._prev` is (b, a)", "it should be (a, b)", "operand order"]),
    ("+ changes its left input",
     'return Value(self.data + other.data, (self, other), "+")',
     'self.data += other.data\n        return Value(self.data, (self, other), "+")',
     ["`e.data` is 4", "it should be -6"]),
    ("wrong op string", '(self, other), "*")', '(self, other), "mul")', ["`e._op` is 'mul'", "'*'"]),
]


@pytest.mark.parametrize("mistake, old, new, words", MISTAKES_02, ids=[m[0] for m in MISTAKES_02])
def test_02_visible_tests_catch_mistake(repo_root, mistake, old, new, words):
    cells = visible_test_cells(repo_root, "02_value")
    answer = read_answer(repo_root, "02_value", "ex02_value_answer")
    assert old in answer, f"the reference answer no longer contains {old!r}; update this test"
    with pytest.raises(AssertionError) as failure:
        run_cells([answer.replace(old, new), cells["ex02_value"]])
    message = str(failure.value)
    assert message.startswith("case '"), f"{mistake}: the message should name the case: {message}"
    for part in words:
        assert part in message, f"{mistake}: {part!r} not in the message {message}"
    assert "should hold" not in message and "{'" not in message, message


def read_answer(repo_root, name, grade_id):
    """The reference (solution) source of one answer cell."""
    return cells_by_grade_id(read_notebook(repo_root, name))[grade_id]


# ----------------------------------------------------------------------------------------
# notebook 03
# ----------------------------------------------------------------------------------------
ANSWERS_03 = ["ex03_add_mul_answer", "ex03_sub_neg_answer", "ex03_div_pow_answer"]
GRADED_03 = ["ex03_add_mul", "ex03_sub_neg", "ex03_div_pow"]


def notebook_03_namespace(repo_root, replace=None):
    """Run the class, tools and reference answers of notebook 03; replace: (grade_id, old, new)."""
    solution = cells_by_grade_id(read_notebook(repo_root, "03_operations"))
    sources = [solution["value_class_03"], solution["tools_03"]]
    for grade_id in ANSWERS_03:
        source = solution[grade_id]
        if replace and replace[0] == grade_id:
            assert replace[1] in source, f"the reference answer no longer contains {replace[1]!r}"
            source = source.replace(replace[1], replace[2])
        sources.append(source)
    return run_cells(sources)


@pytest.mark.parametrize("graded", GRADED_03)
def test_03_reference_answers_pass_visible_tests(repo_root, graded):
    cells = visible_test_cells(repo_root, "03_operations")
    namespace = notebook_03_namespace(repo_root)
    exec(compile(cells[graded], graded, "exec"), namespace)


def test_03_reference_class_matches_local_derivative_table(repo_root):
    Value = notebook_03_namespace(repo_root)["Value"]
    a, b = Value(3.0), Value(-2.0)
    cases = [  # (output, local derivatives from the table in the notebook, op string)
        (a + b, [1.0, 1.0], "+"),
        (a * b, [b.data, a.data], "*"),
        (a - b, [1.0, -1.0], "-"),
        (-a, [-1.0], "neg"),
        (a**2.5, [2.5 * 3.0**1.5], "**2.5"),
        (a / b, [1 / b.data, -a.data / b.data**2], "/"),
    ]
    for out, local, op in cases:
        for leaf in (a, b):
            leaf.grad = 0.0
        out.grad = 1.0
        out._backward()
        got = [child.grad for child in out._prev]
        assert out._op == op and all(math.isclose(g, w) for g, w in zip(got, local)), (op, got, local)


def test_03_pow_rejects_a_value_exponent_with_a_clear_error(repo_root):
    Value = notebook_03_namespace(repo_root)["Value"]
    with pytest.raises(TypeError, match="exponent must be a plain int or float"):
        Value(2.0) ** Value(3.0)


HIDDEN = "hidden"  # caught only by the hidden cases of the graded cell (verify)

MISTAKES_03 = [
    # (mistake, answer cell, old, new, graded cell, parts of the message, where it is caught)
    # `=` in +: no shown case of ex03_add_mul uses a Value twice, but each op node is also
    # graded on its own, every grad set to a non-zero number first: `=` throws that away,
    # so the first shown case already fails.
    ("= instead of += in add", "ex03_add_mul_answer",
     "self.grad += 1.0 * out.grad\n        other.grad += 1.0 * out.grad",
     "self.grad = 1.0 * out.grad\n        other.grad = 1.0 * out.grad", "ex03_add_mul",
     ["out = a + b", "`out._backward()` (with out.grad = 1) added 0.7 to a.grad",
      "assign_not_accumulate", "+="], "visible"),
    ("mul uses its own data", "ex03_add_mul_answer",
     "self.grad += other.data * out.grad  # the OTHER factor\n        other.grad += self.data",
     "self.grad += self.data * out.grad\n        other.grad += other.data", "ex03_add_mul",
     ["`a.grad` is 2, it should be -3", "mul_uses_own_data", "OTHER factor"], "visible"),
    ("mul ignores out.grad", "ex03_add_mul_answer",
     "self.grad += other.data * out.grad  # the OTHER factor\n        other.grad += self.data * out.grad",
     "self.grad += other.data\n        other.grad += self.data", "ex03_add_mul",
     ["out.grad = 0.5", "`a.grad` is -3, it should be -1.5", "_backward of `out = a * b`"], "visible"),
    ("sub signs flipped", "ex03_sub_neg_answer",
     "self.grad += 1.0 * out.grad\n        other.grad += -1.0 * out.grad",
     "self.grad += -1.0 * out.grad\n        other.grad += 1.0 * out.grad", "ex03_sub_neg",
     ["`a.grad` is -1, it should be 1", "`b.grad` is 1", "sub_sign_flipped"], "visible"),
    ("rsub reversed", "ex03_sub_neg_answer", "return Value(other) - self", "return self - Value(other)",
     "ex03_sub_neg", ["1.0 - a", "`out.data` is 1, it should be -1", "__rsub__", "order is reversed"],
     "visible"),
    ("neg derivative +1", "ex03_sub_neg_answer", "self.grad += -1.0 * out.grad\n", "self.grad += out.grad\n",
     "ex03_sub_neg", ["out = -a", "`a.grad` is 1, it should be -1", "_backward of `out = -a`"], "visible"),
    ("pow missing the -1", "ex03_div_pow_answer", "self.data ** (k - 1)", "self.data ** k",
     "ex03_div_pow", ["a ** 3", "`a.grad` is 24, it should be 12", "pow_missing_minus_one", "k - 1"],
     "visible"),
    ("rtruediv reversed", "ex03_div_pow_answer", "return Value(other) / self", "return self / Value(other)",
     "ex03_div_pow", ["1.0 / a", "`out.data` is 2, it should be 0.5", "__rtruediv__", "order is reversed"],
     "visible"),
    ("div: wrong sign for b", "ex03_div_pow_answer", "(-self.data / other.data**2)",
     "(self.data / other.data**2)", "ex03_div_pow",
     ["`b.grad` is 0.75, it should be -0.75", "_backward of `out = a / b`"], "visible"),
    # No wrapping of plain numbers: the shown cases of ex03_add_mul combine two Values only,
    # so the visible block passes; the hidden `a + 3.0` case must fail the graded cell.
    ("missing wrapping of plain numbers", "ex03_add_mul_answer",
     "    other = other if isinstance(other, Value) else Value(other)\n", "", "ex03_add_mul",
     ["a + 3.0", "AttributeError", "'float' object has no attribute 'data'"], HIDDEN),
]


@pytest.mark.parametrize(
    "mistake, answer, old, new, graded, words, caught", MISTAKES_03, ids=[m[0] for m in MISTAKES_03]
)
def test_03_graded_cells_catch_mistake(repo_root, mistake, answer, old, new, graded, words, caught):
    namespace = notebook_03_namespace(repo_root, replace=(answer, old, new))
    if caught == HIDDEN:
        cell = graded_cells(repo_root, "03_operations")[graded]
        assert "### BEGIN HIDDEN TESTS" in cell and f'verify("{graded}"' in cell
    else:
        cell = visible_test_cells(repo_root, "03_operations")[graded]
    with pytest.raises(AssertionError) as failure:
        exec(compile(cell, graded, "exec"), namespace)
    message = str(failure.value)
    for part in words:
        assert part in message, f"{mistake}: {part!r} not in the message {message}"
    assert "should hold" not in message and "{'" not in message, message


# ----------------------------------------------------------------------------------------
# the hidden tests: the reference answers must satisfy the PyTorch comparison
# ----------------------------------------------------------------------------------------
def test_reference_answers_pass_the_hidden_pytorch_comparison(repo_root):
    from microgradlab.checking import verify

    solution02 = cells_by_grade_id(read_notebook(repo_root, "02_value"))
    verify("ex02_value", Value=run_cells([solution02["ex02_value_answer"]])["Value"])
    Value = notebook_03_namespace(repo_root)["Value"]
    for exercise in GRADED_03:
        verify(exercise, Value=Value)


# ----------------------------------------------------------------------------------------
# in a kernel, as nbgrader runs them
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [pytest.param(n, marks=solution_group(n), id=n) for n in SOURCES])
def test_notebook_runs_clean_and_its_stubs_fail_only_where_allowed(repo_root, jupyter_env, name):
    """The solution runs with no error and nothing on stderr; in the released notebook only
    the graded cells fail. (Both runs are solution_runs.py's, shared with other modules.)"""
    assert errors_and_stderr(solution_run(name).notebook) == []

    student = student_run(name).released()
    graded = {
        cell.metadata["nbgrader"]["grade_id"]
        for cell in student.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }
    failed = {grade_id for grade_id, _ in errors_and_stderr(student)}
    assert failed == graded, f"with the stubs in place, these cells failed: {failed}; only {graded} may"
    check_cells = [cell for cell in student.cells if cell.source.startswith("check(")]
    assert check_cells, "every exercise needs a self-check cell"
    widget_state = json.dumps(student.metadata.get("widgets", {})).lower()
    for cell in check_cells:
        # check() prints "not attempted" (or shows it in its panel, whose state nbclient keeps)
        text = json.dumps(cell.outputs).lower()
        assert "not attempted" in text or "not attempted" in widget_state, (
            f"{cell.source!r} should report 'not attempted' with the stubs in place; it showed {text[:300]}"
        )

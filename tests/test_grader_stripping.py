"""The sandbox's copy of the package holds no code that computes a graded answer.

Each probe runs in a fresh interpreter on the stripped copy for one notebook:
the notebooks' own imports work and do nothing, the exercises and the checker
are not there, and one-line wrappers around what is left (widgets' graph
walker, the numeric helpers, nn, the engine's backward) give no answer. The
control runs the same wrappers on the real package, where they do answer, so
the test can fail.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from microgradlab_grader.sandbox import build_stripped_package

WRAPPERS = """
import sys
{path_line}
from microgradlab import Value
from microgradlab.errors import ReferenceSolutionUsed
from microgradlab.checking import verify, check, hint
try:
    print("setup imports", verify("ex04_backward"), check("x"), hint("x"))
except BaseException as error:  # the real checker refuses a call without names
    print("real checker", type(error).__name__)

def attempt(name, wrapper):
    try:
        print(name, "answers", wrapper())
    except ReferenceSolutionUsed:
        print(name, "withheld")
    except Exception as error:
        print(name, "fails", type(error).__name__)

def chain():
    a = Value(2.0, label="a")
    return a, a * a + a

def by_walker():  # topological order from the drawing code
    from microgradlab.widgets._graph import collect, topological_from_output
    a, out = chain()
    return len(topological_from_output(collect(out)))

def by_stepper():  # backward from the stepper's recorded pass
    from microgradlab.widgets.stepper import BackwardPass
    a, out = chain()
    BackwardPass(out)
    return a.grad

def by_numeric():  # a derivative without writing one
    from microgradlab.numeric import central_difference
    return round(central_difference(lambda x: x * x, 3.0), 3)

def by_backward():
    a, out = chain()
    out.backward()
    return a.grad

def by_nn():  # the harness MLP of notebook 06
    from microgradlab.nn import MLP
    return len(MLP(2, [3, 1]).parameters())

def by_exercises():  # the cases and the comparison
    from microgradlab.exercises import get
    return len(get("ex04_backward").cases(0))

for name, wrapper in [("walker", by_walker), ("stepper", by_stepper), ("numeric", by_numeric),
                      ("backward", by_backward), ("nn", by_nn), ("exercises", by_exercises)]:
    attempt(name, wrapper)
"""


def _run(path_line: str) -> str:
    out = subprocess.run([sys.executable, "-c", WRAPPERS.format(path_line=path_line)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("notebook", ["02_value", "04_backward", "05_tanh_neuron", "06_mlp"])
def test_no_wrapper_around_what_is_left_gives_an_answer(tmp_path, repo_root, notebook):
    copy = build_stripped_package(repo_root / "src" / "microgradlab", notebook,
                                  tmp_path / notebook / "microgradlab")
    out = _run(f"sys.path.insert(0, {str(copy.parent)!r})")
    assert "setup imports None None None" in out, out
    # backward() is notebook 04's: from 05 on it is earlier work the notebook may use.
    withheld = ["walker", "stepper", "numeric", "nn", "exercises"]
    if notebook <= "04_backward":
        withheld.append("backward")
    for name in withheld:
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert "answers" not in line or line.endswith(" 0.0"), line
    assert not (copy / "checking" / "compare.py").exists()
    assert not (copy / "exercises" / "nb04.py").exists()
    assert not (copy / "widgets" / "_graph.py").read_text().count("def ")


@pytest.mark.slow  # a fresh Python process importing the whole package
def test_the_wrappers_do_answer_with_the_real_package(repo_root):
    """The control: outside the sandbox every wrapper computes its answer."""
    from microgradlab.exercises import get

    out = _run("")
    cases = len(get("ex04_backward").cases(0))
    for expected in ("walker answers 3", "stepper answers", "numeric answers 6.0",
                     "backward answers 5.0", "nn answers 13", f"exercises answers {cases}"):
        assert expected in out, out

"""The sandbox's generated package holds no code that computes a later answer.

Each probe runs in a fresh interpreter on the package generated for one notebook
(withholding.build_package): the notebooks' own imports work and do nothing, the
exercises and the checker are not there, and one-line wrappers around reference
code (widgets' graph walker and stepper, nn, the engine's backward, the numeric
helpers, pickling's topological order) find nothing to call unless an earlier
notebook taught it. The control runs the same wrappers on the real package,
where they do answer, so the test can fail.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from microgradlab_grader.withholding import build_package

WRAPPERS = """
import sys
{path_line}
from microgradlab.errors import ReferenceSolutionUsed
from microgradlab.checking import verify, check, hint
try:
    print("setup imports", verify("ex04_backward"), check("x"), hint("x"))
except BaseException as error:  # the real checker refuses a call without names
    print("real checker", type(error).__name__)

def attempt(name, wrapper):
    try:
        print(name, "answers", wrapper())
    except (ImportError, AttributeError) as error:
        print(name, "absent", type(error).__name__)
    except ReferenceSolutionUsed:
        print(name, "withheld")
    except Exception as error:
        print(name, "fails", type(error).__name__)

def chain():
    from microgradlab import Value
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

def by_pickling():  # the topological order pickling support hands out
    a, out = chain()
    return len(out.__reduce_ex__(4)[1][1])

def by_sigmoid():  # tanh(x) = 2 * sigmoid(2x) - 1, and its derivative with it
    a, out = chain()
    return round(a.sigmoid().data, 3)

def by_linear():  # a neuron's pre-activation in one call
    from microgradlab import Value
    return Value.linear([Value(1.0)], [Value(2.0)], Value(0.5)).data

def by_exercises():  # the cases and the comparison
    from microgradlab.exercises import get
    return len(get("ex04_backward").cases(0))

for name, wrapper in [("walker", by_walker), ("stepper", by_stepper), ("numeric", by_numeric),
                      ("backward", by_backward), ("nn", by_nn), ("exercises", by_exercises),
                      ("pickling", by_pickling), ("sigmoid", by_sigmoid), ("linear", by_linear)]:
    attempt(name, wrapper)
"""


def _run(path_line: str) -> str:
    out = subprocess.run([sys.executable, "-c", WRAPPERS.format(path_line=path_line)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("notebook", ["01_derivatives", "02_value", "03_operations",
                                      "04_backward", "05_tanh_neuron", "06_mlp"])
def test_no_wrapper_around_what_is_left_gives_an_answer(tmp_path, notebook):
    copy = build_package(notebook, tmp_path / notebook / "microgradlab")
    # As in the sandbox, where site-packages holds no editable-install finder.
    out = _run(f"sys.path.insert(0, {str(copy.parent)!r}); "
               "sys.meta_path[:] = [f for f in sys.meta_path "
               "if not str(getattr(f, '__module__', '')).startswith('__editable__')]")
    assert "setup imports None None None" in out, out
    # What an earlier notebook taught is there: the numeric helpers from 02 on
    # (01 writes them), backward() from 05 on (04 writes it).
    absent = ["nn", "exercises", "pickling", "sigmoid", "linear"]
    if notebook <= "04_backward":
        absent.append("backward")
    if notebook == "01_derivatives":
        absent.append("numeric")
    for name in absent:
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert " answers " not in line, line
    for name in ("walker", "stepper"):  # the widgets do nothing
        line = next(l for l in out.splitlines() if l.startswith(name + " "))
        assert "answers" not in line or line.endswith((" 0.0", "not shown while grading)")), line
    assert not (copy / "checking" / "compare.py").exists()
    assert not (copy / "exercises" / "nb04.py").exists()
    assert not (copy / "nn.py").exists()
    assert not (copy / "widgets" / "_graph.py").read_text().count("def ")


@pytest.mark.slow  # a fresh Python process importing the whole package
def test_the_wrappers_do_answer_with_the_real_package():
    """The control: outside the sandbox every wrapper computes its answer."""
    from microgradlab.exercises import get

    out = _run("")
    cases = len(get("ex04_backward").cases(0))
    for expected in ("walker answers 3", "stepper answers", "numeric answers 6.0",
                     "backward answers 5.0", "nn answers 13", f"exercises answers {cases}",
                     "pickling answers", "sigmoid answers 0.881", "linear answers 2.5"):
        assert expected in out, out

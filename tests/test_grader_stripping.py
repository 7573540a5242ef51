"""The sandbox's copy of the package holds no working reference solution to what is graded."""
from __future__ import annotations

import subprocess
import sys

import pytest

from microgradlab_grader.sandbox import build_stripped_package

PROBE = """
import sys
sys.path.insert(0, {root!r})
from microgradlab.exercises import programs, ReferenceSolutionUsed
program = {{"leaves": {{"a": 2.0, "b": 3.0}}, "ops": [["c", "mul", "a", "b"]], "output": "c"}}
for name in ("gradients", "local_derivatives"):
    try:
        getattr(programs, name)(program) if name == "gradients" else programs.local_derivatives(["c", "mul", "a", "b"], {{"a": 2.0, "b": 3.0, "c": 6.0}})
        print(name, "works")
    except ReferenceSolutionUsed as error:
        print(name, "withheld:", error)
print("build", programs.build(program, float)["c"])
"""


def _probe(tmp_path, repo_root, notebook):
    copy = build_stripped_package(repo_root / "src" / "microgradlab", notebook,
                                  tmp_path / notebook / "microgradlab")
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(copy.parent))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("notebook", ["02_value", "03_operations", "04_backward", "05_tanh_neuron"])
def test_the_harness_gradient_interpreter_is_withheld_where_it_would_answer(tmp_path, repo_root, notebook):
    out = _probe(tmp_path, repo_root, notebook)
    assert "gradients withheld" in out and "local_derivatives withheld" in out, out
    assert "build 6.0" in out, "the harness itself must still build cases"


@pytest.mark.parametrize("notebook", ["01_derivatives", "06_mlp"])
def test_the_interpreter_stays_where_the_harness_needs_it(tmp_path, repo_root, notebook):
    out = _probe(tmp_path, repo_root, notebook)
    assert "gradients works" in out and "local_derivatives works" in out, out

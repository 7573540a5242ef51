"""Withholding by construction, inside the real sandbox (withholding.py, sandbox.py).

* Only the allowed third-party packages import in a sandbox: torch, sympy, mpmath,
  networkx, scipy, jax, autograd, dask (installed here: the control shows it imports
  outside) fail in every notebook's sandbox; numpy, matplotlib and math work.
* The standard library's graphlib (a ready-made topological order) is blocked.
* The table refuses to hand out a broken engine and catches renames.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from microgradlab.exercises import NOTEBOOKS, gives
from microgradlab_grader import sandbox, uids, withholding

pytestmark = pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bwrap is not installed")

FORBIDDEN = ("torch", "sympy", "mpmath", "networkx", "scipy", "jax", "autograd", "dask",
             "graphlib")
ALLOWED = ("numpy", "matplotlib.pyplot", "math", "IPython", "ipywidgets")

PROBE = """
import importlib, sys
sys.path.insert(0, sys.argv[2])
for name in sys.argv[3].split(","):
    try:
        importlib.import_module(name)
        print(name, "imports")
    except ImportError as error:
        print(name, "fails", type(error).__name__, str(error)[:80])
import microgradlab
print("package at", microgradlab.__file__)
"""


def in_sandbox(package: Path, names) -> str:
    support = Path(tempfile.mkdtemp(prefix="mglab-withhold-"))
    try:
        os.chmod(support, 0o755)
        stub, _ = sandbox.write_support_files(support)
        (support / "probe.py").write_text(PROBE)
        (support / "probe.py").chmod(0o644)
        limits = sandbox.Limits(memory_bytes=2 * 1024**3)
        with uids.allocate_uids(1) as (uid,):  # None when not root: the caller's own user
            cmd = sandbox.bwrap_command(None, package, support / "probe.py", stub, "-",
                                        uid=uid, scratch_bytes=1 << 24) + [",".join(names)]
            with sandbox.Confinement(limits, uid) as confinement:
                done = subprocess.run(cmd, env=sandbox.clean_environment(), capture_output=True,
                                      text=True, preexec_fn=confinement.preexec, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout
    finally:
        subprocess.run(["rm", "-rf", str(support)], check=False)


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    work = tmp_path_factory.mktemp("mglab-packages")
    os.chmod(work, 0o755)
    return {nb: withholding.build_package(nb, work / nb / "microgradlab") for nb in NOTEBOOKS}


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_only_the_allowed_packages_import_in_each_sandbox(packages, notebook):
    out = in_sandbox(packages[notebook], FORBIDDEN + ALLOWED)
    for name in FORBIDDEN:
        assert f"{name} fails" in out, out
    for name in ("sympy", "mpmath", "networkx", "scipy", "jax", "autograd", "dask", "graphlib"):
        assert f"No module named '{name}'" in out, out
    assert "PyTorch is not available" in out, out
    for name in ALLOWED:
        assert f"{name} imports" in out, out
    assert f"package at {sandbox.PACKAGE_PARENT}/microgradlab/__init__.py" in out, out


def test_the_same_imports_work_outside():
    """The control: these packages are installed, so only the sandbox stops them."""
    script = ("import importlib\n"
              f"for name in {FORBIDDEN + ALLOWED!r}:\n"
              "    try:\n"
              "        importlib.import_module(name); print(name, 'imports')\n"
              "    except ImportError as error:\n"
              "        print(name, 'fails', error)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300).stdout
    installed = [n for n in FORBIDDEN + ALLOWED if f"{n} imports" in out]
    # jax and autograd are not installed here; every other one is.
    assert set(installed) >= {"torch", "sympy", "mpmath", "networkx", "dask", "graphlib",
                              *ALLOWED}, out


def test_a_listed_name_that_does_not_exist_is_refused(gives_with):
    gives_with({"03_operations": {**gives.EXTRA_GIVES["03_operations"],
                                  "graph": ("walk_renamed",)}})
    with pytest.raises(withholding.WithholdingError, match="walk_renamed"):
        withholding.generate_sources("04_backward")


def test_kept_code_that_reads_a_name_nothing_keeps_is_refused(gives_with):
    """backward() without the walk it runs on: the generator names the gap."""
    gives_with({"04_backward": {}})
    with pytest.raises(withholding.WithholdingError, match="_interior_nodes_output_first"):
        withholding.generate_sources("05_tanh_neuron")


def test_pieces_no_notebook_teaches_are_in_no_sandbox(packages):
    for notebook, package in packages.items():
        engine = package / "engine.py"
        text = engine.read_text() if engine.exists() else ""
        for name in ("def sum", "def linear", "def log", "def sigmoid", "def softplus",
                     "__reduce_ex__", "__deepcopy__", "__getstate__", "_QUEUED"):
            assert name not in text, (notebook, name)
        assert not (package / "nn.py").exists()
        assert ("def backward" in text) == (notebook > "04_backward"), notebook
        assert ("def tanh" in text) == (notebook > "05_tanh_neuron"), notebook


def test_the_in_kernel_tripwire_reads_the_same_table():
    """In the learner's kernel the pieces of notebook 04 on raise while a check runs,
    and the checker's own walk still works; everything is restored afterwards."""
    from microgradlab import Value, engine, graph
    from microgradlab.errors import ReferenceSolutionUsed
    from microgradlab.exercises import withheld
    from microgradlab.exercises._base import nodes_inputs_first

    out = Value(2.0) * Value(3.0) + 1
    with withheld("04_backward", "ex04_topological_order"):
        for borrow in (lambda: engine._interior_nodes_output_first(out),
                       lambda: graph.walk(out), lambda: out.backward(), lambda: out.tanh()):
            with pytest.raises(ReferenceSolutionUsed, match="ex04_topological_order"):
                borrow()
        assert len(nodes_inputs_first(out)) == 5  # the checker's walk is its own
        assert (out * 2).data == 14.0             # notebook 03's pieces stay
    assert [n.data for n in engine._interior_nodes_output_first(out)] == [7.0, 6.0]
    assert "microgradlab.engine:Value.backward" in gives.graded_from("04_backward")
    assert "microgradlab.engine:Value.backward" not in gives.graded_from("05_tanh_neuron")

"""Shared fixtures: a private Jupyter home so tests never touch the user's."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_NAMES = [
    "01_derivatives", "02_value", "03_operations",
    "04_backward", "05_tanh_neuron", "06_mlp",
]
# Every test that starts a kernel, a sandbox, nbgrader, JupyterLab or Dask asks for a
# private Jupyter home; PostgreSQL is a server of its own. A test that needs one of these
# fixtures, directly or through another fixture, is `slow`: `make test-fast` leaves it out.
HEAVY_FIXTURES = frozenset({"jupyter_env", "postgres"})


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects, before xdist's groups
def pytest_collection_modifyitems(items):
    for item in items:
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        # A module fixture (a graded class, a cluster) is built once per xdist worker that
        # runs one of its tests: the tests sharing one stay on one worker, so it is built once.
        if item.get_closest_marker("xdist_group") is None and _uses_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Refuse to run when xdist would split a group: each worker would build the group's
    fixtures again (a catalogue run, a graded class), and the suite takes twice as long.
    pytest-xdist marks a grouped test by appending "@group" to its id; a pytest it does
    not support keeps the id unchanged."""
    if not session.config.getoption("loadgroup", default=False):
        return
    split = [item.nodeid for item in session.items
             if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if split:
        message = (f"pytest-xdist did not group {len(split)} tests marked xdist_group "
                   f"(first: {split[0]}): install the pytest of requirements.lock (make setup)")
        os.write(2, f"\n[conftest] {message}\n".encode())  # a worker's own error is not shown
        raise pytest.UsageError(message)


def _uses_a_module_fixture(item) -> bool:
    """True if the test needs a module-scoped fixture (pytest keeps them in _fixtureinfo)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(fixture.scope == "module"
               for fixtures in info.name2fixturedefs.values() for fixture in fixtures)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def jupyter_env(tmp_path_factory) -> dict:
    """Environment variables pointing every Jupyter/IPython/matplotlib dir at a temp home.

    Also applied to this process, so in-process nbclient kernels inherit it.
    """
    home = tmp_path_factory.mktemp("jupyter-home")
    env = {
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "MPLCONFIGDIR": str(home / "mpl"),
        "MPLBACKEND": "Agg",
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    for path in env.values():
        if path.startswith(str(home)):
            Path(path).mkdir(parents=True, exist_ok=True)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield dict(os.environ)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def gives_with(monkeypatch):
    """``gives_with({notebook: extras})``: the withholding table derived again with those
    notebooks' EXTRA_GIVES entries replaced, for this test (what the sandbox generator
    and the in-kernel tripwire read). Returns the new table."""
    from microgradlab.exercises import gives

    def patch(entries: dict) -> dict:
        monkeypatch.setattr(gives, "EXTRA_GIVES", {**gives.EXTRA_GIVES, **entries})
        table = gives._Gives()
        monkeypatch.setattr(gives, "GIVES", table)
        return table
    return patch


def execute_notebook(nb, folder: Path | None = None, timeout: int = 60):
    """Run every cell of ``nb`` in a fresh python3 kernel, keeping going past errors
    (as nbgrader does), with ``folder`` as the working directory. Returns ``nb``.

    A kernel that dies before it ever answers (two kernels racing for ports on a
    loaded machine) is started once more; a failure after that is real.
    """
    from nbclient import NotebookClient

    resources = {"metadata": {"path": str(folder)}} if folder else {}
    for attempt in (1, 2):
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                allow_errors=True, resources=resources)
        try:
            client.execute()
            return nb
        except RuntimeError as error:
            if attempt == 2 or "before replying to kernel_info" not in str(error):
                raise


def errors_and_stderr(nb) -> list[tuple[str, str]]:
    """(grade_id or "cell N", what went wrong) for every error output and every
    stderr stream in an executed notebook: what nbgrader counts as a failure."""
    found = []
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append((grade_id, f"{output.ename}: {output.evalue}"))
            elif output.output_type == "stream" and output.name == "stderr":
                found.append((grade_id, "stderr: " + output.text))
    return found


# The wrong-answer catalogue's shared runs (test_wrong_answers.py, test_agreement.py).
# Imported last: catalogue_runs uses execute_notebook above.
from catalogue_runs import catalogue_grades, catalogue_kernels, catalogue_nbgrader  # noqa: E402,F401
# One JupyterLab for the browser tests (test_browser.py, test_browser_check.py).
from lab_server import lab_server  # noqa: E402,F401

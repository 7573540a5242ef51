"""One JupyterLab server for every browser test of the session (conftest.py makes
``lab_server`` a session fixture; test_browser.py and test_browser_check.py share it).

Starts JupyterLab on 127.0.0.1 (free port, no token, private Jupyter dirs) with, in
its root: a generated notebook in the course's style, the real student notebook 04,
and every solution notebook in course/.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
GENERATED = "check_panel_demo.ipynb"
STUDENT = "04_backward.ipynb"


def generated_notebook() -> nbformat.NotebookNode:
    """A small notebook in the course's style: a graph, a learner's backward with the
    classic `=` instead of `+=` bug, and a check panel that finds it."""
    cells = [
        "from microgradlab import Value\n"
        "from microgradlab.widgets import BackwardStepper, check_panel, draw_dot\n"
        "from types import SimpleNamespace",
        "a = Value(2.0, label='a')\nb = Value(3.0, label='b')\n"
        "c = a * b + a  # a is used twice\nc.label = 'c'\ndraw_dot(c)",
        "def backward(root):  # the learner's version, with a bug\n"
        "    root.grad = 1.0\n"
        "    product, _ = root._prev\n"
        "    product.grad = root.grad\n"
        "    a.grad = product.grad * b.data\n"
        "    a.grad = root.grad          # overwrites instead of adding: should be +=\n"
        "    b.grad = product.grad * a.data",
        "def make_report():\n"
        "    backward(c)\n"
        "    expected_a = b.data + 1\n"
        "    if a.grad == expected_a:\n"
        "        return SimpleNamespace(state='correct', text='a.grad matches', "
        "graph_root=None, highlight={})\n"
        "    return SimpleNamespace(\n"
        "        state='wrong',\n"
        "        text=f'a.grad is {a.grad} but a is used twice: each use must add its share',\n"
        "        graph_root=c, highlight={a: 'used twice'})\n\n"
        "check_panel('ex04_backward', make_report, lambda: 'use += in every _backward')",
        "BackwardStepper(c)",
    ]
    notebook = nbformat.v4.new_notebook()
    for source in cells:
        notebook.cells.append(nbformat.v4.new_markdown_cell("A step of the demo."))
        notebook.cells.append(nbformat.v4.new_code_cell(source))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    return notebook


def student_notebook(path: Path) -> nbformat.NotebookNode:
    """The real student notebook, with every graded cell tagged `raises-exception` so
    Run All goes on past the unfinished exercises (JupyterLab honours that tag)."""
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and (grading.get("solution") or grading.get("grade")):
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    return notebook


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def lab_server(jupyter_env, tmp_path_factory):
    """A JupyterLab server with the notebooks in its root; yields (url, the names of the
    generated and the student notebook, log)."""
    config_dir = Path(jupyter_env["JUPYTER_CONFIG_DIR"])
    news = config_dir / "lab/user-settings/@jupyterlab/apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))

    tmp_path = tmp_path_factory.mktemp("lab")
    root = tmp_path / "lab-root"
    root.mkdir()
    names = [GENERATED, STUDENT]
    nbformat.write(generated_notebook(), root / GENERATED)
    nbformat.write(student_notebook(REPO / "notebooks" / STUDENT), root / STUDENT)
    # Every notebook with its exercises done (the instructor's version: every drawing is
    # drawn), in a folder of its own.
    (root / "course").mkdir()
    for path in sorted((REPO / "solutions").glob("0*/0*.ipynb")):
        (root / "course" / path.name).write_bytes(path.read_bytes())

    port = free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--IdentityProvider.token=", "--ServerApp.password=",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
               "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp_path / "jupyter-server.log"
    log = open(log_path, "w")
    # Kernels plot inline, as for a learner (the test environment's MPLBACKEND=Agg would
    # leave every figure out of the page).
    env = {k: v for k, v in jupyter_env.items() if k != "MPLBACKEND"}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in 90 s:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url, names, log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()



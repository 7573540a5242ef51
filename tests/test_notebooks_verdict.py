"""Without a widget front end the check cells still give their verdict.

nbclient (in this process) and ``jupyter nbconvert --execute --to html`` (a
separate command, as a learner or CI would run it) on the student notebook 04:
no cell may stop the run (answer and graded cells carry ``raises-exception``),
and every ``check(...)`` cell's output says "Not attempted yet" in text/plain and
text/html, not ``VBox(children=...``, and nbconvert's page shows it as HTML
(not only inside widget state, which needs a CDN script to be seen).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, execute_notebook

NAME = "04_backward"
VERDICT = "○ Not attempted yet"


def check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("check(")]


def test_graded_and_answer_cells_are_tagged_to_run_on():
    nb = nbformat.read(ROOT / "notebooks" / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (grading.get("grade") or grading.get("solution")):
            assert "raises-exception" in cell.metadata.get("tags", []), grading.get("grade_id")


def test_nbclient_run_shows_the_verdict_of_every_check(jupyter_env, tmp_path):
    nb = nbformat.read(ROOT / "notebooks" / f"{NAME}.ipynb", as_version=4)
    # allow_errors stays False here: the raises-exception tags alone must carry the run
    from nbclient import NotebookClient

    NotebookClient(nb, kernel_name="python3", timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    checks = check_cells(nb)
    assert checks, "no check(...) cells found"
    for cell in checks:
        data = [o.data for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        assert data, f"{cell.source!r} showed nothing"
        assert VERDICT in data[-1]["text/plain"] and "VBox(" not in data[-1]["text/plain"]
        assert VERDICT in data[-1]["text/html"]
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code"), \
        "some cell did not run"


def test_nbconvert_html_shows_the_verdict(jupyter_env, tmp_path):
    source = tmp_path / f"{NAME}.ipynb"
    source.write_bytes((ROOT / "notebooks" / f"{NAME}.ipynb").read_bytes())
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to",
                           "html", str(source)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env=jupyter_env)
    assert done.returncode == 0, done.stderr[-2000:]
    page = (tmp_path / f"{NAME}.html").read_text(encoding="utf-8")
    # The project's nbconvert setting (jupyter-config/, installed into the venv by the
    # set-up) writes an output that has its own HTML as that HTML: the verdict is in the
    # page itself, readable offline and without JavaScript, not only in widget state
    # that a CDN script would have to draw.
    visible = re.sub(r"<script\b.*?</script>", "", page, flags=re.S | re.I)
    checks = len(check_cells(nbformat.reads(source.read_text(), 4)))
    assert checks and visible.count(VERDICT) >= checks, "the verdict is not in the page's HTML"
    assert "VBox(children" not in page


def test_the_nbconvert_setting_is_where_nbconvert_reads_it():
    import json

    from jupyter_core.paths import jupyter_config_path

    shipped = json.loads((ROOT / "jupyter-config" / "jupyter_nbconvert_config.json").read_text())
    installed = [Path(p) / "jupyter_nbconvert_config.json" for p in jupyter_config_path()]
    found = [json.loads(p.read_text()) for p in installed if p.is_file()]
    assert shipped in found, "run make setup: the venv lacks jupyter_nbconvert_config.json"
    priority = shipped["NbConvertBase"]["display_data_priority"]
    assert priority.index("text/html") < priority.index("application/vnd.jupyter.widget-view+json")

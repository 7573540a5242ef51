"""The lessons' text is clean, and the parts that lean on outside software behave.

* No control character hides in any notebook or source (a backslash sequence written in a
  non-raw string, say, turns "\\alpha" into a bell character and "lpha").
* 06's PyTorch bridge comes after every graded cell and only prints a note where PyTorch
  is missing, as in the grader's sandbox.
* 04's snippet for checking against micrograd runs and prints what its comment says.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import jupytext
import nbformat
import pytest

from conftest import ROOT, execute_notebook

#: C0 controls but tab and newline, DEL, and the C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".toml", ".json", ".txt", ".cfg", ".yml", ".yaml",
                 ".sh", ".lock", ".css", ".js", ".html", ".svg"}


def tracked_text_files() -> list:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    names = [n for n in listed.stdout.decode("utf-8").split("\0") if n]
    return [ROOT / n for n in names
            if (ROOT / n).suffix in TEXT_SUFFIXES or n in ("Makefile", ".gitignore")]


def strings_in(value):
    """Every string inside a JSON document (a notebook's cells, outputs and metadata)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def test_no_control_characters_in_notebooks_or_sources():
    files = tracked_text_files()
    assert any(f.suffix == ".ipynb" for f in files) and any(f.suffix == ".py" for f in files)
    found = []
    for path in files:
        if not path.exists():  # deleted in the work tree, not yet committed
            continue
        text = path.read_text(encoding="utf-8")
        texts = [text] + (list(strings_in(json.loads(text))) if path.suffix == ".ipynb" else [])
        for chunk in texts:
            for match in CONTROL.finditer(chunk):
                line = chunk.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}: U+{ord(match.group()):04X} on line {line} "
                             f"near {chunk[max(0, match.start() - 30):match.start() + 10]!r}")
    assert not found, "control characters:\n" + "\n".join(found)


def test_the_control_character_check_sees_a_bell_in_a_notebook():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$\alpha$")])
    text = nbformat.writes(notebook)
    assert "\\u0007" in text and not CONTROL.search(text)  # JSON hides it as an escape...
    assert any(CONTROL.search(s) for s in strings_in(json.loads(text)))  # ...decoding finds it


def bridge_cells(notebook):
    """06's cells from the heading of the PyTorch section up to the Summary."""
    cells = notebook.cells
    start = next(i for i, c in enumerate(cells)
                 if c.cell_type == "markdown" and "## 6. The same task in PyTorch" in c.source)
    end = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## Summary" in c.source)
    return start, cells[start:end]


def test_the_pytorch_bridge_comes_after_every_graded_cell():
    notebook = jupytext.read(ROOT / "solutions" / "06_mlp" / "06_mlp.py", fmt="py:percent")
    start, cells = bridge_cells(notebook)
    graded = [i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and max(graded) < start
    assert not any(c.metadata.get("nbgrader") for c in cells), "a graded or locked cell in the bridge"
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    for piece in ("torch.nn.Sequential", "torch.nn.Linear", "torch.optim.SGD", "zero_grad()",
                  ".backward()", "optimizer.step()", "torch_accuracy"):
        assert piece in code, piece


@pytest.mark.slow
def test_without_pytorch_the_bridge_only_prints_a_note(jupyter_env, tmp_path):
    """In the grader's sandbox `import torch` raises ImportError: every bridge cell must still
    run cleanly (a note, no error, nothing on stderr)."""
    notebook = jupytext.read(ROOT / "solutions" / "06_mlp" / "06_mlp.py", fmt="py:percent")
    _, cells = bridge_cells(notebook)
    blocker = nbformat.v4.new_code_cell("import sys\nsys.modules['torch'] = None  # as if absent")
    run = nbformat.v4.new_notebook(cells=[blocker] + [c for c in cells if c.cell_type == "code"],
                                   metadata=notebook.metadata)
    execute_notebook(run, tmp_path)
    for cell in run.cells[1:]:
        outputs = cell.get("outputs", [])
        assert not [o for o in outputs if o.output_type == "error"], (cell.source[:80], outputs)
        assert not [o for o in outputs if o.get("name") == "stderr"], (cell.source[:80], outputs)
        printed = "".join(o.get("text", "") for o in outputs)
        assert "PyTorch" in printed or "needs PyTorch" in printed or printed == "", printed
    assert "not available" in "".join(o.get("text", "") for o in run.cells[1].outputs)


def micrograd_snippet() -> tuple[str, list[float]]:
    """The code block of 04's section "Check it against micrograd itself", and the numbers
    its comment promises."""
    notebook = jupytext.read(ROOT / "solutions" / "04_backward" / "04_backward.py", fmt="py:percent")
    cell = next(c for c in notebook.cells
                if c.cell_type == "markdown" and "Check it against micrograd itself" in c.source)
    code = re.search(r"```python\n(.*?)```", cell.source, re.S).group(1)
    promised = re.search(r"# (-?[\d.]+(?: -?[\d.]+)+)", code).group(1)
    return code, [float(x) for x in promised.split()]


def test_the_micrograd_snippet_prints_what_it_promises(tmp_path):
    """With micrograd installed, on micrograd itself; without it, on a `micrograd` package
    whose engine is microgradlab's (same API, as in test_micrograd_compat.py)."""
    code, promised = micrograd_snippet()
    assert promised == [-10.0, 15.0, 5.0, -2.0]
    stand_in = tmp_path / "micrograd"
    stand_in.mkdir()
    (stand_in / "__init__.py").write_text("")
    (stand_in / "engine.py").write_text("from microgradlab.engine import Value\n")
    prefix = ("import importlib.util, sys\n"
              f"if importlib.util.find_spec('micrograd') is None: sys.path.insert(0, {str(tmp_path)!r})\n")
    done = subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert [float(x) for x in done.stdout.split()] == promised
